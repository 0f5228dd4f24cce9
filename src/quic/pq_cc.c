/*
 * pq_cc.c: the common congestion-control bookkeeping, the registry and NewReno.
 */
#include "pq_cc.h"

#include <string.h>

const pq_cc_algo *const pq_cc_algos[] = {&pq_cc_newreno, NULL};

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
