/*
 * pq_cert.h: a self-signed certificate and its private key, generated in memory (ECDSA
 * P-256, SHA-256), for the server program and the tests. Subject CN and DNS SAN = the
 * given name, plus IP SANs 127.0.0.1 and ::1; serverAuth, digitalSignature.
 */
#ifndef PLUGINOP_PQ_CERT_H
#define PLUGINOP_PQ_CERT_H

#include <stddef.h>
#include <time.h>

#include "pluginop/quic.h"

/* PEM texts (NUL-terminated, owned by the struct). Embedded: pq_cert_generate fills it,
 * pq_cert_free releases it. */
typedef struct pq_cert {
  char *cert_pem;
  size_t cert_pem_len;
  char *key_pem; /* PKCS#8, unencrypted */
  size_t key_pem_len;
} pq_cert;

/* Generates a fresh key pair and a self-signed certificate for |name| (a DNS name,
 * e.g. "localhost"; 1..253 bytes) valid from |now| - 1 hour for |days| days (1..3650).
 * Returns 0, PQ_ERR_INVALID_ARG, PQ_ERR_NOMEM or PQ_ERR_TLS. On error |c| is zeroed. */
int pq_cert_generate(pq_cert *c, const char *name, time_t now, unsigned days);

/* Writes the certificate to |cert_path| and the key to |key_path| (mode 0600); either
 * path may be NULL. Returns 0, PQ_ERR_INVALID_ARG, or PQ_ERR_FATAL if a file cannot be
 * written (errno tells why). */
int pq_cert_write_files(const pq_cert *c, const char *cert_path, const char *key_path);

/* Base64 of the SHA-256 of the certificate's SubjectPublicKeyInfo, the value chromium's
 * --ignore-certificate-errors-spki-list wants, NUL-terminated into |out| (>= 45 bytes).
 * Returns 0, PQ_ERR_INVALID_ARG, PQ_ERR_NOBUF or PQ_ERR_TLS. */
int pq_cert_spki_sha256_b64(const pq_cert *c, char *out, size_t cap);

/* Frees the PEM strings (wiping the key). Safe on a zeroed or freed struct. */
void pq_cert_free(pq_cert *c);

#endif
