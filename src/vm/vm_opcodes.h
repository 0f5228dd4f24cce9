/*
 * vm_opcodes.h: the WebAssembly 2.0 instruction encoding, as far as the front end needs
 * it to step over instructions without typing them: which opcodes exist and what
 * immediates each one takes.
 *
 *   opcode(s)              immediates
 *   0x00 0x01 0x0f 0x1a 0x1b 0x45..0xc4 0xd1      none
 *   0x02 block 0x03 loop 0x04 if                   blocktype: s33 (0x40 empty, a value
 *                                                  type byte, or a type index >= 0)
 *   0x05 else 0x0b end                             none
 *   0x0c br 0x0d br_if                             label: u32
 *   0x0e br_table                                  vec(u32) u32
 *   0x10 call                                      funcidx: u32
 *   0x11 call_indirect                             typeidx: u32, tableidx: u32
 *   0x1c select t*                                 vec(valtype)
 *   0x20..0x24 local/global get/set/tee            index: u32
 *   0x25 table.get 0x26 table.set                  tableidx: u32
 *   0x28..0x3e loads and stores                    memarg: align u32, offset u32
 *   0x3f memory.size 0x40 memory.grow              0x00
 *   0x41 i32.const s32 | 0x42 i64.const s64 | 0x43 f32.const 4 bytes | 0x44 f64 8 bytes
 *   0xd0 ref.null reftype | 0xd2 ref.func funcidx: u32
 *   0xfc u32 sub-opcode:
 *     0..7 trunc_sat (none) | 8 memory.init data 0x00 | 9 data.drop data
 *     10 memory.copy 0x00 0x00 | 11 memory.fill 0x00 | 12 table.init elem table
 *     13 elem.drop elem | 14 table.copy dst src | 15 grow, 16 size, 17 fill: table
 *   0xfd SIMD: not supported.
 *
 * Used by the decoder (skipping a non-constant initializer expression) and the validator
 * (finding a format error after a type error, since format errors take precedence).
 */
#ifndef PLUGINOP_VM_OPCODES_H
#define PLUGINOP_VM_OPCODES_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "vm_module.h"
#include "vm_read.h"

/* Whether |op| starts some 2.0 instruction (0xfc and 0xfd are prefixes). */
static inline bool vm_opcode_exists(uint8_t op) {
  return op <= 0x05 || (op >= 0x0b && op <= 0x11) || (op >= 0x1a && op <= 0x1c) ||
         (op >= 0x20 && op <= 0x26) || (op >= 0x28 && op <= 0xc4) ||
         (op >= 0xd0 && op <= 0xd2) || op == 0xfc || op == 0xfd;
}

static inline bool vm_skip_u32s(vm_reader *r, unsigned n) {
  uint32_t x;
  for (unsigned i = 0; i < n; i++)
    if (!vm_read_u32(r, &x)) return false;
  return true;
}

/* A reserved zero byte (the memory index of 2.0 memory instructions). */
static inline bool vm_skip_zero(vm_reader *r) {
  uint8_t b;
  if (!vm_read_u8(r, &b)) return false;
  if (b != 0) {
    r->p--;
    return vm_reader_fail(r, "zero byte expected");
  }
  return true;
}

/* Steps over the immediates of |op| (just read). Returns false with the spec's wording
 * in r->err for a format error: "illegal opcode", "zero byte expected", "malformed
 * reference type", "malformed value type", LEB128 and end-of-input errors. 0xfd (SIMD)
 * fails with "illegal opcode" too: callers that care test for it first. */
static inline bool vm_skip_immediates(vm_reader *r, uint8_t op, const vm_module *m) {
  uint32_t n, sub;
  int64_t s;
  uint64_t u;
  uint8_t b;
  const uint8_t *skip;
  if (op >= 0x45 && op <= 0xc4) return true;
  if (op >= 0x28 && op <= 0x3e) return vm_skip_u32s(r, 2);
  if (op >= 0x20 && op <= 0x26) return vm_skip_u32s(r, 1);
  switch (op) {
  case 0x00: case 0x01: case 0x05: case 0x0b: case 0x0f: case 0x1a: case 0x1b: case 0xd1:
    return true;
  case 0x02: case 0x03: case 0x04:
    return vm_read_s33(r, &s);
  case 0x0c: case 0x0d: case 0x10: case 0xd2:
    return vm_skip_u32s(r, 1);
  case 0x0e:
    if (!vm_read_u32(r, &n)) return false;
    if (n > vm_reader_left(r)) {
      r->p = r->end;
      return vm_reader_fail(r, "unexpected end");
    }
    return vm_skip_u32s(r, n + 1);
  case 0x11:
    return vm_skip_u32s(r, 2);
  case 0x1c:
    if (!vm_read_u32(r, &n)) return false;
    if (n > vm_reader_left(r)) {
      r->p = r->end;
      return vm_reader_fail(r, "unexpected end");
    }
    for (uint32_t i = 0; i < n; i++) {
      if (!vm_read_u8(r, &b)) return false;
      if (b != PVM_I32 && b != PVM_I64 && b != PVM_F32 && b != PVM_F64 && b != PVM_V128 &&
          b != PVM_FUNCREF && b != PVM_EXTERNREF) {
        r->p--;
        return vm_reader_fail(r, "malformed value type");
      }
    }
    return true;
  case 0x3f: case 0x40:
    return vm_skip_zero(r);
  case 0x41: return vm_read_sleb(r, 32, &s);
  case 0x42: return vm_read_sleb(r, 64, &s);
  case 0x43: return vm_read_bytes(r, 4, &skip);
  case 0x44: return vm_read_bytes(r, 8, &skip);
  case 0xd0:
    if (!vm_read_u8(r, &b)) return false;
    if (b != PVM_FUNCREF && b != PVM_EXTERNREF) {
      r->p--;
      return vm_reader_fail(r, "malformed reference type");
    }
    return true;
  case 0xfc:
    if (!vm_read_uleb(r, 32, &u)) return false;
    sub = (uint32_t)u;
    if (sub <= 7) return true;
    switch (sub) {
    case 8:
    case 9:
      if (!vm_skip_u32s(r, 1)) return false;
      if (m && !m->has_data_count && m->ndatas > 0)
        return vm_reader_fail(r, "data count section required");
      return sub == 9 || vm_skip_zero(r);
    case 10: return vm_skip_zero(r) && vm_skip_zero(r);
    case 11: return vm_skip_zero(r);
    case 12: case 14: return vm_skip_u32s(r, 2);
    case 13: case 15: case 16: case 17: return vm_skip_u32s(r, 1);
    default: return vm_reader_fail(r, "illegal opcode");
    }
  default:
    return vm_reader_fail(r, "illegal opcode");
  }
}

/* Where a body that ends without its final END would end in the reference interpreter,
 * which reads on into what follows: the end of the file, the next section, or the next
 * body (whose first byte is not END). */
static inline const char *vm_body_overrun_message(const vm_module *m, const vm_func *f) {
  const uint8_t *end = f->code + f->code_len;
  if (end == m->bytes + m->len) return "unexpected end of section or function";
  if (f == &m->funcs[m->nfuncs - 1]) return "section size mismatch";
  return "END opcode expected";
}

/* Steps through the bodies of functions |from|.. (defined-function indices) without
 * typing them, looking for a format error. Returns NULL, or the spec's message with *at
 * set to where. Linear in the code size. SIMD instructions end the scan of a body (we do
 * not decode them). */
static inline const char *vm_scan_bodies(const vm_module *m, uint32_t from,
                                         const uint8_t **at) {
  for (uint32_t i = from; i < m->nfuncs; i++) {
    const vm_func *f = &m->funcs[i];
    vm_reader r;
    uint32_t depth = 1;
    vm_reader_init(&r, m->bytes, f->code, f->code + f->code_len);
    while (depth > 0) {
      uint8_t op;
      *at = r.p;
      if (!vm_read_u8(&r, &op)) {
        *at = r.end;
        return vm_body_overrun_message(m, f);
      }
      if (op == 0xfd) break;
      if (op >= 0x02 && op <= 0x04) depth++;
      if (op == 0x0b) depth--;
      if (!vm_skip_immediates(&r, op, m)) {
        if (r.err && strcmp(r.err, "unexpected end") == 0) {
          *at = r.end;
          return vm_body_overrun_message(m, f);
        }
        *at = r.p;
        return r.err;
      }
    }
    if (depth == 0 && r.p != r.end) {
      *at = r.p;
      return "section size mismatch";
    }
  }
  return NULL;
}

#endif
