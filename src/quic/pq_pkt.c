/*
 * pq_pkt.c: QUIC packet headers, packet numbers and whole-packet protection.
 */
#include "pq_pkt.h"

#include <string.h>

#include "pq_varint.h"

#define FORM_LONG 0x80
#define FIXED_BIT 0x40

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint8_t *wr32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
  return p + 4;
}

/* Reads a 1-byte length then that many bytes, at most |max|. Returns 0 or DROP. */
static int read_cid(const uint8_t *buf, size_t len, size_t *off, size_t max,
                    const uint8_t **cid, size_t *cid_len) {
  if (*off >= len) return PQ_ERR_DROP;
  size_t n = buf[(*off)++];
  if (n > max || len - *off < n) return PQ_ERR_DROP;
  *cid = buf + *off;
  *cid_len = n;
  *off += n;
  return 0;
}

/* Long header type bits: v1 uses the pq_pkt_type order; v2 (RFC 9369 §3.2) rotates it
 * (Initial 1, 0-RTT 2, Handshake 3, Retry 0). */
static pq_pkt_type type_from_wire(uint32_t version, unsigned bits) {
  return (pq_pkt_type)(version == PQ_VERSION_2 ? (bits + 3) % 4 : bits);
}

static unsigned type_to_wire(uint32_t version, pq_pkt_type type) {
  return version == PQ_VERSION_2 ? ((unsigned)type + 1) % 4 : (unsigned)type;
}

static int parse_version_negotiation(const uint8_t *buf, size_t len, size_t off,
                                     pq_pkt_hdr *h) {
  size_t rest = len - off;
  if (rest == 0 || rest % 4) return PQ_ERR_DROP;
  h->type = PQ_PKT_VERSION_NEGOTIATION;
  h->vn_versions = buf + off;
  h->vn_count = rest / 4;
  h->len = len;
  return 0;
}

/* The type-specific part of a v1/v2 long header, from |off| (after the SCID). */
static int parse_long(const uint8_t *buf, size_t len, size_t off, pq_pkt_hdr *h) {
  uint64_t v;
  size_t n;
  if (!(buf[0] & FIXED_BIT)) return PQ_ERR_DROP;
  h->type = type_from_wire(h->version, (buf[0] >> 4) & 3);
  if (h->type == PQ_PKT_RETRY) {
    if (len - off < PQ_AEAD_TAG_LEN) return PQ_ERR_DROP;
    h->token = buf + off;
    h->token_len = len - off - PQ_AEAD_TAG_LEN;
    h->len = len;
    return 0;
  }
  if (h->type == PQ_PKT_INITIAL) {
    if (!(n = pq_varint_read(buf + off, buf + len, &v))) return PQ_ERR_DROP;
    off += n;
    if (v > len - off) return PQ_ERR_DROP;
    h->token = buf + off;
    h->token_len = (size_t)v;
    off += (size_t)v;
  }
  if (!(n = pq_varint_read(buf + off, buf + len, &v))) return PQ_ERR_DROP;
  off += n;
  if (v > len - off) return PQ_ERR_DROP;
  h->pn_offset = off;
  h->len = off + (size_t)v;
  return 0;
}

int pq_pkt_parse(const uint8_t *buf, size_t len, size_t short_dcid_len, pq_pkt_hdr *h) {
  size_t off;
  int rv;
  memset(h, 0, sizeof(*h));
  if (!buf || len == 0) return PQ_ERR_DROP;
  if (!(buf[0] & FORM_LONG)) {
    if (!(buf[0] & FIXED_BIT) || short_dcid_len > PQ_MAX_CID_LEN ||
        len < 1 + short_dcid_len)
      return PQ_ERR_DROP;
    h->type = PQ_PKT_1RTT;
    h->dcid = buf + 1;
    h->dcid_len = short_dcid_len;
    h->pn_offset = 1 + short_dcid_len;
    h->len = len;
    return 0;
  }
  if (len < 7) return PQ_ERR_DROP; /* first byte, version, two CID lengths at least */
  h->version = rd32(buf + 1);
  off = 5;
  /* CIDs of other versions may be up to 255 bytes (RFC 8999 §5.1). */
  size_t max = pq_version_is_supported(h->version) ? PQ_MAX_CID_LEN : 255;
  if ((rv = read_cid(buf, len, &off, max, &h->dcid, &h->dcid_len)) < 0) return rv;
  if ((rv = read_cid(buf, len, &off, max, &h->scid, &h->scid_len)) < 0) return rv;
  if (h->version == 0) return parse_version_negotiation(buf, len, off, h);
  if (!pq_version_is_supported(h->version)) {
    h->type = PQ_PKT_UNSUPPORTED_VERSION;
    h->len = len;
    return 0;
  }
  return parse_long(buf, len, off, h);
}

int pq_pkt_split(const uint8_t *dgram, size_t len, size_t short_dcid_len, pq_pkt_hdr *hdrs,
                 size_t max) {
  size_t off = 0, n = 0;
  while (off < len && n < max && n < (size_t)INT32_MAX) {
    if (pq_pkt_parse(dgram + off, len - off, short_dcid_len, &hdrs[n]) < 0) break;
    off += hdrs[n].len;
    n++;
  }
  return (int)n;
}

/* ---- packet numbers ---------------------------------------------------------------- */

size_t pq_pkt_pn_len(uint64_t pn, uint64_t largest_acked) {
  uint64_t unacked = largest_acked == PQ_PN_NONE || pn <= largest_acked
                         ? pn + 1
                         : pn - largest_acked;
  /* The encoding must cover at least twice the unacknowledged range: 2n <= 2^(8b). */
  for (size_t b = 1; b < 4; b++)
    if (unacked <= (UINT64_C(1) << (8 * b - 1))) return b;
  return 4;
}

uint64_t pq_pkt_decode_pn(uint64_t largest_pn, uint64_t truncated, size_t pn_nbits) {
  uint64_t expected = largest_pn == PQ_PN_NONE ? 0 : largest_pn + 1;
  uint64_t win = (uint64_t)1 << pn_nbits, hwin = win / 2, mask = win - 1;
  uint64_t cand = (expected & ~mask) | (truncated & mask);
  if (expected >= hwin && cand <= expected - hwin && cand < ((uint64_t)1 << 62) - win)
    return cand + win;
  if (cand > expected + hwin && cand >= win) return cand - win;
  return cand;
}

/* ---- protection -------------------------------------------------------------------- */

static int has_pn(pq_pkt_type t) {
  return t == PQ_PKT_INITIAL || t == PQ_PKT_0RTT || t == PQ_PKT_HANDSHAKE || t == PQ_PKT_1RTT;
}

int pq_pkt_unprotect(uint8_t *pkt, pq_pkt_hdr *h, const pq_hp *hp, uint64_t largest_pn) {
  uint8_t mask[PQ_HP_MASK_LEN];
  if (!has_pn(h->type)) return PQ_ERR_INVALID_ARG;
  /* The sample starts 4 bytes after the packet number's start (RFC 9001 §5.4.2). */
  if (h->len < h->pn_offset || h->len - h->pn_offset < 4 + PQ_HP_SAMPLE_LEN)
    return PQ_ERR_DROP;
  pq_hp_mask(hp, pkt + h->pn_offset + 4, mask);
  int is_long = h->type != PQ_PKT_1RTT;
  uint8_t first = pkt[0] ^ (mask[0] & (is_long ? 0x0f : 0x1f));
  pkt[0] = first;
  size_t pn_len = (size_t)(first & 3) + 1;
  uint64_t trunc = 0;
  for (size_t i = 0; i < pn_len; i++) {
    pkt[h->pn_offset + i] ^= mask[1 + i];
    trunc = trunc << 8 | pkt[h->pn_offset + i];
  }
  h->first = first;
  h->pn_len = pn_len;
  h->hdr_len = h->pn_offset + pn_len;
  h->pn = pq_pkt_decode_pn(largest_pn, trunc, pn_len * 8);
  h->key_phase = is_long ? 0 : (first >> 2) & 1;
  h->spin = is_long ? 0 : (first >> 5) & 1;
  h->reserved = is_long ? (first >> 2) & 3 : (first >> 3) & 3;
  return 0;
}

int pq_pkt_decrypt(uint8_t *pkt, pq_pkt_hdr *h, pq_aead *aead) {
  if (h->hdr_len == 0 || h->hdr_len > h->len) return PQ_ERR_INVALID_ARG;
  int n = pq_aead_open(aead, h->pn, pkt, h->hdr_len, pkt + h->hdr_len, h->len - h->hdr_len);
  if (n < 0) return n;
  h->payload = pkt + h->hdr_len;
  h->payload_len = (size_t)n;
  return 0;
}

/* ---- building ----------------------------------------------------------------------- */

int pq_pkt_write_header(uint8_t *buf, size_t cap, const pq_pkt_build *b, pq_pkt_hdr *h) {
  size_t off = 0;
  memset(h, 0, sizeof(*h));
  if (!has_pn(b->type) || b->pn_len < 1 || b->pn_len > 4 || b->pn > PQ_PN_MAX ||
      b->dcid_len > PQ_MAX_CID_LEN || (b->dcid_len && !b->dcid))
    return PQ_ERR_INVALID_ARG;
  if (b->type == PQ_PKT_1RTT) {
    if (cap < 1 + b->dcid_len + b->pn_len) return PQ_ERR_NOBUF;
    buf[off++] = (uint8_t)(FIXED_BIT | (b->spin ? 0x20 : 0) | (b->key_phase ? 0x04 : 0) |
                           (b->pn_len - 1));
    if (b->dcid_len) memcpy(buf + off, b->dcid, b->dcid_len);
    off += b->dcid_len;
  } else {
    size_t tok = b->type == PQ_PKT_INITIAL ? b->token_len : 0;
    if (!pq_version_is_supported(b->version) || b->scid_len > PQ_MAX_CID_LEN ||
        (b->scid_len && !b->scid) || (tok && !b->token) || tok > PQ_VARINT_MAX)
      return PQ_ERR_INVALID_ARG;
    size_t need = 7 + b->dcid_len + b->scid_len + b->pn_len + 2;
    if (b->type == PQ_PKT_INITIAL) need += pq_varint_len(tok) + tok;
    if (cap < need) return PQ_ERR_NOBUF;
    buf[off++] = (uint8_t)(FORM_LONG | FIXED_BIT | (type_to_wire(b->version, b->type) << 4) |
                           (b->pn_len - 1));
    wr32(buf + off, b->version);
    off += 4;
    buf[off++] = (uint8_t)b->dcid_len;
    if (b->dcid_len) memcpy(buf + off, b->dcid, b->dcid_len);
    off += b->dcid_len;
    buf[off++] = (uint8_t)b->scid_len;
    if (b->scid_len) memcpy(buf + off, b->scid, b->scid_len);
    off += b->scid_len;
    if (b->type == PQ_PKT_INITIAL) {
      off = (size_t)(pq_varint_write(buf + off, tok) - buf);
      if (tok) memcpy(buf + off, b->token, tok);
      off += tok;
    }
    h->length_offset = off;
    /* 2 bytes hold lengths up to 16383; bigger buffers get 4. */
    h->length_size = cap - off > 16383 + 2 ? 4 : 2;
    if (cap - off < h->length_size + b->pn_len) return PQ_ERR_NOBUF;
    off += h->length_size;
  }
  h->pn_offset = off;
  for (size_t i = 0; i < b->pn_len; i++)
    buf[off + i] = (uint8_t)(b->pn >> (8 * (b->pn_len - 1 - i)));
  off += b->pn_len;
  h->type = b->type;
  h->version = b->type == PQ_PKT_1RTT ? 0 : b->version;
  h->pn = b->pn;
  h->pn_len = b->pn_len;
  h->hdr_len = off;
  h->first = buf[0];
  return (int)off;
}

int pq_pkt_seal(uint8_t *buf, size_t cap, const pq_pkt_hdr *h, size_t payload_len,
                pq_aead *aead, const pq_hp *hp) {
  uint8_t mask[PQ_HP_MASK_LEN];
  if (!has_pn(h->type) || h->hdr_len == 0 || h->hdr_len != h->pn_offset + h->pn_len ||
      h->hdr_len > cap)
    return PQ_ERR_INVALID_ARG;
  /* The sample needs 4 bytes of packet number + payload before it (RFC 9001 §5.4.2). */
  size_t pad = h->pn_len + payload_len < 4 ? 4 - h->pn_len - payload_len : 0;
  if (cap - h->hdr_len < payload_len || cap - h->hdr_len - payload_len < pad + PQ_AEAD_TAG_LEN)
    return PQ_ERR_NOBUF;
  memset(buf + h->hdr_len + payload_len, 0, pad);
  payload_len += pad;
  size_t total = h->hdr_len + payload_len + PQ_AEAD_TAG_LEN;
  if (h->type != PQ_PKT_1RTT) {
    uint64_t length = h->pn_len + payload_len + PQ_AEAD_TAG_LEN;
    if (h->length_size != 2 && h->length_size != 4) return PQ_ERR_INVALID_ARG;
    if (h->length_size == 2 && length > 16383) return PQ_ERR_NOBUF;
    pq_varint_write_n(buf + h->length_offset, length, h->length_size);
  }
  int n = pq_aead_seal(aead, h->pn, buf, h->hdr_len, buf + h->hdr_len, payload_len);
  if (n < 0) return n;
  pq_hp_mask(hp, buf + h->pn_offset + 4, mask);
  buf[0] ^= mask[0] & (h->type == PQ_PKT_1RTT ? 0x1f : 0x0f);
  for (size_t i = 0; i < h->pn_len; i++) buf[h->pn_offset + i] ^= mask[1 + i];
  return (int)total;
}

/* ---- Version Negotiation, Retry, Stateless Reset -------------------------------------- */

int pq_pkt_write_version_negotiation(uint8_t *buf, size_t cap, const uint8_t *dcid,
                                     size_t dcid_len, const uint8_t *scid, size_t scid_len,
                                     const uint32_t *versions, size_t n, uint8_t unused) {
  if (n == 0 || !versions || dcid_len > 255 || scid_len > 255 || (dcid_len && !dcid) ||
      (scid_len && !scid) || n > (SIZE_MAX - 600) / 4)
    return PQ_ERR_INVALID_ARG;
  size_t need = 7 + dcid_len + scid_len + 4 * n;
  if (cap < need) return PQ_ERR_NOBUF;
  if (need > INT32_MAX) return PQ_ERR_INVALID_ARG;
  uint8_t *p = buf;
  *p++ = (uint8_t)(FORM_LONG | (unused & 0x7f));
  p = wr32(p, 0);
  *p++ = (uint8_t)dcid_len;
  if (dcid_len) memcpy(p, dcid, dcid_len);
  p += dcid_len;
  *p++ = (uint8_t)scid_len;
  if (scid_len) memcpy(p, scid, scid_len);
  p += scid_len;
  for (size_t i = 0; i < n; i++) p = wr32(p, versions[i]);
  return (int)need;
}

uint32_t pq_pkt_vn_version(const pq_pkt_hdr *h, size_t i) {
  return i < h->vn_count ? rd32(h->vn_versions + 4 * i) : 0;
}

int pq_pkt_write_retry(uint8_t *buf, size_t cap, uint32_t version, const uint8_t *dcid,
                       size_t dcid_len, const uint8_t *scid, size_t scid_len,
                       const uint8_t *token, size_t token_len, const uint8_t *odcid,
                       size_t odcid_len, uint8_t unused) {
  if (!pq_version_is_supported(version) || dcid_len > PQ_MAX_CID_LEN ||
      scid_len > PQ_MAX_CID_LEN ||
      odcid_len > PQ_MAX_CID_LEN || token_len == 0 || !token || (dcid_len && !dcid) ||
      (scid_len && !scid) || token_len > INT32_MAX / 2)
    return PQ_ERR_INVALID_ARG;
  size_t need = 7 + dcid_len + scid_len + token_len + PQ_AEAD_TAG_LEN;
  if (cap < need) return PQ_ERR_NOBUF;
  uint8_t *p = buf;
  *p++ = (uint8_t)(FORM_LONG | FIXED_BIT | (type_to_wire(version, PQ_PKT_RETRY) << 4) |
                   (unused & 0x0f));
  p = wr32(p, version);
  *p++ = (uint8_t)dcid_len;
  if (dcid_len) memcpy(p, dcid, dcid_len);
  p += dcid_len;
  *p++ = (uint8_t)scid_len;
  if (scid_len) memcpy(p, scid, scid_len);
  p += scid_len;
  memcpy(p, token, token_len);
  p += token_len;
  int rv = pq_retry_tag(version, odcid, odcid_len, buf, (size_t)(p - buf), p);
  return rv < 0 ? rv : (int)need;
}

int pq_pkt_verify_retry(const uint8_t *pkt, size_t len, const uint8_t *odcid,
                        size_t odcid_len) {
  uint8_t tag[PQ_AEAD_TAG_LEN];
  if (!pkt || len < 7 + PQ_AEAD_TAG_LEN || odcid_len > PQ_MAX_CID_LEN) return PQ_ERR_DROP;
  if (pq_retry_tag(rd32(pkt + 1), odcid, odcid_len, pkt, len - PQ_AEAD_TAG_LEN, tag) < 0)
    return PQ_ERR_DROP;
  return pq_ct_equal(tag, pkt + len - PQ_AEAD_TAG_LEN, PQ_AEAD_TAG_LEN) ? 0 : PQ_ERR_DROP;
}

int pq_pkt_is_stateless_reset(const uint8_t *dgram, size_t len,
                              const uint8_t token[PQ_STATELESS_RESET_TOKEN_LEN]) {
  if (!dgram || !token || len < PQ_MIN_STATELESS_RESET_LEN) return 0;
  return pq_ct_equal(dgram + len - PQ_STATELESS_RESET_TOKEN_LEN, token,
                     PQ_STATELESS_RESET_TOKEN_LEN);
}

int pq_pkt_write_stateless_reset(uint8_t *buf, size_t cap, size_t len,
                                 const uint8_t token[PQ_STATELESS_RESET_TOKEN_LEN]) {
  if (!token || len < PQ_MIN_STATELESS_RESET_LEN || len > INT32_MAX)
    return PQ_ERR_INVALID_ARG;
  if (len > cap) return PQ_ERR_NOBUF;
  size_t rnd = len - PQ_STATELESS_RESET_TOKEN_LEN;
  if (pq_random(buf, rnd) < 0) return PQ_ERR_TLS;
  buf[0] = (uint8_t)((buf[0] & 0x3f) | FIXED_BIT); /* short header form, fixed bit */
  memcpy(buf + rnd, token, PQ_STATELESS_RESET_TOKEN_LEN);
  return (int)len;
}
