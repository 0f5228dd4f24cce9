/*
 * pop_kernel.h: the Extism-compatible kernel, natively in C (internal).
 *
 * Extism keeps its allocator inside the plugin's sandbox, in a memory the plugin can
 * write with store_u8/store_u64, block headers included. Here the kernel memory is a
 * host-side arena, separate from the plugin's linear memory; the plugin reaches it only
 * through the extism:host/env functions, which refuse any byte of a block header. A
 * handle is the offset of a block's payload in the arena; 0 is NULL.
 *
 * Layout: [hdr 32][payload size][hdr 32][payload] ... up to `top`; beyond is unused.
 * Payload sizes are multiples of 16, so headers sit on 16-byte granules; a bitmap marks
 * the two granules of every header: validating a handle, or checking that a load/store
 * does not touch a header, is O(1). Headers carry the previous block's offset and the
 * free-list links, so alloc, free (with coalescing of both neighbours) and length are
 * O(1): free blocks live in segregated lists by power of two with a non-empty mask.
 *
 * Every function checks its arguments (handles, offsets, lengths) with overflow-safe
 * arithmetic; failures return 0 / a negative pop_abi_err, never touch memory outside
 * the arena.
 */
#ifndef POP_KERNEL_H
#define POP_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "pluginop/plugin.h"

#define POP_KERNEL_HDR 32u
#define POP_KERNEL_GRAN 16u
#define POP_KERNEL_NBINS 32
#define POP_KERNEL_MAX_BYTES (1ull << 31)
#define POP_KERNEL_MAX_VARS 64
#define POP_KERNEL_MAX_VAR_BYTES 65536u

typedef struct pop_kernel_var {
  uint8_t *key;
  uint32_t klen;
  uint8_t *val;
  uint32_t vlen;
} pop_kernel_var;

typedef struct pop_kernel {
  uint8_t *mem;      /* the arena */
  uint64_t *hdrmap;  /* one bit per granule: part of a block header */
  uint64_t cap;      /* arena bytes */
  uint64_t top;      /* end of the last block */
  uint64_t max;      /* the arena never grows beyond this */
  uint32_t last;     /* header offset of the last block, NONE if empty */
  uint32_t bins_mask;/* bit b: bins[b] non-empty */
  uint32_t bins[POP_KERNEL_NBINS];
  uint64_t input_off, input_len;
  uint64_t output_off, output_len;
  uint64_t error;
  const pop_param *config; /* borrowed */
  size_t n_config;
  pop_kernel_var vars[POP_KERNEL_MAX_VARS];
  uint32_t n_vars;
  uint32_t var_bytes;
} pop_kernel;

/* Initializes an empty kernel whose arena may grow to |max_bytes| (clamped to
 * POP_KERNEL_MAX_BYTES). |config| (may be NULL) is borrowed for config_get. */
void pop_kernel_init(pop_kernel *k, uint64_t max_bytes, const pop_param *config,
                     size_t n_config);
/* Frees the arena and the vars. */
void pop_kernel_free(pop_kernel *k);

/* Allocates |n| bytes; returns the handle or 0 (n == 0, no room, no memory). */
uint64_t pop_kernel_alloc(pop_kernel *k, uint64_t n);
/* Frees block |h|. Returns 0, or POP_E_VALUE for anything but a live block. */
int pop_kernel_free_block(pop_kernel *k, uint64_t h);
/* Length of live block |h| (its requested size), or 0 for anything else. */
uint64_t pop_kernel_length(const pop_kernel *k, uint64_t h);
/* True if |h| is a live block. */
int pop_kernel_valid(const pop_kernel *k, uint64_t h);

/* Loads and stores at absolute arena offsets: refused (POP_E_BOUNDS) outside [0, top)
 * or on a header byte. */
int pop_kernel_load_u8(const pop_kernel *k, uint64_t p, uint8_t *out);
int pop_kernel_load_u64(const pop_kernel *k, uint64_t p, uint64_t *out);
int pop_kernel_store_u8(pop_kernel *k, uint64_t p, uint8_t v);
int pop_kernel_store_u64(pop_kernel *k, uint64_t p, uint64_t v);

/* Input: |i| is an offset within the input. POP_E_BOUNDS past its end. */
int pop_kernel_input_load_u8(const pop_kernel *k, uint64_t i, uint8_t *out);
int pop_kernel_input_load_u64(const pop_kernel *k, uint64_t i, uint64_t *out);
/* Sets the input / output to |len| bytes of live block |h| (len <= its length), or
 * clears it with h == 0 && len == 0. POP_E_VALUE otherwise. */
int pop_kernel_input_set(pop_kernel *k, uint64_t h, uint64_t len);
int pop_kernel_output_set(pop_kernel *k, uint64_t h, uint64_t len);
/* Error slot: a live block or 0 (clears). */
int pop_kernel_error_set(pop_kernel *k, uint64_t h);

/* Forgets every block, input, output and error in O(top): the used bytes and their
 * bitmap words are cleared, nothing beyond. Vars survive. */
void pop_kernel_reset(pop_kernel *k);

/* Bulk copies (the extension): |len| bytes at |off| in block |h| (off + len <= length).
 * POP_E_VALUE for a bad handle, POP_E_BOUNDS for a bad range. */
int pop_kernel_read(const pop_kernel *k, uint64_t h, uint64_t off, uint8_t *dst,
                    uint64_t len);
int pop_kernel_write(pop_kernel *k, uint64_t h, uint64_t off, const uint8_t *src,
                     uint64_t len);
/* Same from the input. */
int pop_kernel_input_read(const pop_kernel *k, uint64_t off, uint8_t *dst, uint64_t len);

/* Allocates a block holding a copy of |len| bytes; 0 on failure (or len == 0). */
uint64_t pop_kernel_alloc_copy(pop_kernel *k, const uint8_t *data, uint64_t len);
/* Payload of live block |h| (NULL if invalid) and its length. Valid until the next
 * alloc (the arena may move). */
const uint8_t *pop_kernel_block(const pop_kernel *k, uint64_t h, uint64_t *len);

/* config_get: the value of the parameter named by block |key_h|, as a new block; 0 if
 * absent. POP_E_VALUE (returned as a negative through |*out| = 0) for a bad key handle. */
int pop_kernel_config_get(pop_kernel *k, uint64_t key_h, uint64_t *out);
/* var_get: copy of the var's value in a new block (*out = 0 if absent). */
int pop_kernel_var_get(pop_kernel *k, uint64_t key_h, uint64_t *out);
/* var_set: stores a copy of block |val_h| under the key; val_h == 0 deletes.
 * POP_E_FULL beyond POP_KERNEL_MAX_VARS / POP_KERNEL_MAX_VAR_BYTES. */
int pop_kernel_var_set(pop_kernel *k, uint64_t key_h, uint64_t val_h);

/* Checks the allocator's invariants (block chain, header bitmap, coalescing, free lists).
 * Returns 0 or a negative number saying which failed. For tests and fuzzing: O(top). */
int pop_kernel_check(const pop_kernel *k);

#endif
