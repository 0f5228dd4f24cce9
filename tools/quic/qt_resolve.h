/*
 * qt_resolve.h: the addresses pluginop-client tries for a host, in order: those given
 * with --resolve HOST:PORT:ADDR[,ADDR...] (curl's syntax; DNS is not asked), else
 * getaddrinfo's answer.
 */
#ifndef PLUGINOP_QT_RESOLVE_H
#define PLUGINOP_QT_RESOLVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define QT_ADDRS_MAX 16 /* addresses kept per host (getaddrinfo's answer is cut there) */

/* Socket addresses with their port set, in the order to try them. */
typedef struct qt_addrs {
  size_t n;
  struct sockaddr_storage addr[QT_ADDRS_MAX];
  socklen_t len[QT_ADDRS_MAX];
} qt_addrs;

/* One --resolve option: connections to HOST:PORT go to |addrs|. */
typedef struct qt_resolve {
  char host[256]; /* without brackets for an IPv6 literal */
  uint16_t port;
  qt_addrs addrs;
} qt_resolve;

/* Parses "HOST:PORT:ADDR[,ADDR...]" into |out|: HOST a name or an IP literal (IPv6 in
 * brackets), PORT 1..65535, each ADDR a numeric IPv4 or IPv6 address (IPv6 in brackets,
 * e.g. "[::1],127.0.0.1"; a zone as in "[fe80::1%eth0]" is accepted), at most
 * QT_ADDRS_MAX. Returns 0, or -1 with a one-line message in |err| (|cap| bytes). */
int qt_resolve_parse(qt_resolve *out, const char *arg, char *err, size_t cap);

/* The entry of |list| (|n| entries) for |host| (ASCII case-insensitive) and |port|, or
 * NULL. */
const qt_resolve *qt_resolve_find(const qt_resolve *list, size_t n, const char *host,
                                  uint16_t port);

/* Asks getaddrinfo for |host|'s UDP addresses on |port| (families this machine has an
 * address for: AI_ADDRCONFIG), in its order, at most QT_ADDRS_MAX. Returns 0, or -1 with
 * the resolver's message in |err|. */
int qt_addrs_lookup(qt_addrs *out, const char *host, uint16_t port, char *err, size_t cap);

#endif
