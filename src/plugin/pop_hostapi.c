/*
 * pop_hostapi.c: the functions plugins import, module "pluginop" (the host API) and
 * module "extism:host/env" (the Extism-compatible kernel over pop_kernel).
 *
 * Every host API function checks, in this order: that it runs inside a call, the
 * plugin's permission, read-only anchors, and that every pointer/length lies inside the
 * plugin's memory; it then returns a negative pop_abi_err to the plugin instead of
 * trapping. Only misuse of the Extism kernel traps (Extism's functions have no error
 * return), with a message naming the function.
 */
#include <string.h>

#include "pop_internal.h"

#define I PVM_I32
#define L PVM_I64

/* The calling code's context, or NULL (a host function called from a start function
 * or after the call ended). */
static pop_callctx *cur(void *ud) {
  pop_handler *h = *(pop_handler **)ud;
  return h && h->ctx && h->ctx->inst ? h->ctx : NULL;
}

/* The handler behind a host function's user data. */
#define HANDLER(ud) (*(pop_handler **)(ud))

/* |len| bytes at |ptr| in the caller's memory, or NULL if they do not all fit. */
static uint8_t *mem_at(pvm_call_ctx *cx, uint64_t ptr, uint64_t len) {
  size_t size = 0;
  uint8_t *m = pvm_ctx_memory(cx, &size);
  if (!m || ptr > size || len > size - ptr)
    return NULL;
  return m + ptr;
}

static int32_t check(pop_callctx *c, uint32_t perm, bool writes) {
  if (!c)
    return POP_E_STATE;
  if (perm && !(c->inst->perms & perm))
    return POP_E_PERM;
  if (writes && c->readonly)
    return POP_E_READONLY;
  return 0;
}

#define RET_I32(v) (res[0].i32 = (uint32_t)(int32_t)(v), 0)
#define RET_I64(v) (res[0].i64 = (uint64_t)(int64_t)(v), 0)

/* ---- values ---- */

static int h_save_output(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  pop_callctx *c = cur(ud);
  int32_t rv = check(c, POP_PERM_OUTPUT, true);
  if (rv)
    return RET_I32(rv);
  uint8_t *p = mem_at(cx, a[0].i32, sizeof(pop_val));
  if (!p)
    return RET_I32(POP_E_BOUNDS);
  pop_val v;
  memcpy(&v, p, sizeof v);
  if (v.type == POP_VAL_NONE || v.type >= POP_VAL_TYPE_COUNT)
    return RET_I32(POP_E_VALUE);
  if (c->n_outputs >= POP_MAX_OUTPUTS)
    return RET_I32(POP_E_FULL);
  if (c->n_outputs < c->max_outputs)
    c->outputs[c->n_outputs] = v;
  c->n_outputs++;
  return RET_I32(0);
}

static int h_get_input(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  pop_callctx *c = cur(ud);
  int32_t rv = check(c, 0, false);
  if (rv)
    return RET_I32(rv);
  uint8_t *p = mem_at(cx, a[1].i32, sizeof(pop_val));
  if (!p)
    return RET_I32(POP_E_BOUNDS);
  if (a[0].i32 >= c->n_inputs)
    return RET_I32(POP_E_INDEX);
  memcpy(p, &c->inputs[a[0].i32], sizeof(pop_val));
  return RET_I32(0);
}

static int h_log(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  pop_callctx *c = cur(ud);
  int32_t rv = check(c, POP_PERM_LOG, false);
  if (rv)
    return RET_I32(rv);
  uint8_t *p = mem_at(cx, a[1].i32, a[2].i32);
  if (!p)
    return RET_I32(POP_E_BOUNDS);
  pop_handler *h = HANDLER(ud);
  if (h->cb.log)
    h->cb.log(h->conn, c->inst->plugin->name, (int)a[0].i32, (const char *)p, a[2].i32);
  return RET_I32(0);
}

/* ---- fields ---- */

typedef int (*get_fn)(void *, uint32_t, uint64_t, pop_val *);
typedef int (*set_fn)(void *, uint32_t, uint64_t, const pop_val *);

static int32_t field_get(pvm_call_ctx *cx, const pvm_val *a, void *ud, uint32_t perm,
                         get_fn fn) {
  pop_callctx *c = cur(ud);
  int32_t rv = check(c, perm, false);
  if (rv)
    return rv;
  if (!mem_at(cx, a[2].i32, sizeof(pop_val)))
    return POP_E_BOUNDS;
  pop_handler *h = HANDLER(ud);
  if (!fn)
    return POP_E_FIELD;
  pop_val v;
  memset(&v, 0, sizeof v);
  rv = fn(h->conn, a[0].i32, a[1].i64, &v);
  if (rv < 0)
    return rv;
  /* The callback may not grow memory, but re-fetch anyway: it is cheap. */
  uint8_t *p = mem_at(cx, a[2].i32, sizeof(pop_val));
  if (!p)
    return POP_E_BOUNDS;
  memcpy(p, &v, sizeof v);
  return 0;
}

static int32_t field_set(pvm_call_ctx *cx, const pvm_val *a, void *ud, uint32_t perm,
                         set_fn fn) {
  pop_callctx *c = cur(ud);
  int32_t rv = check(c, perm, true);
  if (rv)
    return rv;
  uint8_t *p = mem_at(cx, a[2].i32, sizeof(pop_val));
  if (!p)
    return POP_E_BOUNDS;
  pop_val v;
  memcpy(&v, p, sizeof v);
  if (v.type == POP_VAL_NONE || v.type >= POP_VAL_TYPE_COUNT)
    return POP_E_VALUE;
  if (!fn)
    return POP_E_FIELD;
  pop_handler *h = HANDLER(ud);
  rv = fn(h->conn, a[0].i32, a[1].i64, &v);
  return rv < 0 ? rv : 0;
}

static int h_get_conn(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  return RET_I32(field_get(cx, a, ud, POP_PERM_CONN_READ, HANDLER(ud)->cb.get_conn));
}
static int h_set_conn(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  return RET_I32(field_set(cx, a, ud, POP_PERM_CONN_WRITE, HANDLER(ud)->cb.set_conn));
}
static int h_get_rec(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  return RET_I32(field_get(cx, a, ud, POP_PERM_REC_READ, HANDLER(ud)->cb.get_rec));
}
static int h_set_rec(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  return RET_I32(field_set(cx, a, ud, POP_PERM_REC_WRITE, HANDLER(ud)->cb.set_rec));
}

/* ---- bytes ---- */

static pop_token *token(pop_callctx *c, uint64_t tag) {
  pop_token_table *t = c->tokens;
  for (uint32_t i = 0; t && i < t->n; i++)
    if (t->t[i].tag == tag)
      return &t->t[i];
  return NULL;
}

static int h_get_bytes(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  pop_callctx *c = cur(ud);
  /* Reading advances the host's buffer: a change the Define code would see. */
  int64_t rv = check(c, POP_PERM_BYTES_READ, true);
  if (rv)
    return RET_I64(rv);
  uint32_t len = a[2].i32;
  uint8_t *p = mem_at(cx, a[1].i32, len);
  if (!p)
    return RET_I64(POP_E_BOUNDS);
  pop_token *t = token(c, a[0].i64);
  pop_handler *h = HANDLER(ud);
  if (!t || len > t->read_left || !h->cb.bytes_read)
    return RET_I64(POP_E_BUFFER);
  int r = h->cb.bytes_read(h->conn, t->tag, p, len);
  if (r < 0)
    return RET_I64(r);
  t->read_left -= len;
  return RET_I64(len);
}

static int h_put_bytes(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  pop_callctx *c = cur(ud);
  int64_t rv = check(c, POP_PERM_BYTES_WRITE, true);
  if (rv)
    return RET_I64(rv);
  uint32_t len = a[2].i32;
  uint8_t *p = mem_at(cx, a[1].i32, len);
  if (!p)
    return RET_I64(POP_E_BOUNDS);
  pop_token *t = token(c, a[0].i64);
  pop_handler *h = HANDLER(ud);
  if (!t || len > t->write_left || len > c->tokens->put_left || !h->cb.bytes_write)
    return RET_I64(POP_E_BUFFER);
  int r = h->cb.bytes_write(h->conn, t->tag, p, len);
  if (r < 0)
    return RET_I64(r);
  t->write_left -= len;
  c->tokens->put_left -= len;
  return RET_I64(len);
}

/* ---- registration ---- */

static int h_register_frame(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  pop_callctx *c = cur(ud);
  int32_t rv = check(c, POP_PERM_REGISTER, true);
  if (rv)
    return RET_I32(rv);
  uint8_t *p = mem_at(cx, a[0].i32, sizeof(pop_frame_reg));
  if (!p)
    return RET_I32(POP_E_BOUNDS);
  pop_frame_reg reg;
  memcpy(&reg, p, sizeof reg);
  if (reg.send_order > POP_SEND_END)
    return RET_I32(POP_E_VALUE);
  pop_handler *h = HANDLER(ud);
  if (!h->cb.register_frame)
    return RET_I32(POP_E_HOST);
  int r = h->cb.register_frame(h->conn, &reg);
  return RET_I32(r < 0 ? r : 0);
}

static int h_register_tp(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  pop_callctx *c = cur(ud);
  int32_t rv = check(c, POP_PERM_REGISTER, true);
  if (rv)
    return RET_I32(rv);
  pop_handler *h = HANDLER(ud);
  if (!h->cb.register_tp)
    return RET_I32(POP_E_HOST);
  int r = h->cb.register_tp(h->conn, a[0].i64);
  return RET_I32(r < 0 ? r : 0);
}

/* ---- timers and time ---- */

static int h_set_timer(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  pop_callctx *c = cur(ud);
  int32_t rv = check(c, POP_PERM_TIMER, false);
  if (rv)
    return RET_I32(rv);
  pop_inst *in = c->inst;
  pop_handler *h = HANDLER(ud);
  pop_timer *t = NULL;
  for (uint32_t i = 0; i < in->n_timers; i++)
    if (in->timers[i].id == a[1].i64)
      t = &in->timers[i];
  if (!t) {
    if (in->n_timers >= h->store->settings.max_timers)
      return RET_I32(POP_E_FULL);
    t = &in->timers[in->n_timers++];
  }
  t->at = a[0].i64;
  t->id = a[1].i64;
  t->timer_id = a[2].i64;
  t->seq = h->timer_seq++;
  return RET_I32(0);
}

static int h_cancel_timer(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  pop_callctx *c = cur(ud);
  int32_t rv = check(c, POP_PERM_TIMER, false);
  if (rv)
    return RET_I32(rv);
  pop_inst *in = c->inst;
  for (uint32_t i = 0; i < in->n_timers; i++)
    if (in->timers[i].id == a[0].i64) {
      in->timers[i] = in->timers[--in->n_timers];
      return RET_I32(0);
    }
  return RET_I32(POP_E_NOT_FOUND);
}

static int h_now(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  return RET_I64(pop_handler_now(HANDLER(ud)));
}

/* ---- files ---- */

static int h_create_file(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  pop_callctx *c = cur(ud);
  int32_t rv = check(c, POP_PERM_FILE, false);
  if (rv)
    return RET_I32(rv);
  uint8_t *p = mem_at(cx, a[0].i32, a[1].i32);
  if (!p)
    return RET_I32(POP_E_BOUNDS);
  return RET_I32(pop_fs_create(&c->inst->fs, (const char *)p, a[1].i32));
}

static int h_write_file(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  pop_callctx *c = cur(ud);
  int64_t rv = check(c, POP_PERM_FILE, false);
  if (rv)
    return RET_I64(rv);
  uint8_t *p = mem_at(cx, a[1].i32, a[2].i32);
  if (!p)
    return RET_I64(POP_E_BOUNDS);
  return RET_I64(pop_fs_write(&c->inst->fs, (int)a[0].i32, p, a[2].i32));
}

/* ---- enabling, control, parameters ---- */

static int h_enable(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  pop_callctx *c = cur(ud);
  int32_t rv = check(c, 0, false);
  if (rv)
    return RET_I32(rv);
  if (!c->inst->faulted)
    c->inst->enabled = true;
  return RET_I32(0);
}

static int h_poctl(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  pop_callctx *c = cur(ud);
  int64_t rv = check(c, POP_PERM_POCTL, false);
  if (rv)
    return RET_I64(rv);
  uint32_t n_in = a[2].i32, max_out = a[4].i32;
  if (n_in > POP_MAX_INPUTS)
    return RET_I64(POP_E_VALUE);
  uint8_t *pin = mem_at(cx, a[1].i32, (uint64_t)n_in * sizeof(pop_val));
  if (!pin || !mem_at(cx, a[3].i32, (uint64_t)max_out * sizeof(pop_val)))
    return RET_I64(POP_E_BOUNDS);
  pop_handler *h = HANDLER(ud);
  if (h->depth > h->store->settings.max_poctl_depth)
    return RET_I64(POP_E_DEPTH);
  /* Copy in and out: the callee may grow its (or this) memory. */
  pop_val in[POP_MAX_INPUTS], out[POP_MAX_OUTPUTS];
  if (n_in)
    memcpy(in, pin, n_in * sizeof(pop_val));
  for (uint32_t i = 0; i < n_in; i++)
    if (in[i].type == POP_VAL_NONE || in[i].type >= POP_VAL_TYPE_COUNT)
      return RET_I64(POP_E_VALUE);
  size_t n_out = 0;
  int64_t code = 0;
  int r = pop_handler_poctl_nested(h, a[0].i64, in, n_in, out,
                                   max_out < POP_MAX_OUTPUTS ? max_out : POP_MAX_OUTPUTS,
                                   &n_out, &code);
  if (r == POP_ERR_LIMIT)
    return RET_I64(POP_E_DEPTH);
  if (r == POP_ERR_NOT_FOUND)
    return RET_I64(POP_E_NOT_FOUND);
  if (r == POP_ERR_DISABLED)
    return RET_I64(POP_E_STATE);
  if (r == POP_ERR_OP)
    return RET_I64(POP_E_OP);
  if (r != 0)
    return RET_I64(POP_E_STATE);
  uint8_t *pout = mem_at(cx, a[3].i32, (uint64_t)n_out * sizeof(pop_val));
  if (!pout)
    return RET_I64(POP_E_BOUNDS);
  if (n_out)
    memcpy(pout, out, n_out * sizeof(pop_val));
  return RET_I64((int64_t)n_out);
}

static int h_get_param(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  pop_callctx *c = cur(ud);
  int32_t rv = check(c, 0, false);
  if (rv)
    return RET_I32(rv);
  uint8_t *key = mem_at(cx, a[0].i32, a[1].i32);
  uint8_t *out = mem_at(cx, a[2].i32, a[3].i32);
  if (!key || !out)
    return RET_I32(POP_E_BOUNDS);
  pop_inst *in = c->inst;
  for (size_t i = 0; i < in->n_params; i++) {
    const char *k = in->params[i].key;
    if (strlen(k) == a[1].i32 && memcmp(k, key, a[1].i32) == 0) {
      size_t vl = strlen(in->params[i].value);
      if (vl > INT32_MAX)
        return RET_I32(POP_E_VALUE);
      memcpy(out, in->params[i].value, vl < a[3].i32 ? vl : a[3].i32);
      return RET_I32((int32_t)vl);
    }
  }
  return RET_I32(POP_E_NOT_FOUND);
}

/* ---- the Extism kernel ---- */

static pop_kernel *kern(pvm_call_ctx *cx, void *ud, const char *fn) {
  pop_callctx *c = cur(ud);
  if (!c || !c->inst->kernel) {
    pvm_ctx_trap(cx, "extism kernel: called outside a call");
    return NULL;
  }
  (void)fn;
  return c->inst->kernel;
}

/* Traps with "extism kernel: <fn>: <why>". */
static int ktrap(pvm_call_ctx *cx, const char *fn, const char *why) {
  char msg[96];
  size_t n = strlen(fn), m = strlen(why);
  if (n + m + 20 > sizeof msg)
    m = 0;
  memcpy(msg, "extism kernel: ", 15);
  memcpy(msg + 15, fn, n);
  memcpy(msg + 15 + n, ": ", 2);
  memcpy(msg + 17 + n, why, m);
  msg[17 + n + m] = 0;
  pvm_ctx_trap(cx, msg);
  return -1;
}

#define KERNEL(fn)                                                                     \
  pop_kernel *k = kern(cx, ud, fn);                                                    \
  if (!k)                                                                              \
    return -1

static int x_alloc(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  KERNEL("alloc");
  res[0].i64 = pop_kernel_alloc(k, a[0].i64);
  return 0;
}
static int x_free(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  KERNEL("free");
  if (a[0].i64 != 0 && pop_kernel_free_block(k, a[0].i64) != 0)
    return ktrap(cx, "free", "not a live block handle");
  return 0;
}
static int x_length(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  KERNEL("length");
  res[0].i64 = pop_kernel_length(k, a[0].i64);
  return 0;
}
static int x_load_u8(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  KERNEL("load_u8");
  uint8_t v;
  if (pop_kernel_load_u8(k, a[0].i64, &v) != 0)
    return ktrap(cx, "load_u8", "out of bounds");
  res[0].i32 = v;
  return 0;
}
static int x_load_u64(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  KERNEL("load_u64");
  if (pop_kernel_load_u64(k, a[0].i64, &res[0].i64) != 0)
    return ktrap(cx, "load_u64", "out of bounds");
  return 0;
}
static int x_store_u8(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  KERNEL("store_u8");
  if (pop_kernel_store_u8(k, a[0].i64, (uint8_t)a[1].i32) != 0)
    return ktrap(cx, "store_u8", "out of bounds or on a block header");
  return 0;
}
static int x_store_u64(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  KERNEL("store_u64");
  if (pop_kernel_store_u64(k, a[0].i64, a[1].i64) != 0)
    return ktrap(cx, "store_u64", "out of bounds or on a block header");
  return 0;
}
static int x_input_load_u8(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  KERNEL("input_load_u8");
  uint8_t v;
  if (pop_kernel_input_load_u8(k, a[0].i64, &v) != 0)
    return ktrap(cx, "input_load_u8", "past the input");
  res[0].i32 = v;
  return 0;
}
static int x_input_load_u64(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  KERNEL("input_load_u64");
  if (pop_kernel_input_load_u64(k, a[0].i64, &res[0].i64) != 0)
    return ktrap(cx, "input_load_u64", "past the input");
  return 0;
}
static int x_input_length(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  KERNEL("input_length");
  res[0].i64 = k->input_len;
  return 0;
}
static int x_input_offset(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  KERNEL("input_offset");
  res[0].i64 = k->input_off;
  return 0;
}
static int x_output_length(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  KERNEL("output_length");
  res[0].i64 = k->output_len;
  return 0;
}
static int x_output_offset(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  KERNEL("output_offset");
  res[0].i64 = k->output_off;
  return 0;
}
static int x_input_set(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  KERNEL("input_set");
  if (pop_kernel_input_set(k, a[0].i64, a[1].i64) != 0)
    return ktrap(cx, "input_set", "not a live block or longer than it");
  return 0;
}
static int x_output_set(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  KERNEL("output_set");
  if (pop_kernel_output_set(k, a[0].i64, a[1].i64) != 0)
    return ktrap(cx, "output_set", "not a live block or longer than it");
  return 0;
}
static int x_reset(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  KERNEL("reset");
  pop_kernel_reset(k);
  return 0;
}
static int x_error_set(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  KERNEL("error_set");
  if (pop_kernel_error_set(k, a[0].i64) != 0)
    return ktrap(cx, "error_set", "not a live block handle");
  return 0;
}
static int x_error_get(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  KERNEL("error_get");
  res[0].i64 = k->error;
  return 0;
}
static int x_memory_bytes(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  KERNEL("memory_bytes");
  res[0].i64 = k->cap;
  return 0;
}
static int x_config_get(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  KERNEL("config_get");
  if (pop_kernel_config_get(k, a[0].i64, &res[0].i64) == POP_E_VALUE)
    return ktrap(cx, "config_get", "not a live block handle");
  return 0;
}
static int x_var_get(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  KERNEL("var_get");
  if (pop_kernel_var_get(k, a[0].i64, &res[0].i64) == POP_E_VALUE)
    return ktrap(cx, "var_get", "not a live block handle");
  return 0;
}
static int x_var_set(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  KERNEL("var_set");
  int rv = pop_kernel_var_set(k, a[0].i64, a[1].i64);
  if (rv == POP_E_VALUE)
    return ktrap(cx, "var_set", "not a live block handle");
  if (rv == POP_E_FULL)
    return ktrap(cx, "var_set", "too many vars");
  return 0;
}

static int x_log(pvm_call_ctx *cx, const pvm_val *a, void *ud, int level, const char *fn) {
  KERNEL(fn);
  uint64_t len;
  const uint8_t *p = pop_kernel_block(k, a[0].i64, &len);
  if (!p)
    return ktrap(cx, fn, "not a live block handle");
  pop_handler *h = HANDLER(ud);
  pop_callctx *c = cur(ud);
  if (h->cb.log && (c->inst->perms & POP_PERM_LOG))
    h->cb.log(h->conn, c->inst->plugin->name, level, (const char *)p, len);
  return 0;
}
static int x_log_info(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  return x_log(cx, a, ud, POP_LOG_INFO, "log_info");
}
static int x_log_debug(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  return x_log(cx, a, ud, POP_LOG_DEBUG, "log_debug");
}
static int x_log_warn(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  return x_log(cx, a, ud, POP_LOG_WARN, "log_warn");
}
static int x_log_error(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  return x_log(cx, a, ud, POP_LOG_ERROR, "log_error");
}

/* Bulk copies: return codes, no trap (an extension with an error channel). */
static int x_pop_read(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  KERNEL("pop_read");
  uint8_t *p = mem_at(cx, a[2].i32, a[3].i32);
  if (!p)
    return RET_I32(POP_E_BOUNDS);
  return RET_I32(pop_kernel_read(k, a[0].i64, a[1].i64, p, a[3].i32));
}
static int x_pop_write(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  KERNEL("pop_write");
  uint8_t *p = mem_at(cx, a[2].i32, a[3].i32);
  if (!p)
    return RET_I32(POP_E_BOUNDS);
  return RET_I32(pop_kernel_write(k, a[0].i64, a[1].i64, p, a[3].i32));
}
static int x_pop_input_read(pvm_call_ctx *cx, const pvm_val *a, pvm_val *res, void *ud) {
  KERNEL("pop_input_read");
  uint8_t *p = mem_at(cx, a[1].i32, a[2].i32);
  if (!p)
    return RET_I32(POP_E_BOUNDS);
  return RET_I32(pop_kernel_input_read(k, a[0].i64, p, a[2].i32));
}

/* ---- the table ---- */

typedef struct host_fn {
  const char *module;
  const char *name;
  const char *params; /* 'i' = i32, 'l' = i64 */
  const char *results;
  pvm_host_fn fn;
} host_fn;

static const host_fn HOST_FNS[] = {
    {POP_IMPORT_MODULE, "save_output", "i", "i", h_save_output},
    {POP_IMPORT_MODULE, "get_input", "ii", "i", h_get_input},
    {POP_IMPORT_MODULE, "log", "iii", "i", h_log},
    {POP_IMPORT_MODULE, "get_connection", "ili", "i", h_get_conn},
    {POP_IMPORT_MODULE, "set_connection", "ili", "i", h_set_conn},
    {POP_IMPORT_MODULE, "get_recovery", "ili", "i", h_get_rec},
    {POP_IMPORT_MODULE, "set_recovery", "ili", "i", h_set_rec},
    {POP_IMPORT_MODULE, "get_bytes", "lii", "l", h_get_bytes},
    {POP_IMPORT_MODULE, "put_bytes", "lii", "l", h_put_bytes},
    {POP_IMPORT_MODULE, "register_frame", "i", "i", h_register_frame},
    {POP_IMPORT_MODULE, "register_transport_parameter", "l", "i", h_register_tp},
    {POP_IMPORT_MODULE, "set_timer", "lll", "i", h_set_timer},
    {POP_IMPORT_MODULE, "cancel_timer", "l", "i", h_cancel_timer},
    {POP_IMPORT_MODULE, "now", "", "l", h_now},
    {POP_IMPORT_MODULE, "create_file", "ii", "i", h_create_file},
    {POP_IMPORT_MODULE, "write_file", "iii", "l", h_write_file},
    {POP_IMPORT_MODULE, "enable", "", "i", h_enable},
    {POP_IMPORT_MODULE, "poctl", "liiii", "l", h_poctl},
    {POP_IMPORT_MODULE, "get_param", "iiii", "i", h_get_param},
    {POP_EXTISM_MODULE, "alloc", "l", "l", x_alloc},
    {POP_EXTISM_MODULE, "free", "l", "", x_free},
    {POP_EXTISM_MODULE, "length", "l", "l", x_length},
    {POP_EXTISM_MODULE, "length_unsafe", "l", "l", x_length},
    {POP_EXTISM_MODULE, "load_u8", "l", "i", x_load_u8},
    {POP_EXTISM_MODULE, "load_u64", "l", "l", x_load_u64},
    {POP_EXTISM_MODULE, "store_u8", "li", "", x_store_u8},
    {POP_EXTISM_MODULE, "store_u64", "ll", "", x_store_u64},
    {POP_EXTISM_MODULE, "input_load_u8", "l", "i", x_input_load_u8},
    {POP_EXTISM_MODULE, "input_load_u64", "l", "l", x_input_load_u64},
    {POP_EXTISM_MODULE, "input_length", "", "l", x_input_length},
    {POP_EXTISM_MODULE, "input_offset", "", "l", x_input_offset},
    {POP_EXTISM_MODULE, "input_set", "ll", "", x_input_set},
    {POP_EXTISM_MODULE, "output_set", "ll", "", x_output_set},
    {POP_EXTISM_MODULE, "output_length", "", "l", x_output_length},
    {POP_EXTISM_MODULE, "output_offset", "", "l", x_output_offset},
    {POP_EXTISM_MODULE, "reset", "", "", x_reset},
    {POP_EXTISM_MODULE, "error_set", "l", "", x_error_set},
    {POP_EXTISM_MODULE, "error_get", "", "l", x_error_get},
    {POP_EXTISM_MODULE, "memory_bytes", "", "l", x_memory_bytes},
    {POP_EXTISM_MODULE, "config_get", "l", "l", x_config_get},
    {POP_EXTISM_MODULE, "var_get", "l", "l", x_var_get},
    {POP_EXTISM_MODULE, "var_set", "ll", "", x_var_set},
    {POP_EXTISM_MODULE, "log_info", "l", "", x_log_info},
    {POP_EXTISM_MODULE, "log_debug", "l", "", x_log_debug},
    {POP_EXTISM_MODULE, "log_warn", "l", "", x_log_warn},
    {POP_EXTISM_MODULE, "log_error", "l", "", x_log_error},
    {POP_EXTISM_MODULE, "pop_read", "llii", "i", x_pop_read},
    {POP_EXTISM_MODULE, "pop_write", "llii", "i", x_pop_write},
    {POP_EXTISM_MODULE, "pop_input_read", "lii", "i", x_pop_input_read},
};

static uint32_t types(const char *s, uint8_t *out) {
  uint32_t n = 0;
  for (; *s; s++)
    out[n++] = *s == 'i' ? I : L;
  return n;
}

int pop_hostapi_define(pvm_linker *linker, pop_handler **cell) {
  for (size_t i = 0; i < sizeof HOST_FNS / sizeof HOST_FNS[0]; i++) {
    uint8_t p[8], r[2];
    uint32_t np = types(HOST_FNS[i].params, p), nr = types(HOST_FNS[i].results, r);
    int rv = pvm_linker_define_func(linker, HOST_FNS[i].module, HOST_FNS[i].name, p, np, r,
                                    nr, HOST_FNS[i].fn, cell);
    if (rv != 0)
      return rv;
  }
  return 0;
}
