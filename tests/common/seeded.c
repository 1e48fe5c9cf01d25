/* seeded.c: seeded weights bit-identical to tests/reference/seeded.py (the rules: seeded.h). */
#include "tests/common/seeded.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SEEDED_EMBED_SCALE 6.0
#define SEEDED_QK_NUM 12.0 /* 4 · 3: q/k twice xavier(gain 1/sqrt 2) */
#define SEEDED_LN_WEIGHT 1.7
#define SEEDED_LN_BIAS 0.1
#define SEEDED_LA 0.1
#define SEEDED_EOS_GAIN 3.0f

uint64_t fx_fnv1a64(const char *s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    h ^= *p;
    h *= 0x100000001b3ULL;
  }
  return h;
}

void fx_seeded_values(uint64_t seed, const char *key, float bound, float *out, int64_t n) {
  uint64_t state = seed ^ fx_fnv1a64(key);
  const float unit = 0x1p-23f;
  for (int64_t i = 0; i < n; i++) {
    state += 0x9E3779B97F4A7C15ULL;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    int32_t r = (int32_t)(z >> 40) - (1 << 23);
    float u = (float)r * unit; /* exact */
    out[i] = u * bound;
  }
}

/* The last two dot-separated components of key. */
static void split_key(const char *key, char *leaf, size_t leaf_len, const char **w) {
  const char *last = strrchr(key, '.');
  *w = last ? last + 1 : key;
  leaf[0] = 0;
  if (!last) return;
  const char *prev = last;
  while (prev > key && prev[-1] != '.') prev--;
  size_t n = (size_t)(last - prev);
  if (n >= leaf_len) n = leaf_len - 1;
  memcpy(leaf, prev, n);
  leaf[n] = 0;
}

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && !strcmp(s + a - b, suffix);
}

double fx_seeded_bound(const ef_model *m, const char *key, int ndim, const int64_t *shape) {
  char leaf[EF_PARAM_NAME_MAX];
  const char *w;
  split_key(key, leaf, sizeof leaf, &w);
  if (!strcmp(key, "encoder.embed_tokens.weight"))
    return SEEDED_EMBED_SCALE / sqrt((double)m->cfg.embed_dim);
  if (!strcmp(w, "la_bias") || !strcmp(w, "prefix_k") || !strcmp(w, "prefix_v")) return SEEDED_LA;
  if (ends_with(leaf, "layer_norm")) return !strcmp(w, "weight") ? SEEDED_LN_WEIGHT : SEEDED_LN_BIAS;
  int is_weight = !strcmp(w, "weight");
  if (is_weight && ndim == 2) {
    double fan = (double)(shape[0] + shape[1]);
    if (!strcmp(leaf, "q_proj") || !strcmp(leaf, "k_proj")) return sqrt(SEEDED_QK_NUM / fan);
    if (!strcmp(leaf, "v_proj")) return sqrt(3.0 / fan);
    if (!strcmp(leaf, "out_proj")) return sqrt(6.0 / fan);
    return 1.0 / sqrt((double)shape[1]);
  }
  if (!strcmp(w, "bias")) {
    /* in-features of the sibling weight */
    char wkey[EF_PARAM_NAME_MAX];
    size_t n = strlen(key) - strlen("bias");
    if (n + strlen("weight") >= sizeof wkey) return -1;
    memcpy(wkey, key, n);
    strcpy(wkey + n, "weight");
    int idx = ef_params_find(m->params, wkey);
    if (idx < 0) return -1;
    const ef_tensor *t = ef_params_tensor(m->params, idx);
    if (t->ndim != 2) return -1;
    return 1.0 / sqrt((double)t->shape[1]);
  }
  return -1;
}

int fx_seeded_fill(ef_model *m, uint64_t seed) {
  ef_params *p = m->params;
  for (int i = 0; i < ef_params_count(p); i++) {
    const char *key = ef_params_name(p, i);
    ef_tensor *t = ef_params_tensor(p, i);
    double b = fx_seeded_bound(m, key, t->ndim, t->shape);
    if (b < 0) {
      fprintf(stderr, "fx_seeded_fill: parameter %s is of no known kind\n", key);
      return -1;
    }
    fx_seeded_values(seed, key, (float)b, t->data, t->numel);
    if (i == m->embed) {
      int64_t d = t->shape[1];
      memset(t->data + (int64_t)EF_PAD * d, 0, (size_t)d * sizeof(float));
      for (int64_t k = 0; k < d; k++) t->data[(int64_t)EF_EOS * d + k] *= SEEDED_EOS_GAIN;
    }
  }
  return 0;
}
