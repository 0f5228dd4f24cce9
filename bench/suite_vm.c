/*
 * Suite "vm": our compute kernels (kernels/kernels.c), run natively (gcc -O2, linked into
 * this program) and in the VM (the same source built to wasm32 by clang), in the same
 * invocation. Prints each kernel's median time, the VM/native ratio and their geometric
 * mean. The checksums of both runs must agree: a mismatch fails the suite.
 */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_vm.h"
#include "kernels.h"

typedef struct kernel {
  const char *name;
  const char *what;
  uint32_t (*native)(uint32_t);
  uint32_t reps;
} kernel;

#define BENCH_ENTRY(name, what, reps) {#name, what, bk_##name, reps},
static const kernel kernels[] = {BENCH_KERNELS(BENCH_ENTRY)};
#undef BENCH_ENTRY
#define NKERNELS (sizeof kernels / sizeof kernels[0])

int bench_vm_load_kernels(pvm_instance **out) {
  const char *path = bench_kernels_wasm();
  size_t len;
  uint8_t *bytes = bench_read_file(path, &len);
  if (!bytes)
    return -1;
  pvm_module *m = NULL;
  pvm_error err;
  memset(&err, 0, sizeof err);
  int rc = pvm_module_new(bytes, len, &m, &err);
  free(bytes);
  if (rc < 0) {
    fprintf(stderr, "pluginop-bench: %s: %s\n", path, err.msg);
    return -1;
  }
  rc = pvm_instance_new(m, NULL, NULL, out, &err);
  pvm_module_del(m);
  if (rc < 0) {
    fprintf(stderr, "pluginop-bench: %s: cannot instantiate: %s\n", path, err.msg);
    return -1;
  }
  return 0;
}

/* The native call goes through a volatile pointer so the compiler cannot specialise it. */
static uint32_t run_native(const kernel *k, uint32_t reps, double *ms) {
  uint32_t (*volatile fn)(uint32_t) = k->native;
  uint64_t t0 = bench_now_ns();
  uint32_t sum = fn(reps);
  *ms = (double)(bench_now_ns() - t0) / 1e6;
  return sum;
}

/* Returns 0, or -1 if the call failed (message printed). */
static int run_vm(pvm_instance *inst, pvm_func *f, uint32_t reps, double *ms,
                  uint32_t *sum) {
  pvm_val arg = {.i32 = reps}, res = {0};
  uint64_t t0 = bench_now_ns();
  int rc = pvm_call(inst, f, &arg, 1, &res, 1);
  *ms = (double)(bench_now_ns() - t0) / 1e6;
  if (rc < 0) {
    fprintf(stderr, "pluginop-bench: VM call failed: %s%s%s\n", pvm_status_message(rc),
            rc == PVM_ERR_TRAP ? ": " : "",
            rc == PVM_ERR_TRAP ? pvm_instance_trap_message(inst) : "");
    return -1;
  }
  *sum = res.i32;
  return 0;
}

/* Runs one kernel (1 warm-up + |runs| timed runs each way); fills the medians. Returns 0,
 * or -1 on a failure or checksum mismatch (printed). */
static int bench_kernel(pvm_instance *inst, const kernel *k, const bench_opts *o,
                        double *native_ms, double *vm_ms, uint32_t *checksum,
                        uint64_t *instructions) {
  pvm_func *f = pvm_instance_func(inst, k->name);
  const pvm_functype *ft = f ? pvm_func_type(f) : NULL;
  if (!ft || ft->nparams != 1 || ft->nresults != 1) {
    fprintf(stderr, "pluginop-bench: the kernels module lacks %s(i32) -> i32\n", k->name);
    return -1;
  }
  uint32_t reps = (uint32_t)ceil(k->reps * o->scale);
  double *ns = calloc((size_t)o->runs + 1, sizeof *ns);
  double *vs = calloc((size_t)o->runs + 1, sizeof *vs);
  int rc = ns && vs ? 0 : -1;
  uint32_t want = 0, got = 0;
  for (int r = 0; r <= o->runs && rc == 0; r++) { /* run 0 is the warm-up */
    double t;
    uint32_t s = run_native(k, reps, &t);
    if (r == 0)
      want = s;
    else
      ns[r - 1] = t;
    if (s != want) {
      fprintf(stderr, "pluginop-bench: %s: native checksum varies between runs\n", k->name);
      rc = -1;
    }
    rc = rc ? rc : run_vm(inst, f, reps, &t, &got);
    *instructions = pvm_instance_fuel_used(inst); /* the same every run */
    if (rc == 0 && r > 0)
      vs[r - 1] = t;
    if (rc == 0 && got != want) {
      fprintf(stderr, "pluginop-bench: %s: checksum mismatch: native 0x%08" PRIx32
                      ", VM 0x%08" PRIx32 "\n", k->name, want, got);
      rc = -1;
    }
  }
  if (rc == 0) {
    *native_ms = bench_median(ns, (size_t)o->runs);
    *vm_ms = bench_median(vs, (size_t)o->runs);
    *checksum = want;
  }
  free(ns);
  free(vs);
  return rc;
}

static int run_suite(int argc, char **argv) {
  bench_opts o;
  if (bench_parse_opts(argc, argv, &o) < 0)
    return 64;
  bool known = !o.only;
  for (size_t i = 0; i < NKERNELS && !known; i++)
    known = strcmp(o.only, kernels[i].name) == 0;
  if (!known) {
    fprintf(stderr, "pluginop-bench vm: no kernel named \"%s\"\n", o.only);
    return 64;
  }
  pvm_instance *inst;
  if (bench_vm_load_kernels(&inst) < 0)
    return 1;
  printf("suite vm: %zu kernels, median of %d runs after a warm-up, scale %g\n"
         "  native: the same C compiled into pluginop-bench; VM: %s\n",
         NKERNELS, o.runs, o.scale, bench_kernels_wasm());
  printf("  %-8s %-28s %11s %11s %10s %9s  %s\n", "kernel", "what", "native ms", "VM ms",
         "VM/native", "VM Mi/s", "checksum");
  double log_sum = 0;
  int failed = 0, done = 0;
  for (size_t i = 0; i < NKERNELS; i++) {
    if (o.only && strcmp(o.only, kernels[i].name) != 0)
      continue;
    double nms, vms;
    uint32_t sum;
    uint64_t instr = 0;
    if (bench_kernel(inst, &kernels[i], &o, &nms, &vms, &sum, &instr) < 0) {
      printf("  %-8s %-28s FAILED\n", kernels[i].name, kernels[i].what);
      failed++;
      continue;
    }
    double ratio = nms > 0 ? vms / nms : 0;
    if (ratio > 0) {
      log_sum += log(ratio);
      done++;
    }
    /* Millions of wasm instructions per second (the VM's fuel count of one run). */
    double mips = vms > 0 ? (double)instr / (vms * 1e3) : 0;
    printf("  %-8s %-28s %11.3f %11.3f %9.1fx %9.0f  %08" PRIx32 "\n", kernels[i].name,
           kernels[i].what, nms, vms, ratio, mips, sum);
    fflush(stdout);
  }
  if (done)
    printf("  geometric mean VM/native: %.1fx over %d kernels\n", exp(log_sum / done), done);
  pvm_instance_del(inst);
  if (failed)
    printf("suite vm: %d kernel(s) FAILED\n", failed);
  return failed ? 1 : 0;
}

const bench_suite bench_suite_vm = {
    "vm", "compute kernels in the VM vs the same C compiled natively", run_suite};
