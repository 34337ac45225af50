// The speed benchmark's driver (work in progress, issue 9): serves the peers' pages and
// times them in Debian's Chromium with the e2e flags. So far: TensorFlow.js.
//   node tests/bench/bench.mjs [seconds]
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const SECONDS = Number(process.argv[2] ?? 10);
const ROUTES = { // URL prefix → folder
  '/peers/': path.join(HERE, 'peers'),
  '/node_modules/': path.join(HERE, 'node_modules'),
  '/mnist/': path.join(ROOT, 'static/mnist'),
};
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.wasm': 'application/wasm', '.json': 'application/json' };
// The e2e tests' flags: WebGPU on SwiftShader.
const ARGS = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader',
  '--use-angle=swiftshader', '--disable-quic'];

function serve() {
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const prefix = Object.keys(ROUTES).find((p) => url.startsWith(p));
    const file = prefix && path.join(ROUTES[prefix], url.slice(prefix.length));
    if (!file || !file.startsWith(ROUTES[prefix]) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const server = await serve();
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ARGS });
const results = [];
try {
  for (const backend of ['webgpu', 'wasm']) {
    for (const model of ['ffnn', 'conv-transpose', 'upsample', 'deep']) {
      for (const batch of [model === 'deep' ? 100 : 20, 64]) {
        // A fresh page per measurement: no state carries over between runs.
        const page = await browser.newPage();
        await page.goto(`${base}/peers/tfjs.html`);
        await page.waitForFunction(() => window.peerReady, null, { timeout: 60_000 });
        const config = { model, backend, batch, seconds: SECONDS };
        const result = await page.evaluate((c) => window.benchTfjs(c).catch((e) => ({ ...c, error: String(e.message ?? e) })), config);
        results.push({ library: 'tfjs', ...result });
        const figure = result.error ? `error: ${result.error}` :
          `${result.imagesPerSec.toFixed(0)} images/s (${result.steps} steps; first step ${result.firstStepMs.toFixed(0)} ms; loss ${result.finalLoss.toFixed(4)})`;
        console.log(`tfjs ${backend} ${model} batch ${batch}: ${figure}`);
        await page.close();
      }
    }
  }
} finally {
  await browser.close();
  server.close();
}
fs.writeFileSync(path.join(HERE, 'results.json'), JSON.stringify({ date: new Date().toISOString(), chromium: browser.version(), results }, null, 2));
