/* The official JSON-Schema-Test-Suite, draft-07, against lib/jsonschema.c.
 *
 * Usage: test_jsonschema_suite [SUITE_DIR]
 * SUITE_DIR defaults to tests/data/json-schema-test-suite (from the repository
 * root, where "make check" runs). Prints TAP: one test point per file, with
 * "passed/total" in its description and each failing case as a "# "
 * diagnostic.
 *
 * The files tests/draft7/NAME.json are required: one failing case fails the file. Of
 * tests/draft7/optional/, the files about behaviour lib/jsonschema.c claims
 * (the formats it checks, ECMA-262 regexes, big and overflowing numbers,
 * "$id" placement) are required too, less the few cases listed below with
 * the reason they cannot pass; the other optional files are only counted.
 * Remote references to http://localhost:1234/ are read from SUITE_DIR/remotes.
 *
 * Every case is validated twice, with and without an error report, and the
 * two answers must agree; an invalid answer must come with a message; the
 * instance must be unchanged afterwards.
 *
 * The suite's files and their case counts are pinned (suite_files below): a
 * file that goes missing, cannot be read, holds another number of cases, or
 * is not in the list fails, so no case is dropped silently. Updating the
 * suite means updating the list. */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "jsonschema.h"
#include "record.h"

#define DEFAULT_DIR "tests/data/json-schema-test-suite"
#define REMOTE_PREFIX "http://localhost:1234/"

/* Optional files whose behaviour we claim: they must pass. */
static const char *const claimed[] = {
	"optional/bignum.json",
	"optional/ecmascript-regex.json",
	"optional/float-overflow.json",
	"optional/id.json",
	"optional/non-bmp-regex.json",
	"optional/unknownKeyword.json",
	"optional/format/date-time.json",
	"optional/format/date.json",
	"optional/format/ecmascript-regex.json",
	"optional/format/email.json",
	"optional/format/hostname.json",
	"optional/format/ipv4.json",
	"optional/format/ipv6.json",
	"optional/format/iri-reference.json",
	"optional/format/iri.json",
	"optional/format/json-pointer.json",
	"optional/format/regex.json",
	"optional/format/relative-json-pointer.json",
	"optional/format/time.json",
	"optional/format/unknown.json",
	"optional/format/uri-reference.json",
	"optional/format/uri.json",
};

/* Cases of claimed files that cannot pass, and why. */
static const struct {
	const char *file, *test, *why;
} known[] = {
	/* none: U+0000 in strings is kept (record_parse_text), so the "nul
	 * characters in strings" cases of enum, const, ipv4 and date pass */
	{NULL, NULL, NULL},
};

/* The draft-07 files of the suite (as vendored) and the cases in each:
 * 64 files, 1721 cases. */
static const struct {
	const char *file;
	int cases;
} suite_files[] = {
	{"additionalItems.json", 19},
	{"additionalProperties.json", 16},
	{"allOf.json", 30},
	{"anyOf.json", 18},
	{"boolean_schema.json", 18},
	{"const.json", 54},
	{"contains.json", 21},
	{"default.json", 7},
	{"definitions.json", 2},
	{"dependencies.json", 36},
	{"enum.json", 45},
	{"exclusiveMaximum.json", 4},
	{"exclusiveMinimum.json", 4},
	{"format.json", 102},
	{"if-then-else.json", 30},
	{"infinite-loop-detection.json", 2},
	{"items.json", 28},
	{"maxItems.json", 6},
	{"maxLength.json", 7},
	{"maxProperties.json", 10},
	{"maximum.json", 8},
	{"minItems.json", 6},
	{"minLength.json", 7},
	{"minProperties.json", 10},
	{"minimum.json", 11},
	{"multipleOf.json", 11},
	{"not.json", 38},
	{"oneOf.json", 27},
	{"pattern.json", 9},
	{"patternProperties.json", 23},
	{"properties.json", 28},
	{"propertyNames.json", 22},
	{"ref.json", 78},
	{"refRemote.json", 23},
	{"required.json", 18},
	{"type.json", 80},
	{"uniqueItems.json", 69},
	{"optional/bignum.json", 9},
	{"optional/content.json", 10},
	{"optional/cross-draft.json", 2},
	{"optional/ecmascript-regex.json", 74},
	{"optional/float-overflow.json", 1},
	{"optional/id.json", 7},
	{"optional/non-bmp-regex.json", 12},
	{"optional/unknownKeyword.json", 3},
	{"optional/format/date-time.json", 33},
	{"optional/format/date.json", 81},
	{"optional/format/ecmascript-regex.json", 12},
	{"optional/format/email.json", 20},
	{"optional/format/hostname.json", 64},
	{"optional/format/idn-email.json", 18},
	{"optional/format/idn-hostname.json", 89},
	{"optional/format/ipv4.json", 41},
	{"optional/format/ipv6.json", 42},
	{"optional/format/iri-reference.json", 13},
	{"optional/format/iri.json", 24},
	{"optional/format/json-pointer.json", 40},
	{"optional/format/regex.json", 8},
	{"optional/format/relative-json-pointer.json", 25},
	{"optional/format/time.json", 47},
	{"optional/format/unknown.json", 7},
	{"optional/format/uri-reference.json", 28},
	{"optional/format/uri-template.json", 38},
	{"optional/format/uri.json", 46},
};
#define SUITE_NFILES (sizeof(suite_files) / sizeof(suite_files[0]))
#define SUITE_NCASES 1721

struct counts {
	int passed, total, known;
};

static int tap_number;
static bool any_failed;
static int cases_seen;

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else if (buf) {
			buf[n] = '\0';
		}
	}
	fclose(f);
	return buf;
}

static bool is_claimed(const char *rel)
{
	if (strncmp(rel, "optional/", 9) != 0)
		return true;
	for (size_t i = 0; i < sizeof(claimed) / sizeof(claimed[0]); i++)
		if (strcmp(rel, claimed[i]) == 0)
			return true;
	return false;
}

static const char *known_reason(const char *rel, const char *test)
{
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (known[i].file && strcmp(rel, known[i].file) == 0 && strcmp(test, known[i].test) == 0)
			return known[i].why;
	return NULL;
}

/* Runs one case; NULL when it passed, else why not (in buf). */
static const char *run_case(const jsonschema *s, const cJSON *data, bool expect, char *buf,
                            size_t size)
{
	struct jsonschema_error err;
	char *before = cJSON_PrintUnformatted(data);
	bool quick = jsonschema_validate(s, data, NULL);

	memset(&err, 0, sizeof(err));
	bool full = jsonschema_validate(s, data, &err);
	char *after = cJSON_PrintUnformatted(data);
	const char *why = NULL;

	if (quick != full) {
		snprintf(buf, size, "the answer depends on asking for an error report (%d, %d)", quick,
		         full);
		why = buf;
	} else if (!full && (!err.message[0] || !err.keyword[0])) {
		snprintf(buf, size, "invalid without a message or keyword");
		why = buf;
	} else if (!before || !after || strcmp(before, after) != 0) {
		snprintf(buf, size, "the instance was modified");
		why = buf;
	} else if (full != expect) {
		snprintf(buf, size, "expected %s, got %s%s%s", expect ? "valid" : "invalid",
		         full ? "valid" : "invalid", full ? "" : ": ", full ? "" : err.message);
		why = buf;
	}
	free(before);
	free(after);
	return why;
}

static void run_file(const char *dir, const char *rel, const struct jsonschema_options *opt)
{
	char path[4096], buf[1024];
	struct counts n = {0, 0, 0};
	bool required = is_claimed(rel);
	char *text, *diag = NULL;
	size_t diag_len = 0;
	cJSON *doc, *group;

	snprintf(path, sizeof(path), "%s/tests/draft7/%s", dir, rel);
	text = read_file(path);
	/* the suite's files hold strings with U+0000: parsed the way validate
	 * --values parses instances and schemas, so those compare whole */
	size_t err_at;
	char perr[256];
	doc = text ? record_parse_text(text, strlen(text), &err_at, perr, sizeof(perr)) : NULL;
	free(text);
	if (!cJSON_IsArray(doc)) {
		printf("not ok %d - %s: cannot read or parse %s\n", ++tap_number, rel, path);
		any_failed = true;
		cJSON_Delete(doc);
		return;
	}
	cJSON_ArrayForEach(group, doc) {
		const cJSON *schema = cJSON_GetObjectItemCaseSensitive(group, "schema");
		const cJSON *gdesc = cJSON_GetObjectItemCaseSensitive(group, "description");
		const cJSON *tests = cJSON_GetObjectItemCaseSensitive(group, "tests"), *t;
		char errstr[512];
		jsonschema *s = jsonschema_compile(schema, NULL, opt, errstr, sizeof(errstr));

		cJSON_ArrayForEach(t, tests) {
			const cJSON *tdesc = cJSON_GetObjectItemCaseSensitive(t, "description");
			const cJSON *data = cJSON_GetObjectItemCaseSensitive(t, "data");
			bool expect = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "valid"));
			const char *why = NULL, *tname = cJSON_GetStringValue(tdesc);
			char line[2048];

			n.total++;
			if (!s) {
				snprintf(buf, sizeof(buf), "the schema did not compile: %s", errstr);
				why = buf;
			} else {
				why = run_case(s, data, expect, buf, sizeof(buf));
			}
			if (!why) {
				n.passed++;
				continue;
			}
			const char *reason = tname ? known_reason(rel, tname) : NULL;
			if (reason)
				n.known++;
			snprintf(line, sizeof(line), "# %s%s / %s: %s%s%s\n", reason ? "known failure: " : "",
			         cJSON_GetStringValue(gdesc), tname, why, reason ? " -- " : "",
			         reason ? reason : "");
			size_t ll = strlen(line);
			char *d2 = realloc(diag, diag_len + ll + 1);
			if (d2) {
				diag = d2;
				memcpy(diag + diag_len, line, ll + 1);
				diag_len += ll;
			}
		}
		jsonschema_free(s);
	}
	cJSON_Delete(doc);

	bool ok = !required || n.passed + n.known == n.total;
	int pinned = -1;
	for (size_t i = 0; i < SUITE_NFILES; i++)
		if (strcmp(suite_files[i].file, rel) == 0)
			pinned = suite_files[i].cases;
	cases_seen += n.total;
	if (pinned != n.total) {
		ok = false;
		snprintf(buf, sizeof(buf), "# %d cases, %s %d\n", n.total,
		         pinned < 0 ? "and the file is not in suite_files: add it, with" : "suite_files says",
		         pinned < 0 ? n.total : pinned);
		size_t ll = strlen(buf);
		char *d2 = realloc(diag, diag_len + ll + 1);
		if (d2) {
			diag = d2;
			memcpy(diag + diag_len, buf, ll + 1);
			diag_len += ll;
		}
	}
	if (!ok)
		any_failed = true;
	printf("%s %d - %s: %d/%d passed", ok ? "ok" : "not ok", ++tap_number, rel, n.passed, n.total);
	if (n.known)
		printf(" (%d known failure%s)", n.known, n.known == 1 ? "" : "s");
	if (!required)
		printf(" (optional, not claimed)");
	printf("\n");
	if (diag)
		fputs(diag, stdout);
	free(diag);
}

static int only_json(const struct dirent *e)
{
	size_t n = strlen(e->d_name);
	return n > 5 && strcmp(e->d_name + n - 5, ".json") == 0;
}

/* The .json files of dir/tests/draft7/sub, sorted, as paths relative to
 * tests/draft7; appended to *list. */
static void list_files(const char *dir, const char *sub, char ***list, size_t *n)
{
	char path[4096];
	struct dirent **ents;
	int k;

	snprintf(path, sizeof(path), "%s/tests/draft7%s%s", dir, *sub ? "/" : "", sub);
	k = scandir(path, &ents, only_json, alphasort);
	if (k < 0)
		return;
	for (int i = 0; i < k; i++) {
		char **l2 = realloc(*list, (*n + 1) * sizeof(**list));
		size_t len = strlen(sub) + strlen(ents[i]->d_name) + 2;
		char *name = malloc(len);
		if (l2 && name) {
			snprintf(name, len, "%s%s%s", sub, *sub ? "/" : "", ents[i]->d_name);
			*list = l2;
			(*list)[(*n)++] = name;
		} else {
			free(name);
			if (l2)
				*list = l2;
		}
		free(ents[i]);
	}
	free(ents);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : DEFAULT_DIR;
	char remotes[4096];
	char **files = NULL;
	size_t nfiles = 0;

	snprintf(remotes, sizeof(remotes), "%s/remotes", dir);
	struct jsonschema_options opt = {REMOTE_PREFIX, remotes};

	list_files(dir, "", &files, &nfiles);
	list_files(dir, "optional", &files, &nfiles);
	list_files(dir, "optional/format", &files, &nfiles);
	if (nfiles == 0) {
		printf("1..0 # SKIP no test files under %s/tests/draft7\n", dir);
		printf("Bail out! the JSON-Schema-Test-Suite was not found at %s\n", dir);
		return 1;
	}
	/* one test point per file found, one for each pinned file not found,
	 * and one for the total */
	size_t missing = 0;
	for (size_t i = 0; i < SUITE_NFILES; i++) {
		bool found = false;
		for (size_t j = 0; j < nfiles && !found; j++)
			found = strcmp(files[j], suite_files[i].file) == 0;
		missing += !found;
	}
	printf("1..%zu\n", nfiles + missing + 1);
	for (size_t i = 0; i < nfiles; i++)
		run_file(dir, files[i], &opt);
	for (size_t i = 0; i < SUITE_NFILES; i++) {
		bool found = false;
		for (size_t j = 0; j < nfiles && !found; j++)
			found = strcmp(files[j], suite_files[i].file) == 0;
		if (!found) {
			printf("not ok %d - %s: missing (%d cases pinned)\n", ++tap_number, suite_files[i].file,
			       suite_files[i].cases);
			any_failed = true;
		}
	}
	bool all = nfiles == SUITE_NFILES && missing == 0 && cases_seen == SUITE_NCASES;
	any_failed |= !all;
	printf("%s %d - the suite: %zu files (pinned %zu), %d cases (pinned %d)\n", all ? "ok" : "not ok",
	       ++tap_number, nfiles, SUITE_NFILES, cases_seen, SUITE_NCASES);
	for (size_t i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	return any_failed ? 1 : 0;
}
