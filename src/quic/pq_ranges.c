/*
 * pq_ranges.c: sorted range set (see pq_ranges.h).
 */
#include "pq_ranges.h"

#include <stdlib.h>
#include <string.h>

#include "pq_err.h"

void pq_ranges_init(pq_ranges *s, size_t max) {
  s->r = NULL;
  s->n = 0;
  s->cap = 0;
  s->max = max;
}

void pq_ranges_free(pq_ranges *s) {
  free(s->r);
  s->r = NULL;
  s->n = 0;
  s->cap = 0;
}

/* Makes room for |need| entries. Grows geometrically so appends stay amortized O(1). */
static int ranges_reserve(pq_ranges *s, size_t need) {
  size_t cap;
  pq_range *r;
  if (need <= s->cap) return 0;
  cap = s->cap ? s->cap * 2 : 8;
  while (cap < need) cap *= 2;
  if (s->max && cap > s->max + 1) cap = s->max + 1; /* +1: transient overshoot on add */
  if (cap < need) cap = need;
  r = realloc(s->r, cap * sizeof(*r));
  if (!r) return PQ_ERR_NOMEM;
  s->r = r;
  s->cap = cap;
  return 0;
}

size_t pq_ranges_find(const pq_ranges *s, uint64_t v) {
  size_t lo = 0, hi = s->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->r[mid].hi > v)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

/* Drops the lowest ranges beyond the cap. */
static void ranges_enforce_cap(pq_ranges *s) {
  if (s->max && s->n > s->max) {
    size_t drop = s->n - s->max;
    memmove(s->r, s->r + drop, s->max * sizeof(*s->r));
    s->n = s->max;
  }
}

int pq_ranges_add(pq_ranges *s, uint64_t lo, uint64_t hi) {
  size_t i, j;
  if (lo >= hi) return 0;
  /* Fast paths: extend or append at the top. */
  if (s->n && s->r[s->n - 1].hi == lo) {
    s->r[s->n - 1].hi = hi;
    return 0;
  }
  if (s->n == 0 || s->r[s->n - 1].hi < lo) {
    if (ranges_reserve(s, s->n + 1)) return PQ_ERR_NOMEM;
    s->r[s->n].lo = lo;
    s->r[s->n].hi = hi;
    s->n++;
    ranges_enforce_cap(s);
    return 0;
  }
  /* General case: first range that touches or follows [lo, hi) (hi >= lo counts as
   * touching so adjacent ranges merge). */
  i = pq_ranges_find(s, lo == 0 ? 0 : lo - 1);
  if (i < s->n && s->r[i].hi < lo) i++;
  /* j = first range strictly above hi (not adjacent). */
  j = i;
  while (j < s->n && s->r[j].lo <= hi) j++;
  if (i == j) { /* no overlap: insert at i */
    if (ranges_reserve(s, s->n + 1)) return PQ_ERR_NOMEM;
    memmove(s->r + i + 1, s->r + i, (s->n - i) * sizeof(*s->r));
    s->r[i].lo = lo;
    s->r[i].hi = hi;
    s->n++;
    ranges_enforce_cap(s);
    return 0;
  }
  /* Merge ranges i..j-1 with [lo, hi) into entry i. */
  if (s->r[i].lo < lo) lo = s->r[i].lo;
  if (s->r[j - 1].hi > hi) hi = s->r[j - 1].hi;
  s->r[i].lo = lo;
  s->r[i].hi = hi;
  memmove(s->r + i + 1, s->r + j, (s->n - j) * sizeof(*s->r));
  s->n -= j - i - 1;
  return 0;
}

int pq_ranges_remove(pq_ranges *s, uint64_t lo, uint64_t hi) {
  size_t i, j;
  if (lo >= hi || s->n == 0) return 0;
  i = pq_ranges_find(s, lo); /* first range with r.hi > lo */
  if (i == s->n || s->r[i].lo >= hi) return 0;
  /* Split a range that strictly contains [lo, hi). */
  if (s->r[i].lo < lo && s->r[i].hi > hi) {
    if (ranges_reserve(s, s->n + 1)) return PQ_ERR_NOMEM;
    memmove(s->r + i + 1, s->r + i, (s->n - i) * sizeof(*s->r));
    s->n++;
    s->r[i].hi = lo;
    s->r[i + 1].lo = hi;
    return 0;
  }
  if (s->r[i].lo < lo) { /* trim the tail of range i */
    s->r[i].hi = lo;
    i++;
  }
  j = i;
  while (j < s->n && s->r[j].hi <= hi) j++; /* ranges wholly removed */
  if (j < s->n && s->r[j].lo < hi) s->r[j].lo = hi;
  memmove(s->r + i, s->r + j, (s->n - j) * sizeof(*s->r));
  s->n -= j - i;
  return 0;
}

void pq_ranges_remove_below(pq_ranges *s, uint64_t v) {
  size_t i = pq_ranges_find(s, v);
  if (i < s->n && s->r[i].lo < v) s->r[i].lo = v;
  if (i) {
    memmove(s->r, s->r + i, (s->n - i) * sizeof(*s->r));
    s->n -= i;
  }
}

bool pq_ranges_contains(const pq_ranges *s, uint64_t v) {
  size_t i = pq_ranges_find(s, v);
  return i < s->n && s->r[i].lo <= v;
}

bool pq_ranges_covers(const pq_ranges *s, uint64_t lo, uint64_t hi) {
  size_t i;
  if (lo >= hi) return true;
  i = pq_ranges_find(s, lo);
  return i < s->n && s->r[i].lo <= lo && s->r[i].hi >= hi;
}

uint64_t pq_ranges_total(const pq_ranges *s) {
  uint64_t t = 0;
  for (size_t i = 0; i < s->n; i++) {
    uint64_t d = s->r[i].hi - s->r[i].lo;
    if (t > UINT64_MAX - d) return UINT64_MAX;
    t += d;
  }
  return t;
}
