/*
 * pq_tp.c: transport parameter codec and its table (see pq_tp.h).
 */
#include "pq_tp.h"

#include <stddef.h>
#include <string.h>

#include "pq_varint.h"

#define TPE PQ_ERR_TRANSPORT_PARAMETER

void pq_tp_default(pq_tp *tp) {
  memset(tp, 0, sizeof(*tp));
  tp->max_udp_payload_size = PQ_TP_DEFAULT_MAX_UDP_PAYLOAD_SIZE;
  tp->ack_delay_exponent = PQ_TP_DEFAULT_ACK_DELAY_EXPONENT;
  tp->max_ack_delay = PQ_TP_DEFAULT_MAX_ACK_DELAY;
  tp->active_connection_id_limit = PQ_TP_DEFAULT_ACTIVE_CONNECTION_ID_LIMIT;
}

ssize_t pq_tp_write_param(uint8_t *buf, size_t len, uint64_t id, const uint8_t *val,
                          size_t vlen) {
  size_t il = pq_varint_len(id), ll = pq_varint_len(vlen), need;
  uint8_t *p;
  if (il == 0 || ll == 0) return PQ_ERR_INVALID_ARG;
  need = il + ll + vlen;
  if (need > len) return PQ_ERR_NOBUF;
  p = pq_varint_write(buf, id);
  p = pq_varint_write(p, vlen);
  if (vlen) memcpy(p, val, vlen);
  return (ssize_t)need;
}

ssize_t pq_tp_write_int_param(uint8_t *buf, size_t len, uint64_t id, uint64_t v) {
  uint8_t tmp[8];
  size_t n = pq_varint_len(v);
  if (n == 0) return PQ_ERR_INVALID_ARG;
  pq_varint_write(tmp, v);
  return pq_tp_write_param(buf, len, id, tmp, n);
}

/* ---- integer parameters: one varint filling the whole value, within [min, max] ---- */

static uint64_t *int_field(const pq_tp_def *d, pq_tp *tp) {
  return (uint64_t *)((char *)tp + d->field);
}

static int int_decode(const pq_tp_def *d, pq_tp *tp, const uint8_t *val, size_t len) {
  uint64_t v;
  size_t n = pq_varint_read(val, val + len, &v);
  if (n == 0 || n != len) return TPE;
  if (v < d->min || v > d->max) return TPE;
  *int_field(d, tp) = v;
  return 0;
}

static ssize_t int_encode(const pq_tp_def *d, const pq_tp *tp, uint8_t *buf, size_t len) {
  uint64_t v = *int_field(d, (pq_tp *)tp);
  if (v == d->def_value) return 0; /* the peer assumes the default */
  if (v < d->min || v > d->max) return PQ_ERR_INVALID_ARG;
  return pq_tp_write_int_param(buf, len, d->id, v);
}

/* ---- connection ids ---- */

static bool *has_field(const pq_tp_def *d, pq_tp *tp) {
  return (bool *)((char *)tp + d->has_field);
}

static int cid_decode(const pq_tp_def *d, pq_tp *tp, const uint8_t *val, size_t len) {
  pq_tp_cid *c = (pq_tp_cid *)((char *)tp + d->field);
  if (len > PQ_TP_MAX_CID_LEN) return TPE;
  c->len = (uint8_t)len;
  if (len) memcpy(c->data, val, len);
  *has_field(d, tp) = true;
  return 0;
}

static ssize_t cid_encode(const pq_tp_def *d, const pq_tp *tp, uint8_t *buf, size_t len) {
  const pq_tp_cid *c = (const pq_tp_cid *)((const char *)tp + d->field);
  if (!*has_field(d, (pq_tp *)tp)) return 0;
  if (c->len > PQ_TP_MAX_CID_LEN) return PQ_ERR_INVALID_ARG;
  return pq_tp_write_param(buf, len, d->id, c->data, c->len);
}

/* ---- stateless_reset_token: exactly 16 bytes ---- */

static int token_decode(const pq_tp_def *d, pq_tp *tp, const uint8_t *val, size_t len) {
  if (len != 16) return TPE;
  memcpy(tp->stateless_reset_token, val, 16);
  tp->has_stateless_reset_token = true;
  return 0;
}

static ssize_t token_encode(const pq_tp_def *d, const pq_tp *tp, uint8_t *buf, size_t len) {
  if (!tp->has_stateless_reset_token) return 0;
  return pq_tp_write_param(buf, len, d->id, tp->stateless_reset_token, 16);
}

/* ---- disable_active_migration: zero-length value ---- */

static int flag_decode(const pq_tp_def *d, pq_tp *tp, const uint8_t *val, size_t len) {
  if (len != 0) return TPE;
  tp->disable_active_migration = true;
  return 0;
}

static ssize_t flag_encode(const pq_tp_def *d, const pq_tp *tp, uint8_t *buf, size_t len) {
  if (!tp->disable_active_migration) return 0;
  return pq_tp_write_param(buf, len, d->id, NULL, 0);
}

/* ---- preferred_address: 4+2 + 16+2 + 1+cid + 16 bytes ---- */

static int prefaddr_decode(const pq_tp_def *d, pq_tp *tp, const uint8_t *val, size_t len) {
  pq_tp_preferred_address *a = &tp->preferred_address;
  size_t cl;
  if (len < 4 + 2 + 16 + 2 + 1) return TPE;
  cl = val[24];
  /* A zero-length id here is forbidden (§18.2), and so is anything over 20 bytes. */
  if (cl == 0 || cl > PQ_TP_MAX_CID_LEN || len != 25 + cl + 16) return TPE;
  memcpy(a->ipv4, val, 4);
  a->ipv4_port = (uint16_t)(val[4] << 8 | val[5]);
  memcpy(a->ipv6, val + 6, 16);
  a->ipv6_port = (uint16_t)(val[22] << 8 | val[23]);
  a->cid.len = (uint8_t)cl;
  memcpy(a->cid.data, val + 25, cl);
  memcpy(a->reset_token, val + 25 + cl, 16);
  tp->has_preferred_address = true;
  return 0;
}

static ssize_t prefaddr_encode(const pq_tp_def *d, const pq_tp *tp, uint8_t *buf,
                               size_t len) {
  const pq_tp_preferred_address *a = &tp->preferred_address;
  uint8_t v[25 + 20 + 16];
  if (!tp->has_preferred_address) return 0;
  if (a->cid.len == 0 || a->cid.len > PQ_TP_MAX_CID_LEN) return PQ_ERR_INVALID_ARG;
  memcpy(v, a->ipv4, 4);
  v[4] = (uint8_t)(a->ipv4_port >> 8);
  v[5] = (uint8_t)a->ipv4_port;
  memcpy(v + 6, a->ipv6, 16);
  v[22] = (uint8_t)(a->ipv6_port >> 8);
  v[23] = (uint8_t)a->ipv6_port;
  v[24] = a->cid.len;
  memcpy(v + 25, a->cid.data, a->cid.len);
  memcpy(v + 25 + a->cid.len, a->reset_token, 16);
  return pq_tp_write_param(buf, len, d->id, v, 25 + (size_t)a->cid.len + 16);
}

/* ---- the table ---- */

#define INT_DEF(id, nm, fld, lo, hi, dflt)                                             \
  [id] = {nm, false, int_decode, int_encode, (id), offsetof(pq_tp, fld), 0, (lo), (hi),  \
          (dflt)}
#define CID_DEF(id, nm, srv, fld, has)                                                  \
  [id] = {nm, srv, cid_decode, cid_encode, (id), offsetof(pq_tp, fld),                  \
          offsetof(pq_tp, has), 0, 0, 0}
#define FN_DEF(id, nm, srv, fn) [id] = {nm, srv, fn##_decode, fn##_encode, (id), 0, 0, 0, 0, 0}

static const pq_tp_def tp_table[PQ_TP_TABLE_SIZE] = {
    CID_DEF(PQ_TP_ORIGINAL_DESTINATION_CONNECTION_ID, "original_destination_connection_id", true, original_dcid, has_original_dcid),
    INT_DEF(PQ_TP_MAX_IDLE_TIMEOUT, "max_idle_timeout", max_idle_timeout, 0,
                                       PQ_VARINT_MAX, 0),
    FN_DEF(PQ_TP_STATELESS_RESET_TOKEN, "stateless_reset_token", true, token),
    INT_DEF(PQ_TP_MAX_UDP_PAYLOAD_SIZE, "max_udp_payload_size", max_udp_payload_size,
                                           1200, PQ_VARINT_MAX,
                                           PQ_TP_DEFAULT_MAX_UDP_PAYLOAD_SIZE),
    INT_DEF(PQ_TP_INITIAL_MAX_DATA, "initial_max_data", initial_max_data, 0,
                                       PQ_VARINT_MAX, 0),
    INT_DEF(PQ_TP_INITIAL_MAX_STREAM_DATA_BIDI_LOCAL, "initial_max_stream_data_bidi_local", initial_max_stream_data_bidi_local, 0,
                PQ_VARINT_MAX, 0),
    INT_DEF(PQ_TP_INITIAL_MAX_STREAM_DATA_BIDI_REMOTE, "initial_max_stream_data_bidi_remote", initial_max_stream_data_bidi_remote,
                0, PQ_VARINT_MAX, 0),
    INT_DEF(PQ_TP_INITIAL_MAX_STREAM_DATA_UNI, "initial_max_stream_data_uni", initial_max_stream_data_uni, 0,
                PQ_VARINT_MAX, 0),
    INT_DEF(PQ_TP_INITIAL_MAX_STREAMS_BIDI, "initial_max_streams_bidi",
                                               initial_max_streams_bidi, 0,
                                               UINT64_C(1) << 60, 0),
    INT_DEF(PQ_TP_INITIAL_MAX_STREAMS_UNI, "initial_max_streams_uni",
                                              initial_max_streams_uni, 0,
                                              UINT64_C(1) << 60, 0),
    INT_DEF(PQ_TP_ACK_DELAY_EXPONENT, "ack_delay_exponent", ack_delay_exponent, 0, 20,
                                         PQ_TP_DEFAULT_ACK_DELAY_EXPONENT),
    INT_DEF(PQ_TP_MAX_ACK_DELAY, "max_ack_delay", max_ack_delay, 0,
                                    (UINT64_C(1) << 14) - 1, PQ_TP_DEFAULT_MAX_ACK_DELAY),
    FN_DEF(PQ_TP_DISABLE_ACTIVE_MIGRATION, "disable_active_migration", false, flag),
    FN_DEF(PQ_TP_PREFERRED_ADDRESS, "preferred_address", true, prefaddr),
    INT_DEF(PQ_TP_ACTIVE_CONNECTION_ID_LIMIT, "active_connection_id_limit", active_connection_id_limit, 2, PQ_VARINT_MAX,
                PQ_TP_DEFAULT_ACTIVE_CONNECTION_ID_LIMIT),
    CID_DEF(PQ_TP_INITIAL_SOURCE_CONNECTION_ID, "initial_source_connection_id", false, initial_scid, has_initial_scid),
    CID_DEF(PQ_TP_RETRY_SOURCE_CONNECTION_ID, "retry_source_connection_id", true, retry_scid, has_retry_scid),
    INT_DEF(PQ_TP_MAX_DATAGRAM_FRAME_SIZE, "max_datagram_frame_size",
                                              max_datagram_frame_size, 0, PQ_VARINT_MAX, 0),
};

const pq_tp_def *pq_tp_def_get(uint64_t id) {
  if (id >= PQ_TP_TABLE_SIZE || !tp_table[id].name) return NULL;
  return &tp_table[id];
}

ssize_t pq_tp_encode(const pq_tp *tp, bool is_server, uint8_t *buf, size_t len,
                     const pq_tp_ext *ext) {
  size_t off = 0;
  for (uint64_t id = 0; id < PQ_TP_TABLE_SIZE; id++) {
    const pq_tp_def *d = &tp_table[id];
    ssize_t n;
    if (!d->name || (d->server_only && !is_server)) continue;
    n = d->encode(d, tp, buf + off, len - off);
    if (n < 0) return n;
    off += (size_t)n;
  }
  if (ext && ext->encode) {
    ssize_t n = ext->encode(ext->user, buf + off, len - off);
    if (n < 0) return n;
    if ((size_t)n > len - off) return PQ_ERR_INVALID_ARG;
    off += (size_t)n;
  }
  return (ssize_t)off;
}

int pq_tp_decode(pq_tp *tp, bool from_server, const uint8_t *buf, size_t len,
                 const pq_tp_ext *ext) {
  const uint8_t *p = buf, *end = buf + len;
  pq_tp_default(tp);
  while (p < end) {
    uint64_t id, vlen;
    size_t n;
    int rv;
    if ((n = pq_varint_read(p, end, &id)) == 0) return TPE;
    p += n;
    if ((n = pq_varint_read(p, end, &vlen)) == 0) return TPE;
    p += n;
    if (vlen > (uint64_t)(end - p)) return TPE;
    if (id < PQ_TP_TABLE_SIZE && tp_table[id].name) {
      const pq_tp_def *d = &tp_table[id];
      if (tp->seen & (UINT64_C(1) << id)) return TPE; /* duplicate (§7.4) */
      if (d->server_only && !from_server) return TPE; /* §18.2 */
      rv = d->decode(d, tp, p, (size_t)vlen);
      if (rv < 0) return rv;
      tp->seen |= UINT64_C(1) << id;
    } else if (ext && ext->decode) {
      rv = ext->decode(ext->user, id, p, (size_t)vlen);
      if (rv < 0) return rv;
    }
    p += vlen;
  }
  /* §7.3: both sides authenticate their Initial source id; the server also echoes the
   * client's original destination id. */
  if (!tp->has_initial_scid) return TPE;
  if (from_server && !tp->has_original_dcid) return TPE;
  return 0;
}

ssize_t pq_tp_write_grease(uint8_t *buf, size_t len, uint64_t seed) {
  uint8_t val[15];
  /* N < 2^32 keeps the id well inside the varint range. */
  uint64_t id = 31 * ((seed >> 8) & 0xffffffffu) + 27;
  size_t vlen = (size_t)(seed % 16);
  for (size_t i = 0; i < vlen; i++) val[i] = (uint8_t)(seed >> (i % 8 * 8)) ^ (uint8_t)i;
  return pq_tp_write_param(buf, len, id, val, vlen);
}

int pq_tp_check_0rtt(const pq_tp *remembered, const pq_tp *now) {
  const pq_tp *r = remembered, *n = now;
  if (n->active_connection_id_limit < r->active_connection_id_limit ||
      n->initial_max_data < r->initial_max_data ||
      n->initial_max_stream_data_bidi_local < r->initial_max_stream_data_bidi_local ||
      n->initial_max_stream_data_bidi_remote < r->initial_max_stream_data_bidi_remote ||
      n->initial_max_stream_data_uni < r->initial_max_stream_data_uni ||
      n->initial_max_streams_bidi < r->initial_max_streams_bidi ||
      n->initial_max_streams_uni < r->initial_max_streams_uni ||
      n->max_datagram_frame_size < r->max_datagram_frame_size)
    return PQ_ERR_PROTOCOL_VIOLATION;
  return 0;
}
