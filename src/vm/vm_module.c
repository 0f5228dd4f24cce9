/*
 * vm_module.c: freeing a decoded module, small queries on it, error reporting, and the
 * public pvm_module_validate() / status and trap messages.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm_module.h"

void vm_module_free(vm_module *m) {
  uint32_t i;
  if (!m) return;
  if (m->types) {
    for (i = 0; i < m->ntypes; i++) free(m->types[i].types);
  }
  if (m->funcs) {
    for (i = 0; i < m->nfuncs; i++) free(m->funcs[i].local_runs);
  }
  if (m->elems) {
    for (i = 0; i < m->nelems; i++) free(m->elems[i].items);
  }
  free(m->types);
  free(m->imports);
  free(m->funcs);
  free(m->func_types);
  free(m->tables);
  free(m->mems);
  free(m->globals);
  free(m->exports);
  free(m->elems);
  free(m->datas);
  free(m->customs);
  free(m->func_names);
  free(m->bytes);
  memset(m, 0, sizeof *m);
}

const vm_functype *vm_module_func_type(const vm_module *m, uint32_t index) {
  uint32_t type;
  if (!m->func_types || (uint64_t)index >= (uint64_t)m->nfunc_imports + m->nfuncs) return NULL;
  type = m->func_types[index];
  return type < m->ntypes ? &m->types[type] : NULL;
}

int vm_error_set(pvm_error *err, int status, long offset, const char *fmt, ...) {
  va_list ap;
  if (!err) return status;
  err->status = status;
  err->offset = offset;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  return status;
}

int pvm_module_validate(const uint8_t *bytes, size_t len, pvm_error *err) {
  vm_module m;
  int rv;
  if (err) {
    err->status = 0;
    err->offset = -1;
    err->msg[0] = 0;
  }
  if (!bytes && len) return vm_error_set(err, PVM_ERR_ARG, -1, "NULL bytes");
  rv = vm_decode(bytes, len, &m, err);
  if (rv) return rv;
  rv = vm_validate(&m, err);
  vm_module_free(&m);
  return rv;
}

const char *pvm_status_message(int status) {
  switch (status) {
  case PVM_OK: return "ok";
  case PVM_ERR_MALFORMED: return "malformed module";
  case PVM_ERR_INVALID: return "invalid module";
  case PVM_ERR_UNLINKABLE: return "unlinkable module";
  case PVM_ERR_TRAP: return "trap";
  case PVM_ERR_NOMEM: return "out of memory";
  case PVM_ERR_ARG: return "bad argument";
  case PVM_ERR_NOT_FOUND: return "not found";
  case PVM_ERR_LIMIT: return "limit exceeded";
  default: return "unknown status";
  }
}

const char *pvm_trap_message(pvm_trap_kind kind) {
  switch (kind) {
  case PVM_TRAP_NONE: return "no trap";
  case PVM_TRAP_UNREACHABLE: return "unreachable";
  case PVM_TRAP_MEMORY_OOB: return "out of bounds memory access";
  case PVM_TRAP_TABLE_OOB: return "out of bounds table access";
  case PVM_TRAP_UNDEFINED_ELEMENT: return "undefined element";
  case PVM_TRAP_UNINITIALIZED_ELEMENT: return "uninitialized element";
  case PVM_TRAP_INDIRECT_TYPE: return "indirect call type mismatch";
  case PVM_TRAP_DIV_ZERO: return "integer divide by zero";
  case PVM_TRAP_INT_OVERFLOW: return "integer overflow";
  case PVM_TRAP_INVALID_CONVERSION: return "invalid conversion to integer";
  case PVM_TRAP_STACK_EXHAUSTED: return "call stack exhausted";
  case PVM_TRAP_OUT_OF_FUEL: return "out of fuel";
  case PVM_TRAP_DEADLINE: return "deadline exceeded";
  case PVM_TRAP_HOST: return "host function failed";
  case PVM_TRAP_MEMORY_LIMIT: return "memory limit exceeded";
  default: return "unknown trap";
  }
}

const char *pvm_valtype_name(uint8_t type) {
  switch (type) {
  case PVM_I32: return "i32";
  case PVM_I64: return "i64";
  case PVM_F32: return "f32";
  case PVM_F64: return "f64";
  case PVM_V128: return "v128";
  case PVM_FUNCREF: return "funcref";
  case PVM_EXTERNREF: return "externref";
  default: return "?";
  }
}
