/*
 * aead_compare.c: AEAD speed on 1200-byte QUIC packets, per cipher and per library
 * (GnuTLS gnutls_aead_cipher_encrypt, nettle, OpenSSL libcrypto EVP), then through
 * pq_crypto (pq_aead_seal / pq_aead_open) and whole 1-RTT packets through pq_pkt
 * (write_header + seal, and parse + unprotect + decrypt). The figures chose pq_crypto's
 * backends. Standalone (not part of the build, so it can be rerun anywhere):
 *
 *   cc -O2 -Isrc/quic -Iinclude bench/quic/aead_compare.c src/quic/pq_crypto.c \
 *      src/quic/pq_pkt.c $(pkg-config --cflags --libs gnutls nettle libcrypto) \
 *      -o /tmp/aead_compare && /tmp/aead_compare
 *
 * Prints MB/s (10^6 bytes of payload per second), median of 5 runs. The "seal+open" and
 * "out+in" columns do both directions per packet, so they count each packet once for two
 * operations (halve the time per operation to compare with the one-way columns).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <nettle/chacha-poly1305.h>
#include <nettle/gcm.h>
#include <openssl/evp.h>

#include "pq_crypto.h"
#include "pq_pkt.h"

#define LEN 1200
#define RUNS 5

static uint8_t buf[LEN + 64], key[32], iv[12], ad[24];
static volatile uint8_t sink;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef void (*one_fn)(void *ctx, uint64_t i);

/* Median MB/s over RUNS runs of |n| calls. */
static double measure(one_fn f, void *ctx, long n) {
  double r[RUNS];
  for (int k = 0; k < RUNS; k++) {
    double t = now();
    for (long i = 0; i < n; i++) f(ctx, (uint64_t)i);
    r[k] = (double)n * LEN / (now() - t) / 1e6;
    sink ^= buf[0];
  }
  qsort(r, RUNS, sizeof(double), cmpd);
  return r[RUNS / 2];
}

static void gt_one(void *ctx, uint64_t i) {
  size_t outlen = LEN + 16;
  iv[11] = (uint8_t)i;
  gnutls_aead_cipher_encrypt(ctx, iv, 12, ad, 20, 16, buf, LEN, buf, &outlen);
}

static void evp_one(void *ctx, uint64_t i) {
  int outl;
  iv[11] = (uint8_t)i;
  EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv);
  EVP_EncryptUpdate(ctx, NULL, &outl, ad, 20);
  EVP_EncryptUpdate(ctx, buf, &outl, buf, LEN);
  EVP_EncryptFinal_ex(ctx, buf + LEN, &outl);
  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, buf + LEN);
}

static void n128_one(void *ctx, uint64_t i) {
  struct gcm_aes128_ctx *c = ctx;
  iv[11] = (uint8_t)i;
  gcm_aes128_set_iv(c, 12, iv);
  gcm_aes128_update(c, 20, ad);
  gcm_aes128_encrypt(c, LEN, buf, buf);
  gcm_aes128_digest(c, 16, buf + LEN);
}

static void n256_one(void *ctx, uint64_t i) {
  struct gcm_aes256_ctx *c = ctx;
  iv[11] = (uint8_t)i;
  gcm_aes256_set_iv(c, 12, iv);
  gcm_aes256_update(c, 20, ad);
  gcm_aes256_encrypt(c, LEN, buf, buf);
  gcm_aes256_digest(c, 16, buf + LEN);
}

static void ncc_one(void *ctx, uint64_t i) {
  struct chacha_poly1305_ctx *c = ctx;
  iv[11] = (uint8_t)i;
  chacha_poly1305_set_nonce(c, iv);
  chacha_poly1305_update(c, 20, ad);
  chacha_poly1305_encrypt(c, LEN, buf, buf);
  chacha_poly1305_digest(c, 16, buf + LEN);
}

static void pq_seal_one(void *ctx, uint64_t i) { pq_aead_seal(ctx, i, ad, 20, buf, LEN); }

/* seal then open the same packet: counts as 2 x LEN bytes processed, reported per pair */
static void pq_open_one(void *ctx, uint64_t i) {
  pq_aead_seal(ctx, i, ad, 20, buf, LEN);
  if (pq_aead_open(ctx, i, ad, 20, buf, LEN + 16) < 0) abort();
}

static pq_keys *pkt_keys;
static void pkt_one(void *ctx, uint64_t i) {
  static const uint8_t dcid[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  pq_pkt_hdr h;
  pq_pkt_build b = {.type = PQ_PKT_1RTT, .dcid = dcid, .dcid_len = 8, .pn = i, .pn_len = 2};
  int hl = pq_pkt_write_header(buf, sizeof(buf), &b, &h);
  int n = pq_pkt_seal(buf, sizeof(buf), &h, LEN - (size_t)hl - 16, &pkt_keys->aead,
                      &pkt_keys->hp);
  if (ctx) { /* also receive it */
    if (pq_pkt_parse(buf, (size_t)n, 8, &h) < 0 ||
        pq_pkt_unprotect(buf, &h, &pkt_keys->hp, i ? i - 1 : PQ_PN_NONE) < 0 ||
        pq_pkt_decrypt(buf, &h, &pkt_keys->aead) < 0)
      abort();
  }
}

int main(void) {
  long n = 100000;
  static const struct {
    const char *name;
    gnutls_cipher_algorithm_t gt;
    const EVP_CIPHER *(*evp)(void);
    one_fn nettle;
    pq_aead_alg pq;
  } ciphers[3] = {
      {"AES-128-GCM", GNUTLS_CIPHER_AES_128_GCM, EVP_aes_128_gcm, n128_one, PQ_AEAD_AES_128_GCM},
      {"AES-256-GCM", GNUTLS_CIPHER_AES_256_GCM, EVP_aes_256_gcm, n256_one, PQ_AEAD_AES_256_GCM},
      {"CHACHA20-POLY1305", GNUTLS_CIPHER_CHACHA20_POLY1305, EVP_chacha20_poly1305, ncc_one,
       PQ_AEAD_CHACHA20_POLY1305},
  };
  printf("%-18s %9s %9s %9s | %9s %13s %11s %15s\n", "MB/s, 1200 B", "GnuTLS", "nettle",
         "OpenSSL", "pq seal", "pq seal+open", "pq_pkt out", "pq_pkt out+in");
  for (int c = 0; c < 3; c++) {
    size_t klen = pq_aead_key_len(ciphers[c].pq);
    gnutls_aead_cipher_hd_t h;
    gnutls_datum_t k = {key, (unsigned)klen};
    gnutls_aead_cipher_init(&h, ciphers[c].gt, &k);
    double g = measure(gt_one, h, n);
    gnutls_aead_cipher_deinit(h);

    EVP_CIPHER_CTX *e = EVP_CIPHER_CTX_new();
    EVP_EncryptInit_ex(e, ciphers[c].evp(), NULL, key, NULL);
    double o = measure(evp_one, e, n);
    EVP_CIPHER_CTX_free(e);

    union {
      struct gcm_aes128_ctx a;
      struct gcm_aes256_ctx b;
      struct chacha_poly1305_ctx c;
    } nc;
    if (c == 0) gcm_aes128_set_key(&nc.a, key);
    if (c == 1) gcm_aes256_set_key(&nc.b, key);
    if (c == 2) chacha_poly1305_set_key(&nc.c, key);
    double ne = measure(ciphers[c].nettle, &nc, n);

    pq_aead a;
    pq_aead_init(&a, ciphers[c].pq, key, iv);
    double ps = measure(pq_seal_one, &a, n);
    double po = measure(pq_open_one, &a, n / 2);
    pq_aead_free(&a);

    uint8_t secret[48] = {9};
    pq_keys keys;
    pq_keys_init(&keys, ciphers[c].pq, secret, pq_aead_secret_len(ciphers[c].pq));
    pkt_keys = &keys;
    double pk = measure(pkt_one, NULL, n);
    double pkio = measure(pkt_one, &keys, n / 2);
    pq_keys_free(&keys);
    printf("%-18s %9.0f %9.0f %9.0f | %9.0f %13.0f %11.0f %15.0f\n", ciphers[c].name, g, ne,
           o, ps, po, pk, pkio);
  }
  return 0;
}
