/* dsl_params.c — where a .cnn model's parameter values come from.
 *
 * Seeded initialisation uses a counter-based generator: value i of the parameter called NAME is
 * a pure function of (seed, NAME, i). It does not depend on the order layers are written in, on
 * how many other parameters there are, or on the platform (integer arithmetic only, then one
 * conversion to double):
 *
 *   key = splitmix64(seed ^ fnv1a64(NAME))
 *   u   = (splitmix64(key + i) >> 11) * 2^-53          uniform in [0, 1)
 *   x   = 2u - 1                                       uniform in [-1, 1)
 *
 * and a layer scales x by its bound (PyTorch's default initialisation, see dsl_build.c). */
#include <string.h>

#include "dsl_internal.h"

static uint64_t splitmix64(uint64_t x) {
  x += UINT64_C(0x9E3779B97F4A7C15);
  x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
  return x ^ (x >> 31);
}

static uint64_t fnv1a64(const char *s) {
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= UINT64_C(0x100000001b3);
  }
  return h;
}

double dsl_uniform(uint64_t seed, const char *name, int64_t index) {
  uint64_t key = splitmix64(seed ^ fnv1a64(name));
  uint64_t r = splitmix64(key + (uint64_t)index);
  double u = (double)(r >> 11) * (1.0 / 9007199254740992.0);
  return 2.0 * u - 1.0;
}
