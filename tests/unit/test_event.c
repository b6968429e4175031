/* Unit tests for lib/event: the item persist stores (checked fields, values
 * exactly as the event has them), the message route sends (the event
 * without "_" members, byte for byte, made safe for SQS; queue, dedup and
 * group ids by the policy), the envelope of retry.fifo written and read
 * back, an error given its attempt number, and the member helpers on raw
 * JSON text (top level only, strings that look like members ignored). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

#define EV                                                                                          \
	"{\"uid\":\"3f1c0e2a-1\",\"context\":\"aplicação de usuários\",\"event_type\":\"INSERT\","    \
	"\"client\":\"Client_A\",\"created_at\":\"2024-09-10T04:17:09.0247241-03:00\"}"

static void test_item(void **state)
{
	(void)state;
	cJSON *obj = cJSON_Parse(EV);
	char *uid = NULL, *item = NULL, reason[256];
	size_t len = 0;
	const char *code = NULL;

	assert_int_equal(event_item(obj, &uid, &item, &len, &code, reason, sizeof(reason)), 0);
	assert_string_equal(uid, "3f1c0e2a-1");
	assert_string_equal(item, "{\"UUID\":{\"S\":\"3f1c0e2a-1\"},\"Context\":{\"S\":\"aplicação de usuários\"},"
	                          "\"EventType\":{\"S\":\"INSERT\"},\"Client\":{\"S\":\"Client_A\"},"
	                          "\"CreatedAt\":{\"S\":\"2024-09-10T04:17:09.0247241-03:00\"}}");
	assert_int_equal(len, strlen(item));
	free(uid);
	free(item);
	cJSON_Delete(obj);

	/* extra members (metadata) are not stored; values are not judged here */
	obj = cJSON_Parse("{\"uid\":\"u\\\"2\",\"context\":\"x\",\"event_type\":\"odd\",\"client\":\"c\","
	                  "\"created_at\":\"\",\"_src\":{\"offset\":1}}");
	assert_int_equal(event_item(obj, &uid, &item, &len, &code, reason, sizeof(reason)), 0);
	assert_string_equal(uid, "u\"2");
	assert_string_equal(item, "{\"UUID\":{\"S\":\"u\\\"2\"},\"Context\":{\"S\":\"x\"},\"EventType\":{\"S\":\"odd\"},"
	                          "\"Client\":{\"S\":\"c\"},\"CreatedAt\":{\"S\":\"\"}}");
	free(uid);
	free(item);
	cJSON_Delete(obj);
}

static void test_item_refused(void **state)
{
	(void)state;
	static const struct {
		const char *json, *code, *reason;
	} cases[] = {
		{"{\"context\":\"x\",\"event_type\":\"INSERT\",\"client\":\"c\",\"created_at\":\"t\"}",
		 "missing_field", "uid"},
		{"{\"uid\":\"\",\"context\":\"x\",\"event_type\":\"INSERT\",\"client\":\"c\",\"created_at\":\"t\"}",
		 "missing_field", "uid"},
		{"{\"uid\":7,\"context\":\"x\",\"event_type\":\"INSERT\",\"client\":\"c\",\"created_at\":\"t\"}",
		 "missing_field", "uid"},
		{"{\"uid\":\"u\",\"event_type\":\"INSERT\",\"client\":\"c\",\"created_at\":\"t\"}", "missing_field",
		 "context"},
		{"{\"uid\":\"u\",\"context\":\"x\",\"client\":\"c\",\"created_at\":\"t\"}", "missing_field",
		 "event_type"},
		{"{\"uid\":\"u\",\"context\":\"x\",\"event_type\":\"INSERT\",\"client\":null,\"created_at\":\"t\"}",
		 "missing_field", "client"},
		{"{\"uid\":\"u\",\"context\":\"x\",\"event_type\":\"INSERT\",\"client\":\"c\"}", "missing_field",
		 "created_at"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *obj = cJSON_Parse(cases[i].json);
		char *uid = (char *)1, *item = (char *)1, reason[256] = "";
		size_t len = 0;
		const char *code = NULL;
		assert_non_null(obj);
		assert_int_equal(event_item(obj, &uid, &item, &len, &code, reason, sizeof(reason)), -1);
		assert_string_equal(code, cases[i].code);
		assert_non_null(strstr(reason, cases[i].reason));
		cJSON_Delete(obj);
	}

	/* a uid of 2048 bytes is stored; one of 2049 is too large */
	char *big = malloc(EVENT_UID_MAX + 200);
	for (int extra = 0; extra <= 1; extra++) {
		int n = snprintf(big, EVENT_UID_MAX + 200, "{\"uid\":\"");
		memset(big + n, 'u', EVENT_UID_MAX + extra);
		snprintf(big + n + EVENT_UID_MAX + extra, 200,
		         "\",\"context\":\"x\",\"event_type\":\"I\",\"client\":\"c\",\"created_at\":\"t\"}");
		cJSON *obj = cJSON_Parse(big);
		char *uid = NULL, *item = NULL, reason[256];
		size_t len;
		const char *code = NULL;
		int rc = event_item(obj, &uid, &item, &len, &code, reason, sizeof(reason));
		if (extra == 0) {
			assert_int_equal(rc, 0);
			assert_int_equal(strlen(uid), EVENT_UID_MAX);
			free(uid);
			free(item);
		} else {
			assert_int_equal(rc, -1);
			assert_string_equal(code, "too_large");
		}
		cJSON_Delete(obj);
	}
	free(big);
}

/* event_strip_meta on s: the text ("NULL" for NULL); caller frees */
static char *strip(const char *s)
{
	size_t n = 0;
	char *out = event_strip_meta(s, strlen(s), &n);

	if (!out)
		return strdup("NULL");
	assert_int_equal(n, strlen(out));
	return out;
}

static void test_strip_meta(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want;
	} cases[] = {
		{EV, EV},
		{"{\"_src\":{\"topic\":\"t\"},\"a\":1,\"_error\":{\"a\":\"}\"},\"b\":\"_c\"}", "{\"a\":1,\"b\":\"_c\"}"},
		{"{\"a\" : [1, {\"_x\":2}] ,\"_y\":3}", "{\"a\" : [1, {\"_x\":2}]}"}, /* nested "_" kept */
		{"{\"_only\":1}", "{}"},
		{"{\"\\u005fsrc\":1,\"a\":2,\"\\u005Fx\":3}", "{\"a\":2}"}, /* "_" written as an escape */
		{"{}", "{}"},
		{"{\"a\":\"\\\"_not\\\":1\"}", "{\"a\":\"\\\"_not\\\":1\"}"}, /* inside a string */
		{"[1,2]", "NULL"},
		{"\"x\"", "NULL"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = strip(cases[i].in);
		assert_string_equal(got, cases[i].want);
		free(got);
	}
}

static void test_group_by(void **state)
{
	(void)state;
	enum event_group_by g = EVENT_GROUP_UID;

	assert_int_equal(event_group_by_parse("client", &g), 0);
	assert_int_equal(g, EVENT_GROUP_CLIENT);
	assert_int_equal(event_group_by_parse("uid", &g), 0);
	assert_int_equal(g, EVENT_GROUP_UID);
	assert_int_equal(event_group_by_parse("Client", &g), -1);
	assert_int_equal(event_group_by_parse("", &g), -1);
	assert_string_equal(event_group_by_name(EVENT_GROUP_CLIENT), "client");
	assert_string_equal(event_group_by_name(EVENT_GROUP_UID), "uid");
}

static int message(const char *text, enum event_group_by g, struct event_message *m,
                   const char **code, char *reason, size_t size)
{
	cJSON *obj = cJSON_Parse(text);
	int rc = event_client_message(text, strlen(text), obj, g, m, code, reason, size);

	cJSON_Delete(obj);
	return rc;
}

static void test_client_message(void **state)
{
	(void)state;
	struct event_message m;
	const char *code = NULL;
	char reason[256];
	const char *rec = "{\"uid\":\"3f1c0e2a-1\",\"client\":\"Client_B\",\"n\":\"\xef\xbf\xbf\","
	                  "\"_src\":{\"offset\":5}}";

	assert_int_equal(message(rec, EVENT_GROUP_CLIENT, &m, &code, reason, sizeof(reason)), 0);
	/* without "_" members, and U+FFFF escaped for SQS */
	assert_string_equal(m.body, "{\"uid\":\"3f1c0e2a-1\",\"client\":\"Client_B\",\"n\":\"\\uffff\"}");
	assert_int_equal(m.body_len, strlen(m.body));
	assert_string_equal(m.queue, "Client_B.fifo");
	assert_string_equal(m.dedup_id, "3f1c0e2a-1");
	assert_string_equal(m.group_id, "Client_B");
	event_message_clear(&m);

	assert_int_equal(message(EV, EVENT_GROUP_UID, &m, &code, reason, sizeof(reason)), 0);
	assert_string_equal(m.body, EV); /* nothing to strip or escape: byte for byte */
	assert_string_equal(m.queue, "Client_A.fifo");
	assert_string_equal(m.group_id, "3f1c0e2a-1");
	assert_string_equal(m.dedup_id, "3f1c0e2a-1");
	event_message_clear(&m);

	/* a uid that is not a valid id: its SHA-256 stands for it */
	assert_int_equal(message("{\"uid\":\"hello world\",\"client\":\"Client_C\"}", EVENT_GROUP_UID, &m,
	                         &code, reason, sizeof(reason)),
	                 0);
	assert_string_equal(m.dedup_id, "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
	assert_string_equal(m.group_id, m.dedup_id);
	event_message_clear(&m);

	static const struct {
		const char *json, *code;
	} bad[] = {
		{"{\"client\":\"Client_A\"}", "missing_field"},
		{"{\"uid\":\"u\"}", "missing_field"},
		{"{\"uid\":1,\"client\":\"Client_A\"}", "missing_field"},
		{"{\"uid\":\"u\",\"client\":\"no such client\"}", "no_queue"},
		{"{\"uid\":\"u\",\"client\":\"\"}", "no_queue"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		code = NULL;
		reason[0] = '\0';
		assert_int_equal(message(bad[i].json, EVENT_GROUP_CLIENT, &m, &code, reason, sizeof(reason)), -1);
		assert_string_equal(code, bad[i].code);
		assert_true(reason[0] != '\0');
		event_message_clear(&m);
	}

	/* over SQS's 1 MiB once stripped: too_large */
	size_t n = SQS_MESSAGE_MAX_BYTES + 64;
	char *big = malloc(n + 64);
	int k = snprintf(big, n + 64, "{\"uid\":\"u\",\"client\":\"Client_A\",\"pad\":\"");
	memset(big + k, 'p', n - (size_t)k);
	strcpy(big + n, "\"}");
	assert_int_equal(message(big, EVENT_GROUP_CLIENT, &m, &code, reason, sizeof(reason)), -1);
	assert_string_equal(code, "too_large");
	event_message_clear(&m);
	free(big);
	event_message_clear(&m); /* twice */
}

static void test_envelope(void **state)
{
	(void)state;
	const char *errs[] = {"{\"attempt\":1,\"stage\":\"persist\",\"code\":\"connection\"}",
	                      "{\"attempt\":2,\"stage\":\"route\",\"code\":\"no_queue\"}"};
	size_t lens[] = {strlen(errs[0]), strlen(errs[1])};
	size_t len;
	char reason[256];
	struct event_envelope env;

	char *t = event_envelope(EV, strlen(EV), 2, errs, lens, 2, &len);
	assert_string_equal(t, "{\"event\":" EV ",\"attempts\":2,\"errors\":["
	                       "{\"attempt\":1,\"stage\":\"persist\",\"code\":\"connection\"},"
	                       "{\"attempt\":2,\"stage\":\"route\",\"code\":\"no_queue\"}]}");
	assert_int_equal(len, strlen(t));

	/* read back: spans into the text, byte for byte */
	assert_int_equal(event_envelope_parse(t, len, &env, reason, sizeof(reason)), 0);
	assert_int_equal(env.event_len, strlen(EV));
	assert_memory_equal(env.event, EV, env.event_len);
	assert_true(env.event >= t && env.event + env.event_len <= t + len);
	assert_int_equal(env.attempts, 2);
	assert_int_equal(env.nerrors, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(env.error_lens[i], lens[i]);
		assert_memory_equal(env.errors[i], errs[i], lens[i]);
	}
	event_envelope_clear(&env);
	free(t);

	/* no errors at all */
	t = event_envelope("{}", 2, 0, NULL, NULL, 0, &len);
	assert_string_equal(t, "{\"event\":{},\"attempts\":0,\"errors\":[]}");
	assert_int_equal(event_envelope_parse(t, len, &env, reason, sizeof(reason)), 0);
	assert_int_equal(env.nerrors, 0);
	assert_int_equal(env.attempts, 0);
	event_envelope_clear(&env);
	free(t);

	/* "errors" may be left out; members in any order; blanks */
	static const char loose[] = "{ \"attempts\" : 3 , \"event\" : {\"uid\":\"x\"} }";
	assert_int_equal(event_envelope_parse(loose, sizeof(loose) - 1, &env, reason, sizeof(reason)), 0);
	assert_int_equal(env.attempts, 3);
	assert_int_equal(env.nerrors, 0);
	assert_int_equal(env.event_len, strlen("{\"uid\":\"x\"}"));
	assert_memory_equal(env.event, "{\"uid\":\"x\"}", env.event_len);
	event_envelope_clear(&env);

	static const char *const bad[] = {
		"not an envelope",
		"[]",
		"{\"attempts\":1}",
		"{\"event\":\"x\",\"attempts\":1}",
		"{\"event\":{},\"attempts\":-1}",
		"{\"event\":{},\"attempts\":1.5}",
		"{\"event\":{},\"attempts\":\"1\"}",
		"{\"event\":{}}",
		"{\"event\":{},\"attempts\":1,\"errors\":{}}",
		"{\"event\":{},\"attempts\":1,\"errors\":[1]}",
		/* not I-JSON: one reader would take one client, another the other */
		"{\"event\":{\"uid\":\"x\",\"client\":\"Client_A\",\"client\":\"Other\"},\"attempts\":1}",
		"{\"event\":{\"uid\":\"x\\u0000y\"},\"attempts\":1}",
		"{\"event\":{\"n\":01},\"attempts\":1}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		reason[0] = '\0';
		assert_int_equal(event_envelope_parse(bad[i], strlen(bad[i]), &env, reason, sizeof(reason)), -1);
		assert_true(reason[0] != '\0');
	}
}

static void test_error_with_attempt(void **state)
{
	(void)state;
	size_t len;
	static const char e[] = "{\"stage\":\"persist\",\"code\":\"connection\",\"retryable\":true}";
	char *t = event_error_with_attempt(e, sizeof(e) - 1, 3, &len);

	assert_string_equal(t, "{\"attempt\":3,\"stage\":\"persist\",\"code\":\"connection\",\"retryable\":true}");
	assert_int_equal(len, strlen(t));
	free(t);
	t = event_error_with_attempt("{}", 2, 1, &len);
	assert_string_equal(t, "{\"attempt\":1}");
	free(t);
	assert_null(event_error_with_attempt("[1]", 3, 1, &len));
	assert_null(event_error_with_attempt("\"x\"", 3, 1, &len));
}

static void test_members(void **state)
{
	(void)state;
	static const char t[] = "{\"a\":{\"b\":1,\"c\":\"}\"},\"s\":\"\\\"c\\\":2\",\"c\":[1,2] ,\"n\":null}";
	size_t n = 0;
	const char *v;

	v = event_member(t, sizeof(t) - 1, "a", &n);
	assert_non_null(v);
	assert_int_equal(n, strlen("{\"b\":1,\"c\":\"}\"}"));
	assert_memory_equal(v, "{\"b\":1,\"c\":\"}\"}", n);
	v = event_member(t, sizeof(t) - 1, "c", &n); /* the top-level one, not a.c or inside s */
	assert_non_null(v);
	assert_int_equal(n, 5);
	assert_memory_equal(v, "[1,2]", 5);
	v = event_member(t, sizeof(t) - 1, "n", &n);
	assert_non_null(v);
	assert_memory_equal(v, "null", n);
	assert_null(event_member(t, sizeof(t) - 1, "b", &n));
	assert_null(event_member(t, sizeof(t) - 1, "zz", &n));
	assert_null(event_member("[1]", 3, "a", &n));

	bool failed = true;
	size_t len = 0;
	char *w = event_without_member(t, sizeof(t) - 1, "c", &len, &failed);
	assert_false(failed);
	assert_non_null(w);
	assert_string_equal(w, "{\"a\":{\"b\":1,\"c\":\"}\"},\"s\":\"\\\"c\\\":2\",\"n\":null}");
	assert_int_equal(len, strlen(w));
	free(w);
	/* every occurrence */
	w = event_without_member("{\"_x\":1,\"y\":2,\"_x\":3}", 22, "_x", &len, &failed);
	assert_false(failed);
	assert_string_equal(w, "{\"y\":2}");
	free(w);
	/* none: NULL, not failed */
	failed = true;
	assert_null(event_without_member(t, sizeof(t) - 1, "b", &len, &failed));
	assert_false(failed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_item),
		cmocka_unit_test(test_item_refused),
		cmocka_unit_test(test_strip_meta),
		cmocka_unit_test(test_group_by),
		cmocka_unit_test(test_client_message),
		cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_error_with_attempt),
		cmocka_unit_test(test_members),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
