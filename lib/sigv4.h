/* AWS Signature Version 4 for requests signed in the Authorization header
 * (HMAC-SHA256 on OpenSSL). Pure computation: no clock, no network, so the
 * result can be checked byte for byte against AWS's own test suite
 * (tests/data/aws-sigv4/). */
#ifndef EP_SIGV4_H
#define EP_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct sigv4_header {
	const char *name;  /* any case; compared without case */
	const char *value; /* as sent; trimmed and inner runs of blanks
	                      (space, tab, CR, LF) squeezed to one space */
};

/* The secret never leaves sigv4.c in any form but the signature. */
struct sigv4_key {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token; /* NULL or "" when none */
};

struct sigv4_request {
	const char *method;        /* "POST" */
	const char *target;        /* request-target: path, optionally "?query" */
	const struct sigv4_header *headers; /* every header to sign; must hold
	                                       Host and X-Amz-Date */
	size_t nheaders;
	const void *payload;
	size_t payload_len;
	const char *region;        /* "us-east-1" */
	const char *service;       /* signing name: "dynamodb", "sqs" */
	bool keep_path;            /* true for S3: no "." / ".." / "//" removal */
};

/* The three texts of a signature; each is malloc'ed, free with
 * sigv4_result_free(). */
struct sigv4_result {
	char *canonical_request;
	char *string_to_sign;
	char *authorization;       /* the Authorization header's value */
	char *signed_headers;      /* "content-type;host;x-amz-date;..." */
};

/* Signs req with key. Every header in req->headers is signed. When
 * key->session_token is set and the headers hold no X-Amz-Security-Token, the
 * token is signed as that header anyway, and the caller must send it (with
 * exactly that value). On success returns 0 and fills *out (caller frees with
 * sigv4_result_free()); on failure returns -1, *out is empty and errstr says
 * why (never quoting the secret). */
int sigv4_sign(const struct sigv4_request *req, const struct sigv4_key *key,
               struct sigv4_result *out, char *errstr, size_t errstr_size);

/* Frees the texts; out may be zeroed or partly filled. */
void sigv4_result_free(struct sigv4_result *out);

/* Formats t as the X-Amz-Date value "YYYYMMDDTHHMMSSZ" (UTC) into buf. */
void sigv4_amz_date(time_t t, char buf[17]);

/* Lower-case hex SHA-256 of data into hex (65 bytes with the NUL). Returns
 * false if OpenSSL failed. */
bool sigv4_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
