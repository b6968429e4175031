/* Unit tests for lib/sigv4: every case of AWS's Signature Version 4 test
 * suite (tests/data/aws-sigv4/, copied from botocore with its LICENSE and
 * NOTICE) is signed from its .req and compared byte for byte with the
 * expected canonical request (.creq), string to sign (.sts) and
 * Authorization header (.authz). One TAP line per case.
 *
 * Inputs every case shares (tests/data/aws-sigv4/README.txt): key id
 * AKIDEXAMPLE, the suite's example secret, region us-east-1, service
 * "service". Two cases need a word:
 * - get-vanilla-with-session-token: the .req has no token header; the token
 *   is given as a credential and the signer must sign it by itself.
 * - post-sts-token/post-sts-header-after: the token is added to the request
 *   after signing, so the case is signed without a token (the .creq has
 *   none); post-sts-header-before carries it as a header and signs it.
 * No case is skipped: the query-string and path-normalisation cases apply to
 * header signing too. Set SIGV4_SUITE to read the suite from elsewhere. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sigv4.h"

#define SUITE_DEFAULT "tests/data/aws-sigv4"
#define KEY_ID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define WITH_TOKEN_CASE "get-vanilla-with-session-token"
#define WITH_TOKEN "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"

struct vector {
	char dir[1024];
	char name[256];
};

static struct vector vectors[64];
static size_t nvectors;

/* The whole file, NUL-terminated; *len without the NUL. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		if (len)
			*len = (size_t)n;
	}
	return buf;
}

static char *case_file(const struct vector *v, const char *ext)
{
	char path[1400];
	snprintf(path, sizeof(path), "%s/%s.%s", v->dir, v->name, ext);
	return slurp(path, NULL);
}

/* A parsed .req: request line, headers (folded lines unfolded into the
 * value with their leading blanks kept, for the signer to squeeze), body. */
struct parsed_req {
	char *method, *target;
	struct sigv4_header headers[16];
	size_t nheaders;
	const char *body;
	size_t body_len;
	char *text; /* owns every string above */
};

static void parse_req(char *text, struct parsed_req *r)
{
	memset(r, 0, sizeof(*r));
	r->text = text;
	char *eol = strchr(text, '\n');
	assert_non_null(eol);
	*eol = '\0';
	/* "METHOD TARGET HTTP/1.1": the target itself may hold a space. */
	char *sp = strchr(text, ' ');
	char *ver = strstr(text, " HTTP/");
	assert_non_null(sp);
	assert_non_null(ver);
	*sp = '\0';
	*ver = '\0';
	r->method = text;
	r->target = sp + 1;

	char *p = eol + 1;
	while (*p && *p != '\n') {
		char *end = strchr(p, '\n');
		char *next = end ? end + 1 : p + strlen(p);
		if (end)
			*end = '\0';
		if ((*p == ' ' || *p == '\t') && r->nheaders > 0) {
			/* Continuation: the value already ends with the "\0" that
			 * replaced its "\n"; turn that back into a blank. */
			p[-1] = ' ';
		} else {
			char *colon = strchr(p, ':');
			assert_non_null(colon);
			*colon = '\0';
			assert_true(r->nheaders < 16);
			r->headers[r->nheaders].name = p;
			r->headers[r->nheaders].value = colon + 1;
			r->nheaders++;
		}
		p = next;
	}
	if (*p == '\n') {
		r->body = p + 1;
		r->body_len = strlen(p + 1);
	} else {
		r->body = "";
	}
}

static void run_vector(void **state)
{
	const struct vector *v = *state;
	char *req_text = case_file(v, "req");
	char *creq = case_file(v, "creq"), *sts = case_file(v, "sts"), *authz = case_file(v, "authz");
	struct parsed_req r;
	struct sigv4_result out;
	char errstr[256];

	assert_non_null(req_text);
	assert_non_null(creq);
	assert_non_null(sts);
	assert_non_null(authz);
	parse_req(req_text, &r);

	struct sigv4_key key = {KEY_ID, SECRET, NULL};
	if (strcmp(v->name, WITH_TOKEN_CASE) == 0)
		key.session_token = WITH_TOKEN;
	struct sigv4_request req = {
		.method = r.method,
		.target = r.target,
		.headers = r.headers,
		.nheaders = r.nheaders,
		.payload = r.body,
		.payload_len = r.body_len,
		.region = "us-east-1",
		.service = "service",
	};
	assert_int_equal(sigv4_sign(&req, &key, &out, errstr, sizeof(errstr)), 0);
	assert_string_equal(out.canonical_request, creq);
	assert_string_equal(out.string_to_sign, sts);
	assert_string_equal(out.authorization, authz);
	sigv4_result_free(&out);
	free(req_text);
	free(creq);
	free(sts);
	free(authz);
}

/* Every folder holding <folder>.req is a case; folders nest one level
 * (normalize-path/, post-sts-token/). */
static void find_vectors(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		char sub[1024], req[1400];
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
		if (stat(sub, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		snprintf(req, sizeof(req), "%s/%s.req", sub, e->d_name);
		if (access(req, R_OK) == 0 && nvectors < sizeof(vectors) / sizeof(vectors[0])) {
			snprintf(vectors[nvectors].dir, sizeof(vectors[nvectors].dir), "%s", sub);
			snprintf(vectors[nvectors].name, sizeof(vectors[nvectors].name), "%s", e->d_name);
			nvectors++;
		} else if (depth < 2) {
			find_vectors(sub, depth + 1);
		}
	}
	closedir(d);
}

static int vector_cmp(const void *a, const void *b)
{
	return strcmp(((const struct vector *)a)->dir, ((const struct vector *)b)->dir);
}

/* --- beyond the suite ---------------------------------------------------- */

static void test_suite_is_complete(void **state)
{
	(void)state;
	/* 34 cases in the copied suite: a lost folder must not pass quietly. */
	assert_int_equal(nvectors, 34);
}

static void test_token_header_given_is_not_doubled(void **state)
{
	(void)state;
	struct sigv4_header h[] = {
		{"Host", "example.amazonaws.com"},
		{"X-Amz-Date", "20150830T123600Z"},
		{"X-Amz-Security-Token", "TOKEN"},
	};
	struct sigv4_key key = {KEY_ID, SECRET, "TOKEN"};
	struct sigv4_request req = {"POST", "/", h, 3, "", 0, "us-east-1", "dynamodb", false};
	struct sigv4_result out;
	char errstr[128];

	assert_int_equal(sigv4_sign(&req, &key, &out, errstr, sizeof(errstr)), 0);
	assert_string_equal(out.signed_headers, "host;x-amz-date;x-amz-security-token");
	assert_non_null(strstr(out.canonical_request, "x-amz-security-token:TOKEN\n"));
	assert_null(strstr(out.canonical_request, "TOKEN,TOKEN"));
	sigv4_result_free(&out);
}

static void test_errors_never_show_the_secret(void **state)
{
	(void)state;
	struct sigv4_header h[] = {{"Host", "example.amazonaws.com"}};
	struct sigv4_key key = {KEY_ID, SECRET, NULL};
	struct sigv4_request req = {"POST", "/", h, 1, "", 0, "us-east-1", "dynamodb", false};
	struct sigv4_result out;
	char errstr[256];

	/* No X-Amz-Date. */
	assert_int_equal(sigv4_sign(&req, &key, &out, errstr, sizeof(errstr)), -1);
	assert_non_null(strstr(errstr, "X-Amz-Date"));
	assert_null(strstr(errstr, SECRET));
	assert_null(out.authorization);
	/* No secret at all. */
	struct sigv4_key nokey = {KEY_ID, "", NULL};
	assert_int_equal(sigv4_sign(&req, &nokey, &out, errstr, sizeof(errstr)), -1);
	assert_non_null(strstr(errstr, "credentials"));
	/* A region that would corrupt the header. */
	struct sigv4_header h2[] = {{"Host", "x"}, {"X-Amz-Date", "20150830T123600Z"}};
	struct sigv4_request bad = {"POST", "/", h2, 2, "", 0, "us-east-1, x", "dynamodb", false};
	assert_int_equal(sigv4_sign(&bad, &key, &out, errstr, sizeof(errstr)), -1);
}

static void test_amz_date_and_sha256(void **state)
{
	(void)state;
	char d[17], hex[65];

	sigv4_amz_date(1440938160, d); /* the suite's 2015-08-30 12:36:00 UTC */
	assert_string_equal(d, "20150830T123600Z");
	assert_true(sigv4_sha256_hex("", 0, hex));
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* A DynamoDB request shaped as awsreq sends it, against a signature worked
 * out independently (Python's hashlib/hmac over the same canonical text),
 * so the JSON 1.0 headers are covered too. */
static void test_dynamodb_shaped_request(void **state)
{
	(void)state;
	static const char body[] = "{\"TableName\":\"pismo\"}";
	struct sigv4_header h[] = {
		{"Content-Type", "application/x-amz-json-1.0"},
		{"Host", "dynamodb.us-east-1.amazonaws.com"},
		{"X-Amz-Date", "20150830T123600Z"},
		{"X-Amz-Target", "DynamoDB_20120810.DescribeTable"},
	};
	struct sigv4_key key = {KEY_ID, SECRET, NULL};
	struct sigv4_request req = {"POST", "/", h, 4, body, sizeof(body) - 1, "us-east-1", "dynamodb", false};
	struct sigv4_result out;
	char errstr[128];

	assert_int_equal(sigv4_sign(&req, &key, &out, errstr, sizeof(errstr)), 0);
	assert_string_equal(out.canonical_request,
	                    "POST\n/\n\n"
	                    "content-type:application/x-amz-json-1.0\n"
	                    "host:dynamodb.us-east-1.amazonaws.com\n"
	                    "x-amz-date:20150830T123600Z\n"
	                    "x-amz-target:DynamoDB_20120810.DescribeTable\n\n"
	                    "content-type;host;x-amz-date;x-amz-target\n"
	                    "c6fb37e6c56a000a6daeed6641ca15397a3189c1c160defd804c5dce320a8352");
	assert_string_equal(out.authorization,
	                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/dynamodb/"
	                    "aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
	                    "Signature=735578cd7df5c1cf07c56553eac294e8a661786d69612d921ce313ac48a8fcce");
	sigv4_result_free(&out);
}

int main(void)
{
	const char *suite = getenv("SIGV4_SUITE");
	static const struct CMUnitTest extra[] = {
		cmocka_unit_test(test_suite_is_complete),
		cmocka_unit_test(test_token_header_given_is_not_doubled),
		cmocka_unit_test(test_errors_never_show_the_secret),
		cmocka_unit_test(test_amz_date_and_sha256),
		cmocka_unit_test(test_dynamodb_shaped_request),
	};
	size_t nextra = sizeof(extra) / sizeof(extra[0]);

	find_vectors(suite ? suite : SUITE_DEFAULT, 0);
	qsort(vectors, nvectors, sizeof(vectors[0]), vector_cmp);

	/* One test per vector, named after its folder. */
	struct CMUnitTest *tests = calloc(nvectors + nextra, sizeof(*tests));
	assert_non_null(tests);
	for (size_t i = 0; i < nvectors; i++) {
		const char *rel = vectors[i].dir + strlen(suite ? suite : SUITE_DEFAULT) + 1;
		tests[i].name = rel;
		tests[i].test_func = run_vector;
		tests[i].initial_state = &vectors[i];
	}
	memcpy(tests + nvectors, extra, sizeof(extra));
	int rc = _cmocka_run_group_tests("sigv4", tests, nvectors + nextra, NULL, NULL);
	free(tests);
	return rc;
}
