/*
 * pq_varint.h: QUIC variable-length integers (RFC 9000 §16): 1, 2, 4 or 8 bytes, the
 * length in the two high bits of the first byte, values up to 2^62-1.
 */
#ifndef PLUGINOP_PQ_VARINT_H
#define PLUGINOP_PQ_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define PQ_VARINT_MAX ((UINT64_C(1) << 62) - 1)

/* Bytes needed to encode |v| (v <= PQ_VARINT_MAX), 0 if too large. */
static inline size_t pq_varint_len(uint64_t v) {
  if (v < 64) return 1;
  if (v < 16384) return 2;
  if (v < 1073741824) return 4;
  if (v <= PQ_VARINT_MAX) return 8;
  return 0;
}

/* Length of the varint whose first byte is |b|. */
static inline size_t pq_varint_len_of(uint8_t b) { return (size_t)1 << (b >> 6); }

/* Reads a varint from [p, end). Returns bytes read, or 0 if the buffer is too short. */
static inline size_t pq_varint_read(const uint8_t *p, const uint8_t *end, uint64_t *out) {
  size_t n;
  uint64_t v;
  if (p >= end) return 0;
  n = pq_varint_len_of(p[0]);
  if ((size_t)(end - p) < n) return 0;
  v = p[0] & 0x3f;
  for (size_t i = 1; i < n; i++) v = (v << 8) | p[i];
  *out = v;
  return n;
}

/* Writes |v| in its shortest form at |p|; the caller checked room with pq_varint_len.
 * Returns the byte after the varint. */
static inline uint8_t *pq_varint_write(uint8_t *p, uint64_t v) {
  size_t n = pq_varint_len(v);
  static const uint8_t prefix[9] = {0, 0x00, 0x40, 0, 0x80, 0, 0, 0, 0xc0};
  for (size_t i = n; i-- > 0;) {
    p[i] = (uint8_t)v;
    v >>= 8;
  }
  p[0] |= prefix[n];
  return p + n;
}

/* Writes |v| in exactly |n| bytes (1, 2, 4 or 8; v must fit): for length fields reserved
 * before their value is known. */
static inline uint8_t *pq_varint_write_n(uint8_t *p, uint64_t v, size_t n) {
  static const uint8_t prefix[9] = {0, 0x00, 0x40, 0, 0x80, 0, 0, 0, 0xc0};
  for (size_t i = n; i-- > 0;) {
    p[i] = (uint8_t)v;
    v >>= 8;
  }
  p[0] |= prefix[n];
  return p + n;
}

#endif
