/*
 * qt_qlog.c: see qt_qlog.h.
 */
#include "qt_qlog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "qt_loop.h"

#define RS "\x1e"
#define METRICS_EVERY 10000000u /* ns */

/* Writes |s| as a JSON string body (quotes and control bytes escaped). */
static void json_str(FILE *f, const char *s) {
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
    else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
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

/* Starts an event record: time relative to the connection start, in ms. */
static void event(qt_qlog *q, pq_tstamp now, const char *name) {
  fprintf(q->f, RS "{\"time\":%.3f,\"name\":\"%s\",\"data\":",
          (double)(now - q->t0) / 1e6, name);
}

int qt_qlog_open(qt_qlog *q, const char *dir, bool server, const pq_path *path,
                 pq_tstamp now) {
  char name[4096], src[64] = "?", dst[64] = "?";
  unsigned sport = 0, dport = 0;
  struct timespec wall;
  int rv;
  memset(q, 0, sizeof(*q));
  if (!dir) return 0;
  if ((rv = qt_mkdir_p(dir)) < 0) return rv;
  snprintf(name, sizeof(name), "%s/%s-%ld-%llu.sqlog", dir, server ? "server" : "client",
           (long)getpid(), (unsigned long long)now);
  if (!(q->f = fopen(name, "w"))) return -errno;
  q->t0 = now;
  clock_gettime(CLOCK_REALTIME, &wall);
  fprintf(q->f,
          RS "{\"qlog_version\":\"0.3\",\"qlog_format\":\"JSON-SEQ\",\"title\":\"pluginop-%s\","
          "\"trace\":{\"vantage_point\":{\"name\":\"pluginop-%s\",\"type\":\"%s\"},"
          "\"common_fields\":{\"time_format\":\"relative\",\"reference_time\":%.3f,"
          "\"protocol_type\":[\"QUIC\",\"HTTP3\"]}}}\n",
          server ? "server" : "client", server ? "server" : "client",
          server ? "server" : "client", (double)wall.tv_sec * 1e3 + (double)wall.tv_nsec / 1e6);
  if (path) {
    addr_parts(&path->local, src, sizeof(src), &sport);
    addr_parts(&path->remote, dst, sizeof(dst), &dport);
  }
  event(q, now, "connectivity:connection_started");
  fprintf(q->f, "{\"ip_version\":\"%s\",\"src_ip\":\"%s\",\"src_port\":%u,\"dst_ip\":\"%s\","
          "\"dst_port\":%u}}\n", path && path->remote.ss_family == AF_INET6 ? "ipv6" : "ipv4",
          src, sport, dst, dport);
  return 0;
}

void qt_qlog_handshake(qt_qlog *q, pq_tstamp now) {
  if (!q->f) return;
  event(q, now, "connectivity:connection_state_updated");
  fprintf(q->f, "{\"new\":\"handshake_complete\"}}\n");
}

void qt_qlog_headers(qt_qlog *q, pq_tstamp now, bool created, int64_t sid, const char *name,
                     const char *value) {
  if (!q->f) return;
  event(q, now, created ? "http:frame_created" : "http:frame_parsed");
  fprintf(q->f, "{\"stream_id\":%lld,\"frame\":{\"frame_type\":\"headers\",\"headers\":"
          "[{\"name\":\"", (long long)sid);
  json_str(q->f, name);
  fprintf(q->f, "\",\"value\":\"");
  json_str(q->f, value);
  fprintf(q->f, "\"}]}}}\n");
}

void qt_qlog_metrics(qt_qlog *q, const pq_conn *c, pq_tstamp now) {
  pq_conn_stats st;
  if (!q->f || (q->last_metrics && now - q->last_metrics < METRICS_EVERY)) return;
  pq_conn_get_stats(c, &st);
  if (st.cwnd == q->last.cwnd && st.bytes_in_flight == q->last.bytes_in_flight &&
      st.smoothed_rtt == q->last.smoothed_rtt && st.latest_rtt == q->last.latest_rtt)
    return;
  q->last = st;
  q->last_metrics = now;
  event(q, now, "recovery:metrics_updated");
  fprintf(q->f, "{\"congestion_window\":%llu,\"bytes_in_flight\":%llu,\"smoothed_rtt\":%.3f,"
          "\"min_rtt\":%.3f,\"latest_rtt\":%.3f,\"rtt_variance\":%.3f}}\n",
          (unsigned long long)st.cwnd, (unsigned long long)st.bytes_in_flight,
          (double)st.smoothed_rtt / 1e6, (double)st.min_rtt / 1e6,
          (double)st.latest_rtt / 1e6, (double)st.rttvar / 1e6);
}

void qt_qlog_close(qt_qlog *q, const pq_close_info *info, pq_tstamp now) {
  if (!q->f) return;
  if (info) {
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
  fclose(q->f);
  q->f = NULL;
}
