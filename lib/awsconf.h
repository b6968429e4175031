/* AWS client configuration the way the AWS SDKs find it: region, endpoint,
 * credentials, CA bundle and retry settings from the environment and the
 * shared credentials file. One call per service client; DynamoDB and SQS
 * differ only in the struct awsconf_service they pass. */
#ifndef EP_AWSCONF_H
#define EP_AWSCONF_H

#include <stdbool.h>
#include <stddef.h>

/* What tells one AWS service from another here. */
struct awsconf_service {
	const char *signing_name; /* SigV4 service name: "dynamodb", "sqs" */
	const char *host_prefix;  /* regional endpoint: https://<prefix>.<region>.amazonaws.com */
	const char *env_id;       /* AWS_ENDPOINT_URL_<env_id> overrides the endpoint */
	const char *display;      /* for messages: "DynamoDB" */
};

extern const struct awsconf_service awsconf_dynamodb;
extern const struct awsconf_service awsconf_sqs;

/* Secrets live only here and in sigv4.c. */
struct awsconf_credentials {
	char *access_key_id;
	char *secret_access_key;
	char *session_token;      /* NULL when none */
	char source[512];         /* where they came from, for logs: never secret */
};

/* The retry settings of the SDKs' standard mode. */
#define AWSCONF_MAX_ATTEMPTS_DEFAULT 5
#define AWSCONF_MAX_ATTEMPTS_LIMIT 100

struct awsconf {
	const struct awsconf_service *service;
	char *region;
	char *endpoint;           /* scheme://host[:port][/path], as used */
	bool endpoint_overridden; /* from AWS_ENDPOINT_URL[_<SERVICE>] */
	char *host;               /* the Host header: host, or host:port when not the default */
	char *path;               /* request path: "/" unless the endpoint has one */
	char *ca_bundle;          /* AWS_CA_BUNDLE, NULL when unset */
	int max_attempts;         /* AWS_MAX_ATTEMPTS, else AWSCONF_MAX_ATTEMPTS_DEFAULT */
	char retry_mode[16];      /* AWS_RETRY_MODE: "standard" (default), "legacy", "adaptive" */
	struct awsconf_credentials creds;
	/* One line for the tool to print once, or "": an http:// endpoint that
	 * is not loopback. The signature keeps the secret key safe on such a
	 * link; the session token, the events and the answers are not. */
	char warning[512];
};

/* Reads the configuration for svc from the environment:
 *   region       AWS_REGION, then AWS_DEFAULT_REGION (required)
 *   endpoint     AWS_ENDPOINT_URL_<SVC>, then AWS_ENDPOINT_URL, else the
 *                regional https endpoint (both ignored when
 *                AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true)
 *   credentials  AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN),
 *                then profile AWS_PROFILE (default "default") of the file
 *                AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials)
 *   retries      AWS_MAX_ATTEMPTS (1..100), AWS_RETRY_MODE
 *   TLS          AWS_CA_BUNDLE (a PEM file of CA certificates)
 * Returns 0 and fills *conf (free with awsconf_free()), or -1 with one
 * line in errstr naming the variable or file at fault. The secret access key
 * and session token are never quoted in errstr. */
int awsconf_load(struct awsconf *conf, const struct awsconf_service *svc, char *errstr,
                 size_t errstr_size);

/* Frees what awsconf_load() allocated (wiping the secrets); conf may be
 * zeroed or partly filled. */
void awsconf_free(struct awsconf *conf);

/* Parses the text of a shared credentials file (INI: "[profile]" sections,
 * "key = value" lines, "#" and ";" comments) and takes the keys of
 * profile. file_name is only used in messages. Returns 0 with *out filled
 * (free with awsconf_credentials_clear()), -1 with errstr set when the text
 * is malformed or the profile is missing or incomplete. */
int awsconf_parse_credentials(const char *text, size_t len, const char *profile,
                              const char *file_name, struct awsconf_credentials *out,
                              char *errstr, size_t errstr_size);

/* Wipes and frees the credentials; c may be zeroed. */
void awsconf_credentials_clear(struct awsconf_credentials *c);

/* Splits an endpoint URL into the Host header and path. Accepts http and
 * https, a host name, IPv4 or [IPv6] address, an optional port and path; no
 * user info, query or fragment. On success returns 0 and sets *host and
 * *path (caller frees both) and *https; -1 with errstr set otherwise. */
int awsconf_parse_endpoint(const char *url, char **host, char **path, bool *https, char *errstr,
                           size_t errstr_size);

/* url for a message: anything between "://" and the last '@' (user
 * information, which may hold a password) becomes "***". out is always
 * NUL-terminated. */
void awsconf_redact_url(const char *url, char *out, size_t size);

/* True when host (a Host header value: name or address, maybe ":port")
 * names this machine: localhost, *.localhost, 127.0.0.0/8, [::1]. */
bool awsconf_host_loopback(const char *host);

#endif
