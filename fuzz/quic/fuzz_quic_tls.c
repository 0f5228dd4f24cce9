/* fuzz_quic_tls.c: arbitrary CRYPTO data into pq_tls (GnuTLS's QUIC handshake path).
 * Input: byte 0 = role (bit 0: client/server) and chunk size (bits 1..7), then records
 * of [level byte][data...] separated by the byte sequence "\xff\xfe": each record is fed
 * at (level & 3) in chunks. A client is started first (its ClientHello discarded).
 * Nothing may crash, leak or read out of bounds; errors are ordinary returns. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pq_cert.h"
#include "pq_tls.h"

static int sink_send(void *user, pq_tls_level level, const uint8_t *data, size_t len) {
  (void)user, (void)level, (void)data, (void)len;
  return 0;
}

static int sink_secrets(void *user, pq_tls_level level, pq_aead_alg alg, const uint8_t *rx,
                        const uint8_t *tx, size_t len) {
  pq_keys k;
  (void)user, (void)level;
  /* what the connection would do: derive keys from each secret */
  if (rx && pq_keys_init(&k, alg, rx, len) == 0) pq_keys_free(&k);
  if (tx && pq_keys_init(&k, alg, tx, len) == 0) pq_keys_free(&k);
  return 0;
}

/* Contexts are made once per process (certificate generation is slow). */
static pq_tls_ctx *server_ctx, *client_ctx;
static pq_cert cert;

static int init_once(void) {
  if (server_ctx) return 0;
  if (pq_cert_generate(&cert, "localhost", time(NULL), 30) != 0) return -1;
  pq_tls_ctx_config s = {.is_server = 1, .cert_pem = cert.cert_pem, .key_pem = cert.key_pem,
                         .resumption = 1, .early_data = 1};
  pq_tls_ctx_config c = {.insecure = 1, .resumption = 1};
  if (pq_tls_ctx_new(&server_ctx, &s) != 0 || pq_tls_ctx_new(&client_ctx, &c) != 0) return -1;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const pq_tls_callbacks cb = {sink_send, sink_secrets, NULL, NULL};
  pq_tls *t = NULL;
  if (size < 1 || init_once() != 0) return 0;
  int is_client = data[0] & 1;
  size_t chunk = (size_t)(data[0] >> 1) + 1;
  if (pq_tls_new(&t, is_client ? client_ctx : server_ctx, "localhost", &cb, NULL) != 0)
    return 0;
  pq_tls_set_local_tp(t, (const uint8_t *)"\x0f\x00", 2);
  if (is_client) pq_tls_start(t);
  size_t i = 1;
  while (i < size) {
    size_t end = i;
    while (end + 1 < size && !(data[end] == 0xff && data[end + 1] == 0xfe)) end++;
    if (end + 1 >= size) end = size;
    if (end > i) {
      pq_tls_level level = (pq_tls_level)(data[i] & 3);
      for (size_t p = i + 1; p < end; p += chunk) {
        size_t n = end - p < chunk ? end - p : chunk;
        if (pq_tls_recv_crypto(t, level, data + p, n) < 0) break;
      }
    }
    i = end + 2;
  }
  size_t tplen;
  (void)pq_tls_peer_tp(t, &tplen);
  (void)pq_tls_alpn(t);
  pq_tls_del(t);
  return 0;
}
