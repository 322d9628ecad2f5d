/* net.h — DeepInsight-Net: ResNet-50 and CBAM-ResNet50 (torchvision v1.5
 * layout; CBAM after bn3, before the residual add, in all 16 bottlenecks).
 *
 * Activations are kept channel-major internally (C x N x H x W) so that a
 * whole batch goes through one sgemm per convolution. Inputs and logits at
 * the API are ordinary NCHW / N x K. */
#ifndef DINET_NET_H
#define DINET_NET_H

#include <stddef.h>
#include <stdint.h>

#include "dinet/safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dinet_error;

typedef enum dinet_arch {
  DINET_ARCH_RESNET50 = 0,
  DINET_ARCH_CBAM_RESNET50 = 1,
} dinet_arch;

const char *dinet_arch_name(dinet_arch arch);
int dinet_arch_from_name(const char *name, dinet_arch *out); /* 0 or error */

typedef struct dinet_net dinet_net;

/* Returns nonzero to ask the engine to stop; polled between layers. */
typedef int (*dinet_cancel_fn)(void *user);

/* A network with zeroed parameters (call dinet_net_init_weights or load). */
dinet_net *dinet_net_new(dinet_arch arch, int num_classes,
                         struct dinet_error *err);
void dinet_net_free(dinet_net *net);

/* The CBAM authors' initialisation: kaiming_normal(fan_out) for convs,
 * BN weight 1 (SpatialGate BN weight 0), biases 0, default Linear init for
 * the MLP, kaiming_normal for fc. Deterministic in seed. */
void dinet_net_init_weights(dinet_net *net, uint64_t seed);

/* Model files (safetensors, PyTorch state_dict names; see README). */
dinet_net *dinet_net_load(const char *path, struct dinet_error *err);
dinet_net *dinet_net_load_st(const dinet_st *st, const char *name,
                             struct dinet_error *err);
int dinet_net_save(dinet_net *net, const char *path, dinet_dtype dtype,
                   struct dinet_error *err);

dinet_arch dinet_net_arch(const dinet_net *net);
int dinet_net_num_classes(const dinet_net *net);
const char *dinet_net_class_name(const dinet_net *net, int i);
int dinet_net_find_class(const dinet_net *net, const char *name_or_index);
int dinet_net_set_class_names(dinet_net *net, const char *const *names, int n,
                              struct dinet_error *err);
int dinet_net_input_size(const dinet_net *net);
void dinet_net_set_input_size(dinet_net *net, int size);
void dinet_net_get_norm(const dinet_net *net, float mean[3], float std[3]);
void dinet_net_set_norm(dinet_net *net, const float mean[3], const float std[3]);
/* Temperature for calibrated probabilities (metadata "temperature"; 1 if absent). */
float dinet_net_temperature(const dinet_net *net);

/* Metadata "data.image_side": the median shorter side, in pixels, of the
 * images a model was trained (or calibrated) on — set by `dinet train` and
 * `dinet calibrate`; the viewer warns about images far from it (a field
 * given to a single-cell model). 0 when absent. */
#define DINET_META_IMAGE_SIDE "data.image_side"
int dinet_net_image_side(const dinet_net *net);
/* How an image's size compares with a model's training images: its call
 * may not apply when it does not fit. Shorter side under half image_side:
 * much smaller; for a model of cell crops (image_side under
 * DINET_CELL_MODEL_MAX_SIDE), over twice it: much larger. A field model
 * has no "larger" (its images are resized whole). image_side 0: fits. */
#define DINET_CELL_MODEL_MAX_SIDE 320
typedef enum dinet_size_fit {
  DINET_SIZE_FITS = 0,
  DINET_SIZE_LARGER = 1,
  DINET_SIZE_SMALLER = 2,
} dinet_size_fit;
dinet_size_fit dinet_size_fit_of(int image_side, int width, int height);

/* Centre crop applied before resizing (metadata "center_crop": the kept
 * fraction of each side, 0.1..1; 1 if absent). */
float dinet_net_center_crop(const dinet_net *net);
/* The one preprocessing path for this model: centre crop, resize to
 * input_size x input_size, normalise; out is 3 x S x S. */
struct dinet_image;
int dinet_net_preprocess(const dinet_net *net, const struct dinet_image *img, float *out,
                         struct dinet_error *err);

/* Metadata (string values), kept and written back on save. */
const char *dinet_net_meta(const dinet_net *net, const char *key);
int dinet_net_set_meta(dinet_net *net, const char *key, const char *value,
                       struct dinet_error *err);
int dinet_net_meta_count(const dinet_net *net);
const char *dinet_net_meta_key(const dinet_net *net, int i);
const char *dinet_net_meta_value(const dinet_net *net, int i);

/* Normal/abnormal grouping from metadata "abnormal" (JSON array of class
 * names). Returns 1 abnormal, 0 normal, -1 unknown. */
int dinet_net_class_is_abnormal(const dinet_net *net, int i);

size_t dinet_net_param_count(const dinet_net *net);
void dinet_net_set_cancel(dinet_net *net, dinet_cancel_fn fn, void *user);

/* ---- Parameters (for optimisers and tests) --------------------------- */
typedef struct dinet_param {
  char name[96];       /* PyTorch state_dict name */
  int ndim;
  int shape[4];
  size_t n;            /* element count */
  float *data;         /* owned by the net */
  float *grad;         /* NULL for buffers (running_mean/var) */
  int decay;           /* 1: weight decay applies (conv/linear weights) */
} dinet_param;

int dinet_net_param_tensors(const dinet_net *net);
dinet_param *dinet_net_param(dinet_net *net, int i);
void dinet_net_zero_grad(dinet_net *net);
/* Call after changing parameters by hand (invalidates folded BN). */
void dinet_net_params_changed(dinet_net *net);

/* ---- Running the network -------------------------------------------- */
typedef enum dinet_mode {
  DINET_MODE_EVAL = 0,  /* BN with running statistics (folded into convs) */
  DINET_MODE_TRAIN = 1, /* BN with batch statistics; updates running stats */
} dinet_mode;

/* Inference: x is n x 3 x h x w (NCHW), logits n x K. Keeps nothing. */
int dinet_net_forward(dinet_net *net, const float *x, int n, int h, int w,
                      float *logits, struct dinet_error *err);

/* Forward keeping every activation backward needs. logits may be NULL. */
int dinet_net_forward_keep(dinet_net *net, dinet_mode mode, const float *x,
                           int n, int h, int w, float *logits,
                           struct dinet_error *err);
/* Backward from dlogits (n x K) after dinet_net_forward_keep.
 * stop_stage 0: full backward, parameter gradients accumulated.
 * stop_stage 1..4: only as far as that stage's output (no parameter
 * gradients), enough for CAMs of that stage. */
int dinet_net_backward(dinet_net *net, const float *dlogits, int stop_stage,
                       struct dinet_error *err);

/* After forward_keep: a stage's output (stage 1..4 = layer1..layer4) for
 * image b, as C x H x W in *out (caller frees). After backward: its
 * gradient. Return 0 or error. */
int dinet_net_stage_activation(const dinet_net *net, int stage, int b,
                               float **out, int *c, int *h, int *w,
                               struct dinet_error *err);
int dinet_net_stage_gradient(const dinet_net *net, int stage, int b,
                             float **out, int *c, int *h, int *w,
                             struct dinet_error *err);
/* After forward_keep: CBAM spatial attention (the sigmoid output) of block
 * `block` (0-based) in a stage, image b, H x W; block -1 = last block,
 * block -2 = mean over the stage's blocks. Channel attention: C weights. */
int dinet_net_cbam_spatial(const dinet_net *net, int stage, int block, int b,
                           float **out, int *h, int *w, struct dinet_error *err);
int dinet_net_cbam_channel(const dinet_net *net, int stage, int block, int b,
                           float **out, int *c, struct dinet_error *err);
/* Number of bottleneck blocks in a stage (3, 4, 6, 3). */
int dinet_net_stage_blocks(int stage);

/* Input gradient after a full backward (n x 3 x h x w). Borrowed. */
const float *dinet_net_input_gradient(const dinet_net *net);

/* ---- Explanations --------------------------------------------------- */
/* Grad-CAM of one image (3 x h x w) at a stage for class target (-1: top-1).
 * map = ReLU(sum_c w_c A_c), w_c = spatial mean of d score / d A_c, at the
 * stage's resolution; caller frees *map. logits (K) may be NULL. */
int dinet_gradcam(dinet_net *net, const float *x, int h, int w, int stage,
                  int target, float *logits, int *target_out, float **map,
                  int *mh, int *mw, struct dinet_error *err);

/* ---- Loss and optimisers --------------------------------------------- */
/* Focal loss, mean over the batch: -alpha_y (1-p_y)^gamma log p_y.
 * alpha may be NULL (all 1). gamma 0 and alpha 1 is cross-entropy.
 * Writes dlogits (n x K) when not NULL. Returns DINET_ERR_NUMERIC on a
 * non-finite loss. */
int dinet_focal_loss(const float *logits, const int *labels, int n, int k,
                     float gamma, const float *alpha, float *loss,
                     float *dlogits, struct dinet_error *err);
/* Numerically stable softmax of n rows of k values, with temperature t. */
void dinet_softmax(const float *logits, int n, int k, float t, float *probs);

typedef enum dinet_optim_kind {
  DINET_OPTIM_SGD = 0,  /* momentum, decoupled-free classic L2 decay */
  DINET_OPTIM_ADAMW = 1,
} dinet_optim_kind;

typedef struct dinet_optim dinet_optim;
dinet_optim *dinet_optim_new(dinet_net *net, dinet_optim_kind kind,
                             float momentum, float beta1, float beta2,
                             float eps, struct dinet_error *err);
void dinet_optim_free(dinet_optim *opt);
/* One update with the accumulated gradients. */
void dinet_optim_step(dinet_optim *opt, float lr, float weight_decay);
/* State for checkpoints: flat float buffers and the step count. */
size_t dinet_optim_state_size(const dinet_optim *opt);
float *dinet_optim_state(dinet_optim *opt);
int64_t dinet_optim_steps(const dinet_optim *opt);
void dinet_optim_set_steps(dinet_optim *opt, int64_t steps);

#ifdef __cplusplus
}
#endif
#endif
