/* hostile-trapper: traps in the anchor named by its "trap" parameter ("before",
 * "define" or "after") of process_frame_10; the other anchors count their calls
 * (plugin_control_0 outputs the three counts). */
#include <pluginop.h>

static uint64_t counts[3];

static int trap_here(const char *anchor) {
  char buf[16];
  if (pop_param("trap", buf, sizeof buf) < 0)
    return 0;
  for (int i = 0;; i++) {
    if (buf[i] != anchor[i])
      return 0;
    if (!buf[i])
      return 1;
  }
}

POP_EXPORT(init) { return pop_enable(); }

POP_EXPORT(pre_process_frame_10) {
  if (trap_here("before"))
    __builtin_trap();
  counts[0]++;
  return 0;
}

POP_EXPORT(process_frame_10) {
  if (trap_here("define"))
    __builtin_trap();
  counts[1]++;
  return 0;
}

POP_EXPORT(post_process_frame_10) {
  if (trap_here("after"))
    __builtin_trap();
  counts[2]++;
  return 0;
}

POP_EXPORT(plugin_control_0) {
  for (int i = 0; i < 3; i++)
    pop_output_u64(counts[i]);
  return 0;
}
