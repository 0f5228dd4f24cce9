/* hostile-forged: Extism kernel calls with forged handles. `forge_free` frees a handle
 * it never got, `forge_store` writes over where a block header lives, `forge_load`
 * reads far out of range: each must trap with a clear message. `honest` echoes its
 * input through the kernel (the plugin keeps working for honest calls in other tests). */
#include <pluginop.h>

POP_EXPORT_BYTES(forge_free) {
  extism_free(12345);
  return 0;
}

POP_EXPORT_BYTES(forge_store) {
  uint64_t h = extism_alloc(64);
  extism_store_u64(h - 8, 0xffffffffffffffffull); /* inside h's header */
  return 0;
}

POP_EXPORT_BYTES(forge_load) { return (int32_t)extism_load_u64(0xfffffffffffffff8ull); }

POP_EXPORT_BYTES(honest) {
  uint64_t n = extism_input_length();
  uint64_t h = extism_alloc(n);
  for (uint64_t i = 0; i < n; i++)
    extism_store_u8(h + i, extism_input_load_u8(i));
  extism_output_set(h, n);
  return 0;
}
