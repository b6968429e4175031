/* A growable byte buffer for building request texts (canonical requests,
 * JSON bodies). Appends never fail silently: the first allocation failure
 * sets a sticky flag that the builder checks once at the end, so building
 * code stays a straight line of appends. */
#ifndef EP_STRBUF_H
#define EP_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *data;  /* always NUL-terminated once anything was appended */
	size_t len;
	size_t cap;
	bool failed; /* an allocation failed; the contents are incomplete */
};

#define STRBUF_INIT {NULL, 0, 0, false}

/* Makes room for n more bytes (plus the NUL). Returns false and sets failed
 * when out of memory. */
bool strbuf_reserve(struct strbuf *b, size_t n);

void strbuf_add(struct strbuf *b, const void *data, size_t len);
void strbuf_adds(struct strbuf *b, const char *s);
void strbuf_addc(struct strbuf *b, char c);
void strbuf_addf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends s[0..len) as the body of a JSON string (no quotes), escaping '"',
 * '\\' and control characters; other bytes are copied as they are. */
void strbuf_add_json_escaped(struct strbuf *b, const char *s, size_t len);

/* Appends the lower-case hex of n bytes. */
void strbuf_add_hex(struct strbuf *b, const unsigned char *bytes, size_t n);

/* Forgets the contents, keeps the memory. */
void strbuf_reset(struct strbuf *b);

/* Hands the contents to the caller (free() it; never NULL unless failed)
 * and leaves b empty. Returns NULL when an append had failed. */
char *strbuf_detach(struct strbuf *b, size_t *len);

/* Frees the memory; b can be used again afterwards. */
void strbuf_release(struct strbuf *b);

#endif
