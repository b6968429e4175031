/* Counters in the Prometheus text format, for node_exporter's textfile
 * collector: the usual way to expose metrics of tools that run under a
 * supervisor and listen on no port. The file is written whole to a
 * temporary name beside it and renamed over the old one, so a scrape never
 * sees half of it. */
#ifndef EP_METRICS_H
#define EP_METRICS_H

#include <stdbool.h>
#include <stddef.h>

enum metric_type { METRIC_COUNTER, METRIC_GAUGE };

struct metric {
	const char *name;   /* without the prefix: "records_in"; counters get "_total" */
	const char *help;   /* one line */
	enum metric_type type;
	double value;
};

/* Writes "event_processor_<name>{prog="<prog>"} <value>" for each metric,
 * with its HELP and TYPE lines, to path (atomically). Returns 0, or -1 with
 * errstr set (the old file, if any, stays). */
int metrics_write(const char *path, const char *prog, const struct metric *m, size_t n,
                  char *errstr, size_t errstr_size);

/* True if path's folder exists and can take a new file (checked at start
 * up, so a typo is a usage error and not a warning per interval). */
bool metrics_path_ok(const char *path, char *errstr, size_t errstr_size);

#endif
