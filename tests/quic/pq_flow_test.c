/*
 * pq_flow_test.c: flow-control windows, auto-tuning, BLOCKED signalling, stream ids and
 * stream-count limits.
 */
#include "pq_flow.h"
#include "pq_frame.h"
#include "test.h"

#define MS 1000000ull

static void test_pq_flow_rx_limit_and_error(void) {
  pq_flow_rx fc;
  pq_flow_rx_init(&fc, 1000, 0);
  CHECK_INT(0, ==, pq_flow_rx_add(&fc, 600));
  CHECK_INT(0, ==, pq_flow_rx_add(&fc, 400));
  CHECK_INT(PQ_ERR_FLOW_CONTROL_ERROR, ==, pq_flow_rx_add(&fc, 1));
  CHECK_INT(PQ_TE_FLOW_CONTROL_ERROR, ==, pq_err_transport_code(PQ_ERR_FLOW_CONTROL_ERROR));
  CHECK_INT(1000, ==, fc.recv);
}

static void test_pq_flow_rx_update_at_half_window(void) {
  pq_flow_rx fc;
  pq_flow_rx_init(&fc, 1000, 0);
  pq_flow_rx_add(&fc, 1000);
  pq_flow_rx_consume(&fc, 499);
  CHECK(!pq_flow_rx_should_update(&fc));
  pq_flow_rx_consume(&fc, 1);
  CHECK(pq_flow_rx_should_update(&fc));
  CHECK_INT(1500, ==, pq_flow_rx_update(&fc, 100 * MS, 10 * MS));
  CHECK(!pq_flow_rx_should_update(&fc));
  CHECK_INT(0, ==, pq_flow_rx_add(&fc, 500));
  CHECK_INT(PQ_ERR_FLOW_CONTROL_ERROR, ==, pq_flow_rx_add(&fc, 1));
  CHECK_INT(1000, ==, fc.window); /* no auto-tuning configured */
}

static void test_pq_flow_rx_autotune(void) {
  pq_flow_rx fc;
  uint64_t now = 1000 * MS;
  pq_flow_rx_init(&fc, 1000, 8000);
  pq_flow_rx_update(&fc, now, 10 * MS);
  CHECK_INT(1000, ==, fc.window); /* first update: no history */
  /* updates every 5 ms with a 10 ms RTT: the window doubles up to the cap */
  for (int i = 0; i < 5; i++) {
    now += 5 * MS;
    pq_flow_rx_consume(&fc, fc.window);
    pq_flow_rx_update(&fc, now, 10 * MS);
  }
  CHECK_INT(8000, ==, fc.window);
  /* slow updates: the window stays */
  now += 100 * MS;
  pq_flow_rx_update(&fc, now, 10 * MS);
  CHECK_INT(8000, ==, fc.window);
  CHECK_INT(fc.consumed + 8000, ==, fc.max);
}

static void test_pq_flow_tx_credit_and_blocked(void) {
  pq_flow_tx fc;
  pq_flow_tx_init(&fc, 100);
  CHECK_INT(100, ==, pq_flow_tx_credit(&fc));
  CHECK(!pq_flow_tx_should_send_blocked(&fc));
  pq_flow_tx_on_sent(&fc, 100);
  CHECK_INT(0, ==, pq_flow_tx_credit(&fc));
  CHECK(pq_flow_tx_should_send_blocked(&fc));
  pq_flow_tx_on_blocked_sent(&fc);
  CHECK(!pq_flow_tx_should_send_blocked(&fc)); /* once per limit */
  CHECK(!pq_flow_tx_on_max(&fc, 50));           /* smaller: ignored */
  CHECK(!pq_flow_tx_on_max(&fc, 100));
  CHECK_INT(100, ==, fc.max);
  CHECK(pq_flow_tx_on_max(&fc, 300));
  CHECK_INT(200, ==, pq_flow_tx_credit(&fc));
  pq_flow_tx_on_sent(&fc, 200);
  CHECK(pq_flow_tx_should_send_blocked(&fc)); /* new limit, blocked again */
}

static void test_pq_flow_stream_ids(void) {
  CHECK(!pq_stream_is_server(0) && !pq_stream_is_uni(0));
  CHECK(pq_stream_is_server(1) && !pq_stream_is_uni(1));
  CHECK(!pq_stream_is_server(2) && pq_stream_is_uni(2));
  CHECK(pq_stream_is_server(3) && pq_stream_is_uni(3));
  CHECK_INT(7, ==, pq_stream_index(31));
  CHECK_INT(31, ==, pq_stream_make_id(7, true, true));
  CHECK_INT(28, ==, pq_stream_make_id(7, false, false));
  CHECK(pq_stream_is_local(4, false));
  CHECK(!pq_stream_is_local(4, true));
}

static void test_pq_flow_stream_frame_direction(void) {
  /* client-initiated uni stream 2: a client must not receive data on it, a server
   * must not receive MAX_STREAM_DATA/STOP_SENDING for it */
  CHECK_INT(PQ_ERR_STREAM_STATE_ERROR, ==, pq_stream_check_frame(2, false, 0x0a));
  CHECK_INT(PQ_ERR_STREAM_STATE_ERROR, ==, pq_stream_check_frame(2, false, PQ_FT_RESET_STREAM));
  CHECK_INT(PQ_ERR_STREAM_STATE_ERROR, ==,
            pq_stream_check_frame(2, false, PQ_FT_STREAM_DATA_BLOCKED));
  CHECK_INT(0, ==, pq_stream_check_frame(2, false, PQ_FT_MAX_STREAM_DATA));
  CHECK_INT(0, ==, pq_stream_check_frame(2, true, 0x0f));
  CHECK_INT(PQ_ERR_STREAM_STATE_ERROR, ==, pq_stream_check_frame(2, true, PQ_FT_MAX_STREAM_DATA));
  CHECK_INT(PQ_ERR_STREAM_STATE_ERROR, ==, pq_stream_check_frame(2, true, PQ_FT_STOP_SENDING));
  /* bidi streams: everything goes */
  CHECK_INT(0, ==, pq_stream_check_frame(0, false, 0x08));
  CHECK_INT(0, ==, pq_stream_check_frame(1, false, PQ_FT_STOP_SENDING));
}

static void test_pq_flow_streams_rx_limits(void) {
  pq_streams_rx s;
  uint64_t newly;
  pq_streams_rx_init(&s, 10);
  /* client opens bidi stream index 4 (id 16): streams 0..4 open */
  CHECK_INT(0, ==, pq_streams_rx_on_stream(&s, 16, &newly));
  CHECK_INT(5, ==, newly);
  CHECK_INT(0, ==, pq_streams_rx_on_stream(&s, 4, &newly));
  CHECK_INT(0, ==, newly);
  CHECK_INT(0, ==, pq_streams_rx_on_stream(&s, 36, &newly)); /* index 9: last allowed */
  CHECK_INT(5, ==, newly);
  CHECK_INT(PQ_ERR_STREAM_LIMIT_ERROR, ==, pq_streams_rx_on_stream(&s, 40, &newly));
  /* closing half the window makes room for a MAX_STREAMS */
  for (int i = 0; i < 4; i++) pq_streams_rx_on_closed(&s);
  CHECK(!pq_streams_rx_should_update(&s));
  pq_streams_rx_on_closed(&s);
  CHECK(pq_streams_rx_should_update(&s));
  CHECK_INT(15, ==, pq_streams_rx_update(&s));
  CHECK_INT(0, ==, pq_streams_rx_on_stream(&s, 56, &newly)); /* index 14 */
  CHECK_INT(PQ_ERR_STREAM_LIMIT_ERROR, ==, pq_streams_rx_on_stream(&s, 60, &newly));
}

static void test_pq_flow_streams_tx_limits(void) {
  pq_streams_tx s;
  uint64_t id;
  pq_streams_tx_init(&s, 2);
  CHECK_INT(0, ==, pq_streams_tx_open(&s, false, true, &id));
  CHECK_INT(2, ==, id);
  CHECK_INT(0, ==, pq_streams_tx_open(&s, false, true, &id));
  CHECK_INT(6, ==, id);
  CHECK_INT(PQ_ERR_STREAM_LIMIT, ==, pq_streams_tx_open(&s, false, true, &id));
  CHECK(pq_streams_tx_should_send_blocked(&s));
  pq_streams_tx_on_blocked_sent(&s);
  CHECK(!pq_streams_tx_should_send_blocked(&s));
  CHECK_INT(0, ==, pq_streams_tx_check(&s, 6));
  CHECK_INT(PQ_ERR_STREAM_STATE_ERROR, ==, pq_streams_tx_check(&s, 10));
  CHECK(!pq_streams_tx_on_max(&s, 1));
  CHECK(pq_streams_tx_on_max(&s, 3));
  CHECK_INT(0, ==, pq_streams_tx_open(&s, false, true, &id));
  CHECK_INT(10, ==, id);
  /* server bidi ids */
  pq_streams_tx_init(&s, 5);
  CHECK_INT(0, ==, pq_streams_tx_open(&s, true, false, &id));
  CHECK_INT(1, ==, id);
}

int main(void) {
  RUN(test_pq_flow_rx_limit_and_error);
  RUN(test_pq_flow_rx_update_at_half_window);
  RUN(test_pq_flow_rx_autotune);
  RUN(test_pq_flow_tx_credit_and_blocked);
  RUN(test_pq_flow_stream_ids);
  RUN(test_pq_flow_stream_frame_direction);
  RUN(test_pq_flow_streams_rx_limits);
  RUN(test_pq_flow_streams_tx_limits);
  return test_report();
}
