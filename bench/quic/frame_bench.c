/*
 * frame_bench.c: cost of the frame layer on the data path, per 1200-byte packet:
 *   send: ACK from a pq_acktr + STREAM header + bytes taken from a pq_strm_tx, acked;
 *   recv: parse every frame, feed STREAM data to a pq_strm_rx (zero-copy in order),
 *         walk the ACK ranges, record the packet number in a pq_acktr;
 *   ack:  parse + iterate an ACK frame with 32 ranges.
 * No crypto, no I/O. Standalone (not part of the build):
 *
 *   cc -O2 -Isrc/quic -Iinclude bench/quic/frame_bench.c src/quic/pq_frame.c \
 *      src/quic/pq_ranges.c src/quic/pq_strm.c src/quic/pq_acktr.c -o /tmp/frame_bench \
 *      && /tmp/frame_bench
 *
 * Prints ns per operation and the payload rate it alone would allow (median of 5).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pq_acktr.h"
#include "pq_frame.h"
#include "pq_strm.h"

#define PKT 1200
#define N 200000

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int sink_fn(void *user, uint64_t off, const uint8_t *data, size_t len, bool fin) {
  *(uint64_t *)user += len + data[0];
  return 0;
}

static uint8_t pkts[64][PKT];
static size_t pkt_len[64];
static uint8_t appdata[1 << 16];

/* Builds packets as the send path would; returns ns per packet. */
static double bench_send(void) {
  pq_strm_tx tx;
  pq_acktr ack;
  double t0, t1;
  uint64_t total = 0;
  pq_strm_tx_init(&tx, 1 << 20);
  pq_acktr_init(&ack, 0, 25000000);
  for (uint64_t pn = 0; pn < 64; pn++)
    if (pn % 9 != 4) pq_acktr_on_packet(&ack, pn, true, pn);
  t0 = now_ns();
  for (int i = 0; i < N; i++) {
    uint8_t *p = pkts[i & 63];
    size_t off = 0;
    pq_frame f;
    uint64_t soff, fit;
    size_t len;
    bool fin;
    ssize_t h;
    if (pq_strm_tx_room(&tx) >= sizeof(appdata) / 2)
      pq_strm_tx_write(&tx, appdata, sizeof(appdata) / 2, false);
    pq_acktr_frame(&ack, &f, 1000, 3, true, 8);
    off += (size_t)pq_frame_write(&f, p, PKT);
    fit = pq_frame_stream_fit(4, tx.send_off, PKT - off, UINT64_MAX, false);
    if (!pq_strm_tx_take(&tx, (size_t)fit, UINT64_MAX, &soff, &len, &fin)) abort();
    h = pq_frame_stream_header_write(p + off, PKT - off, 4, soff, len, fin, false);
    pq_strm_tx_copy(&tx, soff, p + off + (size_t)h, len);
    off += (size_t)h + len;
    pkt_len[i & 63] = off;
    pq_strm_tx_on_acked(&tx, soff, len, fin);
    total += off;
  }
  t1 = now_ns();
  if (total == 0) abort();
  pq_strm_tx_free(&tx);
  pq_acktr_free(&ack);
  return (t1 - t0) / N;
}

/* Parses the packets as the receive path would; returns ns per packet. */
static double bench_recv(void) {
  pq_strm_rx rx;
  pq_acktr ack;
  uint64_t delivered = 0, next = 0;
  double t0, t1;
  pq_strm_rx_init(&rx, UINT64_C(1) << 40);
  pq_acktr_init(&ack, 0, 25000000);
  t0 = now_ns();
  for (int i = 0; i < N; i++) {
    const uint8_t *p = pkts[i & 63];
    size_t off = 0, len = pkt_len[i & 63];
    while (off < len) {
      pq_frame f;
      ssize_t n = pq_frame_parse(&f, p + off, len - off);
      if (n <= 0) abort();
      if (f.type >= PQ_FT_STREAM && f.type <= PQ_FT_STREAM_MAX) {
        /* pretend the packets carry consecutive data */
        pq_strm_rx_recv(&rx, next, f.u.stream.data, (size_t)f.u.stream.len, false, sink_fn,
                        &delivered, NULL);
        next += f.u.stream.len;
      } else if (f.type == PQ_FT_ACK) {
        pq_ack_iter it;
        uint64_t lo, hi;
        pq_ack_iter_init(&it, &f.u.ack);
        while (pq_ack_iter_next(&it, &lo, &hi)) delivered += hi - lo;
      }
      off += (size_t)n;
    }
    pq_acktr_on_packet(&ack, (uint64_t)i, true, (uint64_t)i);
    if (pq_acktr_should_send(&ack, (uint64_t)i)) pq_acktr_on_ack_sent(&ack);
  }
  t1 = now_ns();
  if (delivered == 0) abort();
  pq_strm_rx_free(&rx);
  pq_acktr_free(&ack);
  return (t1 - t0) / N;
}

static double bench_ack32(void) {
  pq_range r[32];
  pq_frame f = {.type = PQ_FT_ACK};
  uint8_t buf[512];
  uint64_t sum = 0;
  ssize_t n;
  double t0, t1;
  for (int i = 0; i < 32; i++) r[i] = (pq_range){(uint64_t)i * 1000, (uint64_t)i * 1000 + 700};
  f.u.ack.ranges = r;
  f.u.ack.nranges = 32;
  n = pq_frame_write(&f, buf, sizeof(buf));
  t0 = now_ns();
  for (int i = 0; i < N; i++) {
    pq_frame g;
    pq_ack_iter it;
    uint64_t lo, hi;
    if (pq_frame_parse(&g, buf, (size_t)n) != n) abort();
    pq_ack_iter_init(&it, &g.u.ack);
    while (pq_ack_iter_next(&it, &lo, &hi)) sum += lo;
  }
  t1 = now_ns();
  if (sum == 0) abort();
  return (t1 - t0) / N;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median5(double (*fn)(void)) {
  double v[5];
  for (int i = 0; i < 5; i++) v[i] = fn();
  qsort(v, 5, sizeof(v[0]), cmp);
  return v[2];
}

int main(void) {
  double s, r, a;
  for (size_t i = 0; i < sizeof(appdata); i++) appdata[i] = (uint8_t)(i * 7 + 1);
  s = median5(bench_send);
  r = median5(bench_recv);
  a = median5(bench_ack32);
  printf("send path (ACK + STREAM from pq_strm_tx, acked): %6.1f ns/packet  %6.1f Gbit/s\n", s,
         PKT * 8 / s);
  printf("recv path (parse + pq_strm_rx + pq_acktr):        %6.1f ns/packet  %6.1f Gbit/s\n", r,
         PKT * 8 / r);
  printf("ACK with 32 ranges, parse + iterate:               %6.1f ns\n", a);
  return 0;
}
