/*
 * qt_qlog.c: see qt_qlog.h.
 */
#include "qt_qlog.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "qt_loop.h"

#define RS "\x1e"

/* Writes |s| as a JSON string body (quotes, control bytes and bytes from 0x7f escaped,
 * as the engine's records do: a peer's close reason need not be UTF-8, and the file must
 * stay valid JSON). */
static void json_str(FILE *f, const char *s) {
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
    else if (ch < 0x20 || ch >= 0x7f) fprintf(f, "\\u%04x", ch);
    else fputc(ch, f);
  }
}

static void addr_parts(const struct sockaddr_storage *ss, char *ip, size_t cap, unsigned *port) {
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &s6->sin6_addr, ip, (socklen_t)cap);
    *port = ntohs(s6->sin6_port);
  } else {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &s4->sin_addr, ip, (socklen_t)cap);
    *port = ntohs(s4->sin_port);
  }
}

/* Starts an event record: time relative to the engine's time zero, in ms. Never before
 * the latest record in the file: the engine's records carry the time of the call that
 * made them, which may be later than the |now| our caller took before it (a loaded
 * machine stretches that gap), and qlog readers expect the file in time order. */
static void event(qt_qlog *q, pq_tstamp now, const char *name) {
  double ms = now > q->t0 ? (double)(now - q->t0) / 1e6 : 0.0;
  if (ms < q->last_ms) ms = q->last_ms;
  q->last_ms = ms;
  fprintf(q->f, RS "{\"time\":%.3f,\"name\":\"%s\",\"data\":", ms, name);
}

int qt_qlog_open(qt_qlog *q, const char *dir, bool server, const pq_conn *conn,
                 const pq_path *path, pq_tstamp now) {
  char name[4096], id[41] = "";
  uint8_t odcid[20];
  size_t n;
  int rv;
  memset(q, 0, sizeof(*q));
  if (!dir) return 0;
  if ((rv = qt_mkdir_p(dir)) < 0) return rv;
  n = pq_conn_odcid(conn, odcid, sizeof(odcid));
  for (size_t i = 0; i < n; i++) snprintf(id + 2 * i, 3, "%02x", odcid[i]);
  snprintf(name, sizeof(name), "%s/%s_%s.sqlog", dir, n ? id : "unknown",
           server ? "server" : "client");
  if (!(q->f = fopen(name, "w"))) return -errno;
  q->t0 = now;
  if (path) {
    q->path = *path;
    q->has_path = true;
  }
  return 0;
}

static void connection_started(qt_qlog *q) {
  char src[64] = "?", dst[64] = "?";
  unsigned sport = 0, dport = 0;
  if (q->has_path) {
    addr_parts(&q->path.local, src, sizeof(src), &sport);
    addr_parts(&q->path.remote, dst, sizeof(dst), &dport);
  }
  event(q, q->t0, "connectivity:connection_started");
  fprintf(q->f, "{\"ip_version\":\"%s\",\"src_ip\":\"%s\",\"src_port\":%u,\"dst_ip\":\"%s\","
          "\"dst_port\":%u}}\n", q->has_path && q->path.remote.ss_family == AF_INET6 ? "ipv6"
                                                                                 : "ipv4",
          src, sport, dst, dport);
}

/* Writes one engine record, keeping the file in time order: the engine stamps a record
 * with the |now| of the call that made it, and our own records (HTTP/3, connection
 * start and close) may have been stamped with a clock read taken after that |now| (a
 * loaded machine stretches the gap). A record older than the last one written gets the
 * last one's time, so qlog readers see events in the order they happened. */
void qt_qlog_record(qt_qlog *q, const char *rec, size_t len) {
  static const char prefix[] = RS "{\"time\":";
  const size_t plen = sizeof(prefix) - 1;
  if (!q->f) return;
  bool rewritten = false;
  if (len > plen && memcmp(rec, prefix, plen) == 0) {
    char num[32];
    size_t n = 0;
    for (; n + 1 < sizeof(num) && plen + n < len; n++) {
      char c = rec[plen + n];
      if (!isdigit((unsigned char)c) && c != '.') break;
      num[n] = c;
    }
    num[n] = 0;
    double ms = n ? strtod(num, NULL) : 0.0;
    if (n && ms < q->last_ms) {
      fprintf(q->f, "%s%.3f", prefix, q->last_ms);
      fwrite(rec + plen + n, 1, len - plen - n, q->f);
      rewritten = true;
    } else if (n) {
      q->last_ms = ms;
    }
  }
  if (!rewritten) fwrite(rec, 1, len, q->f);
  if (q->header_seen) return;
  /* The engine's first record is the header; its reference_time is our time zero. */
  q->header_seen = true;
  const char *rt = memmem(rec, len, "\"reference_time\":", 17);
  if (rt) q->t0 = (pq_tstamp)(strtod(rt + 17, NULL) * 1e6 + 0.5);
  connection_started(q);
}

void qt_qlog_headers(qt_qlog *q, pq_tstamp now, bool created, int64_t sid, const char *name,
                     const char *value) {
  if (!q->f || !q->header_seen) return;
  event(q, now, created ? "http:frame_created" : "http:frame_parsed");
  fprintf(q->f, "{\"stream_id\":%lld,\"frame\":{\"frame_type\":\"headers\",\"headers\":"
          "[{\"name\":\"", (long long)sid);
  json_str(q->f, name);
  fprintf(q->f, "\",\"value\":\"");
  json_str(q->f, value);
  fprintf(q->f, "\"}]}}}\n");
}

void qt_qlog_closed(qt_qlog *q, const pq_close_info *info, pq_tstamp now) {
  if (!q->f || !q->header_seen || !info) return;
  event(q, now, "connectivity:connection_closed");
  fprintf(q->f, "{\"owner\":\"%s\",\"%s\":%llu,\"trigger\":\"%s\",\"reason\":\"",
          info->by_peer ? "remote" : "local",
          info->application ? "application_code" : "connection_code",
          (unsigned long long)info->error_code,
          info->idle_timeout ? "idle_timeout" : info->stateless_reset ? "stateless_reset"
                                                                      : "clean");
  json_str(q->f, info->reason ? info->reason : "");
  fprintf(q->f, "\"}}\n");
}

void qt_qlog_close(qt_qlog *q) {
  if (!q->f) return;
  fclose(q->f);
  q->f = NULL;
}
