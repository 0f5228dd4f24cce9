/*
 * pq_hs.h: the handshake driver interface between the connection and TLS.
 *
 * The connection does not call a TLS library directly: it drives a pq_hs_ops (a const
 * struct of callbacks with a name, like congestion control), and the driver talks back
 * through pq_hs_host. pq_tls (GnuTLS's QUIC API) is meant to provide one driver; pq_hs_null
 * is an insecure driver for tests that exercises the same connection paths (CRYPTO
 * streams at three levels, secrets installed per level and direction, transport
 * parameters, completion) without certificates.
 *
 * Levels match the packet number spaces: Initial, Handshake, 1-RTT. 0-RTT secrets have
 * their own host callback (0-RTT packets share the 1-RTT packet number space).
 */
#ifndef PLUGINOP_PQ_HS_H
#define PLUGINOP_PQ_HS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pq_crypto.h"

typedef enum pq_level {
  PQ_LEVEL_INITIAL = 0,
  PQ_LEVEL_HANDSHAKE = 1,
  PQ_LEVEL_APP = 2,
  PQ_LEVEL_COUNT = 3
} pq_level;

/* What the driver calls back into the connection. Each returns 0 or a negative error
 * (which the driver passes up). */
typedef struct pq_hs_host {
  /* Handshake bytes to send in CRYPTO frames at |level| (copied). */
  int (*write_crypto)(void *conn, pq_level level, const uint8_t *data, size_t len);
  /* A traffic secret for |level|, |tx| for sending (copied). */
  int (*set_secret)(void *conn, pq_level level, bool tx, pq_aead_alg alg,
                    const uint8_t *secret, size_t len);
  /* The peer's encoded transport parameters (borrowed during the call). */
  int (*peer_params)(void *conn, const uint8_t *data, size_t len);
  /* The handshake completed (RFC 9001 §4.1.1). */
  int (*complete)(void *conn);
  /* Optional: a 0-RTT traffic secret (client: |tx|, server: receive), copied. */
  int (*set_early_secret)(void *conn, bool tx, pq_aead_alg alg, const uint8_t *secret,
                          size_t len);
  /* Optional (client): a resumable session (opaque TLS data, borrowed for the call). */
  int (*session_ticket)(void *conn, const uint8_t *data, size_t len);
} pq_hs_host;

typedef struct pq_hs_config {
  bool is_server;
  const char *server_name;   /* client: SNI / verification (borrowed during new) */
  const char *alpn;
  const char *ca_file, *cert_file, *key_file;
  bool insecure;
  const uint8_t *local_params; /* our encoded transport parameters (copied) */
  size_t local_params_len;
  uint32_t ciphers;            /* PQ_CIPHER_* mask, 0 = all */
  const char *keylog_file;
  void *tls_ctx;               /* pq_hs_tls: a shared pq_tls_ctx (borrowed, must
                                  outlive the connection); NULL = make one */
  bool resumption;             /* client without tls_ctx: accept session tickets */
  bool early_data;             /* client without tls_ctx: offer 0-RTT when resuming */
} pq_hs_config;

typedef struct pq_hs_ops {
  const char *name;
  /* Creates the driver state in *|st|. Returns 0, PQ_ERR_NOMEM or PQ_ERR_TLS. */
  int (*create)(void **st, const pq_hs_config *cfg, const pq_hs_host *host, void *conn);
  void (*destroy)(void *st);
  /* Client: produce the first flight (ClientHello). Server: nothing. */
  int (*start)(void *st);
  /* In-order CRYPTO bytes received at |level| (borrowed; may split messages anywhere).
   * Returns 0, PQ_ERR_TLS (handshake failure: close with a crypto error) or a host
   * callback's error. */
  int (*recv)(void *st, pq_level level, const uint8_t *data, size_t len);
  /* Optional: the TLS alert of a failed handshake (0 if none): the connection closes
   * with CRYPTO_ERROR 0x100 + alert. */
  uint8_t (*alert)(void *st);
  /* Optional: why the handshake failed, in words for people ("" or NULL if unknown);
   * owned by the driver, valid until it is destroyed. It becomes the connection's
   * close reason (pq_close_info.reason, and the reason phrase of the CONNECTION_CLOSE). */
  const char *(*reason)(void *st);
  /* Optional (client, before start): resume the opaque TLS session |data|. Returns 0
   * or PQ_ERR_TLS (unusable: the handshake goes on without it). */
  int (*set_session)(void *st, const uint8_t *data, size_t len);
  /* Optional: 1 if 0-RTT was accepted (valid once complete), else 0. */
  int (*early_accepted)(void *st);
} pq_hs_ops;

/* The insecure test driver. */
extern const pq_hs_ops pq_hs_null;
/* TLS 1.3 through GnuTLS (pq_tls). */
extern const pq_hs_ops pq_hs_tls;

#endif
