/*
 * pq_server.c: the listener side: routes datagrams to connections by destination
 * connection ID and creates a connection for a new client Initial.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "pq_conn.h"
#include "pq_tls.h"

/* Long enough for a client whose Initials keep getting lost (PTO backoff 1+2+4+8+16 s)
 * to come back with it. */
#define PQ_SERVER_RETRY_TOKEN_AGE (UINT64_C(60) * 1000000000) /* 60 s */
#define PQ_SERVER_NEW_TOKEN_AGE (UINT64_C(86400) * 1000000000) /* a day */
#define PQ_SERVER_ANSWERS 16 /* more pending answers are dropped (no amplification) */
#define PQ_SERVER_EARLY_SLOTS 4    /* 0-RTT datagrams kept for a connection not there yet */
#define PQ_SERVER_EARLY_MAX 1500   /* larger ones are not kept */
#define PQ_SERVER_EARLY_AGE (UINT64_C(1000000000)) /* 1 s */

struct pq_server {
  pq_settings settings;
  pq_callbacks cb;
  void *user;
  const pq_hs_ops *hs;   /* pq_hs_tls; tests may set pq_hs_null */
  pq_tls_ctx *tls_ctx;   /* shared by every connection (certificate loaded once) */
  char cc_name[32];
  pq_conn **conns;
  size_t n, cap;
  uint8_t reset_key[32];      /* stateless reset tokens derive from it */
  pq_aead token_key;          /* seals Retry tokens */
  bool has_token_key;
  /* Stateless answers waiting for pq_server_write (Version Negotiation, resets). */
  struct {
    pq_path path;
    size_t len;
    uint8_t data[PQ_CONN_MIN_INITIAL];
  } answers[PQ_SERVER_ANSWERS];
  size_t nanswers;
  /* 0-RTT datagrams that arrived before the client's Initial (reordering), replayed
   * to the connection that Initial creates (RFC 9001 §4.7: servers MAY buffer them).
   * A small ring, oldest overwritten; only with early_data. */
  struct early_dgram {
    pq_path path;
    pq_tstamp when;
    size_t len, dcid_len;         /* len 0: free slot */
    uint8_t dcid[PQ_MAX_CID_LEN];
    uint8_t data[PQ_SERVER_EARLY_MAX];
  } *early;
  size_t early_next;
};

void pq_reset_token(const uint8_t key[32], const uint8_t *cid, size_t len,
                    uint8_t token[PQ_RESET_TOKEN_LEN]) {
  uint8_t mac[32];
  gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, 32, cid, len, mac);
  memcpy(token, mac, PQ_RESET_TOKEN_LEN);
}

int pq_server_new(pq_server **out, const pq_settings *settings,
                  const pq_callbacks *callbacks, const char *cert_file,
                  const char *key_file, void *user) {
  pq_server *s;
  pq_tls_ctx_config tc;
  int rv;
  if (!out || !settings) return PQ_ERR_INVALID_ARG;
  *out = NULL;
  s = calloc(1, sizeof(*s));
  if (!s) return PQ_ERR_NOMEM;
  memset(&tc, 0, sizeof(tc));
  tc.is_server = 1;
  tc.alpn = settings->alpn;
  tc.cert_file = cert_file;
  tc.key_file = key_file;
  tc.ciphers = settings->ciphers;
  tc.keylog_file = settings->keylog_file;
  tc.resumption = tc.early_data = settings->early_data;
  /* Without a certificate there is no TLS: only the internal test driver works. */
  if (cert_file || key_file) {
    if ((rv = pq_tls_ctx_new(&s->tls_ctx, &tc))) {
      free(s);
      return rv;
    }
    s->hs = &pq_hs_tls;
  }
  {
    uint8_t k[16 + 12];
    if (pq_random(s->reset_key, sizeof(s->reset_key)) || pq_random(k, sizeof(k)) ||
        pq_aead_init(&s->token_key, PQ_AEAD_AES_128_GCM, k, k + 16)) {
      pq_tls_ctx_del(s->tls_ctx);
      free(s);
      return PQ_ERR_TLS;
    }
    memset(k, 0, sizeof(k));
    s->has_token_key = true;
  }
  s->settings = *settings;
  snprintf(s->cc_name, sizeof(s->cc_name), "%s",
           settings->cc_algorithm ? settings->cc_algorithm : "newreno");
  s->settings.cc_algorithm = s->cc_name;
  s->settings.alpn = NULL; /* borrowed: not kept (the TLS context has it) */
  s->settings.keylog_file = s->settings.qlog_dir = NULL;
  if (callbacks) s->cb = *callbacks;
  s->user = user;
  *out = s;
  return 0;
}

void pq_server_set_hs(pq_server *s, const pq_hs_ops *hs) { s->hs = hs; }

void pq_server_del(pq_server *s) {
  if (!s) return;
  for (size_t i = 0; i < s->n; i++) pq_conn_del(s->conns[i]);
  free(s->conns);
  pq_tls_ctx_del(s->tls_ctx);
  free(s->early);
  if (s->has_token_key) pq_aead_free(&s->token_key);
  memset(s->reset_key, 0, sizeof(s->reset_key));
  free(s);
}

static int add_conn(pq_server *s, pq_conn *c) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 8;
    pq_conn **v = realloc(s->conns, cap * sizeof(*v));
    if (!v) return PQ_ERR_NOMEM;
    s->conns = v;
    s->cap = cap;
  }
  s->conns[s->n++] = c;
  return 0;
}

/* Room for one stateless answer, or NULL (queue full: the datagram gets none). */
static uint8_t *answer_slot(pq_server *s, const pq_path *path, size_t **len) {
  if (s->nanswers == PQ_SERVER_ANSWERS) return NULL;
  if (path) s->answers[s->nanswers].path = *path;
  else memset(&s->answers[s->nanswers].path, 0, sizeof(pq_path));
  *len = &s->answers[s->nanswers].len;
  return s->answers[s->nanswers].data;
}

/* A long header of a version we do not speak: list ours (RFC 9000 §6.1). Only for
 * datagrams large enough to be a client's first flight. */
static void answer_version_negotiation(pq_server *s, const pq_path *path,
                                       const pq_pkt_hdr *h, size_t dgram_len) {
  static const uint32_t versions[] = {PQ_VERSION_1};
  size_t *len;
  uint8_t *out, unused;
  int n;
  if (dgram_len < PQ_CONN_MIN_INITIAL || !(out = answer_slot(s, path, &len))) return;
  if (pq_random(&unused, 1)) return;
  n = pq_pkt_write_version_negotiation(out, PQ_CONN_MIN_INITIAL, h->scid, h->scid_len,
                                       h->dcid, h->dcid_len, versions, 1, unused);
  if (n <= 0) return;
  *len = (size_t)n;
  s->nanswers++;
}

/* A short header for a connection we do not know: a stateless reset, smaller than
 * what triggered it so that two endpoints cannot loop (RFC 9000 §10.3, §10.3.3). */
static void answer_stateless_reset(pq_server *s, const pq_path *path, const uint8_t *data,
                                   size_t dgram_len) {
  uint8_t token[PQ_RESET_TOKEN_LEN], *out;
  size_t *len, n = dgram_len - 1;
  int rv;
  if (dgram_len <= PQ_MIN_STATELESS_RESET_LEN || dgram_len < 1 + PQ_CONN_CID_LEN) return;
  if (n > 64) n = 64;
  if (!(out = answer_slot(s, path, &len))) return;
  pq_reset_token(s->reset_key, data + 1, PQ_CONN_CID_LEN, token);
  rv = pq_pkt_write_stateless_reset(out, PQ_CONN_MIN_INITIAL, n, token);
  if (rv <= 0) return;
  *len = (size_t)rv;
  s->nanswers++;
}

size_t pq_path_addr_bytes(const pq_path *path, uint8_t *out) {
  if (!path || path->remote_len == 0) return 0;
  if (path->remote.ss_family == AF_INET) {
    const struct sockaddr_in *a = (const void *)&path->remote;
    memcpy(out, &a->sin_addr, 4);
    memcpy(out + 4, &a->sin_port, 2);
    return 6;
  }
  if (path->remote.ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const void *)&path->remote;
    memcpy(out, &a->sin6_addr, 16);
    memcpy(out + 16, &a->sin6_port, 2);
    return 18;
  }
  return 0;
}

/* Answers a token-less Initial with a Retry (RFC 9000 §8.1.2): a fresh SCID and a
 * token sealing the client's address and original DCID. */
static void answer_retry(pq_server *s, const pq_path *path, const pq_pkt_hdr *h,
                         pq_tstamp now) {
  uint8_t addr[PQ_TOKEN_MAX_ADDR_LEN], token[PQ_TOKEN_MAX_LEN], scid[PQ_CONN_CID_LEN];
  uint8_t *out, unused;
  size_t *len, alen = pq_path_addr_bytes(path, addr);
  int tl, n;
  if (!(out = answer_slot(s, path, &len))) return;
  if (pq_random(scid, sizeof(scid)) || pq_random(&unused, 1)) return;
  tl = pq_token_seal(&s->token_key, PQ_TOKEN_RETRY, addr, alen, h->dcid, h->dcid_len, now,
                     token, sizeof(token));
  if (tl <= 0) return;
  n = pq_pkt_write_retry(out, PQ_CONN_MIN_INITIAL, PQ_VERSION_1, h->scid, h->scid_len, scid,
                         sizeof(scid), token, (size_t)tl, h->dcid, h->dcid_len, unused);
  if (n <= 0) return;
  *len = (size_t)n;
  s->nanswers++;
}

/* Keeps a 0-RTT datagram whose connection does not exist yet. */
static void keep_early(pq_server *s, const pq_path *path, const pq_pkt_hdr *h,
                       const uint8_t *data, size_t len, pq_tstamp now) {
  struct early_dgram *e;
  if (!s->settings.early_data || len > PQ_SERVER_EARLY_MAX || h->dcid_len > PQ_MAX_CID_LEN ||
      h->version != PQ_VERSION_1)
    return;
  if (!s->early && !(s->early = calloc(PQ_SERVER_EARLY_SLOTS, sizeof(*s->early)))) return;
  e = &s->early[s->early_next];
  s->early_next = (s->early_next + 1) % PQ_SERVER_EARLY_SLOTS;
  if (path) e->path = *path;
  else memset(&e->path, 0, sizeof(e->path));
  e->when = now;
  e->len = len;
  e->dcid_len = h->dcid_len;
  memcpy(e->dcid, h->dcid, h->dcid_len);
  memcpy(e->data, data, len);
}

/* Feeds |c| the kept 0-RTT datagrams addressed to its first DCID (recent ones). */
static void replay_early(pq_server *s, pq_conn *c, pq_tstamp now) {
  if (!s->early) return;
  for (size_t i = 0; i < PQ_SERVER_EARLY_SLOTS; i++) {
    struct early_dgram *e = &s->early[i];
    if (e->len == 0) continue;
    if (now - e->when <= PQ_SERVER_EARLY_AGE && e->dcid_len == c->odcid_len &&
        memcmp(e->dcid, c->odcid, e->dcid_len) == 0 && !pq_conn_is_closed(c))
      pq_conn_read(c, &e->path, e->data, e->len, now);
    if (now - e->when > PQ_SERVER_EARLY_AGE || pq_conn_owns_cid(c, e->dcid, e->dcid_len))
      e->len = 0;
  }
}

ssize_t pq_server_write(pq_server *s, pq_path *path_out, uint8_t *buf, size_t len) {
  size_t n;
  if (!s || !buf) return PQ_ERR_INVALID_ARG;
  if (s->nanswers == 0) return 0;
  n = s->answers[0].len;
  if (len < n) return PQ_ERR_NOBUF;
  memcpy(buf, s->answers[0].data, n);
  if (path_out) *path_out = s->answers[0].path;
  s->nanswers--;
  memmove(&s->answers[0], &s->answers[1], s->nanswers * sizeof(s->answers[0]));
  return (ssize_t)n;
}

int pq_server_read(pq_server *s, const pq_path *path, const uint8_t *data, size_t len,
                   pq_tstamp now, pq_conn **conn_out) {
  pq_pkt_hdr h;
  pq_hs_config cfg;
  pq_conn *c;
  uint8_t retry_odcid[PQ_MAX_CID_LEN];
  size_t retry_odcid_len = 0;
  bool is_retry = false, validated = false;
  int rv;
  if (conn_out) *conn_out = NULL;
  if (!s || !data) return PQ_ERR_INVALID_ARG;
  if (pq_pkt_parse(data, len, PQ_CONN_CID_LEN, &h)) return PQ_ERR_DROP;
  if (h.type == PQ_PKT_UNSUPPORTED_VERSION) {
    answer_version_negotiation(s, path, &h, len);
    return PQ_ERR_DROP;
  }
  for (size_t i = 0; i < s->n; i++) {
    if (pq_conn_is_closed(s->conns[i])) continue;
    if (pq_conn_owns_cid(s->conns[i], h.dcid, h.dcid_len)) {
      if (conn_out) *conn_out = s->conns[i];
      return pq_conn_read(s->conns[i], path, data, len, now);
    }
  }
  /* A new connection needs a v1 Initial in a full-size datagram (RFC 9000 §14.1).
   * Version negotiation and stateless resets were answered above. */
  if (h.type == PQ_PKT_1RTT) {
    answer_stateless_reset(s, path, data, len);
    return PQ_ERR_DROP;
  }
  if (h.type == PQ_PKT_0RTT) {
    keep_early(s, path, &h, data, len, now);
    return PQ_ERR_DROP;
  }
  if (h.type != PQ_PKT_INITIAL || h.version != PQ_VERSION_1 || len < PQ_CONN_MIN_INITIAL)
    return PQ_ERR_DROP;
  /* Address validation by Retry: no token -> Retry; a valid Retry token -> the
   * connection, with the original DCID it carries; anything else is dropped. */
  if (h.token_len > 0) {
    uint8_t addr[PQ_TOKEN_MAX_ADDR_LEN];
    size_t alen = pq_path_addr_bytes(path, addr);
    int kind = 0;
    if (pq_token_open(&s->token_key, h.token, h.token_len, addr, alen, now,
                      PQ_SERVER_NEW_TOKEN_AGE, &kind, retry_odcid, &retry_odcid_len) == 0) {
      if (kind == PQ_TOKEN_NEW_TOKEN) validated = true;
      /* A Retry token must be fresh. */
      else if (kind == PQ_TOKEN_RETRY)
        is_retry = pq_token_open(&s->token_key, h.token, h.token_len, addr, alen, now,
                                 PQ_SERVER_RETRY_TOKEN_AGE, &kind, retry_odcid,
                                 &retry_odcid_len) == 0;
    }
    /* A Retry token that fails is dropped (RFC 9000 §8.1.3: it can only be forged or
     * stale); a bad NEW_TOKEN is treated as no token. */
    if (!is_retry && !validated && h.token[0] == PQ_TOKEN_RETRY) return PQ_ERR_DROP;
  }
  if (s->settings.retry && !is_retry && !validated) {
    answer_retry(s, path, &h, now);
    return PQ_ERR_DROP;
  }
  memset(&cfg, 0, sizeof(cfg));
  cfg.tls_ctx = s->tls_ctx;
  rv = pq_conn_server_new_ex(&c, &s->settings, &s->cb, path, s->hs, &cfg, &h, s->reset_key,
                             is_retry ? retry_odcid : NULL, retry_odcid_len, s->user, now);
  if (rv == 0) {
    c->token_key = &s->token_key;
    if (validated) c->addr_validated = true; /* a NEW_TOKEN proved the address */
  }
  if (rv) return rv == PQ_ERR_INVALID_ARG ? PQ_ERR_DROP : rv;
  rv = pq_conn_read(c, path, data, len, now);
  /* Keep the connection only if its first packet authenticated: a corrupted or forged
   * Initial must not leave state behind. */
  if (c->stats.packets_received == 0) {
    pq_conn_del(c);
    return PQ_ERR_DROP;
  }
  if (add_conn(s, c)) {
    pq_conn_del(c);
    return PQ_ERR_NOMEM;
  }
  if (conn_out) *conn_out = c;
  if (rv == 0) replay_early(s, c, now);
  return rv;
}

size_t pq_server_reap(pq_server *s) {
  size_t w = 0, n = 0;
  if (!s) return 0;
  for (size_t r = 0; r < s->n; r++) {
    if (pq_conn_is_closed(s->conns[r])) {
      pq_conn_del(s->conns[r]);
      n++;
    } else {
      s->conns[w++] = s->conns[r];
    }
  }
  s->n = w;
  return n;
}
