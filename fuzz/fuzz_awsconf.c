/* Any bytes as a shared credentials file (~/.aws/credentials):
 * awsconf_parse_credentials() for profile "default" and for profile "p";
 * and, up to the first NUL, as an endpoint URL (AWS_ENDPOINT_URL*) for
 * awsconf_parse_endpoint().
 *
 * Invariants: on success both keys are set and the source is named; an
 * error never quotes a secret (a value of aws_secret_access_key,
 * aws_session_token or aws_security_token that is long and distinctive
 * enough to be recognised);
 * a parsed endpoint gives a non-empty host and a path starting with "/". */
#include "fuzz.h"

#include <strings.h>

#include "awsconf.h"

/* Would errstr show the value of a secret key of the text? Values counted:
 * at least 12 bytes, no blanks, a digit among them (so that the words of a
 * message cannot match one by chance). */
static bool quotes_secret(const char *text, size_t len, const char *errstr)
{
	const char *line = text, *end = text + len;

	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *stop = nl ? nl : end;
		const char *eq = memchr(line, '=', (size_t)(stop - line));
		if (eq) {
			const char *k = line, *ke = eq;
			while (k < eq && (*k == ' ' || *k == '\t'))
				k++;
			while (ke > k && (ke[-1] == ' ' || ke[-1] == '\t'))
				ke--;
			size_t klen = (size_t)(ke - k);
			bool secret =
			    (klen == 21 && strncasecmp(k, "aws_secret_access_key", 21) == 0) ||
			    (klen == 17 && strncasecmp(k, "aws_session_token", 17) == 0) ||
			    (klen == 18 && strncasecmp(k, "aws_security_token", 18) == 0);
			const char *v = eq + 1;
			while (v < stop && (*v == ' ' || *v == '\t'))
				v++;
			const char *ve = stop;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'))
				ve--;
			bool digit = false, blank = false;
			for (const char *c = v; c < ve; c++) {
				digit |= *c >= '0' && *c <= '9';
				blank |= (unsigned char)*c <= ' ';
			}
			if (secret && ve - v >= 12 && digit && !blank) {
				char *val = strndup(v, (size_t)(ve - v));
				bool found = val && strstr(errstr, val) != NULL;
				free(val);
				if (found)
					return true;
			}
		}
		line = stop + 1;
	}
	return false;
}

static void credentials(const char *text, size_t len, const char *profile)
{
	struct awsconf_credentials c;
	char err[512];

	err[0] = '\0';
	memset(&c, 0x55, sizeof(c));
	if (awsconf_parse_credentials(text, len, profile, "credentials", &c, err, sizeof(err)) ==
	    0) {
		FUZZ_CHECK(c.access_key_id && c.access_key_id[0] && c.secret_access_key &&
		           c.secret_access_key[0]);
		FUZZ_CHECK(!c.session_token || c.session_token[0]);
		FUZZ_CHECK_STR(c.source);
		FUZZ_CHECK(strstr(c.source, profile) != NULL);
	} else {
		FUZZ_CHECK(err[0] != '\0');
		FUZZ_CHECK_STR(err);
		FUZZ_CHECK(!quotes_secret(text, len, err));
		FUZZ_CHECK(!c.access_key_id && !c.secret_access_key && !c.session_token);
	}
	awsconf_credentials_clear(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	char *url, *host = NULL, *path = NULL, err[512];
	bool https;

	credentials(text, size, "default");
	credentials(text, size, "p");

	url = fuzz_strndup(data, size);
	err[0] = '\0';
	if (awsconf_parse_endpoint(url, &host, &path, &https, err, sizeof(err)) == 0) {
		FUZZ_CHECK(host && host[0] && path && path[0] == '/');
		for (const char *c = host; *c; c++)
			FUZZ_CHECK((unsigned char)*c > ' ' && (unsigned char)*c < 0x7f);
		free(host);
		free(path);
	} else {
		FUZZ_CHECK(err[0] != '\0');
		FUZZ_CHECK_STR(err);
	}
	free(url);
	return 0;
}
