# Helpers of persist's black-box tests (tests/blackbox/2*-persist*.t),
# sourced after tests/lib.sh (TAP, $T, processes, stand-ins, fronts):
#
#   start_dynalite NAME [dynamodb-local options]  sets NAME_URL and NAME_PID
#                                   (several at once; lib.sh stops them at exit)
#   provision URL                   table pismo (scripts/provision.sh --table-only)
#   scan_items URL                  every item of pismo, one JSON line each
#   get_item URL UID                GetItem's answer
#   check IN OUT ITEMS              a JSON summary of a run (see ddb-helpers.js)
#   strip_error FILE                the records without persist's _error
#   jget FILE KEY, jstr KEY < LINE  a member, strings bare
#   stat_of FILE KIND KEY           a member of persist's last stats line of KIND
#   trickle FILE N SECONDS          N lines, a pause, N more, … (stops when the
#                                   reader has gone)
#   at_least FILE N, no_secret FILE…

PERSIST=$BUILD/bin/persist
VALIDATE=$BUILD/bin/validate
GEN=$BUILD/bin/gen-events

# A secret of our own, to look for on every stderr; nothing from ~/.aws.
export AWS_SECRET_ACCESS_KEY='Tst/sEcReT+never+printed+0123456789abcdef'
export AWS_ACCESS_KEY_ID=AKIDPERSISTTEST
unset AWS_SHARED_CREDENTIALS_FILE
mkdir -p "$T/home"
export HOME=$T/home

at_least() { [ -f "$1" ] && [ "$(wc -l < "$1")" -ge "$2" ]; }
no_secret() { ! grep -qF -- "$AWS_SECRET_ACCESS_KEY" "$@"; }

start_dynalite() {
	local name=$1 had=${AWS_ENDPOINT_URL_DYNAMODB-}
	shift
	start_dynamodb "$@" || return 1
	printf -v "${name}_URL" '%s' "$DDB_URL"
	printf -v "${name}_PID" '%s' "$DDB_PID"
	# start_dynamodb exports its URL: keep the endpoint the test had chosen
	if [ -n "$had" ]; then export AWS_ENDPOINT_URL_DYNAMODB=$had; else unset AWS_ENDPOINT_URL_DYNAMODB; fi
}

provision() {
	AWS_ENDPOINT_URL_DYNAMODB=$1 with_timeout 60 scripts/provision.sh --table-only > /dev/null
}
scan_items() { AWS_ENDPOINT_URL_DYNAMODB=$1 ddb_scan pismo; }
get_item() {
	AWS_ENDPOINT_URL_DYNAMODB=$1 aws_call dynamodb GetItem \
		"{\"TableName\":\"pismo\",\"Key\":{\"UUID\":{\"S\":\"$2\"}}}"
}

cat > "$T/ddb-helpers.js" <<'EOF'
// Helpers of tests/lib-persist.sh: check, strip, get, str.
const fs = require('fs');
const [cmd, ...args] = process.argv.slice(2);
const lines = (f) => fs.readFileSync(f, 'utf8').split('\n').filter((l) => l.trim() !== '');
const parse = (l) => { try { return JSON.parse(l); } catch { return null; } };
// an item with its attributes in name order, for comparisons
const canon = (it) => JSON.stringify(Object.fromEntries(Object.keys(it).sort().map((k) => [k, it[k]])));

if (cmd === 'check') {
	// IN OUT ITEMS -> counts: records, out, passed (already _error, unchanged),
	// marked (by persist, original text kept), stored_records (unmarked and
	// unchanged), order_errors, items, unstored (an unmarked record's uid has
	// no item), bad_items (the item differs from the last unmarked event of
	// its uid, or has other attributes), codes {code: n}.
	const [inF, outF, itemsF] = args;
	const ins = lines(inF), outs = lines(outF);
	const items = new Map(lines(itemsF).map((l) => { const o = JSON.parse(l); return [o.UUID.S, o]; }));
	const r = { records: ins.length, out: outs.length, passed: 0, marked: 0, stored_records: 0,
		order_errors: 0, items: items.size, unstored: 0, bad_items: 0, codes: {} };
	const expected = new Map();
	if (ins.length !== outs.length) r.order_errors++;
	for (let i = 0; i < Math.min(ins.length, outs.length); i++) {
		const inObj = parse(ins[i]), outObj = parse(outs[i]);
		if (inObj && inObj._error) {
			r.passed++;
			if (outs[i] !== ins[i]) r.order_errors++;
			continue;
		}
		if (outObj && outObj._error && outObj._error.stage === 'persist') {
			r.marked++;
			r.codes[outObj._error.code] = (r.codes[outObj._error.code] || 0) + 1;
			if (!ins[i].endsWith('}') || !outs[i].startsWith(ins[i].slice(0, -1))) r.order_errors++;
			continue;
		}
		if (outs[i] !== ins[i]) { r.order_errors++; continue; }
		r.stored_records++;
		expected.set(inObj.uid, inObj);
	}
	for (const [uid, ev] of expected) {
		const it = items.get(uid);
		if (!it) { r.unstored++; continue; }
		const want = { UUID: { S: ev.uid }, Context: { S: ev.context }, EventType: { S: ev.event_type },
			Client: { S: ev.client }, CreatedAt: { S: ev.created_at } };
		if (canon(it) !== canon(want)) r.bad_items++;
	}
	process.stdout.write(JSON.stringify(r) + '\n');
} else if (cmd === 'strip') {
	for (const l of lines(args[0])) {
		const o = parse(l);
		if (o && o._error && o._error.stage === 'persist')
			process.stdout.write(l.slice(0, l.lastIndexOf(',"_error":')) + '}\n');
		else
			process.stdout.write(l + '\n');
	}
} else if (cmd === 'get' || cmd === 'str') {
	const o = JSON.parse(cmd === 'get' ? fs.readFileSync(args[0], 'utf8') : fs.readFileSync(0, 'utf8'));
	const v = o[cmd === 'get' ? args[1] : args[0]];
	process.stdout.write(typeof v === 'string' ? v : JSON.stringify(v));
}
EOF

check() { node "$T/ddb-helpers.js" check "$1" "$2" "$3"; }
strip_error() { node "$T/ddb-helpers.js" strip "$1"; }
jget() { node "$T/ddb-helpers.js" get "$1" "$2"; }
jstr() { node "$T/ddb-helpers.js" str "$1"; }
stat_of() {
	local line
	line=$(grep "\"stats\":\"$2\"" "$1" | tail -1)
	[ -n "$line" ] && printf '%s' "$line" | node "$T/ddb-helpers.js" str "$3"
}
trickle() {
	local f=$1 n=$2 s=$3 i=1 total
	total=$(wc -l < "$f")
	while [ "$i" -le "$total" ]; do
		sed -n "${i},$((i + n - 1))p" "$f" 2> /dev/null || return 0
		i=$((i + n))
		sleep "$s"
	done
}
