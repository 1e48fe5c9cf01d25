/* web/worker.js: runs the model off the page's thread. Loads the SIMD128 module when this
 * browser validates SIMD code (and the page did not ask for ?kernels=portable), else the
 * portable one; both compute the same bits (docs/device.md, "In the browser").
 *
 * Messages in:  {type: "load", bytes: ArrayBuffer, name}
 *               {type: "translate", id, text, opts}   (opts as EdgeformerModel.translate)
 * Messages out: {type: "ready", isa, memory}
 *               {type: "loaded", name, info, memory, ms}  or  {type: "error", id, message}
 *               {type: "result", id, text, ms, memory}
 * memory is the module's linear memory in bytes; ms the wall time of the call.
 */
"use strict";

/* the smallest module with a SIMD instruction (i8x16.splat; v128 result): validates only where
 * WebAssembly SIMD128 is supported */
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253,
  15, 253, 98, 11,
]);

const params = new URLSearchParams(self.location.search);
const wantPortable = params.get("kernels") === "portable";
const simd = !wantPortable && WebAssembly.validate(SIMD_PROBE);
importScripts("edgeformer_rt.js", simd ? "edgeformer-simd.js" : "edgeformer.js");

let rt = null;
let model = null;
const ready = EdgeformerRT.create(EdgeformerModule).then((r) => {
  rt = r;
  postMessage({ type: "ready", isa: rt.isa(), simdSupported: WebAssembly.validate(SIMD_PROBE), memory: rt.memoryBytes() });
});

onmessage = async (e) => {
  await ready;
  const m = e.data;
  if (m.type === "load") {
    if (model) model.free();
    model = null;
    const t0 = performance.now();
    try {
      model = rt.load(new Uint8Array(m.bytes), m.name);
      postMessage({ type: "loaded", name: m.name, info: model.info(), memory: rt.memoryBytes(), ms: performance.now() - t0 });
    } catch (err) {
      postMessage({ type: "error", id: null, message: err.message });
    }
  } else if (m.type === "translate") {
    if (!model) {
      postMessage({ type: "error", id: m.id, message: "no model loaded" });
      return;
    }
    const t0 = performance.now();
    try {
      const text = model.translate(m.text, m.opts || {});
      postMessage({ type: "result", id: m.id, text, ms: performance.now() - t0, memory: rt.memoryBytes() });
    } catch (err) {
      postMessage({ type: "error", id: m.id, message: err.message });
    }
  }
};
