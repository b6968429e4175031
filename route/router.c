/* route's engine: the triage, the batches, and the outcome lines.
 *
 * - Every input record gets a place in one queue, in input order; its
 *   outcome line is written only from the head, and only once a queue
 *   accepted its message (SQS said Successful). Later records can finish
 *   earlier; they wait behind the first one that has not.
 * - The triage (docs/route.md): a stored event goes to "<client>.fifo"; a
 *   record persist marked retryable goes to retry.fifo in an envelope
 *   {"event","attempts":1,"errors":[…]}; anything else marked, or not an
 *   event, goes to the DLQ as it is (with route's own "_error" when route
 *   found it wanting: no queue for its client, too large, refused).
 * - A destination is a queue: its URL is looked up once (GetQueueUrl),
 *   records wait for it, then join the destination's open batch, which goes
 *   when full (10 entries or 1 MiB), or after the linger. With
 *   --group-by client a client's queue is one ordered lane: one request in
 *   flight at a time, so its messages reach SQS in input order. Other
 *   destinations have no order to keep and send as many as allowed.
 * - Failures: awsreq retries whole requests (throttling, 5xx, connection).
 *   Entries that come back Failed inside a 200 are sent again, after a
 *   backoff, when SQS says they may succeed (SenderFault false). For a
 *   client's queue that is max_attempts sends; then the record goes to
 *   retry.fifo with the error. A refusal of one message (SenderFault true,
 *   or a one-entry request refused for what a message may hold) sends the
 *   record to the DLQ with the reason. retry.fifo and the DLQ are the last
 *   resort: sends to them are repeated with a capped backoff for as long as
 *   it takes (back-pressure: input stops once the held records reach the
 *   limits). A request-level error is never a verdict on the records
 *   (credentials or access refused, an answer that is not SQS's, a
 *   last-resort queue missing): it cannot be waited out, route reports it
 *   and the caller exits (69, or 78 for a missing queue) without writing
 *   the outcomes that did not happen. */
#define _GNU_SOURCE /* open_memstream */
#include "router.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "backoff.h"
#include "log.h"
#include "sigv4.h"
#include "sqs.h"
#include "strbuf.h"
#include "utf8.h"

#define MAX_AGE_FACTOR 4
#define RAW_KEEP 1024 /* bytes of a record kept in a minimal DLQ message */

enum dest_kind { DEST_CLIENT, DEST_RETRY, DEST_DLQ };

struct dest;

struct rec {
	struct rec *next;      /* input order */
	struct rec *wait_next; /* in a destination's wait list */
	char *line;
	size_t len;
	unsigned long lineno;
	bool too_long;
	size_t tail_len;       /* too_long: the line's tail, kept after line[len] (its "_src") */
	char *eff;             /* the record with route's "_error"; NULL: line as it came */
	size_t eff_len;
	char *uid;             /* the event's uid, when it has a string one */
	char *event;           /* the event without "_" members, for retry.fifo */
	size_t event_len;
	/* the message for the current destination, until it joins a batch */
	char *body;
	size_t body_len;
	char dedup[SQS_ID_MAX + 1], group[SQS_ID_MAX + 1];
	bool fallback;         /* the minimal DLQ message was tried */
	bool done;
	struct dest *accepted;
	char *message_id;
};

struct batch {
	struct dest *d;
	struct sqs_batch sb;
	struct rec *rec[SQS_BATCH_MAX];
	int sends;             /* requests made for these entries so far */
	uint64_t opened_ms, last_add_ms;
	struct batch *next;    /* in the destination's sealed list */
	struct batch *all_next, *all_prev;
};

struct dest {
	struct router *r;
	struct sqs_queue *q;
	enum dest_kind kind;
	bool ordered;          /* one request in flight at a time */
	struct batch *open;
	struct batch *sealed, *sealed_tail; /* waiting for the lane */
	unsigned inflight;
	struct rec *wait, *wait_tail;       /* waiting for the URL */
	unsigned lookup_failures;
	struct dest *next;
};

struct router {
	struct awsreq_client *client;
	FILE *out;
	struct router_options opt;
	struct backoff backoff;
	struct sqs_queues queues;
	struct dest *dests;
	struct dest *retry, *dlq;
	struct rec *head, *tail;       /* the output queue */
	struct batch *batches;         /* every batch */
	unsigned nbatches, nopen;      /* of them, open (still filling) */
	unsigned long held;
	size_t buffered;
	bool fatal_set;
	char fatal[1024];
	int fatal_status;              /* EX_UNAVAILABLE, or EX_CONFIG: a queue missing */
	struct router_stats stats;
	char last_warning[512];
	unsigned long repeats;
};

static void dest_push(struct dest *d, struct rec *rec);
static void to_dlq(struct router *r, struct rec *rec);

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Stops the router: status EX_UNAVAILABLE (SQS refused, or is not what
 * answers), EX_CONFIG (retry.fifo or the DLQ does not exist). */
static void set_fatal_status(struct router *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_fatal_status(struct router *r, int status, const char *fmt, ...)
{
	va_list ap;

	if (r->fatal_set)
		return;
	r->fatal_set = true;
	r->fatal_status = status;
	va_start(ap, fmt);
	vsnprintf(r->fatal, sizeof(r->fatal), fmt, ap);
	va_end(ap);
}

#define set_fatal(r, ...) set_fatal_status((r), EX_UNAVAILABLE, __VA_ARGS__)

static void flush_repeats(struct router *r)
{
	if (r->repeats > 0)
		log_warnx("(the warning above was repeated %lu more time%s)", r->repeats,
		          r->repeats == 1 ? "" : "s");
	r->repeats = 0;
}

/* One line per failure, but identical ones in a row only counted: an
 * outage fails every request the same way. */
static void warn_failure(struct router *r, const char *summary)
{
	if (r->opt.quiet)
		return;
	if (log_alike(r->last_warning, summary, sizeof(r->last_warning) - 1)) {
		if (++r->repeats % 1000 == 0)
			flush_repeats(r);
		return;
	}
	flush_repeats(r);
	snprintf(r->last_warning, sizeof(r->last_warning), "%s", summary);
	log_warnx("%s", summary);
}

/* --- records ----------------------------------------------------------------- */

static void rec_free(struct rec *rec)
{
	free(rec->line);
	free(rec->eff);
	free(rec->uid);
	free(rec->event);
	free(rec->body);
	free(rec->message_id);
	free(rec);
}

static const char *rec_text(const struct rec *rec, size_t *len)
{
	*len = rec->eff ? rec->eff_len : rec->len;
	return rec->eff ? rec->eff : rec->line;
}

/* Sets the message for the next destination (body taken over). */
static void rec_set_body(struct rec *rec, char *body, size_t len)
{
	free(rec->body);
	rec->body = body;
	rec->body_len = len;
}

/* Route's own verdict on a record: the record passed on (to its queue and
 * in the outcome) gets "_error" {"stage":"route",…}, as the other stages
 * mark theirs (lib/record.c: the original text kept, the member appended). */
static void rec_mark(struct router *r, struct rec *rec, const char *code, const char *reason,
                     int retryable)
{
	struct record_line l = {.data = rec->line, .len = rec->len, .lineno = rec->lineno,
	                        .too_long = rec->too_long, .tail = rec->line + rec->len + 1,
	                        .tail_len = rec->tail_len};
	struct record_error e = {.stage = "route", .code = code, .reason = reason,
	                         .retryable = retryable};
	enum record_fault fault;
	char why[64], *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	cJSON *obj = record_parse(&l, true, &fault, why, sizeof(why));
	int rc = f ? record_write_marked(f, &l, obj, &e) : -1;

	cJSON_Delete(obj);
	if (f && fclose(f) != 0)
		rc = -1;
	if (rc < 0 || !text) {
		free(text);
		set_fatal(r, "out of memory");
		return;
	}
	if (size > 0 && text[size - 1] == '\n')
		text[--size] = '\0';
	r->buffered -= rec->eff_len;
	free(rec->eff);
	rec->eff = text;
	rec->eff_len = size;
	r->buffered += size;
	r->stats.marked++;
}

static void rec_accepted(struct router *r, struct rec *rec, struct dest *d, const char *message_id)
{
	rec->done = true;
	rec->accepted = d;
	rec->message_id = strdup(message_id);
	if (!rec->message_id)
		set_fatal(r, "out of memory");
	free(rec->body);
	free(rec->event);
	rec->body = rec->event = NULL;
	if (d->kind == DEST_CLIENT)
		r->stats.to_client++;
	else if (d->kind == DEST_RETRY)
		r->stats.to_retry++;
	else
		r->stats.to_dlq++;
}

/* --- destinations -------------------------------------------------------------- */

static void on_queue_changed(void *arg, struct sqs_queue *q);

static struct dest *dest_get(struct router *r, const char *name, enum dest_kind kind)
{
	struct sqs_queue *q = sqs_queues_get(&r->queues, name);

	if (!q)
		return NULL;
	if (q->user)
		return q->user;
	struct dest *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->r = r;
	d->q = q;
	d->kind = kind;
	d->ordered = kind == DEST_CLIENT && r->opt.group_by == EVENT_GROUP_CLIENT;
	q->user = d;
	d->next = r->dests;
	r->dests = d;
	return d;
}

static void lookup(struct dest *d)
{
	struct router *r = d->r;
	char errstr[256];
	unsigned delay = 0;

	if (d->lookup_failures > 0)
		delay = backoff_delay_ms(&r->backoff, d->lookup_failures - 1);
	r->stats.lookups++;
	if (sqs_queues_lookup(&r->queues, d->q, delay, errstr, sizeof(errstr)) < 0)
		set_fatal(r, "%s", errstr);
}

/* A queue that does not exist. For a client's queue that is the record's
 * problem (to the DLQ with the reason); the last-resort queues must exist. */
static void dest_missing(struct dest *d, struct rec *rec)
{
	struct router *r = d->r;

	if (d->kind != DEST_CLIENT) {
		set_fatal_status(r, EX_CONFIG, "%s", d->q->error);
		return;
	}
	rec_mark(r, rec, "no_queue", d->q->error, 0);
	to_dlq(r, rec);
}

static void batch_take(struct dest *d, struct rec *rec);

static void on_queue_changed(void *arg, struct sqs_queue *q)
{
	struct router *r = arg;
	struct dest *d = q->user;
	struct rec *rec, *next;

	if (!d)
		return;
	switch (q->state) {
	case SQS_QUEUE_READY:
		d->lookup_failures = 0;
		rec = d->wait;
		d->wait = d->wait_tail = NULL;
		for (; rec; rec = next) {
			next = rec->wait_next;
			rec->wait_next = NULL;
			batch_take(d, rec);
		}
		break;
	case SQS_QUEUE_MISSING:
		rec = d->wait;
		d->wait = d->wait_tail = NULL;
		if (d->kind != DEST_CLIENT)
			set_fatal_status(r, EX_CONFIG, "%s", q->error);
		for (; rec; rec = next) {
			next = rec->wait_next;
			rec->wait_next = NULL;
			dest_missing(d, rec);
		}
		break;
	default:
		/* Refused, or not SQS answering (after awsreq's retries): the
		 * same for every name, so not the record's fault. */
		if (awsreq_class_stops(q->cls) || q->cls == AWSREQ_CLIENT) {
			set_fatal(r, "%s", q->error);
			break;
		}
		/* SQS unreachable or in trouble: ask again, for as long as it
		 * takes; the records wait (and input stops once they fill the
		 * limits). */
		warn_failure(r, q->error);
		d->lookup_failures++;
		if (d->wait || d->kind != DEST_CLIENT)
			lookup(d);
		break;
	}
}

static void dest_push(struct dest *d, struct rec *rec)
{
	switch (d->q->state) {
	case SQS_QUEUE_READY:
		batch_take(d, rec);
		return;
	case SQS_QUEUE_MISSING:
		dest_missing(d, rec);
		return;
	default:
		if (d->wait_tail)
			d->wait_tail->wait_next = rec;
		else
			d->wait = rec;
		d->wait_tail = rec;
		if (d->q->state == SQS_QUEUE_UNKNOWN)
			lookup(d);
	}
}

/* --- the three ways out ------------------------------------------------------------ */

/* JSON string text of s[0..len) in ASCII only (\u escapes; invalid UTF-8
 * as U+FFFD): a message no queue can refuse for its characters. */
static void add_ascii_string(struct strbuf *b, const char *s, size_t len)
{
	strbuf_addc(b, '"');
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			strbuf_addc(b, (char)c);
			i++;
			continue;
		}
		if (c < 0x80) {
			strbuf_addf(b, "\\u%04x", c);
			i++;
			continue;
		}
		size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
		if (i + n > len || utf8_first_invalid(s + i, n) != n) {
			strbuf_adds(b, "\\ufffd");
			i++;
			continue;
		}
		unsigned long cp = n == 2 ? (c & 0x1Fu) : n == 3 ? (c & 0x0Fu) : (c & 0x07u);
		for (size_t k = 1; k < n; k++)
			cp = (cp << 6) | ((unsigned char)s[i + k] & 0x3Fu);
		if (cp >= 0x10000) {
			cp -= 0x10000;
			strbuf_addf(b, "\\u%04lx\\u%04lx", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
		} else {
			strbuf_addf(b, "\\u%04lx", cp);
		}
		i += n;
	}
	strbuf_addc(b, '"');
}

/* What goes to the DLQ when the record itself cannot (over 1 MiB, or
 * refused): the event's uid, its first 1 KiB in ASCII, kcat-in's "_src" and
 * the record's own "_error" as they are (its reason), and under "_dlq" why
 * it was cut. The whole record is still in the outcome line. */
static char *minimal_dlq_body(const struct rec *rec, const char *why, size_t *len)
{
	struct strbuf b = STRBUF_INIT;
	size_t tlen, keep, mlen;
	const char *text = rec_text(rec, &tlen), *m;
	bool failed = false;

	keep = tlen < RAW_KEEP ? tlen : RAW_KEEP;
	strbuf_addc(&b, '{');
	if (rec->uid && strlen(rec->uid) <= EVENT_UID_MAX) {
		strbuf_adds(&b, "\"uid\":");
		add_ascii_string(&b, rec->uid, strlen(rec->uid));
		strbuf_addc(&b, ',');
	}
	strbuf_adds(&b, "\"_raw\":");
	add_ascii_string(&b, text, keep);
	if (keep < tlen)
		strbuf_adds(&b, ",\"_raw_truncated\":true");
	if ((m = record_member(text, tlen, "_src", &mlen, NULL)) && mlen <= RECORD_HEADROOM) {
		strbuf_adds(&b, ",\"_src\":");
		strbuf_add(&b, m, mlen);
	}
	bool own = (m = record_member(text, tlen, "_error", &mlen, NULL)) && mlen <= RECORD_ERROR_MAX;
	strbuf_adds(&b, own ? ",\"_dlq\":" : ",\"_error\":");
	strbuf_adds(&b, "{\"stage\":\"route\",\"code\":\"dlq_refused\",\"reason\":");
	add_ascii_string(&b, why, strlen(why));
	strbuf_adds(&b, ",\"retryable\":false}");
	if (own) {
		strbuf_adds(&b, ",\"_error\":");
		strbuf_add(&b, m, mlen);
	}
	strbuf_addc(&b, '}');
	char *body = strbuf_detach(&b, len), *safe = body ? sqs_json_safe(body, *len, &mlen, &failed) : NULL;
	if (safe) { /* the reason may hold characters SQS refuses */
		free(body);
		body = safe;
		*len = mlen;
	}
	return failed && body ? (free(body), NULL) : body;
}

/* The DLQ's deduplication id: a record from Kafka is the same record
 * wherever it is seen again, so its "_src" (topic, partition, offset) names
 * it; its text would not, since validate's "_error" carries the line number
 * within that validate's own input, which differs after a restart. Without
 * "_src" (a file replayed by hand) the whole text names it. */
static void dlq_dedup_id(const char *text, size_t len, const char *body, size_t body_len,
                         char hex[65])
{
	cJSON *rec = cJSON_ParseWithLength(text, len);
	const cJSON *src = cJSON_GetObjectItemCaseSensitive(rec, "_src");
	char *src_text = cJSON_IsObject(src) ? cJSON_PrintUnformatted(src) : NULL;
	char keyed[1024];
	int n = src_text ? snprintf(keyed, sizeof(keyed), "_src:%s", src_text) : -1;

	if (n > 0 && (size_t)n < sizeof(keyed) ? !sigv4_sha256_hex(keyed, (size_t)n, hex)
	                                       : !sigv4_sha256_hex(body, body_len, hex))
		snprintf(hex, 65, "no-sha256");
	cJSON_free(src_text);
	cJSON_Delete(rec);
}

/* To the DLQ: the record as it is (with its "_error", "_raw", "_src"),
 * grouped by uid (or, without one, by the message's own hash), deduplicated
 * so that a replay of the same record adds nothing (dlq_dedup_id). */
static void to_dlq(struct router *r, struct rec *rec)
{
	size_t len, n;
	const char *text = rec_text(rec, &len);
	bool failed;
	char *body;

	if (rec->fallback || len > SQS_MESSAGE_MAX_BYTES) {
		char why[256];
		snprintf(why, sizeof(why), rec->fallback ? "the DLQ refused the whole record"
		                                         : "the record is over SQS's 1 MiB limit");
		body = minimal_dlq_body(rec, why, &n);
	} else {
		body = sqs_json_safe(text, len, &n, &failed);
		if (!body && !failed && (body = malloc(len + 1)) != NULL) {
			memcpy(body, text, len);
			body[len] = '\0';
			n = len;
		}
	}
	if (!body) {
		set_fatal(r, "out of memory");
		return;
	}
	if (n > SQS_MESSAGE_MAX_BYTES) { /* the escapes made it too long */
		free(body);
		if (!(body = minimal_dlq_body(rec, "the record is over SQS's 1 MiB limit", &n))) {
			set_fatal(r, "out of memory");
			return;
		}
	}
	char hex[65];
	dlq_dedup_id(text, len, body, n, hex);
	snprintf(rec->dedup, sizeof(rec->dedup), "%s", hex);
	if (rec->uid)
		sqs_id(rec->uid, strlen(rec->uid), rec->group);
	else
		snprintf(rec->group, sizeof(rec->group), "%s", hex);
	rec_set_body(rec, body, n);
	dest_push(r->dlq, rec);
}

/* To retry.fifo: the event in an envelope with its first error, grouped by
 * uid (one failing event never blocks another), deduplicated by
 * "<uid>:1" (the attempt that failed). */
static void to_retry(struct router *r, struct rec *rec, const char *error, size_t error_len)
{
	size_t len, n;
	bool failed;
	char id[EVENT_UID_MAX + 16];

	if (!rec->event || !rec->uid) {
		rec_mark(r, rec, "missing_field", "uid: missing or not a string (cannot be retried)", 0);
		to_dlq(r, rec);
		return;
	}
	char *body = event_envelope(rec->event, rec->event_len, 1, &error, &error_len, 1, &len);
	char *safe = body ? sqs_json_safe(body, len, &n, &failed) : NULL;
	if (!body || failed) {
		free(body);
		set_fatal(r, "out of memory");
		return;
	}
	if (safe) {
		free(body);
		body = safe;
		len = n;
	}
	if (len > SQS_MESSAGE_MAX_BYTES) {
		char why[256];
		free(body);
		snprintf(why, sizeof(why),
		         "in its retry envelope the event is %zu bytes, over SQS's %d-byte limit", len,
		         SQS_MESSAGE_MAX_BYTES);
		rec_mark(r, rec, "too_large", why, 0);
		to_dlq(r, rec);
		return;
	}
	snprintf(id, sizeof(id), "%s:1", rec->uid);
	sqs_id(id, strlen(id), rec->dedup);
	sqs_id(rec->uid, strlen(rec->uid), rec->group);
	rec_set_body(rec, body, len);
	dest_push(r->retry, rec);
}

/* {"attempt":1,"stage":"route","code":…,"reason":…,"retryable":true} */
static char *route_error(const char *code, const char *reason, size_t *len)
{
	struct strbuf b = STRBUF_INIT;

	strbuf_adds(&b, "{\"attempt\":1,\"stage\":\"route\",\"code\":\"");
	strbuf_add_json_escaped(&b, code, strlen(code));
	strbuf_adds(&b, "\",\"reason\":\"");
	strbuf_add_json_escaped(&b, reason, strlen(reason));
	strbuf_adds(&b, "\",\"retryable\":true}");
	return strbuf_detach(&b, len);
}

/* An entry its destination will not take (or, for a client's queue, not
 * after the attempts). */
static void give_up(struct router *r, struct dest *d, struct rec *rec, const char *code,
                    const char *reason, bool retryable)
{
	if (d->kind == DEST_CLIENT && retryable) {
		size_t len;
		char *err = route_error(code, reason, &len);
		if (!err) {
			set_fatal(r, "out of memory");
			return;
		}
		rec_mark(r, rec, code, reason, 1);
		to_retry(r, rec, err, len);
		free(err);
		return;
	}
	if (d->kind != DEST_DLQ) {
		rec_mark(r, rec, code, reason, 0);
		to_dlq(r, rec);
		return;
	}
	if (!rec->fallback) {
		warn_failure(r, reason);
		rec->fallback = true;
		to_dlq(r, rec);
		return;
	}
	set_fatal(r, "the DLQ refused even a minimal message: %s", reason);
}

/* --- batches ----------------------------------------------------------------------- */

static struct batch *batch_new(struct dest *d)
{
	struct router *r = d->r;
	struct batch *b = calloc(1, sizeof(*b));

	if (!b || sqs_batch_init(&b->sb, d->q->url) < 0) {
		free(b);
		return NULL;
	}
	b->d = d;
	b->opened_ms = now_ms();
	b->all_next = r->batches;
	if (r->batches)
		r->batches->all_prev = b;
	r->batches = b;
	r->nbatches++;
	return b;
}

static void batch_free(struct batch *b)
{
	struct router *r;

	if (!b)
		return;
	r = b->d->r;
	if (b->all_prev)
		b->all_prev->all_next = b->all_next;
	else
		r->batches = b->all_next;
	if (b->all_next)
		b->all_next->all_prev = b->all_prev;
	r->nbatches--;
	sqs_batch_clear(&b->sb);
	free(b);
}

static void on_batch_done(void *arg, const struct awsreq_result *res);

static void submit(struct batch *b, unsigned delay_ms)
{
	struct dest *d = b->d;
	struct router *r = d->r;
	char errstr[256];
	size_t len;
	char *body = sqs_batch_body(&b->sb, &len);

	b->sends++;
	d->inflight++;
	r->stats.batches++;
	r->stats.entries += b->sb.n;
	if (!body || sqs_submit(r->client, "SendMessageBatch", body, len, delay_ms, on_batch_done, b,
	                        errstr, sizeof(errstr)) < 0)
		set_fatal(r, "out of memory");
}

/* Sends what the lane allows: everything for an unordered destination,
 * one request at a time for an ordered one. */
static void dispatch(struct dest *d)
{
	while (d->sealed && (!d->ordered || d->inflight == 0)) {
		struct batch *b = d->sealed;
		d->sealed = b->next;
		if (!d->sealed)
			d->sealed_tail = NULL;
		b->next = NULL;
		submit(b, 0);
	}
}

static void seal(struct dest *d)
{
	struct batch *b = d->open;

	d->open = NULL;
	if (!b)
		return;
	d->r->nopen--;
	if (d->sealed_tail)
		d->sealed_tail->next = b;
	else
		d->sealed = b;
	d->sealed_tail = b;
	dispatch(d);
}

static void batch_take(struct dest *d, struct rec *rec)
{
	struct router *r = d->r;

	for (int tries = 0; tries < 2; tries++) {
		if (!d->open) {
			if (!(d->open = batch_new(d)))
				break;
			r->nopen++;
		}
		int i = sqs_batch_add(&d->open->sb, rec->body, rec->body_len, rec->dedup, rec->group);
		if (i >= 0) {
			d->open->rec[i] = rec;
			d->open->last_add_ms = now_ms();
			free(rec->body);
			rec->body = NULL;
			if (d->open->sb.n >= r->opt.batch_size)
				seal(d);
			return;
		}
		if (i == SQS_BATCH_FULL) {
			seal(d);
			continue;
		}
		if (i == SQS_TOO_LARGE) { /* bodies are sized before: a safety net */
			give_up(r, d, rec, "too_large", "the message is over SQS's 1 MiB limit", false);
			return;
		}
		break;
	}
	set_fatal(r, "out of memory");
}

/* A batch of the entries of b selected by which[] (copied), to be sent
 * again. NULL when out of memory. */
static struct batch *batch_copy(struct batch *b, const bool *which)
{
	struct batch *nb = batch_new(b->d);

	if (!nb)
		return NULL;
	nb->sends = b->sends;
	for (size_t i = 0; i < b->sb.n; i++) {
		if (!which[i])
			continue;
		const struct sqs_entry *e = &b->sb.e[i];
		int k = sqs_batch_add(&nb->sb, e->body, e->body_len, e->dedup_id, e->group_id);
		if (k < 0) {
			batch_free(nb);
			return NULL;
		}
		nb->rec[k] = b->rec[i];
	}
	return nb;
}

/* The delay before sending again after `sends` requests. Client queues:
 * the SDKs' backoff; retry.fifo and the DLQ: the same, for ever, capped. */
static unsigned resend_delay(struct router *r, int sends)
{
	return backoff_delay_ms(&r->backoff, (unsigned)(sends > 1 ? sends - 1 : 0));
}

/* A request refused as invalid with several entries: each on its own, in
 * order, at the head of the lane, so only the bad one is refused. */
static void split(struct batch *b)
{
	struct dest *d = b->d;
	struct batch *first = NULL, *last = NULL;

	for (size_t i = 0; i < b->sb.n; i++) {
		bool which[SQS_BATCH_MAX] = {false};
		which[i] = true;
		struct batch *nb = batch_copy(b, which);
		if (!nb) {
			set_fatal(d->r, "out of memory");
			return;
		}
		nb->sends = 0;
		if (last)
			last->next = nb;
		else
			first = nb;
		last = nb;
	}
	last->next = d->sealed;
	d->sealed = first;
	if (!d->sealed_tail)
		d->sealed_tail = last;
}

static void on_batch_done(void *arg, const struct awsreq_result *res)
{
	struct batch *b = arg;
	struct dest *d = b->d;
	struct router *r = d->r;
	struct sqs_result results[SQS_BATCH_MAX];
	char errstr[256], reason[1024];

	d->inflight--;
	if (res->cls == AWSREQ_OK) {
		bool again[SQS_BATCH_MAX] = {false}, any_again = false;
		int nfailed = sqs_batch_results(&b->sb, res->body, res->body_len, results, errstr,
		                                sizeof(errstr));
		if (nfailed < 0) { /* a 200 we cannot read: as if nothing was sent */
			for (size_t i = 0; i < b->sb.n; i++) {
				results[i].ok = false;
				results[i].sender_fault = false;
				snprintf(results[i].code, sizeof(results[i].code), "BadAnswer");
				snprintf(results[i].message, sizeof(results[i].message), "HTTP 200, but %s",
				         errstr);
			}
		}
		for (size_t i = 0; i < b->sb.n; i++) {
			struct rec *rec = b->rec[i];
			if (results[i].ok) {
				rec_accepted(r, rec, d, results[i].message_id);
				continue;
			}
			r->stats.failed_entries++;
			bool retryable = !results[i].sender_fault;
			if (retryable && (d->kind != DEST_CLIENT || b->sends < r->opt.max_attempts)) {
				again[i] = any_again = true;
				continue;
			}
			snprintf(reason, sizeof(reason), "SQS SendMessageBatch to %s: %s: %s (%s)",
			         d->q->name, results[i].code, results[i].message,
			         retryable ? "after retries" : "refused");
			if (retryable)
				warn_failure(r, reason);
			give_up(r, d, rec, retryable ? "send_failed" : "rejected", reason, retryable);
		}
		if (any_again) {
			struct batch *nb = batch_copy(b, again);
			if (!nb) {
				set_fatal(r, "out of memory");
			} else {
				r->stats.resends++;
				submit(nb, resend_delay(r, nb->sends));
			}
		}
	} else if (res->cls == AWSREQ_MISSING || sqs_error_no_queue(res->error_type)) {
		/* deleted under us: a client's queue is its records' problem (to
		 * the DLQ, "no_queue"); retry.fifo or the DLQ stops route */
		sqs_queue_forget(d->q);
		d->q->state = SQS_QUEUE_MISSING;
		snprintf(d->q->error, sizeof(d->q->error), "%s", res->summary);
		for (size_t i = 0; i < b->sb.n; i++)
			dest_missing(d, b->rec[i]);
	} else if (res->cls == AWSREQ_CLIENT && sqs_entry_error(res->error_type)) {
		/* may be one message's fault: alone, it is refused for itself */
		if (b->sb.n > 1) {
			split(b);
		} else if (b->sb.n == 1) {
			warn_failure(r, res->summary);
			give_up(r, d, b->rec[0], "rejected", res->summary, false);
		}
	} else if (awsreq_class_stops(res->cls) || res->cls == AWSREQ_CLIENT) {
		/* Credentials refused, access denied, a certificate that does not
		 * verify, an answer that is not SQS's (a proxy's 302 or 404, after
		 * awsreq's retries), a refusal of the request as such: a verdict
		 * on the request, never on its records. No record is marked;
		 * those without an outcome come again after a restart. */
		set_fatal(r, "%s", res->summary);
	} else if (d->kind == DEST_CLIENT) {
		/* throttled, 5xx or unreachable after awsreq's attempts */
		warn_failure(r, res->summary);
		for (size_t i = 0; i < b->sb.n; i++)
			give_up(r, d, b->rec[i], awsreq_class_name(res->cls), res->summary, true);
	} else {
		/* the last resort: again, later, for as long as it takes */
		warn_failure(r, res->summary);
		bool all[SQS_BATCH_MAX];
		for (size_t i = 0; i < SQS_BATCH_MAX; i++)
			all[i] = true;
		struct batch *nb = batch_copy(b, all);
		if (!nb) {
			set_fatal(r, "out of memory");
		} else {
			nb->sends = b->sends + res->attempts - 1;
			r->stats.resends++;
			submit(nb, resend_delay(r, nb->sends));
		}
	}
	batch_free(b);
	dispatch(d);
}

/* --- input ------------------------------------------------------------------------- */

struct router *router_new(struct awsreq_client *c, FILE *out, const struct router_options *opt)
{
	struct router *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->client = c;
	r->out = out;
	r->opt = *opt;
	if (r->opt.batch_size == 0 || r->opt.batch_size > SQS_BATCH_MAX)
		r->opt.batch_size = SQS_BATCH_MAX;
	if (r->opt.max_attempts < 1)
		r->opt.max_attempts = 1;
	r->queues.client = c;
	r->queues.changed = on_queue_changed;
	r->queues.arg = r;
	backoff_init(&r->backoff, opt->backoff_base_ms, opt->backoff_cap_ms, 0);
	return r;
}

void router_free(struct router *r)
{
	if (!r)
		return;
	flush_repeats(r);
	while (r->batches)
		batch_free(r->batches);
	for (struct dest *d = r->dests, *next; d; d = next) {
		next = d->next;
		free(d); /* its batches went with r->batches */
	}
	sqs_queues_clear(&r->queues);
	while (r->head) {
		struct rec *rec = r->head;
		r->head = rec->next;
		rec_free(rec);
	}
	free(r);
}

int router_start(struct router *r)
{
	r->retry = dest_get(r, r->opt.retry_queue, DEST_RETRY);
	r->dlq = dest_get(r, r->opt.dlq_queue, DEST_DLQ);
	if (!r->retry || !r->dlq)
		return -1;
	for (struct dest *d = r->dests; d; d = d->next) {
		if (d->q->state == SQS_QUEUE_MISSING)
			set_fatal_status(r, EX_CONFIG, "%s", d->q->error);
		else if (d->q->state == SQS_QUEUE_UNKNOWN)
			lookup(d);
	}
	return 0;
}

bool router_ready(const struct router *r)
{
	return r->retry && r->dlq && r->retry->q->state == SQS_QUEUE_READY &&
	       r->dlq->q->state == SQS_QUEUE_READY;
}

const char *router_fatal(const struct router *r)
{
	return r->fatal_set ? r->fatal : NULL;
}

int router_fatal_status(const struct router *r)
{
	return r->fatal_set ? r->fatal_status : EX_OK;
}

/* Decides where a parsed record goes. obj: the record, or NULL when the
 * line is not a JSON object (fault and why say what it is). */
static void triage(struct router *r, struct rec *rec, const cJSON *obj, enum record_fault fault,
                   const char *why)
{
	const char *code;
	char reason[1024];

	if (!obj) {
		rec_mark(r, rec, record_fault_code(fault), why, 0);
		to_dlq(r, rec);
		return;
	}
	const cJSON *uid = cJSON_GetObjectItemCaseSensitive(obj, "uid");
	if (cJSON_IsString(uid) && uid->valuestring[0] && !(rec->uid = strdup(uid->valuestring))) {
		set_fatal(r, "out of memory");
		return;
	}
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(obj, "_error");
	if (err) {
		/* Marked upstream: persist's retryable failures are tried again
		 * (retry.fifo); everything else is final (the DLQ). */
		const cJSON *stage = cJSON_GetObjectItemCaseSensitive(err, "stage");
		size_t elen;
		const char *etext = event_member(rec->line, rec->len, "_error", &elen);
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(err, "retryable")) &&
		    cJSON_IsString(stage) && strcmp(stage->valuestring, "persist") == 0 && etext &&
		    rec->uid) {
			size_t n;
			char *e1 = event_error_with_attempt(etext, elen, 1, &n);
			rec->event = event_strip_meta(rec->line, rec->len, &rec->event_len);
			if (!e1 || !rec->event) {
				free(e1);
				set_fatal(r, "out of memory");
				return;
			}
			to_retry(r, rec, e1, n);
			free(e1);
			return;
		}
		to_dlq(r, rec);
		return;
	}
	struct event_message m;
	if (event_client_message(rec->line, rec->len, obj, r->opt.group_by, &m, &code, reason,
	                         sizeof(reason)) < 0) {
		event_message_clear(&m);
		if (strcmp(code, "no_memory") == 0) {
			set_fatal(r, "out of memory");
			return;
		}
		rec_mark(r, rec, code, reason, 0);
		to_dlq(r, rec);
		return;
	}
	struct dest *d = dest_get(r, m.queue, DEST_CLIENT);
	/* the event's text stays for a detour through retry.fifo */
	rec->event = malloc(m.body_len + 1);
	if (!d || !rec->event) {
		event_message_clear(&m);
		set_fatal(r, "out of memory");
		return;
	}
	memcpy(rec->event, m.body, m.body_len + 1);
	rec->event_len = m.body_len;
	memcpy(rec->dedup, m.dedup_id, sizeof(rec->dedup));
	memcpy(rec->group, m.group_id, sizeof(rec->group));
	rec_set_body(rec, m.body, m.body_len);
	m.body = NULL;
	dest_push(d, rec);
}

int router_add(struct router *r, const struct record_line *line)
{
	struct rec *rec = calloc(1, sizeof(*rec));
	enum record_fault fault;
	char why[1024];

	if (!rec || !(rec->line = malloc(line->len + line->tail_len + 1))) {
		free(rec);
		return -1;
	}
	memcpy(rec->line, line->data, line->len);
	rec->line[line->len] = '\0';
	rec->len = line->len;
	rec->lineno = line->lineno;
	rec->too_long = line->too_long;
	if (line->tail_len) { /* kept for its "_src" (lib/record.h) */
		memcpy(rec->line + rec->len + 1, line->tail, line->tail_len);
		rec->tail_len = line->tail_len;
	}
	if (r->tail)
		r->tail->next = rec;
	else
		r->head = rec;
	r->tail = rec;
	r->buffered += rec->len + sizeof(*rec);
	r->held++;
	r->stats.records_in++;

	cJSON *obj = record_parse(line, true, &fault, why, sizeof(why));
	triage(r, rec, obj, fault, why);
	cJSON_Delete(obj);
	return 0;
}

/* True when the destination's open batch may be sent now. */
static bool lane_free(const struct dest *d)
{
	return !d->ordered || (d->inflight == 0 && !d->sealed);
}

void router_tick(struct router *r, bool force)
{
	uint64_t now = now_ms();

	for (struct dest *d = r->dests; d; d = d->next) {
		struct batch *b = d->open;
		if (!b || b->sb.n == 0 || !lane_free(d))
			continue;
		if (force || now >= b->last_add_ms + r->opt.linger_ms ||
		    now >= b->opened_ms + (uint64_t)MAX_AGE_FACTOR * r->opt.linger_ms)
			seal(d);
	}
}

int router_timeout_ms(const struct router *r)
{
	uint64_t now = now_ms(), due = UINT64_MAX;

	for (const struct dest *d = r->dests; d; d = d->next) {
		const struct batch *b = d->open;
		if (!b || b->sb.n == 0 || !lane_free(d))
			continue;
		uint64_t t = b->last_add_ms + r->opt.linger_ms;
		uint64_t age = b->opened_ms + (uint64_t)MAX_AGE_FACTOR * r->opt.linger_ms;
		if (age < t)
			t = age;
		if (t < due)
			due = t;
	}
	if (due == UINT64_MAX)
		return -1;
	return due > now ? (int)(due - now) : 0;
}

/* --- output ---------------------------------------------------------------------------- */

/* The record with "_out":{"queue":…,"message_id":…} as its last member
 * (an "_out" it already had, from an earlier run, is replaced). */
static int write_outcome(FILE *out, const struct rec *rec)
{
	size_t len, n;
	bool failed;
	const char *text = rec_text(rec, &len);
	char *copy = event_without_member(text, len, "_out", &n, &failed);

	if (failed) {
		errno = ENOMEM;
		return -1;
	}
	if (copy) {
		text = copy;
		len = n;
	}
	size_t end = len;
	while (end > 0 && text[end - 1] != '}')
		end--;
	int rc = -1;
	if (end == 0) { /* cannot happen: every record here is an object */
		errno = EINVAL;
		goto out;
	}
	end--;
	size_t k = end;
	while (k > 0 && (text[k - 1] == ' ' || text[k - 1] == '\t'))
		k--;
	bool empty = k > 0 && text[k - 1] == '{';
	if (fwrite(text, 1, end, out) != end ||
	    fprintf(out, "%s\"_out\":{\"queue\":\"%s\",\"message_id\":", empty ? "" : ",",
	            rec->accepted->q->name) < 0 ||
	    record_write_json_string(out, rec->message_id, strlen(rec->message_id)) < 0 ||
	    fputs("}}\n", out) == EOF)
		goto out;
	rc = 0;
out:
	free(copy);
	return rc;
}

long router_output(struct router *r)
{
	long n = 0;

	while (r->head && r->head->done) {
		struct rec *rec = r->head;
		if (write_outcome(r->out, rec) < 0)
			return -1;
		r->head = rec->next;
		if (!r->head)
			r->tail = NULL;
		r->buffered -= rec->len + sizeof(*rec) + rec->eff_len;
		r->held--;
		r->stats.records_out++;
		rec_free(rec);
		n++;
	}
	return n;
}

bool router_has_room(const struct router *r)
{
	return r->nbatches - r->nopen < r->opt.max_batches && r->buffered < r->opt.max_buffered;
}

bool router_idle(const struct router *r)
{
	return !r->head;
}

unsigned long router_held(const struct router *r)
{
	return r->held;
}

const struct router_stats *router_stats(const struct router *r)
{
	return &r->stats;
}
