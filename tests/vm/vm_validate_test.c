/*
 * vm_validate_test.c: the validator on hand-written bodies, and a walk over the spec test
 * suite (every non-SIMD .wast through wast2json) checking that vm_decode + vm_validate
 * reject every binary assert_malformed and every assert_invalid module and accept every
 * other module.
 */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "vm_module.h"

#define HDR 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00

/* Decodes and validates; returns the first failing status (0 if valid). */
static int check_module(const uint8_t *b, size_t len, pvm_error *err) {
  vm_module m;
  int rv;
  memset(err, 0, sizeof *err);
  rv = vm_decode(b, len, &m, err);
  if (rv) return rv;
  rv = vm_validate(&m, err);
  vm_module_free(&m);
  return rv;
}

/* ---- Spec test suite walk ---------------------------------------------------------- */

typedef struct walk_stats {
  int malformed, malformed_rejected, malformed_exact;
  int invalid, invalid_rejected, invalid_exact;
  int valid, valid_accepted;
  int wrongly_accepted, wrongly_rejected;
  double seconds;
  size_t bytes;
} walk_stats;

/* Copies the JSON string value of "key": "..." in |line| into |out| (no unescaping:
 * file names and the messages we compare have no escapes). */
static bool json_field(const char *line, const char *key, char *out, size_t cap) {
  char pat[64];
  const char *p, *q;
  snprintf(pat, sizeof pat, "\"%s\": \"", key);
  p = strstr(line, pat);
  if (!p) return false;
  p += strlen(pat);
  q = strchr(p, '"');
  if (!q || (size_t)(q - p) >= cap) return false;
  memcpy(out, p, (size_t)(q - p));
  out[q - p] = 0;
  return true;
}

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf;
  long n;
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = malloc(n > 0 ? (size_t)n : 1);
  if (buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  *len = n > 0 ? (size_t)n : 0;
  return buf;
}

static void remove_dir(const char *dir) {
  DIR *dh = opendir(dir);
  struct dirent *de;
  char path[4096];
  if (!dh) return;
  while ((de = readdir(dh)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    unlink(path);
  }
  closedir(dh);
  rmdir(dir);
}

/* Checks one command of a wast2json file. */
static void walk_command(walk_stats *st, const char *dir, const char *wast, const char *line) {
  char type[64], file[256], text[256] = "", mtype[32] = "", path[4096];
  pvm_error err;
  uint8_t *bytes;
  size_t len;
  int rv, expect; /* expect: 1 valid, -1 malformed, -2 invalid */
  struct timespec t0, t1;
  if (!json_field(line, "type", type, sizeof type)) return;
  if (!json_field(line, "filename", file, sizeof file)) return;
  json_field(line, "text", text, sizeof text);
  json_field(line, "module_type", mtype, sizeof mtype);
  if (strcmp(type, "module") == 0 || strcmp(type, "assert_unlinkable") == 0 ||
      strcmp(type, "assert_uninstantiable") == 0)
    expect = 1;
  else if (strcmp(type, "assert_malformed") == 0 && strcmp(mtype, "binary") == 0)
    expect = -1;
  else if (strcmp(type, "assert_invalid") == 0 && strcmp(mtype, "text") != 0)
    expect = -2;
  else
    return;
  snprintf(path, sizeof path, "%s/%s", dir, file);
  bytes = read_file(path, &len);
  if (!bytes) {
    fprintf(stderr, "spec walk: cannot read %s\n", path);
    st->wrongly_rejected++;
    return;
  }
  clock_gettime(CLOCK_MONOTONIC, &t0);
  rv = check_module(bytes, len, &err);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  st->seconds += (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  st->bytes += len;
  free(bytes);
  if (rv != 0 && rv != PVM_ERR_MALFORMED && rv != PVM_ERR_INVALID) {
    fprintf(stderr, "spec walk: %s %s: status %d (%s)\n", wast, file, rv, err.msg);
  }
  /* The spec runner matches a message by prefix ("unknown memory 0" for "unknown memory"). */
  bool exact = rv != 0 && strncmp(err.msg, text, strlen(text)) == 0;
  if (expect == 1) {
    st->valid++;
    if (rv == 0) {
      st->valid_accepted++;
    } else {
      st->wrongly_rejected++;
      fprintf(stderr, "spec walk: %s %s: valid module rejected: %s (offset %ld)\n", wast,
              file, err.msg, err.offset);
    }
    return;
  }
  if (expect == -1) {
    st->malformed++;
    st->malformed_rejected += rv != 0;
    st->malformed_exact += exact;
  } else {
    st->invalid++;
    st->invalid_rejected += rv != 0;
    st->invalid_exact += exact;
  }
  if (rv == 0) {
    st->wrongly_accepted++;
    fprintf(stderr, "spec walk: %s %s: accepted, expected \"%s\"\n", wast, file, text);
  } else if (!exact && getenv("PVM_WALK_VERBOSE")) {
    fprintf(stderr, "spec walk: %s %s: \"%s\" instead of \"%s\"\n", wast, file, err.msg, text);
  }
}

static void walk_wast(walk_stats *st, const char *wast_path, const char *name) {
  char dir[] = "/tmp/pvm_walk_XXXXXX", cmd[8192], json[256], *line = NULL;
  size_t cap = 0;
  FILE *f;
  if (!mkdtemp(dir)) {
    fprintf(stderr, "spec walk: mkdtemp failed\n");
    st->wrongly_rejected++;
    return;
  }
  snprintf(json, sizeof json, "%s/t.json", dir);
  snprintf(cmd, sizeof cmd, "wast2json '%s' -o '%s' >/dev/null 2>&1", wast_path, json);
  if (system(cmd) != 0) {
    fprintf(stderr, "spec walk: wast2json failed on %s\n", name);
    st->wrongly_rejected++;
  } else if ((f = fopen(json, "r")) != NULL) {
    while (getline(&line, &cap, f) > 0) walk_command(st, dir, name, line);
    fclose(f);
  }
  free(line);
  remove_dir(dir);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_vm_validate_spec_suite(void) {
  const char *suite = PLUGINOP_SHARED_DIR "/wasm-testsuite";
  const char *only = getenv("PVM_WALK_ONLY");
  walk_stats st;
  DIR *dh;
  struct dirent *de;
  char *names[512], path[4096];
  int n = 0;
  memset(&st, 0, sizeof st);
  if (system("wast2json --version >/dev/null 2>&1") != 0) {
    fprintf(stderr, "spec walk: wast2json not found (install wabt)\n");
    CHECK(0);
    return;
  }
  dh = opendir(suite);
  CHECK(dh != NULL);
  if (!dh) return;
  while ((de = readdir(dh)) != NULL && n < 512) {
    size_t l = strlen(de->d_name);
    if (l < 6 || strcmp(de->d_name + l - 5, ".wast") != 0) continue;
    if (strncmp(de->d_name, "simd", 4) == 0) continue;
    if (only && strstr(de->d_name, only) == NULL) continue;
    names[n++] = strdup(de->d_name);
  }
  closedir(dh);
  qsort(names, (size_t)n, sizeof names[0], cmp_str);
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/%s", suite, names[i]);
    walk_wast(&st, path, names[i]);
    free(names[i]);
  }
  printf("spec walk: %d wast files\n", n);
  printf("  assert_malformed (binary): %d, rejected %d, with the expected message %d\n",
         st.malformed, st.malformed_rejected, st.malformed_exact);
  printf("  assert_invalid: %d, rejected %d, with the expected message %d\n", st.invalid,
         st.invalid_rejected, st.invalid_exact);
  printf("  valid modules: %d, accepted %d\n", st.valid, st.valid_accepted);
  printf("  wrongly accepted %d, wrongly rejected %d\n", st.wrongly_accepted,
         st.wrongly_rejected);
  printf("  decode+validate: %zu bytes in %.3f ms\n", st.bytes, st.seconds * 1e3);
  CHECK(n > 0);
  CHECK(st.valid > 0);
  CHECK_INT(0, ==, st.wrongly_accepted);
  CHECK_INT(0, ==, st.wrongly_rejected);
}

int main(void) {
  RUN(test_vm_validate_spec_suite);
  return test_report();
}
