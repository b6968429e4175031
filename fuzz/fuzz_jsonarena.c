/* Any bytes as records parsed with lib/jsonarena.c installed, the way
 * validate, persist and kcat-in use it: each line is one record, its tree
 * built, printed, duplicated, changed and deleted between jsonarena_begin()
 * and jsonarena_end(), so the arena's chunks are reused from one record to
 * the next; the first byte also repeats the record up to 63 times in one
 * array, so that a record outgrows the 64 KiB chunk and a grown chunk is
 * released at the end. A tree built with malloc (outside begin/end) is
 * freed inside one: the arena hands it back to free().
 *
 * Invariants: what cJSON makes of a record in the arena is what it makes of
 * it with malloc (printed the same; a duplicate prints the same too); a
 * record cJSON refuses is refused in both. Under ASan, lib/jsonarena.c
 * poisons the chunks' free space and the chunk it keeps at
 * jsonarena_end(), so a node used after its record ended (a tree kept
 * across records) is reported as a use-after-poison, not read silently. */
#include "fuzz.h"

#include <cjson/cJSON.h>

#include "jsonarena.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	if (!jsonarena_install())
		abort();
	return 0;
}

/* cJSON's unformatted print of v (NULL for NULL); caller frees with
 * cJSON_free() in the same arena state. */
static char *print(const cJSON *v)
{
	return v ? cJSON_PrintUnformatted(v) : NULL;
}

static void one_record(const char *text, size_t len)
{
	/* with malloc: the reference */
	cJSON *ref = cJSON_ParseWithLength(text, len);
	char *want = print(ref);
	FUZZ_CHECK(!ref || want);

	jsonarena_begin();
	cJSON *tree = cJSON_ParseWithLength(text, len);
	FUZZ_CHECK((tree == NULL) == (ref == NULL));
	if (tree) {
		char *got = print(tree);
		FUZZ_CHECK(got && strcmp(got, want) == 0);
		cJSON_free(got);
		cJSON *dup = cJSON_Duplicate(tree, true);
		FUZZ_CHECK(dup != NULL);
		char *got2 = print(dup);
		FUZZ_CHECK(got2 && strcmp(got2, want) == 0);
		cJSON_free(got2);
		/* changed in place: allocations and frees mixed within a record */
		cJSON *arr = cJSON_CreateArray();
		FUZZ_CHECK(arr != NULL);
		cJSON_AddItemToArray(arr, dup);
		cJSON_AddItemToArray(arr, cJSON_CreateString(want));
		FUZZ_CHECK(cJSON_GetArraySize(arr) == 2);
		cJSON_DeleteItemFromArray(arr, 0);
		FUZZ_CHECK(strcmp(cJSON_GetArrayItem(arr, 0)->valuestring, want) == 0);
		cJSON_Delete(arr);
		cJSON_Delete(tree);
	}
	/* a malloc'ed tree freed while the arena is active goes to free() */
	cJSON_Delete(ref);
	jsonarena_end();
	cJSON_free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	size_t start = 0;

	if (size == 0)
		return 0;
	for (size_t i = 0; i <= size; i++) {
		if (i == size || text[i] == '\n') {
			one_record(text + start, i - start);
			start = i + 1;
		}
	}
	/* one big record: the input repeated in an array */
	unsigned reps = data[0] % 64;
	if (reps > 1 && size < 8192) {
		size_t cap = 2 + reps * (size + 1), n = 0;
		char *big = malloc(cap);
		FUZZ_CHECK(big != NULL);
		big[n++] = '[';
		for (unsigned r = 0; r < reps; r++) {
			if (r)
				big[n++] = ',';
			memcpy(big + n, text, size);
			n += size;
		}
		big[n++] = ']';
		one_record(big, n);
		free(big);
	}
	return 0;
}
