/*
 * kafka-produce — lines on stdin to messages on a Kafka topic, each as soon
 * as it is read.
 *
 * kcat -P (1.7.1) reads its input in blocking 1 KiB chunks, so a slow
 * trickle of lines (a followed file) waits until a kilobyte has gathered;
 * this producer sends every complete line at once, which is what
 * scripts/file-source.sh needs for real time. One message per non-blank
 * line, without the newline; optionally keyed by a top-level string member
 * of the line (-k) or by the text before a delimiter (-K, like kcat).
 *
 * Exit: 0 when every line was delivered (at end of input, or after
 * SIGTERM/SIGINT once what was read is delivered), 64 usage, 69 some
 * messages could not be delivered, 74 read error, 78 bad -X property.
 * Lines over the limit (--max-line, default 1 MiB) are not sent: a warning
 * each, and exit 65.
 */
#define _GNU_SOURCE /* memmem */
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
#include <unistd.h>

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>

#include "cli.h"
#include "log.h"
#include "record.h"

#define MAX_PROPS 64

static volatile sig_atomic_t stop_requested;
static unsigned long delivered, failed;

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: kafka-produce [-b brokers] [-t topic] [-p partition] [-k field | -K delim]\n"
	        "                     [-z codec] [-X prop=value]… [--max-line BYTES]\n"
	        "\n"
	        "Produces each line of stdin as one message as soon as the line is complete\n"
	        "(blank lines are skipped), then waits for every delivery report.\n"
	        "\n"
	        "  -b, --brokers LIST   bootstrap brokers (default $KAFKA_BROKERS, else localhost:9092)\n"
	        "  -t, --topic NAME     topic (default $KAFKA_TOPIC, else stream_producer)\n"
	        "  -p, --partition N    always this partition (default: by key, or spread)\n"
	        "  -k, --key-field F    key: the value of the line's top-level string member F\n"
	        "                       (none when the line has no such member)\n"
	        "  -K, --key-delim D    key: the text before the first D (as kcat -K)\n"
	        "  -z, --compress C     compression.codec (default none)\n"
	        "  -X, --property P=V   librdkafka producer property; repeatable\n"
	        "      --max-line BYTES longest line sent (default %d)\n"
	        "  -h, --help           this text\n"
	        "  -V, --version        print the version\n"
	        "\n"
	        "Exit: 0 all delivered, 64 usage, 65 a line was too long, 69 some messages\n"
	        "were not delivered, 74 read error, 78 bad -X property.\n",
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
		fatalx(EX_CONFIG, "%s=%s: %s", name, value, errstr);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	if (!m->err) {
		delivered++;
		return;
	}
	/* the first few say why; the count says how many */
	if (failed++ < 5)
		log_warnx("message not delivered: %s", rd_kafka_err2str(m->err));
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	(void)level;
	log_warnx("rdkafka %s: %s", fac, buf);
}

/* The key of a line: the string value of a top-level member, or NULL. The
 * returned text lives in *tree until it is freed. */
static const char *key_from_field(const struct record_line *line, const char *field,
                                  cJSON **tree)
{
	const cJSON *v;

	*tree = cJSON_ParseWithLength(line->data, line->len);
	v = cJSON_GetObjectItemCaseSensitive(*tree, field);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void produce(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int32_t partition, const char *data,
                    size_t len, const char *key, size_t key_len)
{
	for (;;) {
		if (rd_kafka_produce(rkt, partition, RD_KAFKA_MSG_F_COPY, (void *)data, len, key, key_len,
		                     NULL) == 0)
			return;
		if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			fatalx(EX_SOFTWARE, "produce: %s", rd_kafka_err2str(rd_kafka_last_error()));
		rd_kafka_poll(rk, 100); /* the local queue is full: let it drain */
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"brokers", required_argument, NULL, 'b'},
		{"topic", required_argument, NULL, 't'},
		{"partition", required_argument, NULL, 'p'},
		{"key-field", required_argument, NULL, 'k'},
		{"key-delim", required_argument, NULL, 'K'},
		{"compress", required_argument, NULL, 'z'},
		{"property", required_argument, NULL, 'X'},
		{"max-line", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *brokers = getenv("KAFKA_BROKERS") ? getenv("KAFKA_BROKERS") : "localhost:9092";
	const char *topic = getenv("KAFKA_TOPIC") ? getenv("KAFKA_TOPIC") : "stream_producer";
	const char *key_field = NULL, *key_delim = NULL, *codec = NULL;
	char *props[MAX_PROPS], errstr[512];
	int nprops = 0, ch, status = EX_OK;
	int32_t partition = RD_KAFKA_PARTITION_UA;
	size_t max_line = RECORD_MAX_LINE_DEFAULT;

	log_init(argv[0], false);
	while ((ch = getopt_long(argc, argv, "b:hk:K:p:t:VX:z:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'b':
			brokers = optarg;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'k':
			key_field = optarg;
			break;
		case 'K':
			if (!optarg[0])
				fatalx(EX_USAGE, "-K: an empty delimiter");
			key_delim = optarg;
			break;
		case 'm':
			max_line = (size_t)cli_number("--max-line", optarg, 16, 256L * 1024 * 1024);
			break;
		case 'p':
			partition = (int32_t)cli_number("-p", optarg, 0, INT32_MAX);
			break;
		case 't':
			topic = optarg;
			break;
		case 'V':
			printf("kafka-produce (event-processor) %s, librdkafka %s\n", EP_VERSION,
			       rd_kafka_version_str());
			return EX_OK;
		case 'X':
			if (!strchr(optarg, '=') || optarg[0] == '=')
				fatalx(EX_USAGE, "-X: expected property=value, got '%s'", optarg);
			if (nprops == MAX_PROPS)
				fatalx(EX_USAGE, "-X: at most %d properties", MAX_PROPS);
			props[nprops++] = optarg;
			break;
		case 'z':
			codec = optarg;
			break;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc || (key_field && key_delim)) {
		usage(stderr);
		return EX_USAGE;
	}

	struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: poll sees EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Set-up: the producer, then the user's -X on top of our few defaults. */
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	conf_set(conf, "bootstrap.servers", brokers);
	conf_set(conf, "client.id", "kafka-produce");
	if (codec)
		conf_set(conf, "compression.codec", codec);
	for (int i = 0; i < nprops; i++) {
		char *eq = strchr(props[i], '=');
		*eq = '\0';
		conf_set(conf, props[i], eq + 1);
		*eq = '=';
	}
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_log_cb(conf, on_log);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk)
		fatalx(EX_CONFIG, "%s", errstr);
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	if (!rkt)
		fatalx(EX_CONFIG, "topic %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));

	/* A pipe is read without blocking, so that a half-written line never
	 * holds up delivery reports; its old flags are given back at exit. */
	struct stat st;
	int in_flags = -1;
	if (fstat(STDIN_FILENO, &st) == 0 && S_ISFIFO(st.st_mode)) {
		in_flags = fcntl(STDIN_FILENO, F_GETFL);
		if (in_flags >= 0)
			fcntl(STDIN_FILENO, F_SETFL, in_flags | O_NONBLOCK);
	}
	struct record_reader *reader = record_reader_new(STDIN_FILENO, max_line);
	if (!reader)
		fatalx(EX_SOFTWARE, "out of memory");

	/* The loop: every complete line is produced at once. */
	while (!stop_requested) {
		struct record_line line;
		int rc = record_reader_next(reader, &line);

		if (rc == 0)
			break;
		if (rc < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
				rd_kafka_poll(rk, 0);
				poll(&pfd, 1, 100);
				continue;
			}
			if (errno == EINTR)
				continue;
			log_warn("stdin");
			status = EX_IOERR;
			break;
		}
		if (record_line_blank(&line))
			continue;
		if (line.too_long) {
			log_warnx("line %lu is longer than %zu bytes: not sent", line.lineno, max_line);
			status = EX_DATAERR;
			continue;
		}

		const char *data = line.data, *key = NULL;
		size_t len = line.len, key_len = 0;
		cJSON *tree = NULL;
		if (key_field) {
			key = key_from_field(&line, key_field, &tree);
			key_len = key ? strlen(key) : 0;
		} else if (key_delim) {
			size_t dl = strlen(key_delim);
			const char *d = memmem(line.data, line.len, key_delim, dl);
			if (d) {
				key = line.data;
				key_len = (size_t)(d - line.data);
				data = d + dl;
				len = line.len - key_len - dl;
			}
		}
		produce(rk, rkt, partition, data, len, key, key_len);
		cJSON_Delete(tree);
		rd_kafka_poll(rk, 0);
	}

	/* Shutdown: everything read is delivered (or reported) before exit. */
	while (rd_kafka_outq_len(rk) > 0)
		if (rd_kafka_flush(rk, 1000) == RD_KAFKA_RESP_ERR__TIMED_OUT)
			log_debug("waiting for %d messages", rd_kafka_outq_len(rk));
	if (failed) {
		log_warnx("%lu messages not delivered, %lu delivered", failed, delivered);
		status = EX_UNAVAILABLE;
	}
	if (in_flags >= 0)
		fcntl(STDIN_FILENO, F_SETFL, in_flags);
	record_reader_free(reader);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	if (fclose(stdout) == EOF)
		fatal(EX_IOERR, "stdout");
	return status;
}
