/* test_fuzz_corpus.c — runs the fuzz body (tests/fuzz/fuzz_image.c) over
 * a generated corpus of broken inputs: valid files of each format, then
 * seeded bit flips, byte overwrites, insertions, deletions and
 * truncations. Every input must load or fail with a message; nothing may
 * crash (run it under ASan/UBSan to check memory safety).
 * With DINET_FUZZ_CORPUS_OUT=dir the seed files are also written there,
 * as a starting corpus for the libFuzzer build. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dinet/dinet.h"
#include "fuzz/fuzz_image.c"
#include "image_writers.h"
#include "testutil.h"

#define MAX_SEEDS 32

typedef struct seed {
  char name[48];
  membuf m;
} seed;

/* Adds a seed file (takes the buffer). */
static void add_seed(seed *s, int *n, const char *name, membuf *m) {
  if (*n >= MAX_SEEDS || m->n == 0) {
    mb_free(m);
    return;
  }
  snprintf(s[*n].name, sizeof s[*n].name, "%s", name);
  s[*n].m = *m;
  memset(m, 0, sizeof *m);
  (*n)++;
}

/* A TIFF page over the given samples. */
static tw_tiff_page page_of(int w, int h, int spp, int bps, int photometric,
                            int compression, int tiled,
                            const uint16_t *samples) {
  tw_tiff_page p;
  memset(&p, 0, sizeof p);
  p.w = w;
  p.h = h;
  p.spp = spp;
  p.bps = bps;
  p.photometric = photometric;
  p.compression = compression;
  p.tiled = tiled;
  p.planar = PLANARCONFIG_CONTIG;
  p.samples = samples;
  return p;
}

/* Valid files of every format and several layouts (small: 24 x 17). */
static int make_seeds(seed *s) {
  const int w = 24, h = 17;
  int n = 0;
  membuf m = {0};
  uint8_t *pix = malloc((size_t)w * h * 8);
  uint16_t *s16 = malloc(sizeof(uint16_t) * (size_t)w * h * 4);
  for (int i = 0; i < w * h * 8; i++)
    pix[i] = (uint8_t)(tw_hash((uint32_t)i, 5, 5) & 255);
  for (int i = 0; i < w * h * 4; i++)
    s16[i] = (uint16_t)tw_hash((uint32_t)i, 6, 6);

  /* PNG */
  tw_png(&m, w, h, PNG_COLOR_TYPE_RGB, 8, 0, pix, NULL, 0, NULL, 0, -1);
  add_seed(s, &n, "rgb8.png", &m);
  tw_png(&m, w, h, PNG_COLOR_TYPE_RGBA, 8, 1, pix, NULL, 0, NULL, 0, -1);
  add_seed(s, &n, "rgba8_interlaced.png", &m);
  tw_png(&m, w, h, PNG_COLOR_TYPE_GRAY, 16, 0, pix, NULL, 0, NULL, 0, -1);
  add_seed(s, &n, "gray16.png", &m);
  png_color pal[16];
  uint8_t trns[16];
  for (int i = 0; i < 16; i++) {
    pal[i].red = (uint8_t)(i * 16);
    pal[i].green = (uint8_t)(255 - i * 16);
    pal[i].blue = (uint8_t)(i * 7);
    trns[i] = (uint8_t)(i * 17);
  }
  uint8_t *idx4 = malloc((size_t)(w / 2) * h);
  for (int i = 0; i < w / 2 * h; i++)
    idx4[i] = pix[i];
  tw_png(&m, w, h, PNG_COLOR_TYPE_PALETTE, 4, 0, idx4, pal, 16, trns, 16, -1);
  add_seed(s, &n, "pal4_trns.png", &m);
  free(idx4);

  /* TIFF */
  const char *tp = NULL;
  static char tpath[1024];
  snprintf(tpath, sizeof tpath, "%s/seed.tif", tu_tmpdir());
  tp = tpath;
  for (int i = 0; i < w * h * 4; i++)
    s16[i] = (uint16_t)pix[i];
  tw_tiff_page p =
      page_of(w, h, 3, 8, PHOTOMETRIC_RGB, COMPRESSION_LZW, 0, s16);
  tw_tiff(&m, tp, "w", &p, 1);
  add_seed(s, &n, "rgb8_lzw.tif", &m);
  p.tiled = 1;
  p.compression = COMPRESSION_ADOBE_DEFLATE;
  tw_tiff(&m, tp, "w", &p, 1);
  add_seed(s, &n, "rgb8_deflate_tiles.tif", &m);
  p = page_of(w, h, 3, 8, PHOTOMETRIC_YCBCR, COMPRESSION_JPEG, 0, s16);
  p.rows_per_strip = 16;
  tw_tiff(&m, tp, "w", &p, 1);
  add_seed(s, &n, "ycbcr_jpeg.tif", &m);
  p = page_of(w, h, 1, 8, PHOTOMETRIC_PALETTE, COMPRESSION_PACKBITS, 0, s16);
  uint16_t cm[3][256];
  for (int c = 0; c < 3; c++)
    for (int i = 0; i < 256; i++)
      cm[c][i] = (uint16_t)(i * 257 * (c + 1));
  p.cmap[0] = cm[0];
  p.cmap[1] = cm[1];
  p.cmap[2] = cm[2];
  tw_tiff(&m, tp, "w", &p, 1);
  add_seed(s, &n, "pal8_packbits.tif", &m);
  for (int i = 0; i < w * h * 4; i++)
    s16[i] = (uint16_t)tw_hash((uint32_t)i, 6, 6);
  p = page_of(w, h, 4, 16, PHOTOMETRIC_RGB, COMPRESSION_NONE, 1, s16);
  p.extra = EXTRASAMPLE_UNASSALPHA;
  tw_tiff(&m, tp, "wb", &p, 1);
  add_seed(s, &n, "rgba16_be_tiles.tif", &m);
  for (int i = 0; i < w * h * 4; i++)
    s16[i] = (uint16_t)pix[i];
  p = page_of(w, h, 3, 8, PHOTOMETRIC_RGB, COMPRESSION_NONE, 0, s16);
  p.planar = PLANARCONFIG_SEPARATE;
  tw_tiff(&m, tp, "w", &p, 1);
  add_seed(s, &n, "rgb8_planar.tif", &m);
  tw_tiff_page two[2] = {
      page_of(w, h, 1, 8, PHOTOMETRIC_MINISBLACK, COMPRESSION_LZW, 0, s16),
      page_of(w / 2, h / 2, 4, 8, PHOTOMETRIC_SEPARATED, COMPRESSION_NONE, 0,
              s16),
  };
  tw_tiff(&m, tp, "w", two, 2);
  add_seed(s, &n, "two_pages.tif", &m);

  /* JPEG */
  tw_jpeg(&m, w, h, 3, JCS_RGB, JCS_YCbCr, 85, 0, 0, pix);
  add_seed(s, &n, "ycbcr.jpg", &m);
  tw_jpeg(&m, w, h, 3, JCS_RGB, JCS_YCbCr, 85, 1, 0, pix);
  add_seed(s, &n, "progressive.jpg", &m);
  tw_jpeg(&m, w, h, 1, JCS_GRAYSCALE, JCS_GRAYSCALE, 85, 0, 0, pix);
  add_seed(s, &n, "gray.jpg", &m);
  tw_jpeg(&m, w, h, 4, JCS_CMYK, JCS_YCCK, 85, 0, 1, pix);
  add_seed(s, &n, "ycck.jpg", &m);

  /* BMP */
  static const uint32_t argb[4] = {0xff0000, 0xff00, 0xff, 0xff000000};
  static const uint32_t rgb565[4] = {0xf800, 0x7e0, 0x1f, 0};
  uint8_t bpal[256][3];
  for (int i = 0; i < 256; i++)
    bpal[i][0] = bpal[i][1] = bpal[i][2] = (uint8_t)i;
  uint8_t *ipix = malloc((size_t)w * h * 4);
  for (int i = 0; i < w * h * 4; i++)
    ipix[i] = (uint8_t)(pix[i] & 15);
  tw_bmp(&m, w - 1, h, 24, 0, 40, NULL, NULL, 0, pix);
  add_seed(s, &n, "bgr24.bmp", &m);
  tw_bmp(&m, w, h, 32, 1, 124, argb, NULL, 0, pix);
  add_seed(s, &n, "bgra32_v5.bmp", &m);
  tw_bmp(&m, w - 3, h, 8, 0, 40, NULL, (const uint8_t(*)[3])bpal, 256, pix);
  add_seed(s, &n, "pal8.bmp", &m);
  tw_bmp(&m, w - 1, h, 4, 1, 40, NULL, (const uint8_t(*)[3])bpal, 16, ipix);
  add_seed(s, &n, "pal4.bmp", &m);
  tw_bmp(&m, w - 1, h, 16, 0, 40, rgb565, NULL, 0, pix);
  add_seed(s, &n, "rgb565.bmp", &m);
  free(ipix);
  free(pix);
  free(s16);
  return n;
}

/* Runs one input through the fuzz body from an exact-size copy (so ASan
 * sees any over-read); TIFFs also on page 1. */
static void run_one(const uint8_t *d, size_t n, const char *what, int *loaded,
                    int *failed) {
  uint8_t *copy = calloc(1, n ? n : 1);
  if (n)
    memcpy(copy, d, n);
  int ok = 0;
  int bad = fuzz_image_one(copy, n, 0, &ok);
  if (!bad && n >= 4 && (copy[0] == 'I' || copy[0] == 'M'))
    bad = fuzz_image_one(copy, n, 1, NULL);
  CHECK(!bad, "%s: failure without a proper message", what);
  *loaded += ok;
  *failed += !ok;
  free(copy);
}

int main(void) {
  TIFFSetWarningHandler(NULL); /* the test's own TIFF writer */
  seed seeds[MAX_SEEDS];
  memset(seeds, 0, sizeof seeds);
  int ns = make_seeds(seeds);
  CHECK(ns >= 20, "built %d seeds", ns);

  const char *outdir = getenv("DINET_FUZZ_CORPUS_OUT");
  if (outdir && *outdir)
    for (int i = 0; i < ns; i++) {
      char path[1024];
      snprintf(path, sizeof path, "%.900s/%.47s", outdir, seeds[i].name);
      if (tu_write_file(path, seeds[i].m.p, seeds[i].m.n) != 0)
        fprintf(stderr, "cannot write %s\n", path);
    }

  int loaded = 0, failed = 0, runs = 0;
  /* the seeds themselves must decode */
  for (int i = 0; i < ns; i++) {
    int ok = 0;
    CHECK(fuzz_image_one(seeds[i].m.p, seeds[i].m.n, 0, &ok) == 0 && ok,
          "seed %s does not load", seeds[i].name);
  }

  dinet_rng rng;
  dinet_rng_seed(&rng, 20240601);
  uint8_t *buf = NULL;
  size_t cap = 0;
  for (int i = 0; i < ns; i++) {
    const membuf *m = &seeds[i].m;
    /* truncations every few bytes */
    for (size_t cut = 0; cut < m->n; cut += 1 + m->n / 61) {
      char what[96];
      snprintf(what, sizeof what, "%.47s cut at %zu", seeds[i].name, cut);
      run_one(m->p, cut, what, &loaded, &failed);
      runs++;
    }
    /* seeded mutations */
    for (int k = 0; k < 40; k++) {
      if (cap < m->n + 64) {
        cap = m->n + 64;
        buf = realloc(buf, cap);
      }
      memcpy(buf, m->p, m->n);
      size_t n = m->n;
      int kind = k % 6;
      int edits = 1 + (int)dinet_rng_below(&rng, 8);
      for (int e = 0; e < edits; e++) {
        switch (kind) {
        case 0: /* bit flips anywhere */
          buf[dinet_rng_below(&rng, (uint32_t)n)] ^=
              (uint8_t)(1u << dinet_rng_below(&rng, 8));
          break;
        case 1: /* bit flips in the headers */
          buf[dinet_rng_below(&rng, (uint32_t)(n < 160 ? n : 160))] ^=
              (uint8_t)(1u << dinet_rng_below(&rng, 8));
          break;
        case 2: { /* interesting values */
          static const uint8_t v[] = {0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe};
          size_t at = dinet_rng_below(&rng, (uint32_t)(n < 200 ? n : 200));
          size_t len = 1 + dinet_rng_below(&rng, 4);
          uint8_t b = v[dinet_rng_below(&rng, sizeof v)];
          for (size_t j = 0; j < len && at + j < n; j++)
            buf[at + j] = b;
          break;
        }
        case 3: { /* delete a run */
          size_t at = dinet_rng_below(&rng, (uint32_t)n);
          size_t len = 1 + dinet_rng_below(&rng, 16);
          if (at + len > n)
            len = n - at;
          memmove(buf + at, buf + at + len, n - at - len);
          n -= len;
          break;
        }
        case 4: { /* duplicate a run (insertion) */
          size_t at = dinet_rng_below(&rng, (uint32_t)n);
          size_t len = 1 + dinet_rng_below(&rng, 8);
          if (at + len > n)
            len = n - at;
          if (n + len <= cap) {
            memmove(buf + at + len, buf + at, n - at);
            n += len;
          }
          break;
        }
        default: /* flips, then a truncation */
          buf[dinet_rng_below(&rng, (uint32_t)n)] ^=
              (uint8_t)dinet_rng_next(&rng);
          if (e == edits - 1)
            n = 1 + dinet_rng_below(&rng, (uint32_t)n);
          break;
        }
        if (n == 0)
          break;
      }
      char what[96];
      snprintf(what, sizeof what, "%.47s mutation %d (kind %d)", seeds[i].name,
               k, kind);
      run_one(buf, n, what, &loaded, &failed);
      runs++;
    }
  }
  free(buf);
  printf("fuzz corpus: %d seeds, %d inputs, %d decoded, %d rejected\n", ns,
         runs, loaded, failed);
  CHECK(runs >= 500, "ran %d inputs", runs);
  for (int i = 0; i < ns; i++)
    mb_free(&seeds[i].m);
  return tu_finish();
}
