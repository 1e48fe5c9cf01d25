#!/usr/bin/env node
/* tests/web/measure_native.js EDGEFORMER_RUN MODEL.efm LINES.txt [edgeformer-run options...]
 * Per-sentence latency of the native runtime measured the way the page measures the browser's:
 * one line written to edgeformer-run's stdin, the time until its translation comes back
 * (edgeformer-run flushes after each line); loading is not counted. Prints the mean and the
 * median in ms. Used for docs/device.md, "In the browser"; not run by the tests. */
"use strict";
const { spawn } = require("child_process");
const fs = require("fs");
const [run, model, linesPath, ...opts] = process.argv.slice(2);
const lines = fs.readFileSync(linesPath, "utf8").split("\n").filter((l) => l.length);
const p = spawn(run, [model, ...opts], { stdio: ["pipe", "pipe", "inherit"] });
let buf = "";
let i = 0;
let t0 = 0;
const ms = [];
function next() {
  if (i === lines.length) {
    p.stdin.end();
    return;
  }
  t0 = process.hrtime.bigint();
  p.stdin.write(lines[i++] + "\n");
}
p.stdout.on("data", (d) => {
  buf += d;
  while (buf.includes("\n")) {
    buf = buf.slice(buf.indexOf("\n") + 1);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    next();
  }
});
p.on("close", () => {
  const s = [...ms].sort((a, b) => a - b);
  const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
  console.log(`native: ${ms.length} lines, ${mean.toFixed(1)} ms per sentence (median ${s[Math.floor(s.length / 2)].toFixed(1)})`);
});
setTimeout(next, 300); /* let it load first */
