/* tests/convert/test_pt_reader.c: the torch.save reader (convert/pt_reader.h) on the committed
 * fixtures of tests/reference/fairseq_checkpoint.py (zip, legacy and deflated layouts; float32,
 * float16, bfloat16, float64; strides, offsets, shared storages; plain Python values) and on
 * hostile input built here byte by byte: unknown opcodes, truncation at every offset, byte
 * flips, deep nesting, memo abuse, calls of os.system / builtins.eval, views outside their
 * storage. Every failure must be one line naming the file and the place; nothing may run. */
#define _GNU_SOURCE
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert/pt_reader.h"
#include "tests/common/fixture.h"

#define DIR EF_FIXTURES "/import/"
#define EVIL_MARKER "/tmp/edgeformer-evil-pickle-ran"
#define ERRLEN 1024

static char err[ERRLEN];

static uint8_t *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc((size_t)len + 1);
  ck_assert(b && fread(b, 1, (size_t)len, f) == (size_t)len);
  fclose(f);
  *n = (size_t)len;
  return b;
}

/* ---- the reader cases ------------------------------------------------------------------- */

static void check_tensors_file(const char *name, const char *format) {
  ef_pt *pt;
  ck_assert_msg(!ef_pt_open(name, &pt, err, sizeof err), "%s", err);
  ck_assert_str_eq(ef_pt_format(pt), format);
  const ef_pt_val *root = ef_pt_root(pt), *t = ef_pt_get(root, "tensors");
  ck_assert_int_eq(ef_pt_kind_of(t), EF_PT_DICT);
  fx_file fx;
  fx_load_efx(&fx, DIR "tensors.efx");
  ck_assert_int_eq((int)ef_pt_len(t), fx.n);
  for (int k = 0; k < fx.n; k++) {
    const ef_pt_val *v = ef_pt_get(t, fx.t[k].name);
    ef_pt_tensor_info ti;
    ck_assert_msg(!ef_pt_tensor(v, &ti), "%s: %s is not a tensor", name, fx.t[k].name);
    ck_assert_int_eq(ti.numel, fx.t[k].numel);
    if (ti.ndim > 0) { /* efx stores a 0-dim tensor as [1] */
      ck_assert_int_eq(ti.ndim, fx.t[k].ndim);
      for (int d = 0; d < ti.ndim; d++) ck_assert_int_eq(ti.shape[d], fx.t[k].shape[d]);
    }
    float *out = malloc((size_t)(ti.numel ? ti.numel : 1) * sizeof *out);
    ck_assert_msg(!ef_pt_tensor_read_f32(pt, v, out, ti.numel, fx.t[k].name, err, sizeof err), "%s",
                  err);
    /* conversions to float32 are exact (f16, bf16) or rounded like torch (f64): bit-equal */
    ck_assert_msg(!memcmp(out, fx.t[k].f, (size_t)ti.numel * sizeof *out), "%s: %s differs", name,
                  fx.t[k].name);
    free(out);
  }
  ef_pt_tensor_info ti;
  ck_assert(!ef_pt_tensor(ef_pt_get(t, "f16"), &ti) && ti.dtype == EF_PT_DT_FLOAT16);
  ck_assert(!ef_pt_tensor(ef_pt_get(t, "bf16"), &ti) && ti.dtype == EF_PT_DT_BFLOAT16);
  ck_assert(!ef_pt_tensor(ef_pt_get(t, "transposed"), &ti));
  ck_assert(ti.stride[0] == 1 && ti.stride[1] == 5); /* a view: no copy was made */
  ck_assert(!ef_pt_tensor(ef_pt_get(t, "slice"), &ti));
  ck_assert_int_eq(ti.offset, 2 * 5 + 1);
  ef_pt_tensor_info a, b;
  ck_assert(!ef_pt_tensor(ef_pt_get(t, "shared_a"), &a) &&
            !ef_pt_tensor(ef_pt_get(t, "shared_b"), &b));
  ck_assert_str_eq(a.storage, b.storage);
  ck_assert_int_eq(b.offset, 3);
  /* int64 tensors are read as such, not as floats */
  const ef_pt_val *i64 = ef_pt_get(root, "i64");
  ck_assert(!ef_pt_tensor(i64, &ti) && ti.dtype == EF_PT_DT_INT64);
  float f5[5];
  ck_assert(ef_pt_tensor_read_f32(pt, i64, f5, 5, "i64", err, sizeof err) != 0);
  ck_assert_msg(strstr(err, "i64 is a int64 tensor") != NULL, "%s", err);
  ck_assert(ef_pt_tensor_read_f32(pt, ef_pt_get(t, "f32"), f5, 5, "f32", err, sizeof err) != 0);
  ck_assert_msg(strstr(err, "f32 has 12 elements, 5 expected") != NULL, "%s", err);
  /* plain values */
  const ef_pt_val *ns = ef_pt_get(root, "ns");
  ck_assert_int_eq(ef_pt_kind_of(ns), EF_PT_OBJECT);
  ck_assert_str_eq(ef_pt_class(ns), "argparse.Namespace");
  ck_assert_int_eq(ef_pt_int(ef_pt_get(ns, "a")), 1);
  ck_assert(ef_pt_str_eq(ef_pt_get(ns, "b"), "x"));
  ck_assert(ef_pt_float(ef_pt_get(ns, "c")) == 1.5);
  ck_assert(ef_pt_get(ns, "d") && ef_pt_kind_of(ef_pt_get(ns, "d")) == EF_PT_NONE);
  ck_assert(ef_pt_kind_of(ef_pt_get(ns, "e")) == EF_PT_BOOL && ef_pt_int(ef_pt_get(ns, "e")) == 1);
  ck_assert(ef_pt_kind_of(ef_pt_get(ns, "f")) == EF_PT_LIST && ef_pt_len(ef_pt_get(ns, "f")) == 2);
  ck_assert(ef_pt_kind_of(ef_pt_get(ns, "g")) == EF_PT_TUPLE &&
            ef_pt_int(ef_pt_item(ef_pt_get(ns, "g"), 1)) == 4);
  const ef_pt_val *od = ef_pt_get(root, "od");
  ck_assert(ef_pt_kind_of(od) == EF_PT_DICT && ef_pt_len(od) == 2 &&
            ef_pt_str_eq(ef_pt_get(od, "k2"), "v"));
  ck_assert(ef_pt_kind_of(ef_pt_get(root, "set")) == EF_PT_SET &&
            ef_pt_len(ef_pt_get(root, "set")) == 2);
  size_t n;
  const char *big = ef_pt_bytes(ef_pt_get(root, "big"), &n); /* 2**70: 9 bytes */
  ck_assert(ef_pt_kind_of(ef_pt_get(root, "big")) == EF_PT_BIGINT && n == 9 &&
            (uint8_t)big[8] == 0x40);
  ck_assert_int_eq(ef_pt_int(ef_pt_get(root, "neg")), -5);
  const char *bytes = ef_pt_bytes(ef_pt_get(root, "bytes"), &n);
  ck_assert(bytes && n == 3 && !memcmp(bytes, "abc", 3));
  ck_assert(ef_pt_float(ef_pt_get(root, "float")) == 0.25);
  ck_assert(ef_pt_int(ef_pt_item(ef_pt_item(ef_pt_item(ef_pt_get(root, "nested"), 0), 0), 0)) == 1);
  ck_assert(ef_pt_str_eq(ef_pt_get(root, "unicode"), "Stra\xc3\x9f"
                                                     "e \xe2\x96\x81"));
  fx_free(&fx);
  ef_pt_close(pt);
}

START_TEST(zip_tensors_read_bit_exact) { check_tensors_file(DIR "tensors.pt", "zip"); }
END_TEST

START_TEST(legacy_tensors_read_bit_exact) { check_tensors_file(DIR "tensors_legacy.pt", "legacy"); }
END_TEST

START_TEST(deflated_zip_tensors_read_bit_exact) {
  check_tensors_file(DIR "tensors_deflated.pt", "zip");
}
END_TEST

/* ---- hostile files -------------------------------------------------------------------- */

START_TEST(pickles_calling_os_system_stay_inert) {
  unlink(EVIL_MARKER);
  ef_pt *pt;
  ck_assert_msg(!ef_pt_open(DIR "evil_zip.pt", &pt, err, sizeof err), "%s", err);
  const ef_pt_val *root = ef_pt_root(pt);
  const ef_pt_val *model = ef_pt_get(root, "model"), *cfg = ef_pt_get(root, "cfg");
  ck_assert_int_eq(ef_pt_kind_of(model), EF_PT_OBJECT);
  ck_assert_str_eq(ef_pt_class(model), "posix.system");
  ck_assert_int_eq(ef_pt_kind_of(cfg), EF_PT_OBJECT);
  ck_assert_str_eq(ef_pt_class(cfg), "builtins.eval");
  ef_pt_close(pt);
  ck_assert(ef_pt_open(DIR "evil_raw.pkl", &pt, err, sizeof err) != 0 && pt == NULL);
  ck_assert_msg(strstr(err, "evil_raw.pkl: not a PyTorch checkpoint (legacy magic number") != NULL,
                "%s", err);
  ck_assert_msg(access(EVIL_MARKER, F_OK) != 0, "a pickle ran a command");
}
END_TEST

/* A legacy file around one pickle: magic, protocol 1001, {}, the pickle, the key list. */
static size_t legacy_file(uint8_t *out, const uint8_t *pk, size_t n, const uint8_t *tail,
                          size_t tn) {
  static const uint8_t head[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                                 0x20, 0x6a, 0xa8, 0x50, 0x19, '.',  0x80, 0x02, 'M',
                                 0xe9, 0x03, '.',  0x80, 0x02, '}',  '.'};
  static const uint8_t keys[] = {0x80, 0x02, ']', '.'};
  size_t k = 0;
  memcpy(out, head, sizeof head), k += sizeof head;
  memcpy(out + k, pk, n), k += n;
  if (tail) {
    memcpy(out + k, tail, tn), k += tn;
  } else {
    memcpy(out + k, keys, sizeof keys), k += sizeof keys;
  }
  return k;
}

typedef struct {
  const char *what;
  const char *bytes; /* the main pickle */
  size_t n;
  const char *expect; /* substring of the message; NULL = must load */
} pk_case;

#define C(what, lit, expect)                                                                       \
  { what, lit, sizeof(lit) - 1, expect }
static const pk_case CASES[] = {
    C("unknown opcode", "\x80\x02\xff.", "pickle offset 2: unknown pickle opcode 0xff"),
    C("protocol 6", "\x80\x06N.", "protocol 6 is newer than 5"),
    C("truncated string",
      "\x80\x02X\x10\x00\x00\x00"
      "abc",
      "truncated: 16 bytes needed, 7 left"),
    C("huge bytes8", "\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\x3f.", "truncated"),
    C("no STOP", "\x80\x02N", "truncated: 1 bytes needed, 0 left"),
    C("empty stop", "\x80\x02.", "STOP with an empty stack"),
    C("pop empty",
      "\x80\x02"
      "0N.",
      "POP from an empty stack"),
    C("memo never stored", "\x80\x02h\x07.", "memo index 7 was never stored"),
    C("memo too large", "\x80\x02Nr\xff\xff\xff\xff.", "EF_PT_MAX_MEMO"),
    C("reduce on int", "\x80\x02K\x01)R.", "REDUCE calls a int, not a global"),
    C("reduce without args tuple",
      "\x80\x02"
      "cos\nsystem\nK\x01R.",
      "with a int instead of an argument tuple"),
    C("setitems on a list", "\x80\x02](K\x01K\x02u.", "SETITEM(S) on a list"),
    C("append to a dict",
      "\x80\x02}K\x01"
      "a.",
      "APPEND(S) on a dict"),
    C("odd dict",
      "\x80\x02(K\x01"
      "d.",
      "DICT with an odd number of items"),
    C("tuple3 short", "\x80\x02K\x01\x87.", "TUPLE3 needs 3 values"),
    C("ext1", "\x80\x02\x82\x01.", "extension-registry opcode 0x82"),
    C("text persid", "\x80\x02P0\n.", "PERSID"),
    C("out-of-band buffer", "\x80\x05\x97.", "out-of-band buffer opcode 0x97"),
    C("stack_global of ints", "\x80\x04K\x01K\x02\x93.", "STACK_GLOBAL needs two strings"),
    C("persistent id not a tuple", "\x80\x02K\x01Q.",
      "persistent id is not a ('storage', ...) tuple"),
    C("unknown storage type",
      "\x80\x02(X\x07\x00\x00\x00storagectorch\nQInt8Storage\nX\x01\x00\x00\x00"
      "0X\x03\x00\x00\x00"
      "cpuK\x04tQ.",
      "unsupported storage type torch.QInt8Storage"),
    /* a storage of 4 floats, then a view of 10 elements: outside */
    C("view past its storage",
      "\x80\x02"
      "ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\n"
      "X\x01\x00\x00\x00"
      "0X\x03\x00\x00\x00"
      "cpuK\x04tQK\x00K\x0a\x85K\x01\x85\x89}tR.",
      "does not fit in storage '0' of 4 elements"),
    C("negative stride",
      "\x80\x02"
      "ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\n"
      "X\x01\x00\x00\x00"
      "0X\x03\x00\x00\x00"
      "cpuK\x04tQK\x00K\x02\x85J\xff\xff\xff\xff\x85\x89}tR.",
      "size 2 / stride -1"),
    C("same storage key, two sizes",
      "\x80\x02(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00"
      "0X\x03\x00\x00\x00"
      "cpuK\x04tQ"
      "(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00"
      "0X\x03\x00\x00\x00"
      "cpuK\x05tQ\x86.",
      "storage '0' is referenced as float32[4] and as float32[5]"),
    C("INT text not a number", "\x80\x02I12x\n.", "INT argument '12x' is not a 64-bit integer"),
    /* inert: a call of os.system and of builtins.eval become objects */
    C("os.system",
      "\x80\x02"
      "cos\nsystem\nX\x0a\x00\x00\x00touch /tmp\x85R.",
      NULL),
    C("eval via STACK_GLOBAL",
      "\x80\x04X\x08\x00\x00\x00"
      "builtinsX\x04\x00\x00\x00"
      "eval\x93X\x01\x00\x00\x00"
      "1\x85R.",
      NULL),
    C("BUILD on a placeholder",
      "\x80\x02"
      "csubprocess\nPopen\n)\x81}X\x01\x00\x00\x00"
      "aK\x01sb.",
      NULL),
};
#undef C

START_TEST(malformed_pickles_fail_with_offsets) {
  uint8_t buf[1024];
  for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
    const pk_case *c = &CASES[i];
    size_t n = legacy_file(buf, (const uint8_t *)c->bytes, c->n, NULL, 0);
    ef_pt *pt = NULL;
    err[0] = 0;
    int rc = ef_pt_open_memory(buf, n, "case.pt", &pt, err, sizeof err);
    if (!c->expect) {
      ck_assert_msg(rc == 0, "%s: %s", c->what, err);
      ck_assert_int_eq(ef_pt_kind_of(ef_pt_root(pt)), EF_PT_OBJECT);
      ef_pt_close(pt);
      continue;
    }
    ck_assert_msg(rc != 0 && pt == NULL, "%s: loaded", c->what);
    ck_assert_msg(strstr(err, c->expect) != NULL, "%s: got '%s'", c->what, err);
    ck_assert_msg(!strncmp(err, "case.pt: ", 9) && !strchr(err, '\n'), "%s: '%s'", c->what, err);
  }
  ck_assert_msg(access(EVIL_MARKER, F_OK) != 0, "a pickle ran a command");
}
END_TEST

START_TEST(nesting_and_sizes_are_limited) {
  size_t cap = 3 * EF_PT_MAX_DEPTH + 64;
  uint8_t *pk = malloc(cap), *buf = malloc(cap + 64);
  size_t k = 0;
  pk[k++] = 0x80, pk[k++] = 2;
  for (int i = 0; i < EF_PT_MAX_DEPTH + 1; i++) pk[k++] = '(';
  pk[k++] = '.';
  size_t n = legacy_file(buf, pk, k, NULL, 0);
  ef_pt *pt;
  ck_assert(ef_pt_open_memory(buf, n, "deep.pt", &pt, err, sizeof err) != 0);
  ck_assert_msg(strstr(err, "EF_PT_MAX_DEPTH") != NULL, "%s", err);
  /* nested lists at the limit are fine: ( ( ( ... l l l */
  k = 2;
  for (int i = 0; i < EF_PT_MAX_DEPTH; i++) pk[k++] = '(';
  for (int i = 0; i < EF_PT_MAX_DEPTH; i++) pk[k++] = 'l';
  pk[k++] = '.';
  n = legacy_file(buf, pk, k, NULL, 0);
  ck_assert_msg(!ef_pt_open_memory(buf, n, "deep.pt", &pt, err, sizeof err), "%s", err);
  ef_pt_close(pt);
  free(pk);
  free(buf);
}
END_TEST

START_TEST(legacy_storage_table_is_checked) {
  /* main pickle: a float tensor of 2 on storage "7"; key list ["7"]; then its data */
  static const char main_pk[] =
      "\x80\x02"
      "ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\n"
      "X\x01\x00\x00\x00"
      "7X\x03\x00\x00\x00"
      "cpuK\x02NtQK\x00K\x02\x85K\x01\x85\x89}tR.";
  static const char keys_ok[] = "\x80\x02]X\x01\x00\x00\x00"
                                "7a.";
  static const char keys_bad[] = "\x80\x02]X\x01\x00\x00\x00"
                                 "9a.";
  uint8_t tail[64], buf[512];
  float two[2] = {1.5f, -2.0f}, got[2];
  int64_t cnt = 2;
  size_t t = sizeof keys_ok - 1;
  memcpy(tail, keys_ok, t);
  memcpy(tail + t, &cnt, 8);
  memcpy(tail + t + 8, two, 8);
  size_t n = legacy_file(buf, (const uint8_t *)main_pk, sizeof main_pk - 1, tail, t + 16);
  ef_pt *pt;
  ck_assert_msg(!ef_pt_open_memory(buf, n, "l.pt", &pt, err, sizeof err), "%s", err);
  ck_assert(!ef_pt_tensor_read_f32(pt, ef_pt_root(pt), got, 2, "root", err, sizeof err));
  ck_assert(got[0] == 1.5f && got[1] == -2.0f);
  ef_pt_close(pt);
  /* every truncation fails cleanly */
  for (size_t cut = 0; cut < n; cut++) {
    ck_assert_msg(ef_pt_open_memory(buf, cut, "l.pt", &pt, err, sizeof err) != 0, "cut %zu", cut);
    ck_assert(pt == NULL && !strncmp(err, "l.pt: ", 6));
  }
  /* a key list naming another storage; a wrong element count */
  memcpy(tail, keys_bad, t);
  n = legacy_file(buf, (const uint8_t *)main_pk, sizeof main_pk - 1, tail, t + 16);
  ck_assert(ef_pt_open_memory(buf, n, "l.pt", &pt, err, sizeof err) != 0);
  ck_assert_msg(strstr(err, "legacy storage list entry 0 (9) names no storage") != NULL, "%s", err);
  memcpy(tail, keys_ok, t);
  cnt = 3;
  memcpy(tail + t, &cnt, 8);
  n = legacy_file(buf, (const uint8_t *)main_pk, sizeof main_pk - 1, tail, t + 16);
  ck_assert(ef_pt_open_memory(buf, n, "l.pt", &pt, err, sizeof err) != 0);
  ck_assert_msg(strstr(err, "holds 3 elements, the pickle says 2") != NULL, "%s", err);
}
END_TEST

START_TEST(truncated_and_flipped_zips_never_crash) {
  size_t n;
  uint8_t *good = slurp(DIR "tensors.pt", &n);
  uint8_t *b = malloc(n);
  ef_pt *pt;
  for (size_t cut = 0; cut < n; cut++) { /* every truncation point */
    memcpy(b, good, cut);
    ck_assert_msg(ef_pt_open_memory(b, cut, "t.pt", &pt, err, sizeof err) != 0, "cut %zu loaded",
                  cut);
    ck_assert_msg(!strncmp(err, "t.pt: ", 6) && !strchr(err, '\n'), "%s", err);
  }
  int loaded = 0, failed = 0;
  for (size_t i = 0; i < n; i++) { /* every byte flipped */
    memcpy(b, good, n);
    b[i] ^= 0x5a;
    if (ef_pt_open_memory(b, n, "t.pt", &pt, err, sizeof err) == 0) {
      loaded++; /* a byte no check covers (timestamps, attributes...): values still readable */
      const ef_pt_val *t = ef_pt_get(ef_pt_root(pt), "tensors");
      for (size_t k = 0; k < ef_pt_len(t); k++) {
        const ef_pt_val *key, *v;
        ef_pt_tensor_info ti;
        ef_pt_entry(t, k, &key, &v);
        if (ef_pt_tensor(v, &ti) || ti.numel > 64) continue;
        float tmp[64];
        ef_pt_tensor_read_f32(pt, v, tmp, ti.numel, "x", err, sizeof err);
      }
      ef_pt_close(pt);
    } else {
      failed++;
      ck_assert_msg(!strncmp(err, "t.pt: ", 6), "%s", err);
    }
  }
  ck_assert(failed > (int)n / 2);
  fprintf(stderr, "tensors.pt: %zu truncations and %zu byte flips: %d flips loaded, %d refused\n",
          n, n, loaded, failed);
  free(b);
  free(good);
}
END_TEST

START_TEST(not_a_checkpoint_says_so) {
  ef_pt *pt;
  ck_assert(ef_pt_open(DIR "dict.src.txt", &pt, err, sizeof err) != 0);
  ck_assert_msg(strstr(err, "dict.src.txt: not a PyTorch checkpoint (neither a zip archive nor a "
                            "legacy pickle") != NULL,
                "%s", err);
  ck_assert(ef_pt_open(DIR "no-such.pt", &pt, err, sizeof err) != 0);
  ck_assert_msg(strstr(err, "no-such.pt: cannot open: No such file") != NULL, "%s", err);
  ck_assert(ef_pt_open(DIR, &pt, err, sizeof err) != 0);
  ck_assert_msg(strstr(err, "not a regular file") != NULL, "%s", err);
  ck_assert(ef_pt_open_memory((const uint8_t *)"", 0, "e.pt", &pt, err, sizeof err) != 0);
  ck_assert_str_eq(err, "e.pt: empty file");
  /* a zip whose pickle entry is renamed: not a torch file; a storage entry renamed: missing */
  size_t n;
  uint8_t *b = slurp(DIR "tensors.pt", &n);
  for (size_t i = 0; i + 8 <= n; i++)
    if (!memcmp(b + i, "data.pkl", 8)) b[i + 7] = 'x';
  ck_assert(ef_pt_open_memory(b, n, "r.pt", &pt, err, sizeof err) != 0);
  ck_assert_msg(strstr(err, "r.pt: a zip archive without <name>/data.pkl") != NULL, "%s", err);
  free(b);
  b = slurp(DIR "tensors.pt", &n);
  for (size_t i = 0; i + 7 <= n; i++)
    if (!memcmp(b + i, "/data/0", 7) && b[i + 7] != '/') b[i + 6] = 'Z';
  ck_assert(ef_pt_open_memory(b, n, "s.pt", &pt, err, sizeof err) != 0);
  ck_assert_msg(strstr(err, "storage '0' used by the pickle has no entry") != NULL, "%s", err);
  free(b);
}
END_TEST

int main(void) {
  Suite *s = suite_create("pt_reader");
  TCase *tc = tcase_create("reader");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, zip_tensors_read_bit_exact);
  tcase_add_test(tc, legacy_tensors_read_bit_exact);
  tcase_add_test(tc, deflated_zip_tensors_read_bit_exact);
  tcase_add_test(tc, pickles_calling_os_system_stay_inert);
  tcase_add_test(tc, malformed_pickles_fail_with_offsets);
  tcase_add_test(tc, nesting_and_sizes_are_limited);
  tcase_add_test(tc, legacy_storage_table_is_checked);
  tcase_add_test(tc, truncated_and_flipped_zips_never_crash);
  tcase_add_test(tc, not_a_checkpoint_says_so);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
