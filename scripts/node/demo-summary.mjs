#!/usr/bin/env node
// demo-summary.mjs — the summary scripts/demo.sh prints at the end, made from
// what the run left behind: the queues and the table as scripts/status.sh
// --json --dlq saw them, the tools' stats lines in the supervisord logs, the
// fault proxy's counters, and the sample file (to say which line each DLQ
// message came from). Node only, no npm packages.
//
//   node demo-summary.mjs --events FILE --status FILE --pipeline-log FILE
//        --retry-log FILE [--front-stats FILE] [--fail-writes N]
//        [--busy-s S] [--name TEXT]
//
// stdout: the summary. Exit: 0, 64 usage, 66 an input is missing.
import fs from 'node:fs';
import { parseArgs } from 'node:util';

let a;
try {
	a = parseArgs({
		options: {
			events: { type: 'string' },
			status: { type: 'string' },
			'pipeline-log': { type: 'string' },
			'retry-log': { type: 'string' },
			'front-stats': { type: 'string' },
			'fail-writes': { type: 'string' },
			'busy-s': { type: 'string' },
			name: { type: 'string' },
		},
		strict: true,
	}).values;
} catch (e) {
	process.stderr.write(`demo-summary: ${e.message}\n`);
	process.exit(64);
}
for (const k of ['events', 'status', 'pipeline-log', 'retry-log'])
	if (!a[k]) {
		process.stderr.write(`demo-summary: --${k} is required\n`);
		process.exit(64);
	}

function read(f) {
	try {
		return fs.readFileSync(f, 'utf8');
	} catch (e) {
		if (f === a['front-stats']) return '';
		process.stderr.write(`demo-summary: ${e.message}\n`);
		process.exit(66);
	}
}

// Every stats line of PROG ("final" ones; the last periodic one when the
// program has not exited), summed over the program's runs: supervisord may
// have restarted it.
function stats(text, prog) {
	const lines = text.split('\n').filter((l) => l.startsWith(`{"prog":"${prog}","stats":`));
	const parsed = lines.map((l) => {
		try {
			return JSON.parse(l);
		} catch {
			return null;
		}
	}).filter(Boolean);
	const finals = parsed.filter((s) => s.stats === 'final');
	const use = finals.length ? finals : parsed.slice(-1);
	const sum = {};
	for (const s of use)
		for (const [k, v] of Object.entries(s)) if (typeof v === 'number') sum[k] = (sum[k] ?? 0) + v;
	sum.runs = finals.length;
	sum.last = parsed[parsed.length - 1];
	return sum;
}

const events = read(a.events).split('\n');
if (events[events.length - 1] === '') events.pop();
const lineOfUid = new Map(), lineOfText = new Map();
events.forEach((l, i) => {
	const t = l.replace(/\r$/, '');
	if (!lineOfText.has(t)) lineOfText.set(t, i + 1);
	try {
		const o = JSON.parse(t);
		if (o && typeof o.uid === 'string' && !lineOfUid.has(o.uid)) lineOfUid.set(o.uid, i + 1);
	} catch { /* not JSON: found by its text */ }
});
const fed = events.filter((l) => l.trim() !== '').length;

const st = JSON.parse(read(a.status));
const pl = read(a['pipeline-log']);
const kin = stats(pl, 'kcat-in'), val = stats(pl, 'validate'), per = stats(pl, 'persist'), rou = stats(pl, 'route');
const ret = stats(read(a['retry-log']), 'retry');
let front = {};
try {
	front = JSON.parse(read(a['front-stats']) || '{}');
} catch { /* none */ }

const parts = kin.last?.partitions ?? [];
const committed = parts.reduce((n, p) => n + Math.max(0, p.committed), 0);
const W = 20;
const out = [];
const row = (k, v) => out.push(`  ${k.padEnd(W)}${v}`);
const more = (v) => out.push(`  ${''.padEnd(W)}${v}`);
const num = (v) => String(v ?? '-').padStart(3);
const s_ = (n, one, many) => (n === 1 ? one : many ?? one + 's');
const clientTotal = Object.values(st.clients).reduce((n, v) => n + (v ?? 0), 0);
const lineOf = (d) => {
	if (d.raw !== undefined) {
		for (const [t, n] of lineOfText) if (t.startsWith(d.raw)) return n;
	} else if (d.uid) return lineOfUid.get(d.uid);
	return undefined;
};
const where = (d) => (lineOf(d) ? `line ${lineOf(d)}` : d.uid ? d.uid.slice(0, 8) : '?').padEnd(8);

out.push(`== summary: ${a.name ?? a.events}, ${fed} events fed through Kafka (${parts.length} partitions)`);
row('offsets committed', `${num(committed)} of ${fed}`);
row('validate', `${num(val.valid)} valid, ${val.invalid ?? '-'} invalid`);
for (const [c, n] of Object.entries(st.clients)) row(`${c}.fifo`, `${num(n)} events`);
row('client queues', `${num(clientTotal)} events in all, one message each (deduplicated by uid)`);
row('table pismo', `${num(st.table)} items`);
const toRetry = rou.to_retry ?? 0;
if (toRetry > 0) {
	const failed = front.error5xx ?? 0;
	row('retry path', `${num(toRetry)} ${s_(toRetry, 'event')} persist could not store` +
		(failed ? `: the first ${failed} write ${s_(failed, 'request')} got a 5xx,` : ','));
	more('and the pipeline tries each request once (AWS_MAX_ATTEMPTS=1); route put them on');
	more(`retry.fifo, and the retry daemon made ${ret.attempts ?? 0} ${s_(ret.attempts, 'attempt')}: ` +
		`${ret.succeeded ?? 0} stored and delivered, ${ret.to_dlq ?? 0} to the DLQ:`);
	const rlog = read(a['retry-log']);
	for (const m of rlog.matchAll(/"msg":"event ([^:"]+): stored and sent to ([^ "]+) at attempt ([0-9]+)"/g))
		more(`  ${where({ uid: m[1] })} ${m[1]} -> ${m[2]}, attempt ${m[3]}`);
} else {
	row('retry path', '  0 events needed it' + (a['fail-writes'] === '0' ? ' (--fail-writes 0)' : ''));
}
row('retry.fifo', `${num(st.retry)} messages${st.retry === 0 ? ' (drained)' : ''}`);
row('dlq.fifo', `${num(st.dlq)} messages${st.dlq ? ', each with its reason:' : ''}`);
for (const d of st.dlq_messages ?? []) {
	let reason = `${d.stage ? d.stage + ': ' : ''}${d.reason}`;
	if (reason.length > 110) reason = reason.slice(0, 109) + '…';
	more(`  ${where(d)} ${reason}`);
}
if (st.dlq_unlisted) more(`  (${st.dlq_unlisted} more, not listed)`);
if (a['busy-s'])
	row('time', `${Number(a['busy-s']).toFixed(1)} s from the first event fed until every offset was` +
		' committed and retry.fifo was empty');
process.stdout.write(out.join('\n') + '\n');
