/*
 * pq_qlog.h: qlog events of a connection (qlog 0.3, JSON-SEQ, as qvis reads it),
 * formatted by the core and handed to the application's pq_callbacks.qlog; the core
 * writes no file.
 *
 * A connection gets a pq_qlog only when the callback is set, so the hooks in pq_conn
 * cost one NULL test otherwise. Each hook formats one complete record (0x1e, a JSON
 * object, '\n') into the connection's scratch buffer and calls the callback with it.
 * The first record of a connection is the header (vantage point, ODCID, relative
 * time), followed by transport:parameters_set for our own parameters; both go out
 * lazily with the first event, so the application already knows the connection (a
 * server's connections are created inside pq_server_read).
 *
 * Times are milliseconds since the connection's creation, in the caller's clock.
 * Logging is best effort: a record that cannot be formatted (no memory) is dropped.
 */
#ifndef PLUGINOP_PQ_QLOG_H
#define PLUGINOP_PQ_QLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pluginop/quic.h"
#include "pq_recovery.h"

typedef struct pq_qlog pq_qlog;

/* Gives |c| its qlog state (c->qlog) if c->cb.qlog is set; |t0| is time zero of the
 * log. Returns 0 or PQ_ERR_NOMEM. */
int pq_qlog_new(pq_conn *c, pq_tstamp t0);
/* Frees |q| (NULL is fine). */
void pq_qlog_del(pq_qlog *q);

/* transport:packet_sent (|sent|) or transport:packet_received for packet |pn| of space
 * |s|, its frames read from the plaintext |payload| (|len| bytes, borrowed), |raw_len|
 * its size on the wire. Frames the codec does not know (a plugin's) are logged as
 * "unknown" and end the list. */
void pq_qlog_packet(pq_conn *c, bool sent, pq_pnspace s, uint64_t pn, const uint8_t *payload,
                    size_t len, size_t raw_len, pq_tstamp now);
/* recovery:packet_lost. */
void pq_qlog_lost(pq_conn *c, pq_pnspace s, uint64_t pn, pq_tstamp now);
/* transport:parameters_set with the peer's transport parameters (c->peer_tp), at the
 * time of the last event. */
void pq_qlog_peer_params(pq_conn *c);
/* What may have changed since the last call: connectivity:connection_state_updated,
 * recovery:congestion_state_updated, and recovery:metrics_updated with the figures
 * that changed. */
void pq_qlog_tick(pq_conn *c, pq_tstamp now);

#endif
