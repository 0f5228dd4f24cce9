/*
 * pq_sim.c: the simulated link.
 */
#include "pq_sim.h"

#include <stdlib.h>
#include <string.h>

void pq_sim_init(pq_sim *sim, const pq_sim_config *c2s, const pq_sim_config *s2c,
                 uint64_t seed) {
  memset(sim, 0, sizeof(*sim));
  sim->rng = seed;
  sim->handshake = true;
  sim->trace = UINT64_C(0xcbf29ce484222325);
  sim->dir[PQ_SIM_C2S].cfg = *c2s;
  sim->dir[PQ_SIM_S2C].cfg = *s2c;
}

void pq_sim_free(pq_sim *sim) {
  for (int d = 0; d < 2; d++) {
    for (size_t i = 0; i < sim->dir[d].n; i++) free(sim->dir[d].q[i].data);
    free(sim->dir[d].q);
    sim->dir[d].q = NULL;
    sim->dir[d].n = sim->dir[d].cap = 0;
  }
}

uint64_t pq_sim_rand(pq_sim *sim) {
  /* splitmix64: a Weyl sequence through a bijective mixer. */
  uint64_t z = (sim->rng += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

uint64_t pq_sim_rand_below(pq_sim *sim, uint64_t n) {
  return n ? pq_sim_rand(sim) % n : 0;
}

/* True with probability |ppm| / 10^6. It always draws, even for 0 or 10^6. */
static bool chance(pq_sim *sim, uint32_t ppm) {
  return pq_sim_rand_below(sim, PQ_SIM_PPM) < ppm;
}

static void trace_mix(pq_sim *sim, uint64_t v) {
  for (int i = 0; i < 8; i++) {
    sim->trace ^= (v >> (8 * i)) & 0xff;
    sim->trace *= UINT64_C(0x100000001b3); /* FNV-1a prime */
  }
}

/* Inserts keeping q sorted by (at, seq) descending, so the next delivery is last. */
static int enqueue(pq_sim_dir *d, pq_sim_dgram *g) {
  size_t lo = 0, hi = d->n;
  if (d->n == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 64;
    pq_sim_dgram *q = realloc(d->q, cap * sizeof(*q));
    if (!q) return PQ_ERR_NOMEM;
    d->q = q;
    d->cap = cap;
  }
  while (lo < hi) { /* first index whose element is "earlier" than g */
    size_t mid = lo + (hi - lo) / 2;
    const pq_sim_dgram *m = &d->q[mid];
    bool m_later = m->at > g->at || (m->at == g->at && m->seq > g->seq);
    if (m_later) lo = mid + 1;
    else hi = mid;
  }
  memmove(&d->q[lo + 1], &d->q[lo], (d->n - lo) * sizeof(*g));
  d->q[lo] = *g;
  d->n++;
  return 0;
}

static int put(pq_sim *sim, pq_sim_dir *d, const uint8_t *data, size_t len, pq_tstamp at,
               bool corrupt, uint64_t flip) {
  pq_sim_dgram g;
  int rv;
  g.data = malloc(len ? len : 1);
  if (!g.data) return PQ_ERR_NOMEM;
  memcpy(g.data, data, len);
  if (corrupt && len) g.data[(flip >> 3) % len] ^= (uint8_t)(1u << (flip & 7));
  g.len = len;
  g.at = at;
  g.seq = sim->seq++;
  rv = enqueue(d, &g);
  if (rv) free(g.data);
  return rv;
}

int pq_sim_send(pq_sim *sim, int dir, const uint8_t *data, size_t len, pq_tstamp now) {
  pq_sim_dir *d;
  const pq_sim_config *c;
  bool lost, reorder, dup, corrupt;
  uint64_t flip, dup_extra, reorder_extra;
  pq_tstamp depart;
  int rv;
  if (dir != PQ_SIM_C2S && dir != PQ_SIM_S2C) return PQ_ERR_INVALID_ARG;
  d = &sim->dir[dir];
  c = &d->cfg;
  /* Every draw happens for every datagram, in a fixed order, so one outcome never
   * shifts the random sequence of the others. */
  lost = chance(sim, sim->handshake ? c->handshake_loss_ppm : c->loss_ppm);
  reorder = chance(sim, c->reorder_ppm);
  dup = chance(sim, c->dup_ppm);
  corrupt = chance(sim, c->corrupt_ppm);
  flip = pq_sim_rand(sim);
  reorder_extra = pq_sim_rand_below(sim, c->reorder_delay + 1);
  dup_extra = pq_sim_rand_below(sim, c->delay / 2 + 1);
  d->stats.sent++;
  d->stats.bytes_sent += len;
  trace_mix(sim, ((uint64_t)dir << 62) ^ now);
  trace_mix(sim, len);
  if (c->mtu && len > c->mtu) {
    d->stats.too_big++;
    return 0;
  }
  /* The link serializes one datagram after another; what waits beyond the queue
   * limit is dropped at the tail. */
  if (d->link_free < now) d->link_free = now;
  if (c->bandwidth) {
    uint64_t backlog = (d->link_free - now) * c->bandwidth / (8 * UINT64_C(1000000000));
    if (c->queue_bytes && backlog + len > c->queue_bytes) {
      d->stats.queue_drops++;
      trace_mix(sim, 1);
      return 0;
    }
    d->link_free += (uint64_t)len * 8 * UINT64_C(1000000000) / c->bandwidth;
  }
  depart = d->link_free;
  if (lost) {
    d->stats.lost++;
    trace_mix(sim, 2);
    return 0;
  }
  if (reorder && c->reorder_delay) d->stats.reordered++;
  if (corrupt) d->stats.corrupted++;
  rv = put(sim, d, data, len, depart + c->delay + (reorder ? reorder_extra : 0), corrupt,
           flip);
  if (rv) return rv;
  if (dup) {
    d->stats.duplicated++;
    rv = put(sim, d, data, len, depart + c->delay + dup_extra, false, 0);
  }
  return rv;
}

pq_tstamp pq_sim_next(const pq_sim *sim, int dir) {
  const pq_sim_dir *d;
  if (dir != PQ_SIM_C2S && dir != PQ_SIM_S2C) return PQ_TSTAMP_NEVER;
  d = &sim->dir[dir];
  return d->n ? d->q[d->n - 1].at : PQ_TSTAMP_NEVER;
}

pq_tstamp pq_sim_next_any(const pq_sim *sim) {
  pq_tstamp a = pq_sim_next(sim, PQ_SIM_C2S), b = pq_sim_next(sim, PQ_SIM_S2C);
  return a < b ? a : b;
}

ptrdiff_t pq_sim_recv(pq_sim *sim, int dir, pq_tstamp now, uint8_t *buf, size_t cap) {
  pq_sim_dir *d;
  pq_sim_dgram g;
  size_t n;
  if (dir != PQ_SIM_C2S && dir != PQ_SIM_S2C) return -1;
  d = &sim->dir[dir];
  if (d->n == 0 || d->q[d->n - 1].at > now) return -1;
  g = d->q[--d->n];
  n = g.len < cap ? g.len : cap;
  memcpy(buf, g.data, n);
  free(g.data);
  d->stats.delivered++;
  d->stats.bytes_delivered += g.len;
  trace_mix(sim, ((uint64_t)dir << 62) ^ g.at);
  trace_mix(sim, g.len);
  /* The first bytes identify the datagram well enough and keep big runs cheap. */
  for (size_t i = 0; i < n && i < 64; i++) {
    sim->trace ^= buf[i];
    sim->trace *= UINT64_C(0x100000001b3);
  }
  return (ptrdiff_t)n;
}
