/* Fuzz target: arbitrary modules through the plugin runtime. Loads the bytes; if they
 * load, attaches them with every permission on a mock host and calls every op the plugin
 * provides (inputs include frames and bytes tokens), plugin controls 0-3, timers, and
 * the Extism-style call. Nothing may crash; faults are fine. */
#include "mock_host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const pop_op_kind KINDS[] = {
    POP_OP_PROCESS_FRAME, POP_OP_PARSE_FRAME,  POP_OP_WRITE_FRAME, POP_OP_PREPARE_FRAME,
    POP_OP_WIRE_LEN,      POP_OP_SHOULD_SEND_FRAME, POP_OP_ON_FRAME_RESERVED,
    POP_OP_NOTIFY_FRAME,  POP_OP_DECODE_TRANSPORT_PARAMETER, POP_OP_UPDATE_RTT,
    POP_OP_ON_PACKET_SENT};
static const uint64_t PARAMS[] = {0x10, 0x42, 0xaaaaaaaa, 0xff04de1b, 0};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  pop_settings st;
  pop_settings_default(&st);
  st.fuel_per_call = 100000;
  st.max_memory_pages = 4;
  pop_store *s;
  if (pop_store_new(&st, &s) != 0)
    return 0;
  pop_plugin *p;
  if (pop_store_load_bytes(s, "fuzz", data, size, &p, NULL, 0) == 0) {
    mock_conn c;
    mock_init(&c);
    pop_handler *h;
    pop_handler_new(s, &MOCK_CALLBACKS, &c, &h);
    pop_param prm[] = {{"window", "1000"}, {"trap", "none"}};
    pop_attach_opts o;
    memset(&o, 0, sizeof o);
    o.permissions = POP_PERM_ALL & ~(uint32_t)POP_PERM_FILE;
    o.enable = true;
    o.params = prm;
    o.n_params = 2;
    if (pop_handler_attach(h, p, &o) >= 0) {
      pop_val in[5] = {mock_frame(0x10, 1000), mock_bytes(1, 64, 64),
                       mock_u64(POP_VAL_PN_SPACE, 2), mock_u64(POP_VAL_U64, 1200),
                       mock_u64(POP_VAL_INSTANT, 0)};
      pop_val out[POP_MAX_OUTPUTS];
      c.buf[0].len = 32;
      for (size_t k = 0; k < sizeof KINDS / sizeof KINDS[0]; k++)
        for (size_t q = 0; q < sizeof PARAMS / sizeof PARAMS[0]; q++)
          pop_handler_call(h, pop_op_make(KINDS[k], PARAMS[q]), in, 5, out, POP_MAX_OUTPUTS,
                           NULL, NULL, NULL);
      for (uint64_t id = 0; id < 4; id++)
        pop_handler_poctl(h, id, in, 2, out, POP_MAX_OUTPUTS, NULL);
      uint64_t at;
      if (pop_handler_next_timer(h, &at))
        pop_handler_on_timeout(h, at);
      uint8_t ob[64];
      size_t ol;
      pop_plugin_call_bytes(h, 0, "honest", (const uint8_t *)"abc", 3, ob, sizeof ob, &ol);
    }
    pop_handler_del(h);
  }
  pop_store_del(s);
  return 0;
}
