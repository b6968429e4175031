/* Any bytes as an instance, validated against the event schema
 * (schema/event.schema.json): a record line parsed as validate parses it,
 * then jsonschema_validate(), then event_item() on what passes, as persist
 * would. The schema's path is compiled in (FUZZ_SCHEMA); the environment
 * variable FUZZ_SCHEMA overrides it.
 *
 * Invariants: validation is deterministic (twice the same answer and the
 * same error), errors are NUL-terminated and their pointer is "" or starts
 * with "/". Parsed as a value and as a record, the line is read the same
 * way: the only difference allowed is \u0000, which values keep (as
 * RECORD_NUL_CHAR) and records refuse. */
#include "fuzz.h"

#include "event.h"
#include "jsonschema.h"

#ifndef FUZZ_SCHEMA
#define FUZZ_SCHEMA "schema/event.schema.json"
#endif

static jsonschema *schema;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *path = getenv("FUZZ_SCHEMA") ? getenv("FUZZ_SCHEMA") : FUZZ_SCHEMA;
	char err[512];

	(void)argc, (void)argv;
	schema = jsonschema_load(path, NULL, err, sizeof(err));
	if (!schema) {
		fprintf(stderr, "fuzz_schema_instance: %s\n", err);
		exit(1);
	}
	return 0;
}

static void check_error(const struct jsonschema_error *e)
{
	FUZZ_CHECK_STR(e->pointer);
	FUZZ_CHECK_STR(e->keyword);
	FUZZ_CHECK_STR(e->message);
	FUZZ_CHECK(e->pointer[0] == '\0' || e->pointer[0] == '/');
	FUZZ_CHECK(e->keyword[0] != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct record_line line = {.data = (const char *)data, .len = size, .lineno = 1};
	enum record_fault fault;
	char reason[256];
	cJSON *v;

	/* want_object false: the schema's "type" is exercised on every kind. */
	v = record_parse(&line, false, &fault, reason, sizeof(reason));
	enum record_fault rfault;
	cJSON *rec = record_parse(&line, true, &rfault, reason, sizeof(reason));
	if (rec) { /* compared printed: cJSON_Compare finds 1E400 (inf) unequal to itself */
		FUZZ_CHECK(v != NULL);
		char *a = cJSON_PrintUnformatted(v), *b = cJSON_PrintUnformatted(rec);
		FUZZ_CHECK(a && b && strcmp(a, b) == 0);
		cJSON_free(a);
		cJSON_free(b);
	}
	else if (v)
		FUZZ_CHECK(rfault == RECORD_NOT_OBJECT || rfault == RECORD_NUL_ESCAPE);
	cJSON_Delete(rec);
	if (!v)
		return 0;

	struct jsonschema_error e1, e2;
	memset(&e1, 0x55, sizeof(e1));
	memset(&e2, 0x55, sizeof(e2));
	bool ok1 = jsonschema_validate(schema, v, &e1);
	bool ok2 = jsonschema_validate(schema, v, &e2);
	FUZZ_CHECK(ok1 == ok2);
	FUZZ_CHECK(jsonschema_validate(schema, v, NULL) == ok1);
	if (!ok1) {
		check_error(&e1);
		FUZZ_CHECK(strcmp(e1.pointer, e2.pointer) == 0);
		FUZZ_CHECK(strcmp(e1.keyword, e2.keyword) == 0);
		FUZZ_CHECK(strcmp(e1.message, e2.message) == 0);
	} else {
		/* The schema requires the five fields as strings: persist's
		 * item can be built (unless a uid is over DynamoDB's limit). */
		char *uid = NULL, *item = NULL;
		size_t item_len = 0;
		const char *code = NULL;
		int rc = event_item(v, &uid, &item, &item_len, &code, reason, sizeof(reason));
		if (rc == 0) {
			FUZZ_CHECK(item && strlen(item) == item_len && uid);
			cJSON *doc = cJSON_ParseWithLength(item, item_len);
			FUZZ_CHECK(cJSON_IsObject(doc));
			cJSON_Delete(doc);
		} else {
			FUZZ_CHECK(code != NULL && strcmp(code, "too_large") == 0);
		}
		free(uid);
		free(item);
	}
	cJSON_Delete(v);
	return 0;
}
