/* fuzz_quic_conn.c: arbitrary frames into an established connection, through the
 * connection engine's receive path (frame table, streams, flow control, ACK
 * processing, CIDs, close, key phases).
 *
 * For each input a client and a server (insecure null handshake, in memory) complete
 * their handshake; then the input is a list of records
 *   [flags][len_hi][len_lo][len bytes of frames]
 * where flags bit 0 picks the receiver (0: server, 1: client), bit 1 flips the Key
 * Phase bit, bits 2-7 advance the clock (units of 4 ms). Each record's bytes become the
 * plaintext payload of a 1-RTT packet sealed with the sender's real keys, so they get
 * past packet protection and reach frame parsing. After each record both sides run a
 * few send/receive rounds and their timers. Nothing may crash, leak or hang; protocol
 * errors must close the connection in an orderly way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pq_conn.h"

#define MS UINT64_C(1000000)

typedef struct pair {
  pq_server *server;
  pq_conn *client, *sconn;
  pq_tstamp now;
} pair;

static int on_data(pq_conn *c, int64_t sid, const uint8_t *d, size_t len, bool fin,
                   void *user) {
  (void)c, (void)sid, (void)d, (void)len, (void)fin, (void)user;
  return 0;
}

static const pq_callbacks cbs = {.stream_data = on_data};

/* Moves every datagram each side wants to send to the other, |rounds| times. */
static void exchange(pair *p, int rounds) {
  uint8_t buf[1500];
  for (int r = 0; r < rounds; r++) {
    ssize_t n;
    int moved = 0;
    while ((n = pq_conn_write(p->client, NULL, buf, sizeof(buf), p->now)) > 0 && moved < 64) {
      pq_conn *got = NULL;
      pq_server_read(p->server, NULL, buf, (size_t)n, p->now, &got);
      if (got && !p->sconn) p->sconn = got;
      moved++;
    }
    while (p->sconn && (n = pq_conn_write(p->sconn, NULL, buf, sizeof(buf), p->now)) > 0 &&
           moved < 128) {
      pq_conn_read(p->client, NULL, buf, (size_t)n, p->now);
      moved++;
    }
    if (moved == 0) return;
  }
}

static void run_timers(pair *p) {
  if (pq_conn_expiry(p->client) <= p->now) pq_conn_handle_expiry(p->client, p->now);
  if (p->sconn && pq_conn_expiry(p->sconn) <= p->now) pq_conn_handle_expiry(p->sconn, p->now);
}

static int setup(pair *p) {
  pq_settings st;
  pq_path path;
  memset(p, 0, sizeof(*p));
  memset(&path, 0, sizeof(path));
  pq_settings_default(&st);
  st.initial_max_streams_bidi = 8;
  st.initial_max_stream_data_bidi_remote = 65536;
  st.initial_max_data = 262144;
  if (pq_server_new(&p->server, &st, &cbs, NULL, NULL, NULL)) return -1;
  pq_server_set_hs(p->server, &pq_hs_null);
  if (pq_conn_client_new_ex(&p->client, &st, &cbs, &path, &pq_hs_null, NULL, NULL, 0))
    return -1;
  for (int i = 0; i < 20 && !(p->sconn && p->client->hs_confirmed); i++) {
    exchange(p, 4);
    p->now += 10 * MS;
    run_timers(p);
  }
  return p->sconn && p->client->hs_confirmed ? 0 : -1;
}

/* Seals |payload| as the next 1-RTT packet from |from| to |to| and delivers it. */
static void inject(pair *p, pq_conn *from, pq_conn *to, const uint8_t *payload, size_t len,
                   bool flip_phase) {
  pq_space *sp = &from->spaces[PQ_PNS_APP];
  uint8_t buf[1500];
  pq_pkt_build b;
  pq_pkt_hdr h;
  int hl, n;
  if (!sp->has_tx || len + 64 > sizeof(buf)) return;
  memset(&b, 0, sizeof(b));
  b.type = PQ_PKT_1RTT;
  b.dcid = from->dcid;
  b.dcid_len = from->dcid_len;
  b.pn = sp->next_pn++;
  b.pn_len = 4;
  b.key_phase = from->key_phase ^ (flip_phase ? 1 : 0);
  hl = pq_pkt_write_header(buf, sizeof(buf), &b, &h);
  if (hl < 0) return;
  memcpy(buf + hl, payload, len);
  n = pq_pkt_seal(buf, sizeof(buf), &h, len, &sp->tx.aead, &sp->tx.hp);
  if (n <= 0) return;
  {
    /* The sender's recovery must know the packet number, or the peer's ACK of it
     * would be an ACK of a packet never sent. */
    pq_sent_pkt sent;
    memset(&sent, 0, sizeof(sent));
    sent.pn = b.pn;
    sent.sent_time = p->now;
    sent.bytes = (uint32_t)n;
    if (pq_recovery_on_packet_sent(&from->rec, PQ_PNS_APP, &sent, p->now)) return;
  }
  if (to == p->client) {
    pq_conn_read(to, NULL, buf, (size_t)n, p->now);
  } else {
    pq_conn *got = NULL;
    pq_server_read(p->server, NULL, buf, (size_t)n, p->now, &got);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  pair p;
  size_t off = 0;
  if (setup(&p) == 0) {
    while (off + 3 <= size) {
      uint8_t flags = data[off];
      size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
      off += 3;
      if (len > size - off) len = size - off;
      if (len > 0) {
        bool to_client = flags & 1;
        inject(&p, to_client ? p.sconn : p.client, to_client ? p.client : p.sconn,
               data + off, len, (flags & 2) != 0);
      }
      off += len;
      p.now += (uint64_t)(flags >> 2) * 4 * MS;
      run_timers(&p);
      exchange(&p, 4);
    }
    /* Let everything settle: closes drain, timers fire. */
    for (int i = 0; i < 8; i++) {
      p.now += 500 * MS;
      run_timers(&p);
      exchange(&p, 2);
    }
  }
  if (getenv("FUZZ_VERBOSE"))
    fprintf(stderr, "setup %s, client state %d error 0x%llx, server state %d error 0x%llx\n",
            p.sconn ? "ok" : "FAILED", p.client ? (int)p.client->state : -1,
            p.client ? (unsigned long long)p.client->close_error : 0ULL,
            p.sconn ? (int)p.sconn->state : -1,
            p.sconn ? (unsigned long long)p.sconn->close_error : 0ULL);
  pq_conn_del(p.client);
  pq_server_del(p.server);
  return 0;
}
