#!/usr/bin/env bash
# kill -9 of scripts/pipeline.sh itself in the middle of the stream: its
# stages do not outlive it (its watchdog stops them: SIGTERM, then SIGKILL),
# its temporary directory goes with them, and a pipeline started again in
# the same group processes everything: nothing lost, nothing twice. Two
# kills, each while events still trickle into the topic and the real stages
# (validate, persist, route) run against the stand-ins:
#   1. SIGKILL to pipeline.sh alone (anything that kills it);
#   2. SIGKILL to its whole process group, as supervisord's killasgroup=true
#      does after stopwaitsecs (pipeline.sh is started as a group leader, as
#      supervisord starts it).
# Then, once the producer is done, the pipeline runs with -e to the end.
# E2E_KILL_EVENTS changes the number of events.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

. tests/lib.sh
. tests/lib-e2e.sh

N=${E2E_KILL_EVENTS:-3000}
G=pipeline-kill-$$ # the consumer group: in every command line of this test's pipelines
plan 30

ok e2e_kafka -p 4 -t pkill "kafka-mock: topic pkill, 4 partitions"
ok start_standins "dynalite and fauxqs, table and queues provisioned" || bail_out "no stand-ins"
ok e2e_events "$T/want" "$N" 43 "$N events (1% broken)"

# about 15 s of events, each line as soon as it is complete
e2e_trickle "$T/want.events" 5 | "$PRODUCE" -b "$BOOT" -t pkill -k uid 2> "$T/produce.err" &
PROD=$!

table() { ddb_count pismo 2> /dev/null || echo 0; }
grown() { [ "$(table)" -ge "$1" ]; }
# alive FILE: the processes of FILE ("pid comm" lines) that still run (the
# same pid with the same command, not a zombie)
alive() {
	local pid comm st now
	while read -r pid comm; do
		read -r st now <<< "$(ps -o stat=,comm= -p "$pid" 2> /dev/null)"
		[ -n "$st" ] && [[ $st != Z* ]] && [ "$now" = "$comm" ] && echo "$pid $comm"
	done < "$1"
}
none_alive() { [ -z "$(alive "$1")" ]; }

for k in 1 2; do
	how=$([ $k = 1 ] && echo "pipeline.sh alone" || echo "pipeline.sh's process group")
	mkdir "$T/tmp.$k"
	before=$(table)
	# a process group of its own, as supervisord starts it; stdout to a
	# file (stages that outlived it must not hold the TAP pipe open)
	set -m
	TMPDIR=$T/tmp.$k "$PIPELINE" -- -b "$BOOT" -t pkill -G "$G" "${E2E_X[@]}" > "$T/p$k.out" 2> "$T/p$k.err" &
	pp=$!
	set +m
	echo "$pp" >> "$T/.pids"
	ok wait_for 40 grep -qs 'kcat-in: assigned' "$T/p$k.err" "run $k: the pipeline has its partitions"
	ok wait_for 60 grown $((before + 100)) "run $k: events flow (100 more stored)"
	descendants "$pp" > "$T/tree.$k"
	is "$(awk '{ print $2 }' "$T/tree.$k" | grep -xE 'kcat-in|validate|persist|route' | sort | tr '\n' ' ')" \
		"kcat-in persist route validate " "run $k: the four stages run below pipeline.sh"
	mid=no
	kill -0 "$PROD" 2> /dev/null && mid=yes
	if [ $k = 1 ]; then kill -KILL "$pp"; else kill -KILL -- "-$pp"; fi
	wait "$pp" 2> /dev/null
	rc=$?
	sed -i "/^$pp\$/d" "$T/.pids"
	note "run $k: kill -9 of $how ($(wc -l < "$T/tree.$k") processes below it) with $(($(table) - before)) events stored; events still arriving: $mid; exit $rc"
	[ $mid = yes ] || diag "run $k: the kill came after the last event was produced (slow machine?)"
	# generous: the watchdog's SIGKILL comes 10 s after its SIGTERM
	if ! ok wait_for 60 none_alive "$T/tree.$k" "run $k: no process of the pipeline outlives it"; then
		diag "still running: $(alive "$T/tree.$k" | tr '\n' ' ')"
		alive "$T/tree.$k" | while read -r p _; do kill -KILL "$p"; done
	fi
	is "$(ls -A "$T/tmp.$k")" "" "run $k: its temporary directory is removed"
	like "$(cat "$T/p$k.err")" 'pipeline\.sh: the script is gone \(killed\?\); stopping its stages' \
		"run $k: the watchdog says what it does"
	like "$(grep '"prog":"kcat-in","stats":"final"' "$T/p$k.err")" '"outstanding"' \
		"run $k: kcat-in stopped in order on SIGTERM (committed what came back, left the group)"
	# in the middle of the stream: what the group had committed when the
	# pipeline was gone is below the topic's end, so the restart has work
	KC=$(committed_of "$T/p$k.err")
	KE=$(e2e_topic pkill "$T/pkill.$k.topic")
	ok below "$KC" "$KE" "run $k: killed with records left to deliver again: committed ($KC) below the topic's end ($KE)"
done

wait "$PROD"
is "$?" 0 "all $N events went into the topic"

# --- started again: to the end, nothing lost ------------------------------------------------
mkdir "$T/tmp.3"
TMPDIR=$T/tmp.3 with_timeout 120 "$PIPELINE" -- -b "$BOOT" -t pkill -G "$G" "${E2E_X[@]}" -e > "$T/final.out" 2> "$T/final.err"
rc=$?
is "$rc" 0 "the pipeline started again runs to the end (-e): exit 0"
[ "$rc" = 0 ] || diag "$(grep -v '"stats"' "$T/final.err" | tail -5)"
ENDS=$(e2e_topic pkill "$T/pkill.topic")
is "$(committed_of "$T/final.err")" "$ENDS" "committed to the end of every partition"
# after a normal end the watchdog goes at once: no process with this
# test's group in its command line (pipeline.sh and its subshells, kcat-in)
nothing_left() { [ -z "$(pgrep -f -- "-G $G ")" ]; }
ok wait_for 10 nothing_left "after a normal end nothing of the pipeline is left"
is "$(ls -A "$T/tmp.3")" "" "and its temporary directory is removed"

e2e_collect "$T/got" "$T/want"
e2e_check "$T/got" "$T/want" "$T/pkill.topic"

done_testing
