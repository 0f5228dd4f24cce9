/* pq_crypto_test.c: key derivation, AEAD, header protection, key update and Retry tag
 * against RFC 9001 Appendix A, plus round trips and misuse. */
#include "pq_crypto.h"
#include "pq_rfc9001_vectors.h"
#include "test.h"

static uint8_t a1_dcid[8];

static void check_hex(const char *hex, const uint8_t *got, size_t len) {
  uint8_t want[64];
  size_t n = vec_unhex(hex, want, sizeof(want));
  CHECK_INT(n, ==, len);
  CHECK_MEM(want, got, len);
}

static void test_pq_crypto_initial_secrets_rfc9001(void) {
  uint8_t cs[32], ss[32];
  CHECK_INT(0, ==, pq_initial_secrets(PQ_VERSION_1, a1_dcid, 8, cs, ss));
  check_hex(A1_CLIENT_SECRET, cs, 32);
  check_hex(A1_SERVER_SECRET, ss, 32);
}

static void test_pq_crypto_initial_packet_keys_rfc9001(void) {
  uint8_t cs[32], ss[32], key[32], iv[12], hp[32];
  CHECK_INT(0, ==, pq_initial_secrets(PQ_VERSION_1, a1_dcid, 8, cs, ss));
  CHECK_INT(0, ==, pq_derive_packet_keys(PQ_AEAD_AES_128_GCM, cs, key, iv, hp));
  check_hex(A1_CLIENT_KEY, key, 16);
  check_hex(A1_CLIENT_IV, iv, 12);
  check_hex(A1_CLIENT_HP, hp, 16);
  CHECK_INT(0, ==, pq_derive_packet_keys(PQ_AEAD_AES_128_GCM, ss, key, iv, hp));
  check_hex(A1_SERVER_KEY, key, 16);
  check_hex(A1_SERVER_IV, iv, 12);
  check_hex(A1_SERVER_HP, hp, 16);
}

static void test_pq_crypto_initial_bad_args(void) {
  uint8_t cs[32], cid[21] = {0};
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_initial_secrets(0xff00001d, a1_dcid, 8, cs, NULL));
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_initial_secrets(PQ_VERSION_1, cid, 21, cs, NULL));
  CHECK_INT(0, ==, pq_initial_secrets(PQ_VERSION_1, NULL, 0, cs, NULL)); /* empty DCID ok */
}

/* The A.2 payload sealed with the client Initial keys gives the RFC's ciphertext (the
 * bytes after the 22-byte header) and tag. */
static void test_pq_crypto_seal_client_initial_rfc9001(void) {
  static uint8_t hdr[64], buf[1300], want[1300];
  pq_keys tx, rx;
  size_t hlen = vec_unhex(A2_HEADER, hdr, sizeof(hdr));
  size_t plen = vec_unhex(A2_CRYPTO, buf, sizeof(buf));
  size_t wlen = vec_unhex(A2_PROTECTED, want, sizeof(want));
  CHECK_INT(22, ==, hlen);
  CHECK_INT(1200, ==, wlen);
  memset(buf + plen, 0, A2_PAYLOAD_LEN - plen);
  CHECK_INT(0, ==, pq_keys_init_initial(&tx, &rx, PQ_VERSION_1, a1_dcid, 8, 0));
  CHECK_INT(A2_PAYLOAD_LEN + 16, ==, pq_aead_seal(&tx.aead, 2, hdr, hlen, buf,
                                                  A2_PAYLOAD_LEN));
  CHECK_MEM(want + hlen, buf, A2_PAYLOAD_LEN + 16);
  /* The server opens it with its rx keys (= client's tx). */
  pq_keys stx, srx;
  CHECK_INT(0, ==, pq_keys_init_initial(&stx, &srx, PQ_VERSION_1, a1_dcid, 8, 1));
  CHECK_INT(A2_PAYLOAD_LEN, ==, pq_aead_open(&srx.aead, 2, hdr, hlen, buf,
                                             A2_PAYLOAD_LEN + 16));
  CHECK_INT(0x06, ==, buf[0]);
  pq_keys_free(&tx);
  pq_keys_free(&rx);
  pq_keys_free(&stx);
  pq_keys_free(&srx);
}

static void test_pq_crypto_hp_mask_aes_rfc9001(void) {
  uint8_t key[16], sample[16], mask[5], want[5];
  pq_hp hp;
  vec_unhex(A1_CLIENT_HP, key, 16);
  vec_unhex("d1b1c98dd7689fb8ec11d242b123dc9b", sample, 16);
  vec_unhex("437b9aec36", want, 5);
  CHECK_INT(0, ==, pq_hp_init(&hp, PQ_AEAD_AES_128_GCM, key));
  pq_hp_mask(&hp, sample, mask);
  CHECK_MEM(want, mask, 5);
  /* A.3: the server's sample and mask. */
  vec_unhex(A1_SERVER_HP, key, 16);
  vec_unhex("2cd0991cd25b0aac406a5816b6394100", sample, 16);
  vec_unhex("2ec0d8356a", want, 5);
  CHECK_INT(0, ==, pq_hp_init(&hp, PQ_AEAD_AES_128_GCM, key));
  pq_hp_mask(&hp, sample, mask);
  CHECK_MEM(want, mask, 5);
  pq_hp_free(&hp);
}

static void test_pq_crypto_chacha_keys_and_ku_rfc9001(void) {
  uint8_t secret[32], key[32], iv[12], hpk[32], sample[16], mask[5], want[5];
  pq_keys k, next;
  vec_unhex(A5_SECRET, secret, 32);
  CHECK_INT(0, ==, pq_derive_packet_keys(PQ_AEAD_CHACHA20_POLY1305, secret, key, iv, hpk));
  check_hex(A5_KEY, key, 32);
  check_hex(A5_IV, iv, 12);
  check_hex(A5_HP, hpk, 32);
  CHECK_INT(0, ==, pq_keys_init(&k, PQ_AEAD_CHACHA20_POLY1305, secret, 32));
  CHECK_INT(0, ==, pq_keys_init_next(&next, &k));
  check_hex(A5_KU, next.secret, 32);
  /* header protection unchanged by the key update */
  vec_unhex("5e5cd55c41f69080575d7999c25a5bfb", sample, 16);
  vec_unhex("aefefe7d03", want, 5);
  pq_hp_mask(&k.hp, sample, mask);
  CHECK_MEM(want, mask, 5);
  pq_hp_mask(&next.hp, sample, mask);
  CHECK_MEM(want, mask, 5);
  pq_keys_free(&k);
  pq_keys_free(&next);
}

/* A.5: the PING payload sealed with ChaCha20-Poly1305 under header 4200bff4. */
static void test_pq_crypto_seal_chacha_rfc9001(void) {
  uint8_t secret[32], hdr[4], buf[32], want[32];
  pq_keys k;
  vec_unhex(A5_SECRET, secret, 32);
  vec_unhex(A5_HEADER, hdr, 4);
  vec_unhex(A5_PROTECTED, want, sizeof(want));
  buf[0] = 0x01;
  CHECK_INT(0, ==, pq_keys_init(&k, PQ_AEAD_CHACHA20_POLY1305, secret, 32));
  CHECK_INT(17, ==, pq_aead_seal(&k.aead, A5_PN, hdr, 4, buf, 1));
  CHECK_MEM(want + 4, buf, 17);
  CHECK_INT(1, ==, pq_aead_open(&k.aead, A5_PN, hdr, 4, buf, 17));
  CHECK_INT(1, ==, buf[0]);
  pq_keys_free(&k);
}

/* Each cipher: seal then open round trips; a flipped bit in payload, tag or AAD, or a
 * wrong packet number, fails authentication. */
static void test_pq_crypto_roundtrip_and_tamper_all_ciphers(void) {
  static const pq_aead_alg algs[] = {PQ_AEAD_AES_128_GCM, PQ_AEAD_AES_256_GCM,
                                     PQ_AEAD_CHACHA20_POLY1305};
  for (size_t a = 0; a < 3; a++) {
    uint8_t secret[48], hdr[20], buf[1300], copy[1300], orig[1300];
    pq_keys k;
    size_t slen = pq_aead_secret_len(algs[a]);
    for (size_t i = 0; i < sizeof(secret); i++) secret[i] = (uint8_t)(i * 7 + a);
    for (size_t i = 0; i < sizeof(hdr); i++) hdr[i] = (uint8_t)i;
    for (size_t i = 0; i < 1200; i++) orig[i] = (uint8_t)(i * 13);
    CHECK_INT(0, ==, pq_keys_init(&k, algs[a], secret, slen));
    memcpy(buf, orig, 1200);
    CHECK_INT(1216, ==, pq_aead_seal(&k.aead, 77, hdr, 20, buf, 1200));
    CHECK(memcmp(buf, orig, 1200) != 0);
    memcpy(copy, buf, 1216);
    CHECK_INT(1200, ==, pq_aead_open(&k.aead, 77, hdr, 20, buf, 1216));
    CHECK_MEM(orig, buf, 1200);
    memcpy(buf, copy, 1216);
    buf[5] ^= 1;
    CHECK_INT(PQ_ERR_DROP, ==, pq_aead_open(&k.aead, 77, hdr, 20, buf, 1216));
    memcpy(buf, copy, 1216);
    buf[1210] ^= 0x80;
    CHECK_INT(PQ_ERR_DROP, ==, pq_aead_open(&k.aead, 77, hdr, 20, buf, 1216));
    memcpy(buf, copy, 1216);
    CHECK_INT(PQ_ERR_DROP, ==, pq_aead_open(&k.aead, 78, hdr, 20, buf, 1216));
    memcpy(buf, copy, 1216);
    hdr[3] ^= 4;
    CHECK_INT(PQ_ERR_DROP, ==, pq_aead_open(&k.aead, 77, hdr, 20, buf, 1216));
    hdr[3] ^= 4;
    CHECK_INT(PQ_ERR_DROP, ==, pq_aead_open(&k.aead, 77, hdr, 20, buf, 15));
    /* empty payload: tag only */
    CHECK_INT(16, ==, pq_aead_seal(&k.aead, 1, hdr, 20, buf, 0));
    CHECK_INT(0, ==, pq_aead_open(&k.aead, 1, hdr, 20, buf, 16));
    /* after a key update the old keys no longer open what the new keys seal */
    pq_keys next;
    CHECK_INT(0, ==, pq_keys_init_next(&next, &k));
    memcpy(buf, orig, 100);
    CHECK_INT(116, ==, pq_aead_seal(&next.aead, 5, hdr, 20, buf, 100));
    memcpy(copy, buf, 116);
    CHECK_INT(PQ_ERR_DROP, ==, pq_aead_open(&k.aead, 5, hdr, 20, buf, 116));
    CHECK_INT(100, ==, pq_aead_open(&next.aead, 5, hdr, 20, copy, 116));
    pq_keys_free(&next);
    pq_keys_free(&k);
  }
}

static void test_pq_crypto_bad_args(void) {
  uint8_t secret[48] = {0}, key[32] = {0}, iv[12] = {0};
  pq_keys k;
  pq_aead a;
  pq_hp hp;
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_keys_init(&k, PQ_AEAD_AES_128_GCM, secret, 48));
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_keys_init(&k, (pq_aead_alg)9, secret, 32));
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_aead_init(&a, (pq_aead_alg)9, key, iv));
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_hp_init(&hp, (pq_aead_alg)9, key));
  pq_aead_free(&a); /* harmless on a failed init */
  pq_keys_free(&k);
  pq_keys zero;
  memset(&zero, 0, sizeof(zero));
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_keys_init_next(&k, &zero));
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_aead_seal(&zero.aead, 0, NULL, 0, key, 1));
  uint8_t out[8];
  CHECK_INT(PQ_ERR_INVALID_ARG, ==,
            pq_hkdf_expand_label(PQ_AEAD_AES_128_GCM, secret, 32,
                                 "0123456789012345678901234567890123456789012345678901234567890123456789",
                                 NULL, 0, out, 8));
}

static void test_pq_crypto_retry_tag_rfc9001(void) {
  uint8_t pkt[64], tag[16];
  size_t n = vec_unhex(A4_RETRY, pkt, sizeof(pkt));
  CHECK_INT(36, ==, n);
  CHECK_INT(0, ==, pq_retry_tag(PQ_VERSION_1, a1_dcid, 8, pkt, n - 16, tag));
  CHECK_MEM(pkt + n - 16, tag, 16);
  uint8_t other[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  CHECK_INT(0, ==, pq_retry_tag(PQ_VERSION_1, other, 8, pkt, n - 16, tag));
  CHECK(memcmp(pkt + n - 16, tag, 16) != 0);
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_retry_tag(2, a1_dcid, 8, pkt, n - 16, tag));
}

static void test_pq_crypto_usage_limits(void) {
  CHECK_INT(INT64_C(1) << 23, ==, pq_aead_confidentiality_limit(PQ_AEAD_AES_128_GCM));
  CHECK_INT(INT64_C(1) << 52, ==, pq_aead_integrity_limit(PQ_AEAD_AES_256_GCM));
  CHECK_INT(INT64_C(1) << 36, ==, pq_aead_integrity_limit(PQ_AEAD_CHACHA20_POLY1305));
  CHECK(pq_aead_confidentiality_limit((pq_aead_alg)9) == UINT64_MAX);
  CHECK_STR("CHACHA20-POLY1305", pq_aead_name(PQ_AEAD_CHACHA20_POLY1305));
  CHECK_STR("?", pq_aead_name((pq_aead_alg)9));
}

static void test_pq_crypto_token_seal_open(void) {
  uint8_t k[16], iv[12], tok[PQ_TOKEN_MAX_LEN], odcid[20];
  const uint8_t addr[6] = {127, 0, 0, 1, 0x12, 0x34}, other[6] = {127, 0, 0, 2, 0x12, 0x34};
  pq_aead key, key2;
  size_t olen = 0;
  int kind = 0;
  pq_random(k, 16);
  pq_random(iv, 12);
  CHECK_INT(0, ==, pq_aead_init(&key, PQ_AEAD_AES_128_GCM, k, iv));
  int n = pq_token_seal(&key, PQ_TOKEN_RETRY, addr, 6, a1_dcid, 8, 1000, tok, sizeof(tok));
  CHECK_INT(9 + 17 + 16, ==, n);
  CHECK_INT(0, ==, pq_token_open(&key, tok, (size_t)n, addr, 6, 1500, 1000, &kind, odcid, &olen));
  CHECK_INT(PQ_TOKEN_RETRY, ==, kind);
  CHECK_INT(8, ==, olen);
  CHECK_MEM(a1_dcid, odcid, 8);
  /* other address, expired, from the future, tampered, truncated, other key */
  CHECK_INT(PQ_ERR_DROP, ==, pq_token_open(&key, tok, (size_t)n, other, 6, 1500, 1000, &kind,
                                           odcid, &olen));
  CHECK_INT(PQ_ERR_DROP, ==, pq_token_open(&key, tok, (size_t)n, addr, 6, 2001, 1000, &kind,
                                           odcid, &olen));
  CHECK_INT(PQ_ERR_DROP, ==, pq_token_open(&key, tok, (size_t)n, addr, 6, 999, 1000, &kind,
                                           odcid, &olen));
  tok[0] = PQ_TOKEN_NEW_TOKEN; /* kind is authenticated */
  CHECK_INT(PQ_ERR_DROP, ==, pq_token_open(&key, tok, (size_t)n, addr, 6, 1500, 1000, &kind,
                                           odcid, &olen));
  tok[0] = PQ_TOKEN_RETRY;
  tok[12] ^= 1;
  CHECK_INT(PQ_ERR_DROP, ==, pq_token_open(&key, tok, (size_t)n, addr, 6, 1500, 1000, &kind,
                                           odcid, &olen));
  tok[12] ^= 1;
  CHECK_INT(PQ_ERR_DROP, ==, pq_token_open(&key, tok, 20, addr, 6, 1500, 1000, &kind, odcid,
                                           &olen));
  pq_random(k, 16);
  CHECK_INT(0, ==, pq_aead_init(&key2, PQ_AEAD_AES_128_GCM, k, iv));
  CHECK_INT(PQ_ERR_DROP, ==, pq_token_open(&key2, tok, (size_t)n, addr, 6, 1500, 1000, &kind,
                                           odcid, &olen));
  CHECK_INT(0, ==, pq_token_open(&key, tok, (size_t)n, addr, 6, 1500, 1000, &kind, odcid,
                                 &olen)); /* a failed open left the token intact */
  /* NEW_TOKEN without a DCID; two seals differ (random counter) */
  uint8_t t2[PQ_TOKEN_MAX_LEN], t3[PQ_TOKEN_MAX_LEN];
  int n2 = pq_token_seal(&key, PQ_TOKEN_NEW_TOKEN, addr, 4, NULL, 0, 5, t2, sizeof(t2));
  int n3 = pq_token_seal(&key, PQ_TOKEN_NEW_TOKEN, addr, 4, NULL, 0, 5, t3, sizeof(t3));
  CHECK_INT(n2, ==, n3);
  CHECK(memcmp(t2, t3, (size_t)n2) != 0);
  CHECK_INT(0, ==, pq_token_open(&key, t2, (size_t)n2, addr, 4, 5, 0, &kind, odcid, &olen));
  CHECK_INT(PQ_TOKEN_NEW_TOKEN, ==, kind);
  CHECK_INT(0, ==, olen);
  CHECK_INT(PQ_ERR_INVALID_ARG, ==, pq_token_seal(&key, 7, addr, 4, NULL, 0, 5, t2, sizeof(t2)));
  CHECK_INT(PQ_ERR_NOBUF, ==, pq_token_seal(&key, PQ_TOKEN_RETRY, addr, 4, NULL, 0, 5, t2, 10));
  pq_aead_free(&key);
  pq_aead_free(&key2);
}

static void test_pq_crypto_ct_equal_and_random(void) {
  uint8_t a[16] = {0}, b[16] = {0}, r1[32], r2[32];
  CHECK(pq_ct_equal(a, b, 16));
  b[15] = 1;
  CHECK(!pq_ct_equal(a, b, 16));
  CHECK_INT(0, ==, pq_random(r1, 32));
  CHECK_INT(0, ==, pq_random(r2, 32));
  CHECK(memcmp(r1, r2, 32) != 0);
}

int main(void) {
  vec_unhex(A1_DCID, a1_dcid, sizeof(a1_dcid));
  RUN(test_pq_crypto_initial_secrets_rfc9001);
  RUN(test_pq_crypto_initial_packet_keys_rfc9001);
  RUN(test_pq_crypto_initial_bad_args);
  RUN(test_pq_crypto_seal_client_initial_rfc9001);
  RUN(test_pq_crypto_hp_mask_aes_rfc9001);
  RUN(test_pq_crypto_chacha_keys_and_ku_rfc9001);
  RUN(test_pq_crypto_seal_chacha_rfc9001);
  RUN(test_pq_crypto_roundtrip_and_tamper_all_ciphers);
  RUN(test_pq_crypto_bad_args);
  RUN(test_pq_crypto_retry_tag_rfc9001);
  RUN(test_pq_crypto_usage_limits);
  RUN(test_pq_crypto_token_seal_open);
  RUN(test_pq_crypto_ct_equal_and_random);
  return test_report();
}
