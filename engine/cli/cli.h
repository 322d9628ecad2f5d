/* cli.h — shared helpers of the dinet command-line tool. */
#ifndef DINET_CLI_H
#define DINET_CLI_H

#include <stdio.h>

#include "dinet/dinet.h"

/* Prints "dinet: message" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Option parsing: returns 1 if argv[*i] is opt (then *val = next arg). */
int cli_opt(int argc, char **argv, int *i, const char *opt, const char **val);
/* --tta / --no-tta: *views = 8 / 1 (0, the default, means the model's own). */
int cli_tta_opt(int argc, char **argv, int *i, int *views);
int cli_parse_int(const char *s, const char *what, long lo, long hi, int *out);
int cli_parse_float(const char *s, const char *what, double lo, double hi, float *out);

/* JSON output helpers. */
void json_string(FILE *f, const char *s);
void json_number(FILE *f, double v); /* null for non-finite */
void json_float_array(FILE *f, const float *v, int n);

/* Loads an image and preprocesses it for the net (3 x S x S). On success
 * *img is the decoded image (caller frees with dinet_image_free) when img
 * is not NULL. Returns 0 or a dinet_status. */
int cli_load_input(dinet_net *net, const char *path, float *x, dinet_image **img,
                   dinet_error *err);

/* The model's normal/abnormal grouping: one flag per class (1 abnormal,
 * 0 normal; caller frees), or NULL when it has none (or out of memory). */
int *cli_model_abnormal(const dinet_net *net);

/* --abnormal a,b: one flag per class (caller frees; NULL when list is
 * NULL). Returns -1, after a message, when a name is not a class. */
int cli_parse_abnormal(const char *list, const char *const *classes, int k, int **out);
/* The JSON array of the names of the classes flagged in ab (caller frees). */
char *cli_abnormal_json(const char *const *classes, const int *ab, int k);

/* Training, evaluation, cross-validation, calibration (cmd_train.c), and
 * their usage texts (dinet COMMAND --help). */
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_cv(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
void usage_train(FILE *f);
void usage_cv(FILE *f);
void usage_eval(FILE *f);
void usage_calibrate(FILE *f);

#endif
