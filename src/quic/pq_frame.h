/*
 * pq_frame.h: QUIC v1 frames (RFC 9000 §19) and DATAGRAM (RFC 9221).
 *
 * A decoded frame is a `pq_frame`: the frame type plus a union with one member per
 * frame. Decoding is zero-copy: data fields (STREAM/CRYPTO/DATAGRAM payload, tokens,
 * connection ids, reset tokens, reasons, ACK ranges) point into the packet, so a frame
 * is valid only as long as the decrypted packet payload it was parsed from.
 *
 * Every frame type goes through one const table, `pq_frame_ops_get(type)`, giving its
 * name, parse, write and wire_len functions and its flags (ack-eliciting, in flight,
 * probing, packet types allowed by RFC 9000 Table 3). This is the seam for the plugin
 * runtime: the connection dispatches ParseFrame / WireLen / WriteFrame through this
 * table by type (and ProcessFrame / ShouldSendFrame / PrepareFrame through its own table
 * indexed the same way), and a plugin Defining an op replaces the native entry.
 * Frame types the table does not know (pq_frame_ops_get returns NULL) are either a
 * plugin's frame or a FRAME_ENCODING_ERROR (RFC 9000 §12.4): read the type with
 * pq_frame_read_type, and carry a plugin's frame in `u.ext`. The table is const: the
 * plugin runtime keeps its own per-connection array of entries, initialised from
 * pq_frame_ops_get(type), and swaps in plugin entries there.
 *
 * Return values: decoders return bytes consumed (> 0) or PQ_ERR_FRAME_ENCODING /
 * PQ_ERR_PROTOCOL_VIOLATION (pq_err.h: the transport error code is recoverable with
 * pq_err_transport_code). Encoders return bytes written or PQ_ERR_NOBUF (buffer too
 * small: nothing useful written) or PQ_ERR_INVALID_ARG (a field is out of range).
 * wire_len is exact: write() writes exactly wire_len() bytes.
 */
#ifndef PLUGINOP_PQ_FRAME_H
#define PLUGINOP_PQ_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pq_err.h"
#include "pq_ranges.h"

/* Frame types (RFC 9000 §19, Table 3; RFC 9221 §4). */
enum {
  PQ_FT_PADDING = 0x00,
  PQ_FT_PING = 0x01,
  PQ_FT_ACK = 0x02,
  PQ_FT_ACK_ECN = 0x03,
  PQ_FT_RESET_STREAM = 0x04,
  PQ_FT_STOP_SENDING = 0x05,
  PQ_FT_CRYPTO = 0x06,
  PQ_FT_NEW_TOKEN = 0x07,
  PQ_FT_STREAM = 0x08, /* 0x08-0x0f: | OFF 0x04 | LEN 0x02 | FIN 0x01 */
  PQ_FT_STREAM_MAX = 0x0f,
  PQ_FT_MAX_DATA = 0x10,
  PQ_FT_MAX_STREAM_DATA = 0x11,
  PQ_FT_MAX_STREAMS_BIDI = 0x12,
  PQ_FT_MAX_STREAMS_UNI = 0x13,
  PQ_FT_DATA_BLOCKED = 0x14,
  PQ_FT_STREAM_DATA_BLOCKED = 0x15,
  PQ_FT_STREAMS_BLOCKED_BIDI = 0x16,
  PQ_FT_STREAMS_BLOCKED_UNI = 0x17,
  PQ_FT_NEW_CONNECTION_ID = 0x18,
  PQ_FT_RETIRE_CONNECTION_ID = 0x19,
  PQ_FT_PATH_CHALLENGE = 0x1a,
  PQ_FT_PATH_RESPONSE = 0x1b,
  PQ_FT_CONNECTION_CLOSE = 0x1c,
  PQ_FT_CONNECTION_CLOSE_APP = 0x1d,
  PQ_FT_HANDSHAKE_DONE = 0x1e,
  PQ_FT_DATAGRAM = 0x30,     /* no length: extends to the end of the packet */
  PQ_FT_DATAGRAM_LEN = 0x31, /* with a length field */
  PQ_FT_TABLE_SIZE = 0x32,   /* the table covers types 0 .. PQ_FT_TABLE_SIZE-1 */
};

#define PQ_STREAM_FIN_BIT 0x01
#define PQ_STREAM_LEN_BIT 0x02
#define PQ_STREAM_OFF_BIT 0x04

#define PQ_MAX_CID_LEN 20
#define PQ_RESET_TOKEN_LEN 16
#define PQ_MAX_STREAMS_LIMIT (UINT64_C(1) << 60) /* MAX_STREAMS/STREAMS_BLOCKED cap */

/* Packet types a frame may appear in (RFC 9000 Table 3 "Pkts" column), as a mask. */
#define PQ_PKT_MASK_INITIAL 0x1u   /* I */
#define PQ_PKT_MASK_0RTT 0x2u      /* 0 */
#define PQ_PKT_MASK_HANDSHAKE 0x4u /* H */
#define PQ_PKT_MASK_1RTT 0x8u      /* 1 */
#define PQ_PKT_MASK_ALL 0xfu

/* Frame properties (RFC 9000 Table 3 "Spec" column and §13.2). */
#define PQ_FRAME_F_ACK_ELICITING 0x01u /* not N: elicits an ACK */
#define PQ_FRAME_F_IN_FLIGHT 0x02u     /* not C: counts toward bytes in flight */
#define PQ_FRAME_F_PROBING 0x04u       /* P: probing frame (path validation) */
#define PQ_FRAME_F_FLOW_CONTROLLED 0x08u /* F: STREAM, flow controlled */

/* ACK / ACK_ECN. Two forms share this struct:
 * - decoded: |raw|/|raw_len| point at the (gap, range length) pairs in the packet and
 *   |range_count| is the number of pairs; walk it with pq_ack_iter. |ranges| is NULL.
 * - to write: |ranges| is an ascending array of |nranges| acknowledged packet-number
 *   ranges (e.g. the tail of a pq_ranges), all of which are encoded, largest first;
 *   largest, first_range, range_count and raw are derived and ignored.
 * A decoded frame written back (ranges == NULL) reproduces its bytes exactly. */
typedef struct pq_frame_ack {
  uint64_t largest;       /* largest acknowledged */
  uint64_t ack_delay;     /* raw wire value (scaled by the peer's ack_delay_exponent) */
  uint64_t first_range;   /* packets below largest in the first range */
  uint64_t range_count;   /* (gap, length) pairs after the first range */
  const uint8_t *raw;     /* decoded: the pairs, in the packet */
  size_t raw_len;
  const pq_range *ranges; /* to write: ascending ranges [lo, hi) */
  size_t nranges;
  bool ecn;               /* ACK_ECN (type 0x03) */
  uint64_t ect0, ect1, ce;
} pq_frame_ack;

/* Iterator over a decoded ACK frame's ranges, largest first. */
typedef struct pq_ack_iter {
  const uint8_t *p, *end;
  uint64_t next_hi;  /* exclusive end of the range the next pair describes */
  uint64_t left;     /* pairs left */
  bool first;
  const pq_frame_ack *ack;
} pq_ack_iter;

typedef struct pq_frame_stream {
  uint64_t stream_id;
  uint64_t offset;
  const uint8_t *data; /* into the packet; length |len| */
  uint64_t len;
  bool fin;
  bool has_len; /* the LEN bit; false: the frame runs to the end of the packet */
} pq_frame_stream;

typedef struct pq_frame_crypto {
  uint64_t offset;
  const uint8_t *data;
  uint64_t len;
} pq_frame_crypto;

typedef struct pq_frame_reset_stream {
  uint64_t stream_id, app_error, final_size;
} pq_frame_reset_stream;

typedef struct pq_frame_stop_sending {
  uint64_t stream_id, app_error;
} pq_frame_stop_sending;

typedef struct pq_frame_new_token {
  const uint8_t *token; /* length >= 1 */
  uint64_t len;
} pq_frame_new_token;

/* MAX_DATA, DATA_BLOCKED, MAX_STREAMS_*, STREAMS_BLOCKED_*: one value. */
typedef struct pq_frame_value {
  uint64_t value;
} pq_frame_value;

/* MAX_STREAM_DATA, STREAM_DATA_BLOCKED: a stream and a value. */
typedef struct pq_frame_stream_value {
  uint64_t stream_id, value;
} pq_frame_stream_value;

typedef struct pq_frame_new_cid {
  uint64_t seq, retire_prior_to;
  uint8_t cid_len;           /* 1..20 */
  const uint8_t *cid;        /* into the packet */
  const uint8_t *reset_token; /* 16 bytes, into the packet */
} pq_frame_new_cid;

typedef struct pq_frame_path {
  uint8_t data[8]; /* PATH_CHALLENGE / PATH_RESPONSE (copied: 8 bytes) */
} pq_frame_path;

typedef struct pq_frame_close {
  uint64_t error_code;
  uint64_t frame_type; /* transport close only (0x1c) */
  const uint8_t *reason;
  uint64_t reason_len;
} pq_frame_close;

typedef struct pq_frame_datagram {
  const uint8_t *data;
  uint64_t len;
  bool has_len; /* type 0x31 */
} pq_frame_datagram;

/* A frame type outside the table (a plugin's frame): its body as bytes, for the plugin
 * runtime to hand to the plugin's ParseFrame / WriteFrame. Not handled by pq_frame_*. */
typedef struct pq_frame_ext {
  const uint8_t *body;
  size_t len;
  void *user; /* whatever the plugin runtime attaches (decoded state, plugin id) */
} pq_frame_ext;

typedef struct pq_frame_padding {
  uint64_t len; /* run of consecutive PADDING bytes, >= 1 (parse coalesces them) */
} pq_frame_padding;

/* A frame. |type| is the wire type (0x08-0x0f for STREAM: writers recompute the low
 * bits from the fields; 0x02/0x03 for ACK follows |ack.ecn|). */
typedef struct pq_frame {
  uint64_t type;
  union {
    pq_frame_padding padding;
    pq_frame_ack ack;
    pq_frame_reset_stream reset_stream;
    pq_frame_stop_sending stop_sending;
    pq_frame_crypto crypto;
    pq_frame_new_token new_token;
    pq_frame_stream stream;
    pq_frame_value max_data;       /* also DATA_BLOCKED */
    pq_frame_stream_value max_stream_data; /* also STREAM_DATA_BLOCKED */
    pq_frame_value max_streams;    /* also STREAMS_BLOCKED */
    pq_frame_value data_blocked;
    pq_frame_stream_value stream_data_blocked;
    pq_frame_value streams_blocked;
    pq_frame_new_cid new_cid;
    pq_frame_value retire_cid;     /* sequence number */
    pq_frame_path path;
    pq_frame_close close;
    pq_frame_datagram datagram;
    pq_frame_ext ext;              /* types pq_frame_ops_get does not know */
  } u;
} pq_frame;

/* Decodes the frame body after its type from [p, p+len) into |f| (f->type is set by
 * the caller). Returns body bytes consumed or a negative error. */
typedef ssize_t (*pq_frame_parse_fn)(pq_frame *f, const uint8_t *p, size_t len);
/* Exact encoded length of |f| including the type, 0 if a field cannot be encoded. */
typedef size_t (*pq_frame_wire_len_fn)(const pq_frame *f);
/* Writes |f| (type included) into |buf|; bytes written, PQ_ERR_NOBUF or
 * PQ_ERR_INVALID_ARG. */
typedef ssize_t (*pq_frame_write_fn)(const pq_frame *f, uint8_t *buf, size_t len);

/* One entry of the frame table. */
typedef struct pq_frame_ops {
  const char *name;          /* RFC name: "STREAM", "ACK", ... */
  pq_frame_parse_fn parse;
  pq_frame_write_fn write;
  pq_frame_wire_len_fn wire_len;
  uint8_t flags;             /* PQ_FRAME_F_* */
  uint8_t pkt_mask;          /* PQ_PKT_MASK_*: packet types that may carry it */
} pq_frame_ops;

/* The table entry for |type|, or NULL for a type RFC 9000/9221 do not define (a
 * plugin's frame, or FRAME_ENCODING_ERROR if none claims it). Never fails otherwise. */
const pq_frame_ops *pq_frame_ops_get(uint64_t type);

/* Decodes one frame at the start of [p, p+len) (len >= 1) into |f|: the type varint,
 * then the body through the table. Consecutive PADDING bytes come back as one PADDING
 * frame. Data fields point into |p|.
 * Returns bytes consumed, or
 *   PQ_ERR_FRAME_ENCODING: truncated, unknown type, malformed or out-of-range field
 *     (STREAM offset+length > 2^62-1, ACK range below 0, NEW_CONNECTION_ID length 0 or
 *     > 20, MAX_STREAMS > 2^60, empty NEW_TOKEN, ...),
 *   PQ_ERR_PROTOCOL_VIOLATION: a type not in its shortest encoding (RFC 9000 §12.4).
 * NEW_CONNECTION_ID with retire_prior_to > sequence number is a FRAME_ENCODING error
 * (RFC 9000 §19.15). */
ssize_t pq_frame_parse(pq_frame *f, const uint8_t *p, size_t len);

/* Reads just the frame type at |p| (for dispatching a type the table does not know to
 * a plugin). Returns the type's length, PQ_ERR_FRAME_ENCODING if truncated, or
 * PQ_ERR_PROTOCOL_VIOLATION if not in its shortest encoding. */
ssize_t pq_frame_read_type(const uint8_t *p, size_t len, uint64_t *type);
/* Exact wire length of |f| (type included); 0 if a field is out of range or the type
 * is unknown. */
size_t pq_frame_wire_len(const pq_frame *f);

/* Writes |f| into |buf|. Returns bytes written (== pq_frame_wire_len(f)),
 * PQ_ERR_NOBUF if |len| is too small (|buf| contents unspecified), or
 * PQ_ERR_INVALID_ARG (unknown type, field out of range). */
ssize_t pq_frame_write(const pq_frame *f, uint8_t *buf, size_t len);

/* Frame flags / allowed packets for |type| (0 for unknown types). */
static inline unsigned pq_frame_flags(uint64_t type) {
  const pq_frame_ops *o = pq_frame_ops_get(type);
  return o ? o->flags : 0;
}

/* 0 if |type| may appear in a packet of kind |pkt_mask| (one PQ_PKT_MASK_* bit),
 * PQ_ERR_PROTOCOL_VIOLATION otherwise (RFC 9000 §12.4), PQ_ERR_FRAME_ENCODING for an
 * unknown type. */
int pq_frame_check_packet(uint64_t type, unsigned pkt_mask);

/* Starts iterating a decoded ACK frame's ranges (largest first). */
void pq_ack_iter_init(pq_ack_iter *it, const pq_frame_ack *ack);

/* Next acknowledged range [*lo, *hi) (descending). Returns true while ranges remain.
 * The frame was validated by parse, so this cannot fail. */
bool pq_ack_iter_next(pq_ack_iter *it, uint64_t *lo, uint64_t *hi);

/* Helpers for building STREAM frames without a pq_frame (the send hot path). */

/* Length of a STREAM frame header (type, id, offset if non-zero, length if |has_len|)
 * for data of length |datalen|. */
size_t pq_frame_stream_header_len(uint64_t stream_id, uint64_t offset, uint64_t datalen,
                                  bool has_len);

/* Writes a STREAM frame header into |buf| for |datalen| bytes that the caller then
 * copies right after it. Returns header bytes, PQ_ERR_NOBUF, or PQ_ERR_INVALID_ARG
 * (offset + datalen > 2^62-1). */
ssize_t pq_frame_stream_header_write(uint8_t *buf, size_t len, uint64_t stream_id,
                                     uint64_t offset, uint64_t datalen, bool fin,
                                     bool has_len);

/* How many data bytes (<= |want|) of a STREAM frame fit in |room| bytes, with a length
 * field if |has_len|. 0 if not even the header with one byte fits (a FIN-only frame
 * with 0 bytes needs pq_frame_stream_header_len(.., 0, ..) <= room). */
uint64_t pq_frame_stream_fit(uint64_t stream_id, uint64_t offset, size_t room,
                             uint64_t want, bool has_len);

/* Fills |f| as an ACK (type 0x02, no ECN: set f->type = PQ_FT_ACK_ECN, u.ack.ecn and
 * the counts after for ACK_ECN) to write from the last (largest) |n| ranges of |rcvd|
 * (n clamped to its count; n == 0 means all), with |ack_delay| already scaled by our
 * ack_delay_exponent. |f| borrows |rcvd|'s storage until written. Returns 0, or PQ_ERR_INVALID_ARG if |rcvd| is empty. */
int pq_frame_ack_from_ranges(pq_frame *f, const pq_ranges *rcvd, size_t n,
                             uint64_t ack_delay);

#endif
