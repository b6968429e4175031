/* A strict JSON syntax check that builds no tree.
 *
 * kcat-in handles every message twice: once as a payload turned into a
 * record, once as an outcome line read back for its "_src". Neither needs
 * the payload's members, only to know that it is a JSON object, where it
 * begins and ends, and where its top-level "_src" is. Building a cJSON tree
 * for that was most of kcat-in's time (docs/kafka.md, "Speed").
 *
 * The check vouches only for what record_parse() would accept in the same
 * way: RFC 8259 syntax, valid UTF-8, no NUL, at most RECORD_MAX_DEPTH
 * levels, and I-JSON's rules for records (DESIGN.md, "Trust boundaries").
 * It declines, and the caller falls back to record_parse(), which also
 * gives the reason a person reads, wherever the two could disagree or the
 * answer takes more than a glance:
 *   - a surrogate escape (cJSON insists on pairs, the RFC does not; a lone
 *     one is refused in records) and a "\u0000" escape (refused in records:
 *     it would cut every C-string check short);
 *   - a number longer than cJSON reads;
 *   - a member name with an escape, at any depth ("\u005fsrc" is "_src",
 *     and "a\u0062" repeats "ab"): names are compared by their bytes;
 *   - a repeated member name at any depth, or more than JSON_SCAN_NAMES
 *     names open at once (the repeat check is a plain list).
 * So a "no" here means "ask record_parse", never "this is not JSON". */
#ifndef EP_JSONSCAN_H
#define EP_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>

/* Member names kept for the repeat check: those of the objects open at one
 * time. A 5-member event needs 5; more declines. */
#define JSON_SCAN_NAMES 32

struct json_scan {
	size_t begin, end;         /* the value is s[begin..end), blanks around it left out */
	bool object;               /* it is an object … */
	bool members;              /* … with at least one member */
	bool multiline;            /* a line break (CR or LF) between begin and end */
	bool src;                  /* the object has a top-level "_src" member; */
	size_t src_begin, src_end; /* the first one's value is s[src_begin..src_end) */
	bool reserved;             /* a top-level name starts with "_" (pipeline metadata); */
	size_t reserved_begin, reserved_end; /* the first such name is s[..begin..end), quotes
	                                        left out (it has no escapes: see above) */
};

/* True when s[0..len) is exactly one JSON value (blanks around it allowed)
 * that record_parse() accepts too, with *scan describing it; false when it
 * is not, or when this check cannot vouch for it (see above). */
bool json_scan(const char *s, size_t len, struct json_scan *scan);

#endif
