#!/usr/bin/env node
// status.mjs — what is where, from the AWS endpoints themselves: messages in
// each client's queue, in retry.fifo and in dlq.fifo, and items in the
// table. Run by scripts/status.sh, which documents the options (--help).
// Node only, no npm packages: SigV4 and the AWS JSON 1.0 protocol by hand,
// one keep-alive connection per endpoint.
//
// Configuration as the tools read it: AWS_REGION / AWS_DEFAULT_REGION,
// AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL,
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else the
// shared credentials file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials,
// profile AWS_PROFILE or "default"), AWS_CA_BUNDLE, AWS_MAX_ATTEMPTS. The
// secret is used to sign and never printed.
//
// stdout: a table a person reads (or one JSON object with --json).
// Exit: 0 ok, 64 usage, 69 a queue or the table is missing or AWS refused,
// 75 no answer (unreachable, throttled, 5xx after the retries), 78 no
// credentials or region.
import http from 'node:http';
import https from 'node:https';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { commandLine } from './lib.mjs';

const PROG = 'status.sh';
const env = process.env;

const USAGE = `usage: status.sh [--json | --brief] [--dlq] [--no-scan] [--table NAME] [--clients LIST]
                 [--retry-queue NAME] [--dlq-queue NAME] [--dlq-max N] [--drain DIR]

Prints, from the AWS endpoints (or the local stand-ins), the messages in each
client's queue (Client_A.fifo … Client_D.fifo), in retry.fifo and in dlq.fifo
(visible + in flight + delayed), and the items in the DynamoDB table.

  --json              one JSON object on one line instead of the table
  --brief             one short line: "table pismo 36 | Client_A.fifo 11 | …"
  --dlq               also list each message of the DLQ with its reason. It
                      peeks: each message is received and at once made visible
                      again (its receive count goes up; nothing is deleted)
  --dlq-max N         list at most N DLQ messages (default 100)
  --drain DIR         then EMPTY every queue: each message is received and
                      deleted, its body written as a line of DIR/QUEUE.ndjson,
                      and the table's keys go to DIR/TABLE.uids, one a line
                      (for the end of a demo or a test, to compare what
                      landed where; never on queues something still reads)
  --no-scan           the table's item count from DescribeTable (AWS updates it
                      about every six hours; the local dynalite says 0) instead
                      of a Scan with Select COUNT, which reads the whole table
                      (on AWS that costs read capacity: a big table, a big bill)
  --table NAME        the table (default pismo)
  --clients LIST      the clients, comma-separated (default
                      Client_A,Client_B,Client_C,Client_D); queue = CLIENT.fifo
  --retry-queue NAME  default retry.fifo
  --dlq-queue NAME    default dlq.fifo
  -h, --help          this text

Environment, as the tools read it: AWS_REGION (or AWS_DEFAULT_REGION),
AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (or AWS_PROFILE
and AWS_SHARED_CREDENTIALS_FILE), AWS_CA_BUNDLE, AWS_MAX_ATTEMPTS (default 3).
Exit: 0 ok, 64 usage, 69 a queue or the table is missing, or AWS refused,
75 no answer (try again), 78 no credentials or no region.
`;

class Fail extends Error {
	constructor(code, msg) {
		super(msg);
		this.code = code;
	}
}

const { args: opt, die, wholeNumber } = commandLine(PROG, USAGE, {
	json: { type: 'boolean' },
	brief: { type: 'boolean' },
	dlq: { type: 'boolean' },
	'dlq-max': { type: 'string' },
	drain: { type: 'string' },
	'no-scan': { type: 'boolean' },
	table: { type: 'string' },
	clients: { type: 'string' },
	'retry-queue': { type: 'string' },
	'dlq-queue': { type: 'string' },
});
const table = opt.table ?? 'pismo';
if (!/^[A-Za-z0-9_.-]{3,255}$/.test(table)) die(64, `--table: '${table}' is not a DynamoDB table name`);
const clients = (opt.clients ?? 'Client_A,Client_B,Client_C,Client_D').split(',').filter(Boolean);
const qname = /^[A-Za-z0-9_-]{1,75}(\.fifo)?$/;
for (const c of clients) if (!qname.test(`${c}.fifo`)) die(64, `--clients: '${c}' cannot be a queue name`);
const retryQueue = opt['retry-queue'] ?? 'retry.fifo';
const dlqQueue = opt['dlq-queue'] ?? 'dlq.fifo';
for (const q of [retryQueue, dlqQueue]) if (!qname.test(q)) die(64, `'${q}' is not a queue name`);
const dlqMax = wholeNumber('--dlq-max', opt['dlq-max'], 0, 100000) ?? 100;
// set but empty counts as unset, as in the tools
const maxAttempts = wholeNumber('AWS_MAX_ATTEMPTS', env.AWS_MAX_ATTEMPTS || undefined, 1, 100, 78) ?? 3;

// --- configuration, as the tools read it ----------------------------------------
const nonEmpty = (v) => (v && v.length ? v : undefined);
const endpoints = {
	dynamodb: nonEmpty(env.AWS_ENDPOINT_URL_DYNAMODB) ?? nonEmpty(env.AWS_ENDPOINT_URL),
	sqs: nonEmpty(env.AWS_ENDPOINT_URL_SQS) ?? nonEmpty(env.AWS_ENDPOINT_URL),
};
let region = nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION);
if (!region) {
	// a local stand-in does not care; AWS does
	if (endpoints.dynamodb && endpoints.sqs) region = 'us-east-1';
	else die(78, 'no region: set AWS_REGION (or AWS_DEFAULT_REGION)');
}
if (!/^[a-z0-9-]+$/.test(region)) die(78, `region '${region}' is not a region name`);
for (const s of ['dynamodb', 'sqs']) {
	try {
		endpoints[s] = new URL(endpoints[s] ?? `https://${s}.${region}.amazonaws.com`);
		if (!['http:', 'https:'].includes(endpoints[s].protocol)) throw new Error();
	} catch {
		die(78, `the ${s} endpoint '${endpoints[s]}' is not an http(s) URL`);
	}
}

function sharedCredentials() {
	const file = nonEmpty(env.AWS_SHARED_CREDENTIALS_FILE) ?? path.join(os.homedir(), '.aws', 'credentials');
	const profile = nonEmpty(env.AWS_PROFILE) ?? 'default';
	let text;
	try {
		text = fs.readFileSync(file, 'utf8');
	} catch {
		return {};
	}
	const out = {};
	let inProfile = false;
	for (const raw of text.split('\n')) {
		const line = raw.trim();
		if (line.startsWith('[')) {
			inProfile = line.replace(/[[\]\s]/g, '') === profile;
			continue;
		}
		const eq = line.indexOf('=');
		if (!inProfile || eq < 0) continue;
		out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
	}
	return { key: out.aws_access_key_id, secret: out.aws_secret_access_key, token: out.aws_session_token };
}
let creds = { key: nonEmpty(env.AWS_ACCESS_KEY_ID), secret: nonEmpty(env.AWS_SECRET_ACCESS_KEY), token: nonEmpty(env.AWS_SESSION_TOKEN) };
if (!creds.key || !creds.secret) creds = sharedCredentials();
if (!creds.key || !creds.secret)
	die(78, 'no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE with a shared credentials file)');
let ca;
if (nonEmpty(env.AWS_CA_BUNDLE)) {
	try {
		ca = fs.readFileSync(env.AWS_CA_BUNDLE);
	} catch (e) {
		die(78, `AWS_CA_BUNDLE: ${e.message}`);
	}
}

// --- SigV4 and one call ------------------------------------------------------------
const hmac = (key, s) => crypto.createHmac('sha256', key).update(s).digest();
const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');

function authorization(service, amzDate, headers, body) {
	const date = amzDate.slice(0, 8);
	const names = Object.keys(headers).sort();
	const canon = names.map((h) => `${h}:${String(headers[h]).trim().replace(/\s+/g, ' ')}\n`).join('');
	const signed = names.join(';');
	const creq = ['POST', '/', '', canon, signed, sha256(body)].join('\n');
	const scope = `${date}/${region}/${service}/aws4_request`;
	const sts = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(creq)].join('\n');
	let k = hmac('AWS4' + creds.secret, date);
	for (const part of [region, service, 'aws4_request']) k = hmac(k, part);
	const sig = crypto.createHmac('sha256', k).update(sts).digest('hex');
	return `AWS4-HMAC-SHA256 Credential=${creds.key}/${scope}, SignedHeaders=${signed}, Signature=${sig}`;
}

const agents = {};
function once(service, op, payload) {
	const url = endpoints[service];
	const body = JSON.stringify(payload);
	const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
	const headers = {
		'content-type': 'application/x-amz-json-1.0',
		host: url.host,
		'x-amz-date': amzDate,
		'x-amz-target': service === 'dynamodb' ? `DynamoDB_20120810.${op}` : `AmazonSQS.${op}`,
	};
	if (creds.token) headers['x-amz-security-token'] = creds.token;
	headers.authorization = authorization(service, amzDate, headers, body);
	headers['content-length'] = Buffer.byteLength(body);
	const mod = url.protocol === 'https:' ? https : http;
	agents[service] ||= new mod.Agent({ keepAlive: true, ...(ca ? { ca } : {}) });
	return new Promise((resolve, reject) => {
		const req = mod.request({
			protocol: url.protocol, hostname: url.hostname, port: url.port,
			path: url.pathname || '/', method: 'POST', headers, agent: agents[service],
		}, (res) => {
			let text = '';
			res.setEncoding('utf8');
			res.on('data', (c) => (text += c));
			res.on('end', () => {
				let parsed = null;
				try {
					parsed = JSON.parse(text);
				} catch { /* an HTML error page, say */ }
				resolve({ status: res.statusCode, body: parsed, text });
			});
			res.on('error', reject);
		});
		req.setTimeout(20000, () => req.destroy(new Error(`${op}: no answer in 20 s`)));
		req.on('error', reject);
		req.end(body);
	});
}

const RETRYABLE = /Throttl|ProvisionedThroughputExceeded|RequestLimitExceeded|LimitExceeded|ServiceUnavailable|InternalError|InternalFailure/;

// One call with the SDKs' standard retries; resolves the parsed answer or
// throws Fail (69 refused, 75 no answer). `missing` names error types that
// mean "does not exist" (returned as null instead).
async function call(service, op, payload, missing = []) {
	let last = '';
	for (let attempt = 1; attempt <= maxAttempts; attempt++) {
		let r;
		try {
			r = await once(service, op, payload);
		} catch (e) {
			last = `${endpoints[service].origin}: ${e.message}`;
			r = null;
		}
		if (r) {
			if (r.status === 200) return r.body ?? {};
			const type = String(r.body?.__type ?? '').replace(/^.*#/, '') ||
				String(r.body?.code ?? '') || `HTTP ${r.status}`;
			const msg = r.body?.message ?? r.body?.Message ?? `HTTP ${r.status}`;
			if (missing.includes(type)) return null;
			last = `${op}: ${type}: ${msg}`;
			if (r.status < 500 && !RETRYABLE.test(type)) throw new Fail(69, last);
		}
		if (attempt < maxAttempts)
			await new Promise((res) => setTimeout(res, Math.random() * Math.min(100 * 2 ** attempt, 20000)));
	}
	throw new Fail(75, last);
}

// --- what is where ------------------------------------------------------------------
const NO_QUEUE = ['QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue', 'NonExistentQueue'];

async function queue(name) {
	const u = await call('sqs', 'GetQueueUrl', { QueueName: name }, NO_QUEUE);
	if (!u) return { name, missing: true };
	const a = await call('sqs', 'GetQueueAttributes', {
		QueueUrl: u.QueueUrl,
		AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible',
			'ApproximateNumberOfMessagesDelayed'],
	}, NO_QUEUE);
	if (!a) return { name, missing: true };
	const at = a.Attributes ?? {};
	const visible = Number(at.ApproximateNumberOfMessages ?? 0);
	const inFlight = Number(at.ApproximateNumberOfMessagesNotVisible ?? 0);
	const delayed = Number(at.ApproximateNumberOfMessagesDelayed ?? 0);
	return { name, url: u.QueueUrl, messages: visible + inFlight + delayed, visible, in_flight: inFlight, delayed };
}

async function tableItems() {
	if (opt['no-scan']) {
		const d = await call('dynamodb', 'DescribeTable', { TableName: table }, ['ResourceNotFoundException']);
		if (!d) return { name: table, missing: true };
		return { name: table, items: Number(d.Table?.ItemCount ?? 0), counted_by: 'DescribeTable' };
	}
	let n = 0, start;
	do {
		const req = { TableName: table, Select: 'COUNT' };
		if (start) req.ExclusiveStartKey = start;
		const r = await call('dynamodb', 'Scan', req, ['ResourceNotFoundException']);
		if (!r) return { name: table, missing: true };
		n += Number(r.Count ?? 0);
		start = r.LastEvaluatedKey;
	} while (start);
	return { name: table, items: n, counted_by: 'Scan' };
}

// The reason a DLQ message gives, whichever wrote it: route writes the record
// with its "_error" (and "_raw" when it was not a JSON object); the retry
// daemon an envelope {"event","attempts","errors":[…]}.
function dlqEntry(m) {
	const e = { message_id: m.MessageId, receive_count: Number(m.Attributes?.ApproximateReceiveCount ?? 0) };
	let body;
	try {
		body = JSON.parse(m.Body);
	} catch {
		return { ...e, reason: 'the message is not JSON', raw: String(m.Body).slice(0, 200) };
	}
	if (body && typeof body === 'object' && !Array.isArray(body)) {
		if (Array.isArray(body.errors) && 'event' in body) {
			const ev = typeof body.event === 'object' && body.event ? body.event : {};
			const last = body.errors[body.errors.length - 1] ?? {};
			return {
				...e, uid: ev.uid, client: ev.client, stage: last.stage, code: last.code,
				reason: `${last.reason ?? 'no reason given'} (after ${body.attempts ?? body.errors.length} attempts)`,
				attempts: body.attempts, errors: body.errors,
			};
		}
		const err = body._error && typeof body._error === 'object' ? body._error : {};
		const out = { ...e, uid: typeof body.uid === 'string' ? body.uid : undefined, client: body.client,
			stage: err.stage, code: err.code, reason: err.reason ?? 'no reason given' };
		if (typeof body._raw === 'string') out.raw = body._raw.slice(0, 200);
		if (body._src) out.src = body._src;
		return out;
	}
	return { ...e, reason: 'the message is not a JSON object', raw: String(m.Body).slice(0, 200) };
}

// Peek: receive every message (each one out of sight for a few seconds),
// then make them all visible again at once. A FIFO queue hands out no more
// of a message group while one of its messages is out: the DLQ's messages
// each have a group of their own (route and retry group them by uid).
async function peekDlq(q) {
	const got = new Map();
	const handles = [];
	try {
		while (got.size < Math.min(dlqMax, q.visible)) {
			const r = await call('sqs', 'ReceiveMessage', {
				QueueUrl: q.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 30,
				AttributeNames: ['ApproximateReceiveCount'], MessageSystemAttributeNames: ['ApproximateReceiveCount'],
			});
			const ms = r.Messages ?? [];
			if (ms.length === 0) break;
			for (const m of ms) {
				handles.push(m.ReceiptHandle);
				if (!got.has(m.MessageId)) got.set(m.MessageId, dlqEntry(m));
			}
		}
	} finally {
		for (let i = 0; i < handles.length; i += 10) {
			const chunk = handles.slice(i, i + 10);
			await call('sqs', 'ChangeMessageVisibilityBatch', {
				QueueUrl: q.url,
				Entries: chunk.map((h, j) => ({ Id: String(j), ReceiptHandle: h, VisibilityTimeout: 0 })),
			}).catch(() => {}); // they come back after 30 s anyway
		}
	}
	return [...got.values()].slice(0, dlqMax);
}

// --drain: a FIFO queue hands out no more of a message group while one of
// its messages is out, so each batch is deleted before the next receive.
async function drainQueue(q, file) {
	const bodies = [];
	for (let empty = 0; bodies.length < q.messages && empty < 3;) {
		const r = await call('sqs', 'ReceiveMessage', {
			QueueUrl: q.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60,
		});
		const ms = r.Messages ?? [];
		if (ms.length === 0) {
			empty++;
			continue;
		}
		empty = 0;
		for (const m of ms) bodies.push(m.Body);
		await call('sqs', 'DeleteMessageBatch', {
			QueueUrl: q.url, Entries: ms.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle })),
		});
	}
	fs.writeFileSync(file, bodies.map((b) => `${b}\n`).join(''));
}

async function drainTable(file) {
	const uids = [];
	let start;
	do {
		const req = { TableName: table, ProjectionExpression: '#k', ExpressionAttributeNames: { '#k': 'UUID' } };
		if (start) req.ExclusiveStartKey = start;
		const r = await call('dynamodb', 'Scan', req);
		for (const it of r.Items ?? []) uids.push(it.UUID?.S);
		start = r.LastEvaluatedKey;
	} while (start);
	fs.writeFileSync(file, uids.map((u) => `${u}\n`).join(''));
}

async function main() {
	const names = [...clients.map((c) => `${c}.fifo`), retryQueue, dlqQueue];
	const [queues, tbl] = await Promise.all([Promise.all(names.map(queue)), tableItems()]);
	const dlq = queues[queues.length - 1];
	const result = {
		clients: Object.fromEntries(clients.map((c, i) => [c, queues[i].missing ? null : queues[i].messages])),
		retry: queues[clients.length].missing ? null : queues[clients.length].messages,
		dlq: dlq.missing ? null : dlq.messages,
		table: tbl.missing ? null : tbl.items,
		queues: Object.fromEntries(queues.map((q) => [q.name, q.missing ? null :
			{ messages: q.messages, visible: q.visible, in_flight: q.in_flight, delayed: q.delayed }])),
	};
	if (opt.dlq && !dlq.missing) {
		result.dlq_messages = await peekDlq(dlq);
		// more of a message group than its first stay out of sight
		result.dlq_unlisted = Math.max(0, dlq.messages - result.dlq_messages.length);
	}

	if (opt.json) {
		process.stdout.write(JSON.stringify(result) + '\n');
	} else if (opt.brief) {
		const parts = [`table ${table} ${tbl.missing ? '-' : tbl.items}`];
		for (const q of queues) parts.push(`${q.name} ${q.missing ? '-' : q.messages}`);
		process.stdout.write(parts.join(' | ') + '\n');
	} else {
		const w = Math.max(...names.map((n) => n.length), `table ${table}`.length) + 2;
		const lines = [`${'queue'.padEnd(w)}${'messages'.padStart(9)}   visible  in flight  delayed`];
		for (const q of queues) {
			if (q.missing) lines.push(`${q.name.padEnd(w)}${'-'.padStart(9)}   no such queue`);
			else lines.push(`${q.name.padEnd(w)}${String(q.messages).padStart(9)}   ${String(q.visible).padStart(7)}  ` +
				`${String(q.in_flight).padStart(9)}  ${String(q.delayed).padStart(7)}`);
		}
		lines.push(`${`table ${table}`.padEnd(w)}${tbl.missing ? '-'.padStart(9) + '   no such table'
			: String(tbl.items).padStart(9) + `   items (${tbl.counted_by})`}`);
		if (result.dlq_messages) {
			lines.push('', `${dlqQueue}: ${result.dlq_messages.length} message(s) listed (peeked, left in the queue)`);
			for (const d of result.dlq_messages) {
				const who = d.uid ? `uid ${d.uid}` : d.raw !== undefined ? `raw ${JSON.stringify(d.raw.slice(0, 60))}` : d.message_id;
				lines.push(`  ${who}`, `    ${[d.stage, d.code].filter(Boolean).join('/')}${d.stage || d.code ? ': ' : ''}${d.reason}`);
			}
			if (result.dlq_unlisted)
				lines.push(`  (${result.dlq_unlisted} more not listed: in flight elsewhere, over --dlq-max, or behind ` +
					'another message of their group, which a FIFO queue does not hand out together)');
		}
		process.stdout.write(lines.join('\n') + '\n');
	}
	if (opt.drain) {
		fs.mkdirSync(opt.drain, { recursive: true });
		for (const q of queues) if (!q.missing) await drainQueue(q, path.join(opt.drain, `${q.name}.ndjson`));
		if (!tbl.missing) await drainTable(path.join(opt.drain, `${table}.uids`));
	}
	const missing = queues.filter((q) => q.missing).map((q) => `queue ${q.name}`);
	if (tbl.missing) missing.push(`table ${table}`);
	if (missing.length) {
		process.stderr.write(`${PROG}: missing: ${missing.join(', ')} (scripts/provision.sh creates them)\n`);
		return 69;
	}
	return 0;
}

main().then(
	(code) => process.exit(code),
	(e) => die(e instanceof Fail ? e.code : 70, e.message),
);
