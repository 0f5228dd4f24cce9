/*
 * pq_recovery.h: loss detection and RTT estimation (RFC 9002 §5-6, Appendix A).
 *
 * Recovery tracks every packet sent, per packet number space, until it is acknowledged,
 * declared lost or its space is discarded, and hands each one back to the connection
 * through a callback (so the connection can free or requeue the frames it carried:
 * pq_sent_pkt.frames is the connection's, recovery never looks inside). It owns one
 * timer (loss time or PTO, pq_recovery.timer) and, when a PTO fires, asks for probes
 * (pq_recovery.probes[space]) that the connection sends outside the congestion window.
 *
 * Congestion control is reached only through the pq_cc_on_* operations. The RTT update,
 * loss detection and PTO computation are explicit operation functions below: the seams
 * where the plugin runtime will insert plugin operations.
 *
 * Times are pq_tstamp nanoseconds; PQ_TSTAMP_NEVER means "not set".
 */
#ifndef PLUGINOP_PQ_RECOVERY_H
#define PLUGINOP_PQ_RECOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pq_cc.h"
#include "pq_err.h"

#define PQ_MS UINT64_C(1000000) /* nanoseconds per millisecond */
#define PQ_GRANULARITY (1 * PQ_MS)       /* kGranularity */
#define PQ_INITIAL_RTT (333 * PQ_MS)     /* kInitialRtt */
#define PQ_PACKET_THRESHOLD 3            /* kPacketThreshold */
#define PQ_TIME_THRESHOLD_NUM 9          /* kTimeThreshold = 9/8 */
#define PQ_TIME_THRESHOLD_DEN 8
#define PQ_PERSISTENT_CONGESTION_THRESHOLD 3 /* kPersistentCongestionThreshold */
#define PQ_MAX_PTO_BACKOFF 16             /* cap on the 2^pto_count exponent */

/* Packet number spaces (RFC 9000 §12.3). */
typedef enum pq_pnspace {
  PQ_PNS_INITIAL = 0,
  PQ_PNS_HANDSHAKE = 1,
  PQ_PNS_APP = 2,
  PQ_PNS_COUNT = 3
} pq_pnspace;

/* RTT estimator state (RFC 9002 §5). */
typedef struct pq_rtt {
  uint64_t latest, min, smoothed, var; /* ns */
  bool has_sample;
  pq_tstamp first_sample_time;         /* when the first sample was taken */
} pq_rtt;

/* Resets |rtt| to the state before any sample: smoothed = |initial_rtt| (0: 333 ms),
 * rttvar = initial_rtt / 2. */
void pq_rtt_init(pq_rtt *rtt, uint64_t initial_rtt);

/* Operation: takes one RTT sample (RFC 9002 §5.3). |ack_delay| is the peer's decoded
 * ACK Delay (pass 0 for Initial packets); once |handshake_confirmed| it is capped at
 * |max_ack_delay|. The delay is subtracted only if that leaves at least min_rtt. */
void pq_rtt_update(pq_rtt *rtt, uint64_t latest_rtt, uint64_t ack_delay,
                   bool handshake_confirmed, uint64_t max_ack_delay, pq_tstamp now);

/* smoothed_rtt + max(4 * rttvar, kGranularity): the PTO period without ack delay or
 * backoff. */
uint64_t pq_rtt_pto_base(const pq_rtt *rtt);

/* One packet sent, as recovery tracks it. The connection fills pn, sent_time, bytes,
 * ack_eliciting, in_flight and frames; the rest is recovery's. */
typedef struct pq_sent_pkt {
  uint64_t pn;
  pq_tstamp sent_time;
  uint32_t bytes;      /* UDP payload bytes this packet took */
  bool ack_eliciting;
  bool in_flight;      /* counts toward bytes in flight (ack-eliciting or padding) */
  uint8_t state;       /* recovery's: outstanding / acked / lost */
  bool ack_after;      /* recovery's: a packet after this one (before the next kept
                          entry) was acknowledged; breaks persistent congestion runs */
  void *frames;        /* the connection's retransmission record, opaque here */
} pq_sent_pkt;

/* An acknowledged range of packet numbers, [smallest, largest]. */
typedef struct pq_ack_span {
  uint64_t smallest, largest;
} pq_ack_span;

/* How recovery hands packets back. All three are required; |pkt| (and pkt->frames,
 * which the callee now owns) is valid during the call only. */
typedef struct pq_recovery_callbacks {
  void (*on_acked)(void *user, pq_pnspace space, pq_sent_pkt *pkt, pq_tstamp now);
  void (*on_lost)(void *user, pq_pnspace space, pq_sent_pkt *pkt, pq_tstamp now);
  void (*on_discarded)(void *user, pq_pnspace space, pq_sent_pkt *pkt);
} pq_recovery_callbacks;

/* Sent packets of one space, in increasing packet-number order. */
typedef struct pq_sent_list {
  pq_sent_pkt *v;
  size_t n, cap;
} pq_sent_list;

typedef struct pq_recovery_space {
  pq_sent_list sent;
  uint64_t next_pn;               /* one more than the largest pn sent */
  uint64_t largest_acked;
  bool has_largest_acked;
  pq_tstamp loss_time;            /* time-threshold loss timer, NEVER when unset */
  pq_tstamp last_ack_eliciting;   /* time of the last ack-eliciting packet sent */
  size_t ack_eliciting_in_flight; /* count of such packets outstanding */
  bool discarded;                 /* keys dropped: nothing more is tracked */
} pq_recovery_space;

typedef struct pq_recovery {
  pq_rtt rtt;
  pq_cc *cc;                      /* borrowed */
  pq_recovery_callbacks cb;
  void *user;
  pq_recovery_space spaces[PQ_PNS_COUNT];
  uint64_t peer_max_ack_delay;    /* ns, from the peer's transport parameters */
  uint32_t pto_count;
  pq_tstamp timer;                /* loss-detection timer, NEVER when unset */
  uint8_t probes[PQ_PNS_COUNT];   /* ack-eliciting probes owed after a PTO */
  /* State the connection keeps up to date (read when the timer is set). */
  bool is_server;
  bool handshake_confirmed;
  bool has_handshake_keys;
  bool handshake_acked;           /* client: a Handshake packet was acknowledged */
  bool amplification_limited;     /* server: the 3x limit blocks sending */
  /* Counters for stats and tests. */
  uint64_t packets_lost, pto_expired, loss_timer_expired;
  /* Optional (set after pq_recovery_init): called with |user| instead of
   * pq_rtt_update(&rec->rtt, ...) for each RTT sample (the plugin runtime's UpdateRtt
   * operation); it must update rec->rtt. */
  void (*rtt_hook)(void *user, uint64_t latest_rtt, uint64_t ack_delay, pq_tstamp now);
} pq_recovery;

/* Initialises |rec|. |cc| is borrowed and must outlive it. |initial_rtt| 0 = 333 ms.
 * Returns 0 or PQ_ERR_INVALID_ARG (missing callback). */
int pq_recovery_init(pq_recovery *rec, pq_cc *cc, const pq_recovery_callbacks *cb,
                     void *user, bool is_server, uint64_t initial_rtt);
/* Hands every tracked packet to on_discarded and frees the lists. */
void pq_recovery_free(pq_recovery *rec);

/* Records a packet just sent in |space| (copied). Packet numbers must increase within a
 * space. Consumes one owed probe if ack-eliciting, updates bytes in flight and the
 * timer. Returns 0, PQ_ERR_INVALID_ARG (pn not increasing, space discarded) or
 * PQ_ERR_NOMEM (nothing recorded: the caller still owns |pkt->frames|). */
int pq_recovery_on_packet_sent(pq_recovery *rec, pq_pnspace space, const pq_sent_pkt *pkt,
                               pq_tstamp now);

/* Processes one ACK frame received in |space|: |spans| in any order, |ack_delay| the
 * decoded ACK Delay in ns. Calls on_acked / on_lost, updates RTT, congestion control
 * and the timer. Returns 0 or PQ_ERR_PROTOCOL_VIOLATION (a packet number never sent). */
int pq_recovery_on_ack(pq_recovery *rec, pq_pnspace space, const pq_ack_span *spans,
                       size_t nspans, uint64_t ack_delay, pq_tstamp now);

/* Operation: declares lost the packets of |space| below the largest acknowledged that
 * meet the packet or time threshold (RFC 9002 §6.1), reports them (on_lost, congestion
 * control with persistent congestion) and arms the space's loss_time for the others. */
void pq_recovery_detect_lost(pq_recovery *rec, pq_pnspace space, pq_tstamp now);

/* kTimeThreshold * max(latest_rtt, smoothed_rtt), at least kGranularity. */
uint64_t pq_recovery_loss_delay(const pq_recovery *rec);

/* Operation: the PTO deadline and its space (RFC 9002 §6.2.1, with backoff). Returns
 * PQ_TSTAMP_NEVER when no PTO is due. */
pq_tstamp pq_recovery_pto_time(const pq_recovery *rec, pq_tstamp now, pq_pnspace *space);

/* Recomputes rec->timer from loss times, PTO, amplification and validation state. The
 * connection calls it after changing the state flags. */
void pq_recovery_set_timer(pq_recovery *rec, pq_tstamp now);

/* What one OnLossDetectionTimeout did. */
typedef enum pq_timeout_kind {
  PQ_TIMEOUT_NONE = 0, /* nothing due: the timer is unset */
  PQ_TIMEOUT_LOSS,     /* time-threshold loss detection ran in a space */
  PQ_TIMEOUT_PTO,      /* a PTO fired: probes asked in a space, pto_count backed off */
} pq_timeout_kind;

/* The timer fired (now >= rec->timer): time-threshold losses, or a PTO that asks for
 * probes in rec->probes and backs off (RFC 9002 OnLossDetectionTimeout). Returns what
 * it did and, unless NONE, its space in *|space| (may be NULL). */
pq_timeout_kind pq_recovery_on_timeout_ex(pq_recovery *rec, pq_tstamp now, pq_pnspace *space);

/* pq_recovery_on_timeout_ex without the result. */
void pq_recovery_on_timeout(pq_recovery *rec, pq_tstamp now);

/* Keys of |space| were discarded: every packet leaves flight through on_discarded, the
 * space's timers reset, pto_count returns to 0 (RFC 9002 §6.4). */
void pq_recovery_discard_space(pq_recovery *rec, pq_pnspace space, pq_tstamp now);

/* Forgets every packet of |space| (on_discarded) and its timers, keeping the space
 * usable and its packet numbers going: a client after a Retry (RFC 9002 §6.3). */
void pq_recovery_forget_space(pq_recovery *rec, pq_pnspace space, pq_tstamp now);

/* True if the peer has validated our address (server: always; client: handshake
 * confirmed or one of its Handshake packets acknowledged). */
bool pq_recovery_peer_validated(const pq_recovery *rec);

/* Ack-eliciting packets outstanding in any space. */
size_t pq_recovery_ack_eliciting_in_flight(const pq_recovery *rec);

#endif
