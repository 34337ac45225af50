// Where the page's start-up blocks its main thread: loads a build of the page in Debian's
// Chromium (the e2e flags) under a Chromium trace with V8's sampling profiler, and lists each
// main-thread task over 50 ms with the functions its samples fell in (self time).
//
//   node tests/bench/startup-trace.mjs [--dist dist] [--backend webgpu|cpu] [--seconds 20]
//                                      [--trace /tmp/startup-trace.json]
//
// wasm-opt drops the module's function names: for named wasm frames, trace a build made
// without it (docs/NOTES.md, "Profiling recipes").
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { values: options } = parseArgs({
  options: {
    dist: { type: 'string', default: path.resolve(HERE, '../../dist') },
    backend: { type: 'string', default: 'webgpu' },
    seconds: { type: 'string', default: '20' },
    trace: { type: 'string', default: '/tmp/startup-trace.json' },
  },
});
const DIST = path.resolve(options.dist);
const LONG_TASK_US = 50_000;
// The e2e tests' flags (tests/e2e/harness.mjs): WebGPU on SwiftShader, or none.
const ARGS = {
  webgpu: ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader',
    '--use-angle=swiftshader', '--disable-quic'],
  cpu: ['--use-angle=swiftshader', '--disable-quic'],
}[options.backend];
if (!ARGS) throw new Error(`--backend is webgpu or cpu, not ${options.backend}`);

const server = await serve({ '/': DIST });
const url = `http://127.0.0.1:${server.address().port}/`;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ARGS });
try {
  // No service worker: its first-visit caching would add to what is measured.
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, serviceWorkers: 'block' });
  await browser.startTracing(page, { path: options.trace,
    categories: ['toplevel', 'devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8', 'v8.wasm',
      'disabled-by-default-v8.cpu_profiler'] });
  await page.goto(url);
  await page.waitForTimeout(Number(options.seconds) * 1000);
  await browser.stopTracing();
} finally {
  await browser.close();
  server.close();
}

const { traceEvents } = JSON.parse(fs.readFileSync(options.trace, 'utf8'));
// The main thread of the renderer that loaded the page (the trace has Chromium's other renderers too).
const main = traceEvents.filter((e) => e.name === 'thread_name' && e.args.name === 'CrRendererMain')
  .find((thread) => traceEvents.some((e) => e.pid === thread.pid && e.tid === thread.tid &&
    e.name === 'ParseHTML' && e.args.beginData?.url?.startsWith(url)));
const onMain = traceEvents.filter((e) => e.pid === main.pid && e.tid === main.tid && e.ph === 'X');
const start = Math.min(...onMain.map((e) => e.ts));
// The main thread's profile: its samples arrive in chunks recorded on the profiler's thread.
const profile = traceEvents.find((e) => e.name === 'Profile' && e.pid === main.pid && e.tid === main.tid);
const nodes = new Map();
const samples = [];
let time = profile?.args.data.startTime ?? 0;
for (const chunk of traceEvents.filter((e) => e.name === 'ProfileChunk' && e.id === profile?.id)) {
  const { cpuProfile, timeDeltas = [] } = chunk.args.data;
  for (const node of cpuProfile?.nodes ?? []) nodes.set(node.id, node);
  (cpuProfile?.samples ?? []).forEach((id, i) => samples.push({ id, ts: (time += timeDeltas[i]) }));
}
console.log(`main-thread tasks over ${LONG_TASK_US / 1000} ms in the first ${options.seconds} s (${options.backend}, ${DIST}):`);
for (const task of onMain.filter((e) => e.name === 'RunTask' && e.dur > LONG_TASK_US)) {
  const names = samples.filter(({ ts }) => ts >= task.ts && ts <= task.ts + task.dur)
    .map(({ id }) => nodes.get(id)?.callFrame.functionName || '(anonymous)');
  console.log(`\n${((task.ts - start) / 1000).toFixed(0)} ms after navigation: ${(task.dur / 1000).toFixed(0)} ms`);
  console.log(`  by crate: ${top(names.map(crateOf), 6).join(', ')}`);
  for (const line of top(names, 6)) console.log(`  ${line}`);
}

/** The `n` most frequent of `names`, as "share name". */
function top(names, n) {
  const counts = new Map();
  for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, n)
    .map(([name, count]) => `${Math.round((100 * count) / names.length)} % ${name.slice(0, 140)}`);
}

/** The crate of a Rust symbol (`<burn_fusion::x as y>::f` → burn_fusion), else the name itself. */
function crateOf(name) {
  const path = name.replace(/^<+/, '').match(/^([A-Za-z_][A-Za-z0-9_]*)(\[[0-9a-f]+\])?::/);
  return path ? path[1] : name;
}
