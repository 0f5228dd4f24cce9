/* NewReno and the congestion-control bookkeeping (RFC 9002 §7). */
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

int main(void) {
  RUN(test_pq_cc_registry_by_name);
  RUN(test_pq_cc_init_windows);
  RUN(test_pq_cc_newreno_slow_start);
  RUN(test_pq_cc_newreno_loss_halves_once_per_recovery);
  RUN(test_pq_cc_newreno_congestion_avoidance);
  RUN(test_pq_cc_newreno_persistent_congestion);
  RUN(test_pq_cc_newreno_min_window_floor);
  RUN(test_pq_cc_app_limited_no_growth);
  return test_report();
}
