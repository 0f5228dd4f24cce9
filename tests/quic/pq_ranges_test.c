/*
 * pq_ranges_test.c: the sorted range set, against a bitmap reference.
 */
#include <stdlib.h>

#include "pq_err.h"
#include "pq_ranges.h"
#include "test.h"

#define UNIVERSE 512

/* Checks |s| is sorted, disjoint, merged and equal to |ref|. */
static void check_against(const pq_ranges *s, const uint8_t *ref) {
  size_t i;
  uint64_t v = 0, total = 0;
  for (i = 0; i < pq_ranges_count(s); i++) {
    const pq_range *r = pq_ranges_get(s, i);
    CHECK(r->lo < r->hi);
    if (i) CHECK(pq_ranges_get(s, i - 1)->hi < r->lo); /* not adjacent */
  }
  for (v = 0; v < UNIVERSE; v++) {
    CHECK_INT(ref[v], ==, pq_ranges_contains(s, v));
    total += ref[v];
  }
  CHECK_INT(total, ==, pq_ranges_total(s));
}

static void test_pq_ranges_basic(void) {
  pq_ranges s;
  pq_ranges_init(&s, 0);
  CHECK(pq_ranges_empty(&s));
  CHECK_INT(0, ==, pq_ranges_add(&s, 10, 20));
  CHECK_INT(0, ==, pq_ranges_add(&s, 30, 40));
  CHECK_INT(0, ==, pq_ranges_add(&s, 20, 30)); /* bridges both: one range */
  CHECK_INT(1, ==, pq_ranges_count(&s));
  CHECK_INT(10, ==, pq_ranges_min(&s));
  CHECK_INT(39, ==, pq_ranges_max(&s));
  CHECK_INT(0, ==, pq_ranges_add(&s, 5, 5)); /* empty: no-op */
  CHECK_INT(1, ==, pq_ranges_count(&s));
  CHECK_INT(0, ==, pq_ranges_remove(&s, 15, 25)); /* split */
  CHECK_INT(2, ==, pq_ranges_count(&s));
  CHECK(pq_ranges_contains(&s, 14));
  CHECK(!pq_ranges_contains(&s, 15));
  CHECK(!pq_ranges_contains(&s, 24));
  CHECK(pq_ranges_contains(&s, 25));
  CHECK(pq_ranges_covers(&s, 25, 40));
  CHECK(!pq_ranges_covers(&s, 25, 41));
  CHECK(!pq_ranges_covers(&s, 10, 16));
  pq_ranges_remove_below(&s, 12);
  CHECK_INT(12, ==, pq_ranges_min(&s));
  pq_ranges_remove_below(&s, 30);
  CHECK_INT(1, ==, pq_ranges_count(&s));
  CHECK_INT(30, ==, pq_ranges_min(&s));
  pq_ranges_free(&s);
  CHECK(pq_ranges_empty(&s));
}

static void test_pq_ranges_append_packet_numbers(void) {
  pq_ranges s;
  pq_ranges_init(&s, 0);
  for (uint64_t pn = 0; pn < 100000; pn++)
    if (pn % 1000 != 999) pq_ranges_add(&s, pn, pn + 1);
  CHECK_INT(100, ==, pq_ranges_count(&s));
  CHECK_INT(99998, ==, pq_ranges_max(&s));
  CHECK_INT(99900, ==, pq_ranges_total(&s));
  pq_ranges_free(&s);
}

static void test_pq_ranges_cap_drops_lowest(void) {
  pq_ranges s;
  pq_ranges_init(&s, 4);
  for (uint64_t i = 0; i < 10; i++) CHECK_INT(0, ==, pq_ranges_add(&s, i * 10, i * 10 + 5));
  CHECK_INT(4, ==, pq_ranges_count(&s));
  CHECK_INT(60, ==, pq_ranges_min(&s));
  CHECK_INT(94, ==, pq_ranges_max(&s));
  /* Adding below everything: dropped at once. */
  CHECK_INT(0, ==, pq_ranges_add(&s, 0, 1));
  CHECK_INT(4, ==, pq_ranges_count(&s));
  CHECK(!pq_ranges_contains(&s, 0));
  /* Filling a hole keeps the count within the cap. */
  CHECK_INT(0, ==, pq_ranges_add(&s, 65, 70));
  CHECK_INT(3, ==, pq_ranges_count(&s));
  pq_ranges_free(&s);
}

static void test_pq_ranges_random_against_bitmap(void) {
  srand(4242);
  for (int round = 0; round < 40; round++) {
    pq_ranges s;
    uint8_t ref[UNIVERSE] = {0};
    pq_ranges_init(&s, 0);
    for (int op = 0; op < 300; op++) {
      uint64_t lo = (uint64_t)(rand() % UNIVERSE), len = (uint64_t)(rand() % 40);
      uint64_t hi = lo + len > UNIVERSE ? UNIVERSE : lo + len;
      int kind = rand() % 10;
      if (kind < 6) {
        CHECK_INT(0, ==, pq_ranges_add(&s, lo, hi));
        for (uint64_t v = lo; v < hi; v++) ref[v] = 1;
      } else if (kind < 9) {
        CHECK_INT(0, ==, pq_ranges_remove(&s, lo, hi));
        for (uint64_t v = lo; v < hi; v++) ref[v] = 0;
      } else {
        pq_ranges_remove_below(&s, lo / 4);
        for (uint64_t v = 0; v < lo / 4; v++) ref[v] = 0;
      }
      /* covers() agrees with the reference on a random window */
      {
        bool all = true;
        for (uint64_t v = lo; v < hi; v++) all = all && ref[v];
        CHECK_INT(all, ==, pq_ranges_covers(&s, lo, hi));
      }
      check_against(&s, ref);
    }
    pq_ranges_free(&s);
  }
}

int main(void) {
  RUN(test_pq_ranges_basic);
  RUN(test_pq_ranges_append_packet_numbers);
  RUN(test_pq_ranges_cap_drops_lowest);
  RUN(test_pq_ranges_random_against_bitmap);
  return test_report();
}
