#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *log_prog = "event-processor";
static bool log_json;
static int log_verbose;

void log_init(const char *progname, bool json)
{
	const char *slash = strrchr(progname, '/');

	log_prog = slash ? slash + 1 : progname;
	log_json = json;
}

void log_set_verbose(int level)
{
	log_verbose = level;
}

unsigned long log_json_escape(char *buf, unsigned long size, const char *s)
{
	unsigned long n = 0;

	if (size == 0)
		return 0;
	for (; *s && n + 7 < size; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)c;
		} else if (c < 0x20) {
			n += (unsigned long)snprintf(buf + n, size - n, "\\u%04x", c);
		} else {
			buf[n++] = (char)c;
		}
	}
	buf[n] = '\0';
	return n;
}

/* Plain lines: a control byte in a message (text from a server, a file
 * name) becomes "\xNN" in place, so that no message can end its line early
 * or reach a terminal as an escape sequence. Returns the new length. */
static size_t plain_escape(char *buf, size_t len, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[2048];
	size_t n = 0;

	for (size_t i = 0; i < len && n + 5 < sizeof(tmp); i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c < 0x20 || c == 0x7f) {
			tmp[n++] = '\\';
			tmp[n++] = 'x';
			tmp[n++] = hex[c >> 4];
			tmp[n++] = hex[c & 15];
		} else {
			tmp[n++] = (char)c;
		}
	}
	if (n >= size)
		n = size - 1;
	memcpy(buf, tmp, n);
	buf[n] = '\0';
	return n;
}

/* One write per line so that lines from several processes sharing a
 * stderr (a pipeline under supervisord) do not interleave. */
static void log_emit(const char *level, const char *fmt, va_list ap, const char *suffix)
{
	char msg[2048], line[4608];
	int len;

	int mlen = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (mlen < 0)
		return;
	if (log_json) {
		char esc[4200];
		log_json_escape(esc, sizeof(esc), msg);
		if (suffix) {
			char esc2[300];
			log_json_escape(esc2, sizeof(esc2), suffix);
			len = snprintf(line, sizeof(line), "{\"prog\":\"%s\",\"level\":\"%s\",\"msg\":\"%s: %s\"}\n",
			               log_prog, level, esc, esc2);
		} else {
			len = snprintf(line, sizeof(line), "{\"prog\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}\n",
			               log_prog, level, esc);
		}
	} else {
		plain_escape(msg, (size_t)mlen < sizeof(msg) ? (size_t)mlen : sizeof(msg) - 1,
		             sizeof(msg));
		if (suffix)
			len = snprintf(line, sizeof(line), "%s: %s: %s\n", log_prog, msg, suffix);
		else
			len = snprintf(line, sizeof(line), "%s: %s\n", log_prog, msg);
	}
	if (len < 0)
		return;
	if ((size_t)len >= sizeof(line)) {
		len = sizeof(line) - 1;
		line[len - 1] = '\n';
	}
	fflush(stderr);
	fwrite(line, 1, (size_t)len, stderr);
	fflush(stderr);
}

void log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit("warn", fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("warn", fmt, ap, NULL);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("info", fmt, ap, NULL);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	log_emit("debug", fmt, ap, NULL);
	va_end(ap);
}

void fatalx(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("fatal", fmt, ap, NULL);
	va_end(ap);
	exit(status);
}

void fatal(int status, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit("fatal", fmt, ap, strerror(saved));
	va_end(ap);
	exit(status);
}

bool log_alike(const char *a, const char *b, size_t n)
{
	const char *a_end = a + strnlen(a, n), *b_end = b + strnlen(b, n);

	for (;;) {
		while (a < a_end && *a >= '0' && *a <= '9')
			a++;
		while (b < b_end && *b >= '0' && *b <= '9')
			b++;
		if (a == a_end || b == b_end)
			return a == a_end && b == b_end;
		if (*a++ != *b++)
			return false;
	}
}
