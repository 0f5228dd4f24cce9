/*
 * pluginop-bench: benchmark suites, one per invocation.
 *
 *   pluginop-bench list              the suites, one per line
 *   pluginop-bench SUITE [OPTIONS]   --runs N, --scale F, --only CASE (see bench.h)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

/* Every suite, in the order `scripts/bench.sh` runs them. */
static const bench_suite *const suites[] = {
    &bench_suite_vm,
    &bench_suite_call,
    &bench_suite_plugins,
};
#define NSUITES (sizeof suites / sizeof suites[0])

int bench_parse_opts(int argc, char **argv, bench_opts *o) {
  o->runs = 5;
  o->scale = 1.0;
  o->only = NULL;
  for (int i = 1; i < argc; i++) {
    char *end;
    if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      long v = strtol(argv[++i], &end, 10);
      if (*end || v < 1 || v > 1000) {
        fprintf(stderr, "pluginop-bench: --runs takes 1..1000\n");
        return -1;
      }
      o->runs = (int)v;
    } else if (strcmp(argv[i], "--scale") == 0 && i + 1 < argc) {
      double v = strtod(argv[++i], &end);
      if (*end || !(v > 0 && v <= 1000)) {
        fprintf(stderr, "pluginop-bench: --scale takes a number in (0, 1000]\n");
        return -1;
      }
      o->scale = v;
    } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      o->only = argv[++i];
    } else {
      fprintf(stderr, "pluginop-bench %s: unknown option %s\n", argv[0], argv[i]);
      return -1;
    }
  }
  return 0;
}

uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double bench_median(double *s, size_t n) {
  if (n == 0)
    return 0;
  qsort(s, n, sizeof *s, cmp_double);
  return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

uint8_t *bench_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "pluginop-bench: cannot open %s: %s\n", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, n = 0, got;
  uint8_t *buf = malloc(cap);
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      uint8_t *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
      }
      buf = nb;
      cap *= 2;
    }
  }
  fclose(f);
  if (!buf)
    fprintf(stderr, "pluginop-bench: out of memory reading %s\n", path);
  *len = n;
  return buf;
}

const char *bench_kernels_wasm(void) {
  const char *env = getenv("PLUGINOP_BENCH_WASM");
  return env && *env ? env : PLUGINOP_BENCH_WASM;
}

static void usage(FILE *f) {
  fprintf(f, "usage: pluginop-bench list\n"
             "       pluginop-bench SUITE [--runs N] [--scale F] [--only CASE]\n"
             "suites:\n");
  for (size_t i = 0; i < NSUITES; i++)
    fprintf(f, "  %-10s %s\n", suites[i]->name, suites[i]->description);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 64;
  }
  if (strcmp(argv[1], "list") == 0) {
    for (size_t i = 0; i < NSUITES; i++)
      printf("%s\n", suites[i]->name);
    return 0;
  }
  if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
    usage(stdout);
    return 0;
  }
  for (size_t i = 0; i < NSUITES; i++)
    if (strcmp(argv[1], suites[i]->name) == 0)
      return suites[i]->run(argc - 1, argv + 1);
  fprintf(stderr, "pluginop-bench: unknown suite \"%s\"\n", argv[1]);
  usage(stderr);
  return 64;
}
