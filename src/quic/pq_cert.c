/*
 * pq_cert.c: self-signed certificate generation with GnuTLS's X.509 API.
 */
#include "pq_cert.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

static int map_err(int rv) { return rv == GNUTLS_E_MEMORY_ERROR ? PQ_ERR_NOMEM : PQ_ERR_TLS; }

/* Copies a gnutls datum into a NUL-terminated malloc'ed string. */
static int dup_datum(const gnutls_datum_t *d, char **out, size_t *len) {
  char *s = malloc((size_t)d->size + 1);
  if (!s) return PQ_ERR_NOMEM;
  memcpy(s, d->data, d->size);
  s[d->size] = 0;
  *out = s;
  *len = d->size;
  return 0;
}

static int fill_cert(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const char *name,
                     time_t now, unsigned days) {
  static const uint8_t ip4[4] = {127, 0, 0, 1};
  static const uint8_t ip6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  uint8_t serial[16], keyid[64];
  size_t keyid_len = sizeof(keyid);
  int rv;
  if ((rv = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial))) < 0) return rv;
  serial[0] &= 0x7f; /* a positive INTEGER */
  serial[0] |= 0x01;
  if ((rv = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
      (rv = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
      (rv = gnutls_x509_crt_set_activation_time(crt, now - 3600)) < 0 ||
      (rv = gnutls_x509_crt_set_expiration_time(crt, now + (time_t)days * 86400)) < 0 ||
      (rv = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, name,
                                          (unsigned)strlen(name))) < 0 ||
      (rv = gnutls_x509_crt_set_issuer_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, name,
                                                 (unsigned)strlen(name))) < 0 ||
      (rv = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, name,
                                                 (unsigned)strlen(name),
                                                 GNUTLS_FSAN_APPEND)) < 0 ||
      (rv = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip4, 4,
                                                 GNUTLS_FSAN_APPEND)) < 0 ||
      (rv = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip6, 16,
                                                 GNUTLS_FSAN_APPEND)) < 0 ||
      (rv = gnutls_x509_crt_set_key(crt, key)) < 0 ||
      (rv = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
      (rv = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
      (rv = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0)
    return rv;
  if ((rv = gnutls_x509_crt_get_key_id(crt, 0, keyid, &keyid_len)) < 0 ||
      (rv = gnutls_x509_crt_set_subject_key_id(crt, keyid, keyid_len)) < 0)
    return rv;
  return gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0);
}

int pq_cert_generate(pq_cert *c, const char *name, time_t now, unsigned days) {
  gnutls_x509_privkey_t key = NULL;
  gnutls_x509_crt_t crt = NULL;
  gnutls_datum_t d = {NULL, 0};
  int rv;
  memset(c, 0, sizeof(*c));
  if (!name || !*name || strlen(name) > 253 || days == 0 || days > 3650)
    return PQ_ERR_INVALID_ARG;
  if ((rv = gnutls_x509_privkey_init(&key)) < 0) goto fail;
  rv = gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
                                    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
  if (rv < 0 || (rv = gnutls_x509_crt_init(&crt)) < 0) goto fail;
  if ((rv = fill_cert(crt, key, name, now, days)) < 0) goto fail;
  if ((rv = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d)) < 0) goto fail;
  rv = dup_datum(&d, &c->cert_pem, &c->cert_pem_len);
  gnutls_free(d.data);
  d.data = NULL;
  if (rv < 0) goto out;
  rv = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN,
                                         &d);
  if (rv < 0) goto fail;
  rv = dup_datum(&d, &c->key_pem, &c->key_pem_len);
  gnutls_memset(d.data, 0, d.size);
  gnutls_free(d.data);
  goto out;
fail:
  rv = map_err(rv);
out:
  if (crt) gnutls_x509_crt_deinit(crt);
  if (key) gnutls_x509_privkey_deinit(key);
  if (rv < 0) pq_cert_free(c);
  return rv;
}

static int write_file(const char *path, const char *data, size_t len, int mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return PQ_ERR_FATAL;
  size_t off = 0;
  while (off < len) {
    ssize_t n = write(fd, data + off, len - off);
    if (n <= 0) {
      close(fd);
      return PQ_ERR_FATAL;
    }
    off += (size_t)n;
  }
  return close(fd) == 0 ? 0 : PQ_ERR_FATAL;
}

int pq_cert_write_files(const pq_cert *c, const char *cert_path, const char *key_path) {
  int rv = 0;
  if (!c->cert_pem || !c->key_pem) return PQ_ERR_INVALID_ARG;
  if (cert_path) rv = write_file(cert_path, c->cert_pem, c->cert_pem_len, 0644);
  if (rv == 0 && key_path) rv = write_file(key_path, c->key_pem, c->key_pem_len, 0600);
  return rv;
}

int pq_cert_spki_sha256_b64(const pq_cert *c, char *out, size_t cap) {
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  gnutls_x509_crt_t crt;
  gnutls_datum_t pem, der = {NULL, 0};
  uint8_t hash[32];
  int rv;
  if (!c->cert_pem || !out) return PQ_ERR_INVALID_ARG;
  if (cap < 45) return PQ_ERR_NOBUF;
  pem.data = (unsigned char *)c->cert_pem;
  pem.size = (unsigned)c->cert_pem_len;
  if ((rv = gnutls_x509_crt_init(&crt)) < 0) return map_err(rv);
  gnutls_pubkey_t pub = NULL;
  if ((rv = gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM)) >= 0 &&
      (rv = gnutls_pubkey_init(&pub)) >= 0 &&
      (rv = gnutls_pubkey_import_x509(pub, crt, 0)) >= 0 &&
      (rv = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der)) >= 0)
    rv = gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, hash);
  gnutls_free(der.data);
  if (pub) gnutls_pubkey_deinit(pub);
  gnutls_x509_crt_deinit(crt);
  if (rv < 0) return map_err(rv);
  /* 32 bytes -> 44 characters with one '=' of padding. */
  size_t o = 0;
  for (size_t i = 0; i < 33; i += 3) {
    uint32_t v = (uint32_t)hash[i] << 16 | (i + 1 < 32 ? (uint32_t)hash[i + 1] << 8 : 0) |
                 (i + 2 < 32 ? hash[i + 2] : 0);
    out[o++] = b64[(v >> 18) & 63];
    out[o++] = b64[(v >> 12) & 63];
    out[o++] = i + 1 < 32 ? b64[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < 32 ? b64[v & 63] : '=';
  }
  out[o] = 0;
  return 0;
}

void pq_cert_free(pq_cert *c) {
  if (c->key_pem) {
    memset(c->key_pem, 0, c->key_pem_len);
    free(c->key_pem);
  }
  free(c->cert_pem);
  memset(c, 0, sizeof(*c));
}
