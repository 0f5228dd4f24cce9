/*
 * pq_recovery.c: RTT estimation, sent-packet tracking, loss detection and PTO
 * (RFC 9002 Appendix A, written from the RFC's text).
 */
#include "pq_recovery.h"

#include <stdlib.h>
#include <string.h>

enum { PKT_OUTSTANDING = 0, PKT_ACKED = 1, PKT_LOST = 2 };

/* Packets handed to congestion control per call: bounded so no allocation is needed on
 * the ACK path. */
#define CC_BATCH 64

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }
static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* ---- RTT ---- */

void pq_rtt_init(pq_rtt *rtt, uint64_t initial_rtt) {
  if (initial_rtt == 0) initial_rtt = PQ_INITIAL_RTT;
  memset(rtt, 0, sizeof(*rtt));
  rtt->smoothed = initial_rtt;
  rtt->var = initial_rtt / 2;
}

void pq_rtt_update(pq_rtt *rtt, uint64_t latest_rtt, uint64_t ack_delay,
                   bool handshake_confirmed, uint64_t max_ack_delay, pq_tstamp now) {
  uint64_t adjusted, diff;
  rtt->latest = latest_rtt;
  if (!rtt->has_sample) {
    rtt->has_sample = true;
    rtt->first_sample_time = now;
    rtt->min = latest_rtt;
    rtt->smoothed = latest_rtt;
    rtt->var = latest_rtt / 2;
    return;
  }
  /* min_rtt ignores ack delay: it must not underestimate the path. */
  if (latest_rtt < rtt->min) rtt->min = latest_rtt;
  if (handshake_confirmed) ack_delay = min_u64(ack_delay, max_ack_delay);
  adjusted = latest_rtt;
  if (latest_rtt >= rtt->min + ack_delay) adjusted = latest_rtt - ack_delay;
  diff = rtt->smoothed > adjusted ? rtt->smoothed - adjusted : adjusted - rtt->smoothed;
  rtt->var = (3 * rtt->var + diff) / 4;
  rtt->smoothed = (7 * rtt->smoothed + adjusted) / 8;
}

uint64_t pq_rtt_pto_base(const pq_rtt *rtt) {
  return rtt->smoothed + max_u64(4 * rtt->var, PQ_GRANULARITY);
}

/* ---- lifecycle ---- */

int pq_recovery_init(pq_recovery *rec, pq_cc *cc, const pq_recovery_callbacks *cb,
                     void *user, bool is_server, uint64_t initial_rtt) {
  memset(rec, 0, sizeof(*rec));
  if (!cc || !cb || !cb->on_acked || !cb->on_lost || !cb->on_discarded)
    return PQ_ERR_INVALID_ARG;
  pq_rtt_init(&rec->rtt, initial_rtt);
  rec->cc = cc;
  rec->cb = *cb;
  rec->user = user;
  rec->is_server = is_server;
  rec->peer_max_ack_delay = 25 * PQ_MS; /* RFC 9000 §18.2 default until the TP arrives */
  rec->timer = PQ_TSTAMP_NEVER;
  for (int s = 0; s < PQ_PNS_COUNT; s++) {
    rec->spaces[s].loss_time = PQ_TSTAMP_NEVER;
    rec->spaces[s].last_ack_eliciting = PQ_TSTAMP_NEVER;
  }
  return 0;
}

static void drop_all(pq_recovery *rec, pq_pnspace space) {
  pq_recovery_space *sp = &rec->spaces[space];
  for (size_t i = 0; i < sp->sent.n; i++) {
    pq_sent_pkt *p = &sp->sent.v[i];
    if (p->in_flight) pq_cc_remove_in_flight(rec->cc, p->bytes);
    rec->cb.on_discarded(rec->user, space, p);
  }
  sp->sent.n = 0;
  sp->ack_eliciting_in_flight = 0;
}

void pq_recovery_free(pq_recovery *rec) {
  for (int s = 0; s < PQ_PNS_COUNT; s++) {
    if (rec->cb.on_discarded) drop_all(rec, (pq_pnspace)s);
    free(rec->spaces[s].sent.v);
    rec->spaces[s].sent.v = NULL;
    rec->spaces[s].sent.cap = 0;
  }
}

bool pq_recovery_peer_validated(const pq_recovery *rec) {
  return rec->is_server || rec->handshake_confirmed || rec->handshake_acked;
}

size_t pq_recovery_ack_eliciting_in_flight(const pq_recovery *rec) {
  size_t n = 0;
  for (int s = 0; s < PQ_PNS_COUNT; s++) n += rec->spaces[s].ack_eliciting_in_flight;
  return n;
}

/* ---- sending ---- */

static int sent_list_reserve(pq_sent_list *l) {
  pq_sent_pkt *v;
  size_t cap;
  if (l->n < l->cap) return 0;
  cap = l->cap ? l->cap * 2 : 32;
  v = realloc(l->v, cap * sizeof(*v));
  if (!v) return PQ_ERR_NOMEM;
  l->v = v;
  l->cap = cap;
  return 0;
}

int pq_recovery_on_packet_sent(pq_recovery *rec, pq_pnspace space, const pq_sent_pkt *pkt,
                               pq_tstamp now) {
  pq_recovery_space *sp;
  pq_sent_pkt *p;
  if ((unsigned)space >= PQ_PNS_COUNT) return PQ_ERR_INVALID_ARG;
  sp = &rec->spaces[space];
  if (sp->discarded || pkt->pn < sp->next_pn) return PQ_ERR_INVALID_ARG;
  if (sent_list_reserve(&sp->sent) != 0) return PQ_ERR_NOMEM;
  p = &sp->sent.v[sp->sent.n++];
  *p = *pkt;
  p->state = PKT_OUTSTANDING;
  p->ack_after = false;
  sp->next_pn = pkt->pn + 1;
  if (p->in_flight) {
    if (p->ack_eliciting) {
      sp->last_ack_eliciting = pkt->sent_time;
      sp->ack_eliciting_in_flight++;
      if (rec->probes[space] > 0) rec->probes[space]--;
    }
    pq_cc_on_packet_sent(rec->cc, p->bytes, now);
    pq_recovery_set_timer(rec, now);
  }
  return 0;
}

/* ---- acknowledgments ---- */

/* Index of the first packet with pn >= |pn| (binary search: the list is sorted). */
static size_t lower_bound(const pq_sent_list *l, uint64_t pn) {
  size_t lo = 0, hi = l->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (l->v[mid].pn < pn) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* Leaves flight: the space's count of ack-eliciting packets outstanding. */
static void leave_flight(pq_recovery_space *sp, const pq_sent_pkt *p) {
  if (p->in_flight && p->ack_eliciting && sp->ack_eliciting_in_flight > 0)
    sp->ack_eliciting_in_flight--;
}

/* Removes the entries in state |state|, keeping order. An acked entry leaves the
 * "ack_after" mark on the previous kept entry, so persistent congestion knows an
 * acknowledgment fell between two packets even after the acked one is gone. */
static void compact(pq_sent_list *l, uint8_t state) {
  size_t w = 0;
  pq_sent_pkt *prev = NULL;
  for (size_t r = 0; r < l->n; r++) {
    pq_sent_pkt *p = &l->v[r];
    if (p->state == state) {
      if (prev && (p->state == PKT_ACKED || p->ack_after)) prev->ack_after = true;
      continue;
    }
    if (w != r) l->v[w] = *p;
    prev = &l->v[w++];
  }
  l->n = w;
}

/* Marks the packets of one span acked. Returns how many were newly acked; sets
 * *largest_newly when the span's top packet was, *eliciting when any was. */
static size_t ack_span(pq_recovery *rec, pq_pnspace space, const pq_ack_span *span,
                       pq_tstamp now, uint64_t *largest_pn, pq_tstamp *largest_sent,
                       bool *eliciting) {
  pq_recovery_space *sp = &rec->spaces[space];
  size_t n = 0;
  for (size_t i = lower_bound(&sp->sent, span->smallest);
       i < sp->sent.n && sp->sent.v[i].pn <= span->largest; i++) {
    pq_sent_pkt *p = &sp->sent.v[i];
    if (p->state != PKT_OUTSTANDING) continue;
    p->state = PKT_ACKED;
    leave_flight(sp, p);
    if (p->ack_eliciting) *eliciting = true;
    if (n == 0 || p->pn > *largest_pn) {
      *largest_pn = p->pn;
      *largest_sent = p->sent_time;
    }
    n++;
    rec->cb.on_acked(rec->user, space, p, now);
  }
  return n;
}

/* Feeds the acked packets in flight to congestion control, in bounded batches. */
static void cc_acked(pq_recovery *rec, pq_recovery_space *sp, pq_tstamp now) {
  pq_cc_pkt batch[CC_BATCH];
  size_t nb = 0;
  for (size_t i = 0; i < sp->sent.n; i++) {
    const pq_sent_pkt *p = &sp->sent.v[i];
    if (p->state != PKT_ACKED || !p->in_flight) continue;
    batch[nb].pn = p->pn;
    batch[nb].bytes = p->bytes;
    batch[nb].sent_time = p->sent_time;
    if (++nb == CC_BATCH) {
      pq_cc_on_packets_acked(rec->cc, batch, nb, now);
      nb = 0;
    }
  }
  if (nb) pq_cc_on_packets_acked(rec->cc, batch, nb, now);
}

int pq_recovery_on_ack(pq_recovery *rec, pq_pnspace space, const pq_ack_span *spans,
                       size_t nspans, uint64_t ack_delay, pq_tstamp now) {
  pq_recovery_space *sp;
  uint64_t frame_largest = 0, largest_pn = 0;
  pq_tstamp largest_sent = 0;
  bool eliciting = false;
  size_t newly = 0;
  if ((unsigned)space >= PQ_PNS_COUNT) return PQ_ERR_INVALID_ARG;
  sp = &rec->spaces[space];
  for (size_t i = 0; i < nspans; i++) {
    if (spans[i].smallest > spans[i].largest || spans[i].largest >= sp->next_pn)
      return PQ_ERR_PROTOCOL_VIOLATION; /* acks a packet we never sent */
    if (spans[i].largest > frame_largest) frame_largest = spans[i].largest;
  }
  if (nspans == 0 || sp->discarded) return 0;
  if (!sp->has_largest_acked || frame_largest > sp->largest_acked) {
    sp->largest_acked = frame_largest;
    sp->has_largest_acked = true;
  }
  for (size_t i = 0; i < nspans; i++) {
    uint64_t lpn = 0;
    pq_tstamp lsent = 0;
    size_t k = ack_span(rec, space, &spans[i], now, &lpn, &lsent, &eliciting);
    if (k && (newly == 0 || lpn > largest_pn)) {
      largest_pn = lpn;
      largest_sent = lsent;
    }
    newly += k;
  }
  if (newly == 0) return 0;
  if (space == PQ_PNS_HANDSHAKE) rec->handshake_acked = true;
  /* An RTT sample only when the frame's largest is newly acked and the ACK was
   * caused by an ack-eliciting packet (RFC 9002 §5.1). */
  if (largest_pn == frame_largest && eliciting && now >= largest_sent) {
    if (rec->rtt_hook)
      rec->rtt_hook(rec->user, now - largest_sent,
                         space == PQ_PNS_INITIAL ? 0 : ack_delay, now);
    else
      pq_rtt_update(&rec->rtt, now - largest_sent, space == PQ_PNS_INITIAL ? 0 : ack_delay,
                    rec->handshake_confirmed, rec->peer_max_ack_delay, now);
    rec->cc->smoothed_rtt = rec->rtt.smoothed; /* delay-aware controllers (CUBIC) */
  }
  pq_recovery_detect_lost(rec, space, now);
  cc_acked(rec, sp, now);
  compact(&sp->sent, PKT_ACKED);
  if (pq_recovery_peer_validated(rec)) rec->pto_count = 0;
  pq_recovery_set_timer(rec, now);
  return 0;
}

/* ---- loss detection ---- */

uint64_t pq_recovery_loss_delay(const pq_recovery *rec) {
  uint64_t d = max_u64(rec->rtt.latest, rec->rtt.smoothed);
  d = d * PQ_TIME_THRESHOLD_NUM / PQ_TIME_THRESHOLD_DEN;
  return max_u64(d, PQ_GRANULARITY);
}

/* Persistent congestion (RFC 9002 §7.6) is tracked over runs of lost packets with no
 * outstanding or acknowledged packet between them; only packets sent after the first
 * RTT sample count, and a run's ends must be ack-eliciting. */
typedef struct pc_run {
  bool open;
  bool has_first;
  pq_tstamp first, last; /* sent times of the first/last ack-eliciting lost packets */
  bool prev_ack_after;
  bool found;
} pc_run;

static uint64_t persistent_duration(const pq_recovery *rec) {
  return (pq_rtt_pto_base(&rec->rtt) + rec->peer_max_ack_delay) *
         PQ_PERSISTENT_CONGESTION_THRESHOLD;
}

static void pc_break(pc_run *r) {
  r->open = false;
  r->has_first = false;
}

static void pc_add_lost(const pq_recovery *rec, pc_run *r, const pq_sent_pkt *p) {
  if (!rec->rtt.has_sample || p->sent_time <= rec->rtt.first_sample_time) return;
  if (r->open && r->prev_ack_after) pc_break(r);
  r->open = true;
  r->prev_ack_after = p->ack_after;
  if (!p->ack_eliciting) return;
  if (!r->has_first) {
    r->has_first = true;
    r->first = p->sent_time;
  }
  r->last = p->sent_time;
  if (r->last - r->first >= persistent_duration(rec)) r->found = true;
}

/* Reports the lost packets (state PKT_LOST) to congestion control in batches; the
 * persistent-congestion verdict goes with the last batch. */
static void cc_lost(pq_recovery *rec, pq_recovery_space *sp, bool persistent,
                    pq_tstamp now) {
  pq_cc_pkt batch[CC_BATCH];
  size_t nb = 0, left = 0;
  for (size_t i = 0; i < sp->sent.n; i++)
    if (sp->sent.v[i].state == PKT_LOST && sp->sent.v[i].in_flight) left++;
  for (size_t i = 0; i < sp->sent.n && left; i++) {
    const pq_sent_pkt *p = &sp->sent.v[i];
    if (p->state != PKT_LOST || !p->in_flight) continue;
    batch[nb].pn = p->pn;
    batch[nb].bytes = p->bytes;
    batch[nb].sent_time = p->sent_time;
    nb++;
    left--;
    if (nb == CC_BATCH || left == 0) {
      pq_cc_on_packets_lost(rec->cc, batch, nb, persistent && left == 0, now);
      nb = 0;
    }
  }
}

void pq_recovery_detect_lost(pq_recovery *rec, pq_pnspace space, pq_tstamp now) {
  pq_recovery_space *sp = &rec->spaces[space];
  uint64_t loss_delay = pq_recovery_loss_delay(rec);
  pq_tstamp lost_send_time = now > loss_delay ? now - loss_delay : 0;
  pc_run run = {0};
  size_t nlost = 0;
  sp->loss_time = PQ_TSTAMP_NEVER;
  if (!sp->has_largest_acked) return;
  for (size_t i = 0; i < sp->sent.n; i++) {
    pq_sent_pkt *p = &sp->sent.v[i];
    if (p->pn > sp->largest_acked) break;
    if (p->state == PKT_ACKED) {
      pc_break(&run);
      continue;
    }
    if (p->state != PKT_OUTSTANDING) continue;
    if ((now >= loss_delay && p->sent_time <= lost_send_time) ||
        sp->largest_acked >= p->pn + PQ_PACKET_THRESHOLD) {
      p->state = PKT_LOST;
      leave_flight(sp, p);
      pc_add_lost(rec, &run, p);
      nlost++;
    } else {
      pc_break(&run);
      sp->loss_time = min_u64(sp->loss_time, p->sent_time + loss_delay);
    }
  }
  if (nlost == 0) return;
  rec->packets_lost += nlost;
  cc_lost(rec, sp, run.found, now);
  for (size_t i = 0; i < sp->sent.n; i++)
    if (sp->sent.v[i].state == PKT_LOST)
      rec->cb.on_lost(rec->user, space, &sp->sent.v[i], now);
  compact(&sp->sent, PKT_LOST);
}

/* ---- timers ---- */

/* Earliest time-threshold loss time and its space. */
static pq_tstamp loss_time_and_space(const pq_recovery *rec, pq_pnspace *space) {
  pq_tstamp t = PQ_TSTAMP_NEVER;
  for (int s = 0; s < PQ_PNS_COUNT; s++) {
    if (rec->spaces[s].loss_time < t) {
      t = rec->spaces[s].loss_time;
      *space = (pq_pnspace)s;
    }
  }
  return t;
}

static uint64_t backoff(uint64_t d, uint32_t pto_count) {
  uint32_t k = pto_count < PQ_MAX_PTO_BACKOFF ? pto_count : PQ_MAX_PTO_BACKOFF;
  return d << k;
}

pq_tstamp pq_recovery_pto_time(const pq_recovery *rec, pq_tstamp now, pq_pnspace *space) {
  uint64_t duration = backoff(pq_rtt_pto_base(&rec->rtt), rec->pto_count);
  pq_tstamp best = PQ_TSTAMP_NEVER;
  *space = PQ_PNS_INITIAL;
  if (pq_recovery_ack_eliciting_in_flight(rec) == 0) {
    /* Anti-deadlock (client): the server may be blocked by the amplification limit
     * until we send something, so probe from now. */
    if (pq_recovery_peer_validated(rec)) return PQ_TSTAMP_NEVER;
    *space = rec->has_handshake_keys ? PQ_PNS_HANDSHAKE : PQ_PNS_INITIAL;
    return now + duration;
  }
  for (int s = 0; s < PQ_PNS_COUNT; s++) {
    const pq_recovery_space *sp = &rec->spaces[s];
    pq_tstamp t;
    if (sp->ack_eliciting_in_flight == 0) continue;
    if (s == PQ_PNS_APP) {
      if (!rec->handshake_confirmed) break; /* no 1-RTT PTO before confirmation */
      duration += backoff(rec->peer_max_ack_delay, rec->pto_count);
    }
    t = sp->last_ack_eliciting + duration;
    if (t < best) {
      best = t;
      *space = (pq_pnspace)s;
    }
  }
  return best;
}

void pq_recovery_set_timer(pq_recovery *rec, pq_tstamp now) {
  pq_pnspace space;
  pq_tstamp t = loss_time_and_space(rec, &space);
  if (t != PQ_TSTAMP_NEVER) {
    rec->timer = t;
    return;
  }
  /* A server blocked by the amplification limit could not send a probe anyway; the
   * timer is re-armed when a datagram from the client lifts the limit. */
  if (rec->amplification_limited ||
      (pq_recovery_ack_eliciting_in_flight(rec) == 0 && pq_recovery_peer_validated(rec))) {
    rec->timer = PQ_TSTAMP_NEVER;
    return;
  }
  rec->timer = pq_recovery_pto_time(rec, now, &space);
}

pq_timeout_kind pq_recovery_on_timeout_ex(pq_recovery *rec, pq_tstamp now, pq_pnspace *out) {
  pq_pnspace space;
  pq_tstamp t = loss_time_and_space(rec, &space);
  if (t != PQ_TSTAMP_NEVER) {
    rec->loss_timer_expired++;
    pq_recovery_detect_lost(rec, space, now);
    pq_recovery_set_timer(rec, now);
    if (out) *out = space;
    return PQ_TIMEOUT_LOSS;
  }
  if (pq_recovery_pto_time(rec, now, &space) == PQ_TSTAMP_NEVER) {
    rec->timer = PQ_TSTAMP_NEVER;
    return PQ_TIMEOUT_NONE;
  }
  rec->pto_expired++;
  /* Two probes when something is in flight in that space (one could be lost too);
   * the anti-deadlock case needs only one. */
  rec->probes[space] = pq_recovery_ack_eliciting_in_flight(rec) ? 2 : 1;
  rec->pto_count++;
  pq_recovery_set_timer(rec, now);
  if (out) *out = space;
  return PQ_TIMEOUT_PTO;
}

void pq_recovery_on_timeout(pq_recovery *rec, pq_tstamp now) {
  pq_recovery_on_timeout_ex(rec, now, NULL);
}

void pq_recovery_discard_space(pq_recovery *rec, pq_pnspace space, pq_tstamp now) {
  pq_recovery_space *sp;
  if ((unsigned)space >= PQ_PNS_COUNT) return;
  sp = &rec->spaces[space];
  drop_all(rec, space);
  sp->discarded = true;
  sp->loss_time = PQ_TSTAMP_NEVER;
  sp->last_ack_eliciting = PQ_TSTAMP_NEVER;
  rec->probes[space] = 0;
  rec->pto_count = 0;
  pq_recovery_set_timer(rec, now);
}

void pq_recovery_forget_space(pq_recovery *rec, pq_pnspace space, pq_tstamp now) {
  pq_recovery_space *sp;
  if ((unsigned)space >= PQ_PNS_COUNT) return;
  sp = &rec->spaces[space];
  drop_all(rec, space);
  sp->loss_time = PQ_TSTAMP_NEVER;
  sp->last_ack_eliciting = PQ_TSTAMP_NEVER;
  rec->probes[space] = 0;
  rec->pto_count = 0;
  pq_recovery_set_timer(rec, now);
}
