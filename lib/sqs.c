/* SQS's JSON 1.0 API: what route and retry need.
 *
 * Design notes
 * - Bodies are built as text with strbuf (the messages are already JSON
 *   text and go in as strings); answers are read with cJSON.
 * - Queue URLs are identifiers: they are taken verbatim from GetQueueUrl
 *   and sent back as they are, while requests always go to the configured
 *   endpoint (the stand-ins' URLs name hosts that do not resolve).
 * - Batch entry Ids are the entry's index, so an answer maps back to
 *   entries without a search and without trusting the order of the lists.
 * - An answer that mentions an entry in neither Successful nor Failed is
 *   read as a retryable failure of that entry: nothing is assumed
 *   delivered that SQS did not confirm.
 * - MessageDeduplicationId and MessageGroupId allow 128 characters of
 *   alphanumerics and punctuation; any other value is replaced by its
 *   SHA-256 in hex, which is stable (a replay gets the same id) and fits. */
#include "sqs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sigv4.h"
#include "strbuf.h"

int sqs_submit(struct awsreq_client *c, const char *op, char *body, size_t body_len,
               unsigned delay_ms, awsreq_done_fn *done, void *arg, char *errstr,
               size_t errstr_size)
{
	char target[128];

	snprintf(target, sizeof(target), SQS_TARGET_PREFIX "%s", op);
	return awsreq_submit(c, target, body, body_len, delay_ms, done, arg, errstr, errstr_size);
}

/* --- names, ids, text --------------------------------------------------------- */

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

bool sqs_queue_name_valid(const char *name)
{
	size_t n = strlen(name), stem = n;

	if (n == 0 || n > SQS_QUEUE_NAME_MAX)
		return false;
	if (n > 5 && strcmp(name + n - 5, ".fifo") == 0)
		stem = n - 5;
	for (size_t i = 0; i < stem; i++)
		if (!name_char(name[i]))
			return false;
	return stem > 0;
}

bool sqs_id_valid(const char *s, size_t len)
{
	if (len == 0 || len > SQS_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e) /* letters, digits, punctuation */
			return false;
	return true;
}

void sqs_id(const char *s, size_t len, char out[SQS_ID_MAX + 1])
{
	if (sqs_id_valid(s, len)) {
		memcpy(out, s, len);
		out[len] = '\0';
		return;
	}
	char hex[65];
	if (!sigv4_sha256_hex(s, len, hex))
		snprintf(hex, sizeof(hex), "sha256-unavailable");
	memcpy(out, hex, sizeof(hex));
}

bool sqs_char_allowed(unsigned long cp)
{
	return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
	       (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* Decodes the (valid) UTF-8 sequence at s; *n gets its length. */
static unsigned long decode(const unsigned char *s, size_t left, size_t *n)
{
	if (s[0] < 0x80 || left < 2) {
		*n = 1;
		return s[0];
	}
	if (s[0] < 0xE0) {
		*n = 2;
		return ((unsigned long)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
	}
	if (s[0] < 0xF0 || left < 4) {
		*n = left < 3 ? left : 3;
		return ((unsigned long)(s[0] & 0x0F) << 12) | ((unsigned long)(s[1] & 0x3F) << 6) |
		       (left > 2 ? (s[2] & 0x3F) : 0);
	}
	*n = 4;
	return ((unsigned long)(s[0] & 0x07) << 18) | ((unsigned long)(s[1] & 0x3F) << 12) |
	       ((unsigned long)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
}

/* Kept as they are: what both AWS and fauxqs take in a message. */
static bool safe_char(unsigned long cp)
{
	return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
	       (cp >= 0xE000 && cp <= 0xFFFD);
}

char *sqs_json_safe(const char *text, size_t len, size_t *out_len, bool *failed)
{
	const unsigned char *s = (const unsigned char *)text;
	struct strbuf b = STRBUF_INIT;
	size_t i = 0, run = 0, n;

	*failed = false;
	while (i < len) {
		if (s[i] >= 0x20 && s[i] < 0x80) { /* the common case */
			i++;
			continue;
		}
		unsigned long cp = decode(s + i, len - i, &n);
		if (safe_char(cp)) {
			i += n;
			continue;
		}
		if (!b.data && !strbuf_reserve(&b, len + 16))
			break;
		strbuf_add(&b, text + run, i - run);
		if (cp >= 0x10000) {
			cp -= 0x10000;
			strbuf_addf(&b, "\\u%04lx\\u%04lx", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
		} else {
			strbuf_addf(&b, "\\u%04lx", cp);
		}
		i += n;
		run = i;
	}
	if (!b.data && !b.failed)
		return NULL; /* nothing to change */
	strbuf_add(&b, text + run, len - run);
	char *out = strbuf_detach(&b, out_len);
	if (!out)
		*failed = true;
	return out;
}

bool sqs_error_no_queue(const char *error_type)
{
	return strcmp(error_type, "QueueDoesNotExist") == 0 ||
	       strcmp(error_type, "AWS.SimpleQueueService.NonExistentQueue") == 0 ||
	       strcmp(error_type, "NonExistentQueue") == 0;
}

bool sqs_entry_error(const char *error_type)
{
	static const char *const codes[] = {
		"InvalidMessageContents", "InvalidParameterValue", "MessageTooLong",
		"BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong", NULL,
	};
	for (const char *const *c = codes; *c; c++)
		if (strcmp(error_type, *c) == 0)
			return true;
	return false;
}

/* --- JSON helpers ----------------------------------------------------------------- */

static void add_string(struct strbuf *b, const char *s, size_t len)
{
	strbuf_addc(b, '"');
	strbuf_add_json_escaped(b, s, len);
	strbuf_addc(b, '"');
}

static void add_member(struct strbuf *b, const char *name, const char *value)
{
	strbuf_addc(b, '"');
	strbuf_adds(b, name);
	strbuf_adds(b, "\":");
	add_string(b, value, strlen(value));
}

static cJSON *parse_object(const char *body, size_t len, const char *what, char *errstr,
                           size_t errstr_size)
{
	cJSON *doc = cJSON_ParseWithLength(body, len);

	if (!cJSON_IsObject(doc)) {
		snprintf(errstr, errstr_size, "the %s answer is not a JSON object", what);
		cJSON_Delete(doc);
		return NULL;
	}
	return doc;
}

/* The entry index an Id names ("0".."9"), or -1. */
static int entry_index(const cJSON *id, size_t n)
{
	if (!cJSON_IsString(id))
		return -1;
	const char *s = id->valuestring;
	if (s[0] < '0' || s[0] > '9' || s[1] != '\0')
		return -1;
	int i = s[0] - '0';
	return (size_t)i < n ? i : -1;
}

static void copy_string(char *out, size_t size, const cJSON *v)
{
	snprintf(out, size, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

/* A failed entry's Code or Message: server text, on its way to log lines. */
static void copy_text(char *out, size_t size, const cJSON *v)
{
	const char *t = cJSON_IsString(v) ? v->valuestring : "";
	awsreq_clean_text(t, strlen(t), out, size);
}

/* --- GetQueueUrl and the cache ------------------------------------------------------ */

char *sqs_get_queue_url_body(const char *name, size_t *len)
{
	struct strbuf b = STRBUF_INIT;

	strbuf_addc(&b, '{');
	add_member(&b, "QueueName", name);
	strbuf_addc(&b, '}');
	return strbuf_detach(&b, len);
}

char *sqs_parse_queue_url(const char *body, size_t len, char *errstr, size_t errstr_size)
{
	cJSON *doc = parse_object(body, len, "GetQueueUrl", errstr, errstr_size);
	char *url = NULL;

	if (!doc)
		return NULL;
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(doc, "QueueUrl");
	if (!cJSON_IsString(u) || !u->valuestring[0])
		snprintf(errstr, errstr_size, "the GetQueueUrl answer has no QueueUrl");
	else if (!(url = strdup(u->valuestring)))
		snprintf(errstr, errstr_size, "out of memory");
	cJSON_Delete(doc);
	return url;
}

struct sqs_queue *sqs_queues_get(struct sqs_queues *qs, const char *name)
{
	struct sqs_queue *q;

	for (q = qs->list; q; q = q->next)
		if (strcmp(q->name, name) == 0)
			return q;
	q = calloc(1, sizeof(*q));
	if (!q || !(q->name = strdup(name))) {
		free(q);
		return NULL;
	}
	if (!sqs_queue_name_valid(name)) {
		q->state = SQS_QUEUE_MISSING;
		snprintf(q->error, sizeof(q->error), "'%s' is not a valid queue name", name);
	}
	q->owner = qs;
	q->next = qs->list;
	qs->list = q;
	return q;
}

/* The lookup's context is the queue itself, which the cache owns: a tool
 * that stops with a lookup still unanswered (its client freed, the
 * callback never called) leaves nothing behind. */
static void on_queue_url(void *arg, const struct awsreq_result *res)
{
	struct sqs_queue *q = arg;
	struct sqs_queues *qs = q->owner;
	char errstr[256];

	free(q->url);
	q->url = NULL;
	q->cls = res->cls;
	if (res->cls == AWSREQ_OK) {
		q->url = sqs_parse_queue_url(res->body, res->body_len, errstr, sizeof(errstr));
		if (q->url) {
			q->state = SQS_QUEUE_READY;
			q->error[0] = '\0';
		} else {
			q->state = SQS_QUEUE_UNKNOWN;
			snprintf(q->error, sizeof(q->error), "SQS GetQueueUrl %s: %s", q->name, errstr);
		}
	} else if (res->cls == AWSREQ_MISSING || sqs_error_no_queue(res->error_type)) {
		q->state = SQS_QUEUE_MISSING;
		snprintf(q->error, sizeof(q->error), "SQS queue %s does not exist (%s)", q->name,
		         res->error_type);
	} else {
		q->state = SQS_QUEUE_UNKNOWN;
		snprintf(q->error, sizeof(q->error), "%s", res->summary);
	}
	if (qs->changed)
		qs->changed(qs->arg, q);
}

int sqs_queues_lookup(struct sqs_queues *qs, struct sqs_queue *q, unsigned delay_ms, char *errstr,
                      size_t errstr_size)
{
	size_t len;
	char *body = sqs_get_queue_url_body(q->name, &len);

	if (!body) {
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	q->owner = qs;
	if (sqs_submit(qs->client, "GetQueueUrl", body, len, delay_ms, on_queue_url, q, errstr,
	               errstr_size) < 0)
		return -1;
	q->state = SQS_QUEUE_ASKING;
	return 0;
}

void sqs_queue_forget(struct sqs_queue *q)
{
	free(q->url);
	q->url = NULL;
	q->state = SQS_QUEUE_UNKNOWN;
}

void sqs_queues_clear(struct sqs_queues *qs)
{
	while (qs->list) {
		struct sqs_queue *q = qs->list;
		qs->list = q->next;
		free(q->name);
		free(q->url);
		free(q);
	}
}

/* --- SendMessageBatch ---------------------------------------------------------------- */

int sqs_batch_init(struct sqs_batch *b, const char *queue_url)
{
	memset(b, 0, sizeof(*b));
	b->queue_url = strdup(queue_url);
	return b->queue_url ? 0 : -1;
}

void sqs_batch_clear(struct sqs_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		free(b->e[i].body);
	free(b->queue_url);
	memset(b, 0, sizeof(*b));
}

int sqs_batch_add(struct sqs_batch *b, const char *body, size_t body_len, const char *dedup_id,
                  const char *group_id)
{
	if (body_len > SQS_MESSAGE_MAX_BYTES)
		return SQS_TOO_LARGE;
	if (b->n >= SQS_BATCH_MAX || b->bytes + body_len > SQS_BATCH_MAX_BYTES)
		return SQS_BATCH_FULL;
	struct sqs_entry *e = &b->e[b->n];
	if (!(e->body = malloc(body_len + 1)))
		return -1;
	memcpy(e->body, body, body_len);
	e->body[body_len] = '\0';
	e->body_len = body_len;
	snprintf(e->dedup_id, sizeof(e->dedup_id), "%s", dedup_id ? dedup_id : "");
	snprintf(e->group_id, sizeof(e->group_id), "%s", group_id ? group_id : "");
	b->bytes += body_len;
	return (int)b->n++;
}

char *sqs_batch_body(const struct sqs_batch *b, size_t *len)
{
	struct strbuf s = STRBUF_INIT;

	if (!strbuf_reserve(&s, b->bytes + b->bytes / 8 + 512 + strlen(b->queue_url)))
		return NULL;
	strbuf_addc(&s, '{');
	add_member(&s, "QueueUrl", b->queue_url);
	strbuf_adds(&s, ",\"Entries\":[");
	for (size_t i = 0; i < b->n; i++) {
		const struct sqs_entry *e = &b->e[i];
		strbuf_addf(&s, "%s{\"Id\":\"%zu\",\"MessageBody\":", i ? "," : "", i);
		add_string(&s, e->body, e->body_len);
		if (e->dedup_id[0]) {
			strbuf_addc(&s, ',');
			add_member(&s, "MessageDeduplicationId", e->dedup_id);
		}
		if (e->group_id[0]) {
			strbuf_addc(&s, ',');
			add_member(&s, "MessageGroupId", e->group_id);
		}
		strbuf_addc(&s, '}');
	}
	strbuf_adds(&s, "]}");
	return strbuf_detach(&s, len);
}

int sqs_batch_results(const struct sqs_batch *b, const char *body, size_t len,
                      struct sqs_result res[SQS_BATCH_MAX], char *errstr, size_t errstr_size)
{
	cJSON *doc = parse_object(body, len, "SendMessageBatch", errstr, errstr_size);
	bool seen[SQS_BATCH_MAX] = {false};
	const cJSON *it;
	int failed = 0;

	memset(res, 0, SQS_BATCH_MAX * sizeof(*res));
	if (!doc)
		return -1;
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(doc, "Successful");
	const cJSON *bad = cJSON_GetObjectItemCaseSensitive(doc, "Failed");
	if ((ok && !cJSON_IsArray(ok) && !cJSON_IsNull(ok)) ||
	    (bad && !cJSON_IsArray(bad) && !cJSON_IsNull(bad))) {
		snprintf(errstr, errstr_size, "the SendMessageBatch answer's lists are not arrays");
		cJSON_Delete(doc);
		return -1;
	}
	cJSON_ArrayForEach(it, ok)
	{
		int i = entry_index(cJSON_GetObjectItemCaseSensitive(it, "Id"), b->n);
		if (i < 0 || seen[i])
			continue;
		seen[i] = true;
		res[i].ok = true;
		copy_string(res[i].message_id, sizeof(res[i].message_id),
		            cJSON_GetObjectItemCaseSensitive(it, "MessageId"));
	}
	cJSON_ArrayForEach(it, bad)
	{
		int i = entry_index(cJSON_GetObjectItemCaseSensitive(it, "Id"), b->n);
		if (i < 0)
			continue;
		/* Failed wins over Successful should an answer list both. */
		seen[i] = true;
		res[i].ok = false;
		res[i].message_id[0] = '\0';
		res[i].sender_fault = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "SenderFault"));
		copy_text(res[i].code, sizeof(res[i].code), cJSON_GetObjectItemCaseSensitive(it, "Code"));
		copy_text(res[i].message, sizeof(res[i].message),
		          cJSON_GetObjectItemCaseSensitive(it, "Message"));
	}
	for (size_t i = 0; i < b->n; i++) {
		if (!seen[i]) {
			snprintf(res[i].code, sizeof(res[i].code), "Missing");
			snprintf(res[i].message, sizeof(res[i].message),
			         "the entry is in neither Successful nor Failed of the answer");
		}
		if (!res[i].ok)
			failed++;
	}
	cJSON_Delete(doc);
	return failed;
}

/* --- ReceiveMessage -------------------------------------------------------------------- */

char *sqs_receive_body(const char *queue_url, int max, int wait_s, int visibility_s,
                       size_t *len)
{
	struct strbuf b = STRBUF_INIT;

	strbuf_addc(&b, '{');
	add_member(&b, "QueueUrl", queue_url);
	strbuf_addf(&b, ",\"MaxNumberOfMessages\":%d,\"WaitTimeSeconds\":%d", max, wait_s);
	if (visibility_s >= 0)
		strbuf_addf(&b, ",\"VisibilityTimeout\":%d", visibility_s);
	/* AttributeNames is the older name of MessageSystemAttributeNames;
	 * AWS takes both, and older stand-ins know only the first. */
	strbuf_adds(&b, ",\"AttributeNames\":[\"ApproximateReceiveCount\",\"SentTimestamp\"]"
	                ",\"MessageSystemAttributeNames\":[\"ApproximateReceiveCount\","
	                "\"SentTimestamp\"]}");
	return strbuf_detach(&b, len);
}

/* A number attribute: SQS sends them as strings of decimal digits ("3");
 * a JSON number is taken too. -1 for anything else (absent, negative, signs,
 * blanks, fractions, NaN). A value over max reads as max when saturate
 * (a count: "very many" is still true), else as -1 (a timestamp past the
 * year 9999 means nothing). max must be below LLONG_MAX / 10. */
static long long attr_number(const cJSON *attrs, const char *name, long long max, bool saturate)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(attrs, name);
	long long n = 0;

	if (cJSON_IsString(v)) {
		const char *s = v->valuestring;
		if (!*s)
			return -1;
		for (; *s; s++) {
			if (*s < '0' || *s > '9')
				return -1;
			if (n <= max) /* past max it only has to stay past it */
				n = n * 10 + (*s - '0');
		}
	} else if (cJSON_IsNumber(v) && v->valuedouble >= 0) { /* NaN fails this */
		/* compared before the cast: casting a huge double (or infinity)
		 * is undefined behaviour (the fuzzer found it) */
		n = v->valuedouble > (double)max ? max + 1 : (long long)v->valuedouble;
	} else {
		return -1;
	}
	if (n > max)
		return saturate ? max : -1;
	return n;
}

void sqs_messages_free(struct sqs_message *msgs, size_t n)
{
	if (!msgs)
		return;
	for (size_t i = 0; i < n; i++) {
		free(msgs[i].message_id);
		free(msgs[i].receipt_handle);
		free(msgs[i].body);
	}
	free(msgs);
}

int sqs_receive_parse(const char *body, size_t len, struct sqs_message **msgs, size_t *n,
                      char *errstr, size_t errstr_size)
{
	cJSON *doc = parse_object(body, len, "ReceiveMessage", errstr, errstr_size);
	const cJSON *m;

	*msgs = NULL;
	*n = 0;
	if (!doc)
		return -1;
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "Messages");
	if (list && !cJSON_IsArray(list) && !cJSON_IsNull(list)) {
		snprintf(errstr, errstr_size, "Messages in the ReceiveMessage answer is not an array");
		cJSON_Delete(doc);
		return -1;
	}
	int count = cJSON_GetArraySize(list);
	if (count == 0) {
		cJSON_Delete(doc);
		return 0;
	}
	struct sqs_message *out = calloc((size_t)count, sizeof(*out));
	if (!out) {
		snprintf(errstr, errstr_size, "out of memory");
		cJSON_Delete(doc);
		return -1;
	}
	size_t k = 0;
	cJSON_ArrayForEach(m, list)
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "MessageId");
		const cJSON *rh = cJSON_GetObjectItemCaseSensitive(m, "ReceiptHandle");
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(m, "Body");
		if (!cJSON_IsString(id) || !cJSON_IsString(rh) || !cJSON_IsString(b)) {
			snprintf(errstr, errstr_size,
			         "a message of the ReceiveMessage answer lacks MessageId, "
			         "ReceiptHandle or Body");
			sqs_messages_free(out, k);
			cJSON_Delete(doc);
			return -1;
		}
		struct sqs_message *o = &out[k++];
		o->message_id = strdup(id->valuestring);
		o->receipt_handle = strdup(rh->valuestring);
		o->body = strdup(b->valuestring);
		o->body_len = o->body ? strlen(o->body) : 0;
		const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(m, "Attributes");
		long long rc = attr_number(attrs, "ApproximateReceiveCount", SQS_RECEIVE_COUNT_MAX, true);
		long long sent = attr_number(attrs, "SentTimestamp", SQS_TIMESTAMP_MAX, false);
		o->receive_count = rc > 0 ? (long)rc : 0;
		o->sent_ms = sent > 0 ? sent : 0;
		if (!o->message_id || !o->receipt_handle || !o->body) {
			snprintf(errstr, errstr_size, "out of memory");
			sqs_messages_free(out, k);
			cJSON_Delete(doc);
			return -1;
		}
	}
	cJSON_Delete(doc);
	*msgs = out;
	*n = k;
	return 0;
}

/* --- deleting, visibility, counts ------------------------------------------------------ */

char *sqs_delete_body(const char *queue_url, const char *receipt_handle, size_t *len)
{
	struct strbuf b = STRBUF_INIT;

	strbuf_addc(&b, '{');
	add_member(&b, "QueueUrl", queue_url);
	strbuf_addc(&b, ',');
	add_member(&b, "ReceiptHandle", receipt_handle);
	strbuf_addc(&b, '}');
	return strbuf_detach(&b, len);
}

char *sqs_delete_batch_body(const char *queue_url, const char *const *receipt_handles, size_t n,
                            size_t *len)
{
	struct strbuf b = STRBUF_INIT;

	strbuf_addc(&b, '{');
	add_member(&b, "QueueUrl", queue_url);
	strbuf_adds(&b, ",\"Entries\":[");
	for (size_t i = 0; i < n; i++) {
		strbuf_addf(&b, "%s{\"Id\":\"%zu\",", i ? "," : "", i);
		add_member(&b, "ReceiptHandle", receipt_handles[i]);
		strbuf_addc(&b, '}');
	}
	strbuf_adds(&b, "]}");
	return strbuf_detach(&b, len);
}

int sqs_delete_batch_results(const char *body, size_t len, size_t n, bool failed[SQS_BATCH_MAX],
                             char *errstr, size_t errstr_size)
{
	cJSON *doc = parse_object(body, len, "DeleteMessageBatch", errstr, errstr_size);
	bool ok[SQS_BATCH_MAX] = {false};
	const cJSON *it;
	int count = 0;

	for (size_t i = 0; i < SQS_BATCH_MAX; i++)
		failed[i] = false;
	if (!doc)
		return -1;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "Successful"))
	{
		int i = entry_index(cJSON_GetObjectItemCaseSensitive(it, "Id"), n);
		if (i >= 0)
			ok[i] = true;
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "Failed"))
	{
		int i = entry_index(cJSON_GetObjectItemCaseSensitive(it, "Id"), n);
		if (i >= 0)
			ok[i] = false;
	}
	for (size_t i = 0; i < n && i < SQS_BATCH_MAX; i++) {
		failed[i] = !ok[i];
		count += failed[i];
	}
	cJSON_Delete(doc);
	return count;
}

char *sqs_change_visibility_body(const char *queue_url, const char *receipt_handle,
                                 unsigned seconds, size_t *len)
{
	struct strbuf b = STRBUF_INIT;

	strbuf_addc(&b, '{');
	add_member(&b, "QueueUrl", queue_url);
	strbuf_addc(&b, ',');
	add_member(&b, "ReceiptHandle", receipt_handle);
	strbuf_addf(&b, ",\"VisibilityTimeout\":%u}", seconds);
	return strbuf_detach(&b, len);
}

char *sqs_queue_counts_body(const char *queue_url, size_t *len)
{
	struct strbuf b = STRBUF_INIT;

	strbuf_addc(&b, '{');
	add_member(&b, "QueueUrl", queue_url);
	strbuf_adds(&b, ",\"AttributeNames\":[\"ApproximateNumberOfMessages\","
	                "\"ApproximateNumberOfMessagesNotVisible\","
	                "\"ApproximateNumberOfMessagesDelayed\"]}");
	return strbuf_detach(&b, len);
}

int sqs_parse_queue_counts(const char *body, size_t len, long *visible, long *inflight,
                           long *delayed, char *errstr, size_t errstr_size)
{
	cJSON *doc = parse_object(body, len, "GetQueueAttributes", errstr, errstr_size);

	if (!doc)
		return -1;
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(doc, "Attributes");
	if (!cJSON_IsObject(a)) {
		snprintf(errstr, errstr_size, "the GetQueueAttributes answer has no Attributes");
		cJSON_Delete(doc);
		return -1;
	}
	*visible = (long)attr_number(a, "ApproximateNumberOfMessages", SQS_RECEIVE_COUNT_MAX, true);
	*inflight = (long)attr_number(a, "ApproximateNumberOfMessagesNotVisible",
	                              SQS_RECEIVE_COUNT_MAX, true);
	*delayed = (long)attr_number(a, "ApproximateNumberOfMessagesDelayed", SQS_RECEIVE_COUNT_MAX,
	                             true);
	cJSON_Delete(doc);
	return 0;
}
