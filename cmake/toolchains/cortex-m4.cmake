# Cross-compiling for a Cortex-M4F microcontroller (ARMv7E-M, single-precision FPv4-SP FPU,
# hard-float ABI), bare metal, with the GNU Arm Embedded toolchain and newlib:
#   apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi
#   cmake -S app -B build-m4 -DCMAKE_TOOLCHAIN_FILE=<cnncc>/cmake/toolchains/cortex-m4.cmake
# Executables link against newlib-nano with stubbed system calls (--specs=nano.specs
# --specs=nosys.specs); the application brings its own startup code and linker script (see
# examples/arm/firmware). Sections are split per function and unused ones are dropped at link.
# Note: the FPU is single precision: double arithmetic is emulated in software.
# CNNCC_FW_DEFAULT_*: the memory map of an STM32F407 (1 MiB flash, 128 KiB SRAM; its 64 KiB
# CCM RAM is left out), used by examples/arm as defaults.
# Settings (-D or environment): CNNCC_CROSS_PREFIX (default arm-none-eabi-).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR cortex-m4)

if(NOT DEFINED CNNCC_CROSS_PREFIX)
  if(DEFINED ENV{CNNCC_CROSS_PREFIX})
    set(CNNCC_CROSS_PREFIX "$ENV{CNNCC_CROSS_PREFIX}")
  else()
    set(CNNCC_CROSS_PREFIX arm-none-eabi-)
  endif()
endif()
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES CNNCC_CROSS_PREFIX)

set(CMAKE_C_COMPILER ${CNNCC_CROSS_PREFIX}gcc)
set(CMAKE_CXX_COMPILER ${CNNCC_CROSS_PREFIX}g++)
set(CMAKE_ASM_COMPILER ${CNNCC_CROSS_PREFIX}gcc)
# No OS to run a test executable: the compiler checks build a static library instead.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(_cnncc_cpu "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16")
set(CMAKE_C_FLAGS_INIT "${_cnncc_cpu} -ffunction-sections -fdata-sections")
set(CMAKE_CXX_FLAGS_INIT "${_cnncc_cpu} -ffunction-sections -fdata-sections")
set(CMAKE_ASM_FLAGS_INIT "${_cnncc_cpu}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "--specs=nano.specs --specs=nosys.specs -Wl,--gc-sections")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(CNNCC_FW_DEFAULT_FLASH_ORIGIN 0x08000000)
set(CNNCC_FW_DEFAULT_FLASH_SIZE 1024K)
set(CNNCC_FW_DEFAULT_RAM_ORIGIN 0x20000000)
set(CNNCC_FW_DEFAULT_RAM_SIZE 128K)
