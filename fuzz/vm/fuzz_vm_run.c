/*
 * fuzz_vm_run: instantiate whatever compiles, with small limits, and call every exported
 * function with zero arguments under a fuel budget. Imported functions are satisfied by
 * host functions returning zeros. Nothing may crash; memory may not outgrow the limit.
 *
 * Differential check: the same calls run on a second instance with four times the fuel.
 * Execution is deterministic, so every call that completed under the small budget must
 * complete under the large one with the same results and the same fuel count, every
 * other trap must be the same trap, and memory must end up the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pluginop/vm.h"

#define FUZZ_MAX_PAGES 16
#define FUZZ_FUEL 100000
#define FUZZ_MAX_CALLS 32
#define FUZZ_MAX_VALUES 64

/* What one call did. */
typedef struct call_log {
  int rc;
  pvm_trap_kind trap;
  uint64_t fuel_used;
  uint32_t nresults;
  pvm_val results[FUZZ_MAX_VALUES];
  uint8_t types[FUZZ_MAX_VALUES];
} call_log;

typedef struct run_log {
  uint32_t ncalls;
  call_log calls[FUZZ_MAX_CALLS];
} run_log;

/* A host function of any type: results are zero (user_data holds their count). */
static int host_zero(pvm_call_ctx *ctx, const pvm_val *args, pvm_val *results, void *ud) {
  (void)ctx, (void)args;
  size_t n = (size_t)(uintptr_t)ud;
  memset(results, 0, n * sizeof *results);
  return 0;
}

/* Copies a wasm name to a C string; false if it holds a NUL or is too long. */
static int cname(const pvm_name *n, char *out, size_t cap) {
  if (n->len >= cap || memchr(n->ptr, 0, n->len))
    return 0;
  memcpy(out, n->ptr, n->len);
  out[n->len] = 0;
  return 1;
}

static void define_imports(pvm_module *m, pvm_linker *l) {
  pvm_extern_desc d;
  char mod[256], name[256];
  for (uint32_t i = 0; i < pvm_module_import_count(m); i++) {
    if (pvm_module_import(m, i, &d) < 0 || d.kind != PVM_EXTERN_FUNC)
      continue;
    if (!cname(&d.module, mod, sizeof mod) || !cname(&d.name, name, sizeof name))
      continue;
    pvm_linker_define_func(l, mod, name, d.func.params, d.func.nparams, d.func.results,
                           d.func.nresults, host_zero, (void *)(uintptr_t)d.func.nresults);
  }
}

/* A reference result is compared by null-ness only (pointers differ between instances). */
static int same_value(uint8_t type, pvm_val a, pvm_val b) {
  if (type == PVM_FUNCREF || type == PVM_EXTERNREF)
    return (a.ref == NULL) == (b.ref == NULL);
  if (type == PVM_I32 || type == PVM_F32)
    return a.i32 == b.i32;
  return a.i64 == b.i64;
}

/* Calls every exported function (zero arguments) with |fuel| each; fills |log|. */
static void call_exports(pvm_module *m, pvm_instance *inst, uint64_t fuel, run_log *log) {
  static pvm_val args[FUZZ_MAX_VALUES];
  pvm_extern_desc d;
  log->ncalls = 0;
  for (uint32_t i = 0; i < pvm_module_export_count(m) && log->ncalls < FUZZ_MAX_CALLS; i++) {
    if (pvm_module_export(m, i, &d) < 0 || d.kind != PVM_EXTERN_FUNC)
      continue;
    pvm_extern ext;
    if (pvm_instance_export(inst, d.name.ptr, d.name.len, &ext) < 0 ||
        ext.kind != PVM_EXTERN_FUNC)
      abort(); /* the module says it exports it */
    const pvm_functype *ft = pvm_func_type(ext.u.func);
    if (!ft || ft->nparams > FUZZ_MAX_VALUES || ft->nresults > FUZZ_MAX_VALUES)
      continue;
    call_log *c = &log->calls[log->ncalls++];
    memset(c, 0, sizeof *c);
    memset(args, 0, sizeof args);
    pvm_instance_set_fuel(inst, fuel);
    c->rc = pvm_call(inst, ext.u.func, args, ft->nparams, c->results, ft->nresults);
    c->nresults = ft->nresults;
    memcpy(c->types, ft->results, ft->nresults);
    c->fuel_used = pvm_instance_fuel_used(inst);
    if (c->rc == PVM_ERR_TRAP) {
      c->trap = pvm_instance_trap(inst);
      if (!pvm_instance_trap_message(inst))
        abort();
    }
    if (c->rc == 0 && c->fuel_used > fuel)
      abort(); /* ran past its budget */
    size_t size = 0;
    pvm_instance_memory(inst, &size);
    if (size > (size_t)FUZZ_MAX_PAGES * 65536)
      abort(); /* grew past the limit */
  }
}

/* Instantiates |m| with |fuel| for the start function too; NULL if that fails. */
static pvm_instance *instantiate(pvm_module *m, pvm_linker *l, uint64_t fuel, int *rc) {
  pvm_limits lim;
  pvm_limits_default(&lim);
  lim.max_memory_pages = FUZZ_MAX_PAGES;
  lim.max_table_elems = 10000;
  lim.max_call_depth = 300;
  lim.fuel = fuel;
  pvm_instance *inst = NULL;
  pvm_error err;
  *rc = pvm_instance_new(m, l, &lim, &inst, &err);
  return *rc == 0 ? inst : NULL;
}

/* The small run |a| against the large run |b| of the same calls (see the top). */
static void compare(pvm_instance *ia, pvm_instance *ib, const run_log *a,
                    const run_log *b) {
  if (a->ncalls != b->ncalls)
    abort();
  for (uint32_t i = 0; i < a->ncalls; i++) {
    const call_log *x = &a->calls[i], *y = &b->calls[i];
    if (x->rc == PVM_ERR_TRAP && x->trap == PVM_TRAP_OUT_OF_FUEL)
      return; /* from here on the instances' states may differ */
    if (x->rc != y->rc || x->trap != y->trap || x->nresults != y->nresults)
      abort();
    if (x->rc == 0 && x->fuel_used != y->fuel_used)
      abort(); /* the count must not depend on the budget */
    for (uint32_t r = 0; x->rc == 0 && r < x->nresults; r++)
      if (x->types[r] != y->types[r] || !same_value(x->types[r], x->results[r], y->results[r]))
        abort();
  }
  size_t sa = 0, sb = 0;
  const uint8_t *ma = pvm_instance_memory(ia, &sa), *mb = pvm_instance_memory(ib, &sb);
  if (sa != sb || (sa && memcmp(ma, mb, sa) != 0))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static run_log la, lb;
  pvm_module *m = NULL;
  pvm_error err;
  if (pvm_module_new(data, size, &m, &err) < 0)
    return 0;
  pvm_linker *l = NULL;
  if (pvm_linker_new(&l) == 0) {
    define_imports(m, l);
    int rca, rcb;
    pvm_instance *ia = instantiate(m, l, FUZZ_FUEL, &rca);
    pvm_instance *ib = instantiate(m, l, 4 * FUZZ_FUEL, &rcb);
    if (ia && !ib)
      abort(); /* more fuel cannot make instantiation fail */
    if (ia && ib) {
      call_exports(m, ia, FUZZ_FUEL, &la);
      call_exports(m, ib, 4 * FUZZ_FUEL, &lb);
      compare(ia, ib, &la, &lb);
    }
    pvm_instance_del(ia);
    pvm_instance_del(ib);
    pvm_linker_del(l);
  }
  pvm_module_del(m);
  return 0;
}
