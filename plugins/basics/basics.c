/* basics: the smallest calls, also used by the benchmarks.
 *   run_and_return     a bare call (other op, by name)
 *   static_memory      reads and writes a static counter
 *   inputs_outputs     echoes every input as an output
 *   plugin_control_0   returns the static counter as an output
 *   grow_then_output   grows memory by 8 pages (it may move), touches the last byte, then
 *                      outputs grow's result (the old page count, or -1 when refused) */
#include <pluginop.h>

static uint64_t counter;

POP_EXPORT(run_and_return) { return 0; }

POP_EXPORT(static_memory) {
  counter++;
  return 0;
}

POP_EXPORT(inputs_outputs) {
  for (uint32_t i = 0; i < pop_n_inputs(); i++)
    if (pop_output(pop_input(i)) != 0)
      return 1;
  return 0;
}

POP_EXPORT(plugin_control_0) { return pop_output_u64(counter); }

POP_EXPORT(grow_then_output) {
  int old = __builtin_wasm_memory_grow(0, 8);
  if (old >= 0)
    ((volatile uint8_t *)0)[(uint32_t)(old + 8) * 65536u - 1] = 1;
  return pop_output_u64((uint64_t)(int64_t)old);
}
