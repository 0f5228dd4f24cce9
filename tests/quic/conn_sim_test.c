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
static void bulk_goodput(const char *cc) {
  world w;
  pq_sim_config c = sim_link(20 * MS);
  pq_conn_stats cs;
  pq_settings st;
  double secs;
  c.bandwidth = 40000000;
  c.queue_bytes = 200000;
  pq_settings_default(&st);
  st.cc_algorithm = cc;
  world_init_ex(&w, 7, &c, &c, false, &st);
  CHECK_STR(cc, w.client->cc.algo->name);
  w.nstreams = 1;
  w.size = 4000000;
  CHECK(run_until(&w, all_received, 60000 * MS));
  CHECK(all_bytes_ok(&w));
  secs = (double)w.now / 1e9;
  pq_conn_get_stats(w.client, &cs);
  if (getenv("PQ_VERBOSE"))
    fprintf(stderr, "bulk %s: %.3f s, %.1f Mbit/s, lost %llu, cwnd %llu, srtt %.1f ms\n", cc, secs,
            4e6 * 8 / secs / 1e6, (unsigned long long)cs.packets_lost,
            (unsigned long long)cs.cwnd, cs.smoothed_rtt / 1e6);
  CHECK(secs < 2.0);
  world_free(&w);
}

static void test_pq_conn_bulk_goodput(void) { bulk_goodput("newreno"); }

/* PMTU: on a link carrying 1500 bytes both sides move to 1452-byte datagrams after one
 * probe; on a link limited to 1300 the probes vanish (no congestion reaction) and the
 * connection stays at 1200 and works. */
static void test_pq_conn_pmtu(void) {
  world w;
  pq_sim_config c = sim_link(10 * MS);
  world_init(&w, 19, &c, &c);
  w.size = 200000;
  w.echo = true;
  CHECK(run_until(&w, all_received, 20000 * MS));
  CHECK(all_bytes_ok(&w));
  CHECK_INT(PQ_CONN_PMTU_PROBE, ==, w.client->mds);
  CHECK_INT(PQ_CONN_PMTU_PROBE, ==, w.sconn->mds);
  world_free(&w);
  c.mtu = 1300;
  c.bandwidth = 0; /* no queue drops: any congestion event would come from the probes */
  world_init(&w, 20, &c, &c);
  w.size = 200000;
  w.echo = true;
  CHECK(run_until(&w, all_received, 20000 * MS));
  CHECK(all_bytes_ok(&w));
  CHECK_INT(PQ_CONN_MDS, ==, w.client->mds);
  CHECK(w.sim.dir[PQ_SIM_C2S].stats.too_big >= 1);
  CHECK_INT(0, ==, w.client->cc.congestion_events);
  CHECK_INT(0, ==, w.sconn->cc.congestion_events);
  world_free(&w);
}
static void test_pq_conn_bulk_goodput_cubic(void) { bulk_goodput("cubic"); }

static void test_pq_conn_cubic_seeds(void) {
  int failed = 0;
  pq_settings st;
  pq_settings_default(&st);
  st.cc_algorithm = "cubic";
  st.max_idle_timeout = 120000 * MS;
  for (uint64_t seed = 4001; seed <= 4200; seed++)
    if (!seeded_run_ex(seed, failed < 5, false, &st)) failed++;
  CHECK_INT(0, ==, failed);
}

/* Key updates (RFC 9001 §6) started by either side every 50 ms during a transfer on a
 * link that reorders and loses: every byte still arrives and both sides end in the
 * same phase having followed each other. */
static pq_tstamp next_update;
static int update_turn, updates_started;

static bool transfer_with_updates(world *w) {
  if (w->now >= next_update && w->sconn && pq_conn_is_established(w->sconn)) {
    pq_conn *c = (update_turn & 1) ? w->sconn : w->client;
    if (pq_conn_update_key(c, w->now) == 0) {
      updates_started++;
      update_turn++;
    }
    next_update = w->now + 50 * MS;
  }
  return all_received(w);
}

static void test_pq_conn_key_update(void) {
  world w;
  pq_sim_config c = sim_link(10 * MS);
  c.loss_ppm = 20000;
  c.reorder_ppm = 50000;
  c.reorder_delay = 3 * MS;
  world_init(&w, 8, &c, &c);
  w.size = 300000;
  w.nstreams = 4;
  w.echo = true;
  next_update = 0;
  update_turn = updates_started = 0;
  CHECK(run_until(&w, transfer_with_updates, 60000 * MS));
  CHECK(all_bytes_ok(&w));
  CHECK(updates_started >= 4);
  if (getenv("PQ_VERBOSE"))
    fprintf(stderr, "key updates: %d started, client %llu, server %llu, %.0f ms\n", updates_started,
            (unsigned long long)w.client->key_updates, (unsigned long long)w.sconn->key_updates,
            w.now / 1e6);
  CHECK_INT(w.client->key_phase, ==, w.sconn->key_phase);
  CHECK(w.client->key_updates >= (uint64_t)updates_started - 1);
  CHECK(w.sconn->key_updates >= (uint64_t)updates_started - 1);
  /* Not allowed before the handshake is confirmed. */
  world_free(&w);
  world_init(&w, 9, &c, &c);
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_conn_update_key(w.client, 0));
  world_free(&w);
}

/* An unknown version gets a Version Negotiation listing v1, with the CIDs swapped;
 * a datagram too small to be a first flight gets nothing. */
static void test_pq_conn_server_version_negotiation(void) {
  pq_server *srv;
  pq_settings st;
  pq_conn *c = (pq_conn *)1;
  pq_pkt_hdr h;
  uint8_t d[1200], out[1500];
  const uint8_t dcid[8] = {1, 2, 3, 4, 5, 6, 7, 8}, scid[5] = {9, 9, 9, 9, 9};
  ssize_t n;
  pq_settings_default(&st);
  CHECK_INT(0, ==, pq_server_new(&srv, &st, &cbs, NULL, NULL, NULL));
  memset(d, 0, sizeof(d));
  d[0] = 0xc0;
  d[1] = 0x1a, d[2] = 0x2a, d[3] = 0x3a, d[4] = 0x4a; /* a reserved version */
  d[5] = 8;
  memcpy(d + 6, dcid, 8);
  d[14] = 5;
  memcpy(d + 15, scid, 5);
  CHECK_INT(PQ_ERR_DROP, ==, pq_server_read(srv, NULL, d, sizeof(d), 0, &c));
  CHECK(c == NULL);
  n = pq_server_write(srv, NULL, out, sizeof(out));
  CHECK(n > 0);
  CHECK_INT(0, ==, pq_pkt_parse(out, (size_t)n, 8, &h));
  CHECK_INT(PQ_PKT_VERSION_NEGOTIATION, ==, h.type);
  CHECK_INT(1, ==, h.vn_count);
  CHECK_INT(PQ_VERSION_1, ==, pq_pkt_vn_version(&h, 0));
  CHECK(h.dcid_len == 5 && memcmp(h.dcid, scid, 5) == 0);
  CHECK(h.scid_len == 8 && memcmp(h.scid, dcid, 8) == 0);
  CHECK_INT(0, ==, pq_server_write(srv, NULL, out, sizeof(out)));
  CHECK_INT(PQ_ERR_DROP, ==, pq_server_read(srv, NULL, d, 1100, 0, &c));
  CHECK_INT(0, ==, pq_server_write(srv, NULL, out, sizeof(out)));
  pq_server_del(srv);
}

/* A client whose first flight gets a Version Negotiation without v1 gives up; one
 * that lists v1 (forged or stale) is ignored. */
static void test_pq_conn_client_version_negotiation(void) {
  world w;
  pq_sim_config c = sim_link(10 * MS);
  uint8_t vn[128];
  const uint32_t other = 0xff00001d, both[2] = {0xff00001d, PQ_VERSION_1};
  int n;
  world_init(&w, 12, &c, &c);
  n = pq_pkt_write_version_negotiation(vn, sizeof(vn), w.client->scid, w.client->scid_len,
                                       w.client->odcid, w.client->odcid_len, both, 2, 0x5a);
  CHECK(n > 0);
  pq_conn_read(w.client, NULL, vn, (size_t)n, 0);
  CHECK(!pq_conn_is_closed(w.client));
  n = pq_pkt_write_version_negotiation(vn, sizeof(vn), w.client->scid, w.client->scid_len,
                                       w.client->odcid, w.client->odcid_len, &other, 1, 0x5a);
  pq_conn_read(w.client, NULL, vn, (size_t)n, 0);
  CHECK(pq_conn_is_closed(w.client));
  CHECK(w.capp.closed && w.capp.close.by_peer);
  {
    uint8_t out[1500];
    CHECK_INT(0, ==, pq_conn_write(w.client, NULL, out, sizeof(out), 0)); /* silent */
  }
  world_free(&w);
}

static bool server_conn_closed(world *w) { return w->sconn && pq_conn_is_closed(w->sconn); }
static bool client_closed(world *w) { return pq_conn_is_closed(w->client); }

/* The server loses a connection the client still uses (its CONNECTION_CLOSE never
 * arrives): the client's next 1-RTT packet gets a stateless reset carrying the token
 * the server announced, and the client ends at once. */
static void test_pq_conn_stateless_reset(void) {
  world w;
  pq_sim_config c = sim_link(10 * MS);
  int64_t sid;
  world_init(&w, 10, &c, &c);
  w.size = 2000;
  CHECK(run_until(&w, all_received, 10000 * MS));
  CHECK(run_until(&w, both_established, 10000 * MS));
  w.sim.dir[PQ_SIM_S2C].cfg.loss_ppm = PQ_SIM_PPM;
  CHECK_INT(0, ==, pq_conn_close(w.sconn, 0, "", w.now));
  CHECK(run_until(&w, server_conn_closed, 10000 * MS));
  CHECK_INT(1, ==, pq_server_reap(w.server));
  w.sconn = NULL;
  w.sim.dir[PQ_SIM_S2C].cfg.loss_ppm = 0;
  CHECK(!pq_conn_is_closed(w.client));
  CHECK_INT(0, ==, pq_conn_open_stream(w.client, true, &sid));
  CHECK_INT(5, ==, pq_conn_stream_write(w.client, sid, (const uint8_t *)"hello", 5, true));
  CHECK(run_until(&w, client_closed, 5000 * MS));
  CHECK(w.capp.close.stateless_reset);
  CHECK(w.capp.close.by_peer);
  world_free(&w);
}

/* Connection IDs: each side issues up to the other's active_connection_id_limit (4);
 * the server rotates (a new CID retiring all older ones) three times during a
 * transfer: the client moves to the newest, retires the others, data keeps flowing. */
static pq_tstamp next_rotation;
static int rotations;

static bool transfer_with_rotations(world *w) {
  if (w->now >= next_rotation && w->sconn && pq_conn_is_established(w->sconn) &&
      rotations < 3) {
    if (pq_conn_rotate_cid(w->sconn) == 0) rotations++;
    next_rotation = w->now + 100 * MS;
  }
  return all_received(w) && rotations == 3;
}

static bool cids_settled(world *w) {
  return w->sconn && w->sconn->nlocal == 4 && w->client->nretire == 0;
}

static void test_pq_conn_connection_ids(void) {
  world w;
  pq_sim_config c = sim_link(10 * MS);
  uint64_t newest;
  c.loss_ppm = 10000;
  world_init(&w, 11, &c, &c);
  w.size = 200000;
  w.nstreams = 2;
  w.echo = true;
  next_rotation = 0;
  rotations = 0;
  CHECK(run_until(&w, both_established, 5000 * MS));
  CHECK(run_until(&w, cids_settled, 5000 * MS));
  CHECK_INT(4, ==, w.client->nlocal);
  CHECK_INT(4, ==, w.client->npeer); /* the server's 4 */
  CHECK(run_until(&w, transfer_with_rotations, 60000 * MS));
  CHECK(all_bytes_ok(&w));
  CHECK(run_until(&w, cids_settled, 10000 * MS));
  /* The client uses the newest server CID; the server forgot the retired ones. */
  newest = w.sconn->local_retire_prior_to;
  CHECK(newest >= 6);
  CHECK(w.client->dcid_seq >= newest);
  CHECK(pq_conn_owns_cid(w.sconn, w.client->dcid, w.client->dcid_len));
  for (size_t i = 0; i < w.sconn->nlocal; i++) CHECK(w.sconn->local_cids[i].seq >= newest);
  for (size_t i = 0; i < w.client->npeer; i++) CHECK(w.client->peer_cids[i].seq >= newest);
  world_free(&w);
}

/* The client's address changes mid-transfer (a NAT rebinding: new port; then a new
 * IP address): the server follows, validates the new path with PATH_CHALLENGE, keeps
 * its congestion state for a port change but starts over for a new address, and the
 * transfer completes. */
static int migrate_step;

static bool transfer_with_migration(world *w) {
  if (w->sconn && pq_conn_is_established(w->sconn)) {
    if (migrate_step == 0 && w->sapp.rx_bytes[0] > 50000) {
      set_remote(&w->spath, 0x0a000001, 2000);
      migrate_step = 1;
    } else if (migrate_step == 1 && w->sapp.rx_bytes[0] > 150000) {
      set_remote(&w->spath, 0x0a000002, 3000);
      migrate_step = 2;
    }
  }
  return all_received(w);
}

static void test_pq_conn_migration(void) {
  world w;
  pq_sim_config c = sim_link(10 * MS);
  const struct sockaddr_in *r;
  world_init(&w, 13, &c, &c);
  w.size = 300000;
  w.nstreams = 1;
  w.echo = true;
  migrate_step = 0;
  CHECK(run_until(&w, transfer_with_migration, 60000 * MS));
  CHECK(all_bytes_ok(&w));
  CHECK_INT(2, ==, migrate_step);
  CHECK_INT(2, ==, w.sconn->migrations);
  CHECK(!w.sconn->path_validating); /* the client answered the challenge */
  r = (const struct sockaddr_in *)&w.sconn->path.remote;
  CHECK_INT(3000, ==, ntohs(r->sin_port));
  CHECK_INT(0x0a000002, ==, ntohl(r->sin_addr.s_addr));
  world_free(&w);
}

/* Address validation with Retry: the server answers the first Initial with a Retry,
 * the client comes back with the token and the new CID, the transport parameters
 * name both CIDs, and the server's connection starts with the address validated. */
static void test_pq_conn_retry(void) {
  world w;
  pq_settings st;
  pq_sim_config c = sim_link(10 * MS);
  pq_settings_default(&st);
  st.retry = true;
  world_init_ex(&w, 14, &c, &c, false, &st);
  w.size = 20000;
  w.echo = true;
  CHECK(run_until(&w, all_received, 10000 * MS));
  CHECK(all_bytes_ok(&w));
  CHECK(w.client->retry_received);
  CHECK(w.client->token_len > 0);
  CHECK(w.sconn->retry_scid_len == PQ_CONN_CID_LEN);
  CHECK(w.sconn->tp_odcid_len == w.client->odcid_len &&
        memcmp(w.sconn->tp_odcid, w.client->odcid, w.client->odcid_len) == 0);
  /* Retry costs one round trip more than the 3 one-way trips of the handshake. */
  CHECK(w.sconn->addr_validated);
  world_free(&w);
}

/* NEW_TOKEN: the server of a Retry-validating setup gives the client a token; a later
 * connection presenting it skips the Retry and starts validated. */
static void test_pq_conn_new_token(void) {
  world w;
  pq_settings st;
  pq_path path;
  pq_sim_config c = sim_link(10 * MS);
  uint8_t token[256];
  size_t token_len;
  pq_tstamp start;
  pq_settings_default(&st);
  st.retry = true;
  world_init_ex(&w, 18, &c, &c, false, &st);
  w.size = 5000;
  CHECK(run_until(&w, all_received, 10000 * MS));
  CHECK(w.client->retry_received);
  CHECK(w.capp.token_len > 0);
  token_len = w.capp.token_len;
  memcpy(token, w.capp.token, token_len);
  /* A second client, same address, with the token. */
  pq_conn_del(w.client);
  memset(&w.capp, 0, sizeof(w.capp));
  memset(&w.sapp, 0, sizeof(w.sapp));
  memset(w.sent, 0, sizeof(w.sent));
  memset(w.fin_sent, 0, sizeof(w.fin_sent));
  memset(w.echoed, 0, sizeof(w.echoed));
  memset(w.echo_fin, 0, sizeof(w.echo_fin));
  w.opened = 0;
  w.sconn = NULL;
  memset(&path, 0, sizeof(path));
  CHECK_INT(0, ==, pq_conn_client_new_ex(&w.client, &st, &cbs, &path, &pq_hs_null, NULL,
                                         &w.capp, w.now));
  CHECK_INT(0, ==, pq_conn_set_token(w.client, token, token_len));
  start = w.now;
  CHECK(run_until(&w, all_received, w.now + 10000 * MS));
  CHECK(all_bytes_ok(&w));
  CHECK(!w.client->retry_received);
  CHECK(w.sconn && w.sconn->retry_scid_len == 0);
  CHECK(w.now - start < 200 * MS); /* no extra round trip */
  /* Too late once Initials went out. */
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_conn_set_token(w.client, token, token_len));
  world_free(&w);
}

static void test_pq_conn_retry_seeds(void) {
  int failed = 0;
  pq_settings st;
  pq_settings_default(&st);
  st.retry = true;
  st.max_idle_timeout = 120000 * MS;
  for (uint64_t seed = 3001; seed <= 3200; seed++)
    if (!seeded_run_ex(seed, failed < 5, false, &st)) failed++;
  CHECK_INT(0, ==, failed);
}

static bool server_saw_reset(world *w) { return w->sapp.resets > 0; }

/* RESET_STREAM: the client abandons a stream mid-transfer; the server hears the code,
 * and the client's stream stops sending (its reset acknowledged). */
static void test_pq_conn_stream_reset(void) {
  world w;
  pq_sim_config c = sim_link(10 * MS);
  pq_stream *s;
  world_init(&w, 15, &c, &c);
  w.nstreams = 1;
  w.size = 2000000;
  CHECK(run_until(&w, both_established, 5000 * MS));
  while (w.sapp.rx_bytes[0] < 20000 && w.now < 10000 * MS) {
    step(&w);
    w.now = next_event(&w);
  }
  CHECK_INT(0, ==, pq_conn_stream_reset(w.client, w.sid[0], 0x77));
  CHECK(run_until(&w, server_saw_reset, 5000 * MS));
  CHECK_INT(0x77, ==, w.sapp.last_reset_code);
  CHECK(w.sapp.rx_bytes[0] < 2000000);
  run_until(&w, both_established, w.now + 500 * MS); /* let the ACKs settle */
  for (int i = 0; i < 50; i++) {
    step(&w);
    w.now = next_event(&w);
  }
  s = pq_conn_find_stream(w.client, (uint64_t)w.sid[0]);
  CHECK(s == NULL || s->reset_acked);
  CHECK_INT(PQ_ERR_STREAM_STATE, ==, pq_conn_stream_reset(w.client, 1000, 1));
  world_free(&w);
}

/* STOP_SENDING: the server asks the client to stop; the client answers with
 * RESET_STREAM carrying the same code (RFC 9000 §3.5). */
static void test_pq_conn_stop_sending(void) {
  world w;
  pq_sim_config c = sim_link(10 * MS);
  world_init(&w, 16, &c, &c);
  w.nstreams = 1;
  w.size = 2000000;
  CHECK(run_until(&w, both_established, 5000 * MS));
  while (w.sapp.rx_bytes[0] < 20000 && w.now < 10000 * MS) {
    step(&w);
    w.now = next_event(&w);
  }
  CHECK_INT(0, ==, pq_conn_stream_stop_sending(w.sconn, 0, 0x55));
  CHECK(run_until(&w, server_saw_reset, 5000 * MS));
  CHECK_INT(0x55, ==, w.sapp.last_reset_code);
  CHECK(!w.sapp.bad && !w.capp.bad);
  world_free(&w);
}

/* A blackhole: both directions drop everything for 3 s in the middle of a transfer.
 * PTOs back off, persistent congestion collapses the window, and once the link
 * returns the transfer completes. */
static int blackhole_step;
static pq_tstamp blackhole_end;

static bool transfer_through_blackhole(world *w) {
  if (blackhole_step == 0 && w->sapp.rx_bytes[0] > 100000) {
    w->sim.dir[0].cfg.loss_ppm = w->sim.dir[1].cfg.loss_ppm = PQ_SIM_PPM;
    blackhole_end = w->now + 3000 * MS;
    blackhole_step = 1;
  } else if (blackhole_step == 1 && w->now >= blackhole_end) {
    w->sim.dir[0].cfg.loss_ppm = w->sim.dir[1].cfg.loss_ppm = 0;
    blackhole_step = 2;
  }
  return all_received(w);
}

static void test_pq_conn_blackhole(void) {
  world w;
  pq_sim_config c = sim_link(20 * MS);
  world_init(&w, 17, &c, &c);
  w.nstreams = 1;
  w.size = 1000000;
  blackhole_step = 0;
  CHECK(run_until(&w, transfer_through_blackhole, 60000 * MS));
  CHECK(all_bytes_ok(&w));
  CHECK_INT(2, ==, blackhole_step);
  CHECK(w.client->rec.pto_expired >= 3);
  CHECK(w.client->cc.persistent_congestions >= 1);
  CHECK(w.now < blackhole_end + 10000 * MS); /* back within a few (backed-off) PTOs */
  if (getenv("PQ_VERBOSE"))
    fprintf(stderr, "blackhole: %llu PTOs, %llu persistent congestion, done %.2f s after\n",
            (unsigned long long)w.client->rec.pto_expired,
            (unsigned long long)w.client->cc.persistent_congestions, (w.now - blackhole_end) / 1e9);
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
  /* The client said what held it: DATA_BLOCKED and STREAMS_BLOCKED went out. */
  CHECK(w.client->ftx.blocked_at != UINT64_MAX);
  CHECK(w.client->stx_bidi.blocked_at != UINT64_MAX);
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

/* RFC 9002 §6.2: while ack-eliciting packets are in flight the loss/PTO timer stays
 * armed. Checked after every step of bulk echo transfers with 5% loss each way while
 * both applications wake up late for their timers (up to 8 ms, as on a loaded machine,
 * the way pluginop-server runs). Once, a time-threshold loss found late left the PTO
 * deadline in the past and the engine dropped the timer instead of firing the PTO: a
 * cwnd-limited sender then kept bytes in flight with nothing armed until the idle
 * timeout (quic/interop/pair/loss). */
static bool loss_timer_armed(const pq_conn *c) {
  if (!c || !c->hs_confirmed || c->state != PQ_CS_ESTABLISHED) return true;
  if (pq_recovery_ack_eliciting_in_flight(&c->rec) == 0) return true;
  return c->timers.at[PQ_TIMER_LOSS] != PQ_TSTAMP_NEVER;
}

/* Right after pq_conn_handle_expiry the timer may wait for the next write only when
 * probes are pending (sending them re-arms it); otherwise nothing would re-arm it if
 * that write finds no room in the window. */
static bool loss_timer_armed_or_probing(const pq_conn *c) {
  for (int s = 0; c && s < PQ_PNS_COUNT; s++)
    if (c->rec.probes[s]) return true;
  return loss_timer_armed(c);
}

/* The harness's step with the checks above between the expiries and the sends. */
static bool step_checked(world *w) {
  uint8_t buf[2048];
  ptrdiff_t n;
  bool ok;
  while ((n = pq_sim_recv(&w->sim, PQ_SIM_C2S, w->now, buf, sizeof(buf))) >= 0) {
    pq_conn *c = NULL;
    pq_server_read(w->server, &w->spath, buf, (size_t)n, w->now, &c);
    if (c && !w->sconn) w->sconn = c;
  }
  while ((n = pq_sim_recv(&w->sim, PQ_SIM_S2C, w->now, buf, sizeof(buf))) >= 0)
    pq_conn_read(w->client, NULL, buf, (size_t)n, w->now);
  if (pq_conn_expiry(w->client) <= w->now) pq_conn_handle_expiry(w->client, w->now);
  if (w->sconn && pq_conn_expiry(w->sconn) <= w->now) pq_conn_handle_expiry(w->sconn, w->now);
  ok = loss_timer_armed_or_probing(w->client) && loss_timer_armed_or_probing(w->sconn);
  if (w->capp.established && w->sapp.established) w->sim.handshake = false;
  client_app(w);
  server_app(w);
  flush(w);
  return ok && loss_timer_armed(w->client) && loss_timer_armed(w->sconn);
}

static void test_pq_conn_pto_armed_loss_both_ways_late_wakeups(void) {
  int unarmed = 0, unfinished = 0;
  for (uint64_t seed = 1; seed <= 30; seed++) {
    world w;
    pq_sim_config c2s = sim_link((1 + seed % 10) * MS), s2c;
    pq_tstamp limit = 60000 * MS;
    bool armed = true;
    c2s.loss_ppm = 50000;
    s2c = c2s;
    world_init(&w, seed, &c2s, &s2c);
    w.nstreams = 4;
    w.size = 200000;
    w.echo = true;
    while (w.now <= limit && !all_received(&w)) {
      pq_tstamp pkt, tmr, t;
      if (!step_checked(&w)) {
        armed = false;
        break;
      }
      pkt = pq_sim_next_any(&w.sim);
      tmr = pq_conn_expiry(w.client);
      if (w.sconn && (t = pq_conn_expiry(w.sconn)) < tmr) tmr = t;
      if (tmr != PQ_TSTAMP_NEVER) tmr += pq_sim_rand_below(&w.sim, 30 * MS); /* late */
      t = pkt < tmr ? pkt : tmr;
      if (t == PQ_TSTAMP_NEVER) break;
      w.now = t > w.now ? t : w.now + 1;
    }
    if (!armed) unarmed++;
    else if (!all_received(&w) || !all_bytes_ok(&w)) unfinished++;
    if ((!armed || !all_received(&w)) && getenv("PQ_VERBOSE"))
      fprintf(stderr, "pto armed, seed %llu: armed=%d at %.3f s, fins %d/%d\n",
              (unsigned long long)seed, armed, w.now / 1e9, w.sapp.fins, w.capp.fins);
    world_free(&w);
  }
  CHECK_INT(0, ==, unarmed);
  CHECK_INT(0, ==, unfinished);
}

/* The sending application sleeps through its loss timer and past its PTO deadline
 * while the link drops everything (a descheduled process on a lossy path). When it
 * wakes, the time-threshold loss leaves a window still full of packets in flight and
 * the PTO deadline in the past: the PTO must fire (probes out, timer armed), not be
 * dropped; once the link is back the transfer completes well before the idle timeout. */
static void test_pq_conn_late_loss_timer_fires_pto(void) {
  int cases = 0;
  for (uint64_t seed = 1; seed <= 20; seed++) {
    world w;
    pq_sim_config c = sim_link(10 * MS);
    pq_tstamp wake, pto, lt;
    pq_pnspace sp;
    bool found = false;
    c.loss_ppm = 20000;
    world_init(&w, seed, &c, &c);
    w.nstreams = 1;
    w.size = 3000000;
    while (w.now < 20000 * MS && !all_received(&w)) {
      pq_tstamp next;
      step(&w);
      lt = w.client->rec.spaces[PQ_PNS_APP].loss_time;
      /* A full window, a time-threshold loss pending, no ACK owed (nothing else would
       * make the sender write at the wake-up). */
      if (w.client->hs_confirmed && w.sapp.rx_bytes[0] > 200000 && lt != PQ_TSTAMP_NEVER &&
          pq_cc_available(&w.client->cc) < w.client->mds &&
          pq_acktr_expiry(&w.client->spaces[PQ_PNS_APP].ack) == UINT64_MAX) {
        found = true;
        break;
      }
      next = next_event(&w);
      if (next == PQ_TSTAMP_NEVER) break;
      w.now = next > w.now ? next : w.now + 1;
    }
    if (!found) {
      world_free(&w);
      continue;
    }
    cases++;
    pto = pq_recovery_pto_time(&w.client->rec, w.now, &sp);
    CHECK(pto != PQ_TSTAMP_NEVER);
    wake = (pto > lt ? pto : lt) + 1 * MS;
    /* Asleep: everything sent meanwhile is lost, then one step at the wake-up. */
    w.sim.dir[0].cfg.loss_ppm = w.sim.dir[1].cfg.loss_ppm = PQ_SIM_PPM;
    {
      uint8_t buf[2048]; /* what is already on the wire is lost too */
      while (pq_sim_recv(&w.sim, PQ_SIM_C2S, wake, buf, sizeof(buf)) >= 0) {}
      while (pq_sim_recv(&w.sim, PQ_SIM_S2C, wake, buf, sizeof(buf)) >= 0) {}
    }
    w.now = wake;
    CHECK(step_checked(&w)); /* right after the expiry: PTO armed, or probes due */
    w.sim.dir[0].cfg.loss_ppm = w.sim.dir[1].cfg.loss_ppm = 0;
    CHECK(run_until(&w, all_received, wake + 10000 * MS));
    CHECK(all_bytes_ok(&w));
    world_free(&w);
  }
  CHECK(cases >= 10); /* the situation was reached */
}

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
  RUN(test_pq_conn_server_version_negotiation);
  RUN(test_pq_conn_stateless_reset);
  RUN(test_pq_conn_client_version_negotiation);
  RUN(test_pq_conn_connection_ids);
  RUN(test_pq_conn_stream_reset);
  RUN(test_pq_conn_stop_sending);
  RUN(test_pq_conn_blackhole);
  RUN(test_pq_conn_pto_armed_loss_both_ways_late_wakeups);
  RUN(test_pq_conn_late_loss_timer_fires_pto);
  RUN(test_pq_conn_migration);
  RUN(test_pq_conn_retry);
  RUN(test_pq_conn_retry_seeds);
  RUN(test_pq_conn_new_token);
  RUN(test_pq_conn_bulk_goodput);
  RUN(test_pq_conn_pmtu);
  RUN(test_pq_conn_bulk_goodput_cubic);
  RUN(test_pq_conn_cubic_seeds);
  RUN(test_pq_conn_key_update);
  RUN(test_pq_conn_flow_control_and_stream_limits);
  RUN(test_pq_conn_small_limits_seeds);
  RUN(test_pq_conn_sim_seeds_1_500);
  RUN(test_pq_conn_sim_seeds_501_1000);
  return test_report();
}
