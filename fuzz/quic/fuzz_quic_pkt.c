/* fuzz_quic_pkt.c: QUIC packet parsing and unprotection of arbitrary bytes.
 * Input: byte 0 = short header CID length (mod 21) and key choice, the rest = one UDP
 * datagram. Every packet of the datagram is parsed; packets with a packet number are
 * unprotected and decrypted with Initial keys from their DCID and version (v1/v2) or with
 * fixed 1-RTT keys of each cipher; VN lists, Retry tags and stateless reset tokens are
 * checked. Nothing may crash or read out of bounds. */
#include <stdlib.h>
#include <string.h>

#include "pq_pkt.h"

static void open_with(uint8_t *pkt, const pq_pkt_hdr *parsed, pq_keys *k) {
  pq_pkt_hdr h = *parsed;
  if (pq_pkt_unprotect(pkt, &h, &k->hp, 0x1000) < 0) return;
  if (pq_pkt_decrypt(pkt, &h, &k->aead) == 0 && h.payload_len > h.len) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const uint8_t secret[48] = {0x42};
  static const uint8_t token[16] = {0x11};
  if (size < 1) return 0;
  size_t cid_len = data[0] % 21;
  pq_aead_alg alg = (pq_aead_alg)((data[0] >> 5) % 3);
  size_t len = size - 1;
  uint8_t *dg = malloc(len ? len : 1);
  if (!dg) return 0;
  memcpy(dg, data + 1, len);
  pq_pkt_is_stateless_reset(dg, len, token);
  pq_pkt_hdr hs[8];
  int n = pq_pkt_split(dg, len, cid_len, hs, 8);
  size_t off = 0;
  for (int i = 0; i < n; i++) {
    pq_pkt_hdr *h = &hs[i];
    if (off > len || h->len > len - off || h->len == 0) abort(); /* split stays in bounds */
    uint8_t *pkt = dg + off;
    if (h->type == PQ_PKT_VERSION_NEGOTIATION) {
      for (size_t v = 0; v < h->vn_count; v++) (void)pq_pkt_vn_version(h, v);
    } else if (h->type == PQ_PKT_RETRY) {
      (void)pq_pkt_verify_retry(pkt, h->len, h->dcid, h->dcid_len);
    } else if (h->type == PQ_PKT_INITIAL) {
      pq_keys tx, rx;
      if (h->token_len) { /* a server checks the token first */
        static const uint8_t tkey[16] = {7}, tiv[12] = {9}, addr[6] = {127, 0, 0, 1, 1, 2};
        pq_aead ta;
        uint8_t odcid[20];
        size_t olen;
        int kind;
        if (pq_aead_init(&ta, PQ_AEAD_AES_128_GCM, tkey, tiv) == 0) {
          if (pq_token_open(&ta, h->token, h->token_len, addr, 6, 100, 50, &kind, odcid,
                            &olen) == 0 && olen > 20)
            abort();
          pq_aead_free(&ta);
        }
      }
      if (pq_keys_init_initial(&tx, &rx, h->version, h->dcid, h->dcid_len, 1) == 0) {
        open_with(pkt, h, &rx);
        pq_keys_free(&tx);
        pq_keys_free(&rx);
      }
    } else if (h->type != PQ_PKT_UNSUPPORTED_VERSION) {
      pq_keys k;
      if (pq_keys_init(&k, alg, secret, pq_aead_secret_len(alg)) == 0) {
        open_with(pkt, h, &k);
        pq_keys_free(&k);
      }
    }
    off += h->len;
  }
  free(dg);
  return 0;
}
