/* Unit tests for what lib/offtrack reports for --stuck-after (issue 12):
 * each partition's oldest outstanding offset with the mark it was written
 * with, and the paused_at note, cleared by a new assignment. (The rest of
 * offtrack is in test_offtrack.c.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "offtrack.h"

static void part(struct offtrack *t, struct offtrack_part *p)
{
	assert_int_equal(offtrack_count(t), 1);
	offtrack_get(t, 0, p);
}

static void test_oldest_outstanding(void **state)
{
	(void)state;
	struct offtrack *t = offtrack_new();
	struct offtrack_part p;

	assert_non_null(t);
	assert_int_equal(offtrack_assign(t, "t", 0), 0);
	part(t, &p);
	assert_int_equal(p.oldest, -1);
	assert_int_equal(p.paused_at, -1);

	/* written at "times" 100, 200, 300 */
	for (int64_t o = 10; o < 13; o++)
		assert_int_equal(offtrack_written(t, "t", 0, o, (uint64_t)(o - 9) * 100),
		                 OFFTRACK_OK);
	part(t, &p);
	assert_int_equal(p.oldest, 10);
	assert_int_equal(p.oldest_mark, 100);

	/* an ack behind the oldest does not move it … */
	assert_int_equal(offtrack_ack(t, "t", 0, 11), OFFTRACK_OK);
	part(t, &p);
	assert_int_equal(p.oldest, 10);
	/* … the oldest's own does, over the acknowledged run */
	assert_int_equal(offtrack_ack(t, "t", 0, 10), OFFTRACK_OK);
	part(t, &p);
	assert_int_equal(p.oldest, 12);
	assert_int_equal(p.oldest_mark, 300);
	assert_int_equal(offtrack_ack(t, "t", 0, 12), OFFTRACK_OK);
	part(t, &p);
	assert_int_equal(p.oldest, -1);
	assert_int_equal(p.outstanding, 0);
	offtrack_free(t);
}

static void test_paused_at(void **state)
{
	(void)state;
	struct offtrack *t = offtrack_new();
	struct offtrack_part p;

	assert_non_null(t);
	assert_int_equal(offtrack_assign(t, "t", 3), 0);
	assert_int_equal(offtrack_written(t, "t", 3, 5, 1), OFFTRACK_OK);
	offtrack_set_paused_at(t, 0, 5);
	part(t, &p);
	assert_int_equal(p.paused_at, 5);
	/* kept while acks come and go; the caller compares it with oldest */
	assert_int_equal(offtrack_written(t, "t", 3, 6, 2), OFFTRACK_OK);
	assert_int_equal(offtrack_ack(t, "t", 3, 5), OFFTRACK_OK);
	part(t, &p);
	assert_int_equal(p.paused_at, 5);
	assert_int_equal(p.oldest, 6);
	/* assigned again: a fresh start */
	assert_int_equal(offtrack_assign(t, "t", 3), 0);
	part(t, &p);
	assert_int_equal(p.paused_at, -1);
	assert_int_equal(p.oldest, -1);
	/* revoked: gone with the partition */
	offtrack_set_paused_at(t, 0, 9);
	assert_int_equal(offtrack_revoke(t, "t", 3), 0);
	assert_int_equal(offtrack_count(t), 0);
	assert_int_equal(offtrack_assign(t, "t", 3), 0);
	part(t, &p);
	assert_int_equal(p.paused_at, -1);
	offtrack_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_oldest_outstanding),
	    cmocka_unit_test(test_paused_at),
	};
	return cmocka_run_group_tests_name("offtrack_oldest", tests, NULL, NULL);
}
