/*
 * pq_session.c: encoding and strict parsing of the client's session blob
 * (layout in pq_session.h). The blob comes from a file the user controls: every
 * length is checked before use and anything unexpected is refused with a reason.
 */
#include "pq_session.h"

#include <string.h>

#include "pluginop/quic.h"
#include "pq_varint.h"

static const uint8_t magic[4] = {'p', 'q', 's', 't'};

/* The remembered parameters, in blob order. */
static uint64_t *param_ptr(pq_tp *tp, int i) {
  switch (i) {
  case 0: return &tp->active_connection_id_limit;
  case 1: return &tp->initial_max_data;
  case 2: return &tp->initial_max_stream_data_bidi_local;
  case 3: return &tp->initial_max_stream_data_bidi_remote;
  case 4: return &tp->initial_max_stream_data_uni;
  case 5: return &tp->initial_max_streams_bidi;
  case 6: return &tp->initial_max_streams_uni;
  default: return &tp->max_datagram_frame_size;
  }
}
#define NPARAMS 8

ssize_t pq_session_encode(const uint8_t *ticket, size_t ticket_len, const pq_tp *tp,
                          uint8_t *out, size_t cap) {
  pq_tp copy = *tp;
  size_t need = PQ_SESSION_HEADER + ticket_len;
  uint8_t *p;
  if (!ticket || ticket_len == 0 || ticket_len > PQ_SESSION_MAX_TICKET || !out)
    return PQ_ERR_INVALID_ARG;
  for (int i = 0; i < NPARAMS; i++) {
    size_t n = pq_varint_len(*param_ptr(&copy, i));
    if (n == 0) return PQ_ERR_INVALID_ARG;
    need += n;
  }
  if (need > cap) return PQ_ERR_NOBUF;
  memcpy(out, magic, 4);
  out[4] = PQ_SESSION_VERSION;
  out[5] = (uint8_t)(ticket_len >> 24);
  out[6] = (uint8_t)(ticket_len >> 16);
  out[7] = (uint8_t)(ticket_len >> 8);
  out[8] = (uint8_t)ticket_len;
  memcpy(out + PQ_SESSION_HEADER, ticket, ticket_len);
  p = out + PQ_SESSION_HEADER + ticket_len;
  for (int i = 0; i < NPARAMS; i++) p = pq_varint_write(p, *param_ptr(&copy, i));
  return (ssize_t)(p - out);
}

static int refuse(const char **why, const char *msg) {
  if (why) *why = msg;
  return PQ_ERR_INVALID_ARG;
}

int pq_session_decode(pq_session *s, const uint8_t *blob, size_t len, const char **why) {
  const uint8_t *p, *end;
  size_t tl;
  if (why) *why = "";
  if (!s || !blob || len < PQ_SESSION_HEADER) return refuse(why, "too short");
  if (memcmp(blob, magic, 4) != 0) return refuse(why, "not a pluginop session (bad magic)");
  if (blob[4] != PQ_SESSION_VERSION) return refuse(why, "unsupported session version");
  tl = (size_t)blob[5] << 24 | (size_t)blob[6] << 16 | (size_t)blob[7] << 8 | blob[8];
  if (tl == 0 || tl > PQ_SESSION_MAX_TICKET) return refuse(why, "ticket length out of range");
  if (tl > len - PQ_SESSION_HEADER) return refuse(why, "truncated ticket");
  memset(s, 0, sizeof(*s));
  pq_tp_default(&s->tp);
  s->ticket = blob + PQ_SESSION_HEADER;
  s->ticket_len = tl;
  p = s->ticket + tl;
  end = blob + len;
  for (int i = 0; i < NPARAMS; i++) {
    size_t n = pq_varint_read(p, end, param_ptr(&s->tp, i));
    if (n == 0) return refuse(why, "truncated transport parameters");
    p += n;
  }
  if (p != end) return refuse(why, "trailing bytes");
  /* The same bounds as the transport parameters themselves (RFC 9000 §18.2). */
  if (s->tp.active_connection_id_limit < 2 ||
      s->tp.initial_max_streams_bidi > (UINT64_C(1) << 60) ||
      s->tp.initial_max_streams_uni > (UINT64_C(1) << 60))
    return refuse(why, "invalid transport parameters");
  return 0;
}

int pq_session_check(const uint8_t *blob, size_t len, const char **why) {
  pq_session s;
  return pq_session_decode(&s, blob, len, why);
}
