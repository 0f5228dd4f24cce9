/* hostile-recursion: unbounded recursion in process_frame_10 (call depth limit). */
#include <pluginop.h>

__attribute__((noinline)) static uint64_t deep(volatile uint64_t n) {
  return n == 0 ? 0 : deep(n + 1) + 1;
}

POP_EXPORT(init) { return pop_enable(); }

POP_EXPORT(process_frame_10) { return (int64_t)deep(1); }
