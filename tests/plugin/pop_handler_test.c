/* The call path on a mock host with the example plugins (plugins/). */
#include <pthread.h>
#include <unistd.h>

#include "mock_host.h"
#include "test.h"

static pop_store *S;
static mock_conn C;
static pop_handler *H;

static void setup(void) {
  pop_store_new(NULL, &S);
  mock_init(&C);
  pop_handler_new(S, &MOCK_CALLBACKS, &C, &H);
}

static void teardown(void) {
  pop_handler_del(H);
  pop_store_del(S);
  H = NULL;
  S = NULL;
}

static pop_op other(const char *name) {
  pop_op op = {POP_OP_OTHER, 0, name};
  return op;
}

static void test_pop_handler_bare_call(void) {
  setup();
  pop_plugin *p = load_plugin(S, "basics");
  CHECK(p != NULL);
  CHECK_INT(0, ==, attach_all(H, p, true));
  pop_call_result r;
  CHECK_INT(0, ==, pop_handler_call(H, other("run_and_return"), NULL, 0, NULL, 0, NULL, NULL, &r));
  CHECK_INT(0, ==, r.definer);
  CHECK_INT(0, ==, r.op_code);
  CHECK_INT(0, ==, r.faults);
  /* Nobody defines it and there is no native code. */
  CHECK_INT(POP_ERR_NOT_FOUND, ==,
            pop_handler_call(H, other("nothing"), NULL, 0, NULL, 0, NULL, NULL, &r));
  CHECK_INT(-2, ==, r.definer);
  CHECK(pop_handler_wants(H, other("run_and_return")));
  CHECK(!pop_handler_wants(H, other("nothing")));
  teardown();
}

static void test_pop_handler_other_op_resolved_once(void) {
  setup();
  pop_op before, after, unknown;
  /* Resolved before any plugin is loaded: the plugin's name is matched to it at load. */
  CHECK_INT(0, ==, pop_store_other_op(S, "run_and_return", &before));
  CHECK_INT(POP_OP_OTHER, ==, before.kind);
  CHECK(strcmp(before.name, "run_and_return") == 0);
  CHECK_INT(0, ==, attach_all(H, load_plugin(S, "basics"), true));
  CHECK_INT(0, ==, pop_store_other_op(S, "run_and_return", &after));
  CHECK(after.name == before.name); /* one copy per store */
  pop_call_result r;
  CHECK_INT(0, ==, pop_handler_call(H, before, NULL, 0, NULL, 0, NULL, NULL, &r));
  CHECK_INT(0, ==, r.definer);
  /* A resolved name the plugin lacks is not found, as by string. */
  CHECK_INT(0, ==, pop_store_other_op(S, "nothing_here", &unknown));
  CHECK_INT(POP_ERR_NOT_FOUND, ==, pop_handler_call(H, unknown, NULL, 0, NULL, 0, NULL, NULL, &r));
  /* Another resolved name reaches its own code (static_memory counts per call). */
  pop_op sm, ctl = pop_op_make(POP_OP_PLUGIN_CONTROL, 0);
  CHECK_INT(0, ==, pop_store_other_op(S, "static_memory", &sm));
  CHECK(sm.name != before.name);
  CHECK_INT(0, ==, pop_handler_call(H, sm, NULL, 0, NULL, 0, NULL, NULL, &r));
  CHECK_INT(0, ==, pop_handler_call(H, other("static_memory"), NULL, 0, NULL, 0, NULL, NULL, &r));
  pop_val out[1];
  CHECK_INT(0, ==, pop_handler_call(H, ctl, NULL, 0, out, 1, NULL, NULL, &r));
  CHECK_INT(2, ==, out[0].u.u64);
  /* A name in a buffer the caller reuses is compared by string, not by pointer. */
  char buf[32];
  snprintf(buf, sizeof buf, "%s", "run_and_return");
  CHECK_INT(0, ==, pop_handler_call(H, other(buf), NULL, 0, NULL, 0, NULL, NULL, &r));
  snprintf(buf, sizeof buf, "%s", "nothing_here");
  CHECK_INT(POP_ERR_NOT_FOUND, ==, pop_handler_call(H, other(buf), NULL, 0, NULL, 0, NULL, NULL, &r));
  CHECK_INT(POP_ERR_ARG, ==, pop_store_other_op(S, "", &unknown));
  CHECK_INT(POP_ERR_ARG, ==, pop_store_other_op(NULL, "x", &unknown));
  CHECK_INT(POP_ERR_ARG, ==, pop_store_other_op(S, NULL, &unknown));
  teardown();
}

static void test_pop_handler_store_compiles_once(void) {
  setup();
  pop_plugin *a = load_plugin(S, "basics"), *b = load_plugin(S, "basics");
  pop_plugin *c = load_plugin(S, "timers");
  CHECK(a != NULL && a == b);
  CHECK(c != NULL && c != a);
  CHECK_STR("basics", pop_plugin_name(a));
  CHECK(pop_plugin_provides(a, pop_op_make(POP_OP_PLUGIN_CONTROL, 0), POP_ANCHOR_DEFINE));
  CHECK(!pop_plugin_provides(a, pop_op_make(POP_OP_PLUGIN_CONTROL, 0), POP_ANCHOR_BEFORE));
  teardown();
}

static void test_pop_handler_static_memory_per_connection(void) {
  setup();
  pop_plugin *p = load_plugin(S, "basics");
  mock_conn c2;
  mock_init(&c2);
  pop_handler *h2;
  CHECK_INT(0, ==, pop_handler_new(S, &MOCK_CALLBACKS, &c2, &h2));
  CHECK_INT(0, ==, attach_all(H, p, true));
  CHECK_INT(0, ==, attach_all(h2, p, true));
  for (int i = 0; i < 3; i++)
    CHECK_INT(0, ==, pop_handler_call(H, other("static_memory"), NULL, 0, NULL, 0, NULL, NULL, NULL));
  CHECK_INT(0, ==, pop_handler_call(h2, other("static_memory"), NULL, 0, NULL, 0, NULL, NULL, NULL));
  pop_val out[2];
  pop_call_result r;
  CHECK_INT(0, ==, pop_handler_poctl(H, 0, NULL, 0, out, 2, &r));
  CHECK_INT(1, ==, r.n_outputs);
  CHECK_INT(POP_VAL_U64, ==, out[0].type);
  CHECK_INT(3, ==, out[0].u.u64);
  CHECK_INT(0, ==, pop_handler_poctl(h2, 0, NULL, 0, out, 2, &r));
  CHECK_INT(1, ==, out[0].u.u64);
  pop_handler_del(h2);
  teardown();
}

static void test_pop_handler_inputs_outputs(void) {
  setup();
  CHECK_INT(0, ==, attach_all(H, load_plugin(S, "basics"), true));
  pop_val in[3] = {mock_u64(POP_VAL_U64, 42), mock_frame(0x10, 5000),
                   mock_u64(POP_VAL_DURATION, 7)};
  pop_val out[4];
  pop_call_result r;
  CHECK_INT(0, ==, pop_handler_call(H, other("inputs_outputs"), in, 3, out, 4, NULL, NULL, &r));
  CHECK_INT(3, ==, r.n_outputs);
  CHECK_MEM(in, out, sizeof in);
  /* Fewer output slots than outputs: the first ones are copied. */
  memset(out, 0, sizeof out);
  CHECK_INT(0, ==, pop_handler_call(H, other("inputs_outputs"), in, 3, out, 1, NULL, NULL, &r));
  CHECK_INT(1, ==, r.n_outputs);
  CHECK_MEM(&in[0], &out[0], sizeof(pop_val));
  CHECK_INT(0, ==, out[1].type);
  /* Too many inputs. */
  pop_val many[POP_MAX_INPUTS + 1];
  memset(many, 0, sizeof many);
  CHECK_INT(POP_ERR_LIMIT, ==, pop_handler_call(H, other("inputs_outputs"), many,
                                                POP_MAX_INPUTS + 1, out, 4, NULL, NULL, &r));
  teardown();
}

/* The outputs are read where the plugin wrote them even when the call grew (and so maybe
 * moved) the plugin's memory. */
static void test_pop_handler_outputs_after_memory_grew(void) {
  setup();
  CHECK_INT(0, ==, attach_all(H, load_plugin(S, "basics"), true));
  pop_val out[1];
  pop_call_result r;
  CHECK_INT(0, ==, pop_handler_call(H, other("grow_then_output"), NULL, 0, out, 1, NULL, NULL, &r));
  CHECK_INT(1, ==, r.n_outputs);
  CHECK_INT(POP_VAL_U64, ==, out[0].type);
  CHECK(out[0].u.u64 >= 1 && out[0].u.u64 <= 8); /* the old page count */
  uint64_t first = out[0].u.u64;
  /* Again, until the 16-page limit refuses: still an output, -1. */
  CHECK_INT(0, ==, pop_handler_call(H, other("grow_then_output"), NULL, 0, out, 1, NULL, NULL, &r));
  CHECK_INT(1, ==, r.n_outputs);
  CHECK(out[0].u.u64 == first + 8 || out[0].u.u64 == UINT64_MAX);
  teardown();
}

static void test_pop_handler_increase_max_data(void) {
  setup();
  CHECK_INT(0, ==, attach_all(H, load_plugin(S, "increase-max-data"), false));
  CHECK(pop_handler_is_enabled(H, 0)); /* init enabled it */
  pop_val f = mock_frame(0x10, 5000);
  pop_call_result r;
  CHECK_INT(0, ==, pop_handler_call(H, pop_op_make(POP_OP_PROCESS_FRAME, 0x10), &f, 1, NULL, 0,
                                    NULL, NULL, &r));
  CHECK_INT(5000, ==, C.max_tx_data);
  f = mock_frame(0x10, 10);
  CHECK_INT(0, ==, pop_handler_call(H, pop_op_make(POP_OP_PROCESS_FRAME, 0x10), &f, 1, NULL, 0,
                                    NULL, NULL, &r));
  CHECK_INT(5000, ==, C.max_tx_data);
  /* Another frame type is not the plugin's. */
  CHECK_INT(POP_ERR_NOT_FOUND, ==, pop_handler_call(H, pop_op_make(POP_OP_PROCESS_FRAME, 0x11),
                                                    &f, 1, NULL, 0, NULL, NULL, &r));
  teardown();
}

static void test_pop_handler_permission_denied_is_op_error(void) {
  setup();
  pop_attach_opts o;
  memset(&o, 0, sizeof o);
  o.permissions = POP_PERM_CONN_READ; /* no CONN_WRITE */
  CHECK_INT(0, ==, pop_handler_attach(H, load_plugin(S, "increase-max-data"), &o));
  pop_val f = mock_frame(0x10, 5000);
  pop_call_result r;
  CHECK_INT(POP_ERR_OP, ==, pop_handler_call(H, pop_op_make(POP_OP_PROCESS_FRAME, 0x10), &f, 1,
                                             NULL, 0, NULL, NULL, &r));
  CHECK_INT(POP_E_PERM, ==, r.op_code);
  CHECK_INT(1000, ==, C.max_tx_data);
  CHECK(!pop_handler_is_faulted(H, 0)); /* an error code is not a fault */
  teardown();
}

/* RFC 9002 section 5.3, natively, for comparison. */
static void rtt_native(uint64_t *min, uint64_t *srtt, uint64_t *var, uint64_t latest,
                       uint64_t ack_delay, uint64_t max_ack_delay) {
  if (*min == 0) {
    *min = latest;
    *srtt = latest;
    *var = latest / 2;
    return;
  }
  if (latest < *min)
    *min = latest;
  if (ack_delay > max_ack_delay)
    ack_delay = max_ack_delay;
  uint64_t adj = latest >= *min + ack_delay ? latest - ack_delay : latest;
  uint64_t diff = *srtt > adj ? *srtt - adj : adj - *srtt;
  *var = (3 * *var + diff) / 4;
  *srtt = (7 * *srtt + adj) / 8;
}

static void test_pop_handler_update_rtt_define(void) {
  setup();
  CHECK_INT(0, ==, attach_all(H, load_plugin(S, "update-rtt"), false));
  uint64_t min = 0, srtt = 0, var = 0;
  uint64_t samples[][2] = {{100000000, 0}, {120000000, 10000000}, {80000000, 50000000},
                           {300000000, 1000000}};
  for (int i = 0; i < 4; i++) {
    pop_val in[3] = {mock_u64(POP_VAL_DURATION, samples[i][0]),
                     mock_u64(POP_VAL_DURATION, samples[i][1]), mock_u64(POP_VAL_INSTANT, 0)};
    CHECK_INT(0, ==, pop_handler_call(H, pop_op_make(POP_OP_UPDATE_RTT, 0), in, 3, NULL, 0,
                                      NULL, NULL, NULL));
    rtt_native(&min, &srtt, &var, samples[i][0], samples[i][1], C.max_ack_delay);
    CHECK_INT(min, ==, C.min_rtt);
    CHECK_INT(srtt, ==, C.srtt);
    CHECK_INT(var, ==, C.rttvar);
    CHECK_INT(samples[i][0], ==, C.latest_rtt);
  }
  teardown();
}

/* Sends one frame of |ty| through the plugin pipeline into buffer tag 1. Returns the
 * bytes written or -1. */
static int send_frame(pop_handler *h, mock_conn *c, uint64_t ty, pop_frame *sent) {
  pop_val in[5], out[2];
  pop_call_result r;
  in[0] = mock_u64(POP_VAL_PKT_TYPE, POP_PKT_SHORT);
  in[1] = mock_u64(POP_VAL_PN_SPACE, POP_PN_SPACE_APPLICATION);
  in[2] = mock_u64(POP_VAL_BOOL, 0);
  in[3] = mock_u64(POP_VAL_U64, 1200);
  in[4] = mock_u64(POP_VAL_INSTANT, c->now);
  if (pop_handler_call(h, pop_op_make(POP_OP_SHOULD_SEND_FRAME, ty), in, 5, out, 2, NULL, NULL,
                       &r) != 0 || r.n_outputs != 1 || out[0].type != POP_VAL_BOOL)
    return -1;
  if (!out[0].u.b)
    return 0;
  in[0] = mock_u64(POP_VAL_PN_SPACE, POP_PN_SPACE_APPLICATION);
  in[1] = mock_u64(POP_VAL_U64, 1200);
  if (pop_handler_call(h, pop_op_make(POP_OP_PREPARE_FRAME, ty), in, 2, out, 2, NULL, NULL,
                       &r) != 0 || r.n_outputs != 1 || out[0].type != POP_VAL_FRAME)
    return -1;
  pop_val frame = out[0];
  *sent = frame.u.frame;
  if (pop_handler_call(h, pop_op_make(POP_OP_WIRE_LEN, ty), &frame, 1, out, 2, NULL, NULL,
                       &r) != 0 || r.n_outputs != 1)
    return -1;
  uint64_t wire_len = out[0].u.u64;
  in[0] = frame;
  in[1] = mock_bytes(1, 0, wire_len);
  if (pop_handler_call(h, pop_op_make(POP_OP_WRITE_FRAME, ty), in, 2, out, 2, NULL, NULL,
                       &r) != 0 || r.n_outputs != 1 || out[0].u.u64 != wire_len)
    return -1;
  if (pop_handler_call(h, pop_op_make(POP_OP_ON_FRAME_RESERVED, ty), &frame, 1, NULL, 0, NULL,
                       NULL, &r) != 0)
    return -1;
  return (int)wire_len;
}

/* Receives: reads the frame type varint natively, then parse + process by the plugin. */
static int receive_frame(pop_handler *h, mock_conn *c, const uint8_t *wire, size_t len,
                         pop_frame *got) {
  mock_buf *b = &c->buf[1]; /* tag 2 */
  memcpy(b->data, wire, len);
  b->len = len;
  b->rpos = 0;
  uint64_t ty = b->data[0] & 0x3f;
  size_t tl = (size_t)1 << (b->data[0] >> 6);
  for (size_t i = 1; i < tl; i++)
    ty = (ty << 8) | b->data[i];
  b->rpos = tl;
  pop_val in[2] = {mock_bytes(2, len - tl, 0), mock_u64(POP_VAL_PKT_TYPE, POP_PKT_SHORT)};
  pop_val out[2];
  pop_call_result r;
  if (pop_handler_call(h, pop_op_make(POP_OP_PARSE_FRAME, ty), in, 2, out, 2, NULL, NULL, &r) != 0 ||
      r.n_outputs != 1 || out[0].type != POP_VAL_FRAME)
    return -1;
  *got = out[0].u.frame;
  pop_val pin[5] = {out[0], mock_u64(POP_VAL_HEADER, 0), mock_u64(POP_VAL_U64, 0),
                    mock_u64(POP_VAL_PN_SPACE, POP_PN_SPACE_APPLICATION),
                    mock_u64(POP_VAL_INSTANT, c->now)};
  if (pop_handler_call(h, pop_op_make(POP_OP_PROCESS_FRAME, ty), pin, 5, NULL, 0, NULL, NULL, &r) != 0)
    return -1;
  return (int)b->rpos;
}

static void test_pop_handler_max_data_frame_pipeline(void) {
  setup();
  pop_plugin *p = load_plugin(S, "max-data-frame");
  pop_param params[] = {{"window", "1000"}};
  pop_attach_opts o;
  memset(&o, 0, sizeof o);
  o.permissions = POP_PERM_ALL;
  o.params = params;
  o.n_params = 1;
  CHECK_INT(0, ==, pop_handler_attach(H, p, &o));
  CHECK_INT(1, ==, C.n_frames);
  CHECK_INT(0x10, ==, C.frames[0].type);
  CHECK_INT(POP_SEND_AFTER_ACK, ==, C.frames[0].send_order);
  /* Sender: rx 0, advertised 100 < 0 + 1000/2: a MAX_DATA of 1000 goes out. */
  pop_frame sent;
  CHECK_INT(3, ==, send_frame(H, &C, 0x10, &sent));
  CHECK_INT(1000, ==, sent.f[0]);
  const uint8_t expect[] = {0x10, 0x43, 0xe8}; /* type, varint 1000 */
  CHECK_INT(3, ==, C.buf[0].len);
  CHECK_MEM(expect, C.buf[0].data, 3);
  CHECK_INT(1000, ==, C.max_rx_data);
  /* Nothing more to send until data comes in. */
  CHECK_INT(0, ==, send_frame(H, &C, 0x10, &sent));
  /* Receiver: another connection with the same plugin. */
  mock_conn peer;
  mock_init(&peer);
  pop_handler *hp;
  CHECK_INT(0, ==, pop_handler_new(S, &MOCK_CALLBACKS, &peer, &hp));
  CHECK_INT(0, ==, pop_handler_attach(hp, p, &o));
  pop_frame got;
  CHECK_INT(3, ==, receive_frame(hp, &peer, C.buf[0].data, C.buf[0].len, &got));
  CHECK_INT(1000, ==, got.f[0]);
  CHECK_INT(1000, ==, peer.max_tx_data); /* was 1000 already: unchanged */
  /* A bigger one raises the limit; a lost frame is sent again. */
  C.rx_data = 900;
  C.buf[0].len = 0;
  CHECK_INT(3, ==, send_frame(H, &C, 0x10, &sent));
  CHECK_INT(1900, ==, sent.f[0]);
  CHECK_INT(3, ==, receive_frame(hp, &peer, C.buf[0].data, C.buf[0].len, &got));
  CHECK_INT(1900, ==, peer.max_tx_data);
  pop_val ln[2] = {mock_frame(0x10, 1900), mock_u64(POP_VAL_BOOL, 1)};
  CHECK_INT(0, ==, pop_handler_call(H, pop_op_make(POP_OP_NOTIFY_FRAME, 0x10), ln, 2, NULL, 0,
                                    NULL, NULL, NULL));
  C.buf[0].len = 0;
  CHECK_INT(3, ==, send_frame(H, &C, 0x10, &sent));
  /* A truncated frame is an operation error, not a crash. */
  pop_frame bad;
  CHECK_INT(-1, ==, receive_frame(hp, &peer, (const uint8_t *)"\x10\x43", 2, &bad));
  pop_handler_del(hp);
  teardown();
}

static void test_pop_handler_super_frame_two_step(void) {
  setup();
  pop_plugin *p = load_plugin(S, "super-frame");
  CHECK_INT(0, ==, attach_all(H, p, false));
  CHECK_INT(1, ==, C.n_tps);
  CHECK_INT(0xaaaaaaaa, ==, C.tps[0]);
  CHECK_INT(0x42, ==, C.frames[0].type);
  CHECK(!pop_handler_is_enabled(H, 0));
  pop_frame sent;
  CHECK_INT(-1, ==, send_frame(H, &C, 0x42, &sent)); /* not enabled: nobody sends 0x42 */
  pop_val tpbuf = mock_bytes(3, 0, 0);
  CHECK_INT(0, ==, pop_handler_call(H, pop_op_make(POP_OP_WRITE_TRANSPORT_PARAMETER, 0xaaaaaaaa),
                                    &tpbuf, 1, NULL, 0, NULL, NULL, NULL));
  CHECK_INT(0, ==, pop_handler_call(H, pop_op_make(POP_OP_DECODE_TRANSPORT_PARAMETER, 0xaaaaaaaa),
                                    &tpbuf, 1, NULL, 0, NULL, NULL, NULL));
  CHECK(pop_handler_is_enabled(H, 0));
  CHECK_INT(10, ==, send_frame(H, &C, 0x42, &sent)); /* 2 + 8 bytes */
  CHECK_INT(0, ==, send_frame(H, &C, 0x42, &sent)); /* once */
  mock_conn peer;
  mock_init(&peer);
  pop_handler *hp;
  CHECK_INT(0, ==, pop_handler_new(S, &MOCK_CALLBACKS, &peer, &hp));
  CHECK_INT(0, ==, attach_all(hp, p, true));
  pop_frame got;
  CHECK_INT(10, ==, receive_frame(hp, &peer, C.buf[0].data, C.buf[0].len, &got));
  pop_val out[2];
  pop_call_result r;
  CHECK_INT(0, ==, pop_handler_poctl(hp, 0x42, NULL, 0, out, 2, &r));
  CHECK_INT(2, ==, r.n_outputs);
  CHECK_INT(1, ==, out[0].u.u64);
  CHECK_INT(0x42424242, ==, out[1].u.u64);
  pop_handler_del(hp);
  teardown();
}

static void test_pop_handler_timers(void) {
  setup();
  C.now = 1000;
  CHECK_INT(0, ==, attach_all(H, load_plugin(S, "timers"), false));
  uint64_t at = 0;
  CHECK(pop_handler_next_timer(H, &at));
  CHECK_INT(1000 + 1000000, ==, at);
  CHECK_INT(0, ==, pop_handler_on_timeout(H, 1000 + 999999)); /* not yet */
  int fired = 0;
  for (int i = 0; i < 20 && pop_handler_next_timer(H, &at); i++) {
    C.now = at;
    int n = pop_handler_on_timeout(H, at);
    CHECK(n >= 1);
    fired += n;
  }
  CHECK_INT(4, ==, fired);
  CHECK(!pop_handler_next_timer(H, &at));
  pop_val out[2];
  pop_call_result r;
  CHECK_INT(0, ==, pop_handler_poctl(H, 0, NULL, 0, out, 2, &r));
  CHECK_INT(3, ==, out[0].u.u64);
  CHECK_INT(1, ==, out[1].u.u64);
  teardown();
  /* Cancelling. */
  setup();
  CHECK_INT(0, ==, attach_all(H, load_plugin(S, "timers"), false));
  CHECK_INT(0, ==, pop_handler_poctl(H, 1, NULL, 0, NULL, 0, NULL));
  CHECK(pop_handler_next_timer(H, &at));
  CHECK_INT(5000000, ==, at); /* only timer 2 left */
  CHECK_INT(POP_ERR_OP, ==, pop_handler_poctl(H, 1, NULL, 0, NULL, 0, NULL)); /* gone */
  teardown();
}

static void test_pop_handler_poctl_nested(void) {
  setup();
  CHECK_INT(0, ==, attach_all(H, load_plugin(S, "poctl-callee"), false));
  CHECK_INT(1, ==, attach_all(H, load_plugin(S, "poctl-caller"), false));
  pop_val in[3] = {mock_u64(POP_VAL_U64, 1), mock_u64(POP_VAL_U64, 2),
                   mock_u64(POP_VAL_U64, 3)};
  pop_val out[2];
  pop_call_result r;
  CHECK_INT(0, ==, pop_handler_poctl(H, 1, in, 3, out, 2, &r)); /* direct */
  CHECK_INT(6, ==, out[0].u.u64);
  CHECK_INT(0, ==, pop_handler_poctl(H, 2, in, 3, out, 2, &r)); /* nested */
  CHECK_INT(1, ==, r.definer);
  CHECK_INT(7, ==, out[0].u.u64);
  /* A plugin calling its own running control is refused, not re-entered. */
  CHECK_INT(0, ==, pop_handler_poctl(H, 3, NULL, 0, out, 2, &r));
  CHECK_INT(POP_VAL_I64, ==, out[0].type);
  CHECK_INT(POP_E_STATE, ==, (int64_t)out[0].u.u64);
  CHECK_INT(POP_ERR_NOT_FOUND, ==, pop_handler_poctl(H, 99, NULL, 0, out, 2, &r));
  CHECK_INT(0, ==, r.faults);
  teardown();
}

static void test_pop_handler_two_step_enable(void) {
  setup();
  CHECK_INT(0, ==, attach_all(H, load_plugin(S, "two-step"), false));
  CHECK(!pop_handler_is_enabled(H, 0));
  pop_val f = mock_frame(0x10, 1);
  int native_calls = 0;
  pop_call_result r;
  /* Disabled: process_frame_10 and pre_update_rtt do not run. */
  CHECK_INT(POP_ERR_NOT_FOUND, ==, pop_handler_call(H, pop_op_make(POP_OP_PROCESS_FRAME, 0x10),
                                                    &f, 1, NULL, 0, NULL, NULL, &r));
  CHECK_INT(POP_ERR_NOT_FOUND, ==, pop_handler_call(H, pop_op_make(POP_OP_UPDATE_RTT, 0), NULL, 0,
                                                    NULL, 0, NULL, NULL, &r));
  CHECK(!pop_handler_wants(H, pop_op_make(POP_OP_PROCESS_FRAME, 0x10)));
  CHECK(!pop_handler_wants_kind(H, POP_OP_PROCESS_FRAME));
  CHECK(pop_handler_wants_kind(H, POP_OP_DECODE_TRANSPORT_PARAMETER)); /* always enabled */
  (void)native_calls;
  /* The peer's transport parameter enables it. */
  pop_val tp = mock_bytes(3, 0, 0);
  CHECK_INT(0, ==, pop_handler_call(H, pop_op_make(POP_OP_DECODE_TRANSPORT_PARAMETER, 0xff04de1b),
                                    &tp, 1, NULL, 0, NULL, NULL, &r));
  CHECK(pop_handler_is_enabled(H, 0));
  CHECK(pop_handler_wants_kind(H, POP_OP_PROCESS_FRAME)); /* any frame type */
  CHECK(!pop_handler_wants_kind(H, POP_OP_LOG_FRAME));
  CHECK(!pop_handler_wants_kind(H, POP_OP_KIND_COUNT));
  CHECK_INT(0, ==, pop_handler_call(H, pop_op_make(POP_OP_PROCESS_FRAME, 0x10), &f, 1, NULL, 0,
                                    NULL, NULL, &r));
  CHECK_INT(0, ==, r.definer);
  pop_val out[2];
  CHECK_INT(0, ==, pop_handler_poctl(H, 0, NULL, 0, out, 2, &r));
  CHECK_INT(1, ==, out[0].u.u64);
  CHECK_INT(0, ==, out[1].u.u64);
  teardown();
}

static int64_t native_count(void *arg, pop_op op, const pop_val *in, size_t n_in, pop_val *out,
                            size_t max_out, size_t *n_out) {
  (*(int *)arg)++;
  if (max_out) {
    out[0] = mock_u64(POP_VAL_U64, 77);
    *n_out = 1;
  }
  return 0;
}

static void test_pop_handler_native_and_anchors(void) {
  setup();
  /* two-step, enabled, has pre_update_rtt only: Before runs, native defines. */
  CHECK_INT(0, ==, attach_all(H, load_plugin(S, "two-step"), true));
  int calls = 0;
  pop_val out[1];
  pop_call_result r;
  CHECK_INT(0, ==, pop_handler_call(H, pop_op_make(POP_OP_UPDATE_RTT, 0), NULL, 0, out, 1,
                                    native_count, &calls, &r));
  CHECK_INT(1, ==, calls);
  CHECK_INT(-1, ==, r.definer);
  CHECK_INT(1, ==, r.n_outputs);
  CHECK_INT(77, ==, out[0].u.u64);
  pop_val o2[2];
  CHECK_INT(0, ==, pop_handler_poctl(H, 0, NULL, 0, o2, 2, &r));
  CHECK_INT(1, ==, o2[1].u.u64); /* the Before code ran once */
  teardown();
}

static void test_pop_handler_before_after_read_only(void) {
  setup();
  CHECK_INT(0, ==, attach_all(H, load_plugin(S, "hostile-noperm"), true));
  pop_val f = mock_frame(0x10, 1);
  int calls = 0;
  CHECK_INT(0, ==, pop_handler_call(H, pop_op_make(POP_OP_PROCESS_FRAME, 0x10), &f, 1, NULL, 0,
                                    native_count, &calls, NULL));
  CHECK_INT(1, ==, calls);
  pop_val out[1];
  CHECK_INT(0, ==, pop_handler_poctl(H, 1, NULL, 0, out, 1, NULL));
  CHECK_INT(POP_E_READONLY, ==, (int64_t)out[0].u.u64);
  CHECK_INT(1000, ==, C.max_tx_data);
  teardown();
}

static void test_pop_handler_attach_errors(void) {
  setup();
  pop_plugin *p = load_plugin(S, "basics");
  CHECK_INT(POP_ERR_ARG, ==, pop_handler_attach(NULL, p, NULL));
  CHECK_INT(POP_ERR_ARG, ==, pop_handler_attach(H, NULL, NULL));
  pop_attach_opts o;
  memset(&o, 0, sizeof o);
  o.file_dir = "/nonexistent/folder";
  CHECK_INT(POP_ERR_IO, ==, pop_handler_attach(H, p, &o));
  CHECK_INT(0, ==, pop_handler_plugin_count(H));
  /* A plugin of another store. */
  pop_store *s2;
  pop_store_new(NULL, &s2);
  pop_plugin *q = load_plugin(s2, "basics");
  CHECK_INT(POP_ERR_ARG, ==, pop_handler_attach(H, q, NULL));
  pop_store_del(s2);
  /* max_plugins */
  pop_settings st;
  pop_settings_default(&st);
  st.max_plugins = 2;
  pop_store *s3;
  pop_handler *h3;
  pop_store_new(&st, &s3);
  pop_handler_new(s3, NULL, NULL, &h3);
  pop_plugin *b3 = load_plugin(s3, "basics");
  CHECK_INT(0, ==, pop_handler_attach(h3, b3, NULL));
  CHECK_INT(1, ==, pop_handler_attach(h3, b3, NULL));
  CHECK_INT(POP_ERR_LIMIT, ==, pop_handler_attach(h3, b3, NULL));
  pop_handler_del(h3);
  pop_store_del(s3);
  teardown();
}

static void test_pop_handler_logger_after_anchor_files(void) {
  char dir[] = "/tmp/pop_logger_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  setup();
  pop_attach_opts o;
  memset(&o, 0, sizeof o);
  o.permissions = POP_PERM_ALL;
  o.file_dir = dir;
  CHECK_INT(0, ==, pop_handler_attach(H, load_plugin(S, "logger"), &o));
  CHECK(strstr(C.log, "logger: logger ready") != NULL);
  int native = 0;
  for (uint64_t v = 100; v <= 300; v += 100) {
    pop_val f = mock_frame(0x10, v);
    CHECK_INT(0, ==, pop_handler_call(H, pop_op_make(POP_OP_PROCESS_FRAME, 0x10), &f, 1, NULL, 0,
                                      native_count, &native, NULL));
  }
  CHECK_INT(3, ==, native);
  pop_handler_del(H);
  H = NULL;
  char path[64], text[128] = "";
  snprintf(path, sizeof path, "%s/frames.log", dir);
  FILE *f = fopen(path, "r");
  CHECK(f != NULL);
  if (f) {
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
  }
  CHECK_STR("MAX_DATA 100\nMAX_DATA 200\nMAX_DATA 300\n", text);
  remove(path);
  rmdir(dir);
  teardown();
}

static void test_pop_handler_poctl_depth_limit(void) {
  pop_settings st;
  pop_settings_default(&st);
  st.max_poctl_depth = 0; /* no nesting at all */
  pop_store_new(&st, &S);
  mock_init(&C);
  pop_handler_new(S, &MOCK_CALLBACKS, &C, &H);
  CHECK_INT(0, ==, attach_all(H, load_plugin(S, "poctl-callee"), true));
  CHECK_INT(1, ==, attach_all(H, load_plugin(S, "poctl-caller"), true));
  pop_val in = mock_u64(POP_VAL_U64, 1), out[1];
  pop_call_result r;
  CHECK_INT(0, ==, pop_handler_poctl(H, 1, &in, 1, out, 1, &r)); /* direct: fine */
  CHECK_INT(POP_ERR_OP, ==, pop_handler_poctl(H, 2, &in, 1, out, 1, &r)); /* nested: refused */
  CHECK_INT(1, ==, r.op_code);
  teardown();
}

static void *thread_body(void *arg) {
  pop_store *s = arg;
  mock_conn c;
  mock_init(&c);
  long ok = 1;
  for (int round = 0; round < 20; round++) {
    pop_plugin *p = load_plugin(s, round % 2 ? "basics" : "increase-max-data");
    pop_handler *h;
    if (!p || pop_handler_new(s, &MOCK_CALLBACKS, &c, &h) != 0) {
      ok = 0;
      break;
    }
    if (attach_all(h, p, true) != 0)
      ok = 0;
    pop_op op = {POP_OP_OTHER, 0, "static_memory"};
    pop_val f = mock_frame(0x10, (uint64_t)round + 5000);
    for (int i = 0; i < 50; i++)
      if ((round % 2 ? pop_handler_call(h, op, NULL, 0, NULL, 0, NULL, NULL, NULL)
                     : pop_handler_call(h, pop_op_make(POP_OP_PROCESS_FRAME, 0x10), &f, 1, NULL,
                                        0, NULL, NULL, NULL)) != 0)
        ok = 0;
    pop_handler_del(h);
  }
  return (void *)ok;
}

static void test_pop_handler_threads_share_a_store(void) {
  pop_store *s;
  pop_store_new(NULL, &s);
  pthread_t t[4];
  for (int i = 0; i < 4; i++)
    CHECK_INT(0, ==, pthread_create(&t[i], NULL, thread_body, s));
  for (int i = 0; i < 4; i++) {
    void *ok = NULL;
    pthread_join(t[i], &ok);
    CHECK(ok == (void *)1);
  }
  pop_store_del(s);
}

int main(void) {
  RUN(test_pop_handler_bare_call);
  RUN(test_pop_handler_other_op_resolved_once);
  RUN(test_pop_handler_store_compiles_once);
  RUN(test_pop_handler_static_memory_per_connection);
  RUN(test_pop_handler_inputs_outputs);
  RUN(test_pop_handler_outputs_after_memory_grew);
  RUN(test_pop_handler_increase_max_data);
  RUN(test_pop_handler_permission_denied_is_op_error);
  RUN(test_pop_handler_update_rtt_define);
  RUN(test_pop_handler_max_data_frame_pipeline);
  RUN(test_pop_handler_super_frame_two_step);
  RUN(test_pop_handler_timers);
  RUN(test_pop_handler_poctl_nested);
  RUN(test_pop_handler_two_step_enable);
  RUN(test_pop_handler_native_and_anchors);
  RUN(test_pop_handler_before_after_read_only);
  RUN(test_pop_handler_attach_errors);
  RUN(test_pop_handler_logger_after_anchor_files);
  RUN(test_pop_handler_poctl_depth_limit);
  RUN(test_pop_handler_threads_share_a_store);
  return test_report();
}
