/*
 * Suite "call": the cost of one host-to-wasm call through pvm_call, for an exported
 * function returning a constant (no arguments) and one adding two i32 arguments.
 * Reports the median nanoseconds per call over several runs of many calls.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "bench_vm.h"

#define CALLS_PER_RUN 200000

/* Median ns per call of |f| (nargs i32 arguments, one result); -1 on failure. */
static double time_calls(pvm_instance *inst, pvm_func *f, uint32_t nargs, uint32_t want,
                         const bench_opts *o) {
  pvm_val args[2] = {{.i32 = 40}, {.i32 = 2}}, res = {0};
  uint32_t calls = (uint32_t)(CALLS_PER_RUN * o->scale) + 1;
  double *samples = calloc((size_t)o->runs, sizeof *samples);
  if (!samples)
    return -1;
  double result = 0;
  for (int r = -1; r < o->runs && result == 0; r++) { /* r == -1: warm-up */
    uint64_t t0 = bench_now_ns();
    for (uint32_t i = 0; i < calls; i++) {
      if (pvm_call(inst, f, args, nargs, &res, 1) < 0 || res.i32 != want) {
        fprintf(stderr, "pluginop-bench: call failed or returned %u\n", res.i32);
        result = -1;
        break;
      }
    }
    if (r >= 0)
      samples[r] = (double)(bench_now_ns() - t0) / calls;
  }
  if (result == 0)
    result = bench_median(samples, (size_t)o->runs);
  free(samples);
  return result;
}

static int run_suite(int argc, char **argv) {
  bench_opts o;
  if (bench_parse_opts(argc, argv, &o) < 0)
    return 64;
  pvm_instance *inst;
  if (bench_vm_load_kernels(&inst) < 0)
    return 1;
  pvm_func *c42 = pvm_instance_func(inst, "const42");
  pvm_func *add = pvm_instance_func(inst, "add");
  if (!c42 || !add) {
    fprintf(stderr, "pluginop-bench: the kernels module lacks const42 or add\n");
    pvm_instance_del(inst);
    return 1;
  }
  printf("suite call: pvm_call from the host, median of %d runs of %u calls\n", o.runs,
         (unsigned)(CALLS_PER_RUN * o.scale) + 1);
  double t1 = time_calls(inst, c42, 0, 42, &o);
  double t2 = t1 < 0 ? -1 : time_calls(inst, add, 2, 42, &o);
  if (t1 >= 0)
    printf("  %-34s %8.1f ns/call\n", "const42() -> i32", t1);
  if (t2 >= 0)
    printf("  %-34s %8.1f ns/call\n", "add(i32, i32) -> i32", t2);
  pvm_instance_del(inst);
  return t1 < 0 || t2 < 0 ? 1 : 0;
}

const bench_suite bench_suite_call = {
    "call", "cost of one host-to-wasm call through pvm_call", run_suite};
