/* See metrics.h. The text format: one "# HELP" and one "# TYPE" line per
 * family, then "name{labels} value"; counters end in _total by convention. */
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PREFIX "event_processor_"

int metrics_write(const char *path, const char *prog, const struct metric *m, size_t n,
                  char *errstr, size_t errstr_size)
{
	char tmp[PATH_MAX];
	int fd;
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
		snprintf(errstr, errstr_size, "%s: path too long", path);
		return -1;
	}
	/* The temporary file is always a new one: O_EXCL|O_NOFOLLOW refuses a
	 * symlink (or any file) planted under its name, which would otherwise be
	 * followed and overwritten with our permissions. A leftover of an
	 * earlier process that had the same pid is removed once and the create
	 * tried again; unlink() removes a planted symlink, never its target. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		snprintf(errstr, errstr_size, "%s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const char *suffix = m[i].type == METRIC_COUNTER ? "_total" : "";
		fprintf(f, "# HELP " PREFIX "%s%s %s\n# TYPE " PREFIX "%s%s %s\n", m[i].name, suffix,
		        m[i].help, m[i].name, suffix, m[i].type == METRIC_COUNTER ? "counter" : "gauge");
		/* %.17g keeps every integer a counter can reach exactly */
		fprintf(f, PREFIX "%s%s{prog=\"%s\"} %.17g\n", m[i].name, suffix, prog, m[i].value);
	}
	if (ferror(f) | (fclose(f) == EOF)) {
		snprintf(errstr, errstr_size, "%s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

bool metrics_path_ok(const char *path, char *errstr, size_t errstr_size)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (!*path || (slash && !slash[1])) {
		snprintf(errstr, errstr_size, "'%s' is not a file name", path);
		return false;
	}
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (access(dir, W_OK | X_OK) < 0) {
		snprintf(errstr, errstr_size, "%s: %s", dir, strerror(errno));
		return false;
	}
	return true;
}
