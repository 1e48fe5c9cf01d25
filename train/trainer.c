/* trainer.c: the training loop (see trainer.h). Must never lose a checkpoint (all writes go
 * through train/checkpoint.c, atomically) and must stay deterministic: the batch order, the
 * dropout masks and every kernel depend only on (seed, position), so a resumed run ends with
 * the same bits as an uninterrupted one at the same thread count. */
#include "train/trainer.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "autograd/bf16.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"
#include "data/batch.h"
#include "data/dataset.h"
#include "data/dictionary.h"
#include "model/edgeformer.h"
#include "optim/adam.h"
#include "optim/clip.h"
#include "optim/schedule.h"
#include "train/checkpoint.h"
#include "train/log.h"
#include "eval/generate.h"
#include "model/to_runtime.h"

#define EF_TRAIN_ARENA (64u << 20)
#define EF_TRAIN_MAX_NODES 65536
#define EF_TRAIN_CONFIG_TEXT 16384

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig) { stop_signal = sig; }

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
  ef_model *model;
  ef_ctx *ctx;
  ef_adam adam;
  ef_lr_schedule sched;
  ef_dict *dict;
  ef_dataset train, valid;
  ef_batch_iter *train_it, *valid_it;
  ef_logger *log;
  const ef_train_options *o;
  ef_train_state st;
  char config_text[EF_TRAIN_CONFIG_TEXT];
  int64_t bad_validations; /* validations without improvement, for patience */
  double t_start;
  /* validation BLEU: the runtime view of the live parameters and the text codec */
  int eval_bleu;
  rt_model *rt;
  ef_codec codec;
  /* bf16 mixed precision: the products read the store's bf16 copy of the weights, made once
   * per update (stale after every optimizer step or checkpoint load) */
  int bf16, bf16_stale;
} trainer;

/* Forward (+ backward) of one batch; adds loss/nll (natural log, summed) and counts. */
static int run_batch(trainer *t, const ef_batch *b, int train, uint64_t rng_step, double *loss,
                     double *nll, char *err, size_t errlen) {
  ef_ctx *c = t->ctx;
  if (t->bf16 && t->bf16_stale) {
    ef_params_sync_bf16(t->model->params);
    t->bf16_stale = 0;
  }
  ef_ctx_reset(c);
  ef_ctx_set_training(c, train);
  ef_ctx_set_grad(c, train);
  ef_ctx_set_rng(c, (uint64_t)t->o->seed, rng_step);
  int64_t s[2] = {b->bsz, b->src_len}, g[2] = {b->bsz, b->tgt_len};
  ef_batch_tensors bt = {ef_tensor_wrap(c, EF_I32, 2, s, b->src_tokens, NULL),
                         ef_tensor_wrap(c, EF_I32, 2, g, b->prev_output_tokens, NULL),
                         ef_tensor_wrap(c, EF_I32, 2, g, b->target, NULL)};
  ef_model_out out;
  if (ef_model_forward(c, t->model, &bt, t->model->cfg.label_smoothing, &out) ||
      (train && ef_backward(c, out.loss)))
    return snprintf(err, errlen, "%s", ef_ctx_error(c)), -1;
  *loss += out.loss->data[0];
  *nll += out.nll_sum;
  return 0;
}

/* Loss (and BLEU) on the valid split; returns the metric of best_checkpoint_metric. */
static double validate(trainer *t, int64_t epoch, double *nll_out, double *loss_out, char *err,
                       size_t errlen, int *failed) {
  double loss = 0, nll = 0, t0 = now();
  int64_t ntok = 0, nsent = 0, nb = 0;
  ef_batch b;
  ef_batch_iter_set_epoch(t->valid_it, 1);
  while (ef_batch_iter_next(t->valid_it, &b)) {
    if (run_batch(t, &b, 0, 0, &loss, &nll, err, errlen)) return *failed = 1, NAN;
    ntok += b.ntokens, nsent += b.bsz, nb++;
  }
  ef_log_stats s = {.loss = loss / (double)ntok / M_LN2,
                    .nll_loss = nll / (double)ntok / M_LN2,
                    .wps = (double)ntok / (now() - t0),
                    .wpb = (double)ntok / (double)nb,
                    .bsz = (double)nsent / (double)nb,
                    .num_updates = t->st.num_updates,
                    .epoch = epoch,
                    .wall = now() - t->t_start};
  int by_bleu = t->o->best_checkpoint_metric == EF_BEST_BLEU;
  if (t->eval_bleu) {
    ef_gen_opts g;
    ef_gen_opts_default(&g);
    g.beam = t->o->eval_bleu_beam;
    g.max_len_a = t->o->eval_bleu_max_len_a;
    g.max_len_b = t->o->eval_bleu_max_len_b;
    g.lenpen = t->o->eval_bleu_lenpen;
    g.max_sentences = t->o->eval_bleu_max_sentences;
    g.truncate_source = 1; /* the valid split was already checked against the model */
    g.quiet = 1;
    g.threads = ef_num_threads(); /* the training threads (results do not depend on it) */
    ef_gen_result r;
    char msg[512];
    if (ef_generate_dataset(t->rt, &t->codec, &t->valid, &g, NULL, &r, msg, sizeof msg)) {
      snprintf(err, errlen, "validation BLEU: %s", msg);
      return *failed = 1, NAN;
    }
    s.bleu = r.bleu.score;
    s.chrf = r.chrf;
    s.has_bleu = 1;
  }
  double metric = by_bleu ? s.bleu : s.loss, best = t->st.best_metric;
  if (isnan(best) || (by_bleu ? metric > best : metric < best)) best = metric;
  ef_log_valid(t->log, "valid", &s, best, by_bleu);
  *nll_out = s.nll_loss;
  *loss_out = s.loss;
  return metric;
}

static int save(trainer *t, int best, int interval, char *err, size_t errlen) {
  t->st.iter_pos = ef_batch_iter_tell(t->train_it);
  t->st.bad_validations = t->bad_validations;
  unsigned which =
      EF_CKPT_SAVE_LAST | (best ? EF_CKPT_SAVE_BEST : 0) | (interval ? EF_CKPT_SAVE_UPDATE : 0);
  if (ef_ckpt_save_set(t->o->save_dir, which, t->model->params, t->config_text, &t->st, 1, err,
                       errlen))
    return -1;
  if (interval && t->o->keep_interval_updates > 0 &&
      ef_ckpt_rotate(t->o->save_dir, t->o->keep_interval_updates, NULL, err, errlen))
    return -1;
  return 0;
}

/* Validate, update best/patience, save. Returns 1 when patience says stop, -1 on error. */
static int validate_and_save(trainer *t, ef_train_result *res, int64_t epoch, int interval,
                             char *err, size_t errlen) {
  int failed = 0;
  double v = validate(t, epoch, &res->last_valid_nll, &res->last_valid_loss, err, errlen, &failed);
  if (failed) return -1;
  if (t->eval_bleu) res->last_valid_bleu = v;
  int by_bleu = t->o->best_checkpoint_metric == EF_BEST_BLEU;
  int best = isnan(t->st.best_metric) || (by_bleu ? v > t->st.best_metric : v < t->st.best_metric);
  if (best) {
    t->st.best_metric = v;
    t->st.best_update = t->st.num_updates;
    t->bad_validations = 0;
  } else {
    t->bad_validations++;
  }
  if (save(t, best, interval, err, errlen)) return -1;
  char perr[256];
  if (ef_log_plot(t->log, perr, sizeof perr)) fprintf(stderr, "warning: %s\n", perr);
  return t->o->patience > 0 && t->bad_validations >= t->o->patience;
}

static int load_data(trainer *t, char *err, size_t errlen) {
  const ef_train_options *o = t->o;
  char path[EF_PATH_MAX + 64], tgt_path[EF_PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/dict.%s.txt", o->data, o->source_lang);
  snprintf(tgt_path, sizeof tgt_path, "%s/dict.%s.txt", o->data, o->target_lang);
  if (ef_dict_load(path, &t->dict, err, errlen)) return -1;
  ef_dict *tgt = NULL;
  if (ef_dict_load(tgt_path, &tgt, err, errlen)) return -1;
  char a[EF_SHA256_HEX_LEN + 1], b[EF_SHA256_HEX_LEN + 1];
  ef_dict_checksum(t->dict, a);
  ef_dict_checksum(tgt, b);
  ef_dict_free(tgt);
  if (strcmp(a, b))
    return snprintf(err, errlen,
                    "%s: differs from %s; EdgeFormer ties encoder, decoder and output embeddings, "
                    "so prepare the data with --joined-dictionary",
                    tgt_path, path),
           -1;
  ef_dataset_expect ex = {t->dict, t->dict, path, tgt_path, NULL};
  snprintf(path, sizeof path, "%s/train.h5", o->data);
  if (ef_dataset_read(path, &ex, &t->train, err, errlen)) return -1;
  snprintf(path, sizeof path, "%s/valid.h5", o->data);
  if (ef_dataset_read(path, &ex, &t->valid, err, errlen)) return -1;
  return 0;
}

static int make_iters(trainer *t, char *err, size_t errlen) {
  const ef_train_options *o = t->o;
  ef_batch_config bc;
  ef_batch_config_default(&bc);
  bc.max_tokens = o->max_tokens;
  bc.batch_size = o->batch_size;
  bc.required_batch_size_multiple = o->required_batch_size_multiple;
  bc.max_source_positions = t->model->cfg.max_source_positions;
  bc.max_target_positions = t->model->cfg.max_target_positions;
  bc.truncate_source = o->truncate_source;
  bc.shuffle = 1;
  bc.seed = (uint64_t)o->seed;
  if (ef_batch_iter_new(&t->train, &bc, &t->train_it, err, errlen)) return -1;
  bc.shuffle = 0;
  if (ef_batch_iter_new(&t->valid, &bc, &t->valid_it, err, errlen)) return -1;
  ef_batch_stats st;
  ef_batch_iter_stats(t->train_it, &st);
  printf("train: %lld pairs in %lld batches (%lld skipped as too long, %lld truncated); "
         "max_tokens %d, update_freq %d\n",
         (long long)st.n_pairs, (long long)st.n_batches,
         (long long)(st.n_too_long + st.n_over_max_tokens), (long long)st.n_truncated,
         o->max_tokens, o->update_freq);
  return 0;
}

static void trainer_free(trainer *t) {
  ef_logger_free(t->log);
  ef_batch_iter_free(t->train_it);
  ef_batch_iter_free(t->valid_it);
  ef_dataset_release(&t->train);
  ef_dataset_release(&t->valid);
  ef_dict_free(t->dict);
  rt_model_free(t->rt);
  ef_codec_close(&t->codec);
  ef_ctx_free(t->ctx);
  ef_model_free(t->model);
}

/* mkdir -p */
static int make_dirs(const char *path, char *err, size_t errlen) {
  char buf[EF_PATH_MAX];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || !*p) {
      char c = *p;
      *p = 0;
      if (mkdir(buf, 0777) && errno != EEXIST)
        return snprintf(err, errlen, "%s: cannot create (%s)", buf, strerror(errno)), -1;
      *p = c;
      if (!c) return 0;
    }
  }
}

static int setup(trainer *t, ef_model_config *mcfg, char *err, size_t errlen) {
  const ef_train_options *o = t->o;
  if (o->threads > 0) ef_set_num_threads(o->threads);
  if (make_dirs(o->save_dir, err, errlen)) return -1;
  if (load_data(t, err, errlen)) return -1;
  mcfg->vocab_size = ef_dict_size(t->dict);
  if (ef_model_new(mcfg, &t->model, err, errlen)) return -1;
  ef_model_init(t->model, (uint64_t)o->seed);
  /* adam = fairseq's --optimizer adam; adamw = torch.optim.AdamW; adam_l2 = torch.optim.Adam */
  static const ef_adam_variant variants[] = {EF_ADAM_FAIRSEQ, EF_ADAMW_TORCH, EF_ADAM_TORCH};
  ef_adam_config ac = {o->adam_beta1, o->adam_beta2, o->adam_eps, o->weight_decay,
                       variants[o->optimizer]};
  if (ef_adam_init(&t->adam, t->model->params, &ac, err, errlen)) return -1;
  static const ef_lr_kind kinds[] = {EF_LR_INVERSE_SQRT, EF_LR_POLYNOMIAL_DECAY, EF_LR_FIXED};
  t->sched = ef_lr_schedule_default(kinds[o->lr_scheduler], o->lr);
  t->sched.warmup_updates = o->warmup_updates;
  t->sched.warmup_init_lr = o->warmup_init_lr;
  t->sched.end_learning_rate = o->end_learning_rate;
  t->sched.power = o->power;
  t->sched.total_num_update = o->total_num_update;
  if (ef_lr_schedule_check(&t->sched, err, errlen)) return -1;
  /* the config travels in every checkpoint */
  ef_config_table tables[2] = {{ef_model_keys, ef_model_n_keys, mcfg},
                               {ef_train_keys, ef_train_n_keys, (void *)o}};
  if (ef_config_format(tables, 2, t->config_text, sizeof t->config_text))
    return snprintf(err, errlen, "config too long to store in a checkpoint"), -1;
  t->ctx = ef_ctx_new(EF_TRAIN_ARENA, EF_TRAIN_MAX_NODES);
  if (!t->ctx) return snprintf(err, errlen, "out of memory"), -1;
  if (make_iters(t, err, errlen)) return -1;
  ef_ckpt_state_init(&t->st, (uint64_t)o->seed);
  static const char *const opt_names[] = {"adam", "adamw", "adam_l2"};
  snprintf(t->st.optimizer, sizeof t->st.optimizer, "%s", opt_names[o->optimizer]);
  /* restore: --restore-file, else save_dir/checkpoint_last.h5 when it exists */
  char path[EF_PATH_MAX + 32];
  if (o->restore_file[0])
    snprintf(path, sizeof path, "%s", o->restore_file);
  else
    snprintf(path, sizeof path, "%s/checkpoint_last.h5", o->save_dir);
  if (!access(path, F_OK)) {
    unsigned flags = (o->reset_optimizer ? EF_CKPT_RESET_OPTIMIZER : 0) |
                     (o->reset_lr_scheduler ? EF_CKPT_RESET_LR_SCHEDULER : 0) |
                     (o->reset_dataloader ? EF_CKPT_RESET_DATALOADER : 0);
    ef_train_state st = t->st;
    if (ef_ckpt_load(path, t->model->params, &st, NULL, flags, err, errlen)) return -1;
    /* --reset-optimizer clears the stored optimizer's name: this run's optimizer is the one */
    if (!st.optimizer[0]) memcpy(st.optimizer, t->st.optimizer, sizeof st.optimizer);
    t->st = st;
    t->adam.step = st.num_updates; /* both restart at 0 with --reset-optimizer */
    t->bad_validations = st.bad_validations;
    if (!o->reset_dataloader) {
      if (ef_batch_iter_seek(t->train_it, st.iter_pos, err, errlen)) return -1;
    } else {
      ef_batch_iter_set_epoch(t->train_it, st.epoch > 0 ? st.epoch : 1);
    }
    printf("restored %s: update %lld, epoch %lld%s%s%s\n", path, (long long)st.num_updates,
           (long long)st.epoch, o->reset_optimizer ? ", optimizer reset" : "",
           o->reset_lr_scheduler ? ", schedule reset" : "",
           o->reset_dataloader ? ", data position reset" : "");
  } else if (o->restore_file[0]) {
    return snprintf(err, errlen, "%s: no such checkpoint", o->restore_file), -1;
  }
  if (o->precision == EF_PRECISION_BF16) {
    if (ef_bf16_supported()) {
      if (ef_params_enable_bf16(t->model->params, err, errlen)) return -1;
      ef_ctx_set_bf16(t->ctx, 1);
      t->bf16 = t->bf16_stale = 1;
      printf("precision: bf16 products (%s, oneDNN), fp32 weights, gradients and optimizer\n",
             ef_bf16_describe());
    } else {
      printf("precision: bf16 unavailable (%s): training in fp32\n", ef_bf16_describe());
    }
  }
  t->eval_bleu = o->eval_bleu || o->best_checkpoint_metric == EF_BEST_BLEU;
  if (t->eval_bleu) {
    char spm[EF_PATH_MAX + 32], sd[EF_PATH_MAX + 64], td[EF_PATH_MAX + 64];
    snprintf(spm, sizeof spm, "%s/spm.model", o->data);
    snprintf(sd, sizeof sd, "%s/dict.%s.txt", o->data, o->source_lang);
    snprintf(td, sizeof td, "%s/dict.%s.txt", o->data, o->target_lang);
    if (access(spm, R_OK))
      return snprintf(err, errlen,
                      "validation BLEU needs %s (the SentencePiece model of the "
                      "data) to detokenise",
                      spm),
             -1;
    if (ef_codec_open(&t->codec, spm, sd, td, err, errlen) ||
        ef_model_to_runtime(t->model, &t->rt, err, errlen))
      return -1;
  }
  t->log = ef_logger_new(o->save_dir, !o->no_progress_bar, err, errlen);
  return t->log ? 0 : -1;
}

int ef_train_run(ef_model_config *mcfg, const ef_train_options *o, ef_train_result *res, char *err,
                 size_t errlen) {
  trainer t;
  memset(&t, 0, sizeof t);
  memset(res, 0, sizeof *res);
  res->best_valid_loss = res->last_valid_loss = res->last_valid_nll = res->last_valid_bleu = NAN;
  res->first_train_loss = NAN;
  t.o = o;
  t.t_start = now();
  int rc = -1;
  stop_signal = 0;
  struct sigaction sa = {0}, old_int, old_term;
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  if (setup(&t, mcfg, err, errlen)) goto done;
  printf("model: %lld parameters (%lld without embeddings), V=%d, %d threads\n",
         (long long)ef_model_unique_params(t.model, 1),
         (long long)ef_model_unique_params(t.model, 0), t.model->cfg.vocab_size, ef_num_threads());
  fflush(stdout);

  /* running sums for the log line */
  double lsum = 0, nsum = 0, gsum = 0, clipped = 0, t_log = now(), train_wall = 0;
  int64_t ntok = 0, nsent = 0, nupd = 0, nbatch = 0, nonfinite_run = 0;
  int finished = 0;
  const int64_t first_update = t.st.num_updates; /* of this run (for the ETA) */
  ef_batch_stats bst;
  ef_batch_iter_stats(t.train_it, &bst);
  while (!finished) {
    if (o->max_update && t.st.num_updates >= o->max_update) break;
    double t0 = now(), loss = 0, nll = 0;
    int64_t upd_tok = 0, upd_sent = 0, got = 0, epoch_done = 0;
    ef_params_zero_grad(t.model->params);
    for (int k = 0; k < o->update_freq; k++) {
      ef_batch b;
      if (!ef_batch_iter_next(t.train_it, &b)) {
        epoch_done = 1;
        break;
      }
      uint64_t rng_step = (uint64_t)t.st.num_updates * (uint64_t)o->update_freq + (uint64_t)k;
      if (run_batch(&t, &b, 1, rng_step, &loss, &nll, err, errlen)) goto done;
      upd_tok += b.ntokens, upd_sent += b.bsz, got++;
    }
    if (got > 0) {
      ef_grad_scale(t.model->params, 1.0f / (float)upd_tok);
      double norm = 0.0;
      int clip_rc = ef_clip_grad_norm(t.model->params, o->clip_norm, &norm) != EF_CLIP_OK;
      if (!isfinite(norm) || !isfinite(loss) || clip_rc) {
        nonfinite_run++;
        t.st.n_skipped_nonfinite++;
        fprintf(stderr,
                "warning: update %lld: non-finite loss or gradient norm, update skipped "
                "(%lld in a row)\n",
                (long long)t.st.num_updates + 1, (long long)nonfinite_run);
        if (nonfinite_run >= o->max_nonfinite) {
          snprintf(err, errlen, "%lld non-finite updates in a row: stopping (lower the lr?)",
                   (long long)nonfinite_run);
          goto done;
        }
      } else {
        nonfinite_run = 0;
        double lr = ef_lr_at(&t.sched, t.st.num_updates); /* rate of update num_updates+1 */
        if (ef_adam_step(&t.adam, lr, err, errlen)) goto done;
        t.bf16_stale = 1;
        t.st.lr = lr;
        t.st.num_updates++;
        if (o->clip_norm > 0 && norm > o->clip_norm) clipped++;
        gsum += norm;
        lsum += loss, nsum += nll, ntok += upd_tok, nsent += upd_sent, nupd++, nbatch += got;
        if (isnan(res->first_train_loss)) res->first_train_loss = loss / (double)upd_tok / M_LN2;
        res->last_train_loss = loss / (double)upd_tok / M_LN2;
      }
      train_wall += now() - t0;
      ef_batch_pos pos = ef_batch_iter_tell(t.train_it);
      ef_log_stats s = {.loss = lsum / (double)(ntok ? ntok : 1) / M_LN2,
                        .nll_loss = nsum / (double)(ntok ? ntok : 1) / M_LN2,
                        .lr = t.st.lr,
                        .num_updates = t.st.num_updates,
                        .epoch = t.st.epoch,
                        .batch_in_epoch = pos.index,
                        .batches_in_epoch = bst.n_batches,
                        .max_update = o->max_update,
                        .eta = -1.0};
      if (o->max_update && t.st.num_updates > first_update)
        s.eta = (now() - t.t_start) / (double)(t.st.num_updates - first_update) *
                (double)(o->max_update - t.st.num_updates);
      ef_log_progress(t.log, &s);
      if (nupd && t.st.num_updates % o->log_interval == 0) {
        double dt = now() - t_log;
        s.wps = (double)ntok / dt, s.ups = (double)nupd / dt, s.wpb = (double)ntok / (double)nupd;
        s.bsz = (double)nsent / (double)nupd, s.gnorm = gsum / (double)nupd;
        s.clip = 100.0 * clipped / (double)nupd, s.train_wall = train_wall,
        s.wall = now() - t.t_start;
        ef_log_train(t.log, &s);
        lsum = nsum = gsum = clipped = 0, ntok = nsent = nupd = nbatch = 0, t_log = now();
      }
      int at_max = o->max_update && t.st.num_updates >= o->max_update;
      int val_now =
          o->validate_interval_updates && t.st.num_updates % o->validate_interval_updates == 0;
      int save_now = o->save_interval_updates && t.st.num_updates % o->save_interval_updates == 0;
      if (!epoch_done && (val_now || save_now || at_max)) {
        int r = validate_and_save(&t, res, t.st.epoch, save_now, err, errlen);
        if (r < 0) goto done;
        if (r > 0) {
          printf("early stop: no improvement in %d validations\n", o->patience);
          break;
        }
      }
    }
    if (epoch_done) {
      int last_epoch = o->max_epoch && t.st.epoch >= o->max_epoch;
      t.st.epoch++;
      ef_batch_iter_set_epoch(t.train_it, t.st.epoch);
      int r = validate_and_save(&t, res, t.st.epoch - 1, 0, err, errlen); /* the epoch that ended */
      if (r < 0) goto done;
      if (r > 0) {
        printf("early stop: no improvement in %d validations\n", o->patience);
        break;
      }
      if (last_epoch) break;
    }
    if (stop_signal) {
      if (save(&t, 0, 0, err, errlen)) goto done;
      printf("stopped by signal %d at update %lld; saved %s/checkpoint_last.h5\n", (int)stop_signal,
             (long long)t.st.num_updates, o->save_dir);
      res->interrupted = 1;
      finished = 1;
    }
  }
  res->num_updates = t.st.num_updates;
  res->epoch = t.st.epoch;
  res->best_valid_loss = t.st.best_metric;
  rc = 0;
done:
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  trainer_free(&t);
  return rc;
}
