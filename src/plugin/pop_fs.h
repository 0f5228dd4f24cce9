/*
 * pop_fs.h: a plugin's files, confined to its own folder (internal).
 *
 * The host chooses the folder; the plugin names files relative to it. A path is refused
 * (POP_E_PATH) when it is empty, longer than POP_FS_MAX_PATH, absolute, holds a NUL, an
 * empty component ("a//b", trailing '/'), "." or "..". It is then opened one component
 * at a time with openat(O_NOFOLLOW) from the folder's descriptor, so a symlink anywhere
 * on the way (placed by anyone) is refused too (POP_E_PATH), and only regular files are
 * written (a FIFO or device is refused without blocking). Missing intermediate folders
 * are created. Bytes written count against a quota (POP_E_QUOTA, all or nothing).
 */
#ifndef POP_FS_H
#define POP_FS_H

#include <stddef.h>
#include <stdint.h>

#define POP_FS_MAX_PATH 255
#define POP_FS_MAX_FILES 64

typedef struct pop_fs {
  int dirfd;          /* the plugin's folder, -1 if it has none */
  uint64_t quota;
  uint64_t used;
  uint32_t max_files;
  uint32_t n_files;
  int fds[POP_FS_MAX_FILES];
} pop_fs;

/* Opens |dir| (NULL = no file access: every call fails with POP_E_PERM).
 * Returns 0 or POP_E_IO (the folder cannot be opened). */
int pop_fs_init(pop_fs *fs, const char *dir, uint64_t quota, uint32_t max_files);
/* Closes every file and the folder. */
void pop_fs_free(pop_fs *fs);
/* Creates (or truncates) the file |path| (|len| bytes, not NUL-terminated) and returns
 * its descriptor index >= 0, or POP_E_PERM, POP_E_PATH, POP_E_FULL, POP_E_IO. */
int pop_fs_create(pop_fs *fs, const char *path, size_t len);
/* Appends |len| bytes to file |fd|. Returns |len|, or POP_E_NOT_FOUND, POP_E_QUOTA,
 * POP_E_IO. */
int64_t pop_fs_write(pop_fs *fs, int fd, const uint8_t *data, size_t len);

#endif
