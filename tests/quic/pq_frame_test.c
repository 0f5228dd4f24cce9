/*
 * pq_frame_test.c: frame codec: round trips for every type, known encodings, every
 * truncation, malformed and out-of-range fields, writer errors, the frame table.
 */
#include <stdlib.h>

#include "pq_frame.h"
#include "pq_varint.h"
#include "test.h"

static const uint8_t token16[16] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                    0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};
static const uint8_t cid8[8] = {1, 2, 3, 4, 5, 6, 7, 8};
static const uint8_t payload[] = "hello, quic";

/* Writes |f|, checks the length against wire_len, parses it back into |out|, writes
 * that again and checks the bytes are identical. Returns the encoded length (0 on
 * failure); the bytes stay in |buf|. */
static size_t roundtrip(const pq_frame *f, pq_frame *out, uint8_t *buf, size_t cap) {
  uint8_t again[512];
  size_t wl = pq_frame_wire_len(f);
  ssize_t n = pq_frame_write(f, buf, cap);
  CHECK(wl > 0);
  CHECK_INT(wl, ==, n);
  if (n <= 0) return 0;
  CHECK_INT(n, ==, pq_frame_parse(out, buf, (size_t)n));
  CHECK_INT(f->type, ==, out->type);
  CHECK_INT(n, ==, pq_frame_wire_len(out));
  CHECK_INT(n, ==, pq_frame_write(out, again, sizeof(again)));
  CHECK_MEM(buf, again, (size_t)n);
  /* Every shorter output buffer: NOBUF. */
  for (size_t k = 0; k < (size_t)n; k++) CHECK_INT(PQ_ERR_NOBUF, ==, pq_frame_write(f, again, k));
  return (size_t)n;
}

/* Every strict prefix of an encoding must fail to parse as FRAME_ENCODING_ERROR. */
static void check_truncations(const uint8_t *buf, size_t n) {
  pq_frame f;
  for (size_t k = 1; k < n; k++) {
    ssize_t rv = pq_frame_parse(&f, buf, k);
    if (rv != PQ_ERR_FRAME_ENCODING)
      fprintf(stderr, "  truncation at %zu of %zu gave %zd\n", k, n, rv);
    CHECK_INT(PQ_ERR_FRAME_ENCODING, ==, rv);
  }
}

static void test_pq_frame_ping_handshake_done_roundtrip(void) {
  pq_frame f = {.type = PQ_FT_PING}, g;
  uint8_t buf[64];
  CHECK_INT(1, ==, roundtrip(&f, &g, buf, sizeof(buf)));
  CHECK_INT(0x01, ==, buf[0]);
  f.type = PQ_FT_HANDSHAKE_DONE;
  CHECK_INT(1, ==, roundtrip(&f, &g, buf, sizeof(buf)));
  CHECK_INT(0x1e, ==, buf[0]);
}

static void test_pq_frame_padding_coalesces(void) {
  uint8_t buf[32] = {0};
  pq_frame f = {.type = PQ_FT_PADDING, .u.padding.len = 7}, g;
  CHECK_INT(7, ==, roundtrip(&f, &g, buf, sizeof(buf)));
  CHECK_INT(7, ==, g.u.padding.len);
  /* Padding followed by PING: the run stops at the PING. */
  memset(buf, 0, sizeof(buf));
  buf[5] = PQ_FT_PING;
  CHECK_INT(5, ==, pq_frame_parse(&g, buf, 10));
  CHECK_INT(5, ==, g.u.padding.len);
  CHECK_INT(1, ==, pq_frame_parse(&g, buf + 5, 5));
  CHECK_INT(PQ_FT_PING, ==, g.type);
}

static void test_pq_frame_ack_known_encoding(void) {
  /* Packets 0-2 and 5-10 received: largest 10, first range 5, one gap of 1
   * (packets 4,3), then a range of length 2 (packets 2..0). */
  static const uint8_t want[] = {0x02, 0x0a, 0x00, 0x01, 0x05, 0x01, 0x02};
  pq_range r[2] = {{0, 3}, {5, 11}};
  pq_frame f = {.type = PQ_FT_ACK}, g;
  pq_ack_iter it;
  uint64_t lo, hi;
  uint8_t buf[64];
  f.u.ack.ranges = r;
  f.u.ack.nranges = 2;
  CHECK_INT(sizeof(want), ==, roundtrip(&f, &g, buf, sizeof(buf)));
  CHECK_MEM(want, buf, sizeof(want));
  CHECK_INT(10, ==, g.u.ack.largest);
  CHECK_INT(1, ==, g.u.ack.range_count);
  pq_ack_iter_init(&it, &g.u.ack);
  CHECK(pq_ack_iter_next(&it, &lo, &hi));
  CHECK_INT(5, ==, lo);
  CHECK_INT(11, ==, hi);
  CHECK(pq_ack_iter_next(&it, &lo, &hi));
  CHECK_INT(0, ==, lo);
  CHECK_INT(3, ==, hi);
  CHECK(!pq_ack_iter_next(&it, &lo, &hi));
  check_truncations(buf, sizeof(want));
}

static void test_pq_frame_ack_ecn_roundtrip(void) {
  pq_range r[3] = {{1, 2}, {100, 200}, {1000, 70000}};
  pq_frame f = {.type = PQ_FT_ACK_ECN}, g;
  uint8_t buf[128];
  size_t n;
  f.u.ack.ranges = r;
  f.u.ack.nranges = 3;
  f.u.ack.ack_delay = 12345;
  f.u.ack.ecn = true;
  f.u.ack.ect0 = 7;
  f.u.ack.ect1 = 1u << 20;
  f.u.ack.ce = 3;
  n = roundtrip(&f, &g, buf, sizeof(buf));
  CHECK(n > 0);
  CHECK(g.u.ack.ecn);
  CHECK_INT(69999, ==, g.u.ack.largest);
  CHECK_INT(12345, ==, g.u.ack.ack_delay);
  CHECK_INT(7, ==, g.u.ack.ect0);
  CHECK_INT(1u << 20, ==, g.u.ack.ect1);
  CHECK_INT(3, ==, g.u.ack.ce);
  check_truncations(buf, n);
}

/* Random packet-number sets -> pq_ranges -> ACK -> parse -> iterate: same set. */
static void test_pq_frame_ack_random_ranges(void) {
  srand(12345);
  for (int iter = 0; iter < 200; iter++) {
    pq_ranges s;
    pq_frame f, g;
    pq_ack_iter it;
    uint8_t buf[4096];
    uint64_t lo, hi, pn = (uint64_t)(rand() % 3);
    size_t i, nr;
    ssize_t n;
    pq_ranges_init(&s, 0);
    for (int k = 0; k < 1 + rand() % 60; k++) {
      uint64_t len = 1 + (uint64_t)(rand() % 20);
      pq_ranges_add(&s, pn, pn + len);
      pn += len + 1 + (uint64_t)(rand() % (k % 5 == 4 ? 100000 : 5));
    }
    CHECK_INT(0, ==, pq_frame_ack_from_ranges(&f, &s, 0, (uint64_t)iter));
    n = pq_frame_write(&f, buf, sizeof(buf));
    CHECK(n > 0);
    CHECK_INT(n, ==, pq_frame_parse(&g, buf, (size_t)n));
    CHECK_INT(pq_ranges_max(&s), ==, g.u.ack.largest);
    nr = pq_ranges_count(&s);
    CHECK_INT(nr - 1, ==, g.u.ack.range_count);
    pq_ack_iter_init(&it, &g.u.ack);
    for (i = nr; i-- > 0;) {
      CHECK(pq_ack_iter_next(&it, &lo, &hi));
      CHECK_INT(pq_ranges_get(&s, i)->lo, ==, lo);
      CHECK_INT(pq_ranges_get(&s, i)->hi, ==, hi);
    }
    CHECK(!pq_ack_iter_next(&it, &lo, &hi));
    /* Only the 3 largest ranges. */
    CHECK_INT(0, ==, pq_frame_ack_from_ranges(&f, &s, 3, 0));
    n = pq_frame_write(&f, buf, sizeof(buf));
    CHECK_INT(n, ==, pq_frame_parse(&g, buf, (size_t)n));
    CHECK_INT(nr < 3 ? nr - 1 : 2, ==, g.u.ack.range_count);
    pq_ranges_free(&s);
  }
}

static void test_pq_frame_ack_malformed(void) {
  pq_frame g;
  /* first range larger than largest */
  static const uint8_t a1[] = {0x02, 0x05, 0x00, 0x00, 0x06};
  /* gap underflow: smallest 5, gap 4 -> next largest 5-4-2 = -1 */
  static const uint8_t a2[] = {0x02, 0x05, 0x00, 0x01, 0x00, 0x04, 0x00};
  /* range length underflow: next largest 0, length 1 */
  static const uint8_t a3[] = {0x02, 0x05, 0x00, 0x01, 0x00, 0x03, 0x01};
  /* boundary: next largest 0, length 0 is fine */
  static const uint8_t ok[] = {0x02, 0x05, 0x00, 0x01, 0x00, 0x03, 0x00};
  /* range count far beyond the bytes present */
  static const uint8_t a4[] = {0x02, 0x05, 0x00, 0xbf, 0xff, 0xff, 0xff, 0x00};
  /* smallest 0 (largest 0, first 0) and one more pair */
  static const uint8_t a5[] = {0x02, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00};
  /* ACK_ECN missing its counts */
  static const uint8_t a6[] = {0x03, 0x05, 0x00, 0x00, 0x00, 0x01, 0x01};
  CHECK_INT(PQ_ERR_FRAME_ENCODING, ==, pq_frame_parse(&g, a1, sizeof(a1)));
  CHECK_INT(PQ_ERR_FRAME_ENCODING, ==, pq_frame_parse(&g, a2, sizeof(a2)));
  CHECK_INT(PQ_ERR_FRAME_ENCODING, ==, pq_frame_parse(&g, a3, sizeof(a3)));
  CHECK_INT(sizeof(ok), ==, pq_frame_parse(&g, ok, sizeof(ok)));
  CHECK_INT(PQ_ERR_FRAME_ENCODING, ==, pq_frame_parse(&g, a4, sizeof(a4)));
  CHECK_INT(PQ_ERR_FRAME_ENCODING, ==, pq_frame_parse(&g, a5, sizeof(a5)));
  CHECK_INT(PQ_ERR_FRAME_ENCODING, ==, pq_frame_parse(&g, a6, sizeof(a6)));
}

static void test_pq_frame_ack_write_rejects_bad_ranges(void) {
  pq_range adjacent[2] = {{0, 5}, {5, 9}}, unordered[2] = {{10, 12}, {0, 3}},
           empty[1] = {{4, 4}};
  pq_frame f = {.type = PQ_FT_ACK};
  uint8_t buf[64];
  f.u.ack.ranges = adjacent;
  f.u.ack.nranges = 2;
  CHECK_INT(0, ==, pq_frame_wire_len(&f));
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_frame_write(&f, buf, sizeof(buf)));
  f.u.ack.ranges = unordered;
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_frame_write(&f, buf, sizeof(buf)));
  f.u.ack.ranges = empty;
  f.u.ack.nranges = 1;
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_frame_write(&f, buf, sizeof(buf)));
}

static void test_pq_frame_stream_known_encoding(void) {
  /* OFF|LEN, stream 4, offset 100 (2-byte varint), "abc" */
  static const uint8_t want[] = {0x0e, 0x04, 0x40, 0x64, 0x03, 'a', 'b', 'c'};
  pq_frame f = {.type = PQ_FT_STREAM}, g;
  uint8_t buf[64];
  f.u.stream.stream_id = 4;
  f.u.stream.offset = 100;
  f.u.stream.data = (const uint8_t *)"abc";
  f.u.stream.len = 3;
  f.u.stream.has_len = true;
  f.type = 0x0e;
  CHECK_INT(sizeof(want), ==, roundtrip(&f, &g, buf, sizeof(buf)));
  CHECK_MEM(want, buf, sizeof(want));
  CHECK(g.u.stream.data == buf + 5); /* zero-copy */
  check_truncations(buf, sizeof(want));
}

static void test_pq_frame_stream_all_bit_combinations(void) {
  for (unsigned bits = 0; bits < 8; bits++) {
    pq_frame f = {.type = PQ_FT_STREAM | bits}, g;
    uint8_t buf[64];
    size_t n;
    f.u.stream.stream_id = 0x3fff;
    f.u.stream.offset = (bits & PQ_STREAM_OFF_BIT) ? 1000000 : 0;
    f.u.stream.data = payload;
    f.u.stream.len = sizeof(payload);
    f.u.stream.fin = bits & PQ_STREAM_FIN_BIT;
    f.u.stream.has_len = bits & PQ_STREAM_LEN_BIT;
    n = roundtrip(&f, &g, buf, sizeof(buf));
    CHECK_INT(PQ_FT_STREAM | bits, ==, buf[0]);
    CHECK_INT(f.u.stream.offset, ==, g.u.stream.offset);
    CHECK_INT(sizeof(payload), ==, g.u.stream.len);
    CHECK_INT(f.u.stream.fin, ==, g.u.stream.fin);
    CHECK_MEM(payload, g.u.stream.data, sizeof(payload));
    if (bits & PQ_STREAM_LEN_BIT) check_truncations(buf, n);
  }
}

static void test_pq_frame_stream_offset_limit(void) {
  pq_frame g;
  uint8_t buf[32], *p = buf;
  /* OFF, no LEN: offset 2^62-1 with 1 byte of data -> end 2^62 */
  *p++ = 0x0c;
  *p++ = 0x00;
  p = pq_varint_write(p, PQ_VARINT_MAX);
  *p++ = 'x';
  CHECK_INT(PQ_ERR_FRAME_ENCODING, ==, pq_frame_parse(&g, buf, (size_t)(p - buf)));
  /* Same with no data: end 2^62-1 is fine */
  CHECK_INT(p - buf - 1, ==, pq_frame_parse(&g, buf, (size_t)(p - buf - 1)));
  /* OFF|LEN: offset 2^62-2, length 2 */
  p = buf;
  *p++ = 0x0e;
  *p++ = 0x00;
  p = pq_varint_write(p, PQ_VARINT_MAX - 1);
  *p++ = 0x02;
  *p++ = 'x';
  *p++ = 'y';
  CHECK_INT(PQ_ERR_FRAME_ENCODING, ==, pq_frame_parse(&g, buf, (size_t)(p - buf)));
  /* Writers refuse too. */
  CHECK_INT(0, ==, pq_frame_stream_header_len(0, PQ_VARINT_MAX - 1, 2, true));
  CHECK_INT(PQ_ERR_INVALID_ARG, ==,
            pq_frame_stream_header_write(buf, sizeof(buf), 0, PQ_VARINT_MAX - 1, 2, 0, 1));
  /* LEN larger than what follows */
  p = buf;
  *p++ = 0x0a;
  *p++ = 0x00;
  *p++ = 0x05;
  *p++ = 'a';
  CHECK_INT(PQ_ERR_FRAME_ENCODING, ==, pq_frame_parse(&g, buf, (size_t)(p - buf)));
}

static void test_pq_frame_stream_fit(void) {
  for (size_t room = 0; room < 20000; room += (room < 100 ? 1 : 97)) {
    for (int has_len = 0; has_len < 2; has_len++) {
      uint64_t fit = pq_frame_stream_fit(8, 70000, room, 1u << 20, has_len);
      if (fit) {
        size_t h = pq_frame_stream_header_len(8, 70000, fit, has_len);
        CHECK(h + fit <= room);
        CHECK(h + fit + 2 >= room); /* at most a length byte wasted */
      } else {
        CHECK(room <= 1 + 1 + 4 + (has_len ? 1 : 0));
      }
    }
  }
  /* Wanting little: exactly what is asked. */
  CHECK_INT(10, ==, pq_frame_stream_fit(0, 0, 1200, 10, true));
}

static void test_pq_frame_stream_header_write_matches_frame(void) {
  pq_frame f = {.type = PQ_FT_STREAM | 7};
  uint8_t a[64], b[64];
  ssize_t h;
  f.u.stream.stream_id = 17;
  f.u.stream.offset = 99999;
  f.u.stream.data = payload;
  f.u.stream.len = 5;
  f.u.stream.fin = true;
  f.u.stream.has_len = true;
  CHECK_INT(pq_frame_wire_len(&f), ==, pq_frame_write(&f, a, sizeof(a)));
  h = pq_frame_stream_header_write(b, sizeof(b), 17, 99999, 5, true, true);
  CHECK(h > 0);
  memcpy(b + h, payload, 5);
  CHECK_MEM(a, b, (size_t)h + 5);
  CHECK_INT(PQ_ERR_NOBUF, ==, pq_frame_stream_header_write(b, (size_t)h - 1, 17, 99999, 5,
                                                           true, true));
}

static void test_pq_frame_crypto_roundtrip(void) {
  pq_frame f = {.type = PQ_FT_CRYPTO}, g;
  uint8_t buf[64];
  size_t n;
  f.u.crypto.offset = 1234;
  f.u.crypto.data = payload;
  f.u.crypto.len = 5;
  n = roundtrip(&f, &g, buf, sizeof(buf));
  CHECK_INT(1234, ==, g.u.crypto.offset);
  CHECK_INT(5, ==, g.u.crypto.len);
  CHECK_MEM(payload, g.u.crypto.data, 5);
  check_truncations(buf, n);
  /* offset + length beyond 2^62-1 */
  {
    uint8_t b[32], *p = b;
    *p++ = 0x06;
    p = pq_varint_write(p, PQ_VARINT_MAX);
    *p++ = 1;
    *p++ = 'z';
    CHECK_INT(PQ_ERR_FRAME_ENCODING, ==, pq_frame_parse(&g, b, (size_t)(p - b)));
  }
}

static void test_pq_frame_reset_stop_roundtrip(void) {
  pq_frame f = {.type = PQ_FT_RESET_STREAM}, g;
  uint8_t buf[64];
  size_t n;
  f.u.reset_stream.stream_id = 7;
  f.u.reset_stream.app_error = 0x1234567;
  f.u.reset_stream.final_size = PQ_VARINT_MAX;
  n = roundtrip(&f, &g, buf, sizeof(buf));
  CHECK_INT(7, ==, g.u.reset_stream.stream_id);
  CHECK_INT(0x1234567, ==, g.u.reset_stream.app_error);
  CHECK(g.u.reset_stream.final_size == PQ_VARINT_MAX);
  check_truncations(buf, n);
  f.type = PQ_FT_STOP_SENDING;
  f.u.stop_sending.stream_id = 11;
  f.u.stop_sending.app_error = 0x100;
  n = roundtrip(&f, &g, buf, sizeof(buf));
  CHECK_INT(11, ==, g.u.stop_sending.stream_id);
  CHECK_INT(0x100, ==, g.u.stop_sending.app_error);
  check_truncations(buf, n);
  /* a value above 2^62-1 cannot be written */
  f.u.stop_sending.app_error = PQ_VARINT_MAX + 1;
  CHECK_INT(0, ==, pq_frame_wire_len(&f));
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_frame_write(&f, buf, sizeof(buf)));
}

static void test_pq_frame_new_token(void) {
  pq_frame f = {.type = PQ_FT_NEW_TOKEN}, g;
  uint8_t buf[64];
  static const uint8_t empty[] = {0x07, 0x00};
  size_t n;
  f.u.new_token.token = token16;
  f.u.new_token.len = 16;
  n = roundtrip(&f, &g, buf, sizeof(buf));
  CHECK_INT(16, ==, g.u.new_token.len);
  CHECK_MEM(token16, g.u.new_token.token, 16);
  check_truncations(buf, n);
  CHECK_INT(PQ_ERR_FRAME_ENCODING, ==, pq_frame_parse(&g, empty, sizeof(empty)));
  f.u.new_token.len = 0;
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_frame_write(&f, buf, sizeof(buf)));
}

static void test_pq_frame_single_value_frames(void) {
  static const uint64_t types[] = {PQ_FT_MAX_DATA,           PQ_FT_MAX_STREAMS_BIDI,
                                   PQ_FT_MAX_STREAMS_UNI,    PQ_FT_DATA_BLOCKED,
                                   PQ_FT_STREAMS_BLOCKED_BIDI, PQ_FT_STREAMS_BLOCKED_UNI,
                                   PQ_FT_RETIRE_CONNECTION_ID};
  static const uint64_t values[] = {0, 63, 64, 16383, 16384, (1u << 30) - 1, 1u << 30,
                                    UINT64_C(1) << 60};
  for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
    for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
      pq_frame f = {.type = types[t]}, g;
      uint8_t buf[32];
      size_t n;
      f.u.max_data.value = values[v];
      n = roundtrip(&f, &g, buf, sizeof(buf));
      CHECK_INT(1 + pq_varint_len(values[v]), ==, n);
      CHECK(values[v] == g.u.max_data.value);
      check_truncations(buf, n);
    }
  }
}

static void test_pq_frame_max_data_known_encoding(void) {
  static const uint8_t want[] = {0x10, 0x80, 0x00, 0x40, 0x00}; /* MAX_DATA 16384 */
  pq_frame f = {.type = PQ_FT_MAX_DATA}, g;
  uint8_t buf[16];
  f.u.max_data.value = 16384;
  CHECK_INT(5, ==, roundtrip(&f, &g, buf, sizeof(buf)));
  CHECK_MEM(want, buf, 5);
}

static void test_pq_frame_max_streams_limit(void) {
  static const uint64_t types[] = {PQ_FT_MAX_STREAMS_BIDI, PQ_FT_MAX_STREAMS_UNI,
                                   PQ_FT_STREAMS_BLOCKED_BIDI, PQ_FT_STREAMS_BLOCKED_UNI};
  for (size_t t = 0; t < 4; t++) {
    uint8_t buf[16], *p = buf;
    pq_frame g;
    *p++ = (uint8_t)types[t];
    p = pq_varint_write(p, (UINT64_C(1) << 60) + 1);
    CHECK_INT(PQ_ERR_FRAME_ENCODING, ==, pq_frame_parse(&g, buf, (size_t)(p - buf)));
  }
  /* MAX_DATA has no such limit */
  {
    uint8_t buf[16], *p = buf;
    pq_frame g;
    *p++ = PQ_FT_MAX_DATA;
    p = pq_varint_write(p, (UINT64_C(1) << 60) + 1);
    CHECK_INT(p - buf, ==, pq_frame_parse(&g, buf, (size_t)(p - buf)));
  }
}

static void test_pq_frame_two_value_frames(void) {
  static const uint64_t types[] = {PQ_FT_MAX_STREAM_DATA, PQ_FT_STREAM_DATA_BLOCKED};
  for (size_t t = 0; t < 2; t++) {
    pq_frame f = {.type = types[t]}, g;
    uint8_t buf[32];
    size_t n;
    f.u.max_stream_data.stream_id = 0x3fffffff;
    f.u.max_stream_data.value = PQ_VARINT_MAX;
    n = roundtrip(&f, &g, buf, sizeof(buf));
    CHECK_INT(1 + 4 + 8, ==, n);
    CHECK_INT(0x3fffffff, ==, g.u.max_stream_data.stream_id);
    CHECK(g.u.max_stream_data.value == PQ_VARINT_MAX);
    check_truncations(buf, n);
  }
}

static void test_pq_frame_new_connection_id(void) {
  pq_frame f = {.type = PQ_FT_NEW_CONNECTION_ID}, g;
  uint8_t buf[64];
  size_t n;
  f.u.new_cid.seq = 5;
  f.u.new_cid.retire_prior_to = 3;
  f.u.new_cid.cid_len = 8;
  f.u.new_cid.cid = cid8;
  f.u.new_cid.reset_token = token16;
  n = roundtrip(&f, &g, buf, sizeof(buf));
  CHECK_INT(1 + 1 + 1 + 1 + 8 + 16, ==, n);
  CHECK_INT(5, ==, g.u.new_cid.seq);
  CHECK_INT(3, ==, g.u.new_cid.retire_prior_to);
  CHECK_INT(8, ==, g.u.new_cid.cid_len);
  CHECK_MEM(cid8, g.u.new_cid.cid, 8);
  CHECK_MEM(token16, g.u.new_cid.reset_token, 16);
  check_truncations(buf, n);
  /* length 0, length 21, retire_prior_to > seq */
  buf[3] = 0;
  CHECK_INT(PQ_ERR_FRAME_ENCODING, ==, pq_frame_parse(&g, buf, n));
  buf[3] = 21;
  CHECK_INT(PQ_ERR_FRAME_ENCODING, ==, pq_frame_parse(&g, buf, sizeof(buf)));
  buf[3] = 8;
  buf[2] = 6;
  CHECK_INT(PQ_ERR_FRAME_ENCODING, ==, pq_frame_parse(&g, buf, n));
  buf[2] = 5; /* retire_prior_to == seq is fine */
  CHECK_INT(n, ==, pq_frame_parse(&g, buf, n));
  /* writers refuse the same */
  f.u.new_cid.cid_len = 0;
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_frame_write(&f, buf, sizeof(buf)));
  f.u.new_cid.cid_len = 21;
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_frame_write(&f, buf, sizeof(buf)));
  f.u.new_cid.cid_len = 8;
  f.u.new_cid.retire_prior_to = 6;
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_frame_write(&f, buf, sizeof(buf)));
}

static void test_pq_frame_path_frames(void) {
  static const uint64_t types[] = {PQ_FT_PATH_CHALLENGE, PQ_FT_PATH_RESPONSE};
  for (size_t t = 0; t < 2; t++) {
    pq_frame f = {.type = types[t]}, g;
    uint8_t buf[16];
    memcpy(f.u.path.data, cid8, 8);
    CHECK_INT(9, ==, roundtrip(&f, &g, buf, sizeof(buf)));
    CHECK_MEM(cid8, g.u.path.data, 8);
    check_truncations(buf, 9);
  }
}

static void test_pq_frame_connection_close(void) {
  static const uint8_t want[] = {0x1c, 0x0a, 0x08, 0x03, 'b', 'a', 'd'};
  pq_frame f = {.type = PQ_FT_CONNECTION_CLOSE}, g;
  uint8_t buf[64];
  size_t n;
  f.u.close.error_code = PQ_TE_PROTOCOL_VIOLATION;
  f.u.close.frame_type = PQ_FT_STREAM;
  f.u.close.reason = (const uint8_t *)"bad";
  f.u.close.reason_len = 3;
  CHECK_INT(sizeof(want), ==, roundtrip(&f, &g, buf, sizeof(buf)));
  CHECK_MEM(want, buf, sizeof(want));
  check_truncations(buf, sizeof(want));
  f.type = PQ_FT_CONNECTION_CLOSE_APP;
  f.u.close.error_code = 0x1234;
  n = roundtrip(&f, &g, buf, sizeof(buf));
  CHECK_INT(1 + 2 + 1 + 3, ==, n); /* no frame type field */
  CHECK_INT(0x1234, ==, g.u.close.error_code);
  CHECK_MEM("bad", g.u.close.reason, 3);
  check_truncations(buf, n);
}

static void test_pq_frame_datagram(void) {
  pq_frame f = {.type = PQ_FT_DATAGRAM_LEN}, g;
  uint8_t buf[64];
  size_t n;
  f.u.datagram.data = payload;
  f.u.datagram.len = 4;
  f.u.datagram.has_len = true;
  n = roundtrip(&f, &g, buf, sizeof(buf));
  CHECK_INT(1 + 1 + 4, ==, n);
  CHECK(g.u.datagram.has_len);
  check_truncations(buf, n);
  f.type = PQ_FT_DATAGRAM;
  f.u.datagram.has_len = false;
  n = roundtrip(&f, &g, buf, sizeof(buf));
  CHECK_INT(1 + 4, ==, n);
  CHECK_INT(4, ==, g.u.datagram.len);
  CHECK_MEM(payload, g.u.datagram.data, 4);
}

static void test_pq_frame_type_errors(void) {
  static const uint8_t unknown[] = {0x1f};
  static const uint8_t long_ping[] = {0x40, 0x01};   /* PING in two bytes */
  static const uint8_t big_unknown[] = {0x80, 0x00, 0xff, 0xff};
  static const uint8_t short_type[] = {0x40};
  pq_frame g;
  uint64_t t;
  CHECK_INT(PQ_ERR_FRAME_ENCODING, ==, pq_frame_parse(&g, unknown, 1));
  CHECK_INT(PQ_ERR_PROTOCOL_VIOLATION, ==, pq_frame_parse(&g, long_ping, 2));
  CHECK_INT(PQ_ERR_FRAME_ENCODING, ==, pq_frame_parse(&g, big_unknown, 4));
  CHECK_INT(PQ_ERR_FRAME_ENCODING, ==, pq_frame_parse(&g, short_type, 1));
  CHECK_INT(PQ_ERR_FRAME_ENCODING, ==, pq_frame_parse(&g, short_type, 0));
  CHECK_INT(4, ==, pq_frame_read_type(big_unknown, 4, &t));
  CHECK_INT(0xffff, ==, t);
  CHECK_INT(PQ_TE_FRAME_ENCODING_ERROR, ==, pq_err_transport_code(PQ_ERR_FRAME_ENCODING));
  CHECK_INT(PQ_TE_PROTOCOL_VIOLATION, ==, pq_err_transport_code(PQ_ERR_PROTOCOL_VIOLATION));
  CHECK_INT(PQ_TE_INTERNAL_ERROR, ==, pq_err_transport_code(PQ_ERR_NOMEM));
  CHECK(!pq_err_is_transport(PQ_ERR_NOMEM));
  CHECK_STR("FRAME_ENCODING_ERROR", pq_transport_error_name(7));
  CHECK_STR("CRYPTO_ERROR", pq_transport_error_name(0x12a));
  g.type = 0x42;
  CHECK_INT(0, ==, pq_frame_wire_len(&g));
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_frame_write(&g, (uint8_t *)&t, 8));
}

static void test_pq_frame_table_flags(void) {
  /* Table 3: ACK, PADDING, CONNECTION_CLOSE are not ack-eliciting; only ACK is not
   * counted in flight; probing frames; packet types. */
  CHECK(!(pq_frame_flags(PQ_FT_ACK) & PQ_FRAME_F_ACK_ELICITING));
  CHECK(!(pq_frame_flags(PQ_FT_ACK) & PQ_FRAME_F_IN_FLIGHT));
  CHECK(!(pq_frame_flags(PQ_FT_PADDING) & PQ_FRAME_F_ACK_ELICITING));
  CHECK(pq_frame_flags(PQ_FT_PADDING) & PQ_FRAME_F_IN_FLIGHT);
  CHECK(!(pq_frame_flags(PQ_FT_CONNECTION_CLOSE) & PQ_FRAME_F_ACK_ELICITING));
  CHECK(pq_frame_flags(PQ_FT_PING) & PQ_FRAME_F_ACK_ELICITING);
  CHECK(pq_frame_flags(PQ_FT_PATH_CHALLENGE) & PQ_FRAME_F_PROBING);
  CHECK(pq_frame_flags(PQ_FT_NEW_CONNECTION_ID) & PQ_FRAME_F_PROBING);
  CHECK(!(pq_frame_flags(PQ_FT_STREAM) & PQ_FRAME_F_PROBING));
  for (unsigned t = 0x08; t <= 0x0f; t++) {
    CHECK_STR("STREAM", pq_frame_ops_get(t)->name);
    CHECK(pq_frame_flags(t) & PQ_FRAME_F_FLOW_CONTROLLED);
  }
  CHECK_INT(0, ==, pq_frame_check_packet(PQ_FT_CRYPTO, PQ_PKT_MASK_INITIAL));
  CHECK_INT(PQ_ERR_PROTOCOL_VIOLATION, ==, pq_frame_check_packet(PQ_FT_CRYPTO, PQ_PKT_MASK_0RTT));
  CHECK_INT(PQ_ERR_PROTOCOL_VIOLATION, ==, pq_frame_check_packet(PQ_FT_ACK, PQ_PKT_MASK_0RTT));
  CHECK_INT(PQ_ERR_PROTOCOL_VIOLATION, ==,
            pq_frame_check_packet(PQ_FT_STREAM, PQ_PKT_MASK_HANDSHAKE));
  CHECK_INT(PQ_ERR_PROTOCOL_VIOLATION, ==,
            pq_frame_check_packet(PQ_FT_PATH_RESPONSE, PQ_PKT_MASK_0RTT));
  CHECK_INT(PQ_ERR_PROTOCOL_VIOLATION, ==,
            pq_frame_check_packet(PQ_FT_NEW_TOKEN, PQ_PKT_MASK_0RTT));
  CHECK_INT(PQ_ERR_PROTOCOL_VIOLATION, ==,
            pq_frame_check_packet(PQ_FT_HANDSHAKE_DONE, PQ_PKT_MASK_HANDSHAKE));
  CHECK_INT(0, ==, pq_frame_check_packet(PQ_FT_CONNECTION_CLOSE, PQ_PKT_MASK_INITIAL));
  CHECK_INT(PQ_ERR_PROTOCOL_VIOLATION, ==,
            pq_frame_check_packet(PQ_FT_CONNECTION_CLOSE_APP, PQ_PKT_MASK_INITIAL));
  CHECK_INT(0, ==, pq_frame_check_packet(PQ_FT_PADDING, PQ_PKT_MASK_HANDSHAKE));
  CHECK_INT(PQ_ERR_FRAME_ENCODING, ==, pq_frame_check_packet(0x1f, PQ_PKT_MASK_1RTT));
  CHECK(pq_frame_ops_get(0x1f) == NULL);
  CHECK(pq_frame_ops_get(0x2f) == NULL);
  CHECK(pq_frame_ops_get(0x32) == NULL);
  CHECK(pq_frame_ops_get(UINT64_MAX) == NULL);
  /* Every defined type has all its functions. */
  for (unsigned t = 0; t < PQ_FT_TABLE_SIZE; t++) {
    const pq_frame_ops *o = pq_frame_ops_get(t);
    if (o) CHECK(o->parse && o->write && o->wire_len && o->pkt_mask);
  }
}

/* A packet with several frames parses frame after frame to the end. */
static void test_pq_frame_packet_sequence(void) {
  uint8_t pkt[256];
  size_t off = 0, count = 0;
  pq_frame f = {.type = PQ_FT_PING}, g;
  pq_range r = {0, 4};
  off += (size_t)pq_frame_write(&f, pkt + off, sizeof(pkt) - off);
  pq_frame_ack_from_ranges(&f, &(pq_ranges){&r, 1, 1, 0}, 0, 5);
  off += (size_t)pq_frame_write(&f, pkt + off, sizeof(pkt) - off);
  memset(&f, 0, sizeof(f));
  f.type = PQ_FT_STREAM;
  f.u.stream.stream_id = 0;
  f.u.stream.data = payload;
  f.u.stream.len = 4;
  f.u.stream.has_len = false; /* last frame: runs to the end */
  off += (size_t)pq_frame_write(&f, pkt + off, sizeof(pkt) - off);
  for (size_t p = 0; p < off; count++) {
    ssize_t n = pq_frame_parse(&g, pkt + p, off - p);
    CHECK(n > 0);
    if (n <= 0) break;
    p += (size_t)n;
  }
  CHECK_INT(3, ==, count);
  CHECK_INT(4, ==, g.u.stream.len);
}

int main(void) {
  RUN(test_pq_frame_ping_handshake_done_roundtrip);
  RUN(test_pq_frame_padding_coalesces);
  RUN(test_pq_frame_ack_known_encoding);
  RUN(test_pq_frame_ack_ecn_roundtrip);
  RUN(test_pq_frame_ack_random_ranges);
  RUN(test_pq_frame_ack_malformed);
  RUN(test_pq_frame_ack_write_rejects_bad_ranges);
  RUN(test_pq_frame_stream_known_encoding);
  RUN(test_pq_frame_stream_all_bit_combinations);
  RUN(test_pq_frame_stream_offset_limit);
  RUN(test_pq_frame_stream_fit);
  RUN(test_pq_frame_stream_header_write_matches_frame);
  RUN(test_pq_frame_crypto_roundtrip);
  RUN(test_pq_frame_reset_stop_roundtrip);
  RUN(test_pq_frame_new_token);
  RUN(test_pq_frame_single_value_frames);
  RUN(test_pq_frame_max_data_known_encoding);
  RUN(test_pq_frame_max_streams_limit);
  RUN(test_pq_frame_two_value_frames);
  RUN(test_pq_frame_new_connection_id);
  RUN(test_pq_frame_path_frames);
  RUN(test_pq_frame_connection_close);
  RUN(test_pq_frame_datagram);
  RUN(test_pq_frame_type_errors);
  RUN(test_pq_frame_table_flags);
  RUN(test_pq_frame_packet_sequence);
  return test_report();
}
