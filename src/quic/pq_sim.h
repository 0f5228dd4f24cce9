/*
 * pq_sim.h: a deterministic simulated link in virtual time, for tests.
 *
 * Two directions (client to server, server to client), each with its own settings:
 * propagation delay, bandwidth (serialization time and a tail-drop queue limit), loss
 * (with a separate rate while the test says the handshake runs), reordering (extra
 * delay for a fraction of datagrams), duplication and corruption (one bit flipped).
 * Everything random comes from one seeded generator, so a seed replays exactly: the
 * same sends at the same times give the same deliveries (pq_sim.trace is a hash of
 * every event, to compare runs).
 */
#ifndef PLUGINOP_PQ_SIM_H
#define PLUGINOP_PQ_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pluginop/quic.h"

#define PQ_SIM_PPM 1000000u /* probabilities are in parts per million */

enum { PQ_SIM_C2S = 0, PQ_SIM_S2C = 1 };

typedef struct pq_sim_config {
  uint64_t delay;               /* one-way propagation delay, ns */
  uint64_t bandwidth;           /* bits per second; 0 = infinite */
  uint64_t queue_bytes;         /* bytes that may wait for the link; 0 = unlimited */
  uint32_t loss_ppm;            /* random loss */
  uint32_t handshake_loss_ppm;  /* loss instead of loss_ppm while sim.handshake */
  uint32_t reorder_ppm;         /* these get reorder_delay more (so later ones pass) */
  uint64_t reorder_delay;       /* ns */
  uint32_t dup_ppm;             /* delivered twice (the copy a bit later) */
  uint32_t corrupt_ppm;         /* one random bit flipped */
  size_t mtu;                   /* larger datagrams are dropped; 0 = no limit */
} pq_sim_config;

typedef struct pq_sim_dgram {
  pq_tstamp at;                 /* delivery time */
  uint64_t seq;                 /* tie-break: equal times deliver in send order */
  size_t len;
  uint8_t *data;
} pq_sim_dgram;

typedef struct pq_sim_stats {
  uint64_t sent, delivered, lost, queue_drops, too_big, duplicated, corrupted, reordered;
  uint64_t bytes_sent, bytes_delivered;
} pq_sim_stats;

typedef struct pq_sim_dir {
  pq_sim_config cfg;
  pq_tstamp link_free;          /* when the link finishes serializing what it has */
  pq_sim_dgram *q;              /* sorted by (at, seq) descending: next is q[n-1] */
  size_t n, cap;
  pq_sim_stats stats;
} pq_sim_dir;

typedef struct pq_sim {
  uint64_t rng;
  uint64_t seq;
  bool handshake;               /* handshake_loss_ppm applies (the test clears it) */
  pq_sim_dir dir[2];
  uint64_t trace;               /* running hash of every send/drop/delivery */
} pq_sim;

/* Initialises |sim| with the settings of each direction (copied) and |seed|. The
 * handshake flag starts set. */
void pq_sim_init(pq_sim *sim, const pq_sim_config *c2s, const pq_sim_config *s2c,
                 uint64_t seed);
/* Frees the datagrams still in flight. */
void pq_sim_free(pq_sim *sim);

/* The next pseudo-random 64-bit value (splitmix64), and a value below |n| (n > 0). */
uint64_t pq_sim_rand(pq_sim *sim);
uint64_t pq_sim_rand_below(pq_sim *sim, uint64_t n);

/* Puts a datagram (copied) on direction |dir| at |now|; it may be lost, dropped by the
 * queue, corrupted or duplicated. Returns 0 (also when dropped), PQ_ERR_INVALID_ARG
 * (bad direction) or PQ_ERR_NOMEM. */
int pq_sim_send(pq_sim *sim, int dir, const uint8_t *data, size_t len, pq_tstamp now);

/* Delivery time of the next datagram on |dir| (NEVER if none), and of either. */
pq_tstamp pq_sim_next(const pq_sim *sim, int dir);
pq_tstamp pq_sim_next_any(const pq_sim *sim);

/* Takes the next datagram of |dir| due at |now| into |buf| (|cap| bytes; a longer one
 * is truncated to |cap|). Returns its length, or -1 if nothing is due. */
ptrdiff_t pq_sim_recv(pq_sim *sim, int dir, pq_tstamp now, uint8_t *buf, size_t cap);

#endif
