/* test_train.c — dinet train on a generated, learnable data set: the loss
 * falls and validation accuracy clears chance; a run interrupted after one
 * epoch and resumed gives bit-identical weights to an uninterrupted run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dinet/dinet.h"
#include "testutil.h"

static const char *dinet_bin(void) {
  const char *d = getenv("DINET");
  return d && *d ? d : "./engine/dinet";
}

/* Three classes told apart by their dominant colour, with texture noise. */
static int make_dataset(const char *root, int per_class, uint64_t seed) {
  static const char *names[3] = {"reddish", "greenish", "bluish"};
  dinet_rng r;
  dinet_rng_seed(&r, seed);
  mkdir(root, 0777);
  for (int c = 0; c < 3; c++) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", root, names[c]);
    mkdir(dir, 0777);
    for (int i = 0; i < per_class; i++) {
      dinet_image *im = dinet_image_new(40, 40, NULL);
      if (!im)
        return -1;
      for (int p = 0; p < 40 * 40; p++)
        for (int k = 0; k < 3; k++) {
          double v = (k == c ? 170 : 80) + 40 * dinet_rng_normal(&r);
          im->rgb[p * 3 + k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
      char path[1100];
      snprintf(path, sizeof path, "%s/%03d.png", dir, i);
      int rc = dinet_image_save_png(im, path, NULL);
      dinet_image_free(im);
      if (rc)
        return -1;
    }
  }
  return 0;
}

/* Column `col` of log.csv row `row` (1-based epochs). */
static double log_value(const char *out, int row, int col) {
  char path[1100], line[1024];
  snprintf(path, sizeof path, "%s/log.csv", out);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  double v = -1;
  for (int r = 0; fgets(line, sizeof line, f); r++) {
    if (r != row)
      continue;
    char *p = line;
    for (int c = 0; c < col && p; c++) {
      p = strchr(p, ',');
      if (p)
        p++;
    }
    if (p)
      v = atof(p);
  }
  fclose(f);
  return v;
}

static int run(const char *cmd) {
  fprintf(stderr, "+ %s\n", cmd);
  return system(cmd);
}

/* 1 if every tensor of a and b (weights, BN statistics, optimiser state) is bit-identical. */
static int same_tensors(const char *a, const char *b) {
  dinet_error err = {0};
  dinet_st *x = dinet_st_open(a, &err), *y = dinet_st_open(b, &err);
  int same = x && y && dinet_st_count(x) == dinet_st_count(y);
  for (int i = 0; same && i < dinet_st_count(x); i++) {
    int j = dinet_st_find(y, dinet_st_name(x, i));
    size_t n = (size_t)dinet_st_numel(x, i);
    same = j >= 0 && (size_t)dinet_st_numel(y, j) == n;
    if (!same)
      break;
    float *u = malloc(sizeof(float) * (n + 1)), *v = malloc(sizeof(float) * (n + 1));
    same = u && v && !dinet_st_read_f32(x, i, u, n, &err) && !dinet_st_read_f32(y, j, v, n, &err) &&
           memcmp(u, v, sizeof(float) * n) == 0;
    if (!same)
      fprintf(stderr, "tensor %s differs\n", dinet_st_name(x, i));
    free(u);
    free(v);
  }
  dinet_st_close(x);
  dinet_st_close(y);
  return same;
}

int main(void) {
  const char *tmp = tu_tmpdir();
  char data[600], out1[600], out2[600], cmd[16384];
  snprintf(data, sizeof data, "%s/data", tmp);
  snprintf(out1, sizeof out1, "%s/run1", tmp);
  snprintf(out2, sizeof out2, "%s/run2", tmp);
  CHECK(make_dataset(data, 24, 3) == 0, "generate data set");
  const char *common = "--size 48 --batch 8 --lr 0.005 --warmup 1 --val-split 0.25 --seed 9 --threads 2 --quiet";

  /* learning: 5 epochs */
  snprintf(cmd, sizeof cmd, "%s train --data %s --out %s --epochs 5 %s", dinet_bin(), data, out1, common);
  CHECK(run(cmd) == 0, "train");
  double loss1 = log_value(out1, 1, 2), loss4 = log_value(out1, 5, 2), acc4 = log_value(out1, 5, 5);
  CHECK(loss1 > 0 && loss4 >= 0 && loss4 < loss1, "training loss falls: %g -> %g", loss1, loss4);
  CHECK(acc4 >= 0.7, "validation accuracy %g should clear chance (0.33) by a clear margin", acc4);
  char best[700];
  snprintf(best, sizeof best, "%s/best.safetensors", out1);
  snprintf(cmd, sizeof cmd, "%s eval --model %s --data %s --list %s/val.txt > %s/eval.txt", dinet_bin(),
           best, data, out1, tmp);
  CHECK(run(cmd) == 0, "eval of the best model");

  /* calibrate --tta: the shipped model then predicts with 8 views by
   * default (eval, classify), --no-tta still gives one view */
  snprintf(cmd, sizeof cmd,
           "%s calibrate --model %s --data %s --list %s/val.txt --tta --out %s/tta.safetensors "
           "> %s/cal.txt && grep -q 'mean of 8 dihedral views' %s/cal.txt && "
           "%s eval --model %s/tta.safetensors --data %s --list %s/val.txt --json > %s/e0.json && "
           "%s eval --model %s/tta.safetensors --data %s --list %s/val.txt --json --tta > %s/e8.json && "
           "cmp -s %s/e0.json %s/e8.json && "
           "%s classify --model %s/tta.safetensors --json %s/reddish/000.png | grep -q '\"views\": 8' && "
           "%s classify --model %s/tta.safetensors --json --no-tta %s/reddish/000.png | grep -q '\"views\": 1'",
           dinet_bin(), best, data, out1, tmp, tmp, tmp, dinet_bin(), tmp, data, out1, tmp, dinet_bin(),
           tmp, data, out1, tmp, tmp, tmp, dinet_bin(), tmp, data, dinet_bin(), tmp, data);
  CHECK(run(cmd) == 0, "calibrate --tta: eval defaults to the model's 8 views, --no-tta to one");
  {
    char path[700];
    snprintf(path, sizeof path, "%s/tta.safetensors", tmp);
    dinet_error err = {0};
    dinet_net *net = dinet_net_load(path, &err);
    CHECK(net && dinet_net_tta_views(net) == 8, "calibrate --tta stores the views in the model");
    CHECK(net && dinet_net_image_side(net) == 40, "calibrate records the images' side: %d",
          net ? dinet_net_image_side(net) : -1);
    dinet_net_free(net);
    net = dinet_net_load(best, &err);
    CHECK(net && dinet_net_tta_views(net) == 1, "a model without \"tta\" predicts from one view");
    CHECK(net && dinet_net_image_side(net) == 40, "train records the images' side: %d",
          net ? dinet_net_image_side(net) : -1);
    CHECK(net && dinet_net_meta(net, "train.best_epoch") && !dinet_net_meta(net, "train.epoch") &&
              !dinet_net_meta(net, "train.rng") && !dinet_net_meta(net, "train.best"),
          "the best model carries its epoch, not a checkpoint's bookkeeping of another epoch");
    dinet_net_free(net);
  }

  /* exact resume: 2 epochs straight vs 1 epoch, stop, resume. The first
   * half runs in tmp with relative paths and an --out with a space, through
   * a symbolic link; the resume runs from another folder: the stored paths
   * still resolve. */
  char a[700], b[700];
  snprintf(a, sizeof a, "%s/straight", tmp);
  snprintf(b, sizeof b, "%s/link/resumed run", tmp);
  snprintf(cmd, sizeof cmd, "mkdir '%s/real' && ln -s real '%s/link'", tmp, tmp);
  CHECK(run(cmd) == 0, "a folder reached through a link");
  snprintf(cmd, sizeof cmd, "%s train --data %s --out %s --epochs 2 %s", dinet_bin(), data, a, common);
  CHECK(run(cmd) == 0, "straight run");
  /* 54 training images / batch 8 = 6 steps per epoch */
  /* stopped inside its first epoch: no checkpoint, so the same command
   * starts it again (its log is not a run to keep) */
  snprintf(cmd, sizeof cmd, "cd '%s' && %s train --data data --out 'link/resumed run' --epochs 2 %s --max-steps 2",
           tmp, dinet_bin(), common);
  CHECK(run(cmd) == 0, "stopped inside the first epoch");
  snprintf(cmd, sizeof cmd, "cd '%s' && %s train --data data --out 'link/resumed run' --epochs 2 %s --max-steps 6",
           tmp, dinet_bin(), common);
  CHECK(run(cmd) == 0, "first half (the same folder again)");
  CHECK(log_value(b, 2, 0) < 0, "the first half stopped after one epoch");
  snprintf(cmd, sizeof cmd, "cd / && %s train --resume '%s/checkpoint.safetensors' --epochs 3 2>/dev/null",
           dinet_bin(), b);
  CHECK(run(cmd) != 0, "a resumed run refuses other settings (--epochs)");
  CHECK(log_value(b, 2, 0) < 0, "... and trains nothing");
  snprintf(cmd, sizeof cmd, "cd / && %s train --resume '%s/checkpoint.safetensors' --threads 2", dinet_bin(), b);
  CHECK(run(cmd) == 0, "resume from another folder, --out with a space");
  char ca[800], cb[800];
  snprintf(ca, sizeof ca, "%s/checkpoint.safetensors", a);
  snprintf(cb, sizeof cb, "%s/checkpoint.safetensors", b);
  CHECK(same_tensors(ca, cb), "resumed weights are bit-identical to an uninterrupted run");

  /* --mixup: the run still learns, and stopped after one epoch and resumed
   * it gives the uninterrupted run's weights (the mixing weights and
   * partners come from the run's seeded generator) */
  {
    char m1[700], m2[700], mc1[800], mc2[800];
    snprintf(m1, sizeof m1, "%s/mix1", tmp);
    snprintf(m2, sizeof m2, "%s/mix2", tmp);
    snprintf(cmd, sizeof cmd, "%s train --data %s --out %s --epochs 5 --mixup 0.4 %s", dinet_bin(), data, m1,
             common);
    CHECK(run(cmd) == 0, "train with --mixup");
    double ml1 = log_value(m1, 1, 2), ml5 = log_value(m1, 5, 2), ma5 = log_value(m1, 5, 5);
    CHECK(ml1 > 0 && ml5 >= 0 && ml5 < ml1, "mixup: training loss falls: %g -> %g", ml1, ml5);
    CHECK(ma5 >= 0.7, "mixup: validation accuracy %g clears chance (0.33) by a clear margin", ma5);
    CHECK(log_value(m1, 5, 2) != loss4, "mixup changes training (loss %g vs %g)", ml5, loss4);
    snprintf(cmd, sizeof cmd,
             "%s train --data %s --out %s --epochs 2 --mixup 0.4 %s --max-steps 6 && "
             "%s train --resume %s/checkpoint.safetensors --quiet",
             dinet_bin(), data, m2, common, dinet_bin(), m2);
    CHECK(run(cmd) == 0, "mixup: one epoch, stop, resume");
    snprintf(cmd, sizeof cmd, "rm -rf %s && %s train --data %s --out %s --epochs 2 --mixup 0.4 %s", m1,
             dinet_bin(), data, m1, common);
    CHECK(run(cmd) == 0, "mixup: two epochs straight");
    snprintf(mc1, sizeof mc1, "%s/checkpoint.safetensors", m1);
    snprintf(mc2, sizeof mc2, "%s/checkpoint.safetensors", m2);
    CHECK(same_tensors(mc1, mc2), "mixup: resumed weights are bit-identical to an uninterrupted run");
    snprintf(cmd, sizeof cmd, "%s train --data %s --out %s/mix3 --mixup 1.5 %s 2>/dev/null", dinet_bin(), data,
             tmp, common);
    CHECK(run(cmd) != 0, "--mixup above 1 is refused");
  }

  /* Ctrl+C: the run stops after the step, keeps its last whole-epoch
   * checkpoint and exits 130 (128 + SIGINT), so a script sees it was stopped */
  {
    char sout[700], rcfile[800];
    snprintf(sout, sizeof sout, "%s/stopped", tmp);
    snprintf(rcfile, sizeof rcfile, "%s/stopped.rc", tmp);
    snprintf(cmd, sizeof cmd,
             "%s train --data %s --out %s --epochs 400 %s & pid=$!; n=0; "
             "while [ ! -f %s/checkpoint.safetensors ] && [ $n -lt 1200 ]; do sleep 0.1; n=$((n+1)); done; "
             "kill -INT $pid; wait $pid; echo $? > %s",
             dinet_bin(), data, sout, common, sout, rcfile);
    CHECK(run(cmd) == 0, "a run stopped with SIGINT");
    FILE *f = fopen(rcfile, "r");
    int code = -1;
    CHECK(f && fscanf(f, "%d", &code) == 1, "its exit status was recorded");
    if (f)
      fclose(f);
    CHECK(code == 130, "SIGINT: exit status 130 (was %d)", code);
    CHECK(log_value(sout, 1, 0) >= 0, "... after at least one whole epoch in the log");
    snprintf(cmd, sizeof cmd, "%s train --resume %s/checkpoint.safetensors --max-steps 1 --quiet", dinet_bin(), sout);
    CHECK(run(cmd) == 0, "... and its checkpoint resumes");
  }

  /* --val DIR: every image of --data trains, DIR's images validate */
  {
    char vdata[700], vout[700], list[800];
    snprintf(vdata, sizeof vdata, "%s/valdata", tmp);
    snprintf(vout, sizeof vout, "%s/valrun", tmp);
    CHECK(make_dataset(vdata, 5, 4) == 0, "generate a validation set");
    snprintf(cmd, sizeof cmd,
             "%s train --data %s --val %s --out %s --epochs 1 --size 32 --batch 8 --seed 2 --quiet",
             dinet_bin(), data, vdata, vout);
    CHECK(run(cmd) == 0, "train with --val DIR");
    snprintf(list, sizeof list, "%s/val.txt", vout);
    int nval = 0, ntrain = 0;
    char line[512];
    FILE *f = fopen(list, "r");
    while (f && fgets(line, sizeof line, f))
      nval++;
    if (f)
      fclose(f);
    snprintf(list, sizeof list, "%s/train.txt", vout);
    f = fopen(list, "r");
    while (f && fgets(line, sizeof line, f))
      ntrain++;
    if (f)
      fclose(f);
    CHECK(nval == 15 && ntrain == 72, "--val DIR validates on its 15 images, trains on all 72: %d, %d",
          nval, ntrain);
    CHECK(!isnan(log_value(vout, 1, 5)), "validation accuracy logged for the --val set");
    snprintf(cmd, sizeof cmd, "%s train --data %s --val %s --val-split 0.2 --out %s/x 2>/dev/null",
             dinet_bin(), data, vdata, tmp);
    CHECK(run(cmd) != 0, "--val with --val-split is refused");
  }

  /* a finished run is never overwritten by a new one */
  snprintf(cmd, sizeof cmd, "%s train --data %s --out %s --epochs 1 %s 2>/dev/null", dinet_bin(), data, out1,
           common);
  CHECK(run(cmd) != 0, "training into a folder that holds a run is refused");
  CHECK(log_value(out1, 5, 2) == loss4, "the earlier run's log is intact");

  /* mistakes a user makes: one class folder, a misspelt --abnormal class */
  {
    char one[700];
    snprintf(one, sizeof one, "%s/oneclass", tmp);
    snprintf(cmd, sizeof cmd, "mkdir -p %s/reddish && cp %s/reddish/*.png %s/reddish/", one, data, one);
    CHECK(run(cmd) == 0, "a one-class set");
    snprintf(cmd, sizeof cmd, "%s train --data %s --out %s/one --epochs 1 --size 32 --batch 4 --quiet 2>/dev/null",
             dinet_bin(), one, tmp);
    CHECK(run(cmd) != 0, "one class folder is refused");
    snprintf(cmd, sizeof cmd,
             "%s train --data %s --out %s/typo --epochs 1 %s --abnormal reddish,no_such_class 2>%s/typo.err; "
             "test $? -ne 0 && grep -q no_such_class %s/typo.err && test ! -e %s/typo/log.csv",
             dinet_bin(), data, tmp, common, tmp, tmp, tmp);
    CHECK(run(cmd) == 0, "an --abnormal name that is not a class is refused, and named");
  }

  /* a checkpoint that is not one */
  snprintf(cmd, sizeof cmd, "%s train --resume %s/nothing.safetensors 2>/dev/null", dinet_bin(), tmp);
  CHECK(run(cmd) != 0, "missing checkpoint is an error");
  return tu_finish();
}
