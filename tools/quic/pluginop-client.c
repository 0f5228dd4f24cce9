/*
 * pluginop-client: downloads URLs over HTTP/3 with the pluginop QUIC stack.
 *
 *   pluginop-client [--output DIR] [--ciphers LIST] [--ca FILE] [--insecure]
 *                   [--qlog-dir DIR] [--session-file FILE]
 *                   [--resolve HOST:PORT:ADDR[,ADDR...]] URL...
 *
 * URLs with the same host and port share one connection and are fetched at once (as
 * many streams as the server allows). Each body goes to DIR/BASENAME. Exit status 0
 * only when every URL answered 200 with its whole body; 64 for wrong usage, 1 otherwise.
 * With --session-file, a saved session resumes with 0-RTT: the requests go out before
 * the handshake completes.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pluginop/quic.h"
#include "qt_h3.h"
#include "qt_loop.h"
#include "qt_plugins.h"
#include "qt_qlog.h"
#include "qt_resolve.h"
#include "qt_udp.h"

#define EXIT_USAGE 64
#define OUT_BUF (256 * 1024)
/* How long the handshake on one address may take (ns). While other addresses remain and
 * nothing came back from this one, 2 s: the first Initial and its one retransmission
 * (the first PTO is about 1 s, RFC 9002's 333 ms initial RTT). An address that refuses
 * (ICMP port or host unreachable: ECONNREFUSED etc. on the connected socket) is left at
 * once. Once this address answered, or for the last address, 10 s. */
#define HS_TIMEOUT_MORE_ADDRS 2000000000ull
#define HS_TIMEOUT_LAST 10000000000ull
#define MAX_RESOLVE 16 /* --resolve options */

typedef struct req {
  const char *url;
  char host[256], port[16], path[2048], authority[300];
  char out_path[4096];
  int fd;
  uint8_t *buf;
  size_t buf_len;
  int64_t sid;
  int status;
  int64_t content_length;
  uint64_t bytes;
  bool submitted, ended, done;
  char err[400];
} req;

typedef struct client {
  const char *out_dir, *ca, *qlog_dir, *keylog, *cc;
  uint32_t ciphers;
  double tx_loss, rx_loss;
  bool insecure, tty, verbose;
  req *reqs;
  size_t nreqs;
  /* the connection being run */
  req **group;
  size_t ngroup, ndone, next;
  qt_udp udp;
  pq_conn *conn;
  qt_h3 h3;
  qt_qlog qlog;
  bool hs_done, closed, streams_more, sock_err;
  bool rx_any; /* a datagram came from this address */
  char close_msg[400];
  pq_tstamp t0, t_end, last_progress;
  uint64_t total_bytes;
  qt_plugins plugins; /* --plugin */
  qt_resolve resolve[MAX_RESOLVE]; /* --resolve */
  size_t nresolve;
  const char *session_file;     /* --session-file */
  pq_early_data early;          /* 0-RTT on the last connection */
} client;

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) { stop_requested = 1; }

static void usage(FILE *f) {
  fprintf(f,
          "usage: pluginop-client [options] URL...\n"
          "Downloads each https:// URL over HTTP/3 (QUIC v1); URLs on the same host and\n"
          "port share one connection and are fetched concurrently.\n"
          "  --output DIR     write each body to DIR/BASENAME (default: .)\n"
          "  --ciphers LIST   TLS 1.3 cipher suites, e.g. CHACHA20-POLY1305 or\n"
          "                   AES-128-GCM,AES-256-GCM (default: all three)\n"
          "  --ca FILE        also trust the CA certificate(s) in FILE (PEM)\n"
          "  --insecure       do not verify the server's certificate\n"
          "  --qlog-dir DIR   write a qlog (JSON-SEQ) per connection into DIR\n"
          "  --session-file FILE\n"
          "                   resume the TLS session saved in FILE (if it exists) and send\n"
          "                   the requests in 0-RTT; session tickets from the server are\n"
          "                   saved there (use one file per server); the summary says\n"
          "                   whether 0-RTT was accepted\n"
          "  --cc NAME        congestion control: newreno (default) or cubic\n"
          "  --resolve HOST:PORT:ADDR[,ADDR...]\n"
          "                   connect to these addresses (IPv6 in brackets, e.g.\n"
          "                   localhost:4433:[::1],127.0.0.1) instead of asking DNS for\n"
          "                   HOST, for URLs on HOST:PORT; the certificate is still\n"
          "                   checked against HOST (repeatable, one per HOST:PORT)\n"
          "  --verbose        connection statistics on stderr at the end\n"
          "  --plugin FILE.wasm[:KEY=VALUE,...]\n"
          "                   load a WebAssembly plugin into the connection (repeatable;\n"
          "                   parameters go to the plugin); a summary line on stderr\n"
          "  --tx-loss P, --rx-loss P\n"
          "                   drop each datagram sent / received with probability P\n"
          "                   (0..1; for tests)\n"
          "  --help           this text\n"
          "The addresses of a host are tried in order (getaddrinfo's, or --resolve's): one\n"
          "that refuses (ICMP unreachable) is left at once, one that stays silent after\n"
          "2 s (10 s for the last); each failure and the address used are told on stderr.\n"
          "SSLKEYLOGFILE in the environment: TLS secrets are appended there.\n"
          "Exit status: 0 when every URL answered 200 with a complete body, 1 otherwise,\n"
          "64 for wrong usage.\n");
}

/* Splits https://HOST[:PORT]/PATH into |r|. Returns 0 or -1 (message in r->err). */
static int parse_url(req *r, const char *url) {
  const char *p = url, *h, *h_end, *port = "443";
  size_t port_len = 3, n;
  r->url = url;
  if (strncasecmp(p, "https://", 8) != 0) {
    snprintf(r->err, sizeof(r->err), "only https:// URLs are supported");
    return -1;
  }
  p += 8;
  if (*p == '[') {
    h = p + 1;
    if (!(h_end = strchr(h, ']'))) goto bad;
    p = h_end + 1;
  } else {
    h = p;
    h_end = p + strcspn(p, ":/?#");
    p = h_end;
  }
  if (h_end == h || (size_t)(h_end - h) >= sizeof(r->host)) goto bad;
  memcpy(r->host, h, (size_t)(h_end - h));
  r->host[h_end - h] = 0;
  if (*p == ':') {
    port = ++p;
    port_len = strspn(p, "0123456789");
    if (port_len == 0 || port_len > 5 || atoi(port) > 65535 || atoi(port) == 0) goto bad;
    p += port_len;
  }
  memcpy(r->port, port, port_len);
  r->port[port_len] = 0;
  if (*p && *p != '/' && *p != '?') goto bad;
  n = strcspn(p, "#");
  if (n + 2 > sizeof(r->path)) goto bad;
  snprintf(r->path, sizeof(r->path), "%s%.*s", *p == '/' ? "" : "/", (int)n, p);
  if (strchr(r->host, ':'))
    snprintf(r->authority, sizeof(r->authority), "[%s]:%s", r->host, r->port);
  else
    snprintf(r->authority, sizeof(r->authority), "%s:%s", r->host, r->port);
  return 0;
bad:
  snprintf(r->err, sizeof(r->err), "malformed URL");
  return -1;
}

/* DIR/BASENAME of the path ("index.html" when the path names a folder). */
static void set_out_path(req *r, const char *dir) {
  char base[256];
  size_t end = strcspn(r->path, "?"), start = end;
  while (start > 0 && r->path[start - 1] != '/') start--;
  if (end == start || end - start >= sizeof(base)) snprintf(base, sizeof(base), "index.html");
  else snprintf(base, sizeof(base), "%.*s", (int)(end - start), r->path + start);
  if (!strcmp(base, ".") || !strcmp(base, "..")) snprintf(base, sizeof(base), "index.html");
  snprintf(r->out_path, sizeof(r->out_path), "%s/%s", dir, base);
}

static void req_fail(req *r, const char *msg) {
  if (r->done) return;
  r->done = true;
  if (!r->err[0]) snprintf(r->err, sizeof(r->err), "%s", msg);
}

static int out_flush(req *r) {
  size_t off = 0;
  while (off < r->buf_len) {
    ssize_t w = write(r->fd, r->buf + off, r->buf_len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      snprintf(r->err, sizeof(r->err), "cannot write %.100s: %s", r->out_path, strerror(errno));
      return -1;
    }
    off += (size_t)w;
  }
  r->buf_len = 0;
  return 0;
}

/* Ends |r|: the output file is flushed and closed; complete when 200, ended and all the
 * announced bytes came. */
static void req_finish(client *cl, req *r) {
  if (r->done) return;
  if (r->fd >= 0) {
    if (out_flush(r) < 0) r->ended = false;
    close(r->fd);
    r->fd = -1;
  }
  free(r->buf);
  r->buf = NULL;
  if (!r->err[0]) {
    if (!r->ended) snprintf(r->err, sizeof(r->err), "stream reset before the end");
    else if (r->status != 200) snprintf(r->err, sizeof(r->err), "HTTP status %d", r->status);
    else if (r->content_length >= 0 && (uint64_t)r->content_length != r->bytes)
      snprintf(r->err, sizeof(r->err), "incomplete: %llu of %lld bytes",
               (unsigned long long)r->bytes, (long long)r->content_length);
  }
  r->done = true;
  cl->ndone++;
  cl->t_end = qt_now();
}

/* ---- nghttp3 callbacks ---- */

static int h3_recv_header(nghttp3_conn *c, int64_t sid, int32_t token, nghttp3_rcbuf *name,
                          nghttp3_rcbuf *value, uint8_t flags, void *cu, void *su) {
  req *r = su;
  nghttp3_vec v = nghttp3_rcbuf_get_buf(value);
  char tmp[32];
  if (!r || v.len >= sizeof(tmp)) return 0;
  memcpy(tmp, v.base, v.len);
  tmp[v.len] = 0;
  if (token == NGHTTP3_QPACK_TOKEN__STATUS) {
    client *cl = qt_h3_user(cu);
    r->status = atoi(tmp);
    qt_qlog_headers(&cl->qlog, qt_now(), false, sid, ":status", tmp);
  }
  else if (token == NGHTTP3_QPACK_TOKEN_CONTENT_LENGTH) r->content_length = atoll(tmp);
  return 0;
}

static int h3_end_headers(nghttp3_conn *c, int64_t sid, int fin, void *cu, void *su) {
  client *cl = qt_h3_user(cu);
  req *r = su;
  if (!r || r->done || r->status != 200 || r->fd >= 0) return 0;
  r->fd = open(r->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (r->fd < 0) {
    snprintf(r->err, sizeof(r->err), "cannot write %.100s: %s", r->out_path, strerror(errno));
    pq_conn_stream_stop_sending(cl->conn, sid, 0x10c /* H3_REQUEST_CANCELLED */);
    req_finish(cl, r);
  }
  return 0;
}

static int h3_recv_data(nghttp3_conn *c, int64_t sid, const uint8_t *data, size_t len,
                        void *cu, void *su) {
  client *cl = qt_h3_user(cu);
  req *r = su;
  if (!r || r->done) return 0;
  r->bytes += len;
  cl->total_bytes += len;
  if (r->status != 200 || r->fd < 0) return 0; /* error bodies are not saved */
  while (len > 0) {
    size_t n = OUT_BUF - r->buf_len < len ? OUT_BUF - r->buf_len : len;
    memcpy(r->buf + r->buf_len, data, n);
    r->buf_len += n;
    data += n;
    len -= n;
    if (r->buf_len == OUT_BUF && out_flush(r) < 0) {
      pq_conn_stream_stop_sending(cl->conn, sid, 0x10c /* H3_REQUEST_CANCELLED */);
      req_finish(cl, r);
      return 0;
    }
  }
  return 0;
}

static int h3_end_stream(nghttp3_conn *c, int64_t sid, void *cu, void *su) {
  req *r = su;
  if (r) r->ended = true;
  return 0;
}

static int h3_stream_close(nghttp3_conn *c, int64_t sid, uint64_t code, void *cu, void *su) {
  client *cl = qt_h3_user(cu);
  if (su) req_finish(cl, su);
  return 0;
}

static const nghttp3_callbacks h3_cbs = {
    .recv_header = h3_recv_header,
    .end_headers = h3_end_headers,
    .recv_data = h3_recv_data,
    .end_stream = h3_end_stream,
    .stream_close = h3_stream_close,
};

/* ---- pq callbacks ---- */

static void on_handshake(pq_conn *c, void *user) {
  client *cl = user;
  cl->hs_done = true;
}

static int on_stream_data(pq_conn *c, int64_t sid, const uint8_t *d, size_t len, bool fin,
                          void *user) {
  client *cl = user;
  qt_h3_on_stream_data(&cl->h3, sid, d, len, fin);
  return 0;
}

static void on_stream_closed(pq_conn *c, int64_t sid, uint64_t err, void *user) {
  qt_h3_on_stream_closed(&((client *)user)->h3, sid, err);
}

static void on_stream_reset(pq_conn *c, int64_t sid, uint64_t err, void *user) {
  qt_h3_on_stream_reset(&((client *)user)->h3, sid, err);
}

static void on_streams_available(pq_conn *c, bool bidi, uint64_t max, void *user) {
  if (bidi) ((client *)user)->streams_more = true;
}

static void on_closed(pq_conn *c, const pq_close_info *info, void *user) {
  client *cl = user;
  cl->closed = true;
  if (!cl->close_msg[0]) /* the first reason (a socket error, say) is the one to show */
    qt_close_str(info, cl->close_msg, sizeof(cl->close_msg));
  qt_qlog_closed(&cl->qlog, info, qt_now());
}

/* A session ticket: saved for the next run (written aside, then renamed over). */
static void on_session_ticket(pq_conn *c, const uint8_t *blob, size_t len, void *user) {
  client *cl = user;
  char tmp[4200];
  FILE *f;
  bool ok;
  snprintf(tmp, sizeof(tmp), "%s.tmp", cl->session_file);
  if (!(f = fopen(tmp, "wb"))) {
    fprintf(stderr, "pluginop-client: cannot write %s: %s\n", tmp, strerror(errno));
    return;
  }
  ok = fwrite(blob, 1, len, f) == len;
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp, cl->session_file) < 0) {
    fprintf(stderr, "pluginop-client: cannot save the session in %s\n", cl->session_file);
    unlink(tmp);
  }
}

/* Reads --session-file into |buf| (|cap| bytes). Returns its length (0: none). An
 * unusable one is reported here and still handed over: the connection refuses it too
 * (full handshake, "0-RTT: bad session" in the summary). */
static size_t load_session(const client *cl, uint8_t *buf, size_t cap) {
  FILE *f = fopen(cl->session_file, "rb");
  const char *why = "";
  size_t n;
  if (!f) {
    if (errno != ENOENT)
      fprintf(stderr, "pluginop-client: cannot read %s: %s\n", cl->session_file,
              strerror(errno));
    return 0;
  }
  n = fread(buf, 1, cap, f);
  if (n == cap) why = "too large";
  fclose(f);
  if (n == cap || pq_session_check(buf, n, &why) < 0)
    fprintf(stderr, "pluginop-client: %s: unusable session (%s); no resumption\n",
            cl->session_file, why);
  return n == cap ? 0 : n;
}

/* The engine's qlog records go to the connection's file (set only with --qlog-dir). */
static void on_qlog(pq_conn *c, const char *rec, size_t len, void *user) {
  qt_qlog_record(&((client *)user)->qlog, rec, len);
}

static const pq_callbacks pq_cbs = {
    .handshake_done = on_handshake,
    .stream_data = on_stream_data,
    .stream_closed = on_stream_closed,
    .stream_reset = on_stream_reset,
    .streams_available = on_streams_available,
    .connection_closed = on_closed,
    .plugin_log = qt_plugin_log,
    .plugin_fault = qt_plugin_fault,
};

/* Sends requests for the group's URLs while the peer's stream limit allows. */
static void submit_requests(client *cl) {
  while (cl->next < cl->ngroup) {
    req *r = cl->group[cl->next];
    int64_t sid;
    int rv;
    if (r->done) { /* failed on an earlier address (see unsubmit_requests) */
      cl->next++;
      continue;
    }
    rv = pq_conn_open_stream(cl->conn, true, &sid);
    if (rv == PQ_ERR_STREAM_LIMIT) return; /* streams_available tells when to go on */
    if (rv < 0) {
      req_fail(r, "cannot open a stream");
      cl->ndone++;
      cl->next++;
      continue;
    }
    const nghttp3_nv nva[] = {
        {(uint8_t *)":method", (uint8_t *)"GET", 7, 3, NGHTTP3_NV_FLAG_NONE},
        {(uint8_t *)":scheme", (uint8_t *)"https", 7, 5, NGHTTP3_NV_FLAG_NONE},
        {(uint8_t *)":authority", (uint8_t *)r->authority, 10, strlen(r->authority),
         NGHTTP3_NV_FLAG_NONE},
        {(uint8_t *)":path", (uint8_t *)r->path, 5, strlen(r->path), NGHTTP3_NV_FLAG_NONE},
        {(uint8_t *)"user-agent", (uint8_t *)"pluginop-client", 10, 15, NGHTTP3_NV_FLAG_NONE},
    };
    r->sid = sid;
    r->submitted = true;
    qt_qlog_headers(&cl->qlog, qt_now(), true, sid, ":path", r->path);
    cl->next++;
    rv = nghttp3_conn_submit_request(cl->h3.h3, sid, nva, sizeof(nva) / sizeof(nva[0]),
                                     NULL, r);
    if (rv) {
      snprintf(r->err, sizeof(r->err), "request: %s", nghttp3_strerror(rv));
      req_finish(cl, r);
    }
  }
}

static void show_progress(client *cl, pq_tstamp now, bool final) {
  double secs;
  if (!cl->tty || (!final && now - cl->last_progress < 250000000u)) return;
  cl->last_progress = now;
  secs = (double)(now - cl->t0) / 1e9;
  fprintf(stderr, "\r%zu/%zu files  %.1f MB  %.1f s  %.1f Mbit/s   %s", cl->ndone, cl->ngroup,
          (double)cl->total_bytes / 1e6, secs,
          secs > 0 ? (double)cl->total_bytes * 8 / secs / 1e6 : 0.0, final ? "\n" : "");
  fflush(stderr);
}

/* One pass of the loop: read, timers, HTTP/3, send. Returns false when the connection
 * cannot go on (closed, or the socket failed). */
static bool step(client *cl, pq_tstamp deadline) {
  pq_tstamp now = qt_now(), exp;
  int n, sent;
  while ((n = qt_udp_recv(&cl->udp)) > 0) {
    cl->rx_any = true;
    for (int i = 0; i < n; i++)
      pq_conn_read(cl->conn, &cl->udp.rx[i].path, cl->udp.rx[i].data, cl->udp.rx[i].len, now);
    if (!cl->udp.rx_more) break;
  }
  if (n < 0) { /* ICMP: nobody listens there, or no route */
    snprintf(cl->close_msg, sizeof(cl->close_msg), "%s", strerror(-n));
    cl->sock_err = true;
    return false;
  }
  now = qt_now();
  exp = pq_conn_expiry(cl->conn);
  if (exp <= now) pq_conn_handle_expiry(cl->conn, now);
  /* With 0-RTT, HTTP/3 starts at once: the requests go out in 0-RTT packets. */
  if ((cl->hs_done || cl->early == PQ_EARLY_OFFERED) && !cl->h3.started &&
      qt_h3_start(&cl->h3) == 0)
    cl->streams_more = true;
  if (cl->h3.started) {
    if (cl->streams_more) {
      cl->streams_more = false;
      submit_requests(cl);
    }
    qt_h3_flush(&cl->h3, now);
  }
  sent = qt_drive_send(&cl->udp, cl->conn, now);
  if (pq_conn_is_closed(cl->conn) || (cl->closed && !cl->hs_done)) return false;
  if (cl->ngroup && cl->ndone == cl->ngroup) return true; /* all done: no waiting */
  exp = pq_conn_expiry(cl->conn);
  if (exp > deadline) exp = deadline;
  qt_wait(&cl->udp, sent == 1, exp, 250000000u);
  show_progress(cl, qt_now(), false);
  return !stop_requested;
}

static pq_settings make_settings(const client *cl) {
  pq_settings s;
  pq_settings_default(&s);
  s.ciphers = cl->ciphers;
  s.keylog_file = cl->keylog;
  s.qlog_dir = cl->qlog_dir;
  s.initial_max_data = 64ull << 20;
  s.initial_max_stream_data_bidi_local = 16ull << 20;
  s.max_ack_delay = QT_MAX_ACK_DELAY;
  qt_plugins_apply(&cl->plugins, &s);
  if (cl->cc) s.cc_algorithm = cl->cc;
  return s;
}

/* When the handshake on the current address is given up (see HS_TIMEOUT_MORE_ADDRS). */
static pq_tstamp hs_deadline(const client *cl, bool last) {
  return cl->t0 + (last || cl->rx_any ? HS_TIMEOUT_LAST : HS_TIMEOUT_MORE_ADDRS);
}

/* Requests sent in 0-RTT on an address that then failed go again on the next one. */
static void unsubmit_requests(client *cl) {
  for (size_t i = 0; i < cl->next && i < cl->ngroup; i++) {
    req *r = cl->group[i];
    if (r->done) continue;
    r->sid = -1;
    r->status = 0;
    r->content_length = -1;
    r->bytes = 0;
  }
  cl->next = 0; /* submit_requests skips the ones already done */
}

/* Connects to one address and runs the handshake. Returns 0 (established), -1 (try the
 * next address) or -2 (stop: certificate or TLS failure, message in close_msg). */
static int try_address(client *cl, const struct sockaddr *sa, socklen_t sa_len,
                       const char *host, bool last) {
  pq_settings s = make_settings(cl);
  pq_callbacks cbs = pq_cbs;
  pq_path path;
  char addr[80];
  int rv = qt_udp_open(&cl->udp, sa, sa_len, false);
  qt_addr_str(sa, addr, sizeof(addr));
  cl->close_msg[0] = 0;
  if (rv < 0) {
    snprintf(cl->close_msg, sizeof(cl->close_msg), "%s", strerror(-rv));
    fprintf(stderr, "pluginop-client: %s: cannot connect: %s\n", addr, cl->close_msg);
    return -1;
  }
  qt_udp_set_loss(&cl->udp, cl->tx_loss, cl->rx_loss);
  memset(&path, 0, sizeof(path));
  memcpy(&path.local, &cl->udp.local, cl->udp.local_len);
  path.local_len = cl->udp.local_len;
  memcpy(&path.remote, sa, sa_len);
  path.remote_len = sa_len;
  cl->hs_done = cl->closed = cl->sock_err = cl->rx_any = false;
  cl->t0 = cl->last_progress = qt_now();
  if (cl->qlog_dir) cbs.qlog = on_qlog;
  if (cl->session_file) {
    static uint8_t sess[32768];
    cbs.session_ticket = on_session_ticket;
    s.session_len = load_session(cl, sess, sizeof(sess));
    s.session = s.session_len ? sess : NULL;
  }
  qt_qlog_close(&cl->qlog); /* an earlier address's attempt */
  rv = pq_conn_client_new(&cl->conn, &s, &cbs, &path, host,
                          cl->ca, cl->insecure, cl, cl->t0);
  if (rv < 0) {
    fprintf(stderr, "pluginop-client: cannot set up the connection (error %d)%s\n", rv,
            rv == PQ_ERR_TLS && cl->ca ? ": is --ca a PEM certificate?"
            : rv == PQ_ERR_INVALID_ARG && cl->cc ? ": unknown --cc?" : "");
    qt_udp_close(&cl->udp);
    return -2;
  }
  cl->early = pq_conn_early_data(cl->conn);
  if ((rv = qt_qlog_open(&cl->qlog, cl->qlog_dir, false, cl->conn, &path, cl->t0)) < 0)
    fprintf(stderr, "pluginop-client: no qlog in %s: %s\n", cl->qlog_dir, strerror(-rv));
  if (qt_h3_init(&cl->h3, cl->conn, false, 0, &h3_cbs, cl) < 0) {
    fprintf(stderr, "pluginop-client: %s\n", cl->h3.err);
    return -2;
  }
  while (!cl->hs_done && step(cl, hs_deadline(cl, last)) && qt_now() < hs_deadline(cl, last)) {
  }
  if (cl->hs_done && !cl->closed) return 0;
  if (!cl->close_msg[0])
    snprintf(cl->close_msg, sizeof(cl->close_msg), "%s within %.0f s",
             cl->rx_any ? "no handshake" : "no answer",
             (double)(hs_deadline(cl, last) - cl->t0) / 1e9);
  if (stop_requested) return -2;
  if (strstr(cl->close_msg, "TLS alert")) {
    /* The reason after the alert says what failed (pq_close_info.reason); a hint for
     * what a user can do about the common case, an issuer we do not trust. */
    bool local = strstr(cl->close_msg, "(local)") && !cl->insecure;
    fprintf(stderr, "pluginop-client: %s: TLS handshake failed: %s%s\n", addr, cl->close_msg,
            local && strstr(cl->close_msg, "issuer unknown")
                ? "; use --ca FILE to trust its issuer, or --insecure"
            : local && !strstr(cl->close_msg, "(local): ")
                ? "; the server's certificate did not verify (use --ca FILE to trust its "
                  "issuer, or --insecure)"
                : "");
    return -2;
  }
  fprintf(stderr, "pluginop-client: %s: cannot connect: %s\n", addr, cl->close_msg);
  unsubmit_requests(cl);
  return -1;
}

static void end_connection(client *cl) {
  if (cl->conn) {
    pq_tstamp now = qt_now();
    if (cl->verbose) qt_print_stats("pluginop-client", cl->conn, &cl->udp);
    cl->early = pq_conn_early_data(cl->conn);
    qt_plugins_summary(stderr, "pluginop-client", cl->conn);
    if (pq_conn_close(cl->conn, 0x100 /* H3_NO_ERROR */, "", now) == 0)
      qt_drive_send(&cl->udp, cl->conn, now); /* the close goes out; no need to drain */
    qt_h3_free(&cl->h3);
    qt_qlog_close(&cl->qlog);
    pq_conn_del(cl->conn);
    cl->conn = NULL;
  }
  if (cl->udp.fd > 0) qt_udp_close(&cl->udp);
}

/* The addresses to try for |r|'s host and port: --resolve's, else getaddrinfo's.
 * Returns 0, or -1 (message printed). */
static int group_addrs(const client *cl, const req *r, qt_addrs *out) {
  uint16_t port = (uint16_t)atoi(r->port);
  const qt_resolve *res = qt_resolve_find(cl->resolve, cl->nresolve, r->host, port);
  char err[160];
  if (res) {
    *out = res->addrs;
    return 0;
  }
  if (qt_addrs_lookup(out, r->host, port, err, sizeof(err)) < 0) {
    fprintf(stderr, "pluginop-client: cannot resolve %s: %s\n", r->host, err);
    return -1;
  }
  return 0;
}

/* Tries |addrs| in order until one completes the handshake (0), a TLS failure stops
 * (-2), or all failed (-1: each one and why printed, one per line as they fail, then a
 * summary line naming them all when there were several). The address used is told when
 * an earlier one failed, or with --verbose. */
static int connect_any(client *cl, const qt_addrs *addrs, const req *r0) {
  char tried[600], addr[80];
  size_t used = 0;
  int hs = -1;
  tried[0] = 0;
  for (size_t i = 0; i < addrs->n && hs == -1; i++) {
    const struct sockaddr *sa = (const struct sockaddr *)&addrs->addr[i];
    hs = try_address(cl, sa, addrs->len[i], r0->host, i + 1 == addrs->n);
    qt_addr_str(sa, addr, sizeof(addr));
    if (hs == 0) {
      if (i > 0 || cl->verbose)
        fprintf(stderr, "pluginop-client: connected to %s (%s, address %zu of %zu)\n", addr,
                r0->authority, i + 1, addrs->n);
      return 0;
    }
    end_connection(cl);
    if (used < sizeof(tried))
      used += (size_t)snprintf(tried + used, sizeof(tried) - used, "%s%s (%s)",
                               used ? ", " : "", addr, cl->close_msg);
  }
  if (hs == -1 && addrs->n > 1)
    fprintf(stderr, "pluginop-client: %s: all %zu addresses failed: %s\n", r0->authority,
            addrs->n, tried);
  return hs;
}

/* Fetches the group's URLs (same host and port) on one connection. */
static void run_group(client *cl) {
  req *r0 = cl->group[0];
  qt_addrs addrs;
  int hs = -1;
  const char *fail = NULL;
  /* Reset before connecting: the step that completes the handshake (inside
   * try_address) already submits requests, and resetting |next| after it made
   * submit_requests send them all again on new streams when the server raised its
   * stream limit (twice-counted responses: "incomplete: 12016 of 10650 bytes"). */
  cl->ndone = cl->next = 0;
  cl->total_bytes = 0;
  if (group_addrs(cl, r0, &addrs) < 0) fail = "host not found";
  else if ((hs = connect_any(cl, &addrs, r0)) == -1 && addrs.n > 1)
    fail = "every address failed";
  if (hs != 0) {
    if (!fail) fail = cl->close_msg[0] ? cl->close_msg : "connection failed";
    for (size_t i = 0; i < cl->ngroup; i++) req_fail(cl->group[i], fail);
    return;
  }
  while (cl->ndone < cl->ngroup && step(cl, PQ_TSTAMP_NEVER)) {
  }
  if (cl->ndone < cl->ngroup) {
    const char *why = stop_requested ? "interrupted" : cl->close_msg[0] ? cl->close_msg
                      : cl->h3.err[0] ? cl->h3.err : "connection lost";
    for (size_t i = 0; i < cl->ngroup; i++) {
      req *r = cl->group[i];
      if (!r->done) {
        if (r->fd >= 0) close(r->fd), r->fd = -1;
        free(r->buf);
        r->buf = NULL;
        req_fail(r, why);
      }
    }
  }
  show_progress(cl, cl->t_end ? cl->t_end : qt_now(), true);
  end_connection(cl);
}

static void summary(client *cl, pq_tstamp start) {
  uint64_t bytes = 0;
  size_t ok = 0;
  double secs = (double)(qt_now() - start) / 1e9;
  for (size_t i = 0; i < cl->nreqs; i++) {
    req *r = &cl->reqs[i];
    bytes += r->bytes;
    if (r->err[0]) fprintf(stderr, "pluginop-client: %s: %s\n", r->url, r->err);
    else ok++;
  }
  printf("%zu/%zu OK, %llu bytes in %.3f s, goodput %.1f Mbit/s\n", ok, cl->nreqs,
         (unsigned long long)bytes, secs, secs > 0 ? (double)bytes * 8 / secs / 1e6 : 0.0);
  if (cl->session_file)
    printf("0-RTT: %s%s\n", pq_early_data_str(cl->early),
           cl->early == PQ_EARLY_NONE ? " (no saved session yet: full handshake)" : "");
}

/* Prepares the output folder and buffers (each file is created when its 200 response
 * arrives, so failures leave no empty files); returns 0 or -1 (message printed). */
static int open_outputs(client *cl) {
  int rv = qt_mkdir_p(cl->out_dir);
  if (rv < 0) {
    fprintf(stderr, "pluginop-client: cannot create %s: %s\n", cl->out_dir, strerror(-rv));
    return -1;
  }
  for (size_t i = 0; i < cl->nreqs; i++) {
    req *r = &cl->reqs[i];
    set_out_path(r, cl->out_dir);
    r->buf = malloc(OUT_BUF);
    if (!r->buf) {
      fprintf(stderr, "pluginop-client: out of memory\n");
      return -1;
    }
  }
  return 0;
}

static int parse_prob(const char *arg, double *out) {
  char *end;
  double p = strtod(arg, &end);
  if (*end || end == arg || !(p >= 0 && p <= 1)) {
    fprintf(stderr, "pluginop-client: loss probability must be in 0..1, not '%s'\n", arg);
    return -1;
  }
  *out = p;
  return 0;
}

/* One --resolve option; returns 0 or -1 (message printed). */
static int add_resolve(client *cl, const char *arg) {
  char err[160];
  qt_resolve *r = &cl->resolve[cl->nresolve];
  if (cl->nresolve == MAX_RESOLVE) {
    fprintf(stderr, "pluginop-client: more than %d --resolve options\n", MAX_RESOLVE);
    return -1;
  }
  if (qt_resolve_parse(r, arg, err, sizeof(err)) < 0) {
    fprintf(stderr, "pluginop-client: --resolve '%s': %s\n", arg, err);
    return -1;
  }
  if (qt_resolve_find(cl->resolve, cl->nresolve, r->host, r->port)) {
    fprintf(stderr, "pluginop-client: --resolve '%s': %s:%u given twice\n", arg, r->host,
            (unsigned)r->port);
    return -1;
  }
  cl->nresolve++;
  return 0;
}

static int parse_args(client *cl, int argc, char **argv) {
  static const struct option opts[] = {
      {"output", required_argument, NULL, 'o'}, {"ciphers", required_argument, NULL, 'c'},
      {"ca", required_argument, NULL, 'a'},     {"insecure", no_argument, NULL, 'k'},
      {"qlog-dir", required_argument, NULL, 'q'}, {"help", no_argument, NULL, 'h'},
      {"tx-loss", required_argument, NULL, 't'}, {"rx-loss", required_argument, NULL, 'r'},
      {"verbose", no_argument, NULL, 'v'}, {"cc", required_argument, NULL, 'C'},
      {"plugin", required_argument, NULL, 'P'}, {"resolve", required_argument, NULL, 'R'},
      {"session-file", required_argument, NULL, 'S'},
      {NULL, 0, NULL, 0}};
  char bad[64];
  int ch;
  while ((ch = getopt_long(argc, argv, "o:k", opts, NULL)) != -1) {
    switch (ch) {
    case 'o': cl->out_dir = optarg; break;
    case 'a': cl->ca = optarg; break;
    case 'k': cl->insecure = true; break;
    case 'v': cl->verbose = true; break;
    case 'P':
      if (qt_plugins_add(&cl->plugins, "pluginop-client", optarg) < 0) return EXIT_USAGE;
      break;
    case 'C': cl->cc = optarg;
      if (!qt_cc_known(optarg)) {
        fprintf(stderr, "pluginop-client: unknown congestion control '%s' (newreno, cubic)\n",
                optarg);
        return EXIT_USAGE;
      }
      break;
    case 'q': cl->qlog_dir = optarg; break;
    case 'R':
      if (add_resolve(cl, optarg) < 0) return EXIT_USAGE;
      break;
    case 'S': cl->session_file = optarg; break;
    case 't':
    case 'r':
      if (parse_prob(optarg, ch == 't' ? &cl->tx_loss : &cl->rx_loss) < 0) return EXIT_USAGE;
      break;
    case 'c':
      if (qt_parse_ciphers(optarg, &cl->ciphers, bad, sizeof(bad)) < 0) {
        fprintf(stderr, "pluginop-client: unknown cipher suite '%s' (known: AES-128-GCM, "
                "AES-256-GCM, CHACHA20-POLY1305)\n", bad);
        return EXIT_USAGE;
      }
      break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return EXIT_USAGE;
    }
  }
  if (optind >= argc) {
    fprintf(stderr, "pluginop-client: no URL given\n");
    usage(stderr);
    return EXIT_USAGE;
  }
  if (cl->ca && access(cl->ca, R_OK) < 0) {
    fprintf(stderr, "pluginop-client: cannot read --ca %s: %s\n", cl->ca, strerror(errno));
    return EXIT_USAGE;
  }
  return -1;
}

int main(int argc, char **argv) {
  client cl = {.out_dir = ".", .keylog = getenv("SSLKEYLOGFILE")};
  int rv = parse_args(&cl, argc, argv), status = 0;
  pq_tstamp start;
  if (rv >= 0) {
    qt_plugins_free(&cl.plugins);
    return rv;
  }
  if (cl.keylog && !*cl.keylog) cl.keylog = NULL;
  cl.nreqs = (size_t)(argc - optind);
  cl.reqs = calloc(cl.nreqs, sizeof(*cl.reqs));
  cl.group = calloc(cl.nreqs, sizeof(*cl.group));
  if (!cl.reqs || !cl.group) return 1;
  for (size_t i = 0; i < cl.nreqs; i++) {
    req *r = &cl.reqs[i];
    r->fd = -1;
    r->sid = -1;
    r->content_length = -1;
    if (parse_url(r, argv[optind + (int)i]) < 0) {
      fprintf(stderr, "pluginop-client: %s: %s\n", argv[optind + (int)i], r->err);
      status = EXIT_USAGE;
    }
  }
  if (status == 0 && open_outputs(&cl) < 0) status = 1;
  if (status) {
    for (size_t i = 0; i < cl.nreqs; i++) {
      if (cl.reqs[i].fd >= 0) close(cl.reqs[i].fd);
      free(cl.reqs[i].buf);
    }
    free(cl.reqs);
    free(cl.group);
    return status;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGPIPE, SIG_IGN);
  cl.tty = isatty(2);
  start = qt_now();
  /* One connection per host:port, in the order the URLs name them. */
  for (size_t i = 0; i < cl.nreqs; i++) {
    req *r = &cl.reqs[i];
    if (r->submitted || r->done) continue;
    cl.ngroup = 0;
    for (size_t j = i; j < cl.nreqs; j++)
      if (!cl.reqs[j].done && !cl.reqs[j].submitted &&
          !strcmp(cl.reqs[j].host, r->host) && !strcmp(cl.reqs[j].port, r->port))
        cl.group[cl.ngroup++] = &cl.reqs[j];
    run_group(&cl);
    for (size_t j = 0; j < cl.ngroup; j++) cl.group[j]->submitted = true;
  }
  summary(&cl, start);
  for (size_t i = 0; i < cl.nreqs; i++) {
    if (cl.reqs[i].err[0]) status = 1;
    if (cl.reqs[i].fd >= 0) close(cl.reqs[i].fd);
    free(cl.reqs[i].buf);
  }
  free(cl.reqs);
  free(cl.group);
  qt_plugins_free(&cl.plugins);
  return status;
}
