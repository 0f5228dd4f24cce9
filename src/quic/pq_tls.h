/*
 * pq_tls.h: the TLS 1.3 handshake for QUIC (RFC 9001 §4) through GnuTLS's QUIC API.
 *
 * No records, no sockets: the connection hands pq_tls the CRYPTO-frame bytes it
 * received, in order, per encryption level (pq_tls_recv_crypto), and pq_tls calls back
 * with handshake bytes to send in CRYPTO frames (send_crypto), with each new traffic
 * secret (set_secrets: feed them to pq_keys_init) and with the alert to send as a
 * CONNECTION_CLOSE (error 0x100 + alert) when the handshake fails.
 *
 *   pq_tls_ctx   shared, read-only after creation: credentials (server certificate,
 *                client trust store), priorities, ALPN, keylog path. One per endpoint.
 *   pq_tls       one per connection.
 *
 * Transport parameters travel in the quic_transport_parameters extension (0x39) as
 * opaque bytes: pq_tls_set_local_tp before the handshake needs them (client: before
 * pq_tls_start; server: before the ClientHello is fed), pq_tls_peer_tp after.
 *
 * Errors are pq_status codes (pluginop/quic.h).
 */
#ifndef PLUGINOP_PQ_TLS_H
#define PLUGINOP_PQ_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "pluginop/quic.h"
#include "pq_crypto.h"

/* Encryption levels (RFC 9001 §4.1.4); values match GnuTLS's. */
typedef enum pq_tls_level {
  PQ_TLS_LEVEL_INITIAL = 0,
  PQ_TLS_LEVEL_EARLY = 1, /* 0-RTT */
  PQ_TLS_LEVEL_HANDSHAKE = 2,
  PQ_TLS_LEVEL_APPLICATION = 3, /* 1-RTT */
} pq_tls_level;
#define PQ_TLS_LEVELS 4

/* TLS alerts used here (the CONNECTION_CLOSE code is 0x100 + alert). */
#define PQ_TLS_ALERT_INTERNAL_ERROR 80
#define PQ_TLS_ALERT_MISSING_EXTENSION 109
#define PQ_TLS_ALERT_NO_APPLICATION_PROTOCOL 120

typedef struct pq_tls_ctx_config {
  int is_server;
  /* ALPN protocols in preference order, comma-separated; NULL means "h3". The
   * handshake fails (no_application_protocol) without a common one. Copied. */
  const char *alpn;
  /* Server: certificate chain and key, PEM, from files or from memory (one pair
   * required). Copied/loaded at creation. */
  const char *cert_file, *key_file;
  const char *cert_pem, *key_pem;
  /* Client: whom to trust. ca_file or ca_pem (PEM); neither = the system trust store.
   * insecure = no verification at all (tests, interop). */
  const char *ca_file;
  const char *ca_pem;
  int insecure;
  /* PQ_CIPHER_* mask (pluginop/quic.h), 0 = all three. A client restricted to
   * PQ_CIPHER_CHACHA20_POLY1305 forces ChaCha20 (the interop "chacha20" case). */
  uint32_t ciphers;
  /* Append NSS key log lines here (SSLKEYLOGFILE format) or NULL. Copied. */
  const char *keylog_file;
  /* Session resumption. Server: issue NewSessionTickets (one ticket key per context).
   * Client: ask for them; each arrives through the session_ticket callback. */
  int resumption;
  /* 0-RTT (needs resumption). Server: accept early data (max_early_data_size
   * 0xffffffff, replays of a ClientHello rejected by a bounded in-memory table).
   * Client: offer it when resuming a session that allows it. */
  int early_data;
} pq_tls_ctx_config;

typedef struct pq_tls_ctx pq_tls_ctx;
typedef struct pq_tls pq_tls;

/* Creates a context from |cfg| (everything copied or loaded). Returns 0 and sets *out,
 * or PQ_ERR_INVALID_ARG (server without certificate, bad ALPN list), PQ_ERR_TLS
 * (unreadable certificate/key/CA, empty trust store), PQ_ERR_NOMEM. */
int pq_tls_ctx_new(pq_tls_ctx **out, const pq_tls_ctx_config *cfg);
/* Frees the context. All pq_tls made from it must be deleted first. NULL is ignored. */
void pq_tls_ctx_del(pq_tls_ctx *ctx);

/* Callbacks into the connection. Each returns 0, or non-zero to fail the handshake
 * (pq_tls_recv_crypto / pq_tls_start then return PQ_ERR_CALLBACK). */
typedef struct pq_tls_callbacks {
  /* Required. Handshake bytes to send in CRYPTO frames at |level|; copy them. */
  int (*send_crypto)(void *user, pq_tls_level level, const uint8_t *data, size_t len);
  /* Required. New traffic secret(s) for |level| (HANDSHAKE, APPLICATION, or EARLY),
   * each |len| = pq_aead_secret_len(alg) bytes; rx (to open the peer's packets) or tx
   * (to protect ours) may be NULL when only one is ready. Borrowed for the call. */
  int (*set_secrets)(void *user, pq_tls_level level, pq_aead_alg alg, const uint8_t *rx,
                     const uint8_t *tx, size_t len);
  /* Optional. TLS wants to send |alert| (at |level|): close with 0x100 + alert. */
  void (*alert)(void *user, pq_tls_level level, uint8_t alert);
  /* Optional (client). A session ticket arrived: |data| / |len| is what to give
   * pq_tls_set_session on a later connection (store it with the server's transport
   * parameters for 0-RTT). Borrowed for the call. */
  int (*session_ticket)(void *user, const uint8_t *data, size_t len);
} pq_tls_callbacks;

/* Creates the TLS side of one connection. |server_name| (client): SNI and the name the
 * certificate must match (NULL: no SNI, chain-only verification); an IPv4 or IPv6
 * literal is not sent as SNI (RFC 6066 §3) and must match an iPAddress subjectAltName
 * of the certificate; ignored by servers.
 * |cb| is copied, |user| is passed back to every callback, |ctx| is borrowed (must
 * outlive the pq_tls). Returns 0 and sets *out, PQ_ERR_INVALID_ARG, PQ_ERR_NOMEM,
 * PQ_ERR_TLS. */
int pq_tls_new(pq_tls **out, pq_tls_ctx *ctx, const char *server_name,
               const pq_tls_callbacks *cb, void *user);
/* Frees |tls| (NULL is ignored). */
void pq_tls_del(pq_tls *tls);

/* Our transport parameters (encoded by pq_tp; opaque here), copied. Returns 0,
 * PQ_ERR_NOMEM. */
int pq_tls_set_local_tp(pq_tls *tls, const uint8_t *tp, size_t len);
/* The peer's transport parameter bytes, or NULL if not received (yet). Owned by |tls|. */
const uint8_t *pq_tls_peer_tp(const pq_tls *tls, size_t *len);

/* Client, before pq_tls_start: resume the session |data| / |len| (from the
 * session_ticket callback); with early_data the EARLY tx secret follows the ClientHello.
 * Returns 0, PQ_ERR_INVALID_ARG (server, already started), PQ_ERR_TLS (unusable data). */
int pq_tls_set_session(pq_tls *tls, const uint8_t *data, size_t len);

/* Client: produces the ClientHello (through send_crypto at INITIAL). Servers: no-op.
 * Returns 0, PQ_ERR_TLS, PQ_ERR_CALLBACK. */
int pq_tls_start(pq_tls *tls);

/* Feeds |len| CRYPTO bytes received at |level| (in stream order, no gaps) and advances
 * the handshake; callbacks fire from inside. Returns 0 (call again with more data, or
 * done: see pq_tls_is_done), PQ_ERR_TLS (handshake failed: pq_tls_alert tells what to
 * send), PQ_ERR_CALLBACK. After completion, post-handshake messages are accepted. */
int pq_tls_recv_crypto(pq_tls *tls, pq_tls_level level, const uint8_t *data, size_t len);

/* 1 once the handshake completed (and, on a server, the peer's transport parameters
 * were present), else 0. */
int pq_tls_is_done(const pq_tls *tls);
/* 1 if the handshake resumed a session, else 0 (valid once done). */
int pq_tls_is_resumed(const pq_tls *tls);
/* 1 if the server accepted 0-RTT (valid once done; on the client, once done too). If a
 * client offered 0-RTT and this is 0, everything sent in 0-RTT packets is lost. */
int pq_tls_early_data_accepted(const pq_tls *tls);
/* The alert of a failed handshake (0 if none): close with CRYPTO_ERROR 0x100 + alert. */
uint8_t pq_tls_alert(const pq_tls *tls);
/* The negotiated ALPN protocol (NUL-terminated, owned by |tls|) or NULL. */
const char *pq_tls_alpn(const pq_tls *tls);
/* The negotiated AEAD; valid once handshake secrets were delivered. */
pq_aead_alg pq_tls_aead(const pq_tls *tls);
/* Server: copies the DNS name the client sent as SNI (NUL-terminated) into |buf| of
 * |cap| bytes. Returns its length, 0 if the client sent none (or on a client),
 * PQ_ERR_NOBUF if it does not fit. */
int pq_tls_peer_server_name(const pq_tls *tls, char *buf, size_t cap);
/* GnuTLS's error text for the last failure (static string), "" if none. */
const char *pq_tls_error(const pq_tls *tls);
/* Why the handshake failed, in words a user looks for (owned by |tls|, "" if it did
 * not fail, at most PQ_TLS_REASON_MAX - 1 bytes): a failed certificate check says
 * "certificate verification failed for "NAME": name mismatch, issuer unknown (not
 * trusted)... (GnuTLS's status text)"; also "no common cipher suite (client allows
 * ...)", "no common application protocol (ALPN; server offers ...)", missing transport
 * parameters, else "TLS handshake failed: " and GnuTLS's error text. */
#define PQ_TLS_REASON_MAX 256
const char *pq_tls_reason(const pq_tls *tls);

#endif
