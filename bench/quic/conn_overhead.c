/*
 * conn_overhead.c: what the plugin seams cost a connection WITHOUT plugins. An
 * in-process transfer (client and server over pq_sim, null handshake, real packet
 * protection) of 2 MB, run once; compare instruction counts between two builds of
 * src/quic (e.g. the quic-conn branch and this one) under callgrind. Standalone (not part
 * of the build). From a tree built in build/:
 *
 *   cc -O2 -D_GNU_SOURCE -Iinclude -Isrc/quic -Itests/quic -Itests \
 *      bench/quic/conn_overhead.c build/lib/libpluginop_quic.a \
 *      build/lib/libpluginop_plugin.a build/lib/libpluginop_vm.a \
 *      $(pkg-config --libs gnutls nettle libcrypto) -lm -lpthread -o /tmp/conn_overhead
 *   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out /tmp/conn_overhead
 *
 * (a tree without the plugin runtime links only libpluginop_quic.a). Measured
 * 2026-11-22: 164,243,340 instructions (quic-conn d671159 with the same pq_strm/pq_pkt
 * fixes) vs 164,275,458 (quic-plugin 6564194): +0.02%. Argument
 * "time": nine 20 MB runs, median CPU time instead (noisy on a shared machine).
 */
#include <time.h>

#include "conn_harness.h"

static double cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* One transfer of |size| bytes; returns its CPU time in ms, or -1. */
static double one_run(uint64_t size) {
  world w;
  pq_sim_config l = sim_link(1 * MS);
  double t0, t;
  bool ok;
  l.bandwidth = 2000000000ull;
  l.queue_bytes = 4000000;
  world_init_ex(&w, 1, &l, &l, false, NULL);
  w.nstreams = 1;
  w.size = size;
  t0 = cpu_ms();
  ok = run_until(&w, all_received, 600000 * MS) && all_bytes_ok(&w);
  t = cpu_ms() - t0;
  world_free(&w);
  return ok ? t : -1;
}

int main(int argc, char **argv) {
  double t[9];
  (void)seeded_run_ex;
  (void)both_established;
  if (argc < 2 || strcmp(argv[1], "time") != 0) {
    if (one_run(2000000) < 0) {
      fprintf(stderr, "transfer failed\n");
      return 1;
    }
    printf("2 MB transfer done\n");
    return 0;
  }
  for (int r = 0; r < 9; r++)
    if ((t[r] = one_run(20000000)) < 0) {
      fprintf(stderr, "transfer failed\n");
      return 1;
    }
  qsort(t, 9, sizeof(t[0]), cmp);
  printf("20 MB transfer: median %.1f ms CPU (min %.1f, max %.1f)\n", t[4], t[0], t[8]);
  return 0;
}
