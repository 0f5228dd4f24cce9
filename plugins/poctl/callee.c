/* poctl-callee: plugin_control_1 outputs the sum of its U64 inputs. */
#include <pluginop.h>

POP_EXPORT(init) { return pop_enable(); }

POP_EXPORT(plugin_control_1) {
  uint64_t sum = 0, v;
  for (uint32_t i = 0; i < pop_n_inputs(); i++)
    if (pop_input_u64(i, &v) == 0)
      sum += v;
  return pop_output_u64(sum);
}
