/*
 * fuzz_vm_decode: any byte string through the VM's front end. pvm_module_validate() and
 * pvm_module_new() must never crash, must agree on whether the bytes are a valid module,
 * and a compiled module's import/export descriptions must be readable.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pluginop/vm.h"

/* Reads every byte of a description, so sanitizers see any bad pointer in it. */
static unsigned touch_desc(const pvm_extern_desc *d) {
  unsigned sum = d->kind;
  for (uint32_t i = 0; i < d->module.len; i++)
    sum += (unsigned char)d->module.ptr[i];
  for (uint32_t i = 0; i < d->name.len; i++)
    sum += (unsigned char)d->name.ptr[i];
  if (d->kind == PVM_EXTERN_FUNC) {
    for (uint32_t i = 0; i < d->func.nparams; i++)
      sum += d->func.params[i];
    for (uint32_t i = 0; i < d->func.nresults; i++)
      sum += d->func.results[i];
  }
  return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  pvm_error err;
  memset(&err, 0, sizeof err);
  int valid = pvm_module_validate(data, size, &err);
  if (memchr(err.msg, 0, sizeof err.msg) == NULL)
    abort(); /* the message must be NUL-terminated */
  pvm_module *m = NULL;
  int rc = pvm_module_new(data, size, &m, &err);
  if ((valid == 0 && (rc == PVM_ERR_MALFORMED || rc == PVM_ERR_INVALID)) ||
      (valid < 0 && rc == 0))
    abort(); /* validate and new disagree */
  if (rc == 0) {
    volatile unsigned sink = 0;
    pvm_extern_desc d;
    for (uint32_t i = 0; i < pvm_module_import_count(m); i++)
      if (pvm_module_import(m, i, &d) == 0)
        sink += touch_desc(&d);
    for (uint32_t i = 0; i < pvm_module_export_count(m); i++)
      if (pvm_module_export(m, i, &d) == 0)
        sink += touch_desc(&d);
    (void)sink;
    pvm_module_del(m);
  }
  return 0;
}
