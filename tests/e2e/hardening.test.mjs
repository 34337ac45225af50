// End-to-end tests of the lab's hardening (issue 12): malformed input, weights kept across
// visits, long sessions, nothing leaving the origin, memory, offline use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { soak, growth, SOAK_ARGS } from './soak.mjs';
import {
  CPU_ARGS, DIST, HERE, HOLD_FRAMES, dataLoaded, labState, measure, openLab, serveDist, steps,
  trainBriefly, waitForLab, waitForMetrics, waitForStatus,
} from './harness.mjs';

serveDist();

/// The malformed-input corpus (tests/corpus/, made by tests/corpus/make.py).
const CORPUS = path.resolve(HERE, '../corpus');
const corpusFile = (name) => fs.readFileSync(path.join(CORPUS, name));

/// Waits for an error on the status line that mentions `file`; returns its text.
async function errorAbout(page, file) {
  const state = await waitForLab(page, (s) => s.status.kind === 'error' && s.status.text.includes(file), 30_000);
  return state.status.text;
}

test('Malformed input: every file of the corpus, fetched or uploaded, is named with its fault, and the page keeps what it had', { timeout: 240_000 }, async () => {
  const { cases } = JSON.parse(corpusFile('cases.json'));
  const broken = JSON.parse(corpusFile('datasets.json')).datasets;
  const { browser, page, errors } = await openLab(CPU_ARGS, {
    // The site's catalog with a dataset for each broken file, served from the corpus folder
    // with status 200 whatever it holds (an error page included, as a misconfigured server would).
    route: async (page) => {
      const site = JSON.parse(fs.readFileSync(path.join(DIST, 'datasets.json')));
      await page.route(/\/datasets\.json$/, (route) => route.fulfill({ status: 200, contentType: 'application/json',
        body: JSON.stringify({ datasets: [...site.datasets, ...broken] }) }));
      await page.route(/\/corpus\/[^/]+$/, (route) => route.fulfill({ status: 200,
        contentType: 'application/octet-stream', body: corpusFile(path.basename(new URL(route.request().url()).pathname)) }));
    },
  });
  const file = (name) => ({ name, mimeType: 'application/octet-stream', buffer: corpusFile(name) });
  const expectFault = (message, c, kept) => {
    console.log(`  ${message}`);
    assert.ok(message.includes(c.file), `the message does not name ${c.file}: ${message}`);
    assert.ok(message.includes(c.fault), `expected '${c.fault}' in: ${message}`);
    assert.match(message, kept);
  };
  try {
    await waitForLab(page, (s) => s.data_loaded && s.worker === 'ready' && s.origin.kind === 'loaded');
    const mnistStays = async () => {
      const state = await labState(page);
      assert.deepEqual([state.dataset, state.data_loaded], ['mnist', true]);
    };
    // 1. Fetched: each broken dataset of the catalog, chosen in the selector.
    for (const c of cases.filter((c) => c.kind === 'idx')) {
      await page.selectOption('#dataset', c.dataset);
      expectFault(await errorAbout(page, c.file), c, /MNIST stays loaded/);
      await mnistStays();
      await page.evaluate(() => window.wasmBindings.labState()); // the page still answers
    }
    // 2. Uploaded: each broken file with a good file of the other kind.
    for (const c of cases.filter((c) => c.kind === 'idx' && c.upload)) {
      const partner = c.what === 'images' ? 'good-labels-idx1-ubyte.gz' : 'good-images-idx3-ubyte.gz';
      await page.setInputFiles('#upload-data', [file(c.file), file(partner)]);
      expectFault(await errorAbout(page, c.file), c, /the current dataset is unchanged/);
      await mnistStays();
    }
    // 3. Weights, uploaded for the model they are checked against; the shown ones stay.
    const model = cases.find((c) => c.kind === 'weights').model;
    await page.selectOption('#model', model);
    const loaded = await waitForLab(page, (s) => s.model === model && s.origin.kind === 'loaded');
    for (const c of cases.filter((c) => c.kind === 'weights')) {
      await page.setInputFiles('#upload-weights', file(c.file));
      expectFault(await errorAbout(page, c.file), c, /unchanged/);
      assert.deepEqual((await labState(page)).origin, loaded.origin);
    }
    // The page goes on with what it had: MNIST, and the pretrained weights, which measure well.
    await page.click('#evaluate');
    await waitForMetrics(page, 60_000);
    const measured = parseFloat(await page.$eval('#metrics', (t) => t.dataset.mse));
    console.log(`  ${model} after the corpus: test MSE ${measured}`);
    assert.ok(measured < 0.05, `the model was damaged: MSE ${measured}`);
    const { state } = await trainBriefly(page, { model: 'ffnn', size: 200, batch: 20, epochs: 1 });
    assert.equal(state.state, 'done', JSON.stringify(state));
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

/// The lab's IndexedDB entries of kept weights: model name → size of its weights file.
const keptInBrowser = (page) => page.evaluate(() => new Promise((resolve, reject) => {
  const open = indexedDB.open('mnist-ae');
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const db = open.result;
    const all = {};
    const store = db.transaction('weights').objectStore('weights');
    store.openCursor().onsuccess = (e) => {
      const cursor = e.target.result;
      if (!cursor) { db.close(); resolve(all); return; }
      all[cursor.key] = cursor.value?.bytes?.length ?? null;
      cursor.continue();
    };
  };
}));

test('Weights kept across visits: each epoch is kept in IndexedDB, the next visit offers it, a damaged entry is discarded', { timeout: 240_000 }, async () => {
  const { browser, page, errors } = await openLab(CPU_ARGS);
  try {
    await waitForLab(page, (s) => s.data_loaded && s.worker === 'ready' && s.origin.kind === 'loaded');
    assert.equal(await page.isVisible('#kept'), false, 'a first visit has nothing to offer');
    const { state } = await trainBriefly(page, { model: 'ffnn', size: 400, batch: 20, epochs: 2 });
    assert.equal(state.state, 'done', JSON.stringify(state));
    await waitForMetrics(page); // the run's own measurement first
    const trainedMse = await measure(page);
    let stored = {};
    for (const until = Date.now() + 10_000; !stored.ffnn && Date.now() < until;) {
      stored = await keptInBrowser(page); // the last epoch's write may still be under way
    }
    console.log(`  kept after 2 epochs: ${JSON.stringify(stored)}`);
    assert.ok(stored.ffnn > 200_000, JSON.stringify(stored));

    // The next visit offers them; restoring them (from another model) shows ffnn's 2 epochs.
    await page.reload();
    const offered = await waitForLab(page, (s) => s.data_loaded && s.origin.kind === 'loaded'
      && (s.kept.length > 0 || s.status.kind !== 'info'));
    assert.deepEqual(offered.kept.map((k) => [k.kind, k.epochs, k.dataset]), [['ffnn', 2, 'mnist']]);
    const button = page.locator('#kept-list button[data-model=ffnn]');
    assert.match(await button.textContent(), /^Restore ffnn \(2 epochs on MNIST, /);
    await page.selectOption('#model', 'upsample');
    await waitForLab(page, (s) => s.model === 'upsample' && s.origin.kind === 'loaded');
    await button.click();
    const restored = await waitForLab(page, (s) => s.model === 'ffnn' && s.origin.source === 'kept in this browser');
    assert.equal(restored.epochs_trained, 2);
    await page.waitForSelector('#kept', { state: 'hidden' }); // the offer is done with
    assert.equal(await page.$eval('#model', (m) => m.value), 'ffnn');
    assert.equal(await measure(page), trainedMse, 'the restored weights measure as the trained ones did');

    // A flipped byte in ffnn's entry and an entry that is no weights file at all: both are
    // discarded on the next visit, with a message, and nothing is offered.
    await page.evaluate(() => new Promise((resolve, reject) => {
      const open = indexedDB.open('mnist-ae');
      open.onsuccess = () => {
        const tx = open.result.transaction('weights', 'readwrite');
        const store = tx.objectStore('weights');
        store.get('ffnn').onsuccess = (e) => {
          const entry = e.target.result;
          entry.bytes[entry.bytes.length - 100] ^= 0x40;
          store.put(entry, 'ffnn');
          store.put({ saved: Date.now(), bytes: 'not a weights file' }, 'deep');
        };
        tx.oncomplete = () => { open.result.close(); resolve(); };
        tx.onerror = () => reject(tx.error);
      };
    }));
    await page.reload();
    const after = await waitForLab(page, (s) => s.status.kind === 'warning' && /discarded/.test(s.status.text));
    console.log(`  ${after.status.text}`);
    assert.match(after.status.text, /the deep weights kept in this browser are damaged \(it holds no weights file\)/);
    assert.match(after.status.text, /the ffnn weights kept in this browser are damaged \(the weights file is corrupted \(checksum mismatch\)\)/);
    assert.deepEqual(after.kept, []);
    assert.deepEqual(await keptInBrowser(page), {});
    await page.waitForSelector('#kept', { state: 'hidden' });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});


test('Long sessions: a run survives a background tab; Reset mid-epoch, a model switch mid-run and a closed worker are clean', { timeout: 300_000 }, async () => {
  const { browser, page, errors } = await openLab(CPU_ARGS, { route: (page) => page.addInitScript(HOLD_FRAMES) });
  const settings = async (size, epochs) => {
    await page.fill('#train-size', String(size));
    await page.fill('#batch-size', '20');
    await page.fill('#epochs', String(epochs));
  };
  try {
    await waitForLab(page, (s) => s.data_loaded && s.worker === 'ready' && s.origin.kind === 'loaded');
    await page.selectOption('#model', 'ffnn');
    await waitForLab(page, (s) => s.model === 'ffnn' && s.origin.kind === 'loaded');
    // 1. In the background (no animation frames) the worker trains on; nothing is drawn
    //    until the tab is back, and then the run is drawn where it is.
    await settings(8000, 2); // 800 steps: 15–20 s
    await page.click('#start');
    await waitForLab(page, (s) => s.run === 'training' && steps(s) > 3);
    await page.evaluate(() => window.__holdFrames(true));
    await page.waitForTimeout(300); // a frame asked for before the hold still comes
    const drawn = await page.$eval('#progress', (p) => p.dataset.step);
    const before = steps(await labState(page));
    await page.waitForTimeout(3000);
    const during = await labState(page);
    assert.equal(await page.$eval('#progress', (p) => p.dataset.step), drawn, 'drawn without frames');
    assert.ok(steps(during) > before, `the worker trained on in the background: ${before} → ${steps(during)}`);
    console.log(`  background tab: ${steps(during) - before} steps reported in 3 s without a frame`);
    await page.evaluate(() => window.__holdFrames(false));
    const done = await waitForLab(page, (s) => s.run === 'done', 120_000);
    await page.waitForFunction(() => document.querySelector('#progress').dataset.state === 'done');
    assert.equal(done.validation_curve.length, 2);

    // 2. A model chosen during a run (the selector is disabled; a script's change event
    //    stands in for a race) is refused: the run goes on with its model.
    await settings(8000, 3); // 400 steps an epoch: Reset comes well inside the first
    await page.click('#start');
    await waitForLab(page, (s) => s.run === 'training' && steps(s) > 3);
    await page.$eval('#model', (m) => { m.disabled = false; m.value = 'deep'; m.dispatchEvent(new Event('change')); });
    await page.waitForFunction(() => document.querySelector('#model').value === 'ffnn');
    let state = await labState(page);
    assert.deepEqual([state.model, state.run], ['ffnn', 'training']);

    // 3. Reset in the middle of the first epoch: the run stops, and no late report of it
    //    changes anything afterwards (the curves are the pretrained weights' run's again).
    assert.equal((await labState(page)).validation_curve.length, 0, 'still in the first epoch');
    await page.click('#reset');
    await waitForLab(page, (s) => s.run === 'idle' && s.origin.kind === 'loaded');
    await page.waitForTimeout(1500);
    state = await labState(page);
    assert.deepEqual([state.run, steps(state), state.validation_curve.length], ['idle', 0, 20]);
    assert.equal(await page.$eval('#progress', (p) => p.dataset.state), 'idle');

    // 4. The worker closed under a run (as a crash would, with no error event): the run
    //    ends with a message once the worker has been silent for 15 s, and the next run
    //    trains on the page.
    await settings(8000, 2);
    await page.click('#start');
    await waitForLab(page, (s) => s.run === 'training' && steps(s) > 3);
    const worker = page.workers().find((w) => /worker\.js/.test(w.url()));
    assert.ok(worker, `no training worker among ${page.workers().map((w) => w.url())}`);
    await worker.evaluate(() => self.close());
    const broken = await waitForLab(page, (s) => s.worker === 'broken', 30_000);
    console.log(`  worker closed: ${broken.status.text}`);
    assert.equal(broken.run, 'error');
    assert.match(broken.status.text, /the training worker stopped: it said nothing for 15 s/);
    const { state: onPage } = await trainBriefly(page, { model: 'ffnn', size: 200, batch: 20, epochs: 1 });
    assert.equal(onPage.state, 'done', JSON.stringify(onPage));
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('Nothing leaves the origin: a strict CSP holds, and with the network cut the lab trains', { timeout: 240_000 }, async () => {
  const { browser, page, errors } = await openLab(CPU_ARGS);
  try {
    await waitForLab(page, dataLoaded);
    const csp = await page.$eval('meta[http-equiv="Content-Security-Policy"]', (m) => m.content);
    for (const directive of ["default-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", "worker-src 'self'"]) {
      assert.ok(csp.includes(directive), csp);
    }
    assert.ok(!/'unsafe-inline'|'unsafe-eval'/.test(csp), csp);
    // The policy holds: an inline script injected into the page does not run, a fetch to
    // another origin is refused, and each says so.
    const refused = await page.evaluate(async () => {
      const violations = [];
      document.addEventListener('securitypolicyviolation', (e) => violations.push(e.violatedDirective));
      const script = document.createElement('script');
      script.textContent = 'window.__inline = true';
      document.head.append(script);
      const fetched = await fetch('https://example.com/').then(() => true, () => false);
      await new Promise((resolve) => setTimeout(resolve, 200));
      return { inline: window.__inline === true, fetched, violations: violations.sort() };
    });
    assert.deepEqual(refused, { inline: false, fetched: false, violations: ['connect-src', 'script-src-elem'] });
    assert.ok(errors.length > 0 && errors.every((e) => /Content Security Policy|CSP violation|example\.com/.test(e)), JSON.stringify(errors));
    errors.length = 0; // those were this test's own

    // Offline after the load: training, the views and evaluating need nothing more.
    await page.context().setOffline(true);
    const { losses, state } = await trainBriefly(page, { model: 'ffnn', size: 512, batch: 32, epochs: 1 });
    assert.equal(state.state, 'done');
    assert.ok(losses.length >= 1, JSON.stringify(losses));
    // The run ends with its test metrics, measured offline too.
    await waitForStatus(page, 'test metrics measured', 120_000);
    // New data needs the network: a clear message, and MNIST stays loaded.
    await page.selectOption('#dataset', 'fashion-mnist');
    await waitForStatus(page, 'error');
    const message = await page.$eval('#status', (e) => e.textContent);
    console.log(`  offline, Fashion-MNIST asked for: ${message}`);
    assert.match(message, /fashion/i);
    const after = await labState(page);
    assert.deepEqual([after.dataset, after.data_loaded], ['mnist', true]);
    assert.match(message, /MNIST stays loaded/);
    assert.deepEqual(errors.filter((e) => !/ERR_INTERNET_DISCONNECTED|Failed to load resource/.test(e)), []);
  } finally {
    await browser.close();
  }
});

test('Memory: ten epochs in rounds of two, switching model and backend and sending weights out and in, grow memory by under 10 %', { timeout: 300_000 }, async () => {
  const { browser, page, errors } = await openLab(SOAK_ARGS.webgpu);
  try {
    const samples = await soak(page, { epochs: 10, round: 2 });
    const g = growth(samples);
    const base = samples.find((s) => s.epoch === g.from);
    const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MB`;
    console.log(`  memory at epoch ${g.from} (each kind of work done a round before): page wasm ${mb(base.page)}, worker wasm ${mb(base.worker)}, JS heap ${mb(base.heap)}; growth to epoch 10: ${g.page.toFixed(1)} %, ${g.worker.toFixed(1)} %, ${g.heap.toFixed(1)} %`);
    assert.deepEqual(new Set(samples.map((s) => s.backend).filter(Boolean)), new Set(['webgpu', 'cpu']), 'both backends trained');
    assert.ok(samples.some((s) => s.worker > 0), 'the worker reported no memory');
    assert.ok(g.from < 10, `the kinds of work were not all done before the last epoch (${g.from})`);
    for (const what of ['page', 'worker', 'heap']) assert.ok(g[what] < 10, `${what} grew ${g[what].toFixed(1)} %`);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('Offline and installable: after one visit the lab opens and trains with no network; a new build replaces the cache', { timeout: 240_000 }, async () => {
  const { browser, page, errors } = await openLab(CPU_ARGS, { serviceWorkers: 'allow' });
  try {
    await waitForLab(page, dataLoaded);
    // The service worker cached this build: the app, MNIST and the pretrained weights.
    await page.waitForFunction(async () => (await navigator.serviceWorker.ready).active?.state === 'activated', null, { timeout: 120_000 });
    const cache = await page.evaluate(async () => {
      const names = await caches.keys();
      const urls = (await (await caches.open(names[0])).keys()).map((r) => new URL(r.url).pathname);
      return { names, urls };
    });
    const glue = await page.$eval('script[data-glue]', (s) => s.dataset.glue.replace(/^.*\//, '').replace(/\.js$/, ''));
    assert.deepEqual(cache.names, [`lab-${glue}`]);
    for (const file of ['/', '/boot.js', '/worker.js', '/mnist/train-images-idx3-ubyte.gz', '/weights/upsample.bin', '/manifest.webmanifest']) {
      assert.ok(cache.urls.includes(file), `${file} is not cached: ${cache.urls.join(' ')}`);
    }
    assert.ok(cache.urls.some((u) => /_bg\.wasm$/.test(u)), 'the wasm module is not cached');
    // Installable: a web app manifest with a name, a start URL, standalone display and an icon.
    const manifest = await page.evaluate(async () => (await fetch(document.querySelector('link[rel=manifest]').href)).json());
    assert.equal(manifest.display, 'standalone');
    assert.ok(manifest.name && manifest.start_url && manifest.icons.length > 0, JSON.stringify(manifest));

    // No network: the page reloads from the cache, loads MNIST and trains.
    await page.context().setOffline(true);
    await page.reload();
    await waitForLab(page, dataLoaded, 120_000);
    const { losses, state } = await trainBriefly(page, { model: 'ffnn', size: 256, batch: 32, epochs: 1 });
    console.log(`  offline after one visit: ${cache.urls.length} files cached; trained ${losses.length} loss reports, ${state.state}`);
    assert.equal(state.state, 'done');
    await page.context().setOffline(false);

    // A new build (another version of sw.js) installs its own cache and drops this one.
    await page.evaluate(() => navigator.serviceWorker.register('sw.js?v=next-build'));
    await page.waitForFunction(async () => (await caches.keys()).join() === 'lab-next-build', null, { timeout: 120_000 });
    assert.deepEqual(errors.filter((e) => !/ERR_INTERNET_DISCONNECTED|Failed to load resource/.test(e)), []);
  } finally {
    await browser.close();
  }
});
