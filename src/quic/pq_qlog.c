/*
 * pq_qlog.c: see pq_qlog.h. Field names follow draft-ietf-quic-qlog-main-schema-03 /
 * quic-events-03 (qlog 0.3), which qvis reads.
 */
#include "pq_qlog.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pq_conn.h"

enum { M_MIN_RTT, M_SRTT, M_LATEST, M_RTTVAR, M_CWND, M_INFLIGHT, M_SSTHRESH, M_PACING, M_N };

struct pq_qlog {
  char *buf;             /* the record being formatted */
  size_t len, cap;
  bool failed;           /* out of memory while formatting: drop the record */
  bool started;          /* header written */
  pq_tstamp t0, now;     /* time zero; time of the last event */
  uint64_t metrics[M_N]; /* last values logged */
  bool metrics_logged;
  const char *conn_state, *cc_state; /* last states logged */
};

int pq_qlog_new(pq_conn *c, pq_tstamp t0) {
  pq_qlog *q;
  if (!c->cb.qlog) return 0;
  if (!(q = calloc(1, sizeof(*q)))) return PQ_ERR_NOMEM;
  q->t0 = q->now = t0;
  c->qlog = q;
  return 0;
}

void pq_qlog_del(pq_qlog *q) {
  if (!q) return;
  free(q->buf);
  free(q);
}

/* ---- formatting ---- */

/* Appends printf-style text, growing the buffer (a failure marks the record). */
static void put(pq_qlog *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(pq_qlog *q, const char *fmt, ...) {
  va_list ap;
  int n;
  if (q->failed) return;
  for (;;) {
    size_t room = q->cap - q->len;
    va_start(ap, fmt);
    n = vsnprintf(q->buf ? q->buf + q->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
      q->failed = true;
      return;
    }
    if ((size_t)n < room) {
      q->len += (size_t)n;
      return;
    }
    size_t cap = q->cap ? q->cap * 2 : 1024;
    while (cap - q->len <= (size_t)n) cap *= 2;
    char *nb = realloc(q->buf, cap);
    if (!nb) {
      q->failed = true;
      return;
    }
    q->buf = nb;
    q->cap = cap;
  }
}

static void put_hex(pq_qlog *q, const uint8_t *p, size_t n) {
  put(q, "\"");
  for (size_t i = 0; i < n; i++) put(q, "%02x", p[i]);
  put(q, "\"");
}

/* A JSON string from bytes the peer chose: quotes, backslashes and anything outside
 * printable ASCII escaped, so the record stays valid JSON whatever they are. */
static void put_str(pq_qlog *q, const uint8_t *p, size_t n) {
  put(q, "\"");
  for (size_t i = 0; i < n; i++) {
    if (p[i] == '"' || p[i] == '\\') put(q, "\\%c", p[i]);
    else if (p[i] < 0x20 || p[i] >= 0x7f) put(q, "\\u%04x", p[i]);
    else put(q, "%c", p[i]);
  }
  put(q, "\"");
}

static double ms(uint64_t ns) { return (double)ns / 1e6; }

static void header(pq_conn *c);

/* Starts a record for event |name| at |now|. */
static void begin(pq_conn *c, const char *name, pq_tstamp now) {
  pq_qlog *q = c->qlog;
  if (!q->started) header(c);
  if (now < q->now) now = q->now; /* keep the log in time order */
  q->now = now;
  q->len = 0;
  q->failed = false;
  put(q, "\x1e{\"time\":%.3f,\"name\":\"%s\",\"data\":", ms(now - q->t0), name);
}

/* Closes the record and hands it to the application. */
static void emit(pq_conn *c) {
  pq_qlog *q = c->qlog;
  put(q, "}\n");
  if (!q->failed) c->cb.qlog(c, q->buf, q->len, c->user);
  q->len = 0;
}

static const uint8_t *log_odcid(const pq_conn *c, size_t *len) {
  *len = c->is_server ? c->tp_odcid_len : c->odcid_len;
  return c->is_server ? c->tp_odcid : c->odcid;
}

static void local_params(pq_conn *c) {
  const pq_settings *s = &c->settings;
  pq_qlog *q = c->qlog;
  begin(c, "transport:parameters_set", q->now);
  put(q, "{\"owner\":\"local\",\"initial_source_connection_id\":");
  put_hex(q, c->scid, c->scid_len);
  put(q, ",\"max_idle_timeout\":%llu,\"max_udp_payload_size\":%u,\"ack_delay_exponent\":%u,"
      "\"max_ack_delay\":%llu,\"active_connection_id_limit\":%u,\"initial_max_data\":%llu,"
      "\"initial_max_stream_data_bidi_local\":%llu,"
      "\"initial_max_stream_data_bidi_remote\":%llu,\"initial_max_stream_data_uni\":%llu,"
      "\"initial_max_streams_bidi\":%llu,\"initial_max_streams_uni\":%llu}",
      (unsigned long long)(s->max_idle_timeout / PQ_MS), s->max_udp_payload_size,
      s->ack_delay_exponent, (unsigned long long)(s->max_ack_delay / PQ_MS),
      s->active_connection_id_limit, (unsigned long long)s->initial_max_data,
      (unsigned long long)s->initial_max_stream_data_bidi_local,
      (unsigned long long)s->initial_max_stream_data_bidi_remote,
      (unsigned long long)s->initial_max_stream_data_uni,
      (unsigned long long)s->initial_max_streams_bidi,
      (unsigned long long)s->initial_max_streams_uni);
  emit(c);
}

/* The header record, then our parameters. */
static void header(pq_conn *c) {
  pq_qlog *q = c->qlog;
  const char *vp = c->is_server ? "server" : "client";
  size_t olen;
  const uint8_t *odcid = log_odcid(c, &olen);
  q->started = true;
  q->len = 0;
  q->failed = false;
  put(q, "\x1e{\"qlog_version\":\"0.3\",\"qlog_format\":\"JSON-SEQ\",\"title\":\"pluginop %s\","
      "\"trace\":{\"vantage_point\":{\"name\":\"pluginop\",\"type\":\"%s\"},"
      "\"common_fields\":{\"ODCID\":", vp, vp);
  put_hex(q, odcid, olen);
  put(q, ",\"group_id\":");
  put_hex(q, odcid, olen);
  put(q, ",\"time_format\":\"relative\",\"reference_time\":%.3f,"
      "\"protocol_type\":[\"QUIC\"]}}}\n", ms(q->t0));
  if (!q->failed) c->cb.qlog(c, q->buf, q->len, c->user);
  local_params(c);
}

/* ---- frames ---- */

static const char *packet_type(const pq_conn *c, pq_pnspace s) {
  if (s == PQ_PNS_APP && c->qlog_0rtt) return "0RTT";
  return s == PQ_PNS_INITIAL ? "initial" : s == PQ_PNS_HANDSHAKE ? "handshake" : "1RTT";
}

static void frame_ack(pq_conn *c, const pq_frame_ack *a, bool sent) {
  pq_qlog *q = c->qlog;
  pq_ack_iter it;
  uint64_t lo, hi;
  unsigned exp = sent ? c->settings.ack_delay_exponent
                 : c->has_peer_tp ? (unsigned)c->peer_tp.ack_delay_exponent : 3;
  bool first = true;
  /* ACK Delay is in microseconds, scaled by the sender's exponent (RFC 9000 §19.3). */
  put(q, "\"ack\",\"ack_delay\":%.3f,\"acked_ranges\":[",
      exp < 64 && a->ack_delay < (UINT64_MAX >> exp) ? (double)(a->ack_delay << exp) / 1e3
                                                      : 0.0);
  pq_ack_iter_init(&it, a);
  while (pq_ack_iter_next(&it, &lo, &hi)) {
    put(q, "%s[%llu,%llu]", first ? "" : ",", (unsigned long long)lo,
        (unsigned long long)(hi - 1));
    first = false;
  }
  put(q, "]");
  if (a->ecn)
    put(q, ",\"ect0\":%llu,\"ect1\":%llu,\"ce\":%llu", (unsigned long long)a->ect0,
        (unsigned long long)a->ect1, (unsigned long long)a->ce);
}

static void frame_close(pq_qlog *q, const pq_frame *f) {
  bool app = f->type == PQ_FT_CONNECTION_CLOSE_APP;
  put(q, "\"connection_close\",\"error_space\":\"%s\",\"error_code\":%llu,"
      "\"raw_error_code\":%llu,\"reason\":", app ? "application" : "transport",
      (unsigned long long)f->u.close.error_code, (unsigned long long)f->u.close.error_code);
  put_str(q, f->u.close.reason, (size_t)f->u.close.reason_len);
  if (!app) put(q, ",\"trigger_frame_type\":%llu", (unsigned long long)f->u.close.frame_type);
}

/* One frame's JSON object (a parsed frame). */
static void frame(pq_conn *c, const pq_frame *f, bool sent) {
  pq_qlog *q = c->qlog;
  unsigned long long v;
  put(q, "{\"frame_type\":");
  if (f->type >= PQ_FT_STREAM && f->type <= PQ_FT_STREAM_MAX) {
    put(q, "\"stream\",\"stream_id\":%llu,\"offset\":%llu,\"length\":%llu,\"fin\":%s",
        (unsigned long long)f->u.stream.stream_id, (unsigned long long)f->u.stream.offset,
        (unsigned long long)f->u.stream.len, f->u.stream.fin ? "true" : "false");
    put(q, "}");
    return;
  }
  switch (f->type) {
  case PQ_FT_PADDING:
    v = f->u.padding.len;
    put(q, "\"padding\",\"length\":%llu,\"payload_length\":%llu", v, v);
    break;
  case PQ_FT_PING: put(q, "\"ping\""); break;
  case PQ_FT_ACK:
  case PQ_FT_ACK_ECN: frame_ack(c, &f->u.ack, sent); break;
  case PQ_FT_RESET_STREAM:
    put(q, "\"reset_stream\",\"stream_id\":%llu,\"error_code\":%llu,\"final_size\":%llu",
        (unsigned long long)f->u.reset_stream.stream_id,
        (unsigned long long)f->u.reset_stream.app_error,
        (unsigned long long)f->u.reset_stream.final_size);
    break;
  case PQ_FT_STOP_SENDING:
    put(q, "\"stop_sending\",\"stream_id\":%llu,\"error_code\":%llu",
        (unsigned long long)f->u.stop_sending.stream_id,
        (unsigned long long)f->u.stop_sending.app_error);
    break;
  case PQ_FT_CRYPTO:
    put(q, "\"crypto\",\"offset\":%llu,\"length\":%llu",
        (unsigned long long)f->u.crypto.offset, (unsigned long long)f->u.crypto.len);
    break;
  case PQ_FT_NEW_TOKEN:
    put(q, "\"new_token\",\"token\":{\"raw\":{\"length\":%llu}}",
        (unsigned long long)f->u.new_token.len);
    break;
  case PQ_FT_MAX_DATA:
    put(q, "\"max_data\",\"maximum\":%llu", (unsigned long long)f->u.max_data.value);
    break;
  case PQ_FT_MAX_STREAM_DATA:
    put(q, "\"max_stream_data\",\"stream_id\":%llu,\"maximum\":%llu",
        (unsigned long long)f->u.max_stream_data.stream_id,
        (unsigned long long)f->u.max_stream_data.value);
    break;
  case PQ_FT_MAX_STREAMS_BIDI:
  case PQ_FT_MAX_STREAMS_UNI:
    put(q, "\"max_streams\",\"stream_type\":\"%s\",\"maximum\":%llu",
        f->type == PQ_FT_MAX_STREAMS_BIDI ? "bidirectional" : "unidirectional",
        (unsigned long long)f->u.max_streams.value);
    break;
  case PQ_FT_DATA_BLOCKED:
    put(q, "\"data_blocked\",\"limit\":%llu", (unsigned long long)f->u.data_blocked.value);
    break;
  case PQ_FT_STREAM_DATA_BLOCKED:
    put(q, "\"stream_data_blocked\",\"stream_id\":%llu,\"limit\":%llu",
        (unsigned long long)f->u.stream_data_blocked.stream_id,
        (unsigned long long)f->u.stream_data_blocked.value);
    break;
  case PQ_FT_STREAMS_BLOCKED_BIDI:
  case PQ_FT_STREAMS_BLOCKED_UNI:
    put(q, "\"streams_blocked\",\"stream_type\":\"%s\",\"limit\":%llu",
        f->type == PQ_FT_STREAMS_BLOCKED_BIDI ? "bidirectional" : "unidirectional",
        (unsigned long long)f->u.streams_blocked.value);
    break;
  case PQ_FT_NEW_CONNECTION_ID:
    put(q, "\"new_connection_id\",\"sequence_number\":%llu,\"retire_prior_to\":%llu,"
        "\"connection_id_length\":%u,\"connection_id\":",
        (unsigned long long)f->u.new_cid.seq, (unsigned long long)f->u.new_cid.retire_prior_to,
        f->u.new_cid.cid_len);
    put_hex(q, f->u.new_cid.cid, f->u.new_cid.cid_len);
    put(q, ",\"stateless_reset_token\":");
    put_hex(q, f->u.new_cid.reset_token, PQ_RESET_TOKEN_LEN);
    break;
  case PQ_FT_RETIRE_CONNECTION_ID:
    put(q, "\"retire_connection_id\",\"sequence_number\":%llu",
        (unsigned long long)f->u.retire_cid.value);
    break;
  case PQ_FT_PATH_CHALLENGE:
  case PQ_FT_PATH_RESPONSE:
    put(q, "\"%s\",\"data\":",
        f->type == PQ_FT_PATH_CHALLENGE ? "path_challenge" : "path_response");
    put_hex(q, f->u.path.data, sizeof(f->u.path.data));
    break;
  case PQ_FT_CONNECTION_CLOSE:
  case PQ_FT_CONNECTION_CLOSE_APP: frame_close(q, f); break;
  case PQ_FT_HANDSHAKE_DONE: put(q, "\"handshake_done\""); break;
  case PQ_FT_DATAGRAM:
  case PQ_FT_DATAGRAM_LEN:
    put(q, "\"datagram\",\"length\":%llu", (unsigned long long)f->u.datagram.len);
    break;
  default: put(q, "\"unknown\",\"raw_frame_type\":%llu", (unsigned long long)f->type); break;
  }
  put(q, "}");
}

/* The frames of a plaintext payload, as a JSON array body. */
static void frames(pq_conn *c, const uint8_t *p, size_t len, bool sent) {
  pq_qlog *q = c->qlog;
  bool first = true;
  while (len > 0) {
    pq_frame f;
    ssize_t n = pq_frame_parse(&f, p, len);
    if (!first) put(q, ",");
    first = false;
    if (n <= 0) { /* a plugin's frame or garbage: its type, then stop */
      uint64_t type = 0;
      ssize_t tl = pq_frame_read_type(p, len, &type);
      if (tl > 0) put(q, "{\"frame_type\":\"unknown\",\"raw_frame_type\":%llu}",
                      (unsigned long long)type);
      else put(q, "{\"frame_type\":\"unknown\"}");
      return;
    }
    frame(c, &f, sent);
    p += n;
    len -= (size_t)n;
  }
}

/* ---- events ---- */

void pq_qlog_packet(pq_conn *c, bool sent, pq_pnspace s, uint64_t pn, const uint8_t *payload,
                    size_t len, size_t raw_len, pq_tstamp now) {
  pq_qlog *q = c->qlog;
  begin(c, sent ? "transport:packet_sent" : "transport:packet_received", now);
  put(q, "{\"header\":{\"packet_type\":\"%s\",\"packet_number\":%llu},\"raw\":{\"length\":%zu,"
      "\"payload_length\":%zu},\"frames\":[", packet_type(c, s), (unsigned long long)pn, raw_len,
      len);
  frames(c, payload, len, sent);
  put(q, "]}");
  emit(c);
}

void pq_qlog_lost(pq_conn *c, pq_pnspace s, uint64_t pn, pq_tstamp now) {
  begin(c, "recovery:packet_lost", now);
  put(c->qlog, "{\"header\":{\"packet_type\":\"%s\",\"packet_number\":%llu}}", packet_type(c, s),
      (unsigned long long)pn);
  emit(c);
}

void pq_qlog_peer_params(pq_conn *c) {
  pq_qlog *q = c->qlog;
  const pq_tp *tp = &c->peer_tp;
  begin(c, "transport:parameters_set", q->now);
  put(q, "{\"owner\":\"remote\"");
  if (tp->has_initial_scid) {
    put(q, ",\"initial_source_connection_id\":");
    put_hex(q, tp->initial_scid.data, tp->initial_scid.len);
  }
  if (tp->has_original_dcid) {
    put(q, ",\"original_destination_connection_id\":");
    put_hex(q, tp->original_dcid.data, tp->original_dcid.len);
  }
  if (tp->has_retry_scid) {
    put(q, ",\"retry_source_connection_id\":");
    put_hex(q, tp->retry_scid.data, tp->retry_scid.len);
  }
  if (tp->has_stateless_reset_token) {
    put(q, ",\"stateless_reset_token\":");
    put_hex(q, tp->stateless_reset_token, sizeof(tp->stateless_reset_token));
  }
  put(q, ",\"disable_active_migration\":%s,\"max_idle_timeout\":%llu,"
      "\"max_udp_payload_size\":%llu,\"ack_delay_exponent\":%llu,\"max_ack_delay\":%llu,"
      "\"active_connection_id_limit\":%llu,\"initial_max_data\":%llu,"
      "\"initial_max_stream_data_bidi_local\":%llu,"
      "\"initial_max_stream_data_bidi_remote\":%llu,\"initial_max_stream_data_uni\":%llu,"
      "\"initial_max_streams_bidi\":%llu,\"initial_max_streams_uni\":%llu}",
      tp->disable_active_migration ? "true" : "false",
      (unsigned long long)tp->max_idle_timeout, (unsigned long long)tp->max_udp_payload_size,
      (unsigned long long)tp->ack_delay_exponent, (unsigned long long)tp->max_ack_delay,
      (unsigned long long)tp->active_connection_id_limit,
      (unsigned long long)tp->initial_max_data,
      (unsigned long long)tp->initial_max_stream_data_bidi_local,
      (unsigned long long)tp->initial_max_stream_data_bidi_remote,
      (unsigned long long)tp->initial_max_stream_data_uni,
      (unsigned long long)tp->initial_max_streams_bidi,
      (unsigned long long)tp->initial_max_streams_uni);
  emit(c);
}

static const char *conn_state(const pq_conn *c) {
  switch (c->state) {
  case PQ_CS_CLOSING: return "closing";
  case PQ_CS_DRAINING: return "draining";
  case PQ_CS_CLOSED: return "closed";
  default: break;
  }
  if (c->hs_confirmed) return "handshake_confirmed";
  if (c->hs_complete) return "handshake_complete";
  if (!c->is_server && c->stats.packets_received == 0) return "attempted";
  return "handshake_started";
}

/* Our congestion controller's phase. Recovery is not a flag of pq_cc: it is taken to
 * last one smoothed RTT after its start (the time until the first packet sent after
 * it is acknowledged). "application_limited" is left out: pq_cc's flag changes with
 * nearly every pq_conn_write, which would bury the phases under it. */
static const char *cc_state(const pq_conn *c, pq_tstamp now) {
  const pq_cc *cc = &c->cc;
  if (cc->has_recovery_start && now >= cc->recovery_start &&
      now - cc->recovery_start < (c->rec.rtt.has_sample ? c->rec.rtt.smoothed : 0))
    return "recovery";
  return cc->cwnd < cc->ssthresh ? "slow_start" : "congestion_avoidance";
}

static void state_events(pq_conn *c, pq_tstamp now) {
  pq_qlog *q = c->qlog;
  const char *cs = conn_state(c), *ccs = cc_state(c, now);
  if (cs != q->conn_state) {
    begin(c, "connectivity:connection_state_updated", now);
    if (q->conn_state) put(q, "{\"old\":\"%s\",\"new\":\"%s\"}", q->conn_state, cs);
    else put(q, "{\"new\":\"%s\"}", cs);
    emit(c);
    q->conn_state = cs;
  }
  if (ccs != q->cc_state && c->state < PQ_CS_CLOSING) {
    begin(c, "recovery:congestion_state_updated", now);
    if (q->cc_state) put(q, "{\"old\":\"%s\",\"new\":\"%s\"}", q->cc_state, ccs);
    else put(q, "{\"new\":\"%s\"}", ccs);
    emit(c);
    q->cc_state = ccs;
  }
}

void pq_qlog_tick(pq_conn *c, pq_tstamp now) {
  static const char *const names[M_N] = {"min_rtt",          "smoothed_rtt",    "latest_rtt",
                                         "rtt_variance",     "congestion_window",
                                         "bytes_in_flight",  "ssthresh",        "pacing_rate"};
  pq_qlog *q = c->qlog;
  const pq_rtt *rtt = &c->rec.rtt;
  uint64_t m[M_N];
  bool any = false;
  state_events(c, now);
  if (c->state >= PQ_CS_CLOSING) return;
  m[M_MIN_RTT] = rtt->has_sample ? rtt->min : 0;
  m[M_SRTT] = rtt->smoothed;
  m[M_LATEST] = rtt->has_sample ? rtt->latest : 0;
  m[M_RTTVAR] = rtt->var;
  m[M_CWND] = c->cc.cwnd;
  m[M_INFLIGHT] = c->cc.bytes_in_flight;
  m[M_SSTHRESH] = c->cc.ssthresh;
  /* The pacer's rate (pq_pacer: 1.25 * cwnd / smoothed RTT), in bits per second. */
  m[M_PACING] = c->settings.pacing && rtt->has_sample && rtt->smoothed
                    ? (uint64_t)((double)c->cc.cwnd * 8 * 1.25 * 1e9 / (double)rtt->smoothed)
                    : 0;
  for (int i = 0; i < M_N; i++) {
    bool changed = !q->metrics_logged || m[i] != q->metrics[i];
    /* No RTT sample, no slow start threshold or pacing yet: nothing to show. */
    bool known = !(i == M_MIN_RTT || i == M_LATEST || i == M_PACING) || m[i] != 0;
    if (i == M_SSTHRESH && m[i] == UINT64_MAX) known = false;
    if (!changed || !known) continue;
    if (!any) begin(c, "recovery:metrics_updated", now);
    put(q, "%s\"%s\":", any ? "," : "{", names[i]);
    if (i <= M_RTTVAR) put(q, "%.3f", ms(m[i]));
    else put(q, "%llu", (unsigned long long)m[i]);
    any = true;
  }
  memcpy(q->metrics, m, sizeof(m));
  q->metrics_logged = true;
  if (!any) return;
  put(q, "}");
  emit(c);
}
