/* net_private.h — the network's structures, shared by net.c, model.c and
 * gradcam.c (internal). */
#ifndef DINET_NET_PRIVATE_H
#define DINET_NET_PRIVATE_H

#include "dinet/dinet.h"
#include "ops.h"

#define DINET_BN_EPS 1e-5f

/* A convolution (no bias) followed by BatchNorm2d. */
typedef struct convbn {
  int cin, cout, k, stride, pad;
  dinet_param *w;                  /* [cout][cin][k][k] */
  dinet_param *g, *b, *rm, *rv;    /* BN weight, bias, running mean/var [cout] */
  float momentum;
  float *fw, *fb;                  /* BN folded into the conv (eval) */
  float *mean, *invstd;            /* batch statistics of the last train forward */
} convbn;

typedef struct cbam {
  int C, R;
  dinet_param *w1, *b1, *w2, *b2;  /* mlp.1 [R][C], [R]; mlp.3 [C][R], [C] */
  convbn sp;                       /* spatial: 2 -> 1, 7x7 pad 3, BN(1) */
} cbam;

/* Activations of one bottleneck for the current batch shape. */
typedef struct block_act {
  const float *x;                  /* input (borrowed) [cin][N][H][W] */
  float *y1, *z1;                  /* conv1 raw (train), bn1+relu [width][N][H][W] */
  float *y2, *z2;                  /* [width][N][Ho][Wo] */
  float *y3, *z3;                  /* conv3 raw, bn3 [cout][N][Ho][Wo] */
  float *yd, *zd;                  /* downsample raw, bn [cout][N][Ho][Wo] */
  dinet__cgate_cache cg;           /* avg, mx, amax, s [cout][N]; ha, hm [R][N] */
  float *x1;                       /* after channel gate [cout][N*Ho*Wo] */
  float *pool;                     /* [2][N*Ho*Wo] (max, mean) */
  int32_t *pamax;                  /* [N*Ho*Wo] */
  float *spy, *spz, *sp;           /* spatial conv raw, bn, sigmoid [N*Ho*Wo] */
  float *out;                      /* relu(cbam(z3) + residual) [cout][N][Ho][Wo] */
} block_act;

typedef struct block {
  int cin, width, cout, stride;
  int has_ds, has_cbam;
  convbn c1, c2, c3, ds;
  cbam cb;
  int H, W, Ho, Wo;                /* spatial size for the current shape */
  block_act *act;                  /* keep: own; inference: shared */
} block;

#define DINET_NBLOCKS 16

struct dinet_net {
  dinet_arch arch;
  int num_classes;
  char **class_names;              /* num_classes entries */
  int input_size;
  float mean[3], std[3];
  /* metadata (all keys, incl. arch/classes/... regenerated on save) */
  char **meta_keys, **meta_values;
  int n_meta;

  dinet_param *params;
  int n_params;
  size_t param_count;

  convbn stem;                     /* conv1 7x7/2 + bn1 */
  block blocks[DINET_NBLOCKS];
  int stage_first[5];              /* index of the first block of stage s (1..4), [0] unused */
  dinet_param *fc_w, *fc_b;        /* [K][2048], [K] */

  int folded_valid;
  dinet_cancel_fn cancel;
  void *cancel_user;

  /* workspace for the current shape */
  int ws_n, ws_h, ws_w, ws_mode, ws_keep;
  void *arena;
  size_t arena_size;
  float *xin;                      /* [3][N][H][W] */
  float *y0, *z0;                  /* stem conv raw / bn+relu [64][N][H1][W1] */
  float *p0;                       /* after max pool [64][N][H2][W2] */
  int32_t *p0idx;
  int H1, W1, H2, W2;
  block_act shared_act;            /* inference: one set for all blocks */
  block_act acts[DINET_NBLOCKS];   /* keep: one set per block */
  float *ping, *pong;              /* inference: block outputs */
  float *feat;                     /* [2048][N] */
  float *col;                      /* im2col workspace */
  float *g_a, *g_b, *g_c, *g_d, *g_e; /* backward scratch */
  float *g_small;                  /* channel-gate backward scratch */
  float *g_in;                     /* input gradient [N][3][H][W] */
  float *stage_grad[5];            /* [C][N][h][w] per stage after backward */
  int have_forward, have_backward, last_mode;
};

int dinet__net_ensure_folded(dinet_net *net, dinet_error *err);
int dinet__check_cancel(dinet_net *net, dinet_error *err);
/* Eval-mode forward that keeps only what a backward to `stage` needs
 * (layer`stage`'s output and the blocks after it): for stage CAMs. */
int dinet__net_forward_keep_from(dinet_net *net, const float *x, int n, int h, int w,
                                 float *logits, int stage, dinet_error *err);

#endif
