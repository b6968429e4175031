#!/usr/bin/env bash
# scripts/pipeline.sh with stand-in stages (validate, tee, tac, cat) in
# place of persist and route: the loop closes through the FIFO, offsets are
# committed up to the end, SIGTERM drains every stage and exits 0, a failing
# stage makes the whole exit non-zero, and nothing hangs when kcat-in fails.
set -uo pipefail
cd "$(dirname "$0")/../.."

. tests/lib.sh

P=scripts/pipeline.sh
MOCK=$BUILD/bin/kafka-mock
GEN=$BUILD/bin/gen-events
N=500
X=(-X session.timeout.ms=6000 -X heartbeat.interval.ms=500 -X fetch.wait.max.ms=100)

PIDS=()
stop_all() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ -n "${MOCK_PID:-}" ] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null
}
_prev_exit=$(trap -p EXIT | sed "s/^trap -- '\(.*\)' EXIT$/\1/")
trap "stop_all; $_prev_exit" EXIT

wait_for() {
	local end=$((SECONDS + $1)); shift
	until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.1; done
}
lines() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }
at_least() { [ "$(lines "$1")" -ge "$2" ]; }
stat_of() { grep '"stats":"final"' "$1" | tail -1 | perl -MJSON::PP -ne 'print decode_json($_)->{'"$2"'}'; }

like "$("$P" --help)" '--stages' "--help documents --stages"
"$P" --bogus 2> /dev/null; is "$?" 64 "unknown option: 64"

"$MOCK" -p 4 > "$T/mock.out" 2> "$T/mock.err" &
MOCK_PID=$!
wait_for 10 at_least "$T/mock.out" 1
BOOT=$(head -1 "$T/mock.out")
if [ -x "$GEN" ]; then
	"$GEN" -n $N --seed 41 > "$T/events"
else
	diag "no $GEN yet: events from awk"
	awk -v n=$N 'BEGIN { for (i = 1; i <= n; i++)
		printf "{\"uid\":\"%08d-0000-4000-8000-%012d\",\"context\":\"integrações\",\"event_type\":\"INSERT\",\"client\":\"Client_B\",\"created_at\":\"2024-09-10T04:17:09Z\"}\n", i, i }' > "$T/events"
fi
echo 'not an event' >> "$T/events"
M=$((N + 1))
awk '{ print NR "\t" $0 }' "$T/events" | kcat -P -b "$BOOT" -t stream_producer -K '\t' -z lz4
ENDS=$(kcat -C -b "$BOOT" -t stream_producer -e -q -f '%p %o\n' |
	awk '{ if ($2 + 1 > e[$1]) e[$1] = $2 + 1 } END { for (p = 0; p < 4; p++) printf "%s%d:%d", p ? " " : "", p, e[p] }')

# --- kcat-in | validate | tee > FIFO, to the end -----------------------------
"$P" --stages "validate | tee $T/a.out" -- -b "$BOOT" -G pa "${X[@]}" -e 2> "$T/a.err"
is "$?" 0 "kcat-in -e | validate | tee: exit 0"
is "$(lines "$T/a.out")" $M "every record reached the end of the pipe"
is "$(grep -c '"_error":{"stage":"validate"' "$T/a.out")" 1 "the bad message flowed on, marked by validate"
is "$(grep -c '"_src":{' "$T/a.out")" $M "_src passed through validate"
is "$(stat_of "$T/a.err" acks)" $M "every outcome came back to kcat-in"
is "$(committed_of "$T/a.err")" "$ENDS" "committed to the end of every partition"

# --- SIGTERM: kcat-in stops, the later stages finish on end of input ---------
"$P" --stages "tee $T/b.out | tac" -- -b "$BOOT" -G pb "${X[@]}" 2> "$T/b.err" &
SP=$!
PIDS+=("$SP")
ok wait_for 20 at_least "$T/b.out" $M "the records are written (tac holds the outcomes)"
kill -TERM "$SP"
wait "$SP"
is "$?" 0 "SIGTERM: exit 0"
is "$(stat_of "$T/b.err" outstanding)" 0 "kcat-in waited for every outcome"
is "$(committed_of "$T/b.err")" "$ENDS" "and committed them"
ok test -z "$(pgrep -f "kcat-in --acks .*-G pb ")" "no stage left running"

# --- a failing stage fails the pipeline; a kcat-in failure does not hang ----
"$P" --stages "cat | false" -- -b "$BOOT" -G pc "${X[@]}" -e 2> "$T/c.err"
is "$?" 1 "a stage that fails: its status"
like "$(cat "$T/c.err")" 'pipeline.sh: stage 2 \(false\) exited 1' "the failing stage is named"
timeout 20 "$P" --stages cat -- --bogus 2> /dev/null
is "$?" 64 "kcat-in refuses its options: its status, no hang"
timeout 20 "$P" --stages cat -- -b 127.0.0.1:1 --connect-timeout 1 2> /dev/null
is "$?" 69 "brokers unreachable: 69, no hang"

done_testing
