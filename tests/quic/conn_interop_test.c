/*
 * The connection engine against ngtcp2 (Debian ngtcp2-client / ngtcp2-server, GnuTLS
 * builds) over UDP on loopback, in real time (bounded: a few seconds per case).
 *
 *  - our client -> gtlsserver: the handshake completes and is confirmed
 *    (HANDSHAKE_DONE), the server's HTTP/3 control stream (unidirectional, first byte
 *    0x00 = control stream type) arrives through our stream machinery, then an HTTP/3
 *    GET on a bidirectional stream gets a response (HEADERS frame first); we close.
 *  - gtlsclient -> our server: the handshake completes, the client's request arrives
 *    on bidirectional stream 0 with FIN, and our CONNECTION_CLOSE ends the client.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pq_cert.h"
#include "pq_conn.h"
#include "test.h"

#define SERVER "/usr/sbin/gtlsserver"
#define CLIENT "/usr/bin/gtlsclient"

static char dir[64], cert_path[128], key_path[128];

static pq_tstamp mono_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (pq_tstamp)t.tv_sec * 1000000000u + (pq_tstamp)t.tv_nsec;
}

typedef struct peer_app {
  bool established, closed;
  pq_close_info close;
  uint64_t bytes[64];      /* per stream id (< 64) */
  uint8_t first[64];       /* first byte per stream id */
  bool fin[64];
  int opened;
} peer_app;

static int on_data(pq_conn *c, int64_t sid, const uint8_t *d, size_t len, bool fin,
                   void *user) {
  peer_app *a = user;
  if (sid < 0 || sid >= 64) return 0;
  if (a->bytes[sid] == 0 && len > 0) a->first[sid] = d[0];
  a->bytes[sid] += len;
  if (fin) a->fin[sid] = true;
  return 0;
}
static void on_hs(pq_conn *c, void *user) { ((peer_app *)user)->established = true; }
static void on_open(pq_conn *c, int64_t sid, void *user) { ((peer_app *)user)->opened++; }
static void on_close(pq_conn *c, const pq_close_info *i, void *user) {
  peer_app *a = user;
  a->closed = true;
  a->close = *i;
  a->close.reason = NULL;
}
static const pq_callbacks cbs = {.handshake_done = on_hs,
                                 .stream_data = on_data,
                                 .stream_opened = on_open,
                                 .connection_closed = on_close};

static pid_t spawn(const char *prog, char *const argv[]) {
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, 1), dup2(devnull, 2);
    execv(prog, argv);
    _exit(127);
  }
  return pid;
}

static void reap(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
}

/* Sends everything |c| has to send to |to|. */
static void drain_writes(pq_conn *c, int fd, const struct sockaddr_in *to) {
  uint8_t buf[1500];
  pq_path out;
  ssize_t n;
  for (int i = 0; i < 256 && (n = pq_conn_write(c, &out, buf, sizeof(buf), mono_ns())) > 0;
       i++) {
    /* The connection's path (it follows a migrating client), else |to|. */
    if (out.remote_len == sizeof(struct sockaddr_in))
      sendto(fd, buf, (size_t)n, 0, (const struct sockaddr *)&out.remote, out.remote_len);
    else
      sendto(fd, buf, (size_t)n, 0, (const struct sockaddr *)to, sizeof(*to));
  }
}

/* Waits for a datagram until |c|'s expiry (at most 20 ms), handles expiry. Returns the
 * datagram length (0: none). */
static ssize_t wait_io(pq_conn *c, int fd, uint8_t *buf, size_t cap, struct sockaddr_in *from) {
  pq_tstamp now = mono_ns(), exp = c ? pq_conn_expiry(c) : PQ_TSTAMP_NEVER;
  int ms = 20;
  struct pollfd pfd = {.fd = fd, .events = POLLIN};
  socklen_t fl = sizeof(*from);
  ssize_t n = 0;
  if (exp != PQ_TSTAMP_NEVER && exp > now && (exp - now) / 1000000 < (pq_tstamp)ms)
    ms = (int)((exp - now) / 1000000);
  if (exp != PQ_TSTAMP_NEVER && exp <= now) ms = 0;
  if (poll(&pfd, 1, ms) > 0) n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)from, &fl);
  if (c && pq_conn_expiry(c) <= mono_ns()) pq_conn_handle_expiry(c, mono_ns());
  return n > 0 ? n : 0;
}

/* A minimal HTTP/3 GET for "/" on localhost: HEADERS frame with a QPACK field section
 * using only the static table (RFC 9204 Appendix A). */
static size_t h3_get(uint8_t *p) {
  static const uint8_t fields[] = {
      0x00, 0x00,                 /* required insert count 0, base 0 */
      0xd1,                       /* :method GET (static 17) */
      0xd7,                       /* :scheme https (static 23) */
      0xc1,                       /* :path / (static 1) */
      0x50, 0x09, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't', /* :authority (static 0) */
  };
  p[0] = 0x01; /* HEADERS */
  p[1] = (uint8_t)sizeof(fields);
  memcpy(p + 2, fields, sizeof(fields));
  return 2 + sizeof(fields);
}

/* |retry|: gtlsserver validates our address with a Retry first (-V). */
static void gtlsserver_case(bool retry) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in me = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  struct sockaddr_in srv = me, from;
  socklen_t ml = sizeof(me);
  char portbuf[16];
  pq_settings st;
  pq_path path;
  pq_conn *c = NULL;
  peer_app a;
  pid_t pid;
  int64_t sid = -1, ctrl = -1;
  pq_tstamp deadline;
  uint8_t buf[65536];
  memset(&a, 0, sizeof(a));
  /* A free port for the server: bind, read it back, release. */
  CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&me, sizeof(me)) == 0 &&
        getsockname(fd, (struct sockaddr *)&srv, &ml) == 0);
  close(fd);
  snprintf(portbuf, sizeof(portbuf), "%d", ntohs(srv.sin_port));
  {
    char *argv[] = {SERVER, "-q", "--timeout=5s", "127.0.0.1", portbuf, key_path, cert_path,
                    NULL, NULL};
    if (retry) {
      memmove(argv + 3, argv + 2, 5 * sizeof(argv[0]));
      argv[2] = "-V";
    }
    pid = spawn(SERVER, argv);
  }
  CHECK(pid > 0);
  usleep(200000); /* let it bind */
  fd = socket(AF_INET, SOCK_DGRAM, 0);
  me.sin_port = 0;
  CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&me, sizeof(me)) == 0);
  pq_settings_default(&st);
  memset(&path, 0, sizeof(path));
  CHECK_INT(0, ==, pq_conn_client_new(&c, &st, &cbs, &path, "localhost", cert_path, false, &a,
                                      mono_ns()));
  deadline = mono_ns() + UINT64_C(6000000000);
  while (c && mono_ns() < deadline && !a.closed) {
    ssize_t n;
    drain_writes(c, fd, &srv);
    n = wait_io(c, fd, buf, sizeof(buf), &from);
    if (n > 0) pq_conn_read(c, NULL, buf, (size_t)n, mono_ns());
    if (pq_conn_is_established(c) && c->hs_confirmed && sid < 0) {
      /* Our HTTP/3 control stream (type 0x00, empty SETTINGS), then the GET. */
      static const uint8_t control[] = {0x00, 0x04, 0x00};
      uint8_t req[64];
      size_t rl = h3_get(req);
      CHECK_INT(0, ==, pq_conn_open_stream(c, false, &ctrl));
      CHECK_INT(3, ==, pq_conn_stream_write(c, ctrl, control, 3, false));
      CHECK_INT(0, ==, pq_conn_open_stream(c, true, &sid));
      CHECK_INT((ssize_t)rl, ==, pq_conn_stream_write(c, sid, req, rl, true));
    }
    if (sid >= 0 && a.fin[sid] && a.bytes[3] > 0) break;
  }
  CHECK(a.established);
  CHECK(c && c->hs_confirmed);
  CHECK(!a.closed);
  CHECK(a.opened >= 1);            /* the server's unidirectional streams */
  CHECK(a.bytes[3] > 0);           /* its control stream ... */
  CHECK_INT(0x00, ==, a.first[3]); /* ... starts with the control stream type */
  CHECK(sid == 0 && a.fin[0]);     /* the response to our GET, complete */
  CHECK(a.bytes[0] > 0);
  CHECK_INT(0x01, ==, a.first[0]); /* HEADERS first */
  if (c) CHECK(c->retry_received == retry);
  if (getenv("PQ_VERBOSE")) fprintf(stderr, "response %llu bytes, control %llu bytes, %d peer streams\n", (unsigned long long)a.bytes[0], (unsigned long long)a.bytes[3], a.opened);
  if (c) {
    pq_conn_close(c, 0x100, "done", mono_ns()); /* H3_NO_ERROR */
    drain_writes(c, fd, &srv);
  }
  pq_conn_del(c);
  close(fd);
  reap(pid);
}

/* |mode| 1: gtlsclient updates keys 100 ms after the handshake; 2: it moves to a new
 * local address (port) 100 ms after the handshake. We answer its request in two parts
 * 300 ms apart and wait for the update / the validated migration before closing. */
static void gtlsclient_case(int mode) {
  bool key_update = mode == 1 || mode == 2;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in me = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  struct sockaddr_in peer;
  socklen_t ml = sizeof(me);
  char portbuf[16];
  pq_settings st;
  pq_server *srv = NULL;
  pq_conn *c = NULL;
  peer_app a;
  pid_t pid;
  pq_tstamp deadline;
  bool have_peer = false, responded = false;
  pq_tstamp body_at = 0;
  int status = -1;
  uint8_t buf[65536];
  memset(&a, 0, sizeof(a));
  CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&me, sizeof(me)) == 0 &&
        getsockname(fd, (struct sockaddr *)&me, &ml) == 0);
  pq_settings_default(&st);
  st.retry = mode == 3;
  CHECK_INT(0, ==, pq_server_new(&srv, &st, &cbs, cert_path, key_path, &a));
  snprintf(portbuf, sizeof(portbuf), "%d", ntohs(me.sin_port));
  {
    char *argv[] = {CLIENT, "-q", "--timeout=3s", "127.0.0.1", portbuf,
                    "https://localhost/", NULL, NULL};
    if (key_update) {
      argv[5] = mode == 1 ? "--key-update=100ms" : "--change-local-addr=100ms";
      argv[6] = "https://localhost/";
    }
    pid = spawn(CLIENT, argv);
  }
  CHECK(pid > 0);
  deadline = mono_ns() + UINT64_C(6000000000);
  while (mono_ns() < deadline) {
    ssize_t n = wait_io(c, fd, buf, sizeof(buf), &peer);
    if (n > 0) {
      pq_conn *got = NULL;
      pq_path path;
      memset(&path, 0, sizeof(path));
      memcpy(&path.remote, &peer, sizeof(peer));
      path.remote_len = sizeof(peer);
      pq_server_read(srv, &path, buf, (size_t)n, mono_ns(), &got);
      if (got) {
        c = got;
        have_peer = true;
      }
    }
    if (c && have_peer) drain_writes(c, fd, &peer);
    {
      /* Stateless answers (our Retry) go back to whoever sent the datagram. */
      pq_path out;
      ssize_t k;
      while ((k = pq_server_write(srv, &out, buf, sizeof(buf))) > 0)
        sendto(fd, buf, (size_t)k, 0, (const struct sockaddr *)&peer, sizeof(peer));
    }
    /* The response in two parts, 300 ms apart: the client's ACKs of the second part
     * come after its key update. */
    if (key_update && a.fin[0] && !responded) {
      static const uint8_t hdrs[] = {0x01, 0x03, 0x00, 0x00, 0xd9}; /* :status 200 */
      CHECK_INT(5, ==, pq_conn_stream_write(c, 0, hdrs, sizeof(hdrs), false));
      responded = true;
      body_at = mono_ns() + 300000000u;
    }
    if (key_update && responded && body_at && mono_ns() >= body_at) {
      static const uint8_t body[] = {0x00, 0x02, 'o', 'k'}; /* DATA */
      CHECK_INT(4, ==, pq_conn_stream_write(c, 0, body, sizeof(body), true));
      body_at = 0;
    }
    if (a.fin[0] && !a.closed &&
        (mode == 0 || (mode == 1 && c->key_updates > 0) ||
         (mode == 2 && c->migrations > 0 && !c->path_validating))) {
      pq_conn_close(c, 0x100, "", mono_ns()); /* H3_NO_ERROR: no response here */
      drain_writes(c, fd, &peer);
    }
    if (a.closed && waitpid(pid, &status, WNOHANG) == pid) {
      pid = -1;
      break;
    }
  }
  CHECK(a.established);
  CHECK(a.fin[0]);        /* the request on stream 0 ... */
  CHECK(a.bytes[0] > 0);
  CHECK_INT(0x01, ==, a.first[0]); /* ... starts with a HEADERS frame */
  CHECK(a.opened >= 2);   /* control stream and the request stream at least */
  CHECK(pid < 0);         /* the client went away after our close */
  if (mode == 1) CHECK(c && c->key_updates >= 1 && c->key_phase == 1);
  if (mode == 2) CHECK(c && c->migrations >= 1 && !c->path_validating);
  if (mode == 3) CHECK(c && c->retry_scid_len > 0 && c->addr_validated);
  reap(pid);
  pq_server_del(srv);
  close(fd);
}

static void test_pq_conn_interop_gtlsclient_to_server(void) { gtlsclient_case(0); }
static void test_pq_conn_interop_gtlsclient_key_update(void) { gtlsclient_case(1); }
static void test_pq_conn_interop_gtlsclient_migration(void) { gtlsclient_case(2); }
static void test_pq_conn_interop_gtlsclient_retry(void) { gtlsclient_case(3); }
static void test_pq_conn_interop_client_to_gtlsserver(void) { gtlsserver_case(false); }
static void test_pq_conn_interop_client_retry(void) { gtlsserver_case(true); }

int main(void) {
  pq_cert cert;
  if (access(SERVER, X_OK) != 0 || access(CLIENT, X_OK) != 0) {
    fprintf(stderr, "%s or %s missing: install ngtcp2-server and ngtcp2-client\n", SERVER,
            CLIENT);
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  memset(&cert, 0, sizeof(cert));
  snprintf(dir, sizeof(dir), "/tmp/pq_conn_interop_XXXXXX");
  if (!mkdtemp(dir) || pq_cert_generate(&cert, "localhost", time(NULL), 2) != 0) return 1;
  snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", dir);
  snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
  if (pq_cert_write_files(&cert, cert_path, key_path) != 0) return 1;
  RUN(test_pq_conn_interop_client_to_gtlsserver);
  RUN(test_pq_conn_interop_gtlsclient_to_server);
  RUN(test_pq_conn_interop_gtlsclient_key_update);
  RUN(test_pq_conn_interop_gtlsclient_migration);
  RUN(test_pq_conn_interop_gtlsclient_retry);
  RUN(test_pq_conn_interop_client_retry);
  unlink(cert_path);
  unlink(key_path);
  rmdir(dir);
  pq_cert_free(&cert);
  return test_report();
}
