# Helpers of the route and retry black-box tests (tests/blackbox/30-route.t,
# 31-retry.t), sourced after tests/lib.sh (TAP, $T, processes, stand-ins,
# fronts):
#
#   QUEUES                          the six queues provision.sh creates
#   drain_all DIR [WAIT]            every queue received to exhaustion into
#                                   DIR/<queue> (bodies, one a line), deleting;
#                                   WAIT: the long poll that ends it (default
#                                   0: for messages that are all visible)
#   with_src IN                     IN with "_src":{…,"offset":n} added to each
#                                   line that ends in "}" (metadata route must
#                                   not send)
#   route_check IN OUT DIR          a JSON summary of a route run (see
#                                   route-helpers.js below)
#   delivered IN DIR                a JSON summary of the client queues against
#                                   the events of IN
#   client_order IN DIR             a JSON summary of the order of each client
#                                   queue against the input's
#   rjs CMD ARGS…                   the other helpers of route-helpers.js
#   jget FILE KEY, jstr KEY < LINE  a member (dotted path), strings bare
#   stat_of FILE KIND KEY           a member of the last stats line of KIND
#   at_least FILE N, no_secret FILE…
#   start_poison NAME UPSTREAM WORD a front before UPSTREAM that answers HTTP
#                                   500 to every request whose body holds WORD
#                                   (one event that DynamoDB keeps failing);
#                                   sets NAME_URL, NAME_PID; hits in
#                                   $T/NAME.hits

ROUTE=$BUILD/bin/route
RETRY=$BUILD/bin/retry
PERSIST=$BUILD/bin/persist
VALIDATE=$BUILD/bin/validate
GEN=$BUILD/bin/gen-events
QUEUES=(Client_A.fifo Client_B.fifo Client_C.fifo Client_D.fifo retry.fifo dlq.fifo)

# A secret of our own, to look for on every stderr; nothing from ~/.aws.
export AWS_SECRET_ACCESS_KEY='Rte/sEcReT+never+printed+9876543210fedcba'
export AWS_ACCESS_KEY_ID=AKIDROUTETEST
unset AWS_SHARED_CREDENTIALS_FILE
mkdir -p "$T/home"
export HOME=$T/home

at_least() { [ -f "$1" ] && [ "$(wc -l < "$1")" -ge "$2" ]; }
no_secret() { ! grep -qF -- "$AWS_SECRET_ACCESS_KEY" "$@"; }

drain_all() {
	local dir=$1 wait=${2:-0} q
	mkdir -p "$dir"
	for q in "${QUEUES[@]}"; do sqs_receive_all "$q" "$wait" > "$dir/$q" || return 1; done
}

with_src() {
	awk '{ if ($0 ~ /}$/) sub(/}$/, ",\"_src\":{\"topic\":\"stream_producer\",\"partition\":0,\"offset\":" NR - 1 "}}"); print }' "$1"
}

cat > "$T/route-helpers.js" <<'EOF'
// Helpers of tests/lib-route.sh.
const fs = require('fs');
const [cmd, ...args] = process.argv.slice(2);
const lines = (f) => fs.readFileSync(f, 'utf8').split('\n').filter((l) => l !== '');
const parse = (l) => { try { return JSON.parse(l); } catch { return null; } };
const strip = (o) => Object.fromEntries(Object.entries(o).filter(([k]) => !k.startsWith('_')));
const CLIENT_QUEUES = ['Client_A.fifo', 'Client_B.fifo', 'Client_C.fifo', 'Client_D.fifo'];
const readQ = (dir, q) => (fs.existsSync(`${dir}/${q}`) ? lines(`${dir}/${q}`) : []);

// Where route should send a record: its client's queue when unmarked, retry.fifo
// when persist marked it retryable, else the DLQ.
function expectedQueue(o) {
	if (!o) return 'dlq.fifo';
	if (o._error) return o._error.stage === 'persist' && o._error.retryable === true ? 'retry.fifo' : 'dlq.fifo';
	return `${o.client}.fifo`;
}

if (cmd === 'check') {
	// IN OUT DIR -> {records, out, order_errors (an outcome that is not its
	// input record plus "_out" as the last member), no_message_id,
	// wrong_queue (an outcome's queue is not where that record belongs),
	// outcomes {queue: n}, in_queue {queue: messages drained},
	// client: {missing, duplicated, extra, body_mismatch, meta_in_body},
	// dlq: {missing, extra, no_reason}, retry_envelopes: {bad}}.
	// retry.fifo messages are checked against the records that were sent there
	// (by their outcome): the event without "_" members, attempts 1, one error.
	const [inF, outF, dir] = args;
	const ins = lines(inF), outs = lines(outF);
	const r = { records: ins.length, out: outs.length, order_errors: 0, no_message_id: 0, wrong_queue: 0,
		outcomes: {}, in_queue: {},
		client: { missing: 0, duplicated: 0, extra: 0, body_mismatch: 0, meta_in_body: 0 },
		dlq: { missing: 0, extra: 0, no_reason: 0 }, retry: { missing: 0, extra: 0, bad: 0 } };
	if (ins.length !== outs.length) r.order_errors++;
	const wantClient = new Map(), wantDlq = new Map(), wantRetry = new Map();
	for (let i = 0; i < Math.min(ins.length, outs.length); i++) {
		const inObj = parse(ins[i]), o = parse(outs[i]);
		const tail = o && o._out ? `"_out":${JSON.stringify(o._out)}}` : null;
		const exact = tail && outs[i] === `${ins[i].slice(0, -1)},${tail}`;
		// route's own mark ("_error" stage route), between the record and
		// "_out", when it sent the record elsewhere than its client's queue
		const marked = tail && !(inObj && inObj._error) && o._error && o._error.stage === 'route' &&
			outs[i].startsWith(`${ins[i].slice(0, -1)},"_error":{"stage":"route",`) && outs[i].endsWith(`},${tail}`);
		if (!exact && !marked) {
			r.order_errors++;
			continue;
		}
		if (typeof o._out.message_id !== 'string' || o._out.message_id === '') r.no_message_id++;
		const q = o._out.queue;
		r.outcomes[q] = (r.outcomes[q] || 0) + 1;
		const want = expectedQueue(inObj);
		const routeMarked = o._error && o._error.stage === 'route';
		if (q !== want && !(routeMarked && q === 'retry.fifo' && want.startsWith('Client_'))) r.wrong_queue++;
		if (CLIENT_QUEUES.includes(q)) wantClient.set(inObj.uid, { q, body: JSON.stringify(strip(inObj)) });
		else if (q === 'dlq.fifo') wantDlq.set(ins[i], true);
		else if (q === 'retry.fifo') wantRetry.set(inObj.uid, { event: JSON.stringify(strip(inObj)), out: o });
	}
	const seen = new Map();
	for (const q of CLIENT_QUEUES) {
		const msgs = readQ(dir, q);
		r.in_queue[q] = msgs.length;
		for (const m of msgs) {
			const o = parse(m);
			if (!o) { r.client.extra++; continue; }
			if (Object.keys(o).some((k) => k.startsWith('_'))) r.client.meta_in_body++;
			const w = wantClient.get(o.uid);
			if (!w || w.q !== q) { r.client.extra++; continue; }
			if (seen.has(o.uid)) { r.client.duplicated++; continue; }
			seen.set(o.uid, true);
			if (JSON.stringify(o) !== w.body) r.client.body_mismatch++;
		}
	}
	for (const uid of wantClient.keys()) if (!seen.has(uid)) r.client.missing++;
	const dlq = readQ(dir, 'dlq.fifo');
	r.in_queue['dlq.fifo'] = dlq.length;
	const dseen = new Map();
	for (const m of dlq) {
		// the record as it came (its own "_error", "_src", "_raw"), unless it
		// had to be cut down
		const o = parse(m);
		if (!o || !o._error || typeof o._error.reason !== 'string' || o._error.reason === '') r.dlq.no_reason++;
		if (!wantDlq.has(m) || dseen.has(m)) { r.dlq.extra++; continue; }
		dseen.set(m, true);
	}
	for (const l of wantDlq.keys()) if (!dseen.has(l)) r.dlq.missing++;
	const rq = readQ(dir, 'retry.fifo');
	r.in_queue['retry.fifo'] = rq.length;
	const rseen = new Map();
	for (const m of rq) {
		const o = parse(m);
		const w = o && o.event && wantRetry.get(o.event.uid);
		if (!w || rseen.has(o.event.uid)) { r.retry.extra++; continue; }
		rseen.set(o.event.uid, true);
		const err = o.errors && o.errors[0];
		if (JSON.stringify(o.event) !== w.event || o.attempts !== 1 || o.errors.length !== 1 || !err ||
			err.attempt !== 1 || err.retryable !== true || typeof err.reason !== 'string' ||
			Object.keys(o).join() !== 'event,attempts,errors') r.retry.bad++;
	}
	for (const uid of wantRetry.keys()) if (!rseen.has(uid)) r.retry.missing++;
	process.stdout.write(JSON.stringify(r) + '\n');
} else if (cmd === 'delivered') {
	// IN DIR -> {missing, duplicated, extra, body_mismatch}: the client queues
	// against the events of IN (each, without its "_" members, in its
	// client's queue once; nothing else there)
	const [inF, dir] = args;
	const want = new Map();
	for (const o of lines(inF).map(parse)) if (o && !o._error) want.set(o.uid, { q: `${o.client}.fifo`, body: JSON.stringify(strip(o)) });
	const r = { missing: 0, duplicated: 0, extra: 0, body_mismatch: 0 };
	const seen = new Set();
	for (const q of CLIENT_QUEUES) {
		for (const m of readQ(dir, q)) {
			const o = parse(m), w = o && want.get(o.uid);
			if (!w || w.q !== q) r.extra++;
			else if (seen.has(o.uid)) r.duplicated++;
			else {
				seen.add(o.uid);
				if (m !== w.body) r.body_mismatch++;
			}
		}
	}
	r.missing = want.size - seen.size;
	process.stdout.write(JSON.stringify(r) + '\n');
} else if (cmd === 'order') {
	// IN DIR -> {queue: true when its messages are the input's events of that
	// client, in input order}
	const [inF, dir] = args;
	const ins = lines(inF).map(parse);
	const r = {};
	for (const q of CLIENT_QUEUES) {
		const want = ins.filter((o) => o && !o._error && `${o.client}.fifo` === q).map((o) => o.uid).join();
		const got = readQ(dir, q).map((m) => parse(m).uid).join();
		r[q] = want === got;
	}
	process.stdout.write(JSON.stringify(r) + '\n');
} else if (cmd === 'uids') {
	// FILE [PATH]: the uid of each line (at PATH, e.g. event.uid), one a line
	const path = (args[1] || 'uid').split('.');
	for (const l of lines(args[0])) {
		let v = parse(l);
		for (const k of path) v = v == null ? undefined : v[k];
		if (v !== undefined) process.stdout.write(`${v}\n`);
	}
} else if (cmd === 'get' || cmd === 'str') {
	// a dotted path whose keys may hold dots themselves (in_queue.dlq.fifo):
	// at each level the longest key that is there
	let v = JSON.parse(cmd === 'get' ? fs.readFileSync(args[0], 'utf8') : fs.readFileSync(0, 'utf8'));
	const parts = (cmd === 'get' ? args[1] : args[0]).split('.');
	for (let i = 0; i < parts.length && v !== undefined;) {
		let j = parts.length;
		while (j > i + 1 && !(v != null && typeof v === 'object' && parts.slice(i, j).join('.') in v)) j--;
		v = v == null ? undefined : v[parts.slice(i, j).join('.')];
		i = j;
	}
	if (v !== undefined) process.stdout.write(typeof v === 'string' ? v : JSON.stringify(v));
} else {
	process.stderr.write(`route-helpers.js: unknown command ${cmd}\n`);
	process.exit(64);
}
EOF

rjs() { node "$T/route-helpers.js" "$@"; }
route_check() { rjs check "$1" "$2" "$3"; }
client_order() { rjs order "$1" "$2"; }
jget() { rjs get "$1" "$2"; }
jstr() { rjs str "$1"; }
stat_of() {
	local line
	line=$(grep "\"stats\":\"$2\"" "$1" | tail -1)
	[ -n "$line" ] && printf '%s' "$line" | jstr "$3"
}

# start_poison NAME UPSTREAM WORD: tests/tools/poison-front.mjs in front of
# UPSTREAM; sets NAME_PID and NAME_URL, hits counted in $T/NAME.hits
start_poison() {
	local name=$1 url
	: > "$T/$name.hits"
	bg_start "$name" node tests/tools/poison-front.mjs "$2" "$3" "$T/$name.hits"
	printf -v "${name}_PID" '%s' "$BG_PID"
	url=$(_lib_first_line "$T/$name.out" "$BG_PID" 30 poison-front) || return 1
	printf -v "${name}_URL" '%s' "$url"
}
