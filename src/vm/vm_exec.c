/*
 * vm_exec.c: the interpreter for the internal form of vm_ops.h.
 *
 * One function, one flat list of short cases. Dispatch goes through DISPATCH()/CASE():
 * with GCC or clang, a computed-goto label table indexed by the op (threaded code: every
 * case ends with its own indirect jump); elsewhere, or with -DVM_USE_SWITCH, a switch.
 * wasm-to-wasm calls never recurse in C: return addresses go on the instance's frame
 * stack. Hot state lives in locals: pc, fp, the memory base and size, the fuel budget.
 *
 * A trap sets the root instance's trap kind and message and returns; nothing is unwound
 * by hand because the stacks are just reused from their bottom by the next pvm_call, so
 * the instance stays usable with whatever its memory, tables and globals hold.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vm_internal.h"

#if (defined(__GNUC__) || defined(__clang__)) && !defined(VM_USE_SWITCH)
#define VM_COMPUTED_GOTO 1
#else
#define VM_COMPUTED_GOTO 0
#endif

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- float helpers (exact wasm semantics) ------------------------------------------ */

static inline float f32_min(float a, float b) {
  if (a != a || b != b) return a + b; /* a NaN: propagate it (quieted) */
  if (a == 0 && b == 0) return signbit(a) ? a : b;
  return a < b ? a : b;
}
static inline float f32_max(float a, float b) {
  if (a != a || b != b) return a + b;
  if (a == 0 && b == 0) return signbit(a) ? b : a;
  return a > b ? a : b;
}
static inline double f64_min(double a, double b) {
  if (a != a || b != b) return a + b;
  if (a == 0 && b == 0) return signbit(a) ? a : b;
  return a < b ? a : b;
}
static inline double f64_max(double a, double b) {
  if (a != a || b != b) return a + b;
  if (a == 0 && b == 0) return signbit(a) ? b : a;
  return a > b ? a : b;
}

/* Rounding: libm may hand a signaling NaN back unchanged; wasm wants it quieted. */
#define ROUND_FN(name, type, fn)                                                         \
  static inline type name(type x) { return x != x ? x + x : fn(x); }
ROUND_FN(r_ceilf, float, ceilf)
ROUND_FN(r_floorf, float, floorf)
ROUND_FN(r_truncf, float, truncf)
ROUND_FN(r_nearestf, float, nearbyintf)
ROUND_FN(r_ceil, double, ceil)
ROUND_FN(r_floor, double, floor)
ROUND_FN(r_trunc, double, trunc)
ROUND_FN(r_nearest, double, nearbyint)

static inline uint32_t rotl32(uint32_t x, uint32_t n) {
  n &= 31;
  return n ? (x << n) | (x >> (32 - n)) : x;
}
static inline uint32_t rotr32(uint32_t x, uint32_t n) {
  n &= 31;
  return n ? (x >> n) | (x << (32 - n)) : x;
}
static inline uint64_t rotl64(uint64_t x, uint64_t n) {
  n &= 63;
  return n ? (x << n) | (x >> (64 - n)) : x;
}
static inline uint64_t rotr64(uint64_t x, uint64_t n) {
  n &= 63;
  return n ? (x >> n) | (x << (64 - n)) : x;
}

/* Saturating truncations: NaN -> 0, out of range -> the nearest bound. */
static inline uint32_t sat_s32(double x) {
  if (x != x) return 0;
  if (x <= -2147483649.0) return (uint32_t)INT32_MIN;
  if (x >= 2147483648.0) return (uint32_t)INT32_MAX;
  return (uint32_t)(int32_t)x;
}
static inline uint32_t sat_u32(double x) {
  if (x != x || x <= -1.0) return 0;
  if (x >= 4294967296.0) return UINT32_MAX;
  return (uint32_t)x;
}
static inline uint64_t sat_s64(double x) {
  if (x != x) return 0;
  if (x < -9223372036854775808.0) return (uint64_t)INT64_MIN;
  if (x >= 9223372036854775808.0) return (uint64_t)INT64_MAX;
  return (uint64_t)(int64_t)x;
}
static inline uint64_t sat_u64(double x) {
  if (x != x || x <= -1.0) return 0;
  if (x >= 18446744073709551616.0) return UINT64_MAX;
  return (uint64_t)x;
}

/* Declared locals start at zero. Frames always have 4 slots after the params (see
 * vm_code.frame_size), so the usual few locals are cleared by 4 plain stores: what lands
 * beyond the locals falls in the callee's own, still dead, operand slots. */
static inline void zero_locals(pvm_val *p, uint32_t n) {
  if (VM_LIKELY(n <= 4)) {
    p[0].i64 = p[1].i64 = p[2].i64 = p[3].i64 = 0;
    return;
  }
  memset(p, 0, (size_t)n * sizeof *p);
}

static const vm_ins vm_exit_ins = {VM_OP_EXIT, 0, 0, 0};

/* ---- the interpreter --------------------------------------------------------------- */

#define RA fp[pc->a]
#define RB fp[pc->b]
#define RC fp[pc->c]
#define KS32 ((int32_t)pc->c)
#define KS64 ((int64_t)(int32_t)pc->c)
#define KU64 ((uint64_t)(int64_t)(int32_t)pc->c)

#if VM_COMPUTED_GOTO
#define DISPATCH() goto *labels[pc->op]
#define CASE(name) L_##name:
#else
#define DISPATCH() goto dispatch
#define CASE(name) case VM_OP_##name:
#endif
#define NEXT()                                                                           \
  do {                                                                                  \
    pc++;                                                                               \
    DISPATCH();                                                                         \
  } while (0)
#define NEXT2()                                                                          \
  do {                                                                                  \
    pc += 2;                                                                            \
    DISPATCH();                                                                         \
  } while (0)
#define JUMP()                                                                           \
  do {                                                                                  \
    pc += (int32_t)pc->a;                                                               \
    DISPATCH();                                                                         \
  } while (0)
#define TRAP(kind)                                                                       \
  do {                                                                                  \
    trap = (kind);                                                                      \
    goto trapped;                                                                       \
  } while (0)
#define CHARGE(n)                                                                        \
  do {                                                                                  \
    budget -= (n);                                                                      \
    if (VM_UNLIKELY(budget < 0)) goto fuel_check;                                       \
  } while (0)
#define RELOAD_MEM()                                                                     \
  do {                                                                                  \
    pvm_memory *m_ = inst->mem;                                                         \
    mem = m_ ? m_->data : NULL;                                                         \
    msize = m_ ? m_->size : 0;                                                          \
  } while (0)

/* Effective address of an access of |n| bytes, or trap. */
#define EA(n)                                                                            \
  uint64_t ea = (uint64_t)RB.i32 + (uint64_t)pc->c;                                     \
  if (VM_UNLIKELY(ea + (n) > msize)) TRAP(PVM_TRAP_MEMORY_OOB)
#define EAS(n)                                                                           \
  uint64_t ea = (uint64_t)RA.i32 + (uint64_t)pc->c;                                     \
  if (VM_UNLIKELY(ea + (n) > msize)) TRAP(PVM_TRAP_MEMORY_OOB)

/* The _W forms: the address is R + K wrapped to 32 bits (a fused i32.add). */
#define EAW(n)                                                                           \
  uint64_t ea = (uint32_t)(RB.i32 + pc->c);                                             \
  if (VM_UNLIKELY(ea + (n) > msize)) TRAP(PVM_TRAP_MEMORY_OOB)
#define EASW(n)                                                                          \
  uint64_t ea = (uint32_t)(RA.i32 + pc->c);                                             \
  if (VM_UNLIKELY(ea + (n) > msize)) TRAP(PVM_TRAP_MEMORY_OOB)

#define BINOP32(name, expr)                                                              \
  CASE(name) {                                                                          \
    uint32_t x = RB.i32, y = RC.i32;                                                    \
    RA.i32 = (expr);                                                                    \
    NEXT();                                                                             \
  }
#define BINOP32K(name, expr)                                                             \
  CASE(name) {                                                                          \
    uint32_t x = RB.i32, y = pc->c;                                                     \
    RA.i32 = (expr);                                                                    \
    NEXT();                                                                             \
  }
#define BINOP64(name, expr)                                                              \
  CASE(name) {                                                                          \
    uint64_t x = RB.i64, y = RC.i64;                                                    \
    RA.i64 = (expr);                                                                    \
    NEXT();                                                                             \
  }
#define BINOP64K(name, expr)                                                             \
  CASE(name) {                                                                          \
    uint64_t x = RB.i64, y = KU64;                                                      \
    RA.i64 = (expr);                                                                    \
    NEXT();                                                                             \
  }
#define CMP64(name, expr)                                                                \
  CASE(name) {                                                                          \
    uint64_t x = RB.i64, y = RC.i64;                                                    \
    RA.i32 = (expr);                                                                    \
    NEXT();                                                                             \
  }
#define CMP64K(name, expr)                                                               \
  CASE(name) {                                                                          \
    uint64_t x = RB.i64, y = KU64;                                                      \
    RA.i32 = (expr);                                                                    \
    NEXT();                                                                             \
  }
#define BRCMP(name, expr)                                                                \
  CASE(name) {                                                                          \
    uint32_t x = RB.i32, y = RC.i32;                                                    \
    if (expr) JUMP();                                                                   \
    NEXT();                                                                             \
  }
#define BRCMPK(name, expr)                                                               \
  CASE(name) {                                                                          \
    uint32_t x = RB.i32, y = pc->c;                                                     \
    if (expr) JUMP();                                                                   \
    NEXT();                                                                             \
  }
/* A branch back to a loop header: charge its FUEL op here and run on after it. */
#define LOOP_JUMP()                                                                      \
  do {                                                                                  \
    pc += (int32_t)pc->a;                                                               \
    CHARGE(pc->a);                                                                      \
    NEXT();                                                                             \
  } while (0)
#define BRCMP_L(name, expr)                                                              \
  CASE(name) {                                                                          \
    uint32_t x = RB.i32, y = RC.i32;                                                    \
    if (expr) LOOP_JUMP();                                                              \
    NEXT();                                                                             \
  }
#define BRCMPK_L(name, expr)                                                             \
  CASE(name) {                                                                          \
    uint32_t x = RB.i32, y = pc->c;                                                     \
    if (expr) LOOP_JUMP();                                                              \
    NEXT();                                                                             \
  }
#define FUN32(name, expr)                                                                \
  CASE(name) {                                                                          \
    float x = RB.f32, y = RC.f32;                                                       \
    RA.f32 = (expr);                                                                    \
    NEXT();                                                                             \
  }
#define FUN64(name, expr)                                                                \
  CASE(name) {                                                                          \
    double x = RB.f64, y = RC.f64;                                                      \
    RA.f64 = (expr);                                                                    \
    NEXT();                                                                             \
  }
#define FCMP32(name, expr)                                                               \
  CASE(name) {                                                                          \
    float x = RB.f32, y = RC.f32;                                                       \
    RA.i32 = (expr);                                                                    \
    NEXT();                                                                             \
  }
#define FCMP64(name, expr)                                                               \
  CASE(name) {                                                                          \
    double x = RB.f64, y = RC.f64;                                                      \
    RA.i32 = (expr);                                                                    \
    NEXT();                                                                             \
  }
#define UNARY(name, field_out, type_in, field_in, expr)                                  \
  CASE(name) {                                                                          \
    type_in x = RB.field_in;                                                            \
    RA.field_out = (expr);                                                              \
    NEXT();                                                                             \
  }
#define S32(v) ((int32_t)(v))
#define S64(v) ((int64_t)(v))

int vm_exec(pvm_instance *root, const pvm_func *f, pvm_val *args) {
#if VM_COMPUTED_GOTO
#define VM_LABEL(name) &&L_##name,
  static const void *const labels[VM_OP_COUNT] = {VM_OPS(VM_LABEL)};
#undef VM_LABEL
#endif
  pvm_trap_kind trap = PVM_TRAP_NONE;
  const pvm_func *g = f;    /* callee of the call in progress */
  const vm_ins *ret = NULL; /* its return address */
  pvm_instance *inst = f->inst ? f->inst : root;
  pvm_val *fp = args, *nfp = args;
  pvm_val *const stack_end = root->stack_end;
  vm_frame *const frames = root->frames;
  vm_frame *const fr_end = frames + root->nframes;
  vm_frame *fr = frames + root->frame_top; /* next free frame (below: outer calls) */
  const vm_ins *pc = NULL;
  uint8_t *mem;
  uint64_t msize;

  /* Fuel left = budget + mark. The hot counter is budget alone: charging is a subtract
   * and a sign test; the slow path runs when it goes negative (out of fuel, or time to
   * read the clock when a deadline is set). */
  const int64_t fuel_start =
      root->limits.fuel >= (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)root->limits.fuel;
  int64_t budget = fuel_start, fuel_mark = 0;
  uint64_t deadline = 0;
  if (root->limits.timeout_ns) {
    deadline = now_ns() + root->limits.timeout_ns;
    fuel_mark = fuel_start > VM_CLOCK_EVERY ? fuel_start - VM_CLOCK_EVERY : 0;
    budget = fuel_start - fuel_mark;
  }
  RELOAD_MEM();

  if (!f->code) goto call_host_entry;
  if (VM_UNLIKELY(fp + f->code->frame_size > stack_end || fr == fr_end))
    TRAP(PVM_TRAP_STACK_EXHAUSTED);
  /* The bottom frame returns to EXIT, so RETURN needs no "is this the last frame" test. */
  *fr++ = (vm_frame){&vm_exit_ins, fp, inst};
  zero_locals(fp + f->code->nparams, f->code->nlocals);
  pc = f->code->ins;
  DISPATCH();

#if !VM_COMPUTED_GOTO
dispatch:
  switch (pc->op) {
#endif

  /* ---- control ---- */
  CASE(NOP) NEXT();
  CASE(UNREACHABLE) TRAP(PVM_TRAP_UNREACHABLE);
  CASE(FUEL) {
    CHARGE(pc->a);
    NEXT();
  }
fuel_check: { /* pc is at a FUEL op just charged */
  int64_t fuel = budget + fuel_mark;
  if (fuel < 0) TRAP(PVM_TRAP_OUT_OF_FUEL);
  if (deadline && now_ns() > deadline) TRAP(PVM_TRAP_DEADLINE);
  fuel_mark = deadline && fuel > VM_CLOCK_EVERY ? fuel - VM_CLOCK_EVERY : 0;
  budget = fuel - fuel_mark;
  NEXT();
}
  CASE(BR) JUMP();
  CASE(BR_IF) {
    if (RB.i32) JUMP();
    NEXT();
  }
  CASE(BR_UNLESS) {
    if (!RB.i32) JUMP();
    NEXT();
  }
  BRCMP(BR_EQ, x == y)
  BRCMP(BR_NE, x != y)
  BRCMP(BR_LT_S, S32(x) < S32(y))
  BRCMP(BR_LT_U, x < y)
  BRCMP(BR_GT_S, S32(x) > S32(y))
  BRCMP(BR_GT_U, x > y)
  BRCMP(BR_LE_S, S32(x) <= S32(y))
  BRCMP(BR_LE_U, x <= y)
  BRCMP(BR_GE_S, S32(x) >= S32(y))
  BRCMP(BR_GE_U, x >= y)
  BRCMPK(BR_EQ_K, x == y)
  BRCMPK(BR_NE_K, x != y)
  BRCMPK(BR_LT_S_K, S32(x) < S32(y))
  BRCMPK(BR_LT_U_K, x < y)
  BRCMPK(BR_GT_S_K, S32(x) > S32(y))
  BRCMPK(BR_GT_U_K, x > y)
  BRCMPK(BR_LE_S_K, S32(x) <= S32(y))
  BRCMPK(BR_LE_U_K, x <= y)
  BRCMPK(BR_GE_S_K, S32(x) >= S32(y))
  BRCMPK(BR_GE_U_K, x >= y)
  CASE(BR_L) LOOP_JUMP();
  CASE(BR_IF_L) {
    if (RB.i32) LOOP_JUMP();
    NEXT();
  }
  CASE(BR_UNLESS_L) {
    if (!RB.i32) LOOP_JUMP();
    NEXT();
  }
  BRCMP_L(BR_EQ_L, x == y)
  BRCMP_L(BR_NE_L, x != y)
  BRCMP_L(BR_LT_S_L, S32(x) < S32(y))
  BRCMP_L(BR_LT_U_L, x < y)
  BRCMP_L(BR_GT_S_L, S32(x) > S32(y))
  BRCMP_L(BR_GT_U_L, x > y)
  BRCMP_L(BR_LE_S_L, S32(x) <= S32(y))
  BRCMP_L(BR_LE_U_L, x <= y)
  BRCMP_L(BR_GE_S_L, S32(x) >= S32(y))
  BRCMP_L(BR_GE_U_L, x >= y)
  BRCMPK_L(BR_EQ_K_L, x == y)
  BRCMPK_L(BR_NE_K_L, x != y)
  BRCMPK_L(BR_LT_S_K_L, S32(x) < S32(y))
  BRCMPK_L(BR_LT_U_K_L, x < y)
  BRCMPK_L(BR_GT_S_K_L, S32(x) > S32(y))
  BRCMPK_L(BR_GT_U_K_L, x > y)
  BRCMPK_L(BR_LE_S_K_L, S32(x) <= S32(y))
  BRCMPK_L(BR_LE_U_K_L, x <= y)
  BRCMPK_L(BR_GE_S_K_L, S32(x) >= S32(y))
  BRCMPK_L(BR_GE_U_K_L, x >= y)
  CASE(BR_TABLE) {
    uint32_t i = RA.i32;
    if (i > pc->b) i = pc->b;
    pc += 1 + i;
    JUMP();
  }
  CASE(EXIT) goto done;
  CASE(RETURN) {
    fr--;
    pc = fr->ret_pc;
    fp = fr->fp;
    if (VM_UNLIKELY(fr->inst != inst)) {
      /* Within one instance memory.grow keeps mem/msize current; across instances the
       * caller's memory is reloaded (it may have grown meanwhile). */
      inst = fr->inst;
      RELOAD_MEM();
    }
    DISPATCH();
  }
  CASE(CALL) {
    const vm_code *code = &inst->codes[pc->a];
    nfp = fp + pc->b;
    ret = pc + 1;
    if (VM_UNLIKELY(fr == fr_end ||
                    nfp + code->frame_size > stack_end))
      TRAP(PVM_TRAP_STACK_EXHAUSTED);
    *fr++ = (vm_frame){ret, fp, inst};
    zero_locals(nfp + code->nparams, code->nlocals);
    fp = nfp;
    pc = code->ins; /* its FUEL op, charged here */
    CHARGE(pc->a);
    NEXT();
  }
  CASE(CALL_IMPORT) {
    g = inst->funcs[pc->a];
    nfp = fp + pc->b;
    ret = pc + 1;
    goto call_func;
  }
  CASE(CALL_INDIRECT) {
    const pvm_table *t = inst->tables[pc->c];
    uint32_t i = fp[pc[1].a].i32;
    if (VM_UNLIKELY(i >= t->size)) TRAP(PVM_TRAP_UNDEFINED_ELEMENT);
    g = t->elems[i];
    if (VM_UNLIKELY(!g)) TRAP(PVM_TRAP_UNINITIALIZED_ELEMENT);
    if (VM_UNLIKELY(!vm_functype_eq(&g->type, &inst->module->ftypes[pc->a])))
      TRAP(PVM_TRAP_INDIRECT_TYPE);
    nfp = fp + pc->b;
    ret = pc + 2;
    goto call_func;
  }

  /* ---- data movement ---- */
  CASE(COPY) {
    RA = RB;
    NEXT();
  }
  CASE(CONST32) {
    RA.i64 = pc->b;
    NEXT();
  }
  CASE(CONST64) {
    RA.i64 = (uint64_t)pc->b | (uint64_t)pc->c << 32;
    NEXT();
  }
  CASE(SELECT) {
    pvm_val v = fp[pc[1].a].i32 ? RB : RC;
    RA = v;
    NEXT2();
  }
  CASE(GLOBAL_GET) {
    RA = inst->globals[pc->b]->val;
    NEXT();
  }
  CASE(GLOBAL_SET) {
    inst->globals[pc->a]->val = RB;
    NEXT();
  }

  /* ---- memory ---- */
#define LOAD_CASES(name, n, type, field, conv)                                            \
  CASE(name) {                                                                          \
    EA(n);                                                                              \
    type v;                                                                             \
    memcpy(&v, mem + ea, n);                                                            \
    RA.field = conv(v);                                                                 \
    NEXT();                                                                             \
  }                                                                                     \
  CASE(name##_W) {                                                                      \
    EAW(n);                                                                             \
    type v;                                                                             \
    memcpy(&v, mem + ea, n);                                                            \
    RA.field = conv(v);                                                                 \
    NEXT();                                                                             \
  }
#define STORE_CASES(name, n, type, field)                                                \
  CASE(name) {                                                                          \
    EAS(n);                                                                             \
    type v = (type)RB.field;                                                            \
    memcpy(mem + ea, &v, n);                                                            \
    NEXT();                                                                             \
  }                                                                                     \
  CASE(name##_W) {                                                                      \
    EASW(n);                                                                            \
    type v = (type)RB.field;                                                            \
    memcpy(mem + ea, &v, n);                                                            \
    NEXT();                                                                             \
  }
#define STORE_K_CASES(name, n, type)                                                     \
  CASE(name##_K) {                                                                      \
    EAS(n);                                                                             \
    type v = (type)(int64_t)(int32_t)pc->b;                                             \
    memcpy(mem + ea, &v, n);                                                            \
    NEXT();                                                                             \
  }                                                                                     \
  CASE(name##_KW) {                                                                     \
    EASW(n);                                                                            \
    type v = (type)(int64_t)(int32_t)pc->b;                                             \
    memcpy(mem + ea, &v, n);                                                            \
    NEXT();                                                                             \
  }
  STORE_K_CASES(STORE8, 1, uint8_t)
  STORE_K_CASES(STORE16, 2, uint16_t)
  STORE_K_CASES(STORE32, 4, uint32_t)
  STORE_K_CASES(STORE64, 8, uint64_t)
#define AS_U32(v) ((uint32_t)(v))
#define AS_U64(v) ((uint64_t)(v))
#define SX32(v) ((uint32_t)(int32_t)(v))
#define SX64(v) ((uint64_t)(int64_t)(v))
  LOAD_CASES(LOAD32, 4, uint32_t, i32, AS_U32)
  LOAD_CASES(LOAD64, 8, uint64_t, i64, AS_U64)
  LOAD_CASES(I32_LOAD8_S, 1, int8_t, i32, SX32)
  LOAD_CASES(I32_LOAD8_U, 1, uint8_t, i32, AS_U32)
  LOAD_CASES(I32_LOAD16_S, 2, int16_t, i32, SX32)
  LOAD_CASES(I32_LOAD16_U, 2, uint16_t, i32, AS_U32)
  LOAD_CASES(I64_LOAD8_S, 1, int8_t, i64, SX64)
  LOAD_CASES(I64_LOAD8_U, 1, uint8_t, i64, AS_U64)
  LOAD_CASES(I64_LOAD16_S, 2, int16_t, i64, SX64)
  LOAD_CASES(I64_LOAD16_U, 2, uint16_t, i64, AS_U64)
  LOAD_CASES(I64_LOAD32_S, 4, int32_t, i64, SX64)
  LOAD_CASES(I64_LOAD32_U, 4, uint32_t, i64, AS_U64)
  STORE_CASES(STORE8, 1, uint8_t, i32)
  STORE_CASES(STORE16, 2, uint16_t, i32)
  STORE_CASES(STORE32, 4, uint32_t, i32)
  STORE_CASES(STORE64, 8, uint64_t, i64)
#define MEM_BINOP(name, n, type, field, expr)                                             \
  CASE(name##_M) {                                                                      \
    EA(n);                                                                              \
    type y;                                                                             \
    memcpy(&y, mem + ea, n);                                                            \
    type x = RA.field;                                                                  \
    RA.field = (expr);                                                                  \
    NEXT();                                                                             \
  }                                                                                     \
  CASE(name##_MW) {                                                                     \
    EAW(n);                                                                             \
    type y;                                                                             \
    memcpy(&y, mem + ea, n);                                                            \
    type x = RA.field;                                                                  \
    RA.field = (expr);                                                                  \
    NEXT();                                                                             \
  }
  MEM_BINOP(F64_ADD, 8, double, f64, x + y)
  MEM_BINOP(F64_SUB, 8, double, f64, x - y)
  MEM_BINOP(F64_MUL, 8, double, f64, x * y)
  MEM_BINOP(F32_ADD, 4, float, f32, x + y)
  MEM_BINOP(F32_SUB, 4, float, f32, x - y)
  MEM_BINOP(F32_MUL, 4, float, f32, x * y)
  MEM_BINOP(I32_ADD, 4, uint32_t, i32, x + y)
  MEM_BINOP(I64_ADD, 8, uint64_t, i64, x + y)
  CASE(MEMORY_SIZE) {
    RA.i32 = inst->mem ? inst->mem->pages : 0;
    NEXT();
  }
  CASE(MEMORY_GROW) {
    int64_t old = vm_memory_grow(inst->mem, RB.i32);
    RA.i32 = (uint32_t)old;
    RELOAD_MEM();
    NEXT();
  }
  CASE(MEMORY_FILL) {
    uint32_t d = RA.i32, v = RB.i32, n = RC.i32;
    if (VM_UNLIKELY((uint64_t)d + n > msize)) TRAP(PVM_TRAP_MEMORY_OOB);
    if (n) memset(mem + d, (int)(v & 0xff), n);
    NEXT();
  }
  CASE(MEMORY_COPY) {
    uint32_t d = RA.i32, s = RB.i32, n = RC.i32;
    if (VM_UNLIKELY((uint64_t)d + n > msize || (uint64_t)s + n > msize))
      TRAP(PVM_TRAP_MEMORY_OOB);
    if (n) memmove(mem + d, mem + s, n);
    NEXT();
  }
  CASE(MEMORY_INIT) {
    const vm_data_rt *seg = &inst->datas[pc[1].a];
    uint32_t d = RA.i32, s = RB.i32, n = RC.i32;
    if (VM_UNLIKELY((uint64_t)s + n > seg->len || (uint64_t)d + n > msize))
      TRAP(PVM_TRAP_MEMORY_OOB);
    if (n) memcpy(mem + d, seg->bytes + s, n);
    NEXT2();
  }
  CASE(DATA_DROP) {
    inst->datas[pc->a].len = 0;
    NEXT();
  }

  /* ---- tables and references ---- */
  CASE(TABLE_GET) {
    const pvm_table *t = inst->tables[pc->c];
    uint32_t i = RB.i32;
    if (VM_UNLIKELY(i >= t->size)) TRAP(PVM_TRAP_TABLE_OOB);
    RA.ref = t->elems[i];
    NEXT();
  }
  CASE(TABLE_SET) {
    pvm_table *t = inst->tables[pc->c];
    uint32_t i = RA.i32;
    if (VM_UNLIKELY(i >= t->size)) TRAP(PVM_TRAP_TABLE_OOB);
    t->elems[i] = RB.ref;
    NEXT();
  }
  CASE(TABLE_SIZE) {
    RA.i32 = inst->tables[pc->c]->size;
    NEXT();
  }
  CASE(TABLE_GROW) {
    pvm_table *t = inst->tables[pc->c];
    uint32_t n = fp[pc[1].a].i32;
    void *init = RB.ref;
    RA.i32 = (uint32_t)vm_table_grow(t, n, init, root->limits.max_table_elems);
    NEXT2();
  }
  CASE(TABLE_FILL) {
    pvm_table *t = inst->tables[pc[1].a];
    uint32_t i = RA.i32, n = RC.i32;
    void *v = RB.ref;
    if (VM_UNLIKELY((uint64_t)i + n > t->size)) TRAP(PVM_TRAP_TABLE_OOB);
    for (uint32_t k = 0; k < n; k++) t->elems[i + k] = v;
    NEXT2();
  }
  CASE(TABLE_COPY) {
    pvm_table *dt = inst->tables[pc[1].a];
    const pvm_table *st = inst->tables[pc[1].b];
    uint32_t d = RA.i32, s = RB.i32, n = RC.i32;
    if (VM_UNLIKELY((uint64_t)d + n > dt->size || (uint64_t)s + n > st->size))
      TRAP(PVM_TRAP_TABLE_OOB);
    if (n) memmove(dt->elems + d, st->elems + s, (size_t)n * sizeof(void *));
    NEXT2();
  }
  CASE(TABLE_INIT) {
    pvm_table *t = inst->tables[pc[1].a];
    const vm_elem_rt *e = &inst->elems[pc[1].b];
    uint32_t d = RA.i32, s = RB.i32, n = RC.i32;
    if (VM_UNLIKELY((uint64_t)d + n > t->size || (uint64_t)s + n > e->count))
      TRAP(PVM_TRAP_TABLE_OOB);
    if (n) memcpy(t->elems + d, e->items + s, (size_t)n * sizeof(void *));
    NEXT2();
  }
  CASE(ELEM_DROP) {
    inst->elems[pc->a].count = 0;
    NEXT();
  }
  CASE(REF_IS_NULL) {
    uint32_t v = RB.ref == NULL;
    RA.i32 = v;
    NEXT();
  }
  CASE(REF_FUNC) {
    RA.ref = inst->funcs[pc->b];
    NEXT();
  }

  /* ---- i32 ---- */
  UNARY(I32_EQZ, i32, uint32_t, i32, x == 0)
  UNARY(I32_CLZ, i32, uint32_t, i32, x ? (uint32_t)__builtin_clz(x) : 32)
  UNARY(I32_CTZ, i32, uint32_t, i32, x ? (uint32_t)__builtin_ctz(x) : 32)
  UNARY(I32_POPCNT, i32, uint32_t, i32, (uint32_t)__builtin_popcount(x))
  UNARY(I32_EXTEND8_S, i32, uint32_t, i32, (uint32_t)(int32_t)(int8_t)x)
  UNARY(I32_EXTEND16_S, i32, uint32_t, i32, (uint32_t)(int32_t)(int16_t)x)
  BINOP32(I32_ADD, x + y)
  BINOP32(I32_SUB, x - y)
  BINOP32(I32_MUL, x * y)
  CASE(I32_DIV_S) {
    uint32_t x = RB.i32, y = RC.i32;
    if (VM_UNLIKELY(y == 0)) TRAP(PVM_TRAP_DIV_ZERO);
    if (VM_UNLIKELY(x == 0x80000000u && y == 0xffffffffu)) TRAP(PVM_TRAP_INT_OVERFLOW);
    RA.i32 = (uint32_t)(S32(x) / S32(y));
    NEXT();
  }
  CASE(I32_DIV_U) {
    uint32_t x = RB.i32, y = RC.i32;
    if (VM_UNLIKELY(y == 0)) TRAP(PVM_TRAP_DIV_ZERO);
    RA.i32 = x / y;
    NEXT();
  }
  CASE(I32_REM_S) {
    uint32_t x = RB.i32, y = RC.i32;
    if (VM_UNLIKELY(y == 0)) TRAP(PVM_TRAP_DIV_ZERO);
    RA.i32 = y == 0xffffffffu ? 0 : (uint32_t)(S32(x) % S32(y));
    NEXT();
  }
  CASE(I32_REM_U) {
    uint32_t x = RB.i32, y = RC.i32;
    if (VM_UNLIKELY(y == 0)) TRAP(PVM_TRAP_DIV_ZERO);
    RA.i32 = x % y;
    NEXT();
  }
  BINOP32(I32_AND, x & y)
  BINOP32(I32_OR, x | y)
  BINOP32(I32_XOR, x ^ y)
  BINOP32(I32_SHL, x << (y & 31))
  BINOP32(I32_SHR_S, (uint32_t)(S32(x) >> (y & 31)))
  BINOP32(I32_SHR_U, x >> (y & 31))
  BINOP32(I32_ROTL, rotl32(x, y))
  BINOP32(I32_ROTR, rotr32(x, y))
  BINOP32(I32_EQ, x == y)
  BINOP32(I32_NE, x != y)
  BINOP32(I32_LT_S, S32(x) < S32(y))
  BINOP32(I32_LT_U, x < y)
  BINOP32(I32_GT_S, S32(x) > S32(y))
  BINOP32(I32_GT_U, x > y)
  BINOP32(I32_LE_S, S32(x) <= S32(y))
  BINOP32(I32_LE_U, x <= y)
  BINOP32(I32_GE_S, S32(x) >= S32(y))
  BINOP32(I32_GE_U, x >= y)
  BINOP32K(I32_ADD_K, x + y)
  BINOP32K(I32_SUB_K, x - y)
  BINOP32K(I32_MUL_K, x * y)
  BINOP32K(I32_AND_K, x & y)
  BINOP32K(I32_OR_K, x | y)
  BINOP32K(I32_XOR_K, x ^ y)
  BINOP32K(I32_SHL_K, x << (y & 31))
  BINOP32K(I32_SHR_S_K, (uint32_t)(S32(x) >> (y & 31)))
  BINOP32K(I32_SHR_U_K, x >> (y & 31))
  BINOP32K(I32_DIV_S_K, (uint32_t)(S32(x) / S32(y)))
  BINOP32K(I32_DIV_U_K, x / y)
  BINOP32K(I32_REM_S_K, (uint32_t)(S32(x) % S32(y)))
  BINOP32K(I32_REM_U_K, x % y)
  BINOP32K(I32_EQ_K, x == y)
  BINOP32K(I32_NE_K, x != y)
  BINOP32K(I32_LT_S_K, S32(x) < S32(y))
  BINOP32K(I32_LT_U_K, x < y)
  BINOP32K(I32_GT_S_K, S32(x) > S32(y))
  BINOP32K(I32_GT_U_K, x > y)
  BINOP32K(I32_LE_S_K, S32(x) <= S32(y))
  BINOP32K(I32_LE_U_K, x <= y)
  BINOP32K(I32_GE_S_K, S32(x) >= S32(y))
  BINOP32K(I32_GE_U_K, x >= y)

  /* ---- i64 ---- */
  CASE(I64_EQZ) {
    uint32_t v = RB.i64 == 0;
    RA.i32 = v;
    NEXT();
  }
  UNARY(I64_CLZ, i64, uint64_t, i64, x ? (uint64_t)__builtin_clzll(x) : 64)
  UNARY(I64_CTZ, i64, uint64_t, i64, x ? (uint64_t)__builtin_ctzll(x) : 64)
  UNARY(I64_POPCNT, i64, uint64_t, i64, (uint64_t)__builtin_popcountll(x))
  UNARY(I64_EXTEND8_S, i64, uint64_t, i64, (uint64_t)(int64_t)(int8_t)x)
  UNARY(I64_EXTEND16_S, i64, uint64_t, i64, (uint64_t)(int64_t)(int16_t)x)
  UNARY(I64_EXTEND32_S, i64, uint64_t, i64, (uint64_t)(int64_t)(int32_t)x)
  BINOP64(I64_ADD, x + y)
  BINOP64(I64_SUB, x - y)
  BINOP64(I64_MUL, x * y)
  CASE(I64_DIV_S) {
    uint64_t x = RB.i64, y = RC.i64;
    if (VM_UNLIKELY(y == 0)) TRAP(PVM_TRAP_DIV_ZERO);
    if (VM_UNLIKELY(x == 0x8000000000000000u && y == UINT64_MAX)) TRAP(PVM_TRAP_INT_OVERFLOW);
    RA.i64 = (uint64_t)(S64(x) / S64(y));
    NEXT();
  }
  CASE(I64_DIV_U) {
    uint64_t x = RB.i64, y = RC.i64;
    if (VM_UNLIKELY(y == 0)) TRAP(PVM_TRAP_DIV_ZERO);
    RA.i64 = x / y;
    NEXT();
  }
  CASE(I64_REM_S) {
    uint64_t x = RB.i64, y = RC.i64;
    if (VM_UNLIKELY(y == 0)) TRAP(PVM_TRAP_DIV_ZERO);
    RA.i64 = y == UINT64_MAX ? 0 : (uint64_t)(S64(x) % S64(y));
    NEXT();
  }
  CASE(I64_REM_U) {
    uint64_t x = RB.i64, y = RC.i64;
    if (VM_UNLIKELY(y == 0)) TRAP(PVM_TRAP_DIV_ZERO);
    RA.i64 = x % y;
    NEXT();
  }
  BINOP64(I64_AND, x & y)
  BINOP64(I64_OR, x | y)
  BINOP64(I64_XOR, x ^ y)
  BINOP64(I64_SHL, x << (y & 63))
  BINOP64(I64_SHR_S, (uint64_t)(S64(x) >> (y & 63)))
  BINOP64(I64_SHR_U, x >> (y & 63))
  BINOP64(I64_ROTL, rotl64(x, y))
  BINOP64(I64_ROTR, rotr64(x, y))
  CMP64(I64_EQ, x == y)
  CMP64(I64_NE, x != y)
  CMP64(I64_LT_S, S64(x) < S64(y))
  CMP64(I64_LT_U, x < y)
  CMP64(I64_GT_S, S64(x) > S64(y))
  CMP64(I64_GT_U, x > y)
  CMP64(I64_LE_S, S64(x) <= S64(y))
  CMP64(I64_LE_U, x <= y)
  CMP64(I64_GE_S, S64(x) >= S64(y))
  CMP64(I64_GE_U, x >= y)
  BINOP64K(I64_ADD_K, x + y)
  BINOP64K(I64_SUB_K, x - y)
  BINOP64K(I64_MUL_K, x * y)
  BINOP64K(I64_AND_K, x & y)
  BINOP64K(I64_OR_K, x | y)
  BINOP64K(I64_XOR_K, x ^ y)
  BINOP64K(I64_SHL_K, x << (y & 63))
  BINOP64K(I64_SHR_S_K, (uint64_t)(S64(x) >> (y & 63)))
  BINOP64K(I64_SHR_U_K, x >> (y & 63))
  BINOP64K(I64_DIV_S_K, (uint64_t)(S64(x) / S64(y)))
  BINOP64K(I64_DIV_U_K, x / y)
  BINOP64K(I64_REM_S_K, (uint64_t)(S64(x) % S64(y)))
  BINOP64K(I64_REM_U_K, x % y)
  CMP64K(I64_EQ_K, x == y)
  CMP64K(I64_NE_K, x != y)
  CMP64K(I64_LT_S_K, S64(x) < S64(y))
  CMP64K(I64_LT_U_K, x < y)
  CMP64K(I64_GT_S_K, S64(x) > S64(y))
  CMP64K(I64_GT_U_K, x > y)
  CMP64K(I64_LE_S_K, S64(x) <= S64(y))
  CMP64K(I64_LE_U_K, x <= y)
  CMP64K(I64_GE_S_K, S64(x) >= S64(y))
  CMP64K(I64_GE_U_K, x >= y)

  /* ---- f32 / f64 ---- */
  UNARY(F32_ABS, i32, uint32_t, i32, x & 0x7fffffffu)
  UNARY(F32_NEG, i32, uint32_t, i32, x ^ 0x80000000u)
  UNARY(F32_CEIL, f32, float, f32, r_ceilf(x))
  UNARY(F32_FLOOR, f32, float, f32, r_floorf(x))
  UNARY(F32_TRUNC, f32, float, f32, r_truncf(x))
  UNARY(F32_NEAREST, f32, float, f32, r_nearestf(x))
  UNARY(F32_SQRT, f32, float, f32, sqrtf(x))
  FUN32(F32_ADD, x + y)
  FUN32(F32_SUB, x - y)
  FUN32(F32_MUL, x * y)
  FUN32(F32_DIV, x / y)
  FUN32(F32_MIN, f32_min(x, y))
  FUN32(F32_MAX, f32_max(x, y))
  CASE(F32_COPYSIGN) {
    uint32_t v = (RB.i32 & 0x7fffffffu) | (RC.i32 & 0x80000000u);
    RA.i32 = v;
    NEXT();
  }
  FCMP32(F32_EQ, x == y)
  FCMP32(F32_NE, x != y)
  FCMP32(F32_LT, x < y)
  FCMP32(F32_GT, x > y)
  FCMP32(F32_LE, x <= y)
  FCMP32(F32_GE, x >= y)
  UNARY(F64_ABS, i64, uint64_t, i64, x & 0x7fffffffffffffffu)
  UNARY(F64_NEG, i64, uint64_t, i64, x ^ 0x8000000000000000u)
  UNARY(F64_CEIL, f64, double, f64, r_ceil(x))
  UNARY(F64_FLOOR, f64, double, f64, r_floor(x))
  UNARY(F64_TRUNC, f64, double, f64, r_trunc(x))
  UNARY(F64_NEAREST, f64, double, f64, r_nearest(x))
  UNARY(F64_SQRT, f64, double, f64, sqrt(x))
  FUN64(F64_ADD, x + y)
  FUN64(F64_SUB, x - y)
  FUN64(F64_MUL, x * y)
  FUN64(F64_DIV, x / y)
  FUN64(F64_MIN, f64_min(x, y))
  FUN64(F64_MAX, f64_max(x, y))
  CASE(F64_COPYSIGN) {
    uint64_t v = (RB.i64 & 0x7fffffffffffffffu) | (RC.i64 & 0x8000000000000000u);
    RA.i64 = v;
    NEXT();
  }
  FCMP64(F64_EQ, x == y)
  FCMP64(F64_NE, x != y)
  FCMP64(F64_LT, x < y)
  FCMP64(F64_GT, x > y)
  FCMP64(F64_LE, x <= y)
  FCMP64(F64_GE, x >= y)

  /* ---- conversions ---- */
  CASE(I32_TRUNC_F32_S) {
    float x = RB.f32;
    if (VM_UNLIKELY(x != x)) TRAP(PVM_TRAP_INVALID_CONVERSION);
    if (VM_UNLIKELY(!(x >= -2147483648.0f && x < 2147483648.0f))) TRAP(PVM_TRAP_INT_OVERFLOW);
    RA.i32 = (uint32_t)(int32_t)x;
    NEXT();
  }
  CASE(I32_TRUNC_F32_U) {
    float x = RB.f32;
    if (VM_UNLIKELY(x != x)) TRAP(PVM_TRAP_INVALID_CONVERSION);
    if (VM_UNLIKELY(!(x > -1.0f && x < 4294967296.0f))) TRAP(PVM_TRAP_INT_OVERFLOW);
    RA.i32 = (uint32_t)x;
    NEXT();
  }
  CASE(I32_TRUNC_F64_S) {
    double x = RB.f64;
    if (VM_UNLIKELY(x != x)) TRAP(PVM_TRAP_INVALID_CONVERSION);
    if (VM_UNLIKELY(!(x > -2147483649.0 && x < 2147483648.0))) TRAP(PVM_TRAP_INT_OVERFLOW);
    RA.i32 = (uint32_t)(int32_t)x;
    NEXT();
  }
  CASE(I32_TRUNC_F64_U) {
    double x = RB.f64;
    if (VM_UNLIKELY(x != x)) TRAP(PVM_TRAP_INVALID_CONVERSION);
    if (VM_UNLIKELY(!(x > -1.0 && x < 4294967296.0))) TRAP(PVM_TRAP_INT_OVERFLOW);
    RA.i32 = (uint32_t)x;
    NEXT();
  }
  CASE(I64_TRUNC_F32_S) {
    float x = RB.f32;
    if (VM_UNLIKELY(x != x)) TRAP(PVM_TRAP_INVALID_CONVERSION);
    if (VM_UNLIKELY(!(x >= -9223372036854775808.0f && x < 9223372036854775808.0f)))
      TRAP(PVM_TRAP_INT_OVERFLOW);
    RA.i64 = (uint64_t)(int64_t)x;
    NEXT();
  }
  CASE(I64_TRUNC_F32_U) {
    float x = RB.f32;
    if (VM_UNLIKELY(x != x)) TRAP(PVM_TRAP_INVALID_CONVERSION);
    if (VM_UNLIKELY(!(x > -1.0f && x < 18446744073709551616.0f))) TRAP(PVM_TRAP_INT_OVERFLOW);
    RA.i64 = (uint64_t)x;
    NEXT();
  }
  CASE(I64_TRUNC_F64_S) {
    double x = RB.f64;
    if (VM_UNLIKELY(x != x)) TRAP(PVM_TRAP_INVALID_CONVERSION);
    if (VM_UNLIKELY(!(x >= -9223372036854775808.0 && x < 9223372036854775808.0)))
      TRAP(PVM_TRAP_INT_OVERFLOW);
    RA.i64 = (uint64_t)(int64_t)x;
    NEXT();
  }
  CASE(I64_TRUNC_F64_U) {
    double x = RB.f64;
    if (VM_UNLIKELY(x != x)) TRAP(PVM_TRAP_INVALID_CONVERSION);
    if (VM_UNLIKELY(!(x > -1.0 && x < 18446744073709551616.0))) TRAP(PVM_TRAP_INT_OVERFLOW);
    RA.i64 = (uint64_t)x;
    NEXT();
  }
  UNARY(I32_TRUNC_SAT_F32_S, i32, float, f32, sat_s32(x))
  UNARY(I32_TRUNC_SAT_F32_U, i32, float, f32, sat_u32(x))
  UNARY(I32_TRUNC_SAT_F64_S, i32, double, f64, sat_s32(x))
  UNARY(I32_TRUNC_SAT_F64_U, i32, double, f64, sat_u32(x))
  UNARY(I64_TRUNC_SAT_F32_S, i64, float, f32, sat_s64(x))
  UNARY(I64_TRUNC_SAT_F32_U, i64, float, f32, sat_u64(x))
  UNARY(I64_TRUNC_SAT_F64_S, i64, double, f64, sat_s64(x))
  UNARY(I64_TRUNC_SAT_F64_U, i64, double, f64, sat_u64(x))
  UNARY(I64_EXTEND_I32_S, i64, uint32_t, i32, (uint64_t)(int64_t)(int32_t)x)
  UNARY(I64_EXTEND_I32_U, i64, uint32_t, i32, (uint64_t)x)
  UNARY(F32_CONVERT_I32_S, f32, uint32_t, i32, (float)S32(x))
  UNARY(F32_CONVERT_I32_U, f32, uint32_t, i32, (float)x)
  UNARY(F32_CONVERT_I64_S, f32, uint64_t, i64, (float)S64(x))
  UNARY(F32_CONVERT_I64_U, f32, uint64_t, i64, (float)x)
  UNARY(F64_CONVERT_I32_S, f64, uint32_t, i32, (double)S32(x))
  UNARY(F64_CONVERT_I32_U, f64, uint32_t, i32, (double)x)
  UNARY(F64_CONVERT_I64_S, f64, uint64_t, i64, (double)S64(x))
  UNARY(F64_CONVERT_I64_U, f64, uint64_t, i64, (double)x)
  UNARY(F32_DEMOTE_F64, f32, double, f64, (float)x)
  UNARY(F64_PROMOTE_F32, f64, float, f32, (double)x)

#if !VM_COMPUTED_GOTO
  default:
    TRAP(PVM_TRAP_UNREACHABLE);
  }
#endif

  /* ---- calls through a pvm_func (imports, call_indirect) ---- */
call_func:
  if (g->code) {
    const vm_code *code = g->code;
    if (VM_UNLIKELY(fr == fr_end ||
                    nfp + code->frame_size > stack_end))
      TRAP(PVM_TRAP_STACK_EXHAUSTED);
    *fr++ = (vm_frame){ret, fp, inst};
    zero_locals(nfp + code->nparams, code->nlocals);
    fp = nfp;
    if (g->inst != inst) {
      inst = g->inst;
      RELOAD_MEM();
    }
    pc = code->ins;
    CHARGE(pc->a);
    NEXT();
  }
  {
    /* Host function: arguments stay in place, results are written above them and then
     * moved down (the host may read every argument after writing a result). */
    uint32_t np = g->type.nparams, nr = g->type.nresults;
    pvm_val *res = nfp + np;
    if (VM_UNLIKELY(res + nr > stack_end)) TRAP(PVM_TRAP_STACK_EXHAUSTED);
    pvm_val *saved_top = root->stack_top;
    uint32_t saved_frames = root->frame_top;
    root->stack_top = res + nr;
    root->frame_top = (uint32_t)(fr - frames);
    pvm_call_ctx ctx = {inst, root, false};
    int rc = g->host(&ctx, nfp, res, g->user_data);
    root->stack_top = saved_top;
    root->frame_top = saved_frames;
    if (rc != 0) {
      if (!ctx.has_msg) snprintf(root->trap_msg, sizeof root->trap_msg, "host function failed");
      root->trap = PVM_TRAP_HOST;
      goto unwind;
    }
    /* Down by np slots (dst below src: a forward copy is safe); usually one value, so
     * no memmove call. */
    for (uint32_t i = 0; i < nr; i++) nfp[i] = res[i];
    RELOAD_MEM();
    if (!pc) goto done; /* the entry function itself was a host function */
    pc = ret;
    DISPATCH();
  }

call_host_entry:
  nfp = args;
  goto call_func;

trapped:
  root->trap = trap;
  snprintf(root->trap_msg, sizeof root->trap_msg, "%s", pvm_trap_message(trap));
unwind: {
  int64_t used = fuel_start - (budget + fuel_mark);
  if (used > fuel_start) used = fuel_start;
  root->fuel_used = (uint64_t)used;
  return PVM_ERR_TRAP;
}
done: {
  root->fuel_used = (uint64_t)(fuel_start - (budget + fuel_mark));
  return 0;
}
}
