/* max-data-frame: the whole frame pipeline of MAX_DATA (0x10) in a plugin.
 * Sending: should_send -> prepare -> wire_len -> write -> on_frame_reserved (and
 * notify when acked or lost). Receiving: parse -> process.
 * Parameter "window" (decimal, default 1000000): how far ahead of the bytes received we
 * let the peer send; a new MAX_DATA goes out when less than half of it is left. */
#include <pluginop.h>

static uint64_t window = 1000000;
static int resend;

static uint64_t parse_dec(const char *s) {
  uint64_t v = 0;
  for (; *s >= '0' && *s <= '9'; s++)
    v = v * 10 + (uint64_t)(*s - '0');
  return v;
}

POP_EXPORT(init) {
  char buf[24];
  if (pop_param("window", buf, sizeof buf) > 0 && parse_dec(buf) > 0)
    window = parse_dec(buf);
  int rv = pop_register_frame(0x10, POP_SEND_AFTER_ACK, 1, 1, 1);
  if (rv < 0)
    return rv;
  return pop_enable();
}

/* Inputs: [0] PKT_TYPE, [1] PN_SPACE, [2] BOOL closing, [3] U64 bytes left. */
POP_EXPORT(should_send_frame_10) {
  uint64_t rx, max_rx, space, closing;
  if (pop_input_u64(1, &space) || pop_input_u64(2, &closing))
    return 1;
  if (pop_conn_get_u64(POP_CONN_RX_DATA, 0, &rx) || pop_conn_get_u64(POP_CONN_MAX_RX_DATA, 0, &max_rx))
    return 2;
  int send = space == POP_PN_SPACE_APPLICATION && !closing &&
             (resend || max_rx < rx + window / 2);
  return pop_output_bool(send);
}

/* Inputs: [0] PN_SPACE, [1] U64 bytes left. */
POP_EXPORT(prepare_frame_10) {
  uint64_t rx;
  if (pop_conn_get_u64(POP_CONN_RX_DATA, 0, &rx))
    return 2;
  pop_frame f = {0x10, {rx + window, 0, 0, 0, 0, 0}};
  return pop_output_frame(&f);
}

POP_EXPORT(wire_len_10) {
  const pop_frame *f = pop_input_frame(0);
  if (!f)
    return 1;
  return pop_output_u64((uint64_t)(1 + pop_varint_len(f->f[0])));
}

/* Inputs: [0] FRAME, [1] BYTES write buffer. */
POP_EXPORT(write_frame_10) {
  const pop_frame *f = pop_input_frame(0);
  const pop_bytes *b = pop_input_bytes(1);
  if (!f || !b)
    return 1;
  int64_t n1 = pop_put_varint(b->tag, 0x10), n2 = pop_put_varint(b->tag, f->f[0]);
  if (n1 < 0 || n2 < 0)
    return 3;
  return pop_output_u64((uint64_t)(n1 + n2));
}

POP_EXPORT(on_frame_reserved_10) {
  const pop_frame *f = pop_input_frame(0);
  if (!f)
    return 1;
  resend = 0;
  return pop_conn_set_u64(POP_CONN_MAX_RX_DATA, 0, f->f[0]);
}

/* Inputs: [0] FRAME, [1] BOOL lost. */
POP_EXPORT(notify_frame_10) {
  uint64_t lost;
  if (pop_input_u64(1, &lost))
    return 1;
  if (lost)
    resend = 1;
  return 0;
}

/* Inputs: [0] BYTES over the payload after the type, [1] PKT_TYPE. */
POP_EXPORT(parse_frame_10) {
  const pop_bytes *b = pop_input_bytes(0);
  uint64_t max;
  if (!b)
    return 1;
  int rv = pop_get_varint(b->tag, &max);
  if (rv < 0)
    return rv;
  pop_frame f = {0x10, {max, 0, 0, 0, 0, 0}};
  return pop_output_frame(&f);
}

POP_EXPORT(process_frame_10) {
  const pop_frame *f = pop_input_frame(0);
  uint64_t cur;
  if (!f)
    return 1;
  if (pop_conn_get_u64(POP_CONN_MAX_TX_DATA, 0, &cur))
    return 2;
  if (f->f[0] > cur)
    return pop_conn_set_u64(POP_CONN_MAX_TX_DATA, 0, f->f[0]);
  return 0;
}
