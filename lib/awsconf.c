/* AWS configuration from the environment and the shared credentials file.
 *
 * Design notes
 * - The precedence is the SDKs': explicit environment variables first, then
 *   the shared credentials file. Only static keys are supported (no
 *   role_arn, credential_process, SSO or instance metadata): a profile that
 *   relies on one of those is named in the error, so the fix is obvious.
 * - A half-configured environment (a key id without its secret) is an error
 *   rather than a silent fall-back to the file: the person who set one
 *   variable meant to use it.
 * - Messages name the variable, file, line and profile, never the value of
 *   a secret, and never echo a credentials-file line (it could be a secret
 *   pasted in the wrong place).
 * - Region and endpoint are per service (struct awsconf_service), so the
 *   SQS client gets AWS_ENDPOINT_URL_SQS by passing &awsconf_sqs. */
#include "awsconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

const struct awsconf_service awsconf_dynamodb = {"dynamodb", "dynamodb", "DYNAMODB", "DynamoDB"};
const struct awsconf_service awsconf_sqs = {"sqs", "sqs", "SQS", "SQS"};

#define CREDENTIALS_FILE_MAX (1024 * 1024)

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static void wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

void awsconf_credentials_clear(struct awsconf_credentials *c)
{
	if (!c)
		return;
	free(c->access_key_id);
	wipe_free(c->secret_access_key);
	wipe_free(c->session_token);
	memset(c, 0, sizeof(*c));
}

void awsconf_free(struct awsconf *conf)
{
	if (!conf)
		return;
	free(conf->region);
	free(conf->endpoint);
	free(conf->host);
	free(conf->path);
	free(conf->ca_bundle);
	awsconf_credentials_clear(&conf->creds);
	memset(conf, 0, sizeof(*conf));
}

/* Key ids are upper-case letters and digits; anything that would break the
 * Credential= field (",", "/", blanks) is refused. */
static bool valid_key_id(const char *s)
{
	if (!*s || strlen(s) > 128)
		return false;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

/* Secrets and tokens go into an HMAC and a header: printable ASCII only. */
static bool printable(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static int check_credentials(const struct awsconf_credentials *c, const char *where, char *errstr,
                             size_t errstr_size)
{
	if (!valid_key_id(c->access_key_id)) {
		snprintf(errstr, errstr_size, "%s: the access key id is not letters and digits", where);
		return -1;
	}
	if (!printable(c->secret_access_key)) {
		snprintf(errstr, errstr_size,
		         "%s: the secret access key is empty or has blanks or control characters",
		         where);
		return -1;
	}
	if (c->session_token && !printable(c->session_token)) {
		snprintf(errstr, errstr_size,
		         "%s: the session token is empty or has blanks or control characters", where);
		return -1;
	}
	return 0;
}

static char *trim(char *s, char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	*end = '\0';
	return s;
}

/* Replaces *slot with a copy of v (an earlier section of the same name is
 * overridden by a later one, as the SDKs merge them). */
static bool set_value(char **slot, const char *v, bool secret)
{
	char *copy = strdup(v);
	if (!copy)
		return false;
	if (secret)
		wipe_free(*slot);
	else
		free(*slot);
	*slot = copy;
	return true;
}

int awsconf_parse_credentials(const char *text, size_t len, const char *profile,
                              const char *file_name, struct awsconf_credentials *out,
                              char *errstr, size_t errstr_size)
{
	char *copy = malloc(len + 1);
	char unsupported[64] = "";
	bool found = false, in_profile = false;
	unsigned long lineno = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!copy) {
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	if (memchr(text, '\0', len)) {
		snprintf(errstr, errstr_size, "%s: not a text file (NUL byte)", file_name);
		goto out;
	}
	for (char *line = copy; line && line <= copy + len;) {
		char *nl = strchr(line, '\n');
		char *end = nl ? nl : line + strlen(line);
		char *next = nl ? nl + 1 : NULL;
		bool indented = *line == ' ' || *line == '\t';
		char *s = trim(line, end);

		lineno++;
		line = next;
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');
			if (!close || close[1] != '\0') {
				snprintf(errstr, errstr_size,
				         "%s line %lu: a section header must look like [profile-name]", file_name,
				         lineno);
				goto out;
			}
			char *name = trim(s + 1, close);
			in_profile = strcmp(name, profile) == 0;
			found |= in_profile;
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(errstr, errstr_size, "%s line %lu: expected \"key = value\" or [profile]",
			         file_name, lineno);
			goto out;
		}
		/* An indented line is a nested setting of the key above it
		 * (botocore's sub-sections): not a credential. */
		if (indented || !in_profile)
			continue;
		char *key = trim(s, eq);
		char *value = trim(eq + 1, eq + 1 + strlen(eq + 1));
		bool ok = true;
		if (strcasecmp(key, "aws_access_key_id") == 0)
			ok = set_value(&out->access_key_id, value, false);
		else if (strcasecmp(key, "aws_secret_access_key") == 0)
			ok = set_value(&out->secret_access_key, value, true);
		else if (strcasecmp(key, "aws_session_token") == 0 ||
		         (strcasecmp(key, "aws_security_token") == 0 && !out->session_token))
			ok = set_value(&out->session_token, value, true);
		else if (strcasecmp(key, "role_arn") == 0 || strcasecmp(key, "credential_process") == 0 ||
		         strncasecmp(key, "sso_", 4) == 0 ||
		         strcasecmp(key, "web_identity_token_file") == 0)
			snprintf(unsupported, sizeof(unsupported), "%s", key);
		if (!ok) {
			snprintf(errstr, errstr_size, "out of memory");
			goto out;
		}
	}
	if (!found) {
		snprintf(errstr, errstr_size, "%s: no profile [%s]", file_name, profile);
		goto out;
	}
	if (!out->access_key_id || !out->secret_access_key) {
		if (*unsupported)
			snprintf(errstr, errstr_size,
			         "%s: profile [%s] uses %s, which is not supported; give it "
			         "aws_access_key_id and aws_secret_access_key, or set AWS_ACCESS_KEY_ID "
			         "and AWS_SECRET_ACCESS_KEY",
			         file_name, profile, unsupported);
		else
			snprintf(errstr, errstr_size, "%s: profile [%s] has no %s", file_name, profile,
			         out->access_key_id ? "aws_secret_access_key" : "aws_access_key_id");
		goto out;
	}
	if (out->session_token && !*out->session_token) {
		wipe_free(out->session_token);
		out->session_token = NULL;
	}
	char where[sizeof(out->source)];
	snprintf(where, sizeof(where), "%s profile [%s]", file_name, profile);
	if (check_credentials(out, where, errstr, errstr_size) < 0)
		goto out;
	snprintf(out->source, sizeof(out->source), "%s", where);
	rc = 0;
out:
	OPENSSL_cleanse(copy, len);
	free(copy);
	if (rc < 0)
		awsconf_credentials_clear(out);
	return rc;
}

/* Opens a file named by the environment for reading, refusing at once what
 * is not a regular file: opening a FIFO with no writer blocks for ever, and
 * reading a device (/dev/zero, a tty) never ends or waits for a person.
 * O_NONBLOCK makes the open itself return; fstat then says what it is.
 * Returns the descriptor, or -1 with errno set (ENOENT: no such file) and,
 * but for ENOENT, errstr set naming `what` and the path. */
static int open_regular(const char *what, const char *path, char *errstr, size_t errstr_size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

	if (fd < 0) {
		if (errno != ENOENT)
			snprintf(errstr, errstr_size, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(errstr, errstr_size, "%s %s: %s", what, path, strerror(errno));
		close(fd);
		errno = EIO;
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(errstr, errstr_size, "%s %s: %s, not a regular file", what, path,
		         S_ISFIFO(st.st_mode)                        ? "a FIFO"
		         : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
		         : S_ISDIR(st.st_mode)                       ? "a directory"
		         : S_ISSOCK(st.st_mode)                      ? "a socket"
		                                                     : "something else");
		close(fd);
		errno = EINVAL;
		return -1;
	}
	/* A regular file never blocks: the flag may stay. */
	return fd;
}

/* Reads the whole credentials file; -1 with errstr set on failure, 1 when
 * the file does not exist (not an error when it was not named explicitly). */
static int read_file(const char *path, char **text, size_t *len, char *errstr, size_t errstr_size)
{
	int fd = open_regular("credentials file", path, errstr, errstr_size);
	char *buf = NULL;
	size_t n = 0;

	if (fd < 0)
		return errno == ENOENT ? 1 : -1;
	buf = malloc(CREDENTIALS_FILE_MAX + 1);
	if (!buf) {
		close(fd);
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	/* One byte more than allowed: a file that fills it is too large. */
	while (n < CREDENTIALS_FILE_MAX + 1) {
		ssize_t r = read(fd, buf + n, CREDENTIALS_FILE_MAX + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				break;
			snprintf(errstr, errstr_size, "credentials file %s: %s", path, strerror(errno));
			goto fail;
		}
		n += (size_t)r;
	}
	if (n > CREDENTIALS_FILE_MAX) {
		snprintf(errstr, errstr_size, "credentials file %s: larger than 1 MiB, not a "
		         "credentials file", path);
		goto fail;
	}
	close(fd);
	*text = buf;
	*len = n;
	return 0;
fail:
	close(fd);
	OPENSSL_cleanse(buf, n);
	free(buf);
	return -1;
}

static int load_credentials(struct awsconf_credentials *c, char *errstr, size_t errstr_size)
{
	const char *id = env("AWS_ACCESS_KEY_ID"), *secret = env("AWS_SECRET_ACCESS_KEY");
	const char *token = env("AWS_SESSION_TOKEN");

	if (id || secret) {
		if (!id || !secret) {
			snprintf(errstr, errstr_size, "%s is set but %s is not",
			         id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
			         id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
			return -1;
		}
		c->access_key_id = strdup(id);
		c->secret_access_key = strdup(secret);
		c->session_token = token ? strdup(token) : NULL;
		if (!c->access_key_id || !c->secret_access_key || (token && !c->session_token)) {
			snprintf(errstr, errstr_size, "out of memory");
			return -1;
		}
		snprintf(c->source, sizeof(c->source), "environment");
		return check_credentials(c, "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN",
		                         errstr, errstr_size);
	}

	/* The shared credentials file. */
	const char *named = env("AWS_SHARED_CREDENTIALS_FILE"), *home = env("HOME");
	const char *profile = env("AWS_PROFILE");
	char path[4096];
	char *text = NULL;
	size_t len = 0;

	if (!profile)
		profile = "default";
	if (named && named[0] == '~' && named[1] == '/' && home)
		snprintf(path, sizeof(path), "%s%s", home, named + 1);
	else if (named)
		snprintf(path, sizeof(path), "%s", named);
	else if (home)
		snprintf(path, sizeof(path), "%s/.aws/credentials", home);
	else
		path[0] = '\0';
	int rc = path[0] ? read_file(path, &text, &len, errstr, errstr_size) : 1;
	if (rc < 0)
		return -1;
	if (rc > 0) {
		if (named)
			snprintf(errstr, errstr_size, "AWS_SHARED_CREDENTIALS_FILE %s: no such file", path);
		else
			snprintf(errstr, errstr_size,
			         "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
			         "create ~/.aws/credentials (or point AWS_SHARED_CREDENTIALS_FILE at one)");
		return -1;
	}
	rc = awsconf_parse_credentials(text, len, profile, path, c, errstr, errstr_size);
	OPENSSL_cleanse(text, len);
	free(text);
	return rc;
}

void awsconf_redact_url(const char *url, char *out, size_t size)
{
	const char *scheme = strstr(url, "://");
	const char *start = scheme ? scheme + 3 : url;
	const char *at = strrchr(start, '@');

	if (size == 0)
		return;
	/* Everything up to the last '@' may be user information, a password
	 * with '/', '#' or '?' in it included: none of it is shown. */
	if (at)
		snprintf(out, size, "%.*s***%s", (int)(start - url), url, at);
	else
		snprintf(out, size, "%s", url);
}

int awsconf_parse_endpoint(const char *url, char **host, char **path, bool *https, char *errstr,
                           size_t errstr_size)
{
	const char *p, *authority, *auth_end;
	/* Messages quote the URL without its user information (a password). */
	char shown[600];

	awsconf_redact_url(url, shown, sizeof(shown));

	*host = *path = NULL;
	if (strncasecmp(url, "https://", 8) == 0) {
		*https = true;
		authority = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		*https = false;
		authority = url + 7;
	} else {
		snprintf(errstr, errstr_size, "'%s' is not an http:// or https:// URL", shown);
		return -1;
	}
	auth_end = authority + strcspn(authority, "/?#");
	if (*auth_end == '?' || *auth_end == '#' || strpbrk(auth_end, "?#")) {
		snprintf(errstr, errstr_size, "'%s': an endpoint URL has no query or fragment", shown);
		return -1;
	}
	if (memchr(authority, '@', (size_t)(auth_end - authority))) {
		snprintf(errstr, errstr_size, "endpoint URL: user information (\"user@\") is not supported");
		return -1;
	}
	/* host, [v6] address, then an optional :port */
	const char *host_end = authority;
	if (*authority == '[') {
		host_end = memchr(authority, ']', (size_t)(auth_end - authority));
		if (!host_end) {
			snprintf(errstr, errstr_size, "'%s': unterminated [IPv6] address", shown);
			return -1;
		}
		host_end++;
	} else {
		while (host_end < auth_end && *host_end != ':')
			host_end++;
	}
	if (host_end == authority) {
		snprintf(errstr, errstr_size, "'%s' has no host", shown);
		return -1;
	}
	for (p = authority; p < host_end; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= ' ' || c >= 0x7f || c == '%' || c == '\\') {
			snprintf(errstr, errstr_size, "'%s': the host name has characters it cannot have", shown);
			return -1;
		}
	}
	long port = *https ? 443 : 80;
	if (host_end < auth_end) { /* ":port" */
		char *end;
		if (*host_end != ':' || host_end + 1 == auth_end) {
			snprintf(errstr, errstr_size, "'%s': bad port", shown);
			return -1;
		}
		errno = 0;
		port = strtol(host_end + 1, &end, 10);
		if (errno || end != auth_end || port < 1 || port > 65535) {
			snprintf(errstr, errstr_size, "'%s': the port is not a number from 1 to 65535", shown);
			return -1;
		}
	}
	/* The Host header carries the port only when it is not the default,
	 * which is what curl would send and so what must be signed. */
	bool default_port = port == (*https ? 443 : 80);
	size_t hlen = (size_t)(host_end - authority);
	*host = malloc(hlen + 8);
	p = *auth_end ? auth_end : "/";
	*path = strdup(p);
	if (!*host || !*path) {
		free(*host);
		free(*path);
		*host = *path = NULL;
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	memcpy(*host, authority, hlen);
	if (default_port)
		(*host)[hlen] = '\0';
	else
		snprintf(*host + hlen, 8, ":%ld", port);
	return 0;
}

bool awsconf_host_loopback(const char *host)
{
	char name[300];
	size_t n;

	if (host[0] == '[') /* [v6]:port */
		return strncmp(host, "[::1]", 5) == 0 && (host[5] == '\0' || host[5] == ':');
	n = strcspn(host, ":");
	if (n == 0 || n >= sizeof(name))
		return false;
	memcpy(name, host, n);
	name[n] = '\0';
	if (strcasecmp(name, "localhost") == 0 ||
	    (n > 10 && strcasecmp(name + n - 10, ".localhost") == 0))
		return true;
	/* 127.a.b.c, each a number up to 255 */
	unsigned a, b, c, d;
	char extra;
	return sscanf(name, "%u.%u.%u.%u%c", &a, &b, &c, &d, &extra) == 4 && a == 127 && b < 256 &&
	       c < 256 && d < 256 && strspn(name, "0123456789.") == n;
}

static bool valid_region(const char *r)
{
	size_t n = strlen(r);
	if (n == 0 || n > 64)
		return false;
	for (; *r; r++)
		if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') || *r == '-'))
			return false;
	return true;
}

int awsconf_load(struct awsconf *conf, const struct awsconf_service *svc, char *errstr,
                 size_t errstr_size)
{
	char var[64], buf[512];
	const char *v;
	bool https;

	memset(conf, 0, sizeof(*conf));
	conf->service = svc;

	/* Region. */
	v = env("AWS_REGION");
	if (!v)
		v = env("AWS_DEFAULT_REGION");
	if (!v) {
		snprintf(errstr, errstr_size, "no AWS region: set AWS_REGION (for example us-east-1)");
		goto fail;
	}
	if (!valid_region(v)) {
		snprintf(errstr, errstr_size, "AWS_REGION '%.64s' is not a region name (like us-east-1)", v);
		goto fail;
	}
	conf->region = strdup(v);

	/* Endpoint: the service's own variable, then the global one, else the
	 * regional endpoint (China's regions live under amazonaws.com.cn). */
	const char *ignore = env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	bool use_env = !(ignore && strcasecmp(ignore, "true") == 0);
	snprintf(var, sizeof(var), "AWS_ENDPOINT_URL_%s", svc->env_id);
	const char *from = var;
	v = use_env ? env(var) : NULL;
	if (!v && use_env) {
		v = env("AWS_ENDPOINT_URL");
		from = "AWS_ENDPOINT_URL";
	}
	if (v) {
		conf->endpoint = strdup(v);
		conf->endpoint_overridden = true;
	} else {
		snprintf(buf, sizeof(buf), "https://%s.%s.amazonaws.com%s", svc->host_prefix,
		         conf->region, strncmp(conf->region, "cn-", 3) == 0 ? ".cn" : "");
		conf->endpoint = strdup(buf);
		from = "the regional endpoint";
	}
	if (!conf->region || !conf->endpoint) {
		snprintf(errstr, errstr_size, "out of memory");
		goto fail;
	}
	if (awsconf_parse_endpoint(conf->endpoint, &conf->host, &conf->path, &https, buf,
	                           sizeof(buf)) < 0) {
		snprintf(errstr, errstr_size, "%s: %s", from, buf);
		goto fail;
	}

	/* TLS: a custom CA bundle must at least be readable now, not at the
	 * first request. */
	v = env("AWS_CA_BUNDLE");
	if (v) {
		int fd = open_regular("AWS_CA_BUNDLE", v, errstr, errstr_size);
		if (fd < 0) {
			if (errno == ENOENT)
				snprintf(errstr, errstr_size, "AWS_CA_BUNDLE %s: %s", v, strerror(ENOENT));
			goto fail;
		}
		close(fd);
		conf->ca_bundle = strdup(v);
		if (!conf->ca_bundle) {
			snprintf(errstr, errstr_size, "out of memory");
			goto fail;
		}
	}

	/* Retries. */
	conf->max_attempts = AWSCONF_MAX_ATTEMPTS_DEFAULT;
	v = env("AWS_MAX_ATTEMPTS");
	if (v) {
		char *end;
		errno = 0;
		long n = strtol(v, &end, 10);
		if (errno || *end || n < 1 || n > AWSCONF_MAX_ATTEMPTS_LIMIT) {
			snprintf(errstr, errstr_size, "AWS_MAX_ATTEMPTS '%.32s' is not a number from 1 to %d",
			         v, AWSCONF_MAX_ATTEMPTS_LIMIT);
			goto fail;
		}
		conf->max_attempts = (int)n;
	}
	v = env("AWS_RETRY_MODE");
	snprintf(conf->retry_mode, sizeof(conf->retry_mode), "standard");
	if (v) {
		if (strcmp(v, "standard") && strcmp(v, "legacy") && strcmp(v, "adaptive")) {
			snprintf(errstr, errstr_size,
			         "AWS_RETRY_MODE '%.32s' is not one of standard, legacy, adaptive", v);
			goto fail;
		}
		snprintf(conf->retry_mode, sizeof(conf->retry_mode), "%s", v);
	}

	if (load_credentials(&conf->creds, errstr, errstr_size) < 0)
		goto fail;
	/* Plain http off this machine: SigV4 never sends the secret key, but
	 * the session token travels as a header anyone on the way can read
	 * and replay within its lifetime, with the events themselves. Allowed
	 * (a proxy or a stand-in on another host), said once. */
	if (!https && !awsconf_host_loopback(conf->host))
		snprintf(conf->warning, sizeof(conf->warning),
		         "%s %s is plain http to a host that is not loopback: the signature is safe, "
		         "%s",
		         from, conf->endpoint,
		         conf->creds.session_token
		             ? "the session token is not (it, the events and the answers cross the "
		               "network readable; use https)"
		             : "the events and the answers are not (they cross the network readable; "
		               "use https)");
	return 0;
fail:
	awsconf_free(conf);
	return -1;
}
