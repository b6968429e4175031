/* The event as stored and sent, once for every stage.
 *
 * Design notes
 * - Texts are kept, not re-printed: a message body is the record's own
 *   text with the "_" members cut out, and an envelope's event is spliced
 *   in as text, so numbers, key order and escapes stay as the producer
 *   wrote them. The small scanner below walks JSON text that cJSON has
 *   already accepted; it only needs to find where values begin and end.
 * - The item attribute names are the seed's (UUID, Context, EventType,
 *   Client, CreatedAt), so the service that reads the table later finds
 *   what it expects. */
#include "event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynamodb.h"
#include "record.h"
#include "strbuf.h"

/* --- a scanner for JSON text ------------------------------------------------- */

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

/* p at '"': past the closing quote, or NULL. */
static const char *skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* Past the value at p, or NULL. */
static const char *skip_value(const char *p, const char *end)
{
	if (p >= end)
		return NULL;
	if (*p == '"')
		return skip_string(p, end);
	if (*p == '{' || *p == '[') {
		size_t depth = 0;
		while (p < end) {
			if (*p == '"') {
				if (!(p = skip_string(p, end)))
					return NULL;
				continue;
			}
			if (*p == '{' || *p == '[')
				depth++;
			else if ((*p == '}' || *p == ']') && --depth == 0)
				return p + 1;
			p++;
		}
		return NULL;
	}
	const char *s = p;
	while (p < end && !strchr(",}] \t\r\n", *p))
		p++;
	return p > s ? p : NULL;
}

struct member {
	const char *key; /* the key as written, without its quotes */
	size_t key_len;
	const char *start; /* the key's opening quote */
	const char *value;
	const char *end;   /* past the value */
};

/* *pp just inside an object or after a member's comma. Returns 1 with *m
 * filled, 0 at the closing brace (*pp on it), -1 on malformed text. */
static int next_member(const char **pp, const char *end, struct member *m)
{
	const char *p = skip_ws(*pp, end);

	if (p < end && *p == '}') {
		*pp = p;
		return 0;
	}
	if (p >= end || *p != '"')
		return -1;
	m->start = p;
	const char *k = skip_string(p, end);
	if (!k)
		return -1;
	m->key = p + 1;
	m->key_len = (size_t)(k - p - 2);
	p = skip_ws(k, end);
	if (p >= end || *p != ':')
		return -1;
	m->value = skip_ws(p + 1, end);
	if (!(m->end = skip_value(m->value, end)))
		return -1;
	p = skip_ws(m->end, end);
	if (p < end && *p == ',')
		p++;
	else if (p >= end || *p != '}')
		return -1;
	*pp = p;
	return 1;
}

/* Just inside the object that text is, or NULL. */
static const char *object_start(const char *text, size_t len)
{
	const char *p = skip_ws(text, text + len);
	return p < text + len && *p == '{' ? p + 1 : NULL;
}

static bool meta_key(const struct member *m)
{
	/* "_x", or the same written with an escape: "\u005fx" */
	return (m->key_len > 0 && m->key[0] == '_') ||
	       (m->key_len >= 6 && (strncmp(m->key, "\\u005f", 6) == 0 ||
	                            strncmp(m->key, "\\u005F", 6) == 0));
}

const char *event_member(const char *text, size_t len, const char *key, size_t *vlen)
{
	/* one member finder for the tree: record.c's, which also reads a name
	 * written with escapes */
	return record_member(text, len, key, vlen, NULL);
}

char *event_strip_meta(const char *text, size_t len, size_t *out_len)
{
	const char *p = object_start(text, len), *end = text + len;
	struct strbuf b = STRBUF_INIT;
	struct member m;
	bool first = true;
	int rc;

	if (!p || !strbuf_reserve(&b, len))
		return NULL;
	strbuf_addc(&b, '{');
	while ((rc = next_member(&p, end, &m)) == 1) {
		if (meta_key(&m))
			continue;
		if (!first)
			strbuf_addc(&b, ',');
		strbuf_add(&b, m.start, (size_t)(m.end - m.start));
		first = false;
	}
	if (rc < 0) {
		strbuf_release(&b);
		return NULL;
	}
	strbuf_addc(&b, '}');
	return strbuf_detach(&b, out_len);
}

char *event_without_member(const char *text, size_t len, const char *key, size_t *out_len,
                           bool *failed)
{
	const char *p = object_start(text, len), *end = text + len;
	struct strbuf b = STRBUF_INIT;
	struct member m;
	size_t klen = strlen(key);
	bool first = true, found = false;
	int rc;

	*failed = false;
	if (!p)
		return NULL;
	strbuf_addc(&b, '{');
	while ((rc = next_member(&p, end, &m)) == 1) {
		if (m.key_len == klen && memcmp(m.key, key, klen) == 0) {
			found = true;
			continue;
		}
		if (!first)
			strbuf_addc(&b, ',');
		strbuf_add(&b, m.start, (size_t)(m.end - m.start));
		first = false;
	}
	if (rc < 0 || !found) {
		strbuf_release(&b);
		return NULL;
	}
	strbuf_addc(&b, '}');
	char *out = strbuf_detach(&b, out_len);
	*failed = out == NULL;
	return out;
}

/* --- the item ---------------------------------------------------------------- */

/* The event's fields that become the item's attributes, in the seed's
 * names. */
static const struct {
	const char *field, *attr;
} attrs[] = {
	{"uid", EVENT_KEY_ATTR},
	{"context", "Context"},
	{"event_type", "EventType"},
	{"client", "Client"},
	{"created_at", "CreatedAt"},
};
#define NATTRS (sizeof(attrs) / sizeof(attrs[0]))

int event_item(const cJSON *obj, char **uid, char **item, size_t *item_len, const char **code,
               char *reason, size_t reason_size)
{
	struct dynamodb_attr a[NATTRS];
	size_t item_size;

	*uid = *item = NULL;
	for (size_t i = 0; i < NATTRS; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, attrs[i].field);
		if (!v) {
			*code = "missing_field";
			snprintf(reason, reason_size, "%s: missing (needed for the DynamoDB item)",
			         attrs[i].field);
			return -1;
		}
		if (!cJSON_IsString(v)) {
			*code = "missing_field";
			snprintf(reason, reason_size, "%s: not a string", attrs[i].field);
			return -1;
		}
		a[i].name = attrs[i].attr;
		a[i].value = v->valuestring;
		a[i].value_len = strlen(v->valuestring);
	}
	if (a[0].value_len == 0) {
		*code = "missing_field";
		snprintf(reason, reason_size, "uid: empty (DynamoDB keys cannot be empty)");
		return -1;
	}
	if (a[0].value_len > EVENT_UID_MAX) {
		*code = "too_large";
		snprintf(reason, reason_size, "uid: %zu bytes, over DynamoDB's 2048-byte key limit",
		         a[0].value_len);
		return -1;
	}
	*item = dynamodb_item_json(a, NATTRS, item_len, &item_size);
	*uid = strdup(a[0].value);
	if (!*item || !*uid) {
		*code = "no_memory";
		snprintf(reason, reason_size, "out of memory");
		goto fail;
	}
	if (item_size > DYNAMODB_ITEM_MAX_BYTES) {
		*code = "too_large";
		snprintf(reason, reason_size, "the item is %zu bytes, over DynamoDB's %d-byte limit",
		         item_size, DYNAMODB_ITEM_MAX_BYTES);
		goto fail;
	}
	return 0;
fail:
	free(*item);
	free(*uid);
	*uid = *item = NULL;
	return -1;
}

/* --- the client's message ------------------------------------------------------ */

int event_group_by_parse(const char *s, enum event_group_by *out)
{
	if (strcmp(s, "client") == 0)
		*out = EVENT_GROUP_CLIENT;
	else if (strcmp(s, "uid") == 0)
		*out = EVENT_GROUP_UID;
	else
		return -1;
	return 0;
}

const char *event_group_by_name(enum event_group_by g)
{
	return g == EVENT_GROUP_UID ? "uid" : "client";
}

void event_message_clear(struct event_message *m)
{
	free(m->body);
	memset(m, 0, sizeof(*m));
}

int event_client_message(const char *text, size_t len, const cJSON *obj, enum event_group_by g,
                         struct event_message *m, const char **code, char *reason,
                         size_t reason_size)
{
	const cJSON *uid = cJSON_GetObjectItemCaseSensitive(obj, "uid");
	const cJSON *client = cJSON_GetObjectItemCaseSensitive(obj, "client");
	size_t n;
	bool failed;

	memset(m, 0, sizeof(*m));
	if (!cJSON_IsString(uid) || !uid->valuestring[0] || !cJSON_IsString(client)) {
		*code = "missing_field";
		snprintf(reason, reason_size, "%s: missing, empty or not a string",
		         cJSON_IsString(uid) && uid->valuestring[0] ? "client" : "uid");
		return -1;
	}
	n = strlen(client->valuestring);
	if (n + 5 > SQS_QUEUE_NAME_MAX ||
	    (snprintf(m->queue, sizeof(m->queue), "%s.fifo", client->valuestring),
	     !sqs_queue_name_valid(m->queue))) {
		*code = "no_queue";
		snprintf(reason, reason_size,
		         "client: \"%.100s\" names no SQS queue (a queue name is 1-75 of A-Z a-z "
		         "0-9 - _ before .fifo)",
		         client->valuestring);
		m->queue[0] = '\0';
		return -1;
	}
	char *body = event_strip_meta(text, len, &m->body_len);
	if (!body) {
		*code = "no_memory";
		snprintf(reason, reason_size, "out of memory");
		return -1;
	}
	char *safe = sqs_json_safe(body, m->body_len, &n, &failed);
	if (failed) {
		free(body);
		*code = "no_memory";
		snprintf(reason, reason_size, "out of memory");
		return -1;
	}
	if (safe) {
		free(body);
		body = safe;
		m->body_len = n;
	}
	m->body = body;
	if (m->body_len > SQS_MESSAGE_MAX_BYTES) {
		*code = "too_large";
		snprintf(reason, reason_size, "the message is %zu bytes, over SQS's %d-byte limit",
		         m->body_len, SQS_MESSAGE_MAX_BYTES);
		return -1;
	}
	sqs_id(uid->valuestring, strlen(uid->valuestring), m->dedup_id);
	if (g == EVENT_GROUP_CLIENT)
		sqs_id(client->valuestring, strlen(client->valuestring), m->group_id);
	else
		memcpy(m->group_id, m->dedup_id, sizeof(m->group_id));
	return 0;
}

/* --- envelopes ------------------------------------------------------------------- */

char *event_envelope(const char *event, size_t event_len, int attempts, const char *const *errors,
                     const size_t *error_lens, size_t nerrors, size_t *len)
{
	struct strbuf b = STRBUF_INIT;

	strbuf_adds(&b, "{\"event\":");
	strbuf_add(&b, event, event_len);
	strbuf_addf(&b, ",\"attempts\":%d,\"errors\":[", attempts);
	for (size_t i = 0; i < nerrors; i++) {
		if (i)
			strbuf_addc(&b, ',');
		strbuf_add(&b, errors[i], error_lens[i]);
	}
	strbuf_adds(&b, "]}");
	return strbuf_detach(&b, len);
}

void event_envelope_clear(struct event_envelope *env)
{
	if (!env)
		return;
	free(env->errors);
	free(env->error_lens);
	memset(env, 0, sizeof(*env));
}

int event_envelope_parse(const char *body, size_t len, struct event_envelope *env, char *reason,
                         size_t reason_size)
{
	size_t vlen;
	const char *v;

	memset(env, 0, sizeof(*env));
	/* retry.fifo is outside the trust boundary: its messages are read by
	 * the same I-JSON rules as records, so an event with a repeated name
	 * ("client" twice) cannot be checked by one value and delivered with
	 * another. */
	const struct record_line whole = {.data = body, .len = len};
	enum record_fault fault;
	char why[256];
	cJSON *doc = record_parse(&whole, true, &fault, why, sizeof(why));
	if (!doc) {
		snprintf(reason, reason_size, "the message is not a JSON object: %s", why);
		goto fail;
	}
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(doc, "event");
	const cJSON *at = cJSON_GetObjectItemCaseSensitive(doc, "attempts");
	const cJSON *er = cJSON_GetObjectItemCaseSensitive(doc, "errors");
	if (!cJSON_IsObject(ev)) {
		snprintf(reason, reason_size, "the message has no \"event\" object");
		goto fail;
	}
	if (!cJSON_IsNumber(at) || at->valuedouble < 0 || at->valuedouble > 1e6 ||
	    at->valuedouble != (double)(int)at->valuedouble) {
		snprintf(reason, reason_size, "the message's \"attempts\" is not a whole number >= 0");
		goto fail;
	}
	if (er && !cJSON_IsArray(er)) {
		snprintf(reason, reason_size, "the message's \"errors\" is not an array");
		goto fail;
	}
	env->attempts = (int)at->valuedouble;
	env->event = event_member(body, len, "event", &env->event_len);
	if (!env->event) {
		snprintf(reason, reason_size, "the message's \"event\" cannot be found in its text");
		goto fail;
	}
	/* the errors, as spans of the text */
	v = event_member(body, len, "errors", &vlen);
	size_t n = (size_t)cJSON_GetArraySize(er);
	if (n > 0 && v) {
		env->errors = calloc(n, sizeof(*env->errors));
		env->error_lens = calloc(n, sizeof(*env->error_lens));
		if (!env->errors || !env->error_lens) {
			snprintf(reason, reason_size, "out of memory");
			goto fail;
		}
		const char *p = skip_ws(v + 1, v + vlen), *end = v + vlen;
		while (p < end && *p != ']' && env->nerrors < n) {
			const char *e = skip_value(p, end);
			if (!e || *p != '{') {
				snprintf(reason, reason_size, "the message's \"errors\" are not all objects");
				goto fail;
			}
			env->errors[env->nerrors] = p;
			env->error_lens[env->nerrors++] = (size_t)(e - p);
			p = skip_ws(e, end);
			if (p < end && *p == ',')
				p = skip_ws(p + 1, end);
		}
	}
	cJSON_Delete(doc);
	return 0;
fail:
	cJSON_Delete(doc);
	event_envelope_clear(env);
	return -1;
}

char *event_error_with_attempt(const char *error, size_t len, int n, size_t *out_len)
{
	const char *p = object_start(error, len), *end = error + len;
	struct strbuf b = STRBUF_INIT;

	if (!p)
		return NULL;
	const char *rest = skip_ws(p, end);
	strbuf_addf(&b, "{\"attempt\":%d", n);
	if (rest < end && *rest != '}')
		strbuf_addc(&b, ',');
	strbuf_add(&b, rest, (size_t)(end - rest));
	return strbuf_detach(&b, out_len);
}
