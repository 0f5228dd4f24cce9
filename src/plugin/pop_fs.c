/*
 * pop_fs.c: confined plugin files (see pop_fs.h).
 */
#include "pop_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pluginop/plugin_abi.h"

int pop_fs_init(pop_fs *fs, const char *dir, uint64_t quota, uint32_t max_files) {
  memset(fs, 0, sizeof *fs);
  fs->dirfd = -1;
  fs->quota = quota;
  fs->max_files = max_files > POP_FS_MAX_FILES ? POP_FS_MAX_FILES : max_files;
  if (!dir)
    return 0;
  fs->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  return fs->dirfd < 0 ? POP_E_IO : 0;
}

void pop_fs_free(pop_fs *fs) {
  for (uint32_t i = 0; i < fs->n_files; i++)
    if (fs->fds[i] >= 0)
      close(fs->fds[i]);
  if (fs->dirfd >= 0)
    close(fs->dirfd);
  fs->dirfd = -1;
  fs->n_files = 0;
}

/* Checks the path's syntax. */
static int path_ok(const char *path, size_t len) {
  if (len == 0 || len > POP_FS_MAX_PATH || path[0] == '/' || memchr(path, '\0', len))
    return 0;
  size_t start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && path[i] != '/')
      continue;
    size_t n = i - start;
    if (n == 0 || (n == 1 && path[start] == '.') ||
        (n == 2 && path[start] == '.' && path[start + 1] == '.'))
      return 0;
    start = i + 1;
  }
  return 1;
}

/* Opens folder component |name| under |dir|, creating it if missing; no symlinks. */
static int open_subdir(int dir, const char *name) {
  int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    if (mkdirat(dir, name, 0700) != 0 && errno != EEXIST)
      return -1;
    fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  }
  return fd;
}

static int errno_to_abi(int e) {
  /* ELOOP: a symlink; ENOTDIR: a symlink or file where a folder was expected. */
  return e == ELOOP || e == ENOTDIR || e == EISDIR ? POP_E_PATH : POP_E_IO;
}

int pop_fs_create(pop_fs *fs, const char *path, size_t len) {
  if (fs->dirfd < 0)
    return POP_E_PERM;
  if (!path || !path_ok(path, len))
    return POP_E_PATH;
  if (fs->n_files >= fs->max_files)
    return POP_E_FULL;
  char buf[POP_FS_MAX_PATH + 1];
  memcpy(buf, path, len);
  buf[len] = '\0';
  int dir = fs->dirfd;
  char *comp = buf;
  for (char *slash; (slash = strchr(comp, '/')) != NULL; comp = slash + 1) {
    *slash = '\0';
    int sub = open_subdir(dir, comp);
    int e = errno;
    if (dir != fs->dirfd)
      close(dir);
    if (sub < 0)
      return errno_to_abi(e);
    dir = sub;
  }
  /* O_NONBLOCK: opening a FIFO must not hang the host; it is refused just below. */
  int fd = openat(dir, comp, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
  int e = errno;
  if (dir != fs->dirfd)
    close(dir);
  if (fd < 0)
    return errno_to_abi(e);
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || ftruncate(fd, 0) != 0) {
    close(fd);
    return POP_E_PATH;
  }
  fs->fds[fs->n_files] = fd;
  return (int)fs->n_files++;
}

int64_t pop_fs_write(pop_fs *fs, int fd, const uint8_t *data, size_t len) {
  if (fd < 0 || (uint32_t)fd >= fs->n_files || fs->fds[fd] < 0)
    return POP_E_NOT_FOUND;
  if (len > fs->quota - fs->used)
    return POP_E_QUOTA;
  size_t done = 0;
  while (done < len) {
    ssize_t n = write(fs->fds[fd], data + done, len - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return POP_E_IO;
    done += (size_t)n;
  }
  fs->used += len;
  return (int64_t)len;
}
