/* Helpers shared by the libFuzzer targets (fuzz/README.md). Header-only so
 * that each target is one .c file linked with the library. */
#ifndef EP_FUZZ_H
#define EP_FUZZ_H

#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record.h"

/* A broken invariant is a crash: libFuzzer saves the input. */
#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,       \
			        #cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* A message buffer a library function filled: NUL-terminated inside it. */
#define FUZZ_CHECK_STR(buf) FUZZ_CHECK(memchr((buf), '\0', sizeof(buf)) != NULL)

typedef void fuzz_line_fn(const struct record_line *line, void *arg);

/* Feeds data[0..size) to a record reader the way a tool sees its input: a
 * non-blocking pipe written chunk bytes at a time, so that lines straddle
 * reads at every possible place and the reader's resume-after-EAGAIN path
 * runs. Calls fn for each line, in order. */
static inline void fuzz_lines(const uint8_t *data, size_t size, size_t max_line, size_t chunk,
                              fuzz_line_fn *fn, void *arg)
{
	struct record_reader *r;
	struct record_line line;
	size_t off = 0;
	bool closed = false;
	int p[2];

	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
		abort();
	r = record_reader_new(p[0], max_line);
	FUZZ_CHECK(r != NULL);
	if (size == 0) {
		close(p[1]);
		closed = true;
	}
	for (;;) {
		int rc = record_reader_next(r, &line);
		if (rc == 1) {
			fn(&line, arg);
			continue;
		}
		if (rc == 0)
			break;
		/* Only "no bytes yet" is expected from a pipe, and never once the
		 * writing end is closed. */
		FUZZ_CHECK(errno == EAGAIN && !closed);
		size_t n = size - off < chunk ? size - off : chunk;
		FUZZ_CHECK(write(p[1], data + off, n) == (ssize_t)n);
		off += n;
		if (off == size) {
			close(p[1]);
			closed = true;
		}
	}
	FUZZ_CHECK(closed && off == size);
	record_reader_free(r);
	close(p[0]);
}

/* A copy of data[0..size) with a NUL after it; caller frees. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* --- strict JSON (RFC 8259) ------------------------------------------------ */

/* cJSON takes more than JSON: any byte below 0x21 as a blank between
 * tokens, "\u" followed by anything as U+0000, and so on. Targets that
 * check what lib/ makes of JSON text skip such text (unless FUZZ_STRICT_JSON
 * is set in the environment), because the fault is upstream: see
 * fuzz/pending/README.md. Raw control bytes inside strings are let through:
 * lib/ escapes them on purpose. */
struct fuzz_json {
	const char *p, *end;
	int depth;
};

static inline void fuzz_json_ws(struct fuzz_json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static inline bool fuzz_json_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline bool fuzz_json_string(struct fuzz_json *j)
{
	if (j->p >= j->end || *j->p != '"')
		return false;
	for (j->p++; j->p < j->end; j->p++) {
		char c = *j->p;
		if (c == '"') {
			j->p++;
			return true;
		}
		if (c != '\\')
			continue;
		if (++j->p >= j->end)
			return false;
		c = *j->p;
		if (c == 'u') {
			if (j->end - j->p < 5)
				return false;
			for (int i = 1; i <= 4; i++)
				if (!fuzz_json_hex(j->p[i]))
					return false;
			j->p += 4;
		} else if (!strchr("\"\\/bfnrt", c) || c == '\0') {
			return false;
		}
	}
	return false;
}

static inline bool fuzz_json_digits(struct fuzz_json *j)
{
	const char *s = j->p;
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > s;
}

static inline bool fuzz_json_value(struct fuzz_json *j)
{
	if (j->p >= j->end || ++j->depth > 1000)
		return false;
	char c = *j->p;
	bool ok = true;
	if (c == '"') {
		ok = fuzz_json_string(j);
	} else if (c == '{' || c == '[') {
		char close = c == '{' ? '}' : ']';
		j->p++;
		fuzz_json_ws(j);
		if (j->p < j->end && *j->p == close) {
			j->p++;
		} else {
			for (;;) {
				if (c == '{') {
					if (!fuzz_json_string(j))
						return false;
					fuzz_json_ws(j);
					if (j->p >= j->end || *j->p++ != ':')
						return false;
					fuzz_json_ws(j);
				}
				if (!fuzz_json_value(j))
					return false;
				fuzz_json_ws(j);
				if (j->p < j->end && *j->p == ',') {
					j->p++;
					fuzz_json_ws(j);
					continue;
				}
				if (j->p < j->end && *j->p == close) {
					j->p++;
					break;
				}
				return false;
			}
		}
	} else if (c == '-' || (c >= '0' && c <= '9')) {
		if (c == '-')
			j->p++;
		if (j->p < j->end && *j->p == '0')
			j->p++;
		else if (!fuzz_json_digits(j))
			return false;
		if (j->p < j->end && *j->p == '.') {
			j->p++;
			if (!fuzz_json_digits(j))
				return false;
		}
		if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
			j->p++;
			if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
				j->p++;
			if (!fuzz_json_digits(j))
				return false;
		}
	} else {
		static const char *const lit[] = {"true", "false", "null"};
		ok = false;
		for (int i = 0; i < 3 && !ok; i++) {
			size_t n = strlen(lit[i]);
			if ((size_t)(j->end - j->p) >= n && memcmp(j->p, lit[i], n) == 0) {
				j->p += n;
				ok = true;
			}
		}
	}
	j->depth--;
	return ok;
}

/* True when s[0..len) is one JSON value (blanks around it allowed), or when
 * FUZZ_STRICT_JSON is set: whether a target checks what lib/ makes of it. */
static inline bool fuzz_json_checkable(const char *s, size_t len)
{
	struct fuzz_json j = {s, s + len, 0};

	if (getenv("FUZZ_STRICT_JSON"))
		return true;
	fuzz_json_ws(&j);
	if (!fuzz_json_value(&j))
		return false;
	fuzz_json_ws(&j);
	return j.p == j.end;
}

#endif
