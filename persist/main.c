/*
 * persist — store events in DynamoDB.
 *
 * Reads newline-delimited JSON records from standard input, or from the
 * files named as arguments in turn (like cat; "-" is standard input), and
 * writes each event as an item of the DynamoDB table (default "pismo"):
 * partition key UUID = uid, and Context, EventType, Client, CreatedAt from
 * the event's fields, all strings, CreatedAt exactly as the event has it.
 * Keys starting with "_" are pipeline metadata and are never stored.
 * Writes go in BatchWriteItem requests of up to 25 items, several in flight
 * at once, with the AWS SDKs' retry policy.
 *
 * Every record comes out on standard output exactly once, in input order,
 * only after its write succeeded or it was marked: a stored record byte for
 * byte as it came in; a record already marked "_error" untouched; a record
 * without a usable event, or one that could not be stored after the retries,
 * with "_error" {"stage":"persist","code",...,"retryable",...,"reason"}.
 *
 * Configuration comes from the AWS environment (AWS_REGION, AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE,
 * AWS_SHARED_CREDENTIALS_FILE, AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL,
 * AWS_CA_BUNDLE, AWS_MAX_ATTEMPTS, AWS_RETRY_MODE).
 *
 * Exit status: 0 when done (marked records are data, not failures), 64 usage,
 * 66 an input file could not be opened (the others are still read), 69
 * DynamoDB refused the credentials or the endpoint's certificate did not
 * verify (records not yet written out were not stored: send them again),
 * 74 read or write error (a closed output pipe included), 78 bad
 * configuration.
 * End of input or SIGTERM/SIGINT: no more input is read, everything taken is
 * finished and written out, then exit 0. A second signal gives up on writes
 * still pending: those records come out marked retryable, then exit 0; if
 * stdout is not being read at that point, persist stops at once with 75 and
 * what it could not write out is not acknowledged (it comes again).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
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
#include "jsonarena.h"
#include "input.h"
#include "log.h"
#include "metrics.h"
#include "outbuf.h"
#include "record.h"
#include "writer.h"

#define TABLE_DEFAULT "pismo"
#define LINGER_MS_DEFAULT 20
#define INFLIGHT_DEFAULT 4
#define LINES_PER_TURN 2000            /* lines read before looking at the network again */
#define MAX_BUFFERED (64 * 1024 * 1024) /* bytes of records held before input pauses */
#define MAX_OUTPUT_QUEUED (16 * 1024 * 1024)

struct options {
	const char *table;
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
	        "usage: persist [-qv] [-t table] [-b batch-size] [-l linger-ms] [-i inflight]\n"
	        "               [--max-attempts n] [--stats-interval seconds]\n"
	        "               [--metrics-file path] [file ...]\n"
	        "\n"
	        "Writes newline-delimited JSON events to a DynamoDB table (partition key UUID =\n"
	        "uid; Context, EventType, Client, CreatedAt) and writes every record to stdout\n"
	        "in input order once stored: unchanged, or marked with \"_error\" when it has no\n"
	        "usable event or could not be stored. Records already marked pass untouched.\n"
	        "\n"
	        "  -t, --table NAME          the table (default " TABLE_DEFAULT ")\n"
	        "  -b, --batch-size N        items per BatchWriteItem request, 1-25 (default 25)\n"
	        "  -l, --linger-ms MS        send a partial batch after MS without new input\n"
	        "                            (default %d; 0 sends at once)\n"
	        "  -i, --inflight N          requests in flight at once, 1-256 (default %d)\n"
	        "      --max-attempts N      requests per write before giving up, 1-100 (default\n"
	        "                            AWS_MAX_ATTEMPTS, else %d)\n"
	        "      --backoff-base-ms MS  first retry delay ceiling (default 100; doubles per\n"
	        "                            retry up to 20 s, times a random factor 0-1)\n"
	        "      --connect-timeout MS  to connect (default 3000)\n"
	        "      --request-timeout MS  per request, connecting included (default 10000)\n"
	        "      --stats-interval S    a stats line on stderr every S seconds (default 0: off)\n"
	        "      --metrics-file PATH   the counters in Prometheus text format, replaced\n"
	        "                            atomically every interval (S, else 10 s) and at exit\n"
	        "      --max-line BYTES      longest line accepted (default %d); longer is marked\n"
	        "  -q, --quiet               no warnings for failed requests, no final stats\n"
	        "  -v, --verbose             say where requests go, and more\n"
	        "  -h, --help                this text\n"
	        "  -V, --version             print the version\n"
	        "\n"
	        "AWS settings come from the environment: AWS_REGION, AWS_ACCESS_KEY_ID,\n"
	        "AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (or AWS_PROFILE and\n"
	        "AWS_SHARED_CREDENTIALS_FILE), AWS_ENDPOINT_URL_DYNAMODB or AWS_ENDPOINT_URL,\n"
	        "AWS_CA_BUNDLE, AWS_MAX_ATTEMPTS.\n"
	        "\n"
	        "Exit: 0 done, 64 usage, 66 an input could not be opened, 69 DynamoDB refused\n"
	        "the request (credentials, access denied, the certificate) or something else\n"
	        "answered in its place (what was not written out was not stored), 71 out of\n"
	        "memory, 74 I/O error, 75 stopped by a second signal while stdout was not being\n"
	        "read (what was not written out is not acknowledged), 78 bad configuration (the\n"
	        "table does not exist).\n",
	        LINGER_MS_DEFAULT, INFLIGHT_DEFAULT, AWSCONF_MAX_ATTEMPTS_DEFAULT,
	        RECORD_MAX_LINE_PERSIST);
}

/* DynamoDB's rule for table names. */
static bool valid_table(const char *t)
{
	size_t n = strlen(t);
	if (n < 3 || n > 255)
		return false;
	for (; *t; t++)
		if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') || (*t >= '0' && *t <= '9') ||
		      *t == '_' || *t == '-' || *t == '.'))
			return false;
	return true;
}

/* One JSON line on stderr, in one write. */
static void print_stats(const char *kind, const struct writer_stats *s,
                        const struct awsreq_stats *a, double elapsed)
{
	char line[1024];
	int n = snprintf(
		line, sizeof(line),
		"{\"prog\":\"persist\",\"stats\":\"%s\",\"records_in\":%lu,\"records_out\":%lu,"
		"\"stored\":%lu,\"marked\":%lu,\"passed\":%lu,\"requests\":%lu,\"retries\":%lu,"
		"\"reconnects\":%lu,\"throttled\":%lu,\"unprocessed\":%lu,\"batches\":%lu,"
		"\"mean_batch\":%.2f,\"latency_ms\":{\"p50\":%.2f,\"p99\":%.2f,\"max\":%.2f},"
		"\"elapsed_s\":%.3f}\n",
		kind, s->records_in, s->records_out, s->stored, s->marked, s->passed, a->requests,
		a->retries + s->resends, a->reconnects, a->throttled, s->unprocessed, s->batches,
		s->batches ? (double)s->puts / (double)s->batches : 0.0,
		latency_quantile(&a->latency, 0.5) * 1e3, latency_quantile(&a->latency, 0.99) * 1e3,
		a->latency.max * 1e3, elapsed);
	if (n > 0 && write(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line)) < 0) {
		/* nowhere left to complain */
	}
}

/* The same counters for --metrics-file (nothing without one). */
static void write_metrics(const char *path, const struct writer_stats *s,
                          const struct awsreq_stats *a, double elapsed)
{
	char errstr[512];

	if (!path)
		return;
	const struct metric m[] = {
		{"records_in", "Records read.", METRIC_COUNTER, (double)s->records_in},
		{"records_out", "Records written out.", METRIC_COUNTER, (double)s->records_out},
		{"stored", "Events written to DynamoDB.", METRIC_COUNTER, (double)s->stored},
		{"marked", "Records marked _error here.", METRIC_COUNTER, (double)s->marked},
		{"passed", "Records marked upstream, passed on.", METRIC_COUNTER, (double)s->passed},
		{"requests", "HTTP requests sent to DynamoDB.", METRIC_COUNTER, (double)a->requests},
		{"retries", "Requests or batches sent again.", METRIC_COUNTER,
		 (double)(a->retries + s->resends)},
		{"throttled", "Throttling answers.", METRIC_COUNTER, (double)a->throttled},
		{"batches", "BatchWriteItem requests made.", METRIC_COUNTER, (double)s->batches},
		{"request_latency_p50_seconds", "Median request latency.", METRIC_GAUGE,
		 latency_quantile(&a->latency, 0.5)},
		{"request_latency_p99_seconds", "99th percentile request latency.", METRIC_GAUGE,
		 latency_quantile(&a->latency, 0.99)},
		{"uptime_seconds", "Seconds since the tool started.", METRIC_GAUGE, elapsed},
	};
	if (metrics_write(path, "persist", m, sizeof(m) / sizeof(m[0]), errstr, sizeof(errstr)) < 0)
		log_warnx("--metrics-file: %s", errstr);
}

/* The writer as the sink of lib/input.c's reader. */
static bool sink_has_room(void *ctx)
{
	return writer_has_room(ctx);
}

static int sink_add(void *ctx, const struct record_line *line)
{
	return writer_add(ctx, line);
}

static bool can_read(const struct record_input *in, const struct awsreq_client *client,
                     const struct writer *w, const struct outbuf *ob)
{
	return !in->done && client && writer_has_room(w) && outbuf_pending(ob) < MAX_OUTPUT_QUEUED;
}

/* Moves finished records to the output queue and the queue to stdout. */
static void flush_output(struct writer *w, struct outbuf *ob)
{
	if (writer_output(w) < 0 || outbuf_commit(ob) < 0)
		fatalx(EX_OSERR, "out of memory for output");
	if (outbuf_drain(ob) < 0)
		fatal(EX_IOERR, "write error");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"table", required_argument, NULL, 't'},
		{"batch-size", required_argument, NULL, 'b'},
		{"linger-ms", required_argument, NULL, 'l'},
		{"inflight", required_argument, NULL, 'i'},
		{"max-attempts", required_argument, NULL, 'A'},
		{"backoff-base-ms", required_argument, NULL, 'B'},
		{"connect-timeout", required_argument, NULL, 'C'},
		{"request-timeout", required_argument, NULL, 'T'},
		{"stats-interval", required_argument, NULL, 'S'},
		{"metrics-file", required_argument, NULL, 'M'},
		{"max-line", required_argument, NULL, 'm'},
		{"quiet", no_argument, NULL, 'q'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct options opt = {
		.table = TABLE_DEFAULT,
		.batch_size = 25,
		.linger_ms = LINGER_MS_DEFAULT,
		.inflight = INFLIGHT_DEFAULT,
		.backoff_base_ms = 100,
		.connect_timeout_ms = 3000,
		.request_timeout_ms = 10000,
		.max_line = RECORD_MAX_LINE_PERSIST,
	};
	struct awsconf conf;
	char errstr[1024];
	int ch, status = EX_OK;

	log_init(argv[0], false);
	cli_hide_secrets(); /* AWS keys live in this process from here on */
	while ((ch = getopt_long(argc, argv, "b:hi:l:qt:vV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'A':
			opt.max_attempts = cli_number("--max-attempts", optarg, 1, AWSCONF_MAX_ATTEMPTS_LIMIT);
			break;
		case 'b':
			opt.batch_size = cli_number("--batch-size", optarg, 1, 25);
			break;
		case 'B':
			opt.backoff_base_ms = cli_number("--backoff-base-ms", optarg, 1, 60000);
			break;
		case 'C':
			opt.connect_timeout_ms = cli_number("--connect-timeout", optarg, 1, 600000);
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
		case 'S':
			opt.stats_interval = cli_number("--stats-interval", optarg, 0, 86400);
			break;
		case 'M':
			if (!metrics_path_ok(optarg, errstr, sizeof(errstr)))
				fatalx(EX_USAGE, "--metrics-file: %s", errstr);
			opt.metrics_path = optarg;
			break;
		case 't':
			if (!valid_table(optarg))
				fatalx(EX_USAGE, "--table: '%s' is not a DynamoDB table name "
				                 "(3-255 of a-z A-Z 0-9 _ - .)", optarg);
			opt.table = optarg;
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
			printf("persist (event-processor) %s\n", EP_VERSION);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;

	/* Set-up: configuration first, so a bad one costs no input. */
	if (awsconf_load(&conf, &awsconf_dynamodb, errstr, sizeof(errstr)) < 0)
		fatalx(EX_CONFIG, "%s", errstr);
	if (conf.warning[0])
		log_warnx("%s", conf.warning);
	if (opt.max_attempts == 0)
		opt.max_attempts = conf.max_attempts;
	if (opt.verbose)
		log_info("DynamoDB at %s, region %s, table %s, credentials from %s, %ld attempts",
		         conf.endpoint, conf.region, opt.table, conf.creds.source, opt.max_attempts);
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
	if (!jsonarena_install())
		fatalx(EX_OSERR, "out of memory");
	struct outbuf *ob = outbuf_new(STDOUT_FILENO);
	struct writer_options wo = {
		.table = opt.table,
		.batch_size = (unsigned)opt.batch_size,
		.linger_ms = (unsigned)opt.linger_ms,
		.max_batches = 2 * (unsigned)opt.inflight,
		.max_attempts = (int)opt.max_attempts,
		.backoff_base_ms = (unsigned)opt.backoff_base_ms,
		.max_buffered = MAX_BUFFERED,
		.quiet = opt.quiet,
	};
	struct writer *w = ob ? writer_new(client, outbuf_file(ob), &wo) : NULL;
	if (!w)
		fatalx(EX_OSERR, "out of memory");

	int wake_fd = cli_stop_signals();
	stdio_make_nonblocking();

	/* The loop: read what is there, let batches go, move finished records
	 * out, then wait for the network, the input, the output or a signal. */
	struct record_input in;
	record_input_init(&in, argv, argc);
	const struct record_sink sink = {sink_has_room, sink_add, w};
	long interval = opt.stats_interval > 0 ? opt.stats_interval : opt.metrics_path ? 10 : 0;
	double start = cli_now_s(), next_stats = start + (double)interval;
	bool more = true;
	struct awsreq_stats astats; /* the client's last counters, once it is gone */

	for (;;) {
		bool stopping = cli_signals_received() > 0;
		if (cli_signals_received() > 1 && client) {
			/* Second signal: give up on what is still pending. */
			astats = *awsreq_stats(client);
			awsreq_client_free(client);
			client = NULL;
			writer_abandon(w, "persist was stopped before DynamoDB answered");
		}
		/* Input waits while the writer is full or stdout is not keeping up:
		 * memory stays bounded and the pressure goes back up the pipe. */
		if (can_read(&in, client, w, ob) && (more || stopping))
			more = record_input_read(&in, &sink, (size_t)opt.max_line, LINES_PER_TURN,
			                         stopping, &status);
		writer_tick(w, in.done || stopping);
		flush_output(w, ob);
		if ((in.done || !client) && writer_idle(w))
			break;
		if (writer_fatal(w)) {
			log_warnx("stopping: %s; records not yet written out were not stored "
			          "(%lu in, %lu out): fix it and send them again",
			          writer_fatal(w), writer_stats(w)->records_in, writer_stats(w)->records_out);
			status = writer_fatal_status(w);
			break;
		}

		bool want_input = can_read(&in, client, w, ob) && in.reader;
		int timeout = writer_timeout_ms(w);
		if (more && want_input)
			timeout = 0;
		if (interval > 0 && client) {
			double now = cli_now_s();
			if (now >= next_stats) {
				if (opt.stats_interval > 0)
					print_stats("periodic", writer_stats(w), awsreq_stats(client), now - start);
				write_metrics(opt.metrics_path, writer_stats(w), awsreq_stats(client), now - start);
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



	int finished = outbuf_finish(ob, wake_fd, cli_stop_now);
	if (finished < 0)
		fatal(EX_IOERR, "write error");
	if (finished > 0) {
		log_warnx("stopped by a second signal while stdout was not being read: %zu bytes of "
		          "records not written out (not acknowledged; they come again)",
		          outbuf_pending(ob));
		status = EX_TEMPFAIL;
	}
	stdout_make_blocking();
	/* Stopped before the end of an input (a signal, a refusal): the rest of
	 * it stays unread. */
	record_input_close(&in);
	struct writer_stats wstats = *writer_stats(w);
	if (client)
		astats = *awsreq_stats(client);
	writer_free(w); /* its last warning first, then the stats */
	if (!opt.quiet)
		print_stats("final", &wstats, &astats, cli_now_s() - start);
	write_metrics(opt.metrics_path, &wstats, &astats, cli_now_s() - start);
	outbuf_free(ob);
	awsreq_client_free(client);
	awsconf_free(&conf);
	jsonarena_uninstall();
	if (fclose(stdout) == EOF)
		fatal(EX_IOERR, "write error");
	return status;
}
