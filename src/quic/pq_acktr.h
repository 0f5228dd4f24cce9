/*
 * pq_acktr.h: received-packet tracking for one packet number space, and when and what
 * to acknowledge (RFC 9000 §13.2).
 *
 * The tracker keeps the received packet numbers in a capped pq_ranges, remembers when
 * the largest one arrived (for the ACK Delay field), and decides when an ACK is due:
 * at once after |threshold| ack-eliciting packets (default 2) or when an ack-eliciting
 * packet arrives out of order, else within max_ack_delay of the first unacknowledged
 * ack-eliciting packet. Packets that are not ack-eliciting are acknowledged only along
 * with something else (§13.2.1). Once the peer acknowledges one of our ACKs, ranges up to
 * its largest are dropped and a floor stops older packet numbers being accepted again
 * (§13.2.3-13.2.4); so does the range cap.
 * Times are nanoseconds from the caller (pq_tstamp).
 *
 * The connection keeps one per packet number space (pq_space.ack): threshold 1 in the
 * Initial and Handshake spaces (every ack-eliciting packet acknowledged at once), the
 * default 2 in 1-RTT; it does not call pq_acktr_on_ack_acked yet (ranges go only by
 * the cap of PQ_CONN_ACK_RANGES).
 */
#ifndef PLUGINOP_PQ_ACKTR_H
#define PLUGINOP_PQ_ACKTR_H

#include <stdbool.h>
#include <stdint.h>

#include "pq_frame.h"
#include "pq_ranges.h"

#define PQ_ACKTR_DEFAULT_MAX_RANGES 64
#define PQ_ACKTR_DEFAULT_THRESHOLD 2

typedef struct pq_acktr {
  pq_ranges rcvd;            /* received packet numbers >= floor */
  uint64_t floor;            /* packet numbers below are treated as duplicates */
  uint64_t largest;          /* largest received (valid if has_largest) */
  uint64_t largest_time;     /* when it arrived */
  uint64_t deadline;         /* when the pending ACK is due, UINT64_MAX: none */
  uint64_t max_ack_delay;    /* ns: our max_ack_delay transport parameter */
  uint32_t unacked_eliciting; /* ack-eliciting packets since the last ACK sent */
  uint32_t threshold;        /* ack-eliciting packets that trigger an immediate ACK */
  bool has_largest;
  bool pending;              /* something not yet acknowledged */
  bool immediate;            /* the ACK is due now */
} pq_acktr;

/* Initializes an empty tracker keeping at most |max_ranges| ranges (0: the default 64)
 * and acknowledging within |max_ack_delay| ns. Allocates nothing yet. */
void pq_acktr_init(pq_acktr *a, size_t max_ranges, uint64_t max_ack_delay);

/* Frees the range storage. */
void pq_acktr_free(pq_acktr *a);

/* True if |pn| was already received (or is below the floor): drop the packet. Check
 * before decrypting-and-processing is complete, record after. */
bool pq_acktr_is_duplicate(const pq_acktr *a, uint64_t pn);

/* Records packet |pn| (authenticated, processed) received at |now|. Returns 0,
 * 1 if it was a duplicate (nothing recorded), or PQ_ERR_NOMEM. */
int pq_acktr_on_packet(pq_acktr *a, uint64_t pn, bool ack_eliciting, uint64_t now);

/* True if an ACK must be sent at |now| (not merely may be piggybacked). */
static inline bool pq_acktr_should_send(const pq_acktr *a, uint64_t now) {
  return a->pending && (a->immediate || now >= a->deadline);
}

/* True if there is anything to acknowledge (an ACK may ride along in any packet). */
static inline bool pq_acktr_has_pending(const pq_acktr *a) { return a->pending; }

/* When the ACK timer fires: 0 if due now, UINT64_MAX if no ACK is pending that forces
 * one. */
static inline uint64_t pq_acktr_expiry(const pq_acktr *a) {
  if (!a->pending) return UINT64_MAX;
  return a->immediate ? 0 : a->deadline;
}

/* Fills |f| with an ACK of the |max_ranges| largest ranges (0: all), its ACK Delay
 * being the time since the largest packet arrived in microseconds >> |exponent|
 * (0 in Initial/Handshake spaces: pass |exponent| and use_delay=false there). |f|
 * borrows the tracker's storage until written. Returns 0 or PQ_ERR_INVALID_ARG when
 * nothing was received. */
int pq_acktr_frame(const pq_acktr *a, pq_frame *f, uint64_t now, unsigned exponent,
                   bool use_delay, size_t max_ranges);

/* An ACK built from the current state was sent: nothing is pending any more. */
void pq_acktr_on_ack_sent(pq_acktr *a);

/* A packet carrying our ACK whose largest acknowledged was |largest| got acknowledged:
 * stop reporting packets <= largest and refuse them from now on (§13.2.4). */
void pq_acktr_on_ack_acked(pq_acktr *a, uint64_t largest);

#endif
