// dynalite-serve — runs dynalite (a DynamoDB implementation on LevelDB) on
// 127.0.0.1 through its programmatic API, for the tests and the demo.
// Started by scripts/dynamodb-local, which documents the options.
//
// Prints the endpoint "http://127.0.0.1:PORT" as the first and only line on
// stdout once it accepts connections, then serves until SIGTERM or SIGINT,
// closes the server and its store, and exits 0. Diagnostics go to stderr.
// Exit: 0 after a signal, 64 usage, 69 the npm packages are not installed,
// 75 the port is taken, 70 anything else.
import { mkdirSync } from 'node:fs';
import { commandLine } from './lib.mjs';

const PROG = 'dynamodb-local';
const USAGE = `usage: dynamodb-local [--port N] [--path DIR] [--create-table-ms MS]
                      [--delete-table-ms MS] [--update-table-ms MS] [--verbose]

Runs dynalite, a local DynamoDB, on 127.0.0.1 only. Prints its endpoint
"http://127.0.0.1:PORT" as the first line on stdout once it accepts
connections, then runs in the foreground until SIGTERM or SIGINT (exit 0).

  --port N              listen on port N, 0 to 65535 (default 0: the system
                        picks a free port)
  --path DIR            keep the tables in a LevelDB store in DIR (made if
                        missing) across restarts, even kill -9; one process
                        per DIR (default: in memory, gone at exit)
  --create-table-ms MS  how long a new table stays CREATING (default 0)
  --delete-table-ms MS  how long a deleted table stays DELETING (default 0)
  --update-table-ms MS  how long an updated table stays UPDATING (default 0)
  -v, --verbose         dynalite's own request log to stderr
  -h, --help            this text

Use it with AWS_ENDPOINT_URL_DYNAMODB=<the printed URL> and any access key
(dynalite checks that requests are signed, not the signature).
Exit: 0 after SIGTERM/SIGINT, 64 usage, 69 the npm packages are missing
(run scripts/install-deps.sh), 75 the port is taken, 70 other errors.
`;

const { args, die, wholeNumber, load } = commandLine(PROG, USAGE, {
	port: { type: 'string' },
	path: { type: 'string' },
	'create-table-ms': { type: 'string' },
	'delete-table-ms': { type: 'string' },
	'update-table-ms': { type: 'string' },
	verbose: { type: 'boolean', short: 'v' },
});
const ms = (name) => wholeNumber(`--${name}`, args[name], 0, 3600000) ?? 0;
const port = wholeNumber('--port', args.port, 0, 65535) ?? 0;
const opts = {
	createTableMs: ms('create-table-ms'),
	deleteTableMs: ms('delete-table-ms'),
	updateTableMs: ms('update-table-ms'),
	verbose: !!args.verbose,
};
if (args.path !== undefined) {
	if (args.path === '') die(64, '--path: empty');
	try {
		mkdirSync(args.path, { recursive: true });
	} catch (e) {
		die(73, `--path ${args.path}: ${e.message}`);
	}
	opts.path = args.path;
}

const dynalite = (await load('dynalite')).default;

const server = dynalite(opts);
server.on('error', (e) => {
	if (e.code === 'EADDRINUSE') die(75, `port ${port} is taken`);
	die(70, e.message);
});

let stopping = false;
function stop(sig) {
	if (stopping) process.exit(0); // a second signal: do not wait
	stopping = true;
	if (opts.verbose) process.stderr.write(`${PROG}: ${sig}: stopping\n`);
	// close() waits for open connections and then closes the store; idle
	// keep-alive connections are dropped at once, busy ones after a second.
	server.close((err) => {
		if (err) process.stderr.write(`${PROG}: closing: ${err.message}\n`);
		process.exit(0);
	});
	setTimeout(() => server.closeAllConnections?.(), 1000).unref();
	setTimeout(() => process.exit(0), 10000).unref();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

server.listen(port, '127.0.0.1', () => {
	const url = `http://127.0.0.1:${server.address().port}`;
	// stdout to a pipe or a file is synchronous on Linux: the line is out
	// before the callback returns.
	process.stdout.write(url + '\n');
	if (opts.verbose) process.stderr.write(`${PROG}: listening at ${url}\n`);
});
