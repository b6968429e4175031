/*
 * kafka-mock — a local Kafka for tests and the demo: librdkafka's own mock
 * cluster, hosted in a process of its own so that kcat and the project's
 * tools reach it over real TCP, like a broker.
 *
 * Creates the topics asked for, prints the bootstrap address
 * ("127.0.0.1:PORT[,…]") as the first line on stdout once the cluster
 * accepts connections, then waits for SIGTERM or SIGINT and exits 0.
 * Diagnostics go to stderr. Exit: 0 after a signal, 64 usage, 70 the mock
 * cluster could not be created, 74 the address could not be written.
 *
 * A broker outage on demand, for tests: SIGUSR1 takes every broker down,
 * SIGUSR2 brings them back up, and each change is announced on stderr
 * ("kafka-mock: brokers down" / "kafka-mock: brokers up") once it has taken
 * effect; a signal asking for the state already in force says nothing. In
 * librdkafka 2.0.2, rd_kafka_mock_broker_set_down() closes the brokers'
 * connections and their listening sockets (a new connection is refused, as
 * with a broker process gone) and set_up listens again on the same port.
 * The topics, their messages and the groups' committed offsets stay in
 * this process's memory meanwhile, which a restart could not offer; the
 * mock's group coordinator keeps its clock, so members whose session runs
 * out during the outage are expired (docs/kafka.md, "A broker outage").
 * Standard signals do not queue: send one, wait for its line, then the
 * next.
 *
 * The mock keeps only about 5 MB of messages per partition (older ones are
 * dropped) and has no admin API: size tests for that, produce with
 * compression, or use more partitions (docs/kafka.md).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "cli.h"
#include "log.h"

#define MAX_TOPICS 64

static volatile sig_atomic_t stop_requested;
/* What the last SIGUSR1 (0) or SIGUSR2 (1) asked for; -1: nothing yet. The
 * handler only records it: the mock API takes locks and waits for the
 * cluster's thread, which a signal handler must not do. */
static volatile sig_atomic_t want_up = -1;

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: kafka-mock [-p partitions] [-t topic[,topic…]]… [--brokers N]\n"
	        "\n"
	        "Runs librdkafka's mock Kafka cluster on 127.0.0.1 (ephemeral ports), creates\n"
	        "the topics, prints the bootstrap address as the first line on stdout once it\n"
	        "is ready, and runs until SIGTERM or SIGINT.\n"
	        "\n"
	        "  -t, --topic NAME[,NAME…]  topic to create; repeatable (default stream_producer)\n"
	        "  -p, --partitions N        partitions per topic, 1 to 1000 (default 4)\n"
	        "      --brokers N           brokers in the cluster, 1 to 16 (default 1)\n"
	        "  -v, --verbose             pass librdkafka's log lines on to stderr\n"
	        "  -h, --help                this text\n"
	        "  -V, --version             print the version\n"
	        "\n"
	        "Signals: SIGUSR1 takes every broker down (connections closed, new ones\n"
	        "refused), SIGUSR2 brings them back up on the same ports; topics, messages and\n"
	        "committed offsets are kept. Each change is announced on stderr (\"kafka-mock:\n"
	        "brokers down\", \"kafka-mock: brokers up\") once made: wait for it before\n"
	        "sending the next signal (signals sent together may merge).\n"
	        "\n"
	        "Limits of the mock: about 5 MB of messages kept per partition (older ones are\n"
	        "dropped); no admin API; no persistence across restarts.\n"
	        "Exit: 0 after SIGTERM/SIGINT, 64 usage, 70 the cluster could not be created,\n"
	        "74 the address could not be written.\n");
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_up = 0;
	else if (sig == SIGUSR2)
		want_up = 1;
	else
		stop_requested = 1;
}

/* librdkafka logs from its own threads; one line each through lib/log. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	(void)level;
	log_info("rdkafka %s: %s", fac, buf);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"topic", required_argument, NULL, 't'},
		{"partitions", required_argument, NULL, 'p'},
		{"brokers", required_argument, NULL, 'B'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	char *topics[MAX_TOPICS];
	int ntopics = 0, partitions = 4, brokers = 1, verbose = 0, ch;
	char errstr[512];

	log_init(argv[0], false);
	while ((ch = getopt_long(argc, argv, "hp:t:vV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'B':
			brokers = (int)cli_number("--brokers", optarg, 1, 16);
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'p':
			partitions = (int)cli_number("--partitions", optarg, 1, 1000);
			break;
		case 't':
			for (char *save = NULL, *t = strtok_r(optarg, ",", &save); t;
			     t = strtok_r(NULL, ",", &save)) {
				if (ntopics == MAX_TOPICS)
					fatalx(EX_USAGE, "--topic: at most %d topics", MAX_TOPICS);
				topics[ntopics++] = t;
			}
			break;
		case 'v':
			verbose = 1;
			break;
		case 'V':
			printf("kafka-mock (event-processor) %s\n", EP_VERSION);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EX_USAGE;
	}
	if (ntopics == 0)
		topics[ntopics++] = "stream_producer";

	/* Signals first, so that a SIGTERM sent as soon as the address is read
	 * is never lost. */
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Blocked until the wait below: the broker threads inherit the mask, so
	 * the signal can only arrive in sigsuspend. */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, &old);

	/* The mock cluster lives inside a client handle; a producer is the
	 * lightest one. Its own log lines stay quiet unless asked for. */
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set_log_cb(conf, on_log);
	if (!verbose && rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) !=
	                    RD_KAFKA_CONF_OK)
		fatalx(EX_SOFTWARE, "%s", errstr);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk)
		fatalx(EX_SOFTWARE, "cannot create a client handle: %s", errstr);
	rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
	if (!mc)
		fatalx(EX_SOFTWARE, "cannot create the mock cluster");
	for (int i = 0; i < ntopics; i++) {
		rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, topics[i], partitions, 1);
		if (err)
			fatalx(EX_SOFTWARE, "cannot create topic %s: %s", topics[i], rd_kafka_err2str(err));
	}

	/* The brokers listen as soon as the cluster exists: the address line is
	 * the readiness signal the caller waits for. */
	if (printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc)) < 0 || fflush(stdout) == EOF)
		fatal(EX_IOERR, "stdout");
	if (verbose)
		log_info("%d broker(s), %d topic(s) of %d partitions at %s", brokers, ntopics, partitions,
		         rd_kafka_mock_cluster_bootstraps(mc));

	/* The brokers run on librdkafka's threads; this one only acts on
	 * signals. The signals stay blocked outside sigsuspend, so want_up
	 * cannot change between the check and the call. */
	int up = 1;
	while (!stop_requested) {
		if (want_up >= 0 && want_up != up) {
			up = want_up;
			rd_kafka_resp_err_t err = up ? rd_kafka_mock_broker_set_up(mc, -1)
			                             : rd_kafka_mock_broker_set_down(mc, -1);
			if (err)
				log_warnx("cannot bring the brokers %s: %s", up ? "up" : "down",
				          rd_kafka_err2str(err));
			else
				log_info("brokers %s", up ? "up" : "down");
		}
		sigsuspend(&old);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);

	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	if (fclose(stdout) == EOF)
		fatal(EX_IOERR, "stdout");
	return EX_OK;
}
