/* fuzz_quic_0rtt.c: arbitrary frames in 0-RTT packets to a server that accepts 0-RTT,
 * before its handshake completes (real TLS 1.3: 0-RTT keys only exist with it).
 *
 * Once per process: a certificate, a pq_server with early_data, and a first connection
 * that gets a session ticket. For each input a client resumes that session; the input
 * is a list of records [len_hi][len_lo][len bytes of frames], each the plaintext
 * payload of a 0-RTT packet sealed with the client's real 0-RTT keys (the first one
 * coalesced after the client's Initial, the others in datagrams of their own). Then
 * both sides exchange until the handshake is over, the client closes, time passes
 * and the server reaps the connection. Nothing may crash, leak or hang; frames 0-RTT
 * may not carry and other protocol errors must close the connection in an orderly way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pq_cert.h"
#include "pq_conn.h"
#include "pq_session.h"

#define MS UINT64_C(1000000)

static pq_server *g_server;
static uint8_t g_blob[PQ_SESSION_MAX];
static size_t g_blob_len;
static pq_tstamp g_now;

static int on_data(pq_conn *c, int64_t sid, const uint8_t *d, size_t len, bool fin,
                   void *user) {
  (void)c, (void)sid, (void)d, (void)len, (void)fin, (void)user;
  return 0;
}

static void on_ticket(pq_conn *c, const uint8_t *blob, size_t len, void *user) {
  (void)c, (void)user;
  if (len <= sizeof(g_blob)) {
    memcpy(g_blob, blob, len);
    g_blob_len = len;
  }
}

static const pq_callbacks cbs = {.stream_data = on_data, .session_ticket = on_ticket};

/* Moves datagrams both ways, |rounds| times; the server connection into *sconn. */
static void exchange(pq_conn *client, pq_conn **sconn, int rounds) {
  uint8_t buf[1500];
  for (int r = 0; r < rounds; r++) {
    ssize_t n;
    int moved = 0;
    while ((n = pq_conn_write(client, NULL, buf, sizeof(buf), g_now)) > 0 && moved < 64) {
      pq_conn *got = NULL;
      pq_server_read(g_server, NULL, buf, (size_t)n, g_now, &got);
      if (got && !*sconn) *sconn = got;
      moved++;
    }
    while (*sconn && !pq_conn_is_closed(*sconn) &&
           (n = pq_conn_write(*sconn, NULL, buf, sizeof(buf), g_now)) > 0 && moved < 128) {
      pq_conn_read(client, NULL, buf, (size_t)n, g_now);
      moved++;
    }
    if (moved == 0) return;
  }
}

static void run_timers(pq_conn *client, pq_conn *sconn) {
  if (pq_conn_expiry(client) <= g_now) pq_conn_handle_expiry(client, g_now);
  if (sconn && pq_conn_expiry(sconn) <= g_now) pq_conn_handle_expiry(sconn, g_now);
}

/* Closes and reaps: the client closes, everything drains, the server forgets. */
static void finish(pq_conn *client, pq_conn *sconn) {
  pq_conn_close(client, 0, "", g_now);
  for (int i = 0; i < 12; i++) {
    exchange(client, &sconn, 2);
    g_now += 1000 * MS;
    run_timers(client, sconn);
  }
  pq_conn_del(client);
  if (sconn && !pq_conn_is_closed(sconn)) { /* the idle timeout ends it for sure */
    g_now += 60000 * MS;
    pq_conn_handle_expiry(sconn, g_now);
  }
  pq_server_reap(g_server);
}

static int setup(void) {
  char dir[] = "/tmp/fuzz_quic_0rtt_XXXXXX", cert[64], key[64];
  pq_settings st;
  pq_cert c;
  pq_path path;
  pq_conn *client = NULL, *sconn = NULL;
  int rv;
  if (!mkdtemp(dir)) return -1;
  snprintf(cert, sizeof(cert), "%s/c.pem", dir);
  snprintf(key, sizeof(key), "%s/k.pem", dir);
  memset(&c, 0, sizeof(c));
  rv = pq_cert_generate(&c, "localhost", time(NULL), 30);
  if (rv == 0) rv = pq_cert_write_files(&c, cert, key);
  pq_cert_free(&c);
  pq_settings_default(&st);
  st.early_data = true;
  st.initial_max_streams_bidi = 8;
  st.initial_max_stream_data_bidi_remote = 65536;
  st.initial_max_data = 262144;
  if (rv == 0) rv = pq_server_new(&g_server, &st, &cbs, cert, key, NULL);
  unlink(cert);
  unlink(key);
  rmdir(dir);
  if (rv) return -1;
  memset(&path, 0, sizeof(path));
  pq_settings_default(&st);
  if (pq_conn_client_new(&client, &st, &cbs, &path, "localhost", NULL, true, NULL, g_now))
    return -1;
  for (int i = 0; i < 20 && !g_blob_len; i++) {
    exchange(client, &sconn, 4);
    g_now += 10 * MS;
    run_timers(client, sconn);
  }
  finish(client, sconn);
  return g_blob_len ? 0 : -1;
}

/* Seals |payload| as the client's next 0-RTT packet at |out| (|cap| bytes). Returns its
 * length or 0. The client's recovery learns the packet number (an ACK of it must not
 * look like an ACK of a packet never sent). */
static size_t seal_0rtt(pq_conn *c, const uint8_t *payload, size_t len, uint8_t *out,
                        size_t cap) {
  pq_pkt_build b;
  pq_pkt_hdr h;
  pq_sent_pkt sent;
  int hl, n;
  if (!c->has_early || len + 80 > cap) return 0;
  memset(&b, 0, sizeof(b));
  b.type = PQ_PKT_0RTT;
  b.version = PQ_VERSION_1;
  b.dcid = c->dcid;
  b.dcid_len = c->dcid_len;
  b.scid = c->scid;
  b.scid_len = c->scid_len;
  b.pn = c->spaces[PQ_PNS_APP].next_pn++;
  b.pn_len = 4;
  if ((hl = pq_pkt_write_header(out, cap, &b, &h)) < 0) return 0;
  memcpy(out + hl, payload, len);
  if ((n = pq_pkt_seal(out, cap, &h, len, &c->early.aead, &c->early.hp)) <= 0) return 0;
  memset(&sent, 0, sizeof(sent));
  sent.pn = b.pn;
  sent.sent_time = g_now;
  sent.bytes = (uint32_t)n;
  if (pq_recovery_on_packet_sent(&c->rec, PQ_PNS_APP, &sent, g_now)) return 0;
  return (size_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready = 0;
  pq_settings st;
  pq_path path;
  pq_conn *client = NULL, *sconn = NULL;
  uint8_t dgram[1500];
  size_t off = 0, dlen;
  ssize_t n;
  bool first = true;
  if (!ready) ready = setup() == 0 ? 1 : -1;
  if (ready < 0) return 0;
  pq_settings_default(&st);
  st.session = g_blob;
  st.session_len = g_blob_len;
  memset(&path, 0, sizeof(path));
  if (pq_conn_client_new(&client, &st, &cbs, &path, "localhost", NULL, true, NULL, g_now))
    return 0;
  if (pq_conn_early_data(client) != PQ_EARLY_OFFERED) abort(); /* the setup is broken */
  n = pq_conn_write(client, NULL, dgram, sizeof(dgram), g_now); /* the Initial */
  dlen = n > 0 ? (size_t)n : 0;
  while (off + 2 <= size) {
    size_t len = (size_t)data[off] << 8 | data[off + 1];
    off += 2;
    if (len > size - off) len = size - off;
    if (!first) dlen = 0;
    dlen += seal_0rtt(client, data + off, len, dgram + dlen, sizeof(dgram) - dlen);
    if (dlen > 0) {
      pq_conn *got = NULL;
      pq_server_read(g_server, NULL, dgram, dlen, g_now, &got);
      if (got && !sconn) sconn = got;
    }
    first = false;
    off += len;
  }
  if (first && dlen > 0) { /* no record: the Initial alone */
    pq_conn *got = NULL;
    pq_server_read(g_server, NULL, dgram, dlen, g_now, &got);
    if (got) sconn = got;
  }
  for (int i = 0; i < 10; i++) {
    exchange(client, &sconn, 4);
    g_now += 20 * MS;
    run_timers(client, sconn);
  }
  if (getenv("FUZZ_VERBOSE"))
    fprintf(stderr, "server %s, state %d error 0x%llx, 0-RTT packets %llu, early %s"
            " (client state %d hs %d/%d, server hs %d rx %llu tx %llu)\n",
            sconn ? "conn" : "none", sconn ? (int)sconn->state : -1,
            sconn ? (unsigned long long)sconn->close_error : 0ULL,
            sconn ? (unsigned long long)sconn->stats.packets_0rtt : 0ULL,
            pq_early_data_str(pq_conn_early_data(client)), (int)client->state,
            client->hs_complete, client->hs_confirmed, sconn ? sconn->hs_complete : -1,
            sconn ? (unsigned long long)sconn->stats.packets_received : 0ULL,
            sconn ? (unsigned long long)sconn->stats.packets_sent : 0ULL);
  finish(client, sconn);
  return 0;
}
