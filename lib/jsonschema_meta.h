/* The draft-07 meta-schema, built in so that a "$ref" to
 * http://json-schema.org/draft-07/schema# works without the network. */
#ifndef EP_JSONSCHEMA_META_H
#define EP_JSONSCHEMA_META_H

/* Its identifier, without the empty fragment. */
#define JSONSCHEMA_META_DRAFT07_URI "http://json-schema.org/draft-07/schema"

/* The meta-schema as JSON text (NUL-terminated, static). */
extern const char jsonschema_meta_draft07[];

#endif
