/*
 * vm_instance_test.c: instantiation, linking (host functions, other instances' exports),
 * segments, the start function, limits (fuel, deadline, call depth, memory pages) and
 * the instance staying usable after a trap.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "test.h"
#include "vm_wat.h"

static const uint8_t I32[1] = {PVM_I32};

static int host_add(pvm_call_ctx *ctx, const pvm_val *args, pvm_val *results, void *ud) {
  int *calls = ud;
  (*calls)++;
  results[0].i32 = args[0].i32 + args[1].i32;
  return 0;
}

static int host_fail(pvm_call_ctx *ctx, const pvm_val *args, pvm_val *results, void *ud) {
  if (args[0].i32 == 13) {
    pvm_ctx_trap(ctx, "unlucky number");
    return -1;
  }
  if (args[0].i32 == 14) return 1; /* no message */
  size_t size = 0;
  uint8_t *mem = pvm_ctx_memory(ctx, &size);
  if (mem && size > 0) mem[0] = (uint8_t)args[0].i32;
  return 0;
}

static void test_vm_instance_host_functions(void) {
  pvm_linker *l = NULL;
  int calls = 0;
  static const uint8_t ii[2] = {PVM_I32, PVM_I32};
  CHECK_INT(0, ==, pvm_linker_new(&l));
  CHECK_INT(0, ==, pvm_linker_define_func(l, "env", "add", ii, 2, I32, 1, host_add, &calls));
  CHECK_INT(0, ==, pvm_linker_define_func(l, "env", "check", I32, 1, NULL, 0, host_fail, NULL));
  CHECK_INT(PVM_ERR_ARG, ==, pvm_linker_define_func(l, "env", "x", NULL, 1, NULL, 0, host_fail, NULL));
  pvm_instance *i = wat_instance_ex(
      "(module (import \"env\" \"add\" (func $add (param i32 i32) (result i32)))"
      " (import \"env\" \"check\" (func $check (param i32))) (memory 1)"
      " (func (export \"f\") (param i32) (result i32) local.get 0 i32.const 1 call $add i32.const 2 i32.mul)"
      " (func (export \"c\") (param i32) (result i32) local.get 0 call $check i32.const 0 i32.load8_u)"
      " (export \"add\" (func $add)))",
      l, NULL);
  CHECK(i != NULL);
  uint32_t a = 20;
  CHECK_INT(42, ==, call_i32(i, "f", &a, 1));
  CHECK_INT(1, ==, calls);
  /* an imported host function can be called directly and re-exported */
  uint32_t ab[2] = {3, 4};
  CHECK_INT(7, ==, call_i32(i, "add", ab, 2));
  a = 7;
  CHECK_INT(7, ==, call_i32(i, "c", &a, 1));
  a = 13;
  CHECK(call_i32(i, "c", &a, 1) == CALL_FAILED);
  CHECK_INT(PVM_TRAP_HOST, ==, pvm_instance_trap(i));
  CHECK_STR("unlucky number", pvm_instance_trap_message(i));
  a = 14;
  CHECK(call_i32(i, "c", &a, 1) == CALL_FAILED);
  CHECK_STR("host function failed", pvm_instance_trap_message(i));
  /* still usable after the traps */
  a = 9;
  CHECK_INT(9, ==, call_i32(i, "c", &a, 1));
  CHECK_INT(PVM_TRAP_NONE, ==, pvm_instance_trap(i));
  pvm_instance_del(i);
  pvm_linker_del(l);
}

/* A host function calling back into the instance that called it (nested pvm_call). */
static int host_reenter(pvm_call_ctx *ctx, const pvm_val *args, pvm_val *results, void *ud) {
  pvm_instance *inst = pvm_ctx_instance(ctx);
  pvm_func *sq = pvm_instance_func(inst, "sq");
  pvm_val r;
  if (!sq || pvm_call(inst, sq, args, 1, &r, 1) != 0) {
    pvm_ctx_trap(ctx, "nested call failed");
    return -1;
  }
  results[0].i32 = r.i32 + 1;
  return 0;
}

static void test_vm_instance_host_reentry(void) {
  pvm_linker *l = NULL;
  pvm_linker_new(&l);
  pvm_linker_define_func(l, "env", "reenter", I32, 1, I32, 1, host_reenter, NULL);
  pvm_instance *i = wat_instance_ex(
      "(module (import \"env\" \"reenter\" (func $re (param i32) (result i32)))"
      " (func (export \"sq\") (param i32) (result i32) local.get 0 local.get 0 i32.mul)"
      " (func $deep (export \"f\") (param i32) (result i32) (local i32)"
      "   i32.const 1000 local.set 1"
      "   local.get 0 call $re local.get 1 i32.add))",
      l, NULL);
  CHECK(i != NULL);
  uint32_t a = 7;
  CHECK_INT(49 + 1 + 1000, ==, call_i32(i, "f", &a, 1));
  CHECK_INT(PVM_TRAP_NONE, ==, pvm_instance_trap(i));
  a = 3;
  CHECK_INT(9 + 1 + 1000, ==, call_i32(i, "f", &a, 1));
  pvm_instance_del(i);
  pvm_linker_del(l);
}

static void test_vm_instance_link_errors(void) {
  pvm_linker *l = NULL;
  int calls = 0;
  pvm_linker_new(&l);
  pvm_linker_define_func(l, "env", "f", I32, 1, NULL, 0, host_fail, &calls);
  pvm_module *m = wat_module("(module (import \"env\" \"g\" (func)))");
  pvm_instance *i = NULL;
  pvm_error err;
  CHECK(m != NULL);
  CHECK_INT(PVM_ERR_UNLINKABLE, ==, pvm_instance_new(m, l, NULL, &i, &err));
  CHECK(strncmp(err.msg, "unknown import", 14) == 0 && strstr(err.msg, "\"g\"") != NULL);
  pvm_module_del(m);
  m = wat_module("(module (import \"env\" \"f\" (func (param i64))))");
  CHECK_INT(PVM_ERR_UNLINKABLE, ==, pvm_instance_new(m, l, NULL, &i, &err));
  CHECK(strncmp(err.msg, "incompatible import type", 24) == 0);
  pvm_module_del(m);
  m = wat_module("(module (import \"env\" \"f\" (memory 1)))");
  CHECK_INT(PVM_ERR_UNLINKABLE, ==, pvm_instance_new(m, l, NULL, &i, &err));
  CHECK(strncmp(err.msg, "incompatible import type", 24) == 0);
  pvm_module_del(m);
  pvm_linker_del(l);
}

/* Memory, table, global and functions shared between two instances. */
static void test_vm_instance_cross_instance_linking(void) {
  pvm_instance *a = wat_instance(
      "(module (memory (export \"mem\") 1 4) (table (export \"tab\") 4 funcref)"
      " (global (export \"g\") (mut i32) (i32.const 5))"
      " (func $seven (export \"seven\") (result i32) i32.const 7)"
      " (func (export \"peek\") (param i32) (result i32) local.get 0 i32.load8_u)"
      " (func (export \"call\") (param i32) (result i32) local.get 0 call_indirect (result i32))"
      " (elem (i32.const 0) $seven))");
  CHECK(a != NULL);
  pvm_linker *l = NULL;
  pvm_linker_new(&l);
  CHECK_INT(0, ==, pvm_linker_define_instance(l, "a", a));
  pvm_instance *b = wat_instance_ex(
      "(module (import \"a\" \"mem\" (memory 1)) (import \"a\" \"tab\" (table 2 funcref))"
      " (import \"a\" \"g\" (global $g (mut i32))) (import \"a\" \"seven\" (func $seven (result i32)))"
      " (func $eight (result i32) i32.const 8)"
      " (elem (i32.const 1) $eight)"
      " (data (i32.const 10) \"\\2a\")"
      " (func (export \"run\") (result i32)"
      "   i32.const 11 call $seven i32.store8"
      "   global.get $g i32.const 1 i32.add global.set $g"
      "   i32.const 2 memory.grow drop"
      "   i32.const 0 call_indirect (result i32) global.get $g i32.add))",
      l, NULL);
  CHECK(b != NULL);
  CHECK_INT(7 + 6, ==, call_i32(b, "run", NULL, 0));
  uint32_t x = 10;
  CHECK_INT(42, ==, call_i32(a, "peek", &x, 1)); /* b's data segment went into a's memory */
  x = 11;
  CHECK_INT(7, ==, call_i32(a, "peek", &x, 1));
  x = 1;
  CHECK_INT(8, ==, call_i32(a, "call", &x, 1)); /* b's function through a's table */
  size_t size = 0;
  pvm_instance_memory(a, &size);
  CHECK_INT(3 * 65536, ==, size); /* grown through b */
  pvm_extern e;
  CHECK_INT(0, ==, pvm_instance_export(a, "g", 1, &e));
  CHECK_INT(6, ==, pvm_global_get(e.u.global).i32);
  /* incompatible: table of externref, immutable global, memory with too small a max */
  pvm_module *m = wat_module("(module (import \"a\" \"g\" (global i32)))");
  pvm_instance *c = NULL;
  pvm_error err;
  CHECK_INT(PVM_ERR_UNLINKABLE, ==, pvm_instance_new(m, l, NULL, &c, &err));
  pvm_module_del(m);
  m = wat_module("(module (import \"a\" \"mem\" (memory 1 2)))");
  CHECK_INT(PVM_ERR_UNLINKABLE, ==, pvm_instance_new(m, l, NULL, &c, &err));
  pvm_module_del(m);
  pvm_instance_del(b);
  pvm_instance_del(a);
  pvm_linker_del(l);
}

/* 2.0: segments apply in order; an out-of-bounds one traps after the earlier ones. */
static void test_vm_instance_segment_trap_keeps_earlier_writes(void) {
  pvm_instance *a = wat_instance(
      "(module (memory (export \"mem\") 1)"
      " (func (export \"peek\") (param i32) (result i32) local.get 0 i32.load8_u))");
  pvm_linker *l = NULL;
  pvm_linker_new(&l);
  pvm_linker_define_instance(l, "a", a);
  pvm_module *m = wat_module(
      "(module (import \"a\" \"mem\" (memory 1))"
      " (data (i32.const 5) \"\\63\") (data (i32.const 65536) \"\\01\"))");
  pvm_instance *b = NULL;
  pvm_error err;
  CHECK_INT(PVM_ERR_TRAP, ==, pvm_instance_new(m, l, NULL, &b, &err));
  CHECK_STR("out of bounds memory access", err.msg);
  CHECK(b == NULL);
  uint32_t x = 5;
  CHECK_INT(0x63, ==, call_i32(a, "peek", &x, 1));
  pvm_module_del(m);
  /* a trapping start function fails instantiation */
  m = wat_module("(module (func $s unreachable) (start $s))");
  CHECK_INT(PVM_ERR_TRAP, ==, pvm_instance_new(m, NULL, NULL, &b, &err));
  CHECK_STR("unreachable", err.msg);
  pvm_module_del(m);
  pvm_instance_del(a);
  pvm_linker_del(l);
}

static const char *const spin_wat =
    "(module (memory 1)"
    " (func (export \"spin\") loop br 0 end)"
    " (func (export \"count\") (param i32) (result i32) (local i32)"
    "   loop local.get 1 i32.const 1 i32.add local.set 1"
    "   local.get 1 local.get 0 i32.lt_u br_if 0 end local.get 1)"
    " (func $rec (export \"rec\") (param i32) (result i32)"
    "   local.get 0 i32.eqz if (result i32) i32.const 0 else"
    "   local.get 0 i32.const 1 i32.sub call $rec i32.const 1 i32.add end)"
    " (func (export \"bomb\") (result i32) (local i32)"
    "   loop i32.const 1 memory.grow i32.const -1 i32.ne if"
    "     local.get 0 i32.const 1 i32.add local.set 0 br 1 end end local.get 0))";

static void test_vm_instance_fuel(void) {
  pvm_instance *i = wat_instance(spin_wat);
  CHECK(i != NULL);
  pvm_instance_set_fuel(i, 100000);
  CHECK(call_n(i, "spin", NULL, 0, 0, NULL) == CALL_FAILED);
  CHECK_INT(PVM_TRAP_OUT_OF_FUEL, ==, pvm_instance_trap(i));
  CHECK_STR("out of fuel", pvm_instance_trap_message(i));
  CHECK_INT(100000, ==, pvm_instance_fuel_used(i));
  /* deterministic: the same call uses the same fuel, proportional to the work */
  uint32_t n = 1000;
  CHECK_INT(1000, ==, call_i32(i, "count", &n, 1));
  uint64_t used = pvm_instance_fuel_used(i);
  CHECK_INT(1000, ==, call_i32(i, "count", &n, 1));
  CHECK_INT(used, ==, pvm_instance_fuel_used(i));
  CHECK(used >= 8 * 1000 && used <= 12 * 1000);
  n = 100000;
  CHECK(call_i32(i, "count", &n, 1) == CALL_FAILED);
  CHECK_INT(PVM_TRAP_OUT_OF_FUEL, ==, pvm_instance_trap(i));
  pvm_instance_set_fuel(i, PVM_FUEL_UNLIMITED);
  CHECK_INT(100000, ==, call_i32(i, "count", &n, 1));
  CHECK(pvm_instance_fuel_used(i) > 800000);
  pvm_instance_del(i);
}

static void test_vm_instance_deadline(void) {
  pvm_limits lim;
  pvm_limits_default(&lim);
  lim.timeout_ns = 20 * 1000 * 1000;
  pvm_instance *i = wat_instance_ex(spin_wat, NULL, &lim);
  CHECK(i != NULL);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK(call_n(i, "spin", NULL, 0, 0, NULL) == CALL_FAILED);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  CHECK_INT(PVM_TRAP_DEADLINE, ==, pvm_instance_trap(i));
  CHECK_STR("deadline exceeded", pvm_instance_trap_message(i));
  double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
  CHECK(ms >= 19 && ms < 2000);
  pvm_instance_set_timeout(i, 0);
  uint32_t n = 10;
  CHECK_INT(10, ==, call_i32(i, "count", &n, 1));
  pvm_instance_del(i);
}

static void test_vm_instance_call_depth(void) {
  pvm_limits lim;
  pvm_limits_default(&lim);
  lim.max_call_depth = 500;
  pvm_instance *i = wat_instance_ex(spin_wat, NULL, &lim);
  CHECK(i != NULL);
  uint32_t n = 400;
  CHECK_INT(400, ==, call_i32(i, "rec", &n, 1));
  n = 600;
  CHECK(call_i32(i, "rec", &n, 1) == CALL_FAILED);
  CHECK_INT(PVM_TRAP_STACK_EXHAUSTED, ==, pvm_instance_trap(i));
  CHECK_STR("call stack exhausted", pvm_instance_trap_message(i));
  n = 400; /* usable again: the stacks were reset */
  CHECK_INT(400, ==, call_i32(i, "rec", &n, 1));
  pvm_instance_del(i);
  /* default limits: a runaway recursion traps instead of overflowing the C stack */
  i = wat_instance(spin_wat);
  n = 100000000;
  CHECK(call_i32(i, "rec", &n, 1) == CALL_FAILED);
  CHECK_INT(PVM_TRAP_STACK_EXHAUSTED, ==, pvm_instance_trap(i));
  pvm_instance_del(i);
}

static void test_vm_instance_memory_limit(void) {
  pvm_limits lim;
  pvm_limits_default(&lim);
  lim.max_memory_pages = 16;
  pvm_instance *i = wat_instance_ex(spin_wat, NULL, &lim);
  CHECK(i != NULL);
  CHECK_INT(15, ==, call_i32(i, "bomb", NULL, 0));
  size_t size = 0;
  pvm_instance_memory(i, &size);
  CHECK_INT(16 * 65536, ==, size);
  pvm_instance_del(i);
  pvm_module *m = wat_module("(module (memory 17))");
  pvm_error err;
  CHECK_INT(PVM_ERR_LIMIT, ==, pvm_instance_new(m, NULL, &lim, &i, &err));
  pvm_module_del(m);
}

/* Memory starts zeroed, keeps its bytes when it grows from nothing, from one page and by
 * many pages (malloc'd below a page, mapped from a page on), and new pages read zero. */
static void test_vm_instance_memory_grow_keeps_and_zeroes(void) {
  pvm_instance *i = wat_instance(
      "(module (memory 0)"
      " (func (export \"grow\") (param i32) (result i32) local.get 0 memory.grow)"
      " (func (export \"get\") (param i32) (result i32) local.get 0 i32.load8_u)"
      " (func (export \"set\") (param i32 i32) (result i32)"
      "   local.get 0 local.get 1 i32.store8 i32.const 0))");
  CHECK(i != NULL);
  uint32_t a[2] = {1, 0};
  CHECK_INT(0, ==, call_i32(i, "grow", a, 1));
  for (uint32_t k = 0; k < 65536; k += 4093) {
    a[0] = k;
    CHECK_INT(0, ==, call_i32(i, "get", a, 1));
    a[1] = (k * 7 + 1) & 0xff;
    call_i32(i, "set", a, 2);
  }
  a[0] = 3;
  CHECK_INT(1, ==, call_i32(i, "grow", a, 1));
  a[0] = 100;
  CHECK_INT(4, ==, call_i32(i, "grow", a, 1));
  for (uint32_t k = 0; k < 65536; k += 4093) {
    a[0] = k;
    CHECK_INT((k * 7 + 1) & 0xff, ==, call_i32(i, "get", a, 1));
  }
  for (uint32_t k = 65536; k < 104u * 65536; k += 65521) {
    a[0] = k;
    CHECK_INT(0, ==, call_i32(i, "get", a, 1));
  }
  size_t size = 0;
  uint8_t *mem = pvm_instance_memory(i, &size);
  CHECK_INT(104 * 65536, ==, size);
  CHECK(mem != NULL && mem[size - 1] == 0 && mem[4093] == ((4093 * 7 + 1) & 0xff));
  pvm_instance_del(i);
}

static void test_vm_instance_call_arguments(void) {
  pvm_instance *i = wat_instance(spin_wat);
  pvm_func *f = pvm_instance_func(i, "count");
  pvm_val a = {.i32 = 3}, r;
  CHECK(f != NULL);
  CHECK(pvm_instance_func(i, "nope") == NULL);
  CHECK_INT(PVM_ERR_ARG, ==, pvm_call(i, f, &a, 0, &r, 1));
  CHECK_INT(PVM_ERR_ARG, ==, pvm_call(i, f, &a, 1, &r, 0));
  CHECK_INT(0, ==, pvm_call(i, f, &a, 1, &r, 1));
  const pvm_functype *t = pvm_func_type(f);
  CHECK(t->nparams == 1 && t->nresults == 1 && t->params[0] == PVM_I32);
  pvm_extern e;
  CHECK_INT(PVM_ERR_NOT_FOUND, ==, pvm_instance_export(i, "x", 1, &e));
  pvm_instance_del(i);
}

static void test_vm_instance_module_descriptions(void) {
  pvm_module *m = wat_module(
      "(module (import \"env\" \"f\" (func (param i32) (result i64)))"
      " (import \"env\" \"t\" (table 1 5 externref))"
      " (memory (export \"m\") 2 3) (global (export \"g\") (mut f32) (f32.const 1))"
      " (func (export \"h\") (param f64)))");
  CHECK(m != NULL);
  CHECK_INT(2, ==, pvm_module_import_count(m));
  CHECK_INT(3, ==, pvm_module_export_count(m));
  pvm_extern_desc d;
  CHECK_INT(0, ==, pvm_module_import(m, 0, &d));
  CHECK(d.kind == PVM_EXTERN_FUNC && d.func.nparams == 1 && d.func.results[0] == PVM_I64);
  CHECK(d.module.len == 3 && memcmp(d.module.ptr, "env", 3) == 0);
  CHECK_INT(0, ==, pvm_module_import(m, 1, &d));
  CHECK(d.kind == PVM_EXTERN_TABLE && d.elem_type == PVM_EXTERNREF && d.limits.max == 5);
  CHECK_INT(0, ==, pvm_module_export(m, 0, &d));
  CHECK(d.kind == PVM_EXTERN_MEMORY && d.limits.min == 2 && d.limits.max == 3);
  CHECK_INT(0, ==, pvm_module_export(m, 1, &d));
  CHECK(d.kind == PVM_EXTERN_GLOBAL && d.global_type == PVM_F32 && d.global_mutable);
  CHECK_INT(PVM_ERR_ARG, ==, pvm_module_export(m, 3, &d));
  pvm_module_del(m);
}

/* Many instances of one module are independent. */
static void test_vm_instance_many_instances(void) {
  pvm_module *m = wat_module(
      "(module (global $g (mut i32) (i32.const 0))"
      " (func (export \"inc\") (result i32) global.get $g i32.const 1 i32.add global.set $g global.get $g))");
  pvm_instance *inst[8];
  pvm_error err;
  for (int k = 0; k < 8; k++) CHECK_INT(0, ==, pvm_instance_new(m, NULL, NULL, &inst[k], &err));
  pvm_module_del(m); /* the instances keep the module alive */
  for (int k = 0; k < 8; k++)
    for (int j = 0; j <= k; j++) call_i32(inst[k], "inc", NULL, 0);
  for (int k = 0; k < 8; k++) CHECK_INT(k + 2, ==, call_i32(inst[k], "inc", NULL, 0));
  for (int k = 0; k < 8; k++) pvm_instance_del(inst[k]);
}

/* One module shared by threads, each with its own instances (modules are read-only). */
static void *thread_body(void *arg) {
  pvm_module *m = arg;
  uintptr_t ok = 1;
  for (int k = 0; k < 50; k++) {
    pvm_instance *inst = NULL;
    pvm_error err;
    if (pvm_instance_new(m, NULL, NULL, &inst, &err) != 0) return NULL;
    uint32_t n = 1000 + (uint32_t)k;
    if (call_i32(inst, "count", &n, 1) != n) ok = 0;
    pvm_instance_del(inst);
  }
  return (void *)ok;
}

static void test_vm_instance_module_shared_by_threads(void) {
  pvm_module *m = wat_module(spin_wat);
  pthread_t t[4];
  CHECK(m != NULL);
  for (int k = 0; k < 4; k++) CHECK_INT(0, ==, pthread_create(&t[k], NULL, thread_body, m));
  for (int k = 0; k < 4; k++) {
    void *r = NULL;
    pthread_join(t[k], &r);
    CHECK(r == (void *)1);
  }
  pvm_module_del(m);
}

int main(void) {
  RUN(test_vm_instance_host_functions);
  RUN(test_vm_instance_host_reentry);
  RUN(test_vm_instance_link_errors);
  RUN(test_vm_instance_cross_instance_linking);
  RUN(test_vm_instance_segment_trap_keeps_earlier_writes);
  RUN(test_vm_instance_fuel);
  RUN(test_vm_instance_deadline);
  RUN(test_vm_instance_call_depth);
  RUN(test_vm_instance_memory_limit);
  RUN(test_vm_instance_memory_grow_keeps_and_zeroes);
  RUN(test_vm_instance_call_arguments);
  RUN(test_vm_instance_module_descriptions);
  RUN(test_vm_instance_many_instances);
  RUN(test_vm_instance_module_shared_by_threads);
  return test_report();
}
