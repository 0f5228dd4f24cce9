/*
 * pq_err.h: QUIC transport error codes (RFC 9000 §20.1) and how the internal layers
 * carry them in their negative return values.
 *
 * The frame, transport-parameter, stream-buffer and flow-control layers return
 * `PQ_ERR_TRANSPORT(code)` when the peer broke the protocol: a negative int that is
 * disjoint from the public pq_status codes (include/pluginop/quic.h) and from which the
 * connection recovers the exact transport error code to put in CONNECTION_CLOSE with
 * pq_err_transport_code(). Example: a truncated frame gives
 * PQ_ERR_FRAME_ENCODING == PQ_ERR_TRANSPORT(PQ_TE_FRAME_ENCODING_ERROR).
 */
#ifndef PLUGINOP_PQ_ERR_H
#define PLUGINOP_PQ_ERR_H

#include <stdbool.h>
#include <stdint.h>

#include "pluginop/quic.h"

/* RFC 9000 §20.1 transport error codes, as sent on the wire. */
typedef enum pq_transport_error {
  PQ_TE_NO_ERROR = 0x00,
  PQ_TE_INTERNAL_ERROR = 0x01,
  PQ_TE_CONNECTION_REFUSED = 0x02,
  PQ_TE_FLOW_CONTROL_ERROR = 0x03,
  PQ_TE_STREAM_LIMIT_ERROR = 0x04,
  PQ_TE_STREAM_STATE_ERROR = 0x05,
  PQ_TE_FINAL_SIZE_ERROR = 0x06,
  PQ_TE_FRAME_ENCODING_ERROR = 0x07,
  PQ_TE_TRANSPORT_PARAMETER_ERROR = 0x08,
  PQ_TE_CONNECTION_ID_LIMIT_ERROR = 0x09,
  PQ_TE_PROTOCOL_VIOLATION = 0x0a,
  PQ_TE_INVALID_TOKEN = 0x0b,
  PQ_TE_APPLICATION_ERROR = 0x0c,
  PQ_TE_CRYPTO_BUFFER_EXCEEDED = 0x0d,
  PQ_TE_KEY_UPDATE_ERROR = 0x0e,
  PQ_TE_AEAD_LIMIT_REACHED = 0x0f,
  PQ_TE_NO_VIABLE_PATH = 0x10,
  PQ_TE_CRYPTO_ERROR_BASE = 0x100, /* 0x0100-0x01ff: CRYPTO_ERROR + TLS alert */
} pq_transport_error;

/* Base of the internal "peer violated the protocol" range: -200 - code. Codes 0x00 to
 * 0x1ff map to -200 .. -711; they never collide with pq_status values (-1..-7 and
 * -500..-503) because 0x12c-0x12f (-500..-503) are not used by the stack (they would be
 * CRYPTO_ERROR for alerts 0x2c-0x2f, which pq_tls reports through PQ_ERR_TLS). */
#define PQ_ERR_TRANSPORT_BASE (-200)
#define PQ_ERR_TRANSPORT(code) (PQ_ERR_TRANSPORT_BASE - (int)(code))

#define PQ_ERR_FLOW_CONTROL_ERROR PQ_ERR_TRANSPORT(PQ_TE_FLOW_CONTROL_ERROR)
#define PQ_ERR_STREAM_LIMIT_ERROR PQ_ERR_TRANSPORT(PQ_TE_STREAM_LIMIT_ERROR)
#define PQ_ERR_STREAM_STATE_ERROR PQ_ERR_TRANSPORT(PQ_TE_STREAM_STATE_ERROR)
#define PQ_ERR_FINAL_SIZE PQ_ERR_TRANSPORT(PQ_TE_FINAL_SIZE_ERROR)
#define PQ_ERR_FRAME_ENCODING PQ_ERR_TRANSPORT(PQ_TE_FRAME_ENCODING_ERROR)
#define PQ_ERR_TRANSPORT_PARAMETER PQ_ERR_TRANSPORT(PQ_TE_TRANSPORT_PARAMETER_ERROR)
#define PQ_ERR_PROTOCOL_VIOLATION PQ_ERR_TRANSPORT(PQ_TE_PROTOCOL_VIOLATION)

/* True if |rv| is a PQ_ERR_TRANSPORT(code) value. */
static inline bool pq_err_is_transport(int rv) {
  return rv <= PQ_ERR_TRANSPORT_BASE && rv > PQ_ERR_TRANSPORT_BASE - 0x200 &&
         !(rv <= PQ_ERR_FATAL && rv >= PQ_ERR_CALLBACK);
}

/* The RFC 9000 transport error code carried by |rv| (a pq_err_is_transport value);
 * PQ_TE_INTERNAL_ERROR for any other negative value, PQ_TE_NO_ERROR for rv >= 0. */
static inline uint64_t pq_err_transport_code(int rv) {
  if (rv >= 0) return PQ_TE_NO_ERROR;
  if (pq_err_is_transport(rv)) return (uint64_t)(PQ_ERR_TRANSPORT_BASE - rv);
  return PQ_TE_INTERNAL_ERROR;
}

/* The RFC 9000 name of a transport error code ("FRAME_ENCODING_ERROR"), "CRYPTO_ERROR"
 * for 0x100-0x1ff, "UNKNOWN" otherwise. Static string. */
const char *pq_transport_error_name(uint64_t code);

#endif
