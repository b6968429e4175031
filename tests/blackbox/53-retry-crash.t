#!/usr/bin/env bash
# kill -9 of the retry daemon between receiving a message and deleting it,
# under the full pipeline. The looped pipeline (kcat-in | validate | persist
# | route) runs against the Kafka mock, dynalite and fauxqs while 3,000
# events (1% broken) trickle into the topic; persist reaches DynamoDB through
# a front that answers 5xx to a share of its writes, tried once
# (AWS_MAX_ATTEMPTS=1), so those events go to retry.fifo and the retry
# daemon stores and delivers them. retry itself runs three times under a
# front whose request log records what it asks and what it is told, and
# which holds every DeleteMessage unanswered: as soon as the log shows a
# held delete, retry gets SIGKILL. That message was received, stored and
# sent to its client's queue, and not deleted: it must come back (the killed
# retry received it with a 3 s visibility timeout) and be handled once. Each
# time a new retry, behind a plain logging front, is started; it must
# receive the killed messages again and delete them (their events sent
# again, which SQS drops as duplicates by uid) before it is stopped with
# SIGTERM and the next held-delete retry starts. The last one runs to the
# end. The stream is let through in four parts, one as each held-delete
# retry (and the last) starts, so that each of them has fresh work.
#
# Then: every valid event stored once and in its client's queue exactly
# once, the broken ones in the DLQ once, retry.fifo empty, offsets committed
# to the end; and, from the request logs, that each kill came after a
# receive and before any delete of those messages, that each killed
# message came back, was deleted exactly once and its second send was
# dropped by SQS (within its 5-minute deduplication window), and that each
# retry stopped by SIGTERM deleted or backed off everything it had received.
#
# Why three kills fit in the default 5 attempts: retry counts every receive
# as an attempt (docs/retry.md). The first receive only waits; a kill costs
# a message at most one receive (it was in hand, or in the long poll the
# dead process never read); a SIGTERM costs nothing. So an event gets its
# attempt 5 at worst, never the DLQ.
# E2E_RETRY_CRASH_EVENTS changes the count.
set -uo pipefail
cd "$(dirname "$0")/../.."

. tests/lib.sh
. tests/lib-e2e.sh

RETRY=$BUILD/bin/retry
N=${E2E_RETRY_CRASH_EVENTS:-3000}
KILLS=3
# A killed retry's messages come back when the visibility of its receive
# ends: short, so the test does not wait long. The others get more room:
# an attempt outliving its visibility on a busy machine would be received
# twice (harmless, but it burns an attempt).
VIS_KILLED=3 VIS_OTHERS=10
# --request-timeout: the held delete must not be given up (and sent again)
# before the kill, however slow the machine.
RETRY_OPTS=(-v --wait-time 1 --base-delay 500ms --max-delay 2s --request-timeout 60000)
plan $((20 + 7 * KILLS))

ok e2e_kafka -p 4 "kafka-mock with 4 partitions"
ok start_standins "dynalite and fauxqs, table and queues provisioned" || bail_out "no stand-ins"
e2e_events "$T/want" "$N" 53 || bail_out "gen-events failed"
note "$(lines "$T/want.valid") valid, $(lines "$T/want.invalid") broken"

# persist's DynamoDB: one write in ten answered 5xx, not forwarded
DFRONT=$(start_front "$DDB_URL" --quiet --error5xx 10% --ops BatchWriteItem --seed 53)
ok test -n "$DFRONT" "a front before DynamoDB for persist: 10% of the writes answered 5xx"

bg_start pipeline env AWS_ENDPOINT_URL_DYNAMODB="$DFRONT" AWS_MAX_ATTEMPTS=1 \
	"$PIPELINE" -- -b "$BOOT" -G retrycrash "${E2E_X[@]}" --stats-interval 1
PIPE_PID=$BG_PID
ok wait_for 60 grep -qs 'kcat-in: assigned' "$T/pipeline.err" "the pipeline joined its group"

# The stream: a line every 5 ms, in KILLS+1 parts; part g (g >= 1) waits for
# $T/go.g. The waits give up when $T is gone (the test ended) or after 5 min.
gates=()
for ((g = 1; g <= KILLS; g++)); do gates+=($((g * N / (KILLS + 1)))); done
perl -e '$| = 1; my ($file, $ms, $dir, @at) = @ARGV; my %gate; @gate{@at} = (1 .. @at);
	open(my $f, "<", $file) or die; my $n = 0;
	while (<$f>) {
		if (my $g = $gate{$n}) {
			my $end = time + 300;
			select(undef, undef, undef, 0.05) until -e "$dir/go.$g" || !-d $dir || time > $end;
		}
		print or exit 0; $n++; select(undef, undef, undef, $ms / 1000);
	}' "$T/want.events" 5 "$T" "${gates[@]}" |
	"$PRODUCE" -b "$BOOT" -t stream_producer -k uid 2> "$T/produce.err" &
PROD_PID=$!
echo "$PROD_PID" >> "$T/.pids"

# retry_start NAME VIS [front options…]: a front with a request log
# ($T/NAME.flog) before fauxqs for this retry alone, and the retry (-v log
# in $T/NAME.err); sets RPID, RFRONT.
retry_start() {
	local name=$1 vis=$2
	shift 2
	RFRONT=$(start_front "$SQS_URL" --quiet --log-file "$T/$name.flog" "$@") || return 1
	bg_start "$name" env AWS_ENDPOINT_URL_SQS="$RFRONT" "$RETRY" "${RETRY_OPTS[@]}" --visibility-timeout "$vis"
	RPID=$BG_PID
}
held() { grep -qs '"op":"DeleteMessage","fault":"hang"' "$T/$1.flog"; }

# What the request logs say (node kills.js MODE HUNG.flog HUNG.err [LATER.flog
# LATER.err]…); see each mode below.
cat > "$T/kills.js" <<'EOF'
const fs = require('fs');
const [mode, ...files] = process.argv.slice(2);
function read(f) {
	try {
		return fs.readFileSync(f, 'utf8');
	} catch {
		return '';
	}
}
// One front's log: receipt handle -> the message received with it; the
// sends by deduplication id; the deletes; and retry's own "stored and
// sent … at attempt A" lines, by uid.
function scan(flog, err) {
	const rh = new Map(), sends = new Map(), deletes = [], said = new Map(), hidden = new Set();
	read(flog).split('\n').forEach((text, i) => {
		let l;
		try {
			l = JSON.parse(text);
		} catch {
			return; // empty, or being written
		}
		if (l.op === 'ReceiveMessage' && l.status === 200 && l.res && Array.isArray(l.res.Messages)) {
			for (const m of l.res.Messages) {
				let uid = null;
				try {
					uid = JSON.parse(m.Body).event.uid;
				} catch {}
				rh.set(m.ReceiptHandle, { id: m.MessageId, uid, rc: Number((m.Attributes || {}).ApproximateReceiveCount), i });
			}
		} else if (l.op === 'SendMessageBatch' && l.req && Array.isArray(l.req.Entries)) {
			const queue = String(l.req.QueueUrl).replace(/.*\//, '');
			for (const e of l.req.Entries) {
				const ok = l.status === 200 && l.res && (l.res.Successful || []).find((s) => s.Id === e.Id);
				if (!sends.has(e.MessageDeduplicationId)) sends.set(e.MessageDeduplicationId, []);
				sends.get(e.MessageDeduplicationId).push({ i, t: l.t, queue, msgId: ok ? ok.MessageId : null });
			}
		} else if (l.op === 'DeleteMessage') {
			deletes.push({ i, rh: l.req && l.req.ReceiptHandle, held: l.status === null, done: l.status === 200 });
		} else if (l.op === 'ChangeMessageVisibility' && l.status === 200) {
			hidden.add(l.req.ReceiptHandle);
		}
	});
	for (const text of read(err).split('\n')) {
		const m = /"msg":"event ([^ ]+): stored and sent to \S+ at attempt (\d+)"/.exec(text);
		if (m) said.set(m[1], Number(m[2]));
	}
	return { rh, sends, deletes, said, hidden };
}
const doneIds = (s) => s.deletes.filter((d) => d.done && s.rh.has(d.rh)).map((d) => s.rh.get(d.rh).id);
const H = scan(files[0], files[1]);
const later = [];
for (let k = 2; k + 1 < files.length; k += 2) later.push(scan(files[k], files[k + 1]));
// The killed retry's held deletes, and their messages: received before
// the delete, sent (the client's queue answered) before it, and never
// deleted by that retry.
const heldDel = H.deletes.filter((d) => d.held);
const killed = new Map();
let unmatched = 0;
for (const d of heldDel) {
	const r = H.rh.get(d.rh);
	if (!r || r.i > d.i) {
		unmatched++;
		continue;
	}
	const first = (H.sends.get(r.uid) || []).find((s) => s.msgId && s.i < d.i && /^Client_/.test(s.queue));
	killed.set(r.id, { ...r, first });
}
const ids = [...killed.keys()];
if (mode === 'unhandled') {
	// received, and neither deleted nor made invisible for a backoff: left
	// to come back after the visibility timeout
	const done = new Set(H.deletes.filter((d) => d.done).map((d) => d.rh));
	console.log([...H.rh.keys()].filter((r) => !done.has(r) && !H.hidden.has(r)).length);
} else if (mode === 'held') {
	// "held deletes, with no receive before them, messages, sent before the
	// delete, deleted here, said sent in retry's log"
	const deletedHere = new Set(doneIds(H));
	console.log([heldDel.length, unmatched, ids.length, ids.filter((id) => killed.get(id).first).length,
		ids.filter((id) => deletedHere.has(id)).length,
		ids.filter((id) => H.said.has(killed.get(id).uid)).length].join(' '));
} else if (mode === 'handled') {
	// exit 0 once the first later retry deleted every killed message
	const done = new Set(doneIds(later[0]));
	process.exit(ids.length > 0 && ids.every((id) => done.has(id)) ? 0 : 1);
} else if (mode === 'after') {
	// "messages, received again later, deleted exactly once in all, sent
	// again and dropped by SQS (the same MessageId as the first send),
	// handled at a later attempt than the killed one; the longest time
	// from a first send to its repeat, in s"
	let back = 0, once = 0, dropped = 0, laterAttempt = 0, gap = 0;
	for (const id of ids) {
		const k = killed.get(id);
		if (later.some((s) => [...s.rh.values()].some((r) => r.id === id && r.rc > k.rc))) back++;
		const all = [H, ...later].reduce((n, s) => n + doneIds(s).filter((x) => x === id).length, 0);
		if (all === 1) once++;
		const by = later.find((s) => doneIds(s).includes(id));
		if (!by) continue;
		const again = (by.sends.get(k.uid) || []).filter((s) => s.msgId && /^Client_/.test(s.queue));
		if (k.first && again.length > 0 && again.every((s) => s.msgId === k.first.msgId && s.queue === k.first.queue)) {
			dropped++;
			gap = Math.max(gap, ...again.map((s) => (s.t - k.first.t) / 1000));
		}
		if (by.said.get(k.uid) > (H.said.get(k.uid) || 0)) laterAttempt++;
	}
	console.log([ids.length, back, once, dropped, laterAttempt, Math.ceil(gap)].join(' '));
}
EOF

# --- the kills ----------------------------------------------------------------------
for ((k = 1; k <= KILLS; k++)); do
	retry_start "held$k" "$VIS_KILLED" --hang 1 --ops DeleteMessage,DeleteMessageBatch
	HPID=$RPID HFRONT=$RFRONT
	[ "$k" -gt 1 ] && touch "$T/go.$((k - 1))" # this one's part of the stream
	ok wait_for 120 held "held$k" "retry $k: a DeleteMessage reached the front, which holds it"
	kill -KILL "$HPID"
	wait "$HPID" 2> /dev/null
	is "$?" 137 "retry $k: killed by SIGKILL while the delete was held"
	stop_front "$HFRONT"
	read -r HD UNM MSGS SENT DEL SAID <<< "$(node "$T/kills.js" held "$T/held$k.flog" "$T/held$k.err")"
	note "retry $k: $HD held delete(s) of $MSGS message(s) at the kill"
	# (MSGS >= 1 too: a kill that caught no message would prove nothing)
	is "$([ "${MSGS:-0}" -ge 1 ] && echo some)/$UNM/$SENT/$DEL/$SAID" "some/0/$MSGS/0/$MSGS" \
		"retry $k: each held delete's message was received before it, its event sent and said so, and none deleted"
	echo "$MSGS" > "$T/held$k.msgs"

	retry_start "next$k" "$VIS_OTHERS"
	NPID=$RPID
	[ "$k" = "$KILLS" ] && touch "$T/go.$k" # the last part of the stream
	ok wait_for 120 node "$T/kills.js" handled "$T/held$k.flog" "$T/held$k.err" "$T/next$k.flog" "$T/next$k.err" \
		"retry $k's killed message(s) came back to the next retry and were deleted"
	if [ "$k" -lt "$KILLS" ]; then
		stop_pid "$NPID"
		is "$?" 0 "the retry after kill $k stopped by SIGTERM: exit 0"
	else
		ok kill -0 "$NPID" "the retry after kill $k keeps running to the end"
	fi
done
FINAL_PID=$NPID

# --- the end of the stream ------------------------------------------------------------
wait "$PROD_PID"
is "$?" 0 "kafka-produce: all $N events produced"
ENDS=$(e2e_topic stream_producer "$T/stream_producer.topic")
is "$(lines "$T/stream_producer.topic")" "$N" "the topic holds all $N (ends $ENDS)"
committed() { committed_of "$T/pipeline.err" periodic; }
at_ends() { [ "$(committed)" = "$ENDS" ]; }
ok wait_for 180 at_ends "committed offsets reach the end of every partition"
retry_empty() { [ "$(sqs_count retry.fifo)" = 0 ]; }
ok wait_for 180 retry_empty "retry.fifo drained by the last retry"
stop_pid "$PIPE_PID"
PRC=$?
stop_pid "$FINAL_PID"
is "$PRC $?" "0 0" "SIGTERM: the pipeline and the last retry exit 0"
is "$(committed_of "$T/pipeline.err")" "$ENDS" "kcat-in's final stats: committed to the ends"
route_stats=$(grep '"prog":"route","stats":"final"' "$T/pipeline.err" | tail -1 |
	perl -MJSON::PP -ne '$r = decode_json($_); print "$r->{to_client} $r->{to_retry} $r->{to_dlq}"')
read -r TO_CLIENT TO_RETRY TO_DLQ <<< "$route_stats"
note "route: $TO_CLIENT to the clients, $TO_RETRY to retry.fifo, $TO_DLQ to the DLQ"
is "$((TO_CLIENT + TO_RETRY))/$TO_DLQ" "$(lines "$T/want.valid")/$(lines "$T/want.invalid")" \
	"route: each valid event to its client or to retry.fifo, each broken one to the DLQ"
ok test "${TO_RETRY:-0}" -gt 0 "a share of the events took the retry path ($TO_RETRY)"
# the retries that ran to their end (SIGTERM) said what they stored and sent
SUCC=0
for f in "$T"/next*.err; do
	s=$(grep '"prog":"retry","stats":"final"' "$f" | tail -1 | json_get succeeded)
	SUCC=$((SUCC + ${s:-0}))
done
note "the retries that were not killed stored and sent $SUCC events"

# --- each kill, from the request logs -------------------------------------------------
ALL=()
for ((k = 1; k <= KILLS; k++)); do ALL+=("$T/held$k.flog" "$T/held$k.err" "$T/next$k.flog" "$T/next$k.err"); done
MAXGAP=0
for ((k = 1; k <= KILLS; k++)); do
	# the logs of every retry after this kill
	rest=("${ALL[@]:$((4 * (k - 1) + 2))}")
	read -r M BACK ONCE DROPPED LATER_AT GAP <<< "$(node "$T/kills.js" after "$T/held$k.flog" "$T/held$k.err" "${rest[@]}")"
	is "$M $BACK/$ONCE/$DROPPED/$LATER_AT" "$(cat "$T/held$k.msgs") $M/$M/$M/$M" \
		"kill $k: each of its $M message(s) came back, was deleted exactly once in all, its event's second send dropped by SQS, at a later attempt"
	[ "${GAP:-0}" -gt "$MAXGAP" ] && MAXGAP=$GAP
done
# Deduplication by uid holds for 5 minutes: only then is "exactly once" in
# the client queues SQS's promise rather than luck.
# A retry stopped by SIGTERM finishes what it received, the receive in
# flight at the signal included: nothing it received waits out a
# visibility timeout with an attempt counted for nothing.
for ((k = 1; k <= KILLS; k++)); do
	is "$(node "$T/kills.js" unhandled "$T/next$k.flog")" 0 \
		"the retry after kill $k (stopped by SIGTERM) deleted or backed off every message it received"
done
ok test "$MAXGAP" -lt 300 "each second send came within SQS's 5-minute deduplication window of the first (at most $MAXGAP s)"

# --- the final state ----------------------------------------------------------------
e2e_collect "$T/got" "$T/want"
e2e_check "$T/got" "$T/want" "$T/stream_producer.topic"
for q in "${CLIENTS[@]}"; do
	perl -MJSON::PP -ne 'print decode_json($_)->{uid}, "\n"' "$T/got.q.$q"
done | sort | uniq -d > "$T/got.dup.uids"
is "$(lines "$T/got.dup.uids")" 0 "no uid twice in the client queues"

done_testing
