/* JSON Schema draft-07: compile once, validate fast.
 *
 * Design notes
 *
 * Two phases. jsonschema_compile() turns the cJSON schema into a graph of
 * "struct node"s, one per schema object, holding everything validation needs
 * in ready form: type bitmasks, enum and const values copied into a compact
 * form with string lengths, compiled regexes, a hash table of the property
 * names an object schema mentions, resolved "$ref" targets. Nothing points
 * into the caller's cJSON afterwards; remote documents and the meta-schema
 * are parsed, compiled and freed during compilation. All of a compiled
 * schema lives in one arena (plus PCRE2's codes), so freeing it is cheap.
 *
 * Compilation itself has two steps. First every document is indexed: a walk
 * over the keywords that hold subschemas records the base URI in force at
 * each subschema and registers every "$id" (as a resource URI, or as a
 * "uri#name" plain-name fragment). "$id" is honoured only in schema
 * positions, never inside "enum", "const" or unknown keywords, and not next
 * to "$ref", whose siblings draft-07 ignores. Then subschemas are compiled;
 * a map from cJSON node to compiled node makes each subschema compiled once,
 * however many references lead to it, and makes recursion through "$ref"
 * terminate. References are queued and resolved after the tree that holds
 * them, so compiling never recurses along a chain of references; a cycle of
 * references that never reaches a real keyword ({"$ref": "#"}) is an error.
 *
 * Validation is one recursive function over nodes and instance values.
 * The error pointer is NULL while evaluating branches whose failure is not
 * final (anyOf, oneOf, not, if, contains), so a valid instance never formats
 * a message; messages are built only on the way out of a failure, from a
 * chain of path frames on the stack that gives the JSON pointer. Nothing is
 * allocated while validating; regex matching reuses the schema's scratch.
 * A depth counter bounds evaluation that consumes no instance depth (mutual
 * "allOf" references, for example): past the bound validation fails with
 * keyword "$ref" rather than exhausting the stack, and the failure is sticky
 * so that no "not" or "anyOf" above can turn it into a success.
 *
 * The hot path is an object with a handful of string members (an event):
 * about 2,000 instructions per event. Members are matched to "properties"
 * by trying next the entry after the previous match (producers write their
 * fields in a fixed order, usually the schema's), string enums are a hash
 * table probed once, and date-times are parsed by fixed positions. Byte
 * loops that stop where two strings first differ were measured to cost more
 * in branch mispredictions than strlen() and memcmp() do.
 *
 * Numbers are cJSON's doubles: integers beyond 2^53 lose precision, and
 * multipleOf divides and allows a few units of rounding error relative to
 * the quotient (0.0075 is a multiple of 0.0001), falling back to fmod()
 * when the quotient overflows. Strings are cJSON's NUL-terminated strings, so
 * a string with an escaped "\u0000" is seen up to that character only. */
#include "jsonschema.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "jsonschema_format.h"
#include "jsonschema_meta.h"
#include "jsonschema_regex.h"
#include "jsonschema_uri.h"
#include "record.h"
#include "utf8.h"

/* ==== compiled form ==== */

enum {
	T_NULL = 1,
	T_BOOLEAN = 2,
	T_OBJECT = 4,
	T_ARRAY = 8,
	T_NUMBER = 16,
	T_STRING = 32,
	T_INTEGER = 64, /* in a "type" mask only: numbers with no fraction */
};

static const char *const type_names[] = {"null",   "boolean", "object", "array",
                                         "number", "string",  "integer"};

/* A JSON value of "enum" or "const", with string lengths precomputed. */
enum { JV_NULL, JV_FALSE, JV_TRUE, JV_NUMBER, JV_STRING, JV_ARRAY, JV_OBJECT };

struct jval {
	int type;
	double num;
	const char *str;   /* JV_STRING */
	size_t len;        /* string bytes, or number of members/items */
	const char **keys; /* JV_OBJECT: member names */
	size_t *key_lens;
	struct jval *kids; /* JV_ARRAY items, JV_OBJECT member values */
};

struct node;

struct dep {
	const struct node *schema; /* the schema form, or NULL */
	const char **names;        /* the array form */
	size_t n;
};

/* A property name that "properties", "required" or "dependencies" mention. */
struct prop {
	const char *name;
	size_t len;
	uint32_t hash;
	const struct node *schema; /* from "properties", or NULL */
	int req_bit;               /* bit in the required mask, or -1 */
	const struct dep *dep;     /* from "dependencies", or NULL */
};

struct patprop {
	struct jsonschema_regex *re;
	const char *src;
	const struct node *schema;
};

struct objkw {
	struct prop *props;
	size_t nprops;
	struct prop **slots; /* open addressing, mask + 1 slots */
	size_t mask;
	struct patprop *pats;
	size_t npats;
	const struct node *additional, *names;
	size_t min_props, max_props;
	const char **required; /* in schema order, for messages */
	size_t nrequired;
	uint64_t required_mask; /* bits of the first 64 required names */
};

struct arrkw {
	const struct node *items;  /* the one-schema form */
	const struct node **tuple; /* the array form */
	size_t ntuple;
	bool is_tuple, unique;
	const struct node *additional, *contains;
	size_t min_items, max_items;
};

struct strkw {
	size_t min_len, max_len;
	struct jsonschema_regex *re;
	const char *pattern;
	enum jsonschema_format format;
};

enum { N_MIN = 1, N_MAX = 2, N_XMIN = 4, N_XMAX = 8, N_MULT = 16 };

struct numkw {
	unsigned has;
	double minimum, maximum, xmin, xmax, multiple;
};

enum {
	F_FALSE = 1,
	F_REF = 2,
	F_TYPE = 4,
	F_ENUM = 8,
	F_CONST = 16,
	F_IF = 32,
	F_APPLY = 64, /* any of allOf, anyOf, oneOf, not, if: one test skips them all */
};

struct node {
	unsigned flags, types;
	const struct node *ref;
	const struct jval *enums, *konst;
	size_t nenums;
	const struct jval **enum_strs; /* the string values, hashed by hash_bytes() */
	size_t enum_mask;
	const struct numkw *num;
	const struct strkw *str;
	const struct arrkw *arr;
	const struct objkw *obj;
	const struct node **all, **any, **one;
	size_t nall, nany, none;
	const struct node *not_, *if_, *then_, *else_;
};

struct chunk {
	struct chunk *next;
	size_t size, used;
	_Alignas(16) unsigned char data[];
};

struct jsonschema {
	struct chunk *arena;
	const struct node *root;
	struct jsonschema_regex **regexes; /* owned, freed with the schema */
	size_t nregexes, capregexes;
	struct jsonschema_regex_scratch *scratch;
	struct jsonschema_formats *formats;
};

/* Zeroed memory that lives as long as the schema; NULL when out of memory. */
static void *arena_alloc(struct jsonschema *s, size_t n)
{
	struct chunk *c = s->arena;

	n = (n + 15) & ~(size_t)15;
	if (!c || c->size - c->used < n) {
		size_t size = n > 16384 ? n : 16384;
		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->size = size;
		c->used = 0;
		c->next = s->arena;
		s->arena = c;
	}
	void *p = c->data + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
}

static char *arena_strndup(struct jsonschema *s, const char *str, size_t n)
{
	char *p = arena_alloc(s, n + 1);

	if (p) {
		memcpy(p, str, n);
		p[n] = '\0';
	}
	return p;
}

/* ==== compilation ==== */

/* Where in a schema document the compiler is, for error messages. */
struct spath {
	const struct spath *up;
	const char *key; /* member name, or NULL for an index */
	size_t index;
	const char *label; /* at the root of a chain: where it is, "#" or "uri#pointer" */
};

struct mapent {
	const cJSON *key;
	const char *base; /* base URI in force at this subschema */
	struct node *node;
};

struct resource {
	char *uri; /* without fragment, or "uri#name" for a plain-name $id */
	const cJSON *schema;
};

struct pending {
	struct node *node;
	const char *uri; /* the reference, resolved */
	const struct spath *where;
	const char *ref; /* as written */
};

struct cc {
	jsonschema *s;
	const struct jsonschema_options *opt;
	char *err;
	size_t errsize;
	bool failed;
	struct mapent *map;
	size_t mapcap, mapn;
	struct resource *res;
	size_t nres, capres;
	cJSON **docs; /* parsed here, freed at the end */
	size_t ndocs, capdocs;
	struct pending *pend;
	size_t npend, cappend;
};

/* Grows *arr (of elem-size items) to hold one more; false when out of memory. */
static bool grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return true;
	size_t ncap = *cap ? *cap * 2 : 16;
	void *p = realloc(*arr, ncap * elem);
	if (!p)
		return false;
	*arr = p;
	*cap = ncap;
	return true;
}

static void spath_render(const struct spath *at, char *buf, size_t size, size_t *len)
{
	if (!at)
		return;
	if (at->label) {
		*len += (size_t)snprintf(buf + *len, *len < size ? size - *len : 0, "%s", at->label);
		return;
	}
	spath_render(at->up, buf, size, len);
	if (*len >= size)
		return;
	if (at->key) {
		*len += (size_t)snprintf(buf + *len, size - *len, "/");
		for (const char *k = at->key; *k && *len < size; k++) {
			const char *esc = *k == '~' ? "~0" : *k == '/' ? "~1" : NULL;
			if (esc)
				*len += (size_t)snprintf(buf + *len, size - *len, "%s", esc);
			else
				*len += (size_t)snprintf(buf + *len, size - *len, "%c", *k);
		}
	} else {
		*len += (size_t)snprintf(buf + *len, size - *len, "/%zu", at->index);
	}
}

static void cfail(struct cc *c, const struct spath *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void cfail(struct cc *c, const struct spath *at, const char *fmt, ...)
{
	char where[300];
	size_t len = 0;
	va_list ap;

	if (c->failed)
		return;
	c->failed = true;
	if (!c->err || c->errsize == 0)
		return;
	where[0] = '\0';
	spath_render(at, where, sizeof(where), &len);
	if (len >= sizeof(where))
		memcpy(where + sizeof(where) - 4, "...", 4);
	int n = snprintf(c->err, c->errsize, "%s: ", where[0] ? where : "#");
	if (n >= 0 && (size_t)n < c->errsize) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errsize - (size_t)n, fmt, ap);
		va_end(ap);
	}
}

static void oom(struct cc *c)
{
	if (!c->failed && c->err && c->errsize)
		snprintf(c->err, c->errsize, "out of memory");
	c->failed = true;
}

static const char *json_type_name(const cJSON *v)
{
	switch (v->type & 0xFF) {
	case cJSON_NULL:
		return "null";
	case cJSON_False:
	case cJSON_True:
		return "boolean";
	case cJSON_Number:
		return "number";
	case cJSON_String:
		return "string";
	case cJSON_Array:
		return "array";
	case cJSON_Object:
		return "object";
	default:
		return "invalid value";
	}
}

/* -- the cJSON node -> compiled node map -- */

static size_t ptr_hash(const void *p)
{
	uintptr_t x = (uintptr_t)p;
	x ^= x >> 17;
	x *= 0xed5ad4bbU;
	x ^= x >> 11;
	return (size_t)x;
}

static struct mapent *map_get(struct cc *c, const cJSON *key, bool create)
{
	if (c->mapn * 2 >= c->mapcap) {
		if (!create && c->mapcap)
			goto look;
		size_t ncap = c->mapcap ? c->mapcap * 2 : 256;
		struct mapent *m = calloc(ncap, sizeof(*m));
		if (!m) {
			oom(c);
			return NULL;
		}
		for (size_t i = 0; i < c->mapcap; i++) {
			if (!c->map[i].key)
				continue;
			size_t j = ptr_hash(c->map[i].key) & (ncap - 1);
			while (m[j].key)
				j = (j + 1) & (ncap - 1);
			m[j] = c->map[i];
		}
		free(c->map);
		c->map = m;
		c->mapcap = ncap;
	}
look:
	if (!c->mapcap)
		return NULL;
	size_t i = ptr_hash(key) & (c->mapcap - 1);
	while (c->map[i].key) {
		if (c->map[i].key == key)
			return &c->map[i];
		i = (i + 1) & (c->mapcap - 1);
	}
	if (!create)
		return NULL;
	c->map[i].key = key;
	c->mapn++;
	return &c->map[i];
}

/* -- resources: "$id"s and documents by URI -- */

static const cJSON *resource_find(struct cc *c, const char *uri, size_t len)
{
	for (size_t i = 0; i < c->nres; i++)
		if (strlen(c->res[i].uri) == len && memcmp(c->res[i].uri, uri, len) == 0)
			return c->res[i].schema;
	return NULL;
}

static void resource_add(struct cc *c, const char *uri, size_t len, const cJSON *schema)
{
	if (resource_find(c, uri, len))
		return; /* the first definition of an identifier wins */
	if (!grow((void **)&c->res, &c->capres, c->nres, sizeof(*c->res))) {
		oom(c);
		return;
	}
	char *u = malloc(len + 1);
	if (!u) {
		oom(c);
		return;
	}
	memcpy(u, uri, len);
	u[len] = '\0';
	c->res[c->nres++] = (struct resource){u, schema};
}

/* Keywords whose value is a schema, an array of schemas, or an object whose
 * member values are schemas (draft-07). */
static const char *const kw_schema[] = {"additionalItems", "additionalProperties", "contains",
                                        "propertyNames",   "not",  "if", "then", "else", "items"};
static const char *const kw_array[] = {"items", "allOf", "anyOf", "oneOf"};
static const char *const kw_map[] = {"properties", "patternProperties", "definitions",
                                     "dependencies"};

#define MAX_SCHEMA_DEPTH 2000

/* Records the base URI of every subschema and registers its "$id". */
static void index_schema(struct cc *c, const cJSON *s, const char *base, unsigned depth)
{
	if (!cJSON_IsObject(s) || c->failed)
		return;
	if (depth > MAX_SCHEMA_DEPTH) {
		cfail(c, NULL, "the schema is nested more than %d levels deep", MAX_SCHEMA_DEPTH);
		return;
	}
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(s, "$id");
	if (cJSON_IsString(id) && !cJSON_GetObjectItemCaseSensitive(s, "$ref")) {
		char *abs = jsonschema_uri_resolve(base, id->valuestring);
		if (!abs) {
			oom(c);
			return;
		}
		size_t nofrag = jsonschema_uri_strip_fragment(abs);
		if (abs[nofrag] == '#' && abs[nofrag + 1] != '\0' && abs[nofrag + 1] != '/') {
			resource_add(c, abs, strlen(abs), s); /* plain-name fragment */
			if (base && (strlen(base) != nofrag || strncmp(base, abs, nofrag) != 0))
				resource_add(c, abs, nofrag, s);
		} else {
			resource_add(c, abs, nofrag, s);
		}
		base = arena_strndup(c->s, abs, nofrag);
		free(abs);
		if (!base) {
			oom(c);
			return;
		}
	}
	struct mapent *e = map_get(c, s, true);
	if (!e)
		return;
	e->base = base;
	for (size_t k = 0; k < sizeof(kw_schema) / sizeof(kw_schema[0]); k++)
		index_schema(c, cJSON_GetObjectItemCaseSensitive(s, kw_schema[k]), base, depth + 1);
	for (size_t k = 0; k < sizeof(kw_array) / sizeof(kw_array[0]); k++) {
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(s, kw_array[k]), *item;
		if (cJSON_IsArray(a))
			cJSON_ArrayForEach(item, a) index_schema(c, item, base, depth + 1);
	}
	for (size_t k = 0; k < sizeof(kw_map) / sizeof(kw_map[0]); k++) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(s, kw_map[k]), *item;
		if (cJSON_IsObject(m))
			cJSON_ArrayForEach(item, m) index_schema(c, item, base, depth + 1);
	}
}

/* Adds a parsed document under its retrieval URI and indexes it. */
static const cJSON *add_document(struct cc *c, cJSON *doc, const char *uri, size_t len)
{
	if (!grow((void **)&c->docs, &c->capdocs, c->ndocs, sizeof(*c->docs))) {
		cJSON_Delete(doc);
		oom(c);
		return NULL;
	}
	c->docs[c->ndocs++] = doc;
	char *base = arena_strndup(c->s, uri, len);
	if (!base) {
		oom(c);
		return NULL;
	}
	resource_add(c, uri, len, doc);
	index_schema(c, doc, base, 0);
	return doc;
}

/* Decodes %XX escapes of s[0..n) into out (size n + 1): the decoded
 * length, or (size_t)-1 on a bad escape. */
static size_t percent_decode(const char *s, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			int h = i + 2 < n ? hex_value(s[i + 1]) : -1, l = i + 2 < n ? hex_value(s[i + 2]) : -1;
			if (h < 0 || l < 0)
				return (size_t)-1;
			out[o++] = (char)(h * 16 + l);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return o;
}

/* A document that is not in the schema: the built-in meta-schema, or a file
 * under remote_dir for a URI under remote_prefix. NULL when there is none
 * (c->failed is set when there was one but it could not be read). */
static const cJSON *load_remote(struct cc *c, const char *uri, size_t len,
                                const struct spath *where)
{
	const struct jsonschema_options *o = c->opt;
	size_t mlen = strlen(JSONSCHEMA_META_DRAFT07_URI);

	if (len == mlen && memcmp(uri, JSONSCHEMA_META_DRAFT07_URI, mlen) == 0) {
		cJSON *doc = cJSON_Parse(jsonschema_meta_draft07);
		if (!doc) {
			oom(c);
			return NULL;
		}
		return add_document(c, doc, uri, len);
	}
	if (!o || !o->remote_prefix || !o->remote_dir)
		return NULL;
	size_t plen = strlen(o->remote_prefix);
	if (len < plen || memcmp(uri, o->remote_prefix, plen) != 0)
		return NULL;

	char *rel = malloc(len - plen + 1), *path = NULL, *text = NULL;
	const cJSON *result = NULL;
	FILE *f = NULL;
	if (!rel) {
		oom(c);
		return NULL;
	}
	/* The rest of the URI is a relative path that must stay under the
	 * folder: no "..", no query, nothing absolute. */
	size_t rlen = percent_decode(uri + plen, len - plen, rel);
	if (rlen == (size_t)-1 || rlen != strlen(rel) || rel[0] == '/' || strchr(rel, '?') ||
	    strstr(rel, "..")) {
		cfail(c, where, "remote reference %.*s does not name a file under %s", (int)len, uri,
		      o->remote_dir);
		goto out;
	}
	size_t plen2 = strlen(o->remote_dir) + strlen(rel) + 2;
	path = malloc(plen2);
	if (!path) {
		oom(c);
		goto out;
	}
	snprintf(path, plen2, "%s/%s", o->remote_dir, rel);
	f = fopen(path, "rb");
	if (!f) {
		cfail(c, where, "cannot read remote schema %.*s from %s: %s", (int)len, uri, path,
		      strerror(errno));
		goto out;
	}
	size_t cap = 4096, n = 0, got;
	text = malloc(cap);
	while (text && (got = fread(text + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (cap - n - 1 == 0) {
			char *t2 = realloc(text, cap * 2);
			if (!t2) {
				free(text);
				text = NULL;
				break;
			}
			text = t2;
			cap *= 2;
		}
	}
	if (!text) {
		oom(c);
		goto out;
	}
	if (ferror(f)) {
		cfail(c, where, "cannot read remote schema %s: %s", path, strerror(errno));
		goto out;
	}
	text[n] = '\0';
	size_t off;
	char why_json[256];
	cJSON *doc = record_parse_text(text, n, &off, why_json, sizeof(why_json));
	if (!doc) {
		cfail(c, where, "remote schema %s is not valid JSON: %s", path, why_json);
		goto out;
	}
	result = add_document(c, doc, uri, len);
out:
	if (f)
		fclose(f);
	free(text);
	free(path);
	free(rel);
	return result;
}

/* Follows a JSON pointer (already %-decoded) from doc; *base is updated to
 * the base URI in force at the target. NULL when there is nothing there. */
static const cJSON *follow_pointer(struct cc *c, const cJSON *doc, const char *ptr,
                                   const char **base)
{
	const cJSON *cur = doc;
	char tok[1024];

	while (*ptr == '/' && cur) {
		size_t t = 0;
		ptr++;
		while (*ptr && *ptr != '/') {
			if (t + 1 >= sizeof(tok))
				return NULL;
			if (ptr[0] == '~' && (ptr[1] == '0' || ptr[1] == '1')) {
				tok[t++] = ptr[1] == '0' ? '~' : '/';
				ptr += 2;
			} else if (ptr[0] == '~') {
				return NULL;
			} else {
				tok[t++] = *ptr++;
			}
		}
		tok[t] = '\0';
		if (cJSON_IsArray(cur)) {
			char *end;
			if (!t || (tok[0] == '0' && t > 1) || tok[0] < '0' || tok[0] > '9')
				return NULL;
			errno = 0;
			unsigned long i = strtoul(tok, &end, 10);
			if (*end || errno || i > INT_MAX)
				return NULL;
			cur = cJSON_GetArrayItem(cur, (int)i);
		} else if (cJSON_IsObject(cur)) {
			cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
		} else {
			return NULL;
		}
		struct mapent *e = cur ? map_get(c, cur, false) : NULL;
		if (e && e->base)
			*base = e->base;
	}
	return *ptr ? NULL : cur;
}

static struct node *compile(struct cc *c, const cJSON *s, const char *base, const struct spath *at,
                            unsigned depth);

/* Resolves one queued reference to a compiled node. */
static void resolve_ref(struct cc *c, struct pending *p)
{
	const char *uri = p->uri;
	size_t doclen = jsonschema_uri_strip_fragment(uri);
	const char *frag = uri[doclen] == '#' ? uri + doclen + 1 : "";
	const cJSON *doc = resource_find(c, uri, doclen), *target = NULL;
	const char *base = NULL;

	if (!doc && !c->failed)
		doc = load_remote(c, uri, doclen, p->where);
	if (c->failed)
		return;
	if (!doc) {
		cfail(c, p->where, "cannot resolve $ref \"%s\" (%s): no schema has this URI%s", p->ref,
		      uri, c->opt && c->opt->remote_prefix ? "" : " (no remote folder was given)");
		return;
	}
	struct mapent *e = map_get(c, doc, false);
	base = e && e->base ? e->base : arena_strndup(c->s, uri, doclen);
	if (!base) {
		oom(c);
		return;
	}
	if (frag[0] == '\0') {
		target = doc;
	} else if (frag[0] == '/') {
		size_t n = strlen(frag);
		char *dec = malloc(n + 1);
		if (!dec) {
			oom(c);
			return;
		}
		size_t dn = percent_decode(frag, n, dec);
		if (dn != (size_t)-1 && dn == strlen(dec))
			target = follow_pointer(c, doc, dec, &base);
		free(dec);
	} else {
		target = resource_find(c, uri, strlen(uri));
		e = target ? map_get(c, target, false) : NULL;
		if (e && e->base)
			base = e->base;
	}
	if (!target) {
		cfail(c, p->where, "cannot resolve $ref \"%s\": nothing at %s", p->ref, uri);
		return;
	}
	/* The target's error messages name it by its URI ("uri#pointer"). */
	struct spath *root = arena_alloc(c->s, sizeof(*root));
	char *label = arena_alloc(c->s, strlen(uri) + 2);
	if (!root || !label) {
		oom(c);
		return;
	}
	sprintf(label, "%s%s", uri, strchr(uri, '#') ? "" : "#");
	root->label = label;
	/* compile() may add to c->pend and move it (realloc): p is not to be
	 * read after the call (the fuzzer found it) */
	struct node *node = p->node;
	node->ref = compile(c, target, base, root, 0);
}

/* -- keyword helpers -- */

static const cJSON *kw(const cJSON *s, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(s, name);
}

/* A non-negative integer keyword (2.0 counts as 2). */
static bool get_count(struct cc *c, const cJSON *s, const char *name, const struct spath *at,
                      size_t *out)
{
	const cJSON *v = kw(s, name);
	struct spath here = {at, name, 0, NULL};

	if (!v)
		return false;
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble != floor(v->valuedouble)) {
		cfail(c, &here, "%s must be a non-negative integer, found %s", name, json_type_name(v));
		return false;
	}
	*out = v->valuedouble >= 1.8e19 ? SIZE_MAX : (size_t)v->valuedouble;
	return true;
}

static bool get_number(struct cc *c, const cJSON *s, const char *name, const struct spath *at,
                       double *out)
{
	const cJSON *v = kw(s, name);
	struct spath here = {at, name, 0, NULL};

	if (!v)
		return false;
	if (!cJSON_IsNumber(v)) {
		cfail(c, &here, "%s must be a number, found %s", name, json_type_name(v));
		return false;
	}
	*out = v->valuedouble;
	return true;
}

static const struct node *sub(struct cc *c, const cJSON *s, const char *name,
                              const struct spath *at, const char *base, unsigned depth)
{
	const cJSON *v = kw(s, name);
	struct spath here = {at, name, 0, NULL};

	return v ? compile(c, v, base, &here, depth + 1) : NULL;
}

/* A non-empty array of schemas. */
static const struct node **sub_array(struct cc *c, const cJSON *s, const char *name,
                                     const struct spath *at, const char *base, unsigned depth,
                                     size_t *n)
{
	const cJSON *v = kw(s, name), *item;
	struct spath here = {at, name, 0, NULL};
	const struct node **arr;
	size_t i = 0;

	*n = 0;
	if (!v)
		return NULL;
	if (!cJSON_IsArray(v) || !v->child) {
		cfail(c, &here, "%s must be a non-empty array of schemas, found %s%s", name,
		      cJSON_IsArray(v) ? "an empty " : "", json_type_name(v));
		return NULL;
	}
	*n = (size_t)cJSON_GetArraySize(v);
	arr = arena_alloc(c->s, *n * sizeof(*arr));
	if (!arr) {
		oom(c);
		return NULL;
	}
	cJSON_ArrayForEach(item, v) {
		struct spath el = {&here, NULL, i, NULL};
		arr[i++] = compile(c, item, base, &el, depth + 1);
	}
	return arr;
}

static struct jval *make_jval(struct cc *c, const cJSON *v, struct jval *out)
{
	const cJSON *item;
	size_t i = 0;

	switch (v->type & 0xFF) {
	case cJSON_NULL:
		out->type = JV_NULL;
		break;
	case cJSON_False:
		out->type = JV_FALSE;
		break;
	case cJSON_True:
		out->type = JV_TRUE;
		break;
	case cJSON_Number:
		out->type = JV_NUMBER;
		out->num = v->valuedouble;
		break;
	case cJSON_String:
		out->type = JV_STRING;
		out->len = strlen(v->valuestring);
		out->str = arena_strndup(c->s, v->valuestring, out->len);
		if (!out->str)
			oom(c);
		break;
	case cJSON_Array:
	case cJSON_Object:
		out->type = cJSON_IsArray(v) ? JV_ARRAY : JV_OBJECT;
		out->len = (size_t)cJSON_GetArraySize(v);
		out->kids = arena_alloc(c->s, out->len * sizeof(*out->kids) + 1);
		if (out->type == JV_OBJECT) {
			out->keys = arena_alloc(c->s, out->len * sizeof(*out->keys) + 1);
			out->key_lens = arena_alloc(c->s, out->len * sizeof(*out->key_lens) + 1);
		}
		if (!out->kids || (out->type == JV_OBJECT && (!out->keys || !out->key_lens))) {
			oom(c);
			break;
		}
		cJSON_ArrayForEach(item, v) {
			if (out->type == JV_OBJECT) {
				out->key_lens[i] = strlen(item->string);
				out->keys[i] = arena_strndup(c->s, item->string, out->key_lens[i]);
			}
			make_jval(c, item, &out->kids[i++]);
		}
		break;
	default:
		out->type = JV_NULL;
		break;
	}
	return out;
}

/* A cheap hash of a property name: its length and three of its bytes.
 * Names are short and few per schema, so spreading them over a small table
 * is enough; a full-string hash cost more than the rest of validating an
 * event (a multiply per byte). Collisions are settled by comparing. */
static uint32_t hash_bytes(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	if (n == 0)
		return 0;
	uint32_t h = (uint32_t)n * 0x9E3779B1u;
	h ^= (uint32_t)p[0] | (uint32_t)p[n - 1] << 8 | (uint32_t)p[n / 2] << 16;
	return h * 0x85EBCA6Bu ^ h >> 13;
}

static uint32_t hash_key(const char *key, size_t *len)
{
	*len = strlen(key);
	return hash_bytes(key, *len);
}

/* a[0..n) == b[0..n), stopping at the first difference (so a NUL in one of
 * them ends the comparison): a loop, as a library call costs more than the
 * comparison for the short names and values of records. */
static inline bool same_bytes(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* A hash table of an enum's string values: one probe finds the candidate,
 * where trying each value in turn costs a comparison (and a misprediction)
 * per value. */
static bool enum_set(struct cc *c, struct node *n)
{
	size_t slots = 4;

	while (slots < n->nenums * 2)
		slots *= 2;
	const struct jval **set = arena_alloc(c->s, slots * sizeof(*set));
	if (!set) {
		oom(c);
		return false;
	}
	for (size_t i = 0; i < n->nenums; i++) {
		if (n->enums[i].type != JV_STRING)
			continue;
		size_t j = hash_bytes(n->enums[i].str, n->enums[i].len) & (slots - 1);
		while (set[j])
			j = (j + 1) & (slots - 1);
		set[j] = &n->enums[i];
	}
	n->enum_strs = set;
	n->enum_mask = slots - 1;
	return true;
}

static struct jsonschema_regex *compile_regex(struct cc *c, const char *src,
                                              const struct spath *at, const char *what)
{
	char why[200];
	jsonschema *s = c->s;
	struct jsonschema_regex *re = jsonschema_regex_compile(src, strlen(src), why, sizeof(why));

	if (!re) {
		cfail(c, at, "invalid %s \"%s\": %s", what, src, why);
		return NULL;
	}
	if (!grow((void **)&s->regexes, &s->capregexes, s->nregexes, sizeof(*s->regexes))) {
		jsonschema_regex_free(re);
		oom(c);
		return NULL;
	}
	s->regexes[s->nregexes++] = re;
	if (!s->scratch && !(s->scratch = jsonschema_regex_scratch_new())) {
		oom(c);
		return NULL;
	}
	return re;
}

/* The entry for name in the property list being built (added if new). */
static struct prop *prop_entry(struct cc *c, struct prop **props, size_t *n, size_t *cap,
                               const char *name)
{
	size_t len;
	uint32_t h = hash_key(name, &len);

	for (size_t i = 0; i < *n; i++)
		if ((*props)[i].hash == h && (*props)[i].len == len &&
		    same_bytes((*props)[i].name, name, len))
			return &(*props)[i];
	if (!grow((void **)props, cap, *n, sizeof(**props))) {
		oom(c);
		return NULL;
	}
	struct prop *p = &(*props)[(*n)++];
	*p = (struct prop){.name = arena_strndup(c->s, name, len), .len = len, .hash = h,
	                   .req_bit = -1};
	if (!p->name)
		oom(c);
	return p;
}

static void compile_object_keywords(struct cc *c, struct node *n, const cJSON *s,
                                    const struct spath *at, const char *base, unsigned depth)
{
	const cJSON *props = kw(s, "properties"), *req = kw(s, "required"),
	            *deps = kw(s, "dependencies"), *pats = kw(s, "patternProperties"), *item;
	struct objkw o = {.max_props = SIZE_MAX};
	struct prop *list = NULL;
	size_t nlist = 0, caplist = 0;

	if (!props && !req && !deps && !pats && !kw(s, "additionalProperties") &&
	    !kw(s, "propertyNames") && !kw(s, "minProperties") && !kw(s, "maxProperties"))
		return;
	if (props) {
		struct spath here = {at, "properties", 0, NULL};
		if (!cJSON_IsObject(props)) {
			cfail(c, &here, "properties must be an object, found %s", json_type_name(props));
			goto out;
		}
		cJSON_ArrayForEach(item, props) {
			struct spath el = {&here, item->string, 0, NULL};
			struct prop *p = prop_entry(c, &list, &nlist, &caplist, item->string);
			if (!p)
				goto out;
			p->schema = compile(c, item, base, &el, depth + 1);
		}
	}
	if (req) {
		struct spath here = {at, "required", 0, NULL};
		if (!cJSON_IsArray(req)) {
			cfail(c, &here, "required must be an array of strings, found %s", json_type_name(req));
			goto out;
		}
		o.nrequired = (size_t)cJSON_GetArraySize(req);
		o.required = arena_alloc(c->s, o.nrequired * sizeof(*o.required) + 1);
		if (!o.required) {
			oom(c);
			goto out;
		}
		size_t i = 0;
		cJSON_ArrayForEach(item, req) {
			if (!cJSON_IsString(item)) {
				struct spath el = {&here, NULL, i, NULL};
				cfail(c, &el, "required must list strings, found %s", json_type_name(item));
				goto out;
			}
			struct prop *p = prop_entry(c, &list, &nlist, &caplist, item->valuestring);
			if (!p)
				goto out;
			o.required[i++] = p->name;
			if (p->req_bit < 0 && i <= 64)
				p->req_bit = (int)(i - 1);
			if (p->req_bit >= 0)
				o.required_mask |= 1ULL << p->req_bit;
		}
	}
	if (deps) {
		struct spath here = {at, "dependencies", 0, NULL};
		if (!cJSON_IsObject(deps)) {
			cfail(c, &here, "dependencies must be an object, found %s", json_type_name(deps));
			goto out;
		}
		cJSON_ArrayForEach(item, deps) {
			struct spath el = {&here, item->string, 0, NULL};
			struct dep *d = arena_alloc(c->s, sizeof(*d));
			struct prop *p = prop_entry(c, &list, &nlist, &caplist, item->string);
			if (!d || !p) {
				oom(c);
				goto out;
			}
			if (cJSON_IsArray(item)) {
				const cJSON *name;
				size_t i = 0;
				d->n = (size_t)cJSON_GetArraySize(item);
				d->names = arena_alloc(c->s, d->n * sizeof(*d->names) + 1);
				if (!d->names) {
					oom(c);
					goto out;
				}
				cJSON_ArrayForEach(name, item) {
					if (!cJSON_IsString(name)) {
						cfail(c, &el, "dependencies arrays must list strings, found %s",
						      json_type_name(name));
						goto out;
					}
					d->names[i++] = arena_strndup(c->s, name->valuestring, strlen(name->valuestring));
				}
			} else {
				d->schema = compile(c, item, base, &el, depth + 1);
			}
			p->dep = d;
		}
	}
	if (pats) {
		struct spath here = {at, "patternProperties", 0, NULL};
		if (!cJSON_IsObject(pats)) {
			cfail(c, &here, "patternProperties must be an object, found %s",
			      json_type_name(pats));
			goto out;
		}
		o.npats = (size_t)cJSON_GetArraySize(pats);
		o.pats = arena_alloc(c->s, o.npats * sizeof(*o.pats) + 1);
		if (!o.pats) {
			oom(c);
			goto out;
		}
		size_t i = 0;
		cJSON_ArrayForEach(item, pats) {
			struct spath el = {&here, item->string, 0, NULL};
			o.pats[i].src = arena_strndup(c->s, item->string, strlen(item->string));
			o.pats[i].re = compile_regex(c, item->string, &here, "patternProperties regex");
			o.pats[i++].schema = compile(c, item, base, &el, depth + 1);
		}
	}
	o.additional = sub(c, s, "additionalProperties", at, base, depth);
	o.names = sub(c, s, "propertyNames", at, base, depth);
	get_count(c, s, "minProperties", at, &o.min_props);
	get_count(c, s, "maxProperties", at, &o.max_props);
	if (c->failed)
		goto out;

	/* The table: a power of two at least twice the names, so probes are short. */
	o.nprops = nlist;
	if (nlist) {
		size_t slots = 4;
		while (slots < nlist * 2)
			slots *= 2;
		o.props = arena_alloc(c->s, nlist * sizeof(*o.props));
		o.slots = arena_alloc(c->s, slots * sizeof(*o.slots));
		if (!o.props || !o.slots) {
			oom(c);
			goto out;
		}
		memcpy(o.props, list, nlist * sizeof(*list));
		o.mask = slots - 1;
		for (size_t i = 0; i < nlist; i++) {
			size_t j = o.props[i].hash & o.mask;
			while (o.slots[j])
				j = (j + 1) & o.mask;
			o.slots[j] = &o.props[i];
		}
	}
	struct objkw *ok = arena_alloc(c->s, sizeof(*ok));
	if (!ok) {
		oom(c);
		goto out;
	}
	*ok = o;
	n->obj = ok;
out:
	free(list);
}

static void compile_array_keywords(struct cc *c, struct node *n, const cJSON *s,
                                   const struct spath *at, const char *base, unsigned depth)
{
	const cJSON *items = kw(s, "items"), *uniq = kw(s, "uniqueItems");
	struct arrkw a = {.max_items = SIZE_MAX};

	if (!items && !uniq && !kw(s, "additionalItems") && !kw(s, "contains") &&
	    !kw(s, "minItems") && !kw(s, "maxItems"))
		return;
	if (cJSON_IsArray(items)) {
		struct spath here = {at, "items", 0, NULL};
		const cJSON *item;
		size_t i = 0;
		a.is_tuple = true;
		a.ntuple = (size_t)cJSON_GetArraySize(items);
		a.tuple = arena_alloc(c->s, a.ntuple * sizeof(*a.tuple) + 1);
		if (!a.tuple) {
			oom(c);
			return;
		}
		cJSON_ArrayForEach(item, items) {
			struct spath el = {&here, NULL, i, NULL};
			a.tuple[i++] = compile(c, item, base, &el, depth + 1);
		}
	} else {
		a.items = sub(c, s, "items", at, base, depth);
	}
	/* additionalItems only means something after an array of items. */
	const struct node *additional = sub(c, s, "additionalItems", at, base, depth);
	if (a.is_tuple)
		a.additional = additional;
	a.contains = sub(c, s, "contains", at, base, depth);
	get_count(c, s, "minItems", at, &a.min_items);
	get_count(c, s, "maxItems", at, &a.max_items);
	if (uniq) {
		struct spath here = {at, "uniqueItems", 0, NULL};
		if (!cJSON_IsBool(uniq))
			cfail(c, &here, "uniqueItems must be a boolean, found %s", json_type_name(uniq));
		a.unique = cJSON_IsTrue(uniq);
	}
	struct arrkw *ak = arena_alloc(c->s, sizeof(*ak));
	if (!ak) {
		oom(c);
		return;
	}
	*ak = a;
	n->arr = ak;
}

static void compile_string_keywords(struct cc *c, struct node *n, const cJSON *s,
                                    const struct spath *at)
{
	const cJSON *pat = kw(s, "pattern"), *fmt = kw(s, "format");
	struct strkw st = {.max_len = SIZE_MAX};
	bool any = false;

	any |= get_count(c, s, "minLength", at, &st.min_len);
	any |= get_count(c, s, "maxLength", at, &st.max_len);
	if (pat) {
		struct spath here = {at, "pattern", 0, NULL};
		if (!cJSON_IsString(pat)) {
			cfail(c, &here, "pattern must be a string, found %s", json_type_name(pat));
			return;
		}
		st.pattern = arena_strndup(c->s, pat->valuestring, strlen(pat->valuestring));
		st.re = compile_regex(c, pat->valuestring, &here, "pattern");
		any = true;
	}
	if (fmt) {
		struct spath here = {at, "format", 0, NULL};
		if (!cJSON_IsString(fmt)) {
			cfail(c, &here, "format must be a string, found %s", json_type_name(fmt));
			return;
		}
		st.format = jsonschema_format_lookup(fmt->valuestring);
		if (st.format != JSONSCHEMA_FORMAT_NONE) {
			any = true;
			if (!c->s->formats &&
			    !(c->s->formats = jsonschema_formats_new(c->err, c->errsize))) {
				c->failed = true;
				return;
			}
		}
	}
	if (!any || c->failed)
		return;
	struct strkw *sk = arena_alloc(c->s, sizeof(*sk));
	if (!sk) {
		oom(c);
		return;
	}
	*sk = st;
	n->str = sk;
}

static void compile_number_keywords(struct cc *c, struct node *n, const cJSON *s,
                                    const struct spath *at)
{
	struct numkw nk = {0};

	if (get_number(c, s, "minimum", at, &nk.minimum))
		nk.has |= N_MIN;
	if (get_number(c, s, "maximum", at, &nk.maximum))
		nk.has |= N_MAX;
	if (get_number(c, s, "exclusiveMinimum", at, &nk.xmin))
		nk.has |= N_XMIN;
	if (get_number(c, s, "exclusiveMaximum", at, &nk.xmax))
		nk.has |= N_XMAX;
	if (get_number(c, s, "multipleOf", at, &nk.multiple)) {
		struct spath here = {at, "multipleOf", 0, NULL};
		if (!(nk.multiple > 0) || !isfinite(nk.multiple)) {
			cfail(c, &here, "multipleOf must be a number greater than 0");
			return;
		}
		nk.has |= N_MULT;
	}
	if (!nk.has || c->failed)
		return;
	struct numkw *k = arena_alloc(c->s, sizeof(*k));
	if (!k) {
		oom(c);
		return;
	}
	*k = nk;
	n->num = k;
}

static unsigned type_bit(const char *name)
{
	for (unsigned i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (strcmp(name, type_names[i]) == 0)
			return 1u << i;
	return 0;
}

static void compile_type(struct cc *c, struct node *n, const cJSON *t, const struct spath *at)
{
	struct spath here = {at, "type", 0, NULL};
	const cJSON *item;

	n->flags |= F_TYPE;
	if (cJSON_IsString(t)) {
		n->types = type_bit(t->valuestring);
		if (!n->types)
			cfail(c, &here, "unknown type \"%s\"", t->valuestring);
		return;
	}
	if (!cJSON_IsArray(t)) {
		cfail(c, &here, "type must be a string or an array of strings, found %s",
		      json_type_name(t));
		return;
	}
	cJSON_ArrayForEach(item, t) {
		unsigned b = cJSON_IsString(item) ? type_bit(item->valuestring) : 0;
		if (!b) {
			cfail(c, &here, "type lists something that is not a type name");
			return;
		}
		n->types |= b;
	}
}

static struct node *compile(struct cc *c, const cJSON *s, const char *base, const struct spath *at,
                            unsigned depth)
{
	struct mapent *e;
	struct node *n;
	const cJSON *v;

	if (c->failed)
		return NULL;
	if (depth > MAX_SCHEMA_DEPTH) {
		cfail(c, at, "the schema is nested more than %d levels deep", MAX_SCHEMA_DEPTH);
		return NULL;
	}
	e = map_get(c, s, true);
	if (!e)
		return NULL;
	if (e->node)
		return e->node;
	if (e->base)
		base = e->base;
	n = arena_alloc(c->s, sizeof(*n));
	if (!n) {
		oom(c);
		return NULL;
	}
	e->node = n; /* before the children: a reference back here finds it */

	if (cJSON_IsBool(s)) {
		if (cJSON_IsFalse(s))
			n->flags = F_FALSE;
		return n;
	}
	if (!cJSON_IsObject(s)) {
		cfail(c, at, "a schema must be an object or a boolean, found %s", json_type_name(s));
		return n;
	}
	if ((v = kw(s, "$ref"))) {
		if (!cJSON_IsString(v)) {
			struct spath h = {at, "$ref", 0, NULL};
			cfail(c, &h, "$ref must be a string, found %s", json_type_name(v));
			return n;
		}
		/* Resolved later, so its location is kept as text: this frame and
		 * its parents will be gone by then. */
		char where[300], *uri = jsonschema_uri_resolve(base, v->valuestring);
		size_t len = 0;
		where[0] = '\0';
		spath_render(at, where, sizeof(where), &len);
		struct spath *loc = arena_alloc(c->s, 2 * sizeof(*loc));
		const char *copy = uri ? arena_strndup(c->s, uri, strlen(uri)) : NULL;
		const char *ref = arena_strndup(c->s, v->valuestring, strlen(v->valuestring));
		const char *label = arena_strndup(c->s, where, strlen(where));
		free(uri);
		if (!loc || !copy || !ref || !label ||
		    !grow((void **)&c->pend, &c->cappend, c->npend, sizeof(*c->pend))) {
			oom(c);
			return n;
		}
		loc[0] = (struct spath){NULL, NULL, 0, label};
		loc[1] = (struct spath){&loc[0], "$ref", 0, NULL};
		n->flags = F_REF;
		c->pend[c->npend++] = (struct pending){n, copy, &loc[1], ref};
		return n;
	}
	v = kw(s, "$id");
	if (v && !cJSON_IsString(v)) {
		struct spath h = {at, "$id", 0, NULL};
		cfail(c, &h, "$id must be a string, found %s", json_type_name(v));
		return n;
	}
	if ((v = kw(s, "type")))
		compile_type(c, n, v, at);
	if ((v = kw(s, "enum"))) {
		struct spath here = {at, "enum", 0, NULL};
		if (!cJSON_IsArray(v)) {
			cfail(c, &here, "enum must be an array, found %s", json_type_name(v));
			return n;
		}
		struct jval *vals = arena_alloc(c->s, (size_t)cJSON_GetArraySize(v) * sizeof(*vals) + 1);
		const cJSON *item;
		if (!vals) {
			oom(c);
			return n;
		}
		cJSON_ArrayForEach(item, v) make_jval(c, item, &vals[n->nenums++]);
		n->enums = vals;
		n->flags |= F_ENUM;
		if (!enum_set(c, n))
			return n;
	}
	if ((v = kw(s, "const"))) {
		struct jval *k = arena_alloc(c->s, sizeof(*k));
		if (!k) {
			oom(c);
			return n;
		}
		n->konst = make_jval(c, v, k);
		n->flags |= F_CONST;
	}
	compile_number_keywords(c, n, s, at);
	compile_string_keywords(c, n, s, at);
	compile_array_keywords(c, n, s, at, base, depth);
	compile_object_keywords(c, n, s, at, base, depth);
	n->all = sub_array(c, s, "allOf", at, base, depth, &n->nall);
	n->any = sub_array(c, s, "anyOf", at, base, depth, &n->nany);
	n->one = sub_array(c, s, "oneOf", at, base, depth, &n->none);
	n->not_ = sub(c, s, "not", at, base, depth);
	if (kw(s, "if")) { /* then and else mean nothing without if */
		n->if_ = sub(c, s, "if", at, base, depth);
		n->then_ = sub(c, s, "then", at, base, depth);
		n->else_ = sub(c, s, "else", at, base, depth);
		n->flags |= F_IF;
	}
	if (n->nall || n->nany || n->none || n->not_ || n->if_)
		n->flags |= F_APPLY;
	/* Definitions are compiled for their errors even when nothing uses them. */
	if ((v = kw(s, "definitions"))) {
		struct spath here = {at, "definitions", 0, NULL};
		const cJSON *item;
		if (!cJSON_IsObject(v)) {
			cfail(c, &here, "definitions must be an object, found %s", json_type_name(v));
			return n;
		}
		cJSON_ArrayForEach(item, v) {
			struct spath el = {&here, item->string, 0, NULL};
			compile(c, item, base, &el, depth + 1);
		}
	}
	return n;
}

/* A chain of references that only leads to more references never validates
 * anything: {"$ref": "#"}, or two definitions that refer to each other. The
 * chains are also shortened to their final target. */
static void check_ref_cycles(struct cc *c)
{
	for (size_t i = 0; i < c->npend && !c->failed; i++) {
		struct node *n = c->pend[i].node;
		const struct node *t = n->ref;
		size_t steps = 0;
		while (t && (t->flags & F_REF)) {
			t = t->ref;
			if (++steps > c->npend) {
				cfail(c, c->pend[i].where, "$ref \"%s\" is part of a cycle of references that never "
				                           "reaches a schema", c->pend[i].ref);
				return;
			}
		}
		n->ref = t;
	}
}

jsonschema *jsonschema_compile(const cJSON *schema, const char *base_uri,
                               const struct jsonschema_options *opt, char *errstr,
                               size_t errstr_size)
{
	struct cc c = {.opt = opt, .err = errstr, .errsize = errstr_size};
	jsonschema *s = calloc(1, sizeof(*s));
	struct spath root = {NULL, NULL, 0, "#"};

	if (errstr && errstr_size)
		errstr[0] = '\0';
	if (!s || !schema) {
		if (!schema)
			snprintf(errstr, errstr_size, "no schema");
		else
			oom(&c);
		free(s);
		return NULL;
	}
	c.s = s;
	const char *base = base_uri ? arena_strndup(s, base_uri, jsonschema_uri_strip_fragment(base_uri))
	                            : "";
	if (!base)
		oom(&c);
	else
		resource_add(&c, base, strlen(base), schema);
	index_schema(&c, schema, base, 0);
	s->root = compile(&c, schema, base, &root, 0);
	for (size_t i = 0; i < c.npend && !c.failed; i++)
		resolve_ref(&c, &c.pend[i]);
	if (!c.failed)
		check_ref_cycles(&c);

	for (size_t i = 0; i < c.ndocs; i++)
		cJSON_Delete(c.docs[i]);
	for (size_t i = 0; i < c.nres; i++)
		free(c.res[i].uri);
	free(c.docs);
	free(c.res);
	free(c.map);
	free(c.pend);
	if (c.failed) {
		jsonschema_free(s);
		return NULL;
	}
	return s;
}

void jsonschema_free(jsonschema *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nregexes; i++)
		jsonschema_regex_free(s->regexes[i]);
	free(s->regexes);
	jsonschema_regex_scratch_free(s->scratch);
	jsonschema_formats_free(s->formats);
	for (struct chunk *c = s->arena, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	free(s);
}

/* file:// URI of an absolute path, with what is not a path character
 * %-escaped. NULL when out of memory. */
static char *file_uri(const char *abs)
{
	size_t n = strlen(abs);
	char *u = malloc(7 + 3 * n + 1), *d = u;

	if (!u)
		return NULL;
	d += sprintf(d, "file://");
	for (const unsigned char *p = (const unsigned char *)abs; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~/!$&'()*+,;=:@", *p))
			*d++ = (char)*p;
		else
			d += sprintf(d, "%%%02X", *p);
	}
	*d = '\0';
	return u;
}

jsonschema *jsonschema_load(const char *path, const struct jsonschema_options *opt,
                            char *errstr, size_t errstr_size)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL, *uri = NULL, *abs = NULL, why[512];
	size_t cap = 4096, n = 0, got;
	jsonschema *s = NULL;
	cJSON *doc = NULL;

	if (!f) {
		snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
		return NULL;
	}
	text = malloc(cap);
	while (text && (got = fread(text + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (cap - n - 1 == 0) {
			char *t2 = realloc(text, cap * 2);
			if (!t2) {
				free(text);
				text = NULL;
			}
			text = t2;
			cap *= 2;
		}
	}
	if (!text) {
		snprintf(errstr, errstr_size, "%s: out of memory", path);
		goto out;
	}
	if (ferror(f)) {
		snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
		goto out;
	}
	text[n] = '\0';
	if (strlen(text) != n) {
		snprintf(errstr, errstr_size, "%s: contains a NUL byte", path);
		goto out;
	}
	/* Strings may hold U+0000 (an enum of such strings): parsed the way
	 * validate --values parses instances, so both compare whole. */
	size_t off = 0;
	char why_json[256];
	doc = record_parse_text(text, n, &off, why_json, sizeof(why_json));
	if (!doc) {
		if (off > n)
			off = n;
		unsigned long line = 1, col = 1;
		for (size_t i = 0; i < off; i++) {
			if (text[i] == '\n')
				line++, col = 1;
			else if (((unsigned char)text[i] & 0xC0) != 0x80)
				col++;
		}
		snprintf(errstr, errstr_size, "%s:%lu:%lu: not valid JSON", path, line, col);
		goto out;
	}
	abs = realpath(path, NULL);
	uri = abs ? file_uri(abs) : NULL;
	s = jsonschema_compile(doc, uri, opt, why, sizeof(why));
	if (!s)
		snprintf(errstr, errstr_size, "%s: %s", path, why);
out:
	cJSON_Delete(doc);
	free(text);
	free(uri);
	free(abs);
	fclose(f);
	return s;
}

/* ==== validation ==== */

/* One step of the path from the document to the value being validated. */
struct ipath {
	const struct ipath *up; /* NULL at the document */
	const char *key;        /* member name, or NULL for an array index */
	size_t index;
	unsigned depth0; /* evaluation depth when this value was entered */
};

struct vc {
	const jsonschema *s;
	unsigned depth;
	bool too_deep;     /* the guard tripped: the whole validation fails */
	char deep_at[256]; /* where, as a JSON pointer */
};

static unsigned type_of(const cJSON *x)
{
	switch (x->type & 0xFF) {
	case cJSON_NULL:
		return T_NULL;
	case cJSON_False:
	case cJSON_True:
		return T_BOOLEAN;
	case cJSON_Number:
		return T_NUMBER;
	case cJSON_String:
		return T_STRING;
	case cJSON_Array:
		return T_ARRAY;
	case cJSON_Object:
		return T_OBJECT;
	default:
		return 0;
	}
}

static bool is_integer(double d)
{
	return isfinite(d) && d == floor(d);
}

static const char *str_of(const cJSON *x)
{
	return x->valuestring ? x->valuestring : "";
}

/* -- messages (built only when validation fails) -- */

#define ELLIPSIS "\xE2\x80\xA6"
#define ABBREV 60 /* characters of a value shown in a message */

struct mbuf {
	char *p;
	size_t cap, len;
	bool full;
};

static void put_n(struct mbuf *m, const char *s, size_t n)
{
	if (m->full)
		return;
	size_t room = m->cap - 1 - m->len - (sizeof(ELLIPSIS) - 1);
	if (n > room) {
		n = room;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--; /* never cut a UTF-8 sequence */
		m->full = true;
	}
	memcpy(m->p + m->len, s, n);
	m->len += n;
	if (m->full) {
		memcpy(m->p + m->len, ELLIPSIS, sizeof(ELLIPSIS) - 1);
		m->len += sizeof(ELLIPSIS) - 1;
	}
	m->p[m->len] = '\0';
}

static void put(struct mbuf *m, const char *s)
{
	put_n(m, s, strlen(s));
}

static void putf(struct mbuf *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void putf(struct mbuf *m, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		put_n(m, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Shortest text that reads back as the same double. */
static void put_number(struct mbuf *m, double d)
{
	char buf[40];

	if (d == floor(d) && fabs(d) < 1e15) {
		snprintf(buf, sizeof(buf), "%.0f", d);
	} else {
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(buf, sizeof(buf), "%.*g", prec, d);
			if (strtod(buf, NULL) == d)
				break;
		}
	}
	put(m, buf);
}

/* A JSON string, escaped, abbreviated after *budget characters. */
static bool put_string(struct mbuf *m, const char *s, size_t len, size_t *budget)
{
	put(m, "\"");
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch & 0xC0) != 0x80) {
			if (*budget == 0) {
				put(m, ELLIPSIS "\"");
				return false;
			}
			(*budget)--;
		}
		if (ch == '"' || ch == '\\') {
			char e[3] = {'\\', (char)ch, 0};
			put(m, e);
		} else if (ch == '\n') {
			put(m, "\\n");
		} else if (ch == '\t') {
			put(m, "\\t");
		} else if (ch == '\r') {
			put(m, "\\r");
		} else if (ch < 0x20) {
			putf(m, "\\u%04x", ch);
		} else if (ch == (unsigned char)RECORD_NUL_CHAR[0] && i + 1 < len) {
			put(m, "\\u0000"); /* U+0000 as the tree holds it (lib/record.h) */
			i++;
		} else {
			put_n(m, s + i, 1);
		}
	}
	put(m, "\"");
	return true;
}

/* An instance value as compact JSON, abbreviated; false once abbreviated. */
static bool put_json(struct mbuf *m, const cJSON *x, size_t *budget)
{
	const cJSON *item;
	bool first = true;

	if (*budget == 0) {
		put(m, ELLIPSIS);
		return false;
	}
	switch (x->type & 0xFF) {
	case cJSON_NULL:
		put(m, "null");
		*budget = *budget > 4 ? *budget - 4 : 0;
		return true;
	case cJSON_False:
	case cJSON_True:
		put(m, cJSON_IsTrue(x) ? "true" : "false");
		*budget = *budget > 5 ? *budget - 5 : 0;
		return true;
	case cJSON_Number:
		put_number(m, x->valuedouble);
		*budget = *budget > 8 ? *budget - 8 : 0;
		return true;
	case cJSON_String:
		return put_string(m, str_of(x), strlen(str_of(x)), budget);
	case cJSON_Array:
	case cJSON_Object:
		put(m, cJSON_IsArray(x) ? "[" : "{");
		cJSON_ArrayForEach(item, x) {
			if (!first)
				put(m, ",");
			first = false;
			if (*budget > 0)
				(*budget)--;
			if (cJSON_IsObject(x)) {
				if (!put_string(m, item->string ? item->string : "",
				                strlen(item->string ? item->string : ""), budget))
					return false;
				put(m, ":");
			}
			if (!put_json(m, item, budget))
				return false;
		}
		put(m, cJSON_IsArray(x) ? "]" : "}");
		return true;
	default:
		put(m, "(invalid)");
		return true;
	}
}

/* The same for an enum or const value. */
static bool put_jval(struct mbuf *m, const struct jval *v, size_t *budget)
{
	if (*budget == 0) {
		put(m, ELLIPSIS);
		return false;
	}
	switch (v->type) {
	case JV_NULL:
		put(m, "null");
		break;
	case JV_FALSE:
		put(m, "false");
		break;
	case JV_TRUE:
		put(m, "true");
		break;
	case JV_NUMBER:
		put_number(m, v->num);
		break;
	case JV_STRING:
		return put_string(m, v->str, v->len, budget);
	default:
		put(m, v->type == JV_ARRAY ? "[" : "{");
		for (size_t i = 0; i < v->len; i++) {
			if (i)
				put(m, ",");
			if (*budget > 0)
				(*budget)--;
			if (v->type == JV_OBJECT) {
				if (!put_string(m, v->keys[i], v->key_lens[i], budget))
					return false;
				put(m, ":");
			}
			if (!put_jval(m, &v->kids[i], budget))
				return false;
		}
		put(m, v->type == JV_ARRAY ? "]" : "}");
		return true;
	}
	*budget = *budget > 5 ? *budget - 5 : 0;
	return true;
}

/* Appends text cut after ABBREV characters, with an ellipsis when cut. */
static void put_cut(struct mbuf *m, const char *text)
{
	size_t i = 0, chars = 0;

	while (text[i] && chars < ABBREV) {
		i++;
		while (((unsigned char)text[i] & 0xC0) == 0x80)
			i++;
		chars++;
	}
	put_n(m, text, i);
	if (text[i])
		put(m, ELLIPSIS);
}

/* A value as compact JSON: a string shows its first ABBREV characters
 * inside its quotes, anything else its first ABBREV characters of JSON. */
static void put_value(struct mbuf *m, const cJSON *x)
{
	char buf[4 * ABBREV + 8];
	struct mbuf tmp = {buf, sizeof(buf), 0, false};
	size_t budget = ABBREV;

	if (cJSON_IsString(x)) {
		put_string(m, str_of(x), strlen(str_of(x)), &budget);
		return;
	}
	buf[0] = '\0';
	budget = sizeof(buf);
	put_json(&tmp, x, &budget);
	put_cut(m, buf);
}

static void put_const(struct mbuf *m, const struct jval *v)
{
	char buf[4 * ABBREV + 8];
	struct mbuf tmp = {buf, sizeof(buf), 0, false};
	size_t budget = ABBREV;

	if (v->type == JV_STRING) {
		put_string(m, v->str, v->len, &budget);
		return;
	}
	buf[0] = '\0';
	budget = sizeof(buf);
	put_jval(&tmp, v, &budget);
	put_cut(m, buf);
}

/* "number 12", "string \"x\"", "null": what was found, for type errors. */
static void put_found(struct mbuf *m, const cJSON *x)
{
	unsigned t = type_of(x);

	if (t == T_NULL) {
		put(m, "null");
		return;
	}
	for (unsigned i = 0; i < 6; i++)
		if (t == 1u << i)
			putf(m, "%s ", type_names[i]);
	put_value(m, x);
}

/* The JSON pointer, root first; keys escaped per RFC 6901. */
static void put_pointer(struct mbuf *m, const struct ipath *at)
{
	if (!at || !at->up)
		return;
	put_pointer(m, at->up);
	put(m, "/");
	if (!at->key) {
		putf(m, "%zu", at->index);
		return;
	}
	for (const char *k = at->key; *k; k++) {
		if (*k == '~')
			put(m, "~0");
		else if (*k == '/')
			put(m, "~1");
		else
			put_n(m, k, 1);
	}
}

/* Starts err's message with the pointer and fills pointer and keyword. */
static struct mbuf start_error(struct jsonschema_error *err, const struct ipath *at,
                               const char *keyword)
{
	struct mbuf pm = {err->pointer, sizeof(err->pointer), 0, false};
	struct mbuf m = {err->message, sizeof(err->message), 0, false};

	err->pointer[0] = '\0';
	put_pointer(&pm, at);
	snprintf(err->keyword, sizeof(err->keyword), "%s", keyword);
	put(&m, err->pointer[0] ? err->pointer : "(root)");
	put(&m, ": ");
	return m;
}

/* The message after "pointer: ", to quote an inner error inside an outer. */
static const char *error_body(const struct jsonschema_error *inner, const char *outer_pointer)
{
	const char *shown = inner->pointer[0] ? inner->pointer : "(root)";
	if (strcmp(inner->pointer, outer_pointer) != 0)
		return inner->message;
	size_t n = strlen(shown);
	return strncmp(inner->message, shown, n) == 0 && inner->message[n] == ':'
	               ? inner->message + n + 2
	               : inner->message;
}

static bool eval(struct vc *v, const struct node *n, const cJSON *x, const struct ipath *at,
                 struct jsonschema_error *err);

/* -- equality (enum, const, uniqueItems) -- */

static bool json_equal(const cJSON *a, const cJSON *b)
{
	unsigned ta = type_of(a), tb = type_of(b);
	const cJSON *x, *y;

	if (ta != tb || !ta)
		return false;
	switch (ta) {
	case T_NULL:
		return true;
	case T_BOOLEAN:
		return cJSON_IsTrue(a) == cJSON_IsTrue(b);
	case T_NUMBER:
		return a->valuedouble == b->valuedouble;
	case T_STRING:
		return strcmp(str_of(a), str_of(b)) == 0;
	case T_ARRAY:
		for (x = a->child, y = b->child; x && y; x = x->next, y = y->next)
			if (!json_equal(x, y))
				return false;
		return !x && !y;
	default: { /* objects: same members, in any order */
		size_t na = 0, nb = 0;
		for (x = a->child; x; x = x->next)
			na++;
		for (y = b->child; y; y = y->next)
			nb++;
		if (na != nb)
			return false;
		for (x = a->child; x; x = x->next) {
			for (y = b->child; y; y = y->next)
				if (x->string && y->string && strcmp(x->string, y->string) == 0)
					break;
			if (!y || !json_equal(x, y))
				return false;
		}
		return true;
	}
	}
}

/* s (NUL-terminated) equals str[0..len): compared without strlen(s), which
 * would read s twice; stops at s's NUL at the latest, as str has none. */
static inline bool str_is(const char *s, const char *str, size_t len)
{
	return s[0] == (len ? str[0] : '\0') && same_bytes(s, str, len) && s[len] == '\0';
}

static bool jval_equal(const struct jval *v, const cJSON *x)
{
	const cJSON *item;
	size_t i = 0;

	int t = x->type & 0xFF;

	switch (v->type) {
	case JV_NULL:
		return t == cJSON_NULL;
	case JV_FALSE:
		return t == cJSON_False;
	case JV_TRUE:
		return t == cJSON_True;
	case JV_NUMBER:
		return t == cJSON_Number && x->valuedouble == v->num;
	case JV_STRING:
		return t == cJSON_String && str_is(str_of(x), v->str, v->len);
	case JV_ARRAY:
		if (t != cJSON_Array)
			return false;
		cJSON_ArrayForEach(item, x) {
			if (i >= v->len ||
			    !jval_equal(&v->kids[i], item))
				return false;
			i++;
		}
		return i == v->len;
	default:
		if (t != cJSON_Object)
			return false;
		cJSON_ArrayForEach(item, x) {
			size_t klen = strlen(item->string ? item->string : "");
			size_t k = 0;
			while (k < v->len &&
			       (v->key_lens[k] != klen || memcmp(v->keys[k], item->string, klen) != 0))
				k++;
			if (k == v->len ||
			    !jval_equal(&v->kids[k], item))
				return false;
			i++;
		}
		return i == v->len;
	}
}

/* -- numbers -- */

static bool multiple_of(double x, double m)
{
	double q = x / m;

	if (isfinite(q) && fabs(q) < 9007199254740992.0) {
		/* Decimal multiples are not exact in binary: allow rounding error
		 * of a few units in the last place of the quotient. */
		return fabs(q - nearbyint(q)) <= fabs(q) * 8 * DBL_EPSILON;
	}
	/* Beyond 2^53 every double is integral, so the quotient says nothing:
	 * an integral divisor gets the exact remainder, and an overflowing
	 * quotient the remainder's best estimate. */
	if (m == floor(m) || !isfinite(q))
		return fmod(x, m) == 0;
	return true;
}

static __attribute__((noinline)) bool eval_number(const struct numkw *k, const cJSON *x, const struct ipath *at,
                        struct jsonschema_error *err)
{
	double d = x->valuedouble;
	const char *kwd = NULL, *text = NULL;
	double limit = 0;

	if ((k->has & N_MIN) && d < k->minimum)
		kwd = "minimum", text = " is less than the minimum ", limit = k->minimum;
	else if ((k->has & N_XMIN) && d <= k->xmin)
		kwd = "exclusiveMinimum", text = " is not greater than ", limit = k->xmin;
	else if ((k->has & N_MAX) && d > k->maximum)
		kwd = "maximum", text = " is greater than the maximum ", limit = k->maximum;
	else if ((k->has & N_XMAX) && d >= k->xmax)
		kwd = "exclusiveMaximum", text = " is not less than ", limit = k->xmax;
	else if ((k->has & N_MULT) && !multiple_of(d, k->multiple))
		kwd = "multipleOf", text = " is not a multiple of ", limit = k->multiple;
	if (!kwd)
		return true;
	if (err) {
		struct mbuf m = start_error(err, at, kwd);
		put_number(&m, d);
		put(&m, text);
		put_number(&m, limit);
		if (kwd[0] == 'e')
			putf(&m, " (%s)", kwd);
	}
	return false;
}

/* -- strings -- */

static __attribute__((noinline)) bool eval_string(const struct vc *v, const struct strkw *k, const cJSON *x,
                        const struct ipath *at, struct jsonschema_error *err)
{
	const char *s = str_of(x);
	size_t len = strlen(s);

	/* Code points lie between len / 4 and len: count only when that range
	 * does not already decide. */
	if (len / 4 < k->min_len || len > k->max_len) {
		size_t cps = utf8_codepoints(s, len);
		if (cps < k->min_len || cps > k->max_len) {
			if (err) {
				bool short_ = cps < k->min_len;
				struct mbuf m = start_error(err, at, short_ ? "minLength" : "maxLength");
				put_value(&m, x);
				putf(&m, " is too %s (%zu character%s, at %s %zu)", short_ ? "short" : "long", cps,
				     cps == 1 ? "" : "s", short_ ? "least" : "most",
				     short_ ? k->min_len : k->max_len);
			}
			return false;
		}
	}
	if (k->re) {
		int r = jsonschema_regex_search(k->re, s, len, v->s->scratch);
		if (r != 1) {
			if (err) {
				struct mbuf m = start_error(err, at, "pattern");
				size_t budget = ABBREV;
				put_value(&m, x);
				put(&m, r == 0 ? " does not match the pattern " : " could not be matched against the pattern ");
				put_string(&m, k->pattern, strlen(k->pattern), &budget);
				if (r < 0)
					put(&m, " (not UTF-8, or the match is too complex)");
			}
			return false;
		}
	}
	if (k->format && !jsonschema_format_check(v->s->formats, k->format, s, len)) {
		if (err) {
			struct mbuf m = start_error(err, at, "format");
			put_value(&m, x);
			putf(&m, " is not a valid %s", jsonschema_format_describe(k->format));
		}
		return false;
	}
	return true;
}

/* -- arrays -- */

static __attribute__((noinline)) bool eval_array(struct vc *v, const struct arrkw *k, const cJSON *x, const struct ipath *at,
                       struct jsonschema_error *err)
{
	const cJSON *item;
	size_t i = 0;

	if (k->min_items > 0 || k->max_items != SIZE_MAX) {
		size_t count = 0;
		for (item = x->child; item; item = item->next)
			count++;
		if (count < k->min_items || count > k->max_items) {
			if (err) {
				bool few = count < k->min_items;
				struct mbuf m = start_error(err, at, few ? "minItems" : "maxItems");
				putf(&m, "too %s items (%zu, at %s %zu)", few ? "few" : "many", count,
				     few ? "least" : "most", few ? k->min_items : k->max_items);
			}
			return false;
		}
	}
	if (k->items || k->is_tuple) {
		for (item = x->child, i = 0; item; item = item->next, i++) {
			const struct node *sch = !k->is_tuple ? k->items
			                         : i < k->ntuple ? k->tuple[i]
			                                         : k->additional;
			if (!sch)
				break;
			if (k->is_tuple && i >= k->ntuple && (sch->flags & F_FALSE)) {
				if (err) {
					struct mbuf m = start_error(err, at, "additionalItems");
					size_t count = i;
					for (; item; item = item->next)
						count++;
					putf(&m, "too many items (%zu, at most %zu as additionalItems is false)", count,
					     k->ntuple);
				}
				return false;
			}
			struct ipath here = {at, NULL, i, v->depth};
			if (!eval(v, sch, item, &here, err))
				return false;
		}
	}
	if (k->contains) {
		bool found = false;
		for (item = x->child, i = 0; item && !found; item = item->next, i++) {
			struct ipath here = {at, NULL, i, v->depth};
			found = eval(v, k->contains, item, &here, NULL);
		}
		if (!found) {
			if (err) {
				struct mbuf m = start_error(err, at, "contains");
				put(&m, x->child ? "no item matches the \"contains\" schema"
				                 : "the array is empty, but must contain an item that matches "
				                   "the \"contains\" schema");
			}
			return false;
		}
	}
	if (k->unique) {
		size_t a = 0;
		for (const cJSON *p = x->child; p; p = p->next, a++) {
			size_t b = a + 1;
			for (const cJSON *q = p->next; q; q = q->next, b++) {
				if (json_equal(p, q)) {
					if (err) {
						struct mbuf m = start_error(err, at, "uniqueItems");
						putf(&m, "items %zu and %zu are equal, but items must be unique (", a, b);
						put_value(&m, p);
						put(&m, ")");
					}
					return false;
				}
			}
		}
	}
	return true;
}

/* -- objects -- */

/* The entry for key, or NULL; *len is set to key's length. */
static const struct prop *prop_find(const struct objkw *o, const char *key, size_t *len,
                                    size_t *next)
{
	size_t n = strlen(key);
	const struct prop *p;

	*len = n;
	if (o->nprops <= 8) {
		size_t k = *next < o->nprops ? *next : 0;
		for (size_t tries = 0; tries < o->nprops; tries++) {
			p = &o->props[k];
			if (++k == o->nprops)
				k = 0;
			if (p->len == n && memcmp(key, p->name, n) == 0) {
				*next = k;
				return p;
			}
		}
		return NULL;
	}
	uint32_t h = hash_bytes(key, n);
	size_t i = h & o->mask;

	while ((p = o->slots[i])) {
		if (p->hash == h && p->len == n && memcmp(p->name, key, n) == 0)
			return p;
		i = (i + 1) & o->mask;
	}
	return NULL;
}

/* required, then min/maxProperties, by looking things up: the order of the
 * documentation, used to report those before a member's own failure. */
static bool object_counts(const struct objkw *o, const cJSON *x, const struct ipath *at,
                          struct jsonschema_error *err)
{
	size_t count = 0;

	for (size_t i = 0; i < o->nrequired; i++) {
		if (!cJSON_GetObjectItemCaseSensitive(x, o->required[i])) {
			if (err) {
				struct mbuf m = start_error(err, at, "required");
				size_t budget = ABBREV;
				put(&m, "required property ");
				put_string(&m, o->required[i], strlen(o->required[i]), &budget);
				put(&m, " is missing");
			}
			return false;
		}
	}
	for (const cJSON *item = x->child; item; item = item->next)
		count++;
	if (count < o->min_props || count > o->max_props) {
		if (err) {
			bool few = count < o->min_props;
			struct mbuf m = start_error(err, at, few ? "minProperties" : "maxProperties");
			putf(&m, "too %s properties (%zu, at %s %zu)", few ? "few" : "many", count,
			     few ? "least" : "most", few ? o->min_props : o->max_props);
		}
		return false;
	}
	return true;
}

/* propertyNames failed for key: say why, from the inner error. */
static __attribute__((noinline)) void explain_name(struct vc *v, const struct node *names,
                                                   const cJSON *key, const struct ipath *at,
                                                   struct jsonschema_error *err)
{
	struct jsonschema_error inner = {.pointer = "", .keyword = "", .message = ""};
	size_t budget = ABBREV;

	eval(v, names, key, at, &inner);
	struct mbuf m = start_error(err, at, "propertyNames");
	put(&m, "invalid property name ");
	put_string(&m, key->valuestring, strlen(key->valuestring), &budget);
	put(&m, ": ");
	put(&m, error_body(&inner, err->pointer));
}

static __attribute__((noinline)) bool eval_object(struct vc *v, const struct objkw *o, const cJSON *x,
                        const struct ipath *at, struct jsonschema_error *err)
{
	uint64_t seen = 0;
	size_t count = 0, next = 0;
	bool ok = true;

	for (const cJSON *item = x->child; item && ok; item = item->next) {
		const char *key = item->string ? item->string : "";
		const struct prop *p = NULL;
		struct ipath here = {at, key, 0, v->depth};
		bool matched = false;
		size_t len = SIZE_MAX;

		count++;
		if (o->nprops)
			p = prop_find(o, key, &len, &next);
		if (len == SIZE_MAX && o->npats)
			len = strlen(key);
		if (p) {
			if (p->req_bit >= 0)
				seen |= 1ULL << p->req_bit;
			if (p->schema) {
				matched = true;
				if (!(ok = eval(v, p->schema, item, &here, err)))
					break;
			}
		}
		for (size_t i = 0; i < o->npats; i++) {
			int r = jsonschema_regex_search(o->pats[i].re, key, len, v->s->scratch);
			if (r < 0) {
				if (err) {
					struct mbuf m = start_error(err, &here, "patternProperties");
					size_t budget = ABBREV;
					put(&m, "the property name could not be matched against the pattern ");
					put_string(&m, o->pats[i].src, strlen(o->pats[i].src), &budget);
				}
				ok = false;
				break;
			}
			if (r == 1) {
				matched = true;
				if (!(ok = eval(v, o->pats[i].schema, item, &here, err)))
					break;
			}
		}
		if (!ok)
			break;
		if (!matched && o->additional) {
			if (o->additional->flags & F_FALSE) {
				if (err) {
					struct mbuf m = start_error(err, at, "additionalProperties");
					size_t budget = ABBREV;
					put(&m, "unexpected property ");
					put_string(&m, key, strlen(key), &budget);
					put(&m, " (additionalProperties is false)");
				}
				ok = false;
				break;
			}
			if (!(ok = eval(v, o->additional, item, &here, err)))
				break;
		}
		if (o->names) {
			cJSON name = {0};
			name.type = cJSON_String;
			name.valuestring = (char *)key;
			if (!eval(v, o->names, &name, at, NULL)) {
				if (err)
					explain_name(v, o->names, &name, at, err);
				ok = false;
				break;
			}
		}
		if (p && p->dep) {
			const struct dep *d = p->dep;
			if (d->schema) {
				if (!(ok = eval(v, d->schema, x, at, err)))
					break;
			}
			for (size_t i = 0; i < d->n; i++) {
				if (!cJSON_GetObjectItemCaseSensitive(x, d->names[i])) {
					if (err) {
						struct mbuf m = start_error(err, at, "dependencies");
						size_t budget = ABBREV;
						put(&m, "property ");
						put_string(&m, d->names[i], strlen(d->names[i]), &budget);
						put(&m, " is required when ");
						budget = ABBREV;
						put_string(&m, key, strlen(key), &budget);
						put(&m, " is present");
					}
					ok = false;
					break;
				}
			}
		}
	}
	if (!ok) {
		/* the documented order puts required and the counts first */
		if (err)
			object_counts(o, x, at, err);
		return false;
	}
	if ((seen & o->required_mask) != o->required_mask || o->nrequired > 64 ||
	    count < o->min_props || count > o->max_props)
		return object_counts(o, x, at, err);
	return true;
}

/* -- combinators and the node -- */

/* No schema of anyOf/oneOf matched: quote why the first one did not. */
static __attribute__((noinline)) void explain_none(struct vc *v, const struct node *first,
                                                   size_t count, const char *keyword,
                                                   const cJSON *x, const struct ipath *at,
                                                   struct jsonschema_error *err)
{
	struct jsonschema_error inner = {.pointer = "", .keyword = "", .message = ""};

	eval(v, first, x, at, &inner);
	struct mbuf m = start_error(err, at, keyword);
	putf(&m, "matches none of the %zu schemas in %s (the first fails: ", count, keyword);
	put(&m, error_body(&inner, err->pointer));
	put(&m, ")");
}

static bool fail_simple(struct jsonschema_error *err, const struct ipath *at, const char *keyword,
                        const char *text)
{
	if (err) {
		struct mbuf m = start_error(err, at, keyword);
		put(&m, text);
	}
	return false;
}

static bool eval_node(struct vc *v, const struct node *n, const cJSON *x, const struct ipath *at,
                      struct jsonschema_error *err)
{
	unsigned t;

	if (n->flags & (F_FALSE | F_REF)) {
		if (n->flags & F_REF)
			return eval(v, n->ref, x, at, err);
		return fail_simple(err, at, "false", "no value is allowed here (the schema is false)");
	}
	t = type_of(x);
	if ((n->flags & F_TYPE) && !(n->types & t) &&
	    !(t == T_NUMBER && (n->types & T_INTEGER) && is_integer(x->valuedouble))) {
		if (err) {
			struct mbuf m = start_error(err, at, "type");
			unsigned names = 0, total = (unsigned)__builtin_popcount(n->types);
			put(&m, "expected ");
			for (unsigned i = 0; i < 7; i++) {
				if (!(n->types & (1u << i)))
					continue;
				names++;
				if (names > 1)
					put(&m, names == total ? " or " : ", ");
				put(&m, type_names[i]);
			}
			put(&m, ", found ");
			put_found(&m, x);
		}
		return false;
	}
	if (n->flags & F_ENUM) {
		size_t i;
		if (t == T_STRING) { /* the common case: one probe of the hash table */
			const char *str = str_of(x);
			size_t len = strlen(str), j = hash_bytes(str, len) & n->enum_mask;
			const struct jval *e;
			i = n->nenums;
			while ((e = n->enum_strs[j])) {
				if (e->len == len && memcmp(e->str, str, len) == 0) {
					i = 0;
					break;
				}
				j = (j + 1) & n->enum_mask;
			}
		} else {
			for (i = 0; i < n->nenums; i++)
				if (jval_equal(&n->enums[i], x))
					break;
		}
		if (i == n->nenums) {
			if (err) {
				struct mbuf m = start_error(err, at, "enum");
				put_value(&m, x);
				put(&m, n->nenums == 1 ? " is not " : " is not one of ");
				for (i = 0; i < n->nenums && !m.full; i++) {
					if (i)
						put(&m, ", ");
					put_const(&m, &n->enums[i]);
				}
				if (n->nenums == 0)
					put(&m, "anything (enum is empty)");
			}
			return false;
		}
	}
	if ((n->flags & F_CONST) &&
	    !jval_equal(n->konst, x)) {
		if (err) {
			struct mbuf m = start_error(err, at, "const");
			put(&m, "expected ");
			put_const(&m, n->konst);
			put(&m, ", found ");
			put_value(&m, x);
		}
		return false;
	}
	switch (t) {
	case T_NUMBER:
		if (n->num && !eval_number(n->num, x, at, err))
			return false;
		break;
	case T_STRING:
		if (n->str && !eval_string(v, n->str, x, at, err))
			return false;
		break;
	case T_ARRAY:
		if (n->arr && !eval_array(v, n->arr, x, at, err))
			return false;
		break;
	case T_OBJECT:
		if (n->obj && !eval_object(v, n->obj, x, at, err))
			return false;
		break;
	default:
		break;
	}
	if (!(n->flags & F_APPLY))
		return true;
	for (size_t i = 0; i < n->nall; i++)
		if (!eval(v, n->all[i], x, at, err))
			return false;
	if (n->nany) {
		size_t i = 0;
		while (i < n->nany && !eval(v, n->any[i], x, at, NULL))
			i++;
		if (i == n->nany) {
			if (err)
				explain_none(v, n->any[0], n->nany, "anyOf", x, at, err);
			return false;
		}
	}
	if (n->none) {
		size_t first = SIZE_MAX;
		for (size_t i = 0; i < n->none; i++) {
			if (!eval(v, n->one[i], x, at, NULL))
				continue;
			if (first == SIZE_MAX) {
				first = i;
				continue;
			}
			if (err) {
				struct mbuf m = start_error(err, at, "oneOf");
				putf(&m, "matches more than one schema in oneOf (%zu and %zu)", first, i);
			}
			return false;
		}
		if (first == SIZE_MAX) {
			if (err)
				explain_none(v, n->one[0], n->none, "oneOf", x, at, err);
			return false;
		}
	}
	if (n->not_ && eval(v, n->not_, x, at, NULL))
		return fail_simple(err, at, "not", "must not match the \"not\" schema");
	if (n->flags & F_IF) {
		if (eval(v, n->if_, x, at, NULL)) {
			if (n->then_ && !eval(v, n->then_, x, at, err))
				return false;
		} else if (n->else_ && !eval(v, n->else_, x, at, err)) {
			return false;
		}
	}
	return true;
}

static bool eval(struct vc *v, const struct node *n, const cJSON *x, const struct ipath *at,
                 struct jsonschema_error *err)
{
	bool ok = false;

	if (++v->depth > JSONSCHEMA_MAX_DEPTH || v->depth - at->depth0 > JSONSCHEMA_MAX_DEPTH_PER_VALUE) {
		/* Not an answer about the instance: remembered, so that no "not"
		 * or "anyOf" above turns it into one, and reported at the end. */
		if (!v->too_deep) {
			struct mbuf pm = {v->deep_at, sizeof(v->deep_at), 0, false};
			v->too_deep = true;
			v->deep_at[0] = '\0';
			put_pointer(&pm, at);
		}
	} else if (!v->too_deep) {
		ok = eval_node(v, n, x, at, err) && !v->too_deep;
	}
	v->depth--;
	return ok;
}

bool jsonschema_validate(const jsonschema *s, const cJSON *instance,
                         struct jsonschema_error *err)
{
	struct ipath root = {NULL, NULL, 0, 0};
	struct vc v; /* not zeroed: deep_at is written only when needed */
	bool ok;

	v.s = s;
	v.depth = 0;
	v.too_deep = false;

	if (!s || !instance) {
		if (err) {
			snprintf(err->pointer, sizeof(err->pointer), "%s", "");
			snprintf(err->keyword, sizeof(err->keyword), "%s", "");
			snprintf(err->message, sizeof(err->message), "(root): %s",
			         s ? "no instance" : "no schema");
		}
		return false;
	}
	ok = eval(&v, s->root, instance, &root, err);
	if (v.too_deep && err) {
		snprintf(err->pointer, sizeof(err->pointer), "%s", v.deep_at);
		snprintf(err->keyword, sizeof(err->keyword), "%s", "$ref");
		snprintf(err->message, sizeof(err->message),
		         "%s: schema evaluation nested too deeply (more than %d levels, or %d on one "
		         "value): a cycle of $ref, allOf or similar that never moves into the value",
		         v.deep_at[0] ? v.deep_at : "(root)", JSONSCHEMA_MAX_DEPTH,
		         JSONSCHEMA_MAX_DEPTH_PER_VALUE);
	}
	return ok;
}
