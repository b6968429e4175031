/* Any bytes as a schema: the first JSON value of the input is compiled
 * (jsonschema_compile, no remote references) and, when it compiles, each
 * instance is validated against it: the JSON value after the schema in the
 * input when there is one (so the fuzzer steers both), then a fixed set of
 * instances of every type, an event among them.
 *
 * Invariants: a failed compile says why; validation is deterministic;
 * errors are NUL-terminated with a pointer "" or starting with "/". */
#include "fuzz.h"

#include "jsonschema.h"

static const char *const instances[] = {
    "{\"uid\":\"a0237613-828d-4bce-8a7e-b1f686915d31\",\"context\":\"integrações\","
    "\"event_type\":\"INSERT\",\"client\":\"Client_A\",\"created_at\":\"2024-09-10T17:15:19Z\","
    "\"n\":[1,2.5,-3e2,{\"a\":null}],\"_src\":{\"topic\":\"t\",\"partition\":0,\"offset\":1}}",
    "[1,\"1\",true,null,{},[],1.0,\"a\"]",
    "\"2024-09-10T04:17:09.0247241-03:00\"",
    "-12.5",
    "7",
    "null",
    "false",
    "{}",
};

static cJSON *fixed[sizeof(instances) / sizeof(instances[0])];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (!(fixed[i] = cJSON_Parse(instances[i])))
			abort();
	return 0;
}

static void validate(const jsonschema *s, const cJSON *v)
{
	struct jsonschema_error e1, e2;

	memset(&e1, 0x55, sizeof(e1));
	bool ok = jsonschema_validate(s, v, &e1);
	FUZZ_CHECK(jsonschema_validate(s, v, &e2) == ok);
	if (ok)
		return;
	FUZZ_CHECK_STR(e1.pointer);
	FUZZ_CHECK_STR(e1.keyword);
	FUZZ_CHECK_STR(e1.message);
	FUZZ_CHECK(e1.pointer[0] == '\0' || e1.pointer[0] == '/');
	FUZZ_CHECK(strcmp(e1.pointer, e2.pointer) == 0 && strcmp(e1.keyword, e2.keyword) == 0 &&
	           strcmp(e1.message, e2.message) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *end = NULL;
	char err[512];
	cJSON *doc, *inst = NULL;
	jsonschema *s;

	doc = cJSON_ParseWithLengthOpts((const char *)data, size, &end, false);
	if (!doc)
		return 0;
	if (end && end < (const char *)data + size)
		inst = cJSON_ParseWithLength(end, (size_t)((const char *)data + size - end));

	err[0] = '\0';
	s = jsonschema_compile(doc, "urn:fuzz:schema", NULL, err, sizeof(err));
	/* The schema is borrowed: nothing may point into it afterwards. */
	cJSON_Delete(doc);
	if (!s) {
		FUZZ_CHECK_STR(err);
		FUZZ_CHECK(err[0] != '\0');
		cJSON_Delete(inst);
		return 0;
	}
	if (inst)
		validate(s, inst);
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		validate(s, fixed[i]);
	jsonschema_free(s);
	cJSON_Delete(inst);
	return 0;
}
