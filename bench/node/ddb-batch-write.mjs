#!/usr/bin/env node
// ddb-batch-write — the direct client of bench/persist.sh: what a plain
// batched writer gets out of the same DynamoDB endpoint, with nothing of
// persist's (no ordering, no output, no per-record bookkeeping).
//
//   node bench/node/ddb-batch-write.mjs [--table T] [--batch-size N]
//        [--inflight N] FILE
//
// Reads FILE (NDJSON events, as gen-events writes them) whole, makes the
// same items as persist (UUID = uid, Context, EventType, Client, CreatedAt),
// and writes them with BatchWriteItem, --batch-size items a request (default
// 25), --inflight requests at once (default 4), each on its own kept-alive
// connection, every request signed with SigV4 like the SDKs do. Items handed
// back in UnprocessedItems are sent again. Lines that are not events with
// five string fields are skipped (counted).
//
// Endpoint, region and credentials from AWS_ENDPOINT_URL_DYNAMODB (or
// AWS_ENDPOINT_URL), AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
// Node only, no npm packages. Prints one JSON line on stdout:
//   {"events":N,"stored":N,"skipped":N,"requests":N,"write_s":S}
// where write_s is the time from the first request to the last answer.
// Exit: 0 done, 1 a request failed, 64 usage.
import http from 'node:http';
import https from 'node:https';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { parseArgs } from 'node:util';

const PROG = 'ddb-batch-write';
function die(code, msg) {
	process.stderr.write(`${PROG}: ${msg}\n`);
	process.exit(code);
}

let a;
try {
	a = parseArgs({
		options: {
			table: { type: 'string', default: 'pismo' },
			'batch-size': { type: 'string', default: '25' },
			inflight: { type: 'string', default: '4' },
		},
		allowPositionals: true,
	});
} catch (e) {
	die(64, e.message);
}
const table = a.values.table;
const batchSize = Number(a.values['batch-size']);
const inflight = Number(a.values.inflight);
if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 25) die(64, '--batch-size: 1 to 25');
if (!Number.isInteger(inflight) || inflight < 1 || inflight > 256) die(64, '--inflight: 1 to 256');
if (a.positionals.length !== 1) die(64, 'usage: ddb-batch-write [--table T] [--batch-size N] [--inflight N] FILE');

const env = process.env;
const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';
const endpoint = env.AWS_ENDPOINT_URL_DYNAMODB || env.AWS_ENDPOINT_URL;
if (!endpoint) die(64, 'AWS_ENDPOINT_URL_DYNAMODB is not set');
const url = new URL(endpoint);
const key = env.AWS_ACCESS_KEY_ID || 'AKIDTEST';
const secret = env.AWS_SECRET_ACCESS_KEY || 'test';
const mod = url.protocol === 'https:' ? https : http;
const agent = new mod.Agent({ keepAlive: true, maxSockets: inflight });

const hmac = (k, s) => crypto.createHmac('sha256', k).update(s).digest();
const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');

// SigV4 of a POST to "/"; the signing key is cached per day, as SDKs do.
let keyDate = '', signingKey;
function sign(amzDate, headers, body) {
	const date = amzDate.slice(0, 8);
	if (date !== keyDate) {
		let k = hmac('AWS4' + secret, date);
		k = hmac(k, region);
		k = hmac(k, 'dynamodb');
		signingKey = hmac(k, 'aws4_request');
		keyDate = date;
	}
	const names = Object.keys(headers).sort();
	const canon = names.map((h) => `${h}:${headers[h]}\n`).join('');
	const signed = names.join(';');
	const creq = ['POST', '/', '', canon, signed, sha256(body)].join('\n');
	const scope = `${date}/${region}/dynamodb/aws4_request`;
	const sts = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(creq)].join('\n');
	const sig = crypto.createHmac('sha256', signingKey).update(sts).digest('hex');
	return `AWS4-HMAC-SHA256 Credential=${key}/${scope}, SignedHeaders=${signed}, Signature=${sig}`;
}

let requests = 0;
function batchWrite(reqs) {
	const body = JSON.stringify({ RequestItems: { [table]: reqs } });
	const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
	const headers = {
		'content-type': 'application/x-amz-json-1.0',
		host: url.host,
		'x-amz-date': amzDate,
		'x-amz-target': 'DynamoDB_20120810.BatchWriteItem',
	};
	headers.authorization = sign(amzDate, headers, body);
	headers['content-length'] = Buffer.byteLength(body);
	requests++;
	return new Promise((resolve, reject) => {
		const r = mod.request({ hostname: url.hostname, port: url.port, path: '/', method: 'POST', headers, agent },
			(res) => {
				let text = '';
				res.setEncoding('utf8');
				res.on('data', (c) => (text += c));
				res.on('end', () => {
					if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
					let out;
					try {
						out = JSON.parse(text);
					} catch {
						return reject(new Error(`not JSON: ${text.slice(0, 300)}`));
					}
					resolve((out.UnprocessedItems && out.UnprocessedItems[table]) || []);
				});
				res.on('error', reject);
			});
		r.setTimeout(30000, () => r.destroy(new Error('no answer in 30 s')));
		r.on('error', reject);
		r.end(body);
	});
}

// The items, all made before the clock starts.
const items = [];
let events = 0, skipped = 0;
for (const line of fs.readFileSync(a.positionals[0], 'utf8').split('\n')) {
	if (line === '') continue;
	events++;
	let e;
	try {
		e = JSON.parse(line);
	} catch {
		skipped++;
		continue;
	}
	const f = ['uid', 'context', 'event_type', 'client', 'created_at'];
	if (!e || typeof e !== 'object' || !f.every((k) => typeof e[k] === 'string') || e.uid === '') {
		skipped++;
		continue;
	}
	items.push({ PutRequest: { Item: { UUID: { S: e.uid }, Context: { S: e.context },
		EventType: { S: e.event_type }, Client: { S: e.client }, CreatedAt: { S: e.created_at } } } });
}

// A shared queue of batches, drained by `inflight` workers.
const queue = [];
for (let i = 0; i < items.length; i += batchSize) queue.push(items.slice(i, i + batchSize));
const t0 = process.hrtime.bigint();
async function worker() {
	while (queue.length) {
		const left = await batchWrite(queue.shift());
		if (left.length) queue.push(left);
	}
}
try {
	await Promise.all(Array.from({ length: inflight }, worker));
} catch (e) {
	die(1, `BatchWriteItem: ${e.message}`);
}
const s = Number(process.hrtime.bigint() - t0) / 1e9;
process.stdout.write(JSON.stringify({ events, stored: items.length, skipped, requests, write_s: Number(s.toFixed(3)) }) + '\n');
agent.destroy();
