/*
 * pop_handler.c: one connection's plugins: instantiation, the Before/Define/After call
 * path, two-step enabling, faults, timers, plugin control and the Extism-style call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../vm/vm_fast.h"
#include "pop_internal.h"

uint64_t pop_handler_now(const pop_handler *h) {
  if (h->cb.now)
    return h->cb.now(h->conn);
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int pop_handler_new(pop_store *store, const pop_callbacks *callbacks, void *conn,
                    pop_handler **out) {
  if (!store || !out)
    return POP_ERR_ARG;
  pop_handler *h = calloc(1, sizeof *h);
  if (!h)
    return POP_ERR_NOMEM;
  h->store = store;
  if (callbacks)
    h->cb = *callbacks;
  h->conn = conn;
  pop_linker_slot *slot = pop_store_take_linker(store);
  if (!slot) {
    free(h);
    return POP_ERR_NOMEM;
  }
  slot->cell = h;
  slot->next = NULL;
  h->linker = slot;
  *out = h;
  return 0;
}

static void inst_del(pop_inst *in) {
  if (!in)
    return;
  pvm_instance_del(in->vm);
  free(in->fns);
  free(in->params);
  free(in->params_buf);
  free(in->timers);
  pop_fs_free(&in->fs);
  if (in->kernel) {
    pop_kernel_free(in->kernel);
    free(in->kernel);
  }
  free(in);
}

void pop_handler_del(pop_handler *h) {
  if (!h)
    return;
  for (size_t i = 0; i < h->n_insts; i++)
    inst_del(h->insts[i]);
  free(h->insts);
  /* Every instance using the linker's functions is gone: the linker can serve another
   * connection. */
  pop_store_give_linker(h->store, h->linker);
  free(h);
}

/* ---- the interest masks ---- */

static void mask_set(pop_handler *h, const pop_inst *in, bool on) {
  uint32_t bit = 1u << in->index;
  for (int k = 0; k < POP_OP_KIND_COUNT; k++)
    for (int a = 0; a < 3; a++) {
      if (on && (in->plugin->kind_anchors[k] & (1u << a)))
        h->mask[k][a] |= bit;
      else
        h->mask[k][a] &= ~bit;
    }
}

/* ---- faults ---- */

void pop_inst_fault(pop_inst *in, const char *what, int trap, const char *why) {
  pop_handler *h = in->handler;
  pop_fault *f = &h->last_fault;
  snprintf(f->plugin, sizeof f->plugin, "%s", in->plugin->name);
  snprintf(f->op, sizeof f->op, "%s", what);
  f->trap = trap;
  snprintf(f->why, sizeof f->why, "%s", why);
  h->has_fault = true;
  in->faulted = true;
  in->enabled = false;
  mask_set(h, in, false);
  if (h->cb.on_fault)
    h->cb.on_fault(h->conn, f);
}

const pop_fault *pop_handler_last_fault(const pop_handler *h) {
  return h && h->has_fault ? &h->last_fault : NULL;
}

/* ---- running one piece of plugin code ---- */

static bool active(const pop_inst *in, pop_op_kind kind) {
  return !in->faulted && (in->enabled || pop_op_always_enabled(kind));
}

/* Collects the bytes tokens among a top-level call's inputs. */
static inline void tokens_init(pop_token_table *t, const pop_val *in, size_t n, uint64_t put_max) {
  t->n = 0;
  t->put_left = put_max;
  for (size_t i = 0; i < n; i++)
    if (in[i].type == POP_VAL_BYTES && t->n < POP_MAX_INPUTS) {
      t->t[t->n].tag = in[i].u.bytes.tag;
      t->t[t->n].read_left = in[i].u.bytes.max_read;
      t->t[t->n].write_left = in[i].u.bytes.max_write;
      t->n++;
    }
}

/* Disables |in| for a fault while running (e, anchor); returns POP_ERR_FAULT. */
static int fault_at(pop_inst *in, const pop_op_entry *e, pop_anchor anchor, int trap,
                    const char *why) {
  char what[96];
  pop_op_name((pop_op){e->kind, e->param, e->other}, anchor, what, sizeof what);
  pop_inst_fault(in, what, trap, why);
  return POP_ERR_FAULT;
}

/* Calls export |fn| (op code |e|/|anchor|) of |in|. Returns 0 with *code set, or
 * POP_ERR_FAULT after disabling the plugin. Outputs of a Define land in ctx->outputs. */
/* Inlined into every caller: it is the body of each plugin call. */
static inline __attribute__((always_inline)) int
run_code(pop_inst *in, pvm_func *fn, const pop_op_entry *e, pop_anchor anchor,
         pop_callctx *ctx, int64_t *code) {
  pop_handler *h = in->handler;
  pop_io_area *area = NULL;
  if (in->plugin->has_io) {
    uint8_t *mem = *in->mem_data;
    if (POP_UNLIKELY((uint64_t)in->io_addr + sizeof(pop_io_area) > *in->mem_size))
      return fault_at(in, e, anchor, 0, "I/O area outside memory");
    area = (pop_io_area *)(void *)(mem + in->io_addr);
    area->anchor = anchor;
    area->op_kind = e->kind;
    area->op_param = e->param;
    area->n_inputs = (uint32_t)ctx->n_inputs;
    area->n_outputs = 0;
    if (ctx->n_inputs)
      memcpy(area->inputs, ctx->inputs, ctx->n_inputs * sizeof(pop_val));
  }
  ctx->inst = in;
  ctx->anchor = anchor;
  ctx->readonly = ctx->readonly || anchor != POP_ANCHOR_DEFINE;
  pop_callctx *saved = h->ctx;
  h->ctx = ctx;
  in->running = true;
  /* Every op export was checked to be (i32) -> i64 when the plugin was loaded: the
   * internal entry skips pvm_call's marshalling and arity checks. */
  vm_op_out out;
  int rv = vm_call_op(in->vm, fn, 0, &out);
  in->running = false;
  h->ctx = saved;
  if (rv != 0)
    return fault_at(in, e, anchor, (int)pvm_instance_trap(in->vm),
                    rv == PVM_ERR_TRAP ? pvm_instance_trap_message(in->vm)
                                       : pvm_status_message(rv));
  *code = out.result;
  if (anchor != POP_ANCHOR_DEFINE || !area)
    return 0;
  /* Outputs written in place: memory may have grown (and moved) during the call, and
   * vm_call_op gave it as it is now. Memory never shrinks: the I/O area is still in it. */
  area = (pop_io_area *)(void *)(out.mem + in->io_addr);
  uint32_t n = area->n_outputs;
  if (!(in->perms & POP_PERM_OUTPUT))
    n = 0; /* no permission: outputs written in place are ignored */
  if (n > POP_MAX_OUTPUTS || ctx->n_outputs + n > POP_MAX_OUTPUTS)
    return fault_at(in, e, anchor, 0, "too many outputs");
  for (uint32_t i = 0; i < n; i++) {
    pop_val v;
    memcpy(&v, &area->outputs[i], sizeof v);
    if (v.type == POP_VAL_NONE || v.type >= POP_VAL_TYPE_COUNT)
      return fault_at(in, e, anchor, 0, "output with an unknown value type");
    if (ctx->n_outputs < ctx->max_outputs)
      ctx->outputs[ctx->n_outputs] = v;
    ctx->n_outputs++;
  }
  return 0;
}

/* Runs |anchor| code of every active plugin (Before/After). */
static unsigned run_all(pop_handler *h, pop_op op, pop_anchor anchor, pop_callctx *base) {
  unsigned faults = 0;
  for (uint32_t m = h->mask[op.kind][anchor]; m; m &= m - 1) {
    pop_inst *in = h->insts[__builtin_ctz(m)];
    if (!active(in, op.kind) || in->running)
      continue;
    size_t idx;
    const pop_op_entry *e = pop_plugin_find(in->plugin, op, &idx);
    if (!e || !in->fns[idx * 3 + anchor])
      continue;
    pop_callctx c = *base;
    c.outputs = NULL;
    c.max_outputs = 0;
    c.n_outputs = 0;
    int64_t code;
    if (run_code(in, in->fns[idx * 3 + anchor], e, anchor, &c, &code) != 0)
      faults++;
  }
  return faults;
}

static int call_path(pop_handler *h, pop_op op, const pop_val *inputs, size_t n_inputs,
                     pop_val *outputs, size_t max_outputs, pop_native_fn native,
                     void *native_arg, pop_call_result *res, pop_token_table *tokens,
                     bool readonly, bool define_only) {
  pop_call_result r = {0, 0, -2, 0};
  if (n_inputs > POP_MAX_INPUTS || (n_inputs && !inputs) || (max_outputs && !outputs))
    return POP_ERR_ARG;
  if (h->depth > h->store->settings.max_poctl_depth)
    return POP_ERR_LIMIT;
  h->depth++;
  pop_callctx base = {0};
  base.inputs = inputs;
  base.n_inputs = n_inputs;
  base.tokens = tokens;
  base.readonly = readonly;
  base.parent = h->ctx;
  if (!define_only && h->mask[op.kind][POP_ANCHOR_BEFORE])
    r.faults += run_all(h, op, POP_ANCHOR_BEFORE, &base);
  bool done = false;
  for (uint32_t m = h->mask[op.kind][POP_ANCHOR_DEFINE]; m && !done; m &= m - 1) {
    size_t i = (size_t)__builtin_ctz(m);
    pop_inst *in = h->insts[i];
    if (!active(in, op.kind))
      continue;
    size_t idx;
    const pop_op_entry *e = pop_plugin_find(in->plugin, op, &idx);
    if (!e || !in->fns[idx * 3 + POP_ANCHOR_DEFINE])
      continue;
    if (in->running) {
      r.definer = -3; /* would re-enter a running plugin */
      break;
    }
    /* The Define code runs on |base| itself (After code copies it again). */
    base.outputs = outputs;
    base.max_outputs = max_outputs;
    int64_t code;
    int rv = run_code(in, in->fns[idx * 3 + POP_ANCHOR_DEFINE], e, POP_ANCHOR_DEFINE, &base,
                      &code);
    base.outputs = NULL;
    base.max_outputs = 0;
    if (rv == 0) {
      r.definer = (int)i;
      r.op_code = code;
      r.n_outputs = base.n_outputs < max_outputs ? base.n_outputs : max_outputs;
      done = true;
    } else {
      r.faults++;
      break; /* the native code takes over */
    }
  }
  if (!done && r.definer != -3 && native) {
    size_t n = 0;
    r.op_code = native(native_arg, op, inputs, n_inputs, outputs, max_outputs, &n);
    r.n_outputs = n;
    r.definer = -1;
    done = true;
  }
  if (!define_only && h->mask[op.kind][POP_ANCHOR_AFTER])
    r.faults += run_all(h, op, POP_ANCHOR_AFTER, &base);
  h->depth--;
  if (res)
    *res = r;
  if (r.definer == -3)
    return POP_ERR_DISABLED;
  if (!done)
    return POP_ERR_NOT_FOUND;
  return r.op_code != 0 ? POP_ERR_OP : 0;
}

/* The native code alone (non-NULL |native|), |faults| plugins disabled on the way: the
 * no-plugin path of pop_handler_call, and what follows a fault of the one definer. */
static int native_only(const pop_op *op, const pop_val *inputs, size_t n_inputs,
                       pop_val *outputs, size_t max_outputs, pop_native_fn native,
                       void *native_arg, pop_call_result *res, unsigned faults) {
  size_t n = 0;
  int64_t code = native(native_arg, *op, inputs, n_inputs, outputs, max_outputs, &n);
  if (res) {
    res->n_outputs = n;
    res->op_code = code;
    res->definer = -1;
    res->faults = faults;
  }
  return code != 0 ? POP_ERR_OP : 0;
}

/* After a fault in the one plugin defining the op (see define_one), the native code
 * takes over, as in call_path; without native code nobody defines it. Cold. */
static __attribute__((noinline, cold)) int
native_after_fault(const pop_op *op, const pop_val *inputs, size_t n_inputs, pop_val *outputs,
                   size_t max_outputs, pop_native_fn native, void *native_arg,
                   pop_call_result *res) {
  if (native)
    return native_only(op, inputs, n_inputs, outputs, max_outputs, native, native_arg, res, 1);
  if (res)
    *res = (pop_call_result){0, 0, -2, 1};
  return POP_ERR_NOT_FOUND;
}

static int general_call(pop_handler *h, const pop_op *op, const pop_val *inputs,
                        size_t n_inputs, pop_val *outputs, size_t max_outputs,
                        pop_native_fn native, void *native_arg, pop_call_result *res);

/* The common case of pop_handler_call: one plugin (|in|) has code for the op's kind, all
 * of it Define code (no Before/After for this kind). When |in| is active, not running,
 * and defines the op, this is call_path for that case without its loops and bookkeeping;
 * every check is still made (permissions and limits in run_code, disabling on a fault
 * with the native code taking over). Anything else goes to the general path. */
static __attribute__((noinline)) int
define_one(pop_handler *h, pop_inst *in, const pop_op *op, const pop_val *inputs,
           size_t n_inputs, pop_val *outputs, size_t max_outputs, pop_native_fn native,
           void *native_arg, pop_call_result *res) {
  size_t idx;
  const pop_op_entry *e;
  pvm_func *fn;
  if (POP_UNLIKELY((n_inputs && !inputs) || (max_outputs && !outputs) ||
                   h->depth > h->store->settings.max_poctl_depth || !active(in, op->kind) ||
                   in->running || !(e = pop_plugin_find(in->plugin, *op, &idx)) ||
                   !(fn = in->fns[idx * 3 + POP_ANCHOR_DEFINE])))
    return general_call(h, op, inputs, n_inputs, outputs, max_outputs, native, native_arg,
                        res);
  pop_token_table tokens;
  tokens_init(&tokens, inputs, n_inputs, h->store->settings.max_put_bytes);
  pop_callctx base;
  base.inputs = inputs;
  base.n_inputs = n_inputs;
  base.outputs = outputs;
  base.max_outputs = max_outputs;
  base.n_outputs = 0;
  base.tokens = &tokens;
  base.readonly = false;
  base.parent = h->ctx;
  h->depth++;
  int64_t code = 0;
  int rv = run_code(in, fn, e, POP_ANCHOR_DEFINE, &base, &code);
  h->depth--;
  if (POP_UNLIKELY(rv != 0)) /* disabled by run_code */
    return native_after_fault(op, inputs, n_inputs, outputs, max_outputs, native,
                              native_arg, res);
  if (res) {
    res->n_outputs = base.n_outputs < max_outputs ? base.n_outputs : max_outputs;
    res->op_code = code;
    res->definer = in->index;
    res->faults = 0;
  }
  return code != 0 ? POP_ERR_OP : 0;
}

/* pop_handler_call's every other case (Before/After code, several definers, a plugin
 * that is inactive or running, bad arguments): the general path, out of line so that
 * the common paths do not carry its token table on their stack. */
static __attribute__((noinline)) int
general_call(pop_handler *h, const pop_op *op, const pop_val *inputs, size_t n_inputs,
             pop_val *outputs, size_t max_outputs, pop_native_fn native, void *native_arg,
             pop_call_result *res) {
  pop_token_table tokens;
  tokens_init(&tokens, inputs, inputs ? n_inputs : 0, h->store->settings.max_put_bytes);
  return call_path(h, *op, inputs, n_inputs, outputs, max_outputs, native, native_arg, res,
                   &tokens, false, false);
}

int pop_handler_call(pop_handler *h, pop_op op, const pop_val *inputs, size_t n_inputs,
                     pop_val *outputs, size_t max_outputs, pop_native_fn native,
                     void *native_arg, pop_call_result *res) {
  if (POP_UNLIKELY(!h || (unsigned)op.kind >= POP_OP_KIND_COUNT))
    return POP_ERR_ARG;
  if (POP_UNLIKELY(n_inputs > POP_MAX_INPUTS))
    return POP_ERR_LIMIT;
  const uint32_t *m = h->mask[op.kind];
  uint32_t d = m[POP_ANCHOR_DEFINE], ba = m[POP_ANCHOR_BEFORE] | m[POP_ANCHOR_AFTER];
  if (!(d | ba) && native)
    return native_only(&op, inputs, n_inputs, outputs, max_outputs, native, native_arg, res, 0);
  if (!ba && d && !(d & (d - 1)))
    return define_one(h, h->insts[__builtin_ctz(d)], &op, inputs, n_inputs, outputs,
                      max_outputs, native, native_arg, res);
  return general_call(h, &op, inputs, n_inputs, outputs, max_outputs, native, native_arg,
                      res);
}

bool pop_handler_wants(const pop_handler *h, pop_op op) {
  if (!h)
    return false;
  if ((unsigned)op.kind >= POP_OP_KIND_COUNT)
    return false;
  uint32_t m = h->mask[op.kind][0] | h->mask[op.kind][1] | h->mask[op.kind][2];
  for (; m; m &= m - 1) {
    const pop_inst *in = h->insts[__builtin_ctz(m)];
    if (active(in, op.kind) && pop_plugin_find(in->plugin, op, NULL))
      return true;
  }
  return false;
}

bool pop_handler_wants_kind(const pop_handler *h, pop_op_kind kind) {
  if (!h || (unsigned)kind >= POP_OP_KIND_COUNT)
    return false;
  uint32_t m = h->mask[kind][0] | h->mask[kind][1] | h->mask[kind][2];
  for (; m; m &= m - 1)
    if (active(h->insts[__builtin_ctz(m)], kind))
      return true;
  return false;
}

int pop_handler_poctl(pop_handler *h, uint64_t id, const pop_val *inputs, size_t n_inputs,
                      pop_val *outputs, size_t max_outputs, pop_call_result *res) {
  if (!h)
    return POP_ERR_ARG;
  if (n_inputs > POP_MAX_INPUTS)
    return POP_ERR_LIMIT;
  pop_token_table tokens;
  tokens_init(&tokens, inputs, inputs ? n_inputs : 0, h->store->settings.max_put_bytes);
  return call_path(h, pop_op_make(POP_OP_PLUGIN_CONTROL, id), inputs, n_inputs, outputs,
                   max_outputs, NULL, NULL, res, &tokens, false, true);
}

int pop_handler_poctl_nested(pop_handler *h, uint64_t id, const pop_val *inputs,
                             size_t n_inputs, pop_val *outputs, size_t max_outputs,
                             size_t *n_outputs, int64_t *op_code) {
  pop_callctx *parent = h->ctx;
  /* Tokens are shared with the calling code: a plugin cannot mint budget by passing a
   * forged token along. A read-only caller makes the callee read-only too. */
  pop_call_result r;
  int rv = call_path(h, pop_op_make(POP_OP_PLUGIN_CONTROL, id), inputs, n_inputs, outputs,
                     max_outputs, NULL, NULL, &r, parent->tokens, parent->readonly, true);
  *n_outputs = r.n_outputs;
  *op_code = r.op_code;
  return rv;
}

/* ---- attach ---- */

static int copy_params(pop_inst *in, const pop_param *params, size_t n) {
  if (n == 0)
    return 0;
  size_t bytes = 0;
  for (size_t i = 0; i < n; i++) {
    if (!params[i].key || !params[i].value)
      return POP_ERR_ARG;
    bytes += strlen(params[i].key) + strlen(params[i].value) + 2;
  }
  in->params = calloc(n, sizeof *in->params);
  in->params_buf = malloc(bytes);
  if (!in->params || !in->params_buf)
    return POP_ERR_NOMEM;
  char *p = in->params_buf;
  for (size_t i = 0; i < n; i++) {
    size_t kl = strlen(params[i].key) + 1, vl = strlen(params[i].value) + 1;
    memcpy(p, params[i].key, kl);
    in->params[i].key = p;
    p += kl;
    memcpy(p, params[i].value, vl);
    in->params[i].value = p;
    p += vl;
  }
  in->n_params = n;
  return 0;
}

/* Instantiates and wires everything but init. */
static int inst_build(pop_handler *h, pop_plugin *p, const pop_attach_opts *o,
                      pop_inst *in) {
  const pop_settings *s = &h->store->settings;
  in->handler = h;
  in->plugin = p;
  in->perms = o ? o->permissions : 0;
  int rv = pop_fs_init(&in->fs, o ? o->file_dir : NULL, s->file_quota, s->max_files);
  if (rv != 0)
    return POP_ERR_IO;
  if ((rv = copy_params(in, o ? o->params : NULL, o ? o->n_params : 0)) != 0)
    return rv;
  in->timers = calloc(s->max_timers ? s->max_timers : 1, sizeof *in->timers);
  in->fns = calloc(p->n_ops * 3 + 1, sizeof *in->fns);
  if (!in->timers || !in->fns)
    return POP_ERR_NOMEM;
  if (p->uses_extism) {
    if (!(in->kernel = malloc(sizeof *in->kernel)))
      return POP_ERR_NOMEM;
    pop_kernel_init(in->kernel, s->kernel_max_bytes, in->params, in->n_params);
  }
  pvm_limits lim;
  pvm_limits_default(&lim);
  uint64_t fuel = o && o->fuel_per_call ? o->fuel_per_call : s->fuel_per_call;
  lim.max_memory_pages = o && o->max_memory_pages ? o->max_memory_pages : s->max_memory_pages;
  lim.max_call_depth = s->max_call_depth;
  lim.fuel = fuel ? fuel : PVM_FUEL_UNLIMITED;
  lim.timeout_ns = o && o->timeout_ns ? o->timeout_ns : s->timeout_ns;
  pvm_error err;
  /* A start function may call host functions: give it a context. */
  pop_callctx c = {0};
  c.inst = in;
  c.readonly = true;
  pop_token_table none = {0};
  c.tokens = &none;
  pop_callctx *saved = h->ctx;
  h->ctx = &c;
  rv = pvm_instance_new(p->module, h->linker->linker, &lim, &in->vm, &err);
  h->ctx = saved;
  if (rv != 0) {
    pop_fault *f = &h->last_fault;
    snprintf(f->plugin, sizeof f->plugin, "%s", p->name);
    snprintf(f->op, sizeof f->op, "instantiation");
    f->trap = 0;
    snprintf(f->why, sizeof f->why, "%s", err.msg);
    h->has_fault = true;
    return rv == PVM_ERR_NOMEM ? POP_ERR_NOMEM : POP_ERR_LOAD;
  }
  for (size_t i = 0; i < p->n_ops; i++)
    for (int a = 0; a < 3; a++)
      if (p->ops[i].export_name[a] &&
          !(in->fns[i * 3 + a] = pvm_instance_func(in->vm, p->ops[i].export_name[a])))
        return POP_ERR_LOAD;
  if (p->has_io) {
    pvm_func *io = pvm_instance_func(in->vm, "__pop_io");
    pvm_val r = {.i64 = 0};
    if (!io || pvm_call(in->vm, io, NULL, 0, &r, 1) != 0)
      return POP_ERR_LOAD;
    in->io_addr = r.i32;
    size_t msize;
    uint8_t *mem = pvm_instance_memory(in->vm, &msize);
    vm_instance_memory_fields(in->vm, &in->mem_data, &in->mem_size);
    uint32_t version;
    if (!mem || in->io_addr > msize || msize - in->io_addr < sizeof(pop_io_area) ||
        in->io_addr % 8 != 0)
      return POP_ERR_LOAD;
    memcpy(&version, mem + in->io_addr, 4);
    if (version != POP_ABI_VERSION)
      return POP_ERR_LOAD;
  }
  in->enabled = o && o->enable;
  return 0;
}

/* The lowest free slot (freed by detach), or a new one at the end; -1 at the limit. */
static int free_slot(pop_handler *h) {
  for (size_t i = 0; i < h->n_insts; i++)
    if (!h->insts[i])
      return (int)i;
  if (h->n_insts >= h->store->settings.max_plugins || h->n_insts >= POP_MAX_PLUGINS)
    return -1;
  return (int)h->n_insts;
}

int pop_handler_attach(pop_handler *h, pop_plugin *p, const pop_attach_opts *o) {
  if (!h || !p || p->store != h->store)
    return POP_ERR_ARG;
  int slot = free_slot(h);
  if (slot < 0)
    return POP_ERR_LIMIT;
  if ((size_t)slot == h->n_insts) {
    pop_inst **insts = realloc(h->insts, (h->n_insts + 1) * sizeof *insts);
    if (!insts)
      return POP_ERR_NOMEM;
    h->insts = insts;
  }
  pop_inst *in = calloc(1, sizeof *in);
  if (!in)
    return POP_ERR_NOMEM;
  in->fs.dirfd = -1;
  int rv = inst_build(h, p, o, in);
  if (rv != 0) {
    inst_del(in);
    return rv;
  }
  in->index = slot;
  h->insts[slot] = in;
  if ((size_t)slot == h->n_insts)
    h->n_insts++;
  mask_set(h, in, true);
  /* init (Define) of this plugin only. */
  size_t idx;
  const pop_op_entry *e = pop_plugin_find(p, pop_op_make(POP_OP_INIT, 0), &idx);
  if (e && in->fns[idx * 3 + POP_ANCHOR_DEFINE]) {
    pop_token_table tokens;
    tokens_init(&tokens, NULL, 0, h->store->settings.max_put_bytes);
    pop_callctx c = {0};
    c.tokens = &tokens;
    c.parent = h->ctx;
    int64_t code;
    h->depth++;
    rv = run_code(in, in->fns[idx * 3 + POP_ANCHOR_DEFINE], e, POP_ANCHOR_DEFINE, &c, &code);
    h->depth--;
    if (rv == 0 && code != 0) {
      char why[64];
      snprintf(why, sizeof why, "init returned %lld", (long long)code);
      pop_inst_fault(in, "init", 0, why);
      rv = POP_ERR_FAULT;
    }
    if (rv != 0) {
      mask_set(h, in, false);
      h->insts[slot] = NULL;
      if ((size_t)slot + 1 == h->n_insts)
        h->n_insts--;
      inst_del(in);
      return rv;
    }
  }
  return in->index;
}

/* ---- enabling and introspection ---- */

/* Plugin |index| of |h|, or NULL (no handler, out of range, or a detached slot). */
static pop_inst *inst_at(const pop_handler *h, int index) {
  return h && index >= 0 && (size_t)index < h->n_insts ? h->insts[index] : NULL;
}

int pop_handler_set_enabled(pop_handler *h, int index, bool enabled) {
  if (!inst_at(h, index))
    return POP_ERR_ARG;
  if (h->insts[index]->faulted)
    return POP_ERR_DISABLED;
  h->insts[index]->enabled = enabled;
  return 0;
}

bool pop_handler_is_enabled(const pop_handler *h, int index) {
  const pop_inst *in = inst_at(h, index);
  return in && in->enabled;
}

bool pop_handler_is_faulted(const pop_handler *h, int index) {
  const pop_inst *in = inst_at(h, index);
  return in && in->faulted;
}

bool pop_handler_is_attached(const pop_handler *h, int index) { return inst_at(h, index) != NULL; }

int pop_handler_detach(pop_handler *h, int index) {
  pop_inst *in = inst_at(h, index);
  if (!in)
    return POP_ERR_ARG;
  if (h->ctx || h->depth)
    return POP_ERR_DISABLED;
  mask_set(h, in, false);
  h->insts[index] = NULL;
  while (h->n_insts && !h->insts[h->n_insts - 1])
    h->n_insts--; /* trailing free slots go: the slot count is the highest index + 1 */
  inst_del(in);
  return 0;
}

size_t pop_handler_plugin_count(const pop_handler *h) { return h ? h->n_insts : 0; }

/* ---- timers ---- */

bool pop_handler_next_timer(const pop_handler *h, uint64_t *at) {
  bool any = false;
  uint64_t best = UINT64_MAX;
  if (!h)
    return false;
  for (size_t i = 0; i < h->n_insts; i++) {
    const pop_inst *in = h->insts[i];
    if (!in || in->faulted)
      continue;
    for (uint32_t t = 0; t < in->n_timers; t++)
      if (in->timers[t].at <= best) {
        best = in->timers[t].at;
        any = true;
      }
  }
  if (any && at)
    *at = best;
  return any;
}

int pop_handler_on_timeout(pop_handler *h, uint64_t now) {
  if (!h)
    return POP_ERR_ARG;
  uint64_t seq_limit = h->timer_seq; /* timers armed while firing wait for next time */
  int fired = 0;
  for (;;) {
    pop_inst *best_in = NULL;
    uint32_t best_t = 0;
    for (size_t i = 0; i < h->n_insts; i++) {
      pop_inst *in = h->insts[i];
      if (!in || in->faulted)
        continue;
      for (uint32_t t = 0; t < in->n_timers; t++) {
        const pop_timer *tm = &in->timers[t];
        if (tm->at <= now && tm->seq < seq_limit &&
            (!best_in || tm->at < best_in->timers[best_t].at)) {
          best_in = in;
          best_t = t;
        }
      }
    }
    if (!best_in)
      break;
    uint64_t timer_id = best_in->timers[best_t].timer_id;
    best_in->timers[best_t] = best_in->timers[--best_in->n_timers];
    fired++;
    size_t idx;
    pop_op op = pop_op_make(POP_OP_ON_PLUGIN_TIMEOUT, timer_id);
    const pop_op_entry *e = pop_plugin_find(best_in->plugin, op, &idx);
    if (!e || !best_in->fns[idx * 3 + POP_ANCHOR_DEFINE] || !active(best_in, op.kind) || best_in->running)
      continue;
    pop_val in = {0};
    in.type = POP_VAL_INSTANT;
    in.u.u64 = now;
    pop_token_table tokens;
    tokens_init(&tokens, NULL, 0, h->store->settings.max_put_bytes);
    pop_callctx c = {0};
    c.inputs = &in;
    c.n_inputs = 1;
    c.tokens = &tokens;
    c.parent = h->ctx;
    int64_t code;
    run_code(best_in, best_in->fns[idx * 3 + POP_ANCHOR_DEFINE], e, POP_ANCHOR_DEFINE, &c,
             &code);
  }
  return fired;
}

/* ---- the Extism-style generic call ---- */

int pop_plugin_call_bytes(pop_handler *h, int index, const char *name, const uint8_t *input,
                          size_t len, uint8_t *out, size_t cap, size_t *out_len) {
  pop_inst *in = inst_at(h, index);
  if (!in || !name || (len && !input) || (cap && !out))
    return POP_ERR_ARG;
  if (out_len)
    *out_len = 0;
  if (in->faulted)
    return POP_ERR_FAULT;
  if (in->running)
    return POP_ERR_DISABLED;
  pvm_func *fn = pvm_instance_func(in->vm, name);
  if (!fn)
    return POP_ERR_NOT_FOUND;
  const pvm_functype *t = pvm_func_type(fn);
  if (!t || t->nparams != 0 || t->nresults != 1 || t->results[0] != PVM_I32)
    return POP_ERR_NOT_FOUND;
  if (!in->kernel) {
    if (!(in->kernel = malloc(sizeof *in->kernel)))
      return POP_ERR_NOMEM;
    pop_kernel_init(in->kernel, h->store->settings.kernel_max_bytes, in->params,
                    in->n_params);
  }
  pop_kernel *k = in->kernel;
  pop_kernel_reset(k);
  if (len) {
    uint64_t hin = pop_kernel_alloc_copy(k, input, len);
    if (!hin)
      return POP_ERR_LIMIT;
    pop_kernel_input_set(k, hin, len);
  }
  pop_token_table tokens;
  tokens_init(&tokens, NULL, 0, h->store->settings.max_put_bytes);
  pop_callctx c = {0};
  c.inst = in;
  c.anchor = POP_ANCHOR_DEFINE;
  c.tokens = &tokens;
  c.parent = h->ctx;
  pop_callctx *saved = h->ctx;
  h->ctx = &c;
  in->running = true;
  pvm_val r = {.i64 = 0};
  int rv = pvm_call(in->vm, fn, NULL, 0, &r, 1);
  in->running = false;
  h->ctx = saved;
  if (rv != 0) {
    pop_inst_fault(in, name, (int)pvm_instance_trap(in->vm),
                   rv == PVM_ERR_TRAP ? pvm_instance_trap_message(in->vm)
                                      : pvm_status_message(rv));
    return POP_ERR_FAULT;
  }
  uint64_t olen = 0;
  const uint8_t *src = NULL;
  if (r.i32 != 0) {
    src = k->error ? pop_kernel_block(k, k->error, &olen) : NULL;
  } else if (k->output_len) {
    uint64_t blen;
    src = pop_kernel_block(k, k->output_off, &blen);
    olen = src && k->output_len <= blen ? k->output_len : 0;
  }
  if (src && olen && cap)
    memcpy(out, src, olen < cap ? olen : cap);
  if (out_len)
    *out_len = src ? olen : 0;
  return r.i32 != 0 ? POP_ERR_OP : 0;
}
