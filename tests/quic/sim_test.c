/* The simulated link: determinism, delay, bandwidth, loss and the other impairments. */
#include "pq_sim.h"
#include "test.h"

#define MS UINT64_C(1000000)

static pq_sim_config cfg_delay(uint64_t delay) {
  pq_sim_config c;
  memset(&c, 0, sizeof(c));
  c.delay = delay;
  return c;
}

/* Sends |n| datagrams (their index in the first bytes) every |gap| ns on C2S and
 * drains as they arrive; returns the trace. */
static uint64_t run_script(const pq_sim_config *c, uint64_t seed, int n, uint64_t gap,
                           pq_sim_stats *stats, int *out_of_order) {
  pq_sim sim;
  uint8_t buf[1500], got[1500];
  pq_tstamp now = 0;
  int sent = 0, last = -1;
  uint64_t trace;
  pq_sim_init(&sim, c, c, seed);
  sim.handshake = false;
  if (out_of_order) *out_of_order = 0;
  while (sent < n || pq_sim_next_any(&sim) != PQ_TSTAMP_NEVER) {
    pq_tstamp next_send = sent < n ? (pq_tstamp)sent * gap : PQ_TSTAMP_NEVER;
    pq_tstamp next_recv = pq_sim_next(&sim, PQ_SIM_C2S);
    ptrdiff_t len;
    now = next_send < next_recv ? next_send : next_recv;
    if (now == next_send) {
      memset(buf, 0xab, sizeof(buf));
      buf[0] = (uint8_t)(sent >> 8);
      buf[1] = (uint8_t)sent;
      pq_sim_send(&sim, PQ_SIM_C2S, buf, 1000, now);
      sent++;
      continue;
    }
    while ((len = pq_sim_recv(&sim, PQ_SIM_C2S, now, got, sizeof(got))) >= 0) {
      int idx = got[0] << 8 | got[1];
      if (out_of_order && idx < last) (*out_of_order)++;
      if (idx > last) last = idx;
    }
  }
  if (stats) *stats = sim.dir[PQ_SIM_C2S].stats;
  trace = sim.trace;
  pq_sim_free(&sim);
  return trace;
}

static pq_sim_config cfg_rough(void) {
  pq_sim_config c = cfg_delay(20 * MS);
  c.bandwidth = 10000000;
  c.queue_bytes = 30000;
  c.loss_ppm = 50000;
  c.reorder_ppm = 100000;
  c.reorder_delay = 5 * MS;
  c.dup_ppm = 20000;
  c.corrupt_ppm = 20000;
  return c;
}

static void test_pq_sim_same_seed_same_trace(void) {
  pq_sim_config c = cfg_rough();
  pq_sim_stats a, b;
  uint64_t t1 = run_script(&c, 42, 2000, 500000, &a, NULL);
  uint64_t t2 = run_script(&c, 42, 2000, 500000, &b, NULL);
  uint64_t t3 = run_script(&c, 43, 2000, 500000, NULL, NULL);
  CHECK(t1 == t2);
  CHECK(t1 != t3);
  CHECK(memcmp(&a, &b, sizeof(a)) == 0);
  CHECK(a.lost > 0 && a.duplicated > 0 && a.corrupted > 0 && a.reordered > 0);
}

static void test_pq_sim_loss_rate_statistics(void) {
  pq_sim_config c = cfg_delay(MS);
  pq_sim_stats s;
  c.loss_ppm = 100000; /* 10% */
  run_script(&c, 7, 20000, 1000, &s, NULL);
  CHECK_INT(20000, ==, s.sent);
  CHECK(s.lost > 1800 && s.lost < 2200);
  CHECK_INT(s.sent - s.lost, ==, s.delivered);
}

static void test_pq_sim_fixed_delay(void) {
  pq_sim_config c = cfg_delay(15 * MS);
  pq_sim sim;
  uint8_t d[100] = {1, 2, 3}, out[100];
  pq_sim_init(&sim, &c, &c, 1);
  pq_sim_send(&sim, PQ_SIM_S2C, d, sizeof(d), 5 * MS);
  CHECK(pq_sim_next(&sim, PQ_SIM_C2S) == PQ_TSTAMP_NEVER);
  CHECK_INT(20 * MS, ==, pq_sim_next(&sim, PQ_SIM_S2C));
  CHECK_INT(-1, ==, pq_sim_recv(&sim, PQ_SIM_S2C, 20 * MS - 1, out, sizeof(out)));
  CHECK_INT(100, ==, pq_sim_recv(&sim, PQ_SIM_S2C, 20 * MS, out, sizeof(out)));
  CHECK_MEM(d, out, sizeof(d));
  CHECK_INT(-1, ==, pq_sim_recv(&sim, PQ_SIM_S2C, 30 * MS, out, sizeof(out)));
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_sim_send(&sim, 2, d, 1, 0));
  pq_sim_free(&sim);
}

static void test_pq_sim_bandwidth_and_queue(void) {
  pq_sim_config c = cfg_delay(10 * MS);
  pq_sim sim;
  uint8_t d[1250] = {0}, out[1500];
  c.bandwidth = 1000000; /* 1250 bytes take 10 ms */
  c.queue_bytes = 2500;
  pq_sim_init(&sim, &c, &c, 1);
  for (int i = 0; i < 4; i++) pq_sim_send(&sim, PQ_SIM_C2S, d, sizeof(d), 0);
  CHECK_INT(2, ==, sim.dir[PQ_SIM_C2S].stats.queue_drops);
  CHECK_INT(20 * MS, ==, pq_sim_next(&sim, PQ_SIM_C2S));
  pq_sim_recv(&sim, PQ_SIM_C2S, 20 * MS, out, sizeof(out));
  CHECK_INT(30 * MS, ==, pq_sim_next(&sim, PQ_SIM_C2S));
  pq_sim_recv(&sim, PQ_SIM_C2S, 30 * MS, out, sizeof(out));
  /* The link is free again at 20 ms: a datagram sent then leaves without waiting. */
  pq_sim_send(&sim, PQ_SIM_C2S, d, sizeof(d), 40 * MS);
  CHECK_INT(60 * MS, ==, pq_sim_next(&sim, PQ_SIM_C2S));
  pq_sim_free(&sim);
}

static void test_pq_sim_reordering(void) {
  pq_sim_config c = cfg_delay(10 * MS);
  int ooo = 0;
  c.reorder_ppm = 200000;
  c.reorder_delay = 5 * MS;
  run_script(&c, 3, 1000, 1 * MS, NULL, &ooo);
  CHECK(ooo > 50);
  c.reorder_ppm = 0;
  run_script(&c, 3, 1000, 1 * MS, NULL, &ooo);
  CHECK_INT(0, ==, ooo);
}

static void test_pq_sim_duplication_and_corruption(void) {
  pq_sim_config c = cfg_delay(MS);
  pq_sim sim;
  uint8_t d[64], out[64];
  int diffbits = 0;
  c.dup_ppm = PQ_SIM_PPM;
  c.corrupt_ppm = PQ_SIM_PPM;
  memset(d, 0x5a, sizeof(d));
  pq_sim_init(&sim, &c, &c, 9);
  pq_sim_send(&sim, PQ_SIM_C2S, d, sizeof(d), 0);
  CHECK_INT(2, ==, sim.dir[PQ_SIM_C2S].n);
  for (int k = 0; k < 2; k++) {
    CHECK_INT(64, ==, pq_sim_recv(&sim, PQ_SIM_C2S, 10 * MS, out, sizeof(out)));
    for (int i = 0; i < 64; i++)
      for (int b = 0; b < 8; b++) diffbits += ((out[i] ^ d[i]) >> b) & 1;
  }
  CHECK_INT(1, ==, diffbits); /* the original has one bit flipped; the copy none */
  pq_sim_free(&sim);
}

static void test_pq_sim_handshake_loss(void) {
  pq_sim_config c = cfg_delay(MS);
  pq_sim sim;
  uint8_t d[10] = {0};
  c.handshake_loss_ppm = 300000;
  pq_sim_init(&sim, &c, &c, 5);
  for (int i = 0; i < 1000; i++) pq_sim_send(&sim, PQ_SIM_C2S, d, sizeof(d), 0);
  CHECK(sim.dir[PQ_SIM_C2S].stats.lost > 250 && sim.dir[PQ_SIM_C2S].stats.lost < 350);
  sim.handshake = false;
  for (int i = 0; i < 1000; i++) pq_sim_send(&sim, PQ_SIM_C2S, d, sizeof(d), 0);
  CHECK(sim.dir[PQ_SIM_C2S].stats.lost < 350);
  CHECK_INT(1000 + 1000 - sim.dir[PQ_SIM_C2S].stats.lost, ==, sim.dir[PQ_SIM_C2S].n);
  pq_sim_free(&sim);
}

static void test_pq_sim_mtu(void) {
  pq_sim_config c = cfg_delay(MS);
  pq_sim sim;
  uint8_t d[1500] = {0};
  c.mtu = 1200;
  pq_sim_init(&sim, &c, &c, 5);
  pq_sim_send(&sim, PQ_SIM_C2S, d, 1201, 0);
  pq_sim_send(&sim, PQ_SIM_C2S, d, 1200, 0);
  CHECK_INT(1, ==, sim.dir[PQ_SIM_C2S].stats.too_big);
  CHECK_INT(1, ==, sim.dir[PQ_SIM_C2S].n);
  pq_sim_free(&sim);
}

int main(void) {
  RUN(test_pq_sim_same_seed_same_trace);
  RUN(test_pq_sim_loss_rate_statistics);
  RUN(test_pq_sim_fixed_delay);
  RUN(test_pq_sim_bandwidth_and_queue);
  RUN(test_pq_sim_reordering);
  RUN(test_pq_sim_duplication_and_corruption);
  RUN(test_pq_sim_handshake_loss);
  RUN(test_pq_sim_mtu);
  return test_report();
}
