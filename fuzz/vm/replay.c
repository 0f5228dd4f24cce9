/*
 * replay.c: main() for fuzz targets in ordinary builds. Feeds every file given (or every
 * file in a given directory) to LLVMFuzzerTestOneInput once, so the checked-in seeds run
 * under CTest in every build (and under ASan+UBSan in build-asan).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
    return -1;
  }
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      uint8_t *nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
  }
  fclose(f);
  if (!buf) {
    fprintf(stderr, "replay: %s: too large or out of memory\n", path);
    return -1;
  }
  LLVMFuzzerTestOneInput(buf, n);
  free(buf);
  return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
  return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv) {
  int count = 0, errors = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) < 0) {
      fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
      errors++;
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      errors += replay_file(argv[i]) < 0;
      count++;
      continue;
    }
    struct dirent **list;
    int n = scandir(argv[i], &list, NULL, by_name);
    for (int j = 0; j < n; j++) {
      char path[4096];
      if (list[j]->d_name[0] != '.' &&
          (size_t)snprintf(path, sizeof path, "%s/%s", argv[i], list[j]->d_name) < sizeof path) {
        errors += replay_file(path) < 0;
        count++;
      }
      free(list[j]);
    }
    if (n >= 0)
      free(list);
  }
  printf("replayed %d inputs, %d unreadable\n", count, errors);
  return errors || count == 0 ? 1 : 0;
}
