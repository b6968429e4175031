// A front that answers 500 to every request whose body holds a word and
// forwards the rest: one event that DynamoDB keeps failing.
import http from 'node:http';
import fs from 'node:fs';
import { forward } from './forward.mjs';
const [upstream, word, hitsFile] = process.argv.slice(2);
const up = new URL(upstream);
const agent = new http.Agent({ keepAlive: true });
let hits = 0;
const server = http.createServer((req, res) => {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		const body = Buffer.concat(chunks);
		if (body.includes(word)) {
			fs.writeFileSync(hitsFile, `${++hits}\n`);
			const text = Buffer.from('<html><body><h1>500 Internal Server Error</h1></body></html>\n');
			res.writeHead(500, { 'content-type': 'text/html', 'content-length': text.length });
			return res.end(text);
		}
		forward(req, res, body, up, agent);
	});
});
process.on('SIGTERM', () => process.exit(0));
server.listen(0, '127.0.0.1', () => process.stdout.write(`http://127.0.0.1:${server.address().port}\n`));
