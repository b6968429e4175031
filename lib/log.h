/* One logging API for every tool (after OpenBSD's log.c): diagnostics go to
 * stderr, one line each, the program name first. Daemons switch to JSON
 * lines so log collectors can parse them. No timestamps: the supervisor
 * adds them. This is the one lib/ module that writes to a stream, because
 * writing is its whole job. */
#ifndef EP_LOG_H
#define EP_LOG_H

#include <stdbool.h>
#include <stddef.h>

/* progname is borrowed and must outlive the program (argv[0] or a literal).
 * json = true writes {"prog":…,"level":…,"msg":…} lines. */
void log_init(const char *progname, bool json);

/* Level at or above which log_debug prints (0 = quiet, 1 = verbose). */
void log_set_verbose(int level);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));  /* appends strerror(errno) */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Logs and exits with the given sysexits.h status. */
void fatalx(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
void fatal(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

/* Writes s as the body of a JSON string (no quotes) to buf; always
 * NUL-terminates; returns the length written. Shared by the JSON log lines
 * and the stats lines. */
unsigned long log_json_escape(char *buf, unsigned long size, const char *s);

/* True when the first n bytes of a and b differ at most in their digits: a
 * failure that repeats with another timing ("after 1002 ms") or count is
 * the same failure, and the tools say it once and count the repeats. */
bool log_alike(const char *a, const char *b, size_t n);

#endif
