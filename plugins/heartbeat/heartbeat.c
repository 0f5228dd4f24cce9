/* heartbeat: a frame of its own (type 0x3e, one varint: a sequence number) sent every
 * "period_ms" milliseconds (decimal, default 100) from a plugin timer, even on an idle
 * connection. Negotiated with transport parameter 0x4842 (two-step: enabled, and the
 * timer started, when the peer announces it). plugin_control_0 outputs
 * [heartbeats sent, heartbeats received, last sequence number received]. */
#include <pluginop.h>

#define HB_FRAME 0x3e
#define HB_TP 0x4842
#define MS 1000000ull

static uint64_t period = 100 * MS, seq, sent, received, last;
static int pending;

static uint64_t parse_dec(const char *s) {
  uint64_t v = 0;
  for (; *s >= '0' && *s <= '9'; s++)
    v = v * 10 + (uint64_t)(*s - '0');
  return v;
}

POP_EXPORT(init) {
  char buf[12];
  if (pop_param("period_ms", buf, sizeof buf) > 0 && parse_dec(buf) > 0)
    period = parse_dec(buf) * MS;
  if (pop_register_tp(HB_TP) < 0)
    return 1;
  return pop_register_frame(HB_FRAME, POP_SEND_END, 1, 1, 1) < 0 ? 2 : 0;
}

POP_EXPORT(write_transport_parameter_4842) { return 0; }

POP_EXPORT(decode_transport_parameter_4842) {
  pop_enable();
  return pop_set_timer(pop_now() + period, 1, 1) < 0 ? 1 : 0;
}

POP_EXPORT(on_plugin_timeout_1) {
  pending = 1;
  return pop_set_timer(pop_now() + period, 1, 1) < 0 ? 1 : 0;
}

/* Inputs: [0] PKT_TYPE, [1] PN_SPACE, [2] BOOL closing, [3] U64 bytes left. */
POP_EXPORT(should_send_frame_3e) {
  uint64_t space, closing;
  if (pop_input_u64(1, &space) || pop_input_u64(2, &closing))
    return 1;
  return pop_output_bool(pending && !closing && space == POP_PN_SPACE_APPLICATION);
}

POP_EXPORT(prepare_frame_3e) {
  pop_frame f = {HB_FRAME, {seq, 0, 0, 0, 0, 0}};
  return pop_output_frame(&f);
}

POP_EXPORT(wire_len_3e) {
  const pop_frame *f = pop_input_frame(0);
  if (!f)
    return 1;
  return pop_output_u64((uint64_t)(1 + pop_varint_len(f->f[0])));
}

POP_EXPORT(write_frame_3e) {
  const pop_frame *f = pop_input_frame(0);
  const pop_bytes *b = pop_input_bytes(1);
  if (!f || !b)
    return 1;
  int64_t n1 = pop_put_varint(b->tag, HB_FRAME), n2 = pop_put_varint(b->tag, f->f[0]);
  if (n1 < 0 || n2 < 0)
    return 3;
  return pop_output_u64((uint64_t)(n1 + n2));
}

POP_EXPORT(on_frame_reserved_3e) {
  pending = 0;
  seq++;
  sent++;
  return 0;
}

/* A lost heartbeat is not repeated: the next one comes with the timer. */
POP_EXPORT(notify_frame_3e) { return 0; }

POP_EXPORT(parse_frame_3e) {
  const pop_bytes *b = pop_input_bytes(0);
  uint64_t v;
  if (!b || pop_get_varint(b->tag, &v) < 0)
    return 1;
  pop_frame f = {HB_FRAME, {v, 0, 0, 0, 0, 0}};
  return pop_output_frame(&f);
}

POP_EXPORT(process_frame_3e) {
  const pop_frame *f = pop_input_frame(0);
  if (!f)
    return 1;
  received++;
  last = f->f[0];
  return 0;
}

POP_EXPORT(plugin_control_0) {
  pop_output_u64(sent);
  pop_output_u64(received);
  return pop_output_u64(last);
}
