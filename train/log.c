/* log.c: training output (see log.h). Must never let a reporting failure stop training: a
 * metrics file that cannot be written is reported once and then skipped. */
#include "train/log.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EF_LOG_PATH 1024
#define SVG_W 720
#define SVG_H 420
#define SVG_PAD 60

typedef struct {
  double x, y;
} point;

struct ef_logger {
  FILE *jsonl;
  char metrics_path[EF_LOG_PATH], plot_path[EF_LOG_PATH];
  int progress, bar_drawn;
  point *train, *valid;
  int n_train, n_valid;
};

ef_logger *ef_logger_new(const char *save_dir, int progress, char *err, size_t errlen) {
  ef_logger *l = calloc(1, sizeof *l);
  if (!l) return snprintf(err, errlen, "out of memory"), NULL;
  l->train = calloc(EF_LOG_MAX_POINTS, sizeof *l->train);
  l->valid = calloc(EF_LOG_MAX_POINTS, sizeof *l->valid);
  snprintf(l->metrics_path, sizeof l->metrics_path, "%s/metrics.jsonl", save_dir);
  snprintf(l->plot_path, sizeof l->plot_path, "%s/curves.svg", save_dir);
  l->jsonl = fopen(l->metrics_path, "a");
  if (!l->train || !l->valid || !l->jsonl) {
    snprintf(err, errlen, "%s: cannot open for appending", l->metrics_path);
    ef_logger_free(l);
    return NULL;
  }
  l->progress = progress && isatty(2);
  return l;
}

void ef_logger_free(ef_logger *l) {
  if (!l) return;
  if (l->jsonl) fclose(l->jsonl);
  free(l->train);
  free(l->valid);
  free(l);
}

static void clear_bar(ef_logger *l) {
  if (l->bar_drawn) fprintf(stderr, "\r\033[K"), l->bar_drawn = 0;
}

static void json(ef_logger *l, const char *kind, const char *subset, const ef_log_stats *s) {
  if (!l->jsonl) return;
  fprintf(l->jsonl,
          "{\"type\": \"%s\"%s%s%s, \"epoch\": %lld, \"num_updates\": %lld, \"loss\": %.6g, "
          "\"nll_loss\": %.6g, \"ppl\": %.6g, \"wps\": %.6g, \"ups\": %.6g, \"wpb\": %.6g, "
          "\"bsz\": %.6g, \"lr\": %.6g, \"gnorm\": %.6g, \"clip\": %.6g, \"train_wall\": %.6g, "
          "\"wall\": %.6g",
          kind, subset ? ", \"subset\": \"" : "", subset ? subset : "", subset ? "\"" : "",
          (long long)s->epoch, (long long)s->num_updates, s->loss, s->nll_loss,
          pow(2.0, s->nll_loss), s->wps, s->ups, s->wpb, s->bsz, s->lr, s->gnorm, s->clip,
          s->train_wall, s->wall);
  if (s->has_bleu) fprintf(l->jsonl, ", \"bleu\": %.6g, \"chrf\": %.6g", s->bleu, s->chrf);
  fputs("}\n", l->jsonl);
  if (fflush(l->jsonl)) {
    fprintf(stderr, "warning: %s: write failed; metrics are no longer recorded\n", l->metrics_path);
    fclose(l->jsonl);
    l->jsonl = NULL;
  }
}

void ef_log_train(ef_logger *l, const ef_log_stats *s) {
  clear_bar(l);
  printf("epoch %03lld: %6lld / %lld loss=%.3f, nll_loss=%.3f, ppl=%.2f, wps=%.0f, ups=%.2f, "
         "wpb=%.1f, bsz=%.1f, num_updates=%lld, lr=%.6g, gnorm=%.3f, clip=%.0f, train_wall=%.0f, "
         "wall=%.0f\n",
         (long long)s->epoch, (long long)s->batch_in_epoch, (long long)s->batches_in_epoch, s->loss,
         s->nll_loss, pow(2.0, s->nll_loss), s->wps, s->ups, s->wpb, s->bsz,
         (long long)s->num_updates, s->lr, s->gnorm, s->clip, s->train_wall, s->wall);
  fflush(stdout);
  json(l, "train", NULL, s);
  if (l->n_train < EF_LOG_MAX_POINTS)
    l->train[l->n_train++] = (point){(double)s->num_updates, s->loss};
}

void ef_log_valid(ef_logger *l, const char *subset, const ef_log_stats *s, double best,
                  int best_is_bleu) {
  clear_bar(l);
  printf("epoch %03lld | valid on '%s' subset | loss %.3f | nll_loss %.3f | ppl %.2f | ",
         (long long)s->epoch, subset, s->loss, s->nll_loss, pow(2.0, s->nll_loss));
  if (s->has_bleu) printf("bleu %.2f | chrf %.2f | ", s->bleu, s->chrf);
  printf("wps %.0f | wpb %.1f | bsz %.1f | num_updates %lld | best_%s %.3f\n", s->wps, s->wpb,
         s->bsz, (long long)s->num_updates, best_is_bleu ? "bleu" : "loss", best);
  fflush(stdout);
  json(l, "valid", subset, s);
  if (l->n_valid < EF_LOG_MAX_POINTS)
    l->valid[l->n_valid++] = (point){(double)s->num_updates, s->loss};
}

void ef_log_progress(ef_logger *l, const ef_log_stats *s) {
  if (!l->progress || s->batches_in_epoch <= 0) return;
  const int width = 30;
  double frac = (double)s->batch_in_epoch / (double)s->batches_in_epoch;
  int fill = (int)(frac * width + 0.5);
  char bar[64];
  for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
  bar[width] = 0;
  fprintf(stderr, "\r\033[Kepoch %03lld %3.0f%% [%s] %lld/%lld loss=%.3f ppl=%.2f lr=%.3g",
          (long long)s->epoch, 100.0 * frac, bar, (long long)s->batch_in_epoch,
          (long long)s->batches_in_epoch, s->loss, pow(2.0, s->nll_loss), s->lr);
  if (s->max_update > 0 && s->eta >= 0.0)
    fprintf(stderr, " | update %lld/%lld, ETA %dm%02ds", (long long)s->num_updates,
            (long long)s->max_update, (int)(s->eta / 60.0), (int)fmod(s->eta, 60.0));
  l->bar_drawn = 1;
}

const char *ef_logger_plot_path(const ef_logger *l) { return l->plot_path; }
const char *ef_logger_metrics_path(const ef_logger *l) { return l->metrics_path; }

static void polyline(FILE *f, const point *p, int n, double x0, double x1, double y0, double y1,
                     const char *color) {
  if (n == 0) return;
  fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
  for (int i = 0; i < n; i++) {
    double x = SVG_PAD + (p[i].x - x0) / (x1 - x0) * (SVG_W - 2 * SVG_PAD);
    double y = SVG_H - SVG_PAD - (p[i].y - y0) / (y1 - y0) * (SVG_H - 2 * SVG_PAD);
    fprintf(f, "%.1f,%.1f ", x, y);
  }
  fprintf(f, "\"/>\n");
  for (int i = 0; n < 60 && i < n; i++) { /* markers when sparse */
    double x = SVG_PAD + (p[i].x - x0) / (x1 - x0) * (SVG_W - 2 * SVG_PAD);
    double y = SVG_H - SVG_PAD - (p[i].y - y0) / (y1 - y0) * (SVG_H - 2 * SVG_PAD);
    fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", x, y, color);
  }
}

int ef_log_plot(ef_logger *l, char *err, size_t errlen) {
  double x0 = 0, x1 = 1, y0 = INFINITY, y1 = -INFINITY;
  const point *sets[2] = {l->train, l->valid};
  int ns[2] = {l->n_train, l->n_valid};
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < ns[k]; i++) {
      if (sets[k][i].x > x1) x1 = sets[k][i].x;
      if (sets[k][i].y < y0) y0 = sets[k][i].y;
      if (sets[k][i].y > y1) y1 = sets[k][i].y;
    }
  if (!(y0 < y1)) y0 = 0, y1 = y1 > 0 ? y1 * 2 : 1;
  y0 = floor(y0), y1 = ceil(y1);
  char tmp[EF_LOG_PATH + 16];
  snprintf(tmp, sizeof tmp, "%s.tmp", l->plot_path);
  FILE *f = fopen(tmp, "w");
  if (!f) return snprintf(err, errlen, "%s: cannot write", tmp), -1;
  fprintf(f,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
          "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
          "fill=\"white\"/>\n",
          SVG_W, SVG_H);
  fprintf(f,
          "<text x=\"%d\" y=\"24\" font-size=\"15\">edgeformer training: loss (bits per "
          "token)</text>\n",
          SVG_PAD);
  for (int t = 0; t <= 4; t++) { /* grid and axis labels */
    double yv = y0 + (y1 - y0) * t / 4.0, y = SVG_H - SVG_PAD - (SVG_H - 2 * SVG_PAD) * t / 4.0;
    double xv = x0 + (x1 - x0) * t / 4.0, x = SVG_PAD + (SVG_W - 2 * SVG_PAD) * t / 4.0;
    fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", SVG_PAD, y,
            SVG_W - SVG_PAD, y);
    fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n", SVG_PAD - 6, y + 4,
            yv);
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.0f</text>\n", x,
            SVG_H - SVG_PAD + 18, xv);
  }
  fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">updates</text>\n", SVG_W / 2,
          SVG_H - 12);
  polyline(f, l->train, l->n_train, x0, x1, y0, y1, "#1f77b4");
  polyline(f, l->valid, l->n_valid, x0, x1, y0, y1, "#d62728");
  fprintf(f, "<text x=\"%d\" y=\"44\" fill=\"#1f77b4\">train loss</text>\n", SVG_W - SVG_PAD - 150);
  fprintf(f, "<text x=\"%d\" y=\"60\" fill=\"#d62728\">valid loss</text>\n", SVG_W - SVG_PAD - 150);
  fprintf(f, "</svg>\n");
  if (fclose(f) || rename(tmp, l->plot_path)) {
    remove(tmp);
    return snprintf(err, errlen, "%s: cannot write", l->plot_path), -1;
  }
  return 0;
}
