/* The event of the seed's schema as the stages store and send it, defined
 * once for persist, route and retry: the DynamoDB item persist writes (and
 * retry writes again), the message route sends to the client's queue (and
 * retry sends again), and the envelope of a message in retry.fifo.
 * docs/persist.md, docs/route.md and docs/retry.md explain the choices. */
#ifndef EP_EVENT_H
#define EP_EVENT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "sqs.h"

#define EVENT_KEY_ATTR "UUID"
#define EVENT_UID_MAX 2048 /* DynamoDB's limit on a partition key */

/* --- what persist stores ------------------------------------------------------ */

/* Checks the event's fields (uid, context, event_type, client, created_at:
 * strings; uid not empty, at most 2048 bytes) and builds its item:
 * UUID, Context, EventType, Client, CreatedAt, all strings, the values
 * exactly as the event has them. On success returns 0 with *uid and *item
 * set (caller frees both; *item_len the item's length). On failure returns
 * -1 with *code ("missing_field", "too_large", "no_memory") and reason set,
 * and nothing to free. */
int event_item(const cJSON *obj, char **uid, char **item, size_t *item_len, const char **code,
               char *reason, size_t reason_size);

/* --- what route sends ---------------------------------------------------------- */

/* The text of a JSON object (one record line) without its top-level
 * members whose keys start with "_": the members kept are copied byte for
 * byte, joined by ",". Returns the new text (caller frees; *out_len its
 * length), or NULL when the text is not a JSON object or out of memory. */
char *event_strip_meta(const char *text, size_t len, size_t *out_len);

/* How messages of a client's queue are grouped (MessageGroupId). */
enum event_group_by {
	EVENT_GROUP_CLIENT, /* group = client: one ordered lane per queue (the seed's) */
	EVENT_GROUP_UID,    /* group = uid: no order between events, most throughput */
};

/* "client" or "uid" to the policy; -1 for anything else. */
int event_group_by_parse(const char *s, enum event_group_by *out);
const char *event_group_by_name(enum event_group_by g);

/* A message for a client's queue. */
struct event_message {
	char *body; /* the event without "_" members, made safe for SQS */
	size_t body_len;
	char queue[SQS_QUEUE_NAME_MAX + 1]; /* "<client>.fifo" */
	char dedup_id[SQS_ID_MAX + 1];      /* uid (or its SHA-256 when not a valid id) */
	char group_id[SQS_ID_MAX + 1];      /* by the policy */
};

/* Builds the message for the event whose record is text[0..len), parsed
 * as obj. Returns 0, or -1 with *code and reason set: "missing_field" (no
 * string uid or client), "no_queue" (the client names no valid queue),
 * "too_large" (over SQS's 1 MiB), "no_memory". Release with
 * event_message_clear() (also after a failure). */
int event_client_message(const char *text, size_t len, const cJSON *obj, enum event_group_by g,
                         struct event_message *m, const char **code, char *reason,
                         size_t reason_size);
void event_message_clear(struct event_message *m);

/* --- the envelope of retry.fifo and of the DLQ after retries -------------------- */

/* {"event":<event>,"attempts":<attempts>,"errors":[<error>,…]}: event is
 * the JSON text of the event (without "_" members), errors[i] the JSON
 * text of an object each (attempt i+1's error). Returns the text (caller
 * frees), NULL when out of memory. */
char *event_envelope(const char *event, size_t event_len, int attempts, const char *const *errors,
                     const size_t *error_lens, size_t nerrors, size_t *len);

/* An envelope read back: spans point into the text it was read from. */
struct event_envelope {
	const char *event;  /* the event's JSON text */
	size_t event_len;
	int attempts;       /* attempts made before the envelope was sent */
	size_t nerrors;
	const char **errors; /* each error's JSON text (malloc'ed array of spans) */
	size_t *error_lens;
};

/* Reads an envelope from body[0..len). Returns 0 (release with
 * event_envelope_clear()), or -1 with reason set when the text is not one
 * (an object with an object "event" and a whole number "attempts" >= 0;
 * "errors", when there, an array of objects). */
int event_envelope_parse(const char *body, size_t len, struct event_envelope *env, char *reason,
                         size_t reason_size);
void event_envelope_clear(struct event_envelope *env);

/* An error object's text with "attempt":n as its first member:
 * {"stage":…} -> {"attempt":n,"stage":…}. Caller frees; NULL when out of
 * memory or when the text is not an object. */
char *event_error_with_attempt(const char *error, size_t len, int n, size_t *out_len);

/* The text of the value of top-level member key of the JSON object
 * text[0..len), or NULL when there is none (*vlen its length). */
const char *event_member(const char *text, size_t len, const char *key, size_t *vlen);

/* text[0..len) without its top-level member key (every occurrence), or
 * NULL when it has none or out of memory (*failed tells which). Caller
 * frees. */
char *event_without_member(const char *text, size_t len, const char *key, size_t *out_len,
                           bool *failed);

#endif
