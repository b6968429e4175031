#!/usr/bin/env node
// aws.mjs — a small AWS client for the tests (Node only, no npm packages):
// DynamoDB and SQS over the AWS JSON 1.0 protocol, signed with SigV4, one
// process and one keep-alive connection for many calls (a curl per call
// manages about 100 calls a second). Used by tests/lib.sh.
//
//   aws.mjs call SERVICE OPERATION JSON   print the answer's body; exit 1 on
//                                         an error answer (its body printed too)
//   aws.mjs ddb-count TABLE               items in TABLE (Scan COUNT, all pages)
//   aws.mjs ddb-scan TABLE                every item, one JSON line each
//   aws.mjs sqs-url QUEUE                 the queue's URL
//   aws.mjs sqs-count QUEUE               visible + in flight + delayed messages
//   aws.mjs sqs-drain QUEUE [WAIT]        every message body, one a line
//                                         (bodies are written as they are),
//                                         deleting each; stops at the first
//                                         empty receive (long poll of WAIT
//                                         seconds, default 1)
//   aws.mjs selftest                      SigV4 against AWS's own test vector
//
// SERVICE is dynamodb or sqs. Endpoints, region and credentials from the
// environment as the SDKs read them: AWS_ENDPOINT_URL_DYNAMODB,
// AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL, AWS_REGION / AWS_DEFAULT_REGION,
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN. Every request
// times out (AWS_TEST_TIMEOUT_MS, default 20000 plus the long poll).
// Exit: 0 ok, 1 the service answered an error, 2 no answer (timeout,
// connection), 64 usage.
import http from 'node:http';
import https from 'node:https';
import crypto from 'node:crypto';

const env = process.env;
const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';
const timeoutMs = Number(env.AWS_TEST_TIMEOUT_MS || 20000);
const agents = {};

function die(code, msg) {
	process.stderr.write(`aws.mjs: ${msg}\n`);
	process.exit(code);
}

const hmac = (key, s) => crypto.createHmac('sha256', key).update(s).digest();
const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');

// SigV4 for a POST to "/" with the given headers (lower-case names; host
// included). Returns the Authorization header value.
export function sign({ service, region: rgn, amzDate, headers, body, key, secret }) {
	const date = amzDate.slice(0, 8);
	const names = Object.keys(headers).map((h) => h.toLowerCase()).sort();
	const canonHeaders = names.map((h) => `${h}:${String(headers[h]).trim().replace(/\s+/g, ' ')}\n`).join('');
	const signed = names.join(';');
	const creq = ['POST', '/', '', canonHeaders, signed, sha256(body)].join('\n');
	const scope = `${date}/${rgn}/${service}/aws4_request`;
	const sts = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(creq)].join('\n');
	let k = hmac('AWS4' + secret, date);
	k = hmac(k, rgn);
	k = hmac(k, service);
	k = hmac(k, 'aws4_request');
	const sig = crypto.createHmac('sha256', k).update(sts).digest('hex');
	return `AWS4-HMAC-SHA256 Credential=${key}/${scope}, SignedHeaders=${signed}, Signature=${sig}`;
}

function endpoint(service) {
	const specific = service === 'dynamodb' ? env.AWS_ENDPOINT_URL_DYNAMODB : env.AWS_ENDPOINT_URL_SQS;
	return new URL(specific || env.AWS_ENDPOINT_URL || `https://${service}.${region}.amazonaws.com`);
}

// One call: resolves {status, body (parsed or null), text}; rejects when
// there is no answer.
export function call(service, op, payload, extraMs = 0) {
	const url = endpoint(service);
	const body = JSON.stringify(payload);
	const target = service === 'dynamodb' ? `DynamoDB_20120810.${op}` : `AmazonSQS.${op}`;
	const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
	const headers = {
		'content-type': 'application/x-amz-json-1.0',
		host: url.host,
		'x-amz-date': amzDate,
		'x-amz-target': target,
	};
	if (env.AWS_SESSION_TOKEN) headers['x-amz-security-token'] = env.AWS_SESSION_TOKEN;
	headers.authorization = sign({
		service, region, amzDate, headers, body,
		key: env.AWS_ACCESS_KEY_ID || 'AKIDTEST', secret: env.AWS_SECRET_ACCESS_KEY || 'test',
	});
	headers['content-length'] = Buffer.byteLength(body);
	const mod = url.protocol === 'https:' ? https : http;
	agents[url.protocol] ||= new mod.Agent({ keepAlive: true });
	return new Promise((resolve, reject) => {
		const req = mod.request({
			protocol: url.protocol, hostname: url.hostname, port: url.port, path: '/', method: 'POST',
			headers, agent: agents[url.protocol],
		}, (res) => {
			let text = '';
			res.setEncoding('utf8');
			res.on('data', (c) => (text += c));
			res.on('end', () => {
				let parsed = null;
				try {
					parsed = JSON.parse(text);
				} catch { /* not JSON: keep the text */ }
				resolve({ status: res.statusCode, body: parsed, text });
			});
			res.on('error', reject);
		});
		req.setTimeout(timeoutMs + extraMs, () => req.destroy(new Error(`${target}: no answer in ${timeoutMs + extraMs} ms`)));
		req.on('error', reject);
		req.end(body);
	});
}

async function ok(service, op, payload, extraMs) {
	const r = await call(service, op, payload, extraMs);
	if (r.status !== 200) {
		process.stderr.write(`aws.mjs: ${op}: HTTP ${r.status}: ${r.text}\n`);
		process.exit(1);
	}
	return r.body;
}

async function queueUrl(name) {
	return (await ok('sqs', 'GetQueueUrl', { QueueName: name })).QueueUrl;
}

// stdout writes, in order, with back-pressure.
function out(s) {
	return new Promise((resolve) => (process.stdout.write(s) ? resolve() : process.stdout.once('drain', resolve)));
}

async function main(argv) {
	const [cmd, ...args] = argv;
	switch (cmd) {
	case 'call': {
		if (args.length !== 3 || !['dynamodb', 'sqs'].includes(args[0])) die(64, 'usage: call dynamodb|sqs OPERATION JSON');
		let payload;
		try {
			payload = JSON.parse(args[2]);
		} catch (e) {
			die(64, `call: the JSON argument: ${e.message}`);
		}
		const r = await call(args[0], args[1], payload);
		await out(r.text + '\n');
		return r.status === 200 ? 0 : 1;
	}
	case 'ddb-count':
	case 'ddb-scan': {
		if (args.length !== 1) die(64, `usage: ${cmd} TABLE`);
		// pass(limit, each): one paginated Scan; returns the count
		const pass = async (limit, each) => {
			let n = 0, start;
			do {
				const req = { TableName: args[0] };
				if (!each) req.Select = 'COUNT';
				if (limit) req.Limit = limit;
				if (start) req.ExclusiveStartKey = start;
				const r = await ok('dynamodb', 'Scan', req);
				n += r.Count;
				if (each) for (const it of r.Items) each(it);
				start = r.LastEvaluatedKey;
			} while (start);
			return n;
		};
		if (cmd === 'ddb-count') {
			await out(`${await pass(0, null)}\n`);
			return 0;
		}
		// dynalite's paginated Scan of items now and then leaves some out at
		// page boundaries when busy (its COUNT scans do not): passes with
		// other page sizes are added until the union holds as many items as
		// the count says.
		const items = new Map();
		const keep = (it) => items.set(JSON.stringify(it.UUID ?? it), it);
		const want = await pass(0, null);
		let passes = 0;
		for (const limit of [0, 97, 331, 1009, 53, 0]) {
			await pass(limit, keep);
			passes++;
			if (items.size >= want) break;
		}
		if (passes > 1)
			process.stderr.write(`aws.mjs: ddb-scan: Scan left items out; ${passes} passes found ${items.size} of ${want}\n`);
		for (const it of items.values()) await out(JSON.stringify(it) + '\n');
		return 0;
	}
	case 'sqs-url':
		if (args.length !== 1) die(64, 'usage: sqs-url QUEUE');
		await out((await queueUrl(args[0])) + '\n');
		return 0;
	case 'sqs-count': {
		if (args.length !== 1) die(64, 'usage: sqs-count QUEUE');
		const a = (await ok('sqs', 'GetQueueAttributes', {
			QueueUrl: await queueUrl(args[0]),
			AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible',
				'ApproximateNumberOfMessagesDelayed'],
		})).Attributes || {};
		await out(`${Number(a.ApproximateNumberOfMessages || 0) + Number(a.ApproximateNumberOfMessagesNotVisible || 0) +
			Number(a.ApproximateNumberOfMessagesDelayed || 0)}\n`);
		return 0;
	}
	case 'sqs-drain': {
		if (args.length < 1 || args.length > 2 || (args[1] !== undefined && !/^[0-9]+$/.test(args[1])))
			die(64, 'usage: sqs-drain QUEUE [WAIT-SECONDS]');
		const wait = Math.min(Number(args[1] ?? 1), 20);
		const url = await queueUrl(args[0]);
		for (;;) {
			const r = await ok('sqs', 'ReceiveMessage', {
				QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: wait, VisibilityTimeout: 30,
			}, wait * 1000);
			const msgs = r.Messages || [];
			if (msgs.length === 0) return 0;
			for (const m of msgs) await out(m.Body + '\n');
			const d = await ok('sqs', 'DeleteMessageBatch', {
				QueueUrl: url, Entries: msgs.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
			});
			if (d.Failed && d.Failed.length) die(1, `DeleteMessageBatch: ${JSON.stringify(d.Failed)}`);
		}
	}
	case 'selftest': {
		// AWS's post-x-www-form-urlencoded case (tests/data/aws-sigv4/).
		const got = sign({
			service: 'service', region: 'us-east-1', amzDate: '20150830T123600Z',
			headers: { 'content-type': 'application/x-www-form-urlencoded', host: 'example.amazonaws.com',
				'x-amz-date': '20150830T123600Z' },
			body: 'Param1=value1', key: 'AKIDEXAMPLE', secret: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
		});
		const want = 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ' +
			'SignedHeaders=content-type;host;x-amz-date, ' +
			'Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a';
		await out(got === want ? 'ok\n' : `mismatch: ${got}\n`);
		return got === want ? 0 : 1;
	}
	default:
		die(64, 'usage: aws.mjs call|ddb-count|ddb-scan|sqs-url|sqs-count|sqs-drain|selftest … (see the top of the file)');
	}
}

main(process.argv.slice(2)).then(
	(code) => process.exit(code),
	(e) => die(2, e.message),
);
