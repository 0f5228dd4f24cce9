/*
 * pq_conn_cid.c: connection IDs (RFC 9000 §5.1): the ones we issue (NEW_CONNECTION_ID,
 * retired by the peer, rotated with retire_prior_to) and the peer's (stored, retired on
 * request, the current DCID moved off retired ones).
 */
#include <string.h>

#include "pq_conn.h"

/* Adds one new local CID (sequence next_local_seq), to announce. */
static int issue_one(pq_conn *c) {
  pq_cid *e;
  if (c->nlocal == PQ_CONN_MAX_CIDS) return PQ_ERR_INVALID_ARG;
  e = &c->local_cids[c->nlocal];
  memset(e, 0, sizeof(*e));
  e->seq = c->next_local_seq;
  e->len = PQ_CONN_CID_LEN;
  if (pq_random(e->id, e->len)) return PQ_ERR_TLS;
  if (c->has_reset_key) pq_reset_token(c->reset_key, e->id, e->len, e->token);
  else if (pq_random(e->token, PQ_RESET_TOKEN_LEN)) return PQ_ERR_TLS;
  e->has_token = true;
  e->pending = true;
  c->nlocal++;
  c->next_local_seq++;
  return 0;
}

int pq_conn_issue_cids(pq_conn *c) {
  uint64_t limit = c->has_peer_tp ? c->peer_tp.active_connection_id_limit : 2;
  int rv;
  if (limit > PQ_CONN_MAX_CIDS) limit = PQ_CONN_MAX_CIDS;
  while (c->nlocal < limit)
    if ((rv = issue_one(c))) return rv;
  return 0;
}

int pq_conn_rotate_cid(pq_conn *c) {
  int rv;
  if (!c || !c->hs_complete || c->state != PQ_CS_ESTABLISHED) return PQ_ERR_INVALID_ARG;
  if (c->nlocal == PQ_CONN_MAX_CIDS) return PQ_ERR_INVALID_ARG;
  if ((rv = issue_one(c))) return rv;
  /* The peer must retire everything older; we keep routing them until it does. */
  c->local_retire_prior_to = c->local_cids[c->nlocal - 1].seq;
  for (size_t i = 0; i + 1 < c->nlocal; i++) c->local_cids[i].pending = false;
  return 0;
}

/* The peer retired our CID |seq| (RFC 9000 §19.16): forget it, issue a new one. */
int pq_conn_on_retire_cid(pq_conn *c, uint64_t seq) {
  if (seq >= c->next_local_seq) return PQ_ERR_PROTOCOL_VIOLATION;
  for (size_t i = 0; i < c->nlocal; i++) {
    if (c->local_cids[i].seq != seq) continue;
    memmove(&c->local_cids[i], &c->local_cids[i + 1],
            (c->nlocal - i - 1) * sizeof(c->local_cids[0]));
    c->nlocal--;
    return pq_conn_issue_cids(c);
  }
  return 0; /* already retired */
}

static void queue_retire(pq_conn *c, uint64_t seq) {
  for (size_t i = 0; i < c->nretire; i++)
    if (c->retire_queue[i] == seq) return;
  if (c->nretire < sizeof(c->retire_queue) / sizeof(c->retire_queue[0]))
    c->retire_queue[c->nretire++] = seq;
}

/* A NEW_CONNECTION_ID from the peer (RFC 9000 §5.1.1, §19.15). */
int pq_conn_on_new_cid(pq_conn *c, const pq_frame_new_cid *f) {
  size_t w = 0;
  if (c->dcid_len == 0) return PQ_ERR_PROTOCOL_VIOLATION; /* zero-length CIDs */
  for (size_t i = 0; i < c->npeer; i++) {
    if (c->peer_cids[i].seq != f->seq) continue;
    if (c->peer_cids[i].len != f->cid_len || memcmp(c->peer_cids[i].id, f->cid, f->cid_len))
      return PQ_ERR_PROTOCOL_VIOLATION; /* same sequence, different CID */
    return 0; /* a retransmission */
  }
  if (f->seq < c->peer_retire_prior_to) {
    queue_retire(c, f->seq); /* already retired by a later frame */
    return 0;
  }
  if (c->npeer == PQ_CONN_MAX_CIDS) return PQ_ERR_TRANSPORT(PQ_TE_CONNECTION_ID_LIMIT_ERROR);
  {
    pq_cid *e = &c->peer_cids[c->npeer++];
    memset(e, 0, sizeof(*e));
    e->seq = f->seq;
    e->len = f->cid_len;
    memcpy(e->id, f->cid, f->cid_len);
    memcpy(e->token, f->reset_token, PQ_RESET_TOKEN_LEN);
    e->has_token = true;
  }
  if (f->retire_prior_to > c->peer_retire_prior_to) c->peer_retire_prior_to = f->retire_prior_to;
  /* Retire what the peer asks; move off a retired current CID. */
  for (size_t i = 0; i < c->npeer; i++) {
    if (c->peer_cids[i].seq < c->peer_retire_prior_to) {
      queue_retire(c, c->peer_cids[i].seq);
      continue;
    }
    c->peer_cids[w++] = c->peer_cids[i];
  }
  c->npeer = w;
  if (c->dcid_seq < c->peer_retire_prior_to && c->npeer > 0) {
    c->dcid_seq = c->peer_cids[0].seq;
    c->dcid_len = c->peer_cids[0].len;
    memcpy(c->dcid, c->peer_cids[0].id, c->dcid_len);
  }
  if (c->npeer > c->settings.active_connection_id_limit)
    return PQ_ERR_TRANSPORT(PQ_TE_CONNECTION_ID_LIMIT_ERROR);
  return 0;
}
