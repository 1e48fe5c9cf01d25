/* web/app.js: the page. Reads the chosen .efm (file picker or drag and drop) into memory and
 * hands it to the worker (worker.js), which runs the model; sends the typed lines one at a
 * time and shows each translation with its latency. Nothing is uploaded anywhere: the only
 * network requests are for the page's own files. */
"use strict";

const $ = (id) => document.getElementById(id);
const worker = new Worker("worker.js" + location.search); /* ?kernels=portable is passed on */
const state = { isa: "", loaded: false, busy: false, next: 0, pending: new Map() };
window.edgeformer = state; /* for tests and the console: isa, memory, last results */

function showError(msg) {
  $("error").textContent = msg;
  $("error").hidden = !msg;
}
function setStatus(msg) {
  $("status").textContent = msg;
}
const mib = (b) => (b / 1048576).toFixed(1) + " MiB";

worker.onmessage = (e) => {
  const m = e.data;
  if (m.type === "ready") {
    state.isa = m.isa;
    state.memory = m.memory;
    setStatus(`Runtime ready (${m.isa} kernels). Choose a model file.`);
  } else if (m.type === "loaded") {
    state.loaded = true;
    state.memory = m.memory;
    state.info = m.info;
    const i = m.info;
    showError("");
    setStatus(
      `${m.name}: ${i.int8 ? "int8" : "fp32"}, ${i.encoderLayers}+${i.decoderLayers} layers, ` +
        `d ${i.embedDim}, vocabulary ${i.vocabSize}, ${(i.fileBytes / 1e6).toFixed(2)} MB; ` +
        `loaded in ${m.ms.toFixed(0)} ms (${state.isa} kernels, memory ${mib(m.memory)})`
    );
    $("input").disabled = $("go").disabled = false;
    document.body.dataset.state = "loaded";
  } else if (m.type === "error" && m.id === null) {
    state.loaded = false;
    $("input").disabled = $("go").disabled = true;
    setStatus("No model loaded.");
    showError(m.message);
    document.body.dataset.state = "load-error";
  } else {
    const p = state.pending.get(m.id);
    if (!p) return;
    state.pending.delete(m.id);
    if (m.type === "result") {
      state.memory = m.memory;
      p.resolve(m);
    } else p.reject(new Error(m.message));
  }
};

function translate(text, opts) {
  const id = state.next++;
  return new Promise((resolve, reject) => {
    state.pending.set(id, { resolve, reject });
    worker.postMessage({ type: "translate", id, text, opts });
  });
}

async function loadFile(file) {
  if (!file) return;
  document.body.dataset.state = "loading";
  setStatus(`Reading ${file.name}…`);
  const bytes = await file.arrayBuffer();
  worker.postMessage({ type: "load", bytes, name: file.name }, [bytes]);
}

$("file").addEventListener("change", (e) => loadFile(e.target.files[0]));
const drop = $("drop");
drop.addEventListener("dragover", (e) => {
  e.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  loadFile(e.dataTransfer.files[0]);
});

$("go").addEventListener("click", async () => {
  if (state.busy || !state.loaded) return;
  state.busy = true;
  $("go").disabled = true;
  document.body.dataset.state = "translating";
  const lines = $("input").value.split("\n").map((l) => l.replace(/\r$/, "")).filter((l) => l.length > 0);
  const opts = { beam: Number($("beam").value) || 5, maxLenB: Number($("maxlen").value) || 200 };
  const body = $("results").querySelector("tbody");
  body.textContent = "";
  state.results = [];
  let total = 0;
  for (const line of lines) {
    const tr = body.insertRow();
    tr.insertCell().textContent = line;
    const out = tr.insertCell();
    const ms = tr.insertCell();
    ms.className = "ms";
    out.textContent = "…";
    try {
      const r = await translate(line, opts);
      out.textContent = r.text;
      ms.textContent = r.ms.toFixed(1);
      total += r.ms;
      state.results.push({ source: line, text: r.text, ms: r.ms });
    } catch (err) {
      out.textContent = err.message;
      out.className = "err";
      state.results.push({ source: line, error: err.message });
    }
  }
  const n = state.results.length;
  $("summary").textContent = n
    ? `${n} sentences, ${(total / n).toFixed(1)} ms per sentence (${state.isa}), memory ${mib(state.memory)}`
    : "";
  state.busy = false;
  $("go").disabled = false;
  document.body.dataset.state = "done";
});
