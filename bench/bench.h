/*
 * bench.h: the benchmark driver's suite table and shared helpers.
 *
 * pluginop-bench runs one suite per invocation (`pluginop-bench vm`). A suite is a name,
 * a one-line description and a run function taking the command line after the suite
 * name. To add one: write bench/suite_<name>.c defining a `const bench_suite
 * bench_suite_<name>`, declare it below and list it in bench_main.c's table.
 */
#ifndef PLUGINOP_BENCH_H
#define PLUGINOP_BENCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct bench_suite {
  const char *name;
  const char *description;
  /* Runs the suite; argv[0] is the suite name. Returns the exit status (0 = ok). */
  int (*run)(int argc, char **argv);
} bench_suite;

extern const bench_suite bench_suite_vm;
extern const bench_suite bench_suite_call;
extern const bench_suite bench_suite_plugins;

/* Options every suite understands: --runs N (timed runs, median reported; default 5),
 * --scale F (multiplies the work per run; default 1), --only NAME (run only the case
 * NAME of the suite, e.g. one kernel; NULL = all). */
typedef struct bench_opts {
  int runs;
  double scale;
  const char *only;
} bench_opts;

/* Parses the common options from argv[1..]; unknown options are an error.
 * Returns 0 or -1 (message printed). */
int bench_parse_opts(int argc, char **argv, bench_opts *opts);

/* Monotonic clock in nanoseconds. */
uint64_t bench_now_ns(void);

/* Median of |n| samples (sorts them in place). */
double bench_median(double *samples, size_t n);

/* Reads a whole file (caller frees); NULL with a message printed on failure. */
uint8_t *bench_read_file(const char *path, size_t *len);

/* The benchmark kernels' wasm module: $PLUGINOP_BENCH_WASM or the path built in. */
const char *bench_kernels_wasm(void);

#endif
