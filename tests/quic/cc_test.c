/* NewReno and the congestion-control bookkeeping (RFC 9002 §7). */
#include <math.h>
#include <stdlib.h>

#include "pq_cc.h"
#include "test.h"

#define MDS 1200
#define MS UINT64_C(1000000)

static pq_cc_pkt pkt(uint64_t pn, size_t bytes, pq_tstamp sent) {
  pq_cc_pkt p = {pn, bytes, sent};
  return p;
}

static void send_n(pq_cc *cc, int n, pq_tstamp now) {
  for (int i = 0; i < n; i++) pq_cc_on_packet_sent(cc, MDS, now);
}

static void test_pq_cc_registry_by_name(void) {
  CHECK(pq_cc_find("newreno") == &pq_cc_newreno);
  CHECK(pq_cc_find("cubic-not-yet") == NULL);
  CHECK(pq_cc_find(NULL) == NULL);
}

static void test_pq_cc_init_windows(void) {
  pq_cc cc;
  CHECK_INT(0, ==, pq_cc_init(&cc, &pq_cc_newreno, MDS));
  CHECK_INT(10 * MDS, ==, cc.cwnd); /* min(10*1200, max(14720, 2400)) */
  CHECK_INT(2 * MDS, ==, pq_cc_min_window(&cc));
  CHECK(cc.ssthresh == UINT64_MAX);
  pq_cc_free(&cc);
  CHECK_INT(0, ==, pq_cc_init(&cc, &pq_cc_newreno, 1500));
  CHECK_INT(14720, ==, cc.cwnd); /* the cap applies for larger datagrams */
  pq_cc_free(&cc);
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_cc_init(&cc, &pq_cc_newreno, 1000));
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_cc_init(&cc, NULL, MDS));
}

static void test_pq_cc_newreno_slow_start(void) {
  pq_cc cc;
  pq_cc_pkt acked[10];
  pq_cc_init(&cc, &pq_cc_newreno, MDS);
  send_n(&cc, 10, 0);
  CHECK_INT(12000, ==, cc.bytes_in_flight);
  CHECK_INT(0, ==, pq_cc_available(&cc));
  for (int i = 0; i < 10; i++) acked[i] = pkt((uint64_t)i, MDS, 0);
  pq_cc_on_packets_acked(&cc, acked, 10, 100 * MS);
  CHECK_INT(24000, ==, cc.cwnd); /* doubled in one round trip */
  CHECK_INT(0, ==, cc.bytes_in_flight);
  CHECK_INT(24000, ==, pq_cc_available(&cc));
}

static void test_pq_cc_newreno_loss_halves_once_per_recovery(void) {
  pq_cc cc;
  pq_cc_pkt p;
  pq_cc_init(&cc, &pq_cc_newreno, MDS);
  cc.cwnd = 24000;
  send_n(&cc, 20, 10 * MS);
  p = pkt(0, MDS, 10 * MS);
  pq_cc_on_packets_lost(&cc, &p, 1, false, 200 * MS);
  CHECK_INT(12000, ==, cc.cwnd);
  CHECK_INT(12000, ==, cc.ssthresh);
  CHECK(pq_cc_in_recovery(&cc, 10 * MS));
  CHECK_INT(1, ==, (int)cc.congestion_events);
  /* Another packet sent before recovery started: no second reduction. */
  p = pkt(1, MDS, 20 * MS);
  pq_cc_on_packets_lost(&cc, &p, 1, false, 210 * MS);
  CHECK_INT(12000, ==, cc.cwnd);
  CHECK_INT(1, ==, (int)cc.congestion_events);
  /* Acks of packets sent before recovery started do not grow the window. */
  p = pkt(2, MDS, 30 * MS);
  pq_cc_on_packets_acked(&cc, &p, 1, 220 * MS);
  CHECK_INT(12000, ==, cc.cwnd);
  /* A packet sent after recovery started ends the period when lost: new reduction. */
  pq_cc_on_packet_sent(&cc, MDS, 250 * MS);
  p = pkt(30, MDS, 250 * MS);
  pq_cc_on_packets_lost(&cc, &p, 1, false, 400 * MS);
  CHECK_INT(6000, ==, cc.cwnd);
  CHECK_INT(2, ==, (int)cc.congestion_events);
  CHECK_INT(17 * MDS, ==, cc.bytes_in_flight);
}

static void test_pq_cc_newreno_congestion_avoidance(void) {
  pq_cc cc;
  pq_cc_pkt acked[10];
  pq_cc_init(&cc, &pq_cc_newreno, MDS);
  cc.ssthresh = 12000; /* at the threshold: congestion avoidance */
  send_n(&cc, 10, 0);
  for (int i = 0; i < 9; i++) acked[i] = pkt((uint64_t)i, MDS, 0);
  pq_cc_on_packets_acked(&cc, acked, 9, 100 * MS);
  CHECK_INT(12000, ==, cc.cwnd); /* not a full window yet */
  acked[0] = pkt(9, MDS, 0);
  pq_cc_on_packets_acked(&cc, acked, 1, 100 * MS);
  CHECK_INT(13200, ==, cc.cwnd); /* one datagram per window */
}

static void test_pq_cc_newreno_persistent_congestion(void) {
  pq_cc cc;
  pq_cc_pkt p[3];
  pq_cc_init(&cc, &pq_cc_newreno, MDS);
  cc.cwnd = 48000;
  send_n(&cc, 3, 0);
  for (int i = 0; i < 3; i++) p[i] = pkt((uint64_t)i, MDS, (pq_tstamp)i * MS);
  pq_cc_on_packets_lost(&cc, p, 3, true, 2000 * MS);
  CHECK_INT(2 * MDS, ==, cc.cwnd);
  CHECK_INT(1, ==, (int)cc.persistent_congestions);
  CHECK(!cc.has_recovery_start); /* the recovery period is reset */
  CHECK_INT(0, ==, cc.bytes_in_flight);
}

static void test_pq_cc_newreno_min_window_floor(void) {
  pq_cc cc;
  pq_cc_pkt p;
  pq_cc_init(&cc, &pq_cc_newreno, MDS);
  for (int i = 0; i < 10; i++) {
    pq_tstamp t = (pq_tstamp)(i + 1) * 1000 * MS;
    pq_cc_on_packet_sent(&cc, MDS, t);
    p = pkt((uint64_t)i, MDS, t);
    pq_cc_on_packets_lost(&cc, &p, 1, false, t + 1);
  }
  CHECK_INT(2 * MDS, ==, cc.cwnd);
  CHECK_INT(10, ==, (int)cc.congestion_events);
}

static void test_pq_cc_app_limited_no_growth(void) {
  pq_cc cc;
  pq_cc_pkt p = pkt(0, MDS, 0);
  pq_cc_init(&cc, &pq_cc_newreno, MDS);
  pq_cc_on_packet_sent(&cc, MDS, 0);
  cc.app_limited = true;
  pq_cc_on_packets_acked(&cc, &p, 1, MS);
  CHECK_INT(12000, ==, cc.cwnd);
  CHECK_INT(0, ==, cc.bytes_in_flight);
}

static void test_pq_cc_cubic_registered(void) {
  pq_cc cc;
  CHECK(pq_cc_find("cubic") == &pq_cc_cubic);
  CHECK_INT(0, ==, pq_cc_init(&cc, &pq_cc_cubic, MDS));
  CHECK_INT(12000, ==, cc.cwnd);
  pq_cc_free(&cc);
}

/* Drives CUBIC in congestion avoidance: one window of acks per 100 ms RTT. Returns the
 * window (segments) after |secs| seconds. */
static double cubic_run(pq_cc *cc, pq_tstamp *now, double secs) {
  pq_tstamp end = *now + (pq_tstamp)(secs * 1e9);
  uint64_t pn = 0;
  while (*now < end) {
    uint64_t n = cc->cwnd / MDS;
    pq_cc_pkt p;
    for (uint64_t i = 0; i < n; i++) {
      pq_cc_on_packet_sent(cc, MDS, *now);
      p = pkt(pn++, MDS, *now);
      pq_cc_on_packets_acked(cc, &p, 1, *now + 100 * MS);
    }
    *now += 100 * MS;
  }
  return (double)cc->cwnd / MDS;
}

static void test_pq_cc_cubic_reduction_and_curve(void) {
  pq_cc cc;
  pq_cc_pkt p;
  pq_tstamp now = 1000 * MS;
  double k, w1, w2, w3;
  pq_cc_init(&cc, &pq_cc_cubic, MDS);
  cc.smoothed_rtt = 100 * MS;
  cc.cwnd = 100 * MDS;
  cc.ssthresh = 100 * MDS;
  pq_cc_on_packet_sent(&cc, MDS, now);
  p = pkt(0, MDS, now);
  pq_cc_on_packets_lost(&cc, &p, 1, false, now);
  CHECK_INT(70 * MDS, ==, cc.cwnd); /* beta = 0.7 */
  CHECK_INT(70 * MDS, ==, cc.ssthresh);
  /* K = cbrt(W_max * (1 - beta) / C) = cbrt(75) = 4.22 s to get back to W_max = 100. */
  k = cbrt(100 * 0.3 / 0.4);
  w1 = cubic_run(&cc, &now, k / 2);
  w2 = cubic_run(&cc, &now, k / 2);
  /* Concave: most of the way back quickly, then a plateau near W_max. */
  CHECK(w1 > 85 && w1 < 100);
  CHECK(w2 > 95 && w2 < 108);
  CHECK(w2 - w1 < w1 - 70);
  /* Convex beyond: C * 4^3 = 25.6 segments more 4 s after K. */
  w3 = cubic_run(&cc, &now, 4);
  if (getenv("PQ_VERBOSE")) fprintf(stderr, "cubic: %.1f %.1f %.1f\n", w1, w2, w3);
  CHECK(w3 > w2 + 15 && w3 < w2 + 40);
  pq_cc_free(&cc);
}

static void test_pq_cc_cubic_fast_convergence(void) {
  pq_cc cc;
  pq_cc_pkt p;
  pq_cc_init(&cc, &pq_cc_cubic, MDS);
  cc.cwnd = 100 * MDS;
  pq_cc_on_packet_sent(&cc, MDS, 0);
  p = pkt(0, MDS, 0);
  pq_cc_on_packets_lost(&cc, &p, 1, false, MS);           /* W_max 100, cwnd 70 */
  pq_cc_on_packet_sent(&cc, MDS, 2 * MS);
  p = pkt(1, MDS, 2 * MS);
  pq_cc_on_packets_lost(&cc, &p, 1, false, 3 * MS);       /* below W_max: 70 -> 49 */
  CHECK_INT(49 * MDS, ==, cc.cwnd);
  CHECK(((const double *)cc.algo_state)[0] < 70);         /* w_max = 70 * 0.85 */
  pq_cc_free(&cc);
}

int main(void) {
  RUN(test_pq_cc_registry_by_name);
  RUN(test_pq_cc_init_windows);
  RUN(test_pq_cc_newreno_slow_start);
  RUN(test_pq_cc_newreno_loss_halves_once_per_recovery);
  RUN(test_pq_cc_newreno_congestion_avoidance);
  RUN(test_pq_cc_newreno_persistent_congestion);
  RUN(test_pq_cc_newreno_min_window_floor);
  RUN(test_pq_cc_app_limited_no_growth);
  RUN(test_pq_cc_cubic_registered);
  RUN(test_pq_cc_cubic_reduction_and_curve);
  RUN(test_pq_cc_cubic_fast_convergence);
  return test_report();
}
