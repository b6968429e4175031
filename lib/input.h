/* A tool's input, the way cat takes it: standard input, or each file named
 * in turn ("-" is standard input), read a turn at a time without blocking,
 * so that one thread can also drive requests and write output. persist and
 * route read their records through this. */
#ifndef EP_INPUT_H
#define EP_INPUT_H

#include <stdbool.h>
#include <stddef.h>

#include "record.h"

struct record_input {
	char **names; /* the files named, or NULL for stdin */
	int count, next;
	int fd;
	const char *name;
	struct record_reader *reader; /* of the input being read, or NULL */
	bool done;                    /* every input has been read */
};

/* Where the records go: add() takes one (returns -1 when out of memory),
 * has_room() says whether it can take more now. */
struct record_sink {
	bool (*has_room)(void *ctx);
	int (*add)(void *ctx, const struct record_line *line);
	void *ctx;
};

/* names/count: the file arguments (count 0: standard input). */
void record_input_init(struct record_input *in, char **names, int count);

/* Reads what is there, up to max_lines lines or until the sink is full;
 * blank lines are skipped. After a stop request only lines already
 * buffered are taken: they have left the pipe, so they must not be lost,
 * and no further input is opened. An input that cannot be opened sets
 * *status to 66 and one with a read error to 74 (the next one is read).
 * Returns true when more input is ready at once. */
bool record_input_read(struct record_input *in, const struct record_sink *sink, size_t max_line,
                       int max_lines, bool stopping, int *status);

/* Closes the input being read, if any. */
void record_input_close(struct record_input *in);

/* Makes standard input and output (pipes, sockets, terminals; not regular
 * files) non-blocking, so one thread can read, write and drive requests,
 * and puts their flags back at exit: the open file may be shared with the
 * shell. */
void stdio_make_nonblocking(void);

/* Standard output blocking again (for the last, blocking flush). */
void stdout_make_blocking(void);

/* Asks for a 1 MiB buffer on fd when it is a pipe or FIFO (Linux's default
 * is 64 KiB): a stage then wakes its neighbour 16 times less often, which
 * matters most on a busy machine, where every hand-over waits for the
 * scheduler. Nothing happens when fd is something else or the system says
 * no (fs.pipe-max-size, or the user's pipe quota). */
void pipe_widen(int fd);

#endif
