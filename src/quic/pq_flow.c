/*
 * pq_flow.c: flow control and stream-count limits (see pq_flow.h).
 */
#include "pq_flow.h"

#include "pq_frame.h"

int pq_stream_check_frame(uint64_t id, bool is_server, uint64_t type) {
  bool uni = pq_stream_is_uni(id), local = pq_stream_is_local(id, is_server);
  switch (type) {
    case PQ_FT_RESET_STREAM:
    case PQ_FT_STREAM_DATA_BLOCKED:
      /* We have no receiving part on our own unidirectional stream. */
      return uni && local ? PQ_ERR_STREAM_STATE_ERROR : 0;
    case PQ_FT_STOP_SENDING:
    case PQ_FT_MAX_STREAM_DATA:
      /* We have no sending part on the peer's unidirectional stream. */
      return uni && !local ? PQ_ERR_STREAM_STATE_ERROR : 0;
    default:
      if (type >= PQ_FT_STREAM && type <= PQ_FT_STREAM_MAX)
        return uni && local ? PQ_ERR_STREAM_STATE_ERROR : 0;
      return 0;
  }
}

void pq_flow_rx_init(pq_flow_rx *fc, uint64_t window, uint64_t max_window) {
  fc->max = window;
  fc->recv = 0;
  fc->consumed = 0;
  fc->window = window;
  fc->max_window = max_window > window ? max_window : window;
  fc->last_update = 0;
}

int pq_flow_rx_add(pq_flow_rx *fc, uint64_t n) {
  if (n > fc->max - fc->recv) return PQ_ERR_FLOW_CONTROL_ERROR;
  fc->recv += n;
  return 0;
}

bool pq_flow_rx_should_update(const pq_flow_rx *fc) {
  uint64_t target = fc->consumed + fc->window;
  return target > fc->max && target - fc->max >= fc->window / 2;
}

uint64_t pq_flow_rx_update(pq_flow_rx *fc, uint64_t now, uint64_t rtt) {
  /* The peer eats a window in less than two round trips: the window is what limits
   * throughput, so grow it (bounded by max_window). */
  if (fc->last_update && rtt && now - fc->last_update < 2 * rtt &&
      fc->window < fc->max_window) {
    fc->window = fc->window * 2 < fc->max_window ? fc->window * 2 : fc->max_window;
  }
  fc->last_update = now ? now : 1;
  if (fc->consumed + fc->window > fc->max) fc->max = fc->consumed + fc->window;
  return fc->max;
}

void pq_flow_tx_init(pq_flow_tx *fc, uint64_t max) {
  fc->max = max;
  fc->sent = 0;
  fc->blocked_at = UINT64_MAX;
}

bool pq_flow_tx_on_max(pq_flow_tx *fc, uint64_t max) {
  if (max <= fc->max) return false;
  fc->max = max;
  return true;
}

void pq_streams_rx_init(pq_streams_rx *s, uint64_t initial_max) {
  s->max = initial_max;
  s->opened = 0;
  s->closed = 0;
  s->window = initial_max;
}

int pq_streams_rx_on_stream(pq_streams_rx *s, uint64_t id, uint64_t *newly) {
  uint64_t idx = pq_stream_index(id);
  if (newly) *newly = 0;
  if (idx >= s->max) return PQ_ERR_STREAM_LIMIT_ERROR;
  if (idx >= s->opened) {
    if (newly) *newly = idx + 1 - s->opened;
    s->opened = idx + 1;
  }
  return 0;
}

bool pq_streams_rx_should_update(const pq_streams_rx *s) {
  uint64_t target = s->closed + s->window;
  if (target > PQ_MAX_STREAMS_LIMIT) target = PQ_MAX_STREAMS_LIMIT;
  return target > s->max && target - s->max >= (s->window + 1) / 2;
}

uint64_t pq_streams_rx_update(pq_streams_rx *s) {
  uint64_t target = s->closed + s->window;
  if (target > PQ_MAX_STREAMS_LIMIT) target = PQ_MAX_STREAMS_LIMIT;
  if (target > s->max) s->max = target;
  return s->max;
}

void pq_streams_tx_init(pq_streams_tx *s, uint64_t initial_max) {
  s->max = initial_max;
  s->opened = 0;
  s->blocked_at = UINT64_MAX;
}

int pq_streams_tx_open(pq_streams_tx *s, bool is_server, bool uni, uint64_t *id) {
  if (s->opened >= s->max || s->opened >= PQ_MAX_STREAMS_LIMIT) return PQ_ERR_STREAM_LIMIT;
  *id = pq_stream_make_id(s->opened, is_server, uni);
  s->opened++;
  return 0;
}

bool pq_streams_tx_on_max(pq_streams_tx *s, uint64_t max) {
  if (max <= s->max) return false;
  s->max = max > PQ_MAX_STREAMS_LIMIT ? PQ_MAX_STREAMS_LIMIT : max;
  return true;
}
