/*
 * pq_acktr_test.c: received-packet tracking and ACK scheduling.
 */
#include "pq_acktr.h"
#include "test.h"

#define MS 1000000ull

static void test_pq_acktr_delayed_then_immediate(void) {
  pq_acktr a;
  pq_acktr_init(&a, 0, 25 * MS);
  CHECK(!pq_acktr_should_send(&a, 0));
  CHECK_INT(0, ==, pq_acktr_on_packet(&a, 0, true, 100 * MS));
  CHECK(!pq_acktr_should_send(&a, 100 * MS));
  CHECK_INT(125 * MS, ==, pq_acktr_expiry(&a));
  CHECK(pq_acktr_should_send(&a, 125 * MS));
  /* the second ack-eliciting packet: at once */
  CHECK_INT(0, ==, pq_acktr_on_packet(&a, 1, true, 101 * MS));
  CHECK(pq_acktr_should_send(&a, 101 * MS));
  CHECK_INT(0, ==, pq_acktr_expiry(&a));
  pq_acktr_on_ack_sent(&a);
  CHECK(!pq_acktr_has_pending(&a));
  CHECK_INT(UINT64_MAX, ==, pq_acktr_expiry(&a));
  pq_acktr_free(&a);
}

static void test_pq_acktr_non_eliciting_never_forces(void) {
  pq_acktr a;
  pq_acktr_init(&a, 0, 25 * MS);
  for (uint64_t pn = 0; pn < 10; pn++) CHECK_INT(0, ==, pq_acktr_on_packet(&a, pn, false, pn));
  CHECK(pq_acktr_has_pending(&a));
  CHECK(!pq_acktr_should_send(&a, 1000 * MS));
  CHECK_INT(UINT64_MAX, ==, a.deadline);
  pq_acktr_free(&a);
}

/* Threshold 1 (the connection's Initial and Handshake spaces): every ack-eliciting
 * packet is acknowledged at once; one that elicits nothing still waits. */
static void test_pq_acktr_threshold_one_acks_each(void) {
  pq_acktr a;
  pq_acktr_init(&a, 0, 25 * MS);
  a.threshold = 1;
  CHECK_INT(0, ==, pq_acktr_on_packet(&a, 0, false, 0));
  CHECK(!pq_acktr_should_send(&a, 0));
  CHECK_INT(0, ==, pq_acktr_on_packet(&a, 1, true, 1));
  CHECK(pq_acktr_should_send(&a, 1));
  CHECK_INT(0, ==, pq_acktr_expiry(&a));
  pq_acktr_on_ack_sent(&a);
  CHECK(!pq_acktr_should_send(&a, 100 * MS));
  CHECK_INT(0, ==, pq_acktr_on_packet(&a, 2, true, 2));
  CHECK(pq_acktr_should_send(&a, 2));
  pq_acktr_free(&a);
}

static void test_pq_acktr_out_of_order_is_immediate(void) {
  pq_acktr a;
  pq_acktr_init(&a, 0, 25 * MS);
  CHECK_INT(0, ==, pq_acktr_on_packet(&a, 0, true, 0));
  pq_acktr_on_ack_sent(&a);
  CHECK_INT(0, ==, pq_acktr_on_packet(&a, 2, true, 1)); /* gap: 1 missing */
  CHECK(pq_acktr_should_send(&a, 1));
  pq_acktr_on_ack_sent(&a);
  CHECK_INT(0, ==, pq_acktr_on_packet(&a, 1, true, 2)); /* late arrival */
  CHECK(pq_acktr_should_send(&a, 2));
  CHECK_INT(1, ==, pq_acktr_on_packet(&a, 1, true, 3)); /* duplicate */
  CHECK(pq_acktr_is_duplicate(&a, 2));
  CHECK(!pq_acktr_is_duplicate(&a, 3));
  pq_acktr_free(&a);
}

static void test_pq_acktr_frame_and_delay(void) {
  pq_acktr a;
  pq_frame f, g;
  uint8_t buf[128];
  ssize_t n;
  pq_acktr_init(&a, 0, 25 * MS);
  for (uint64_t pn = 0; pn < 20; pn++)
    if (pn % 5 != 3) pq_acktr_on_packet(&a, pn, true, 10 * MS);
  CHECK_INT(0, ==, pq_acktr_frame(&a, &f, 10 * MS + 800000, 3, true, 0));
  n = pq_frame_write(&f, buf, sizeof(buf));
  CHECK(n > 0);
  CHECK_INT(n, ==, pq_frame_parse(&g, buf, (size_t)n));
  CHECK_INT(19, ==, g.u.ack.largest);
  CHECK_INT(100, ==, g.u.ack.ack_delay); /* 800 us >> 3 */
  CHECK_INT(4, ==, g.u.ack.range_count); /* 5 ranges: 3, 8, 13, 18 missing */
  /* limited to 2 ranges; no delay in the handshake spaces */
  CHECK_INT(0, ==, pq_acktr_frame(&a, &f, 20 * MS, 3, false, 2));
  n = pq_frame_write(&f, buf, sizeof(buf));
  CHECK_INT(n, ==, pq_frame_parse(&g, buf, (size_t)n));
  CHECK_INT(1, ==, g.u.ack.range_count);
  CHECK_INT(0, ==, g.u.ack.ack_delay);
  pq_acktr_free(&a);
  pq_acktr_init(&a, 0, 0);
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_acktr_frame(&a, &f, 0, 3, true, 0));
  pq_acktr_free(&a);
}

static void test_pq_acktr_floor_after_ack_acked_and_cap(void) {
  pq_acktr a;
  pq_acktr_init(&a, 3, 25 * MS);
  for (uint64_t pn = 0; pn < 10; pn++) pq_acktr_on_packet(&a, pn * 2, true, 0);
  /* 10 single-packet ranges capped to the 3 largest: 14, 16, 18; below is refused */
  CHECK_INT(3, ==, pq_ranges_count(&a.rcvd));
  CHECK_INT(14, ==, a.floor);
  CHECK(pq_acktr_is_duplicate(&a, 13));
  CHECK_INT(1, ==, pq_acktr_on_packet(&a, 1, true, 0));
  CHECK(!pq_acktr_is_duplicate(&a, 15));
  pq_acktr_on_ack_acked(&a, 16);
  CHECK_INT(17, ==, a.floor);
  CHECK_INT(1, ==, pq_ranges_count(&a.rcvd));
  CHECK(pq_acktr_is_duplicate(&a, 15));
  pq_acktr_on_ack_acked(&a, 10); /* older: no effect */
  CHECK_INT(17, ==, a.floor);
  pq_acktr_free(&a);
}

int main(void) {
  RUN(test_pq_acktr_delayed_then_immediate);
  RUN(test_pq_acktr_non_eliciting_never_forces);
  RUN(test_pq_acktr_out_of_order_is_immediate);
  RUN(test_pq_acktr_threshold_one_acks_each);
  RUN(test_pq_acktr_frame_and_delay);
  RUN(test_pq_acktr_floor_after_ack_acked_and_cap);
  return test_report();
}
