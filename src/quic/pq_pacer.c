/*
 * pq_pacer.c: token-bucket pacing.
 */
#include "pq_pacer.h"

#include <string.h>

void pq_pacer_init(pq_pacer *p, uint64_t max_datagram_size) {
  memset(p, 0, sizeof(*p));
  p->mds = max_datagram_size;
  p->burst = PQ_PACER_BURST_PACKETS * max_datagram_size;
  p->tokens = p->burst;
}

/* Nanoseconds to earn |bytes| at N * cwnd / srtt (rounded up). */
static uint64_t time_for(uint64_t bytes, uint64_t cwnd, uint64_t srtt) {
  uint64_t num = bytes * PQ_PACER_GAIN_DEN * srtt;
  uint64_t den = cwnd * PQ_PACER_GAIN_NUM;
  return (num + den - 1) / den;
}

void pq_pacer_refill(pq_pacer *p, uint64_t cwnd, uint64_t srtt, pq_tstamp now) {
  uint64_t elapsed, fill;
  if (!p->started) {
    p->started = true;
    p->last = now;
    return;
  }
  if (now <= p->last) return;
  if (srtt == 0 || cwnd == 0) {
    p->tokens = p->burst;
    p->last = now;
    return;
  }
  /* Past the time to fill the bucket the rate no longer matters; capping the elapsed
   * time keeps the products below in range. */
  elapsed = now - p->last;
  fill = time_for(p->burst, cwnd, srtt);
  if (elapsed >= fill) {
    p->tokens = p->burst;
  } else {
    uint64_t earned = elapsed * cwnd * PQ_PACER_GAIN_NUM / (srtt * PQ_PACER_GAIN_DEN);
    p->tokens = p->tokens + earned > p->burst ? p->burst : p->tokens + earned;
    /* Keep the remainder: advance |last| only by the time the whole bytes took. */
    if (earned == 0) return;
    if (p->tokens < p->burst) {
      p->last += earned * srtt * PQ_PACER_GAIN_DEN / (cwnd * PQ_PACER_GAIN_NUM);
      return;
    }
  }
  p->last = now;
}

pq_tstamp pq_pacer_next_time(pq_pacer *p, uint64_t cwnd, uint64_t srtt, pq_tstamp now) {
  pq_pacer_refill(p, cwnd, srtt, now);
  if (p->tokens >= p->mds || srtt == 0 || cwnd == 0) return now;
  return p->last + time_for(p->mds - p->tokens, cwnd, srtt);
}

void pq_pacer_on_sent(pq_pacer *p, uint64_t bytes, pq_tstamp now) {
  if (!p->started) {
    p->started = true;
    p->last = now;
  }
  p->tokens = bytes > p->tokens ? 0 : p->tokens - bytes;
}
