/* URI references for JSON Schema's "$id" and "$ref" (RFC 3986). */
#ifndef EP_JSONSCHEMA_URI_H
#define EP_JSONSCHEMA_URI_H

#include <stdbool.h>
#include <stddef.h>

/* Resolves ref against base (RFC 3986 section 5.2: merging paths and removing
 * "." and ".." segments) and lower-cases the scheme. base may be NULL or ""
 * when there is none: ref is then only cleaned up. Returns a new string, or
 * NULL when out of memory. Caller frees with free(). */
char *jsonschema_uri_resolve(const char *base, const char *ref);

/* Length of uri without its fragment (the part from '#' on). */
size_t jsonschema_uri_strip_fragment(const char *uri);

/* True when uri has a scheme (is absolute, possibly with a fragment). */
bool jsonschema_uri_has_scheme(const char *uri);

#endif
