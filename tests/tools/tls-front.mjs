// A loopback front for the SQS and DynamoDB stand-ins, over HTTPS (--tls DIR:
// DIR/loopback.{key,crt}) or plain HTTP. For each request it appends a JSON
// line to --log: the operation, the key id and scope, the signed header
// names, the session token sent, and whether the SigV4 signature checks out
// with the secret of that key (FRONT_SECRETS in the environment, a JSON
// object key id -> secret; the secret itself is never written). A client
// that refuses the certificate is a {"tls_error":…} line. --refuse CODE
// answers every request (or those of --ops A,B) the way AWS refuses a bad
// or expired token, without forwarding it.
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { parseArgs } from 'node:util';
import { forward } from './forward.mjs';

const { values: a } = parseArgs({
	options: {
		upstream: { type: 'string' }, log: { type: 'string' }, tls: { type: 'string' },
		refuse: { type: 'string' }, ops: { type: 'string' },
	},
});
const up = new URL(a.upstream);
const secrets = JSON.parse(process.env.FRONT_SECRETS || '{}');
const ops = a.ops ? new Set(a.ops.split(',')) : null;
const agent = new http.Agent({ keepAlive: true });
// what AWS answers (status, message)
const REFUSALS = {
	ExpiredToken: [400, 'The security token included in the request is expired'],
	InvalidClientTokenId: [403, 'The security token included in the request is invalid.'],
};
const sha = (s) => crypto.createHash('sha256').update(s).digest('hex');
const hmac = (k, s) => crypto.createHmac('sha256', k).update(s).digest();
const log = (o) => fs.appendFileSync(a.log, JSON.stringify(o) + '\n');

// The signature as AWS checks it, from what arrived.
function verify(req, body) {
	const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/
		.exec(req.headers.authorization || '');
	if (!m) return { ok: false };
	const [, key, date, region, service, list, sig] = m;
	const canon = list.split(';').map((h) => `${h}:${String(req.headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
	const [path, query = ''] = req.url.split('?');
	const creq = [req.method, path, query, canon, list, sha(body)].join('\n');
	const scope = `${date}/${region}/${service}/aws4_request`;
	const sts = ['AWS4-HMAC-SHA256', req.headers['x-amz-date'], scope, sha(creq)].join('\n');
	let ok = false;
	if (secrets[key] !== undefined) {
		let k = hmac('AWS4' + secrets[key], date);
		for (const p of [region, service, 'aws4_request']) k = hmac(k, p);
		ok = crypto.createHmac('sha256', k).update(sts).digest('hex') === sig;
	}
	return { key, scope, signed: list, ok };
}

let n = 0;
function handle(req, res) {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		const body = Buffer.concat(chunks);
		const target = String(req.headers['x-amz-target'] || '');
		const op = target.slice(target.indexOf('.') + 1);
		const refuse = a.refuse && (!ops || ops.has(op));
		log({ n: ++n, op, token: req.headers['x-amz-security-token'] ?? null, ...verify(req, body), refused: !!refuse });
		if (refuse) {
			const [status, message] = REFUSALS[a.refuse] || [400, 'refused'];
			res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
			return res.end(JSON.stringify({ __type: `com.amazon.coral.service#${a.refuse}`, message }));
		}
		forward(req, res, body, up, agent);
	});
}
const server = a.tls
	? https.createServer({ key: fs.readFileSync(`${a.tls}/loopback.key`), cert: fs.readFileSync(`${a.tls}/loopback.crt`) }, handle)
	: http.createServer(handle);
server.on('tlsClientError', (e) => log({ tls_error: e.code || e.message }));
process.on('SIGTERM', () => process.exit(0));
server.listen(0, '127.0.0.1', () => process.stdout.write(`${a.tls ? 'https' : 'http'}://127.0.0.1:${server.address().port}\n`));
