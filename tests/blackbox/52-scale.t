#!/usr/bin/env bash
# Two pipelines in one consumer group (two "machines"): Kafka splits the 4
# partitions between them and together they process everything once. While
# events are still arriving (4,000 trickled in over about 32 s), one is
# stopped with SIGTERM: it drains and leaves the group, the other takes over
# its partitions and carries on to the end of every partition. Nothing is
# lost: the table holds exactly the valid uids, each client queue exactly
# its events once, the DLQ exactly the broken ones, retry.fifo is empty.
# E2E_SCALE_EVENTS changes the count; E2E_SEED the moment of the stop.
set -uo pipefail
cd "$(dirname "$0")/../.."

. tests/lib.sh
. tests/lib-e2e.sh

N=${E2E_SCALE_EVENTS:-4000}
RANDOM_SEED=${E2E_SEED:-$$}
RANDOM=$RANDOM_SEED
plan 21
note "E2E_SEED=$RANDOM_SEED"

ok e2e_kafka -p 4 "kafka-mock with 4 partitions"
ok start_standins "dynalite and fauxqs, table and queues provisioned" || bail_out "no stand-ins"
e2e_events "$T/want" "$N" 52

# the partitions a pipeline holds now, from kcat-in's log lines ("" if none)
holds() {
	grep -hE '^kcat-in: (assigned|revoked) ' "$T/$1.err" 2> /dev/null | tail -1 |
		sed -n 's/^kcat-in: assigned stream_producer\[\(.*\)\]$/\1/p'
}
split() {
	local a b
	a=$(holds p1) b=$(holds p2)
	[ -n "$a" ] && [ -n "$b" ] && [ "$(echo "$a,$b" | tr , '\n' | sort | paste -sd,)" = 0,1,2,3 ]
}
acked() { [ "$(kin_stat "$T/$1.err" acks periodic)" -gt 0 ] 2> /dev/null; }
at_end() { [ "$(committed_of "$T/$1.err" periodic)" = "$ENDS" ]; }

for p in p1 p2; do
	bg_start "$p" "$PIPELINE" -- -b "$BOOT" -G scale "${E2E_X[@]}" --stats-interval 1
	eval "${p^^}=\$BG_PID"
done

ok wait_for 60 split "the two pipelines split the four partitions between them"
note "p1 holds $(holds p1), p2 holds $(holds p2)"
# The stream starts once both hold partitions, so that a slow start on a
# busy machine does not eat it before p1 is stopped.
e2e_trickle "$T/want.events" 8 | "$PRODUCE" -b "$BOOT" -t stream_producer -k uid 2> "$T/produce.err" &
PROD=$!
ok wait_for 30 eval 'acked p1 && acked p2' "both process events (outcomes back at each)"

sleep "$((RANDOM % 2)).$((RANDOM % 10))"
ok kill -0 "$PROD" "events are still arriving when p1 is stopped"
stop_pid "$P1"
is "$?" 0 "p1: SIGTERM, drains, exit 0"
is "$(kin_stat "$T/p1.err" outstanding)" 0 "p1: every record it wrote had its outcome back"
like "$(grep -h 'revoked' "$T/p1.err" | tail -1)" '^kcat-in: revoked stream_producer\[' "p1 gave its partitions back"
ok wait_for 40 eval '[ "$(holds p2)" = 0,1,2,3 ]' "p2 takes over all four partitions"

wait "$PROD"
is "$?" 0 "kafka-produce: all $N events delivered"
ENDS=$(e2e_topic stream_producer "$T/stream_producer.topic")
is "$(lines "$T/stream_producer.topic")" "$N" "the topic holds all $N"
ok wait_for 150 at_end p2 "p2 commits to the end of every partition ($ENDS)"
stop_pid "$P2"
is "$?" 0 "p2: SIGTERM, exit 0"

a1=$(kin_stat "$T/p1.err" acks) a2=$(kin_stat "$T/p2.err" acks)
note "outcomes: p1 $a1, p2 $a2, $((a1 + a2 - N)) records delivered twice around the hand-over (effects are idempotent)"
ok test $((a1 + a2)) -ge "$N" "together they saw an outcome for every event ($a1 + $a2)"

e2e_collect "$T/got" "$T/want"
e2e_check "$T/got" "$T/want" "$T/stream_producer.topic"

with_timeout 60 "$KIN" -b "$BOOT" -G scale "${E2E_X[@]}" -e > "$T/again.out" 2> /dev/null
is "$(lines "$T/again.out")" 0 "the same group again: nothing left to deliver"

done_testing
