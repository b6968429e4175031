/* Unit tests for lib/offtrack: the store position moves only over a
 * contiguous run of acknowledged offsets, whatever order acks come in;
 * revoked partitions and stray acks are reported, not counted; records
 * settled by output position when there are no acks; end-of-log flags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "offtrack.h"

#define T "stream_producer"

/* The store position of one partition (-2 when not tracked). */
static int64_t store_of(const struct offtrack *t, const char *topic, int32_t partition)
{
	struct offtrack_part p;

	for (size_t i = 0; i < offtrack_count(t); i++) {
		offtrack_get(t, i, &p);
		if (p.partition == partition && strcmp(p.topic, topic) == 0)
			return p.store;
	}
	return -2;
}

static void test_in_order_acks_advance_store(void **state)
{
	(void)state;
	struct offtrack *t = offtrack_new();

	assert_int_equal(offtrack_assign(t, T, 0), 0);
	assert_int_equal(store_of(t, T, 0), -1);
	for (int64_t o = 10; o < 15; o++)
		assert_int_equal(offtrack_written(t, T, 0, o, 0), OFFTRACK_OK);
	assert_int_equal(offtrack_outstanding(t), 5);
	assert_int_equal(offtrack_ack(t, T, 0, 10), OFFTRACK_OK);
	assert_int_equal(store_of(t, T, 0), 11);
	assert_int_equal(offtrack_ack(t, T, 0, 11), OFFTRACK_OK);
	assert_int_equal(store_of(t, T, 0), 12);
	assert_int_equal(offtrack_outstanding(t), 3);
	offtrack_free(t);
}

static void test_out_of_order_acks_wait_for_the_gap(void **state)
{
	(void)state;
	struct offtrack *t = offtrack_new();

	offtrack_assign(t, T, 1);
	for (int64_t o = 0; o < 5; o++)
		offtrack_written(t, T, 1, o, 0);
	/* 3 and 1 come back before 0: nothing may be stored yet */
	assert_int_equal(offtrack_ack(t, T, 1, 3), OFFTRACK_OK);
	assert_int_equal(offtrack_ack(t, T, 1, 1), OFFTRACK_OK);
	assert_int_equal(store_of(t, T, 1), -1);
	assert_int_equal(offtrack_ack(t, T, 1, 0), OFFTRACK_OK);
	assert_int_equal(store_of(t, T, 1), 2); /* 0 and 1 done, 2 not */
	assert_int_equal(offtrack_ack(t, T, 1, 2), OFFTRACK_OK);
	assert_int_equal(store_of(t, T, 1), 4); /* 3 was already acked */
	assert_int_equal(offtrack_ack(t, T, 1, 4), OFFTRACK_OK);
	assert_int_equal(store_of(t, T, 1), 5);
	assert_int_equal(offtrack_outstanding(t), 0);
	offtrack_free(t);
}

static void test_gaps_in_offsets(void **state)
{
	(void)state;
	struct offtrack *t = offtrack_new();

	/* compaction or transaction markers leave holes in the offsets */
	offtrack_assign(t, T, 0);
	offtrack_written(t, T, 0, 5, 0);
	offtrack_written(t, T, 0, 9, 0);
	assert_int_equal(offtrack_ack(t, T, 0, 7), OFFTRACK_UNKNOWN);
	assert_int_equal(offtrack_ack(t, T, 0, 9), OFFTRACK_OK);
	assert_int_equal(store_of(t, T, 0), -1);
	assert_int_equal(offtrack_ack(t, T, 0, 5), OFFTRACK_OK);
	assert_int_equal(store_of(t, T, 0), 10);
	offtrack_free(t);
}

static void test_duplicate_and_stray_acks(void **state)
{
	(void)state;
	struct offtrack *t = offtrack_new();

	offtrack_assign(t, T, 0);
	offtrack_written(t, T, 0, 0, 0);
	offtrack_written(t, T, 0, 1, 0);
	assert_int_equal(offtrack_ack(t, T, 0, 1), OFFTRACK_OK);
	assert_int_equal(offtrack_ack(t, T, 0, 1), OFFTRACK_UNKNOWN); /* twice */
	assert_int_equal(offtrack_ack(t, T, 0, 0), OFFTRACK_OK);
	assert_int_equal(offtrack_ack(t, T, 0, 0), OFFTRACK_UNKNOWN); /* after it settled */
	assert_int_equal(offtrack_ack(t, T, 0, 99), OFFTRACK_UNKNOWN); /* never written */
	assert_int_equal(offtrack_ack(t, T, 7, 0), OFFTRACK_UNASSIGNED);
	assert_int_equal(offtrack_ack(t, "other", 0, 0), OFFTRACK_UNASSIGNED);
	assert_int_equal(store_of(t, T, 0), 2);
	offtrack_free(t);
}

static void test_revoke_drops_outstanding(void **state)
{
	(void)state;
	struct offtrack *t = offtrack_new();

	offtrack_assign(t, T, 0);
	offtrack_assign(t, T, 1);
	offtrack_written(t, T, 0, 0, 0);
	offtrack_written(t, T, 0, 1, 0);
	offtrack_written(t, T, 1, 0, 0);
	assert_int_equal(offtrack_outstanding(t), 3);
	assert_int_equal(offtrack_revoke(t, T, 0), 2);
	assert_int_equal(offtrack_outstanding(t), 1);
	assert_int_equal(offtrack_count(t), 1);
	/* the new owner re-delivers them: their acks are not ours any more */
	assert_int_equal(offtrack_ack(t, T, 0, 0), OFFTRACK_UNASSIGNED);
	assert_int_equal(offtrack_written(t, T, 0, 2, 0), OFFTRACK_UNASSIGNED);
	assert_int_equal(offtrack_ack(t, T, 1, 0), OFFTRACK_OK);
	assert_int_equal(store_of(t, T, 1), 1);
	/* assigned again: a fresh start, from wherever the group resumes */
	offtrack_assign(t, T, 0);
	assert_int_equal(store_of(t, T, 0), -1);
	assert_int_equal(offtrack_written(t, T, 0, 0, 0), OFFTRACK_OK);
	offtrack_revoke_all(t);
	assert_int_equal(offtrack_count(t), 0);
	assert_int_equal(offtrack_outstanding(t), 0);
	offtrack_free(t);
}

static void test_rewind_restarts_partition(void **state)
{
	(void)state;
	struct offtrack *t = offtrack_new();

	offtrack_assign(t, T, 0);
	offtrack_written(t, T, 0, 10, 0);
	offtrack_written(t, T, 0, 11, 0);
	assert_int_equal(offtrack_written(t, T, 0, 4, 0), OFFTRACK_REWOUND);
	assert_int_equal(offtrack_outstanding(t), 1);
	assert_int_equal(offtrack_ack(t, T, 0, 10), OFFTRACK_UNKNOWN);
	assert_int_equal(offtrack_ack(t, T, 0, 4), OFFTRACK_OK);
	assert_int_equal(store_of(t, T, 0), 5);
	offtrack_free(t);
}

static void test_ring_grows_and_wraps(void **state)
{
	(void)state;
	struct offtrack *t = offtrack_new();
	int64_t next = 0, acked = 0;

	offtrack_assign(t, T, 3);
	/* write ahead of the acks by a varying amount, so the ring wraps and
	 * grows while holding entries */
	for (int round = 0; round < 200; round++) {
		int w = (round * 37) % 150 + 1;
		for (int i = 0; i < w; i++)
			assert_int_equal(offtrack_written(t, T, 3, next++, 0), OFFTRACK_OK);
		int a = (round * 53) % 150 + 1;
		for (int i = 0; i < a && acked < next; i++)
			assert_int_equal(offtrack_ack(t, T, 3, acked++), OFFTRACK_OK);
		assert_int_equal(store_of(t, T, 3), acked ? acked : -1);
		assert_int_equal(offtrack_outstanding(t), (size_t)(next - acked));
	}
	offtrack_free(t);
}

/* Out of order across the wrap: the ring holds a window of outstanding
 * offsets (with gaps between offsets) that grows, shrinks and wraps many
 * times, and each round acknowledges a pseudo-random subset of it in
 * pseudo-random order. A model (the written offsets in order, each with its
 * ack) says where the store position must be: one past the last offset of
 * the acknowledged prefix, never further, never back. */
static uint32_t prng_state = 2463534242u;
static uint32_t prng(void)
{
	prng_state ^= prng_state << 13;
	prng_state ^= prng_state >> 17;
	prng_state ^= prng_state << 5;
	return prng_state;
}

static void test_ring_out_of_order_across_the_wrap(void **state)
{
	(void)state;
	enum { MAXW = 40000 };
	static int64_t off[MAXW];
	static bool acked[MAXW];
	size_t nw = 0, first = 0, prefix = 0;
	int64_t next = 1000, last_store = -1;
	struct offtrack *t = offtrack_new();

	assert_non_null(t);
	offtrack_assign(t, T, 7);
	for (int round = 0; round < 400; round++) {
		/* write a varying amount ahead: the window reaches ~300 */
		size_t w = prng() % (round % 50 < 25 ? 120 : 40) + 1;
		for (size_t i = 0; i < w && nw < MAXW; i++) {
			next += 1 + (prng() % 8 == 0); /* a gap now and then */
			off[nw] = next;
			acked[nw] = false;
			assert_int_equal(offtrack_written(t, T, 7, next, 0), OFFTRACK_OK);
			nw++;
		}
		/* ack about a third of the outstanding window, at random places */
		size_t window = nw - first, tries = window / 3 + 1;
		for (size_t i = 0; i < tries; i++) {
			size_t k = first + prng() % window;
			enum offtrack_result r = offtrack_ack(t, T, 7, off[k]);
			if (acked[k]) {
				assert_int_equal(r, OFFTRACK_UNKNOWN);
			} else {
				assert_int_equal(r, OFFTRACK_OK);
				acked[k] = true;
			}
		}
		/* every few rounds, also the oldest one: the prefix moves */
		if (round % 3 == 0 && first < nw && !acked[first]) {
			assert_int_equal(offtrack_ack(t, T, 7, off[first]), OFFTRACK_OK);
			acked[first] = true;
		}
		while (prefix < nw && acked[prefix])
			prefix++;
		first = prefix;
		int64_t want = prefix ? off[prefix - 1] + 1 : -1;
		assert_int_equal(store_of(t, T, 7), want);
		assert_true(want >= last_store);
		last_store = want;
		/* (what the table counts as outstanding: every record not yet
		 * settled, acked ones behind a gap included) */
		assert_int_equal(offtrack_outstanding(t), nw - prefix);
	}
	/* the rest, newest first: the store stays until the oldest is acked */
	int64_t before = first ? off[first - 1] + 1 : -1;
	for (size_t k = nw; k-- > first;) {
		if (acked[k])
			continue;
		assert_int_equal(offtrack_ack(t, T, 7, off[k]), OFFTRACK_OK);
		assert_int_equal(store_of(t, T, 7), k == first ? off[nw - 1] + 1 : before);
	}
	assert_int_equal(offtrack_outstanding(t), 0);
	assert_int_equal(store_of(t, T, 7), off[nw - 1] + 1);
	offtrack_free(t);
}

static void test_settle_by_mark(void **state)
{
	(void)state;
	struct offtrack *t = offtrack_new();

	offtrack_assign(t, T, 0);
	offtrack_assign(t, T, 1);
	offtrack_written(t, T, 0, 0, 100);
	offtrack_written(t, T, 1, 0, 200);
	offtrack_written(t, T, 0, 1, 300);
	offtrack_settle_upto(t, 250);
	assert_int_equal(store_of(t, T, 0), 1);
	assert_int_equal(store_of(t, T, 1), 1);
	assert_int_equal(offtrack_outstanding(t), 1);
	offtrack_settle_upto(t, 300);
	assert_int_equal(store_of(t, T, 0), 2);
	assert_int_equal(offtrack_outstanding(t), 0);
	offtrack_free(t);
}

static void test_dirty_flags(void **state)
{
	(void)state;
	struct offtrack *t = offtrack_new();
	struct offtrack_part p;

	offtrack_assign(t, T, 0);
	offtrack_get(t, 0, &p);
	assert_false(p.dirty);
	offtrack_written(t, T, 0, 0, 0);
	offtrack_ack(t, T, 0, 0);
	offtrack_get(t, 0, &p);
	assert_true(p.dirty);
	assert_int_equal(p.store, 1);
	offtrack_clean(t, 0);
	offtrack_get(t, 0, &p);
	assert_false(p.dirty);
	offtrack_free(t);
}

static void test_eof(void **state)
{
	(void)state;
	struct offtrack *t = offtrack_new();

	assert_false(offtrack_all_eof(t)); /* nothing assigned is not "at the end" */
	offtrack_assign(t, T, 0);
	offtrack_assign(t, T, 1);
	offtrack_set_eof(t, T, 0, true);
	assert_false(offtrack_all_eof(t));
	offtrack_set_eof(t, T, 1, true);
	offtrack_set_eof(t, T, 9, true); /* not ours: ignored */
	assert_true(offtrack_all_eof(t));
	offtrack_written(t, T, 1, 0, 0); /* a new message: no longer at the end */
	assert_false(offtrack_all_eof(t));
	offtrack_free(t);
	offtrack_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order_acks_advance_store),
		cmocka_unit_test(test_out_of_order_acks_wait_for_the_gap),
		cmocka_unit_test(test_gaps_in_offsets),
		cmocka_unit_test(test_duplicate_and_stray_acks),
		cmocka_unit_test(test_revoke_drops_outstanding),
		cmocka_unit_test(test_rewind_restarts_partition),
		cmocka_unit_test(test_ring_grows_and_wraps),
		cmocka_unit_test(test_ring_out_of_order_across_the_wrap),
		cmocka_unit_test(test_settle_by_mark),
		cmocka_unit_test(test_dirty_flags),
		cmocka_unit_test(test_eof),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
