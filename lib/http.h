/* HTTP/1.1 requests over libcurl's multi interface: several requests in
 * flight at once on persistent keep-alive connections, driven from the
 * caller's own loop together with the caller's file descriptors. */
#ifndef EP_HTTP_H
#define EP_HTTP_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

struct http_options {
	long connect_timeout_ms;  /* 0: HTTP_CONNECT_TIMEOUT_MS_DEFAULT */
	long timeout_ms;          /* whole request; 0: HTTP_TIMEOUT_MS_DEFAULT */
	unsigned max_connections; /* connections at once, and kept alive; 0: 4 */
	const char *ca_bundle;    /* PEM file of CA certificates, NULL: the system's */
	const char *user_agent;   /* NULL: "event-processor" */
	size_t max_response;      /* a longer body fails the request; 0: HTTP_MAX_RESPONSE_DEFAULT */
};

/* The largest answer body taken by default: 32 MiB. The largest legitimate
 * answers are a ReceiveMessage of 10 messages of 1 MiB (10 MiB of bodies,
 * up to about 3 times that if a server writes every character of them as a
 * JSON escape) and a BatchWriteItem that hands back all of a 16 MB request
 * in UnprocessedItems. A larger body is not an answer we can use: the
 * request fails (http_response.too_large) instead of the process holding
 * an unbounded body per request in flight. */
#define HTTP_MAX_RESPONSE_DEFAULT ((size_t)32 * 1024 * 1024)

#define HTTP_CONNECT_TIMEOUT_MS_DEFAULT 3000
#define HTTP_TIMEOUT_MS_DEFAULT 10000

/* How one request ended. Everything is borrowed for the callback's
 * duration only. */
struct http_response {
	long status;              /* HTTP status, 0 when no response arrived */
	int curl_code;            /* CURLcode: 0, or why the transfer failed */
	bool reused;              /* it went over a connection kept from before */
	bool too_large;           /* the body passed max_response: the transfer was cut */
	const char *error;        /* curl's explanation when curl_code != 0, else "" */
	const char *body;         /* the response body, NUL-terminated */
	size_t body_len;
	const char *error_type;   /* the x-amzn-ErrorType header, or "" */
	const char *request_id;   /* the x-amzn-RequestId header, or "" */
	double seconds;           /* from start to end of the transfer */
};

typedef void http_done_fn(void *arg, const struct http_response *resp);

struct http_client;

/* A client with its own connection pool. Returns NULL with errstr set on
 * failure. Caller frees with http_client_free(). */
struct http_client *http_client_new(const struct http_options *opt, char *errstr,
                                    size_t errstr_size);

/* Abandons transfers still running (their callbacks are not called) and
 * closes every connection. c may be NULL. */
void http_client_free(struct http_client *c);

/* Starts a POST of body to url with the given extra headers ("Name: value"
 * strings, copied). body is borrowed and must stay unchanged until done is
 * called. done is called exactly once, from http_wait(), unless the client
 * is freed first. Returns 0, or -1 with errstr set (done is then not
 * called). */
int http_post(struct http_client *c, const char *url, const char *const *headers,
              size_t nheaders, const char *body, size_t body_len, http_done_fn *done, void *arg,
              char *errstr, size_t errstr_size);

/* Waits up to timeout_ms (-1: no limit) for network activity or for one of
 * the caller's descriptors in extra[] (their revents are filled in; a
 * signal interrupts the wait), moves the transfers on and calls the done
 * callbacks of those that ended. Callbacks may start new requests. Returns
 * 0, or -1 with errstr set when curl itself failed. */
int http_wait(struct http_client *c, struct pollfd *extra, unsigned nextra, int timeout_ms,
              char *errstr, size_t errstr_size);

/* http_wait() for n clients at once (n >= 1): returns when any of their
 * transfers or the caller's descriptors need attention or timeout_ms
 * passed, and calls the done callbacks of every client's finished
 * transfers. Returns 0, or -1 with errstr set. */
int http_wait_many(struct http_client *const *cs, unsigned n, struct pollfd *extra,
                   unsigned nextra, int timeout_ms, char *errstr, size_t errstr_size);

/* Requests started and not yet done. */
unsigned http_active(const struct http_client *c);

/* True when curl's code means no usable answer came over the connection
 * (nothing, or a send or receive error): on a reused keep-alive connection
 * that usually means the server had closed it while it sat idle. */
bool http_dead_connection(int curl_code);

#endif
