#!/usr/bin/env bash
# persist's configuration and command line: every missing or malformed AWS
# setting is one clear line and exit 78 (before any input is read), with the
# secret never on stderr; usage errors exit 64, an unreadable input 66, a
# closed output pipe 74; TLS verification stays on, and AWS_CA_BUNDLE makes a
# private CA trusted (an HTTPS front before dynalite records what was sent:
# the operation, the session token, the signed headers and whether the
# signature checks out; the item is then read from the table).
set -uo pipefail
cd "$(dirname "$0")/../.."

. tests/lib.sh
. tests/lib-persist.sh

EV='{"uid":"tls-1","context":"monitoramento","event_type":"INSERT","client":"Client_A","created_at":"2024-09-10T04:17:09.0247241-03:00"}'
FILE_SECRET='FiLe/sEcReT+from+the+credentials+file+0123'

lacks() { ! grep -qF -- "$1" "$2"; }

# run ENV...: persist with the given environment changes, empty input;
# sets RC and ERR (stderr). Nothing listens at the endpoint: a config
# error must come before any request.
PARGS=()
run() {
	env "$@" "$PERSIST" "${PARGS[@]}" < /dev/null > "$T/out" 2> "$T/err"
	RC=$?
	ERR=$(cat "$T/err")
}
cfg_err() { # DESC PATTERN ENV...
	local desc=$1 pat=$2; shift 2
	run "$@"
	is "$RC" 78 "$desc: exit 78"
	like "$ERR" "^persist: $pat" "$desc: says so"
	is "$(wc -l < "$T/err")" 1 "$desc: one line"
	ok no_secret "$T/err" "$desc: no secret on stderr"
	ok lacks "$FILE_SECRET" "$T/err" "$desc: no secret from the file on stderr"
}

# --- usage ------------------------------------------------------------------
"$PERSIST" --help > "$T/help"
is "$?" 0 "--help: exit 0"
missing=""
for o in table batch-size linger-ms inflight max-attempts backoff-base-ms connect-timeout \
	request-timeout stats-interval max-line quiet verbose help version; do
	grep -q -- "--$o" "$T/help" || missing="$missing $o"
done
is "$missing" "" "--help lists every long option"
like "$("$PERSIST" --version)" '^persist \(event-processor\) [0-9]' "--version"
for bad in "--nope" "--inflight 0" "--inflight 257" "--batch-size 26" "--linger-ms -1" \
	"--max-attempts 0" "--stats-interval x" "--table a" "--table bad/name" "--max-line 1e6"; do
	# shellcheck disable=SC2086
	"$PERSIST" $bad < /dev/null > /dev/null 2> "$T/err"
	is "$?" 64 "$bad: exit 64"
done
like "$(cat "$T/err")" "^persist: --max-line: '1e6' is not a number" "a bad number: named"

# --- configuration errors: exit 78, one line, no secret -------------------------
X=(AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:9)
cfg_err "no region" "no AWS region: set AWS_REGION" -u AWS_REGION "${X[@]}"
cfg_err "a bad region" "AWS_REGION 'us east' is not a region" AWS_REGION="us east" "${X[@]}"
cfg_err "key id without secret" "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not" \
	-u AWS_SECRET_ACCESS_KEY "${X[@]}"
cfg_err "secret without key id" "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not" \
	-u AWS_ACCESS_KEY_ID "${X[@]}"
cfg_err "a secret with a newline" ".*secret access key is empty or has blanks" \
	AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY
$FILE_SECRET" "${X[@]}"
cfg_err "no credentials anywhere" "no AWS credentials: set AWS_ACCESS_KEY_ID" \
	-u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "${X[@]}"
cfg_err "a bad endpoint" "AWS_ENDPOINT_URL_DYNAMODB: 'ftp://x' is not an http:// or https:// URL" \
	AWS_ENDPOINT_URL_DYNAMODB=ftp://x
cfg_err "a bad global endpoint" "AWS_ENDPOINT_URL: .*port" -u AWS_ENDPOINT_URL_DYNAMODB \
	AWS_ENDPOINT_URL=http://127.0.0.1:99999
cfg_err "a bad AWS_MAX_ATTEMPTS" "AWS_MAX_ATTEMPTS 'many' is not a number" AWS_MAX_ATTEMPTS=many "${X[@]}"
cfg_err "a bad AWS_RETRY_MODE" "AWS_RETRY_MODE 'eager'" AWS_RETRY_MODE=eager "${X[@]}"
cfg_err "a missing CA bundle" "AWS_CA_BUNDLE /nonexistent/ca.pem: No such file" \
	AWS_CA_BUNDLE=/nonexistent/ca.pem "${X[@]}"

# The shared credentials file and its profiles; a file with a malformed
# line anywhere is refused as a whole, as the SDKs do.
cat > "$T/credentials" <<EOF
# comment
[default]
aws_access_key_id = AKIDFROMFILE
aws_secret_access_key = $FILE_SECRET
EOF
cat > "$T/broken" <<EOF
[default]
aws_access_key_id = AKIDBROKEN
$FILE_SECRET
EOF
NOENV=(-u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_SHARED_CREDENTIALS_FILE=$T/credentials "${X[@]}")
run "${NOENV[@]}"
is "$RC" 0 "credentials from the file's default profile: exit 0"
PARGS=(-v)
run "${NOENV[@]}" AWS_PROFILE=default
PARGS=()
like "$ERR" "credentials from $T/credentials profile \[default\]" "-v names where the credentials came from"
ok no_secret "$T/err" "-v: no secret"
ok lacks "$FILE_SECRET" "$T/err" "-v: no secret from the file"
cfg_err "a profile that does not exist" "$T/credentials: no profile \[ci\]" "${NOENV[@]}" AWS_PROFILE=ci
cfg_err "a malformed file" "$T/broken line 3: expected \"key = value\"" "${NOENV[@]}" AWS_SHARED_CREDENTIALS_FILE=$T/broken
cfg_err "a missing credentials file" "AWS_SHARED_CREDENTIALS_FILE /nonexistent: no such file" \
	-u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_SHARED_CREDENTIALS_FILE=/nonexistent "${X[@]}"
mkdir -p "$HOME/.aws"
cp "$T/credentials" "$HOME/.aws/credentials"
run -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "${X[@]}"
is "$RC" 0 "the default file is ~/.aws/credentials"

# --- inputs and outputs -------------------------------------------------------
PASS='{"uid":"p","_error":{"stage":"validate","code":"schema"}}'
printf '%s\n' "$PASS" > "$T/pass"
AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:9 "$PERSIST" -q /nonexistent "$T/pass" > "$T/out" 2> "$T/err"
is "$?" 66 "an input file that cannot be opened: exit 66"
like "$(cat "$T/err")" '^persist: /nonexistent: No such file' "and it is named"
is "$(cat "$T/out")" "$PASS" "the other inputs are still read (a marked record passes untouched)"
yes "$PASS" | head -200000 > "$T/many"
AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:9 "$PERSIST" -q "$T/many" 2> "$T/err" | head -1 > /dev/null
is "${PIPESTATUS[0]}" 74 "a closed output pipe: exit 74"

# --- TLS: verification on; AWS_CA_BUNDLE trusts a private CA -------------------
# tests/tools/tls-front.mjs over HTTPS in front of a real dynalite: it logs
# each request (operation, session token, signed headers, whether the SigV4
# signature checks out with our secret) and forwards it, so "stored" is
# checked in the table, not taken from a server that answers success.
start_dynalite TLSDB
provision "$TLSDB_URL" > /dev/null
bg_start tls-front env FRONT_SECRETS="{\"$AWS_ACCESS_KEY_ID\":\"$AWS_SECRET_ACCESS_KEY\"}" \
	node tests/tools/tls-front.mjs --upstream "$TLSDB_URL" --log "$T/tls.log" --tls "$PWD/tests/data/tls"
TFPID=$BG_PID
wait_for 10 at_least "$T/tls-front.out" 1
HURL=$(head -1 "$T/tls-front.out")
like "$HURL" '^https://127\.0\.0\.1:[0-9]+$' "an HTTPS front before dynalite"
printf '%s\n' "$EV" > "$T/ev"
AWS_ENDPOINT_URL_DYNAMODB=$HURL "$PERSIST" "$T/ev" > "$T/tls1.out" 2> "$T/tls1.err"
is "$?" 69 "an untrusted certificate: exit 69 (every record would fail the same way)"
like "$(cat "$T/tls1.err")" '^persist: stopping: DynamoDB BatchWriteItem: .*certificate.*not stored \(1 in, 0 out\)' \
	"an untrusted certificate: one clear line"
is "$(wc -c < "$T/tls1.out")" 0 "an untrusted certificate: nothing written out (so nothing acknowledged upstream)"
is "$(grep -c '"op"' "$T/tls.log" 2> /dev/null)" 0 "an untrusted certificate: no request reached the server"
is "$(get_item "$TLSDB_URL" tls-1)" '{}' "an untrusted certificate: nothing in the table"
AWS_ENDPOINT_URL_DYNAMODB=$HURL AWS_CA_BUNDLE=tests/data/tls/loopback.crt AWS_SESSION_TOKEN='TOKEN/for+tls==' \
	"$PERSIST" "$T/ev" > "$T/tls2.out" 2> "$T/tls2.err"
is "$?" 0 "AWS_CA_BUNDLE: exit 0"
is "$(cat "$T/tls2.out")" "$EV" "AWS_CA_BUNDLE: the certificate is trusted, the record out"
is "$(get_item "$TLSDB_URL" tls-1)" \
	'{"Item":{"UUID":{"S":"tls-1"},"Context":{"S":"monitoramento"},"EventType":{"S":"INSERT"},"Client":{"S":"Client_A"},"CreatedAt":{"S":"2024-09-10T04:17:09.0247241-03:00"}}}' \
	"AWS_CA_BUNDLE: the item is in the table behind the front, every attribute right"
REQ=$(grep '"op"' "$T/tls.log" | tail -1)
like "$REQ" '"op":"BatchWriteItem"' "X-Amz-Target: DynamoDB_20120810.BatchWriteItem"
like "$REQ" '"token":"TOKEN/for\+tls=="' "the session token is sent"
like "$REQ" "\"key\":\"$AWS_ACCESS_KEY_ID\",\"scope\":\"[0-9]{8}/us-east-1/dynamodb/aws4_request\",\"signed\":\"content-type;host;x-amz-date;x-amz-security-token;x-amz-target\",\"ok\":true" \
	"signed for us-east-1/dynamodb, the token among the signed headers, and the signature checks out"
ok no_secret "$T/tls.log" "the secret was not sent"
stop_pid "$TFPID"
stop_pid "$TLSDB_PID"

# --- credentials refused (a revoked key, an expired token): stop, no storm ----
AFRONT=$(start_front http://127.0.0.1:9 --auth 1)
"$GEN" -n 30 --seed 11 > "$T/auth.in"
AWS_ENDPOINT_URL_DYNAMODB=$AFRONT AWS_SESSION_TOKEN='EXPIRED/token==' "$PERSIST" -b 10 "$T/auth.in" \
	> "$T/auth.out" 2> "$T/auth.err"
is "$?" 69 "credentials refused: exit 69, for supervisord to act on"
like "$(cat "$T/auth.err")" 'stopping: .*UnrecognizedClientException.*security token included in the request is invalid' \
	"credentials refused: AWS's code and message on stderr"
is "$(wc -c < "$T/auth.out")" 0 "credentials refused: no record written out, none marked"
AREQ=$(front_stat "$AFRONT" requests)
ok test "$AREQ" -ge 1 -a "$AREQ" -le 3 "credentials refused: not retried ($AREQ requests for 3 batches in flight, no retry storm)"
stop_front "$AFRONT"
ok no_secret "$T"/*.err "no secret on any stderr"
done_testing
