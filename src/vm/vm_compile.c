/*
 * vm_compile.c: translates validated function bodies into the slot-addressed internal
 * form of vm_ops.h, once per module.
 *
 * The compiler walks each body keeping a compile-time operand stack. An entry is either
 * TEMP (the value sits in its canonical slot base + height), LOCAL (the value is local n:
 * local.get emits nothing) or CONST (an immediate not yet written anywhere). Ops read
 * their operands where they are; a CONST right operand selects the _K form of an op.
 * Entries are made canonical ("materialized") where control flow merges: at block, loop,
 * if, else and end, and for call arguments. Peepholes:
 *   - local.set/tee right after the op that computed the value rewrites that op's
 *     destination (no copy);
 *   - br_if/if right after an i32 compare (or eqz) becomes one compare-and-branch op.
 * Forward branches are chained through their A field until the label is bound.
 */
#include <stdlib.h>
#include <string.h>

#include "vm_internal.h"
#include "vm_read.h"

enum { E_TEMP, E_LOCAL, E_CONST };
enum { C_FUNC, C_BLOCK, C_LOOP, C_IF, C_ELSE };

#define NO_DEF ((size_t)-1)

typedef struct centry {
  uint8_t kind;
  uint32_t slot; /* LOCAL: the local */
  uint64_t k;    /* CONST */
} centry;

typedef struct cframe {
  uint8_t kind;
  bool unreachable;
  uint32_t height;  /* operand height below the block's params */
  uint32_t nparams, nresults;
  uint32_t loop_pc; /* LOOP: the header */
  uint32_t fix;     /* chain of forward branches (index + 1), 0 = none */
  uint32_t else_fix;/* IF: the branch to the else arm (index + 1), 0 = none */
  size_t outer_fuel_ins; /* LOOP: the enclosing fuel region, resumed at its end */
  uint32_t outer_fuel_n;
} cframe;

typedef struct comp {
  const vm_module *m;
  vm_ins *code;
  size_t ncode, cap;
  centry *st;
  uint32_t sh, scap, max_h;
  cframe *ctl;
  uint32_t nctl, ccap;
  uint32_t base;    /* params + locals: slot of operand height 0 */
  uint32_t nlocals_total;
  size_t last_def;  /* instruction that last wrote a fresh TEMP (for peepholes) */
  size_t fuel_ins;
  uint32_t fuel_n;
  int status;       /* first error */
  const char *msg;
} comp;

/* ---- emission ---------------------------------------------------------------------- */

static bool fail(comp *c, int status, const char *msg) {
  if (!c->status) {
    c->status = status;
    c->msg = msg;
  }
  return false;
}

static size_t emit(comp *c, uint32_t op, uint32_t a, uint32_t b, uint32_t cc) {
  if (c->status) return 0; /* nothing is written after an error */
  if (c->ncode == c->cap) {
    size_t ncap = c->cap ? c->cap * 2 : 256;
    vm_ins *n = realloc(c->code, ncap * sizeof *n);
    if (!n) {
      fail(c, PVM_ERR_NOMEM, "out of memory");
      return 0;
    }
    c->code = n;
    c->cap = ncap;
  }
  c->code[c->ncode] = (vm_ins){op, a, b, cc};
  c->last_def = NO_DEF;
  return c->ncode++;
}

static size_t emit_def(comp *c, uint32_t op, uint32_t a, uint32_t b, uint32_t cc) {
  size_t i = emit(c, op, a, b, cc);
  c->last_def = i;
  return i;
}

static void emit_const(comp *c, uint32_t dst, uint64_t k) {
  if (k <= UINT32_MAX)
    emit(c, VM_OP_CONST32, dst, (uint32_t)k, 0);
  else
    emit(c, VM_OP_CONST64, dst, (uint32_t)k, (uint32_t)(k >> 32));
}

/* Points the branch at |at| (chained or bound) to instruction |target|. */
static void patch_to(comp *c, size_t at, size_t target) {
  c->code[at].a = (uint32_t)(int32_t)((int64_t)target - (int64_t)at);
}

static void patch_chain(comp *c, uint32_t chain, size_t target) {
  while (chain && c->status == 0) {
    size_t at = chain - 1;
    chain = c->code[at].a;
    patch_to(c, at, target);
  }
}

/* A label is bound at the current position: no peephole may look across it. */
static void bind_label(comp *c) { c->last_def = NO_DEF; }

/* Fuel regions: the function body and each loop body (nested loops excluded) start with
 * a FUEL op charging every instruction of the region, so forward branches and merges
 * cost nothing and only loop headers and function entries pay. */
static void start_fuel_region(comp *c) {
  c->fuel_ins = emit(c, VM_OP_FUEL, 0, 0, 0);
  c->fuel_n = 0;
}

static void end_fuel_region(comp *c) {
  if (!c->status) c->code[c->fuel_ins].a = c->fuel_n;
}

/* A label reached by forward branches (else, end of a block or if that was branched to)
 * starts a new segment of the current region when the segment so far is longer than
 * VM_FUEL_SLACK: a branch skipping to the label then over-charges at most that much,
 * and short diamonds (if/else of a few instructions) cost no FUEL op. */
#define VM_FUEL_SLACK 8

static void new_fuel_segment(comp *c) {
  if (c->fuel_n <= VM_FUEL_SLACK) return;
  end_fuel_region(c);
  start_fuel_region(c);
}

/* ---- compile-time operand stack --------------------------------------------------- */

static bool need(comp *c, uint32_t n) {
  cframe *f = &c->ctl[c->nctl - 1];
  if (c->sh < f->height + n) return fail(c, PVM_ERR_INVALID, "type mismatch");
  return true;
}

static centry *push(comp *c, centry e) {
  if (c->sh == c->scap) {
    uint32_t ncap = c->scap ? c->scap * 2 : 64;
    centry *n = realloc(c->st, ncap * sizeof *n);
    if (!n) {
      fail(c, PVM_ERR_NOMEM, "out of memory");
      return NULL;
    }
    c->st = n;
    c->scap = ncap;
  }
  c->st[c->sh] = e;
  c->sh++;
  if (c->sh > c->max_h) c->max_h = c->sh;
  return &c->st[c->sh - 1];
}

/* Pushes a TEMP and returns its slot. */
static uint32_t push_temp(comp *c) {
  push(c, (centry){E_TEMP, 0, 0});
  return c->base + c->sh - 1;
}

static uint32_t slot_of(comp *c, uint32_t h) { return c->base + h; }

/* Writes entry |h| into slot |dst| (no-op if already there). */
static void move_entry(comp *c, uint32_t dst, uint32_t h) {
  centry *e = &c->st[h];
  if (e->kind == E_CONST)
    emit_const(c, dst, e->k);
  else if (e->kind == E_LOCAL) {
    if (e->slot != dst) emit(c, VM_OP_COPY, dst, e->slot, 0);
  } else if (slot_of(c, h) != dst)
    emit(c, VM_OP_COPY, dst, slot_of(c, h), 0);
}

static void materialize(comp *c, uint32_t h) {
  if (c->st[h].kind == E_TEMP) return;
  move_entry(c, slot_of(c, h), h);
  c->st[h].kind = E_TEMP;
}

static void materialize_range(comp *c, uint32_t from, uint32_t to) {
  for (uint32_t h = from; h < to; h++) materialize(c, h);
}

/* Slot holding entry |h| as an operand (a CONST is written to its canonical slot). */
static uint32_t use(comp *c, uint32_t h) {
  centry *e = &c->st[h];
  if (e->kind == E_LOCAL) return e->slot;
  materialize(c, h);
  return slot_of(c, h);
}

/* Pops the top entry and returns its slot. */
static uint32_t pop_use(comp *c) {
  if (!need(c, 1)) return 0;
  uint32_t s = use(c, c->sh - 1);
  c->sh--;
  return s;
}

/* ---- op shapes -------------------------------------------------------------------- */

static void unop(comp *c, uint32_t op) {
  uint32_t s = pop_use(c);
  if (c->status) return;
  emit_def(c, op, push_temp(c), s, 0);
}

static bool fits_s32(uint64_t k) { return (int64_t)k == (int64_t)(int32_t)(uint32_t)k; }

/* Ops with a memory-operand form (_M, _MW): the op, that form, the load it absorbs. */
static const struct {
  uint32_t op, m_op, load;
} mem_binops[] = {
    {VM_OP_F64_ADD, VM_OP_F64_ADD_M, VM_OP_LOAD64}, {VM_OP_F64_SUB, VM_OP_F64_SUB_M, VM_OP_LOAD64},
    {VM_OP_F64_MUL, VM_OP_F64_MUL_M, VM_OP_LOAD64}, {VM_OP_F32_ADD, VM_OP_F32_ADD_M, VM_OP_LOAD32},
    {VM_OP_F32_SUB, VM_OP_F32_SUB_M, VM_OP_LOAD32}, {VM_OP_F32_MUL, VM_OP_F32_MUL_M, VM_OP_LOAD32},
    {VM_OP_I32_ADD, VM_OP_I32_ADD_M, VM_OP_LOAD32}, {VM_OP_I64_ADD, VM_OP_I64_ADD_M, VM_OP_LOAD64},
};

/* `x (already in its canonical slot) op load(...)` with the load just emitted: one op that
 * loads and combines in place. Not marked as a def: it reads R[A], so its destination
 * must not be retargeted to a local. */
static bool fuse_mem_binop(comp *c, uint32_t op) {
  size_t ld = c->last_def;
  uint32_t r = c->sh - 1, l = c->sh - 2;
  if (c->st[r].kind != E_TEMP || c->st[l].kind != E_TEMP || ld == NO_DEF ||
      ld + 1 != c->ncode || c->code[ld].a != slot_of(c, r))
    return false;
  for (size_t i = 0; i < sizeof mem_binops / sizeof mem_binops[0]; i++) {
    if (mem_binops[i].op != op) continue;
    uint32_t lop = c->code[ld].op, m_op;
    if (lop == mem_binops[i].load)
      m_op = mem_binops[i].m_op;
    else if (lop == mem_binops[i].load + (VM_OP_LOAD32_W - VM_OP_LOAD32))
      m_op = mem_binops[i].m_op + (VM_OP_F64_ADD_MW - VM_OP_F64_ADD_M);
    else
      return false;
    vm_ins load = c->code[ld];
    c->ncode--;
    c->sh -= 2;
    uint32_t dst = push_temp(c); /* the left operand's slot */
    emit(c, m_op, dst, load.b, load.c);
    return true;
  }
  return false;
}

/* Binary op; |op_k| >= 0 is the form taking an immediate right operand. */
static void binop(comp *c, uint32_t op, int op_k, bool is64) {
  if (!need(c, 2)) return;
  if (fuse_mem_binop(c, op)) return;
  centry *r = &c->st[c->sh - 1];
  bool divrem = op_k >= 0 && ((op_k >= VM_OP_I32_DIV_S_K && op_k <= VM_OP_I32_REM_U_K) ||
                               (op_k >= VM_OP_I64_DIV_S_K && op_k <= VM_OP_I64_REM_U_K));
  /* Division by a constant other than 0 and -1 cannot trap: the _K form checks nothing. */
  bool divrem_ok = !divrem || ((uint32_t)r->k != 0 && (uint32_t)r->k != UINT32_MAX);
  if (op_k >= 0 && r->kind == E_CONST && (!is64 || fits_s32(r->k)) && divrem_ok) {
    uint32_t k = (uint32_t)r->k;
    c->sh--;
    uint32_t l = pop_use(c);
    emit_def(c, (uint32_t)op_k, push_temp(c), l, k);
    return;
  }
  uint32_t rs = use(c, c->sh - 1);
  uint32_t ls = use(c, c->sh - 2);
  c->sh -= 2;
  emit_def(c, op, push_temp(c), ls, rs);
}

/* Compare ops in BR_EQ order: EQ NE LT_S LT_U GT_S GT_U LE_S LE_U GE_S GE_U. */
static const uint8_t cmp_inverse[10] = {1, 0, 8, 9, 6, 7, 4, 5, 2, 3};

/* A conditional branch not emitted yet: the condition popped, maybe fused. */
typedef struct pending_br {
  int cmp;     /* 0..9 compare index, -1 plain condition */
  bool k;      /* compare against an immediate */
  bool negate; /* plain: branch when the value is zero */
  uint32_t b, cc;
} pending_br;

static pending_br cond_prepare(comp *c) {
  pending_br p = {-1, false, false, 0, 0};
  if (!need(c, 1)) return p;
  centry *e = &c->st[c->sh - 1];
  size_t ld = c->last_def;
  if (e->kind == E_TEMP && ld != NO_DEF && ld + 1 == c->ncode &&
      c->code[ld].a == slot_of(c, c->sh - 1)) {
    uint32_t op = c->code[ld].op;
    if (op >= VM_OP_I32_EQ && op <= VM_OP_I32_GE_U) {
      p.cmp = (int)(op - VM_OP_I32_EQ);
    } else if (op >= VM_OP_I32_EQ_K && op <= VM_OP_I32_GE_U_K) {
      p.cmp = (int)(op - VM_OP_I32_EQ_K);
      p.k = true;
    } else if (op == VM_OP_I32_EQZ) {
      p.negate = true;
    } else {
      goto plain;
    }
    p.b = c->code[ld].b;
    p.cc = c->code[ld].c;
    c->ncode--;
    c->last_def = NO_DEF;
    c->sh--;
    return p;
  }
plain:
  p.b = pop_use(c);
  return p;
}

/* Emits the branch (taken when the condition holds, or fails if |invert|); returns its
 * index for linking. */
static size_t emit_pending(comp *c, pending_br p, bool invert) {
  if (p.cmp < 0) {
    bool unless = p.negate != invert;
    return emit(c, unless ? VM_OP_BR_UNLESS : VM_OP_BR_IF, 0, p.b, 0);
  }
  int cmp = invert ? cmp_inverse[p.cmp] : p.cmp;
  uint32_t op = (uint32_t)cmp + (p.k ? VM_OP_BR_EQ_K : VM_OP_BR_EQ);
  return emit(c, op, 0, p.b, p.cc);
}

/* ---- control ---------------------------------------------------------------------- */

static bool block_type(comp *c, vm_reader *r, uint32_t *np, uint32_t *nr) {
  int64_t bt;
  if (!vm_read_s33(r, &bt)) return fail(c, PVM_ERR_MALFORMED, r->err);
  if (bt == -64) {
    *np = *nr = 0;
  } else if (bt < 0) {
    *np = 0;
    *nr = 1;
  } else {
    if ((uint64_t)bt >= c->m->ntypes) return fail(c, PVM_ERR_INVALID, "unknown type");
    *np = c->m->types[bt].nparams;
    *nr = c->m->types[bt].nresults;
  }
  return true;
}

static cframe *push_ctl(comp *c, uint8_t kind, uint32_t np, uint32_t nr) {
  if (c->nctl == c->ccap) {
    uint32_t ncap = c->ccap ? c->ccap * 2 : 16;
    cframe *n = realloc(c->ctl, ncap * sizeof *n);
    if (!n) {
      fail(c, PVM_ERR_NOMEM, "out of memory");
      return NULL;
    }
    c->ctl = n;
    c->ccap = ncap;
  }
  cframe *f = &c->ctl[c->nctl++];
  memset(f, 0, sizeof *f);
  f->kind = kind;
  f->nparams = np;
  f->nresults = nr;
  f->height = c->sh - np;
  return f;
}

static void emit_return(comp *c) {
  uint32_t nr = c->ctl[0].nresults;
  if (!need(c, nr)) return;
  uint32_t from = c->sh - nr;
  size_t ld = c->last_def;
  if (nr == 1 && c->st[from].kind == E_TEMP && ld != NO_DEF && ld + 1 == c->ncode &&
      c->code[ld].a == slot_of(c, from)) {
    c->code[ld].a = 0; /* the op computing the only result writes it in place */
    emit(c, VM_OP_RETURN, 0, 0, 0);
    return;
  }
  /* Locals among the results are read before any result slot is written. */
  for (uint32_t i = 0; i < nr; i++)
    if (c->st[from + i].kind == E_LOCAL) materialize(c, from + i);
  for (uint32_t i = 0; i < nr; i++) move_entry(c, i, from + i);
  emit(c, VM_OP_RETURN, 0, 0, 0);
}

/* Values a branch to |t| carries. */
static uint32_t br_arity(const cframe *t) { return t->kind == C_LOOP ? t->nparams : t->nresults; }

/* True if a branch to |t| needs no moves (values already where the label expects). */
static bool br_in_place(comp *c, const cframe *t) {
  if (t->kind == C_FUNC) return false;
  uint32_t n = br_arity(t);
  for (uint32_t i = 0; i < n; i++) {
    uint32_t h = c->sh - n + i;
    if (c->st[h].kind != E_TEMP || h != t->height + i) return false;
  }
  return true;
}

/* Links the branch at |at| to label |t|. */
static void link_branch(comp *c, size_t at, cframe *t) {
  if (c->status) return;
  if (t->kind == C_LOOP) {
    uint32_t op = c->code[at].op;
    if (op >= VM_OP_BR && op <= VM_OP_BR_GE_U_K) /* not a br_table entry */
      c->code[at].op = op - VM_OP_BR + VM_OP_BR_L;
    patch_to(c, at, t->loop_pc);
  } else {
    c->code[at].a = t->fix;
    t->fix = (uint32_t)at + 1;
  }
}

static cframe *label(comp *c, uint32_t depth) {
  if (depth >= c->nctl) {
    fail(c, PVM_ERR_INVALID, "unknown label");
    return NULL;
  }
  return &c->ctl[c->nctl - 1 - depth];
}

/* Unconditional branch to |t| with its values moved into place. */
static void emit_branch(comp *c, cframe *t) {
  if (t->kind == C_FUNC) {
    emit_return(c);
    return;
  }
  uint32_t n = br_arity(t);
  if (!need(c, n)) return;
  for (uint32_t i = 0; i < n; i++) move_entry(c, slot_of(c, t->height + i), c->sh - n + i);
  link_branch(c, emit(c, VM_OP_BR, 0, 0, 0), t);
}

static void set_unreachable(comp *c) {
  cframe *f = &c->ctl[c->nctl - 1];
  f->unreachable = true;
  c->sh = f->height;
}

/* Resets the stack to |height| + |n| canonical entries. */
static void reset_stack(comp *c, uint32_t height, uint32_t n) {
  c->sh = height;
  for (uint32_t i = 0; i < n; i++) push(c, (centry){E_TEMP, 0, 0});
}

static void do_else(comp *c) {
  cframe *f = &c->ctl[c->nctl - 1];
  if (f->kind != C_IF) {
    fail(c, PVM_ERR_INVALID, "else without if");
    return;
  }
  if (!f->unreachable) {
    if (c->sh != f->height + f->nresults) {
      fail(c, PVM_ERR_INVALID, "type mismatch");
      return;
    }
    materialize_range(c, f->height, c->sh);
    link_branch(c, emit(c, VM_OP_BR, 0, 0, 0), f);
  }
  bind_label(c);
  patch_chain(c, f->else_fix, c->ncode);
  f->else_fix = 0;
  f->kind = C_ELSE;
  f->unreachable = false;
  reset_stack(c, f->height, f->nparams);
  new_fuel_segment(c);
}

/* Returns false when the function body ended. */
static bool do_end(comp *c) {
  cframe *f = &c->ctl[c->nctl - 1];
  if (!f->unreachable) {
    if (c->sh != f->height + f->nresults) return fail(c, PVM_ERR_INVALID, "type mismatch");
    if (f->kind == C_FUNC) {
      emit_return(c);
    } else {
      materialize_range(c, f->height, c->sh);
    }
  }
  if (f->kind == C_FUNC) {
    c->nctl--;
    return false;
  }
  if (f->kind == C_LOOP) {
    end_fuel_region(c);
    c->fuel_ins = f->outer_fuel_ins;
    c->fuel_n = f->outer_fuel_n;
  }
  bool merged = f->kind != C_LOOP && (f->fix != 0 || f->else_fix != 0 || f->kind == C_ELSE);
  bind_label(c);
  patch_chain(c, f->fix, c->ncode);
  patch_chain(c, f->else_fix, c->ncode);
  reset_stack(c, f->height, f->nresults);
  c->nctl--;
  if (merged) new_fuel_segment(c);
  return true;
}

static void do_br_if(comp *c, uint32_t depth) {
  cframe *t = label(c, depth);
  if (!t) return;
  pending_br p = cond_prepare(c);
  if (c->status) return;
  if (br_in_place(c, t)) {
    link_branch(c, emit_pending(c, p, false), t);
    return;
  }
  size_t skip = emit_pending(c, p, true);
  emit_branch(c, t);
  bind_label(c);
  if (!c->status) patch_to(c, skip, c->ncode);
}

static void do_br_table(comp *c, vm_reader *r) {
  uint32_t n;
  if (!vm_read_u32(r, &n) || n > VM_MAX_ITEMS) {
    fail(c, PVM_ERR_MALFORMED, r->err ? r->err : "too many labels");
    return;
  }
  uint32_t *depths = malloc(((size_t)n + 1) * sizeof *depths);
  if (!depths) {
    fail(c, PVM_ERR_NOMEM, "out of memory");
    return;
  }
  for (uint32_t i = 0; i <= n; i++)
    if (!vm_read_u32(r, &depths[i])) fail(c, PVM_ERR_MALFORMED, r->err);
  uint32_t idx = pop_use(c);
  size_t at = emit(c, VM_OP_BR_TABLE, idx, n, 0);
  for (uint32_t i = 0; i <= n; i++) emit(c, VM_OP_NOP, 0, 0, 0);
  /* Entries whose values are in place jump straight to the label; the others go to a
   * stub after the table that moves the values first. */
  for (uint32_t i = 0; i <= n && !c->status; i++) {
    cframe *t = label(c, depths[i]);
    if (t && br_in_place(c, t)) link_branch(c, at + 1 + i, t);
  }
  for (uint32_t i = 0; i <= n && !c->status; i++) {
    cframe *t = label(c, depths[i]);
    if (!t || br_in_place(c, t)) continue;
    patch_to(c, at + 1 + i, c->ncode);
    emit_branch(c, t);
  }
  free(depths);
  set_unreachable(c);
}

/* ---- locals, calls ---------------------------------------------------------------- */

static void local_get(comp *c, uint32_t x) {
  if (x >= c->nlocals_total) {
    fail(c, PVM_ERR_INVALID, "unknown local");
    return;
  }
  push(c, (centry){E_LOCAL, x, 0});
}

/* local.set (tee=false) or local.tee. */
static void local_set(comp *c, uint32_t x, bool tee) {
  if (x >= c->nlocals_total) {
    fail(c, PVM_ERR_INVALID, "unknown local");
    return;
  }
  if (!need(c, 1)) return;
  uint32_t top = c->sh - 1;
  bool aliased = false;
  for (uint32_t h = 0; h < top; h++)
    if (c->st[h].kind == E_LOCAL && c->st[h].slot == x) aliased = true;
  centry *e = &c->st[top];
  size_t ld = c->last_def;
  if (!aliased && e->kind == E_TEMP && ld != NO_DEF && ld + 1 == c->ncode &&
      c->code[ld].a == slot_of(c, top)) {
    c->code[ld].a = x; /* the op writes the local directly */
    c->last_def = NO_DEF;
    if (tee)
      *e = (centry){E_LOCAL, x, 0};
    else
      c->sh--;
    return;
  }
  /* Entries still reading the old value of x get their own copy first. */
  for (uint32_t h = 0; h < top; h++)
    if (c->st[h].kind == E_LOCAL && c->st[h].slot == x) materialize(c, h);
  e = &c->st[top];
  if (e->kind == E_LOCAL && e->slot == x) {
    /* local.set x of local.get x: nothing to do */
  } else {
    move_entry(c, x, top);
  }
  if (!tee) c->sh--;
}

static void do_call(comp *c, uint32_t fidx) {
  const vm_module *m = c->m;
  if (fidx >= m->nfunc_imports + m->nfuncs) {
    fail(c, PVM_ERR_INVALID, "unknown function");
    return;
  }
  const vm_functype *ft = vm_module_func_type(m, fidx);
  if (!need(c, ft->nparams)) return;
  uint32_t first = c->sh - ft->nparams;
  materialize_range(c, first, c->sh);
  if (fidx < m->nfunc_imports)
    emit(c, VM_OP_CALL_IMPORT, fidx, slot_of(c, first), 0);
  else
    emit(c, VM_OP_CALL, fidx - m->nfunc_imports, slot_of(c, first), 0);
  reset_stack(c, first, ft->nresults);
}

static void do_call_indirect(comp *c, uint32_t tidx, uint32_t table) {
  const vm_module *m = c->m;
  if (tidx >= m->ntypes) {
    fail(c, PVM_ERR_INVALID, "unknown type");
    return;
  }
  if (table >= m->ntable_imports + m->ntables) {
    fail(c, PVM_ERR_INVALID, "unknown table");
    return;
  }
  const vm_functype *ft = &m->types[tidx];
  uint32_t idx = pop_use(c);
  if (!need(c, ft->nparams)) return;
  uint32_t first = c->sh - ft->nparams;
  /* A TEMP index sits above the arguments: materializing them cannot clobber it. */
  materialize_range(c, first, c->sh);
  emit(c, VM_OP_CALL_INDIRECT, tidx, slot_of(c, first), table);
  emit(c, VM_OP_NOP, idx, 0, 0);
  reset_stack(c, first, ft->nresults);
}

/* ---- immediates skipped in unreachable code --------------------------------------- */

static bool skip_imm(comp *c, vm_reader *r, uint8_t op) {
  uint64_t u;
  int64_t s;
  const uint8_t *b;
  bool ok = true;
  switch (op) {
  case 0x02: case 0x03: case 0x04:
    ok = vm_read_s33(r, &s);
    break;
  case 0x0c: case 0x0d: case 0x10: case 0x20: case 0x21: case 0x22: case 0x23: case 0x24:
  case 0x25: case 0x26: case 0xd2:
    ok = vm_read_uleb(r, 32, &u);
    break;
  case 0x0e:
    ok = vm_read_uleb(r, 32, &u);
    for (uint64_t i = 0; ok && i <= u; i++) {
      uint64_t d;
      ok = vm_read_uleb(r, 32, &d);
    }
    break;
  case 0x11:
    ok = vm_read_uleb(r, 32, &u) && vm_read_uleb(r, 32, &u);
    break;
  case 0x1c:
    ok = vm_read_uleb(r, 32, &u) && vm_read_bytes(r, (size_t)u, &b);
    break;
  case 0x3f: case 0x40: case 0xd0:
    ok = vm_read_bytes(r, 1, &b);
    break;
  case 0x41:
    ok = vm_read_sleb(r, 32, &s);
    break;
  case 0x42:
    ok = vm_read_sleb(r, 64, &s);
    break;
  case 0x43:
    ok = vm_read_bytes(r, 4, &b);
    break;
  case 0x44:
    ok = vm_read_bytes(r, 8, &b);
    break;
  case 0xfc: {
    uint32_t sub;
    ok = vm_read_u32(r, &sub);
    if (!ok) break;
    switch (sub) {
    case 8: ok = vm_read_uleb(r, 32, &u) && vm_read_bytes(r, 1, &b); break;
    case 10: ok = vm_read_bytes(r, 2, &b); break;
    case 11: ok = vm_read_bytes(r, 1, &b); break;
    case 12: case 14: ok = vm_read_uleb(r, 32, &u) && vm_read_uleb(r, 32, &u); break;
    case 9: case 13: case 15: case 16: case 17: ok = vm_read_uleb(r, 32, &u); break;
    default: ok = sub <= 7 ? true : fail(c, PVM_ERR_MALFORMED, "illegal opcode"); break;
    }
    break;
  }
  default:
    if (op >= 0x28 && op <= 0x3e) ok = vm_read_uleb(r, 32, &u) && vm_read_uleb(r, 32, &u);
    break;
  }
  if (!ok) return fail(c, PVM_ERR_MALFORMED, r->err ? r->err : "unexpected end");
  return true;
}

/* ---- one instruction -------------------------------------------------------------- */

#define RD_U32(v)                                                                        \
  do {                                                                                  \
    if (!vm_read_u32(r, &(v))) return fail(c, PVM_ERR_MALFORMED, r->err);               \
  } while (0)

/* If entry |h| was just computed by `i32.add K` (the last instruction), removes that
 * instruction and returns true with its operand slot and constant: a memory access with
 * offset 0 then takes them as its _W form. */
static bool take_add_k(comp *c, uint32_t h, uint32_t *base, uint32_t *k) {
  size_t ld = c->last_def;
  if (c->st[h].kind != E_TEMP || ld == NO_DEF || ld + 1 != c->ncode ||
      c->code[ld].op != VM_OP_I32_ADD_K || c->code[ld].a != slot_of(c, h))
    return false;
  *base = c->code[ld].b;
  *k = c->code[ld].c;
  c->ncode--;
  c->last_def = NO_DEF;
  return true;
}

static bool mem_op(comp *c, vm_reader *r, uint32_t op, bool store) {
  uint32_t align, offset, base, k;
  RD_U32(align);
  RD_U32(offset);
  if (c->m->nmem_imports + c->m->nmems == 0) return fail(c, PVM_ERR_INVALID, "unknown memory");
  const uint32_t to_w = VM_OP_LOAD32_W - VM_OP_LOAD32;
  if (store) {
    if (!need(c, 2)) return false;
    const centry *ve = &c->st[c->sh - 1];
    if (ve->kind == E_CONST && (op != VM_OP_STORE64 || fits_s32(ve->k))) {
      uint32_t kv = (uint32_t)ve->k;
      const uint32_t to_k = VM_OP_STORE8_K - VM_OP_STORE8;
      const uint32_t to_kw = VM_OP_STORE8_KW - VM_OP_STORE8;
      bool fused = offset == 0 && take_add_k(c, c->sh - 2, &base, &k);
      uint32_t a = fused ? base : use(c, c->sh - 2);
      c->sh -= 2;
      emit(c, op + (fused ? to_kw : to_k), a, kv, fused ? k : offset);
      return true;
    }
    bool fused = offset == 0 && c->st[c->sh - 1].kind != E_TEMP &&
                 take_add_k(c, c->sh - 2, &base, &k);
    uint32_t v = use(c, c->sh - 1);
    uint32_t a = fused ? base : use(c, c->sh - 2);
    c->sh -= 2;
    emit(c, fused ? op + to_w : op, a, v, fused ? k : offset);
  } else {
    if (!need(c, 1)) return false;
    bool fused = offset == 0 && take_add_k(c, c->sh - 1, &base, &k);
    uint32_t a = fused ? base : use(c, c->sh - 1);
    c->sh--;
    emit_def(c, fused ? op + to_w : op, push_temp(c), a, fused ? k : offset);
  }
  return true;
}

/* Pops three operands (in order a, b, c) into slots. */
static bool pop3(comp *c, uint32_t *a, uint32_t *b, uint32_t *cc) {
  if (!need(c, 3)) return false;
  *cc = use(c, c->sh - 1);
  *b = use(c, c->sh - 2);
  *a = use(c, c->sh - 3);
  c->sh -= 3;
  return true;
}

static bool compile_fc(comp *c, vm_reader *r) {
  uint32_t sub, x, y, a, b, cc;
  uint8_t byte;
  RD_U32(sub);
  if (sub <= 7) {
    unop(c, VM_OP_I32_TRUNC_SAT_F32_S + sub);
    return c->status == 0;
  }
  switch (sub) {
  case 8: /* memory.init */
    RD_U32(x);
    if (!vm_read_u8(r, &byte)) return fail(c, PVM_ERR_MALFORMED, r->err);
    if (!pop3(c, &a, &b, &cc)) return false;
    emit(c, VM_OP_MEMORY_INIT, a, b, cc);
    emit(c, VM_OP_NOP, x, 0, 0);
    break;
  case 9:
    RD_U32(x);
    emit(c, VM_OP_DATA_DROP, x, 0, 0);
    break;
  case 10:
    if (!vm_read_u8(r, &byte) || !vm_read_u8(r, &byte)) return fail(c, PVM_ERR_MALFORMED, r->err);
    if (!pop3(c, &a, &b, &cc)) return false;
    emit(c, VM_OP_MEMORY_COPY, a, b, cc);
    break;
  case 11:
    if (!vm_read_u8(r, &byte)) return fail(c, PVM_ERR_MALFORMED, r->err);
    if (!pop3(c, &a, &b, &cc)) return false;
    emit(c, VM_OP_MEMORY_FILL, a, b, cc);
    break;
  case 12: /* table.init elem table */
    RD_U32(x);
    RD_U32(y);
    if (!pop3(c, &a, &b, &cc)) return false;
    emit(c, VM_OP_TABLE_INIT, a, b, cc);
    emit(c, VM_OP_NOP, y, x, 0);
    break;
  case 13:
    RD_U32(x);
    emit(c, VM_OP_ELEM_DROP, x, 0, 0);
    break;
  case 14: /* table.copy dst src */
    RD_U32(x);
    RD_U32(y);
    if (!pop3(c, &a, &b, &cc)) return false;
    emit(c, VM_OP_TABLE_COPY, a, b, cc);
    emit(c, VM_OP_NOP, x, y, 0);
    break;
  case 15: { /* table.grow: init n -> old */
    RD_U32(x);
    if (!need(c, 2)) return false;
    uint32_t n = use(c, c->sh - 1);
    uint32_t init = use(c, c->sh - 2);
    c->sh -= 2;
    emit(c, VM_OP_TABLE_GROW, push_temp(c), init, x);
    emit(c, VM_OP_NOP, n, 0, 0);
    break;
  }
  case 16:
    RD_U32(x);
    emit_def(c, VM_OP_TABLE_SIZE, push_temp(c), 0, x);
    break;
  case 17:
    RD_U32(x);
    if (!pop3(c, &a, &b, &cc)) return false;
    emit(c, VM_OP_TABLE_FILL, a, b, cc);
    emit(c, VM_OP_NOP, x, 0, 0);
    break;
  default:
    return fail(c, PVM_ERR_MALFORMED, "illegal opcode");
  }
  return c->status == 0;
}

/* Opcode 0x45.. numeric ops without immediates. Returns false if |op| is not one. */
static bool compile_numeric(comp *c, uint8_t op) {
  enum { I32_BASE = 0x46, I64_BASE = 0x51 }; /* eq */
  if (op == 0x45) {
    unop(c, VM_OP_I32_EQZ);
  } else if (op >= 0x46 && op <= 0x4f) { /* i32 compares */
    binop(c, VM_OP_I32_EQ + (op - I32_BASE), VM_OP_I32_EQ_K + (op - I32_BASE), false);
  } else if (op == 0x50) {
    unop(c, VM_OP_I64_EQZ);
  } else if (op >= 0x51 && op <= 0x5a) {
    binop(c, VM_OP_I64_EQ + (op - I64_BASE), VM_OP_I64_EQ_K + (op - I64_BASE), true);
  } else if (op >= 0x5b && op <= 0x60) {
    binop(c, VM_OP_F32_EQ + (op - 0x5b), -1, false);
  } else if (op >= 0x61 && op <= 0x66) {
    binop(c, VM_OP_F64_EQ + (op - 0x61), -1, false);
  } else if (op >= 0x67 && op <= 0x69) {
    unop(c, VM_OP_I32_CLZ + (op - 0x67));
  } else if (op >= 0x6a && op <= 0x78) {
    static const int16_t k32[15] = {
        VM_OP_I32_ADD_K, VM_OP_I32_SUB_K, VM_OP_I32_MUL_K, VM_OP_I32_DIV_S_K,
        VM_OP_I32_DIV_U_K, VM_OP_I32_REM_S_K, VM_OP_I32_REM_U_K,
        VM_OP_I32_AND_K, VM_OP_I32_OR_K, VM_OP_I32_XOR_K, VM_OP_I32_SHL_K,
        VM_OP_I32_SHR_S_K, VM_OP_I32_SHR_U_K, -1, -1};
    binop(c, VM_OP_I32_ADD + (op - 0x6a), k32[op - 0x6a], false);
  } else if (op >= 0x79 && op <= 0x7b) {
    unop(c, VM_OP_I64_CLZ + (op - 0x79));
  } else if (op >= 0x7c && op <= 0x8a) {
    static const int16_t k64[15] = {
        VM_OP_I64_ADD_K, VM_OP_I64_SUB_K, VM_OP_I64_MUL_K, VM_OP_I64_DIV_S_K,
        VM_OP_I64_DIV_U_K, VM_OP_I64_REM_S_K, VM_OP_I64_REM_U_K,
        VM_OP_I64_AND_K, VM_OP_I64_OR_K, VM_OP_I64_XOR_K, VM_OP_I64_SHL_K,
        VM_OP_I64_SHR_S_K, VM_OP_I64_SHR_U_K, -1, -1};
    binop(c, VM_OP_I64_ADD + (op - 0x7c), k64[op - 0x7c], true);
  } else if (op >= 0x8b && op <= 0x91) {
    unop(c, VM_OP_F32_ABS + (op - 0x8b));
  } else if (op >= 0x92 && op <= 0x98) {
    binop(c, VM_OP_F32_ADD + (op - 0x92), -1, false);
  } else if (op >= 0x99 && op <= 0x9f) {
    unop(c, VM_OP_F64_ABS + (op - 0x99));
  } else if (op >= 0xa0 && op <= 0xa6) {
    binop(c, VM_OP_F64_ADD + (op - 0xa0), -1, false);
  } else if (op == 0xa7 || (op >= 0xbc && op <= 0xbf)) {
    /* i32.wrap_i64 and the reinterprets keep the bits: nothing to emit */
    if (!need(c, 1)) return true;
  } else if (op >= 0xa8 && op <= 0xab) {
    unop(c, VM_OP_I32_TRUNC_F32_S + (op - 0xa8));
  } else if (op == 0xac || op == 0xad) {
    unop(c, VM_OP_I64_EXTEND_I32_S + (op - 0xac));
  } else if (op >= 0xae && op <= 0xb1) {
    unop(c, VM_OP_I64_TRUNC_F32_S + (op - 0xae));
  } else if (op >= 0xb2 && op <= 0xb5) {
    unop(c, VM_OP_F32_CONVERT_I32_S + (op - 0xb2));
  } else if (op == 0xb6) {
    unop(c, VM_OP_F32_DEMOTE_F64);
  } else if (op >= 0xb7 && op <= 0xba) {
    unop(c, VM_OP_F64_CONVERT_I32_S + (op - 0xb7));
  } else if (op == 0xbb) {
    unop(c, VM_OP_F64_PROMOTE_F32);
  } else if (op == 0xc0 || op == 0xc1) {
    unop(c, VM_OP_I32_EXTEND8_S + (op - 0xc0));
  } else if (op >= 0xc2 && op <= 0xc4) {
    unop(c, VM_OP_I64_EXTEND8_S + (op - 0xc2));
  } else {
    return false;
  }
  return true;
}

static bool compile_instr(comp *c, vm_reader *r, uint8_t op, bool *done) {
  uint32_t x, y, np, nr;
  int64_t s;
  cframe *f;
  c->fuel_n++;
  switch (op) {
  case 0x00:
    emit(c, VM_OP_UNREACHABLE, 0, 0, 0);
    set_unreachable(c);
    break;
  case 0x01:
    c->fuel_n--;
    break;
  case 0x02:
  case 0x03:
    if (!block_type(c, r, &np, &nr) || !need(c, np)) return false;
    materialize_range(c, 0, c->sh);
    f = push_ctl(c, op == 0x02 ? C_BLOCK : C_LOOP, np, nr);
    if (f && op == 0x03) {
      bind_label(c);
      f->outer_fuel_ins = c->fuel_ins;
      f->outer_fuel_n = c->fuel_n;
      start_fuel_region(c);
      f->loop_pc = (uint32_t)c->fuel_ins;
    }
    break;
  case 0x04: {
    if (!block_type(c, r, &np, &nr)) return false;
    pending_br p = cond_prepare(c);
    if (c->status || !need(c, np)) return false;
    materialize_range(c, 0, c->sh);
    size_t at = emit_pending(c, p, true);
    f = push_ctl(c, C_IF, np, nr);
    if (f && !c->status) {
      f->else_fix = (uint32_t)at + 1;
      c->code[at].a = 0;
    }
    break;
  }
  case 0x05:
    c->fuel_n--;
    do_else(c);
    break;
  case 0x0b:
    c->fuel_n--;
    if (!do_end(c)) *done = true;
    break;
  case 0x0c:
    RD_U32(x);
    f = label(c, x);
    if (f) emit_branch(c, f);
    set_unreachable(c);
    break;
  case 0x0d:
    RD_U32(x);
    do_br_if(c, x);
    break;
  case 0x0e:
    do_br_table(c, r);
    break;
  case 0x0f:
    emit_return(c);
    set_unreachable(c);
    break;
  case 0x10:
    RD_U32(x);
    do_call(c, x);
    break;
  case 0x11:
    RD_U32(x);
    RD_U32(y);
    do_call_indirect(c, x, y);
    break;
  case 0x1a:
    if (need(c, 1)) c->sh--;
    break;
  case 0x1b:
  case 0x1c: {
    if (op == 0x1c) {
      const uint8_t *b;
      RD_U32(x);
      if (!vm_read_bytes(r, x, &b)) return fail(c, PVM_ERR_MALFORMED, r->err);
    }
    uint32_t v1, v2, cond;
    if (!pop3(c, &v1, &v2, &cond)) return false;
    emit_def(c, VM_OP_SELECT, push_temp(c), v1, v2);
    emit(c, VM_OP_NOP, cond, 0, 0);
    break;
  }
  case 0x20:
    RD_U32(x);
    local_get(c, x);
    break;
  case 0x21:
  case 0x22:
    RD_U32(x);
    local_set(c, x, op == 0x22);
    break;
  case 0x23:
    RD_U32(x);
    if (x >= c->m->nglobal_imports + c->m->nglobals) return fail(c, PVM_ERR_INVALID, "unknown global");
    emit_def(c, VM_OP_GLOBAL_GET, push_temp(c), x, 0);
    break;
  case 0x24: {
    RD_U32(x);
    if (x >= c->m->nglobal_imports + c->m->nglobals) return fail(c, PVM_ERR_INVALID, "unknown global");
    uint32_t v = pop_use(c);
    emit(c, VM_OP_GLOBAL_SET, x, v, 0);
    break;
  }
  case 0x25: { /* table.get */
    RD_U32(x);
    uint32_t i = pop_use(c);
    if (c->status) return false;
    emit_def(c, VM_OP_TABLE_GET, push_temp(c), i, x);
    break;
  }
  case 0x26: { /* table.set */
    RD_U32(x);
    if (!need(c, 2)) return false;
    uint32_t v = use(c, c->sh - 1);
    uint32_t i = use(c, c->sh - 2);
    c->sh -= 2;
    emit(c, VM_OP_TABLE_SET, i, v, x);
    break;
  }
  case 0x28: return mem_op(c, r, VM_OP_LOAD32, false);
  case 0x29: return mem_op(c, r, VM_OP_LOAD64, false);
  case 0x2a: return mem_op(c, r, VM_OP_LOAD32, false);
  case 0x2b: return mem_op(c, r, VM_OP_LOAD64, false);
  case 0x2c: return mem_op(c, r, VM_OP_I32_LOAD8_S, false);
  case 0x2d: return mem_op(c, r, VM_OP_I32_LOAD8_U, false);
  case 0x2e: return mem_op(c, r, VM_OP_I32_LOAD16_S, false);
  case 0x2f: return mem_op(c, r, VM_OP_I32_LOAD16_U, false);
  case 0x30: return mem_op(c, r, VM_OP_I64_LOAD8_S, false);
  case 0x31: return mem_op(c, r, VM_OP_I64_LOAD8_U, false);
  case 0x32: return mem_op(c, r, VM_OP_I64_LOAD16_S, false);
  case 0x33: return mem_op(c, r, VM_OP_I64_LOAD16_U, false);
  case 0x34: return mem_op(c, r, VM_OP_I64_LOAD32_S, false);
  case 0x35: return mem_op(c, r, VM_OP_I64_LOAD32_U, false);
  case 0x36: return mem_op(c, r, VM_OP_STORE32, true);
  case 0x37: return mem_op(c, r, VM_OP_STORE64, true);
  case 0x38: return mem_op(c, r, VM_OP_STORE32, true);
  case 0x39: return mem_op(c, r, VM_OP_STORE64, true);
  case 0x3a: return mem_op(c, r, VM_OP_STORE8, true);
  case 0x3b: return mem_op(c, r, VM_OP_STORE16, true);
  case 0x3c: return mem_op(c, r, VM_OP_STORE8, true);
  case 0x3d: return mem_op(c, r, VM_OP_STORE16, true);
  case 0x3e: return mem_op(c, r, VM_OP_STORE32, true);
  case 0x3f: {
    uint8_t b;
    if (!vm_read_u8(r, &b)) return fail(c, PVM_ERR_MALFORMED, r->err);
    emit_def(c, VM_OP_MEMORY_SIZE, push_temp(c), 0, 0);
    break;
  }
  case 0x40: {
    uint8_t b;
    if (!vm_read_u8(r, &b)) return fail(c, PVM_ERR_MALFORMED, r->err);
    unop(c, VM_OP_MEMORY_GROW);
    break;
  }
  case 0x41: {
    int32_t v;
    if (!vm_read_s32(r, &v)) return fail(c, PVM_ERR_MALFORMED, r->err);
    push(c, (centry){E_CONST, 0, (uint32_t)v});
    break;
  }
  case 0x42:
    if (!vm_read_s64(r, &s)) return fail(c, PVM_ERR_MALFORMED, r->err);
    push(c, (centry){E_CONST, 0, (uint64_t)s});
    break;
  case 0x43: {
    uint32_t bits;
    if (!vm_read_f32(r, &bits)) return fail(c, PVM_ERR_MALFORMED, r->err);
    push(c, (centry){E_CONST, 0, bits});
    break;
  }
  case 0x44: {
    uint64_t bits;
    if (!vm_read_f64(r, &bits)) return fail(c, PVM_ERR_MALFORMED, r->err);
    push(c, (centry){E_CONST, 0, bits});
    break;
  }
  case 0xd0: {
    uint8_t t;
    if (!vm_read_u8(r, &t)) return fail(c, PVM_ERR_MALFORMED, r->err);
    push(c, (centry){E_CONST, 0, 0});
    break;
  }
  case 0xd1:
    unop(c, VM_OP_REF_IS_NULL);
    break;
  case 0xd2:
    RD_U32(x);
    if (x >= c->m->nfunc_imports + c->m->nfuncs) return fail(c, PVM_ERR_INVALID, "unknown function");
    emit_def(c, VM_OP_REF_FUNC, push_temp(c), x, 0);
    break;
  case 0xfc:
    return compile_fc(c, r);
  default:
    if (!compile_numeric(c, op)) return fail(c, PVM_ERR_MALFORMED, "illegal opcode");
    break;
  }
  return c->status == 0;
}

/* Skips an instruction of unreachable code; handles the else/end that ends it. */
static bool skip_instr(comp *c, vm_reader *r, uint8_t op, uint32_t *depth, bool *done) {
  if (op == 0x02 || op == 0x03 || op == 0x04) {
    (*depth)++;
  } else if (op == 0x0b) {
    if (*depth == 0) {
      if (!do_end(c)) *done = true;
      return c->status == 0;
    }
    (*depth)--;
  } else if (op == 0x05 && *depth == 0) {
    do_else(c);
    return c->status == 0;
  }
  return skip_imm(c, r, op);
}

static int compile_func(comp *c, uint32_t i, vm_code *out) {
  const vm_module *m = c->m;
  const vm_func *fn = &m->funcs[i];
  const vm_functype *ft = &m->types[fn->type];
  c->sh = c->max_h = 0;
  c->nctl = 0;
  c->base = ft->nparams + fn->nlocals;
  c->nlocals_total = c->base;
  c->last_def = NO_DEF;
  size_t start = c->ncode;
  start_fuel_region(c);
  push_ctl(c, C_FUNC, 0, ft->nresults);
  vm_reader r;
  vm_reader_init(&r, m->bytes, fn->code, fn->code + fn->code_len);
  bool done = false;
  uint32_t skip_depth = 0;
  while (!done && c->status == 0) {
    uint8_t op;
    if (!vm_read_u8(&r, &op)) {
      fail(c, PVM_ERR_MALFORMED, "unexpected end");
      break;
    }
    if (c->nctl && c->ctl[c->nctl - 1].unreachable)
      skip_instr(c, &r, op, &skip_depth, &done);
    else
      compile_instr(c, &r, op, &done);
  }
  if (c->status) return c->status;
  end_fuel_region(c);
  out->ins = (const vm_ins *)(uintptr_t)start; /* fixed up once the buffer is final */
  out->nparams = ft->nparams;
  out->nresults = ft->nresults;
  out->nlocals = fn->nlocals;
  uint32_t fs = c->base + c->max_h;
  if (fs < ft->nresults) fs = ft->nresults;
  if (fs < ft->nparams + 4) fs = ft->nparams + 4; /* room for zero_locals' 4 stores */
  out->frame_size = fs + 1;
  return 0;
}

int vm_compile(pvm_module *pm, pvm_error *err) {
  vm_module *m = &pm->m;
  comp c;
  memset(&c, 0, sizeof c);
  c.m = m;
  int rc = 0;
  pm->codes = calloc(m->nfuncs ? m->nfuncs : 1, sizeof *pm->codes);
  if (!pm->codes) return vm_error_set(err, PVM_ERR_NOMEM, -1, "out of memory");
  for (uint32_t i = 0; i < m->nfuncs && rc == 0; i++) {
    rc = compile_func(&c, i, &pm->codes[i]);
    if (rc) {
      vm_error_set(err, rc, (long)m->funcs[i].code_offset, "%s", c.msg ? c.msg : "compile error");
    }
  }
  free(c.st);
  free(c.ctl);
  if (rc) {
    free(c.code);
    return rc;
  }
  pm->code = c.code;
  pm->ncode = c.ncode;
  pm->max_frame = 0;
  for (uint32_t i = 0; i < m->nfuncs; i++) {
    pm->codes[i].ins = pm->code + (uintptr_t)pm->codes[i].ins;
    if (pm->codes[i].frame_size > pm->max_frame) pm->max_frame = pm->codes[i].frame_size;
  }
  return 0;
}
