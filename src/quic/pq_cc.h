/*
 * pq_cc.h: congestion control (RFC 9002 §7) as a pluggable policy.
 *
 * An algorithm is a const struct of callbacks with a name (pq_cc_algo), registered in a
 * const table and chosen by name (pq_cc_find). The per-connection state every algorithm
 * shares (window, threshold, bytes in flight, recovery start) lives in pq_cc; an
 * algorithm keeps anything else in pq_cc.algo_state.
 *
 * The connection never calls the callbacks directly: it goes through the pq_cc_on_*
 * operation functions below, which do the bookkeeping common to every algorithm (bytes
 * in flight, the recovery period, persistent congestion) and are the seams where the
 * plugin runtime will insert plugin operations (congestion events).
 */
#ifndef PLUGINOP_PQ_CC_H
#define PLUGINOP_PQ_CC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pluginop/quic.h"

/* RFC 9002 §7.2: initial window 10 datagrams (capped at max(14720, 2 * mds)) and a
 * minimum window of 2 datagrams. */
#define PQ_CC_INITIAL_WINDOW_PACKETS 10
#define PQ_CC_INITIAL_WINDOW_CAP 14720
#define PQ_CC_MIN_WINDOW_PACKETS 2
/* Multiplicative decrease factor 1/2 (kLossReductionFactor), as a fraction. */
#define PQ_CC_LOSS_REDUCTION_NUM 1
#define PQ_CC_LOSS_REDUCTION_DEN 2

typedef struct pq_cc pq_cc;

/* One acknowledged or lost packet, as congestion control sees it. */
typedef struct pq_cc_pkt {
  uint64_t pn;
  size_t bytes;       /* bytes counted in flight (0 if not in flight) */
  pq_tstamp sent_time;
} pq_cc_pkt;

/* A congestion controller. Every callback is required except free and
 * on_persistent_congestion (default: collapse to the minimum window). */
typedef struct pq_cc_algo {
  const char *name;
  /* Sets the initial window/threshold and allocates algo_state if needed. */
  int (*init)(pq_cc *cc);
  void (*free)(pq_cc *cc);
  /* A packet in flight was acknowledged (bytes in flight already reduced); called only
   * outside the recovery period and when not application limited. */
  void (*on_packet_acked)(pq_cc *cc, const pq_cc_pkt *pkt, pq_tstamp now);
  /* Loss (or ECN-CE) for a packet sent at |sent_time|, once per recovery period: the
   * recovery start time is already set to |now|. */
  void (*on_congestion_event)(pq_cc *cc, pq_tstamp sent_time, pq_tstamp now);
  void (*on_persistent_congestion)(pq_cc *cc, pq_tstamp now);
} pq_cc_algo;

struct pq_cc {
  const pq_cc_algo *algo;
  uint64_t max_datagram_size;
  uint64_t cwnd;
  uint64_t ssthresh;          /* UINT64_MAX: still in the first slow start */
  uint64_t bytes_in_flight;
  pq_tstamp recovery_start;   /* start of the current recovery period */
  bool has_recovery_start;    /* false: no recovery period (or reset by persistent cong.) */
  bool app_limited;           /* set by the sender: cwnd is not the limit */
  uint64_t bytes_acked;       /* congestion avoidance byte counter (NewReno) */
  uint64_t congestion_events, persistent_congestions; /* counters */
  uint64_t smoothed_rtt;      /* ns, kept current by recovery (0: no sample yet) */
  void *algo_state;
  /* Optional (set after pq_cc_init): called instead of algo->on_congestion_event (the
   * plugin runtime's OnCongestionEvent operation, which falls back to the algorithm). */
  void (*event_hook)(void *user, pq_cc *cc, pq_tstamp sent_time, pq_tstamp now);
  void *event_hook_user;
};

/* The registered algorithms, NULL-terminated (const table, no global state). */
extern const pq_cc_algo *const pq_cc_algos[];
extern const pq_cc_algo pq_cc_newreno;
/* CUBIC (RFC 9438): C = 0.4, beta = 0.7, fast convergence, Reno-friendly region. */
extern const pq_cc_algo pq_cc_cubic;

/* The algorithm called |name| (case-sensitive), or NULL. */
const pq_cc_algo *pq_cc_find(const char *name);

/* Initialises |cc| with |algo| for datagrams of |max_datagram_size| bytes.
 * Returns 0, PQ_ERR_INVALID_ARG (NULL algo, size < 1200) or the algorithm's init error. */
int pq_cc_init(pq_cc *cc, const pq_cc_algo *algo, uint64_t max_datagram_size);
void pq_cc_free(pq_cc *cc);

/* The initial and minimum windows for |cc|'s datagram size (RFC 9002 §7.2). */
uint64_t pq_cc_initial_window(const pq_cc *cc);
uint64_t pq_cc_min_window(const pq_cc *cc);

/* True if |sent_time| falls in the current recovery period. */
bool pq_cc_in_recovery(const pq_cc *cc, pq_tstamp sent_time);

/* Bytes the sender may put in flight now (0 when the window is full). */
uint64_t pq_cc_available(const pq_cc *cc);

/* Operation: a packet of |bytes| in flight was sent. */
void pq_cc_on_packet_sent(pq_cc *cc, size_t bytes, pq_tstamp now);
/* Operation: packets in flight were acknowledged (one ACK frame's worth). */
void pq_cc_on_packets_acked(pq_cc *cc, const pq_cc_pkt *pkts, size_t n, pq_tstamp now);
/* Operation: packets in flight were declared lost; |persistent| when they establish
 * persistent congestion (RFC 9002 §7.6), decided by recovery. */
void pq_cc_on_packets_lost(pq_cc *cc, const pq_cc_pkt *pkts, size_t n, bool persistent,
                           pq_tstamp now);
/* Operation: a congestion event for a packet sent at |sent_time| (loss or ECN-CE).
 * Starts a recovery period unless one covers |sent_time| already. */
void pq_cc_on_congestion_event(pq_cc *cc, pq_tstamp sent_time, pq_tstamp now);
/* Packets left flight without being acked or lost (keys discarded). */
void pq_cc_remove_in_flight(pq_cc *cc, uint64_t bytes);

#endif
