/* Confined plugin files (pop_fs.c): path rules, symlink escapes, quota. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pluginop/plugin_abi.h"
#include "pop_fs.h"
#include "test.h"

static char root[64], box[96], outside[128];

static void setup(void) {
  strcpy(root, "/tmp/pop_fs_test_XXXXXX");
  if (!mkdtemp(root))
    abort();
  snprintf(box, sizeof box, "%s/box", root);
  snprintf(outside, sizeof outside, "%s/secret", root);
  mkdir(box, 0700);
  int fd = open(outside, O_WRONLY | O_CREAT, 0600);
  if (fd < 0 || write(fd, "secret", 6) != 6)
    abort();
  close(fd);
}

static void teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  if (system(cmd) != 0)
    fprintf(stderr, "cleanup of %s failed\n", root);
}

static int create(pop_fs *fs, const char *p) { return pop_fs_create(fs, p, strlen(p)); }

static long file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void test_pop_fs_create_and_write_inside(void) {
  pop_fs fs;
  CHECK_INT(0, ==, pop_fs_init(&fs, box, 1000, 8));
  int fd = create(&fs, "log.txt");
  CHECK_INT(0, ==, fd);
  CHECK_INT(5, ==, pop_fs_write(&fs, fd, (const uint8_t *)"hello", 5));
  int fd2 = create(&fs, "sub/dir/x.bin");
  CHECK_INT(1, ==, fd2);
  CHECK_INT(3, ==, pop_fs_write(&fs, fd2, (const uint8_t *)"abc", 3));
  pop_fs_free(&fs);
  char p[160];
  snprintf(p, sizeof p, "%s/log.txt", box);
  CHECK_INT(5, ==, file_size(p));
  snprintf(p, sizeof p, "%s/sub/dir/x.bin", box);
  CHECK_INT(3, ==, file_size(p));
}

static void test_pop_fs_rejects_bad_paths(void) {
  pop_fs fs;
  CHECK_INT(0, ==, pop_fs_init(&fs, box, 1000, 8));
  const char *bad[] = {"", "/etc/passwd", "..", "../secret", "a/../../secret", "a/..",
                       ".", "./x", "a//b", "a/", "/", "sub/./x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rv = create(&fs, bad[i]);
    if (rv != POP_E_PATH) {
      fprintf(stderr, "  path \"%s\" gave %d\n", bad[i], rv);
      test_current_failed = 1;
    }
  }
  CHECK_INT(POP_E_PATH, ==, pop_fs_create(&fs, "a\0b", 3));
  char longp[POP_FS_MAX_PATH + 2];
  memset(longp, 'a', sizeof longp - 1);
  longp[sizeof longp - 1] = 0;
  CHECK_INT(POP_E_PATH, ==, create(&fs, longp));
  CHECK_INT(6, ==, file_size(outside));
  pop_fs_free(&fs);
}

static void test_pop_fs_rejects_symlink_escapes(void) {
  char p[160];
  snprintf(p, sizeof p, "%s/link", box); /* final component is a symlink to a file */
  CHECK_INT(0, ==, symlink(outside, p));
  snprintf(p, sizeof p, "%s/dirlink", box); /* a folder on the way is a symlink */
  CHECK_INT(0, ==, symlink(root, p));
  snprintf(p, sizeof p, "%s/dangling", box); /* would create a file outside */
  char target[160];
  snprintf(target, sizeof target, "%s/created_outside", root);
  CHECK_INT(0, ==, symlink(target, p));
  pop_fs fs;
  CHECK_INT(0, ==, pop_fs_init(&fs, box, 1000, 8));
  CHECK_INT(POP_E_PATH, ==, create(&fs, "link"));
  CHECK_INT(POP_E_PATH, ==, create(&fs, "dirlink/secret"));
  CHECK_INT(POP_E_PATH, ==, create(&fs, "dirlink/new"));
  CHECK_INT(POP_E_PATH, ==, create(&fs, "dangling"));
  pop_fs_free(&fs);
  CHECK_INT(6, ==, file_size(outside)); /* not truncated */
  CHECK_INT(-1, ==, file_size(target));
}

static void test_pop_fs_refuses_fifo_without_blocking(void) {
  char p[160];
  snprintf(p, sizeof p, "%s/fifo", box);
  CHECK_INT(0, ==, mkfifo(p, 0600));
  pop_fs fs;
  CHECK_INT(0, ==, pop_fs_init(&fs, box, 1000, 8));
  CHECK(create(&fs, "fifo") < 0);
  CHECK_INT(POP_E_PATH, ==, create(&fs, "sub")); /* a folder */
  pop_fs_free(&fs);
}

static void test_pop_fs_quota_and_limits(void) {
  pop_fs fs;
  CHECK_INT(0, ==, pop_fs_init(&fs, box, 10, 2));
  int fd = create(&fs, "q");
  CHECK_INT(0, <=, fd);
  CHECK_INT(8, ==, pop_fs_write(&fs, fd, (const uint8_t *)"12345678", 8));
  CHECK_INT(POP_E_QUOTA, ==, pop_fs_write(&fs, fd, (const uint8_t *)"123", 3));
  CHECK_INT(2, ==, pop_fs_write(&fs, fd, (const uint8_t *)"12", 2));
  CHECK_INT(POP_E_QUOTA, ==, pop_fs_write(&fs, fd, (const uint8_t *)"1", 1));
  CHECK_INT(0, ==, pop_fs_write(&fs, fd, (const uint8_t *)"", 0));
  CHECK_INT(POP_E_NOT_FOUND, ==, pop_fs_write(&fs, 7, (const uint8_t *)"1", 1));
  CHECK_INT(POP_E_NOT_FOUND, ==, pop_fs_write(&fs, -1, (const uint8_t *)"1", 1));
  CHECK_INT(1, ==, create(&fs, "r"));
  CHECK_INT(POP_E_FULL, ==, create(&fs, "s"));
  pop_fs_free(&fs);
  char p[160];
  snprintf(p, sizeof p, "%s/q", box);
  CHECK_INT(10, ==, file_size(p));
  /* No folder: no file access at all. */
  CHECK_INT(0, ==, pop_fs_init(&fs, NULL, 10, 2));
  CHECK_INT(POP_E_PERM, ==, create(&fs, "q"));
  pop_fs_free(&fs);
  CHECK_INT(POP_E_IO, ==, pop_fs_init(&fs, "/nonexistent/pop", 10, 2));
  pop_fs_free(&fs);
}

int main(void) {
  setup();
  RUN(test_pop_fs_create_and_write_inside);
  RUN(test_pop_fs_rejects_bad_paths);
  RUN(test_pop_fs_rejects_symlink_escapes);
  RUN(test_pop_fs_refuses_fifo_without_blocking);
  RUN(test_pop_fs_quota_and_limits);
  teardown();
  return test_report();
}
