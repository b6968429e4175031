/*
 * route — hand each record to its SQS queue: the triage.
 *
 * Reads newline-delimited JSON records from standard input, or from the
 * files named as arguments in turn (like cat; "-" is standard input), and
 * sends each one, with SendMessageBatch (up to 10 messages a request), to
 * one of three places:
 *   - a stored event (no "_error") to its client's FIFO queue
 *     "<client>.fifo": the event without its "_" members, deduplicated by
 *     uid, grouped by --group-by (default: the client, one ordered lane);
 *   - a record persist marked retryable, or an event its client's queue
 *     would not take after the retries, to retry.fifo, in an envelope
 *     {"event":…,"attempts":1,"errors":[…]} that the retry daemon reads;
 *   - anything else (invalid, not retryable, no queue for its client) to the
 *     DLQ, as it is, "_error" with the reason included.
 *
 * Writes one outcome line per record on standard output, in input order,
 * only once the queue accepted the message: the input record plus
 * "_out":{"queue":…,"message_id":…} ("_src" kept, so kcat-in can
 * acknowledge it). When SQS cannot be reached, route waits and tries again
 * (input stops while it holds too much): it never drops a record and never
 * writes an outcome early.
 *
 * Configuration comes from the AWS environment (AWS_REGION, AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE,
 * AWS_SHARED_CREDENTIALS_FILE, AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL,
 * AWS_CA_BUNDLE, AWS_MAX_ATTEMPTS, AWS_RETRY_MODE).
 *
 * Exit status: 0 when done, 64 usage, 66 an input file could not be opened
 * (the others are still read), 69 SQS refused (credentials, or retry.fifo or
 * the DLQ does not exist: the records without an outcome stay unacknowledged),
 * 74 read or write error (a closed output pipe included), 75 stopped by a
 * second signal with records still unaccepted or outcome lines stdout did not
 * take (neither is acknowledged), 78 bad
 * configuration. End of input or SIGTERM/SIGINT: no more input is read,
 * everything taken is delivered and its outcome written, then exit 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "awsconf.h"
#include "awsreq.h"
#include "cli.h"
#include "input.h"
#include "log.h"
#include "metrics.h"
#include "outbuf.h"
#include "record.h"
#include "router.h"
#include "sqs.h"

#define LINGER_MS_DEFAULT 20
#define INFLIGHT_DEFAULT 8
#define LINES_PER_TURN 2000             /* lines read before looking at the network again */
#define MAX_BUFFERED (64 * 1024 * 1024) /* bytes of records held before input pauses */
#define MAX_OUTPUT_QUEUED (16 * 1024 * 1024)

struct options {
	const char *retry_queue, *dlq_queue;
	enum event_group_by group_by;
	long batch_size, linger_ms, inflight, max_attempts, backoff_base_ms;
	long connect_timeout_ms, request_timeout_ms, stats_interval;
	const char *metrics_path;
	long max_line;
	bool quiet;
	int verbose;
};

/* One input in turn, like cat. */

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: route [-qv] [-g client|uid] [-b batch-size] [-l linger-ms] [-i inflight]\n"
	        "             [--retry-queue name] [--dlq name] [--max-attempts n]\n"
	        "             [--stats-interval seconds] [--metrics-file path] [file ...]\n"
	        "\n"
	        "Sends each record to SQS: a stored event to its client's queue <client>.fifo,\n"
	        "a record persist marked retryable to retry.fifo, anything else marked or\n"
	        "invalid to the DLQ. Writes one outcome line per record to stdout, in input\n"
	        "order, once the queue accepted it: the record plus\n"
	        "\"_out\":{\"queue\":...,\"message_id\":...}.\n"
	        "\n"
	        "  -g, --group-by POLICY     MessageGroupId of the clients' queues: client (one\n"
	        "                            ordered lane per queue, the default) or uid (no\n"
	        "                            order between events, more throughput)\n"
	        "  -b, --batch-size N        messages per SendMessageBatch, 1-10 (default 10)\n"
	        "  -l, --linger-ms MS        send a partial batch after MS without new input\n"
	        "                            (default %d; 0 sends at once)\n"
	        "  -i, --inflight N          requests in flight at once, 1-256 (default %d)\n"
	        "      --retry-queue NAME    the retry queue (default retry.fifo)\n"
	        "      --dlq NAME            the dead-letter queue (default dlq.fifo)\n"
	        "      --max-attempts N      sends of a message to a client's queue before it\n"
	        "                            goes to the retry queue, 1-100 (default\n"
	        "                            AWS_MAX_ATTEMPTS, else %d)\n"
	        "      --backoff-base-ms MS  first retry delay ceiling (default 100; doubles per\n"
	        "                            retry up to 20 s, times a random factor 0-1)\n"
	        "      --connect-timeout MS  to connect (default 3000)\n"
	        "      --request-timeout MS  per request, connecting included (default 10000)\n"
	        "      --stats-interval S    a stats line on stderr every S seconds (default 0: off)\n"
	        "      --metrics-file PATH   the counters in Prometheus text format, replaced\n"
	        "                            atomically every interval (S, else 10 s) and at exit\n"
	        "      --max-line BYTES      longest line accepted (default %d)\n"
	        "  -q, --quiet               no warnings for failed requests, no final stats\n"
	        "  -v, --verbose             say where requests go, and more\n"
	        "  -h, --help                this text\n"
	        "  -V, --version             print the version\n"
	        "\n"
	        "AWS settings come from the environment: AWS_REGION, AWS_ACCESS_KEY_ID,\n"
	        "AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (or AWS_PROFILE and\n"
	        "AWS_SHARED_CREDENTIALS_FILE), AWS_ENDPOINT_URL_SQS or AWS_ENDPOINT_URL,\n"
	        "AWS_CA_BUNDLE, AWS_MAX_ATTEMPTS.\n"
	        "\n"
	        "Exit: 0 done, 64 usage, 66 an input could not be opened, 69 SQS refused the\n"
	        "request (credentials, access denied) or something else answered in its place,\n"
	        "71 out of memory, 74 I/O error, 75 stopped by a second signal before every\n"
	        "record was accepted, 78 bad configuration (retry queue or DLQ missing).\n",
	        LINGER_MS_DEFAULT, INFLIGHT_DEFAULT, AWSCONF_MAX_ATTEMPTS_DEFAULT,
	        RECORD_MAX_LINE_ROUTE);
}

static const char *queue_name(const char *opt, const char *arg)
{
	if (!sqs_queue_name_valid(arg))
		fatalx(EX_USAGE, "--%s: '%s' is not an SQS queue name (1-80 of A-Z a-z 0-9 - _, "
		                 "ending in .fifo for a FIFO queue)", opt, arg);
	return arg;
}

/* One JSON line on stderr, in one write. */
static void print_stats(const char *kind, const struct router_stats *s,
                        const struct awsreq_stats *a, double elapsed)
{
	char line[1024];
	int n = snprintf(
		line, sizeof(line),
		"{\"prog\":\"route\",\"stats\":\"%s\",\"records_in\":%lu,\"records_out\":%lu,"
		"\"to_client\":%lu,\"to_retry\":%lu,\"to_dlq\":%lu,\"marked\":%lu,\"requests\":%lu,"
		"\"retries\":%lu,\"reconnects\":%lu,\"throttled\":%lu,\"batches\":%lu,"
		"\"mean_batch\":%.2f,\"failed_entries\":%lu,\"resends\":%lu,\"lookups\":%lu,"
		"\"latency_ms\":{\"p50\":%.2f,\"p99\":%.2f,\"max\":%.2f},\"elapsed_s\":%.3f}\n",
		kind, s->records_in, s->records_out, s->to_client, s->to_retry, s->to_dlq, s->marked,
		a->requests, a->retries + s->resends, a->reconnects, a->throttled, s->batches,
		s->batches ? (double)s->entries / (double)s->batches : 0.0, s->failed_entries,
		s->resends, s->lookups, latency_quantile(&a->latency, 0.5) * 1e3,
		latency_quantile(&a->latency, 0.99) * 1e3, a->latency.max * 1e3, elapsed);
	if (n > 0 && write(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line)) < 0) {
		/* nowhere left to complain */
	}
}

/* The same counters for --metrics-file (nothing without one). */
static void write_metrics(const char *path, const struct router_stats *s,
                          const struct awsreq_stats *a, double elapsed)
{
	char errstr[512];

	if (!path)
		return;
	const struct metric m[] = {
		{"records_in", "Records read.", METRIC_COUNTER, (double)s->records_in},
		{"records_out", "Outcome lines written.", METRIC_COUNTER, (double)s->records_out},
		{"routed", "Events accepted by a client's queue.", METRIC_COUNTER, (double)s->to_client},
		{"to_retry", "Records accepted by the retry queue.", METRIC_COUNTER, (double)s->to_retry},
		{"to_dlq", "Records accepted by the DLQ.", METRIC_COUNTER, (double)s->to_dlq},
		{"requests", "HTTP requests sent to SQS.", METRIC_COUNTER, (double)a->requests},
		{"retries", "Requests or entries sent again.", METRIC_COUNTER,
		 (double)(a->retries + s->resends)},
		{"throttled", "Throttling answers.", METRIC_COUNTER, (double)a->throttled},
		{"failed_entries", "Entries SQS reported Failed.", METRIC_COUNTER,
		 (double)s->failed_entries},
		{"request_latency_p50_seconds", "Median request latency.", METRIC_GAUGE,
		 latency_quantile(&a->latency, 0.5)},
		{"request_latency_p99_seconds", "99th percentile request latency.", METRIC_GAUGE,
		 latency_quantile(&a->latency, 0.99)},
		{"uptime_seconds", "Seconds since the tool started.", METRIC_GAUGE, elapsed},
	};
	if (metrics_write(path, "route", m, sizeof(m) / sizeof(m[0]), errstr, sizeof(errstr)) < 0)
		log_warnx("--metrics-file: %s", errstr);
}

/* The router as the sink of lib/input.c's reader. */
static bool sink_has_room(void *ctx)
{
	return router_has_room(ctx);
}

static int sink_add(void *ctx, const struct record_line *line)
{
	return router_add(ctx, line);
}

static bool can_read(const struct record_input *in, const struct router *r, const struct outbuf *ob)
{
	return !in->done && router_has_room(r) && outbuf_pending(ob) < MAX_OUTPUT_QUEUED;
}

/* Moves finished records to the output queue and the queue to stdout. */
static void flush_output(struct router *r, struct outbuf *ob)
{
	if (router_output(r) < 0 || outbuf_commit(ob) < 0)
		fatalx(EX_OSERR, "out of memory for output");
	if (outbuf_drain(ob) < 0)
		fatal(EX_IOERR, "write error");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"group-by", required_argument, NULL, 'g'},
		{"batch-size", required_argument, NULL, 'b'},
		{"linger-ms", required_argument, NULL, 'l'},
		{"inflight", required_argument, NULL, 'i'},
		{"retry-queue", required_argument, NULL, 'R'},
		{"dlq", required_argument, NULL, 'D'},
		{"max-attempts", required_argument, NULL, 'A'},
		{"backoff-base-ms", required_argument, NULL, 'B'},
		{"connect-timeout", required_argument, NULL, 'C'},
		{"request-timeout", required_argument, NULL, 'T'},
		{"stats-interval", required_argument, NULL, 'S'},
		{"metrics-file", required_argument, NULL, 'F'},
		{"max-line", required_argument, NULL, 'm'},
		{"quiet", no_argument, NULL, 'q'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct options opt = {
		.retry_queue = "retry.fifo",
		.dlq_queue = "dlq.fifo",
		.group_by = EVENT_GROUP_CLIENT,
		.batch_size = SQS_BATCH_MAX,
		.linger_ms = LINGER_MS_DEFAULT,
		.inflight = INFLIGHT_DEFAULT,
		.backoff_base_ms = 100,
		.connect_timeout_ms = 3000,
		.request_timeout_ms = 10000,
		.max_line = RECORD_MAX_LINE_ROUTE,
	};
	struct awsconf conf;
	char errstr[1024];
	int ch, status = EX_OK;

	log_init(argv[0], false);
	cli_hide_secrets(); /* AWS keys live in this process from here on */
	while ((ch = getopt_long(argc, argv, "b:g:hi:l:qvV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'A':
			opt.max_attempts = cli_number("--max-attempts", optarg, 1, AWSCONF_MAX_ATTEMPTS_LIMIT);
			break;
		case 'b':
			opt.batch_size = cli_number("--batch-size", optarg, 1, SQS_BATCH_MAX);
			break;
		case 'B':
			opt.backoff_base_ms = cli_number("--backoff-base-ms", optarg, 1, 60000);
			break;
		case 'C':
			opt.connect_timeout_ms = cli_number("--connect-timeout", optarg, 1, 600000);
			break;
		case 'D':
			opt.dlq_queue = queue_name("dlq", optarg);
			break;
		case 'g':
			if (event_group_by_parse(optarg, &opt.group_by) < 0)
				fatalx(EX_USAGE, "--group-by: '%s' is not client or uid", optarg);
			break;
		case 'i':
			opt.inflight = cli_number("--inflight", optarg, 1, 256);
			break;
		case 'l':
			opt.linger_ms = cli_number("--linger-ms", optarg, 0, 60000);
			break;
		case 'm':
			opt.max_line = cli_number("--max-line", optarg, 64, 256L * 1024 * 1024);
			break;
		case 'q':
			opt.quiet = true;
			break;
		case 'R':
			opt.retry_queue = queue_name("retry-queue", optarg);
			break;
		case 'S':
			opt.stats_interval = cli_number("--stats-interval", optarg, 0, 86400);
			break;
		case 'F':
			if (!metrics_path_ok(optarg, errstr, sizeof(errstr)))
				fatalx(EX_USAGE, "--metrics-file: %s", errstr);
			opt.metrics_path = optarg;
			break;
		case 'T':
			opt.request_timeout_ms = cli_number("--request-timeout", optarg, 1, 3600000);
			break;
		case 'v':
			opt.verbose++;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			printf("route (event-processor) %s\n", EP_VERSION);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;

	/* Set-up: configuration first, so a bad one costs no input. */
	if (awsconf_load(&conf, &awsconf_sqs, errstr, sizeof(errstr)) < 0)
		fatalx(EX_CONFIG, "%s", errstr);
	if (conf.warning[0])
		log_warnx("%s", conf.warning);
	if (opt.max_attempts == 0)
		opt.max_attempts = conf.max_attempts;
	if (opt.verbose)
		log_info("SQS at %s, region %s, credentials from %s, group by %s, %ld attempts",
		         conf.endpoint, conf.region, conf.creds.source,
		         event_group_by_name(opt.group_by), opt.max_attempts);
	struct awsreq_options ro = {
		.connect_timeout_ms = opt.connect_timeout_ms,
		.timeout_ms = opt.request_timeout_ms,
		.max_inflight = (unsigned)opt.inflight,
		.max_attempts = (int)opt.max_attempts,
		.backoff_base_ms = (unsigned)opt.backoff_base_ms,
	};
	struct awsreq_client *client = awsreq_client_new(&conf, &ro, errstr, sizeof(errstr));
	if (!client)
		fatalx(EX_SOFTWARE, "%s", errstr);
	struct outbuf *ob = outbuf_new(STDOUT_FILENO);
	struct router_options rto = {
		.group_by = opt.group_by,
		.retry_queue = opt.retry_queue,
		.dlq_queue = opt.dlq_queue,
		.batch_size = (unsigned)opt.batch_size,
		.linger_ms = (unsigned)opt.linger_ms,
		.max_batches = 2 * (unsigned)opt.inflight,
		.max_attempts = (int)opt.max_attempts,
		.backoff_base_ms = (unsigned)opt.backoff_base_ms,
		.max_buffered = MAX_BUFFERED,
		.quiet = opt.quiet,
	};
	struct router *r = ob ? router_new(client, outbuf_file(ob), &rto) : NULL;
	if (!r || router_start(r) < 0)
		fatalx(EX_OSERR, "out of memory");

	int wake_fd = cli_stop_signals();
	stdio_make_nonblocking();

	/* The loop: read what is there (once the queues of last resort are
	 * known), let batches go, move finished records out, then wait for the
	 * network, the input, the output or a signal. */
	struct record_input in;
	record_input_init(&in, argv, argc);
	const struct record_sink sink = {sink_has_room, sink_add, r};
	long interval = opt.stats_interval > 0 ? opt.stats_interval : opt.metrics_path ? 10 : 0;
	double start = cli_now_s(), next_stats = start + (double)interval;
	bool more = true, abandoned = false;

	for (;;) {
		bool stopping = cli_signals_received() > 0;
		if (router_fatal(r))
			break;
		if (cli_signals_received() > 1) {
			abandoned = true; /* second signal: stop waiting for SQS */
			break;
		}
		bool ready = router_ready(r);
		if (stopping && !ready && router_idle(r))
			break; /* nothing read yet */
		/* Input waits while the router is full or stdout is not keeping
		 * up: memory stays bounded and the pressure goes back up the pipe. */
		if (ready && can_read(&in, r, ob) && (more || stopping))
			more = record_input_read(&in, &sink, (size_t)opt.max_line, LINES_PER_TURN,
			                         stopping, &status);
		router_tick(r, in.done || stopping);
		flush_output(r, ob);
		if (in.done && router_idle(r))
			break;

		bool want_input = ready && can_read(&in, r, ob) && in.reader;
		int timeout = router_timeout_ms(r);
		if (more && want_input)
			timeout = 0;
		if (interval > 0) {
			double now = cli_now_s();
			if (now >= next_stats) {
				if (opt.stats_interval > 0)
					print_stats("periodic", router_stats(r), awsreq_stats(client), now - start);
				write_metrics(opt.metrics_path, router_stats(r), awsreq_stats(client), now - start);
				next_stats = now + (double)interval;
			}
			int until = (int)((next_stats - now) * 1000) + 1;
			if (timeout < 0 || until < timeout)
				timeout = until;
		}
		struct pollfd pfd[3] = {{.fd = wake_fd, .events = POLLIN}};
		unsigned n = 1;
		if (want_input)
			pfd[n++] = (struct pollfd){.fd = in.fd, .events = POLLIN};
		if (outbuf_pending(ob) > 0)
			pfd[n++] = (struct pollfd){.fd = STDOUT_FILENO, .events = POLLOUT};
		if (awsreq_wait(client, pfd, n, timeout, errstr, sizeof(errstr)) < 0)
			fatalx(EX_SOFTWARE, "%s", errstr);
		cli_wake_drain(wake_fd);
		/* Readable input (or its end): worth another turn of reading. */
		more = !want_input || (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) || !in.reader;
	}

	/* Shutdown: every outcome that happened is in the output queue; hand
	 * it to stdout and check that it got there. A second signal ends the
	 * wait for a reader that stopped reading. */
	flush_output(r, ob);
	int finished = outbuf_finish(ob, wake_fd, cli_stop_now);
	if (finished < 0)
		fatal(EX_IOERR, "write error");
	stdout_make_blocking();
	unsigned long held = router_held(r);
	if (router_fatal(r)) {
		log_warnx("%s", router_fatal(r));
		if (held)
			log_warnx("%lu record%s left without an outcome (not acknowledged)", held,
			          held == 1 ? "" : "s");
		status = strcmp(router_fatal(r), "out of memory") == 0 ? EX_OSERR : router_fatal_status(r);
	} else if (abandoned && held) {
		log_warnx("stopped by a second signal: %lu record%s left without an outcome "
		          "(not acknowledged)", held, held == 1 ? "" : "s");
		status = EX_TEMPFAIL;
	}
	if (finished > 0) {
		log_warnx("stopped by a second signal while stdout was not being read: %zu bytes of "
		          "outcome lines not written (not acknowledged)", outbuf_pending(ob));
		status = EX_TEMPFAIL;
	}
	/* Stopped before the end of an input (refused, a second signal): the
	 * rest of it stays unread. */
	record_input_close(&in);
	struct router_stats rstats = *router_stats(r);
	struct awsreq_stats astats = *awsreq_stats(client);
	/* Requests still out are dropped without their callbacks: their
	 * contexts are the router's batches and the queue cache's entries,
	 * which router_free() frees, so nothing needs to wait for them. */
	awsreq_client_free(client); /* no callback may run into a freed router */
	router_free(r); /* its last warning first, then the stats */
	if (!opt.quiet)
		print_stats("final", &rstats, &astats, cli_now_s() - start);
	write_metrics(opt.metrics_path, &rstats, &astats, cli_now_s() - start);
	outbuf_free(ob);
	awsconf_free(&conf);
	if (fclose(stdout) == EOF)
		fatal(EX_IOERR, "write error");
	return status;
}
