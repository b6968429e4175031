// lib.mjs — how the programs behind scripts/dynamodb-local, scripts/sqs-local
// and scripts/status.sh (dynalite-serve.mjs, fauxqs-serve.mjs, status.mjs)
// start, kept in one place so that they fail alike: the command line read
// strictly with the usage on error, "PROG: message" diagnostics, the
// sysexits codes the README publishes, and a missing npm package reported
// with the command that installs it.
//
//   const { args, die, wholeNumber, load } = commandLine(PROG, USAGE, options);
//
// options: node:util parseArgs options, without help (-h, --help is added:
// USAGE on stdout, exit 0). No positional arguments. A bad command line
// prints "PROG: what is wrong" and USAGE on stderr and exits 64.
//   die(code, msg)        "PROG: msg" on stderr, exit code
//   wholeNumber(label, s, lo, hi, code = 64)   s as a number, undefined when s
//                         is; dies with code naming label unless s is a
//                         whole number from lo to hi
//   await load(pkg)       the package's module, from scripts/node/node_modules
//                         (resolved from here); exit 69 when it is missing
import { parseArgs } from 'node:util';

export function commandLine(prog, usage, options) {
	function die(code, msg) {
		process.stderr.write(`${prog}: ${msg}\n`);
		process.exit(code);
	}

	let args;
	try {
		args = parseArgs({
			options: { ...options, help: { type: 'boolean', short: 'h' } },
			strict: true,
			allowPositionals: false,
		}).values;
	} catch (e) {
		process.stderr.write(`${prog}: ${e.message}\n${usage}`);
		process.exit(64);
	}
	if (args.help) {
		process.stdout.write(usage);
		process.exit(0);
	}

	function wholeNumber(label, s, lo, hi, code = 64) {
		if (s === undefined) return undefined;
		if (!/^[0-9]+$/.test(s) || Number(s) < lo || Number(s) > hi)
			die(code, `${label}: '${s}' is not a whole number from ${lo} to ${hi}`);
		return Number(s);
	}

	async function load(pkg) {
		try {
			return await import(pkg);
		} catch (e) {
			die(69, `cannot load ${pkg} (${e.code || e.message}): run scripts/install-deps.sh ` +
				'or npm ci --prefix scripts/node');
		}
	}

	return { args, die, wholeNumber, load };
}
