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

/* What vm_call_op gives back: the op's result (on success) and memory 0 as it is after
 * the call, whatever the outcome (it may have grown and moved; NULL and 0 without
 * memory), which saves the caller a pvm_instance_memory call. */
typedef struct vm_op_out {
  int64_t result;
  uint8_t *mem;
  size_t msize;
} vm_op_out;

/* Calls |fn| of |inst|, whose type must be (i32) -> i64 (the caller's invariant, not
 * checked here), with |arg|; fills *out (see vm_op_out).
 * Returns 0, or PVM_ERR_TRAP with the trap recorded as for pvm_call
 * (pvm_instance_trap / pvm_instance_trap_message). */
int vm_call_op(pvm_instance *inst, const pvm_func *fn, int32_t arg, vm_op_out *out);

/* Where memory 0 of |inst| keeps its base address and its size in bytes: the fields
 * themselves, which stay at these addresses for the instance's life while their values
 * change when the memory grows. Lets the runtime read the current memory with two loads
 * instead of a call. Both NULL when the instance has no memory. */
void vm_instance_memory_fields(pvm_instance *inst, uint8_t *const **data,
                               const uint64_t **size);

#endif
