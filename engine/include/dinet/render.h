/* render.h — turning explanation maps into pictures: normalisation,
 * upsampling, colormaps, overlays and legends. Shared by the viewer, the
 * report and the CLI, so that all three show the same colours.
 *
 * A map "without positive evidence" (nothing above zero after ReLU, or
 * flat: max - min < 1e-6 * max) is never stretched into a colourful
 * picture: normalisation reports it and yields zeros, the overlay leaves
 * the image untouched. */
#ifndef DINET_RENDER_H
#define DINET_RENDER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dinet_error;
struct dinet_image;

/* Colormaps, as 256-entry tables in RGB order.
 *   viridis, inferno: matplotlib's _cm_listed.py data (CC0), exact floats;
 *   turbo: Google's published turbo_colormap_data (Apache-2.0), exact;
 *   jet: MATLAB's jet(256) (the jet.m construction, exact).
 * 8-bit tables round each channel: round(v * 255). */
typedef enum dinet_colormap {
  DINET_COLORMAP_VIRIDIS = 0,
  DINET_COLORMAP_INFERNO = 1,
  DINET_COLORMAP_TURBO = 2,
  DINET_COLORMAP_JET = 3,
} dinet_colormap;

#define DINET_COLORMAP_COUNT 4

/* "viridis", "inferno", "turbo", "jet"; NULL for an unknown value. */
const char *dinet_colormap_name(dinet_colormap cm);
/* Parses a name (case-insensitive). Returns 0 or DINET_ERR_INVALID. */
int dinet_colormap_from_name(const char *name, dinet_colormap *out,
                             struct dinet_error *err);
/* Entry i (0..255) as floats in [0, 1]. */
void dinet_colormap_rgbf(dinet_colormap cm, int i, float rgb[3]);
/* The 8-bit table: lut[i][0..2] = round(255 * rgbf(i)). */
void dinet_colormap_lut(dinet_colormap cm, uint8_t lut[256][3]);

/* Normalises n values to [0, 1]: v' = (relu(v) - min) / (max - min), min
 * and max of relu(v). Returns 1 when the map has no positive evidence
 * (max <= 0, flat, or not finite) and then writes zeros; 0 otherwise.
 * out may be map. */
int dinet_map_normalize(const float *map, size_t n, float *out);

/* Bilinear resize of an mh x mw map to h x w with half-pixel centres and
 * edge clamping (PyTorch's interpolate(mode="bilinear",
 * align_corners=False)). out is h x w. */
void dinet_map_upsample(const float *map, int mh, int mw, float *out, int h, int w);

/* Blends a map over img (RGB, in place): the map is normalised, upsampled
 * to the image size and coloured; pixel = (1 - opacity) pixel + opacity
 * colour. A map without positive evidence leaves img as it is and sets
 * *no_evidence (when not NULL). Returns 0 or an error. */
int dinet_render_overlay(struct dinet_image *img, const float *map, int mh, int mw,
                         dinet_colormap cm, float opacity, int *no_evidence,
                         struct dinet_error *err);

/* A horizontal colour bar, low values on the left: width x height RGB,
 * column x showing entry round(255 * x / (width - 1)). Caller frees with
 * dinet_image_free. */
struct dinet_image *dinet_render_legend(int width, int height, dinet_colormap cm,
                                        struct dinet_error *err);

#ifdef __cplusplus
}
#endif
#endif
