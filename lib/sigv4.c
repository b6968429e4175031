/* AWS Signature Version 4, header form.
 *
 * Design notes
 * - The signer is pure: the caller passes every header it will send and the
 *   X-Amz-Date it chose, so the same function serves the live requests and
 *   the test suite's vectors; nothing here looks at the clock or the network.
 * - The canonical request follows AWS's rules as the suite exercises them:
 *   the path is normalised ("//", "." and ".." removed) unless the caller
 *   asks to keep it (S3), and every byte outside A-Z a-z 0-9 - . _ ~ and "/"
 *   is percent-encoded once, so a target that is already encoded ends up
 *   encoded twice, which is what AWS expects from every service but S3.
 *   Query parameters are decoded, re-encoded and sorted by name then value.
 *   Header names are lower-cased, values trimmed with inner runs of blanks
 *   squeezed; repeated headers are joined with "," in the order given.
 * - The session token is signed (x-amz-security-token) whenever there is
 *   one: DynamoDB and SQS accept it either way, and signing it is the form
 *   the SDKs use.
 * - The secret only ever goes into the first HMAC key; that copy is wiped.
 *   Error messages never include key material. */
#include "sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hex.h"
#include "strbuf.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"

struct canon_header {
	char *name;   /* lower case */
	char *value;  /* trimmed and squeezed */
	size_t order; /* position in the request: keeps repeated headers in order */
};

static void set_err(char *errstr, size_t size, const char *msg)
{
	if (size)
		snprintf(errstr, size, "%s", msg);
}

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 3986 encoding with upper-case hex digits, as AWS wants it. */
static void uri_encode(struct strbuf *b, const char *s, size_t len, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c) || (keep_slash && c == '/')) {
			strbuf_addc(b, (char)c);
		} else {
			char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
			strbuf_add(b, esc, 3);
		}
	}
}

/* Decodes %XX in place; a "%" not followed by two hex digits stays as it is
 * (it is then encoded as "%25", as AWS does). Returns the new length. */
static size_t percent_decode(char *s, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
			s[o++] = (char)(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
			i += 2;
		} else {
			s[o++] = s[i];
		}
	}
	return o;
}

/* The canonical URI: the path, normalised (unless keep) and encoded. */
static void canonical_path(struct strbuf *b, const char *path, size_t len, bool keep)
{
	if (len == 0) {
		strbuf_addc(b, '/');
		return;
	}
	if (keep) {
		uri_encode(b, path, len, true);
		return;
	}
	/* Remove dot segments and empty segments: a stack of segment offsets
	 * into path, popped by "..". */
	size_t nseg = 0, cap = 8;
	size_t *start = malloc(cap * sizeof(*start)), *slen = malloc(cap * sizeof(*slen));
	bool trailing = false;

	if (!start || !slen) {
		b->failed = true;
		goto out;
	}
	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && path[j] != '/')
			j++;
		size_t n = j - i;
		/* A path ending in "/", "/." or "/.." names a directory. */
		trailing = j >= len && (n == 0 || (n == 1 && path[i] == '.') ||
		                        (n == 2 && path[i] == '.' && path[i + 1] == '.'));
		if (n == 2 && path[i] == '.' && path[i + 1] == '.') {
			if (nseg > 0)
				nseg--;
		} else if (n > 0 && !(n == 1 && path[i] == '.')) {
			if (nseg == cap) {
				cap *= 2;
				size_t *ns = realloc(start, cap * sizeof(*start));
				if (ns)
					start = ns;
				size_t *nl = realloc(slen, cap * sizeof(*slen));
				if (nl)
					slen = nl;
				if (!ns || !nl) {
					b->failed = true;
					goto out;
				}
			}
			start[nseg] = i;
			slen[nseg++] = n;
		}
		i = j + 1;
		if (j + 1 == len) /* ends in "/" */
			trailing = true;
	}
	for (size_t k = 0; k < nseg; k++) {
		strbuf_addc(b, '/');
		uri_encode(b, path + start[k], slen[k], false);
	}
	if (nseg == 0 || trailing)
		strbuf_addc(b, '/');
out:
	free(start);
	free(slen);
}

struct query_param {
	char *key, *value; /* encoded, NUL-terminated */
};

static int param_cmp(const void *a, const void *b)
{
	const struct query_param *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : strcmp(x->value, y->value);
}

/* Encodes one decoded key or value into a new string. */
static char *encode_part(const char *s, size_t len)
{
	struct strbuf b = STRBUF_INIT;
	char *copy = malloc(len + 1);

	if (!copy)
		return NULL;
	memcpy(copy, s, len);
	len = percent_decode(copy, len);
	uri_encode(&b, copy, len, false);
	free(copy);
	return strbuf_detach(&b, NULL);
}

/* The canonical query string: parameters decoded, re-encoded, sorted by
 * name and then by value. */
static void canonical_query(struct strbuf *b, const char *q, size_t len)
{
	size_t n = 0, count = 1;
	struct query_param *params;

	for (size_t i = 0; i < len; i++)
		count += q[i] == '&';
	params = calloc(count, sizeof(*params));
	if (!params) {
		b->failed = true;
		return;
	}
	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && q[j] != '&')
			j++;
		if (j > i) {
			const char *eq = memchr(q + i, '=', j - i);
			size_t klen = eq ? (size_t)(eq - (q + i)) : j - i;
			params[n].key = encode_part(q + i, klen);
			params[n].value = eq ? encode_part(eq + 1, (size_t)(q + j - eq - 1)) : encode_part("", 0);
			if (!params[n].key || !params[n].value) {
				b->failed = true;
				n++;
				goto out;
			}
			n++;
		}
		i = j + 1;
	}
	qsort(params, n, sizeof(*params), param_cmp);
	for (size_t k = 0; k < n; k++) {
		if (k)
			strbuf_addc(b, '&');
		strbuf_adds(b, params[k].key);
		strbuf_addc(b, '=');
		strbuf_adds(b, params[k].value);
	}
out:
	for (size_t k = 0; k < n; k++) {
		free(params[k].key);
		free(params[k].value);
	}
	free(params);
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Trims a header value and squeezes each inner run of blanks to one space. */
static char *squeeze(const char *v)
{
	size_t len = strlen(v), o = 0;
	char *s = malloc(len + 1);

	if (!s)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (!blank(v[i])) {
			s[o++] = v[i];
		} else if (o > 0 && !blank(v[i - 1])) {
			s[o++] = ' ';
		}
	}
	while (o > 0 && s[o - 1] == ' ')
		o--;
	s[o] = '\0';
	return s;
}

static int header_cmp(const void *a, const void *b)
{
	const struct canon_header *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static bool valid_header_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == ':' || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* Canonical headers and the signed header list, from the request's headers
 * plus the session token when it is not among them. */
static int canonical_headers(const struct sigv4_request *req, const struct sigv4_key *key,
                             struct strbuf *canon, struct strbuf *signed_list, const char **amz_date,
                             char *errstr, size_t errstr_size)
{
	size_t n = 0, cap = req->nheaders + 1;
	struct canon_header *h = calloc(cap, sizeof(*h));
	bool have_token = false;
	int rc = -1;

	*amz_date = NULL;
	if (!h) {
		set_err(errstr, errstr_size, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < req->nheaders; i++) {
		const char *name = req->headers[i].name, *value = req->headers[i].value;
		if (!name || !value || !valid_header_name(name)) {
			set_err(errstr, errstr_size, "a header to sign has an empty or invalid name");
			goto out;
		}
		h[n].name = strdup(name);
		h[n].value = squeeze(value);
		h[n].order = i;
		n++;
		if (!h[n - 1].name || !h[n - 1].value) {
			set_err(errstr, errstr_size, "out of memory");
			goto out;
		}
		for (char *p = h[n - 1].name; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		if (strcmp(h[n - 1].name, "x-amz-date") == 0)
			*amz_date = value;
		if (strcmp(h[n - 1].name, "x-amz-security-token") == 0)
			have_token = true;
	}
	if (key->session_token && *key->session_token && !have_token) {
		h[n].name = strdup("x-amz-security-token");
		h[n].value = squeeze(key->session_token);
		h[n].order = n;
		n++;
		if (!h[n - 1].name || !h[n - 1].value) {
			set_err(errstr, errstr_size, "out of memory");
			goto out;
		}
	}
	qsort(h, n, sizeof(*h), header_cmp);
	for (size_t i = 0; i < n; i++) {
		bool same_as_prev = i > 0 && strcmp(h[i].name, h[i - 1].name) == 0;
		if (same_as_prev) {
			/* Repeated header: one line, values joined by commas. */
			strbuf_addc(canon, ',');
			strbuf_adds(canon, h[i].value);
			continue;
		}
		if (i > 0) {
			strbuf_addc(canon, '\n');
			strbuf_addc(signed_list, ';');
		}
		strbuf_adds(canon, h[i].name);
		strbuf_addc(canon, ':');
		strbuf_adds(canon, h[i].value);
		strbuf_adds(signed_list, h[i].name);
	}
	strbuf_addc(canon, '\n');
	rc = 0;
out:
	for (size_t i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
	return rc;
}

bool sigv4_sha256_hex(const void *data, size_t len, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return false;
	for (unsigned i = 0; i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
	return true;
}

static bool hmac(const void *key, size_t keylen, const char *msg, size_t msglen,
                 unsigned char out[32])
{
	unsigned int outlen = 0;

	return HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, msglen, out, &outlen) &&
	       outlen == 32;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
 * "aws4_request"); the secret's copy is wiped before returning. */
static bool signing_key(const char *secret, const char *date, const char *region,
                        const char *service, unsigned char out[32])
{
	size_t slen = strlen(secret);
	char *k = malloc(slen + 5);
	unsigned char a[32], b[32];
	bool ok;

	if (!k)
		return false;
	memcpy(k, "AWS4", 4);
	memcpy(k + 4, secret, slen + 1);
	ok = hmac(k, slen + 4, date, strlen(date), a) &&
	     hmac(a, 32, region, strlen(region), b) &&
	     hmac(b, 32, service, strlen(service), a) &&
	     hmac(a, 32, "aws4_request", 12, out);
	OPENSSL_cleanse(k, slen + 4);
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(b, sizeof(b));
	free(k);
	return ok;
}

static bool valid_amz_date(const char *d)
{
	if (!d || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z')
		return false;
	for (int i = 0; i < 15; i++)
		if (i != 8 && (d[i] < '0' || d[i] > '9'))
			return false;
	return true;
}

/* Region and service go into the credential scope: only letters, digits
 * and "-" make sense there, and nothing that would break the header. */
static bool valid_scope_part(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

int sigv4_sign(const struct sigv4_request *req, const struct sigv4_key *key,
               struct sigv4_result *out, char *errstr, size_t errstr_size)
{
	struct strbuf creq = STRBUF_INIT, headers = STRBUF_INIT, signed_list = STRBUF_INIT;
	struct strbuf sts = STRBUF_INIT, authz = STRBUF_INIT;
	char payload_hash[65], creq_hash[65], date[9], scope[256];
	unsigned char kSigning[32], sig[32];
	const char *amz_date;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!key || !key->access_key_id || !*key->access_key_id || !key->secret_access_key ||
	    !*key->secret_access_key) {
		set_err(errstr, errstr_size, "no AWS credentials to sign with");
		return -1;
	}
	if (!req->method || !*req->method || !req->target) {
		set_err(errstr, errstr_size, "request has no method or target");
		return -1;
	}
	if (!valid_scope_part(req->region) || !valid_scope_part(req->service)) {
		set_err(errstr, errstr_size, "invalid region or service name for signing");
		return -1;
	}
	if (canonical_headers(req, key, &headers, &signed_list, &amz_date, errstr, errstr_size) < 0)
		goto out;
	if (!valid_amz_date(amz_date)) {
		set_err(errstr, errstr_size, "X-Amz-Date header missing or not YYYYMMDDTHHMMSSZ");
		goto out;
	}
	memcpy(date, amz_date, 8);
	date[8] = '\0';
	snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", date, req->region, req->service);
	if (!sigv4_sha256_hex(req->payload ? req->payload : "", req->payload_len, payload_hash)) {
		set_err(errstr, errstr_size, "SHA-256 failed");
		goto out;
	}

	/* Task 1: the canonical request. */
	const char *q = strchr(req->target, '?');
	size_t plen = q ? (size_t)(q - req->target) : strlen(req->target);
	strbuf_adds(&creq, req->method);
	strbuf_addc(&creq, '\n');
	canonical_path(&creq, req->target, plen, req->keep_path);
	strbuf_addc(&creq, '\n');
	if (q)
		canonical_query(&creq, q + 1, strlen(q + 1));
	strbuf_addc(&creq, '\n');
	strbuf_add(&creq, headers.data, headers.len);
	strbuf_addc(&creq, '\n');
	strbuf_add(&creq, signed_list.data, signed_list.len);
	strbuf_addc(&creq, '\n');
	strbuf_adds(&creq, payload_hash);
	if (creq.failed || signed_list.failed || headers.failed) {
		set_err(errstr, errstr_size, "out of memory");
		goto out;
	}

	/* Task 2: the string to sign. */
	if (!sigv4_sha256_hex(creq.data, creq.len, creq_hash)) {
		set_err(errstr, errstr_size, "SHA-256 failed");
		goto out;
	}
	strbuf_addf(&sts, SIGV4_ALGORITHM "\n%s\n%s\n%s", amz_date, scope, creq_hash);

	/* Task 3: the signature; task 4: the header. */
	if (sts.failed || !signing_key(key->secret_access_key, date, req->region, req->service,
	                               kSigning) ||
	    !hmac(kSigning, 32, sts.data, sts.len, sig)) {
		set_err(errstr, errstr_size, "HMAC-SHA256 failed");
		goto out;
	}
	strbuf_addf(&authz, SIGV4_ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=",
	            key->access_key_id, scope, signed_list.data);
	strbuf_add_hex(&authz, sig, sizeof(sig));
	if (authz.failed) {
		set_err(errstr, errstr_size, "out of memory");
		goto out;
	}
	out->canonical_request = strbuf_detach(&creq, NULL);
	out->string_to_sign = strbuf_detach(&sts, NULL);
	out->authorization = strbuf_detach(&authz, NULL);
	out->signed_headers = strbuf_detach(&signed_list, NULL);
	if (!out->canonical_request || !out->string_to_sign || !out->authorization ||
	    !out->signed_headers) {
		sigv4_result_free(out);
		set_err(errstr, errstr_size, "out of memory");
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(kSigning, sizeof(kSigning));
	strbuf_release(&creq);
	strbuf_release(&headers);
	strbuf_release(&signed_list);
	strbuf_release(&sts);
	strbuf_release(&authz);
	return rc;
}

void sigv4_result_free(struct sigv4_result *out)
{
	if (!out)
		return;
	free(out->canonical_request);
	free(out->string_to_sign);
	free(out->authorization);
	free(out->signed_headers);
	memset(out, 0, sizeof(*out));
}

void sigv4_amz_date(time_t t, char buf[17])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 17, "%Y%m%dT%H%M%SZ", &tm);
}
