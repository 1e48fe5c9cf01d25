/* cli/gen_common.c: the shared command line and setup of `generate` and `translate`. It must
 * never guess a file silently: every path it derives is printed in the error when missing. */
#include "cli/gen_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/to_runtime.h"
#include "train/checkpoint.h"
#include "train/checkpoint_blob.h"

#define GEN_ERR_LEN 512
#define GEN_MAX_ARGS 256

static int is_bool_key(const char *name) {
  char key[128];
  snprintf(key, sizeof key, "%s", name);
  for (char *p = key; *p; p++)
    if (*p == '-') *p = '_';
  for (int i = 0; i < ef_gen_n_keys; i++)
    if (!strcmp(ef_gen_keys[i].name, key)) return ef_gen_keys[i].type == EF_KEY_BOOL;
  return 0;
}

int gen_cli_parse(int argc, char **argv, gen_cli *c, void (*usage)(FILE *)) {
  memset(c, 0, sizeof *c);
  c->subset = "test";
  ef_gen_opts_default(&c->gen);
  char *rest[GEN_MAX_ARGS];
  int nr = 0;
  static const struct {
    const char *flag;
    size_t off;
  } paths[] = {
      {"--data", offsetof(gen_cli, data)},         {"--gen-subset", offsetof(gen_cli, subset)},
      {"--spm", offsetof(gen_cli, spm)},           {"--src-dict", offsetof(gen_cli, src_dict)},
      {"--tgt-dict", offsetof(gen_cli, tgt_dict)}, {"--results-path", offsetof(gen_cli, results)}};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout), 3;
    int handled = 0;
    for (size_t p = 0; p < sizeof paths / sizeof *paths && !handled; p++)
      if (!strcmp(a, paths[p].flag)) {
        if (i + 1 >= argc) {
          fprintf(stderr, "error: %s needs a value\n", a);
          return 2;
        }
        *(const char **)((char *)c + paths[p].off) = argv[++i];
        handled = 1;
      }
    if (handled) continue;
    if (strncmp(a, "--", 2)) {
      if (c->checkpoint) {
        fprintf(stderr, "error: unexpected argument '%s' (one checkpoint only)\n", a);
        return 2;
      }
      c->checkpoint = a;
      continue;
    }
    if (nr + 2 >= GEN_MAX_ARGS) {
      fprintf(stderr, "error: too many options\n");
      return 2;
    }
    rest[nr++] = argv[i];
    if (!strchr(a, '=') && is_bool_key(a + 2) && (i + 1 >= argc || !strncmp(argv[i + 1], "--", 2)))
      rest[nr++] = "true"; /* fairseq-style flag */
    else if (!strchr(a, '=') && i + 1 < argc)
      rest[nr++] = argv[++i];
  }
  if (!c->checkpoint) {
    usage(stderr);
    return 2;
  }
  char err[GEN_ERR_LEN];
  ef_config_table t = {ef_gen_keys, ef_gen_n_keys, &c->gen};
  if (ef_config_apply_args(&t, 1, nr, rest, 0, err, sizeof err)) {
    fprintf(stderr, "error: %s\n", err);
    return 2;
  }
  if (c->gen.nbest > c->gen.beam) {
    fprintf(stderr, "error: --nbest %d is larger than --beam %d\n", c->gen.nbest, c->gen.beam);
    return 2;
  }
  return 0;
}

static int need_file(const char *path, const char *what) {
  if (access(path, R_OK) == 0) return 0;
  fprintf(stderr, "error: %s: cannot read the %s (give it with the option shown in --help)\n", path,
          what);
  return 1;
}

/* The tokenizer files: --spm / --src-dict / --tgt-dict when given, else the ones embedded in
 * the checkpoint (/tokenizer, written by `import`), else <data>/spm.model and
 * <data>/dict.<lang>.txt. Prints the error; 0 or 1. */
static int open_codec(gen_session *s, const gen_cli *c, char *sd, size_t sdn, char *td,
                      size_t tdn) {
  char err[GEN_ERR_LEN], spm[EF_PATH_MAX + 64];
  const char *given[3] = {c->spm, c->src_dict, c->tgt_dict};
  static const char *const blob_name[3] = {EF_CKPT_BLOB_SPM, EF_CKPT_BLOB_SRC_DICT,
                                           EF_CKPT_BLOB_TGT_DICT};
  void *blob[3] = {NULL, NULL, NULL};
  size_t blen[3] = {0, 0, 0};
  char bname[3][EF_PATH_MAX + 64];
  int rc = 1;
  for (int k = 0; k < 3; k++) {
    if (given[k] && !(k == 1 && !given[2])) continue; /* the source one may serve as target */
    int r = ef_ckpt_read_blob(c->checkpoint, blob_name[k], &blob[k], &blen[k], err, sizeof err);
    if (r < 0) {
      fprintf(stderr, "error: %s\n", err);
      goto done;
    }
    snprintf(bname[k], sizeof bname[k], "%s:/%s/%s", c->checkpoint, EF_CKPT_BLOB_GROUP,
             blob_name[k]);
  }
  if (given[1] && blob[1]) { /* read only as the target's fallback */
    if (!blob[2]) {
      blob[2] = blob[1];
      blen[2] = blen[1];
      snprintf(bname[2], sizeof bname[2], "%s", bname[1]);
    } else {
      free(blob[1]);
    }
    blob[1] = NULL;
  }
  if (!given[2] && !blob[2] && blob[1]) { /* one vocabulary: the target is the source */
    blob[2] = blob[1];
    blen[2] = blen[1];
    snprintf(bname[2], sizeof bname[2], "%s", bname[1]);
  }
  snprintf(spm, sizeof spm, "%s", c->spm ? c->spm : blob[0] ? bname[0] : "");
  if (!c->spm && !blob[0]) snprintf(spm, sizeof spm, "%s/spm.model", s->data);
  if (c->src_dict || blob[1])
    snprintf(sd, sdn, "%s", c->src_dict ? c->src_dict : bname[1]);
  else
    snprintf(sd, sdn, "%s/dict.%s.txt", s->data, s->to.source_lang);
  if (c->tgt_dict || blob[2])
    snprintf(td, tdn, "%s", c->tgt_dict ? c->tgt_dict : bname[2]);
  else
    snprintf(td, tdn, "%s/dict.%s.txt", s->data, s->to.target_lang);
  const void *tgt_data = blob[2];
  if ((!blob[0] && need_file(spm, "SentencePiece model (--spm)")) ||
      (!blob[1] && need_file(sd, "source dictionary (--src-dict)")) ||
      (!tgt_data && need_file(td, "target dictionary (--tgt-dict)")))
    goto done;
  ef_codec_src in[3] = {{spm, blob[0], blen[0]}, {sd, blob[1], blen[1]}, {td, tgt_data, blen[2]}};
  if (ef_codec_open_src(&s->codec, &in[0], &in[1], &in[2], err, sizeof err)) {
    fprintf(stderr, "error: %s\n", err);
    goto done;
  }
  rc = 0;
done:
  free(blob[0]);
  free(blob[1]);
  if (blob[2] != blob[1]) free(blob[2]);
  return rc;
}

int gen_session_open(gen_session *s, const gen_cli *c) {
  memset(s, 0, sizeof *s);
  char err[GEN_ERR_LEN];
  if (ef_ckpt_load_model(c->checkpoint, &s->model, &s->to, err, sizeof err)) {
    fprintf(stderr, "error: %s\n", err);
    return 1;
  }
  snprintf(s->data, sizeof s->data, "%s", c->data ? c->data : s->to.data);
  char sd[EF_PATH_MAX + 64], td[EF_PATH_MAX + 64];
  if (open_codec(s, c, sd, sizeof sd, td, sizeof td)) goto fail;
  int V = s->model->cfg.vocab_size;
  if (ef_dict_size(s->codec.dict[0]) != V || ef_dict_size(s->codec.dict[1]) != V) {
    fprintf(stderr,
            "error: %s / %s have %d / %d symbols but %s has a vocabulary of %d: not the "
            "dictionaries this model was trained with\n",
            sd, td, ef_dict_size(s->codec.dict[0]), ef_dict_size(s->codec.dict[1]), c->checkpoint,
            V);
    goto fail;
  }
  if (ef_model_to_runtime(s->model, &s->rt, err, sizeof err)) {
    fprintf(stderr, "error: %s: %s\n", c->checkpoint, err);
    goto fail;
  }
  return 0;
fail:
  gen_session_close(s);
  return 1;
}

void gen_session_close(gen_session *s) {
  rt_model_free(s->rt);
  ef_model_free(s->model);
  ef_codec_close(&s->codec);
  memset(s, 0, sizeof *s);
}
