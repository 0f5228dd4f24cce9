/*
 * pq_tp_test.c: transport parameters: round trips, defaults, every validation rule,
 * unknown/GREASE ids and the extension hooks.
 */
#include "pq_tp.h"
#include "pq_varint.h"
#include "test.h"

static void fill_server(pq_tp *tp) {
  pq_tp_default(tp);
  tp->has_original_dcid = true;
  tp->original_dcid.len = 8;
  memcpy(tp->original_dcid.data, "\x83\x94\xc8\xf0\x3e\x51\x57\x08", 8);
  tp->max_idle_timeout = 30000;
  tp->has_stateless_reset_token = true;
  memset(tp->stateless_reset_token, 0x5a, 16);
  tp->max_udp_payload_size = 1452;
  tp->initial_max_data = 16 << 20;
  tp->initial_max_stream_data_bidi_local = 1 << 20;
  tp->initial_max_stream_data_bidi_remote = 1 << 20;
  tp->initial_max_stream_data_uni = 1 << 19;
  tp->initial_max_streams_bidi = 100;
  tp->initial_max_streams_uni = UINT64_C(1) << 60;
  tp->ack_delay_exponent = 10;
  tp->max_ack_delay = 16383;
  tp->disable_active_migration = true;
  tp->has_preferred_address = true;
  memcpy(tp->preferred_address.ipv4, "\x7f\x00\x00\x01", 4);
  tp->preferred_address.ipv4_port = 4433;
  tp->preferred_address.ipv6[15] = 1;
  tp->preferred_address.ipv6_port = 4434;
  tp->preferred_address.cid.len = 4;
  memcpy(tp->preferred_address.cid.data, "\xde\xad\xbe\xef", 4);
  memset(tp->preferred_address.reset_token, 0x11, 16);
  tp->active_connection_id_limit = 8;
  tp->has_initial_scid = true;
  tp->initial_scid.len = 0; /* zero-length ids are legal */
  tp->has_retry_scid = true;
  tp->retry_scid.len = 20;
  memset(tp->retry_scid.data, 0x77, 20);
  tp->max_datagram_frame_size = 65535;
}

static void test_pq_tp_server_roundtrip(void) {
  pq_tp a, b;
  uint8_t buf[512];
  ssize_t n;
  fill_server(&a);
  n = pq_tp_encode(&a, true, buf, sizeof(buf), NULL);
  CHECK(n > 0);
  CHECK_INT(0, ==, pq_tp_decode(&b, true, buf, (size_t)n, NULL));
  b.seen = 0;
  a.seen = 0;
  CHECK_MEM(&a, &b, sizeof(a)); /* fill_server started from a zeroed struct */
  /* every shorter buffer: NOBUF */
  for (ssize_t k = 0; k < n; k++)
    CHECK_INT(PQ_ERR_NOBUF, ==, pq_tp_encode(&a, true, buf, (size_t)k, NULL));
}

static void test_pq_tp_defaults_not_sent(void) {
  pq_tp a, b;
  uint8_t buf[128];
  ssize_t n;
  pq_tp_default(&a);
  a.has_initial_scid = true;
  a.initial_scid.len = 1;
  a.initial_scid.data[0] = 0xab;
  n = pq_tp_encode(&a, false, buf, sizeof(buf), NULL);
  CHECK_INT(3, ==, n); /* only initial_source_connection_id: 0f 01 ab */
  CHECK_INT(0x0f, ==, buf[0]);
  CHECK_INT(0, ==, pq_tp_decode(&b, false, buf, (size_t)n, NULL));
  CHECK_INT(65527, ==, b.max_udp_payload_size);
  CHECK_INT(3, ==, b.ack_delay_exponent);
  CHECK_INT(25, ==, b.max_ack_delay);
  CHECK_INT(2, ==, b.active_connection_id_limit);
  CHECK_INT(0, ==, b.initial_max_data);
  CHECK(!b.disable_active_migration);
  CHECK_INT(0, ==, b.max_datagram_frame_size);
}

static void test_pq_tp_client_skips_server_only(void) {
  pq_tp a, b;
  uint8_t buf[512];
  ssize_t n;
  fill_server(&a);
  n = pq_tp_encode(&a, false, buf, sizeof(buf), NULL);
  CHECK(n > 0);
  CHECK_INT(0, ==, pq_tp_decode(&b, false, buf, (size_t)n, NULL));
  CHECK(!b.has_original_dcid);
  CHECK(!b.has_stateless_reset_token);
  CHECK(!b.has_preferred_address);
  CHECK(!b.has_retry_scid);
  CHECK_INT(100, ==, b.initial_max_streams_bidi);
}

/* Decodes a client's parameters made of initial_source_connection_id plus |extra|. */
static int decode_with(bool from_server, const uint8_t *extra, size_t len, pq_tp *out) {
  uint8_t buf[256];
  size_t n = 0;
  static const uint8_t scid[] = {0x0f, 0x00};
  static const uint8_t odcid[] = {0x00, 0x00};
  memcpy(buf, scid, 2);
  n = 2;
  if (from_server) {
    memcpy(buf + n, odcid, 2);
    n += 2;
  }
  memcpy(buf + n, extra, len);
  return pq_tp_decode(out, from_server, buf, n + len, NULL);
}

#define EXPECT_TPE(from_server, ...)                                                    \
  do {                                                                                 \
    static const uint8_t x_[] = {__VA_ARGS__};                                         \
    pq_tp t_;                                                                          \
    CHECK_INT(PQ_ERR_TRANSPORT_PARAMETER, ==, decode_with(from_server, x_, sizeof(x_), &t_)); \
  } while (0)

#define EXPECT_OK(from_server, ...)                                                     \
  do {                                                                                 \
    static const uint8_t x_[] = {__VA_ARGS__};                                         \
    pq_tp t_;                                                                          \
    CHECK_INT(0, ==, decode_with(from_server, x_, sizeof(x_), &t_));                   \
  } while (0)

static void test_pq_tp_value_ranges(void) {
  EXPECT_TPE(false, 0x03, 0x02, 0x44, 0xaf);       /* max_udp_payload_size 1199 */
  EXPECT_OK(false, 0x03, 0x02, 0x44, 0xb0);        /* 1200 */
  EXPECT_TPE(false, 0x0a, 0x01, 21);               /* ack_delay_exponent 21 */
  EXPECT_OK(false, 0x0a, 0x01, 20);
  EXPECT_TPE(false, 0x0b, 0x02, 0x80 | 0x00, 0x00); /* malformed length: 0x80 needs 4 */
  EXPECT_TPE(false, 0x0b, 0x04, 0x80, 0x00, 0x40, 0x00); /* max_ack_delay 2^14 */
  EXPECT_OK(false, 0x0b, 0x02, 0x7f, 0xff);        /* 2^14-1 */
  EXPECT_TPE(false, 0x0e, 0x01, 0x01);             /* active_connection_id_limit 1 */
  EXPECT_TPE(false, 0x0e, 0x01, 0x00);
  EXPECT_OK(false, 0x0e, 0x01, 0x02);
  /* initial_max_streams_bidi 2^60 + 1 */
  EXPECT_TPE(false, 0x08, 0x08, 0xd0, 0, 0, 0, 0, 0, 0, 1);
  EXPECT_OK(false, 0x08, 0x08, 0xd0, 0, 0, 0, 0, 0, 0, 0);
  EXPECT_TPE(false, 0x09, 0x08, 0xd0, 0, 0, 0, 0, 0, 0, 1);
  /* integer with trailing bytes, or an empty integer */
  EXPECT_TPE(false, 0x04, 0x02, 0x01, 0x00);
  EXPECT_TPE(false, 0x04, 0x00);
  /* disable_active_migration must be empty */
  EXPECT_TPE(false, 0x0c, 0x01, 0x00);
  EXPECT_OK(false, 0x0c, 0x00);
  /* connection id longer than 20 */
  EXPECT_TPE(true, 0x10, 21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  EXPECT_OK(true, 0x10, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
}

static void test_pq_tp_duplicates_and_truncation(void) {
  EXPECT_TPE(false, 0x04, 0x01, 0x05, 0x04, 0x01, 0x06); /* initial_max_data twice */
  EXPECT_TPE(false, 0x0f, 0x00);                         /* initial_scid twice */
  EXPECT_TPE(false, 0x04, 0x05, 0x01);                   /* length past the end */
  EXPECT_TPE(false, 0x04);                               /* no length */
  EXPECT_TPE(false, 0x40);                               /* truncated id */
  /* every prefix of a valid server encoding either fails or (at a parameter boundary)
   * parses to a subset: never crashes, never succeeds without its required ids */
  {
    pq_tp a, b;
    uint8_t buf[512];
    ssize_t n;
    fill_server(&a);
    n = pq_tp_encode(&a, true, buf, sizeof(buf), NULL);
    for (ssize_t k = 0; k < n; k++) {
      int rv = pq_tp_decode(&b, true, buf, (size_t)k, NULL);
      CHECK(rv == 0 || rv == PQ_ERR_TRANSPORT_PARAMETER);
    }
  }
}

static void test_pq_tp_server_only_from_client(void) {
  EXPECT_TPE(false, 0x00, 0x00);                                     /* original dcid */
  EXPECT_TPE(false, 0x02, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
  EXPECT_TPE(false, 0x10, 0x01, 0xaa);                               /* retry scid */
  EXPECT_OK(true, 0x02, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
  EXPECT_TPE(true, 0x02, 0x0f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

static void test_pq_tp_required_ids(void) {
  pq_tp t;
  static const uint8_t only_data[] = {0x04, 0x01, 0x05};
  static const uint8_t scid_only[] = {0x0f, 0x00};
  CHECK_INT(PQ_ERR_TRANSPORT_PARAMETER, ==, pq_tp_decode(&t, false, only_data, 3, NULL));
  CHECK_INT(0, ==, pq_tp_decode(&t, false, scid_only, 2, NULL));
  /* a server must echo original_destination_connection_id */
  CHECK_INT(PQ_ERR_TRANSPORT_PARAMETER, ==, pq_tp_decode(&t, true, scid_only, 2, NULL));
}

static void test_pq_tp_preferred_address_rules(void) {
  pq_tp a, b;
  uint8_t buf[512];
  ssize_t n;
  size_t i;
  fill_server(&a);
  a.has_retry_scid = false;
  n = pq_tp_encode(&a, true, buf, sizeof(buf), NULL);
  CHECK_INT(0, ==, pq_tp_decode(&b, true, buf, (size_t)n, NULL));
  CHECK_INT(4433, ==, b.preferred_address.ipv4_port);
  CHECK_INT(4, ==, b.preferred_address.cid.len);
  /* find the parameter (id 0x0d, length 45) and corrupt its cid length */
  for (i = 0; i + 1 < (size_t)n; i++)
    if (buf[i] == 0x0d && buf[i + 1] == 45) break;
  CHECK(i + 1 < (size_t)n);
  buf[i + 2 + 24] = 0; /* zero-length cid: forbidden */
  CHECK_INT(PQ_ERR_TRANSPORT_PARAMETER, ==, pq_tp_decode(&b, true, buf, (size_t)n, NULL));
  buf[i + 2 + 24] = 5; /* length disagrees with the parameter length */
  CHECK_INT(PQ_ERR_TRANSPORT_PARAMETER, ==, pq_tp_decode(&b, true, buf, (size_t)n, NULL));
  /* a well-formed preferred_address whose cid is empty (41 bytes) */
  {
    uint8_t v[2 + 41] = {0x0d, 41};
    pq_tp t;
    uint8_t w[2 + 42] = {0x0d, 42}; /* the same with a 1-byte cid: fine */
    CHECK_INT(PQ_ERR_TRANSPORT_PARAMETER, ==, decode_with(true, v, sizeof(v), &t));
    w[2 + 24] = 1;
    CHECK_INT(0, ==, decode_with(true, w, sizeof(w), &t));
  }
  /* encoding a zero-length preferred-address cid is refused */
  a.preferred_address.cid.len = 0;
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_tp_encode(&a, true, buf, sizeof(buf), NULL));
}

static void test_pq_tp_encode_rejects_bad_values(void) {
  pq_tp a;
  uint8_t buf[256];
  pq_tp_default(&a);
  a.ack_delay_exponent = 21;
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_tp_encode(&a, false, buf, sizeof(buf), NULL));
  pq_tp_default(&a);
  a.max_udp_payload_size = 1000;
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_tp_encode(&a, false, buf, sizeof(buf), NULL));
  pq_tp_default(&a);
  a.active_connection_id_limit = 1;
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_tp_encode(&a, false, buf, sizeof(buf), NULL));
  pq_tp_default(&a);
  a.has_initial_scid = true;
  a.initial_scid.len = 21;
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_tp_encode(&a, false, buf, sizeof(buf), NULL));
}

typedef struct seen_ids {
  uint64_t ids[8];
  size_t n;
  int fail_on; /* id to reject, -1 none */
} seen_ids;

static int record_unknown(void *user, uint64_t id, const uint8_t *val, size_t len) {
  seen_ids *s = user;
  if (s->n < 8) s->ids[s->n++] = id;
  return (int64_t)id == s->fail_on ? PQ_ERR_TRANSPORT_PARAMETER : 0;
}

static ssize_t write_plugin_param(void *user, uint8_t *buf, size_t len) {
  /* a plugin's parameter 0xaaaaaaaa = 7, and a GREASE id 31*5+27 = 182 */
  ssize_t a = pq_tp_write_int_param(buf, len, 0xaaaaaaaa, 7), b;
  if (a < 0) return a;
  b = pq_tp_write_param(buf + a, len - (size_t)a, 182, (const uint8_t *)"gr", 2);
  if (b < 0) return b;
  return a + b;
}

static void test_pq_tp_unknown_ids_and_hooks(void) {
  pq_tp a, b;
  uint8_t buf[256];
  seen_ids s = {.n = 0, .fail_on = -1};
  pq_tp_ext ext = {record_unknown, write_plugin_param, &s};
  ssize_t n;
  pq_tp_default(&a);
  a.has_initial_scid = true;
  a.initial_max_data = 1000;
  n = pq_tp_encode(&a, false, buf, sizeof(buf), &ext);
  CHECK(n > 0);
  /* without a hook: skipped */
  CHECK_INT(0, ==, pq_tp_decode(&b, false, buf, (size_t)n, NULL));
  CHECK_INT(1000, ==, b.initial_max_data);
  /* with the hook: both ids seen, in order */
  CHECK_INT(0, ==, pq_tp_decode(&b, false, buf, (size_t)n, &ext));
  CHECK_INT(2, ==, s.n);
  CHECK_INT(0xaaaaaaaa, ==, s.ids[0]);
  CHECK_INT(182, ==, s.ids[1]);
  CHECK(pq_tp_is_grease(182));
  CHECK(pq_tp_is_grease(27));
  CHECK(!pq_tp_is_grease(28));
  /* the hook's error is returned */
  s.n = 0;
  s.fail_on = 182;
  CHECK_INT(PQ_ERR_TRANSPORT_PARAMETER, ==, pq_tp_decode(&b, false, buf, (size_t)n, &ext));
  /* an unknown id with a known-looking duplicate is not our business */
  {
    static const uint8_t dup_unknown[] = {0x0f, 0x00, 0x21, 0x00, 0x21, 0x00};
    CHECK_INT(0, ==, pq_tp_decode(&b, false, dup_unknown, sizeof(dup_unknown), NULL));
  }
  /* the table */
  CHECK_STR("initial_max_data", pq_tp_def_get(PQ_TP_INITIAL_MAX_DATA)->name);
  CHECK(pq_tp_def_get(PQ_TP_PREFERRED_ADDRESS)->server_only);
  CHECK(!pq_tp_def_get(PQ_TP_INITIAL_SOURCE_CONNECTION_ID)->server_only);
  CHECK(pq_tp_def_get(0x11) == NULL);
  CHECK(pq_tp_def_get(0x20) != NULL);
  for (uint64_t id = 0; id < PQ_TP_TABLE_SIZE; id++)
    if (pq_tp_def_get(id)) CHECK_INT(id, ==, pq_tp_def_get(id)->id);
}

static void test_pq_tp_grease_is_skipped(void) {
  pq_tp t;
  uint8_t buf[256];
  size_t off = 0;
  buf[off++] = 0x0f;
  buf[off++] = 0x00;
  for (uint64_t seed = 1; seed < 200; seed += 7) {
    ssize_t n = pq_tp_write_grease(buf + off, sizeof(buf) - off, seed * 0x9e3779b97f4a7c15u);
    uint64_t id = 0;
    CHECK(n > 0);
    if (n <= 0) return;
    CHECK(pq_varint_read(buf + off, buf + off + n, &id) > 0);
    CHECK(pq_tp_is_grease(id));
    CHECK(pq_tp_def_get(id) == NULL);
    if (off + (size_t)n > 200) break;
    off += (size_t)n;
  }
  CHECK_INT(0, ==, pq_tp_decode(&t, false, buf, off, NULL));
  CHECK_INT(PQ_ERR_NOBUF, ==, pq_tp_write_grease(buf, 1, 12345));
}

static void test_pq_tp_0rtt_limits_cannot_shrink(void) {
  pq_tp r, n;
  fill_server(&r);
  n = r;
  CHECK_INT(0, ==, pq_tp_check_0rtt(&r, &n));
  n.initial_max_data++;
  n.max_idle_timeout = 1; /* not a 0-RTT limit */
  CHECK_INT(0, ==, pq_tp_check_0rtt(&r, &n));
  n = r;
  n.initial_max_stream_data_uni--;
  CHECK_INT(PQ_ERR_PROTOCOL_VIOLATION, ==, pq_tp_check_0rtt(&r, &n));
  n = r;
  n.initial_max_streams_bidi--;
  CHECK_INT(PQ_ERR_PROTOCOL_VIOLATION, ==, pq_tp_check_0rtt(&r, &n));
  n = r;
  n.max_datagram_frame_size = 0;
  CHECK_INT(PQ_ERR_PROTOCOL_VIOLATION, ==, pq_tp_check_0rtt(&r, &n));
  n = r;
  n.active_connection_id_limit = 2;
  CHECK_INT(PQ_ERR_PROTOCOL_VIOLATION, ==, pq_tp_check_0rtt(&r, &n));
}

int main(void) {
  RUN(test_pq_tp_server_roundtrip);
  RUN(test_pq_tp_defaults_not_sent);
  RUN(test_pq_tp_client_skips_server_only);
  RUN(test_pq_tp_value_ranges);
  RUN(test_pq_tp_duplicates_and_truncation);
  RUN(test_pq_tp_server_only_from_client);
  RUN(test_pq_tp_required_ids);
  RUN(test_pq_tp_preferred_address_rules);
  RUN(test_pq_tp_encode_rejects_bad_values);
  RUN(test_pq_tp_unknown_ids_and_hooks);
  RUN(test_pq_tp_grease_is_skipped);
  RUN(test_pq_tp_0rtt_limits_cannot_shrink);
  return test_report();
}
