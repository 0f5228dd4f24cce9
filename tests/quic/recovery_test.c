/* RTT estimation, loss detection, PTO and persistent congestion (RFC 9002 §5-7). */
#include "pq_recovery.h"
#include "test.h"

#define MS UINT64_C(1000000)
#define MDS 1200

/* A fake connection: records what recovery hands back. */
typedef struct fake {
  int acked, lost, discarded;
  uint64_t last_lost_pn;
  uint64_t lost_pns[64];
} fake;

static void on_acked(void *u, pq_pnspace s, pq_sent_pkt *p, pq_tstamp now) {
  ((fake *)u)->acked++;
}
static void on_lost(void *u, pq_pnspace s, pq_sent_pkt *p, pq_tstamp now) {
  fake *f = u;
  if (f->lost < 64) f->lost_pns[f->lost] = p->pn;
  f->lost++;
  f->last_lost_pn = p->pn;
}
static void on_discarded(void *u, pq_pnspace s, pq_sent_pkt *p) {
  ((fake *)u)->discarded++;
}
static const pq_recovery_callbacks cbs = {on_acked, on_lost, on_discarded};

typedef struct env {
  pq_cc cc;
  pq_recovery rec;
  fake f;
} env;

static void env_init(env *e, bool is_server) {
  memset(e, 0, sizeof(*e));
  pq_cc_init(&e->cc, &pq_cc_newreno, MDS);
  pq_recovery_init(&e->rec, &e->cc, &cbs, &e->f, is_server, 0);
}

static void env_free(env *e) {
  pq_recovery_free(&e->rec);
  pq_cc_free(&e->cc);
}

static int send_pkt(env *e, pq_pnspace s, uint64_t pn, pq_tstamp t) {
  pq_sent_pkt p = {0};
  p.pn = pn;
  p.sent_time = t;
  p.bytes = MDS;
  p.ack_eliciting = true;
  p.in_flight = true;
  return pq_recovery_on_packet_sent(&e->rec, s, &p, t);
}

static int ack1(env *e, pq_pnspace s, uint64_t lo, uint64_t hi, uint64_t delay,
                pq_tstamp now) {
  pq_ack_span sp = {lo, hi};
  return pq_recovery_on_ack(&e->rec, s, &sp, 1, delay, now);
}

static void test_pq_recovery_rtt_first_sample(void) {
  pq_rtt r;
  pq_rtt_init(&r, 0);
  CHECK_INT(333 * MS, ==, r.smoothed);
  CHECK_INT(333 * MS / 2, ==, r.var);
  pq_rtt_update(&r, 100 * MS, 30 * MS, true, 25 * MS, 5);
  /* The first sample ignores ack delay (RFC 9002 §5.3). */
  CHECK_INT(100 * MS, ==, r.smoothed);
  CHECK_INT(50 * MS, ==, r.var);
  CHECK_INT(100 * MS, ==, r.min);
  CHECK_INT(5, ==, r.first_sample_time);
}

static void test_pq_recovery_rtt_ewma_with_ack_delay(void) {
  pq_rtt r;
  pq_rtt_init(&r, 0);
  pq_rtt_update(&r, 100 * MS, 0, true, 25 * MS, 0);
  pq_rtt_update(&r, 120 * MS, 10 * MS, true, 25 * MS, 1);
  /* adjusted = 110: rttvar = 3/4*50 + 1/4*10, smoothed = 7/8*100 + 1/8*110 */
  CHECK_INT(40 * MS, ==, r.var);
  CHECK_INT(101250000, ==, r.smoothed);
  CHECK_INT(100 * MS, ==, r.min);
  CHECK_INT(120 * MS, ==, r.latest);
}

static void test_pq_recovery_rtt_ack_delay_capped_after_confirmation(void) {
  pq_rtt a, b;
  pq_rtt_init(&a, 0);
  pq_rtt_update(&a, 100 * MS, 0, true, 25 * MS, 0);
  b = a;
  pq_rtt_update(&a, 150 * MS, 40 * MS, true, 25 * MS, 1);  /* capped: 150-25 */
  pq_rtt_update(&b, 150 * MS, 40 * MS, false, 25 * MS, 1); /* not capped: 150-40 */
  CHECK_INT((7 * 100 * MS + 125 * MS) / 8, ==, a.smoothed);
  CHECK_INT((7 * 100 * MS + 110 * MS) / 8, ==, b.smoothed);
}

static void test_pq_recovery_rtt_ack_delay_not_below_min(void) {
  pq_rtt r;
  pq_rtt_init(&r, 0);
  pq_rtt_update(&r, 100 * MS, 0, true, 25 * MS, 0);
  /* 105 - 20 would fall below min_rtt: the delay is not subtracted. */
  pq_rtt_update(&r, 105 * MS, 20 * MS, true, 25 * MS, 1);
  CHECK_INT((7 * 100 * MS + 105 * MS) / 8, ==, r.smoothed);
  pq_rtt_update(&r, 80 * MS, 0, true, 25 * MS, 2);
  CHECK_INT(80 * MS, ==, r.min);
}

static void test_pq_recovery_packet_threshold(void) {
  env e;
  env_init(&e, true);
  for (uint64_t pn = 0; pn < 10; pn++) send_pkt(&e, PQ_PNS_APP, pn, 0);
  CHECK_INT(10 * MDS, ==, e.cc.bytes_in_flight);
  CHECK_INT(0, ==, ack1(&e, PQ_PNS_APP, 4, 4, 0, 100 * MS));
  CHECK_INT(1, ==, e.f.acked);
  /* 4 >= pn + 3 for pn 0 and 1 only. */
  CHECK_INT(2, ==, e.f.lost);
  CHECK_INT(0, ==, (int)e.f.lost_pns[0]);
  CHECK_INT(1, ==, (int)e.f.lost_pns[1]);
  CHECK_INT(100 * MS, ==, e.rec.rtt.latest);
  /* pn 2 and 3 wait for the time threshold: 9/8 * 100 ms after they were sent. */
  CHECK_INT(112500000, ==, e.rec.spaces[PQ_PNS_APP].loss_time);
  CHECK_INT(112500000, ==, e.rec.timer);
  CHECK_INT(7 * MDS, ==, e.cc.bytes_in_flight);
  CHECK_INT(1, ==, (int)e.cc.congestion_events);
  CHECK_INT(7, ==, (int)e.rec.spaces[PQ_PNS_APP].sent.n);
  env_free(&e);
}

static void test_pq_recovery_time_threshold(void) {
  env e;
  pq_pnspace sp;
  env_init(&e, true);
  for (uint64_t pn = 0; pn < 10; pn++) send_pkt(&e, PQ_PNS_APP, pn, 0);
  ack1(&e, PQ_PNS_APP, 4, 4, 0, 100 * MS);
  e.f.lost = 0;
  /* One nanosecond early: nothing. */
  pq_recovery_detect_lost(&e.rec, PQ_PNS_APP, 112500000 - 1);
  CHECK_INT(0, ==, e.f.lost);
  CHECK_INT(112500000, ==, e.rec.spaces[PQ_PNS_APP].loss_time);
  sp = PQ_PNS_INITIAL;
  CHECK_INT(PQ_TIMEOUT_LOSS, ==, pq_recovery_on_timeout_ex(&e.rec, 112500000, &sp));
  CHECK_INT(PQ_PNS_APP, ==, sp);
  CHECK_INT(2, ==, e.f.lost);
  CHECK_INT(3, ==, (int)e.f.last_lost_pn);
  CHECK_INT(1, ==, (int)e.rec.loss_timer_expired);
  CHECK(e.rec.spaces[PQ_PNS_APP].loss_time == PQ_TSTAMP_NEVER);
  CHECK_INT(1, ==, (int)e.cc.congestion_events); /* same recovery period */
  /* pn 5..9 are above the largest acked: never lost by these rules. */
  CHECK_INT(5, ==, (int)e.rec.spaces[PQ_PNS_APP].sent.n);
  env_free(&e);
}

static void test_pq_recovery_rtt_sample_rules(void) {
  env e;
  pq_sent_pkt p = {0};
  env_init(&e, true);
  /* An ACK-only packet (not ack-eliciting) acknowledged alone gives no sample. */
  p.pn = 0;
  p.sent_time = 0;
  p.bytes = 50;
  pq_recovery_on_packet_sent(&e.rec, PQ_PNS_APP, &p, 0);
  ack1(&e, PQ_PNS_APP, 0, 0, 0, 50 * MS);
  CHECK(!e.rec.rtt.has_sample);
  /* The frame's largest (pn 2) not newly acked: no sample either. */
  send_pkt(&e, PQ_PNS_APP, 1, 19 * MS); /* not old enough for the time threshold */
  send_pkt(&e, PQ_PNS_APP, 2, 20 * MS);
  ack1(&e, PQ_PNS_APP, 2, 2, 0, 60 * MS);
  CHECK(e.rec.rtt.has_sample);
  CHECK_INT(40 * MS, ==, e.rec.rtt.latest);
  ack1(&e, PQ_PNS_APP, 1, 2, 0, 90 * MS);
  CHECK_INT(40 * MS, ==, e.rec.rtt.latest);
  CHECK_INT(3, ==, e.f.acked);
  env_free(&e);
}

static void test_pq_recovery_ack_of_unsent_is_error(void) {
  env e;
  env_init(&e, true);
  send_pkt(&e, PQ_PNS_APP, 0, 0);
  CHECK_INT(PQ_ERR_PROTOCOL_VIOLATION, ==, ack1(&e, PQ_PNS_APP, 0, 1, 0, MS));
  CHECK_INT(PQ_ERR_PROTOCOL_VIOLATION, ==, ack1(&e, PQ_PNS_HANDSHAKE, 0, 0, 0, MS));
  CHECK_INT(0, ==, e.f.acked);
  /* Packet numbers must increase. */
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, send_pkt(&e, PQ_PNS_APP, 0, MS));
  env_free(&e);
}

/* A server with nothing in flight has no timer: a timeout then does nothing and says so
 * (the connection's on_loss_timer seam is not called for it). */
static void test_pq_recovery_timeout_with_nothing_due(void) {
  env e;
  pq_pnspace sp = PQ_PNS_HANDSHAKE;
  env_init(&e, true);
  CHECK_INT(PQ_TIMEOUT_NONE, ==, pq_recovery_on_timeout_ex(&e.rec, 5 * MS, &sp));
  CHECK_INT(PQ_PNS_HANDSHAKE, ==, sp); /* untouched */
  CHECK(e.rec.timer == PQ_TSTAMP_NEVER);
  CHECK_INT(0, ==, (int)(e.rec.pto_expired + e.rec.loss_timer_expired));
  env_free(&e);
}

static void test_pq_recovery_pto_backoff(void) {
  env e;
  pq_pnspace sp;
  env_init(&e, false); /* client, address not validated */
  send_pkt(&e, PQ_PNS_INITIAL, 0, 0);
  /* No sample: 333 ms + 4 * 166.5 ms. */
  CHECK_INT(999 * MS, ==, e.rec.timer);
  sp = PQ_PNS_APP;
  CHECK_INT(PQ_TIMEOUT_PTO, ==, pq_recovery_on_timeout_ex(&e.rec, 999 * MS, &sp));
  CHECK_INT(PQ_PNS_INITIAL, ==, sp);
  CHECK_INT(1, ==, (int)e.rec.pto_count);
  CHECK_INT(2, ==, e.rec.probes[PQ_PNS_INITIAL]);
  CHECK_INT(2 * 999 * MS, ==, e.rec.timer);
  pq_recovery_on_timeout(&e.rec, 2 * 999 * MS);
  CHECK_INT(4 * 999 * MS, ==, e.rec.timer);
  CHECK_INT(4 * 999 * MS, ==, pq_recovery_pto_time(&e.rec, 5000 * MS, &sp));
  CHECK_INT(PQ_PNS_INITIAL, ==, sp);
  /* Sending the probes consumes them. */
  send_pkt(&e, PQ_PNS_INITIAL, 1, 2 * 999 * MS);
  send_pkt(&e, PQ_PNS_INITIAL, 2, 2 * 999 * MS);
  CHECK_INT(0, ==, e.rec.probes[PQ_PNS_INITIAL]);
  CHECK_INT(0, ==, e.f.lost); /* a PTO declares nothing lost */
  env_free(&e);
}

static void test_pq_recovery_pto_app_needs_confirmation(void) {
  env e;
  pq_pnspace sp;
  env_init(&e, true);
  send_pkt(&e, PQ_PNS_APP, 0, 0);
  ack1(&e, PQ_PNS_APP, 0, 0, 0, 100 * MS); /* smoothed 100, var 50 */
  send_pkt(&e, PQ_PNS_APP, 1, 200 * MS);
  CHECK(e.rec.timer == PQ_TSTAMP_NEVER); /* 1-RTT PTO waits for confirmation */
  e.rec.handshake_confirmed = true;
  pq_recovery_set_timer(&e.rec, 200 * MS);
  /* 200 + 100 + 4*50 + max_ack_delay 25 */
  CHECK_INT(525 * MS, ==, e.rec.timer);
  pq_recovery_on_timeout(&e.rec, 525 * MS);
  CHECK_INT(2, ==, e.rec.probes[PQ_PNS_APP]);
  /* Backoff doubles max_ack_delay as well. */
  CHECK_INT(200 * MS + 2 * 325 * MS, ==, pq_recovery_pto_time(&e.rec, 600 * MS, &sp));
  CHECK_INT(PQ_PNS_APP, ==, sp);
  /* An ACK resets the backoff (server: the peer's address is validated). */
  ack1(&e, PQ_PNS_APP, 1, 1, 0, 700 * MS);
  CHECK_INT(0, ==, (int)e.rec.pto_count);
  CHECK(e.rec.timer == PQ_TSTAMP_NEVER);
  env_free(&e);
}

static void test_pq_recovery_pto_earliest_space(void) {
  env e;
  pq_pnspace sp;
  env_init(&e, false);
  send_pkt(&e, PQ_PNS_INITIAL, 0, 0);
  send_pkt(&e, PQ_PNS_HANDSHAKE, 0, 10 * MS);
  CHECK_INT(999 * MS, ==, pq_recovery_pto_time(&e.rec, 10 * MS, &sp));
  CHECK_INT(PQ_PNS_INITIAL, ==, sp);
  pq_recovery_discard_space(&e.rec, PQ_PNS_INITIAL, 20 * MS);
  CHECK_INT(1, ==, e.f.discarded);
  CHECK_INT(1009 * MS, ==, pq_recovery_pto_time(&e.rec, 20 * MS, &sp));
  CHECK_INT(PQ_PNS_HANDSHAKE, ==, sp);
  CHECK_INT(1009 * MS, ==, e.rec.timer);
  env_free(&e);
}

static void test_pq_recovery_anti_deadlock_and_amplification(void) {
  env e;
  env_init(&e, false);
  send_pkt(&e, PQ_PNS_INITIAL, 0, 0);
  ack1(&e, PQ_PNS_INITIAL, 0, 0, 0, 100 * MS);
  /* Client: nothing in flight but the server may not have validated us: the
   * anti-deadlock PTO counts from now, in Initial (no Handshake keys yet). */
  CHECK_INT(100 * MS + 300 * MS, ==, e.rec.timer);
  e.rec.has_handshake_keys = true;
  pq_recovery_on_timeout(&e.rec, 400 * MS);
  CHECK_INT(1, ==, e.rec.probes[PQ_PNS_HANDSHAKE]);
  CHECK_INT(0, ==, e.rec.probes[PQ_PNS_INITIAL]);
  /* Once a Handshake packet is acked the peer has validated us: no timer. */
  send_pkt(&e, PQ_PNS_HANDSHAKE, 0, 400 * MS);
  ack1(&e, PQ_PNS_HANDSHAKE, 0, 0, 0, 500 * MS);
  CHECK(e.rec.timer == PQ_TSTAMP_NEVER);
  env_free(&e);
  /* A server at the amplification limit arms no PTO. */
  env_init(&e, true);
  e.rec.amplification_limited = true;
  send_pkt(&e, PQ_PNS_INITIAL, 0, 0);
  CHECK(e.rec.timer == PQ_TSTAMP_NEVER);
  e.rec.amplification_limited = false;
  pq_recovery_set_timer(&e.rec, 0);
  CHECK_INT(999 * MS, ==, e.rec.timer);
  env_free(&e);
}

static void test_pq_recovery_discard_space_clears_flight(void) {
  env e;
  env_init(&e, false);
  for (uint64_t pn = 0; pn < 3; pn++) send_pkt(&e, PQ_PNS_INITIAL, pn, 0);
  CHECK_INT(3 * MDS, ==, e.cc.bytes_in_flight);
  e.rec.pto_count = 3;
  pq_recovery_discard_space(&e.rec, PQ_PNS_INITIAL, MS);
  CHECK_INT(0, ==, e.cc.bytes_in_flight);
  CHECK_INT(3, ==, e.f.discarded);
  CHECK_INT(0, ==, (int)e.rec.pto_count);
  CHECK_INT(0, ==, (int)pq_recovery_ack_eliciting_in_flight(&e.rec));
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, send_pkt(&e, PQ_PNS_INITIAL, 3, MS));
  CHECK_INT(0, ==, ack1(&e, PQ_PNS_INITIAL, 0, 1, 0, MS)); /* ignored */
  CHECK_INT(0, ==, e.f.acked);
  env_free(&e);
}

/* Sample RTT 100 ms at t = 100 ms; the ACK at 1400 ms samples 100 ms again (var
 * 37.5 ms): persistent congestion duration is (100 + 150 + 25) * 3 = 825 ms. */
static void pc_setup(env *e) {
  env_init(e, true);
  e->cc.cwnd = 100 * MDS;
  send_pkt(e, PQ_PNS_APP, 0, 0);
  ack1(e, PQ_PNS_APP, 0, 0, 0, 100 * MS);
}

static void test_pq_recovery_persistent_congestion(void) {
  env e;
  pc_setup(&e);
  for (uint64_t pn = 1; pn <= 10; pn++) send_pkt(&e, PQ_PNS_APP, pn, (200 + (pn - 1) * 120) * MS);
  send_pkt(&e, PQ_PNS_APP, 11, 1300 * MS);
  send_pkt(&e, PQ_PNS_APP, 12, 1310 * MS);
  send_pkt(&e, PQ_PNS_APP, 13, 1320 * MS);
  ack1(&e, PQ_PNS_APP, 13, 13, 0, 1400 * MS);
  CHECK_INT(10, ==, e.f.lost); /* 1..10, spanning 1080 ms >= 825 ms */
  CHECK_INT(1, ==, (int)e.cc.persistent_congestions);
  /* Collapsed to 2 datagrams, then pn 13's ack (processed after the losses, outside
   * any recovery period) grows it by one in slow start. */
  CHECK_INT(3 * MDS, ==, e.cc.cwnd);
  env_free(&e);
}

/* pn 1 and 2 sent at 200/201 ms, pn 2 acked at 301 ms (pn 1 not lost yet), pn 3..10
 * every 100 ms from 330 ms, then pn 13 acked at 1400 ms. With the middle ack the
 * duration is 712.5 ms by then (three 100 ms samples): 1..10 spans 830 ms but pn 2's
 * ack lies between, and 3..10 spans only 700 ms. Without it (control) the duration is
 * 825 ms and 1..10 is one run of 830 ms. */
static int pc_across_ack(bool ack_middle) {
  env e;
  int pc;
  pc_setup(&e);
  send_pkt(&e, PQ_PNS_APP, 1, 200 * MS);
  send_pkt(&e, PQ_PNS_APP, 2, 201 * MS);
  if (ack_middle) ack1(&e, PQ_PNS_APP, 2, 2, 0, 301 * MS);
  CHECK_INT(0, ==, e.f.lost);
  for (uint64_t pn = 3; pn <= 10; pn++) send_pkt(&e, PQ_PNS_APP, pn, (330 + (pn - 3) * 100) * MS);
  send_pkt(&e, PQ_PNS_APP, 11, 1290 * MS);
  send_pkt(&e, PQ_PNS_APP, 12, 1295 * MS);
  send_pkt(&e, PQ_PNS_APP, 13, 1300 * MS);
  ack1(&e, PQ_PNS_APP, 13, 13, 0, 1400 * MS);
  CHECK_INT(ack_middle ? 9 : 10, ==, e.f.lost);
  pc = (int)e.cc.persistent_congestions;
  env_free(&e);
  return pc;
}

static void test_pq_recovery_no_persistent_congestion_across_ack(void) {
  CHECK_INT(0, ==, pc_across_ack(true));
  CHECK_INT(1, ==, pc_across_ack(false)); /* control: the same losses without the ack */
}

static void test_pq_recovery_no_persistent_congestion_short_span(void) {
  env e;
  pc_setup(&e);
  for (uint64_t pn = 1; pn <= 10; pn++) send_pkt(&e, PQ_PNS_APP, pn, (200 + (pn - 1) * 70) * MS);
  send_pkt(&e, PQ_PNS_APP, 11, 1300 * MS);
  ack1(&e, PQ_PNS_APP, 11, 11, 0, 1400 * MS);
  CHECK_INT(10, ==, e.f.lost); /* span 630 ms < 825 ms */
  CHECK_INT(0, ==, (int)e.cc.persistent_congestions);
  env_free(&e);
}

static void test_pq_recovery_no_persistent_congestion_before_sample(void) {
  env e;
  env_init(&e, true);
  /* Lost packets sent before the first RTT sample do not count. */
  for (uint64_t pn = 0; pn < 10; pn++) send_pkt(&e, PQ_PNS_APP, pn, pn * 200 * MS);
  ack1(&e, PQ_PNS_APP, 9, 9, 0, 1900 * MS);
  CHECK_INT(9, ==, e.f.lost);
  CHECK_INT(0, ==, (int)e.cc.persistent_congestions);
  env_free(&e);
}

static void test_pq_recovery_many_packets_ranges(void) {
  env e;
  pq_ack_span spans[2] = {{600, 999}, {0, 399}};
  env_init(&e, true);
  e.cc.cwnd = UINT64_MAX / 4;
  for (uint64_t pn = 0; pn < 1000; pn++) send_pkt(&e, PQ_PNS_APP, pn, pn * 1000);
  CHECK_INT(0, ==, pq_recovery_on_ack(&e.rec, PQ_PNS_APP, spans, 2, 0, 50 * MS));
  CHECK_INT(800, ==, e.f.acked);
  CHECK_INT(200, ==, e.f.lost); /* the hole is far more than 3 below 999 */
  CHECK_INT(0, ==, (int)e.rec.spaces[PQ_PNS_APP].sent.n);
  CHECK_INT(0, ==, e.cc.bytes_in_flight);
  env_free(&e);
}

int main(void) {
  RUN(test_pq_recovery_rtt_first_sample);
  RUN(test_pq_recovery_timeout_with_nothing_due);
  RUN(test_pq_recovery_rtt_ewma_with_ack_delay);
  RUN(test_pq_recovery_rtt_ack_delay_capped_after_confirmation);
  RUN(test_pq_recovery_rtt_ack_delay_not_below_min);
  RUN(test_pq_recovery_packet_threshold);
  RUN(test_pq_recovery_time_threshold);
  RUN(test_pq_recovery_rtt_sample_rules);
  RUN(test_pq_recovery_ack_of_unsent_is_error);
  RUN(test_pq_recovery_pto_backoff);
  RUN(test_pq_recovery_pto_app_needs_confirmation);
  RUN(test_pq_recovery_pto_earliest_space);
  RUN(test_pq_recovery_anti_deadlock_and_amplification);
  RUN(test_pq_recovery_discard_space_clears_flight);
  RUN(test_pq_recovery_persistent_congestion);
  RUN(test_pq_recovery_no_persistent_congestion_across_ack);
  RUN(test_pq_recovery_no_persistent_congestion_short_span);
  RUN(test_pq_recovery_no_persistent_congestion_before_sample);
  RUN(test_pq_recovery_many_packets_ranges);
  return test_report();
}
