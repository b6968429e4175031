/* AWS JSON 1.0 requests with the SDKs' standard-mode retries.
 *
 * Design notes
 * - Layers: awsconf (where and who) -> sigv4 (signature) -> http (curl
 *   multi) -> this file (JSON 1.0 headers, retry policy) -> a thin service
 *   client (dynamodb.c; sqs.c next). Nothing here knows about DynamoDB
 *   beyond its signing name in the configuration.
 * - Each attempt is signed afresh (a new X-Amz-Date), so a retry late in a
 *   long backoff is never refused as a stale signature.
 * - Retried, with full-jitter backoff and at most max_attempts requests in
 *   all: throttling codes (and HTTP 429), HTTP 500/502/503/504 and the
 *   transient codes, connection failures, an answer over the size cap
 *   (http.h), and answers that are not the service's at all (a 3xx, or an
 *   error status without an AWS error code: a proxy or a load balancer in
 *   the way, which may pass). Never retried: validation, authentication,
 *   a missing table or queue and other 4xx answers with an AWS error code,
 *   which the same request would get again.
 * - What comes from the server (the error code and message) is cleaned
 *   before it goes into a summary: it ends in log lines and "_error"
 *   reasons, and a server, or whatever answers in its place, may put
 *   newlines or terminal escapes in it.
 * - A request that fails with no answer on a *reused* keep-alive connection
 *   (curl: GOT_NOTHING, SEND_ERROR, RECV_ERROR) is sent again at once, once,
 *   without counting an attempt: servers close idle connections (dynalite
 *   after 5 s) and the race with our next request is not the service's
 *   failure. curl (7.88) already resends by itself when *nothing* came back
 *   on a reused connection; this catches the rest (a reset after part of the
 *   answer) and any curl that does not. AWS's JSON APIs we use are
 *   idempotent for our purposes (BatchWriteItem puts; SQS FIFO sends carry
 *   deduplication ids).
 * - Requests wait in one list ordered by the time they are due; at most
 *   max_inflight are on the wire. A retry does not hold a slot while it
 *   backs off, so one throttled request does not stall the others.
 * - The SDKs' retry quota (a token bucket that stops retries when most
 *   requests fail) is left out: the attempt limit bounds the work, and the
 *   tools mark what could not be done instead of failing the process.
 * - Credentials or a signature refused once are refused for every request:
 *   after the first such answer the client sends nothing more (see
 *   awsreq.h). A tool holding thousands of records would otherwise send
 *   each of its queued batches only to be refused again, hundreds of
 *   signed requests with a key that is known to be bad. */
#include "awsreq.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/crypto.h>

#include "backoff.h"
#include "http.h"
#include "sigv4.h"
#include "utf8.h"

#define CONTENT_TYPE "application/x-amz-json-1.0"

struct pending {
	struct awsreq_client *c;
	char *target;
	char *body;
	size_t body_len;
	awsreq_done_fn *done;
	void *arg;
	int attempts;     /* requests sent, the free reconnect excluded */
	bool reconnected; /* the one free resend on a closed connection is used */
	uint64_t due_ms;
	struct pending *next; /* in the queue, or on the wire */
};

struct awsreq_client {
	const struct awsconf *conf;
	struct http_client *http;
	struct backoff backoff;
	int max_attempts;
	unsigned max_inflight;
	unsigned inflight;
	unsigned npending;
	struct pending *queue; /* not on the wire, by due time */
	struct pending *wire;  /* on the wire, in no order */
	struct awsreq_stats stats;
	char user_agent[64];
	/* The first refusal of the credentials (AWSREQ_AUTH): once set,
	 * nothing more is sent. */
	bool refused;
	char refused_type[128];
	char refused_summary[1024];
};

/* Error codes the SDKs treat as throttling. */
static const char *const throttling_codes[] = {
	"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
	"TooManyRequestsException", "ProvisionedThroughputExceededException",
	"TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
	"LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
	"EC2ThrottledException", "ThrottlingError", "OverLimit", "KmsThrottled", NULL,
};

/* The table or queue named does not exist: a fault of the configuration
 * (or of the provisioning), the same for every request. */
static const char *const missing_codes[] = {
	"ResourceNotFoundException", "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue",
	"NonExistentQueue", "QueueDeletedRecently", NULL,
};

/* Error codes of transient server-side trouble, whatever the status. */
static const char *const transient_codes[] = {
	"RequestTimeout", "RequestTimeoutException", "InternalServerError", "InternalFailure",
	"InternalError", "ServiceUnavailable", "ServiceUnavailableException", NULL,
};

/* The credentials or the signature were refused: retrying cannot help. */
static const char *const auth_codes[] = {
	"UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignature",
	"IncompleteSignatureException", "MissingAuthenticationToken",
	"MissingAuthenticationTokenException", "AccessDeniedException", "AccessDenied",
	"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "SignatureDoesNotMatch",
	"AuthFailure", "RequestExpired", NULL,
};

static bool in_list(const char *const *list, const char *code)
{
	if (!code || !*code)
		return false;
	for (; *list; list++)
		if (strcmp(*list, code) == 0)
			return true;
	return false;
}

enum awsreq_class awsreq_classify(long status, int curl_code, const char *error_type)
{
	if (curl_code != CURLE_OK) {
		switch (curl_code) {
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_RESOLVE_PROXY:
		case CURLE_COULDNT_CONNECT:
		case CURLE_OPERATION_TIMEDOUT:
		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_GOT_NOTHING:
		case CURLE_PARTIAL_FILE:
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
		case CURLE_WEIRD_SERVER_REPLY:
			return AWSREQ_CONNECTION;
		default:
			/* certificate problems, bad URL, out of memory, a response
			 * over the size limit: the same again would fail the same way */
			return AWSREQ_LOCAL;
		}
	}
	if (status >= 200 && status < 300)
		return AWSREQ_OK;
	/* AWS's JSON APIs never redirect, nor answer 1xx as a final status:
	 * whatever did is not the service, whatever its body says. */
	if (status < 200 || (status >= 300 && status < 400))
		return AWSREQ_UNEXPECTED;
	if (in_list(throttling_codes, error_type) || status == 429)
		return AWSREQ_THROTTLED;
	if (in_list(transient_codes, error_type) || status == 500 || status == 502 ||
	    status == 503 || status == 504)
		return AWSREQ_TRANSIENT;
	if (in_list(auth_codes, error_type) || status == 401 || status == 403)
		return AWSREQ_AUTH;
	if (in_list(missing_codes, error_type))
		return AWSREQ_MISSING;
	/* The service names every refusal: without a code the answer came from
	 * something else on the way (a proxy's 404 page, a 501 of a gateway). */
	if (!error_type || !*error_type)
		return AWSREQ_UNEXPECTED;
	return AWSREQ_CLIENT;
}

bool awsreq_class_retryable(enum awsreq_class cls)
{
	return cls == AWSREQ_THROTTLED || cls == AWSREQ_TRANSIENT || cls == AWSREQ_CONNECTION;
}

bool awsreq_class_stops(enum awsreq_class cls)
{
	return cls == AWSREQ_AUTH || cls == AWSREQ_LOCAL || cls == AWSREQ_MISSING ||
	       cls == AWSREQ_UNEXPECTED;
}

const char *awsreq_class_name(enum awsreq_class cls)
{
	switch (cls) {
	case AWSREQ_OK: return "ok";
	case AWSREQ_THROTTLED: return "throttled";
	case AWSREQ_TRANSIENT: return "server_error";
	case AWSREQ_CONNECTION: return "connection";
	case AWSREQ_AUTH: return "auth";
	case AWSREQ_CLIENT: return "rejected";
	case AWSREQ_LOCAL: return "local";
	case AWSREQ_MISSING: return "missing";
	case AWSREQ_UNEXPECTED: return "unexpected";
	}
	return "unknown";
}

/* mark_cut: end a text cut short with "..." (a message; a code is only
 * ever compared, and is cut plainly, as before). */
static void clean(const char *in, size_t len, char *out, size_t size, bool mark_cut)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0, i = 0;

	if (size == 0)
		return;
	mark_cut = mark_cut && size > 8; /* a tiny buffer: the text itself first */
	while (i < len) {
		const unsigned char c = (unsigned char)in[i];
		size_t k = utf8_sequence_len(in + i, len - i);
		/* C1 controls (U+0080-U+009F) are two bytes, C2 80 to C2 9F */
		bool c1 = k == 2 && c == 0xC2 && (unsigned char)in[i + 1] < 0xA0;
		bool escape = k == 0 || c1 || c < 0x20 || c == 0x7f;
		size_t need = escape ? 4 * (k ? k : 1) : k;
		/* room for this and for "..." should more follow */
		if (n + need + (mark_cut && i + (k ? k : 1) < len ? 3 : 0) > size - 1) {
			if (mark_cut && size - 1 - n >= 3)
				memcpy(out + n, "...", 3), n += 3;
			break;
		}
		if (!escape) {
			memcpy(out + n, in + i, k);
			n += k;
			i += k;
			continue;
		}
		for (size_t j = 0; j < (k ? k : 1); j++) {
			const unsigned char b = (unsigned char)in[i + j];
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = hex[b >> 4];
			out[n++] = hex[b & 15];
		}
		i += k ? k : 1;
	}
	out[n] = '\0';
}

void awsreq_clean_text(const char *in, size_t len, char *out, size_t size)
{
	clean(in, len, out, size, true);
}

/* "ns#Code:extra" -> "Code" */
static void clean_type(const char *in, char *out, size_t size)
{
	const char *hash = strrchr(in, '#');
	const char *s = hash ? hash + 1 : in;
	size_t n = strcspn(s, ":");
	clean(s, n, out, size, false);
}

void awsreq_parse_error(const char *body, size_t len, const char *header_type, char *type,
                        size_t type_size, char *message, size_t message_size)
{
	cJSON *doc = len ? cJSON_ParseWithLength(body, len) : NULL;
	const cJSON *t = NULL, *m = NULL;

	if (type_size)
		type[0] = '\0';
	if (message_size)
		message[0] = '\0';
	if (cJSON_IsObject(doc)) {
		t = cJSON_GetObjectItemCaseSensitive(doc, "__type");
		if (!cJSON_IsString(t))
			t = cJSON_GetObjectItemCaseSensitive(doc, "code");
		/* DynamoDB says "message", some services "Message". */
		m = cJSON_GetObjectItemCaseSensitive(doc, "message");
		if (!cJSON_IsString(m))
			m = cJSON_GetObjectItemCaseSensitive(doc, "Message");
	}
	if (cJSON_IsString(t) && type_size)
		clean_type(t->valuestring, type, type_size);
	else if (header_type && *header_type && type_size)
		clean_type(header_type, type, type_size);
	if (cJSON_IsString(m) && message_size)
		awsreq_clean_text(m->valuestring, strlen(m->valuestring), message, message_size);
	cJSON_Delete(doc);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct awsreq_client *awsreq_client_new(const struct awsconf *conf,
                                        const struct awsreq_options *opt, char *errstr,
                                        size_t errstr_size)
{
	struct awsreq_client *c = calloc(1, sizeof(*c));

	if (!c) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	c->conf = conf;
	c->max_inflight = opt->max_inflight ? opt->max_inflight : 4;
	c->max_attempts = opt->max_attempts > 0 ? opt->max_attempts : conf->max_attempts;
	if (c->max_attempts < 1)
		c->max_attempts = 1;
	backoff_init(&c->backoff, opt->backoff_base_ms, opt->backoff_cap_ms, opt->seed);
#ifdef EP_VERSION
	snprintf(c->user_agent, sizeof(c->user_agent), "event-processor/%s", EP_VERSION);
#else
	snprintf(c->user_agent, sizeof(c->user_agent), "event-processor");
#endif
	struct http_options ho = {
		.connect_timeout_ms = opt->connect_timeout_ms,
		.timeout_ms = opt->timeout_ms,
		.max_connections = c->max_inflight,
		.ca_bundle = conf->ca_bundle,
		.user_agent = c->user_agent,
	};
	c->http = http_client_new(&ho, errstr, errstr_size);
	if (!c->http) {
		free(c);
		return NULL;
	}
	return c;
}

static void pending_free(struct pending *p)
{
	if (!p)
		return;
	free(p->target);
	free(p->body);
	free(p);
}

void awsreq_client_free(struct awsreq_client *c)
{
	if (!c)
		return;
	/* Freeing the HTTP client drops the transfers without callbacks. */
	http_client_free(c->http);
	while (c->queue) {
		struct pending *p = c->queue;
		c->queue = p->next;
		pending_free(p);
	}
	while (c->wire) {
		struct pending *p = c->wire;
		c->wire = p->next;
		pending_free(p);
	}
	free(c);
}

/* Inserts p in due order, after those due at the same time (FIFO). */
static void enqueue(struct awsreq_client *c, struct pending *p)
{
	struct pending **pp = &c->queue;
	while (*pp && (*pp)->due_ms <= p->due_ms)
		pp = &(*pp)->next;
	p->next = *pp;
	*pp = p;
}

/* Hands a finished request to its owner. */
static void complete(struct pending *p, enum awsreq_class cls, long status, const char *body,
                     size_t body_len, const char *type, const char *message, const char *summary)
{
	struct awsreq_client *c = p->c;
	struct awsreq_result r = {
		.cls = cls,
		.retryable = awsreq_class_retryable(cls),
		.status = status,
		.body = body ? body : "",
		.body_len = body ? body_len : 0,
		.error_type = type ? type : "",
		.error_message = message ? message : "",
		.summary = summary ? summary : "",
		.attempts = p->attempts,
	};

	if (cls != AWSREQ_OK)
		c->stats.failed++;
	c->npending--;
	p->done(p->arg, &r);
	pending_free(p);
}

/* What to call the request in messages: "DynamoDB BatchWriteItem". */
static void describe(const struct pending *p, char *buf, size_t size)
{
	const char *dot = strrchr(p->target, '.');
	snprintf(buf, size, "%s %s", p->c->conf->service->display, dot ? dot + 1 : p->target);
}

static void on_response(void *arg, const struct http_response *resp);

/* Signs and sends one attempt. Returns 0, or -1 with errstr set. */
static int send_attempt(struct pending *p, char *errstr, size_t errstr_size)
{
	struct awsreq_client *c = p->c;
	const struct awsconf *conf = c->conf;
	char amz_date[17];
	struct sigv4_result sig;
	const char *token = conf->creds.session_token;

	sigv4_amz_date(time(NULL), amz_date);
	struct sigv4_header sh[5] = {
		{"Content-Type", CONTENT_TYPE},
		{"Host", conf->host},
		{"X-Amz-Date", amz_date},
		{"X-Amz-Target", p->target},
		{"X-Amz-Security-Token", token},
	};
	struct sigv4_request req = {
		.method = "POST",
		.target = conf->path,
		.headers = sh,
		.nheaders = token ? 5 : 4,
		.payload = p->body,
		.payload_len = p->body_len,
		.region = conf->region,
		.service = conf->service->signing_name,
	};
	struct sigv4_key key = {conf->creds.access_key_id, conf->creds.secret_access_key, token};
	if (sigv4_sign(&req, &key, &sig, errstr, errstr_size) < 0)
		return -1;

	/* The same headers as signed, plus the signature. */
	size_t tlen = strlen(p->target), toklen = token ? strlen(token) : 0;
	char host[300], date[40], *target = malloc(tlen + 16), *tok = NULL;
	char *authz = malloc(strlen(sig.authorization) + 16);
	if (token)
		tok = malloc(toklen + 32);
	int rc = -1;
	if (!target || !authz || (token && !tok)) {
		snprintf(errstr, errstr_size, "out of memory");
		goto out;
	}
	snprintf(host, sizeof(host), "Host: %s", conf->host);
	snprintf(date, sizeof(date), "X-Amz-Date: %s", amz_date);
	snprintf(target, tlen + 16, "X-Amz-Target: %s", p->target);
	snprintf(authz, strlen(sig.authorization) + 16, "Authorization: %s", sig.authorization);
	if (tok)
		snprintf(tok, toklen + 32, "X-Amz-Security-Token: %s", token);
	const char *headers[6] = {"Content-Type: " CONTENT_TYPE, host, date, target, authz, tok};
	rc = http_post(c->http, conf->endpoint, headers, tok ? 6 : 5, p->body, p->body_len,
	               on_response, p, errstr, errstr_size);
	if (rc == 0) {
		c->inflight++;
		c->stats.requests++;
		p->next = c->wire;
		c->wire = p;
	}
out:
	free(target);
	free(authz);
	if (tok) {
		OPENSSL_cleanse(tok, toklen + 32);
		free(tok);
	}
	sigv4_result_free(&sig);
	return rc;
}

/* Starts queued requests that are due while slots are free. */
static void start_due(struct awsreq_client *c)
{
	uint64_t now = now_ms();
	char errstr[256], what[128], summary[1280];

	/* Refused credentials: whatever waits ends now, due or not, with the
	 * first refusal's reason. A callback may queue more; they end too. */
	while (c->queue && c->refused) {
		struct pending *p = c->queue;
		c->queue = p->next;
		p->next = NULL;
		describe(p, what, sizeof(what));
		snprintf(summary, sizeof(summary), "%s: not sent, the credentials were refused: %s", what,
		         c->refused_summary);
		complete(p, AWSREQ_AUTH, 0, NULL, 0, c->refused_type, "not sent", summary);
	}
	while (c->queue && c->inflight < c->max_inflight && c->queue->due_ms <= now) {
		struct pending *p = c->queue;
		c->queue = p->next;
		p->next = NULL;
		p->attempts++;
		if (send_attempt(p, errstr, sizeof(errstr)) < 0) {
			describe(p, what, sizeof(what));
			snprintf(summary, sizeof(summary), "%s: %s", what, errstr);
			complete(p, AWSREQ_LOCAL, 0, NULL, 0, "", errstr, summary);
		}
	}
}

static void on_response(void *arg, const struct http_response *resp)
{
	struct pending *p = arg;
	struct awsreq_client *c = p->c;
	char type[128] = "", message[512] = "", what[128], summary[1024];

	c->inflight--;
	for (struct pending **pp = &c->wire; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	p->next = NULL;
	latency_add(&c->stats.latency, resp->seconds);
	if (resp->curl_code == CURLE_OK && (resp->status < 200 || resp->status >= 300))
		awsreq_parse_error(resp->body, resp->body_len, resp->error_type, type, sizeof(type),
		                   message, sizeof(message));
	enum awsreq_class cls = awsreq_classify(resp->status, resp->curl_code, type);
	/* An answer over the cap may be a server in trouble, or a proxy's
	 * page: like a 5xx, it is tried again. */
	if (resp->too_large)
		cls = AWSREQ_TRANSIENT;
	if (cls == AWSREQ_THROTTLED)
		c->stats.throttled++;

	if (cls == AWSREQ_OK) {
		complete(p, cls, resp->status, resp->body, resp->body_len, "", "", "");
		return;
	}
	/* A kept connection the server had closed: once, at once, free. */
	if (resp->reused && http_dead_connection(resp->curl_code) && !p->reconnected) {
		p->reconnected = true;
		p->attempts--; /* start_due counts it again */
		p->due_ms = 0;
		c->stats.reconnects++;
		enqueue(c, p);
		return;
	}
	if ((awsreq_class_retryable(cls) || cls == AWSREQ_UNEXPECTED) &&
	    p->attempts < c->max_attempts) {
		unsigned delay = backoff_delay_ms(&c->backoff, (unsigned)(p->attempts - 1));
		p->due_ms = now_ms() + delay;
		c->stats.retries++;
		enqueue(c, p);
		return;
	}
	describe(p, what, sizeof(what));
	if (resp->curl_code != CURLE_OK) {
		awsreq_clean_text(resp->error, strlen(resp->error), message, sizeof(message));
		snprintf(summary, sizeof(summary), "%s: %s (after %d attempt%s)", what, message,
		         p->attempts, p->attempts == 1 ? "" : "s");
	} else {
		if (!type[0])
			snprintf(type, sizeof(type), "HTTP%ld", resp->status);
		if (cls == AWSREQ_UNEXPECTED && !message[0])
			snprintf(message, sizeof(message), "not an answer of %s (no AWS error code): "
			         "a proxy or a wrong endpoint in the way?", c->conf->service->display);
		snprintf(summary, sizeof(summary), "%s: HTTP %ld %s%s%s (after %d attempt%s)", what,
		         resp->status, type, message[0] ? ": " : "", message, p->attempts,
		         p->attempts == 1 ? "" : "s");
	}
	if (cls == AWSREQ_AUTH && !c->refused) {
		c->refused = true;
		snprintf(c->refused_type, sizeof(c->refused_type), "%s", type);
		snprintf(c->refused_summary, sizeof(c->refused_summary), "%s", summary);
	}
	complete(p, cls, resp->status, resp->body, resp->body_len, type, message, summary);
}

int awsreq_submit(struct awsreq_client *c, const char *target, char *body, size_t body_len,
                  unsigned delay_ms, awsreq_done_fn *done, void *arg, char *errstr,
                  size_t errstr_size)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (!p || !(p->target = strdup(target))) {
		free(p);
		free(body);
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	p->c = c;
	p->body = body;
	p->body_len = body_len;
	p->done = done;
	p->arg = arg;
	/* Due from now: a retry that fell due earlier goes first, since the
	 * records behind it wait for it in order. */
	p->due_ms = now_ms() + delay_ms;
	enqueue(c, p);
	c->npending++;
	return 0;
}

int awsreq_wait(struct awsreq_client *c, struct pollfd *extra, unsigned nextra, int timeout_ms,
                char *errstr, size_t errstr_size)
{
	start_due(c);
	/* Wake up for the next retry that will have a slot to go to. */
	if (c->queue && c->inflight < c->max_inflight) {
		uint64_t now = now_ms();
		int until = c->queue->due_ms > now ? (int)(c->queue->due_ms - now) : 0;
		if (timeout_ms < 0 || until < timeout_ms)
			timeout_ms = until;
	}
	if (http_wait(c->http, extra, nextra, timeout_ms, errstr, errstr_size) < 0)
		return -1;
	start_due(c);
	return 0;
}

int awsreq_wait_many(struct awsreq_client *const *cs, unsigned n, struct pollfd *extra,
                     unsigned nextra, int timeout_ms, char *errstr, size_t errstr_size)
{
	struct http_client *https[AWSREQ_WAIT_MANY_MAX];

	if (n == 0 || n > AWSREQ_WAIT_MANY_MAX) {
		snprintf(errstr, errstr_size, "awsreq_wait_many: %u clients", n);
		return -1;
	}
	uint64_t now = now_ms();
	for (unsigned i = 0; i < n; i++) {
		struct awsreq_client *c = cs[i];
		start_due(c);
		if (c->queue && c->inflight < c->max_inflight) {
			int until = c->queue->due_ms > now ? (int)(c->queue->due_ms - now) : 0;
			if (timeout_ms < 0 || until < timeout_ms)
				timeout_ms = until;
		}
		https[i] = c->http;
	}
	if (http_wait_many(https, n, extra, nextra, timeout_ms, errstr, errstr_size) < 0)
		return -1;
	for (unsigned i = 0; i < n; i++)
		start_due(cs[i]);
	return 0;
}

unsigned awsreq_pending(const struct awsreq_client *c)
{
	return c->npending;
}

const struct awsreq_stats *awsreq_stats(const struct awsreq_client *c)
{
	return &c->stats;
}
