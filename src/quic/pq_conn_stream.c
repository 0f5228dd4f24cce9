/*
 * pq_conn_stream.c: the connection's streams: creation with the limits of their type,
 * the peer opening streams implicitly (RFC 9000 §3.2), closing and forgetting them,
 * and the public stream functions of quic.h.
 */
#include <stdlib.h>
#include <string.h>

#include "pq_conn.h"

void pq_stream_free(pq_stream *s) {
  pq_strm_tx_free(&s->tx);
  pq_strm_rx_free(&s->rx);
  free(s);
}


static size_t stream_pos(const pq_conn *c, uint64_t id) {
  size_t lo = 0, hi = c->nstreams;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (c->streams[mid]->id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

pq_stream *pq_conn_find_stream(pq_conn *c, uint64_t id) {
  size_t i = stream_pos(c, id);
  return i < c->nstreams && c->streams[i]->id == id ? c->streams[i] : NULL;
}

/* Creates stream |id| with the limits of its type. */
int pq_stream_create(pq_conn *c, uint64_t id, pq_stream **out) {
  pq_stream *s;
  bool local = pq_stream_is_local(id, c->is_server), uni = pq_stream_is_uni(id);
  uint64_t rx_window, tx_max = 0;
  size_t pos;
  if (c->nstreams == c->streams_cap) {
    size_t cap = c->streams_cap ? c->streams_cap * 2 : 16;
    pq_stream **v = realloc(c->streams, cap * sizeof(*v));
    if (!v) return PQ_ERR_NOMEM;
    c->streams = v;
    c->streams_cap = cap;
  }
  s = calloc(1, sizeof(*s));
  if (!s) return PQ_ERR_NOMEM;
  s->id = id;
  s->can_send = !uni || local;
  s->can_recv = !uni || !local;
  if (uni) rx_window = c->settings.initial_max_stream_data_uni;
  else if (local) rx_window = c->settings.initial_max_stream_data_bidi_local;
  else rx_window = c->settings.initial_max_stream_data_bidi_remote;
  /* The peer's limits are named from its side: our local bidi stream is its remote. */
  if (uni) tx_max = c->peer_tp.initial_max_stream_data_uni;
  else if (local) tx_max = c->peer_tp.initial_max_stream_data_bidi_remote;
  else tx_max = c->peer_tp.initial_max_stream_data_bidi_local;
  pq_strm_tx_init(&s->tx, PQ_CONN_STREAM_BUFFER);
  pq_strm_rx_init(&s->rx, s->can_recv ? rx_window : 0);
  pq_flow_tx_init(&s->ftx, s->can_send ? tx_max : 0);
  pq_flow_rx_init(&s->frx, rx_window, rx_window);
  pos = stream_pos(c, id);
  memmove(&c->streams[pos + 1], &c->streams[pos], (c->nstreams - pos) * sizeof(*c->streams));
  c->streams[pos] = s;
  c->nstreams++;
  *out = s;
  return 0;
}

int pq_conn_peer_stream(pq_conn *c, uint64_t id, uint64_t type, pq_stream **out) {
  pq_streams_rx *lim;
  uint64_t newly = 0;
  int rv;
  *out = NULL;
  if ((rv = pq_stream_check_frame(id, c->is_server, type))) return rv;
  if (pq_stream_is_local(id, c->is_server)) {
    rv = pq_streams_tx_check(pq_stream_is_uni(id) ? &c->stx_uni : &c->stx_bidi, id);
    if (rv) return rv;
    *out = pq_conn_find_stream(c, id); /* NULL: closed and forgotten */
    return 0;
  }
  lim = pq_stream_is_uni(id) ? &c->srx_uni : &c->srx_bidi;
  if ((rv = pq_streams_rx_on_stream(lim, id, &newly))) return rv;
  if (newly == 0) {
    *out = pq_conn_find_stream(c, id);
    return 0;
  }
  /* Opening stream n opens every lower stream of its type (RFC 9000 §3.2). */
  for (uint64_t k = newly; k-- > 0;) {
    uint64_t sid = id - 4 * k;
    pq_stream *s;
    if ((rv = pq_stream_create(c, sid, &s))) return rv;
    if (c->cb.stream_opened) c->cb.stream_opened(c, (int64_t)sid, c->user);
    if (sid == id) *out = s;
  }
  return 0;
}

void pq_conn_stream_maybe_closed(pq_conn *c, pq_stream *s) {
  bool tx_done = !s->can_send || pq_strm_tx_done(&s->tx) || s->reset_acked;
  bool rx_done = !s->can_recv || pq_strm_rx_done(&s->rx) || s->peer_reset;
  size_t pos;
  if (s->closed || !tx_done || !rx_done) return;
  s->closed = true;
  if (c->cb.stream_closed) c->cb.stream_closed(c, (int64_t)s->id, 0, c->user);
  if (!pq_stream_is_local(s->id, c->is_server))
    pq_streams_rx_on_closed(pq_stream_is_uni(s->id) ? &c->srx_uni : &c->srx_bidi);
  /* Forget it: frames naming it later are ignored (pq_conn_peer_stream gives NULL). */
  pos = stream_pos(c, s->id);
  memmove(&c->streams[pos], &c->streams[pos + 1],
          (c->nstreams - pos - 1) * sizeof(*c->streams));
  c->nstreams--;
  if (c->next_stream_rr > pos && c->next_stream_rr > 0) c->next_stream_rr--;
  pq_stream_free(s);
}

/* ---- the public stream functions ---- */

int pq_conn_open_stream(pq_conn *c, bool bidi, int64_t *stream_id) {
  uint64_t id;
  pq_stream *s;
  int rv;
  if (!c || !stream_id) return PQ_ERR_INVALID_ARG;
  if (c->state >= PQ_CS_CLOSING) return PQ_ERR_CLOSED;
  if (!c->has_peer_tp && !c->use_remembered) return PQ_ERR_STREAM_LIMIT;
  rv = pq_streams_tx_open(bidi ? &c->stx_bidi : &c->stx_uni, c->is_server, !bidi, &id);
  if (rv) return PQ_ERR_STREAM_LIMIT;
  if ((rv = pq_stream_create(c, id, &s))) return rv;
  *stream_id = (int64_t)id;
  return 0;
}

ssize_t pq_conn_stream_write(pq_conn *c, int64_t stream_id, const uint8_t *data, size_t len,
                             bool fin) {
  pq_stream *s;
  ssize_t n;
  if (!c || stream_id < 0 || (!data && len)) return PQ_ERR_INVALID_ARG;
  if (c->state >= PQ_CS_CLOSING) return PQ_ERR_CLOSED;
  s = pq_conn_find_stream(c, (uint64_t)stream_id);
  if (!s || !s->can_send || s->reset_pending || s->reset_sent) return PQ_ERR_STREAM_STATE;
  n = pq_strm_tx_write(&s->tx, data, len, fin);
  if (n < 0) return n == PQ_ERR_NOMEM ? PQ_ERR_NOMEM : PQ_ERR_STREAM_STATE;
  return n;
}

int pq_conn_stream_reset(pq_conn *c, int64_t stream_id, uint64_t app_error) {
  pq_stream *s;
  if (!c || stream_id < 0) return PQ_ERR_INVALID_ARG;
  s = pq_conn_find_stream(c, (uint64_t)stream_id);
  if (!s || !s->can_send || s->reset_sent) return PQ_ERR_STREAM_STATE;
  s->reset_pending = true;
  s->reset_error = app_error;
  return 0;
}

int pq_conn_stream_stop_sending(pq_conn *c, int64_t stream_id, uint64_t app_error) {
  pq_stream *s;
  if (!c || stream_id < 0) return PQ_ERR_INVALID_ARG;
  s = pq_conn_find_stream(c, (uint64_t)stream_id);
  if (!s || !s->can_recv) return PQ_ERR_STREAM_STATE;
  s->stop_pending = true;
  s->stop_error = app_error;
  return 0;
}
