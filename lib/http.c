/* HTTP client on libcurl's multi interface.
 *
 * Design notes
 * - One multi handle per client: its connection cache is what keeps
 *   connections alive between requests, and CURLMOPT_MAX_HOST_CONNECTIONS
 *   caps them at the number of requests the caller runs at once (extra
 *   requests wait inside curl for a free connection rather than opening
 *   more). HTTP/1.1 only, no pipelining: AWS's JSON endpoints answer one
 *   request per connection at a time.
 * - The caller's loop owns the waiting: http_wait() polls curl's sockets and
 *   the caller's descriptors together (curl_multi_poll with extra fds), so
 *   a tool can read its input and drive requests in one thread.
 * - Easy handles are kept and reused; each request gets a fresh header list
 *   and response buffer. curl's own "Expect: 100-continue" is turned off: it
 *   costs a round trip on every large POST for nothing.
 * - TLS verification is curl's default (on); only the CA file can change.
 * - Nothing here decides about retries: a response is reported with enough
 *   detail (status, curl code, whether the connection was reused) for
 *   awsreq.c to classify it. */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/select.h>

#include <curl/curl.h>

#include "strbuf.h"

struct transfer {
	struct http_client *client;
	CURL *easy;
	struct curl_slist *headers;
	struct strbuf body;
	bool too_big;
	char error[CURL_ERROR_SIZE];
	char error_type[128];
	char request_id[96];
	http_done_fn *done;
	void *arg;
	struct transfer *next; /* in the free list, or the active list */
	struct transfer *prev;
};

struct http_client {
	CURLM *multi;
	struct http_options opt;
	char *ca_bundle;
	char *user_agent;
	struct transfer *active;  /* doubly linked, for freeing */
	struct transfer *idle;    /* singly linked, easy handles to reuse */
	unsigned nactive;
};

static void set_err(char *errstr, size_t size, const char *fmt, const char *detail)
{
	if (size)
		snprintf(errstr, size, fmt, detail);
}

/* curl_global_init is not thread-safe and must run once; the tools are
 * single-threaded and call it through here before anything else. */
static bool global_init(void)
{
	static bool done;
	if (!done && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
		done = true;
	return done;
}

struct http_client *http_client_new(const struct http_options *opt, char *errstr,
                                    size_t errstr_size)
{
	struct http_client *c;

	if (!global_init()) {
		set_err(errstr, errstr_size, "%s", "curl_global_init failed");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		set_err(errstr, errstr_size, "%s", "out of memory");
		return NULL;
	}
	c->opt = *opt;
	if (c->opt.connect_timeout_ms <= 0)
		c->opt.connect_timeout_ms = HTTP_CONNECT_TIMEOUT_MS_DEFAULT;
	if (c->opt.timeout_ms <= 0)
		c->opt.timeout_ms = HTTP_TIMEOUT_MS_DEFAULT;
	if (c->opt.max_connections == 0)
		c->opt.max_connections = 4;
	if (c->opt.max_response == 0)
		c->opt.max_response = HTTP_MAX_RESPONSE_DEFAULT;
	c->ca_bundle = opt->ca_bundle ? strdup(opt->ca_bundle) : NULL;
	c->user_agent = strdup(opt->user_agent ? opt->user_agent : "event-processor");
	c->multi = curl_multi_init();
	if (!c->multi || !c->user_agent || (opt->ca_bundle && !c->ca_bundle)) {
		set_err(errstr, errstr_size, "%s", "cannot create a curl multi handle");
		http_client_free(c);
		return NULL;
	}
	curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
	curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->opt.max_connections);
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->opt.max_connections);
	return c;
}

static void transfer_destroy(struct transfer *t)
{
	if (!t)
		return;
	if (t->easy)
		curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->headers);
	strbuf_release(&t->body);
	free(t);
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	while (c->active) {
		struct transfer *t = c->active;
		c->active = t->next;
		curl_multi_remove_handle(c->multi, t->easy);
		transfer_destroy(t);
	}
	while (c->idle) {
		struct transfer *t = c->idle;
		c->idle = t->next;
		transfer_destroy(t);
	}
	/* The connection cache goes with the multi handle. */
	if (c->multi)
		curl_multi_cleanup(c->multi);
	free(c->ca_bundle);
	free(c->user_agent);
	free(c);
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * n;

	if (t->body.len + len > t->client->opt.max_response) {
		t->too_big = true;
		return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
	}
	strbuf_add(&t->body, data, len);
	return t->body.failed ? 0 : len;
}

/* Copies the value of header `name` from a raw header line, if it is that
 * header. */
static void header_value(const char *line, size_t len, const char *name, char *out, size_t size)
{
	size_t nlen = strlen(name);

	if (len <= nlen + 1 || strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
		return;
	const char *v = line + nlen + 1, *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	snprintf(out, size, "%.*s", (int)(end - v), v);
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * n;

	header_value(data, len, "x-amzn-ErrorType", t->error_type, sizeof(t->error_type));
	header_value(data, len, "x-amzn-RequestId", t->request_id, sizeof(t->request_id));
	return len;
}

/* A transfer from the idle list, or a new one with the options that never
 * change set once. */
static struct transfer *transfer_get(struct http_client *c)
{
	struct transfer *t = c->idle;

	if (t) {
		c->idle = t->next;
		return t;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->client = c;
	t->easy = curl_easy_init();
	if (!t->easy) {
		free(t);
		return NULL;
	}
	CURL *e = t->easy;
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->opt.connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->opt.timeout_ms);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
	if (c->ca_bundle)
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_bundle);
	/* A body announced larger than the cap fails before it is read; one
	 * that grows past it fails in on_body(). */
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->opt.max_response);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
	curl_easy_setopt(e, CURLOPT_PRIVATE, t);
	return t;
}

/* Back to the idle list, ready for the next request. */
static void transfer_put(struct http_client *c, struct transfer *t)
{
	curl_slist_free_all(t->headers);
	t->headers = NULL;
	strbuf_reset(&t->body);
	t->too_big = false;
	t->error[0] = t->error_type[0] = t->request_id[0] = '\0';
	t->next = c->idle;
	t->prev = NULL;
	c->idle = t;
}

int http_post(struct http_client *c, const char *url, const char *const *headers,
              size_t nheaders, const char *body, size_t body_len, http_done_fn *done, void *arg,
              char *errstr, size_t errstr_size)
{
	struct transfer *t = transfer_get(c);
	struct curl_slist *l;

	if (!t) {
		set_err(errstr, errstr_size, "%s", "out of memory");
		return -1;
	}
	for (size_t i = 0; i < nheaders; i++) {
		l = curl_slist_append(t->headers, headers[i]);
		if (!l)
			goto oom;
		t->headers = l;
	}
	/* No "Expect: 100-continue" round trip before large bodies. */
	l = curl_slist_append(t->headers, "Expect:");
	if (!l)
		goto oom;
	t->headers = l;
	t->done = done;
	t->arg = arg;
	t->error[0] = '\0';
	curl_easy_setopt(t->easy, CURLOPT_URL, url);
	curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	CURLMcode mc = curl_multi_add_handle(c->multi, t->easy);
	if (mc != CURLM_OK) {
		set_err(errstr, errstr_size, "curl: %s", curl_multi_strerror(mc));
		transfer_put(c, t);
		return -1;
	}
	t->prev = NULL;
	t->next = c->active;
	if (c->active)
		c->active->prev = t;
	c->active = t;
	c->nactive++;
	return 0;
oom:
	transfer_put(c, t);
	set_err(errstr, errstr_size, "%s", "out of memory");
	return -1;
}

bool http_dead_connection(int curl_code)
{
	return curl_code == CURLE_GOT_NOTHING || curl_code == CURLE_SEND_ERROR ||
	       curl_code == CURLE_RECV_ERROR;
}

/* Reports one finished transfer and recycles its handle. */
static void finish(struct http_client *c, CURL *easy, CURLcode code)
{
	struct transfer *t = NULL;
	struct http_response r = {0};
	long status = 0, connects = 0;
	curl_off_t usec = 0;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
	curl_multi_remove_handle(c->multi, easy);
	if (t->prev)
		t->prev->next = t->next;
	else
		c->active = t->next;
	if (t->next)
		t->next->prev = t->prev;
	c->nactive--;

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	/* No new connection was made: the request went over a kept one. */
	curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects);
	curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &usec);
	r.status = code == CURLE_OK ? status : 0;
	r.curl_code = (int)code;
	r.reused = connects == 0;
	if (code == CURLE_FILESIZE_EXCEEDED)
		t->too_big = true;
	r.too_large = t->too_big;
	if (t->too_big)
		snprintf(t->error, sizeof(t->error), "response larger than %zu bytes",
		         c->opt.max_response);
	else if (code != CURLE_OK && !t->error[0])
		snprintf(t->error, sizeof(t->error), "%s", curl_easy_strerror(code));
	r.error = code == CURLE_OK ? "" : t->error;
	strbuf_add(&t->body, "", 0); /* a NUL-terminated body even when empty */
	r.body = t->body.data ? t->body.data : "";
	r.body_len = t->body.len;
	r.error_type = t->error_type;
	r.request_id = t->request_id;
	r.seconds = (double)usec / 1e6;

	http_done_fn *done = t->done;
	void *arg = t->arg;
	done(arg, &r);
	/* Recycled only after the callback: r borrowed its buffers. */
	transfer_put(c, t);
}

int http_wait(struct http_client *c, struct pollfd *extra, unsigned nextra, int timeout_ms,
              char *errstr, size_t errstr_size)
{
	struct curl_waitfd wfd[8];
	int running = 0, msgs;
	CURLMcode mc;
	CURLMsg *m;

	if (nextra > sizeof(wfd) / sizeof(wfd[0])) {
		set_err(errstr, errstr_size, "%s", "too many descriptors to wait on");
		return -1;
	}
	for (unsigned i = 0; i < nextra; i++) {
		wfd[i].fd = extra[i].fd;
		wfd[i].events = (short)(extra[i].events & (POLLIN | POLLPRI | POLLOUT));
		wfd[i].revents = 0;
	}
	/* curl_multi_poll takes an int timeout; -1 is not "forever" there. */
	if (timeout_ms < 0)
		timeout_ms = 60 * 60 * 1000;
	mc = curl_multi_poll(c->multi, nextra ? wfd : NULL, nextra, timeout_ms, NULL);
	if (mc != CURLM_OK) {
		set_err(errstr, errstr_size, "curl: %s", curl_multi_strerror(mc));
		return -1;
	}
	for (unsigned i = 0; i < nextra; i++)
		extra[i].revents = (short)wfd[i].revents;
	mc = curl_multi_perform(c->multi, &running);
	if (mc != CURLM_OK) {
		set_err(errstr, errstr_size, "curl: %s", curl_multi_strerror(mc));
		return -1;
	}
	while ((m = curl_multi_info_read(c->multi, &msgs)) != NULL) {
		if (m->msg == CURLMSG_DONE)
			finish(c, m->easy_handle, m->data.result);
	}
	return 0;
}

unsigned http_active(const struct http_client *c)
{
	return c->nactive;
}

/* Several clients in one wait (a tool that talks to two services, or keeps
 * a long poll on a client of its own): the first client's curl_multi_poll
 * also watches the sockets the others' curl wants (curl_multi_fdset) and
 * wakes up in time for their timers (curl_multi_timeout); then every client
 * moves its transfers on. */
#define WAIT_MANY_FDS 64

int http_wait_many(struct http_client *const *cs, unsigned n, struct pollfd *extra,
                   unsigned nextra, int timeout_ms, char *errstr, size_t errstr_size)
{
	struct curl_waitfd wfd[WAIT_MANY_FDS];
	unsigned k = 0;
	CURLMcode mc;

	if (n == 0)
		return 0;
	if (n == 1)
		return http_wait(cs[0], extra, nextra, timeout_ms, errstr, errstr_size);
	if (nextra > WAIT_MANY_FDS) {
		set_err(errstr, errstr_size, "%s", "too many descriptors to wait on");
		return -1;
	}
	for (unsigned i = 0; i < nextra; i++) {
		wfd[k].fd = extra[i].fd;
		wfd[k].events = (short)(extra[i].events & (POLLIN | POLLPRI | POLLOUT));
		wfd[k++].revents = 0;
	}
	if (timeout_ms < 0)
		timeout_ms = 60 * 60 * 1000;
	for (unsigned c = 1; c < n; c++) {
		fd_set r, w, e;
		int maxfd = -1;
		long t = -1;

		FD_ZERO(&r);
		FD_ZERO(&w);
		FD_ZERO(&e);
		mc = curl_multi_fdset(cs[c]->multi, &r, &w, &e, &maxfd);
		if (mc != CURLM_OK) {
			set_err(errstr, errstr_size, "curl: %s", curl_multi_strerror(mc));
			return -1;
		}
		for (int fd = 0; fd <= maxfd; fd++) {
			short ev = (short)((FD_ISSET(fd, &r) ? POLLIN : 0) | (FD_ISSET(fd, &w) ? POLLOUT : 0) |
			                   (FD_ISSET(fd, &e) ? POLLPRI : 0));
			if (!ev)
				continue;
			if (k == WAIT_MANY_FDS) {
				timeout_ms = 0; /* cannot watch them all: just look again soon */
				break;
			}
			wfd[k].fd = fd;
			wfd[k].events = ev;
			wfd[k++].revents = 0;
		}
		if (curl_multi_timeout(cs[c]->multi, &t) == CURLM_OK && t >= 0 && t < timeout_ms)
			timeout_ms = (int)t;
	}
	mc = curl_multi_poll(cs[0]->multi, k ? wfd : NULL, k, timeout_ms, NULL);
	if (mc != CURLM_OK) {
		set_err(errstr, errstr_size, "curl: %s", curl_multi_strerror(mc));
		return -1;
	}
	for (unsigned i = 0; i < nextra; i++)
		extra[i].revents = (short)wfd[i].revents;
	for (unsigned c = 0; c < n; c++) {
		int running = 0, msgs;
		CURLMsg *m;

		mc = curl_multi_perform(cs[c]->multi, &running);
		if (mc != CURLM_OK) {
			set_err(errstr, errstr_size, "curl: %s", curl_multi_strerror(mc));
			return -1;
		}
		while ((m = curl_multi_info_read(cs[c]->multi, &msgs)) != NULL) {
			if (m->msg == CURLMSG_DONE)
				finish(cs[c], m->easy_handle, m->data.result);
		}
	}
	return 0;
}
