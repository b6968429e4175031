#include "jsonarena.h"

#include <stdint.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

/* Under AddressSanitizer the free part of every chunk is poisoned: memory
 * handed out is unpoisoned (exactly the size asked for), and
 * jsonarena_end() poisons the chunk it keeps, so a tree used after
 * jsonarena_end() (or an overrun into the next allocation) is reported
 * instead of reading the next record's nodes. */
#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif
#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define CHUNK_SIZE (64 * 1024)
#define ALIGN 16

struct chunk {
	struct chunk *next;
	size_t size, used;
	_Alignas(ALIGN) unsigned char data[];
};

static struct chunk *chunks; /* the first one is kept across records */
static bool active;

static struct chunk *chunk_new(size_t size)
{
	struct chunk *c = malloc(sizeof(*c) + size);

	if (c) {
		c->next = NULL;
		c->size = size;
		c->used = 0;
		POISON(c->data, size);
	}
	return c;
}

static bool in_arena(const void *p)
{
	for (const struct chunk *c = chunks; c; c = c->next)
		if ((const unsigned char *)p >= c->data && (const unsigned char *)p < c->data + c->size)
			return true;
	return false;
}

/* A chunk back to malloc (unpoisoned first: it is malloc's again). */
static void chunk_free(struct chunk *c)
{
	if (c)
		UNPOISON(c->data, c->size);
	free(c);
}

static void *arena_malloc(size_t n)
{
	if (!active)
		return malloc(n);
	size_t asked = n;
	n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	struct chunk *c = chunks;
	/* The newest chunk is at the head: records rarely need a second. */
	if (c->size - c->used < n) {
		struct chunk *grown = chunk_new(n > CHUNK_SIZE ? n : CHUNK_SIZE);
		if (!grown)
			return NULL;
		grown->next = chunks;
		chunks = c = grown;
	}
	void *p = c->data + c->used;
	c->used += n;
	UNPOISON(p, asked);
	return p;
}

static void arena_free(void *p)
{
	/* Arena memory goes back all at once in jsonarena_end(). */
	if (p && !in_arena(p))
		free(p);
}

bool jsonarena_install(void)
{
	if (!chunks && !(chunks = chunk_new(CHUNK_SIZE)))
		return false;
	cJSON_Hooks hooks = {arena_malloc, arena_free};
	cJSON_InitHooks(&hooks);
	return true;
}

void jsonarena_begin(void)
{
	active = true;
}

void jsonarena_end(void)
{
	active = false;
	/* Keep one chunk (the oldest, of the standard size); drop the rest. */
	while (chunks && chunks->next) {
		struct chunk *c = chunks;
		chunks = c->next;
		chunk_free(c);
	}
	if (chunks) {
		chunks->used = 0;
		POISON(chunks->data, chunks->size);
	}
}

void jsonarena_uninstall(void)
{
	jsonarena_end();
	cJSON_InitHooks(NULL);
	chunk_free(chunks);
	chunks = NULL;
}
