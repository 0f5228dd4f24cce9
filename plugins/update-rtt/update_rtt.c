/* update-rtt: Define code of UpdateRtt, the RFC 9002 section 5 estimator.
 * Inputs: [0] DURATION latest_rtt, [1] DURATION ack_delay, [2] INSTANT now. */
#include <pluginop.h>

POP_EXPORT(init) { return pop_enable(); }

POP_EXPORT(update_rtt) {
  uint64_t latest, ack_delay, min_rtt, srtt, rttvar, max_ack_delay, established;
  if (pop_input_u64(0, &latest) || pop_input_u64(1, &ack_delay))
    return 1;
  if (pop_rec_get_u64(POP_REC_MIN_RTT, 0, &min_rtt) || pop_rec_get_u64(POP_REC_SMOOTHED_RTT, 0, &srtt) ||
      pop_rec_get_u64(POP_REC_RTTVAR, 0, &rttvar) ||
      pop_rec_get_u64(POP_REC_MAX_ACK_DELAY, 0, &max_ack_delay))
    return 2;
  pop_rec_set_duration(POP_REC_LATEST_RTT, 0, latest);
  if (min_rtt == 0) { /* first sample */
    pop_rec_set_duration(POP_REC_MIN_RTT, 0, latest);
    pop_rec_set_duration(POP_REC_SMOOTHED_RTT, 0, latest);
    pop_rec_set_duration(POP_REC_RTTVAR, 0, latest / 2);
    return 0;
  }
  if (latest < min_rtt)
    min_rtt = latest;
  if (pop_conn_get_u64(POP_CONN_IS_ESTABLISHED, 0, &established) == 0 && established &&
      ack_delay > max_ack_delay)
    ack_delay = max_ack_delay;
  uint64_t adjusted = latest;
  if (latest >= min_rtt + ack_delay)
    adjusted = latest - ack_delay;
  uint64_t diff = srtt > adjusted ? srtt - adjusted : adjusted - srtt;
  rttvar = (3 * rttvar + diff) / 4;
  srtt = (7 * srtt + adjusted) / 8;
  pop_rec_set_duration(POP_REC_MIN_RTT, 0, min_rtt);
  pop_rec_set_duration(POP_REC_SMOOTHED_RTT, 0, srtt);
  pop_rec_set_duration(POP_REC_RTTVAR, 0, rttvar);
  return 0;
}
