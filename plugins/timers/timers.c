/* timers: timer 1 fires every millisecond three times, timer 2 once after 5 ms.
 * plugin_control_0 outputs [fired 1, fired 2]; plugin_control_1 cancels timer 1. */
#include <pluginop.h>

#define MS 1000000ull

static uint64_t fired1, fired2;

POP_EXPORT(init) {
  uint64_t now = pop_now();
  if (pop_set_timer(now + MS, 1, 1) < 0 || pop_set_timer(now + 5 * MS, 2, 2) < 0)
    return 1;
  return pop_enable();
}

POP_EXPORT(on_plugin_timeout_1) {
  fired1++;
  if (fired1 < 3)
    return pop_set_timer(pop_now() + MS, 1, 1) < 0 ? 1 : 0;
  return 0;
}

POP_EXPORT(on_plugin_timeout_2) {
  fired2++;
  return 0;
}

POP_EXPORT(plugin_control_0) {
  pop_output_u64(fired1);
  return pop_output_u64(fired2);
}

POP_EXPORT(plugin_control_1) { return pop_cancel_timer(1) < 0 ? 1 : 0; }
