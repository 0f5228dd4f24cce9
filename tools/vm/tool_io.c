/* tool_io.c: file helpers shared by the VM tools. */
#include "tool_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int tool_read_file(const char *path, uint8_t **out, size_t *len) {
  *out = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f)
    return -1;
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap + 1);
  while (buf) {
    if (n == cap) {
      if (cap >= TOOL_MAX_FILE) {
        free(buf);
        fclose(f);
        errno = EFBIG;
        return -1;
      }
      cap *= 2;
      uint8_t *nb = realloc(buf, cap + 1);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0)
      break;
  }
  if (!buf || ferror(f)) {
    int e = buf ? EIO : ENOMEM;
    free(buf);
    fclose(f);
    errno = e;
    return -1;
  }
  fclose(f);
  buf[n] = 0;
  *out = buf;
  *len = n;
  return 0;
}
