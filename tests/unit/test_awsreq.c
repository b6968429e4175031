/* Unit tests for the AWS request layers: lib/backoff (bounds of the
 * full-jitter delays), lib/awsreq (retry classification, error parsing, and
 * whole requests against a scripted HTTP server on loopback: headers and
 * signature, retries on 5xx and throttling, none on validation errors, the
 * free resend when a kept connection turns out closed, refused
 * connections, nothing more sent once the credentials were refused), and
 * lib/latency (quantiles). */
#define _GNU_SOURCE /* strcasestr */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "awsconf.h"
#include "awsreq.h"
#include "backoff.h"
#include "latency.h"
#include "sigv4.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

/* --- backoff ------------------------------------------------------------ */

static void test_backoff_bounds(void **state)
{
	(void)state;
	struct backoff b;

	backoff_init(&b, 100, 20000, 42);
	assert_int_equal(backoff_ceiling_ms(&b, 0), 100);
	assert_int_equal(backoff_ceiling_ms(&b, 1), 200);
	assert_int_equal(backoff_ceiling_ms(&b, 7), 12800);
	assert_int_equal(backoff_ceiling_ms(&b, 8), 20000);  /* capped */
	assert_int_equal(backoff_ceiling_ms(&b, 1000), 20000); /* no overflow */

	/* Every draw lies in [0, ceiling]; the draws spread over the range. */
	for (unsigned retry = 0; retry < 12; retry++) {
		unsigned ceiling = backoff_ceiling_ms(&b, retry), lo = ceiling, hi = 0;
		for (int i = 0; i < 2000; i++) {
			unsigned d = backoff_delay_ms(&b, retry);
			assert_true(d <= ceiling);
			if (d < lo)
				lo = d;
			if (d > hi)
				hi = d;
		}
		assert_true(lo <= ceiling / 10);
		assert_true(hi >= ceiling - ceiling / 10);
	}
	double sum = 0;
	for (int i = 0; i < 10000; i++) {
		double r = backoff_random(&b);
		assert_true(r >= 0 && r < 1);
		sum += r;
	}
	assert_true(sum / 10000 > 0.45 && sum / 10000 < 0.55);

	/* Defaults: the SDKs' 20 s cap. */
	backoff_init(&b, 0, 0, 1);
	assert_int_equal(b.base_ms, BACKOFF_BASE_MS_DEFAULT);
	assert_int_equal(backoff_ceiling_ms(&b, 30), 20000);
	/* Same seed, same delays; different seeds differ. */
	struct backoff x, y;
	backoff_init(&x, 100, 20000, 5);
	backoff_init(&y, 100, 20000, 5);
	assert_int_equal(backoff_delay_ms(&x, 5), backoff_delay_ms(&y, 5));
}

/* --- classification ----------------------------------------------------- */

static void test_classify(void **state)
{
	(void)state;
	assert_int_equal(awsreq_classify(200, 0, ""), AWSREQ_OK);
	/* throttling, by code or by 429 */
	assert_int_equal(awsreq_classify(400, 0, "ProvisionedThroughputExceededException"),
	                 AWSREQ_THROTTLED);
	assert_int_equal(awsreq_classify(400, 0, "ThrottlingException"), AWSREQ_THROTTLED);
	assert_int_equal(awsreq_classify(400, 0, "RequestLimitExceeded"), AWSREQ_THROTTLED);
	assert_int_equal(awsreq_classify(429, 0, ""), AWSREQ_THROTTLED);
	/* transient server trouble */
	for (long s = 500; s <= 504; s++)
		if (s != 501)
			assert_int_equal(awsreq_classify(s, 0, ""), AWSREQ_TRANSIENT);
	/* no AWS error code: not the service answering (a gateway's 501) */
	assert_int_equal(awsreq_classify(501, 0, ""), AWSREQ_UNEXPECTED);
	assert_int_equal(awsreq_classify(500, 0, "InternalServerError"), AWSREQ_TRANSIENT);
	assert_int_equal(awsreq_classify(400, 0, "RequestTimeout"), AWSREQ_TRANSIENT);
	/* connection failures */
	assert_int_equal(awsreq_classify(0, CURLE_COULDNT_CONNECT, ""), AWSREQ_CONNECTION);
	assert_int_equal(awsreq_classify(0, CURLE_OPERATION_TIMEDOUT, ""), AWSREQ_CONNECTION);
	assert_int_equal(awsreq_classify(0, CURLE_GOT_NOTHING, ""), AWSREQ_CONNECTION);
	assert_int_equal(awsreq_classify(0, CURLE_RECV_ERROR, ""), AWSREQ_CONNECTION);
	/* never retried: validation, auth, local trouble */
	assert_int_equal(awsreq_classify(400, 0, "ValidationException"), AWSREQ_CLIENT);
	/* a table or queue that does not exist: configuration */
	assert_int_equal(awsreq_classify(400, 0, "ResourceNotFoundException"), AWSREQ_MISSING);
	assert_int_equal(awsreq_classify(400, 0, "QueueDoesNotExist"), AWSREQ_MISSING);
	assert_int_equal(awsreq_classify(400, 0, "AWS.SimpleQueueService.NonExistentQueue"),
	                 AWSREQ_MISSING);
	/* redirects, a proxy's pages: whatever the body says */
	assert_int_equal(awsreq_classify(302, 0, ""), AWSREQ_UNEXPECTED);
	assert_int_equal(awsreq_classify(301, 0, "ValidationException"), AWSREQ_UNEXPECTED);
	assert_int_equal(awsreq_classify(404, 0, ""), AWSREQ_UNEXPECTED);
	assert_int_equal(awsreq_classify(100, 0, ""), AWSREQ_UNEXPECTED);
	assert_int_equal(awsreq_classify(400, 0, "AccessDeniedException"), AWSREQ_AUTH);
	assert_int_equal(awsreq_classify(403, 0, "AccessDenied"), AWSREQ_AUTH);
	assert_int_equal(awsreq_classify(400, 0, "ConditionalCheckFailedException"), AWSREQ_CLIENT);
	assert_int_equal(awsreq_classify(400, 0, "UnrecognizedClientException"), AWSREQ_AUTH);
	assert_int_equal(awsreq_classify(403, 0, "InvalidSignatureException"), AWSREQ_AUTH);
	assert_int_equal(awsreq_classify(403, 0, ""), AWSREQ_AUTH);
	assert_int_equal(awsreq_classify(0, CURLE_PEER_FAILED_VERIFICATION, ""), AWSREQ_LOCAL);
	assert_int_equal(awsreq_classify(0, CURLE_SSL_CACERT_BADFILE, ""), AWSREQ_LOCAL);

	assert_true(awsreq_class_retryable(AWSREQ_THROTTLED));
	assert_true(awsreq_class_retryable(AWSREQ_TRANSIENT));
	assert_true(awsreq_class_retryable(AWSREQ_CONNECTION));
	assert_false(awsreq_class_retryable(AWSREQ_CLIENT));
	assert_false(awsreq_class_retryable(AWSREQ_AUTH));
	assert_false(awsreq_class_retryable(AWSREQ_LOCAL));
	assert_false(awsreq_class_retryable(AWSREQ_MISSING));
	assert_false(awsreq_class_retryable(AWSREQ_UNEXPECTED));
	assert_true(awsreq_class_stops(AWSREQ_AUTH));
	assert_true(awsreq_class_stops(AWSREQ_LOCAL));
	assert_true(awsreq_class_stops(AWSREQ_MISSING));
	assert_true(awsreq_class_stops(AWSREQ_UNEXPECTED));
	assert_false(awsreq_class_stops(AWSREQ_CLIENT));
	assert_false(awsreq_class_stops(AWSREQ_TRANSIENT));
	assert_string_equal(awsreq_class_name(AWSREQ_THROTTLED), "throttled");
	assert_string_equal(awsreq_class_name(AWSREQ_MISSING), "missing");
	assert_string_equal(awsreq_class_name(AWSREQ_UNEXPECTED), "unexpected");
}

/* Server text on its way to a log line: no control byte, bounded. */
static void test_clean_text(void **state)
{
	char out[64];
	(void)state;

	awsreq_clean_text("plain text", 10, out, sizeof(out));
	assert_string_equal(out, "plain text");
	awsreq_clean_text("a\nb\x1b[31mc\r", 10, out, sizeof(out));
	assert_string_equal(out, "a\\x0ab\\x1b[31mc\\x0d");
	awsreq_clean_text("\x7f\xc2\x9b\xff", 4, out, sizeof(out)); /* DEL, C1 CSI, not UTF-8 */
	assert_string_equal(out, "\\x7f\\xc2\\x9b\\xff");
	awsreq_clean_text("caf\xc3\xa9", 5, out, sizeof(out)); /* UTF-8 stays */
	assert_string_equal(out, "caf\xc3\xa9");
	char big[300];
	memset(big, 'x', sizeof(big));
	awsreq_clean_text(big, sizeof(big), out, sizeof(out));
	assert_int_equal(strlen(out), sizeof(out) - 1);
	assert_string_equal(out + sizeof(out) - 4, "...");
	awsreq_clean_text(big, sizeof(big), out, 2);
	assert_string_equal(out, "x");
	/* parse_error cleans what it takes */
	char type[64], msg[64];
	const char *body = "{\"__type\":\"ns#Bad\\u001bCode\",\"message\":\"line\\nnext\\u001b[2J\"}";
	awsreq_parse_error(body, strlen(body), NULL, type, sizeof(type), msg, sizeof(msg));
	assert_string_equal(type, "Bad\\x1bCode");
	assert_string_equal(msg, "line\\x0anext\\x1b[2J");
}

static void test_parse_error(void **state)
{
	(void)state;
	char type[64], msg[128];
	static const char dynamo[] =
		"{\"__type\":\"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException\","
		"\"message\":\"The level of configured provisioned throughput for the table was exceeded.\"}";

	awsreq_parse_error(dynamo, sizeof(dynamo) - 1, NULL, type, sizeof(type), msg, sizeof(msg));
	assert_string_equal(type, "ProvisionedThroughputExceededException");
	assert_string_equal(msg, "The level of configured provisioned throughput for the table was exceeded.");

	static const char sqs[] = "{\"__type\":\"com.amazonaws.sqs#QueueDoesNotExist\",\"Message\":\"The specified queue does not exist.\"}";
	awsreq_parse_error(sqs, sizeof(sqs) - 1, NULL, type, sizeof(type), msg, sizeof(msg));
	assert_string_equal(type, "QueueDoesNotExist");
	assert_string_equal(msg, "The specified queue does not exist.");

	/* No JSON (a proxy's HTML page): the header, if any. */
	awsreq_parse_error("<html>", 6, "ValidationException:http://internal.amazon.com/coral/", type,
	                   sizeof(type), msg, sizeof(msg));
	assert_string_equal(type, "ValidationException");
	assert_string_equal(msg, "");
	awsreq_parse_error("", 0, NULL, type, sizeof(type), msg, sizeof(msg));
	assert_string_equal(type, "");
	/* A type without namespace stays as it is; small buffers truncate. */
	awsreq_parse_error("{\"__type\":\"ThrottlingException\"}", 32, NULL, type, 5, msg, sizeof(msg));
	assert_string_equal(type, "Thro");
}

static void test_latency(void **state)
{
	(void)state;
	struct latency l;

	latency_reset(&l);
	assert_true(latency_quantile(&l, 0.5) == 0);
	for (int i = 1; i <= 1000; i++)
		latency_add(&l, i / 1000.0); /* 1 ms .. 1 s */
	double p50 = latency_quantile(&l, 0.5), p99 = latency_quantile(&l, 0.99);
	assert_true(p50 > 0.5 * 0.94 && p50 < 0.5 * 1.06);
	assert_true(p99 > 0.99 * 0.94 && p99 <= 1.0);
	assert_true(latency_mean(&l) > 0.5004 && latency_mean(&l) < 0.5006);
	assert_true(l.max == 1.0);
	latency_add(&l, -1); /* counts as 0 */
	latency_add(&l, 1e9);
	assert_int_equal(l.count, 1002);
}

/* --- a scripted HTTP server --------------------------------------------- */

/* DROP closes without answering; RESET does it with a TCP reset; HALF
 * sends the status line of an answer, then resets. */
enum action { REPLY, REPLY_CLOSE, DROP, RESET, HALF };

struct step {
	enum action action;
	int status;
	const char *body;
};

struct server {
	int fd, port;
	const struct step *steps;
	int nsteps, total, served, connections; /* the last step repeats up to total */
	char last_request[8192];
	pthread_t thread;
};

/* Reads one request (headers and Content-Length body); false at EOF. */
static bool read_request(int c, char *buf, size_t size)
{
	size_t n = 0;
	char *end = NULL;

	while (!(end = strstr(buf, "\r\n\r\n"))) {
		ssize_t r = read(c, buf + n, size - n - 1);
		if (r <= 0)
			return false;
		n += (size_t)r;
		buf[n] = '\0';
	}
	const char *cl = strcasestr(buf, "\r\nContent-Length:");
	size_t want = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
	while (n < want) {
		ssize_t r = read(c, buf + n, size - n - 1);
		if (r <= 0)
			return false;
		n += (size_t)r;
		buf[n] = '\0';
	}
	return true;
}

static void *serve(void *arg)
{
	struct server *s = arg;
	char buf[8192];

	while (s->served < s->total) {
		int c = accept(s->fd, NULL, NULL);
		if (c < 0)
			break;
		s->connections++;
		for (;;) {
			memset(buf, 0, sizeof(buf));
			if (!read_request(c, buf, sizeof(buf)))
				break;
			const struct step *st = &s->steps[s->served < s->nsteps ? s->served : s->nsteps - 1];
			s->served++;
			memcpy(s->last_request, buf, sizeof(buf));
			if (st->action == HALF && write(c, "HTTP/1.1 200 OK\r\n", 17) < 0)
				break;
			if (st->action == RESET || st->action == HALF) {
				usleep(20000); /* let the client read what was sent */
				struct linger lg = {1, 0};
				setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			}
			if (st->action == DROP || st->action == RESET || st->action == HALF)
				break; /* closed without an answer */
			char head[256];
			int hl = snprintf(head, sizeof(head),
			                  "HTTP/1.1 %d X\r\nContent-Type: application/x-amz-json-1.0\r\n"
			                  "Content-Length: %zu\r\n%s\r\n",
			                  st->status, strlen(st->body),
			                  st->action == REPLY_CLOSE ? "Connection: close\r\n" : "");
			if (write(c, head, (size_t)hl) < 0 || write(c, st->body, strlen(st->body)) < 0)
				break;
			if (st->action == REPLY_CLOSE || s->served >= s->total)
				break;
		}
		close(c);
	}
	return NULL;
}

static void server_start(struct server *s, const struct step *steps, int nsteps, int total)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	memset(s, 0, sizeof(*s));
	s->steps = steps;
	s->nsteps = nsteps;
	s->total = total;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->fd >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 8), 0);
	getsockname(s->fd, (struct sockaddr *)&a, &len);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
	shutdown(s->fd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
	close(s->fd);
}

/* A configuration pointing at the server, with fixed credentials. */
static void make_conf(struct awsconf *c, int port, const char *token)
{
	char url[64], err[256];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	setenv("AWS_REGION", "us-east-1", 1);
	setenv("AWS_ENDPOINT_URL_DYNAMODB", url, 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
	if (token)
		setenv("AWS_SESSION_TOKEN", token, 1);
	else
		unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_MAX_ATTEMPTS");
	assert_int_equal(awsconf_load(c, &awsconf_dynamodb, err, sizeof(err)), 0);
}

struct outcome {
	bool called;
	enum awsreq_class cls;
	int attempts;
	long status;
	char type[64], message[256], summary[512], body[256];
};

static void on_done(void *arg, const struct awsreq_result *r)
{
	struct outcome *o = arg;
	o->called = true;
	o->cls = r->cls;
	o->attempts = r->attempts;
	o->status = r->status;
	snprintf(o->type, sizeof(o->type), "%s", r->error_type);
	snprintf(o->message, sizeof(o->message), "%s", r->error_message);
	snprintf(o->summary, sizeof(o->summary), "%s", r->summary);
	snprintf(o->body, sizeof(o->body), "%s", r->body);
}

/* Runs one request to the end. */
static void run_one(struct awsreq_client *c, const char *body, struct outcome *o)
{
	char err[256];

	memset(o, 0, sizeof(*o));
	assert_int_equal(awsreq_submit(c, "DynamoDB_20120810.BatchWriteItem", strdup(body),
	                               strlen(body), 0, on_done, o, err, sizeof(err)),
	                 0);
	for (int i = 0; i < 1000 && !o->called; i++)
		assert_int_equal(awsreq_wait(c, NULL, 0, 100, err, sizeof(err)), 0);
	assert_true(o->called);
	assert_int_equal(awsreq_pending(c), 0);
}

static struct awsreq_client *client_for(const struct awsconf *conf, int max_attempts)
{
	char err[256];
	struct awsreq_options o = {.max_inflight = 1, .max_attempts = max_attempts,
	                           .backoff_base_ms = 1, .seed = 3, .timeout_ms = 5000};
	struct awsreq_client *c = awsreq_client_new(conf, &o, err, sizeof(err));
	assert_non_null(c);
	return c;
}

/* Value of a header in a raw request, or NULL. */
static char *header(const char *req, const char *name, char *out, size_t size)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\r\n%s:", name);
	const char *p = strcasestr(req, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	size_t n = strcspn(p, "\r");
	snprintf(out, size, "%.*s", (int)n, p);
	return out;
}

static void test_request_headers_and_signature(void **state)
{
	(void)state;
	static const struct step steps[] = {{REPLY, 200, "{\"UnprocessedItems\":{}}"}};
	struct server s;
	struct awsconf conf;
	struct outcome o;
	char v[2048], date[64], host[64], authz[512];

	server_start(&s, steps, 1, 1);
	make_conf(&conf, s.port, "SESSION/token+==");
	struct awsreq_client *c = client_for(&conf, 3);
	run_one(c, "{\"RequestItems\":{}}", &o);
	assert_int_equal(o.cls, AWSREQ_OK);
	assert_int_equal(o.attempts, 1);
	assert_string_equal(o.body, "{\"UnprocessedItems\":{}}");
	awsreq_client_free(c);
	server_stop(&s);

	const char *req = s.last_request;
	assert_true(strncmp(req, "POST / HTTP/1.1\r\n", 17) == 0);
	assert_string_equal(header(req, "Content-Type", v, sizeof(v)), "application/x-amz-json-1.0");
	assert_string_equal(header(req, "X-Amz-Target", v, sizeof(v)),
	                    "DynamoDB_20120810.BatchWriteItem");
	assert_string_equal(header(req, "X-Amz-Security-Token", v, sizeof(v)), "SESSION/token+==");
	assert_non_null(header(req, "X-Amz-Date", date, sizeof(date)));
	assert_non_null(header(req, "Host", host, sizeof(host)));
	assert_non_null(header(req, "Authorization", authz, sizeof(authz)));
	assert_null(strstr(req, SECRET));
	assert_non_null(strstr(authz, "SignedHeaders=content-type;host;x-amz-date;"
	                              "x-amz-security-token;x-amz-target, Signature="));

	/* The signature matches the request that arrived. */
	struct sigv4_header h[] = {
		{"Content-Type", "application/x-amz-json-1.0"},
		{"Host", host},
		{"X-Amz-Date", date},
		{"X-Amz-Security-Token", "SESSION/token+=="},
		{"X-Amz-Target", "DynamoDB_20120810.BatchWriteItem"},
	};
	const char *body = strstr(req, "\r\n\r\n") + 4;
	struct sigv4_request sr = {"POST", "/", h, 5, body, strlen(body), "us-east-1", "dynamodb", false};
	struct sigv4_key key = {"AKIDEXAMPLE", SECRET, NULL};
	struct sigv4_result sig;
	assert_int_equal(sigv4_sign(&sr, &key, &sig, v, sizeof(v)), 0);
	assert_string_equal(authz, sig.authorization);
	sigv4_result_free(&sig);
	awsconf_free(&conf);
}

static void test_retries_5xx_then_success(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{REPLY, 500, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#InternalServerError\"}"},
		{REPLY, 503, ""},
		{REPLY, 200, "{}"},
	};
	struct server s;
	struct awsconf conf;
	struct outcome o;

	server_start(&s, steps, 3, 3);
	make_conf(&conf, s.port, NULL);
	struct awsreq_client *c = client_for(&conf, 3);
	run_one(c, "{}", &o);
	assert_int_equal(o.cls, AWSREQ_OK);
	assert_int_equal(o.attempts, 3);
	assert_int_equal(awsreq_stats(c)->requests, 3);
	assert_int_equal(awsreq_stats(c)->retries, 2);
	assert_int_equal(awsreq_stats(c)->latency.count, 3);
	awsreq_client_free(c);
	server_stop(&s);
	awsconf_free(&conf);
}

static void test_throttling_exhausts_attempts(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{REPLY, 400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException\",\"message\":\"slow down\"}"},
	};
	struct server s;
	struct awsconf conf;
	struct outcome o;

	server_start(&s, steps, 1, 3); /* the one step, three times */
	make_conf(&conf, s.port, NULL);
	struct awsreq_client *c = client_for(&conf, 3);
	run_one(c, "{}", &o);
	assert_int_equal(o.cls, AWSREQ_THROTTLED);
	assert_int_equal(o.attempts, 3);
	assert_int_equal(o.status, 400);
	assert_string_equal(o.type, "ProvisionedThroughputExceededException");
	assert_string_equal(o.message, "slow down");
	assert_non_null(strstr(o.summary, "DynamoDB BatchWriteItem"));
	assert_non_null(strstr(o.summary, "after 3 attempts"));
	assert_int_equal(awsreq_stats(c)->throttled, 3);
	awsreq_client_free(c);
	server_stop(&s);
	awsconf_free(&conf);
}

static void test_validation_is_not_retried(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{REPLY, 400, "{\"__type\":\"com.amazon.coral.validate#ValidationException\",\"message\":\"Provided list of item keys contains duplicates\"}"},
	};
	struct server s;
	struct awsconf conf;
	struct outcome o;

	server_start(&s, steps, 1, 1);
	make_conf(&conf, s.port, NULL);
	struct awsreq_client *c = client_for(&conf, 5);
	run_one(c, "{}", &o);
	assert_int_equal(o.cls, AWSREQ_CLIENT);
	assert_int_equal(o.attempts, 1);
	assert_string_equal(o.type, "ValidationException");
	assert_non_null(strstr(o.summary, "contains duplicates"));
	assert_int_equal(awsreq_stats(c)->requests, 1);
	awsreq_client_free(c);
	server_stop(&s);
	awsconf_free(&conf);
}

/* The server answers the first request on a kept connection, then reads the
 * second and closes without answering, as a server closing an idle
 * connection does in the race with our next request. When nothing at all
 * came back, curl (7.88) itself sends again on a new connection; when the
 * connection died after part of an answer, curl reports a receive error and
 * awsreq sends again at once, once, without counting an attempt. Either way
 * the caller sees one attempt and success, with no backoff retry. */
static void closed_keepalive(enum action how, long want_reconnects)
{
	const struct step steps[] = {
		{REPLY, 200, "{\"n\":1}"},
		{how, 0, ""},
		{REPLY, 200, "{\"n\":2}"},
	};
	struct server s;
	struct awsconf conf;
	struct outcome o;

	server_start(&s, steps, 3, 3);
	make_conf(&conf, s.port, NULL);
	struct awsreq_client *c = client_for(&conf, 1); /* no retries but the free one */
	run_one(c, "{}", &o);
	assert_int_equal(o.cls, AWSREQ_OK);
	run_one(c, "{}", &o);
	assert_int_equal(o.cls, AWSREQ_OK);
	assert_string_equal(o.body, "{\"n\":2}");
	assert_int_equal(o.attempts, 1);
	if (want_reconnects >= 0)
		assert_int_equal(awsreq_stats(c)->reconnects, want_reconnects);
	assert_true(awsreq_stats(c)->reconnects <= 1);
	assert_int_equal(awsreq_stats(c)->retries, 0);
	assert_int_equal(s.connections, 2);
	awsreq_client_free(c);
	server_stop(&s);
	awsconf_free(&conf);
}

static void test_closed_keepalive_is_resent_at_once(void **state)
{
	(void)state;
	closed_keepalive(DROP, 0);
	closed_keepalive(RESET, -1); /* curl's or ours: either is fine */
	closed_keepalive(HALF, 1);
}

/* A connection reset on a *new* connection is an ordinary failure. */
static void test_reset_on_new_connection_counts(void **state)
{
	(void)state;
	static const struct step steps[] = {{RESET, 0, ""}};
	struct server s;
	struct awsconf conf;
	struct outcome o;

	server_start(&s, steps, 1, 2);
	make_conf(&conf, s.port, NULL);
	struct awsreq_client *c = client_for(&conf, 2);
	run_one(c, "{}", &o);
	assert_int_equal(o.cls, AWSREQ_CONNECTION);
	assert_int_equal(o.attempts, 2);
	assert_int_equal(awsreq_stats(c)->reconnects, 0);
	awsreq_client_free(c);
	server_stop(&s);
	awsconf_free(&conf);
}

static void test_refused_connection(void **state)
{
	(void)state;
	struct server s;
	struct awsconf conf;
	struct outcome o;
	static const struct step steps[] = {{REPLY, 200, "{}"}};

	/* A port that was just free: nothing listens there now. */
	server_start(&s, steps, 1, 0);
	int port = s.port;
	server_stop(&s);
	make_conf(&conf, port, NULL);
	struct awsreq_client *c = client_for(&conf, 2);
	run_one(c, "{}", &o);
	assert_int_equal(o.cls, AWSREQ_CONNECTION);
	assert_int_equal(o.attempts, 2);
	assert_int_equal(o.status, 0);
	assert_non_null(strstr(o.summary, "after 2 attempts"));
	awsreq_client_free(c);
	awsconf_free(&conf);
}

/* Credentials refused once: the requests still queued are not sent (each
 * would be refused alike), nor is any later one; each ends as refused,
 * saying so, with the first refusal's reason. */
static void test_auth_refusal_stops_the_client(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{REPLY, 400, "{\"__type\":\"com.amazon.coral.service#ExpiredTokenException\",\"message\":\"The security token included in the request is expired\"}"},
	};
	struct server s;
	struct awsconf conf;
	struct outcome o[4];
	char err[256];

	memset(o, 0, sizeof(o));
	server_start(&s, steps, 1, 1);
	make_conf(&conf, s.port, "EXPIRED/token");
	struct awsreq_client *c = client_for(&conf, 5); /* one on the wire at a time */
	for (int i = 0; i < 3; i++)
		assert_int_equal(awsreq_submit(c, "DynamoDB_20120810.BatchWriteItem", strdup("{}"), 2,
		                               i == 2 ? 60000 : 0, on_done, &o[i], err, sizeof(err)),
		                 0);
	for (int i = 0; i < 1000 && awsreq_pending(c) > 0; i++)
		assert_int_equal(awsreq_wait(c, NULL, 0, 100, err, sizeof(err)), 0);
	assert_int_equal(awsreq_pending(c), 0); /* the one due in a minute too */
	assert_int_equal(o[0].cls, AWSREQ_AUTH);
	assert_int_equal(o[0].status, 400);
	assert_int_equal(o[0].attempts, 1);
	for (int i = 1; i < 3; i++) {
		assert_true(o[i].called);
		assert_int_equal(o[i].cls, AWSREQ_AUTH);
		assert_int_equal(o[i].status, 0);
		assert_int_equal(o[i].attempts, 0);
		assert_string_equal(o[i].type, "ExpiredTokenException");
		assert_string_equal(o[i].message, "not sent");
		assert_non_null(strstr(o[i].summary, "DynamoDB BatchWriteItem: not sent, the credentials "
		                                     "were refused: DynamoDB BatchWriteItem: HTTP 400 "
		                                     "ExpiredTokenException"));
	}
	/* a later request is not sent either */
	run_one(c, "{}", &o[3]);
	assert_int_equal(o[3].cls, AWSREQ_AUTH);
	assert_int_equal(o[3].status, 0);
	assert_int_equal(awsreq_stats(c)->requests, 1);
	assert_int_equal(awsreq_stats(c)->retries, 0);
	awsreq_client_free(c);
	server_stop(&s);
	assert_int_equal(s.served, 1);
	awsconf_free(&conf);
}

/* Requests still queued or on the wire when the client goes: no callback,
 * no leak. */
static void test_free_with_pending(void **state)
{
	(void)state;
	struct awsconf conf;
	struct outcome o = {0};
	char err[256];

	make_conf(&conf, 9, NULL);
	struct awsreq_client *c = client_for(&conf, 3);
	assert_int_equal(awsreq_submit(c, "DynamoDB_20120810.Scan", strdup("{}"), 2, 0, on_done, &o,
	                               err, sizeof(err)),
	                 0);
	assert_int_equal(awsreq_submit(c, "DynamoDB_20120810.Scan", strdup("{}"), 2, 60000, on_done,
	                               &o, err, sizeof(err)),
	                 0);
	assert_int_equal(awsreq_pending(c), 2);
	assert_int_equal(awsreq_wait(c, NULL, 0, 0, err, sizeof(err)), 0);
	awsreq_client_free(c);
	assert_false(o.called);
	awsconf_free(&conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_bounds),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_clean_text),
		cmocka_unit_test(test_parse_error),
		cmocka_unit_test(test_latency),
		cmocka_unit_test(test_request_headers_and_signature),
		cmocka_unit_test(test_retries_5xx_then_success),
		cmocka_unit_test(test_throttling_exhausts_attempts),
		cmocka_unit_test(test_validation_is_not_retried),
		cmocka_unit_test(test_closed_keepalive_is_resent_at_once),
		cmocka_unit_test(test_reset_on_new_connection_counts),
		cmocka_unit_test(test_refused_connection),
		cmocka_unit_test(test_auth_refusal_stops_the_client),
		cmocka_unit_test(test_free_with_pending),
	};
	/* No proxy from the environment between us and the loopback server. */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_CA_BUNDLE");
	unsetenv("AWS_RETRY_MODE");
	int rc = cmocka_run_group_tests_name("awsreq", tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
