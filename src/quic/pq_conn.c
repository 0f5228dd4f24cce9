/*
 * pq_conn.c: the QUIC connection engine: lifecycle, the receive path (datagram ->
 * packets -> frames through the frame table), the send path (spaces -> packets ->
 * one datagram, coalesced), key installation and discard, timers, close.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pq_conn.h"
#include "pq_plugin.h"
#include "pq_qlog.h"
#include "pq_session.h"

/* ---- settings ---- */

void pq_settings_default(pq_settings *s) {
  memset(s, 0, sizeof(*s));
  s->initial_max_data = 16 * 1024 * 1024;
  s->initial_max_stream_data_bidi_local = 1024 * 1024;
  s->initial_max_stream_data_bidi_remote = 1024 * 1024;
  s->initial_max_stream_data_uni = 1024 * 1024;
  s->initial_max_streams_bidi = 100;
  s->initial_max_streams_uni = 100;
  s->max_idle_timeout = UINT64_C(30000000000);
  s->max_ack_delay = 25 * PQ_MS;
  s->ack_delay_exponent = 3;
  s->max_udp_payload_size = 1452;
  s->active_connection_id_limit = 4;
  s->alpn = "h3";
  s->cc_algorithm = "newreno";
  s->pacing = true;
  s->retry = false;
}

/* ---- small helpers ---- */

static pq_pnspace level_space(pq_level l) { return (pq_pnspace)l; }

static uint64_t three_pto(const pq_conn *c) {
  return 3 * (pq_rtt_pto_base(&c->rec.rtt) + c->rec.peer_max_ack_delay);
}

static bool space_usable(const pq_conn *c, pq_pnspace s) {
  return !c->spaces[s].discarded && c->spaces[s].has_tx;
}

static void report_close(pq_conn *c) {
  if (c->close_reported) return;
  c->close_reported = true;
  if (c->cb.connection_closed) c->cb.connection_closed(c, &c->close_info, c->user);
}

/* Frees one space's keys and buffers and tells recovery (RFC 9001 §4.9). */
static void discard_space(pq_conn *c, pq_pnspace s, pq_tstamp now) {
  pq_space *sp = &c->spaces[s];
  if (sp->discarded) return;
  sp->discarded = true;
  pq_recovery_discard_space(&c->rec, s, now);
  pq_keys_free(&sp->tx);
  pq_keys_free(&sp->rx);
  sp->has_tx = sp->has_rx = false;
  pq_strm_tx_free(&sp->crypto_tx);
  pq_strm_rx_free(&sp->crypto_rx);
  pq_acktr_free(&sp->ack);
  pq_acktr_on_ack_sent(&sp->ack); /* nothing owed any more */
}

/* ---- 0-RTT helpers ---- */

static void drop_early_keys(pq_conn *c) {
  if (!c->has_early) return;
  pq_keys_free(&c->early);
  c->has_early = false;
}

/* Client: 0-RTT packets may be sent (keys, and no 1-RTT keys yet). */
static bool early_sendable(const pq_conn *c) {
  return !c->is_server && c->has_early && !c->spaces[PQ_PNS_APP].has_tx &&
         !c->spaces[PQ_PNS_APP].discarded;
}

/* Sets the send limit of every stream we may send on from the peer's parameters in
 * c->peer_tp: raised only, or set exactly (|exact|: 0-RTT was rejected and the new
 * parameters replace the remembered ones). */
static void set_stream_limits(pq_conn *c, bool exact) {
  for (size_t i = 0; i < c->nstreams; i++) {
    pq_stream *s = c->streams[i];
    bool local = pq_stream_is_local(s->id, c->is_server);
    uint64_t max;
    if (!s->can_send) continue;
    if (pq_stream_is_uni(s->id)) max = c->peer_tp.initial_max_stream_data_uni;
    else if (local) max = c->peer_tp.initial_max_stream_data_bidi_remote;
    else max = c->peer_tp.initial_max_stream_data_bidi_local;
    if (exact) s->ftx.max = max;
    else pq_flow_tx_on_max(&s->ftx, max);
  }
}

/* Client, at creation: parses the session blob and hands its ticket to TLS. Any
 * failure leaves a full handshake (PQ_EARLY_BAD_SESSION). */
static void load_session(pq_conn *c, const uint8_t *blob, size_t len) {
  pq_session sess;
  c->early_status = PQ_EARLY_BAD_SESSION;
  if (pq_session_decode(&sess, blob, len, NULL)) return;
  if (!c->hs->set_session || c->hs->set_session(c->hs_state, sess.ticket, sess.ticket_len))
    return;
  c->remembered_tp = sess.tp;
  c->early_status = PQ_EARLY_OFFERED; /* confirmed by start_0rtt */
}

/* Client, after the ClientHello: with 0-RTT keys, the remembered parameters set the
 * limits for streams and data until the handshake (RFC 9000 §7.4.1). */
static void start_0rtt(pq_conn *c) {
  const pq_tp *r = &c->remembered_tp;
  if (!c->has_early) {
    c->early_status = PQ_EARLY_NOT_OFFERED; /* resumption only */
    return;
  }
  c->peer_tp.active_connection_id_limit = r->active_connection_id_limit;
  c->peer_tp.initial_max_data = r->initial_max_data;
  c->peer_tp.initial_max_stream_data_bidi_local = r->initial_max_stream_data_bidi_local;
  c->peer_tp.initial_max_stream_data_bidi_remote = r->initial_max_stream_data_bidi_remote;
  c->peer_tp.initial_max_stream_data_uni = r->initial_max_stream_data_uni;
  c->peer_tp.initial_max_streams_bidi = r->initial_max_streams_bidi;
  c->peer_tp.initial_max_streams_uni = r->initial_max_streams_uni;
  c->peer_tp.max_datagram_frame_size = r->max_datagram_frame_size;
  pq_flow_tx_on_max(&c->ftx, r->initial_max_data);
  pq_streams_tx_on_max(&c->stx_bidi, r->initial_max_streams_bidi);
  pq_streams_tx_on_max(&c->stx_uni, r->initial_max_streams_uni);
  c->use_remembered = true;
}

/* Marks everything sent in application packets so far (0-RTT ones) for sending again
 * and forgets those packets without a congestion signal: 0-RTT was rejected, or a
 * Retry made the server drop them (RFC 9001 §4.6.2, RFC 9002 §6.3). */
static void requeue_0rtt(pq_conn *c, pq_tstamp now) {
  pq_sent_list *l = &c->rec.spaces[PQ_PNS_APP].sent;
  for (size_t i = 0; i < l->n; i++) {
    pq_pkt_rtx *r = l->v[i].frames;
    if (!r) continue;
    for (size_t k = 0; k < r->n; k++) pq_conn_rtx_lost(c, &r->items[k]);
  }
  pq_recovery_forget_space(&c->rec, PQ_PNS_APP, now);
}

/* Client, after the datagram that completed a handshake whose 0-RTT was rejected:
 * the new parameters replace the remembered ones exactly and the 0-RTT data goes out
 * again in 1-RTT. Returns 0 or an error (we already used more than the server now
 * allows: cannot be undone). */
static int finish_0rtt(pq_conn *c, pq_tstamp now) {
  bool over;
  if (c->early_status != PQ_EARLY_REJECTED || c->early_done) return 0;
  c->early_done = true;
  requeue_0rtt(c, now);
  c->ftx.max = c->peer_tp.initial_max_data;
  c->stx_bidi.max = c->peer_tp.initial_max_streams_bidi;
  c->stx_uni.max = c->peer_tp.initial_max_streams_uni;
  set_stream_limits(c, true);
  over = c->ftx.sent > c->ftx.max || c->stx_bidi.opened > c->stx_bidi.max ||
         c->stx_uni.opened > c->stx_uni.max;
  for (size_t i = 0; i < c->nstreams && !over; i++)
    over = c->streams[i]->can_send && c->streams[i]->ftx.sent > c->streams[i]->ftx.max;
  return over ? pq_conn_fail(c, PQ_ERR_TRANSPORT(PQ_TE_INTERNAL_ERROR), 0) : 0;
}

/* ---- recovery callbacks: a sent packet comes back ---- */

static void rec_acked(void *user, pq_pnspace s, pq_sent_pkt *p, pq_tstamp now) {
  pq_conn *c = user;
  pq_pkt_rtx *r = p->frames;
  if (c->plug) pq_plugin_packet_acked(c, s, p, now);
  if (!r) return;
  for (size_t i = 0; i < r->n; i++) pq_conn_rtx_acked(c, &r->items[i]);
  free(r);
  p->frames = NULL;
}

static void rec_lost(void *user, pq_pnspace s, pq_sent_pkt *p, pq_tstamp now) {
  pq_conn *c = user;
  pq_pkt_rtx *r = p->frames;
  c->stats.packets_lost++;
  if (c->qlog) pq_qlog_lost(c, s, p->pn, now);
  if (c->plug) pq_plugin_packet_lost(c, s, p, now);
  if (!r) return;
  for (size_t i = 0; i < r->n; i++) pq_conn_rtx_lost(c, &r->items[i]);
  free(r);
  p->frames = NULL;
}

static void rec_discarded(void *user, pq_pnspace s, pq_sent_pkt *p) {
  free(p->frames);
  p->frames = NULL;
}

static const pq_recovery_callbacks rec_cbs = {rec_acked, rec_lost, rec_discarded};

void pq_conn_requeue_space(pq_conn *c, pq_pnspace space) {
  pq_sent_list *l = &c->rec.spaces[space].sent;
  for (size_t i = 0; i < l->n; i++) {
    pq_pkt_rtx *r = l->v[i].frames;
    if (!r) continue;
    for (size_t k = 0; k < r->n; k++)
      if (r->items[k].kind == PQ_RTX_CRYPTO) pq_conn_rtx_lost(c, &r->items[k]);
  }
}

/* ---- the handshake driver's host callbacks ---- */

static int hs_write_crypto(void *conn, pq_level level, const uint8_t *data, size_t len) {
  pq_conn *c = conn;
  pq_space *sp;
  ssize_t n;
  if ((unsigned)level >= PQ_LEVEL_COUNT) return PQ_ERR_TLS;
  sp = &c->spaces[level_space(level)];
  if (sp->discarded) return PQ_ERR_TLS;
  n = pq_strm_tx_write(&sp->crypto_tx, data, len, false);
  if (n < 0) return (int)n;
  return (size_t)n == len ? 0 : PQ_ERR_TRANSPORT(PQ_TE_CRYPTO_BUFFER_EXCEEDED);
}

static int hs_set_secret(void *conn, pq_level level, bool tx, pq_aead_alg alg,
                         const uint8_t *secret, size_t len) {
  pq_conn *c = conn;
  pq_space *sp;
  pq_keys *k;
  int rv;
  if ((unsigned)level >= PQ_LEVEL_COUNT) return PQ_ERR_TLS;
  sp = &c->spaces[level_space(level)];
  if (sp->discarded) return PQ_ERR_TLS;
  k = tx ? &sp->tx : &sp->rx;
  if (tx ? sp->has_tx : sp->has_rx) pq_keys_free(k);
  rv = pq_keys_init(k, alg, secret, len);
  if (rv) return rv;
  if (tx) sp->has_tx = true;
  else sp->has_rx = true;
  if (level == PQ_LEVEL_HANDSHAKE && tx) c->rec.has_handshake_keys = true;
  /* A client sends no more 0-RTT once it can send 1-RTT (RFC 9001 §4.9.3). */
  if (level == PQ_LEVEL_APP && tx && !c->is_server) drop_early_keys(c);
  return 0;
}

/* The 0-RTT secret: the client's to send, the server's to receive. */
static int hs_set_early_secret(void *conn, bool tx, pq_aead_alg alg, const uint8_t *secret,
                               size_t len) {
  pq_conn *c = conn;
  int rv;
  if (tx == c->is_server) return 0; /* the other direction has no use */
  if (!c->is_server && c->spaces[PQ_PNS_APP].has_tx) return 0; /* too late */
  drop_early_keys(c);
  if ((rv = pq_keys_init(&c->early, alg, secret, len))) return rv;
  c->has_early = true;
  return 0;
}

/* Client: a session ticket arrived; serialize it with the server's parameters that
 * bound 0-RTT and hand it to the application. */
static int hs_session_ticket(void *conn, const uint8_t *data, size_t len) {
  pq_conn *c = conn;
  uint8_t *blob;
  ssize_t n;
  if (c->is_server || !c->cb.session_ticket || !c->has_peer_tp) return 0;
  if (!(blob = malloc(PQ_SESSION_MAX))) return 0; /* no ticket is not an error */
  n = pq_session_encode(data, len, &c->peer_tp, blob, PQ_SESSION_MAX);
  if (n > 0) c->cb.session_ticket(c, blob, (size_t)n, c->user);
  free(blob);
  return 0;
}

/* Applies the peer's transport parameters (RFC 9000 §7.4, §18.2). */
static int hs_peer_params(void *conn, const uint8_t *data, size_t len) {
  pq_conn *c = conn;
  pq_tp *tp = &c->peer_tp;
  int rv = pq_tp_decode(tp, !c->is_server, data, len, c->tp_ext);
  if (rv) return rv;
  /* The CIDs in the handshake must match the ones in the packets (§7.3). */
  if (tp->initial_scid.len != c->dcid_len ||
      memcmp(tp->initial_scid.data, c->dcid, c->dcid_len) != 0)
    return PQ_ERR_TRANSPORT_PARAMETER;
  if (!c->is_server && (tp->original_dcid.len != c->odcid_len ||
                        memcmp(tp->original_dcid.data, c->odcid, c->odcid_len) != 0))
    return PQ_ERR_TRANSPORT_PARAMETER;
  /* After a Retry the server must name its SCID; without one it must not (§7.3). */
  if (!c->is_server &&
      (c->retry_received != tp->has_retry_scid ||
       (c->retry_received && (tp->retry_scid.len != c->retry_scid_len ||
                              memcmp(tp->retry_scid.data, c->retry_scid, c->retry_scid_len)))))
    return PQ_ERR_TRANSPORT_PARAMETER;
  c->has_peer_tp = true;
  if (tp->has_stateless_reset_token) {
    memcpy(c->peer_cids[0].token, tp->stateless_reset_token, PQ_RESET_TOKEN_LEN);
    c->peer_cids[0].has_token = true;
  }
  pq_flow_tx_on_max(&c->ftx, tp->initial_max_data);
  pq_streams_tx_on_max(&c->stx_bidi, tp->initial_max_streams_bidi);
  pq_streams_tx_on_max(&c->stx_uni, tp->initial_max_streams_uni);
  set_stream_limits(c, false); /* streams opened in 0-RTT */
  c->rec.peer_max_ack_delay = tp->max_ack_delay * PQ_MS;
  if (tp->max_idle_timeout) {
    uint64_t peer = tp->max_idle_timeout * PQ_MS;
    if (c->idle_timeout == 0 || peer < c->idle_timeout) c->idle_timeout = peer;
  }
  if (c->qlog) pq_qlog_peer_params(c);
  return 0;
}

/* Client, handshake complete after offering 0-RTT: accepted, the new parameters must
 * not be below the remembered ones (RFC 9000 §7.4.1); rejected, the 0-RTT data goes
 * again in 1-RTT (finish_0rtt, at the end of the datagram being read). */
static int early_outcome(pq_conn *c) {
  bool accepted = c->hs->early_accepted && c->hs->early_accepted(c->hs_state) == 1;
  c->use_remembered = false;
  if (!accepted) {
    c->early_status = PQ_EARLY_REJECTED;
    return 0;
  }
  c->early_status = PQ_EARLY_ACCEPTED;
  return pq_tp_check_0rtt(&c->remembered_tp, &c->peer_tp);
}

static int hs_complete(void *conn) {
  pq_conn *c = conn;
  int rv;
  if (!c->is_server && c->early_status == PQ_EARLY_OFFERED && (rv = early_outcome(c)))
    return rv;
  if (c->is_server && c->hs->early_accepted && c->hs->early_accepted(c->hs_state) == 1)
    c->early_status = PQ_EARLY_ACCEPTED;
  c->hs_complete = true;
  if (c->state == PQ_CS_HANDSHAKE) c->state = PQ_CS_ESTABLISHED;
  if (c->is_server) {
    /* The server's handshake is confirmed at completion (RFC 9001 §4.1.2). */
    c->hs_confirmed = true;
    c->rec.handshake_confirmed = true;
    c->handshake_done_pending = true;
    c->new_token_pending = c->token_key != NULL;
  }
  if (c->cb.handshake_done) c->cb.handshake_done(c, c->user);
  return pq_conn_issue_cids(c);
}

static const pq_hs_host hs_host = {hs_write_crypto,   hs_set_secret,
                                   hs_peer_params,    hs_complete,
                                   hs_set_early_secret, hs_session_ticket};

/* ---- creation ---- */

static int random_cid(uint8_t *cid, size_t len) { return pq_random(cid, len); }

static ssize_t encode_local_params(pq_conn *c, uint8_t *buf, size_t len) {
  pq_tp tp;
  const pq_settings *s = &c->settings;
  pq_tp_default(&tp);
  tp.initial_max_data = s->initial_max_data;
  tp.initial_max_stream_data_bidi_local = s->initial_max_stream_data_bidi_local;
  tp.initial_max_stream_data_bidi_remote = s->initial_max_stream_data_bidi_remote;
  tp.initial_max_stream_data_uni = s->initial_max_stream_data_uni;
  tp.initial_max_streams_bidi = s->initial_max_streams_bidi;
  tp.initial_max_streams_uni = s->initial_max_streams_uni;
  tp.max_idle_timeout = s->max_idle_timeout / PQ_MS;
  tp.max_ack_delay = s->max_ack_delay / PQ_MS;
  tp.ack_delay_exponent = s->ack_delay_exponent;
  tp.max_udp_payload_size = s->max_udp_payload_size;
  tp.active_connection_id_limit = s->active_connection_id_limit;
  tp.has_initial_scid = true;
  tp.initial_scid.len = (uint8_t)c->scid_len;
  memcpy(tp.initial_scid.data, c->scid, c->scid_len);
  if (c->is_server) {
    tp.has_original_dcid = true;
    tp.original_dcid.len = (uint8_t)c->tp_odcid_len;
    memcpy(tp.original_dcid.data, c->tp_odcid, c->tp_odcid_len);
    if (c->retry_scid_len) {
      tp.has_retry_scid = true;
      tp.retry_scid.len = (uint8_t)c->retry_scid_len;
      memcpy(tp.retry_scid.data, c->retry_scid, c->retry_scid_len);
    }
    tp.has_stateless_reset_token = true;
    memcpy(tp.stateless_reset_token, c->reset_token, PQ_RESET_TOKEN_LEN);
  }
  return pq_tp_encode(&tp, c->is_server, buf, len, c->tp_ext);
}

static bool settings_valid(const pq_settings *s) {
  return s->ack_delay_exponent <= 20 && s->max_ack_delay / PQ_MS < 16384 &&
         s->max_udp_payload_size >= 1200 && s->active_connection_id_limit >= 2 &&
         s->initial_max_streams_bidi <= PQ_MAX_STREAMS_LIMIT &&
         s->initial_max_streams_uni <= PQ_MAX_STREAMS_LIMIT;
}

/* Everything both roles share, once the CIDs are known. */
static int conn_init(pq_conn *c, const pq_settings *settings, const pq_callbacks *cbs,
                     const pq_path *path, const pq_hs_ops *hs, const pq_hs_config *hs_cfg,
                     void *user, pq_tstamp now) {
  const pq_cc_algo *algo;
  uint8_t params[512];
  ssize_t plen;
  pq_hs_config cfg;
  int rv;
  c->settings = *settings;
  c->settings.alpn = c->settings.cc_algorithm = NULL; /* borrowed: not kept */
  c->settings.keylog_file = c->settings.qlog_dir = NULL;
  c->settings.session = NULL; /* borrowed during creation only */
  c->settings.session_len = 0;
  c->early_discard_at = PQ_TSTAMP_NEVER;
  if (cbs) c->cb = *cbs;
  c->user = user;
  if (path) c->path = *path;
  c->state = PQ_CS_HANDSHAKE;
  if ((rv = pq_qlog_new(c, now))) return rv;
  pq_timers_init(&c->timers);
  /* Sequence 0 on both sides: the CIDs of the handshake. */
  c->local_cids[0].seq = 0;
  c->local_cids[0].len = (uint8_t)c->scid_len;
  memcpy(c->local_cids[0].id, c->scid, c->scid_len);
  c->nlocal = 1;
  c->next_local_seq = 1;
  c->peer_cids[0].seq = 0;
  c->peer_cids[0].len = (uint8_t)c->dcid_len;
  memcpy(c->peer_cids[0].id, c->dcid, c->dcid_len);
  c->npeer = 1;
  for (int s = 0; s < PQ_PNS_COUNT; s++) {
    pq_space *sp = &c->spaces[s];
    pq_acktr_init(&sp->ack, PQ_CONN_ACK_RANGES, c->settings.max_ack_delay);
    /* Initial and Handshake packets are acknowledged at once, 1-RTT ones every
     * second ack-eliciting packet (or on reordering, or after max_ack_delay). */
    if (s != PQ_PNS_APP) sp->ack.threshold = 1;
    pq_strm_tx_init(&sp->crypto_tx, PQ_CONN_CRYPTO_BUFFER);
    pq_strm_rx_init(&sp->crypto_rx, PQ_CONN_CRYPTO_BUFFER);
  }
  algo = pq_cc_find(settings->cc_algorithm ? settings->cc_algorithm : "newreno");
  if (!algo) return PQ_ERR_INVALID_ARG;
  if ((rv = pq_cc_init(&c->cc, algo, PQ_CONN_MDS))) return rv;
  if ((rv = pq_recovery_init(&c->rec, &c->cc, &rec_cbs, c, c->is_server, 0))) return rv;
  pq_pacer_init(&c->pacer, PQ_CONN_MDS);
  c->mds = PQ_CONN_MDS;
  c->addr_validated = !c->is_server;
  c->idle_timeout = settings->max_idle_timeout;
  pq_flow_rx_init(&c->frx, settings->initial_max_data, settings->initial_max_data);
  pq_flow_tx_init(&c->ftx, 0);
  pq_streams_rx_init(&c->srx_bidi, settings->initial_max_streams_bidi);
  pq_streams_rx_init(&c->srx_uni, settings->initial_max_streams_uni);
  pq_streams_tx_init(&c->stx_bidi, 0);
  pq_streams_tx_init(&c->stx_uni, 0);
  pq_timers_set(&c->timers, PQ_TIMER_IDLE,
                c->idle_timeout ? now + c->idle_timeout : PQ_TSTAMP_NEVER);
  if ((rv = pq_keys_init_initial(&c->spaces[0].tx, &c->spaces[0].rx, PQ_VERSION_1, c->odcid,
                                 c->odcid_len, c->is_server)))
    return rv;
  c->spaces[0].has_tx = c->spaces[0].has_rx = true;
  if ((rv = pq_plugin_conn_init(c, now))) return rv; /* before our transport parameters */
  plen = encode_local_params(c, params, sizeof(params));
  if (plen < 0) return (int)plen;
  if (!hs) return PQ_ERR_TLS; /* no TLS driver yet: tests pass pq_hs_null */
  memset(&cfg, 0, sizeof(cfg));
  if (hs_cfg) cfg = *hs_cfg;
  cfg.is_server = c->is_server;
  cfg.local_params = params;
  cfg.local_params_len = (size_t)plen;
  c->hs = hs;
  if ((rv = hs->create(&c->hs_state, &cfg, &hs_host, c))) return rv;
  return 0;
}

int pq_conn_client_new_ex(pq_conn **out, const pq_settings *settings,
                          const pq_callbacks *callbacks, const pq_path *path,
                          const pq_hs_ops *hs, const pq_hs_config *hs_cfg, void *user,
                          pq_tstamp now) {
  pq_conn *c;
  int rv;
  if (!out || !settings || !settings_valid(settings)) return PQ_ERR_INVALID_ARG;
  *out = NULL;
  c = calloc(1, sizeof(*c));
  if (!c) return PQ_ERR_NOMEM;
  c->is_server = false;
  c->scid_len = c->dcid_len = c->odcid_len = PQ_CONN_CID_LEN;
  if (random_cid(c->scid, c->scid_len) || random_cid(c->dcid, c->dcid_len)) {
    free(c);
    return PQ_ERR_TLS;
  }
  memcpy(c->odcid, c->dcid, c->dcid_len);
  rv = conn_init(c, settings, callbacks, path, hs, hs_cfg, user, now);
  if (rv == 0 && settings->session) load_session(c, settings->session, settings->session_len);
  if (rv == 0) rv = hs->start(c->hs_state);
  if (rv == 0 && c->early_status == PQ_EARLY_OFFERED) start_0rtt(c);
  if (rv) {
    pq_conn_del(c);
    return rv < PQ_ERR_FATAL || rv == PQ_ERR_INVALID_ARG ? rv : PQ_ERR_TLS;
  }
  *out = c;
  return 0;
}

int pq_conn_client_new(pq_conn **out, const pq_settings *settings,
                       const pq_callbacks *callbacks, const pq_path *path,
                       const char *server_name, const char *ca_file, bool insecure,
                       void *user, pq_tstamp now) {
  pq_hs_config cfg;
  if (!settings) return PQ_ERR_INVALID_ARG;
  memset(&cfg, 0, sizeof(cfg));
  cfg.server_name = server_name;
  cfg.alpn = settings->alpn;
  cfg.ca_file = ca_file;
  cfg.insecure = insecure;
  cfg.ciphers = settings->ciphers;
  cfg.keylog_file = settings->keylog_file;
  cfg.resumption = callbacks && callbacks->session_ticket;
  cfg.early_data = settings->session != NULL;
  return pq_conn_client_new_ex(out, settings, callbacks, path, &pq_hs_tls, &cfg, user, now);
}

int pq_conn_server_new_ex(pq_conn **out, const pq_settings *settings,
                          const pq_callbacks *callbacks, const pq_path *path,
                          const pq_hs_ops *hs, const pq_hs_config *hs_cfg,
                          const pq_pkt_hdr *h, const uint8_t reset_key[32],
                          const uint8_t *retry_odcid, size_t retry_odcid_len, void *user,
                          pq_tstamp now) {
  pq_conn *c;
  int rv;
  if (!out || !settings || !settings_valid(settings) || !h || h->type != PQ_PKT_INITIAL ||
      h->dcid_len < 8 || h->dcid_len > PQ_MAX_CID_LEN || h->scid_len > PQ_MAX_CID_LEN)
    return PQ_ERR_INVALID_ARG;
  *out = NULL;
  c = calloc(1, sizeof(*c));
  if (!c) return PQ_ERR_NOMEM;
  c->is_server = true;
  c->scid_len = PQ_CONN_CID_LEN;
  c->odcid_len = h->dcid_len;
  memcpy(c->odcid, h->dcid, h->dcid_len);
  if (retry_odcid) {
    if (retry_odcid_len > PQ_MAX_CID_LEN) {
      free(c);
      return PQ_ERR_INVALID_ARG;
    }
    c->tp_odcid_len = retry_odcid_len;
    memcpy(c->tp_odcid, retry_odcid, retry_odcid_len);
    c->retry_scid_len = h->dcid_len; /* the CID our Retry gave, now its DCID */
    memcpy(c->retry_scid, h->dcid, h->dcid_len);
  } else {
    c->tp_odcid_len = h->dcid_len;
    memcpy(c->tp_odcid, h->dcid, h->dcid_len);
  }
  c->dcid_len = h->scid_len;
  memcpy(c->dcid, h->scid, h->scid_len);
  if (random_cid(c->scid, c->scid_len)) {
    free(c);
    return PQ_ERR_TLS;
  }
  if (reset_key) {
    memcpy(c->reset_key, reset_key, 32);
    c->has_reset_key = true;
    pq_reset_token(reset_key, c->scid, c->scid_len, c->reset_token);
  }
  else if (pq_random(c->reset_token, PQ_RESET_TOKEN_LEN)) {
    free(c);
    return PQ_ERR_TLS;
  }
  rv = conn_init(c, settings, callbacks, path, hs, hs_cfg, user, now);
  if (rv) {
    pq_conn_del(c);
    return rv;
  }
  if (retry_odcid) c->addr_validated = true; /* the token proved the address */
  *out = c;
  return 0;
}


void pq_conn_del(pq_conn *c) {
  if (!c) return;
  if (c->hs && c->hs_state) c->hs->destroy(c->hs_state);
  pq_plugin_conn_free(c);
  pq_qlog_del(c->qlog);
  if (c->rec.cc) pq_recovery_free(&c->rec);
  pq_cc_free(&c->cc);
  for (int s = 0; s < PQ_PNS_COUNT; s++) {
    pq_space *sp = &c->spaces[s];
    pq_keys_free(&sp->tx);
    pq_keys_free(&sp->rx);
    pq_strm_tx_free(&sp->crypto_tx);
    pq_strm_rx_free(&sp->crypto_rx);
    pq_acktr_free(&sp->ack);
  }
  for (size_t i = 0; i < c->nstreams; i++) pq_stream_free(c->streams[i]);
  free(c->streams);
  if (c->has_rx_prev) pq_keys_free(&c->rx_prev);
  drop_early_keys(c);
  free(c->rxbuf);
  free(c);
}

int pq_conn_set_token(pq_conn *c, const uint8_t *token, size_t len) {
  if (!c || c->is_server || !token || len == 0 || len > sizeof(c->token) ||
      c->spaces[PQ_PNS_INITIAL].next_pn > 0)
    return PQ_ERR_INVALID_ARG;
  memcpy(c->token, token, len);
  c->token_len = len;
  return 0;
}

bool pq_conn_owns_cid(const pq_conn *c, const uint8_t *dcid, size_t len) {
  if (len == c->scid_len && memcmp(dcid, c->scid, len) == 0) return true;
  for (size_t i = 0; i < c->nlocal; i++)
    if (c->local_cids[i].len == len && memcmp(c->local_cids[i].id, dcid, len) == 0)
      return true;
  /* The client's Initial retransmissions still carry its first DCID. */
  return c->is_server && len == c->odcid_len && memcmp(dcid, c->odcid, len) == 0;
}

static void update_timers(pq_conn *c, pq_tstamp now);

/* ---- close ---- */

static void enter_closing(pq_conn *c, pq_tstamp now) {
  c->state = PQ_CS_CLOSING;
  c->close_pending = true;
  pq_timers_set(&c->timers, PQ_TIMER_DRAIN, now + three_pto(c));
  /* Clears the loss, ACK, pacing and idle timers: left in the past they would make
   * pq_conn_expiry say "now" until draining ends (a busy loop for the caller). */
  update_timers(c, now);
  report_close(c);
}

int pq_conn_fail(pq_conn *c, int rv, uint64_t frame_type) {
  if (c->state >= PQ_CS_CLOSING) return rv;
  c->close_app = false;
  c->close_frame_type = frame_type;
  c->close_reason[0] = 0;
  if (pq_err_is_transport(rv)) c->close_error = pq_err_transport_code(rv);
  else if (rv == PQ_ERR_TLS) {
    /* CRYPTO_ERROR carries the TLS alert (RFC 9001 §4.8); internal_error if none. */
    uint8_t alert = c->hs && c->hs->alert && c->hs_state ? c->hs->alert(c->hs_state) : 0;
    const char *why = c->hs && c->hs->reason && c->hs_state ? c->hs->reason(c->hs_state) : NULL;
    c->close_error = PQ_TE_CRYPTO_ERROR_BASE + (alert ? alert : 80);
    /* The driver's words for people: ours in close_info, the peer's in the frame. */
    snprintf(c->close_reason, sizeof(c->close_reason), "%s", why ? why : "");
  }
  else c->close_error = PQ_TE_INTERNAL_ERROR;
  c->close_info.by_peer = false;
  c->close_info.application = false;
  c->close_info.error_code = c->close_error;
  c->close_info.reason = c->close_reason;
  c->error = pq_err_is_transport(rv) ? PQ_ERR_PROTOCOL : rv;
  c->state = PQ_CS_CLOSING; /* timers set by the caller's time (read/expiry) */
  c->close_pending = true;
  return c->error;
}

int pq_conn_close(pq_conn *c, uint64_t app_error, const char *reason, pq_tstamp now) {
  if (!c) return PQ_ERR_INVALID_ARG;
  if (c->state >= PQ_CS_CLOSING) return PQ_ERR_CLOSED;
  c->close_app = true;
  c->close_error = app_error;
  c->close_frame_type = 0;
  snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason ? reason : "");
  c->close_info.by_peer = false;
  c->close_info.application = true;
  c->close_info.error_code = app_error;
  c->close_info.reason = c->close_reason;
  enter_closing(c, now);
  return 0;
}

void pq_conn_enter_draining(pq_conn *c, const pq_frame_close *f, bool app, pq_tstamp now) {
  size_t n;
  if (c->state >= PQ_CS_DRAINING) return;
  c->state = PQ_CS_DRAINING;
  n = f->reason_len < sizeof(c->close_reason) - 1 ? (size_t)f->reason_len
                                                  : sizeof(c->close_reason) - 1;
  memcpy(c->close_reason, f->reason, n);
  c->close_reason[n] = 0;
  c->close_info.by_peer = true;
  c->close_info.application = app;
  c->close_info.error_code = f->error_code;
  c->close_info.reason = c->close_reason;
  pq_timers_init(&c->timers);
  pq_timers_set(&c->timers, PQ_TIMER_DRAIN, now + three_pto(c));
  report_close(c);
}

void pq_conn_discard_space(pq_conn *c, pq_pnspace space, pq_tstamp now) {
  discard_space(c, space, now);
}

/* ---- receive path ---- */

static pq_pnspace pkt_space(pq_pkt_type t) {
  return t == PQ_PKT_INITIAL ? PQ_PNS_INITIAL
         : t == PQ_PKT_HANDSHAKE ? PQ_PNS_HANDSHAKE : PQ_PNS_APP;
}

static unsigned pkt_mask(pq_pkt_type t) {
  switch (t) {
  case PQ_PKT_INITIAL: return PQ_PKT_MASK_INITIAL;
  case PQ_PKT_HANDSHAKE: return PQ_PKT_MASK_HANDSHAKE;
  case PQ_PKT_0RTT: return PQ_PKT_MASK_0RTT;
  default: return PQ_PKT_MASK_1RTT;
  }
}

static int process_payload(pq_conn *c, pq_rx_ctx *ctx, const uint8_t *p, size_t len) {
  if (len == 0) return pq_conn_fail(c, PQ_ERR_PROTOCOL_VIOLATION, 0); /* §12.4 */
  while (len > 0) {
    pq_frame f;
    ssize_t n;
    int rv;
    if (c->plug && (n = pq_plugin_rx_frame(c, ctx, p, len)) != 0) { /* plugins' seam */
      if (n < 0) return (int)n;
      if (c->state >= PQ_CS_DRAINING) return 0;
      p += n;
      len -= (size_t)n;
      continue;
    }
    n = pq_frame_parse(&f, p, len);
    if (n < 0) return pq_conn_fail(c, (int)n, 0);
    if ((rv = pq_frame_check_packet(f.type, ctx->pkt_mask)))
      return pq_conn_fail(c, rv, f.type);
    if (pq_frame_flags(f.type) & PQ_FRAME_F_ACK_ELICITING) ctx->ack_eliciting = true;
    if (!(pq_frame_flags(f.type) & PQ_FRAME_F_PROBING) && f.type != PQ_FT_PADDING)
      ctx->non_probing = true;
    if ((rv = pq_conn_process_frame(c, &f, ctx))) return rv;
    if (c->state >= PQ_CS_DRAINING) return 0;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Moves both directions to the next 1-RTT keys; |rx_next| (already derived, owned
 * from here on) becomes the receive keys and the old ones are kept for reordered
 * packets until the KEY_DISCARD timer (RFC 9001 §6.1, §6.5). */
static int rotate_keys(pq_conn *c, pq_keys *rx_next, pq_tstamp now) {
  pq_space *sp = &c->spaces[PQ_PNS_APP];
  pq_keys tx_next;
  int rv = pq_keys_init_next(&tx_next, &sp->tx);
  if (rv) {
    pq_keys_free(rx_next);
    return rv;
  }
  if (c->has_rx_prev) pq_keys_free(&c->rx_prev);
  c->rx_prev = sp->rx;
  c->has_rx_prev = true;
  sp->rx = *rx_next;
  pq_keys_free(&sp->tx);
  sp->tx = tx_next;
  c->key_phase ^= 1;
  c->phase_tx_first_pn = sp->next_pn;
  c->key_updates++;
  pq_timers_set(&c->timers, PQ_TIMER_KEY_DISCARD, now + three_pto(c));
  return 0;
}

/* Opens a 1-RTT packet with the keys its Key Phase bit selects: the current ones, the
 * previous ones (a late packet), or the next ones (the peer updated). Returns 0, 1 to
 * drop it, or a fatal error. */
static int decrypt_1rtt(pq_conn *c, pq_space *sp, uint8_t *pkt, pq_pkt_hdr *h,
                        pq_tstamp now) {
  pq_keys next;
  int rv;
  if (h->key_phase == c->key_phase) {
    if (pq_pkt_decrypt(pkt, h, &sp->rx.aead)) return 1;
    if (c->awaiting_peer_phase) {
      c->awaiting_peer_phase = false; /* the peer follows our update */
      c->phase_start_pn = h->pn;
    }
    return 0;
  }
  if (c->has_rx_prev && (c->awaiting_peer_phase || h->pn < c->phase_start_pn))
    return pq_pkt_decrypt(pkt, h, &c->rx_prev.aead) ? 1 : 0;
  /* The peer starts a key update: only the handshake-confirmed may (§6.1). */
  if (!c->hs_confirmed) return 1;
  if ((rv = pq_keys_init_next(&next, &sp->rx))) return rv;
  if (pq_pkt_decrypt(pkt, h, &next.aead)) {
    pq_keys_free(&next);
    return 1;
  }
  if ((rv = rotate_keys(c, &next, now))) return rv;
  c->phase_start_pn = h->pn;
  return 0;
}

int pq_conn_update_key(pq_conn *c, pq_tstamp now) {
  pq_space *sp;
  pq_keys next;
  int rv;
  if (!c) return PQ_ERR_INVALID_ARG;
  if (c->state >= PQ_CS_CLOSING) return PQ_ERR_CLOSED;
  sp = &c->spaces[PQ_PNS_APP];
  /* Only once confirmed, and once a packet of the current phase was acknowledged
   * (RFC 9001 §6.1): otherwise the peer could not tell phases apart. */
  if (!c->hs_confirmed || !sp->has_tx || c->awaiting_peer_phase ||
      !c->rec.spaces[PQ_PNS_APP].has_largest_acked ||
      c->rec.spaces[PQ_PNS_APP].largest_acked < c->phase_tx_first_pn)
    return PQ_ERR_INVALID_ARG;
  if ((rv = pq_keys_init_next(&next, &sp->rx))) return rv;
  if ((rv = rotate_keys(c, &next, now))) return rv;
  c->awaiting_peer_phase = true;
  update_timers(c, now);
  return 0;
}

static void maybe_migrate(pq_conn *c, pq_tstamp now);

/* A client's Retry (RFC 9000 §17.2.5.2): at most one, before any other server packet,
 * with a valid integrity tag and a new SCID. The client then talks to that CID with
 * Initial keys derived from it, repeats the token, and sends its ClientHello again;
 * packet numbers go on, recovery state for Initial starts over (RFC 9002 §6.3). */
static int on_retry(pq_conn *c, const uint8_t *pkt, const pq_pkt_hdr *h, pq_tstamp now) {
  pq_space *sp = &c->spaces[PQ_PNS_INITIAL];
  int rv;
  if (c->is_server || c->retry_received || c->stats.packets_received > 0 || sp->discarded)
    return 0;
  if (h->token_len == 0 || h->token_len > sizeof(c->token) || h->scid_len > PQ_MAX_CID_LEN ||
      (h->scid_len == c->dcid_len && memcmp(h->scid, c->dcid, c->dcid_len) == 0))
    return 0;
  if (pq_pkt_verify_retry(pkt, h->len, c->odcid, c->odcid_len)) return 0;
  c->retry_received = true;
  memcpy(c->token, h->token, h->token_len);
  c->token_len = h->token_len;
  memcpy(c->retry_scid, h->scid, h->scid_len);
  c->retry_scid_len = h->scid_len;
  memcpy(c->dcid, h->scid, h->scid_len);
  c->dcid_len = h->scid_len;
  c->peer_cids[0].len = (uint8_t)h->scid_len;
  memcpy(c->peer_cids[0].id, h->scid, h->scid_len);
  pq_conn_requeue_space(c, PQ_PNS_INITIAL);
  pq_recovery_forget_space(&c->rec, PQ_PNS_INITIAL, now);
  requeue_0rtt(c, now); /* 0-RTT goes again, to the new CID (RFC 9000 §17.2.5.3) */
  pq_keys_free(&sp->tx);
  pq_keys_free(&sp->rx);
  rv = pq_keys_init_initial(&sp->tx, &sp->rx, PQ_VERSION_1, c->dcid, c->dcid_len, 0);
  if (rv) return pq_conn_fail(c, rv, 0);
  return 0;
}

/* A client's Version Negotiation (RFC 9000 §6.2): ignored once anything else arrived
 * or if it lists v1 (then it is forged or stale); otherwise no common version: the
 * attempt ends without a CONNECTION_CLOSE. */
static int on_version_negotiation(pq_conn *c, const pq_pkt_hdr *h, pq_tstamp now) {
  if (c->is_server || c->stats.packets_received > 0) return 0;
  if (h->dcid_len != c->scid_len || memcmp(h->dcid, c->scid, c->scid_len) != 0 ||
      h->scid_len != c->odcid_len || memcmp(h->scid, c->odcid, c->odcid_len) != 0)
    return 0;
  for (size_t i = 0; i < h->vn_count; i++)
    if (pq_pkt_vn_version(h, i) == PQ_VERSION_1) return 0;
  c->state = PQ_CS_CLOSED;
  c->close_info.by_peer = true;
  c->close_info.reason = "version negotiation: no common version";
  pq_timers_init(&c->timers);
  report_close(c);
  return 0;
}

/* One packet of a datagram, [pkt, pkt + h->len). Returns 0 (processed or dropped) or
 * a fatal error. */
static int read_packet(pq_conn *c, uint8_t *pkt, pq_pkt_hdr *h, pq_tstamp now) {
  pq_pnspace s;
  pq_space *sp;
  pq_rx_ctx ctx;
  uint64_t largest;
  int rv;
  if (h->type == PQ_PKT_VERSION_NEGOTIATION) return on_version_negotiation(c, h, now);
  if (h->type == PQ_PKT_RETRY) return on_retry(c, pkt, h, now);
  if (h->type != PQ_PKT_INITIAL && h->type != PQ_PKT_HANDSHAKE && h->type != PQ_PKT_1RTT &&
      h->type != PQ_PKT_0RTT)
    return 0;
  if (h->version != 0 && h->version != PQ_VERSION_1) return 0;
  if (!pq_conn_owns_cid(c, h->dcid, h->dcid_len)) return 0;
  s = pkt_space(h->type);
  sp = &c->spaces[s];
  largest = sp->ack.has_largest ? sp->ack.largest : PQ_PN_NONE; /* decodes the number */
  if (h->type == PQ_PKT_0RTT) {
    /* Server only, with 0-RTT keys: without them (refused, not derived yet, or
     * discarded) the packet is dropped; the client sends its data again. */
    if (!c->is_server || !c->has_early || sp->discarded) return 0;
    if (pq_pkt_unprotect(pkt, h, &c->early.hp, largest)) return 0;
    if (pq_pkt_decrypt(pkt, h, &c->early.aead)) return 0;
  } else {
    if (sp->discarded || !sp->has_rx) return 0; /* no keys (yet, or any more) */
    if (pq_pkt_unprotect(pkt, h, &sp->rx.hp, largest)) return 0;
    if (s == PQ_PNS_APP) {
      if ((rv = decrypt_1rtt(c, sp, pkt, h, now)) != 0) return rv > 0 ? 0 : rv;
      /* The server keeps 0-RTT keys for reordered packets a while (RFC 9001 §4.9.3). */
      if (c->is_server && c->has_early && c->early_discard_at == PQ_TSTAMP_NEVER)
        c->early_discard_at = now + three_pto(c);
    } else if (pq_pkt_decrypt(pkt, h, &sp->rx.aead)) {
      return 0;
    }
  }
  if (h->reserved) return pq_conn_fail(c, PQ_ERR_PROTOCOL_VIOLATION, 0);
  if (pq_acktr_is_duplicate(&sp->ack, h->pn)) return 0;
  c->stats.packets_received++;
  if (h->type == PQ_PKT_0RTT) c->stats.packets_0rtt++;
  if (c->qlog) {
    c->qlog_0rtt = h->type == PQ_PKT_0RTT;
    pq_qlog_packet(c, false, s, h->pn, h->payload, h->payload_len, h->len, now);
    c->qlog_0rtt = false;
  }
  if (c->state == PQ_CS_CLOSING) {
    c->close_pending = true; /* answer with CONNECTION_CLOSE again */
    return 0;
  }
  /* Client: the server chose its own CID; use it from its first packet on (§7.2). */
  if (!c->is_server && !c->dcid_from_server && h->type == PQ_PKT_INITIAL) {
    if (h->scid_len > PQ_MAX_CID_LEN) return 0;
    memcpy(c->dcid, h->scid, h->scid_len);
    c->dcid_len = h->scid_len;
    c->dcid_from_server = true;
    c->peer_cids[0].len = (uint8_t)h->scid_len;
    memcpy(c->peer_cids[0].id, h->scid, h->scid_len);
  }
  if (c->is_server && h->type == PQ_PKT_HANDSHAKE) {
    c->addr_validated = true; /* only the client could have made it (§8.1) */
    c->rec.amplification_limited = false;
  }
  memset(&ctx, 0, sizeof(ctx));
  ctx.space = s;
  ctx.pkt_mask = pkt_mask(h->type);
  ctx.now = now;
  rv = process_payload(c, &ctx, h->payload, h->payload_len);
  if (rv) return rv;
  if (sp->discarded) return 0; /* a frame dropped this space (HANDSHAKE_DONE) */
  /* Recorded, and the ACK scheduled (RFC 9000 §13.2.1), once processed. */
  if ((rv = pq_acktr_on_packet(&sp->ack, h->pn, ctx.ack_eliciting, now)) < 0)
    return pq_conn_fail(c, rv, 0);
  if (s == PQ_PNS_APP && ctx.non_probing && h->pn == sp->ack.largest) maybe_migrate(c, now);
  c->eliciting_since_rcvd = false;
  if (c->idle_timeout)
    pq_timers_set(&c->timers, PQ_TIMER_IDLE,
                  now + (c->idle_timeout > three_pto(c) ? c->idle_timeout : three_pto(c)));
  /* The server drops Initial keys once it processes a Handshake packet (RFC 9001 §4.9.1). */
  if (c->is_server && h->type == PQ_PKT_HANDSHAKE) discard_space(c, PQ_PNS_INITIAL, now);
  return 0;
}

static void update_timers(pq_conn *c, pq_tstamp now);

/* Same IP address (and port if |port|) in two socket addresses. */
static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b,
                      bool port) {
  if (a->ss_family != b->ss_family) return false;
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
    return x->sin_addr.s_addr == y->sin_addr.s_addr && (!port || x->sin_port == y->sin_port);
  }
  if (a->ss_family == AF_INET6) {
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0 &&
           (!port || x->sin6_port == y->sin6_port);
  }
  return true; /* unknown families: no migration */
}

/* The client's non-probing packet with the highest number came from a new address:
 * follow it, validate it, and start over with congestion control and RTT if the IP
 * address itself changed (RFC 9000 §9.3, §9.4). */
static void maybe_migrate(pq_conn *c, pq_tstamp now) {
  const pq_path *p = c->rx_path;
  bool new_ip;
  if (!c->is_server || !p || p->remote_len == 0 || c->path.remote_len == 0 ||
      !c->hs_confirmed || same_addr(&p->remote, &c->path.remote, true))
    return;
  new_ip = !same_addr(&p->remote, &c->path.remote, false);
  c->path = *p;
  c->migrations++;
  if (pq_random(c->path_challenge, sizeof(c->path_challenge))) return;
  c->path_validating = true;
  c->path_challenge_pending = true;
  c->path_bytes_rcvd = 0;
  c->path_bytes_sent = 0;
  if (new_ip) {
    const pq_cc_algo *algo = c->cc.algo;
    uint64_t in_flight = c->cc.bytes_in_flight;
    pq_cc_free(&c->cc);
    pq_cc_init(&c->cc, algo, c->mds);
    pq_plugin_on_cc_init(c);
    c->cc.bytes_in_flight = in_flight;
    pq_rtt_init(&c->rec.rtt, 0);
  }
}

/* True if |data| ends with a stateless reset token of one of the peer's CIDs. */
static bool is_reset(const pq_conn *c, const uint8_t *data, size_t len) {
  for (size_t i = 0; i < c->npeer; i++)
    if (c->peer_cids[i].has_token && pq_pkt_is_stateless_reset(data, len, c->peer_cids[i].token))
      return true;
  return false;
}

int pq_conn_read(pq_conn *c, const pq_path *path, const uint8_t *data, size_t len,
                 pq_tstamp now) {
  pq_pkt_hdr hdrs[8];
  uint8_t *buf;
  size_t off = 0;
  uint64_t received_before;
  int n, rv = 0;
  if (!c || !data) return PQ_ERR_INVALID_ARG;
  if (c->state >= PQ_CS_DRAINING) return PQ_ERR_CLOSED;
  c->stats.bytes_received += len;
  if (c->is_server && !c->addr_validated) c->bytes_received += len;
  if (c->path_validating) c->path_bytes_rcvd += len;
  c->rx_path = path;
  /* Packets are decrypted in place: work on a copy, in a buffer kept across calls. */
  if (len > c->rxbuf_cap) {
    size_t cap = len < 2048 ? 2048 : len;
    uint8_t *nb = realloc(c->rxbuf, cap);
    if (!nb) return PQ_ERR_NOMEM;
    c->rxbuf = nb;
    c->rxbuf_cap = cap;
  }
  buf = c->rxbuf;
  memcpy(buf, data, len);
  if (c->has_early && c->is_server && now >= c->early_discard_at) drop_early_keys(c);
  received_before = c->stats.packets_received;
  n = pq_pkt_split(buf, len, PQ_CONN_CID_LEN, hdrs, sizeof(hdrs) / sizeof(hdrs[0]));
  for (int i = 0; i < n && rv == 0; i++) {
    rv = read_packet(c, buf + off, &hdrs[i], now);
    off += hdrs[i].len;
    if (c->state >= PQ_CS_DRAINING) break;
  }
  c->rx_path = NULL;
  /* Nothing in it opened: it may be the peer's stateless reset (RFC 9000 §10.3.1). */
  if (rv == 0 && c->stats.packets_received == received_before && is_reset(c, data, len)) {
    c->state = PQ_CS_CLOSED; /* no draining needed: the peer has no state */
    c->close_info.by_peer = true;
    c->close_info.stateless_reset = true;
    pq_timers_init(&c->timers);
    if (c->qlog) pq_qlog_tick(c, now);
    report_close(c);
    return PQ_ERR_CLOSED;
  }
  /* The server's handshake is confirmed at completion: Handshake keys go once the
   * packet that completed it is processed (RFC 9001 §4.9.2). */
  if (c->is_server && c->hs_confirmed && c->state < PQ_CS_CLOSING)
    discard_space(c, PQ_PNS_HANDSHAKE, now);
  if (rv == 0 && c->state < PQ_CS_CLOSING) rv = finish_0rtt(c, now);
  if (c->state == PQ_CS_CLOSING && c->timers.at[PQ_TIMER_DRAIN] == PQ_TSTAMP_NEVER)
    pq_timers_set(&c->timers, PQ_TIMER_DRAIN, now + three_pto(c));
  if (rv) report_close(c);
  update_timers(c, now);
  if (rv) return rv;
  return n == 0 ? PQ_ERR_DROP : 0;
}

/* ---- send path ---- */

/* True if |s| has something ack-eliciting to send (cwnd permitting). */
static bool space_has_data(pq_conn *c, pq_pnspace s) {
  pq_space *sp = &c->spaces[s];
  if (pq_strm_tx_pending(&sp->crypto_tx, UINT64_MAX)) return true;
  if (s != PQ_PNS_APP || (!c->spaces[PQ_PNS_APP].has_tx && !early_sendable(c))) return false;
  if (c->handshake_done_pending || c->new_token_pending || c->path_response_pending ||
      c->path_challenge_pending ||
      c->max_data_pending ||
      c->max_streams_bidi_pending ||
      c->max_streams_uni_pending ||
      pq_flow_rx_should_update(&c->frx) || pq_streams_rx_should_update(&c->srx_bidi) ||
      pq_streams_rx_should_update(&c->srx_uni))
    return true;
  if (c->nretire > 0 || pq_conn_blocked_pending(c)) return true;
  for (size_t i = 0; i < c->nlocal; i++)
    if (c->local_cids[i].pending) return true;
  for (size_t i = 0; i < c->nstreams; i++) {
    pq_stream *st = c->streams[i];
    uint64_t limit = st->ftx.max;
    uint64_t conn_limit = st->ftx.sent + pq_flow_tx_credit(&c->ftx);
    if (conn_limit < limit) limit = conn_limit;
    if (st->max_stream_data_pending || st->reset_pending || st->stop_pending) return true;
    if (st->can_recv && !st->peer_reset && pq_flow_rx_should_update(&st->frx)) return true;
    if (st->can_send && !st->reset_sent && pq_strm_tx_pending(&st->tx, limit)) return true;
  }
  return c->plug && pq_plugin_wants_send(c); /* a plugin frame waits (e.g. a timer's) */
}

static bool space_wants_ack(const pq_space *sp, pq_tstamp now) {
  return pq_acktr_should_send(&sp->ack, now);
}

/* Builds and seals one packet of space |s| at |buf| (|cap| bytes). |pad_to|: minimum
 * packet size (0: none). Returns its length, 0 if nothing was written, or an error. */
static int build_packet(pq_conn *c, pq_pnspace s, uint8_t *buf, size_t cap, size_t pad_to,
                        bool cc_ok, bool pmtu_probe, pq_tstamp now) {
  static const pq_pkt_type types[3] = {PQ_PKT_INITIAL, PQ_PKT_HANDSHAKE, PQ_PKT_1RTT};
  pq_space *sp = &c->spaces[s];
  bool zero_rtt = s == PQ_PNS_APP && !sp->has_tx; /* the caller checked early_sendable */
  pq_keys *keys = zero_rtt ? &c->early : &sp->tx;
  pq_recovery_space *rs = &c->rec.spaces[s];
  pq_pkt_build b;
  pq_pkt_hdr h;
  pq_tx_ctx txc, *ctx = &txc;
  pq_sent_pkt sent;
  uint8_t *payload;
  size_t payload_len;
  int hlen, plen, rv;
  memset(&b, 0, sizeof(b));
  b.type = zero_rtt ? PQ_PKT_0RTT : types[s];
  b.version = PQ_VERSION_1;
  b.dcid = c->dcid;
  b.dcid_len = c->dcid_len;
  b.scid = c->scid;
  b.scid_len = c->scid_len;
  b.pn = sp->next_pn;
  b.pn_len = pq_pkt_pn_len(sp->next_pn, rs->has_largest_acked ? rs->largest_acked : PQ_PN_NONE);
  b.key_phase = c->key_phase;
  if (s == PQ_PNS_INITIAL && !c->is_server && c->token_len) {
    b.token = c->token;
    b.token_len = c->token_len;
  }
  if (cap < 64) return 0;
  hlen = pq_pkt_write_header(buf, cap, &b, &h);
  if (hlen < 0) return hlen == PQ_ERR_NOBUF ? 0 : hlen;
  if ((size_t)hlen + PQ_AEAD_TAG_LEN + 8 > cap) return 0;
  ctx->nrtx = 0; /* only the scalar fields need clearing: rtx[] fills as used */
  ctx->ack_eliciting = ctx->in_flight = false;
  ctx->pmtu_probe = pmtu_probe;
  ctx->zero_rtt = zero_rtt;
  payload = buf + hlen;
  ctx->space = s;
  ctx->p = payload;
  ctx->end = buf + cap - PQ_AEAD_TAG_LEN;
  ctx->probe = c->rec.probes[s] > 0;
  ctx->cc_ok = cc_ok || ctx->probe;
  ctx->now = now;
  if (pmtu_probe) {
    pq_rtx r = {.kind = PQ_RTX_PMTU_PROBE, .len = pad_to};
    *ctx->p++ = PQ_FT_PING;
    pq_tx_add_rtx(ctx, &r);
    ctx->ack_eliciting = true;
  }
  if (c->plug) { /* plugins' seam: the same loop with their frames */
    if (!pmtu_probe && (rv = pq_plugin_fill_packet(c, ctx)) < 0) return rv;
  } else for (size_t i = 0; i < pq_conn_send_order_len && !pmtu_probe; i++) {
    const pq_conn_frame_def *d = &pq_conn_frame_table[pq_conn_send_order[i]];
    if (!d->send) continue;
    rv = d->send(c, ctx);
    if (rv < 0 && rv != PQ_ERR_NOBUF) {
      return rv;
    }
  }
  payload_len = (size_t)(ctx->p - payload);
  if (payload_len == 0) {
    return 0;
  }
  /* Padding (zero bytes are PADDING frames) up to |pad_to| for the whole packet. */
  if (pad_to && hlen + payload_len + PQ_AEAD_TAG_LEN < pad_to) {
    size_t want = pad_to - hlen - PQ_AEAD_TAG_LEN;
    if (want > cap - hlen - PQ_AEAD_TAG_LEN) want = cap - hlen - PQ_AEAD_TAG_LEN;
    memset(payload + payload_len, 0, want - payload_len);
    payload_len = want;
    ctx->in_flight = true;
  }
  if (c->plug) pq_plugin_log_tx(c, s, payload, payload_len, now); /* before sealing */
  if (c->qlog) { /* before sealing encrypts the payload */
    c->qlog_0rtt = zero_rtt;
    pq_qlog_packet(c, true, s, sp->next_pn, payload, payload_len,
                   (size_t)hlen + payload_len + PQ_AEAD_TAG_LEN, now);
    c->qlog_0rtt = false;
  }
  plen = pq_pkt_seal(buf, cap, &h, payload_len, &keys->aead, &keys->hp);
  if (plen < 0) {
    return plen;
  }
  memset(&sent, 0, sizeof(sent));
  sent.pn = sp->next_pn++;
  sent.sent_time = now;
  sent.bytes = (uint32_t)plen;
  sent.ack_eliciting = ctx->ack_eliciting;
  /* A PMTU probe's loss says nothing about congestion (RFC 9000 §14.4): keep it out
   * of bytes in flight. */
  sent.in_flight = (ctx->ack_eliciting || ctx->in_flight) && !pmtu_probe;
  if (ctx->nrtx) {
    pq_pkt_rtx *r = malloc(sizeof(*r) + ctx->nrtx * sizeof(pq_rtx));
    if (!r) {
      return PQ_ERR_NOMEM;
    }
    r->n = ctx->nrtx;
    memcpy(r->items, ctx->rtx, ctx->nrtx * sizeof(pq_rtx));
    sent.frames = r;
  }
  rv = pq_recovery_on_packet_sent(&c->rec, s, &sent, now);
  if (rv) {
    free(sent.frames);
    return rv;
  }
  if (sent.in_flight) pq_pacer_on_sent(&c->pacer, (uint64_t)plen, now);
  if (c->plug) pq_plugin_packet_sent(c, s, &sent, now);
  if (ctx->ack_eliciting && !c->eliciting_since_rcvd) {
    c->eliciting_since_rcvd = true;
    if (c->idle_timeout)
      pq_timers_set(&c->timers, PQ_TIMER_IDLE,
                    now + (c->idle_timeout > three_pto(c) ? c->idle_timeout : three_pto(c)));
  }
  c->stats.packets_sent++;
  if (zero_rtt) c->stats.packets_0rtt++;
  return plen;
}

/* A PMTU probe is due: confirmed handshake, both sides accept the size, no probe out,
 * tries left, and the caller's buffer can hold it. */
static bool pmtu_wanted(const pq_conn *c, size_t buflen) {
  return c->hs_confirmed && !c->pmtu_done && !c->pmtu_in_flight &&
         c->pmtu_tries < PQ_CONN_PMTU_TRIES && buflen >= PQ_CONN_PMTU_PROBE &&
         c->settings.max_udp_payload_size >= PQ_CONN_PMTU_PROBE && c->has_peer_tp &&
         c->peer_tp.max_udp_payload_size >= PQ_CONN_PMTU_PROBE &&
         c->spaces[PQ_PNS_APP].has_tx && !c->spaces[PQ_PNS_APP].discarded;
}

void pq_conn_pmtu_result(pq_conn *c, size_t size, bool acked) {
  c->pmtu_in_flight = false;
  if (!acked) return; /* tried again later, up to PQ_CONN_PMTU_TRIES */
  c->pmtu_done = true;
  if (size <= c->mds) return;
  c->mds = size;
  c->cc.max_datagram_size = size;
  c->pacer.mds = size;
  c->pacer.burst = PQ_PACER_BURST_PACKETS * size;
}

/* One packet with CONNECTION_CLOSE in space |s| (keys checked by the caller). */
static ssize_t write_close(pq_conn *c, pq_pnspace s, uint8_t *buf, size_t len,
                           pq_tstamp now) {
  pq_frame f;
  uint8_t tmp[PQ_CONN_REASON_MAX + 32]; /* the frame: type, codes, reason up to 255 bytes */
  ssize_t fl;
  int rv;
  pq_pkt_build b;
  pq_pkt_hdr h;
  int hlen;
  memset(&f, 0, sizeof(f));
  /* An application close before 1-RTT keys becomes a transport APPLICATION_ERROR
   * (RFC 9000 §10.2.3). */
  if (c->close_app && s == PQ_PNS_APP) {
    f.type = PQ_FT_CONNECTION_CLOSE_APP;
    f.u.close.error_code = c->close_error;
    f.u.close.reason = (const uint8_t *)c->close_reason;
    f.u.close.reason_len = strlen(c->close_reason);
  } else {
    f.type = PQ_FT_CONNECTION_CLOSE;
    f.u.close.error_code = c->close_app ? PQ_TE_APPLICATION_ERROR : c->close_error;
    f.u.close.frame_type = c->close_frame_type;
    /* A transport close says why (a TLS failure's reason; in every level it goes in,
     * as the peer acts on the first it opens); an application close converted to
     * APPLICATION_ERROR keeps its reason out of Initial/Handshake packets
     * (RFC 9000 §10.2.3). */
    if (!c->close_app) {
      f.u.close.reason = (const uint8_t *)c->close_reason;
      f.u.close.reason_len = strlen(c->close_reason);
    }
  }
  fl = pq_frame_write(&f, tmp, sizeof(tmp));
  if (fl < 0) return fl;
  memset(&b, 0, sizeof(b));
  b.type = s == PQ_PNS_INITIAL ? PQ_PKT_INITIAL : s == PQ_PNS_HANDSHAKE ? PQ_PKT_HANDSHAKE
                                                                         : PQ_PKT_1RTT;
  b.version = PQ_VERSION_1;
  b.dcid = c->dcid;
  b.dcid_len = c->dcid_len;
  b.scid = c->scid;
  b.scid_len = c->scid_len;
  b.pn = c->spaces[s].next_pn++;
  b.pn_len = 4;
  b.key_phase = c->key_phase;
  hlen = pq_pkt_write_header(buf, len, &b, &h);
  if (hlen < 0) return hlen;
  if ((size_t)hlen + (size_t)fl + PQ_AEAD_TAG_LEN > len) return PQ_ERR_NOBUF;
  memcpy(buf + hlen, tmp, (size_t)fl);
  if (c->plug) pq_plugin_log_tx(c, s, tmp, (size_t)fl, now);
  if (c->qlog)
    pq_qlog_packet(c, true, s, b.pn, tmp, (size_t)fl, (size_t)hlen + (size_t)fl + PQ_AEAD_TAG_LEN,
                   now);
  rv = pq_pkt_seal(buf, len, &h, (size_t)fl, &c->spaces[s].tx.aead, &c->spaces[s].tx.hp);
  return rv;
}

/* CONNECTION_CLOSE in the best level we have keys for; before the handshake is
 * confirmed the peer may not have those keys yet (a server failing a client's 0-RTT
 * before sending its flight, a client failing before its Finished got through), so it
 * goes in every level we still have, coalesced (RFC 9000 §10.2.3). A client's datagram
 * with an Initial is padded to 1200 bytes. */
static ssize_t write_closes(pq_conn *c, uint8_t *buf, size_t len, pq_tstamp now) {
  int best = -1;
  size_t off = 0;
  bool initial = false;
  for (int k = PQ_PNS_COUNT - 1; k >= 0 && best < 0; k--)
    if (space_usable(c, (pq_pnspace)k)) best = k;
  for (int k = 0; k < PQ_PNS_COUNT && best >= 0; k++) {
    ssize_t n;
    if (!space_usable(c, (pq_pnspace)k) || (c->hs_confirmed && k != best)) continue;
    n = write_close(c, (pq_pnspace)k, buf + off, len - off, now);
    if (n < 0) return off > 0 ? (ssize_t)off : n;
    off += (size_t)n;
    initial = initial || k == PQ_PNS_INITIAL;
  }
  if (initial && !c->is_server && off < PQ_CONN_MIN_INITIAL && len >= PQ_CONN_MIN_INITIAL) {
    memset(buf + off, 0, PQ_CONN_MIN_INITIAL - off);
    off = PQ_CONN_MIN_INITIAL;
  }
  return (ssize_t)off;
}

ssize_t pq_conn_write(pq_conn *c, pq_path *path_out, uint8_t *buf, size_t len,
                      pq_tstamp now) {
  size_t off = 0, cap;
  bool want[PQ_PNS_COUNT] = {false}, has_initial = false, cc_ok;
  int last = -1;
  if (!c || !buf || len < PQ_CONN_MIN_INITIAL) return PQ_ERR_INVALID_ARG;
  if (path_out) *path_out = c->path;
  if (c->state >= PQ_CS_DRAINING) return 0;
  if (c->state == PQ_CS_CLOSING) {
    ssize_t n;
    if (!c->close_pending) return 0;
    c->close_pending = false;
    n = write_closes(c, buf, len, now);
    if (n > 0) c->stats.bytes_sent += (uint64_t)n;
    return n;
  }
  cap = len < c->mds ? len : c->mds;
  if (c->is_server && !c->addr_validated) {
    uint64_t budget = PQ_CONN_AMPLIFICATION * c->bytes_received;
    budget = budget > c->bytes_sent_unvalidated ? budget - c->bytes_sent_unvalidated : 0;
    c->rec.amplification_limited = budget < PQ_CONN_MIN_INITIAL;
    if (budget < PQ_CONN_MIN_INITIAL) return 0;
    if (budget < cap) cap = (size_t)budget;
  }
  if (c->path_validating) {
    uint64_t budget = PQ_CONN_AMPLIFICATION * c->path_bytes_rcvd;
    budget = budget > c->path_bytes_sent ? budget - c->path_bytes_sent : 0;
    if (budget < PQ_CONN_MIN_INITIAL) return 0;
    if (budget < cap) cap = (size_t)budget;
  }
  cc_ok = pq_cc_available(&c->cc) >= c->mds;
  if (cc_ok && c->settings.pacing &&
      pq_pacer_next_time(&c->pacer, c->cc.cwnd, c->rec.rtt.has_sample ? c->rec.rtt.smoothed : 0,
                         now) > now)
    cc_ok = false;
  c->cc.app_limited = false;
  if (pmtu_wanted(c, len) && cc_ok) {
    int n = build_packet(c, PQ_PNS_APP, buf, PQ_CONN_PMTU_PROBE, PQ_CONN_PMTU_PROBE, true, true,
                         now);
    if (n > 0) {
      c->pmtu_in_flight = true;
      c->pmtu_tries++;
      c->stats.bytes_sent += (uint64_t)n;
      update_timers(c, now);
      return n;
    }
  }
  for (int s = 0; s < PQ_PNS_COUNT; s++) {
    pq_space *sp = &c->spaces[s];
    if (!space_usable(c, (pq_pnspace)s) && !(s == PQ_PNS_APP && early_sendable(c))) continue;
    /* Handshake data ignores the window: 1-RTT data sent before the handshake is
     * confirmed has no PTO (RFC 9002 §6.2.1) and must not block the handshake. */
    want[s] = (space_wants_ack(sp, now) && !pq_ranges_empty(&sp->ack.rcvd)) ||
              c->rec.probes[s] > 0 || pq_strm_tx_pending(&sp->crypto_tx, UINT64_MAX) ||
              (cc_ok && space_has_data(c, (pq_pnspace)s));
    if (want[s]) last = s;
  }
  if (last < 0) {
    if (cc_ok) c->cc.app_limited = true; /* nothing to send: cwnd not the limit */
    return 0;
  }
  /* A client pads every datagram with an Initial packet, a server those with an
   * ack-eliciting Initial (RFC 9000 §14.1): we pad whenever Initial goes out. */
  has_initial = want[PQ_PNS_INITIAL];
  for (int s = 0; s < PQ_PNS_COUNT; s++) {
    int n;
    size_t pad = 0;
    if (!want[s]) continue;
    if (s == last && has_initial) pad = PQ_CONN_MIN_INITIAL - off;
    n = build_packet(c, (pq_pnspace)s, buf + off, cap - off, pad, cc_ok, false, now);
    if (n < 0) {
      int rv = pq_conn_fail(c, n, 0);
      report_close(c);
      return rv;
    }
    off += (size_t)n;
    /* The client drops Initial keys when it first sends a Handshake packet. */
    if (n > 0 && !c->is_server && s == PQ_PNS_HANDSHAKE)
      discard_space(c, PQ_PNS_INITIAL, now);
  }
  /* If the padded packet turned out empty, pad the datagram itself. */
  if (has_initial && off > 0 && off < PQ_CONN_MIN_INITIAL && cap >= PQ_CONN_MIN_INITIAL) {
    memset(buf + off, 0, PQ_CONN_MIN_INITIAL - off);
    off = PQ_CONN_MIN_INITIAL;
  }
  if (c->is_server && !c->addr_validated) c->bytes_sent_unvalidated += off;
  if (c->path_validating) c->path_bytes_sent += off;
  c->stats.bytes_sent += off;
  update_timers(c, now);
  return (ssize_t)off;
}

/* ---- timers ---- */

static bool probes_pending(const pq_conn *c) {
  for (int s = 0; s < PQ_PNS_COUNT; s++)
    if (c->rec.probes[s]) return true;
  return false;
}

/* The loss detection timer fired. A time-threshold loss found late (the application
 * woke up late, or the flight went out long ago because the sender was cwnd-limited)
 * can leave the next deadline, the PTO, already in the past: it fires now too, so
 * probes are due. Dropping it instead (handle_expiry does not keep a past expiry)
 * left ack-eliciting packets in flight with no timer armed, and a sender with a full
 * window then never sent again (RFC 9002 §6.2: the PTO is armed while ack-eliciting
 * packets are in flight). A few rounds at most: a loss per space, then the PTO. */
static void fire_loss_timer(pq_conn *c, pq_tstamp now) {
  for (int round = 0; round < PQ_PNS_COUNT + 1; round++) {
    pq_pnspace space;
    pq_timeout_kind k = pq_recovery_on_timeout_ex(&c->rec, now, &space);
    if (k != PQ_TIMEOUT_NONE && c->plug) { /* plugins' seam: observe, maybe more probes */
      unsigned probes = pq_plugin_loss_timer(c, space, k == PQ_TIMEOUT_PTO, now);
      if (probes > c->rec.probes[space] && space_usable(c, space))
        c->rec.probes[space] = (uint8_t)probes;
    }
    /* Probes in Initial/Handshake carry the unacknowledged CRYPTO data again. */
    for (int s = PQ_PNS_INITIAL; s <= PQ_PNS_HANDSHAKE; s++)
      if (c->rec.probes[s] && space_usable(c, (pq_pnspace)s))
        pq_conn_requeue_space(c, (pq_pnspace)s);
    if (probes_pending(c) || c->rec.timer > now) return;
  }
}

static void update_timers(pq_conn *c, pq_tstamp now) {
  pq_tstamp ack = PQ_TSTAMP_NEVER;
  if (c->qlog) pq_qlog_tick(c, now); /* after every read, write and expiry */
  if (c->state >= PQ_CS_CLOSING) {
    pq_timers_set(&c->timers, PQ_TIMER_LOSS, PQ_TSTAMP_NEVER);
    pq_timers_set(&c->timers, PQ_TIMER_ACK, PQ_TSTAMP_NEVER);
    pq_timers_set(&c->timers, PQ_TIMER_PACING, PQ_TSTAMP_NEVER);
    pq_timers_set(&c->timers, PQ_TIMER_IDLE, PQ_TSTAMP_NEVER);
    return;
  }
  c->rec.handshake_confirmed = c->hs_confirmed;
  pq_recovery_set_timer(&c->rec, now);
  pq_timers_set(&c->timers, PQ_TIMER_LOSS, c->rec.timer);
  for (int s = 0; s < PQ_PNS_COUNT; s++) {
    const pq_space *sp = &c->spaces[s];
    pq_tstamp t;
    if (sp->discarded || pq_ranges_empty(&sp->ack.rcvd)) continue;
    t = pq_acktr_expiry(&sp->ack);
    if (t == 0) t = now; /* due at once */
    if (t < ack) ack = t;
  }
  pq_timers_set(&c->timers, PQ_TIMER_ACK, ack);
  /* Pacing: wake up when the next packet may leave, if data waits for it. */
  if (c->settings.pacing && pq_cc_available(&c->cc) >= c->mds &&
      (space_usable(c, PQ_PNS_APP) || early_sendable(c)) && space_has_data(c, PQ_PNS_APP)) {
    pq_tstamp t = pq_pacer_next_time(&c->pacer, c->cc.cwnd,
                                     c->rec.rtt.has_sample ? c->rec.rtt.smoothed : 0, now);
    pq_timers_set(&c->timers, PQ_TIMER_PACING, t > now ? t : PQ_TSTAMP_NEVER);
  } else {
    pq_timers_set(&c->timers, PQ_TIMER_PACING, PQ_TSTAMP_NEVER);
  }
  if (c->plug) pq_plugin_set_wakeup(c, now); /* plugins' seam: an earlier wakeup */
}

pq_tstamp pq_conn_expiry(const pq_conn *c) {
  if (!c || c->state == PQ_CS_CLOSED) return PQ_TSTAMP_NEVER;
  if (c->plug) return pq_plugin_expiry(c); /* plugin timers merged there */
  return pq_timers_earliest(&c->timers, NULL);
}

int pq_conn_handle_expiry(pq_conn *c, pq_tstamp now) {
  if (!c) return PQ_ERR_INVALID_ARG;
  if (c->state == PQ_CS_CLOSED) return PQ_ERR_CLOSED;
  if (pq_timers_due(&c->timers, PQ_TIMER_DRAIN, now)) {
    c->state = PQ_CS_CLOSED;
    pq_timers_init(&c->timers);
    if (c->qlog) pq_qlog_tick(c, now);
    report_close(c);
    return 0;
  }
  if (c->state >= PQ_CS_CLOSING) {
    if (c->timers.at[PQ_TIMER_DRAIN] == PQ_TSTAMP_NEVER)
      pq_timers_set(&c->timers, PQ_TIMER_DRAIN, now + three_pto(c));
    return 0;
  }
  if (pq_timers_due(&c->timers, PQ_TIMER_IDLE, now)) {
    c->state = PQ_CS_CLOSED; /* silently (RFC 9000 §10.1) */
    c->close_info.idle_timeout = true;
    pq_timers_init(&c->timers);
    if (c->qlog) pq_qlog_tick(c, now);
    report_close(c);
    return 0;
  }
  if (c->plug) pq_plugin_on_expiry(c, now);
  if (pq_timers_due(&c->timers, PQ_TIMER_KEY_DISCARD, now)) {
    if (c->has_rx_prev) pq_keys_free(&c->rx_prev);
    c->has_rx_prev = false;
    pq_timers_set(&c->timers, PQ_TIMER_KEY_DISCARD, PQ_TSTAMP_NEVER);
  }
  if (pq_timers_due(&c->timers, PQ_TIMER_LOSS, now)) fire_loss_timer(c, now);
  update_timers(c, now); /* a delayed ACK past its deadline is due (pq_acktr) */
  /* Probes and acks are sent by the next pq_conn_write; keep the expiry from being
   * in the past meanwhile. */
  if (c->timers.at[PQ_TIMER_ACK] <= now) c->timers.at[PQ_TIMER_ACK] = PQ_TSTAMP_NEVER;
  if (c->timers.at[PQ_TIMER_LOSS] <= now) c->timers.at[PQ_TIMER_LOSS] = PQ_TSTAMP_NEVER;
  return 0;
}

bool pq_conn_is_established(const pq_conn *c) {
  return c && c->hs_complete && c->state == PQ_CS_ESTABLISHED;
}

bool pq_conn_is_closed(const pq_conn *c) { return !c || c->state == PQ_CS_CLOSED; }

void pq_conn_get_stats(const pq_conn *c, pq_conn_stats *st) {
  if (!c || !st) return;
  *st = c->stats;
  st->packets_lost = c->rec.packets_lost;
  st->smoothed_rtt = c->rec.rtt.smoothed;
  st->rttvar = c->rec.rtt.var;
  st->min_rtt = c->rec.rtt.min;
  st->latest_rtt = c->rec.rtt.latest;
  st->cwnd = c->cc.cwnd;
  st->bytes_in_flight = c->cc.bytes_in_flight;
}

size_t pq_conn_odcid(const pq_conn *c, uint8_t *out, size_t cap) {
  const uint8_t *id;
  size_t len;
  if (!c || !out) return 0;
  /* A server after a Retry knows the first DCID from the token (tp_odcid). */
  id = c->is_server ? c->tp_odcid : c->odcid;
  len = c->is_server ? c->tp_odcid_len : c->odcid_len;
  if (len > cap) return 0;
  memcpy(out, id, len);
  return len;
}

pq_early_data pq_conn_early_data(const pq_conn *c) {
  return c ? c->early_status : PQ_EARLY_NONE;
}

const char *pq_early_data_str(pq_early_data e) {
  switch (e) {
  case PQ_EARLY_NONE: return "none";
  case PQ_EARLY_BAD_SESSION: return "bad session";
  case PQ_EARLY_NOT_OFFERED: return "not offered";
  case PQ_EARLY_OFFERED: return "offered";
  case PQ_EARLY_ACCEPTED: return "accepted";
  case PQ_EARLY_REJECTED: return "rejected";
  }
  return "?";
}
