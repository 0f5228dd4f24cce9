/*
 * qt_qlog.h: the programs' qlog, one JSON-SEQ file per connection,
 * DIR/<odcid>_<client|server>.sqlog (qlog 0.3 as qvis reads it: RS-prefixed records,
 * the header first, then one event per record).
 *
 * The connection engine formats the transport events (pq_callbacks.qlog: header,
 * parameters, packets with their frames, losses, metrics, connection and congestion
 * states); the program appends them with qt_qlog_record and adds its own events in
 * between: connectivity:connection_started (right after the header), HTTP/3 headers
 * frames, connectivity:connection_closed. Times are relative to the engine's time zero
 * (the header's reference_time, in qt_now's clock).
 */
#ifndef PLUGINOP_QT_QLOG_H
#define PLUGINOP_QT_QLOG_H

#include <stdbool.h>
#include <stdio.h>

#include "pluginop/quic.h"

typedef struct qt_qlog {
  FILE *f;
  bool header_seen;   /* the engine's header record was written */
  pq_tstamp t0;       /* the engine's time zero */
  double last_ms;     /* the latest record time written (engine's or ours), relative */
  pq_path path;       /* for connection_started */
  bool has_path;
} qt_qlog;

/* Opens DIR/<odcid of |conn|>_<client|server>.sqlog for |conn|'s records. A NULL |dir|
 * leaves the log off (every other call then does nothing). |path| (may be NULL) goes
 * into connection_started. Returns 0 or -errno (the log is then off). */
int qt_qlog_open(qt_qlog *q, const char *dir, bool server, const pq_conn *conn,
                 const pq_path *path, pq_tstamp now);
/* Appends one record from pq_callbacks.qlog (|rec|, |len| bytes). */
void qt_qlog_record(qt_qlog *q, const char *rec, size_t len);
/* connectivity:connection_closed (from the connection_closed callback). */
void qt_qlog_closed(qt_qlog *q, const pq_close_info *info, pq_tstamp now);
/* Closes the file (after the connection's last records). */
void qt_qlog_close(qt_qlog *q);
/* http:frame_created (|created|) or http:frame_parsed for a HEADERS frame with one
 * field of interest (":path" of a request or ":status" of a response). */
void qt_qlog_headers(qt_qlog *q, pq_tstamp now, bool created, int64_t sid, const char *name,
                     const char *value);

#endif
