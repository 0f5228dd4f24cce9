/*
 * qt_qlog.h: the programs' own qlog, one JSON-SEQ file per connection (qlog 0.3 as qvis
 * reads it: RS-prefixed records, a header then one event per record).
 *
 * The connection engine writes no qlog yet (pq_settings.qlog_dir is passed on and
 * ignored), so what is logged is what the application sees: connection start and
 * addresses, handshake completion, HTTP/3 requests and responses (headers frames), and
 * recovery:metrics_updated from pq_conn_get_stats (cwnd, bytes in flight, RTTs, at most
 * every 10 ms), and the close. Packet-level events need the core.
 */
#ifndef PLUGINOP_QT_QLOG_H
#define PLUGINOP_QT_QLOG_H

#include <stdbool.h>
#include <stdio.h>

#include "pluginop/quic.h"

typedef struct qt_qlog {
  FILE *f;
  pq_tstamp t0, last_metrics;
  pq_conn_stats last;
} qt_qlog;

/* Opens DIR/<client|server>-<pid>-<now>.sqlog and writes the header and connection_started.
 * A NULL |dir| leaves the log off (every other call then does nothing). Returns 0 or
 * -errno (the log is then off). */
int qt_qlog_open(qt_qlog *q, const char *dir, bool server, const pq_path *path,
                 pq_tstamp now);
void qt_qlog_close(qt_qlog *q, const pq_close_info *info, pq_tstamp now);
/* connectivity:connection_state_updated to handshake_complete. */
void qt_qlog_handshake(qt_qlog *q, pq_tstamp now);
/* http:frame_created (|created|) or http:frame_parsed for a HEADERS frame with one
 * field of interest (":path" of a request or ":status" of a response). */
void qt_qlog_headers(qt_qlog *q, pq_tstamp now, bool created, int64_t sid, const char *name,
                     const char *value);
/* recovery:metrics_updated when a figure changed, at most every 10 ms. */
void qt_qlog_metrics(qt_qlog *q, const pq_conn *c, pq_tstamp now);

#endif
