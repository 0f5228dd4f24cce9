/* pq_tls_interop_test.c: pq_pkt + pq_crypto + pq_tls against a real QUIC server, ngtcp2's
 * gtlsserver (Debian ngtcp2-server), on loopback. We send a client Initial carrying our
 * ClientHello, open the server's Initial and Handshake packets with our keys, feed the
 * CRYPTO data to pq_tls and check the handshake completes on our side (server
 * certificate verified against the pq_cert we gave it, ALPN h3, its transport
 * parameters received), for AES-128-GCM and for ChaCha20-Poly1305.
 * Frames are decoded minimally here (PADDING, PING, ACK, CRYPTO): the frame layer is
 * another module. Bounded: at most a few seconds per case. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pq_cert.h"
#include "pq_pkt.h"
#include "pq_tls.h"
#include "pq_varint.h"
#include "test.h"

#define SERVER "/usr/sbin/gtlsserver"
#define CLIENT "/usr/bin/gtlsclient"
#define CRYPTO_MAX 16384

static pq_cert cert;
static char cert_path[128], key_path[128], dir[64];

typedef struct client {
  pq_tls *tls;
  pq_keys rx[PQ_TLS_LEVELS], tx[PQ_TLS_LEVELS];
  int have_rx[PQ_TLS_LEVELS];
  uint8_t out[PQ_TLS_LEVELS][4096]; /* our CRYPTO bytes per level */
  size_t out_len[PQ_TLS_LEVELS];
  uint8_t in[PQ_TLS_LEVELS][CRYPTO_MAX]; /* reassembly of the server's CRYPTO data */
  uint8_t got[PQ_TLS_LEVELS][CRYPTO_MAX];
  size_t delivered[PQ_TLS_LEVELS];
  uint64_t largest_pn[PQ_TLS_LEVELS];
  int tls_rv;
  uint64_t close_code; /* CONNECTION_CLOSE from the server, if any */
  int closed;
} client;

static int on_send(void *user, pq_tls_level level, const uint8_t *data, size_t len) {
  client *c = user;
  if (len > sizeof(c->out[0]) - c->out_len[level]) return -1;
  memcpy(c->out[level] + c->out_len[level], data, len);
  c->out_len[level] += len;
  return 0;
}

static int on_secrets(void *user, pq_tls_level level, pq_aead_alg alg, const uint8_t *rx,
                      const uint8_t *tx, size_t len) {
  client *c = user;
  if (rx) {
    if (pq_keys_init(&c->rx[level], alg, rx, len) != 0) return -1;
    c->have_rx[level] = 1;
  }
  if (tx && pq_keys_init(&c->tx[level], alg, tx, len) != 0) return -1;
  return 0;
}

/* Our transport parameters (RFC 9000 §18.2): id, length, value. */
static size_t put_tp(uint8_t *p, uint64_t id, const uint8_t *v, size_t len) {
  uint8_t *s = p;
  p = pq_varint_write(p, id);
  p = pq_varint_write(p, len);
  memcpy(p, v, len);
  return (size_t)(p + len - s);
}

static size_t put_tp_int(uint8_t *p, uint64_t id, uint64_t v) {
  uint8_t b[8];
  size_t n = (size_t)(pq_varint_write(b, v) - b);
  return put_tp(p, id, b, n);
}

static size_t make_tp(uint8_t *buf, const uint8_t *scid) {
  size_t n = 0;
  n += put_tp_int(buf + n, 0x01, 30000);   /* max_idle_timeout */
  n += put_tp_int(buf + n, 0x04, 1 << 20); /* initial_max_data */
  n += put_tp_int(buf + n, 0x05, 1 << 18);
  n += put_tp_int(buf + n, 0x06, 1 << 18);
  n += put_tp_int(buf + n, 0x07, 1 << 18);
  n += put_tp_int(buf + n, 0x08, 100);
  n += put_tp_int(buf + n, 0x09, 100);
  n += put_tp(buf + n, 0x0f, scid, 8); /* initial_source_connection_id */
  return n;
}

/* Stores a CRYPTO frame's bytes and feeds pq_tls the contiguous prefix. */
static void crypto_in(client *c, pq_tls_level l, uint64_t off, const uint8_t *d, size_t len) {
  if (off > CRYPTO_MAX || len > CRYPTO_MAX - off) return;
  memcpy(c->in[l] + off, d, len);
  memset(c->got[l] + off, 1, len);
  size_t end = c->delivered[l];
  while (end < CRYPTO_MAX && c->got[l][end]) end++;
  if (end > c->delivered[l]) {
    int rv = pq_tls_recv_crypto(c->tls, l, c->in[l] + c->delivered[l], end - c->delivered[l]);
    if (rv < 0) c->tls_rv = rv;
    c->delivered[l] = end;
  }
}

/* Walks the frames of one decrypted packet. */
static void frames(client *c, pq_tls_level l, const uint8_t *p, size_t len) {
  const uint8_t *end = p + len;
  uint64_t t, a, b, n;
  size_t k;
  while (p < end) {
    if (!(k = pq_varint_read(p, end, &t))) return;
    p += k;
    if (t == 0x00 || t == 0x01) continue;
    if (t == 0x02 || t == 0x03) { /* ACK: largest, delay, count, first, count x (gap, len) */
      uint64_t cnt;
      for (int i = 0; i < 4; i++) {
        if (!(k = pq_varint_read(p, end, i == 2 ? &cnt : &a))) return;
        p += k;
      }
      for (uint64_t i = 0; i < 2 * cnt + (t == 0x03 ? 3 : 0); i++) {
        if (!(k = pq_varint_read(p, end, &a))) return;
        p += k;
      }
      continue;
    }
    if (t == 0x06) {
      if (!(k = pq_varint_read(p, end, &a))) return;
      p += k;
      if (!(k = pq_varint_read(p, end, &n))) return;
      p += k;
      if (n > (uint64_t)(end - p)) return;
      crypto_in(c, l, a, p, (size_t)n);
      p += n;
      continue;
    }
    if (t == 0x1c || t == 0x1d) {
      if (pq_varint_read(p, end, &b)) c->close_code = b;
      c->closed = 1;
    }
    return; /* anything else: not needed for the handshake */
  }
}

static pq_tls_level level_of(pq_pkt_type t) {
  return t == PQ_PKT_INITIAL ? PQ_TLS_LEVEL_INITIAL
         : t == PQ_PKT_HANDSHAKE ? PQ_TLS_LEVEL_HANDSHAKE
                                 : PQ_TLS_LEVEL_APPLICATION;
}

static void datagram(client *c, uint8_t *dg, size_t len) {
  size_t off = 0;
  while (off < len) {
    pq_pkt_hdr h;
    if (pq_pkt_parse(dg + off, len - off, 8, &h) < 0) return;
    pq_tls_level l = level_of(h.type);
    if ((h.type == PQ_PKT_INITIAL || h.type == PQ_PKT_HANDSHAKE || h.type == PQ_PKT_1RTT) &&
        c->have_rx[l] &&
        pq_pkt_unprotect(dg + off, &h, &c->rx[l].hp, c->largest_pn[l]) == 0 &&
        pq_pkt_decrypt(dg + off, &h, &c->rx[l].aead) == 0) {
      if (c->largest_pn[l] == PQ_PN_NONE || h.pn > c->largest_pn[l]) c->largest_pn[l] = h.pn;
      frames(c, l, h.payload, h.payload_len);
    }
    off += h.len;
  }
}

static int free_udp_port(void) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof(a);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
      getsockname(fd, (struct sockaddr *)&a, &al) < 0)
    return -1;
  close(fd);
  return ntohs(a.sin_port);
}

static pid_t start_server(int port, const char *ciphers) {
  pid_t pid = fork();
  if (pid == 0) {
    char portbuf[16], cbuf[256];
    snprintf(portbuf, sizeof(portbuf), "%d", port);
    snprintf(cbuf, sizeof(cbuf), "--ciphers=%s", ciphers);
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, 1), dup2(devnull, 2);
    execl(SERVER, SERVER, "-q", "--timeout=5s", cbuf, "127.0.0.1", portbuf, key_path,
          cert_path, (char *)NULL);
    _exit(127);
  }
  return pid;
}

/* Sends our Initial (ClientHello in a CRYPTO frame, padded to 1200 bytes). */
static int send_initial(client *c, int fd, const uint8_t *dcid, const uint8_t *scid) {
  uint8_t buf[1200];
  pq_pkt_hdr h;
  pq_pkt_build b = {.type = PQ_PKT_INITIAL, .version = PQ_VERSION_1, .dcid = dcid,
                    .dcid_len = 8, .scid = scid, .scid_len = 8, .pn = 0, .pn_len = 1};
  int hl = pq_pkt_write_header(buf, sizeof(buf), &b, &h);
  if (hl < 0) return -1;
  uint8_t *p = buf + hl;
  size_t n = c->out_len[PQ_TLS_LEVEL_INITIAL];
  *p++ = 0x06;
  p = pq_varint_write(p, 0);
  p = pq_varint_write(p, n);
  memcpy(p, c->out[PQ_TLS_LEVEL_INITIAL], n);
  p += n;
  size_t payload = (size_t)(p - (buf + hl));
  size_t room = sizeof(buf) - (size_t)hl - PQ_AEAD_TAG_LEN;
  memset(p, 0, room - payload); /* PADDING */
  int total = pq_pkt_seal(buf, sizeof(buf), &h, room, &c->tx[PQ_TLS_LEVEL_INITIAL].aead,
                          &c->tx[PQ_TLS_LEVEL_INITIAL].hp);
  return total == 1200 && send(fd, buf, 1200, 0) == 1200 ? 0 : -1;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void run_case(const char *server_ciphers, uint32_t our_ciphers, pq_aead_alg want) {
  static client c;
  memset(&c, 0, sizeof(c));
  for (int l = 0; l < PQ_TLS_LEVELS; l++) c.largest_pn[l] = PQ_PN_NONE;
  int port = free_udp_port();
  CHECK(port > 0);
  pid_t pid = start_server(port, server_ciphers);
  CHECK(pid > 0);
  if (port <= 0 || pid <= 0) return;

  pq_tls_ctx *ctx = NULL;
  pq_tls_ctx_config cfg = {.ca_pem = cert.cert_pem, .ciphers = our_ciphers, .alpn = "h3"};
  CHECK_INT(0, ==, pq_tls_ctx_new(&ctx, &cfg));
  pq_tls_callbacks cb = {on_send, on_secrets, NULL, NULL};
  CHECK_INT(0, ==, pq_tls_new(&c.tls, ctx, "localhost", &cb, &c));
  uint8_t dcid[8], scid[8], tp[128];
  pq_random(dcid, 8);
  pq_random(scid, 8);
  CHECK_INT(0, ==, pq_tls_set_local_tp(c.tls, tp, make_tp(tp, scid)));
  CHECK_INT(0, ==, pq_keys_init_initial(&c.tx[0], &c.rx[0], PQ_VERSION_1, dcid, 8, 0));
  c.have_rx[0] = 1;
  CHECK_INT(0, ==, pq_tls_start(c.tls));

  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
  double deadline = now_s() + 8, next_send = 0;
  while (!pq_tls_is_done(c.tls) && c.tls_rv == 0 && !c.closed && now_s() < deadline) {
    if (now_s() >= next_send && c.delivered[0] == 0) { /* resend until the server answers */
      send_initial(&c, fd, dcid, scid);
      next_send = now_s() + 0.3;
    }
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    if (poll(&pfd, 1, 100) <= 0) continue;
    static uint8_t dg[65536];
    ssize_t n = recv(fd, dg, sizeof(dg), 0);
    if (n > 0) datagram(&c, dg, (size_t)n);
  }
  CHECK_INT(0, ==, c.tls_rv);
  CHECK_INT(0, ==, c.closed);
  if (c.tls_rv || c.closed)
    fprintf(stderr, "  tls: %s alert %d, close code 0x%llx\n", pq_tls_error(c.tls),
            pq_tls_alert(c.tls), (unsigned long long)c.close_code);
  CHECK_INT(1, ==, pq_tls_is_done(c.tls));
  CHECK_STR("h3", pq_tls_alpn(c.tls) ? pq_tls_alpn(c.tls) : "");
  size_t tplen = 0;
  CHECK(pq_tls_peer_tp(c.tls, &tplen) != NULL && tplen > 0);
  CHECK_INT(want, ==, pq_tls_aead(c.tls));
  CHECK(c.have_rx[PQ_TLS_LEVEL_HANDSHAKE] && c.have_rx[PQ_TLS_LEVEL_APPLICATION]);
  CHECK(c.out_len[PQ_TLS_LEVEL_HANDSHAKE] > 0); /* our Finished, ready to send */

  if (fd >= 0) close(fd);
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
  for (int l = 0; l < PQ_TLS_LEVELS; l++) {
    pq_keys_free(&c.rx[l]);
    pq_keys_free(&c.tx[l]);
  }
  pq_tls_del(c.tls);
  pq_tls_ctx_del(ctx);
}

static void test_pq_tls_interop_gtlsserver_aes128(void) {
  run_case("NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM", 0, PQ_AEAD_AES_128_GCM);
}

static void test_pq_tls_interop_gtlsserver_chacha20(void) {
  run_case("NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+CHACHA20-POLY1305",
           PQ_CIPHER_CHACHA20_POLY1305, PQ_AEAD_CHACHA20_POLY1305);
}

/* ---- the other way round: pq_tls as the server, gtlsclient as the client ---- */

static int app_packets; /* 1-RTT packets from the client that we opened */

/* A long header packet at |level| with |frames| / |flen| bytes (padded to |pad_to| total
 * if non-zero), sent as its own datagram. */
static int send_long(client *c, int fd, const struct sockaddr_in *to, pq_pkt_type type,
                     const uint8_t *dcid, size_t dcid_len, const uint8_t *scid, uint64_t pn,
                     const uint8_t *fr, size_t flen, size_t pad_to) {
  uint8_t buf[1500];
  pq_pkt_hdr h;
  pq_tls_level l = level_of(type);
  pq_pkt_build b = {.type = type, .version = PQ_VERSION_1, .dcid = dcid, .dcid_len = dcid_len,
                    .scid = scid, .scid_len = 8, .pn = pn, .pn_len = 2};
  int hl = pq_pkt_write_header(buf, sizeof(buf), &b, &h);
  if (hl < 0 || flen > sizeof(buf) - (size_t)hl - PQ_AEAD_TAG_LEN) return -1;
  memcpy(buf + hl, fr, flen);
  if (pad_to && (size_t)hl + flen + PQ_AEAD_TAG_LEN < pad_to) {
    size_t padn = pad_to - (size_t)hl - flen - PQ_AEAD_TAG_LEN;
    memset(buf + hl + flen, 0, padn);
    flen += padn;
  }
  int n = pq_pkt_seal(buf, sizeof(buf), &h, flen, &c->tx[l].aead, &c->tx[l].hp);
  if (n < 0) return -1;
  return sendto(fd, buf, (size_t)n, 0, (const struct sockaddr *)to, sizeof(*to)) == n ? 0 : -1;
}

/* ACK of packet |pn| then CRYPTO(offset 0, our bytes at |l|). */
static size_t ack_and_crypto(client *c, pq_tls_level l, uint64_t pn, uint8_t *out) {
  uint8_t *p = out;
  *p++ = 0x02;
  p = pq_varint_write(p, pn); /* largest */
  p = pq_varint_write(p, 0);  /* delay */
  p = pq_varint_write(p, 0);  /* range count */
  p = pq_varint_write(p, 0);  /* first range */
  *p++ = 0x06;
  p = pq_varint_write(p, 0);
  p = pq_varint_write(p, c->out_len[l]);
  memcpy(p, c->out[l], c->out_len[l]);
  p += c->out_len[l];
  return (size_t)(p - out);
}

static void run_server_case(const char *client_ciphers, pq_aead_alg want) {
  static client c;
  memset(&c, 0, sizeof(c));
  app_packets = 0;
  for (int l = 0; l < PQ_TLS_LEVELS; l++) c.largest_pn[l] = PQ_PN_NONE;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in me = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t ml = sizeof(me);
  CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&me, sizeof(me)) == 0 &&
        getsockname(fd, (struct sockaddr *)&me, &ml) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    char portbuf[16], cbuf[256];
    snprintf(portbuf, sizeof(portbuf), "%d", ntohs(me.sin_port));
    snprintf(cbuf, sizeof(cbuf), "--ciphers=%s", client_ciphers);
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, 1), dup2(devnull, 2);
    execl(CLIENT, CLIENT, "-q", "--timeout=3s", "--exit-on-all-streams-close", cbuf,
          "127.0.0.1", portbuf, "https://localhost/", (char *)NULL);
    _exit(127);
  }
  CHECK(pid > 0);
  pq_tls_ctx *ctx = NULL;
  pq_tls_ctx_config cfg = {.is_server = 1, .cert_pem = cert.cert_pem, .key_pem = cert.key_pem};
  CHECK_INT(0, ==, pq_tls_ctx_new(&ctx, &cfg));
  pq_tls_callbacks cb = {on_send, on_secrets, NULL, NULL};
  CHECK_INT(0, ==, pq_tls_new(&c.tls, ctx, NULL, &cb, &c));
  uint8_t scid[8], ccid[20];
  size_t ccid_len = 0;
  pq_random(scid, 8);
  struct sockaddr_in peer;
  int sent_flight = 0;
  double deadline = now_s() + 8;
  while (app_packets == 0 && c.tls_rv == 0 && !c.closed && now_s() < deadline && pid > 0) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    if (poll(&pfd, 1, 100) <= 0) continue;
    static uint8_t dg[65536];
    socklen_t pl = sizeof(peer);
    ssize_t n = recvfrom(fd, dg, sizeof(dg), 0, (struct sockaddr *)&peer, &pl);
    if (n <= 0) continue;
    pq_pkt_hdr h;
    if (!c.have_rx[0] && pq_pkt_parse(dg, (size_t)n, 8, &h) == 0 && h.type == PQ_PKT_INITIAL) {
      /* first Initial: keys from its DCID, our transport parameters */
      uint8_t tp[160];
      size_t t = 0;
      t += put_tp(tp + t, 0x00, h.dcid, h.dcid_len); /* original_destination_connection_id */
      t += put_tp_int(tp + t, 0x01, 30000);
      t += put_tp_int(tp + t, 0x04, 1 << 20);
      t += put_tp_int(tp + t, 0x05, 1 << 18);
      t += put_tp_int(tp + t, 0x06, 1 << 18);
      t += put_tp_int(tp + t, 0x07, 1 << 18);
      t += put_tp_int(tp + t, 0x08, 100);
      t += put_tp_int(tp + t, 0x09, 100);
      t += put_tp(tp + t, 0x0f, scid, 8); /* initial_source_connection_id */
      CHECK_INT(0, ==, pq_tls_set_local_tp(c.tls, tp, t));
      CHECK_INT(0, ==, pq_keys_init_initial(&c.tx[0], &c.rx[0], PQ_VERSION_1, h.dcid,
                                            h.dcid_len, 1));
      c.have_rx[0] = 1;
      memcpy(ccid, h.scid, h.scid_len);
      ccid_len = h.scid_len;
    }
    size_t off = 0;
    while (off < (size_t)n) {
      if (pq_pkt_parse(dg + off, (size_t)n - off, 8, &h) < 0) break;
      pq_tls_level l = level_of(h.type);
      if ((h.type == PQ_PKT_INITIAL || h.type == PQ_PKT_HANDSHAKE || h.type == PQ_PKT_1RTT) &&
          c.have_rx[l] && pq_pkt_unprotect(dg + off, &h, &c.rx[l].hp, c.largest_pn[l]) == 0 &&
          pq_pkt_decrypt(dg + off, &h, &c.rx[l].aead) == 0) {
        if (c.largest_pn[l] == PQ_PN_NONE || h.pn > c.largest_pn[l]) c.largest_pn[l] = h.pn;
        if (h.type == PQ_PKT_1RTT) app_packets++;
        frames(&c, l, h.payload, h.payload_len);
      }
      off += h.len;
    }
    if (!sent_flight && c.out_len[PQ_TLS_LEVEL_HANDSHAKE] > 0) {
      static uint8_t fr[4096];
      size_t fl = ack_and_crypto(&c, PQ_TLS_LEVEL_INITIAL, c.largest_pn[0], fr);
      CHECK_INT(0, ==, send_long(&c, fd, &peer, PQ_PKT_INITIAL, ccid, ccid_len, scid, 0, fr,
                                 fl, 1200));
      uint8_t *p = fr;
      *p++ = 0x06;
      p = pq_varint_write(p, 0);
      p = pq_varint_write(p, c.out_len[PQ_TLS_LEVEL_HANDSHAKE]);
      memcpy(p, c.out[PQ_TLS_LEVEL_HANDSHAKE], c.out_len[PQ_TLS_LEVEL_HANDSHAKE]);
      p += c.out_len[PQ_TLS_LEVEL_HANDSHAKE];
      CHECK_INT(0, ==, send_long(&c, fd, &peer, PQ_PKT_HANDSHAKE, ccid, ccid_len, scid, 0, fr,
                                 (size_t)(p - fr), 0));
      sent_flight = 1;
    }
  }
  CHECK_INT(0, ==, c.tls_rv);
  if (c.tls_rv) fprintf(stderr, "  tls: %s alert %d\n", pq_tls_error(c.tls), pq_tls_alert(c.tls));
  CHECK_INT(1, ==, pq_tls_is_done(c.tls));
  CHECK_STR("h3", pq_tls_alpn(c.tls) ? pq_tls_alpn(c.tls) : "");
  size_t tplen = 0;
  CHECK(pq_tls_peer_tp(c.tls, &tplen) != NULL && tplen > 0);
  CHECK_INT(want, ==, pq_tls_aead(c.tls));
  CHECK_INT(0, <, app_packets); /* the client's 1-RTT packets open with our 1-RTT keys */
  if (pid > 0) {
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
  }
  if (fd >= 0) close(fd);
  for (int l = 0; l < PQ_TLS_LEVELS; l++) {
    pq_keys_free(&c.rx[l]);
    pq_keys_free(&c.tx[l]);
  }
  pq_tls_del(c.tls);
  pq_tls_ctx_del(ctx);
}

static void test_pq_tls_interop_gtlsclient_aes128(void) {
  run_server_case("NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM",
                  PQ_AEAD_AES_128_GCM);
}

static void test_pq_tls_interop_gtlsclient_chacha20(void) {
  run_server_case("NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305",
                  PQ_AEAD_CHACHA20_POLY1305);
}

int main(void) {
  if (access(SERVER, X_OK) != 0 || access(CLIENT, X_OK) != 0) {
    fprintf(stderr, "%s or %s missing: install ngtcp2-server and ngtcp2-client "
            "(scripts/install-deps.sh)\n", SERVER, CLIENT);
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  snprintf(dir, sizeof(dir), "/tmp/pq_interop_XXXXXX");
  if (!mkdtemp(dir) || pq_cert_generate(&cert, "localhost", time(NULL), 2) != 0) return 1;
  snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", dir);
  snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
  if (pq_cert_write_files(&cert, cert_path, key_path) != 0) return 1;
  RUN(test_pq_tls_interop_gtlsserver_aes128);
  RUN(test_pq_tls_interop_gtlsserver_chacha20);
  RUN(test_pq_tls_interop_gtlsclient_aes128);
  RUN(test_pq_tls_interop_gtlsclient_chacha20);
  unlink(cert_path);
  unlink(key_path);
  rmdir(dir);
  pq_cert_free(&cert);
  return test_report();
}
