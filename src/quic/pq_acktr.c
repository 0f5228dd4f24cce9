/*
 * pq_acktr.c: received-packet tracking and ACK scheduling (see pq_acktr.h).
 */
#include "pq_acktr.h"

#include <string.h>

void pq_acktr_init(pq_acktr *a, size_t max_ranges, uint64_t max_ack_delay) {
  memset(a, 0, sizeof(*a));
  pq_ranges_init(&a->rcvd, max_ranges ? max_ranges : PQ_ACKTR_DEFAULT_MAX_RANGES);
  a->deadline = UINT64_MAX;
  a->max_ack_delay = max_ack_delay;
  a->threshold = PQ_ACKTR_DEFAULT_THRESHOLD;
}

void pq_acktr_free(pq_acktr *a) { pq_ranges_free(&a->rcvd); }

bool pq_acktr_is_duplicate(const pq_acktr *a, uint64_t pn) {
  return pn < a->floor || pq_ranges_contains(&a->rcvd, pn);
}

int pq_acktr_on_packet(pq_acktr *a, uint64_t pn, bool ack_eliciting, uint64_t now) {
  bool empty = pq_ranges_empty(&a->rcvd);
  uint64_t old_min = empty ? 0 : pq_ranges_min(&a->rcvd);
  bool out_of_order;
  if (pq_acktr_is_duplicate(a, pn)) return 1;
  if (pq_ranges_add(&a->rcvd, pn, pn + 1) < 0) return PQ_ERR_NOMEM;
  /* The cap dropped low ranges (maybe |pn| itself): never accept those packet numbers
   * again, or they would be processed twice. */
  if (!pq_ranges_contains(&a->rcvd, pn) || (!empty && pq_ranges_min(&a->rcvd) > old_min))
    a->floor = pq_ranges_min(&a->rcvd);
  if (!pq_ranges_contains(&a->rcvd, pn)) return 0; /* too old to track: nothing due */
  /* Out of order: below the largest, or leaving a gap above it (§13.2.1). */
  out_of_order = a->has_largest && (pn < a->largest || pn > a->largest + 1);
  if (!a->has_largest || pn > a->largest) {
    a->largest = pn;
    a->largest_time = now;
    a->has_largest = true;
  }
  a->pending = true;
  if (!ack_eliciting) return 0;
  a->unacked_eliciting++;
  if (out_of_order || a->unacked_eliciting >= a->threshold) a->immediate = true;
  if (a->deadline == UINT64_MAX) a->deadline = now + a->max_ack_delay;
  return 0;
}

int pq_acktr_frame(const pq_acktr *a, pq_frame *f, uint64_t now, unsigned exponent,
                   bool use_delay, size_t max_ranges) {
  uint64_t delay = 0;
  if (pq_ranges_empty(&a->rcvd)) return PQ_ERR_INVALID_ARG;
  if (use_delay && now > a->largest_time && exponent < 64)
    delay = ((now - a->largest_time) / 1000) >> exponent;
  return pq_frame_ack_from_ranges(f, &a->rcvd, max_ranges, delay);
}

void pq_acktr_on_ack_sent(pq_acktr *a) {
  a->pending = false;
  a->immediate = false;
  a->unacked_eliciting = 0;
  a->deadline = UINT64_MAX;
}

void pq_acktr_on_ack_acked(pq_acktr *a, uint64_t largest) {
  if (largest + 1 <= a->floor) return;
  a->floor = largest + 1;
  pq_ranges_remove_below(&a->rcvd, a->floor);
}
