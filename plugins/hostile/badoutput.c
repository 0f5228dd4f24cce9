/* hostile-badoutput: breaks the I/O area contract. plugin_control_0 claims 100 outputs,
 * plugin_control_1 writes an output of an unknown type. */
#include <pluginop.h>

POP_EXPORT(init) { return pop_enable(); }

POP_EXPORT(plugin_control_0) {
  pop_io.n_outputs = 100;
  return 0;
}

POP_EXPORT(plugin_control_1) {
  pop_val v = pop_val_u64(99, 1);
  return pop_output(&v);
}
