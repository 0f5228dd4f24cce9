/* poctl-caller: plugin control that calls another plugin's plugin control.
 *   plugin_control_2: poctl(1, its inputs), outputs the result + 1
 *   plugin_control_3: calls itself through poctl without end; the host's nesting limit
 *                     stops it: outputs the code it got (POP_E_DEPTH at the deepest). */
#include <pluginop.h>

POP_EXPORT(init) { return pop_enable(); }

POP_EXPORT(plugin_control_2) {
  pop_val out[1];
  int64_t n = pop_poctl(1, pop_io.inputs, pop_n_inputs(), out, 1);
  if (n < 1 || out[0].type != POP_VAL_U64)
    return 1;
  return pop_output_u64(out[0].u.u64 + 1);
}

POP_EXPORT(plugin_control_3) {
  pop_val out[1];
  int64_t n = pop_poctl(3, (const pop_val *)0, 0, out, 1);
  if (n < 0)
    return pop_output_i64(n);
  return pop_output(&out[0]);
}
