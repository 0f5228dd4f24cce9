/*
 * pq_pacer.h: pacing (RFC 9002 §7.7) as a token bucket.
 *
 * Tokens (bytes) refill at rate = N * cwnd / smoothed_rtt with N = 5/4, up to a burst
 * of PQ_PACER_BURST_PACKETS datagrams. A packet may leave when the bucket holds a full
 * datagram; pq_pacer_next_time tells when that will be, so the connection folds it into
 * its expiry instead of spinning.
 */
#ifndef PLUGINOP_PQ_PACER_H
#define PLUGINOP_PQ_PACER_H

#include <stdint.h>

#include "pluginop/quic.h"

#define PQ_PACER_BURST_PACKETS 10
#define PQ_PACER_GAIN_NUM 5 /* N = 1.25 */
#define PQ_PACER_GAIN_DEN 4

typedef struct pq_pacer {
  uint64_t tokens;          /* bytes that may leave now */
  uint64_t burst;           /* bucket size in bytes */
  uint64_t mds;             /* max datagram size */
  pq_tstamp last;           /* time tokens were last refilled */
  bool started;
} pq_pacer;

/* Initialises a full bucket for datagrams of |max_datagram_size| bytes. */
void pq_pacer_init(pq_pacer *p, uint64_t max_datagram_size);

/* Refills the bucket for the time elapsed up to |now| at the rate given by |cwnd| and
 * |srtt| (ns; 0 means no estimate: the bucket is simply full). */
void pq_pacer_refill(pq_pacer *p, uint64_t cwnd, uint64_t srtt, pq_tstamp now);

/* Earliest time a datagram may leave (|now| if already allowed). Refills first. */
pq_tstamp pq_pacer_next_time(pq_pacer *p, uint64_t cwnd, uint64_t srtt, pq_tstamp now);

/* Operation: |bytes| left now; takes them from the bucket (it may go to zero, never
 * below: a probe or a packet larger than the tokens is allowed, it only delays the
 * next one). */
void pq_pacer_on_sent(pq_pacer *p, uint64_t bytes, pq_tstamp now);

#endif
