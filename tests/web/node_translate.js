#!/usr/bin/env node
/* tests/web/node_translate.js SITE_DIR MODEL.efm portable|simd [BEAM] [MAX_LEN_B] < lines
 * The WebAssembly module of the page (scripts/build_wasm.sh) through its JavaScript binding
 * (web/edgeformer_rt.js), in node instead of a browser: one translation per input line on
 * stdout, like edgeformer-run; ms per sentence (wall and process CPU) and the module's memory on
 * stderr (EF_WARM=1: after an untimed first pass). For quick comparisons with the native
 * runtime and docs/device.md; the browser test is test_web.js. */
"use strict";
const fs = require("fs");
const path = require("path");
const [site, modelPath, kind = "simd", beam = "5", maxLenB = "200"] = process.argv.slice(2);
if (!site || !modelPath) {
  console.error("usage: node_translate.js SITE_DIR MODEL.efm portable|simd [BEAM] [MAX_LEN_B] < lines");
  process.exit(2);
}
const name = kind === "portable" ? "edgeformer" : "edgeformer-simd";
const factory = require(path.resolve(site, name + ".js"));
const { EdgeformerRT } = require(path.resolve(site, "edgeformer_rt.js"));

(async () => {
  const rt = await EdgeformerRT.create(factory, { wasmBinary: fs.readFileSync(path.join(site, name + ".wasm")) });
  let model;
  try {
    model = rt.load(fs.readFileSync(modelPath), path.basename(modelPath));
  } catch (e) {
    console.log("error: " + e.message);
    process.exit(1);
  }
  const lines = fs.readFileSync(0, "utf8").split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const opts = { beam: Number(beam), maxLenB: Number(maxLenB) };
  /* EF_WARM=1: translate everything once first, so that the timed pass runs optimised code
   * (V8 compiles WebAssembly quickly first and optimises it in the background) */
  if (process.env.EF_WARM) for (const l of lines) model.translate(l.replace(/\r$/, ""), opts);
  let total = 0;
  const out = [];
  const c0 = process.cpuUsage();
  for (const l of lines) {
    const t0 = performance.now();
    out.push(model.translate(l.replace(/\r$/, ""), opts));
    total += performance.now() - t0;
  }
  const c = process.cpuUsage(c0);
  process.stdout.write(out.map((s) => s + "\n").join(""));
  const n = Math.max(1, lines.length);
  console.error(`${rt.isa()}: ${lines.length} lines, ${(total / n).toFixed(2)} ms per sentence ` +
    `(cpu ${((c.user + c.system) / 1000 / n).toFixed(2)} ms), memory ${rt.memoryBytes()} bytes`);
  model.free();
})();
