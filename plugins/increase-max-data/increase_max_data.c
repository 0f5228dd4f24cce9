/* increase-max-data: Define code of ProcessFrame(0x10, MAX_DATA): raises the connection's
 * send limit (MAX_TX_DATA) to the frame's maximum if it is larger. */
#include <pluginop.h>

POP_EXPORT(init) { return pop_enable(); }

POP_EXPORT(process_frame_10) {
  const pop_frame *f = pop_input_frame(0);
  uint64_t cur;
  if (!f)
    return 1;
  int rv = pop_conn_get_u64(POP_CONN_MAX_TX_DATA, 0, &cur);
  if (rv < 0)
    return rv;
  if (f->f[0] > cur)
    return pop_conn_set_u64(POP_CONN_MAX_TX_DATA, 0, f->f[0]);
  return 0;
}
