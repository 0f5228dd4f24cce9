/*
 * pop_kernel.c: the Extism-compatible kernel over a host-side arena (see pop_kernel.h).
 */
#include "pop_kernel.h"

#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX
#define ST_ACTIVE 1u
#define ST_FREE 2u
#define MIN_CAP 4096u

/* A block header, stored in the arena (the plugin can never write it). */
typedef struct hdr {
  uint32_t size;      /* payload bytes, multiple of 16 */
  uint32_t used;      /* requested length */
  uint32_t prev;      /* header offset of the previous block, NONE for the first */
  uint32_t status;    /* ST_ACTIVE / ST_FREE */
  uint32_t next_free; /* free-list links (header offsets), NONE = end */
  uint32_t prev_free;
  uint32_t pad[2];
} hdr;

_Static_assert(sizeof(hdr) == POP_KERNEL_HDR, "kernel header size");

static hdr *H(const pop_kernel *k, uint32_t off) {
  return (hdr *)(void *)(k->mem + off);
}

/* ---- the header bitmap ---- */

static int bit_get(const pop_kernel *k, uint64_t gran) {
  return (int)((k->hdrmap[gran >> 6] >> (gran & 63)) & 1u);
}

static void mark_header(pop_kernel *k, uint32_t off, int on) {
  for (uint64_t g = off / POP_KERNEL_GRAN; g < (off + POP_KERNEL_HDR) / POP_KERNEL_GRAN; g++) {
    if (on)
      k->hdrmap[g >> 6] |= 1ull << (g & 63);
    else
      k->hdrmap[g >> 6] &= ~(1ull << (g & 63));
  }
}

/* True if the bytes [p, p + n) (n <= 16, p + n <= top) touch a header. */
static int touches_header(const pop_kernel *k, uint64_t p, uint64_t n) {
  return bit_get(k, p / POP_KERNEL_GRAN) || bit_get(k, (p + n - 1) / POP_KERNEL_GRAN);
}

/* ---- free lists ---- */

static int floor_log2(uint64_t v) { return 63 - __builtin_clzll(v); }

static int bin_of(uint32_t size) { return floor_log2(size); }

static void bin_insert(pop_kernel *k, uint32_t off) {
  hdr *h = H(k, off);
  int b = bin_of(h->size);
  h->status = ST_FREE;
  h->prev_free = NONE;
  h->next_free = k->bins[b];
  if (k->bins[b] != NONE)
    H(k, k->bins[b])->prev_free = off;
  k->bins[b] = off;
  k->bins_mask |= 1u << b;
}

static void bin_remove(pop_kernel *k, uint32_t off) {
  hdr *h = H(k, off);
  int b = bin_of(h->size);
  if (h->prev_free != NONE)
    H(k, h->prev_free)->next_free = h->next_free;
  else
    k->bins[b] = h->next_free;
  if (h->next_free != NONE)
    H(k, h->next_free)->prev_free = h->prev_free;
  if (k->bins[b] == NONE)
    k->bins_mask &= ~(1u << b);
  h->next_free = h->prev_free = NONE;
}

/* ---- life cycle ---- */

void pop_kernel_init(pop_kernel *k, uint64_t max_bytes, const pop_param *config,
                     size_t n_config) {
  memset(k, 0, sizeof *k);
  k->max = max_bytes > POP_KERNEL_MAX_BYTES ? POP_KERNEL_MAX_BYTES : max_bytes;
  k->last = NONE;
  for (int b = 0; b < POP_KERNEL_NBINS; b++)
    k->bins[b] = NONE;
  k->config = config;
  k->n_config = n_config;
}

static void var_clear(pop_kernel_var *v) {
  free(v->key);
  free(v->val);
  memset(v, 0, sizeof *v);
}

void pop_kernel_free(pop_kernel *k) {
  free(k->mem);
  free(k->hdrmap);
  for (uint32_t i = 0; i < k->n_vars; i++)
    var_clear(&k->vars[i]);
  k->mem = NULL;
  k->hdrmap = NULL;
  k->cap = k->top = 0;
  k->n_vars = 0;
}

/* Grows the arena so that at least |need| bytes fit. Handles are offsets, so moving the
 * arena invalidates nothing the plugin holds. */
static int grow(pop_kernel *k, uint64_t need) {
  if (need > k->max)
    return -1;
  uint64_t cap = k->cap ? k->cap : MIN_CAP;
  while (cap < need)
    cap *= 2;
  if (cap > k->max)
    cap = k->max;
  uint8_t *mem = realloc(k->mem, cap);
  if (!mem)
    return -1;
  k->mem = mem;
  uint64_t words = (cap / POP_KERNEL_GRAN + 63) / 64, old = (k->cap / POP_KERNEL_GRAN + 63) / 64;
  uint64_t *map = realloc(k->hdrmap, words * sizeof *map);
  if (!map)
    return -1; /* mem grew but cap did not: still consistent */
  memset(map + old, 0, (words - old) * sizeof *map);
  k->hdrmap = map;
  memset(k->mem + k->cap, 0, cap - k->cap);
  k->cap = cap;
  return 0;
}

/* Offset of the block following |off|, or NONE if it is the last. */
static uint32_t next_of(const pop_kernel *k, uint32_t off) {
  uint64_t n = (uint64_t)off + POP_KERNEL_HDR + H(k, off)->size;
  return n < k->top ? (uint32_t)n : NONE;
}

/* Cuts block |off| to |size| when the rest can hold a header and a minimal payload; the
 * rest becomes a free block. The caller keeps |off|: the handle stays the front part. */
static void split(pop_kernel *k, uint32_t off, uint32_t size) {
  hdr *h = H(k, off);
  if (h->size - size < POP_KERNEL_HDR + POP_KERNEL_GRAN)
    return;
  uint32_t rest = off + POP_KERNEL_HDR + size;
  hdr *r = H(k, rest);
  memset(r, 0, sizeof *r);
  r->size = h->size - size - POP_KERNEL_HDR;
  r->prev = off;
  h->size = size;
  mark_header(k, rest, 1);
  uint32_t nx = next_of(k, rest);
  if (nx != NONE)
    H(k, nx)->prev = rest;
  else
    k->last = rest;
  bin_insert(k, rest);
}

/* A free block of at least |size| bytes, removed from its list, or NONE. */
static uint32_t take_free(pop_kernel *k, uint32_t size) {
  /* First look at the head of size's own bin (may fit), then any larger bin (always
   * fits: every block there is >= 2^b >= size). */
  int b = bin_of(size);
  if (k->bins[b] != NONE && H(k, k->bins[b])->size >= size) {
    uint32_t off = k->bins[b];
    bin_remove(k, off);
    return off;
  }
  uint32_t mask = b + 1 < POP_KERNEL_NBINS ? k->bins_mask & ~((2u << b) - 1) : 0;
  if (!mask)
    return NONE;
  uint32_t off = k->bins[__builtin_ctz(mask)];
  bin_remove(k, off);
  return off;
}

uint64_t pop_kernel_alloc(pop_kernel *k, uint64_t n) {
  if (n == 0 || n > k->max)
    return 0;
  uint32_t size = (uint32_t)((n + POP_KERNEL_GRAN - 1) & ~(uint64_t)(POP_KERNEL_GRAN - 1));
  uint32_t off = take_free(k, size);
  if (off != NONE) {
    split(k, off, size);
  } else {
    /* Bump: the header counts towards the room needed. */
    uint64_t end = k->top + POP_KERNEL_HDR + size;
    if (end > k->cap && grow(k, end) != 0)
      return 0;
    off = (uint32_t)k->top;
    hdr *h = H(k, off);
    memset(h, 0, sizeof *h);
    h->size = size;
    h->prev = k->last;
    mark_header(k, off, 1);
    k->last = off;
    k->top = end;
  }
  hdr *h = H(k, off);
  h->status = ST_ACTIVE;
  h->used = (uint32_t)n;
  h->next_free = h->prev_free = NONE;
  return (uint64_t)off + POP_KERNEL_HDR;
}

/* Header offset of live block |h|, or NONE. */
static uint32_t live_header(const pop_kernel *k, uint64_t h) {
  if (h < POP_KERNEL_HDR || h >= k->top || h % POP_KERNEL_GRAN != 0)
    return NONE;
  uint64_t off = h - POP_KERNEL_HDR, g = off / POP_KERNEL_GRAN;
  if (!bit_get(k, g) || !bit_get(k, g + 1))
    return NONE;
  /* A header is always preceded by a payload granule (or nothing): this rules out a
   * handle pointing 16 bytes into a header. */
  if (g > 0 && bit_get(k, g - 1))
    return NONE;
  if (H(k, (uint32_t)off)->status != ST_ACTIVE)
    return NONE;
  return (uint32_t)off;
}

int pop_kernel_valid(const pop_kernel *k, uint64_t h) { return live_header(k, h) != NONE; }

uint64_t pop_kernel_length(const pop_kernel *k, uint64_t h) {
  uint32_t off = live_header(k, h);
  return off == NONE ? 0 : H(k, off)->used;
}

/* Merges free block |b| (following |a|) into |a|. */
static void absorb_next(pop_kernel *k, uint32_t a, uint32_t b) {
  hdr *ha = H(k, a), *hb = H(k, b);
  uint32_t nx = next_of(k, b);
  ha->size += POP_KERNEL_HDR + hb->size;
  mark_header(k, b, 0);
  memset(hb, 0, sizeof *hb);
  if (nx != NONE)
    H(k, nx)->prev = a;
  else
    k->last = a;
}

int pop_kernel_free_block(pop_kernel *k, uint64_t h) {
  uint32_t off = live_header(k, h);
  if (off == NONE)
    return POP_E_VALUE;
  hdr *b = H(k, off);
  b->status = ST_FREE;
  b->used = 0;
  uint32_t nx = next_of(k, off);
  if (nx != NONE && H(k, nx)->status == ST_FREE) {
    bin_remove(k, nx);
    absorb_next(k, off, nx);
  }
  uint32_t pv = b->prev;
  if (pv != NONE && H(k, pv)->status == ST_FREE) {
    bin_remove(k, pv);
    absorb_next(k, pv, off);
    off = pv;
  }
  if (next_of(k, off) == NONE) {
    /* The last block goes back to the bump region. */
    k->top = off;
    k->last = H(k, off)->prev;
    mark_header(k, off, 0);
    memset(H(k, off), 0, sizeof(hdr));
    return 0;
  }
  bin_insert(k, off);
  return 0;
}

/* ---- loads and stores ---- */

static int access_ok(const pop_kernel *k, uint64_t p, uint64_t n) {
  return k->top >= n && p <= k->top - n && !touches_header(k, p, n);
}

int pop_kernel_load_u8(const pop_kernel *k, uint64_t p, uint8_t *out) {
  if (!access_ok(k, p, 1))
    return POP_E_BOUNDS;
  *out = k->mem[p];
  return 0;
}

int pop_kernel_load_u64(const pop_kernel *k, uint64_t p, uint64_t *out) {
  if (!access_ok(k, p, 8))
    return POP_E_BOUNDS;
  memcpy(out, k->mem + p, 8);
  return 0;
}

int pop_kernel_store_u8(pop_kernel *k, uint64_t p, uint8_t v) {
  if (!access_ok(k, p, 1))
    return POP_E_BOUNDS;
  k->mem[p] = v;
  return 0;
}

int pop_kernel_store_u64(pop_kernel *k, uint64_t p, uint64_t v) {
  if (!access_ok(k, p, 8))
    return POP_E_BOUNDS;
  memcpy(k->mem + p, &v, 8);
  return 0;
}

int pop_kernel_input_load_u8(const pop_kernel *k, uint64_t i, uint8_t *out) {
  if (i >= k->input_len)
    return POP_E_BOUNDS;
  *out = k->mem[k->input_off + i];
  return 0;
}

int pop_kernel_input_load_u64(const pop_kernel *k, uint64_t i, uint64_t *out) {
  if (k->input_len < 8 || i > k->input_len - 8)
    return POP_E_BOUNDS;
  memcpy(out, k->mem + k->input_off + i, 8);
  return 0;
}

static int range_set(pop_kernel *k, uint64_t h, uint64_t len, uint64_t *off, uint64_t *olen) {
  if (h == 0 && len == 0) {
    *off = *olen = 0;
    return 0;
  }
  uint32_t hd = live_header(k, h);
  if (hd == NONE || len > H(k, hd)->used)
    return POP_E_VALUE;
  *off = h;
  *olen = len;
  return 0;
}

int pop_kernel_input_set(pop_kernel *k, uint64_t h, uint64_t len) {
  return range_set(k, h, len, &k->input_off, &k->input_len);
}

int pop_kernel_output_set(pop_kernel *k, uint64_t h, uint64_t len) {
  return range_set(k, h, len, &k->output_off, &k->output_len);
}

int pop_kernel_error_set(pop_kernel *k, uint64_t h) {
  if (h != 0 && live_header(k, h) == NONE)
    return POP_E_VALUE;
  k->error = h;
  return 0;
}

void pop_kernel_reset(pop_kernel *k) {
  if (k->top) {
    memset(k->mem, 0, k->top);
    uint64_t words = (k->top / POP_KERNEL_GRAN + 63) / 64;
    memset(k->hdrmap, 0, words * sizeof *k->hdrmap);
  }
  k->top = 0;
  k->last = NONE;
  k->bins_mask = 0;
  for (int b = 0; b < POP_KERNEL_NBINS; b++)
    k->bins[b] = NONE;
  k->input_off = k->input_len = k->output_off = k->output_len = k->error = 0;
}

/* ---- bulk copies ---- */

static int block_range(const pop_kernel *k, uint64_t h, uint64_t off, uint64_t len) {
  uint32_t hd = live_header(k, h);
  if (hd == NONE)
    return POP_E_VALUE;
  uint64_t used = H(k, hd)->used;
  if (off > used || len > used - off)
    return POP_E_BOUNDS;
  return 0;
}

int pop_kernel_read(const pop_kernel *k, uint64_t h, uint64_t off, uint8_t *dst,
                    uint64_t len) {
  int rv = block_range(k, h, off, len);
  if (rv == 0 && len)
    memcpy(dst, k->mem + h + off, len);
  return rv;
}

int pop_kernel_write(pop_kernel *k, uint64_t h, uint64_t off, const uint8_t *src,
                     uint64_t len) {
  int rv = block_range(k, h, off, len);
  if (rv == 0 && len)
    memcpy(k->mem + h + off, src, len);
  return rv;
}

int pop_kernel_input_read(const pop_kernel *k, uint64_t off, uint8_t *dst, uint64_t len) {
  if (off > k->input_len || len > k->input_len - off)
    return POP_E_BOUNDS;
  if (len)
    memcpy(dst, k->mem + k->input_off + off, len);
  return 0;
}

uint64_t pop_kernel_alloc_copy(pop_kernel *k, const uint8_t *data, uint64_t len) {
  uint64_t h = pop_kernel_alloc(k, len);
  if (h)
    memcpy(k->mem + h, data, len);
  return h;
}

const uint8_t *pop_kernel_block(const pop_kernel *k, uint64_t h, uint64_t *len) {
  uint32_t hd = live_header(k, h);
  if (hd == NONE)
    return NULL;
  *len = H(k, hd)->used;
  return k->mem + h;
}

/* ---- config and vars ---- */

int pop_kernel_config_get(pop_kernel *k, uint64_t key_h, uint64_t *out) {
  uint64_t klen;
  const uint8_t *key = pop_kernel_block(k, key_h, &klen);
  *out = 0;
  if (!key)
    return POP_E_VALUE;
  for (size_t i = 0; i < k->n_config; i++) {
    const char *ck = k->config[i].key;
    if (strlen(ck) == klen && memcmp(ck, key, klen) == 0) {
      const char *v = k->config[i].value;
      size_t vlen = strlen(v);
      if (vlen == 0)
        return 0; /* an empty value has no block: 0 (as absent), length 0 */
      *out = pop_kernel_alloc_copy(k, (const uint8_t *)v, vlen);
      return *out ? 0 : POP_E_FULL;
    }
  }
  return 0;
}

static pop_kernel_var *var_find(pop_kernel *k, const uint8_t *key, uint64_t klen) {
  for (uint32_t i = 0; i < k->n_vars; i++)
    if (k->vars[i].klen == klen && memcmp(k->vars[i].key, key, klen) == 0)
      return &k->vars[i];
  return NULL;
}

int pop_kernel_var_get(pop_kernel *k, uint64_t key_h, uint64_t *out) {
  uint64_t klen;
  const uint8_t *key = pop_kernel_block(k, key_h, &klen);
  *out = 0;
  if (!key)
    return POP_E_VALUE;
  pop_kernel_var *v = var_find(k, key, klen);
  if (!v || v->vlen == 0)
    return 0;
  *out = pop_kernel_alloc_copy(k, v->val, v->vlen);
  return *out ? 0 : POP_E_FULL;
}

int pop_kernel_var_set(pop_kernel *k, uint64_t key_h, uint64_t val_h) {
  uint64_t klen, vlen = 0;
  const uint8_t *key = pop_kernel_block(k, key_h, &klen);
  if (!key)
    return POP_E_VALUE;
  const uint8_t *val = NULL;
  if (val_h) {
    val = pop_kernel_block(k, val_h, &vlen);
    if (!val)
      return POP_E_VALUE;
  }
  pop_kernel_var *v = var_find(k, key, klen);
  uint64_t old = v ? (uint64_t)v->klen + v->vlen : 0;
  if (!val) {
    if (v) {
      k->var_bytes -= (uint32_t)old;
      var_clear(v);
      *v = k->vars[--k->n_vars];
      memset(&k->vars[k->n_vars], 0, sizeof k->vars[0]);
    }
    return 0;
  }
  if ((uint64_t)k->var_bytes - old + klen + vlen > POP_KERNEL_MAX_VAR_BYTES)
    return POP_E_FULL;
  if (!v && k->n_vars == POP_KERNEL_MAX_VARS)
    return POP_E_FULL;
  uint8_t *nv = malloc(vlen);
  if (!nv)
    return POP_E_FULL;
  memcpy(nv, val, vlen);
  if (!v) {
    uint8_t *nk = malloc(klen);
    if (!nk) {
      free(nv);
      return POP_E_FULL;
    }
    memcpy(nk, key, klen);
    v = &k->vars[k->n_vars++];
    v->key = nk;
    v->klen = (uint32_t)klen;
  } else {
    free(v->val);
  }
  v->val = nv;
  v->vlen = (uint32_t)vlen;
  k->var_bytes = (uint32_t)((uint64_t)k->var_bytes - old + klen + vlen);
  return 0;
}

/* ---- invariants (tests, fuzzing) ---- */

int pop_kernel_check(const pop_kernel *k) {
  uint64_t off = 0, nfree = 0;
  uint32_t prev = NONE;
  int prev_free = 0;
  while (off < k->top) {
    const hdr *h = H(k, (uint32_t)off);
    if (!bit_get(k, off / POP_KERNEL_GRAN) || !bit_get(k, off / POP_KERNEL_GRAN + 1))
      return -1; /* header not marked */
    if (h->size < POP_KERNEL_GRAN || h->size % POP_KERNEL_GRAN || h->prev != prev)
      return -2;
    if (h->status != ST_ACTIVE && h->status != ST_FREE)
      return -3;
    if (h->status == ST_FREE && prev_free)
      return -4; /* two free neighbours: missed coalescing */
    if (h->status == ST_ACTIVE && h->used > h->size)
      return -5;
    for (uint64_t g = off / POP_KERNEL_GRAN + 2; g < (off + POP_KERNEL_HDR + h->size) / POP_KERNEL_GRAN; g++)
      if (bit_get(k, g))
        return -6; /* payload marked as header */
    prev_free = h->status == ST_FREE;
    nfree += prev_free;
    prev = (uint32_t)off;
    off += POP_KERNEL_HDR + h->size;
  }
  if (off != k->top || k->last != prev || prev_free)
    return -7; /* overrun, stale last, or a free block left at the end */
  uint64_t listed = 0;
  for (int b = 0; b < POP_KERNEL_NBINS; b++) {
    if (((k->bins_mask >> b) & 1u) != (k->bins[b] != NONE))
      return -8;
    uint32_t p = NONE;
    for (uint32_t o = k->bins[b]; o != NONE; o = H(k, o)->next_free) {
      if (o >= k->top || H(k, o)->status != ST_FREE || bin_of(H(k, o)->size) != b ||
          H(k, o)->prev_free != p || ++listed > nfree)
        return -9;
      p = o;
    }
  }
  return listed == nfree ? 0 : -10;
}
