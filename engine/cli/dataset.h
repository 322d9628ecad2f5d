/* dataset.h — ImageFolder data sets, splits and augmentation for training. */
#ifndef DINET_CLI_DATASET_H
#define DINET_CLI_DATASET_H

#include <stdint.h>

#include "dinet/dinet.h"

typedef struct sample {
  char *path;   /* full path */
  char *rel;    /* path relative to the data folder ("CLASS/file.jpg") */
  int label;
  int group;    /* group id (copies of one source share it) */
} sample;

typedef struct dataset {
  char *root;
  int n, k;
  sample *s;
  char **classes;   /* k names (folder names, sorted) */
  int n_groups;
} dataset;

/* Scans DIR/CLASS/IMAGE. If classes is not NULL the folder names must be
 * exactly those (in that order, for evaluation with a model). group_by names
 * a labels.csv column (NULL: each image is its own group). */
int dataset_scan(dataset *ds, const char *dir, char *const *classes, int k,
                 const char *group_by, dinet_error *err);
void dataset_free(dataset *ds);
/* Moves the samples of `more` (scanned with the same classes) to the end of
 * ds; `more` keeps its classes and root, and no samples. */
int dataset_append(dataset *ds, dataset *more, dinet_error *err);
/* Keeps only the samples whose rel path is listed in a text file (one per
 * line). Returns 0 or an error. */
int dataset_filter_list(dataset *ds, const char *list, int keep, dinet_error *err);

/* Stratified grouped split: fold[i] in 0..nfolds-1 for each sample. Groups
 * never straddle folds; each class spreads evenly over folds. */
void dataset_folds(const dataset *ds, int nfolds, uint64_t seed, int *fold);
/* Validation split of about `fraction` per class: val[i] = 1 or 0. */
void dataset_split(const dataset *ds, double fraction, uint64_t seed, int *val);

/* Decoded images kept in memory at a fixed square size, centre-cropped. */
typedef struct image_cache {
  int n, side;
  uint8_t *pix;   /* n x side x side x 3 */
  int *sides;     /* n: each original's shorter side, pixels */
} image_cache;

int cache_build(image_cache *c, const dataset *ds, const int *idx, int n, int side,
                float center_crop, dinet_error *err);
void cache_free(image_cache *c);
/* Median of the originals' shorter sides (0 for an empty cache). */
int cache_median_side(const image_cache *c);

typedef struct augment {
  float scale_min;   /* area fraction of the random crop (e.g. 0.75) */
  float aspect;      /* max log aspect jitter (e.g. 0.1) */
  float brightness, contrast, saturation, hue; /* jitter amplitudes */
  float stain;       /* per-channel gain jitter */
  int dihedral;      /* random dihedral transform */
} augment;

/* Writes one normalised 3 x S x S view of cached image i. aug NULL: the
 * whole image, resized (bilinear), untransformed. dihedral >= 0 forces a
 * transform (test-time augmentation). */
void cache_view(const image_cache *c, int i, int S, const float mean[3], const float std[3],
                const augment *aug, int dihedral, dinet_rng *rng, float *out);

/* Applies dihedral transform d (0..7) to a C x S x S tensor in place. */
void dihedral_tensor(float *x, int C, int S, int d, float *tmp);

#endif
