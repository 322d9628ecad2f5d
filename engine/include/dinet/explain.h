/* explain.h — explanations of a prediction: class activation maps
 * (Grad-CAM, Grad-CAM++, HiResCAM, LayerCAM and its multi-layer fusion,
 * Score-CAM, counterfactual Grad-CAM), CBAM attention, test-time
 * augmentation (dihedral) smoothing, faithfulness metrics (deletion and
 * insertion AUC, average drop, increase in confidence) and the pointing
 * game.
 *
 * Inputs are one preprocessed image x (3 x h x w, as dinet_net_preprocess
 * writes it). Maps are float, rows first, at the resolution of the stage
 * they explain, raw (not normalised): dinet_map_normalize (render.h) makes
 * pictures of them. Every map method explains the score (logit) of one
 * class: the predicted one by default. */
#ifndef DINET_EXPLAIN_H
#define DINET_EXPLAIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dinet_error;
struct dinet_net;

typedef enum dinet_explain_method {
  /* map = ReLU(sum_c w_c A_c), w_c = mean_ij dS/dA_cij (Selvaraju et al.) */
  DINET_EXPLAIN_GRADCAM = 0,
  /* w_c = sum_ij relu(g_cij) a_cij, a = g^2 / (2 g^2 + sum_ij(A_c) g^3 + 1e-6)
   * (a = 0 where g = 0), g = dS/dA: the closed form of Chattopadhay et al.
   * for exp(S), written with the gradient of S as pytorch-grad-cam does. */
  DINET_EXPLAIN_GRADCAMPP = 1,
  /* map = ReLU(sum_c g_c * A_c), elementwise (Draelos & Carin). */
  DINET_EXPLAIN_HIRESCAM = 2,
  /* map = ReLU(sum_c relu(g_c) * A_c), elementwise (Jiang et al.). */
  DINET_EXPLAIN_LAYERCAM = 3,
  /* LayerCAM of layer2, layer3 and layer4, each normalised to [0, 1]
   * (dinet_map_normalize; a map without positive evidence counts as
   * zeros), upsampled bilinearly to the layer2 resolution and combined by
   * the element-wise maximum (default) or mean (dinet_explain_opts.fusion). */
  DINET_EXPLAIN_LAYERCAM_FUSION = 4,
  /* Score-CAM (Wang et al.): the top-N channels of the stage by mean
   * activation, each upsampled to the input size, min-max normalised to
   * [0, 1] (divided by max - min + 1e-8) and multiplied into the input; the
   * softmax probability of the target class for that masked input is the
   * channel's weight; map = ReLU(sum_k w_k A_k). Batched forwards. */
  DINET_EXPLAIN_SCORECAM = 5,
  /* The CBAM spatial attention (sigmoid) of a block of the stage, or the
   * mean over the stage's blocks (opts.block). Class-independent. */
  DINET_EXPLAIN_CBAM_SPATIAL = 6,
  /* "Why not class X": Grad-CAM with negated gradients of X's score,
   * w_c = mean_ij(-dS_X/dA_cij) (Selvaraju et al., counterfactual
   * explanations). Regions whose removal would raise X's score. */
  DINET_EXPLAIN_COUNTERFACTUAL = 7,
} dinet_explain_method;

#define DINET_EXPLAIN_METHOD_COUNT 8

/* CLI names: "gradcam", "gradcam++", "hirescam", "layercam",
 * "layercam-fusion", "scorecam", "cbam", "counterfactual". */
const char *dinet_explain_method_name(dinet_explain_method m);
/* Returns 0 or DINET_ERR_INVALID. */
int dinet_explain_method_from_name(const char *name, dinet_explain_method *out,
                                   struct dinet_error *err);

typedef enum dinet_fusion {
  DINET_FUSION_MAX = 0,
  DINET_FUSION_MEAN = 1,
} dinet_fusion;

typedef struct dinet_explain_opts {
  dinet_explain_method method;
  int stage;             /* 1..4 = layer1..layer4 (fusion: ignored, uses 2..4) */
  int target;            /* class to explain; -1: the predicted class */
  int block;             /* CBAM: block index, -1 the stage's last, -2 the mean */
  dinet_fusion fusion;   /* LAYERCAM_FUSION: max (default) or mean */
  int scorecam_channels; /* Score-CAM: top-N channels (default 64; clamped to C) */
  int batch;             /* images per batched forward (default 16) */
  int smooth;            /* 1: average over the 8 dihedral views (TTA) */
} dinet_explain_opts;

/* Defaults: Grad-CAM at layer4 of the predicted class, block -1, max
 * fusion, 64 Score-CAM channels, batch 16, no smoothing. */
void dinet_explain_opts_init(dinet_explain_opts *o);

typedef struct dinet_explanation {
  float *map;                  /* h x w, rows first, raw; owned */
  int h, w;                    /* the stage's resolution */
  int target;                  /* the class explained */
  int predicted;               /* top-1 class of x (unaugmented) */
  dinet_explain_method method;
  int stage;                   /* resolution stage (2 for the fusion) */
  int block;                   /* CBAM block as asked (-1 last, -2 mean) */
  int smoothed;                /* the 8-view TTA average */
  int no_positive_evidence;    /* see dinet_map_normalize */
  int num_classes;
  float *logits;               /* num_classes, of x (unaugmented); owned */
} dinet_explanation;

/* Explains x (3 x h x w) with the method and options in o (NULL: defaults).
 * On success *out holds the map and its metadata; free it with
 * dinet_explanation_free. The net's kept activations are replaced. */
int dinet_explain(struct dinet_net *net, const float *x, int h, int w,
                  const dinet_explain_opts *o, dinet_explanation *out,
                  struct dinet_error *err);
void dinet_explanation_free(dinet_explanation *e);

/* ---- CBAM channel attention ----------------------------------------- */
typedef struct dinet_channel_weight {
  int index;    /* channel of the block output */
  float weight; /* the channel gate's sigmoid, in (0, 1) */
} dinet_channel_weight;

/* The k channels with the largest CBAM channel-attention weight in block
 * `block` of a stage (-1 last, -2 mean over the stage's blocks), largest
 * first (ties: lower index first). out has room for k; *n_out = min(k, C).
 * logits (K) may be NULL. */
int dinet_explain_cbam_channels(struct dinet_net *net, const float *x, int h, int w,
                                int stage, int block, int k, dinet_channel_weight *out,
                                int *n_out, float *logits, struct dinet_error *err);

/* ---- test-time augmentation ----------------------------------------- */
/* Dihedral view d (0..7) of a c x h x w tensor: bit 2 transposes, then bit
 * 0 flips left-right and bit 1 flips top-bottom. out is c x h' x w' with
 * (h', w') = (w, h) when d & 4, else (h, w). d = 0 is the identity. */
void dinet_dihedral(const float *in, int c, int h, int w, int d, float *out);
/* The inverse: given a view v (c x h' x w') of view d of an h x w tensor,
 * writes it back in the original orientation (c x h x w). */
void dinet_dihedral_inverse(const float *v, int c, int h, int w, int d, float *out);

/* A map function for TTA: the map (caller frees) of the c x h x w input. */
typedef int (*dinet_map_fn)(void *user, const float *x, int c, int h, int w, float **map,
                            int *mh, int *mw, struct dinet_error *err);
/* Average of fn's maps over the 8 dihedral views of x, each mapped back to
 * the original orientation exactly (a permutation at the map's own
 * resolution). View d's map must be view d of an mh x mw grid. */
int dinet_tta_dihedral(dinet_map_fn fn, void *user, const float *x, int c, int h, int w,
                       float **map, int *mh, int *mw, struct dinet_error *err);

/* The most views a prediction averages (the dihedral group's 8): a
 * view_top buffer of DINET_MAX_VIEWS per image always suffices. */
#define DINET_MAX_VIEWS 8

/* Class log-probabilities of n square images (n x 3 x h x w, h == w) averaged
 * over their 8 dihedral views: logp[i] = log(mean_d softmax(net(view_d(x_i)))),
 * n x K. Use logp as logits (a model's temperature still applies).
 * view_top (may be NULL): n x 8, each view's own top class. */
int dinet_predict_tta(struct dinet_net *net, const float *x, int n, int h, int w, float *logp,
                      int *view_top, struct dinet_error *err);

/* The views a model's predictions average (metadata "tta": "dihedral8",
 * set by `dinet calibrate --tta`): 8, or 1 when the model asks for none. */
#define DINET_META_TTA "tta"
#define DINET_TTA_DIHEDRAL8 "dihedral8"
int dinet_net_tta_views(const struct dinet_net *net);
/* Class scores of n images as the model means them: logits (one view), or
 * with views 8 dinet_predict_tta's log mean probabilities; views 0 takes
 * dinet_net_tta_views(net). Softmax with the model's temperature either way.
 * view_top (may be NULL): n x views (views <= DINET_MAX_VIEWS), each view's
 * top class (with one view, the top class of the logits). */
int dinet_net_predict(struct dinet_net *net, const float *x, int n, int h, int w, int views,
                      float *scores, int *view_top, struct dinet_error *err);
/* How many of a prediction's views give its top class top (the views
 * agree when it is all of them): views entries of view_top; top is the
 * class of the mean. */
int dinet_views_agreeing(const int *view_top, int views, int top);

/* ---- faithfulness --------------------------------------------------- */
#define DINET_FAITH_MAX_STEPS 100

/* Scores of n images (n x c x h x w) for class target, one per image (for a
 * network: the softmax probability of the class). Returns 0 or an error. */
typedef int (*dinet_score_fn)(void *user, const float *x, int n, int c, int h, int w,
                              int target, float *scores, struct dinet_error *err);

typedef struct dinet_faith_opts {
  int steps;        /* curve steps (default 20) */
  float blur_sigma; /* blurred baseline: Gaussian sigma as a fraction of
                       max(h, w) (default 0.05); <= 0: a zero baseline */
  int batch;        /* images per scoring call (default 21) */
} dinet_faith_opts;

void dinet_faith_opts_init(dinet_faith_opts *o);

typedef struct dinet_faith_result {
  int no_positive_evidence; /* 1: nothing computed, the metrics are NaN */
  int steps;
  double deletion_auc;      /* lower is better */
  double insertion_auc;     /* higher is better */
  double average_drop;      /* max(0, p - p_masked) / p, lower is better */
  double increase_in_confidence; /* 1 if p_masked > p, else 0 */
  float p, p_masked;        /* score of x and of x * normalised map */
  float deletion[DINET_FAITH_MAX_STEPS + 1];  /* score after removing k/steps */
  float insertion[DINET_FAITH_MAX_STEPS + 1]; /* score after inserting k/steps */
} dinet_faith_result;

/* Faithfulness of a map (mh x mw, any resolution) for x (c x h x w) and
 * class target, scored by fn. Pixels are ranked by the map upsampled to
 * h x w (bilinear, half-pixel; ties by raster order). Deletion replaces
 * the top round(k/steps * h*w) pixels (all channels) of x by the baseline
 * (a blurred copy of x), insertion puts them into the baseline; curves over
 * k = 0..steps, AUC by the trapezoid rule over the fraction in [0, 1].
 * Average drop and increase in confidence use x multiplied by the
 * normalised map (Chattopadhay et al.). A map without positive evidence
 * only sets the flag. */
int dinet_faithfulness_fn(dinet_score_fn fn, void *user, const float *x, int c, int h,
                          int w, const float *map, int mh, int mw, int target,
                          const dinet_faith_opts *o, dinet_faith_result *out,
                          struct dinet_error *err);
/* The same scored by the network: softmax probability (temperature 1) of
 * target, in batched forwards. */
int dinet_faithfulness(struct dinet_net *net, const float *x, int h, int w, const float *map,
                       int mh, int mw, int target, const dinet_faith_opts *o,
                       dinet_faith_result *out, struct dinet_error *err);

/* Gaussian blur of a c x h x w tensor (separable, radius ceil(3 sigma),
 * edge pixels repeated). sigma in pixels; out may not alias x. */
int dinet_gaussian_blur(const float *x, int c, int h, int w, float sigma, float *out,
                        struct dinet_error *err);

/* ---- evaluation helpers --------------------------------------------- */
/* Pointing game (Zhang et al.): the map's maximum (after upsampling to
 * h x w) is a hit when a mask pixel (nonzero) lies within `tolerance`
 * pixels (Euclidean) of it. Ties: of the pixels within 1e-5 (relative) of
 * the maximum, the one nearest the centre of the map cell that holds the
 * maximum, so that a flat maximum (a border cell of a coarse map, clamped
 * by the upsampling out to the image's edge) counts where the map sampled
 * it rather than at its first pixel in raster order. A
 * map without positive evidence is a miss and sets *no_evidence when not
 * NULL. *hit = 1 or 0. */
int dinet_pointing_game(const float *map, int mh, int mw, const uint8_t *mask, int h, int w,
                        float tolerance, int *hit, int *no_evidence, struct dinet_error *err);

/* Spearman rank correlation of two sequences (average ranks for ties);
 * NaN when either is constant or n < 2. */
double dinet_spearman(const float *a, const float *b, size_t n);

#ifdef __cplusplus
}
#endif
#endif
