/* log.h: what training reports: fairseq-style log lines on stdout, a JSON-lines metrics
 * file, an SVG plot of the training and validation curves, and a progress bar on stderr when
 * it is a terminal. Losses are in base 2, as fairseq logs them (ppl = 2^nll_loss). */
#ifndef EF_TRAIN_LOG_H
#define EF_TRAIN_LOG_H

#include <stdint.h>
#include <stdio.h>

#define EF_LOG_MAX_POINTS 100000

typedef struct ef_log_stats {
  double loss, nll_loss; /* base 2, per target token */
  double wps, ups, wpb, bsz, lr, gnorm, clip, train_wall, wall;
  int64_t num_updates, epoch, batch_in_epoch, batches_in_epoch;
  double bleu, chrf; /* validation only; NaN (or 0 in a zeroed struct with has_bleu 0) = absent */
  int has_bleu;
  int64_t max_update; /* progress bar: the run's last update (0: no limit, no ETA) */
  double eta;         /* progress bar: seconds left at this run's pace (< 0: unknown) */
} ef_log_stats;

typedef struct ef_logger ef_logger;

/* Opens save_dir/metrics.jsonl (appending) and remembers save_dir/curves.svg. progress: draw
 * a bar on stderr (only honoured when stderr is a terminal). */
ef_logger *ef_logger_new(const char *save_dir, int progress, char *err, size_t errlen);
void ef_logger_free(ef_logger *l);
void ef_log_train(ef_logger *l, const ef_log_stats *s);
/* best: the best validation loss, or the best BLEU when s->has_bleu and bleu is the metric */
void ef_log_valid(ef_logger *l, const char *subset, const ef_log_stats *s, double best,
                  int best_is_bleu);
void ef_log_progress(ef_logger *l, const ef_log_stats *s);
/* Rewrite the SVG plot (temporary file + rename). */
int ef_log_plot(ef_logger *l, char *err, size_t errlen);
const char *ef_logger_plot_path(const ef_logger *l);
const char *ef_logger_metrics_path(const ef_logger *l);

#endif
