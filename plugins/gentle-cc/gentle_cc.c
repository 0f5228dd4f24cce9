/* gentle-cc: Define code of OnCongestionEvent: on loss, the congestion window and the
 * slow-start threshold become 7/10 of the window (CUBIC's beta) instead of NewReno's
 * half. Parameter "percent" (decimal, 10..100, default 70) changes the factor.
 * Inputs: [0] INSTANT sent time of the lost packet, [1] INSTANT now.
 * plugin_control_0 outputs [events, window before the last one, window after it]. */
#include <pluginop.h>

static uint64_t percent = 70, events, last_before, last_after;

static uint64_t parse_dec(const char *s) {
  uint64_t v = 0;
  for (; *s >= '0' && *s <= '9'; s++)
    v = v * 10 + (uint64_t)(*s - '0');
  return v;
}

POP_EXPORT(init) {
  char buf[8];
  if (pop_param("percent", buf, sizeof buf) > 0) {
    uint64_t p = parse_dec(buf);
    if (p >= 10 && p <= 100)
      percent = p;
  }
  return pop_enable();
}

POP_EXPORT(on_congestion_event) {
  uint64_t cwnd, mds;
  if (pop_rec_get_u64(POP_REC_CONGESTION_WINDOW, 0, &cwnd) ||
      pop_rec_get_u64(POP_REC_MAX_DATAGRAM_SIZE, 0, &mds))
    return 1;
  uint64_t next = cwnd * percent / 100;
  if (next < 2 * mds) /* the RFC 9002 minimum window */
    next = 2 * mds;
  events++;
  last_before = cwnd;
  last_after = next;
  if (pop_rec_set_u64(POP_REC_SSTHRESH, 0, next) || pop_rec_set_u64(POP_REC_CONGESTION_WINDOW, 0, next))
    return 2;
  return 0;
}

POP_EXPORT(plugin_control_0) {
  pop_output_u64(events);
  pop_output_u64(last_before);
  return pop_output_u64(last_after);
}
