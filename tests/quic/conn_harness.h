/*
 * conn_harness.h: client and server pq_conn in one process over pq_sim, in virtual
 * time (included by the conn_*_test.c programs).
 *
 * The client opens |nstreams| bidirectional streams once established and sends |size|
 * patterned bytes plus FIN on each; the server checks every byte and, with |echo|,
 * sends the same pattern back on the same stream, which the client checks in turn;
 * either way the server ends its side with FIN once it has the client's FIN. A run ends when its goal holds or at a bound
 * of simulated time. Everything random comes from the sim's seed.
 */
#ifndef PLUGINOP_CONN_HARNESS_H
#define PLUGINOP_CONN_HARNESS_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "pq_conn.h"
#include "pq_sim.h"
#include "test.h"

#define MS UINT64_C(1000000)
#define MAX_STREAMS 64

typedef struct app {
  bool established, closed;
  pq_close_info close;
  char close_reason[256];         /* close.reason, copied */
  uint64_t rx_bytes[MAX_STREAMS]; /* checked bytes per stream index (id >> 2) */
  bool rx_fin[MAX_STREAMS];
  int fins, opened;
  int resets;
  uint64_t last_reset_code;
  uint8_t token[256];             /* the last NEW_TOKEN */
  size_t token_len;
  bool bad;
} app;

typedef struct world {
  pq_sim sim;
  pq_server *server;
  pq_conn *client, *sconn;
  app capp, sapp;
  pq_tstamp now;
  /* the client application */
  int nstreams;                   /* target */
  int opened;
  int64_t sid[MAX_STREAMS];
  uint64_t sent[MAX_STREAMS], size;
  bool fin_sent[MAX_STREAMS];
  /* the server application */
  bool echo;
  uint64_t echoed[MAX_STREAMS];
  bool echo_fin[MAX_STREAMS];
  pq_path spath;                  /* what the server sees: the client at 10.0.0.1:1000 */
} world;

/* Sets |p|'s remote address to |ip|:|port| (IPv4, host order). */
static void set_remote(pq_path *p, uint32_t ip, uint16_t port) {
  struct sockaddr_in *a = (struct sockaddr_in *)&p->remote;
  memset(&p->remote, 0, sizeof(p->remote));
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(ip);
  a->sin_port = htons(port);
  p->remote_len = sizeof(*a);
}

static uint8_t pattern(uint64_t sid, uint64_t off) {
  return (uint8_t)(sid * 131 + off * 7 + (off >> 9));
}

static void on_hs_done(pq_conn *c, void *user) { ((app *)user)->established = true; }

static int on_data(pq_conn *c, int64_t sid, const uint8_t *d, size_t len, bool fin,
                   void *user) {
  app *a = user;
  uint64_t idx = (uint64_t)sid >> 2;
  if (idx >= MAX_STREAMS || (sid & 3) != 0) { /* only client bidi streams are used */
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

static void on_opened(pq_conn *c, int64_t sid, void *user) { ((app *)user)->opened++; }

static void on_reset(pq_conn *c, int64_t sid, uint64_t code, void *user) {
  app *a = user;
  a->resets++;
  a->last_reset_code = code;
}

static void on_token(pq_conn *c, const uint8_t *t, size_t len, void *user) {
  app *a = user;
  if (len <= sizeof(a->token)) {
    memcpy(a->token, t, len);
    a->token_len = len;
  }
}

static void on_closed(pq_conn *c, const pq_close_info *info, void *user) {
  app *a = user;
  a->closed = true;
  a->close = *info;
  snprintf(a->close_reason, sizeof(a->close_reason), "%s", info->reason ? info->reason : "");
  a->close.reason = a->close_reason; /* info->reason is valid during the callback only */
}

static const pq_callbacks cbs = {.handshake_done = on_hs_done,
                                 .stream_data = on_data,
                                 .stream_opened = on_opened,
                                 .stream_reset = on_reset,
                                 .new_token = on_token,
                                 .connection_closed = on_closed};

/* Certificate files for TLS runs (made once per process by the test's main). */
static char harness_cert[256], harness_key[256];

/* Client and server over a fresh simulated link. |st|: settings for both (NULL:
 * defaults). |tls|: the real TLS 1.3 handshake (GnuTLS, the client verifying the
 * server's certificate for "localhost"); otherwise the insecure null handshake. */
static void world_init_ex(world *w, uint64_t seed, const pq_sim_config *c2s,
                          const pq_sim_config *s2c, bool tls, const pq_settings *st) {
  pq_settings def;
  pq_path path;
  memset(w, 0, sizeof(*w));
  set_remote(&w->spath, 0x0a000001, 1000);
  pq_sim_init(&w->sim, c2s, s2c, seed);
  pq_settings_default(&def);
  if (!st) st = &def;
  memset(&path, 0, sizeof(path));
  w->nstreams = 8;
  if (tls) {
    CHECK_INT(0, ==, pq_server_new(&w->server, st, &cbs, harness_cert, harness_key, &w->sapp));
    CHECK_INT(0, ==, pq_conn_client_new(&w->client, st, &cbs, &path, "localhost",
                                        harness_cert, false, &w->capp, 0));
  } else {
    CHECK_INT(0, ==, pq_server_new(&w->server, st, &cbs, NULL, NULL, &w->sapp));
    pq_server_set_hs(w->server, &pq_hs_null);
    CHECK_INT(0, ==, pq_conn_client_new_ex(&w->client, st, &cbs, &path, &pq_hs_null, NULL,
                                           &w->capp, 0));
  }
}

static inline void world_init(world *w, uint64_t seed, const pq_sim_config *c2s,
                              const pq_sim_config *s2c) {
  world_init_ex(w, seed, c2s, s2c, false, NULL);
}

static void world_free(world *w) {
  pq_conn_del(w->client);
  pq_server_del(w->server);
  pq_sim_free(&w->sim);
}

/* Writes pattern bytes [*off, end) of |sid| on |c|, FIN at |end| if |fin|. */
static void pump(pq_conn *c, int64_t sid, uint64_t *off, uint64_t end, bool fin,
                 bool *fin_done, bool *bad) {
  uint8_t buf[4096];
  while (!*fin_done) {
    uint64_t left = end - *off;
    size_t n = left < sizeof(buf) ? (size_t)left : sizeof(buf);
    bool last = fin && n == left;
    ssize_t k;
    if (n == 0 && !fin) return;
    for (size_t j = 0; j < n; j++) buf[j] = pattern((uint64_t)sid, *off + j);
    k = pq_conn_stream_write(c, sid, buf, n, last);
    if (k == PQ_ERR_STREAM_STATE && c->state < PQ_CS_CLOSING) {
      pq_stream *s = pq_conn_find_stream(c, (uint64_t)sid);
      if (!s || s->reset_pending || s->reset_sent) return; /* reset: stop writing */
    }
    if (k < 0) {
      *bad = true;
      return;
    }
    *off += (uint64_t)k;
    if ((size_t)k == n && last) *fin_done = true;
    if ((size_t)k < n || n == 0) return;
  }
}

static void client_app(world *w) {
  if (!pq_conn_is_established(w->client)) return;
  while (w->opened < w->nstreams && w->size) {
    int64_t id;
    if (pq_conn_open_stream(w->client, true, &id) != 0) break; /* wait for credit */
    w->sid[w->opened++] = id;
  }
  for (int i = 0; i < w->opened; i++)
    pump(w->client, w->sid[i], &w->sent[i], w->size, true, &w->fin_sent[i], &w->capp.bad);
}

/* Echo, or (without echo) just a FIN once the client's FIN arrived, so that each
 * stream closes both ways and the client gets its stream credit back. */
static void server_app(world *w) {
  if (!w->sconn || !pq_conn_is_established(w->sconn)) return;
  for (int i = 0; i < MAX_STREAMS; i++) {
    uint64_t end = w->echo ? w->sapp.rx_bytes[i] : 0;
    if (end == w->echoed[i] && !w->sapp.rx_fin[i]) continue;
    pump(w->sconn, (int64_t)i << 2, &w->echoed[i], end, w->sapp.rx_fin[i], &w->echo_fin[i],
         &w->sapp.bad);
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
    if ((n = pq_server_write(w->server, &p, buf, sizeof(buf))) > 0) {
      pq_sim_send(&w->sim, PQ_SIM_S2C, buf, (size_t)n, w->now);
      any = true;
    }
    if (!any) return;
  }
}

/* One step at w->now: deliveries, expiries, applications, sends. */
static void step(world *w) {
  uint8_t buf[2048];
  ptrdiff_t n;
  while ((n = pq_sim_recv(&w->sim, PQ_SIM_C2S, w->now, buf, sizeof(buf))) >= 0) {
    pq_conn *c = NULL;
    pq_server_read(w->server, &w->spath, buf, (size_t)n, w->now, &c);
    if (c && !w->sconn) w->sconn = c;
  }
  while ((n = pq_sim_recv(&w->sim, PQ_SIM_S2C, w->now, buf, sizeof(buf))) >= 0)
    pq_conn_read(w->client, NULL, buf, (size_t)n, w->now);
  if (pq_conn_expiry(w->client) <= w->now) pq_conn_handle_expiry(w->client, w->now);
  if (w->sconn && pq_conn_expiry(w->sconn) <= w->now) pq_conn_handle_expiry(w->sconn, w->now);
  if (w->capp.established && w->sapp.established) w->sim.handshake = false;
  client_app(w);
  server_app(w);
  flush(w);
}

/* The next event time (NEVER: nothing will ever happen again). */
static pq_tstamp next_event(const world *w) {
  pq_tstamp next = pq_sim_next_any(&w->sim), t;
  if ((t = pq_conn_expiry(w->client)) < next) next = t;
  if (w->sconn && (t = pq_conn_expiry(w->sconn)) < next) next = t;
  return next;
}

/* Runs until |done| or |limit|; returns true if done. */
static bool run_until(world *w, bool (*done)(world *), pq_tstamp limit) {
  while (w->now <= limit) {
    pq_tstamp next;
    step(w);
    if (done(w)) return true;
    next = next_event(w);
    if (next == PQ_TSTAMP_NEVER) return false;
    w->now = next > w->now ? next : w->now + 1;
  }
  return false;
}

static bool both_established(world *w) {
  return pq_conn_is_established(w->client) && w->sconn && pq_conn_is_established(w->sconn) &&
         w->client->hs_confirmed;
}

/* The server has every stream with its FIN (and, with echo, the client has it back). */
static bool all_received(world *w) {
  if (w->opened < w->nstreams || w->sapp.fins < w->nstreams) return false;
  return !w->echo || w->capp.fins == w->nstreams;
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

/* Checks every stream's byte counts in both directions. */
static bool all_bytes_ok(const world *w) {
  if (w->sapp.bad || w->capp.bad) return false;
  for (int i = 0; i < w->nstreams; i++) {
    uint64_t idx = (uint64_t)w->sid[i] >> 2;
    if (w->sapp.rx_bytes[idx] != w->size) return false;
    if (w->echo && w->capp.rx_bytes[idx] != w->size) return false;
  }
  return true;
}

/* One seeded run under impairments drawn from the seed: 1-50 ms, 2-32 Mbit/s, loss up
 * to 5% each way and 30% during the handshake, reordering, duplication, corruption.
 * Streams (1-16), sizes (0-40 kB) and echo are drawn too. Returns true when every
 * byte arrived within 120 s of simulated time. */
static bool seeded_run_ex(uint64_t seed, bool verbose, bool tls, const pq_settings *st) {
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
  world_init_ex(&w, seed, &c2s, &s2c, tls, st);
  w.nstreams = 1 + (int)pq_sim_rand_below(&tmp, 16);
  w.size = 1 + pq_sim_rand_below(&tmp, 40000);
  w.echo = pq_sim_rand_below(&tmp, 2) == 1;
  pq_sim_free(&tmp);
  ok = run_until(&w, all_received, 120000 * MS) && all_bytes_ok(&w);
  if (!ok && verbose) {
    fprintf(stderr,
            "seed %llu: now=%llu ms est=%d/%d streams=%d size=%llu echo=%d fins=%d/%d "
            "bad=%d/%d closed=%d/%d\n",
            (unsigned long long)seed, (unsigned long long)(w.now / MS), w.capp.established,
            w.sapp.established, w.nstreams, (unsigned long long)w.size, w.echo, w.sapp.fins,
            w.capp.fins, w.sapp.bad, w.capp.bad, w.capp.closed, w.sapp.closed);
    fprintf(stderr, "  close: client err=0x%llx idle=%d, server err=0x%llx idle=%d\n",
            (unsigned long long)w.capp.close.error_code, w.capp.close.idle_timeout,
            (unsigned long long)w.sapp.close.error_code, w.sapp.close.idle_timeout);
  }
  world_free(&w);
  return ok;
}

#endif
