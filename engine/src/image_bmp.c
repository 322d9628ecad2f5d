/* image_bmp.c — a small, bounds-checked BMP reader.
 *
 * Supported: uncompressed (BI_RGB) 1, 4, 8-bit palettised, 16 (5-5-5),
 * 24 and 32-bit; BI_BITFIELDS / BI_ALPHABITFIELDS 16 and 32-bit with any
 * contiguous masks (an alpha mask is composited over white); bottom-up and
 * top-down rows; Windows headers of 40, 52, 56, 108 and 124 bytes and the
 * OS/2 12 and 64-byte headers. RLE, embedded JPEG/PNG are refused with a
 * clear message. Every field read is checked against the buffer length. */
#include <stdlib.h>
#include <string.h>

#include "dinet/dinet.h"
#include "image_private.h"

enum {
  BI_RGB = 0,
  BI_RLE8 = 1,
  BI_RLE4 = 2,
  BI_BITFIELDS = 3,
  BI_JPEG = 4,
  BI_PNG = 5,
  BI_ALPHABITFIELDS = 6,
};

/* Little-endian reads; callers have checked that the bytes exist. */
static uint32_t rd16(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}
static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

/* One channel of a bit-field pixel format: value = (px & mask) >> shift,
 * scaled from `bits` bits to 8. */
typedef struct bmp_field {
  uint32_t mask;
  int shift, bits;
} bmp_field;

/* Fills f from a mask; returns 0, or -1 when the set bits are not
 * contiguous. A zero mask gives a channel that reads as 0. */
static int field_init(bmp_field *f, uint32_t mask) {
  f->mask = mask;
  f->shift = 0;
  f->bits = 0;
  if (!mask)
    return 0;
  while (!((mask >> f->shift) & 1))
    f->shift++;
  uint32_t m = mask >> f->shift;
  while (f->bits < 32 && ((m >> f->bits) & 1))
    f->bits++;
  if (f->bits < 32 && (m >> f->bits) != 0)
    return -1;
  return 0;
}

/* Extracts one channel and scales it to 0..255, rounded. */
static uint8_t field_get(const bmp_field *f, uint32_t px) {
  if (!f->bits)
    return 0;
  uint64_t v = (px & f->mask) >> f->shift;
  if (f->bits == 8)
    return (uint8_t)v;
  uint64_t max = f->bits >= 32 ? 0xffffffffu : ((uint64_t)1 << f->bits) - 1;
  return (uint8_t)((v * 255 + max / 2) / max);
}

/* Parses and decodes a BMP held in memory. */
dinet_image *dinet__load_bmp(const dinet__input *in, dinet_error *err) {
  const uint8_t *d = in->data;
  size_t len = in->len;
  const char *name = in->name;
  if (len < 18)
    return dinet_error_set(err, DINET_ERR_FORMAT,
                           "%s: BMP file is truncated (%zu bytes)", name, len),
           NULL;
  uint32_t off = rd32(d + 10);
  uint32_t dib = rd32(d + 14);
  int os2 = dib == 12;
  if (!(dib == 12 || dib == 40 || dib == 52 || dib == 56 || dib == 64 ||
        dib == 108 || dib == 124))
    return dinet_error_set(err, DINET_ERR_FORMAT,
                           "%s: unsupported BMP header size %u", name,
                           (unsigned)dib),
           NULL;
  if (len < 14 + (size_t)dib)
    return dinet_error_set(err, DINET_ERR_FORMAT,
                           "%s: BMP file is truncated in its header", name),
           NULL;
  int64_t w, h;
  uint32_t bpp, comp = BI_RGB, clr_used = 0;
  if (os2) {
    w = rd16(d + 18);
    h = rd16(d + 20);
    bpp = rd16(d + 24);
  } else {
    w = (int32_t)rd32(d + 18);
    h = (int32_t)rd32(d + 22);
    bpp = rd16(d + 28);
    comp = rd32(d + 30);
    clr_used = rd32(d + 46);
  }
  int top_down = h < 0;
  if (h < 0)
    h = -h; /* int64: INT32_MIN is fine */
  if (w < 0)
    return dinet_error_set(err, DINET_ERR_FORMAT,
                           "%s: BMP width %lld is negative", name,
                           (long long)w),
           NULL;
  if (dib == 64 && comp != BI_RGB) /* OS/2 v2 compression codes differ */
    comp = 0xffffffffu;
  switch (comp) {
  case BI_RGB:
  case BI_BITFIELDS:
  case BI_ALPHABITFIELDS:
    break;
  case BI_RLE8:
  case BI_RLE4:
    return dinet_error_set(err, DINET_ERR_FORMAT,
                           "%s: RLE-compressed BMP is not supported", name),
           NULL;
  case BI_JPEG:
  case BI_PNG:
    return dinet_error_set(err, DINET_ERR_FORMAT,
                           "%s: BMP with embedded %s is not supported", name,
                           comp == BI_JPEG ? "JPEG" : "PNG"),
           NULL;
  default:
    return dinet_error_set(err, DINET_ERR_FORMAT,
                           "%s: unsupported BMP compression %u", name,
                           (unsigned)comp),
           NULL;
  }
  int bitfields = comp != BI_RGB;
  if (bitfields ? !(bpp == 16 || bpp == 32)
                : !(bpp == 1 || bpp == 4 || bpp == 8 || bpp == 16 ||
                    bpp == 24 || bpp == 32))
    return dinet_error_set(err, DINET_ERR_FORMAT,
                           "%s: unsupported BMP bit depth %u%s", name,
                           (unsigned)bpp, bitfields ? " with bit fields" : ""),
           NULL;
  int rc = dinet__check_size(in, (uint64_t)w, (uint64_t)h, err);
  if (rc)
    return NULL;

  /* Channel masks: from the header (v3+), after a 40-byte header, or the
   * BI_RGB defaults. */
  size_t extra = 0; /* mask bytes between a 40-byte header and the palette */
  uint32_t mr, mg, mb, ma = 0;
  if (bitfields) {
    const uint8_t *mp;
    if (dib >= 52) {
      mp = d + 14 + 40;
    } else {
      extra = comp == BI_ALPHABITFIELDS ? 16 : 12;
      if (len < 14 + (size_t)dib + extra)
        return dinet_error_set(err, DINET_ERR_FORMAT,
                               "%s: BMP file is truncated in its bit masks",
                               name),
               NULL;
      mp = d + 14 + dib;
    }
    mr = rd32(mp);
    mg = rd32(mp + 4);
    mb = rd32(mp + 8);
    if (comp == BI_ALPHABITFIELDS || dib >= 56)
      ma = rd32(mp + 12);
  } else if (bpp == 16) {
    mr = 0x7c00, mg = 0x03e0, mb = 0x001f;
  } else {
    mr = 0xff0000, mg = 0xff00, mb = 0xff; /* 24 and 32-bit BGR(X) */
  }
  bmp_field fr, fg, fb, fa;
  if (field_init(&fr, mr) || field_init(&fg, mg) || field_init(&fb, mb) ||
      field_init(&fa, ma))
    return dinet_error_set(err, DINET_ERR_FORMAT,
                           "%s: BMP bit masks are not contiguous", name),
           NULL;

  /* Palette for 1, 4 and 8 bits; indices past its end read as black. */
  uint8_t pal[256][3];
  memset(pal, 0, sizeof pal);
  if (bpp <= 8) {
    uint32_t max_entries = 1u << bpp;
    uint32_t n = clr_used && clr_used < max_entries ? clr_used : max_entries;
    size_t esize = os2 ? 3 : 4;
    size_t pal_off = 14 + (size_t)dib + extra;
    if (pal_off > len || (len - pal_off) / esize < n)
      return dinet_error_set(err, DINET_ERR_FORMAT,
                             "%s: BMP file is truncated in its palette", name),
             NULL;
    for (uint32_t i = 0; i < n; i++) {
      const uint8_t *e = d + pal_off + i * esize;
      pal[i][0] = e[2];
      pal[i][1] = e[1];
      pal[i][2] = e[0];
    }
  }

  /* Pixel rows are padded to 4 bytes; the last row's padding may be
   * missing from the file. */
  uint64_t row_bits = (uint64_t)w * bpp;
  uint64_t stride = (row_bits + 31) / 32 * 4;
  uint64_t row_bytes = (row_bits + 7) / 8;
  if (stride > UINT64_MAX / (uint64_t)h)
    return dinet_error_set(err, DINET_ERR_LIMIT, "%s: BMP too large", name),
           NULL;
  if (off > len ||
      (uint64_t)(len - off) < stride * (uint64_t)(h - 1) + row_bytes)
    return dinet_error_set(err, DINET_ERR_FORMAT,
                           "%s: BMP file is truncated: %lld x %lld at %u bits "
                           "needs %llu bytes of pixels, %zu present",
                           name, (long long)w, (long long)h, (unsigned)bpp,
                           (unsigned long long)(stride * (uint64_t)h),
                           off > len ? (size_t)0 : len - off),
           NULL;

  int alpha = bitfields && ma != 0;
  int W = (int)w, H = (int)h;
  dinet_image *img = dinet__image_alloc(W, H, alpha ? 4 : 3, err);
  if (!img)
    return NULL;
  int bpp_out = alpha ? 4 : 3;
  unsigned any_alpha = 0;
  for (int y = 0; y < H; y++) {
    const uint8_t *src = d + off + (size_t)(top_down ? y : H - 1 - y) * stride;
    uint8_t *dst = img->rgb + (size_t)y * W * bpp_out;
    switch (bpp) {
    case 1:
    case 4:
    case 8: {
      unsigned per = 8 / bpp, mask = (1u << bpp) - 1;
      for (int x = 0; x < W; x++, dst += 3) {
        unsigned byte = src[x / per];
        unsigned idx = (byte >> ((per - 1 - (unsigned)x % per) * bpp)) & mask;
        memcpy(dst, pal[idx], 3);
      }
      break;
    }
    case 24: /* BI_RGB only: 24-bit bit fields were refused above */
      for (int x = 0; x < W; x++, src += 3, dst += 3) {
        dst[0] = src[2];
        dst[1] = src[1];
        dst[2] = src[0];
      }
      break;
    default: /* 16 and 32 bits */
      for (int x = 0; x < W; x++, dst += bpp_out) {
        uint32_t px =
            bpp == 16 ? rd16(src + 2 * (size_t)x) : rd32(src + 4 * (size_t)x);
        dst[0] = field_get(&fr, px);
        dst[1] = field_get(&fg, px);
        dst[2] = field_get(&fb, px);
        if (alpha) {
          dst[3] = field_get(&fa, px);
          any_alpha |= dst[3];
        }
      }
      break;
    }
  }
  if (alpha) {
    /* Many writers leave the alpha channel all zero: treat that as
     * opaque rather than returning a white image. */
    if (!any_alpha) {
      size_t n = (size_t)W * H;
      for (size_t i = 0; i < n; i++)
        img->rgb[4 * i + 3] = 255;
    }
    dinet__image_compact_rgba(img);
  }
  return img;
}
