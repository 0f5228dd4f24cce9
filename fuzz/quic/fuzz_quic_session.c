/*
 * fuzz_quic_session.c: parses client session blobs (pq_session, what
 * pluginop-client --session-file reads). A refused blob must come with a reason; an
 * accepted one must encode again and parse to the same ticket and parameters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pluginop/quic.h"
#include "pq_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint8_t buf[PQ_SESSION_MAX];
  pq_session a, b;
  const char *why = NULL;
  ssize_t n;
  int rv = pq_session_decode(&a, data, size, &why);
  if (rv != 0) {
    if (rv != PQ_ERR_INVALID_ARG || !why || !why[0]) abort();
    if (pq_session_check(data, size, NULL) != PQ_ERR_INVALID_ARG) abort();
    return 0;
  }
  if (a.ticket < data || a.ticket + a.ticket_len > data + size) abort();
  n = pq_session_encode(a.ticket, a.ticket_len, &a.tp, buf, sizeof(buf));
  if (n <= 0 || (size_t)n > size) abort(); /* shortest varints: never longer */
  if (pq_session_decode(&b, buf, (size_t)n, NULL) != 0) abort();
  if (b.ticket_len != a.ticket_len || memcmp(b.ticket, a.ticket, a.ticket_len) != 0 ||
      memcmp(&b.tp, &a.tp, sizeof(a.tp)) != 0)
    abort();
  return 0;
}
