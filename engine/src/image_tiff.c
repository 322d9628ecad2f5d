/* image_tiff.c — TIFF reader on libtiff >= 4.5.
 *
 * The file is read from memory through client procs, opened with
 * TIFFClientOpenExt() and per-handle error/warning handlers and a
 * single-allocation cap (TIFFOpenOptions), so no global libtiff state is
 * touched. Two decode paths:
 *   - direct: contiguous 8/16-bit unsigned gray, RGB, palette (and
 *     JPEG-compressed YCbCr, which libtiff converts to RGB), strips or tiles,
 *     top-left orientation, any codec libtiff has. 16-bit samples are
 *     rounded (v * 255 / 65535) like the PNG loader, alpha composited over
 *     white.
 *   - generic: everything else TIFFRGBAImage understands (CMYK, YCbCr,
 *     1/2/4-bit, separate planes, other orientations). libtiff takes the
 *     high byte of 16-bit gray there.
 * The page (directory) is opt->page, 0 by default. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tiffio.h>

#include "dinet/dinet.h"
#include "image_private.h"

/* Client state: the memory "file" and the first libtiff error message. */
typedef struct tiff_ctx {
  const uint8_t *data;
  uint64_t len, pos;
  const char *name;
  char msg[256];
} tiff_ctx;

/* Read proc: copies up to n bytes from the current position. */
static tmsize_t t_read(thandle_t h, void *buf, tmsize_t n) {
  tiff_ctx *c = (tiff_ctx *)h;
  if (n <= 0 || c->pos >= c->len)
    return 0;
  uint64_t k = c->len - c->pos;
  if ((uint64_t)n < k)
    k = (uint64_t)n;
  memcpy(buf, c->data + c->pos, (size_t)k);
  c->pos += k;
  return (tmsize_t)k;
}

/* Write proc: the file is opened read-only; nothing is ever written. */
static tmsize_t t_write(thandle_t h, void *buf, tmsize_t n) {
  (void)h;
  (void)buf;
  (void)n;
  return -1;
}

/* Seek proc: positions past the end are allowed (reads there return 0). */
static toff_t t_seek(thandle_t h, toff_t off, int whence) {
  tiff_ctx *c = (tiff_ctx *)h;
  uint64_t base = whence == SEEK_CUR ? c->pos : whence == SEEK_END ? c->len : 0;
  if (whence != SEEK_SET && (int64_t)off < 0 &&
      (uint64_t)(-(int64_t)off) > base)
    return (toff_t)-1;
  c->pos = whence == SEEK_SET ? off : base + off; /* wraps for off < 0 */
  return c->pos;
}

/* Close proc: the buffer belongs to the caller. */
static int t_close(thandle_t h) {
  (void)h;
  return 0;
}

/* Size proc. */
static toff_t t_size(thandle_t h) { return ((tiff_ctx *)h)->len; }

/* Map proc: refuse, so libtiff copies out of our read-only buffer. */
static int t_map(thandle_t h, void **base, toff_t *size) {
  (void)h;
  (void)base;
  (void)size;
  return 0;
}

/* Unmap proc: nothing was mapped. */
static void t_unmap(thandle_t h, void *base, toff_t size) {
  (void)h;
  (void)base;
  (void)size;
}

/* Error handler for this handle only: keep the first message. Returning 1
 * stops libtiff from also calling the global (stderr) handler. */
__attribute__((format(printf, 4, 0))) static int t_error(TIFF *tif, void *user,
                                                         const char *module,
                                                         const char *fmt,
                                                         va_list ap) {
  (void)tif;
  tiff_ctx *c = user;
  if (c && !c->msg[0]) {
    char m[200];
    vsnprintf(m, sizeof m, fmt, ap);
    if (module && *module && strcmp(module, c->name) != 0)
      snprintf(c->msg, sizeof c->msg, "%s: %s", module, m);
    else
      snprintf(c->msg, sizeof c->msg, "%s", m);
  }
  return 1;
}

/* Warning handler: silent. */
static int t_warn(TIFF *tif, void *user, const char *module, const char *fmt,
                  va_list ap) {
  (void)tif;
  (void)user;
  (void)module;
  (void)fmt;
  (void)ap;
  return 1;
}

/* How the direct path reads one pixel. */
typedef struct tiff_fmt {
  int bps;         /* 1, 2, 4 (one sample), 8 or 16 */
  int spp;         /* samples per pixel */
  int photometric; /* MINISBLACK, MINISWHITE, RGB or PALETTE */
  int alpha;       /* index of the alpha sample, -1 for none */
  int assoc;       /* alpha is premultiplied */
  const uint16_t *cmap[3];
  int cmap8;    /* colormap written with 8-bit values */
  size_t ncmap; /* entries in each colormap array */
} tiff_fmt;

/* Sample i of a pixel, raw (not scaled). */
static inline unsigned sample_raw(const tiff_fmt *f, const uint8_t *p, int i) {
  if (f->bps == 8)
    return p[i];
  uint16_t v;
  memcpy(&v, p + 2 * i, 2);
  return v;
}

/* Sample i scaled to 8 bits. */
static inline unsigned sample8(const tiff_fmt *f, const uint8_t *p, int i) {
  unsigned v = sample_raw(f, p, i);
  return f->bps == 8 ? v : dinet__scale16(v);
}

/* Converts n pixels of 1, 2 or 4-bit gray or palette (one sample, packed
 * from the most significant bit, rows starting on a byte) to RGB. */
static void convert_row_bits(const tiff_fmt *f, const uint8_t *src,
                             uint8_t *dst, uint32_t n) {
  unsigned bps = (unsigned)f->bps, mask = (1u << bps) - 1, scale = 255 / mask;
  for (uint32_t x = 0; x < n; x++, dst += 3) {
    size_t bit = (size_t)x * bps;
    unsigned v = (src[bit >> 3] >> (8 - bps - (bit & 7))) & mask;
    if (f->photometric == PHOTOMETRIC_PALETTE) {
      for (int c = 0; c < 3; c++)
        dst[c] = f->cmap8 ? (uint8_t)(f->cmap[c][v] & 255)
                          : dinet__scale16(f->cmap[c][v]);
    } else {
      unsigned g = v * scale; /* exact: 255, 85 and 17 per step */
      if (f->photometric == PHOTOMETRIC_MINISWHITE)
        g = 255 - g;
      dst[0] = dst[1] = dst[2] = (uint8_t)g;
    }
  }
}

/* Converts n pixels of the direct-path layout to RGB. */
static void convert_row(const tiff_fmt *f, const uint8_t *src, uint8_t *dst,
                        uint32_t n) {
  if (f->bps < 8) {
    convert_row_bits(f, src, dst, n);
    return;
  }
  size_t step = (size_t)f->spp * (size_t)(f->bps / 8);
  for (uint32_t x = 0; x < n; x++, src += step, dst += 3) {
    unsigned r, g, b;
    switch (f->photometric) {
    case PHOTOMETRIC_RGB:
    case PHOTOMETRIC_YCBCR: /* JPEG-compressed, delivered as RGB */
      r = sample8(f, src, 0);
      g = sample8(f, src, 1);
      b = sample8(f, src, 2);
      break;
    case PHOTOMETRIC_PALETTE: {
      unsigned i = sample_raw(f, src, 0);
      if (i >= f->ncmap) {
        r = g = b = 0;
      } else if (f->cmap8) {
        r = f->cmap[0][i] & 255;
        g = f->cmap[1][i] & 255;
        b = f->cmap[2][i] & 255;
      } else {
        r = dinet__scale16(f->cmap[0][i]);
        g = dinet__scale16(f->cmap[1][i]);
        b = dinet__scale16(f->cmap[2][i]);
      }
      break;
    }
    case PHOTOMETRIC_MINISWHITE:
      r = g = b = 255 - sample8(f, src, 0);
      break;
    default: /* MINISBLACK */
      r = g = b = sample8(f, src, 0);
      break;
    }
    if (f->alpha >= 0) {
      unsigned a = sample8(f, src, f->alpha);
      if (f->assoc) { /* premultiplied: v + (1 - a) * 255 */
        r = r + 255 - a > 255 ? 255 : r + 255 - a;
        g = g + 255 - a > 255 ? 255 : g + 255 - a;
        b = b + 255 - a > 255 ? 255 : b + 255 - a;
      } else if (a != 255) {
        r = dinet__over_white(r, a);
        g = dinet__over_white(g, a);
        b = dinet__over_white(b, a);
      }
    }
    dst[0] = (uint8_t)r;
    dst[1] = (uint8_t)g;
    dst[2] = (uint8_t)b;
  }
}

/* Endian-aware reads for tiff_peek_size(). */
static uint64_t peek_rd(const uint8_t *p, int nbytes, int le) {
  uint64_t v = 0;
  for (int i = 0; i < nbytes; i++)
    v |= (uint64_t)p[le ? i : nbytes - 1 - i] << (8 * i);
  return v;
}

/* Finds ImageWidth/ImageLength of directory `page` by walking the IFD
 * chain ourselves (classic and BigTIFF), so the pixel limit is checked
 * before libtiff reads a directory that announces a huge image. Returns 1
 * when both were found; 0 leaves the checks to libtiff. */
static int tiff_peek_size(const uint8_t *d, size_t n, int page, uint64_t *w,
                          uint64_t *h) {
  if (n < 16 || page > 100000)
    return 0;
  int le = d[0] == 'I';
  int big = peek_rd(d + 2, 2, le) == 43;
  size_t csize = big ? 8 : 2, esize = big ? 20 : 12, osize = big ? 8 : 4;
  uint64_t off = big ? peek_rd(d + 8, 8, le) : peek_rd(d + 4, 4, le);
  for (int p = 0;; p++) {
    if (off < 8 || off > n - csize)
      return 0;
    uint64_t cnt = peek_rd(d + off, (int)csize, le);
    if (cnt > (n - off - csize) / esize)
      return 0;
    const uint8_t *e0 = d + off + csize;
    if (p == page) {
      /* libtiff keeps the first entry of a tag and ignores repeats: so does
       * this (an unusable first entry leaves the size to libtiff) */
      int found = 0;
      for (uint64_t i = 0; i < cnt; i++) {
        const uint8_t *e = e0 + i * esize;
        uint64_t tag = peek_rd(e, 2, le), type = peek_rd(e + 2, 2, le);
        uint64_t count = peek_rd(e + 4, (int)osize, le);
        const uint8_t *val = e + 4 + osize;
        int bit = tag == 256 ? 1 : tag == 257 ? 2 : 0;
        if (!bit || (found & bit))
          continue;
        uint64_t v;
        if (count != 1)
          return 0;
        if (type == 3)
          v = peek_rd(val, 2, le);
        else if (type == 4)
          v = peek_rd(val, 4, le);
        else if (type == 16 && big)
          v = peek_rd(val, 8, le);
        else
          return 0;
        if (tag == 256)
          *w = v;
        else
          *h = v;
        found |= bit;
      }
      return found == 3;
    }
    size_t next = (size_t)(off + csize + cnt * esize);
    if (next > n - osize)
      return 0;
    off = peek_rd(d + next, (int)osize, le);
  }
}

/* Sets err from the libtiff message, or from `what` when there is none. */
static int tiff_fail(const tiff_ctx *c, dinet_error *err, const char *what) {
  return dinet_error_set(err, DINET_ERR_FORMAT, "%s: bad TIFF: %s", c->name,
                         c->msg[0] ? c->msg : what);
}

/* Direct path: strips or tiles decoded with TIFFReadEncoded* and
 * converted row by row. Returns 0 or a negative dinet_status. */
static int read_direct(TIFF *tif, tiff_ctx *c, const tiff_fmt *f,
                       dinet_image *img, uint64_t cap, dinet_error *err) {
  uint32_t w = (uint32_t)img->width, h = (uint32_t)img->height;
  uint64_t px_bits = (uint64_t)f->spp * (uint64_t)f->bps;
  uint64_t row_bytes = ((uint64_t)w * px_bits + 7) / 8;
  int tiled = TIFFIsTiled(tif);
  uint32_t tw = w, th = 0;
  uint64_t chunk; /* bytes of one strip or tile */
  if (tiled) {
    if (!TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw) ||
        !TIFFGetField(tif, TIFFTAG_TILELENGTH, &th) || tw == 0 || th == 0)
      return tiff_fail(c, err, "missing tile size");
    if (TIFFTileRowSize64(tif) != ((uint64_t)tw * px_bits + 7) / 8)
      return tiff_fail(c, err, "unexpected tile row size");
    chunk = TIFFTileSize64(tif);
    if (chunk != ((uint64_t)tw * px_bits + 7) / 8 * th)
      return tiff_fail(c, err, "unexpected tile size");
  } else {
    TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &th);
    if (th == 0 || th > h)
      th = h;
    if (TIFFScanlineSize64(tif) != row_bytes)
      return tiff_fail(c, err, "unexpected scanline size");
    chunk = row_bytes * th;
  }
  if (chunk == 0 || chunk > cap || chunk > (uint64_t)TIFF_TMSIZE_T_MAX)
    return dinet_error_set(err, DINET_ERR_LIMIT,
                           "%s: TIFF %s of %llu bytes is over the %llu byte "
                           "limit",
                           c->name, tiled ? "tile" : "strip",
                           (unsigned long long)chunk, (unsigned long long)cap);
  uint8_t *buf = malloc((size_t)chunk);
  if (!buf)
    return dinet_error_set(err, DINET_ERR_NOMEM,
                           "%s: out of memory for a %llu byte TIFF %s", c->name,
                           (unsigned long long)chunk, tiled ? "tile" : "strip");
  int rc = 0;
  for (uint32_t y = 0; y < h && !rc; y += th) {
    uint32_t rows = h - y < th ? h - y : th;
    if (!tiled) {
      tmsize_t need = (tmsize_t)(row_bytes * rows);
      tmsize_t got =
          TIFFReadEncodedStrip(tif, TIFFComputeStrip(tif, y, 0), buf, need);
      if (got != need) {
        char what[64];
        snprintf(what, sizeof what, "cannot decode the strip at row %u",
                 (unsigned)y);
        rc = tiff_fail(c, err, what);
        break;
      }
      for (uint32_t r = 0; r < rows; r++)
        convert_row(f, buf + r * row_bytes, img->rgb + ((size_t)y + r) * w * 3,
                    w);
      continue;
    }
    for (uint32_t x = 0; x < w; x += tw) {
      tmsize_t got = TIFFReadEncodedTile(tif, TIFFComputeTile(tif, x, y, 0, 0),
                                         buf, (tmsize_t)chunk);
      if (got != (tmsize_t)chunk) {
        char what[64];
        snprintf(what, sizeof what, "cannot decode the tile at %u,%u",
                 (unsigned)x, (unsigned)y);
        rc = tiff_fail(c, err, what);
        break;
      }
      uint32_t cols = w - x < tw ? w - x : tw;
      size_t tile_row = ((size_t)tw * px_bits + 7) / 8;
      for (uint32_t r = 0; r < rows; r++)
        convert_row(f, buf + (size_t)r * tile_row,
                    img->rgb + (((size_t)y + r) * w + x) * 3, cols);
    }
  }
  free(buf);
  return rc;
}

/* Generic path through TIFFRGBAImage: a packed ABGR raster (premultiplied
 * alpha) decoded in the image's own 4-byte-per-pixel buffer, composited
 * over white and compacted to RGB in place. */
static int read_rgba(TIFF *tif, tiff_ctx *c, dinet_image *img,
                     dinet_error *err) {
  char emsg[1024] = "";
  if (!TIFFRGBAImageOK(tif, emsg))
    return dinet_error_set(err, DINET_ERR_FORMAT, "%s: unsupported TIFF: %s",
                           c->name,
                           emsg[0] ? emsg : (c->msg[0] ? c->msg : "unknown"));
  TIFFRGBAImage ri;
  if (!TIFFRGBAImageBegin(&ri, tif, 1, emsg))
    return dinet_error_set(err, DINET_ERR_FORMAT, "%s: unsupported TIFF: %s",
                           c->name,
                           emsg[0] ? emsg : (c->msg[0] ? c->msg : "unknown"));
  ri.req_orientation = ORIENTATION_TOPLEFT;
  uint32_t w = (uint32_t)img->width, h = (uint32_t)img->height;
  int ok = TIFFRGBAImageGet(&ri, (uint32_t *)(void *)img->rgb, w, h);
  TIFFRGBAImageEnd(&ri);
  if (!ok)
    return tiff_fail(c, err, "cannot decode the image");
  size_t n = (size_t)w * h;
  uint8_t *p = img->rgb;
  for (size_t i = 0; i < n; i++) {
    uint32_t v;
    memcpy(&v, p + 4 * i, 4);
    unsigned a = TIFFGetA(v), k = 255 - a;
    unsigned r = TIFFGetR(v) + k, g = TIFFGetG(v) + k, b = TIFFGetB(v) + k;
    p[3 * i] = (uint8_t)(r > 255 ? 255 : r);
    p[3 * i + 1] = (uint8_t)(g > 255 ? 255 : g);
    p[3 * i + 2] = (uint8_t)(b > 255 ? 255 : b);
  }
  uint8_t *q = realloc(p, n * 3);
  if (q)
    img->rgb = q;
  return 0;
}

/* Fills f for the direct path; returns 1 if the layout is one it reads. */
static int direct_format(TIFF *tif, tiff_fmt *f) {
  uint16_t bps = 1, spp = 1, photometric = 0, planar = PLANARCONFIG_CONTIG;
  uint16_t sfmt = SAMPLEFORMAT_UINT, orient = ORIENTATION_TOPLEFT;
  uint16_t compression = COMPRESSION_NONE;
  TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
  TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &sfmt);
  TIFFGetFieldDefaulted(tif, TIFFTAG_ORIENTATION, &orient);
  TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &compression);
  if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric))
    return 0;
  int sub = bps == 1 || bps == 2 || bps == 4;
  if ((bps != 8 && bps != 16 && !sub) || (sub && spp != 1) ||
      sfmt != SAMPLEFORMAT_UINT || orient != ORIENTATION_TOPLEFT ||
      (planar != PLANARCONFIG_CONTIG && spp > 1))
    return 0;
  int base;
  switch (photometric) {
  case PHOTOMETRIC_MINISBLACK:
  case PHOTOMETRIC_MINISWHITE:
    base = 1;
    break;
  case PHOTOMETRIC_RGB:
    if (sub)
      return 0;
    base = 3;
    break;
  case PHOTOMETRIC_YCBCR:
    /* Only JPEG-in-TIFF, where libjpeg does the colour conversion. */
    if (compression != COMPRESSION_JPEG || bps != 8 || spp != 3 ||
        !TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB))
      return 0;
    base = 3;
    break;
  case PHOTOMETRIC_PALETTE: {
    uint16_t *r, *g, *b;
    if (!TIFFGetField(tif, TIFFTAG_COLORMAP, &r, &g, &b))
      return 0;
    base = 1;
    f->cmap[0] = r;
    f->cmap[1] = g;
    f->cmap[2] = b;
    f->ncmap = (size_t)1 << bps;
    /* Old writers put 8-bit values in the colormap (libtiff's check). */
    f->cmap8 = 1;
    for (size_t i = 0; i < f->ncmap && f->cmap8; i++)
      if (r[i] > 255 || g[i] > 255 || b[i] > 255)
        f->cmap8 = 0;
    break;
  }
  default:
    return 0;
  }
  if (spp < base)
    return 0;
  f->bps = bps;
  f->spp = spp;
  f->photometric = photometric;
  f->alpha = -1;
  f->assoc = 0;
  uint16_t nextra = 0, *extra = NULL;
  if (spp > base && TIFFGetField(tif, TIFFTAG_EXTRASAMPLES, &nextra, &extra) &&
      nextra > 0 && extra &&
      (extra[0] == EXTRASAMPLE_ASSOCALPHA ||
       extra[0] == EXTRASAMPLE_UNASSALPHA)) {
    f->alpha = base;
    f->assoc = extra[0] == EXTRASAMPLE_ASSOCALPHA;
  }
  return 1;
}

/* Selects in->page on an open handle, checks its size and decodes it. */
static dinet_image *read_page(TIFF *tif, tiff_ctx *c, const dinet__input *in,
                              uint64_t cap, dinet_error *err) {
  if (in->page > 0 && !TIFFSetDirectory(tif, (tdir_t)in->page)) {
    unsigned n = (unsigned)TIFFNumberOfDirectories(tif);
    if ((unsigned)in->page < n)
      return tiff_fail(c, err, "cannot read the page's directory"), NULL;
    return dinet_error_set(err, DINET_ERR_INVALID,
                           "%s: TIFF page %d not found (the file has %u "
                           "page%s)",
                           in->name, in->page, n, n == 1 ? "" : "s"),
           NULL;
  }
  uint32_t w = 0, h = 0;
  if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w) ||
      !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h))
    return tiff_fail(c, err, "missing image size"), NULL;
  if (dinet__check_size(in, w, h, err))
    return NULL;
  tiff_fmt f;
  memset(&f, 0, sizeof f);
  int direct = direct_format(tif, &f);
  dinet_image *img = dinet__image_alloc((int)w, (int)h, direct ? 3 : 4, err);
  if (!img)
    return NULL;
  int rc = direct ? read_direct(tif, c, &f, img, cap, err)
                  : read_rgba(tif, c, img, err);
  if (rc) {
    dinet_image_free(img);
    return NULL;
  }
  return img;
}

/* Opens the TIFF from memory with per-handle handlers and decodes one
 * page. */
dinet_image *dinet__load_tiff(const dinet__input *in, dinet_error *err) {
  uint64_t pw = 0, ph = 0;
  if (tiff_peek_size(in->data, in->len, in->page, &pw, &ph) &&
      dinet__check_size(in, pw, ph, err))
    return NULL;
  tiff_ctx c = {.data = in->data, .len = in->len, .name = in->name};
  /* Cap on any single libtiff allocation and on our strip/tile buffer:
   * room for 8 bytes a pixel (16-bit RGBA) at the pixel limit, at most
   * 2 GiB. */
  uint64_t cap = in->max_pixels * 8 + ((uint64_t)16 << 20);
  if (cap > ((uint64_t)2 << 30) || in->max_pixels > ((uint64_t)1 << 60))
    cap = (uint64_t)2 << 30;
  TIFFOpenOptions *o = TIFFOpenOptionsAlloc();
  if (!o)
    return dinet_error_set(err, DINET_ERR_NOMEM, "%s: out of memory", in->name),
           NULL;
  TIFFOpenOptionsSetMaxSingleMemAlloc(o, (tmsize_t)cap);
  TIFFOpenOptionsSetErrorHandlerExtR(o, t_error, &c);
  TIFFOpenOptionsSetWarningHandlerExtR(o, t_warn, &c);
  TIFF *tif = TIFFClientOpenExt(in->name, "rm", (thandle_t)&c, t_read, t_write,
                                t_seek, t_close, t_size, t_map, t_unmap, o);
  TIFFOpenOptionsFree(o);
  if (!tif)
    return tiff_fail(&c, err, "cannot read the TIFF header"), NULL;

  dinet_image *img = read_page(tif, &c, in, cap, err);
  TIFFClose(tif);
  return img;
}
