/* hostile-recursion: unbounded recursion in process_frame_10, stopped by the host's call
 * depth limit. The recursion goes through a function pointer so the compiler cannot turn
 * it into a loop, and keeps nothing on the shadow stack (so it is the wasm call depth,
 * not stack memory, that runs out). */
#include <pluginop.h>

typedef uint64_t (*rec_fn)(uint64_t);
static volatile rec_fn next_fn;

static uint64_t deep(uint64_t n) { return next_fn(n + 1) * 3 + n; }

POP_EXPORT(init) {
  next_fn = deep;
  return pop_enable();
}

POP_EXPORT(process_frame_10) { return (int64_t)next_fn(0); }
