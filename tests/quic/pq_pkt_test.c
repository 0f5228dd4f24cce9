/* pq_pkt_test.c: headers, packet numbers, whole-packet protection against RFC 9001
 * Appendix A, coalescing, Version Negotiation, Retry, Stateless Reset, malformed input. */
#include "pq_pkt.h"
#include "pq_rfc9001_vectors.h"
#include "test.h"

static uint8_t a1_dcid[8];
static const uint8_t a3_scid[8] = {0xf0, 0x67, 0xa5, 0x50, 0x2a, 0x42, 0x62, 0xb5};

/* Builds the A.2 client Initial with pq_pkt: must equal the RFC bytes. */
static void test_pq_pkt_build_client_initial_rfc9001(void) {
  static uint8_t buf[1200], want[1200];
  pq_keys tx, rx;
  pq_pkt_hdr h;
  CHECK_INT(0, ==, pq_keys_init_initial(&tx, &rx, PQ_VERSION_1, a1_dcid, 8, 0));
  pq_pkt_build b = {.type = PQ_PKT_INITIAL, .version = PQ_VERSION_1, .dcid = a1_dcid,
                    .dcid_len = 8, .pn = 2, .pn_len = 4};
  CHECK_INT(22, ==, pq_pkt_write_header(buf, sizeof(buf), &b, &h));
  size_t n = vec_unhex(A2_CRYPTO, buf + 22, sizeof(buf) - 22);
  memset(buf + 22 + n, 0, A2_PAYLOAD_LEN - n);
  CHECK_INT(1200, ==, pq_pkt_seal(buf, sizeof(buf), &h, A2_PAYLOAD_LEN, &tx.aead, &tx.hp));
  vec_unhex(A2_PROTECTED, want, sizeof(want));
  CHECK_MEM(want, buf, 1200);
  pq_keys_free(&tx);
  pq_keys_free(&rx);
}

/* The server parses, unprotects and decrypts the A.2 packet. */
static void test_pq_pkt_open_client_initial_rfc9001(void) {
  static uint8_t buf[1200], crypto[300];
  pq_keys tx, rx;
  pq_pkt_hdr h;
  size_t len = vec_unhex(A2_PROTECTED, buf, sizeof(buf));
  CHECK_INT(0, ==, pq_pkt_parse(buf, len, 8, &h));
  CHECK_INT(PQ_PKT_INITIAL, ==, h.type);
  CHECK_INT(PQ_VERSION_1, ==, h.version);
  CHECK_INT(8, ==, h.dcid_len);
  CHECK_MEM(a1_dcid, h.dcid, 8);
  CHECK_INT(0, ==, h.scid_len);
  CHECK_INT(0, ==, h.token_len);
  CHECK_INT(18, ==, h.pn_offset);
  CHECK_INT(1200, ==, h.len);
  CHECK_INT(0, ==, pq_keys_init_initial(&tx, &rx, PQ_VERSION_1, h.dcid, h.dcid_len, 1));
  CHECK_INT(0, ==, pq_pkt_unprotect(buf, &h, &rx.hp, PQ_PN_NONE));
  CHECK_INT(4, ==, h.pn_len);
  CHECK_INT(2, ==, h.pn);
  CHECK_INT(22, ==, h.hdr_len);
  CHECK_INT(0, ==, h.reserved);
  CHECK_INT(0, ==, pq_pkt_decrypt(buf, &h, &rx.aead));
  CHECK_INT(A2_PAYLOAD_LEN, ==, h.payload_len);
  size_t n = vec_unhex(A2_CRYPTO, crypto, sizeof(crypto));
  CHECK_MEM(crypto, h.payload, n);
  /* Wrong direction's keys: authentication fails. */
  len = vec_unhex(A2_PROTECTED, buf, sizeof(buf));
  CHECK_INT(0, ==, pq_pkt_parse(buf, len, 8, &h));
  CHECK_INT(0, ==, pq_pkt_unprotect(buf, &h, &tx.hp, PQ_PN_NONE));
  CHECK_INT(PQ_ERR_DROP, ==, pq_pkt_decrypt(buf, &h, &tx.aead));
  pq_keys_free(&tx);
  pq_keys_free(&rx);
}

static void test_pq_pkt_server_initial_rfc9001(void) {
  static uint8_t buf[256], want[256], payload[128];
  pq_keys tx, rx;
  pq_pkt_hdr h;
  CHECK_INT(0, ==, pq_keys_init_initial(&tx, &rx, PQ_VERSION_1, a1_dcid, 8, 1));
  pq_pkt_build b = {.type = PQ_PKT_INITIAL, .version = PQ_VERSION_1, .scid = a3_scid,
                    .scid_len = 8, .pn = 1, .pn_len = 2};
  CHECK_INT(20, ==, pq_pkt_write_header(buf, sizeof(buf), &b, &h));
  size_t plen = vec_unhex(A3_PAYLOAD, payload, sizeof(payload));
  memcpy(buf + 20, payload, plen);
  size_t wlen = vec_unhex(A3_PROTECTED, want, sizeof(want));
  CHECK_INT(wlen, ==, pq_pkt_seal(buf, sizeof(buf), &h, plen, &tx.aead, &tx.hp));
  CHECK_MEM(want, buf, wlen);
  /* and the client opens it (largest pn so far: none) */
  pq_keys ctx, crx;
  CHECK_INT(0, ==, pq_keys_init_initial(&ctx, &crx, PQ_VERSION_1, a1_dcid, 8, 0));
  CHECK_INT(0, ==, pq_pkt_parse(buf, wlen, 8, &h));
  CHECK_INT(0, ==, h.dcid_len);
  CHECK_MEM(a3_scid, h.scid, 8);
  CHECK_INT(0, ==, pq_pkt_unprotect(buf, &h, &crx.hp, PQ_PN_NONE));
  CHECK_INT(1, ==, h.pn);
  CHECK_INT(0, ==, pq_pkt_decrypt(buf, &h, &crx.aead));
  CHECK_INT(plen, ==, h.payload_len);
  CHECK_MEM(payload, h.payload, plen);
  pq_keys_free(&tx);
  pq_keys_free(&rx);
  pq_keys_free(&ctx);
  pq_keys_free(&crx);
}

static void test_pq_pkt_chacha_short_header_rfc9001(void) {
  uint8_t secret[32], buf[64], want[32];
  pq_keys k;
  pq_pkt_hdr h;
  vec_unhex(A5_SECRET, secret, 32);
  CHECK_INT(0, ==, pq_keys_init(&k, PQ_AEAD_CHACHA20_POLY1305, secret, 32));
  pq_pkt_build b = {.type = PQ_PKT_1RTT, .pn = A5_PN, .pn_len = 3};
  CHECK_INT(4, ==, pq_pkt_write_header(buf, sizeof(buf), &b, &h));
  buf[4] = 0x01; /* PING */
  size_t wlen = vec_unhex(A5_PROTECTED, want, sizeof(want));
  CHECK_INT(wlen, ==, pq_pkt_seal(buf, sizeof(buf), &h, 1, &k.aead, &k.hp));
  CHECK_MEM(want, buf, wlen);
  CHECK_INT(0, ==, pq_pkt_parse(buf, wlen, 0, &h));
  CHECK_INT(PQ_PKT_1RTT, ==, h.type);
  CHECK_INT(0, ==, pq_pkt_unprotect(buf, &h, &k.hp, A5_PN - 1));
  CHECK_INT(A5_PN, ==, h.pn);
  CHECK_INT(3, ==, h.pn_len);
  CHECK_INT(0, ==, h.key_phase);
  CHECK_INT(0, ==, pq_pkt_decrypt(buf, &h, &k.aead));
  CHECK_INT(1, ==, h.payload_len);
  CHECK_INT(1, ==, h.payload[0]);
  pq_keys_free(&k);
}

static void test_pq_pkt_retry_rfc9001(void) {
  uint8_t buf[64], want[64];
  size_t wlen = vec_unhex(A4_RETRY, want, sizeof(want));
  int n = pq_pkt_write_retry(buf, sizeof(buf), PQ_VERSION_1, NULL, 0, a3_scid, 8,
                             (const uint8_t *)"token", 5, a1_dcid, 8, 0x0f);
  CHECK_INT(wlen, ==, n);
  CHECK_MEM(want, buf, wlen);
  pq_pkt_hdr h;
  CHECK_INT(0, ==, pq_pkt_parse(want, wlen, 8, &h));
  CHECK_INT(PQ_PKT_RETRY, ==, h.type);
  CHECK_INT(5, ==, h.token_len);
  CHECK_MEM("token", h.token, 5);
  CHECK_MEM(a3_scid, h.scid, 8);
  CHECK_INT(0, ==, pq_pkt_verify_retry(want, h.len, a1_dcid, 8));
  uint8_t other[8] = {0};
  CHECK_INT(PQ_ERR_DROP, ==, pq_pkt_verify_retry(want, h.len, other, 8));
  want[16] ^= 1;
  CHECK_INT(PQ_ERR_DROP, ==, pq_pkt_verify_retry(want, h.len, a1_dcid, 8));
  CHECK_INT(PQ_ERR_DROP, ==, pq_pkt_verify_retry(want, 10, a1_dcid, 8));
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_pkt_write_retry(buf, sizeof(buf), PQ_VERSION_1, NULL,
                                                       0, a3_scid, 8, NULL, 0, a1_dcid, 8, 0));
  CHECK_INT(PQ_ERR_NOBUF, ==, pq_pkt_write_retry(buf, 20, PQ_VERSION_1, NULL, 0, a3_scid, 8,
                                                 (const uint8_t *)"token", 5, a1_dcid, 8, 0));
}

/* RFC 9000 A.2 / A.3 examples, then a sweep of encode-then-decode. */
static void test_pq_pkt_pn_encode_decode(void) {
  CHECK_INT(0xa82f9b32, ==, pq_pkt_decode_pn(0xa82f30ea, 0x9b32, 16));
  CHECK_INT(2, ==, pq_pkt_pn_len(0xac5c02, 0xabe8b3));
  CHECK_INT(3, ==, pq_pkt_pn_len(0xace8fe, 0xabe8b3));
  CHECK_INT(1, ==, pq_pkt_pn_len(0, PQ_PN_NONE));
  CHECK_INT(4, ==, pq_pkt_pn_len(PQ_PN_MAX, 0));
  CHECK_INT(0, ==, pq_pkt_decode_pn(PQ_PN_NONE, 0, 8));
  CHECK_INT(255, ==, pq_pkt_decode_pn(0, 0xff, 8)); /* no wrap below 0 */
  CHECK_INT(256, ==, pq_pkt_decode_pn(250, 0x00, 8));
  int bad = 0;
  uint64_t bases[] = {0, 1, 100, 255, 256, 65535, 1u << 20, 0xabe8b3, 1ull << 40};
  for (size_t bi = 0; bi < sizeof(bases) / sizeof(bases[0]); bi++) {
    uint64_t acked = bases[bi];
    for (uint64_t d = 1; d < 100000; d += 97) {
      uint64_t pn = acked + d;
      size_t l = pq_pkt_pn_len(pn, acked);
      uint64_t trunc = pn & ((l == 4 ? 0xffffffffull : (1ull << (8 * l)) - 1));
      /* the receiver has processed anything up to pn - 1 and at least |acked| */
      if (pq_pkt_decode_pn(acked, trunc, 8 * l) != pn) bad++;
      if (pq_pkt_decode_pn(pn - 1, trunc, 8 * l) != pn) bad++;
    }
  }
  CHECK_INT(0, ==, bad);
}

/* Initial + Handshake + 1-RTT in one datagram, then trailing zero padding. */
static void test_pq_pkt_coalesced_split(void) {
  static uint8_t dg[1500];
  uint8_t dcid[5] = {1, 2, 3, 4, 5}, scid[3] = {9, 9, 9}, secret[32] = {7};
  pq_keys k;
  pq_pkt_hdr h, hs[8];
  size_t off = 0;
  CHECK_INT(0, ==, pq_keys_init(&k, PQ_AEAD_AES_128_GCM, secret, 32));
  pq_pkt_type types[3] = {PQ_PKT_INITIAL, PQ_PKT_HANDSHAKE, PQ_PKT_1RTT};
  size_t lens[3];
  for (int i = 0; i < 3; i++) {
    pq_pkt_build b = {.type = types[i], .version = PQ_VERSION_1, .dcid = dcid,
                      .dcid_len = 5, .scid = scid, .scid_len = 3,
                      .token = (const uint8_t *)"tk", .token_len = 2, .pn = (uint64_t)i,
                      .pn_len = 1};
    int hl = pq_pkt_write_header(dg + off, 400, &b, &h);
    CHECK_INT(0, <, hl);
    memset(dg + off + hl, 0x01, 50 + i); /* PINGs */
    int n = pq_pkt_seal(dg + off, 400, &h, 50 + i, &k.aead, &k.hp);
    CHECK_INT(0, <, n);
    lens[i] = (size_t)n;
    off += (size_t)n;
  }
  CHECK_INT(3, ==, pq_pkt_split(dg, off, 5, hs, 8));
  for (int i = 0; i < 3; i++) {
    CHECK_INT(types[i], ==, hs[i].type);
    CHECK_INT(lens[i], ==, hs[i].len);
  }
  CHECK_INT(2, ==, hs[0].token_len);
  /* each opens at its own offset */
  size_t at = 0;
  for (int i = 0; i < 3; i++) {
    CHECK_INT(0, ==, pq_pkt_unprotect(dg + at, &hs[i], &k.hp, PQ_PN_NONE));
    CHECK_INT(i, ==, hs[i].pn);
    CHECK_INT(0, ==, pq_pkt_decrypt(dg + at, &hs[i], &k.aead));
    CHECK_INT(50 + i, ==, hs[i].payload_len);
    at += hs[i].len;
  }
  /* Initial followed by zero padding: the padding is not a packet (fixed bit 0). */
  memset(dg + lens[0], 0, 100);
  CHECK_INT(1, ==, pq_pkt_split(dg, lens[0] + 100, 5, hs, 8));
  CHECK_INT(1, ==, pq_pkt_split(dg, off, 5, hs, 1)); /* max respected */
  pq_keys_free(&k);
}

static void test_pq_pkt_malformed_headers(void) {
  static uint8_t buf[1200];
  pq_pkt_hdr h;
  size_t len = vec_unhex(A2_PROTECTED, buf, sizeof(buf));
  CHECK_INT(PQ_ERR_DROP, ==, pq_pkt_parse(buf, 0, 8, &h));
  CHECK_INT(PQ_ERR_DROP, ==, pq_pkt_parse(NULL, 10, 8, &h));
  /* every truncation of a long header packet: Length points beyond the end */
  int ok = 0;
  for (size_t l = 1; l < len; l++) ok += pq_pkt_parse(buf, l, 8, &h) == 0;
  CHECK_INT(0, ==, ok);
  /* fixed bit cleared */
  buf[0] &= (uint8_t)~0x40;
  CHECK_INT(PQ_ERR_DROP, ==, pq_pkt_parse(buf, len, 8, &h));
  buf[0] |= 0x40;
  /* Length one byte beyond the datagram */
  buf[16] = 0x44, buf[17] = 0x9f;
  CHECK_INT(PQ_ERR_DROP, ==, pq_pkt_parse(buf, len, 8, &h));
  buf[17] = 0x9e;
  CHECK_INT(0, ==, pq_pkt_parse(buf, len, 8, &h));
  /* token length beyond the datagram */
  buf[15] = 0x7f; /* 2-byte varint 0x3f44 */
  CHECK_INT(PQ_ERR_DROP, ==, pq_pkt_parse(buf, len, 8, &h));
  buf[15] = 0x00;
  /* DCID length 21 in v1; and 255 (beyond the datagram) */
  buf[5] = 21;
  CHECK_INT(PQ_ERR_DROP, ==, pq_pkt_parse(buf, len, 8, &h));
  buf[5] = 8;
  uint8_t tiny[7] = {0xc0, 0, 0, 0, 1, 20, 0};
  CHECK_INT(PQ_ERR_DROP, ==, pq_pkt_parse(tiny, 7, 8, &h));
  /* Length too small to sample the header protection: parse ok, unprotect drops */
  uint8_t small[40] = {0xc0, 0, 0, 0, 1, 0, 0, 0, 19};
  CHECK_INT(0, ==, pq_pkt_parse(small, 40, 8, &h));
  CHECK_INT(28, ==, h.len);
  pq_hp hp;
  uint8_t key[16] = {0};
  pq_hp_init(&hp, PQ_AEAD_AES_128_GCM, key);
  CHECK_INT(PQ_ERR_DROP, ==, pq_pkt_unprotect(small, &h, &hp, PQ_PN_NONE));
  small[8] = 20;
  CHECK_INT(0, ==, pq_pkt_parse(small, 40, 8, &h));
  CHECK_INT(0, ==, pq_pkt_unprotect(small, &h, &hp, PQ_PN_NONE));
  CHECK_INT(0, <, h.pn_len);
  CHECK_INT(4, >=, h.pn_len);
  /* pn length decoded from the bits never reads past the packet: decrypt of garbage drops */
  pq_aead a;
  uint8_t iv[12] = {0};
  pq_aead_init(&a, PQ_AEAD_AES_128_GCM, key, iv);
  CHECK_INT(PQ_ERR_DROP, ==, pq_pkt_decrypt(small, &h, &a));
  pq_aead_free(&a);
  /* short header shorter than our CID length */
  uint8_t sh[8] = {0x40, 1, 2, 3};
  CHECK_INT(PQ_ERR_DROP, ==, pq_pkt_parse(sh, 4, 8, &h));
  CHECK_INT(0, ==, pq_pkt_parse(sh, 8, 4, &h));
  CHECK_INT(PQ_ERR_DROP, ==, pq_pkt_unprotect(sh, &h, &hp, PQ_PN_NONE)); /* no sample */
  sh[0] = 0x00;
  CHECK_INT(PQ_ERR_DROP, ==, pq_pkt_parse(sh, 8, 4, &h));
  /* Retry without room for the tag */
  uint8_t rt[20] = {0xf0, 0, 0, 0, 1, 0, 0, 1, 2, 3};
  CHECK_INT(PQ_ERR_DROP, ==, pq_pkt_parse(rt, 20, 0, &h));
  /* unprotect refuses packets without packet numbers */
  uint8_t rt2[30] = {0xf0, 0, 0, 0, 1, 0, 0};
  CHECK_INT(0, ==, pq_pkt_parse(rt2, 30, 0, &h));
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_pkt_unprotect(rt2, &h, &hp, PQ_PN_NONE));
}

static void test_pq_pkt_unknown_version_and_vn(void) {
  uint8_t pkt[64] = {0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 25};
  pq_pkt_hdr h;
  memset(pkt + 6, 0xaa, 25);
  pkt[31] = 3;
  CHECK_INT(0, ==, pq_pkt_parse(pkt, 64, 8, &h));
  CHECK_INT(PQ_PKT_UNSUPPORTED_VERSION, ==, h.type);
  CHECK_INT(0x1a2a3a4a, ==, h.version);
  CHECK_INT(25, ==, h.dcid_len); /* long CIDs of other versions are readable */
  CHECK_INT(3, ==, h.scid_len);
  CHECK_INT(64, ==, h.len);
  pkt[31] = 200; /* SCID beyond the datagram */
  CHECK_INT(PQ_ERR_DROP, ==, pq_pkt_parse(pkt, 64, 8, &h));
  /* the server answers with Version Negotiation: CIDs swapped */
  uint8_t vn[128];
  uint32_t versions[2] = {PQ_VERSION_1, 0x0a0a0a0a};
  pkt[31] = 3;
  CHECK_INT(0, ==, pq_pkt_parse(pkt, 64, 8, &h));
  int n = pq_pkt_write_version_negotiation(vn, sizeof(vn), h.scid, h.scid_len, h.dcid,
                                           h.dcid_len, versions, 2, 0x55);
  CHECK_INT(7 + 3 + 25 + 8, ==, n);
  pq_pkt_hdr v;
  CHECK_INT(0, ==, pq_pkt_parse(vn, (size_t)n, 8, &v));
  CHECK_INT(PQ_PKT_VERSION_NEGOTIATION, ==, v.type);
  CHECK_INT(0xd5, ==, vn[0]);
  CHECK_INT(2, ==, v.vn_count);
  CHECK_INT(PQ_VERSION_1, ==, pq_pkt_vn_version(&v, 0));
  CHECK_INT(0x0a0a0a0a, ==, pq_pkt_vn_version(&v, 1));
  CHECK_INT(0, ==, pq_pkt_vn_version(&v, 2));
  CHECK_INT(3, ==, v.dcid_len);
  CHECK_INT(25, ==, v.scid_len);
  CHECK_INT(PQ_ERR_DROP, ==, pq_pkt_parse(vn, (size_t)n - 1, 8, &v)); /* not a multiple */
  CHECK_INT(PQ_ERR_DROP, ==, pq_pkt_parse(vn, (size_t)n - 8, 8, &v)); /* empty list */
  CHECK_INT(PQ_ERR_NOBUF, ==, pq_pkt_write_version_negotiation(vn, 20, h.scid, 3, h.dcid,
                                                               25, versions, 2, 0));
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_pkt_write_version_negotiation(vn, sizeof(vn), NULL,
                                                                     0, NULL, 0, versions, 0, 0));
}

static void test_pq_pkt_build_errors_and_padding(void) {
  uint8_t buf[64], secret[32] = {1};
  pq_keys k;
  pq_pkt_hdr h;
  uint8_t cid[21] = {0};
  CHECK_INT(0, ==, pq_keys_init(&k, PQ_AEAD_AES_128_GCM, secret, 32));
  pq_pkt_build b = {.type = PQ_PKT_1RTT, .dcid = cid, .dcid_len = 21, .pn = 1, .pn_len = 1};
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_pkt_write_header(buf, sizeof(buf), &b, &h));
  b.dcid_len = 8;
  b.pn_len = 5;
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_pkt_write_header(buf, sizeof(buf), &b, &h));
  b.pn_len = 1;
  b.type = PQ_PKT_RETRY;
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_pkt_write_header(buf, sizeof(buf), &b, &h));
  b.type = PQ_PKT_HANDSHAKE;
  b.version = 7;
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_pkt_write_header(buf, sizeof(buf), &b, &h));
  b.version = PQ_VERSION_1;
  CHECK_INT(PQ_ERR_NOBUF, ==, pq_pkt_write_header(buf, 10, &b, &h));
  /* an empty payload with a 1-byte pn gets 3 bytes of padding so it can be sampled */
  int hl = pq_pkt_write_header(buf, sizeof(buf), &b, &h);
  CHECK_INT(7 + 8 + 2 + 1, ==, hl);
  int n = pq_pkt_seal(buf, sizeof(buf), &h, 0, &k.aead, &k.hp);
  CHECK_INT(hl + 3 + 16, ==, n);
  pq_pkt_hdr r;
  CHECK_INT(0, ==, pq_pkt_parse(buf, (size_t)n, 8, &r));
  CHECK_INT(0, ==, pq_pkt_unprotect(buf, &r, &k.hp, PQ_PN_NONE));
  CHECK_INT(0, ==, pq_pkt_decrypt(buf, &r, &k.aead));
  CHECK_INT(3, ==, r.payload_len);
  /* no room for the tag */
  hl = pq_pkt_write_header(buf, 30, &b, &h);
  CHECK_INT(PQ_ERR_NOBUF, ==, pq_pkt_seal(buf, 30, &h, 4, &k.aead, &k.hp));
  pq_keys_free(&k);
}

/* A key update round trip through pq_pkt: the Key Phase bit and the next keys. */
static void test_pq_pkt_key_phase(void) {
  uint8_t buf[128], secret[32] = {3}, dcid[4] = {1, 2, 3, 4};
  pq_keys k0, k1;
  pq_pkt_hdr h;
  CHECK_INT(0, ==, pq_keys_init(&k0, PQ_AEAD_AES_128_GCM, secret, 32));
  CHECK_INT(0, ==, pq_keys_init_next(&k1, &k0));
  pq_pkt_build b = {.type = PQ_PKT_1RTT, .dcid = dcid, .dcid_len = 4, .pn = 1000,
                    .pn_len = 2, .key_phase = 1, .spin = 1};
  int hl = pq_pkt_write_header(buf, sizeof(buf), &b, &h);
  memset(buf + hl, 1, 10);
  int n = pq_pkt_seal(buf, sizeof(buf), &h, 10, &k1.aead, &k1.hp);
  CHECK_INT(0, ==, pq_pkt_parse(buf, (size_t)n, 4, &h));
  CHECK_INT(0, ==, pq_pkt_unprotect(buf, &h, &k0.hp, 999)); /* same HP key */
  CHECK_INT(1, ==, h.key_phase);
  CHECK_INT(1, ==, h.spin);
  CHECK_INT(1000, ==, h.pn);
  CHECK_INT(0, ==, pq_pkt_decrypt(buf, &h, &k1.aead));
  pq_keys_free(&k0);
  pq_keys_free(&k1);
}

static void test_pq_pkt_stateless_reset(void) {
  uint8_t token[16], buf[64], other[16] = {0};
  for (int i = 0; i < 16; i++) token[i] = (uint8_t)(0xa0 + i);
  CHECK_INT(40, ==, pq_pkt_write_stateless_reset(buf, sizeof(buf), 40, token));
  CHECK_INT(0x40, ==, buf[0] & 0xc0);
  CHECK_INT(1, ==, pq_pkt_is_stateless_reset(buf, 40, token));
  CHECK_INT(0, ==, pq_pkt_is_stateless_reset(buf, 40, other));
  CHECK_INT(0, ==, pq_pkt_is_stateless_reset(buf + 20, 20, token)); /* too short */
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_pkt_write_stateless_reset(buf, sizeof(buf), 20, token));
  CHECK_INT(PQ_ERR_NOBUF, ==, pq_pkt_write_stateless_reset(buf, 30, 40, token));
}

/* RFC 9369 A.2: the client Initial for QUIC v2, built and opened. */
static void test_pq_pkt_v2_client_initial_rfc9369(void) {
  static uint8_t buf[1200], want[1200], crypto[300];
  pq_keys tx, rx, stx, srx;
  pq_pkt_hdr h;
  CHECK_INT(0, ==, pq_keys_init_initial(&tx, &rx, PQ_VERSION_2, a1_dcid, 8, 0));
  pq_pkt_build b = {.type = PQ_PKT_INITIAL, .version = PQ_VERSION_2, .dcid = a1_dcid,
                    .dcid_len = 8, .pn = 2, .pn_len = 4};
  CHECK_INT(22, ==, pq_pkt_write_header(buf, sizeof(buf), &b, &h));
  uint8_t hdr[22];
  vec_unhex(V2_A2_HEADER, hdr, sizeof(hdr));
  size_t n = vec_unhex(A2_CRYPTO, buf + 22, sizeof(buf) - 22);
  memset(buf + 22 + n, 0, A2_PAYLOAD_LEN - n);
  CHECK_INT(1200, ==, pq_pkt_seal(buf, sizeof(buf), &h, A2_PAYLOAD_LEN, &tx.aead, &tx.hp));
  CHECK_INT(1200, ==, vec_unhex(V2_A2_PROTECTED, want, sizeof(want)));
  CHECK_MEM(want, buf, 1200);
  CHECK_INT(0, ==, pq_pkt_parse(want, 1200, 8, &h));
  CHECK_INT(PQ_PKT_INITIAL, ==, h.type);
  CHECK_INT(PQ_VERSION_2, ==, h.version);
  CHECK_INT(0, ==, pq_keys_init_initial(&stx, &srx, PQ_VERSION_2, h.dcid, h.dcid_len, 1));
  CHECK_INT(0, ==, pq_pkt_unprotect(want, &h, &srx.hp, PQ_PN_NONE));
  CHECK_MEM(hdr, want, 22); /* the unprotected header of the RFC */
  CHECK_INT(0, ==, pq_pkt_decrypt(want, &h, &srx.aead));
  vec_unhex(A2_CRYPTO, crypto, sizeof(crypto));
  CHECK_MEM(crypto, h.payload, n);
  /* v1 keys do not open a v2 packet */
  pq_keys v1tx, v1rx;
  vec_unhex(V2_A2_PROTECTED, want, sizeof(want));
  CHECK_INT(0, ==, pq_keys_init_initial(&v1tx, &v1rx, PQ_VERSION_1, a1_dcid, 8, 1));
  CHECK_INT(0, ==, pq_pkt_parse(want, 1200, 8, &h));
  CHECK_INT(0, ==, pq_pkt_unprotect(want, &h, &v1rx.hp, PQ_PN_NONE));
  CHECK_INT(PQ_ERR_DROP, ==, pq_pkt_decrypt(want, &h, &v1rx.aead));
  pq_keys_free(&tx);
  pq_keys_free(&rx);
  pq_keys_free(&stx);
  pq_keys_free(&srx);
  pq_keys_free(&v1tx);
  pq_keys_free(&v1rx);
}

static void test_pq_pkt_v2_retry_and_chacha_rfc9369(void) {
  uint8_t buf[64], want[64], secret[32], key[32], iv[12], hpk[32];
  size_t wlen = vec_unhex(V2_A4_RETRY, want, sizeof(want));
  int n = pq_pkt_write_retry(buf, sizeof(buf), PQ_VERSION_2, NULL, 0, a3_scid, 8,
                             (const uint8_t *)"token", 5, a1_dcid, 8, 0x0f);
  CHECK_INT(wlen, ==, n);
  CHECK_MEM(want, buf, wlen);
  pq_pkt_hdr h;
  CHECK_INT(0, ==, pq_pkt_parse(want, wlen, 8, &h));
  CHECK_INT(PQ_PKT_RETRY, ==, h.type);
  CHECK_INT(0, ==, pq_pkt_verify_retry(want, h.len, a1_dcid, 8));
  want[1] = 0, want[2] = 0, want[3] = 0, want[4] = 1; /* claims v1: tag mismatch */
  CHECK_INT(PQ_ERR_DROP, ==, pq_pkt_verify_retry(want, wlen, a1_dcid, 8));
  /* A.5 for v2 */
  pq_keys k;
  vec_unhex(A5_SECRET, secret, 32);
  CHECK_INT(0, ==, pq_derive_packet_keys_ex(PQ_VERSION_2, PQ_AEAD_CHACHA20_POLY1305, secret,
                                            key, iv, hpk));
  uint8_t want_iv[12];
  vec_unhex(V2_A5_IV, want_iv, 12);
  CHECK_MEM(want_iv, iv, 12);
  CHECK_INT(0, ==, pq_keys_init_ex(&k, PQ_VERSION_2, PQ_AEAD_CHACHA20_POLY1305, secret, 32));
  pq_pkt_build b = {.type = PQ_PKT_1RTT, .pn = A5_PN, .pn_len = 3};
  CHECK_INT(4, ==, pq_pkt_write_header(buf, sizeof(buf), &b, &h));
  buf[4] = 0x01;
  wlen = vec_unhex(V2_A5_PROTECTED, want, sizeof(want));
  CHECK_INT(wlen, ==, pq_pkt_seal(buf, sizeof(buf), &h, 1, &k.aead, &k.hp));
  CHECK_MEM(want, buf, wlen);
  /* v2 key update uses "quicv2 ku": differs from v1's */
  pq_keys k1, n1, n2;
  CHECK_INT(0, ==, pq_keys_init(&k1, PQ_AEAD_CHACHA20_POLY1305, secret, 32));
  CHECK_INT(0, ==, pq_keys_init_next(&n1, &k1));
  CHECK_INT(0, ==, pq_keys_init_next(&n2, &k));
  CHECK_INT(PQ_VERSION_2, ==, n2.version);
  CHECK(memcmp(n1.secret, n2.secret, 32) != 0);
  pq_keys_free(&k);
  pq_keys_free(&k1);
  pq_keys_free(&n1);
  pq_keys_free(&n2);
}

int main(void) {
  vec_unhex(A1_DCID, a1_dcid, sizeof(a1_dcid));
  RUN(test_pq_pkt_build_client_initial_rfc9001);
  RUN(test_pq_pkt_open_client_initial_rfc9001);
  RUN(test_pq_pkt_server_initial_rfc9001);
  RUN(test_pq_pkt_chacha_short_header_rfc9001);
  RUN(test_pq_pkt_retry_rfc9001);
  RUN(test_pq_pkt_pn_encode_decode);
  RUN(test_pq_pkt_coalesced_split);
  RUN(test_pq_pkt_malformed_headers);
  RUN(test_pq_pkt_unknown_version_and_vn);
  RUN(test_pq_pkt_build_errors_and_padding);
  RUN(test_pq_pkt_key_phase);
  RUN(test_pq_pkt_stateless_reset);
  RUN(test_pq_pkt_v2_client_initial_rfc9369);
  RUN(test_pq_pkt_v2_retry_and_chacha_rfc9369);
  return test_report();
}
