/* hostile-noperm: calls host functions it has no permission for, and writes from a
 * read-only anchor. plugin_control_0 outputs the codes of set_connection, set_recovery,
 * register_frame, set_timer, create_file, poctl (expect POP_E_PERM each when attached
 * without permissions); pre_process_frame_10 saves the code of set_connection from a
 * Before anchor (POP_E_READONLY even with every permission); plugin_control_1 outputs it. */
#include <pluginop.h>

static int64_t before_code = 1;

POP_EXPORT(init) { return pop_enable(); }

POP_EXPORT(plugin_control_0) {
  pop_output_i64(pop_conn_set_u64(POP_CONN_MAX_TX_DATA, 0, 1));
  pop_output_i64(pop_rec_set_u64(POP_REC_CONGESTION_WINDOW, 0, 1));
  pop_output_i64(pop_register_frame(0x30, 0, 0, 0, 0));
  pop_output_i64(pop_set_timer(0, 1, 1));
  pop_output_i64(pop_create_file("x"));
  return pop_output_i64(pop_poctl(9, (const pop_val *)0, 0, (pop_val *)0, 0));
}

POP_EXPORT(pre_process_frame_10) {
  before_code = pop_conn_set_u64(POP_CONN_MAX_TX_DATA, 0, 1);
  return 0;
}

POP_EXPORT(plugin_control_1) { return pop_output_i64(before_code); }
