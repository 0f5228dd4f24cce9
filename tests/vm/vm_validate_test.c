/*
 * vm_validate_test.c: the validator on hand-written bodies, and a walk over the spec test
 * suite (every non-SIMD .wast through wast2json) checking that vm_decode + vm_validate
 * reject every binary assert_malformed and every assert_invalid module and accept every
 * other module.
 */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "vm_module.h"
#include "vm_wasm_build.h"

/* Decodes and validates; returns the first failing status (0 if valid). */
static int check_module(const uint8_t *b, size_t len, pvm_error *err) {
  vm_module m;
  int rv;
  memset(err, 0, sizeof *err);
  rv = vm_decode(b, len, &m, err);
  if (rv) return rv;
  rv = vm_validate(&m, err);
  vm_module_free(&m);
  return rv;
}


/* ---- Hand-written modules ----------------------------------------------------------- */

/* Builds a module from an int spec (vm_wasm_build.h), decodes and validates it. */
static int check_spec(const int *spec, size_t n, pvm_error *err) {
  uint8_t buf[8192];
  size_t len = wb_build(spec, n, buf, sizeof buf);
  CHECK(len > 0);
  return check_module(buf, len, err);
}

#define MOD_EXPECT(status_, text_, ...)                                                  \
  do {                                                                                \
    static const int s_[] = {__VA_ARGS__};                                            \
    pvm_error e_;                                                                     \
    int rv_ = check_spec(s_, WB_LEN(s_), &e_);                                        \
    CHECK_INT(status_, ==, rv_);                                                       \
    if (rv_) CHECK(strncmp(e_.msg, text_, strlen(text_)) == 0);                           \
    if (rv_ && strncmp(e_.msg, text_, strlen(text_)) != 0)                                \
      fprintf(stderr, "  got \"%s\", expected \"%s\"\n", e_.msg, text_);               \
  } while (0)

#define MOD_OK(...) MOD_EXPECT(0, "", __VA_ARGS__)
#define MOD_INVALID(msg, ...) MOD_EXPECT(PVM_ERR_INVALID, msg, __VA_ARGS__)
#define MOD_MALFORMED(msg, ...) MOD_EXPECT(PVM_ERR_MALFORMED, msg, __VA_ARGS__)

/* The module every body test lives in:
 *   types  0: [] -> []   1: [i32] -> [i32]   2: [] -> [i32]   3: [i32 i64] -> [i64 i32]
 *   funcs  0: the body under test (type given), 1: [] -> [] (never referenced)
 *   tables 0: funcref 1..  1: externref 1..     memory 0: 1 page
 *   globals 0: mut i32   1: const i64
 *   elems  0: declarative funcref [func 0]   1: passive externref []
 *   data count 1, data 0: passive "" */
static int body_module(int type, const int *body, size_t n, vm_module *out, pvm_error *err) {
  static const int pre[] = {
      HDR,
      SEC(1), 4, 0x60, 0, 0, 0x60, 1, 0x7f, 1, 0x7f, 0x60, 0, 1, 0x7f,
      0x60, 2, 0x7f, 0x7e, 2, 0x7e, 0x7f, END,
      SEC(3), 2, -100 /* type */, 0, END,
      SEC(4), 2, 0x70, 0, 1, 0x6f, 0, 1, END,
      SEC(5), 1, 0, 1, END,
      SEC(6), 2, 0x7f, 1, 0x41, 0, 0x0b, 0x7e, 0, 0x42, 0, 0x0b, END,
      SEC(9), 2, 3, 0, 1, 0, 5, 0x6f, 0, END,
      SEC(12), 1, END,
      SEC(10), 2, BODY};
  static const int post[] = {END, BODY, 0, 0x0b, END, END, SEC(11), 1, 1, 0, END};
  int spec[4096];
  uint8_t buf[8192];
  size_t k = 0, len;
  int rv;
  if (n > 4096 - WB_LEN(pre) - WB_LEN(post)) return -100;
  for (size_t i = 0; i < WB_LEN(pre); i++) spec[k++] = pre[i] == -100 ? type : pre[i];
  for (size_t i = 0; i < n; i++) spec[k++] = body[i];
  for (size_t i = 0; i < WB_LEN(post); i++) spec[k++] = post[i];
  len = wb_build(spec, k, buf, sizeof buf);
  CHECK(len > 0);
  memset(err, 0, sizeof *err);
  rv = vm_decode(buf, len, out, err);
  if (rv) return rv;
  rv = vm_validate(out, err);
  if (rv) vm_module_free(out);
  return rv;
}

/* Validates |body| (locals then code) as function 0 of type |type|; expects |status| and
 * a message starting with |msg|. */
static void body_expect(int type, const int *body, size_t n, int status, const char *msg,
                        int line) {
  vm_module m;
  pvm_error err;
  int rv = body_module(type, body, n, &m, &err);
  if (rv != status || (rv && strncmp(err.msg, msg, strlen(msg)) != 0)) {
    fprintf(stderr, "%s:%d: %s: body: status %d \"%s\", expected %d \"%s\"\n", __FILE__,
            line, test_current_name, rv, rv ? err.msg : "", status, msg);
    test_current_failed = 1;
  }
  if (rv == 0) vm_module_free(&m);
}

#define BODY_EXPECT(type, status, msg, ...)                                           \
  do {                                                                                \
    static const int b_[] = {__VA_ARGS__};                                            \
    body_expect(type, b_, WB_LEN(b_), status, msg, __LINE__);                         \
  } while (0)
#define B_OK(type, ...) BODY_EXPECT(type, 0, "", __VA_ARGS__)
#define B_INVALID(type, msg, ...) BODY_EXPECT(type, PVM_ERR_INVALID, msg, __VA_ARGS__)
#define B_MALFORMED(type, msg, ...) BODY_EXPECT(type, PVM_ERR_MALFORMED, msg, __VA_ARGS__)
#define TM "type mismatch"

static void test_vm_validate_module_limits(void) {
  MOD_OK(HDR, SEC(5), 1, 1, 0, 0x80, 0x80, 0x04, END); /* max 65536 pages */
  MOD_INVALID("memory size must be at most 65536 pages (4GiB)", HDR, SEC(5), 1, 0, 0x81,
              0x80, 0x04, END);
  MOD_INVALID("memory size must be at most 65536 pages (4GiB)", HDR, SEC(5), 1, 1, 0, 0x81,
              0x80, 0x04, END);
  MOD_INVALID("size minimum must not be greater than maximum", HDR, SEC(5), 1, 1, 2, 1, END);
  MOD_INVALID("size minimum must not be greater than maximum", HDR, SEC(4), 1, 0x70, 1, 2, 1,
              END);
  MOD_INVALID("size minimum must not be greater than maximum", HDR, SEC(2), 1, 1, 'm', 1, 't',
              1, 0x70, 1, 3, 2, END);
  MOD_INVALID("memory size must be at most 65536 pages (4GiB)", HDR, SEC(2), 1, 1, 'm', 1, 'm',
              2, 0, 0x81, 0x80, 0x04, END);
  MOD_INVALID("multiple memories", HDR, SEC(5), 2, 0, 1, 0, 1, END);
  MOD_INVALID("multiple memories", HDR, SEC(2), 1, 1, 'm', 1, 'm', 2, 0, 1, END, SEC(5), 1, 0,
              1, END);
  MOD_OK(HDR, SEC(4), 3, 0x70, 0, 0, 0x6f, 0, 0, 0x70, 1, 0, 0, END); /* several tables */
}

static void test_vm_validate_module_types(void) {
  MOD_INVALID("unknown type", HDR, SEC(2), 1, 1, 'm', 1, 'f', 0, 0, END);
  MOD_INVALID("unknown type", HDR, SEC(1), 1, 0x60, 0, 0, END, SEC(3), 1, 1, END, SEC(10), 1,
              BODY, 0, 0x0b, END, END);
  MOD_INVALID("unsupported", HDR, SEC(1), 1, 0x60, 1, 0x7b, 0, END);
  MOD_INVALID("unsupported", HDR, SEC(2), 1, 1, 'm', 1, 'g', 3, 0x7b, 0, END);
}

static void test_vm_validate_module_globals(void) {
  MOD_OK(HDR, SEC(2), 1, 1, 'm', 1, 'g', 3, 0x7f, 0, END, SEC(6), 1, 0x7f, 0, 0x23, 0, 0x0b,
         END);
  MOD_INVALID(TM, HDR, SEC(6), 1, 0x7f, 0, 0x42, 0, 0x0b, END);
  MOD_INVALID(TM, HDR, SEC(6), 1, 0x70, 0, 0xd0, 0x6f, 0x0b, END);
  MOD_INVALID(TM, HDR, SEC(2), 1, 1, 'm', 1, 'g', 3, 0x7e, 0, END, SEC(6), 1, 0x7f, 0, 0x23, 0,
              0x0b, END);
  MOD_INVALID("unknown global", HDR, SEC(6), 2, 0x7f, 0, 0x41, 0, 0x0b, 0x7f, 0, 0x23, 0, 0x0b,
              END);
  MOD_INVALID("constant expression required", HDR, SEC(2), 1, 1, 'm', 1, 'g', 3, 0x7f, 1, END,
              SEC(6), 1, 0x7f, 0, 0x23, 0, 0x0b, END);
  MOD_INVALID("unknown function", HDR, SEC(6), 1, 0x70, 0, 0xd2, 0, 0x0b, END);
}

/* One function of type [] -> [] and the given sections after it. */
#define ONE_FUNC HDR, SEC(1), 1, 0x60, 0, 0, END, SEC(3), 1, 0, END
#define ONE_BODY SEC(10), 1, BODY, 0, 0x0b, END, END

static void test_vm_validate_module_segments(void) {
  MOD_OK(ONE_FUNC, SEC(4), 1, 0x70, 0, 1, END, SEC(9), 1, 0, 0x41, 0, 0x0b, 1, 0, END, ONE_BODY);
  MOD_INVALID("unknown table", ONE_FUNC, SEC(9), 1, 0, 0x41, 0, 0x0b, 1, 0, END, ONE_BODY);
  MOD_INVALID("unknown function", ONE_FUNC, SEC(4), 1, 0x70, 0, 1, END, SEC(9), 1, 0, 0x41, 0,
              0x0b, 1, 5, END, ONE_BODY);
  MOD_INVALID(TM, ONE_FUNC, SEC(4), 1, 0x70, 0, 1, END, SEC(9), 1, 0, 0x42, 0, 0x0b, 1, 0, END,
              ONE_BODY);
  MOD_INVALID(TM, ONE_FUNC, SEC(4), 1, 0x6f, 0, 1, END, SEC(9), 1, 0, 0x41, 0, 0x0b, 1, 0, END,
              ONE_BODY);
  MOD_INVALID(TM, ONE_FUNC, SEC(9), 1, 5, 0x6f, 1, 0xd2, 0, 0x0b, END, ONE_BODY);
  MOD_OK(HDR, SEC(5), 1, 0, 1, END, SEC(11), 1, 0, 0x41, 0, 0x0b, 1, 'x', END);
  MOD_INVALID("unknown memory", HDR, SEC(11), 1, 0, 0x41, 0, 0x0b, 1, 'x', END);
  MOD_INVALID(TM, HDR, SEC(5), 1, 0, 1, END, SEC(11), 1, 0, 0x43, 0, 0, 0, 0, 0x0b, 0, END);
  MOD_OK(HDR, SEC(11), 1, 1, 2, 'x', 'y', END); /* passive needs no memory */
}

static void test_vm_validate_module_start_exports(void) {
  MOD_OK(ONE_FUNC, SEC(8), 0, END, ONE_BODY);
  MOD_INVALID("unknown function", ONE_FUNC, SEC(8), 1, END, ONE_BODY);
  MOD_INVALID("start function", HDR, SEC(1), 1, 0x60, 1, 0x7f, 0, END, SEC(3), 1, 0, END,
              SEC(8), 0, END, SEC(10), 1, BODY, 0, 0x0b, END, END);
  MOD_OK(ONE_FUNC, SEC(5), 1, 0, 1, END, SEC(6), 1, 0x7f, 0, 0x41, 0, 0x0b, END, SEC(7), 4,
         1, 'a', 0, 0, 1, 'b', 2, 0, 1, 'c', 3, 0, 2, 'a', 'a', 0, 0, END, ONE_BODY);
  MOD_INVALID("duplicate export name", ONE_FUNC, SEC(7), 3, 1, 'a', 0, 0, 1, 'b', 0, 0, 1, 'a',
              0, 0, END, ONE_BODY);
  MOD_INVALID("unknown function", ONE_FUNC, SEC(7), 1, 1, 'a', 0, 1, END, ONE_BODY);
  MOD_INVALID("unknown table", HDR, SEC(7), 1, 1, 'a', 1, 0, END);
  MOD_INVALID("unknown memory", HDR, SEC(7), 1, 1, 'a', 2, 0, END);
  MOD_INVALID("unknown global", HDR, SEC(7), 1, 1, 'a', 3, 0, END);
}

static void test_vm_validate_body_structure(void) {
  B_OK(0, 0, 0x0b);
  B_OK(2, 0, 0x41, 1, 0x0b);
  B_INVALID(2, TM, 0, 0x0b);                       /* missing result */
  B_INVALID(0, TM, 0, 0x41, 1, 0x0b);              /* extra value */
  B_MALFORMED(0, "section size mismatch", 0, 0x0b, 0x01); /* bytes after the last end */
  B_MALFORMED(0, "END opcode expected", 0, 0x01);  /* next body follows */
  B_MALFORMED(0, "END opcode expected", 0);
  B_MALFORMED(0, "illegal opcode", 0, 0x06, 0x0b);
  B_MALFORMED(0, "illegal opcode", 0, 0xc5, 0x0b);
  B_MALFORMED(0, "illegal opcode", 0, 0xfc, 18, 0x0b);
  B_INVALID(0, "unsupported", 0, 0xfd, 0x0c, 0x0b);
  B_MALFORMED(0, "else without matching if", 0, 0x02, 0x40, 0x05, 0x0b, 0x0b);
  B_MALFORMED(0, "integer representation too long", 0, 0x41, 0x80, 0x80, 0x80, 0x80, 0x80,
              0x00, 0x1a, 0x0b);
  B_MALFORMED(0, "END opcode expected", 0, 0x41); /* immediate cut off by the body end */
}

static void test_vm_validate_body_overrun_messages(void) {
  /* The last body of the last section of the file; the last body before another section. */
  MOD_MALFORMED("unexpected end of section or function", ONE_FUNC, SEC(10), 1, BODY, 0, 0x01,
                END, END);
  MOD_MALFORMED("section size mismatch", ONE_FUNC, SEC(10), 1, BODY, 0, 0x01, END, END, SEC(0),
                1, 'x', END);
}

static void test_vm_validate_format_errors_come_first(void) {
  /* A type error, then a format error later in the same body or in a later body, or a
   * module-level validation error and a format error in code: the format error wins. */
  B_MALFORMED(0, "illegal opcode", 0, 0x6a, 0xff, 0x0b);
  B_MALFORMED(0, "section size mismatch", 0, 0x41, 0, 0x0b, 0xff);
  B_MALFORMED(0, "zero byte expected", 0, 0x42, 0, 0x24, 0, 0x3f, 1, 0x0b);
  MOD_MALFORMED("illegal opcode", HDR, SEC(1), 1, 0x60, 0, 0, END, SEC(3), 2, 0, 0, END,
                SEC(10), 2, BODY, 0, 0x6a, 0x0b, END, BODY, 0, 0xfc, 99, 0x0b, END, END);
  MOD_MALFORMED("END opcode expected", HDR, SEC(1), 1, 0x60, 0, 0, END, SEC(3), 2, 0, 0, END,
                SEC(7), 1, 1, 'x', 0, 7, END,
                SEC(10), 2, BODY, 0, 0x02, 0x40, 0x0b, END, BODY, 0, 0x0b, END, END);
  MOD_MALFORMED("malformed reference type", HDR, SEC(1), 1, 0x60, 0, 0, END, SEC(3), 1, 0, END,
                SEC(8), 3, END, SEC(10), 1, BODY, 0, 0xd0, 0x7f, 0x1a, 0x0b, END, END);
  MOD_MALFORMED("section size mismatch", HDR, SEC(1), 1, 0x60, 0, 0, END, SEC(3), 2, 0, 0,
                END, SEC(8), 3, END, SEC(10), 2, BODY, 0, 0x0b, END, BODY, 0, 0x0b, 0x0b, END,
                END, SEC(0), 1, 'x', END);
  /* Every immediate form is stepped over correctly: a valid body using them all, behind
   * an invalid export, still reports the validation error. */
  MOD_INVALID("unknown function", HDR, SEC(1), 1, 0x60, 0, 0, END, SEC(3), 1, 0, END,
              SEC(4), 1, 0x70, 0, 1, END, SEC(5), 1, 0, 1, END, SEC(6), 1, 0x7f, 1, 0x41, 0,
              0x0b, END, SEC(7), 1, 1, 'x', 0, 9, END, SEC(9), 1, 1, 0, 0, END, SEC(12), 1, END,
              SEC(10), 1, BODY, 1, 1, 0x7f,
              0x02, 0x40, 0x03, 0x40, 0x41, 0, 0x04, 0x40, 0x05, 0x0b, 0x0b, 0x0b,
              0x41, 0, 0x0d, 0, 0x0c, 0, 0x41, 0, 0x0e, 1, 0, 0, 0x10, 0, 0x41, 0, 0x11, 0, 0,
              0x0f, 0x1a, 0x1b, 0x1c, 1, 0x7f, 0x20, 0, 0x21, 0, 0x22, 0, 0x23, 0, 0x24, 0,
              0x25, 0, 0x26, 0, 0x28, 2, 0, 0x3e, 2, 0, 0x3f, 0, 0x40, 0, 0x42, 0x7f,
              0x43, 0, 0, 0, 0, 0x44, 0, 0, 0, 0, 0, 0, 0, 0, 0xd0, 0x70, 0xd1, 0xd2, 0, 0x6a,
              0xfc, 0, 0xfc, 8, 0, 0, 0xfc, 9, 0, 0xfc, 10, 0, 0, 0xfc, 11, 0, 0xfc, 12, 0, 0,
              0xfc, 13, 0, 0xfc, 14, 0, 0, 0xfc, 15, 0, 0xfc, 16, 0, 0xfc, 17, 0, 0xfd, 0xff,
              0x0b, END, END, SEC(11), 1, 1, 0, END);
}

static void test_vm_validate_body_blocks(void) {
  /* block/loop/if with every block type form. */
  B_OK(2, 0, 0x02, 0x7f, 0x41, 1, 0x0b, 0x0b);
  B_OK(0, 0, 0x03, 0x40, 0x0b, 0x0b);
  B_OK(2, 0, 0x41, 1, 0x04, 0x7f, 0x41, 1, 0x05, 0x41, 2, 0x0b, 0x0b);
  B_OK(1, 0, 0x20, 0, 0x02, 1, 0x0b, 0x0b);                   /* block type 1: [i32]->[i32] */
  B_OK(1, 0, 0x20, 0, 0x03, 1, 0x0b, 0x0b);
  B_OK(1, 0, 0x20, 0, 0x20, 0, 0x04, 1, 0x05, 0x0b, 0x0b);    /* if [i32]->[i32] */
  B_OK(1, 0, 0x20, 0, 0x20, 0, 0x04, 1, 0x0b, 0x0b);          /* no else: params = results */
  B_INVALID(2, TM, 0, 0x41, 0, 0x04, 0x7f, 0x41, 1, 0x0b, 0x0b); /* no else, result needed */
  B_INVALID(2, TM, 0, 0x41, 0, 0x04, 0x7f, 0x41, 1, 0x05, 0x0b, 0x0b);
  B_INVALID(0, TM, 0, 0x04, 0x40, 0x0b, 0x0b);                /* no condition */
  B_INVALID(0, TM, 0, 0x02, 1, 0x1a, 0x0b, 0x0b);             /* block param missing */
  B_INVALID(0, "unknown type", 0, 0x02, 9, 0x0b, 0x0b);
  B_MALFORMED(0, "malformed value type", 0, 0x02, 0x50, 0x0b, 0x0b);
  B_MALFORMED(0, "malformed value type", 0, 0x02, 0x80, 0x7f, 0x0b, 0x0b);
  B_INVALID(0, "unsupported", 0, 0x02, 0x7b, 0x0b, 0x0b);
  B_INVALID(0, TM, 0, 0x02, 0x40, 0x41, 1, 0x0b, 0x0b);       /* value left in block */
}

static void test_vm_validate_body_branches(void) {
  B_OK(2, 0, 0x02, 0x7f, 0x41, 1, 0x0c, 0, 0x0b, 0x0b);
  B_OK(0, 0, 0x03, 0x40, 0x41, 0, 0x0d, 0, 0x0b, 0x0b);       /* br_if to a loop */
  B_OK(1, 0, 0x20, 0, 0x03, 1, 0x0c, 0, 0x0b, 0x0b);  /* br to a loop takes its params */
  B_INVALID(0, "unknown label", 0, 0x0c, 1, 0x0b);
  B_INVALID(0, "unknown label", 0, 0x41, 0, 0x0d, 3, 0x0b);
  B_INVALID(2, TM, 0, 0x02, 0x7f, 0x0c, 0, 0x0b, 0x0b);
  B_INVALID(0, TM, 0, 0x02, 0x40, 0x0d, 0, 0x0b, 0x0b);       /* br_if needs i32 */
  B_OK(2, 0, 0x41, 7, 0x0f, 0x0b);
  B_INVALID(2, TM, 0, 0x0f, 0x0b);
  /* br_table: all targets agree; arity mismatch; polymorphic after unreachable. */
  B_OK(2, 0, 0x02, 0x7f, 0x02, 0x7f, 0x41, 1, 0x41, 0, 0x0e, 2, 0, 1, 1, 0x0b, 0x0b, 0x0b);
  B_INVALID(2, TM, 0, 0x02, 0x7f, 0x02, 0x40, 0x41, 1, 0x41, 0, 0x0e, 1, 0, 1, 0x0b, 0x41, 1,
            0x0b, 0x0b);
  B_INVALID(2, TM, 0, 0x02, 0x7f, 0x42, 1, 0x41, 0, 0x0e, 0, 0, 0x0b, 0x0b);
  B_OK(2, 0, 0x02, 0x7f, 0x00, 0x0e, 1, 0, 0, 0x0b, 0x0b);
  B_OK(0, 0, 0x00, 0x0e, 0, 0, 0x0b);
  B_INVALID(0, "unknown label", 0, 0x41, 0, 0x0e, 1, 5, 0, 0x0b);
  B_INVALID(0, "unknown label", 0, 0x41, 0, 0x0e, 1, 0, 5, 0x0b);
  B_MALFORMED(0, "END opcode expected", 0, 0x41, 0, 0x0e, 0x7f, 0x0b);
  B_INVALID(2, TM, 0, 0x00, 0x42, 0, 0x0e, 0, 0, 0x0b); /* i64 as the index */
}

static void test_vm_validate_body_unreachable(void) {
  B_OK(2, 0, 0x00, 0x0b);
  B_OK(2, 0, 0x00, 0x6a, 0x0b);                 /* i32.add on the polymorphic stack */
  B_OK(0, 0, 0x00, 0x1a, 0x1a, 0x0b);
  B_OK(2, 0, 0x00, 0x1b, 0x0b);                 /* select of unknowns */
  B_INVALID(2, TM, 0, 0x00, 0x42, 0, 0x0b);     /* a known wrong value stays wrong */
  B_INVALID(2, TM, 0, 0x00, 0x42, 0, 0x6a, 0x0b);
  B_OK(2, 0, 0x02, 0x7f, 0x41, 1, 0x0c, 0, 0x6a, 0x0b, 0x0b);
  B_OK(0, 0, 0x00, 0xd1, 0x1a, 0x0b);
}

static void test_vm_validate_body_variables(void) {
  B_OK(1, 1, 2, 0x7e, 0x20, 0, 0x20, 2, 0x21, 1, 0x0b);
  B_OK(1, 2, 1, 0x7e, 0, 0x7f, 0x20, 1, 0x22, 1, 0x50, 0x0b); /* empty run skipped */
  B_INVALID(1, TM, 1, 1, 0x7e, 0x20, 1, 0x0b);
  B_INVALID(0, "unknown local", 0, 0x20, 0, 0x1a, 0x0b);
  B_INVALID(1, "unknown local", 1, 1, 0x7e, 0x20, 2, 0x1a, 0x20, 0, 0x0b);
  B_INVALID(0, "unknown local", 0, 0x41, 0, 0x21, 0, 0x0b);
  B_INVALID(0, TM, 1, 1, 0x7e, 0x41, 0, 0x21, 0, 0x0b);
  B_OK(0, 0, 0x23, 0, 0x24, 0, 0x23, 1, 0x1a, 0x0b);
  B_INVALID(0, "global is immutable", 0, 0x42, 0, 0x24, 1, 0x0b);
  B_INVALID(0, "unknown global", 0, 0x23, 2, 0x1a, 0x0b);
  B_INVALID(0, TM, 0, 0x42, 0, 0x24, 0, 0x0b);
}

static void test_vm_validate_body_many_locals(void) {
  /* More locals than the body is long: looked up by binary search over the runs. */
#define RUNS 3, 0xd0, 0x86, 0x03, 0x7f, 0, 0x7e, 0xd0, 0x86, 0x03, 0x7c /* 50000 i32, 0, 50000 f64 */
  B_OK(0, RUNS, 0x20, 0xcf, 0x86, 0x03, 0x45, 0x1a, 0x0b);          /* local 49999: i32 */
  B_OK(0, RUNS, 0x20, 0xd0, 0x86, 0x03, 0x9a, 0x1a, 0x0b);          /* local 50000: f64 */
  B_OK(1, RUNS, 0x20, 0xd0, 0x86, 0x03, 0x1a, 0x20, 0, 0x0b);       /* with a param */
  B_INVALID(0, TM, RUNS, 0x20, 0xd0, 0x86, 0x03, 0x45, 0x1a, 0x0b);
  B_INVALID(0, TM, RUNS, 0x20, 0x00, 0x9a, 0x1a, 0x0b);
  B_OK(0, RUNS, 0x20, 0x9f, 0x8d, 0x06, 0x9a, 0x1a, 0x0b);          /* local 99999 */
  B_INVALID(0, "unknown local", RUNS, 0x20, 0xa0, 0x8d, 0x06, 0x1a, 0x0b);
#undef RUNS
}

static void test_vm_validate_body_calls(void) {
  B_OK(1, 0, 0x20, 0, 0x10, 0, 0x0b);            /* recursive call to itself */
  B_OK(0, 0, 0x10, 1, 0x0b);
  B_INVALID(0, "unknown function", 0, 0x10, 2, 0x0b);
  B_INVALID(1, TM, 0, 0x10, 0 /* needs an i32 */, 0x0b);
  B_OK(0, 0, 0x41, 0, 0x11, 0, 0, 0x0b);
  B_OK(2, 0, 0x41, 5, 0x41, 0, 0x11, 1, 0, 0x0b);
  B_INVALID(0, "unknown type", 0, 0x41, 0, 0x11, 9, 0, 0x0b);
  B_INVALID(0, "unknown table", 0, 0x41, 0, 0x11, 0, 5, 0x0b);
  B_INVALID(0, TM, 0, 0x41, 0, 0x11, 0, 1, 0x0b); /* externref table */
  B_INVALID(0, TM, 0, 0x11, 0, 0, 0x0b);
}

static void test_vm_validate_body_memory(void) {
  B_OK(0, 0, 0x41, 0, 0x28, 2, 0, 0x1a, 0x0b);
  B_OK(0, 0, 0x41, 0, 0x42, 0, 0x37, 3, 8, 0x0b);
  B_OK(0, 0, 0x41, 0, 0x31, 0, 0, 0x1a, 0x0b);
  B_INVALID(0, "alignment must not be larger than natural", 0, 0x41, 0, 0x28, 3, 0, 0x1a, 0x0b);
  B_INVALID(0, "alignment must not be larger than natural", 0, 0x41, 0, 0x41, 0, 0x3a, 1, 0,
            0x0b);
  B_INVALID(0, TM, 0, 0x41, 0, 0x41, 0, 0x37, 3, 0, 0x0b);
  B_INVALID(0, TM, 0, 0x42, 0, 0x28, 2, 0, 0x1a, 0x0b);
  B_OK(2, 0, 0x3f, 0, 0x0b);
  B_OK(2, 0, 0x41, 1, 0x40, 0, 0x0b);
  B_MALFORMED(2, "zero byte expected", 0, 0x3f, 1, 0x0b);
  B_MALFORMED(2, "zero byte expected", 0, 0x41, 1, 0x40, 0x80, 0x00, 0x0b);
  /* Without a memory. */
  MOD_INVALID("unknown memory", ONE_FUNC, SEC(10), 1, BODY, 0, 0x41, 0, 0x28, 2, 0, 0x1a, 0x0b,
              END, END);
  MOD_INVALID("unknown memory", ONE_FUNC, SEC(10), 1, BODY, 0, 0x3f, 0, 0x1a, 0x0b, END, END);
}

static void test_vm_validate_body_numeric(void) {
  /* One of each operand shape. */
  B_OK(2, 0, 0x41, 1, 0x45, 0x0b);
  B_OK(2, 0, 0x42, 1, 0x42, 2, 0x51, 0x0b);
  B_OK(2, 0, 0x43, 0, 0, 0, 0, 0x43, 0, 0, 0, 0, 0x5b, 0x0b);
  B_OK(2, 0, 0x44, 0, 0, 0, 0, 0, 0, 0, 0, 0x44, 0, 0, 0, 0, 0, 0, 0, 0, 0x66, 0x0b);
  B_OK(2, 0, 0x42, 1, 0x79, 0x42, 2, 0x8a, 0xa7, 0x0b);
  B_OK(2, 0, 0x43, 0, 0, 0, 0, 0x8b, 0xbb, 0xb6, 0xbc, 0x0b);
  B_OK(2, 0, 0x41, 0, 0xc0, 0xc1, 0xac, 0xc4, 0xa7, 0x0b);
  B_OK(2, 0, 0x43, 0, 0, 0, 0, 0xfc, 0, 0x0b);   /* i32.trunc_sat_f32_s */
  B_OK(2, 0, 0x44, 0, 0, 0, 0, 0, 0, 0, 0, 0xfc, 7, 0xa7, 0x0b);
  B_INVALID(2, TM, 0, 0x41, 0, 0xfc, 0, 0x0b);
  B_INVALID(2, TM, 0, 0x41, 1, 0x42, 1, 0x6a, 0x0b);
  B_INVALID(2, TM, 0, 0x41, 1, 0x7a, 0x0b);
  B_INVALID(2, TM, 0, 0x41, 1, 0xb6, 0x0b);
  B_INVALID(2, TM, 0, 0x6a, 0x0b);
  B_MALFORMED(2, "END opcode expected", 0, 0x44, 0, 0, 0, 0x0b);
}

static void test_vm_validate_body_select_and_refs(void) {
  B_OK(2, 0, 0x41, 1, 0x41, 2, 0x41, 0, 0x1b, 0x0b);
  B_INVALID(2, TM, 0, 0x41, 1, 0x42, 2, 0x41, 0, 0x1b, 0x0b);
  B_INVALID(0, TM, 0, 0xd0, 0x70, 0xd0, 0x70, 0x41, 0, 0x1b, 0x1a, 0x0b); /* refs need a type */
  B_OK(0, 0, 0xd0, 0x70, 0xd0, 0x70, 0x41, 0, 0x1c, 1, 0x70, 0x1a, 0x0b);
  B_INVALID(0, "invalid result arity", 0, 0x41, 0, 0x1c, 2, 0x7f, 0x7f, 0x1a, 0x0b);
  B_MALFORMED(0, "malformed value type", 0, 0x41, 0, 0x1c, 1, 0x40, 0x0b);
  B_INVALID(0, TM, 0, 0xd0, 0x6f, 0xd0, 0x70, 0x41, 0, 0x1c, 1, 0x70, 0x1a, 0x0b);
  B_OK(2, 0, 0xd0, 0x6f, 0xd1, 0x0b);
  B_INVALID(2, TM, 0, 0x41, 0, 0xd1, 0x0b);
  B_MALFORMED(0, "malformed reference type", 0, 0xd0, 0x7f, 0x1a, 0x0b);
  B_OK(0, 0, 0xd2, 0, 0x1a, 0x0b);                 /* func 0 is declared by elem 0 */
  B_INVALID(0, "undeclared function reference", 0, 0xd2, 1, 0x1a, 0x0b);
  B_INVALID(0, "unknown function", 0, 0xd2, 7, 0x1a, 0x0b);
}

static void test_vm_validate_body_tables(void) {
  B_OK(0, 0, 0x41, 0, 0x25, 0, 0x1a, 0x0b);
  B_OK(0, 0, 0x41, 0, 0xd0, 0x6f, 0x26, 1, 0x0b);
  B_INVALID(0, TM, 0, 0x41, 0, 0xd0, 0x70, 0x26, 1, 0x0b);
  B_INVALID(0, "unknown table", 0, 0x41, 0, 0x25, 2, 0x1a, 0x0b);
  B_OK(2, 0, 0xd0, 0x70, 0x41, 1, 0xfc, 15, 0, 0x0b);          /* table.grow */
  B_INVALID(2, TM, 0, 0xd0, 0x70, 0x41, 1, 0xfc, 15, 1, 0x0b);
  B_OK(2, 0, 0xfc, 16, 1, 0x0b);                               /* table.size */
  B_OK(0, 0, 0x41, 0, 0xd0, 0x6f, 0x41, 1, 0xfc, 17, 1, 0x0b); /* table.fill */
  B_INVALID(0, TM, 0, 0x41, 0, 0xd0, 0x70, 0x41, 1, 0xfc, 17, 1, 0x0b);
  B_OK(0, 0, 0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 14, 0, 0, 0x0b); /* table.copy */
  B_INVALID(0, TM, 0, 0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 14, 0, 1, 0x0b);
  B_INVALID(0, "unknown table", 0, 0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 14, 0, 3, 0x0b);
  B_OK(0, 0, 0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 12, 1, 1, 0x0b); /* table.init e1 t1 */
  B_INVALID(0, TM, 0, 0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 12, 1, 0, 0x0b);
  B_INVALID(0, "unknown elem segment", 0, 0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 12, 2, 0, 0x0b);
  B_INVALID(0, "unknown table", 0, 0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 12, 2, 4, 0x0b);
  B_OK(0, 0, 0xfc, 13, 1, 0x0b);                               /* elem.drop */
  B_INVALID(0, "unknown elem segment", 0, 0xfc, 13, 2, 0x0b);
}

static void test_vm_validate_body_bulk_memory(void) {
  B_OK(0, 0, 0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 8, 0, 0, 0x0b);  /* memory.init */
  B_INVALID(0, "unknown data segment", 0, 0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 8, 1, 0, 0x0b);
  B_MALFORMED(0, "zero byte expected", 0, 0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 8, 0, 1, 0x0b);
  B_INVALID(0, TM, 0, 0x41, 0, 0x41, 0, 0xfc, 8, 0, 0, 0x0b);
  B_OK(0, 0, 0xfc, 9, 0, 0x0b);                                /* data.drop */
  B_INVALID(0, "unknown data segment", 0, 0xfc, 9, 1, 0x0b);
  B_OK(0, 0, 0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 10, 0, 0, 0x0b); /* memory.copy */
  B_MALFORMED(0, "zero byte expected", 0, 0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 10, 0, 1, 0x0b);
  B_OK(0, 0, 0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 11, 0, 0x0b);    /* memory.fill */
  B_INVALID(0, TM, 0, 0x41, 0, 0x42, 0, 0x41, 0, 0xfc, 11, 0, 0x0b);
  /* Data indices in code need the data count section (when there is a data section). */
  MOD_MALFORMED("data count section required", HDR, SEC(1), 1, 0x60, 0, 0, END, SEC(3), 1, 0,
                END, SEC(10), 1, BODY, 0, 0xfc, 9, 0, 0x0b, END, END, SEC(11), 1, 1, 0, END);
  MOD_INVALID("unknown data segment", ONE_FUNC, SEC(10), 1, BODY, 0, 0xfc, 9, 0, 0x0b, END, END);
  MOD_INVALID("unknown memory", ONE_FUNC, SEC(10), 1, BODY, 0, 0x41, 0, 0x41, 0, 0x41, 0, 0xfc,
              11, 0, 0x0b, END, END);
}

static void test_vm_validate_max_stack_and_depth(void) {
  static const int body[] = {0, 0x02, 0x40, 0x03, 0x40, 0x41, 1, 0x41, 2, 0x41, 3, 0x6a, 0x6a,
                             0x1a, 0x0b, 0x0b, 0x41, 0, 0x0b};
  vm_module m;
  pvm_error err;
  int rv = body_module(2, body, WB_LEN(body), &m, &err);
  CHECK_INT(0, ==, rv);
  if (rv) return;
  CHECK_INT(3, ==, m.funcs[0].max_stack);
  CHECK_INT(3, ==, m.funcs[0].max_depth); /* function, block, loop */
  CHECK_INT(0, ==, m.funcs[1].max_stack);
  CHECK_INT(1, ==, m.funcs[1].max_depth);
  vm_module_free(&m);
}

static void test_vm_validate_public_api(void) {
  static const uint8_t ok[] = {HDR};
  static const uint8_t bad[] = {0, 'a', 's', 'x', 1, 0, 0, 0};
  pvm_error err;
  CHECK_INT(0, ==, pvm_module_validate(ok, sizeof ok, &err));
  CHECK_INT(0, ==, pvm_module_validate(ok, sizeof ok, NULL));
  CHECK_INT(PVM_ERR_MALFORMED, ==, pvm_module_validate(bad, sizeof bad, &err));
  CHECK_STR("magic header not detected", err.msg);
  CHECK_INT(0, ==, err.offset);
  CHECK_INT(PVM_ERR_ARG, ==, pvm_module_validate(NULL, 3, &err));
  /* A body error points at the instruction and names the function. */
  static const int spec[] = {ONE_FUNC, SEC(10), 1, BODY, 0, 0x01, 0x6a, 0x0b, END, END};
  uint8_t buf[64];
  size_t len = wb_build(spec, WB_LEN(spec), buf, sizeof buf);
  CHECK_INT(PVM_ERR_INVALID, ==, pvm_module_validate(buf, len, &err));
  CHECK_STR("type mismatch (in function 0)", err.msg);
  CHECK_INT(len - 2, ==, err.offset);
  CHECK_INT(PVM_ERR_INVALID, ==, err.status);
}

/* ---- Speed ---------------------------------------------------------------------------- */

typedef struct gen {
  uint8_t *b;
  size_t n, cap;
} gen;

static void g_byte(gen *g, uint8_t v) {
  if (g->n < g->cap) g->b[g->n++] = v;
}
static void g_u32(gen *g, uint32_t v) {
  do {
    uint8_t c = v & 0x7f;
    v >>= 7;
    g_byte(g, v ? c | 0x80 : c);
  } while (v);
}
static void g_bytes(gen *g, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) g_byte(g, p[i]);
}
/* Appends section |id| with the |n| bytes at |p|. */
static void g_section(gen *g, uint8_t id, const uint8_t *p, size_t n) {
  g_byte(g, id);
  g_u32(g, (uint32_t)n);
  g_bytes(g, p, n);
}

/* A module of |nfuncs| functions of type [i32 i32] -> [i32], each a loop with loads,
 * stores, arithmetic, a br_table and a call: about 110 bytes a function. */
static size_t gen_module(uint8_t *out, size_t cap, uint32_t nfuncs) {
  static const uint8_t hdr[] = {HDR};
  static const uint8_t types[] = {1, 0x60, 2, 0x7f, 0x7f, 1, 0x7f};
  static const uint8_t mem[] = {1, 0, 1};
  static const uint8_t body[] = {
      2, 3, 0x7f, 1, 0x7e,                                   /* locals */
      0x02, 0x7f,                                            /* block (result i32) */
      0x03, 0x40,                                            /* loop */
      0x20, 0, 0x20, 1, 0x6a, 0x21, 2,                       /* l2 = p0 + p1 */
      0x20, 2, 0x28, 2, 4, 0x20, 0, 0x6c, 0x21, 3,           /* l3 = load(l2+4) * p0 */
      0x20, 2, 0x20, 3, 0x36, 2, 8,                          /* store(l2+8, l3) */
      0x20, 3, 0xad, 0x42, 7, 0x7e, 0x21, 5,                 /* l5 = u64(l3) * 7 */
      0x20, 5, 0xa7, 0x20, 4, 0x73, 0x22, 4,                 /* l4 ^= wrap(l5) */
      0x41, 0, 0x48, 0x0d, 0,                                /* br_if 0 if l4 < 0 */
      0x02, 0x40, 0x02, 0x40, 0x20, 0, 0x0e, 2, 0, 1, 2,     /* br_table */
      0x0b, 0x0b,
      0x20, 1, 0x41, 1, 0x6b, 0x22, 1, 0x0d, 0,              /* loop while --p1 */
      0x0b,                                                  /* end loop */
      0x20, 4, 0x20, 2, 0x20, 0, 0x10, 0, 0x6a,              /* l4 + f0(l2, p0) */
      0x0b,                                                  /* end block */
      0x0b};
  gen g = {out, 0, cap}, sec;
  uint8_t *tmp = malloc(cap);
  if (!tmp) return 0;
  g_bytes(&g, hdr, sizeof hdr);
  g_section(&g, 1, types, sizeof types);
  sec = (gen){tmp, 0, cap};
  g_u32(&sec, nfuncs);
  for (uint32_t i = 0; i < nfuncs; i++) g_byte(&sec, 0);
  g_section(&g, 3, tmp, sec.n);
  g_section(&g, 5, mem, sizeof mem);
  sec = (gen){tmp, 0, cap};
  g_u32(&sec, nfuncs);
  for (uint32_t i = 0; i < nfuncs; i++) {
    g_u32(&sec, sizeof body);
    g_bytes(&sec, body, sizeof body);
  }
  g_section(&g, 10, tmp, sec.n);
  free(tmp);
  return g.n < cap ? g.n : 0;
}

/* One function of |depth| nested blocks around a br_table with |depth| targets, and a
 * long straight run of locals: checks that validation stays linear. */
static size_t gen_deep(uint8_t *out, size_t cap, uint32_t depth) {
  static const uint8_t hdr[] = {HDR};
  static const uint8_t types[] = {1, 0x60, 0, 0};
  static const uint8_t funcs[] = {1, 0};
  gen g = {out, 0, cap}, body, sec;
  uint8_t *tmp = malloc(cap), *tmp2 = malloc(cap);
  if (!tmp || !tmp2) {
    free(tmp);
    free(tmp2);
    return 0;
  }
  body = (gen){tmp, 0, cap};
  g_byte(&body, 1);
  g_u32(&body, 50000);
  g_byte(&body, 0x7f); /* 50,000 i32 locals */
  for (uint32_t i = 0; i < depth; i++) g_bytes(&body, (const uint8_t[]){0x02, 0x40}, 2);
  g_bytes(&body, (const uint8_t[]){0x41, 0, 0x0e}, 3);
  g_u32(&body, depth);
  for (uint32_t i = 0; i < depth; i++) g_u32(&body, i);
  g_u32(&body, depth);
  for (uint32_t i = 0; i < depth; i++) g_byte(&body, 0x0b);
  for (uint32_t i = 0; i < 2000; i++) {
    g_byte(&body, 0x20);
    g_u32(&body, 49999 - i);
    g_byte(&body, 0x21);
    g_u32(&body, i * 7);
  }
  g_byte(&body, 0x0b);
  g_bytes(&g, hdr, sizeof hdr);
  g_section(&g, 1, types, sizeof types);
  g_section(&g, 3, funcs, sizeof funcs);
  sec = (gen){tmp2, 0, cap};
  g_byte(&sec, 1);
  g_u32(&sec, (uint32_t)body.n);
  g_bytes(&sec, tmp, body.n);
  g_section(&g, 10, tmp2, sec.n);
  free(tmp);
  free(tmp2);
  return g.n < cap ? g.n : 0;
}

/* Best of |runs| decode + validate times, in milliseconds. */
static double time_module(const uint8_t *b, size_t len, int runs, int *status) {
  double best = 1e9;
  for (int i = 0; i < runs; i++) {
    struct timespec t0, t1;
    pvm_error err;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    *status = check_module(b, len, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6;
    if (ms < best) best = ms;
    if (*status) fprintf(stderr, "  speed module rejected: %s\n", err.msg);
  }
  return best;
}

static void test_vm_validate_speed(void) {
  size_t cap = 1 << 20, len;
  uint8_t *b = malloc(cap);
  int status;
  double ms;
  CHECK(b != NULL);
  if (!b) return;
  len = gen_module(b, cap, 1200);
  CHECK(len > 100000);
  ms = time_module(b, len, 5, &status);
  CHECK_INT(0, ==, status);
  printf("speed: %zu-byte module (1200 functions): %.3f ms (%.1f us per 10 KB)\n", len, ms,
         ms * 1e3 * 10240.0 / (double)len);
  /* Target: well under 1 ms per 10 KB in the -O2 build; the bound leaves room for the
   * sanitizer build and a loaded machine. */
  CHECK(ms < 100.0);
  len = gen_deep(b, cap, 20000);
  CHECK(len > 60000);
  ms = time_module(b, len, 3, &status);
  CHECK_INT(0, ==, status);
  printf("speed: %zu-byte function, 20000 nested blocks + 20000-target br_table: %.3f ms\n", len,
         ms);
  CHECK(ms < 100.0);
  free(b);
}

/* ---- Spec test suite walk ---------------------------------------------------------- */

typedef struct walk_stats {
  uint64_t rng;       /* xorshift state for the mutations */
  long mutants;       /* mutated modules run through decode + validate */
  int malformed, malformed_rejected, malformed_exact;
  int invalid, invalid_rejected, invalid_exact;
  int valid, valid_accepted;
  int wrongly_accepted, wrongly_rejected;
  double seconds;
  size_t bytes;
} walk_stats;

/* Copies the JSON string value of "key": "..." in |line| into |out| (no unescaping:
 * file names and the messages we compare have no escapes). */
static bool json_field(const char *line, const char *key, char *out, size_t cap) {
  char pat[64];
  const char *p, *q;
  snprintf(pat, sizeof pat, "\"%s\": \"", key);
  p = strstr(line, pat);
  if (!p) return false;
  p += strlen(pat);
  q = strchr(p, '"');
  if (!q || (size_t)(q - p) >= cap) return false;
  memcpy(out, p, (size_t)(q - p));
  out[q - p] = 0;
  return true;
}

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf;
  long n;
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = malloc(n > 0 ? (size_t)n : 1);
  if (buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  *len = n > 0 ? (size_t)n : 0;
  return buf;
}

static void remove_dir(const char *dir) {
  DIR *dh = opendir(dir);
  struct dirent *de;
  char path[4096];
  if (!dh) return;
  while ((de = readdir(dh)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    unlink(path);
  }
  closedir(dh);
  rmdir(dir);
}

static uint32_t rng_next(walk_stats *st) {
  st->rng ^= st->rng << 13;
  st->rng ^= st->rng >> 7;
  st->rng ^= st->rng << 17;
  return (uint32_t)(st->rng >> 11);
}

/* Robustness: every prefix of a (small) valid module and random byte changes must give
 * a clean accept or reject; under ASan/UBSan any bad read or UB fails the test. The
 * outcome itself is not checked (many mutants are still valid). */
static void mutate(walk_stats *st, const uint8_t *bytes, size_t len) {
  pvm_error err;
  uint8_t *copy;
  if (len == 0) return;
  copy = malloc(len);
  if (!copy) return;
  if (len <= 300) {
    for (size_t n = 0; n < len; n++) {
      memcpy(copy, bytes, n); /* exactly n bytes: ASan sees any read past them */
      check_module(copy, n, &err);
      st->mutants++;
    }
  }
  for (int i = 0; i < 24; i++) {
    memcpy(copy, bytes, len);
    int nchanges = 1 + (int)(rng_next(st) % 3);
    for (int k = 0; k < nchanges; k++) {
      uint32_t r = rng_next(st);
      size_t pos = 8 + r % (len > 8 ? len - 8 : 1);
      if (pos >= len) pos = len - 1;
      /* Mostly interesting values: small numbers, opcodes, LEB continuation bits. */
      static const uint8_t vals[] = {0x00, 0x01, 0x02, 0x0b, 0x40, 0x7f, 0x80, 0xff, 0x6f,
                                     0x70, 0x41, 0xfc, 0x05, 0x0c, 0x0e, 0x1c, 0x60};
      copy[pos] = (r >> 20) & 1 ? vals[(r >> 21) % sizeof vals] : (uint8_t)(r >> 24);
    }
    check_module(copy, len, &err);
    st->mutants++;
  }
  free(copy);
}

/* Checks one command of a wast2json file. */
static void walk_command(walk_stats *st, const char *dir, const char *wast, const char *line) {
  char type[64], file[256], text[256] = "", mtype[32] = "", path[4096];
  pvm_error err;
  uint8_t *bytes;
  size_t len;
  int rv, expect; /* expect: 1 valid, -1 malformed, -2 invalid */
  struct timespec t0, t1;
  if (!json_field(line, "type", type, sizeof type)) return;
  if (!json_field(line, "filename", file, sizeof file)) return;
  json_field(line, "text", text, sizeof text);
  json_field(line, "module_type", mtype, sizeof mtype);
  if (strcmp(type, "module") == 0 || strcmp(type, "assert_unlinkable") == 0 ||
      strcmp(type, "assert_uninstantiable") == 0)
    expect = 1;
  else if (strcmp(type, "assert_malformed") == 0 && strcmp(mtype, "binary") == 0)
    expect = -1;
  else if (strcmp(type, "assert_invalid") == 0 && strcmp(mtype, "text") != 0)
    expect = -2;
  else
    return;
  snprintf(path, sizeof path, "%s/%s", dir, file);
  bytes = read_file(path, &len);
  if (!bytes) {
    fprintf(stderr, "spec walk: cannot read %s\n", path);
    st->wrongly_rejected++;
    return;
  }
  clock_gettime(CLOCK_MONOTONIC, &t0);
  rv = check_module(bytes, len, &err);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  st->seconds += (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  st->bytes += len;
  if (expect == 1 && rv == 0 && !getenv("PVM_WALK_NO_MUTATE")) mutate(st, bytes, len);
  free(bytes);
  if (rv != 0 && rv != PVM_ERR_MALFORMED && rv != PVM_ERR_INVALID) {
    fprintf(stderr, "spec walk: %s %s: status %d (%s)\n", wast, file, rv, err.msg);
  }
  /* The spec runner matches a message by prefix ("unknown memory 0" for "unknown memory"). */
  bool exact = rv != 0 && strncmp(err.msg, text, strlen(text)) == 0;
  if (expect == 1) {
    st->valid++;
    if (rv == 0) {
      st->valid_accepted++;
    } else {
      st->wrongly_rejected++;
      fprintf(stderr, "spec walk: %s %s: valid module rejected: %s (offset %ld)\n", wast,
              file, err.msg, err.offset);
    }
    return;
  }
  if (expect == -1) {
    st->malformed++;
    st->malformed_rejected += rv != 0;
    st->malformed_exact += exact;
  } else {
    st->invalid++;
    st->invalid_rejected += rv != 0;
    st->invalid_exact += exact;
  }
  if (rv == 0) {
    st->wrongly_accepted++;
    fprintf(stderr, "spec walk: %s %s: accepted, expected \"%s\"\n", wast, file, text);
  } else if (!exact && getenv("PVM_WALK_VERBOSE")) {
    fprintf(stderr, "spec walk: %s %s: \"%s\" instead of \"%s\"\n", wast, file, err.msg, text);
  }
}

static void walk_wast(walk_stats *st, const char *wast_path, const char *name) {
  char dir[] = "/tmp/pvm_walk_XXXXXX", cmd[8192], json[256], *line = NULL;
  size_t cap = 0;
  FILE *f;
  if (!mkdtemp(dir)) {
    fprintf(stderr, "spec walk: mkdtemp failed\n");
    st->wrongly_rejected++;
    return;
  }
  snprintf(json, sizeof json, "%s/t.json", dir);
  snprintf(cmd, sizeof cmd, "wast2json '%s' -o '%s' >/dev/null 2>&1", wast_path, json);
  if (system(cmd) != 0) {
    fprintf(stderr, "spec walk: wast2json failed on %s\n", name);
    st->wrongly_rejected++;
  } else if ((f = fopen(json, "r")) != NULL) {
    while (getline(&line, &cap, f) > 0) walk_command(st, dir, name, line);
    fclose(f);
  }
  free(line);
  remove_dir(dir);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_vm_validate_spec_suite(void) {
  const char *suite = PLUGINOP_SHARED_DIR "/wasm-testsuite";
  const char *only = getenv("PVM_WALK_ONLY");
  walk_stats st;
  DIR *dh;
  struct dirent *de;
  char *names[512], path[4096];
  int n = 0;
  memset(&st, 0, sizeof st);
  st.rng = 0x9e3779b97f4a7c15ull;
  if (system("wast2json --version >/dev/null 2>&1") != 0) {
    fprintf(stderr, "spec walk: wast2json not found (install wabt)\n");
    CHECK(0);
    return;
  }
  dh = opendir(suite);
  CHECK(dh != NULL);
  if (!dh) return;
  while ((de = readdir(dh)) != NULL && n < 512) {
    size_t l = strlen(de->d_name);
    if (l < 6 || strcmp(de->d_name + l - 5, ".wast") != 0) continue;
    if (strncmp(de->d_name, "simd", 4) == 0) continue;
    if (only && strstr(de->d_name, only) == NULL) continue;
    names[n++] = strdup(de->d_name);
  }
  closedir(dh);
  qsort(names, (size_t)n, sizeof names[0], cmp_str);
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/%s", suite, names[i]);
    walk_wast(&st, path, names[i]);
    free(names[i]);
  }
  printf("spec walk: %d wast files\n", n);
  printf("  assert_malformed (binary): %d, rejected %d, with the expected message %d\n",
         st.malformed, st.malformed_rejected, st.malformed_exact);
  printf("  assert_invalid: %d, rejected %d, with the expected message %d\n", st.invalid,
         st.invalid_rejected, st.invalid_exact);
  printf("  valid modules: %d, accepted %d\n", st.valid, st.valid_accepted);
  printf("  wrongly accepted %d, wrongly rejected %d\n", st.wrongly_accepted,
         st.wrongly_rejected);
  printf("  decode+validate: %zu bytes in %.3f ms\n", st.bytes, st.seconds * 1e3);
  printf("  mutated modules checked for clean failure: %ld\n", st.mutants);
  CHECK(n > 0);
  CHECK(st.valid > 0);
  CHECK_INT(0, ==, st.wrongly_accepted);
  CHECK_INT(0, ==, st.wrongly_rejected);
}

int main(void) {
  RUN(test_vm_validate_module_limits);
  RUN(test_vm_validate_module_types);
  RUN(test_vm_validate_module_globals);
  RUN(test_vm_validate_module_segments);
  RUN(test_vm_validate_module_start_exports);
  RUN(test_vm_validate_body_structure);
  RUN(test_vm_validate_body_overrun_messages);
  RUN(test_vm_validate_format_errors_come_first);
  RUN(test_vm_validate_body_blocks);
  RUN(test_vm_validate_body_branches);
  RUN(test_vm_validate_body_unreachable);
  RUN(test_vm_validate_body_variables);
  RUN(test_vm_validate_body_many_locals);
  RUN(test_vm_validate_body_calls);
  RUN(test_vm_validate_body_memory);
  RUN(test_vm_validate_body_numeric);
  RUN(test_vm_validate_body_select_and_refs);
  RUN(test_vm_validate_body_tables);
  RUN(test_vm_validate_body_bulk_memory);
  RUN(test_vm_validate_max_stack_and_depth);
  RUN(test_vm_validate_public_api);
  RUN(test_vm_validate_speed);
  RUN(test_vm_validate_spec_suite);
  return test_report();
}
