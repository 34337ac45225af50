// How well each pretrained weights file rebuilds sketched digits: draws the same 50 digits
// (ten stroke templates, each five times with its own slant, rotation, size, aspect, place
// and a hand's wobble) with the mouse on the lab's sketch pad, in Debian's Chromium on the
// CPU path, and measures the pad's reconstruction against the pad's 28×28 input.
//
//   node tests/bench/sketches.mjs [--dist dist] [--model ffnn] [--per-digit 5] [--seed 1]
//
// Each of the model's pretrained choices in `#pretrained` (the reference weights and the
// catalog's variants, e.g. the augmented ffnn) gets the same drawings. Prints mean MSE and
// PSNR per choice and per digit.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { values: options } = parseArgs({
  options: {
    dist: { type: 'string', default: path.resolve(HERE, '../../dist') },
    model: { type: 'string', default: 'ffnn' },
    'per-digit': { type: 'string', default: '5' },
    seed: { type: 'string', default: '1' },
  },
});

/** Points along an elliptic arc, angles in degrees (0 = right, 90 = down). */
function arc(cx, cy, rx, ry, from, to, n = 14) {
  return Array.from({ length: n + 1 }, (_, i) => {
    const a = ((from + ((to - from) * i) / n) * Math.PI) / 180;
    return [cx + rx * Math.cos(a), cy + ry * Math.sin(a)];
  });
}

/** Each digit as strokes (polylines) in a unit box, drawn as a person would. */
const DIGITS = [
  [arc(0.5, 0.5, 0.3, 0.42, -90, 275, 24)],
  [[[0.38, 0.22], [0.55, 0.1], [0.55, 0.5], [0.55, 0.9]]],
  [[...arc(0.5, 0.32, 0.28, 0.22, 200, 380), [0.55, 0.6], [0.22, 0.9], [0.8, 0.9]]],
  [[...arc(0.48, 0.3, 0.27, 0.2, 200, 450), ...arc(0.48, 0.7, 0.3, 0.2, 270, 520)]],
  [[[0.55, 0.1], [0.2, 0.62], [0.82, 0.62]], [[0.62, 0.35], [0.62, 0.92]]],
  [[[0.78, 0.12], [0.3, 0.12], [0.27, 0.45], ...arc(0.48, 0.66, 0.3, 0.24, 230, 500)]],
  [[[0.7, 0.12], [0.45, 0.3], [0.28, 0.58], ...arc(0.5, 0.7, 0.23, 0.2, 180, 540)]],
  [[[0.2, 0.14], [0.8, 0.14], [0.6, 0.5], [0.42, 0.9]]],
  [[...arc(0.5, 0.29, 0.22, 0.19, 90, 450), ...arc(0.5, 0.69, 0.27, 0.21, -90, 270)]],
  [[...arc(0.48, 0.32, 0.24, 0.21, 0, 360), [0.7, 0.6], [0.66, 0.92]]],
];

/** mulberry32: a small seeded generator, so every run draws the same hands. */
function generator(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One drawing of `digit`: its strokes slanted, rotated, sized and placed in the unit pad. */
function drawing(digit, random) {
  const between = (lo, hi) => lo + (hi - lo) * random();
  const slant = between(-0.3, 0.3);
  const turn = (between(-15, 15) * Math.PI) / 180;
  const size = between(0.45, 0.85);
  const aspect = between(0.75, 1.25);
  const [cx, cy] = [between(size / 2, 1 - size / 2), between(size / 2, 1 - size / 2)];
  return DIGITS[digit].map((stroke) => stroke.map(([x, y]) => {
    const u = (x - 0.5 + slant * (0.5 - y)) * aspect + between(-0.012, 0.012);
    const v = y - 0.5 + between(-0.012, 0.012);
    const [ru, rv] = [u * Math.cos(turn) - v * Math.sin(turn), u * Math.sin(turn) + v * Math.cos(turn)];
    return [Math.min(0.98, Math.max(0.02, cx + ru * size)), Math.min(0.98, Math.max(0.02, cy + rv * size))];
  }));
}

/** 28×28 grey values of a canvas drawn at 4× (as the e2e tests read it). */
const canvasDigit = (page, id) => page.$eval(id, (c) => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const scale = c.width / 28;
  const out = [];
  for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) out.push(d[((y * scale + 1) * c.width + x * scale + 1) * 4] / 255);
  return out;
});
const mse = (a, b) => a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0) / a.length;
const psnr = (e) => 10 * Math.log10(1 / e);
const labState = (page) => page.evaluate(() => window.wasmBindings.labState()).catch(() => null);
async function waitForLab(page, predicate, timeout = 60_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const state = await labState(page);
    if (state && predicate(state)) return state;
    if (Date.now() > deadline) throw new Error(`timed out waiting; state: ${JSON.stringify(state)}`);
    await page.waitForTimeout(100);
  }
}

/** Draws `strokes` on the pad and returns the pad's input and its settled reconstruction. */
async function sketch(page, strokes) {
  await page.click('#clear-sketch');
  const box = await page.locator('#sketch').boundingBox();
  const at = ([fx, fy]) => [box.x + fx * box.width, box.y + fy * box.height];
  for (const stroke of strokes) {
    await page.mouse.move(...at(stroke[0]));
    await page.mouse.down();
    for (const point of stroke.slice(1)) await page.mouse.move(...at(point), { steps: 3 });
    await page.mouse.up();
  }
  let recon = await canvasDigit(page, '#sketch-recon');
  for (let settled = 0; settled < 3;) {
    await page.waitForTimeout(100);
    const next = await canvasDigit(page, '#sketch-recon');
    settled = mse(next, recon) === 0 ? settled + 1 : 0;
    recon = next;
  }
  return { input: await canvasDigit(page, '#sketch-input'), recon };
}

const perDigit = Number(options['per-digit']);
const random = generator(Number(options.seed));
const drawings = DIGITS.flatMap((_, digit) => Array.from({ length: perDigit }, () => ({ digit, strokes: drawing(digit, random) })));

const server = await serve({ '/': path.resolve(options.dist) });
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
  args: ['--use-angle=swiftshader', '--disable-quic'] });
try {
  // No service worker: its first-visit caching would add to what is measured.
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, serviceWorkers: 'block' });
  page.on('pageerror', (e) => { throw e; });
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await waitForLab(page, (s) => s.data_loaded && s.origin.kind === 'loaded');
  await page.selectOption('#model', options.model);
  await waitForLab(page, (s) => s.model === options.model && s.origin.kind === 'loaded');
  const choices = await page.$$eval('#pretrained option', (os) => os.map((o) => [o.value, o.textContent]));
  console.log(`${drawings.length} sketched digits (${perDigit} of each, seed ${options.seed}), model ${options.model}:`);
  for (const [value, name] of choices) {
    await page.selectOption('#pretrained', value);
    await page.click('#load-pretrained');
    await page.waitForTimeout(300);
    // The reference weights come from the dataset's weights folder, the variants from weights/variants/.
    await waitForLab(page, (s) => s.origin.kind === 'loaded' && (value === '') !== /variants/.test(s.origin.source ?? ''));
    const errors = [];
    for (const { digit, strokes } of drawings) {
      const { input, recon } = await sketch(page, strokes);
      errors.push({ digit, mse: mse(recon, input) });
    }
    const mean = (list) => list.reduce((s, e) => s + e.mse, 0) / list.length;
    const perClass = DIGITS.map((_, d) => mean(errors.filter((e) => e.digit === d)).toFixed(4));
    console.log(`  ${name.padEnd(40)} MSE ${mean(errors).toFixed(5)}  PSNR of the mean ${psnr(mean(errors)).toFixed(2)} dB` +
      `  per digit 0–9: ${perClass.join(' ')}`);
  }
} finally {
  await browser.close();
  server.close();
}
