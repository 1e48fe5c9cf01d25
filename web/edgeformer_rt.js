/* web/edgeformer_rt.js: the C API of runtime/edgeformer_rt.h for JavaScript, over the module
 * that scripts/build_wasm.sh builds (edgeformer.js / edgeformer-simd.js). Hand-written and
 * small: one class, one method per C function, the same statuses and messages.
 *
 *   const rt = await EdgeformerRT.create(EdgeformerModule);   // the emscripten factory
 *   const model = rt.load(bytes, "model.efm");  // Uint8Array; throws Error(one-line message)
 *   model.translate("In the beginning ...", {beam: 5});       // -> string, or throws
 *   model.info();  // {vocabSize, encoderLayers, decoderLayers, embedDim, maxSourceTokens, int8, fileBytes}
 *   model.free();
 *
 * Memory: the model bytes are copied once into the module's heap, 64-byte aligned, so
 * ef_rt_load_memory uses them in place; model.free() releases them. Works in a Web Worker, a
 * page or node (nothing here touches the DOM). ef_rt_options and ef_rt_info are read and
 * written at the offsets that web/edgeformer_wasm.c checks at compile time.
 */
"use strict";

class EdgeformerError extends Error {
  constructor(status, statusText, message) {
    super(message);
    this.name = "EdgeformerError";
    this.status = status; /* ef_rt_status */
    this.statusText = statusText; /* ef_rt_strerror(status) */
  }
}

class EdgeformerModel {
  constructor(rt, ptr, buf, name) {
    this.rt = rt;
    this.ptr = ptr;
    this.buf = buf;
    this.name = name;
  }

  /* opts: beam, lenpen, maxLenA, maxLenB, noRepeatNgramSize (defaults: ef_rt_options_default) */
  translate(text, opts = {}) {
    if (!this.ptr) throw new Error("the model was freed");
    const M = this.rt.M;
    const o = M._malloc(32);
    const textLen = M.lengthBytesUTF8(text) + 1;
    const t = M._malloc(textLen);
    const outp = M._malloc(4);
    const err = M._malloc(512);
    try {
      M._ef_rt_options_default(o);
      if (opts.beam !== undefined) M.HEAP32[(o + 0) >> 2] = opts.beam;
      if (opts.lenpen !== undefined) M.HEAPF32[(o + 4) >> 2] = opts.lenpen;
      if (opts.maxLenA !== undefined) M.HEAPF64[(o + 8) >> 3] = opts.maxLenA;
      if (opts.maxLenB !== undefined) M.HEAP32[(o + 16) >> 2] = opts.maxLenB;
      if (opts.noRepeatNgramSize !== undefined) M.HEAP32[(o + 24) >> 2] = opts.noRepeatNgramSize;
      M.stringToUTF8(text, t, textLen);
      M.HEAP8[err] = 0;
      const s = M._ef_rt_translate(this.ptr, t, o, outp, err, 512);
      if (s !== 0) throw this.rt.error(s, err);
      const out = M.HEAP32[outp >> 2];
      const r = M.UTF8ToString(out);
      M._free(out);
      return r;
    } finally {
      M._free(o);
      M._free(t);
      M._free(outp);
      M._free(err);
    }
  }

  info() {
    const M = this.rt.M;
    const p = M._malloc(32);
    try {
      M._ef_rt_model_info(this.ptr, p);
      const i = (off) => M.HEAP32[(p + off) >> 2];
      return {
        vocabSize: i(0),
        encoderLayers: i(4),
        decoderLayers: i(8),
        embedDim: i(12),
        maxSourceTokens: i(16),
        int8: i(20) !== 0,
        fileBytes: M.HEAPU32[(p + 24) >> 2] + M.HEAPU32[(p + 28) >> 2] * 4294967296,
      };
    } finally {
      M._free(p);
    }
  }

  free() {
    if (!this.ptr) return;
    this.rt.M._ef_rt_free(this.ptr);
    this.rt.M._free(this.buf);
    this.ptr = this.buf = 0;
  }
}

class EdgeformerRT {
  constructor(M) {
    this.M = M;
  }

  /* factory: the emscripten module factory (EdgeformerModule); moduleArgs are passed to it
   * (e.g. {wasmBinary} in node) */
  static async create(factory, moduleArgs = {}) {
    return new EdgeformerRT(await factory(moduleArgs));
  }

  /* the linear-layer path of this module: "simd128" or "portable" */
  isa() {
    return this.M.UTF8ToString(this.M._ef_wasm_isa());
  }

  /* the size of the module's memory in bytes (it only grows) */
  memoryBytes() {
    return this.M.HEAPU8.length;
  }

  error(status, errPtr) {
    const M = this.M;
    const msg = M.UTF8ToString(errPtr) || M.UTF8ToString(M._ef_rt_strerror(status));
    return new EdgeformerError(status, M.UTF8ToString(M._ef_rt_strerror(status)), msg);
  }

  /* bytes: Uint8Array or ArrayBuffer with the .efm file; name is used in messages */
  load(bytes, name = "model.efm") {
    const M = this.M;
    const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    const buf = M._ef_wasm_alloc64(b.length);
    if (!buf) throw new EdgeformerError(3, "out of memory", `${name}: out of memory (${b.length} bytes)`);
    M.HEAPU8.set(b, buf);
    const nameLen = M.lengthBytesUTF8(name) + 1;
    const np = M._malloc(nameLen);
    const outp = M._malloc(4);
    const err = M._malloc(512);
    try {
      M.stringToUTF8(name, np, nameLen);
      M.HEAP8[err] = 0;
      const s = M._ef_rt_load_memory(buf, b.length, np, outp, err, 512);
      if (s !== 0) {
        M._free(buf);
        throw this.error(s, err);
      }
      return new EdgeformerModel(this, M.HEAP32[outp >> 2], buf, name);
    } finally {
      M._free(np);
      M._free(outp);
      M._free(err);
    }
  }
}

if (typeof module !== "undefined" && module.exports) module.exports = { EdgeformerRT, EdgeformerError };
