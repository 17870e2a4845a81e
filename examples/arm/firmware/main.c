/* main.c — a cnncc model on a Cortex-M microcontroller, bare metal: no OS, no heap, no stdio.
 *
 * The model (cnncc MODEL.onnx -o gen/model.c --name model --target cortex-m) is compiled in
 * with its weights (they go to flash as a const array). The input is a static const array
 * (sample.inc, made from a .npy file by CMakeLists.txt), the arena a static buffer of
 * MODEL_ARENA_BYTES in RAM, and the result goes to the volatile variables below, where a
 * debugger (or a test harness) can read it.
 *
 * Built with -DCNNCC_FW_SEMIHOSTING, the program also prints the outputs and exits through ARM
 * semihosting, so that it can run under qemu-system-arm (build.sh does that when it is
 * installed) or on a board with a debug probe attached. Otherwise it needs nothing from the C
 * library but memcpy/memset and the libm functions of the model's operators. */
#include <stdint.h>

#include "model.h"

#if MODEL_NUM_INPUTS != 1 || MODEL_NUM_OUTPUTS != 1 || MODEL_INPUT0_DTYPE != 1 ||                 \
    MODEL_OUTPUT0_DTYPE != 1
#error "this example runs models with one float32 input and one float32 output"
#endif

#if defined(__GNUC__)
#define FW_ALIGNED(n) __attribute__((aligned(n)))
#else
#define FW_ALIGNED(n)
#endif

/* The input, bit-exact: the .npy file's float32 values as 32-bit words (type punning through a
 * union is well defined in C99). */
static const union {
  uint32_t bits[MODEL_INPUT0_SIZE];
  float value[MODEL_INPUT0_SIZE];
} input = {{
#include "sample.inc" /* the input's float32 bit patterns, 0x3f800000u, ... */
}};

/* The model's only working memory: every intermediate tensor lives here. */
static unsigned char arena[MODEL_ARENA_BYTES] FW_ALIGNED(MODEL_ARENA_ALIGN);

static float output0[MODEL_OUTPUT0_SIZE];
static void *const outputs[] = {output0};

/* Results, for a debugger: status 0 = ok, -1 = model error; 1 = not run yet. */
volatile int32_t cnncc_status = 1;
volatile int32_t cnncc_class = -1;
volatile float cnncc_score;

#ifdef CNNCC_FW_SEMIHOSTING
/* ARM semihosting (bkpt 0xab): SYS_WRITE0 prints a string on the host, SYS_EXIT stops. */
static int32_t semihost(int32_t op, const void *arg) {
  register int32_t r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

static char line[96];
static unsigned line_len;

static void put(const char *s) {
  while (*s && line_len + 1 < sizeof line) line[line_len++] = *s++;
}

static void put_digits(uint32_t v, int width) { /* v with at least `width` digits */
  char buf[11];
  int n = 0;
  do {
    buf[n++] = (char)('0' + v % 10u);
    v /= 10u;
  } while (v || n < width);
  while (n) {
    char c[2] = {buf[--n], 0};
    put(c);
  }
}

/* x as %.6e would print it (to within a unit in the last place; no printf on the target), then
 * its bit pattern, e.g. "7.878801e+00 (0x40fc1f24)". */
static void put_float(float x) {
  static const char hex[] = "0123456789abcdef";
  union {
    float f;
    uint32_t u;
  } b;
  char h[11] = "0x";
  int i, e = 0;
  b.f = x;
  if (x != x) {
    put("nan");
  } else if (x - x != 0.0f) {
    put(x < 0 ? "-inf" : "inf");
  } else {
    float a = x < 0 ? -x : x;
    uint32_t m;
    if (a != 0.0f) {
      while (a >= 10.0f) a /= 10.0f, e++;
      while (a < 1.0f) a *= 10.0f, e--;
    }
    m = (uint32_t)(a * 1.0e6f + 0.5f);
    if (m >= 10000000u) m /= 10u, e++;
    if (x < 0) put("-");
    put_digits(m / 1000000u, 1);
    put(".");
    put_digits(m % 1000000u, 6);
    put(e < 0 ? "e-" : "e+");
    put_digits((uint32_t)(e < 0 ? -e : e), 2);
  }
  for (i = 0; i < 8; i++) h[2 + i] = hex[(b.u >> (28 - 4 * i)) & 15u];
  h[10] = 0;
  put(" (");
  put(h);
  put(")");
}

static void flush(void) {
  put("\n");
  line[line_len] = 0;
  semihost(0x04, line); /* SYS_WRITE0 */
  line_len = 0;
}
#endif

int main(void) {
  const void *const inputs[] = {input.value};
  int32_t i, best = 0;
  int rc = model_run(arena, 0, inputs, outputs);

  for (i = 1; i < MODEL_OUTPUT0_SIZE; i++)
    if (output0[i] > output0[best]) best = i;
  cnncc_class = best;
  cnncc_score = output0[best];
  cnncc_status = rc == 0 ? 0 : -1;

#ifdef CNNCC_FW_SEMIHOSTING
  put("cnncc firmware: model_run returned ");
  put(rc == 0 ? "0" : "an error");
  flush();
  for (i = 0; i < MODEL_OUTPUT0_SIZE; i++) {
    put("output[");
    put_digits((uint32_t)i, 1);
    put("] = ");
    put_float(output0[i]);
    flush();
  }
  put("predicted class ");
  put_digits((uint32_t)best, 1);
  flush();
  /* SYS_EXIT: ADP_Stopped_ApplicationExit (qemu exits with status 0), else RunTimeErrorUnknown */
  semihost(0x18, (const void *)(uintptr_t)(rc == 0 ? 0x20026u : 0x20023u));
#endif
  return rc == 0 ? 0 : 1;
}
