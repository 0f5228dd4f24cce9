/*
 * vm_wasm_build.h: builds test modules from int arrays so tests need not count section
 * and body sizes by hand. Plain values are bytes; SEC(id) opens a section, BODY opens a
 * size-prefixed function body (or any sized region), END closes the innermost open one
 * and inserts its size as LEB128.
 *
 *   static const int spec[] = {HDR, SEC(1), 1, 0x60, 0, 0, END};
 *   size_t len = wb_build(spec, WB_LEN(spec), buf, sizeof buf);
 */
#ifndef PLUGINOP_VM_WASM_BUILD_H
#define PLUGINOP_VM_WASM_BUILD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HDR 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00
#define SEC(id) (-1000 - (id))
#define BODY (-2)
#define END (-1)
#define WB_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Returns the module length, or 0 if |cap| is too small or the spec is unbalanced. */
static inline size_t wb_build(const int *spec, size_t n, uint8_t *out, size_t cap) {
  size_t open[32], nopen = 0, len = 0;
  for (size_t i = 0; i < n; i++) {
    int v = spec[i];
    if (v <= -1000 || v == BODY) {
      if (v <= -1000) {
        if (len >= cap) return 0;
        out[len++] = (uint8_t)(-1000 - v);
      }
      if (nopen == 32) return 0;
      open[nopen++] = len;
    } else if (v == END) {
      uint8_t leb[5];
      size_t size, k = 0;
      if (nopen == 0) return 0;
      size = len - open[--nopen];
      do {
        leb[k] = (uint8_t)(size & 0x7f);
        size >>= 7;
        if (size) leb[k] |= 0x80;
        k++;
      } while (size);
      if (len + k > cap) return 0;
      memmove(out + open[nopen] + k, out + open[nopen], len - open[nopen]);
      memcpy(out + open[nopen], leb, k);
      len += k;
    } else {
      if (len >= cap) return 0;
      out[len++] = (uint8_t)v;
    }
  }
  return nopen == 0 ? len : 0;
}

#endif
