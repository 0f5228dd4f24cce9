/*
 * fuzz_quic_frame.c: parses a packet payload frame by frame. Every frame that parses
 * must re-encode to exactly its wire_len and parse back to the same type and length;
 * ACK ranges are walked and must descend; STREAM frames feed a receive buffer (errors
 * allowed, crashes and leaks not).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pq_frame.h"
#include "pq_strm.h"

static int discard(void *user, uint64_t off, const uint8_t *data, size_t len, bool fin) {
  (void)user;
  /* touch the bytes so ASan checks the pointer range */
  volatile uint8_t x = 0;
  for (size_t i = 0; i < len; i += 64) x ^= data[i];
  (void)x;
  (void)off;
  (void)fin;
  return 0;
}

static void check_ack(const pq_frame *f) {
  pq_ack_iter it;
  uint64_t lo, hi, prev_lo = UINT64_MAX, n = 0;
  pq_ack_iter_init(&it, &f->u.ack);
  while (pq_ack_iter_next(&it, &lo, &hi)) {
    if (lo >= hi || hi > prev_lo || (prev_lo != UINT64_MAX && hi >= prev_lo)) abort();
    prev_lo = lo;
    n++;
  }
  if (n != f->u.ack.range_count + 1) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint8_t out[1 << 16];
  pq_strm_rx rx;
  size_t off = 0;
  pq_strm_rx_init(&rx, 1 << 16);
  while (off < size) {
    pq_frame f, g;
    ssize_t n = pq_frame_parse(&f, data + off, size - off), w, r;
    size_t wl;
    if (n <= 0) {
      if (n == 0 || !pq_err_is_transport((int)n)) abort(); /* only protocol errors */
      break;
    }
    if ((size_t)n > size - off) abort();
    wl = pq_frame_wire_len(&f);
    if (wl == 0 || wl > (size_t)n) abort(); /* minimal encoding is never longer */
    w = pq_frame_write(&f, out, sizeof(out));
    if (w != (ssize_t)wl) abort();
    r = pq_frame_parse(&g, out, (size_t)w);
    /* STREAM writers drop the OFF bit for offset 0: compare the other bits. */
    if (r != w || (g.type | PQ_STREAM_OFF_BIT) != (f.type | PQ_STREAM_OFF_BIT)) abort();
    if (g.type != f.type && !(f.type >= PQ_FT_STREAM && f.type <= PQ_FT_STREAM_MAX)) abort();
    if (f.type == PQ_FT_ACK || f.type == PQ_FT_ACK_ECN) check_ack(&f);
    if (f.type >= PQ_FT_STREAM && f.type <= PQ_FT_STREAM_MAX) {
      if (memcmp(g.u.stream.data, f.u.stream.data, (size_t)f.u.stream.len) != 0) abort();
      (void)pq_strm_rx_recv(&rx, f.u.stream.offset, f.u.stream.data, (size_t)f.u.stream.len,
                            f.u.stream.fin, discard, NULL, NULL);
    }
    off += (size_t)n;
  }
  pq_strm_rx_free(&rx);
  return 0;
}
