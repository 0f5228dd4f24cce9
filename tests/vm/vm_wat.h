/*
 * vm_wat.h: test helpers that turn WebAssembly text into modules and instances with
 * wat2wasm (run through system() in a private temporary directory).
 *
 *   pvm_instance *inst = wat_instance("(module (func (export \"f\") (result i32) i32.const 1))");
 *   CHECK_INT(1, ==, call_i32(inst, "f", NULL, 0));
 */
#ifndef PLUGINOP_VM_WAT_H
#define PLUGINOP_VM_WAT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pluginop/vm.h"

/* Assembles |wat| (with the given extra wat2wasm flags); returns malloc'd bytes or NULL. */
static inline uint8_t *wat_to_wasm_ex(const char *wat, const char *flags, size_t *len) {
  char dir[] = "/tmp/pvm_wat_XXXXXX";
  char in[64], out[64], cmd[256];
  uint8_t *bytes = NULL;
  if (!mkdtemp(dir)) return NULL;
  snprintf(in, sizeof in, "%s/m.wat", dir);
  snprintf(out, sizeof out, "%s/m.wasm", dir);
  FILE *f = fopen(in, "w");
  if (f) {
    fputs(wat, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "wat2wasm %s %s -o %s", flags, in, out);
    if (system(cmd) == 0 && (f = fopen(out, "rb")) != NULL) {
      fseek(f, 0, SEEK_END);
      long n = ftell(f);
      fseek(f, 0, SEEK_SET);
      bytes = malloc(n > 0 ? (size_t)n : 1);
      if (bytes && fread(bytes, 1, (size_t)n, f) == (size_t)n) {
        *len = (size_t)n;
      } else {
        free(bytes);
        bytes = NULL;
      }
      fclose(f);
    }
  }
  unlink(in);
  unlink(out);
  rmdir(dir);
  return bytes;
}

static inline pvm_module *wat_module(const char *wat) {
  size_t len = 0;
  uint8_t *bytes = wat_to_wasm_ex(wat, "", &len);
  pvm_module *m = NULL;
  pvm_error err;
  if (!bytes) {
    fprintf(stderr, "wat2wasm failed for:\n%s\n", wat);
    return NULL;
  }
  if (pvm_module_new(bytes, len, &m, &err) != 0) fprintf(stderr, "module: %s\n", err.msg);
  free(bytes);
  return m;
}

/* Instantiates |wat| with |linker| and |limits| (both may be NULL). */
static inline pvm_instance *wat_instance_ex(const char *wat, const pvm_linker *linker,
                                            const pvm_limits *limits) {
  pvm_module *m = wat_module(wat);
  pvm_instance *inst = NULL;
  pvm_error err;
  if (!m) return NULL;
  if (pvm_instance_new(m, linker, limits, &inst, &err) != 0)
    fprintf(stderr, "instance: %s\n", err.msg);
  pvm_module_del(m);
  return inst;
}

static inline pvm_instance *wat_instance(const char *wat) {
  return wat_instance_ex(wat, NULL, NULL);
}

/* Calls export |name| with |n| i64-or-i32 arguments; returns result 0 (as u64), or
 * 0xdeadbeef... if the call failed (the test then checks the trap). */
#define CALL_FAILED 0xdeadbeefdeadbeefull
static inline uint64_t call_n(pvm_instance *inst, const char *name, const pvm_val *args,
                              uint32_t nargs, uint32_t nresults, pvm_val *results) {
  pvm_func *f = inst ? pvm_instance_func(inst, name) : NULL;
  pvm_val local[8];
  if (!results) results = local;
  if (!f) {
    fprintf(stderr, "no export %s\n", name);
    return CALL_FAILED;
  }
  if (pvm_call(inst, f, args, nargs, results, nresults) != 0) return CALL_FAILED;
  return nresults ? results[0].i64 : 0;
}

static inline uint64_t call_i32(pvm_instance *inst, const char *name, const uint32_t *a,
                                uint32_t n) {
  pvm_val args[8];
  for (uint32_t i = 0; i < n; i++) args[i].i64 = a[i];
  uint64_t r = call_n(inst, name, args, n, 1, NULL);
  return r == CALL_FAILED ? r : (uint32_t)r;
}

#endif
