/*
 * pq_pkt.h: QUIC packet headers (RFC 9000 §17), packet numbers (RFC 9000 §17.1, A.2,
 * A.3), header and payload protection of whole packets (RFC 9001 §5), coalesced
 * packets, Version Negotiation, Retry and Stateless Reset.
 *
 * Receiving, for each datagram:
 *
 *   pq_pkt_hdr h;
 *   size_t off = 0;
 *   while (off < len) {
 *     if (pq_pkt_parse(dgram + off, len - off, my_cid_len, &h) < 0) break; // drop rest
 *     ... pick keys by h.type (and DCID); none yet -> buffer or skip h.len bytes
 *     if (pq_pkt_unprotect(dgram + off, &h, &keys.hp, largest_pn[space]) == 0 &&
 *         pq_pkt_decrypt(dgram + off, &h, &keys.aead) == 0)
 *       ... h.pn, h.key_phase, h.reserved (must be 0 after decryption), frames in
 *           h.payload / h.payload_len
 *     off += h.len;
 *   }
 *
 * Sending one packet:
 *
 *   pq_pkt_build b = {.type = PQ_PKT_HANDSHAKE, .version = PQ_VERSION_1, ...,
 *                     .pn = next_pn, .pn_len = pq_pkt_pn_len(next_pn, largest_acked)};
 *   int n = pq_pkt_write_header(buf, cap, &b, &h);   // n = h.hdr_len
 *   ... write frames at buf + h.hdr_len, payload_len bytes ...
 *   int total = pq_pkt_seal(buf, cap, &h, payload_len, &keys.aead, &keys.hp);
 *
 * All parsing is bounded by the lengths given; malformed input returns PQ_ERR_DROP.
 * Errors are pq_status codes (pluginop/quic.h).
 */
#ifndef PLUGINOP_PQ_PKT_H
#define PLUGINOP_PQ_PKT_H

#include <stddef.h>
#include <stdint.h>

#include "pq_crypto.h"

#define PQ_MAX_CID_LEN 20
#define PQ_STATELESS_RESET_TOKEN_LEN 16
#define PQ_MIN_STATELESS_RESET_LEN 21 /* 5 unpredictable bytes + token (RFC 9000 §10.3) */
#define PQ_PN_NONE UINT64_MAX         /* "no packet yet" for largest_pn / largest_acked */
#define PQ_PN_MAX ((UINT64_C(1) << 62) - 1)

typedef enum pq_pkt_type {
  PQ_PKT_INITIAL = 0,   /* long header types 0..3, in wire order */
  PQ_PKT_0RTT = 1,
  PQ_PKT_HANDSHAKE = 2,
  PQ_PKT_RETRY = 3,
  PQ_PKT_1RTT = 4,      /* short header */
  PQ_PKT_VERSION_NEGOTIATION = 5,
  PQ_PKT_UNSUPPORTED_VERSION = 6, /* long header of a version we do not speak: only the
                                     invariant fields (version, CIDs) are valid */
} pq_pkt_type;

/* A parsed packet. Pointers point into the buffer given to pq_pkt_parse (borrowed, valid
 * while it is). Fields marked (unprotect) are set by pq_pkt_unprotect, (decrypt) by
 * pq_pkt_decrypt, (write) by pq_pkt_write_header. */
typedef struct pq_pkt_hdr {
  pq_pkt_type type;
  uint32_t version;          /* 0 for short headers and Version Negotiation */
  const uint8_t *dcid;       /* up to 20 bytes (255 for UNSUPPORTED_VERSION / VN) */
  size_t dcid_len;
  const uint8_t *scid;       /* long headers only */
  size_t scid_len;
  const uint8_t *token;      /* Initial: the token (may be empty); Retry: the retry token */
  size_t token_len;
  const uint8_t *vn_versions; /* Version Negotiation: vn_count big-endian 32-bit versions */
  size_t vn_count;
  size_t pn_offset;          /* where the (protected) packet number starts */
  size_t len;                /* bytes of this packet: the next coalesced packet starts here */
  uint8_t first;             /* (unprotect) first byte, protection removed */
  size_t pn_len;             /* (unprotect/write) 1..4 */
  uint64_t pn;               /* (unprotect/write) full packet number */
  size_t hdr_len;            /* (unprotect/write) pn_offset + pn_len: the AEAD's AAD */
  int key_phase;             /* (unprotect) short header Key Phase bit */
  int spin;                  /* (unprotect) short header spin bit */
  int reserved;              /* (unprotect) reserved bits value: non-zero is a
                                PROTOCOL_VIOLATION once the packet decrypts */
  const uint8_t *payload;    /* (decrypt) the frames, in the caller's buffer */
  size_t payload_len;        /* (decrypt) */
  size_t length_offset;      /* (write) where the Length field goes, 0 for short headers */
  size_t length_size;        /* (write) bytes reserved for it (2 or 4) */
} pq_pkt_hdr;

/* Parses the unprotected part of the packet at |buf| / |len| (the rest of a datagram).
 * |short_dcid_len| is the length of our connection IDs (short headers do not carry it).
 * Sets type, version, CIDs, token, pn_offset and len. Long header v1/v2 packets end
 * where their Length field says (v2's type bits are mapped to the same pq_pkt_type);
 * Retry, Version Negotiation, unsupported versions and short
 * header packets take the rest of the datagram.
 * Returns 0, or PQ_ERR_DROP when malformed: empty, truncated, fixed bit 0 (except VN),
 * CID longer than 20 (v1/v2), Length beyond the datagram, VN list empty or not a multiple
 * of 4, Retry without room for its tag. |h| is then unspecified. */
int pq_pkt_parse(const uint8_t *buf, size_t len, size_t short_dcid_len, pq_pkt_hdr *h);

/* Parses every packet of a datagram into |hdrs| (up to |max|), stopping at the first
 * malformed one (RFC 9000 §12.2: the rest of the datagram is dropped). hdrs[i] offsets
 * are relative to hdrs[i]'s own start: packet i starts at the sum of the previous
 * hdrs[].len. Returns the number of packets parsed (0 if the first is malformed). */
int pq_pkt_split(const uint8_t *dgram, size_t len, size_t short_dcid_len, pq_pkt_hdr *hdrs,
                 size_t max);

/* Removes header protection in place from the packet at |pkt| (the bytes parsed into
 * |h|): unmasks the first byte and the packet number, then decodes the packet number
 * against |largest_pn|, the largest successfully processed in that packet number space
 * (PQ_PN_NONE if none). Sets first, pn_len, pn, hdr_len, key_phase, spin, reserved.
 * Returns 0, PQ_ERR_INVALID_ARG (type without packet number), PQ_ERR_DROP (packet too
 * short to sample: fewer than 20 bytes after pn_offset). */
int pq_pkt_unprotect(uint8_t *pkt, pq_pkt_hdr *h, const pq_hp *hp, uint64_t largest_pn);

/* Decrypts the payload in place after pq_pkt_unprotect, with AAD = pkt[0, hdr_len).
 * Sets payload (inside |pkt|) and payload_len. Returns 0 or PQ_ERR_DROP (authentication
 * failed: drop the packet; the payload bytes are then garbage). */
int pq_pkt_decrypt(uint8_t *pkt, pq_pkt_hdr *h, pq_aead *aead);

/* What pq_pkt_write_header writes. CIDs and token are copied into the packet. */
typedef struct pq_pkt_build {
  pq_pkt_type type;     /* INITIAL, 0RTT, HANDSHAKE or 1RTT */
  uint32_t version;     /* long headers: PQ_VERSION_1 or PQ_VERSION_2 */
  const uint8_t *dcid;
  size_t dcid_len;      /* <= 20 */
  const uint8_t *scid;  /* long headers */
  size_t scid_len;      /* <= 20 */
  const uint8_t *token; /* Initial only, may be NULL */
  size_t token_len;
  uint64_t pn;          /* full packet number (<= PQ_PN_MAX) */
  size_t pn_len;        /* 1..4, see pq_pkt_pn_len */
  int key_phase;        /* 1-RTT */
  int spin;             /* 1-RTT */
} pq_pkt_build;

/* Writes the header (with the packet number, unprotected) at |buf| (|cap| bytes) and
 * fills |h| for pq_pkt_seal. Long headers get a Length placeholder of 2 bytes, or 4 if
 * |cap| could hold a packet longer than 16383 bytes. Returns the header length
 * (= h->hdr_len), PQ_ERR_INVALID_ARG (type, CID length, pn_len) or PQ_ERR_NOBUF. */
int pq_pkt_write_header(uint8_t *buf, size_t cap, const pq_pkt_build *b, pq_pkt_hdr *h);

/* Completes the packet whose header pq_pkt_write_header put at |buf| and whose
 * |payload_len| bytes of frames follow it: pads the payload with PADDING (zero bytes) if
 * it is too short for the header protection sample, fills Length, encrypts in place,
 * appends the tag and applies header protection. Returns the packet's total length,
 * PQ_ERR_NOBUF (|cap| too small for padding + tag) or PQ_ERR_INVALID_ARG / PQ_ERR_TLS. */
int pq_pkt_seal(uint8_t *buf, size_t cap, const pq_pkt_hdr *h, size_t payload_len,
                pq_aead *aead, const pq_hp *hp);

/* Smallest packet number length (1..4) that lets the peer decode |pn| given the largest
 * packet number it acknowledged, |largest_acked| (PQ_PN_NONE if none) (RFC 9000 A.2). */
size_t pq_pkt_pn_len(uint64_t pn, uint64_t largest_acked);

/* Decodes a |pn_nbits|-bit truncated packet number (RFC 9000 A.3) given the largest
 * processed packet number |largest_pn| (PQ_PN_NONE if none). */
uint64_t pq_pkt_decode_pn(uint64_t largest_pn, uint64_t truncated, size_t pn_nbits);

/* Writes a Version Negotiation packet listing |versions| (|n| >= 1) at |buf|. |dcid| /
 * |scid| are what to put on the wire: the client's SCID and DCID respectively (<= 255
 * bytes each). |unused| gives the 7 unused bits of the first byte (pass a random byte).
 * Returns bytes written, PQ_ERR_INVALID_ARG or PQ_ERR_NOBUF. */
int pq_pkt_write_version_negotiation(uint8_t *buf, size_t cap, const uint8_t *dcid,
                                     size_t dcid_len, const uint8_t *scid, size_t scid_len,
                                     const uint32_t *versions, size_t n, uint8_t unused);

/* Version |i| (< h->vn_count) of a parsed Version Negotiation packet. */
uint32_t pq_pkt_vn_version(const pq_pkt_hdr *h, size_t i);

/* Writes a Retry packet (RFC 9000 §17.2.5) of |version| (v1/v2) with its integrity tag,
 * for a client Initial
 * whose DCID was |odcid|: DCID = the client's SCID, SCID = the new server CID, |token|.
 * |unused| gives the 4 unused bits of the first byte. Returns bytes written,
 * PQ_ERR_INVALID_ARG (version, CID lengths, empty token) or PQ_ERR_NOBUF. */
int pq_pkt_write_retry(uint8_t *buf, size_t cap, uint32_t version, const uint8_t *dcid,
                       size_t dcid_len, const uint8_t *scid, size_t scid_len,
                       const uint8_t *token, size_t token_len, const uint8_t *odcid,
                       size_t odcid_len, uint8_t unused);

/* Checks the integrity tag of the Retry packet |pkt| / |len| (as parsed: h.len bytes)
 * against the DCID the client first used, |odcid|. Returns 0 or PQ_ERR_DROP. */
int pq_pkt_verify_retry(const uint8_t *pkt, size_t len, const uint8_t *odcid,
                        size_t odcid_len);

/* 1 if the datagram |dgram| / |len| ends with the stateless reset |token| (constant
 * time), 0 if not or if it is shorter than PQ_MIN_STATELESS_RESET_LEN. Call it for
 * datagrams that could not be processed (RFC 9000 §10.3.1). */
int pq_pkt_is_stateless_reset(const uint8_t *dgram, size_t len,
                              const uint8_t token[PQ_STATELESS_RESET_TOKEN_LEN]);

/* Writes a |len|-byte Stateless Reset (random bytes looking like a short header packet,
 * ending with |token|). |len| must be >= PQ_MIN_STATELESS_RESET_LEN and <= |cap|; make it
 * shorter than the packet that triggered it. Returns len, PQ_ERR_INVALID_ARG,
 * PQ_ERR_NOBUF or PQ_ERR_TLS (RNG). */
int pq_pkt_write_stateless_reset(uint8_t *buf, size_t cap, size_t len,
                                 const uint8_t token[PQ_STATELESS_RESET_TOKEN_LEN]);

#endif
