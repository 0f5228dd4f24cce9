/*
 * pq_timer.c: one expiry out of the connection's timer slots.
 */
#include "pq_timer.h"

void pq_timers_init(pq_timers *t) {
  for (int i = 0; i < PQ_TIMER_COUNT; i++) t->at[i] = PQ_TSTAMP_NEVER;
}

void pq_timers_set(pq_timers *t, pq_timer_kind k, pq_tstamp when) {
  if ((unsigned)k < PQ_TIMER_COUNT) t->at[k] = when;
}

pq_tstamp pq_timers_earliest(const pq_timers *t, pq_timer_kind *kind) {
  pq_tstamp best = PQ_TSTAMP_NEVER;
  int which = 0;
  for (int i = 0; i < PQ_TIMER_COUNT; i++) {
    if (t->at[i] < best) {
      best = t->at[i];
      which = i;
    }
  }
  if (kind) *kind = (pq_timer_kind)which;
  return best;
}

bool pq_timers_due(const pq_timers *t, pq_timer_kind k, pq_tstamp now) {
  return (unsigned)k < PQ_TIMER_COUNT && t->at[k] != PQ_TSTAMP_NEVER && t->at[k] <= now;
}
