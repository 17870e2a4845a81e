/* startup.c — the minimum a Cortex-M (ARMv7-M) needs to reach main(): the vector table and a
 * reset handler that enables the FPU, copies .data from flash to RAM and clears .bss.
 * The symbols come from cortex-m.ld. Plain C; link with -nostartfiles. */
#include <stdint.h>

extern uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[], _estack[];
extern int main(void);

void Reset_Handler(void);
void Default_Handler(void);

void Reset_Handler(void) {
  uint32_t *src = _sidata, *dst;
  /* CP10 and CP11 (the FPU) full access: the hard-float code faults without this. */
  *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
  __asm__ volatile("dsb\n\tisb" ::: "memory");
  for (dst = _sdata; dst < _edata;) *dst++ = *src++;
  for (dst = _sbss; dst < _ebss;) *dst++ = 0;
  (void)main();
  for (;;) __asm__ volatile("wfi");
}

/* Faults and interrupts park the core where a debugger can see it. */
void Default_Handler(void) {
  for (;;) __asm__ volatile("bkpt 0");
}

/* Initial stack pointer, then the 15 system exception vectors (no device interrupts used). */
typedef void (*vector)(void);
__attribute__((section(".isr_vector"), used)) static const vector vectors[16] = {
    (vector)(uintptr_t)_estack, Reset_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, 0, 0, 0, 0, Default_Handler,
    Default_Handler, 0, Default_Handler, Default_Handler};
