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

/* One write per line so that lines from several processes sharing a
 * stderr (a pipeline under supervisord) do not interleave. */
static void log_emit(const char *level, const char *fmt, va_list ap, const char *suffix)
{
	char msg[2048], line[4608];
	int len;

	vsnprintf(msg, sizeof(msg), fmt, ap);
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
	} else if (suffix) {
		len = snprintf(line, sizeof(line), "%s: %s: %s\n", log_prog, msg, suffix);
	} else {
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
