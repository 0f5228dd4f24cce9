/* Detaching plugins from a connection, and limits given to one plugin at attach. */
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
}

static pop_op other(const char *name) {
  pop_op op = {POP_OP_OTHER, 0, name};
  return op;
}

static int process_max_data(pop_handler *h, uint64_t v, pop_call_result *r) {
  pop_val f = mock_frame(0x10, v);
  return pop_handler_call(h, pop_op_make(POP_OP_PROCESS_FRAME, 0x10), &f, 1, NULL, 0, NULL,
                          NULL, r);
}

static void test_pop_detach_op_goes_back_to_native(void) {
  setup();
  CHECK_INT(0, ==, attach_all(H, load_plugin(S, "basics"), true));
  CHECK_INT(1, ==, attach_all(H, load_plugin(S, "increase-max-data"), true));
  pop_call_result r;
  CHECK_INT(0, ==, process_max_data(H, 5000, &r));
  CHECK_INT(1, ==, r.definer);
  CHECK_INT(5000, ==, C.max_tx_data);
  CHECK_INT(0, ==, pop_handler_detach(H, 1));
  CHECK(!pop_handler_is_attached(H, 1));
  CHECK(!pop_handler_wants(H, pop_op_make(POP_OP_PROCESS_FRAME, 0x10)));
  /* Nobody defines it now: no native code -> not found, and the field is untouched. */
  CHECK_INT(POP_ERR_NOT_FOUND, ==, process_max_data(H, 9000, &r));
  CHECK_INT(-2, ==, r.definer);
  CHECK_INT(5000, ==, C.max_tx_data);
  /* Plugin 0 kept its index and still works. */
  CHECK(pop_handler_is_attached(H, 0));
  CHECK_INT(0, ==, pop_handler_call(H, other("run_and_return"), NULL, 0, NULL, 0, NULL, NULL, &r));
  CHECK_INT(0, ==, r.definer);
  /* Detaching twice, or a slot that never held anything, is an argument error. */
  CHECK_INT(POP_ERR_ARG, ==, pop_handler_detach(H, 1));
  CHECK_INT(POP_ERR_ARG, ==, pop_handler_detach(H, 7));
  CHECK_INT(POP_ERR_ARG, ==, pop_handler_detach(H, -1));
  CHECK_INT(POP_ERR_ARG, ==, pop_handler_detach(NULL, 0));
  teardown();
}

static void test_pop_detach_frees_slot_for_reuse(void) {
  setup();
  pop_plugin *imd = load_plugin(S, "increase-max-data");
  CHECK_INT(0, ==, attach_all(H, imd, true));
  CHECK_INT(1, ==, attach_all(H, load_plugin(S, "basics"), true));
  CHECK_INT(0, ==, pop_handler_detach(H, 0));
  CHECK_INT(2, ==, pop_handler_plugin_count(H)); /* slot 0 free, slot 1 in use */
  CHECK(!pop_handler_is_enabled(H, 0));
  CHECK(!pop_handler_is_faulted(H, 0));
  CHECK_INT(POP_ERR_ARG, ==, pop_handler_set_enabled(H, 0, true));
  CHECK_INT(POP_ERR_ARG, ==, pop_plugin_call_bytes(H, 0, "run_and_return", NULL, 0, NULL, 0, NULL));
  /* The lowest free slot is taken first; the new instance starts fresh. */
  CHECK_INT(0, ==, attach_all(H, imd, true));
  pop_call_result r;
  CHECK_INT(0, ==, process_max_data(H, 7000, &r));
  CHECK_INT(0, ==, r.definer);
  CHECK_INT(7000, ==, C.max_tx_data);
  /* Detaching the last slot shrinks the count. */
  CHECK_INT(0, ==, pop_handler_detach(H, 1));
  CHECK_INT(1, ==, pop_handler_plugin_count(H));
  teardown();
}

static void test_pop_detach_drops_timers(void) {
  setup();
  C.now = 1000;
  CHECK_INT(0, ==, attach_all(H, load_plugin(S, "timers"), false));
  uint64_t at;
  CHECK(pop_handler_next_timer(H, &at));
  CHECK_INT(0, ==, pop_handler_detach(H, 0));
  CHECK(!pop_handler_next_timer(H, &at));
  CHECK_INT(0, ==, pop_handler_on_timeout(H, UINT64_MAX - 1));
  teardown();
}

/* A host callback that tries to detach plugin 0 while it runs. */
typedef struct detaching_conn {
  mock_conn c; /* first: the mock callbacks see a mock_conn */
  pop_handler *h;
  int rv;
} detaching_conn;

static int detaching_get_conn(void *conn, uint32_t field, uint64_t param, pop_val *out) {
  detaching_conn *d = conn;
  d->rv = pop_handler_detach(d->h, 0);
  return MOCK_CALLBACKS.get_conn(conn, field, param, out);
}

static void test_pop_detach_refused_during_a_call(void) {
  pop_store_new(NULL, &S);
  detaching_conn d;
  mock_init(&d.c);
  d.rv = 1;
  pop_callbacks cb = MOCK_CALLBACKS;
  cb.get_conn = detaching_get_conn;
  CHECK_INT(0, ==, pop_handler_new(S, &cb, &d, &H));
  d.h = H;
  CHECK_INT(0, ==, attach_all(H, load_plugin(S, "increase-max-data"), true));
  pop_call_result r;
  CHECK_INT(0, ==, process_max_data(H, 4000, &r)); /* the plugin reads MAX_TX_DATA */
  CHECK_INT(POP_ERR_DISABLED, ==, d.rv);
  CHECK_INT(4000, ==, d.c.max_tx_data);
  CHECK(pop_handler_is_attached(H, 0));
  CHECK_INT(0, ==, pop_handler_detach(H, 0)); /* idle again: allowed */
  teardown();
}

static void test_pop_attach_limits_per_plugin(void) {
  setup();
  pop_plugin *basics = load_plugin(S, "basics");
  pop_attach_opts o;
  memset(&o, 0, sizeof o);
  o.permissions = POP_PERM_ALL;
  o.enable = true;
  o.fuel_per_call = 1; /* static_memory needs a few instructions */
  CHECK_INT(0, ==, pop_handler_attach(H, basics, &o));
  pop_call_result r;
  CHECK_INT(POP_ERR_NOT_FOUND, ==,
            pop_handler_call(H, other("static_memory"), NULL, 0, NULL, 0, NULL, NULL, &r));
  CHECK_INT(1, ==, r.faults);
  CHECK(pop_handler_is_faulted(H, 0));
  const pop_fault *f = pop_handler_last_fault(H);
  CHECK(f != NULL && strstr(f->why, "fuel") != NULL);
  /* The same plugin with the store's limits runs. */
  CHECK_INT(1, ==, attach_all(H, basics, true));
  CHECK_INT(0, ==, pop_handler_call(H, other("static_memory"), NULL, 0, NULL, 0, NULL, NULL, &r));
  CHECK_INT(1, ==, r.definer);
  teardown();

  /* Memory: one page for this plugin (its initial size), so growing is refused, while
   * the store's default lets another instance grow. */
  setup();
  basics = load_plugin(S, "basics");
  memset(&o, 0, sizeof o);
  o.permissions = POP_PERM_ALL;
  o.enable = true;
  o.max_memory_pages = 1;
  CHECK_INT(0, ==, pop_handler_attach(H, basics, &o));
  pop_val out[1];
  CHECK_INT(0, ==, pop_handler_call(H, other("grow_then_output"), NULL, 0, out, 1, NULL, NULL, &r));
  CHECK_INT(1, ==, r.n_outputs);
  CHECK(out[0].u.u64 == UINT64_MAX); /* memory.grow returned -1 */
  pop_handler_detach(H, 0);
  CHECK_INT(0, ==, attach_all(H, basics, true));
  CHECK_INT(0, ==, pop_handler_call(H, other("grow_then_output"), NULL, 0, out, 1, NULL, NULL, &r));
  CHECK_INT(1, ==, out[0].u.u64); /* grew from its initial page */
  teardown();
}

int main(void) {
  RUN(test_pop_detach_op_goes_back_to_native);
  RUN(test_pop_detach_frees_slot_for_reuse);
  RUN(test_pop_detach_drops_timers);
  RUN(test_pop_detach_refused_during_a_call);
  RUN(test_pop_attach_limits_per_plugin);
  return test_report();
}
