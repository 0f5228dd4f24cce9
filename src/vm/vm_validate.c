/*
 * vm_validate.c: WebAssembly 2.0 validation (MVP, sign extension, saturating
 * float-to-int, multi-value, reference types, bulk memory; not SIMD).
 *
 * Module-level checks come first (indices, limits, constant expressions, exports,
 * start), then every function body in one pass with an explicit operand type stack and
 * control stack (the algorithm of the spec's validation appendix): each instruction is
 * decoded and checked once, so validation is linear in the code size.
 *
 * Bodies are also where the remaining binary-format errors show up (unknown opcodes,
 * reserved bytes, a missing END): those return PVM_ERR_MALFORMED.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm_module.h"
#include "vm_opcodes.h"
#include "vm_read.h"

/* Operand type of a value from the unreachable (polymorphic) part of the stack. */
#define T_UNKNOWN 0

enum { K_BLOCK, K_LOOP, K_IF, K_ELSE, K_FUNC };

/* One control frame. Types point into the module's vm_functype arrays or into
 * kSingle (a block type of one value). */
typedef struct ctrl {
  uint8_t kind;
  bool unreachable;
  uint32_t nparams, nresults;
  const uint8_t *params, *results;
  uint32_t height; /* operand stack height at entry, after the params were popped */
} ctrl;

typedef struct val {
  vm_module *m;
  pvm_error *err;
  vm_reader r;
  /* Operand type stack and control stack, reused across functions. */
  uint8_t *vals;
  uint32_t nvals, vals_cap;
  ctrl *ctrls;
  uint32_t nctrls, ctrls_cap;
  uint32_t max_vals, max_ctrls;
  /* The current function's locals: params first, then local runs. */
  const vm_functype *ftype;
  const vm_func *func;
  uint32_t *run_ends; /* cumulative local counts per run, for binary search */
  uint32_t run_ends_cap;
  uint32_t nlocals_total;
  uint8_t *flat_locals;   /* every local's type, when affordable (else run_ends) */
  uint32_t flat_cap;
  bool flat;
  /* Module-wide lookups built once. */
  uint32_t nfuncs_total, ntables_total, nmems_total, nglobals_total;
  vm_table_type *tables;  /* every table, imports first */
  vm_global_type *globals; /* every global, imports first */
  uint8_t *declared;      /* per function: may be used by ref.func in code */
} val;

static const uint8_t kSingle[] = {PVM_I32, PVM_I64, PVM_F32, PVM_F64, PVM_V128,
                                  PVM_FUNCREF, PVM_EXTERNREF};

static const uint8_t *single_type(uint8_t t) {
  return memchr(kSingle, t, sizeof kSingle);
}

static bool is_num(uint8_t t) {
  return t == PVM_I32 || t == PVM_I64 || t == PVM_F32 || t == PVM_F64 || t == PVM_V128;
}
static bool is_ref(uint8_t t) { return t == PVM_FUNCREF || t == PVM_EXTERNREF; }

#define TRY(call)                                                                     \
  do {                                                                                \
    int rv_ = (call);                                                                 \
    if (rv_) return rv_;                                                              \
  } while (0)

static int invalid(val *v, const char *msg) {
  return vm_error_set(v->err, PVM_ERR_INVALID, -1, "%s", msg);
}

static int invalid_idx(val *v, const char *what, uint32_t idx) {
  return vm_error_set(v->err, PVM_ERR_INVALID, -1, "%s %u", what, idx);
}

static int nomem(val *v) { return vm_error_set(v->err, PVM_ERR_NOMEM, -1, "out of memory"); }

/* ---- Module-level checks ------------------------------------------------------------ */

static int check_limits(val *v, const pvm_limits_range *l, uint64_t bound, const char *msg) {
  if (l->min > bound || (l->has_max && l->max > bound)) return invalid(v, msg);
  if (l->has_max && l->min > l->max)
    return invalid(v, "size minimum must not be greater than maximum");
  return 0;
}

static int check_mem(val *v, const pvm_limits_range *l) {
  return check_limits(v, l, VM_MAX_PAGES, "memory size must be at most 65536 pages (4GiB)");
}

static int check_table(val *v, const vm_table_type *t) {
  /* Table sizes are u32 already; only min <= max matters. */
  return check_limits(v, &t->limits, UINT32_MAX, "table size");
}

static int check_valtype(val *v, uint8_t t) {
  if (t == PVM_V128) return invalid(v, "unsupported: SIMD (v128) is not implemented");
  return 0;
}

/* Types a constant expression (already known to be one constant instruction). Only
 * imported globals may be read, and only immutable ones (2.0). */
static int check_const(val *v, vm_const_expr *e, uint8_t expect) {
  switch (e->op) {
  case 0x41: e->type = PVM_I32; break;
  case 0x42: e->type = PVM_I64; break;
  case 0x43: e->type = PVM_F32; break;
  case 0x44: e->type = PVM_F64; break;
  case 0xd0: e->type = (uint8_t)e->bits; break;
  case 0xd2:
    if (e->index >= v->nfuncs_total) return invalid_idx(v, "unknown function", e->index);
    e->type = PVM_FUNCREF;
    break;
  case 0x23:
    if (e->index >= v->m->nglobal_imports) return invalid_idx(v, "unknown global", e->index);
    if (v->globals[e->index].mutable_) return invalid(v, "constant expression required");
    e->type = v->globals[e->index].type;
    break;
  default:
    return invalid(v, "constant expression required");
  }
  if (e->type != expect) return invalid(v, "type mismatch");
  return 0;
}

/* Every ref.func outside function bodies declares its function for use in code. */
static void declare(val *v, const vm_const_expr *e) {
  if (e->op == 0xd2 && e->index < v->nfuncs_total) v->declared[e->index] = 1;
}

static int check_imports(val *v) {
  vm_module *m = v->m;
  uint32_t nt = 0, ng = 0;
  for (uint32_t i = 0; i < m->nimports; i++) {
    vm_import *im = &m->imports[i];
    switch (im->kind) {
    case PVM_EXTERN_FUNC:
      if (im->u.func_type >= m->ntypes) return invalid_idx(v, "unknown type", im->u.func_type);
      break;
    case PVM_EXTERN_TABLE:
      TRY(check_table(v, &im->u.table));
      v->tables[nt++] = im->u.table;
      break;
    case PVM_EXTERN_MEMORY:
      TRY(check_mem(v, &im->u.mem));
      break;
    case PVM_EXTERN_GLOBAL:
      TRY(check_valtype(v, im->u.global.type));
      v->globals[ng++] = im->u.global;
      break;
    }
  }
  return 0;
}

static int check_defs(val *v) {
  vm_module *m = v->m;
  for (uint32_t i = 0; i < m->ntypes; i++) {
    const vm_functype *ft = &m->types[i];
    for (uint32_t k = 0; k < ft->nparams + ft->nresults; k++) TRY(check_valtype(v, ft->types[k]));
  }
  TRY(check_imports(v));
  for (uint32_t i = 0; i < m->nfuncs; i++)
    if (m->funcs[i].type >= m->ntypes) return invalid_idx(v, "unknown type", m->funcs[i].type);
  for (uint32_t i = 0; i < m->ntables; i++) {
    TRY(check_table(v, &m->tables[i]));
    v->tables[m->ntable_imports + i] = m->tables[i];
  }
  for (uint32_t i = 0; i < m->nmems; i++) TRY(check_mem(v, &m->mems[i]));
  if (v->nmems_total > 1) return invalid(v, "multiple memories");
  for (uint32_t i = 0; i < m->nglobals; i++) {
    vm_global *g = &m->globals[i];
    TRY(check_valtype(v, g->type.type));
    TRY(check_const(v, &g->init, g->type.type));
    declare(v, &g->init);
    v->globals[m->nglobal_imports + i] = g->type;
  }
  return 0;
}

static int check_elems(val *v) {
  vm_module *m = v->m;
  for (uint32_t i = 0; i < m->nelems; i++) {
    vm_elem *e = &m->elems[i];
    for (uint32_t k = 0; k < e->count; k++) {
      TRY(check_const(v, &e->items[k], e->elem_type));
      declare(v, &e->items[k]);
    }
    if (e->mode != VM_SEG_ACTIVE) continue;
    if (e->table >= v->ntables_total) return invalid_idx(v, "unknown table", e->table);
    TRY(check_const(v, &e->offset, PVM_I32));
    if (v->tables[e->table].elem_type != e->elem_type) return invalid(v, "type mismatch");
  }
  return 0;
}

static int check_datas(val *v) {
  vm_module *m = v->m;
  for (uint32_t i = 0; i < m->ndatas; i++) {
    vm_data *d = &m->datas[i];
    if (d->mode != VM_SEG_ACTIVE) continue;
    if (d->memory >= v->nmems_total) return invalid_idx(v, "unknown memory", d->memory);
    TRY(check_const(v, &d->offset, PVM_I32));
  }
  return 0;
}

static int cmp_export(const void *a, const void *b) {
  const vm_export *x = *(const vm_export *const *)a, *y = *(const vm_export *const *)b;
  if (x->name.len != y->name.len) return x->name.len < y->name.len ? -1 : 1;
  return memcmp(x->name.ptr, y->name.ptr, x->name.len);
}

static int check_exports(val *v) {
  vm_module *m = v->m;
  const vm_export **sorted;
  int rv = 0;
  for (uint32_t i = 0; i < m->nexports; i++) {
    vm_export *ex = &m->exports[i];
    switch (ex->kind) {
    case PVM_EXTERN_FUNC:
      if (ex->index >= v->nfuncs_total) return invalid_idx(v, "unknown function", ex->index);
      v->declared[ex->index] = 1;
      break;
    case PVM_EXTERN_TABLE:
      if (ex->index >= v->ntables_total) return invalid_idx(v, "unknown table", ex->index);
      break;
    case PVM_EXTERN_MEMORY:
      if (ex->index >= v->nmems_total) return invalid_idx(v, "unknown memory", ex->index);
      break;
    case PVM_EXTERN_GLOBAL:
      if (ex->index >= v->nglobals_total) return invalid_idx(v, "unknown global", ex->index);
      break;
    }
  }
  if (m->nexports < 2) return 0;
  /* Sorting finds duplicates in O(n log n). */
  sorted = malloc(m->nexports * sizeof *sorted);
  if (!sorted) return nomem(v);
  for (uint32_t i = 0; i < m->nexports; i++) sorted[i] = &m->exports[i];
  qsort(sorted, m->nexports, sizeof *sorted, cmp_export);
  for (uint32_t i = 1; i < m->nexports && !rv; i++)
    if (cmp_export(&sorted[i - 1], &sorted[i]) == 0) rv = invalid(v, "duplicate export name");
  free(sorted);
  return rv;
}

static int check_start(val *v) {
  const vm_functype *ft;
  if (!v->m->has_start) return 0;
  if (v->m->start >= v->nfuncs_total) return invalid_idx(v, "unknown function", v->m->start);
  ft = vm_module_func_type(v->m, v->m->start);
  if (!ft || ft->nparams || ft->nresults) return invalid(v, "start function");
  return 0;
}

/* ---- Function bodies ---------------------------------------------------------------- */

static int body_overrun(val *v) {
  const uint8_t *end = v->func->code + v->func->code_len;
  return vm_error_set(v->err, PVM_ERR_MALFORMED, (long)(end - v->m->bytes), "%s",
                      vm_body_overrun_message(v->m, v->func));
}

/* vm_read_u32 with the one-byte case (most indices and immediates) inline. */
static inline bool rd_u32(vm_reader *r, uint32_t *out) {
  if (r->p < r->end && *r->p < 0x80) {
    *out = *r->p++;
    return true;
  }
  return vm_read_u32(r, out);
}

static int malformed(val *v, const uint8_t *at, const char *msg) {
  return vm_error_set(v->err, PVM_ERR_MALFORMED, (long)(at - v->m->bytes), "%s", msg);
}

static int read_fail(val *v) {
  if (v->r.err && strcmp(v->r.err, "unexpected end") != 0) return malformed(v, v->r.p, v->r.err);
  return body_overrun(v);
}

#define RD(call)                                                                      \
  do {                                                                                \
    if (!(call)) return read_fail(v);                                                 \
  } while (0)

static int grow_vals(val *v) {
  uint32_t cap = v->vals_cap ? v->vals_cap * 2 : 64;
  uint8_t *n = realloc(v->vals, cap);
  if (!n) return nomem(v);
  v->vals = n;
  v->vals_cap = cap;
  return 0;
}

static inline int push(val *v, uint8_t t) {
  if (v->nvals == v->vals_cap) TRY(grow_vals(v));
  v->vals[v->nvals++] = t;
  if (v->nvals > v->max_vals) v->max_vals = v->nvals;
  return 0;
}

/* Pops one operand, which must be |expect| unless either is T_UNKNOWN. |*got| (may be
 * NULL) receives the popped type (|expect| when the stack was polymorphic). */
static inline int pop_t(val *v, uint8_t expect, uint8_t *got) {
  ctrl *c = &v->ctrls[v->nctrls - 1];
  uint8_t t;
  if (v->nvals == c->height) {
    if (!c->unreachable) return invalid(v, "type mismatch");
    t = T_UNKNOWN;
  } else {
    t = v->vals[--v->nvals];
  }
  if (t != expect && t != T_UNKNOWN && expect != T_UNKNOWN) return invalid(v, "type mismatch");
  if (got) *got = t == T_UNKNOWN ? expect : t;
  return 0;
}

static inline int pop(val *v, uint8_t expect) { return pop_t(v, expect, NULL); }

static int push_n(val *v, const uint8_t *ts, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) TRY(push(v, ts[i]));
  return 0;
}

static int pop_n(val *v, const uint8_t *ts, uint32_t n) {
  for (uint32_t i = n; i-- > 0;) TRY(pop(v, ts[i]));
  return 0;
}

static int push_ctrl(val *v, uint8_t kind, const uint8_t *params, uint32_t np,
                     const uint8_t *results, uint32_t nr) {
  ctrl *c;
  if (v->nctrls == v->ctrls_cap) {
    uint32_t cap = v->ctrls_cap ? v->ctrls_cap * 2 : 16;
    ctrl *n = realloc(v->ctrls, cap * sizeof *n);
    if (!n) return nomem(v);
    v->ctrls = n;
    v->ctrls_cap = cap;
  }
  c = &v->ctrls[v->nctrls++];
  if (v->nctrls > v->max_ctrls) v->max_ctrls = v->nctrls;
  c->kind = kind;
  c->unreachable = false;
  c->params = params;
  c->nparams = np;
  c->results = results;
  c->nresults = nr;
  c->height = v->nvals;
  return push_n(v, params, np);
}

/* Checks the frame's results are exactly what is on its part of the stack. */
static int pop_results(val *v, ctrl *c) {
  TRY(pop_n(v, c->results, c->nresults));
  if (v->nvals != c->height) return invalid(v, "type mismatch");
  return 0;
}

static void set_unreachable(val *v) {
  ctrl *c = &v->ctrls[v->nctrls - 1];
  v->nvals = c->height;
  c->unreachable = true;
}

/* Types a branch to label |c| takes: a loop's params, any other block's results. */
static void label_types(const ctrl *c, const uint8_t **ts, uint32_t *n) {
  if (c->kind == K_LOOP) {
    *ts = c->params;
    *n = c->nparams;
  } else {
    *ts = c->results;
    *n = c->nresults;
  }
}

static int read_label(val *v, ctrl **out) {
  uint32_t l;
  RD(rd_u32(&v->r, &l));
  if (l >= v->nctrls) return invalid(v, "unknown label");
  *out = &v->ctrls[v->nctrls - 1 - l];
  return 0;
}

static int read_blocktype(val *v, const uint8_t **params, uint32_t *np,
                          const uint8_t **results, uint32_t *nr) {
  const uint8_t *at = v->r.p;
  int64_t bt;
  RD(vm_read_s33(&v->r, &bt));
  *params = *results = NULL;
  *np = *nr = 0;
  if (bt >= 0) {
    const vm_functype *ft;
    if ((uint64_t)bt >= v->m->ntypes) return invalid_idx(v, "unknown type", (uint32_t)bt);
    ft = &v->m->types[bt];
    *params = ft->types;
    *np = ft->nparams;
    *results = ft->types + ft->nparams;
    *nr = ft->nresults;
    return 0;
  }
  if (bt == -64) return 0; /* 0x40: no values */
  if (bt < -64 || !single_type((uint8_t)(bt & 0x7f))) return malformed(v, at, "malformed value type");
  *results = single_type((uint8_t)(bt & 0x7f));
  *nr = 1;
  return check_valtype(v, **results);
}

static uint8_t local_type(const val *v, uint32_t idx) {
  uint32_t lo = 0, hi;
  if (v->flat) return v->flat_locals[idx];
  if (idx < v->ftype->nparams) return v->ftype->types[idx];
  idx -= v->ftype->nparams;
  hi = v->func->nlocal_runs;
  /* First run whose cumulative end is beyond idx. */
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (v->run_ends[mid] > idx) hi = mid;
    else lo = mid + 1;
  }
  return v->func->local_runs[lo].type;
}

static int read_local(val *v, uint8_t *type) {
  uint32_t idx;
  RD(rd_u32(&v->r, &idx));
  if (idx >= v->nlocals_total) return invalid_idx(v, "unknown local", idx);
  *type = local_type(v, idx);
  return 0;
}

static int read_global(val *v, uint32_t *idx) {
  RD(rd_u32(&v->r, idx));
  if (*idx >= v->nglobals_total) return invalid_idx(v, "unknown global", *idx);
  return 0;
}

static int read_table(val *v, uint32_t *idx) {
  RD(rd_u32(&v->r, idx));
  if (*idx >= v->ntables_total) return invalid_idx(v, "unknown table", *idx);
  return 0;
}

/* A reserved memory index byte (2.0 has one memory): must be zero. */
static int read_zero(val *v) {
  const uint8_t *at = v->r.p;
  uint8_t b;
  RD(vm_read_u8(&v->r, &b));
  if (b != 0) return malformed(v, at, "zero byte expected");
  return 0;
}

static int need_memory(val *v) {
  if (v->nmems_total == 0) return invalid_idx(v, "unknown memory", 0);
  return 0;
}

/* memarg of a load/store of |natural_log2| bytes. */
static int read_memarg(val *v, unsigned natural_log2) {
  uint32_t align, offset;
  RD(rd_u32(&v->r, &align));
  RD(rd_u32(&v->r, &offset));
  TRY(need_memory(v));
  if (align > natural_log2) return invalid(v, "alignment must not be larger than natural");
  return 0;
}

/* A data segment index: reads it, and leaves the check to check_data_idx() (the
 * reference checks the memory of memory.init first). The data count section is
 * required to use data indices in code; a module with no data section at all simply has
 * no segments, so we report that as the invalid index it is. */
static int read_data_idx(val *v, const uint8_t *at, uint32_t *idx) {
  RD(rd_u32(&v->r, idx));
  if (!v->m->has_data_count && v->m->ndatas > 0)
    return malformed(v, at, "data count section required");
  return 0;
}

static int check_data_idx(val *v, uint32_t idx) {
  if (idx >= v->m->ndatas) return invalid_idx(v, "unknown data segment", idx);
  return 0;
}

static int read_elem_idx(val *v, uint32_t *idx) {
  RD(rd_u32(&v->r, idx));
  if (*idx >= v->m->nelems) return invalid_idx(v, "unknown elem segment", *idx);
  return 0;
}

static int op_unary(val *v, uint8_t in, uint8_t out) {
  TRY(pop(v, in));
  return push(v, out);
}

static int op_binary(val *v, uint8_t in, uint8_t out) {
  TRY(pop(v, in));
  TRY(pop(v, in));
  return push(v, out);
}

static int op_call(val *v, const vm_functype *ft) {
  TRY(pop_n(v, ft->types, ft->nparams));
  return push_n(v, ft->types + ft->nparams, ft->nresults);
}

static int op_br_table(val *v) {
  uint32_t n, arity, l;
  const uint8_t *ts, *targets, *after;
  ctrl *c;
  RD(rd_u32(&v->r, &n));
  if (n > vm_reader_left(&v->r)) { /* each target takes a byte at least */
    v->r.p = v->r.end;
    return body_overrun(v);
  }
  /* Decode the immediates first (format errors come before type errors), then check
   * every target's types against the operands in place, then pop for the default. */
  targets = v->r.p;
  for (uint32_t i = 0; i <= n; i++) RD(rd_u32(&v->r, &l));
  after = v->r.p;
  TRY(pop(v, PVM_I32));
  v->r.p = targets;
  for (uint32_t i = 0; i < n; i++) RD(rd_u32(&v->r, &l));
  TRY(read_label(v, &c));
  label_types(c, &ts, &arity);
  v->r.p = targets;
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *lts;
    uint32_t larity;
    ctrl *lc, *top = &v->ctrls[v->nctrls - 1];
    TRY(read_label(v, &lc));
    label_types(lc, &lts, &larity);
    if (larity != arity) return invalid(v, "type mismatch");
    if (lts == ts) continue; /* same types as the default: checked by its pop below */
    for (uint32_t k = 0; k < larity; k++) {
      uint32_t depth = larity - k; /* 1 = top of stack */
      uint8_t t;
      if (v->nvals < top->height + depth) {
        if (!top->unreachable) return invalid(v, "type mismatch");
        continue;
      }
      t = v->vals[v->nvals - depth];
      if (t != T_UNKNOWN && t != lts[k]) return invalid(v, "type mismatch");
    }
  }
  v->r.p = after;
  TRY(pop_n(v, ts, arity));
  set_unreachable(v);
  return 0;
}

static int op_select(val *v, bool typed) {
  uint8_t t1 = T_UNKNOWN, t2 = T_UNKNOWN, t = T_UNKNOWN;
  if (typed) {
    uint32_t n;
    const uint8_t *at;
    RD(rd_u32(&v->r, &n));
    if (n != 1) return invalid(v, "invalid result arity");
    at = v->r.p;
    RD(vm_read_u8(&v->r, &t));
    if (!single_type(t)) return malformed(v, at, "malformed value type");
    TRY(check_valtype(v, t));
  }
  TRY(pop(v, PVM_I32));
  if (typed) {
    TRY(pop(v, t));
    TRY(pop(v, t));
    return push(v, t);
  }
  TRY(pop_t(v, T_UNKNOWN, &t1));
  TRY(pop_t(v, T_UNKNOWN, &t2));
  if ((t1 != T_UNKNOWN && !is_num(t1)) || (t2 != T_UNKNOWN && !is_num(t2)))
    return invalid(v, "type mismatch");
  if (t1 != T_UNKNOWN && t2 != T_UNKNOWN && t1 != t2) return invalid(v, "type mismatch");
  return push(v, t1 == T_UNKNOWN ? t2 : t1);
}

static int op_end(val *v, bool *done) {
  ctrl *c = &v->ctrls[v->nctrls - 1];
  TRY(pop_results(v, c));
  /* An if without else passes its params through the missing else. */
  if (c->kind == K_IF &&
      (c->nparams != c->nresults ||
       (c->nparams > 0 && memcmp(c->params, c->results, c->nparams) != 0)))
    return invalid(v, "type mismatch");
  v->nctrls--;
  if (v->nctrls == 0) {
    *done = true;
    return 0;
  }
  return push_n(v, c->results, c->nresults);
}

static int op_else(val *v, const uint8_t *at) {
  ctrl *c = &v->ctrls[v->nctrls - 1];
  if (c->kind != K_IF) return malformed(v, at, "else without matching if");
  TRY(pop_results(v, c));
  c->kind = K_ELSE;
  c->unreachable = false;
  return push_n(v, c->params, c->nparams);
}

/* The 0xfc prefix: saturating truncation, bulk memory and table instructions. */
static int op_prefix_fc(val *v, const uint8_t *at) {
  static const uint8_t sat_in[8] = {PVM_F32, PVM_F32, PVM_F64, PVM_F64,
                                    PVM_F32, PVM_F32, PVM_F64, PVM_F64};
  uint32_t sub, x, y;
  RD(rd_u32(&v->r, &sub));
  switch (sub) {
  case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 7:
    return op_unary(v, sat_in[sub], sub < 4 ? PVM_I32 : PVM_I64);
  case 8: /* memory.init data 0 */
    TRY(read_data_idx(v, at, &x));
    TRY(read_zero(v));
    TRY(need_memory(v));
    TRY(check_data_idx(v, x));
    goto three_i32;
  case 9: /* data.drop */
    TRY(read_data_idx(v, at, &x));
    return check_data_idx(v, x);
  case 10: /* memory.copy 0 0 */
    TRY(read_zero(v));
    TRY(read_zero(v));
    TRY(need_memory(v));
    goto three_i32;
  case 11: /* memory.fill 0 */
    TRY(read_zero(v));
    TRY(need_memory(v));
    goto three_i32;
  case 12: /* table.init elem table (the table is checked first) */
    RD(rd_u32(&v->r, &x));
    TRY(read_table(v, &y));
    if (x >= v->m->nelems) return invalid_idx(v, "unknown elem segment", x);
    if (v->tables[y].elem_type != v->m->elems[x].elem_type) return invalid(v, "type mismatch");
    goto three_i32;
  case 13: /* elem.drop */
    return read_elem_idx(v, &x);
  case 14: /* table.copy dst src */
    TRY(read_table(v, &x));
    TRY(read_table(v, &y));
    if (v->tables[x].elem_type != v->tables[y].elem_type) return invalid(v, "type mismatch");
    goto three_i32;
  case 15: /* table.grow: (ref, n) -> old size */
    TRY(read_table(v, &x));
    TRY(pop(v, PVM_I32));
    TRY(pop(v, v->tables[x].elem_type));
    return push(v, PVM_I32);
  case 16: /* table.size */
    TRY(read_table(v, &x));
    return push(v, PVM_I32);
  case 17: /* table.fill: (i, ref, n) */
    TRY(read_table(v, &x));
    TRY(pop(v, PVM_I32));
    TRY(pop(v, v->tables[x].elem_type));
    return pop(v, PVM_I32);
  default:
    return malformed(v, at, "illegal opcode");
  }
three_i32:
  TRY(pop(v, PVM_I32));
  TRY(pop(v, PVM_I32));
  return pop(v, PVM_I32);
}

/* Conversions 0xa7..0xbf: operand and result type of each. */
static const uint8_t kConvIn[25] = {
    PVM_I64, PVM_F32, PVM_F32, PVM_F64, PVM_F64, PVM_I32, PVM_I32, PVM_F32, PVM_F32,
    PVM_F64, PVM_F64, PVM_I32, PVM_I32, PVM_I64, PVM_I64, PVM_F64, PVM_I32, PVM_I32,
    PVM_I64, PVM_I64, PVM_F32, PVM_F32, PVM_F64, PVM_I32, PVM_I64};
static const uint8_t kConvOut[25] = {
    PVM_I32, PVM_I32, PVM_I32, PVM_I32, PVM_I32, PVM_I64, PVM_I64, PVM_I64, PVM_I64,
    PVM_I64, PVM_I64, PVM_F32, PVM_F32, PVM_F32, PVM_F32, PVM_F32, PVM_F64, PVM_F64,
    PVM_F64, PVM_F64, PVM_F64, PVM_I32, PVM_I64, PVM_F32, PVM_F64};

/* Loads 0x28..0x35 and stores 0x36..0x3e: value type and log2 of the access size. */
static const uint8_t kMemType[23] = {
    PVM_I32, PVM_I64, PVM_F32, PVM_F64, PVM_I32, PVM_I32, PVM_I32, PVM_I32,
    PVM_I64, PVM_I64, PVM_I64, PVM_I64, PVM_I64, PVM_I64,
    PVM_I32, PVM_I64, PVM_F32, PVM_F64, PVM_I32, PVM_I32, PVM_I64, PVM_I64, PVM_I64};
static const uint8_t kMemLog2[23] = {2, 3, 2, 3, 0, 0, 1, 1, 0, 0, 1, 1, 2, 2,
                                     2, 3, 2, 3, 0, 1, 0, 1, 2};

/* Validates one instruction whose opcode byte |op| (at |at|) was just read. */
static int instr(val *v, uint8_t op, const uint8_t *at, bool *done) {
  ctrl *c;
  const uint8_t *ps, *rs;
  uint32_t np, nr, x, y;
  uint8_t t;

  if (op >= 0x45 && op <= 0xc4) {
    /* Numeric instructions: grouped by operand type. */
    if (op == 0x45) return op_unary(v, PVM_I32, PVM_I32);
    if (op <= 0x4f) return op_binary(v, PVM_I32, PVM_I32);
    if (op == 0x50) return op_unary(v, PVM_I64, PVM_I32);
    if (op <= 0x5a) return op_binary(v, PVM_I64, PVM_I32);
    if (op <= 0x60) return op_binary(v, PVM_F32, PVM_I32);
    if (op <= 0x66) return op_binary(v, PVM_F64, PVM_I32);
    if (op <= 0x69) return op_unary(v, PVM_I32, PVM_I32);
    if (op <= 0x78) return op_binary(v, PVM_I32, PVM_I32);
    if (op <= 0x7b) return op_unary(v, PVM_I64, PVM_I64);
    if (op <= 0x8a) return op_binary(v, PVM_I64, PVM_I64);
    if (op <= 0x91) return op_unary(v, PVM_F32, PVM_F32);
    if (op <= 0x98) return op_binary(v, PVM_F32, PVM_F32);
    if (op <= 0x9f) return op_unary(v, PVM_F64, PVM_F64);
    if (op <= 0xa6) return op_binary(v, PVM_F64, PVM_F64);
    if (op <= 0xbf) return op_unary(v, kConvIn[op - 0xa7], kConvOut[op - 0xa7]);
    if (op <= 0xc1) return op_unary(v, PVM_I32, PVM_I32);
    return op_unary(v, PVM_I64, PVM_I64);
  }
  if (op >= 0x28 && op <= 0x3e) {
    uint8_t vt = kMemType[op - 0x28];
    TRY(read_memarg(v, kMemLog2[op - 0x28]));
    if (op <= 0x35) return op_unary(v, PVM_I32, vt);
    TRY(pop(v, vt));
    return pop(v, PVM_I32);
  }
  switch (op) {
  case 0x00: /* unreachable */
    set_unreachable(v);
    return 0;
  case 0x01: /* nop */
    return 0;
  case 0x02: /* block */
  case 0x03: /* loop */
    TRY(read_blocktype(v, &ps, &np, &rs, &nr));
    TRY(pop_n(v, ps, np));
    return push_ctrl(v, op == 0x02 ? K_BLOCK : K_LOOP, ps, np, rs, nr);
  case 0x04: /* if */
    TRY(read_blocktype(v, &ps, &np, &rs, &nr));
    TRY(pop(v, PVM_I32));
    TRY(pop_n(v, ps, np));
    return push_ctrl(v, K_IF, ps, np, rs, nr);
  case 0x05:
    return op_else(v, at);
  case 0x0b:
    return op_end(v, done);
  case 0x0c: /* br */
    TRY(read_label(v, &c));
    label_types(c, &ps, &np);
    TRY(pop_n(v, ps, np));
    set_unreachable(v);
    return 0;
  case 0x0d: /* br_if */
    TRY(read_label(v, &c));
    label_types(c, &ps, &np);
    TRY(pop(v, PVM_I32));
    TRY(pop_n(v, ps, np));
    return push_n(v, ps, np);
  case 0x0e:
    return op_br_table(v);
  case 0x0f: /* return */
    TRY(pop_n(v, v->ftype->types + v->ftype->nparams, v->ftype->nresults));
    set_unreachable(v);
    return 0;
  case 0x10: /* call */
    RD(rd_u32(&v->r, &x));
    if (x >= v->nfuncs_total) return invalid_idx(v, "unknown function", x);
    return op_call(v, vm_module_func_type(v->m, x));
  case 0x11: /* call_indirect type table */
    RD(rd_u32(&v->r, &x));
    RD(rd_u32(&v->r, &y));
    if (y >= v->ntables_total) return invalid_idx(v, "unknown table", y);
    if (x >= v->m->ntypes) return invalid_idx(v, "unknown type", x);
    if (v->tables[y].elem_type != PVM_FUNCREF) return invalid(v, "type mismatch");
    TRY(pop(v, PVM_I32));
    return op_call(v, &v->m->types[x]);
  case 0x1a: /* drop */
    return pop(v, T_UNKNOWN);
  case 0x1b:
    return op_select(v, false);
  case 0x1c:
    return op_select(v, true);
  case 0x20: /* local.get */
    TRY(read_local(v, &t));
    return push(v, t);
  case 0x21: /* local.set */
    TRY(read_local(v, &t));
    return pop(v, t);
  case 0x22: /* local.tee */
    TRY(read_local(v, &t));
    TRY(pop(v, t));
    return push(v, t);
  case 0x23: /* global.get */
    TRY(read_global(v, &x));
    return push(v, v->globals[x].type);
  case 0x24: /* global.set */
    TRY(read_global(v, &x));
    if (!v->globals[x].mutable_) return invalid(v, "global is immutable");
    return pop(v, v->globals[x].type);
  case 0x25: /* table.get */
    TRY(read_table(v, &x));
    return op_unary(v, PVM_I32, v->tables[x].elem_type);
  case 0x26: /* table.set */
    TRY(read_table(v, &x));
    TRY(pop(v, v->tables[x].elem_type));
    return pop(v, PVM_I32);
  case 0x3f: /* memory.size 0 */
    TRY(read_zero(v));
    TRY(need_memory(v));
    return push(v, PVM_I32);
  case 0x40: /* memory.grow 0 */
    TRY(read_zero(v));
    TRY(need_memory(v));
    return op_unary(v, PVM_I32, PVM_I32);
  case 0x41: {
    int32_t i;
    if (v->r.p < v->r.end && *v->r.p < 0x80) /* one-byte constant */
      v->r.p++;
    else
      RD(vm_read_s32(&v->r, &i));
    return push(v, PVM_I32);
  }
  case 0x42: {
    int64_t i;
    RD(vm_read_s64(&v->r, &i));
    return push(v, PVM_I64);
  }
  case 0x43: {
    uint32_t b;
    RD(vm_read_f32(&v->r, &b));
    return push(v, PVM_F32);
  }
  case 0x44: {
    uint64_t b;
    RD(vm_read_f64(&v->r, &b));
    return push(v, PVM_F64);
  }
  case 0xd0: /* ref.null t */
    RD(vm_read_u8(&v->r, &t));
    if (!is_ref(t)) return malformed(v, at + 1, "malformed reference type");
    return push(v, t);
  case 0xd1: /* ref.is_null */
    TRY(pop_t(v, T_UNKNOWN, &t));
    if (t != T_UNKNOWN && !is_ref(t)) return invalid(v, "type mismatch");
    return push(v, PVM_I32);
  case 0xd2: /* ref.func */
    RD(rd_u32(&v->r, &x));
    if (x >= v->nfuncs_total) return invalid_idx(v, "unknown function", x);
    if (!v->declared[x]) return invalid(v, "undeclared function reference");
    return push(v, PVM_FUNCREF);
  case 0xfc:
    return op_prefix_fc(v, at);
  case 0xfd:
    return vm_error_set(v->err, PVM_ERR_INVALID, (long)(at - v->m->bytes),
                        "unsupported: SIMD instructions are not implemented");
  default:
    return malformed(v, at, "illegal opcode");
  }
}

static int check_func(val *v, vm_func *f) {
  const vm_functype *ft = &v->m->types[f->type];
  uint32_t sum = 0;
  bool done = false;
  v->func = f;
  v->ftype = ft;
  if (f->nlocal_runs > v->run_ends_cap) {
    uint32_t *n = realloc(v->run_ends, f->nlocal_runs * sizeof *n);
    if (!n) return nomem(v);
    v->run_ends = n;
    v->run_ends_cap = f->nlocal_runs;
  }
  for (uint32_t i = 0; i < f->nlocal_runs; i++) {
    TRY(check_valtype(v, f->local_runs[i].type));
    sum += f->local_runs[i].count;
    v->run_ends[i] = sum;
  }
  if ((uint64_t)ft->nparams + f->nlocals > UINT32_MAX) return invalid(v, "too many locals");
  v->nlocals_total = ft->nparams + f->nlocals;
  /* A flat type array makes local.get O(1); it is built only when its size is bounded
   * by the body's, so many functions declaring huge local counts stay linear. */
  v->flat = v->nlocals_total <= 4 * (uint64_t)f->code_len + 64;
  if (v->flat) {
    uint32_t k = ft->nparams;
    if (v->nlocals_total > v->flat_cap) {
      uint8_t *n = realloc(v->flat_locals, v->nlocals_total);
      if (!n) return nomem(v);
      v->flat_locals = n;
      v->flat_cap = v->nlocals_total;
    }
    if (ft->nparams) memcpy(v->flat_locals, ft->types, ft->nparams);
    for (uint32_t i = 0; i < f->nlocal_runs; i++) {
      if (f->local_runs[i].count) /* flat_locals is NULL while no local was ever seen */
        memset(v->flat_locals + k, f->local_runs[i].type, f->local_runs[i].count);
      k += f->local_runs[i].count;
    }
  }
  v->nvals = v->nctrls = v->max_vals = v->max_ctrls = 0;
  vm_reader_init(&v->r, v->m->bytes, f->code, f->code + f->code_len);
  TRY(push_ctrl(v, K_FUNC, NULL, 0, ft->types + ft->nparams, ft->nresults));
  while (!done) {
    const uint8_t *at = v->r.p;
    uint8_t op;
    if (v->r.p >= v->r.end) return body_overrun(v);
    op = *v->r.p++;
    int rv = instr(v, op, at, &done);
    if (rv) {
      /* Point validation errors at the instruction (format errors have their own). */
      if (rv == PVM_ERR_INVALID && v->err) v->err->offset = (long)(at - v->m->bytes);
      return rv;
    }
  }
  if (v->r.p != v->r.end) return malformed(v, v->r.p, "section size mismatch");
  f->max_stack = v->max_vals;
  f->max_depth = v->max_ctrls;
  return 0;
}

static int validate(val *v) {
  vm_module *m = v->m;
  TRY(check_defs(v));
  TRY(check_elems(v));
  TRY(check_datas(v));
  TRY(check_start(v));
  TRY(check_exports(v));
  for (uint32_t i = 0; i < m->nfuncs; i++) {
    int rv = check_func(v, &m->funcs[i]);
    if (rv) {
      /* Say which function: the message keeps the spec wording first. */
      if (v->err && rv == PVM_ERR_INVALID) {
        size_t l = strlen(v->err->msg);
        snprintf(v->err->msg + l, sizeof v->err->msg - l, " (in function %u)",
                 m->nfunc_imports + i);
      }
      return rv;
    }
  }
  return 0;
}

int vm_validate(vm_module *m, pvm_error *err) {
  val v;
  int rv;
  memset(&v, 0, sizeof v);
  v.m = m;
  v.err = err;
  v.nfuncs_total = m->nfunc_imports + m->nfuncs;
  v.ntables_total = m->ntable_imports + m->ntables;
  v.nmems_total = m->nmem_imports + m->nmems;
  v.nglobals_total = m->nglobal_imports + m->nglobals;
  v.tables = calloc(v.ntables_total + 1, sizeof *v.tables);
  v.globals = calloc(v.nglobals_total + 1, sizeof *v.globals);
  v.declared = calloc(v.nfuncs_total + 1, 1);
  if (!v.tables || !v.globals || !v.declared)
    rv = nomem(&v);
  else
    rv = validate(&v);
  if (rv == PVM_ERR_INVALID) {
    /* A format error anywhere in the code takes precedence over a validation error (the
     * reference decodes everything before validating). */
    const uint8_t *at = NULL;
    const char *msg = vm_scan_bodies(m, 0, &at);
    if (msg) rv = vm_error_set(err, PVM_ERR_MALFORMED, (long)(at - m->bytes), "%s", msg);
  }
  free(v.tables);
  free(v.globals);
  free(v.declared);
  free(v.vals);
  free(v.ctrls);
  free(v.run_ends);
  free(v.flat_locals);
  return rv;
}
