/* hostile-putbytes: write_frame_10 appends far more than the token allows.
 * Outputs [code of the oversized put, code of a 1-byte put]. */
#include <pluginop.h>

static uint8_t junk[40000];

POP_EXPORT(init) { return pop_enable(); }

POP_EXPORT(write_frame_10) {
  const pop_bytes *b = pop_input_bytes(1);
  if (!b)
    return 1;
  pop_output_i64(pop_put_bytes(b->tag, junk, sizeof junk));
  return pop_output_i64(pop_put_bytes(b->tag, junk, 1));
}
