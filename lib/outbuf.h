/* An output queue in memory in front of a file descriptor, for a program
 * that must never block on its output: kcat-in writes into a pipeline whose
 * far end feeds acknowledgements back to it, so a blocking write on a full
 * pipe while acks pile up on the other side would deadlock the loop.
 *
 * Records are formatted through an ordinary FILE stream (so the record_*
 * writers work unchanged) into a growable buffer, and the caller's poll loop
 * hands the buffer to the descriptor with outbuf_drain() whenever it is
 * writable. Byte counters let the caller tell which records have reached
 * the kernel. */
#ifndef EP_OUTBUF_H
#define EP_OUTBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct outbuf;

/* A queue in front of fd (borrowed, not closed). Returns NULL when out of
 * memory. Caller frees with outbuf_free() (accepts NULL; pending bytes are
 * dropped). */
struct outbuf *outbuf_new(int fd);
void outbuf_free(struct outbuf *ob);

/* The stream that appends to the queue; borrowed, valid until
 * outbuf_free(). Its writes fail only when out of memory. Bytes written to
 * it count as queued after outbuf_commit(). */
FILE *outbuf_file(struct outbuf *ob);

/* Moves what was written to the stream into the queue. Returns 0, or -1
 * when out of memory. */
int outbuf_commit(struct outbuf *ob);

/* Bytes queued and not yet written to the descriptor. */
size_t outbuf_pending(const struct outbuf *ob);

/* Bytes ever queued / ever written to the descriptor: a record queued when
 * queued() was Q has reached the kernel once written() >= Q. */
uint64_t outbuf_queued(const struct outbuf *ob);
uint64_t outbuf_written(const struct outbuf *ob);

/* Writes as much of the queue as the descriptor takes without blocking (a
 * blocking descriptor may block). Returns 0 when the queue is empty or the
 * descriptor is full (EAGAIN) or a signal interrupted the write (EINTR), -1
 * on an error (errno set; EPIPE when the reader has gone). */
int outbuf_drain(struct outbuf *ob);

/* The last drain before exit: waits in poll() until the descriptor has
 * taken the whole queue, or until give_up() is true when the loop wakes
 * (wake_fd readable: a stop signal came). A reader downstream that stopped
 * reading would otherwise hold the process forever. Returns 0 when all was
 * written, 1 when it gave up with bytes still queued, -1 on a write or poll
 * error (errno set). */
int outbuf_finish(struct outbuf *ob, int wake_fd, bool (*give_up)(void));

#endif
