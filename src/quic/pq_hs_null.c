/*
 * pq_hs_null.c: an INSECURE handshake driver for tests. It has TLS 1.3's shape (a
 * ClientHello/ServerHello exchange at Initial, EncryptedExtensions carrying transport
 * parameters and Finished messages at Handshake, then 1-RTT) but no authentication:
 * secrets are derived from two random values sent in clear. Never use it on a network.
 *
 * Messages: type(1) length(2) body.
 *   CH (1): client random(32) transport-parameters     Initial, client -> server
 *   SH (2): server random(32)                           Initial, server -> client
 *   EE (3): transport-parameters                        Handshake, server -> client
 *   SF (4): empty                                       Handshake, server -> client
 *   CF (5): empty                                       Handshake, client -> server
 */
#include <stdlib.h>
#include <string.h>

#include "pq_hs.h"

enum { MSG_CH = 1, MSG_SH, MSG_EE, MSG_SF, MSG_CF };
#define RAND_LEN 32
#define MAX_MSG 4096

typedef struct hs_null {
  pq_hs_config cfg;
  uint8_t *params;
  pq_hs_host host;
  void *conn;
  uint8_t randoms[2 * RAND_LEN]; /* client random then server random */
  uint8_t buf[PQ_LEVEL_COUNT][MAX_MSG + 3];
  size_t buf_len[PQ_LEVEL_COUNT];
  bool done;
} hs_null;

static int send_msg(hs_null *h, pq_level lvl, int type, const uint8_t *a, size_t alen,
                    const uint8_t *b, size_t blen) {
  uint8_t m[3 + MAX_MSG];
  if (alen + blen > MAX_MSG) return PQ_ERR_TLS;
  m[0] = (uint8_t)type;
  m[1] = (uint8_t)((alen + blen) >> 8);
  m[2] = (uint8_t)(alen + blen);
  if (alen) memcpy(m + 3, a, alen);
  if (blen) memcpy(m + 3 + alen, b, blen);
  return h->host.write_crypto(h->conn, lvl, m, 3 + alen + blen);
}

/* Installs both directions of |lvl| from the two randoms. */
static int install(hs_null *h, pq_level lvl) {
  static const char *labels[2][2] = {{"pqnull c hs", "pqnull s hs"},
                                     {"pqnull c ap", "pqnull s ap"}};
  uint8_t c[32], s[32];
  int rv, k = lvl == PQ_LEVEL_APP;
  if (pq_hkdf_expand_label(PQ_AEAD_AES_128_GCM, h->randoms, sizeof(h->randoms),
                           labels[k][0], NULL, 0, c, 32) ||
      pq_hkdf_expand_label(PQ_AEAD_AES_128_GCM, h->randoms, sizeof(h->randoms),
                           labels[k][1], NULL, 0, s, 32))
    return PQ_ERR_TLS;
  rv = h->host.set_secret(h->conn, lvl, true, PQ_AEAD_AES_128_GCM,
                          h->cfg.is_server ? s : c, 32);
  if (rv == 0)
    rv = h->host.set_secret(h->conn, lvl, false, PQ_AEAD_AES_128_GCM,
                            h->cfg.is_server ? c : s, 32);
  return rv;
}

static int create(void **st, const pq_hs_config *cfg, const pq_hs_host *host, void *conn) {
  hs_null *h = calloc(1, sizeof(*h));
  if (!h) return PQ_ERR_NOMEM;
  h->cfg = *cfg;
  h->params = malloc(cfg->local_params_len ? cfg->local_params_len : 1);
  if (!h->params) {
    free(h);
    return PQ_ERR_NOMEM;
  }
  memcpy(h->params, cfg->local_params, cfg->local_params_len);
  h->cfg.local_params = h->params;
  h->cfg.server_name = h->cfg.alpn = NULL; /* borrowed only during create */
  h->cfg.ca_file = h->cfg.cert_file = h->cfg.key_file = NULL;
  h->host = *host;
  h->conn = conn;
  *st = h;
  return 0;
}

static void destroy(void *st) {
  hs_null *h = st;
  if (!h) return;
  free(h->params);
  free(h);
}

static int start(void *st) {
  hs_null *h = st;
  if (h->cfg.is_server) return 0;
  if (pq_random(h->randoms, RAND_LEN)) return PQ_ERR_TLS;
  return send_msg(h, PQ_LEVEL_INITIAL, MSG_CH, h->randoms, RAND_LEN, h->params,
                  h->cfg.local_params_len);
}

/* One complete message: checks it belongs at this level and side, then acts. */
static int on_msg(hs_null *h, pq_level lvl, int type, const uint8_t *b, size_t n) {
  int rv;
  bool srv = h->cfg.is_server;
  switch (type) {
  case MSG_CH:
    if (!srv || lvl != PQ_LEVEL_INITIAL || n < RAND_LEN) return PQ_ERR_TLS;
    memcpy(h->randoms, b, RAND_LEN);
    if ((rv = h->host.peer_params(h->conn, b + RAND_LEN, n - RAND_LEN))) return rv;
    if (pq_random(h->randoms + RAND_LEN, RAND_LEN)) return PQ_ERR_TLS;
    if ((rv = send_msg(h, PQ_LEVEL_INITIAL, MSG_SH, h->randoms + RAND_LEN, RAND_LEN,
                       NULL, 0)))
      return rv;
    if ((rv = install(h, PQ_LEVEL_HANDSHAKE))) return rv;
    if ((rv = send_msg(h, PQ_LEVEL_HANDSHAKE, MSG_EE, h->params, h->cfg.local_params_len,
                       NULL, 0)))
      return rv;
    if ((rv = send_msg(h, PQ_LEVEL_HANDSHAKE, MSG_SF, NULL, 0, NULL, 0))) return rv;
    return install(h, PQ_LEVEL_APP);
  case MSG_SH:
    if (srv || lvl != PQ_LEVEL_INITIAL || n != RAND_LEN) return PQ_ERR_TLS;
    memcpy(h->randoms + RAND_LEN, b, RAND_LEN);
    return install(h, PQ_LEVEL_HANDSHAKE);
  case MSG_EE:
    if (srv || lvl != PQ_LEVEL_HANDSHAKE) return PQ_ERR_TLS;
    return h->host.peer_params(h->conn, b, n);
  case MSG_SF:
    if (srv || lvl != PQ_LEVEL_HANDSHAKE || n != 0 || h->done) return PQ_ERR_TLS;
    if ((rv = install(h, PQ_LEVEL_APP))) return rv;
    if ((rv = send_msg(h, PQ_LEVEL_HANDSHAKE, MSG_CF, NULL, 0, NULL, 0))) return rv;
    h->done = true;
    return h->host.complete(h->conn);
  case MSG_CF:
    if (!srv || lvl != PQ_LEVEL_HANDSHAKE || n != 0 || h->done) return PQ_ERR_TLS;
    h->done = true;
    return h->host.complete(h->conn);
  default:
    return PQ_ERR_TLS;
  }
}

static int recv_bytes(void *st, pq_level lvl, const uint8_t *data, size_t len) {
  hs_null *h = st;
  if ((unsigned)lvl >= PQ_LEVEL_COUNT) return PQ_ERR_TLS;
  while (len > 0) {
    uint8_t *m = h->buf[lvl];
    size_t *have = &h->buf_len[lvl], need, take;
    need = *have < 3 ? 3 : 3 + ((size_t)m[1] << 8 | m[2]);
    if (need > sizeof(h->buf[lvl])) return PQ_ERR_TLS;
    take = need - *have < len ? need - *have : len;
    memcpy(m + *have, data, take);
    *have += take;
    data += take;
    len -= take;
    if (*have >= 3 && *have == 3 + ((size_t)m[1] << 8 | m[2])) {
      int rv = on_msg(h, lvl, m[0], m + 3, *have - 3);
      *have = 0;
      if (rv) return rv;
    }
  }
  return 0;
}

const pq_hs_ops pq_hs_null = {
    .name = "null",
    .create = create,
    .destroy = destroy,
    .start = start,
    .recv = recv_bytes,
};
