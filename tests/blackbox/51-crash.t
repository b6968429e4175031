#!/usr/bin/env bash
# kill -9 of each stage in the middle of the stream, twice, then a restart
# in the same group: nothing lost, nothing duplicated. Four lanes run side
# by side against one set of stand-ins, one per stage (kcat-in, validate,
# persist, route), each with its own topic (4 partitions) and group: 3,000
# events (1% broken) trickle into the topic over about 20 s while the lane
#   1. starts scripts/pipeline.sh, waits for the assignment, waits a random
#      0.3-2 s and kills its stage with SIGKILL; the pipeline must end;
#   2. does that a second time (same group);
#   3. once the producer is done, runs the pipeline with -e until every
#      outcome is back and committed.
# Then the table holds exactly the valid uids of all lanes, the client
# queues exactly their events once (SQS deduplicates by uid; the table is
# keyed by it), the DLQ exactly the broken ones, retry.fifo is empty.
# E2E_CRASH_EVENTS changes the events per lane; E2E_SEED the random delays.
set -uo pipefail
cd "$(dirname "$0")/../.."

. tests/lib.sh
. tests/lib-e2e.sh

N=${E2E_CRASH_EVENTS:-3000}
STAGES=(kcat-in validate persist route)
RANDOM_SEED=${E2E_SEED:-$$}
RANDOM=$RANDOM_SEED
plan $((2 + 3 * ${#STAGES[@]} + 7))
note "E2E_SEED=$RANDOM_SEED"

ok e2e_kafka -p 4 -t crash_kcat-in,crash_validate,crash_persist,crash_route "kafka-mock: a topic per lane"
ok start_standins "dynalite and fauxqs, table and queues provisioned" || bail_out "no stand-ins"

# lane STAGE SEED DELAY1 DELAY2: writes $T/lane.STAGE.* (no TAP in here:
# the lanes run at the same time)
lane() {
	local s=$1 seed=$2 L=$T/lane.$1 prod pp pid k mid rc watch
	local delays=("$3" "$4")
	e2e_events "$L.want" "$N" "$seed" || { echo "events" >> "$L.problems"; return; }
	# about 20 s of events: each line as soon as it is complete
	e2e_trickle "$L.want.events" 7 | "$PRODUCE" -b "$BOOT" -t "crash_$s" -k uid 2> "$L.produce.err" &
	prod=$!
	for k in 1 2; do
		# (kcat-in's periodic stats: its committed offsets, also when it is
		# the stage killed and writes no final line)
		"$PIPELINE" -- -b "$BOOT" -t "crash_$s" -G "crash_$s" "${E2E_X[@]}" --stats-interval 1 2> "$L.p$k.err" &
		pp=$!
		if ! wait_for 40 grep -qs 'kcat-in: assigned' "$L.p$k.err"; then
			echo "run $k: no assignment in 40 s" >> "$L.problems"
		fi
		# its first periodic line too, so that the check below has a commit
		# to read even when the kill comes early (seen under the sanitizers)
		wait_for 10 grep -qs '"prog":"kcat-in","stats":"periodic".*"partitions":\[{' "$L.p$k.err"
		sleep "${delays[k - 1]}"
		mid=no
		kill -0 "$prod" 2> /dev/null && mid=yes
		pid=$(stage_pid "$pp" "$s")
		if [ -z "$pid" ]; then
			echo "run $k: no $s process under the pipeline" >> "$L.problems"
		else
			kill -KILL "$pid"
		fi
		(sleep 30; echo "run $k: the pipeline did not end within 30 s of the kill" >> "$L.problems"
			kill -TERM "$pp") 2> /dev/null &
		watch=$!
		wait "$pp"
		rc=$?
		kill "$watch" 2> /dev/null
		echo "run $k: kill -9 $s ${delays[k - 1]} s after the assignment, events still arriving: $mid; pipeline exit $rc" >> "$L.log"
		# records were in flight: the group's committed offsets (kcat-in's
		# last stats line of the run) are below the topic's end
		committed=$(committed_of "$L.p$k.err" final)
		[ -n "$committed" ] || committed=$(committed_of "$L.p$k.err" periodic)
		ends=$(e2e_topic "crash_$s" "$L.topic$k")
		echo "run $k: committed ${committed:-none}, topic ends $ends" >> "$L.log"
		below "$committed" "$ends" ||
			echo "run $k: no record in flight at the kill: committed ${committed:-none}, topic ends $ends" >> "$L.problems"
	done
	wait "$prod" || echo "kafka-produce failed: $(tail -1 "$L.produce.err")" >> "$L.problems"
	with_timeout 120 "$PIPELINE" -- -b "$BOOT" -t "crash_$s" -G "crash_$s" "${E2E_X[@]}" -e 2> "$L.final.err"
	echo $? > "$L.final.rc"
}

t0=$SECONDS
lanes=()
i=0
for s in "${STAGES[@]}"; do
	i=$((i + 1))
	# 0.3 to 1.9 s (no $(…): a subshell would draw from a fresh seed)
	d1=$((RANDOM % 2)).$((3 + RANDOM % 7)) d2=$((RANDOM % 2)).$((3 + RANDOM % 7))
	lane "$s" $((510 + i)) "$d1" "$d2" &
	lanes+=($!)
done
wait "${lanes[@]}"
note "the four lanes took $((SECONDS - t0)) s"

for s in "${STAGES[@]}"; do
	L=$T/lane.$s
	while IFS= read -r l; do note "$s: $l"; done < "$L.log"
	grep -q 'still arriving: no' "$L.log" && diag "$s: a kill came after the last event was produced (slow machine?)"
	is "$(cat "$L.problems" 2> /dev/null)" "" "$s: killed twice mid-stream with records in flight (committed below the topic's end); each time the pipeline ended"
	is "$(cat "$L.final.rc" 2> /dev/null)" 0 "$s: the restarted pipeline -e exits 0"
	[ "$(cat "$L.final.rc" 2> /dev/null)" = 0 ] || diag "$(grep -v '"stats"' "$L.final.err" | tail -5)"
	ENDS=$(e2e_topic "crash_$s" "$T/crash_$s.topic")
	is "$(committed_of "$L.final.err")" "$ENDS" "$s: committed to the end of every partition"
done

for f in valid invalid events; do cat "$T"/lane.*.want.$f | sort > "$T/want.$f"; done
is "$(lines "$T/want.events")" $((N * ${#STAGES[@]})) "$((N * ${#STAGES[@]})) events in all"
e2e_collect "$T/got" "$T/want"
dumps=()
for s in "${STAGES[@]}"; do dumps+=("$T/crash_$s.topic"); done
e2e_check "$T/got" "$T/want" "${dumps[@]}"

done_testing
