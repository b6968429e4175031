/* Any bytes as the JSON text route and retry take apart without a parser
 * (lib/event.c's scanner; not in issue 7's list, but outside input all the
 * same): event_strip_meta() and event_client_message() on a record line, as
 * route sends it to a client's queue; event_envelope_parse() on a
 * retry.fifo message body; event_error_with_attempt() on an error object.
 *
 * Invariants, for text that record_parse() accepts as an object: the text
 * without "_" members is that object without them, the message for a
 * client is that text made safe for SQS with a valid queue name and ids;
 * an envelope's event and errors are the spans cJSON sees; an error with
 * its attempt is still an object.
 *
 * Text that cJSON takes but JSON does not (a control byte between tokens,
 * "\u" without four hex digits, …) is left out of the checks unless
 * FUZZ_STRICT_JSON is set (fuzz/pending/README.md). */
#include "fuzz.h"

#include "event.h"
#include "sqs.h"

/* cJSON's unformatted print of v; caller frees with cJSON_free(). */
static char *print(const cJSON *v)
{
	char *s = cJSON_PrintUnformatted(v);
	FUZZ_CHECK(s != NULL);
	return s;
}

static void check_same(const cJSON *v, const char *text, size_t len)
{
	cJSON *w = cJSON_ParseWithLength(text, len);
	FUZZ_CHECK(w != NULL);
	char *a = print(v), *b = print(w);
	FUZZ_CHECK(strcmp(a, b) == 0);
	cJSON_free(a);
	cJSON_free(b);
	cJSON_Delete(w);
}

static void strip_meta(const char *text, size_t len, cJSON *obj)
{
	size_t n = 0;
	char *out = event_strip_meta(text, len, &n);

	if (!obj) {
		free(out);
		return;
	}
	FUZZ_CHECK(out != NULL);
	/* the object without its "_" members, as cJSON sees it */
	cJSON *want = cJSON_Duplicate(obj, true);
	FUZZ_CHECK(want != NULL);
	for (cJSON *c = want->child, *next; c; c = next) {
		next = c->next;
		if (c->string && c->string[0] == '_')
			cJSON_Delete(cJSON_DetachItemViaPointer(want, c));
	}
	check_same(want, out, n);
	cJSON_Delete(want);
	free(out);
}

static void client_message(const char *text, size_t len, const cJSON *obj)
{
	struct event_message m;
	const char *code = NULL;
	char reason[256];

	for (int g = EVENT_GROUP_CLIENT; g <= EVENT_GROUP_UID; g++) {
		memset(&m, 0, sizeof(m));
		if (event_client_message(text, len, obj, (enum event_group_by)g, &m, &code, reason,
		                         sizeof(reason)) == 0) {
			FUZZ_CHECK(m.body && strlen(m.body) == m.body_len);
			cJSON *body = cJSON_ParseWithLength(m.body, m.body_len);
			FUZZ_CHECK(cJSON_IsObject(body));
			cJSON_Delete(body);
			FUZZ_CHECK(sqs_queue_name_valid(m.queue));
			FUZZ_CHECK(sqs_id_valid(m.dedup_id, strlen(m.dedup_id)));
			FUZZ_CHECK(sqs_id_valid(m.group_id, strlen(m.group_id)));
		} else {
			FUZZ_CHECK(code != NULL);
			FUZZ_CHECK_STR(reason);
			FUZZ_CHECK(strcmp(code, "no_memory") != 0);
		}
		event_message_clear(&m);
	}
}

static void envelope(const char *text, size_t len, const cJSON *doc)
{
	struct event_envelope env;
	char reason[256];

	if (event_envelope_parse(text, len, &env, reason, sizeof(reason)) < 0) {
		FUZZ_CHECK_STR(reason);
		return;
	}
	FUZZ_CHECK(env.event && env.attempts >= 0);
	if (doc) {
		/* the spans are the members cJSON read */
		check_same(cJSON_GetObjectItemCaseSensitive(doc, "event"), env.event,
		           env.event_len);
		const cJSON *er = cJSON_GetObjectItemCaseSensitive(doc, "errors");
		FUZZ_CHECK(env.nerrors == (size_t)cJSON_GetArraySize(er));
		for (size_t i = 0; i < env.nerrors; i++)
			check_same(cJSON_GetArrayItem(er, (int)i), env.errors[i],
			           env.error_lens[i]);
	}
	event_envelope_clear(&env);
}

static void error_with_attempt(const char *text, size_t len, const cJSON *obj)
{
	size_t n = 0;
	char *out = event_error_with_attempt(text, len, 3, &n);

	if (obj) {
		FUZZ_CHECK(out != NULL);
		cJSON *w = cJSON_ParseWithLength(out, n);
		FUZZ_CHECK(cJSON_IsObject(w) && w->child &&
		           strcmp(w->child->string, "attempt") == 0);
		FUZZ_CHECK(cJSON_GetArraySize(w) == cJSON_GetArraySize(obj) + 1);
		cJSON_Delete(w);
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct record_line line = {.data = text, .len = size, .lineno = 1};
	enum record_fault fault;
	char reason[256];

	/* As route gets it: a record line, parsed by record_parse(). */
	cJSON *obj = record_parse(&line, true, &fault, reason, sizeof(reason));
	bool checked = obj && fuzz_json_checkable(text, size);
	cJSON *ok = checked ? obj : NULL;

	strip_meta(text, size, ok);
	if (ok)
		client_message(text, size, ok);
	envelope(text, size, ok);
	error_with_attempt(text, size, ok);
	cJSON_Delete(obj);
	return 0;
}
