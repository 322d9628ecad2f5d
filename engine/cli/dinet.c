/* dinet.c — the DeepInsight-Net command-line tool.
 *
 *   dinet classify --model M [--json] [--threads N] IMAGE...
 *   dinet explain  --model M --method METHOD --layer layerN [--class C]
 *                  [--smooth] [--faithfulness] [--json] [--png OUT]
 *                  [--colormap NAME] IMAGE
 *   dinet info     --model M
 *   dinet bench    [--model M | --arch A --classes K] [--batch B] [--size S]
 *                  [--threads N] [--iters I] [--gradcam] [--train]
 *                  [--explain METHOD [--layer layerN] [--faithfulness]]
 *   dinet train | eval | cv | calibrate
 *   dinet COMMAND --help   (that command's options)
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static void usage(FILE *f) {
  fputs("usage: dinet COMMAND [OPTIONS]   (dinet COMMAND --help: that command's options)\n"
        "\n"
        "commands:\n"
        "  classify --model M [--json] [--tta|--no-tta] [--threads N] IMAGE...\n"
        "  explain  --model M --method METHOD --layer layer1..layer4 [--class NAME|INDEX]\n"
        "           [--smooth] [--faithfulness] [--json] [--png OUT] [--colormap CMAP]\n"
        "           [--opacity F] [--block N|last|mean] [--topk K] [--channels N]\n"
        "           [--fusion max|mean] [--batch B] [--threads N] IMAGE\n"
        "           METHOD: gradcam gradcam++ hirescam layercam layercam-fusion scorecam\n"
        "                   cbam cbam-channel counterfactual\n"
        "           CMAP: jet (default) viridis inferno turbo\n"
        "  info     --model M [--json]\n"
        "  init     --out M --classes a,b,c [--arch A] [--size S] [--seed N] [--abnormal a,b]\n"
        "  bench    [--model M | --arch cbam_resnet50|resnet50 --classes K]\n"
        "           [--batch B] [--size S] [--threads N] [--iters I] [--gradcam] [--train] [--json]\n"
        "           [--explain METHOD [--layer layerN] [--faithfulness]]: one image's\n"
        "           forward and METHOD's map (default layer4; + deletion/insertion AUC)\n"
        "           timed in turns; prints the median per-pair ratio\n"
        "  train    --data DIR --out DIR [...]   (dinet train --help)\n"
        "  eval     --model M --data DIR [--list FILES.txt] [--exclude FILES.txt] [--json]\n"
        "           [--tta|--no-tta] [--threads N]\n"
        "  cv       --data DIR --out DIR [--folds K] [train options]\n"
        "  calibrate --model M --data DIR [--list FILES.txt] [--out M2] [--dtype f16|f32]\n"
        "           [--tta|--no-tta] [--threads N]\n"
        "  --version, --help\n",
        f);
}

static void usage_classify(FILE *f) {
  fprintf(f,
          "usage: dinet classify --model M [--json] [--tta|--no-tta] [--threads N] IMAGE...\n"
          "  one line per image: the top class, its probability and group (normal/abnormal)\n"
          "  and, for a model that groups its classes, P(abnormal) (the sum of the abnormal\n"
          "  classes' probabilities) with \"suspicious\" when P(abnormal) >= %.2f (the\n"
          "  screening flag, as in dinet eval and the viewer)\n"
          "  --model M         the model (.safetensors)\n"
          "  --json            a JSON array, an object per image: image, class (= top), classes\n"
          "                    ({name, probability, abnormal}), probabilities, p_abnormal and\n"
          "                    suspicious (grouped models), views, and logits (1 view) or\n"
          "                    log_probabilities (8 views)\n"
          "  --tta | --no-tta  the mean of the 8 dihedral views, or one view (default: the\n"
          "                    model's metadata \"tta\")\n"
          "  --threads N       worker threads (default: all cores)\n",
          DINET_FLAG_THRESHOLD);
}

static void usage_explain(FILE *f) {
  fputs("usage: dinet explain --model M [--method METHOD] [--layer layer1..layer4] [options] IMAGE\n"
        "  --method METHOD   gradcam (default) gradcam++ hirescam layercam layercam-fusion\n"
        "                    scorecam cbam cbam-channel counterfactual\n"
        "  --layer layerN    the stage explained (default layer4)\n"
        "  --class NAME|INDEX  the class explained (default: the top class)\n"
        "  --smooth          average the map over the 8 dihedral views of the image\n"
        "  --faithfulness    deletion / insertion AUC of the map\n"
        "  --json            one JSON object (the map at the stage's resolution)\n"
        "  --png OUT         the map over the image, as a PNG\n"
        "  --colormap CMAP   jet (default) viridis inferno turbo\n"
        "  --opacity F       the overlay's opacity, 0..1 (default 0.5)\n"
        "  --block N|last|mean  cbam, cbam-channel: the stage's block (default last)\n"
        "  --topk K          cbam-channel: channels listed (default 10)\n"
        "  --channels N      scorecam: channels scored (default 64)\n"
        "  --fusion max|mean layercam-fusion: how the stages combine (default max)\n"
        "  --batch B         images per batched forward (scorecam; default 16)\n"
        "  --threads N       worker threads (default: all cores)\n",
        f);
}

static void usage_info(FILE *f) {
  fputs("usage: dinet info --model M [--json]   (or dinet info M)\n"
        "  the model's architecture, size, classes (with their group) and metadata\n"
        "  --json            one JSON object\n",
        f);
}

static void usage_init(FILE *f) {
  fputs("usage: dinet init --out M --classes a,b,c [--arch A] [--size S] [--seed N] [--abnormal a,b]\n"
        "  writes a freshly initialised model\n"
        "  --out M           the model file to write\n"
        "  --classes a,b,c   class names\n"
        "  --arch A          cbam_resnet50 (default) or resnet50\n"
        "  --size S          input size (default 224)\n"
        "  --seed N          weight initialisation seed (default 1)\n"
        "  --abnormal a,b    classes grouped as abnormal\n",
        f);
}

static void usage_bench(FILE *f) {
  fputs("usage: dinet bench [--model M | --arch cbam_resnet50|resnet50 --classes K] [options]\n"
        "  times a batch's forward (or --gradcam, or a --train step) on random input\n"
        "  --model M         a model (default: a random --arch, --classes K (default 7))\n"
        "  --batch B (default 1)  --size S (default 224)  --iters I (default 10)\n"
        "  --threads N       worker threads (default: all cores)\n"
        "  --gradcam         Grad-CAM of each image instead of the forward\n"
        "  --train           a training step (forward, focal loss, backward, SGD)\n"
        "  --explain METHOD [--layer layerN] [--faithfulness]\n"
        "                    one image's forward and METHOD's map (default layer4; with\n"
        "                    deletion/insertion AUC) timed in turns: the median per-pair ratio\n"
        "  --json            one JSON object\n",
        f);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int argmax(const float *v, int n) {
  int b = 0;
  for (int i = 1; i < n; i++)
    if (v[i] > v[b])
      b = i;
  return b;
}

/* A JSON boolean. */
static void json_bool(FILE *f, int v) { fputs(v ? "true" : "false", f); }

/* ---- classify ------------------------------------------------------- */

static int cmd_classify(int argc, char **argv) {
  const char *model = NULL, *v;
  int json = 0, views = 0, threads = 0, nimg = 0;
  char **imgs = calloc((size_t)argc, sizeof(char *));
  if (!imgs)
    return 1;
  for (int i = 2; i < argc; i++) {
    if (cli_opt(argc, argv, &i, "--model", &model))
      continue;
    if (cli_opt(argc, argv, &i, "--json", NULL)) {
      json = 1;
      continue;
    }
    if (cli_tta_opt(argc, argv, &i, &views))
      continue;
    if (cli_opt(argc, argv, &i, "--threads", &v)) {
      if (cli_parse_int(v, "--threads", 1, 256, &threads))
        return 1;
      continue;
    }
    if (argv[i][0] == '-' && argv[i][1]) {
      cli_error("classify: unknown option %s", argv[i]);
      return 1;
    }
    imgs[nimg++] = argv[i];
  }
  if (!model || nimg == 0) {
    cli_error("classify needs --model and at least one image [--tta|--no-tta: 8 dihedral views or 1; default: the model's]");
    free(imgs);
    return 1;
  }
  dinet_set_threads(threads);
  dinet_error err = {0};
  dinet_net *net = dinet_net_load(model, &err);
  if (!net) {
    cli_error("%s", err.message);
    free(imgs);
    return 1;
  }
  const int K = dinet_net_num_classes(net), S = dinet_net_input_size(net);
  const float T = dinet_net_temperature(net);
  if (views == 0)
    views = dinet_net_tta_views(net);
  float *x = malloc(sizeof(float) * 3 * S * S), *z = malloc(sizeof(float) * 2 * K);
  int *ab = cli_model_abnormal(net); /* NULL: no normal/abnormal grouping */
  int failures = 0, first = 1;
  if (!x || !z) {
    cli_error("out of memory");
    free(x);
    free(z);
    free(ab);
    free(imgs);
    dinet_net_free(net);
    return 1;
  }
  float *p = z + K;
  if (json)
    fputc('[', stdout);
  const int side = dinet_net_image_side(net);
  int vtop[DINET_MAX_VIEWS]; /* each view's top class */
  for (int i = 0; i < nimg; i++) {
    dinet_error_clear(&err);
    dinet_image *im = NULL;
    if (cli_load_input(net, imgs[i], x, &im, &err) ||
        dinet_net_predict(net, x, 1, S, S, views, z, vtop, &err)) {
      cli_error("%s", err.message);
      dinet_image_free(im);
      failures++;
      continue;
    }
    /* a field given to a model of single cells (or a crop to a field
     * model): the call may not apply, as the viewer and the report say */
    const dinet_size_fit fit = dinet_size_fit_of(side, im->width, im->height);
    dinet_image_free(im);
    dinet_softmax(z, 1, K, T, p);
    int top = argmax(z, K);
    const int agree = dinet_views_agreeing(vtop, views, top);
    /* the screening flag, as dinet eval counts it and the viewer shows it */
    const double pab = ab ? dinet_abnormal_probability(p, ab, K) : 0;
    const int suspicious = ab && pab >= DINET_FLAG_THRESHOLD;
    if (json) {
      fputs(first ? "\n  {\"image\": " : ",\n  {\"image\": ", stdout);
      json_string(stdout, imgs[i]);
      fputs(", \"class\": ", stdout);
      json_string(stdout, dinet_net_class_name(net, top));
      fputs(", \"top\": ", stdout);
      json_string(stdout, dinet_net_class_name(net, top));
      fputs(", \"classes\": [", stdout);
      for (int j = 0; j < K; j++) {
        fputs(j ? ", {\"name\": " : "{\"name\": ", stdout);
        json_string(stdout, dinet_net_class_name(net, j));
        fputs(", \"probability\": ", stdout);
        json_number(stdout, p[j]);
        if (ab) {
          fputs(", \"abnormal\": ", stdout);
          json_bool(stdout, ab[j]);
        }
        fputc('}', stdout);
      }
      fputs("], \"probabilities\": ", stdout);
      json_float_array(stdout, p, K);
      if (ab) {
        fputs(", \"p_abnormal\": ", stdout);
        json_number(stdout, pab);
        fputs(", \"suspicious\": ", stdout);
        json_bool(stdout, suspicious);
      }
      /* with --tta, z is the log of the mean probability of the 8 views */
      fputs(views == 8 ? ", \"views\": 8, \"log_probabilities\": "
                       : ", \"views\": 1, \"logits\": ",
            stdout);
      json_float_array(stdout, z, K);
      fputs(", \"view_classes\": [", stdout);
      for (int d = 0; d < views; d++) {
        if (d)
          fputs(", ", stdout);
        json_string(stdout, dinet_net_class_name(net, vtop[d]));
      }
      fprintf(stdout, "], \"views_agree\": %d", agree);
      fputs(", \"size_fit\": ", stdout);
      json_string(stdout, fit == DINET_SIZE_LARGER    ? "larger"
                          : fit == DINET_SIZE_SMALLER ? "smaller"
                                                      : "fits");
      fputc('}', stdout);
    } else {
      printf("%s: %s (%.1f%%)", imgs[i], dinet_net_class_name(net, top), 100.0 * p[top]);
      if (ab) {
        /* to 0.1 %, but never rounded up to the flag's threshold: 49.96 %
         * without "suspicious" reads 49.9 %, not 50.0 % */
        double shown = round(1000.0 * pab) / 10.0;
        if (!suspicious && shown >= 100.0 * DINET_FLAG_THRESHOLD)
          shown = floor(1000.0 * pab) / 10.0;
        printf(" %s · P(abnormal) %.1f%%%s", ab[top] ? "abnormal" : "normal", shown,
               suspicious ? " suspicious" : "");
      }
      if (agree < views) /* the mean hides a split: say so */
        printf(" · views disagree: %d of %d put it first", agree, views);
      if (fit != DINET_SIZE_FITS)
        printf(" · much %s than the model's training images (about %d px): the call may not apply",
               fit == DINET_SIZE_LARGER ? "larger" : "smaller", side);
      putchar('\n');
    }
    first = 0;
    fflush(stdout);
  }
  if (json)
    fputs(first ? "]\n" : "\n]\n", stdout);
  free(x);
  free(z);
  free(ab);
  free(imgs);
  dinet_net_free(net);
  return failures ? 1 : 0;
}

/* ---- explain -------------------------------------------------------- */

static int parse_layer(const char *s, int *stage) {
  if (s && strncmp(s, "layer", 5) == 0 && s[5] >= '1' && s[5] <= '4' && s[6] == '\0') {
    *stage = s[5] - '0';
    return 0;
  }
  cli_error("--layer must be layer1, layer2, layer3 or layer4, not \"%s\"", s ? s : "");
  return -1;
}

/* --block: an index, "last" (-1) or "mean" (-2). */
static int parse_block(const char *s, int *block) {
  if (!strcmp(s, "last")) {
    *block = -1;
    return 0;
  }
  if (!strcmp(s, "mean")) {
    *block = -2;
    return 0;
  }
  return cli_parse_int(s, "--block (an index, last or mean)", 0, 5, block);
}

/* The faithfulness object of --json. */
static void json_faith(FILE *f, const dinet_faith_result *fr) {
  fputs("{\"deletion_auc\": ", f);
  json_number(f, fr->deletion_auc);
  fputs(", \"insertion_auc\": ", f);
  json_number(f, fr->insertion_auc);
  fputs(", \"average_drop\": ", f);
  json_number(f, fr->average_drop);
  fputs(", \"increase_in_confidence\": ", f);
  json_number(f, fr->increase_in_confidence);
  fputs(", \"p\": ", f);
  json_number(f, fr->p);
  fputs(", \"p_masked\": ", f);
  json_number(f, fr->p_masked);
  fputs(", \"no_positive_evidence\": ", f);
  json_bool(f, fr->no_positive_evidence);
  fprintf(f, ", \"steps\": %d", fr->steps);
  if (!fr->no_positive_evidence) {
    fputs(", \"deletion_curve\": ", f);
    json_float_array(f, fr->deletion, fr->steps + 1);
    fputs(", \"insertion_curve\": ", f);
    json_float_array(f, fr->insertion, fr->steps + 1);
  }
  fputc('}', f);
}

static int cmd_explain(int argc, char **argv) {
  const char *model = NULL, *method = "gradcam", *layer = "layer4", *cls = NULL,
             *png = NULL, *image = NULL, *cmap_s = "jet", *v;
  int json = 0, threads = 0, stage = 4, smooth = 0, faith = 0, block = -1, topk = 10,
      channels = 64, batch = 16, fusion_mean = 0;
  float opacity = 0.5f;
  for (int i = 2; i < argc; i++) {
    if (cli_opt(argc, argv, &i, "--model", &model) ||
        cli_opt(argc, argv, &i, "--method", &method) ||
        cli_opt(argc, argv, &i, "--layer", &layer) ||
        cli_opt(argc, argv, &i, "--class", &cls) || cli_opt(argc, argv, &i, "--png", &png) ||
        cli_opt(argc, argv, &i, "--colormap", &cmap_s))
      continue;
    if (cli_opt(argc, argv, &i, "--json", NULL)) {
      json = 1;
      continue;
    }
    if (cli_opt(argc, argv, &i, "--smooth", NULL)) {
      smooth = 1;
      continue;
    }
    if (cli_opt(argc, argv, &i, "--faithfulness", NULL)) {
      faith = 1;
      continue;
    }
    if (cli_opt(argc, argv, &i, "--block", &v)) {
      if (parse_block(v, &block))
        return 1;
      continue;
    }
    if (cli_opt(argc, argv, &i, "--fusion", &v)) {
      if (strcmp(v, "max") && strcmp(v, "mean")) {
        cli_error("--fusion must be max or mean, not \"%s\"", v);
        return 1;
      }
      fusion_mean = !strcmp(v, "mean");
      continue;
    }
    if (cli_opt(argc, argv, &i, "--opacity", &v)) {
      if (cli_parse_float(v, "--opacity", 0, 1, &opacity))
        return 1;
      continue;
    }
    int *dst = NULL;
    long hi = 4096;
    const char *name = argv[i];
    if (cli_opt(argc, argv, &i, "--threads", &v))
      dst = &threads, hi = 256;
    else if (cli_opt(argc, argv, &i, "--topk", &v))
      dst = &topk;
    else if (cli_opt(argc, argv, &i, "--channels", &v))
      dst = &channels;
    else if (cli_opt(argc, argv, &i, "--batch", &v))
      dst = &batch, hi = 256;
    if (dst) {
      if (cli_parse_int(v, name, 1, hi, dst))
        return 1;
      continue;
    }
    if (argv[i][0] == '-' && argv[i][1]) {
      cli_error("explain: unknown option %s", argv[i]);
      return 1;
    }
    if (image) {
      cli_error("explain takes one image");
      return 1;
    }
    image = argv[i];
  }
  if (!model || !image) {
    cli_error("explain needs --model and an image");
    return 1;
  }
  if (parse_layer(layer, &stage))
    return 1;
  dinet_error err = {0};
  dinet_explain_method m = DINET_EXPLAIN_GRADCAM;
  const int channel_list = !strcmp(method, "cbam-channel");
  if (!channel_list && dinet_explain_method_from_name(method, &m, &err)) {
    cli_error("--method: %s", err.message);
    return 1;
  }
  if (channel_list && png) {
    cli_error("cbam-channel gives a list of channels, not a map: --png does not apply");
    return 1;
  }
  if (channel_list && (smooth || faith)) {
    cli_error("cbam-channel gives a list of channels: --smooth and --faithfulness do not apply");
    return 1;
  }
  dinet_colormap cmap;
  if (dinet_colormap_from_name(cmap_s, &cmap, &err)) {
    cli_error("--colormap: %s", err.message);
    return 1;
  }
  const int fused = !channel_list && m == DINET_EXPLAIN_LAYERCAM_FUSION;
  const char *layer_out = fused ? "layer2+layer3+layer4" : layer;
  dinet_set_threads(threads);
  dinet_net *net = dinet_net_load(model, &err);
  if (!net) {
    cli_error("%s", err.message);
    return 1;
  }
  int rc = 1, target = -1;
  if (cls && (target = dinet_net_find_class(net, cls)) < 0) {
    cli_error("no class \"%s\" in %s", cls, model);
    dinet_net_free(net);
    return 1;
  }
  const int K = dinet_net_num_classes(net), S = dinet_net_input_size(net);
  float *x = malloc(sizeof(float) * 3 * S * S), *z = malloc(sizeof(float) * K);
  dinet_channel_weight *cw = malloc(sizeof(dinet_channel_weight) * (size_t)topk);
  dinet_explanation ex = {0};
  dinet_faith_result fr;
  int nch = 0;
  dinet_image *img = NULL;
  if (!x || !z || !cw) {
    cli_error("out of memory");
    goto out;
  }
  if (cli_load_input(net, image, x, &img, &err)) {
    cli_error("%s", err.message);
    goto out;
  }
  if (channel_list) {
    if (dinet_explain_cbam_channels(net, x, S, S, stage, block, topk, cw, &nch, z, &err)) {
      cli_error("%s: %s", image, err.message);
      goto out;
    }
    const int pred = argmax(z, K);
    if (target < 0)
      target = pred;
    if (json) {
      fputs("{\"image\": ", stdout);
      json_string(stdout, image);
      fputs(", \"method\": \"cbam-channel\", \"layer\": ", stdout);
      json_string(stdout, layer);
      printf(", \"block\": %d, \"class\": ", block);
      json_string(stdout, dinet_net_class_name(net, target));
      printf(", \"class_index\": %d, \"predicted\": ", target);
      json_string(stdout, dinet_net_class_name(net, pred));
      fputs(", \"logits\": ", stdout);
      json_float_array(stdout, z, K);
      fputs(", \"channels\": [", stdout);
      for (int i = 0; i < nch; i++) {
        printf("%s{\"index\": %d, \"weight\": ", i ? ", " : "", cw[i].index);
        json_number(stdout, cw[i].weight);
        fputc('}', stdout);
      }
      fputs("]}\n", stdout);
    } else {
      char bname[16];
      snprintf(bname, sizeof bname, "%d", block);
      printf("%s: CBAM channel attention at %s block %s:", image, layer,
             block == -1 ? "last" : block == -2 ? "mean" : bname);
      for (int i = 0; i < nch; i++)
        printf(" %d (%.4f)", cw[i].index, cw[i].weight);
      putchar('\n');
    }
    rc = 0;
    goto out;
  }
  dinet_explain_opts eo;
  dinet_explain_opts_init(&eo);
  eo.method = m;
  eo.stage = stage;
  eo.target = target;
  eo.block = block;
  eo.fusion = fusion_mean ? DINET_FUSION_MEAN : DINET_FUSION_MAX;
  eo.scorecam_channels = channels;
  eo.batch = batch;
  eo.smooth = smooth;
  if (dinet_explain(net, x, S, S, &eo, &ex, &err)) {
    cli_error("%s: %s", image, err.message);
    goto out;
  }
  memcpy(z, ex.logits, sizeof(float) * K);
  target = ex.target;
  if (faith && dinet_faithfulness(net, x, S, S, ex.map, ex.h, ex.w, target, NULL, &fr, &err)) {
    cli_error("%s: %s", image, err.message);
    goto out;
  }
  const int mh = ex.h, mw = ex.w;
  if (json) {
    fputs("{\"image\": ", stdout);
    json_string(stdout, image);
    fputs(", \"method\": ", stdout);
    json_string(stdout, method);
    fputs(", \"layer\": ", stdout);
    json_string(stdout, layer_out);
    if (m == DINET_EXPLAIN_CBAM_SPATIAL)
      printf(", \"block\": %d", block);
    if (fused)
      printf(", \"fusion\": \"%s\"", fusion_mean ? "mean" : "max");
    fputs(", \"class\": ", stdout);
    json_string(stdout, dinet_net_class_name(net, target));
    fputs(", \"class_index\": ", stdout);
    printf("%d", target);
    fputs(", \"predicted\": ", stdout);
    json_string(stdout, dinet_net_class_name(net, ex.predicted));
    fputs(", \"smoothed\": ", stdout);
    json_bool(stdout, ex.smoothed);
    fputs(", \"no_positive_evidence\": ", stdout);
    json_bool(stdout, ex.no_positive_evidence);
    fputs(", \"logits\": ", stdout);
    json_float_array(stdout, z, K);
    fputs(", \"map\": [", stdout);
    for (int y = 0; y < mh; y++) {
      if (y)
        fputs(", ", stdout);
      json_float_array(stdout, ex.map + (size_t)y * mw, mw);
    }
    fputc(']', stdout);
    if (faith) {
      fputs(", \"faithfulness\": ", stdout);
      json_faith(stdout, &fr);
    }
    fputs("}\n", stdout);
  } else {
    float mx = 0;
    for (int i = 0; i < mh * mw; i++)
      mx = ex.map[i] > mx ? ex.map[i] : mx;
    printf("%s: %s%s of class %s at %s, %dx%d map, max %.4g%s\n", image, method,
           ex.smoothed ? " (8-view TTA)" : "", dinet_net_class_name(net, target), layer_out, mw,
           mh, mx, ex.no_positive_evidence ? " (no positive evidence)" : "");
    if (faith && fr.no_positive_evidence)
      printf("faithfulness: not computed (no positive evidence)\n");
    else if (faith)
      printf("faithfulness: deletion AUC %.4f, insertion AUC %.4f, average drop %.4f, "
             "increase in confidence %.0f (p %.4f, masked %.4f: one view's softmax, before the "
             "model's temperature)\n",
             fr.deletion_auc, fr.insertion_auc, fr.average_drop, fr.increase_in_confidence,
             fr.p, fr.p_masked);
  }
  if (png) {
    if (dinet_render_overlay(img, ex.map, mh, mw, cmap, opacity, NULL, &err) ||
        dinet_image_save_png(img, png, &err)) {
      cli_error("%s", err.message);
      goto out;
    }
  }
  rc = 0;
out:
  free(x);
  free(z);
  free(cw);
  dinet_explanation_free(&ex);
  dinet_image_free(img);
  dinet_net_free(net);
  return rc;
}

/* ---- info ----------------------------------------------------------- */

static int cmd_info(int argc, char **argv) {
  const char *model = NULL;
  int json = 0;
  for (int i = 2; i < argc; i++) {
    if (cli_opt(argc, argv, &i, "--model", &model))
      continue;
    if (cli_opt(argc, argv, &i, "--json", NULL)) {
      json = 1;
      continue;
    }
    if (!model && argv[i][0] != '-') {
      model = argv[i];
      continue;
    }
    cli_error("info: unknown argument %s", argv[i]);
    return 1;
  }
  if (!model) {
    cli_error("info needs --model");
    return 1;
  }
  dinet_error err = {0};
  dinet_net *net = dinet_net_load(model, &err);
  if (!net) {
    cli_error("%s", err.message);
    return 1;
  }
  const int K = dinet_net_num_classes(net);
  if (json) {
    printf("{\"arch\": ");
    json_string(stdout, dinet_arch_name(dinet_net_arch(net)));
    printf(", \"parameters\": %zu, \"classes\": [", dinet_net_param_count(net));
    for (int i = 0; i < K; i++) {
      if (i)
        fputs(", ", stdout);
      json_string(stdout, dinet_net_class_name(net, i));
    }
    printf("], \"metadata\": {");
    for (int i = 0; i < dinet_net_meta_count(net); i++) {
      if (i)
        fputs(", ", stdout);
      json_string(stdout, dinet_net_meta_key(net, i));
      fputs(": ", stdout);
      json_string(stdout, dinet_net_meta_value(net, i));
    }
    printf("}}\n");
  } else {
    printf("model:       %s\n", model);
    printf("arch:        %s\n", dinet_arch_name(dinet_net_arch(net)));
    printf("parameters:  %zu\n", dinet_net_param_count(net));
    printf("input size:  %d\n", dinet_net_input_size(net));
    printf("classes:     %d\n", K);
    for (int i = 0; i < K; i++) {
      int ab = dinet_net_class_is_abnormal(net, i);
      printf("  %2d %s%s\n", i, dinet_net_class_name(net, i),
             ab < 0 ? "" : ab ? "  (abnormal)" : "  (normal)");
    }
    printf("metadata:\n");
    for (int i = 0; i < dinet_net_meta_count(net); i++)
      printf("  %s: %s\n", dinet_net_meta_key(net, i), dinet_net_meta_value(net, i));
  }
  dinet_net_free(net);
  return 0;
}

/* ---- init ---------------------------------------------------------- */

/* Writes a freshly initialised model: for tests and for users who start a
 * model of their own classes. */
static int cmd_init(int argc, char **argv) {
  const char *out = NULL, *arch_s = "cbam_resnet50", *classes = NULL, *abnormal = NULL, *v;
  int size = 224, seed = 1;
  for (int i = 2; i < argc; i++) {
    if (cli_opt(argc, argv, &i, "--out", &out) || cli_opt(argc, argv, &i, "--arch", &arch_s) ||
        cli_opt(argc, argv, &i, "--classes", &classes) ||
        cli_opt(argc, argv, &i, "--abnormal", &abnormal))
      continue;
    if (cli_opt(argc, argv, &i, "--size", &v)) {
      if (cli_parse_int(v, "--size", 32, 4096, &size))
        return 1;
      continue;
    }
    if (cli_opt(argc, argv, &i, "--seed", &v)) {
      if (cli_parse_int(v, "--seed", 0, 2147483647, &seed))
        return 1;
      continue;
    }
    cli_error("init: unknown argument %s", argv[i]);
    return 1;
  }
  if (!out || !classes) {
    cli_error("init needs --out M and --classes a,b,c [--arch A] [--size S] [--seed N] [--abnormal a,b]");
    return 1;
  }
  dinet_arch arch;
  if (dinet_arch_from_name(arch_s, &arch)) {
    cli_error("unknown arch %s", arch_s);
    return 1;
  }
  char *dup = strdup(classes);
  const char *names[1024];
  int k = 0;
  for (char *t = strtok(dup, ","); t && k < 1024; t = strtok(NULL, ","))
    names[k++] = t;
  dinet_error err = {0};
  dinet_net *net = k ? dinet_net_new(arch, k, &err) : NULL;
  int rc = 1;
  if (!net) {
    cli_error("%s", k ? err.message : "no class names");
    free(dup);
    return 1;
  }
  dinet_net_init_weights(net, (uint64_t)seed);
  dinet_net_set_input_size(net, size);
  if (dinet_net_set_class_names(net, names, k, &err)) {
    cli_error("%s", err.message);
    goto out;
  }
  if (abnormal) {
    int *ab = NULL;
    if (cli_parse_abnormal(abnormal, names, k, &ab))
      goto out;
    char *j = cli_abnormal_json(names, ab, k);
    free(ab);
    if (!j) {
      cli_error("out of memory");
      goto out;
    }
    dinet_net_set_meta(net, "abnormal", j, NULL);
    free(j);
  }
  if (dinet_net_save(net, out, DINET_DTYPE_F32, &err)) {
    cli_error("%s", err.message);
    goto out;
  }
  rc = 0;
out:
  free(dup);
  dinet_net_free(net);
  return rc;
}

/* ---- bench ---------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median_of(double *v, int n) { /* upper median; sorts v */
  qsort(v, (size_t)n, sizeof(double), cmp_double);
  return v[n / 2];
}

/* One image's forward and its explanation map (dinet_explain with o), timed
 * in turns (the order alternates), so that a busy machine slows both alike;
 * the result is the median of the per-pair ratios. */
static int bench_paired(dinet_net *net, const float *x, int size, int iters,
                        const dinet_explain_opts *o, int faith, int json,
                        dinet_error *err) {
  const int K = dinet_net_num_classes(net);
  double *tf = malloc(sizeof(double) * 3 * iters), *tg = tf + iters, *r = tg + iters;
  float *z = malloc(sizeof(float) * K);
  if (!tf || !z) {
    free(tf);
    free(z);
    cli_error("out of memory");
    return 1;
  }
  int rc = 0, skipped = 0; /* maps without positive evidence: no faithfulness */
  for (int it = -1; it < iters && !rc; it++) { /* it = -1 warms both up */
    double tt[2];
    for (int k = 0; k < 2 && !rc; k++) {
      const int cam = (k + it) & 1; /* even iterations: Grad-CAM first */
      double t0 = now_s();
      if (cam) {
        dinet_explanation e;
        rc = dinet_explain(net, x, size, size, o, &e, err);
        if (!rc) {
          if (faith && e.no_positive_evidence)
            skipped++;
          else if (faith) {
            dinet_faith_opts fo;
            dinet_faith_result fr;
            dinet_faith_opts_init(&fo);
            rc = dinet_faithfulness(net, x, size, size, e.map, e.h, e.w, e.target, &fo, &fr,
                                    err);
          }
          dinet_explanation_free(&e);
        }
      } else {
        rc = dinet_net_forward(net, x, 1, size, size, z, err);
      }
      tt[cam] = now_s() - t0;
    }
    if (it >= 0 && !rc) {
      tf[it] = tt[0];
      tg[it] = tt[1];
      r[it] = tt[1] / tt[0];
    }
  }
  if (rc) {
    cli_error("%s", err->message);
  } else {
    const double ratio = median_of(r, iters), fmed = median_of(tf, iters),
                 gmed = median_of(tg, iters);
    if (json)
      printf("{\"what\": \"explain-paired\", \"method\": \"%s\", \"layer\": %d, "
             "\"faithfulness\": %s, \"faithfulness_skipped\": %d, \"arch\": \"%s\", \"batch\": 1, \"size\": %d, \"threads\": %d, \"pairs\": %d, "
             "\"ratio_median\": %.4f, \"ratio_min\": %.4f, \"ratio_max\": %.4f, "
             "\"forward_median_s\": %.6f, \"explain_median_s\": %.6f}\n",
             dinet_explain_method_name(o->method), o->stage, faith ? "true" : "false", skipped,
             dinet_arch_name(dinet_net_arch(net)), size, dinet_get_threads(), iters, ratio, r[0],
             r[iters - 1], fmed, gmed);
    else
      printf("%s layer%d%s / forward, %s size %d threads %d: median ratio %.3f over %d pairs "
             "(range %.3f..%.3f); forward median %.1f ms, %s median %.1f ms\n",
             dinet_explain_method_name(o->method), o->stage, faith ? " + faithfulness" : "",
             dinet_arch_name(dinet_net_arch(net)), size, dinet_get_threads(), ratio, iters, r[0],
             r[iters - 1], 1000 * fmed, dinet_explain_method_name(o->method), 1000 * gmed);
  }
  free(tf);
  free(z);
  return rc ? 1 : 0;
}

static int cmd_bench(int argc, char **argv) {
  const char *model = NULL, *arch_s = "cbam_resnet50", *v;
  int batch = 1, size = 224, threads = 0, iters = 10, classes = 7, gradcam = 0, train = 0,
      json = 0, stage = 4;
  const char *explain = NULL, *layer_s = NULL;
  int faith = 0;
  for (int i = 2; i < argc; i++) {
    if (cli_opt(argc, argv, &i, "--model", &model) || cli_opt(argc, argv, &i, "--arch", &arch_s))
      continue;
    if (cli_opt(argc, argv, &i, "--gradcam", NULL)) {
      gradcam = 1;
      continue;
    }
    if (cli_opt(argc, argv, &i, "--train", NULL)) {
      train = 1;
      continue;
    }
    if (cli_opt(argc, argv, &i, "--faithfulness", NULL)) {
      faith = 1;
      continue;
    }
    if (cli_opt(argc, argv, &i, "--explain", &explain) ||
        cli_opt(argc, argv, &i, "--layer", &layer_s))
      continue;
    if (cli_opt(argc, argv, &i, "--json", NULL)) {
      json = 1;
      continue;
    }
    int *dst = NULL;
    long hi = 4096;
    const char *name = argv[i];
    if (cli_opt(argc, argv, &i, "--batch", &v))
      dst = &batch;
    else if (cli_opt(argc, argv, &i, "--size", &v))
      dst = &size;
    else if (cli_opt(argc, argv, &i, "--threads", &v))
      dst = &threads, hi = 256;
    else if (cli_opt(argc, argv, &i, "--iters", &v))
      dst = &iters, hi = 100000;
    else if (cli_opt(argc, argv, &i, "--classes", &v))
      dst = &classes;
    if (!dst) {
      cli_error("bench: unknown option %s", argv[i]);
      return 1;
    }
    if (cli_parse_int(v, name, 1, hi, dst))
      return 1;
  }
  if (size < 32) {
    cli_error("--size must be at least 32");
    return 1;
  }
  dinet_explain_opts eo;
  dinet_explain_opts_init(&eo);
  if (explain) {
    dinet_error e = {0};
    if (gradcam || train || batch != 1) {
      cli_error("--explain compares one image's map with its forward: no --gradcam, --train "
                "or --batch");
      return 1;
    }
    if (dinet_explain_method_from_name(explain, &eo.method, &e)) {
      cli_error("%s", e.message);
      return 1;
    }
    if (layer_s && parse_layer(layer_s, &stage))
      return 1;
    eo.stage = stage;
  } else if (layer_s || faith) {
    cli_error("--layer and --faithfulness go with --explain");
    return 1;
  }
  dinet_set_threads(threads);
  dinet_error err = {0};
  dinet_net *net;
  if (model) {
    net = dinet_net_load(model, &err);
  } else {
    dinet_arch arch;
    if (dinet_arch_from_name(arch_s, &arch)) {
      cli_error("unknown arch %s", arch_s);
      return 1;
    }
    net = dinet_net_new(arch, classes, &err);
    if (net)
      dinet_net_init_weights(net, 1);
  }
  if (!net) {
    cli_error("%s", err.message);
    return 1;
  }
  const int K = dinet_net_num_classes(net);
  size_t n = (size_t)batch * 3 * size * size;
  float *x = malloc(sizeof(float) * n), *z = malloc(sizeof(float) * (size_t)batch * K * 2);
  double *t = malloc(sizeof(double) * (iters + 1));
  int *labels = calloc((size_t)batch, sizeof(int));
  dinet_optim *opt = train ? dinet_optim_new(net, DINET_OPTIM_SGD, 0.9f, 0.9f, 0.999f, 1e-8f, &err) : NULL;
  if (!x || !z || !t || !labels || (train && !opt)) {
    cli_error("out of memory");
    return 1;
  }
  dinet_rng rng;
  dinet_rng_seed(&rng, 7);
  for (size_t i = 0; i < n; i++)
    x[i] = (float)dinet_rng_normal(&rng);
  for (int b = 0; b < batch; b++)
    labels[b] = b % K;
  if (explain) {
    int rc = bench_paired(net, x, size, iters, &eo, faith, json, &err);
    free(x);
    free(z);
    free(t);
    free(labels);
    dinet_net_free(net);
    return rc;
  }
  for (int it = 0; it <= iters; it++) { /* iteration 0 warms up */
    double t0 = now_s();
    int rc;
    if (train) {
      float loss;
      dinet_net_zero_grad(net);
      rc = dinet_net_forward_keep(net, DINET_MODE_TRAIN, x, batch, size, size, z, &err);
      if (!rc)
        rc = dinet_focal_loss(z, labels, batch, K, 2.0f, NULL, &loss, z + batch * K, &err);
      if (!rc)
        rc = dinet_net_backward(net, z + batch * K, 0, &err);
      if (!rc)
        dinet_optim_step(opt, 1e-4f, 1e-4f);
    } else if (gradcam) {
      rc = 0;
      for (int b = 0; b < batch && !rc; b++) {
        float *map = NULL;
        int mh, mw;
        rc = dinet_gradcam(net, x + (size_t)b * 3 * size * size, size, size, 4, -1, z, NULL,
                           &map, &mh, &mw, &err);
        free(map);
      }
    } else {
      rc = dinet_net_forward(net, x, batch, size, size, z, &err);
    }
    if (rc) {
      cli_error("%s", err.message);
      return 1;
    }
    t[it] = now_s() - t0;
  }
  qsort(t + 1, (size_t)iters, sizeof(double), cmp_double);
  double med = t[1 + iters / 2];
  const char *what = train ? "train step" : gradcam ? "gradcam" : "forward";
  if (json)
    printf("{\"what\": \"%s\", \"arch\": \"%s\", \"batch\": %d, \"size\": %d, \"threads\": %d, "
           "\"median_s\": %.6f, \"min_s\": %.6f, \"ms_per_image\": %.3f, \"images_per_s\": %.3f}\n",
           what, dinet_arch_name(dinet_net_arch(net)), batch, size, dinet_get_threads(), med,
           t[1], 1000 * med / batch, batch / med);
  else
    printf("%s %s batch %d size %d threads %d: median %.1f ms (min %.1f ms), %.1f ms/image, "
           "%.2f images/s\n",
           what, dinet_arch_name(dinet_net_arch(net)), batch, size, dinet_get_threads(),
           1000 * med, 1000 * t[1], 1000 * med / batch, batch / med);
  dinet_optim_free(opt);
  free(x);
  free(z);
  free(t);
  free(labels);
  dinet_net_free(net);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 1;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(cmd, "--version")) {
    printf("dinet %s\n", DINET_VERSION);
    return 0;
  }
  static const struct {
    const char *name;
    int (*run)(int, char **);
    void (*usage)(FILE *);
  } commands[] = {
      {"classify", cmd_classify, usage_classify}, {"explain", cmd_explain, usage_explain},
      {"info", cmd_info, usage_info},             {"bench", cmd_bench, usage_bench},
      {"init", cmd_init, usage_init},             {"train", cmd_train, usage_train},
      {"eval", cmd_eval, usage_eval},             {"cv", cmd_cv, usage_cv},
      {"calibrate", cmd_calibrate, usage_calibrate},
  };
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
    if (strcmp(cmd, commands[i].name))
      continue;
    for (int a = 2; a < argc; a++)
      if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
        commands[i].usage(stdout);
        return 0;
      }
    return commands[i].run(argc, argv);
  }
  cli_error("unknown command \"%s\" (try dinet --help)", cmd);
  return 1;
}
