/*
 * pq_conn_frames.c: the connection's half of the frame table. pq_frame gives the codec
 * (parse/write/wire length/flags by type); this file gives, for the same index, what
 * the connection does with a received frame (process) and how it produces frames of
 * that type from its state (send). Every received frame goes through
 * pq_conn_process_frame and every frame sent through a row's send function: the seams
 * where the plugin runtime will insert plugin operations per frame type.
 */
#include <stdlib.h>
#include <string.h>

#include "pq_conn.h"
#include "pq_plugin.h"
#include "pq_varint.h"

#define ROOM(ctx) ((size_t)((ctx)->end - (ctx)->p))

bool pq_tx_add_rtx(pq_tx_ctx *ctx, const pq_rtx *r) {
  if (ctx->nrtx >= PQ_CONN_MAX_RTX) return false;
  ctx->rtx[ctx->nrtx++] = *r;
  return true;
}

static uint64_t srtt(const pq_conn *c) { return c->rec.rtt.smoothed; }

/* ---- received frames ---- */

static int rx_ignore(pq_conn *c, const pq_frame *f, pq_rx_ctx *ctx) { return 0; }

static int rx_ack(pq_conn *c, const pq_frame *f, pq_rx_ctx *ctx) {
  pq_ack_span local[64], *spans = local;
  pq_ack_iter it;
  uint64_t lo, hi, raw = f->u.ack.ack_delay, delay;
  uint64_t exp = c->has_peer_tp ? c->peer_tp.ack_delay_exponent : 3;
  size_t n = 0, want = (size_t)f->u.ack.range_count + 1;
  int rv;
  if (f->u.ack.range_count > 100000) return PQ_ERR_FRAME_ENCODING; /* absurd, not wrong */
  if (want > 64) {
    spans = malloc(want * sizeof(*spans));
    if (!spans) return PQ_ERR_NOMEM;
  }
  /* ACK Delay is in units of 2^exponent microseconds; saturate rather than wrap. */
  delay = raw > (UINT64_MAX >> 31) ? UINT64_MAX >> 11 : (raw << exp) * 1000;
  pq_ack_iter_init(&it, &f->u.ack);
  while (n < want && pq_ack_iter_next(&it, &lo, &hi)) {
    spans[n].smallest = lo;
    spans[n].largest = hi - 1;
    n++;
  }
  rv = pq_recovery_on_ack(&c->rec, ctx->space, spans, n, delay, ctx->now);
  if (spans != local) free(spans);
  if (rv) return pq_conn_fail(c, rv, f->type);
  return 0;
}

typedef struct crypto_delivery {
  pq_conn *c;
  pq_level level;
  int rv;
} crypto_delivery;

static int deliver_crypto(void *user, uint64_t off, const uint8_t *data, size_t len,
                          bool fin) {
  crypto_delivery *d = user;
  d->rv = d->c->hs->recv(d->c->hs_state, d->level, data, len);
  return d->rv != 0;
}

static int rx_crypto(pq_conn *c, const pq_frame *f, pq_rx_ctx *ctx) {
  crypto_delivery d = {c, (pq_level)ctx->space, 0};
  pq_space *sp = &c->spaces[ctx->space];
  int rv;
  /* Handshake data we already have: the peer is retransmitting, so what we sent may
   * be lost too. Send our unacknowledged handshake data again now rather than waiting
   * for our own PTO (it halves the handshake time under heavy loss). */
  if (ctx->space != PQ_PNS_APP && f->u.crypto.offset + f->u.crypto.len <= sp->crypto_rx.read_off) {
    for (int s = PQ_PNS_INITIAL; s <= PQ_PNS_HANDSHAKE; s++)
      if (!c->spaces[s].discarded) pq_conn_requeue_space(c, (pq_pnspace)s);
  }
  rv = pq_strm_rx_recv(&sp->crypto_rx, f->u.crypto.offset, f->u.crypto.data,
                           (size_t)f->u.crypto.len, false, deliver_crypto, &d, NULL);
  if (rv == PQ_ERR_CALLBACK && d.rv) rv = d.rv;
  if (rv == PQ_ERR_FLOW_CONTROL_ERROR) rv = PQ_ERR_TRANSPORT(PQ_TE_CRYPTO_BUFFER_EXCEEDED);
  if (rv) return pq_conn_fail(c, rv, f->type);
  return 0;
}

typedef struct stream_delivery {
  pq_conn *c;
  pq_stream *s;
  uint64_t delivered;
  bool failed;
} stream_delivery;

static int deliver_stream(void *user, uint64_t off, const uint8_t *data, size_t len,
                          bool fin) {
  stream_delivery *d = user;
  d->delivered += len;
  if (d->c->cb.stream_data &&
      d->c->cb.stream_data(d->c, (int64_t)d->s->id, data, len, fin, d->c->user) != 0) {
    d->failed = true;
    return 1;
  }
  return 0;
}

/* Data handed to the application leaves the core: its credit can go back. */
static int stream_received(pq_conn *c, pq_stream *s, uint64_t new_bytes, uint64_t delivered,
                           uint64_t type) {
  int rv;
  if ((rv = pq_flow_rx_add(&c->frx, new_bytes))) return pq_conn_fail(c, rv, type);
  if ((rv = pq_flow_rx_add(&s->frx, new_bytes))) return pq_conn_fail(c, rv, type);
  pq_flow_rx_consume(&c->frx, delivered);
  pq_flow_rx_consume(&s->frx, delivered);
  return 0;
}

static int rx_stream(pq_conn *c, const pq_frame *f, pq_rx_ctx *ctx) {
  const pq_frame_stream *fs = &f->u.stream;
  stream_delivery d = {c, NULL, 0, false};
  uint64_t new_bytes = 0;
  pq_stream *s;
  int rv = pq_conn_peer_stream(c, fs->stream_id, f->type, &s);
  if (rv) return pq_conn_fail(c, rv, f->type);
  if (!s || s->peer_reset) return 0; /* closed already: a late retransmission */
  d.s = s;
  rv = pq_strm_rx_recv(&s->rx, fs->offset, fs->data, (size_t)fs->len, fs->fin,
                       deliver_stream, &d, &new_bytes);
  if (rv == PQ_ERR_CALLBACK && d.failed) {
    rv = pq_conn_fail(c, PQ_ERR_CALLBACK, f->type);
    return rv;
  }
  if (rv) return pq_conn_fail(c, rv, f->type);
  if ((rv = stream_received(c, s, new_bytes, d.delivered, f->type))) return rv;
  pq_conn_stream_maybe_closed(c, s);
  return 0;
}

static int rx_reset_stream(pq_conn *c, const pq_frame *f, pq_rx_ctx *ctx) {
  const pq_frame_reset_stream *r = &f->u.reset_stream;
  uint64_t new_bytes = 0;
  pq_stream *s;
  int rv = pq_conn_peer_stream(c, r->stream_id, f->type, &s);
  if (rv) return pq_conn_fail(c, rv, f->type);
  if (!s || s->peer_reset) return 0;
  if ((rv = pq_strm_rx_reset(&s->rx, r->final_size, &new_bytes)))
    return pq_conn_fail(c, rv, f->type);
  s->peer_reset = true;
  /* The whole final size counts against connection credit, and is gone. */
  if ((rv = stream_received(c, s, new_bytes, 0, f->type))) return rv;
  pq_flow_rx_consume(&c->frx, r->final_size - s->rx.read_off);
  if (c->cb.stream_reset) c->cb.stream_reset(c, (int64_t)s->id, r->app_error, c->user);
  pq_conn_stream_maybe_closed(c, s);
  return 0;
}

static int rx_stop_sending(pq_conn *c, const pq_frame *f, pq_rx_ctx *ctx) {
  pq_stream *s;
  int rv = pq_conn_peer_stream(c, f->u.stop_sending.stream_id, f->type, &s);
  if (rv) return pq_conn_fail(c, rv, f->type);
  if (!s || s->reset_sent || s->reset_pending) return 0;
  /* Answer with RESET_STREAM (RFC 9000 §3.5). */
  s->reset_pending = true;
  s->reset_error = f->u.stop_sending.app_error;
  return 0;
}

static int rx_new_token(pq_conn *c, const pq_frame *f, pq_rx_ctx *ctx) {
  if (c->is_server) return pq_conn_fail(c, PQ_ERR_PROTOCOL_VIOLATION, f->type);
  if (c->cb.new_token)
    c->cb.new_token(c, f->u.new_token.token, (size_t)f->u.new_token.len, c->user);
  return 0;
}

static int rx_max_data(pq_conn *c, const pq_frame *f, pq_rx_ctx *ctx) {
  pq_flow_tx_on_max(&c->ftx, f->u.max_data.value);
  return 0;
}

static int rx_max_stream_data(pq_conn *c, const pq_frame *f, pq_rx_ctx *ctx) {
  pq_stream *s;
  int rv = pq_conn_peer_stream(c, f->u.max_stream_data.stream_id, f->type, &s);
  if (rv) return pq_conn_fail(c, rv, f->type);
  if (s && pq_flow_tx_on_max(&s->ftx, f->u.max_stream_data.value) && c->cb.stream_writable)
    c->cb.stream_writable(c, (int64_t)s->id, c->user);
  return 0;
}

static int rx_max_streams(pq_conn *c, const pq_frame *f, pq_rx_ctx *ctx) {
  bool bidi = f->type == PQ_FT_MAX_STREAMS_BIDI;
  pq_streams_tx *st = bidi ? &c->stx_bidi : &c->stx_uni;
  if (pq_streams_tx_on_max(st, f->u.max_streams.value) && c->cb.streams_available)
    c->cb.streams_available(c, bidi, st->max, c->user);
  return 0;
}

static int rx_stream_data_blocked(pq_conn *c, const pq_frame *f, pq_rx_ctx *ctx) {
  pq_stream *s;
  int rv = pq_conn_peer_stream(c, f->u.stream_data_blocked.stream_id, f->type, &s);
  if (rv) return pq_conn_fail(c, rv, f->type);
  return 0;
}

static int rx_close(pq_conn *c, const pq_frame *f, pq_rx_ctx *ctx) {
  pq_conn_enter_draining(c, &f->u.close, f->type == PQ_FT_CONNECTION_CLOSE_APP, ctx->now);
  return 0;
}

static int rx_handshake_done(pq_conn *c, const pq_frame *f, pq_rx_ctx *ctx) {
  if (c->is_server) return pq_conn_fail(c, PQ_ERR_PROTOCOL_VIOLATION, f->type);
  if (c->hs_confirmed) return 0;
  /* The client's handshake is confirmed: Handshake keys go (RFC 9001 §4.1.2, §4.9.2). */
  c->hs_confirmed = true;
  c->rec.handshake_confirmed = true;
  pq_conn_discard_space(c, PQ_PNS_HANDSHAKE, ctx->now);
  return 0;
}

static int rx_new_cid(pq_conn *c, const pq_frame *f, pq_rx_ctx *ctx) {
  int rv = pq_conn_on_new_cid(c, &f->u.new_cid);
  return rv ? pq_conn_fail(c, rv, f->type) : 0;
}

static int rx_retire_cid(pq_conn *c, const pq_frame *f, pq_rx_ctx *ctx) {
  int rv = pq_conn_on_retire_cid(c, f->u.retire_cid.value);
  return rv ? pq_conn_fail(c, rv, f->type) : 0;
}

static int rx_path_challenge(pq_conn *c, const pq_frame *f, pq_rx_ctx *ctx) {
  /* Answer on the path it came from (one path for now); not retransmitted if lost:
   * a new challenge comes instead (RFC 9000 §8.2.2, §13.3). */
  memcpy(c->path_response, f->u.path.data, 8);
  c->path_response_pending = true;
  return 0;
}

static int rx_path_response(pq_conn *c, const pq_frame *f, pq_rx_ctx *ctx) {
  if (c->path_validating && memcmp(f->u.path.data, c->path_challenge, 8) == 0) {
    c->path_validating = false; /* the new path is validated (RFC 9000 §8.2.3) */
    c->path_challenge_pending = false;
  }
  return 0;
}

static int rx_datagram(pq_conn *c, const pq_frame *f, pq_rx_ctx *ctx) {
  /* We never announce max_datagram_frame_size (RFC 9221 §3). */
  return pq_conn_fail(c, PQ_ERR_PROTOCOL_VIOLATION, f->type);
}

int pq_conn_process_frame(pq_conn *c, const pq_frame *f, pq_rx_ctx *ctx) {
  if (f->type >= PQ_FT_TABLE_SIZE || !pq_conn_frame_table[f->type].process)
    return pq_conn_fail(c, PQ_ERR_FRAME_ENCODING, f->type);
  return pq_conn_frame_table[f->type].process(c, f, ctx);
}

/* ---- frames to send ---- */

static void eliciting(pq_tx_ctx *ctx) {
  ctx->ack_eliciting = true;
  ctx->in_flight = true;
}

static int tx_ack(pq_conn *c, pq_tx_ctx *ctx) {
  pq_space *sp = &c->spaces[ctx->space];
  pq_frame f;
  ssize_t n;
  if (ctx->zero_rtt) return 0; /* no ACK frames in 0-RTT packets (RFC 9000 §12.4) */
  /* Due, or at least one ack-eliciting packet unacknowledged: it rides along. Packets
   * that only elicit nothing wait for something else (RFC 9000 §13.2.1). */
  if (!pq_acktr_should_send(&sp->ack, ctx->now) && sp->ack.unacked_eliciting == 0) return 0;
  /* ACK Delay in every space (the peer ignores it outside 1-RTT, RFC 9002 §5.3). */
  if (pq_acktr_frame(&sp->ack, &f, ctx->now, c->settings.ack_delay_exponent, true, 0))
    return 0; /* nothing received */
  n = pq_frame_write(&f, ctx->p, ROOM(ctx));
  if (n < 0) return (int)n;
  ctx->p += n;
  pq_acktr_on_ack_sent(&sp->ack);
  return 0;
}

static int tx_handshake_done(pq_conn *c, pq_tx_ctx *ctx) {
  pq_rtx r = {.kind = PQ_RTX_HANDSHAKE_DONE};
  if (ctx->space != PQ_PNS_APP || !c->handshake_done_pending || !ctx->cc_ok) return 0;
  if (ROOM(ctx) < 1) return PQ_ERR_NOBUF;
  if (!pq_tx_add_rtx(ctx, &r)) return PQ_ERR_NOBUF;
  *ctx->p++ = PQ_FT_HANDSHAKE_DONE;
  c->handshake_done_pending = false;
  eliciting(ctx);
  return 0;
}

static int tx_crypto(pq_conn *c, pq_tx_ctx *ctx) {
  pq_strm_tx *tx = &c->spaces[ctx->space].crypto_tx;
  for (;;) {
    size_t hdr = 1 + pq_varint_len(tx->write_off) + 2, len;
    uint64_t off;
    bool fin;
    pq_rtx r = {.kind = PQ_RTX_CRYPTO, .level = (uint8_t)ctx->space};
    if (ROOM(ctx) <= hdr + 1 || ctx->nrtx >= PQ_CONN_MAX_RTX) return 0;
    if (!pq_strm_tx_take(tx, ROOM(ctx) - hdr, UINT64_MAX, &off, &len, &fin)) return 0;
    r.off = off;
    r.len = len;
    pq_tx_add_rtx(ctx, &r);
    *ctx->p++ = PQ_FT_CRYPTO;
    ctx->p = pq_varint_write(ctx->p, off);
    ctx->p = pq_varint_write_n(ctx->p, len, 2);
    pq_strm_tx_copy(tx, off, ctx->p, len);
    ctx->p += len;
    eliciting(ctx);
  }
}

/* One integer frame (MAX_DATA, MAX_STREAMS) with its retransmission item. */
static int put_value_frame(pq_tx_ctx *ctx, uint64_t type, uint64_t v, uint8_t kind) {
  pq_rtx r = {.kind = kind};
  if (ROOM(ctx) < 1 + pq_varint_len(v) || ctx->nrtx >= PQ_CONN_MAX_RTX) return PQ_ERR_NOBUF;
  pq_tx_add_rtx(ctx, &r);
  ctx->p = pq_varint_write(ctx->p, type);
  ctx->p = pq_varint_write(ctx->p, v);
  eliciting(ctx);
  return 0;
}

static int tx_max_data(pq_conn *c, pq_tx_ctx *ctx) {
  uint64_t v;
  int rv;
  if (ctx->space != PQ_PNS_APP || !ctx->cc_ok) return 0;
  if (!c->max_data_pending && !pq_flow_rx_should_update(&c->frx)) return 0;
  if (ROOM(ctx) < 9) return PQ_ERR_NOBUF;
  /* A new limit when half the window is used, else the current one again (lost). */
  v = pq_flow_rx_should_update(&c->frx) ? pq_flow_rx_update(&c->frx, ctx->now, srtt(c))
                                        : c->frx.max;
  rv = put_value_frame(ctx, PQ_FT_MAX_DATA, v, PQ_RTX_MAX_DATA);
  if (rv == 0) c->max_data_pending = false;
  return rv;
}

static int tx_max_streams(pq_conn *c, pq_tx_ctx *ctx) {
  for (int k = 0; k < 2; k++) {
    pq_streams_rx *s = k == 0 ? &c->srx_bidi : &c->srx_uni;
    bool *pending = k == 0 ? &c->max_streams_bidi_pending : &c->max_streams_uni_pending;
    uint64_t v;
    int rv;
    if (ctx->space != PQ_PNS_APP || !ctx->cc_ok) return 0;
    if (!*pending && !pq_streams_rx_should_update(s)) continue;
    if (ROOM(ctx) < 9) return PQ_ERR_NOBUF;
    v = pq_streams_rx_should_update(s) ? pq_streams_rx_update(s) : s->max;
    rv = put_value_frame(ctx, k == 0 ? PQ_FT_MAX_STREAMS_BIDI : PQ_FT_MAX_STREAMS_UNI, v,
                         k == 0 ? PQ_RTX_MAX_STREAMS_BIDI : PQ_RTX_MAX_STREAMS_UNI);
    if (rv) return rv;
    *pending = false;
  }
  return 0;
}

static int tx_max_stream_data(pq_conn *c, pq_tx_ctx *ctx) {
  if (ctx->space != PQ_PNS_APP || !ctx->cc_ok) return 0;
  for (size_t i = 0; i < c->nstreams; i++) {
    pq_stream *s = c->streams[i];
    pq_rtx r = {.kind = PQ_RTX_MAX_STREAM_DATA, .id = s->id};
    uint64_t v;
    bool update;
    if (!s->can_recv || s->peer_reset || s->rx.has_final) continue;
    update = pq_flow_rx_should_update(&s->frx);
    if (!update && !s->max_stream_data_pending) continue;
    if (ROOM(ctx) < 1 + 8 + 8 || ctx->nrtx >= PQ_CONN_MAX_RTX) return PQ_ERR_NOBUF;
    v = update ? pq_flow_rx_update(&s->frx, ctx->now, srtt(c)) : s->frx.max;
    pq_strm_rx_set_window(&s->rx, s->frx.window);
    pq_tx_add_rtx(ctx, &r);
    *ctx->p++ = PQ_FT_MAX_STREAM_DATA;
    ctx->p = pq_varint_write(ctx->p, s->id);
    ctx->p = pq_varint_write(ctx->p, v);
    s->max_stream_data_pending = false;
    eliciting(ctx);
  }
  return 0;
}

static int tx_reset_stream(pq_conn *c, pq_tx_ctx *ctx) {
  if (ctx->space != PQ_PNS_APP || !ctx->cc_ok) return 0;
  for (size_t i = 0; i < c->nstreams; i++) {
    pq_stream *s = c->streams[i];
    pq_rtx r = {.kind = PQ_RTX_RESET_STREAM, .id = s->id};
    if (!s->reset_pending) continue;
    if (ROOM(ctx) < 1 + 8 + 8 + 8 || ctx->nrtx >= PQ_CONN_MAX_RTX) return PQ_ERR_NOBUF;
    pq_tx_add_rtx(ctx, &r);
    *ctx->p++ = PQ_FT_RESET_STREAM;
    ctx->p = pq_varint_write(ctx->p, s->id);
    ctx->p = pq_varint_write(ctx->p, s->reset_error);
    ctx->p = pq_varint_write(ctx->p, s->tx.send_off);
    s->reset_pending = false;
    s->reset_sent = true;
    eliciting(ctx);
  }
  return 0;
}

static int tx_stop_sending(pq_conn *c, pq_tx_ctx *ctx) {
  if (ctx->space != PQ_PNS_APP || !ctx->cc_ok) return 0;
  for (size_t i = 0; i < c->nstreams; i++) {
    pq_stream *s = c->streams[i];
    pq_rtx r = {.kind = PQ_RTX_STOP_SENDING, .id = s->id};
    if (!s->stop_pending) continue;
    if (ROOM(ctx) < 1 + 8 + 8 || ctx->nrtx >= PQ_CONN_MAX_RTX) return PQ_ERR_NOBUF;
    pq_tx_add_rtx(ctx, &r);
    *ctx->p++ = PQ_FT_STOP_SENDING;
    ctx->p = pq_varint_write(ctx->p, s->id);
    ctx->p = pq_varint_write(ctx->p, s->stop_error);
    s->stop_pending = false;
    eliciting(ctx);
  }
  return 0;
}

/* Fills the packet with STREAM frames, streams taken round-robin. */
static int tx_stream(pq_conn *c, pq_tx_ctx *ctx) {
  size_t tried = 0;
  if (ctx->space != PQ_PNS_APP || !ctx->cc_ok) return 0;
  while (tried < c->nstreams) {
    size_t i = c->next_stream_rr % c->nstreams;
    pq_stream *s = c->streams[i];
    uint64_t limit = s->ftx.max, conn_limit = s->ftx.sent + pq_flow_tx_credit(&c->ftx);
    uint64_t off, end;
    size_t len, hdr = 1 + pq_varint_len(s->id) + 8 + 2;
    bool fin;
    ssize_t hl;
    pq_rtx r = {.kind = PQ_RTX_STREAM, .id = s->id};
    if (conn_limit < limit) limit = conn_limit;
    if (!s->can_send || s->reset_sent || s->reset_pending ||
        !pq_strm_tx_pending(&s->tx, limit)) {
      c->next_stream_rr = i + 1;
      tried++;
      continue;
    }
    if (ROOM(ctx) <= hdr || ctx->nrtx >= PQ_CONN_MAX_RTX) return PQ_ERR_NOBUF;
    if (!pq_strm_tx_take(&s->tx, ROOM(ctx) - hdr, limit, &off, &len, &fin)) {
      c->next_stream_rr = i + 1;
      tried++;
      continue;
    }
    hl = pq_frame_stream_header_write(ctx->p, ROOM(ctx), s->id, off, len, fin, true);
    if (hl < 0) {
      pq_strm_tx_on_lost(&s->tx, off, len, fin); /* give it back */
      return (int)hl;
    }
    ctx->p += hl;
    pq_strm_tx_copy(&s->tx, off, ctx->p, len);
    ctx->p += len;
    r.off = off;
    r.len = len;
    r.fin = fin;
    pq_tx_add_rtx(ctx, &r);
    end = off + len;
    if (end > s->ftx.sent) {
      pq_flow_tx_on_sent(&c->ftx, end - s->ftx.sent);
      pq_flow_tx_on_sent(&s->ftx, end - s->ftx.sent);
    }
    eliciting(ctx);
    /* Next packet starts with the next stream; this one may still fill this packet. */
    c->next_stream_rr = i + 1;
    tried = 0;
    if (ROOM(ctx) <= hdr) return 0;
  }
  return 0;
}

static int tx_new_cid(pq_conn *c, pq_tx_ctx *ctx) {
  if (ctx->space != PQ_PNS_APP || !ctx->cc_ok) return 0;
  for (size_t i = 0; i < c->nlocal; i++) {
    pq_cid *e = &c->local_cids[i];
    pq_rtx r = {.kind = PQ_RTX_NEW_CID, .id = e->seq};
    pq_frame f;
    ssize_t n;
    if (!e->pending) continue;
    if (ctx->nrtx >= PQ_CONN_MAX_RTX) return PQ_ERR_NOBUF;
    memset(&f, 0, sizeof(f));
    f.type = PQ_FT_NEW_CONNECTION_ID;
    f.u.new_cid.seq = e->seq;
    f.u.new_cid.retire_prior_to = c->local_retire_prior_to;
    f.u.new_cid.cid_len = e->len;
    f.u.new_cid.cid = e->id;
    f.u.new_cid.reset_token = e->token;
    n = pq_frame_write(&f, ctx->p, ROOM(ctx));
    if (n < 0) return (int)n;
    ctx->p += n;
    pq_tx_add_rtx(ctx, &r);
    e->pending = false;
    eliciting(ctx);
  }
  return 0;
}

static int tx_retire_cid(pq_conn *c, pq_tx_ctx *ctx) {
  if (ctx->space != PQ_PNS_APP || !ctx->cc_ok) return 0;
  while (c->nretire > 0) {
    uint64_t seq = c->retire_queue[c->nretire - 1];
    pq_rtx r = {.kind = PQ_RTX_RETIRE_CID, .id = seq};
    if (ROOM(ctx) < 1 + pq_varint_len(seq) || ctx->nrtx >= PQ_CONN_MAX_RTX) return PQ_ERR_NOBUF;
    *ctx->p++ = PQ_FT_RETIRE_CONNECTION_ID;
    ctx->p = pq_varint_write(ctx->p, seq);
    pq_tx_add_rtx(ctx, &r);
    c->nretire--;
    eliciting(ctx);
  }
  return 0;
}

static int tx_path_response(pq_conn *c, pq_tx_ctx *ctx) {
  if (ctx->space != PQ_PNS_APP || !c->path_response_pending) return 0;
  if (ROOM(ctx) < 9) return PQ_ERR_NOBUF;
  *ctx->p++ = PQ_FT_PATH_RESPONSE;
  memcpy(ctx->p, c->path_response, 8);
  ctx->p += 8;
  c->path_response_pending = false;
  eliciting(ctx);
  return 0;
}

static int tx_path_challenge(pq_conn *c, pq_tx_ctx *ctx) {
  pq_rtx r = {.kind = PQ_RTX_PATH_CHALLENGE};
  if (ctx->space != PQ_PNS_APP || !c->path_challenge_pending) return 0;
  if (ROOM(ctx) < 9 || ctx->nrtx >= PQ_CONN_MAX_RTX) return PQ_ERR_NOBUF;
  *ctx->p++ = PQ_FT_PATH_CHALLENGE;
  memcpy(ctx->p, c->path_challenge, 8);
  ctx->p += 8;
  pq_tx_add_rtx(ctx, &r);
  c->path_challenge_pending = false;
  eliciting(ctx);
  return 0;
}

/* Server: one NEW_TOKEN once confirmed, bound to the client's current address. */
static int tx_new_token(pq_conn *c, pq_tx_ctx *ctx) {
  uint8_t addr[PQ_TOKEN_MAX_ADDR_LEN], token[PQ_TOKEN_MAX_LEN];
  pq_rtx r = {.kind = PQ_RTX_NEW_TOKEN};
  size_t alen;
  int tl;
  if (ctx->space != PQ_PNS_APP || !c->new_token_pending || !ctx->cc_ok || !c->token_key)
    return 0;
  if (ROOM(ctx) < 1 + 2 + PQ_TOKEN_MAX_LEN || ctx->nrtx >= PQ_CONN_MAX_RTX) return PQ_ERR_NOBUF;
  alen = pq_path_addr_bytes(&c->path, addr);
  tl = pq_token_seal(c->token_key, PQ_TOKEN_NEW_TOKEN, addr, alen, NULL, 0, ctx->now, token,
                     sizeof(token));
  c->new_token_pending = false;
  if (tl <= 0) return 0;
  *ctx->p++ = PQ_FT_NEW_TOKEN;
  ctx->p = pq_varint_write(ctx->p, (uint64_t)tl);
  memcpy(ctx->p, token, (size_t)tl);
  ctx->p += tl;
  pq_tx_add_rtx(ctx, &r);
  eliciting(ctx);
  return 0;
}

/* True if stream |s| has new data that only its flow-control limit holds back. */
static bool stream_blocked(const pq_stream *s) {
  return s->can_send && !s->reset_sent && !s->reset_pending &&
         s->tx.write_off > s->tx.send_off && pq_flow_tx_should_send_blocked(&s->ftx);
}

bool pq_conn_blocked_pending(const pq_conn *c) {
  bool data_waiting = false;
  for (size_t i = 0; i < c->nstreams; i++) {
    const pq_stream *s = c->streams[i];
    if (stream_blocked(s)) return true;
    data_waiting = data_waiting || (s->can_send && s->tx.write_off > s->tx.send_off);
  }
  return (data_waiting && pq_flow_tx_should_send_blocked(&c->ftx)) ||
         pq_streams_tx_should_send_blocked(&c->stx_bidi) ||
         pq_streams_tx_should_send_blocked(&c->stx_uni);
}

/* DATA_BLOCKED, STREAM_DATA_BLOCKED, STREAMS_BLOCKED: once per limit, to tell the peer
 * its credit is what holds us (RFC 9000 §4.1, §4.6); not repeated when lost. */
static int tx_blocked(pq_conn *c, pq_tx_ctx *ctx) {
  bool data_waiting = false;
  if (ctx->space != PQ_PNS_APP || !ctx->cc_ok) return 0;
  for (size_t i = 0; i < c->nstreams; i++) {
    pq_stream *s = c->streams[i];
    data_waiting = data_waiting || (s->can_send && s->tx.write_off > s->tx.send_off);
    if (!stream_blocked(s)) continue;
    if (ROOM(ctx) < 1 + 8 + 8) return PQ_ERR_NOBUF;
    *ctx->p++ = PQ_FT_STREAM_DATA_BLOCKED;
    ctx->p = pq_varint_write(ctx->p, s->id);
    ctx->p = pq_varint_write(ctx->p, s->ftx.max);
    pq_flow_tx_on_blocked_sent(&s->ftx);
    eliciting(ctx);
  }
  if (data_waiting && pq_flow_tx_should_send_blocked(&c->ftx)) {
    if (ROOM(ctx) < 1 + 8) return PQ_ERR_NOBUF;
    *ctx->p++ = PQ_FT_DATA_BLOCKED;
    ctx->p = pq_varint_write(ctx->p, c->ftx.max);
    pq_flow_tx_on_blocked_sent(&c->ftx);
    eliciting(ctx);
  }
  for (int k = 0; k < 2; k++) {
    pq_streams_tx *st = k == 0 ? &c->stx_bidi : &c->stx_uni;
    if (!pq_streams_tx_should_send_blocked(st)) continue;
    if (ROOM(ctx) < 1 + 8) return PQ_ERR_NOBUF;
    *ctx->p++ = k == 0 ? PQ_FT_STREAMS_BLOCKED_BIDI : PQ_FT_STREAMS_BLOCKED_UNI;
    ctx->p = pq_varint_write(ctx->p, st->max);
    pq_streams_tx_on_blocked_sent(st);
    eliciting(ctx);
  }
  return 0;
}

static int tx_ping(pq_conn *c, pq_tx_ctx *ctx) {
  if (!ctx->probe || ctx->ack_eliciting) return 0;
  if (ROOM(ctx) < 1) return PQ_ERR_NOBUF;
  *ctx->p++ = PQ_FT_PING;
  eliciting(ctx);
  return 0;
}

/* ---- sent frames coming back ---- */

void pq_conn_rtx_acked(pq_conn *c, const pq_rtx *r) {
  pq_stream *s;
  switch (r->kind) {
  case PQ_RTX_CRYPTO:
    if (!c->spaces[r->level].discarded)
      pq_strm_tx_on_acked(&c->spaces[r->level].crypto_tx, r->off, r->len, false);
    break;
  case PQ_RTX_STREAM:
    if ((s = pq_conn_find_stream(c, r->id)) != NULL) {
      pq_strm_tx_on_acked(&s->tx, r->off, r->len, r->fin);
      pq_conn_stream_maybe_closed(c, s);
    }
    break;
  case PQ_RTX_RESET_STREAM:
    if ((s = pq_conn_find_stream(c, r->id)) != NULL) {
      s->reset_acked = true;
      pq_conn_stream_maybe_closed(c, s);
    }
    break;
  case PQ_RTX_PLUGIN: pq_plugin_rtx(c, r, false); break;
  case PQ_RTX_PMTU_PROBE:
    pq_conn_pmtu_result(c, (size_t)r->len, true);
    break;
  default:
    break;
  }
}

void pq_conn_rtx_lost(pq_conn *c, const pq_rtx *r) {
  pq_stream *s = NULL;
  if (r->kind == PQ_RTX_STREAM || r->kind == PQ_RTX_MAX_STREAM_DATA ||
      r->kind == PQ_RTX_RESET_STREAM || r->kind == PQ_RTX_STOP_SENDING) {
    s = pq_conn_find_stream(c, r->id);
    if (!s) return;
  }
  switch (r->kind) {
  case PQ_RTX_CRYPTO:
    if (!c->spaces[r->level].discarded)
      pq_strm_tx_on_lost(&c->spaces[r->level].crypto_tx, r->off, r->len, false);
    break;
  case PQ_RTX_STREAM:
    if (!s->reset_sent && !s->reset_pending) pq_strm_tx_on_lost(&s->tx, r->off, r->len, r->fin);
    break;
  case PQ_RTX_HANDSHAKE_DONE: c->handshake_done_pending = true; break;
  case PQ_RTX_MAX_DATA: c->max_data_pending = true; break;
  case PQ_RTX_MAX_STREAMS_BIDI: c->max_streams_bidi_pending = true; break;
  case PQ_RTX_MAX_STREAMS_UNI: c->max_streams_uni_pending = true; break;
  case PQ_RTX_MAX_STREAM_DATA: s->max_stream_data_pending = true; break;
  case PQ_RTX_RESET_STREAM: s->reset_pending = true; break;
  case PQ_RTX_STOP_SENDING:
    if (!s->peer_reset && !pq_strm_rx_done(&s->rx)) s->stop_pending = true;
    break;
  case PQ_RTX_NEW_TOKEN: c->new_token_pending = true; break;
  case PQ_RTX_PMTU_PROBE: pq_conn_pmtu_result(c, (size_t)r->len, false); break;
  case PQ_RTX_PATH_CHALLENGE:
    if (c->path_validating) c->path_challenge_pending = true;
    break;
  case PQ_RTX_NEW_CID:
    for (size_t i = 0; i < c->nlocal; i++)
      if (c->local_cids[i].seq == r->id) c->local_cids[i].pending = true;
    break;
  case PQ_RTX_RETIRE_CID: {
    bool queued = false;
    for (size_t i = 0; i < c->nretire; i++) queued = queued || c->retire_queue[i] == r->id;
    if (!queued && c->nretire < sizeof(c->retire_queue) / sizeof(c->retire_queue[0]))
      c->retire_queue[c->nretire++] = r->id;
    break;
  }
  case PQ_RTX_PLUGIN: pq_plugin_rtx(c, r, true); break;
  default: break;
  }
}

/* ---- the table ---- */

#define STREAM_ROW {rx_stream, tx_stream}

const pq_conn_frame_def pq_conn_frame_table[PQ_FT_TABLE_SIZE] = {
    [PQ_FT_PADDING] = {rx_ignore, NULL},
    [PQ_FT_PING] = {rx_ignore, tx_ping},
    [PQ_FT_ACK] = {rx_ack, tx_ack},
    [PQ_FT_ACK_ECN] = {rx_ack, NULL},
    [PQ_FT_RESET_STREAM] = {rx_reset_stream, tx_reset_stream},
    [PQ_FT_STOP_SENDING] = {rx_stop_sending, tx_stop_sending},
    [PQ_FT_CRYPTO] = {rx_crypto, tx_crypto},
    [PQ_FT_NEW_TOKEN] = {rx_new_token, tx_new_token},
    [0x08] = STREAM_ROW, [0x09] = {rx_stream, NULL}, [0x0a] = {rx_stream, NULL},
    [0x0b] = {rx_stream, NULL}, [0x0c] = {rx_stream, NULL}, [0x0d] = {rx_stream, NULL},
    [0x0e] = {rx_stream, NULL}, [0x0f] = {rx_stream, NULL},
    [PQ_FT_MAX_DATA] = {rx_max_data, tx_max_data},
    [PQ_FT_MAX_STREAM_DATA] = {rx_max_stream_data, tx_max_stream_data},
    [PQ_FT_MAX_STREAMS_BIDI] = {rx_max_streams, tx_max_streams},
    [PQ_FT_MAX_STREAMS_UNI] = {rx_max_streams, NULL},
    [PQ_FT_DATA_BLOCKED] = {rx_ignore, tx_blocked}, /* writes all three *_BLOCKED */
    [PQ_FT_STREAM_DATA_BLOCKED] = {rx_stream_data_blocked, NULL},
    [PQ_FT_STREAMS_BLOCKED_BIDI] = {rx_ignore, NULL},
    [PQ_FT_STREAMS_BLOCKED_UNI] = {rx_ignore, NULL},
    [PQ_FT_NEW_CONNECTION_ID] = {rx_new_cid, tx_new_cid},
    [PQ_FT_RETIRE_CONNECTION_ID] = {rx_retire_cid, tx_retire_cid},
    [PQ_FT_PATH_CHALLENGE] = {rx_path_challenge, tx_path_challenge},
    [PQ_FT_PATH_RESPONSE] = {rx_path_response, tx_path_response},
    [PQ_FT_CONNECTION_CLOSE] = {rx_close, NULL},      /* sent by the closing path */
    [PQ_FT_CONNECTION_CLOSE_APP] = {rx_close, NULL},
    [PQ_FT_HANDSHAKE_DONE] = {rx_handshake_done, tx_handshake_done},
    [PQ_FT_DATAGRAM] = {rx_datagram, NULL},
    [PQ_FT_DATAGRAM_LEN] = {rx_datagram, NULL},
};

/* ACK first (it must not be crowded out), control frames, then data, PING last (only
 * a probe with nothing else ack-eliciting). */
const uint8_t pq_conn_send_order[] = {
    PQ_FT_ACK,          PQ_FT_PATH_RESPONSE, PQ_FT_PATH_CHALLENGE, PQ_FT_HANDSHAKE_DONE,
    PQ_FT_CRYPTO,       PQ_FT_MAX_DATA,
    PQ_FT_MAX_STREAMS_BIDI, PQ_FT_MAX_STREAM_DATA, PQ_FT_RESET_STREAM, PQ_FT_STOP_SENDING,
    PQ_FT_NEW_CONNECTION_ID, PQ_FT_RETIRE_CONNECTION_ID, PQ_FT_NEW_TOKEN,
    PQ_FT_STREAM,       PQ_FT_DATA_BLOCKED, PQ_FT_PING,
};
const size_t pq_conn_send_order_len = sizeof(pq_conn_send_order);
