/*
 * pq_flow.h: flow control (RFC 9000 §4) and stream-count limits (§2.1, §4.6).
 *
 * pq_flow_rx is credit we give: one per connection (MAX_DATA) and one per stream
 * (MAX_STREAM_DATA). It detects FLOW_CONTROL_ERROR, decides when a new limit is worth
 * sending (half the window consumed) and optionally auto-tunes the window: when
 * updates come faster than every two round trips, the window doubles up to a cap.
 * pq_flow_tx is credit the peer gives us, and says when to send *_BLOCKED once per limit.
 * pq_streams_rx / pq_streams_tx do the same for the number of streams of one type.
 * All plain structs with no allocation; times are nanoseconds (pq_tstamp).
 */
#ifndef PLUGINOP_PQ_FLOW_H
#define PLUGINOP_PQ_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "pq_err.h"

/* ---- stream ids (§2.1): bit 0 = server-initiated, bit 1 = unidirectional ---- */

static inline bool pq_stream_is_server(uint64_t id) { return (id & 1) != 0; }
static inline bool pq_stream_is_uni(uint64_t id) { return (id & 2) != 0; }
static inline uint64_t pq_stream_index(uint64_t id) { return id >> 2; }
/* The id of the |index|-th stream of a type (index < 2^60). */
static inline uint64_t pq_stream_make_id(uint64_t index, bool server, bool uni) {
  return index << 2 | (uni ? 2u : 0u) | (server ? 1u : 0u);
}
/* True if the endpoint (|is_server|) opened stream |id|. */
static inline bool pq_stream_is_local(uint64_t id, bool is_server) {
  return pq_stream_is_server(id) == is_server;
}

/* Checks that frame |type| received by an endpoint (|is_server|) may name stream |id|
 * (§19.4-19.13): STREAM, RESET_STREAM and STREAM_DATA_BLOCKED need a receiving part
 * here (not our own unidirectional stream); STOP_SENDING and MAX_STREAM_DATA need a
 * sending part (not the peer's unidirectional stream). Returns 0 or
 * PQ_ERR_STREAM_STATE_ERROR. Other frame types: 0. */
int pq_stream_check_frame(uint64_t id, bool is_server, uint64_t type);

/* ---- receive-side credit ---- */

typedef struct pq_flow_rx {
  uint64_t max;         /* limit advertised to the peer */
  uint64_t recv;        /* highest offset received (credit the peer used) */
  uint64_t consumed;    /* bytes the application has consumed */
  uint64_t window;      /* current window: new limits are consumed + window */
  uint64_t max_window;  /* auto-tuning cap (== window: no auto-tuning) */
  uint64_t last_update; /* when the limit was last raised, 0 = never */
} pq_flow_rx;

/* Initializes with the limit |window| already advertised (the transport parameter) and
 * auto-tuning up to |max_window| (<= window disables it). */
void pq_flow_rx_init(pq_flow_rx *fc, uint64_t window, uint64_t max_window);

/* The peer used |n| more bytes of credit (growth of the highest offset received).
 * Returns 0 or PQ_ERR_FLOW_CONTROL_ERROR if that passes the advertised limit. */
int pq_flow_rx_add(pq_flow_rx *fc, uint64_t n);

/* The application consumed |n| bytes (credit may go back to the peer). */
static inline void pq_flow_rx_consume(pq_flow_rx *fc, uint64_t n) { fc->consumed += n; }

/* True when raising the limit to consumed + window would grant at least half a window
 * more than advertised: time to send MAX_DATA / MAX_STREAM_DATA. */
bool pq_flow_rx_should_update(const pq_flow_rx *fc);

/* Raises the limit: auto-tunes the window (doubling it if the previous update was less
 * than 2 * |rtt| ago), sets max = consumed + window and returns it (the value to send).
 * |now|, |rtt| in ns. */
uint64_t pq_flow_rx_update(pq_flow_rx *fc, uint64_t now, uint64_t rtt);

/* ---- send-side credit ---- */

typedef struct pq_flow_tx {
  uint64_t max;        /* the peer's limit */
  uint64_t sent;       /* bytes sent (highest offset) */
  uint64_t blocked_at; /* limit for which *_BLOCKED was sent, UINT64_MAX = none */
} pq_flow_tx;

/* Initializes with the peer's initial limit |max|. */
void pq_flow_tx_init(pq_flow_tx *fc, uint64_t max);

/* Credit left. */
static inline uint64_t pq_flow_tx_credit(const pq_flow_tx *fc) {
  return fc->max > fc->sent ? fc->max - fc->sent : 0;
}

/* |n| new bytes were sent (n <= credit). */
static inline void pq_flow_tx_on_sent(pq_flow_tx *fc, uint64_t n) { fc->sent += n; }

/* A MAX_DATA / MAX_STREAM_DATA arrived: limits only grow (§4.1: smaller values are
 * ignored). Returns true if the limit grew (blocked senders may resume). */
bool pq_flow_tx_on_max(pq_flow_tx *fc, uint64_t max);

/* True when we are blocked at the current limit and have not said so yet. */
static inline bool pq_flow_tx_should_send_blocked(const pq_flow_tx *fc) {
  return fc->sent >= fc->max && fc->blocked_at != fc->max;
}

/* DATA_BLOCKED / STREAM_DATA_BLOCKED for the current limit was sent. */
static inline void pq_flow_tx_on_blocked_sent(pq_flow_tx *fc) { fc->blocked_at = fc->max; }

/* ---- stream counts (one instance per direction per type: bidi, uni) ---- */

/* Streams of one type the peer opens: our limit. */
typedef struct pq_streams_rx {
  uint64_t max;     /* MAX_STREAMS advertised (count) */
  uint64_t opened;  /* streams opened by the peer: highest index + 1 */
  uint64_t closed;  /* streams of this type fully closed */
  uint64_t window;  /* concurrent streams allowed (the initial limit) */
} pq_streams_rx;

void pq_streams_rx_init(pq_streams_rx *s, uint64_t initial_max);

/* The peer used stream |id| (of this type). Opening a stream opens every lower one of
 * its type (§3.2): *newly (may be NULL) gets how many streams this opened (0 if it was
 * already open). Returns 0 or PQ_ERR_STREAM_LIMIT_ERROR (index >= max). */
int pq_streams_rx_on_stream(pq_streams_rx *s, uint64_t id, uint64_t *newly);

/* A peer-opened stream was fully closed: credit for a new one. */
static inline void pq_streams_rx_on_closed(pq_streams_rx *s) { s->closed++; }

/* True when closed + window is at least half a window above max: send MAX_STREAMS. */
bool pq_streams_rx_should_update(const pq_streams_rx *s);

/* Raises max to closed + window (capped at 2^60) and returns it. */
uint64_t pq_streams_rx_update(pq_streams_rx *s);

/* Streams of one type we open: the peer's limit. */
typedef struct pq_streams_tx {
  uint64_t max;        /* the peer's MAX_STREAMS */
  uint64_t opened;     /* streams we opened */
  uint64_t blocked_at; /* limit for which STREAMS_BLOCKED was sent, UINT64_MAX none */
} pq_streams_tx;

void pq_streams_tx_init(pq_streams_tx *s, uint64_t initial_max);

/* Opens the next stream: *id gets its id (|is_server|: our role, |uni|: the type).
 * Returns 0 or PQ_ERR_STREAM_LIMIT (the peer's limit is reached; wait for
 * MAX_STREAMS). */
int pq_streams_tx_open(pq_streams_tx *s, bool is_server, bool uni, uint64_t *id);

/* The peer named our stream |id|: PQ_ERR_STREAM_STATE_ERROR if we never opened it
 * (§19.8 and others), else 0. */
static inline int pq_streams_tx_check(const pq_streams_tx *s, uint64_t id) {
  return pq_stream_index(id) < s->opened ? 0 : PQ_ERR_STREAM_STATE_ERROR;
}

/* MAX_STREAMS arrived (value <= 2^60, checked by the frame parser): only grows.
 * Returns true if it grew. */
bool pq_streams_tx_on_max(pq_streams_tx *s, uint64_t max);

/* True when blocked by the limit and STREAMS_BLOCKED was not sent for it. */
static inline bool pq_streams_tx_should_send_blocked(const pq_streams_tx *s) {
  return s->opened >= s->max && s->blocked_at != s->max;
}

static inline void pq_streams_tx_on_blocked_sent(pq_streams_tx *s) { s->blocked_at = s->max; }

#endif
