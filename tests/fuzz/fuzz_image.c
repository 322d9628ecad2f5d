/* fuzz_image.c — libFuzzer entry point for the image loaders.
 *
 * Build and run (clang):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *     -Iengine/include tests/fuzz/fuzz_image.c engine/src/image*.c \
 *     engine/src/resize.c engine/src/error.c engine/src/rng.c \
 *     -lpng -ltiff -ljpeg -lm -o fuzz_image
 *   DINET_FUZZ_CORPUS_OUT=corpus ./build/tests/test_fuzz_corpus  # seeds
 *   ./fuzz_image corpus
 * tests/test_fuzz_corpus.c includes this file and runs the same body over
 * generated broken inputs as an ordinary test. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dinet/dinet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keeps the pixel reads from being optimised away. */
static volatile unsigned fuzz_sink;

/* Loads one input (small pixel limit to keep each run fast), reads every
 * pixel and resizes the result. Returns 0, or 1 when a failure came back
 * without a proper message (a bug the harness reports). *loaded is set
 * when the input decoded. */
static int fuzz_image_one(const uint8_t *data, size_t size, int page,
                          int *loaded) {
  dinet_error err;
  dinet_load_options opt = {.max_pixels = (uint64_t)1 << 22, .page = page};
  memset(&err, 0, sizeof err);
  /* the probe first: it must agree with the load on every input */
  int pw = 0, ph = 0;
  int prc = dinet_image_probe_memory(data, size, "fuzz-input", &opt, &pw, &ph,
                                     &err);
  if (prc != 0 && !(prc < 0 && strstr(err.message, "fuzz-input")))
    return 1;
  memset(&err, 0, sizeof err);
  dinet_image *img =
      dinet_image_load_memory(data, size, "fuzz-input", &opt, &err);
  if (loaded)
    *loaded = img != NULL;
  if (img && (prc != 0 || pw != img->width || ph != img->height)) {
    dinet_image_free(img); /* decoded, but the probe said otherwise */
    return 1;
  }
  if (!img)
    return err.code < 0 && strstr(err.message, "fuzz-input") ? 0 : 1;
  unsigned sum = 0;
  size_t n = (size_t)img->width * (size_t)img->height * 3;
  for (size_t i = 0; i < n; i++)
    sum += img->rgb[i];
  fuzz_sink = sum;
  dinet_image *r =
      dinet_image_resize(img, 1 + img->width % 37, 1 + img->height % 29, &err);
  int bad = r == NULL;
  dinet_image_free(r);
  dinet_image_free(img);
  return bad;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (fuzz_image_one(data, size, 0, NULL))
    __builtin_trap();
  /* TIFF: the second page as well */
  if (size >= 4 && (data[0] == 'I' || data[0] == 'M') &&
      fuzz_image_one(data, size, 1, NULL))
    __builtin_trap();
  return 0;
}
