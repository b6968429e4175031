/*
 * validate — check records against a JSON Schema (draft-07).
 *
 * Reads newline-delimited JSON records from standard input, or from the
 * files named as arguments in turn (like cat; "-" is standard input), and
 * writes every record to standard output in input order: a valid record
 * exactly as it came in, an invalid one with an "_error" member saying what
 * failed (the JSON pointer of the failing value, the keyword, what was
 * expected and what was found). Keys that start with "_" are pipeline
 * metadata and are not validated. A record already carrying "_error" failed
 * earlier and passes through untouched. Blank lines are skipped.
 *
 * Exit status: 0 when done (invalid records are data, not failures), 65 with
 * --quiet when any record was invalid, 64 usage, 66 an input file could not
 * be opened (the others are still read), 74 read or write error, 78 the
 * schema is missing or broken. SIGTERM/SIGINT stop reading; what was read is
 * written out and the exit status is 0.
 *
 * Stats: a JSON line on stderr at exit (not with --quiet), and every
 * --stats-interval seconds; --metrics-file keeps the same counters in the
 * Prometheus text format. The interval is a SIGALRM timer, looked at
 * between records: while the input is idle nothing changes, nothing is said.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "jsonarena.h"
#include "jsonschema.h"
#include "log.h"
#include "metrics.h"
#include "record.h"

#define SCHEMA_NAME "event.schema.json"

/* Without --stats-interval, how often --metrics-file is rewritten. */
#define METRICS_INTERVAL_DEFAULT 10

static volatile sig_atomic_t stop_requested, report_due;

struct counts {
	unsigned long records, valid, invalid, passed, blank;
};

struct options {
	const char *schema_path;
	const char *rejects_path;
	const char *remote_prefix, *remote_dir;
	const char *metrics_path;
	size_t max_line;
	long stats_interval;
	bool quiet, values;
	int verbose;
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: validate [-qv] [-s schema] [-r rejects] [--values] [--max-line bytes]\n"
	        "                [--remote prefix=dir] [--stats-interval s] [--metrics-file path]\n"
	        "                [file ...]\n"
	        "\n"
	        "Checks newline-delimited JSON records against a JSON Schema (draft-07) and\n"
	        "writes every record to stdout in input order: valid ones unchanged, invalid\n"
	        "ones with an \"_error\" member giving the reason. Keys starting with \"_\" are\n"
	        "pipeline metadata and are not validated. Blank lines are skipped.\n"
	        "\n"
	        "  -s, --schema FILE     the schema (default: " SCHEMA_NAME " in the share/\n"
	        "                        folder beside the program, then " EP_DATADIR ")\n"
	        "  -r, --rejects FILE    write invalid records to FILE instead of stdout\n"
	        "  -q, --quiet           write nothing; exit 65 if any record is invalid\n"
	        "      --values          validate each line as a whole JSON value of any type\n"
	        "                        (no metadata keys); invalid non-objects come out under \"_raw\"\n"
	        "      --max-line BYTES  longest line accepted (default %d); longer is invalid\n"
	        "      --remote P=DIR    resolve $refs starting with URI prefix P from files in DIR\n"
	        "                        (never from the network)\n"
	        "      --stats-interval S  a stats line on stderr every S seconds (default 0: only\n"
	        "                        the final one, which --quiet leaves out)\n"
	        "      --metrics-file PATH  the counters in Prometheus text format, replaced\n"
	        "                        atomically every interval (S, else %d s) and at exit\n"
	        "  -v, --verbose         say why each invalid record failed, on stderr (FILE:LINE)\n"
	        "  -h, --help            this text\n"
	        "  -V, --version         print the version\n"
	        "\n"
	        "Exit: 0 done, 64 usage, 65 invalid records with --quiet, 66 an input could not be\n"
	        "opened, 71 out of memory, 74 I/O error, 78 schema missing or broken.\n",
	        RECORD_MAX_LINE_VALIDATE, METRICS_INTERVAL_DEFAULT);
}

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void on_alarm(int sig)
{
	(void)sig;
	report_due = 1;
}

static double start_s;

/* The stats line ("periodic" or "final") and the metrics file, from the
 * same counters. */
static void report(const char *kind, const struct counts *c, const struct options *opt)
{
	unsigned long out = c->valid + c->invalid + c->passed;
	double elapsed = cli_now_s() - start_s;
	char errstr[512];

	if (opt->stats_interval > 0 || (strcmp(kind, "final") == 0 && !opt->quiet))
		fprintf(stderr,
		        "{\"prog\":\"validate\",\"stats\":\"%s\",\"records_in\":%lu,"
		        "\"records_out\":%lu,\"valid\":%lu,\"invalid\":%lu,\"passed\":%lu,"
		        "\"blank\":%lu,\"elapsed_s\":%.3f}\n",
		        kind, c->records, out, c->valid, c->invalid, c->passed, c->blank, elapsed);
	if (opt->metrics_path) {
		const struct metric m[] = {
			{"records_in", "Records read (blank lines not counted).", METRIC_COUNTER,
			 (double)c->records},
			{"records_out", "Records written out, rejects included.", METRIC_COUNTER, (double)out},
			{"valid", "Records the schema accepted.", METRIC_COUNTER, (double)c->valid},
			{"invalid", "Records marked invalid.", METRIC_COUNTER, (double)c->invalid},
			{"passed", "Records already marked by an earlier stage, passed on.", METRIC_COUNTER,
			 (double)c->passed},
			{"uptime_seconds", "Seconds since the tool started.", METRIC_GAUGE, elapsed},
		};
		if (metrics_write(opt->metrics_path, "validate", m, sizeof(m) / sizeof(m[0]), errstr,
		                  sizeof(errstr)) < 0)
			log_warnx("--metrics-file: %s", errstr);
	}
}

static void write_failed(void)
{
	fatal(EX_IOERR, "write error");
}

/* A record kcat-in wrapped because its payload was not a record: say what
 * is wrong with the payload itself, and its code. */
static const char *raw_reason(const cJSON *raw, const struct record_line *line, char *reason,
                              size_t size)
{
	enum record_fault fault;
	struct record_line payload = *line;

	if (!cJSON_IsString(raw)) {
		snprintf(reason, size, "the message is not a JSON object");
		return "not_object";
	}
	payload.data = raw->valuestring;
	payload.len = strlen(raw->valuestring);
	payload.too_long = false;
	payload.tail = NULL;
	payload.tail_len = 0;
	cJSON *v = record_parse(&payload, true, &fault, reason, size);
	if (v) { /* an object after all: the wrapping stage thought otherwise */
		cJSON_Delete(v);
		snprintf(reason, size, "the message was wrapped as not a JSON object");
		return "not_object";
	}
	/* The I-JSON faults have codes of their own (the same a record with
	 * them gets at every stage); anything else stays "not_object", as
	 * before. */
	switch (fault) {
	case RECORD_NUMBER:
	case RECORD_DUPLICATE:
	case RECORD_SURROGATE:
	case RECORD_NUL_ESCAPE:
		return record_fault_code(fault);
	default:
		return "not_object";
	}
}

/* Checks one record and writes it out: unchanged when valid or already
 * failed, marked when invalid. */
static void process_record(const struct record_line *line, const char *name,
                           const jsonschema *schema, const struct options *opt, FILE *out,
                           FILE *rejects, struct counts *c)
{
	enum record_fault fault;
	struct jsonschema_error verr;
	struct record_error err = {.stage = "validate", .retryable = 0, .lineno = line->lineno};
	char reason[1024];
	cJSON *doc = record_parse(line, !opt->values, &fault, reason, sizeof(reason));
	bool ok;

	if (!doc) {
		err.code = record_fault_code(fault);
		err.reason = reason;
		ok = false;
	} else if (opt->values) {
		ok = jsonschema_validate(schema, doc, &verr);
	} else if (cJSON_GetObjectItemCaseSensitive(doc, "_error")) {
		/* failed at an earlier stage: its first reason stands */
		c->passed++;
		if (!opt->quiet && record_write_line(out, line->data, line->len) < 0)
			write_failed();
		cJSON_Delete(doc);
		return;
	} else if (cJSON_GetObjectItemCaseSensitive(doc, "_raw")) {
		err.code = raw_reason(cJSON_GetObjectItemCaseSensitive(doc, "_raw"), line, reason,
		                      sizeof(reason));
		err.reason = reason;
		ok = false;
	} else {
		/* Metadata is not part of the event: take it out while validating,
		 * and put it back for the output. */
		cJSON *meta = NULL, *next;
		for (cJSON *item = doc->child; item; item = next) {
			next = item->next;
			if (record_meta_key(item->string)) {
				cJSON_DetachItemViaPointer(doc, item);
				item->next = meta;
				meta = item;
			}
		}
		ok = jsonschema_validate(schema, doc, &verr);
		for (cJSON *item = meta; item; item = next) {
			next = item->next;
			item->next = item->prev = NULL;
			cJSON_AddItemToObject(doc, item->string, item);
		}
	}
	if (!ok && !err.code) { /* the schema said no */
		err.code = "schema";
		err.reason = verr.message;
		err.keyword = verr.keyword;
		err.pointer = verr.pointer;
	}

	if (ok) {
		c->valid++;
		if (!opt->quiet && record_write_line(out, line->data, line->len) < 0)
			write_failed();
	} else {
		c->invalid++;
		if (opt->verbose)
			log_warnx("%s:%lu: %s", name, line->lineno, err.reason);
		/* a non-object value (with --values) is kept under "_raw" */
		cJSON *obj = cJSON_IsObject(doc) ? doc : NULL;
		if (!opt->quiet && record_write_marked(rejects, line, obj, &err) < 0)
			write_failed();
	}
	cJSON_Delete(doc);
}

static int validate_stream(int fd, const char *name, const jsonschema *schema,
                           const struct options *opt, FILE *out, FILE *rejects, struct counts *c)
{
	struct record_reader *reader = record_reader_new(fd, opt->max_line);
	struct record_line line;
	int rc, status = EX_OK;

	if (!reader)
		fatalx(EX_OSERR, "out of memory");
	while (!stop_requested) {
		/* Flush before a read that may block, so a record never waits in
		 * our buffer while we wait for the next one. */
		if (!record_reader_ready(reader) && fflush(out) == EOF)
			write_failed();
		rc = record_reader_next(reader, &line);
		if (rc == 0)
			break;
		if (rc < 0 && errno != EINTR) {
			log_warn("%s: read error", name);
			status = EX_IOERR;
			break;
		}
		if (report_due) {
			report_due = 0;
			if (fflush(out) == EOF)
				write_failed();
			report("periodic", c, opt);
		}
		if (rc < 0)
			continue; /* EINTR: the loop condition looks at the flag */
		if (record_line_blank(&line)) {
			c->blank++;
			continue;
		}
		c->records++;
		jsonarena_begin();
		process_record(&line, name, schema, opt, out, rejects, c);
		jsonarena_end();
	}
	record_reader_free(reader);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"schema", required_argument, NULL, 's'},
		{"rejects", required_argument, NULL, 'r'},
		{"quiet", no_argument, NULL, 'q'},
		{"values", no_argument, NULL, 'a'},
		{"max-line", required_argument, NULL, 'm'},
		{"remote", required_argument, NULL, 'R'},
		{"stats-interval", required_argument, NULL, 'S'},
		{"metrics-file", required_argument, NULL, 'M'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct options opt = {.max_line = RECORD_MAX_LINE_VALIDATE};
	struct counts counts = {0};
	char schema_buf[PATH_MAX + 64], errstr[1024];
	int ch, status = EX_OK;

	log_init(argv[0], false);
	while ((ch = getopt_long(argc, argv, "hqr:s:vV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			opt.values = true;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'm':
			opt.max_line = (size_t)cli_number("--max-line", optarg, 64, 256L * 1024 * 1024);
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
		case 'r':
			opt.rejects_path = optarg;
			break;
		case 'R': {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg || !eq[1])
				fatalx(EX_USAGE, "--remote: expected URI-PREFIX=DIR, got '%s'", optarg);
			*eq = '\0';
			opt.remote_prefix = optarg;
			opt.remote_dir = eq + 1;
			break;
		}
		case 's':
			opt.schema_path = optarg;
			break;
		case 'v':
			opt.verbose++;
			break;
		case 'V':
			printf("validate (event-processor) %s\n", EP_VERSION);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;

	/* Set-up: the schema is compiled once, before any input is read; the
	 * arena's hooks go in first, so the schema's own values are malloc'ed. */
	if (!jsonarena_install())
		fatalx(EX_OSERR, "out of memory");
	if (!opt.schema_path)
		opt.schema_path = cli_data_path(SCHEMA_NAME, schema_buf, sizeof(schema_buf));
	struct jsonschema_options schema_opt = {opt.remote_prefix, opt.remote_dir};
	jsonschema *schema = jsonschema_load(opt.schema_path, &schema_opt, errstr, sizeof(errstr));
	if (!schema)
		fatalx(EX_CONFIG, "%s", errstr);

	FILE *rejects = stdout;
	if (opt.rejects_path && !opt.quiet) {
		rejects = fopen(opt.rejects_path, "a");
		if (!rejects)
			fatal(EX_CANTCREAT, "%s", opt.rejects_path);
	}

	struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: reads see EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	start_s = cli_now_s();
	long interval = opt.stats_interval > 0 ? opt.stats_interval
	                : opt.metrics_path           ? METRICS_INTERVAL_DEFAULT
	                                             : 0;
	if (interval > 0) {
		/* SA_RESTART: a write to a slow pipe must not fail with EINTR
		 * (stdio would call that a write error); the price is that an idle
		 * input gives no periodic line until the next record. */
		struct sigaction alarm_sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
		sigemptyset(&alarm_sa.sa_mask);
		sigaction(SIGALRM, &alarm_sa, NULL);
		struct itimerval every = {{interval, 0}, {interval, 0}};
		setitimer(ITIMER_REAL, &every, NULL);
	}
	static char outbuf[1 << 16];
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));

	/* The loop: every input in turn, like cat. */
	if (argc == 0) {
		status = validate_stream(STDIN_FILENO, "stdin", schema, &opt, stdout, rejects, &counts);
	}
	for (int i = 0; i < argc && !stop_requested; i++) {
		bool is_stdin = strcmp(argv[i], "-") == 0;
		int fd = is_stdin ? STDIN_FILENO : open(argv[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			log_warn("%s", argv[i]);
			if (status == EX_OK)
				status = EX_NOINPUT;
			continue;
		}
		int rc = validate_stream(fd, is_stdin ? "stdin" : argv[i], schema, &opt, stdout, rejects,
		                         &counts);
		if (rc != EX_OK)
			status = rc;
		if (!is_stdin)
			close(fd);
	}

	/* Shutdown: a full disk or a closed pipe must not pass in silence. */
	if (rejects != stdout && fclose(rejects) == EOF)
		fatal(EX_IOERR, "%s", opt.rejects_path);
	if (fclose(stdout) == EOF)
		write_failed();
	if (opt.verbose)
		log_info("%lu records: %lu valid, %lu invalid, %lu already failed, %lu blank lines skipped",
		         counts.records, counts.valid, counts.invalid, counts.passed, counts.blank);
	setitimer(ITIMER_REAL, &(struct itimerval){{0, 0}, {0, 0}}, NULL);
	report("final", &counts, &opt);
	jsonschema_free(schema);
	jsonarena_uninstall();
	if (status == EX_OK && opt.quiet && counts.invalid > 0)
		status = EX_DATAERR;
	return status;
}
