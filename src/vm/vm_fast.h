/*
 * vm_fast.h: an internal entry into the VM for the plugin runtime (src/plugin), not part
 * of the public API (include/pluginop/vm.h). It skips what pvm_call does for a caller it
 * knows nothing about (argument marshalling, arity and pointer checks) because the
 * runtime checked every operation export's type, (i32) -> i64, once when the plugin was
 * loaded. Limits (fuel, deadline, memory, call depth) and traps are exactly pvm_call's:
 * both run the same interpreter entry (vm_exec).
 */
#ifndef PLUGINOP_VM_FAST_H
#define PLUGINOP_VM_FAST_H

#include <stddef.h>
#include <stdint.h>

#include "pluginop/vm.h"

/* Calls |fn| of |inst|, whose type must be (i32) -> i64 (the caller's invariant, not
 * checked here), with |arg|; its result goes to *result on success.
 * Whatever the outcome, *mem and *msize receive memory 0 as it is after the call (it may
 * have grown and moved; NULL and 0 without memory), saving a pvm_instance_memory call.
 * Returns 0, or PVM_ERR_TRAP with the trap recorded as for pvm_call
 * (pvm_instance_trap / pvm_instance_trap_message). */
int vm_call_op(pvm_instance *inst, const pvm_func *fn, int32_t arg, int64_t *result,
               uint8_t **mem, size_t *msize);

#endif
