/*
 * The connection engine with the real TLS 1.3 handshake (GnuTLS via pq_tls and the
 * pq_hs_tls driver) over the simulated link: handshake with certificate verification,
 * data transfer, a failed verification closing both sides with a CRYPTO_ERROR, and
 * seeded runs under impairments (30% loss during the handshake).
 */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "conn_harness.h"
#include "pq_cert.h"

static char other_cert[256], other_key[256];

static int make_files(const char *dir, const char *tag, char *cert, char *key) {
  pq_cert c;
  int rv;
  memset(&c, 0, sizeof(c));
  snprintf(cert, 256, "%s/%s.crt", dir, tag);
  snprintf(key, 256, "%s/%s.key", dir, tag);
  rv = pq_cert_generate(&c, "localhost", time(NULL), 30);
  if (rv == 0) rv = pq_cert_write_files(&c, cert, key);
  pq_cert_free(&c);
  return rv;
}

static void test_pq_conn_tls_handshake(void) {
  world w;
  pq_sim_config c = sim_link(10 * MS);
  world_init_ex(&w, 1, &c, &c, true, NULL);
  CHECK(run_until(&w, both_established, 5000 * MS));
  CHECK(w.capp.established && w.sapp.established);
  CHECK(w.now >= 30 * MS && w.now < 300 * MS);
  CHECK(w.client->spaces[PQ_PNS_HANDSHAKE].discarded);
  world_free(&w);
}

static void test_pq_conn_tls_transfer(void) {
  world w;
  pq_sim_config c = sim_link(20 * MS);
  world_init_ex(&w, 2, &c, &c, true, NULL);
  w.size = 200000;
  w.echo = true;
  CHECK(run_until(&w, all_received, 30000 * MS));
  CHECK(!w.sapp.bad && !w.capp.bad);
  CHECK(all_bytes_ok(&w));
  for (int i = 0; i < 8; i++) CHECK_INT(200000, ==, w.capp.rx_bytes[i]);
  world_free(&w);
}

static bool both_closed(world *w) { return w->capp.closed && w->sapp.closed; }

static void test_pq_conn_tls_bad_certificate_closes(void) {
  world w;
  pq_sim_config c = sim_link(10 * MS);
  pq_settings st;
  pq_path path;
  /* The client trusts another certificate than the one the server shows. */
  world_init_ex(&w, 3, &c, &c, true, NULL);
  pq_conn_del(w.client);
  pq_settings_default(&st);
  memset(&path, 0, sizeof(path));
  CHECK_INT(0, ==, pq_conn_client_new(&w.client, &st, &cbs, &path, "localhost", other_cert,
                                      false, &w.capp, 0));
  CHECK(run_until(&w, both_closed, 10000 * MS));
  CHECK(!w.capp.established);
  CHECK(!w.capp.close.by_peer);
  CHECK(w.capp.close.error_code >= 0x100 && w.capp.close.error_code < 0x200);
  CHECK(w.sapp.close.by_peer); /* the server heard the client's CONNECTION_CLOSE */
  CHECK_INT(w.capp.close.error_code, ==, w.sapp.close.error_code);
  world_free(&w);
}

/* The certificate is for "localhost", the client expects "example.com": both sides learn
 * why in words (the client's reason travels in its CONNECTION_CLOSE), with the alert
 * bad_certificate (42). */
static void test_pq_conn_tls_wrong_name_reason(void) {
  world w;
  pq_sim_config c = sim_link(10 * MS);
  pq_settings st;
  pq_path path;
  world_init_ex(&w, 5, &c, &c, true, NULL);
  pq_conn_del(w.client);
  pq_settings_default(&st);
  memset(&path, 0, sizeof(path));
  CHECK_INT(0, ==, pq_conn_client_new(&w.client, &st, &cbs, &path, "example.com", harness_cert,
                                      false, &w.capp, 0));
  CHECK(run_until(&w, both_closed, 10000 * MS));
  CHECK(!w.capp.established);
  CHECK(!w.capp.close.by_peer);
  CHECK_INT(0x100 + 42, ==, w.capp.close.error_code);
  if (!strstr(w.capp.close_reason, "certificate") || !strstr(w.capp.close_reason, "name mismatch") ||
      !strstr(w.capp.close_reason, "\"example.com\"") ||
      !strstr(w.capp.close_reason, "does not match")) {
    fprintf(stderr, "  client's reason: '%s'\n", w.capp.close_reason);
    CHECK(!"the client's reason names the certificate name mismatch");
  }
  CHECK(w.sapp.close.by_peer);
  CHECK_INT(0x100 + 42, ==, w.sapp.close.error_code);
  CHECK_STR(w.capp.close_reason, w.sapp.close_reason);
  world_free(&w);
}

/* The server refuses (no common cipher suite): the client's close is by the peer and
 * carries the server's reason from its CONNECTION_CLOSE. */
static void test_pq_conn_tls_peer_reason(void) {
  world w;
  pq_sim_config c = sim_link(10 * MS);
  pq_settings sst, cst;
  pq_path path;
  pq_settings_default(&sst);
  sst.ciphers = PQ_CIPHER_CHACHA20_POLY1305;
  world_init_ex(&w, 7, &c, &c, true, &sst);
  pq_conn_del(w.client);
  pq_settings_default(&cst);
  cst.ciphers = PQ_CIPHER_AES_128_GCM;
  memset(&path, 0, sizeof(path));
  CHECK_INT(0, ==, pq_conn_client_new(&w.client, &cst, &cbs, &path, "localhost", harness_cert,
                                      false, &w.capp, 0));
  CHECK(run_until(&w, both_closed, 10000 * MS));
  CHECK(!w.capp.established);
  CHECK(w.capp.close.by_peer);
  CHECK_INT(0x100 + 40, ==, w.capp.close.error_code); /* handshake_failure */
  if (!strstr(w.capp.close_reason, "no common cipher suite") ||
      !strstr(w.capp.close_reason, "CHACHA20-POLY1305")) {
    fprintf(stderr, "  client's reason: '%s'\n", w.capp.close_reason);
    CHECK(!"the server's reason reached the client");
  }
  CHECK(!w.sapp.close.by_peer);
  CHECK_STR(w.sapp.close_reason, w.capp.close_reason);
  world_free(&w);
}

/* A close that is not a TLS failure has no reason (nothing stale from the driver). */
static void test_pq_conn_tls_app_close_reason(void) {
  world w;
  pq_sim_config c = sim_link(10 * MS);
  world_init_ex(&w, 6, &c, &c, true, NULL);
  CHECK(run_until(&w, both_established, 5000 * MS));
  CHECK_INT(0, ==, pq_conn_close(w.client, 0x100, "bye", w.now));
  CHECK(run_until(&w, both_closed, 10000 * MS));
  CHECK(w.sapp.close.by_peer && w.sapp.close.application);
  CHECK_STR("bye", w.sapp.close_reason);
  CHECK_STR("bye", w.capp.close_reason);
  world_free(&w);
}

static void test_pq_conn_tls_retry(void) {
  world w;
  pq_settings st;
  pq_sim_config c = sim_link(10 * MS);
  pq_settings_default(&st);
  st.retry = true;
  world_init_ex(&w, 4, &c, &c, true, &st);
  w.size = 10000;
  w.echo = true;
  CHECK(run_until(&w, all_received, 10000 * MS));
  CHECK(all_bytes_ok(&w));
  CHECK(w.client->retry_received);
  world_free(&w);
}

static void test_pq_conn_tls_sim_seeds(void) {
  int failed = 0;
  pq_settings st;
  pq_settings_default(&st);
  st.max_idle_timeout = 120000 * MS;
  for (uint64_t seed = 1; seed <= 100; seed++)
    if (!seeded_run_ex(seed, failed < 5, true, &st)) failed++;
  CHECK_INT(0, ==, failed);
}

int main(void) {
  char dir[] = "/tmp/pq_conn_tls_XXXXXX";
  if (!mkdtemp(dir) || make_files(dir, "server", harness_cert, harness_key) ||
      make_files(dir, "other", other_cert, other_key)) {
    fprintf(stderr, "cannot make certificates\n");
    return 1;
  }
  RUN(test_pq_conn_tls_handshake);
  RUN(test_pq_conn_tls_transfer);
  RUN(test_pq_conn_tls_bad_certificate_closes);
  RUN(test_pq_conn_tls_wrong_name_reason);
  RUN(test_pq_conn_tls_app_close_reason);
  RUN(test_pq_conn_tls_peer_reason);
  RUN(test_pq_conn_tls_retry);
  RUN(test_pq_conn_tls_sim_seeds);
  unlink(harness_cert);
  unlink(harness_key);
  unlink(other_cert);
  unlink(other_key);
  rmdir(dir);
  return test_report();
}
