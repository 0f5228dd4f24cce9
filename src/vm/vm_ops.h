/*
 * vm_ops.h: the internal instruction format the compiler (vm_compile.c) produces and the
 * interpreter (vm_exec.c) runs. Internal to src/vm.
 *
 * Format
 *   Every instruction is one 16-byte word of four 32-bit fields:
 *
 *     31            0 31            0 31            0 31            0
 *     +--------------+---------------+---------------+---------------+
 *     |      op      |       A       |       B       |       C       |
 *     +--------------+---------------+---------------+---------------+
 *
 *   op is an index in the VM_OPS list below (the interpreter jumps through a label table
 *   indexed by it). A few ops use one extension word after them (written "X.a", "X.b"):
 *   the interpreter skips it.
 *
 * Operands
 *   R[n]   frame slot n: an 8-byte pvm_val at fp + n. A function's frame is
 *          [params | declared locals | operand stack]: the wasm operand stack at height h
 *          lives in slot nparams + nlocals + h, so every value has a fixed slot and no op
 *          pushes or pops. local.get/const are folded away (their slot or an immediate is
 *          used directly as an operand), local.set usually becomes the destination of the
 *          op that computed the value.
 *   K      an immediate in the field itself (K32: the 32-bit field; I32 ops take it as
 *          int32, I64 ops sign-extend it).
 *   off    a branch offset: signed number of instructions relative to the instruction (or
 *          br_table entry) holding it: pc += (int32)A.
 *   Values: i32 in the low 4 bytes of a slot (upper bytes unspecified), i64 in all 8,
 *   f32/f64 as bit patterns (never converted: NaN payloads survive copies), references as
 *   pointers (funcref = pvm_func*, externref = host pointer, NULL = ref.null).
 *
 * Calls
 *   The caller places the arguments in consecutive slots R[B]..; the callee frame starts
 *   there (fp' = fp + B), so arguments are the callee's first locals and its results come
 *   back in the same slots. Return addresses live on an explicit frame stack (never the C
 *   stack): depth beyond the limit traps "call stack exhausted", as does a frame that would
 *   not fit the value stack.
 *
 * Memory accesses (bounds-checked in software, overflow-safe)
 *   ea = (uint64_t)R[B].i32 + (uint64_t)C; trap "out of bounds memory access" unless
 *   ea + N <= memory size in bytes (N = access width). Computed in 64 bits so no 32-bit
 *   wrap-around can pass the check. The _W forms (an `i32.add K` fused into an access
 *   with offset 0) compute ea = (uint32_t)(R[B].i32 + K) first, wrapping exactly as the
 *   add would, then check the same way. Bulk ops check (uint64_t)start + len <= size for
 *   every range before touching anything. Loads and stores go through memcpy (no
 *   misaligned access UB); wasm memory is little-endian like every host we build for.
 *
 * Fuel and deadline
 *   FUEL n charges the n wasm instructions (nop, else and end excluded) of the segment
 *   it starts. Regions are the function body and each loop body (nested loops are regions
 *   of their own); a region is split into segments at labels reached by forward branches
 *   (else, the end of a block or if that is branched to) unless the segment so far is at
 *   most VM_FUEL_SLACK (8) instructions long. A segment is charged once on entry, so a
 *   branch leaving it early over-charges by what it skips (at most 8 before a split
 *   label; an untaken then-arm is charged with the if) and a branch landing on an
 *   unsplit label from before the segment's start skips that short charge. The count is
 *   deterministic and close to the instructions executed; every loop iteration and call
 *   charges at least 1, so a budget always stops execution. Forward branches and straight
 *   code cost nothing; function entries, loop back-edges and split labels pay. When the
 *   remaining budget drops below the check mark the slow path runs: out of fuel -> trap;
 *   if a deadline is set the clock is read there (the mark is spaced so the clock is
 *   read about every VM_CLOCK_EVERY units). Branches back to a loop (_L forms) and calls
 *   charge the target's FUEL op themselves and continue after it (one dispatch less).
 *
 * Notes
 *   - Ops read all their operands before writing R[A]: the compiler relies on it when it
 *     makes an op write a local that is also one of its operands.
 *   - A trap just returns from the interpreter: memory, tables and globals keep what was
 *     written before it; the stacks are reset by the next pvm_call (the instance stays
 *     usable).
 *   - Integer ops compute in uint32_t/uint64_t (no signed overflow); signed division and
 *     shifts cast with the checks above them; float to int conversions are range-checked
 *     before the cast (no UB).
 */
#ifndef PLUGINOP_VM_OPS_H
#define PLUGINOP_VM_OPS_H

#include <stdint.h>

typedef struct vm_ins {
  uint32_t op, a, b, c;
} vm_ins;

/* Fuel units between two clock readings when a deadline is set. */
#define VM_CLOCK_EVERY 4096

/* The ops. X(name) -- operands: semantics. Keep one line per op. */
#define VM_OPS(X)                                                                        \
  /* control */                                                                         \
  X(NOP)              /*                     nothing                                  */ \
  X(UNREACHABLE)      /*                     trap "unreachable"                       */ \
  X(FUEL)             /* A=n                 fuel -= n; slow path if below the mark   */ \
  X(BR)               /* A=off               pc += off                                */ \
  X(BR_IF)            /* A=off B             if R[B].i32 != 0: pc += off              */ \
  X(BR_UNLESS)        /* A=off B             if R[B].i32 == 0: pc += off              */ \
  X(BR_EQ)            /* A=off B C           if R[B].i32 == R[C].i32: pc += off       */ \
  X(BR_NE)            /* A=off B C           if R[B].i32 != R[C].i32: pc += off       */ \
  X(BR_LT_S)          /* A=off B C           if R[B].s32 <  R[C].s32: pc += off       */ \
  X(BR_LT_U)          /* A=off B C           if R[B].u32 <  R[C].u32: pc += off       */ \
  X(BR_GT_S)          /* A=off B C           if R[B].s32 >  R[C].s32: pc += off       */ \
  X(BR_GT_U)          /* A=off B C           if R[B].u32 >  R[C].u32: pc += off       */ \
  X(BR_LE_S)          /* A=off B C           if R[B].s32 <= R[C].s32: pc += off       */ \
  X(BR_LE_U)          /* A=off B C           if R[B].u32 <= R[C].u32: pc += off       */ \
  X(BR_GE_S)          /* A=off B C           if R[B].s32 >= R[C].s32: pc += off       */ \
  X(BR_GE_U)          /* A=off B C           if R[B].u32 >= R[C].u32: pc += off       */ \
  X(BR_EQ_K)          /* A=off B K32         if R[B].i32 == K: pc += off              */ \
  X(BR_NE_K)          /* A=off B K32         if R[B].i32 != K: pc += off              */ \
  X(BR_LT_S_K)        /* A=off B K32         if R[B].s32 <  K: pc += off              */ \
  X(BR_LT_U_K)        /* A=off B K32         if R[B].u32 <  K: pc += off              */ \
  X(BR_GT_S_K)        /* A=off B K32         if R[B].s32 >  K: pc += off              */ \
  X(BR_GT_U_K)        /* A=off B K32         if R[B].u32 >  K: pc += off              */ \
  X(BR_LE_S_K)        /* A=off B K32         if R[B].s32 <= K: pc += off              */ \
  X(BR_LE_U_K)        /* A=off B K32         if R[B].u32 <= K: pc += off              */ \
  X(BR_GE_S_K)        /* A=off B K32         if R[B].s32 >= K: pc += off              */ \
  X(BR_GE_U_K)        /* A=off B K32         if R[B].u32 >= K: pc += off              */ \
  /* _L: the same 23 branches (BR .. BR_GE_U_K, same order) when they go back to a loop \
     header: they charge the header's FUEL op themselves and continue after it.       */ \
  X(BR_L) X(BR_IF_L) X(BR_UNLESS_L)                                                      \
  X(BR_EQ_L) X(BR_NE_L) X(BR_LT_S_L) X(BR_LT_U_L) X(BR_GT_S_L) X(BR_GT_U_L)              \
  X(BR_LE_S_L) X(BR_LE_U_L) X(BR_GE_S_L) X(BR_GE_U_L)                                    \
  X(BR_EQ_K_L) X(BR_NE_K_L) X(BR_LT_S_K_L) X(BR_LT_U_K_L) X(BR_GT_S_K_L) X(BR_GT_U_K_L)  \
  X(BR_LE_S_K_L) X(BR_LE_U_K_L) X(BR_GE_S_K_L) X(BR_GE_U_K_L)                            \
  X(BR_TABLE)         /* A B=n               i = min(R[A].u32, n); pc = &entry[i] +    */ \
                      /*                     entry[i].a; n+1 entry words follow       */ \
  X(RETURN)           /*                     pop frame (results already in R[0..])   */ \
  X(EXIT)             /*                     leave the interpreter: the return address */ \
                      /*                     of the bottom frame vm_exec pushes       */ \
  X(CALL)             /* A=func B=base       call defined function A, fp' = fp + B;  */ \
                      /*                     charges its entry FUEL op, runs after it */ \
  X(CALL_IMPORT)      /* A=func B=base       call funcs[A] (host or other instance)  */ \
  X(CALL_INDIRECT)    /* A=type B=base C=tbl X.a=idx slot: f = tables[C][R[X.a]],    */ \
                      /*                     check type, call f with fp' = fp + B     */ \
  /* data movement */                                                                   \
  X(COPY)             /* A B                 R[A] = R[B] (8 bytes, by bits)           */ \
  X(CONST32)          /* A K32               R[A].u64 = K                              */ \
  X(CONST64)          /* A B=lo C=hi         R[A].u64 = B | C << 32                    */ \
  X(SELECT)           /* A B C X.a           R[A] = R[X.a].i32 ? R[B] : R[C]           */ \
  X(GLOBAL_GET)       /* A B=g               R[A] = globals[B]->val                    */ \
  X(GLOBAL_SET)       /* A=g B               globals[A]->val = R[B]                    */ \
  /* memory: A=dst B=addr C=offset (loads); A=addr B=value C=offset (stores) */         \
  X(LOAD32)           /* A B C               R[A].u32 = mem32[ea] (i32 and f32)       */ \
  X(LOAD64)           /* A B C               R[A].u64 = mem64[ea] (i64 and f64)       */ \
  X(I32_LOAD8_S)      /* A B C               R[A].i32 = (int8)mem8[ea]                */ \
  X(I32_LOAD8_U)      /* A B C               R[A].i32 = mem8[ea]                      */ \
  X(I32_LOAD16_S)     /* A B C               R[A].i32 = (int16)mem16[ea]              */ \
  X(I32_LOAD16_U)     /* A B C               R[A].i32 = mem16[ea]                     */ \
  X(I64_LOAD8_S)      /* A B C               R[A].i64 = (int8)mem8[ea]                */ \
  X(I64_LOAD8_U)      /* A B C               R[A].i64 = mem8[ea]                      */ \
  X(I64_LOAD16_S)     /* A B C               R[A].i64 = (int16)mem16[ea]              */ \
  X(I64_LOAD16_U)     /* A B C               R[A].i64 = mem16[ea]                     */ \
  X(I64_LOAD32_S)     /* A B C               R[A].i64 = (int32)mem32[ea]              */ \
  X(I64_LOAD32_U)     /* A B C               R[A].i64 = mem32[ea]                     */ \
  X(STORE8)           /* A B C               mem8[ea] = R[B] (low byte)               */ \
  X(STORE16)          /* A B C               mem16[ea] = R[B] (low 2 bytes)           */ \
  X(STORE32)          /* A B C               mem32[ea] = R[B] (low 4 bytes)           */ \
  X(STORE64)          /* A B C               mem64[ea] = R[B]                         */ \
  /* _W: the same 16 accesses, fused with the i32.add of a constant before them (offset  \
     0): C is that constant and ea = (uint32)(R[B or A].i32 + C), wrapping as i32.add. */ \
  X(LOAD32_W) X(LOAD64_W) X(I32_LOAD8_S_W) X(I32_LOAD8_U_W) X(I32_LOAD16_S_W)           \
  X(I32_LOAD16_U_W) X(I64_LOAD8_S_W) X(I64_LOAD8_U_W) X(I64_LOAD16_S_W)                 \
  X(I64_LOAD16_U_W) X(I64_LOAD32_S_W) X(I64_LOAD32_U_W)                                 \
  X(STORE8_W) X(STORE16_W) X(STORE32_W) X(STORE64_W)                                    \
  /* _K: stores of a constant: A=addr B=K32 C=offset (STORE64_K sign-extends K);        \
     _KW: A=addr B=K32 C=added constant, ea = (uint32)(R[A].i32 + C).                  */ \
  X(STORE8_K) X(STORE16_K) X(STORE32_K) X(STORE64_K)                                    \
  X(STORE8_KW) X(STORE16_KW) X(STORE32_KW) X(STORE64_KW)                                \
  /* _M: a binary op whose right operand is the value just loaded (the load fused in):  \
     A=dst=left operand, B C as for the load: R[A] = R[A] op memN[B + C];               \
     _MW: the load was a _W form, ea = (uint32)(R[B].i32 + C).                          */ \
  X(F64_ADD_M) X(F64_SUB_M) X(F64_MUL_M) X(F32_ADD_M) X(F32_SUB_M) X(F32_MUL_M)          \
  X(I32_ADD_M) X(I64_ADD_M)                                                              \
  X(F64_ADD_MW) X(F64_SUB_MW) X(F64_MUL_MW) X(F32_ADD_MW) X(F32_SUB_MW) X(F32_MUL_MW)    \
  X(I32_ADD_MW) X(I64_ADD_MW)                                                            \
  X(MEMORY_SIZE)      /* A                   R[A].i32 = pages                         */ \
  X(MEMORY_GROW)      /* A B                 R[A].i32 = grow(R[B].u32) or -1          */ \
  X(MEMORY_FILL)      /* A B C               fill(dst R[A], byte R[B], len R[C])      */ \
  X(MEMORY_COPY)      /* A B C               memmove(dst R[A], src R[B], len R[C])    */ \
  X(MEMORY_INIT)      /* A B C X.a=seg       copy data[X.a][R[B]..+R[C]] to R[A]      */ \
  X(DATA_DROP)        /* A=seg               data[A] becomes empty                    */ \
  /* tables and references */                                                           \
  X(TABLE_GET)        /* A B C=t             R[A].ref = tables[C][R[B]]               */ \
  X(TABLE_SET)        /* A B C=t             tables[C][R[A]] = R[B].ref               */ \
  X(TABLE_SIZE)       /* A C=t               R[A].i32 = size(tables[C])               */ \
  X(TABLE_GROW)       /* A B C=t X.a         R[A].i32 = grow(tables[C], R[X.a], R[B])  */ \
  X(TABLE_FILL)       /* A B C X.a=t         fill tables[X.a][R[A]..+R[C]] = R[B]     */ \
  X(TABLE_COPY)       /* A B C X.a X.b       tables[X.a][R[A]..] = tables[X.b][R[B]..] */ \
  X(TABLE_INIT)       /* A B C X.a=t X.b=e   tables[X.a][R[A]..] = elem[X.b][R[B]..]  */ \
  X(ELEM_DROP)        /* A=seg               elem[A] becomes empty                    */ \
  X(REF_IS_NULL)      /* A B                 R[A].i32 = R[B].ref == NULL              */ \
  X(REF_FUNC)         /* A B=func            R[A].ref = funcs[B]                      */ \
  /* i32 (A=dst B=lhs C=rhs; _K: C is an immediate) */                                  \
  X(I32_EQZ) X(I32_CLZ) X(I32_CTZ) X(I32_POPCNT) /* A B   R[A].i32 = op(R[B].i32) */      \
  X(I32_EXTEND8_S) X(I32_EXTEND16_S)             /* A B   sign-extend low bits   */      \
  X(I32_ADD) X(I32_SUB) X(I32_MUL)               /* A B C R[A] = R[B] op R[C] (wraps) */ \
  X(I32_DIV_S) X(I32_DIV_U) X(I32_REM_S) X(I32_REM_U) /* traps: zero, INT_MIN/-1 */       \
  X(I32_AND) X(I32_OR) X(I32_XOR)                                                        \
  X(I32_SHL) X(I32_SHR_S) X(I32_SHR_U) X(I32_ROTL) X(I32_ROTR) /* count mod 32 */        \
  X(I32_EQ) X(I32_NE) X(I32_LT_S) X(I32_LT_U) X(I32_GT_S) X(I32_GT_U)                    \
  X(I32_LE_S) X(I32_LE_U) X(I32_GE_S) X(I32_GE_U)   /* A B C R[A].i32 = R[B] cmp R[C] */ \
  X(I32_ADD_K) X(I32_SUB_K) X(I32_MUL_K) X(I32_AND_K) X(I32_OR_K) X(I32_XOR_K)           \
  X(I32_SHL_K) X(I32_SHR_S_K) X(I32_SHR_U_K)         /* A B K R[A] = R[B] op K        */ \
  X(I32_DIV_S_K) X(I32_DIV_U_K) X(I32_REM_S_K) X(I32_REM_U_K) /* K != 0, != -1: no trap */ \
  X(I32_EQ_K) X(I32_NE_K) X(I32_LT_S_K) X(I32_LT_U_K) X(I32_GT_S_K) X(I32_GT_U_K)        \
  X(I32_LE_S_K) X(I32_LE_U_K) X(I32_GE_S_K) X(I32_GE_U_K) /* A B K R[A].i32 = R[B] cmp K */ \
  /* i64, same shapes; compares write an i32 */                                         \
  X(I64_EQZ) X(I64_CLZ) X(I64_CTZ) X(I64_POPCNT)                                         \
  X(I64_EXTEND8_S) X(I64_EXTEND16_S) X(I64_EXTEND32_S)                                   \
  X(I64_ADD) X(I64_SUB) X(I64_MUL)                                                       \
  X(I64_DIV_S) X(I64_DIV_U) X(I64_REM_S) X(I64_REM_U)                                    \
  X(I64_AND) X(I64_OR) X(I64_XOR)                                                        \
  X(I64_SHL) X(I64_SHR_S) X(I64_SHR_U) X(I64_ROTL) X(I64_ROTR) /* count mod 64 */        \
  X(I64_EQ) X(I64_NE) X(I64_LT_S) X(I64_LT_U) X(I64_GT_S) X(I64_GT_U)                    \
  X(I64_LE_S) X(I64_LE_U) X(I64_GE_S) X(I64_GE_U)                                        \
  X(I64_ADD_K) X(I64_SUB_K) X(I64_MUL_K) X(I64_AND_K) X(I64_OR_K) X(I64_XOR_K)           \
  X(I64_SHL_K) X(I64_SHR_S_K) X(I64_SHR_U_K)  /* K sign-extended from 32 bits */         \
  X(I64_DIV_S_K) X(I64_DIV_U_K) X(I64_REM_S_K) X(I64_REM_U_K)                            \
  X(I64_EQ_K) X(I64_NE_K) X(I64_LT_S_K) X(I64_LT_U_K) X(I64_GT_S_K) X(I64_GT_U_K)        \
  X(I64_LE_S_K) X(I64_LE_U_K) X(I64_GE_S_K) X(I64_GE_U_K)                                \
  /* f32 / f64: A=dst B C. abs/neg/copysign work on bits; min/max: NaN if either is NaN, \
     -0 < +0; nearest rounds half to even; arithmetic NaNs come from the hardware.   */ \
  X(F32_ABS) X(F32_NEG) X(F32_CEIL) X(F32_FLOOR) X(F32_TRUNC) X(F32_NEAREST) X(F32_SQRT) \
  X(F32_ADD) X(F32_SUB) X(F32_MUL) X(F32_DIV) X(F32_MIN) X(F32_MAX) X(F32_COPYSIGN)      \
  X(F32_EQ) X(F32_NE) X(F32_LT) X(F32_GT) X(F32_LE) X(F32_GE)                            \
  X(F64_ABS) X(F64_NEG) X(F64_CEIL) X(F64_FLOOR) X(F64_TRUNC) X(F64_NEAREST) X(F64_SQRT) \
  X(F64_ADD) X(F64_SUB) X(F64_MUL) X(F64_DIV) X(F64_MIN) X(F64_MAX) X(F64_COPYSIGN)      \
  X(F64_EQ) X(F64_NE) X(F64_LT) X(F64_GT) X(F64_LE) X(F64_GE)                            \
  /* conversions, A=dst B=src. wrap and reinterpret need no op (same bits).           */ \
  X(I32_TRUNC_F32_S) X(I32_TRUNC_F32_U) X(I32_TRUNC_F64_S) X(I32_TRUNC_F64_U)            \
  X(I64_TRUNC_F32_S) X(I64_TRUNC_F32_U) X(I64_TRUNC_F64_S) X(I64_TRUNC_F64_U)            \
  /* ^ trap "invalid conversion to integer" on NaN, "integer overflow" out of range */   \
  X(I32_TRUNC_SAT_F32_S) X(I32_TRUNC_SAT_F32_U) X(I32_TRUNC_SAT_F64_S)                   \
  X(I32_TRUNC_SAT_F64_U) X(I64_TRUNC_SAT_F32_S) X(I64_TRUNC_SAT_F32_U)                   \
  X(I64_TRUNC_SAT_F64_S) X(I64_TRUNC_SAT_F64_U) /* NaN -> 0, clamp to the range */        \
  X(I64_EXTEND_I32_S) X(I64_EXTEND_I32_U)                                                \
  X(F32_CONVERT_I32_S) X(F32_CONVERT_I32_U) X(F32_CONVERT_I64_S) X(F32_CONVERT_I64_U)    \
  X(F64_CONVERT_I32_S) X(F64_CONVERT_I32_U) X(F64_CONVERT_I64_S) X(F64_CONVERT_I64_U)    \
  X(F32_DEMOTE_F64) X(F64_PROMOTE_F32)

typedef enum vm_op {
#define VM_OP_ENUM(name) VM_OP_##name,
  VM_OPS(VM_OP_ENUM)
#undef VM_OP_ENUM
  VM_OP_COUNT
} vm_op;

#endif
