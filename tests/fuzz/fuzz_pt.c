/* tests/fuzz/fuzz_pt.c: libFuzzer target for the torch.save reader (convert/pt_reader.h). The
 * input bytes are opened with ef_pt_open_memory (zip or legacy layout, the safe unpickler);
 * when that succeeds every value reachable from the root is visited (bounded: the value graph
 * may share nodes or hold cycles), every tensor is read as float32 when its dtype allows, and
 * the fairseq config mapping runs on cfg["model"] / args when present.
 * Built by tests/fuzz/run.sh (clang, -fsanitize=fuzzer,address,undefined) and, without
 * libFuzzer, by tests/fuzz/CMakeLists.txt with fuzz_driver.c as a regression test over
 * tests/fuzz/corpus_pt/ and the import fixtures.
 * It must never crash, hang, leak or read out of bounds on any input: a failed open only has to
 * come with a one-line message naming the file.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/fairseq_import.h"
#include "convert/pt_reader.h"

#define ERRLEN 512
#define WALK_DEPTH 48            /* deeper values are not visited */
#define WALK_BUDGET 200000       /* values visited per input (shared nodes count again) */
#define READ_MAX_NUMEL (1 << 20) /* larger tensors are checked, not read */

static void fail(const char *what) {
  fprintf(stderr, "fuzz_pt: %s\n", what);
  abort();
}

static void walk(ef_pt *pt, const ef_pt_val *v, int depth, long *budget) {
  if (!v || depth > WALK_DEPTH || --*budget < 0) return;
  ef_pt_kind k = ef_pt_kind_of(v);
  size_t n = 0;
  const char *b = ef_pt_bytes(v, &n);
  if ((k == EF_PT_STR || k == EF_PT_BYTES || k == EF_PT_BIGINT) && (!b || b[n] != 0))
    fail("string value without its terminator");
  if ((k == EF_PT_OBJECT || k == EF_PT_GLOBAL) && !ef_pt_class(v)) fail("object without class");
  (void)ef_pt_int(v);
  (void)ef_pt_float(v);
  ef_pt_tensor_info ti;
  if (k == EF_PT_TENSOR) {
    if (ef_pt_tensor(v, &ti)) fail("tensor without info");
    if (ti.numel < 0 || ti.ndim < 0 || ti.ndim > EF_PT_MAX_NDIM) fail("bad tensor info");
    if (ti.numel <= READ_MAX_NUMEL) {
      float *out = malloc((size_t)(ti.numel ? ti.numel : 1) * sizeof *out);
      char err[ERRLEN];
      if (!out) return;
      if (ef_pt_tensor_read_f32(pt, v, out, ti.numel, "t", err, sizeof err) && !err[0])
        fail("tensor read failed without a message");
      free(out);
    }
  }
  for (size_t i = 0; i < ef_pt_len(v); i++) {
    const ef_pt_val *key, *val;
    if (k == EF_PT_DICT || k == EF_PT_OBJECT) {
      if (ef_pt_entry(v, i, &key, &val)) fail("entry out of range");
      walk(pt, key, depth + 1, budget);
      walk(pt, val, depth + 1, budget);
    } else {
      walk(pt, ef_pt_item(v, i), depth + 1, budget);
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[ERRLEN] = "";
  ef_pt *pt = NULL;
  if (ef_pt_open_memory(data, size, "fuzz.pt", &pt, err, sizeof err) != 0) {
    if (pt) fail("open failed but returned a reader");
    if (strncmp(err, "fuzz.pt", 7) || strchr(err, '\n')) fail("message does not name the file");
    return 0;
  }
  const ef_pt_val *root = ef_pt_root(pt);
  if (!root) fail("no root value");
  long budget = WALK_BUDGET;
  walk(pt, root, 0, &budget);
  const ef_pt_val *ns = ef_pt_get(ef_pt_get(root, "cfg"), "model");
  if (!ns) ns = ef_pt_get(root, "args");
  if (ns) {
    ef_model_config c;
    char arch[64], ptype[32];
    if (ef_fairseq_config(ns, "fuzz.pt", 8, &c, arch, sizeof arch, ptype, sizeof ptype, err,
                          sizeof err) &&
        !err[0])
      fail("config mapping failed without a message");
  }
  ef_pt_close(pt);
  return 0;
}
