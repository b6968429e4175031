#!/usr/bin/env bash
# scripts/demo.sh (what `make demo` runs after the install and the build):
# its summary agrees with examples/events.txt (the counts per client come
# from the file itself, through validate, not from this test), the retry
# path was taken and ended in the clients' queues, the DLQ lists each
# invalid line with its reason, no log or file of the run holds the AWS
# secret, and nothing it started is left running, also after a ^C. What
# landed where (each client queue, the table, the DLQ) is compared as lists
# of uids with what validate makes of the file.
#
# supervisord, supervisorctl and node are declared dependencies
# (scripts/install-deps.sh): a missing one fails the test, unless
# EP_TEST_SKIP_MISSING_DEPS=1 is set in the environment (then the file is
# skipped, and says so). A demo that does not finish in time is a failure
# of its own, whatever its exit status after the test stops it.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

. tests/lib.sh

DEMO=scripts/demo.sh
EVENTS=examples/events.txt
for c in supervisord supervisorctl node; do
	command -v "$c" > /dev/null && continue
	[ "${EP_TEST_SKIP_MISSING_DEPS:-0}" = 1 ] && skip_all "$c is not installed (EP_TEST_SKIP_MISSING_DEPS=1)"
	bail_out "$c is not installed (scripts/install-deps.sh; EP_TEST_SKIP_MISSING_DEPS=1 skips this file)"
done

# A secret nobody could mistake for anything else.
SECRET="Zq7-demo-SECRET-$$-$RANDOM-wJalrXUtnFEMI/K7MDENG"
export AWS_ACCESS_KEY_ID=AKIDDEMOTEST AWS_SECRET_ACCESS_KEY=$SECRET

like "$("$DEMO" --help)" '--fail-writes' "--help documents --fail-writes"
"$DEMO" --rate x > /dev/null 2>&1
is "$?" 64 "a bad option value: 64"
mkdir "$T/full" && touch "$T/full/x"
"$DEMO" --keep "$T/full" > /dev/null 2>&1
is "$?" 64 "--keep refuses a directory that is not empty"

# --- what the file says ---------------------------------------------------------------
"$BUILD/bin/validate" --rejects "$T/rejects" "$EVENTS" > "$T/valid" 2> "$T/validate.err"
nvalid=$(wc -l < "$T/valid")
ninvalid=$(wc -l < "$T/rejects")
ntotal=$(grep -cv '^[[:space:]]*$' "$EVENTS")
# distinct uids per client among the valid events
node -e '
	const fs = require("fs");
	const per = {};
	for (const l of fs.readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean)) {
		const e = JSON.parse(l);
		(per[e.client] ||= new Set()).add(e.uid);
	}
	for (const c of ["Client_A", "Client_B", "Client_C", "Client_D"]) console.log(c, per[c] ? per[c].size : 0);
' "$T/valid" > "$T/per-client"
invalid_lines=$(node -e '
	const fs = require("fs");
	console.log(fs.readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean)
		.map((l) => JSON.parse(l)._error.line).join(" "));
' "$T/rejects")
note "$EVENTS: $ntotal events, $nvalid valid, $ninvalid invalid (lines $invalid_lines)"
ok test "$nvalid" -gt 0 -a "$ninvalid" -gt 0 "the sample file has valid and invalid events"

# --- the demo, to the end ------------------------------------------------------------------
# tree PID: "pid comm" of PID and of every process below it
tree() {
	ps -e -o pid=,ppid=,comm= | awk -v root="$1" '
		{ parent[$1] = $2; comm[$1] = $3 }
		END { for (p in parent) { q = p; while (q != "" && q != root && q > 1) q = parent[q]
		                          if (q == root) print p, comm[p] } }'
}
# run_demo NAME ARGS…: the demo in the background, in a process group of its
# own as a terminal would start it; every process of its tree is noted in
# $T/NAME.seen while it runs.
run_demo() {
	local name=$1
	shift
	set -m
	"$DEMO" "$@" > "$T/$name.out" 2> "$T/$name.err" &
	DPID=$!
	set +m
	echo "$DPID" >> "$T/.pids"
	(while kill -0 "$DPID" 2> /dev/null; do tree "$DPID" >> "$T/$name.seen"; sleep 0.2; done) &
	SAMPLER=$!
}
# finish_demo SECS: wait for it; its exit status. Not finished after SECS:
# a failed test of its own, then SIGTERM to its group (which the demo takes
# like ^C) and SIGKILL 10 s later; the status returned is then 124.
finish_demo() {
	local rc timed_out=0
	if ! wait_for "$1" eval '[ "$(ps -o stat= -p '"$DPID"' 2> /dev/null)" = Z ] || ! kill -0 '"$DPID"' 2> /dev/null'; then
		timed_out=1
		fail "the demo finishes within $1 s"
		kill -TERM -- "-$DPID" 2> /dev/null
		wait_for 10 eval '[ "$(ps -o stat= -p '"$DPID"' 2> /dev/null)" = Z ] || ! kill -0 '"$DPID"' 2> /dev/null' ||
			kill -KILL -- "-$DPID" 2> /dev/null
	fi
	wait "$DPID"
	rc=$?
	wait "$SAMPLER" 2> /dev/null
	[ $timed_out = 1 ] && return 124
	return $rc
}
# left NAME: the processes seen during the run that are still there
left() {
	sort -u "$T/$1.seen" | while read -r pid comm; do
		[ "$(ps -o comm= -p "$pid" 2> /dev/null)" = "$comm" ] && echo "$pid $comm"
	done
}
# refused HOST:PORT: nothing listens there any more
refused() { ! (exec 3<> "/dev/tcp/${1%:*}/${1##*:}") 2> /dev/null; }
addr() { local u; u=$(head -1 "$1"); u=${u#http://}; echo "${u%%/*}"; }

start=$SECONDS
run_demo demo --keep "$T/run"
finish_demo 150
is "$?" 0 "the demo exits 0"
note "the demo took $((SECONDS - start)) s"
out=$(cat "$T/demo.out")
[ "${TEST_VERBOSE:-0}" = 1 ] && diag "$out"

summary=$(sed -n '/^== summary/,$p' "$T/demo.out")
like "$summary" "== summary: examples/events.txt, $ntotal events" "the summary names the file and its events"
# "  LABEL   N …": the number after a label in the summary
num() { sed -n "s/^  $1 *\([0-9][0-9]*\).*/\1/p" <<< "$summary" | head -1; }
is "$(num 'offsets committed')" "$ntotal" "every offset committed"
is "$(num validate)" "$nvalid" "valid events as validate counts them"
while read -r c n; do
	is "$(num "$c\\.fifo")" "$n" "$c.fifo holds the $n distinct valid events of $c"
done < "$T/per-client"
is "$(num 'client queues')" "$nvalid" "the client queues hold every valid event once"
is "$(num 'table pismo')" "$nvalid" "the table holds every valid event"
is "$(num 'retry\.fifo')" 0 "retry.fifo is drained"
is "$(num 'dlq\.fifo')" "$ninvalid" "the DLQ holds the invalid events"
for l in $invalid_lines; do
	like "$summary" "line $l +[a-z]+: [^ ]" "the DLQ entry for line $l gives its stage and reason"
done
reason=$(node -e '
	const fs = require("fs");
	console.log(JSON.parse(fs.readFileSync(process.argv[1], "utf8").split("\n")[0])._error.reason.slice(0, 40));
' "$T/rejects")
like "$summary" "$reason" "validate's own reason is quoted"

# --- what landed where, as lists: the demo kept them under --keep's landed/ ------------------
# The key of a DLQ message: its uid, or the text it wrapped when the line
# was not an event.
cat > "$T/keys.js" << 'EOF'
const fs = require('fs');
const [what, file, client] = process.argv.slice(2);
const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
for (const l of lines) {
	let o;
	try { o = JSON.parse(l); } catch { console.log(`not JSON: ${l}`); continue; }
	if (what === 'uids' && (!client || o.client === client)) console.log(o.uid);
	if (what === 'keys') console.log(typeof o.uid === 'string' ? `uid ${o.uid}` : `raw ${o._raw}`);
	if (what === 'underscored' && Object.keys(o).some((k) => k.startsWith('_'))) console.log(l);
}
EOF
L=$T/run/landed
keys() { node "$T/keys.js" "$@" | LC_ALL=C sort; }
for c in Client_A Client_B Client_C Client_D; do
	is "$(keys uids "$L/$c.fifo.ndjson")" "$(keys uids "$T/valid" "$c" | uniq)" \
		"$c.fifo holds exactly the uids of the valid events of $c, each once"
done
is "$(cat "$L"/Client_*.fifo.ndjson | node "$T/keys.js" underscored /dev/stdin)" "" "no client message carries a _ member"
is "$(LC_ALL=C sort "$L/pismo.uids")" "$(keys uids "$T/valid" | uniq)" "the table holds exactly the valid events' uids"
is "$(keys keys "$L/dlq.fifo.ndjson")" "$(keys keys "$T/rejects")" "the DLQ holds exactly the invalid lines, each once"
is "$(cat "$L/retry.fifo.ndjson")" "" "nothing left in retry.fifo"

retried=$(num 'retry path')
ok test "${retried:-0}" -ge 1 "the retry path was taken ($retried events)"
like "$summary" "${retried} stored and delivered, 0 to the DLQ" "every retried event was stored and delivered"
like "$out" "first 2 DynamoDB write requests get a 5xx" "the demo says how it makes the retry path happen"
like "$out" 'AWS_MAX_ATTEMPTS=1' "and why persist gives up at once"
like "$summary" 'time +[0-9]+\.[0-9] s' "the time taken"
like "$out" 'fed [0-9]+/[0-9]+ \| committed' "progress while it runs"
like "$out" 'ep-pipeline RUNNING, event-processor:ep-retry RUNNING' "both programs ran under supervisord"

# --- the configuration and the logs ----------------------------------------------------------
ok test -s "$T/run/conf/event-processor.conf" "the supervisord configuration was rendered"
like "$(cat "$T/run/conf/event-processor.conf")" 'stopsignal=TERM' "from the shipped template"
ok test -s "$T/run/logs/ep-pipeline.log" "the pipeline logs to a file"
ok test -s "$T/run/logs/ep-retry.log" "the retry daemon logs to a file"
like "$(cat "$T/run/logs/supervisord.log")" 'stopped: ep-pipeline \(exit status 0\)' "the pipeline stopped cleanly"
like "$(cat "$T/run/logs/supervisord.log")" 'stopped: ep-retry \(exit status 0\)' "the retry daemon stopped cleanly"
nfiles=$(find "$T/run" -type f | wc -l)
leaks=$(grep -rlaF -- "$SECRET" "$T/run" "$T/demo.out" "$T/demo.err")
is "$leaks" "" "the secret is in none of the run's $nfiles files, logs included, nor in the output"
# every line of every log, once more without grep's notion of binary files
n=0 found=0
while IFS= read -r -d '' f; do
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		[[ $line == *"$SECRET"* ]] && found=$((found + 1))
	done < "$f"
done < <(find "$T/run/logs" -type f -print0)
is "$found" 0 "no log line of $n holds the secret"
# nor a piece of it long enough to matter
unlike "$(cat "$T/run/logs"/* "$T/demo.out" "$T/demo.err")" "${SECRET:0:16}" "nor its first 16 characters"

# --- nothing left running ---------------------------------------------------------------------
note "processes seen during the run: $(sort -u "$T/demo.seen" | awk '{ print $2 }' | sort | uniq -c | tr -s ' \n' ' ')"
like "$(sort -u "$T/demo.seen")" 'supervisord' "supervisord ran as part of the demo"
like "$(sort -u "$T/demo.seen")" '[0-9] retry' "and the retry daemon under it"
ok wait_for 10 eval '[ -z "$(left demo)" ]' "nothing the demo started is left running"
[ -n "$(left demo)" ] && diag "left: $(left demo)"
for f in dynamodb sqs kafka-mock; do
	a=$(addr "$T/run/$f.out")
	ok refused "$a" "nothing listens at the $f address $a any more"
done

# --- ^C in the middle -------------------------------------------------------------------------
# As a terminal does: SIGINT to the demo's process group, while events flow.
run_demo int --keep "$T/int" --rate 5
fed() { grep -q 'fed [0-9]' "$T/int.out"; }
if wait_for 90 fed; then
	kill -INT -- "-$DPID"
	finish_demo 90
	is "$?" 130 "^C: the demo exits 130"
	like "$(cat "$T/int.out")" 'interrupted: stopping everything' "and says so"
	ok wait_for 10 eval '[ -z "$(left int)" ]' "^C: nothing the demo started is left running"
	[ -n "$(left int)" ] && diag "left: $(left int)"
	for f in dynamodb sqs kafka-mock; do
		a=$(addr "$T/int/$f.out")
		ok refused "$a" "^C: nothing listens at the $f address any more"
	done
else
	fail "the second run never started feeding: $(tail -3 "$T/int.out" "$T/int.err")"
fi

done_testing
