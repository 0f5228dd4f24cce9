/*
 * fuzz_vm_run: instantiate whatever compiles, with small limits, and call every exported
 * function with zero arguments under a fuel budget. Imported functions are satisfied by
 * host functions returning zeros. Nothing may crash; memory may not outgrow the limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pluginop/vm.h"

#define FUZZ_MAX_PAGES 16
#define FUZZ_FUEL 200000
#define FUZZ_MAX_CALLS 64
#define FUZZ_MAX_VALUES 1024

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

static void call_exports(pvm_module *m, pvm_instance *inst) {
  static pvm_val args[FUZZ_MAX_VALUES], results[FUZZ_MAX_VALUES];
  pvm_extern_desc d;
  uint32_t calls = 0;
  for (uint32_t i = 0; i < pvm_module_export_count(m) && calls < FUZZ_MAX_CALLS; i++) {
    if (pvm_module_export(m, i, &d) < 0 || d.kind != PVM_EXTERN_FUNC)
      continue;
    pvm_extern ext;
    if (pvm_instance_export(inst, d.name.ptr, d.name.len, &ext) < 0 ||
        ext.kind != PVM_EXTERN_FUNC)
      abort(); /* the module says it exports it */
    const pvm_functype *ft = pvm_func_type(ext.u.func);
    if (!ft || ft->nparams > FUZZ_MAX_VALUES || ft->nresults > FUZZ_MAX_VALUES)
      continue;
    memset(args, 0, sizeof args);
    pvm_instance_set_fuel(inst, FUZZ_FUEL);
    int rc = pvm_call(inst, ext.u.func, args, ft->nparams, results, ft->nresults);
    calls++;
    if (rc == PVM_ERR_TRAP && !pvm_instance_trap_message(inst))
      abort();
    if (rc == 0 && pvm_instance_fuel_used(inst) > FUZZ_FUEL)
      abort(); /* ran past its budget */
    size_t size = 0;
    pvm_instance_memory(inst, &size);
    if (size > (size_t)FUZZ_MAX_PAGES * 65536)
      abort(); /* grew past the limit */
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  pvm_module *m = NULL;
  pvm_error err;
  if (pvm_module_new(data, size, &m, &err) < 0)
    return 0;
  pvm_linker *l = NULL;
  if (pvm_linker_new(&l) == 0) {
    define_imports(m, l);
    pvm_limits lim;
    pvm_limits_default(&lim);
    lim.max_memory_pages = FUZZ_MAX_PAGES;
    lim.max_table_elems = 10000;
    lim.max_call_depth = 300;
    lim.fuel = FUZZ_FUEL; /* the start function too */
    pvm_instance *inst = NULL;
    if (pvm_instance_new(m, l, &lim, &inst, &err) == 0) {
      call_exports(m, inst);
      pvm_instance_del(inst);
    }
    pvm_linker_del(l);
  }
  pvm_module_del(m);
  return 0;
}
