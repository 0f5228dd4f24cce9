/*
 * pluginop-server: serves the files under a folder over HTTP/3 with the pluginop QUIC
 * stack.
 *
 *   pluginop-server [--cert F --key F] [--root DIR] [--ciphers LIST] [--qlog-dir DIR]
 *                   [--cc NAME] [--retry] [--no-0rtt] [--verbose] ADDR PORT
 *
 * GET and HEAD of https://HOST:PORT/PATH answer DIR/PATH (index.html for a folder);
 * paths leaving DIR ("..") get 404. Without --cert/--key a self-signed certificate for
 * "localhost", 127.0.0.1 and ::1 is made and its location printed. PORT 0 picks a free
 * port; the "listening on" line says which. SIGINT/SIGTERM stop it; SIGUSR1 prints each
 * connection's counters.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pluginop/quic.h"
#include "pq_cert.h"
#include "qt_h3.h"
#include "qt_loop.h"
#include "qt_plugins.h"
#include "qt_qlog.h"
#include "qt_udp.h"

#define EXIT_USAGE 64

/* One request being answered. */
typedef struct resp {
  int64_t sid;
  char path[1024];
  bool head;
  uint8_t *map;       /* the file, mapped */
  size_t size;
  bool body_given;
  char status[4], len_str[24];
  const char *ctype;
  struct resp *next;
} resp;

typedef struct sconn {
  pq_conn *conn;
  qt_h3 h3;
  qt_qlog qlog;
  bool hs_done;
  resp *resps;
  struct server *srv;
  struct sconn *next;
} sconn;

typedef struct server {
  const char *root, *qlog_dir, *cert, *key, *cc;
  bool retry;
  bool no_early;   /* --no-0rtt */
  qt_udp udp;
  pq_server *ps;
  sconn *conns;
  sconn *cur; /* connection whose callbacks are running (pq shares one user pointer) */
  const pq_path *cur_path; /* path of the datagram being read (for new connections) */
  uint64_t served, bytes;
  bool verbose;
  uint32_t ciphers;
  double tx_loss, rx_loss;
  uint64_t bidi_window; /* initial_max_streams_bidi we announce */
  qt_plugins plugins;   /* --plugin */
} server;

static volatile sig_atomic_t stop_requested, stats_requested;
static void on_signal(int sig) { stop_requested = 1; }
static void on_usr1(int sig) { stats_requested = 1; }

static void usage(FILE *f) {
  fprintf(f,
          "usage: pluginop-server [options] ADDR PORT\n"
          "Serves the files under a folder over HTTP/3 (QUIC v1) on UDP ADDR:PORT\n"
          "(PORT 0: any free port, printed).\n"
          "  --cert FILE      certificate chain (PEM); with --key\n"
          "  --key FILE       private key (PEM); without both a self-signed certificate\n"
          "                   for localhost/127.0.0.1/::1 is made and its path printed\n"
          "  --root DIR       folder to serve (default: .)\n"
          "  --ciphers LIST   TLS 1.3 cipher suites accepted (default: AES-128-GCM,\n"
          "                   AES-256-GCM,CHACHA20-POLY1305)\n"
          "  --qlog-dir DIR   write a qlog (JSON-SEQ) per connection into DIR\n"
          "  --cc NAME        congestion control: newreno (default) or cubic\n"
          "  --retry          validate client addresses with a Retry first\n"
          "  --no-0rtt        issue no session tickets, accept no 0-RTT (by default a\n"
          "                   client resuming a ticket of this process may send its\n"
          "                   requests in 0-RTT; replays of a ClientHello are refused,\n"
          "                   and only GET of files is served, which is safe to repeat)\n"
          "  --verbose        one line per request on stderr\n"
          "  --plugin FILE.wasm[:KEY=VALUE,...]\n"
          "                   load a WebAssembly plugin into every connection\n"
          "                   (repeatable; parameters go to the plugin); a summary line\n"
          "                   per connection on stderr when it closes\n"
          "  --tx-loss P, --rx-loss P\n"
          "                   drop each datagram sent / received with probability P\n"
          "                   (0..1; for tests)\n"
          "  --help           this text\n"
          "SSLKEYLOGFILE in the environment: TLS secrets are appended there.\n");
}

/* ---- responses ---- */

static const char *content_type(const char *path) {
  const char *dot = strrchr(path, '.');
  if (!dot) return "application/octet-stream";
  if (!strcmp(dot, ".html") || !strcmp(dot, ".htm")) return "text/html; charset=utf-8";
  if (!strcmp(dot, ".txt")) return "text/plain; charset=utf-8";
  if (!strcmp(dot, ".css")) return "text/css";
  if (!strcmp(dot, ".js")) return "text/javascript";
  if (!strcmp(dot, ".json")) return "application/json";
  if (!strcmp(dot, ".png")) return "image/png";
  if (!strcmp(dot, ".jpg") || !strcmp(dot, ".jpeg")) return "image/jpeg";
  return "application/octet-stream";
}

static void resp_free(resp *r) {
  if (r->map && r->size) munmap(r->map, r->size);
  free(r);
}

static nghttp3_ssize read_body(nghttp3_conn *c, int64_t sid, nghttp3_vec *vec, size_t veccnt,
                               uint32_t *flags, void *cu, void *su) {
  resp *r = su;
  *flags = NGHTTP3_DATA_FLAG_EOF;
  if (!r || r->body_given || r->size == 0) return 0;
  r->body_given = true;
  vec[0].base = r->map;
  vec[0].len = r->size;
  return 1;
}

/* Maps ROOT/PATH for |r|; returns the HTTP status. */
static int open_file(server *s, resp *r) {
  char full[4096];
  struct stat st;
  size_t n = strcspn(r->path, "?#");
  int fd;
  r->path[n] = 0;
  if (r->path[0] != '/' || strstr(r->path, "/..") || strstr(r->path, "//")) return 404;
  snprintf(full, sizeof(full), "%s%s%s", s->root, r->path,
           r->path[n - 1] == '/' ? "index.html" : "");
  if (stat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
    strncat(full, "/index.html", sizeof(full) - strlen(full) - 1);
    if (stat(full, &st) < 0) return 404;
  }
  if ((fd = open(full, O_RDONLY | O_CLOEXEC)) < 0) return errno == EACCES ? 403 : 404;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return 404;
  }
  r->size = (size_t)st.st_size;
  r->ctype = content_type(full);
  if (r->size) {
    r->map = mmap(NULL, r->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (r->map == MAP_FAILED) {
      r->map = NULL;
      r->size = 0;
      close(fd);
      return 500;
    }
    madvise(r->map, r->size, MADV_SEQUENTIAL);
  }
  close(fd);
  return 200;
}

static void respond(sconn *sc, resp *r) {
  server *s = sc->srv;
  static const nghttp3_data_reader reader = {read_body};
  int status = open_file(s, r);
  size_t body = status == 200 ? r->size : 0;
  nghttp3_nv nva[4];
  size_t n = 0;
  if (status != 200) {
    r->ctype = "text/plain";
    r->size = 0;
  }
  if (r->head) r->size = 0;
  snprintf(r->status, sizeof(r->status), "%d", status);
  snprintf(r->len_str, sizeof(r->len_str), "%zu", body);
#define NV(n_, v_) (nghttp3_nv){(uint8_t *)(n_), (uint8_t *)(v_), strlen(n_), strlen(v_), 0}
  nva[n++] = NV(":status", r->status);
  nva[n++] = NV("server", "pluginop-server");
  nva[n++] = NV("content-type", r->ctype);
  nva[n++] = NV("content-length", r->len_str);
#undef NV
  if (s->verbose) fprintf(stderr, "%s %s -> %d (%zu bytes)\n", r->head ? "HEAD" : "GET",
                          r->path, status, body);
  s->served++;
  s->bytes += r->size;
  qt_qlog_headers(&sc->qlog, qt_now(), false, r->sid, ":path", r->path);
  qt_qlog_headers(&sc->qlog, qt_now(), true, r->sid, ":status", r->status);
  if (!sc->h3.started ||
      nghttp3_conn_submit_response(sc->h3.h3, r->sid, nva, n, r->size ? &reader : NULL))
    pq_conn_stream_reset(sc->conn, r->sid, 0x102 /* H3_INTERNAL_ERROR */);
}

/* ---- nghttp3 callbacks ---- */

static int h3_begin_headers(nghttp3_conn *c, int64_t sid, void *cu, void *su) {
  sconn *sc = qt_h3_user(cu);
  resp *r;
  if (su) return 0;
  if (!(r = calloc(1, sizeof(*r)))) return NGHTTP3_ERR_CALLBACK_FAILURE;
  r->sid = sid;
  r->next = sc->resps;
  sc->resps = r;
  nghttp3_conn_set_stream_user_data(c, sid, r);
  return 0;
}

static int h3_recv_header(nghttp3_conn *c, int64_t sid, int32_t token, nghttp3_rcbuf *name,
                          nghttp3_rcbuf *value, uint8_t flags, void *cu, void *su) {
  resp *r = su;
  nghttp3_vec v = nghttp3_rcbuf_get_buf(value);
  if (!r) return 0;
  if (token == NGHTTP3_QPACK_TOKEN__PATH) {
    size_t n = v.len < sizeof(r->path) - 1 ? v.len : sizeof(r->path) - 1;
    memcpy(r->path, v.base, n);
    r->path[n] = 0;
  } else if (token == NGHTTP3_QPACK_TOKEN__METHOD) {
    r->head = v.len == 4 && !memcmp(v.base, "HEAD", 4);
  }
  return 0;
}

static int h3_end_stream(nghttp3_conn *c, int64_t sid, void *cu, void *su) {
  sconn *sc = qt_h3_user(cu);
  if (su) respond(sc, su);
  return 0;
}

static int h3_stream_close(nghttp3_conn *c, int64_t sid, uint64_t code, void *cu, void *su) {
  sconn *sc = qt_h3_user(cu);
  for (resp **p = &sc->resps; *p; p = &(*p)->next) {
    if (*p == su) {
      resp *r = *p;
      *p = r->next;
      resp_free(r);
      break;
    }
  }
  return 0;
}

static const nghttp3_callbacks h3_cbs = {
    .begin_headers = h3_begin_headers,
    .recv_header = h3_recv_header,
    .end_stream = h3_end_stream,
    .stream_close = h3_stream_close,
};

/* ---- pq callbacks: pq_server gives every connection the server's user pointer, so
 * the connection is found by its pq_conn (s->cur is set around each read). ---- */

static sconn *find_conn(server *s, pq_conn *c) {
  if (s->cur && s->cur->conn == c) return s->cur;
  for (sconn *sc = s->conns; sc; sc = sc->next)
    if (sc->conn == c) return sc;
  return NULL;
}

/* Adopts a connection pq_server just created. */
static sconn *add_conn(server *s, pq_conn *c) {
  sconn *sc = calloc(1, sizeof(*sc));
  if (!sc) return NULL;
  sc->conn = c;
  sc->srv = s;
  if (qt_qlog_open(&sc->qlog, s->qlog_dir, true, c, s->cur_path, qt_now()) < 0)
    fprintf(stderr, "pluginop-server: cannot write a qlog into %s\n", s->qlog_dir);
  if (qt_h3_init(&sc->h3, c, true, s->bidi_window, &h3_cbs, sc) < 0) {
    fprintf(stderr, "pluginop-server: %s\n", sc->h3.err);
    qt_qlog_close(&sc->qlog);
    free(sc);
    return NULL;
  }
  sc->next = s->conns;
  s->conns = sc;
  return sc;
}

static sconn *conn_of(server *s, pq_conn *c) {
  sconn *sc = find_conn(s, c);
  return sc ? sc : add_conn(s, c);
}

static void on_handshake(pq_conn *c, void *user) {
  sconn *sc = conn_of(user, c);
  if (!sc) return;
  sc->hs_done = true;
}

static int on_stream_data(pq_conn *c, int64_t sid, const uint8_t *d, size_t len, bool fin,
                          void *user) {
  sconn *sc = conn_of(user, c);
  if (!sc) return -1;
  qt_h3_on_stream_data(&sc->h3, sid, d, len, fin);
  return 0;
}

static void on_stream_closed(pq_conn *c, int64_t sid, uint64_t err, void *user) {
  sconn *sc = find_conn(user, c);
  if (sc) qt_h3_on_stream_closed(&sc->h3, sid, err);
}

static void on_stream_reset(pq_conn *c, int64_t sid, uint64_t err, void *user) {
  sconn *sc = find_conn(user, c);
  if (sc) qt_h3_on_stream_reset(&sc->h3, sid, err);
}

static void on_closed(pq_conn *c, const pq_close_info *info, void *user) {
  server *s = user;
  sconn *sc = find_conn(s, c);
  char msg[400];
  if (sc) qt_qlog_closed(&sc->qlog, info, qt_now());
  qt_plugins_summary(stderr, "pluginop-server", c);
  if (!s->verbose) return;
  fprintf(stderr, "connection closed: %s%s\n", qt_close_str(info, msg, sizeof(msg)),
          pq_conn_early_data(c) == PQ_EARLY_ACCEPTED ? " (0-RTT accepted)" : "");
  qt_print_stats("connection", c, &s->udp);
}

/* The engine's qlog records go to the connection's file (set only with --qlog-dir);
 * the first one comes from inside pq_server_read, so the connection is adopted here. */
static void on_qlog(pq_conn *c, const char *rec, size_t len, void *user) {
  sconn *sc = conn_of(user, c);
  if (sc) qt_qlog_record(&sc->qlog, rec, len);
}

static const pq_callbacks pq_cbs = {
    .handshake_done = on_handshake,
    .stream_data = on_stream_data,
    .stream_closed = on_stream_closed,
    .stream_reset = on_stream_reset,
    .connection_closed = on_closed,
    .plugin_log = qt_plugin_log,
    .plugin_fault = qt_plugin_fault,
};

static void free_conn(sconn *sc) {
  while (sc->resps) {
    resp *r = sc->resps;
    sc->resps = r->next;
    resp_free(r);
  }
  qt_h3_free(&sc->h3);
  qt_qlog_close(&sc->qlog);
  free(sc);
}

/* On SIGTERM/SIGINT: each live connection is told we go away (H3_NO_ERROR), so its
 * client stops at once and its qlog ends with connection_closed (freed without a close,
 * a connection whose client's CONNECTION_CLOSE was still in the socket had none). */
static void close_all(server *s) {
  pq_tstamp now = qt_now();
  for (sconn *sc = s->conns; sc; sc = sc->next)
    if (pq_conn_close(sc->conn, 0x100 /* H3_NO_ERROR */, "server stopping", now) == 0)
      qt_drive_send(&s->udp, sc->conn, now);
}

/* Drops our state for connections the server is about to reap. */
static void reap(server *s) {
  bool any = false;
  for (sconn **p = &s->conns; *p;) {
    if (pq_conn_is_closed((*p)->conn)) {
      sconn *sc = *p;
      *p = sc->next;
      free_conn(sc);
      any = true;
    } else {
      p = &(*p)->next;
    }
  }
  if (any) pq_server_reap(s->ps);
}

/* Sends the Version Negotiation and Stateless Reset answers pq_server_read queued. */
static void send_stateless(server *s) {
  for (;;) {
    pq_path p;
    ssize_t n;
    if (!qt_udp_tx_room(&s->udp) && qt_udp_flush(&s->udp)) return;
    n = pq_server_write(s->ps, &p, qt_udp_tx_slot(&s->udp), QT_UDP_MAX_DGRAM);
    if (n <= 0) break;
    qt_udp_tx_commit(&s->udp, (size_t)n, (struct sockaddr *)&p.remote, p.remote_len);
  }
  qt_udp_flush(&s->udp);
}

/* One pass: read, timers, HTTP/3, send, wait. */
static void step(server *s) {
  pq_tstamp now = qt_now(), next = PQ_TSTAMP_NEVER;
  bool want_write = false;
  int n;
  while ((n = qt_udp_recv(&s->udp)) > 0) {
    for (int i = 0; i < n; i++) {
      pq_conn *c = NULL;
      s->cur_path = &s->udp.rx[i].path;
      pq_server_read(s->ps, &s->udp.rx[i].path, s->udp.rx[i].data, s->udp.rx[i].len, now, &c);
      if (c) conn_of(s, c);
      s->cur_path = NULL;
    }
    if (!s->udp.rx_more) break;
  }
  send_stateless(s);
  now = qt_now();
  for (sconn *sc = s->conns; sc; sc = sc->next) {
    pq_tstamp exp = pq_conn_expiry(sc->conn);
    s->cur = sc;
    if (exp <= now) pq_conn_handle_expiry(sc->conn, now);
    if (sc->hs_done && !sc->h3.started) qt_h3_start(&sc->h3);
    if (sc->h3.started) qt_h3_flush(&sc->h3, now);
    if (qt_drive_send(&s->udp, sc->conn, now) == 1) want_write = true;
    exp = pq_conn_expiry(sc->conn);
    if (exp < next) next = exp;
  }
  s->cur = NULL;
  if (stats_requested) { /* SIGUSR1: where every connection stands */
    stats_requested = 0;
    for (sconn *sc = s->conns; sc; sc = sc->next) {
      fprintf(stderr, "connection %p: %zu HTTP/3 streams blocked, expiry in %.3f ms; ",
              (void *)sc->conn, sc->h3.nblocked,
              pq_conn_expiry(sc->conn) == PQ_TSTAMP_NEVER ? -1.0
              : ((double)pq_conn_expiry(sc->conn) - (double)now) / 1e6);
      qt_print_stats("now", sc->conn, &s->udp);
    }
  }
  reap(s);
  qt_wait(&s->udp, want_write, next, 500000000u);
}

/* Makes a self-signed certificate in a fresh temporary folder. Returns 0 or -1. */
static int self_signed(server *s, char *dir, size_t dir_cap, char *cert, char *key,
                       size_t cap) {
  pq_cert c;
  char spki[64];
  snprintf(dir, dir_cap, "%s/pluginop-server-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR")
                                                                      : "/tmp");
  if (!mkdtemp(dir)) {
    fprintf(stderr, "pluginop-server: cannot create %s: %s\n", dir, strerror(errno));
    return -1;
  }
  snprintf(cert, cap, "%s/cert.pem", dir);
  snprintf(key, cap, "%s/key.pem", dir);
  if (pq_cert_generate(&c, "localhost", time(NULL), 30) < 0 ||
      pq_cert_write_files(&c, cert, key) < 0) {
    fprintf(stderr, "pluginop-server: cannot make a self-signed certificate in %s\n", dir);
    pq_cert_free(&c);
    return -1;
  }
  if (pq_cert_spki_sha256_b64(&c, spki, sizeof(spki)) < 0) snprintf(spki, sizeof(spki), "?");
  printf("self-signed certificate: %s (key %s), SPKI sha256 %s\n", cert, key, spki);
  pq_cert_free(&c);
  return 0;
}

static int parse_prob(const char *arg, double *out) {
  char *end;
  double p = strtod(arg, &end);
  if (*end || end == arg || !(p >= 0 && p <= 1)) {
    fprintf(stderr, "pluginop-server: loss probability must be in 0..1, not '%s'\n", arg);
    return -1;
  }
  *out = p;
  return 0;
}

static int parse_args(server *s, int argc, char **argv) {
  static const struct option opts[] = {
      {"cert", required_argument, NULL, 'c'},     {"key", required_argument, NULL, 'k'},
      {"root", required_argument, NULL, 'r'},     {"qlog-dir", required_argument, NULL, 'q'},
      {"verbose", no_argument, NULL, 'v'},        {"help", no_argument, NULL, 'h'},
      {"ciphers", required_argument, NULL, 'C'}, {"cc", required_argument, NULL, 'c' + 256},
      {"retry", no_argument, NULL, 'Y'},
      {"no-0rtt", no_argument, NULL, 'Z'},
      {"tx-loss", required_argument, NULL, 't'}, {"rx-loss", required_argument, NULL, 'R'},
      {"plugin", required_argument, NULL, 'P'},
      {NULL, 0, NULL, 0}};
  struct stat st;
  char bad[64];
  int ch;
  while ((ch = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
    switch (ch) {
    case 'c': s->cert = optarg; break;
    case 'k': s->key = optarg; break;
    case 'r': s->root = optarg; break;
    case 'q': s->qlog_dir = optarg; break;
    case 'v': s->verbose = true; break;
    case 'P':
      if (qt_plugins_add(&s->plugins, "pluginop-server", optarg) < 0) return EXIT_USAGE;
      break;
    case 'c' + 256: s->cc = optarg;
      if (!qt_cc_known(optarg)) {
        fprintf(stderr, "pluginop-server: unknown congestion control '%s' (newreno, cubic)\n",
                optarg);
        return EXIT_USAGE;
      }
      break;
    case 'Y': s->retry = true; break;
    case 'Z': s->no_early = true; break;
    case 't':
    case 'R':
      if (parse_prob(optarg, ch == 't' ? &s->tx_loss : &s->rx_loss) < 0) return EXIT_USAGE;
      break;
    case 'C':
      if (qt_parse_ciphers(optarg, &s->ciphers, bad, sizeof(bad)) < 0) {
        fprintf(stderr, "pluginop-server: unknown cipher suite '%s' (known: AES-128-GCM, "
                "AES-256-GCM, CHACHA20-POLY1305)\n", bad);
        return EXIT_USAGE;
      }
      break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return EXIT_USAGE;
    }
  }
  if (argc - optind != 2) {
    fprintf(stderr, "pluginop-server: expected ADDR and PORT\n");
    usage(stderr);
    return EXIT_USAGE;
  }
  if (!s->cert != !s->key) {
    fprintf(stderr, "pluginop-server: --cert and --key go together\n");
    return EXIT_USAGE;
  }
  if (stat(s->root, &st) < 0 || !S_ISDIR(st.st_mode)) {
    fprintf(stderr, "pluginop-server: --root %s is not a folder\n", s->root);
    return EXIT_USAGE;
  }
  return -1;
}

/* Binds ADDR PORT; returns 0 or an exit status. */
static int open_socket(server *s, const char *addr, const char *port) {
  struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                  *res;
  char where[80];
  char *end;
  long p = strtol(port, &end, 10);
  int rv;
  if (*end || p < 0 || p > 65535) {
    fprintf(stderr, "pluginop-server: bad port '%s'\n", port);
    return EXIT_USAGE;
  }
  if ((rv = getaddrinfo(strcmp(addr, "*") ? addr : NULL, port, &hints, &res))) {
    fprintf(stderr, "pluginop-server: %s: %s\n", addr, gai_strerror(rv));
    return EXIT_USAGE;
  }
  rv = qt_udp_open(&s->udp, res->ai_addr, res->ai_addrlen, true);
  qt_addr_str(res->ai_addr, where, sizeof(where));
  freeaddrinfo(res);
  if (rv < 0) {
    fprintf(stderr, "pluginop-server: cannot listen on %s: %s\n", where, strerror(-rv));
    return 1;
  }
  printf("listening on %s\n", qt_addr_str((struct sockaddr *)&s->udp.local, where,
                                         sizeof(where)));
  fflush(stdout);
  return 0;
}

int main(int argc, char **argv) {
  server s = {.root = "."};
  char dir[512] = "", cert[600], key[600];
  pq_settings set;
  pq_callbacks cbs;
  int rv = parse_args(&s, argc, argv);
  if (rv >= 0) {
    qt_plugins_free(&s.plugins);
    return rv;
  }
  if (!s.cert) {
    if (self_signed(&s, dir, sizeof(dir), cert, key, sizeof(cert)) < 0) return 1;
    s.cert = cert;
    s.key = key;
  }
  pq_settings_default(&set);
  set.keylog_file = getenv("SSLKEYLOGFILE");
  if (set.keylog_file && !*set.keylog_file) set.keylog_file = NULL;
  set.qlog_dir = s.qlog_dir;
  set.ciphers = s.ciphers;
  set.retry = s.retry;
  set.early_data = !s.no_early;
  if (s.cc) set.cc_algorithm = s.cc;
  s.bidi_window = set.initial_max_streams_bidi;
  set.initial_max_data = 64ull << 20;
  set.max_ack_delay = QT_MAX_ACK_DELAY;
  qt_plugins_apply(&s.plugins, &set);
  cbs = pq_cbs;
  if (s.qlog_dir) cbs.qlog = on_qlog;
  if ((rv = pq_server_new(&s.ps, &set, &cbs, s.cert, s.key, &s)) < 0) {
    if (rv == PQ_ERR_INVALID_ARG)
      fprintf(stderr, "pluginop-server: invalid settings (unknown --cc %s?)\n",
              s.cc ? s.cc : "");
    else
      fprintf(stderr, "pluginop-server: cannot load the certificate %s / key %s (error %d)\n",
              s.cert, s.key, rv);
    qt_plugins_free(&s.plugins);
    return 1;
  }
  if ((rv = open_socket(&s, argv[optind], argv[optind + 1]))) {
    pq_server_del(s.ps);
    qt_plugins_free(&s.plugins);
    return rv;
  }
  qt_udp_set_loss(&s.udp, s.tx_loss, s.rx_loss);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGUSR1, on_usr1);
  signal(SIGPIPE, SIG_IGN);
  while (!stop_requested) step(&s);
  close_all(&s);
  while (s.conns) {
    sconn *sc = s.conns;
    s.conns = sc->next;
    free_conn(sc);
  }
  pq_server_del(s.ps);
  qt_plugins_free(&s.plugins);
  qt_udp_close(&s.udp);
  fprintf(stderr, "pluginop-server: stopped after %llu responses, %llu body bytes\n",
          (unsigned long long)s.served, (unsigned long long)s.bytes);
  return 0;
}
