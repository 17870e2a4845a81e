# Cross-compiling for 64-bit ARM Linux (ARMv8-A, AArch64) with Debian's cross toolchain:
#   apt-get install gcc-aarch64-linux-gnu qemu-user
#   cmake -S app -B build-aarch64 \
#         -DCMAKE_TOOLCHAIN_FILE=<cnncc>/cmake/toolchains/aarch64-linux-gnu.cmake
# Programs run on the host through qemu-user (ctest and try_run use CMAKE_CROSSCOMPILING_EMULATOR):
#   qemu-aarch64 -L /usr/aarch64-linux-gnu ./prog
# For the code that cnncc generates, not for cnncc itself (a host tool).
# Settings (-D or environment): CNNCC_CROSS_PREFIX (default aarch64-linux-gnu-),
# CNNCC_CROSS_SYSROOT (default /usr/aarch64-linux-gnu).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

if(NOT DEFINED CNNCC_CROSS_PREFIX)
  if(DEFINED ENV{CNNCC_CROSS_PREFIX})
    set(CNNCC_CROSS_PREFIX "$ENV{CNNCC_CROSS_PREFIX}")
  else()
    set(CNNCC_CROSS_PREFIX aarch64-linux-gnu-)
  endif()
endif()
if(NOT DEFINED CNNCC_CROSS_SYSROOT)
  if(DEFINED ENV{CNNCC_CROSS_SYSROOT})
    set(CNNCC_CROSS_SYSROOT "$ENV{CNNCC_CROSS_SYSROOT}")
  else()
    set(CNNCC_CROSS_SYSROOT /usr/aarch64-linux-gnu)
  endif()
endif()
# try_compile projects see only these variables of the toolchain file's caller.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES CNNCC_CROSS_PREFIX CNNCC_CROSS_SYSROOT)

set(CMAKE_C_COMPILER ${CNNCC_CROSS_PREFIX}gcc)
set(CMAKE_CXX_COMPILER ${CNNCC_CROSS_PREFIX}g++)

# Baseline ARMv8-A: Advanced SIMD (NEON) and fused multiply-add are always there.
set(CMAKE_C_FLAGS_INIT "-march=armv8-a")
set(CMAKE_CXX_FLAGS_INIT "-march=armv8-a")

set(CMAKE_FIND_ROOT_PATH ${CNNCC_CROSS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

find_program(CNNCC_QEMU_AARCH64 qemu-aarch64)
if(CNNCC_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${CNNCC_QEMU_AARCH64} -L ${CNNCC_CROSS_SYSROOT})
endif()
