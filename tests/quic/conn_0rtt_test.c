/*
 * Session resumption and 0-RTT (RFC 9000 §7.4.1, RFC 9001 §4.6): the session blob
 * (round trip, malformed blobs), and client and server with real TLS 1.3 over the
 * simulated link: a first connection gets a ticket, a second one sends stream data in
 * 0-RTT that the server receives before the handshake completes (every byte checked),
 * a rejected 0-RTT whose data still arrives in 1-RTT, a 0-RTT datagram arriving before
 * the Initial, 0-RTT after a Retry, a malformed blob, and disallowed frames in 0-RTT
 * closing the connection with PROTOCOL_VIOLATION.
 */
#include <time.h>
#include <unistd.h>

#include "conn_harness.h"
#include "pq_cert.h"
#include "pq_session.h"

/* What the tests' callbacks saw, beyond the harness's app. */
static uint8_t g_blob[PQ_SESSION_MAX];
static size_t g_blob_len;
static int g_tickets;
static uint64_t g_early_rx;   /* server: stream bytes received before handshake_done */
static app *g_sapp;           /* the server's app (for the count above) */

static void on_ticket(pq_conn *c, const uint8_t *blob, size_t len, void *user) {
  g_tickets++;
  if (len <= sizeof(g_blob)) {
    memcpy(g_blob, blob, len);
    g_blob_len = len;
  }
}

static int on_data0(pq_conn *c, int64_t sid, const uint8_t *d, size_t len, bool fin,
                    void *user) {
  if (user == g_sapp && !g_sapp->established) g_early_rx += len;
  return on_data(c, sid, d, len, fin, user);
}

static pq_callbacks cbs0(void) {
  pq_callbacks cb = cbs;
  cb.stream_data = on_data0;
  cb.session_ticket = on_ticket;
  return cb;
}

/* A TLS world whose server accepts 0-RTT (|early|) and may answer with Retry. */
static void world0_init(world *w, uint64_t seed, const pq_sim_config *link, bool early,
                        bool retry) {
  pq_settings st;
  pq_callbacks cb = cbs0();
  pq_path path;
  memset(w, 0, sizeof(*w));
  set_remote(&w->spath, 0x0a000001, 1000);
  pq_sim_init(&w->sim, link, link, seed);
  pq_settings_default(&st);
  st.early_data = early;
  st.retry = retry;
  memset(&path, 0, sizeof(path));
  g_sapp = &w->sapp;
  g_early_rx = 0;
  g_tickets = 0;
  g_blob_len = 0;
  CHECK_INT(0, ==, pq_server_new(&w->server, &st, &cb, harness_cert, harness_key, &w->sapp));
  pq_settings_default(&st);
  CHECK_INT(0, ==, pq_conn_client_new(&w->client, &st, &cb, &path, "localhost", harness_cert,
                                      false, &w->capp, 0));
}

static bool got_ticket(world *w) { return both_established(w) && g_blob_len > 0; }

/* First connection: handshake until the client holds a ticket; then it closes. */
static bool first_connection(world *w) {
  bool ok = run_until(w, got_ticket, w->now + 5000 * MS);
  CHECK(ok);
  CHECK_INT(PQ_EARLY_NONE, ==, pq_conn_early_data(w->client));
  if (w->client) pq_conn_close(w->client, 0, "bye", w->now);
  flush(w);
  return ok;
}

/* A second client on a fresh link (same server unless |server| is given) resuming the
 * session blob |blob|; the server connection is picked up by step(). */
static void second_connection(world *w, uint64_t seed, const pq_sim_config *link,
                              const uint8_t *blob, size_t len, pq_server *server) {
  pq_settings st;
  pq_callbacks cb = cbs0();
  pq_path path;
  pq_conn_del(w->client);
  w->client = NULL;
  if (server) {
    pq_server_del(w->server);
    w->server = server;
  }
  pq_sim_free(&w->sim);
  pq_sim_init(&w->sim, link, link, seed);
  memset(&w->capp, 0, sizeof(w->capp));
  memset(&w->sapp, 0, sizeof(w->sapp));
  w->sconn = NULL;
  w->opened = 0;
  memset(w->sent, 0, sizeof(w->sent));
  memset(w->fin_sent, 0, sizeof(w->fin_sent));
  memset(w->echoed, 0, sizeof(w->echoed));
  memset(w->echo_fin, 0, sizeof(w->echo_fin));
  g_early_rx = 0;
  pq_settings_default(&st);
  st.session = blob;
  st.session_len = len;
  memset(&path, 0, sizeof(path));
  CHECK_INT(0, ==, pq_conn_client_new(&w->client, &st, &cb, &path, "localhost", harness_cert,
                                      false, &w->capp, w->now));
}

/* The client opens one stream and writes |size| bytes + FIN before anything is sent. */
static void write_early(world *w, uint64_t size) {
  int64_t id;
  w->nstreams = 1;
  w->size = size;
  CHECK_INT(0, ==, pq_conn_open_stream(w->client, true, &id));
  w->sid[0] = id;
  w->opened = 1;
  pump(w->client, id, &w->sent[0], size, true, &w->fin_sent[0], &w->capp.bad);
  CHECK(w->fin_sent[0]);
}

/* ---- the blob ---- */

static void sample_tp(pq_tp *tp) {
  pq_tp_default(tp);
  tp->active_connection_id_limit = 4;
  tp->initial_max_data = 16 << 20;
  tp->initial_max_stream_data_bidi_local = 1 << 20;
  tp->initial_max_stream_data_bidi_remote = 70000;
  tp->initial_max_stream_data_uni = 63;
  tp->initial_max_streams_bidi = 100;
  tp->initial_max_streams_uni = UINT64_C(1) << 60;
  tp->max_datagram_frame_size = 0;
}

static void test_pq_session_blob_round_trip(void) {
  uint8_t ticket[300], blob[PQ_SESSION_MAX];
  pq_tp tp;
  pq_session s;
  const char *why = NULL;
  ssize_t n;
  for (size_t i = 0; i < sizeof(ticket); i++) ticket[i] = (uint8_t)(i * 7);
  sample_tp(&tp);
  n = pq_session_encode(ticket, sizeof(ticket), &tp, blob, sizeof(blob));
  CHECK(n > (ssize_t)(PQ_SESSION_HEADER + sizeof(ticket)));
  CHECK_MEM("pqst", blob, 4);
  CHECK_INT(PQ_SESSION_VERSION, ==, blob[4]);
  CHECK_INT(0, ==, pq_session_decode(&s, blob, (size_t)n, &why));
  CHECK_INT(sizeof(ticket), ==, s.ticket_len);
  CHECK_MEM(ticket, s.ticket, sizeof(ticket));
  CHECK_INT(tp.active_connection_id_limit, ==, s.tp.active_connection_id_limit);
  CHECK_INT(tp.initial_max_data, ==, s.tp.initial_max_data);
  CHECK_INT(tp.initial_max_stream_data_bidi_local, ==, s.tp.initial_max_stream_data_bidi_local);
  CHECK_INT(tp.initial_max_stream_data_bidi_remote, ==,
            s.tp.initial_max_stream_data_bidi_remote);
  CHECK_INT(tp.initial_max_stream_data_uni, ==, s.tp.initial_max_stream_data_uni);
  CHECK_INT(tp.initial_max_streams_bidi, ==, s.tp.initial_max_streams_bidi);
  CHECK_INT(tp.initial_max_streams_uni, ==, s.tp.initial_max_streams_uni);
  CHECK_INT(0, ==, pq_session_check(blob, (size_t)n, NULL));
  /* too small a buffer, empty ticket, a value no varint holds */
  CHECK_INT(PQ_ERR_NOBUF, ==, pq_session_encode(ticket, sizeof(ticket), &tp, blob, 100));
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_session_encode(ticket, 0, &tp, blob, sizeof(blob)));
  tp.initial_max_data = UINT64_MAX;
  CHECK_INT(PQ_ERR_INVALID_ARG, ==,
            pq_session_encode(ticket, sizeof(ticket), &tp, blob, sizeof(blob)));
}

static void test_pq_session_blob_malformed(void) {
  uint8_t ticket[40], blob[PQ_SESSION_MAX], bad[PQ_SESSION_MAX + 1];
  pq_tp tp;
  pq_session s;
  const char *why;
  ssize_t n;
  int prefix_ok = 0;
  memset(ticket, 0xab, sizeof(ticket));
  sample_tp(&tp);
  n = pq_session_encode(ticket, sizeof(ticket), &tp, blob, sizeof(blob));
  CHECK(n > 0);
  /* every proper prefix is refused, with a reason */
  for (ssize_t k = 0; k < n; k++) {
    why = NULL;
    if (pq_session_check(blob, (size_t)k, &why) == PQ_ERR_INVALID_ARG && why && why[0])
      prefix_ok++;
  }
  CHECK_INT(n, ==, prefix_ok);
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_session_check(NULL, 10, &why));
  /* trailing byte */
  memcpy(bad, blob, (size_t)n);
  bad[n] = 0;
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_session_decode(&s, bad, (size_t)n + 1, &why));
  CHECK_STR("trailing bytes", why);
  /* magic, version */
  memcpy(bad, blob, (size_t)n);
  bad[0] = 'x';
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_session_decode(&s, bad, (size_t)n, &why));
  CHECK_STR("not a pluginop session (bad magic)", why);
  memcpy(bad, blob, (size_t)n);
  bad[4] = 2;
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_session_decode(&s, bad, (size_t)n, &why));
  CHECK_STR("unsupported session version", why);
  /* ticket lengths: 0, huge, longer than the blob */
  memcpy(bad, blob, (size_t)n);
  bad[5] = bad[6] = bad[7] = bad[8] = 0;
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_session_decode(&s, bad, (size_t)n, &why));
  CHECK_STR("ticket length out of range", why);
  memcpy(bad, blob, (size_t)n);
  bad[5] = 0xff;
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_session_decode(&s, bad, (size_t)n, &why));
  CHECK_STR("ticket length out of range", why);
  memcpy(bad, blob, (size_t)n);
  bad[8] = (uint8_t)(sizeof(ticket) + 100);
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_session_decode(&s, bad, (size_t)n, &why));
  CHECK_STR("truncated ticket", why);
  /* parameters out of range: active_connection_id_limit 1, too many streams */
  tp.active_connection_id_limit = 1;
  n = pq_session_encode(ticket, sizeof(ticket), &tp, bad, sizeof(bad));
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_session_decode(&s, bad, (size_t)n, &why));
  CHECK_STR("invalid transport parameters", why);
  sample_tp(&tp);
  tp.initial_max_streams_bidi = (UINT64_C(1) << 60) + 1;
  n = pq_session_encode(ticket, sizeof(ticket), &tp, bad, sizeof(bad));
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_session_decode(&s, bad, (size_t)n, &why));
}

/* ---- connections ---- */

static bool server_has_all(world *w) {
  return w->sapp.fins == w->nstreams && w->sapp.rx_bytes[0] == w->size;
}

static void test_pq_conn_0rtt_accepted(void) {
  world w;
  pq_sim_config link = sim_link(10 * MS);
  pq_conn_stats cs, ss;
  pq_tstamp t0;
  world0_init(&w, 11, &link, true, false);
  CHECK(first_connection(&w));
  CHECK_INT(1, <=, g_tickets);
  CHECK_INT(0, ==, pq_session_check(g_blob, g_blob_len, NULL));
  second_connection(&w, 12, &link, g_blob, g_blob_len, NULL);
  CHECK_INT(PQ_EARLY_OFFERED, ==, pq_conn_early_data(w.client));
  write_early(&w, 8000);
  t0 = w.now;
  CHECK(run_until(&w, server_has_all, w.now + 5000 * MS));
  CHECK(all_bytes_ok(&w));
  /* Within one round trip (20 ms): 1-RTT data could not arrive before 30 ms. */
  if (getenv("PQ_VERBOSE"))
    fprintf(stderr, "0-RTT: 8000 bytes at the server after %.1f ms\n",
            (double)(w.now - t0) / MS);
  CHECK(w.now - t0 < 20 * MS);
  /* All of it came in 0-RTT: before the server's handshake completed. */
  CHECK_INT(8000, ==, g_early_rx);
  CHECK(run_until(&w, both_established, w.now + 5000 * MS));
  CHECK_INT(PQ_EARLY_ACCEPTED, ==, pq_conn_early_data(w.client));
  CHECK_INT(PQ_EARLY_ACCEPTED, ==, pq_conn_early_data(w.sconn));
  pq_conn_get_stats(w.client, &cs);
  pq_conn_get_stats(w.sconn, &ss);
  CHECK(cs.packets_0rtt >= 7); /* 8000 bytes: at least 7 packets */
  CHECK_INT(cs.packets_0rtt, ==, ss.packets_0rtt);
  CHECK(!w.client->has_early); /* the client dropped 0-RTT keys with 1-RTT ones */
  /* The server drops them three PTOs after its first 1-RTT packet. */
  w.sim.handshake = false;
  w.now += 2000 * MS;
  step(&w);
  pq_conn_read(w.sconn, NULL, (const uint8_t *)"x", 1, w.now); /* any read checks */
  CHECK(!w.sconn->has_early);
  world_free(&w);
}

/* More data than the congestion window lets out in 0-RTT, echoed back: what 0-RTT
 * cannot carry goes in 1-RTT. */
static void test_pq_conn_0rtt_large_transfer(void) {
  world w;
  pq_sim_config link = sim_link(20 * MS);
  world0_init(&w, 21, &link, true, false);
  CHECK(first_connection(&w));
  second_connection(&w, 22, &link, g_blob, g_blob_len, NULL);
  w.echo = true;
  write_early(&w, 300000);
  CHECK(run_until(&w, all_received, w.now + 20000 * MS));
  CHECK(all_bytes_ok(&w));
  CHECK_INT(300000, ==, w.capp.rx_bytes[0]);
  CHECK(g_early_rx > 5000 && g_early_rx < 300000);
  CHECK_INT(PQ_EARLY_ACCEPTED, ==, pq_conn_early_data(w.client));
  world_free(&w);
}

/* The ticket comes from another server (unknown ticket key: full handshake), or the
 * server does not accept 0-RTT: everything sent in 0-RTT arrives in 1-RTT. */
static void test_pq_conn_0rtt_rejected_data_arrives(void) {
  for (int variant = 0; variant < 2; variant++) {
    world w;
    pq_sim_config link = sim_link(10 * MS);
    pq_settings st;
    pq_callbacks cb = cbs0();
    pq_server *other = NULL;
    pq_conn_stats cs, ss;
    world0_init(&w, 31 + (uint64_t)variant, &link, true, false);
    CHECK(first_connection(&w));
    pq_settings_default(&st);
    st.early_data = variant == 0; /* 0: another server; 1: one that refuses 0-RTT */
    CHECK_INT(0, ==, pq_server_new(&other, &st, &cb, harness_cert, harness_key, &w.sapp));
    second_connection(&w, 33, &link, g_blob, g_blob_len, other);
    CHECK_INT(PQ_EARLY_OFFERED, ==, pq_conn_early_data(w.client));
    write_early(&w, 20000);
    CHECK(run_until(&w, server_has_all, w.now + 10000 * MS));
    CHECK(all_bytes_ok(&w));
    CHECK_INT(0, ==, g_early_rx);
    CHECK_INT(PQ_EARLY_REJECTED, ==, pq_conn_early_data(w.client));
    CHECK_INT(PQ_EARLY_NONE, ==, pq_conn_early_data(w.sconn));
    pq_conn_get_stats(w.client, &cs);
    pq_conn_get_stats(w.sconn, &ss);
    CHECK(cs.packets_0rtt > 0);
    CHECK_INT(0, ==, ss.packets_0rtt);
    world_free(&w);
  }
}

/* A 0-RTT-only datagram reaching the server before the Initial is kept and handed to
 * the connection the Initial creates. */
static void test_pq_conn_0rtt_before_initial(void) {
  world w;
  pq_sim_config link = sim_link(10 * MS);
  uint8_t d1[1500], d2[1500];
  ssize_t n1, n2;
  pq_conn *c = NULL;
  world0_init(&w, 41, &link, true, false);
  CHECK(first_connection(&w));
  second_connection(&w, 42, &link, g_blob, g_blob_len, NULL);
  write_early(&w, 5000);
  n1 = pq_conn_write(w.client, NULL, d1, sizeof(d1), w.now);
  n2 = pq_conn_write(w.client, NULL, d2, sizeof(d2), w.now);
  CHECK(n1 >= 1200 && n2 > 0);
  CHECK_INT(0xd0, ==, d2[0] & 0xf0); /* long header, type 0-RTT */
  CHECK_INT(PQ_ERR_DROP, ==, pq_server_read(w.server, &w.spath, d2, (size_t)n2, w.now, &c));
  CHECK(c == NULL);
  CHECK_INT(0, ==, pq_server_read(w.server, &w.spath, d1, (size_t)n1, w.now, &c));
  CHECK(c != NULL);
  w.sconn = c;
  /* both datagrams' stream bytes are there, in order */
  CHECK(w.sapp.rx_bytes[0] > (uint64_t)(n1 - 100));
  CHECK(run_until(&w, server_has_all, w.now + 5000 * MS));
  CHECK(all_bytes_ok(&w));
  CHECK_INT(5000, ==, g_early_rx);
  world_free(&w);
}

static bool server_conn_closed(world *w) { return w->sconn && pq_conn_is_closed(w->sconn); }

/* Anti-replay: an attacker replays a client's first datagram (Initial + 0-RTT) once the
 * original connection is gone. The server makes a new connection for it, but TLS
 * refuses 0-RTT for a ClientHello it has seen: the stream data is not delivered again. */
static void test_pq_conn_0rtt_replay_refused(void) {
  world w;
  pq_sim_config link = sim_link(10 * MS);
  uint8_t d1[1500];
  ssize_t n1;
  pq_conn *c = NULL;
  world0_init(&w, 91, &link, true, false);
  CHECK(first_connection(&w));
  second_connection(&w, 92, &link, g_blob, g_blob_len, NULL);
  write_early(&w, 3000);
  n1 = pq_conn_write(w.client, NULL, d1, sizeof(d1), w.now);
  CHECK(n1 >= 1200);
  CHECK_INT(0, ==, pq_server_read(w.server, &w.spath, d1, (size_t)n1, w.now, &c));
  CHECK(c != NULL);
  w.sconn = c;
  CHECK(g_early_rx > 0); /* the part of it in that datagram */
  CHECK(run_until(&w, server_has_all, w.now + 5000 * MS));
  CHECK(run_until(&w, both_established, w.now + 5000 * MS));
  CHECK_INT(PQ_EARLY_ACCEPTED, ==, pq_conn_early_data(w.sconn));
  pq_conn_close(w.client, 0, "", w.now);
  CHECK(run_until(&w, server_conn_closed, w.now + 10000 * MS));
  CHECK(pq_server_reap(w.server) >= 1);
  /* the replay */
  memset(&w.sapp, 0, sizeof(w.sapp));
  g_early_rx = 0;
  c = NULL;
  pq_server_read(w.server, &w.spath, d1, (size_t)n1, w.now, &c);
  CHECK(c != NULL);
  if (c) {
    CHECK(!c->has_early);
    CHECK_INT(0, ==, c->stats.packets_0rtt);
  }
  CHECK_INT(0, ==, g_early_rx);
  CHECK_INT(0, ==, w.sapp.rx_bytes[0]);
  world_free(&w);
}

/* Retry: the 0-RTT packets sent before it are dropped by the server and sent again
 * after it; the retried ClientHello still carries 0-RTT. */
static void test_pq_conn_0rtt_after_retry(void) {
  world w;
  pq_sim_config link = sim_link(10 * MS);
  world0_init(&w, 51, &link, true, true);
  CHECK(first_connection(&w));
  second_connection(&w, 52, &link, g_blob, g_blob_len, NULL);
  write_early(&w, 6000);
  CHECK(run_until(&w, server_has_all, w.now + 5000 * MS));
  CHECK(all_bytes_ok(&w));
  CHECK(w.client->retry_received);
  CHECK(run_until(&w, both_established, w.now + 5000 * MS));
  CHECK_INT(PQ_EARLY_ACCEPTED, ==, pq_conn_early_data(w.client));
  CHECK_INT(6000, ==, g_early_rx);
  world_free(&w);
}

/* A blob that does not parse: no resumption, the handshake goes on. */
static void test_pq_conn_0rtt_bad_blob_full_handshake(void) {
  world w;
  pq_sim_config link = sim_link(10 * MS);
  uint8_t junk[64];
  int64_t id;
  memset(junk, 0x5a, sizeof(junk));
  world0_init(&w, 61, &link, true, false);
  CHECK(first_connection(&w));
  second_connection(&w, 62, &link, junk, sizeof(junk), NULL);
  CHECK_INT(PQ_EARLY_BAD_SESSION, ==, pq_conn_early_data(w.client));
  CHECK_INT(PQ_ERR_STREAM_LIMIT, ==, pq_conn_open_stream(w.client, true, &id));
  CHECK(run_until(&w, both_established, w.now + 5000 * MS));
  CHECK_INT(PQ_EARLY_BAD_SESSION, ==, pq_conn_early_data(w.client));
  /* a valid blob with a corrupted ticket: TLS cannot use it */
  CHECK(g_blob_len > 20);
  g_blob[PQ_SESSION_HEADER + 2] ^= 0xff;
  g_blob[PQ_SESSION_HEADER] ^= 0xff;
  second_connection(&w, 63, &link, g_blob, g_blob_len, NULL);
  CHECK(pq_conn_early_data(w.client) == PQ_EARLY_BAD_SESSION ||
        pq_conn_early_data(w.client) == PQ_EARLY_OFFERED);
  w.nstreams = 0;
  CHECK(run_until(&w, both_established, w.now + 5000 * MS));
  CHECK(pq_conn_early_data(w.client) != PQ_EARLY_ACCEPTED);
  world_free(&w);
}

/* A client that resumes without offering 0-RTT (pq_hs_config.early_data off): no
 * 0-RTT keys, no early streams, a resumed handshake. */
static void test_pq_conn_0rtt_not_offered(void) {
  world w;
  pq_sim_config link = sim_link(10 * MS);
  pq_settings st;
  pq_callbacks cb = cbs0();
  pq_hs_config cfg;
  pq_path path;
  int64_t id;
  world0_init(&w, 101, &link, true, false);
  CHECK(first_connection(&w));
  second_connection(&w, 102, &link, g_blob, g_blob_len, NULL);
  pq_conn_del(w.client);
  pq_settings_default(&st);
  st.session = g_blob;
  st.session_len = g_blob_len;
  memset(&cfg, 0, sizeof(cfg));
  cfg.server_name = "localhost";
  cfg.ca_file = harness_cert;
  cfg.resumption = true;
  memset(&path, 0, sizeof(path));
  CHECK_INT(0, ==, pq_conn_client_new_ex(&w.client, &st, &cb, &path, &pq_hs_tls, &cfg,
                                         &w.capp, w.now));
  CHECK_INT(PQ_EARLY_NOT_OFFERED, ==, pq_conn_early_data(w.client));
  CHECK(!w.client->has_early);
  CHECK_INT(PQ_ERR_STREAM_LIMIT, ==, pq_conn_open_stream(w.client, true, &id));
  CHECK(run_until(&w, both_established, w.now + 5000 * MS));
  CHECK_INT(PQ_EARLY_NOT_OFFERED, ==, pq_conn_early_data(w.client));
  CHECK_INT(PQ_EARLY_NONE, ==, pq_conn_early_data(w.sconn));
  CHECK_INT(0, ==, w.client->stats.packets_0rtt);
  world_free(&w);
}

static bool client_closed(world *w) { return w->capp.closed; }

/* 0-RTT carrying a frame RFC 9000 Table 3 does not allow there (ACK, CRYPTO,
 * HANDSHAKE_DONE, NEW_TOKEN, PATH_RESPONSE): the server closes with
 * PROTOCOL_VIOLATION. A 0-RTT packet with PING only is fine. */
static void test_pq_conn_0rtt_disallowed_frame_closes(void) {
  static const uint8_t frames[][10] = {
      {1, PQ_FT_PING},
      {5, PQ_FT_ACK, 0, 0, 0, 0},
      {4, PQ_FT_CRYPTO, 0, 1, 0x42},
      {1, PQ_FT_HANDSHAKE_DONE},
      {3, PQ_FT_NEW_TOKEN, 1, 0x42},
      {9, PQ_FT_PATH_RESPONSE, 1, 2, 3, 4, 5, 6, 7, 8},
  };
  for (size_t v = 0; v < sizeof(frames) / sizeof(frames[0]); v++) {
    world w;
    pq_sim_config link = sim_link(10 * MS);
    uint8_t d[1500];
    ssize_t n;
    pq_pkt_build b;
    pq_pkt_hdr h;
    int hl, pl, rv;
    pq_conn *c = NULL;
    world0_init(&w, 71 + v, &link, true, false);
    CHECK(first_connection(&w));
    second_connection(&w, 81 + v, &link, g_blob, g_blob_len, NULL);
    CHECK(w.client->has_early);
    n = pq_conn_write(w.client, NULL, d, sizeof(d), w.now); /* the Initial, padded */
    CHECK(n >= 1200 && n < 1300);
    /* a 0-RTT packet after it, sealed with the client's 0-RTT keys */
    memset(&b, 0, sizeof(b));
    b.type = PQ_PKT_0RTT;
    b.version = PQ_VERSION_1;
    b.dcid = w.client->dcid;
    b.dcid_len = w.client->dcid_len;
    b.scid = w.client->scid;
    b.scid_len = w.client->scid_len;
    b.pn = w.client->spaces[PQ_PNS_APP].next_pn++;
    b.pn_len = 2;
    hl = pq_pkt_write_header(d + n, sizeof(d) - (size_t)n, &b, &h);
    CHECK(hl > 0);
    memcpy(d + n + hl, &frames[v][1], frames[v][0]);
    pl = pq_pkt_seal(d + n, sizeof(d) - (size_t)n, &h, frames[v][0], &w.client->early.aead,
                     &w.client->early.hp);
    CHECK(pl > 0);
    rv = pq_server_read(w.server, &w.spath, d, (size_t)n + (size_t)pl, w.now, &c);
    CHECK(c != NULL);
    w.sconn = c;
    if (v == 0) { /* PING: allowed */
      CHECK_INT(0, ==, rv);
      CHECK(!w.sapp.closed);
      CHECK(run_until(&w, both_established, w.now + 5000 * MS));
      CHECK_INT(1, ==, w.sconn->stats.packets_0rtt);
    } else {
      CHECK_INT(PQ_ERR_PROTOCOL, ==, rv);
      CHECK(w.sapp.closed);
      CHECK_INT(PQ_TE_PROTOCOL_VIOLATION, ==, w.sapp.close.error_code);
      CHECK(!w.sapp.close.by_peer);
      CHECK(!pq_conn_is_established(w.sconn));
      /* The close goes in Initial too: the client has no other keys yet. */
      CHECK(run_until(&w, client_closed, w.now + 1000 * MS));
      CHECK(w.capp.close.by_peer);
      CHECK_INT(PQ_TE_PROTOCOL_VIOLATION, ==, w.capp.close.error_code);
    }
    world_free(&w);
  }
}

/* Seeded runs under loss, reordering and duplication: a ticket, then a second
 * connection sending in 0-RTT; every byte arrives. Every third run goes to another
 * server, which cannot resume the ticket: 0-RTT is rejected there. */
static void test_pq_conn_0rtt_sim_seeds(void) {
  int failed = 0, accepted = 0, rejected = 0;
  for (uint64_t seed = 1; seed <= 90; seed++) {
    world w;
    pq_sim_config link = sim_link((1 + seed % 30) * MS);
    pq_server *other = NULL;
    bool ok;
    world0_init(&w, seed, &link, true, false);
    if (!first_connection(&w)) {
      world_free(&w);
      failed++;
      continue;
    }
    link.loss_ppm = (uint32_t)(seed * 1500 % 50000);
    link.handshake_loss_ppm = 200000;
    link.reorder_ppm = 30000;
    link.reorder_delay = 3 * MS;
    link.dup_ppm = 10000;
    if (seed % 3 == 0) {
      pq_settings st;
      pq_callbacks cb = cbs0();
      pq_settings_default(&st);
      st.early_data = true;
      CHECK_INT(0, ==,
                pq_server_new(&other, &st, &cb, harness_cert, harness_key, &w.sapp));
    }
    second_connection(&w, seed + 1000, &link, g_blob, g_blob_len, other);
    w.echo = seed % 2 == 0;
    write_early(&w, 1000 + seed * 997);
    ok = run_until(&w, all_received, w.now + 60000 * MS) && all_bytes_ok(&w) &&
         run_until(&w, both_established, w.now + 60000 * MS);
    if (!ok) {
      failed++;
      fprintf(stderr, "0-RTT seed %llu failed: early %s, rx %llu of %llu\n",
              (unsigned long long)seed, pq_early_data_str(pq_conn_early_data(w.client)),
              (unsigned long long)w.sapp.rx_bytes[0], (unsigned long long)w.size);
    }
    if (pq_conn_early_data(w.client) == PQ_EARLY_ACCEPTED) accepted++;
    else if (seed % 3 == 0 && pq_conn_early_data(w.client) == PQ_EARLY_REJECTED) rejected++;
    else if (getenv("PQ_VERBOSE"))
      fprintf(stderr, "seed %llu: 0-RTT %s, server %s\n", (unsigned long long)seed,
              pq_early_data_str(pq_conn_early_data(w.client)),
              w.sconn ? pq_early_data_str(pq_conn_early_data(w.sconn)) : "-");
    world_free(&w);
  }
  if (getenv("PQ_VERBOSE"))
    fprintf(stderr, "0-RTT seeds: %d of 60 accepted, %d of 30 rejected\n", accepted, rejected);
  CHECK_INT(0, ==, failed);
  CHECK_INT(60, ==, accepted);
  CHECK_INT(30, ==, rejected);
}

static int make_files(const char *dir, char *cert, char *key) {
  pq_cert c;
  int rv;
  memset(&c, 0, sizeof(c));
  snprintf(cert, 256, "%s/server.crt", dir);
  snprintf(key, 256, "%s/server.key", dir);
  rv = pq_cert_generate(&c, "localhost", time(NULL), 30);
  if (rv == 0) rv = pq_cert_write_files(&c, cert, key);
  pq_cert_free(&c);
  return rv;
}

int main(void) {
  char dir[] = "/tmp/pq_conn_0rtt_XXXXXX";
  (void)seeded_run_ex; /* the harness's, unused here */
  RUN(test_pq_session_blob_round_trip);
  RUN(test_pq_session_blob_malformed);
  if (!mkdtemp(dir) || make_files(dir, harness_cert, harness_key)) {
    fprintf(stderr, "cannot make certificates\n");
    return 1;
  }
  RUN(test_pq_conn_0rtt_accepted);
  RUN(test_pq_conn_0rtt_large_transfer);
  RUN(test_pq_conn_0rtt_rejected_data_arrives);
  RUN(test_pq_conn_0rtt_before_initial);
  RUN(test_pq_conn_0rtt_replay_refused);
  RUN(test_pq_conn_0rtt_after_retry);
  RUN(test_pq_conn_0rtt_bad_blob_full_handshake);
  RUN(test_pq_conn_0rtt_not_offered);
  RUN(test_pq_conn_0rtt_disallowed_frame_closes);
  RUN(test_pq_conn_0rtt_sim_seeds);
  unlink(harness_cert);
  unlink(harness_key);
  rmdir(dir);
  return test_report();
}
