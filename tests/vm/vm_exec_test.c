/*
 * vm_exec_test.c: the compiler and interpreter, one test per op family, over real modules
 * assembled with wat2wasm. The peephole cases (local.set retargeting, const folding,
 * compare+branch fusion) are checked where they could go wrong: aliasing of locals still
 * on the operand stack, values carried by branches.
 */
#include <math.h>

#include "test.h"
#include "vm_wat.h"

static uint32_t c1(pvm_instance *i, const char *f, uint32_t a) {
  return (uint32_t)call_i32(i, f, &a, 1);
}
static uint32_t c2(pvm_instance *i, const char *f, uint32_t a, uint32_t b) {
  uint32_t v[2] = {a, b};
  return (uint32_t)call_i32(i, f, v, 2);
}
static uint64_t c64(pvm_instance *i, const char *f, uint64_t a, uint64_t b) {
  pvm_val v[2];
  v[0].i64 = a;
  v[1].i64 = b;
  return call_n(i, f, v, 2, 1, NULL);
}
static uint64_t f64bits(double d) {
  uint64_t b;
  memcpy(&b, &d, 8);
  return b;
}
static uint32_t f32bits(float d) {
  uint32_t b;
  memcpy(&b, &d, 4);
  return b;
}

static void test_vm_exec_i32_arith(void) {
  pvm_instance *i = wat_instance(
      "(module"
      " (func (export \"add\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)"
      " (func (export \"addk\") (param i32) (result i32) local.get 0 i32.const -5 i32.add)"
      " (func (export \"sub\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.sub)"
      " (func (export \"mul\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.mul)"
      " (func (export \"div_s\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)"
      " (func (export \"div_u\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_u)"
      " (func (export \"rem_s\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.rem_s)"
      " (func (export \"shl\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.shl)"
      " (func (export \"shr_s\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.shr_s)"
      " (func (export \"shr_uk\") (param i32) (result i32) local.get 0 i32.const 33 i32.shr_u)"
      " (func (export \"rotl\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.rotl)"
      " (func (export \"rotr\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.rotr)"
      " (func (export \"clz\") (param i32) (result i32) local.get 0 i32.clz)"
      " (func (export \"ctz\") (param i32) (result i32) local.get 0 i32.ctz)"
      " (func (export \"popcnt\") (param i32) (result i32) local.get 0 i32.popcnt)"
      " (func (export \"ext8\") (param i32) (result i32) local.get 0 i32.extend8_s)"
      " (func (export \"ext16\") (param i32) (result i32) local.get 0 i32.extend16_s)"
      " (func (export \"lt_s\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.lt_s)"
      " (func (export \"ge_uk\") (param i32) (result i32) local.get 0 i32.const 7 i32.ge_u)"
      " (func (export \"eqz\") (param i32) (result i32) local.get 0 i32.eqz))");
  CHECK(i != NULL);
  CHECK_INT(5, ==, c2(i, "add", 2, 3));
  CHECK_INT(0, ==, c2(i, "add", 0xffffffffu, 1));
  CHECK_INT(0xfffffffbu, ==, c1(i, "addk", 0));
  CHECK_INT(0xffffffffu, ==, c2(i, "sub", 1, 2));
  CHECK_INT(0, ==, c2(i, "mul", 0x10000, 0x10000));
  CHECK_INT(0xfffffffeu, ==, c2(i, "div_s", 0xfffffffcu, 2));
  CHECK_INT(0x7ffffffeu, ==, c2(i, "div_u", 0xfffffffcu, 2));
  CHECK_INT(0, ==, c2(i, "rem_s", 0x80000000u, 0xffffffffu));
  CHECK_INT(0xffffffffu, ==, c2(i, "rem_s", 0xfffffffbu, 2));
  CHECK_INT(2, ==, c2(i, "shl", 1, 33));
  CHECK_INT(0xffffffffu, ==, c2(i, "shr_s", 0x80000000u, 31));
  CHECK_INT(0x7fffffffu, ==, c1(i, "shr_uk", 0xffffffffu));
  CHECK_INT(0x00000003u, ==, c2(i, "rotl", 0x80000001u, 1));
  CHECK_INT(0xc0000000u, ==, c2(i, "rotr", 0x80000001u, 1));
  CHECK_INT(0x80000001u, ==, c2(i, "rotl", 0x80000001u, 32));
  CHECK_INT(32, ==, c1(i, "clz", 0));
  CHECK_INT(31, ==, c1(i, "clz", 1));
  CHECK_INT(32, ==, c1(i, "ctz", 0));
  CHECK_INT(32, ==, c1(i, "popcnt", 0xffffffffu));
  CHECK_INT(0xffffff80u, ==, c1(i, "ext8", 0x80));
  CHECK_INT(0x7fff, ==, c1(i, "ext16", 0x17fff));
  CHECK_INT(1, ==, c2(i, "lt_s", 0xffffffffu, 0));
  CHECK_INT(1, ==, c1(i, "ge_uk", 0xffffffffu));
  CHECK_INT(0, ==, c1(i, "ge_uk", 6));
  CHECK_INT(1, ==, c1(i, "eqz", 0));
  pvm_instance_del(i);
}

static void test_vm_exec_integer_traps(void) {
  pvm_instance *i = wat_instance(
      "(module"
      " (func (export \"div_s\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)"
      " (func (export \"rem_u\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.rem_u)"
      " (func (export \"div64\") (param i64 i64) (result i64) local.get 0 local.get 1 i64.div_s)"
      " (func (export \"rem64\") (param i64 i64) (result i64) local.get 0 local.get 1 i64.rem_s)"
      " (func (export \"unr\") unreachable)"
      " (func (export \"divm1\") (param i32) (result i32) local.get 0 i32.const -1 i32.div_s)"
      " (func (export \"div0\") (param i32) (result i32) local.get 0 i32.const 0 i32.div_u)"
      " (func (export \"divk\") (param i32) (result i32) local.get 0 i32.const -7 i32.div_s)"
      " (func (export \"remk\") (param i32) (result i32) local.get 0 i32.const 10 i32.rem_u)"
      " (func (export \"rem64k\") (param i64 i64) (result i64) local.get 0 i64.const -3 i64.rem_s))");
  CHECK(i != NULL);
  CHECK(c2(i, "div_s", 1, 0) == (uint32_t)CALL_FAILED);
  CHECK_INT(PVM_TRAP_DIV_ZERO, ==, pvm_instance_trap(i));
  CHECK_STR("integer divide by zero", pvm_instance_trap_message(i));
  CHECK(c2(i, "div_s", 0x80000000u, 0xffffffffu) == (uint32_t)CALL_FAILED);
  CHECK_INT(PVM_TRAP_INT_OVERFLOW, ==, pvm_instance_trap(i));
  CHECK(c2(i, "rem_u", 1, 0) == (uint32_t)CALL_FAILED);
  CHECK_INT(PVM_TRAP_DIV_ZERO, ==, pvm_instance_trap(i));
  CHECK(c64(i, "div64", 0x8000000000000000ull, UINT64_MAX) == CALL_FAILED);
  CHECK_INT(PVM_TRAP_INT_OVERFLOW, ==, pvm_instance_trap(i));
  CHECK_INT(0, ==, c64(i, "rem64", 0x8000000000000000ull, UINT64_MAX));
  CHECK_INT(PVM_TRAP_NONE, ==, pvm_instance_trap(i));
  /* constant divisors: 0 and -1 keep their traps */
  CHECK(c1(i, "divm1", 0x80000000u) == (uint32_t)CALL_FAILED);
  CHECK_INT(PVM_TRAP_INT_OVERFLOW, ==, pvm_instance_trap(i));
  CHECK_INT(0xfffffffbu, ==, c1(i, "divm1", 5));
  CHECK(c1(i, "div0", 5) == (uint32_t)CALL_FAILED);
  CHECK_INT(PVM_TRAP_DIV_ZERO, ==, pvm_instance_trap(i));
  CHECK_INT(0xfffffffeu, ==, c1(i, "divk", 14));
  CHECK_INT(0x12492492u, ==, c1(i, "divk", 0x80000000u));
  CHECK_INT(5, ==, c1(i, "remk", 12345));
  CHECK_INT(-2, ==, (int64_t)c64(i, "rem64k", (uint64_t)-11, 0));
  CHECK(call_n(i, "unr", NULL, 0, 0, NULL) == CALL_FAILED);
  CHECK_STR("unreachable", pvm_instance_trap_message(i));
  pvm_instance_del(i);
}

static void test_vm_exec_i64_arith(void) {
  pvm_instance *i = wat_instance(
      "(module"
      " (func (export \"add\") (param i64 i64) (result i64) local.get 0 local.get 1 i64.add)"
      " (func (export \"mulk\") (param i64 i64) (result i64) local.get 0 i64.const -3 i64.mul)"
      " (func (export \"bigk\") (param i64 i64) (result i64) local.get 0 i64.const 0x100000000 i64.add)"
      " (func (export \"shr_s\") (param i64 i64) (result i64) local.get 0 local.get 1 i64.shr_s)"
      " (func (export \"rotr\") (param i64 i64) (result i64) local.get 0 local.get 1 i64.rotr)"
      " (func (export \"clz\") (param i64 i64) (result i64) local.get 0 i64.clz)"
      " (func (export \"lt_u\") (param i64 i64) (result i32) local.get 0 local.get 1 i64.lt_u)"
      " (func (export \"gtk\") (param i64 i64) (result i32) local.get 0 i64.const -1 i64.gt_s)"
      " (func (export \"ext32\") (param i64 i64) (result i64) local.get 0 i64.extend32_s)"
      " (func (export \"wrap\") (param i64 i64) (result i64) local.get 0 i32.wrap_i64 i64.extend_i32_u)"
      " (func (export \"sext\") (param i64 i64) (result i64) local.get 0 i32.wrap_i64 i64.extend_i32_s))");
  CHECK(i != NULL);
  CHECK_INT(0, ==, c64(i, "add", UINT64_MAX, 1));
  CHECK_INT(-30, ==, (int64_t)c64(i, "mulk", 10, 0));
  CHECK_INT(0x100000005ll, ==, (int64_t)c64(i, "bigk", 5, 0));
  CHECK_INT(-1, ==, (int64_t)c64(i, "shr_s", 0x8000000000000000ull, 127));
  CHECK(c64(i, "rotr", 1, 1) == 0x8000000000000000ull);
  CHECK_INT(64, ==, c64(i, "clz", 0, 0));
  CHECK_INT(1, ==, (uint32_t)c64(i, "lt_u", 1, UINT64_MAX));
  CHECK_INT(1, ==, (uint32_t)c64(i, "gtk", 0, 0));
  CHECK_INT(-1, ==, (int64_t)c64(i, "ext32", 0xffffffffull, 0));
  CHECK_INT(0xffffffffll, ==, (int64_t)c64(i, "wrap", 0x12ffffffffull, 0));
  CHECK_INT(-1, ==, (int64_t)c64(i, "sext", 0x12ffffffffull, 0));
  pvm_instance_del(i);
}

static void test_vm_exec_float_semantics(void) {
  pvm_instance *i = wat_instance(
      "(module"
      " (func (export \"min\") (param f64 f64) (result f64) local.get 0 local.get 1 f64.min)"
      " (func (export \"max\") (param f64 f64) (result f64) local.get 0 local.get 1 f64.max)"
      " (func (export \"nearest\") (param f64 f64) (result f64) local.get 0 f64.nearest)"
      " (func (export \"copysign\") (param f64 f64) (result f64) local.get 0 local.get 1 f64.copysign)"
      " (func (export \"neg\") (param f64 f64) (result f64) local.get 0 f64.neg)"
      " (func (export \"fmin32\") (param i64 i64) (result i64)"
      "   local.get 0 i32.wrap_i64 f32.reinterpret_i32 local.get 1 i32.wrap_i64 f32.reinterpret_i32"
      "   f32.min i32.reinterpret_f32 i64.extend_i32_u)"
      " (func (export \"bits\") (param i64 i64) (result i64) local.get 0 f64.reinterpret_i64 i64.reinterpret_f64)"
      " (func (export \"sqrt\") (param f64 f64) (result f64) local.get 0 f64.sqrt)"
      " (func (export \"div\") (param f64 f64) (result f64) local.get 0 local.get 1 f64.div))");
  CHECK(i != NULL);
  CHECK(c64(i, "min", f64bits(0.0), f64bits(-0.0)) == f64bits(-0.0));
  CHECK(c64(i, "min", f64bits(-0.0), f64bits(0.0)) == f64bits(-0.0));
  CHECK(c64(i, "max", f64bits(-0.0), f64bits(0.0)) == f64bits(0.0));
  uint64_t n = c64(i, "min", f64bits(1.0), 0x7ff4000000000001ull); /* signaling NaN */
  CHECK((n & 0x7ff8000000000000ull) == 0x7ff8000000000000ull);    /* quiet NaN out */
  CHECK(c64(i, "nearest", f64bits(2.5), 0) == f64bits(2.0));
  CHECK(c64(i, "nearest", f64bits(-3.5), 0) == f64bits(-4.0));
  CHECK(c64(i, "copysign", f64bits(1.5), f64bits(-0.0)) == f64bits(-1.5));
  /* neg and copysign work on bits: a NaN payload survives */
  CHECK(c64(i, "neg", 0x7ff4000000000001ull, 0) == 0xfff4000000000001ull);
  CHECK(c64(i, "bits", 0x7ff4000000000001ull, 0) == 0x7ff4000000000001ull);
  CHECK(c64(i, "fmin32", f32bits(-0.0f), f32bits(0.0f)) == f32bits(-0.0f));
  CHECK(c64(i, "sqrt", f64bits(2.25), 0) == f64bits(1.5));
  CHECK(c64(i, "div", f64bits(1.0), f64bits(0.0)) == f64bits(INFINITY));
  pvm_instance_del(i);
}

static void test_vm_exec_conversions(void) {
  pvm_instance *i = wat_instance(
      "(module"
      " (func (export \"t32s\") (param f64) (result i32) local.get 0 i32.trunc_f64_s)"
      " (func (export \"t32u\") (param f64) (result i32) local.get 0 i32.trunc_f64_u)"
      " (func (export \"sat32s\") (param f64) (result i32) local.get 0 i32.trunc_sat_f64_s)"
      " (func (export \"sat64u\") (param f64) (result i64) local.get 0 i64.trunc_sat_f64_u)"
      " (func (export \"cvt\") (param i64) (result f32) local.get 0 f32.convert_i64_u)"
      " (func (export \"demote\") (param f64) (result f32) local.get 0 f32.demote_f64))");
  CHECK(i != NULL);
  pvm_val a, r;
  a.f64 = -2147483648.9;
  CHECK(pvm_call(i, pvm_instance_func(i, "t32s"), &a, 1, &r, 1) == 0 && r.i32 == 0x80000000u);
  a.f64 = 2147483648.0;
  CHECK_INT(PVM_ERR_TRAP, ==, pvm_call(i, pvm_instance_func(i, "t32s"), &a, 1, &r, 1));
  CHECK_STR("integer overflow", pvm_instance_trap_message(i));
  a.f64 = NAN;
  CHECK_INT(PVM_ERR_TRAP, ==, pvm_call(i, pvm_instance_func(i, "t32u"), &a, 1, &r, 1));
  CHECK_STR("invalid conversion to integer", pvm_instance_trap_message(i));
  a.f64 = -0.9;
  CHECK(pvm_call(i, pvm_instance_func(i, "t32u"), &a, 1, &r, 1) == 0 && r.i32 == 0);
  a.f64 = 1e300;
  CHECK(pvm_call(i, pvm_instance_func(i, "sat32s"), &a, 1, &r, 1) == 0 && r.i32 == 0x7fffffffu);
  a.f64 = NAN;
  CHECK(pvm_call(i, pvm_instance_func(i, "sat32s"), &a, 1, &r, 1) == 0 && r.i32 == 0);
  a.f64 = -5;
  CHECK(pvm_call(i, pvm_instance_func(i, "sat64u"), &a, 1, &r, 1) == 0 && r.i64 == 0);
  a.f64 = 1e30;
  CHECK(pvm_call(i, pvm_instance_func(i, "sat64u"), &a, 1, &r, 1) == 0 && r.i64 == UINT64_MAX);
  a.i64 = UINT64_MAX;
  CHECK(pvm_call(i, pvm_instance_func(i, "cvt"), &a, 1, &r, 1) == 0 && r.f32 == 18446744073709551616.0f);
  a.f64 = 0.1;
  CHECK(pvm_call(i, pvm_instance_func(i, "demote"), &a, 1, &r, 1) == 0 && r.f32 == 0.1f);
  pvm_instance_del(i);
}

/* local.set/tee rewrite the destination of the op before them: the cases where a local
 * still on the operand stack must keep its old value. */
static void test_vm_exec_locals_aliasing(void) {
  pvm_instance *i = wat_instance(
      "(module"
      " (func (export \"swap\") (param i32 i32) (result i32)"
      "   local.get 0 local.get 1 local.set 0 local.set 1"
      "   local.get 0 i32.const 10 i32.mul local.get 1 i32.add)"
      " (func (export \"old\") (param i32) (result i32)"
      "   local.get 0 local.get 0 i32.const 1 i32.add local.set 0 local.get 0 i32.const 100 i32.mul i32.add)"
      " (func (export \"tee\") (param i32) (result i32) (local i32)"
      "   local.get 0 i32.const 3 i32.add local.tee 1 local.get 1 i32.mul)"
      " (func (export \"self\") (param i32) (result i32)"
      "   local.get 0 local.get 0 i32.add local.set 0 local.get 0)"
      " (func (export \"zero\") (param i32) (result i32) (local i32 i64)"
      "   local.get 1 local.get 2 i32.wrap_i64 i32.add))");
  CHECK(i != NULL);
  CHECK_INT(21, ==, c2(i, "swap", 1, 2));
  CHECK_INT(5 + 600, ==, c1(i, "old", 5));
  CHECK_INT(64, ==, c1(i, "tee", 5));
  CHECK_INT(14, ==, c1(i, "self", 7));
  CHECK_INT(0, ==, c1(i, "zero", 7));
  pvm_instance_del(i);
}

static void test_vm_exec_control_flow(void) {
  pvm_instance *i = wat_instance(
      "(module"
      " (func (export \"sum\") (param i32) (result i32) (local i32)"
      "   block loop local.get 0 i32.eqz br_if 1"
      "     local.get 1 local.get 0 i32.add local.set 1"
      "     local.get 0 i32.const 1 i32.sub local.set 0 br 0 end end local.get 1)"
      " (func (export \"sumlt\") (param i32) (result i32) (local i32 i32)"
      "   loop local.get 1 local.get 2 i32.add local.set 1"
      "     local.get 2 i32.const 1 i32.add local.tee 2 local.get 0 i32.lt_s br_if 0 end local.get 1)"
      " (func (export \"ifelse\") (param i32) (result i32)"
      "   local.get 0 i32.const 10 i32.gt_u if (result i32) i32.const 1 else i32.const 2 end)"
      " (func (export \"brval\") (param i32) (result i32)"
      "   block (result i32) i32.const 7 local.get 0 br_if 0 drop i32.const 9 end)"
      " (func (export \"table\") (param i32) (result i32)"
      "   block (result i32) block (result i32) block (result i32)"
      "   i32.const 100 local.get 0 br_table 0 1 2 end i32.const 1 i32.add end"
      "   i32.const 10 i32.add end)"
      " (func (export \"ret\") (param i32) (result i32)"
      "   local.get 0 if i32.const 5 return end i32.const 6)"
      " (func (export \"blockparam\") (param i32) (result i32)"
      "   local.get 0 i32.const 2 block (param i32 i32) (result i32) i32.mul end)"
      " (func (export \"ifparam\") (param i32) (result i32)"
      "   i32.const 20 local.get 0 if (param i32) (result i32) i32.const 1 i32.add"
      "   else i32.const 2 i32.sub end)"
      " (func (export \"loopparam\") (param i32) (result i32)"
      "   i32.const 0 loop (param i32) (result i32) i32.const 3 i32.add"
      "   local.get 0 i32.const 1 i32.sub local.tee 0 br_if 0 end)"
      " (func $two (param i32) (result i32 i32) local.get 0 local.get 0 i32.const 1 i32.add)"
      " (func (export \"multi\") (param i32) (result i32) local.get 0 call $two i32.sub)"
      " (func (export \"select\") (param i32) (result i32)"
      "   i32.const 11 i32.const 22 local.get 0 select))");
  CHECK(i != NULL);
  CHECK_INT(5050, ==, c1(i, "sum", 100));
  CHECK_INT(4950, ==, c1(i, "sumlt", 100));
  CHECK_INT(1, ==, c1(i, "ifelse", 11));
  CHECK_INT(2, ==, c1(i, "ifelse", 10));
  CHECK_INT(7, ==, c1(i, "brval", 1));
  CHECK_INT(9, ==, c1(i, "brval", 0));
  CHECK_INT(111, ==, c1(i, "table", 0));
  CHECK_INT(110, ==, c1(i, "table", 1));
  CHECK_INT(100, ==, c1(i, "table", 2));
  CHECK_INT(100, ==, c1(i, "table", 99));
  CHECK_INT(5, ==, c1(i, "ret", 1));
  CHECK_INT(6, ==, c1(i, "ret", 0));
  CHECK_INT(42, ==, c1(i, "blockparam", 21));
  CHECK_INT(21, ==, c1(i, "ifparam", 1));
  CHECK_INT(18, ==, c1(i, "ifparam", 0));
  CHECK_INT(12, ==, c1(i, "loopparam", 4));
  CHECK_INT(0xffffffffu, ==, c1(i, "multi", 4));
  CHECK_INT(11, ==, c1(i, "select", 1));
  CHECK_INT(22, ==, c1(i, "select", 0));
  pvm_instance_del(i);
}

static void test_vm_exec_calls_recursion(void) {
  pvm_instance *i = wat_instance(
      "(module"
      " (func $fib (export \"fib\") (param i32) (result i32)"
      "   local.get 0 i32.const 2 i32.lt_u if (result i32) local.get 0 else"
      "   local.get 0 i32.const 1 i32.sub call $fib local.get 0 i32.const 2 i32.sub call $fib"
      "   i32.add end)"
      " (func $many (param i64 i32 f64 i32) (result i64 i32)"
      "   local.get 0 local.get 3 i64.extend_i32_u i64.add local.get 1 local.get 2 i32.trunc_f64_s i32.add)"
      " (func (export \"many\") (param i32) (result i32) (local i32)"
      "   i64.const 5 local.get 0 f64.const 2.5 i32.const 7 call $many local.get 0 i32.mul"
      "   local.set 1 i32.wrap_i64 local.get 1 i32.add))");
  CHECK(i != NULL);
  CHECK_INT(6765, ==, c1(i, "fib", 20));
  CHECK_INT(12 + 5 * 3, ==, c1(i, "many", 3));
  pvm_instance_del(i);
}

static void test_vm_exec_memory(void) {
  pvm_instance *i = wat_instance(
      "(module (memory 1 3)"
      " (data (i32.const 16) \"\\01\\02\\03\\04\\05\\06\\07\\08\")"
      " (data $p \"hello\")"
      " (func (export \"ld\") (param i32) (result i32) local.get 0 i32.load offset=1)"
      " (func (export \"ld8s\") (param i32) (result i32) local.get 0 i32.load8_s)"
      " (func (export \"ld16u\") (param i32) (result i32) local.get 0 i64.load16_u i32.wrap_i64)"
      " (func (export \"st\") (param i32 i32) local.get 0 local.get 1 i32.store16)"
      " (func (export \"st64\") (param i32 i32) local.get 0 local.get 1 i64.extend_i32_s i64.store offset=4)"
      " (func (export \"size\") (result i32) memory.size)"
      " (func (export \"grow\") (param i32) (result i32) local.get 0 memory.grow)"
      " (func (export \"fill\") (param i32 i32) local.get 0 i32.const 171 local.get 1 memory.fill)"
      " (func (export \"copy\") (param i32 i32) local.get 0 i32.const 16 local.get 1 memory.copy)"
      " (func (export \"init\") (param i32 i32) local.get 0 i32.const 0 local.get 1 memory.init $p)"
      " (func (export \"drop\") data.drop $p)"
      " (func (export \"ldw\") (param i32) (result i32) local.get 0 i32.const 32 i32.add i32.load)"
      " (func (export \"stw\") (param i32 i32) local.get 0 i32.const 32 i32.add local.get 1 i32.store8))");
  CHECK(i != NULL);
  CHECK_INT(0x05040302u, ==, c1(i, "ld", 16));
  CHECK_INT(0, ==, c1(i, "ld", 65532 - 1)); /* last 4 bytes: in bounds */
  CHECK(c1(i, "ld", 65533 - 1) == (uint32_t)CALL_FAILED);
  CHECK_STR("out of bounds memory access", pvm_instance_trap_message(i));
  CHECK(c1(i, "ld", 0xffffffffu) == (uint32_t)CALL_FAILED); /* no 32-bit wrap-around */
  CHECK_INT(2, ==, call_n(i, "st", (pvm_val[]){{.i32 = 100}, {.i32 = 0x1ff}}, 2, 0, NULL) == 0 ? 2 : 0);
  CHECK_INT(0xffffffffu, ==, c1(i, "ld8s", 100));
  CHECK_INT(0x1ff, ==, c1(i, "ld16u", 100));
  CHECK(call_n(i, "st64", (pvm_val[]){{.i32 = 65528}, {.i32 = 1}}, 2, 0, NULL) == CALL_FAILED);
  CHECK_INT(1, ==, call_i32(i, "size", NULL, 0));
  CHECK_INT(1, ==, c1(i, "grow", 2));
  CHECK_INT(0xffffffffu, ==, c1(i, "grow", 1)); /* beyond the declared max */
  CHECK_INT(3, ==, call_i32(i, "size", NULL, 0));
  CHECK_INT(0, ==, c1(i, "ld", 3 * 65536 - 5)); /* grown pages are zero and usable */
  CHECK(call_n(i, "fill", (pvm_val[]){{.i32 = 200}, {.i32 = 4}}, 2, 0, NULL) == 0);
  CHECK_INT(0xababababu, ==, c1(i, "ld", 199));
  CHECK(call_n(i, "fill", (pvm_val[]){{.i32 = 3 * 65536}, {.i32 = 1}}, 2, 0, NULL) == CALL_FAILED);
  CHECK(call_n(i, "copy", (pvm_val[]){{.i32 = 300}, {.i32 = 8}}, 2, 0, NULL) == 0);
  CHECK_INT(0x05040302u, ==, c1(i, "ld", 300));
  CHECK(call_n(i, "init", (pvm_val[]){{.i32 = 400}, {.i32 = 5}}, 2, 0, NULL) == 0);
  CHECK_INT('h', ==, c1(i, "ld8s", 400));
  CHECK(call_n(i, "init", (pvm_val[]){{.i32 = 400}, {.i32 = 6}}, 2, 0, NULL) == CALL_FAILED);
  CHECK(call_n(i, "drop", NULL, 0, 0, NULL) == 0);
  CHECK(call_n(i, "init", (pvm_val[]){{.i32 = 400}, {.i32 = 1}}, 2, 0, NULL) == CALL_FAILED);
  CHECK(call_n(i, "init", (pvm_val[]){{.i32 = 400}, {.i32 = 0}}, 2, 0, NULL) == 0);
  /* address + constant wraps at 32 bits, as i32.add does (fused _W accesses) */
  CHECK_INT(0x04030201u, ==, c1(i, "ldw", 0xfffffff0u));
  CHECK(c1(i, "ldw", 3 * 65536 - 34) == (uint32_t)CALL_FAILED);
  CHECK(call_n(i, "stw", (pvm_val[]){{.i32 = 0xfffffff0u}, {.i32 = 0x99}}, 2, 0, NULL) == 0);
  CHECK_INT(0x04030299u, ==, c1(i, "ldw", 0xfffffff0u));
  CHECK(call_n(i, "stw", (pvm_val[]){{.i32 = 3 * 65536 - 32}, {.i32 = 1}}, 2, 0, NULL) == CALL_FAILED);
  size_t size = 0;
  uint8_t *mem = pvm_instance_memory(i, &size);
  CHECK(mem != NULL && size == 3 * 65536 && mem[17] == 2);
  pvm_instance_del(i);
}

/* Binary ops whose right operand is a load (fused into one op), both address forms. */
static void test_vm_exec_memory_operands(void) {
  pvm_instance *i = wat_instance(
      "(module (memory 1)"
      " (data (i32.const 0) \"\\00\\00\\00\\00\\00\\00\\f8\\3f\\00\\00\\00\\00\\00\\00\\04\\40\")"
      " (data (i32.const 16) \"\\00\\00\\c0\\3f\\05\\00\\00\\00\")"
      " (func (export \"dot\") (param i32) (result f64)"
      "   local.get 0 f64.load local.get 0 f64.load offset=8 f64.mul"
      "   local.get 0 f64.load local.get 0 i32.const 8 i32.add f64.load f64.sub f64.add)"
      " (func (export \"f32\") (param i32) (result f32)"
      "   local.get 0 f32.load offset=16 local.get 0 i32.const 16 i32.add f32.load f32.mul)"
      " (func (export \"i32\") (param i32) (result i32)"
      "   local.get 0 i32.load offset=20 local.get 0 i32.const 20 i32.add i32.load i32.add))");
  CHECK(i != NULL);
  pvm_val a = {.i32 = 0}, r;
  /* 1.5 * 2.5 + (1.5 - 2.5) */
  CHECK(pvm_call(i, pvm_instance_func(i, "dot"), &a, 1, &r, 1) == 0 && r.f64 == 2.75);
  CHECK(pvm_call(i, pvm_instance_func(i, "f32"), &a, 1, &r, 1) == 0 && r.f32 == 2.25f);
  CHECK(pvm_call(i, pvm_instance_func(i, "i32"), &a, 1, &r, 1) == 0 && r.i32 == 10);
  a.i32 = 65536 - 8;
  CHECK_INT(PVM_ERR_TRAP, ==, pvm_call(i, pvm_instance_func(i, "dot"), &a, 1, &r, 1));
  CHECK_STR("out of bounds memory access", pvm_instance_trap_message(i));
  pvm_instance_del(i);
}

static void test_vm_exec_tables_and_indirect_calls(void) {
  pvm_instance *i = wat_instance(
      "(module (type $ii (func (param i32) (result i32))) (type $v (func))"
      " (table $t 4 10 funcref) (table $e 2 externref)"
      " (func $inc (param i32) (result i32) local.get 0 i32.const 1 i32.add)"
      " (func $dbl (param i32) (result i32) local.get 0 local.get 0 i32.add)"
      " (func $nop)"
      " (elem (table $t) (i32.const 0) func $inc $dbl $nop)"
      " (elem $pass func $dbl $inc)"
      " (func (export \"ci\") (param i32 i32) (result i32) local.get 1 local.get 0 call_indirect $t (type $ii))"
      " (func (export \"grow\") (param i32) (result i32) ref.null func local.get 0 table.grow $t)"
      " (func (export \"size\") (result i32) table.size $t)"
      " (func (export \"isnull\") (param i32) (result i32) local.get 0 table.get $t ref.is_null)"
      " (func (export \"set\") (param i32) local.get 0 ref.func $dbl table.set $t)"
      " (func (export \"init\") (param i32) local.get 0 i32.const 0 i32.const 2 table.init $t $pass)"
      " (func (export \"copy\") (param i32) local.get 0 i32.const 0 i32.const 2 table.copy $t $t)"
      " (func (export \"fill\") (param i32 i32) local.get 0 ref.null func local.get 1 table.fill $t)"
      " (func (export \"edrop\") elem.drop $pass)"
      " (func (export \"eset\") (param i32) local.get 0 ref.null extern table.set $e))");
  CHECK(i != NULL);
  CHECK_INT(6, ==, c2(i, "ci", 0, 5));
  CHECK_INT(10, ==, c2(i, "ci", 1, 5));
  CHECK(c2(i, "ci", 2, 5) == (uint32_t)CALL_FAILED);
  CHECK_STR("indirect call type mismatch", pvm_instance_trap_message(i));
  CHECK(c2(i, "ci", 3, 5) == (uint32_t)CALL_FAILED);
  CHECK_STR("uninitialized element", pvm_instance_trap_message(i));
  CHECK(c2(i, "ci", 4, 5) == (uint32_t)CALL_FAILED);
  CHECK_STR("undefined element", pvm_instance_trap_message(i));
  CHECK_INT(4, ==, c1(i, "grow", 2));
  CHECK_INT(6, ==, call_i32(i, "size", NULL, 0));
  CHECK_INT(0xffffffffu, ==, c1(i, "grow", 5)); /* max 10 */
  CHECK_INT(1, ==, c1(i, "isnull", 5));
  CHECK(c1(i, "isnull", 6) == (uint32_t)CALL_FAILED);
  CHECK_STR("out of bounds table access", pvm_instance_trap_message(i));
  CHECK(call_n(i, "set", (pvm_val[]){{.i32 = 5}}, 1, 0, NULL) == 0);
  CHECK_INT(14, ==, c2(i, "ci", 5, 7));
  CHECK(call_n(i, "init", (pvm_val[]){{.i32 = 2}}, 1, 0, NULL) == 0);
  CHECK_INT(14, ==, c2(i, "ci", 2, 7));
  CHECK_INT(8, ==, c2(i, "ci", 3, 7));
  CHECK(call_n(i, "copy", (pvm_val[]){{.i32 = 4}}, 1, 0, NULL) == 0);
  CHECK_INT(8, ==, c2(i, "ci", 4, 7));
  CHECK(call_n(i, "fill", (pvm_val[]){{.i32 = 0}, {.i32 = 6}}, 2, 0, NULL) == 0);
  CHECK_INT(1, ==, c1(i, "isnull", 0));
  CHECK(call_n(i, "fill", (pvm_val[]){{.i32 = 5}, {.i32 = 2}}, 2, 0, NULL) == CALL_FAILED);
  CHECK(call_n(i, "edrop", NULL, 0, 0, NULL) == 0);
  CHECK(call_n(i, "init", (pvm_val[]){{.i32 = 2}}, 1, 0, NULL) == CALL_FAILED);
  CHECK(call_n(i, "eset", (pvm_val[]){{.i32 = 1}}, 1, 0, NULL) == 0);
  CHECK(call_n(i, "eset", (pvm_val[]){{.i32 = 2}}, 1, 0, NULL) == CALL_FAILED);
  pvm_instance_del(i);
}

static void test_vm_exec_globals_and_refs(void) {
  pvm_instance *i = wat_instance(
      "(module (global $g (mut i64) (i64.const 40)) (global $k i32 (i32.const 3))"
      " (global $r (mut funcref) (ref.null func))"
      " (func $f (result i32) i32.const 9)"
      " (elem declare func $f)"
      " (func (export \"bump\") (result i64) global.get $g global.get $k i64.extend_i32_u i64.add"
      "   global.set $g global.get $g)"
      " (func (export \"refs\") (result i32) global.get $r ref.is_null ref.func $f global.set $r"
      "   global.get $r ref.is_null i32.const 10 i32.mul i32.add)"
      " (export \"g\" (global $g)))");
  CHECK(i != NULL);
  CHECK_INT(43, ==, call_n(i, "bump", NULL, 0, 1, NULL));
  CHECK_INT(46, ==, call_n(i, "bump", NULL, 0, 1, NULL));
  CHECK_INT(1, ==, (uint32_t)call_n(i, "refs", NULL, 0, 1, NULL));
  CHECK_INT(0, ==, (uint32_t)call_n(i, "refs", NULL, 0, 1, NULL));
  pvm_extern e;
  CHECK_INT(0, ==, pvm_instance_export(i, "g", 1, &e));
  CHECK_INT(46, ==, pvm_global_get(e.u.global).i64);
  CHECK_INT(PVM_I64, ==, pvm_global_type(e.u.global));
  CHECK_INT(0, ==, pvm_global_set(e.u.global, (pvm_val){.i64 = 100}));
  CHECK_INT(103, ==, call_n(i, "bump", NULL, 0, 1, NULL));
  pvm_instance_del(i);
}

int main(void) {
  RUN(test_vm_exec_i32_arith);
  RUN(test_vm_exec_integer_traps);
  RUN(test_vm_exec_i64_arith);
  RUN(test_vm_exec_float_semantics);
  RUN(test_vm_exec_conversions);
  RUN(test_vm_exec_locals_aliasing);
  RUN(test_vm_exec_control_flow);
  RUN(test_vm_exec_calls_recursion);
  RUN(test_vm_exec_memory);
  RUN(test_vm_exec_memory_operands);
  RUN(test_vm_exec_tables_and_indirect_calls);
  RUN(test_vm_exec_globals_and_refs);
  return test_report();
}
