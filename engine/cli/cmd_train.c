/* cmd_train.c — dinet train / eval / cv / calibrate. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "dataset.h"

/* Set by SIGINT: the run saves a checkpoint after the current step. */
static volatile sig_atomic_t stop_requested = 0;
static void on_sigint(int sig) {
  (void)sig;
  stop_requested = 1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- configuration -------------------------------------------------- */

typedef struct train_cfg {
  const char *data, *val_dir, *out, *resume, *group_by, *init, *alpha_s, *abnormal;
  dinet_arch arch;
  int size, epochs, batch, threads, focal, adamw, balance, folds, eval_every;
  float lr, wd, gamma, val_split, crop, warmup, scale_min, jitter;
  float mixup;   /* mixup's Beta(a, a) parameter; 0: off */
  uint64_t seed, split_seed; /* split_seed: the validation split / folds */
  int split_seed_set;         /* --split-seed given (else split_seed = seed) */
  int max_steps;  /* for tests: stop after this many steps (0 = no limit) */
  int quiet;
  int cv_fold;    /* a fold of dinet cv: interrupted, it resumes by running cv again */
  const char *base; /* the folder the run's relative paths start from (NULL: unknown) */
} train_cfg;

static void cfg_defaults(train_cfg *c) {
  memset(c, 0, sizeof *c);
  c->arch = DINET_ARCH_CBAM_RESNET50;
  c->size = 128;
  c->epochs = 30;
  c->batch = 16;
  c->focal = 1;
  c->gamma = 2.0f;
  c->alpha_s = "auto";
  c->lr = 0.05f;
  c->wd = 5e-4f;
  c->crop = 1.0f;
  c->warmup = 2.0f;
  c->scale_min = 0.7f;
  c->jitter = 0.1f;
  c->seed = 1;
  c->eval_every = 1;
}

static int parse_seed(const char *v, const char *what, uint64_t *out) {
  char *end;
  errno = 0;
  *out = strtoull(v, &end, 10);
  int bad = errno || *end || end == v || *v == '-';
  if (bad)
    cli_error("%s must be a non-negative integer", what);
  return bad;
}

/* The options of train, also taken by cv. */
static void train_options(FILE *f) {
  fputs("  --arch cbam_resnet50|resnet50   (default cbam_resnet50)\n"
        "  --size S          input size (default 128)\n"
        "  --epochs E        (default 30)     --batch B (default 16)\n"
        "  --loss focal|ce   (default focal)  --gamma G (default 2)\n"
        "  --alpha auto|none|a,b,c...         per-class alpha (auto = inverse frequency)\n"
        "  --balance         class-balanced sampling instead of a shuffled epoch\n"
        "  --optimizer sgd|adamw (default sgd, momentum 0.9)\n"
        "  --lr LR (default 0.05)  --weight-decay WD (default 5e-4)  --warmup EPOCHS (default 2)\n"
        "  --val DIR | --val-split F [--group-by COLUMN]   (labels.csv column)\n"
        "  --eval-every E    validate every E epochs and after the last (default 1)\n"
        "  --center-crop F   keep the central F of each side (stored in the model)\n"
        "  --scale-min A     smallest crop area for augmentation (default 0.7)\n"
        "  --jitter J        colour/stain jitter amplitude (default 0.1)\n"
        "  --mixup A         mix each batch with a shuffled copy of itself, weight ~ Beta(A, A),\n"
        "                    0.01 <= A <= 1 (default: off; train accuracy then counts the\n"
        "                    larger part's label)\n"
        "  --abnormal a,b    classes grouped as abnormal (stored in the model)\n"
        "  --init MODEL      start from a model's weights (matching names and shapes)\n"
        "  --seed N  --split-seed N (default: --seed)  --threads N  --resume CHECKPOINT  --max-steps N\n"
        "  --quiet           no progress lines on stderr\n",
        f);
}

void usage_train(FILE *f) {
  fputs("usage: dinet train --data DIR --out DIR [options]\n"
        "       dinet train --resume DIR/checkpoint.safetensors [--threads N] [--max-steps N] [--quiet]\n"
        "  OUT gets checkpoint.safetensors (every epoch), best.safetensors (best validation\n"
        "  macro-F1), log.csv, train.txt and val.txt; a folder that holds a run is not reused.\n"
        "  --resume goes on exactly where the run stopped, with the settings it was started\n"
        "  with (to change them, start a new run with --init DIR/checkpoint.safetensors).\n",
        f);
  train_options(f);
}

void usage_cv(FILE *f) {
  fputs("usage: dinet cv --data DIR --out DIR [--folds K] [options]\n"
        "  --folds K         folds (default 5), trained in OUT/fold1..OUT/foldK; finished folds\n"
        "                    are kept, an interrupted one resumes\n"
        "options as for train:\n",
        f);
  train_options(f);
}

void usage_eval(FILE *f) {
  fputs("usage: dinet eval --model M --data DIR [--list FILES.txt] [--exclude FILES.txt] [--json]\n"
        "                  [--tta|--no-tta] [--threads N]\n"
        "  --model M         the model (.safetensors)\n"
        "  --data DIR        a data set: one folder per class (the model's class names)\n"
        "  --list FILES.txt  only these images (paths under DIR, one a line: a run's val.txt)\n"
        "  --exclude FILES.txt  all but these images (the same format)\n"
        "  --json            the figures as one JSON object\n"
        "  --tta | --no-tta  the mean of the 8 dihedral views, or one view (default: the model's)\n"
        "  --threads N       worker threads (default: all cores)\n",
        f);
}

void usage_calibrate(FILE *f) {
  fputs("usage: dinet calibrate --model M --data DIR [--list FILES.txt] [--out M2] [--dtype f16|f32]\n"
        "                       [--tta|--no-tta] [--threads N]\n"
        "  fits the model's temperature on DIR's images and stores it (with the figures) in M2\n"
        "  --model M         the model (.safetensors)\n"
        "  --data DIR        a data set: one folder per class (the model's class names)\n"
        "  --list FILES.txt  only these images (paths under DIR, one a line: a run's val.txt)\n"
        "  --out M2          the calibrated model (default: overwrite M)\n"
        "  --dtype f16|f32   weights' type in M2 (default f32)\n"
        "  --tta | --no-tta  fit to (and store) the mean of the 8 dihedral views, or one view\n"
        "                    (default: the model's)\n"
        "  --threads N       worker threads (default: all cores)\n",
        f);
}

/* Parses train options (also used by cv). Returns 0, or 1 on error. */
static int parse_train_args(int argc, char **argv, int first, train_cfg *c) {
  for (int i = first; i < argc; i++) {
    const char *v;
    if (cli_opt(argc, argv, &i, "--data", &c->data) || cli_opt(argc, argv, &i, "--val", &c->val_dir) ||
        cli_opt(argc, argv, &i, "--out", &c->out) || cli_opt(argc, argv, &i, "--resume", &c->resume) ||
        cli_opt(argc, argv, &i, "--group-by", &c->group_by) ||
        cli_opt(argc, argv, &i, "--init", &c->init) || cli_opt(argc, argv, &i, "--alpha", &c->alpha_s) ||
        cli_opt(argc, argv, &i, "--abnormal", &c->abnormal))
      continue;
    if (cli_opt(argc, argv, &i, "--balance", NULL)) {
      c->balance = 1;
      continue;
    }
    if (cli_opt(argc, argv, &i, "--quiet", NULL)) {
      c->quiet = 1;
      continue;
    }
    int bad = 0;
    if (cli_opt(argc, argv, &i, "--arch", &v)) {
      if (dinet_arch_from_name(v, &c->arch)) {
        cli_error("--arch must be cbam_resnet50 or resnet50");
        return 1;
      }
    } else if (cli_opt(argc, argv, &i, "--loss", &v)) {
      if (!strcmp(v, "focal"))
        c->focal = 1;
      else if (!strcmp(v, "ce"))
        c->focal = 0;
      else
        bad = (cli_error("--loss must be focal or ce"), 1);
    } else if (cli_opt(argc, argv, &i, "--optimizer", &v)) {
      if (!strcmp(v, "sgd"))
        c->adamw = 0;
      else if (!strcmp(v, "adamw"))
        c->adamw = 1;
      else
        bad = (cli_error("--optimizer must be sgd or adamw"), 1);
    } else if (cli_opt(argc, argv, &i, "--size", &v)) {
      bad = cli_parse_int(v, "--size", 32, 1024, &c->size);
    } else if (cli_opt(argc, argv, &i, "--epochs", &v)) {
      bad = cli_parse_int(v, "--epochs", 1, 100000, &c->epochs);
    } else if (cli_opt(argc, argv, &i, "--batch", &v)) {
      bad = cli_parse_int(v, "--batch", 2, 1024, &c->batch);
    } else if (cli_opt(argc, argv, &i, "--threads", &v)) {
      bad = cli_parse_int(v, "--threads", 1, 256, &c->threads);
    } else if (cli_opt(argc, argv, &i, "--folds", &v)) {
      bad = cli_parse_int(v, "--folds", 2, 100, &c->folds);
    } else if (cli_opt(argc, argv, &i, "--max-steps", &v)) {
      bad = cli_parse_int(v, "--max-steps", 1, 100000000, &c->max_steps);
    } else if (cli_opt(argc, argv, &i, "--eval-every", &v)) {
      bad = cli_parse_int(v, "--eval-every", 1, 1000, &c->eval_every);
    } else if (cli_opt(argc, argv, &i, "--seed", &v)) {
      bad = parse_seed(v, "--seed", &c->seed);
    } else if (cli_opt(argc, argv, &i, "--split-seed", &v)) {
      bad = parse_seed(v, "--split-seed", &c->split_seed);
      c->split_seed_set = 1;
    } else if (cli_opt(argc, argv, &i, "--gamma", &v)) {
      bad = cli_parse_float(v, "--gamma", 0, 10, &c->gamma);
    } else if (cli_opt(argc, argv, &i, "--lr", &v)) {
      bad = cli_parse_float(v, "--lr", 1e-7, 10, &c->lr);
    } else if (cli_opt(argc, argv, &i, "--weight-decay", &v)) {
      bad = cli_parse_float(v, "--weight-decay", 0, 1, &c->wd);
    } else if (cli_opt(argc, argv, &i, "--val-split", &v)) {
      bad = cli_parse_float(v, "--val-split", 0.01, 0.9, &c->val_split);
    } else if (cli_opt(argc, argv, &i, "--center-crop", &v)) {
      bad = cli_parse_float(v, "--center-crop", 0.1, 1, &c->crop);
    } else if (cli_opt(argc, argv, &i, "--warmup", &v)) {
      bad = cli_parse_float(v, "--warmup", 0, 1000, &c->warmup);
    } else if (cli_opt(argc, argv, &i, "--scale-min", &v)) {
      bad = cli_parse_float(v, "--scale-min", 0.05, 1, &c->scale_min);
    } else if (cli_opt(argc, argv, &i, "--jitter", &v)) {
      bad = cli_parse_float(v, "--jitter", 0, 0.5, &c->jitter);
    } else if (cli_opt(argc, argv, &i, "--mixup", &v)) {
      bad = cli_parse_float(v, "--mixup", 0.01, 1, &c->mixup);
    } else {
      cli_error("train: unknown argument %s (see dinet train --help)", argv[i]);
      return 1;
    }
    if (bad)
      return 1;
  }
  return 0;
}

/* ---- shared helpers ------------------------------------------------- */

/* Scores of every cached image (eval mode) by dinet_net_predict: logits,
 * or with views 8 the log of the mean probability over the 8 dihedral
 * views; views 0 takes the model's own. */
static int predict_cache(dinet_net *net, const image_cache *c, int views, float *logits,
                         dinet_error *err) {
  const int S = c->side, K = dinet_net_num_classes(net), B = 8;
  float mean[3], std[3];
  dinet_net_get_norm(net, mean, std);
  const size_t per = (size_t)3 * S * S;
  float *x = malloc(sizeof(float) * per * B);
  if (!x)
    return dinet_error_set(err, DINET_ERR_NOMEM, "out of memory");
  int rc = 0;
  for (int i0 = 0; i0 < c->n && !rc; i0 += B) {
    int nb = c->n - i0 < B ? c->n - i0 : B;
    for (int b = 0; b < nb; b++)
      cache_view(c, i0 + b, S, mean, std, NULL, 0, NULL, x + b * per);    /* [nb][3][S][S] */
    float *out = logits + (size_t)i0 * K;                                 /* [nb][K] */
    rc = dinet_net_predict(net, x, nb, S, S, views, out, NULL, err);
  }
  free(x);
  return rc;
}

/* A rate to 4 places, or "n/a" when undefined (< 0: no such images, as
 * --json's null). buf holds 16 bytes. */
static const char *rate_text(double r, char *buf) {
  if (r < 0)
    return "n/a";
  snprintf(buf, 16, "%.4f", r);
  return buf;
}

/* views: the predictions' views (8 or 1), printed as a line; 0: none. */
static void print_metrics_text(FILE *f, const dinet_metrics *m, char *const *classes, int views) {
  fprintf(f, "images %d  accuracy %.4f  balanced accuracy %.4f  macro-F1 %.4f  NLL %.4f  ECE %.4f\n",
          m->n, m->accuracy, m->balanced_accuracy, m->macro_f1, m->nll, m->ece);
  char sens[16], spec[16];
  if (m->sensitivity >= 0 || m->specificity >= 0)
    fprintf(f, "normal/abnormal: accuracy %.4f  abnormal sensitivity %s  specificity %s\n",
            m->binary_accuracy, rate_text(m->sensitivity, sens), rate_text(m->specificity, spec));
  if (m->flag_sensitivity >= 0 || m->flag_specificity >= 0)
    fprintf(f, "screening flag, P(abnormal) >= %.2f: accuracy %.4f  abnormal sensitivity %s  "
               "specificity %s\n",
            DINET_FLAG_THRESHOLD, m->flag_accuracy, rate_text(m->flag_sensitivity, sens),
            rate_text(m->flag_specificity, spec));
  if (views)
    fprintf(f, views == 8 ? "views: 8 (dihedral, mean probability)\n" : "views: %d\n", views);
  fprintf(f, "%-24s %9s %9s %9s %8s\n", "class", "precision", "recall", "F1", "support");
  for (int c = 0; c < m->k; c++)
    fprintf(f, "%-24s %9.4f %9.4f %9.4f %8d\n", classes[c], m->precision[c], m->recall[c],
            m->f1[c], m->support[c]);
  fprintf(f, "confusion (rows: true class, columns: predicted class, numbered as the rows):\n");
  fprintf(f, "%26s", "");
  for (int c = 0; c < m->k; c++)
    fprintf(f, " %5d", c);
  fputc('\n', f);
  for (int r = 0; r < m->k; r++) {
    fprintf(f, "%3d %-22s", r, classes[r]);
    for (int c = 0; c < m->k; c++)
      fprintf(f, " %5d", m->confusion[r * m->k + c]);
    fputc('\n', f);
  }
}

/* ", "KEY": v, or null when v < 0 (a rate with no cases). */
static void json_rate(FILE *f, const char *key, double v) {
  fprintf(f, ", \"%s\": ", key);
  v >= 0 ? json_number(f, v) : (void)fputs("null", f);
}

static void print_metrics_json(FILE *f, const dinet_metrics *m, char *const *classes, int views) {
  fprintf(f, "{\"images\": %d, \"views\": %d, \"accuracy\": ", m->n, views);
  json_number(f, m->accuracy);
  fputs(", \"balanced_accuracy\": ", f);
  json_number(f, m->balanced_accuracy);
  fputs(", \"macro_f1\": ", f);
  json_number(f, m->macro_f1);
  fputs(", \"nll\": ", f);
  json_number(f, m->nll);
  fputs(", \"ece\": ", f);
  json_number(f, m->ece);
  json_rate(f, "abnormal_sensitivity", m->sensitivity);
  json_rate(f, "specificity", m->specificity);
  json_rate(f, "binary_accuracy", m->binary_accuracy);
  json_rate(f, "flag_sensitivity", m->flag_sensitivity);
  json_rate(f, "flag_specificity", m->flag_specificity);
  json_rate(f, "flag_accuracy", m->flag_accuracy);
  fputs(", \"classes\": [", f);
  for (int c = 0; c < m->k; c++) {
    fputs(c ? ", {\"name\": " : "{\"name\": ", f);
    json_string(f, classes[c]);
    fputs(", \"precision\": ", f);
    json_number(f, m->precision[c]);
    fputs(", \"recall\": ", f);
    json_number(f, m->recall[c]);
    fputs(", \"f1\": ", f);
    json_number(f, m->f1[c]);
    fprintf(f, ", \"support\": %d}", m->support[c]);
  }
  fputs("], \"confusion\": [", f);
  for (int r = 0; r < m->k; r++) {
    fputs(r ? ", [" : "[", f);
    for (int c = 0; c < m->k; c++)
      fprintf(f, c ? ", %d" : "%d", m->confusion[r * m->k + c]);
    fputc(']', f);
  }
  fputs("]}\n", f);
}

/* ---- the training run ----------------------------------------------- */

typedef struct run_result {
  double best_f1, best_acc; /* the epoch with the best validation macro-F1 */
  int best_epoch;
  double last_f1, last_acc; /* the last validated epoch (no selection on validation) */
} run_result;

static void rng_to_hex(const dinet_rng *r, char *buf, size_t n) {
  snprintf(buf, n, "%016llx%016llx%016llx%016llx", (unsigned long long)r->s[0],
           (unsigned long long)r->s[1], (unsigned long long)r->s[2], (unsigned long long)r->s[3]);
}

static int rng_from_hex(dinet_rng *r, const char *s) {
  if (!s || strlen(s) != 64)
    return -1;
  for (int i = 0; i < 4; i++) {
    char part[17];
    memcpy(part, s + 16 * i, 16);
    part[16] = '\0';
    char *end;
    r->s[i] = strtoull(part, &end, 16);
    if (*end)
      return -1;
  }
  return 0;
}

/* A model that is not a checkpoint (the best epoch's, a calibrated one)
 * carries none of the checkpoint's bookkeeping: it would describe another
 * epoch than the one saved. */
static void drop_checkpoint_meta(dinet_net *net) {
  static const char *const keys[] = {"train.epoch", "train.step", "train.rng", "train.best",
                                     "train.last", "train.cwd"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    dinet_net_set_meta(net, keys[i], NULL, NULL);
}

/* Saves the checkpoint: weights, optimiser state, epoch, RNG. */
static int save_checkpoint(dinet_net *net, dinet_optim *opt, const char *path, int epoch,
                           const dinet_rng *rng, const run_result *best, const char *base,
                           dinet_error *err) {
  char buf[128];
  /* where the stored command's relative paths start: --resume from elsewhere */
  if (base)
    dinet_net_set_meta(net, "train.cwd", base, err);
  snprintf(buf, sizeof buf, "%d", epoch);
  dinet_net_set_meta(net, "train.epoch", buf, err);
  snprintf(buf, sizeof buf, "%lld", (long long)dinet_optim_steps(opt));
  dinet_net_set_meta(net, "train.step", buf, err);
  rng_to_hex(rng, buf, sizeof buf);
  dinet_net_set_meta(net, "train.rng", buf, err);
  snprintf(buf, sizeof buf, "%.9g %.9g %d", best->best_f1, best->best_acc, best->best_epoch);
  dinet_net_set_meta(net, "train.best", buf, err);
  snprintf(buf, sizeof buf, "%.9g %.9g", best->last_f1, best->last_acc);
  dinet_net_set_meta(net, "train.last", buf, err);
  /* model tensors plus the optimiser state, written by one atomic call */
  const int np = dinet_net_param_tensors(net);
  dinet_st_tensor *t = calloc((size_t)np + 1, sizeof *t);
  if (!t)
    return dinet_error_set(err, DINET_ERR_NOMEM, "out of memory");
  for (int i = 0; i < np; i++) {
    dinet_param *p = dinet_net_param(net, i);
    t[i].name = p->name;
    t[i].ndim = p->ndim;
    for (int d = 0; d < p->ndim; d++)
      t[i].shape[d] = p->shape[d];
    t[i].data = p->data;
  }
  t[np].name = "optimizer.state";
  t[np].ndim = 1;
  t[np].shape[0] = (int64_t)dinet_optim_state_size(opt);
  t[np].data = dinet_optim_state(opt);
  int n = dinet_net_meta_count(net);
  const char **k = malloc(sizeof(char *) * (n + 1)), **v = malloc(sizeof(char *) * (n + 1));
  int rc;
  if (!k || !v) {
    rc = dinet_error_set(err, DINET_ERR_NOMEM, "out of memory");
  } else {
    for (int i = 0; i < n; i++) {
      k[i] = dinet_net_meta_key(net, i);
      v[i] = dinet_net_meta_value(net, i);
    }
    rc = dinet_st_write(path, t, np + (dinet_optim_state_size(opt) ? 1 : 0), DINET_DTYPE_F32, k,
                        v, n, err);
  }
  free(k);
  free(v);
  free(t);
  return rc;
}

/* A draw from Beta(a, a), 0 < a <= 1, by Johnk's method (log space, so a
 * small a does not underflow). */
static double beta_sym(dinet_rng *rng, double a) {
  for (;;) {
    double u = dinet_rng_uniform(rng), v = dinet_rng_uniform(rng);
    if (u <= 0 || v <= 0)
      continue;
    double lx = log(u) / a, ly = log(v) / a, m = lx > ly ? lx : ly;
    double ls = m + log(exp(lx - m) + exp(ly - m)); /* log(x + y) */
    if (ls <= 0)
      return exp(lx - ls);
  }
}

/* Mixup of a batch: x[b] = lam x[b] + (1 - lam) x[perm[b]] for a shuffled
 * perm and one lam >= 1/2 per batch, so labels[b] stays the larger part;
 * labels2 gets the partners' labels. */
static float mixup_batch(dinet_rng *rng, float a, float *x, size_t per, int B, const int *labels,
                         int *labels2, int *perm, float *tmp) {
  float lam = (float)beta_sym(rng, a);
  if (lam < 0.5f)
    lam = 1.0f - lam;
  for (int b = 0; b < B; b++)
    perm[b] = b;
  for (int b = B - 1; b > 0; b--) {
    int j = (int)dinet_rng_below(rng, (uint32_t)(b + 1));
    int t = perm[b];
    perm[b] = perm[j];
    perm[j] = t;
  }
  memcpy(tmp, x, sizeof(float) * per * B);                 /* [B][3][S][S] */
  for (int b = 0; b < B; b++) {
    const float *p = tmp + perm[b] * per;
    float *q = x + b * per;
    for (size_t i = 0; i < per; i++)
      q[i] = lam * q[i] + (1.0f - lam) * p[i];
    labels2[b] = labels[perm[b]];
  }
  return lam;
}

static double lr_at(const train_cfg *c, double epoch_pos) {
  if (epoch_pos < c->warmup)
    return c->lr * (epoch_pos + 1e-3) / c->warmup;
  double t = (epoch_pos - c->warmup) / fmax(1e-9, c->epochs - c->warmup);
  return c->lr * 0.5 * (1.0 + cos(M_PI * fmin(1.0, t)));
}

/* Records the typical size of the images the model sees (train, calibrate). */
static void set_image_side(dinet_net *net, int side) {
  char buf[32];
  if (side > 0) {
    snprintf(buf, sizeof buf, "%d", side);
    dinet_net_set_meta(net, DINET_META_IMAGE_SIDE, buf, NULL);
  }
}

/* Sets the model's metadata that describes the run. */
static void describe_model(dinet_net *net, const train_cfg *c, const dataset *ds, const int *ab,
                           int argc, char **argv) {
  char buf[256];
  dinet_net_set_input_size(net, c->size);
  if (c->crop < 1.0f) {
    snprintf(buf, sizeof buf, "%.4g", c->crop);
    dinet_net_set_meta(net, "center_crop", buf, NULL);
  }
  if (ab) {
    char *s = cli_abnormal_json((const char *const *)ds->classes, ab, ds->k);
    if (s)
      dinet_net_set_meta(net, "abnormal", s, NULL);
    free(s);
  }
  size_t need = 16;
  for (int i = 0; i < argc; i++)
    need += strlen(argv[i]) + 1;
  char *cmd = malloc(need);
  if (cmd) {
    size_t o = 0;
    o += (size_t)snprintf(cmd, need, "dinet");
    for (int i = 1; i < argc; i++)
      o += (size_t)snprintf(cmd + o, need - o, " %s", argv[i]);
    dinet_net_set_meta(net, "train.command", cmd, NULL);
    free(cmd);
  }
  /* the same as a JSON array, which --resume reads: paths with spaces */
  need = 16;
  for (int i = 1; i < argc; i++)
    need += dinet_json_quote(argv[i], NULL, 0) + 2;
  char *json = malloc(need);
  if (json) {
    size_t o = (size_t)snprintf(json, need, "[\"dinet\"");
    for (int i = 1; i < argc; i++) {
      json[o++] = ',';
      o += dinet_json_quote(argv[i], json + o, need - o);
    }
    json[o++] = ']';
    json[o] = '\0';
    dinet_net_set_meta(net, "train.argv", json, NULL);
    free(json);
  }
}

/* Copies parameters with matching names and shapes from a model file. */
static int init_from(dinet_net *net, const char *path, dinet_error *err) {
  dinet_net *src = dinet_net_load(path, err);
  if (!src)
    return err->code ? err->code : DINET_ERR_IO;
  int copied = 0;
  for (int i = 0; i < dinet_net_param_tensors(net); i++) {
    dinet_param *p = dinet_net_param(net, i);
    for (int j = 0; j < dinet_net_param_tensors(src); j++) {
      dinet_param *q = dinet_net_param(src, j);
      if (strcmp(p->name, q->name) == 0 && p->n == q->n) {
        memcpy(p->data, q->data, sizeof(float) * p->n);
        copied++;
      }
    }
  }
  fprintf(stderr, "dinet: initialised %d of %d tensors from %s\n", copied,
          dinet_net_param_tensors(net), path);
  dinet_net_free(src);
  dinet_net_params_changed(net);
  return DINET_OK;
}

/* Trains on train_idx, validates on val_idx; writes into c->out. */
static int train_run(const train_cfg *c, const dataset *ds, const int *train_idx, int ntrain,
                     const int *val_idx, int nval, const int *ab, int argc, char **argv,
                     run_result *res) {
  dinet_error err = {0};
  const int K = ds->k, S = c->size, B = c->batch;
  char path[4096];
  int rc = 1;
  dinet_net *net = NULL;
  dinet_optim *opt = NULL;
  image_cache tc = {0}, vc = {0};
  float *x = NULL, *z = NULL, *dz = NULL, *dz2 = NULL, *xtmp = NULL, *vlog = NULL, *alpha = NULL, *probs = NULL;
  int *labels = NULL, *labels2 = NULL, *perm = NULL, *order = NULL, *vlab = NULL, *nby = NULL;
  int **byclass = NULL;
  FILE *log = NULL;
  memset(res, 0, sizeof *res);
  res->best_f1 = -1;
  res->last_f1 = res->last_acc = NAN;
  if (mkdir(c->out, 0777) != 0 && errno != EEXIST) {
    cli_error("%s: cannot create folder: %s", c->out, strerror(errno));
    return 1;
  }
  /* model */
  int start_epoch = 0;
  dinet_rng rng;
  dinet_rng_seed(&rng, c->seed);
  if (c->resume) {
    dinet_st *st = dinet_st_open(c->resume, &err);
    if (st)
      net = dinet_net_load_st(st, c->resume, &err);
    if (!net) {
      cli_error("%s", err.message);
      dinet_st_close(st);
      return 1;
    }
    opt = dinet_optim_new(net, c->adamw ? DINET_OPTIM_ADAMW : DINET_OPTIM_SGD, 0.9f, 0.9f,
                          0.999f, 1e-8f, &err);
    int si = dinet_st_find(st, "optimizer.state");
    if (!opt || si < 0 ||
        dinet_st_read_f32(st, si, dinet_optim_state(opt), dinet_optim_state_size(opt), &err) ||
        rng_from_hex(&rng, dinet_net_meta(net, "train.rng"))) {
      cli_error("%s: not a usable training checkpoint%s%s", c->resume, err.message[0] ? ": " : "",
                err.message);
      dinet_st_close(st);
      goto out;
    }
    dinet_st_close(st);
    start_epoch = atoi(dinet_net_meta(net, "train.epoch") ? dinet_net_meta(net, "train.epoch") : "0");
    dinet_optim_set_steps(opt, atoll(dinet_net_meta(net, "train.step") ? dinet_net_meta(net, "train.step") : "0"));
    const char *b = dinet_net_meta(net, "train.best");
    if (b)
      sscanf(b, "%lf %lf %d", &res->best_f1, &res->best_acc, &res->best_epoch);
    const char *l = dinet_net_meta(net, "train.last");
    if (l)
      sscanf(l, "%lf %lf", &res->last_f1, &res->last_acc);
    fprintf(stderr, "dinet: resuming %s at epoch %d\n", c->resume, start_epoch);
  } else {
    net = dinet_net_new(c->arch, K, &err);
    if (!net) {
      cli_error("%s", err.message);
      return 1;
    }
    dinet_net_init_weights(net, c->seed);
    if (dinet_net_set_class_names(net, (const char *const *)ds->classes, K, &err) ||
        (c->init && init_from(net, c->init, &err))) {
      cli_error("%s", err.message);
      goto out;
    }
    describe_model(net, c, ds, ab, argc, argv);
    opt = dinet_optim_new(net, c->adamw ? DINET_OPTIM_ADAMW : DINET_OPTIM_SGD, 0.9f, 0.9f, 0.999f,
                          1e-8f, &err);
    if (!opt) {
      cli_error("%s", err.message);
      goto out;
    }
  }
  /* data in memory */
  double t0 = now_s();
  int side = (int)lrint(S * 1.15);
  if (cache_build(&tc, ds, train_idx, ntrain, side, c->crop, &err) ||
      (nval && cache_build(&vc, ds, val_idx, nval, S, c->crop, &err))) {
    cli_error("%s", err.message);
    goto out;
  }
  if (!c->quiet)
    fprintf(stderr, "dinet: %d training and %d validation images decoded in %.1f s\n", ntrain, nval,
            now_s() - t0);
  set_image_side(net, cache_median_side(&tc));
  /* class weights */
  alpha = malloc(sizeof(float) * K);
  int *count = calloc((size_t)K, sizeof(int));
  if (!alpha || !count) {
    free(count);
    goto nomem;
  }
  for (int i = 0; i < ntrain; i++)
    count[ds->s[train_idx[i]].label]++;
  int present = 0;
  for (int j = 0; j < K; j++)
    present += count[j] > 0;
  for (int j = 0; j < K; j++)
    alpha[j] = 1.0f;
  if (!strcmp(c->alpha_s, "auto") && !c->balance) {
    for (int j = 0; j < K; j++)
      alpha[j] = count[j] ? (float)ntrain / ((float)present * count[j]) : 0.0f;
  } else if (strcmp(c->alpha_s, "none") && strcmp(c->alpha_s, "auto")) {
    char *dup = strdup(c->alpha_s), *tok = dup ? strtok(dup, ",") : NULL;
    int j = 0;
    for (; tok && j < K; tok = strtok(NULL, ","), j++)
      alpha[j] = (float)atof(tok);
    free(dup);
    if (j != K) {
      cli_error("--alpha needs %d comma-separated numbers", K);
      free(count);
      goto out;
    }
  }
  /* per-class index lists for balanced sampling */
  byclass = calloc((size_t)K, sizeof(int *));
  nby = calloc((size_t)K, sizeof(int));
  for (int j = 0; byclass && nby && j < K; j++)
    byclass[j] = malloc(sizeof(int) * (count[j] + 1));
  for (int i = 0; byclass && nby && i < ntrain; i++) {
    int l = ds->s[train_idx[i]].label;
    if (byclass[l])
      byclass[l][nby[l]++] = i;
  }
  free(count);
  const size_t per = (size_t)3 * S * S;
  x = malloc(sizeof(float) * per * B);
  z = malloc(sizeof(float) * K * B);
  dz = malloc(sizeof(float) * K * B);
  labels = malloc(sizeof(int) * B);
  if (c->mixup > 0) {
    labels2 = malloc(sizeof(int) * B);
    perm = malloc(sizeof(int) * B);
    dz2 = malloc(sizeof(float) * K * B);
    xtmp = malloc(sizeof(float) * per * B);
    if (!labels2 || !perm || !dz2 || !xtmp)
      goto nomem;
  }
  order = malloc(sizeof(int) * (ntrain + 1));
  vlog = malloc(sizeof(float) * K * (nval + 1));
  probs = malloc(sizeof(float) * K * (nval + 1));
  vlab = malloc(sizeof(int) * (nval + 1));
  if (!x || !z || !dz || !labels || !order || !vlog || !probs || !vlab || !byclass || !nby)
    goto nomem;
  for (int i = 0; i < nval; i++)
    vlab[i] = ds->s[val_idx[i]].label;
  snprintf(path, sizeof path, "%s/log.csv", c->out);
  log = fopen(path, start_epoch ? "a" : "w");
  if (!log) {
    cli_error("%s: cannot write: %s", path, strerror(errno));
    goto out;
  }
  if (!start_epoch)
    fprintf(log, "epoch,lr,train_loss,train_acc,val_loss,val_acc,val_macro_f1,val_balanced_acc,seconds,images_per_s\n");
  fflush(log);
  float mean[3], std[3];
  dinet_net_get_norm(net, mean, std);
  augment aug = {c->scale_min, 0.1f, c->jitter * 2, c->jitter * 2, c->jitter * 2, c->jitter * 0.2f,
                 c->jitter, 1};
  const int steps_per_epoch = ntrain / B > 0 ? ntrain / B : 1;
  struct sigaction sa = {0}, old_sa;
  sa.sa_handler = on_sigint;
  sigaction(SIGINT, &sa, &old_sa);
  int total_steps = 0;
  double run_t0 = now_s();
  int last_done = start_epoch;
  for (int epoch = start_epoch; epoch < c->epochs && !stop_requested; epoch++) {
    double e0 = now_s();
    /* the epoch's order */
    for (int i = 0; i < ntrain; i++)
      order[i] = i;
    if (c->balance) {
      for (int i = 0; i < ntrain; i++) {
        int l;
        do
          l = (int)dinet_rng_below(&rng, (uint32_t)K);
        while (nby[l] == 0);
        order[i] = byclass[l][dinet_rng_below(&rng, (uint32_t)nby[l])];
      }
    } else {
      for (int i = ntrain - 1; i > 0; i--) {
        int j = (int)dinet_rng_below(&rng, (uint32_t)(i + 1));
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
    }
    double loss_sum = 0;
    int correct = 0, seen = 0;
    for (int st = 0; st < steps_per_epoch && !stop_requested; st++) {
      for (int b = 0; b < B; b++) {
        int i = order[(st * B + b) % ntrain];
        labels[b] = ds->s[train_idx[i]].label;
        cache_view(&tc, i, S, mean, std, &aug, -1, &rng, x + b * per);
      }
      float lr = (float)lr_at(c, epoch + (double)st / steps_per_epoch), loss = 0, loss2 = 0, lam = 1;
      if (c->mixup > 0)
        lam = mixup_batch(&rng, c->mixup, x, per, B, labels, labels2, perm, xtmp);
      const float g = c->focal ? c->gamma : 0.0f;
      dinet_net_zero_grad(net);
      if (dinet_net_forward_keep(net, DINET_MODE_TRAIN, x, B, S, S, z, &err) ||
          dinet_focal_loss(z, labels, B, K, g, alpha, &loss, dz, &err) ||
          (c->mixup > 0 && dinet_focal_loss(z, labels2, B, K, g, alpha, &loss2, dz2, &err))) {
        cli_error("epoch %d step %d: %s; the last checkpoint in %s is intact", epoch + 1, st + 1,
                  err.message, c->out);
        goto out;
      }
      if (c->mixup > 0) { /* the loss of a mix is the mix of the two labels' losses */
        loss = lam * loss + (1.0f - lam) * loss2;
        for (int i = 0; i < B * K; i++)                      /* [B][K] */
          dz[i] = lam * dz[i] + (1.0f - lam) * dz2[i];
      }
      if (dinet_net_backward(net, dz, 0, &err)) {
        cli_error("epoch %d step %d: %s; the last checkpoint in %s is intact", epoch + 1, st + 1,
                  err.message, c->out);
        goto out;
      }
      dinet_optim_step(opt, lr, c->wd);
      loss_sum += loss * B;
      for (int b = 0; b < B; b++) {
        int top = 0;
        for (int j = 1; j < K; j++)
          if (z[b * K + j] > z[b * K + top])
            top = j;
        correct += top == labels[b];
      }
      seen += B;
      total_steps++;
      double el = now_s() - e0;
      if (!c->quiet && (st % 10 == 9 || st == steps_per_epoch - 1)) {
        double ips = seen / el;
        double left = ((double)(c->epochs - epoch - 1) * steps_per_epoch + steps_per_epoch - st - 1) * B / ips;
        fprintf(stderr, "epoch %d/%d step %d/%d loss %.4f acc %.3f lr %.4g %.1f img/s ETA %02d:%02d:%02d\n",
                epoch + 1, c->epochs, st + 1, steps_per_epoch, loss_sum / seen, (double)correct / seen,
                lr, ips, (int)(left / 3600), (int)(left / 60) % 60, (int)left % 60);
      }
      if (c->max_steps && total_steps >= c->max_steps)
        stop_requested = 2;
    }
    if (stop_requested == 1 || (stop_requested == 2 && seen < steps_per_epoch * B)) {
      /* interrupted mid-epoch: the checkpoint stays at the last whole epoch */
      break;
    }
    /* validation */
    double vloss = NAN;
    dinet_metrics *m = NULL;
    if (nval && ((epoch + 1) % c->eval_every == 0 || epoch + 1 == c->epochs)) {
      if (predict_cache(net, &vc, 1, vlog, &err)) {   /* one view while training */
        cli_error("validation: %s", err.message);
        goto out;
      }
      dinet_softmax(vlog, nval, K, 1.0f, probs);
      m = dinet_metrics_compute(probs, vlab, nval, K, ab);
      vloss = m ? m->nll : NAN;
    }
    double secs = now_s() - e0;
    fprintf(log, "%d,%.6g,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.1f,%.2f\n", epoch + 1,
            lr_at(c, epoch + 1.0), loss_sum / seen, (double)correct / seen, vloss,
            m ? m->accuracy : NAN, m ? m->macro_f1 : NAN, m ? m->balanced_accuracy : NAN, secs,
            seen / secs);
    fflush(log);
    if (!c->quiet)
      fprintf(stderr, "epoch %d/%d done in %.0f s: train loss %.4f acc %.3f%s", epoch + 1, c->epochs,
              secs, loss_sum / seen, (double)correct / seen, m ? "" : "\n");
    if (m) {
      if (!c->quiet)
        fprintf(stderr, "; val acc %.4f macro-F1 %.4f\n", m->accuracy, m->macro_f1);
      res->last_f1 = m->macro_f1;
      res->last_acc = m->accuracy;
      if (m->macro_f1 > res->best_f1) {
        res->best_f1 = m->macro_f1;
        res->best_acc = m->accuracy;
        res->best_epoch = epoch + 1;
        char buf[64];
        snprintf(buf, sizeof buf, "%d", epoch + 1);
        dinet_net_set_meta(net, "train.best_epoch", buf, NULL);
        drop_checkpoint_meta(net); /* save_checkpoint() sets them again */
        snprintf(path, sizeof path, "%s/best.safetensors", c->out);
        if (dinet_net_save(net, path, DINET_DTYPE_F32, &err)) {
          cli_error("%s", err.message);
          dinet_metrics_free(m);
          goto out;
        }
      }
      dinet_metrics_free(m);
    }
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", c->out);
    if (save_checkpoint(net, opt, path, epoch + 1, &rng, res, c->base, &err)) {
      cli_error("%s", err.message);
      goto out;
    }
    last_done = epoch + 1;
  }
  sigaction(SIGINT, &old_sa, NULL);
  if (!nval && stop_requested != 1) { /* no validation: the last epoch is the model */
    drop_checkpoint_meta(net);
    snprintf(path, sizeof path, "%s/best.safetensors", c->out);
    if (dinet_net_save(net, path, DINET_DTYPE_F32, &err)) {
      cli_error("%s", err.message);
      goto out;
    }
  }
  if (stop_requested == 1 && last_done == 0)
    fprintf(stderr, "dinet: interrupted before the first epoch ended: nothing to resume\n");
  else if (stop_requested == 1 && c->cv_fold)
    fprintf(stderr, "dinet: interrupted (epoch %d done); run the same dinet cv command again to resume\n",
            last_done);
  else if (stop_requested == 1)
    fprintf(stderr, "dinet: interrupted; resume with --resume %s/checkpoint.safetensors (epoch %d done)\n",
            c->out, last_done);
  if (!c->quiet)
    fprintf(stderr, "dinet: %d epoch%s in %.0f s; best val macro-F1 %.4f (acc %.4f) at epoch %d\n",
            last_done - start_epoch, last_done - start_epoch == 1 ? "" : "s", now_s() - run_t0,
            res->best_f1, res->best_acc, res->best_epoch);
  rc = stop_requested == 1 ? 130 : 0; /* 128 + SIGINT, as a shell reports it */
  goto out;
nomem:
  cli_error("out of memory");
out:
  if (byclass)
    for (int j = 0; j < K; j++)
      free(byclass[j]);
  free(byclass);
  free(nby);
  if (log)
    fclose(log);
  cache_free(&tc);
  cache_free(&vc);
  free(x);
  free(z);
  free(dz);
  free(vlog);
  free(probs);
  free(alpha);
  free(labels);
  free(labels2);
  free(perm);
  free(dz2);
  free(xtmp);
  free(order);
  free(vlab);
  dinet_optim_free(opt);
  dinet_net_free(net);
  return rc;
}

/* Writes the relative paths of the chosen samples. */
static int write_list(const char *path, const dataset *ds, const int *idx, int n) {
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  for (int i = 0; i < n; i++)
    fprintf(f, "%s\n", ds->s[idx[i]].rel);
  return fclose(f);
}

/* The folder the run was started from, found from the checkpoint's own
 * folder and the run's --out: ".../here" and "runs/x" give "..." when
 * here = runs/x. NULL when --out is absolute or does not fit (then the
 * current folder is used). Caller frees. */
static char *run_base_dir(const char *checkpoint, const char *out) {
  char *ck = realpath(checkpoint, NULL);
  if (!ck || out[0] == '/') {
    free(ck);
    return NULL;
  }
  char *slash = strrchr(ck, '/');
  *slash = '\0'; /* ck: the run's folder */
  char rel[4096];
  snprintf(rel, sizeof rel, "%s", out);
  size_t n = strlen(rel);
  while (n > 1 && rel[n - 1] == '/')
    rel[--n] = '\0';
  const char *r = rel;
  while (r[0] == '.' && r[1] == '/')
    r += 2;
  size_t lr = strlen(r), lc = strlen(ck);
  if (strstr(r, "..") || lr >= lc || strcmp(ck + lc - lr, r) || ck[lc - lr - 1] != '/') {
    free(ck);
    return NULL;
  }
  ck[lc - lr - 1] = '\0';
  if (ck[0] == '\0')
    strcpy(ck, "/");
  return ck;
}

/* Whether dir/rel (rel alone when dir is NULL) is the folder at. */
static int same_folder(const char *dir, const char *rel, const struct stat *at) {
  char path[4096];
  struct stat st;
  if (dir)
    snprintf(path, sizeof path, "%s/%s", dir, rel);
  else
    snprintf(path, sizeof path, "%s", rel);
  return stat(path, &st) == 0 && st.st_dev == at->st_dev && st.st_ino == at->st_ino;
}

/* A relative path of the stored command, made relative to base. */
static const char *rebase(const char *path, const char *base, char **owned) {
  if (!path || !base || path[0] == '/')
    return path;
  size_t n = strlen(base) + strlen(path) + 2;
  *owned = malloc(n);
  if (!*owned)
    return path;
  snprintf(*owned, n, "%s/%s", base, path);
  return *owned;
}

/* --resume CHECKPOINT continues the run as it was started: the settings
 * come from the checkpoint's stored command, with its paths taken from
 * where the run was started, and its --out the checkpoint's folder. Only
 * --threads, --max-steps and --quiet may be given with it. */
typedef struct {
  char **argv; /* the stored command (a NULL-terminated vector) */
  int argc;
  char *cwd_then; /* the run's recorded start folder (train.cwd), or NULL */
  char *base, *data, *val, *init, *out;
} resumed;

static void resumed_free(resumed *r) {
  dinet_strv_free(r->argv);
  free(r->cwd_then);
  free(r->base);
  free(r->data);
  free(r->val);
  free(r->init);
  free(r->out);
}

static int resume_cfg(const train_cfg *given, int argc, char **argv, train_cfg *c, resumed *r) {
  for (int i = 2; i < argc; i++) {
    const char *v;
    if (cli_opt(argc, argv, &i, "--resume", &v) || cli_opt(argc, argv, &i, "--threads", &v) ||
        cli_opt(argc, argv, &i, "--max-steps", &v) || cli_opt(argc, argv, &i, "--quiet", NULL))
      continue;
    cli_error("%s: a resumed run keeps the settings it was started with; only --threads, "
              "--max-steps and --quiet may be given with --resume (to train on with other "
              "settings, start a new run with --init %s)",
              argv[i], given->resume);
    return 1;
  }
  dinet_error err = {0};
  dinet_st *st = dinet_st_open(given->resume, &err);
  const char *json = st ? dinet_st_meta(st, "train.argv") : NULL;
  const char *cmd = st ? dinet_st_meta(st, "train.command") : NULL;
  if (!json && !cmd) {
    cli_error("%s: %s", given->resume, st ? "not a dinet training checkpoint" : err.message);
    dinet_st_close(st);
    return 1;
  }
  if (json) {
    r->argc = dinet_json_parse_string_array(json, &r->argv, &err);
  } else {
    /* checkpoints before train.argv: the command split at spaces */
    r->argv = calloc(strlen(cmd) + 2, sizeof(char *));
    char *dup = strdup(cmd);
    r->argc = 0;
    for (char *t = dup ? strtok(dup, " ") : NULL; t && r->argv; t = strtok(NULL, " "))
      if (!(r->argv[r->argc++] = strdup(t))) {
        r->argc = -1; /* out of memory */
        break;
      }
    free(dup);
  }
  const char *cwd_then = dinet_st_meta(st, "train.cwd");
  r->cwd_then = cwd_then ? strdup(cwd_then) : NULL;
  dinet_st_close(st);
  if (r->argc < 2 || !r->argv) {
    cli_error("%s: its stored command cannot be read%s%s", given->resume, err.message[0] ? ": " : "",
              err.message);
    return 1;
  }
  if (strcmp(r->argv[1], "train") != 0) {
    cli_error("%s: a checkpoint of dinet %s, not of dinet train: run the same dinet %s command "
              "again to resume it",
              given->resume, r->argv[1], r->argv[1]);
    return 1;
  }
  cfg_defaults(c);
  if (parse_train_args(r->argc, r->argv, 2, c))
    return 1;
  if (!c->data || !c->out) {
    cli_error("%s: its stored command has no --data or --out", given->resume);
    return 1;
  }
  /* Where the run's relative paths start: here, when --out seen from here
   * is the checkpoint's folder; else the folder the run recorded; else
   * the one found by taking --out off the checkpoint's folder. */
  char *ck_dir = strdup(given->resume);
  char *cut = ck_dir ? strrchr(ck_dir, '/') : NULL;
  struct stat at;
  if (cut)
    *cut = '\0';
  int have_at = ck_dir && stat(!cut ? "." : cut == ck_dir ? "/" : ck_dir, &at) == 0;
  if (have_at && same_folder(NULL, c->out, &at))
    r->base = NULL;
  else if (have_at && r->cwd_then && c->out[0] != '/' && same_folder(r->cwd_then, c->out, &at))
    r->base = strdup(r->cwd_then);
  else
    r->base = run_base_dir(given->resume, c->out);
  free(ck_dir);
  c->data = rebase(c->data, r->base, &r->data);
  c->val_dir = rebase(c->val_dir, r->base, &r->val);
  c->init = rebase(c->init, r->base, &r->init);
  c->base = r->base; /* NULL: here (train_main records it) */
  /* the run goes on where its checkpoint is */
  r->out = strdup(given->resume);
  char *slash = r->out ? strrchr(r->out, '/') : NULL;
  if (slash)
    *slash = '\0';
  else if (r->out)
    strcpy(r->out, ".");
  if (r->out)
    c->out = r->out;
  c->resume = given->resume;
  if (given->threads)
    c->threads = given->threads;
  c->max_steps = given->max_steps; /* a step limit is never inherited */
  c->quiet = c->quiet || given->quiet;
  return 0;
}

/* A data set of one class trains nothing: said, and 1 returned. */
static int one_class(const dataset *ds, const char *data) {
  if (ds->k >= 2)
    return 0;
  cli_error("%s: one class folder (%s); a classifier needs at least two (DIR/CLASS/IMAGE)", data,
            ds->classes[0]);
  return 1;
}

/* Nothing of an earlier run is overwritten: a checkpoint (it can be
 * resumed) or a model. A run stopped inside its first epoch left only a
 * log, and is started again. */
static int check_out_unused(const char *out) {
  char path[4096];
  snprintf(path, sizeof path, "%s/checkpoint.safetensors", out);
  if (access(path, F_OK) == 0) {
    cli_error("%s already holds a run: resume it with --resume %s, or give another --out", out, path);
    return 1;
  }
  snprintf(path, sizeof path, "%s/best.safetensors", out);
  if (access(path, F_OK) == 0) {
    cli_error("%s already holds a model (best.safetensors): give another --out, or move it away", out);
    return 1;
  }
  return 0;
}

/* Trains with the settings c; argv is the command to store in the model
 * (a resumed run's original one). */
static int train_main(train_cfg c, int argc, char **argv) {
  if (!c.data || !c.out) {
    cli_error("train needs --data DIR and --out DIR (see dinet train --help)");
    return 1;
  }
  if (!c.resume && check_out_unused(c.out))
    return 1;
  char here[4096];
  if (!c.base && getcwd(here, sizeof here))
    c.base = here; /* recorded in each checkpoint: --resume from elsewhere */
  dinet_set_threads(c.threads);
  dinet_error err = {0};
  dataset ds;
  if (dataset_scan(&ds, c.data, NULL, 0, c.group_by, &err)) {
    cli_error("%s", err.message);
    dataset_free(&ds);
    return 1;
  }
  if (one_class(&ds, c.data)) {
    dataset_free(&ds);
    return 1;
  }
  /* --val DIR: trained on all of --data, validated on DIR (same classes) */
  dataset vds = {0};
  int n_train_set = ds.n;
  if (c.val_dir) {
    if (c.val_split > 0) {
      cli_error("give --val DIR or --val-split F, not both");
      dataset_free(&ds);
      return 1;
    }
    if (dataset_scan(&vds, c.val_dir, ds.classes, ds.k, NULL, &err) ||
        dataset_append(&ds, &vds, &err)) {
      cli_error("%s", err.message);
      dataset_free(&vds);
      dataset_free(&ds);
      return 1;
    }
  }
  int *val = calloc((size_t)ds.n, sizeof(int)), *ti = malloc(sizeof(int) * ds.n),
      *vi = malloc(sizeof(int) * ds.n);
  int nt = 0, nv = 0, rc = 1;
  int *ab = NULL;
  if (cli_parse_abnormal(c.abnormal, (const char *const *)ds.classes, ds.k, &ab))
    goto out;
  if (!val || !ti || !vi) {
    cli_error("out of memory");
    goto out;
  }
  if (c.val_dir) {
    for (int i = n_train_set; i < ds.n; i++)
      val[i] = 1;
  } else if (c.val_split > 0)
    dataset_split(&ds, c.val_split, c.split_seed_set ? c.split_seed : c.seed, val);
  for (int i = 0; i < ds.n; i++) {
    if (val[i])
      vi[nv++] = i;
    else
      ti[nt++] = i;
  }
  if (nt < c.batch) {
    cli_error("only %d training images for batch %d", nt, c.batch);
    goto out;
  }
  if (mkdir(c.out, 0777) != 0 && errno != EEXIST) {
    cli_error("%s: cannot create folder: %s", c.out, strerror(errno));
    goto out;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/val.txt", c.out);
  write_list(path, &ds, vi, nv);
  snprintf(path, sizeof path, "%s/train.txt", c.out);
  write_list(path, &ds, ti, nt);
  run_result res;
  rc = train_run(&c, &ds, ti, nt, vi, nv, ab, argc, argv, &res);
out:
  free(val);
  free(ti);
  free(vi);
  free(ab);
  dataset_free(&ds);
  if (vds.root)
    dataset_free(&vds);
  return rc;
}

int cmd_train(int argc, char **argv) {
  train_cfg c;
  cfg_defaults(&c);
  if (parse_train_args(argc, argv, 2, &c))
    return 1;
  if (!c.resume)
    return train_main(c, argc, argv);
  /* A resumed run takes its settings from the checkpoint's command line. */
  resumed rs = {0};
  train_cfg r;
  int rc = resume_cfg(&c, argc, argv, &r, &rs) ? 1 : train_main(r, rs.argc, rs.argv);
  resumed_free(&rs);
  return rc;
}

/* ---- eval and calibrate ---------------------------------------------- */

/* A model and the logits it gives on a data set (optionally restricted to a
 * list of files, or with a list excluded). */
typedef struct eval_set {
  dinet_net *net;
  dataset ds;
  char **classes; /* borrowed names, in the model's order */
  int *labels;
  float *logits;  /* ds.n x K */
  int image_side; /* median shorter side of the originals */
} eval_set;

static void eval_set_free(eval_set *e) {
  if (e->ds.root)
    dataset_free(&e->ds);
  free(e->classes);
  free(e->labels);
  free(e->logits);
  dinet_net_free(e->net);
}

/* Loads the model, scans the data in the model's class order and runs it. */
static int eval_set_run(eval_set *e, const char *model, const char *data, const char *list,
                        const char *exclude, int views, dinet_error *err) {
  memset(e, 0, sizeof *e);
  if (!(e->net = dinet_net_load(model, err)))
    return 1;
  const int K = dinet_net_num_classes(e->net), S = dinet_net_input_size(e->net);
  e->classes = malloc(sizeof(char *) * (K + 1));
  if (!e->classes)
    return dinet_error_set(err, DINET_ERR_NOMEM, "out of memory"), 1;
  for (int j = 0; j < K; j++)
    e->classes[j] = (char *)dinet_net_class_name(e->net, j);
  if (dataset_scan(&e->ds, data, e->classes, K, NULL, err) ||
      (list && dataset_filter_list(&e->ds, list, 1, err)) ||
      (exclude && dataset_filter_list(&e->ds, exclude, 0, err)))
    return 1;
  const int n = e->ds.n;
  int *idx = malloc(sizeof(int) * n);
  e->labels = malloc(sizeof(int) * n);
  e->logits = malloc(sizeof(float) * K * n);
  if (!idx || !e->labels || !e->logits) {
    free(idx);
    return dinet_error_set(err, DINET_ERR_NOMEM, "out of memory"), 1;
  }
  for (int i = 0; i < n; i++) {
    idx[i] = i;
    e->labels[i] = e->ds.s[i].label;
  }
  image_cache cache = {0};
  int rc = cache_build(&cache, &e->ds, idx, n, S, dinet_net_center_crop(e->net), err) ||
           predict_cache(e->net, &cache, views, e->logits, err);
  e->image_side = rc ? 0 : cache_median_side(&cache);
  cache_free(&cache);
  free(idx);
  return rc;
}

int cmd_eval(int argc, char **argv) {
  const char *model = NULL, *data = NULL, *list = NULL, *exclude = NULL, *v;
  int json = 0, views = 0, threads = 0;
  for (int i = 2; i < argc; i++) {
    if (cli_opt(argc, argv, &i, "--model", &model) || cli_opt(argc, argv, &i, "--data", &data) ||
        cli_opt(argc, argv, &i, "--list", &list) || cli_opt(argc, argv, &i, "--exclude", &exclude) ||
        cli_tta_opt(argc, argv, &i, &views))
      continue;
    if (cli_opt(argc, argv, &i, "--json", NULL)) {
      json = 1;
      continue;
    }
    if (cli_opt(argc, argv, &i, "--threads", &v)) {
      if (cli_parse_int(v, "--threads", 1, 256, &threads))
        return 1;
      continue;
    }
    cli_error("eval: unknown argument %s", argv[i]);
    return 1;
  }
  if (!model || !data) {
    cli_error("eval needs --model M --data DIR (see dinet eval --help)");
    return 1;
  }
  dinet_set_threads(threads);
  dinet_error err = {0};
  eval_set e;
  int rc = 1;
  if (eval_set_run(&e, model, data, list, exclude, views, &err)) {
    cli_error("%s", err.message);
    eval_set_free(&e);
    return 1;
  }
  const int K = dinet_net_num_classes(e.net), n = e.ds.n;
  float *probs = malloc(sizeof(float) * K * n);
  int *ab = cli_model_abnormal(e.net);
  if (probs) {
    dinet_softmax(e.logits, n, K, dinet_net_temperature(e.net), probs);
    dinet_metrics *m = dinet_metrics_compute(probs, e.labels, n, K, ab);
    if (m) {
      const int nv = views ? views : dinet_net_tta_views(e.net);
      if (json)
        print_metrics_json(stdout, m, e.classes, nv);
      else
        print_metrics_text(stdout, m, e.classes, nv);
      dinet_metrics_free(m);
      rc = 0;
    }
  }
  free(probs);
  free(ab);
  eval_set_free(&e);
  return rc;
}

int cmd_calibrate(int argc, char **argv) {
  const char *model = NULL, *data = NULL, *list = NULL, *out = NULL, *dtype = "f32", *v;
  int threads = 0, views = 0;
  for (int i = 2; i < argc; i++) {
    if (cli_opt(argc, argv, &i, "--model", &model) || cli_opt(argc, argv, &i, "--data", &data) ||
        cli_opt(argc, argv, &i, "--list", &list) || cli_opt(argc, argv, &i, "--out", &out) ||
        cli_opt(argc, argv, &i, "--dtype", &dtype) || cli_tta_opt(argc, argv, &i, &views))
      continue;
    if (cli_opt(argc, argv, &i, "--threads", &v)) {
      if (cli_parse_int(v, "--threads", 1, 256, &threads))
        return 1;
      continue;
    }
    cli_error("calibrate: unknown argument %s", argv[i]);
    return 1;
  }
  if (!model || !data) {
    cli_error("calibrate needs --model M --data DIR (see dinet calibrate --help)");
    return 1;
  }
  if (strcmp(dtype, "f16") && strcmp(dtype, "f32")) {
    cli_error("--dtype must be f16 or f32, not \"%s\"", dtype);
    return 1;
  }
  dinet_set_threads(threads);
  dinet_error err = {0};
  eval_set e;
  if (eval_set_run(&e, model, data, list, NULL, views, &err)) {
    cli_error("%s", err.message);
    eval_set_free(&e);
    return 1;
  }
  dinet_net *net = e.net;
  set_image_side(net, e.image_side);
  /* --tta: the model's predictions average the 8 dihedral views from now
   * on (viewer and classify too); the temperature is fitted to those. */
  if (views)
    dinet_net_set_meta(net, DINET_META_TTA, views == 8 ? DINET_TTA_DIHEDRAL8 : NULL, NULL);
  const int K = dinet_net_num_classes(net), n = e.ds.n;
  float t = dinet_fit_temperature(e.logits, e.labels, n, K);
  double before = dinet_nll(e.logits, e.labels, n, K, 1.0f), after = dinet_nll(e.logits, e.labels, n, K, t);
  char buf[64];
  snprintf(buf, sizeof buf, "%.6g", t);
  dinet_net_set_meta(net, "temperature", buf, NULL);
  printf("temperature %.4f: NLL %.4f -> %.4f on %d images (%s)\n", t, before, after, n,
         dinet_net_tta_views(net) == 8 ? "mean of 8 dihedral views" : "one view");
  /* the search covers T in [0.05, 20]: at an end, the fit says little */
  if (t > 19.0f || t < 0.055f)
    fprintf(stderr,
            "dinet: warning: the temperature is at the end of its range (0.05..20). %s\n",
            t > 1 ? "The model's scores on these images carry almost no information: the "
                    "calibrated probabilities are close to uniform (was it trained long enough, "
                    "on these classes?)."
                  : "The model is far less confident than it is right on these images.");
  /* a shipped model carries no checkpoint bookkeeping */
  drop_checkpoint_meta(net);
  /* the calibration set's figures travel with the model (shown in reports) */
  float *probs = malloc(sizeof(float) * K * n);
  int *ab = cli_model_abnormal(net);
  dinet_metrics *m = probs ? (dinet_softmax(e.logits, n, K, t, probs),
                              dinet_metrics_compute(probs, e.labels, n, K, ab)) : NULL;
  if (m) {
    const struct { const char *key; double v; } figs[] = {
        {"metrics.val_accuracy", m->accuracy}, {"metrics.val_balanced_accuracy", m->balanced_accuracy},
        {"metrics.val_macro_f1", m->macro_f1}, {"metrics.val_ece", m->ece},
        {"metrics.val_abnormal_sensitivity", m->sensitivity}, {"metrics.val_specificity", m->specificity},
        {"metrics.val_binary_accuracy", m->binary_accuracy},
        {"metrics.val_flag_sensitivity", m->flag_sensitivity},
        {"metrics.val_flag_specificity", m->flag_specificity}};
    for (size_t i = 0; i < sizeof figs / sizeof *figs; i++) {
      if (figs[i].v < 0)
        continue;
      snprintf(buf, sizeof buf, "%.4f", figs[i].v);
      dinet_net_set_meta(net, figs[i].key, buf, NULL);
    }
    snprintf(buf, sizeof buf, "%d", n);
    dinet_net_set_meta(net, "metrics.val_images", buf, NULL);
    print_metrics_text(stdout, m, e.classes, 0); /* the views are in the first line */
    dinet_metrics_free(m);
  }
  free(probs);
  free(ab);
  int rc = 0;
  if (dinet_net_save(net, out ? out : model, !strcmp(dtype, "f16") ? DINET_DTYPE_F16 : DINET_DTYPE_F32, &err)) {
    cli_error("%s", err.message);
    rc = 1;
  }
  eval_set_free(&e);
  return rc;
}

/* ---- cross-validation ------------------------------------------------- */

int cmd_cv(int argc, char **argv) {
  train_cfg c;
  cfg_defaults(&c);
  c.folds = 5;
  if (parse_train_args(argc, argv, 2, &c))
    return 1;
  if (!c.data || !c.out) {
    cli_error("cv needs --data DIR and --out DIR (see dinet cv --help)");
    return 1;
  }
  if (c.resume) {
    cli_error("cv resumes by itself: run the same dinet cv command again (finished folds are kept, "
              "an interrupted one resumes)");
    return 1;
  }
  dinet_set_threads(c.threads);
  dinet_error err = {0};
  dataset ds;
  if (dataset_scan(&ds, c.data, NULL, 0, c.group_by, &err)) {
    cli_error("%s", err.message);
    return 1;
  }
  if (one_class(&ds, c.data)) {
    dataset_free(&ds);
    return 1;
  }
  if (mkdir(c.out, 0777) != 0 && errno != EEXIST) {
    cli_error("%s: cannot create folder: %s", c.out, strerror(errno));
    return 1;
  }
  int *fold = malloc(sizeof(int) * ds.n), *ti = malloc(sizeof(int) * ds.n),
      *vi = malloc(sizeof(int) * ds.n);
  int *ab = NULL;
  /* per fold: [0] final accuracy, [1] final macro-F1, [2] best accuracy, [3] best macro-F1 */
  double(*r)[4] = calloc((size_t)c.folds, sizeof *r);
  int rc = 0;
  if (cli_parse_abnormal(c.abnormal, (const char *const *)ds.classes, ds.k, &ab))
    rc = 1;
  else if (!fold || !ti || !vi || !r) {
    cli_error("out of memory");
    rc = 1;
  } else
    dataset_folds(&ds, c.folds, c.split_seed_set ? c.split_seed : c.seed, fold);
  char base[4096];
  snprintf(base, sizeof base, "%s", c.out);
  for (int f = 0; f < c.folds && !rc; f++) {
    int nt = 0, nv = 0;
    for (int i = 0; i < ds.n; i++) {
      if (fold[i] == f)
        vi[nv++] = i;
      else
        ti[nt++] = i;
    }
    char dir[4200], lp[4300], ck[4300], rp[4300];
    snprintf(dir, sizeof dir, "%s/fold%d", base, f + 1);
    snprintf(ck, sizeof ck, "%s/checkpoint.safetensors", dir);
    snprintf(rp, sizeof rp, "%s/result.txt", dir);
    run_result res;
    int best_epoch = 0;
    /* a finished fold is not trained again; an interrupted one resumes */
    FILE *rf = fopen(rp, "r");
    int done = rf && fscanf(rf, "%lf %lf %lf %lf %d", &r[f][0], &r[f][1], &r[f][2], &r[f][3],
                            &best_epoch) == 5;
    if (rf)
      fclose(rf);
    if (!done) {
      train_cfg fc = c;
      fc.out = dir;
      fc.seed = c.seed + (uint64_t)f;
      fc.cv_fold = 1;
      fc.resume = access(ck, R_OK) == 0 ? ck : NULL;
      fprintf(stderr, "dinet: fold %d/%d: %d training, %d validation images\n", f + 1, c.folds, nt, nv);
      if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        cli_error("%s: cannot create folder: %s", dir, strerror(errno));
        rc = 1;
        break;
      }
      snprintf(lp, sizeof lp, "%s/val.txt", dir);
      write_list(lp, &ds, vi, nv);
      snprintf(lp, sizeof lp, "%s/train.txt", dir);
      write_list(lp, &ds, ti, nt);
      rc = train_run(&fc, &ds, ti, nt, vi, nv, ab, argc, argv, &res);
      if (rc)
        break;
      r[f][0] = res.last_acc;
      r[f][1] = res.last_f1;
      r[f][2] = res.best_acc;
      r[f][3] = res.best_f1;
      best_epoch = res.best_epoch;
      rf = fopen(rp, "w");
      if (!rf || fprintf(rf, "%.9g %.9g %.9g %.9g %d\n", r[f][0], r[f][1], r[f][2], r[f][3],
                         best_epoch) < 0 || fclose(rf) != 0) {
        cli_error("%s: cannot write: %s", rp, strerror(errno));
        rc = 1;
        break;
      }
      unlink(ck); /* the fold is done: its checkpoint only served resuming */
    }
    printf("fold %d: last epoch accuracy %.4f macro-F1 %.4f; best epoch %d accuracy %.4f macro-F1 %.4f\n",
           f + 1, r[f][0], r[f][1], best_epoch, r[f][2], r[f][3]);
    fflush(stdout);
  }
  if (!rc) {
    double mean[4] = {0}, sd[4] = {0};
    for (int j = 0; j < 4; j++) {
      for (int f = 0; f < c.folds; f++)
        mean[j] += r[f][j] / c.folds;
      for (int f = 0; f < c.folds; f++)
        sd[j] += (r[f][j] - mean[j]) * (r[f][j] - mean[j]) / (c.folds - 1);
      sd[j] = sqrt(sd[j]);
    }
    /* the last epoch is the unbiased figure; the best epoch was chosen on
     * the validation fold itself and is optimistic */
    printf("cv %d folds, last epoch: accuracy %.4f ± %.4f  macro-F1 %.4f ± %.4f\n", c.folds,
           mean[0], sd[0], mean[1], sd[1]);
    printf("cv %d folds, best epoch (selected on the validation fold, optimistic): accuracy %.4f ± "
           "%.4f  macro-F1 %.4f ± %.4f\n",
           c.folds, mean[2], sd[2], mean[3], sd[3]);
  }
  free(r);
  free(fold);
  free(ti);
  free(vi);
  free(ab);
  dataset_free(&ds);
  return rc;
}
