/* Unit tests for lib/jsonarena: trees parsed between begin and end are
 * right and their memory is reused by the next record; a record larger than
 * a chunk works and the grown chunk goes at the end; a malloc'ed tree may
 * be freed inside begin/end; after uninstall cJSON uses malloc again.
 * Under AddressSanitizer (the SAN build), the memory of a tree whose record
 * ended is poisoned, so a use after jsonarena_end() is reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "jsonarena.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif
#ifdef HAVE_ASAN
#include <sanitizer/asan_interface.h>
#endif

static int setup(void **state)
{
	(void)state;
	return jsonarena_install() ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	jsonarena_uninstall();
	return 0;
}

static void test_records_reuse_the_chunk(void **state)
{
	(void)state;
	static const char a[] = "{\"uid\":\"a\",\"n\":[1,2,3]}", b[] = "{\"uid\":\"b\",\"m\":{\"x\":true}}";

	jsonarena_begin();
	cJSON *t1 = cJSON_Parse(a);
	assert_non_null(t1);
	char *p1 = cJSON_PrintUnformatted(t1);
	assert_string_equal(p1, a);
	void *first = t1;
	cJSON_free(p1);
	cJSON_Delete(t1);
	jsonarena_end();
#ifdef HAVE_ASAN
	/* the record ended: its nodes are poisoned until handed out again */
	assert_true(__asan_address_is_poisoned(first));
	assert_true(__asan_address_is_poisoned((char *)first + sizeof(cJSON) - 1));
#endif

	jsonarena_begin();
	cJSON *t2 = cJSON_Parse(b);
	assert_non_null(t2);
	assert_ptr_equal(t2, first); /* the same memory, for the next record */
#ifdef HAVE_ASAN
	assert_false(__asan_address_is_poisoned(t2));
#endif
	char *p2 = cJSON_PrintUnformatted(t2);
	assert_string_equal(p2, b);
	cJSON_free(p2);
	cJSON_Delete(t2);
	jsonarena_end();
}

static void test_a_record_larger_than_a_chunk(void **state)
{
	(void)state;
	enum { N = 20000 }; /* ~20,000 nodes: several 64 KiB chunks */
	char *text = malloc(N * 2 + 2);
	size_t n = 0;

	assert_non_null(text);
	text[n++] = '[';
	for (int i = 0; i < N; i++) {
		if (i)
			text[n++] = ',';
		text[n++] = (char)('0' + i % 10);
	}
	text[n++] = ']';
	text[n] = '\0';
	jsonarena_begin();
	cJSON *t = cJSON_Parse(text);
	assert_non_null(t);
	assert_int_equal(cJSON_GetArraySize(t), N);
	assert_int_equal(cJSON_GetArrayItem(t, N - 1)->valueint, (N - 1) % 10);
	char *p = cJSON_PrintUnformatted(t);
	assert_string_equal(p, text);
	cJSON_free(p);
	cJSON_Delete(t);
	jsonarena_end();
	/* and the next small record still works in the kept chunk */
	jsonarena_begin();
	t = cJSON_Parse("[true]");
	assert_true(cJSON_IsTrue(cJSON_GetArrayItem(t, 0)));
	cJSON_Delete(t);
	jsonarena_end();
	free(text);
}

static void test_malloc_trees_around_the_arena(void **state)
{
	(void)state;
	/* made outside begin/end (malloc), freed inside: back to free() */
	cJSON *outside = cJSON_Parse("{\"kept\":[1,2]}");
	assert_non_null(outside);
	jsonarena_begin();
	cJSON *inside = cJSON_Parse("[1]");
	cJSON_Delete(outside);
	cJSON_Delete(inside);
	jsonarena_end();
	/* made outside, used after an end: not arena memory, still good */
	outside = cJSON_Parse("{\"a\":\"b\"}");
	jsonarena_begin();
	jsonarena_end();
#ifdef HAVE_ASAN
	assert_false(__asan_address_is_poisoned(outside));
#endif
	assert_string_equal(cJSON_GetObjectItem(outside, "a")->valuestring, "b");
	cJSON_Delete(outside);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records_reuse_the_chunk),
		cmocka_unit_test(test_a_record_larger_than_a_chunk),
		cmocka_unit_test(test_malloc_trees_around_the_arena),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
