/*
 * vm_decode_test.c: the binary decoder, section by section and error path by error path,
 * on hand-written byte arrays.
 */
#include <stdlib.h>

#include "test.h"
#include "vm_module.h"

#define HDR 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00

/* Decodes |len| bytes; returns the status and leaves the message in *err. */
static int decode(const uint8_t *b, size_t len, vm_module *m, pvm_error *err) {
  memset(err, 0, sizeof *err);
  return vm_decode(b, len, m, err);
}

/* Expects decoding to fail with |status| and exactly |msg|. */
static void expect_fail(const uint8_t *b, size_t len, int status, const char *msg) {
  vm_module m;
  pvm_error err;
  int rv = decode(b, len, &m, &err);
  CHECK_INT(status, ==, rv);
  CHECK_STR(msg, err.msg);
  if (rv == 0) vm_module_free(&m);
}

#define FAIL(msg, ...)                                                                \
  do {                                                                                \
    static const uint8_t b_[] = {__VA_ARGS__};                                        \
    expect_fail(b_, sizeof b_, PVM_ERR_MALFORMED, msg);                               \
  } while (0)

static void test_vm_decode_empty_module(void) {
  static const uint8_t b[] = {HDR};
  vm_module m;
  pvm_error err;
  CHECK_INT(0, ==, decode(b, sizeof b, &m, &err));
  CHECK_INT(0, ==, m.nfuncs);
  CHECK_INT(8, ==, m.len);
  vm_module_free(&m);
}

static void test_vm_decode_header_errors(void) {
  FAIL("unexpected end", 0x00, 0x61);
  FAIL("magic header not detected", 0x00, 0x61, 0x73, 0x6e, 1, 0, 0, 0);
  FAIL("unexpected end", 0x00, 0x61, 0x73, 0x6d, 1);
  FAIL("unknown binary version", 0x00, 0x61, 0x73, 0x6d, 2, 0, 0, 0);
  expect_fail(NULL, 0, PVM_ERR_MALFORMED, "unexpected end");
}

int main(void) {
  RUN(test_vm_decode_empty_module);
  RUN(test_vm_decode_header_errors);
  return test_report();
}
