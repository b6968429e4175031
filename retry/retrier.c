/* retry's engine (docs/retry.md).
 *
 * - Attempts are counted by SQS, not by us: a message arrives in
 *   retry.fifo saying how many attempts were made before
 *   ("attempts", 1 from the pipeline), and ApproximateReceiveCount says how
 *   often it has been received since. The first receive only waits (the
 *   backoff before the first retry, by ChangeMessageVisibility); receive n
 *   (n >= 2) is attempt attempts + n - 1. A crash, a timeout or a lost
 *   answer therefore never buys an event more attempts than --max-attempts:
 *   an attempt whose outcome was not seen still counts.
 * - The backoff is the message's visibility: after a failed attempt the
 *   message is made invisible for the delay (ChangeMessageVisibility) and
 *   forgotten; SQS hands it back when the delay is over. Nothing sleeps, so
 *   other messages keep flowing, and a crash loses nothing: the message is
 *   still in retry.fifo. SQS counts visibility in whole seconds, so delays
 *   are rounded up to the next second.
 * - One attempt: the event's item is written to the table (BatchWriteItem,
 *   unprocessed items sent again), then the event is sent to its client's
 *   queue (deduplicated by uid: an earlier send that got through after all
 *   is dropped by SQS), then the message is deleted. The item and the
 *   message are built by lib/event.c, as persist and route build them.
 * - Each attempt's error is remembered in memory by MessageId, for the DLQ
 *   message after the last attempt ({"event","attempts","errors"}). After a
 *   restart the errors of earlier attempts made here are unknown and said
 *   to be so; their number is still right.
 * - A failure no retry can cure (the event has no usable fields, its client
 *   names no queue, SQS refuses the message) sends the event to the DLQ at
 *   once. A message that is not a retry envelope goes to the DLQ as it is.
 * - The message is deleted only after the client's queue or the DLQ
 *   accepted the event. */
#include "retrier.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "backoff.h"
#include "dynamodb.h"
#include "log.h"
#include "sqs.h"
#include "strbuf.h"

#define HIST_BUCKETS 4096

enum step { STEP_NONE, STEP_STORE, STEP_WAIT_QUEUE, STEP_SEND, STEP_DLQ, STEP_DELETE, STEP_HIDE };

struct retrier;

struct msg {
	struct retrier *rt;
	struct msg *next, *prev;   /* the messages in hand */
	struct msg *wait_next;     /* waiting for a queue's URL */
	struct sqs_message m;
	struct event_envelope env;
	bool env_ok;
	enum step step;
	int attempt;               /* this attempt's number */
	char *uid;
	char *item;
	size_t item_len;
	struct event_message em;
	int store_sends;
	struct sqs_queue *dest;    /* the client's queue */
	struct dynamodb_batch db;
	struct sqs_batch sb;
};

/* The errors of the attempts made here, by MessageId. */
struct hist {
	struct hist *next;
	char *id;
	char **err;                /* err[k]: attempt k's error, 1 <= k <= max_attempts */
	size_t *len;
	uint64_t touched_ms;
};

struct retrier {
	struct awsreq_client *sqs, *ddb, *poll;
	struct retrier_options opt;
	struct backoff backoff;
	struct sqs_queues queues;
	struct sqs_queue *queue, *dlq;
	unsigned queue_failures;
	struct msg *msgs;
	unsigned busy;
	bool receiving, polling_stopped, counting, finished;
	unsigned receive_failures;
	uint64_t next_receive_ms;
	struct hist *hist[HIST_BUCKETS];
	bool fatal_set;
	char fatal[1024];
	int fatal_status;          /* EX_UNAVAILABLE, or EX_CONFIG: table or queue missing */
	struct retrier_stats stats;
	char last_warning[512];
	unsigned long repeats;
};

static void msg_store(struct msg *mg);
static void msg_send(struct msg *mg);
static void msg_dlq(struct msg *mg, int made);

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static long long wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Stops the daemon: EX_UNAVAILABLE (AWS refused, or is not what answers),
 * EX_CONFIG (the table, retry.fifo or the DLQ does not exist). */
static void set_fatal_status(struct retrier *rt, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_fatal_status(struct retrier *rt, int status, const char *fmt, ...)
{
	va_list ap;

	if (rt->fatal_set)
		return;
	rt->fatal_set = true;
	rt->fatal_status = status;
	va_start(ap, fmt);
	vsnprintf(rt->fatal, sizeof(rt->fatal), fmt, ap);
	va_end(ap);
}

#define set_fatal(rt, ...) set_fatal_status((rt), EX_UNAVAILABLE, __VA_ARGS__)

static void flush_repeats(struct retrier *rt)
{
	if (rt->repeats > 0)
		log_warnx("(the warning above was repeated %lu more time%s)", rt->repeats,
		          rt->repeats == 1 ? "" : "s");
	rt->repeats = 0;
}

/* Before a warning of another kind: the count of the repeated one goes
 * out first, so that it follows the line it counts, and that line is said
 * again when it comes back. */
static void end_repeats(struct retrier *rt)
{
	flush_repeats(rt);
	rt->last_warning[0] = '\0';
}

/* Identical warnings in a row (an outage fails every request alike) are
 * counted, not repeated. */
static void warn_failure(struct retrier *rt, const char *summary)
{
	if (rt->opt.quiet)
		return;
	if (log_alike(rt->last_warning, summary, sizeof(rt->last_warning) - 1)) {
		if (++rt->repeats % 1000 == 0)
			flush_repeats(rt);
		return;
	}
	flush_repeats(rt);
	snprintf(rt->last_warning, sizeof(rt->last_warning), "%s", summary);
	log_warnx("%s", summary);
}

unsigned retrier_delay_ms(unsigned base_ms, unsigned max_ms, int k, double random01)
{
	uint64_t c = base_ms;

	for (int i = 1; i < k && c < max_ms; i++)
		c *= 2;
	if (c > max_ms)
		c = max_ms;
	return (unsigned)((double)c / 2.0 + random01 * ((double)c / 2.0));
}

/* Visibility is in whole seconds: a delay is rounded up. */
static unsigned to_seconds(long long ms)
{
	if (ms <= 0)
		return 0;
	long long s = (ms + 999) / 1000;
	return s > SQS_VISIBILITY_MAX ? SQS_VISIBILITY_MAX : (unsigned)s;
}

/* --- history ------------------------------------------------------------------ */

static size_t hist_hash(const char *id)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)id; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	return (size_t)(h % HIST_BUCKETS);
}

static void hist_free(struct hist *h)
{
	for (size_t k = 0; h->err && k <= h->len[0]; k++)
		free(h->err[k]);
	free(h->err);
	free(h->len);
	free(h->id);
	free(h);
}

static struct hist *hist_find(struct retrier *rt, const char *id)
{
	for (struct hist *h = rt->hist[hist_hash(id)]; h; h = h->next)
		if (strcmp(h->id, id) == 0)
			return h;
	return NULL;
}

/* Remembers attempt k's error. len[0] holds the size of the arrays - 1. */
static void hist_add(struct retrier *rt, const char *id, int k, const char *err, size_t len)
{
	struct hist *h = hist_find(rt, id);
	size_t n = (size_t)rt->opt.max_attempts + 1;

	if (k < 1 || k > rt->opt.max_attempts)
		return;
	if (!h) {
		h = calloc(1, sizeof(*h));
		if (!h)
			return;
		h->id = strdup(id);
		h->err = calloc(n, sizeof(*h->err));
		h->len = calloc(n, sizeof(*h->len));
		if (!h->id || !h->err || !h->len) {
			free(h->id);
			free(h->err);
			free(h->len);
			free(h);
			return; /* forgotten: the DLQ message will say "unknown" */
		}
		h->len[0] = n - 1;
		size_t b = hist_hash(id);
		h->next = rt->hist[b];
		rt->hist[b] = h;
	}
	free(h->err[k]);
	h->err[k] = malloc(len + 1);
	if (h->err[k]) {
		memcpy(h->err[k], err, len);
		h->err[k][len] = '\0';
		h->len[k] = len;
	}
	h->touched_ms = now_ms();
}

static void hist_del(struct retrier *rt, const char *id)
{
	for (struct hist **pp = &rt->hist[hist_hash(id)], *h; (h = *pp); pp = &h->next) {
		if (strcmp(h->id, id) == 0) {
			*pp = h->next;
			hist_free(h);
			return;
		}
	}
}

void retrier_prune(struct retrier *rt)
{
	/* Long after any message of ours would have come back. */
	uint64_t horizon = 10ULL * ((uint64_t)rt->opt.max_delay_ms + 1000ULL * (uint64_t)rt->opt.visibility_s);
	uint64_t now = now_ms();

	if (horizon < 600000)
		horizon = 600000;
	for (size_t b = 0; b < HIST_BUCKETS; b++) {
		for (struct hist **pp = &rt->hist[b], *h; (h = *pp);) {
			if (now > h->touched_ms + horizon) {
				*pp = h->next;
				hist_free(h);
			} else {
				pp = &h->next;
			}
		}
	}
}

/* --- messages -------------------------------------------------------------------- */

static void msg_free(struct msg *mg)
{
	free(mg->m.message_id);
	free(mg->m.receipt_handle);
	free(mg->m.body);
	event_envelope_clear(&mg->env);
	event_message_clear(&mg->em);
	dynamodb_batch_clear(&mg->db);
	sqs_batch_clear(&mg->sb);
	free(mg->uid);
	free(mg->item);
	free(mg);
}

/* Finished with: the message was deleted, or left to come back. */
static void msg_done(struct msg *mg)
{
	struct retrier *rt = mg->rt;

	if (mg->prev)
		mg->prev->next = mg->next;
	else
		rt->msgs = mg->next;
	if (mg->next)
		mg->next->prev = mg->prev;
	rt->busy--;
	msg_free(mg);
}

/* Credentials refused (every request will be), access denied, a
 * certificate that does not verify, an answer that is not the service's
 * (a proxy's 302 or 404, after awsreq's retries), retry.fifo or the DLQ
 * missing: a verdict on the requests, never on the message, and waiting
 * cannot cure it. The daemon stops (exit 69, or 78 for what is missing)
 * and main says why, once. The message in hand stays in the queue and
 * comes back after its visibility timeout, for the next daemon to finish. */
static bool stop_if_refused(struct retrier *rt, const struct awsreq_result *res)
{
	if (!awsreq_class_stops(res->cls))
		return false;
	if (res->cls == AWSREQ_MISSING)
		set_fatal_status(rt, EX_CONFIG, "%s", res->summary);
	else
		set_fatal(rt, "%s", res->summary);
	return true;
}

static void on_deleted(void *arg, const struct awsreq_result *res)
{
	struct msg *mg = arg;
	struct retrier *rt = mg->rt;

	if (stop_if_refused(rt, res)) {
		/* delivered, not deleted: done again, idempotently, later */
	} else if (res->cls != AWSREQ_OK) {
		/* It comes back and is done again: the store and the send are
		 * idempotent (same item; SQS drops the duplicate by its id). */
		warn_failure(rt, res->summary);
	} else {
		hist_del(rt, mg->m.message_id);
	}
	msg_done(mg);
}

static void msg_delete(struct msg *mg)
{
	struct retrier *rt = mg->rt;
	char errstr[256];
	size_t len;
	char *body = sqs_delete_body(rt->queue->url, mg->m.receipt_handle, &len);

	mg->step = STEP_DELETE;
	if (!body || sqs_submit(rt->sqs, "DeleteMessage", body, len, 0, on_deleted, mg, errstr,
	                        sizeof(errstr)) < 0) {
		set_fatal(rt, "out of memory");
		msg_done(mg);
	}
}

static void on_hidden(void *arg, const struct awsreq_result *res)
{
	struct msg *mg = arg;

	/* Failed: it comes back when the receive's visibility ends instead. */
	if (!stop_if_refused(mg->rt, res) && res->cls != AWSREQ_OK)
		warn_failure(mg->rt, res->summary);
	msg_done(mg);
}

/* Makes the message invisible for secs and lets it go: SQS hands it back
 * for the next attempt. */
static void msg_hide(struct msg *mg, unsigned secs)
{
	struct retrier *rt = mg->rt;
	char errstr[256];
	size_t len;
	char *body = sqs_change_visibility_body(rt->queue->url, mg->m.receipt_handle, secs, &len);

	mg->step = STEP_HIDE;
	if (!body || sqs_submit(rt->sqs, "ChangeMessageVisibility", body, len, 0, on_hidden, mg,
	                        errstr, sizeof(errstr)) < 0) {
		set_fatal(rt, "out of memory");
		msg_done(mg);
	}
}

/* {"attempt":k,"stage":…,"code":…,"reason":…,"retryable":…} */
static char *error_json(int k, const char *stage, const char *code, const char *reason,
                        bool retryable, size_t *len)
{
	struct strbuf b = STRBUF_INIT;

	strbuf_addf(&b, "{\"attempt\":%d,\"stage\":\"%s\",\"code\":\"", k, stage);
	strbuf_add_json_escaped(&b, code, strlen(code));
	strbuf_adds(&b, "\",\"reason\":\"");
	strbuf_add_json_escaped(&b, reason, strlen(reason));
	strbuf_addf(&b, "\",\"retryable\":%s}", retryable ? "true" : "false");
	return strbuf_detach(&b, len);
}

/* This attempt failed: remember why; back off, or give up. */
static void msg_failed(struct msg *mg, const char *stage, const char *code, const char *reason,
                       bool retryable)
{
	struct retrier *rt = mg->rt;
	size_t len;
	char *err = error_json(mg->attempt, stage, code, reason, retryable, &len);

	if (err)
		hist_add(rt, mg->m.message_id, mg->attempt, err, len);
	free(err);
	if (!retryable || mg->attempt >= rt->opt.max_attempts) {
		if (!retryable) {
			end_repeats(rt);
			log_warnx("event %s: attempt %d: %s (not retryable)", mg->uid ? mg->uid : "?",
			          mg->attempt, reason);
		}
		msg_dlq(mg, mg->attempt);
		return;
	}
	rt->stats.failed++;
	rt->stats.backoffs++;
	unsigned ms = retrier_delay_ms(rt->opt.base_delay_ms, rt->opt.max_delay_ms, mg->attempt,
	                               backoff_random(&rt->backoff));
	unsigned secs = to_seconds(ms);
	log_debug("event %s: attempt %d of %d failed: %s; next in %u s", mg->uid ? mg->uid : "?",
	          mg->attempt, rt->opt.max_attempts, reason, secs);
	msg_hide(mg, secs);
}

/* --- the DLQ ------------------------------------------------------------------------- */

static void on_dlq_sent(void *arg, const struct awsreq_result *res)
{
	struct msg *mg = arg;
	struct retrier *rt = mg->rt;
	struct sqs_result r[SQS_BATCH_MAX];
	char errstr[256];

	if (res->cls == AWSREQ_OK &&
	    sqs_batch_results(&mg->sb, res->body, res->body_len, r, errstr, sizeof(errstr)) == 0) {
		rt->stats.to_dlq++;
		msg_delete(mg);
		return;
	}
	/* Left in retry.fifo: it comes back (counted past the last attempt)
	 * and goes to the DLQ again. */
	if (stop_if_refused(rt, res)) {
		/* said once, at exit */
	} else if (res->cls != AWSREQ_OK) {
		warn_failure(rt, res->summary);
	} else {
		end_repeats(rt);
		log_warnx("SQS SendMessageBatch to %s: %s: %s", rt->dlq->name, r[0].code, r[0].message);
	}
	msg_done(mg);
}

static void send_dlq(struct msg *mg, char *body, size_t len)
{
	struct retrier *rt = mg->rt;
	char errstr[256], id[SQS_ID_MAX + 1], group[SQS_ID_MAX + 1], key[300];
	size_t n, blen;
	bool failed;
	char *safe = sqs_json_safe(body, len, &n, &failed);

	if (failed) {
		free(body);
		set_fatal(rt, "out of memory");
		msg_done(mg);
		return;
	}
	if (safe) {
		free(body);
		body = safe;
		len = n;
	}
	/* The same message sent again (the delete was lost) is dropped. */
	snprintf(key, sizeof(key), "dlq:%s", mg->m.message_id);
	sqs_id(key, strlen(key), id);
	if (mg->uid)
		sqs_id(mg->uid, strlen(mg->uid), group);
	else
		sqs_id(mg->m.message_id, strlen(mg->m.message_id), group);
	mg->step = STEP_DLQ;
	sqs_batch_clear(&mg->sb);
	char *req = NULL;
	if (sqs_batch_init(&mg->sb, rt->dlq->url) == 0 &&
	    sqs_batch_add(&mg->sb, body, len, id, group) == 0)
		req = sqs_batch_body(&mg->sb, &blen);
	free(body);
	if (!req || sqs_submit(rt->sqs, "SendMessageBatch", req, blen, 0, on_dlq_sent, mg, errstr,
	                       sizeof(errstr)) < 0) {
		set_fatal(rt, "out of memory, or a DLQ message over SQS's limit");
		msg_done(mg);
	}
}

/* A message that is not a retry envelope (code "bad_message"), or whose
 * event the schema refuses ("schema"): to the DLQ as it is, with why. */
static void msg_dlq_bad(struct msg *mg, const char *code, const char *why)
{
	struct retrier *rt = mg->rt;
	struct strbuf b = STRBUF_INIT;
	size_t len;

	rt->stats.bad++;
	end_repeats(rt);
	if (strcmp(code, "schema") == 0)
		log_warnx("message %s in %s: the event is not valid (%s): to %s", mg->m.message_id,
		          rt->queue->name, why, rt->dlq->name);
	else
		log_warnx("message %s in %s is not a retry envelope (%s): to %s", mg->m.message_id,
		          rt->queue->name, why, rt->dlq->name);
	strbuf_adds(&b, "{\"_raw\":\"");
	size_t keep = mg->m.body_len;
	if (keep > SQS_MESSAGE_MAX_BYTES / 2) /* escaping may double it */
		keep = SQS_MESSAGE_MAX_BYTES / 2;
	strbuf_add_json_escaped(&b, mg->m.body, keep);
	strbuf_adds(&b, keep < mg->m.body_len ? "\",\"_raw_truncated\":true" : "\"");
	strbuf_adds(&b, ",\"_error\":{\"stage\":\"retry\",\"code\":\"");
	strbuf_adds(&b, code);
	strbuf_adds(&b, "\",\"reason\":\"");
	strbuf_add_json_escaped(&b, why, strlen(why));
	strbuf_adds(&b, "\",\"retryable\":false}}");
	char *body = strbuf_detach(&b, &len);
	if (!body) {
		set_fatal(rt, "out of memory");
		msg_done(mg);
		return;
	}
	send_dlq(mg, body, len);
}

/* After `made` attempts: {"event":…,"attempts":made,"errors":[…]} with
 * every attempt's error, the pipeline's first (from the envelope), then
 * those made here (remembered, or said to be unknown). */
static void msg_dlq(struct msg *mg, int made)
{
	struct retrier *rt = mg->rt;
	struct hist *h = hist_find(rt, mg->m.message_id);
	size_t n = mg->env.nerrors + (size_t)(made > mg->env.attempts ? made - mg->env.attempts : 0);
	const char **errs = calloc(n + 1, sizeof(*errs));
	size_t *lens = calloc(n + 1, sizeof(*lens));
	char **owned = calloc(n + 1, sizeof(*owned));
	size_t k = 0, len;
	char *body = NULL;

	if (!errs || !lens || !owned)
		goto out;
	for (size_t i = 0; i < mg->env.nerrors; i++, k++) {
		errs[k] = mg->env.errors[i];
		lens[k] = mg->env.error_lens[i];
	}
	for (int a = mg->env.attempts + 1; a <= made; a++, k++) {
		if (h && a <= rt->opt.max_attempts && h->err[a]) {
			errs[k] = h->err[a];
			lens[k] = h->len[a];
			continue;
		}
		owned[k] = error_json(a, "retry", "unknown",
		                      "no record of how this attempt ended (the retry process that "
		                      "made it stopped, or its answer was lost)",
		                      true, &lens[k]);
		if (!owned[k])
			goto out;
		errs[k] = owned[k];
	}
	body = event_envelope(mg->env.event, mg->env.event_len, made, errs, lens, k, &len);
	if (body && len > SQS_MESSAGE_MAX_BYTES && k > 1) {
		/* Only the last error, when all of them make it too long. */
		free(body);
		body = event_envelope(mg->env.event, mg->env.event_len, made, errs + k - 1, lens + k - 1,
		                      1, &len);
	}
out:
	for (size_t i = 0; owned && i <= n; i++)
		free(owned[i]);
	free(owned);
	free(errs);
	free(lens);
	if (!body) {
		set_fatal(rt, "out of memory");
		msg_done(mg);
		return;
	}
	end_repeats(rt);
	log_warnx("event %s: to %s after %d attempt%s", mg->uid ? mg->uid : "?", rt->dlq->name, made,
	          made == 1 ? "" : "s");
	send_dlq(mg, body, len);
}

/* --- storing ----------------------------------------------------------------------- */

static void on_stored(void *arg, const struct awsreq_result *res)
{
	struct msg *mg = arg;
	struct retrier *rt = mg->rt;
	bool unprocessed[DYNAMODB_BATCH_MAX_ITEMS];
	char errstr[256], reason[1024];

	if (res->cls == AWSREQ_OK) {
		int n = dynamodb_batch_unprocessed(&mg->db, res->body, res->body_len, EVENT_KEY_ATTR,
		                                   unprocessed, errstr, sizeof(errstr));
		if (n == 0) {
			msg_send(mg);
			return;
		}
		if (mg->store_sends < rt->opt.store_attempts) {
			msg_store(mg); /* the same item again, after a backoff */
			return;
		}
		if (n < 0)
			snprintf(reason, sizeof(reason), "DynamoDB BatchWriteItem: HTTP 200, but %s", errstr);
		else
			snprintf(reason, sizeof(reason),
			         "DynamoDB BatchWriteItem left the item unprocessed %d times", mg->store_sends);
		msg_failed(mg, "persist", n < 0 ? "server_error" : "unprocessed", reason, true);
		return;
	}
	if (res->cls == AWSREQ_CLIENT && dynamodb_item_error(res->error_type)) {
		/* the item itself refused (over 400 KB, say): no retry cures it */
		warn_failure(rt, res->summary);
		msg_failed(mg, "persist", "rejected", res->summary, false);
		return;
	}
	if (res->cls == AWSREQ_MISSING) {
		set_fatal_status(rt, EX_CONFIG, "DynamoDB table %s does not exist: %s", rt->opt.table,
		                 res->summary);
		msg_done(mg); /* it comes back; the daemon stops */
		return;
	}
	if (stop_if_refused(rt, res) || res->cls == AWSREQ_CLIENT) {
		/* about the request, not the event: the event stays in retry.fifo */
		set_fatal(rt, "%s", res->summary);
		msg_done(mg); /* it comes back; the daemon stops */
		return;
	}
	warn_failure(rt, res->summary);
	msg_failed(mg, "persist", awsreq_class_name(res->cls), res->summary, res->retryable);
}

static void msg_store(struct msg *mg)
{
	struct retrier *rt = mg->rt;
	char errstr[256];
	size_t len;
	unsigned delay = 0;

	mg->step = STEP_STORE;
	if (mg->store_sends > 0)
		delay = backoff_delay_ms(&rt->backoff, (unsigned)(mg->store_sends - 1));
	mg->store_sends++;
	char *body = dynamodb_batch_body(&mg->db, &len);
	if (!body || dynamodb_submit(rt->ddb, "BatchWriteItem", body, len, delay, on_stored, mg,
	                             errstr, sizeof(errstr)) < 0) {
		set_fatal(rt, "out of memory");
		msg_done(mg);
	}
}

/* --- sending ------------------------------------------------------------------------- */

static void on_sent(void *arg, const struct awsreq_result *res)
{
	struct msg *mg = arg;
	struct retrier *rt = mg->rt;
	struct sqs_result r[SQS_BATCH_MAX];
	char errstr[256], reason[1024];

	if (res->cls == AWSREQ_OK) {
		int n = sqs_batch_results(&mg->sb, res->body, res->body_len, r, errstr, sizeof(errstr));
		if (n == 0) {
			rt->stats.succeeded++;
			log_debug("event %s: stored and sent to %s at attempt %d", mg->uid, mg->dest->name,
			          mg->attempt);
			msg_delete(mg);
			return;
		}
		if (n < 0)
			snprintf(reason, sizeof(reason), "SQS SendMessageBatch to %s: HTTP 200, but %s",
			         mg->dest->name, errstr);
		else
			snprintf(reason, sizeof(reason), "SQS SendMessageBatch to %s: %s: %s",
			         mg->dest->name, r[0].code, r[0].message);
		bool sender = n > 0 && r[0].sender_fault;
		msg_failed(mg, "route", sender ? "rejected" : "send_failed", reason, !sender);
		return;
	}
	if (res->cls == AWSREQ_MISSING || sqs_error_no_queue(res->error_type)) {
		/* the client's queue: the event's problem, as in route */
		sqs_queue_forget(mg->dest);
		mg->dest->state = SQS_QUEUE_MISSING;
		snprintf(mg->dest->error, sizeof(mg->dest->error), "%s", res->summary);
		msg_failed(mg, "route", "no_queue", res->summary, false);
		return;
	}
	if (res->cls == AWSREQ_CLIENT && sqs_entry_error(res->error_type)) {
		warn_failure(rt, res->summary);
		msg_failed(mg, "route", "rejected", res->summary, false);
		return;
	}
	if (stop_if_refused(rt, res) || res->cls == AWSREQ_CLIENT) {
		set_fatal(rt, "%s", res->summary);
		msg_done(mg);
		return;
	}
	warn_failure(rt, res->summary);
	msg_failed(mg, "route", awsreq_class_name(res->cls), res->summary, res->retryable);
}

static void msg_send(struct msg *mg)
{
	struct retrier *rt = mg->rt;
	char errstr[256];
	size_t len;
	struct sqs_queue *q = mg->dest;

	if (q->state == SQS_QUEUE_MISSING) {
		msg_failed(mg, "route", "no_queue", q->error, false);
		return;
	}
	if (q->state != SQS_QUEUE_READY) {
		/* wait for the URL (route's lookup of the same name) */
		mg->step = STEP_WAIT_QUEUE;
		mg->wait_next = q->user;
		q->user = mg;
		if (q->state == SQS_QUEUE_UNKNOWN &&
		    sqs_queues_lookup(&rt->queues, q, 0, errstr, sizeof(errstr)) < 0)
			set_fatal(rt, "%s", errstr);
		return;
	}
	mg->step = STEP_SEND;
	sqs_batch_clear(&mg->sb);
	char *body = NULL;
	if (sqs_batch_init(&mg->sb, q->url) == 0 &&
	    sqs_batch_add(&mg->sb, mg->em.body, mg->em.body_len, mg->em.dedup_id, mg->em.group_id) == 0)
		body = sqs_batch_body(&mg->sb, &len);
	if (!body || sqs_submit(rt->sqs, "SendMessageBatch", body, len, 0, on_sent, mg, errstr,
	                        sizeof(errstr)) < 0) {
		set_fatal(rt, "out of memory");
		msg_done(mg);
	}
}

/* A queue lookup ended. retry.fifo and the DLQ must exist; for a client's
 * queue the messages waiting for it move on. */
static void on_queue_changed(void *arg, struct sqs_queue *q)
{
	struct retrier *rt = arg;

	if (q == rt->queue || q == rt->dlq) {
		if (q->state == SQS_QUEUE_MISSING) {
			set_fatal_status(rt, EX_CONFIG, "%s", q->error);
		} else if (q->state == SQS_QUEUE_UNKNOWN &&
		           (awsreq_class_stops(q->cls) || q->cls == AWSREQ_CLIENT)) {
			set_fatal(rt, "%s", q->error);
		} else if (q->state == SQS_QUEUE_UNKNOWN) {
			char errstr[256];
			warn_failure(rt, q->error);
			unsigned delay = backoff_delay_ms(&rt->backoff, rt->queue_failures++);
			if (sqs_queues_lookup(&rt->queues, q, delay, errstr, sizeof(errstr)) < 0)
				set_fatal(rt, "%s", errstr);
		} else {
			rt->queue_failures = 0;
		}
		return;
	}
	struct msg *mg = q->user;
	q->user = NULL;
	bool stop = q->state == SQS_QUEUE_UNKNOWN &&
	            (awsreq_class_stops(q->cls) || q->cls == AWSREQ_CLIENT);
	if (stop)
		set_fatal(rt, "%s", q->error); /* said once, at exit */
	else if (q->state == SQS_QUEUE_UNKNOWN)
		warn_failure(rt, q->error);
	/* Oldest first: the list was built by pushing at the head. */
	struct msg *rev = NULL;
	while (mg) {
		struct msg *next = mg->wait_next;
		mg->wait_next = rev;
		rev = mg;
		mg = next;
	}
	for (mg = rev; mg;) {
		struct msg *next = mg->wait_next;
		mg->wait_next = NULL;
		if (stop)
			msg_done(mg); /* it comes back; the daemon stops */
		else if (q->state == SQS_QUEUE_UNKNOWN)
			msg_failed(mg, "route", awsreq_class_name(q->cls), q->error, true);
		else
			msg_send(mg);
		mg = next;
	}
}

/* --- an attempt ---------------------------------------------------------------------- */

static void msg_attempt(struct msg *mg)
{
	struct retrier *rt = mg->rt;
	const char *code;
	char reason[1024];

	rt->stats.attempts++;
	cJSON *ev = cJSON_ParseWithLength(mg->env.event, mg->env.event_len);
	char *uid = NULL;
	/* What persist would store, and what route would send. */
	if (event_item(ev, &uid, &mg->item, &mg->item_len, &code, reason, sizeof(reason)) < 0) {
		cJSON_Delete(ev);
		msg_failed(mg, "persist", code, reason, strcmp(code, "no_memory") == 0);
		return;
	}
	free(mg->uid);
	mg->uid = uid;
	if (event_client_message(mg->env.event, mg->env.event_len, ev, rt->opt.group_by, &mg->em,
	                         &code, reason, sizeof(reason)) < 0) {
		cJSON_Delete(ev);
		msg_failed(mg, "route", code, reason, strcmp(code, "no_memory") == 0);
		return;
	}
	cJSON_Delete(ev);
	mg->dest = sqs_queues_get(&rt->queues, mg->em.queue);
	if (!mg->dest || dynamodb_batch_init(&mg->db, rt->opt.table, 1) < 0 ||
	    dynamodb_batch_put(&mg->db, mg->uid, mg->item, mg->item_len) < 0) {
		set_fatal(rt, "out of memory");
		msg_done(mg);
		return;
	}
	msg_store(mg);
}

/* A message just received: wait, attempt, or give up. */
static void msg_begin(struct msg *mg)
{
	struct retrier *rt = mg->rt;
	char reason[512];

	if (event_envelope_parse(mg->m.body, mg->m.body_len, &mg->env, reason, sizeof(reason)) < 0) {
		msg_dlq_bad(mg, "bad_message", reason);
		return;
	}
	mg->env_ok = true;
	/* the uid, for messages and the DLQ's group, before anything can fail */
	cJSON *ev = cJSON_ParseWithLength(mg->env.event, mg->env.event_len);
	const cJSON *uid = cJSON_GetObjectItemCaseSensitive(ev, "uid");
	if (cJSON_IsString(uid) && uid->valuestring[0])
		mg->uid = strdup(uid->valuestring);
	/* retry.fifo is written by route, but anyone allowed to send to it
	 * could forge an envelope: its event is checked against validate's
	 * schema before anything is stored or any queue name is made from its
	 * client. The "_" members are not the event's (validate takes them
	 * out too); route never sends them, and they are never stored or sent. */
	if (rt->opt.schema) {
		struct jsonschema_error verr;
		for (cJSON *item = ev ? ev->child : NULL, *next; item; item = next) {
			next = item->next;
			if (item->string && item->string[0] == '_')
				cJSON_Delete(cJSON_DetachItemViaPointer(ev, item));
		}
		if (!jsonschema_validate(rt->opt.schema, ev, &verr)) {
			cJSON_Delete(ev);
			msg_dlq_bad(mg, "schema", verr.message);
			return;
		}
	}
	cJSON_Delete(ev);

	if (mg->env.attempts >= rt->opt.max_attempts) {
		msg_dlq(mg, mg->env.attempts);
		return;
	}
	long rc = mg->m.receive_count > 0 ? mg->m.receive_count : 1;
	if (rc == 1) {
		/* The first receive: the backoff before the first retry. */
		unsigned ms = retrier_delay_ms(rt->opt.base_delay_ms, rt->opt.max_delay_ms,
		                               mg->env.attempts, backoff_random(&rt->backoff));
		long long age = mg->m.sent_ms > 0 ? wall_ms() - mg->m.sent_ms : 0;
		rt->stats.deferred++;
		msg_hide(mg, to_seconds((long long)ms - (age > 0 ? age : 0)));
		return;
	}
	/* rc is at most SQS_RECEIVE_COUNT_MAX and attempts at most 10^6
	 * (sqs.h, event.h): the sum is computed wide and compared before it
	 * is narrowed, so a count from the other side cannot overflow it. */
	long long attempt = (long long)mg->env.attempts + rc - 1;
	if (attempt > rt->opt.max_attempts) {
		/* the last attempt's outcome was never seen (or the DLQ send failed) */
		msg_dlq(mg, rt->opt.max_attempts);
		return;
	}
	mg->attempt = (int)attempt;
	msg_attempt(mg);
}

/* --- receiving ------------------------------------------------------------------------ */

static void on_counts(void *arg, const struct awsreq_result *res)
{
	struct retrier *rt = arg;
	long visible = 1, inflight = 1, delayed = 1;
	char errstr[256];

	rt->counting = false;
	stop_if_refused(rt, res);
	if (res->cls == AWSREQ_OK &&
	    sqs_parse_queue_counts(res->body, res->body_len, &visible, &inflight, &delayed, errstr,
	                           sizeof(errstr)) == 0 &&
	    visible == 0 && inflight == 0 && delayed == 0 && rt->busy == 0)
		rt->finished = true;
}

static void on_received(void *arg, const struct awsreq_result *res)
{
	struct retrier *rt = arg;
	struct sqs_message *msgs = NULL;
	size_t n = 0;
	char errstr[256];

	/* Even when stopping: what this receive brings is in hand now (SQS
	 * made it invisible and counted the receive) and is worked on like the
	 * rest, or it would come back only after its visibility timeout with an
	 * attempt spent on nothing. */
	rt->receiving = false;
	if (res->cls != AWSREQ_OK ||
	    sqs_receive_parse(res->body, res->body_len, &msgs, &n, errstr, sizeof(errstr)) < 0) {
		if (res->cls == AWSREQ_OK)
			snprintf(errstr + strlen(errstr), sizeof(errstr) - strlen(errstr), " (%s)",
			         rt->queue->name);
		if (!stop_if_refused(rt, res))
			warn_failure(rt, res->cls == AWSREQ_OK ? errstr : res->summary);
		rt->next_receive_ms = now_ms() + backoff_delay_ms(&rt->backoff, rt->receive_failures++);
		return;
	}
	rt->receive_failures = 0;
	if (n == 0) {
		rt->stats.empty++;
		if (rt->busy == 0 && rt->opt.once) {
			rt->finished = true;
		} else if (rt->busy == 0 && rt->opt.exit_when_empty && !rt->counting &&
		           !rt->polling_stopped) {
			/* Empty now; is anything still invisible (backing off)? */
			size_t len;
			char *body = sqs_queue_counts_body(rt->queue->url, &len);
			rt->counting = body && sqs_submit(rt->sqs, "GetQueueAttributes", body, len, 0,
			                                  on_counts, rt, errstr, sizeof(errstr)) == 0;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct msg *mg = calloc(1, sizeof(*mg));
		if (!mg) {
			set_fatal(rt, "out of memory");
			break;
		}
		mg->rt = rt;
		mg->m = msgs[i];
		memset(&msgs[i], 0, sizeof(msgs[i]));
		mg->next = rt->msgs;
		if (rt->msgs)
			rt->msgs->prev = mg;
		rt->msgs = mg;
		rt->busy++;
		rt->stats.received++;
		msg_begin(mg);
	}
	sqs_messages_free(msgs, n);
}

bool retrier_poll(struct retrier *rt)
{
	char errstr[256];
	size_t len;

	if (rt->receiving || rt->polling_stopped || rt->finished || rt->fatal_set ||
	    !retrier_ready(rt) || rt->counting)
		return rt->receiving;
	if (rt->busy >= rt->opt.inflight || now_ms() < rt->next_receive_ms)
		return false;
	unsigned room = rt->opt.inflight - rt->busy;
	int max = room < SQS_BATCH_MAX ? (int)room : SQS_BATCH_MAX;
	char *body = sqs_receive_body(rt->queue->url, max, rt->opt.wait_s, rt->opt.visibility_s, &len);
	if (!body || sqs_submit(rt->poll, "ReceiveMessage", body, len, 0, on_received, rt, errstr,
	                        sizeof(errstr)) < 0) {
		set_fatal(rt, "out of memory");
		return false;
	}
	rt->receiving = true;
	rt->stats.receives++;
	return true;
}

void retrier_stop_polling(struct retrier *rt)
{
	rt->polling_stopped = true;
}

bool retrier_receiving(const struct retrier *rt)
{
	return rt->receiving;
}

/* --- the rest -------------------------------------------------------------------------- */

struct retrier *retrier_new(struct awsreq_client *sqs, struct awsreq_client *ddb,
                            struct awsreq_client *poll, const struct retrier_options *opt)
{
	struct retrier *rt = calloc(1, sizeof(*rt));

	if (!rt)
		return NULL;
	rt->sqs = sqs;
	rt->ddb = ddb;
	rt->poll = poll;
	rt->opt = *opt;
	if (rt->opt.inflight == 0)
		rt->opt.inflight = 1;
	if (rt->opt.store_attempts < 1)
		rt->opt.store_attempts = 1;
	rt->queues.client = sqs;
	rt->queues.changed = on_queue_changed;
	rt->queues.arg = rt;
	backoff_init(&rt->backoff, 100, 0, opt->seed);
	return rt;
}

void retrier_free(struct retrier *rt)
{
	if (!rt)
		return;
	flush_repeats(rt);
	while (rt->msgs) {
		struct msg *mg = rt->msgs;
		rt->msgs = mg->next;
		msg_free(mg);
	}
	for (size_t b = 0; b < HIST_BUCKETS; b++) {
		while (rt->hist[b]) {
			struct hist *h = rt->hist[b];
			rt->hist[b] = h->next;
			hist_free(h);
		}
	}
	sqs_queues_clear(&rt->queues);
	free(rt);
}

int retrier_start(struct retrier *rt)
{
	char errstr[256];

	rt->queue = sqs_queues_get(&rt->queues, rt->opt.queue);
	rt->dlq = sqs_queues_get(&rt->queues, rt->opt.dlq);
	if (!rt->queue || !rt->dlq)
		return -1;
	struct sqs_queue *qs[2] = {rt->queue, rt->dlq};
	for (int i = 0; i < 2; i++) {
		if (qs[i]->state == SQS_QUEUE_MISSING)
			set_fatal(rt, "%s", qs[i]->error);
		else if (sqs_queues_lookup(&rt->queues, qs[i], 0, errstr, sizeof(errstr)) < 0)
			return -1;
	}
	return 0;
}

bool retrier_ready(const struct retrier *rt)
{
	return rt->queue && rt->dlq && rt->queue->state == SQS_QUEUE_READY &&
	       rt->dlq->state == SQS_QUEUE_READY;
}

unsigned retrier_busy(const struct retrier *rt)
{
	return rt->busy;
}

bool retrier_finished(const struct retrier *rt)
{
	return rt->finished && rt->busy == 0;
}

const char *retrier_fatal(const struct retrier *rt)
{
	return rt->fatal_set ? rt->fatal : NULL;
}

int retrier_fatal_status(const struct retrier *rt)
{
	return rt->fatal_set ? rt->fatal_status : EX_OK;
}

const struct retrier_stats *retrier_stats(const struct retrier *rt)
{
	return &rt->stats;
}
