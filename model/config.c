/* config.c: the model's keys and the INI/command-line machinery (see config.h). Must never
 * accept a value it cannot fully parse, nor silently ignore a key. */
#include "model/config.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifndef EF_SOURCE_CONFIG_DIR
#define EF_SOURCE_CONFIG_DIR "configs"
#endif

#define EF_MAX_DIM 65536
#define EF_MAX_LAYERS 256
#define EF_MAX_VOCAB 4000000
#define EF_MAX_POSITIONS 65536

static const char *const la_choices[] = {"none", "bias", "adapter", "prefix", NULL};
static const char *const layout_choices[] = {"interleaved", "standard", NULL};
static const char *const dattn_choices[] = {"encoder", "own", NULL};
static const char *const act_choices[] = {"relu", "gelu", NULL};

#define K(name, type, lo, hi, choices, help)                                                \
  {"model", #name, type, offsetof(ef_model_config, name), lo, hi, choices, help}

const ef_key ef_model_keys[] = {
    K(encoder_layers, EF_KEY_INT, 1, EF_MAX_LAYERS, NULL, "encoder depth"),
    K(decoder_layers, EF_KEY_INT, 1, EF_MAX_LAYERS, NULL, "decoder depth"),
    K(embed_dim, EF_KEY_INT, 2, EF_MAX_DIM, NULL, "model width d"),
    K(attention_heads, EF_KEY_INT, 1, 1024, NULL, "attention heads (divide embed_dim)"),
    K(encoder_ffn_dim, EF_KEY_INT, 1, EF_MAX_DIM, NULL, "encoder FFN width"),
    K(decoder_ffn_dim, EF_KEY_INT, 1, EF_MAX_DIM, NULL, "decoder FFN width"),
    K(encoder_attn_sets, EF_KEY_INT, 1, EF_MAX_LAYERS, NULL, "unique encoder attention blocks"),
    K(encoder_ffn_sets, EF_KEY_INT, 1, EF_MAX_LAYERS, NULL, "unique encoder FFN blocks"),
    K(decoder_layer_sets, EF_KEY_INT, 1, EF_MAX_LAYERS, NULL, "unique decoder layers"),
    K(decoder_layout, EF_KEY_ENUM, 0, 0, layout_choices, "interleaved (EdgeFormer) or standard"),
    K(decoder_attn, EF_KEY_ENUM, 0, 0, dattn_choices, "decoder attention tied to encoder sets or own"),
    K(share_layer_norm, EF_KEY_BOOL, 0, 1, NULL, "LayerNorms shared with their block (UT)"),
    K(layer_adaptation, EF_KEY_ENUM, 0, 0, la_choices, "none, bias, adapter (LoRA) or prefix"),
    K(lora_rank, EF_KEY_INT, 1, EF_MAX_DIM, NULL, "Adapter-LA rank"),
    K(prefix_length, EF_KEY_INT, 1, 4096, NULL, "Prefix-LA length"),
    K(activation, EF_KEY_ENUM, 0, 0, act_choices, "FFN activation"),
    K(dropout, EF_KEY_FLOAT, 0.0, 0.99, NULL, "dropout probability"),
    K(label_smoothing, EF_KEY_FLOAT, 0.0, 0.99, NULL, "label smoothing epsilon"),
    K(max_source_positions, EF_KEY_INT, 2, EF_MAX_POSITIONS, NULL, "longest source"),
    K(max_target_positions, EF_KEY_INT, 2, EF_MAX_POSITIONS, NULL, "longest target"),
    K(vocab_size, EF_KEY_INT, 5, EF_MAX_VOCAB, NULL, "vocabulary size V"),
};
const int ef_model_n_keys = (int)(sizeof ef_model_keys / sizeof ef_model_keys[0]);

void ef_model_config_default(ef_model_config *c) {
  *c = (ef_model_config){.encoder_layers = 12, .decoder_layers = 2, .embed_dim = 512,
                         .attention_heads = 8, .encoder_ffn_dim = 2048, .decoder_ffn_dim = 128,
                         .encoder_attn_sets = 4, .encoder_ffn_sets = 2, .decoder_layer_sets = 2,
                         .decoder_layout = EF_DEC_INTERLEAVED, .decoder_attn = EF_DEC_ATTN_ENCODER,
                         .share_layer_norm = 0, .layer_adaptation = EF_LA_ADAPTER, .lora_rank = 32,
                         .prefix_length = 8, .activation = EF_ACT_RELU, .dropout = 0.1f,
                         .label_smoothing = 0.1f, .max_source_positions = 1024,
                         .max_target_positions = 1024, .vocab_size = 2048};
}

int ef_model_config_check(const ef_model_config *c, char *err, size_t errlen) {
#define FAIL(...) return snprintf(err, errlen, __VA_ARGS__), -1
  if (c->embed_dim % c->attention_heads)
    FAIL("[model] attention_heads = %d does not divide embed_dim = %d", c->attention_heads,
         c->embed_dim);
  if (c->encoder_attn_sets > c->encoder_layers)
    FAIL("[model] encoder_attn_sets = %d is larger than encoder_layers = %d",
         c->encoder_attn_sets, c->encoder_layers);
  if (c->encoder_ffn_sets > c->encoder_layers)
    FAIL("[model] encoder_ffn_sets = %d is larger than encoder_layers = %d", c->encoder_ffn_sets,
         c->encoder_layers);
  if (c->decoder_layer_sets > c->decoder_layers)
    FAIL("[model] decoder_layer_sets = %d is larger than decoder_layers = %d",
         c->decoder_layer_sets, c->decoder_layers);
  if (c->decoder_attn == EF_DEC_ATTN_ENCODER && c->encoder_attn_sets < 2)
    FAIL("[model] decoder_attn = encoder needs encoder_attn_sets >= 2 (self and cross "
         "attention use different sets), got %d",
         c->encoder_attn_sets);
  if (c->layer_adaptation == EF_LA_ADAPTER && c->lora_rank > c->embed_dim)
    FAIL("[model] lora_rank = %d is larger than embed_dim = %d", c->lora_rank, c->embed_dim);
  return 0;
#undef FAIL
}

/* --- generic key tables --------------------------------------------------------------- */

static const ef_key *find_key(const ef_config_table *t, int nt, const char *section,
                              const char *name, void **target) {
  for (int i = 0; i < nt; i++)
    for (int k = 0; k < t[i].n_keys; k++) {
      const ef_key *key = &t[i].keys[k];
      if (!strcmp(key->name, name) && (!section || !strcmp(key->section, section))) {
        *target = t[i].target;
        return key;
      }
    }
  return NULL;
}

static int edit_distance(const char *a, const char *b) {
  int la = (int)strlen(a), lb = (int)strlen(b);
  if (la > 64 || lb > 64) return 99;
  int d[65][65];
  for (int i = 0; i <= la; i++) d[i][0] = i;
  for (int j = 0; j <= lb; j++) d[0][j] = j;
  for (int i = 1; i <= la; i++)
    for (int j = 1; j <= lb; j++) {
      int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
      d[i][j] = c;
    }
  return d[la][lb];
}

const char *ef_config_nearest(const ef_config_table *t, int nt, const char *name) {
  const char *best = NULL;
  int bd = 1 << 30;
  for (int i = 0; i < nt; i++)
    for (int k = 0; k < t[i].n_keys; k++) {
      int d = edit_distance(name, t[i].keys[k].name);
      if (d < bd) bd = d, best = t[i].keys[k].name;
    }
  return best;
}

static int parse_value(const ef_key *key, void *target, const char *value, char *err,
                       size_t errlen) {
  char *end = NULL;
  void *field = (char *)target + key->offset;
  while (*value == ' ' || *value == '\t') value++;
  switch (key->type) {
  case EF_KEY_INT: {
    errno = 0;
    long v = strtol(value, &end, 10);
    if (end == value || *end || errno)
      return snprintf(err, errlen, "[%s] %s = '%s' is not an integer", key->section, key->name,
                      value), -1;
    if (v < key->min || v > key->max)
      return snprintf(err, errlen, "[%s] %s = %ld is outside [%g, %g]", key->section, key->name,
                      v, key->min, key->max), -1;
    *(int *)field = (int)v;
    return 0;
  }
  case EF_KEY_FLOAT: {
    errno = 0;
    double v = strtod(value, &end);
    if (end == value || *end || errno || !isfinite(v))
      return snprintf(err, errlen, "[%s] %s = '%s' is not a number", key->section, key->name,
                      value), -1;
    if (v < key->min || v > key->max)
      return snprintf(err, errlen, "[%s] %s = %g is outside [%g, %g]", key->section, key->name, v,
                      key->min, key->max), -1;
    *(float *)field = (float)v;
    return 0;
  }
  case EF_KEY_BOOL: {
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
      if (!strcasecmp(value, yes[i])) return *(int *)field = 1, 0;
      if (!strcasecmp(value, no[i])) return *(int *)field = 0, 0;
    }
    return snprintf(err, errlen, "[%s] %s = '%s' is not a boolean (true/false)", key->section,
                    key->name, value), -1;
  }
  case EF_KEY_STRING: {
    size_t n = strlen(value);
    if (n + 1 > (size_t)key->max)
      return snprintf(err, errlen, "[%s] %s is longer than %d bytes", key->section, key->name,
                      (int)key->max - 1), -1;
    memcpy(field, value, n + 1);
    return 0;
  }
  case EF_KEY_ENUM: {
    for (int i = 0; key->choices[i]; i++)
      if (!strcmp(value, key->choices[i])) return *(int *)field = i, 0;
    char list[256] = "";
    for (int i = 0; key->choices[i]; i++) {
      strncat(list, i ? " | " : "", sizeof list - strlen(list) - 1);
      strncat(list, key->choices[i], sizeof list - strlen(list) - 1);
    }
    return snprintf(err, errlen, "[%s] %s = '%s' is not one of %s", key->section, key->name, value,
                    list), -1;
  }
  }
  return -1;
}

int ef_config_set(const ef_config_table *t, int nt, const char *section, const char *name,
                  const char *value, char *err, size_t errlen) {
  char sec[64] = "";
  const char *dot = strchr(name, '.');
  if (!section && dot && (size_t)(dot - name) < sizeof sec) {
    memcpy(sec, name, (size_t)(dot - name));
    sec[dot - name] = 0;
    section = sec;
    name = dot + 1;
  }
  void *target = NULL;
  const ef_key *key = find_key(t, nt, section, name, &target);
  if (!key) {
    if (section && find_key(t, nt, NULL, name, &target))
      return snprintf(err, errlen, "key '%s' does not belong in [%s]", name, section), -1;
    const char *near = ef_config_nearest(t, nt, name);
    char where[96] = "";
    if (section) snprintf(where, sizeof where, " in [%s]", section);
    if (near)
      return snprintf(err, errlen, "unknown key '%s'%s (did you mean '%s'?)", name, where, near), -1;
    return snprintf(err, errlen, "unknown key '%s'%s", name, where), -1;
  }
  return parse_value(key, target, value, err, errlen);
}

typedef struct {
  const ef_config_table *t;
  int nt;
  char *err;
  size_t errlen;
  int failed;
} load_state;

static int on_ini(void *user, const char *section, const char *name, const char *value) {
  load_state *st = user;
  if (st->failed) return 0;
  if (ef_config_set(st->t, st->nt, section, name, value, st->err, st->errlen)) {
    st->failed = 1;
    return 0;
  }
  return 1;
}

int ef_config_load(const ef_config_table *t, int nt, const char *path, char *err,
                   size_t errlen) {
  char msg[EF_CONFIG_ERR_LEN] = "";
  load_state st = {t, nt, msg, sizeof msg, 0};
  FILE *f = fopen(path, "r");
  if (!f) return snprintf(err, errlen, "%s: cannot open (%s)", path, strerror(errno)), -1;
  int rc = ini_parse_file(f, on_ini, &st);
  fclose(f);
  if (st.failed) return snprintf(err, errlen, "%s: %s", path, msg), -1;
  if (rc > 0) return snprintf(err, errlen, "%s: line %d: not an INI line", path, rc), -1;
  if (rc < 0) return snprintf(err, errlen, "%s: cannot read", path), -1;
  return 0;
}

int ef_config_load_text(const ef_config_table *t, int nt, const char *text, const char *name,
                        char *err, size_t errlen) {
  char msg[EF_CONFIG_ERR_LEN] = "";
  load_state st = {t, nt, msg, sizeof msg, 0};
  int rc = ini_parse_string(text, on_ini, &st);
  if (st.failed) return snprintf(err, errlen, "%s: %s", name, msg), -1;
  if (rc) return snprintf(err, errlen, "%s: line %d: not an INI line", name, rc), -1;
  return 0;
}

int ef_config_resolve(const char *name, char *path, size_t pathlen, char *err, size_t errlen) {
  if (strchr(name, '/') || strstr(name, ".ini")) {
    if (access(name, R_OK))
      return snprintf(err, errlen, "%s: cannot open config (%s)", name, strerror(errno)), -1;
    snprintf(path, pathlen, "%s", name);
    return 0;
  }
  const char *dirs[] = {"configs", EF_SOURCE_CONFIG_DIR};
  for (int i = 0; i < 2; i++) {
    snprintf(path, pathlen, "%s/%s.ini", dirs[i], name);
    if (!access(path, R_OK)) return 0;
  }
  return snprintf(err, errlen,
                  "unknown preset '%s' (presets are configs/*.ini: edgelm, ut, ut-wide, "
                  "transformer-base, ...; or give a path)",
                  name), -1;
}

int ef_config_apply_args(const ef_config_table *t, int nt, int argc, char **argv, int first,
                         char *err, size_t errlen) {
  for (int i = first; i < argc; i++) {
    if (strncmp(argv[i], "--", 2) || !argv[i][2])
      return snprintf(err, errlen, "unexpected argument '%s' (options are --key value)", argv[i]), -1;
    const char *name = argv[i] + 2, *value = NULL;
    char buf[128];
    const char *eq = strchr(name, '=');
    if (eq && (size_t)(eq - name) < sizeof buf) {
      memcpy(buf, name, (size_t)(eq - name));
      buf[eq - name] = 0;
      value = eq + 1;
      name = buf;
    }
    /* command-line spelling: dashes or underscores */
    char key[128];
    snprintf(key, sizeof key, "%s", name);
    for (char *c = key; *c; c++)
      if (*c == '-') *c = '_';
    if (!value) {
      /* a boolean key may stand alone, as fairseq's flags do (`--reset-optimizer`) */
      void *target = NULL;
      const ef_key *k = find_key(t, nt, NULL, key, &target);
      int next_is_option = i + 1 >= argc || !strncmp(argv[i + 1], "--", 2);
      if (k && k->type == EF_KEY_BOOL && next_is_option) {
        value = "true";
      } else {
        if (i + 1 >= argc) return snprintf(err, errlen, "option --%s needs a value", name), -1;
        value = argv[++i];
      }
    }
    if (ef_config_set(t, nt, NULL, key, value, err, errlen)) return -1;
  }
  return 0;
}

int ef_config_format(const ef_config_table *t, int nt, char *out, size_t cap) {
  size_t n = 0;
  const char *last = "";
  out[0] = 0;
  for (int i = 0; i < nt; i++)
    for (int k = 0; k < t[i].n_keys; k++) {
      const ef_key *key = &t[i].keys[k];
      const void *field = (const char *)t[i].target + key->offset;
      if (strcmp(key->section, last)) {
        n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s[%s]\n", n ? "\n" : "", key->section);
        last = key->section;
      }
      switch (key->type) {
      case EF_KEY_INT:
        n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s = %d\n", key->name, *(const int *)field);
        break;
      case EF_KEY_FLOAT:
        n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s = %.9g\n", key->name, *(const float *)field);
        break;
      case EF_KEY_BOOL:
        n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s = %s\n", key->name,
                              *(const int *)field ? "true" : "false");
        break;
      case EF_KEY_ENUM:
        n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s = %s\n", key->name,
                              key->choices[*(const int *)field]);
        break;
      case EF_KEY_STRING:
        n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s = %s\n", key->name,
                              (const char *)field);
        break;
      }
    }
  return n < cap ? 0 : -1;
}
