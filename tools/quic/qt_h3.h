/*
 * qt_h3.h: HTTP/3 over a pq_conn through nghttp3 (Debian libnghttp3, 0.8), shared by
 * pluginop-client and pluginop-server.
 *
 * The glue moves bytes between the two: received stream data goes to
 * nghttp3_conn_read_stream, and qt_h3_flush moves what nghttp3 wants to send into the
 * QUIC streams. pq_conn_stream_write copies what it accepts, so the glue tells nghttp3
 * right away that those bytes are acknowledged (it may then free them); a stream whose
 * QUIC send buffer is full is blocked until the next flush, which retries it.
 *
 * The application's nghttp3 callbacks get the qt_h3 as conn_user_data (qt_h3_user()
 * gives back the application's pointer); acked_stream_data, stop_sending and
 * reset_stream are the glue's.
 */
#ifndef PLUGINOP_QT_H3_H
#define PLUGINOP_QT_H3_H

#include <nghttp3/nghttp3.h>
#include <stdbool.h>

#include "pluginop/quic.h"

#define QT_H3_MAX_BLOCKED 256

typedef struct qt_h3 {
  pq_conn *conn;
  nghttp3_conn *h3;
  void *user;
  bool server, started, failed;
  int64_t blocked[QT_H3_MAX_BLOCKED]; /* streams whose QUIC send buffer was full */
  size_t nblocked;
  int64_t max_peer_bidi;              /* highest peer bidi stream seen (server) */
  uint64_t peer_bidi_window;          /* our initial_max_streams_bidi (server) */
  uint64_t err_code;                  /* H3 error code when failed */
  char err[128];
} qt_h3;

/* Sets up nghttp3 for |conn| (not yet the unidirectional streams: qt_h3_start once the
 * handshake is done). |cb|: the application's callbacks (copied). A server passes the
 * initial_max_streams_bidi it announced in |peer_bidi_window| (nghttp3 checks stream
 * ids in PRIORITY_UPDATE frames against it). Returns 0 or -1 (h->err says why). */
int qt_h3_init(qt_h3 *h, pq_conn *conn, bool server, uint64_t peer_bidi_window,
               const nghttp3_callbacks *cb, void *user);
void qt_h3_free(qt_h3 *h);
static inline void *qt_h3_user(void *conn_user_data) {
  return ((qt_h3 *)conn_user_data)->user;
}

/* Opens and binds the control and QPACK streams. Returns 0 or -1. */
int qt_h3_start(qt_h3 *h);
/* From pq's stream_data callback. Returns 0, or -1 when HTTP/3 failed: the connection
 * is being closed with the H3 error code (h->err says why). */
int qt_h3_on_stream_data(qt_h3 *h, int64_t sid, const uint8_t *data, size_t len, bool fin);
/* From pq's stream_closed / stream_reset callbacks. */
void qt_h3_on_stream_closed(qt_h3 *h, int64_t sid, uint64_t app_error);
void qt_h3_on_stream_reset(qt_h3 *h, int64_t sid, uint64_t app_error);
/* Moves pending HTTP/3 bytes into the QUIC streams. Returns 0 or -1 (connection being
 * closed, h->err). Call after reads and timers, before pq_conn_write. */
int qt_h3_flush(qt_h3 *h, pq_tstamp now);
/* Fails the connection: CONNECTION_CLOSE with |code|, message kept in h->err. */
void qt_h3_fail(qt_h3 *h, uint64_t code, const char *msg, pq_tstamp now);

#endif
