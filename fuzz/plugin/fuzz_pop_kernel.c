/* Fuzz target: the Extism-compatible kernel (pop_kernel.c). The input is a program of
 * 9-byte instructions (opcode, 64-bit argument) run against one kernel; after every
 * instruction the allocator's invariants must hold. */
#include <stdlib.h>
#include <string.h>

#include "pop_kernel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  pop_kernel k;
  pop_param cfg[] = {{"key", "value"}};
  pop_kernel_init(&k, 1 << 20, cfg, 1);
  uint64_t handles[16] = {0};
  uint8_t buf[256];
  for (size_t i = 0; i + 9 <= size; i += 9) {
    uint64_t arg;
    memcpy(&arg, data + i + 1, 8);
    uint64_t h = handles[arg & 15], out;
    uint8_t b;
    switch (data[i] % 16) {
    case 0: handles[arg & 15] = pop_kernel_alloc(&k, (arg >> 4) % 70000); break;
    case 1: pop_kernel_free_block(&k, h); break;
    case 2: pop_kernel_free_block(&k, arg); break; /* forged */
    case 3: pop_kernel_length(&k, arg); break;
    case 4: pop_kernel_store_u64(&k, arg, arg); break;
    case 5: pop_kernel_store_u8(&k, h + (arg >> 56), (uint8_t)arg); break;
    case 6: pop_kernel_load_u64(&k, arg, &out); break;
    case 7: pop_kernel_load_u8(&k, h + (arg >> 48), &b); break;
    case 8: pop_kernel_input_set(&k, h, arg >> 52); break;
    case 9: pop_kernel_input_load_u64(&k, arg, &out); break;
    case 10: pop_kernel_read(&k, h, arg >> 40, buf, (arg >> 32) & 0xff); break;
    case 11: pop_kernel_write(&k, h, arg >> 40, buf, (arg >> 32) & 0xff); break;
    case 12: pop_kernel_reset(&k); memset(handles, 0, sizeof handles); break;
    case 13: pop_kernel_var_set(&k, h, handles[(arg >> 8) & 15]); break;
    case 14: pop_kernel_var_get(&k, h, &out); break;
    case 15: pop_kernel_config_get(&k, h, &out); break;
    }
    if (pop_kernel_check(&k) != 0)
      abort();
  }
  pop_kernel_free(&k);
  return 0;
}
