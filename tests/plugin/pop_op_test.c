/* Export name <-> op mapping (pop_op.c). */
#include <string.h>

#include "pluginop/plugin.h"
#include "test.h"

static int parse(const char *name, pop_anchor *a, pop_op *op) {
  return pop_op_parse(name, strlen(name), a, op);
}

static void check_op(const char *name, pop_anchor anchor, pop_op_kind kind, uint64_t param) {
  pop_anchor a = 99;
  pop_op op;
  memset(&op, 0xaa, sizeof op);
  int rv = parse(name, &a, &op);
  if (rv != 0 || a != anchor || op.kind != kind || op.param != param) {
    fprintf(stderr, "  name \"%s\": rv %d anchor %d kind %d param %llx\n", name, rv, (int)a,
            (int)op.kind, (unsigned long long)op.param);
    test_current_failed = 1;
  }
}

static void test_pop_op_parse_define_with_hex_param(void) {
  check_op("process_frame_10", POP_ANCHOR_DEFINE, POP_OP_PROCESS_FRAME, 0x10);
  check_op("decode_transport_parameter_ff04de1b", POP_ANCHOR_DEFINE,
           POP_OP_DECODE_TRANSPORT_PARAMETER, 0xff04de1b);
  check_op("write_transport_parameter_AAAAAAAA", POP_ANCHOR_DEFINE,
           POP_OP_WRITE_TRANSPORT_PARAMETER, 0xaaaaaaaa);
  check_op("wire_len_42", POP_ANCHOR_DEFINE, POP_OP_WIRE_LEN, 0x42);
  check_op("write_frame_0", POP_ANCHOR_DEFINE, POP_OP_WRITE_FRAME, 0);
  check_op("parse_frame_ffffffffffffffff", POP_ANCHOR_DEFINE, POP_OP_PARSE_FRAME,
           UINT64_MAX);
  check_op("prepare_frame_bd", POP_ANCHOR_DEFINE, POP_OP_PREPARE_FRAME, 0xbd);
  check_op("should_send_frame_2", POP_ANCHOR_DEFINE, POP_OP_SHOULD_SEND_FRAME, 2);
  check_op("on_frame_reserved_42", POP_ANCHOR_DEFINE, POP_OP_ON_FRAME_RESERVED, 0x42);
  check_op("notify_frame_42", POP_ANCHOR_DEFINE, POP_OP_NOTIFY_FRAME, 0x42);
  check_op("log_frame_6", POP_ANCHOR_DEFINE, POP_OP_LOG_FRAME, 6);
  check_op("plugin_control_1f", POP_ANCHOR_DEFINE, POP_OP_PLUGIN_CONTROL, 0x1f);
  check_op("on_plugin_timeout_3", POP_ANCHOR_DEFINE, POP_OP_ON_PLUGIN_TIMEOUT, 3);
}

static void test_pop_op_parse_anchor_prefixes(void) {
  check_op("pre_process_frame_10", POP_ANCHOR_BEFORE, POP_OP_PROCESS_FRAME, 0x10);
  check_op("before_update_rtt", POP_ANCHOR_BEFORE, POP_OP_UPDATE_RTT, 0);
  check_op("post_process_frame_2", POP_ANCHOR_AFTER, POP_OP_PROCESS_FRAME, 2);
  check_op("after_init", POP_ANCHOR_AFTER, POP_OP_INIT, 0);
  check_op("init", POP_ANCHOR_DEFINE, POP_OP_INIT, 0);
  check_op("update_rtt", POP_ANCHOR_DEFINE, POP_OP_UPDATE_RTT, 0);
  check_op("test", POP_ANCHOR_DEFINE, POP_OP_TEST, 0);
}

static void test_pop_op_parse_recovery_events(void) {
  check_op("on_packet_sent", POP_ANCHOR_DEFINE, POP_OP_ON_PACKET_SENT, 0);
  check_op("post_on_packet_acked", POP_ANCHOR_AFTER, POP_OP_ON_PACKET_ACKED, 0);
  check_op("on_packet_lost", POP_ANCHOR_DEFINE, POP_OP_ON_PACKET_LOST, 0);
  check_op("on_congestion_event", POP_ANCHOR_DEFINE, POP_OP_ON_CONGESTION_EVENT, 0);
  check_op("on_loss_timer", POP_ANCHOR_DEFINE, POP_OP_ON_LOSS_TIMER, 0);
  check_op("pre_set_next_wakeup", POP_ANCHOR_BEFORE, POP_OP_SET_NEXT_WAKEUP, 0);
}

static void test_pop_op_parse_other_names(void) {
  pop_anchor a;
  pop_op op;
  CHECK_INT(0, ==, parse("my_function", &a, &op));
  CHECK_INT(POP_OP_OTHER, ==, op.kind);
  CHECK(op.name && strcmp(op.name, "my_function") == 0);
  CHECK_INT(POP_ANCHOR_DEFINE, ==, a);
  CHECK_INT(0, ==, parse("post_my_function", &a, &op));
  CHECK_INT(POP_OP_OTHER, ==, op.kind);
  CHECK_INT(POP_ANCHOR_AFTER, ==, a);
  CHECK(strcmp(op.name, "my_function") == 0);
  /* Names that merely start like a kind are other ops. */
  CHECK_INT(0, ==, parse("process_frames", &a, &op));
  CHECK_INT(POP_OP_OTHER, ==, op.kind);
  CHECK_INT(0, ==, parse("init_state", &a, &op));
  CHECK_INT(POP_OP_OTHER, ==, op.kind);
  CHECK_INT(0, ==, parse("initialize", &a, &op));
  CHECK_INT(POP_OP_OTHER, ==, op.kind);
  CHECK_INT(0, ==, parse("prefix_thing", &a, &op));
  CHECK_INT(POP_OP_OTHER, ==, op.kind);
  CHECK_INT(POP_ANCHOR_DEFINE, ==, a);
}

static void check_malformed(const char *name) {
  pop_anchor a;
  pop_op op;
  int rv = parse(name, &a, &op);
  if (rv != POP_ERR_LOAD) {
    fprintf(stderr, "  \"%s\" accepted (rv %d kind %d)\n", name, rv, (int)op.kind);
    test_current_failed = 1;
  }
}

static void test_pop_op_parse_rejects_malformed(void) {
  check_malformed("");
  check_malformed("pre_");
  check_malformed("before_");
  check_malformed("post_");
  check_malformed("after_");
  check_malformed("process_frame");         /* missing parameter */
  check_malformed("process_frame_");        /* empty parameter */
  check_malformed("pre_process_frame_");    /* same with an anchor */
  check_malformed("process_frame_1g");      /* not hex */
  check_malformed("process_frame_0x10");    /* no 0x */
  check_malformed("process_frame_+10");     /* no sign */
  check_malformed("process_frame_-1");
  check_malformed("process_frame_ 1");
  check_malformed("process_frame_10_");
  check_malformed("process_frame_10000000000000000"); /* 17 digits: overflow */
  check_malformed("decode_transport_parameter_xyz");
  check_malformed("on_plugin_timeout_");
  check_malformed("plugin_control");
  check_malformed("init_1");                /* parameter on a kind without one */
  check_malformed("init_");
  check_malformed("update_rtt_3");
  check_malformed("post_update_rtt_ff");
  /* Embedded NUL. */
  pop_anchor a;
  pop_op op;
  CHECK_INT(POP_ERR_LOAD, ==, pop_op_parse("init\0x", 6, &a, &op));
  CHECK_INT(POP_ERR_LOAD, ==, pop_op_parse(NULL, 3, &a, &op));
}

static void test_pop_op_parse_uses_len_not_nul(void) {
  pop_anchor a;
  pop_op op;
  /* Only the first 16 bytes are the name: "process_frame_10". */
  CHECK_INT(0, ==, pop_op_parse("process_frame_10ZZZ", 16, &a, &op));
  CHECK_INT(POP_OP_PROCESS_FRAME, ==, op.kind);
  CHECK_INT(0x10, ==, op.param);
}

static void test_pop_op_name_round_trip(void) {
  char buf[96];
  pop_op op = pop_op_make(POP_OP_PROCESS_FRAME, 0x10);
  CHECK_INT(16, ==, pop_op_name(op, POP_ANCHOR_DEFINE, buf, sizeof buf));
  CHECK_STR("process_frame_10", buf);
  CHECK_INT(0, <, pop_op_name(pop_op_make(POP_OP_UPDATE_RTT, 0), POP_ANCHOR_BEFORE, buf,
                              sizeof buf));
  CHECK_STR("pre_update_rtt", buf);
  pop_op other = {POP_OP_OTHER, 0, "thing"};
  CHECK_INT(0, <, pop_op_name(other, POP_ANCHOR_AFTER, buf, sizeof buf));
  CHECK_STR("post_thing", buf);
  CHECK_INT(POP_ERR_ARG, ==, pop_op_name(op, POP_ANCHOR_DEFINE, buf, 5));
  /* Every kind round-trips through its canonical name. */
  for (int k = 0; k < POP_OP_OTHER; k++) {
    for (int an = 0; an <= 2; an++) {
      pop_op o = pop_op_make((pop_op_kind)k, 0xabc);
      int n = pop_op_name(o, (pop_anchor)an, buf, sizeof buf);
      CHECK_INT(0, <, n);
      pop_anchor a2;
      pop_op o2;
      CHECK_INT(0, ==, pop_op_parse(buf, (size_t)n, &a2, &o2));
      CHECK_INT(k, ==, o2.kind);
      CHECK_INT(an, ==, a2);
      if (k != POP_OP_OTHER && o2.param != 0)
        CHECK_INT(0xabc, ==, o2.param);
    }
  }
}

static void test_pop_op_always_enabled_set(void) {
  CHECK(pop_op_always_enabled(POP_OP_INIT));
  CHECK(pop_op_always_enabled(POP_OP_DECODE_TRANSPORT_PARAMETER));
  CHECK(pop_op_always_enabled(POP_OP_WRITE_TRANSPORT_PARAMETER));
  CHECK(!pop_op_always_enabled(POP_OP_PROCESS_FRAME));
  CHECK(!pop_op_always_enabled(POP_OP_PLUGIN_CONTROL));
  CHECK(pop_op_kind_name(POP_OP_KIND_COUNT) == NULL);
}

int main(void) {
  RUN(test_pop_op_parse_define_with_hex_param);
  RUN(test_pop_op_parse_anchor_prefixes);
  RUN(test_pop_op_parse_recovery_events);
  RUN(test_pop_op_parse_other_names);
  RUN(test_pop_op_parse_rejects_malformed);
  RUN(test_pop_op_parse_uses_len_not_nul);
  RUN(test_pop_op_name_round_trip);
  RUN(test_pop_op_always_enabled_set);
  return test_report();
}
