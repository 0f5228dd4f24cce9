/*
 * qt_udp.c: batched UDP I/O for the QUIC programs (see qt_udp.h).
 */
#include "qt_udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

#define GSO_MAX_SEGS 64       /* the kernel's limit per send */
#define GSO_MAX_BYTES 65000   /* under the 64 KiB UDP payload bound */

pq_tstamp qt_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (pq_tstamp)t.tv_sec * 1000000000u + (pq_tstamp)t.tv_nsec;
}

const char *qt_addr_str(const struct sockaddr *sa, char *out, size_t cap) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
    snprintf(out, cap, "[%s]:%u", host, ntohs(s6->sin6_port));
  } else if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
    snprintf(out, cap, "%s:%u", host, ntohs(s4->sin_port));
  } else {
    snprintf(out, cap, "(unknown address family %d)", sa->sa_family);
  }
  return out;
}

void qt_udp_set_loss(qt_udp *u, double tx, double rx) {
  u->tx_loss = tx;
  u->rx_loss = rx;
  u->rng = (uint64_t)qt_now() | 1;
}

/* True with probability |p|. */
static bool lose(qt_udp *u, double p) {
  if (p <= 0) return false;
  u->rng ^= u->rng << 13;
  u->rng ^= u->rng >> 7;
  u->rng ^= u->rng << 17;
  return (double)(u->rng >> 11) / 9007199254740992.0 < p;
}

int qt_udp_open(qt_udp *u, const struct sockaddr *addr, socklen_t len, bool bind_it) {
  int one = 1, size = 4 << 20, rv;
  memset(u, 0, sizeof(*u));
  u->gso = u->mmsg = true;
  u->fd = socket(addr->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  /* GRO: fewer, larger receives; the kernel says the segment size with each. */
  u->gro = u->fd >= 0 && setsockopt(u->fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
  u->rx_msgs = u->gro ? QT_UDP_GRO_MSGS : QT_UDP_BATCH;
  u->rx_msg_size = u->gro ? QT_UDP_GRO_BUF : QT_UDP_RX_BUF;
  u->txbuf = malloc((size_t)QT_UDP_BATCH * QT_UDP_MAX_DGRAM);
  u->rxbuf = malloc(u->rx_msgs * u->rx_msg_size);
  u->rx = calloc(QT_UDP_RX_MAX, sizeof(*u->rx));
  if (!u->txbuf || !u->rxbuf || !u->rx || u->fd < 0) {
    rv = u->fd < 0 ? -errno : -ENOMEM;
    qt_udp_close(u);
    return rv;
  }
  setsockopt(u->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
  setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  if (addr->sa_family == AF_INET6 && bind_it)
    setsockopt(u->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  rv = bind_it ? bind(u->fd, addr, len) : connect(u->fd, addr, len);
  if (rv < 0) {
    rv = -errno;
    qt_udp_close(u);
    return rv;
  }
  u->local_len = sizeof(u->local);
  getsockname(u->fd, (struct sockaddr *)&u->local, &u->local_len);
  return 0;
}

void qt_udp_close(qt_udp *u) {
  if (u->fd > 0) close(u->fd);
  free(u->txbuf);
  free(u->rxbuf);
  free(u->rx);
  memset(u, 0, sizeof(*u));
  u->fd = -1;
}

#ifndef UDP_GRO
#define UDP_GRO 104
#endif

/* Appends a datagram to u->rx (unless the loss injection drops it). */
static void rx_add(qt_udp *u, size_t *n, uint8_t *data, size_t len,
                   const struct sockaddr_storage *from, socklen_t from_len) {
  qt_dgram *d;
  if (*n >= QT_UDP_RX_MAX) return;
  if (lose(u, u->rx_loss)) {
    u->dropped_rx++;
    return;
  }
  d = &u->rx[(*n)++];
  d->data = data;
  d->len = len;
  memset(&d->path, 0, sizeof(d->path));
  memcpy(&d->path.local, &u->local, u->local_len);
  d->path.local_len = u->local_len;
  memcpy(&d->path.remote, from, from_len);
  d->path.remote_len = from_len;
  u->dgrams_recv++;
}

/* The segment size UDP_GRO reported for a coalesced message, or 0. */
static size_t gro_size(struct msghdr *h) {
  for (struct cmsghdr *cm = CMSG_FIRSTHDR(h); cm; cm = CMSG_NXTHDR(h, cm)) {
    if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
      int v;
      memcpy(&v, CMSG_DATA(cm), sizeof(v));
      return v > 0 ? (size_t)v : 0;
    }
  }
  return 0;
}

typedef union rx_ctl {
  char buf[CMSG_SPACE(sizeof(int))];
  struct cmsghdr align;
} rx_ctl;

int qt_udp_recv(qt_udp *u) {
  struct mmsghdr msgs[QT_UDP_BATCH];
  struct iovec iov[QT_UDP_BATCH];
  struct sockaddr_storage from[QT_UDP_BATCH];
  rx_ctl ctl[QT_UDP_BATCH];
  size_t m = u->mmsg ? u->rx_msgs : 1, count = 0;
  int n;
  for (size_t i = 0; i < m; i++) {
    struct msghdr *h = &msgs[i].msg_hdr;
    iov[i].iov_base = u->rxbuf + i * u->rx_msg_size;
    iov[i].iov_len = u->rx_msg_size;
    h->msg_iov = &iov[i];
    h->msg_iovlen = 1;
    h->msg_name = &from[i];
    h->msg_namelen = sizeof(from[i]);
    h->msg_control = u->gro ? ctl[i].buf : NULL;
    h->msg_controllen = u->gro ? sizeof(ctl[i].buf) : 0;
    h->msg_flags = 0;
  }
  u->sys_recv++;
  if (u->mmsg) {
    n = recvmmsg(u->fd, msgs, (unsigned)m, 0, NULL);
    if (n < 0 && errno == ENOSYS) {
      u->mmsg = false;
      return qt_udp_recv(u);
    }
  } else {
    ssize_t r = recvmsg(u->fd, &msgs[0].msg_hdr, 0);
    if (r >= 0) msgs[0].msg_len = (unsigned)r;
    n = r < 0 ? -1 : 1;
  }
  u->rx_more = false;
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
  for (int i = 0; i < n; i++) {
    struct msghdr *h = &msgs[i].msg_hdr;
    size_t len = msgs[i].msg_len, seg;
    uint8_t *base = iov[i].iov_base;
    if (h->msg_flags & MSG_TRUNC) continue; /* cut: not a datagram we could have asked for */
    seg = u->gro ? gro_size(h) : 0;
    if (seg == 0 || seg > len) seg = len;
    for (size_t off = 0; off < len; off += seg)
      rx_add(u, &count, base + off, len - off < seg ? len - off : seg, &from[i],
             h->msg_namelen);
  }
  u->rx_more = (size_t)n == m;
  return (int)count;
}

bool qt_udp_tx_room(const qt_udp *u) {
  return u->tx_n < QT_UDP_BATCH &&
         u->tx_used + QT_UDP_MAX_DGRAM <= (size_t)QT_UDP_BATCH * QT_UDP_MAX_DGRAM;
}

uint8_t *qt_udp_tx_slot(qt_udp *u) { return u->txbuf + u->tx_used; }

void qt_udp_tx_commit(qt_udp *u, size_t len, const struct sockaddr *dst, socklen_t dst_len) {
  size_t i;
  if (lose(u, u->tx_loss)) {
    u->dropped_tx++;
    return;
  }
  i = u->tx_n++;
  u->tx_off[i] = u->tx_used;
  u->tx_len[i] = len;
  memcpy(&u->tx_dst[i], dst, dst_len);
  u->tx_dst_len[i] = dst_len;
  u->tx_used += len;
}

bool qt_udp_tx_pending(const qt_udp *u) { return u->tx_sent_n < u->tx_n; }

static bool same_dst(const qt_udp *u, size_t a, size_t b) {
  return u->tx_dst_len[a] == u->tx_dst_len[b] &&
         memcmp(&u->tx_dst[a], &u->tx_dst[b], u->tx_dst_len[a]) == 0;
}

/* One message to send: datagrams [first, first + count) as one GSO buffer. */
typedef struct tx_group {
  size_t first, count, seg;
  struct iovec iov;
  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } ctl;
} tx_group;

/* Groups queued datagrams from |i| on: same destination, same size (the last one may
 * be shorter), within the kernel's GSO limits. Returns the number of groups. */
static size_t make_groups(qt_udp *u, tx_group *g, size_t max) {
  size_t i = u->tx_sent_n, m = 0;
  while (i < u->tx_n && m < max) {
    size_t start = i, seg = u->tx_len[i], total = seg;
    i++;
    while (u->gso && i < u->tx_n && i - start < GSO_MAX_SEGS && same_dst(u, start, i) &&
           u->tx_len[i] <= seg && total + u->tx_len[i] <= GSO_MAX_BYTES) {
      bool shorter = u->tx_len[i] < seg;
      total += u->tx_len[i++];
      if (shorter) break;
    }
    g[m].first = start;
    g[m].count = i - start;
    g[m].seg = seg;
    g[m].iov.iov_base = u->txbuf + u->tx_off[start];
    g[m].iov.iov_len = total;
    m++;
  }
  return m;
}

static void fill_msg(qt_udp *u, tx_group *g, struct msghdr *h) {
  memset(h, 0, sizeof(*h));
  h->msg_name = &u->tx_dst[g->first];
  h->msg_namelen = u->tx_dst_len[g->first];
  h->msg_iov = &g->iov;
  h->msg_iovlen = 1;
  if (g->count > 1) {
    struct cmsghdr *cm;
    h->msg_control = g->ctl.buf;
    h->msg_controllen = sizeof(g->ctl.buf);
    cm = CMSG_FIRSTHDR(h);
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t seg = (uint16_t)g->seg;
    memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
  }
}

/* Sends the groups; returns how many went, or -errno for the first one. */
static int send_groups(qt_udp *u, tx_group *g, size_t m) {
  struct mmsghdr msgs[QT_UDP_BATCH];
  int r;
  for (size_t k = 0; k < m; k++) fill_msg(u, &g[k], &msgs[k].msg_hdr);
  u->sys_send++;
  if (m > 1 && u->mmsg) {
    r = sendmmsg(u->fd, msgs, (unsigned)m, 0);
    if (r < 0 && errno == ENOSYS) {
      u->mmsg = false;
      return send_groups(u, g, 1);
    }
    return r < 0 ? -errno : r;
  }
  r = (int)sendmsg(u->fd, &msgs[0].msg_hdr, 0);
  return r < 0 ? -errno : 1;
}

int qt_udp_flush(qt_udp *u) {
  tx_group g[QT_UDP_BATCH];
  while (u->tx_sent_n < u->tx_n) {
    size_t m = make_groups(u, g, QT_UDP_BATCH);
    int r = send_groups(u, g, m);
    if (r == -EAGAIN || r == -EWOULDBLOCK || r == -ENOBUFS) return 1;
    if (r == -EINTR) continue;
    if (r < 0 && g[0].count > 1 && (r == -EIO || r == -EINVAL || r == -ENOPROTOOPT ||
                                    r == -EOPNOTSUPP)) {
      u->gso = false; /* no GSO here (or not for this device): send one by one */
      continue;
    }
    if (r < 0) r = 1; /* hard error for this group (unreachable...): drop it, go on */
    for (int k = 0; k < r; k++) {
      u->tx_sent_n += g[k].count;
      u->dgrams_sent += g[k].count;
    }
  }
  u->tx_n = u->tx_sent_n = u->tx_used = 0;
  return 0;
}
