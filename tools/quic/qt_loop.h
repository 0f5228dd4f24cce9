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

/* Creates |dir| if missing; returns 0 or -errno. */
int qt_mkdir_p(const char *dir);

/* A human-readable reason for a connection close. */
const char *qt_close_str(const pq_close_info *i, char *out, size_t cap);

#endif
