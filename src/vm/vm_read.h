/*
 * vm_read.h: a bounds-checked cursor over module bytes with LEB128 readers, shared by the
 * decoder, the validator and the compiler (so immediates are decoded one way only).
 *
 * Every reader returns false on error and records the first error's spec wording in
 * r->err ("unexpected end", "integer representation too long", "integer too large");
 * after an error the cursor stays where it failed. Inline: these sit on the compile path.
 */
#ifndef PLUGINOP_VM_READ_H
#define PLUGINOP_VM_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct vm_reader {
  const uint8_t *base; /* start of the whole binary: offsets are reported against it */
  const uint8_t *p;    /* next byte */
  const uint8_t *end;  /* one past the last readable byte */
  const char *err;     /* first error, or NULL */
} vm_reader;

static inline void vm_reader_init(vm_reader *r, const uint8_t *base, const uint8_t *p,
                                  const uint8_t *end) {
  r->base = base;
  r->p = p;
  r->end = end;
  r->err = NULL;
}

static inline long vm_reader_offset(const vm_reader *r) { return (long)(r->p - r->base); }
static inline size_t vm_reader_left(const vm_reader *r) { return (size_t)(r->end - r->p); }

static inline bool vm_reader_fail(vm_reader *r, const char *msg) {
  if (!r->err) r->err = msg;
  return false;
}

static inline bool vm_read_u8(vm_reader *r, uint8_t *out) {
  if (r->p >= r->end) return vm_reader_fail(r, "unexpected end");
  *out = *r->p++;
  return true;
}

static inline bool vm_read_bytes(vm_reader *r, size_t n, const uint8_t **out) {
  if (vm_reader_left(r) < n) return vm_reader_fail(r, "unexpected end");
  *out = r->p;
  r->p += n;
  return true;
}

/* Unsigned LEB128 of at most |bits| bits (32 or 64). */
static inline bool vm_read_uleb(vm_reader *r, unsigned bits, uint64_t *out) {
  uint64_t v = 0;
  unsigned shift = 0;
  for (;;) {
    uint8_t b;
    if (r->p >= r->end) return vm_reader_fail(r, "unexpected end");
    b = *r->p++;
    if (shift + 7 >= bits) {
      /* Last permitted byte: no continuation, and unused high bits must be zero. */
      if (b & 0x80) return vm_reader_fail(r, "integer representation too long");
      if (bits - shift < 7 && (b >> (bits - shift)) != 0)
        return vm_reader_fail(r, "integer too large");
      v |= (uint64_t)b << shift;
      break;
    }
    v |= (uint64_t)(b & 0x7f) << shift;
    shift += 7;
    if (!(b & 0x80)) break;
  }
  *out = v;
  return true;
}

/* Signed LEB128 of at most |bits| bits (32 or 64), sign-extended into int64_t. */
static inline bool vm_read_sleb(vm_reader *r, unsigned bits, int64_t *out) {
  uint64_t v = 0;
  unsigned shift = 0;
  uint8_t b;
  for (;;) {
    if (r->p >= r->end) return vm_reader_fail(r, "unexpected end");
    b = *r->p++;
    if (shift + 7 >= bits) {
      /* Last permitted byte: the unused bits must all equal the sign bit. */
      if (b & 0x80) return vm_reader_fail(r, "integer representation too long");
      unsigned used = bits - shift; /* payload bits left for this byte: 1..7 */
      if (used < 7) {
        /* Bits used-1..6 are the sign and its extension: all zeros or all ones. */
        uint8_t mask = (uint8_t)((0x7f >> (used - 1)) << (used - 1));
        uint8_t top = b & mask;
        if (top != 0 && top != mask) return vm_reader_fail(r, "integer too large");
      }
      v |= (uint64_t)(b & 0x7f) << shift;
      shift += 7;
      break;
    }
    v |= (uint64_t)(b & 0x7f) << shift;
    shift += 7;
    if (!(b & 0x80)) break;
  }
  if (shift < 64 && (b & 0x40)) v |= ~(uint64_t)0 << shift;
  if (bits < 64) {
    /* Sign-extend from |bits| so an over-long-but-valid encoding reads correctly. */
    v = (uint64_t)((int64_t)(v << (64 - bits)) >> (64 - bits));
  }
  *out = (int64_t)v;
  return true;
}

static inline bool vm_read_u32(vm_reader *r, uint32_t *out) {
  uint64_t v;
  if (!vm_read_uleb(r, 32, &v)) return false;
  *out = (uint32_t)v;
  return true;
}

static inline bool vm_read_s32(vm_reader *r, int32_t *out) {
  int64_t v;
  if (!vm_read_sleb(r, 32, &v)) return false;
  *out = (int32_t)v;
  return true;
}

static inline bool vm_read_s64(vm_reader *r, int64_t *out) { return vm_read_sleb(r, 64, out); }

/* Signed 33-bit (block types). */
static inline bool vm_read_s33(vm_reader *r, int64_t *out) { return vm_read_sleb(r, 33, out); }

static inline bool vm_read_f32(vm_reader *r, uint32_t *bits) {
  const uint8_t *b;
  if (!vm_read_bytes(r, 4, &b)) return false;
  memcpy(bits, b, 4); /* wasm is little-endian, like every host we build for */
  return true;
}

static inline bool vm_read_f64(vm_reader *r, uint64_t *bits) {
  const uint8_t *b;
  if (!vm_read_bytes(r, 8, &b)) return false;
  memcpy(bits, b, 8);
  return true;
}

#endif
