/*
 * test.h: the tiny unit-test harness shared by every *_test.c.
 *
 *   static void test_vm_decode_empty_module(void) { CHECK_INT(0, ==, rv); ... }
 *   int main(void) {
 *     RUN(test_vm_decode_empty_module);
 *     return test_report();
 *   }
 *
 * A failed check prints file:line and the expression and marks the running test failed;
 * the test goes on (so one run shows every failure). test_report() prints
 * "N passed, N failed" (tests, not checks) and returns the exit status.
 */
#ifndef PLUGINOP_TEST_H
#define PLUGINOP_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int test_passed_count, test_failed_count, test_current_failed;
static const char *test_current_name;

#define CHECK(cond)                                                                   \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__,            \
              test_current_name, #cond);                                              \
      test_current_failed = 1;                                                        \
    }                                                                                 \
  } while (0)

/* Compare two integers (as intmax_t), printing both values on failure. */
#define CHECK_INT(expected, op, actual)                                               \
  do {                                                                                \
    intmax_t e_ = (intmax_t)(expected), a_ = (intmax_t)(actual);                      \
    if (!(e_ op a_)) {                                                                \
      fprintf(stderr, "%s:%d: %s: CHECK_INT(%s %s %s) failed: %jd vs %jd\n",          \
              __FILE__, __LINE__, test_current_name, #expected, #op, #actual, e_, a_); \
      test_current_failed = 1;                                                        \
    }                                                                                 \
  } while (0)

#define CHECK_STR(expected, actual)                                                   \
  do {                                                                                \
    const char *e_ = (expected), *a_ = (actual);                                      \
    if (!a_ || strcmp(e_, a_) != 0) {                                                 \
      fprintf(stderr, "%s:%d: %s: CHECK_STR failed: \"%s\" vs \"%s\"\n", __FILE__,     \
              __LINE__, test_current_name, e_, a_ ? a_ : "(null)");                    \
      test_current_failed = 1;                                                        \
    }                                                                                 \
  } while (0)

#define CHECK_MEM(expected, actual, len)                                              \
  do {                                                                                \
    if (memcmp((expected), (actual), (len)) != 0) {                                   \
      fprintf(stderr, "%s:%d: %s: CHECK_MEM(%s, %s) failed\n", __FILE__, __LINE__,     \
              test_current_name, #expected, #actual);                                 \
      test_current_failed = 1;                                                        \
    }                                                                                 \
  } while (0)

#define RUN(fn)                                                                       \
  do {                                                                                \
    test_current_name = #fn;                                                          \
    test_current_failed = 0;                                                          \
    fn();                                                                             \
    if (test_current_failed) {                                                        \
      test_failed_count++;                                                            \
      fprintf(stderr, "FAIL %s\n", #fn);                                              \
    } else {                                                                          \
      test_passed_count++;                                                            \
    }                                                                                 \
  } while (0)

static inline int test_report(void) {
  printf("%d passed, %d failed\n", test_passed_count, test_failed_count);
  return test_failed_count == 0 && test_passed_count > 0 ? 0 : 1;
}

#endif
