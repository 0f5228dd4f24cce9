/*
 * qt_udp.h: the UDP side of the QUIC programs. One non-blocking socket, datagrams read
 * in batches (recvmmsg) and written in batches: consecutive datagrams of one size to
 * one destination go out as one GSO send (UDP_SEGMENT), several such groups per
 * sendmmsg. On receive, UDP_GRO lets the kernel hand over runs of datagrams as one
 * buffer, split here. Each feature is probed (GRO at open, the others on first use) and
 * dropped cleanly when the kernel refuses it (then plain sendmsg/recvmsg).
 */
#ifndef PLUGINOP_QT_UDP_H
#define PLUGINOP_QT_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "pluginop/quic.h"

#define QT_UDP_MAX_DGRAM 1500   /* largest datagram we build */
#define QT_UDP_RX_BUF 2048      /* receive buffer per datagram without GRO */
#define QT_UDP_BATCH 64         /* messages per recvmmsg without GRO / send queue size */
#define QT_UDP_GRO_MSGS 16      /* messages per recvmmsg with GRO ... */
#define QT_UDP_GRO_BUF 65536    /* ... each up to 64 kB of coalesced datagrams */
#define QT_UDP_RX_MAX (QT_UDP_GRO_MSGS * 64) /* datagrams one qt_udp_recv can return */

/* A datagram received: payload and its path. */
typedef struct qt_dgram {
  uint8_t *data;
  size_t len;
  pq_path path;
} qt_dgram;

typedef struct qt_udp {
  int fd;
  struct sockaddr_storage local;
  socklen_t local_len;
  bool gso;       /* UDP_SEGMENT still believed to work */
  bool mmsg;      /* sendmmsg/recvmmsg still believed to work */
  bool gro;       /* UDP_GRO accepted at open */
  /* send queue: datagrams back to back in txbuf */
  uint8_t *txbuf;
  size_t tx_used;
  size_t tx_n, tx_sent_n;          /* queued, already sent (from the front) */
  size_t tx_len[QT_UDP_BATCH];
  size_t tx_off[QT_UDP_BATCH];
  struct sockaddr_storage tx_dst[QT_UDP_BATCH];
  socklen_t tx_dst_len[QT_UDP_BATCH];
  /* receive buffers: rx_msgs messages of rx_msg_size bytes */
  uint8_t *rxbuf;
  size_t rx_msgs, rx_msg_size;
  qt_dgram *rx;   /* QT_UDP_RX_MAX datagrams, pointing into rxbuf */
  bool rx_more;   /* the last qt_udp_recv filled every message: more may wait */
  /* loss injection for tests (--tx-loss/--rx-loss): probability of dropping each
   * datagram sent / received, drawn from a xorshift generator */
  double tx_loss, rx_loss;
  uint64_t rng;
  /* counters, for summaries */
  uint64_t sys_send, sys_recv, dgrams_sent, dgrams_recv, dropped_tx, dropped_rx;
} qt_udp;

/* Opens a UDP socket for |addr|'s family. |bind_it|: bind to |addr| (server); otherwise
 * connect to it (client: ICMP errors then come back as ECONNREFUSED etc.). Buffers of
 * 4 MB asked for. Returns 0 or -errno. */
int qt_udp_open(qt_udp *u, const struct sockaddr *addr, socklen_t len, bool bind_it);
void qt_udp_close(qt_udp *u);

/* Reads what is waiting (one recvmmsg) into u->rx (valid until the next call); u->rx_more
 * says whether to call again. Returns how many datagrams (0: none) or -errno (e.g.
 * -ECONNREFUSED). */
int qt_udp_recv(qt_udp *u);

/* Room for one more datagram in the send queue? */
bool qt_udp_tx_room(const qt_udp *u);
/* Buffer where the next datagram is to be written (QT_UDP_MAX_DGRAM bytes). */
uint8_t *qt_udp_tx_slot(qt_udp *u);
/* Queues the |len| bytes written at qt_udp_tx_slot() for |dst|. */
void qt_udp_tx_commit(qt_udp *u, size_t len, const struct sockaddr *dst, socklen_t dst_len);
/* Sends what is queued. Returns 0 when all went (or was dropped on a hard error that is
 * not worth stopping for), 1 when the socket is full (wait for POLLOUT, call again). */
int qt_udp_flush(qt_udp *u);
bool qt_udp_tx_pending(const qt_udp *u);

/* Sets the loss probabilities (0..1) for tests. */
void qt_udp_set_loss(qt_udp *u, double tx, double rx);

/* Monotonic clock in ns (the pq_tstamp the programs pass in). */
pq_tstamp qt_now(void);

/* Formats |sa| as "1.2.3.4:443" or "[::1]:443" into |out|. */
const char *qt_addr_str(const struct sockaddr *sa, char *out, size_t cap);

#endif
