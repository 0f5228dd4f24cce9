/* The Extism-compatible kernel (pop_kernel.c), on plain host memory: no VM needed.
 * Each bug Extism's kernel had (REFERENCE.md section 3) has a test named after it. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pop_kernel.h"
#include "test.h"

static pop_kernel K;

static void kinit(uint64_t max) { pop_kernel_init(&K, max, NULL, 0); }

static void test_pop_kernel_alloc_zero_length_is_null(void) {
  kinit(1 << 20);
  CHECK_INT(0, ==, pop_kernel_alloc(&K, 0));
  CHECK_INT(0, ==, pop_kernel_length(&K, 0));
  CHECK_INT(POP_E_VALUE, ==, pop_kernel_free_block(&K, 0));
  /* An empty input is expressed as (0, 0). */
  CHECK_INT(0, ==, pop_kernel_input_set(&K, 0, 0));
  CHECK_INT(0, ==, K.input_len);
  /* Zero-length allocations never produce blocks that alias the next one. */
  uint64_t a = pop_kernel_alloc(&K, 1), b = pop_kernel_alloc(&K, 1);
  CHECK(a != 0 && b != 0 && a != b);
  CHECK_INT(1, ==, pop_kernel_length(&K, a));
  CHECK_INT(0, ==, pop_kernel_check(&K));
  pop_kernel_free(&K);
}

static void test_pop_kernel_growth_boundaries(void) {
  /* "page rounding": allocations that end exactly on, or one past, the arena end. */
  kinit(1 << 20);
  uint64_t a = pop_kernel_alloc(&K, 4096 - POP_KERNEL_HDR); /* fills exactly MIN_CAP */
  CHECK(a != 0);
  CHECK_INT(4096, ==, K.cap);
  CHECK_INT(4096, ==, K.top);
  memset(K.mem + a, 0x5a, 4096 - POP_KERNEL_HDR);
  uint64_t b = pop_kernel_alloc(&K, 1); /* must grow */
  CHECK(b != 0);
  CHECK_INT(8192, ==, K.cap);
  /* Old contents survive growth (handles are offsets). */
  uint64_t len;
  const uint8_t *p = pop_kernel_block(&K, a, &len);
  CHECK(p && len == 4096 - POP_KERNEL_HDR && p[0] == 0x5a && p[len - 1] == 0x5a);
  CHECK_INT(0, ==, pop_kernel_check(&K));
  pop_kernel_free(&K);
}

static void test_pop_kernel_header_counted_when_growing(void) {
  kinit(4096); /* the arena may not grow past one MIN_CAP */
  /* Payload fits, but payload + header does not: must fail, not overrun. */
  CHECK_INT(0, ==, pop_kernel_alloc(&K, 4096 - POP_KERNEL_HDR + 1));
  CHECK_INT(0, ==, pop_kernel_alloc(&K, 4096));
  uint64_t a = pop_kernel_alloc(&K, 4096 - POP_KERNEL_HDR);
  CHECK(a != 0);
  CHECK_INT(0, ==, pop_kernel_alloc(&K, 1));
  /* Writing the whole block stays inside the arena (ASan would catch an overrun). */
  CHECK_INT(0, ==, pop_kernel_store_u64(&K, a + 4096 - POP_KERNEL_HDR - 8, ~0ull));
  CHECK_INT(POP_E_BOUNDS, ==, pop_kernel_store_u64(&K, a + 4096 - POP_KERNEL_HDR - 7, 1));
  CHECK_INT(0, ==, pop_kernel_check(&K));
  pop_kernel_free(&K);
  /* A limit below MIN_CAP is honoured too. */
  kinit(100);
  CHECK(pop_kernel_alloc(&K, 64) != 0);
  CHECK_INT(0, ==, pop_kernel_alloc(&K, 16));
  CHECK(K.cap <= 100);
  pop_kernel_free(&K);
}

static void test_pop_kernel_split_reuse_returns_front_handle(void) {
  /* "wrong handle when splitting a reused block" */
  kinit(1 << 20);
  uint64_t a = pop_kernel_alloc(&K, 1024);
  uint64_t guard = pop_kernel_alloc(&K, 16);
  uint64_t top = K.top;
  CHECK_INT(0, ==, pop_kernel_free_block(&K, a));
  uint64_t c = pop_kernel_alloc(&K, 100);
  CHECK_INT(a, ==, c); /* the front of the reused block */
  CHECK_INT(100, ==, pop_kernel_length(&K, c));
  uint64_t d = pop_kernel_alloc(&K, 200); /* from the split remainder */
  CHECK(d > c + 100 && d < guard);
  CHECK_INT(top, ==, K.top); /* no growth: reused */
  /* Writing all of c does not touch d (nor its header). */
  uint8_t buf[100];
  memset(buf, 0xee, sizeof buf);
  CHECK_INT(0, ==, pop_kernel_write(&K, c, 0, buf, 100));
  uint8_t zero[200] = {0}, got[200];
  CHECK_INT(0, ==, pop_kernel_write(&K, d, 0, zero, 200));
  CHECK_INT(0, ==, pop_kernel_write(&K, c, 0, buf, 100));
  CHECK_INT(0, ==, pop_kernel_read(&K, d, 0, got, 200));
  CHECK_MEM(zero, got, 200);
  CHECK_INT(200, ==, pop_kernel_length(&K, d));
  CHECK_INT(0, ==, pop_kernel_check(&K));
  pop_kernel_free(&K);
}

static void test_pop_kernel_free_coalesces_neighbours(void) {
  kinit(1 << 20);
  uint64_t a = pop_kernel_alloc(&K, 64), b = pop_kernel_alloc(&K, 64);
  uint64_t c = pop_kernel_alloc(&K, 64), guard = pop_kernel_alloc(&K, 16);
  (void)guard;
  uint64_t top = K.top;
  CHECK_INT(0, ==, pop_kernel_free_block(&K, a));
  CHECK_INT(0, ==, pop_kernel_free_block(&K, c));
  CHECK_INT(0, ==, pop_kernel_check(&K));
  CHECK_INT(0, ==, pop_kernel_free_block(&K, b)); /* merges with both */
  CHECK_INT(0, ==, pop_kernel_check(&K));
  /* One block of 3 payloads + 2 headers is now free at a. */
  uint64_t big = pop_kernel_alloc(&K, 3 * 64 + 2 * POP_KERNEL_HDR);
  CHECK_INT(a, ==, big);
  CHECK_INT(top, ==, K.top);
  CHECK_INT(0, ==, pop_kernel_check(&K));
  pop_kernel_free(&K);
}

static void test_pop_kernel_free_last_returns_to_top(void) {
  kinit(1 << 20);
  uint64_t a = pop_kernel_alloc(&K, 64), b = pop_kernel_alloc(&K, 64);
  CHECK_INT(0, ==, pop_kernel_free_block(&K, a));
  CHECK_INT(0, ==, pop_kernel_free_block(&K, b)); /* merges with a, then with top */
  CHECK_INT(0, ==, K.top);
  CHECK_INT(0, ==, K.bins_mask);
  CHECK_INT(0, ==, pop_kernel_check(&K));
  CHECK_INT(a, ==, pop_kernel_alloc(&K, 500));
  pop_kernel_free(&K);
}

static void test_pop_kernel_forged_handles_rejected(void) {
  kinit(1 << 20);
  uint64_t a = pop_kernel_alloc(&K, 64), b = pop_kernel_alloc(&K, 64);
  uint64_t forged[] = {1, 8, 16, POP_KERNEL_HDR - 16, a - 16, a + 16, a + 64, b - 16,
                       b + 1, K.top, K.top + 32, UINT64_MAX, UINT64_MAX - 15,
                       1ull << 40};
  for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
    CHECK_INT(0, ==, pop_kernel_length(&K, forged[i]));
    CHECK_INT(POP_E_VALUE, ==, pop_kernel_free_block(&K, forged[i]));
    CHECK_INT(POP_E_VALUE, ==, pop_kernel_error_set(&K, forged[i]));
    CHECK_INT(POP_E_VALUE, ==, pop_kernel_input_set(&K, forged[i], 1));
    uint8_t x;
    CHECK_INT(POP_E_VALUE, ==, pop_kernel_read(&K, forged[i], 0, &x, 1));
  }
  /* Double free. */
  CHECK_INT(0, ==, pop_kernel_free_block(&K, a));
  CHECK_INT(POP_E_VALUE, ==, pop_kernel_free_block(&K, a));
  CHECK_INT(0, ==, pop_kernel_length(&K, a));
  CHECK_INT(0, ==, pop_kernel_check(&K));
  CHECK_INT(64, ==, pop_kernel_length(&K, b));
  pop_kernel_free(&K);
}

static void test_pop_kernel_stores_never_touch_headers(void) {
  kinit(1 << 20);
  uint64_t a = pop_kernel_alloc(&K, 64), b = pop_kernel_alloc(&K, 64);
  for (uint64_t p = a - POP_KERNEL_HDR; p < a; p++) {
    CHECK_INT(POP_E_BOUNDS, ==, pop_kernel_store_u8(&K, p, 0xff));
    CHECK_INT(POP_E_BOUNDS, ==, pop_kernel_store_u64(&K, p, ~0ull));
  }
  /* A u64 store straddling the end of a's payload into b's header. */
  CHECK_INT(POP_E_BOUNDS, ==, pop_kernel_store_u64(&K, b - POP_KERNEL_HDR - 4, ~0ull));
  CHECK_INT(0, ==, pop_kernel_store_u64(&K, b - POP_KERNEL_HDR - 8, ~0ull));
  CHECK_INT(0, ==, pop_kernel_store_u8(&K, a, 1));
  CHECK_INT(POP_E_BOUNDS, ==, pop_kernel_store_u8(&K, K.top, 1));
  uint64_t v;
  CHECK_INT(POP_E_BOUNDS, ==, pop_kernel_load_u64(&K, b - 8, &v)); /* header bytes */
  CHECK_INT(0, ==, pop_kernel_check(&K));
  CHECK_INT(64, ==, pop_kernel_length(&K, a));
  CHECK_INT(64, ==, pop_kernel_length(&K, b));
  pop_kernel_free(&K);
}

static void test_pop_kernel_bounds_checks_overflow_safe(void) {
  kinit(1 << 20);
  uint64_t a = pop_kernel_alloc(&K, 16);
  uint8_t in[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  CHECK_INT(0, ==, pop_kernel_write(&K, a, 0, in, 16));
  CHECK_INT(0, ==, pop_kernel_input_set(&K, a, 16));
  uint8_t b8;
  uint64_t v;
  uint64_t huge[] = {UINT64_MAX, UINT64_MAX - 1, UINT64_MAX - 7, UINT64_MAX - 8,
                     (uint64_t)1 << 63, K.top, K.top - 7, 17, 9};
  for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
    CHECK_INT(POP_E_BOUNDS, ==, pop_kernel_load_u64(&K, huge[i] > 16 ? huge[i] : K.top + huge[i], &v));
    CHECK_INT(POP_E_BOUNDS, ==, pop_kernel_input_load_u64(&K, huge[i], &v));
    CHECK_INT(POP_E_BOUNDS, ==, pop_kernel_input_read(&K, huge[i], &b8, 8));
    if (huge[i] >= 16) {
      CHECK_INT(POP_E_BOUNDS, ==, pop_kernel_read(&K, a, huge[i] == UINT64_MAX ? huge[i] : huge[i] + 1, &b8, 1));
      CHECK_INT(POP_E_BOUNDS, ==, pop_kernel_read(&K, a, 1, &b8, huge[i]));
    }
  }
  CHECK_INT(POP_E_BOUNDS, ==, pop_kernel_input_load_u8(&K, 16, &b8));
  CHECK_INT(0, ==, pop_kernel_input_load_u8(&K, 15, &b8));
  CHECK_INT(16, ==, b8);
  CHECK_INT(0, ==, pop_kernel_input_load_u64(&K, 8, &v));
  CHECK_INT(0x100f0e0d0c0b0a09ull, ==, v);
  /* Input shorter than 8: no u64 read at all. */
  uint64_t s = pop_kernel_alloc(&K, 5);
  CHECK_INT(0, ==, pop_kernel_input_set(&K, s, 5));
  CHECK_INT(POP_E_BOUNDS, ==, pop_kernel_input_load_u64(&K, 0, &v));
  /* Set longer than the block. */
  CHECK_INT(POP_E_VALUE, ==, pop_kernel_output_set(&K, s, 6));
  CHECK_INT(0, ==, pop_kernel_output_set(&K, s, 5));
  /* Huge allocations fail cleanly. */
  CHECK_INT(0, ==, pop_kernel_alloc(&K, UINT64_MAX));
  CHECK_INT(0, ==, pop_kernel_alloc(&K, UINT64_MAX - 15));
  CHECK_INT(0, ==, pop_kernel_alloc(&K, (1 << 20) + 1));
  CHECK_INT(0, ==, pop_kernel_check(&K));
  pop_kernel_free(&K);
}

static void test_pop_kernel_reset_clears_only_used_bytes(void) {
  kinit(1 << 20);
  uint64_t a = pop_kernel_alloc(&K, 100000); /* grows the arena */
  CHECK(a != 0);
  uint64_t cap = K.cap;
  CHECK_INT(0, ==, pop_kernel_free_block(&K, a));
  uint64_t b = pop_kernel_alloc(&K, 64);
  CHECK_INT(0, ==, pop_kernel_store_u8(&K, b + 3, 7));
  CHECK_INT(0, ==, pop_kernel_error_set(&K, b));
  /* A sentinel far beyond top: reset must not scan or zero it. */
  K.mem[cap - 1] = 0xab;
  uint64_t top = K.top;
  pop_kernel_reset(&K);
  CHECK_INT(0xab, ==, K.mem[cap - 1]);
  CHECK_INT(0, ==, K.top);
  CHECK_INT(0, ==, K.error);
  CHECK_INT(0, ==, K.input_len);
  CHECK_INT(0, ==, pop_kernel_length(&K, b));
  for (uint64_t i = 0; i < top; i++)
    if (K.mem[i] != 0) {
      CHECK(K.mem[i] == 0);
      break;
    }
  /* The arena is kept (no shrinking, no re-growing cost) and reusable. */
  CHECK_INT(cap, ==, K.cap);
  uint64_t c = pop_kernel_alloc(&K, 64);
  uint8_t x = 1;
  CHECK_INT(0, ==, pop_kernel_load_u8(&K, c + 3, &x));
  CHECK_INT(0, ==, x);
  CHECK_INT(0, ==, pop_kernel_check(&K));
  pop_kernel_free(&K);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_pop_kernel_alloc_free_constant_time(void) {
  /* "O(n) scan on every alloc": 40,000 live blocks with 20,000 holes, then 200,000
   * alloc/free pairs. Linear scans would take ~10^9 steps; O(1) takes milliseconds. */
  enum { N = 40000 };
  kinit(64u << 20);
  static uint64_t h[N];
  for (int i = 0; i < N; i++)
    h[i] = pop_kernel_alloc(&K, 48);
  for (int i = 0; i < N; i += 2)
    CHECK_INT(0, ==, pop_kernel_free_block(&K, h[i]));
  double t0 = now_s();
  for (int i = 0; i < 200000; i++) {
    uint64_t x = pop_kernel_alloc(&K, 1000 + (uint64_t)(i % 7) * 16);
    CHECK(x != 0);
    CHECK_INT(1000 + (i % 7) * 16, ==, pop_kernel_length(&K, x));
    CHECK_INT(0, ==, pop_kernel_free_block(&K, x));
  }
  double dt = now_s() - t0;
  CHECK(dt < 1.0);
  CHECK_INT(0, ==, pop_kernel_check(&K));
  pop_kernel_free(&K);
}

static void test_pop_kernel_random_model(void) {
  /* Random alloc/free/write against a shadow copy; invariants checked as we go. */
  enum { SLOTS = 257 };
  kinit(8u << 20);
  uint64_t h[SLOTS] = {0};
  uint8_t *shadow[SLOTS] = {0};
  uint64_t len[SLOTS] = {0};
  unsigned seed = 12345;
  for (int step = 0; step < 30000; step++) {
    seed = seed * 1103515245u + 12345u;
    int s = (int)((seed >> 8) % SLOTS);
    if (h[s]) {
      uint8_t *buf = malloc(len[s]);
      CHECK_INT(0, ==, pop_kernel_read(&K, h[s], 0, buf, len[s]));
      CHECK(memcmp(buf, shadow[s], len[s]) == 0);
      free(buf);
      CHECK_INT(0, ==, pop_kernel_free_block(&K, h[s]));
      free(shadow[s]);
      shadow[s] = NULL;
      h[s] = 0;
    } else {
      len[s] = 1 + (seed >> 16) % ((seed & 1) ? 64 : 5000);
      h[s] = pop_kernel_alloc(&K, len[s]);
      CHECK(h[s] != 0);
      shadow[s] = malloc(len[s]);
      for (uint64_t i = 0; i < len[s]; i++)
        shadow[s][i] = (uint8_t)(seed + i * 31);
      CHECK_INT(0, ==, pop_kernel_write(&K, h[s], 0, shadow[s], len[s]));
    }
    if (step % 1000 == 0)
      CHECK_INT(0, ==, pop_kernel_check(&K));
  }
  CHECK_INT(0, ==, pop_kernel_check(&K));
  for (int s = 0; s < SLOTS; s++) {
    if (h[s])
      CHECK_INT(0, ==, pop_kernel_free_block(&K, h[s]));
    free(shadow[s]);
  }
  CHECK_INT(0, ==, K.top); /* everything coalesced back */
  pop_kernel_free(&K);
}

static void test_pop_kernel_config_and_vars(void) {
  pop_param cfg[] = {{"mode", "fast"}, {"empty", ""}};
  pop_kernel_init(&K, 1 << 20, cfg, 2);
  uint64_t key = pop_kernel_alloc_copy(&K, (const uint8_t *)"mode", 4), out;
  CHECK_INT(0, ==, pop_kernel_config_get(&K, key, &out));
  uint64_t l;
  const uint8_t *p = pop_kernel_block(&K, out, &l);
  CHECK(p && l == 4 && memcmp(p, "fast", 4) == 0);
  uint64_t nokey = pop_kernel_alloc_copy(&K, (const uint8_t *)"mod", 3);
  CHECK_INT(0, ==, pop_kernel_config_get(&K, nokey, &out));
  CHECK_INT(0, ==, out);
  CHECK_INT(POP_E_VALUE, ==, pop_kernel_config_get(&K, key + 16, &out));
  /* vars persist across reset */
  uint64_t val = pop_kernel_alloc_copy(&K, (const uint8_t *)"12345", 5);
  CHECK_INT(0, ==, pop_kernel_var_set(&K, key, val));
  pop_kernel_reset(&K);
  key = pop_kernel_alloc_copy(&K, (const uint8_t *)"mode", 4);
  CHECK_INT(0, ==, pop_kernel_var_get(&K, key, &out));
  p = pop_kernel_block(&K, out, &l);
  CHECK(p && l == 5 && memcmp(p, "12345", 5) == 0);
  /* overwrite, delete */
  val = pop_kernel_alloc_copy(&K, (const uint8_t *)"x", 1);
  CHECK_INT(0, ==, pop_kernel_var_set(&K, key, val));
  CHECK_INT(0, ==, pop_kernel_var_get(&K, key, &out));
  CHECK_INT(1, ==, pop_kernel_length(&K, out));
  CHECK_INT(0, ==, pop_kernel_var_set(&K, key, 0));
  CHECK_INT(0, ==, pop_kernel_var_get(&K, key, &out));
  CHECK_INT(0, ==, out);
  CHECK_INT(0, ==, K.var_bytes);
  /* limits: too big, too many */
  uint64_t big = pop_kernel_alloc(&K, POP_KERNEL_MAX_VAR_BYTES);
  CHECK_INT(POP_E_FULL, ==, pop_kernel_var_set(&K, key, big));
  int full = 0;
  for (int i = 0; i < POP_KERNEL_MAX_VARS + 5; i++) {
    uint8_t kb[2] = {(uint8_t)i, 0x55};
    uint64_t kh = pop_kernel_alloc_copy(&K, kb, 2);
    if (pop_kernel_var_set(&K, kh, val) == POP_E_FULL)
      full++;
  }
  CHECK_INT(5, ==, full);
  CHECK_INT(POP_E_VALUE, ==, pop_kernel_var_set(&K, 12345, val));
  CHECK_INT(0, ==, pop_kernel_check(&K));
  pop_kernel_free(&K);
}

int main(void) {
  RUN(test_pop_kernel_alloc_zero_length_is_null);
  RUN(test_pop_kernel_growth_boundaries);
  RUN(test_pop_kernel_header_counted_when_growing);
  RUN(test_pop_kernel_split_reuse_returns_front_handle);
  RUN(test_pop_kernel_free_coalesces_neighbours);
  RUN(test_pop_kernel_free_last_returns_to_top);
  RUN(test_pop_kernel_forged_handles_rejected);
  RUN(test_pop_kernel_stores_never_touch_headers);
  RUN(test_pop_kernel_bounds_checks_overflow_safe);
  RUN(test_pop_kernel_reset_clears_only_used_bytes);
  RUN(test_pop_kernel_alloc_free_constant_time);
  RUN(test_pop_kernel_random_model);
  RUN(test_pop_kernel_config_and_vars);
  return test_report();
}
