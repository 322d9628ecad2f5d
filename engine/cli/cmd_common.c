/* cmd_common.c — helpers shared by the dinet subcommands. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_error(const char *fmt, ...) {
  va_list ap;
  fputs("dinet: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

int cli_opt(int argc, char **argv, int *i, const char *opt, const char **val) {
  size_t n = strlen(opt);
  if (strncmp(argv[*i], opt, n) != 0)
    return 0;
  if (argv[*i][n] == '=') {
    *val = argv[*i] + n + 1;
    return 1;
  }
  if (argv[*i][n] != '\0')
    return 0;
  if (val == NULL)
    return 1;
  if (*i + 1 >= argc) {
    cli_error("option %s needs a value", opt);
    exit(1);
  }
  *val = argv[++*i];
  return 1;
}

int cli_tta_opt(int argc, char **argv, int *i, int *views) {
  if (cli_opt(argc, argv, i, "--tta", NULL))
    *views = 8;
  else if (cli_opt(argc, argv, i, "--no-tta", NULL))
    *views = 1;
  else
    return 0;
  return 1;
}

int cli_parse_int(const char *s, const char *what, long lo, long hi, int *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) {
    cli_error("%s must be an integer in %ld..%ld, not \"%s\"", what, lo, hi, s);
    return -1;
  }
  *out = (int)v;
  return 0;
}

int cli_parse_float(const char *s, const char *what, double lo, double hi, float *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= lo && v <= hi)) {
    cli_error("%s must be a number in %g..%g, not \"%s\"", what, lo, hi, s);
    return -1;
  }
  *out = (float)v;
  return 0;
}

void json_string(FILE *f, const char *s) {
  size_t n = dinet_json_quote(s, NULL, 0);
  char *b = malloc(n + 1);
  if (!b) {
    fputs("\"\"", f);
    return;
  }
  dinet_json_quote(s, b, n + 1);
  fputs(b, f);
  free(b);
}

void json_number(FILE *f, double v) {
  if (isfinite(v))
    fprintf(f, "%.9g", v);
  else
    fputs("null", f);
}

void json_float_array(FILE *f, const float *v, int n) {
  fputc('[', f);
  for (int i = 0; i < n; i++) {
    if (i)
      fputs(", ", f);
    json_number(f, v[i]);
  }
  fputc(']', f);
}

int cli_load_input(dinet_net *net, const char *path, float *x, dinet_image **img,
                   dinet_error *err) {
  dinet_image *im = dinet_image_load(path, NULL, err);
  if (!im)
    return err->code ? err->code : DINET_ERR_IO;
  int rc = dinet_net_preprocess(net, im, x, err);
  if (rc || !img)
    dinet_image_free(im);
  else
    *img = im;
  return rc;
}

int *cli_model_abnormal(const dinet_net *net) {
  const int k = dinet_net_num_classes(net);
  int *ab = malloc(sizeof(int) * k);
  for (int j = 0; ab && j < k; j++) {
    ab[j] = dinet_net_class_is_abnormal(net, j);
    if (ab[j] < 0) {
      free(ab);
      return NULL;
    }
  }
  return ab;
}

/* Abnormal flags per class from a comma list of class names. Every name
 * must be one of the classes: a misspelt name would otherwise leave that
 * class "normal" without a word. */
int cli_parse_abnormal(const char *list, const char *const *classes, int k, int **out) {
  *out = NULL;
  if (!list)
    return 0;
  int *ab = calloc((size_t)k, sizeof(int));
  char *dup = strdup(list);
  int n = 0;
  if (!ab || !dup) {
    cli_error("out of memory");
    free(ab);
    free(dup);
    return -1;
  }
  for (char *t = strtok(dup, ","); t; t = strtok(NULL, ",")) {
    int j = 0;
    while (j < k && strcmp(classes[j], t))
      j++;
    if (j == k) {
      cli_error("--abnormal: \"%s\" is not one of the classes:", t);
      for (int c = 0; c < k; c++)
        fprintf(stderr, "%s%s", c ? ", " : "  ", classes[c]);
      fputc('\n', stderr);
      free(ab);
      free(dup);
      return -1;
    }
    ab[j] = 1;
    n++;
  }
  free(dup);
  if (n == 0) {
    cli_error("--abnormal needs at least one class name");
    free(ab);
    return -1;
  }
  *out = ab;
  return 0;
}

/* JSON array of the names of the classes flagged in ab. */
char *cli_abnormal_json(const char *const *classes, const int *ab, int k) {
  size_t need = 3;
  for (int j = 0; j < k; j++)
    need += dinet_json_quote(classes[j], NULL, 0) + 2;
  char *s = malloc(need);
  if (!s)
    return NULL;
  size_t o = 0;
  s[o++] = '[';
  int first = 1;
  for (int j = 0; j < k; j++) {
    if (!ab[j])
      continue;
    if (!first)
      s[o++] = ',';
    first = 0;
    o += dinet_json_quote(classes[j], s + o, need - o);
  }
  s[o++] = ']';
  s[o] = '\0';
  return s;
}
