/* hostile-escape: tries to leave its folder. plugin_control_0 outputs the codes of
 * create_file("../escape"), ("/tmp/pop-escape"), ("a/../../escape"), ("link/x") where
 * "link" may be a symlink the test placed, then ("ok.txt") which must work. */
#include <pluginop.h>

POP_EXPORT(init) { return pop_enable(); }

POP_EXPORT(plugin_control_0) {
  pop_output_i64(pop_create_file("../escape"));
  pop_output_i64(pop_create_file("/tmp/pop-escape"));
  pop_output_i64(pop_create_file("a/../../escape"));
  pop_output_i64(pop_create_file("link/x"));
  int fd = pop_create_file("ok.txt");
  pop_output_i64(fd);
  return pop_output_i64(fd >= 0 ? pop_write_file(fd, "ok", 2) : fd);
}
