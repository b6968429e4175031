/* Growable byte buffer; see strbuf.h. Growth doubles, so building a 16 MB
 * BatchWriteItem body costs a couple of dozen reallocations at most. */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool strbuf_reserve(struct strbuf *b, size_t n)
{
	if (b->failed)
		return false;
	if (b->len + n + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1) {
		if (cap > (size_t)-1 / 2) {
			b->failed = true;
			return false;
		}
		cap *= 2;
	}
	char *p = realloc(b->data, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void strbuf_add(struct strbuf *b, const void *data, size_t len)
{
	if (!strbuf_reserve(b, len))
		return;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void strbuf_adds(struct strbuf *b, const char *s)
{
	strbuf_add(b, s, strlen(s));
}

void strbuf_addc(struct strbuf *b, char c)
{
	strbuf_add(b, &c, 1);
}

void strbuf_addf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	char small[256];

	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		strbuf_add(b, small, (size_t)n);
		return;
	}
	/* Longer than the scratch buffer: format straight into the buffer. */
	if (!strbuf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void strbuf_add_json_escaped(struct strbuf *b, const char *s, size_t len)
{
	size_t run = 0; /* bytes copied in one go between escapes */

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		strbuf_add(b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': strbuf_add(b, "\\\"", 2); break;
		case '\\': strbuf_add(b, "\\\\", 2); break;
		case '\n': strbuf_add(b, "\\n", 2); break;
		case '\r': strbuf_add(b, "\\r", 2); break;
		case '\t': strbuf_add(b, "\\t", 2); break;
		default: strbuf_addf(b, "\\u%04x", c); break;
		}
	}
	strbuf_add(b, s + run, len - run);
}

void strbuf_add_hex(struct strbuf *b, const unsigned char *bytes, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	if (!strbuf_reserve(b, 2 * n))
		return;
	for (size_t i = 0; i < n; i++) {
		b->data[b->len++] = digits[bytes[i] >> 4];
		b->data[b->len++] = digits[bytes[i] & 15];
	}
	b->data[b->len] = '\0';
}

void strbuf_reset(struct strbuf *b)
{
	b->len = 0;
	b->failed = false;
	if (b->data)
		b->data[0] = '\0';
}

char *strbuf_detach(struct strbuf *b, size_t *len)
{
	char *p = b->data;

	if (b->failed) {
		strbuf_release(b);
		return NULL;
	}
	if (!p) { /* nothing appended: hand out an empty string */
		p = calloc(1, 1);
		if (!p)
			return NULL;
	}
	if (len)
		*len = p == b->data ? b->len : 0;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void strbuf_release(struct strbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->failed = false;
}
