/*
 * qt_resolve.c: --resolve HOST:PORT:ADDR[,ADDR...] and the getaddrinfo fallback
 * (qt_resolve.h).
 */
#include "qt_resolve.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Appends the numeric address |s| (|len| bytes, no brackets) with |port| to |a|: an
 * IPv4 dotted quad (inet_pton: no "127.1" shorthands), or IPv6 when |v6| or |s| has a
 * ':' (getaddrinfo with AI_NUMERICHOST, never a DNS query, for zones like "%eth0").
 * Returns 0 or -1. */
static int add_numeric(qt_addrs *a, const char *s, size_t len, uint16_t port, bool v6) {
  char host[INET6_ADDRSTRLEN + 64], serv[8];
  struct addrinfo hints = {.ai_family = AF_INET6, .ai_socktype = SOCK_DGRAM,
                           .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV},
                  *res;
  if (len == 0 || len >= sizeof(host)) return -1;
  memcpy(host, s, len);
  host[len] = 0;
  if (!v6 && !memchr(s, ':', len)) {
    struct sockaddr_in *sin = (struct sockaddr_in *)&a->addr[a->n];
    memset(sin, 0, sizeof(*sin));
    if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) return -1;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    a->len[a->n++] = sizeof(*sin);
    return 0;
  }
  snprintf(serv, sizeof(serv), "%u", (unsigned)port);
  if (getaddrinfo(host, serv, &hints, &res) != 0) return -1;
  memcpy(&a->addr[a->n], res->ai_addr, res->ai_addrlen);
  a->len[a->n++] = res->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}

/* "1..65535" from |s| up to |end|; returns the port or 0 when malformed. */
static uint16_t parse_port(const char *s, const char *end) {
  unsigned v = 0;
  if (s == end || end - s > 5) return 0;
  for (; s < end; s++) {
    if (*s < '0' || *s > '9') return 0;
    v = v * 10 + (unsigned)(*s - '0');
  }
  return v <= 65535 ? (uint16_t)v : 0;
}

/* The address list after HOST:PORT: into |r->addrs|. */
static int parse_addrs(qt_resolve *r, const char *p, char *err, size_t cap) {
  while (1) {
    const char *end, *a = p;
    size_t len;
    bool v6 = false;
    if (*p == '[') {
      a = p + 1;
      end = strchr(a, ']');
      if (!end || (end[1] && end[1] != ',')) {
        snprintf(err, cap, "unclosed '[' or text after ']' in '%s'", p);
        return -1;
      }
      len = (size_t)(end - a);
      v6 = true;
      p = end + 1;
    } else {
      len = strcspn(p, ",");
      p += len;
    }
    if (r->addrs.n == QT_ADDRS_MAX) {
      snprintf(err, cap, "more than %d addresses", QT_ADDRS_MAX);
      return -1;
    }
    if (len == 0) {
      snprintf(err, cap, "empty address");
      return -1;
    }
    if (add_numeric(&r->addrs, a, len, r->port, v6) < 0) {
      snprintf(err, cap, "'%.*s' is not an IP%s address", (int)(len > 64 ? 64 : len), a,
               v6 ? "v6" : "");
      return -1;
    }
    if (!*p) return 0;
    p++; /* ',' */
  }
}

int qt_resolve_parse(qt_resolve *out, const char *arg, char *err, size_t cap) {
  const char *p = arg, *h = arg, *h_end, *port_end;
  memset(out, 0, sizeof(*out));
  if (*p == '[') {
    h = p + 1;
    if (!(h_end = strchr(h, ']')) || h_end[1] != ':') goto syntax;
    p = h_end + 2;
  } else {
    h_end = p + strcspn(p, ":");
    if (!*h_end) goto syntax;
    p = h_end + 1;
  }
  if (h_end == h) goto syntax;
  if ((size_t)(h_end - h) >= sizeof(out->host)) {
    snprintf(err, cap, "host name too long");
    return -1;
  }
  memcpy(out->host, h, (size_t)(h_end - h));
  out->host[h_end - h] = 0;
  if (!(port_end = strchr(p, ':'))) goto syntax;
  if (!(out->port = parse_port(p, port_end))) {
    snprintf(err, cap, "port must be a number in 1..65535, not '%.*s'",
             (int)(port_end - p > 16 ? 16 : port_end - p), p);
    return -1;
  }
  return parse_addrs(out, port_end + 1, err, cap);
syntax:
  snprintf(err, cap, "expected HOST:PORT:ADDR[,ADDR...]");
  return -1;
}

const qt_resolve *qt_resolve_find(const qt_resolve *list, size_t n, const char *host,
                                  uint16_t port) {
  for (size_t i = 0; i < n; i++)
    if (list[i].port == port && !strcasecmp(list[i].host, host)) return &list[i];
  return NULL;
}

int qt_addrs_lookup(qt_addrs *out, const char *host, uint16_t port, char *err, size_t cap) {
  struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_ADDRCONFIG |
                           AI_NUMERICSERV}, *res, *ai;
  char serv[8];
  int rv;
  snprintf(serv, sizeof(serv), "%u", (unsigned)port);
  out->n = 0;
  if ((rv = getaddrinfo(host, serv, &hints, &res)) != 0) {
    snprintf(err, cap, "%s", gai_strerror(rv));
    return -1;
  }
  for (ai = res; ai && out->n < QT_ADDRS_MAX; ai = ai->ai_next) {
    if (ai->ai_addrlen > sizeof(out->addr[0])) continue;
    memcpy(&out->addr[out->n], ai->ai_addr, ai->ai_addrlen);
    out->len[out->n++] = ai->ai_addrlen;
  }
  freeaddrinfo(res);
  if (out->n == 0) {
    snprintf(err, cap, "no usable address");
    return -1;
  }
  return 0;
}
