/* hostile-loop: an infinite loop in process_frame_10 (stopped by fuel / deadline). */
#include <pluginop.h>

POP_EXPORT(init) { return pop_enable(); }

POP_EXPORT(process_frame_10) {
  volatile uint64_t x = 0;
  for (;;)
    x++;
  return 0;
}
