#!/usr/bin/env node
/* tests/web/test_web.js CONFIG.json: the translation page (web/) in a real browser. Serves the
 * site that scripts/build_wasm.sh built on 127.0.0.1, drives Debian's Chromium (headless, a
 * fresh profile, no network besides localhost) with playwright-core, and for each case loads a
 * .efm through the file picker, translates the lines by typing them and pressing Translate, and
 * compares every output with the expected lines (edgeformer-run's, written by test_web.sh).
 * Bad files are dropped on the page (drag and drop) and must show exactly the loader's one-line
 * message. Prints one line per case with the latency per sentence and memory; exits 1 on any
 * difference.
 *
 * CONFIG: {site, chromium, profile, lines: [...], screenshot?: PATH, results?: PATH, warmup?: bool,
 *          cases: [{label, model, kernels: "portable"|"simd", beam, maxLenB, expected: [...]}],
 *          bad: [{file, expected | expectedPrefix}]}
 */
"use strict";
const fs = require("fs");
const http = require("http");
const path = require("path");
const { chromium } = require("playwright-core");

const cfg = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".wasm": "application/wasm" };

function serve(root) {
  const server = http.createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const f = path.join(root, path.normalize(p === "/" ? "/index.html" : p));
    if (!f.startsWith(root) || !fs.existsSync(f) || !fs.statSync(f).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "Content-Type": TYPES[path.extname(f)] || "application/octet-stream", "Cache-Control": "no-store" });
    fs.createReadStream(f).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

/* resident memory of the browser and every process below it, in bytes (Linux /proc) */
function treeRss(pid) {
  const kids = new Map();
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(st.slice(st.lastIndexOf(")") + 2).split(" ")[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(d));
    } catch (e) {}
  }
  let total = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop();
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${p}/status`, "utf8"));
      if (m) total += Number(m[1]) * 1024;
    } catch (e) {}
    for (const k of kids.get(p) || []) stack.push(k);
  }
  return total;
}

/* the browser process is the one started with our profile directory */
function browserRss(profile) {
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0");
      if (cmd.includes(`--user-data-dir=${profile}`) && !cmd.some((a) => a.startsWith("--type="))) return treeRss(Number(d));
    } catch (e) {}
  }
  return 0;
}

/* CPU time (ms) of the browser and every process below it (the page and its worker run in a
 * renderer; the others idle meanwhile): on a busy machine the CPU time of a pass says what an
 * idle core would take, its wall time does not */
function browserCpuMs(profile) {
  const kids = new Map();
  let browser = 0;
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
      if (!kids.has(Number(f[1]))) kids.set(Number(f[1]), []);
      kids.get(Number(f[1])).push([Number(d), Number(f[11]) + Number(f[12])]);
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0");
      if (cmd.includes(`--user-data-dir=${profile}`) && !cmd.some((a) => a.startsWith("--type="))) browser = Number(d);
    } catch (e) {}
  }
  let ticks = 0;
  const stack = [browser];
  while (stack.length) {
    const p = stack.pop();
    for (const [k, t] of kids.get(p) || []) {
      ticks += t;
      stack.push(k);
    }
  }
  try {
    const st = fs.readFileSync(`/proc/${browser}/stat`, "utf8");
    const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
    ticks += Number(f[11]) + Number(f[12]);
  } catch (e) {}
  return ticks * 10; /* USER_HZ = 100 */
}

(async () => {
  const root = path.resolve(cfg.site);
  const server = await serve(root);
  const base = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launchPersistentContext(cfg.profile, {
    executablePath: cfg.chromium,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const results = { cases: [], bad: [] };
  let fails = 0;
  const fail = (msg) => {
    fails++;
    console.log("FAIL: " + msg);
  };
  const requests = new Set();
  browser.on("request", (r) => requests.add(new URL(r.url()).origin));
  try {
    const page = browser.pages()[0] || (await browser.newPage());
    page.on("pageerror", (e) => fail("page error: " + e.message));
    for (const c of cfg.cases) {
      await page.goto(`${base}/index.html?kernels=${c.kernels}`);
      await page.waitForFunction(() => window.edgeformer && window.edgeformer.isa !== "");
      const isa = await page.evaluate(() => window.edgeformer.isa);
      const want = c.kernels === "portable" ? "portable" : "simd128";
      if (isa !== want) fail(`${c.label}: the worker runs ${isa} kernels, wanted ${want}`);
      const t0 = Date.now();
      await page.setInputFiles("#file", c.model);
      await page.waitForSelector("body[data-state=loaded], body[data-state=load-error]");
      if ((await page.getAttribute("body", "data-state")) !== "loaded") {
        fail(`${c.label}: ${c.model} did not load: ${await page.textContent("#error")}`);
        continue;
      }
      const loadMs = Date.now() - t0;
      await page.fill("#beam", String(c.beam));
      await page.fill("#maxlen", String(c.maxLenB));
      /* the lines but the last are pasted (fill), the last one is typed key by key */
      const last = cfg.lines[cfg.lines.length - 1];
      await page.fill("#input", cfg.lines.slice(0, -1).map((l) => l + "\n").join(""));
      await page.focus("#input");
      await page.keyboard.press("End");
      await page.keyboard.press("Control+End");
      await page.type("#input", last, { delay: 0, timeout: 120000 });
      /* warmup (for measurements): translate everything once untimed, so that the timed pass
       * runs V8's optimised code */
      let cpu0 = 0;
      for (let pass = cfg.warmup ? 0 : 1; pass < 2; pass++) {
        if (pass === 1) cpu0 = browserCpuMs(cfg.profile);
        await page.click("#go");
        await page.waitForSelector("body[data-state=done]", { timeout: 1200000 });
        if (pass === 0) await page.evaluate(() => (document.body.dataset.state = "loaded"));
      }
      const cpuMs = browserCpuMs(cfg.profile) - cpu0;
      const r = await page.evaluate(() => ({ results: window.edgeformer.results, memory: window.edgeformer.memory }));
      const got = r.results.map((x) => (x.error !== undefined ? "ERROR: " + x.error : x.text));
      let same = got.length === c.expected.length;
      for (let i = 0; i < got.length; i++) {
        if (got[i] !== c.expected[i]) {
          same = false;
          fail(`${c.label} line ${i + 1}: browser "${got[i]}" != edgeformer-run "${c.expected[i]}"`);
        }
      }
      if (got.length !== c.expected.length) fail(`${c.label}: ${got.length} outputs for ${c.expected.length} lines`);
      const ms = r.results.map((x) => x.ms || 0);
      const sorted = [...ms].sort((a, b) => a - b);
      const heap = await page.evaluate(() => (performance.memory ? performance.memory.usedJSHeapSize : 0));
      const entry = {
        label: c.label, kernels: isa, lines: got.length, identical: same, loadMs,
        msPerSentence: ms.reduce((a, b) => a + b, 0) / Math.max(1, ms.length),
        msMedian: sorted[Math.floor(sorted.length / 2)], cpuMsPerSentence: cpuMs / Math.max(1, got.length),
        wasmMemory: r.memory, pageJsHeap: heap,
        browserRss: browserRss(cfg.profile),
      };
      results.cases.push(entry);
      console.log(`${same ? "ok  " : "FAIL"} ${c.label} [${isa}]: ${got.length} lines ${same ? "identical to" : "differ from"} edgeformer-run; ` +
        `${entry.msPerSentence.toFixed(1)} ms per sentence (median ${entry.msMedian.toFixed(1)}; ` +
        `browser CPU ${entry.cpuMsPerSentence.toFixed(1)}), ` +
        `wasm memory ${(r.memory / 1048576).toFixed(1)} MiB, page JS heap ${(heap / 1048576).toFixed(1)} MiB, ` +
        `browser processes ${(entry.browserRss / 1048576).toFixed(0)} MiB resident`);
      if (cfg.screenshot && c === cfg.cases[0]) await page.screenshot({ path: cfg.screenshot, fullPage: true });
    }
    for (const b of cfg.bad) {
      await page.goto(`${base}/index.html`);
      await page.waitForFunction(() => window.edgeformer && window.edgeformer.isa !== "");
      const bytes = [...fs.readFileSync(b.file)];
      const name = path.basename(b.file);
      await page.evaluate(([bytes, name]) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(bytes)], name));
        document.getElementById("drop").dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
      }, [bytes, name]);
      await page.waitForSelector("body[data-state=loaded], body[data-state=load-error]");
      const state = await page.getAttribute("body", "data-state");
      const msg = (await page.textContent("#error")).trim();
      const visible = await page.isVisible("#error");
      /* expectedPrefix: for a file too short to hold a header the two loaders word the rest of
       * the line differently (file: its size limits; memory: the header size) */
      const same = b.expected !== undefined ? msg === b.expected : msg.startsWith(b.expectedPrefix) && !msg.includes("\n");
      const ok = state === "load-error" && visible && same;
      if (!ok) fail(`bad file ${name}: page shows "${msg}" (state ${state}), edgeformer-run says "${b.expected || b.expectedPrefix + "..."}"`);
      else console.log(`ok   bad file ${name}: the page shows the loader's line "${msg}"`);
      results.bad.push({ file: name, shown: msg, ok });
      if (cfg.screenshotError && b === cfg.bad[0]) await page.screenshot({ path: cfg.screenshotError });
    }
  } catch (e) {
    fail(e.stack || String(e));
  } finally {
    await browser.close();
    server.close();
  }
  const foreign = [...requests].filter((o) => o !== base);
  if (foreign.length) fail("the page requested other origins: " + foreign.join(" "));
  if (cfg.results) fs.writeFileSync(cfg.results, JSON.stringify(results, null, 1));
  console.log(`test_web: ${fails} failures`);
  process.exit(fails ? 1 : 0);
})();
