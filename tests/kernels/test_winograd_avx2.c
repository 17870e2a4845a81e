/* test_winograd_avx2.c — test_winograd.c built with -mavx2 -mfma (and once more with
 * -mavx512f as test_winograd_avx512): the AVX2 kernel against the direct reference. */
#include "test_winograd.c"
