# Cross-compiling for 32-bit ARM Linux, hard-float ABI: ARMv7-A with NEON and VFPv4
# (Cortex-A7/A15/A17 class), with Debian's cross toolchain:
#   apt-get install gcc-arm-linux-gnueabihf qemu-user
#   cmake -S app -B build-armv7 \
#         -DCMAKE_TOOLCHAIN_FILE=<cnncc>/cmake/toolchains/armv7-linux-gnueabihf.cmake
# Programs run on the host through qemu-user (ctest and try_run use CMAKE_CROSSCOMPILING_EMULATOR):
#   qemu-arm -L /usr/arm-linux-gnueabihf ./prog
# For the code that cnncc generates, not for cnncc itself (a host tool).
# Settings (-D or environment): CNNCC_CROSS_PREFIX (default arm-linux-gnueabihf-),
# CNNCC_CROSS_SYSROOT (default /usr/arm-linux-gnueabihf).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7-a)

if(NOT DEFINED CNNCC_CROSS_PREFIX)
  if(DEFINED ENV{CNNCC_CROSS_PREFIX})
    set(CNNCC_CROSS_PREFIX "$ENV{CNNCC_CROSS_PREFIX}")
  else()
    set(CNNCC_CROSS_PREFIX arm-linux-gnueabihf-)
  endif()
endif()
if(NOT DEFINED CNNCC_CROSS_SYSROOT)
  if(DEFINED ENV{CNNCC_CROSS_SYSROOT})
    set(CNNCC_CROSS_SYSROOT "$ENV{CNNCC_CROSS_SYSROOT}")
  else()
    set(CNNCC_CROSS_SYSROOT /usr/arm-linux-gnueabihf)
  endif()
endif()
# try_compile projects see only these variables of the toolchain file's caller.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES CNNCC_CROSS_PREFIX CNNCC_CROSS_SYSROOT)

set(CMAKE_C_COMPILER ${CNNCC_CROSS_PREFIX}gcc)
set(CMAKE_CXX_COMPILER ${CNNCC_CROSS_PREFIX}g++)

# NEON (Advanced SIMD) and VFPv4 (which adds fused multiply-add), hard-float calling convention.
set(CMAKE_C_FLAGS_INIT "-march=armv7-a -mfpu=neon-vfpv4 -mfloat-abi=hard")
set(CMAKE_CXX_FLAGS_INIT "-march=armv7-a -mfpu=neon-vfpv4 -mfloat-abi=hard")

set(CMAKE_FIND_ROOT_PATH ${CNNCC_CROSS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

find_program(CNNCC_QEMU_ARM qemu-arm)
if(CNNCC_QEMU_ARM)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${CNNCC_QEMU_ARM} -L ${CNNCC_CROSS_SYSROOT})
endif()
