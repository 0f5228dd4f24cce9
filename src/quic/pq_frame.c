/*
 * pq_frame.c: frame decoders, encoders and the frame table (see pq_frame.h).
 *
 * Each frame has three static functions: <name>_parse (body after the type),
 * <name>_len (exact wire length, 0 if unencodable) and <name>_write. Writers call their
 * _len first, so a frame is either written whole or not at all (NOBUF / INVALID_ARG).
 */
#include "pq_frame.h"

#include <string.h>

#include "pq_varint.h"

/* ---- reading helpers: |p| advances through [p, end); failure = FRAME_ENCODING ---- */

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define BE32(x) (x)
#define BE64(x) (x)
#else
#define BE32(x) __builtin_bswap32(x)
#define BE64(x) __builtin_bswap64(x)
#endif

/* pq_varint_read with one load per size class instead of a byte loop: ACK parsing and
 * iteration are mostly varint reads. Returns bytes read, 0 if truncated. */
static inline size_t rd_varint(const uint8_t *p, const uint8_t *end, uint64_t *out) {
  uint32_t v32;
  uint64_t v64;
  if (p >= end) return 0;
  switch (p[0] >> 6) {
    case 0:
      *out = p[0];
      return 1;
    case 1:
      if (end - p < 2) return 0;
      *out = (uint64_t)(p[0] & 0x3f) << 8 | p[1];
      return 2;
    case 2:
      if (end - p < 4) return 0;
      memcpy(&v32, p, 4);
      *out = BE32(v32) & 0x3fffffffu;
      return 4;
    default:
      if (end - p < 8) return 0;
      memcpy(&v64, p, 8);
      *out = BE64(v64) & PQ_VARINT_MAX;
      return 8;
  }
}

#define RD_VARINT(v)                                      \
  do {                                                    \
    size_t n_ = rd_varint(p, end, &(v));                  \
    if (n_ == 0) return PQ_ERR_FRAME_ENCODING;            \
    p += n_;                                              \
  } while (0)

/* Takes |n| bytes of payload at p into *out (zero-copy). */
#define RD_BYTES(out, n)                                                     \
  do {                                                                       \
    if ((uint64_t)(end - p) < (uint64_t)(n)) return PQ_ERR_FRAME_ENCODING;   \
    (out) = p;                                                               \
    p += (n);                                                                \
  } while (0)

/* ---- length helpers: accumulate varint lengths, flag values above 2^62-1 ---- */

typedef struct lenacc {
  size_t n;
  bool bad;
} lenacc;

static inline void acc_v(lenacc *a, uint64_t v) {
  size_t l = pq_varint_len(v);
  a->bad |= (l == 0);
  a->n += l;
}

static inline size_t acc_done(const lenacc *a) { return a->bad ? 0 : a->n; }

/* Checks the room for a write: the frame's exact length or an error. */
static inline ssize_t write_room(size_t need, size_t len) {
  if (need == 0) return PQ_ERR_INVALID_ARG;
  if (need > len) return PQ_ERR_NOBUF;
  return (ssize_t)need;
}

/* ==== PADDING ==== */

static ssize_t padding_parse(pq_frame *f, const uint8_t *p, size_t len) {
  size_t n = 0;
  /* Coalesce a run: padding often fills the rest of the packet. */
  while (n < len && p[n] == 0) n++;
  f->u.padding.len = n + 1;
  return (ssize_t)n;
}

static size_t padding_len(const pq_frame *f) {
  return f->u.padding.len ? (size_t)f->u.padding.len : 0;
}

static ssize_t padding_write(const pq_frame *f, uint8_t *buf, size_t len) {
  ssize_t n = write_room(padding_len(f), len);
  if (n > 0) memset(buf, 0, (size_t)n);
  return n;
}

/* ==== PING, HANDSHAKE_DONE: type only ==== */

static ssize_t empty_parse(pq_frame *f, const uint8_t *p, size_t len) { return 0; }

static size_t empty_len(const pq_frame *f) { return pq_varint_len(f->type); }

static ssize_t empty_write(const pq_frame *f, uint8_t *buf, size_t len) {
  ssize_t n = write_room(empty_len(f), len);
  if (n > 0) pq_varint_write(buf, f->type);
  return n;
}

/* ==== ACK / ACK_ECN ==== */

static ssize_t ack_parse(pq_frame *f, const uint8_t *p, size_t len) {
  const uint8_t *start = p, *end = p + len;
  pq_frame_ack *a = &f->u.ack;
  uint64_t smallest;
  RD_VARINT(a->largest);
  RD_VARINT(a->ack_delay);
  RD_VARINT(a->range_count);
  RD_VARINT(a->first_range);
  if (a->first_range > a->largest) return PQ_ERR_FRAME_ENCODING;
  smallest = a->largest - a->first_range;
  /* Each pair takes at least two bytes: reject absurd counts before looping. */
  if (a->range_count > (uint64_t)(end - p) / 2) return PQ_ERR_FRAME_ENCODING;
  a->raw = p;
  for (uint64_t i = 0; i < a->range_count; i++) {
    uint64_t gap = 0, rlen = 0, hi;
    RD_VARINT(gap);
    RD_VARINT(rlen);
    /* Next largest = smallest - gap - 2 must be >= 0, and its range must not go
     * below 0 (RFC 9000 §19.3.1). */
    if (smallest < 2 || gap > smallest - 2) return PQ_ERR_FRAME_ENCODING;
    hi = smallest - gap - 2;
    if (rlen > hi) return PQ_ERR_FRAME_ENCODING;
    smallest = hi - rlen;
  }
  a->raw_len = (size_t)(p - a->raw);
  a->ranges = NULL;
  a->nranges = 0;
  a->ecn = (f->type == PQ_FT_ACK_ECN);
  a->ect0 = a->ect1 = a->ce = 0;
  if (a->ecn) {
    RD_VARINT(a->ect0);
    RD_VARINT(a->ect1);
    RD_VARINT(a->ce);
  }
  return p - start;
}

/* Adds the lengths of the fields written from |ranges|; sets acc->bad on invalid
 * input (ranges not ascending, empty or adjacent). */
static void ack_ranges_len(const pq_frame_ack *a, lenacc *acc) {
  const pq_range *r = a->ranges;
  size_t n = a->nranges;
  uint64_t top = r[n - 1].hi - 1;
  if (r[n - 1].hi <= r[n - 1].lo) acc->bad = true;
  acc_v(acc, top);                       /* largest */
  acc_v(acc, a->ack_delay);
  acc_v(acc, n - 1);                     /* range count */
  acc_v(acc, top - r[n - 1].lo);         /* first range */
  for (size_t i = n - 1; i-- > 0;) {
    /* Ranges must be ascending, non-empty and non-adjacent. */
    if (r[i].hi >= r[i + 1].lo || r[i].hi <= r[i].lo) {
      acc->bad = true;
      return;
    }
    acc_v(acc, r[i + 1].lo - r[i].hi - 1); /* gap */
    acc_v(acc, r[i].hi - 1 - r[i].lo);     /* range length */
  }
}

static size_t ack_len(const pq_frame *f) {
  const pq_frame_ack *a = &f->u.ack;
  lenacc acc = {pq_varint_len(a->ecn ? PQ_FT_ACK_ECN : PQ_FT_ACK), false};
  if (a->ranges) {
    if (a->nranges == 0) return 0;
    ack_ranges_len(a, &acc);
  } else {
    acc_v(&acc, a->largest);
    acc_v(&acc, a->ack_delay);
    acc_v(&acc, a->range_count);
    acc_v(&acc, a->first_range);
    acc.n += a->raw_len;
  }
  if (a->ecn) {
    acc_v(&acc, a->ect0);
    acc_v(&acc, a->ect1);
    acc_v(&acc, a->ce);
  }
  return acc_done(&acc);
}

static ssize_t ack_write(const pq_frame *f, uint8_t *buf, size_t len) {
  const pq_frame_ack *a = &f->u.ack;
  ssize_t n = write_room(ack_len(f), len);
  uint8_t *p = buf;
  if (n < 0) return n;
  p = pq_varint_write(p, a->ecn ? PQ_FT_ACK_ECN : PQ_FT_ACK);
  if (a->ranges) {
    const pq_range *r = a->ranges;
    size_t k = a->nranges;
    uint64_t top = r[k - 1].hi - 1;
    p = pq_varint_write(p, top);
    p = pq_varint_write(p, a->ack_delay);
    p = pq_varint_write(p, k - 1);
    p = pq_varint_write(p, top - r[k - 1].lo);
    for (size_t i = k - 1; i-- > 0;) {
      p = pq_varint_write(p, r[i + 1].lo - r[i].hi - 1);
      p = pq_varint_write(p, r[i].hi - 1 - r[i].lo);
    }
  } else {
    p = pq_varint_write(p, a->largest);
    p = pq_varint_write(p, a->ack_delay);
    p = pq_varint_write(p, a->range_count);
    p = pq_varint_write(p, a->first_range);
    if (a->raw_len) memcpy(p, a->raw, a->raw_len);
    p += a->raw_len;
  }
  if (a->ecn) {
    p = pq_varint_write(p, a->ect0);
    p = pq_varint_write(p, a->ect1);
    p = pq_varint_write(p, a->ce);
  }
  return p - buf;
}

void pq_ack_iter_init(pq_ack_iter *it, const pq_frame_ack *ack) {
  it->ack = ack;
  it->first = true;
  if (ack->ranges) { /* a frame built for writing: walk the array */
    it->p = NULL;
    it->end = NULL;
    it->left = ack->nranges;
    it->next_hi = 0;
    return;
  }
  it->p = ack->raw;
  it->end = ack->raw + ack->raw_len;
  it->left = ack->range_count;
  it->next_hi = ack->largest + 1;
}

bool pq_ack_iter_next(pq_ack_iter *it, uint64_t *lo, uint64_t *hi) {
  uint64_t gap = 0, rlen = 0;
  size_t n;
  if (it->ack->ranges) {
    if (it->left == 0) return false;
    it->left--;
    *lo = it->ack->ranges[it->left].lo;
    *hi = it->ack->ranges[it->left].hi;
    return true;
  }
  if (it->first) {
    it->first = false;
    *hi = it->next_hi;
    *lo = it->ack->largest - it->ack->first_range;
    it->next_hi = *lo;
    return true;
  }
  if (it->left == 0) return false;
  /* parse validated the pairs: reads cannot fail and values cannot underflow. */
  n = rd_varint(it->p, it->end, &gap);
  it->p += n;
  n = rd_varint(it->p, it->end, &rlen);
  it->p += n;
  it->left--;
  *hi = it->next_hi - gap - 1; /* largest = smallest - gap - 2; hi = largest + 1 */
  *lo = *hi - 1 - rlen;
  it->next_hi = *lo;
  return true;
}

int pq_frame_ack_from_ranges(pq_frame *f, const pq_ranges *rcvd, size_t n,
                             uint64_t ack_delay) {
  size_t count = pq_ranges_count(rcvd);
  if (count == 0) return PQ_ERR_INVALID_ARG;
  if (n == 0 || n > count) n = count;
  memset(f, 0, sizeof(*f));
  f->type = PQ_FT_ACK;
  f->u.ack.ranges = pq_ranges_get(rcvd, count - n);
  f->u.ack.nranges = n;
  f->u.ack.ack_delay = ack_delay;
  f->u.ack.largest = pq_ranges_max(rcvd);
  return 0;
}

/* ==== RESET_STREAM ==== */

static ssize_t reset_stream_parse(pq_frame *f, const uint8_t *p, size_t len) {
  const uint8_t *start = p, *end = p + len;
  RD_VARINT(f->u.reset_stream.stream_id);
  RD_VARINT(f->u.reset_stream.app_error);
  RD_VARINT(f->u.reset_stream.final_size);
  return p - start;
}

static size_t reset_stream_len(const pq_frame *f) {
  lenacc a = {1, false};
  acc_v(&a, f->u.reset_stream.stream_id);
  acc_v(&a, f->u.reset_stream.app_error);
  acc_v(&a, f->u.reset_stream.final_size);
  return acc_done(&a);
}

static ssize_t reset_stream_write(const pq_frame *f, uint8_t *buf, size_t len) {
  ssize_t n = write_room(reset_stream_len(f), len);
  uint8_t *p = buf;
  if (n < 0) return n;
  *p++ = PQ_FT_RESET_STREAM;
  p = pq_varint_write(p, f->u.reset_stream.stream_id);
  p = pq_varint_write(p, f->u.reset_stream.app_error);
  pq_varint_write(p, f->u.reset_stream.final_size);
  return n;
}

/* ==== frames made of 1 or 2 varints: STOP_SENDING, MAX_DATA, MAX_STREAM_DATA,
 * MAX_STREAMS, DATA_BLOCKED, STREAM_DATA_BLOCKED, STREAMS_BLOCKED, RETIRE_CID ==== */

/* These frames' union members share one layout: pq_frame_value is one uint64_t, and
 * pq_frame_stream_value / pq_frame_stop_sending are two; C11 lets us read them
 * through one member (common initial sequence), so one codec serves them all. */

#define VAL1(f) ((f)->u.max_data.value)
#define VAL2A(f) ((f)->u.max_stream_data.stream_id)
#define VAL2B(f) ((f)->u.max_stream_data.value)

static ssize_t one_parse(pq_frame *f, const uint8_t *p, size_t len) {
  const uint8_t *start = p, *end = p + len;
  RD_VARINT(VAL1(f));
  /* MAX_STREAMS / STREAMS_BLOCKED above 2^60 cannot name a stream id (§19.11, §19.14). */
  if ((f->type == PQ_FT_MAX_STREAMS_BIDI || f->type == PQ_FT_MAX_STREAMS_UNI ||
       f->type == PQ_FT_STREAMS_BLOCKED_BIDI || f->type == PQ_FT_STREAMS_BLOCKED_UNI) &&
      VAL1(f) > PQ_MAX_STREAMS_LIMIT)
    return PQ_ERR_FRAME_ENCODING;
  return p - start;
}

static size_t one_len(const pq_frame *f) {
  lenacc a = {pq_varint_len(f->type), false};
  acc_v(&a, VAL1(f));
  return acc_done(&a);
}

static ssize_t one_write(const pq_frame *f, uint8_t *buf, size_t len) {
  ssize_t n = write_room(one_len(f), len);
  if (n < 0) return n;
  pq_varint_write(pq_varint_write(buf, f->type), VAL1(f));
  return n;
}

static ssize_t two_parse(pq_frame *f, const uint8_t *p, size_t len) {
  const uint8_t *start = p, *end = p + len;
  RD_VARINT(VAL2A(f));
  RD_VARINT(VAL2B(f));
  return p - start;
}

static size_t two_len(const pq_frame *f) {
  lenacc a = {pq_varint_len(f->type), false};
  acc_v(&a, VAL2A(f));
  acc_v(&a, VAL2B(f));
  return acc_done(&a);
}

static ssize_t two_write(const pq_frame *f, uint8_t *buf, size_t len) {
  ssize_t n = write_room(two_len(f), len);
  uint8_t *p;
  if (n < 0) return n;
  p = pq_varint_write(buf, f->type);
  p = pq_varint_write(p, VAL2A(f));
  pq_varint_write(p, VAL2B(f));
  return n;
}

/* ==== CRYPTO ==== */

static ssize_t crypto_parse(pq_frame *f, const uint8_t *p, size_t len) {
  const uint8_t *start = p, *end = p + len;
  pq_frame_crypto *c = &f->u.crypto;
  RD_VARINT(c->offset);
  RD_VARINT(c->len);
  if (c->len > PQ_VARINT_MAX - c->offset) return PQ_ERR_FRAME_ENCODING;
  RD_BYTES(c->data, c->len);
  return p - start;
}

static size_t crypto_len(const pq_frame *f) {
  const pq_frame_crypto *c = &f->u.crypto;
  lenacc a = {1, false};
  acc_v(&a, c->offset);
  acc_v(&a, c->len);
  if (c->len > PQ_VARINT_MAX - c->offset) return 0;
  a.n += (size_t)c->len;
  return acc_done(&a);
}

static ssize_t crypto_write(const pq_frame *f, uint8_t *buf, size_t len) {
  const pq_frame_crypto *c = &f->u.crypto;
  ssize_t n = write_room(crypto_len(f), len);
  uint8_t *p = buf;
  if (n < 0) return n;
  *p++ = PQ_FT_CRYPTO;
  p = pq_varint_write(p, c->offset);
  p = pq_varint_write(p, c->len);
  if (c->len) memcpy(p, c->data, (size_t)c->len);
  return n;
}

/* ==== NEW_TOKEN ==== */

static ssize_t new_token_parse(pq_frame *f, const uint8_t *p, size_t len) {
  const uint8_t *start = p, *end = p + len;
  RD_VARINT(f->u.new_token.len);
  if (f->u.new_token.len == 0) return PQ_ERR_FRAME_ENCODING; /* §19.7 */
  RD_BYTES(f->u.new_token.token, f->u.new_token.len);
  return p - start;
}

static size_t new_token_len(const pq_frame *f) {
  lenacc a = {1, false};
  if (f->u.new_token.len == 0) return 0;
  acc_v(&a, f->u.new_token.len);
  a.n += (size_t)f->u.new_token.len;
  return acc_done(&a);
}

static ssize_t new_token_write(const pq_frame *f, uint8_t *buf, size_t len) {
  ssize_t n = write_room(new_token_len(f), len);
  uint8_t *p = buf;
  if (n < 0) return n;
  *p++ = PQ_FT_NEW_TOKEN;
  p = pq_varint_write(p, f->u.new_token.len);
  memcpy(p, f->u.new_token.token, (size_t)f->u.new_token.len);
  return n;
}

/* ==== STREAM ==== */

static ssize_t stream_parse(pq_frame *f, const uint8_t *p, size_t len) {
  const uint8_t *start = p, *end = p + len;
  pq_frame_stream *s = &f->u.stream;
  unsigned bits = (unsigned)f->type;
  RD_VARINT(s->stream_id);
  s->offset = 0;
  if (bits & PQ_STREAM_OFF_BIT) RD_VARINT(s->offset);
  s->has_len = (bits & PQ_STREAM_LEN_BIT) != 0;
  if (s->has_len)
    RD_VARINT(s->len);
  else
    s->len = (uint64_t)(end - p);
  s->fin = (bits & PQ_STREAM_FIN_BIT) != 0;
  /* The final offset must stay below 2^62 (§19.8). */
  if (s->len > PQ_VARINT_MAX - s->offset) return PQ_ERR_FRAME_ENCODING;
  RD_BYTES(s->data, s->len);
  return p - start;
}

size_t pq_frame_stream_header_len(uint64_t stream_id, uint64_t offset, uint64_t datalen,
                                  bool has_len) {
  lenacc a = {1, false};
  acc_v(&a, stream_id);
  if (offset) acc_v(&a, offset);
  if (has_len) acc_v(&a, datalen);
  if (datalen > PQ_VARINT_MAX - offset) return 0;
  return acc_done(&a);
}

ssize_t pq_frame_stream_header_write(uint8_t *buf, size_t len, uint64_t stream_id,
                                     uint64_t offset, uint64_t datalen, bool fin,
                                     bool has_len) {
  ssize_t n = write_room(pq_frame_stream_header_len(stream_id, offset, datalen, has_len), len);
  uint8_t *p = buf;
  if (n < 0) return n;
  *p++ = (uint8_t)(PQ_FT_STREAM | (offset ? PQ_STREAM_OFF_BIT : 0) |
                   (has_len ? PQ_STREAM_LEN_BIT : 0) | (fin ? PQ_STREAM_FIN_BIT : 0));
  p = pq_varint_write(p, stream_id);
  if (offset) p = pq_varint_write(p, offset);
  if (has_len) pq_varint_write(p, datalen);
  return n;
}

uint64_t pq_frame_stream_fit(uint64_t stream_id, uint64_t offset, size_t room,
                             uint64_t want, bool has_len) {
  size_t hdr = pq_frame_stream_header_len(stream_id, offset, 0, false);
  uint64_t avail;
  if (hdr == 0 || hdr >= room) return 0;
  avail = room - hdr;
  if (has_len) {
    /* The length field grows with the data: try the largest fitting size class. */
    size_t l = pq_varint_len(want < avail ? want : avail);
    if (l == 0 || l >= avail) return 0;
    avail -= l;
    /* A shorter payload can only need a shorter or equal length field: safe. */
  }
  return want < avail ? want : avail;
}

static size_t stream_len(const pq_frame *f) {
  const pq_frame_stream *s = &f->u.stream;
  size_t h = pq_frame_stream_header_len(s->stream_id, s->offset, s->len, s->has_len);
  if (h == 0 || s->len > SIZE_MAX - h) return 0;
  return h + (size_t)s->len;
}

static ssize_t stream_write(const pq_frame *f, uint8_t *buf, size_t len) {
  const pq_frame_stream *s = &f->u.stream;
  ssize_t n = write_room(stream_len(f), len);
  ssize_t h;
  if (n < 0) return n;
  h = pq_frame_stream_header_write(buf, len, s->stream_id, s->offset, s->len, s->fin,
                                   s->has_len);
  if (s->len) memcpy(buf + h, s->data, (size_t)s->len);
  return n;
}

/* ==== NEW_CONNECTION_ID ==== */

static ssize_t new_cid_parse(pq_frame *f, const uint8_t *p, size_t len) {
  const uint8_t *start = p, *end = p + len;
  pq_frame_new_cid *c = &f->u.new_cid;
  RD_VARINT(c->seq);
  RD_VARINT(c->retire_prior_to);
  if (p >= end) return PQ_ERR_FRAME_ENCODING;
  c->cid_len = *p++;
  if (c->cid_len == 0 || c->cid_len > PQ_MAX_CID_LEN) return PQ_ERR_FRAME_ENCODING;
  RD_BYTES(c->cid, c->cid_len);
  RD_BYTES(c->reset_token, PQ_RESET_TOKEN_LEN);
  if (c->retire_prior_to > c->seq) return PQ_ERR_FRAME_ENCODING; /* §19.15 */
  return p - start;
}

static size_t new_cid_len(const pq_frame *f) {
  const pq_frame_new_cid *c = &f->u.new_cid;
  lenacc a = {1 + 1 + (size_t)c->cid_len + PQ_RESET_TOKEN_LEN, false};
  if (c->cid_len == 0 || c->cid_len > PQ_MAX_CID_LEN || c->retire_prior_to > c->seq)
    return 0;
  acc_v(&a, c->seq);
  acc_v(&a, c->retire_prior_to);
  return acc_done(&a);
}

static ssize_t new_cid_write(const pq_frame *f, uint8_t *buf, size_t len) {
  const pq_frame_new_cid *c = &f->u.new_cid;
  ssize_t n = write_room(new_cid_len(f), len);
  uint8_t *p = buf;
  if (n < 0) return n;
  *p++ = PQ_FT_NEW_CONNECTION_ID;
  p = pq_varint_write(p, c->seq);
  p = pq_varint_write(p, c->retire_prior_to);
  *p++ = c->cid_len;
  memcpy(p, c->cid, c->cid_len);
  p += c->cid_len;
  memcpy(p, c->reset_token, PQ_RESET_TOKEN_LEN);
  return n;
}

/* ==== PATH_CHALLENGE / PATH_RESPONSE ==== */

static ssize_t path_parse(pq_frame *f, const uint8_t *p, size_t len) {
  if (len < 8) return PQ_ERR_FRAME_ENCODING;
  memcpy(f->u.path.data, p, 8);
  return 8;
}

static size_t path_len(const pq_frame *f) { return 9; }

static ssize_t path_write(const pq_frame *f, uint8_t *buf, size_t len) {
  ssize_t n = write_room(9, len);
  if (n < 0) return n;
  buf[0] = (uint8_t)f->type;
  memcpy(buf + 1, f->u.path.data, 8);
  return n;
}

/* ==== CONNECTION_CLOSE ==== */

static ssize_t close_parse(pq_frame *f, const uint8_t *p, size_t len) {
  const uint8_t *start = p, *end = p + len;
  pq_frame_close *c = &f->u.close;
  RD_VARINT(c->error_code);
  c->frame_type = 0;
  if (f->type == PQ_FT_CONNECTION_CLOSE) RD_VARINT(c->frame_type);
  RD_VARINT(c->reason_len);
  RD_BYTES(c->reason, c->reason_len);
  return p - start;
}

static size_t close_len(const pq_frame *f) {
  const pq_frame_close *c = &f->u.close;
  lenacc a = {1, false};
  acc_v(&a, c->error_code);
  if (f->type == PQ_FT_CONNECTION_CLOSE) acc_v(&a, c->frame_type);
  acc_v(&a, c->reason_len);
  if (c->reason_len > 0xffff) return 0; /* a close reason has to fit a packet */
  a.n += (size_t)c->reason_len;
  return acc_done(&a);
}

static ssize_t close_write(const pq_frame *f, uint8_t *buf, size_t len) {
  const pq_frame_close *c = &f->u.close;
  ssize_t n = write_room(close_len(f), len);
  uint8_t *p = buf;
  if (n < 0) return n;
  *p++ = (uint8_t)f->type;
  p = pq_varint_write(p, c->error_code);
  if (f->type == PQ_FT_CONNECTION_CLOSE) p = pq_varint_write(p, c->frame_type);
  p = pq_varint_write(p, c->reason_len);
  if (c->reason_len) memcpy(p, c->reason, (size_t)c->reason_len);
  return n;
}

/* ==== DATAGRAM (RFC 9221) ==== */

static ssize_t datagram_parse(pq_frame *f, const uint8_t *p, size_t len) {
  const uint8_t *start = p, *end = p + len;
  pq_frame_datagram *d = &f->u.datagram;
  d->has_len = (f->type == PQ_FT_DATAGRAM_LEN);
  if (d->has_len)
    RD_VARINT(d->len);
  else
    d->len = len;
  RD_BYTES(d->data, d->len);
  return p - start;
}

static size_t datagram_len(const pq_frame *f) {
  const pq_frame_datagram *d = &f->u.datagram;
  lenacc a = {1, false};
  if (d->has_len) acc_v(&a, d->len);
  if (d->len > 0xffff) return 0;
  a.n += (size_t)d->len;
  return acc_done(&a);
}

static ssize_t datagram_write(const pq_frame *f, uint8_t *buf, size_t len) {
  const pq_frame_datagram *d = &f->u.datagram;
  ssize_t n = write_room(datagram_len(f), len);
  uint8_t *p = buf;
  if (n < 0) return n;
  *p++ = d->has_len ? PQ_FT_DATAGRAM_LEN : PQ_FT_DATAGRAM;
  if (d->has_len) p = pq_varint_write(p, d->len);
  if (d->len) memcpy(p, d->data, (size_t)d->len);
  return n;
}

/* ==== the table ==== */

#define AE PQ_FRAME_F_ACK_ELICITING
#define IF PQ_FRAME_F_IN_FLIGHT
#define PR PQ_FRAME_F_PROBING
#define FC PQ_FRAME_F_FLOW_CONTROLLED
#define M_I PQ_PKT_MASK_INITIAL
#define M_0 PQ_PKT_MASK_0RTT
#define M_H PQ_PKT_MASK_HANDSHAKE
#define M_1 PQ_PKT_MASK_1RTT

#define OPS(nm, fn, fl, mask) {nm, fn##_parse, fn##_write, fn##_len, (fl), (mask)}
#define STREAM_OPS OPS("STREAM", stream, AE | IF | FC, M_0 | M_1)

/* Flags and packet masks follow RFC 9000 Table 3 (N = not ack-eliciting, C = not in
 * flight, P = probing, F = flow controlled) and RFC 9221 §4 for DATAGRAM. */
static const pq_frame_ops frame_table[PQ_FT_TABLE_SIZE] = {
    [PQ_FT_PADDING] = OPS("PADDING", padding, IF | PR, M_I | M_H | M_0 | M_1),
    [PQ_FT_PING] = OPS("PING", empty, AE | IF, M_I | M_H | M_0 | M_1),
    [PQ_FT_ACK] = OPS("ACK", ack, 0, M_I | M_H | M_1),
    [PQ_FT_ACK_ECN] = OPS("ACK_ECN", ack, 0, M_I | M_H | M_1),
    [PQ_FT_RESET_STREAM] = OPS("RESET_STREAM", reset_stream, AE | IF, M_0 | M_1),
    [PQ_FT_STOP_SENDING] = OPS("STOP_SENDING", two, AE | IF, M_0 | M_1),
    [PQ_FT_CRYPTO] = OPS("CRYPTO", crypto, AE | IF, M_I | M_H | M_1),
    [PQ_FT_NEW_TOKEN] = OPS("NEW_TOKEN", new_token, AE | IF, M_1),
    [0x08] = STREAM_OPS, [0x09] = STREAM_OPS, [0x0a] = STREAM_OPS, [0x0b] = STREAM_OPS,
    [0x0c] = STREAM_OPS, [0x0d] = STREAM_OPS, [0x0e] = STREAM_OPS, [0x0f] = STREAM_OPS,
    [PQ_FT_MAX_DATA] = OPS("MAX_DATA", one, AE | IF, M_0 | M_1),
    [PQ_FT_MAX_STREAM_DATA] = OPS("MAX_STREAM_DATA", two, AE | IF, M_0 | M_1),
    [PQ_FT_MAX_STREAMS_BIDI] = OPS("MAX_STREAMS_BIDI", one, AE | IF, M_0 | M_1),
    [PQ_FT_MAX_STREAMS_UNI] = OPS("MAX_STREAMS_UNI", one, AE | IF, M_0 | M_1),
    [PQ_FT_DATA_BLOCKED] = OPS("DATA_BLOCKED", one, AE | IF, M_0 | M_1),
    [PQ_FT_STREAM_DATA_BLOCKED] = OPS("STREAM_DATA_BLOCKED", two, AE | IF, M_0 | M_1),
    [PQ_FT_STREAMS_BLOCKED_BIDI] = OPS("STREAMS_BLOCKED_BIDI", one, AE | IF, M_0 | M_1),
    [PQ_FT_STREAMS_BLOCKED_UNI] = OPS("STREAMS_BLOCKED_UNI", one, AE | IF, M_0 | M_1),
    [PQ_FT_NEW_CONNECTION_ID] = OPS("NEW_CONNECTION_ID", new_cid, AE | IF | PR, M_0 | M_1),
    [PQ_FT_RETIRE_CONNECTION_ID] = OPS("RETIRE_CONNECTION_ID", one, AE | IF, M_0 | M_1),
    [PQ_FT_PATH_CHALLENGE] = OPS("PATH_CHALLENGE", path, AE | IF | PR, M_0 | M_1),
    [PQ_FT_PATH_RESPONSE] = OPS("PATH_RESPONSE", path, AE | IF | PR, M_1),
    [PQ_FT_CONNECTION_CLOSE] = OPS("CONNECTION_CLOSE", close, IF, M_I | M_H | M_0 | M_1),
    [PQ_FT_CONNECTION_CLOSE_APP] = OPS("CONNECTION_CLOSE_APP", close, IF, M_0 | M_1),
    [PQ_FT_HANDSHAKE_DONE] = OPS("HANDSHAKE_DONE", empty, AE | IF, M_1),
    [PQ_FT_DATAGRAM] = OPS("DATAGRAM", datagram, AE | IF, M_0 | M_1),
    [PQ_FT_DATAGRAM_LEN] = OPS("DATAGRAM", datagram, AE | IF, M_0 | M_1),
};

const pq_frame_ops *pq_frame_ops_get(uint64_t type) {
  if (type >= PQ_FT_TABLE_SIZE || !frame_table[type].name) return NULL;
  return &frame_table[type];
}

ssize_t pq_frame_read_type(const uint8_t *p, size_t len, uint64_t *type) {
  size_t n = rd_varint(p, p + len, type);
  if (n == 0) return PQ_ERR_FRAME_ENCODING;
  if (n != pq_varint_len(*type)) return PQ_ERR_PROTOCOL_VIOLATION; /* §12.4 */
  return (ssize_t)n;
}

ssize_t pq_frame_parse(pq_frame *f, const uint8_t *p, size_t len) {
  const pq_frame_ops *ops;
  ssize_t tn, bn;
  /* Hot path: every RFC 9000 type is a one-byte varint below 0x40. */
  if (len && p[0] < PQ_FT_TABLE_SIZE) {
    f->type = p[0];
    tn = 1;
  } else {
    tn = pq_frame_read_type(p, len, &f->type);
    if (tn < 0) return tn;
  }
  ops = pq_frame_ops_get(f->type);
  if (!ops) return PQ_ERR_FRAME_ENCODING;
  bn = ops->parse(f, p + tn, len - (size_t)tn);
  if (bn < 0) return bn;
  return tn + bn;
}

size_t pq_frame_wire_len(const pq_frame *f) {
  const pq_frame_ops *ops = pq_frame_ops_get(f->type);
  return ops ? ops->wire_len(f) : 0;
}

ssize_t pq_frame_write(const pq_frame *f, uint8_t *buf, size_t len) {
  const pq_frame_ops *ops = pq_frame_ops_get(f->type);
  if (!ops) return PQ_ERR_INVALID_ARG;
  return ops->write(f, buf, len);
}

int pq_frame_check_packet(uint64_t type, unsigned pkt_mask) {
  const pq_frame_ops *ops = pq_frame_ops_get(type);
  if (!ops) return PQ_ERR_FRAME_ENCODING;
  return (ops->pkt_mask & pkt_mask) ? 0 : PQ_ERR_PROTOCOL_VIOLATION;
}

const char *pq_transport_error_name(uint64_t code) {
  static const char *const names[] = {
      "NO_ERROR",           "INTERNAL_ERROR",          "CONNECTION_REFUSED",
      "FLOW_CONTROL_ERROR", "STREAM_LIMIT_ERROR",      "STREAM_STATE_ERROR",
      "FINAL_SIZE_ERROR",   "FRAME_ENCODING_ERROR",    "TRANSPORT_PARAMETER_ERROR",
      "CONNECTION_ID_LIMIT_ERROR", "PROTOCOL_VIOLATION", "INVALID_TOKEN",
      "APPLICATION_ERROR",  "CRYPTO_BUFFER_EXCEEDED",  "KEY_UPDATE_ERROR",
      "AEAD_LIMIT_REACHED", "NO_VIABLE_PATH"};
  if (code < sizeof(names) / sizeof(names[0])) return names[code];
  if (code >= 0x100 && code <= 0x1ff) return "CRYPTO_ERROR";
  return "UNKNOWN";
}
