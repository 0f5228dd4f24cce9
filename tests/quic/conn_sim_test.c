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
  RUN(test_pq_conn_sim_seeds_1_500);
  RUN(test_pq_conn_sim_seeds_501_1000);
  return test_report();
}
