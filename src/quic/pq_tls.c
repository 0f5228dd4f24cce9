/*
 * pq_tls.c: TLS 1.3 for QUIC over GnuTLS's QUIC hooks (>= 3.7.0).
 */
#include "pq_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>

#define TP_EXT_ID 0x39 /* quic_transport_parameters (RFC 9001 §8.2) */
#define MAX_ALPN 8
#define REPLAY_SLOTS 512
#define REPLAY_KEY_MAX 64

/* One remembered ClientHello (anti-replay for 0-RTT), until |expires|. */
typedef struct replay_entry {
  time_t expires;
  uint8_t len;
  uint8_t key[REPLAY_KEY_MAX];
} replay_entry;

struct pq_tls_ctx {
  int is_server;
  int insecure;
  gnutls_certificate_credentials_t cred;
  gnutls_priority_t prio;
  char *alpn_buf;                 /* the comma list, NULs in place of commas */
  gnutls_datum_t alpn[MAX_ALPN];
  unsigned alpn_count;
  char *keylog_file;
  int resumption, early_data;
  uint32_t ciphers;               /* PQ_CIPHER_* allowed (all three for 0), for reasons */
  gnutls_datum_t ticket_key;
  gnutls_anti_replay_t anti_replay;
  replay_entry *replay; /* REPLAY_SLOTS entries */
  unsigned replay_next;
};

struct pq_tls {
  pq_tls_ctx *ctx;
  gnutls_session_t session;
  pq_tls_callbacks cb;
  void *user;
  char *server_name;
  uint8_t *local_tp;
  size_t local_tp_len;
  uint8_t *peer_tp;
  size_t peer_tp_len;
  int have_peer_tp;
  int done;
  int failed;
  uint8_t alert;
  int cb_failed;
  int last_error;
  pq_aead_alg alg;
  int started;
  char alpn_sel[256];
  char reason[PQ_TLS_REASON_MAX]; /* why the handshake failed, for people ("" if not) */
};

/* ---- context -------------------------------------------------------------------------- */

static char *dup_str(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static int parse_alpn(pq_tls_ctx *ctx, const char *list) {
  if (!(ctx->alpn_buf = dup_str(list ? list : "h3"))) return PQ_ERR_NOMEM;
  char *p = ctx->alpn_buf;
  for (;;) {
    char *comma = strchr(p, ',');
    if (comma) *comma = 0;
    size_t n = strlen(p);
    if (n == 0 || n > 255 || ctx->alpn_count == MAX_ALPN) return PQ_ERR_INVALID_ARG;
    ctx->alpn[ctx->alpn_count].data = (unsigned char *)p;
    ctx->alpn[ctx->alpn_count].size = (unsigned)n;
    ctx->alpn_count++;
    if (!comma) return 0;
    p = comma + 1;
  }
}

/* TLS 1.3 only, QUIC's three AEADs (no CCM), no middlebox compatibility mode
 * (RFC 9001 §8.4). */
static int make_priority(pq_tls_ctx *ctx, uint32_t ciphers) {
  char prio[256];
  if (ciphers == 0)
    ciphers = PQ_CIPHER_AES_128_GCM | PQ_CIPHER_AES_256_GCM | PQ_CIPHER_CHACHA20_POLY1305;
  if (!(ciphers & (PQ_CIPHER_AES_128_GCM | PQ_CIPHER_AES_256_GCM |
                   PQ_CIPHER_CHACHA20_POLY1305)))
    return PQ_ERR_INVALID_ARG;
  snprintf(prio, sizeof(prio),
           "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL%s%s%s:%%DISABLE_TLS13_COMPAT_MODE",
           ciphers & PQ_CIPHER_AES_128_GCM ? ":+AES-128-GCM" : "",
           ciphers & PQ_CIPHER_AES_256_GCM ? ":+AES-256-GCM" : "",
           ciphers & PQ_CIPHER_CHACHA20_POLY1305 ? ":+CHACHA20-POLY1305" : "");
  return gnutls_priority_init(&ctx->prio, prio, NULL) < 0 ? PQ_ERR_TLS : 0;
}

static int load_credentials(pq_tls_ctx *ctx, const pq_tls_ctx_config *cfg) {
  int rv;
  if (gnutls_certificate_allocate_credentials(&ctx->cred) < 0) return PQ_ERR_NOMEM;
  if (cfg->is_server) {
    if (cfg->cert_file && cfg->key_file) {
      rv = gnutls_certificate_set_x509_key_file(ctx->cred, cfg->cert_file, cfg->key_file,
                                                GNUTLS_X509_FMT_PEM);
    } else if (cfg->cert_pem && cfg->key_pem) {
      gnutls_datum_t c = {(unsigned char *)cfg->cert_pem, (unsigned)strlen(cfg->cert_pem)};
      gnutls_datum_t k = {(unsigned char *)cfg->key_pem, (unsigned)strlen(cfg->key_pem)};
      rv = gnutls_certificate_set_x509_key_mem(ctx->cred, &c, &k, GNUTLS_X509_FMT_PEM);
    } else {
      return PQ_ERR_INVALID_ARG;
    }
    return rv < 0 ? PQ_ERR_TLS : 0;
  }
  if (cfg->insecure) return 0;
  if (cfg->ca_file) {
    rv = gnutls_certificate_set_x509_trust_file(ctx->cred, cfg->ca_file, GNUTLS_X509_FMT_PEM);
  } else if (cfg->ca_pem) {
    gnutls_datum_t c = {(unsigned char *)cfg->ca_pem, (unsigned)strlen(cfg->ca_pem)};
    rv = gnutls_certificate_set_x509_trust_mem(ctx->cred, &c, GNUTLS_X509_FMT_PEM);
  } else {
    rv = gnutls_certificate_set_x509_system_trust(ctx->cred);
  }
  return rv <= 0 ? PQ_ERR_TLS : 0; /* the number of CAs loaded: none is an error */
}

/* GnuTLS asks to remember a ClientHello that carried early data: 0 if new,
 * GNUTLS_E_DB_ENTRY_EXISTS if seen and not expired. Bounded: the oldest slot is reused
 * (a replay older than REPLAY_SLOTS accepted 0-RTT handshakes gets through; GnuTLS's
 * time window bounds it too). */
static int replay_add(void *ptr, time_t expires, const gnutls_datum_t *key,
                      const gnutls_datum_t *data) {
  pq_tls_ctx *ctx = ptr;
  size_t len = key->size < REPLAY_KEY_MAX ? key->size : REPLAY_KEY_MAX;
  time_t now = time(NULL);
  (void)data;
  for (unsigned i = 0; i < REPLAY_SLOTS; i++) {
    replay_entry *e = &ctx->replay[i];
    if (e->expires >= now && e->len == len && memcmp(e->key, key->data, len) == 0)
      return GNUTLS_E_DB_ENTRY_EXISTS;
  }
  replay_entry *e = &ctx->replay[ctx->replay_next];
  ctx->replay_next = (ctx->replay_next + 1) % REPLAY_SLOTS;
  e->expires = expires;
  e->len = (uint8_t)len;
  memcpy(e->key, key->data, len);
  return 0;
}

static int setup_tickets(pq_tls_ctx *ctx) {
  if (!ctx->resumption) return 0;
  if (gnutls_session_ticket_key_generate(&ctx->ticket_key) < 0) return PQ_ERR_TLS;
  if (!ctx->early_data) return 0;
  if (!(ctx->replay = calloc(REPLAY_SLOTS, sizeof(*ctx->replay)))) return PQ_ERR_NOMEM;
  if (gnutls_anti_replay_init(&ctx->anti_replay) < 0) return PQ_ERR_NOMEM;
  gnutls_anti_replay_set_add_function(ctx->anti_replay, replay_add);
  gnutls_anti_replay_set_ptr(ctx->anti_replay, ctx);
  return 0;
}

int pq_tls_ctx_new(pq_tls_ctx **out, const pq_tls_ctx_config *cfg) {
  int rv;
  *out = NULL;
  if (!cfg) return PQ_ERR_INVALID_ARG;
  pq_tls_ctx *ctx = calloc(1, sizeof(*ctx));
  if (!ctx) return PQ_ERR_NOMEM;
  ctx->is_server = cfg->is_server != 0;
  ctx->insecure = cfg->insecure != 0;
  if ((rv = parse_alpn(ctx, cfg->alpn)) < 0 || (rv = make_priority(ctx, cfg->ciphers)) < 0 ||
      (rv = load_credentials(ctx, cfg)) < 0)
    goto fail;
  if (cfg->keylog_file && !(ctx->keylog_file = dup_str(cfg->keylog_file))) {
    rv = PQ_ERR_NOMEM;
    goto fail;
  }
  ctx->ciphers = cfg->ciphers ? cfg->ciphers : PQ_CIPHER_AES_128_GCM | PQ_CIPHER_AES_256_GCM |
                                                  PQ_CIPHER_CHACHA20_POLY1305;
  ctx->resumption = cfg->resumption != 0;
  ctx->early_data = cfg->early_data != 0 && ctx->resumption;
  if (ctx->is_server && (rv = setup_tickets(ctx)) < 0) goto fail;
  *out = ctx;
  return 0;
fail:
  pq_tls_ctx_del(ctx);
  return rv;
}

void pq_tls_ctx_del(pq_tls_ctx *ctx) {
  if (!ctx) return;
  if (ctx->ticket_key.data) {
    gnutls_memset(ctx->ticket_key.data, 0, ctx->ticket_key.size);
    gnutls_free(ctx->ticket_key.data);
  }
  if (ctx->anti_replay) gnutls_anti_replay_deinit(ctx->anti_replay);
  free(ctx->replay);
  if (ctx->cred) gnutls_certificate_free_credentials(ctx->cred);
  if (ctx->prio) gnutls_priority_deinit(ctx->prio);
  free(ctx->alpn_buf);
  free(ctx->keylog_file);
  free(ctx);
}

/* ---- GnuTLS hooks ------------------------------------------------------------------------ */

static pq_tls *tls_of(gnutls_session_t s) { return gnutls_session_get_ptr(s); }

static int alg_of(gnutls_cipher_algorithm_t c, pq_aead_alg *alg) {
  switch (c) {
  case GNUTLS_CIPHER_AES_128_GCM: *alg = PQ_AEAD_AES_128_GCM; return 0;
  case GNUTLS_CIPHER_AES_256_GCM: *alg = PQ_AEAD_AES_256_GCM; return 0;
  case GNUTLS_CIPHER_CHACHA20_POLY1305: *alg = PQ_AEAD_CHACHA20_POLY1305; return 0;
  default: return -1;
  }
}

static int on_secret(gnutls_session_t s, gnutls_record_encryption_level_t level,
                     const void *rx, const void *tx, size_t len) {
  pq_tls *t = tls_of(s);
  pq_aead_alg alg;
  gnutls_cipher_algorithm_t c =
      level == GNUTLS_ENCRYPTION_LEVEL_EARLY ? gnutls_early_cipher_get(s) : gnutls_cipher_get(s);
  if (alg_of(c, &alg) < 0 || len != pq_aead_secret_len(alg)) return -1;
  t->alg = alg;
  if (t->cb.set_secrets(t->user, (pq_tls_level)level, alg, rx, tx, len) != 0) {
    t->cb_failed = 1;
    return -1;
  }
  return 0;
}

static int on_handshake_out(gnutls_session_t s, gnutls_record_encryption_level_t level,
                            gnutls_handshake_description_t htype, const void *data,
                            size_t len) {
  pq_tls *t = tls_of(s);
  /* QUIC has no ChangeCipherSpec (compatibility mode is off anyway). */
  if (htype == GNUTLS_HANDSHAKE_CHANGE_CIPHER_SPEC) return 0;
  if (t->cb.send_crypto(t->user, (pq_tls_level)level, data, len) != 0) {
    t->cb_failed = 1;
    return -1;
  }
  return 0;
}

static int on_alert(gnutls_session_t s, gnutls_record_encryption_level_t level,
                    gnutls_alert_level_t alevel, gnutls_alert_description_t desc) {
  pq_tls *t = tls_of(s);
  if (alevel == GNUTLS_AL_FATAL || !t->alert) t->alert = (uint8_t)desc;
  if (t->cb.alert) t->cb.alert(t->user, (pq_tls_level)level, (uint8_t)desc);
  return 0;
}

static int on_tp_recv(gnutls_session_t s, const unsigned char *data, size_t len) {
  pq_tls *t = tls_of(s);
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy) return GNUTLS_E_MEMORY_ERROR;
  if (len) memcpy(copy, data, len);
  free(t->peer_tp);
  t->peer_tp = copy;
  t->peer_tp_len = len;
  t->have_peer_tp = 1;
  return 0;
}

static int on_tp_send(gnutls_session_t s, gnutls_buffer_t ext) {
  pq_tls *t = tls_of(s);
  if (t->local_tp_len &&
      gnutls_buffer_append_data(ext, t->local_tp, t->local_tp_len) < 0)
    return GNUTLS_E_MEMORY_ERROR;
  return (int)t->local_tp_len;
}

/* SSLKEYLOGFILE: "<label> <client_random hex> <secret hex>\n", appended. */
static int on_keylog(gnutls_session_t s, const char *label, const gnutls_datum_t *secret) {
  pq_tls *t = tls_of(s);
  gnutls_datum_t crandom, srandom;
  FILE *f;
  if (!t->ctx->keylog_file) return 0;
  gnutls_session_get_random(s, &crandom, &srandom);
  if (!(f = fopen(t->ctx->keylog_file, "a"))) return 0; /* logging must not break TLS */
  fprintf(f, "%s ", label);
  for (unsigned i = 0; i < crandom.size; i++) fprintf(f, "%02x", crandom.data[i]);
  fputc(' ', f);
  for (unsigned i = 0; i < secret->size; i++) fprintf(f, "%02x", secret->data[i]);
  fputc('\n', f);
  fclose(f);
  return 0;
}

/* Client: a NewSessionTicket was processed; hand the resumable session out. */
static int on_ticket(gnutls_session_t s, unsigned htype, unsigned when, unsigned incoming,
                     const gnutls_datum_t *msg) {
  pq_tls *t = tls_of(s);
  gnutls_datum_t d = {NULL, 0};
  (void)htype, (void)when, (void)msg;
  if (!incoming || !t->cb.session_ticket) return 0;
  if (gnutls_session_get_data2(s, &d) < 0) return 0; /* no ticket is not an error */
  int rv = t->cb.session_ticket(t->user, d.data, d.size);
  gnutls_free(d.data);
  if (rv != 0) {
    t->cb_failed = 1;
    return GNUTLS_E_INTERRUPTED;
  }
  return 0;
}

/* ---- connection ------------------------------------------------------------------------- */

/* 1 if |name| is an IPv4 (dotted quad) or IPv6 address literal. */
static int is_ip_literal(const char *name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

static int setup_session(pq_tls *t) {
  pq_tls_ctx *ctx = t->ctx;
  gnutls_session_t s;
  unsigned flags = (ctx->is_server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NONBLOCK |
                   GNUTLS_NO_END_OF_EARLY_DATA;
  if (!ctx->resumption) flags |= GNUTLS_NO_TICKETS;
  if (ctx->early_data) flags |= GNUTLS_ENABLE_EARLY_DATA;
  if (gnutls_init(&t->session, flags) < 0) return PQ_ERR_NOMEM;
  s = t->session;
  gnutls_session_set_ptr(s, t);
  if (ctx->is_server && ctx->resumption &&
      gnutls_session_ticket_enable_server(s, &ctx->ticket_key) < 0)
    return PQ_ERR_TLS;
  if (ctx->is_server && ctx->early_data) {
    gnutls_anti_replay_enable(s, ctx->anti_replay);
    /* RFC 9001 §4.6.1: QUIC servers announce 0xffffffff. */
    if (gnutls_record_set_max_early_data_size(s, 0xffffffffu) < 0) return PQ_ERR_TLS;
  }
  if (!ctx->is_server && ctx->resumption)
    gnutls_handshake_set_hook_function(s, GNUTLS_HANDSHAKE_NEW_SESSION_TICKET,
                                       GNUTLS_HOOK_POST, on_ticket);
  if (gnutls_priority_set(s, ctx->prio) < 0 ||
      gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, ctx->cred) < 0)
    return PQ_ERR_TLS;
  gnutls_handshake_set_secret_function(s, on_secret);
  gnutls_handshake_set_read_function(s, on_handshake_out);
  gnutls_alert_set_read_function(s, on_alert);
  if (ctx->keylog_file) gnutls_session_set_keylog_function(s, on_keylog);
  if (gnutls_session_ext_register(s, "quic_transport_parameters", TP_EXT_ID, GNUTLS_EXT_TLS,
                                  on_tp_recv, on_tp_send, NULL, NULL, NULL,
                                  GNUTLS_EXT_FLAG_TLS | GNUTLS_EXT_FLAG_CLIENT_HELLO |
                                      GNUTLS_EXT_FLAG_EE) < 0)
    return PQ_ERR_TLS;
  if (gnutls_alpn_set_protocols(s, ctx->alpn, ctx->alpn_count,
                                GNUTLS_ALPN_MANDATORY | GNUTLS_ALPN_SERVER_PRECEDENCE) < 0)
    return PQ_ERR_TLS;
  /* RFC 6066 §3: no IP literal in SNI (servers reject one). The certificate is still
   * checked against the address: GnuTLS's hostname check matches an IP literal against
   * the certificate's iPAddress subjectAltNames (never its DNS names or CN). */
  if (!ctx->is_server && t->server_name && !is_ip_literal(t->server_name)) {
    if (gnutls_server_name_set(s, GNUTLS_NAME_DNS, t->server_name,
                               strlen(t->server_name)) < 0)
      return PQ_ERR_TLS;
  }
  if (!ctx->is_server && !ctx->insecure)
    gnutls_session_set_verify_cert(s, t->server_name, 0);
  return 0;
}

int pq_tls_new(pq_tls **out, pq_tls_ctx *ctx, const char *server_name,
               const pq_tls_callbacks *cb, void *user) {
  int rv;
  *out = NULL;
  if (!ctx || !cb || !cb->send_crypto || !cb->set_secrets) return PQ_ERR_INVALID_ARG;
  pq_tls *t = calloc(1, sizeof(*t));
  if (!t) return PQ_ERR_NOMEM;
  t->ctx = ctx;
  t->cb = *cb;
  t->user = user;
  if (server_name && !ctx->is_server && !(t->server_name = dup_str(server_name))) {
    free(t);
    return PQ_ERR_NOMEM;
  }
  if ((rv = setup_session(t)) < 0) {
    pq_tls_del(t);
    return rv;
  }
  *out = t;
  return 0;
}

void pq_tls_del(pq_tls *t) {
  if (!t) return;
  if (t->session) gnutls_deinit(t->session);
  free(t->server_name);
  free(t->local_tp);
  free(t->peer_tp);
  free(t);
}

int pq_tls_set_local_tp(pq_tls *t, const uint8_t *tp, size_t len) {
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy) return PQ_ERR_NOMEM;
  if (len) memcpy(copy, tp, len);
  free(t->local_tp);
  t->local_tp = copy;
  t->local_tp_len = len;
  return 0;
}

const uint8_t *pq_tls_peer_tp(const pq_tls *t, size_t *len) {
  *len = t->have_peer_tp ? t->peer_tp_len : 0;
  return t->have_peer_tp ? t->peer_tp : NULL;
}

/* ---- failure reasons ---------------------------------------------------------------------- */

/* Short words for the certificate status bits a user can act on; GnuTLS's own sentence
 * follows them in the reason. */
static const struct {
  unsigned bit;
  const char *words;
} cert_problems[] = {
    {GNUTLS_CERT_UNEXPECTED_OWNER, "name mismatch"},
    {GNUTLS_CERT_SIGNER_NOT_FOUND, "issuer unknown (not trusted)"},
    {GNUTLS_CERT_SIGNER_NOT_CA, "issuer is not a CA"},
    {GNUTLS_CERT_EXPIRED, "expired"},
    {GNUTLS_CERT_NOT_ACTIVATED, "not yet valid"},
    {GNUTLS_CERT_REVOKED, "revoked"},
    {GNUTLS_CERT_INSECURE_ALGORITHM, "insecure algorithm"},
    {GNUTLS_CERT_SIGNATURE_FAILURE, "bad signature"},
    {GNUTLS_CERT_PURPOSE_MISMATCH, "not for TLS servers (key usage)"},
};

/* Appends printf-style text to t->reason (silently cut at its size). */
static void reason_add(pq_tls *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reason_add(pq_tls *t, const char *fmt, ...) {
  size_t used = strlen(t->reason);
  va_list ap;
  if (used + 1 >= sizeof(t->reason)) return;
  va_start(ap, fmt);
  vsnprintf(t->reason + used, sizeof(t->reason) - used, fmt, ap);
  va_end(ap);
}

/* "certificate verification failed for "NAME": name mismatch, ... (GnuTLS's status
 * sentence)". */
static void reason_certificate(pq_tls *t) {
  unsigned status = gnutls_session_get_verify_cert_status(t->session);
  gnutls_datum_t text = {NULL, 0};
  int n = 0;
  if (t->server_name) reason_add(t, "certificate verification failed for \"%s\"", t->server_name);
  else reason_add(t, "certificate verification failed");
  for (size_t i = 0; i < sizeof(cert_problems) / sizeof(cert_problems[0]); i++)
    if (status & cert_problems[i].bit) reason_add(t, "%s%s", n++ ? ", " : ": ", cert_problems[i].words);
  if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) == 0) {
    size_t len = text.size;
    while (len && (text.data[len - 1] == ' ' || text.data[len - 1] == 0)) len--;
    if (len) reason_add(t, " (%.*s)", (int)len, (const char *)text.data);
  }
  gnutls_free(text.data);
}

/* The cipher suites |ctx| allows, as "AES-128-GCM, CHACHA20-POLY1305". */
static void reason_ciphers(pq_tls *t) {
  static const struct {
    uint32_t bit;
    const char *name;
  } names[] = {{PQ_CIPHER_AES_128_GCM, "AES-128-GCM"},
               {PQ_CIPHER_AES_256_GCM, "AES-256-GCM"},
               {PQ_CIPHER_CHACHA20_POLY1305, "CHACHA20-POLY1305"}};
  int n = 0;
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (t->ctx->ciphers & names[i].bit) reason_add(t, "%s%s", n++ ? ", " : "", names[i].name);
}

/* The ALPN protocols |ctx| offers or accepts, as "h3, hq-interop". */
static void reason_alpn(pq_tls *t) {
  for (unsigned i = 0; i < t->ctx->alpn_count; i++)
    reason_add(t, "%s%.*s", i ? ", " : "", (int)t->ctx->alpn[i].size,
               (const char *)t->ctx->alpn[i].data);
}

/* Words for why the handshake failed with |gnutls_rv|, into t->reason. */
static void set_reason(pq_tls *t, int gnutls_rv) {
  t->reason[0] = 0;
  switch (gnutls_rv) {
  case GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR:
    reason_certificate(t);
    break;
  case GNUTLS_E_NO_CIPHER_SUITES:
  case GNUTLS_E_INSUFFICIENT_CREDENTIALS:
    reason_add(t, "no common cipher suite (%s allows ", t->ctx->is_server ? "server" : "client");
    reason_ciphers(t);
    reason_add(t, ")");
    break;
  case GNUTLS_E_NO_APPLICATION_PROTOCOL:
    reason_add(t, "no common application protocol (ALPN; %s offers ",
               t->ctx->is_server ? "server" : "client");
    reason_alpn(t);
    reason_add(t, ")");
    break;
  case GNUTLS_E_MISSING_EXTENSION:
    reason_add(t, "the peer sent no QUIC transport parameters (TLS extension 0x39)");
    break;
  case GNUTLS_E_NO_COMMON_KEY_SHARE:
    reason_add(t, "no common key exchange group");
    break;
  case GNUTLS_E_UNSUPPORTED_VERSION_PACKET:
    reason_add(t, "the peer does not speak TLS 1.3");
    break;
  default:
    reason_add(t, "TLS handshake failed: %s", gnutls_strerror(gnutls_rv));
    break;
  }
}

/* Records a failure: the alert to send (GnuTLS's alert for the error, e.g.
 * bad_certificate for a failed verification; internal_error if it has none) and the
 * reason. */
static int fail(pq_tls *t, int gnutls_rv) {
  t->failed = 1;
  t->last_error = gnutls_rv;
  if (t->cb_failed) return PQ_ERR_CALLBACK;
  set_reason(t, gnutls_rv);
  if (!t->alert) {
    int level = 0, a = gnutls_error_to_alert(gnutls_rv, &level);
    if (gnutls_rv == GNUTLS_E_NO_APPLICATION_PROTOCOL)
      t->alert = PQ_TLS_ALERT_NO_APPLICATION_PROTOCOL;
    else
      t->alert = a > 0 && a < 256 ? (uint8_t)a : PQ_TLS_ALERT_INTERNAL_ERROR;
  }
  return PQ_ERR_TLS;
}

/* Runs the handshake as far as the buffered input allows. */
static int drive(pq_tls *t) {
  int rv = gnutls_handshake(t->session);
  if (rv == GNUTLS_E_AGAIN || rv == GNUTLS_E_INTERRUPTED) return 0;
  if (rv < 0) {
    if (!gnutls_error_is_fatal(rv) && !t->cb_failed) return 0;
    return fail(t, rv);
  }
  /* RFC 9001 §8.2: the transport parameters extension is mandatory. */
  if (!t->have_peer_tp) {
    t->alert = PQ_TLS_ALERT_MISSING_EXTENSION;
    return fail(t, GNUTLS_E_MISSING_EXTENSION);
  }
  gnutls_datum_t p;
  if (gnutls_alpn_get_selected_protocol(t->session, &p) == 0 && p.size < sizeof(t->alpn_sel)) {
    memcpy(t->alpn_sel, p.data, p.size);
    t->alpn_sel[p.size] = 0;
  } else {
    t->alert = PQ_TLS_ALERT_NO_APPLICATION_PROTOCOL;
    return fail(t, GNUTLS_E_NO_APPLICATION_PROTOCOL);
  }
  t->done = 1;
  return 0;
}

int pq_tls_set_session(pq_tls *t, const uint8_t *data, size_t len) {
  if (t->ctx->is_server || t->started || !data || len == 0 || len > UINT32_MAX)
    return PQ_ERR_INVALID_ARG;
  return gnutls_session_set_data(t->session, data, len) < 0 ? PQ_ERR_TLS : 0;
}

int pq_tls_start(pq_tls *t) {
  if (t->failed) return PQ_ERR_TLS;
  if (t->ctx->is_server) return 0;
  t->started = 1;
  return drive(t);
}

int pq_tls_recv_crypto(pq_tls *t, pq_tls_level level, const uint8_t *data, size_t len) {
  if (t->failed) return t->cb_failed ? PQ_ERR_CALLBACK : PQ_ERR_TLS;
  if ((unsigned)level >= PQ_TLS_LEVELS || (len && !data)) return PQ_ERR_INVALID_ARG;
  if (len == 0) return 0;
  int rv = gnutls_handshake_write(t->session, (gnutls_record_encryption_level_t)level, data,
                                  len);
  if (rv < 0) {
    if (!gnutls_error_is_fatal(rv) && !t->cb_failed) return 0;
    return fail(t, rv);
  }
  if (t->done) return 0; /* post-handshake messages were handled by the write */
  return drive(t);
}

int pq_tls_is_done(const pq_tls *t) { return t->done; }
int pq_tls_is_resumed(const pq_tls *t) { return t->done && gnutls_session_is_resumed(t->session); }

int pq_tls_early_data_accepted(const pq_tls *t) {
  return t->done && (gnutls_session_get_flags(t->session) & GNUTLS_SFLAGS_EARLY_DATA) != 0;
}
uint8_t pq_tls_alert(const pq_tls *t) { return t->alert; }
const char *pq_tls_alpn(const pq_tls *t) { return t->done ? t->alpn_sel : NULL; }
pq_aead_alg pq_tls_aead(const pq_tls *t) { return t->alg; }

const char *pq_tls_error(const pq_tls *t) {
  return t->last_error ? gnutls_strerror(t->last_error) : "";
}

const char *pq_tls_reason(const pq_tls *t) { return t->reason; }

int pq_tls_peer_server_name(const pq_tls *t, char *buf, size_t cap) {
  size_t len = cap;
  unsigned type = 0;
  if (!t->ctx->is_server) return 0;
  int rv = gnutls_server_name_get(t->session, buf, &len, &type, 0);
  if (rv == GNUTLS_E_SHORT_MEMORY_BUFFER) return PQ_ERR_NOBUF;
  if (rv < 0 || type != GNUTLS_NAME_DNS) return 0; /* none requested */
  return (int)strlen(buf);
}
