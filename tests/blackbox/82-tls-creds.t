#!/usr/bin/env bash
# TLS and credentials on the SQS side, for route and retry (issue 7), and no
# secret in anything a whole run wrote.
#
# 1. SQS over https through a loopback TLS front (tests/data/tls): with the
#    test CA trusted through AWS_CA_BUNDLE route delivers and retry stores,
#    forwards and deletes; a certificate that does not verify (no
#    AWS_CA_BUNDLE, or another CA) stops each with exit 69 and one clear
#    line, before any request reaches the server, and nothing is lost (no
#    outcome written; retry.fifo keeps every message).
# 2. Temporary credentials: AWS_SESSION_TOKEN from the environment, and
#    aws_session_token from a credentials file (AWS_SHARED_CREDENTIALS_FILE
#    + AWS_PROFILE), are sent as X-Amz-Security-Token and signed: the front
#    checks each request's SigV4 signature against the secret of its key (the
#    stand-ins check none). A token refused (ExpiredToken,
#    InvalidClientTokenId, at start or mid-run) stops route and retry with
#    exit 69, said once, after a bounded number of requests; what was not
#    delivered stays where the next run finds it, and a later retry with good
#    credentials delivers every event once.
# 3. The looped pipeline (scripts/pipeline.sh: kcat-in | validate | persist |
#    route) and retry over 300 events, with distinctive values for
#    AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and a Kafka SASL password
#    (-X sasl.password=…), stats and metrics on every tool: no piece of any
#    secret (12-character windows, URL, JSON and base64 forms, the derived
#    SigV4 keys) in any file the run wrote — each stage's stdout and stderr,
#    the metrics files, the rejects, every item of the table, every message
#    of every queue — counted so that the search cannot pass on nothing.
#    kcat-in's error paths and librdkafka's debug output with the password.
set -uo pipefail
cd "$(dirname "$0")/../.."

. tests/lib.sh
. tests/lib-route.sh
. tests/lib-e2e.sh

# Distinctive values: a fragment of any of them in a file is a leak, not
# a coincidence.
export AWS_ACCESS_KEY_ID=AKIDTLSCREDS82
export AWS_SECRET_ACCESS_KEY='Qx7/zR2+wV9kLm3NpT5/hJ8+bC4dF6gS1aE0yUo8'
TOKEN='IQoJb3JpZ2luX2Vj82/TmPtOkEn+SeSsIoN/x9Vb4Rq7Lw2Zk8Hj5Nd3Fg6Ys1Ua0Tc9Xe4Wm7Pb2Qr8Kv5Ji3Hl6Gn1Ft0Dz4Cy7Bx2Aw9Mu5Le8Ko3Jp6Iq1Hr0Gs=='
FILE_ID=AKIDFROMFILE82
FILE_SECRET='Fl8/cRdSfIlE+sEcReT4Kq2Wv6Yx0Zn3Mb7Pj1Rt5'
FILE_TOKEN='FwoGZXIvYXdzEFiLe/tOkEn+from+the+profile7Hq2Nw5Xc8Vb1Mz4Lk6Jg9Df3Sa0'
SASL_PW='kAfKa-SaSl-pW.7Tq3Xv9Rz2Lm5Nb8'
unset AWS_SESSION_TOKEN
CA=tests/data/tls/loopback.crt
# Each front checks signatures with the secret of the key that signed.
export FRONT_SECRETS="{\"$AWS_ACCESS_KEY_ID\":\"$AWS_SECRET_ACCESS_KEY\",\"$FILE_ID\":\"$FILE_SECRET\"}"
FAST=(--base-delay 250ms --max-delay 1s --wait-time 1)

# front NAME UPSTREAM [--tls DIR] [--refuse CODE [--ops LIST]]: its URL;
# the request log in $T/NAME.log
front() {
	local name=$1 up=$2
	shift 2
	: > "$T/$name.log"
	bg_start "$name" node tests/tools/tls-front.mjs --upstream "$up" --log "$T/$name.log" "$@"
	_lib_first_line "$T/$name.out" "$BG_PID" 30 "front $name"
}
# fl LOG KEY…: from a front's log, each KEY's value, joined by "/":
# requests, tls_errors (clients that refused the certificate), bad_sig
# (signatures that do not check out), OP and OP! (requests of operation OP
# forwarded, refused), and the distinct values sent (space-separated, "-"
# for none): tokens, keys, signed (the SignedHeaders lists). Perl, not node:
# it is called often, and starts in a tenth of the time.
fl() {
	perl -MJSON::PP -e '
		my $log = shift @ARGV;
		my (%n, %seen, %list);
		open(my $f, "<", $log) or die "$log: $!";
		while (<$f>) {
			my $o = decode_json($_);
			if (defined $o->{tls_error}) { $n{tls_errors}++; next }
			$n{requests}++;
			$n{$o->{op} . ($o->{refused} ? "!" : "")}++;
			$n{bad_sig}++ unless $o->{ok};
			for (["tokens", "token"], ["keys", "key"], ["signed", "signed"]) {
				my ($name, $k) = @$_;
				my $v = $o->{$k} // "-";
				push @{$list{$name}}, $v unless $seen{$name}{$v}++;
			}
		}
		print join "/", map { $list{$_} ? join(" ", @{$list{$_}}) : /^(tokens|keys|signed)$/ ? "" : $n{$_} // 0 } @ARGV;' "$@"
}
lacks() { ! grep -qF -- "$1" "$2"; }
# errors FILE: the lines of FILE that are not stats lines
errors() { grep -v '"stats":"' "$1"; }
# mkqueue NAME: a FIFO queue of its own (so one case's messages, in flight
# or backing off, never meet another's)
mkqueue() {
	aws_call sqs CreateQueue "{\"QueueName\":\"$1\",\"Attributes\":{\"FifoQueue\":\"true\",\"ContentBasedDeduplication\":\"true\"}}" > /dev/null
}
# seed_retry QUEUE FILE: FILE's events in QUEUE as route puts events
# persist could not store (envelopes, attempt 1), straight to fauxqs
seed_retry() {
	sed 's/}$/,"_error":{"stage":"persist","code":"connection","reason":"DynamoDB BatchWriteItem: test","retryable":true}}/' "$2" |
		"$ROUTE" --retry-queue "$1" > /dev/null 2> "$T/seed.err"
}
# drain DIR QUEUE…: each queue's messages into DIR/QUEUE, deleting them
# (side by side: each is a node process)
CQ=(Client_A.fifo Client_B.fifo Client_C.fifo Client_D.fifo)
drain() {
	local dir=$1 q pids=()
	shift
	mkdir -p "$dir"
	for q in "$@"; do
		sqs_receive_all "$q" 0 > "$dir/$q" &
		pids+=($!)
	done
	wait "${pids[@]}"
}
# dv IN DIR: the client queues drained into DIR against IN's events (its
# lines without "_error", which route sends as they are):
# "missing/repeated/extra/misrouted"
dv() {
	perl -MJSON::PP -e '
		my ($in, $dir) = @ARGV;
		my (%want, %got, $rep, $extra, $mis);
		open(my $f, "<", $in) or die "$in: $!";
		while (<$f>) { chomp; $want{$_} = decode_json($_)->{client} unless /"_error"/ }
		for my $c (qw(Client_A Client_B Client_C Client_D)) {
			open(my $q, "<", "$dir/$c.fifo") or die "$dir/$c.fifo: $!";
			while (<$q>) {
				chomp;
				if (!exists $want{$_}) { $extra++ }
				elsif ($got{$_}++) { $rep++ }
				elsif ($want{$_} ne $c) { $mis++ }
			}
		}
		printf "%d/%d/%d/%d", scalar(grep { !$got{$_} } keys %want), $rep // 0, $extra // 0, $mis // 0;' "$1" "$2"
}
# shape of the headers every request should carry with a token
SIGNED_WITH_TOKEN='content-type;host;x-amz-date;x-amz-security-token;x-amz-target'

ok start_standins "dynalite and fauxqs started, table and six queues provisioned" || bail_out "no stand-ins"
TF=$(front tls "$SQS_URL" --tls "$PWD/tests/data/tls") || bail_out "no TLS front"
TDF=$(front tlsddb "$DDB_URL" --tls "$PWD/tests/data/tls") || bail_out "no TLS front for DynamoDB"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/other.key" \
	-out "$T/other-ca.crt" -days 2 -subj "/CN=another test CA" -addext subjectAltName=IP:127.0.0.1 \
	> /dev/null 2>&1
ok test -s "$T/other-ca.crt" "a CA of its own that did not sign the front's certificate"

# --- 1. TLS: route -----------------------------------------------------------------------
"$GEN" -n 40 --invalid 10 --seed 821 > "$T/tls.in"
"$VALIDATE" < "$T/tls.in" > "$T/tls.v" 2> /dev/null
NV=$(grep -vc '"_error"' "$T/tls.v")
for how in none other; do
	: > "$T/tls.log"
	if [ $how = none ]; then ca=(); what="no AWS_CA_BUNDLE"; else ca=(AWS_CA_BUNDLE=$T/other-ca.crt); what="another CA"; fi
	with_timeout 60 env "${ca[@]}" AWS_ENDPOINT_URL_SQS="$TF" "$ROUTE" "$T/tls.v" > "$T/r-$how.out" 2> "$T/r-$how.err"
	is "$?" 69 "route, $what: the certificate does not verify: exit 69"
	like "$(errors "$T/r-$how.err")" '^route: SQS GetQueueUrl: SSL certificate problem: [^
]*\(after 1 attempt\)$' "route, $what: one line on stderr (besides the stats), naming the request and the certificate problem"
	is "$(wc -c < "$T/r-$how.out")" 0 "route, $what: no outcome written (nothing acknowledged upstream)"
	# one handshake per queue looked up (retry.fifo, the DLQ), none again
	read -r n e <<< "$(fl "$T/tls.log" requests tls_errors | tr / ' ')"
	ok test "$n" = 0 -a "$e" -le 2 "route, $what: no request reached the server, no handshake retried ($e refused)"
done
: > "$T/tls.log"
AWS_CA_BUNDLE=$CA AWS_ENDPOINT_URL_SQS="$TF" with_timeout 60 "$ROUTE" "$T/tls.v" > "$T/r-ok.out" 2> "$T/r-ok.err"
is "$?" 0 "route, AWS_CA_BUNDLE trusts the test CA: exit 0"
is "$(grep -c '"_out":{"queue":"Client_' "$T/r-ok.out")/$(grep -c '"_out":{"queue":"dlq.fifo"' "$T/r-ok.out")" \
	"$NV/$((40 - NV))" "route over https: each event to its client's queue, each invalid record to the DLQ"
drain "$T/q-tls" "${CQ[@]}" dlq.fifo
is "$(dv "$T/tls.v" "$T/q-tls")/$(wc -l < "$T/q-tls/dlq.fifo")" "0/0/0/0/$((40 - NV))" \
	"route over https: the client queues hold exactly the $NV events, once each; the DLQ the invalid records"
is "$(fl "$T/tls.log" bad_sig tokens)" "0/-" "route over https: every request signed right, no token sent (none set)"
# the front's check is no rubber stamp: signed with another secret, every
# request fails it (fauxqs itself takes them)
: > "$T/tls.log"
AWS_SECRET_ACCESS_KEY=not/the/secret/the/front/knows AWS_CA_BUNDLE=$CA AWS_ENDPOINT_URL_SQS="$TF" \
	with_timeout 60 "$ROUTE" "$T/tls.v" > /dev/null 2>&1
read -r n e <<< "$(fl "$T/tls.log" requests bad_sig | tr / ' ')"
ok test "$n" -gt 0 -a "$e" = "$n" "the front's signature check fails each of $n requests signed with another secret"

# --- 1. TLS: retry -----------------------------------------------------------------------
"$GEN" -n 12 --seed 822 > "$T/rt.in"
mkqueue tls-retry.fifo
seed_retry tls-retry.fifo "$T/rt.in"
is "$(sqs_count tls-retry.fifo)" 12 "12 events waiting in a retry queue"
for how in none other; do
	: > "$T/tls.log"
	if [ $how = none ]; then ca=(); what="no AWS_CA_BUNDLE"; else ca=(AWS_CA_BUNDLE=$T/other-ca.crt); what="another CA"; fi
	with_timeout 60 env "${ca[@]}" AWS_ENDPOINT_URL_SQS="$TF" "$RETRY" --queue tls-retry.fifo --exit-when-empty "${FAST[@]}" \
		> "$T/y-$how.out" 2> "$T/y-$how.err"
	is "$?" 69 "retry, $what: the certificate does not verify: exit 69"
	like "$(errors "$T/y-$how.err")" '^\{"prog":"retry","level":"warn","msg":"SQS GetQueueUrl: SSL certificate problem: [^
]*\(after 1 attempt\)"\}$' "retry, $what: one line on stderr (besides the stats), naming the request and the certificate problem"
	is "$(fl "$T/tls.log" requests)/$(sqs_count tls-retry.fifo)" "0/12" \
		"retry, $what: no request reached the server; every message still in the retry queue"
done
: > "$T/tls.log"
BEFORE=$(ddb_count pismo)
AWS_CA_BUNDLE=$CA AWS_ENDPOINT_URL_SQS="$TF" AWS_ENDPOINT_URL_DYNAMODB="$TDF" AWS_SESSION_TOKEN="$TOKEN" \
	with_timeout 60 "$RETRY" --queue tls-retry.fifo --exit-when-empty "${FAST[@]}" > "$T/y-ok.out" 2> "$T/y-ok.err"
is "$?" 0 "retry, AWS_CA_BUNDLE trusts the test CA (SQS and DynamoDB over https): exit 0"
is "$(sqs_count tls-retry.fifo)/$(stat_of "$T/y-ok.err" final succeeded)" "0/12" \
	"retry over https: 12 attempts succeeded, every message deleted"
is "$(($(ddb_count pismo) - BEFORE))" 12 "retry over https: the 12 items stored"
drain "$T/q-rt" "${CQ[@]}"
is "$(dv "$T/rt.in" "$T/q-rt")" "0/0/0/0" "retry over https: each event forwarded to its client's queue once"

# --- 2. temporary credentials: sent and signed -------------------------------------------
# AWS_SESSION_TOKEN: the retry run above, on both services
is "$(fl "$T/tls.log" tokens signed bad_sig keys)" "$TOKEN/$SIGNED_WITH_TOKEN/0/$AWS_ACCESS_KEY_ID" \
	"retry, AWS_SESSION_TOKEN: on every SQS request, as X-Amz-Security-Token, among the SignedHeaders; every signature checks out"
is "$(fl "$T/tlsddb.log" tokens signed bad_sig)" "$TOKEN/$SIGNED_WITH_TOKEN/0" \
	"retry, AWS_SESSION_TOKEN: the same on every DynamoDB request"
# and route (the same events again: SQS drops them as repeats, which is
# fine here: the requests are what is looked at)
: > "$T/tls.log"
AWS_CA_BUNDLE=$CA AWS_ENDPOINT_URL_SQS="$TF" AWS_SESSION_TOKEN="$TOKEN" with_timeout 60 "$ROUTE" "$T/tls.v" \
	> "$T/r-tok.out" 2> "$T/r-tok.err"
is "$?" 0 "route, AWS_SESSION_TOKEN: exit 0"
is "$(fl "$T/tls.log" tokens signed bad_sig keys)" "$TOKEN/$SIGNED_WITH_TOKEN/0/$AWS_ACCESS_KEY_ID" \
	"route, AWS_SESSION_TOKEN: on every request, among the SignedHeaders; every signature checks out"

# aws_session_token from a profile of the credentials file
printf '%s\n' '[default]' 'aws_access_key_id = AKIDWRONGPROFILE' 'aws_secret_access_key = not/the/one/to/use' \
	'[temp]' "aws_access_key_id = $FILE_ID" "aws_secret_access_key = $FILE_SECRET" \
	"aws_session_token = $FILE_TOKEN" > "$T/credentials"
FILECREDS=(-u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN
	AWS_SHARED_CREDENTIALS_FILE=$T/credentials AWS_PROFILE=temp AWS_CA_BUNDLE=$CA AWS_ENDPOINT_URL_SQS=$TF)
: > "$T/tls.log"
with_timeout 60 env "${FILECREDS[@]}" "$ROUTE" -v "$T/tls.v" > "$T/r-file.out" 2> "$T/r-file.err"
is "$?" 0 "route, the credentials file's profile [temp]: exit 0"
like "$(cat "$T/r-file.err")" "credentials from $T/credentials profile \\[temp\\]" "route -v names where the credentials came from"
is "$(fl "$T/tls.log" keys tokens signed bad_sig)" "$FILE_ID/$FILE_TOKEN/$SIGNED_WITH_TOKEN/0" \
	"route, credentials file: the profile's key, its aws_session_token sent and signed on every request, the profile's secret"
"$GEN" -n 12 --seed 825 > "$T/rt-file.in"
mkqueue file-retry.fifo
seed_retry file-retry.fifo "$T/rt-file.in"
: > "$T/tls.log"
with_timeout 60 env "${FILECREDS[@]}" "$RETRY" --queue file-retry.fifo --exit-when-empty "${FAST[@]}" \
	> "$T/y-file.out" 2> "$T/y-file.err"
is "$?" 0 "retry, the credentials file's profile [temp]: exit 0"
is "$(sqs_count file-retry.fifo)/$(stat_of "$T/y-file.err" final succeeded)" "0/12" "retry, credentials file: all 12 delivered and deleted"
is "$(fl "$T/tls.log" keys tokens signed bad_sig)" "$FILE_ID/$FILE_TOKEN/$SIGNED_WITH_TOKEN/0" \
	"retry, credentials file: the profile's key, its token sent and signed on every request, the profile's secret"
drain "$T/q-file" "${CQ[@]}"
is "$(dv "$T/rt-file.in" "$T/q-file")" "0/0/0/0" "retry, credentials file: each event forwarded once"

# --- 2. a token refused: exit 69 at once, said once, no storm ---------------------------
"$GEN" -n 2000 --seed 823 > "$T/many.in"
EXP=$(front expired "$SQS_URL" --refuse ExpiredToken)
AWS_ENDPOINT_URL_SQS=$EXP AWS_SESSION_TOKEN="$TOKEN" with_timeout 60 "$ROUTE" "$T/many.in" > "$T/r-exp.out" 2> "$T/r-exp.err"
is "$?" 69 "route, ExpiredToken: exit 69"
like "$(errors "$T/r-exp.err")" '^route: SQS GetQueueUrl: HTTP 400 ExpiredToken: The security token included in the request is expired \(after 1 attempt\)$' \
	"route, ExpiredToken: one line, AWS's code and message"
is "$(wc -c < "$T/r-exp.out")/$(stat_of "$T/r-exp.err" final records_in)" "0/0" "route, ExpiredToken: nothing read, no outcome"
n=$(fl "$T/expired.log" requests)
ok test "$n" -le 2 "route, ExpiredToken: not retried ($n requests: the two queue lookups)"
note "route, ExpiredToken: stopped after $(stat_of "$T/r-exp.err" final elapsed_s) s"

# refused mid-run: the lookups pass, every send is refused
SEND=$(front refusesend "$SQS_URL" --refuse InvalidClientTokenId --ops SendMessageBatch)
for g in client uid; do
	: > "$T/refusesend.log"
	AWS_ENDPOINT_URL_SQS=$SEND AWS_SESSION_TOKEN="$TOKEN" with_timeout 60 "$ROUTE" -g $g -i 8 "$T/many.in" \
		> "$T/r-ict-$g.out" 2> "$T/r-ict-$g.err"
	is "$?" 69 "route -g $g, InvalidClientTokenId on SendMessageBatch: exit 69"
	like "$(errors "$T/r-ict-$g.err")" '^route: SQS SendMessageBatch: HTTP 403 InvalidClientTokenId: The security token included in the request is invalid\. \(after 1 attempt\)
route: [0-9]+ records left without an outcome \(not acknowledged\)$' "route -g $g: the reason once, then how many records have no outcome"
	is "$(wc -c < "$T/r-ict-$g.out")" 0 "route -g $g: no outcome written"
	# at most what was on the wire at once (-i 8): the batches still held
	# are not sent once the credentials were refused
	n=$(fl "$T/refusesend.log" 'SendMessageBatch!')
	ok test "$n" -ge 1 -a "$n" -le 8 "route -g $g: $n refused sends for $(stat_of "$T/r-ict-$g.err" final records_in) records held, no storm (at most -i 8)"
	note "route -g $g, InvalidClientTokenId: stopped after $(stat_of "$T/r-ict-$g.err" final elapsed_s) s"
done

# retry, refused at start
mkqueue exp-retry.fifo
seed_retry exp-retry.fifo "$T/rt.in"
: > "$T/expired.log"
AWS_ENDPOINT_URL_SQS=$EXP AWS_SESSION_TOKEN="$TOKEN" with_timeout 60 "$RETRY" --queue exp-retry.fifo --exit-when-empty "${FAST[@]}" \
	> /dev/null 2> "$T/y-exp.err"
is "$?" 69 "retry, ExpiredToken: exit 69"
like "$(errors "$T/y-exp.err")" '^\{"prog":"retry","level":"warn","msg":"SQS GetQueueUrl: HTTP 400 ExpiredToken: The security token included in the request is expired \(after 1 attempt\)"\}$' \
	"retry, ExpiredToken: one line, AWS's code and message"
n=$(fl "$T/expired.log" requests)
is "$(test "$n" -le 2 && echo bounded)/$(sqs_count exp-retry.fifo)" "bounded/12" \
	"retry, ExpiredToken: not retried ($n requests: the two queue lookups); every message still in the retry queue"

# retry, refused mid-run: on the receive, on the send, on the delete. Each
# case has its queue, its events and its front, so the three run side by
# side: a refused run, then (its messages in hand back after a short
# visibility) a run with good credentials.
OPS=(ReceiveMessage SendMessageBatch DeleteMessage)
seed=830
for op in "${OPS[@]}"; do
	seed=$((seed + 1))
	"$GEN" -n 12 --seed $seed > "$T/rt-$op.in"
	mkqueue "refuse-$op.fifo"
	seed_retry "refuse-$op.fifo" "$T/rt-$op.in"
	front "refuse-$op" "$SQS_URL" --refuse InvalidClientTokenId --ops "$op" > "$T/refuse-$op.url" || bail_out "no front"
done
refused_case() { # OP
	local op=$1 q=refuse-$1.fifo
	AWS_ENDPOINT_URL_SQS=$(cat "$T/refuse-$op.url") AWS_SESSION_TOKEN="$TOKEN" with_timeout 60 "$RETRY" --queue "$q" \
		--exit-when-empty "${FAST[@]}" -i 4 --visibility-timeout 2 > /dev/null 2> "$T/y-$op.err"
	echo $? > "$T/y-$op.rc"
	sqs_count "$q" > "$T/y-$op.left"
	with_timeout 60 "$RETRY" --queue "$q" --exit-when-empty "${FAST[@]}" > /dev/null 2> "$T/y-$op-after.err"
	echo "$?/$(sqs_count "$q")" > "$T/y-$op-after.rc"
}
pids=()
for op in "${OPS[@]}"; do
	refused_case "$op" &
	pids+=($!)
done
wait "${pids[@]}"
drain "$T/q-refused" "${CQ[@]}" dlq.fifo
cat "$T"/rt-{ReceiveMessage,SendMessageBatch,DeleteMessage}.in > "$T/rt-refused.in"
for op in "${OPS[@]}"; do
	is "$(cat "$T/y-$op.rc")" 69 "retry, InvalidClientTokenId on $op: exit 69"
	like "$(errors "$T/y-$op.err" | head -1)" "^\\{\"prog\":\"retry\",\"level\":\"warn\",\"msg\":\"SQS $op: HTTP 403 InvalidClientTokenId: The security token included in the request is invalid\\. \\(after 1 attempt\\)\"\\}\$" \
		"retry, $op refused: the reason"
	is "$(grep -c InvalidClientTokenId "$T/y-$op.err")" 1 "retry, $op refused: said once"
	n=$(fl "$T/refuse-$op.log" "$op!")
	ok test "$n" -ge 1 -a "$n" -le 4 "retry, $op refused: $n refused, no storm (at most -i 4)"
	# what it held when it stopped, it says it left (or nothing more, when
	# the refusals ended every message in hand first)
	held=$(stat_of "$T/y-$op.err" final in_hand)
	if [ "${held:-0}" -gt 0 ]; then
		like "$(errors "$T/y-$op.err" | tail -n +2)" "^\\{\"prog\":\"retry\",\"level\":\"warn\",\"msg\":\"$held messages? in hand left in refuse-$op\\.fifo \\(they come back after their visibility timeout\\)\"\\}\$" \
			"retry, $op refused: it says it left the $held messages in hand in the queue"
	else
		is "$(errors "$T/y-$op.err" | wc -l)" 1 "retry, $op refused: nothing in hand, nothing more said"
	fi
	is "$(cat "$T/y-$op.left")" 12 "retry, $op refused: nothing deleted, all 12 still in the retry queue"
	is "$(cat "$T/y-$op-after.rc")" "0/0" "retry, $op refused: the next run, with good credentials, empties the queue"
done
is "$(dv "$T/rt-refused.in" "$T/q-refused")/$(wc -l < "$T/q-refused/dlq.fifo")" "0/0/0/0/0" \
	"retry, refused then good credentials: every event of the three in its client's queue once, none in the DLQ"

# --- 3. kcat-in and the SASL password: never echoed --------------------------------------
ok e2e_kafka -p 4 "kafka-mock with 4 partitions"
KX=(-X sasl.username=ep-user -X "sasl.password=$SASL_PW")
with_timeout 30 "$KIN" --help "${KX[@]}" > "$T/k-help.out" 2> "$T/k-help.err"
is "$?" 0 "kcat-in --help with the password among the options: exit 0"
with_timeout 30 "$KIN" -b "$BOOT" "${KX[@]}" -X no.such.property=1 > /dev/null 2> "$T/k-prop.err"
is "$?" 78 "kcat-in, an unknown -X property beside the password: exit 78"
with_timeout 30 "$KIN" -b "$BOOT" "${KX[@]}" -X security.protocol=SASL_PLAINTEXT -X sasl.mechanism=NOPE > /dev/null 2> "$T/k-mech.err"
is "$?" 78 "kcat-in, an unknown SASL mechanism: exit 78"
with_timeout 30 "$KIN" -b "$BOOT" "${KX[@]}" --no-such-option > /dev/null 2> "$T/k-usage.err"
is "$?" 64 "kcat-in, a bad option beside the password: exit 64"
# SASL against the mock (it does not speak SASL): the connection fails;
# librdkafka's configuration dump and security debug lines are on
with_timeout 60 "$KIN" -v -b "$BOOT" -G sasl "${KX[@]}" -X security.protocol=SASL_PLAINTEXT -X sasl.mechanism=PLAIN \
	-X debug=conf,security,broker --connect-timeout 3 -e --stats-interval 1 > /dev/null 2> "$T/k-sasl.err"
is "$?" 69 "kcat-in, SASL_PLAINTEXT against the mock: exit 69 (the mock has no SASL)"
like "$(cat "$T/k-sasl.err")" 'sasl\.password = \[redacted\]' "kcat-in -v with debug=conf: the configuration dump ran, the password redacted"
for f in k-help.out k-help.err k-prop.err k-mech.err k-usage.err k-sasl.err; do
	ok lacks "$SASL_PW" "$T/$f" "kcat-in: the password is not in $f"
done
# An argument kcat-in cannot take is named, never echoed: its value may be
# the password.
with_timeout 30 "$KIN" -b "$BOOT" -X "sasl.pasword=$SASL_PW" > /dev/null 2> "$T/k-typo.err"
is "$?" 78 "kcat-in, a misspelt property (sasl.pasword=…): exit 78"
like "$(cat "$T/k-typo.err")" '^kcat-in: -X sasl\.pasword: ' "… the property named"
ok lacks "$SASL_PW" "$T/k-typo.err" "… the value not echoed"
with_timeout 30 "$KIN" -b "$BOOT" -X "sasl.password:$SASL_PW" > /dev/null 2> "$T/k-noeq.err"
is "$?" 64 "kcat-in, -X without '=' (sasl.password:…): exit 64"
ok lacks "$SASL_PW" "$T/k-noeq.err" "… the argument not echoed"

# --- 3. the whole run: no secret in anything it wrote -----------------------------------
export AWS_SESSION_TOKEN=$TOKEN
drain "$T/leftovers" "${QUEUES[@]}" # the cases' leftovers: the run's queues start empty
TABLE_BEFORE=$(ddb_count pismo)
R=$T/run # every file of the run, and nothing else
mkdir -p "$R"
N=300
"$GEN" -n $N --invalid 3 --seed 824 --broken-list "$T/e2e.broken" > "$T/e2e.events"
# valid: the lines the generator did not break (its list, not validate, says)
awk 'NR == FNR { b[$1] = 1; next } !(FNR in b)' "$T/e2e.broken" "$T/e2e.events" | sort > "$T/e2e.valid"
NVALID=$(lines "$T/e2e.valid")
"$PRODUCE" -b "$BOOT" -t stream_producer -k uid < "$T/e2e.events"
is "$?" 0 "$N events ($NVALID valid) in the topic"
# DynamoDB answers the first two writes 5xx and persist tries once: those
# events take the retry path, so retry has work to do
DFAULT=$(start_front "$DDB_URL" --error5xx first:2 --ops BatchWriteItem --quiet)
: > "$T/tls.log"
SI=(--stats-interval 1)
# (pipeline.sh takes its stages on one line)
STAGES="tee $R/kcat-in.out | validate ${SI[*]} --metrics-file $R/validate.prom 2> $R/validate.err | tee $R/validate.out"
STAGES+=" | env AWS_MAX_ATTEMPTS=1 AWS_ENDPOINT_URL_DYNAMODB=$DFAULT persist ${SI[*]} --metrics-file $R/persist.prom"
STAGES+=" 2> $R/persist.err | tee $R/persist.out"
STAGES+=" | route ${SI[*]} --metrics-file $R/route.prom 2> $R/route.err | tee $R/route.out"
AWS_CA_BUNDLE=$CA AWS_ENDPOINT_URL_SQS=$TF with_timeout 120 "$PIPELINE" --stages "$STAGES" -- \
	-b "$BOOT" -G secrets "${E2E_X[@]}" "${KX[@]}" -v -X debug=conf,security -e "${SI[@]}" \
	--metrics-file "$R/kcat-in.prom" > "$R/pipeline.out" 2> "$R/pipeline.err"
is "$?" 0 "pipeline.sh -e (route over https with the token, the SASL password set): every stage exits 0"
TO_RETRY=$(stat_of "$R/route.err" final to_retry)
ok test "${TO_RETRY:-0}" -ge 2 "route sent ${TO_RETRY:-0} events to retry.fifo (the failed writes)"
AWS_CA_BUNDLE=$CA AWS_ENDPOINT_URL_SQS=$TF with_timeout 60 "$RETRY" --exit-when-empty "${FAST[@]}" "${SI[@]}" \
	--metrics-file "$R/retry.prom" > "$R/retry.out" 2> "$R/retry.err"
is "$?/$(stat_of "$R/retry.err" final succeeded)" "0/$TO_RETRY" "retry stored and delivered them all"
# validate --rejects takes invalid records off the pipe (kcat-in would wait
# for their outcomes for ever): a run of its own, in the same environment
"$VALIDATE" --rejects "$R/rejects.ndjson" "${SI[@]}" --metrics-file "$R/rejects.prom" < "$T/e2e.events" \
	> "$R/rejects-valid.out" 2> "$R/rejects.err"
is "$(fl "$T/tls.log" tokens signed bad_sig)" "$TOKEN/$SIGNED_WITH_TOKEN/0" \
	"the whole run: every one of $(fl "$T/tls.log" requests) SQS requests carried the token, signed right"
ddb_scan pismo > "$R/table.items"
drain "$R/queues" "${QUEUES[@]}"

# What the search must have seen: every file, with the counts expected.
is "$(($(lines "$R/table.items") - TABLE_BEFORE))" "$NVALID" "the table's items, scanned: the $NVALID valid events"
is "$(cat "$R"/queues/Client_*.fifo | wc -l)" "$NVALID" "the client queues' messages, received: the $NVALID valid events"
is "$(lines "$R/queues/dlq.fifo")/$(lines "$R/rejects.ndjson")" "$((N - NVALID))/$((N - NVALID))" \
	"the DLQ's messages and the rejects file: the $((N - NVALID)) invalid ones"
is "$(lines "$R/queues/retry.fifo")" 0 "retry.fifo: empty"
is "$(lines "$R/kcat-in.out")/$(lines "$R/validate.out")/$(lines "$R/persist.out")/$(lines "$R/route.out")" "$N/$N/$N/$N" \
	"each stage's stdout: $N records"
missing=
for t in kcat-in validate persist route retry rejects; do
	grep -q '^# TYPE' "$R/$t.prom" 2> /dev/null || missing="$missing $t.prom"
done
for f in validate.err persist.err route.err retry.err pipeline.err; do
	grep -q '"stats":"final"' "$R/$f" || missing="$missing $f"
done
grep -q '"stats":"periodic"' "$R/route.err" || missing="$missing route.err(periodic)"
grep -q 'sasl.password = \[redacted\]' "$R/pipeline.err" || missing="$missing pipeline.err(debug)"
is "$missing" "" "every metrics file written, every stderr with its stats (kcat-in's with its debug lines)"

# The search: every 12-character piece of each secret, as it is and as
# URL, JSON or base64 could carry it, and the SigV4 keys derived from the
# AWS secret (a signing bug would print those); 8-character pieces of the
# shorter password.
node -e '
	const crypto = require("crypto");
	const [secret, token, fileSecret, fileToken, pw] = process.argv.slice(1);
	const out = new Set();
	const forms = (s) => [s, encodeURIComponent(s), JSON.stringify(s).slice(1, -1).replace(/\//g, "\\/"),
		Buffer.from(s).toString("base64"), Buffer.from(s).toString("base64url"), Buffer.from(s).toString("hex")];
	const windows = (s, w) => { for (let i = 0; i + w <= s.length; i++) out.add(s.slice(i, i + w)); };
	// 12 characters of a secret are no coincidence; 8 of the password in
	// its own alphabet neither (in hex they could be: 12 there too)
	for (const s of [secret, token, fileSecret, fileToken]) for (const f of forms(s)) windows(f, 12);
	forms(pw).forEach((f, i) => windows(f, i < 3 ? 8 : 12));
	const hmac = (k, s) => crypto.createHmac("sha256", k).update(s).digest();
	for (const day of [0, -1, 1]) {
		const date = new Date(Date.now() + day * 86400e3).toISOString().slice(0, 10).replace(/-/g, "");
		for (const s of [secret, fileSecret]) {
			let k = hmac("AWS4" + s, date);
			out.add(k.toString("hex")); out.add(k.toString("base64"));
			for (const p of ["us-east-1", "sqs", "dynamodb"]) {
				const kk = hmac(hmac(hmac(k, "us-east-1"), p), "aws4_request");
				out.add(kk.toString("hex")); out.add(kk.toString("base64"));
			}
		}
	}
	process.stdout.write([...out].join("\n") + "\n");' \
	"$AWS_SECRET_ACCESS_KEY" "$TOKEN" "$FILE_SECRET" "$FILE_TOKEN" "$SASL_PW" > "$T/patterns"
leaks() { grep -rFo -f "$T/patterns" "$@" | head -5; }
# the search finds what it looks for: a piece of each, planted
mkdir -p "$T/planted"
echo "x-amz-security-token=$(node -e 'process.stdout.write(encodeURIComponent(process.argv[1]))' "$TOKEN")" > "$T/planted/1"
echo "{\"k\":\"${AWS_SECRET_ACCESS_KEY//\//\\/}\"}" > "$T/planted/2"
echo "password ${SASL_PW:5:9}..." > "$T/planted/3"
echo "${FILE_SECRET:10:13}" > "$T/planted/4"
is "$(grep -lF -f "$T/patterns" "$T"/planted/* | wc -l)" 4 \
	"the search finds a planted URL-encoded token, a JSON-escaped secret, a piece of the password and of the file's secret"
FILES=$(find "$R" -type f | wc -l)
BYTES=$(find "$R" -type f -exec cat {} + | wc -c)
ok test "$FILES" -ge 25 -a "$BYTES" -gt 100000 "the run wrote $FILES files, $BYTES bytes, all searched"
is "$(leaks "$R")" "" "no piece of any secret (AWS secret, session token, SASL password) in anything the run wrote"
is "$(leaks "$T"/r-*.err "$T"/y-*.err "$T"/k-{help,prop,mech,usage,sasl}.err "$T"/seed.err)" "" \
	"nor on any stderr of the cases above (but the two known kcat-in echoes)"

done_testing
