/* Hostile plugins (plugins/hostile/): each is contained with a clear error; the host,
 * its native code and the other plugins go on. */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mock_host.h"
#include "test.h"

static pop_store *S;
static mock_conn C;
static pop_handler *H;

static void setup_with(const pop_settings *st) {
  pop_store_new(st, &S);
  mock_init(&C);
  pop_handler_new(S, &MOCK_CALLBACKS, &C, &H);
}

static void setup(void) {
  pop_settings st;
  pop_settings_default(&st);
  st.fuel_per_call = 2000000; /* keep the infinite loop short */
  setup_with(&st);
}

static void teardown(void) {
  pop_handler_del(H);
  pop_store_del(S);
}

static int64_t native_count(void *arg, pop_op op, const pop_val *in, size_t n_in, pop_val *out,
                            size_t max_out, size_t *n_out) {
  (*(int *)arg)++;
  return 0;
}

/* Attaches |hostile| then increase-max-data; calls process_frame_10 twice: the first
 * call faults the hostile plugin (native code runs instead), the second goes to
 * increase-max-data. Checks the fault names the plugin, the op, and |why|. */
static void contained(const char *hostile, const char *why) {
  setup();
  CHECK_INT(0, ==, attach_all(H, load_plugin(S, hostile), true));
  CHECK_INT(1, ==, attach_all(H, load_plugin(S, "increase-max-data"), true));
  pop_val f = mock_frame(0x10, 5000);
  int native = 0;
  pop_call_result r;
  CHECK_INT(0, ==, pop_handler_call(H, pop_op_make(POP_OP_PROCESS_FRAME, 0x10), &f, 1, NULL, 0,
                                    native_count, &native, &r));
  CHECK_INT(1, ==, r.faults);
  CHECK_INT(-1, ==, r.definer);
  CHECK_INT(1, ==, native);
  CHECK(pop_handler_is_faulted(H, 0));
  CHECK_INT(1, ==, C.n_faults);
  CHECK_STR(hostile, C.faults[0].plugin);
  CHECK_STR("process_frame_10", C.faults[0].op);
  if (!strstr(C.faults[0].why, why)) {
    fprintf(stderr, "  %s: why \"%s\", expected \"%s\"\n", hostile, C.faults[0].why, why);
    test_current_failed = 1;
  }
  const pop_fault *lf = pop_handler_last_fault(H);
  CHECK(lf && strcmp(lf->plugin, hostile) == 0);
  /* The other plugin now defines the op. */
  CHECK_INT(0, ==, pop_handler_call(H, pop_op_make(POP_OP_PROCESS_FRAME, 0x10), &f, 1, NULL, 0,
                                    native_count, &native, &r));
  CHECK_INT(1, ==, r.definer);
  CHECK_INT(0, ==, r.faults);
  CHECK_INT(5000, ==, C.max_tx_data);
  /* A faulted plugin stays disabled. */
  CHECK_INT(POP_ERR_DISABLED, ==, pop_handler_set_enabled(H, 0, true));
  teardown();
}

static void test_pop_hostile_infinite_loop(void) { contained("hostile-loop", "out of fuel"); }

static void test_pop_hostile_deadline(void) {
  pop_settings st;
  pop_settings_default(&st);
  st.fuel_per_call = 0; /* unlimited: only the deadline stops it */
  st.timeout_ns = 20000000;
  setup_with(&st);
  CHECK_INT(0, ==, attach_all(H, load_plugin(S, "hostile-loop"), true));
  pop_val f = mock_frame(0x10, 1);
  int native = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK_INT(0, ==, pop_handler_call(H, pop_op_make(POP_OP_PROCESS_FRAME, 0x10), &f, 1, NULL, 0,
                                    native_count, &native, NULL));
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  CHECK(dt < 2.0);
  CHECK_INT(1, ==, native);
  CHECK(C.n_faults == 1 && strstr(C.faults[0].why, "deadline"));
  teardown();
}

static void test_pop_hostile_memory_bomb(void) { contained("hostile-membomb", "unreachable"); }

static void test_pop_hostile_deep_recursion(void) {
  contained("hostile-recursion", "call stack exhausted");
}

static void test_pop_hostile_bad_pointers_every_function(void) {
  setup();
  CHECK_INT(0, ==, attach_all(H, load_plugin(S, "hostile-badptr"), true));
  pop_val in = mock_bytes(1, 1 << 20, 1 << 20);
  pop_val out[16];
  pop_call_result r;
  CHECK_INT(0, ==, pop_handler_poctl(H, 0, &in, 1, out, 16, &r));
  CHECK_INT(16, ==, r.n_outputs);
  for (int i = 0; i < 16; i++) {
    if ((int64_t)out[i].u.u64 != POP_E_BOUNDS) {
      fprintf(stderr, "  function #%d returned %lld\n", i, (long long)out[i].u.u64);
      test_current_failed = 1;
    }
  }
  CHECK(!pop_handler_is_faulted(H, 0));
  CHECK_INT(0, ==, C.n_faults);
  CHECK_INT(0, ==, C.buf[0].len);
  teardown();
}

static void test_pop_hostile_path_escape(void) {
  char root[] = "/tmp/pop_escape_XXXXXX";
  CHECK(mkdtemp(root) != NULL);
  char box[64], link[96], cmd[128];
  snprintf(box, sizeof box, "%s/box", root);
  mkdir(box, 0700);
  snprintf(link, sizeof link, "%s/link", box);
  CHECK_INT(0, ==, symlink(root, link));
  setup();
  pop_attach_opts o;
  memset(&o, 0, sizeof o);
  o.permissions = POP_PERM_ALL;
  o.enable = true;
  o.file_dir = box;
  CHECK_INT(0, ==, pop_handler_attach(H, load_plugin(S, "hostile-escape"), &o));
  pop_val out[6];
  pop_call_result r;
  CHECK_INT(0, ==, pop_handler_poctl(H, 0, NULL, 0, out, 6, &r));
  CHECK_INT(6, ==, r.n_outputs);
  for (int i = 0; i < 4; i++)
    CHECK_INT(POP_E_PATH, ==, (int64_t)out[i].u.u64);
  CHECK_INT(0, ==, (int64_t)out[4].u.u64);
  CHECK_INT(2, ==, (int64_t)out[5].u.u64);
  teardown();
  char p[128];
  snprintf(p, sizeof p, "%s/escape", root);
  CHECK(access(p, F_OK) != 0);
  snprintf(p, sizeof p, "%s/x", root);
  CHECK(access(p, F_OK) != 0);
  snprintf(p, sizeof p, "%s/ok.txt", box);
  CHECK(access(p, F_OK) == 0);
  CHECK(access("/tmp/pop-escape", F_OK) != 0);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  CHECK_INT(0, ==, system(cmd));
}

static void test_pop_hostile_oversized_put_bytes(void) {
  setup();
  CHECK_INT(0, ==, attach_all(H, load_plugin(S, "hostile-putbytes"), true));
  pop_val in[2] = {mock_frame(0x10, 1), mock_bytes(1, 0, 100)};
  pop_val out[2];
  pop_call_result r;
  CHECK_INT(0, ==, pop_handler_call(H, pop_op_make(POP_OP_WRITE_FRAME, 0x10), in, 2, out, 2,
                                    NULL, NULL, &r));
  CHECK_INT(POP_E_BUFFER, ==, (int64_t)out[0].u.u64);
  CHECK_INT(1, ==, (int64_t)out[1].u.u64);
  CHECK_INT(1, ==, C.buf[0].len);
  /* The per-call cap applies even to a generous token. */
  C.buf[0].len = 0;
  in[1] = mock_bytes(1, 0, 1 << 30);
  CHECK_INT(0, ==, pop_handler_call(H, pop_op_make(POP_OP_WRITE_FRAME, 0x10), in, 2, out, 2,
                                    NULL, NULL, &r));
  CHECK_INT(POP_E_BUFFER, ==, (int64_t)out[0].u.u64); /* 40000 < 65536 but > buffer */
  teardown();
}

/* One trapping anchor of process_frame_10 in plugin 0, a well-behaved copy as plugin 1. */
static void trap_in(const char *anchor, int expect_definer, uint64_t c0, uint64_t c1,
                    uint64_t c2, int expect_native) {
  setup();
  pop_plugin *p = load_plugin(S, "hostile-trapper");
  pop_param bad[] = {{"trap", anchor}}, good[] = {{"trap", "none"}};
  pop_attach_opts o;
  memset(&o, 0, sizeof o);
  o.permissions = POP_PERM_ALL;
  o.enable = true;
  o.params = bad;
  o.n_params = 1;
  CHECK_INT(0, ==, pop_handler_attach(H, p, &o));
  o.params = good;
  CHECK_INT(1, ==, pop_handler_attach(H, p, &o));
  pop_val f = mock_frame(0x10, 1);
  int native = 0;
  pop_call_result r;
  CHECK_INT(0, ==, pop_handler_call(H, pop_op_make(POP_OP_PROCESS_FRAME, 0x10), &f, 1, NULL, 0,
                                    native_count, &native, &r));
  CHECK_INT(1, ==, r.faults);
  CHECK_INT(expect_definer, ==, r.definer);
  CHECK_INT(expect_native, ==, native);
  CHECK(pop_handler_is_faulted(H, 0));
  CHECK(!pop_handler_is_faulted(H, 1));
  char op[32];
  snprintf(op, sizeof op, "%sprocess_frame_10",
           strcmp(anchor, "before") == 0 ? "pre_" : strcmp(anchor, "after") == 0 ? "post_" : "");
  CHECK_STR(op, C.faults[0].op);
  CHECK(strstr(C.faults[0].why, "unreachable") != NULL);
  pop_val out[3];
  CHECK_INT(0, ==, pop_handler_poctl(H, 0, NULL, 0, out, 3, &r));
  CHECK_INT(1, ==, r.definer); /* plugin 0 is disabled: plugin 1 answers */
  CHECK_INT(c0, ==, out[0].u.u64);
  CHECK_INT(c1, ==, out[1].u.u64);
  CHECK_INT(c2, ==, out[2].u.u64);
  teardown();
}

static void test_pop_hostile_trap_in_each_anchor(void) {
  trap_in("before", 1, 1, 1, 1, 0); /* plugin 1 defines */
  trap_in("define", -1, 1, 0, 1, 1); /* the native code takes over */
  trap_in("after", 0, 1, 0, 1, 0);  /* plugin 0 defined before trapping after */
}

static void test_pop_hostile_calls_without_permission(void) {
  setup();
  pop_attach_opts o;
  memset(&o, 0, sizeof o);
  o.permissions = POP_PERM_OUTPUT;
  o.enable = true;
  CHECK_INT(0, ==, pop_handler_attach(H, load_plugin(S, "hostile-noperm"), &o));
  pop_val out[6];
  pop_call_result r;
  CHECK_INT(0, ==, pop_handler_poctl(H, 0, NULL, 0, out, 6, &r));
  CHECK_INT(6, ==, r.n_outputs);
  for (int i = 0; i < 6; i++)
    CHECK_INT(POP_E_PERM, ==, (int64_t)out[i].u.u64);
  CHECK_INT(1000, ==, C.max_tx_data);
  CHECK_INT(0, ==, C.n_frames);
  CHECK(!pop_handler_next_timer(H, NULL));
  /* Without the output permission, outputs are dropped. */
  pop_handler_del(H);
  pop_handler_new(S, &MOCK_CALLBACKS, &C, &H);
  o.permissions = 0;
  CHECK_INT(0, ==, pop_handler_attach(H, load_plugin(S, "hostile-noperm"), &o));
  CHECK_INT(0, ==, pop_handler_poctl(H, 0, NULL, 0, out, 6, &r));
  CHECK_INT(0, ==, r.n_outputs);
  teardown();
}

static void forged(const char *fn, const char *why) {
  setup();
  CHECK_INT(0, ==, attach_all(H, load_plugin(S, "hostile-forged"), true));
  CHECK_INT(1, ==, attach_all(H, load_plugin(S, "basics"), true));
  uint8_t out[64];
  size_t n = 99;
  CHECK_INT(POP_ERR_FAULT, ==, pop_plugin_call_bytes(H, 0, fn, NULL, 0, out, sizeof out, &n));
  CHECK(pop_handler_is_faulted(H, 0));
  CHECK_STR(fn, C.faults[0].op);
  if (!strstr(C.faults[0].why, why)) {
    fprintf(stderr, "  %s: why \"%s\"\n", fn, C.faults[0].why);
    test_current_failed = 1;
  }
  /* The host and the other plugin go on. */
  CHECK_INT(0, ==, pop_handler_call(H, (pop_op){POP_OP_OTHER, 0, "run_and_return"}, NULL, 0,
                                    NULL, 0, NULL, NULL, NULL));
  teardown();
}

static void test_pop_hostile_forged_kernel_handles(void) {
  forged("forge_free", "extism kernel: free: not a live block handle");
  forged("forge_store", "extism kernel: store_u64: out of bounds or on a block header");
  forged("forge_load", "extism kernel: load_u64: out of bounds");
}

static void test_pop_hostile_kernel_honest_call_works(void) {
  setup();
  CHECK_INT(0, ==, attach_all(H, load_plugin(S, "hostile-forged"), true));
  uint8_t out[64];
  size_t n = 0;
  CHECK_INT(0, ==, pop_plugin_call_bytes(H, 0, "honest", (const uint8_t *)"hello kernel", 12,
                                         out, sizeof out, &n));
  CHECK_INT(12, ==, n);
  CHECK_MEM("hello kernel", out, 12);
  /* Output longer than the buffer: length reported, prefix copied. */
  CHECK_INT(0, ==, pop_plugin_call_bytes(H, 0, "honest", (const uint8_t *)"0123456789", 10,
                                         out, 4, &n));
  CHECK_INT(10, ==, n);
  CHECK_MEM("0123", out, 4);
  CHECK_INT(POP_ERR_NOT_FOUND, ==, pop_plugin_call_bytes(H, 0, "nope", NULL, 0, out, 4, &n));
  CHECK_INT(POP_ERR_ARG, ==, pop_plugin_call_bytes(H, 5, "honest", NULL, 0, out, 4, &n));
  teardown();
}

static void bad_output(uint64_t id, const char *why) {
  setup();
  CHECK_INT(0, ==, attach_all(H, load_plugin(S, "hostile-badoutput"), true));
  pop_val out[4];
  pop_call_result r;
  memset(out, 0, sizeof out);
  CHECK_INT(POP_ERR_NOT_FOUND, ==, pop_handler_poctl(H, id, NULL, 0, out, 4, &r));
  CHECK_INT(1, ==, r.faults);
  CHECK_INT(0, ==, out[0].type); /* nothing copied */
  CHECK(C.n_faults == 1 && strstr(C.faults[0].why, why) != NULL);
  teardown();
}

static void test_pop_hostile_bad_outputs(void) {
  bad_output(0, "too many outputs");
  bad_output(1, "unknown value type");
}

int main(void) {
  RUN(test_pop_hostile_infinite_loop);
  RUN(test_pop_hostile_deadline);
  RUN(test_pop_hostile_memory_bomb);
  RUN(test_pop_hostile_deep_recursion);
  RUN(test_pop_hostile_bad_pointers_every_function);
  RUN(test_pop_hostile_path_escape);
  RUN(test_pop_hostile_oversized_put_bytes);
  RUN(test_pop_hostile_trap_in_each_anchor);
  RUN(test_pop_hostile_calls_without_permission);
  RUN(test_pop_hostile_forged_kernel_handles);
  RUN(test_pop_hostile_kernel_honest_call_works);
  RUN(test_pop_hostile_bad_outputs);
  return test_report();
}
