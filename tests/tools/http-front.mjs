#!/usr/bin/env node
// http-front — a loopback HTTP/1.1 front for the local DynamoDB and SQS
// stand-ins that adds latency and misbehaves on purpose, so that tests and
// benchmarks can see what the tools do when AWS is slow, throttles, fails or
// half-answers. Node only, no npm packages.
//
//   node tests/tools/http-front.mjs --upstream http://127.0.0.1:PORT [options]
//
// Prints its own URL "http://127.0.0.1:PORT" as the first line on stdout once
// it listens, then forwards every request to the upstream (keep-alive on both
// sides, Host rewritten to the upstream's, the body buffered) until SIGTERM or
// SIGINT, when it prints its counters and exits 0.
//
// Options (RATE is a probability "0.1", a percentage "10%", or "first:K" =
// the first K eligible requests):
//   --upstream URL      where to forward (required; http or https)
//   --port N            listen port (default 0: the system picks one)
//   --delay-ms N        wait N ms before handling each request (a real
//                       region's latency, for benchmarks)
//   --throttle RATE     answer 400 with the service's throttling error, not
//                       forwarded: DynamoDB
//                       {"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",…};
//                       SQS alternately ThrottlingException and RequestThrottled
//   --error5xx RATE     answer 500, 502 or 503 in turn with an HTML body, not
//                       forwarded (like a load balancer in front of AWS)
//   --unprocessed RATE  BatchWriteItem only: forward a random part of the
//                       batch, answer 200 with the rest in UnprocessedItems
//                       (an honest partial write; all held back when 1 item)
//   --sqs-failed RATE   SendMessageBatch only: forward a random part of the
//                       entries, report the rest in Failed (InternalError,
//                       SenderFault false) inside a 200
//   --truncate RATE     forwarded; the answer's headers promise the whole
//                       body, half of it is sent, then the connection is
//                       closed (curl: "transfer closed with N bytes remaining")
//   --reset RATE        forwarded; headers and part of the body, then a TCP
//                       reset (curl: "Connection reset by peer", recv error)
//   --auth RATE         answer 400 UnrecognizedClientException ("The security
//                       token included in the request is invalid."), not
//                       forwarded: a revoked key or an expired session token
//   --hang RATE         never answered and not forwarded; the connection stays
//                       open until the client gives up or the front exits
//   --status RATE       answer --status-answer, not forwarded: what a proxy, a
//                       load balancer or a misconfigured endpoint answers
//   --status-answer CODE:BODY  the status and body of --status (default
//                       "302:", with a Location header for a 3xx); a BODY
//                       that parses as JSON goes as application/x-amz-json-1.0
//                       (e.g. 400:{"__type":"…#ResourceNotFoundException",…}),
//                       any other as text/html
//   --big-body RATE     forwarded; the answer's body padded with blanks after
//                       the JSON to --big-bytes (an answer over a client's cap)
//   --big-bytes N       the padded size (default 34603008: 33 MiB)
//   --receive-count N   every ReceiveMessage answer forwarded with each
//                       message's ApproximateReceiveCount replaced by the
//                       string N (a number from the other side, any digits)
//   --ops LIST          faults apply only to these operations (comma list of
//                       X-Amz-Target operation names, e.g. BatchWriteItem);
//                       default all. Latency applies to every request.
//   --seed S            seed of the fault draws (default 1): a run of
//                       sequential requests is reproducible
//   --stats-file F      rewrite F (atomically) with the counters after every
//                       request
//   --log-file F        append one JSON line per request to F once its fate
//                       is known (below)
//   --quiet             no counters on stderr at exit
//   --help
// A request gets at most one fault, tried in this order: hang, reset,
// truncate, error5xx, throttle, unprocessed, sqs-failed, auth, status,
// big-body. With first:K, a kind
// counts the eligible requests that no earlier kind took: "--reset first:1
// --truncate first:1" resets the first request and truncates the second.
//
// Counters (one JSON line on stderr on SIGUSR1 and at exit; the same object
// in --stats-file): requests, forwarded (requests that reached the
// upstream), per kind: throttle, error5xx, unprocessed (+unprocessed_items),
// sqs_failed (+sqs_failed_entries), truncate, reset, hang; upstream_error
// (the upstream could not be reached: answered 502 with a text body); ops
// (requests per X-Amz-Target operation).
//
// Request log (--log-file): a line per request, appended when the answer is
// sent, or at once for a request held by --hang (so a test can see what is
// held while it is held): {"n":<its number, in arrival order>,"t":<wall
// ms>,"op":…,"fault":<kind or null>,"status":<HTTP status, null for a held
// request>,"req":<the request body>,"res":<the answer's body, null for a held
// request>}; a body is its JSON value when it parses, else its text, and one
// over 1 MiB is {"bytes":N}. For truncate and reset, "res" is the whole
// answer of which only part was sent. Lines are written synchronously, in
// the order the answers go out: the line of an answer precedes anything the
// client does on receiving it.
//
// Not for real AWS: the Host header and, with --unprocessed/--sqs-failed,
// the body change after the client signed them; the stand-ins do not check
// signatures, AWS does. Exit: 0 after SIGTERM/SIGINT, 64 usage, 75 the port
// is taken, 70 other errors.
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import { parseArgs } from 'node:util';

const PROG = 'http-front';
const KINDS = ['hang', 'reset', 'truncate', 'error5xx', 'throttle', 'unprocessed', 'sqs-failed', 'auth',
	'status', 'big-body'];
// kinds added after the seeded sequences were in use: they draw only when asked
const LATE = new Set(['auth', 'status', 'big-body']);

function usage(out) {
	out.write(`usage: http-front --upstream URL [--port N] [--delay-ms N] [--throttle RATE]
         [--error5xx RATE] [--unprocessed RATE] [--sqs-failed RATE]
         [--truncate RATE] [--reset RATE] [--hang RATE] [--auth RATE] [--ops LIST]
         [--status RATE] [--status-answer CODE:BODY] [--big-body RATE] [--big-bytes N]
         [--receive-count N]
         [--seed S] [--stats-file F] [--log-file F] [--quiet]
RATE: a probability (0.1), a percentage (10%) or first:K. Prints its URL
first on stdout; counters as a JSON line on stderr on SIGUSR1 and at exit.
The comment at the top of ${import.meta.url.replace('file://', '')} says more.
`);
}

function die(code, msg) {
	process.stderr.write(`${PROG}: ${msg}\n`);
	process.exit(code);
}

let a;
try {
	a = parseArgs({
		options: {
			upstream: { type: 'string' },
			port: { type: 'string' },
			'delay-ms': { type: 'string' },
			throttle: { type: 'string' },
			error5xx: { type: 'string' },
			unprocessed: { type: 'string' },
			'sqs-failed': { type: 'string' },
			truncate: { type: 'string' },
			reset: { type: 'string' },
			hang: { type: 'string' },
			auth: { type: 'string' },
			status: { type: 'string' },
			'status-answer': { type: 'string' },
			'big-body': { type: 'string' },
			'big-bytes': { type: 'string' },
			'receive-count': { type: 'string' },
			ops: { type: 'string' },
			seed: { type: 'string' },
			'stats-file': { type: 'string' },
			'log-file': { type: 'string' },
			quiet: { type: 'boolean' },
			help: { type: 'boolean', short: 'h' },
		},
		strict: true,
		allowPositionals: false,
	}).values;
} catch (e) {
	process.stderr.write(`${PROG}: ${e.message}\n`);
	usage(process.stderr);
	process.exit(64);
}
if (a.help) {
	usage(process.stdout);
	process.exit(0);
}

function whole(name, s, lo, hi, dflt) {
	if (s === undefined) return dflt;
	if (!/^[0-9]+$/.test(s) || Number(s) < lo || Number(s) > hi)
		die(64, `--${name}: '${s}' is not a whole number from ${lo} to ${hi}`);
	return Number(s);
}

// RATE → {p} or {first}
function rate(name, s) {
	if (s === undefined) return null;
	let m;
	if ((m = /^first:([0-9]+)$/.exec(s))) return { first: Number(m[1]), seen: 0 };
	if ((m = /^([0-9]+(?:\.[0-9]+)?)%$/.exec(s)) && Number(m[1]) <= 100) return { p: Number(m[1]) / 100 };
	if (/^(0(\.[0-9]+)?|1(\.0+)?|\.[0-9]+)$/.test(s)) return { p: Number(s) };
	die(64, `--${name}: '${s}' is not a rate (0 to 1, N%, or first:K)`);
}

if (!a.upstream) die(64, '--upstream URL is required');
let up;
try {
	up = new URL(a.upstream);
	if (up.protocol !== 'http:' && up.protocol !== 'https:') throw new Error('not http');
} catch {
	die(64, `--upstream: '${a.upstream}' is not an http(s) URL`);
}
const port = whole('port', a.port, 0, 65535, 0);
const delayMs = whole('delay-ms', a['delay-ms'], 0, 600000, 0);
let seed = whole('seed', a.seed, 0, 2 ** 32 - 1, 1);
const faults = {};
for (const k of KINDS) faults[k] = rate(k, a[k]);
const ops = a.ops ? new Set(a.ops.split(',').filter(Boolean)) : null;
let statusAnswer = { code: 302, body: '' };
if (a['status-answer'] !== undefined) {
	const m = /^([1-5][0-9][0-9]):(.*)$/s.exec(a['status-answer']);
	if (!m) die(64, `--status-answer: '${a['status-answer']}' is not CODE:BODY`);
	statusAnswer = { code: Number(m[1]), body: m[2] };
}
const bigBytes = whole('big-bytes', a['big-bytes'], 1, 2 ** 30, 34603008);
if (a['receive-count'] !== undefined && !/^[0-9]+$/.test(a['receive-count']))
	die(64, `--receive-count: '${a['receive-count']}' is not digits`);
const receiveCount = a['receive-count'];

// mulberry32: small, seeded, good enough for fault draws.
function rand() {
	seed = (seed + 0x6d2b79f5) >>> 0;
	let t = seed;
	t = Math.imul(t ^ (t >>> 15), t | 1);
	t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
	return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const stats = {
	requests: 0, forwarded: 0, throttle: 0, error5xx: 0, unprocessed: 0, unprocessed_items: 0,
	sqs_failed: 0, sqs_failed_entries: 0, truncate: 0, reset: 0, hang: 0, auth: 0, status: 0, big_body: 0,
	receive_count: 0, upstream_error: 0, ops: {},
};
function statsLine() {
	return JSON.stringify({ prog: PROG, stats: 'front', ...stats });
}
function writeStats() {
	if (!a['stats-file']) return;
	const tmp = `${a['stats-file']}.${process.pid}.tmp`;
	try {
		fs.writeFileSync(tmp, statsLine() + '\n');
		fs.renameSync(tmp, a['stats-file']);
	} catch (e) {
		process.stderr.write(`${PROG}: --stats-file: ${e.message}\n`);
	}
}

// --log-file: see the comment at the top. A failed write is said once and
// the front goes on: the log is evidence for a test, not part of the service.
const logFile = a['log-file'];
let logBroken = false;
function logBody(buf) {
	if (buf === null || buf === undefined) return null;
	if (buf.length > 1 << 20) return { bytes: buf.length };
	const text = buf.toString('utf8');
	try {
		return JSON.parse(text);
	} catch {
		return text;
	}
}
function logRequest(res, status, body) {
	const l = res && res.frontLog;
	if (!logFile || !l || logBroken) return;
	res.frontLog = null; // one line per request
	const line = JSON.stringify({ n: l.n, t: Date.now(), op: l.op, fault: l.fault, status,
		req: logBody(l.req), res: logBody(body) });
	try {
		fs.appendFileSync(logFile, line + '\n');
	} catch (e) {
		logBroken = true;
		process.stderr.write(`${PROG}: --log-file: ${e.message}\n`);
	}
}

const agent = new (up.protocol === 'https:' ? https : http).Agent({ keepAlive: true, maxSockets: Infinity });
const transport = up.protocol === 'https:' ? https : http;
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer',
	'upgrade', 'expect', 'host', 'content-length']);

// Sends the request upstream; resolves {status, headers, body} or rejects.
function forward(req, body) {
	return new Promise((resolve, reject) => {
		const headers = {};
		for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k)) headers[k] = v;
		headers.host = up.host;
		headers['content-length'] = body.length;
		const r = transport.request({
			protocol: up.protocol, hostname: up.hostname, port: up.port, method: req.method,
			path: req.url, headers, agent,
		}, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
			res.on('error', reject);
		});
		r.on('error', reject);
		r.end(body);
		stats.forwarded++;
	});
}

function send(res, status, headers, body) {
	const h = {};
	for (const [k, v] of Object.entries(headers)) if (!HOP.has(k)) h[k] = v;
	h['content-length'] = body.length;
	logRequest(res, status, body);
	res.writeHead(status, h);
	res.end(body);
}

function amzJson(res, status, obj, extra = {}) {
	send(res, status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': reqId(), ...extra },
		Buffer.from(JSON.stringify(obj)));
}

let reqCounter = 0;
function reqId() {
	return `FRONT${String(++reqCounter).padStart(11, '0')}`;
}

// Which kind of fault this request gets, if any. Every kind draws a number
// for every request, so the draws do not depend on earlier outcomes.
function pickFault(op) {
	const eligible = !ops || ops.has(op);
	let chosen = null;
	for (const k of KINDS) {
		const f = faults[k];
		// auth came last: drawing for it only when asked keeps the other
		// kinds' seeded sequences what they were before it existed
		const draw = LATE.has(k) && !f ? 0 : rand();
		if (!f || !eligible) continue;
		if (k === 'unprocessed' && op !== 'BatchWriteItem') continue;
		if (k === 'sqs-failed' && op !== 'SendMessageBatch') continue;
		if (chosen) continue;
		if (f.first !== undefined ? f.seen++ < f.first : draw < f.p) chosen = k;
	}
	return chosen;
}

// A random split of n things: the indices held back (at least one; all of
// them when n is 1).
function holdBack(n) {
	const k = n === 1 ? 1 : 1 + Math.floor(rand() * (n - 1));
	const idx = [...Array(n).keys()];
	for (let i = n - 1; i > 0; i--) {
		const j = Math.floor(rand() * (i + 1));
		[idx[i], idx[j]] = [idx[j], idx[i]];
	}
	return new Set(idx.slice(0, k));
}

let nThrottleSqs = 0, n5xx = 0;

async function handle(req, res, body) {
	stats.requests++;
	const target = String(req.headers['x-amz-target'] || '');
	const service = target.startsWith('DynamoDB_') ? 'dynamodb' : target.startsWith('AmazonSQS.') ? 'sqs' : 'other';
	const op = target.includes('.') ? target.slice(target.indexOf('.') + 1) : target || `${req.method} ${req.url}`;
	stats.ops[op] = (stats.ops[op] || 0) + 1;
	const fault = pickFault(op);
	if (logFile) res.frontLog = { n: stats.requests, op, fault, req: body };
	if (delayMs) await new Promise((r) => setTimeout(r, delayMs));

	switch (fault) {
	case 'hang':
		stats.hang++;
		hanging.add(res);
		logRequest(res, null, null);
		return; // never answered
	case 'error5xx': {
		stats.error5xx++;
		const code = [500, 502, 503][n5xx++ % 3];
		const text = http.STATUS_CODES[code];
		send(res, code, { 'content-type': 'text/html' },
			Buffer.from(`<html>\r\n<head><title>${code} ${text}</title></head>\r\n<body>\r\n<center><h1>${code} ${text}</h1></center>\r\n</body>\r\n</html>\r\n`));
		return;
	}
	case 'throttle':
		stats.throttle++;
		if (service === 'sqs') {
			if (nThrottleSqs++ % 2 === 0)
				amzJson(res, 400, { __type: 'com.amazon.coral.availability#ThrottlingException', message: 'Rate exceeded' },
					{ 'x-amzn-query-error': 'ThrottlingException;Sender' });
			else
				amzJson(res, 400, { __type: 'com.amazonaws.sqs#RequestThrottled', message: 'Request is throttled.' },
					{ 'x-amzn-query-error': 'RequestThrottled;Sender' });
		} else {
			amzJson(res, 400, {
				__type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
				message: 'The level of configured provisioned throughput for the table was exceeded. ' +
					'Consider increasing your provisioning level with the UpdateTable API.',
			});
		}
		return;
	case 'auth':
		// what AWS answers a revoked key or an expired session token
		stats.auth++;
		amzJson(res, 400, {
			__type: 'com.amazon.coral.service#UnrecognizedClientException',
			message: 'The security token included in the request is invalid.',
		});
		return;
	case 'status': {
		stats.status++;
		const { code, body: text } = statusAnswer;
		let json = false;
		try {
			JSON.parse(text);
			json = text !== '';
		} catch { /* html */ }
		const h = { 'content-type': json ? 'application/x-amz-json-1.0' : 'text/html' };
		if (code >= 300 && code < 400) h.location = 'http://127.0.0.1:1/elsewhere';
		send(res, code, h, Buffer.from(text));
		return;
	}
	case 'unprocessed':
		return partialBatchWrite(res, req, body);
	case 'sqs-failed':
		return partialSendBatch(res, req, body);
	default:
		break;
	}

	const r = await forward(req, body);
	if (fault === 'big-body') {
		stats.big_body++;
		const pad = Math.max(0, bigBytes - r.body.length);
		return send(res, r.status, r.headers, Buffer.concat([r.body, Buffer.alloc(pad, ' ')]));
	}
	if (receiveCount !== undefined && op === 'ReceiveMessage' && r.status === 200) {
		try {
			const doc = JSON.parse(r.body);
			for (const m of doc.Messages || []) {
				m.Attributes = m.Attributes || {};
				m.Attributes.ApproximateReceiveCount = receiveCount;
				stats.receive_count++;
			}
			return send(res, r.status, r.headers, Buffer.from(JSON.stringify(doc)));
		} catch { /* not JSON: as it came */ }
	}
	if (fault === 'truncate' || fault === 'reset') {
		stats[fault]++;
		const h = {};
		for (const [k, v] of Object.entries(r.headers)) if (!HOP.has(k)) h[k] = v;
		h['content-length'] = r.body.length;
		logRequest(res, r.status, r.body);
		res.writeHead(r.status, h);
		res.write(r.body.subarray(0, Math.floor(r.body.length / 2)));
		// Let the partial answer reach the client before cutting: a FIN after
		// it (truncate) or a TCP reset (reset).
		const sock = res.socket;
		if (fault === 'truncate') sock.end();
		else setTimeout(() => (sock.resetAndDestroy ? sock.resetAndDestroy() : sock.destroy()), 20);
		return;
	}
	send(res, r.status, r.headers, r.body);
}

// BatchWriteItem: {RequestItems: {table: [req…]}} — hold some requests back.
async function partialBatchWrite(res, req, body) {
	let doc;
	try {
		doc = JSON.parse(body);
	} catch {
		const r = await forward(req, body);
		return send(res, r.status, r.headers, r.body);
	}
	const all = [];
	for (const [table, reqs] of Object.entries(doc.RequestItems || {}))
		for (const r of reqs) all.push([table, r]);
	if (all.length === 0) {
		const r = await forward(req, body);
		return send(res, r.status, r.headers, r.body);
	}
	const held = holdBack(all.length);
	const fwd = {}, unprocessed = {};
	all.forEach(([t, r], i) => {
		const into = held.has(i) ? unprocessed : fwd;
		(into[t] = into[t] || []).push(r);
	});
	stats.unprocessed++;
	stats.unprocessed_items += held.size;
	if (Object.keys(fwd).length === 0)
		return amzJson(res, 200, { UnprocessedItems: unprocessed });
	const r = await forward(req, Buffer.from(JSON.stringify({ ...doc, RequestItems: fwd })));
	if (r.status !== 200) return send(res, r.status, r.headers, r.body); // the whole call failed
	let out;
	try {
		out = JSON.parse(r.body);
	} catch {
		return send(res, r.status, r.headers, r.body);
	}
	out.UnprocessedItems = out.UnprocessedItems || {};
	for (const [t, rs] of Object.entries(unprocessed))
		out.UnprocessedItems[t] = (out.UnprocessedItems[t] || []).concat(rs);
	send(res, 200, { ...r.headers, 'content-type': 'application/x-amz-json-1.0' }, Buffer.from(JSON.stringify(out)));
}

// SendMessageBatch: {QueueUrl, Entries: [{Id, …}]} — fail some entries.
async function partialSendBatch(res, req, body) {
	let doc;
	try {
		doc = JSON.parse(body);
	} catch {
		const r = await forward(req, body);
		return send(res, r.status, r.headers, r.body);
	}
	const entries = Array.isArray(doc.Entries) ? doc.Entries : [];
	if (entries.length === 0) {
		const r = await forward(req, body);
		return send(res, r.status, r.headers, r.body);
	}
	const held = holdBack(entries.length);
	const failed = entries.filter((_, i) => held.has(i)).map((e) => ({
		Id: e.Id, SenderFault: false, Code: 'InternalError',
		Message: 'We encountered an internal error. Please try again.',
	}));
	const fwd = entries.filter((_, i) => !held.has(i));
	stats.sqs_failed++;
	stats.sqs_failed_entries += failed.length;
	if (fwd.length === 0) return amzJson(res, 200, { Successful: [], Failed: failed });
	const r = await forward(req, Buffer.from(JSON.stringify({ ...doc, Entries: fwd })));
	if (r.status !== 200) return send(res, r.status, r.headers, r.body);
	let out;
	try {
		out = JSON.parse(r.body);
	} catch {
		return send(res, r.status, r.headers, r.body);
	}
	out.Successful = out.Successful || [];
	out.Failed = (out.Failed || []).concat(failed);
	send(res, 200, { ...r.headers, 'content-type': 'application/x-amz-json-1.0' }, Buffer.from(JSON.stringify(out)));
}

const hanging = new Set();
const server = http.createServer((req, res) => {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		handle(req, res, Buffer.concat(chunks))
			.catch((e) => {
				stats.upstream_error++;
				if (!res.headersSent)
					send(res, 502, { 'content-type': 'text/plain' }, Buffer.from(`http-front: upstream: ${e.message}\n`));
				else res.destroy();
			})
			.finally(writeStats);
	});
	res.on('close', () => hanging.delete(res));
});
server.on('clientError', (err, sock) => sock.destroy());

function finish() {
	if (!a.quiet) process.stderr.write(statsLine() + '\n');
	writeStats();
	process.exit(0);
}
process.on('SIGTERM', finish);
process.on('SIGINT', finish);
process.on('SIGUSR1', () => process.stderr.write(statsLine() + '\n'));
server.on('error', (e) => {
	if (e.code === 'EADDRINUSE') die(75, `port ${port} is taken`);
	die(70, e.message);
});
server.listen(port, '127.0.0.1', () => {
	writeStats();
	process.stdout.write(`http://127.0.0.1:${server.address().port}\n`);
});
