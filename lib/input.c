/* See input.h. */
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#include "input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "log.h"

void record_input_init(struct record_input *in, char **names, int count)
{
	*in = (struct record_input){.names = count ? names : NULL, .count = count, .fd = -1};
}

/* Opens the next input; false when there is none left. */
static bool open_next(struct record_input *in, size_t max_line, int *status)
{
	while (!in->done) {
		if (in->names == NULL && in->next == 0) {
			in->fd = STDIN_FILENO;
			in->name = "stdin";
		} else if (in->next < in->count) {
			const char *n = in->names[in->next];
			bool is_stdin = strcmp(n, "-") == 0;
			in->fd = is_stdin ? STDIN_FILENO : open(n, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
			in->name = is_stdin ? "stdin" : n;
			if (in->fd < 0) {
				log_warn("%s", n);
				*status = EX_NOINPUT;
				in->next++;
				continue;
			}
		} else {
			in->done = true;
			break;
		}
		in->next++;
		in->reader = record_reader_new(in->fd, max_line);
		if (!in->reader)
			fatalx(EX_OSERR, "out of memory");
		return true;
	}
	return false;
}

void record_input_close(struct record_input *in)
{
	record_reader_free(in->reader);
	in->reader = NULL;
	if (in->fd > STDIN_FILENO)
		close(in->fd);
	in->fd = -1;
}

bool record_input_read(struct record_input *in, const struct record_sink *sink, size_t max_line,
                       int max_lines, bool stopping, int *status)
{
	struct record_line line;

	for (int n = 0; n < max_lines; n++) {
		if (!in->reader && stopping) {
			in->done = true; /* no new inputs after a stop request */
			return false;
		}
		if (!in->reader && !open_next(in, max_line, status))
			return false;
		if (!sink->has_room(sink->ctx))
			return false;
		if (stopping && !record_reader_ready(in->reader)) {
			record_input_close(in);
			in->done = true;
			return false;
		}
		int rc = record_reader_next(in->reader, &line);
		if (rc < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return false;
			log_warn("%s: read error", in->name);
			*status = EX_IOERR;
			rc = 0; /* on to the next input */
		}
		if (rc == 0) {
			record_input_close(in);
			if (stopping)
				in->done = true;
			continue;
		}
		if (record_line_blank(&line))
			continue;
		if (sink->add(sink->ctx, &line) < 0)
			fatalx(EX_OSERR, "out of memory");
	}
	return true;
}

/* The flags of stdin and stdout as they were, -1 when left alone. */
static int saved_flags[2] = {-1, -1};

static void restore_flags(void)
{
	for (int fd = 0; fd < 2; fd++)
		if (saved_flags[fd] >= 0)
			fcntl(fd, F_SETFL, saved_flags[fd]);
}

static void make_nonblocking(int fd)
{
	struct stat st;
	int fl;

	if (fstat(fd, &st) < 0 || S_ISREG(st.st_mode) || (fl = fcntl(fd, F_GETFL)) < 0)
		return;
	saved_flags[fd] = fl;
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

void stdio_make_nonblocking(void)
{
	make_nonblocking(STDIN_FILENO);
	make_nonblocking(STDOUT_FILENO);
	atexit(restore_flags);
}

void stdout_make_blocking(void)
{
	if (saved_flags[STDOUT_FILENO] >= 0)
		fcntl(STDOUT_FILENO, F_SETFL, saved_flags[STDOUT_FILENO]);
}

void pipe_widen(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
		(void)fcntl(fd, F_SETPIPE_SZ, 1 << 20);
}
