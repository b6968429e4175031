/*
 * gen-events — writes seed-like events as NDJSON to stdout, for tests, the
 * demo and benchmarks (the seed's data/file_generator.go, in C).
 *
 * Each line is one event with the seed's five keys in the seed's order:
 *   {"uid":…,"context":…,"event_type":…,"client":…,"created_at":…}
 * uids have the shape of a UUID v4 and are unique within a run (the low 62
 * bits are a bijection of the line number, keyed by the seed); everything
 * else is drawn from a PRNG seeded by --seed, so the same options always
 * give the same bytes. Times are RFC 3339 like the seed's sample
 * "2024-09-10T04:17:09.0247241-03:00": 0 to 9 fractional digits, "Z" or a
 * ±hh:mm offset, the local time matching the offset.
 *
 * With --invalid PCT about PCT% of the lines are broken on purpose, in the
 * kinds of the table below, taken in turn (the k-th broken line is of kind
 * k mod 9, and each kind rotates through its variants), so any run of 9 or
 * more broken lines has every kind. With --broken-list FILE it also says
 * which lines it broke and how, one "LINE KIND FIELD" line each (LINE
 * counted from 1; KIND one of the names in kind_names; FIELD the member
 * the kind changed or left out, "-" when the line is not an object), so
 * tests can check a validator against what was done, not against itself.
 *
 * Reads nothing. Writes only events to stdout (and the list to FILE);
 * diagnostics to stderr.
 * Exit: 0 ok, 64 usage, 73 the list could not be created, 74 stdout (or
 * the list) could not be written (a closed pipe too).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "log.h"

/* The values the seed's README lists (UTF-8). */
static const char *const contexts[] = {"monitoramento", "aplicação de usuários",
                                       "autorizador de transações", "integrações"};
static const char *const event_types[] = {"INSERT", "UPDATE", "DELETE"};
static const char *const clients[] = {"Client_A", "Client_B", "Client_C", "Client_D"};

/* Offsets in minutes east of UTC, weighted towards the seed's -03:00. The
 * INT_MIN entry is written as "Z"; 0 is written as "+00:00". */
static const int offsets[] = {-180, -180, -180, -180, -180, -180, -180, -180, -180, INT_MIN,
                              INT_MIN, INT_MIN, INT_MIN, 0, -300, 60, 330, 345, 540, -210};

/* Fractional digits, weighted towards the seed's 7. */
static const int frac_digits[] = {7, 7, 7, 7, 7, 7, 7, 0, 0, 1, 2, 3, 3, 4, 5, 6, 6, 8, 9, 9};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The broken kinds, in the order they are used. */
enum kind {
	K_CLIENT,
	K_EVENT_TYPE,
	K_CONTEXT,
	K_MISSING,
	K_DATE,
	K_NOT_JSON,
	K_WRONG_TYPE,
	K_TRUNCATED,
	K_NOT_OBJECT,
	NKINDS
};

static const char *const bad_clients[] = {"\"Client_Z\"", "\"client_a\"", "\"Client_E\"", "\"\""};
static const char *const bad_types[] = {"\"UPSERT\"", "\"insert\"", "\"PATCH\""};
static const char *const bad_contexts[] = {"\"marketing\"", "\"Monitoramento\"", "\"aplicacao de usuarios\""};
static const char *const bad_dates[] = {
	"\"2024-13-10T04:17:09.0247241-03:00\"", /* month 13 */
	"\"2024-09-10T25:17:09Z\"",             /* hour 25 */
	"\"2024-09-10T04:17:09\"",              /* no offset */
	"\"2024-09-10\"",                       /* a date only */
	"\"10/09/2024 04:17:09\"",              /* not RFC 3339 at all */
	"\"\"",                                 /* empty */
	"\"2024-09-10T04:17:09.-03:00\"",       /* a dot without digits */
};
/* wrong types: field index and the value written instead of a string */
static const struct {
	int field;
	const char *json;
} wrong_types[] = {
	{0, "12345"},
	{3, "null"},
	{4, "1725952629"},
	{2, "[\"INSERT\"]"},
	{1, "{\"name\":\"monitoramento\"}"},
	{3, "true"},
};
static const char *const not_json[] = {
	"hello, this is not JSON",
	"uid=3f1c0e2a;client=Client_A;event_type=INSERT",
	"{uid: 'not-json', client: 'Client_A'}",
	"<event client=\"Client_B\" type=\"UPDATE\"/>",
	"{\"uid\":\"x\",\"client\":\"Client_C\",}",
};
static const char *const not_object[] = {
	"[\"monitoramento\",\"INSERT\",\"Client_A\"]",
	"\"just a string\"",
	"42",
	"null",
};
/* The names --broken-list writes, in enum kind order. */
static const char *const kind_names[NKINDS] = {
	"client",   "event_type", "context",   "missing",    "date",
	"not_json", "wrong_type", "truncated", "not_object",
};
static const unsigned nvariants[NKINDS] = {
	NELEM(bad_clients), NELEM(bad_types), NELEM(bad_contexts), 5, NELEM(bad_dates),
	NELEM(not_json),    NELEM(wrong_types), 1,                  NELEM(not_object),
};

static const char *const field_names[] = {"uid", "context", "event_type", "client", "created_at"};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: gen-events [-n count] [--invalid PCT] [--seed S] [--broken-list FILE]\n"
	        "\n"
	        "Writes COUNT seed-like events to stdout, one JSON object a line:\n"
	        "  {\"uid\",\"context\",\"event_type\",\"client\",\"created_at\"}\n"
	        "over the four contexts, three event types and four clients of the seed,\n"
	        "with unique UUID v4-shaped uids and RFC 3339 times (0 to 9 fractional\n"
	        "digits, Z or a +/-hh:mm offset). The same options give the same output.\n"
	        "\n"
	        "  -n, --count N      events to write, 0 to 10^12 (default 10)\n"
	        "  -i, --invalid PCT  break about PCT%% of the lines on purpose, 0 to 100\n"
	        "                     (default 0)\n"
	        "  -s, --seed S       seed of the generator, 0 to 2^63-1 (default 1); other\n"
	        "                     seeds give other uids, so runs can share a table\n"
	        "  -b, --broken-list FILE\n"
	        "                     also write to FILE which lines were broken and how,\n"
	        "                     one \"LINE KIND FIELD\" line each (LINE from 1; KIND\n"
	        "                     client, event_type, context, missing, date,\n"
	        "                     not_json, wrong_type, truncated or not_object; FIELD\n"
	        "                     the member changed or left out, - for the last three\n"
	        "                     and not_json)\n"
	        "  -h, --help         this text\n"
	        "  -V, --version      print the version\n"
	        "\n"
	        "Broken lines, taken in this order in turn (the k-th broken line is of kind\n"
	        "k mod 9; each kind cycles through its variants):\n"
	        "  1 unknown client   client \"Client_Z\", \"client_a\", \"Client_E\" or \"\"\n"
	        "  2 bad event_type   \"UPSERT\", \"insert\" or \"PATCH\"\n"
	        "  3 bad context      \"marketing\", \"Monitoramento\", \"aplicacao de usuarios\"\n"
	        "  4 missing field    one of the five keys left out (each in turn)\n"
	        "  5 bad date         created_at with month 13, hour 25, no offset, a date\n"
	        "                     only, \"10/09/2024 04:17:09\", \"\", or a bare dot\n"
	        "  6 not JSON         plain text, key=value, JavaScript-style, XML, a\n"
	        "                     trailing comma\n"
	        "  7 wrong type       uid 12345, client null, created_at a number,\n"
	        "                     event_type an array, context an object, client true\n"
	        "  8 truncated        a valid event cut off part-way (at a UTF-8 boundary)\n"
	        "  9 not an object    a JSON array, string, number or null\n"
	        "Every line is valid UTF-8 and ends in a newline.\n"
	        "\n"
	        "Exit: 0 ok, 64 usage, 73 FILE could not be created, 74 stdout or FILE could\n"
	        "not be written (a closed pipe too).\n");
}

static long long parse_range(const char *opt, const char *s, long long lo, long long hi)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || end == s || *end || n < lo || n > hi)
		fatalx(EX_USAGE, "%s: '%s' is not a whole number from %lld to %lld", opt, s, lo, hi);
	return n;
}

/* --- randomness: xoshiro256**, seeded through splitmix64 ------------------ */

static uint64_t rng_s[4];

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(void)
{
	uint64_t r = rotl(rng_s[1] * 5, 7) * 9, t = rng_s[1] << 17;

	rng_s[2] ^= rng_s[0];
	rng_s[3] ^= rng_s[1];
	rng_s[1] ^= rng_s[2];
	rng_s[0] ^= rng_s[3];
	rng_s[2] ^= t;
	rng_s[3] = rotl(rng_s[3], 45);
	return r;
}

/* A number below n (n small: the bias of the modulo is negligible). */
static inline unsigned rng_below(unsigned n)
{
	return (unsigned)((rng_next() >> 32) * n >> 32);
}

/* A permutation of [0, 2^62) keyed by k: every step (add, multiply by an
 * odd number, xor with a right shift) is invertible modulo 2^62, so
 * distinct line numbers give distinct uids. */
#define MASK62 ((UINT64_C(1) << 62) - 1)
static uint64_t permute62(uint64_t x, uint64_t k)
{
	x = (x + k) & MASK62;
	x = (x * 0xd6e8feb86659fd93u) & MASK62;
	x ^= x >> 29;
	x = (x * 0xbf58476d1ce4e5b9u) & MASK62;
	x ^= x >> 31;
	x = (x + (k >> 13)) & MASK62;
	x = (x * 0x94d049bb133111ebu) & MASK62;
	x ^= x >> 27;
	return x;
}

/* --- formatting ------------------------------------------------------------ */

static const char hexdigits[] = "0123456789abcdef";

static inline char *put_hex(char *p, uint64_t v, int ndigits)
{
	for (int i = ndigits - 1; i >= 0; i--)
		p[i] = hexdigits[v & 15], v >>= 4;
	return p + ndigits;
}

static inline char *put_dec(char *p, unsigned v, int ndigits)
{
	for (int i = ndigits - 1; i >= 0; i--)
		p[i] = (char)('0' + v % 10), v /= 10;
	return p + ndigits;
}

static inline char *put_str(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

/* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" with its quotes: 38 bytes. */
static char *put_uid(char *p, uint64_t hi, uint64_t lo62)
{
	*p++ = '"';
	p = put_hex(p, hi >> 32, 8);
	*p++ = '-';
	p = put_hex(p, hi >> 16, 4);
	*p++ = '-';
	*p++ = '4';
	p = put_hex(p, hi, 3);
	*p++ = '-';
	*p++ = hexdigits[8 | (lo62 >> 60)]; /* variant 10xx */
	p = put_hex(p, lo62 >> 48, 3);
	*p++ = '-';
	p = put_hex(p, lo62, 12);
	*p++ = '"';
	return p;
}

/* Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm). */
static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)((int64_t)yoe + era * 400 + (*m <= 2));
}

/* An RFC 3339 date-time with its quotes, for the instant secs.nanos UTC,
 * shown at offset off (minutes; INT_MIN = "Z") with ndig fractional digits. */
static char *put_time(char *p, int64_t secs, unsigned nanos, int off, int ndig)
{
	int64_t local = secs + (off == INT_MIN ? 0 : off * 60);
	int64_t days = local / 86400, sod = local % 86400;
	int y;
	unsigned m, d;

	civil_from_days(days, &y, &m, &d);
	*p++ = '"';
	p = put_dec(p, (unsigned)y, 4);
	*p++ = '-';
	p = put_dec(p, m, 2);
	*p++ = '-';
	p = put_dec(p, d, 2);
	*p++ = 'T';
	p = put_dec(p, (unsigned)(sod / 3600), 2);
	*p++ = ':';
	p = put_dec(p, (unsigned)(sod / 60 % 60), 2);
	*p++ = ':';
	p = put_dec(p, (unsigned)(sod % 60), 2);
	if (ndig > 0) {
		unsigned frac = nanos;
		for (int i = ndig; i < 9; i++)
			frac /= 10;
		*p++ = '.';
		p = put_dec(p, frac, ndig);
	}
	if (off == INT_MIN) {
		*p++ = 'Z';
	} else {
		int a = off < 0 ? -off : off;
		*p++ = off < 0 ? '-' : '+';
		p = put_dec(p, (unsigned)(a / 60), 2);
		*p++ = ':';
		p = put_dec(p, (unsigned)(a % 60), 2);
	}
	*p++ = '"';
	return p;
}

/* --- output ----------------------------------------------------------------- */

#define OUTBUF (1u << 20)
#define MAXLINE 512 /* far above the longest line written */

static char outbuf[OUTBUF];
static size_t outlen;

static void flush_out(void)
{
	size_t off = 0;

	while (off < outlen) {
		ssize_t n = write(STDOUT_FILENO, outbuf + off, outlen - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fatal(EX_IOERR, "stdout");
		}
		off += (size_t)n;
	}
	outlen = 0;
}

/* One event's fields as JSON text (values with their quotes). */
struct event {
	char uid[40];
	char time[48];
	const char *val[5];
	size_t len[5];
};

static char *put_object(char *p, const struct event *ev, int skip)
{
	int first = 1;

	*p++ = '{';
	for (int f = 0; f < 5; f++) {
		if (f == skip)
			continue;
		if (!first)
			*p++ = ',';
		first = 0;
		*p++ = '"';
		p = put_str(p, field_names[f], strlen(field_names[f]));
		*p++ = '"';
		*p++ = ':';
		p = put_str(p, ev->val[f], ev->len[f]);
	}
	*p++ = '}';
	return p;
}

/* Writes the broken line of kind k, variant v, built from ev, at p. */
static char *put_broken(char *p, struct event *ev, enum kind k, unsigned v)
{
	char *start = p;
	int skip = -1;

	switch (k) {
	case K_CLIENT:
		ev->val[3] = bad_clients[v], ev->len[3] = strlen(bad_clients[v]);
		break;
	case K_EVENT_TYPE:
		ev->val[2] = bad_types[v], ev->len[2] = strlen(bad_types[v]);
		break;
	case K_CONTEXT:
		ev->val[1] = bad_contexts[v], ev->len[1] = strlen(bad_contexts[v]);
		break;
	case K_MISSING:
		skip = (int)v;
		break;
	case K_DATE:
		ev->val[4] = bad_dates[v], ev->len[4] = strlen(bad_dates[v]);
		break;
	case K_WRONG_TYPE: {
		int f = wrong_types[v].field;
		ev->val[f] = wrong_types[v].json, ev->len[f] = strlen(wrong_types[v].json);
		break;
	}
	case K_NOT_JSON:
		return put_str(p, not_json[v], strlen(not_json[v]));
	case K_NOT_OBJECT:
		return put_str(p, not_object[v], strlen(not_object[v]));
	case K_TRUNCATED: {
		p = put_object(p, ev, -1);
		size_t len = (size_t)(p - start), cut = 10 + rng_below((unsigned)(len - 12));
		while ((start[cut] & 0xC0) == 0x80) /* never split a UTF-8 character */
			cut--;
		return start + cut;
	}
	case NKINDS:
		break;
	}
	return put_object(p, ev, skip);
}

/* The member a broken line of kind k, variant v changed or left out; "-"
 * when the line is not an object with the five members. */
static const char *broken_field(enum kind k, unsigned v)
{
	switch (k) {
	case K_CLIENT:
		return "client";
	case K_EVENT_TYPE:
		return "event_type";
	case K_CONTEXT:
		return "context";
	case K_MISSING:
		return field_names[v];
	case K_DATE:
		return "created_at";
	case K_WRONG_TYPE:
		return field_names[wrong_types[v].field];
	case K_NOT_JSON:
	case K_TRUNCATED:
	case K_NOT_OBJECT:
	case NKINDS:
		break;
	}
	return "-";
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"count", required_argument, NULL, 'n'},
		{"invalid", required_argument, NULL, 'i'},
		{"seed", required_argument, NULL, 's'},
		{"broken-list", required_argument, NULL, 'b'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	long long count = 10, invalid_pct = 0, seed = 1;
	size_t ctx_len[NELEM(contexts)], type_len[NELEM(event_types)], client_len[NELEM(clients)];
	char quoted[NELEM(contexts) + NELEM(event_types) + NELEM(clients)][64];
	const char *ctx_q[NELEM(contexts)], *type_q[NELEM(event_types)], *client_q[NELEM(clients)];
	const char *list_path = NULL;
	FILE *list = NULL;
	int ch;

	log_init(argv[0], false);
	while ((ch = getopt_long(argc, argv, "b:hi:n:s:V", longopts, NULL)) != -1) {
		switch (ch) {
		case 'b':
			list_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'i':
			invalid_pct = parse_range("--invalid", optarg, 0, 100);
			break;
		case 'n':
			count = parse_range("--count", optarg, 0, 1000000000000LL);
			break;
		case 's':
			seed = parse_range("--seed", optarg, 0, LLONG_MAX);
			break;
		case 'V':
			printf("gen-events (event-processor) %s\n", EP_VERSION);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		log_warnx("unexpected argument '%s'", argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}
	signal(SIGPIPE, SIG_IGN); /* a closed pipe is EPIPE: exit 74 */
	if (list_path && !(list = fopen(list_path, "w")))
		fatal(EX_CANTCREAT, "%s", list_path);

	/* The values with their quotes, once. */
	size_t q = 0;
#define QUOTE(arr, out, lens)                                                                \
	for (size_t i = 0; i < NELEM(arr); i++, q++) {                                       \
		lens[i] = (size_t)snprintf(quoted[q], sizeof(quoted[q]), "\"%s\"", arr[i]); \
		out[i] = quoted[q];                                                          \
	}
	QUOTE(contexts, ctx_q, ctx_len)
	QUOTE(event_types, type_q, type_len)
	QUOTE(clients, client_q, client_len)
#undef QUOTE

	uint64_t sm = (uint64_t)seed;
	for (int i = 0; i < 4; i++)
		rng_s[i] = splitmix64(&sm);
	uint64_t uid_key = splitmix64(&sm);

	/* Times start at 2024-09-10T00:00:00Z (the seed's sample day) plus up
	 * to a day chosen by the seed, and advance about 37 ms an event with a
	 * jitter of up to a minute, so they are near each other but unordered. */
	const int64_t base_ms = INT64_C(1725926400000) + (int64_t)(splitmix64(&sm) % 86400000u);
	const uint64_t threshold = (uint64_t)invalid_pct * 100; /* out of 10,000 */
	uint64_t nbroken = 0;
	struct event ev;

	for (long long n = 0; n < count; n++) {
		uint64_t r = rng_next();
		unsigned ci = rng_below(NELEM(contexts)), ti = rng_below(NELEM(event_types)),
		         li = rng_below(NELEM(clients));
		put_uid(ev.uid, r, permute62((uint64_t)n, uid_key));
		ev.val[0] = ev.uid, ev.len[0] = 38;

		uint64_t r2 = rng_next();
		int64_t ms = base_ms + n * 37 + (int64_t)(r2 % 60000);
		unsigned nanos = (unsigned)(ms % 1000) * 1000000u + (unsigned)((r2 >> 20) % 1000000);
		int off = offsets[(r2 >> 44) % NELEM(offsets)];
		int ndig = frac_digits[(r2 >> 52) % NELEM(frac_digits)];
		ev.val[4] = ev.time;
		ev.len[4] = (size_t)(put_time(ev.time, ms / 1000, nanos, off, ndig) - ev.time);

		ev.val[1] = ctx_q[ci], ev.len[1] = ctx_len[ci];
		ev.val[2] = type_q[ti], ev.len[2] = type_len[ti];
		ev.val[3] = client_q[li], ev.len[3] = client_len[li];

		if (outlen + MAXLINE > OUTBUF)
			flush_out();
		char *p = outbuf + outlen;
		if (threshold && (rng_next() >> 32) % 10000 < threshold) {
			enum kind k = (enum kind)(nbroken % NKINDS);
			unsigned v = (unsigned)(nbroken / NKINDS % nvariants[k]);
			struct event broken = ev; /* the kind changes its copy */
			p = put_broken(p, &broken, k, v);
			nbroken++;
			if (list && fprintf(list, "%lld %s %s\n", n + 1, kind_names[k],
			                    broken_field(k, v)) < 0)
				fatal(EX_IOERR, "%s", list_path);
		} else {
			p = put_object(p, &ev, -1);
		}
		*p++ = '\n';
		outlen = (size_t)(p - outbuf);
	}
	flush_out();
	if (list && fclose(list) == EOF)
		fatal(EX_IOERR, "%s", list_path);
	if (fclose(stdout) == EOF)
		fatal(EX_IOERR, "stdout");
	return EX_OK;
}
