// fauxqs-serve — runs fauxqs (an SQS emulator speaking AWS JSON 1.0) on
// 127.0.0.1 through its programmatic API (buildApp), for the tests and the
// demo: its own command line listens on all interfaces. Started by
// scripts/sqs-local, which documents the options.
//
// Prints the endpoint "http://127.0.0.1:PORT" as the first and only line on
// stdout once it accepts connections, then serves until SIGTERM or SIGINT,
// closes (waking any long poll) and exits 0. Diagnostics go to stderr.
// Exit: 0 after a signal, 64 usage, 69 the npm packages are not installed,
// 75 the port is taken, 70 anything else.
import { commandLine } from './lib.mjs';

const PROG = 'sqs-local';
const USAGE = `usage: sqs-local [--port N] [--verbose]

Runs fauxqs 1.9.2, a local SQS (AWS JSON 1.0 protocol), on 127.0.0.1 only.
Prints its endpoint "http://127.0.0.1:PORT" as the first line on stdout once
it accepts connections, then runs in the foreground until SIGTERM or SIGINT
(exit 0). Queues live in memory and are gone at exit.

  --port N       listen on port N, 0 to 65535 (default 0: the system picks a
                 free port)
  -v, --verbose  fauxqs's own request log (JSON lines) to stderr
  -h, --help     this text

Use it with AWS_ENDPOINT_URL_SQS=<the printed URL> and any access key. Queue
URLs look like http://sqs.<region>.localhost:<port>/000000000000/<name>: use
the one CreateQueue or GetQueueUrl returned, verbatim, as an identifier; the
requests still go to the endpoint. The region of the request's signature
selects a separate set of queues.
Exit: 0 after SIGTERM/SIGINT, 64 usage, 69 the npm packages are missing
(run scripts/install-deps.sh), 75 the port is taken, 70 other errors.
`;

const { args, die, wholeNumber, load } = commandLine(PROG, USAGE, {
	port: { type: 'string' },
	verbose: { type: 'boolean', short: 'v' },
});
const port = wholeNumber('--port', args.port, 0, 65535) ?? 0;

const { buildApp } = await load('fauxqs');

// The logger writes to stdout, which is reserved for the URL: send it to
// stderr.
const app = buildApp({ logger: args.verbose ? { level: 'info', stream: process.stderr } : false });

let stopping = false;
async function stop(sig) {
	if (stopping) process.exit(0); // a second signal: do not wait
	stopping = true;
	if (args.verbose) process.stderr.write(`${PROG}: ${sig}: stopping\n`);
	setTimeout(() => process.exit(0), 5000).unref();
	try {
		await app.close(); // ends the long polls, then the connections
	} catch (e) {
		process.stderr.write(`${PROG}: closing: ${e.message}\n`);
	}
	process.exit(0);
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

try {
	await app.listen({ port, host: '127.0.0.1' });
} catch (e) {
	if (e.code === 'EADDRINUSE') die(75, `port ${port} is taken`);
	die(70, e.message);
}
const url = `http://127.0.0.1:${app.server.address().port}`;
process.stdout.write(url + '\n'); // synchronous on Linux for pipes and files
if (args.verbose) process.stderr.write(`${PROG}: listening at ${url}\n`);
