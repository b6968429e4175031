/*
 * retry — the daemon that tries failed events again.
 *
 * Long-polls retry.fifo, where route puts the events the pipeline could not
 * store or send, each in an envelope {"event":…,"attempts":N,"errors":[…]}.
 * For each message it makes one more attempt with the code persist and
 * route use (the item into the DynamoDB table, then the event to its
 * client's queue "<client>.fifo") and deletes the message once that
 * succeeded. A failed attempt makes the message invisible for an
 * exponential, jittered backoff (ChangeMessageVisibility; nothing sleeps,
 * other messages keep flowing); SQS hands it back when it is due. After
 * --max-attempts attempts in all (the pipeline's own attempt counts as the
 * first) the event goes to the DLQ with every attempt's error, and only then
 * is the message deleted. A crash at any point loses nothing: the message
 * is still in retry.fifo and comes back.
 *
 * Reads no input and writes nothing on stdout; logs JSON lines on stderr
 * ({"prog":"retry","level":…,"msg":…}) and a stats line now and then. Runs
 * in the foreground and never forks; --ready-fd N writes "\n" to N once it
 * is polling. SIGTERM/SIGINT: no more receives; the receive in flight is let
 * finish (at most --wait-time) and the messages in hand, with those it
 * brought, are finished, then exit 0 (a second signal exits at once: those
 * messages come back after their visibility timeout).
 *
 * Configuration comes from the AWS environment (AWS_REGION, AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE,
 * AWS_SHARED_CREDENTIALS_FILE, AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SQS,
 * AWS_ENDPOINT_URL, AWS_CA_BUNDLE, AWS_MAX_ATTEMPTS, AWS_RETRY_MODE).
 *
 * Every event read is checked against validate's schema (--schema) before
 * it is stored: an envelope forged into retry.fifo cannot name a queue.
 *
 * Exit status: 0 stopped by a signal, or --once/--exit-when-empty found
 * nothing more to do; 64 usage; 69 AWS refused (credentials, access denied)
 * or something else answering in its place (after retries); 70 internal
 * error; 78 bad configuration (settings, the schema, the table, retry.fifo
 * or the DLQ missing).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "awsconf.h"
#include "awsreq.h"
#include "cli.h"
#include "jsonschema.h"
#include "log.h"
#include "metrics.h"
#include "retrier.h"
#include "sqs.h"

#define MAX_ATTEMPTS_DEFAULT 5
#define BASE_DELAY_DEFAULT_MS 1000
#define MAX_DELAY_DEFAULT_MS 60000
#define VISIBILITY_DEFAULT 120
#define INFLIGHT_DEFAULT 20
#define PRUNE_INTERVAL_S 60
#define SCHEMA_NAME "event.schema.json"


static void usage(FILE *f)
{
	fprintf(f,
	        "usage: retry [-qv] [--max-attempts n] [--base-delay d] [--max-delay d]\n"
	        "             [--queue name] [--dlq name] [-t table] [-g client|uid] [-s schema]\n"
	        "             [--ready-fd n] [--once | --exit-when-empty] [--stats-interval s]\n"
	        "             [--metrics-file path]\n"
	        "\n"
	        "Long-polls the retry queue and tries each event again: stores it in the\n"
	        "DynamoDB table and sends it to its client's queue, like persist and route.\n"
	        "A failed attempt backs off by the message's visibility timeout; after the\n"
	        "last attempt the event goes to the DLQ with each attempt's error. A message\n"
	        "is deleted only after its event was delivered or reached the DLQ.\n"
	        "\n"
	        "      --max-attempts N      attempts in all, the pipeline's first one counted,\n"
	        "                            1-100 (default %d)\n"
	        "      --base-delay D        backoff after the first failed attempt (default 1s);\n"
	        "                            doubles per attempt; each delay is drawn between\n"
	        "                            half and all of that, rounded up to whole seconds\n"
	        "                            (SQS visibility). D: 250ms, 2s, 1m, 1h; a bare\n"
	        "                            number is seconds\n"
	        "      --max-delay D         cap of the backoff (default 60s)\n"
	        "      --queue NAME          the retry queue (default retry.fifo)\n"
	        "      --dlq NAME            the dead-letter queue (default dlq.fifo)\n"
	        "  -t, --table NAME          the DynamoDB table (default pismo)\n"
	        "  -g, --group-by POLICY     MessageGroupId of the clients' queues: client or uid,\n"
	        "                            as route's (default client)\n"
	        "  -i, --inflight N          messages worked on at once, 1-1000 (default %d)\n"
	        "      --wait-time S         long poll of each receive, 0-20 s (default 20)\n"
	        "      --visibility-timeout S  how long a received message stays invisible while\n"
	        "                            it is worked on, 1-43200 s (default %d; must exceed\n"
	        "                            the time an attempt can take)\n"
	        "  -s, --schema FILE         the JSON Schema each event read is checked against\n"
	        "                            before it is stored; an event it refuses goes to\n"
	        "                            the DLQ (default: validate's, " SCHEMA_NAME " in the\n"
	        "                            share/ folder beside the program, then\n"
	        "                            " EP_DATADIR ")\n"
	        "      --ready-fd N          write a newline to descriptor N once polling\n"
	        "      --once                exit when a receive comes back empty and no message\n"
	        "                            is in hand (messages backing off stay in the queue)\n"
	        "      --exit-when-empty     exit once the queue holds no message at all,\n"
	        "                            visible or not (replays, tests)\n"
	        "      --connect-timeout MS  to connect (default 3000)\n"
	        "      --request-timeout MS  per request other than the long poll (default 10000)\n"
	        "      --stats-interval S    a stats line on stderr every S seconds (default 0: off)\n"
	        "      --metrics-file PATH   the counters in Prometheus text format, replaced\n"
	        "                            atomically every interval (S, else 10 s) and at exit\n"
	        "  -q, --quiet               no warnings for failed requests, no final stats\n"
	        "  -v, --verbose             a line per attempt, and more\n"
	        "  -h, --help                this text\n"
	        "  -V, --version             print the version\n"
	        "\n"
	        "AWS settings come from the environment: AWS_REGION, AWS_ACCESS_KEY_ID,\n"
	        "AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (or AWS_PROFILE and\n"
	        "AWS_SHARED_CREDENTIALS_FILE), AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SQS,\n"
	        "AWS_ENDPOINT_URL, AWS_CA_BUNDLE; AWS_MAX_ATTEMPTS is the retries of each request.\n"
	        "\n"
	        "Exit: 0 stopped (signal, --once, --exit-when-empty), 64 usage, 69 AWS refused\n"
	        "(credentials, access denied) or not AWS answering, 70 internal error, 71 out\n"
	        "of memory, 78 bad configuration (settings, the schema, the table, retry.fifo\n"
	        "or the DLQ missing).\n",
	        MAX_ATTEMPTS_DEFAULT, INFLIGHT_DEFAULT, VISIBILITY_DEFAULT);
}

/* "250ms", "1.5s", "2m", "1h", or seconds: milliseconds, 1 ms to 12 h. */
static unsigned duration(const char *opt, const char *arg)
{
	char *end;
	double v, unit = 1000;

	errno = 0;
	v = strtod(arg, &end);
	if (end != arg && strcmp(end, "ms") == 0)
		unit = 1;
	else if (end != arg && (strcmp(end, "s") == 0 || *end == '\0'))
		unit = 1000;
	else if (end != arg && strcmp(end, "m") == 0)
		unit = 60000;
	else if (end != arg && strcmp(end, "h") == 0)
		unit = 3600000;
	else
		end = NULL;
	v *= unit;
	if (!end || errno || !isfinite(v) || v < 1 || v > 43200000.0)
		fatalx(EX_USAGE, "--%s: '%s' is not a duration from 1ms to 12h (250ms, 2s, 1m, 1h)",
		       opt, arg);
	return (unsigned)v;
}

static const char *queue_name(const char *opt, const char *arg)
{
	if (!sqs_queue_name_valid(arg))
		fatalx(EX_USAGE, "--%s: '%s' is not an SQS queue name (1-80 of A-Z a-z 0-9 - _, "
		                 "ending in .fifo for a FIFO queue)", opt, arg);
	return arg;
}

static void print_stats(const char *kind, const struct retrier_stats *s,
                        const struct awsreq_stats *sq, const struct awsreq_stats *db,
                        unsigned busy, double elapsed)
{
	char line[1024];
	int n = snprintf(
		line, sizeof(line),
		"{\"prog\":\"retry\",\"stats\":\"%s\",\"received\":%lu,\"deferred\":%lu,"
		"\"attempts\":%lu,\"succeeded\":%lu,\"failed\":%lu,\"backoffs\":%lu,\"to_dlq\":%lu,"
		"\"bad_messages\":%lu,\"receives\":%lu,\"empty_receives\":%lu,\"in_hand\":%u,"
		"\"sqs_requests\":%lu,\"dynamodb_requests\":%lu,\"retries\":%lu,\"elapsed_s\":%.3f}\n",
		kind, s->received, s->deferred, s->attempts, s->succeeded, s->failed, s->backoffs,
		s->to_dlq, s->bad, s->receives, s->empty, busy, sq->requests, db->requests,
		sq->retries + db->retries, elapsed);
	if (n > 0 && write(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line)) < 0) {
		/* nowhere left to complain */
	}
}

/* The same counters for --metrics-file (nothing without one). */
static void write_metrics(const char *path, const struct retrier_stats *s,
                          const struct awsreq_stats *sq, const struct awsreq_stats *db,
                          unsigned busy, double elapsed)
{
	char errstr[512];

	if (!path)
		return;
	const struct metric m[] = {
		{"received", "Messages received from the retry queue.", METRIC_COUNTER,
		 (double)s->received},
		{"attempts", "Attempts made here.", METRIC_COUNTER, (double)s->attempts},
		{"retried", "Events stored and routed on a retry.", METRIC_COUNTER, (double)s->succeeded},
		{"failed_attempts", "Attempts that failed and backed off.", METRIC_COUNTER,
		 (double)s->failed},
		{"to_dlq", "Events sent to the DLQ.", METRIC_COUNTER, (double)s->to_dlq},
		{"bad_messages", "Messages that were not a retry envelope.", METRIC_COUNTER,
		 (double)s->bad},
		{"requests", "HTTP requests to SQS and DynamoDB.", METRIC_COUNTER,
		 (double)(sq->requests + db->requests)},
		{"in_flight", "Messages being worked on.", METRIC_GAUGE, (double)busy},
		{"uptime_seconds", "Seconds since the tool started.", METRIC_GAUGE, elapsed},
	};
	if (metrics_write(path, "retry", m, sizeof(m) / sizeof(m[0]), errstr, sizeof(errstr)) < 0)
		log_warnx("--metrics-file: %s", errstr);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"max-attempts", required_argument, NULL, 'A'},
		{"base-delay", required_argument, NULL, 'B'},
		{"max-delay", required_argument, NULL, 'M'},
		{"queue", required_argument, NULL, 'Q'},
		{"dlq", required_argument, NULL, 'D'},
		{"table", required_argument, NULL, 't'},
		{"group-by", required_argument, NULL, 'g'},
		{"inflight", required_argument, NULL, 'i'},
		{"wait-time", required_argument, NULL, 'W'},
		{"visibility-timeout", required_argument, NULL, 'Y'},
		{"ready-fd", required_argument, NULL, 'r'},
		{"schema", required_argument, NULL, 's'},
		{"once", no_argument, NULL, 'O'},
		{"exit-when-empty", no_argument, NULL, 'E'},
		{"connect-timeout", required_argument, NULL, 'C'},
		{"request-timeout", required_argument, NULL, 'T'},
		{"stats-interval", required_argument, NULL, 'S'},
		{"metrics-file", required_argument, NULL, 'F'},
		{"quiet", no_argument, NULL, 'q'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct retrier_options ro = {
		.queue = "retry.fifo",
		.dlq = "dlq.fifo",
		.table = "pismo",
		.group_by = EVENT_GROUP_CLIENT,
		.max_attempts = MAX_ATTEMPTS_DEFAULT,
		.base_delay_ms = BASE_DELAY_DEFAULT_MS,
		.max_delay_ms = MAX_DELAY_DEFAULT_MS,
		.visibility_s = VISIBILITY_DEFAULT,
		.wait_s = SQS_WAIT_MAX,
		.inflight = INFLIGHT_DEFAULT,
	};
	long connect_timeout = 3000, request_timeout = 10000, stats_interval = 0, ready_fd = -1;
	const char *metrics_path = NULL, *schema_path = NULL;
	char schema_buf[PATH_MAX + 64];
	bool quiet = false, max_delay_set = false;
	int verbose = 0, ch;
	char errstr[1024];

	log_init(argv[0], true);
	cli_hide_secrets(); /* AWS keys live in this process from here on */
	while ((ch = getopt_long(argc, argv, "g:hi:qs:t:vV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'A':
			ro.max_attempts = (int)cli_number("--max-attempts", optarg, 1, 100);
			break;
		case 'B':
			ro.base_delay_ms = duration("base-delay", optarg);
			break;
		case 'C':
			connect_timeout = cli_number("--connect-timeout", optarg, 1, 600000);
			break;
		case 'D':
			ro.dlq = queue_name("dlq", optarg);
			break;
		case 'E':
			ro.exit_when_empty = true;
			break;
		case 'g':
			if (event_group_by_parse(optarg, &ro.group_by) < 0)
				fatalx(EX_USAGE, "--group-by: '%s' is not client or uid", optarg);
			break;
		case 'i':
			ro.inflight = (unsigned)cli_number("--inflight", optarg, 1, 1000);
			break;
		case 'M':
			ro.max_delay_ms = duration("max-delay", optarg);
			max_delay_set = true;
			break;
		case 'O':
			ro.once = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'Q':
			ro.queue = queue_name("queue", optarg);
			break;
		case 'r':
			ready_fd = cli_number("--ready-fd", optarg, 0, 1 << 20);
			break;
		case 's':
			schema_path = optarg;
			break;
		case 'S':
			stats_interval = cli_number("--stats-interval", optarg, 0, 86400);
			break;
		case 'F':
			if (!metrics_path_ok(optarg, errstr, sizeof(errstr)))
				fatalx(EX_USAGE, "--metrics-file: %s", errstr);
			metrics_path = optarg;
			break;
		case 't':
			ro.table = optarg;
			break;
		case 'T':
			request_timeout = cli_number("--request-timeout", optarg, 1, 3600000);
			break;
		case 'v':
			verbose++;
			break;
		case 'W':
			ro.wait_s = (int)cli_number("--wait-time", optarg, 0, SQS_WAIT_MAX);
			break;
		case 'Y':
			ro.visibility_s = (int)cli_number("--visibility-timeout", optarg, 1, SQS_VISIBILITY_MAX);
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			printf("retry (event-processor) %s\n", EP_VERSION);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind < argc)
		fatalx(EX_USAGE, "no arguments are taken ('%s'); see --help", argv[optind]);
	if (ro.once && ro.exit_when_empty)
		fatalx(EX_USAGE, "--once and --exit-when-empty: choose one");
	if (ro.max_delay_ms < ro.base_delay_ms) {
		if (max_delay_set)
			fatalx(EX_USAGE, "--max-delay is shorter than --base-delay");
		ro.max_delay_ms = ro.base_delay_ms;
	}
	if (ready_fd >= 0 && fcntl((int)ready_fd, F_GETFD) < 0)
		fatalx(EX_USAGE, "--ready-fd: %ld is not an open descriptor", ready_fd);
	log_set_verbose(verbose);
	ro.quiet = quiet;

	/* The schema first: compiled once, before anything is received. */
	if (!schema_path)
		schema_path = cli_data_path(SCHEMA_NAME, schema_buf, sizeof(schema_buf));
	struct jsonschema_options schema_opt = {NULL, NULL};
	jsonschema *schema = jsonschema_load(schema_path, &schema_opt, errstr, sizeof(errstr));
	if (!schema)
		fatalx(EX_CONFIG, "%s", errstr);
	ro.schema = schema;

	/* Set-up: both services' configurations first. */
	struct awsconf sqs_conf, ddb_conf;
	if (awsconf_load(&sqs_conf, &awsconf_sqs, errstr, sizeof(errstr)) < 0 ||
	    awsconf_load(&ddb_conf, &awsconf_dynamodb, errstr, sizeof(errstr)) < 0)
		fatalx(EX_CONFIG, "%s", errstr);
	if (sqs_conf.warning[0])
		log_warnx("%s", sqs_conf.warning);
	if (ddb_conf.warning[0] && strcmp(ddb_conf.warning, sqs_conf.warning) != 0)
		log_warnx("%s", ddb_conf.warning);
	ro.store_attempts = ddb_conf.max_attempts;
	if (verbose)
		log_info("SQS at %s, DynamoDB at %s, region %s, credentials from %s; %s -> table %s, "
		         "DLQ %s; %d attempts, backoff %u ms to %u ms",
		         sqs_conf.endpoint, ddb_conf.endpoint, sqs_conf.region, sqs_conf.creds.source,
		         ro.queue, ro.table, ro.dlq, ro.max_attempts, ro.base_delay_ms,
		         ro.max_delay_ms);
	struct awsreq_options so = {
		.connect_timeout_ms = connect_timeout,
		.timeout_ms = request_timeout,
		.max_inflight = ro.inflight < 16 ? ro.inflight : 16,
	};
	struct awsreq_options po = so;
	po.max_inflight = 1;
	po.timeout_ms = (long)ro.wait_s * 1000 + request_timeout; /* the long poll */
	struct awsreq_client *sqs = awsreq_client_new(&sqs_conf, &so, errstr, sizeof(errstr));
	struct awsreq_client *ddb = sqs ? awsreq_client_new(&ddb_conf, &so, errstr, sizeof(errstr)) : NULL;
	struct awsreq_client *poll = ddb ? awsreq_client_new(&sqs_conf, &po, errstr, sizeof(errstr)) : NULL;
	if (!poll)
		fatalx(EX_SOFTWARE, "%s", errstr);
	struct retrier *rt = retrier_new(sqs, ddb, poll, &ro);
	if (!rt || retrier_start(rt) < 0)
		fatalx(EX_OSERR, "out of memory");

	int wake_fd = cli_stop_signals();

	/* The loop: keep a long poll out while there is room, let the messages
	 * in hand move on, and wait for any of the three clients or a signal. */
	long interval = stats_interval > 0 ? stats_interval : metrics_path ? 10 : 0;
	double start = cli_now_s(), next_stats = start + (double)interval;
	double next_prune = start + PRUNE_INTERVAL_S;
	bool said_stopping = false;

	for (;;) {
		if (retrier_fatal(rt))
			break;
		if (cli_signals_received() > 1) {
			log_warnx("second signal: exiting with %u message%s in hand (they come back "
			          "after their visibility timeout)",
			          retrier_busy(rt), retrier_busy(rt) == 1 ? "" : "s");
			break;
		}
		if (cli_signals_received() > 0) {
			if (!said_stopping) {
				log_info("stopping: finishing %u message%s in hand%s", retrier_busy(rt),
				         retrier_busy(rt) == 1 ? "" : "s",
				         retrier_receiving(rt) ? " and the receive in flight" : "");
				said_stopping = true;
				/* The long poll in flight is let finish (at most
				 * --wait-time): SQS may hand it messages until it ends,
				 * and a message handed to a closed connection would be
				 * invisible for the visibility timeout, its receive
				 * counted as an attempt. */
				retrier_stop_polling(rt);
			}
			if (retrier_busy(rt) == 0 && !retrier_receiving(rt))
				break;
		} else if (retrier_poll(rt) && ready_fd >= 0) {
			log_info("polling %s", ro.queue);
			if (write((int)ready_fd, "\n", 1) < 0)
				log_warn("--ready-fd %ld", ready_fd);
			close((int)ready_fd);
			ready_fd = -1;
		}
		if (retrier_finished(rt))
			break;

		double now = cli_now_s();
		int timeout = 1000; /* a receive that is due after a failure */
		if (interval > 0) {
			if (now >= next_stats) {
				if (stats_interval > 0)
					print_stats("periodic", retrier_stats(rt), awsreq_stats(sqs),
					            awsreq_stats(ddb), retrier_busy(rt), now - start);
				write_metrics(metrics_path, retrier_stats(rt), awsreq_stats(sqs), awsreq_stats(ddb),
				              retrier_busy(rt), now - start);
				next_stats = now + (double)interval;
			}
			int until = (int)((next_stats - now) * 1000) + 1;
			if (until < timeout)
				timeout = until;
		}
		if (now >= next_prune) {
			retrier_prune(rt);
			next_prune = now + PRUNE_INTERVAL_S;
		}
		struct awsreq_client *clients[3] = {sqs, ddb, poll};
		struct pollfd pfd[1] = {{.fd = wake_fd, .events = POLLIN}};
		if (awsreq_wait_many(clients, 3, pfd, 1, timeout, errstr, sizeof(errstr)) < 0)
			fatalx(EX_SOFTWARE, "%s", errstr);
		cli_wake_drain(wake_fd);
	}

	int status = EX_OK;
	const char *fatal_reason = retrier_fatal(rt);
	if (fatal_reason) {
		log_warnx("%s", fatal_reason);
		/* Nothing is deleted that was not delivered: say where the rest is. */
		if (retrier_busy(rt) > 0)
			log_warnx("%u message%s in hand left in %s (they come back after their visibility "
			          "timeout)", retrier_busy(rt), retrier_busy(rt) == 1 ? "" : "s", ro.queue);
		status = strcmp(fatal_reason, "out of memory") == 0 ? EX_OSERR : retrier_fatal_status(rt);
	}
	struct retrier_stats rs = *retrier_stats(rt);
	struct awsreq_stats ss = *awsreq_stats(sqs), ds = *awsreq_stats(ddb);
	unsigned busy = retrier_busy(rt);
	awsreq_client_free(poll);
	awsreq_client_free(sqs);
	awsreq_client_free(ddb); /* no callback may run into a freed engine */
	retrier_free(rt);
	if (!quiet)
		print_stats("final", &rs, &ss, &ds, busy, cli_now_s() - start);
	write_metrics(metrics_path, &rs, &ss, &ds, busy, cli_now_s() - start);
	awsconf_free(&sqs_conf);
	awsconf_free(&ddb_conf);
	jsonschema_free(schema);
	return status;
}
