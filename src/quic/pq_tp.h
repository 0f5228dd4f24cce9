/*
 * pq_tp.h: QUIC transport parameters (RFC 9000 §18, RFC 9221 §3).
 *
 * `pq_tp` holds every RFC 9000 §18.2 parameter plus max_datagram_frame_size. Encoding
 * and decoding go through one const table indexed by parameter id (pq_tp_def_get): each
 * entry has the RFC name, whether only a server may send it, and its decode / encode
 * functions with the RFC's validation. Ids the table does not know (GREASE
 * 31*N+27, other extensions, plugins' parameters) are handed to an optional callback
 * (pq_tp_ext) and otherwise skipped: this is where the plugin runtime plugs
 * DecodeTransportParameter(id) / WriteTransportParameter(id).
 *
 * Units are the wire units: max_idle_timeout and max_ack_delay in milliseconds.
 * All decode errors are PQ_ERR_TRANSPORT_PARAMETER (TRANSPORT_PARAMETER_ERROR) unless a
 * callback returns another error.
 */
#ifndef PLUGINOP_PQ_TP_H
#define PLUGINOP_PQ_TP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pq_err.h"

/* Transport parameter ids (RFC 9000 §18.2, RFC 9221 §3). */
enum {
  PQ_TP_ORIGINAL_DESTINATION_CONNECTION_ID = 0x00,
  PQ_TP_MAX_IDLE_TIMEOUT = 0x01,
  PQ_TP_STATELESS_RESET_TOKEN = 0x02,
  PQ_TP_MAX_UDP_PAYLOAD_SIZE = 0x03,
  PQ_TP_INITIAL_MAX_DATA = 0x04,
  PQ_TP_INITIAL_MAX_STREAM_DATA_BIDI_LOCAL = 0x05,
  PQ_TP_INITIAL_MAX_STREAM_DATA_BIDI_REMOTE = 0x06,
  PQ_TP_INITIAL_MAX_STREAM_DATA_UNI = 0x07,
  PQ_TP_INITIAL_MAX_STREAMS_BIDI = 0x08,
  PQ_TP_INITIAL_MAX_STREAMS_UNI = 0x09,
  PQ_TP_ACK_DELAY_EXPONENT = 0x0a,
  PQ_TP_MAX_ACK_DELAY = 0x0b,
  PQ_TP_DISABLE_ACTIVE_MIGRATION = 0x0c,
  PQ_TP_PREFERRED_ADDRESS = 0x0d,
  PQ_TP_ACTIVE_CONNECTION_ID_LIMIT = 0x0e,
  PQ_TP_INITIAL_SOURCE_CONNECTION_ID = 0x0f,
  PQ_TP_RETRY_SOURCE_CONNECTION_ID = 0x10,
  PQ_TP_MAX_DATAGRAM_FRAME_SIZE = 0x20,
  PQ_TP_TABLE_SIZE = 0x21, /* the table covers ids 0 .. PQ_TP_TABLE_SIZE-1 */
};

#define PQ_TP_MAX_CID_LEN 20
#define PQ_TP_DEFAULT_MAX_UDP_PAYLOAD_SIZE 65527
#define PQ_TP_DEFAULT_ACK_DELAY_EXPONENT 3
#define PQ_TP_DEFAULT_MAX_ACK_DELAY 25 /* ms */
#define PQ_TP_DEFAULT_ACTIVE_CONNECTION_ID_LIMIT 2

/* A connection id as carried in transport parameters (0..20 bytes). */
typedef struct pq_tp_cid {
  uint8_t len;
  uint8_t data[20];
} pq_tp_cid;

/* preferred_address (§18.2): server only. An all-zero address/port means "none of that
 * family". */
typedef struct pq_tp_preferred_address {
  uint8_t ipv4[4];
  uint16_t ipv4_port;
  uint8_t ipv6[16];
  uint16_t ipv6_port;
  pq_tp_cid cid;              /* 1..20 bytes */
  uint8_t reset_token[16];
} pq_tp_preferred_address;

typedef struct pq_tp {
  /* Decode: bit i set when id i (< 64) was present. Encode: ignored; presence of the
   * optional values is given by the has_* flags, integers are sent when they differ
   * from the RFC default. */
  uint64_t seen;
  bool has_original_dcid;            /* server only */
  pq_tp_cid original_dcid;
  uint64_t max_idle_timeout;         /* ms, 0 = none (default 0) */
  bool has_stateless_reset_token;    /* server only */
  uint8_t stateless_reset_token[16];
  uint64_t max_udp_payload_size;     /* >= 1200, default 65527 */
  uint64_t initial_max_data;
  uint64_t initial_max_stream_data_bidi_local;
  uint64_t initial_max_stream_data_bidi_remote;
  uint64_t initial_max_stream_data_uni;
  uint64_t initial_max_streams_bidi; /* <= 2^60 */
  uint64_t initial_max_streams_uni;  /* <= 2^60 */
  uint64_t ack_delay_exponent;       /* <= 20, default 3 */
  uint64_t max_ack_delay;            /* ms, < 2^14, default 25 */
  bool disable_active_migration;
  bool has_preferred_address;        /* server only */
  pq_tp_preferred_address preferred_address;
  uint64_t active_connection_id_limit; /* >= 2, default 2 */
  bool has_initial_scid;             /* required from both sides */
  pq_tp_cid initial_scid;
  bool has_retry_scid;               /* server only */
  pq_tp_cid retry_scid;
  uint64_t max_datagram_frame_size;  /* RFC 9221; 0 = DATAGRAM not supported (default) */
} pq_tp;

/* Hooks for parameters outside the table (plugins' parameters, other extensions).
 * Both optional. */
typedef struct pq_tp_ext {
  /* Called for each id the table does not know, GREASE included, with its value
   * (borrowed, valid during the call). Return 0 to accept/ignore it, or a negative
   * error (e.g. PQ_ERR_TRANSPORT_PARAMETER) that pq_tp_decode returns. */
  int (*decode)(void *user, uint64_t id, const uint8_t *val, size_t len);
  /* Called at the end of pq_tp_encode to append more parameters (whole id/length/value
   * triples, see pq_tp_write_param) into |buf|. Returns bytes written or a negative
   * error (PQ_ERR_NOBUF). */
  ssize_t (*encode)(void *user, uint8_t *buf, size_t len);
  void *user;
} pq_tp_ext;

/* A table entry: how one known parameter id is decoded, validated and encoded. */
typedef struct pq_tp_def {
  const char *name;    /* RFC name: "initial_max_data" */
  bool server_only;    /* a client sending it is a TRANSPORT_PARAMETER_ERROR */
  /* Validates and stores |val| (length |len|) into |tp|. 0 or a negative error. */
  int (*decode)(const struct pq_tp_def *def, pq_tp *tp, const uint8_t *val, size_t len);
  /* Writes the whole parameter (id, length, value) when |tp| has it to send: bytes
   * written, 0 if absent / default, PQ_ERR_NOBUF, PQ_ERR_INVALID_ARG. */
  ssize_t (*encode)(const struct pq_tp_def *def, const pq_tp *tp, uint8_t *buf, size_t len);
  uint64_t id;
  size_t field;        /* offsetof the value in pq_tp (integers, cids) */
  size_t has_field;    /* offsetof the bool has_* flag (cids), or 0 */
  uint64_t min, max, def_value; /* integers: valid range and RFC default */
} pq_tp_def;

/* Fills |tp| with the RFC defaults (absent parameters): everything 0 / false except
 * max_udp_payload_size 65527, ack_delay_exponent 3, max_ack_delay 25 ms,
 * active_connection_id_limit 2. */
void pq_tp_default(pq_tp *tp);

/* The table entry for |id|, or NULL if the id is not an RFC 9000/9221 parameter. */
const pq_tp_def *pq_tp_def_get(uint64_t id);

/* True if |id| is a reserved GREASE id (31 * N + 27, RFC 9000 §18.1). */
static inline bool pq_tp_is_grease(uint64_t id) { return id >= 27 && (id - 27) % 31 == 0; }

/* Encodes |tp| as sent by a server (|is_server|) or a client into |buf|: known
 * parameters through the table (server-only ones skipped for a client), then
 * ext->encode if given (ext may be NULL). Returns bytes written, PQ_ERR_NOBUF, or
 * PQ_ERR_INVALID_ARG (a value the RFC forbids, e.g. ack_delay_exponent 21). */
ssize_t pq_tp_encode(const pq_tp *tp, bool is_server, uint8_t *buf, size_t len,
                     const pq_tp_ext *ext);

/* Decodes the peer's parameters from [buf, buf+len) into |tp| (first reset to the
 * defaults). |from_server|: the peer is a server. Unknown ids go to ext->decode if
 * given, else are skipped. Returns 0 or PQ_ERR_TRANSPORT_PARAMETER for: truncated
 * input, a duplicate id, a value out of range or of the wrong length, a server-only
 * parameter from a client, a missing initial_source_connection_id, a server without
 * original_destination_connection_id; or the callback's error. Nothing in |tp| points
 * into |buf|. */
int pq_tp_decode(pq_tp *tp, bool from_server, const uint8_t *buf, size_t len,
                 const pq_tp_ext *ext);

/* Writes one parameter (id, length, value) into |buf|: for ext->encode callbacks.
 * Returns bytes written, PQ_ERR_NOBUF, or PQ_ERR_INVALID_ARG (id > 2^62-1). */
ssize_t pq_tp_write_param(uint8_t *buf, size_t len, uint64_t id, const uint8_t *val,
                          size_t vlen);

/* Writes one integer parameter (value as a varint). Same returns. */
ssize_t pq_tp_write_int_param(uint8_t *buf, size_t len, uint64_t id, uint64_t v);

/* Writes one GREASE parameter (RFC 9000 §18.1: id 31 * N + 27, value of 0-15 bytes)
 * chosen from |seed| (any random number), so peers keep ignoring unknown ids. For an
 * ext->encode callback. Returns bytes written or PQ_ERR_NOBUF. */
ssize_t pq_tp_write_grease(uint8_t *buf, size_t len, uint64_t seed);

/* 0-RTT (RFC 9000 §7.4.1, RFC 9221 §3): a client that sent 0-RTT with parameters
 * |remembered| from an earlier connection checks the server's new parameters |now| once
 * 0-RTT is accepted: none of the limits 0-RTT data may have used can shrink
 * (active_connection_id_limit, initial_max_data, initial_max_stream_data_*,
 * initial_max_streams_*, max_datagram_frame_size). Returns 0 or
 * PQ_ERR_PROTOCOL_VIOLATION. */
int pq_tp_check_0rtt(const pq_tp *remembered, const pq_tp *now);

#endif
