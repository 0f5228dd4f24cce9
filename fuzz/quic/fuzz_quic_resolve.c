/* fuzz_quic_resolve: pluginop-client's --resolve HOST:PORT:ADDR[,ADDR...] parser
 * (tools/quic/qt_resolve.c) on arbitrary text. Refusals need a message; an accepted
 * option has 1..QT_ADDRS_MAX addresses of a known family carrying its port, a port in
 * 1..65535, and is found again by host (case-insensitive) and port. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "qt_resolve.h"

static void check(int ok) {
  if (!ok)
    abort();
}

static uint16_t port_of(const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET)
    return ntohs(((const struct sockaddr_in *)(const void *)ss)->sin_port);
  if (ss->ss_family == AF_INET6)
    return ntohs(((const struct sockaddr_in6 *)(const void *)ss)->sin6_port);
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *arg = malloc(size + 1);
  if (!arg)
    return 0;
  memcpy(arg, data, size);
  arg[size] = 0;
  static qt_resolve r; /* 4 KiB of addresses: not on the fuzzer's stack */
  char err[160];
  err[0] = 0;
  if (qt_resolve_parse(&r, arg, err, sizeof err) != 0) {
    check(err[0] != 0 && memchr(err, 0, sizeof err) != NULL);
  } else {
    check(r.port != 0);
    check(r.addrs.n >= 1 && r.addrs.n <= QT_ADDRS_MAX);
    for (size_t i = 0; i < r.addrs.n; i++)
      check(port_of(&r.addrs.addr[i]) == r.port);
    check(memchr(r.host, 0, sizeof r.host) != NULL && r.host[0] != 0);
    char upper[sizeof r.host];
    for (size_t i = 0; i < sizeof upper; i++)
      upper[i] = (char)toupper((unsigned char)r.host[i]);
    check(qt_resolve_find(&r, 1, upper, r.port) == &r);
    check(qt_resolve_find(&r, 1, r.host, (uint16_t)(r.port + 1)) == NULL || r.port == 65535);
  }
  free(arg);
  return 0;
}
