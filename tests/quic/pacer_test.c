/* Token-bucket pacing (RFC 9002 §7.7) and the merged connection timers. */
#include "pq_pacer.h"
#include "pq_timer.h"
#include "test.h"

#define MS UINT64_C(1000000)
#define MDS 1200

static void test_pq_pacer_burst_then_rate(void) {
  pq_pacer p;
  uint64_t cwnd = 12000, srtt = 100 * MS;
  pq_pacer_init(&p, MDS);
  for (int i = 0; i < 10; i++) {
    CHECK_INT(0, ==, pq_pacer_next_time(&p, cwnd, srtt, 0));
    pq_pacer_on_sent(&p, MDS, 0);
  }
  /* Rate 1.25 * 12000 B / 100 ms = 150 B/ms: 1200 bytes take 8 ms. */
  CHECK_INT(8 * MS, ==, pq_pacer_next_time(&p, cwnd, srtt, 0));
  CHECK_INT(8 * MS, ==, pq_pacer_next_time(&p, cwnd, srtt, 4 * MS));
  CHECK_INT(8 * MS, ==, pq_pacer_next_time(&p, cwnd, srtt, 8 * MS));
  pq_pacer_on_sent(&p, MDS, 8 * MS);
  CHECK_INT(16 * MS, ==, pq_pacer_next_time(&p, cwnd, srtt, 8 * MS));
}

static void test_pq_pacer_steady_rate(void) {
  pq_pacer p;
  uint64_t cwnd = 120000, srtt = 50 * MS, sent = 0;
  pq_tstamp now = 0;
  pq_pacer_init(&p, MDS);
  /* Send as fast as allowed for one second: about burst + rate * 1 s. */
  while (now < 1000 * MS) {
    pq_tstamp t = pq_pacer_next_time(&p, cwnd, srtt, now);
    if (t > now) {
      now = t;
      continue;
    }
    pq_pacer_on_sent(&p, MDS, now);
    sent += MDS;
  }
  /* 1.25 * 120000 / 0.05 s = 3 MB/s. */
  CHECK(sent >= 3000000 && sent <= 3000000 + 10 * MDS + MDS);
}

static void test_pq_pacer_idle_refills_only_burst(void) {
  pq_pacer p;
  pq_pacer_init(&p, MDS);
  pq_pacer_on_sent(&p, 10 * MDS, 0);
  CHECK(pq_pacer_next_time(&p, 12000, 100 * MS, 0) > 0);
  CHECK_INT(10000 * MS, ==, pq_pacer_next_time(&p, 12000, 100 * MS, 10000 * MS));
  CHECK_INT(10 * MDS, ==, p.tokens);
  /* No RTT estimate: never blocks. */
  pq_pacer_on_sent(&p, 20 * MDS, 10000 * MS);
  CHECK_INT(10000 * MS, ==, pq_pacer_next_time(&p, 12000, 0, 10000 * MS));
}

static void test_pq_timer_earliest(void) {
  pq_timers t;
  pq_timer_kind k;
  pq_timers_init(&t);
  CHECK(pq_timers_earliest(&t, &k) == PQ_TSTAMP_NEVER);
  pq_timers_set(&t, PQ_TIMER_IDLE, 500);
  pq_timers_set(&t, PQ_TIMER_ACK, 300);
  pq_timers_set(&t, PQ_TIMER_LOSS, 400);
  CHECK_INT(300, ==, pq_timers_earliest(&t, &k));
  CHECK_INT(PQ_TIMER_ACK, ==, k);
  CHECK(pq_timers_due(&t, PQ_TIMER_ACK, 300));
  CHECK(!pq_timers_due(&t, PQ_TIMER_LOSS, 300));
  pq_timers_set(&t, PQ_TIMER_ACK, PQ_TSTAMP_NEVER);
  CHECK_INT(400, ==, pq_timers_earliest(&t, &k));
  CHECK_INT(PQ_TIMER_LOSS, ==, k);
  pq_timers_set(&t, PQ_TIMER_COUNT, 1); /* out of range: ignored */
  CHECK_INT(400, ==, pq_timers_earliest(&t, NULL));
}

int main(void) {
  RUN(test_pq_pacer_burst_then_rate);
  RUN(test_pq_pacer_steady_rate);
  RUN(test_pq_pacer_idle_refills_only_burst);
  RUN(test_pq_timer_earliest);
  return test_report();
}
