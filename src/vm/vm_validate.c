/*
 * vm_validate.c: WebAssembly 2.0 validation (stub: full validator follows).
 */
#include "vm_module.h"

int vm_validate(vm_module *m, pvm_error *err) {
  (void)m;
  (void)err;
  return 0;
}
