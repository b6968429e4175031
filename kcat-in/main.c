/*
 * kcat-in — Kafka topic to records: the head of the pipeline.
 *
 * Consumes topics as a member of a consumer group (librdkafka's high-level
 * consumer, options like kcat's) and writes one record per message on
 * stdout: the payload object with "_src" (topic, partition, offset)
 * appended, or the payload wrapped under "_raw" when it is not a JSON
 * object. With --acks it reads outcome lines back from the end of the
 * pipeline and stores a partition's offset only when the outcomes of all
 * its records up to there have come back, so a committed offset never
 * passes a record that is not done (docs/kafka.md). Without --acks it
 * stores offsets as records are written, like kcat.
 *
 * Exit: 0 after SIGTERM/SIGINT or with -e at the end, 64 usage, 66 the ack
 * input cannot be opened, 69 no broker answered at start or the cluster
 * refused us, 71 out of memory, 74 stdout or the ack input failed (EPIPE
 * included, or the ack input ended while running), 78 a bad -X property.
 */
#define _GNU_SOURCE /* pipe2, ppoll */
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

#include <librdkafka/rdkafka.h>

#include "cli.h"
#include "consumer.h"
#include "input.h"
#include "jsonarena.h"
#include "log.h"
#include "metrics.h"
#include "record.h"

#define MAX_TOPICS 64
#define MAX_PROPS 128
#define BATCH 1000                   /* messages per turn of the loop */
#define HIGH_WATER (8u * 1024 * 1024) /* queued output that pauses fetching */
#define LOW_WATER (1u * 1024 * 1024)  /* … and resumes it */

static volatile sig_atomic_t stop_requested;

struct options {
	const char *brokers, *group, *offset, *acks_path, *metrics_path;
	const char *topics[MAX_TOPICS];
	int ntopics;
	char *props[MAX_PROPS];
	int nprops;
	int acks_fd;
	bool exit_eof;
	long drain_s, stats_s, connect_s, stuck_s;
	size_t max_line;
	int verbose;
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: kcat-in [-ev] [-b brokers] [-t topic]… [-G group] [-o beginning|end|stored]\n"
	        "               [-X prop=value]… [--acks PATH | --acks-fd N] [--drain-timeout S]\n"
	        "               [--stats-interval S] [--metrics-file PATH] [--connect-timeout S]\n"
	        "               [--max-line BYTES] [--stuck-after S]\n"
	        "\n"
	        "Consumes Kafka topics in a consumer group and writes one record per message on\n"
	        "stdout: the payload object with \"_src\":{\"topic\",\"partition\",\"offset\"} appended\n"
	        "(its bytes kept; a multi-line object is compacted), or, when the payload is not\n"
	        "a JSON object, not JSON or not UTF-8, {\"_raw\":\"<payload>\",\"_src\":…} (exact bytes\n"
	        "also under \"_raw_base64\" when not UTF-8; a payload over the line limit keeps its\n"
	        "first 1 KiB and gets \"_raw_truncated\":true). A payload with a top-level member\n"
	        "whose name starts with \"_\" (the pipeline's own) is not an event: it is wrapped\n"
	        "the same way, with \"_error\":{\"stage\":\"kcat-in\",\"code\":\"reserved_member\",…}.\n"
	        "\n"
	        "  -b, --brokers LIST       bootstrap brokers (default $KAFKA_BROKERS, else localhost:9092)\n"
	        "  -t, --topic NAME         topic to consume; repeatable or a comma list; ^regex\n"
	        "                           allowed (default $KAFKA_TOPIC, else stream_producer)\n"
	        "  -G, --group ID           consumer group (default $KAFKA_GROUP, else event-processor)\n"
	        "  -o, --offset WHERE       where a partition without a committed offset starts:\n"
	        "                           beginning (default), end, or stored (none: an error)\n"
	        "  -X, --property P=V       librdkafka property, after kcat-in's own defaults;\n"
	        "                           repeatable (enable.auto.offset.store stays false)\n"
	        "  -e, --exit               exit once every assigned partition is at its end (with\n"
	        "                           --acks, once every record written has its outcome back\n"
	        "                           and is committed)\n"
	        "      --acks PATH          read outcome lines (records that still carry \"_src\")\n"
	        "                           from PATH, usually a FIFO written by the end of the\n"
	        "                           pipeline (opening a FIFO waits for its writer); offsets\n"
	        "                           are stored only for records whose outcome came back\n"
	        "      --acks-fd N          the same from an inherited descriptor\n"
	        "                           Without either, offsets are stored as records are\n"
	        "                           written to stdout, as kcat does.\n"
	        "      --drain-timeout S    on SIGTERM/SIGINT, wait at most S seconds for stdout to\n"
	        "                           drain and outcomes to come back (default 10)\n"
	        "      --stats-interval S   a JSON statistics line on stderr every S seconds (default\n"
	        "                           0: only the final one at exit)\n"
	        "      --metrics-file PATH  the counters in Prometheus text format, replaced\n"
	        "                           atomically every interval (S, else 10 s) and at exit\n"
	        "      --connect-timeout S  exit 69 when no broker answers within S seconds at\n"
	        "                           start (default 10)\n"
	        "      --max-line BYTES     longest record written (default %d)\n"
	        "      --stuck-after S      with acks: when a partition's oldest record has had no\n"
	        "                           outcome for S seconds, say so once and pause fetching\n"
	        "                           from that partition until it comes back (default 300;\n"
	        "                           0: never), so memory stays bounded\n"
	        "  -v, --verbose            more diagnostics (librdkafka's debug log with -X debug=…)\n"
	        "  -h, --help               this text\n"
	        "  -V, --version            print the version\n"
	        "\n"
	        "Defaults given to librdkafka (override with -X): enable.auto.commit=true,\n"
	        "auto.commit.interval.ms=1000, queued.min.messages=1000000, client.id=kcat-in.\n"
	        "A final synchronous commit is made at exit, then the consumer leaves the group.\n"
	        "Exit: 0 done, 64 usage, 66 ack input not found, 69 brokers unreachable or\n"
	        "refused us, 71 out of memory, 74 I/O error on stdout or the ack input (or the\n"
	        "ack input ended while running), 78 bad -X property.\n",
	        RECORD_MAX_LINE_DEFAULT);
}

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
	char errstr[512];

	if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		/* the value is left out: it may be a password */
		fatalx(EX_CONFIG, "-X %s: %s", name, errstr);
}

/* Non-blocking, so that a full pipe never stops the loop from reading acks;
 * the old flags are given back at exit, as the descriptor may be shared. */
static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0 && !(fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	return fl;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"brokers", required_argument, NULL, 'b'},
		{"topic", required_argument, NULL, 't'},
		{"group", required_argument, NULL, 'G'},
		{"offset", required_argument, NULL, 'o'},
		{"property", required_argument, NULL, 'X'},
		{"exit", no_argument, NULL, 'e'},
		{"acks", required_argument, NULL, 'A'},
		{"acks-fd", required_argument, NULL, 'F'},
		{"drain-timeout", required_argument, NULL, 'D'},
		{"stats-interval", required_argument, NULL, 'S'},
		{"metrics-file", required_argument, NULL, 'P'},
		{"connect-timeout", required_argument, NULL, 'C'},
		{"max-line", required_argument, NULL, 'm'},
		{"stuck-after", required_argument, NULL, 'T'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "b:eG:ho:t:vVX:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'A':
			o->acks_path = optarg;
			break;
		case 'b':
			o->brokers = optarg;
			break;
		case 'C':
			o->connect_s = cli_number("--connect-timeout", optarg, 1, 3600);
			break;
		case 'D':
			o->drain_s = cli_number("--drain-timeout", optarg, 0, 3600);
			break;
		case 'e':
			o->exit_eof = true;
			break;
		case 'F':
			o->acks_fd = (int)cli_number("--acks-fd", optarg, 0, 1 << 20);
			break;
		case 'G':
			o->group = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(EX_OK);
		case 'm':
			o->max_line = (size_t)cli_number("--max-line", optarg, 256, 256L * 1024 * 1024);
			break;
		case 'o':
			if (strcmp(optarg, "beginning") && strcmp(optarg, "end") && strcmp(optarg, "stored"))
				fatalx(EX_USAGE, "-o: expected beginning, end or stored, got '%s'", optarg);
			o->offset = optarg;
			break;
		case 'S':
			o->stats_s = cli_number("--stats-interval", optarg, 0, 86400);
			break;
		case 'P': {
			char why[512];
			if (!metrics_path_ok(optarg, why, sizeof(why)))
				fatalx(EX_USAGE, "--metrics-file: %s", why);
			o->metrics_path = optarg;
			break;
		}
		case 'T':
			o->stuck_s = cli_number("--stuck-after", optarg, 0, 86400);
			break;
		case 't':
			for (char *save = NULL, *t = strtok_r(optarg, ",", &save); t;
			     t = strtok_r(NULL, ",", &save)) {
				if (o->ntopics == MAX_TOPICS)
					fatalx(EX_USAGE, "-t: at most %d topics", MAX_TOPICS);
				o->topics[o->ntopics++] = t;
			}
			break;
		case 'v':
			o->verbose++;
			break;
		case 'V':
			printf("kcat-in (event-processor) %s, librdkafka %s\n", EP_VERSION,
			       rd_kafka_version_str());
			exit(EX_OK);
		case 'X':
			if (!strchr(optarg, '=') || optarg[0] == '=')
				/* not echoed: it may hold a password */
				fatalx(EX_USAGE, "-X: expected property=value (%zu characters given, "
				                 "no '=' after a name)", strlen(optarg));
			if (o->nprops == MAX_PROPS)
				fatalx(EX_USAGE, "-X: at most %d properties", MAX_PROPS);
			o->props[o->nprops++] = optarg;
			break;
		default:
			usage(stderr);
			exit(EX_USAGE);
		}
	}
	if (optind != argc) {
		usage(stderr);
		exit(EX_USAGE);
	}
	if (o->acks_path && o->acks_fd >= 0)
		fatalx(EX_USAGE, "--acks and --acks-fd: one ack input at most");
}

/* The consumer with kcat-in's defaults, then the user's -X on top, then the
 * one setting correctness depends on. */
static rd_kafka_t *make_consumer(const struct options *o, struct kin *k)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char errstr[512];
	static const char *reset[][2] = {
		{"beginning", "earliest"}, {"end", "latest"}, {"stored", "error"}};

	conf_set(conf, "bootstrap.servers", o->brokers);
	conf_set(conf, "group.id", o->group);
	conf_set(conf, "client.id", "kcat-in");
	conf_set(conf, "enable.auto.commit", "true");
	conf_set(conf, "auto.commit.interval.ms", "1000");
	conf_set(conf, "enable.partition.eof", o->exit_eof ? "true" : "false");
	/* librdkafka 2.0 counts this against the one queue all partitions feed,
	 * and stops fetching for up to half a second whenever a burst fills
	 * it; the byte limit (queued.max.messages.kbytes, 64 MiB) still bounds
	 * memory. */
	conf_set(conf, "queued.min.messages", "1000000");
	for (size_t i = 0; i < sizeof(reset) / sizeof(*reset); i++)
		if (strcmp(o->offset, reset[i][0]) == 0)
			conf_set(conf, "auto.offset.reset", reset[i][1]);
	for (int i = 0; i < o->nprops; i++) {
		char *eq = strchr(o->props[i], '=');
		*eq = '\0';
		conf_set(conf, o->props[i], eq + 1);
		*eq = '=';
	}
	conf_set(conf, "enable.auto.offset.store", "false");
	rd_kafka_conf_set_opaque(conf, k);
	rd_kafka_conf_set_rebalance_cb(conf, kin_on_rebalance);
	rd_kafka_conf_set_offset_commit_cb(conf, kin_on_commit);
	rd_kafka_conf_set_error_cb(conf, kin_on_error);
	rd_kafka_conf_set_log_cb(conf, kin_on_log);

	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (!rk)
		fatalx(EX_CONFIG, "%s", errstr);
	rd_kafka_poll_set_consumer(rk); /* every event comes through one queue */
	return rk;
}

/* Exit 69 now rather than retry forever when nothing answers at all; a
 * missing topic is only a warning (it may be created later). */
static void check_brokers(rd_kafka_t *rk, const struct options *o)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, NULL, &md, (int)o->connect_s * 1000);

	if (err)
		fatalx(EX_UNAVAILABLE, "cannot reach the brokers at %s: %s", o->brokers,
		       rd_kafka_err2str(err));
	rd_kafka_metadata_destroy(md);
	for (int i = 0; i < o->ntopics; i++) {
		if (o->topics[i][0] == '^')
			continue;
		rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topics[i], NULL);
		if (!rkt)
			continue;
		err = rd_kafka_metadata(rk, 0, rkt, &md, (int)o->connect_s * 1000);
		if (!err) {
			if (md->topic_cnt == 1 && md->topics[0].err)
				log_warnx("topic %s: %s", o->topics[i], rd_kafka_err2str(md->topics[0].err));
			rd_kafka_metadata_destroy(md);
		}
		rd_kafka_topic_destroy(rkt);
	}
}

static void subscribe(rd_kafka_t *rk, const struct options *o)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(o->ntopics);

	for (int i = 0; i < o->ntopics; i++)
		rd_kafka_topic_partition_list_add(list, o->topics[i], RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (err)
		fatalx(EX_CONFIG, "subscribe: %s", rd_kafka_err2str(err));
}

/* kin_stats()'s counters for --metrics-file (nothing without one). */
static void write_metrics(const char *path, const struct kin *k)
{
	char errstr[512];

	if (!path)
		return;
	const struct metric m[] = {
		{"messages", "Messages consumed.", METRIC_COUNTER, (double)k->n.messages},
		{"records_out", "Records written to stdout.", METRIC_COUNTER, (double)k->n.records},
		{"acks", "Outcome lines read back.", METRIC_COUNTER, (double)k->n.acks},
		{"acks_bad", "Outcome lines that named no record of ours.", METRIC_COUNTER,
		 (double)k->n.acks_bad},
		{"reserved", "Payloads with a top-level _ member, written as reserved_member.",
		 METRIC_COUNTER, (double)k->n.reserved},
		{"stuck", "Times a partition was paused: no outcome for --stuck-after seconds.",
		 METRIC_COUNTER, (double)k->n.stuck},
		{"partitions_stuck", "Partitions paused now by --stuck-after.", METRIC_GAUGE,
		 (double)kin_stuck_now(k)},
		{"rebalances", "Group rebalances.", METRIC_COUNTER, (double)k->n.rebalances},
		{"commit_failures", "Offset commits that failed.", METRIC_COUNTER,
		 (double)k->n.commit_failures},
		{"outstanding", "Records written whose offsets are not stored yet.", METRIC_GAUGE,
		 (double)offtrack_outstanding(k->track)},
	};
	if (metrics_write(path, "kcat-in", m, sizeof(m) / sizeof(m[0]), errstr, sizeof(errstr)) < 0)
		log_warnx("--metrics-file: %s", errstr);
}

int main(int argc, char **argv)
{
	struct options o = {.acks_fd = -1, .drain_s = 10, .connect_s = 10, .stuck_s = 300,
	                    .max_line = RECORD_MAX_LINE_DEFAULT};
	struct kin k = {.fetching = true};
	int status = EX_OK, ack_fd = -1, ack_flags = -1, out_flags = -1, wake[2];
	bool finishing = false, signalled = false, out_closed = false, out_nonblock = false;
	long long deadline = -1, next_stats = 0;

	log_init(argv[0], false);
	o.brokers = getenv("KAFKA_BROKERS") ? getenv("KAFKA_BROKERS") : "localhost:9092";
	o.group = getenv("KAFKA_GROUP") ? getenv("KAFKA_GROUP") : "event-processor";
	o.offset = "beginning";
	cli_hide_secrets(); /* -X may carry a SASL password */
	parse_options(argc, argv, &o);
	if (o.ntopics == 0) {
		static char env_topics[1024];
		snprintf(env_topics, sizeof(env_topics), "%s",
		         getenv("KAFKA_TOPIC") ? getenv("KAFKA_TOPIC") : "stream_producer");
		for (char *save = NULL, *t = strtok_r(env_topics, ",", &save);
		     t && o.ntopics < MAX_TOPICS; t = strtok_r(NULL, ",", &save))
			o.topics[o.ntopics++] = t;
	}
	log_set_verbose(o.verbose);

	/* Signals: handled without SA_RESTART, so the blocking open of a FIFO
	 * returns on SIGTERM; blocked from then on, and let through only while
	 * the loop waits in ppoll, so none is ever missed between a check of
	 * the flag and the wait. */
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* The ack input. Opening a FIFO waits for the pipeline's end to open
	 * it for writing, which the shell does when it starts the pipeline. */
	if (o.acks_path) {
		do
			ack_fd = open(o.acks_path, O_RDONLY | O_CLOEXEC);
		while (ack_fd < 0 && errno == EINTR && !stop_requested);
		if (ack_fd < 0 && stop_requested)
			return EX_OK;
		if (ack_fd < 0)
			fatal(EX_NOINPUT, "%s", o.acks_path);
	} else if (o.acks_fd >= 0) {
		ack_fd = o.acks_fd;
		if (fcntl(ack_fd, F_GETFD) < 0)
			fatal(EX_NOINPUT, "--acks-fd %d", ack_fd);
	}
	if (ack_fd >= 0) {
		ack_flags = set_nonblock(ack_fd);
		pipe_widen(ack_fd);
		/* outcome lines carry what later stages added: allow for it */
		k.acks = record_reader_new(ack_fd, o.max_line * 2 + 65536);
		k.with_acks = true;
	}

	sigset_t block, waitmask;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &waitmask);

	/* Set-up: the consumer, woken through a pipe when its queue fills. */
	k.max_line = o.max_line;
	k.exit_eof = o.exit_eof;
	k.stuck_ms = o.stuck_s * 1000;
	/* cJSON trees live for one message or one ack line: from an arena */
	if (!jsonarena_install())
		fatalx(EX_OSERR, "out of memory");
	k.track = offtrack_new();
	k.out = outbuf_new(STDOUT_FILENO);
	if (!k.track || !k.out || (ack_fd >= 0 && !k.acks))
		fatalx(EX_OSERR, "out of memory");
	k.rk = make_consumer(&o, &k);
	check_brokers(k.rk, &o);
	subscribe(k.rk, &o);
	if (pipe2(wake, O_NONBLOCK | O_CLOEXEC) < 0)
		fatal(EX_OSERR, "pipe");
	rd_kafka_queue_t *queue = rd_kafka_queue_get_consumer(k.rk);
	rd_kafka_queue_io_event_enable(queue, wake[1], "w", 1);

	struct stat st;
	if (fstat(STDOUT_FILENO, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
		out_flags = set_nonblock(STDOUT_FILENO);
		out_nonblock = true;
		pipe_widen(STDOUT_FILENO);
	}
	long interval_s = o.stats_s ? o.stats_s : o.metrics_path ? 10 : 0;
	if (interval_s)
		next_stats = cli_now_ms() + interval_s * 1000;

	/* The loop: consume, write, read acks, store; then wait for any of
	 * them. Stopping is a phase of it (fetching off, stdout drained and
	 * closed so the stages downstream finish, outcomes awaited), not a
	 * separate path. */
	for (;;) {
		bool more;

		if (stop_requested && !signalled) {
			signalled = true;
			deadline = cli_now_ms() + o.drain_s * 1000;
		}
		if (k.fatal && status == EX_OK)
			status = k.fatal;
		if (!finishing && (signalled || status != EX_OK)) {
			finishing = true;
			k.fetching = false;
			kin_pause(&k, true);
			if (deadline < 0)
				deadline = cli_now_ms() + o.drain_s * 1000;
		}

		char drain[64];
		while (read(wake[0], drain, sizeof(drain)) > 0)
			;
		int rc = kin_consume(&k, BATCH);
		if (rc < 0) {
			log_warn("queueing a record");
			status = EX_OSERR;
			continue;
		}
		/* consumer_poll() may serve an event and return nothing while
		 * messages wait behind it, and the wake-up pipe only fires when the
		 * queue turns non-empty: look before sleeping. */
		more = rc > 0 || rd_kafka_queue_length(queue) > 0;
		if (k.exit_eof && k.fetching && offtrack_all_eof(k.track)) {
			/* -e: the end; no deadline unless a signal comes */
			finishing = true;
			k.fetching = false;
			kin_pause(&k, true);
		}

		if (!out_closed) {
			if (outbuf_commit(k.out) < 0 || outbuf_drain(k.out) < 0) {
				log_warn("stdout");
				status = EX_IOERR;
				out_closed = true; /* nothing more can go there */
				continue;
			}
			size_t pending = outbuf_pending(k.out);
			if (k.fetching && !k.paused && pending > HIGH_WATER)
				kin_pause(&k, true);
			else if (k.fetching && k.paused && pending < LOW_WATER)
				kin_pause(&k, false);
			if (!k.fetching && pending == 0) {
				/* EOF downstream: the stages flush and finish */
				if (out_flags >= 0)
					fcntl(STDOUT_FILENO, F_SETFL, out_flags);
				if (fclose(stdout) == EOF) {
					log_warn("stdout");
					status = EX_IOERR;
				}
				out_closed = true;
				/* keep descriptor 1 taken, so nothing opened later lands there */
				open("/dev/null", O_WRONLY | O_CLOEXEC);
			}
		}

		if (k.acks && !k.acks_eof) {
			if (kin_read_acks(&k) < 0) {
				log_warn("acks: read error");
				status = EX_IOERR;
				k.acks_eof = true;
			} else if (k.acks_eof && !out_closed) {
				log_warnx("acks: the ack input ended while records were still being written; "
				          "stopping");
				status = EX_IOERR;
			}
		}
		kin_store(&k);

		long long now = cli_now_ms();
		kin_check_stuck(&k, now);
		if (interval_s && now >= next_stats) {
			if (o.stats_s)
				kin_stats(&k, "periodic");
			write_metrics(o.metrics_path, &k);
			next_stats = now + interval_s * 1000;
		}
		if (finishing && out_closed &&
		    (!k.with_acks || offtrack_outstanding(k.track) == 0 || k.acks_eof))
			break;
		if (deadline >= 0 && now >= deadline) {
			log_warnx("drain timeout: %zu records without an outcome and %zu bytes unwritten; "
			          "they will be delivered again",
			          offtrack_outstanding(k.track), out_closed ? 0 : outbuf_pending(k.out));
			break;
		}

		/* Wait for the consumer, the ack input or room on stdout. */
		struct pollfd fds[3] = {
			{.fd = wake[0], .events = POLLIN},
			{.fd = k.acks && !k.acks_eof ? ack_fd : -1, .events = POLLIN},
			{.fd = !out_closed && out_nonblock && outbuf_pending(k.out) ? STDOUT_FILENO : -1,
			 .events = POLLOUT},
		};
		long long wait = more ? 0 : 1000;
		if (interval_s && next_stats - now < wait)
			wait = next_stats - now;
		if (deadline >= 0 && deadline - now < wait)
			wait = deadline - now;
		struct timespec ts = {.tv_sec = (time_t)(wait / 1000),
		                      .tv_nsec = (long)(wait % 1000) * 1000000};
		if (ppoll(fds, 3, &ts, &waitmask) < 0 &&
		    errno != EINTR)
			fatal(EX_OSERR, "ppoll");
	}

	/* Shutdown: commit what is done, leave the group, report. */
	if (k.with_acks && offtrack_outstanding(k.track) && k.acks_eof)
		log_warnx("%zu records have no outcome: they will be delivered again",
		          offtrack_outstanding(k.track));
	kin_commit_sync(&k);
	if (!out_closed) {
		if (out_flags >= 0)
			fcntl(STDOUT_FILENO, F_SETFL, out_flags);
		if (fclose(stdout) == EOF && status == EX_OK) {
			log_warn("stdout");
			status = EX_IOERR;
		}
	}
	rd_kafka_consumer_close(k.rk);
	kin_stats(&k, "final");
	write_metrics(o.metrics_path, &k);
	rd_kafka_queue_destroy(queue);
	rd_kafka_destroy(k.rk);
	if (o.acks_fd >= 0 && ack_flags >= 0)
		fcntl(ack_fd, F_SETFL, ack_flags);
	else if (ack_fd >= 0)
		close(ack_fd);
	record_reader_free(k.acks);
	outbuf_free(k.out);
	offtrack_free(k.track);
	kin_free_seen(&k);
	close(wake[0]);
	close(wake[1]);
	jsonarena_uninstall();
	return status;
}
