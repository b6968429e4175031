/* The queue is one contiguous buffer with a start and an end: appends go at
 * the end, drains take from the start, and the live bytes move back to the
 * front only when that frees at least half the buffer, so each byte is
 * copied at most a few times however the writes and drains interleave. The
 * stream in front is a glibc cookie stream with its own buffer, so small
 * writes (a quote, a comma) cost no more than with stdio. */
#define _GNU_SOURCE /* fopencookie */
#include "outbuf.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STREAM_BUF (64 * 1024)

struct outbuf {
	int fd;
	FILE *file;
	char *buf;
	size_t cap, start, end;
	uint64_t queued, written;
};

static bool reserve(struct outbuf *ob, size_t more)
{
	if (ob->cap - ob->end >= more)
		return true;
	if (ob->start > 0 && ob->start >= (ob->end - ob->start)) {
		memmove(ob->buf, ob->buf + ob->start, ob->end - ob->start);
		ob->end -= ob->start;
		ob->start = 0;
		if (ob->cap - ob->end >= more)
			return true;
	}
	size_t ncap = ob->cap ? ob->cap : STREAM_BUF;
	while (ncap - ob->end < more)
		ncap *= 2;
	char *n = realloc(ob->buf, ncap);
	if (!n)
		return false;
	ob->buf = n;
	ob->cap = ncap;
	return true;
}

static ssize_t cookie_write(void *cookie, const char *data, size_t len)
{
	struct outbuf *ob = cookie;

	if (!reserve(ob, len)) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(ob->buf + ob->end, data, len);
	ob->end += len;
	ob->queued += len;
	return (ssize_t)len;
}

struct outbuf *outbuf_new(int fd)
{
	struct outbuf *ob = calloc(1, sizeof(*ob));
	cookie_io_functions_t io = {.write = cookie_write};

	if (!ob)
		return NULL;
	ob->fd = fd;
	ob->file = fopencookie(ob, "w", io);
	if (!ob->file || setvbuf(ob->file, NULL, _IOFBF, STREAM_BUF) != 0) {
		if (ob->file)
			fclose(ob->file);
		free(ob);
		return NULL;
	}
	return ob;
}

void outbuf_free(struct outbuf *ob)
{
	if (!ob)
		return;
	fclose(ob->file); /* may still append to the queue, which goes next */
	free(ob->buf);
	free(ob);
}

FILE *outbuf_file(struct outbuf *ob)
{
	return ob->file;
}

int outbuf_commit(struct outbuf *ob)
{
	return fflush(ob->file) == EOF ? -1 : 0;
}

size_t outbuf_pending(const struct outbuf *ob)
{
	return ob->end - ob->start;
}

uint64_t outbuf_queued(const struct outbuf *ob)
{
	return ob->queued;
}

uint64_t outbuf_written(const struct outbuf *ob)
{
	return ob->written;
}

int outbuf_drain(struct outbuf *ob)
{
	while (ob->end > ob->start) {
		ssize_t n = write(ob->fd, ob->buf + ob->start, ob->end - ob->start);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return 0;
			return -1;
		}
		ob->start += (size_t)n;
		ob->written += (uint64_t)n;
	}
	ob->start = ob->end = 0;
	return 0;
}

int outbuf_finish(struct outbuf *ob, int wake_fd, bool (*give_up)(void))
{
	for (;;) {
		if (outbuf_drain(ob) < 0)
			return -1;
		if (outbuf_pending(ob) == 0)
			return 0;
		if (give_up())
			return 1;
		struct pollfd pfd[2] = {{.fd = ob->fd, .events = POLLOUT},
		                        {.fd = wake_fd, .events = POLLIN}};
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			return -1;
		if (pfd[1].revents & POLLIN) {
			char drain[64];
			while (read(wake_fd, drain, sizeof(drain)) > 0)
				;
		}
	}
}
