/* persist's engine: records to DynamoDB items, items to batches, batches to
 * BatchWriteItem requests, and every record back out in input order.
 *
 * - Every input record gets a place in one queue, in input order; it leaves
 *   the queue (is printed) only from the head, and only once it is done:
 *   stored, passed through, or marked. Later records can be done earlier;
 *   they wait behind the first one that is not.
 * - The open batch takes records until it is full (25 items, or 16 MB of
 *   body), or until no record has come for linger_ms (or the oldest has
 *   waited 4 x linger_ms under a slow trickle), and is then submitted.
 *   Submitted batches stay in the outstanding list until their fate is
 *   known, including resends of unprocessed items.
 * - Two records with one uid in the open batch share its slot; the later
 *   item replaces the earlier (DynamoDB refuses duplicates in a request,
 *   and the later write wins anyway). A record whose uid is in an
 *   outstanding batch waits in the deferred list until that batch is done,
 *   so two writes of one key are never on the wire at once and the later
 *   always lands last.
 * - Retries: awsreq resends whole requests (throttling, 5xx, connection
 *   errors). Items that come back in UnprocessedItems are sent again in a
 *   new batch after a full-jitter backoff, up to max_attempts sends in all;
 *   then they are marked retryable. A request refused for what one item
 *   may hold (ValidationException) is split into single-item requests so
 *   that one bad item does not fail 24 good ones. Any other refusal, a
 *   missing table or an answer that is not DynamoDB's is about the request,
 *   never its records: nothing is marked, the tool stops (writer_fatal). */
#include "writer.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "backoff.h"
#include "dynamodb.h"
#include "event.h"
#include "jsonarena.h"
#include "log.h"

#define KEY_ATTR EVENT_KEY_ATTR
#define MAX_AGE_FACTOR 4

/* Why a record was marked here. */
struct mark {
	const char *code;   /* static string */
	char *reason;
	int retryable;
	bool parsed;        /* the line is a JSON object: append "_error" to it */
	unsigned long lineno;
};

struct rec {
	struct rec *next;      /* input order */
	struct rec *chain;     /* records sharing a batch slot, or the deferred list */
	char *line;
	size_t len;
	unsigned long lineno;
	bool too_long;
	size_t tail_len;       /* too_long: the line's tail, kept after line[len] (its "_src") */
	bool done;
	char *uid, *item;      /* while waiting for a batch */
	size_t item_len;
	struct mark *mark;
};

struct batch {
	struct writer *w;
	struct dynamodb_batch db;
	struct rec *slot[DYNAMODB_BATCH_MAX_ITEMS];
	int sends;             /* requests made for these items so far */
	uint64_t opened_ms, last_add_ms;
	struct batch *next, *prev;
};

struct writer {
	struct awsreq_client *client;
	FILE *out;
	struct writer_options opt;
	struct backoff backoff;
	struct rec *head, *tail;        /* the output queue */
	struct rec *deferred, *deferred_tail;
	struct batch *open;
	struct batch *outstanding;      /* submitted, fate unknown */
	unsigned noutstanding;
	struct keynode **keys;          /* uids in outstanding batches: a hash set */
	size_t nbuckets;
	size_t buffered;                /* bytes of lines held */
	struct writer_stats stats;
	char last_warning[512];         /* an outage fails every batch the same way: */
	unsigned long repeats;          /* say it once, then how often */
	char fatal[1100];               /* DynamoDB refused us as such: stop */
	int fatal_status;               /* and the exit status that says so */
};

static void outstanding_remove(struct writer *w, struct batch *b);

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct writer *writer_new(struct awsreq_client *c, FILE *out, const struct writer_options *opt)
{
	struct writer *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->client = c;
	w->out = out;
	w->opt = *opt;
	/* Room for every uid of the batches allowed out, at a load under 1/2. */
	for (w->nbuckets = 64; w->nbuckets < 2 * (size_t)opt->max_batches * DYNAMODB_BATCH_MAX_ITEMS;)
		w->nbuckets *= 2;
	w->keys = calloc(w->nbuckets, sizeof(*w->keys));
	if (!w->keys) {
		free(w);
		return NULL;
	}
	backoff_init(&w->backoff, opt->backoff_base_ms, opt->backoff_cap_ms, 0);
	return w;
}

/* When even a mark cannot be allocated, the record still must not leave
 * looking stored: it gets this one, shared and never freed. */
static struct mark oom_mark = {"no_memory", NULL, 1, false, 0};

static void rec_free(struct rec *r)
{
	if (r->mark && r->mark != &oom_mark) {
		free(r->mark->reason);
		free(r->mark);
	}
	free(r->line);
	free(r->uid);
	free(r->item);
	free(r);
}

static void batch_free(struct batch *b)
{
	if (!b)
		return;
	dynamodb_batch_clear(&b->db);
	free(b);
}

static void flush_repeats(struct writer *w)
{
	if (w->repeats > 0)
		log_warnx("(the warning above was repeated %lu more time%s)", w->repeats,
		          w->repeats == 1 ? "" : "s");
	w->repeats = 0;
}

/* One line per failed request, but identical ones in a row only counted. */
static void warn_failure(struct writer *w, const char *summary)
{
	if (w->opt.quiet)
		return;
	if (log_alike(w->last_warning, summary, sizeof(w->last_warning) - 1)) {
		if (++w->repeats % 1000 == 0)
			flush_repeats(w);
		return;
	}
	flush_repeats(w);
	snprintf(w->last_warning, sizeof(w->last_warning), "%s", summary);
	log_warnx("%s", summary);
}

void writer_free(struct writer *w)
{
	if (!w)
		return;
	flush_repeats(w);
	while (w->outstanding) {
		struct batch *b = w->outstanding;
		outstanding_remove(w, b);
		batch_free(b);
	}
	free(w->keys);
	batch_free(w->open);
	while (w->head) {
		struct rec *r = w->head;
		w->head = r->next;
		rec_free(r);
	}
	free(w);
}

/* A record is finished: it may leave once everything before it has. */
static void rec_done(struct writer *w, struct rec *r)
{
	r->done = true;
	free(r->uid);
	free(r->item);
	r->uid = r->item = NULL;
	(void)w;
}

static void rec_mark(struct writer *w, struct rec *r, const char *code, const char *reason,
                     int retryable, bool parsed, unsigned long lineno)
{
	struct mark *m = calloc(1, sizeof(*m));

	if (m && (m->reason = strdup(reason)) != NULL) {
		m->code = code;
		m->retryable = retryable;
		m->parsed = parsed;
		m->lineno = lineno;
	} else {
		free(m);
		m = &oom_mark;
	}
	r->mark = m;
	w->stats.marked++;
	rec_done(w, r);
}

/* --- uids of outstanding batches ------------------------------------------ */

/* Every record asks whether its uid is being written: a hash set keeps
 * that constant-time however many requests are in flight. Entries count
 * the outstanding batches holding the uid (one, as the deferral rule keeps
 * a key out of two batches at once, but counting costs nothing). */
struct keynode {
	struct keynode *next;
	unsigned count;
	char key[];
};

static size_t key_hash(const struct writer *w, const char *key)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	return (size_t)h & (w->nbuckets - 1);
}

static bool key_outstanding(const struct writer *w, const char *key)
{
	for (const struct keynode *k = w->keys[key_hash(w, key)]; k; k = k->next)
		if (strcmp(k->key, key) == 0)
			return true;
	return false;
}

/* Returns false when out of memory. */
static bool key_add(struct writer *w, const char *key)
{
	struct keynode **head = &w->keys[key_hash(w, key)], *k;

	for (k = *head; k; k = k->next) {
		if (strcmp(k->key, key) == 0) {
			k->count++;
			return true;
		}
	}
	size_t len = strlen(key);
	if (!(k = malloc(sizeof(*k) + len + 1)))
		return false;
	k->count = 1;
	memcpy(k->key, key, len + 1);
	k->next = *head;
	*head = k;
	return true;
}

static void key_del(struct writer *w, const char *key)
{
	for (struct keynode **pp = &w->keys[key_hash(w, key)], *k; (k = *pp); pp = &k->next) {
		if (strcmp(k->key, key) == 0) {
			if (--k->count == 0) {
				*pp = k->next;
				free(k);
			}
			return;
		}
	}
}

/* --- batches ---------------------------------------------------------- */

static struct batch *batch_new(struct writer *w)
{
	struct batch *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->w = w;
	if (dynamodb_batch_init(&b->db, w->opt.table, w->opt.batch_size) < 0) {
		free(b);
		return NULL;
	}
	return b;
}

static void outstanding_remove(struct writer *w, struct batch *b)
{
	if (b->prev)
		b->prev->next = b->next;
	else
		w->outstanding = b->next;
	if (b->next)
		b->next->prev = b->prev;
	b->next = b->prev = NULL;
	w->noutstanding--;
	for (size_t i = 0; i < b->db.n; i++)
		key_del(w, b->db.put[i].key);
}

/* Returns false when out of memory (b is then not outstanding). */
static bool outstanding_add(struct writer *w, struct batch *b)
{
	b->prev = NULL;
	b->next = w->outstanding;
	if (w->outstanding)
		w->outstanding->prev = b;
	w->outstanding = b;
	w->noutstanding++;
	for (size_t i = 0; i < b->db.n; i++) {
		if (!key_add(w, b->db.put[i].key)) {
			/* undo exactly what was added */
			size_t n = b->db.n;
			b->db.n = i;
			outstanding_remove(w, b);
			b->db.n = n;
			return false;
		}
	}
	return true;
}

static void on_batch_done(void *arg, const struct awsreq_result *res);

/* Marks every record of a batch (it could not be stored). */
static void batch_mark(struct batch *b, const char *code, const char *reason, int retryable)
{
	for (size_t i = 0; i < b->db.n; i++) {
		for (struct rec *r = b->slot[i], *next; r; r = next) {
			next = r->chain;
			r->chain = NULL;
			rec_mark(b->w, r, code, reason, retryable, true, 0);
		}
		b->slot[i] = NULL;
	}
}

/* Sends a batch (now, or after delay_ms) and keeps it outstanding. */
static void batch_submit(struct writer *w, struct batch *b, unsigned delay_ms)
{
	char errstr[256];
	size_t len;
	char *body = dynamodb_batch_body(&b->db, &len);

	w->stats.batches++;
	w->stats.puts += b->db.n;
	b->sends++;
	if (!body || !outstanding_add(w, b)) {
		free(body);
		batch_mark(b, "no_memory", "out of memory building the request", 1);
		batch_free(b);
		return;
	}
	if (dynamodb_submit(w->client, "BatchWriteItem", body, len, delay_ms, on_batch_done, b, errstr,
	                    sizeof(errstr)) < 0) {
		outstanding_remove(w, b);
		batch_mark(b, "no_memory", errstr, 1); /* awsreq_submit fails only for memory */
		batch_free(b);
	}
}

/* Adds a waiting record to the open batch, sealing and sending the batch
 * first when the record does not fit. Returns 0, or -1 when out of memory
 * (the record is then marked). */
static int batch_take(struct writer *w, struct rec *r)
{
	for (int tries = 0; tries < 2; tries++) {
		if (!w->open) {
			w->open = batch_new(w);
			if (!w->open)
				break;
			w->open->opened_ms = now_ms();
		}
		int slot = dynamodb_batch_put(&w->open->db, r->uid, r->item, r->item_len);
		if (slot >= 0) {
			/* Records of one uid share the slot; order in the chain does
			 * not matter, they all succeed or fail with it. */
			r->chain = w->open->slot[slot];
			w->open->slot[slot] = r;
			w->open->last_add_ms = now_ms();
			free(r->item);
			r->item = NULL;
			if (w->open->db.n >= w->open->db.max_items)
				writer_tick(w, true);
			return 0;
		}
		if (slot != DYNAMODB_BATCH_FULL)
			break;
		writer_tick(w, true); /* full: send it and open another */
	}
	rec_mark(w, r, "no_memory", "out of memory while batching", 1, true, r->lineno);
	return -1;
}

/* Records waiting for a uid whose earlier write was outstanding: those now
 * free go to the open batch, in input order. */
static void drain_deferred(struct writer *w)
{
	struct rec **pp = &w->deferred;

	w->deferred_tail = NULL;
	while (*pp) {
		struct rec *r = *pp;
		if (key_outstanding(w, r->uid)) {
			w->deferred_tail = r;
			pp = &r->chain;
			continue;
		}
		*pp = r->chain;
		r->chain = NULL;
		batch_take(w, r);
	}
}

/* Items DynamoDB did not write: a new batch of them, after a backoff. */
static void resend_unprocessed(struct writer *w, struct batch *b, const bool *unprocessed)
{
	struct batch *nb = batch_new(w);

	if (nb)
		nb->sends = b->sends;
	for (size_t i = 0; i < b->db.n; i++) {
		if (!unprocessed[i])
			continue;
		int slot = nb ? dynamodb_batch_put(&nb->db, b->db.put[i].key, b->db.put[i].item,
		                                   b->db.put[i].item_len)
		              : -1;
		if (slot < 0) {
			for (struct rec *r = b->slot[i], *next; r; r = next) {
				next = r->chain;
				r->chain = NULL;
				rec_mark(w, r, "no_memory", "out of memory while retrying", 1, true, 0);
			}
		} else {
			nb->slot[slot] = b->slot[i];
		}
		b->slot[i] = NULL;
	}
	if (nb && nb->db.n > 0) {
		w->stats.resends++;
		batch_submit(w, nb, backoff_delay_ms(&w->backoff, (unsigned)(nb->sends - 1)));
	}
	else
		batch_free(nb);
}

/* A request refused as invalid: each item on its own, so only the bad
 * one is marked. */
static void split_batch(struct writer *w, struct batch *b)
{
	w->stats.split++;
	for (size_t i = 0; i < b->db.n; i++) {
		struct batch *nb = batch_new(w);
		int slot = nb ? dynamodb_batch_put(&nb->db, b->db.put[i].key, b->db.put[i].item,
		                                   b->db.put[i].item_len)
		              : -1;
		if (slot < 0) {
			for (struct rec *r = b->slot[i], *next; r; r = next) {
				next = r->chain;
				r->chain = NULL;
				rec_mark(w, r, "no_memory", "out of memory while retrying", 1, true, 0);
			}
			batch_free(nb);
		} else {
			nb->slot[0] = b->slot[i];
			nb->sends = b->sends;
			batch_submit(w, nb, 0);
		}
		b->slot[i] = NULL;
	}
}

static void on_batch_done(void *arg, const struct awsreq_result *res)
{
	struct batch *b = arg;
	struct writer *w = b->w;
	bool unprocessed[DYNAMODB_BATCH_MAX_ITEMS];
	char errstr[256], reason[1024];
	int n;

	outstanding_remove(w, b);
	if (res->cls == AWSREQ_OK) {
		n = dynamodb_batch_unprocessed(&b->db, res->body, res->body_len, KEY_ATTR, unprocessed,
		                               errstr, sizeof(errstr));
		bool unreadable = n < 0;
		if (unreadable) { /* a 200 we cannot read: as if nothing was written */
			for (size_t i = 0; i < b->db.n; i++)
				unprocessed[i] = true;
			n = (int)b->db.n;
		}
		for (size_t i = 0; i < b->db.n; i++) {
			if (unprocessed[i])
				continue;
			for (struct rec *r = b->slot[i], *next; r; r = next) {
				next = r->chain;
				r->chain = NULL;
				w->stats.stored++;
				rec_done(w, r);
			}
			b->slot[i] = NULL;
		}
		if (n > 0) {
			if (!unreadable)
				w->stats.unprocessed += (unsigned long)n;
			if (b->sends < w->opt.max_attempts) {
				resend_unprocessed(w, b, unprocessed);
			} else if (unreadable) {
				snprintf(reason, sizeof(reason),
				         "DynamoDB BatchWriteItem: HTTP 200, but %s (after %d attempts)", errstr,
				         b->sends);
				warn_failure(w, reason);
				batch_mark(b, "server_error", reason, 1);
			} else {
				snprintf(reason, sizeof(reason),
				         "DynamoDB BatchWriteItem left the item unprocessed %d times "
				         "(throughput exceeded)",
				         b->sends);
				batch_mark(b, "unprocessed", reason, 1);
			}
		}
	} else if (res->cls == AWSREQ_CLIENT && b->db.n > 1 && dynamodb_item_error(res->error_type)) {
		split_batch(w, b);
	} else if (res->cls == AWSREQ_CLIENT && b->db.n == 1 && dynamodb_item_error(res->error_type)) {
		/* one item, refused for itself (over 400 KB, say): only it fails */
		warn_failure(w, res->summary);
		batch_mark(b, "rejected", res->summary, 0);
	} else if (awsreq_class_stops(res->cls) || res->cls == AWSREQ_CLIENT) {
		/* About the request, not its records: rejected credentials (an
		 * expired session token, say), access denied, a certificate that
		 * does not verify, a table that does not exist, an answer that is
		 * not DynamoDB's (a proxy's 302 or 404), a refusal of the request
		 * as such. Every record would fail the same way: marking them all
		 * would send the whole stream to the retry queue or the DLQ. The
		 * batch's records stay unfinished, never written out (so never
		 * acknowledged upstream), and the tool stops with a status a
		 * supervisor acts on. */
		if (!w->fatal[0]) {
			if (res->cls == AWSREQ_MISSING) {
				snprintf(w->fatal, sizeof(w->fatal), "DynamoDB table %s does not exist: %s",
				         w->opt.table, res->summary);
				w->fatal_status = EX_CONFIG;
			} else {
				snprintf(w->fatal, sizeof(w->fatal), "%s", res->summary);
				w->fatal_status = EX_UNAVAILABLE;
			}
		}
	} else {
		warn_failure(w, res->summary);
		batch_mark(b, awsreq_class_name(res->cls), res->summary, res->retryable ? 1 : 0);
	}
	batch_free(b);
	drain_deferred(w);
}

/* --- input ------------------------------------------------------------ */

/* Checks the record's fields and builds its item (lib/event.c: the same
 * item retry writes). Returns 0, or -1 with code and reason set. */
static int make_item(struct rec *r, const cJSON *obj, const char **code, char *reason,
                     size_t reason_size)
{
	return event_item(obj, &r->uid, &r->item, &r->item_len, code, reason, reason_size);
}

int writer_add(struct writer *w, const struct record_line *line)
{
	struct rec *r = calloc(1, sizeof(*r));
	enum record_fault fault;
	char reason[1024];
	const char *code;

	if (!r || !(r->line = malloc(line->len + line->tail_len + 1))) {
		free(r);
		return -1;
	}
	memcpy(r->line, line->data, line->len);
	r->line[line->len] = '\0';
	r->len = line->len;
	r->lineno = line->lineno;
	r->too_long = line->too_long;
	if (line->tail_len) { /* kept for its "_src" (lib/record.h) */
		memcpy(r->line + r->len + 1, line->tail, line->tail_len);
		r->tail_len = line->tail_len;
	}
	if (w->tail)
		w->tail->next = r;
	else
		w->head = r;
	w->tail = r;
	w->buffered += r->len + sizeof(*r);
	w->stats.records_in++;

	jsonarena_begin();
	cJSON *obj = record_parse(line, true, &fault, reason, sizeof(reason));
	if (!obj) {
		rec_mark(w, r, record_fault_code(fault), reason, 0, false, r->lineno);
	} else if (cJSON_GetObjectItemCaseSensitive(obj, "_error")) {
		/* failed at an earlier stage: passes untouched */
		w->stats.passed++;
		rec_done(w, r);
	} else if (make_item(r, obj, &code, reason, sizeof(reason)) < 0) {
		rec_mark(w, r, code, reason, 0, true, r->lineno);
	}
	cJSON_Delete(obj);
	jsonarena_end();

	if (r->done)
		return 0;
	if (key_outstanding(w, r->uid)) {
		/* An earlier write of this uid is on its way: this one goes after. */
		if (w->deferred_tail)
			w->deferred_tail->chain = r;
		else
			w->deferred = r;
		w->deferred_tail = r;
		return 0;
	}
	return batch_take(w, r);
}

void writer_tick(struct writer *w, bool force)
{
	struct batch *b = w->open;

	if (!b || b->db.n == 0)
		return;
	uint64_t now = now_ms();
	if (!force && b->db.n < b->db.max_items && now < b->last_add_ms + w->opt.linger_ms &&
	    now < b->opened_ms + (uint64_t)MAX_AGE_FACTOR * w->opt.linger_ms)
		return;
	w->open = NULL;
	batch_submit(w, b, 0);
}

int writer_timeout_ms(const struct writer *w)
{
	const struct batch *b = w->open;

	if (!b || b->db.n == 0)
		return -1;
	uint64_t now = now_ms();
	uint64_t due = b->last_add_ms + w->opt.linger_ms;
	uint64_t max_age = b->opened_ms + (uint64_t)MAX_AGE_FACTOR * w->opt.linger_ms;
	if (max_age < due)
		due = max_age;
	return due > now ? (int)(due - now) : 0;
}

/* --- output ----------------------------------------------------------- */

static int write_rec(FILE *out, const struct rec *r)
{
	if (!r->mark)
		return record_write_line(out, r->line, r->len);

	const struct mark *m = r->mark;
	struct record_line l = {.data = r->line, .len = r->len, .lineno = r->lineno,
	                        .too_long = r->too_long, .tail = r->line + r->len + 1,
	                        .tail_len = r->tail_len};
	struct record_error e = {
		.stage = "persist",
		.code = m->code,
		.reason = m->reason ? m->reason : "out of memory",
		.retryable = m->retryable,
		.lineno = m->lineno,
	};
	enum record_fault fault;
	char reason[64];
	int rc;

	jsonarena_begin();
	cJSON *obj = m->parsed ? record_parse(&l, true, &fault, reason, sizeof(reason)) : NULL;
	rc = record_write_marked(out, &l, obj, &e);
	cJSON_Delete(obj);
	jsonarena_end();
	return rc;
}

long writer_output(struct writer *w)
{
	long n = 0;

	while (w->head && w->head->done) {
		struct rec *r = w->head;
		if (write_rec(w->out, r) < 0)
			return -1;
		w->head = r->next;
		if (!w->head)
			w->tail = NULL;
		w->buffered -= r->len + sizeof(*r);
		w->stats.records_out++;
		rec_free(r);
		n++;
	}
	return n;
}

bool writer_has_room(const struct writer *w)
{
	return w->noutstanding < w->opt.max_batches && w->buffered < w->opt.max_buffered;
}

bool writer_idle(const struct writer *w)
{
	return !w->head && !w->outstanding && (!w->open || w->open->db.n == 0);
}

void writer_abandon(struct writer *w, const char *reason)
{
	while (w->outstanding) {
		struct batch *b = w->outstanding;
		outstanding_remove(w, b);
		batch_mark(b, "interrupted", reason, 1);
		batch_free(b);
	}
	if (w->open) {
		batch_mark(w->open, "interrupted", reason, 1);
		batch_free(w->open);
		w->open = NULL;
	}
	for (struct rec *r = w->deferred, *next; r; r = next) {
		next = r->chain;
		r->chain = NULL;
		rec_mark(w, r, "interrupted", reason, 1, true, 0);
	}
	w->deferred = w->deferred_tail = NULL;
}

const char *writer_fatal(const struct writer *w)
{
	return w->fatal[0] ? w->fatal : NULL;
}

int writer_fatal_status(const struct writer *w)
{
	return w->fatal[0] ? w->fatal_status : EX_OK;
}

const struct writer_stats *writer_stats(const struct writer *w)
{
	return &w->stats;
}
