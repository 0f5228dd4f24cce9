/*
 * conn_harness.h: client and server pq_conn in one process over pq_sim, in virtual
 * time (included by the conn_*_test.c programs). The client opens 8 bidirectional
 * streams once established and sends |size| patterned bytes plus FIN on each; the
 * server checks every byte. A run ends when all FINs arrived or at a time bound.
 */
#ifndef PLUGINOP_CONN_HARNESS_H
#define PLUGINOP_CONN_HARNESS_H

#include <stdlib.h>

#include "pq_conn.h"
#include "pq_sim.h"
#include "test.h"

#define MS UINT64_C(1000000)
#define MAX_STREAMS 16

typedef struct app {
  bool established, closed;
  pq_close_info close;
  /* receiver side: bytes checked per stream index, fins */
  uint64_t rx_bytes[MAX_STREAMS];
  bool rx_fin[MAX_STREAMS];
  int fins;
  bool bad;
} app;

typedef struct world {
  pq_sim sim;
  pq_server *server;
  pq_conn *client, *sconn;
  app capp, sapp;
  pq_tstamp now;
  /* client's streams */
  int nstreams;
  int64_t sid[MAX_STREAMS];
  uint64_t sent[MAX_STREAMS], size;
  bool fin_sent[MAX_STREAMS];
} world;

static uint8_t pattern(uint64_t sid, uint64_t off) { return (uint8_t)(sid * 131 + off * 7 + (off >> 9)); }

static void on_hs_done(pq_conn *c, void *user) { ((app *)user)->established = true; }

static int on_data(pq_conn *c, int64_t sid, const uint8_t *d, size_t len, bool fin,
                   void *user) {
  app *a = user;
  uint64_t idx = (uint64_t)sid >> 2;
  if (idx >= MAX_STREAMS) {
    a->bad = true;
    return 0;
  }
  for (size_t i = 0; i < len; i++)
    if (d[i] != pattern((uint64_t)sid, a->rx_bytes[idx] + i)) a->bad = true;
  a->rx_bytes[idx] += len;
  if (fin) {
    if (a->rx_fin[idx]) a->bad = true;
    a->rx_fin[idx] = true;
    a->fins++;
  }
  return 0;
}

static void on_closed(pq_conn *c, const pq_close_info *info, void *user) {
  app *a = user;
  a->closed = true;
  a->close = *info;
}

static const pq_callbacks cbs = {
    .handshake_done = on_hs_done, .stream_data = on_data, .connection_closed = on_closed};

/* Certificate files for TLS runs (made once per process by the test's main). */
static char harness_cert[256], harness_key[256];

/* Client and server over a fresh simulated link. |tls|: the real TLS 1.3 handshake
 * (GnuTLS, the client verifying the server's certificate for "localhost"); otherwise
 * the insecure null handshake. */
static void world_init_ex(world *w, uint64_t seed, const pq_sim_config *c2s,
                          const pq_sim_config *s2c, bool tls) {
  pq_settings st;
  pq_path path;
  memset(w, 0, sizeof(*w));
  pq_sim_init(&w->sim, c2s, s2c, seed);
  pq_settings_default(&st);
  memset(&path, 0, sizeof(path));
  if (tls) {
    CHECK_INT(0, ==, pq_server_new(&w->server, &st, &cbs, harness_cert, harness_key, &w->sapp));
    CHECK_INT(0, ==, pq_conn_client_new(&w->client, &st, &cbs, &path, "localhost",
                                        harness_cert, false, &w->capp, 0));
  } else {
    CHECK_INT(0, ==, pq_server_new(&w->server, &st, &cbs, NULL, NULL, &w->sapp));
    pq_server_set_hs(w->server, &pq_hs_null);
    CHECK_INT(0, ==, pq_conn_client_new_ex(&w->client, &st, &cbs, &path, &pq_hs_null, NULL,
                                           &w->capp, 0));
  }
}

static inline void world_init(world *w, uint64_t seed, const pq_sim_config *c2s,
                       const pq_sim_config *s2c) {
  world_init_ex(w, seed, c2s, s2c, false);
}

static void world_free(world *w) {
  pq_conn_del(w->client);
  pq_server_del(w->server);
  pq_sim_free(&w->sim);
}

/* The client's application: open streams once established, keep writing. */
static void client_app(world *w) {
  if (!pq_conn_is_established(w->client)) return;
  while (w->nstreams < (int)(sizeof(w->sid) / sizeof(w->sid[0])) && w->size &&
         w->nstreams < MAX_STREAMS && w->sid[w->nstreams] == 0 && w->nstreams < 8) {
    int64_t id;
    if (pq_conn_open_stream(w->client, true, &id) != 0) break;
    w->sid[w->nstreams++] = id;
  }
  for (int i = 0; i < w->nstreams; i++) {
    uint8_t buf[4096];
    while (!w->fin_sent[i]) {
      uint64_t left = w->size - w->sent[i];
      size_t n = left < sizeof(buf) ? (size_t)left : sizeof(buf);
      ssize_t k;
      for (size_t j = 0; j < n; j++) buf[j] = pattern((uint64_t)w->sid[i], w->sent[i] + j);
      k = pq_conn_stream_write(w->client, w->sid[i], buf, n, n == left);
      if (k < 0) {
        w->capp.bad = true;
        return;
      }
      w->sent[i] += (uint64_t)k;
      if ((size_t)k == n && n == left) w->fin_sent[i] = true;
      if ((size_t)k < n || n == 0) break;
    }
  }
}

static void flush(world *w) {
  uint8_t buf[1500];
  pq_path p;
  ssize_t n;
  for (int guard = 0; guard < 1000; guard++) {
    bool any = false;
    if ((n = pq_conn_write(w->client, &p, buf, sizeof(buf), w->now)) > 0) {
      pq_sim_send(&w->sim, PQ_SIM_C2S, buf, (size_t)n, w->now);
      any = true;
    }
    if (w->sconn && (n = pq_conn_write(w->sconn, &p, buf, sizeof(buf), w->now)) > 0) {
      pq_sim_send(&w->sim, PQ_SIM_S2C, buf, (size_t)n, w->now);
      any = true;
    }
    if (!any) return;
  }
}

/* Runs until |done| or |limit|; returns true if done. */
static bool run_until(world *w, bool (*done)(world *), pq_tstamp limit) {
  uint8_t buf[2048];
  while (w->now <= limit) {
    ptrdiff_t n;
    pq_tstamp next, t;
    while ((n = pq_sim_recv(&w->sim, PQ_SIM_C2S, w->now, buf, sizeof(buf))) >= 0) {
      pq_conn *c = NULL;
      pq_path path;
      memset(&path, 0, sizeof(path));
      pq_server_read(w->server, &path, buf, (size_t)n, w->now, &c);
      if (c && !w->sconn) w->sconn = c;
    }
    while ((n = pq_sim_recv(&w->sim, PQ_SIM_S2C, w->now, buf, sizeof(buf))) >= 0)
      pq_conn_read(w->client, NULL, buf, (size_t)n, w->now);
    if (pq_conn_expiry(w->client) <= w->now) pq_conn_handle_expiry(w->client, w->now);
    if (w->sconn && pq_conn_expiry(w->sconn) <= w->now) pq_conn_handle_expiry(w->sconn, w->now);
    if (w->capp.established && w->sapp.established) w->sim.handshake = false;
    client_app(w);
    flush(w);
    if (done(w)) return true;
    next = pq_sim_next_any(&w->sim);
    if ((t = pq_conn_expiry(w->client)) < next) next = t;
    if (w->sconn && (t = pq_conn_expiry(w->sconn)) < next) next = t;
    if (next == PQ_TSTAMP_NEVER) return false;
    w->now = next > w->now ? next : w->now + 1;
  }
  return false;
}

static bool both_established(world *w) {
  return pq_conn_is_established(w->client) && w->sconn && pq_conn_is_established(w->sconn) &&
         w->client->hs_confirmed;
}

static bool all_received(world *w) {
  return w->nstreams > 0 && w->sapp.fins == w->nstreams;
}

static pq_sim_config sim_link(uint64_t delay) {
  pq_sim_config c;
  memset(&c, 0, sizeof(c));
  c.delay = delay;
  c.bandwidth = 10000000;
  c.queue_bytes = 64000;
  c.mtu = 1500;
  return c;
}

/* One seeded run under impairments drawn from the seed. Returns true when every byte
 * arrived within the bound. */
static bool seeded_run_ex(uint64_t seed, bool verbose, bool tls, uint64_t size) {
  world w;
  pq_sim_config c2s, s2c;
  pq_sim tmp;
  bool ok;
  memset(&c2s, 0, sizeof(c2s));
  pq_sim_init(&tmp, &c2s, &c2s, seed * 7919 + 13);
  c2s = sim_link((1 + pq_sim_rand_below(&tmp, 50)) * MS);
  c2s.bandwidth = (2 + pq_sim_rand_below(&tmp, 30)) * 1000000;
  c2s.loss_ppm = (uint32_t)pq_sim_rand_below(&tmp, 50001);
  c2s.handshake_loss_ppm = 300000;
  c2s.reorder_ppm = (uint32_t)pq_sim_rand_below(&tmp, 50001);
  c2s.reorder_delay = pq_sim_rand_below(&tmp, 5 * MS);
  c2s.dup_ppm = (uint32_t)pq_sim_rand_below(&tmp, 20001);
  c2s.corrupt_ppm = (uint32_t)pq_sim_rand_below(&tmp, 20001);
  s2c = c2s;
  s2c.loss_ppm = (uint32_t)pq_sim_rand_below(&tmp, 50001);
  pq_sim_free(&tmp);
  world_init_ex(&w, seed, &c2s, &s2c, tls);
  w.size = size;
  ok = run_until(&w, all_received, 60000 * MS) && !w.sapp.bad && !w.capp.bad;
  if (ok)
    for (int i = 0; i < w.nstreams; i++) ok = ok && w.sapp.rx_bytes[i] == w.size;
  if (!ok && verbose)
    fprintf(stderr, "seed %llu: now=%llu ms est=%d/%d fins=%d bad=%d/%d closed=%d/%d\n",
            (unsigned long long)seed, (unsigned long long)(w.now / MS), w.capp.established,
            w.sapp.established, w.sapp.fins, w.sapp.bad, w.capp.bad, w.capp.closed,
            w.sapp.closed);
  if (!ok && verbose) fprintf(stderr, "  server close: peer=%d app=%d err=0x%llx idle=%d\n", w.sapp.close.by_peer, w.sapp.close.application, (unsigned long long)w.sapp.close.error_code, w.sapp.close.idle_timeout);
  world_free(&w);
  return ok;
}


#endif
