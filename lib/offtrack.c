/* Offset tracking: one ring of outstanding offsets per assigned partition.
 *
 * Because every stage of the pipeline keeps order, the outcome of offset N
 * arrives after those of all earlier offsets of its partition, and storing
 * N+1 would be right on its own. The ring is there anyway, so that a stage
 * that reorders by mistake, an ack line lost or mangled on its way back, or
 * a duplicate ack can never move the committed position past a record that
 * is not done: the store position only advances over a contiguous run of
 * acknowledged offsets at the front of the ring. */
#include "offtrack.h"

#include <stdlib.h>
#include <string.h>

struct entry {
	int64_t offset;
	uint64_t mark;
	bool acked;
};

struct part {
	char *topic;
	int32_t partition;
	struct entry *ring; /* capacity is a power of two */
	size_t cap, head, count;
	int64_t last_written; /* -1 before the first write */
	int64_t store;        /* -1 before the first settled record */
	int64_t paused_at;    /* offtrack_set_paused_at, -1 when not set */
	bool dirty, eof;
};

struct offtrack {
	struct part *parts;
	size_t nparts, cap;
	size_t outstanding;
	size_t last_hit; /* acks come in runs for one partition */
};

struct offtrack *offtrack_new(void)
{
	return calloc(1, sizeof(struct offtrack));
}

static void part_clear(struct part *p)
{
	free(p->topic);
	free(p->ring);
}

void offtrack_free(struct offtrack *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nparts; i++)
		part_clear(&t->parts[i]);
	free(t->parts);
	free(t);
}

static struct part *find(struct offtrack *t, const char *topic, int32_t partition)
{
	if (t->last_hit < t->nparts) {
		struct part *p = &t->parts[t->last_hit];
		if (p->partition == partition && strcmp(p->topic, topic) == 0)
			return p;
	}
	for (size_t i = 0; i < t->nparts; i++) {
		struct part *p = &t->parts[i];
		if (p->partition == partition && strcmp(p->topic, topic) == 0) {
			t->last_hit = i;
			return p;
		}
	}
	return NULL;
}

static void part_reset(struct offtrack *t, struct part *p)
{
	t->outstanding -= p->count;
	p->head = p->count = 0;
	p->last_written = -1;
	p->eof = false;
}

int offtrack_assign(struct offtrack *t, const char *topic, int32_t partition)
{
	struct part *p = find(t, topic, partition);

	if (p) {
		part_reset(t, p);
		p->store = -1;
		p->paused_at = -1;
		p->dirty = false;
		return 0;
	}
	if (t->nparts == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 8;
		struct part *n = realloc(t->parts, ncap * sizeof(*n));
		if (!n)
			return -1;
		t->parts = n;
		t->cap = ncap;
	}
	p = &t->parts[t->nparts];
	memset(p, 0, sizeof(*p));
	p->topic = strdup(topic);
	if (!p->topic)
		return -1;
	p->partition = partition;
	p->last_written = -1;
	p->store = -1;
	p->paused_at = -1;
	t->nparts++;
	return 0;
}

size_t offtrack_revoke(struct offtrack *t, const char *topic, int32_t partition)
{
	struct part *p = find(t, topic, partition);
	size_t dropped;

	if (!p)
		return 0;
	dropped = p->count;
	t->outstanding -= p->count;
	part_clear(p);
	/* the last entry fills the hole; order of the table does not matter */
	*p = t->parts[--t->nparts];
	return dropped;
}

void offtrack_revoke_all(struct offtrack *t)
{
	for (size_t i = 0; i < t->nparts; i++)
		part_clear(&t->parts[i]);
	t->nparts = 0;
	t->outstanding = 0;
}

static struct entry *at(const struct part *p, size_t i)
{
	return &p->ring[(p->head + i) & (p->cap - 1)];
}

/* Drops the acknowledged run at the front (with upto, also the records
 * marked at most *upto); the store position follows it. */
static void settle_front(struct offtrack *t, struct part *p, const uint64_t *upto)
{
	while (p->count > 0) {
		struct entry *e = at(p, 0);
		if (!e->acked && (!upto || e->mark > *upto))
			break;
		p->store = e->offset + 1;
		p->dirty = true;
		p->head = (p->head + 1) & (p->cap - 1);
		p->count--;
		t->outstanding--;
	}
}

enum offtrack_result offtrack_written(struct offtrack *t, const char *topic, int32_t partition,
                                      int64_t offset, uint64_t mark)
{
	struct part *p = find(t, topic, partition);
	enum offtrack_result res = OFFTRACK_OK;

	if (!p)
		return OFFTRACK_UNASSIGNED;
	if (offset <= p->last_written) {
		/* The consumer went back (an offset reset): what was outstanding
		 * will be delivered again, and the ring must stay sorted. */
		part_reset(t, p);
		res = OFFTRACK_REWOUND;
	}
	if (p->count == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 64;
		struct entry *n = malloc(ncap * sizeof(*n));
		if (!n)
			return OFFTRACK_NOMEM;
		for (size_t i = 0; i < p->count; i++)
			n[i] = *at(p, i);
		free(p->ring);
		p->ring = n;
		p->cap = ncap;
		p->head = 0;
	}
	*at(p, p->count) = (struct entry){.offset = offset, .mark = mark, .acked = false};
	p->count++;
	p->last_written = offset;
	p->eof = false;
	t->outstanding++;
	return res;
}

enum offtrack_result offtrack_ack(struct offtrack *t, const char *topic, int32_t partition,
                                  int64_t offset)
{
	struct part *p = find(t, topic, partition);
	size_t lo = 0, hi;

	if (!p)
		return OFFTRACK_UNASSIGNED;
	/* The ring is sorted by offset: binary search. */
	hi = p->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (at(p, mid)->offset < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == p->count || at(p, lo)->offset != offset || at(p, lo)->acked)
		return OFFTRACK_UNKNOWN;
	at(p, lo)->acked = true;
	if (lo == 0)
		settle_front(t, p, NULL);
	return OFFTRACK_OK;
}

void offtrack_settle_upto(struct offtrack *t, uint64_t upto)
{
	for (size_t i = 0; i < t->nparts; i++)
		settle_front(t, &t->parts[i], &upto);
}

void offtrack_set_eof(struct offtrack *t, const char *topic, int32_t partition, bool eof)
{
	struct part *p = find(t, topic, partition);

	if (p)
		p->eof = eof;
}

bool offtrack_all_eof(const struct offtrack *t)
{
	if (t->nparts == 0)
		return false;
	for (size_t i = 0; i < t->nparts; i++)
		if (!t->parts[i].eof)
			return false;
	return true;
}

size_t offtrack_outstanding(const struct offtrack *t)
{
	return t->outstanding;
}

size_t offtrack_count(const struct offtrack *t)
{
	return t->nparts;
}

void offtrack_get(const struct offtrack *t, size_t index, struct offtrack_part *out)
{
	const struct part *p = &t->parts[index];

	out->topic = p->topic;
	out->partition = p->partition;
	out->store = p->store;
	out->dirty = p->dirty;
	out->outstanding = p->count;
	out->eof = p->eof;
	/* the front entry is never acknowledged: settle_front drops those */
	out->oldest = p->count ? at(p, 0)->offset : -1;
	out->oldest_mark = p->count ? at(p, 0)->mark : 0;
	out->paused_at = p->paused_at;
}

void offtrack_set_paused_at(struct offtrack *t, size_t index, int64_t offset)
{
	t->parts[index].paused_at = offset;
}

void offtrack_clean(struct offtrack *t, size_t index)
{
	t->parts[index].dirty = false;
}
