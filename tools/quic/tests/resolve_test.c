/* Tests of qt_resolve: pluginop-client's --resolve HOST:PORT:ADDR[,ADDR...] parser. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "qt_resolve.h"
#include "test.h"

/* The text form of entry |i| of |a| ("1.2.3.4:80" / "[::1]:80"). */
static const char *addr_at(const qt_addrs *a, size_t i, char *out, size_t cap) {
  char ip[INET6_ADDRSTRLEN];
  const struct sockaddr *sa = (const struct sockaddr *)&a->addr[i];
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *s4 = (const void *)sa;
    inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
    snprintf(out, cap, "%s:%u", ip, ntohs(s4->sin_port));
  } else {
    const struct sockaddr_in6 *s6 = (const void *)sa;
    inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
    snprintf(out, cap, "[%s]:%u", ip, ntohs(s6->sin6_port));
  }
  return out;
}

static void test_qt_resolve_ipv6_then_ipv4(void) {
  qt_resolve r;
  char err[160], buf[80];
  CHECK_INT(0, ==, qt_resolve_parse(&r, "localhost:4433:[::1],127.0.0.1", err, sizeof(err)));
  CHECK_STR("localhost", r.host);
  CHECK_INT(4433, ==, r.port);
  CHECK_INT(2, ==, r.addrs.n);
  CHECK_STR("[::1]:4433", addr_at(&r.addrs, 0, buf, sizeof(buf)));
  CHECK_INT(sizeof(struct sockaddr_in6), ==, r.addrs.len[0]);
  CHECK_STR("127.0.0.1:4433", addr_at(&r.addrs, 1, buf, sizeof(buf)));
  CHECK_INT(sizeof(struct sockaddr_in), ==, r.addrs.len[1]);
}

static void test_qt_resolve_bracketed_host(void) {
  qt_resolve r;
  char err[160], buf[80];
  CHECK_INT(0, ==, qt_resolve_parse(&r, "[::1]:443:127.0.0.1", err, sizeof(err)));
  CHECK_STR("::1", r.host);
  CHECK_INT(443, ==, r.port);
  CHECK_INT(1, ==, r.addrs.n);
  CHECK_STR("127.0.0.1:443", addr_at(&r.addrs, 0, buf, sizeof(buf)));
}

static void test_qt_resolve_find_host_and_port(void) {
  qt_resolve list[2];
  char err[160];
  CHECK_INT(0, ==, qt_resolve_parse(&list[0], "Example.COM:443:192.0.2.1", err, sizeof(err)));
  CHECK_INT(0, ==, qt_resolve_parse(&list[1], "example.com:8443:192.0.2.2", err, sizeof(err)));
  CHECK(qt_resolve_find(list, 2, "example.com", 443) == &list[0]);
  CHECK(qt_resolve_find(list, 2, "EXAMPLE.com", 8443) == &list[1]);
  CHECK(qt_resolve_find(list, 2, "example.com", 80) == NULL);
  CHECK(qt_resolve_find(list, 2, "example.org", 443) == NULL);
}

/* Each malformed argument fails with a message; |want| is a piece of it. */
static void check_bad(const char *arg, const char *want) {
  qt_resolve r;
  char err[160] = "";
  int rv = qt_resolve_parse(&r, arg, err, sizeof(err));
  CHECK_INT(-1, ==, rv);
  if (!strstr(err, want)) {
    fprintf(stderr, "  '%s': message '%s' lacks '%s'\n", arg, err, want);
    test_current_failed = 1;
  }
}

static void test_qt_resolve_bad_syntax(void) {
  char many[400] = "h:1:";
  check_bad("", "HOST:PORT:ADDR");
  check_bad("localhost", "HOST:PORT:ADDR");
  check_bad("localhost:4433", "HOST:PORT:ADDR");
  check_bad(":4433:127.0.0.1", "HOST:PORT:ADDR");
  check_bad("[::1:4433:127.0.0.1", "HOST:PORT:ADDR");
  check_bad("localhost:0:127.0.0.1", "1..65535");
  check_bad("localhost:65536:127.0.0.1", "1..65535");
  check_bad("localhost:44x:127.0.0.1", "1..65535");
  check_bad("localhost:4433:", "empty address");
  check_bad("localhost:4433:127.0.0.1,", "empty address");
  check_bad("localhost:4433:[::1", "'['");
  check_bad("localhost:4433:[::1]x", "']'");
  check_bad("localhost:4433:[127.0.0.1]", "not an IPv6 address");
  check_bad("localhost:4433:127.1", "not an IP address");   /* no inet_aton shorthands */
  check_bad("localhost:4433:example.com", "not an IP address"); /* no DNS */
  for (int i = 0; i < QT_ADDRS_MAX + 1; i++) strcat(many, i ? ",127.0.0.1" : "127.0.0.1");
  check_bad(many, "more than");
}

static void test_qt_addrs_lookup_numeric(void) {
  qt_addrs a;
  char err[160], buf[80];
  CHECK_INT(0, ==, qt_addrs_lookup(&a, "127.0.0.1", 853, err, sizeof(err)));
  CHECK_INT(1, ==, a.n);
  CHECK_STR("127.0.0.1:853", addr_at(&a, 0, buf, sizeof(buf)));
}

int main(void) {
  RUN(test_qt_resolve_ipv6_then_ipv4);
  RUN(test_qt_resolve_bracketed_host);
  RUN(test_qt_resolve_find_host_and_port);
  RUN(test_qt_resolve_bad_syntax);
  RUN(test_qt_addrs_lookup_numeric);
  return test_report();
}
