/* arm_icount_plugin.c — a qemu-user TCG plugin counting executed guest instructions (for
 * bench/arm_icount.sh; Debian's qemu-user ships plugin support but no plugins).
 *
 * Counts every executed instruction and, for aarch64 guests, the single-precision vector FMA
 * instructions (FMLA by element and FMLA vector, .2S or .4S) and their lanes. Prints at exit:
 *   icount insns=N fmla=F fmla_lanes=L
 * to stderr (or to the file given as plugin argument out=FILE).
 *
 * The plugin API (QEMU 7.2, plugin API version 1) is declared here by hand, only the handful of
 * functions used; the whole API is QEMU's include/qemu/qemu-plugin.h.
 *
 * Build: cc -shared -fPIC -O2 bench/arm_icount_plugin.c -o libarmicount.so
 * Use:   qemu-aarch64 -plugin ./libarmicount.so,out=counts.txt ./prog args */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t; /* only passed through */
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 = 0 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op,
                                              void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn,
                                                enum qemu_plugin_op op, void *ptr, uint64_t imm);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* The counters (one vCPU is enough: the bench runs one thread; inline adds are not atomic). */
static uint64_t insns, fmla, fmla_lanes;
static int is_aarch64 = 1;
static char out_path[512];

/* AArch64 FMLA (single precision): by element 0Q0011111 0 L M Rm 0001 H 0 Rn Rd, and vector
 * 0Q001110 0 0 1 Rm 110011 Rn Rd; returns the lane count (2 or 4), or 0. */
static unsigned fmla_lanes_of(uint32_t w) {
  const unsigned lanes = (w >> 30) & 1 ? 4 : 2;
  if ((w & 0xBFC0F400u) == 0x0F801000u) {
    return lanes;
  }
  if ((w & 0xBFE0FC00u) == 0x0E20CC00u) {
    return lanes;
  }
  return 0;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  (void)id;
  const size_t n = qemu_plugin_tb_n_insns(tb);
  qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &insns, n);
  if (!is_aarch64) {
    return;
  }
  for (size_t i = 0; i < n; i++) {
    struct qemu_plugin_insn *in = qemu_plugin_tb_get_insn(tb, i);
    if (qemu_plugin_insn_size(in) != 4) {
      continue;
    }
    uint32_t w;
    memcpy(&w, qemu_plugin_insn_data(in), 4);
    const unsigned lanes = fmla_lanes_of(w);
    if (lanes) {
      qemu_plugin_register_vcpu_insn_exec_inline(in, QEMU_PLUGIN_INLINE_ADD_U64, &fmla, 1);
      qemu_plugin_register_vcpu_insn_exec_inline(in, QEMU_PLUGIN_INLINE_ADD_U64, &fmla_lanes,
                                                 lanes);
    }
  }
}

static void at_exit(qemu_plugin_id_t id, void *p) {
  (void)id;
  (void)p;
  FILE *f = out_path[0] ? fopen(out_path, "w") : stderr;
  if (f == NULL) {
    f = stderr;
  }
  fprintf(f, "icount insns=%llu fmla=%llu fmla_lanes=%llu\n", (unsigned long long)insns,
          (unsigned long long)fmla, (unsigned long long)fmla_lanes);
  if (f != stderr) {
    fclose(f);
  }
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id,
                                                               const qemu_info_t *info, int argc,
                                                               char **argv) {
  (void)info;
  for (int i = 0; i < argc; i++) {
    if (strncmp(argv[i], "out=", 4) == 0) {
      snprintf(out_path, sizeof out_path, "%s", argv[i] + 4);
    } else if (strcmp(argv[i], "arch=arm") == 0) {
      is_aarch64 = 0; /* A32/T32 guest: total count only */
    }
  }
  qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
  qemu_plugin_register_atexit_cb(id, at_exit, NULL);
  return 0;
}
