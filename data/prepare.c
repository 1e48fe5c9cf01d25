/* data/prepare.c: the logic of `edgeformer prepare` (contract in prepare.h): inputs -> optional
 * spm_train -> SentencePiece tokenisation -> dictionaries -> one HDF5 dataset per split.
 * It must never write outside destdir, never overwrite an existing dictionary it was not asked
 * to reuse, and never drop a line without counting it in the printed statistics. */
#include "data/prepare.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data/dataset.h"
#include "data/dictionary.h"
#include "data/sha256.h"
#include "data/text.h"
#include "runtime/spm.h"

extern char **environ;

#define EF_PREPARE_PATH_BYTES 4096
#define EF_PREPARE_ERR_BYTES 1024
#define EF_PREPARE_SPLIT_NAME_BYTES 32
#define EF_PREPARE_SPM_INITIAL_OUT 4096 /* bytes of the piece buffer before it grows */
#define EF_PREPARE_SPM_RETRIES 8        /* doublings of the piece buffer before giving up */
#define EF_PREPARE_LOG_TAIL_BYTES 4096  /* bytes of spm_train's log quoted on failure */

typedef struct split {
  char name[EF_PREPARE_SPLIT_NAME_BYTES];
  char src_path[EF_PREPARE_PATH_BYTES], tgt_path[EF_PREPARE_PATH_BYTES];
  ef_text raw[2]; /* source, target */
  ef_text tok[2]; /* tokenised (only with SentencePiece) */
  int tokenised;
} split;

typedef struct prep {
  ef_prepare_opts o;
  split splits[EF_PREPARE_MAX_SPLITS];
  int nsplits;
  rt_spm *spm;
  char spm_sha[EF_SHA256_HEX_LEN + 1];
  char spm_path[EF_PREPARE_PATH_BYTES];
  ef_dict *dict[2];
  FILE *log;
} prep;

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                          ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

void ef_prepare_opts_default(ef_prepare_opts *o) {
  memset(o, 0, sizeof *o);
  o->source_lang = "src";
  o->target_lang = "tgt";
  o->destdir = "data-bin";
  o->nwordssrc = o->nwordstgt = -1;
  o->padding_factor = EF_DICT_PADDING_FACTOR;
  o->spm_type = "unigram";
  o->spm_train_bin = "spm_train";
}

static const ef_text *side_text(const split *s, int side) {
  return s->tokenised ? &s->tok[side] : &s->raw[side];
}

static const char *lang(const prep *p, int side) {
  return side ? p->o.target_lang : p->o.source_lang;
}

static int path_join(char *out, const char *dir, const char *name, char *err, size_t errlen) {
  if (snprintf(out, EF_PREPARE_PATH_BYTES, "%s/%s", dir, name) >= EF_PREPARE_PATH_BYTES) {
    set_err(err, errlen, "%s/%s: path too long", dir, name);
    return 1;
  }
  return 0;
}

static int mkdir_p(const char *dir, char *err, size_t errlen) {
  char buf[EF_PREPARE_PATH_BYTES];
  if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) {
    set_err(err, errlen, "%s: path too long", dir);
    return 1;
  }
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
        set_err(err, errlen, "%s: cannot create folder: %s", buf, strerror(errno));
        return 1;
      }
      *p = c;
      if (!c) break;
    }
  }
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    set_err(err, errlen, "%s: not a folder", dir);
    return 1;
  }
  return 0;
}

/* ---- inputs ------------------------------------------------------------------------------ */

static int add_split(prep *p, const char *base, int k, const char *pref, int tsv, char *err,
                     size_t errlen) {
  if (p->nsplits >= EF_PREPARE_MAX_SPLITS) {
    set_err(err, errlen, "more than %d splits", EF_PREPARE_MAX_SPLITS);
    return 1;
  }
  split *s = &p->splits[p->nsplits++];
  if (k > 0)
    snprintf(s->name, sizeof s->name, "%s%d", base, k);
  else
    snprintf(s->name, sizeof s->name, "%s", base);
  int rc;
  if (tsv) {
    snprintf(s->src_path, sizeof s->src_path, "%s", pref);
    snprintf(s->tgt_path, sizeof s->tgt_path, "%s", pref);
    rc = ef_text_read_tsv(pref, &s->raw[0], &s->raw[1], err, errlen);
  } else {
    if (snprintf(s->src_path, sizeof s->src_path, "%s.%s", pref, p->o.source_lang) >=
            (int)sizeof s->src_path ||
        snprintf(s->tgt_path, sizeof s->tgt_path, "%s.%s", pref, p->o.target_lang) >=
            (int)sizeof s->tgt_path) {
      set_err(err, errlen, "%s: path too long", pref);
      return 1;
    }
    rc = ef_text_read(s->src_path, &s->raw[0], err, errlen) ||
         ef_text_read(s->tgt_path, &s->raw[1], err, errlen);
    if (!rc && s->raw[0].n != s->raw[1].n) {
      set_err(err, errlen, "%s has %lld lines but %s has %lld: the files must be line-aligned",
              s->src_path, (long long)s->raw[0].n, s->tgt_path, (long long)s->raw[1].n);
      rc = 1;
    }
  }
  return rc;
}

/* One kind of split from a text-prefix list and/or a TSV list (comma-separated). */
static int add_splits(prep *p, const char *base, const char *prefs, const char *tsvs, char *err,
                      size_t errlen) {
  if (prefs && tsvs) {
    set_err(err, errlen, "--%spref and --%s-tsv both given: choose one input for the %s split",
            base, base, base);
    return 1;
  }
  const char *list = prefs ? prefs : tsvs;
  if (!list) return 0;
  char buf[EF_PREPARE_PATH_BYTES * 4];
  if (snprintf(buf, sizeof buf, "%s", list) >= (int)sizeof buf) {
    set_err(err, errlen, "--%s list too long", base);
    return 1;
  }
  char *save = NULL;
  int k = 0;
  for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save), k++) {
    if (!strcmp(base, "train") && k > 0) {
      set_err(err, errlen, "only one train input is supported ('%s')", list);
      return 1;
    }
    if (add_split(p, base, k, item, tsvs != NULL, err, errlen)) return 1;
  }
  return 0;
}

/* ---- SentencePiece ----------------------------------------------------------------------- */

static void quote_log_tail(const char *logpath, char *out, size_t cap) {
  out[0] = '\0';
  FILE *f = fopen(logpath, "rb");
  if (!f) return;
  char buf[EF_PREPARE_LOG_TAIL_BYTES + 1];
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, size > EF_PREPARE_LOG_TAIL_BYTES ? size - EF_PREPARE_LOG_TAIL_BYTES : 0, SEEK_SET);
  size_t n = fread(buf, 1, EF_PREPARE_LOG_TAIL_BYTES, f);
  fclose(f);
  buf[n] = '\0';
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ')) buf[--n] = 0;
  char *last = strrchr(buf, '\n');
  /* sentencepiece ends with a generic line; the cause is on the line before it. */
  if (last && !strncmp(last + 1, "Program terminated", 18)) {
    *last = '\0';
    last = strrchr(buf, '\n');
  }
  const char *src = last ? last + 1 : buf;
  size_t m = strlen(src) < cap ? strlen(src) : cap - 1;
  memcpy(out, src, m);
  out[m] = '\0';
}

static int run_spm_train(prep *p, char *err, size_t errlen) {
  const ef_prepare_opts *o = &p->o;
  split *train = NULL;
  for (int i = 0; i < p->nsplits; i++)
    if (!strcmp(p->splits[i].name, "train")) train = &p->splits[i];
  if (!train) {
    set_err(err, errlen, "--spm-train needs training text (--trainpref or --train-tsv)");
    return 1;
  }
  char input[EF_PREPARE_PATH_BYTES], prefix[EF_PREPARE_PATH_BYTES], logpath[EF_PREPARE_PATH_BYTES];
  if (path_join(input, o->destdir, "spm_train.input.txt", err, errlen) ||
      path_join(prefix, o->destdir, "spm", err, errlen) ||
      path_join(logpath, o->destdir, "spm_train.log", err, errlen))
    return 1;
  FILE *f = fopen(input, "wb");
  if (!f) {
    set_err(err, errlen, "%s: cannot create: %s", input, strerror(errno));
    return 1;
  }
  int bad = 0;
  for (int side = 0; side < 2; side++)
    for (int64_t i = 0; i < train->raw[side].n; i++) {
      size_t len;
      const char *s = ef_text_line(&train->raw[side], i, &len);
      if (len == 0) continue;
      bad |= fwrite(s, 1, len, f) != len || fputc('\n', f) == EOF;
    }
  bad |= fclose(f) != 0;
  if (bad) {
    set_err(err, errlen, "%s: write failed (disk full?)", input);
    remove(input);
    return 1;
  }
  char a_input[EF_PREPARE_PATH_BYTES + 16], a_prefix[EF_PREPARE_PATH_BYTES + 16], a_vocab[64],
      a_type[64];
  snprintf(a_input, sizeof a_input, "--input=%s", input);
  snprintf(a_prefix, sizeof a_prefix, "--model_prefix=%s", prefix);
  snprintf(a_vocab, sizeof a_vocab, "--vocab_size=%lld", (long long)o->spm_train_vocab);
  snprintf(a_type, sizeof a_type, "--model_type=%s", o->spm_type);
  char *argv[] = {(char *)o->spm_train_bin,   a_input,           a_prefix, a_vocab, a_type,
                  "--character_coverage=1.0", "--num_threads=2", NULL};
  fprintf(p->log, "prepare: running %s %s %s %s %s --character_coverage=1.0 (log: %s)\n",
          o->spm_train_bin, a_input, a_prefix, a_vocab, a_type, logpath);
  fflush(p->log);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid;
  int rc = posix_spawnp(&pid, o->spm_train_bin, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    set_err(err, errlen, "cannot run %s: %s (install the Debian package sentencepiece)",
            o->spm_train_bin, strerror(rc));
    remove(input);
    return 1;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  remove(input);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    char tail[512];
    quote_log_tail(logpath, tail, sizeof tail);
    set_err(err, errlen, "%s failed (%s %d), see %s: %s", o->spm_train_bin,
            WIFEXITED(status) ? "exit status" : "signal",
            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), logpath, tail);
    return 1;
  }
  return path_join(p->spm_path, o->destdir, EF_PREPARE_SPM_NAME, err, errlen);
}

/* Load the model, fingerprint it and put a copy in destdir (unless it is already there). */
static int load_spm(prep *p, char *err, size_t errlen) {
  char dest[EF_PREPARE_PATH_BYTES], rs[PATH_MAX], rd[PATH_MAX];
  if (path_join(dest, p->o.destdir, EF_PREPARE_SPM_NAME, err, errlen)) return 1;
  if (rt_spm_load(p->spm_path, &p->spm, err, errlen)) return 1;
  if (ef_sha256_file(p->spm_path, p->spm_sha, err, errlen)) return 1;
  int same = realpath(p->spm_path, rs) && realpath(dest, rd) && !strcmp(rs, rd);
  if (same) return 0;
  FILE *in = fopen(p->spm_path, "rb");
  char tmp[EF_PREPARE_PATH_BYTES + 32];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", dest, (long)getpid());
  FILE *out = fopen(tmp, "wb");
  int bad = !in || !out;
  char buf[65536];
  size_t n;
  while (!bad && (n = fread(buf, 1, sizeof buf, in)) > 0) bad |= fwrite(buf, 1, n, out) != n;
  if (in) bad |= ferror(in), fclose(in);
  if (out) bad |= fclose(out) != 0;
  if (bad || rename(tmp, dest)) {
    set_err(err, errlen, "%s: cannot copy the SentencePiece model there: %s", dest,
            strerror(errno));
    remove(tmp);
    return 1;
  }
  return 0;
}

static int tokenise_split(prep *p, split *s, char **buf, size_t *cap, char *err, size_t errlen) {
  for (int side = 0; side < 2; side++) {
    const ef_text *raw = &s->raw[side];
    ef_text *out = &s->tok[side];
    const char *path = side ? s->tgt_path : s->src_path;
    ef_text_init(out);
    for (int64_t i = 0; i < raw->n; i++) {
      size_t len;
      const char *line = ef_text_line(raw, i, &len);
      char msg[EF_PREPARE_ERR_BYTES];
      int got = -1;
      for (int t = 0; t < EF_PREPARE_SPM_RETRIES && got < 0; t++) {
        if (*cap < 4 * len + EF_PREPARE_SPM_INITIAL_OUT || t > 0) {
          size_t nc = *cap ? *cap * 2 : EF_PREPARE_SPM_INITIAL_OUT;
          while (nc < 4 * len + EF_PREPARE_SPM_INITIAL_OUT) nc *= 2;
          char *nb = realloc(*buf, nc);
          if (!nb) {
            set_err(err, errlen, "%s:%lld: out of memory tokenising", path, (long long)i + 1);
            return 1;
          }
          *buf = nb;
          *cap = nc;
        }
        got = rt_spm_encode_pieces(p->spm, line, len, *buf, *cap, msg, sizeof msg);
      }
      if (got < 0) {
        set_err(err, errlen, "%s:%lld: SentencePiece: %s", path, (long long)i + 1, msg);
        return 1;
      }
      if (ef_text_append(out, *buf, strlen(*buf))) {
        set_err(err, errlen, "%s:%lld: out of memory", path, (long long)i + 1);
        return 1;
      }
    }
  }
  s->tokenised = 1;
  return 0;
}

/* ---- dictionaries ------------------------------------------------------------------------ */

static int build_dict(prep *p, const int *sides, int nsides, int64_t threshold, int64_t nwords,
                      ef_dict **out, char *err, size_t errlen) {
  split *train = NULL;
  for (int i = 0; i < p->nsplits; i++)
    if (!strcmp(p->splits[i].name, "train")) train = &p->splits[i];
  if (!train) {
    set_err(err, errlen,
            "building a dictionary needs --trainpref or --train-tsv (or reuse one with "
            "--srcdict/--tgtdict)");
    return 1;
  }
  ef_dict *d = ef_dict_new();
  if (!d) {
    set_err(err, errlen, "out of memory");
    return 1;
  }
  char msg[EF_PREPARE_ERR_BYTES];
  for (int k = 0; k < nsides; k++) {
    const ef_text *t = side_text(train, sides[k]);
    for (int64_t i = 0; i < t->n; i++) {
      size_t len;
      const char *line = ef_text_line(t, i, &len);
      if (ef_dict_count_line(d, line, len, msg, sizeof msg)) {
        set_err(err, errlen, "%s:%lld: %s", sides[k] ? train->tgt_path : train->src_path,
                (long long)i + 1, msg);
        ef_dict_free(d);
        return 1;
      }
    }
  }
  if (ef_dict_finalize(d, threshold, nwords, p->o.padding_factor, msg, sizeof msg)) {
    set_err(err, errlen, "dictionary: %s", msg);
    ef_dict_free(d);
    return 1;
  }
  *out = d;
  return 0;
}

static int make_dicts(prep *p, char *err, size_t errlen) {
  const ef_prepare_opts *o = &p->o;
  const char *given[2] = {o->srcdict, o->tgtdict};
  if (o->joined_dictionary) {
    const char *g = o->srcdict ? o->srcdict : o->tgtdict;
    static const int both[2] = {0, 1};
    if (g ? ef_dict_load(g, &p->dict[0], err, errlen)
          : build_dict(p, both, 2, o->thresholdsrc, o->nwordssrc, &p->dict[0], err, errlen))
      return 1;
    fprintf(p->log, "prepare: [%s+%s] joined dictionary: %d types (%s%s)\n", o->source_lang,
            o->target_lang, ef_dict_size(p->dict[0]), g ? "reused " : "built from train",
            g ? g : "");
  } else {
    for (int side = 0; side < 2; side++) {
      int one[1] = {side};
      if (given[side] ? ef_dict_load(given[side], &p->dict[side], err, errlen)
                      : build_dict(p, one, 1, side ? o->thresholdtgt : o->thresholdsrc,
                                   side ? o->nwordstgt : o->nwordssrc, &p->dict[side], err, errlen))
        return 1;
      fprintf(p->log, "prepare: [%s] dictionary: %d types (%s%s)\n", lang(p, side),
              ef_dict_size(p->dict[side]), given[side] ? "reused " : "built from train",
              given[side] ? given[side] : "");
    }
  }
  for (int side = 0; side < 2; side++) {
    const ef_dict *d = p->dict[o->joined_dictionary ? 0 : side];
    char name[EF_PREPARE_PATH_BYTES / 2], path[EF_PREPARE_PATH_BYTES];
    snprintf(name, sizeof name, "dict.%s.txt", lang(p, side));
    if (path_join(path, o->destdir, name, err, errlen) || ef_dict_save(d, path, err, errlen))
      return 1;
  }
  return 0;
}

/* ---- binarise ---------------------------------------------------------------------------- */

static int binarise_split(prep *p, split *s, char *err, size_t errlen) {
  const ef_prepare_opts *o = &p->o;
  const ef_dict *dict[2] = {p->dict[0], p->dict[o->joined_dictionary ? 0 : 1]};
  const ef_text *text[2] = {side_text(s, 0), side_text(s, 1)};
  ef_dataset ds;
  ef_dataset_init(&ds);
  snprintf(ds.split, sizeof ds.split, "%s", s->name);
  snprintf(ds.spm_sha256, sizeof ds.spm_sha256, "%s", p->spm ? p->spm_sha : "");
  snprintf(ds.spm_model, sizeof ds.spm_model, "%s", p->spm ? EF_PREPARE_SPM_NAME : "");
  ef_dataset_side *sides[2] = {&ds.src, &ds.tgt};
  for (int side = 0; side < 2; side++) {
    snprintf(sides[side]->lang, sizeof sides[side]->lang, "%s", lang(p, side));
    sides[side]->dict_size = ef_dict_size(dict[side]);
    if (ef_dict_checksum(dict[side], sides[side]->dict_sha256)) {
      set_err(err, errlen, "out of memory");
      return 1;
    }
  }
  /* The id buffers are sized once to the longest line of the split. */
  int64_t longest = 0;
  for (int side = 0; side < 2; side++)
    for (int64_t i = 0; i < text[side]->n; i++) {
      size_t len;
      const char *line = ef_text_line(text[side], i, &len);
      int64_t n = ef_dict_count_tokens(line, len);
      if (n > EF_PREPARE_MAX_LINE_TOKENS) {
        set_err(err, errlen, "%s:%lld: %lld tokens, more than the limit %d",
                side ? s->tgt_path : s->src_path, (long long)i + 1, (long long)n,
                EF_PREPARE_MAX_LINE_TOKENS);
        return 1;
      }
      longest = n > longest ? n : longest;
    }
  int cap = (int)longest + 1;
  int32_t *ids[2] = {malloc((size_t)cap * sizeof(int32_t)), malloc((size_t)cap * sizeof(int32_t))};
  int rc = 1;
  int64_t empty_src = 0, empty_tgt = 0, empty_both = 0;
  char msg[EF_PREPARE_ERR_BYTES];
  if (!ids[0] || !ids[1]) {
    set_err(err, errlen, "out of memory");
    goto out;
  }
  for (int64_t i = 0; i < text[0]->n; i++) {
    int n[2], unk[2];
    for (int side = 0; side < 2; side++) {
      size_t len;
      const char *line = ef_text_line(text[side], i, &len);
      n[side] =
          ef_dict_encode_line(dict[side], line, len, ids[side], cap, &unk[side], msg, sizeof msg);
      if (n[side] < 0) {
        set_err(err, errlen, "%s:%lld: %s", side ? s->tgt_path : s->src_path, (long long)i + 1,
                msg);
        goto out;
      }
      /* A literal `<pad>` token would become id 1 in fairseq and corrupt the padding masks;
       * it is mapped to <unk> and counted as replaced instead. */
      for (int k = 0; k < n[side]; k++)
        if (ids[side][k] == EF_DICT_PAD) ids[side][k] = EF_DICT_UNK, unk[side]++;
    }
    if (!o->keep_empty && (n[0] == 1 || n[1] == 1)) {
      empty_both += n[0] == 1 && n[1] == 1;
      empty_src += n[0] == 1 && n[1] != 1;
      empty_tgt += n[0] != 1 && n[1] == 1;
      continue;
    }
    if (ef_dataset_append(&ds, ids[0], n[0], ids[1], n[1], i + 1, msg, sizeof msg)) {
      set_err(err, errlen, "%s: %s", s->src_path, msg);
      goto out;
    }
    ds.src.n_unk += unk[0];
    ds.tgt.n_unk += unk[1];
  }
  for (int side = 0; side < 2; side++) {
    const ef_dataset_side *d = sides[side];
    fprintf(p->log, "prepare: [%s] %s: %lld sents, %lld tokens, %.3g%% replaced (by <unk>)\n",
            lang(p, side), s->name, (long long)ds.n, (long long)d->n_tokens,
            d->n_tokens ? 100.0 * (double)d->n_unk / (double)d->n_tokens : 0.0);
  }
  char path[EF_PREPARE_PATH_BYTES], name[EF_PREPARE_SPLIT_NAME_BYTES + 8];
  snprintf(name, sizeof name, "%s.h5", s->name);
  if (path_join(path, o->destdir, name, err, errlen) || ef_dataset_write(&ds, path, err, errlen))
    goto out;
  fprintf(p->log,
          "prepare: %s: %lld lines, %lld pairs, %lld dropped (%lld empty source, %lld empty "
          "target, %lld empty both) -> %s\n",
          s->name, (long long)text[0]->n, (long long)ds.n,
          (long long)(empty_src + empty_tgt + empty_both), (long long)empty_src,
          (long long)empty_tgt, (long long)empty_both, path);
  fflush(p->log);
  rc = 0;
out:
  free(ids[0]);
  free(ids[1]);
  ef_dataset_release(&ds);
  return rc;
}

/* ---- driver ------------------------------------------------------------------------------ */

static int check_opts(const ef_prepare_opts *o, char *err, size_t errlen) {
  const char *langs[2] = {o->source_lang, o->target_lang};
  for (int i = 0; i < 2; i++)
    if (!langs[i][0] || strchr(langs[i], '/') || strlen(langs[i]) >= EF_DATASET_NAME_BYTES) {
      set_err(err, errlen, "language '%s' must be a non-empty name without '/' (< %d bytes)",
              langs[i], EF_DATASET_NAME_BYTES);
      return 1;
    }
  if (!strcmp(o->source_lang, o->target_lang)) {
    set_err(err, errlen, "--source-lang and --target-lang must differ (they name the files)");
    return 1;
  }
  if (!o->trainpref && !o->validpref && !o->testpref && !o->train_tsv && !o->valid_tsv &&
      !o->test_tsv) {
    set_err(err, errlen, "no input: give --trainpref/--validpref/--testpref or --train-tsv/...");
    return 1;
  }
  if (o->spm_model && o->spm_train_vocab > 0) {
    set_err(err, errlen, "--spm and --spm-train exclude each other");
    return 1;
  }
  if (o->spm_train_vocab > 0 && (o->srcdict || o->tgtdict)) {
    set_err(err, errlen,
            "--spm-train learns a new vocabulary: it cannot reuse --srcdict/--tgtdict");
    return 1;
  }
  if (strcmp(o->spm_type, "unigram") && strcmp(o->spm_type, "bpe")) {
    set_err(err, errlen, "--spm-type must be unigram or bpe, not '%s'", o->spm_type);
    return 1;
  }
  if (o->joined_dictionary && o->srcdict && o->tgtdict) {
    set_err(err, errlen, "cannot use both --srcdict and --tgtdict with --joined-dictionary");
    return 1;
  }
  return 0;
}

int ef_prepare_run(const ef_prepare_opts *opts, char *err, size_t errlen) {
  prep *p = calloc(1, sizeof *p);
  if (!p) {
    set_err(err, errlen, "out of memory");
    return 1;
  }
  p->o = *opts;
  p->log = opts->log ? opts->log : stdout;
  ef_prepare_opts *o = &p->o;
  char *piece_buf = NULL;
  size_t piece_cap = 0;
  int rc = 1;
  if (check_opts(o, err, errlen) || mkdir_p(o->destdir, err, errlen)) goto out;
  /* fairseq refuses to overwrite a dictionary in destdir it was not told to reuse. */
  for (int side = 0; side < 2; side++) {
    const char *given =
        side ? (o->joined_dictionary ? (o->tgtdict ? o->tgtdict : o->srcdict) : o->tgtdict)
             : (o->joined_dictionary ? (o->srcdict ? o->srcdict : o->tgtdict) : o->srcdict);
    char name[EF_PREPARE_PATH_BYTES / 2], path[EF_PREPARE_PATH_BYTES];
    snprintf(name, sizeof name, "dict.%s.txt", lang(p, side));
    if (path_join(path, o->destdir, name, err, errlen)) goto out;
    if (!given && access(path, F_OK) == 0) {
      set_err(err, errlen,
              "%s already exists: pass it with --%s to reuse it, or choose another --destdir", path,
              side ? "tgtdict" : "srcdict");
      goto out;
    }
  }
  if (add_splits(p, "train", o->trainpref, o->train_tsv, err, errlen) ||
      add_splits(p, "valid", o->validpref, o->valid_tsv, err, errlen) ||
      add_splits(p, "test", o->testpref, o->test_tsv, err, errlen))
    goto out;
  if (o->spm_train_vocab > 0) {
    if (run_spm_train(p, err, errlen)) goto out;
  } else if (o->spm_model) {
    snprintf(p->spm_path, sizeof p->spm_path, "%s", o->spm_model);
  }
  if (p->spm_path[0]) {
    if (load_spm(p, err, errlen)) goto out;
    fprintf(p->log, "prepare: SentencePiece model %s (%d pieces, sha256 %.12s...)\n", p->spm_path,
            rt_spm_vocab_size(p->spm), p->spm_sha);
    for (int i = 0; i < p->nsplits; i++)
      if (tokenise_split(p, &p->splits[i], &piece_buf, &piece_cap, err, errlen)) goto out;
  }
  if (make_dicts(p, err, errlen)) goto out;
  if (!o->dict_only)
    for (int i = 0; i < p->nsplits; i++)
      if (binarise_split(p, &p->splits[i], err, errlen)) goto out;
  fprintf(p->log, "prepare: wrote preprocessed data to %s\n", o->destdir);
  rc = 0;
out:
  free(piece_buf);
  for (int i = 0; i < p->nsplits; i++)
    for (int side = 0; side < 2; side++) {
      ef_text_release(&p->splits[i].raw[side]);
      ef_text_release(&p->splits[i].tok[side]);
    }
  rt_spm_free(p->spm);
  ef_dict_free(p->dict[0]);
  ef_dict_free(p->dict[1]);
  free(p);
  return rc;
}
