/* arm_microkernel.c — runs one NEON GEMM microkernel over a long k loop, for
 * bench/arm_icount.sh: the instruction count per k step under qemu gives the kernel's FMAs per
 * instruction (24 FMAs per k step for 8x12, 4 * NR for the 4-row kernel). */
#include <stdio.h>
#include <stdlib.h>

#include "cnnrt_gemm_neon.h"

int main(int argc, char **argv) {
  const int64_t kc = argc > 1 ? atoll(argv[1]) : 100000;
  const int which = argc > 2 ? atoi(argv[2]) : 8; /* 8: the 8x12 kernel, 4: the 4-row kernel */
  float *a = calloc((size_t)(8 * kc), sizeof(float)), *b = calloc((size_t)(12 * kc), sizeof(float));
  float c[8 * 12] = {0};
  if (a == NULL || b == NULL) {
    return 1;
  }
#if defined(__aarch64__)
  if (which == 8) {
    cnnrt_gemm_neon_8x12(kc, a, b, c);
  } else
#endif
  {
    cnnrt_gemm_neon_4xnr(kc, a, 4, b, c);
  }
  double sum = 0.0; /* every element, so that no accumulator is dead code */
  for (int i = 0; i < 8 * 12; i++) {
    sum += (double)c[i];
  }
  printf("%g\n", sum);
  free(a);
  free(b);
  return 0;
}
