/*
 * pq_strm.c: stream receive and send buffers (see pq_strm.h).
 */
#include "pq_strm.h"

#include <stdlib.h>
#include <string.h>

#include "pq_varint.h"

/* ==== chunk store ==== */

static void chunks_init(pq_strm_chunks *cs) {
  cs->c = NULL;
  cs->n = 0;
  cs->base = 0;
  cs->spare = NULL;
}

static void chunks_free(pq_strm_chunks *cs) {
  for (size_t i = 0; i < cs->n; i++) free(cs->c[i]);
  free(cs->c);
  free(cs->spare);
  chunks_init(cs);
}

/* Returns the chunk holding offset |off| (at or above base), allocating it. */
static uint8_t *chunks_get(pq_strm_chunks *cs, uint64_t off) {
  uint64_t ci = off / PQ_STRM_CHUNK;
  size_t slot = (size_t)(ci - cs->base);
  if (slot >= cs->n) {
    size_t n = cs->n ? cs->n : 4;
    uint8_t **c;
    while (n <= slot) n *= 2;
    c = realloc(cs->c, n * sizeof(*c));
    if (!c) return NULL;
    memset(c + cs->n, 0, (n - cs->n) * sizeof(*c));
    cs->c = c;
    cs->n = n;
  }
  if (!cs->c[slot]) {
    if (cs->spare) {
      cs->c[slot] = cs->spare;
      cs->spare = NULL;
    } else if (!(cs->c[slot] = malloc(PQ_STRM_CHUNK))) {
      return NULL;
    }
  }
  return cs->c[slot];
}

/* Pointer to offset |off| in an existing chunk, and bytes to its chunk's end. */
static const uint8_t *chunks_at(const pq_strm_chunks *cs, uint64_t off, size_t *room) {
  size_t in = (size_t)(off % PQ_STRM_CHUNK);
  *room = PQ_STRM_CHUNK - in;
  return cs->c[off / PQ_STRM_CHUNK - cs->base] + in;
}

/* Copies [off, off+len) into the chunks. */
static int chunks_write(pq_strm_chunks *cs, uint64_t off, const uint8_t *data, size_t len) {
  while (len) {
    uint8_t *ch = chunks_get(cs, off);
    size_t in = (size_t)(off % PQ_STRM_CHUNK), n = PQ_STRM_CHUNK - in;
    if (!ch) return PQ_ERR_NOMEM;
    if (n > len) n = len;
    memcpy(ch + in, data, n);
    off += n;
    data += n;
    len -= n;
  }
  return 0;
}

static void chunks_read(const pq_strm_chunks *cs, uint64_t off, uint8_t *dst, size_t len) {
  while (len) {
    size_t room;
    const uint8_t *src = chunks_at(cs, off, &room);
    size_t n = room < len ? room : len;
    memcpy(dst, src, n);
    off += n;
    dst += n;
    len -= n;
  }
}

/* Frees the chunks wholly below |off| and moves the base up. */
static void chunks_release_below(pq_strm_chunks *cs, uint64_t off) {
  uint64_t nb = off / PQ_STRM_CHUNK;
  size_t drop;
  if (nb <= cs->base) return;
  drop = nb - cs->base < cs->n ? (size_t)(nb - cs->base) : cs->n;
  for (size_t i = 0; i < drop; i++) {
    if (!cs->c[i]) continue;
    if (!cs->spare)
      cs->spare = cs->c[i];
    else
      free(cs->c[i]);
  }
  memmove(cs->c, cs->c + drop, (cs->n - drop) * sizeof(*cs->c));
  memset(cs->c + (cs->n - drop), 0, drop * sizeof(*cs->c));
  cs->base = nb;
}

/* ==== receive side ==== */

void pq_strm_rx_init(pq_strm_rx *rx, uint64_t window) {
  memset(rx, 0, sizeof(*rx));
  rx->window = window;
  pq_ranges_init(&rx->have, 0);
  chunks_init(&rx->buf);
}

void pq_strm_rx_free(pq_strm_rx *rx) {
  pq_ranges_free(&rx->have);
  chunks_free(&rx->buf);
}

uint64_t pq_strm_rx_buffered(const pq_strm_rx *rx) { return pq_ranges_total(&rx->have); }

/* Applies the final-size rules (§4.5) for data ending at |end| and records a new final
 * size; then charges max_recv. */
static int rx_check_final(pq_strm_rx *rx, uint64_t end, bool fin, uint64_t *new_bytes) {
  if (rx->has_final) {
    if (end > rx->final_size || (fin && end != rx->final_size)) return PQ_ERR_FINAL_SIZE;
  } else if (fin) {
    if (end < rx->max_recv) return PQ_ERR_FINAL_SIZE;
    rx->has_final = true;
    rx->final_size = end;
  }
  if (new_bytes) *new_bytes = end > rx->max_recv ? end - rx->max_recv : 0;
  if (end > rx->max_recv) rx->max_recv = end;
  return 0;
}

/* Delivers buffered data that has become contiguous with read_off, then a bare FIN if
 * everything up to the final size is out. */
static int rx_flush(pq_strm_rx *rx, pq_strm_deliver_fn deliver, void *user) {
  if (!pq_ranges_empty(&rx->have)) {
    const pq_range *r = pq_ranges_get(&rx->have, 0);
    if (r->lo <= rx->read_off && r->hi > rx->read_off) {
      uint64_t hi = r->hi;
      while (rx->read_off < hi) {
        size_t room;
        const uint8_t *src = chunks_at(&rx->buf, rx->read_off, &room);
        size_t n = hi - rx->read_off < room ? (size_t)(hi - rx->read_off) : room;
        uint64_t off = rx->read_off;
        bool fin;
        rx->read_off += n;
        fin = rx->has_final && rx->read_off == rx->final_size;
        if (fin) rx->fin_delivered = true;
        if (deliver(user, off, src, n, fin)) return PQ_ERR_CALLBACK;
      }
    }
    pq_ranges_remove_below(&rx->have, rx->read_off);
    chunks_release_below(&rx->buf, rx->read_off);
  } else {
    chunks_release_below(&rx->buf, rx->read_off);
  }
  if (rx->has_final && rx->read_off == rx->final_size && !rx->fin_delivered) {
    rx->fin_delivered = true;
    if (deliver(user, rx->read_off, NULL, 0, true)) return PQ_ERR_CALLBACK;
  }
  return 0;
}

int pq_strm_rx_recv(pq_strm_rx *rx, uint64_t off, const uint8_t *data, size_t len, bool fin,
                    pq_strm_deliver_fn deliver, void *user, uint64_t *new_bytes) {
  uint64_t end;
  int rv;
  if (new_bytes) *new_bytes = 0;
  if (off > PQ_VARINT_MAX || len > PQ_VARINT_MAX - off) return PQ_ERR_FLOW_CONTROL_ERROR;
  end = off + len;
  if (end > rx->read_off && end - rx->read_off > rx->window) return PQ_ERR_FLOW_CONTROL_ERROR;
  if ((rv = rx_check_final(rx, end, fin, new_bytes)) < 0) return rv;
  if (rx->reset) return 0;
  if (end > rx->read_off) {
    if (off <= rx->read_off) {
      /* In order: hand the new part straight from the packet. */
      size_t skip = (size_t)(rx->read_off - off), n = len - skip;
      bool f;
      rx->read_off = end;
      /* Buffered data up to |end| is now redundant; if more lies beyond, FIN waits. */
      pq_ranges_remove_below(&rx->have, end);
      f = rx->has_final && end == rx->final_size;
      if (f) rx->fin_delivered = true;
      if (deliver(user, off + skip, data + skip, n, f)) return PQ_ERR_CALLBACK;
    } else {
      /* Ahead of a gap: copy the part not yet held into the chunks. */
      if (chunks_write(&rx->buf, off, data, len) < 0) return PQ_ERR_NOMEM;
      if (pq_ranges_add(&rx->have, off, end) < 0) return PQ_ERR_NOMEM;
      return 0;
    }
  }
  return rx_flush(rx, deliver, user);
}

void pq_strm_rx_discard(pq_strm_rx *rx) {
  rx->reset = true;
  pq_ranges_free(&rx->have);
  chunks_free(&rx->buf);
}

int pq_strm_rx_reset(pq_strm_rx *rx, uint64_t final_size, uint64_t *new_bytes) {
  int rv;
  if (new_bytes) *new_bytes = 0;
  if (final_size > PQ_VARINT_MAX) return PQ_ERR_FINAL_SIZE;
  if (rx->has_final && final_size != rx->final_size) return PQ_ERR_FINAL_SIZE;
  if ((rv = rx_check_final(rx, final_size, true, new_bytes)) < 0) return rv;
  pq_strm_rx_discard(rx);
  return 0;
}

/* ==== send side ==== */

void pq_strm_tx_init(pq_strm_tx *tx, uint64_t max_buffer) {
  memset(tx, 0, sizeof(*tx));
  tx->max_buffer = max_buffer;
  pq_ranges_init(&tx->acked, 0);
  pq_ranges_init(&tx->lost, 0);
  chunks_init(&tx->buf);
}

void pq_strm_tx_free(pq_strm_tx *tx) {
  pq_ranges_free(&tx->acked);
  pq_ranges_free(&tx->lost);
  chunks_free(&tx->buf);
}

ssize_t pq_strm_tx_write(pq_strm_tx *tx, const uint8_t *data, size_t len, bool fin) {
  uint64_t room = pq_strm_tx_room(tx);
  size_t n = len < room ? len : (size_t)room;
  if (tx->fin_queued) return PQ_ERR_STREAM_STATE;
  if (n > PQ_VARINT_MAX - tx->write_off) return PQ_ERR_INVALID_ARG;
  if (n && chunks_write(&tx->buf, tx->write_off, data, n) < 0) return PQ_ERR_NOMEM;
  tx->write_off += n;
  if (fin && n == len) tx->fin_queued = true;
  return (ssize_t)n;
}

bool pq_strm_tx_pending(const pq_strm_tx *tx, uint64_t flow_limit) {
  if (!pq_ranges_empty(&tx->lost)) return true;
  if (tx->send_off < tx->write_off && tx->send_off < flow_limit) return true;
  return tx->fin_queued && tx->send_off == tx->write_off && !tx->fin_acked &&
         (!tx->fin_sent || tx->fin_lost);
}

bool pq_strm_tx_take(pq_strm_tx *tx, size_t max_len, uint64_t flow_limit, uint64_t *off,
                     size_t *len, bool *fin) {
  if (!pq_ranges_empty(&tx->lost) && max_len) {
    const pq_range *r = pq_ranges_get(&tx->lost, 0);
    uint64_t n = r->hi - r->lo < max_len ? r->hi - r->lo : max_len;
    *off = r->lo;
    *len = (size_t)n;
    /* Resend the FIN with the last bytes if it is not known to have arrived. */
    *fin = tx->fin_queued && !tx->fin_acked && *off + n == tx->write_off;
    if (*fin) tx->fin_lost = false;
    pq_ranges_remove(&tx->lost, *off, *off + n); /* trims the front: cannot fail */
    return true;
  }
  if (tx->send_off < tx->write_off && tx->send_off < flow_limit && max_len) {
    uint64_t lim = tx->write_off < flow_limit ? tx->write_off : flow_limit;
    uint64_t n = lim - tx->send_off < max_len ? lim - tx->send_off : max_len;
    *off = tx->send_off;
    *len = (size_t)n;
    tx->send_off += n;
    *fin = tx->fin_queued && tx->send_off == tx->write_off;
    if (*fin) tx->fin_sent = true;
    return true;
  }
  if (tx->fin_queued && tx->send_off == tx->write_off && !tx->fin_acked &&
      (!tx->fin_sent || tx->fin_lost)) {
    *off = tx->write_off;
    *len = 0;
    *fin = true;
    tx->fin_sent = true;
    tx->fin_lost = false;
    return true;
  }
  return false;
}

void pq_strm_tx_copy(const pq_strm_tx *tx, uint64_t off, uint8_t *dst, size_t len) {
  chunks_read(&tx->buf, off, dst, len);
}

uint64_t pq_strm_tx_reset(pq_strm_tx *tx) {
  /* Nothing more goes out: mark everything written as sent and acknowledged. */
  uint64_t final_size = tx->send_off;
  pq_ranges_free(&tx->acked);
  pq_ranges_free(&tx->lost);
  chunks_free(&tx->buf);
  tx->write_off = tx->send_off = tx->ack_off = final_size;
  tx->fin_queued = tx->fin_sent = tx->fin_acked = true;
  tx->fin_lost = false;
  return final_size;
}

int pq_strm_tx_on_acked(pq_strm_tx *tx, uint64_t off, uint64_t len, bool fin) {
  uint64_t end = off + len;
  if (fin) {
    tx->fin_acked = true;
    tx->fin_lost = false;
  }
  if (end <= tx->ack_off) return 0;
  if (off < tx->ack_off) off = tx->ack_off;
  if (pq_ranges_remove(&tx->lost, off, end) < 0) return PQ_ERR_NOMEM;
  if (off == tx->ack_off) {
    tx->ack_off = end;
    /* Absorb the acknowledged range that is now contiguous (ranges are merged, so at
     * most one can touch ack_off once those below are gone). */
    pq_ranges_remove_below(&tx->acked, tx->ack_off);
    if (!pq_ranges_empty(&tx->acked) && pq_ranges_get(&tx->acked, 0)->lo <= tx->ack_off) {
      tx->ack_off = pq_ranges_get(&tx->acked, 0)->hi;
      pq_ranges_remove_below(&tx->acked, tx->ack_off);
    }
    chunks_release_below(&tx->buf, tx->ack_off);
    return 0;
  }
  return pq_ranges_add(&tx->acked, off, end);
}

int pq_strm_tx_on_lost(pq_strm_tx *tx, uint64_t off, uint64_t len, bool fin) {
  uint64_t cur = off > tx->ack_off ? off : tx->ack_off, end = off + len;
  size_t i = pq_ranges_find(&tx->acked, cur);
  if (fin && !tx->fin_acked) tx->fin_lost = true;
  /* Add the gaps between acknowledged ranges over [cur, end). */
  while (cur < end) {
    uint64_t next;
    if (i < pq_ranges_count(&tx->acked) && pq_ranges_get(&tx->acked, i)->lo <= cur) {
      cur = pq_ranges_get(&tx->acked, i)->hi;
      i++;
      continue;
    }
    next = i < pq_ranges_count(&tx->acked) ? pq_ranges_get(&tx->acked, i)->lo : end;
    if (next > end) next = end;
    if (pq_ranges_add(&tx->lost, cur, next) < 0) return PQ_ERR_NOMEM;
    cur = next;
  }
  return 0;
}
