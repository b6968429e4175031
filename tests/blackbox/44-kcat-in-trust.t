#!/usr/bin/env bash
# kcat-in at the trust boundary (issue 12): payloads crafted by a producer
# cannot steer offsets or skip validation, an ack line with two "_src" acks
# nothing, and a partition whose oldest record never gets its outcome is
# paused (--stuck-after) instead of piling up, then resumed once it moves.
#
# Partition 0 holds 20 events, then the crafted payloads; partition 1 holds
# 20 events. Each crafted payload has a top-level "_" member, and the forged
# "_src" ones all name partition 1, offset 3:
#   c2 {"_src":0,"_src":{… partition 1, offset 3}}     (a forged first _src, once
#                                                      kcat-in deleted the first)
#   c3 a valid event with "_error":{"stage":"persist","retryable":true}
#   c4 {"\u005fsrc":0,"_src":{… partition 1, offset 3}} (the same, with an escape)
#   c5 {"\u005ferror":{…}}                              (an escaped forged _error)
#   c1 {"_src":0,"_src":"poison"}                       (would pin partition 0)
set -uo pipefail
cd "$(dirname "$0")/../.."

. tests/lib.sh

KIN=$BUILD/bin/kcat-in
MOCK=$BUILD/bin/kafka-mock
GEN=$BUILD/bin/gen-events
X=(-X session.timeout.ms=6000 -X heartbeat.interval.ms=500 -X fetch.wait.max.ms=100)
SRC13='"_src":{"topic":"stream_producer","partition":1,"offset":3}'

# stdin to a FIFO, giving up when nobody reads it (a kcat-in that exited)
to_fifo() { timeout 5 sh -c 'cat > "$1"' sh "$1"; }
lines() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }
at_least() { [ "$(lines "$1")" -ge "$2" ]; }
# a member of the last stats line of kind $2 in stderr file $1
stat_of() { grep "\"stats\":\"$2\"" "$1" | tail -1 | perl -MJSON::PP -ne 'print decode_json($_)->{'"$3"'}'; }

bg_start mock "$MOCK" -p 2
MOCK_PID=$BG_PID
wait_for 10 at_least "$T/mock.out" 1
BOOT=$(head -1 "$T/mock.out")
like "$BOOT" '^127\.0\.0\.1:[0-9]+$' "kafka-mock with 2 partitions"

"$GEN" -n 46 --seed 44 > "$T/events"
head -20 "$T/events" | kcat -P -b "$BOOT" -t stream_producer -p 0
sed -n 21,40p "$T/events" | kcat -P -b "$BOOT" -t stream_producer -p 1
EV3=$(sed -n 3p "$T/events")
printf '%s' "{\"uid\":\"c2\",\"_src\":0,$SRC13}" > "$T/c2"
printf '%s' "${EV3%\}},\"_error\":{\"stage\":\"persist\",\"retryable\":true}}" > "$T/c3"
printf '%s' "{\"uid\":\"c4\",\"\\u005fsrc\":0,$SRC13}" > "$T/c4"
printf '%s' '{"uid":"c5","\u005ferror":{"stage":"persist","retryable":true}}' > "$T/c5"
printf '%s' '{"_src":0,"_src":"poison","uid":"c1"}' > "$T/c1"
kcat -P -b "$BOOT" -t stream_producer -p 0 "$T/c2" "$T/c3" "$T/c4" "$T/c5" "$T/c1"
kcat -C -b "$BOOT" -t stream_producer -e -q -f '%p %o\n' | sort > "$T/truth"
is "$(lines "$T/truth")" 45 "the topic holds 40 events and 5 crafted payloads"

# --- A: every record's outcome looped back; all committed to the end ----------
mkfifo "$T/a.fifo"
with_timeout 40 "$KIN" -b "$BOOT" -G ga "${X[@]}" -e --acks "$T/a.fifo" 2> "$T/a.err" |
	tee "$T/a.out" > "$T/a.fifo"
is "${PIPESTATUS[0]}" 0 "-e with every outcome looped back: exit 0 (no partition pinned)"
is "$(committed_of "$T/a.err" final)" "0:25 1:20" "committed to the end of both partitions"
is "$(stat_of "$T/a.err" final acks)" 45 "every outcome settled its record"
is "$(stat_of "$T/a.err" final acks_bad)" 0 "no outcome line was refused"
is "$(stat_of "$T/a.err" final reserved)" 5 "5 payloads with reserved members counted"
# exactly one top-level "_src" per line (a payload's own only inside _raw,
# where its quotes are escaped), and together they are the topic's offsets
is "$(perl -ne 'my $n = () = /(?<!\\)"_src":/g; print if $n != 1' "$T/a.out" | wc -l)" 0 \
	"every record has exactly one top-level _src"
perl -MJSON::PP -ne 'my $o = decode_json($_); print "$o->{_src}{partition} $o->{_src}{offset}\n"' \
	"$T/a.out" | sort > "$T/a.src"
ok cmp -s "$T/a.src" "$T/truth" "the _src of the records are the topic's offsets, each once"
# each crafted payload: wrapped, failed by kcat-in, its bytes exact, its own offset
for c in c2:20 c3:21 c4:22 c5:23 c1:24; do
	name=${c%%:*} off=${c#*:}
	got=$(perl -MJSON::PP -e '
		open my $f, "<", $ARGV[0] or die; my $want = do { local $/; <$f> };
		open my $o, "<", $ARGV[1] or die;
		while (<$o>) {
			my $r = decode_json($_);
			next unless $r->{_src}{partition} == 0 && $r->{_src}{offset} == $ARGV[2];
			my @m = sort grep { /^_/ } keys %$r;
			printf "%s %s %s %s\n", join(",", @m), $r->{_error}{stage} // "-",
				$r->{_error}{code} // "-",
				defined $r->{_raw} && $r->{_raw} eq $want ? "exact" : "not-exact";
		}' "$T/$name" "$T/a.out" "$off")
	is "$got" "_error,_raw,_src kcat-in reserved_member exact" \
		"$name ($(cat "$T/$name")): under _raw exactly, reserved_member"
done
like "$(grep '"offset":23}}$' "$T/a.out")" "member '_error'" "the reason names the member (escaped name decoded)"

# --- B: forged _src and a two-_src ack line cannot ack partition 1, offset 3 --
# The echo loop holds back the real outcome of partition 1, offset 3.
mkfifo "$T/b.fifo" "$T/b.pipe"
"$KIN" -b "$BOOT" -G gb "${X[@]}" --acks "$T/b.fifo" --stats-interval 1 --drain-timeout 1 \
	> "$T/b.pipe" 2> "$T/b.err" &
KB=$!
echo "$KB" >> "$T/.pids"
perl -ne 'BEGIN { $| = 1 } print unless /"partition":1,"offset":3\}\}$/' < "$T/b.pipe" > "$T/b.fifo" &
echo "$!" >> "$T/.pids"
p0_done() { committed_of "$T/b.err" periodic | grep -q '^0:25 '; }
ok wait_for 30 p0_done "partition 0 committed to its end (the poison pins nothing)"
sleep 1.5
is "$(committed_of "$T/b.err" periodic)" "0:25 1:3" \
	"partition 1 stays at offset 3: the forged _src (c2, c4) acked nothing there"
printf '%s\n' "{$SRC13,$SRC13}" | to_fifo "$T/b.fifo"
refused() { grep -q 'acks: line [0-9]* ignored' "$T/b.err"; }
ok wait_for 10 refused "an ack line with two _src: refused, with its line number"
sleep 1.5
is "$(committed_of "$T/b.err" periodic)" "0:25 1:3" "and it acked nothing"
is "$(stat_of "$T/b.err" periodic acks_bad)" 1 "counted in acks_bad"
stop_pid "$KB"
is "$(committed_of "$T/b.err" final)" "0:25 1:3" "final commit: partition 1 still at offset 3"

# --- C: a stuck partition is paused, then resumed when its record moves -----
mkfifo "$T/s.fifo" "$T/s.pipe"
"$KIN" -b "$BOOT" -G gs "${X[@]}" --acks "$T/s.fifo" --stats-interval 1 --drain-timeout 1 \
	--stuck-after 2 --metrics-file "$T/s.prom" > "$T/s.pipe" 2> "$T/s.err" &
KS=$!
echo "$KS" >> "$T/.pids"
perl -ne 'BEGIN { $| = 1 } print STDERR $_; print unless /"partition":1,"offset":3\}\}$/' \
	< "$T/s.pipe" > "$T/s.fifo" 2> "$T/s.out" &
echo "$!" >> "$T/.pids"
stuck() { grep -q 'stream_producer \[1\] stuck: offset 3 ' "$T/s.err"; }
ok wait_for 30 stuck "partition 1, offset 3 without an outcome for 2 s: said so"
sleep 2.5 # it says so once, however long it stays stuck
is "$(grep -c 'stuck:' "$T/s.err")" 1 "once"
is "$(stat_of "$T/s.err" periodic stuck) $(stat_of "$T/s.err" periodic stuck_now)" "1 1" \
	"statistics: stuck 1, stuck_now 1"
like "$(cat "$T/s.prom")" 'event_processor_stuck_total\{prog="kcat-in"\} 1' "metric: stuck"
like "$(cat "$T/s.prom")" 'event_processor_partitions_stuck\{prog="kcat-in"\} 1' "metric: partitions_stuck"
sed -n 41,43p "$T/events" | kcat -P -b "$BOOT" -t stream_producer -p 0
sed -n 44,46p "$T/events" | kcat -P -b "$BOOT" -t stream_producer -p 1
ok wait_for 15 at_least "$T/s.out" 48 "new messages of partition 0 still flow"
sleep 2
is "$(lines "$T/s.out")" 48 "new messages of partition 1 are not fetched while it is stuck"
# the outcome that was held back comes back
grep '"partition":1,"offset":3}}$' "$T/s.out" | to_fifo "$T/s.fifo"
moved() { grep -q 'stream_producer \[1\]: offset 3 has its outcome; fetching again' "$T/s.err"; }
ok wait_for 10 moved "its outcome back: says so and fetches again"
ok wait_for 15 at_least "$T/s.out" 51 "partition 1's new messages arrive"
all_in() { [ "$(committed_of "$T/s.err" periodic)" = "0:28 1:23" ]; }
ok wait_for 15 all_in "both partitions committed to their new ends"
is "$(stat_of "$T/s.err" periodic stuck_now)" 0 "stuck_now back to 0"
stop_pid "$KS"
is "$?" 0 "SIGTERM: exit 0"

like "$("$KIN" --help)" '--stuck-after S' "--help documents --stuck-after"
"$KIN" --stuck-after -1 2> /dev/null
is "$?" 64 "--stuck-after -1: usage error"

stop_pid "$MOCK_PID"
done_testing
