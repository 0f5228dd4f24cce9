/*
 * pq_strm.h: stream data buffers (RFC 9000 §2.2, §3, §4.5).
 *
 * Receive side (pq_strm_rx): reassembles STREAM/CRYPTO data that arrives out of order,
 * overlapping or duplicated, enforces the final-size rules, and delivers contiguous
 * bytes to a callback. Data arriving in order is delivered straight from the packet
 * (zero copy); only data arriving ahead of a gap is copied, once, into fixed-size chunks
 * and delivered from there when the gap fills. Memory is bounded by |window| bytes
 * beyond the delivered offset (the flow-control window).
 *
 * Send side (pq_strm_tx): bytes queued by the application (copied once into chunks,
 * bounded by |max_buffer|), then taken in pieces for STREAM frames, and tracked as sent,
 * acknowledged or lost. Lost ranges are retransmitted before new data; acknowledged
 * bytes at the front are freed at once.
 *
 * The same rx buffer serves CRYPTO streams: never pass fin, and set the window to the
 * crypto buffer limit; its PQ_ERR_FLOW_CONTROL_ERROR then means CRYPTO_BUFFER_EXCEEDED
 * (RFC 9000 §7.5), which the connection reports instead.
 * No allocation happens per frame: chunks (PQ_STRM_CHUNK bytes) are allocated only
 * when buffering new memory, and one spare chunk is kept for reuse.
 */
#ifndef PLUGINOP_PQ_STRM_H
#define PLUGINOP_PQ_STRM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pq_err.h"
#include "pq_ranges.h"

#define PQ_STRM_CHUNK 8192 /* buffer granule, bytes */

/* Storage for a window of stream bytes in PQ_STRM_CHUNK-sized chunks, indexed by
 * offset. Internal to pq_strm; exposed for embedding. */
typedef struct pq_strm_chunks {
  uint8_t **c;      /* c[i] holds offsets [(base+i)*CHUNK, (base+i+1)*CHUNK), or NULL */
  size_t n;         /* entries in c */
  uint64_t base;    /* chunk index of c[0] */
  uint8_t *spare;   /* one freed chunk kept for reuse */
} pq_strm_chunks;

/* Delivers |len| contiguous bytes at stream offset |off| (|data| valid during the call
 * only), |fin| when they end at the final size (len may be 0 for a bare FIN). Return 0,
 * or non-zero to stop: the receive call then returns PQ_ERR_CALLBACK. */
typedef int (*pq_strm_deliver_fn)(void *user, uint64_t off, const uint8_t *data,
                                  size_t len, bool fin);

typedef struct pq_strm_rx {
  uint64_t read_off;   /* bytes delivered so far */
  uint64_t max_recv;   /* highest offset received + 1 (flow-control credit used) */
  uint64_t final_size; /* valid when has_final */
  uint64_t window;     /* bound on buffered offsets: < read_off + window */
  bool has_final;
  bool fin_delivered;
  bool reset;          /* RESET_STREAM received: data is discarded */
  pq_ranges have;      /* buffered byte ranges, all >= read_off */
  pq_strm_chunks buf;
} pq_strm_rx;

/* Initializes an empty receive buffer accepting offsets below |window| beyond what has
 * been delivered. Allocates nothing. */
void pq_strm_rx_init(pq_strm_rx *rx, uint64_t window);

/* Frees the buffered data. */
void pq_strm_rx_free(pq_strm_rx *rx);

/* Receives [off, off+len) (data borrowed for the call), |fin| if the frame had FIN.
 * Contiguous bytes go to |deliver| in order, at most once each. *new_bytes (may be
 * NULL) gets the growth of max_recv, to charge connection flow control.
 * Returns 0, or
 *   PQ_ERR_FINAL_SIZE: data beyond a known final size, a different final size, or a
 *     FIN below data already received (§4.5);
 *   PQ_ERR_FLOW_CONTROL_ERROR: off+len beyond read_off + window or beyond 2^62-1;
 *   PQ_ERR_NOMEM; PQ_ERR_CALLBACK (|deliver| returned non-zero).
 * After an error the buffer stays consistent but the connection should close. */
int pq_strm_rx_recv(pq_strm_rx *rx, uint64_t off, const uint8_t *data, size_t len, bool fin,
                    pq_strm_deliver_fn deliver, void *user, uint64_t *new_bytes);

/* RESET_STREAM with |final_size|: checks it against what is known (PQ_ERR_FINAL_SIZE),
 * drops buffered data. *new_bytes as for recv (the final size counts as received). */
int pq_strm_rx_reset(pq_strm_rx *rx, uint64_t final_size, uint64_t *new_bytes);

/* The application stopped reading (it sent STOP_SENDING): buffered data is dropped and
 * later data is only counted (final size and flow control still apply). */
void pq_strm_rx_discard(pq_strm_rx *rx);

/* Grows the window (after MAX_STREAM_DATA was sent) to |window|. */
static inline void pq_strm_rx_set_window(pq_strm_rx *rx, uint64_t window) {
  if (window > rx->window) rx->window = window;
}

/* True once every byte up to the final size and the FIN have been delivered. */
static inline bool pq_strm_rx_done(const pq_strm_rx *rx) { return rx->fin_delivered; }

/* Bytes currently held in the buffer (received ahead of a gap). */
uint64_t pq_strm_rx_buffered(const pq_strm_rx *rx);

typedef struct pq_strm_tx {
  uint64_t write_off;  /* end of the data queued by the application */
  uint64_t send_off;   /* new data was taken up to here */
  uint64_t ack_off;    /* everything below is acknowledged (and freed) */
  uint64_t max_buffer; /* bound on write_off - ack_off */
  bool fin_queued, fin_sent, fin_lost, fin_acked;
  pq_ranges acked;     /* acknowledged ranges above ack_off */
  pq_ranges lost;      /* ranges to send again, disjoint from acked, below send_off */
  pq_strm_chunks buf;
} pq_strm_tx;

/* Initializes an empty send buffer holding at most |max_buffer| unacknowledged bytes. */
void pq_strm_tx_init(pq_strm_tx *tx, uint64_t max_buffer);

/* Frees the buffered data. */
void pq_strm_tx_free(pq_strm_tx *tx);

/* Queues up to |len| bytes (copied). Returns bytes accepted (fewer than |len|, or 0,
 * when the buffer is full), PQ_ERR_STREAM_STATE (FIN already queued) or PQ_ERR_NOMEM.
 * |fin| is recorded only if every byte was accepted. */
ssize_t pq_strm_tx_write(pq_strm_tx *tx, const uint8_t *data, size_t len, bool fin);

/* Picks the next piece to send, at most |max_len| bytes: a lost range first, else new
 * data below |flow_limit| (the absolute stream offset allowed by stream and connection
 * flow control), else a bare FIN. Marks it sent. Returns true and sets *off, *len,
 * *fin (bytes come from pq_strm_tx_copy) or false if nothing can be sent. */
bool pq_strm_tx_take(pq_strm_tx *tx, size_t max_len, uint64_t flow_limit, uint64_t *off,
                     size_t *len, bool *fin);

/* True if pq_strm_tx_take would find something under |flow_limit|. */
bool pq_strm_tx_pending(const pq_strm_tx *tx, uint64_t flow_limit);

/* Copies [off, off+len) (a piece just taken, not yet acknowledged) into |dst|. */
void pq_strm_tx_copy(const pq_strm_tx *tx, uint64_t off, uint8_t *dst, size_t len);

/* The STREAM frame carrying [off, off+len) (and FIN if |fin|) was acknowledged: frees
 * what became contiguous. Returns 0 or PQ_ERR_NOMEM. */
int pq_strm_tx_on_acked(pq_strm_tx *tx, uint64_t off, uint64_t len, bool fin);

/* The frame was declared lost: its not yet acknowledged bytes (and FIN) will be sent
 * again. Returns 0 or PQ_ERR_NOMEM. */
int pq_strm_tx_on_lost(pq_strm_tx *tx, uint64_t off, uint64_t len, bool fin);

/* We reset the stream (RESET_STREAM, or STOP_SENDING received): drops all buffered
 * data and anything left to send. Returns the final size to put in RESET_STREAM (the
 * highest offset ever sent). Later calls other than _free are no-ops. */
uint64_t pq_strm_tx_reset(pq_strm_tx *tx);

/* True when all data and the FIN are acknowledged. */
static inline bool pq_strm_tx_done(const pq_strm_tx *tx) {
  return tx->fin_acked && tx->ack_off == tx->write_off;
}

/* Room left for pq_strm_tx_write. */
static inline uint64_t pq_strm_tx_room(const pq_strm_tx *tx) {
  return tx->max_buffer - (tx->write_off - tx->ack_off);
}

#endif
