// Starts the lab: imports the wasm-bindgen glue and instantiates the module whose hashed names
// trunk wrote on this script's tag (Trunk.toml's pattern_script). A file, not trunk's inline
// loader, so that the page's Content-Security-Policy (index.html) needs no 'unsafe-inline'.
const tag = document.querySelector('script[data-glue]');
const bindings = await import(tag.dataset.glue);
const wasm = await bindings.default({ module_or_path: tag.dataset.wasm });
window.wasmBindings = bindings;
dispatchEvent(new CustomEvent('TrunkApplicationStarted', { detail: { wasm } }));

// Offline use (static/sw.js), versioned by this build's glue file name, which holds its hash.
if ('serviceWorker' in navigator) {
  const version = tag.dataset.glue.replace(/^.*\//, '').replace(/\.js$/, '');
  navigator.serviceWorker.register(`sw.js?v=${encodeURIComponent(version)}`)
    .catch((error) => console.warn(`offline use is off: ${error}`));
}
