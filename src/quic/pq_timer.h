/*
 * pq_timer.h: the connection's timers merged in one place.
 *
 * Each kind of deadline has a slot; pq_conn_expiry is the earliest slot, and
 * pq_conn_handle_expiry runs the handler of every slot that is due. Plugin timers get
 * slots from PQ_TIMER_PLUGIN on.
 */
#ifndef PLUGINOP_PQ_TIMER_H
#define PLUGINOP_PQ_TIMER_H

#include <stdbool.h>

#include "pluginop/quic.h"

typedef enum pq_timer_kind {
  PQ_TIMER_LOSS = 0,     /* loss detection / PTO (mirrors pq_recovery.timer) */
  PQ_TIMER_ACK,          /* delayed ACK must go out */
  PQ_TIMER_IDLE,         /* idle timeout: close silently */
  PQ_TIMER_DRAIN,        /* closing/draining period over */
  PQ_TIMER_PACING,       /* the pacer lets the next packet leave */
  PQ_TIMER_KEY_DISCARD,  /* old 1-RTT keys may go (key update) */
  PQ_TIMER_PLUGIN,       /* first plugin slot */
  PQ_TIMER_COUNT = PQ_TIMER_PLUGIN + 4
} pq_timer_kind;

typedef struct pq_timers {
  pq_tstamp at[PQ_TIMER_COUNT];
} pq_timers;

/* Every slot unset (PQ_TSTAMP_NEVER). */
void pq_timers_init(pq_timers *t);
/* Sets slot |k| to |when| (PQ_TSTAMP_NEVER cancels). */
void pq_timers_set(pq_timers *t, pq_timer_kind k, pq_tstamp when);
/* The earliest deadline, its slot in *|kind| (may be NULL); NEVER if none. */
pq_tstamp pq_timers_earliest(const pq_timers *t, pq_timer_kind *kind);
/* True if slot |k| is set and due at |now|. */
bool pq_timers_due(const pq_timers *t, pq_timer_kind k, pq_tstamp now);

#endif
