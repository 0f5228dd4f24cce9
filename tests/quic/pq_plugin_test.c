/*
 * QUIC transfers with WebAssembly plugins loaded (pq_settings.plugins), over the
 * simulated link of conn_harness.h: each test checks both that every byte arrived and
 * that the plugin really ran (a counter it keeps, a field only it can change, a frame
 * only it sends), and that a hostile plugin is contained.
 */
#include <unistd.h>

#include "conn_harness.h"
#include "pluginop/plugin.h"

#define PLUGIN_DIR PLUGINOP_BINARY_DIR "/plugins/"

typedef struct plugset {
  pop_store *store;
  pq_plugin_spec spec[4];
  size_t n;
} plugset;

static pop_plugin *load(pop_store *s, const char *name) {
  char path[512], err[192] = "";
  pop_plugin *p = NULL;
  snprintf(path, sizeof(path), PLUGIN_DIR "%s.wasm", name);
  if (pop_store_load_file(s, path, &p, err, sizeof(err)) != 0)
    fprintf(stderr, "cannot load %s: %s\n", path, err);
  return p;
}

/* Adds plugin |name| (with |params|, may be NULL) to |ps|. */
static bool plug_add(plugset *ps, const char *name, const pop_param *params, size_t np) {
  pq_plugin_spec *sp = &ps->spec[ps->n];
  memset(sp, 0, sizeof(*sp));
  sp->plugin = load(ps->store, name);
  sp->params = params;
  sp->n_params = np;
  if (!sp->plugin) return false;
  ps->n++;
  return true;
}

static void plug_settings(const plugset *ps, pq_settings *st) {
  st->plugin_store = ps->store;
  st->plugins = ps->spec;
  st->n_plugins = ps->n;
}

/* plugin_control_<id> of the connection's first plugin providing it; the outputs' u64
 * values into |out|. Returns the number of outputs, or -1. */
static int poctl(pq_conn *c, uint64_t id, uint64_t *out, size_t max) {
  pop_val v[POP_MAX_OUTPUTS];
  pop_call_result res;
  pop_handler *h = pq_conn_plugin_handler(c);
  if (!h || pop_handler_poctl(h, id, NULL, 0, v, POP_MAX_OUTPUTS, &res) != 0) return -1;
  for (size_t i = 0; i < res.n_outputs && i < max; i++) out[i] = v[i].u.u64;
  if (getenv("PQ_PLUGIN_TEST_VERBOSE")) {
    fprintf(stderr, "  %s poctl %llu:", c->is_server ? "server" : "client",
            (unsigned long long)id);
    for (size_t i = 0; i < res.n_outputs; i++)
      fprintf(stderr, " %llu", (unsigned long long)v[i].u.u64);
    fprintf(stderr, "\n");
  }
  return (int)res.n_outputs;
}

static pq_sim_config link10(void) {
  pq_sim_config c = sim_link(10 * MS);
  c.bandwidth = 20000000;
  c.queue_bytes = 200000;
  return c;
}

/* One transfer: |size| bytes on one stream client -> server (server FINs back), both
 * sides with |st|. Returns true when every byte arrived within |limit|. */
static bool transfer(world *w, const pq_settings *st, uint64_t size, pq_tstamp limit) {
  pq_sim_config l = link10();
  world_init_ex(w, 7, &l, &l, false, st);
  w->nstreams = 1;
  w->size = size;
  bool ok = run_until(w, all_received, limit) && all_bytes_ok(w);
  if (getenv("PQ_PLUGIN_TEST_VERBOSE")) {
    pq_conn_stats cs;
    pq_conn_get_stats(w->client, &cs);
    fprintf(stderr, "  transfer %llu bytes: ok=%d at %llu ms, client: %llu packets sent, "
            "%llu plugin calls, %llu faults\n", (unsigned long long)size, ok,
            (unsigned long long)(w->now / MS), (unsigned long long)cs.packets_sent,
            (unsigned long long)cs.plugin_calls, (unsigned long long)cs.plugin_faults);
  }
  return ok;
}

static pq_settings small_window_settings(uint64_t max_data) {
  pq_settings st;
  pq_settings_default(&st);
  st.initial_max_data = max_data;
  return st;
}

/* increase-max-data Defines ProcessFrame(MAX_DATA): with a 32 KB initial connection
 * window, a 600 KB transfer only completes if the plugin applies every MAX_DATA (the
 * native code no longer runs). quic-probe counts the frames and packets it saw. */
static void test_pq_plugin_increase_max_data(void) {
  plugset ps = {0};
  pq_settings st = small_window_settings(32 * 1024);
  world w;
  uint64_t cnt[7] = {0};
  pq_conn_stats cs;
  CHECK_INT(0, ==, pop_store_new(NULL, &ps.store));
  CHECK(plug_add(&ps, "increase-max-data", NULL, 0));
  CHECK(plug_add(&ps, "quic-probe", NULL, 0));
  plug_settings(&ps, &st);
  CHECK(transfer(&w, &st, 600000, 20000 * MS));
  CHECK_INT(7, ==, poctl(w.client, 0, cnt, 7));
  CHECK_INT(cnt[0], >, 5);  /* MAX_DATA frames the client processed */
  CHECK_INT(cnt[1], >, 10); /* RTT samples */
  CHECK_INT(cnt[2], >, 400); /* packets sent: 600 KB in 1200-byte datagrams */
  CHECK_INT(cnt[3], >, 400);
  pq_conn_get_stats(w.client, &cs);
  CHECK_INT(cs.plugin_faults, ==, 0);
  CHECK_INT(cs.plugin_calls, >, 1000);
  CHECK_INT(w.client->ftx.max, >=, 600000);
  world_free(&w);
  pop_store_del(ps.store);
}

/* The control: a plugin whose ProcessFrame(MAX_DATA) does nothing (hostile-trapper
 * without a trap) replaces the native code too, so the same transfer stalls at the
 * initial window. Proves the Define path is what applied MAX_DATA above. */
static void test_pq_plugin_define_replaces_native(void) {
  plugset ps = {0};
  pop_param none = {"trap", "none"};
  pq_settings st = small_window_settings(32 * 1024);
  world w;
  uint64_t cnt[3] = {0};
  CHECK_INT(0, ==, pop_store_new(NULL, &ps.store));
  CHECK(plug_add(&ps, "hostile-trapper", &none, 1));
  plug_settings(&ps, &st);
  CHECK(!transfer(&w, &st, 600000, 3000 * MS));
  CHECK_INT(w.sapp.rx_bytes[0], <=, 32 * 1024);
  CHECK_INT(3, ==, poctl(w.client, 0, cnt, 3));
  CHECK_INT(cnt[1], >, 0); /* its Define ran (and Before/After around it) */
  CHECK_INT(cnt[0], ==, cnt[1]);
  CHECK_INT(cnt[2], ==, cnt[1]);
  world_free(&w);
  pop_store_del(ps.store);
}

/* max-data-frame: the whole MAX_DATA pipeline in the plugin on both sides (parse,
 * process, should_send/prepare/wire_len/write/reserved/notify; the native sender is
 * skipped). Its window (300 KB) is far beyond the native one (50 KB), so the server's
 * advertised limit ends above what the native code could ever announce. */
static void test_pq_plugin_max_data_frame(void) {
  plugset ps = {0};
  pop_param window = {"window", "300000"};
  pq_settings st = small_window_settings(50000);
  world w;
  uint64_t cnt[7] = {0};
  pq_conn_stats cs, ss;
  CHECK_INT(0, ==, pop_store_new(NULL, &ps.store));
  CHECK(plug_add(&ps, "max-data-frame", &window, 1));
  CHECK(plug_add(&ps, "quic-probe", NULL, 0));
  plug_settings(&ps, &st);
  CHECK(transfer(&w, &st, 800000, 20000 * MS));
  CHECK(w.sconn != NULL);
  if (w.sconn) {
    CHECK_INT(w.sconn->frx.max, >=, 800000 + 150000);
    pq_conn_get_stats(w.sconn, &ss);
    CHECK_INT(ss.plugin_faults, ==, 0);
  }
  CHECK_INT(7, ==, poctl(w.client, 0, cnt, 7));
  CHECK_INT(cnt[0], >, 1); /* MAX_DATA frames parsed and processed by the plugin */
  pq_conn_get_stats(w.client, &cs);
  CHECK_INT(cs.plugin_faults, ==, 0);
  world_free(&w);
  pop_store_del(ps.store);
}

/* super-frame on both sides: transport parameter 0xaaaaaaaa goes both ways, each side's
 * plugin enables itself on the peer's (two-step), then frame 0x42 (unknown to pq_frame)
 * is sent, parsed and processed by the plugins both ways. */
static void test_pq_plugin_super_frame(void) {
  plugset ps = {0};
  pq_settings st;
  world w;
  uint64_t cc[2] = {0}, sc[2] = {0};
  pq_settings_default(&st);
  CHECK_INT(0, ==, pop_store_new(NULL, &ps.store));
  CHECK(plug_add(&ps, "super-frame", NULL, 0));
  plug_settings(&ps, &st);
  CHECK(transfer(&w, &st, 100000, 20000 * MS));
  CHECK(pq_conn_plugin_handler(w.client) && pop_handler_is_enabled(pq_conn_plugin_handler(w.client), 0));
  CHECK_INT(2, ==, poctl(w.client, 0x42, cc, 2));
  CHECK_INT(cc[0], >=, 1);
  CHECK_INT(cc[1], ==, 0x42424242);
  CHECK(w.sconn != NULL);
  if (w.sconn) {
    CHECK(pop_handler_is_enabled(pq_conn_plugin_handler(w.sconn), 0));
    CHECK_INT(2, ==, poctl(w.sconn, 0x42, sc, 2));
    CHECK_INT(sc[0], >=, 1);
    CHECK_INT(sc[1], ==, 0x42424242);
    CHECK(w.sconn->has_peer_tp);
  }
  world_free(&w);
  pop_store_del(ps.store);
}

/* super-frame on the client only: the server never sends the parameter, so the
 * client's plugin stays disabled and never sends 0x42 (which the server would reject
 * with FRAME_ENCODING_ERROR); the transfer runs natively. */
static void test_pq_plugin_super_frame_one_side(void) {
  plugset ps = {0};
  pq_settings cst, sst;
  pq_sim_config l = link10();
  world w;
  pq_path path;
  pq_settings_default(&cst);
  pq_settings_default(&sst);
  CHECK_INT(0, ==, pop_store_new(NULL, &ps.store));
  CHECK(plug_add(&ps, "super-frame", NULL, 0));
  plug_settings(&ps, &cst);
  /* world_init_ex with different settings per side */
  memset(&w, 0, sizeof(w));
  set_remote(&w.spath, 0x0a000001, 1000);
  pq_sim_init(&w.sim, &l, &l, 9);
  memset(&path, 0, sizeof(path));
  CHECK_INT(0, ==, pq_server_new(&w.server, &sst, &cbs, NULL, NULL, &w.sapp));
  pq_server_set_hs(w.server, &pq_hs_null);
  CHECK_INT(0, ==, pq_conn_client_new_ex(&w.client, &cst, &cbs, &path, &pq_hs_null, NULL,
                                         &w.capp, 0));
  w.nstreams = 2;
  w.size = 50000;
  CHECK(run_until(&w, all_received, 20000 * MS) && all_bytes_ok(&w));
  CHECK(!pop_handler_is_enabled(pq_conn_plugin_handler(w.client), 0));
  CHECK(!w.capp.closed);
  world_free(&w);
  pop_store_del(ps.store);
}

/* update-rtt Defines UpdateRtt (RFC 9002 §5 in wasm). The same seeded run natively and
 * with the plugin must give about the same estimate (the link's RTT is 20 ms plus
 * serialization), and quic-probe sees the samples after the plugin's estimator. */
static void test_pq_plugin_update_rtt(void) {
  plugset ps = {0};
  pq_settings st, nat;
  world w;
  uint64_t cnt[7] = {0}, native_srtt, plugin_srtt;
  pq_settings_default(&nat);
  CHECK(transfer(&w, &nat, 300000, 20000 * MS));
  native_srtt = w.client->rec.rtt.smoothed;
  world_free(&w);
  pq_settings_default(&st);
  CHECK_INT(0, ==, pop_store_new(NULL, &ps.store));
  CHECK(plug_add(&ps, "update-rtt", NULL, 0));
  CHECK(plug_add(&ps, "quic-probe", NULL, 0));
  plug_settings(&ps, &st);
  CHECK(transfer(&w, &st, 300000, 20000 * MS));
  plugin_srtt = w.client->rec.rtt.smoothed;
  CHECK_INT(7, ==, poctl(w.client, 0, cnt, 7));
  CHECK_INT(cnt[1], >, 10);
  CHECK_INT(cnt[6], >=, 20 * MS);
  CHECK_INT(plugin_srtt, >=, 20 * MS);
  CHECK_INT(plugin_srtt, <, 200 * MS);
  CHECK_INT(plugin_srtt, <, 2 * native_srtt);
  CHECK_INT(2 * plugin_srtt, >, native_srtt);
  CHECK(w.client->rec.rtt.has_sample);
  CHECK_INT(w.client->rec.rtt.min, >=, 20 * MS);
  world_free(&w);
  pop_store_del(ps.store);
}

/* quic-probe over a lossy link (3% each way): OnPacketLost and OnCongestionEvent reach
 * the plugin (After anchors) and the counts agree with the connection's own. */
static void test_pq_plugin_packet_events_under_loss(void) {
  plugset ps = {0};
  pq_settings st;
  world w;
  pq_sim_config l = link10();
  uint64_t cnt[7] = {0};
  pq_conn_stats cs;
  pq_settings_default(&st);
  CHECK_INT(0, ==, pop_store_new(NULL, &ps.store));
  CHECK(plug_add(&ps, "quic-probe", NULL, 0));
  plug_settings(&ps, &st);
  l.loss_ppm = 30000;
  world_init_ex(&w, 11, &l, &l, false, &st);
  w.nstreams = 2;
  w.size = 400000;
  CHECK(run_until(&w, all_received, 60000 * MS) && all_bytes_ok(&w));
  CHECK_INT(7, ==, poctl(w.client, 0, cnt, 7));
  pq_conn_get_stats(w.client, &cs);
  CHECK_INT(cnt[4], >, 0);                   /* packets lost, seen by the plugin */
  CHECK_INT(cnt[4], ==, w.client->rec.packets_lost);
  CHECK_INT(cnt[5], >, 0);                   /* congestion events */
  CHECK_INT(cnt[5], ==, w.client->cc.congestion_events);
  CHECK_INT(cnt[2], ==, cs.packets_sent);    /* every packet sent */
  world_free(&w);
  pop_store_del(ps.store);
}

/* gentle-cc Defines OnCongestionEvent: after each loss the window and ssthresh become
 * 7/10 of the window (NewReno, natively, halves them). The sender's ssthresh at the end
 * is the plugin's last value. */
static void test_pq_plugin_congestion_event_define(void) {
  plugset ps = {0};
  pq_settings st;
  world w;
  pq_sim_config l = link10();
  uint64_t cnt[3] = {0};
  pq_settings_default(&st);
  CHECK_INT(0, ==, pop_store_new(NULL, &ps.store));
  CHECK(plug_add(&ps, "gentle-cc", NULL, 0));
  plug_settings(&ps, &st);
  l.loss_ppm = 30000;
  world_init_ex(&w, 11, &l, &l, false, &st);
  w.nstreams = 2;
  w.size = 400000;
  CHECK(run_until(&w, all_received, 60000 * MS) && all_bytes_ok(&w));
  CHECK_INT(3, ==, poctl(w.client, 0, cnt, 3));
  CHECK_INT(cnt[0], >, 0);
  CHECK_INT(cnt[0], ==, w.client->cc.congestion_events);
  CHECK(cnt[2] == cnt[1] * 70 / 100 || cnt[2] == 2 * w.client->cc.max_datagram_size);
  CHECK_INT(w.client->cc.ssthresh, ==, cnt[2]);
  world_free(&w);
  pop_store_del(ps.store);
}

static bool one_second(world *w) { return w->now >= 1000 * MS; }

/* heartbeat on both sides of an idle connection (no stream at all): its timer (every
 * 50 ms, started when the peer's parameter 0x4842 arrives) makes the frame pending, and
 * the engine builds packets just for it: one per period, about 19 each way in the first
 * second (without that trigger they only ride along with the ACKs the peer's heartbeats
 * elicit: 13). */
static void test_pq_plugin_heartbeat_idle(void) {
  plugset ps = {0};
  pop_param period = {"period_ms", "50"};
  pq_settings st;
  world w;
  pq_sim_config l = link10();
  uint64_t cc[3] = {0}, sc[3] = {0};
  pq_settings_default(&st);
  CHECK_INT(0, ==, pop_store_new(NULL, &ps.store));
  CHECK(plug_add(&ps, "heartbeat", &period, 1));
  plug_settings(&ps, &st);
  world_init_ex(&w, 5, &l, &l, false, &st);
  w.nstreams = 0;
  w.size = 0;
  CHECK(run_until(&w, one_second, 2000 * MS));
  CHECK_INT(3, ==, poctl(w.client, 0, cc, 3));
  CHECK(w.sconn != NULL);
  CHECK_INT(w.sconn ? poctl(w.sconn, 0, sc, 3) : -1, ==, 3);
  CHECK_INT(cc[0], >=, 18); /* riding only on the peer's ACK-eliciting packets: 13 */
  CHECK_INT(cc[0], <=, 21);
  CHECK_INT(sc[1], >=, cc[0] - 1); /* all but one in flight arrived */
  CHECK_INT(sc[2], ==, sc[1] - 1); /* sequence numbers 0, 1, ... in order */
  CHECK_INT(sc[0], >=, 18);
  CHECK_INT(cc[1], >=, sc[0] - 1);
  CHECK(!w.capp.closed && !w.sapp.closed);
  world_free(&w);
  pop_store_del(ps.store);
}

/* timers: set at init (connection creation, t = 0): timer 1 at 1, 2, 3 ms, timer 2 at
 * 5 ms. pq_conn_expiry shows the first one, pq_conn_handle_expiry fires them. */
static void test_pq_plugin_timers(void) {
  plugset ps = {0};
  pq_settings st;
  world w;
  pq_sim_config l = link10();
  uint64_t cnt[2] = {0};
  pq_settings_default(&st);
  CHECK_INT(0, ==, pop_store_new(NULL, &ps.store));
  CHECK(plug_add(&ps, "timers", NULL, 0));
  plug_settings(&ps, &st);
  world_init_ex(&w, 3, &l, &l, false, &st);
  CHECK_INT(pq_conn_expiry(w.client), ==, 1 * MS); /* merged: earlier than any other */
  w.nstreams = 1;
  w.size = 20000;
  CHECK(run_until(&w, all_received, 20000 * MS) && all_bytes_ok(&w));
  CHECK_INT(2, ==, poctl(w.client, 0, cnt, 2));
  CHECK_INT(cnt[0], ==, 3);
  CHECK_INT(cnt[1], ==, 1);
  CHECK_INT(w.sconn ? poctl(w.sconn, 0, cnt, 2) : -1, ==, 2);
  CHECK_INT(cnt[0], ==, 3);
  world_free(&w);
  pop_store_del(ps.store);
}

/* ---- log_frame, on_loss_timer, set_next_wakeup (plugins/frame-logger) ---- */

enum { FL_RX_MAX_DATA, FL_TX_MAX_DATA, FL_RX_ACK, FL_TX_ACK, FL_RX_PING, FL_TX_PING,
       FL_LOSS_CALLS, FL_PTO_CALLS, FL_MAX_PTO_COUNT, FL_WAKEUP_CALLS, FL_LINES,
       FL_RES_ACK, FL_RES_MAX_DATA, FL_N };
#define FL_CONTROL 0xf1 /* frame-logger's plugin_control_f1 */

/* Client and server with their own settings over |l| both ways (null handshake). */
static void world_init_sides(world *w, uint64_t seed, const pq_sim_config *l,
                             const pq_settings *cst, const pq_settings *sst) {
  pq_path path;
  memset(w, 0, sizeof(*w));
  memset(&path, 0, sizeof(path));
  set_remote(&w->spath, 0x0a000001, 1000);
  pq_sim_init(&w->sim, l, l, seed);
  CHECK_INT(0, ==, pq_server_new(&w->server, sst, &cbs, NULL, NULL, &w->sapp));
  pq_server_set_hs(w->server, &pq_hs_null);
  CHECK_INT(0, ==, pq_conn_client_new_ex(&w->client, cst, &cbs, &path, &pq_hs_null, NULL,
                                         &w->capp, 0));
}

/* Runs the world like run_until up to |until| exactly (run_until jumps to the next
 * event even past its limit, e.g. to an idle timeout), counting the client's expiries
 * (step calls pq_conn_handle_expiry when pq_conn_expiry <= now) and the steps. */
static void run_counting(world *w, pq_tstamp until, uint64_t *expiries, uint64_t *steps) {
  for (;;) {
    pq_tstamp next;
    if (pq_conn_expiry(w->client) <= w->now) (*expiries)++;
    step(w);
    (*steps)++;
    next = next_event(w);
    if (w->now >= until) return;
    w->now = next <= w->now ? w->now + 1 : next < until ? next : until;
  }
}

/* run_counting without the counts. */
static void run_to(world *w, pq_tstamp until) {
  uint64_t e = 0, n = 0;
  run_counting(w, until, &e, &n);
}

static int count_lines(const char *path) {
  FILE *f = fopen(path, "r");
  int n = 0, ch;
  if (!f) return -1;
  while ((ch = fgetc(f)) != EOF) n += ch == '\n';
  fclose(f);
  return n;
}

/* frame-logger on both sides of a transfer that needs MAX_DATA (32 KB window), over a
 * lossless link and drained afterwards: log_frame_10 on the client saw exactly the
 * MAX_DATA frames the connection processed (quic-probe's count) and the server sent;
 * ACK frames sent on one side equal those logged received on the other. The client's
 * plugin also writes each logged frame to a file in its folder (FILE permission). */
static void test_pq_plugin_log_frame_counts(void) {
  plugset cps = {0}, sps = {0};
  pop_param file = {"file", "frames.log"};
  pq_settings cst = small_window_settings(32 * 1024), sst = small_window_settings(32 * 1024);
  pq_sim_config l = link10();
  char dir[] = "/tmp/pq_plugin_test_XXXXXX", path[64];
  world w;
  uint64_t cc[FL_N] = {0}, sc[FL_N] = {0}, probe[7] = {0};
  pq_conn_stats cs;
  CHECK(mkdtemp(dir) != NULL);
  CHECK_INT(0, ==, pop_store_new(NULL, &cps.store));
  sps.store = cps.store;
  CHECK(plug_add(&cps, "frame-logger", &file, 1));
  cps.spec[0].permissions = POP_PERM_ALL;
  cps.spec[0].file_dir = dir;
  CHECK(plug_add(&cps, "quic-probe", NULL, 0));
  CHECK(plug_add(&sps, "frame-logger", NULL, 0));
  plug_settings(&cps, &cst);
  plug_settings(&sps, &sst);
  world_init_sides(&w, 7, &l, &cst, &sst);
  w.nstreams = 1;
  w.size = 300000;
  CHECK(run_until(&w, all_received, 20000 * MS) && all_bytes_ok(&w));
  run_to(&w, w.now + 500 * MS); /* every frame in flight arrives, ACKs included */
  CHECK_INT(FL_N, ==, poctl(w.client, FL_CONTROL, cc, FL_N));
  CHECK_INT(7, ==, poctl(w.client, 0, probe, 7));
  CHECK(w.sconn != NULL);
  CHECK_INT(w.sconn ? poctl(w.sconn, FL_CONTROL, sc, FL_N) : -1, ==, FL_N);
  CHECK_INT(cc[FL_RX_MAX_DATA], >, 5);
  CHECK_INT(cc[FL_RX_MAX_DATA], ==, probe[0]); /* = the frames the connection processed */
  CHECK_INT(cc[FL_TX_MAX_DATA], ==, 0); /* the client receives, it does not grant */
  CHECK_INT(sc[FL_TX_MAX_DATA], ==, cc[FL_RX_MAX_DATA]);
  CHECK_INT(cc[FL_TX_ACK], >, 10);
  CHECK_INT(cc[FL_TX_ACK], ==, sc[FL_RX_ACK]);
  CHECK_INT(sc[FL_TX_ACK], ==, cc[FL_RX_ACK]);
  CHECK_INT(cc[FL_LINES], >, 0);
  snprintf(path, sizeof(path), "%s/frames.log", dir);
  CHECK_INT(count_lines(path), ==, (int)cc[FL_LINES]);
  CHECK_INT(cc[FL_LINES], ==, cc[FL_RX_MAX_DATA] + cc[FL_RX_ACK] + cc[FL_TX_ACK] +
                                  cc[FL_RX_PING] + cc[FL_TX_PING]);
  pq_conn_get_stats(w.client, &cs);
  CHECK_INT(cs.plugin_faults, ==, 0);
  if (getenv("PQ_PLUGIN_TEST_VERBOSE"))
    fprintf(stderr, "  log_frame: client rx MAX_DATA %llu, tx/rx ACK %llu/%llu, lines %llu\n",
            (unsigned long long)cc[FL_RX_MAX_DATA], (unsigned long long)cc[FL_TX_ACK],
            (unsigned long long)cc[FL_RX_ACK], (unsigned long long)cc[FL_LINES]);
  world_free(&w);
  unlink(path);
  rmdir(dir);
  pop_store_del(cps.store);
}

/* on_frame_reserved for frames the engine writes itself: frame-logger on both sides of
 * a transfer that needs MAX_DATA (32 KB window), lossless and drained afterwards. Each
 * side's on_frame_reserved_2/3 ran once per ACK it sent: as many as log_frame saw sent
 * and as the peer received; the server's post_on_frame_reserved_10 once per MAX_DATA it
 * sent (= received by the client). The ACK Define returns 1: ignored, no fault. With
 * |plugin_max_data| the server's MAX_DATA frames are written by max-data-frame instead
 * (a registered RFC type): their on_frame_reserved_10 runs once each, not twice. */
static void reserved_run(bool plugin_max_data) {
  plugset cps = {0}, sps = {0};
  pop_param window = {"window", "300000"};
  pq_settings cst = small_window_settings(32 * 1024), sst = small_window_settings(32 * 1024);
  pq_sim_config l = link10();
  world w;
  uint64_t cc[FL_N] = {0}, sc[FL_N] = {0};
  pq_conn_stats cs, ss;
  CHECK_INT(0, ==, pop_store_new(NULL, &cps.store));
  sps.store = cps.store;
  CHECK(plug_add(&cps, "frame-logger", NULL, 0));
  if (plugin_max_data) CHECK(plug_add(&sps, "max-data-frame", &window, 1));
  CHECK(plug_add(&sps, "frame-logger", NULL, 0));
  plug_settings(&cps, &cst);
  plug_settings(&sps, &sst);
  world_init_sides(&w, 7, &l, &cst, &sst);
  w.nstreams = 1;
  w.size = 300000;
  CHECK(run_until(&w, all_received, 20000 * MS) && all_bytes_ok(&w));
  run_to(&w, w.now + 500 * MS); /* every frame in flight arrives, ACKs included */
  CHECK_INT(FL_N, ==, poctl(w.client, FL_CONTROL, cc, FL_N));
  CHECK(w.sconn != NULL);
  CHECK_INT(w.sconn ? poctl(w.sconn, FL_CONTROL, sc, FL_N) : -1, ==, FL_N);
  CHECK_INT(cc[FL_RES_ACK], >, 3); /* the client mostly receives: 20 (6 with the plugin) */
  CHECK_INT(cc[FL_RES_ACK], ==, cc[FL_TX_ACK]); /* log_frame's count of ACKs sent */
  CHECK_INT(cc[FL_RES_ACK], ==, sc[FL_RX_ACK]); /* what the server received */
  CHECK_INT(sc[FL_RES_ACK], >, 10);
  CHECK_INT(sc[FL_RES_ACK], ==, sc[FL_TX_ACK]);
  CHECK_INT(sc[FL_RES_ACK], ==, cc[FL_RX_ACK]);
  CHECK_INT(sc[FL_RES_MAX_DATA], >, 0);
  CHECK_INT(sc[FL_RES_MAX_DATA], ==, sc[FL_TX_MAX_DATA]);
  CHECK_INT(sc[FL_RES_MAX_DATA], ==, cc[FL_RX_MAX_DATA]);
  CHECK_INT(cc[FL_RES_MAX_DATA], ==, 0); /* the client grants nothing */
  pq_conn_get_stats(w.client, &cs);
  CHECK_INT(cs.plugin_faults, ==, 0); /* the Define's return 1 is not a fault */
  if (w.sconn) {
    pq_conn_get_stats(w.sconn, &ss);
    CHECK_INT(ss.plugin_faults, ==, 0);
    if (plugin_max_data) CHECK_INT(w.sconn->frx.max, >=, 300000); /* the plugin's window */
  }
  if (getenv("PQ_PLUGIN_TEST_VERBOSE"))
    fprintf(stderr, "  on_frame_reserved: ACK client %llu server %llu, MAX_DATA server %llu\n",
            (unsigned long long)cc[FL_RES_ACK], (unsigned long long)sc[FL_RES_ACK],
            (unsigned long long)sc[FL_RES_MAX_DATA]);
  world_free(&w);
  pop_store_del(cps.store);
}

static void test_pq_plugin_frame_reserved_native(void) { reserved_run(false); }

static void test_pq_plugin_frame_reserved_plugin_frame_once(void) { reserved_run(true); }

/* on_loss_timer under 5% loss each way: the plugin's After code sees every
 * OnLossDetectionTimeout of each side, PTOs (input 3) and time-threshold losses alike,
 * and the counts equal the recovery's own (pto_expired, loss_timer_expired). */
static void test_pq_plugin_loss_timer_under_loss(void) {
  plugset ps = {0};
  pq_settings st;
  world w;
  pq_sim_config l = link10();
  uint64_t cc[FL_N] = {0}, sc[FL_N] = {0};
  pq_settings_default(&st);
  CHECK_INT(0, ==, pop_store_new(NULL, &ps.store));
  CHECK(plug_add(&ps, "frame-logger", NULL, 0));
  plug_settings(&ps, &st);
  l.loss_ppm = 50000;
  world_init_ex(&w, 11, &l, &l, false, &st);
  w.nstreams = 2;
  w.size = 400000;
  w.echo = true; /* both sides send data: both run their loss timers */
  CHECK(run_until(&w, all_received, 60000 * MS) && all_bytes_ok(&w));
  CHECK_INT(FL_N, ==, poctl(w.client, FL_CONTROL, cc, FL_N));
  CHECK(w.sconn != NULL);
  CHECK_INT(w.sconn ? poctl(w.sconn, FL_CONTROL, sc, FL_N) : -1, ==, FL_N);
  CHECK_INT(cc[FL_LOSS_CALLS], >, 0);
  CHECK_INT(cc[FL_PTO_CALLS], ==, w.client->rec.pto_expired);
  CHECK_INT(cc[FL_LOSS_CALLS] - cc[FL_PTO_CALLS], ==, w.client->rec.loss_timer_expired);
  if (w.sconn) {
    CHECK_INT(sc[FL_PTO_CALLS], ==, w.sconn->rec.pto_expired);
    CHECK_INT(sc[FL_LOSS_CALLS] - sc[FL_PTO_CALLS], ==, w.sconn->rec.loss_timer_expired);
  }
  CHECK_INT(cc[FL_PTO_CALLS] + sc[FL_PTO_CALLS], >, 0); /* some PTO fired */
  CHECK_INT(cc[FL_MAX_PTO_COUNT] + sc[FL_MAX_PTO_COUNT], >, 0);
  if (getenv("PQ_PLUGIN_TEST_VERBOSE"))
    fprintf(stderr, "  on_loss_timer: client %llu calls (%llu PTO, max pto_count %llu), "
            "server %llu (%llu PTO)\n", (unsigned long long)cc[FL_LOSS_CALLS],
            (unsigned long long)cc[FL_PTO_CALLS], (unsigned long long)cc[FL_MAX_PTO_COUNT],
            (unsigned long long)sc[FL_LOSS_CALLS], (unsigned long long)sc[FL_PTO_CALLS]);
  world_free(&w);
  pop_store_del(ps.store);
}

static bool established(world *w) { return both_established(w); }

/* A blackout after the handshake: the client has 30 KB to send and nothing gets
 * through for 3 s, so only PTOs fire (1 s, 2 s... with backoff) and each sends its
 * probes. Natively a PTO asks for 2; frame-logger's Define (parameter probes=4) asks for
 * 4. Returns the client's packets sent during the blackout and its PTO count. */
static void blackout_run(const char *probes, uint64_t *sent, uint64_t *ptos,
                         uint64_t *plugin_ptos) {
  plugset ps = {0};
  pop_param p = {"probes", probes};
  pq_settings st;
  world w;
  pq_sim_config l = link10();
  pq_conn_stats before, after;
  uint64_t cc[FL_N] = {0};
  pq_settings_default(&st);
  CHECK_INT(0, ==, pop_store_new(NULL, &ps.store));
  CHECK(plug_add(&ps, "frame-logger", &p, 1));
  plug_settings(&ps, &st);
  world_init_ex(&w, 5, &l, &l, false, &st);
  w.nstreams = 0;
  CHECK(run_until(&w, established, 2000 * MS));
  run_to(&w, w.now + 200 * MS); /* quiet: every handshake packet acknowledged */
  w.sim.dir[PQ_SIM_C2S].cfg.loss_ppm = 1000000;
  w.sim.dir[PQ_SIM_S2C].cfg.loss_ppm = 1000000;
  pq_conn_get_stats(w.client, &before);
  *ptos = w.client->rec.pto_expired;
  w.nstreams = 1;
  w.size = 30000;
  run_to(&w, w.now + 3000 * MS);
  pq_conn_get_stats(w.client, &after);
  *sent = after.packets_sent - before.packets_sent;
  *ptos = w.client->rec.pto_expired - *ptos;
  CHECK_INT(FL_N, ==, poctl(w.client, FL_CONTROL, cc, FL_N));
  *plugin_ptos = cc[FL_PTO_CALLS];
  CHECK_INT(after.plugin_faults, ==, 0);
  world_free(&w);
  pop_store_del(ps.store);
}

/* The Define of on_loss_timer adds probes (never takes the engine's away): the same
 * blackout, same PTOs, two more packets per PTO. */
static void test_pq_plugin_loss_timer_define_adds_probes(void) {
  uint64_t nsent, nptos, nplug, psent, pptos, pplug;
  blackout_run("0", &nsent, &nptos, &nplug);
  blackout_run("4", &psent, &pptos, &pplug);
  if (getenv("PQ_PLUGIN_TEST_VERBOSE"))
    fprintf(stderr, "  blackout: native %llu packets / %llu PTOs, probes=4 %llu / %llu\n",
            (unsigned long long)nsent, (unsigned long long)nptos, (unsigned long long)psent,
            (unsigned long long)pptos);
  CHECK_INT(nptos, >=, 1);
  CHECK_INT(pptos, ==, nptos); /* same timer: the plugin does not change the backoff */
  CHECK_INT(nplug, ==, nptos);
  CHECK_INT(pplug, ==, pptos);
  CHECK_INT(psent, ==, nsent + 2 * nptos);
}

/* An idle connection (no stream) for one second after the handshake, with frame-logger
 * on the client (parameter |wake|: "wake_ms" or "wake" = past/late, NULL: none). Counts
 * the client's expiries and the steps of the whole world in that second. */
static void idle_second(const pop_param *wake, uint64_t *expiries, uint64_t *steps,
                        uint64_t *calls) {
  plugset ps = {0};
  pq_settings cst, sst;
  pq_sim_config l = link10();
  world w;
  uint64_t cc[FL_N] = {0};
  pq_conn_stats cs;
  pq_settings_default(&cst);
  pq_settings_default(&sst);
  CHECK_INT(0, ==, pop_store_new(NULL, &ps.store));
  CHECK(plug_add(&ps, "frame-logger", wake, wake ? 1 : 0));
  plug_settings(&ps, &cst);
  world_init_sides(&w, 3, &l, &cst, &sst);
  w.nstreams = 0;
  CHECK(run_until(&w, established, 2000 * MS));
  run_to(&w, w.now + 200 * MS);
  *expiries = *steps = 0;
  run_counting(&w, w.now + 1000 * MS, expiries, steps);
  CHECK_INT(FL_N, ==, poctl(w.client, FL_CONTROL, cc, FL_N));
  *calls = cc[FL_WAKEUP_CALLS];
  pq_conn_get_stats(w.client, &cs);
  CHECK_INT(cs.plugin_faults, ==, 0);
  if (w.capp.closed || w.sapp.closed)
    fprintf(stderr, "closed: client %d err 0x%llx idle %d '%s', server %d err 0x%llx '%s'\n",
            w.capp.closed, (unsigned long long)w.capp.close.error_code,
            w.capp.close.idle_timeout, w.capp.close_reason, w.sapp.closed,
            (unsigned long long)w.sapp.close.error_code, w.sapp.close_reason);
  CHECK(!w.capp.closed && !w.sapp.closed);
  world_free(&w);
  pop_store_del(ps.store);
}

/* set_next_wakeup asking for every 5 ms: the idle client really wakes about 200 times
 * in a second (natively a handful: nothing is due), with nothing due each time. */
static void test_pq_plugin_next_wakeup_earlier(void) {
  pop_param wake = {"wake_ms", "5"};
  uint64_t nexp, nsteps, ncalls, pexp, psteps, pcalls;
  idle_second(NULL, &nexp, &nsteps, &ncalls);
  idle_second(&wake, &pexp, &psteps, &pcalls);
  if (getenv("PQ_PLUGIN_TEST_VERBOSE"))
    fprintf(stderr, "  idle second: native %llu expiries (%llu steps), wake_ms=5 %llu "
            "(%llu steps, %llu calls)\n", (unsigned long long)nexp,
            (unsigned long long)nsteps, (unsigned long long)pexp, (unsigned long long)psteps,
            (unsigned long long)pcalls);
  CHECK_INT(nexp, <=, 5);
  CHECK_INT(pexp, >=, 195);
  CHECK_INT(pexp, <=, 201);
  CHECK_INT(pcalls, >=, pexp); /* asked again after every expiry */
}

/* A hostile Define answering a time in the past at every call: the connection wakes at
 * most once per millisecond (each wakeup is at least 1 ms after the time it was
 * asked), so an idle second stays bounded instead of spinning; one answering a time
 * far in the future delays nothing. */
static void test_pq_plugin_next_wakeup_past_does_not_spin(void) {
  pop_param past = {"wake", "past"}, late = {"wake", "late"};
  uint64_t exp, steps, calls;
  idle_second(&past, &exp, &steps, &calls);
  if (getenv("PQ_PLUGIN_TEST_VERBOSE"))
    fprintf(stderr, "  idle second, wake=past: %llu expiries, %llu steps, %llu calls\n",
            (unsigned long long)exp, (unsigned long long)steps, (unsigned long long)calls);
  CHECK_INT(exp, >=, 900); /* it does wake early... */
  CHECK_INT(exp, <=, 1001); /* ...but never more than once per millisecond */
  CHECK_INT(steps, <=, 1100);
  idle_second(&late, &exp, &steps, &calls);
  CHECK_INT(exp, <=, 5);
  CHECK_INT(calls, >=, 1);
}

/* The same hostile Defines during a transfer over a lossy link (3%): PTO, ACK and idle
 * timers still fire on time, every byte arrives, and the past answer costs at most a
 * wakeup per millisecond. */
static void test_pq_plugin_next_wakeup_hostile_transfer(void) {
  static const char *modes[2] = {"past", "late"};
  for (int i = 0; i < 2; i++) {
    plugset ps = {0};
    pop_param wake = {"wake", modes[i]};
    pq_settings st;
    world w;
    pq_sim_config l = link10();
    uint64_t exp = 0, steps = 0;
    pq_settings_default(&st);
    CHECK_INT(0, ==, pop_store_new(NULL, &ps.store));
    CHECK(plug_add(&ps, "frame-logger", &wake, 1));
    plug_settings(&ps, &st);
    l.loss_ppm = 30000;
    world_init_ex(&w, 11, &l, &l, false, &st);
    w.nstreams = 2;
    w.size = 400000;
    CHECK(run_until(&w, all_received, 60000 * MS) && all_bytes_ok(&w));
    CHECK_INT(w.client->rec.loss_timer_expired + w.client->rec.pto_expired, >, 0);
    /* then idle, both sides hostile: bounded */
    run_counting(&w, w.now + 1000 * MS, &exp, &steps);
    CHECK_INT(exp, <=, 1001);
    CHECK_INT(steps, <=, 2200);
    CHECK(!w.capp.closed && !w.sapp.closed);
    world_free(&w);
    pop_store_del(ps.store);
  }
}

/* A hostile plugin (an endless loop, or a trap, in ProcessFrame(MAX_DATA)) is stopped
 * (fuel / trap), disabled on that connection, and the native code takes over: a
 * transfer needing many MAX_DATA frames completes with every byte checked. */
static void hostile_run(const char *name, const pop_param *params, size_t np) {
  plugset ps = {0};
  pq_settings st = small_window_settings(32 * 1024);
  pop_settings pset;
  world w;
  pq_conn_stats cs;
  pop_settings_default(&pset);
  pset.fuel_per_call = 2000000; /* keeps the looping call short */
  CHECK_INT(0, ==, pop_store_new(&pset, &ps.store));
  CHECK(plug_add(&ps, name, params, np));
  plug_settings(&ps, &st);
  CHECK(transfer(&w, &st, 400000, 20000 * MS));
  pq_conn_get_stats(w.client, &cs);
  CHECK_INT(cs.plugin_faults, ==, 1);
  CHECK(pop_handler_is_faulted(pq_conn_plugin_handler(w.client), 0));
  CHECK(pop_handler_last_fault(pq_conn_plugin_handler(w.client)) != NULL);
  CHECK(!w.capp.closed && !w.sapp.closed);
  world_free(&w);
  pop_store_del(ps.store);
}

static void test_pq_plugin_hostile_loop_contained(void) {
  hostile_run("hostile-loop", NULL, 0);
}

static void test_pq_plugin_hostile_trap_contained(void) {
  pop_param p = {"trap", "define"};
  hostile_run("hostile-trapper", &p, 1);
}

/* Settings naming no plugin object are refused. */
static void test_pq_plugin_bad_settings(void) {
  pop_store *store;
  pq_plugin_spec spec;
  pq_settings st;
  pq_conn *c = NULL;
  pq_path path;
  memset(&spec, 0, sizeof(spec));
  memset(&path, 0, sizeof(path));
  pq_settings_default(&st);
  CHECK_INT(0, ==, pop_store_new(NULL, &store));
  st.plugin_store = store;
  st.plugins = &spec;
  st.n_plugins = 1;
  CHECK_INT(PQ_ERR_INVALID_ARG, ==,
            pq_conn_client_new_ex(&c, &st, &cbs, &path, &pq_hs_null, NULL, NULL, 0));
  CHECK(c == NULL);
  st.plugins = NULL;
  CHECK_INT(PQ_ERR_INVALID_ARG, ==,
            pq_conn_client_new_ex(&c, &st, &cbs, &path, &pq_hs_null, NULL, NULL, 0));
  pop_store_del(store);
}

int main(void) {
  (void)seeded_run_ex; /* harness helpers this program does not use */
  (void)both_established;
  RUN(test_pq_plugin_increase_max_data);
  RUN(test_pq_plugin_define_replaces_native);
  RUN(test_pq_plugin_max_data_frame);
  RUN(test_pq_plugin_super_frame);
  RUN(test_pq_plugin_super_frame_one_side);
  RUN(test_pq_plugin_update_rtt);
  RUN(test_pq_plugin_packet_events_under_loss);
  RUN(test_pq_plugin_congestion_event_define);
  RUN(test_pq_plugin_heartbeat_idle);
  RUN(test_pq_plugin_timers);
  RUN(test_pq_plugin_log_frame_counts);
  RUN(test_pq_plugin_frame_reserved_native);
  RUN(test_pq_plugin_frame_reserved_plugin_frame_once);
  RUN(test_pq_plugin_loss_timer_under_loss);
  RUN(test_pq_plugin_loss_timer_define_adds_probes);
  RUN(test_pq_plugin_next_wakeup_earlier);
  RUN(test_pq_plugin_next_wakeup_past_does_not_spin);
  RUN(test_pq_plugin_next_wakeup_hostile_transfer);
  RUN(test_pq_plugin_hostile_loop_contained);
  RUN(test_pq_plugin_hostile_trap_contained);
  RUN(test_pq_plugin_bad_settings);
  return test_report();
}
