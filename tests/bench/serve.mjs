// A static server on a free local port for the benchmark's pages: each URL prefix maps to a
// folder (the lab's page, the peers' pages, their npm modules).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.wasm': 'application/wasm', '.json': 'application/json', '.css': 'text/css', '.svg': 'image/svg+xml' };

/** Serves `routes` (URL prefix → folder; '/' the rest) and resolves to the listening server. */
export function serve(routes) {
  const server = http.createServer((req, res) => {
    let url = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (url === '/') url = '/index.html';
    const prefix = Object.keys(routes).find((p) => url.startsWith(p));
    const file = path.join(routes[prefix], url.slice(prefix.length));
    if (!file.startsWith(routes[prefix]) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}
