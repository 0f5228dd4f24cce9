/*
 * qt_loop.c: see qt_loop.h.
 */
#include "qt_loop.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

int qt_drive_send(qt_udp *u, pq_conn *c, pq_tstamp now) {
  if (qt_udp_tx_pending(u) && qt_udp_flush(u)) return 1;
  for (;;) {
    pq_path p;
    ssize_t n;
    if (!qt_udp_tx_room(u) && qt_udp_flush(u)) return 1;
    n = pq_conn_write(c, &p, qt_udp_tx_slot(u), QT_UDP_MAX_DGRAM, now);
    if (n <= 0) {
      int f = qt_udp_flush(u);
      return n < 0 ? (int)n : f;
    }
    qt_udp_tx_commit(u, (size_t)n, (struct sockaddr *)&p.remote, p.remote_len);
  }
}

void qt_wait(qt_udp *u, bool want_write, pq_tstamp deadline, pq_tstamp max_ns) {
  struct pollfd pfd = {.fd = u->fd, .events = POLLIN | (want_write ? POLLOUT : 0)};
  pq_tstamp now = qt_now(), wait = max_ns;
  struct timespec ts;
  if (deadline != PQ_TSTAMP_NEVER) {
    if (deadline <= now) return;
    if (deadline - now < wait) wait = deadline - now;
  }
  ts.tv_sec = (time_t)(wait / 1000000000u);
  ts.tv_nsec = (long)(wait % 1000000000u);
  ppoll(&pfd, 1, &ts, NULL);
}

/* One cipher name to its bit, or 0. */
static uint32_t cipher_bit(const char *name) {
  static const struct { const char *name; uint32_t bit; } names[] = {
      {"AES-128-GCM", PQ_CIPHER_AES_128_GCM},
      {"TLS_AES_128_GCM_SHA256", PQ_CIPHER_AES_128_GCM},
      {"AES128GCM", PQ_CIPHER_AES_128_GCM},
      {"AES-256-GCM", PQ_CIPHER_AES_256_GCM},
      {"TLS_AES_256_GCM_SHA384", PQ_CIPHER_AES_256_GCM},
      {"AES256GCM", PQ_CIPHER_AES_256_GCM},
      {"CHACHA20-POLY1305", PQ_CIPHER_CHACHA20_POLY1305},
      {"TLS_CHACHA20_POLY1305_SHA256", PQ_CIPHER_CHACHA20_POLY1305},
      {"CHACHA20", PQ_CIPHER_CHACHA20_POLY1305},
  };
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (strcasecmp(name, names[i].name) == 0) return names[i].bit;
  return 0;
}

int qt_parse_ciphers(const char *list, uint32_t *mask, char *bad, size_t bad_cap) {
  char name[64];
  const char *p = list;
  *mask = 0;
  while (*p) {
    size_t n = strcspn(p, ",:");
    uint32_t bit;
    if (n > 0) {
      if (n >= sizeof(name)) n = sizeof(name) - 1;
      memcpy(name, p, n);
      name[n] = 0;
      if (!(bit = cipher_bit(name))) {
        snprintf(bad, bad_cap, "%s", name);
        return -1;
      }
      *mask |= bit;
    }
    p += strcspn(p, ",:");
    if (*p) p++;
  }
  if (!*mask) {
    snprintf(bad, bad_cap, "(empty list)");
    return -1;
  }
  return 0;
}

bool qt_cc_known(const char *name) {
  return !strcmp(name, "newreno") || !strcmp(name, "cubic");
}

int qt_mkdir_p(const char *dir) {
  char path[4096];
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof(path)) return -ENAMETOOLONG;
  memcpy(path, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (path[i] != '/' && path[i] != 0) continue;
    char keep = path[i];
    path[i] = 0;
    if (mkdir(path, 0755) < 0 && errno != EEXIST) return -errno;
    path[i] = keep;
  }
  return 0;
}

/* Names of the TLS alerts a certificate problem produces (RFC 8446 6.2). */
static const char *alert_name(unsigned a) {
  switch (a) {
  case 40: return "handshake_failure";
  case 42: return "bad_certificate";
  case 43: return "unsupported_certificate";
  case 44: return "certificate_revoked";
  case 45: return "certificate_expired";
  case 46: return "certificate_unknown";
  case 47: return "illegal_parameter";
  case 48: return "unknown_ca";
  case 49: return "access_denied";
  case 50: return "decode_error";
  case 51: return "decrypt_error";
  case 70: return "protocol_version";
  case 80: return "internal_error";
  case 109: return "missing_extension";
  case 112: return "unrecognized_name";
  case 120: return "no_application_protocol";
  default: return "alert";
  }
}

/* |s| with every byte outside printable ASCII shown as '?': a peer's reason phrase must
 * not reach the terminal as control sequences. */
static const char *printable(const char *s, char *out, size_t cap) {
  size_t n = 0;
  for (; s && *s && n + 1 < cap; s++, n++)
    out[n] = (unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f ? *s : '?';
  out[n] = 0;
  return out;
}

const char *qt_close_str(const pq_close_info *i, char *out, size_t cap) {
  const char *who = i->by_peer ? "peer" : "local";
  char why[260];
  printable(i->reason, why, sizeof(why));
  if (i->idle_timeout) snprintf(out, cap, "idle timeout (no packets from the peer)");
  else if (i->stateless_reset) snprintf(out, cap, "stateless reset from the peer");
  else if (!i->application && i->error_code >= 0x100 && i->error_code <= 0x1ff)
    snprintf(out, cap, "TLS alert %u %s (%s)%s%s", (unsigned)(i->error_code - 0x100),
             alert_name((unsigned)(i->error_code - 0x100)), who, *why ? ": " : "", why);
  else
    snprintf(out, cap, "%s close by %s, code 0x%llx%s%s", i->application ? "application"
             : "transport", who, (unsigned long long)i->error_code, *why ? ": " : "", why);
  return out;
}

void qt_print_stats(const char *who, const pq_conn *c, const qt_udp *u) {
  pq_conn_stats st;
  pq_conn_get_stats(c, &st);
  fprintf(stderr,
          "%s: sent %llu packets / %llu bytes, received %llu / %llu, lost %llu; rtt %.3f ms "
          "(min %.3f, var %.3f); cwnd %llu, in flight %llu; syscalls send %llu recv %llu for %llu / %llu "
          "datagrams%s%s\n",
          who, (unsigned long long)st.packets_sent, (unsigned long long)st.bytes_sent,
          (unsigned long long)st.packets_received, (unsigned long long)st.bytes_received,
          (unsigned long long)st.packets_lost, (double)st.smoothed_rtt / 1e6,
          (double)st.min_rtt / 1e6, (double)st.rttvar / 1e6, (unsigned long long)st.cwnd,
          (unsigned long long)st.bytes_in_flight,
          (unsigned long long)u->sys_send, (unsigned long long)u->sys_recv,
          (unsigned long long)u->dgrams_sent, (unsigned long long)u->dgrams_recv,
          u->gso ? "" : ", no GSO", u->mmsg ? "" : ", no mmsg");
}
