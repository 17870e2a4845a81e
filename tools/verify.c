/* verify.c — cnncc --verify: parse the emitted C with libclang for the target's triple.
 *
 * After cnncc has written OUT/NAME.c, the file is parsed (not compiled to code) by libclang as
 * the target's compiler would see it: the target triple and ISA flags (so the #if
 * defined(__ARM_NEON) / __AVX2__ branches and their intrinsics headers are the ones that
 * target compiles), -std=c99 -Wall -Wextra -Wpedantic, the target's C library headers. Any
 * diagnostic (warning or error) fails the check: it is printed and verify returns false. This
 * checks NEON code on an x86 host without running a cross compiler.
 *
 *   target      triple                 flags
 *   x86-64      x86_64-linux-gnu       -mavx2 -mfma
 *   aarch64     aarch64-linux-gnu      (ASIMD is baseline)
 *   armv7       armv7a-linux-gnueabihf -mfpu=neon-vfpv4 -mfloat-abi=hard
 *   cortex-m    thumbv7em-none-eabihf  -mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard,
 *                                      newlib's headers (--sysroot /usr/lib/arm-none-eabi)
 *   generic     the host's triple      (none)
 *
 * Built only when CMake finds libclang (option CNNCC_LIBCLANG); otherwise --verify reports that
 * it is unavailable. */
#include "verify.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#if defined(CNNCC_HAVE_LIBCLANG)
#include <clang-c/Index.h>

static bool dir_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool cn_verify_available(void) { return true; }

bool cn_verify_file(const char *c_path, int target, FILE *out) {
  const char *args[32];
  int n = 0;
  args[n++] = "-std=c99";
  args[n++] = "-Wall";
  args[n++] = "-Wextra";
  args[n++] = "-Wpedantic";
  args[n++] = "-Wno-unknown-warning-option";
  const char *sysroot_hint = NULL;
  switch (target) {
  case 0: /* x86-64 */
    args[n++] = "--target=x86_64-linux-gnu";
    args[n++] = "-mavx2";
    args[n++] = "-mfma";
    break;
  case 1: /* aarch64 */
    args[n++] = "--target=aarch64-linux-gnu";
    sysroot_hint = "/usr/aarch64-linux-gnu/include (libc6-dev-arm64-cross)";
    break;
  case 2: /* armv7 */
    args[n++] = "--target=armv7a-linux-gnueabihf";
    args[n++] = "-mfpu=neon-vfpv4";
    args[n++] = "-mfloat-abi=hard";
    sysroot_hint = "/usr/arm-linux-gnueabihf/include (libc6-dev-armhf-cross)";
    break;
  case 3: /* cortex-m */
    args[n++] = "--target=thumbv7em-none-eabihf";
    args[n++] = "-mcpu=cortex-m4";
    args[n++] = "-mfpu=fpv4-sp-d16";
    args[n++] = "-mfloat-abi=hard";
    if (dir_exists("/usr/lib/arm-none-eabi/include")) {
      args[n++] = "-isystem";
      args[n++] = "/usr/lib/arm-none-eabi/include";
    }
#if defined(CNNCC_CLANG_RESOURCE_INCLUDE)
    args[n++] = "-isystem";
    args[n++] = CNNCC_CLANG_RESOURCE_INCLUDE;
#endif
    sysroot_hint = "/usr/lib/arm-none-eabi/include (libnewlib-arm-none-eabi)";
    break;
  default: /* generic: the host */
    break;
  }
  CXIndex index = clang_createIndex(0, 0);
  CXTranslationUnit tu = NULL;
  enum CXErrorCode rc = clang_parseTranslationUnit2(index, c_path, args, n, NULL, 0,
                                                    CXTranslationUnit_None, &tu);
  bool ok = rc == CXError_Success && tu != NULL;
  if (!ok) {
    fprintf(out, "cnncc: error: --verify: libclang could not parse '%s' (error %d)\n", c_path,
            (int)rc);
  } else {
    unsigned count = clang_getNumDiagnostics(tu);
    unsigned shown = 0;
    bool missing_header = false;
    for (unsigned i = 0; i < count; i++) {
      CXDiagnostic diag = clang_getDiagnostic(tu, i);
      enum CXDiagnosticSeverity sev = clang_getDiagnosticSeverity(diag);
      if (sev >= CXDiagnostic_Warning) {
        CXString s = clang_formatDiagnostic(diag, clang_defaultDiagnosticDisplayOptions());
        const char *text = clang_getCString(s);
        fprintf(out, "%s\n", text);
        missing_header = missing_header || strstr(text, "file not found") != NULL;
        clang_disposeString(s);
        shown++;
      }
      clang_disposeDiagnostic(diag);
    }
    if (shown > 0) {
      fprintf(out, "cnncc: error: --verify: %u diagnostic%s in '%s'\n", shown,
              shown == 1 ? "" : "s", c_path);
      if (missing_header && sysroot_hint) {
        fprintf(out, "cnncc: note: the target's C headers are expected in %s\n", sysroot_hint);
      }
      ok = false;
    }
    clang_disposeTranslationUnit(tu);
  }
  clang_disposeIndex(index);
  return ok;
}

#else

bool cn_verify_available(void) { return false; }

bool cn_verify_file(const char *c_path, int target, FILE *out) {
  (void)target;
  fprintf(out,
          "cnncc: error: --verify: this cnncc was built without libclang (install "
          "libclang-14-dev and reconfigure); '%s' not checked\n",
          c_path);
  return false;
}

#endif
