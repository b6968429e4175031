/* AWS JSON 1.0 requests (DynamoDB, SQS): signed POSTs with an X-Amz-Target,
 * retried the way the SDKs' standard mode does, several in flight at once.
 * A service client (dynamodb.c, sqs.c) is a thin layer of bodies and
 * response parsing on top of this. */
#ifndef EP_AWSREQ_H
#define EP_AWSREQ_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "awsconf.h"
#include "latency.h"

/* What became of a request, as far as retrying goes. */
enum awsreq_class {
	AWSREQ_OK,          /* 2xx */
	AWSREQ_THROTTLED,   /* a throttling error code, or HTTP 429: retried */
	AWSREQ_TRANSIENT,   /* HTTP 500/502/503/504 or a transient code: retried */
	AWSREQ_CONNECTION,  /* no answer: refused, reset, timed out: retried */
	AWSREQ_AUTH,        /* credentials or signature refused, access denied: not retried */
	AWSREQ_CLIENT,      /* anything else the service refused with an error code
	                       (validation, ...): not retried */
	AWSREQ_LOCAL,       /* failed before sending (TLS set-up, memory): not retried */
	AWSREQ_MISSING,     /* the table or queue named does not exist
	                       (ResourceNotFoundException, QueueDoesNotExist): not retried */
	AWSREQ_UNEXPECTED,  /* an answer that is not the service's: a 1xx or 3xx, or an
	                       error status with no AWS error code (a proxy's 302 or 404
	                       page): retried like a 5xx, and then still not a verdict
	                       on what the request carried */
};

/* Which failures are about the request as a whole, never about the records
 * in it (docs/persist.md "What a failure looks like"): a tool stops on
 * them (credentials, a missing table or queue, an answer not from the
 * service) instead of marking every record of the request. A refusal with
 * an error code (AWSREQ_CLIENT) is about one item only when the service's
 * module says so (dynamodb_item_error(), sqs_entry_error()). */
bool awsreq_class_stops(enum awsreq_class cls);

struct awsreq_options {
	long connect_timeout_ms;  /* 0: the http.h default */
	long timeout_ms;          /* per attempt; 0: the http.h default */
	unsigned max_inflight;    /* requests on the wire at once; 0: 4 */
	int max_attempts;         /* 0: the configuration's (AWS_MAX_ATTEMPTS) */
	unsigned backoff_base_ms; /* 0: BACKOFF_BASE_MS_DEFAULT */
	unsigned backoff_cap_ms;  /* 0: BACKOFF_CAP_MS_DEFAULT (20 s) */
	uint64_t seed;            /* jitter seed, 0: from the clock */
};

/* The outcome handed to the caller's callback. Strings are borrowed for the
 * callback's duration only. */
struct awsreq_result {
	enum awsreq_class cls;
	bool retryable;            /* the class is one that retries may cure */
	long status;               /* HTTP status, 0 when no response */
	const char *body;          /* response body, NUL-terminated ("" if none) */
	size_t body_len;
	const char *error_type;    /* AWS's __type without its namespace, or "" */
	const char *error_message; /* AWS's message, or curl's, or "" */
	const char *summary;       /* one line for a person: service, operation,
	                              error and attempts; "" on success */
	int attempts;              /* requests sent, the free reconnect not counted */
};

typedef void awsreq_done_fn(void *arg, const struct awsreq_result *res);

struct awsreq_stats {
	unsigned long requests;    /* HTTP requests sent (retries included) */
	unsigned long retries;     /* requests resent after a backoff */
	unsigned long reconnects;  /* resent at once: a kept connection had closed */
	unsigned long throttled;   /* throttling answers */
	unsigned long failed;      /* requests that ended in failure */
	struct latency latency;    /* time of each HTTP request */
};

struct awsreq_client;

/* A client for conf's service (conf is borrowed and must outlive the
 * client). Returns NULL with errstr set on failure; free with
 * awsreq_client_free(). */
struct awsreq_client *awsreq_client_new(const struct awsconf *conf,
                                        const struct awsreq_options *opt, char *errstr,
                                        size_t errstr_size);

/* Drops requests still pending without calling their callbacks: a tool
 * stopping in a hurry frees its callbacks' contexts itself, so each context
 * should be something the tool also holds (a batch in a list, a queue in
 * the cache), never memory only the callback would free. */
void awsreq_client_free(struct awsreq_client *c);

/* Queues a request: POST body with X-Amz-Target: target (for example
 * "DynamoDB_20120810.BatchWriteItem"), sent after delay_ms (0: as soon as
 * one of max_inflight slots is free; requests start in the order they are
 * due). Takes ownership of body (malloc'ed; freed after done). done is
 * called exactly once, from awsreq_wait(), after retries. Returns 0, or -1
 * with errstr set (body freed, done not called).
 *
 * Once an answer of class AWSREQ_AUTH has come back, the client sends
 * nothing more: every request not yet on the wire, and every one submitted
 * later, ends (from awsreq_wait(), at once, due or not) with AWSREQ_AUTH,
 * status 0, the first refusal's error_type, error_message "not sent", and a
 * summary "<what>: not sent, the credentials were refused: <the first
 * refusal's summary>". Requests already on the wire end as they end. */
int awsreq_submit(struct awsreq_client *c, const char *target, char *body, size_t body_len,
                  unsigned delay_ms, awsreq_done_fn *done, void *arg, char *errstr,
                  size_t errstr_size);

/* Waits up to timeout_ms (-1: until something happens) for the network,
 * a due retry, or the caller's descriptors (revents filled in), and calls
 * the callbacks of requests that ended. Returns 0, or -1 with errstr set
 * when the HTTP layer failed. */
int awsreq_wait(struct awsreq_client *c, struct pollfd *extra, unsigned nextra, int timeout_ms,
                char *errstr, size_t errstr_size);

/* awsreq_wait() for n clients at once (1 to AWSREQ_WAIT_MANY_MAX): a tool
 * that talks to two services, or keeps a long poll on a client of its own
 * with a longer timeout, waits on all of them in one call. */
#define AWSREQ_WAIT_MANY_MAX 8
int awsreq_wait_many(struct awsreq_client *const *cs, unsigned n, struct pollfd *extra,
                     unsigned nextra, int timeout_ms, char *errstr, size_t errstr_size);

/* Requests submitted whose callbacks have not run yet. */
unsigned awsreq_pending(const struct awsreq_client *c);

/* Counters since the client was made (borrowed; valid until freed). */
const struct awsreq_stats *awsreq_stats(const struct awsreq_client *c);

/* The retry decision, exposed for tests: curl_code is a CURLcode (0 when a
 * response arrived), error_type AWS's code without namespace ("" if none). */
enum awsreq_class awsreq_classify(long status, int curl_code, const char *error_type);

/* True for the classes the SDKs retry. */
bool awsreq_class_retryable(enum awsreq_class cls);

/* A short stable name: "ok", "throttled", "server_error", "connection",
 * "auth", "rejected", "local", "missing", "unexpected". */
const char *awsreq_class_name(enum awsreq_class cls);

/* Reads AWS's error code and message from a JSON 1.0 error body (falling
 * back to the x-amzn-ErrorType header value, which may be NULL). The code
 * loses its namespace ("com.amazonaws.dynamodb.v20120810#X" -> "X") and any
 * ":..." suffix. Both outputs are always NUL-terminated and made safe for a
 * log line with awsreq_clean_text(): they come from the other side. */
void awsreq_parse_error(const char *body, size_t len, const char *header_type, char *type,
                        size_t type_size, char *message, size_t message_size);

/* Text from a server (an error code or message) made fit for a log line and
 * an "_error" reason: control characters (C0, DEL, C1) and bytes that are
 * not UTF-8 become "\xNN", so no newline or ESC reaches a terminal or a
 * log collector raw; at most size - 1 bytes are written (cut on a
 * character boundary, "..." marking the cut). out is always NUL-terminated. */
void awsreq_clean_text(const char *in, size_t len, char *out, size_t size);

#endif
