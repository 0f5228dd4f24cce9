/*
 * pq_session.h: the session blob a client keeps for resumption and 0-RTT
 * (pq_callbacks.session_ticket, pq_settings.session).
 *
 * It holds what a later connection needs (RFC 9000 §7.4.1, RFC 9001 §4.6): the TLS
 * session (GnuTLS's resumption data, opaque here) and the server's transport
 * parameters that bound 0-RTT. Layout, all integers big-endian:
 *
 *   "pqst"        4 bytes, magic
 *   version       1 byte, PQ_SESSION_VERSION
 *   ticket_len    4 bytes, 1 .. PQ_SESSION_MAX_TICKET
 *   ticket        ticket_len bytes
 *   8 varints     active_connection_id_limit, initial_max_data,
 *                 initial_max_stream_data_bidi_local, _bidi_remote, _uni,
 *                 initial_max_streams_bidi, initial_max_streams_uni,
 *                 max_datagram_frame_size
 *
 * and nothing after. Only these parameters may be remembered: the others (CIDs,
 * tokens, ack delay...) must come from the new handshake (RFC 9000 §7.4.1).
 */
#ifndef PLUGINOP_PQ_SESSION_H
#define PLUGINOP_PQ_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pq_tp.h"

#define PQ_SESSION_VERSION 1
#define PQ_SESSION_MAX_TICKET 16384
#define PQ_SESSION_HEADER 9   /* magic, version, ticket length */
#define PQ_SESSION_MAX (PQ_SESSION_HEADER + PQ_SESSION_MAX_TICKET + 8 * 8)

/* A decoded blob. |ticket| points into the blob given to pq_session_decode. */
typedef struct pq_session {
  const uint8_t *ticket;
  size_t ticket_len;
  pq_tp tp; /* the remembered parameters; everything else at pq_tp_default */
} pq_session;

/* Writes the blob for |ticket| and the server's parameters |tp| into |out| (|cap|
 * bytes; PQ_SESSION_MAX always suffice). Returns its length, PQ_ERR_INVALID_ARG
 * (empty or too long ticket, a value above 2^62-1) or PQ_ERR_NOBUF. */
ssize_t pq_session_encode(const uint8_t *ticket, size_t ticket_len, const pq_tp *tp,
                          uint8_t *out, size_t cap);

/* Parses |blob| / |len| into |s| (which then borrows |blob|). Returns 0 or
 * PQ_ERR_INVALID_ARG with *why (may be NULL) set to a static explanation: too short,
 * bad magic, unsupported version, ticket length out of range, truncated or invalid
 * parameters, trailing bytes. */
int pq_session_decode(pq_session *s, const uint8_t *blob, size_t len, const char **why);

#endif
