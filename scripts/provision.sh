#!/usr/bin/env bash
# provision.sh — creates what the pipeline needs in DynamoDB and SQS, through
# the AWS APIs themselves (curl --aws-sigv4, JSON 1.0 protocol), so the same
# script works against the local stand-ins and against real AWS:
#   - the DynamoDB table (default "pismo"; hash key UUID, type S;
#     PAY_PER_REQUEST), then waits until it is ACTIVE;
#   - the SQS FIFO queues Client_A.fifo … Client_D.fifo, retry.fifo and
#     dlq.fifo (FifoQueue, ContentBasedDeduplication; dlq.fifo keeps messages
#     14 days).
# Idempotent: a table or queue that already exists is left as it is.
#
# Endpoints: AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SQS, else
# AWS_ENDPOINT_URL, else https://dynamodb.REGION.amazonaws.com and
# https://sqs.REGION.amazonaws.com. Region: --region, AWS_REGION,
# AWS_DEFAULT_REGION (us-east-1 when only local endpoints are given).
# Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN),
# else the shared credentials file (AWS_SHARED_CREDENTIALS_FILE or
# ~/.aws/credentials, profile AWS_PROFILE or "default"). The secret goes to
# curl on its standard input (-K -), never on a command line, and is never
# printed. Throttling, 5xx and connection errors are retried
# (AWS_MAX_ATTEMPTS, default 5).
#
# stdout: one line per resource ("table pismo: created, ACTIVE", "queue
# dlq.fifo: exists, http://…"). Errors: one line each on stderr.
# Exit: 0 done, 64 usage, 69 the service refused a request, 75 temporary
# failure (unreachable, throttled, 5xx, timed out waiting: try again),
# 77 credentials refused, 78 configuration missing (region, credentials).
set -uo pipefail

PROG=provision.sh
QUEUES=(Client_A.fifo Client_B.fifo Client_C.fifo Client_D.fifo retry.fifo dlq.fifo)

usage() {
	cat <<'EOF'
usage: provision.sh [--table-only | --queues-only] [--table NAME] [--region R]
                    [--timeout SECONDS]

Creates the DynamoDB table (hash key UUID, string; on-demand billing) and
waits until it is ACTIVE, then the six SQS FIFO queues Client_A.fifo …
Client_D.fifo, retry.fifo and dlq.fifo (content-based deduplication).
Whatever already exists is left alone, so it is safe to run again.

  --table-only        only the table
  --queues-only       only the queues
  --table NAME        table name (default pismo)
  --region R          AWS region (default AWS_REGION, AWS_DEFAULT_REGION)
  --timeout SECONDS   how long to wait for the table to be ACTIVE (default 300)
  -h, --help          this text

Environment: AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL
(default: the region's AWS endpoints), AWS_REGION / AWS_DEFAULT_REGION,
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else the
shared credentials file (AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE).
Throttling, 5xx answers and connection errors are retried (AWS_MAX_ATTEMPTS
attempts in all, default 5, with jittered exponential backoff).
Exit: 0 done, 64 usage, 69 the service refused a request, 75 temporary
failure (try again), 77 credentials refused, 78 configuration missing.
EOF
}

err() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { local code=$1; shift; err "$@"; exit "$code"; }

do_table=1 do_queues=1 table=pismo region= timeout=300
while [ $# -gt 0 ]; do
	case $1 in
	--table-only) do_queues=0 ;;
	--queues-only) do_table=0 ;;
	--table) [ $# -ge 2 ] || die 64 "--table needs a NAME"; table=$2; shift ;;
	--table=*) table=${1#*=} ;;
	--region) [ $# -ge 2 ] || die 64 "--region needs a value"; region=$2; shift ;;
	--region=*) region=${1#*=} ;;
	--timeout) [ $# -ge 2 ] || die 64 "--timeout needs SECONDS"; timeout=$2; shift ;;
	--timeout=*) timeout=${1#*=} ;;
	-h | --help) usage; exit 0 ;;
	*) err "unknown argument '$1'"; usage >&2; exit 64 ;;
	esac
	shift
done
[ $do_table = 1 ] || [ $do_queues = 1 ] || die 64 "--table-only and --queues-only together leave nothing to do"
[[ $table =~ ^[A-Za-z0-9_.-]{3,255}$ ]] || die 64 "--table: '$table' is not a DynamoDB table name (3 to 255 of A-Z a-z 0-9 _ . -)"
[[ $timeout =~ ^[0-9]+$ ]] && [ "$timeout" -ge 1 ] && [ "$timeout" -le 86400 ] ||
	die 64 "--timeout: '$timeout' is not a whole number of seconds from 1 to 86400"
command -v curl > /dev/null || die 69 "curl is not installed"
max_attempts=${AWS_MAX_ATTEMPTS:-5}
[[ $max_attempts =~ ^[0-9]+$ ]] && [ "$max_attempts" -ge 1 ] && [ "$max_attempts" -le 100 ] ||
	die 78 "AWS_MAX_ATTEMPTS: '$max_attempts' is not a whole number from 1 to 100"

# --- configuration ------------------------------------------------------------
region=${region:-${AWS_REGION:-${AWS_DEFAULT_REGION:-}}}
ddb_url=${AWS_ENDPOINT_URL_DYNAMODB:-${AWS_ENDPOINT_URL:-}}
sqs_url=${AWS_ENDPOINT_URL_SQS:-${AWS_ENDPOINT_URL:-}}
if [ -z "$region" ]; then
	# A local stand-in does not care; real AWS does.
	if { [ $do_table = 0 ] || [ -n "$ddb_url" ]; } && { [ $do_queues = 0 ] || [ -n "$sqs_url" ]; }; then
		region=us-east-1
	else
		die 78 "no region: set AWS_REGION (or AWS_DEFAULT_REGION, or --region)"
	fi
fi
[[ $region =~ ^[a-z0-9-]+$ ]] || die 64 "region '$region' is not a region name"
ddb_url=${ddb_url:-https://dynamodb.$region.amazonaws.com}
sqs_url=${sqs_url:-https://sqs.$region.amazonaws.com}
ddb_url=${ddb_url%/}/
sqs_url=${sqs_url%/}/

key=${AWS_ACCESS_KEY_ID:-} secret=${AWS_SECRET_ACCESS_KEY:-} token=${AWS_SESSION_TOKEN:-}
if [ -z "$key" ] || [ -z "$secret" ]; then
	credfile=${AWS_SHARED_CREDENTIALS_FILE:-${HOME:-}/.aws/credentials}
	profile=${AWS_PROFILE:-default}
	if [ -r "$credfile" ]; then
		# aws_access_key_id = …, in the [profile] section; read without
		# printing anything.
		cred() {
			awk -v p="$profile" -v k="$1" '
				/^[[:space:]]*\[/ { s = $0; gsub(/[][[:space:]]/, "", s); inp = (s == p); next }
				inp { line = $0; sub(/^[[:space:]]+/, "", line)
				      n = index(line, "="); if (!n) next
				      name = substr(line, 1, n - 1); gsub(/[[:space:]]/, "", name)
				      if (name == k) { v = substr(line, n + 1); gsub(/^[[:space:]]+|[[:space:]]+$/, "", v); print v; exit } }
			' "$credfile"
		}
		key=$(cred aws_access_key_id) secret=$(cred aws_secret_access_key) token=$(cred aws_session_token)
	fi
fi
[ -n "$key" ] && [ -n "$secret" ] ||
	die 78 "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE with a shared credentials file)"

# curl's configuration on its standard input: the credentials never appear in
# the process list. Inside "…", curl reads \\ and \" as escapes.
cfgq() { local s=${1//\\/\\\\}; printf '"%s"' "${s//\"/\\\"}"; }
curl_cfg="user = $(cfgq "$key:$secret")"
[ -n "$token" ] && curl_cfg+=$'\n'"header = $(cfgq "X-Amz-Security-Token: $token")"
unset secret token

work=$(mktemp -d "${TMPDIR:-/tmp}/provision.XXXXXX") || die 73 "cannot make a temporary directory"
trap 'rm -rf "$work"' EXIT

# --- one API call ---------------------------------------------------------------
# call SERVICE TARGET JSON: sets STATUS (HTTP status, 000 when no answer),
# BODY, ERRTYPE (the error's code without its namespace) and ERRMSG.
# Retries throttling, 5xx and connection errors, AWS_MAX_ATTEMPTS times in
# all (default 5), sleeping random(0,1) × min(2^attempt, 20) s in between
# like the SDKs' standard retry mode.
call() {
	local service=$1 target=$2 data=$3 url attempt rc
	case $service in
	dynamodb) url=$ddb_url ;;
	sqs) url=$sqs_url ;;
	esac
	for ((attempt = 1; attempt <= max_attempts; attempt++)); do
		STATUS=$(printf '%s\n' "$curl_cfg" | curl -K - -sS --connect-timeout 10 --max-time 60 \
			--aws-sigv4 "aws:amz:$region:$service" \
			-H 'Content-Type: application/x-amz-json-1.0' -H "X-Amz-Target: $target" \
			--data-binary "$data" -o "$work/body" -w '%{http_code}' "$url" 2> "$work/curl.err")
		rc=$?
		BODY=$(cat "$work/body" 2> /dev/null)
		ERRTYPE= ERRMSG=
		if [ $rc -ne 0 ]; then
			STATUS=000 ERRTYPE=CurlError ERRMSG="$url: $(tail -1 "$work/curl.err")"
		elif [ "$STATUS" -ge 300 ]; then
			ERRTYPE=$(jstr __type <<< "$BODY")
			ERRTYPE=${ERRTYPE##*#}
			ERRMSG=$(jstr message <<< "$BODY")
			[ -n "$ERRMSG" ] || ERRMSG=$(jstr Message <<< "$BODY")
			[ -n "$ERRTYPE" ] || ERRTYPE="HTTP$STATUS"
			[ -n "$ERRMSG" ] || ERRMSG="HTTP $STATUS from $url"
		fi
		case $STATUS:$ERRTYPE in
		000:* | 5??:* | *:ThrottlingException | *:ProvisionedThroughputExceededException | \
			*:RequestThrottled | *:RequestLimitExceeded | *:LimitExceededException) ;;
		*) return 0 ;;
		esac
		if [ $attempt -lt $max_attempts ]; then
			local cap=$((1 << attempt)) ms
			[ $cap -gt 20 ] && cap=20
			ms=$((RANDOM * cap * 1000 / 32768))
			sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
		fi
	done
	return 0
}

# jstr NAME < JSON: the first string member NAME, unescaped enough for
# messages and URLs (\" \/ \\). Plain text tools: no jq or node needed.
jstr() {
	local s
	s=$(grep -o "\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"\\\\]\|\\\\.\)*\"" | head -1) || true
	s=${s#*:}
	s=${s#"${s%%[![:space:]]*}"}
	s=${s#\"}
	s=${s%\"}
	s=${s//\\\//\/}
	s=${s//\\\"/\"}
	printf '%s' "${s//\\\\/\\}"
}

# The exit code for a failed call.
fail_code() {
	case $STATUS:$ERRTYPE in
	000:* | 5??:* | *Throttl* | *LimitExceeded*) echo 75 ;;
	*:UnrecognizedClientException | *:InvalidClientTokenId | *:InvalidSignatureException | \
		*:SignatureDoesNotMatch | *:AccessDenied* | *:ExpiredToken* | *:MissingAuthenticationToken* | 403:*) echo 77 ;;
	*) echo 69 ;;
	esac
}
failed() { # WHAT
	err "$1: $ERRTYPE: $ERRMSG"
	exit "$(fail_code)"
}

# --- the table --------------------------------------------------------------------
provision_table() {
	local what="table $table" state= deadline
	call dynamodb DynamoDB_20120810.CreateTable "{\"TableName\":\"$table\",\
\"AttributeDefinitions\":[{\"AttributeName\":\"UUID\",\"AttributeType\":\"S\"}],\
\"KeySchema\":[{\"AttributeName\":\"UUID\",\"KeyType\":\"HASH\"}],\"BillingMode\":\"PAY_PER_REQUEST\"}"
	if [ "$STATUS" = 200 ]; then
		state=created
	elif [ "$ERRTYPE" = ResourceInUseException ]; then
		state=exists
	else
		failed "$what: CreateTable"
	fi
	deadline=$((SECONDS + timeout))
	while :; do
		call dynamodb DynamoDB_20120810.DescribeTable "{\"TableName\":\"$table\"}"
		[ "$STATUS" = 200 ] || failed "$what: DescribeTable"
		local status
		status=$(jstr TableStatus <<< "$BODY")
		case $status in
		ACTIVE | UPDATING) break ;; # UPDATING tables take reads and writes
		CREATING) ;;
		*) err "$what is $status, not ACTIVE"; exit 69 ;;
		esac
		if [ $SECONDS -ge $deadline ]; then
			err "$what is still $status after ${timeout}s (--timeout)"
			exit 75
		fi
		sleep 1
	done
	local key_ok
	key_ok=$(grep -o '"KeySchema"[[:space:]]*:[[:space:]]*\[[^]]*\]' <<< "$BODY")
	if [[ $key_ok != *'"AttributeName":"UUID"'* ]]; then
		err "$what exists but its key is not UUID: $key_ok"
		exit 69
	fi
	echo "$what: $state, ACTIVE"
}

# --- the queues -----------------------------------------------------------------------
provision_queue() {
	local name=$1 what="queue $1" attrs='"FifoQueue":"true","ContentBasedDeduplication":"true"' url state
	[ "$name" = dlq.fifo ] && attrs+=',"MessageRetentionPeriod":"1209600"'
	call sqs AmazonSQS.GetQueueUrl "{\"QueueName\":\"$name\"}"
	if [ "$STATUS" = 200 ]; then
		state=exists
	elif [[ $ERRTYPE == *NonExistentQueue || $ERRTYPE == QueueDoesNotExist ]]; then
		call sqs AmazonSQS.CreateQueue "{\"QueueName\":\"$name\",\"Attributes\":{$attrs}}"
		state=created
		if [ "$STATUS" != 200 ]; then
			# Made by someone else in the meantime?
			[[ $ERRTYPE == QueueNameExists || $ERRTYPE == QueueAlreadyExists ]] || failed "$what: CreateQueue"
			call sqs AmazonSQS.GetQueueUrl "{\"QueueName\":\"$name\"}"
			[ "$STATUS" = 200 ] || failed "$what: GetQueueUrl"
			state=exists
		fi
	else
		failed "$what: GetQueueUrl"
	fi
	url=$(jstr QueueUrl <<< "$BODY")
	[ -n "$url" ] || { err "$what: no QueueUrl in the answer: $BODY"; exit 69; }
	if [ $state = exists ]; then
		# Left as it is, but it must be a FIFO queue; say so when it does
		# not deduplicate by content (route sets a deduplication id anyway).
		call sqs AmazonSQS.GetQueueAttributes \
			"{\"QueueUrl\":\"$url\",\"AttributeNames\":[\"FifoQueue\",\"ContentBasedDeduplication\"]}"
		[ "$STATUS" = 200 ] || failed "$what: GetQueueAttributes"
		if [ "$(jstr FifoQueue <<< "$BODY")" != true ]; then
			err "$what exists but is not a FIFO queue"
			exit 69
		fi
		[ "$(jstr ContentBasedDeduplication <<< "$BODY")" = true ] ||
			err "$what exists without ContentBasedDeduplication (left as it is)"
	fi
	echo "$what: $state, $url"
}

[ $do_table = 1 ] && provision_table
if [ $do_queues = 1 ]; then
	for q in "${QUEUES[@]}"; do provision_queue "$q"; done
fi
exit 0
