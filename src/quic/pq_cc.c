/*
 * pq_cc.c: the common congestion-control bookkeeping, the registry and NewReno.
 */
#include "pq_cc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const pq_cc_algo *const pq_cc_algos[] = {&pq_cc_newreno, &pq_cc_cubic, NULL};

const pq_cc_algo *pq_cc_find(const char *name) {
  if (!name) return NULL;
  for (size_t i = 0; pq_cc_algos[i]; i++)
    if (strcmp(pq_cc_algos[i]->name, name) == 0) return pq_cc_algos[i];
  return NULL;
}

uint64_t pq_cc_initial_window(const pq_cc *cc) {
  uint64_t w = PQ_CC_INITIAL_WINDOW_PACKETS * cc->max_datagram_size;
  uint64_t cap = PQ_CC_INITIAL_WINDOW_CAP;
  if (cap < 2 * cc->max_datagram_size) cap = 2 * cc->max_datagram_size;
  return w < cap ? w : cap;
}

uint64_t pq_cc_min_window(const pq_cc *cc) {
  return PQ_CC_MIN_WINDOW_PACKETS * cc->max_datagram_size;
}

int pq_cc_init(pq_cc *cc, const pq_cc_algo *algo, uint64_t max_datagram_size) {
  memset(cc, 0, sizeof(*cc));
  if (!algo || !algo->init || !algo->on_packet_acked || !algo->on_congestion_event ||
      max_datagram_size < 1200)
    return PQ_ERR_INVALID_ARG;
  cc->algo = algo;
  cc->max_datagram_size = max_datagram_size;
  cc->ssthresh = UINT64_MAX;
  cc->cwnd = pq_cc_initial_window(cc);
  return algo->init(cc);
}

void pq_cc_free(pq_cc *cc) {
  if (cc->algo && cc->algo->free) cc->algo->free(cc);
  cc->algo_state = NULL;
}

bool pq_cc_in_recovery(const pq_cc *cc, pq_tstamp sent_time) {
  return cc->has_recovery_start && sent_time <= cc->recovery_start;
}

uint64_t pq_cc_available(const pq_cc *cc) {
  return cc->bytes_in_flight >= cc->cwnd ? 0 : cc->cwnd - cc->bytes_in_flight;
}

void pq_cc_on_packet_sent(pq_cc *cc, size_t bytes, pq_tstamp now) {
  cc->bytes_in_flight += bytes;
}

void pq_cc_remove_in_flight(pq_cc *cc, uint64_t bytes) {
  /* Saturate: an accounting slip must not wrap into a huge in-flight count. */
  cc->bytes_in_flight = bytes > cc->bytes_in_flight ? 0 : cc->bytes_in_flight - bytes;
}

void pq_cc_on_packets_acked(pq_cc *cc, const pq_cc_pkt *pkts, size_t n, pq_tstamp now) {
  for (size_t i = 0; i < n; i++) {
    if (pkts[i].bytes == 0) continue;
    pq_cc_remove_in_flight(cc, pkts[i].bytes);
    /* No growth for packets sent during recovery (RFC 9002 §7.3.2) nor while the
     * sender does not use the window it has (§7.8). */
    if (pq_cc_in_recovery(cc, pkts[i].sent_time) || cc->app_limited) continue;
    cc->algo->on_packet_acked(cc, &pkts[i], now);
  }
}

void pq_cc_on_congestion_event(pq_cc *cc, pq_tstamp sent_time, pq_tstamp now) {
  if (pq_cc_in_recovery(cc, sent_time)) return; /* one reduction per round trip */
  cc->recovery_start = now;
  cc->has_recovery_start = true;
  cc->congestion_events++;
  if (cc->event_hook)
    cc->event_hook(cc->event_hook_user, cc, sent_time, now);
  else
    cc->algo->on_congestion_event(cc, sent_time, now);
}

void pq_cc_on_packets_lost(pq_cc *cc, const pq_cc_pkt *pkts, size_t n, bool persistent,
                           pq_tstamp now) {
  pq_tstamp last_sent = 0;
  bool any = false;
  for (size_t i = 0; i < n; i++) {
    if (pkts[i].bytes == 0) continue;
    pq_cc_remove_in_flight(cc, pkts[i].bytes);
    if (!any || pkts[i].sent_time > last_sent) last_sent = pkts[i].sent_time;
    any = true;
  }
  if (!any) return;
  pq_cc_on_congestion_event(cc, last_sent, now);
  if (persistent) {
    cc->persistent_congestions++;
    if (cc->algo->on_persistent_congestion) {
      cc->algo->on_persistent_congestion(cc, now);
    } else {
      cc->cwnd = pq_cc_min_window(cc);
      cc->bytes_acked = 0;
    }
    cc->has_recovery_start = false;
  }
}

/* ---- NewReno (RFC 9002 §7.3, Appendix B) ---- */

static int newreno_init(pq_cc *cc) {
  cc->cwnd = pq_cc_initial_window(cc);
  cc->ssthresh = UINT64_MAX;
  cc->bytes_acked = 0;
  return 0;
}

static void newreno_on_packet_acked(pq_cc *cc, const pq_cc_pkt *pkt, pq_tstamp now) {
  if (cc->cwnd < cc->ssthresh) {
    cc->cwnd += pkt->bytes; /* slow start: one datagram per datagram acked */
    return;
  }
  /* Congestion avoidance: one datagram per window acknowledged, counted in bytes so
   * that the growth does not depend on packet sizes. */
  cc->bytes_acked += pkt->bytes;
  if (cc->bytes_acked >= cc->cwnd) {
    cc->bytes_acked -= cc->cwnd;
    cc->cwnd += cc->max_datagram_size;
  }
}

static void newreno_on_congestion_event(pq_cc *cc, pq_tstamp sent_time, pq_tstamp now) {
  uint64_t min = pq_cc_min_window(cc);
  cc->ssthresh = cc->cwnd * PQ_CC_LOSS_REDUCTION_NUM / PQ_CC_LOSS_REDUCTION_DEN;
  if (cc->ssthresh < min) cc->ssthresh = min;
  cc->cwnd = cc->ssthresh;
  cc->bytes_acked = 0;
}

static void newreno_on_persistent_congestion(pq_cc *cc, pq_tstamp now) {
  cc->cwnd = pq_cc_min_window(cc);
  cc->bytes_acked = 0;
}

const pq_cc_algo pq_cc_newreno = {
    .name = "newreno",
    .init = newreno_init,
    .free = NULL,
    .on_packet_acked = newreno_on_packet_acked,
    .on_congestion_event = newreno_on_congestion_event,
    .on_persistent_congestion = newreno_on_persistent_congestion,
};

/* ---- CUBIC (RFC 9438) ----
 * Windows in the formulas are in segments (max_datagram_size) and times in seconds, as
 * in the RFC; cwnd itself stays in bytes. */

#define CUBIC_C 0.4
#define CUBIC_BETA 0.7

typedef struct cubic {
  double w_max;        /* window before the last reduction, segments */
  double w_last_max;   /* previous w_max, for fast convergence */
  double k;            /* seconds for the curve to get back to w_max */
  double w_est;        /* Reno-friendly estimate, segments */
  double cwnd_epoch;   /* window when the epoch started, segments */
  pq_tstamp epoch;     /* start of the current avoidance epoch */
  bool in_epoch;
  double acc;          /* growth not yet applied (fractions of a byte) */
} cubic;

static int cubic_init(pq_cc *cc) {
  cubic *st = calloc(1, sizeof(*st));
  if (!st) return PQ_ERR_NOMEM;
  cc->algo_state = st;
  cc->cwnd = pq_cc_initial_window(cc);
  cc->ssthresh = UINT64_MAX;
  return 0;
}

static void cubic_free(pq_cc *cc) { free(cc->algo_state); }

/* W_cubic(t) = C * (t - K)^3 + W_max */
static double cubic_w(const cubic *st, double t) {
  double d = t - st->k;
  return CUBIC_C * d * d * d + st->w_max;
}

static void cubic_on_packet_acked(pq_cc *cc, const pq_cc_pkt *pkt, pq_tstamp now) {
  cubic *st = cc->algo_state;
  double mds = (double)cc->max_datagram_size, cwnd = (double)cc->cwnd / mds;
  double t, rtt, target, inc;
  if (cc->cwnd < cc->ssthresh) {
    cc->cwnd += pkt->bytes; /* slow start as in Reno */
    return;
  }
  if (!st->in_epoch) {
    /* First ack of an avoidance period: the curve starts here (RFC 9438 §4.2). */
    st->in_epoch = true;
    st->epoch = now;
    st->cwnd_epoch = cwnd;
    st->w_est = cwnd;
    if (st->w_max < cwnd) {
      st->w_max = cwnd;
      st->k = 0;
    } else {
      st->k = cbrt((st->w_max - cwnd) / CUBIC_C);
    }
  }
  rtt = cc->smoothed_rtt ? (double)cc->smoothed_rtt / 1e9 : 0.1;
  t = (double)(now - st->epoch) / 1e9;
  target = cubic_w(st, t + rtt);
  if (target < cwnd) target = cwnd;
  if (target > 1.5 * cwnd) target = 1.5 * cwnd;
  /* Reno-friendly estimate: alpha = 3 * (1 - beta) / (1 + beta) per window. */
  st->w_est += 3.0 * (1 - CUBIC_BETA) / (1 + CUBIC_BETA) * ((double)pkt->bytes / mds) / cwnd;
  if (cubic_w(st, t) < st->w_est) {
    inc = (st->w_est - cwnd) * mds; /* as fast as Reno would be */
  } else {
    inc = (target - cwnd) / cwnd * (double)pkt->bytes;
  }
  if (inc > 0) {
    /* Whole bytes only; the fraction waits for the next ack. */
    st->acc += inc;
    cc->cwnd += (uint64_t)st->acc;
    st->acc -= floor(st->acc);
  }
}

static void cubic_on_congestion_event(pq_cc *cc, pq_tstamp sent_time, pq_tstamp now) {
  cubic *st = cc->algo_state;
  double mds = (double)cc->max_datagram_size, cwnd = (double)cc->cwnd / mds;
  uint64_t min = pq_cc_min_window(cc), w;
  /* Fast convergence: a flow losing ground releases more (RFC 9438 §4.7). */
  if (cwnd < st->w_last_max) st->w_max = cwnd * (1 + CUBIC_BETA) / 2;
  else st->w_max = cwnd;
  st->w_last_max = cwnd;
  w = cc->cwnd * 7 / 10; /* beta = 0.7, in integers to stay exact */
  cc->ssthresh = w < min ? min : w;
  cc->cwnd = cc->ssthresh;
  cc->bytes_acked = 0;
  st->in_epoch = false;
  st->acc = 0;
}

static void cubic_on_persistent_congestion(pq_cc *cc, pq_tstamp now) {
  cubic *st = cc->algo_state;
  cc->cwnd = pq_cc_min_window(cc);
  cc->bytes_acked = 0;
  st->in_epoch = false;
  st->w_max = st->w_last_max = 0;
}

const pq_cc_algo pq_cc_cubic = {
    .name = "cubic",
    .init = cubic_init,
    .free = cubic_free,
    .on_packet_acked = cubic_on_packet_acked,
    .on_congestion_event = cubic_on_congestion_event,
    .on_persistent_congestion = cubic_on_persistent_congestion,
};
