/* The Extism-compatible kernel through a real plugin (plugins/extism-echo) and the
 * generic call pop_plugin_call_bytes(). */
#include "mock_host.h"
#include "test.h"

static pop_store *S;
static mock_conn C;
static pop_handler *H;

static void setup(const pop_param *params, size_t n) {
  pop_store_new(NULL, &S);
  mock_init(&C);
  pop_handler_new(S, &MOCK_CALLBACKS, &C, &H);
  pop_attach_opts o;
  memset(&o, 0, sizeof o);
  o.permissions = POP_PERM_ALL;
  o.params = params;
  o.n_params = n;
  CHECK_INT(0, ==, pop_handler_attach(H, load_plugin(S, "extism-echo"), &o));
}

static void teardown(void) {
  pop_handler_del(H);
  pop_store_del(S);
}

static void test_pop_extism_bulk_copies(void) {
  setup(NULL, 0);
  uint8_t out[64];
  size_t n = 0;
  CHECK_INT(0, ==, pop_plugin_call_bytes(H, 0, "reverse", (const uint8_t *)"abcdef", 6, out,
                                         sizeof out, &n));
  CHECK_INT(6, ==, n);
  CHECK_MEM("fedcba", out, 6);
  /* Empty input, empty output. */
  CHECK_INT(0, ==, pop_plugin_call_bytes(H, 0, "reverse", NULL, 0, out, sizeof out, &n));
  CHECK_INT(0, ==, n);
  /* A large input (the kernel grows; reset keeps later calls cheap). */
  static uint8_t big[4000], rev[4000];
  for (int i = 0; i < 4000; i++)
    big[i] = (uint8_t)(i * 7);
  CHECK_INT(0, ==, pop_plugin_call_bytes(H, 0, "reverse", big, sizeof big, rev, sizeof rev, &n));
  CHECK_INT(4000, ==, n);
  CHECK_INT(big[0], ==, rev[3999]);
  CHECK_INT(big[3999], ==, rev[0]);
  teardown();
}

static void test_pop_extism_config_and_errors(void) {
  pop_param p[] = {{"greeting", "hello from the host"}};
  setup(p, 1);
  char out[64];
  size_t n = 0;
  CHECK_INT(0, ==, pop_plugin_call_bytes(H, 0, "greeting", NULL, 0, (uint8_t *)out, sizeof out, &n));
  CHECK_INT(19, ==, n);
  CHECK_MEM("hello from the host", out, 19);
  CHECK_INT(POP_ERR_OP, ==, pop_plugin_call_bytes(H, 0, "fail", NULL, 0, (uint8_t *)out, sizeof out, &n));
  CHECK_INT(9, ==, n);
  CHECK_MEM("bad input", out, 9);
  CHECK(!pop_handler_is_faulted(H, 0)); /* an error return is not a fault */
  teardown();
  setup(NULL, 0);
  CHECK_INT(POP_ERR_OP, ==, pop_plugin_call_bytes(H, 0, "greeting", NULL, 0, (uint8_t *)out, sizeof out, &n));
  CHECK_MEM("no greeting configured", out, 22);
  teardown();
}

static void test_pop_extism_vars_persist(void) {
  setup(NULL, 0);
  uint64_t v = 0;
  size_t n = 0;
  for (int i = 1; i <= 3; i++) {
    CHECK_INT(0, ==, pop_plugin_call_bytes(H, 0, "count", NULL, 0, (uint8_t *)&v, sizeof v, &n));
    CHECK_INT(8, ==, n);
    CHECK_INT(i, ==, v);
  }
  /* Another connection has its own vars. */
  pop_handler *h2;
  pop_handler_new(S, &MOCK_CALLBACKS, &C, &h2);
  CHECK_INT(0, ==, pop_handler_attach(h2, load_plugin(S, "extism-echo"), NULL));
  CHECK_INT(0, ==, pop_plugin_call_bytes(h2, 0, "count", NULL, 0, (uint8_t *)&v, sizeof v, &n));
  CHECK_INT(1, ==, v);
  pop_handler_del(h2);
  teardown();
}

int main(void) {
  RUN(test_pop_extism_bulk_copies);
  RUN(test_pop_extism_config_and_errors);
  RUN(test_pop_extism_vars_persist);
  return test_report();
}
