/* config.h: the model configuration and the table-driven INI machinery behind it.
 *
 * A config is a plain struct filled from a table of keys (section, name, type, offset,
 * bounds). Files are read with libinih; every key can be overridden from the command line
 * (`--key value` or `--section.key value`). Unknown keys are errors that suggest the nearest
 * valid key; wrong types, out-of-range and inconsistent values are errors naming the key.
 * Other layers (optim/, train/) describe their own sections with the same ef_key tables.
 */
#ifndef EF_MODEL_CONFIG_H
#define EF_MODEL_CONFIG_H

#include <stddef.h>

#define EF_CONFIG_ERR_LEN 512
#define EF_CONFIG_MAX_TABLES 8

typedef enum { EF_KEY_INT, EF_KEY_FLOAT, EF_KEY_BOOL, EF_KEY_ENUM, EF_KEY_STRING } ef_key_type;

typedef struct ef_key {
  const char *section;
  const char *name;
  ef_key_type type;
  size_t offset;               /* into the struct the table describes */
  double min, max;             /* INT / FLOAT bounds (inclusive); STRING: max = buffer size */
  const char *const *choices;  /* EF_KEY_ENUM: NULL-terminated; stored as the index (int) */
  const char *help;
} ef_key;

/* One struct described by one key table. */
typedef struct ef_config_table {
  const ef_key *keys;
  int n_keys;
  void *target;
} ef_config_table;

typedef enum { EF_LA_NONE = 0, EF_LA_BIAS, EF_LA_ADAPTER, EF_LA_PREFIX } ef_layer_adaptation;
typedef enum { EF_DEC_INTERLEAVED = 0, EF_DEC_STANDARD } ef_decoder_layout;
typedef enum { EF_DEC_ATTN_ENCODER = 0, EF_DEC_ATTN_OWN } ef_decoder_attn;
typedef enum { EF_ACT_RELU = 0, EF_ACT_GELU } ef_activation;

typedef struct ef_model_config {
  int encoder_layers, decoder_layers, embed_dim, attention_heads;
  int encoder_ffn_dim, decoder_ffn_dim;
  int encoder_attn_sets, encoder_ffn_sets, decoder_layer_sets;
  int decoder_layout;  /* ef_decoder_layout */
  int decoder_attn;    /* ef_decoder_attn */
  int share_layer_norm;
  int layer_adaptation; /* ef_layer_adaptation */
  int lora_rank, prefix_length;
  int activation; /* ef_activation */
  float dropout, label_smoothing;
  int max_source_positions, max_target_positions;
  int vocab_size;
} ef_model_config;

extern const ef_key ef_model_keys[];
extern const int ef_model_n_keys;

/* EdgeLM's values (configs/edgelm.ini says the same). */
void ef_model_config_default(ef_model_config *c);
/* Consistency checks beyond per-key bounds (heads divide d, sets <= layers, ...).
 * 0 or -1 with "[model] key = value: problem" in err. */
int ef_model_config_check(const ef_model_config *c, char *err, size_t errlen);

/* Set one key by name ("name" or "section.name") from its text value. 0 / -1 with message. */
int ef_config_set(const ef_config_table *tables, int n_tables, const char *section,
                  const char *name, const char *value, char *err, size_t errlen);
/* Read an INI file into the tables. Message names the file. */
int ef_config_load(const ef_config_table *tables, int n_tables, const char *path, char *err,
                   size_t errlen);
/* Same, from INI text held in memory (e.g. a checkpoint's /config); name is for messages. */
int ef_config_load_text(const ef_config_table *tables, int n_tables, const char *text,
                        const char *name, char *err, size_t errlen);
/* Resolve --config: a path, or a preset name looked up as configs/<name>.ini (in the
 * current directory's configs/, then the source tree's). Fills path. */
int ef_config_resolve(const char *name, char *path, size_t pathlen, char *err, size_t errlen);
/* Apply `--key value` pairs from argv[first..argc); unknown options are errors. Arguments
 * that are not `--key value` pairs are left alone only if `consumed` marks them (may be NULL:
 * then every argument must be a key). */
int ef_config_apply_args(const ef_config_table *tables, int n_tables, int argc, char **argv,
                         int first, char *err, size_t errlen);
/* Write the tables as INI text (used in checkpoints and `info`). */
int ef_config_format(const ef_config_table *tables, int n_tables, char *out, size_t cap);
/* The key whose name is closest (edit distance) to name, for "did you mean". */
const char *ef_config_nearest(const ef_config_table *tables, int n_tables, const char *name);

#endif
