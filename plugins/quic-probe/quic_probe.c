/* quic-probe: watches a QUIC connection through read-only anchors and counts what it
 * sees, so a host (or a test) can tell the plugin really ran at each seam.
 * plugin_control_0 outputs [MAX_DATA frames processed, RTT samples, packets sent,
 * packets acknowledged, packets lost, congestion events, largest smoothed RTT seen (ns)].
 * It logs one line when it starts and one per 1000 packets acknowledged. */
#include <pluginop.h>

static uint64_t max_data, rtt_samples, sent, acked, lost, cong, max_srtt;

POP_EXPORT(init) {
  pop_log(POP_LOG_INFO, "quic-probe: watching this connection");
  return pop_enable();
}

POP_EXPORT(post_process_frame_10) {
  max_data++;
  return 0;
}

POP_EXPORT(post_update_rtt) {
  uint64_t srtt;
  rtt_samples++;
  if (pop_rec_get_u64(POP_REC_SMOOTHED_RTT, 0, &srtt) == 0 && srtt > max_srtt)
    max_srtt = srtt;
  return 0;
}

POP_EXPORT(post_on_packet_sent) {
  sent++;
  return 0;
}

POP_EXPORT(post_on_packet_acked) {
  acked++;
  if (acked % 1000 == 0)
    pop_log(POP_LOG_INFO, "quic-probe: another 1000 packets acknowledged");
  return 0;
}

POP_EXPORT(post_on_packet_lost) {
  lost++;
  return 0;
}

POP_EXPORT(post_on_congestion_event) {
  cong++;
  return 0;
}

POP_EXPORT(plugin_control_0) {
  pop_output_u64(max_data);
  pop_output_u64(rtt_samples);
  pop_output_u64(sent);
  pop_output_u64(acked);
  pop_output_u64(lost);
  pop_output_u64(cong);
  return pop_output_u64(max_srtt);
}
