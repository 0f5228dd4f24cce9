/* hostile-membomb: grows memory page by page, touching each page, until refused; then
 * traps. The host's page limit keeps it small. */
#include <pluginop.h>

POP_EXPORT(init) { return pop_enable(); }

POP_EXPORT(process_frame_10) {
  for (;;) {
    int old = __builtin_wasm_memory_grow(0, 1);
    if (old < 0)
      __builtin_trap();
    *(volatile uint8_t *)(uintptr_t)((uint32_t)old * 65536u + 100) = 1;
  }
  return 0;
}
