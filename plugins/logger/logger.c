/* logger: After code on ProcessFrame(0x10) that writes every MAX_DATA value received to
 * "frames.log" in its folder (files are allowed in read-only anchors) and logs a line
 * through the host. */
#include <pluginop.h>

static int fd = -1;

static uint32_t put_dec(char *p, uint64_t v) {
  char tmp[20];
  uint32_t n = 0, i = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n)
    p[i++] = tmp[--n];
  return i;
}

POP_EXPORT(init) {
  fd = pop_create_file("frames.log");
  pop_log(POP_LOG_INFO, fd >= 0 ? "logger ready" : "logger: no file");
  return pop_enable();
}

POP_EXPORT(post_process_frame_10) {
  const pop_frame *f = pop_input_frame(0);
  if (!f || fd < 0)
    return 0;
  char line[32] = "MAX_DATA ";
  uint32_t n = 9 + put_dec(line + 9, f->f[0]);
  line[n++] = '\n';
  return pop_write_file(fd, line, n) < 0 ? 1 : 0;
}
