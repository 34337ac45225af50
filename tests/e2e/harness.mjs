// The e2e tests' harness: the built lab (dist/) served locally, opened in Debian's Chromium
// (playwright-core), and what the tests read of it; used by the three *.test.mjs files.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const DIST = path.resolve(HERE, '../../dist');
export const ARTIFACTS = path.join(HERE, 'artifacts');
fs.mkdirSync(ARTIFACTS, { recursive: true });
process.env.TMPDIR = fs.mkdtempSync(path.join(ARTIFACTS, 'tmp-'));

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm',
  '.css': 'text/css', '.json': 'application/json', '.png': 'image/png', '.svg': 'image/svg+xml',
  '.webmanifest': 'application/manifest+json' };

// Chromium flags from ../shared/NOTES.md: WebGPU on SwiftShader, with canvases that composite.
export const GPU_ARGS = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader',
  '--use-angle=swiftshader', '--disable-quic'];
export const CPU_ARGS = ['--use-angle=swiftshader', '--disable-quic'];

let server;
let baseUrl;

/// Serves dist/ on a local port for the test file that calls it (its `before` and `after`).
export function serveDist() {
  before(async () => {
    assert.ok(fs.existsSync(path.join(DIST, 'index.html')), 'dist/ is missing: run trunk build first');
    server = http.createServer((req, res) => {
      const url = new URL(req.url, 'http://x');
      const file = path.join(DIST, decodeURIComponent(url.pathname === '/' ? '/index.html' : url.pathname));
      if (!file.startsWith(DIST) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
        res.writeHead(404).end('not found');
        return;
      }
      const body = fs.readFileSync(file);
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
        'content-length': body.length });
      res.end(body);
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${server.address().port}/`;
  });
  after(() => server?.close());
}

export async function openLab(args, { route, serviceWorkers = 'block' } = {}) {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args });
  // The offline cache's service worker is off but in its own test: requests it answered would
  // bypass the tests' routes (page.route), and its first-visit caching would double each load.
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, serviceWorkers });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  // Nothing leaves the origin: every request of every test goes to the lab's own server, and
  // the page's Content-Security-Policy reports no violation (each counts as an error).
  page.on('request', (r) => {
    const url = r.url();
    const origin = url.startsWith('blob:') ? new URL(url.slice(5)).origin : new URL(url).origin;
    if (origin !== new URL(baseUrl).origin && !url.startsWith('data:')) errors.push(`a request off the origin: ${url}`);
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation',
      (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
    window.__longtasks = [];
    // Long animation frames with their script attribution, to find the source of a long task.
    window.__longframes = [];
    try {
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          window.__longframes.push({ start: Math.round(e.startTime), duration: Math.round(e.duration),
            render: Math.round(e.renderStart ? e.startTime + e.duration - e.renderStart : 0),
            scripts: e.scripts.map((s) => `${s.invoker} ${Math.round(s.duration)} ms`) });
        }
      }).observe({ type: 'long-animation-frame', buffered: true });
    } catch { /* not supported: nothing to attribute */ }
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longtasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
    // The GPU devices the page creates, so a test can take one away (GPUDevice.destroy()),
    // as a driver reset or a crashed GPU process would.
    window.__gpuDevices = [];
    if (window.GPUAdapter) {
      const requestDevice = GPUAdapter.prototype.requestDevice;
      GPUAdapter.prototype.requestDevice = async function (...args) {
        const device = await requestDevice.apply(this, args);
        window.__gpuDevices.push(device);
        return device;
      };
    }
  });
  if (route) await route(page);
  await page.goto(baseUrl);
  return { browser, page, errors };
}

export async function waitForStatus(page, word, timeout = 60_000) {
  await page.waitForFunction((w) => document.querySelector('#status').textContent.includes(w), word, { timeout });
}

/// The page's state as data (`window.wasmBindings.labState()`), not the status line's prose.
export const labState = (page) => page.evaluate(() => window.wasmBindings.labState());

/// Polls the state until `predicate(state)` holds; returns that state.
export async function waitForLab(page, predicate, timeout = 60_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const state = await labState(page).catch(() => null); // null until the module is up
    if (state && predicate(state)) return state;
    assert.ok(Date.now() < deadline, `timed out waiting; state: ${JSON.stringify(state)}`);
    await page.waitForTimeout(100);
  }
}

export const dataLoaded = (s) => s.data_loaded;
export const deviceLost = (s) => s.device === 'lost';

/// Waits for the test metrics table to be filled.
export async function waitForMetrics(page, timeout = 120_000) {
  await page.waitForFunction(() => document.querySelector('#metrics').dataset.mse !== undefined, null, { timeout });
}

/// Trains `model` on a small subset and returns the train losses seen along the way.
/// Training starts at `window.__trainingStart` (performance.now() just before Start is clicked).
/// With `pauseAtStep`, pauses there, checks that no step runs while paused, and resumes.
export async function trainBriefly(page, { model = 'ffnn', size = 512, batch = 32, epochs = 2, timeout = 240_000, pauseAtStep }) {
  // Switching the model loads its pretrained weights and redraws the grid: let that finish first.
  await page.waitForFunction(() => document.querySelector('#recon-grid').dataset.updated, null, { timeout: 60_000 });
  if (await page.$eval('#model', (m) => m.value) !== model) {
    const gridBefore = await page.$eval('#recon-grid', (c) => c.dataset.updated);
    await page.selectOption('#model', model);
    await page.waitForFunction((before) => document.querySelector('#recon-grid').dataset.updated !== before,
      gridBefore, { timeout: 60_000 });
  }
  await page.fill('#train-size', String(size));
  await page.fill('#batch-size', String(batch));
  await page.fill('#epochs', String(epochs));
  // The progress bar's state is the last run's until the page draws again: mark it, so that
  // a last run's "done" or "error" is not read as this one's.
  await page.$eval('#progress', (p) => { p.dataset.state = 'starting'; });
  await page.evaluate(() => { window.__trainingStart = performance.now(); });
  await page.click('#start');
  const losses = [];
  const deadline = Date.now() + timeout;
  for (;;) {
    const state = await page.$eval('#progress', (p) => ({ ...p.dataset }));
    const loss = parseFloat(state.trainLoss);
    if (Number.isFinite(loss) && losses.at(-1) !== loss) losses.push(loss);
    if (state.state === 'done' || state.state === 'error') return { losses, state };
    if (pauseAtStep !== undefined && Number(state.step) >= pauseAtStep) {
      pauseAtStep = undefined;
      await page.click('#pause');
      await page.waitForTimeout(700); // a step already under way may still report
      const before = await page.$eval('#progress', (p) => p.dataset.step);
      await page.waitForTimeout(1500);
      const after = await page.$eval('#progress', (p) => ({ ...p.dataset }));
      assert.equal(after.state, 'paused');
      assert.equal(after.step, before, 'steps ran while paused');
      await page.click('#pause'); // "Resume"
    }
    assert.ok(Date.now() < deadline, `training did not finish in time: ${JSON.stringify(state)}`);
    await page.waitForTimeout(100);
  }
}

/// 28×28 grey values of a canvas drawn at 4× (the sketch views).
export async function canvasDigit(page, id) {
  return page.$eval(id, (c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const scale = c.width / 28;
    const out = [];
    for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) {
      out.push(d[((y * scale + 1) * c.width + x * scale + 1) * 4] / 255);
    }
    return out;
  });
}

export async function gridSpread(page) {
  // Standard deviation of the reconstruction rows: the last row of each set (digits, [inputs,] reconstructions).
  return page.$eval('#recon-grid', (c) => {
    const rows = Number(c.dataset.rows);
    const perSet = rows / 2;
    const cell = (c.height + 2) / rows;
    let sum = 0, sq = 0, n = 0;
    for (let r = perSet - 1; r < rows; r += perSet) {
      const d = c.getContext('2d').getImageData(0, Math.round(r * cell), c.width, Math.round(cell - 2)).data;
      for (let i = 0; i < d.length; i += 4) { sum += d[i]; sq += d[i] * d[i]; n++; }
    }
    const mean = sum / n;
    return Math.sqrt(sq / n - mean * mean);
  });
}

/// Holds the page's animation frames, as a tab in the background does (`__holdFrames(true)`),
/// and runs those asked for meanwhile when released.
export const HOLD_FRAMES = () => {
  const queue = [];
  let held = false;
  const request = window.requestAnimationFrame.bind(window);
  window.requestAnimationFrame = (callback) => (held ? (queue.push(callback), 0) : request(callback));
  window.__holdFrames = (hold) => {
    held = hold;
    if (!hold) for (const callback of queue.splice(0)) request(callback);
  };
};

export const steps = (state) => state.step;

export const mse = (a, b) => a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0) / a.length;

/// Measures the shown model on the test set ("Evaluate on test set"); returns its MSE.
export async function measure(page) {
  await page.$eval('#metrics', (t) => t.removeAttribute('data-mse'));
  await page.click('#evaluate');
  await waitForMetrics(page, 60_000);
  return page.$eval('#metrics', (t) => t.dataset.mse);
}

/// An IDX file: magic 0x0000080<kind>, big-endian dimensions, then the bytes.
export function idxFile(kind, dims, body) {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt32BE(0x800 + kind, 0);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(body)]);
}
