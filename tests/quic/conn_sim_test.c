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
  CHECK(run_until(&w, all_received, 20000 * MS));
  CHECK(!w.sapp.bad && !w.capp.bad);
  CHECK_INT(8, ==, w.sapp.fins);
  for (int i = 0; i < 8; i++) CHECK_INT(100000, ==, w.sapp.rx_bytes[i]);
  world_free(&w);
}

static void dbg_seed(void) {
  const char *e = getenv("PQ_SEED");
  if (e) seeded_run_ex(strtoull(e, NULL, 10), true, false, 20000);
}

static void test_pq_conn_sim_seeds(void) {
  int failed = 0;
  for (uint64_t seed = 1; seed <= 200; seed++)
    if (!seeded_run_ex(seed, failed < 5, false, 20000)) failed++;
  CHECK_INT(0, ==, failed);
}

int main(void) {
  if (getenv("PQ_SEED")) {
    dbg_seed();
    return 0;
  }
  RUN(test_pq_conn_handshake_clean_link);
  RUN(test_pq_conn_transfer_clean_link);
  RUN(test_pq_conn_sim_seeds);
  return test_report();
}
