// Memory soak: trains ffnn in the page on 2,000 images for many epochs, in rounds; between
// rounds it switches to another model and back, switches the backend (WebGPU ↔ CPU where the
// browser has WebGPU), and downloads the weights and uploads them again. After each epoch it
// samples the page's and the training worker's wasm memory and the page's JS heap (after a
// garbage collection), and prints each one's growth since the first epoch.
//
//   node tests/e2e/soak.mjs [EPOCHS=100] [ROUND=10] [webgpu|cpu ...]    (needs dist/: trunk build)
//
// The e2e suite runs a short version (hardening.test.mjs, "Memory") and asserts growth under 10 %.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

/// Chromium flags: WebGPU on SwiftShader (../shared/NOTES.md), gc() and exact heap figures.
export const SOAK_ARGS = {
  webgpu: ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader',
    '--use-angle=swiftshader', '--disable-quic', '--js-flags=--expose-gc', '--enable-precise-memory-info'],
  cpu: ['--use-angle=swiftshader', '--disable-quic', '--js-flags=--expose-gc', '--enable-precise-memory-info'],
};

const state = (page) => page.evaluate(() => window.wasmBindings.labState());

/// One memory sample: bytes of the page's wasm memory, the worker's (as last reported) and the
/// page's live JS heap after a collection.
async function sample(page) {
  const heap = await page.evaluate(() => { window.gc?.(); return performance.memory?.usedJSHeapSize ?? 0; });
  const s = await state(page);
  return { page: s.page_memory_bytes, worker: s.worker_memory_bytes ?? 0, heap };
}

async function waitFor(page, predicate, what, timeout = 120_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const s = await state(page).catch(() => null);
    if (s && predicate(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s)}`);
    await page.waitForTimeout(100);
  }
}

/// Switches the model to `kind` and waits for its weights to be shown.
async function chooseModel(page, kind) {
  if (await page.$eval('#model', (m) => m.value) === kind) return;
  await page.selectOption('#model', kind);
  await waitFor(page, (s) => s.model === kind && !s.training, `the ${kind} model`);
}

/// Runs the soak on an open lab page; returns the samples, one per epoch, and logs as it goes.
export async function soak(page, { epochs, round = 10, log = () => {} }) {
  await waitFor(page, (s) => s.data_loaded, 'MNIST');
  const canWebGpu = (await state(page)).backend === 'webgpu';
  const samples = [];
  const download = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'soak-')), 'ffnn.bin');
  for (let done = 0, r = 0; done < epochs; r++) {
    const todo = Math.min(round, epochs - done);
    if (r > 0) {
      // Between rounds: another model and back, the other backend, weights out and in.
      await chooseModel(page, 'upsample');
      await chooseModel(page, 'ffnn');
      if (canWebGpu) {
        const next = (await state(page)).backend === 'webgpu' ? 'cpu' : 'webgpu';
        await page.selectOption('#backend-select', next);
        await waitFor(page, (s) => s.backend === next && !s.training, `the ${next} backend`);
      }
      const [file] = await Promise.all([page.waitForEvent('download'), page.click('#download-weights')]);
      await file.saveAs(download);
      // Until now the model shows the weights it trained (origin "trained"): the upload's are "loaded".
      await page.setInputFiles('#upload-weights', download);
      await waitFor(page, (s) => s.origin.kind === 'loaded' && s.origin.source === 'ffnn.bin', 'the uploaded weights');
    } else {
      await chooseModel(page, 'ffnn');
    }
    await page.fill('#train-size', '2000');
    await page.fill('#batch-size', '32');
    await page.fill('#epochs', String(todo));
    await page.click('#start');
    const backend = (await state(page)).backend;
    let seen = 0;
    for (;;) {
      const progress = await page.$eval('#progress', (p) => ({ ...p.dataset }));
      const epoch = Number(progress.epoch ?? 0);
      const finished = progress.state === 'done' || progress.state === 'error';
      if (progress.state === 'error') throw new Error(`the run failed: ${await page.textContent('#status')}`);
      if (epoch > seen || finished) {
        seen = finished ? todo : epoch;
        const s = await sample(page);
        samples.push({ epoch: done + seen, round: r, backend, engine: progress.engine, ...s });
        log(`epoch ${String(done + seen).padStart(3)} ${backend.padEnd(6)} ${String(progress.engine).padEnd(6)} page ${mb(s.page)} worker ${mb(s.worker)} JS heap ${mb(s.heap)}`);
      }
      if (finished) break;
      await page.waitForTimeout(100);
    }
    // The run ends with its test metrics, measured as it ends: as a person would, wait for them.
    await waitFor(page, (s) => /test metrics/.test(s.status.text), 'the run\'s test metrics');
    done += todo;
  }
  // The JS heap swings with garbage awaiting collection (5 to 13 MB in 100 epochs): its
  // growth is read from a last sample, taken once the page is idle and collected.
  await page.waitForTimeout(3000);
  await sample(page);
  const last = await sample(page);
  samples.push({ epoch: epochs, final: true, ...last });
  log(`idle, collected: page ${mb(last.page)} worker ${mb(last.worker)} JS heap ${mb(last.heap)}`);
  return samples;
}

const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(1).padStart(6)} MB`;

/// Each measure's growth in percent from the first sample of the round after the one in which
/// every kind of work of the soak (each backend, on the page or in the worker) had run once: a
/// first run of a kind sets up what it needs (the worker's first WebGPU run and measurement take
/// its device's memory, about 90 MB), which is not a leak. The wasm memories' growth is to their
/// largest (they never shrink), the JS heap's to the last, idle sample.
export function growth(samples) {
  const kind = (s) => `${s.backend}/${s.engine}`;
  const rounds = samples.filter((s) => !s.final);
  const kinds = new Set(rounds.map(kind));
  const seen = new Set();
  const all = rounds.findIndex((s) => { seen.add(kind(s)); return seen.size === kinds.size; });
  const base = rounds.find((s) => s.round > rounds[all].round) ?? rounds[all];
  const after = samples.slice(samples.indexOf(base));
  const largest = (key) => (base[key] > 0 ? 100 * (Math.max(...after.map((s) => s[key])) / base[key] - 1) : 0);
  return { from: base.epoch, page: largest('page'), worker: largest('worker'), heap: 100 * (samples.at(-1).heap / base.heap - 1) };
}

// Run as a script: serve dist/ and soak each backend asked for.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { serve } = await import('../bench/serve.mjs');
  const here = path.dirname(fileURLToPath(import.meta.url));
  const dist = path.resolve(here, '../../dist');
  const [epochs = '100', round = '10', ...asked] = process.argv.slice(2);
  const server = await serve({ '/': dist });
  const url = `http://127.0.0.1:${server.address().port}/`;
  for (const backend of asked.length ? asked : ['webgpu', 'cpu']) {
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: SOAK_ARGS[backend] });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('pageerror', (e) => console.log(`  page error: ${e}`));
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console.log(`  console: ${m.text()}`); });
    await page.goto(url);
    if (backend === 'cpu') await page.selectOption('#backend-select', 'cpu').catch(() => {});
    console.log(`== ${backend}: ${epochs} epochs of ffnn on 2,000 images, rounds of ${round}`);
    const started = Date.now();
    const samples = await soak(page, { epochs: Number(epochs), round: Number(round), log: (l) => console.log(`  ${l}`) });
    const g = growth(samples);
    console.log(`== ${backend}: growth from epoch ${g.from} (each kind of work done a round before) to ${epochs}: page wasm ${g.page.toFixed(1)} %, worker wasm ${g.worker.toFixed(1)} %, page JS heap ${g.heap.toFixed(1)} % (${((Date.now() - started) / 60000).toFixed(1)} min)`);
    await browser.close();
  }
  server.close();
}
