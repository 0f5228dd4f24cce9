/* mock_host.h: a small fake connection for the plugin runtime tests: connection and
 * recovery fields (max data, RTT, congestion window, ...), byte buffers addressed by
 * tag, frame/transport parameter registration, a settable clock, and a record of
 * faults and log lines. Header-only: each test program includes it once. */
#ifndef MOCK_HOST_H
#define MOCK_HOST_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pluginop/plugin.h"

/* Not every program uses every helper. */
#pragma GCC diagnostic ignored "-Wunused-function"

#define MOCK_BUFS 4

typedef struct mock_buf {
  uint8_t data[4096];
  size_t len;  /* bytes written */
  size_t rpos; /* next byte to read */
} mock_buf;

typedef struct mock_conn {
  uint64_t max_tx_data, max_rx_data, rx_data, tx_data;
  bool established, is_server;
  uint64_t latest_rtt, srtt, rttvar, min_rtt, max_ack_delay;
  uint64_t cwnd, bytes_in_flight, ssthresh, max_datagram_size;
  uint64_t now;
  mock_buf buf[MOCK_BUFS]; /* tag i+1 is buf[i] */
  pop_frame_reg frames[8];
  int n_frames;
  uint64_t tps[8];
  int n_tps;
  pop_fault faults[8];
  int n_faults;
  char log[1024];
  int n_logs;
} mock_conn;

static void mock_init(mock_conn *c) {
  memset(c, 0, sizeof *c);
  c->max_tx_data = 1000;
  c->max_rx_data = 100;
  c->established = true;
  c->max_ack_delay = 25000000;
  c->cwnd = 12000;
  c->ssthresh = UINT64_MAX;
  c->max_datagram_size = 1200;
}

static pop_val mock_u64(uint32_t type, uint64_t x) {
  pop_val v;
  memset(&v, 0, sizeof v);
  v.type = type;
  v.u.u64 = x;
  return v;
}

static int mock_get_conn(void *conn, uint32_t field, uint64_t param, pop_val *out) {
  mock_conn *c = conn;
  switch (field) {
  case POP_CONN_MAX_TX_DATA: *out = mock_u64(POP_VAL_U64, c->max_tx_data); return 0;
  case POP_CONN_MAX_RX_DATA: *out = mock_u64(POP_VAL_U64, c->max_rx_data); return 0;
  case POP_CONN_RX_DATA: *out = mock_u64(POP_VAL_U64, c->rx_data); return 0;
  case POP_CONN_TX_DATA: *out = mock_u64(POP_VAL_U64, c->tx_data); return 0;
  case POP_CONN_IS_ESTABLISHED: *out = mock_u64(POP_VAL_BOOL, c->established); return 0;
  case POP_CONN_IS_SERVER: *out = mock_u64(POP_VAL_BOOL, c->is_server); return 0;
  default: return POP_E_FIELD;
  }
}

static uint64_t *mock_conn_slot(mock_conn *c, uint32_t field) {
  switch (field) {
  case POP_CONN_MAX_TX_DATA: return &c->max_tx_data;
  case POP_CONN_MAX_RX_DATA: return &c->max_rx_data;
  case POP_CONN_RX_DATA: return &c->rx_data;
  case POP_CONN_TX_DATA: return &c->tx_data;
  default: return NULL;
  }
}

static int mock_set_conn(void *conn, uint32_t field, uint64_t param, const pop_val *v) {
  uint64_t *slot = mock_conn_slot(conn, field);
  if (!slot)
    return POP_E_FIELD;
  if (v->type != POP_VAL_U64)
    return POP_E_VALUE;
  *slot = v->u.u64;
  return 0;
}

static uint64_t *mock_rec_slot(mock_conn *c, uint32_t field, uint32_t *type) {
  *type = POP_VAL_DURATION;
  switch (field) {
  case POP_REC_LATEST_RTT: return &c->latest_rtt;
  case POP_REC_SMOOTHED_RTT: return &c->srtt;
  case POP_REC_RTTVAR: return &c->rttvar;
  case POP_REC_MIN_RTT: return &c->min_rtt;
  case POP_REC_MAX_ACK_DELAY: return &c->max_ack_delay;
  }
  *type = POP_VAL_U64;
  switch (field) {
  case POP_REC_CONGESTION_WINDOW: return &c->cwnd;
  case POP_REC_BYTES_IN_FLIGHT: return &c->bytes_in_flight;
  case POP_REC_SSTHRESH: return &c->ssthresh;
  case POP_REC_MAX_DATAGRAM_SIZE: return &c->max_datagram_size;
  }
  return NULL;
}

static int mock_get_rec(void *conn, uint32_t field, uint64_t param, pop_val *out) {
  uint32_t type;
  uint64_t *slot = mock_rec_slot(conn, field, &type);
  if (!slot)
    return POP_E_FIELD;
  *out = mock_u64(type, *slot);
  return 0;
}

static int mock_set_rec(void *conn, uint32_t field, uint64_t param, const pop_val *v) {
  uint32_t type;
  uint64_t *slot = mock_rec_slot(conn, field, &type);
  if (!slot)
    return POP_E_FIELD;
  if (v->type != POP_VAL_U64 && v->type != POP_VAL_DURATION)
    return POP_E_VALUE;
  *slot = v->u.u64;
  return 0;
}

static int mock_bytes_read(void *conn, uint64_t tag, uint8_t *dst, size_t len) {
  mock_conn *c = conn;
  if (tag < 1 || tag > MOCK_BUFS)
    return POP_E_BUFFER;
  mock_buf *b = &c->buf[tag - 1];
  if (len > b->len - b->rpos)
    return POP_E_BUFFER;
  memcpy(dst, b->data + b->rpos, len);
  b->rpos += len;
  return 0;
}

static int mock_bytes_write(void *conn, uint64_t tag, const uint8_t *src, size_t len) {
  mock_conn *c = conn;
  if (tag < 1 || tag > MOCK_BUFS)
    return POP_E_BUFFER;
  mock_buf *b = &c->buf[tag - 1];
  if (len > sizeof b->data - b->len)
    return POP_E_BUFFER;
  memcpy(b->data + b->len, src, len);
  b->len += len;
  return 0;
}

static int mock_register_frame(void *conn, const pop_frame_reg *r) {
  mock_conn *c = conn;
  if (c->n_frames == 8)
    return POP_E_FULL;
  c->frames[c->n_frames++] = *r;
  return 0;
}

static int mock_register_tp(void *conn, uint64_t id) {
  mock_conn *c = conn;
  if (c->n_tps == 8)
    return POP_E_FULL;
  c->tps[c->n_tps++] = id;
  return 0;
}

static uint64_t mock_now(void *conn) { return ((mock_conn *)conn)->now; }

static void mock_log(void *conn, const char *plugin, int level, const char *msg, size_t len) {
  mock_conn *c = conn;
  size_t used = strlen(c->log);
  snprintf(c->log + used, sizeof c->log - used, "%s: %.*s\n", plugin, (int)len, msg);
  c->n_logs++;
}

static void mock_on_fault(void *conn, const pop_fault *f) {
  mock_conn *c = conn;
  if (c->n_faults < 8)
    c->faults[c->n_faults] = *f;
  c->n_faults++;
}

static const pop_callbacks MOCK_CALLBACKS = {
    mock_get_conn,   mock_set_conn,       mock_get_rec,     mock_set_rec,
    mock_bytes_read, mock_bytes_write,    mock_register_frame, mock_register_tp,
    mock_now,        mock_log,            mock_on_fault,
};

/* Path of a built example plugin, into |buf|. */
static const char *plugin_path_buf(const char *name, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/plugins/%s.wasm", PLUGINOP_BINARY_DIR, name);
  return buf;
}

/* Same in a static buffer (single-threaded callers). */
static const char *plugin_path(const char *name) {
  static char buf[512];
  return plugin_path_buf(name, buf, sizeof buf);
}

/* Loads |name| into |s| (NULL on failure, with the error printed). Thread-safe. */
static pop_plugin *load_plugin(pop_store *s, const char *name) {
  pop_plugin *p = NULL;
  char err[192] = "", path[512];
  int rv = pop_store_load_file(s, plugin_path_buf(name, path, sizeof path), &p, err, sizeof err);
  if (rv != 0)
    fprintf(stderr, "load %s: %d %s\n", name, rv, err);
  return rv == 0 ? p : NULL;
}

/* Attaches with every permission (and |enable|); returns the index or < 0. */
static int attach_all(pop_handler *h, pop_plugin *p, bool enable) {
  pop_attach_opts o;
  memset(&o, 0, sizeof o);
  o.permissions = POP_PERM_ALL;
  o.enable = enable;
  int rv = pop_handler_attach(h, p, &o);
  if (rv < 0 && pop_handler_last_fault(h))
    fprintf(stderr, "attach %s: %d %s\n", pop_plugin_name(p), rv,
            pop_handler_last_fault(h)->why);
  return rv;
}

static pop_val mock_frame(uint64_t type, uint64_t f0) {
  pop_val v = mock_u64(POP_VAL_FRAME, 0);
  v.u.frame.type = type;
  v.u.frame.f[0] = f0;
  return v;
}

static pop_val mock_bytes(uint64_t tag, uint64_t max_read, uint64_t max_write) {
  pop_val v = mock_u64(POP_VAL_BYTES, 0);
  v.u.bytes.tag = tag;
  v.u.bytes.max_read = max_read;
  v.u.bytes.max_write = max_write;
  return v;
}

#endif
