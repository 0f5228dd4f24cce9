/*
 * fuzz_quic_tp.c: decodes transport parameters as sent by a client and by a server.
 * Whatever decodes must encode again and decode to the same values.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pq_tp.h"

static int accept_unknown(void *user, uint64_t id, const uint8_t *val, size_t len) {
  volatile uint8_t x = 0;
  for (size_t i = 0; i < len; i++) x ^= val[i];
  (void)x;
  (void)user;
  (void)id;
  return 0;
}

static void roundtrip(const uint8_t *data, size_t size, bool from_server) {
  static uint8_t buf[4096];
  pq_tp_ext ext = {accept_unknown, NULL, NULL};
  pq_tp a, b;
  ssize_t n;
  int rv = pq_tp_decode(&a, from_server, data, size, &ext);
  if (rv < 0) {
    if (rv != PQ_ERR_TRANSPORT_PARAMETER) abort();
    return;
  }
  n = pq_tp_encode(&a, from_server, buf, sizeof(buf), NULL);
  if (n < 0) abort();
  if (pq_tp_decode(&b, from_server, buf, (size_t)n, NULL) != 0) abort();
  a.seen = b.seen = 0;
  if (memcmp(&a, &b, sizeof(a)) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  roundtrip(data, size, false);
  roundtrip(data, size, true);
  return 0;
}
