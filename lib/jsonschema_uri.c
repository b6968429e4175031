/* RFC 3986 reference resolution, enough for JSON Schema identifiers: URIs
 * are split by the generic syntax of Appendix B, which never fails, so a
 * malformed "$id" still resolves to something predictable; the strict
 * grammar is format "uri"'s business (jsonschema_format.c). */
#include "jsonschema_uri.h"

#include <stdlib.h>
#include <string.h>

struct span {
	const char *p;
	size_t n;
	bool set;
};

struct parts {
	struct span scheme, authority, path, query, fragment;
};

/* Appendix B: ^(([^:/?#]+):)?(//([^/?#]*))?([^?#]*)(\?([^#]*))?(#(.*))? */
static void split(const char *s, struct parts *u)
{
	size_t i = strcspn(s, ":/?#");

	memset(u, 0, sizeof(*u));
	if (i > 0 && s[i] == ':') {
		u->scheme = (struct span){s, i, true};
		s += i + 1;
	}
	if (s[0] == '/' && s[1] == '/') {
		s += 2;
		i = strcspn(s, "/?#");
		u->authority = (struct span){s, i, true};
		s += i;
	}
	i = strcspn(s, "?#");
	u->path = (struct span){s, i, true};
	s += i;
	if (*s == '?') {
		s++;
		i = strcspn(s, "#");
		u->query = (struct span){s, i, true};
		s += i;
	}
	if (*s == '#')
		u->fragment = (struct span){s + 1, strlen(s + 1), true};
}

/* Section 5.2.4, in place on a NUL-terminated path. */
static void remove_dot_segments(char *path)
{
	char *in = path, *out = path;

	while (*in) {
		if (strncmp(in, "../", 3) == 0) {
			in += 3;
		} else if (strncmp(in, "./", 2) == 0) {
			in += 2;
		} else if (strncmp(in, "/./", 3) == 0) {
			in += 2;
		} else if (strcmp(in, "/.") == 0) {
			in[1] = '\0'; /* becomes "/" */
		} else if (strncmp(in, "/../", 4) == 0 || strcmp(in, "/..") == 0) {
			in += 3;
			if (*in == '\0') {
				in--;
				*in = '/';
			}
			/* drop the last segment written so far */
			while (out > path && *--out != '/')
				;
		} else if (strcmp(in, ".") == 0 || strcmp(in, "..") == 0) {
			break;
		} else {
			/* move the first segment, with its leading '/', to the output */
			do
				*out++ = *in++;
			while (*in && *in != '/');
		}
	}
	*out = '\0';
}

static char *put(char *d, const char *s, size_t n)
{
	memcpy(d, s, n);
	return d + n;
}

char *jsonschema_uri_resolve(const char *base, const char *ref)
{
	struct parts b, r, t;
	size_t cap = (base ? strlen(base) : 0) + strlen(ref) + 8;
	char *pathbuf = malloc(cap), *res = malloc(cap), *d;

	if (!pathbuf || !res) {
		free(pathbuf);
		free(res);
		return NULL;
	}
	split(base ? base : "", &b);
	split(ref, &r);
	memset(&t, 0, sizeof(t));
	pathbuf[0] = '\0';
	/* Section 5.2.2; the path is built in pathbuf, then cleaned. */
	if (r.scheme.set) {
		t = r;
		memcpy(pathbuf, r.path.p, r.path.n);
		pathbuf[r.path.n] = '\0';
	} else {
		t.scheme = b.scheme;
		if (r.authority.set) {
			t.authority = r.authority;
			memcpy(pathbuf, r.path.p, r.path.n);
			pathbuf[r.path.n] = '\0';
			t.query = r.query;
		} else {
			t.authority = b.authority;
			if (r.path.n == 0) {
				memcpy(pathbuf, b.path.p, b.path.n);
				pathbuf[b.path.n] = '\0';
				t.query = r.query.set ? r.query : b.query;
			} else {
				if (r.path.p[0] == '/') {
					d = put(pathbuf, r.path.p, r.path.n);
				} else if (b.authority.set && b.path.n == 0) {
					d = put(pathbuf, "/", 1);
					d = put(d, r.path.p, r.path.n);
				} else {
					size_t keep = b.path.n;
					while (keep > 0 && b.path.p[keep - 1] != '/')
						keep--;
					d = put(pathbuf, b.path.p, keep);
					d = put(d, r.path.p, r.path.n);
				}
				*d = '\0';
				t.query = r.query;
			}
		}
		t.fragment = r.fragment;
	}
	remove_dot_segments(pathbuf);

	d = res;
	if (t.scheme.set) {
		for (size_t i = 0; i < t.scheme.n; i++) {
			char c = t.scheme.p[i];
			*d++ = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
		}
		*d++ = ':';
	}
	if (t.authority.set) {
		d = put(d, "//", 2);
		d = put(d, t.authority.p, t.authority.n);
	}
	d = put(d, pathbuf, strlen(pathbuf));
	if (t.query.set) {
		*d++ = '?';
		d = put(d, t.query.p, t.query.n);
	}
	if (t.fragment.set) {
		*d++ = '#';
		d = put(d, t.fragment.p, t.fragment.n);
	}
	*d = '\0';
	free(pathbuf);
	return res;
}

size_t jsonschema_uri_strip_fragment(const char *uri)
{
	return strcspn(uri, "#");
}

bool jsonschema_uri_has_scheme(const char *uri)
{
	struct parts u;

	split(uri, &u);
	return u.scheme.set;
}
