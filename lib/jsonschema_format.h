/* JSON Schema draft-07 "format" checks on strings.
 *
 * Supported: date-time, date, time (RFC 3339), email (RFC 5321 mailbox,
 * ASCII), hostname (RFC 1123, with IDNA2008 checks on "xn--" labels), ipv4,
 * ipv6 (RFC 4291 text form, no zone), uri, uri-reference (RFC 3986), iri,
 * iri-reference (RFC 3987: the same grammar, non-ASCII characters allowed),
 * json-pointer (RFC 6901), relative-json-pointer and regex (ECMA-262).
 * Any other format name is an annotation only, as draft-07 allows: it is
 * not checked (idn-email, idn-hostname, uri-template). */
#ifndef EP_JSONSCHEMA_FORMAT_H
#define EP_JSONSCHEMA_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

enum jsonschema_format {
	JSONSCHEMA_FORMAT_NONE = 0, /* unknown format: never checked */
	JSONSCHEMA_FORMAT_DATE_TIME,
	JSONSCHEMA_FORMAT_DATE,
	JSONSCHEMA_FORMAT_TIME,
	JSONSCHEMA_FORMAT_EMAIL,
	JSONSCHEMA_FORMAT_HOSTNAME,
	JSONSCHEMA_FORMAT_IPV4,
	JSONSCHEMA_FORMAT_IPV6,
	JSONSCHEMA_FORMAT_URI,
	JSONSCHEMA_FORMAT_URI_REFERENCE,
	JSONSCHEMA_FORMAT_IRI,
	JSONSCHEMA_FORMAT_IRI_REFERENCE,
	JSONSCHEMA_FORMAT_JSON_POINTER,
	JSONSCHEMA_FORMAT_RELATIVE_JSON_POINTER,
	JSONSCHEMA_FORMAT_REGEX,
};

/* The format called name, or JSONSCHEMA_FORMAT_NONE when it is not one we
 * check. */
enum jsonschema_format jsonschema_format_lookup(const char *name);

/* What a valid value is, for messages: "date-time (RFC 3339)". Static. */
const char *jsonschema_format_describe(enum jsonschema_format f);

/* State some checks need (Unicode properties for IDNA labels, regex
 * scratch). Matching through it changes its scratch memory: use one per
 * thread. Returns NULL and fills errstr when out of memory. Caller frees
 * with jsonschema_formats_free() (NULL is fine). */
struct jsonschema_formats *jsonschema_formats_new(char *errstr, size_t errstr_size);
void jsonschema_formats_free(struct jsonschema_formats *f);

/* True when s[0..len) is valid for format id (always true for NONE).
 * Strings are checked whole: a trailing newline or NUL makes them invalid.
 * Allocates nothing; borrows everything. */
bool jsonschema_format_check(struct jsonschema_formats *f, enum jsonschema_format id,
                             const char *s, size_t len);

#endif
