/*
 * pluginop-vm: run, validate and inspect WebAssembly modules with the pluginop VM.
 *
 *   pluginop-vm run [--fuel N] [--max-pages N] [--timeout-ms N] [--stats] FILE FUNC [ARG...]
 *   pluginop-vm validate FILE
 *   pluginop-vm info FILE
 *   pluginop-vm help | --help
 *
 * Exit status: 0 success, 1 the call trapped, 2 the module is malformed, invalid or
 * unlinkable (or unreadable), 64 wrong usage. Uses only include/pluginop/vm.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pluginop/vm.h"
#include "tool_io.h"

enum {
  EXIT_OK = 0,
  EXIT_TRAP = 1,
  EXIT_MODULE = 2,
  EXIT_USAGE = 64,
};

static void usage(FILE *f) {
  fprintf(f,
          "usage: pluginop-vm run [--fuel N] [--max-pages N] [--timeout-ms N] [--stats]\n"
          "                       [--string] FILE.wasm FUNC [ARG...]\n"
          "       pluginop-vm validate FILE.wasm\n"
          "       pluginop-vm info FILE.wasm\n"
          "       pluginop-vm help\n"
          "\n"
          "run       instantiates FILE and calls its exported function FUNC. Arguments are\n"
          "          read by the function's parameter types (i32/i64: decimal, signed or\n"
          "          unsigned; f32/f64: decimal, inf, nan). Each result is printed on its own\n"
          "          line. The module may not import anything.\n"
          "  --fuel N        trap with \"out of fuel\" after N instructions\n"
          "  --max-pages N   memory may not grow beyond N pages of 64 KiB\n"
          "  --timeout-ms N  trap with \"deadline exceeded\" after N milliseconds\n"
          "  --stats         print instructions executed and time on stderr\n"
          "  --string        also print the NUL-terminated string each i32 result points\n"
          "                  to in the instance's memory\n"
          "validate  decodes and validates FILE.\n"
          "info      lists FILE's imports, exports (with types) and memories.\n"
          "\n"
          "Exit status: 0 success, 1 trap, 2 malformed, invalid or unlinkable module\n"
          "(or an unreadable file), 64 wrong usage.\n");
}

/* The one-line reminder after a usage error found once the module is loaded. */
static int run_usage_hint(void) {
  fprintf(stderr, "usage: pluginop-vm run [OPTIONS] FILE.wasm FUNC [ARG...] "
                  "(pluginop-vm help for more)\n");
  return EXIT_USAGE;
}

static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "pluginop-vm: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n");
  usage(stderr);
  return EXIT_USAGE;
}

/* Prints a wasm name; control characters are escaped (names may hold any UTF-8). */
static void print_name(FILE *f, pvm_name n) {
  for (uint32_t i = 0; i < n.len; i++) {
    unsigned char c = (unsigned char)n.ptr[i];
    if (c < 0x20 || c == 0x7f || c == '\\')
      fprintf(f, "\\x%02x", c);
    else
      fputc(c, f);
  }
}

static void print_error(const char *what, const pvm_error *err) {
  fprintf(stderr, "error: %s: %s", what, err->msg[0] ? err->msg : pvm_status_message(err->status));
  if (err->offset >= 0)
    fprintf(stderr, " (at byte offset %ld)", err->offset);
  fprintf(stderr, "\n");
}

/* Reads FILE; prints the error and returns false if it cannot. */
static bool load_file(const char *path, uint8_t **bytes, size_t *len) {
  if (tool_read_file(path, bytes, len) < 0) {
    fprintf(stderr, "error: cannot read %s: %s\n", path, strerror(errno));
    return false;
  }
  return true;
}

/* Compiles FILE into *out; returns EXIT_OK or EXIT_MODULE (error printed). */
static int compile_file(const char *path, pvm_module **out) {
  uint8_t *bytes;
  size_t len;
  if (!load_file(path, &bytes, &len))
    return EXIT_MODULE;
  pvm_error err;
  memset(&err, 0, sizeof err);
  err.offset = -1;
  int rc = pvm_module_new(bytes, len, out, &err);
  free(bytes);
  if (rc < 0) {
    if (!err.status)
      err.status = rc;
    print_error(rc == PVM_ERR_INVALID ? "invalid module" : rc == PVM_ERR_MALFORMED
                                                               ? "malformed module"
                                                               : "cannot load module",
                &err);
    return EXIT_MODULE;
  }
  return EXIT_OK;
}

/* ---- Argument parsing ---------------------------------------------------------------- */

static bool parse_uint(const char *s, uint64_t max, uint64_t *out) {
  if (!s || *s < '0' || *s > '9')
    return false;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || v > max)
    return false;
  *out = v;
  return true;
}

/* Decimal integer in [min, umax]: negative values as signed, others unsigned. */
static bool parse_int(const char *s, int64_t min, uint64_t umax, uint64_t *out) {
  if (s && s[0] == '-') {
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s + 1 || v < min)
      return false;
    *out = (uint64_t)v;
    return true;
  }
  return parse_uint(s[0] == '+' ? s + 1 : s, umax, out);
}

static bool parse_float(const char *s, double *out) {
  errno = 0;
  char *end;
  double v = strtod(s, &end);
  if (!*s || *end || end == s || (errno == ERANGE && isinf(v)))
    return false;
  *out = v;
  return true;
}

static bool parse_arg(const char *s, uint8_t type, pvm_val *v) {
  uint64_t u;
  double d;
  memset(v, 0, sizeof *v);
  switch (type) {
  case PVM_I32:
    if (!parse_int(s, INT32_MIN, UINT32_MAX, &u))
      return false;
    v->i32 = (uint32_t)u;
    return true;
  case PVM_I64:
    if (!parse_int(s, INT64_MIN, UINT64_MAX, &u))
      return false;
    v->i64 = u;
    return true;
  case PVM_F32:
    if (!parse_float(s, &d))
      return false;
    v->f32 = (float)d;
    return true;
  case PVM_F64:
    if (!parse_float(s, &d))
      return false;
    v->f64 = d;
    return true;
  default:
    return false;
  }
}

static void print_result(uint8_t type, pvm_val v) {
  switch (type) {
  case PVM_I32: printf("%" PRId32 "\n", (int32_t)v.i32); break;
  case PVM_I64: printf("%" PRId64 "\n", (int64_t)v.i64); break;
  case PVM_F32: printf("%.9g\n", (double)v.f32); break;
  case PVM_F64: printf("%.17g\n", v.f64); break;
  case PVM_FUNCREF:
  case PVM_EXTERNREF: printf("%s\n", v.ref ? "ref" : "null"); break;
  default: printf("?\n"); break;
  }
}

/* ---- run --------------------------------------------------------------------------- */

typedef struct run_opts {
  pvm_limits limits;
  bool stats;
  bool string;
} run_opts;

/* Parses run's options; returns the index of FILE or -1 (usage error printed). */
static int parse_run_opts(int argc, char **argv, run_opts *o) {
  pvm_limits_default(&o->limits);
  o->stats = false;
  o->string = false;
  int i = 2;
  for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
    const char *a = argv[i];
    uint64_t v;
    if (strcmp(a, "--") == 0)
      return i + 1;
    if (strcmp(a, "--stats") == 0) {
      o->stats = true;
      continue;
    }
    if (strcmp(a, "--string") == 0) {
      o->string = true;
      continue;
    }
    bool has_val = i + 1 < argc;
    const char *val = has_val ? argv[i + 1] : "";
    if (strcmp(a, "--fuel") == 0 && parse_uint(val, UINT64_MAX - 1, &v)) {
      o->limits.fuel = v;
    } else if (strcmp(a, "--max-pages") == 0 && parse_uint(val, 65536, &v)) {
      o->limits.max_memory_pages = (uint32_t)v;
    } else if (strcmp(a, "--timeout-ms") == 0 && parse_uint(val, UINT64_MAX / 1000000, &v)) {
      o->limits.timeout_ns = v * 1000000;
    } else if (strcmp(a, "--fuel") == 0 || strcmp(a, "--max-pages") == 0 ||
               strcmp(a, "--timeout-ms") == 0) {
      usage_error("%s needs a number in range", a);
      return -1;
    } else {
      usage_error("unknown option %s", a);
      return -1;
    }
    i++;
  }
  return i;
}

/* Names every import (none can be resolved: the tool defines no host functions).
 * Returns true if there was any. */
static bool report_imports(const pvm_module *m) {
  uint32_t n = pvm_module_import_count(m);
  static const char *kinds[] = {"func", "table", "memory", "global"};
  for (uint32_t i = 0; i < n; i++) {
    pvm_extern_desc d;
    if (pvm_module_import(m, i, &d) < 0)
      continue;
    fprintf(stderr, "error: unresolved import \"");
    print_name(stderr, d.module);
    fprintf(stderr, "\".\"");
    print_name(stderr, d.name);
    fprintf(stderr, "\" (%s)\n", d.kind <= 3 ? kinds[d.kind] : "?");
  }
  return n > 0;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Checks FUNC's type against the command line and fills |args|; EXIT_OK or EXIT_USAGE. */
static int build_args(const char *fname, const pvm_functype *ft, int nargs, char **argv,
                      pvm_val *args) {
  for (uint32_t i = 0; i < ft->nparams; i++)
    if (ft->params[i] == PVM_V128 || ft->params[i] == PVM_FUNCREF ||
        ft->params[i] == PVM_EXTERNREF) {
      fprintf(stderr, "pluginop-vm: %s takes a %s parameter, which cannot be given on "
                      "the command line\n", fname, pvm_valtype_name(ft->params[i]));
      return run_usage_hint();
    }
  if ((uint32_t)nargs != ft->nparams) {
    fprintf(stderr, "pluginop-vm: %s takes %u argument%s (", fname, ft->nparams,
            ft->nparams == 1 ? "" : "s");
    for (uint32_t i = 0; i < ft->nparams; i++)
      fprintf(stderr, "%s%s", i ? " " : "", pvm_valtype_name(ft->params[i]));
    fprintf(stderr, "), %d given\n", nargs);
    return run_usage_hint();
  }
  for (int i = 0; i < nargs; i++)
    if (!parse_arg(argv[i], ft->params[i], &args[i])) {
      fprintf(stderr, "pluginop-vm: argument %d \"%s\" is not a valid %s\n", i + 1, argv[i],
              pvm_valtype_name(ft->params[i]));
      return run_usage_hint();
    }
  return EXIT_OK;
}

/* Prints the NUL-terminated string at |addr| in memory 0 (at most 4 KiB; bytes outside
 * printable ASCII escaped), or why it cannot. */
static void print_string_at(pvm_instance *inst, uint32_t addr) {
  size_t size = 0;
  const uint8_t *mem = pvm_instance_memory(inst, &size);
  if (!mem || addr >= size) {
    printf("  (address %" PRIu32 " is outside memory)\n", addr);
    return;
  }
  printf("  \"");
  size_t i = addr;
  for (; i < size && mem[i] && i - addr < 4096; i++) {
    if (mem[i] >= 0x20 && mem[i] < 0x7f && mem[i] != '"' && mem[i] != '\\')
      putchar(mem[i]);
    else
      printf("\\x%02x", mem[i]);
  }
  printf("\"%s\n", i < size && mem[i] ? "..." : "");
}

/* Calls |func| and prints its results; returns the exit status. */
static int call_and_print(pvm_instance *inst, pvm_func *func, const char *fname, int nargs,
                          char **argv, const run_opts *o) {
  const pvm_functype *ft = pvm_func_type(func);
  if (!ft) {
    fprintf(stderr, "error: %s has no type\n", fname);
    return EXIT_MODULE;
  }
  pvm_val *args = calloc((size_t)ft->nparams + 1, sizeof *args);
  pvm_val *results = calloc((size_t)ft->nresults + 1, sizeof *results);
  int status = args && results ? build_args(fname, ft, nargs, argv, args) : EXIT_MODULE;
  if (!args || !results)
    fprintf(stderr, "error: out of memory\n");
  if (status == EXIT_OK) {
    double t0 = now_ms();
    int rc = pvm_call(inst, func, args, ft->nparams, results, ft->nresults);
    double t1 = now_ms();
    if (rc == PVM_ERR_TRAP) {
      const char *msg = pvm_instance_trap_message(inst);
      fprintf(stderr, "trap: %s\n", msg && *msg ? msg : "(no message)");
      status = EXIT_TRAP;
    } else if (rc < 0) {
      fprintf(stderr, "error: call failed: %s\n", pvm_status_message(rc));
      status = EXIT_TRAP;
    } else {
      for (uint32_t i = 0; i < ft->nresults; i++) {
        print_result(ft->results[i], results[i]);
        if (o->string && ft->results[i] == PVM_I32)
          print_string_at(inst, results[i].i32);
      }
    }
    if (o->stats)
      fprintf(stderr, "instructions: %" PRIu64 "\ntime: %.3f ms\n",
              pvm_instance_fuel_used(inst), t1 - t0);
  }
  free(args);
  free(results);
  return status;
}

static int cmd_run(int argc, char **argv) {
  run_opts o;
  int i = parse_run_opts(argc, argv, &o);
  if (i < 0)
    return EXIT_USAGE;
  if (argc - i < 2)
    return usage_error("%s", "run needs FILE and FUNC");
  const char *path = argv[i], *fname = argv[i + 1];
  pvm_module *m = NULL;
  int status = compile_file(path, &m);
  if (status != EXIT_OK)
    return status;
  if (report_imports(m)) {
    pvm_module_del(m);
    return EXIT_MODULE;
  }
  pvm_instance *inst = NULL;
  pvm_error err;
  memset(&err, 0, sizeof err);
  err.offset = -1;
  int rc = pvm_instance_new(m, NULL, &o.limits, &inst, &err);
  pvm_module_del(m);
  if (rc == PVM_ERR_TRAP) {
    fprintf(stderr, "trap: %s\n", err.msg[0] ? err.msg : "instantiation trapped");
    return EXIT_TRAP;
  }
  if (rc < 0) {
    if (!err.status)
      err.status = rc;
    print_error("cannot instantiate", &err);
    return EXIT_MODULE;
  }
  pvm_func *func = pvm_instance_func(inst, fname);
  if (!func) {
    fprintf(stderr, "pluginop-vm: %s exports no function \"%s\" (see: pluginop-vm info %s)\n",
            path, fname, path);
    pvm_instance_del(inst);
    return run_usage_hint();
  }
  status = call_and_print(inst, func, fname, argc - i - 2, argv + i + 2, &o);
  pvm_instance_del(inst);
  return status;
}

/* ---- validate, info ---------------------------------------------------------------- */

static int cmd_validate(int argc, char **argv) {
  if (argc != 3)
    return usage_error("%s", "validate needs exactly one FILE");
  uint8_t *bytes;
  size_t len;
  if (!load_file(argv[2], &bytes, &len))
    return EXIT_MODULE;
  pvm_error err;
  memset(&err, 0, sizeof err);
  err.offset = -1;
  int rc = pvm_module_validate(bytes, len, &err);
  free(bytes);
  if (rc < 0) {
    if (!err.status)
      err.status = rc;
    print_error(rc == PVM_ERR_INVALID ? "invalid module" : "malformed module", &err);
    return EXIT_MODULE;
  }
  printf("%s: valid\n", argv[2]);
  return EXIT_OK;
}

static void print_functype(const pvm_functype *ft) {
  printf("(");
  for (uint32_t i = 0; i < ft->nparams; i++)
    printf("%s%s", i ? " " : "", pvm_valtype_name(ft->params[i]));
  printf(") -> (");
  for (uint32_t i = 0; i < ft->nresults; i++)
    printf("%s%s", i ? " " : "", pvm_valtype_name(ft->results[i]));
  printf(")");
}

static void print_limits(const pvm_limits_range *l) {
  if (l->has_max)
    printf("%u..%u", l->min, l->max);
  else
    printf("%u..", l->min);
}

/* One line describing |d| (after its name). */
static void print_desc(const pvm_extern_desc *d) {
  switch (d->kind) {
  case PVM_EXTERN_FUNC:
    printf("func ");
    print_functype(&d->func);
    break;
  case PVM_EXTERN_TABLE:
    printf("table %s ", pvm_valtype_name(d->elem_type));
    print_limits(&d->limits);
    break;
  case PVM_EXTERN_MEMORY:
    printf("memory ");
    print_limits(&d->limits);
    printf(" pages");
    break;
  case PVM_EXTERN_GLOBAL:
    printf("global %s%s", d->global_mutable ? "mut " : "", pvm_valtype_name(d->global_type));
    break;
  default:
    printf("?");
  }
  printf("\n");
}

static int cmd_info(int argc, char **argv) {
  if (argc != 3)
    return usage_error("%s", "info needs exactly one FILE");
  pvm_module *m = NULL;
  int status = compile_file(argv[2], &m);
  if (status != EXIT_OK)
    return status;
  uint32_t ni = pvm_module_import_count(m), ne = pvm_module_export_count(m), nmem = 0;
  pvm_extern_desc d;
  printf("%s\nimports: %u\n", argv[2], ni);
  for (uint32_t i = 0; i < ni; i++)
    if (pvm_module_import(m, i, &d) == 0) {
      printf("  ");
      print_name(stdout, d.module);
      printf(".");
      print_name(stdout, d.name);
      printf(": ");
      print_desc(&d);
    }
  printf("exports: %u\n", ne);
  for (uint32_t i = 0; i < ne; i++)
    if (pvm_module_export(m, i, &d) == 0) {
      printf("  ");
      print_name(stdout, d.name);
      printf(": ");
      print_desc(&d);
    }
  printf("memories (imported or exported):\n");
  for (uint32_t pass = 0; pass < 2; pass++) {
    uint32_t n = pass ? ne : ni;
    for (uint32_t i = 0; i < n; i++) {
      int rc = pass ? pvm_module_export(m, i, &d) : pvm_module_import(m, i, &d);
      if (rc < 0 || d.kind != PVM_EXTERN_MEMORY)
        continue;
      nmem++;
      printf("  %s ", pass ? "export" : "import");
      print_name(stdout, d.name);
      printf(": ");
      print_limits(&d.limits);
      printf(" pages of 64 KiB\n");
    }
  }
  if (!nmem)
    printf("  (none)\n");
  pvm_module_del(m);
  return EXIT_OK;
}

int main(int argc, char **argv) {
  if (argc < 2)
    return usage_error("%s", "a command is needed");
  const char *cmd = argv[1];
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
    usage(stdout);
    return EXIT_OK;
  }
  if (strcmp(cmd, "run") == 0)
    return cmd_run(argc, argv);
  if (strcmp(cmd, "validate") == 0)
    return cmd_validate(argc, argv);
  if (strcmp(cmd, "info") == 0)
    return cmd_info(argc, argv);
  return usage_error("unknown command \"%s\"", cmd);
}
