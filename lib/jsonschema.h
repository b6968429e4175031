/* JSON Schema draft-07 validation: compile a schema once, validate many
 * instances against it.
 *
 * All of draft-07's validation keywords are supported, with "$ref" (JSON
 * pointers, "$id" base-URI changes and plain-name fragments), the draft-07
 * meta-schema built in, remote references read from local files only, and
 * the formats listed in jsonschema_format.h. Patterns are ECMA-262, run on
 * PCRE2 (jsonschema_regex.h).
 *
 * A compiled schema is read-only except for scratch memory used to match
 * regexes: several threads must not validate with the same compiled schema
 * at the same time (compile one per thread). */
#ifndef EP_JSONSCHEMA_H
#define EP_JSONSCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

typedef struct jsonschema jsonschema;

struct jsonschema_options {
	/* Remote $refs whose URI starts with remote_prefix are read from files
	 * under remote_dir (the rest of the URI is the relative path). Never the
	 * network. Both may be NULL. */
	const char *remote_prefix;
	const char *remote_dir;
};

/* How deeply schema evaluation may nest while looking at one instance value
 * (a "$ref" or "allOf" chain that consumes no instance depth), and in all.
 * Beyond either, validation fails with keyword "$ref" instead of recursing
 * without end. cJSON refuses documents nested deeper than 1000, so the total
 * leaves room for a few schema levels per instance level. */
#define JSONSCHEMA_MAX_DEPTH_PER_VALUE 256
#define JSONSCHEMA_MAX_DEPTH 4096

/* Compiles schema (borrowed: nothing in the result points into it after
 * return). base_uri, the schema's retrieval URI, may be NULL. Returns NULL and
 * fills errstr on a broken schema (a keyword of the wrong type, a bad regex,
 * an unresolvable or cyclic $ref, ...). Caller frees with jsonschema_free(). */
jsonschema *jsonschema_compile(const cJSON *schema, const char *base_uri,
                               const struct jsonschema_options *opt, char *errstr,
                               size_t errstr_size);

/* Reads and compiles a schema file; its base URI is the file's file:// URI.
 * Errors name the file (and the line and column of a JSON syntax error).
 * Caller frees with jsonschema_free(). */
jsonschema *jsonschema_load(const char *path, const struct jsonschema_options *opt,
                            char *errstr, size_t errstr_size);

/* Frees a compiled schema; NULL is fine. */
void jsonschema_free(jsonschema *s);

struct jsonschema_error {
	char pointer[256]; /* JSON pointer of the failing instance value, "" for the whole document */
	char keyword[32];  /* the failing keyword, e.g. "enum", "required", "format" */
	char message[512]; /* a sentence a person understands, starting with the pointer */
};

/* True when instance is valid. On false, fills *err (if err != NULL) with the
 * first failure in evaluation order: for each schema "$ref" (which hides its
 * siblings), then type, enum, const, the keywords of the instance's type, then
 * allOf, anyOf, oneOf, not, if/then/else. Object keywords: required,
 * min/maxProperties, then each member in instance order (properties,
 * patternProperties, additionalProperties, propertyNames, dependencies).
 * Array keywords: min/maxItems, items and additionalItems in order, contains,
 * uniqueItems. Does not modify or keep the instance; allocates nothing. */
bool jsonschema_validate(const jsonschema *s, const cJSON *instance,
                         struct jsonschema_error *err);

#endif
