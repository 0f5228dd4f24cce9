/*
 * qt_h3.c: nghttp3 over pq_conn (see qt_h3.h).
 */
#include "qt_h3.h"

#include <stdio.h>
#include <string.h>

#define H3_INTERNAL_ERROR 0x102 /* RFC 9114 8.1 */

static int on_acked(nghttp3_conn *c, int64_t sid, uint64_t n, void *cu, void *su) {
  return 0; /* pq copied the bytes at write time: nothing to release here */
}

static int on_stop_sending(nghttp3_conn *c, int64_t sid, uint64_t code, void *cu, void *su) {
  qt_h3 *h = cu;
  pq_conn_stream_stop_sending(h->conn, sid, code); /* fails only if already finished */
  return 0;
}

static int on_reset_stream(nghttp3_conn *c, int64_t sid, uint64_t code, void *cu, void *su) {
  qt_h3 *h = cu;
  pq_conn_stream_reset(h->conn, sid, code);
  return 0;
}

int qt_h3_init(qt_h3 *h, pq_conn *conn, bool server, uint64_t peer_bidi_window,
               const nghttp3_callbacks *cb, void *user) {
  nghttp3_callbacks all = *cb;
  nghttp3_settings set;
  int rv;
  memset(h, 0, sizeof(*h));
  h->conn = conn;
  h->user = user;
  h->server = server;
  h->max_peer_bidi = -1;
  h->peer_bidi_window = peer_bidi_window;
  all.acked_stream_data = on_acked;
  all.stop_sending = on_stop_sending;
  all.reset_stream = on_reset_stream;
  nghttp3_settings_default(&set);
  rv = server ? nghttp3_conn_server_new(&h->h3, &all, &set, NULL, h)
              : nghttp3_conn_client_new(&h->h3, &all, &set, NULL, h);
  if (rv) {
    snprintf(h->err, sizeof(h->err), "nghttp3 setup: %s", nghttp3_strerror(rv));
    h->h3 = NULL;
    return -1;
  }
  if (server) nghttp3_conn_set_max_client_streams_bidi(h->h3, peer_bidi_window);
  return 0;
}

void qt_h3_free(qt_h3 *h) {
  if (h->h3) nghttp3_conn_del(h->h3);
  h->h3 = NULL;
}

void qt_h3_fail(qt_h3 *h, uint64_t code, const char *msg, pq_tstamp now) {
  if (h->failed) return;
  h->failed = true;
  h->err_code = code;
  snprintf(h->err, sizeof(h->err), "%s", msg);
  pq_conn_close(h->conn, code, msg, now);
}

/* Fails on a negative nghttp3 result; returns -1 then, else 0. */
static int check(qt_h3 *h, int rv, const char *what, pq_tstamp now) {
  char msg[96];
  if (rv >= 0) return 0;
  snprintf(msg, sizeof(msg), "HTTP/3 %s: %s", what, nghttp3_strerror(rv));
  qt_h3_fail(h, nghttp3_err_infer_quic_app_error_code(rv), msg, now);
  return -1;
}

int qt_h3_start(qt_h3 *h) {
  int64_t ctrl, enc, dec;
  int rv;
  if (h->started) return 0;
  if (pq_conn_open_stream(h->conn, false, &ctrl) || pq_conn_open_stream(h->conn, false, &enc) ||
      pq_conn_open_stream(h->conn, false, &dec)) {
    qt_h3_fail(h, 0x101 /* H3_GENERAL_PROTOCOL_ERROR */,
               "cannot open the HTTP/3 control and QPACK streams", 0);
    return -1;
  }
  if ((rv = nghttp3_conn_bind_control_stream(h->h3, ctrl)) ||
      (rv = nghttp3_conn_bind_qpack_streams(h->h3, enc, dec))) {
    check(h, rv, "binding streams", 0);
    return -1;
  }
  h->started = true;
  return 0;
}

int qt_h3_on_stream_data(qt_h3 *h, int64_t sid, const uint8_t *data, size_t len, bool fin) {
  nghttp3_ssize n;
  if (h->failed) return 0;
  /* A server may get a request before its handshake_done (the client's Finished and
   * its request can share a datagram): its own streams must exist to answer. */
  if (h->server && !h->started && qt_h3_start(h) < 0) return -1;
  if (h->server && (sid & 3) == 0 && sid > h->max_peer_bidi) {
    h->max_peer_bidi = sid;
    /* pq gives a stream back to the peer's limit as one closes, so the limit it has
     * granted is at most the streams opened so far plus the initial window (pq tells
     * no exact figure). Chromium sends PRIORITY_UPDATE for a stream before opening it,
     * and nghttp3 rejects ids past this bound with H3_ID_ERROR. */
    nghttp3_conn_set_max_client_streams_bidi(h->h3, (uint64_t)sid / 4 + 1 + h->peer_bidi_window);
  }
  n = nghttp3_conn_read_stream(h->h3, sid, data, len, fin);
  return check(h, (int)(n < 0 ? n : 0), "receive", 0);
}

void qt_h3_on_stream_closed(qt_h3 *h, int64_t sid, uint64_t app_error) {
  int rv;
  if (h->failed) return;
  rv = nghttp3_conn_close_stream(h->h3, sid, app_error);
  if (rv != NGHTTP3_ERR_STREAM_NOT_FOUND) check(h, rv, "stream close", 0);
}

void qt_h3_on_stream_reset(qt_h3 *h, int64_t sid, uint64_t app_error) {
  if (h->failed) return;
  nghttp3_conn_shutdown_stream_read(h->h3, sid);
}

/* Remembers that |sid| could not take all its bytes; false when the list is full. */
static bool block(qt_h3 *h, int64_t sid) {
  if (h->nblocked == QT_H3_MAX_BLOCKED) return false;
  nghttp3_conn_block_stream(h->h3, sid);
  h->blocked[h->nblocked++] = sid;
  return true;
}

/* Writes |n| vectors (+ FIN) to |sid|; returns the bytes accepted, or a pq error. */
static ssize_t write_vecs(qt_h3 *h, int64_t sid, const nghttp3_vec *v, size_t n, bool fin,
                          bool *all) {
  ssize_t total = 0;
  *all = true;
  if (n == 0) return fin ? pq_conn_stream_write(h->conn, sid, NULL, 0, true) : 0;
  for (size_t i = 0; i < n; i++) {
    ssize_t w = pq_conn_stream_write(h->conn, sid, v[i].base, v[i].len, fin && i + 1 == n);
    if (w < 0) return total ? total : w;
    total += w;
    if ((size_t)w < v[i].len) {
      *all = false;
      break;
    }
  }
  return total;
}

int qt_h3_flush(qt_h3 *h, pq_tstamp now) {
  size_t nb = h->nblocked;
  if (h->failed || !h->h3) return h->failed ? -1 : 0;
  h->nblocked = 0;
  for (size_t i = 0; i < nb; i++) nghttp3_conn_unblock_stream(h->h3, h->blocked[i]);
  for (;;) {
    nghttp3_vec vec[16];
    int64_t sid = -1;
    int fin = 0;
    bool all;
    nghttp3_ssize n = nghttp3_conn_writev_stream(h->h3, &sid, &fin, vec, 16);
    ssize_t w;
    if (check(h, (int)(n < 0 ? n : 0), "send", now)) return -1;
    if (sid < 0) return 0;
    w = write_vecs(h, sid, vec, (size_t)n, fin != 0, &all);
    if (w == PQ_ERR_CLOSED) return 0;
    if (w < 0) { /* stream gone on the QUIC side (reset...): stop feeding it */
      nghttp3_conn_shutdown_stream_write(h->h3, sid);
      continue;
    }
    if (check(h, nghttp3_conn_add_write_offset(h->h3, sid, (size_t)w), "write offset", now) ||
        (w > 0 && check(h, nghttp3_conn_add_ack_offset(h->h3, sid, (uint64_t)w), "ack", now)))
      return -1;
    /* A full list of blocked streams ends this flush (the next one retries them all). */
    if ((!all || (w == 0 && n > 0)) && !block(h, sid)) return 0;
  }
}
