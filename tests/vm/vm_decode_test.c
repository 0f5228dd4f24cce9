/*
 * vm_decode_test.c: the binary decoder, section by section and error path by error path,
 * on hand-written byte arrays.
 */
#include <stdlib.h>

#include "test.h"
#include "vm_module.h"
#include "vm_wasm_build.h"

/* Decodes |len| bytes; returns the status and leaves the message in *err. */
static int decode(const uint8_t *b, size_t len, vm_module *m, pvm_error *err) {
  memset(err, 0, sizeof *err);
  return vm_decode(b, len, m, err);
}

/* Expects decoding to fail with |status| and exactly |msg|; returns the error offset. */
static long expect_fail(const uint8_t *b, size_t len, int status, const char *msg) {
  vm_module m;
  pvm_error err;
  int rv = decode(b, len, &m, &err);
  CHECK_INT(status, ==, rv);
  CHECK_STR(msg, err.msg);
  CHECK_INT(status, ==, err.status);
  if (rv == 0) vm_module_free(&m);
  return err.offset;
}

/* A module decodes: |m| must be freed by the caller. */
static bool expect_ok(const uint8_t *b, size_t len, vm_module *m) {
  pvm_error err;
  int rv = decode(b, len, m, &err);
  CHECK_INT(0, ==, rv);
  if (rv) fprintf(stderr, "  decode failed: %s at %ld\n", err.msg, err.offset);
  return rv == 0;
}

#define FAIL(msg, ...)                                                                \
  do {                                                                                \
    static const uint8_t b_[] = {__VA_ARGS__};                                        \
    expect_fail(b_, sizeof b_, PVM_ERR_MALFORMED, msg);                               \
  } while (0)

#define FAIL_INVALID(msg, ...)                                                        \
  do {                                                                                \
    static const uint8_t b_[] = {__VA_ARGS__};                                        \
    expect_fail(b_, sizeof b_, PVM_ERR_INVALID, msg);                                 \
  } while (0)

/* Builds (see vm_wasm_build.h) and decodes a module that must be well-formed. */
#define OK(m, ...)                                                                    \
  static const int s_##m[] = {__VA_ARGS__};                                           \
  uint8_t b_##m[4096];                                                                \
  size_t n_##m = wb_build(s_##m, WB_LEN(s_##m), b_##m, sizeof b_##m);                 \
  vm_module m;                                                                        \
  CHECK(n_##m > 0);                                                                   \
  if (!expect_ok(b_##m, n_##m, &m)) return

/* Builds a module that must fail to decode with |msg|. */
#define BFAIL(status, msg, ...)                                                       \
  do {                                                                                \
    static const int s_[] = {__VA_ARGS__};                                            \
    uint8_t b_[4096];                                                                 \
    size_t n_ = wb_build(s_, WB_LEN(s_), b_, sizeof b_);                              \
    CHECK(n_ > 0);                                                                    \
    expect_fail(b_, n_, status, msg);                                                 \
  } while (0)

static void test_vm_decode_empty_module(void) {
  OK(m, HDR);
  CHECK_INT(0, ==, m.nfuncs);
  CHECK_INT(8, ==, m.len);
  CHECK(m.bytes != NULL);
  vm_module_free(&m);
  CHECK(m.bytes == NULL);
  vm_module_free(NULL); /* allowed */
}

static void test_vm_decode_header_errors(void) {
  FAIL("unexpected end", 0x00, 0x61);
  FAIL("magic header not detected", 0x00, 0x61, 0x73, 0x6e, 1, 0, 0, 0);
  FAIL("unexpected end", 0x00, 0x61, 0x73, 0x6d, 1);
  FAIL("unknown binary version", 0x00, 0x61, 0x73, 0x6d, 2, 0, 0, 0);
  expect_fail(NULL, 0, PVM_ERR_MALFORMED, "unexpected end");
  static const uint8_t v[] = {0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 1};
  CHECK_INT(4, ==, expect_fail(v, sizeof v, PVM_ERR_MALFORMED, "unknown binary version"));
}

static void test_vm_decode_section_framing(void) {
  FAIL("malformed section id", HDR, 13, 0);
  FAIL("unexpected end", HDR, 1);                     /* no size */
  FAIL("integer representation too long", HDR, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00);
  FAIL("length out of bounds", HDR, 1, 5, 0);         /* size beyond the file */
  FAIL("section size mismatch", HDR, 1, 2, 0, 0);     /* 1 byte left over */
  FAIL("unexpected content after last section", HDR, 3, 1, 0, 1, 1, 0); /* out of order */
  FAIL("unexpected content after last section", HDR, 1, 1, 0, 1, 1, 0); /* twice */
  /* Data count sits between element and code. */
  {
    OK(m, HDR, SEC(9), 0, END, SEC(12), 0, END, SEC(10), 0, END, SEC(11), 0, END);
    CHECK(m.has_data_count);
    vm_module_free(&m);
  }
  FAIL("unexpected content after last section", HDR, 10, 1, 0, 12, 1, 0);
  /* Reading past a section: at the end of the file vs. into the next section. */
  FAIL("unexpected end of section or function", HDR, 1, 1, 1);
  FAIL("section size mismatch", HDR, 1, 1, 1, 0, 0);
  /* Offsets point at the problem. */
  static const uint8_t b[] = {HDR, 0, 1, 0, 0x0d, 0};
  CHECK_INT(11, ==, expect_fail(b, sizeof b, PVM_ERR_MALFORMED, "malformed section id"));
}

static void test_vm_decode_type_section(void) {
  OK(m, HDR, SEC(1), 2, 0x60, 2, 0x7f, 0x7e, 1, 0x7d, 0x60, 0, 2, 0x70, 0x6f, END);
  CHECK_INT(2, ==, m.ntypes);
  CHECK_INT(2, ==, m.types[0].nparams);
  CHECK_INT(1, ==, m.types[0].nresults);
  CHECK_INT(0x7f, ==, m.types[0].types[0]);
  CHECK_INT(0x7e, ==, m.types[0].types[1]);
  CHECK_INT(0x7d, ==, m.types[0].types[2]);
  CHECK_INT(0, ==, m.types[1].nparams);
  CHECK_INT(0x6f, ==, m.types[1].types[1]);
  vm_module_free(&m);
  FAIL("malformed functype", HDR, 1, 4, 1, 0x61, 0, 0);
  FAIL("integer representation too long", HDR, 1, 5, 1, 0xe0, 0x7f, 0, 0);
  FAIL("malformed value type", HDR, 1, 5, 1, 0x60, 1, 0x40, 0);
  FAIL("malformed value type", HDR, 1, 5, 1, 0x60, 0, 1, 0x00);
  FAIL("integer representation too long", HDR, 1, 6, 1, 0x60, 1, 0xff, 0x7f, 0);
  FAIL("unexpected end of section or function", HDR, 1, 4, 1, 0x60, 5, 0x7f);
  FAIL("unexpected end of section or function", HDR, 1, 2, 1, 0x60);
}

static void test_vm_decode_import_section(void) {
  OK(m, HDR, SEC(1), 1, 0x60, 0, 0, END,
     SEC(2), 4,
     1, 'm', 1, 'f', 0, 0,                    /* func, type 0 */
     1, 'm', 1, 't', 1, 0x70, 1, 1, 5,        /* table funcref 1..5 */
     1, 'm', 2, 0xc3, 0xa9, 2, 0, 2,          /* memory "é", min 2 */
     1, 'm', 1, 'g', 3, 0x7e, 1, END);        /* global mut i64 */
  CHECK_INT(4, ==, m.nimports);
  CHECK_INT(1, ==, m.nfunc_imports);
  CHECK_INT(1, ==, m.ntable_imports);
  CHECK_INT(1, ==, m.nmem_imports);
  CHECK_INT(1, ==, m.nglobal_imports);
  CHECK_INT(PVM_EXTERN_TABLE, ==, m.imports[1].kind);
  CHECK_INT(5, ==, m.imports[1].u.table.limits.max);
  CHECK(m.imports[1].u.table.limits.has_max);
  CHECK_INT(2, ==, m.imports[2].u.mem.min);
  CHECK(!m.imports[2].u.mem.has_max);
  CHECK_INT(2, ==, m.imports[2].name.len);
  CHECK(m.imports[3].u.global.mutable_);
  CHECK_INT(0x7e, ==, m.imports[3].u.global.type);
  CHECK(vm_module_func_type(&m, 0) == &m.types[0]);
  CHECK(vm_module_func_type(&m, 1) == NULL);
  vm_module_free(&m);
  FAIL("malformed import kind", HDR, 2, 5, 1, 0, 0, 4, 0);
  FAIL("malformed mutability", HDR, 2, 6, 1, 0, 0, 3, 0x7f, 2);
  FAIL("malformed reference type", HDR, 2, 7, 1, 0, 0, 1, 0x7f, 0, 0);
  FAIL("integer too large", HDR, 2, 6, 1, 0, 0, 2, 2, 0);
  FAIL("integer representation too long", HDR, 2, 7, 1, 0, 0, 2, 0x81, 0, 0);
  FAIL("length out of bounds", HDR, 2, 4, 1, 9, 0, 0);
  FAIL("section size mismatch", HDR, 2, 3, 1, 2, 'a', 0, 0, 0, 0);
  FAIL("malformed UTF-8 encoding", HDR, 2, 6, 1, 1, 0x80, 0, 0, 0);
}

static void test_vm_decode_utf8(void) {
  /* A custom section's name is checked: valid forms of each length, then every kind of
   * invalid sequence. */
  {
    OK(m, HDR, SEC(0), 10, 'a', 0xc2, 0x80, 0xe0, 0xa0, 0x80, 0xf4, 0x8f, 0xbf, 0xbf, END);
    CHECK_INT(1, ==, m.ncustoms);
    CHECK_INT(10, ==, m.customs[0].name.len);
    CHECK_INT(0, ==, m.customs[0].len);
    vm_module_free(&m);
  }
  FAIL("malformed UTF-8 encoding", HDR, 0, 3, 2, 0xc0, 0x80);             /* overlong */
  FAIL("malformed UTF-8 encoding", HDR, 0, 4, 3, 0xe0, 0x80, 0x80);       /* overlong */
  FAIL("malformed UTF-8 encoding", HDR, 0, 4, 3, 0xed, 0xa0, 0x80);       /* surrogate */
  FAIL("malformed UTF-8 encoding", HDR, 0, 5, 4, 0xf4, 0x90, 0x80, 0x80); /* > 10FFFF */
  FAIL("malformed UTF-8 encoding", HDR, 0, 3, 2, 0xe0, 0xa0);             /* truncated */
  FAIL("malformed UTF-8 encoding", HDR, 0, 3, 2, 0xc2, 0x41);             /* bad cont. */
  FAIL("malformed UTF-8 encoding", HDR, 0, 2, 1, 0xff);
  FAIL("malformed UTF-8 encoding", HDR, 0, 2, 1, 0x80);
}

static void test_vm_decode_custom_and_names(void) {
  /* Two functions, a name section naming function 1 "fn" and an unknown subsection. */
  OK(m, HDR, SEC(1), 1, 0x60, 0, 0, END, SEC(3), 2, 0, 0, END,
     SEC(10), 2, BODY, 0, 0x0b, END, BODY, 0, 0x0b, END, END,
     SEC(0), 4, 'n', 'a', 'm', 'e',
     0, BODY, 2, 'm', 'x', END,                /* module name (skipped) */
     1, BODY, 1, 1, 2, 'f', 'n', END,          /* function names */
     END, SEC(0), 4, 'x', 'y', 'z', 'w', END); /* another custom section */
  CHECK_INT(2, ==, m.ncustoms);
  CHECK_INT(2, ==, m.nfunc_names);
  CHECK_INT(0, ==, m.func_names[0].len);
  CHECK_INT(2, ==, m.func_names[1].len);
  CHECK(memcmp(m.func_names[1].ptr, "fn", 2) == 0);
  CHECK_INT(4, ==, m.customs[1].name.len);
  CHECK_INT(0, ==, m.customs[1].len);
  vm_module_free(&m);
  {
    /* A broken name section is ignored. */
    OK(m2, HDR, SEC(0), 4, 'n', 'a', 'm', 'e', 1, 9, 0, END);
    CHECK_INT(1, ==, m2.ncustoms);
    vm_module_free(&m2);
  }
  {
    /* Many custom sections (the array grows). */
    OK(m3, HDR, SEC(0), 0, END, SEC(0), 0, END, SEC(0), 0, END, SEC(0), 0, 7, END, SEC(0), 0, END,
       SEC(0), 0, END);
    CHECK_INT(6, ==, m3.ncustoms);
    CHECK_INT(1, ==, m3.customs[3].len);
    vm_module_free(&m3);
  }
  FAIL("unexpected end", HDR, 0, 0);                  /* no room for the name */
  FAIL("unexpected end", HDR, 0, 2, 5, 'a', 0, 3, 0, 0, 0); /* name longer than the section */
  FAIL("length out of bounds", HDR, 0, 2, 9, 'a');    /* ... and than the file */
}

static void test_vm_decode_function_table_memory(void) {
  OK(m, HDR, SEC(1), 1, 0x60, 0, 0, END, SEC(3), 1, 0, END,
     SEC(4), 2, 0x70, 0, 1, 0x6f, 1, 0, 5, END, SEC(5), 1, 1, 1, 2, END,
     SEC(10), 1, BODY, 0, 0x0b, END, END);
  CHECK_INT(1, ==, m.nfuncs);
  CHECK_INT(2, ==, m.ntables);
  CHECK_INT(0x6f, ==, m.tables[1].elem_type);
  CHECK_INT(1, ==, m.tables[0].limits.min);
  CHECK_INT(1, ==, m.nmems);
  CHECK_INT(2, ==, m.mems[0].max);
  CHECK_INT(1, ==, m.funcs[0].code_len);
  CHECK_INT(0x0b, ==, m.funcs[0].code[0]);
  CHECK_INT(m.funcs[0].code - m.bytes, ==, m.funcs[0].code_offset);
  vm_module_free(&m);
  FAIL("function and code section have inconsistent lengths", HDR, 1, 4, 1, 0x60, 0, 0, 3, 2,
       1, 0);
  FAIL("function and code section have inconsistent lengths", HDR, 10, 4, 1, 2, 0, 0x0b);
  FAIL("malformed reference type", HDR, 4, 3, 1, 0x7f, 0);
  FAIL("unexpected end of section or function", HDR, 5, 3, 1, 1, 0);
}

static void test_vm_decode_code_section(void) {
  OK(m, HDR, SEC(1), 1, 0x60, 0, 0, END, SEC(3), 1, 0, END,
     SEC(10), 1, BODY, 3, 2, 0x7f, 0, 0x7e, 1, 0x7c, 0x0b, END, END);
  CHECK_INT(3, ==, m.funcs[0].nlocal_runs);
  CHECK_INT(3, ==, m.funcs[0].nlocals);
  CHECK_INT(0x7c, ==, m.funcs[0].local_runs[2].type);
  CHECK_INT(0, ==, m.funcs[0].local_runs[1].count);
  vm_module_free(&m);
#define F1 HDR, SEC(1), 1, 0x60, 0, 0, END, SEC(3), 1, 0, END
  BFAIL(PVM_ERR_MALFORMED, "too many locals", F1, SEC(10), 1,
        BODY, 2, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x7f, 1, 0x7e, 0x0b, END, END);
  BFAIL(PVM_ERR_MALFORMED, "implementation limit: too many locals", F1, SEC(10), 1,
        BODY, 1, 0x80, 0x80, 0x80, 0x01, 0x7f, 0x0b, END, END);
  BFAIL(PVM_ERR_MALFORMED, "malformed value type", F1, SEC(10), 1, BODY, 1, 1, 0x40, 0x0b, END,
        END);
  /* Local declarations running past the body. */
  BFAIL(PVM_ERR_MALFORMED, "unexpected end of section or function", F1, SEC(10), 1,
        BODY, 2, 1, 0x7f, END, END);
  /* A body longer than its section. */
  FAIL("unexpected end of section or function", HDR, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 10, 4,
       1, 9, 0, 0x0b);
  /* The body count differs from the function count. */
  FAIL("function and code section have inconsistent lengths", HDR, 1, 4, 1, 0x60, 0, 0, 3, 2,
       1, 0, 10, 7, 2, 2, 0, 0x0b, 2, 0, 0x0b);
}

static void test_vm_decode_global_and_const_exprs(void) {
  OK(m, HDR, SEC(6), 6,
     0x7f, 0, 0x41, 0x7f, 0x0b,                                  /* i32 -1 */
     0x7e, 1, 0x42, 0x80, 0x01, 0x0b,                            /* mut i64 128 */
     0x7d, 0, 0x43, 0x00, 0x00, 0x80, 0x3f, 0x0b,                /* f32 1.0 */
     0x7c, 0, 0x44, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x0b,          /* f64 1.0 */
     0x70, 0, 0xd0, 0x70, 0x0b,                                  /* ref.null func */
     0x6f, 0, 0xd0, 0x6f, 0x0b, END);                            /* ref.null extern */
  CHECK_INT(6, ==, m.nglobals);
  CHECK_INT(0x41, ==, m.globals[0].init.op);
  CHECK_INT(0xffffffffu, ==, m.globals[0].init.bits);
  CHECK(m.globals[1].type.mutable_);
  CHECK_INT(128, ==, m.globals[1].init.bits);
  CHECK_INT(0x3f800000u, ==, m.globals[2].init.bits);
  CHECK(m.globals[3].init.bits == 0x3ff0000000000000ull);
  CHECK_INT(0xd0, ==, m.globals[4].init.op);
  CHECK_INT(0x70, ==, m.globals[4].init.bits);
  vm_module_free(&m);
  {
    OK(m2, HDR, SEC(6), 2, 0x70, 0, 0xd2, 3, 0x0b, 0x7f, 0, 0x23, 0, 0x0b, END);
    (void)m2;
    vm_module_free(&m2);
  }
  FAIL("section size mismatch", HDR, 6, 7, 1, 0x70, 0, 0xd2, 3, 0x0b, 0);
  FAIL_INVALID("type mismatch", HDR, 6, 4, 1, 0x7f, 0, 0x0b);
  FAIL_INVALID("type mismatch", HDR, 6, 8, 1, 0x7f, 0, 0x41, 0, 0x41, 0, 0x0b);
  FAIL_INVALID("constant expression required", HDR, 6, 7, 1, 0x7f, 0, 0x41, 0, 0x68, 0x0b);
  FAIL_INVALID("constant expression required", HDR, 6, 5, 1, 0x7f, 0, 0x01, 0x0b);
  FAIL("illegal opcode", HDR, 6, 5, 1, 0x7f, 0, 0x06, 0x0b);
  FAIL("malformed reference type", HDR, 6, 6, 1, 0x70, 0, 0xd0, 0x7f, 0x0b);
  FAIL("malformed mutability", HDR, 6, 6, 1, 0x7f, 2, 0x41, 0, 0x0b);
  FAIL("integer representation too long", HDR, 6, 10, 1, 0x7f, 0, 0x41, 0x80, 0x80, 0x80,
       0x80, 0x80, 0x00, 0x0b);
  FAIL("integer too large", HDR, 6, 9, 1, 0x7f, 0, 0x41, 0x80, 0x80, 0x80, 0x80, 0x70, 0x0b);
  FAIL("unexpected end of section or function", HDR, 6, 5, 1, 0x7d, 0, 0x43, 0);
  FAIL("unexpected end of section or function", HDR, 6, 4, 1, 0x7f, 0, 0x41);
}

static void test_vm_decode_format_errors_come_first(void) {
  /* A non-constant initializer is a validation error: the rest of the module is still
   * decoded, and a format error anywhere wins. */
  BFAIL(PVM_ERR_INVALID, "constant expression required", HDR, SEC(6), 1, 0x7f, 0, 0x02, 0x40,
        0x0b, 0x41, 0, 0x0b, END);
  BFAIL(PVM_ERR_INVALID, "constant expression required", HDR, SEC(6), 1, 0x7f, 0, 0x41, 0,
        0x04, 0x40, 0x05, 0x0b, 0x0b, END);
  BFAIL(PVM_ERR_MALFORMED, "malformed export kind", HDR, SEC(6), 1, 0x7f, 0, 0x01, 0x0b, END,
        SEC(7), 1, 0, 9, 0, END);
  BFAIL(PVM_ERR_MALFORMED, "illegal opcode", HDR, SEC(1), 1, 0x60, 0, 0, END, SEC(3), 1, 0,
        END, SEC(6), 1, 0x7f, 0, 0x01, 0x0b, END, SEC(10), 1, BODY, 0, 0xff, 0x0b, END, END);
  BFAIL(PVM_ERR_MALFORMED, "zero byte expected", HDR, SEC(6), 1, 0x7f, 0, 0x3f, 1, 0x0b, END);
  BFAIL(PVM_ERR_MALFORMED, "illegal opcode", HDR, SEC(6), 1, 0x7f, 0, 0xfd, 0, 0x0b, END);
  BFAIL(PVM_ERR_MALFORMED, "illegal opcode", HDR, SEC(6), 1, 0x7f, 0, 0xfc, 40, 0x0b, END);
  BFAIL(PVM_ERR_MALFORMED, "malformed value type", HDR, SEC(6), 1, 0x7f, 0, 0x1c, 1, 0x40,
        0x0b, END);
}

static void test_vm_decode_export_start(void) {
  OK(m, HDR, SEC(1), 1, 0x60, 0, 0, END, SEC(3), 1, 0, END,
     SEC(7), 2, 1, 'f', 0, 0, 2, 'g', 'h', 3, 8, END, SEC(8), 0, END,
     SEC(10), 1, BODY, 0, 0x0b, END, END);
  CHECK_INT(2, ==, m.nexports);
  CHECK_INT(PVM_EXTERN_GLOBAL, ==, m.exports[1].kind);
  CHECK_INT(8, ==, m.exports[1].index);
  CHECK_INT(2, ==, m.exports[1].name.len);
  CHECK(m.has_start);
  CHECK_INT(0, ==, m.start);
  vm_module_free(&m);
  FAIL("malformed export kind", HDR, 7, 4, 1, 0, 4, 0);
  FAIL("unexpected end of section or function", HDR, 8, 0);
}

static void test_vm_decode_element_segments(void) {
  /* All eight encodings, one segment each. */
  OK(m, HDR, SEC(9), 8,
     0, 0x41, 1, 0x0b, 1, 0,                       /* 0: active t0, funcs [0] */
     1, 0, 2, 0, 1,                                /* 1: passive, funcs [0 1] */
     2, 1, 0x41, 2, 0x0b, 0, 1, 1,                 /* 2: active t1, funcs [1] */
     3, 0, 0,                                      /* 3: declarative, no funcs */
     4, 0x41, 3, 0x0b, 1, 0xd2, 0, 0x0b,           /* 4: active t0, exprs */
     5, 0x6f, 1, 0xd0, 0x6f, 0x0b,                 /* 5: passive externref */
     6, 2, 0x41, 4, 0x0b, 0x70, 1, 0xd0, 0x70, 0x0b, /* 6: active t2, funcref */
     7, 0x70, 0, END);                             /* 7: declarative, empty */
  CHECK_INT(8, ==, m.nelems);
  CHECK_INT(VM_SEG_ACTIVE, ==, m.elems[0].mode);
  CHECK_INT(0, ==, m.elems[0].table);
  CHECK_INT(1, ==, m.elems[0].offset.bits);
  CHECK_INT(0xd2, ==, m.elems[0].items[0].op);
  CHECK_INT(VM_SEG_PASSIVE, ==, m.elems[1].mode);
  CHECK_INT(2, ==, m.elems[1].count);
  CHECK_INT(1, ==, m.elems[1].items[1].index);
  CHECK_INT(1, ==, m.elems[2].table);
  CHECK_INT(2, ==, m.elems[2].offset.bits);
  CHECK_INT(VM_SEG_DECLARATIVE, ==, m.elems[3].mode);
  CHECK_INT(3, ==, m.elems[4].offset.bits);
  CHECK_INT(PVM_FUNCREF, ==, m.elems[4].elem_type);
  CHECK_INT(PVM_EXTERNREF, ==, m.elems[5].elem_type);
  CHECK_INT(VM_SEG_PASSIVE, ==, m.elems[5].mode);
  CHECK_INT(0xd0, ==, m.elems[5].items[0].op);
  CHECK_INT(2, ==, m.elems[6].table);
  CHECK_INT(VM_SEG_DECLARATIVE, ==, m.elems[7].mode);
  CHECK_INT(0, ==, m.elems[7].count);
  vm_module_free(&m);
  FAIL("malformed elements segment kind", HDR, 9, 3, 1, 8, 0);
  FAIL("malformed element kind", HDR, 9, 4, 1, 1, 1, 0);
  FAIL("malformed reference type", HDR, 9, 4, 1, 5, 0x7f, 0);
  FAIL("unexpected end of section or function", HDR, 9, 7, 2, 0, 0x41, 0, 0x0b, 1, 0);
}

static void test_vm_decode_data_segments(void) {
  OK(m, HDR, SEC(12), 3, END, SEC(11), 3,
     0, 0x41, 8, 0x0b, 2, 'a', 'b',                /* active mem 0 at 8 */
     1, 1, 'c',                                    /* passive */
     2, 0, 0x41, 9, 0x0b, 0, END);                 /* active mem 0 (explicit), empty */
  CHECK_INT(3, ==, m.ndatas);
  CHECK_INT(3, ==, m.data_count);
  CHECK_INT(VM_SEG_ACTIVE, ==, m.datas[0].mode);
  CHECK_INT(8, ==, m.datas[0].offset.bits);
  CHECK_INT(2, ==, m.datas[0].len);
  CHECK(memcmp(m.datas[0].bytes, "ab", 2) == 0);
  CHECK_INT(VM_SEG_PASSIVE, ==, m.datas[1].mode);
  CHECK_INT(9, ==, m.datas[2].offset.bits);
  CHECK_INT(0, ==, m.datas[2].len);
  vm_module_free(&m);
  FAIL("malformed data segment kind", HDR, 11, 3, 1, 3, 0);
  FAIL("data count and data section have inconsistent lengths", HDR, 12, 1, 2, 11, 3, 1, 1, 0);
  FAIL("data count and data section have inconsistent lengths", HDR, 12, 1, 1);
  FAIL("unexpected end of section or function", HDR, 11, 4, 1, 1, 5, 'a');
  FAIL("section size mismatch", HDR, 11, 4, 1, 1, 5, 'a', 0, 1, 0);
}

static void test_vm_decode_counts_are_bounded(void) {
  /* A huge count in a small section fails before allocating anything. */
  FAIL("unexpected end of section or function", HDR, 1, 6, 0xff, 0xff, 0xff, 0xff, 0x0f, 0);
  FAIL("unexpected end of section or function", HDR, 3, 5, 0xff, 0xff, 0xff, 0xff, 0x0f);
  /* More items than VM_MAX_ITEMS: a function section of 1,000,001 entries. */
  size_t n = VM_MAX_ITEMS + 1, len = 8 + 1 + 5 + 4 + n;
  uint8_t *b = malloc(len);
  CHECK(b != NULL);
  if (!b) return;
  static const uint8_t hdr[] = {HDR};
  memcpy(b, hdr, 8);
  size_t size = 4 + n, p = 9;
  b[8] = 3;
  for (int i = 0; i < 4; i++) b[p++] = (uint8_t)(((size >> (7 * i)) & 0x7f) | (i < 3 ? 0x80 : 0));
  for (int i = 0; i < 3; i++) b[p++] = (uint8_t)(((n >> (7 * i)) & 0x7f) | 0x80);
  b[p++] = (uint8_t)(n >> 21);
  memset(b + p, 0, n);
  expect_fail(b, p + n, PVM_ERR_MALFORMED, "implementation limit: too many items");
  free(b);
}

static void test_vm_decode_copies_input(void) {
  uint8_t b[] = {HDR, 0, 2, 1, 'x'};
  vm_module m;
  if (!expect_ok(b, sizeof b, &m)) return;
  b[10] = 'y';
  CHECK_INT('x', ==, m.customs[0].name.ptr[0]);
  CHECK(m.customs[0].name.ptr >= (const char *)m.bytes);
  vm_module_free(&m);
}

static void test_vm_decode_messages(void) {
  CHECK_STR("out of bounds memory access", pvm_trap_message(PVM_TRAP_MEMORY_OOB));
  CHECK_STR("integer divide by zero", pvm_trap_message(PVM_TRAP_DIV_ZERO));
  CHECK_STR("indirect call type mismatch", pvm_trap_message(PVM_TRAP_INDIRECT_TYPE));
  CHECK_STR("undefined element", pvm_trap_message(PVM_TRAP_UNDEFINED_ELEMENT));
  CHECK_STR("uninitialized element", pvm_trap_message(PVM_TRAP_UNINITIALIZED_ELEMENT));
  CHECK_STR("call stack exhausted", pvm_trap_message(PVM_TRAP_STACK_EXHAUSTED));
  CHECK_STR("unknown trap", pvm_trap_message((pvm_trap_kind)99));
  CHECK_STR("malformed module", pvm_status_message(PVM_ERR_MALFORMED));
  CHECK_STR("unknown status", pvm_status_message(-99));
  for (int s = 0; s >= -8; s--) CHECK(strcmp(pvm_status_message(s), "unknown status") != 0);
  for (int k = 0; k <= PVM_TRAP_MEMORY_LIMIT; k++)
    CHECK(strcmp(pvm_trap_message((pvm_trap_kind)k), "unknown trap") != 0);
  pvm_error err;
  CHECK_INT(PVM_ERR_INVALID, ==, vm_error_set(&err, PVM_ERR_INVALID, 7, "x %d", 5));
  CHECK_STR("x 5", err.msg);
  CHECK_INT(7, ==, err.offset);
  CHECK_INT(PVM_ERR_INVALID, ==, vm_error_set(NULL, PVM_ERR_INVALID, 7, "x"));
}

/* ---- Allocation failures -------------------------------------------------------------
 * The test program replaces malloc & co. (glibc allows it; they forward to glibc's own
 * allocator) to make the Nth allocation fail and to count live blocks, so every NOMEM
 * path is taken and checked for leaks. Not in sanitizer builds, which own malloc. */
#if defined(__SANITIZE_ADDRESS__)
#define PVM_TEST_ALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PVM_TEST_ALLOC 0
#endif
#endif
#if !defined(PVM_TEST_ALLOC) && defined(__GLIBC__)
#define PVM_TEST_ALLOC 1
#endif

#if PVM_TEST_ALLOC
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static long alloc_countdown = -1; /* fail when it reaches 0; -1 = never */
static long alloc_live;           /* blocks allocated and not freed */
static bool alloc_fail(void) {
  if (alloc_countdown < 0) return false;
  return alloc_countdown-- == 0;
}
void *malloc(size_t n) {
  void *p = alloc_fail() ? NULL : __libc_malloc(n);
  alloc_live += p != NULL;
  return p;
}
void *calloc(size_t n, size_t size) {
  void *p = alloc_fail() ? NULL : __libc_calloc(n, size);
  alloc_live += p != NULL;
  return p;
}
void *realloc(void *old, size_t n) {
  void *p;
  if (alloc_fail()) return NULL;
  p = __libc_realloc(old, n);
  alloc_live += (p != NULL) - (old != NULL);
  return p;
}
void free(void *p) {
  alloc_live -= p != NULL;
  __libc_free(p);
}

static void test_vm_decode_allocation_failures(void) {
  static const int spec[] = {
      HDR, SEC(1), 2, 0x60, 1, 0x7f, 1, 0x7f, 0x60, 0, 0, END,
      SEC(2), 1, 1, 'm', 1, 'f', 0, 1, END,
      SEC(3), 2, 0, 1, END,
      SEC(4), 1, 0x70, 0, 2, END,
      SEC(5), 1, 0, 1, END,
      SEC(6), 1, 0x7f, 1, 0x41, 0, 0x0b, END,
      SEC(7), 2, 1, 'a', 0, 1, 1, 'b', 0, 2, END,
      SEC(9), 1, 4, 0x41, 0, 0x0b, 2, 0xd2, 1, 0x0b, 0xd2, 2, 0x0b, END,
      SEC(12), 1, END,
      SEC(10), 2, BODY, 1, 2, 0x7f, 0x20, 0, 0x02, 0x7f, 0x20, 1, 0x0b, 0x6a, 0x0b, END,
      BODY, 0, 0xd2, 1, 0x1a, 0x0b, END, END,
      SEC(11), 1, 1, 2, 'h', 'i', END,
      SEC(0), 4, 'n', 'a', 'm', 'e', 1, BODY, 1, 1, 1, 'g', END, END,
      SEC(0), 1, 'x', END, SEC(0), 1, 'y', END};
  uint8_t b[512];
  size_t len = wb_build(spec, WB_LEN(spec), b, sizeof b);
  int nomem = 0, ok = 0;
  CHECK(len > 0);
  for (long k = 0; k < 200 && ok == 0; k++) {
    vm_module m;
    pvm_error err;
    long live = alloc_live;
    int rv;
    alloc_countdown = k;
    rv = vm_decode(b, len, &m, &err);
    if (rv == 0) {
      rv = vm_validate(&m, &err);
      vm_module_free(&m);
    }
    alloc_countdown = -1;
    CHECK(rv == 0 || rv == PVM_ERR_NOMEM);
    if (rv == PVM_ERR_NOMEM) {
      CHECK_STR("out of memory", err.msg);
      nomem++;
    }
    if (rv == 0) ok = 1;
    CHECK_INT(live, ==, alloc_live); /* nothing leaked, whatever failed */
    if (rv != 0 && rv != PVM_ERR_NOMEM) fprintf(stderr, "  k=%ld: %s\n", k, err.msg);
  }
  printf("allocation failures: %d runs ended in a clean out-of-memory\n", nomem);
  CHECK(ok);          /* enough allocations succeed in the end */
  CHECK(nomem >= 10); /* and every earlier one was a clean out-of-memory */
}
#endif

int main(void) {
  RUN(test_vm_decode_empty_module);
  RUN(test_vm_decode_header_errors);
  RUN(test_vm_decode_section_framing);
  RUN(test_vm_decode_type_section);
  RUN(test_vm_decode_import_section);
  RUN(test_vm_decode_utf8);
  RUN(test_vm_decode_custom_and_names);
  RUN(test_vm_decode_function_table_memory);
  RUN(test_vm_decode_code_section);
  RUN(test_vm_decode_global_and_const_exprs);
  RUN(test_vm_decode_format_errors_come_first);
  RUN(test_vm_decode_export_start);
  RUN(test_vm_decode_element_segments);
  RUN(test_vm_decode_data_segments);
  RUN(test_vm_decode_counts_are_bounded);
  RUN(test_vm_decode_copies_input);
  RUN(test_vm_decode_messages);
#if PVM_TEST_ALLOC
  RUN(test_vm_decode_allocation_failures);
#endif
  return test_report();
}
