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
 * Built only when CMake finds libclang's header (option CNNCC_LIBCLANG); otherwise --verify
 * reports that it is unavailable. libclang itself (~60 MB of code) is loaded with dlopen when
 * --verify runs, not linked: every other cnncc invocation would otherwise pay its start-up time
 * and resident memory. The library CMake found is tried first, then the usual sonames. */
#include "verify.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#if defined(CNNCC_HAVE_LIBCLANG)
#include <clang-c/Index.h>
#include <dlfcn.h>

/* The libclang entry points verify uses, resolved from the dlopen'ed library. */
typedef struct {
  void *handle;
  CXIndex (*createIndex)(int, int);
  enum CXErrorCode (*parseTranslationUnit2)(CXIndex, const char *, const char *const *, int,
                                            struct CXUnsavedFile *, unsigned, unsigned,
                                            CXTranslationUnit *);
  unsigned (*getNumDiagnostics)(CXTranslationUnit);
  CXDiagnostic (*getDiagnostic)(CXTranslationUnit, unsigned);
  enum CXDiagnosticSeverity (*getDiagnosticSeverity)(CXDiagnostic);
  CXString (*formatDiagnostic)(CXDiagnostic, unsigned);
  unsigned (*defaultDiagnosticDisplayOptions)(void);
  const char *(*getCString)(CXString);
  void (*disposeString)(CXString);
  void (*disposeDiagnostic)(CXDiagnostic);
  void (*disposeTranslationUnit)(CXTranslationUnit);
  void (*disposeIndex)(CXIndex);
} libclang_api;

/* Opens libclang and resolves every entry point; false (with api->handle NULL) if any is
 * missing. The dlsym results are converted through memcpy: ISO C has no conversion from void *
 * to a function pointer, POSIX guarantees the representation. */
static bool libclang_open(libclang_api *api) {
  static const char *const names[] = {
#if defined(CNNCC_LIBCLANG_PATH)
      CNNCC_LIBCLANG_PATH,
#endif
      "libclang-14.so.1", "libclang.so.1", "libclang.so"};
  memset(api, 0, sizeof *api);
  for (size_t i = 0; i < sizeof names / sizeof names[0] && !api->handle; i++) {
    api->handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
  }
  if (!api->handle) {
    return false;
  }
  struct {
    const char *symbol;
    void *slot;
    size_t size;
  } const table[] = {
#define CN_LIBCLANG_SYM(field) {"clang_" #field, &api->field, sizeof api->field}
      CN_LIBCLANG_SYM(createIndex),
      CN_LIBCLANG_SYM(parseTranslationUnit2),
      CN_LIBCLANG_SYM(getNumDiagnostics),
      CN_LIBCLANG_SYM(getDiagnostic),
      CN_LIBCLANG_SYM(getDiagnosticSeverity),
      CN_LIBCLANG_SYM(formatDiagnostic),
      CN_LIBCLANG_SYM(defaultDiagnosticDisplayOptions),
      CN_LIBCLANG_SYM(getCString),
      CN_LIBCLANG_SYM(disposeString),
      CN_LIBCLANG_SYM(disposeDiagnostic),
      CN_LIBCLANG_SYM(disposeTranslationUnit),
      CN_LIBCLANG_SYM(disposeIndex),
#undef CN_LIBCLANG_SYM
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    void *sym = dlsym(api->handle, table[i].symbol);
    if (!sym) {
      dlclose(api->handle);
      api->handle = NULL;
      return false;
    }
    memcpy(table[i].slot, &sym, table[i].size);
  }
  return true;
}

static bool dir_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool cn_verify_available(void) {
  libclang_api api;
  if (!libclang_open(&api)) {
    return false;
  }
  dlclose(api.handle);
  return true;
}

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
  libclang_api api;
  if (!libclang_open(&api)) {
    fprintf(out,
            "cnncc: error: --verify: libclang could not be loaded (install libclang-14-dev); "
            "'%s' not checked\n",
            c_path);
    return false;
  }
  CXIndex index = api.createIndex(0, 0);
  CXTranslationUnit tu = NULL;
  enum CXErrorCode rc = api.parseTranslationUnit2(index, c_path, args, n, NULL, 0,
                                                    CXTranslationUnit_None, &tu);
  bool ok = rc == CXError_Success && tu != NULL;
  if (!ok) {
    fprintf(out, "cnncc: error: --verify: libclang could not parse '%s' (error %d)\n", c_path,
            (int)rc);
  } else {
    unsigned count = api.getNumDiagnostics(tu);
    unsigned shown = 0;
    bool missing_header = false;
    for (unsigned i = 0; i < count; i++) {
      CXDiagnostic diag = api.getDiagnostic(tu, i);
      enum CXDiagnosticSeverity sev = api.getDiagnosticSeverity(diag);
      if (sev >= CXDiagnostic_Warning) {
        CXString s = api.formatDiagnostic(diag, api.defaultDiagnosticDisplayOptions());
        const char *text = api.getCString(s);
        fprintf(out, "%s\n", text);
        missing_header = missing_header || strstr(text, "file not found") != NULL;
        api.disposeString(s);
        shown++;
      }
      api.disposeDiagnostic(diag);
    }
    if (shown > 0) {
      fprintf(out, "cnncc: error: --verify: %u diagnostic%s in '%s'\n", shown,
              shown == 1 ? "" : "s", c_path);
      if (missing_header && sysroot_hint) {
        fprintf(out, "cnncc: note: the target's C headers are expected in %s\n", sysroot_hint);
      }
      ok = false;
    }
    api.disposeTranslationUnit(tu);
  }
  api.disposeIndex(index);
  dlclose(api.handle);
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
