/*
 * Client and server connections in one process over the simulated link, in virtual
 * time, with the insecure test handshake driver (pq_hs_null): handshake, then data on
 * many streams with every byte checked, under delay, bandwidth limits, loss (also 30%
 * during the handshake), reordering, duplication and corruption, for many seeds.
 */
#include <stdlib.h>

#include "conn_harness.h"

static void test_pq_conn_handshake_clean_link(void) {
  world w;
  pq_sim_config c = sim_link(10 * MS);
  world_init(&w, 1, &c, &c);
  CHECK(run_until(&w, both_established, 5000 * MS));
  CHECK(w.capp.established && w.sapp.established);
  /* Three one-way trips at least, and not many more on a clean link. */
  CHECK(w.now >= 30 * MS && w.now < 200 * MS);
  CHECK(w.client->spaces[PQ_PNS_INITIAL].discarded);
  CHECK(w.client->spaces[PQ_PNS_HANDSHAKE].discarded);
  CHECK(w.sconn->spaces[PQ_PNS_HANDSHAKE].discarded);
  CHECK_INT(0, ==, w.client->rec.packets_lost);
  world_free(&w);
}

static void test_pq_conn_transfer_clean_link(void) {
  world w;
  pq_sim_config c = sim_link(10 * MS);
  world_init(&w, 2, &c, &c);
  w.size = 100000;
  w.echo = true;
  CHECK(run_until(&w, all_received, 20000 * MS));
  CHECK(all_bytes_ok(&w));
  CHECK_INT(8, ==, w.sapp.fins);
  CHECK_INT(8, ==, w.capp.fins);
  CHECK_INT(8, ==, w.sapp.opened);
  for (int i = 0; i < 8; i++) CHECK_INT(100000, ==, w.sapp.rx_bytes[i]);
  /* Every stream is closed both ways and forgotten. */
  CHECK_INT(0, ==, w.client->nstreams);
  world_free(&w);
}

static bool both_closed(world *w) {
  return pq_conn_is_closed(w->client) && w->sconn && pq_conn_is_closed(w->sconn);
}

static void test_pq_conn_application_close(void) {
  world w;
  pq_sim_config c = sim_link(10 * MS);
  uint64_t sent_at_close;
  pq_tstamp closed_at;
  world_init(&w, 4, &c, &c);
  w.size = 5000;
  w.echo = true;
  CHECK(run_until(&w, all_received, 10000 * MS));
  closed_at = w.now;
  CHECK_INT(0, ==, pq_conn_close(w.client, 0x42, "bye", w.now));
  CHECK_INT(PQ_ERR_CLOSED, ==, pq_conn_close(w.client, 0x43, "again", w.now));
  CHECK(w.capp.closed); /* reported when closing starts */
  CHECK(run_until(&w, both_closed, 20000 * MS));
  CHECK(!w.capp.close.by_peer);
  CHECK(w.sapp.close.by_peer && w.sapp.close.application);
  CHECK_INT(0x42, ==, w.sapp.close.error_code);
  /* Closing and draining last three PTOs, not much more. */
  CHECK(w.now - closed_at < 3000 * MS);
  /* Nothing is sent any more. */
  sent_at_close = w.sim.dir[PQ_SIM_C2S].stats.sent + w.sim.dir[PQ_SIM_S2C].stats.sent;
  step(&w);
  CHECK_INT(sent_at_close, ==, w.sim.dir[PQ_SIM_C2S].stats.sent + w.sim.dir[PQ_SIM_S2C].stats.sent);
  CHECK(pq_conn_expiry(w.client) == PQ_TSTAMP_NEVER);
  CHECK_INT(PQ_ERR_CLOSED, ==, pq_conn_stream_write(w.client, 0, (const uint8_t *)"x", 1, false));
  CHECK_INT(1, ==, pq_server_reap(w.server));
  w.sconn = NULL;
  world_free(&w);
}

static void test_pq_conn_idle_timeout(void) {
  world w;
  pq_settings st;
  pq_sim_config c = sim_link(10 * MS);
  pq_tstamp quiet;
  pq_settings_default(&st);
  st.max_idle_timeout = 2000 * MS;
  world_init_ex(&w, 5, &c, &c, false, &st);
  w.size = 1000;
  CHECK(run_until(&w, all_received, 10000 * MS));
  CHECK(run_until(&w, both_established, 10000 * MS));
  quiet = w.now;
  CHECK(run_until(&w, both_closed, 20000 * MS));
  CHECK(w.capp.close.idle_timeout && w.sapp.close.idle_timeout);
  CHECK(w.now >= quiet + 1900 * MS && w.now <= quiet + 2200 * MS);
  world_free(&w);
}

static bool server_quiet(world *w) {
  return w->sconn && w->sconn->rec.amplification_limited &&
         pq_conn_expiry(w->sconn) > w->now + 100000 * MS;
}

/* The client's first Initial arrives, nothing after it: the server may send at most
 * three times what it received (RFC 9000 §8.1), then must stop, PTO included. */
static void test_pq_conn_amplification_limit(void) {
  world w;
  pq_sim_config c = sim_link(10 * MS);
  world_init(&w, 6, &c, &c);
  while (!w.sconn && w.now < 1000 * MS) {
    step(&w);
    w.now = next_event(&w);
  }
  CHECK(w.sconn != NULL);
  w.sim.dir[PQ_SIM_C2S].cfg.loss_ppm = PQ_SIM_PPM;
  w.sim.dir[PQ_SIM_C2S].cfg.handshake_loss_ppm = PQ_SIM_PPM;
  CHECK(run_until(&w, server_quiet, 60000 * MS));
  CHECK_INT(1, ==, w.sim.dir[PQ_SIM_C2S].stats.delivered);
  CHECK(w.sim.dir[PQ_SIM_S2C].stats.bytes_sent > 0);
  CHECK(w.sim.dir[PQ_SIM_S2C].stats.bytes_sent <= 3 * w.sim.dir[PQ_SIM_C2S].stats.bytes_delivered);
  world_free(&w);
}

/* Bulk goodput: 4 MB on one stream over 40 Mbit/s with 20 ms one-way delay and a
 * bandwidth-delay product of queue. Serialization alone takes 0.8 s (plus headers);
 * slow start needs a few RTTs. The bound catches a congestion controller or pacer
 * that leaves the link idle. */
static void test_pq_conn_bulk_goodput(void) {
  world w;
  pq_sim_config c = sim_link(20 * MS);
  pq_conn_stats cs;
  double secs;
  c.bandwidth = 40000000;
  c.queue_bytes = 200000;
  world_init(&w, 7, &c, &c);
  w.nstreams = 1;
  w.size = 4000000;
  CHECK(run_until(&w, all_received, 60000 * MS));
  CHECK(all_bytes_ok(&w));
  secs = (double)w.now / 1e9;
  pq_conn_get_stats(w.client, &cs);
  if (getenv("PQ_VERBOSE"))
    fprintf(stderr, "bulk: %.3f s, %.1f Mbit/s, lost %llu, cwnd %llu, srtt %.1f ms\n", secs,
            4e6 * 8 / secs / 1e6, (unsigned long long)cs.packets_lost,
            (unsigned long long)cs.cwnd, cs.smoothed_rtt / 1e6);
  CHECK(secs < 2.0);
  world_free(&w);
}

/* Small windows and stream limits: 16 streams through a limit of 3 concurrent ones,
 * 4 kB per stream and 12 kB per connection of credit: MAX_STREAMS, MAX_STREAM_DATA
 * and MAX_DATA must keep the transfer going. */
static void small_limits(pq_settings *st) {
  pq_settings_default(st);
  st->initial_max_streams_bidi = 3;
  st->initial_max_streams_uni = 3;
  st->initial_max_stream_data_bidi_local = 4096;
  st->initial_max_stream_data_bidi_remote = 4096;
  st->initial_max_stream_data_uni = 4096;
  st->initial_max_data = 12288;
  st->max_idle_timeout = 120000 * MS;
}

static void test_pq_conn_flow_control_and_stream_limits(void) {
  world w;
  pq_settings st;
  pq_sim_config c = sim_link(5 * MS);
  small_limits(&st);
  world_init_ex(&w, 3, &c, &c, false, &st);
  w.nstreams = 16;
  w.size = 30000;
  w.echo = true;
  CHECK(run_until(&w, all_received, 60000 * MS));
  CHECK(all_bytes_ok(&w));
  CHECK_INT(16, ==, w.sapp.fins);
  CHECK_INT(16, ==, w.capp.fins);
  world_free(&w);
}

static void test_pq_conn_small_limits_seeds(void) {
  int failed = 0;
  pq_settings st;
  small_limits(&st);
  for (uint64_t seed = 2001; seed <= 2200; seed++)
    if (!seeded_run_ex(seed, failed < 5, false, &st)) failed++;
  CHECK_INT(0, ==, failed);
}

/* Seeds [first, first + n): each a client/server run under drawn impairments. */
static void run_seeds(uint64_t first, uint64_t n) {
  int failed = 0;
  pq_settings st;
  /* 30% loss during the handshake can take a few PTO rounds (1, 2, 4, 8, 16 s...):
   * an idle timeout of 2 minutes keeps unlucky streaks from ending the connection. */
  pq_settings_default(&st);
  st.max_idle_timeout = 120000 * MS;
  for (uint64_t seed = first; seed < first + n; seed++)
    if (!seeded_run_ex(seed, failed < 5, false, &st)) failed++;
  CHECK_INT(0, ==, failed);
}

static void test_pq_conn_sim_seeds_1_500(void) { run_seeds(1, 500); }
static void test_pq_conn_sim_seeds_501_1000(void) { run_seeds(501, 500); }

int main(void) {
  const char *e = getenv("PQ_SEED");
  if (e) {
    pq_settings st;
    pq_settings_default(&st);
    st.max_idle_timeout = 120000 * MS;
    return seeded_run_ex(strtoull(e, NULL, 10), true, false, &st) ? 0 : 1;
  }
  RUN(test_pq_conn_handshake_clean_link);
  RUN(test_pq_conn_transfer_clean_link);
  RUN(test_pq_conn_application_close);
  RUN(test_pq_conn_idle_timeout);
  RUN(test_pq_conn_amplification_limit);
  RUN(test_pq_conn_bulk_goodput);
  RUN(test_pq_conn_flow_control_and_stream_limits);
  RUN(test_pq_conn_small_limits_seeds);
  RUN(test_pq_conn_sim_seeds_1_500);
  RUN(test_pq_conn_sim_seeds_501_1000);
  return test_report();
}
