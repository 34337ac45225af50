// The speed benchmark (scripts/bench.sh runs it): the lab's release page (dist/) and its
// peers, TensorFlow.js and jax-js, training the same four autoencoders on the same MNIST
// images in one Debian Chromium with the e2e tests' flags (WebGPU on SwiftShader).
//
//   node tests/bench/bench.mjs [--seconds 10] [--models ffnn,deep] [--libraries lab,tfjs,jax]
//                              [--paths webgpu,webgpu-page,cpu-worker,cpu-page] [--smoke] [--out results.json] [--dist dist]
//                              [--settle 0] [--chromium-flag=--js-flags=--prof ...]
//
// The lab is timed through its page, as a person uses it: each path (WebGPU or the CPU, in
// the training worker or on the page) × model × batch size in a fresh page, training on
// 2,048 images; training images/s over a window after a second of warm-up, the time from
// Start to the first report (the first step compiles, unless a warm-up did: --settle S waits
// S seconds after the model is chosen before Start, as a person would) apart; inference through the page's
// probe (`wasmBindings.inferenceSpeed`); time to the first reconstructions after load; the
// longest main-thread task at start-up and while training. The peers train on the same
// 2,048 images (one host→device upload per step, at most two steps in flight, one read-back
// at the window's end) and time inference the same way. Prints tables, writes JSON.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');

const USAGE = `usage: scripts/bench.sh [--seconds S] [--models ffnn,conv-transpose,upsample,deep]
  [--libraries lab,tfjs,jax] [--paths webgpu,webgpu-page,cpu-worker,cpu-page] [--smoke]
  [--out results.json] [--dist dist] [--settle S] [--chromium-flag F ...]
  [--noise NAME:STRENGTH] [--augment shift:PX,rotate:DEG]   (the lab's training techniques)`;
const { values: options } = parseArgsOrExit({
  options: {
    seconds: { type: 'string' },
    models: { type: 'string', default: 'ffnn,conv-transpose,upsample,deep' },
    libraries: { type: 'string', default: 'lab,tfjs,jax' },
    smoke: { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(HERE, 'results.json') },
    paths: { type: 'string', default: 'webgpu,webgpu-page,cpu-worker,cpu-page' },
    dist: { type: 'string', default: path.join(ROOT, 'dist') }, // another build of the page
    settle: { type: 'string', default: '0' }, // seconds between choosing the model and Start
    // More Chromium flags, e.g. V8's profiler: --chromium-flag=--no-sandbox
    // --chromium-flag=--js-flags=--prof (docs/NOTES.md, "Profiling the wasm").
    'chromium-flag': { type: 'string', multiple: true, default: [] },
    // The lab's training techniques, set in the page's form (their cost against a plain run).
    noise: { type: 'string' },
    augment: { type: 'string' },
  },
});
/** Sets the techniques form from --noise and --augment (the page checks the values at Start). */
async function setTechniques(page) {
  if (!options.noise && !options.augment) return;
  await page.click('#techniques summary');
  if (options.noise) {
    const [name, strength] = options.noise.split(':');
    await page.selectOption('#noise', name);
    await page.$eval('#noise-strength', (e, v) => { e.value = v; e.dispatchEvent(new Event('input')); }, strength);
  }
  for (const part of (options.augment ?? '').split(',').filter(Boolean)) {
    const [name, amount] = part.split(':');
    await page.fill(`#augment-${name}`, amount);
  }
}

/** Node's parseArgs, with a one-line error and the usage instead of a stack trace. */
function parseArgsOrExit(config) {
  try {
    return parseArgs(config);
  } catch (error) {
    console.error(`error: ${error.message}\n${USAGE}`);
    process.exit(2);
  }
}

// The smoke run (part of the test command): one model, short windows, every library and path.
const SMOKE = options.smoke;
const SECONDS = Number(options.seconds ?? (SMOKE ? 2 : 10));
const INFERENCE_SECONDS = SMOKE ? 1 : 5;
const MODELS = SMOKE ? ['ffnn'] : options.models.split(',');
const LIBRARIES = options.libraries.split(',');
const DIST = path.resolve(options.dist);
const TRAIN_IMAGES = 2048;
const SETTLE_MS = Number(options.settle) * 1000;
// How long the training worker's GPU calls are counted after the window.
const WORKER_COUNT_MS = SMOKE ? 1000 : 4000;
const referenceBatch = (model) => (model === 'deep' ? 100 : 20);
const batches = (model) => (SMOKE ? [referenceBatch(model)] : [referenceBatch(model), 64]);

const ROUTES = { // URL prefix → folder; the lab's page is the rest
  '/peers/': path.join(HERE, 'peers'),
  '/node_modules/': path.join(HERE, 'node_modules'),
  '/': DIST,
};
// The e2e tests' flags: WebGPU on SwiftShader.
const ARGS = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader',
  '--use-angle=swiftshader', '--disable-quic', ...options['chromium-flag']];


/// Every page records its long main-thread tasks (start and duration, in ms).
function recordLongTasks() {
  window.__longtasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longtasks.push([e.startTime, e.duration]);
  }).observe({ type: 'longtask', buffered: true });
}

/// Every page (and the lab's training worker) counts its WebGPU compute dispatches, queue
/// submits and buffer writes (uploads) in `globalThis.__gpu`.
function countGpuCalls() {
  globalThis.__gpu = { dispatches: 0, submits: 0, writes: 0 };
  if (!globalThis.GPUQueue) return;
  const count = (proto, method, key) => {
    const original = proto[method];
    proto[method] = function (...args) { globalThis.__gpu[key] += 1; return original.apply(this, args); };
  };
  count(GPUComputePassEncoder.prototype, 'dispatchWorkgroups', 'dispatches');
  count(GPUQueue.prototype, 'submit', 'submits');
  count(GPUQueue.prototype, 'writeBuffer', 'writes');
}

/// GPU calls per training step between two `window.__gpu` snapshots.
function perStep(from, to, steps) {
  if (!from || !to || !(steps > 0) || to.dispatches === from.dispatches) return undefined;
  const per = (key) => (to[key] - from[key]) / steps;
  return { dispatches: per('dispatches'), submits: per('submits'), writes: per('writes') };
}

/// The longest task that started in [from, to] (0 if none was over 50 ms).
const longestTask = (page, from, to) => page.evaluate(([a, b]) =>
  Math.max(0, ...window.__longtasks.filter(([s]) => s >= a && s <= b).map(([, d]) => d)), [from, to]);

// ---- the lab ----

/// The lab's three paths: how the page is opened for each.
const PATHS = {
  // WebGPU in the training worker (the page only draws).
  webgpu: { backend: 'webgpu', engine: 'worker' },
  // …and without a worker: the page's own WebGPU engine (the GPU calls are counted here).
  'webgpu-page': { backend: 'webgpu', engine: 'page', noWorker: true },
  // A browser without WebGPU: the page starts on the CPU and trains in its worker.
  'cpu-worker': { backend: 'cpu', engine: 'worker', hideGpu: true },
  // …and without a worker (the script cannot load): the page trains a frame's budget at a time.
  'cpu-page': { backend: 'cpu', engine: 'page', hideGpu: true, noWorker: true },
};

async function measureLab(browser, base, pathName, model, batch, withInference) {
  const how = PATHS[pathName];
  // No service worker: its first-visit caching would compete with the measurement, and the
  // requests it answered would bypass the routes (worker.js aborted for page runs).
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, serviceWorkers: 'block' });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.addInitScript(recordLongTasks);
  await page.addInitScript(countGpuCalls);
  if (how.hideGpu) await page.addInitScript(() => { delete Navigator.prototype.gpu; });
  if (how.noWorker) await page.route('**/worker.js', (route) => route.abort());
  // The training worker counts its own GPU calls (from its start on; its first steps come later).
  let worker;
  page.on('worker', (w) => { worker = w; w.evaluate(countGpuCalls).catch(() => {}); });
  try {
    await page.goto(`${base}/`);
    const gridDrawn = () => page.$eval('#recon-grid', (c) => c.dataset.updated);
    await page.waitForFunction(() => document.querySelector('#recon-grid')?.dataset.updated, null, { timeout: 180_000 });
    const firstReconstructionsMs = Number(await gridDrawn());
    const startupLongestTaskMs = await longestTask(page, 0, firstReconstructionsMs);
    const state = await page.evaluate(() => window.wasmBindings.labState());
    if (state.backend !== how.backend) throw new Error(`the page is on ${state.backend}, not ${how.backend}`);
    if (how.engine === 'worker') {
      await page.waitForFunction(() => window.wasmBindings.labState().worker !== 'starting', null, { timeout: 60_000 });
    }
    if (await page.$eval('#model', (m) => m.value) !== model) {
      const before = await gridDrawn();
      await page.selectOption('#model', model); // loads its pretrained weights, redraws the grid
      await page.waitForFunction((b) => document.querySelector('#recon-grid').dataset.updated !== b, before, { timeout: 120_000 });
    }
    await page.waitForTimeout(SETTLE_MS);
    await page.fill('#train-size', String(TRAIN_IMAGES));
    await page.fill('#batch-size', String(batch));
    await page.fill('#epochs', '1000');
    await setTechniques(page);
    // Every report the page shows: when, at which step, how many images trained.
    const clicked = await page.evaluate(() => {
      const progress = document.querySelector('#progress');
      window.__reports = [];
      new MutationObserver(() => {
        const images = Number(progress.dataset.imagesSeen);
        if (images > (window.__reports.at(-1)?.[1] ?? 0)) window.__reports.push([performance.now(), images, { ...window.__gpu }]);
      }).observe(progress, { attributes: true, attributeFilter: ['data-images-seen'] });
      return performance.now();
    });
    await page.click('#start');
    const { firstAt, warm, end } = await waitForWindow(page, SECONDS);
    const engine = await page.$eval('#progress', (p) => p.dataset.engine);
    if (engine !== how.engine) throw new Error(`the run trained on the ${engine}, not the ${how.engine}`);
    const trainingLongestTaskMs = await longestTask(page, clicked, end[0]);
    // The page's own GPU calls per step over the window; where the worker trains, the worker's
    // over WORKER_COUNT_MS after it (steps from the page's reports, which lag by up to a cycle).
    let gpuPerStep = perStep(warm[2], end[2], (end[1] - warm[1]) / batch);
    if (!gpuPerStep && how.engine === 'worker' && how.backend === 'webgpu' && worker) {
      const snapshot = async () => [
        await worker.evaluate(() => ({ ...globalThis.__gpu })),
        Number(await page.$eval('#progress', (p) => p.dataset.imagesSeen)),
      ];
      const [from, seenFrom] = await snapshot();
      await page.waitForTimeout(WORKER_COUNT_MS);
      const [to, seenTo] = await snapshot();
      gpuPerStep = perStep(from, to, (seenTo - seenFrom) / batch);
    }
    await page.click('#pause');
    await page.waitForFunction(() => document.querySelector('#progress').dataset.state === 'paused');
    const inference = withInference
      ? await page.evaluate((s) => window.wasmBindings.inferenceSpeed(64, s), INFERENCE_SECONDS)
      : undefined;
    if (errors.length) throw new Error(errors.join('; '));
    return {
      imagesPerSec: ((end[1] - warm[1]) * 1000) / (end[0] - warm[0]),
      // Each epoch's validation pass (512 images) included.
      gpuPerStep,
      seconds: (end[0] - warm[0]) / 1000,
      firstStepMs: firstAt - clicked,
      firstReconstructionsMs,
      startupLongestTaskMs,
      trainingLongestTaskMs,
      inference,
      engine,
    };
  } finally {
    await context.close();
  }
}

/// Waits until the reports span a second of warm-up and a `seconds` window after it; returns
/// the first report's time and the reports that start and end the window.
async function waitForWindow(page, seconds) {
  const deadline = Date.now() + (seconds + 240) * 1000;
  for (;;) {
    const reports = await page.evaluate(() => window.__reports);
    const warm = reports.find(([t]) => t >= reports[0][0] + 1000);
    const end = warm && reports.find(([t]) => t >= warm[0] + seconds * 1000);
    if (end) return { firstAt: reports[0][0], warm, end };
    const state = await page.$eval('#progress', (p) => p.dataset.state);
    if (state === 'error') throw new Error(await page.$eval('#status', (s) => s.textContent));
    if (Date.now() > deadline) throw new Error(`no ${seconds} s window: ${reports.length} reports`);
    await page.waitForTimeout(500);
  }
}

// ---- the peers ----

const PEERS = {
  tfjs: { page: 'tfjs.html', run: 'benchTfjs', backends: ['webgpu', 'wasm'] },
  jax: { page: 'jax.html', run: 'benchJax', backends: ['webgpu', 'wasm'] },
};

async function measurePeer(browser, base, library, backend, model, batch, withInference) {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.addInitScript(recordLongTasks);
  await page.addInitScript(countGpuCalls);
  try {
    await page.goto(`${base}/peers/${PEERS[library].page}`);
    await page.waitForFunction(() => window.peerReady, null, { timeout: 60_000 });
    const config = { model, backend, batch, seconds: SECONDS, inferenceSeconds: withInference ? INFERENCE_SECONDS : 0 };
    const result = await page.evaluate(([run, c]) => window[run](c), [PEERS[library].run, config]);
    if (errors.length) throw new Error(errors.join('; '));
    // From the first step to the window's end (`window`: performance.now() times).
    return { ...result, gpu: undefined, gpuPerStep: perStep(result.gpu?.start, result.gpu?.end, result.steps),
      trainingLongestTaskMs: await longestTask(page, ...result.window) };
  } finally {
    await context.close();
  }
}

// ---- the run ----

const server = await serve(ROUTES);
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ARGS });
const results = [];
const fmt = (v, digits = 0) => (v === undefined ? '—' : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));

async function record(entry, measure) {
  let outcome;
  try {
    outcome = await measure();
  } catch (e) {
    outcome = { error: String(e.message ?? e).split('\n')[0].replace(/^page\.evaluate: (Error: )?/, '').slice(0, 200) };
  }
  const result = { ...entry, ...outcome };
  results.push(result);
  const figure = result.error ? `error: ${result.error}` :
    `${fmt(result.imagesPerSec)} images/s over ${fmt(result.seconds, 1)} s; first step ${fmt(result.firstStepMs)} ms` +
    (result.inference ? `; inference ${fmt(result.inference.imagesPerSec)} images/s` : '') +
    `; longest task ${fmt(result.trainingLongestTaskMs)} ms` +
    (result.gpuPerStep ? `; per step: ${fmt(result.gpuPerStep.dispatches, 1)} dispatches, ${fmt(result.gpuPerStep.submits, 2)} submits, ${fmt(result.gpuPerStep.writes, 1)} uploads` : '');
  console.log(`${entry.library} ${entry.backend} ${entry.model} batch ${entry.batch}: ${figure}`);
}

try {
  for (const model of MODELS) {
    for (const batch of batches(model)) {
      const withInference = batch === referenceBatch(model);
      if (LIBRARIES.includes('lab')) {
        for (const pathName of options.paths.split(',')) {
          // Inference runs on the page: once per backend.
          const infer = withInference && !PATHS[pathName].noWorker;
          const techniques = [options.noise && `noise ${options.noise}`, options.augment && `augment ${options.augment}`]
            .filter(Boolean).join(', ') || undefined;
          await record({ library: 'lab', backend: pathName, model, batch, techniques },
            () => measureLab(browser, base, pathName, model, batch, infer));
        }
      }
      for (const library of Object.keys(PEERS).filter((l) => LIBRARIES.includes(l))) {
        for (const backend of PEERS[library].backends) {
          await record({ library, backend, model, batch },
            () => measurePeer(browser, base, library, backend, model, batch, withInference));
        }
      }
    }
  }
} finally {
  await browser.close();
  server.close();
}

const run = { date: new Date().toISOString(), chromium: browser.version(), seconds: SECONDS, settleSeconds: SETTLE_MS / 1000, trainImages: TRAIN_IMAGES, results };
fs.writeFileSync(options.out, JSON.stringify(run, null, 2));
printTables(run);

/// The training table (ours and the peers, with ratios ours / best peer per backend class)
/// and the lab's own figures, as Markdown.
function printTables({ date, chromium: version, results: all }) {
  const find = (library, backend, model, batch) =>
    all.find((r) => r.library === library && r.backend === backend && r.model === model && r.batch === batch);
  const speed = (r) => (r ? (r.error ? `error: ${r.error}` : fmt(r.imagesPerSec)) : '—');
  const best = (rs) => Math.max(0, ...rs.filter((r) => r && !r.error).map((r) => r.imagesPerSec));
  const ratio = (ours, peers) => (ours && !ours.error && best(peers) > 0 ? `${fmt(ours.imagesPerSec / best(peers), 2)}×` : '—');
  console.log(`\nTraining images/s, ${date.slice(0, 10)}, Chromium ${version}, ${SECONDS} s windows, ${TRAIN_IMAGES} MNIST images (WebGPU: SwiftShader)\n`);
  console.log('| model | batch | lab webgpu (worker) | lab webgpu (page) | TF.js webgpu | jax-js webgpu | lab cpu (worker) | lab cpu (page) | TF.js wasm | jax-js wasm | GPU: lab (worker) / best peer | CPU: lab (worker) / best peer |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const model of MODELS) {
    for (const batch of batches(model)) {
      const [gpu, gpuPage, worker, onPage] = ['webgpu', 'webgpu-page', 'cpu-worker', 'cpu-page'].map((p) => find('lab', p, model, batch));
      const gpuPeers = [find('tfjs', 'webgpu', model, batch), find('jax', 'webgpu', model, batch)];
      const cpuPeers = [find('tfjs', 'wasm', model, batch), find('jax', 'wasm', model, batch)];
      console.log(`| ${model} | ${batch} | ${speed(gpu)} | ${speed(gpuPage)} | ${gpuPeers.map(speed).join(' | ')} | ${speed(worker)} | ${speed(onPage)} | ` +
        `${cpuPeers.map(speed).join(' | ')} | ${ratio(gpu, gpuPeers)} | ${ratio(worker, cpuPeers)} |`);
    }
  }
  console.log('\nFirst step (ms), inference (images/s, batches of 64 read back one at a time), longest main-thread task (ms)\n');
  console.log('| library | backend | model | batch | first step | inference | first reconstructions after load | longest task: start-up | longest task: training | dispatches / step | submits / step |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of all.filter((r) => !r.error)) {
    console.log(`| ${r.library} | ${r.backend} | ${r.model} | ${r.batch} | ${fmt(r.firstStepMs)} | ${fmt(r.inference?.imagesPerSec)} | ` +
      `${fmt(r.firstReconstructionsMs)} | ${fmt(r.startupLongestTaskMs)} | ${fmt(r.trainingLongestTaskMs)} | ` +
      `${fmt(r.gpuPerStep?.dispatches, 1)} | ${fmt(r.gpuPerStep?.submits, 2)} |`);
  }
}

// The smoke run checks that every library and path measured something.
if (SMOKE) {
  const failed = results.filter((r) => r.error || !(r.imagesPerSec > 0));
  if (failed.length) {
    console.error(`smoke run: ${failed.length} measurement(s) failed`);
    process.exit(1);
  }
}
