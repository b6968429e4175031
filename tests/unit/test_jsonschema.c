/* Unit tests for lib/jsonschema: the messages a person reads in a rejects
 * file (pointer, keyword and text, exactly), broken schemas refused with a
 * clear reason, the project's event schema, the depth guard against $ref
 * cycles, and remote references from local files. The official conformance
 * suite is test_jsonschema_suite.c. Runs from the repository root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonschema.h"

#define EVENT_SCHEMA "schema/event.schema.json"

static const char sample_event[] =
	"{\"uid\":\"a0237613-828d-4bce-8a7e-b1f686915d31\",\"context\":\"autorizador de transações\","
	"\"event_type\":\"DELETE\",\"client\":\"Client_B\","
	"\"created_at\":\"2024-09-10T04:17:09.0247241-03:00\"}";

/* Compiles schema text; fails the test when it does not compile. */
static jsonschema *compile_text(const char *text)
{
	char errstr[512] = "";
	cJSON *doc = cJSON_Parse(text);
	assert_non_null(doc);
	jsonschema *s = jsonschema_compile(doc, NULL, NULL, errstr, sizeof(errstr));
	cJSON_Delete(doc);
	if (!s)
		fail_msg("schema %s did not compile: %s", text, errstr);
	return s;
}

/* The compile error for schema text, which must not compile. */
static void compile_error(const char *text, char *errstr, size_t size)
{
	cJSON *doc = cJSON_Parse(text);
	assert_non_null(doc);
	jsonschema *s = jsonschema_compile(doc, NULL, NULL, errstr, size);
	cJSON_Delete(doc);
	if (s) {
		jsonschema_free(s);
		fail_msg("schema %s compiled, but should not", text);
	}
}

/* Validates instance text; returns the verdict, fills *err. Checks that the
 * quick answer (no error report) is the same. */
static bool check(const jsonschema *s, const char *instance, struct jsonschema_error *err)
{
	cJSON *doc = cJSON_Parse(instance);
	assert_non_null(doc);
	memset(err, 0, sizeof(*err));
	bool ok = jsonschema_validate(s, doc, err);
	assert_int_equal(ok, jsonschema_validate(s, doc, NULL));
	cJSON_Delete(doc);
	return ok;
}

/* instance is invalid with exactly this pointer, keyword and message. */
static void expect_error(const jsonschema *s, const char *instance, const char *pointer,
                         const char *keyword, const char *message)
{
	struct jsonschema_error err;

	if (check(s, instance, &err))
		fail_msg("%s was valid", instance);
	assert_string_equal(err.message, message);
	assert_string_equal(err.pointer, pointer);
	assert_string_equal(err.keyword, keyword);
}

static void expect_valid(const jsonschema *s, const char *instance)
{
	struct jsonschema_error err;

	if (!check(s, instance, &err))
		fail_msg("%s was invalid: %s", instance, err.message);
}

/* ---- the event schema ---- */

static int load_event(void **state)
{
	char errstr[512];
	jsonschema *s = jsonschema_load(EVENT_SCHEMA, NULL, errstr, sizeof(errstr));
	if (!s) {
		print_error("%s\n", errstr);
		return -1;
	}
	*state = s;
	return 0;
}

static int free_schema(void **state)
{
	jsonschema_free(*state);
	return 0;
}

static void test_event_sample_is_valid(void **state)
{
	const jsonschema *s = *state;

	expect_valid(s, sample_event);
	/* other offsets and precisions, and unknown properties */
	expect_valid(s, "{\"uid\":\"1\",\"context\":\"monitoramento\",\"event_type\":\"INSERT\","
	                "\"client\":\"Client_A\",\"created_at\":\"2024-09-10T07:17:09Z\"}");
	expect_valid(s, "{\"uid\":\"x\",\"context\":\"integrações\",\"event_type\":\"UPDATE\","
	                "\"client\":\"Client_D\",\"created_at\":\"2024-02-29T23:59:59.5+05:30\","
	                "\"extra\":{\"anything\":[1,2]}}");
	expect_valid(s, "{\"uid\":\"x\",\"context\":\"aplicação de usuários\",\"event_type\":\"UPDATE\","
	                "\"client\":\"Client_C\",\"created_at\":\"2016-12-31T23:59:60Z\"}");
}

static void test_event_wrong_fields(void **state)
{
	const jsonschema *s = *state;

	expect_error(s,
	             "{\"context\":\"monitoramento\",\"event_type\":\"INSERT\",\"client\":\"Client_A\","
	             "\"created_at\":\"2024-09-10T07:17:09Z\"}",
	             "", "required", "(root): required property \"uid\" is missing");
	expect_error(s,
	             "{\"uid\":\"1\",\"context\":\"monitoramento\",\"event_type\":\"INSERT\","
	             "\"client\":\"Client_Z\",\"created_at\":\"2024-09-10T07:17:09Z\"}",
	             "/client", "enum",
	             "/client: \"Client_Z\" is not one of \"Client_A\", \"Client_B\", \"Client_C\", "
	             "\"Client_D\"");
	expect_error(s,
	             "{\"uid\":\"1\",\"context\":\"monitoramento\",\"event_type\":\"INSERT\","
	             "\"client\":\"Client_A\",\"created_at\":\"yesterday\"}",
	             "/created_at", "format",
	             "/created_at: \"yesterday\" is not a valid date-time (RFC 3339)");
	expect_error(s,
	             "{\"uid\":12,\"context\":\"monitoramento\",\"event_type\":\"INSERT\","
	             "\"client\":\"Client_A\",\"created_at\":\"2024-09-10T07:17:09Z\"}",
	             "/uid", "type", "/uid: expected string, found number 12");
	expect_error(s,
	             "{\"uid\":\"\",\"context\":\"monitoramento\",\"event_type\":\"INSERT\","
	             "\"client\":\"Client_A\",\"created_at\":\"2024-09-10T07:17:09Z\"}",
	             "/uid", "minLength", "/uid: \"\" is too short (0 characters, at least 1)");
	expect_error(s,
	             "{\"uid\":\"1\",\"context\":\"Monitoramento\",\"event_type\":\"INSERT\","
	             "\"client\":\"Client_A\",\"created_at\":\"2024-09-10T07:17:09Z\"}",
	             "/context", "enum",
	             "/context: \"Monitoramento\" is not one of \"monitoramento\", \"aplicação de "
	             "usuários\", \"autorizador de transações\", \"integrações\"");
	expect_error(s,
	             "{\"uid\":\"1\",\"context\":\"monitoramento\",\"event_type\":\"insert\","
	             "\"client\":\"Client_A\",\"created_at\":\"2024-09-10T07:17:09Z\"}",
	             "/event_type", "enum",
	             "/event_type: \"insert\" is not one of \"INSERT\", \"UPDATE\", \"DELETE\"");
	expect_error(s,
	             "{\"uid\":\"1\",\"context\":\"monitoramento\",\"event_type\":\"INSERT\","
	             "\"client\":null,\"created_at\":\"2024-09-10T07:17:09Z\"}",
	             "/client", "type", "/client: expected string, found null");
	/* dates: no offset, an impossible day, a space instead of T */
	expect_error(s,
	             "{\"uid\":\"1\",\"context\":\"monitoramento\",\"event_type\":\"INSERT\","
	             "\"client\":\"Client_A\",\"created_at\":\"2024-09-10T07:17:09\"}",
	             "/created_at", "format",
	             "/created_at: \"2024-09-10T07:17:09\" is not a valid date-time (RFC 3339)");
	expect_error(s,
	             "{\"uid\":\"1\",\"context\":\"monitoramento\",\"event_type\":\"INSERT\","
	             "\"client\":\"Client_A\",\"created_at\":\"2023-02-29T07:17:09Z\"}",
	             "/created_at", "format",
	             "/created_at: \"2023-02-29T07:17:09Z\" is not a valid date-time (RFC 3339)");
	expect_error(s,
	             "{\"uid\":\"1\",\"context\":\"monitoramento\",\"event_type\":\"INSERT\","
	             "\"client\":\"Client_A\",\"created_at\":\"2024-09-10 07:17:09Z\"}",
	             "/created_at", "format",
	             "/created_at: \"2024-09-10 07:17:09Z\" is not a valid date-time (RFC 3339)");
	expect_error(s, "[1,2]", "", "type", "(root): expected object, found array [1,2]");
	expect_error(s, "\"text\"", "", "type", "(root): expected object, found string \"text\"");
}

/* A missing property is reported before a bad one, as documented. */
static void test_event_required_first(void **state)
{
	expect_error(*state, "{\"uid\":12}", "", "required",
	             "(root): required property \"context\" is missing");
}

/* ---- messages ---- */

static void test_long_values_are_abbreviated(void **state)
{
	(void)state;
	jsonschema *s = compile_text("{\"enum\":[\"short\"]}");
	char inst[300], want[300];

	memset(inst, 0, sizeof(inst));
	inst[0] = '"';
	memset(inst + 1, 'x', 100);
	inst[101] = '"';
	snprintf(want, sizeof(want), "(root): \"%.60s\xE2\x80\xA6\" is not \"short\"", inst + 1);
	expect_error(s, inst, "", "enum", want);
	/* objects and arrays too */
	expect_error(s,
	             "{\"a\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26]}",
	             "", "enum",
	             "(root): {\"a\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,"
	             "\xE2\x80\xA6 is not \"short\"");
	jsonschema_free(s);
}

static void test_pointers_escape_and_index(void **state)
{
	(void)state;
	jsonschema *s = compile_text(
		"{\"properties\":{\"a/b\":{\"items\":{\"properties\":{\"m~n\":{\"type\":\"integer\"}}}}}}");

	expect_valid(s, "{\"a/b\":[{\"m~n\":1.0}]}"); /* 1.0 is an integer */
	expect_error(s, "{\"a/b\":[{},{\"m~n\":1.5}]}", "/a~1b/1/m~0n", "type",
	             "/a~1b/1/m~0n: expected integer, found number 1.5");
	jsonschema_free(s);
}

static void test_keyword_messages(void **state)
{
	(void)state;
	jsonschema *s;

	s = compile_text("{\"properties\":{\"n\":{\"minimum\":5,\"exclusiveMaximum\":10,"
	                 "\"multipleOf\":0.5},\"t\":{\"type\":[\"string\",\"null\"]}}}");
	expect_error(s, "{\"n\":3}", "/n", "minimum", "/n: 3 is less than the minimum 5");
	expect_error(s, "{\"n\":10}", "/n", "exclusiveMaximum",
	             "/n: 10 is not less than 10 (exclusiveMaximum)");
	expect_error(s, "{\"n\":7.25}", "/n", "multipleOf", "/n: 7.25 is not a multiple of 0.5");
	expect_error(s, "{\"t\":true}", "/t", "type", "/t: expected null or string, found boolean true");
	jsonschema_free(s);

	s = compile_text("{\"additionalProperties\":false,\"properties\":{\"a\":true},"
	                 "\"maxProperties\":1}");
	expect_error(s, "{\"a\":1,\"b\":2}", "", "maxProperties",
	             "(root): too many properties (2, at most 1)");
	expect_error(s, "{\"b\":2}", "", "additionalProperties",
	             "(root): unexpected property \"b\" (additionalProperties is false)");
	jsonschema_free(s);

	s = compile_text("{\"anyOf\":[{\"type\":\"string\"},{\"minimum\":2}]}");
	expect_error(s, "1", "", "anyOf",
	             "(root): matches none of the 2 schemas in anyOf (the first fails: expected "
	             "string, found number 1)");
	jsonschema_free(s);

	s = compile_text("{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":2}]}");
	expect_error(s, "3", "", "oneOf", "(root): matches more than one schema in oneOf (0 and 1)");
	jsonschema_free(s);

	s = compile_text("{\"propertyNames\":{\"pattern\":\"^[a-z]+$\"},"
	                 "\"dependencies\":{\"a\":[\"b\"]}}");
	expect_error(s, "{\"Ab\":1}", "", "propertyNames",
	             "(root): invalid property name \"Ab\": \"Ab\" does not match the pattern "
	             "\"^[a-z]+$\"");
	expect_error(s, "{\"a\":1}", "", "dependencies",
	             "(root): property \"b\" is required when \"a\" is present");
	jsonschema_free(s);

	s = compile_text("{\"items\":[{\"type\":\"string\"}],\"additionalItems\":false,"
	                 "\"uniqueItems\":true,\"minItems\":1}");
	expect_error(s, "[]", "", "minItems", "(root): too few items (0, at least 1)");
	expect_error(s, "[\"a\",2]", "", "additionalItems",
	             "(root): too many items (2, at most 1 as additionalItems is false)");
	jsonschema_free(s);

	s = compile_text("{\"uniqueItems\":true,\"contains\":{\"const\":{\"a\":[1,2]}}}");
	expect_valid(s, "[{\"a\":[1.0,2]}]");
	expect_error(s, "[{\"a\":[2,1]}]", "", "contains",
	             "(root): no item matches the \"contains\" schema");
	jsonschema_free(s);
	s = compile_text("{\"uniqueItems\":true}");
	expect_valid(s, "[{\"a\":1},{\"a\":1,\"b\":1},[1],1,\"1\",true]");
	expect_error(s, "[{\"a\":[1,2],\"b\":1},{\"b\":1.0,\"a\":[1,2]}]", "", "uniqueItems",
	             "(root): items 0 and 1 are equal, but items must be unique "
	             "({\"a\":[1,2],\"b\":1})");
	jsonschema_free(s);

	s = compile_text("{\"not\":{\"type\":\"null\"},\"if\":{\"type\":\"string\"},"
	                 "\"then\":{\"maxLength\":2}}");
	expect_error(s, "null", "", "not", "(root): must not match the \"not\" schema");
	expect_error(s, "\"abcé\"", "", "maxLength",
	             "(root): \"abcé\" is too long (4 characters, at most 2)");
	jsonschema_free(s);

	s = compile_text("{\"const\":{\"x\":[1,\"two\",null]}}");
	expect_valid(s, "{\"x\":[1.0,\"two\",null]}");
	expect_error(s, "{\"x\":[1,\"two\"]}", "", "const",
	             "(root): expected {\"x\":[1,\"two\",null]}, found {\"x\":[1,\"two\"]}");
	jsonschema_free(s);

	s = compile_text("{\"multipleOf\":0.0001}");
	expect_valid(s, "0.0075");
	expect_error(s, "0.00751", "", "multipleOf", "(root): 0.00751 is not a multiple of 0.0001");
	jsonschema_free(s);

	s = compile_text("false");
	expect_error(s, "{}", "", "false", "(root): no value is allowed here (the schema is false)");
	jsonschema_free(s);
}

/* ---- broken schemas ---- */

static void test_broken_schemas_are_refused(void **state)
{
	(void)state;
	char e[512];

	compile_error("{\"properties\":{\"a\":{\"pattern\":\"(abc\"}}}", e, sizeof(e));
	assert_string_equal(e, "#/properties/a/pattern: invalid pattern \"(abc\": missing ) at the end "
	                       "of the pattern");
	compile_error("{\"pattern\":\"\\\\a\"}", e, sizeof(e));
	assert_string_equal(e, "#/pattern: invalid pattern \"\\a\": \\a is not an ECMA-262 escape "
	                       "(offset 1)");
	compile_error("{\"properties\":{\"a\":{\"$ref\":\"#/definitions/nowhere\"}}}", e, sizeof(e));
	assert_string_equal(e, "#/properties/a/$ref: cannot resolve $ref \"#/definitions/nowhere\": "
	                       "nothing at #/definitions/nowhere");
	compile_error("{\"$ref\":\"other.json\"}", e, sizeof(e));
	assert_string_equal(e, "#/$ref: cannot resolve $ref \"other.json\" (other.json): no schema has "
	                       "this URI (no remote folder was given)");
	compile_error("{\"items\":{\"minLength\":\"1\"}}", e, sizeof(e));
	assert_string_equal(e, "#/items/minLength: minLength must be a non-negative integer, found "
	                       "string");
	compile_error("{\"type\":\"strnig\"}", e, sizeof(e));
	assert_string_equal(e, "#/type: unknown type \"strnig\"");
	compile_error("{\"required\":\"uid\"}", e, sizeof(e));
	assert_string_equal(e, "#/required: required must be an array of strings, found string");
	compile_error("{\"allOf\":[]}", e, sizeof(e));
	assert_string_equal(e, "#/allOf: allOf must be a non-empty array of schemas, found an empty "
	                       "array");
	compile_error("{\"properties\":{\"a\":3}}", e, sizeof(e));
	assert_string_equal(e, "#/properties/a: a schema must be an object or a boolean, found number");
	compile_error("{\"multipleOf\":0}", e, sizeof(e));
	assert_string_equal(e, "#/multipleOf: multipleOf must be a number greater than 0");
	compile_error("{\"$ref\":\"#\"}", e, sizeof(e));
	assert_string_equal(e, "#/$ref: $ref \"#\" is part of a cycle of references that never "
	                       "reaches a schema");
	compile_error("{\"definitions\":{\"a\":{\"$ref\":\"#/definitions/b\"},"
	              "\"b\":{\"$ref\":\"#/definitions/a\"}},\"$ref\":\"#/definitions/a\"}",
	              e, sizeof(e));
	assert_non_null(strstr(e, "cycle of references"));
	/* an unused definition is still checked */
	compile_error("{\"definitions\":{\"x\":{\"maxItems\":-1}}}", e, sizeof(e));
	assert_string_equal(e, "#/definitions/x/maxItems: maxItems must be a non-negative integer, "
	                       "found number");
}

static void test_load_errors_name_the_file(void **state)
{
	(void)state;
	char path[] = "/tmp/test_jsonschema_XXXXXX", e[1024], want[1100];
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char bad[] = "{\n  \"type\": \"object\",\n  \"required\": [\"a\" \"b\"]\n}\n";
	assert_int_equal(write(fd, bad, sizeof(bad) - 1), (ssize_t)(sizeof(bad) - 1));
	close(fd);

	assert_null(jsonschema_load(path, NULL, e, sizeof(e)));
	snprintf(want, sizeof(want), "%s:3:20: not valid JSON", path);
	assert_string_equal(e, want);

	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"type\": 7}", f);
	fclose(f);
	assert_null(jsonschema_load(path, NULL, e, sizeof(e)));
	snprintf(want, sizeof(want), "%s: #/type: type must be a string or an array of strings, "
	                             "found number", path);
	assert_string_equal(e, want);
	unlink(path);

	assert_null(jsonschema_load("/nonexistent/x.json", NULL, e, sizeof(e)));
	assert_string_equal(e, "/nonexistent/x.json: No such file or directory");
}

/* ---- references ---- */

static void test_meta_schema_is_built_in(void **state)
{
	(void)state;
	jsonschema *s = compile_text("{\"$ref\":\"http://json-schema.org/draft-07/schema#\"}");
	struct jsonschema_error err;

	expect_valid(s, "{\"type\":\"object\",\"properties\":{\"a\":{\"minLength\":1}}}");
	assert_false(check(s, "{\"properties\":{\"a\":{\"type\":1}}}", &err));
	assert_string_equal(err.pointer, "/properties/a/type");
	jsonschema_free(s);
}

static void test_remote_refs_from_files(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_jsonschema_dir_XXXXXX", path[256], e[512];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/positive.json", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"definitions\":{\"n\":{\"type\":\"integer\",\"minimum\":1}}}", f);
	fclose(f);

	struct jsonschema_options opt = {"http://example.com/schemas/", dir};
	cJSON *doc = cJSON_Parse("{\"items\":{\"$ref\":\"http://example.com/schemas/positive.json"
	                         "#/definitions/n\"}}");
	jsonschema *s = jsonschema_compile(doc, NULL, &opt, e, sizeof(e));
	if (!s)
		fail_msg("%s", e);
	expect_valid(s, "[1,2,3]");
	expect_error(s, "[1,0]", "/1", "minimum", "/1: 0 is less than the minimum 1");
	jsonschema_free(s);

	/* without the mapping, or outside the folder, it does not resolve */
	assert_null(jsonschema_compile(doc, NULL, NULL, e, sizeof(e)));
	cJSON_Delete(doc);
	doc = cJSON_Parse("{\"$ref\":\"http://example.com/schemas/missing.json\"}");
	assert_null(jsonschema_compile(doc, NULL, &opt, e, sizeof(e)));
	assert_non_null(strstr(e, "cannot read remote schema http://example.com/schemas/missing.json"));
	cJSON_Delete(doc);
	doc = cJSON_Parse("{\"$ref\":\"http://example.com/schemas/%2e%2e/etc/passwd\"}");
	assert_null(jsonschema_compile(doc, NULL, &opt, e, sizeof(e)));
	assert_non_null(strstr(e, "does not name a file under"));
	cJSON_Delete(doc);

	unlink(path);
	rmdir(dir);
}

/* ---- hostile schemas and deep instances ---- */

static void test_depth_guard(void **state)
{
	(void)state;
	struct jsonschema_error err;
	/* two definitions that apply each other to the same value forever */
	jsonschema *s = compile_text("{\"definitions\":{\"a\":{\"allOf\":[{\"$ref\":\"#/definitions/b\"}]},"
	                             "\"b\":{\"anyOf\":[{\"$ref\":\"#/definitions/a\"}]}},"
	                             "\"$ref\":\"#/definitions/a\"}");

	assert_false(check(s, "{}", &err));
	assert_string_equal(err.keyword, "$ref");
	assert_string_equal(err.pointer, "");
	assert_non_null(strstr(err.message, "nested too deeply"));
	jsonschema_free(s);

	/* "not" must not turn the guard into a success */
	s = compile_text("{\"definitions\":{\"a\":{\"allOf\":[{\"$ref\":\"#/definitions/a\"}]}},"
	                 "\"properties\":{\"x\":{\"not\":{\"$ref\":\"#/definitions/a\"}}}}");
	assert_false(check(s, "{\"x\":1}", &err));
	assert_string_equal(err.keyword, "$ref");
	assert_string_equal(err.pointer, "/x");
	jsonschema_free(s);

	/* a legitimately recursive schema on a deep value is fine */
	s = compile_text("{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}");
	char *deep = malloc(2 * 990 + 1);
	assert_non_null(deep);
	memset(deep, '[', 990);
	memset(deep + 990, ']', 990);
	deep[2 * 990] = '\0';
	expect_valid(s, deep);
	deep[989] = '1'; /* the innermost array becomes a number */
	deep[990] = ' ';
	assert_false(check(s, deep, &err));
	assert_string_equal(err.keyword, "type");
	assert_int_equal(strlen(err.pointer), 255); /* long pointers are cut */
	free(deep);
	jsonschema_free(s);
}

static void test_free_null_and_bad_arguments(void **state)
{
	(void)state;
	char e[64];
	struct jsonschema_error err;

	jsonschema_free(NULL);
	assert_null(jsonschema_compile(NULL, NULL, NULL, e, sizeof(e)));
	assert_false(jsonschema_validate(NULL, NULL, &err));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_event_sample_is_valid, load_event, free_schema),
		cmocka_unit_test_setup_teardown(test_event_wrong_fields, load_event, free_schema),
		cmocka_unit_test_setup_teardown(test_event_required_first, load_event, free_schema),
		cmocka_unit_test(test_long_values_are_abbreviated),
		cmocka_unit_test(test_pointers_escape_and_index),
		cmocka_unit_test(test_keyword_messages),
		cmocka_unit_test(test_broken_schemas_are_refused),
		cmocka_unit_test(test_load_errors_name_the_file),
		cmocka_unit_test(test_meta_schema_is_built_in),
		cmocka_unit_test(test_remote_refs_from_files),
		cmocka_unit_test(test_depth_guard),
		cmocka_unit_test(test_free_null_and_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
