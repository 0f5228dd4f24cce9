/* super-frame: a new frame type 0x42 carrying one varint, negotiated with transport
 * parameter 0xAAAAAAAA (two-step loading: enabled once the peer's parameter arrives).
 * plugin_control_42 outputs [count of received frames, last value]. */
#include <pluginop.h>

#define SUPER_TP 0xaaaaaaaaull
#define SUPER_VALUE 0x42424242ull

static int sent;
static uint64_t received, last_value;

POP_EXPORT(init) {
  int rv = pop_register_tp(SUPER_TP);
  if (rv < 0)
    return rv;
  return pop_register_frame(0x42, POP_SEND_END, 1, 1, 1);
}

/* Inputs: [0] BYTES write buffer. An empty value says "supported". */
POP_EXPORT(write_transport_parameter_aaaaaaaa) { return 0; }

/* Inputs: [0] BYTES over the peer's value. */
POP_EXPORT(decode_transport_parameter_aaaaaaaa) { return pop_enable(); }

POP_EXPORT(should_send_frame_42) {
  uint64_t space;
  if (pop_input_u64(1, &space))
    return 1;
  return pop_output_bool(!sent && space == POP_PN_SPACE_APPLICATION);
}

POP_EXPORT(prepare_frame_42) {
  pop_frame f = {0x42, {SUPER_VALUE, 0, 0, 0, 0, 0}};
  return pop_output_frame(&f);
}

POP_EXPORT(wire_len_42) {
  const pop_frame *f = pop_input_frame(0);
  if (!f)
    return 1;
  return pop_output_u64((uint64_t)(pop_varint_len(0x42) + pop_varint_len(f->f[0])));
}

POP_EXPORT(write_frame_42) {
  const pop_frame *f = pop_input_frame(0);
  const pop_bytes *b = pop_input_bytes(1);
  if (!f || !b)
    return 1;
  int64_t n1 = pop_put_varint(b->tag, 0x42), n2 = pop_put_varint(b->tag, f->f[0]);
  if (n1 < 0 || n2 < 0)
    return 3;
  return pop_output_u64((uint64_t)(n1 + n2));
}

POP_EXPORT(on_frame_reserved_42) {
  sent = 1;
  return 0;
}

POP_EXPORT(notify_frame_42) {
  uint64_t lost;
  if (pop_input_u64(1, &lost) == 0 && lost)
    sent = 0;
  return 0;
}

POP_EXPORT(parse_frame_42) {
  const pop_bytes *b = pop_input_bytes(0);
  uint64_t v;
  if (!b || pop_get_varint(b->tag, &v) < 0)
    return 1;
  pop_frame f = {0x42, {v, 0, 0, 0, 0, 0}};
  return pop_output_frame(&f);
}

POP_EXPORT(process_frame_42) {
  const pop_frame *f = pop_input_frame(0);
  if (!f)
    return 1;
  received++;
  last_value = f->f[0];
  return 0;
}

POP_EXPORT(plugin_control_42) {
  pop_output_u64(received);
  return pop_output_u64(last_value);
}
