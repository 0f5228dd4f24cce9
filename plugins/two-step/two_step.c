/* two-step: not enabled by init; the peer's transport parameter 0xff04de1b enables it.
 * Until then only init and the transport parameter ops run. */
#include <pluginop.h>

static uint64_t frames, rtt_updates;

POP_EXPORT(init) { return pop_register_tp(0xff04de1b) < 0 ? 1 : 0; }

POP_EXPORT(decode_transport_parameter_ff04de1b) { return pop_enable(); }

POP_EXPORT(process_frame_10) {
  frames++;
  return 0;
}

POP_EXPORT(pre_update_rtt) {
  rtt_updates++;
  return 0;
}

POP_EXPORT(plugin_control_0) {
  pop_output_u64(frames);
  return pop_output_u64(rtt_updates);
}
