#!/usr/bin/env bash
# Stats lines and --metrics-file (Prometheus text format, for node_exporter's
# textfile collector) of validate, persist, route and retry: the counters agree with what
# the tools did, the file is replaced whole (never half written), periodic
# lines come while the input flows, bad options are usage errors.
set -uo pipefail
cd "$(dirname "$0")/../.."

. tests/lib.sh
. tests/lib-persist.sh

# metric FILE NAME PROG: the value of event_processor_NAME{prog="PROG"}
metric() { awk -v k="event_processor_$2{prog=\"$3\"}" '$1 == k { print $2 }' "$1"; }

"$GEN" -n 1000 --invalid 5 --seed 23 > "$T/events"

# --- validate ------------------------------------------------------------------
"$VALIDATE" --metrics-file "$T/v.prom" < "$T/events" > "$T/v.out" 2> "$T/v.err"
is "$?" 0 "validate --metrics-file: exit 0"
INVALID=$(grep -c '"_error"' "$T/v.out")
is "$(metric "$T/v.prom" records_in_total validate)" 1000 "validate: records_in_total"
is "$(metric "$T/v.prom" invalid_total validate)" "$INVALID" "validate: invalid_total = the records marked ($INVALID)"
is "$(metric "$T/v.prom" valid_total validate)" $((1000 - INVALID)) "validate: valid_total"
like "$(cat "$T/v.prom")" '# TYPE event_processor_records_in_total counter' "validate: TYPE lines"
like "$(tail -1 "$T/v.err")" '^\{"prog":"validate","stats":"final","records_in":1000,"records_out":1000,' \
	"validate: a final stats line on stderr"
is "$(ls "$T" | grep -c 'v.prom.tmp')" 0 "validate: no temporary file left"
# The file is replaced whole: a reader in a tight loop, while validate runs
# after validate rewrite the same file, must only ever see a complete file
# of the same shape (every line there, the values aside), never a missing
# or half-written one.
cat > "$T/reader.js" <<'EOF'
const fs = require('fs');
const [file, stop, want] = process.argv.slice(2);
const shape = (t) => t.split('\n').map((l) => l.replace(/ [^ ]*$/, ' V')).join('\n');
const wantShape = shape(fs.readFileSync(want, 'utf8'));
let reads = 0, bad = 0, missing = 0, sample = '';
while (!fs.existsSync(stop)) {
	let t;
	try { t = fs.readFileSync(file, 'utf8'); } catch { missing++; continue; }
	reads++;
	if (shape(t) !== wantShape) { bad++; sample ||= JSON.stringify(t.slice(0, 60)); }
}
console.log(`${reads} ${bad} ${missing} ${sample}`);
EOF
head -20 "$T/events" > "$T/small"
"$VALIDATE" --metrics-file "$T/c.prom" < "$T/small" > /dev/null 2>&1
case $BUILD in */san) NREWRITE=60 ;; *) NREWRITE=200 ;; esac
node "$T/reader.js" "$T/c.prom" "$T/c.stop" "$T/v.prom" > "$T/reader.out" &
RDPID=$!
for ((i = 0; i < NREWRITE; i++)); do "$VALIDATE" --metrics-file "$T/c.prom" < "$T/small" > /dev/null 2>&1; done
touch "$T/c.stop"
wait "$RDPID"
read -r READS BAD MISSING SAMPLE < "$T/reader.out"
ok test "${READS:-0}" -ge 100 "a concurrent reader read the file ${READS:-0} times while it was replaced $NREWRITE times"
is "${BAD:-x}/${MISSING:-x}" 0/0 "the metrics file is never half written nor missing while it is replaced${SAMPLE:+ (saw $SAMPLE)}"
is "$(ls "$T" | grep -c 'c.prom.tmp')" 0 "no temporary file left after $NREWRITE rewrites"

"$VALIDATE" -q < "$T/events" 2> "$T/q.err"
is "$(wc -c < "$T/q.err")" 0 "validate -q: no stats line"

# periodic lines while records trickle in (one batch of 5 a second, 3 times)
{ for s in 1 2 3; do "$GEN" -n 5 --seed $s; sleep 1.1; done; } |
	"$VALIDATE" --stats-interval 1 > /dev/null 2> "$T/p.err"
ok test "$(grep -c '"stats":"periodic"' "$T/p.err")" -ge 1 "validate --stats-interval 1: periodic lines"
like "$(tail -1 "$T/p.err")" '"stats":"final","records_in":15,' "validate: the final line counts all 15"

"$VALIDATE" --metrics-file "$T/no/such/dir/m.prom" < /dev/null 2> "$T/e.err"
is "$?" 64 "validate: --metrics-file in a missing folder: exit 64"
like "$(cat "$T/e.err")" '^validate: --metrics-file: .*no/such/dir: No such file' "validate: says why"
"$VALIDATE" --stats-interval x < /dev/null 2> /dev/null
is "$?" 64 "validate: --stats-interval x: exit 64"

# --- persist ---------------------------------------------------------------------
start_dynalite MAIN
ok provision "$MAIN_URL" "table pismo provisioned"
AWS_ENDPOINT_URL_DYNAMODB=$MAIN_URL "$PERSIST" --metrics-file "$T/p.prom" < "$T/v.out" \
	> "$T/p.out" 2> "$T/persist.err"
is "$?" 0 "persist --metrics-file: exit 0"
is "$(metric "$T/p.prom" stored_total persist)" $((1000 - INVALID)) "persist: stored_total = the valid events"
is "$(metric "$T/p.prom" passed_total persist)" "$INVALID" "persist: passed_total = the invalid ones"
is "$(metric "$T/p.prom" requests_total persist)" "$(stat_of "$T/persist.err" final requests)" \
	"persist: requests_total = the final stats line's"
like "$(metric "$T/p.prom" request_latency_p99_seconds persist)" '^[0-9.e-]+$' "persist: a p99 latency gauge"

# --- route and retry ---------------------------------------------------------------
export AWS_ENDPOINT_URL_DYNAMODB=$MAIN_URL
start_sqs || bail_out "no SQS stand-in"
quietly with_timeout 60 scripts/provision.sh
ok test $? = 0 "queues provisioned"
"$BUILD/bin/route" -g uid --metrics-file "$T/r.prom" < "$T/p.out" > /dev/null 2> "$T/route.err"
is "$?" 0 "route --metrics-file: exit 0"
is "$(metric "$T/r.prom" routed_total route)" $((1000 - INVALID)) "route: routed_total = the valid events"
is "$(metric "$T/r.prom" to_dlq_total route)" "$INVALID" "route: to_dlq_total = the invalid ones"
is "$(metric "$T/r.prom" requests_total route)" "$(stat_of "$T/route.err" final requests)" \
	"route: requests_total = the final stats line's"
"$BUILD/bin/retry" --exit-when-empty --wait-time 1 --metrics-file "$T/rt.prom" 2> "$T/retry.err"
is "$?" 0 "retry --exit-when-empty --metrics-file: exit 0"
is "$(metric "$T/rt.prom" received_total retry)" 0 "retry: received_total 0 (retry.fifo was empty)"
like "$(metric "$T/rt.prom" requests_total retry)" '^[1-9][0-9]*$' "retry: its requests counted"
"$BUILD/bin/route" --metrics-file /no/such/dir/x < /dev/null 2> /dev/null
is "$?" 64 "route: --metrics-file in a missing folder: exit 64"

# --- kcat-in -------------------------------------------------------------------------
bg_start mock "$BUILD/bin/kafka-mock" -p 2
BOOT=$(_lib_first_line "$T/mock.out" "$BG_PID" 20 kafka-mock) || bail_out "no Kafka mock"
head -25 "$T/events" | kcat -P -b "$BOOT" -t stream_producer
"$BUILD/bin/kcat-in" -b "$BOOT" -G metrics -e -X session.timeout.ms=6000 -X auto.offset.reset=earliest \
	--metrics-file "$T/k.prom" > "$T/k.out" 2> "$T/k.err"
is "$?" 0 "kcat-in -e --metrics-file: exit 0"
is "$(metric "$T/k.prom" messages_total kcat-in)" 25 "kcat-in: messages_total = the messages produced"
is "$(metric "$T/k.prom" records_out_total kcat-in)" "$(wc -l < "$T/k.out")" "kcat-in: records_out_total = the lines written"
ok no_secret "$T"/*.err "$T"/*.prom "no secret on stderr or in the metrics"
done_testing
