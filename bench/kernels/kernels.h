/*
 * kernels.h: the benchmark kernels. kernels.c is compiled twice from the same source:
 * natively into pluginop-bench (gcc -O2) and to wasm32 with clang (bench_kernels.wasm),
 * where each kernel is exported under its short name ("fib", "sieve", ...).
 *
 * Every kernel takes a repetition count and returns a 32-bit checksum of its work; the
 * native and VM runs must return the same checksum. Kernels only use <stdint.h> (the wasm
 * build has no libc).
 */
#ifndef PLUGINOP_BENCH_KERNELS_H
#define PLUGINOP_BENCH_KERNELS_H

#include <stdint.h>

/* X(name, what it exercises, default repetitions) */
#define BENCH_KERNELS(X)                                                                \
  X(fib, "recursion: fib(24) calls", 80)                                                 \
  X(sieve, "memory: byte sieve to 1M", 2)                                               \
  X(crc32, "integer: crc32 + fnv1a", 24)                                                \
  X(nbody, "float: n-body, 1000 steps", 40)                                              \
  X(matmul, "float: 48x48 f64 matmul", 120)                                              \
  X(sort, "branches: quicksort 32k", 3)                                                 \
  X(varint, "bytes: LEB128 varints", 10)                                                \
  X(json, "bytes: JSON-ish scanner", 40)

#define BENCH_DECLARE(name, what, reps) uint32_t bk_##name(uint32_t reps_);
BENCH_KERNELS(BENCH_DECLARE)
#undef BENCH_DECLARE

/* For the call benchmark: constant and two-argument functions. */
uint32_t bk_const42(void);
uint32_t bk_add(uint32_t a, uint32_t b);

#endif
