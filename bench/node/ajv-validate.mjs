#!/usr/bin/env node
// ajv-validate — the baseline of bench/validate.sh: the same work as
// build/bin/validate, done with ajv 8 + ajv-formats, the usual choice for
// JSON Schema in Node, written to be fast rather than a straw man.
//
//   node bench/node/ajv-validate.mjs [-s SCHEMA] [--rejects FILE] < in.ndjson > valid.ndjson
//
// Compiles the schema once (draft-07, formats in ajv-formats' "full" mode),
// then streams newline-delimited JSON from stdin: each line is parsed and
// validated (keys starting with "_" are pipeline metadata and are left out,
// as validate does); valid lines go to stdout unchanged, invalid ones to
// --rejects FILE (default: dropped) with an "_error" member carrying ajv's
// message. Blank lines are skipped, a trailing CR is dropped. Writes in large
// chunks and honours back-pressure. Exit: 0, 64 usage, 78 bad schema.
import fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { fileURLToPath } from 'node:url';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';

const here = fileURLToPath(new URL('.', import.meta.url));
let schemaPath = `${here}../../schema/event.schema.json`;
let rejectsPath = null;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
	if ((argv[i] === '-s' || argv[i] === '--schema') && i + 1 < argv.length) schemaPath = argv[++i];
	else if ((argv[i] === '-r' || argv[i] === '--rejects') && i + 1 < argv.length) rejectsPath = argv[++i];
	else {
		process.stderr.write('usage: ajv-validate.mjs [-s SCHEMA] [--rejects FILE] < in > out\n');
		process.exit(64);
	}
}

let validate;
try {
	const ajv = new Ajv({ strict: false, allErrors: false });
	addFormats(ajv);
	validate = ajv.compile(JSON.parse(fs.readFileSync(schemaPath, 'utf8')));
} catch (e) {
	process.stderr.write(`ajv-validate: ${schemaPath}: ${e.message}\n`);
	process.exit(78);
}

const rejectsFd = rejectsPath ? fs.openSync(rejectsPath, 'w') : -1;
const decoder = new StringDecoder('utf8');
let rest = '';
let out = [];
let outLen = 0;
let rej = [];
let lineNo = 0;

function reject(line, reason) {
	if (rejectsFd < 0) return;
	const err = `"_error":${JSON.stringify({ stage: 'validate', line: lineNo, reason })}`;
	const t = line.trimEnd();
	if (t.startsWith('{') && t.endsWith('}') && reason.startsWith('/'))
		rej.push(t.length === 2 ? `{${err}}\n` : `${t.slice(0, -1)},${err}}\n`);
	else rej.push(`{"_raw":${JSON.stringify(line)},${err}}\n`);
}

function check(line) {
	lineNo++;
	if (line.endsWith('\r')) line = line.slice(0, -1);
	if (line.trim() === '') return;
	let doc;
	try {
		doc = JSON.parse(line);
	} catch (e) {
		return reject(line, `not JSON: ${e.message}`);
	}
	if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
		return reject(line, `not an object: this is ${Array.isArray(doc) ? 'an array' : doc === null ? 'null' : typeof doc}`);
	let subject = doc;
	for (const k in doc) {
		if (k.charCodeAt(0) === 95 /* _ */) {
			subject = {};
			for (const k2 in doc) if (k2.charCodeAt(0) !== 95) subject[k2] = doc[k2];
			break;
		}
	}
	if (validate(subject)) {
		out.push(line, '\n');
		outLen += line.length + 1;
	} else {
		const e = validate.errors[0];
		reject(line, `${e.instancePath || '/'}: ${e.message}`);
	}
}

function flush(done) {
	if (rej.length && rejectsFd >= 0) {
		fs.writeSync(rejectsFd, rej.join(''));
		rej = [];
	}
	if (out.length === 0) return done();
	const s = out.join('');
	out = [];
	outLen = 0;
	if (process.stdout.write(s)) done();
	else process.stdout.once('drain', done);
}

process.stdin.on('data', (chunk) => {
	const text = rest + decoder.write(chunk);
	let start = 0, nl;
	while ((nl = text.indexOf('\n', start)) !== -1) {
		check(text.slice(start, nl));
		start = nl + 1;
	}
	rest = text.slice(start);
	if (outLen > 1 << 20) {
		process.stdin.pause();
		flush(() => process.stdin.resume());
	}
});
process.stdin.on('end', () => {
	const tail = rest + decoder.end();
	if (tail !== '') check(tail);
	flush(() => {
		if (rejectsFd >= 0) fs.closeSync(rejectsFd);
	});
});
process.stdout.on('error', (e) => {
	process.stderr.write(`ajv-validate: stdout: ${e.message}\n`);
	process.exit(74);
});
