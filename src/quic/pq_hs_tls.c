/*
 * pq_hs_tls.c: the handshake driver over pq_tls (TLS 1.3 through GnuTLS's QUIC API).
 * It maps levels, forwards CRYPTO bytes and secrets, and reports the peer's transport
 * parameters and completion once pq_tls says the handshake is done.
 */
#include <stdlib.h>
#include <string.h>

#include "pq_hs.h"
#include "pq_tls.h"

typedef struct hs_tls {
  pq_tls *tls;
  pq_tls_ctx *own_ctx;   /* made here when the config gave none */
  pq_hs_host host;
  void *conn;
  bool is_server, done;
  bool tp_given;         /* the peer's transport parameters went to the host */
  uint8_t alert;
} hs_tls;

static const pq_tls_level to_tls[PQ_LEVEL_COUNT] = {
    PQ_TLS_LEVEL_INITIAL, PQ_TLS_LEVEL_HANDSHAKE, PQ_TLS_LEVEL_APPLICATION};

static int from_tls(pq_tls_level l, pq_level *out) {
  switch (l) {
  case PQ_TLS_LEVEL_INITIAL: *out = PQ_LEVEL_INITIAL; return 0;
  case PQ_TLS_LEVEL_HANDSHAKE: *out = PQ_LEVEL_HANDSHAKE; return 0;
  case PQ_TLS_LEVEL_APPLICATION: *out = PQ_LEVEL_APP; return 0;
  default: return -1; /* no CRYPTO data at the 0-RTT level */
  }
}

static int cb_send_crypto(void *user, pq_tls_level level, const uint8_t *data, size_t len) {
  hs_tls *h = user;
  pq_level l;
  if (from_tls(level, &l)) return -1;
  return h->host.write_crypto(h->conn, l, data, len) ? -1 : 0;
}

static int cb_set_secrets(void *user, pq_tls_level level, pq_aead_alg alg, const uint8_t *rx,
                          const uint8_t *tx, size_t len) {
  hs_tls *h = user;
  pq_level l;
  if (level == PQ_TLS_LEVEL_EARLY) {
    /* Client: tx (0-RTT packets to send); server: rx. Ignored if the host has no use. */
    if (!h->host.set_early_secret) return 0;
    if (tx && h->host.set_early_secret(h->conn, true, alg, tx, len)) return -1;
    if (rx && h->host.set_early_secret(h->conn, false, alg, rx, len)) return -1;
    return 0;
  }
  if (from_tls(level, &l)) return -1;
  if (rx && h->host.set_secret(h->conn, l, false, alg, rx, len)) return -1;
  if (tx && h->host.set_secret(h->conn, l, true, alg, tx, len)) return -1;
  return 0;
}

static void cb_alert(void *user, pq_tls_level level, uint8_t alert) {
  ((hs_tls *)user)->alert = alert;
}

static int cb_ticket(void *user, const uint8_t *data, size_t len) {
  hs_tls *h = user;
  return h->host.session_ticket && h->host.session_ticket(h->conn, data, len) ? -1 : 0;
}

static const pq_tls_callbacks tls_cbs = {cb_send_crypto, cb_set_secrets, cb_alert,
                                         cb_ticket};

static int create(void **st, const pq_hs_config *cfg, const pq_hs_host *host, void *conn) {
  hs_tls *h = calloc(1, sizeof(*h));
  pq_tls_ctx *ctx = cfg->tls_ctx;
  int rv;
  if (!h) return PQ_ERR_NOMEM;
  h->host = *host;
  h->conn = conn;
  h->is_server = cfg->is_server;
  if (!ctx) {
    pq_tls_ctx_config tc;
    memset(&tc, 0, sizeof(tc));
    tc.is_server = cfg->is_server;
    tc.alpn = cfg->alpn;
    tc.cert_file = cfg->cert_file;
    tc.key_file = cfg->key_file;
    tc.ca_file = cfg->ca_file;
    tc.insecure = cfg->insecure;
    tc.ciphers = cfg->ciphers;
    tc.keylog_file = cfg->keylog_file;
    tc.resumption = cfg->resumption || cfg->early_data;
    tc.early_data = cfg->early_data;
    if ((rv = pq_tls_ctx_new(&h->own_ctx, &tc))) {
      free(h);
      return rv;
    }
    ctx = h->own_ctx;
  }
  rv = pq_tls_new(&h->tls, ctx, cfg->is_server ? NULL : cfg->server_name, &tls_cbs, h);
  if (rv == 0) rv = pq_tls_set_local_tp(h->tls, cfg->local_params, cfg->local_params_len);
  if (rv) {
    pq_tls_del(h->tls);
    pq_tls_ctx_del(h->own_ctx);
    free(h);
    return rv;
  }
  *st = h;
  return 0;
}

static void destroy(void *st) {
  hs_tls *h = st;
  if (!h) return;
  pq_tls_del(h->tls);
  pq_tls_ctx_del(h->own_ctx);
  free(h);
}

/* Hands the peer's transport parameters to the host once. */
static int give_tp(hs_tls *h) {
  const uint8_t *tp;
  size_t len = 0;
  if (h->tp_given) return 0;
  tp = pq_tls_peer_tp(h->tls, &len);
  if (!tp) return PQ_ERR_TLS;
  h->tp_given = true;
  return h->host.peer_params(h->conn, tp, len);
}

/* Once TLS is done: the peer's parameters, then completion (in that order: streams
 * need the peer's limits before the application hears the handshake is over). A
 * server takes the client's parameters from the ClientHello at once: streams the
 * client opens in 0-RTT need its limits before the handshake completes. */
static int check_done(hs_tls *h) {
  int rv;
  size_t len;
  if (h->is_server && !h->tp_given && pq_tls_peer_tp(h->tls, &len) &&
      (rv = give_tp(h)))
    return rv;
  if (h->done || !pq_tls_is_done(h->tls)) return 0;
  h->done = true;
  if ((rv = give_tp(h))) return rv;
  return h->host.complete(h->conn);
}

static int start(void *st) {
  hs_tls *h = st;
  int rv = pq_tls_start(h->tls);
  return rv ? PQ_ERR_TLS : 0;
}

static int recv_bytes(void *st, pq_level level, const uint8_t *data, size_t len) {
  hs_tls *h = st;
  int rv;
  if ((unsigned)level >= PQ_LEVEL_COUNT) return PQ_ERR_TLS;
  rv = pq_tls_recv_crypto(h->tls, to_tls[level], data, len);
  if (rv) {
    if (!h->alert) h->alert = pq_tls_alert(h->tls);
    return PQ_ERR_TLS;
  }
  return check_done(h);
}

static uint8_t alert(void *st) {
  hs_tls *h = st;
  return h->alert ? h->alert : pq_tls_alert(h->tls);
}

static const char *reason(void *st) { return pq_tls_reason(((hs_tls *)st)->tls); }

static int set_session(void *st, const uint8_t *data, size_t len) {
  return pq_tls_set_session(((hs_tls *)st)->tls, data, len) ? PQ_ERR_TLS : 0;
}

static int early_accepted(void *st) {
  return pq_tls_early_data_accepted(((hs_tls *)st)->tls);
}

const pq_hs_ops pq_hs_tls = {
    .name = "tls",
    .create = create,
    .destroy = destroy,
    .start = start,
    .recv = recv_bytes,
    .alert = alert,
    .reason = reason,
    .set_session = set_session,
    .early_accepted = early_accepted,
};
