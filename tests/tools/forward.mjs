// Forwarding a request, whose body was read whole, to the stand-in behind a
// front, and its answer back (the fronts of tests/lib-route.sh and
// 82-tls-creds.t). An upstream that cannot be reached is a 502.
import http from 'node:http';

export function forward(req, res, body, up, agent) {
	const headers = { ...req.headers, host: up.host, 'content-length': body.length };
	delete headers.connection;
	const r = http.request({ hostname: up.hostname, port: up.port, method: req.method, path: req.url, headers, agent },
		(ur) => {
			const out = [];
			ur.on('data', (c) => out.push(c));
			ur.on('end', () => {
				const b = Buffer.concat(out);
				const h = { ...ur.headers, 'content-length': b.length };
				delete h['transfer-encoding'];
				delete h.connection;
				res.writeHead(ur.statusCode, h);
				res.end(b);
			});
		});
	r.on('error', () => { res.writeHead(502); res.end(); });
	r.end(body);
}
