/* pq_tls_test.c: full TLS 1.3 handshakes between a pq_tls client and server in memory
 * (CRYPTO bytes handed across per encryption level), with pq_cert certificates. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "pq_cert.h"
#include "pq_tls.h"
#include "test.h"

typedef struct side {
  pq_tls *tls;
  uint8_t out[PQ_TLS_LEVELS][16384]; /* bytes for the peer, per level */
  size_t out_len[PQ_TLS_LEVELS];
  uint8_t rx[PQ_TLS_LEVELS][PQ_MAX_SECRET_LEN], tx[PQ_TLS_LEVELS][PQ_MAX_SECRET_LEN];
  int have_rx[PQ_TLS_LEVELS], have_tx[PQ_TLS_LEVELS];
  size_t secret_len;
  pq_aead_alg alg;
  int overflow;
  int last_rv;
  uint8_t ticket[4096];
  size_t ticket_len;
  int tickets;
} side;

static int on_send(void *user, pq_tls_level level, const uint8_t *data, size_t len) {
  side *s = user;
  if (len > sizeof(s->out[0]) - s->out_len[level]) {
    s->overflow = 1;
    return -1;
  }
  memcpy(s->out[level] + s->out_len[level], data, len);
  s->out_len[level] += len;
  return 0;
}

static int on_secrets(void *user, pq_tls_level level, pq_aead_alg alg, const uint8_t *rx,
                      const uint8_t *tx, size_t len) {
  side *s = user;
  s->alg = alg;
  s->secret_len = len;
  if (rx) memcpy(s->rx[level], rx, len), s->have_rx[level] = 1;
  if (tx) memcpy(s->tx[level], tx, len), s->have_tx[level] = 1;
  return 0;
}

static int on_ticket(void *user, const uint8_t *data, size_t len) {
  side *s = user;
  s->tickets++;
  if (len <= sizeof(s->ticket)) memcpy(s->ticket, data, len), s->ticket_len = len;
  return 0;
}

static const pq_tls_callbacks callbacks = {on_send, on_secrets, NULL, on_ticket};

static pq_cert cert_a, cert_b; /* server's certificate, and an unrelated one */

static pq_tls_ctx *server_ctx(uint32_t ciphers, const char *alpn) {
  pq_tls_ctx *ctx = NULL;
  pq_tls_ctx_config cfg = {.is_server = 1, .cert_pem = cert_a.cert_pem,
                           .key_pem = cert_a.key_pem, .ciphers = ciphers, .alpn = alpn};
  CHECK_INT(0, ==, pq_tls_ctx_new(&ctx, &cfg));
  return ctx;
}

static pq_tls_ctx *client_ctx(const char *ca_pem, int insecure, uint32_t ciphers,
                              const char *alpn, const char *keylog) {
  pq_tls_ctx *ctx = NULL;
  pq_tls_ctx_config cfg = {.ca_pem = ca_pem, .insecure = insecure, .ciphers = ciphers,
                           .alpn = alpn, .keylog_file = keylog};
  CHECK_INT(0, ==, pq_tls_ctx_new(&ctx, &cfg));
  return ctx;
}

/* CRYPTO bytes are handed across in pieces of at most this many bytes (as if each
 * CRYPTO frame carried a few): 0 = all at once. */
static size_t chunk;

/* Hands queued CRYPTO bytes across until nothing moves (bounded). */
static void pump(side *c, side *s) {
  for (int round = 0; round < 20; round++) {
    int moved = 0;
    side *from[2] = {c, s}, *to[2] = {s, c};
    for (int d = 0; d < 2; d++)
      for (int l = 0; l < PQ_TLS_LEVELS; l++) {
        if (!from[d]->out_len[l]) continue;
        static uint8_t tmp[16384];
        size_t n = from[d]->out_len[l];
        memcpy(tmp, from[d]->out[l], n);
        from[d]->out_len[l] = 0;
        for (size_t off = 0; off < n;) {
          size_t k = chunk && n - off > chunk ? chunk : n - off;
          int rv = pq_tls_recv_crypto(to[d]->tls, (pq_tls_level)l, tmp + off, k);
          if (rv < 0) to[d]->last_rv = rv;
          off += k;
        }
        moved = 1;
      }
    if (!moved) return;
  }
}

/* Runs one handshake; the sides keep their pq_tls for inspection (caller frees). */
static void handshake(side *c, side *s, pq_tls_ctx *cctx, pq_tls_ctx *sctx,
                      const char *sni, int client_tp, int server_tp) {
  memset(c, 0, sizeof(*c));
  memset(s, 0, sizeof(*s));
  CHECK_INT(0, ==, pq_tls_new(&c->tls, cctx, sni, &callbacks, c));
  CHECK_INT(0, ==, pq_tls_new(&s->tls, sctx, NULL, &callbacks, s));
  if (!c->tls || !s->tls) return;
  if (client_tp) pq_tls_set_local_tp(c->tls, (const uint8_t *)"client-tp\x01\x02", 11);
  if (server_tp) pq_tls_set_local_tp(s->tls, (const uint8_t *)"server-tp-bytes", 15);
  CHECK_INT(0, ==, pq_tls_start(c->tls));
  CHECK_INT(0, <, c->out_len[PQ_TLS_LEVEL_INITIAL]); /* the ClientHello */
  pump(c, s);
}

static void done_sides(side *c, side *s) {
  pq_tls_del(c->tls);
  pq_tls_del(s->tls);
}

static void check_same_secrets(side *c, side *s) {
  static const pq_tls_level levels[2] = {PQ_TLS_LEVEL_HANDSHAKE, PQ_TLS_LEVEL_APPLICATION};
  CHECK_INT(c->secret_len, ==, s->secret_len);
  CHECK_INT(pq_aead_secret_len(c->alg), ==, c->secret_len);
  for (int i = 0; i < 2; i++) {
    pq_tls_level l = levels[i];
    CHECK(c->have_tx[l] && c->have_rx[l] && s->have_tx[l] && s->have_rx[l]);
    CHECK_MEM(c->tx[l], s->rx[l], c->secret_len);
    CHECK_MEM(c->rx[l], s->tx[l], c->secret_len);
    CHECK(memcmp(c->tx[l], c->rx[l], c->secret_len) != 0);
  }
  CHECK(memcmp(c->tx[PQ_TLS_LEVEL_HANDSHAKE], c->tx[PQ_TLS_LEVEL_APPLICATION],
               c->secret_len) != 0);
}

/* The 1-RTT secrets make working packet keys: client seals, server opens. */
static void check_keys_work(side *c, side *s) {
  pq_keys ck, sk;
  uint8_t hdr[4] = {0x40, 1, 2, 3}, buf[64] = "hello over 1-RTT";
  CHECK_INT(0, ==, pq_keys_init(&ck, c->alg, c->tx[PQ_TLS_LEVEL_APPLICATION], c->secret_len));
  CHECK_INT(0, ==, pq_keys_init(&sk, s->alg, s->rx[PQ_TLS_LEVEL_APPLICATION], s->secret_len));
  CHECK_INT(32, ==, pq_aead_seal(&ck.aead, 9, hdr, 4, buf, 16));
  CHECK_INT(16, ==, pq_aead_open(&sk.aead, 9, hdr, 4, buf, 32));
  CHECK_MEM("hello over 1-RTT", buf, 16);
  pq_keys_free(&ck);
  pq_keys_free(&sk);
}

static void test_pq_tls_handshake_verified_ca(void) {
  static side c, s;
  pq_tls_ctx *sctx = server_ctx(0, NULL), *cctx = client_ctx(cert_a.cert_pem, 0, 0, NULL, NULL);
  handshake(&c, &s, cctx, sctx, "localhost", 1, 1);
  CHECK_INT(0, ==, c.last_rv);
  CHECK_INT(0, ==, s.last_rv);
  CHECK_INT(1, ==, pq_tls_is_done(c.tls));
  CHECK_INT(1, ==, pq_tls_is_done(s.tls));
  CHECK_STR("h3", pq_tls_alpn(c.tls));
  CHECK_STR("h3", pq_tls_alpn(s.tls));
  size_t n = 0;
  const uint8_t *tp = pq_tls_peer_tp(s.tls, &n);
  CHECK_INT(11, ==, n);
  CHECK(tp && memcmp(tp, "client-tp\x01\x02", 11) == 0);
  tp = pq_tls_peer_tp(c.tls, &n);
  CHECK_INT(15, ==, n);
  CHECK(tp && memcmp(tp, "server-tp-bytes", 15) == 0);
  CHECK_INT(c.alg, ==, s.alg);
  CHECK_INT(c.alg, ==, pq_tls_aead(c.tls));
  check_same_secrets(&c, &s);
  check_keys_work(&c, &s);
  CHECK_INT(0, ==, pq_tls_alert(c.tls));
  CHECK(!c.overflow && !s.overflow);
  char sni[64];
  CHECK_INT(9, ==, pq_tls_peer_server_name(s.tls, sni, sizeof(sni)));
  CHECK_STR("localhost", sni);
  CHECK_INT(PQ_ERR_NOBUF, ==, pq_tls_peer_server_name(s.tls, sni, 4));
  CHECK_INT(0, ==, pq_tls_peer_server_name(c.tls, sni, sizeof(sni)));
  done_sides(&c, &s);
  pq_tls_ctx_del(cctx);
  pq_tls_ctx_del(sctx);
}

/* An IP literal (whose certificate holds it as an iPAddress subjectAltName) verifies and
 * is not sent as SNI (RFC 6066 §3); an address the certificate does not hold fails. */
static void test_pq_tls_ip_literal_verified_without_sni(void) {
  static const char *const good[] = {"127.0.0.1", "::1", "0:0::1"};
  static const char *const bad[] = {"127.0.0.2", "::2", "10.0.0.1"};
  pq_tls_ctx *sctx = server_ctx(0, NULL), *cctx = client_ctx(cert_a.cert_pem, 0, 0, NULL, NULL);
  for (int i = 0; i < 3; i++) {
    static side c, s;
    char sni[64] = "unset";
    handshake(&c, &s, cctx, sctx, good[i], 1, 1);
    CHECK_INT(0, ==, c.last_rv);
    CHECK_INT(0, ==, s.last_rv);
    CHECK_INT(1, ==, pq_tls_is_done(c.tls));
    CHECK_INT(1, ==, pq_tls_is_done(s.tls));
    CHECK_INT(0, ==, pq_tls_peer_server_name(s.tls, sni, sizeof(sni)));
    done_sides(&c, &s);
    handshake(&c, &s, cctx, sctx, bad[i], 1, 1);
    CHECK_INT(PQ_ERR_TLS, ==, c.last_rv);
    CHECK_INT(0, ==, pq_tls_is_done(c.tls));
    CHECK_INT(0, !=, pq_tls_alert(c.tls));
    CHECK_INT(0, ==, pq_tls_peer_server_name(s.tls, sni, sizeof(sni)));
    done_sides(&c, &s);
  }
  pq_tls_ctx_del(cctx);
  pq_tls_ctx_del(sctx);
}

/* The same handshake with CRYPTO data arriving 1 and 7 bytes at a time. */
static void test_pq_tls_handshake_fragmented_crypto(void) {
  static side c, s;
  size_t sizes[2] = {1, 7};
  pq_tls_ctx *sctx = server_ctx(0, NULL), *cctx = client_ctx(cert_a.cert_pem, 0, 0, NULL, NULL);
  for (int i = 0; i < 2; i++) {
    chunk = sizes[i];
    handshake(&c, &s, cctx, sctx, "localhost", 1, 1);
    CHECK_INT(0, ==, c.last_rv);
    CHECK_INT(0, ==, s.last_rv);
    CHECK_INT(1, ==, pq_tls_is_done(c.tls));
    CHECK_INT(1, ==, pq_tls_is_done(s.tls));
    check_same_secrets(&c, &s);
    done_sides(&c, &s);
  }
  chunk = 0;
  pq_tls_ctx_del(cctx);
  pq_tls_ctx_del(sctx);
}

static void test_pq_tls_wrong_ca_fails(void) {
  static side c, s;
  pq_tls_ctx *sctx = server_ctx(0, NULL), *cctx = client_ctx(cert_b.cert_pem, 0, 0, NULL, NULL);
  handshake(&c, &s, cctx, sctx, "localhost", 1, 1);
  CHECK_INT(PQ_ERR_TLS, ==, c.last_rv);
  CHECK_INT(0, ==, pq_tls_is_done(c.tls));
  CHECK_INT(0, ==, pq_tls_is_done(s.tls));
  CHECK_INT(0, !=, pq_tls_alert(c.tls));
  CHECK(c.have_rx[PQ_TLS_LEVEL_APPLICATION] == 0 || c.have_tx[PQ_TLS_LEVEL_APPLICATION] == 0 ||
        !pq_tls_is_done(c.tls));
  done_sides(&c, &s);
  pq_tls_ctx_del(cctx);
  pq_tls_ctx_del(sctx);
}

static void test_pq_tls_wrong_name_fails(void) {
  static side c, s;
  pq_tls_ctx *sctx = server_ctx(0, NULL), *cctx = client_ctx(cert_a.cert_pem, 0, 0, NULL, NULL);
  handshake(&c, &s, cctx, sctx, "example.com", 1, 1);
  CHECK_INT(PQ_ERR_TLS, ==, c.last_rv);
  CHECK_INT(0, ==, pq_tls_is_done(c.tls));
  done_sides(&c, &s);
  pq_tls_ctx_del(cctx);
  pq_tls_ctx_del(sctx);
}

/* |reason| contains each of the NULL-terminated |words| (printing what lacks). */
static void check_reason(const char *what, const char *reason, const char *const *words) {
  for (; *words; words++)
    if (!strstr(reason, *words)) {
      fprintf(stderr, "  %s: reason '%s' lacks '%s'\n", what, reason, *words);
      CHECK(!"reason has the words a user looks for");
    }
}

/* Each failure says why in words (pq_tls_reason), with the matching alert; a
 * successful handshake has no reason. */
static void test_pq_tls_failure_reasons(void) {
  static side c, s;
  static const char *const name_words[] = {"certificate", "verification failed",
                                           "\"example.com\"", "name mismatch",
                                           "does not match", NULL};
  static const char *const ip_words[] = {"\"127.0.0.2\"", "name mismatch", NULL};
  static const char *const ca_words[] = {"certificate verification failed", "NOT trusted", NULL};
  static const char *const cipher_words[] = {"no common cipher suite", "CHACHA20-POLY1305", NULL};
  static const char *const alpn_words[] = {"no common application protocol", "ALPN", "h3", NULL};
  static const char *const tp_words[] = {"transport parameters", NULL};
  pq_tls_ctx *sctx = server_ctx(0, NULL), *cctx = client_ctx(cert_a.cert_pem, 0, 0, NULL, NULL);
  pq_tls_ctx *wrong_ca = client_ctx(cert_b.cert_pem, 0, 0, NULL, NULL);
  pq_tls_ctx *chacha_srv = server_ctx(PQ_CIPHER_CHACHA20_POLY1305, NULL);
  pq_tls_ctx *aes_cli = client_ctx(cert_a.cert_pem, 0, PQ_CIPHER_AES_128_GCM, NULL, NULL);
  pq_tls_ctx *hq_cli = client_ctx(cert_a.cert_pem, 0, 0, "hq-interop", NULL);
  /* the certificate names localhost: a wrong DNS name, a wrong address */
  handshake(&c, &s, cctx, sctx, "example.com", 1, 1);
  CHECK_INT(PQ_ERR_TLS, ==, c.last_rv);
  CHECK_INT(42, ==, pq_tls_alert(c.tls)); /* bad_certificate */
  check_reason("wrong name", pq_tls_reason(c.tls), name_words);
  CHECK_STR("", pq_tls_reason(s.tls));
  done_sides(&c, &s);
  handshake(&c, &s, cctx, sctx, "127.0.0.2", 1, 1);
  check_reason("wrong address", pq_tls_reason(c.tls), ip_words);
  done_sides(&c, &s);
  handshake(&c, &s, wrong_ca, sctx, "localhost", 1, 1);
  CHECK_INT(PQ_ERR_TLS, ==, c.last_rv);
  check_reason("wrong CA", pq_tls_reason(c.tls), ca_words);
  CHECK(!strstr(pq_tls_reason(c.tls), "name mismatch"));
  done_sides(&c, &s);
  handshake(&c, &s, aes_cli, chacha_srv, "localhost", 1, 1);
  CHECK_INT(PQ_ERR_TLS, ==, s.last_rv);
  CHECK_INT(40, ==, pq_tls_alert(s.tls)); /* handshake_failure */
  check_reason("no common cipher", pq_tls_reason(s.tls), cipher_words);
  done_sides(&c, &s);
  handshake(&c, &s, hq_cli, sctx, "localhost", 1, 1);
  CHECK_INT(PQ_ERR_TLS, ==, s.last_rv);
  check_reason("no common ALPN", pq_tls_reason(s.tls), alpn_words);
  done_sides(&c, &s);
  handshake(&c, &s, cctx, sctx, "localhost", 1, 0);
  check_reason("no transport parameters", pq_tls_reason(c.tls), tp_words);
  done_sides(&c, &s);
  handshake(&c, &s, cctx, sctx, "localhost", 1, 1);
  CHECK_INT(1, ==, pq_tls_is_done(c.tls));
  CHECK_STR("", pq_tls_reason(c.tls));
  CHECK_STR("", pq_tls_reason(s.tls));
  done_sides(&c, &s);
  pq_tls_ctx_del(hq_cli);
  pq_tls_ctx_del(aes_cli);
  pq_tls_ctx_del(chacha_srv);
  pq_tls_ctx_del(wrong_ca);
  pq_tls_ctx_del(cctx);
  pq_tls_ctx_del(sctx);
}

/* The system trust store does not know our self-signed certificate. */
static void test_pq_tls_system_trust_rejects_self_signed(void) {
  static side c, s;
  pq_tls_ctx *cctx = NULL, *sctx = server_ctx(0, NULL);
  pq_tls_ctx_config cfg = {.alpn = "h3"};
  int rv = pq_tls_ctx_new(&cctx, &cfg);
  if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0) {
    CHECK_INT(0, ==, rv);
  } else {
    CHECK_INT(PQ_ERR_TLS, ==, rv); /* an empty store is an error, not "trust nothing" */
  }
  if (rv == 0) {
    handshake(&c, &s, cctx, sctx, "localhost", 1, 1);
    CHECK_INT(PQ_ERR_TLS, ==, c.last_rv);
    CHECK_INT(0, ==, pq_tls_is_done(c.tls));
    done_sides(&c, &s);
  }
  pq_tls_ctx_del(cctx);
  pq_tls_ctx_del(sctx);
}

static void test_pq_tls_insecure_accepts_unknown_cert(void) {
  static side c, s;
  pq_tls_ctx *sctx = server_ctx(0, NULL), *cctx = client_ctx(NULL, 1, 0, NULL, NULL);
  handshake(&c, &s, cctx, sctx, "whatever.example", 1, 1);
  CHECK_INT(1, ==, pq_tls_is_done(c.tls));
  CHECK_INT(1, ==, pq_tls_is_done(s.tls));
  check_same_secrets(&c, &s);
  done_sides(&c, &s);
  pq_tls_ctx_del(cctx);
  pq_tls_ctx_del(sctx);
}

static void test_pq_tls_chacha20_forced(void) {
  static side c, s;
  pq_tls_ctx *sctx = server_ctx(0, NULL),
             *cctx = client_ctx(cert_a.cert_pem, 0, PQ_CIPHER_CHACHA20_POLY1305, NULL, NULL);
  handshake(&c, &s, cctx, sctx, "localhost", 1, 1);
  CHECK_INT(1, ==, pq_tls_is_done(c.tls));
  CHECK_INT(PQ_AEAD_CHACHA20_POLY1305, ==, c.alg);
  CHECK_INT(PQ_AEAD_CHACHA20_POLY1305, ==, s.alg);
  check_same_secrets(&c, &s);
  check_keys_work(&c, &s);
  done_sides(&c, &s);
  pq_tls_ctx_del(cctx);
  /* and AES-256-GCM (SHA-384 secrets) forced from the server side */
  pq_tls_ctx_del(sctx);
  sctx = server_ctx(PQ_CIPHER_AES_256_GCM, NULL);
  cctx = client_ctx(cert_a.cert_pem, 0, 0, NULL, NULL);
  handshake(&c, &s, cctx, sctx, "localhost", 1, 1);
  CHECK_INT(1, ==, pq_tls_is_done(c.tls));
  CHECK_INT(PQ_AEAD_AES_256_GCM, ==, c.alg);
  CHECK_INT(48, ==, c.secret_len);
  check_same_secrets(&c, &s);
  check_keys_work(&c, &s);
  done_sides(&c, &s);
  pq_tls_ctx_del(cctx);
  pq_tls_ctx_del(sctx);
}

static void test_pq_tls_alpn_mismatch_fails(void) {
  static side c, s;
  pq_tls_ctx *sctx = server_ctx(0, "h3"),
             *cctx = client_ctx(cert_a.cert_pem, 0, 0, "hq-interop", NULL);
  handshake(&c, &s, cctx, sctx, "localhost", 1, 1);
  CHECK_INT(PQ_ERR_TLS, ==, s.last_rv);
  CHECK_INT(PQ_TLS_ALERT_NO_APPLICATION_PROTOCOL, ==, pq_tls_alert(s.tls));
  CHECK_INT(0, ==, pq_tls_is_done(c.tls));
  done_sides(&c, &s);
  pq_tls_ctx_del(cctx);
  pq_tls_ctx_del(sctx);
  /* a list with a common entry picks it */
  sctx = server_ctx(0, "hq-interop,h3");
  cctx = client_ctx(cert_a.cert_pem, 0, 0, "h3,hq-interop", NULL);
  handshake(&c, &s, cctx, sctx, "localhost", 1, 1);
  CHECK_INT(1, ==, pq_tls_is_done(c.tls));
  CHECK_STR("hq-interop", pq_tls_alpn(c.tls)); /* server preference */
  done_sides(&c, &s);
  pq_tls_ctx_del(cctx);
  pq_tls_ctx_del(sctx);
}

static void test_pq_tls_missing_transport_parameters_fails(void) {
  static side c, s;
  pq_tls_ctx *sctx = server_ctx(0, NULL), *cctx = client_ctx(cert_a.cert_pem, 0, 0, NULL, NULL);
  handshake(&c, &s, cctx, sctx, "localhost", 0, 1);
  CHECK_INT(0, ==, pq_tls_is_done(s.tls));
  CHECK_INT(PQ_TLS_ALERT_MISSING_EXTENSION, ==, pq_tls_alert(s.tls));
  done_sides(&c, &s);
  handshake(&c, &s, cctx, sctx, "localhost", 1, 0);
  CHECK_INT(0, ==, pq_tls_is_done(c.tls));
  CHECK_INT(PQ_TLS_ALERT_MISSING_EXTENSION, ==, pq_tls_alert(c.tls));
  done_sides(&c, &s);
  pq_tls_ctx_del(cctx);
  pq_tls_ctx_del(sctx);
}

static void test_pq_tls_keylog_file(void) {
  static side c, s;
  char path[] = "/tmp/pq_tls_keylog_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd < 0) return;
  close(fd);
  pq_tls_ctx *sctx = server_ctx(0, NULL), *cctx = client_ctx(cert_a.cert_pem, 0, 0, NULL, path);
  handshake(&c, &s, cctx, sctx, "localhost", 1, 1);
  CHECK_INT(1, ==, pq_tls_is_done(c.tls));
  char text[4096] = {0};
  FILE *f = fopen(path, "r");
  CHECK(f != NULL);
  if (f) {
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = 0;
    fclose(f);
  }
  CHECK(strstr(text, "CLIENT_HANDSHAKE_TRAFFIC_SECRET ") != NULL);
  CHECK(strstr(text, "SERVER_TRAFFIC_SECRET_0 ") != NULL);
  /* the logged client application secret is the one handed to QUIC */
  char hex[2 * PQ_MAX_SECRET_LEN + 1];
  for (size_t i = 0; i < c.secret_len; i++)
    snprintf(hex + 2 * i, 3, "%02x", c.tx[PQ_TLS_LEVEL_APPLICATION][i]);
  CHECK(strstr(text, hex) != NULL);
  unlink(path);
  done_sides(&c, &s);
  pq_tls_ctx_del(cctx);
  pq_tls_ctx_del(sctx);
}

static void test_pq_tls_cert_files_and_spki(void) {
  static side c, s;
  char dir[] = "/tmp/pq_cert_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char cp[64], kp[64];
  snprintf(cp, sizeof(cp), "%s/cert.pem", dir);
  snprintf(kp, sizeof(kp), "%s/key.pem", dir);
  CHECK_INT(0, ==, pq_cert_write_files(&cert_a, cp, kp));
  pq_tls_ctx *sctx = NULL, *cctx = NULL;
  pq_tls_ctx_config scfg = {.is_server = 1, .cert_file = cp, .key_file = kp};
  pq_tls_ctx_config ccfg = {.ca_file = cp};
  CHECK_INT(0, ==, pq_tls_ctx_new(&sctx, &scfg));
  CHECK_INT(0, ==, pq_tls_ctx_new(&cctx, &ccfg));
  if (sctx && cctx) {
    handshake(&c, &s, cctx, sctx, "localhost", 1, 1);
    CHECK_INT(1, ==, pq_tls_is_done(c.tls));
    done_sides(&c, &s);
  }
  pq_tls_ctx_del(cctx);
  pq_tls_ctx_del(sctx);
  char spki[64];
  CHECK_INT(0, ==, pq_cert_spki_sha256_b64(&cert_a, spki, sizeof(spki)));
  CHECK_INT(44, ==, strlen(spki));
  CHECK_INT('=', ==, spki[43]);
  CHECK_INT(PQ_ERR_NOBUF, ==, pq_cert_spki_sha256_b64(&cert_a, spki, 20));
  CHECK_INT(PQ_ERR_FATAL, ==, pq_cert_write_files(&cert_a, "/nonexistent/dir/c.pem", NULL));
  unlink(cp);
  unlink(kp);
  rmdir(dir);
}

/* Handshake 1 gets a ticket; handshake 2 resumes it with 0-RTT (EARLY secrets equal on
 * both sides, accepted); replaying handshake 2's ClientHello to a fresh server gets no
 * 0-RTT keys. Without early_data on the client, resumption works with no EARLY level. */
static void test_pq_tls_resumption_and_0rtt(void) {
  static side c, s, c2, s2, s3;
  pq_tls_ctx *sctx = NULL, *cctx = NULL;
  pq_tls_ctx_config scfg = {.is_server = 1, .cert_pem = cert_a.cert_pem,
                            .key_pem = cert_a.key_pem, .resumption = 1, .early_data = 1};
  pq_tls_ctx_config ccfg = {.ca_pem = cert_a.cert_pem, .resumption = 1, .early_data = 1};
  CHECK_INT(0, ==, pq_tls_ctx_new(&sctx, &scfg));
  CHECK_INT(0, ==, pq_tls_ctx_new(&cctx, &ccfg));
  if (!sctx || !cctx) return;
  handshake(&c, &s, cctx, sctx, "localhost", 1, 1);
  CHECK_INT(1, ==, pq_tls_is_done(c.tls));
  CHECK_INT(0, ==, pq_tls_is_resumed(c.tls));
  CHECK_INT(0, <, c.tickets);
  CHECK_INT(0, <, c.ticket_len);
  CHECK_INT(0, ==, c.have_tx[PQ_TLS_LEVEL_EARLY]);

  /* resume with 0-RTT */
  memset(&c2, 0, sizeof(c2));
  memset(&s2, 0, sizeof(s2));
  CHECK_INT(0, ==, pq_tls_new(&c2.tls, cctx, "localhost", &callbacks, &c2));
  CHECK_INT(0, ==, pq_tls_new(&s2.tls, sctx, NULL, &callbacks, &s2));
  pq_tls_set_local_tp(c2.tls, (const uint8_t *)"c", 1);
  pq_tls_set_local_tp(s2.tls, (const uint8_t *)"s", 1);
  CHECK_INT(0, ==, pq_tls_set_session(c2.tls, c.ticket, c.ticket_len));
  CHECK_INT(0, ==, pq_tls_start(c2.tls));
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_tls_set_session(c2.tls, c.ticket, c.ticket_len));
  CHECK_INT(1, ==, c2.have_tx[PQ_TLS_LEVEL_EARLY]);
  static uint8_t ch[16384];
  size_t ch_len = c2.out_len[PQ_TLS_LEVEL_INITIAL];
  memcpy(ch, c2.out[PQ_TLS_LEVEL_INITIAL], ch_len);
  pump(&c2, &s2);
  CHECK_INT(1, ==, pq_tls_is_done(c2.tls));
  CHECK_INT(1, ==, pq_tls_is_done(s2.tls));
  CHECK_INT(1, ==, pq_tls_is_resumed(c2.tls));
  CHECK_INT(1, ==, pq_tls_is_resumed(s2.tls));
  CHECK_INT(1, ==, s2.have_rx[PQ_TLS_LEVEL_EARLY]);
  CHECK_MEM(c2.tx[PQ_TLS_LEVEL_EARLY], s2.rx[PQ_TLS_LEVEL_EARLY], c2.secret_len);
  CHECK_INT(1, ==, pq_tls_early_data_accepted(s2.tls));
  CHECK_INT(1, ==, pq_tls_early_data_accepted(c2.tls));
  check_same_secrets(&c2, &s2);

  /* the same ClientHello again: no 0-RTT keys for the replay */
  memset(&s3, 0, sizeof(s3));
  CHECK_INT(0, ==, pq_tls_new(&s3.tls, sctx, NULL, &callbacks, &s3));
  pq_tls_set_local_tp(s3.tls, (const uint8_t *)"s", 1);
  pq_tls_recv_crypto(s3.tls, PQ_TLS_LEVEL_INITIAL, ch, ch_len);
  CHECK_INT(0, ==, s3.have_rx[PQ_TLS_LEVEL_EARLY]);
  pq_tls_del(s3.tls);
  done_sides(&c2, &s2);
  done_sides(&c, &s);
  pq_tls_ctx_del(cctx);

  /* resumption without 0-RTT */
  pq_tls_ctx_config c1cfg = {.ca_pem = cert_a.cert_pem, .resumption = 1};
  CHECK_INT(0, ==, pq_tls_ctx_new(&cctx, &c1cfg));
  handshake(&c, &s, cctx, sctx, "localhost", 1, 1);
  CHECK_INT(0, <, c.ticket_len);
  memset(&c2, 0, sizeof(c2));
  memset(&s2, 0, sizeof(s2));
  CHECK_INT(0, ==, pq_tls_new(&c2.tls, cctx, "localhost", &callbacks, &c2));
  CHECK_INT(0, ==, pq_tls_new(&s2.tls, sctx, NULL, &callbacks, &s2));
  pq_tls_set_local_tp(c2.tls, (const uint8_t *)"c", 1);
  pq_tls_set_local_tp(s2.tls, (const uint8_t *)"s", 1);
  CHECK_INT(0, ==, pq_tls_set_session(c2.tls, c.ticket, c.ticket_len));
  CHECK_INT(0, ==, pq_tls_start(c2.tls));
  pump(&c2, &s2);
  CHECK_INT(1, ==, pq_tls_is_resumed(c2.tls));
  CHECK_INT(0, ==, c2.have_tx[PQ_TLS_LEVEL_EARLY]);
  CHECK_INT(0, ==, pq_tls_early_data_accepted(s2.tls));
  done_sides(&c2, &s2);
  done_sides(&c, &s);
  pq_tls_ctx_del(cctx);
  pq_tls_ctx_del(sctx);
}

static void test_pq_tls_bad_config(void) {
  pq_tls_ctx *ctx = (pq_tls_ctx *)1;
  pq_tls_ctx_config cfg = {.is_server = 1};
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_tls_ctx_new(&ctx, &cfg));
  CHECK(ctx == NULL);
  pq_tls_ctx_config c2 = {.insecure = 1, .alpn = "h3,,x"};
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_tls_ctx_new(&ctx, &c2));
  pq_tls_ctx_config c3 = {.ca_file = "/nonexistent/ca.pem"};
  CHECK_INT(PQ_ERR_TLS, ==, pq_tls_ctx_new(&ctx, &c3));
  pq_tls_ctx_config c4 = {.is_server = 1, .cert_pem = "garbage", .key_pem = "garbage"};
  CHECK_INT(PQ_ERR_TLS, ==, pq_tls_ctx_new(&ctx, &c4));
  pq_tls_ctx_config c5 = {.insecure = 1, .ciphers = 0x80};
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_tls_ctx_new(&ctx, &c5));
  pq_cert bad;
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_cert_generate(&bad, "", 0, 1));
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_cert_generate(&bad, "x", 0, 0));
  /* garbage CRYPTO data makes the server fail cleanly */
  static side c, s;
  pq_tls_ctx *sctx = server_ctx(0, NULL);
  memset(&s, 0, sizeof(s));
  CHECK_INT(0, ==, pq_tls_new(&s.tls, sctx, NULL, &callbacks, &s));
  uint8_t junk[64];
  for (int i = 0; i < 64; i++) junk[i] = (uint8_t)(i * 37 + 1);
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_tls_recv_crypto(s.tls, (pq_tls_level)7, junk, 1));
  /* a ClientHello of 60 bytes of garbage */
  junk[0] = 1, junk[1] = 0, junk[2] = 0, junk[3] = 60;
  CHECK_INT(PQ_ERR_TLS, ==, pq_tls_recv_crypto(s.tls, PQ_TLS_LEVEL_INITIAL, junk, 64));
  CHECK_INT(0, !=, pq_tls_alert(s.tls));
  CHECK(strlen(pq_tls_error(s.tls)) > 0);
  CHECK_INT(PQ_ERR_TLS, ==, pq_tls_recv_crypto(s.tls, PQ_TLS_LEVEL_INITIAL, junk, 1));
  pq_tls_del(s.tls);
  pq_tls_ctx_del(sctx);
  (void)c;
}

int main(void) {
  time_t now = time(NULL);
  if (pq_cert_generate(&cert_a, "localhost", now, 30) != 0 ||
      pq_cert_generate(&cert_b, "localhost", now, 30) != 0) {
    fprintf(stderr, "cannot generate test certificates\n");
    return 1;
  }
  RUN(test_pq_tls_handshake_verified_ca);
  RUN(test_pq_tls_handshake_fragmented_crypto);
  RUN(test_pq_tls_wrong_ca_fails);
  RUN(test_pq_tls_wrong_name_fails);
  RUN(test_pq_tls_ip_literal_verified_without_sni);
  RUN(test_pq_tls_system_trust_rejects_self_signed);
  RUN(test_pq_tls_insecure_accepts_unknown_cert);
  RUN(test_pq_tls_chacha20_forced);
  RUN(test_pq_tls_alpn_mismatch_fails);
  RUN(test_pq_tls_missing_transport_parameters_fails);
  RUN(test_pq_tls_keylog_file);
  RUN(test_pq_tls_cert_files_and_spki);
  RUN(test_pq_tls_resumption_and_0rtt);
  RUN(test_pq_tls_bad_config);
  RUN(test_pq_tls_failure_reasons);
  pq_cert_free(&cert_a);
  pq_cert_free(&cert_b);
  return test_report();
}
