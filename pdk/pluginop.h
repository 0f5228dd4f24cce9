/*
 * pluginop.h: the plugin development kit's header, for plugins written in C and built
 * for wasm32 (pluginop_add_plugin() in pdk/PluginopPdk.cmake does the flags).
 *
 *   #include <pluginop.h>
 *
 *   POP_EXPORT(process_frame_10) {          // Define code of ProcessFrame(0x10)
 *     const pop_frame *f = pop_input_frame(0);
 *     if (!f) return 1;                     // non-zero: operation error
 *     uint64_t cur;
 *     if (pop_conn_get_u64(POP_CONN_MAX_TX_DATA, 0, &cur) == 0 && f->f[0] > cur)
 *       pop_conn_set_u64(POP_CONN_MAX_TX_DATA, 0, f->f[0]);
 *     return 0;
 *   }
 *
 * Export names follow pluginop: pre_/before_ and post_/after_ prefixes for the read-only
 * Before/After anchors, and frame types / parameter ids in hexadecimal.
 *
 * Inputs are read in place from the I/O area the host fills before each call (no host
 * call per input); outputs are appended to it. Every host function returns a negative
 * pop_abi_err on failure (docs/PLUGIN-ABI.md lists them per function).
 *
 * No libc: use __builtin_memcpy / __builtin_memset (lowered to bulk-memory
 * instructions) or the helpers below.
 */
#ifndef PLUGINOP_PDK_H
#define PLUGINOP_PDK_H

#include <stddef.h>
#include <stdint.h>

#include "pluginop/plugin_abi.h"

#if !defined(__wasm__)
#error "pdk/pluginop.h is for plugins built for wasm32 (use pluginop_add_plugin)"
#endif

#define POP__IMPORT(name) __attribute__((import_module(POP_IMPORT_MODULE), import_name(#name)))
#define POP__XIMPORT(name) __attribute__((import_module(POP_EXTISM_MODULE), import_name(#name)))

/* Exports |name| as a protocol operation: `POP_EXPORT(update_rtt) { ...; return 0; }`.
 * The body returns 0 on success or an operation error code. The argument is reserved. */
#define POP_EXPORT(name)                                                                  \
  __attribute__((export_name(#name))) int64_t name(uint32_t pop_reserved_arg);            \
  int64_t name(uint32_t pop_reserved_arg)

/* Exports an Extism-style function (no parameters, returns 0 = ok), callable with
 * pop_plugin_call_bytes() on the host. */
#define POP_EXPORT_BYTES(name)                                                            \
  __attribute__((export_name(#name))) int32_t name(void);                                 \
  int32_t name(void)

/* ---- The I/O area (one per plugin, found by the host through `__pop_io`) ---- */

__attribute__((weak)) pop_io_area pop_io = {POP_ABI_VERSION, 0, 0, 0, 0, 0, 0, {{0}}, {{0}}};

__attribute__((weak, export_name("__pop_io"))) uint32_t pop__io_address(void) {
  return (uint32_t)(uintptr_t)&pop_io;
}

/* ---- Host functions (module "pluginop") ---- */

POP__IMPORT(save_output) int32_t pop_host_save_output(const pop_val *val);
POP__IMPORT(get_input) int32_t pop_host_get_input(uint32_t index, pop_val *out);
POP__IMPORT(log) int32_t pop_host_log(uint32_t level, const char *msg, uint32_t len);
POP__IMPORT(get_connection) int32_t pop_host_get_connection(uint32_t field, uint64_t param,
                                                            pop_val *out);
POP__IMPORT(set_connection) int32_t pop_host_set_connection(uint32_t field, uint64_t param,
                                                            const pop_val *val);
POP__IMPORT(get_recovery) int32_t pop_host_get_recovery(uint32_t field, uint64_t param,
                                                        pop_val *out);
POP__IMPORT(set_recovery) int32_t pop_host_set_recovery(uint32_t field, uint64_t param,
                                                        const pop_val *val);
POP__IMPORT(get_bytes) int64_t pop_host_get_bytes(uint64_t tag, void *dst, uint32_t len);
POP__IMPORT(put_bytes) int64_t pop_host_put_bytes(uint64_t tag, const void *src, uint32_t len);
POP__IMPORT(register_frame) int32_t pop_host_register_frame(const pop_frame_reg *reg);
POP__IMPORT(register_transport_parameter) int32_t pop_host_register_tp(uint64_t id);
POP__IMPORT(set_timer) int32_t pop_host_set_timer(uint64_t at, uint64_t id, uint64_t timer_id);
POP__IMPORT(cancel_timer) int32_t pop_host_cancel_timer(uint64_t id);
POP__IMPORT(now) uint64_t pop_host_now(void);
POP__IMPORT(create_file) int32_t pop_host_create_file(const char *path, uint32_t len);
POP__IMPORT(write_file) int64_t pop_host_write_file(int32_t fd, const void *data, uint32_t len);
POP__IMPORT(enable) int32_t pop_host_enable(void);
POP__IMPORT(poctl) int64_t pop_host_poctl(uint64_t id, const pop_val *inputs, uint32_t n_inputs,
                                          pop_val *outputs, uint32_t max_outputs);
POP__IMPORT(get_param) int32_t pop_host_get_param(const char *key, uint32_t key_len, char *out,
                                                  uint32_t cap);

/* ---- Small helpers ---- */

static inline uint32_t pop_strlen(const char *s) {
  uint32_t n = 0;
  while (s[n])
    n++;
  return n;
}

/* ---- Inputs ---- */

static inline uint32_t pop_n_inputs(void) { return pop_io.n_inputs; }

/* Input |i| if present and of type |type|, else NULL. */
static inline const pop_val *pop_input_of(uint32_t i, uint32_t type) {
  if (i >= pop_io.n_inputs || i >= POP_MAX_INPUTS || pop_io.inputs[i].type != type)
    return (const pop_val *)0;
  return &pop_io.inputs[i];
}

static inline const pop_val *pop_input(uint32_t i) {
  return i < pop_io.n_inputs && i < POP_MAX_INPUTS ? &pop_io.inputs[i] : (const pop_val *)0;
}

/* Integer-like input (U64, I64, U32, I32, BOOL, DURATION, INSTANT) as u64 in |*out|.
 * Returns 0, or POP_E_INDEX / POP_E_VALUE. */
static inline int pop_input_u64(uint32_t i, uint64_t *out) {
  const pop_val *v = pop_input(i);
  if (!v)
    return POP_E_INDEX;
  switch (v->type) {
  case POP_VAL_U64: case POP_VAL_I64: case POP_VAL_DURATION: case POP_VAL_INSTANT:
    *out = v->u.u64;
    return 0;
  case POP_VAL_U32: case POP_VAL_BOOL: case POP_VAL_PN_SPACE: case POP_VAL_PKT_TYPE:
    *out = v->u.u32;
    return 0;
  case POP_VAL_I32:
    *out = (uint64_t)(int64_t)v->u.i32;
    return 0;
  default:
    return POP_E_VALUE;
  }
}

static inline const pop_frame *pop_input_frame(uint32_t i) {
  const pop_val *v = pop_input_of(i, POP_VAL_FRAME);
  return v ? &v->u.frame : (const pop_frame *)0;
}
static inline const pop_header *pop_input_header(uint32_t i) {
  const pop_val *v = pop_input_of(i, POP_VAL_HEADER);
  return v ? &v->u.hdr : (const pop_header *)0;
}
static inline const pop_bytes *pop_input_bytes(uint32_t i) {
  const pop_val *v = pop_input_of(i, POP_VAL_BYTES);
  return v ? &v->u.bytes : (const pop_bytes *)0;
}
static inline const pop_sockaddr *pop_input_sockaddr(uint32_t i) {
  const pop_val *v = pop_input_of(i, POP_VAL_SOCKADDR);
  return v ? &v->u.addr : (const pop_sockaddr *)0;
}

/* ---- Outputs (Define code only: the host ignores outputs of Before/After) ---- */

static inline int pop_output(const pop_val *v) {
  if (pop_io.n_outputs >= POP_MAX_OUTPUTS)
    return POP_E_FULL;
  pop_io.outputs[pop_io.n_outputs++] = *v;
  return 0;
}

static inline pop_val pop_val_u64(uint32_t type, uint64_t x) {
  pop_val v;
  __builtin_memset(&v, 0, sizeof v);
  v.type = type;
  v.u.u64 = x;
  return v;
}

/* The next output slot of the I/O area, typed, with its first 8 value bytes cleared (so
 * a bool or u32 reads the same as a u64), or NULL when full. The typed outputs below are
 * built in place: no pop_val on the stack copied over. The bytes past a type's fields
 * are unspecified (docs/PLUGIN-ABI.md): not clearing all 64 saves 6 stores per output. */
static inline pop_val *pop__output_slot(uint32_t type) {
  if (pop_io.n_outputs >= POP_MAX_OUTPUTS)
    return (pop_val *)0;
  pop_val *o = &pop_io.outputs[pop_io.n_outputs++];
  o->type = type;
  o->reserved = 0;
  o->u.u64 = 0;
  return o;
}

static inline int pop_output_u64(uint64_t x) {
  pop_val *o = pop__output_slot(POP_VAL_U64);
  if (!o)
    return POP_E_FULL;
  o->u.u64 = x;
  return 0;
}
static inline int pop_output_i64(int64_t x) {
  pop_val *o = pop__output_slot(POP_VAL_I64);
  if (!o)
    return POP_E_FULL;
  o->u.u64 = (uint64_t)x;
  return 0;
}
static inline int pop_output_bool(int b) {
  pop_val *o = pop__output_slot(POP_VAL_BOOL);
  if (!o)
    return POP_E_FULL;
  o->u.b = b ? 1u : 0u;
  return 0;
}
static inline int pop_output_duration(uint64_t ns) {
  pop_val *o = pop__output_slot(POP_VAL_DURATION);
  if (!o)
    return POP_E_FULL;
  o->u.u64 = ns;
  return 0;
}
static inline int pop_output_instant(uint64_t ns) {
  pop_val *o = pop__output_slot(POP_VAL_INSTANT);
  if (!o)
    return POP_E_FULL;
  o->u.u64 = ns;
  return 0;
}
static inline int pop_output_frame(const pop_frame *f) {
  pop_val *o = pop__output_slot(POP_VAL_FRAME);
  if (!o)
    return POP_E_FULL;
  o->u.frame = *f;
  return 0;
}

/* ---- Connection and recovery fields ---- */

/* Integer-like field as u64 (U64, I64, DURATION, INSTANT, U32, BOOL). */
static inline int pop_field_u64(const pop_val *v, uint64_t *out) {
  switch (v->type) {
  case POP_VAL_U64: case POP_VAL_I64: case POP_VAL_DURATION: case POP_VAL_INSTANT:
    *out = v->u.u64;
    return 0;
  case POP_VAL_U32: case POP_VAL_BOOL:
    *out = v->u.u32;
    return 0;
  default:
    return POP_E_VALUE;
  }
}

static inline int pop_conn_get_u64(uint32_t field, uint64_t param, uint64_t *out) {
  pop_val v;
  int rv = pop_host_get_connection(field, param, &v);
  return rv < 0 ? rv : pop_field_u64(&v, out);
}
static inline int pop_conn_set_u64(uint32_t field, uint64_t param, uint64_t x) {
  pop_val v = pop_val_u64(POP_VAL_U64, x);
  return pop_host_set_connection(field, param, &v);
}
static inline int pop_rec_get_u64(uint32_t field, uint64_t param, uint64_t *out) {
  pop_val v;
  int rv = pop_host_get_recovery(field, param, &v);
  return rv < 0 ? rv : pop_field_u64(&v, out);
}
static inline int pop_rec_set_u64(uint32_t field, uint64_t param, uint64_t x) {
  pop_val v = pop_val_u64(POP_VAL_U64, x);
  return pop_host_set_recovery(field, param, &v);
}
static inline int pop_rec_set_duration(uint32_t field, uint64_t param, uint64_t ns) {
  pop_val v = pop_val_u64(POP_VAL_DURATION, ns);
  return pop_host_set_recovery(field, param, &v);
}

/* ---- Bytes, timers, logging, files, control ---- */

static inline int64_t pop_get_bytes(uint64_t tag, void *dst, uint32_t len) {
  return pop_host_get_bytes(tag, dst, len);
}
static inline int64_t pop_put_bytes(uint64_t tag, const void *src, uint32_t len) {
  return pop_host_put_bytes(tag, src, len);
}

/* QUIC variable-length integers over a bytes token. */
static inline int pop_varint_len(uint64_t v) {
  return v < 64 ? 1 : v < 16384 ? 2 : v < 1073741824 ? 4 : 8;
}
static inline int64_t pop_put_varint(uint64_t tag, uint64_t v) {
  uint8_t b[8];
  int n = pop_varint_len(v);
  for (int i = n - 1; i >= 0; i--, v >>= 8)
    b[i] = (uint8_t)v;
  b[0] |= (uint8_t)((n == 1 ? 0 : n == 2 ? 1 : n == 4 ? 2 : 3) << 6);
  return pop_put_bytes(tag, b, (uint32_t)n);
}
static inline int pop_get_varint(uint64_t tag, uint64_t *out) {
  uint8_t b[8];
  int64_t rv = pop_get_bytes(tag, b, 1);
  if (rv < 0)
    return (int)rv;
  int n = 1 << (b[0] >> 6);
  if (n > 1 && (rv = pop_get_bytes(tag, b + 1, (uint32_t)(n - 1))) < 0)
    return (int)rv;
  uint64_t v = b[0] & 0x3f;
  for (int i = 1; i < n; i++)
    v = (v << 8) | b[i];
  *out = v;
  return 0;
}

static inline uint64_t pop_now(void) { return pop_host_now(); }
static inline int pop_set_timer(uint64_t at, uint64_t id, uint64_t timer_id) {
  return pop_host_set_timer(at, id, timer_id);
}
static inline int pop_cancel_timer(uint64_t id) { return pop_host_cancel_timer(id); }

static inline int pop_log(uint32_t level, const char *msg) {
  return pop_host_log(level, msg, pop_strlen(msg));
}

static inline int pop_enable(void) { return pop_host_enable(); }

static inline int pop_register_frame(uint64_t type, uint8_t send_order, int once,
                                     int ack_eliciting, int count_in_flight) {
  pop_frame_reg r;
  __builtin_memset(&r, 0, sizeof r);
  r.type = type;
  r.send_order = send_order;
  r.once_per_packet = (uint8_t)(once != 0);
  r.ack_eliciting = (uint8_t)(ack_eliciting != 0);
  r.count_in_flight = (uint8_t)(count_in_flight != 0);
  return pop_host_register_frame(&r);
}
static inline int pop_register_tp(uint64_t id) { return pop_host_register_tp(id); }

static inline int pop_create_file(const char *path) {
  return pop_host_create_file(path, pop_strlen(path));
}
static inline int64_t pop_write_file(int fd, const void *data, uint32_t len) {
  return pop_host_write_file(fd, data, len);
}

/* Calls plugin_control_<id> of the first plugin providing it; returns the number of
 * outputs written to |outputs| or a negative pop_abi_err (POP_E_OP if it failed). */
static inline int64_t pop_poctl(uint64_t id, const pop_val *inputs, uint32_t n_inputs,
                                pop_val *outputs, uint32_t max_outputs) {
  return pop_host_poctl(id, inputs, n_inputs, outputs, max_outputs);
}

/* The parameter |key| given at attach, copied (NUL-terminated) into |buf|. Returns its
 * length (truncated to cap - 1 in the copy), or POP_E_NOT_FOUND. */
static inline int pop_param(const char *key, char *buf, uint32_t cap) {
  int rv = pop_host_get_param(key, pop_strlen(key), buf, cap ? cap - 1 : 0);
  if (rv >= 0 && cap)
    buf[(uint32_t)rv < cap - 1 ? (uint32_t)rv : cap - 1] = 0;
  return rv;
}

/* ---- Extism-compatible kernel (module "extism:host/env"), for POP_EXPORT_BYTES ---- */

POP__XIMPORT(alloc) uint64_t extism_alloc(uint64_t n);
POP__XIMPORT(free) void extism_free(uint64_t h);
POP__XIMPORT(length) uint64_t extism_length(uint64_t h);
POP__XIMPORT(length_unsafe) uint64_t extism_length_unsafe(uint64_t h);
POP__XIMPORT(load_u8) uint32_t extism_load_u8(uint64_t p);
POP__XIMPORT(load_u64) uint64_t extism_load_u64(uint64_t p);
POP__XIMPORT(store_u8) void extism_store_u8(uint64_t p, uint32_t v);
POP__XIMPORT(store_u64) void extism_store_u64(uint64_t p, uint64_t v);
POP__XIMPORT(input_load_u8) uint32_t extism_input_load_u8(uint64_t i);
POP__XIMPORT(input_load_u64) uint64_t extism_input_load_u64(uint64_t i);
POP__XIMPORT(input_length) uint64_t extism_input_length(void);
POP__XIMPORT(input_offset) uint64_t extism_input_offset(void);
POP__XIMPORT(input_set) void extism_input_set(uint64_t h, uint64_t len);
POP__XIMPORT(output_set) void extism_output_set(uint64_t h, uint64_t len);
POP__XIMPORT(output_length) uint64_t extism_output_length(void);
POP__XIMPORT(output_offset) uint64_t extism_output_offset(void);
POP__XIMPORT(reset) void extism_reset(void);
POP__XIMPORT(error_set) void extism_error_set(uint64_t h);
POP__XIMPORT(error_get) uint64_t extism_error_get(void);
POP__XIMPORT(memory_bytes) uint64_t extism_memory_bytes(void);
POP__XIMPORT(config_get) uint64_t extism_config_get(uint64_t key);
POP__XIMPORT(var_get) uint64_t extism_var_get(uint64_t key);
POP__XIMPORT(var_set) void extism_var_set(uint64_t key, uint64_t val);
POP__XIMPORT(log_info) void extism_log_info(uint64_t h);
POP__XIMPORT(log_debug) void extism_log_debug(uint64_t h);
POP__XIMPORT(log_warn) void extism_log_warn(uint64_t h);
POP__XIMPORT(log_error) void extism_log_error(uint64_t h);
/* Bulk-copy extension (pluginop only): between a kernel block and plugin memory.
 * Return 0 or a negative pop_abi_err. */
POP__XIMPORT(pop_read) int32_t extism_pop_read(uint64_t h, uint64_t off, void *dst, uint32_t len);
POP__XIMPORT(pop_write) int32_t extism_pop_write(uint64_t h, uint64_t off, const void *src,
                                                 uint32_t len);
POP__XIMPORT(pop_input_read) int32_t extism_pop_input_read(uint64_t off, void *dst, uint32_t len);

#endif
