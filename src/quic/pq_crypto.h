/*
 * pq_crypto.h: QUIC packet protection primitives (RFC 9001 §5).
 *
 *   secret --HKDF-Expand-Label("quic key"/"quic iv"/"quic hp")--> pq_keys
 *   pq_keys.aead  protects the payload: nonce = iv XOR pn, AAD = the packet header
 *   pq_keys.hp    masks the first byte and the packet number (5-byte mask from a sample)
 *
 * Backends, chosen per cipher by measured speed on 1200-byte packets
 * (bench/quic/aead_compare.c): AES-GCM through GnuTLS's gnutls_aead_cipher_*,
 * ChaCha20-Poly1305 through OpenSSL libcrypto EVP, header protection through nettle (AES
 * one block / ChaCha20 with the counter from the sample). All contexts are created once per key;
 * sealing or opening a packet allocates nothing and runs no key schedule.
 *
 * Errors are pq_status codes (pluginop/quic.h): PQ_ERR_INVALID_ARG for bad arguments,
 * PQ_ERR_DROP when authentication fails, PQ_ERR_NOMEM / PQ_ERR_TLS (backend failure).
 */
#ifndef PLUGINOP_PQ_CRYPTO_H
#define PLUGINOP_PQ_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include <nettle/aes.h>
#include <nettle/chacha.h>

#include "pluginop/quic.h"

#define PQ_VERSION_1 UINT32_C(0x00000001)
#define PQ_VERSION_2 UINT32_C(0x6b3343cf) /* RFC 9369 */

/* 1 if |version| is one we can protect packets for (v1, v2), else 0. */
int pq_version_is_supported(uint32_t version);

#define PQ_AEAD_TAG_LEN 16
#define PQ_AEAD_IV_LEN 12
#define PQ_MAX_KEY_LEN 32
#define PQ_MAX_SECRET_LEN 48 /* SHA-384 */
#define PQ_HP_SAMPLE_LEN 16
#define PQ_HP_MASK_LEN 5

/* The packet protection algorithms of the TLS 1.3 cipher suites QUIC uses. The hash is
 * SHA-256 except for AES-256-GCM (SHA-384). */
typedef enum pq_aead_alg {
  PQ_AEAD_AES_128_GCM = 0,       /* TLS_AES_128_GCM_SHA256 */
  PQ_AEAD_AES_256_GCM = 1,       /* TLS_AES_256_GCM_SHA384 */
  PQ_AEAD_CHACHA20_POLY1305 = 2, /* TLS_CHACHA20_POLY1305_SHA256 */
} pq_aead_alg;

/* AEAD key length of |alg| (16 or 32), 0 for an unknown value. */
size_t pq_aead_key_len(pq_aead_alg alg);
/* Hash (and traffic secret) length of |alg|'s cipher suite: 32 or 48, 0 if unknown. */
size_t pq_aead_secret_len(pq_aead_alg alg);
/* Human name ("AES-128-GCM", ...), "?" if unknown. Static string. */
const char *pq_aead_name(pq_aead_alg alg);

/* AEAD usage limits (RFC 9001 §6.6), in packets: initiate a key update before sending
 * pq_aead_confidentiality_limit(alg) packets with one key; close the connection
 * (AEAD_LIMIT_REACHED) after pq_aead_integrity_limit(alg) packets failed to open with
 * any key of the connection. UINT64_MAX for an unknown alg. */
uint64_t pq_aead_confidentiality_limit(pq_aead_alg alg);
uint64_t pq_aead_integrity_limit(pq_aead_alg alg);

/* One direction's payload protection: a backend context keyed once, and the static IV.
 * Embedded struct: pq_aead_init / pq_aead_free. Not thread-safe (one packet at a time). */
typedef struct pq_aead {
  pq_aead_alg alg;
  void *ctx; /* gnutls_aead_cipher_hd_t or EVP_CIPHER_CTX* */
  uint8_t iv[PQ_AEAD_IV_LEN];
} pq_aead;

/* Keys |a| with |key| (pq_aead_key_len(alg) bytes) and |iv| (12 bytes); both copied.
 * Returns 0, PQ_ERR_INVALID_ARG (unknown alg), PQ_ERR_NOMEM or PQ_ERR_TLS. On error |a|
 * needs no pq_aead_free (but calling it is harmless). */
int pq_aead_init(pq_aead *a, pq_aead_alg alg, const uint8_t *key, const uint8_t *iv);
/* Releases the backend context and wipes the IV. Safe on a zeroed or freed struct. */
void pq_aead_free(pq_aead *a);

/* Encrypts |len| bytes at |buf| in place for packet number |pn| with associated data
 * |ad|/|adlen| (the header; must not overlap buf) and appends the 16-byte tag at
 * buf+len (the caller provides the room). Returns len + 16, PQ_ERR_INVALID_ARG or
 * PQ_ERR_TLS. */
int pq_aead_seal(pq_aead *a, uint64_t pn, const uint8_t *ad, size_t adlen, uint8_t *buf,
                 size_t len);

/* Decrypts |len| bytes at |buf| (ciphertext then 16-byte tag) in place. Returns the
 * plaintext length (len - 16), or PQ_ERR_DROP if |len| < 16 or authentication fails: the
 * bytes at |buf| are then unspecified and the packet must be discarded. */
int pq_aead_open(pq_aead *a, uint64_t pn, const uint8_t *ad, size_t adlen, uint8_t *buf,
                 size_t len);

/* Header protection key (RFC 9001 §5.4). Plain data: can be copied by assignment (a key
 * update keeps the same HP key). */
typedef struct pq_hp {
  pq_aead_alg alg;
  union {
    struct aes128_ctx aes128;
    struct aes256_ctx aes256;
    struct chacha_ctx chacha;
  } u;
} pq_hp;

/* Keys |hp| with |key| (pq_aead_key_len(alg) bytes, copied into the schedule).
 * Returns 0 or PQ_ERR_INVALID_ARG. */
int pq_hp_init(pq_hp *hp, pq_aead_alg alg, const uint8_t *key);
/* Computes the 5-byte mask from the 16-byte |sample| (RFC 9001 §5.4.3/§5.4.4). */
void pq_hp_mask(const pq_hp *hp, const uint8_t *sample, uint8_t mask[PQ_HP_MASK_LEN]);
/* Wipes the key schedule. */
void pq_hp_free(pq_hp *hp);

/* HKDF-Expand-Label (RFC 8446 §7.1) with the hash of |alg|'s suite: writes |outlen|
 * bytes (<= 255 * hash length) to |out|. |label| is without the "tls13 " prefix, at
 * most 64 bytes; |ctx| may be NULL when |ctxlen| is 0. Returns 0, PQ_ERR_INVALID_ARG,
 * PQ_ERR_TLS. */
int pq_hkdf_expand_label(pq_aead_alg alg, const uint8_t *secret, size_t secretlen,
                         const char *label, const uint8_t *ctx, size_t ctxlen, uint8_t *out,
                         size_t outlen);

/* Derives the packet key, IV and header protection key from a traffic |secret|
 * (pq_aead_secret_len(alg) bytes) with QUIC v1's labels. |key| and |hp| get
 * pq_aead_key_len(alg) bytes, |iv| 12. Returns 0, PQ_ERR_INVALID_ARG, PQ_ERR_TLS. */
int pq_derive_packet_keys(pq_aead_alg alg, const uint8_t *secret, uint8_t *key, uint8_t *iv,
                          uint8_t *hp);
/* The same with the labels of |version| ("quicv2 key", ... for v2). Also
 * PQ_ERR_INVALID_ARG for an unsupported version. */
int pq_derive_packet_keys_ex(uint32_t version, pq_aead_alg alg, const uint8_t *secret,
                             uint8_t *key, uint8_t *iv, uint8_t *hp);

/* Derives the client and server Initial secrets (32 bytes each) for |version| (v1 or
 * v2: the salt differs) from the client's first Destination Connection ID |dcid| (<= 20 bytes).
 * Either output may be NULL. Returns 0, PQ_ERR_INVALID_ARG (unknown version, dcid too
 * long), PQ_ERR_TLS. */
int pq_initial_secrets(uint32_t version, const uint8_t *dcid, size_t dcidlen,
                       uint8_t client_secret[32], uint8_t server_secret[32]);

/* Everything to protect or unprotect packets in one direction at one encryption level:
 * the traffic secret (kept for key updates), the AEAD and the header protection key.
 * Embedded struct: pq_keys_init / pq_keys_free. */
typedef struct pq_keys {
  pq_aead_alg alg;
  uint32_t version; /* selects the labels, also for key updates */
  uint8_t secret[PQ_MAX_SECRET_LEN];
  size_t secret_len;
  pq_aead aead;
  pq_hp hp;
} pq_keys;

/* Sets up |k| from a traffic |secret| of pq_aead_secret_len(alg) bytes (copied) for QUIC
 * v1; this is what the connection does with each secret pq_tls reports. Returns 0,
 * PQ_ERR_INVALID_ARG, PQ_ERR_NOMEM, PQ_ERR_TLS. */
int pq_keys_init(pq_keys *k, pq_aead_alg alg, const uint8_t *secret, size_t secretlen);
/* The same for the negotiated |version| (v1 or v2; the labels differ). */
int pq_keys_init_ex(pq_keys *k, uint32_t version, pq_aead_alg alg, const uint8_t *secret,
                    size_t secretlen);

/* Sets up the Initial keys for |version| and |dcid| (the DCID of the client's first
 * Initial). |is_server| selects the direction: |tx| gets our keys, |rx| the peer's.
 * Returns as pq_initial_secrets / pq_keys_init. On error nothing needs freeing. */
int pq_keys_init_initial(pq_keys *tx, pq_keys *rx, uint32_t version, const uint8_t *dcid,
                         size_t dcidlen, int is_server);

/* Key update (RFC 9001 §6): sets up |next| with secret = HKDF-Expand-Label(cur.secret,
 * "quic ku" ("quicv2 ku" for v2), "", hash len), new AEAD key and IV, and the SAME header protection key.
 * |next| must not alias |cur|. Returns as pq_keys_init. */
int pq_keys_init_next(pq_keys *next, const pq_keys *cur);

/* Frees the AEAD context and wipes the secrets. Safe on a zeroed or freed struct. */
void pq_keys_free(pq_keys *k);

/* Computes the Retry Integrity Tag (RFC 9001 §5.8; RFC 9369 §3.3.3 for v2) of the Retry packet |retry| /
 * |retrylen| (everything before the tag) sent in answer to a client Initial whose DCID
 * was |odcid| (<= 20 bytes). Returns 0, PQ_ERR_INVALID_ARG (version, lengths), PQ_ERR_TLS. */
int pq_retry_tag(uint32_t version, const uint8_t *odcid, size_t odcidlen, const uint8_t *retry,
                 size_t retrylen, uint8_t tag[PQ_AEAD_TAG_LEN]);

/* Address validation tokens (RFC 9000 §8.1): what a server puts in a Retry or NEW_TOKEN
 * and checks when a client returns it. Sealed with the server's own key (make one
 * pq_aead with PQ_AEAD_AES_128_GCM from 16 random key bytes and 12 random IV bytes, per
 * endpoint), bound to the client's address bytes by the AEAD, carrying the time it was
 * made and (Retry) the original DCID:
 *
 *   token = kind (1) | nonce counter (8) | AEAD(time (8) | odcid len (1) | odcid) | tag (16)
 */
#define PQ_TOKEN_RETRY 1     /* from a Retry: short-lived, carries the original DCID */
#define PQ_TOKEN_NEW_TOKEN 2 /* from NEW_TOKEN: for a later connection */
#define PQ_TOKEN_MAX_LEN (1 + 8 + 8 + 1 + 20 + PQ_AEAD_TAG_LEN)
#define PQ_TOKEN_MAX_ADDR_LEN 64

/* Writes a token of |kind| for the client at |addr| / |addrlen| (the raw address and
 * port bytes, <= 64) made at |now| (any monotonic unit, e.g. ns) with the original DCID
 * |odcid| (<= 20 bytes; 0 for NEW_TOKEN) into |out| (>= PQ_TOKEN_MAX_LEN). The nonce
 * counter is random. Returns the token length, PQ_ERR_INVALID_ARG, PQ_ERR_NOBUF or
 * PQ_ERR_TLS. */
int pq_token_seal(pq_aead *key, int kind, const uint8_t *addr, size_t addrlen,
                  const uint8_t *odcid, size_t odcidlen, uint64_t now, uint8_t *out,
                  size_t cap);

/* Checks a token a client sent from |addr| / |addrlen|: authentic, of a known kind, made
 * at most |max_age| before |now| (and not after it). On success sets *kind, copies the
 * original DCID to |odcid| (room for 20) and its length to *odcidlen. Returns 0 or
 * PQ_ERR_DROP (forged, other address, expired, malformed: treat as no token / INVALID_TOKEN
 * per RFC 9000 §8.1.3). */
int pq_token_open(pq_aead *key, const uint8_t *token, size_t len, const uint8_t *addr,
                  size_t addrlen, uint64_t now, uint64_t max_age, int *kind, uint8_t *odcid,
                  size_t *odcidlen);

/* Fills |buf| with |len| cryptographically random bytes (GnuTLS's nonce RNG).
 * Returns 0 or PQ_ERR_TLS. */
int pq_random(uint8_t *buf, size_t len);

/* Constant-time comparison of |len| bytes: 1 if equal, 0 if not. */
int pq_ct_equal(const uint8_t *a, const uint8_t *b, size_t len);

#endif
