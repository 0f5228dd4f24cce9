/*
 * pq_ranges.h: a sorted set of disjoint, non-adjacent uint64 ranges [lo, hi).
 *
 * Used for received packet numbers (ACK generation: pq_ranges_get from the end gives the
 * largest first), for stream data received out of order and for sent/acked/lost stream
 * data. Storage is one array kept sorted ascending; appending at the top end (the usual
 * case: the next packet number, the next stream bytes) is O(1) with no allocation once
 * the array has grown. A set can be capped to |max| ranges: when an insertion would
 * exceed the cap, the lowest ranges are dropped (for ACK tracking, old packet numbers
 * are the ones we stop reporting).
 */
#ifndef PLUGINOP_PQ_RANGES_H
#define PLUGINOP_PQ_RANGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One range of values lo <= v < hi (hi > lo). */
typedef struct pq_range {
  uint64_t lo;
  uint64_t hi;
} pq_range;

typedef struct pq_ranges {
  pq_range *r;  /* ascending, disjoint, never adjacent (merged) */
  size_t n;     /* ranges in use */
  size_t cap;   /* allocated entries */
  size_t max;   /* cap on n, 0 = unlimited (bounded only by memory) */
} pq_ranges;

/* Initializes an empty set holding at most |max| ranges (0 = no cap). Allocates
 * nothing. */
void pq_ranges_init(pq_ranges *s, size_t max);

/* Releases the storage; the set is empty and reusable afterwards. */
void pq_ranges_free(pq_ranges *s);

/* Adds [lo, hi), merging with neighbours. An empty range (lo >= hi) is a no-op.
 * Returns 0, or PQ_ERR_NOMEM (set unchanged). With a cap, the lowest ranges are dropped
 * to stay within it (possibly the range just added, if it is the lowest). */
int pq_ranges_add(pq_ranges *s, uint64_t lo, uint64_t hi);

/* Removes [lo, hi) (splitting a range when needed). Returns 0 or PQ_ERR_NOMEM (a split
 * needed room; set unchanged). */
int pq_ranges_remove(pq_ranges *s, uint64_t lo, uint64_t hi);

/* Removes every value below |v| (never allocates). */
void pq_ranges_remove_below(pq_ranges *s, uint64_t v);

/* True if |v| is in the set. O(log n). */
bool pq_ranges_contains(const pq_ranges *s, uint64_t v);

/* True if every value of [lo, hi) is in the set (an empty range: true). */
bool pq_ranges_covers(const pq_ranges *s, uint64_t lo, uint64_t hi);

/* Index of the first range with hi > |v| (n if none): the range holding v, or the next
 * one above it. */
size_t pq_ranges_find(const pq_ranges *s, uint64_t v);

/* Number of ranges. */
static inline size_t pq_ranges_count(const pq_ranges *s) { return s->n; }

/* True if empty. */
static inline bool pq_ranges_empty(const pq_ranges *s) { return s->n == 0; }

/* The |i|-th range in ascending order (i < count). */
static inline const pq_range *pq_ranges_get(const pq_ranges *s, size_t i) { return &s->r[i]; }

/* Smallest value in the set (set not empty). */
static inline uint64_t pq_ranges_min(const pq_ranges *s) { return s->r[0].lo; }

/* Largest value in the set (set not empty). */
static inline uint64_t pq_ranges_max(const pq_ranges *s) { return s->r[s->n - 1].hi - 1; }

/* Total number of values in the set (saturates at UINT64_MAX). */
uint64_t pq_ranges_total(const pq_ranges *s);

#endif
