/*
 * Suite "plugins": the plugin runtime, with the same names as pluginop's published
 * micro-benchmarks (REFERENCE.md section 1). Each line: NAME MEDIAN ns.
 *
 *   run-and-return     one call of an op whose Define code returns at once (an `other`
 *                      op resolved once with pop_store_other_op, as a host would)
 *   run-and-return-by-name  the same op named by a string at each call
 *   static-memory      same, the code increments a static variable
 *   input-outputs      three inputs echoed as three outputs
 *   increase-max-data  process_frame_10: read + conditional write of a connection field
 *   load-plugin-cold   new store: hash + compile + new handler + instantiate + init
 *   load-plugin-cold-max  the same for each example plugin (indented lines), the slowest
 *   load-plugin-warm   cached plugin: hash + new handler + instantiate + init
 *   first-pluginop     warm load, then the first process_frame_10
 *   max-data-native    MAX_DATA send + receive in C (should_send .. process)
 *   max-data-hooks     the same pipeline in C, each step dispatched through
 *                      pop_handler_call with no plugin interested (a pluginized stack
 *                      running natively)
 *   max-data-wasm      the same pipeline through the max-data-frame plugin (7 calls)
 *   super-frame        frame 0x42 send + receive through the super-frame plugin
 * and one memory line: instance-rss KiB per instance over 10,000 handlers with a plugin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "mock_host.h"

typedef struct bctx {
  pop_store *store;
  pop_op rr, sm, io; /* run_and_return, static_memory, inputs_outputs, resolved once */
  mock_conn conn, peer;
  pop_handler *h, *hp;
  uint8_t *bytes;
  size_t len;
  const char *name;
  int fails;
} bctx;

/* Runs |fn| |iters| times per run; returns the median ns per iteration. */
static double median_ns(const bench_opts *o, uint32_t iters, bctx *b, int (*fn)(bctx *)) {
  double *samples = calloc((size_t)o->runs, sizeof *samples);
  uint32_t n = (uint32_t)(iters * o->scale) + 1;
  for (int r = -1; r < o->runs; r++) {
    uint64_t t0 = bench_now_ns();
    for (uint32_t i = 0; i < n; i++)
      if (fn(b) != 0)
        b->fails++;
    if (r >= 0)
      samples[r] = (double)(bench_now_ns() - t0) / n;
  }
  double m = bench_median(samples, (size_t)o->runs);
  free(samples);
  return m;
}

/* Runs |fn| |iters| times per run; prints the median ns per iteration. */
static void timed(const char *name, const bench_opts *o, uint32_t iters, bctx *b,
                  int (*fn)(bctx *)) {
  if (o->only && strcmp(o->only, name) != 0)
    return;
  printf("%-22s %10.1f ns\n", name, median_ns(o, iters, b, fn));
  fflush(stdout);
}

static int call_other(bctx *b, const char *name, const pop_val *in, size_t n, pop_val *out,
                      size_t max) {
  pop_op op = {POP_OP_OTHER, 0, name};
  return pop_handler_call(b->h, op, in, n, out, max, NULL, NULL, NULL);
}

/* As a host calls an `other` op it uses often: resolved once (pop_store_other_op). */
static int b_run_and_return(bctx *b) {
  return pop_handler_call(b->h, b->rr, NULL, 0, NULL, 0, NULL, NULL, NULL);
}
/* The same op named by a string each time (one strcmp per call). */
static int b_run_and_return_by_name(bctx *b) {
  return call_other(b, "run_and_return", NULL, 0, NULL, 0);
}
static int b_static_memory(bctx *b) {
  return pop_handler_call(b->h, b->sm, NULL, 0, NULL, 0, NULL, NULL, NULL);
}

static int b_input_outputs(bctx *b) {
  pop_val in[3] = {mock_u64(POP_VAL_U64, 1), mock_frame(0x10, 2), mock_u64(POP_VAL_DURATION, 3)};
  pop_val out[3];
  return pop_handler_call(b->h, b->io, in, 3, out, 3, NULL, NULL, NULL);
}

static int b_increase_max_data(bctx *b) {
  pop_val f = mock_frame(0x10, b->conn.max_tx_data + 1);
  return pop_handler_call(b->h, pop_op_make(POP_OP_PROCESS_FRAME, 0x10), &f, 1, NULL, 0, NULL,
                          NULL, NULL);
}

static int load_attach(bctx *b, pop_store *s, bool first_call) {
  pop_plugin *p;
  pop_handler *h;
  if (pop_store_load_bytes(s, b->name, b->bytes, b->len, &p, NULL, 0) != 0 ||
      pop_handler_new(s, &MOCK_CALLBACKS, &b->conn, &h) != 0)
    return -1;
  int rv = attach_all(h, p, true) < 0 ? -1 : 0;
  if (rv == 0 && first_call)
    rv = b_increase_max_data(&(bctx){.h = h, .conn = b->conn});
  pop_handler_del(h);
  return rv;
}

static int b_load_cold(bctx *b) {
  pop_store *s;
  if (pop_store_new(NULL, &s) != 0)
    return -1;
  int rv = load_attach(b, s, false);
  pop_store_del(s);
  return rv;
}
static int b_load_warm(bctx *b) { return load_attach(b, b->store, false); }
static int b_first_pluginop(bctx *b) { return load_attach(b, b->store, true); }

/* ---- MAX_DATA pipeline: natively ---- */

static int varint_put(mock_buf *buf, uint64_t v) {
  int n = v < 64 ? 1 : v < 16384 ? 2 : v < 1073741824 ? 4 : 8;
  for (int i = n - 1; i >= 0; i--, v >>= 8)
    buf->data[buf->len + (size_t)i] = (uint8_t)v;
  buf->data[buf->len] |= (uint8_t)((n == 1 ? 0 : n == 2 ? 1 : n == 4 ? 2 : 3) << 6);
  buf->len += (size_t)n;
  return n;
}

static int varint_get(mock_buf *buf, uint64_t *v) {
  if (buf->rpos >= buf->len)
    return -1;
  size_t n = (size_t)1 << (buf->data[buf->rpos] >> 6);
  if (n > buf->len - buf->rpos)
    return -1;
  uint64_t x = buf->data[buf->rpos] & 0x3f;
  for (size_t i = 1; i < n; i++)
    x = (x << 8) | buf->data[buf->rpos + i];
  buf->rpos += n;
  *v = x;
  return 0;
}

/* Volatile parameters keep the compiler from folding the native path away. */
static volatile uint64_t window = 1000;

static int b_max_data_native(bctx *b) {
  mock_conn *c = &b->conn, *p = &b->peer;
  c->rx_data += window; /* data came in: a new MAX_DATA is due */
  if (!(c->max_rx_data < c->rx_data + window / 2))
    return -1;
  uint64_t max = c->rx_data + window;
  mock_buf *out = &c->buf[0];
  out->len = 0;
  int wl = 1 + (max < 64 ? 1 : max < 16384 ? 2 : max < 1073741824 ? 4 : 8);
  if (varint_put(out, 0x10) + varint_put(out, max) != wl)
    return -1;
  c->max_rx_data = max;
  uint64_t ty, got;
  out->rpos = 0;
  if (varint_get(out, &ty) || ty != 0x10 || varint_get(out, &got))
    return -1;
  if (got > p->max_tx_data)
    p->max_tx_data = got;
  return 0;
}

/* ---- natively, through the hooks ---- */

/* One native function for the seven steps, told apart by the op. */
static int64_t native_step(void *arg, pop_op op, const pop_val *in, size_t n_in, pop_val *out,
                           size_t max_out, size_t *n_out) {
  bctx *b = arg;
  mock_conn *c = &b->conn;
  switch (op.kind) {
  case POP_OP_SHOULD_SEND_FRAME:
    out[0] = mock_u64(POP_VAL_BOOL, c->max_rx_data < c->rx_data + window / 2);
    break;
  case POP_OP_PREPARE_FRAME:
    out[0] = mock_frame(0x10, c->rx_data + window);
    break;
  case POP_OP_WIRE_LEN: {
    uint64_t m = in[0].u.frame.f[0];
    out[0] = mock_u64(POP_VAL_U64, 1 + (m < 64 ? 1 : m < 16384 ? 2 : m < 1073741824 ? 4 : 8));
    break;
  }
  case POP_OP_WRITE_FRAME:
    c->buf[0].len = 0;
    out[0] = mock_u64(POP_VAL_U64, (uint64_t)(varint_put(&c->buf[0], 0x10) +
                                              varint_put(&c->buf[0], in[0].u.frame.f[0])));
    break;
  case POP_OP_ON_FRAME_RESERVED:
    c->max_rx_data = in[0].u.frame.f[0];
    return 0;
  case POP_OP_PARSE_FRAME: {
    uint64_t v;
    if (varint_get(&b->peer.buf[1], &v))
      return -1;
    out[0] = mock_frame(0x10, v);
    break;
  }
  case POP_OP_PROCESS_FRAME:
    if (in[0].u.frame.f[0] > b->peer.max_tx_data)
      b->peer.max_tx_data = in[0].u.frame.f[0];
    return 0;
  default:
    return -1;
  }
  *n_out = 1;
  return 0;
}

static int hook(bctx *b, pop_op_kind k, const pop_val *in, size_t n, pop_val *out) {
  return pop_handler_call(b->h, pop_op_make(k, 0x10), in, n, out, 1, native_step, b, NULL);
}

static int b_max_data_hooks(bctx *b) {
  b->conn.rx_data += window;
  pop_val in[5], out[1], frame;
  in[0] = mock_u64(POP_VAL_PKT_TYPE, POP_PKT_SHORT);
  in[1] = mock_u64(POP_VAL_PN_SPACE, POP_PN_SPACE_APPLICATION);
  in[2] = mock_u64(POP_VAL_BOOL, 0);
  in[3] = mock_u64(POP_VAL_U64, 1200);
  in[4] = mock_u64(POP_VAL_INSTANT, 0);
  if (hook(b, POP_OP_SHOULD_SEND_FRAME, in, 5, out) || !out[0].u.b ||
      hook(b, POP_OP_PREPARE_FRAME, in + 1, 2, out))
    return -1;
  frame = out[0];
  if (hook(b, POP_OP_WIRE_LEN, &frame, 1, out))
    return -1;
  in[0] = frame;
  in[1] = mock_bytes(1, 0, out[0].u.u64);
  if (hook(b, POP_OP_WRITE_FRAME, in, 2, out) || hook(b, POP_OP_ON_FRAME_RESERVED, &frame, 1, out))
    return -1;
  mock_buf *rb = &b->peer.buf[1];
  memcpy(rb->data, b->conn.buf[0].data, b->conn.buf[0].len);
  rb->len = b->conn.buf[0].len;
  rb->rpos = 0;
  uint64_t ty;
  if (varint_get(rb, &ty) || ty != 0x10)
    return -1;
  in[0] = mock_bytes(2, rb->len - rb->rpos, 0);
  if (hook(b, POP_OP_PARSE_FRAME, in, 2, out))
    return -1;
  in[0] = out[0];
  return hook(b, POP_OP_PROCESS_FRAME, in, 5, out);
}

/* ---- the same through a plugin ---- */

static int send_frame(pop_handler *h, mock_conn *c, uint64_t ty) {
  pop_val in[5], out[2], frame;
  pop_call_result r;
  in[0] = mock_u64(POP_VAL_PKT_TYPE, POP_PKT_SHORT);
  in[1] = mock_u64(POP_VAL_PN_SPACE, POP_PN_SPACE_APPLICATION);
  in[2] = mock_u64(POP_VAL_BOOL, 0);
  in[3] = mock_u64(POP_VAL_U64, 1200);
  in[4] = mock_u64(POP_VAL_INSTANT, 0);
  if (pop_handler_call(h, pop_op_make(POP_OP_SHOULD_SEND_FRAME, ty), in, 5, out, 2, NULL, NULL,
                       &r) || r.n_outputs != 1 || !out[0].u.b)
    return -1;
  if (pop_handler_call(h, pop_op_make(POP_OP_PREPARE_FRAME, ty), in + 1, 2, out, 2, NULL, NULL,
                       &r) || r.n_outputs != 1)
    return -1;
  frame = out[0];
  if (pop_handler_call(h, pop_op_make(POP_OP_WIRE_LEN, ty), &frame, 1, out, 2, NULL, NULL, &r))
    return -1;
  c->buf[0].len = 0;
  in[0] = frame;
  in[1] = mock_bytes(1, 0, out[0].u.u64);
  if (pop_handler_call(h, pop_op_make(POP_OP_WRITE_FRAME, ty), in, 2, out, 2, NULL, NULL, &r))
    return -1;
  return pop_handler_call(h, pop_op_make(POP_OP_ON_FRAME_RESERVED, ty), &frame, 1, NULL, 0,
                          NULL, NULL, &r);
}

static int receive_frame(pop_handler *h, mock_conn *c, const mock_buf *wire) {
  mock_buf *b = &c->buf[1];
  memcpy(b->data, wire->data, wire->len);
  b->len = wire->len;
  b->rpos = 0;
  uint64_t ty;
  if (varint_get(b, &ty))
    return -1;
  pop_val in[5] = {mock_bytes(2, b->len - b->rpos, 0), mock_u64(POP_VAL_PKT_TYPE, POP_PKT_SHORT)};
  pop_val out[2];
  pop_call_result r;
  if (pop_handler_call(h, pop_op_make(POP_OP_PARSE_FRAME, ty), in, 2, out, 2, NULL, NULL, &r) ||
      r.n_outputs != 1)
    return -1;
  in[0] = out[0];
  in[1] = mock_u64(POP_VAL_HEADER, 0);
  in[2] = mock_u64(POP_VAL_U64, 0);
  in[3] = mock_u64(POP_VAL_PN_SPACE, POP_PN_SPACE_APPLICATION);
  in[4] = mock_u64(POP_VAL_INSTANT, 0);
  return pop_handler_call(h, pop_op_make(POP_OP_PROCESS_FRAME, ty), in, 5, NULL, 0, NULL, NULL,
                          &r);
}

static int b_max_data_wasm(bctx *b) {
  b->conn.rx_data += 1000;
  if (send_frame(b->h, &b->conn, 0x10) != 0)
    return -1;
  return receive_frame(b->hp, &b->peer, &b->conn.buf[0]);
}

static int b_super_frame(bctx *b) {
  /* Lost: send again (notify_frame_42 with lost = 1 re-arms it). */
  pop_val ln[2] = {mock_frame(0x42, 0), mock_u64(POP_VAL_BOOL, 1)};
  if (pop_handler_call(b->h, pop_op_make(POP_OP_NOTIFY_FRAME, 0x42), ln, 2, NULL, 0, NULL, NULL,
                       NULL) != 0 ||
      send_frame(b->h, &b->conn, 0x42) != 0)
    return -1;
  return receive_frame(b->hp, &b->peer, &b->conn.buf[0]);
}

/* ---- setup ---- */

static int setup(bctx *b, const char *plugin, bool peer, const pop_param *params, size_t np) {
  memset(b, 0, sizeof *b);
  mock_init(&b->conn);
  mock_init(&b->peer);
  if (pop_store_new(NULL, &b->store) != 0)
    return -1;
  b->name = plugin;
  b->bytes = bench_read_file(plugin_path(plugin), &b->len);
  pop_plugin *p;
  if (!b->bytes || pop_store_load_bytes(b->store, plugin, b->bytes, b->len, &p, NULL, 0) != 0)
    return -1;
  pop_attach_opts o;
  memset(&o, 0, sizeof o);
  o.permissions = POP_PERM_ALL;
  o.enable = true;
  o.params = params;
  o.n_params = np;
  if (pop_handler_new(b->store, &MOCK_CALLBACKS, &b->conn, &b->h) != 0 ||
      pop_handler_attach(b->h, p, &o) < 0)
    return -1;
  if (peer && (pop_handler_new(b->store, &MOCK_CALLBACKS, &b->peer, &b->hp) != 0 ||
               pop_handler_attach(b->hp, p, &o) < 0))
    return -1;
  return 0;
}

static void teardown(bctx *b) {
  pop_handler_del(b->h);
  pop_handler_del(b->hp);
  pop_store_del(b->store);
  free(b->bytes);
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long size = 0, res = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &size, &res) != 2)
      res = 0;
    fclose(f);
  }
  return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static int instances_rss(const bench_opts *o) {
  bctx b;
  if (setup(&b, "increase-max-data", false, NULL, 0) != 0)
    return -1;
  size_t n = (size_t)(10000 * (o->scale < 1 ? o->scale : 1)) + 1;
  pop_handler **hs = calloc(n, sizeof *hs);
  pop_plugin *p;
  pop_store_load_bytes(b.store, b.name, b.bytes, b.len, &p, NULL, 0);
  long before = rss_kib();
  int rv = 0;
  for (size_t i = 0; i < n && rv == 0; i++) {
    if (pop_handler_new(b.store, &MOCK_CALLBACKS, &b.conn, &hs[i]) != 0 ||
        attach_all(hs[i], p, true) < 0)
      rv = -1;
    else
      rv = b_increase_max_data(&(bctx){.h = hs[i], .conn = b.conn}); /* touch it */
  }
  long after = rss_kib();
  printf("%-22s %10.1f KiB per instance (%zu instances)\n", "instance-rss",
         (double)(after - before) / (double)n, n);
  for (size_t i = 0; i < n; i++)
    pop_handler_del(hs[i]);
  free(hs);
  teardown(&b);
  return rv;
}

/* b_load_cold on a connection whose frame and transport parameter registrations are
 * forgotten first (the mock keeps 8 of each; every init of max-data-frame registers). */
static int b_load_cold_fresh(bctx *b) {
  b->conn.n_frames = 0;
  b->conn.n_tps = 0;
  return b_load_cold(b);
}

/* load-plugin-cold for every example plugin (the bound is for all of them):
 * prints each, then the slowest with its name. Hostile plugins are left out (several fault in
 * init on purpose). */
static int cold_all(const bench_opts *o) {
  static const char *const examples[] = {
      "basics",      "increase-max-data", "max-data-frame", "super-frame", "timers",
      "two-step",    "update-rtt",        "poctl-caller",   "poctl-callee", "logger",
      "gentle-cc",   "heartbeat",         "quic-probe",     "extism-echo"};
  double worst = 0;
  const char *worst_name = "";
  int fails = 0;
  for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
    bctx b;
    memset(&b, 0, sizeof b);
    mock_init(&b.conn);
    b.name = examples[i];
    if (!(b.bytes = bench_read_file(plugin_path(examples[i]), &b.len))) {
      fprintf(stderr, "pluginop-bench: %s not built\n", examples[i]);
      fails++;
      continue;
    }
    double ns = median_ns(o, 40, &b, b_load_cold_fresh);
    if (b.fails) {
      fprintf(stderr, "pluginop-bench: load-plugin-cold %s failed\n", examples[i]);
      fails++;
    }
    char label[64];
    snprintf(label, sizeof label, "  cold/%s", examples[i]);
    printf("%-26s %8.1f us\n", label, ns / 1000);
    if (ns > worst) {
      worst = ns;
      worst_name = examples[i];
    }
    free(b.bytes);
  }
  printf("%-22s %10.1f ns (slowest of %zu examples: %s)\n", "load-plugin-cold-max", worst,
         sizeof examples / sizeof examples[0], worst_name);
  fflush(stdout);
  return fails;
}

static int run_suite(int argc, char **argv) {
  bench_opts o;
  if (bench_parse_opts(argc, argv, &o) < 0)
    return 64;
  bctx b;
  int fails = 0;
  if (setup(&b, "basics", false, NULL, 0) != 0 ||
      pop_store_other_op(b.store, "run_and_return", &b.rr) != 0 ||
      pop_store_other_op(b.store, "static_memory", &b.sm) != 0 ||
      pop_store_other_op(b.store, "inputs_outputs", &b.io) != 0)
    return 1;
  timed("run-and-return", &o, 1000000, &b, b_run_and_return);
  timed("run-and-return-by-name", &o, 1000000, &b, b_run_and_return_by_name);
  timed("static-memory", &o, 1000000, &b, b_static_memory);
  timed("input-outputs", &o, 500000, &b, b_input_outputs);
  fails += b.fails;
  teardown(&b);
  if (setup(&b, "increase-max-data", false, NULL, 0) != 0)
    return 1;
  timed("increase-max-data", &o, 500000, &b, b_increase_max_data);
  timed("load-plugin-cold", &o, 300, &b, b_load_cold);
  if (!o.only || strcmp(o.only, "load-plugin-cold-max") == 0)
    fails += cold_all(&o);
  timed("load-plugin-warm", &o, 5000, &b, b_load_warm);
  timed("first-pluginop", &o, 5000, &b, b_first_pluginop);
  fails += b.fails;
  teardown(&b);
  pop_param win[] = {{"window", "1000"}};
  if (setup(&b, "max-data-frame", true, win, 1) != 0)
    return 1;
  timed("max-data-native", &o, 2000000, &b, b_max_data_native);
  {
    bctx hooks;
    memset(&hooks, 0, sizeof hooks);
    mock_init(&hooks.conn);
    mock_init(&hooks.peer);
    if (pop_handler_new(b.store, &MOCK_CALLBACKS, &hooks.conn, &hooks.h) != 0)
      return 1;
    timed("max-data-hooks", &o, 1000000, &hooks, b_max_data_hooks);
    fails += hooks.fails;
    pop_handler_del(hooks.h);
  }
  timed("max-data-wasm", &o, 200000, &b, b_max_data_wasm);
  fails += b.fails;
  teardown(&b);
  if (setup(&b, "super-frame", true, NULL, 0) != 0)
    return 1;
  timed("super-frame", &o, 200000, &b, b_super_frame);
  fails += b.fails;
  teardown(&b);
  if ((!o.only || strcmp(o.only, "instance-rss") == 0) && instances_rss(&o) != 0)
    fails++;
  if (fails)
    fprintf(stderr, "pluginop-bench plugins: %d iterations failed\n", fails);
  return fails ? 1 : 0;
}

const bench_suite bench_suite_plugins = {
    "plugins", "the plugin runtime: pluginop's micro-benchmarks (ns per iteration)", run_suite};
