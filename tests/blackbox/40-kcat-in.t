#!/usr/bin/env bash
# kcat-in against a real (mock) Kafka cluster, with kcat as the producer:
# every message comes out once with the right _src; bad payloads under _raw;
# with --acks the committed offsets follow the outcomes (all of them, none
# that did not come back, even after kill -9); SIGTERM drains and exits 0;
# two members of one group split the partitions; exit codes.
set -uo pipefail
cd "$(dirname "$0")/../.."

. tests/lib.sh

KIN=$BUILD/bin/kcat-in
MOCK=$BUILD/bin/kafka-mock
GEN=$BUILD/bin/gen-events
N=2000
# short group timings (the mock's defaults are Kafka's: 45 s sessions)
X=(-X session.timeout.ms=6000 -X heartbeat.interval.ms=500 -X fetch.wait.max.ms=100)

PIDS=()
stop_all() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ -n "${MOCK_PID:-}" ] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null
}
_prev_exit=$(trap -p EXIT | sed "s/^trap -- '\(.*\)' EXIT$/\1/")
trap "stop_all; $_prev_exit" EXIT

# wait_for SECONDS COMMAND…: true once COMMAND succeeds, false on timeout
wait_for() {
	local end=$((SECONDS + $1)); shift
	until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.1; done
}
lines() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }
at_least() { [ "$(lines "$1")" -ge "$2" ]; }
# "partition offset" of each record's _src, or BAD for a line that is not JSON
srcs() {
	perl -MJSON::PP -ne 'my $o = eval { decode_json($_) };
		print $o ? "$o->{_src}{partition} $o->{_src}{offset}\n" : "BAD\n"' "$@"
}
# a member of the last stats line of kind $2 in stderr file $1
stat_of() { grep "\"stats\":\"$2\"" "$1" | tail -1 | perl -MJSON::PP -ne 'print decode_json($_)->{'"$3"'}'; }

# --- a cluster with 4 partitions, N events and a few bad payloads -----------
"$MOCK" -p 4 > "$T/mock.out" 2> "$T/mock.err" &
MOCK_PID=$!
wait_for 10 at_least "$T/mock.out" 1
BOOT=$(head -1 "$T/mock.out")
like "$BOOT" '^127\.0\.0\.1:[0-9]+$' "kafka-mock prints its bootstrap address"

if [ -x "$GEN" ]; then
	"$GEN" -n $N --seed 40 > "$T/events"
else
	diag "no $GEN yet: events from awk"
	awk -v n=$N 'BEGIN { split("Client_A Client_B Client_C Client_D", c, " ");
		split("INSERT UPDATE DELETE", e, " ");
		for (i = 1; i <= n; i++)
			printf "{\"uid\":\"%08d-0000-4000-8000-%012d\",\"context\":\"monitoramento\",\"event_type\":\"%s\",\"client\":\"%s\",\"created_at\":\"2024-09-10T04:17:09.0247241-03:00\"}\n", i, i, e[1 + i % 3], c[1 + i % 4] }' > "$T/events"
fi
# keyed by line number, so the default partitioner spreads them
awk '{ print NR "\t" $0 }' "$T/events" | kcat -P -b "$BOOT" -t stream_producer -K '\t' -z lz4
# one message per file: not JSON, an array, not UTF-8, an object over lines
printf 'hello world' > "$T/m1"
printf '[1,2,3]' > "$T/m2"
printf '{"uid":"\xc3\x28"}' > "$T/m3"
printf '{\n  "uid": "ml",\n  "n": [1, 2]\n}\n' > "$T/m4"
kcat -P -b "$BOOT" -t stream_producer -p 0 "$T/m1" "$T/m2" "$T/m3" "$T/m4"
M=$((N + 4))
# the truth: every partition and offset in the topic
kcat -C -b "$BOOT" -t stream_producer -e -q -f '%p %o\n' | sort > "$T/truth"
is "$(lines "$T/truth")" $M "the topic holds $M messages"
ENDS=$(awk '{ if ($2 + 1 > e[$1]) e[$1] = $2 + 1 } END { for (p = 0; p < 4; p++) printf "%s%d:%d", p ? " " : "", p, e[p] }' "$T/truth")

# --- without --acks: every message once, with its _src ----------------------
"$KIN" -b "$BOOT" -G ga "${X[@]}" -e > "$T/a.out" 2> "$T/a.err"
is "$?" 0 "kcat-in -e: exit 0 at the end"
is "$(lines "$T/a.out")" $M "one record per message"
srcs "$T/a.out" | sort > "$T/a.src"
ok cmp -s "$T/a.src" "$T/truth" "_src: every partition/offset once, none missing (contiguous)"
ok grep -q '"topic":"stream_producer"' "$T/a.out" "_src names the topic"
# the events' own bytes are kept: drop _src and compare with what was produced
sed 's/,"_src":{[^}]*}}$/}/' "$T/a.out" | grep -v -e '^{"_raw"' -e '^{"uid":"ml"' | sort > "$T/a.events"
sort "$T/events" | cmp -s - "$T/a.events"
is "$?" 0 "event payloads kept byte for byte, _src appended"
like "$(grep hello "$T/a.out")" '^\{"_raw":"hello world","_src":\{' "not JSON: under _raw"
like "$(grep '\[1,2,3\]' "$T/a.out")" '^\{"_raw":"\[1,2,3\]","_src":\{' "an array: under _raw"
like "$(grep _raw_base64 "$T/a.out")" '"_raw_base64":"eyJ1aWQiOiLDKCJ9"' "not UTF-8: exact bytes under _raw_base64"
like "$(grep '"ml"' "$T/a.out")" '^\{"uid":"ml","n":\[1,2\],"_src":\{' "a multi-line object: compacted to one line"
is "$(stat_of "$T/a.err" final records)" $M "final stats: records"
is "$(stat_of "$T/a.err" final wrapped)" 3 "final stats: wrapped payloads"

"$KIN" -b "$BOOT" -G ga "${X[@]}" -e > "$T/a2.out" 2> "$T/a2.err"
is "$(lines "$T/a2.out")" 0 "same group again: offsets were committed, nothing delivered again"

# --- with --acks through an echo loop: commits reach the end ------------------
mkfifo "$T/c.fifo"
"$KIN" -b "$BOOT" -G gc "${X[@]}" -e --acks "$T/c.fifo" 2> "$T/c.err" |
	{ echo 'not json'; echo '{"uid":"no src"}'; tee "$T/c.out"; } > "$T/c.fifo"
is "$?" 0 "--acks -e through an echo loop: exit 0"
is "$(lines "$T/c.out")" $M "every record written"
like "$(cat "$T/c.err")" 'acks: line 1 ignored: not JSON' "an ack line that is not JSON: a warning"
like "$(cat "$T/c.err")" 'acks: line 2 ignored: no _src member' "an ack line without _src: a warning"
is "$(stat_of "$T/c.err" final acks)" $M "every outcome counted"
is "$(stat_of "$T/c.err" final acks_bad)" 2 "bad ack lines counted, ignored"
is "$(committed_of "$T/c.err" final)" "$ENDS" "committed offsets reach the end of every partition"
"$KIN" -b "$BOOT" -G gc "${X[@]}" -e > "$T/c2.out" 2> /dev/null
is "$(lines "$T/c2.out")" 0 "same group again: nothing delivered again"

# --- acks withheld from offset 50 on, then kill -9: resume exactly there -----
mkfifo "$T/e.fifo" "$T/e.pipe"
"$KIN" -b "$BOOT" -G ge "${X[@]}" --acks "$T/e.fifo" --stats-interval 1 > "$T/e.pipe" 2> "$T/e.err" &
KPID=$!
PIDS+=("$KPID")
perl -ne 'BEGIN { $| = 1 } print if /"offset":(\d+)\}\}$/ && $1 < 50' < "$T/e.pipe" > "$T/e.fifo" &
PIDS+=($!)
all_at_50() { [ "$(committed_of "$T/e.err" periodic)" = "0:50 1:50 2:50 3:50" ]; }
ok wait_for 20 all_at_50 "acks up to offset 49 come back: 50 committed in every partition"
is "$(stat_of "$T/e.err" periodic outstanding)" $((M - 200)) "the records without an outcome stay outstanding"
kill -9 "$KPID"
wait "$KPID" 2>/dev/null
"$KIN" -b "$BOOT" -G ge "${X[@]}" -e > "$T/e2.out" 2> "$T/e2.err"
is "$?" 0 "restart after kill -9: exit 0"
srcs "$T/e2.out" | sort > "$T/e2.src"
awk '$2 >= 50' "$T/truth" > "$T/e2.want"
ok cmp -s "$T/e2.src" "$T/e2.want" "restart delivers again exactly from the first offset without an outcome"
is "$(srcs "$T/e2.out" | awk '!($1 in f) { f[$1] = $2 } END { for (p = 0; p < 4; p++) printf "%d ", f[p] }')" "50 50 50 50 " \
	"every partition resumes at offset 50"

# --- SIGTERM: stdout closed, outcomes awaited (reversed by tac), committed ----
mkfifo "$T/f.fifo" "$T/f.pipe"
"$KIN" -b "$BOOT" -G gf "${X[@]}" --acks-fd 3 > "$T/f.pipe" 3< "$T/f.fifo" 2> "$T/f.err" &
KPID=$!
PIDS+=("$KPID")
tee "$T/f.out" < "$T/f.pipe" | tac > "$T/f.fifo" &
wait_for 20 at_least "$T/f.out" $M
ok kill -0 "$KPID" "all written; no outcome yet (tac holds them until its input ends), still running"
kill -TERM "$KPID"
wait "$KPID"
is "$?" 0 "SIGTERM: exit 0 after draining"
is "$(stat_of "$T/f.err" final outstanding)" 0 "every outcome came back (in reverse order)"
is "$(committed_of "$T/f.err" final)" "$ENDS" "and was committed"
"$KIN" -b "$BOOT" -G gf "${X[@]}" -e > "$T/f2.out" 2> /dev/null
is "$(lines "$T/f2.out")" 0 "same group again: nothing delivered again"

# --- two members of one group split the partitions ---------------------------
# On a second, empty cluster: both members join before there is anything to
# read, so neither can take it all while the other is still joining (a
# fast member drains a full topic before a second join completes); then a
# batch goes in, which they share.
"$MOCK" -p 4 > "$T/mock2.out" 2> "$T/mock2.err" &
PIDS+=("$!")
wait_for 10 at_least "$T/mock2.out" 1
BOOT2=$(head -1 "$T/mock2.out")
"$KIN" -b "$BOOT2" -G gg "${X[@]}" > "$T/g1.out" 2> "$T/g1.err" &
G1=$!
"$KIN" -b "$BOOT2" -G gg "${X[@]}" > "$T/g2.out" 2> "$T/g2.err" &
G2=$!
PIDS+=("$G1" "$G2")
# the partitions a member's last "assigned" line names, "0,1"
assigned_of() { grep 'assigned' "$1" | tail -1 | sed -n 's/.*assigned stream_producer\[\(.*\)\]$/\1/p'; }
split_up() {
	A1=$(assigned_of "$T/g1.err") A2=$(assigned_of "$T/g2.err")
	[ -n "$A1" ] && [ -n "$A2" ] && [ "$(echo "$A1,$A2" | tr , '\n' | sort | paste -sd,)" = 0,1,2,3 ]
}
ok wait_for 60 split_up "both members joined the group and hold partitions"
awk '{ print NR "\t" $0 }' "$T/events" | kcat -P -b "$BOOT2" -t stream_producer -K '\t' -z lz4
kcat -C -b "$BOOT2" -t stream_producer -e -q -f '%p %o\n' | sort > "$T/truth2"
M2=$(lines "$T/truth2")
both_done() { [ $(($(lines "$T/g1.out") + $(lines "$T/g2.out"))) -ge "$M2" ]; }
wait_for 30 both_done
sleep 1 # anything delivered twice would show up by now
kill -TERM "$G1" "$G2"
wait "$G1"; R1=$?
wait "$G2"; R2=$?
is "$R1 $R2" "0 0" "both members exit 0 on SIGTERM"
split_up
is "$(echo "$A1,$A2" | tr , '\n' | sort | paste -sd,)" "0,1,2,3" "assignments split the 4 partitions ($A1 / $A2)"
is "$(srcs "$T/g1.out" "$T/g2.out" | sort | cmp -s - "$T/truth2" && echo same)" same \
	"together they deliver every message ($M2) exactly once"
p1=$(srcs "$T/g1.out" | awk '{ print $1 }' | sort -u | paste -sd,)
is "$p1" "$A1" "each member only delivers its own partitions"

# --- usage and exit codes ----------------------------------------------------
like "$("$KIN" --help)" '--acks PATH' "--help documents --acks"
like "$("$KIN" --version)" '^kcat-in \(event-processor\) ' "--version"
"$KIN" --bogus 2> /dev/null; is "$?" 64 "unknown option: 64"
"$KIN" -o middle 2> /dev/null; is "$?" 64 "bad -o: 64"
"$KIN" -b "$BOOT" -X no.such.property=1 2> "$T/x.err"; is "$?" 78 "unknown -X property: 78"
like "$(cat "$T/x.err")" '^kcat-in: -X no\.such\.property: ' "the property is named (not its value: it may be a secret)"
"$KIN" -b "$BOOT" --acks "$T/no-such-fifo" 2> /dev/null; is "$?" 66 "missing ack input: 66"
"$KIN" -b 127.0.0.1:1 --connect-timeout 1 -X reconnect.backoff.ms=100 2> "$T/u.err"; is "$?" 69 "no broker answers: 69"
like "$(cat "$T/u.err")" 'cannot reach the brokers at 127\.0\.0\.1:1' "and says so"

kill "$MOCK_PID"
wait "$MOCK_PID"
is "$?" 0 "kafka-mock exits 0 on SIGTERM"
MOCK_PID=

done_testing
