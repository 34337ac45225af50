// The lab's service worker: after the first visit the lab opens and trains with no network.
// On install it caches the app (the page, its script, the wasm module, the style, the training
// worker), the site's first dataset (MNIST) and the pretrained weights; anything else the page
// fetches later (another dataset, a variant's weights) is cached as it arrives. The page asks
// the network first and falls back to the cache, so a new deploy is seen at once online; the
// rest comes from the cache first. Its version is the build's hash (boot.js registers
// sw.js?v=<the wasm glue's hashed name>): a new build installs a new cache and drops the old.
const VERSION = new URL(self.location).searchParams.get('v') ?? 'unversioned';
const CACHE = `lab-${VERSION}`;

/** The files of this build: the page's own, those index.html names, the first dataset's, the weights. */
async function appFiles() {
  const page = await (await fetch('./', { cache: 'no-cache' })).text();
  const named = [...page.matchAll(/(?:src|href|data-glue|data-wasm)="([^"]+)"/g)].map((m) => m[1])
    .filter((url) => !/^(https?:|data:|#)/.test(url));
  const catalog = await (await fetch('datasets.json', { cache: 'no-cache' })).json();
  const data = catalog.datasets[0];
  const weights = await (await fetch(`${data.weights_dir}/manifest.json`, { cache: 'no-cache' })).json();
  const files = ['./', 'boot.js', 'worker.js', 'datasets.json', ...named,
    ...Object.values(data.files).map((file) => `${data.dir}/${file}`),
    `${data.weights_dir}/manifest.json`, ...weights.models.map((m) => `${data.weights_dir}/${m.file}`)];
  // Once each: index.html names boot.js as "/boot.js", this list as "boot.js".
  return [...new Set(files.map((file) => new URL(file, self.location).href))];
}

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(await appFiles());
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('lab-') && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    if (request.mode === 'navigate') {
      try {
        const fresh = await fetch(request);
        if (fresh.ok) await cache.put('./', fresh.clone());
        return fresh;
      } catch {
        return (await cache.match('./')) ?? Response.error();
      }
    }
    const cached = await cache.match(request);
    if (cached) return cached;
    const fresh = await fetch(request);
    if (fresh.ok) await cache.put(request, fresh.clone());
    return fresh;
  })());
});
