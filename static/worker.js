// The lab's training worker: the page's own wasm module, started on another thread.
// The page sends the wasm-bindgen glue's URL and the compiled module; Rust takes over from there
// (src/web/worker.rs).
self.onmessage = async ({ data }) => {
  self.onmessage = null;
  const bindings = await import(data.glue);
  await bindings.default({ module_or_path: data.module });
  bindings.trainingWorker();
};
