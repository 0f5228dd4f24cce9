/* bench_vm.h: loading the benchmark kernels into the VM (suites vm and call). */
#ifndef PLUGINOP_BENCH_VM_H
#define PLUGINOP_BENCH_VM_H

#include "pluginop/vm.h"

/* Compiles and instantiates bench_kernels.wasm (bench_kernels_wasm()) with default limits.
 * Returns 0 or -1 (message printed). Free with pvm_instance_del. */
int bench_vm_load_kernels(pvm_instance **out);

#endif
