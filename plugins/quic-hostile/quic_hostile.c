/* quic-hostile: an endless loop in the Define code of UpdateRtt, which every QUIC
 * connection runs (first RTT sample, during the handshake). The host stops it (fuel),
 * disables the plugin on that connection and its native estimator takes over: the
 * connection and the transfer go on. For demonstrations and end-to-end tests. */
#include <pluginop.h>

POP_EXPORT(init) {
  pop_log(POP_LOG_INFO, "quic-hostile: I will loop forever in update_rtt");
  return pop_enable();
}

POP_EXPORT(update_rtt) {
  volatile uint64_t x = 0;
  for (;;)
    x++;
  return 0;
}
