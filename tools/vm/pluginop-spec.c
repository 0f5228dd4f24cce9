/*
 * pluginop-spec: runs WebAssembly spec tests (.wast) against the pluginop VM.
 *
 *   pluginop-spec [-v] [--no-fork] [--timeout SECONDS] [--wast2json PATH] FILE|DIR...
 *
 * Each .wast is converted by wabt's wast2json into a private temporary directory, the
 * JSON command list is read with our own parser (json.c) and every command is run through
 * the public API (include/pluginop/vm.h) only. Each file runs in a child process, so even
 * an engine crash or hang only fails that file. Output: one line per file
 * "NAME: N passed, N failed, N skipped", failures with -v, and last
 * "spec: N passed, N failed, N skipped". Exit status 0 iff nothing failed, 64 on misuse.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "json.h"
#include "pluginop/vm.h"
#include "tool_io.h"

/* Counters of one file; shared with the child process that runs it. */
typedef struct counts {
  uint64_t passed, failed, skipped;
  uint64_t reworded; /* passed, but the engine's message differs from the expected text */
} counts;

typedef struct options {
  bool verbose;
  bool fork;
  unsigned timeout_s;
  const char *wast2json;
} options;

/* ---- The spectest module ----------------------------------------------------------- */

/* The spectest module is a wasm binary built here: it imports the print functions from
 * the host (module SPECTEST_HOST) and exports them with the table, memory and globals the
 * spec tests expect, so it is reached through pvm_linker_define_instance like any other
 * registered module. */
#define SPECTEST_HOST "spectest-host"

/* Wall-clock limit of one call (the whole file has --timeout, default 300 s). */
#define SPEC_CALL_TIMEOUT_NS (20ull * 1000 * 1000 * 1000)

typedef struct bytebuf {
  uint8_t data[1024];
  size_t len;
  bool overflow;
} bytebuf;

static void bb_put(bytebuf *b, const void *p, size_t n) {
  if (b->len + n > sizeof b->data) {
    b->overflow = true;
    return;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

static void bb_u8(bytebuf *b, uint8_t v) { bb_put(b, &v, 1); }

static void bb_uleb(bytebuf *b, uint32_t v) {
  do {
    uint8_t byte = v & 0x7f;
    v >>= 7;
    bb_u8(b, byte | (v ? 0x80 : 0));
  } while (v);
}

static void bb_sleb(bytebuf *b, int64_t v) {
  for (;;) {
    uint8_t byte = v & 0x7f;
    v >>= 7; /* arithmetic shift on every compiler we use */
    bool done = (v == 0 && !(byte & 0x40)) || (v == -1 && (byte & 0x40));
    bb_u8(b, byte | (done ? 0 : 0x80));
    if (done)
      return;
  }
}

static void bb_name(bytebuf *b, const char *s) {
  bb_uleb(b, (uint32_t)strlen(s));
  bb_put(b, s, strlen(s));
}

static void bb_section(bytebuf *out, uint8_t id, const bytebuf *content) {
  bb_u8(out, id);
  bb_uleb(out, (uint32_t)content->len);
  bb_put(out, content->data, content->len);
  if (content->overflow)
    out->overflow = true;
}

typedef struct print_fn {
  const char *name;
  uint8_t nparams;
  uint8_t params[2];
} print_fn;

static const print_fn print_fns[] = {
    {"print", 0, {0}},
    {"print_i32", 1, {PVM_I32}},
    {"print_i64", 1, {PVM_I64}},
    {"print_f32", 1, {PVM_F32}},
    {"print_f64", 1, {PVM_F64}},
    {"print_i32_f32", 2, {PVM_I32, PVM_F32}},
    {"print_f64_f64", 2, {PVM_F64, PVM_F64}},
};
#define NPRINT (sizeof print_fns / sizeof print_fns[0])

/* Builds the spectest binary into |out|; returns false if it did not fit (a bug). */
static bool build_spectest(bytebuf *out) {
  bytebuf sec;
  static const uint8_t header[8] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
  out->len = 0;
  out->overflow = false;
  bb_put(out, header, sizeof header);

  memset(&sec, 0, sizeof sec); /* types: one per print function */
  bb_uleb(&sec, NPRINT);
  for (size_t i = 0; i < NPRINT; i++) {
    bb_u8(&sec, 0x60);
    bb_uleb(&sec, print_fns[i].nparams);
    bb_put(&sec, print_fns[i].params, print_fns[i].nparams);
    bb_uleb(&sec, 0);
  }
  bb_section(out, 1, &sec);

  memset(&sec, 0, sizeof sec); /* imports */
  bb_uleb(&sec, NPRINT);
  for (size_t i = 0; i < NPRINT; i++) {
    bb_name(&sec, SPECTEST_HOST);
    bb_name(&sec, print_fns[i].name);
    bb_u8(&sec, 0x00);
    bb_uleb(&sec, (uint32_t)i);
  }
  bb_section(out, 2, &sec);

  static const uint8_t table[] = {0x01, 0x70, 0x01, 10, 20}; /* funcref 10..20 */
  static const uint8_t memory[] = {0x01, 0x01, 1, 2};         /* 1..2 pages */
  memset(&sec, 0, sizeof sec);
  bb_put(&sec, table, sizeof table);
  bb_section(out, 4, &sec);
  memset(&sec, 0, sizeof sec);
  bb_put(&sec, memory, sizeof memory);
  bb_section(out, 5, &sec);

  memset(&sec, 0, sizeof sec); /* globals: immutable, 666 / 666.6 */
  float f32 = 666.6f;
  double f64 = 666.6;
  uint8_t fb[8];
  bb_uleb(&sec, 4);
  bb_put(&sec, (const uint8_t[]){PVM_I32, 0x00, 0x41}, 3);
  bb_sleb(&sec, 666);
  bb_u8(&sec, 0x0b);
  bb_put(&sec, (const uint8_t[]){PVM_I64, 0x00, 0x42}, 3);
  bb_sleb(&sec, 666);
  bb_u8(&sec, 0x0b);
  bb_put(&sec, (const uint8_t[]){PVM_F32, 0x00, 0x43}, 3);
  memcpy(fb, &f32, 4); /* wasm is little-endian, and so are our hosts */
  bb_put(&sec, fb, 4);
  bb_u8(&sec, 0x0b);
  bb_put(&sec, (const uint8_t[]){PVM_F64, 0x00, 0x44}, 3);
  memcpy(fb, &f64, 8);
  bb_put(&sec, fb, 8);
  bb_u8(&sec, 0x0b);
  bb_section(out, 6, &sec);

  static const char *global_names[4] = {"global_i32", "global_i64", "global_f32",
                                        "global_f64"};
  memset(&sec, 0, sizeof sec); /* exports */
  bb_uleb(&sec, NPRINT + 6);
  for (size_t i = 0; i < NPRINT; i++) {
    bb_name(&sec, print_fns[i].name);
    bb_u8(&sec, 0x00);
    bb_uleb(&sec, (uint32_t)i);
  }
  bb_name(&sec, "table");
  bb_u8(&sec, 0x01);
  bb_uleb(&sec, 0);
  bb_name(&sec, "memory");
  bb_u8(&sec, 0x02);
  bb_uleb(&sec, 0);
  for (uint32_t i = 0; i < 4; i++) {
    bb_name(&sec, global_names[i]);
    bb_u8(&sec, 0x03);
    bb_uleb(&sec, i);
  }
  bb_section(out, 7, &sec);
  return !out->overflow;
}

/* The print functions print nothing: the tests only check that they are callable. */
static int host_print(pvm_call_ctx *ctx, const pvm_val *args, pvm_val *results, void *ud) {
  (void)ctx, (void)args, (void)results, (void)ud;
  return 0;
}

/* ---- Per-file state ---------------------------------------------------------------- */

typedef struct named {
  char *name;
  pvm_instance *inst;
} named;

typedef struct file_run {
  const options *opt;
  const char *label; /* file name for messages */
  const char *dir;   /* wast2json output directory */
  counts *c;
  int line; /* line of the command being run */
  pvm_instance **insts; /* every live instance, freed in reverse order */
  size_t ninsts, cap_insts;
  named *names; /* "$M" -> instance */
  size_t nnames, cap_names;
  named *regs; /* registered module names (incl. "spectest") */
  size_t nregs, cap_regs;
  pvm_instance *current;
  pvm_limits limits;
} file_run;

/* Grows |*arr| (elements of |size| bytes) to hold one more; false when out of memory. */
static bool grow(void **arr, size_t *cap, size_t n, size_t size) {
  if (n < *cap)
    return true;
  size_t ncap = *cap ? *cap * 2 : 8;
  void *p = realloc(*arr, ncap * size);
  if (!p)
    return false;
  *arr = p;
  *cap = ncap;
  return true;
}

static void pass(file_run *r) { r->c->passed++; }

static void failf(file_run *r, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void failf(file_run *r, const char *cmd, const char *fmt, ...) {
  r->c->failed++;
  if (!r->opt->verbose)
    return;
  va_list ap;
  va_start(ap, fmt);
  printf("  %s:%d: %s: ", r->label, r->line, cmd);
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
}

/* The engine's message |got| matches |expected| loosely: either is a prefix of or contained
 * in the other (the spec's texts are prefixes of the reference interpreter's messages). */
static bool message_matches(const char *expected, const char *got) {
  if (!expected || !got)
    return expected == got || !expected;
  return strncmp(got, expected, strlen(expected)) == 0 || strstr(got, expected) ||
         (*got && strstr(expected, got));
}

/* Counts a pass whose message differs from the expected text. */
static void pass_message(file_run *r, const char *cmd, const char *expected, const char *got) {
  r->c->passed++;
  if (message_matches(expected, got))
    return;
  r->c->reworded++;
  if (r->opt->verbose > 0 && getenv("PLUGINOP_SPEC_WORDING"))
    printf("  %s:%d: %s: passed, but message \"%s\" != expected \"%s\"\n", r->label, r->line,
           cmd, got ? got : "", expected);
}

static bool add_instance(file_run *r, pvm_instance *inst) {
  if (!grow((void **)&r->insts, &r->cap_insts, r->ninsts, sizeof *r->insts))
    return false;
  r->insts[r->ninsts++] = inst;
  return true;
}

/* Binds |name| to |inst| in |*arr| (replacing an earlier binding of the same name). */
static bool bind(named **arr, size_t *n, size_t *cap, const char *name, pvm_instance *inst) {
  for (size_t i = 0; i < *n; i++)
    if (strcmp((*arr)[i].name, name) == 0) {
      (*arr)[i].inst = inst;
      return true;
    }
  char *copy = strdup(name);
  if (!copy || !grow((void **)arr, cap, *n, sizeof **arr)) {
    free(copy);
    return false;
  }
  (*arr)[*n].name = copy;
  (*arr)[*n].inst = inst;
  (*n)++;
  return true;
}

static pvm_instance *lookup(const named *arr, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(arr[i].name, name) == 0)
      return arr[i].inst;
  return NULL;
}

static void file_run_free(file_run *r) {
  for (size_t i = r->ninsts; i-- > 0;)
    pvm_instance_del(r->insts[i]);
  for (size_t i = 0; i < r->nnames; i++)
    free(r->names[i].name);
  for (size_t i = 0; i < r->nregs; i++)
    free(r->regs[i].name);
  free(r->insts);
  free(r->names);
  free(r->regs);
}

/* A linker holding the spectest print functions and every registered instance. */
static int make_linker(file_run *r, pvm_linker **out) {
  pvm_linker *l = NULL;
  int rc = pvm_linker_new(&l);
  if (rc < 0)
    return rc;
  for (size_t i = 0; i < NPRINT && rc == 0; i++)
    rc = pvm_linker_define_func(l, SPECTEST_HOST, print_fns[i].name, print_fns[i].params,
                                print_fns[i].nparams, NULL, 0, host_print, NULL);
  for (size_t i = 0; i < r->nregs && rc == 0; i++)
    rc = pvm_linker_define_instance(l, r->regs[i].name, r->regs[i].inst);
  if (rc < 0) {
    pvm_linker_del(l);
    return rc;
  }
  *out = l;
  return 0;
}

static const char *status_name(int status) {
  switch (status) {
  case PVM_OK: return "ok";
  case PVM_ERR_MALFORMED: return "malformed";
  case PVM_ERR_INVALID: return "invalid";
  case PVM_ERR_UNLINKABLE: return "unlinkable";
  case PVM_ERR_TRAP: return "trap";
  case PVM_ERR_NOMEM: return "out of memory";
  case PVM_ERR_ARG: return "bad argument";
  case PVM_ERR_NOT_FOUND: return "not found";
  case PVM_ERR_LIMIT: return "limit";
  default: return "unknown status";
  }
}

/* ---- Loading modules ----------------------------------------------------------------- */

/* Reads the module file named by command |cmd| from the temp directory. */
static int read_module_file(file_run *r, const json_value *cmd, uint8_t **bytes, size_t *len,
                            char *why, size_t whylen) {
  const char *fname = json_get_string(cmd, "filename");
  if (!fname || !*fname || strchr(fname, '/') || strcmp(fname, "..") == 0) {
    snprintf(why, whylen, "command has no usable \"filename\"");
    return -1;
  }
  char path[4096];
  if ((size_t)snprintf(path, sizeof path, "%s/%s", r->dir, fname) >= sizeof path) {
    snprintf(why, whylen, "path too long");
    return -1;
  }
  if (tool_read_file(path, bytes, len) < 0) {
    snprintf(why, whylen, "cannot read %s: %s", fname, strerror(errno));
    return -1;
  }
  return 0;
}

/* Compiles and instantiates |bytes|. Returns the pvm status; on failure |err| says why
 * and |*stage| is "compile" or "instantiate". */
static int load_instance(file_run *r, const uint8_t *bytes, size_t len, pvm_instance **out,
                         pvm_error *err, const char **stage) {
  pvm_module *m = NULL;
  *out = NULL;
  *stage = "compile";
  memset(err, 0, sizeof *err);
  int rc = pvm_module_new(bytes, len, &m, err);
  if (rc < 0)
    return rc;
  *stage = "instantiate";
  pvm_linker *l = NULL;
  rc = make_linker(r, &l);
  if (rc == 0) {
    memset(err, 0, sizeof *err);
    rc = pvm_instance_new(m, l, &r->limits, out, err);
  } else {
    snprintf(err->msg, sizeof err->msg, "building the linker failed: %s", status_name(rc));
  }
  pvm_linker_del(l);
  pvm_module_del(m);
  if (rc < 0)
    *out = NULL;
  return rc;
}

static void cmd_module(file_run *r, const json_value *cmd) {
  uint8_t *bytes;
  size_t len;
  char why[512];
  r->current = NULL; /* a failed module leaves no current module */
  if (read_module_file(r, cmd, &bytes, &len, why, sizeof why) < 0) {
    failf(r, "module", "%s", why);
    return;
  }
  pvm_instance *inst;
  pvm_error err;
  const char *stage;
  int rc = load_instance(r, bytes, len, &inst, &err, &stage);
  free(bytes);
  if (rc < 0) {
    failf(r, "module", "expected a module, %s failed (%s): %s", stage, status_name(rc),
          err.msg);
    return;
  }
  if (!add_instance(r, inst)) {
    pvm_instance_del(inst);
    failf(r, "module", "out of memory");
    return;
  }
  const char *name = json_get_string(cmd, "name");
  if (name && !bind(&r->names, &r->nnames, &r->cap_names, name, inst)) {
    failf(r, "module", "out of memory");
    return;
  }
  r->current = inst;
  pass(r);
}

static void cmd_register(file_run *r, const json_value *cmd) {
  const char *as = json_get_string(cmd, "as");
  const char *name = json_get_string(cmd, "name");
  pvm_instance *inst = name ? lookup(r->names, r->nnames, name) : r->current;
  if (!as) {
    failf(r, "register", "no \"as\"");
    return;
  }
  if (!inst) {
    failf(r, "register", "no module %s to register", name ? name : "(current)");
    return;
  }
  if (!bind(&r->regs, &r->nregs, &r->cap_regs, as, inst)) {
    failf(r, "register", "out of memory");
    return;
  }
  pass(r);
}

/* assert_invalid / assert_malformed: compiling must fail with |want|. */
static void cmd_reject(file_run *r, const json_value *cmd, const char *what, int want) {
  const char *mtype = json_get_string(cmd, "module_type");
  if (mtype && strcmp(mtype, "binary") != 0) {
    r->c->skipped++; /* the text format is wabt's business, not a binary engine's */
    return;
  }
  uint8_t *bytes;
  size_t len;
  char why[512];
  if (read_module_file(r, cmd, &bytes, &len, why, sizeof why) < 0) {
    failf(r, what, "%s", why);
    return;
  }
  pvm_module *m = NULL;
  pvm_error err;
  memset(&err, 0, sizeof err);
  int rc = pvm_module_new(bytes, len, &m, &err);
  free(bytes);
  const char *text = json_get_string(cmd, "text");
  if (rc == 0) {
    pvm_module_del(m);
    failf(r, what, "expected %s (\"%s\"), the module was accepted", status_name(want),
          text ? text : "");
  } else if (rc != want) {
    failf(r, what, "expected %s (\"%s\"), got %s: %s", status_name(want), text ? text : "",
          status_name(rc), err.msg);
  } else {
    pass_message(r, what, text, err.msg);
  }
}

/* assert_unlinkable / assert_uninstantiable: compiles, instantiation fails with |want|. */
static void cmd_no_instance(file_run *r, const json_value *cmd, const char *what, int want) {
  uint8_t *bytes;
  size_t len;
  char why[512];
  if (read_module_file(r, cmd, &bytes, &len, why, sizeof why) < 0) {
    failf(r, what, "%s", why);
    return;
  }
  pvm_instance *inst;
  pvm_error err;
  const char *stage;
  int rc = load_instance(r, bytes, len, &inst, &err, &stage);
  free(bytes);
  const char *text = json_get_string(cmd, "text");
  if (rc == 0) {
    /* Keep it alive: a failing test must not turn into a use-after-free elsewhere. */
    if (!add_instance(r, inst))
      pvm_instance_del(inst);
    failf(r, what, "expected %s (\"%s\"), the module instantiated", status_name(want),
          text ? text : "");
  } else if (rc != want || strcmp(stage, "instantiate") != 0) {
    failf(r, what, "expected %s at instantiation (\"%s\"), %s gave %s: %s",
          status_name(want), text ? text : "", stage, status_name(rc), err.msg);
  } else {
    pass_message(r, what, text, err.msg);
  }
}

/* ---- Values ------------------------------------------------------------------------ */

/* A value from the JSON: its type and either bits or a NaN class / reference kind. */
typedef enum val_kind {
  VK_BITS,         /* exact bits (numbers) or exact pointer (references) */
  VK_NAN_CANON,    /* nan:canonical */
  VK_NAN_ARITH,    /* nan:arithmetic */
  VK_REF_NONNULL,  /* any non-null reference */
} val_kind;

typedef struct spec_val {
  uint8_t type;
  val_kind kind;
  pvm_val v;
} spec_val;

static bool parse_u64(const char *s, uint64_t max, uint64_t *out) {
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

/* Host pointer standing for `ref.extern N` (never NULL, never dereferenced). */
static void *extern_ref(uint64_t n) { return (void *)(uintptr_t)(n + 1); }

static bool parse_val(const json_value *j, spec_val *out, char *why, size_t whylen) {
  const char *type = json_get_string(j, "type");
  const json_value *jv = json_get(j, "value");
  const char *value = jv && jv->type == JSON_STRING ? jv->u.string.ptr : NULL;
  uint64_t bits = 0;
  memset(out, 0, sizeof *out);
  out->kind = VK_BITS;
  if (!type) {
    snprintf(why, whylen, "value without a type");
    return false;
  }
  bool is_f32 = strcmp(type, "f32") == 0, is_f64 = strcmp(type, "f64") == 0;
  if (strcmp(type, "i32") == 0 || is_f32) {
    out->type = is_f32 ? PVM_F32 : PVM_I32;
    if (is_f32 && value && strcmp(value, "nan:canonical") == 0)
      out->kind = VK_NAN_CANON;
    else if (is_f32 && value && strcmp(value, "nan:arithmetic") == 0)
      out->kind = VK_NAN_ARITH;
    else if (parse_u64(value, UINT32_MAX, &bits))
      out->v.i32 = (uint32_t)bits;
    else
      goto bad;
    return true;
  }
  if (strcmp(type, "i64") == 0 || is_f64) {
    out->type = is_f64 ? PVM_F64 : PVM_I64;
    if (is_f64 && value && strcmp(value, "nan:canonical") == 0)
      out->kind = VK_NAN_CANON;
    else if (is_f64 && value && strcmp(value, "nan:arithmetic") == 0)
      out->kind = VK_NAN_ARITH;
    else if (parse_u64(value, UINT64_MAX, &bits))
      out->v.i64 = bits;
    else
      goto bad;
    return true;
  }
  if (strcmp(type, "externref") == 0 || strcmp(type, "funcref") == 0) {
    bool ext = type[0] == 'e';
    out->type = ext ? PVM_EXTERNREF : PVM_FUNCREF;
    if (!value)
      out->kind = VK_REF_NONNULL;
    else if (strcmp(value, "null") == 0)
      out->v.ref = NULL;
    else if (ext && parse_u64(value, UINT32_MAX, &bits))
      out->v.ref = extern_ref(bits);
    else
      goto bad;
    return true;
  }
  snprintf(why, whylen, "unsupported value type %s", type);
  return false;
bad:
  snprintf(why, whylen, "bad %s value \"%s\"", type, value ? value : "(none)");
  return false;
}

static void format_val(char *buf, size_t n, uint8_t type, pvm_val v) {
  switch (type) {
  case PVM_I32: snprintf(buf, n, "i32:%" PRIu32, v.i32); break;
  case PVM_I64: snprintf(buf, n, "i64:%" PRIu64, v.i64); break;
  case PVM_F32:
    snprintf(buf, n, "f32:%" PRIu32 " (%.9g)", v.i32, (double)v.f32);
    break;
  case PVM_F64: snprintf(buf, n, "f64:%" PRIu64 " (%.17g)", v.i64, v.f64); break;
  case PVM_FUNCREF:
  case PVM_EXTERNREF:
    if (!v.ref)
      snprintf(buf, n, "%s:null", pvm_valtype_name(type));
    else
      snprintf(buf, n, "%s:%p", pvm_valtype_name(type), v.ref);
    break;
  default: snprintf(buf, n, "%s:?", pvm_valtype_name(type)); break;
  }
}

static void format_expected(char *buf, size_t n, const spec_val *e) {
  if (e->kind == VK_NAN_CANON)
    snprintf(buf, n, "%s:nan:canonical", pvm_valtype_name(e->type));
  else if (e->kind == VK_NAN_ARITH)
    snprintf(buf, n, "%s:nan:arithmetic", pvm_valtype_name(e->type));
  else if (e->kind == VK_REF_NONNULL)
    snprintf(buf, n, "%s:non-null", pvm_valtype_name(e->type));
  else
    format_val(buf, n, e->type, e->v);
}

static bool val_matches(const spec_val *e, uint8_t type, pvm_val got) {
  if (e->type != type)
    return false;
  switch (type) {
  case PVM_I32: return got.i32 == e->v.i32;
  case PVM_I64: return got.i64 == e->v.i64;
  case PVM_F32:
    if (e->kind == VK_NAN_CANON)
      return (got.i32 & 0x7fffffffu) == 0x7fc00000u;
    if (e->kind == VK_NAN_ARITH)
      return (got.i32 & 0x7fc00000u) == 0x7fc00000u;
    return got.i32 == e->v.i32;
  case PVM_F64:
    if (e->kind == VK_NAN_CANON)
      return (got.i64 & 0x7fffffffffffffffull) == 0x7ff8000000000000ull;
    if (e->kind == VK_NAN_ARITH)
      return (got.i64 & 0x7ff8000000000000ull) == 0x7ff8000000000000ull;
    return got.i64 == e->v.i64;
  case PVM_FUNCREF:
  case PVM_EXTERNREF:
    if (e->kind == VK_REF_NONNULL)
      return got.ref != NULL;
    if (type == PVM_FUNCREF && e->v.ref == NULL)
      return got.ref == NULL;
    return got.ref == e->v.ref;
  default: return false;
  }
}

/* ---- Actions ----------------------------------------------------------------------- */

typedef enum act_result { ACT_OK, ACT_TRAP, ACT_ERROR } act_result;

/* What an action produced: results (owned), their types, or the trap message. */
typedef struct act_out {
  pvm_val *results;
  const uint8_t *types;
  uint32_t nresults;
  uint8_t global_type;
  char trap[256];
  pvm_trap_kind trap_kind;
} act_out;

static pvm_instance *action_instance(file_run *r, const json_value *action) {
  const char *mod = json_get_string(action, "module");
  return mod ? lookup(r->names, r->nnames, mod) : r->current;
}

static act_result do_get(file_run *r, pvm_instance *inst, const json_value *field,
                         act_out *out, char *why, size_t whylen) {
  pvm_extern ext;
  int rc = pvm_instance_export(inst, field->u.string.ptr, field->u.string.len, &ext);
  if (rc < 0 || ext.kind != PVM_EXTERN_GLOBAL || !ext.u.global) {
    snprintf(why, whylen, "no exported global \"%s\"", field->u.string.ptr);
    return ACT_ERROR;
  }
  out->results = calloc(1, sizeof *out->results);
  if (!out->results) {
    snprintf(why, whylen, "out of memory");
    return ACT_ERROR;
  }
  out->results[0] = pvm_global_get(ext.u.global);
  out->global_type = pvm_global_type(ext.u.global);
  out->types = &out->global_type;
  out->nresults = 1;
  return ACT_OK;
}

static act_result do_invoke(file_run *r, pvm_instance *inst, const json_value *action,
                            const json_value *field, act_out *out, char *why, size_t whylen) {
  pvm_extern ext;
  int rc = pvm_instance_export(inst, field->u.string.ptr, field->u.string.len, &ext);
  if (rc < 0 || ext.kind != PVM_EXTERN_FUNC || !ext.u.func) {
    snprintf(why, whylen, "no exported function \"%s\"", field->u.string.ptr);
    return ACT_ERROR;
  }
  const pvm_functype *ft = pvm_func_type(ext.u.func);
  const json_value *jargs = json_get(action, "args");
  size_t nargs = json_array_len(jargs);
  if (!ft || nargs != ft->nparams) {
    snprintf(why, whylen, "\"%s\" takes %u arguments, the test gives %zu",
             field->u.string.ptr, ft ? ft->nparams : 0, nargs);
    return ACT_ERROR;
  }
  pvm_val *args = calloc(nargs + 1, sizeof *args);
  out->results = calloc((size_t)ft->nresults + 1, sizeof *out->results);
  if (!args || !out->results) {
    free(args);
    snprintf(why, whylen, "out of memory");
    return ACT_ERROR;
  }
  for (size_t i = 0; i < nargs; i++) {
    spec_val sv;
    if (!parse_val(json_array_item(jargs, i), &sv, why, whylen)) {
      free(args);
      return ACT_ERROR;
    }
    if (sv.type != ft->params[i] || sv.kind != VK_BITS) {
      snprintf(why, whylen, "argument %zu is %s, the function takes %s", i,
               pvm_valtype_name(sv.type), pvm_valtype_name(ft->params[i]));
      free(args);
      return ACT_ERROR;
    }
    args[i] = sv.v;
  }
  out->types = ft->results;
  out->nresults = ft->nresults;
  rc = pvm_call(inst, ext.u.func, args, (uint32_t)nargs, out->results, ft->nresults);
  free(args);
  if (rc == PVM_ERR_TRAP) {
    const char *msg = pvm_instance_trap_message(inst);
    out->trap_kind = pvm_instance_trap(inst);
    snprintf(out->trap, sizeof out->trap, "%s", msg ? msg : "");
    return ACT_TRAP;
  }
  if (rc < 0) {
    snprintf(why, whylen, "pvm_call failed: %s", status_name(rc));
    return ACT_ERROR;
  }
  return ACT_OK;
}

static act_result do_action(file_run *r, const json_value *cmd, act_out *out, char *why,
                            size_t whylen) {
  memset(out, 0, sizeof *out);
  const json_value *action = json_get(cmd, "action");
  const char *type = json_get_string(action, "type");
  const json_value *field = json_get(action, "field");
  if (!type || !field || field->type != JSON_STRING) {
    snprintf(why, whylen, "malformed action");
    return ACT_ERROR;
  }
  pvm_instance *inst = action_instance(r, action);
  if (!inst) {
    const char *mod = json_get_string(action, "module");
    snprintf(why, whylen, "no module %s", mod ? mod : "(current)");
    return ACT_ERROR;
  }
  if (strcmp(type, "get") == 0)
    return do_get(r, inst, field, out, why, whylen);
  if (strcmp(type, "invoke") == 0)
    return do_invoke(r, inst, action, field, out, why, whylen);
  snprintf(why, whylen, "unknown action type %s", type);
  return ACT_ERROR;
}

static void cmd_action(file_run *r, const json_value *cmd) {
  act_out out;
  char why[512];
  act_result ar = do_action(r, cmd, &out, why, sizeof why);
  if (ar == ACT_ERROR)
    failf(r, "action", "%s", why);
  else if (ar == ACT_TRAP)
    failf(r, "action", "trapped: %s", out.trap);
  else
    pass(r);
  free(out.results);
}

static void cmd_assert_return(file_run *r, const json_value *cmd) {
  act_out out;
  char why[512];
  act_result ar = do_action(r, cmd, &out, why, sizeof why);
  if (ar != ACT_OK) {
    failf(r, "assert_return", "%s%s", ar == ACT_TRAP ? "trapped: " : "",
          ar == ACT_TRAP ? out.trap : why);
    free(out.results);
    return;
  }
  const json_value *expected = json_get(cmd, "expected");
  size_t n = json_array_len(expected);
  if (n != out.nresults) {
    failf(r, "assert_return", "expected %zu results, the function has %u", n, out.nresults);
    free(out.results);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    spec_val e;
    char es[96], gs[96];
    if (!parse_val(json_array_item(expected, i), &e, why, sizeof why)) {
      failf(r, "assert_return", "%s", why);
      free(out.results);
      return;
    }
    if (!val_matches(&e, out.types[i], out.results[i])) {
      format_expected(es, sizeof es, &e);
      format_val(gs, sizeof gs, out.types[i], out.results[i]);
      failf(r, "assert_return", "result %zu: expected %s, got %s", i, es, gs);
      free(out.results);
      return;
    }
  }
  pass(r);
  free(out.results);
}

/* assert_trap (on an action) and assert_exhaustion. */
static void cmd_assert_trap(file_run *r, const json_value *cmd, const char *what) {
  act_out out;
  char why[512];
  const char *text = json_get_string(cmd, "text");
  act_result ar = do_action(r, cmd, &out, why, sizeof why);
  if (ar == ACT_TRAP)
    pass_message(r, what, text, out.trap);
  else if (ar == ACT_OK)
    failf(r, what, "expected trap \"%s\", returned normally", text ? text : "");
  else
    failf(r, what, "%s", why);
  free(out.results);
}

static void run_command(file_run *r, const json_value *cmd) {
  const json_value *line = json_get(cmd, "line");
  r->line = line && line->type == JSON_NUMBER ? (int)line->u.number.value : 0;
  const char *type = json_get_string(cmd, "type");
  if (!type)
    failf(r, "command", "no \"type\"");
  else if (strcmp(type, "module") == 0)
    cmd_module(r, cmd);
  else if (strcmp(type, "register") == 0)
    cmd_register(r, cmd);
  else if (strcmp(type, "action") == 0)
    cmd_action(r, cmd);
  else if (strcmp(type, "assert_return") == 0)
    cmd_assert_return(r, cmd);
  else if (strcmp(type, "assert_trap") == 0 && json_get(cmd, "action"))
    cmd_assert_trap(r, cmd, type);
  else if (strcmp(type, "assert_trap") == 0)
    cmd_no_instance(r, cmd, type, PVM_ERR_TRAP);
  else if (strcmp(type, "assert_exhaustion") == 0)
    cmd_assert_trap(r, cmd, type);
  else if (strcmp(type, "assert_invalid") == 0)
    cmd_reject(r, cmd, type, PVM_ERR_INVALID);
  else if (strcmp(type, "assert_malformed") == 0)
    cmd_reject(r, cmd, type, PVM_ERR_MALFORMED);
  else if (strcmp(type, "assert_unlinkable") == 0)
    cmd_no_instance(r, cmd, type, PVM_ERR_UNLINKABLE);
  else if (strcmp(type, "assert_uninstantiable") == 0)
    cmd_no_instance(r, cmd, type, PVM_ERR_TRAP);
  else
    failf(r, type, "unknown command");
}

/* Instantiates spectest and registers it; false (counted as a failure) if that fails. */
static bool setup_spectest(file_run *r) {
  bytebuf bin;
  if (!build_spectest(&bin)) {
    failf(r, "spectest", "internal: spectest binary too large");
    return false;
  }
  pvm_instance *inst;
  pvm_error err;
  const char *stage;
  int rc = load_instance(r, bin.data, bin.len, &inst, &err, &stage);
  if (rc < 0) {
    failf(r, "spectest", "the spectest module failed to %s (%s): %s", stage,
          status_name(rc), err.msg);
    return false;
  }
  if (!add_instance(r, inst)) {
    pvm_instance_del(inst);
    return false;
  }
  return bind(&r->regs, &r->nregs, &r->cap_regs, "spectest", inst);
}

/* Runs every command of |json_path| (output of wast2json in |dir|) into |c|. */
static void run_json(const options *opt, const char *label, const char *dir,
                     const char *json_path, bool skip_all, counts *c) {
  uint8_t *text;
  size_t len;
  file_run r = {.opt = opt, .label = label, .dir = dir, .c = c};
  if (tool_read_file(json_path, &text, &len) < 0) {
    failf(&r, "json", "cannot read %s: %s", json_path, strerror(errno));
    return;
  }
  json_value *root = NULL;
  size_t off = 0;
  const char *msg = NULL;
  int rc = json_parse((const char *)text, len, &root, &off, &msg);
  free(text);
  const json_value *cmds = json_get(root, "commands");
  if (rc < 0 || !cmds || cmds->type != JSON_ARRAY) {
    failf(&r, "json", "cannot parse %s: %s at byte %zu", json_path,
          rc < 0 ? (msg ? msg : "error") : "no \"commands\" array", off);
    json_free(root);
    return;
  }
  size_t n = json_array_len(cmds);
  if (skip_all) {
    c->skipped += n;
    json_free(root);
    return;
  }
  pvm_limits_default(&r.limits);
  /* A call that never returns fails its own command, and the rest of the file runs. */
  r.limits.timeout_ns = SPEC_CALL_TIMEOUT_NS;
  setup_spectest(&r);
  for (size_t i = 0; i < n; i++) {
    run_command(&r, json_array_item(cmds, i));
    fflush(stdout);
  }
  file_run_free(&r);
  json_free(root);
}

/* ---- Files, temp dirs, child processes --------------------------------------------- */

static void remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
        continue;
      if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < sizeof path)
        unlink(path);
    }
    closedir(d);
  }
  rmdir(dir);
}

/* Runs wast2json; returns its exit status (or -1 if it could not run). */
static int run_wast2json(const options *opt, const char *wast, const char *json_out) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    execlp(opt->wast2json, opt->wast2json, wast, "-o", json_out, (char *)NULL);
    fprintf(stderr, "pluginop-spec: cannot run %s: %s\n", opt->wast2json, strerror(errno));
    _exit(127);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *base_name(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

/* Runs |json| in a child process; |c| lives in shared memory so the counts survive a
 * crash. Returns a description of an abnormal end, or NULL. */
static const char *run_forked(const options *opt, const char *label, const char *dir,
                              const char *json, bool skip_all, counts *c, char *buf,
                              size_t buflen) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(buf, buflen, "fork failed: %s", strerror(errno));
    return buf;
  }
  if (pid == 0) {
    if (opt->timeout_s)
      alarm(opt->timeout_s);
    run_json(opt, label, dir, json, skip_all, c);
    fflush(stdout);
    exit(0); /* exit, not _exit: sanitizer leak checks run in the child */
  }
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) {
      snprintf(buf, buflen, "waitpid failed: %s", strerror(errno));
      return buf;
    }
  if (WIFSIGNALED(st)) {
    int sig = WTERMSIG(st);
    snprintf(buf, buflen, sig == SIGALRM ? "timed out after %u s" : "crashed with signal %d",
             sig == SIGALRM ? opt->timeout_s : (unsigned)sig);
    return buf;
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) != 0) {
    snprintf(buf, buflen, "exited with status %d", WEXITSTATUS(st));
    return buf;
  }
  return NULL;
}

static void run_file(const options *opt, const char *path, counts *total) {
  const char *label = base_name(path);
  size_t ll = strlen(label);
  bool skip_all = strncmp(label, "simd_", 5) == 0;
  counts *c = mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (c == MAP_FAILED) {
    printf("%s: 0 passed, 1 failed, 0 skipped (mmap: %s)\n", label, strerror(errno));
    total->failed++;
    return;
  }
  memset(c, 0, sizeof *c);
  const char *tmp = getenv("TMPDIR");
  char dir[4096], json[4096 + 64], note[128];
  const char *abnormal = NULL;
  snprintf(dir, sizeof dir, "%s/pluginop-spec-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) {
    snprintf(note, sizeof note, "mkdtemp: %s", strerror(errno));
    abnormal = note;
  } else {
    /* The JSON name is fixed: wast2json names module files after it. */
    snprintf(json, sizeof json, "%s/%.*s.json", dir,
             (int)(ll > 5 && strcmp(label + ll - 5, ".wast") == 0 ? ll - 5 : ll), label);
    int st = run_wast2json(opt, path, json);
    if (st != 0) {
      snprintf(note, sizeof note, "wast2json failed (status %d)", st);
      abnormal = note;
    } else if (opt->fork) {
      abnormal = run_forked(opt, label, dir, json, skip_all, c, note, sizeof note);
    } else {
      run_json(opt, label, dir, json, skip_all, c);
    }
    remove_dir(dir);
  }
  if (abnormal)
    c->failed++;
  printf("%s: %" PRIu64 " passed, %" PRIu64 " failed, %" PRIu64 " skipped%s%s%s\n", label,
         c->passed, c->failed, c->skipped, abnormal ? " (" : "", abnormal ? abnormal : "",
         abnormal ? ")" : "");
  total->passed += c->passed;
  total->failed += c->failed;
  total->skipped += c->skipped;
  total->reworded += c->reworded;
  munmap(c, sizeof *c);
}

static bool ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int filter_wast(const struct dirent *e) { return ends_with(e->d_name, ".wast"); }

/* Runs one argument: a .wast file or a directory of them (sorted by name). */
static void run_arg(const options *opt, const char *arg, counts *total) {
  struct stat st;
  if (stat(arg, &st) < 0) {
    printf("%s: 0 passed, 1 failed, 0 skipped (%s)\n", base_name(arg), strerror(errno));
    total->failed++;
    return;
  }
  if (!S_ISDIR(st.st_mode)) {
    run_file(opt, arg, total);
    return;
  }
  struct dirent **list;
  int n = scandir(arg, &list, filter_wast, alphasort);
  if (n < 0) {
    printf("%s: 0 passed, 1 failed, 0 skipped (%s)\n", base_name(arg), strerror(errno));
    total->failed++;
    return;
  }
  for (int i = 0; i < n; i++) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", arg, list[i]->d_name) < sizeof path)
      run_file(opt, path, total);
    free(list[i]);
  }
  free(list);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: pluginop-spec [-v] [--no-fork] [--timeout SECONDS] [--wast2json PATH]\n"
          "                     FILE.wast|DIR...\n"
          "Runs WebAssembly spec tests against the pluginop VM. simd_* files are skipped,\n"
          "as are assert_malformed commands on the text format.\n"
          "  -v             print every failure (line, expected, got)\n"
          "  --no-fork      run in this process (debugging; a crash ends the run)\n"
          "  --timeout S    per-file time limit in seconds (default 300, 0 = none); each\n"
          "                 call is also limited to 20 s (it traps \"deadline exceeded\")\n"
          "  --wast2json P  the wast2json program (default: wast2json from PATH)\n"
          "Exit status: 0 if nothing failed, 1 otherwise, 64 on wrong usage.\n");
}

int main(int argc, char **argv) {
  options opt = {.verbose = false, .fork = true, .timeout_s = 300, .wast2json = "wast2json"};
  const char *env = getenv("PLUGINOP_WAST2JSON");
  if (env && *env)
    opt.wast2json = env;
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];
    uint64_t v;
    if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
      opt.verbose = true;
    } else if (strcmp(a, "--no-fork") == 0) {
      opt.fork = false;
    } else if (strcmp(a, "--timeout") == 0 && i + 1 < argc &&
               parse_u64(argv[i + 1], 1000000, &v)) {
      opt.timeout_s = (unsigned)v;
      i++;
    } else if (strcmp(a, "--wast2json") == 0 && i + 1 < argc) {
      opt.wast2json = argv[++i];
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--") == 0) {
      i++;
      break;
    } else {
      fprintf(stderr, "pluginop-spec: unknown option %s\n", a);
      usage(stderr);
      return 64;
    }
  }
  if (i >= argc) {
    usage(stderr);
    return 64;
  }
  counts total = {0};
  for (; i < argc; i++)
    run_arg(&opt, argv[i], &total);
  if (total.reworded)
    printf("note: %" PRIu64 " passed checks had differently worded messages "
           "(PLUGINOP_SPEC_WORDING=1 with -v lists them)\n",
           total.reworded);
  printf("spec: %" PRIu64 " passed, %" PRIu64 " failed, %" PRIu64 " skipped\n", total.passed,
         total.failed, total.skipped);
  return total.failed ? 1 : 0;
}
