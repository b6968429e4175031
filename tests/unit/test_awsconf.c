/* Unit tests for lib/awsconf: region, endpoint and credentials the way the
 * AWS SDKs find them (environment first, then the shared credentials file
 * and its profiles), and clear errors for missing or malformed settings
 * that never quote the secret. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "awsconf.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SECRET2 "s3cr3t/Two+ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"

static const char *const aws_vars[] = {
	"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB",
	"AWS_ENDPOINT_URL_SQS", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_ACCESS_KEY_ID",
	"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE",
	"AWS_CA_BUNDLE", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", NULL,
};

static char tmpdir[64];

/* Every test starts from an environment with no AWS settings and HOME in
 * an empty folder, so the machine's own ~/.aws never leaks in. */
static int clean_env(void **state)
{
	(void)state;
	for (int i = 0; aws_vars[i]; i++)
		unsetenv(aws_vars[i]);
	setenv("HOME", tmpdir, 1);
	return 0;
}

static char *write_file(const char *name, const char *text)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void env_keys(void)
{
	setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
}

static void test_region_and_default_endpoint(void **state)
{
	(void)state;
	struct awsconf c;
	char err[512];

	env_keys();
	setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
	assert_int_equal(awsconf_load(&c, &awsconf_dynamodb, err, sizeof(err)), 0);
	assert_string_equal(c.region, "eu-west-1");
	assert_string_equal(c.endpoint, "https://dynamodb.eu-west-1.amazonaws.com");
	assert_string_equal(c.host, "dynamodb.eu-west-1.amazonaws.com");
	assert_string_equal(c.path, "/");
	assert_false(c.endpoint_overridden);
	assert_int_equal(c.max_attempts, AWSCONF_MAX_ATTEMPTS_DEFAULT);
	assert_string_equal(c.creds.source, "environment");
	assert_null(c.creds.session_token);
	awsconf_free(&c);

	/* AWS_REGION wins over AWS_DEFAULT_REGION; SQS gets its own host. */
	setenv("AWS_REGION", "sa-east-1", 1);
	assert_int_equal(awsconf_load(&c, &awsconf_sqs, err, sizeof(err)), 0);
	assert_string_equal(c.endpoint, "https://sqs.sa-east-1.amazonaws.com");
	awsconf_free(&c);

	setenv("AWS_REGION", "cn-north-1", 1);
	assert_int_equal(awsconf_load(&c, &awsconf_dynamodb, err, sizeof(err)), 0);
	assert_string_equal(c.endpoint, "https://dynamodb.cn-north-1.amazonaws.com.cn");
	awsconf_free(&c);
}

static void test_endpoint_overrides(void **state)
{
	(void)state;
	struct awsconf c;
	char err[512];

	env_keys();
	setenv("AWS_REGION", "us-east-1", 1);
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566", 1);
	assert_int_equal(awsconf_load(&c, &awsconf_dynamodb, err, sizeof(err)), 0);
	assert_string_equal(c.endpoint, "http://127.0.0.1:4566");
	assert_string_equal(c.host, "127.0.0.1:4566");
	assert_true(c.endpoint_overridden);
	awsconf_free(&c);

	/* The service's own variable wins, and only for that service. */
	setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://localhost:8000/", 1);
	assert_int_equal(awsconf_load(&c, &awsconf_dynamodb, err, sizeof(err)), 0);
	assert_string_equal(c.host, "localhost:8000");
	awsconf_free(&c);
	assert_int_equal(awsconf_load(&c, &awsconf_sqs, err, sizeof(err)), 0);
	assert_string_equal(c.host, "127.0.0.1:4566");
	awsconf_free(&c);

	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
	assert_int_equal(awsconf_load(&c, &awsconf_dynamodb, err, sizeof(err)), 0);
	assert_string_equal(c.endpoint, "https://dynamodb.us-east-1.amazonaws.com");
	awsconf_free(&c);
	unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");

	setenv("AWS_ENDPOINT_URL_DYNAMODB", "ftp://example.com", 1);
	assert_int_equal(awsconf_load(&c, &awsconf_dynamodb, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "AWS_ENDPOINT_URL_DYNAMODB"));
	assert_non_null(strstr(err, "http://"));
}

static void test_parse_endpoint(void **state)
{
	(void)state;
	char *host, *path, err[256];
	bool https;

	assert_int_equal(awsconf_parse_endpoint("https://h.example:443", &host, &path, &https, err,
	                                        sizeof(err)),
	                 0);
	assert_string_equal(host, "h.example"); /* default port: not in Host */
	assert_true(https);
	free(host);
	free(path);
	assert_int_equal(awsconf_parse_endpoint("http://[::1]:8000/base", &host, &path, &https, err,
	                                        sizeof(err)),
	                 0);
	assert_string_equal(host, "[::1]:8000");
	assert_string_equal(path, "/base");
	assert_false(https);
	free(host);
	free(path);

	static const char *const bad[] = {
		"127.0.0.1:8000", "http://", "http://h:0", "http://h:99999", "http://h:12x",
		"http://u:p@h", "http://h/?q=1", "http://h#f", "http://[::1", "http://h :80",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(awsconf_parse_endpoint(bad[i], &host, &path, &https, err, sizeof(err)),
		                 -1);
		assert_null(host);
		assert_true(strlen(err) > 0);
	}
	/* user info is refused without repeating it */
	awsconf_parse_endpoint("http://AKID:hunter2@h", &host, &path, &https, err, sizeof(err));
	assert_null(strstr(err, "hunter2"));
}

static void test_bad_settings_are_named(void **state)
{
	(void)state;
	struct awsconf c;
	char err[512];

	env_keys();
	assert_int_equal(awsconf_load(&c, &awsconf_dynamodb, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "AWS_REGION"));

	setenv("AWS_REGION", "us east 1", 1);
	assert_int_equal(awsconf_load(&c, &awsconf_dynamodb, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a region"));
	setenv("AWS_REGION", "us-east-1", 1);

	setenv("AWS_MAX_ATTEMPTS", "0", 1);
	assert_int_equal(awsconf_load(&c, &awsconf_dynamodb, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "AWS_MAX_ATTEMPTS"));
	setenv("AWS_MAX_ATTEMPTS", "7", 1);
	assert_int_equal(awsconf_load(&c, &awsconf_dynamodb, err, sizeof(err)), 0);
	assert_int_equal(c.max_attempts, 7);
	awsconf_free(&c);

	setenv("AWS_RETRY_MODE", "eager", 1);
	assert_int_equal(awsconf_load(&c, &awsconf_dynamodb, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "AWS_RETRY_MODE"));
	setenv("AWS_RETRY_MODE", "adaptive", 1);

	setenv("AWS_CA_BUNDLE", "/nonexistent/ca.pem", 1);
	assert_int_equal(awsconf_load(&c, &awsconf_dynamodb, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "AWS_CA_BUNDLE"));
	setenv("AWS_CA_BUNDLE", write_file("ca.pem", "not checked here\n"), 1);
	assert_int_equal(awsconf_load(&c, &awsconf_dynamodb, err, sizeof(err)), 0);
	assert_non_null(c.ca_bundle);
	awsconf_free(&c);
}

/* Issue 12: no message shows an endpoint's user information; plain http
 * off this machine is said once; a credentials file that is a FIFO or a
 * device is refused at once, never read. */
static void test_hygiene(void **state)
{
	(void)state;
	struct awsconf c;
	char err[512], out[128];

	awsconf_redact_url("http://user:pa55@host:1/x", out, sizeof(out));
	assert_string_equal(out, "http://***@host:1/x");
	awsconf_redact_url("ftp://u:p/a#s@h", out, sizeof(out));
	assert_string_equal(out, "ftp://***@h");
	awsconf_redact_url("http://host/", out, sizeof(out));
	assert_string_equal(out, "http://host/");

	assert_true(awsconf_host_loopback("127.0.0.1:4566"));
	assert_true(awsconf_host_loopback("127.1.2.3"));
	assert_true(awsconf_host_loopback("localhost:80"));
	assert_true(awsconf_host_loopback("sqs.us-east-1.localhost:9324"));
	assert_true(awsconf_host_loopback("[::1]:8000"));
	assert_false(awsconf_host_loopback("10.0.0.1:4566"));
	assert_false(awsconf_host_loopback("127.0.0.1.example.com"));
	assert_false(awsconf_host_loopback("[::2]"));
	assert_false(awsconf_host_loopback("localhost.example.com"));

	env_keys();
	setenv("AWS_REGION", "us-east-1", 1);
	static const char *const bad[] = {
		"ftp://user:pa55w0rd@h/", "http://user:pa55w0rd@h/?q", "http://user:pa55w0rd@h:x/",
		"http://user:pa/55w0rd@h/", NULL,
	};
	for (int i = 0; bad[i]; i++) {
		setenv("AWS_ENDPOINT_URL", bad[i], 1);
		assert_int_equal(awsconf_load(&c, &awsconf_sqs, err, sizeof(err)), -1);
		assert_null(strstr(err, "pa55w0rd"));
		assert_null(strstr(err, "55w0rd"));
	}

	setenv("AWS_ENDPOINT_URL", "http://10.1.2.3:4566", 1);
	assert_int_equal(awsconf_load(&c, &awsconf_sqs, err, sizeof(err)), 0);
	assert_non_null(strstr(c.warning, "not loopback"));
	awsconf_free(&c);
	setenv("AWS_ENDPOINT_URL", "https://10.1.2.3:4566", 1);
	assert_int_equal(awsconf_load(&c, &awsconf_sqs, err, sizeof(err)), 0);
	assert_string_equal(c.warning, "");
	awsconf_free(&c);
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566", 1);
	assert_int_equal(awsconf_load(&c, &awsconf_sqs, err, sizeof(err)), 0);
	assert_string_equal(c.warning, "");
	awsconf_free(&c);

	char fifo[128];
	snprintf(fifo, sizeof(fifo), "%s/creds.fifo", tmpdir);
	unlink(fifo);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	setenv("AWS_SHARED_CREDENTIALS_FILE", fifo, 1);
	assert_int_equal(awsconf_load(&c, &awsconf_sqs, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "a FIFO, not a regular file"));
	unlink(fifo);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", 1);
	assert_int_equal(awsconf_load(&c, &awsconf_sqs, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "a device, not a regular file"));
	env_keys();
	setenv("AWS_CA_BUNDLE", "/dev/zero", 1);
	assert_int_equal(awsconf_load(&c, &awsconf_sqs, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "AWS_CA_BUNDLE /dev/zero: a device"));
}

static void test_env_credentials(void **state)
{
	(void)state;
	struct awsconf c;
	char err[512];

	setenv("AWS_REGION", "us-east-1", 1);
	env_keys();
	setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEBYaDH+token/==", 1);
	assert_int_equal(awsconf_load(&c, &awsconf_dynamodb, err, sizeof(err)), 0);
	assert_string_equal(c.creds.access_key_id, "AKIDEXAMPLE");
	assert_string_equal(c.creds.secret_access_key, SECRET);
	assert_string_equal(c.creds.session_token, "FwoGZXIvYXdzEBYaDH+token/==");
	awsconf_free(&c);

	/* Half a pair is an error, not a quiet fall-back to the file. */
	unsetenv("AWS_ACCESS_KEY_ID");
	assert_int_equal(awsconf_load(&c, &awsconf_dynamodb, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"));
	assert_null(strstr(err, SECRET));

	/* A secret with a space or newline in it: named, not shown. */
	setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "abc def" SECRET, 1);
	assert_int_equal(awsconf_load(&c, &awsconf_dynamodb, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "secret access key"));
	assert_null(strstr(err, SECRET));
	assert_null(strstr(err, "abc def"));

	setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
	setenv("AWS_ACCESS_KEY_ID", "AKID,X", 1);
	assert_int_equal(awsconf_load(&c, &awsconf_dynamodb, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "access key id"));
}

static const char credentials_file[] =
	"# a comment\n"
	"; another\n"
	"[default]\n"
	"aws_access_key_id = AKIDDEFAULT\n"
	"aws_secret_access_key = " SECRET "\n"
	"\n"
	"[ci]\r\n"
	"aws_access_key_id=AKIDCI\r\n"
	"aws_secret_access_key=" SECRET2 "\r\n"
	"aws_session_token = TOKEN/ci==\r\n"
	"s3 =\n"
	"    max_concurrent_requests = 20\n"
	"[assume]\n"
	"role_arn = arn:aws:iam::123456789012:role/x\n"
	"source_profile = default\n"
	"[partial]\n"
	"aws_access_key_id = AKIDPARTIAL\n";

static void test_credentials_file_profiles(void **state)
{
	(void)state;
	struct awsconf c;
	char err[512];

	setenv("AWS_REGION", "us-east-1", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", write_file("credentials", credentials_file), 1);
	assert_int_equal(awsconf_load(&c, &awsconf_dynamodb, err, sizeof(err)), 0);
	assert_string_equal(c.creds.access_key_id, "AKIDDEFAULT");
	assert_string_equal(c.creds.secret_access_key, SECRET);
	assert_null(c.creds.session_token);
	assert_non_null(strstr(c.creds.source, "profile [default]"));
	awsconf_free(&c);

	setenv("AWS_PROFILE", "ci", 1);
	assert_int_equal(awsconf_load(&c, &awsconf_dynamodb, err, sizeof(err)), 0);
	assert_string_equal(c.creds.access_key_id, "AKIDCI");
	assert_string_equal(c.creds.secret_access_key, SECRET2);
	assert_string_equal(c.creds.session_token, "TOKEN/ci==");
	awsconf_free(&c);

	/* Environment keys win over the file. */
	env_keys();
	assert_int_equal(awsconf_load(&c, &awsconf_dynamodb, err, sizeof(err)), 0);
	assert_string_equal(c.creds.access_key_id, "AKIDEXAMPLE");
	awsconf_free(&c);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");

	setenv("AWS_PROFILE", "nosuch", 1);
	assert_int_equal(awsconf_load(&c, &awsconf_dynamodb, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no profile [nosuch]"));

	setenv("AWS_PROFILE", "assume", 1);
	assert_int_equal(awsconf_load(&c, &awsconf_dynamodb, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "role_arn"));

	setenv("AWS_PROFILE", "partial", 1);
	assert_int_equal(awsconf_load(&c, &awsconf_dynamodb, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "has no aws_secret_access_key"));

	/* The default file is ~/.aws/credentials. */
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	unsetenv("AWS_PROFILE");
	assert_int_equal(awsconf_load(&c, &awsconf_dynamodb, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no AWS credentials"));
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/.aws", tmpdir);
	mkdir(dir, 0700);
	write_file(".aws/credentials", credentials_file);
	assert_int_equal(awsconf_load(&c, &awsconf_dynamodb, err, sizeof(err)), 0);
	assert_string_equal(c.creds.access_key_id, "AKIDDEFAULT");
	awsconf_free(&c);

	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
	assert_int_equal(awsconf_load(&c, &awsconf_dynamodb, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "AWS_SHARED_CREDENTIALS_FILE /nonexistent/credentials"));
}

static void test_malformed_file_never_shows_the_secret(void **state)
{
	(void)state;
	struct awsconf_credentials cr;
	char err[512];

	/* A secret pasted on a line of its own: the line is named by number. */
	static const char pasted[] = "[default]\naws_access_key_id = AKID\n" SECRET "\n";
	assert_int_equal(awsconf_parse_credentials(pasted, sizeof(pasted) - 1, "default", "creds", &cr,
	                                           err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "creds line 3"));
	assert_null(strstr(err, SECRET));
	assert_null(cr.access_key_id);

	static const char section[] = "[default\naws_secret_access_key = " SECRET "\n";
	assert_int_equal(awsconf_parse_credentials(section, sizeof(section) - 1, "default", "creds",
	                                           &cr, err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "line 1"));
	assert_null(strstr(err, SECRET));

	static const char blanks[] =
		"[default]\naws_access_key_id = AKID\naws_secret_access_key = " SECRET " extra\n";
	assert_int_equal(awsconf_parse_credentials(blanks, sizeof(blanks) - 1, "default", "creds",
	                                           &cr, err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "secret access key"));
	assert_null(strstr(err, SECRET));

	static const char nul[] = "[default]\0aws_access_key_id = AKID\n";
	assert_int_equal(
		awsconf_parse_credentials(nul, sizeof(nul) - 1, "default", "creds", &cr, err, sizeof(err)),
		-1);
	assert_non_null(strstr(err, "NUL"));

	/* The last of two sections of one name wins, key by key. */
	static const char twice[] = "[p]\naws_access_key_id=AKID1\naws_secret_access_key=S1\n"
	                            "[q]\naws_access_key_id=AKIDQ\n"
	                            "[p]\naws_secret_access_key=S2\n";
	assert_int_equal(awsconf_parse_credentials(twice, sizeof(twice) - 1, "p", "creds", &cr, err,
	                                           sizeof(err)),
	                 0);
	assert_string_equal(cr.access_key_id, "AKID1");
	assert_string_equal(cr.secret_access_key, "S2");
	awsconf_credentials_clear(&cr);
}

static void remove_tree(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0) {
		/* a leftover temporary folder is harmless */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_region_and_default_endpoint, clean_env),
		cmocka_unit_test_setup(test_endpoint_overrides, clean_env),
		cmocka_unit_test_setup(test_parse_endpoint, clean_env),
		cmocka_unit_test_setup(test_bad_settings_are_named, clean_env),
		cmocka_unit_test_setup(test_hygiene, clean_env),
		cmocka_unit_test_setup(test_env_credentials, clean_env),
		cmocka_unit_test_setup(test_credentials_file_profiles, clean_env),
		cmocka_unit_test_setup(test_malformed_file_never_shows_the_secret, clean_env),
	};
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_awsconf.XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	int rc = cmocka_run_group_tests_name("awsconf", tests, NULL, NULL);
	remove_tree();
	return rc;
}
