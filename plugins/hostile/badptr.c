/* hostile-badptr: gives out-of-range pointers and lengths to every host function that
 * takes one. plugin_control_0 outputs, per function, the code it got (all must be
 * POP_E_BOUNDS), in this order: save_output, get_input, log, get_connection,
 * set_connection, get_recovery, set_recovery, get_bytes, put_bytes, register_frame,
 * create_file, write_file, poctl (inputs), poctl (outputs), get_param (key),
 * get_param (out). Input 0 is a BYTES token (tag 1, generous limits). */
#include <pluginop.h>

#define FAR ((void *)(uintptr_t)0xfffffff0u)

static uint32_t mem_end(void) { return (uint32_t)__builtin_wasm_memory_size(0) * 65536u; }

POP_EXPORT(init) { return pop_enable(); }

POP_EXPORT(plugin_control_0) {
  int64_t r[16];
  /* The last 8 bytes of memory: a pop_val (64 bytes) starting there runs past the end. */
  void *edge = (void *)(uintptr_t)(mem_end() - 8);
  r[0] = pop_host_save_output(edge);
  r[1] = pop_host_get_input(0, edge);
  r[2] = pop_host_log(POP_LOG_INFO, (const char *)FAR, 100);
  r[3] = pop_host_get_connection(POP_CONN_MAX_TX_DATA, 0, FAR);
  r[4] = pop_host_set_connection(POP_CONN_MAX_TX_DATA, 0, edge);
  r[5] = pop_host_get_recovery(POP_REC_CONGESTION_WINDOW, 0, FAR);
  r[6] = pop_host_set_recovery(POP_REC_CONGESTION_WINDOW, 0, FAR);
  r[7] = pop_host_get_bytes(1, edge, 16);
  r[8] = pop_host_put_bytes(1, (const void *)16, 0xffffffffu);
  r[9] = pop_host_register_frame(edge);
  r[10] = pop_host_create_file((const char *)FAR, 5);
  r[11] = pop_host_write_file(0, edge, 4096);
  r[12] = pop_host_poctl(1, (const pop_val *)edge, 1, (pop_val *)0, 0);
  r[13] = pop_host_poctl(1, (const pop_val *)0, 0, (pop_val *)edge, 1);
  r[14] = pop_host_get_param((const char *)FAR, 32, (char *)0, 0);
  r[15] = pop_host_get_param("k", 1, (char *)edge, 64);
  for (int i = 0; i < 16; i++)
    pop_output_i64(r[i]);
  return 0;
}
