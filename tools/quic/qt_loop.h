/*
 * qt_loop.h: pieces of the programs' event loop shared by client and server: moving a
 * connection's datagrams to the socket, waiting for the socket or the next timer, and
 * the pq settings the command-line options set.
 */
#ifndef PLUGINOP_QT_LOOP_H
#define PLUGINOP_QT_LOOP_H

#include <stdbool.h>

#include "pluginop/quic.h"
#include "qt_udp.h"

/* The max_ack_delay both programs announce (ns): 1 ms, the smallest the transport
 * parameter can say, instead of the core's 25 ms default. On loopback and LAN paths the
 * RTT is far below a millisecond, and with losses the sender's recovery waits for the
 * receiver's delayed ACK of a lone last packet: 10 MB with 5% loss each way took about
 * 4 s with 25 ms and 0.4-0.7 s with 1 ms (pluginop-client/-server, loopback). */
#define QT_MAX_ACK_DELAY 1000000u

/* Writes |c|'s datagrams into |u|'s queue and sends them. Returns 0, 1 when the socket
 * is full (wait for it to be writable, then call again), or a negative pq error from
 * pq_conn_write. */
int qt_drive_send(qt_udp *u, pq_conn *c, pq_tstamp now);

/* Waits until |u| is readable (or writable when |want_write|), |deadline| passes
 * (PQ_TSTAMP_NEVER: no deadline) or a signal arrives; at most |max_ns|. */
void qt_wait(qt_udp *u, bool want_write, pq_tstamp deadline, pq_tstamp max_ns);

/* Parses a cipher list ("AES-128-GCM,CHACHA20-POLY1305", TLS names such as
 * TLS_CHACHA20_POLY1305_SHA256 too, separated by ',' or ':') into PQ_CIPHER_* bits.
 * Returns 0, or -1 with the unknown name copied into |bad|. */
int qt_parse_ciphers(const char *list, uint32_t *mask, char *bad, size_t bad_cap);

/* Whether |name| is a congestion controller the core registers ("newreno", "cubic").
 * Checked up front: pq_server_new accepts any name and its connections fail later. */
bool qt_cc_known(const char *name);

/* Creates |dir| if missing; returns 0 or -errno. */
int qt_mkdir_p(const char *dir);

/* Prints |c|'s counters and estimates on one line to stderr, after |who|. */
void qt_print_stats(const char *who, const pq_conn *c, const qt_udp *u);

/* A human-readable reason for a connection close into |out| (|cap| bytes; 400 hold a
 * TLS failure's whole reason): the TLS alert or error code, who closed, and the reason
 * (bytes outside printable ASCII shown as '?'). Returns |out|. */
const char *qt_close_str(const pq_close_info *i, char *out, size_t cap);

#endif
