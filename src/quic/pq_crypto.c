/*
 * pq_crypto.c: QUIC packet protection (RFC 9001 §5) over GnuTLS (AES-GCM, HKDF),
 * OpenSSL libcrypto (ChaCha20-Poly1305) and nettle (header protection).
 */
#include "pq_crypto.h"

#include <limits.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <openssl/evp.h>

/* RFC 9001 §5.2: the QUIC v1 Initial salt. */
static const uint8_t initial_salt_v1[20] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34,
                                            0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8,
                                            0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};
/* RFC 9001 §5.8: the fixed key and nonce of the v1 Retry Integrity Tag. */
static const uint8_t retry_key_v1[16] = {0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a,
                                         0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8, 0x4e};
static const uint8_t retry_nonce_v1[12] = {0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63,
                                           0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb};

/* RFC 9369 (QUIC v2): its own salt, Retry key/nonce and labels. */
static const uint8_t initial_salt_v2[20] = {0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6,
                                            0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26,
                                            0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9};
static const uint8_t retry_key_v2[16] = {0x8f, 0xb4, 0xb0, 0x1b, 0x56, 0xac, 0x48, 0xe2,
                                         0x60, 0xfb, 0xcb, 0xce, 0xad, 0x7c, 0xcc, 0x92};
static const uint8_t retry_nonce_v2[12] = {0xd8, 0x69, 0x69, 0xbc, 0x2d, 0x7c,
                                           0x6d, 0x99, 0x90, 0xef, 0xb0, 0x4a};

/* What differs between the QUIC versions we speak. */
typedef struct version_params {
  uint32_t version;
  const uint8_t *salt, *retry_key, *retry_nonce;
  const char *key_label, *iv_label, *hp_label, *ku_label;
} version_params;

static const version_params versions[] = {
    {PQ_VERSION_1, initial_salt_v1, retry_key_v1, retry_nonce_v1, "quic key", "quic iv",
     "quic hp", "quic ku"},
    {PQ_VERSION_2, initial_salt_v2, retry_key_v2, retry_nonce_v2, "quicv2 key", "quicv2 iv",
     "quicv2 hp", "quicv2 ku"},
};

static const version_params *params_of(uint32_t version) {
  for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
    if (versions[i].version == version) return &versions[i];
  return NULL;
}

int pq_version_is_supported(uint32_t version) { return params_of(version) != NULL; }

size_t pq_aead_key_len(pq_aead_alg alg) {
  switch (alg) {
  case PQ_AEAD_AES_128_GCM: return 16;
  case PQ_AEAD_AES_256_GCM: return 32;
  case PQ_AEAD_CHACHA20_POLY1305: return 32;
  }
  return 0;
}

size_t pq_aead_secret_len(pq_aead_alg alg) {
  switch (alg) {
  case PQ_AEAD_AES_128_GCM: return 32;
  case PQ_AEAD_AES_256_GCM: return 48;
  case PQ_AEAD_CHACHA20_POLY1305: return 32;
  }
  return 0;
}

const char *pq_aead_name(pq_aead_alg alg) {
  switch (alg) {
  case PQ_AEAD_AES_128_GCM: return "AES-128-GCM";
  case PQ_AEAD_AES_256_GCM: return "AES-256-GCM";
  case PQ_AEAD_CHACHA20_POLY1305: return "CHACHA20-POLY1305";
  }
  return "?";
}

uint64_t pq_aead_confidentiality_limit(pq_aead_alg alg) {
  switch (alg) {
  case PQ_AEAD_AES_128_GCM:
  case PQ_AEAD_AES_256_GCM: return UINT64_C(1) << 23;
  case PQ_AEAD_CHACHA20_POLY1305: return UINT64_C(1) << 62; /* beyond any pn space */
  }
  return UINT64_MAX;
}

uint64_t pq_aead_integrity_limit(pq_aead_alg alg) {
  switch (alg) {
  case PQ_AEAD_AES_128_GCM:
  case PQ_AEAD_AES_256_GCM: return UINT64_C(1) << 52;
  case PQ_AEAD_CHACHA20_POLY1305: return UINT64_C(1) << 36;
  }
  return UINT64_MAX;
}

static gnutls_mac_algorithm_t hash_of(pq_aead_alg alg) {
  return alg == PQ_AEAD_AES_256_GCM ? GNUTLS_MAC_SHA384 : GNUTLS_MAC_SHA256;
}

/* ---- AEAD ---------------------------------------------------------------------- */

/* nonce = iv XOR pn, pn big-endian in the last 8 bytes (RFC 9001 §5.3). */
static void make_nonce(const uint8_t iv[PQ_AEAD_IV_LEN], uint64_t pn,
                       uint8_t nonce[PQ_AEAD_IV_LEN]) {
  memcpy(nonce, iv, PQ_AEAD_IV_LEN);
  for (int i = 0; i < 8; i++) nonce[PQ_AEAD_IV_LEN - 1 - i] ^= (uint8_t)(pn >> (8 * i));
}

int pq_aead_init(pq_aead *a, pq_aead_alg alg, const uint8_t *key, const uint8_t *iv) {
  size_t klen = pq_aead_key_len(alg);
  memset(a, 0, sizeof(*a));
  if (klen == 0 || !key || !iv) return PQ_ERR_INVALID_ARG;
  a->alg = alg;
  memcpy(a->iv, iv, PQ_AEAD_IV_LEN);
  if (alg == PQ_AEAD_CHACHA20_POLY1305) {
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c) return PQ_ERR_NOMEM;
    if (EVP_CipherInit_ex(c, EVP_chacha20_poly1305(), NULL, key, NULL, 1) != 1) {
      EVP_CIPHER_CTX_free(c);
      return PQ_ERR_TLS;
    }
    a->ctx = c;
    return 0;
  }
  gnutls_aead_cipher_hd_t h;
  gnutls_datum_t k = {(unsigned char *)key, (unsigned)klen};
  int rv = gnutls_aead_cipher_init(
      &h, alg == PQ_AEAD_AES_128_GCM ? GNUTLS_CIPHER_AES_128_GCM : GNUTLS_CIPHER_AES_256_GCM,
      &k);
  if (rv < 0) return rv == GNUTLS_E_MEMORY_ERROR ? PQ_ERR_NOMEM : PQ_ERR_TLS;
  a->ctx = h;
  return 0;
}

void pq_aead_free(pq_aead *a) {
  if (a->ctx) {
    if (a->alg == PQ_AEAD_CHACHA20_POLY1305)
      EVP_CIPHER_CTX_free(a->ctx);
    else
      gnutls_aead_cipher_deinit(a->ctx);
  }
  memset(a, 0, sizeof(*a));
}

/* One ChaCha20-Poly1305 pass with OpenSSL; |enc| selects the direction. The tag is
 * written (enc) or checked (dec) at |tag|. */
static int evp_crypt(EVP_CIPHER_CTX *c, int enc, const uint8_t *nonce, const uint8_t *ad,
                     size_t adlen, uint8_t *buf, size_t len, uint8_t *tag) {
  int outl;
  if (len > INT_MAX || adlen > INT_MAX) return PQ_ERR_INVALID_ARG;
  if (EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, enc) != 1) return PQ_ERR_TLS;
  if (adlen && EVP_CipherUpdate(c, NULL, &outl, ad, (int)adlen) != 1) return PQ_ERR_TLS;
  if (len && EVP_CipherUpdate(c, buf, &outl, buf, (int)len) != 1) return PQ_ERR_TLS;
  if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, PQ_AEAD_TAG_LEN, tag) != 1)
    return PQ_ERR_TLS;
  if (EVP_CipherFinal_ex(c, buf + len, &outl) != 1) return PQ_ERR_DROP;
  if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, PQ_AEAD_TAG_LEN, tag) != 1)
    return PQ_ERR_TLS;
  return 0;
}

int pq_aead_seal(pq_aead *a, uint64_t pn, const uint8_t *ad, size_t adlen, uint8_t *buf,
                 size_t len) {
  uint8_t nonce[PQ_AEAD_IV_LEN];
  if (!a->ctx || len > INT_MAX - PQ_AEAD_TAG_LEN) return PQ_ERR_INVALID_ARG;
  make_nonce(a->iv, pn, nonce);
  if (a->alg == PQ_AEAD_CHACHA20_POLY1305) {
    int rv = evp_crypt(a->ctx, 1, nonce, ad, adlen, buf, len, buf + len);
    return rv < 0 ? (rv == PQ_ERR_DROP ? PQ_ERR_TLS : rv) : (int)(len + PQ_AEAD_TAG_LEN);
  }
  size_t outlen = len + PQ_AEAD_TAG_LEN;
  if (gnutls_aead_cipher_encrypt(a->ctx, nonce, sizeof(nonce), ad, adlen, PQ_AEAD_TAG_LEN,
                                 buf, len, buf, &outlen) < 0)
    return PQ_ERR_TLS;
  return (int)outlen;
}

int pq_aead_open(pq_aead *a, uint64_t pn, const uint8_t *ad, size_t adlen, uint8_t *buf,
                 size_t len) {
  uint8_t nonce[PQ_AEAD_IV_LEN];
  if (!a->ctx || len > INT_MAX) return PQ_ERR_INVALID_ARG;
  if (len < PQ_AEAD_TAG_LEN) return PQ_ERR_DROP;
  make_nonce(a->iv, pn, nonce);
  size_t plen = len - PQ_AEAD_TAG_LEN;
  if (a->alg == PQ_AEAD_CHACHA20_POLY1305) {
    int rv = evp_crypt(a->ctx, 0, nonce, ad, adlen, buf, plen, buf + plen);
    return rv < 0 ? rv : (int)plen;
  }
  size_t outlen = len;
  if (gnutls_aead_cipher_decrypt(a->ctx, nonce, sizeof(nonce), ad, adlen, PQ_AEAD_TAG_LEN,
                                 buf, len, buf, &outlen) < 0)
    return PQ_ERR_DROP;
  return (int)outlen;
}

/* ---- header protection ------------------------------------------------------------ */

int pq_hp_init(pq_hp *hp, pq_aead_alg alg, const uint8_t *key) {
  memset(hp, 0, sizeof(*hp));
  if (!key) return PQ_ERR_INVALID_ARG;
  hp->alg = alg;
  switch (alg) {
  case PQ_AEAD_AES_128_GCM: aes128_set_encrypt_key(&hp->u.aes128, key); return 0;
  case PQ_AEAD_AES_256_GCM: aes256_set_encrypt_key(&hp->u.aes256, key); return 0;
  case PQ_AEAD_CHACHA20_POLY1305: chacha_set_key(&hp->u.chacha, key); return 0;
  }
  return PQ_ERR_INVALID_ARG;
}

void pq_hp_mask(const pq_hp *hp, const uint8_t *sample, uint8_t mask[PQ_HP_MASK_LEN]) {
  uint8_t block[16];
  switch (hp->alg) {
  case PQ_AEAD_AES_128_GCM: aes128_encrypt(&hp->u.aes128, 16, block, sample); break;
  case PQ_AEAD_AES_256_GCM: aes256_encrypt(&hp->u.aes256, 16, block, sample); break;
  case PQ_AEAD_CHACHA20_POLY1305: {
    /* counter = sample[0..3] little-endian, nonce = sample[4..15]; mask = keystream. */
    struct chacha_ctx c = hp->u.chacha;
    static const uint8_t zero[PQ_HP_MASK_LEN] = {0};
    chacha_set_nonce96(&c, sample + 4);
    chacha_set_counter32(&c, sample);
    chacha_crypt32(&c, PQ_HP_MASK_LEN, block, zero);
    memset(&c, 0, sizeof(c));
    break;
  }
  default: memset(block, 0, sizeof(block)); break;
  }
  memcpy(mask, block, PQ_HP_MASK_LEN);
}

void pq_hp_free(pq_hp *hp) { memset(hp, 0, sizeof(*hp)); }

/* ---- key derivation ---------------------------------------------------------------- */

int pq_hkdf_expand_label(pq_aead_alg alg, const uint8_t *secret, size_t secretlen,
                         const char *label, const uint8_t *ctx, size_t ctxlen, uint8_t *out,
                         size_t outlen) {
  uint8_t info[2 + 1 + 6 + 64 + 1 + 255];
  size_t llen = label ? strlen(label) : 0;
  size_t hlen = pq_aead_secret_len(alg);
  if (!hlen || !secret || !label || llen > 64 || ctxlen > 255 || (ctxlen && !ctx) ||
      outlen > 255 * hlen || outlen > 0xffff)
    return PQ_ERR_INVALID_ARG;
  size_t n = 0;
  info[n++] = (uint8_t)(outlen >> 8);
  info[n++] = (uint8_t)outlen;
  info[n++] = (uint8_t)(6 + llen);
  memcpy(info + n, "tls13 ", 6);
  n += 6;
  memcpy(info + n, label, llen);
  n += llen;
  info[n++] = (uint8_t)ctxlen;
  if (ctxlen) memcpy(info + n, ctx, ctxlen);
  n += ctxlen;
  gnutls_datum_t key = {(unsigned char *)secret, (unsigned)secretlen};
  gnutls_datum_t inf = {info, (unsigned)n};
  if (gnutls_hkdf_expand(hash_of(alg), &key, &inf, out, outlen) < 0) return PQ_ERR_TLS;
  return 0;
}

int pq_derive_packet_keys_ex(uint32_t version, pq_aead_alg alg, const uint8_t *secret,
                             uint8_t *key, uint8_t *iv, uint8_t *hp) {
  const version_params *vp = params_of(version);
  size_t klen = pq_aead_key_len(alg), slen = pq_aead_secret_len(alg);
  int rv;
  if (!klen || !vp) return PQ_ERR_INVALID_ARG;
  if ((rv = pq_hkdf_expand_label(alg, secret, slen, vp->key_label, NULL, 0, key, klen)) < 0)
    return rv;
  if ((rv = pq_hkdf_expand_label(alg, secret, slen, vp->iv_label, NULL, 0, iv,
                                 PQ_AEAD_IV_LEN)) < 0)
    return rv;
  return pq_hkdf_expand_label(alg, secret, slen, vp->hp_label, NULL, 0, hp, klen);
}

int pq_derive_packet_keys(pq_aead_alg alg, const uint8_t *secret, uint8_t *key, uint8_t *iv,
                          uint8_t *hp) {
  return pq_derive_packet_keys_ex(PQ_VERSION_1, alg, secret, key, iv, hp);
}

int pq_initial_secrets(uint32_t version, const uint8_t *dcid, size_t dcidlen,
                       uint8_t client_secret[32], uint8_t server_secret[32]) {
  uint8_t initial[32];
  int rv = 0;
  const version_params *vp = params_of(version);
  if (!vp || dcidlen > 20 || (dcidlen && !dcid)) return PQ_ERR_INVALID_ARG;
  static const uint8_t empty = 0;
  gnutls_datum_t ikm = {(unsigned char *)(dcidlen ? dcid : &empty), (unsigned)dcidlen};
  gnutls_datum_t salt = {(unsigned char *)vp->salt, 20};
  if (gnutls_hkdf_extract(GNUTLS_MAC_SHA256, &ikm, &salt, initial) < 0) return PQ_ERR_TLS;
  if (client_secret)
    rv = pq_hkdf_expand_label(PQ_AEAD_AES_128_GCM, initial, 32, "client in", NULL, 0,
                              client_secret, 32);
  if (rv == 0 && server_secret)
    rv = pq_hkdf_expand_label(PQ_AEAD_AES_128_GCM, initial, 32, "server in", NULL, 0,
                              server_secret, 32);
  memset(initial, 0, sizeof(initial));
  return rv;
}

/* ---- pq_keys ----------------------------------------------------------------------- */

int pq_keys_init_ex(pq_keys *k, uint32_t version, pq_aead_alg alg, const uint8_t *secret,
                    size_t secretlen) {
  uint8_t key[PQ_MAX_KEY_LEN], iv[PQ_AEAD_IV_LEN], hpkey[PQ_MAX_KEY_LEN];
  int rv;
  memset(k, 0, sizeof(*k));
  if (!secret || secretlen != pq_aead_secret_len(alg) || secretlen == 0)
    return PQ_ERR_INVALID_ARG;
  if ((rv = pq_derive_packet_keys_ex(version, alg, secret, key, iv, hpkey)) < 0) goto out;
  if ((rv = pq_aead_init(&k->aead, alg, key, iv)) < 0) goto out;
  if ((rv = pq_hp_init(&k->hp, alg, hpkey)) < 0) {
    pq_aead_free(&k->aead);
    goto out;
  }
  k->alg = alg;
  k->version = version;
  memcpy(k->secret, secret, secretlen);
  k->secret_len = secretlen;
out:
  memset(key, 0, sizeof(key));
  memset(hpkey, 0, sizeof(hpkey));
  return rv;
}

int pq_keys_init(pq_keys *k, pq_aead_alg alg, const uint8_t *secret, size_t secretlen) {
  return pq_keys_init_ex(k, PQ_VERSION_1, alg, secret, secretlen);
}

int pq_keys_init_initial(pq_keys *tx, pq_keys *rx, uint32_t version, const uint8_t *dcid,
                         size_t dcidlen, int is_server) {
  uint8_t cs[32], ss[32];
  int rv = pq_initial_secrets(version, dcid, dcidlen, cs, ss);
  if (rv == 0)
    rv = pq_keys_init_ex(tx, version, PQ_AEAD_AES_128_GCM, is_server ? ss : cs, 32);
  if (rv == 0) {
    rv = pq_keys_init_ex(rx, version, PQ_AEAD_AES_128_GCM, is_server ? cs : ss, 32);
    if (rv < 0) pq_keys_free(tx);
  }
  memset(cs, 0, sizeof(cs));
  memset(ss, 0, sizeof(ss));
  return rv;
}

int pq_keys_init_next(pq_keys *next, const pq_keys *cur) {
  uint8_t secret[PQ_MAX_SECRET_LEN];
  uint8_t key[PQ_MAX_KEY_LEN], iv[PQ_AEAD_IV_LEN];
  size_t slen = cur->secret_len;
  const version_params *vp = params_of(cur->version);
  int rv;
  if (next == cur) return PQ_ERR_INVALID_ARG;
  memset(next, 0, sizeof(*next));
  if (!vp || slen == 0 || slen != pq_aead_secret_len(cur->alg)) return PQ_ERR_INVALID_ARG;
  rv = pq_hkdf_expand_label(cur->alg, cur->secret, slen, vp->ku_label, NULL, 0, secret, slen);
  if (rv == 0)
    rv = pq_hkdf_expand_label(cur->alg, secret, slen, vp->key_label, NULL, 0, key,
                              pq_aead_key_len(cur->alg));
  if (rv == 0)
    rv = pq_hkdf_expand_label(cur->alg, secret, slen, vp->iv_label, NULL, 0, iv, sizeof(iv));
  if (rv == 0) rv = pq_aead_init(&next->aead, cur->alg, key, iv);
  if (rv == 0) {
    next->alg = cur->alg;
    next->version = cur->version;
    next->hp = cur->hp; /* header protection keys are not updated (RFC 9001 §6) */
    memcpy(next->secret, secret, slen);
    next->secret_len = slen;
  }
  memset(secret, 0, sizeof(secret));
  memset(key, 0, sizeof(key));
  return rv;
}

void pq_keys_free(pq_keys *k) {
  pq_aead_free(&k->aead);
  memset(k, 0, sizeof(*k));
}

/* ---- Retry integrity, randomness ----------------------------------------------------- */

int pq_retry_tag(uint32_t version, const uint8_t *odcid, size_t odcidlen, const uint8_t *retry,
                 size_t retrylen, uint8_t tag[PQ_AEAD_TAG_LEN]) {
  gnutls_aead_cipher_hd_t h;
  uint8_t olen = (uint8_t)odcidlen;
  const version_params *vp = params_of(version);
  if (!vp || odcidlen > 20 || !retry || (odcidlen && !odcid)) return PQ_ERR_INVALID_ARG;
  gnutls_datum_t k = {(unsigned char *)vp->retry_key, 16};
  if (gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_128_GCM, &k) < 0) return PQ_ERR_TLS;
  /* AAD = the Retry Pseudo-Packet: ODCID length, ODCID, then the Retry packet. */
  giovec_t ad[3] = {{&olen, 1}, {(void *)odcid, odcidlen}, {(void *)retry, retrylen}};
  size_t taglen = PQ_AEAD_TAG_LEN;
  int rv = gnutls_aead_cipher_encryptv2(h, vp->retry_nonce, PQ_AEAD_IV_LEN, ad, 3,
                                        NULL, 0, tag, &taglen);
  gnutls_aead_cipher_deinit(h);
  return rv < 0 || taglen != PQ_AEAD_TAG_LEN ? PQ_ERR_TLS : 0;
}

/* ---- address validation tokens ------------------------------------------------------ */

static uint64_t rd64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

static void wr64(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}

/* AAD = kind | counter | client address: a token only opens for the address it was
 * made for. */
static size_t token_ad(uint8_t *ad, const uint8_t *head, const uint8_t *addr, size_t addrlen) {
  memcpy(ad, head, 9);
  if (addrlen) memcpy(ad + 9, addr, addrlen);
  return 9 + addrlen;
}

int pq_token_seal(pq_aead *key, int kind, const uint8_t *addr, size_t addrlen,
                  const uint8_t *odcid, size_t odcidlen, uint64_t now, uint8_t *out,
                  size_t cap) {
  uint8_t ad[9 + PQ_TOKEN_MAX_ADDR_LEN], rnd[8];
  if ((kind != PQ_TOKEN_RETRY && kind != PQ_TOKEN_NEW_TOKEN) || addrlen > PQ_TOKEN_MAX_ADDR_LEN ||
      (addrlen && !addr) || odcidlen > 20 || (odcidlen && !odcid))
    return PQ_ERR_INVALID_ARG;
  size_t plen = 8 + 1 + odcidlen, total = 9 + plen + PQ_AEAD_TAG_LEN;
  if (cap < total) return PQ_ERR_NOBUF;
  if (pq_random(rnd, sizeof(rnd)) < 0) return PQ_ERR_TLS;
  uint64_t counter = rd64(rnd) >> 2; /* a random nonce counter, 62 bits */
  out[0] = (uint8_t)kind;
  wr64(out + 1, counter);
  uint8_t *p = out + 9;
  wr64(p, now);
  p[8] = (uint8_t)odcidlen;
  if (odcidlen) memcpy(p + 9, odcid, odcidlen);
  int n = pq_aead_seal(key, counter, ad, token_ad(ad, out, addr, addrlen), p, plen);
  return n < 0 ? n : (int)total;
}

int pq_token_open(pq_aead *key, const uint8_t *token, size_t len, const uint8_t *addr,
                  size_t addrlen, uint64_t now, uint64_t max_age, int *kind, uint8_t *odcid,
                  size_t *odcidlen) {
  uint8_t ad[9 + PQ_TOKEN_MAX_ADDR_LEN], buf[PQ_TOKEN_MAX_LEN];
  if (!token || len < 9 + 9 + PQ_AEAD_TAG_LEN || len > PQ_TOKEN_MAX_LEN ||
      addrlen > PQ_TOKEN_MAX_ADDR_LEN || (addrlen && !addr))
    return PQ_ERR_DROP;
  if (token[0] != PQ_TOKEN_RETRY && token[0] != PQ_TOKEN_NEW_TOKEN) return PQ_ERR_DROP;
  memcpy(buf, token + 9, len - 9); /* open a copy: the caller's token stays intact */
  int n = pq_aead_open(key, rd64(token + 1), ad, token_ad(ad, token, addr, addrlen), buf,
                       len - 9);
  if (n < 9 || (size_t)n != 9 + (size_t)buf[8] || buf[8] > 20) return PQ_ERR_DROP;
  uint64_t made = rd64(buf);
  if (made > now || now - made > max_age) return PQ_ERR_DROP;
  *kind = token[0];
  *odcidlen = buf[8];
  if (buf[8]) memcpy(odcid, buf + 9, buf[8]);
  return 0;
}

int pq_random(uint8_t *buf, size_t len) {
  return gnutls_rnd(GNUTLS_RND_NONCE, buf, len) < 0 ? PQ_ERR_TLS : 0;
}

int pq_ct_equal(const uint8_t *a, const uint8_t *b, size_t len) {
  uint8_t d = 0;
  for (size_t i = 0; i < len; i++) d |= a[i] ^ b[i];
  return d == 0;
}
