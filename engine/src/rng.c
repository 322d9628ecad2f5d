/* rng.c — xoshiro256** seeded through splitmix64. No global state. */
#include <math.h>

#include "dinet/dinet.h"

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void dinet_rng_seed(dinet_rng *rng, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++)
    rng->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t dinet_rng_next(dinet_rng *rng) {
  uint64_t *s = rng->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double dinet_rng_uniform(dinet_rng *rng) {
  return (double)(dinet_rng_next(rng) >> 11) * 0x1.0p-53;
}

double dinet_rng_normal(dinet_rng *rng) {
  /* Box-Muller; one value per call keeps the stream simple to resume. */
  double u1 = dinet_rng_uniform(rng), u2 = dinet_rng_uniform(rng);
  if (u1 < 1e-300)
    u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint32_t dinet_rng_below(dinet_rng *rng, uint32_t n) {
  if (n == 0)
    return 0;
  return (uint32_t)(((dinet_rng_next(rng) >> 32) * (uint64_t)n) >> 32);
}
