/*
 * pq_plugin.c: a connection's plugins (see pq_plugin.h): the pop_callbacks over pq_conn
 * and the hooks the engine calls at its seams.
 */
#include "pq_plugin.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "pq_varint.h"

#define PLUG_MAX_REGS 16 /* registered frame types per connection */
#define PLUG_MAX_TPS 16  /* registered transport parameter ids */
#define PLUG_MAX_BUFS 4  /* byte buffers live at once (nested calls) */
#define PLUG_TP_VALUE 256 /* longest transport parameter value a plugin may write */
/* Probes a Define of on_loss_timer may ask for after a PTO (the engine's own: 1 or 2). */
#define PLUG_MAX_PROBES 4

/* A host buffer a plugin reads (get_bytes) or appends to (put_bytes) during one call. */
typedef struct plug_buf {
  uint64_t tag; /* 0: free */
  const uint8_t *rd;
  size_t rd_len, rd_pos;
  uint8_t *wr;
  size_t wr_cap, wr_len;
} plug_buf;

struct pq_plug {
  pq_conn *c;
  pop_handler *h;
  pq_tstamp now;
  plug_buf bufs[PLUG_MAX_BUFS];
  uint64_t next_tag;
  pop_frame_reg regs[PLUG_MAX_REGS];
  size_t nregs;
  uint64_t tps[PLUG_MAX_TPS];
  size_t ntps;
  pq_tp_ext tp_ext;
  /* Frames the plugins wrote into the packet being built (for log_frame: a type pq_frame
   * does not know cannot be parsed back). At most one per registered type. */
  struct {
    const uint8_t *at;
    size_t len;
    pop_frame f;
  } txf[PLUG_MAX_REGS];
  size_t ntxf;
  pq_tstamp wakeup; /* a set_next_wakeup Define's earlier wakeup, NEVER if none */
};

/* ---- byte buffers ---- */

static plug_buf *buf_open(pq_plug *p, const uint8_t *rd, size_t rd_len, uint8_t *wr,
                          size_t wr_cap) {
  for (int i = 0; i < PLUG_MAX_BUFS; i++) {
    plug_buf *b = &p->bufs[i];
    if (b->tag) continue;
    memset(b, 0, sizeof(*b));
    b->tag = ++p->next_tag;
    b->rd = rd;
    b->rd_len = rd_len;
    b->wr = wr;
    b->wr_cap = wr_cap;
    return b;
  }
  return NULL;
}

static void buf_close(plug_buf *b) {
  if (b) b->tag = 0;
}

static plug_buf *buf_find(pq_plug *p, uint64_t tag) {
  for (int i = 0; i < PLUG_MAX_BUFS; i++)
    if (tag && p->bufs[i].tag == tag) return &p->bufs[i];
  return NULL;
}

static pop_val bytes_val(const plug_buf *b) {
  pop_val v;
  memset(&v, 0, sizeof(v));
  v.type = POP_VAL_BYTES;
  v.u.bytes.tag = b->tag;
  v.u.bytes.max_read = b->rd_len;
  v.u.bytes.max_write = b->wr_cap;
  return v;
}

/* ---- values ---- */

static pop_val val_u64(uint32_t type, uint64_t x) {
  pop_val v;
  memset(&v, 0, sizeof(v));
  v.type = type;
  if (type == POP_VAL_BOOL) v.u.b = x != 0;
  else if (type == POP_VAL_PN_SPACE || type == POP_VAL_PKT_TYPE || type == POP_VAL_U32)
    v.u.u32 = (uint32_t)x;
  else v.u.u64 = x;
  return v;
}

static pop_val val_frame(const pop_frame *f) {
  pop_val v;
  memset(&v, 0, sizeof(v));
  v.type = POP_VAL_FRAME;
  v.u.frame = *f;
  return v;
}

/* Integer value of an input the plugin set (BOOL/U32/U64/DURATION/INSTANT...). */
static bool val_get_u64(const pop_val *v, uint64_t *out) {
  switch (v->type) {
  case POP_VAL_BOOL:
  case POP_VAL_U32:
  case POP_VAL_PN_SPACE:
  case POP_VAL_PKT_TYPE: *out = v->u.u32; return true;
  case POP_VAL_I32: *out = (uint64_t)(int64_t)v->u.i32; return true;
  case POP_VAL_I64:
  case POP_VAL_U64:
  case POP_VAL_DURATION:
  case POP_VAL_INSTANT: *out = v->u.u64; return true;
  default: return false;
  }
}

static uint32_t pkt_type_of(unsigned mask) {
  if (mask & PQ_PKT_MASK_INITIAL) return POP_PKT_INITIAL;
  if (mask & PQ_PKT_MASK_HANDSHAKE) return POP_PKT_HANDSHAKE;
  if (mask & PQ_PKT_MASK_0RTT) return POP_PKT_0RTT;
  return POP_PKT_SHORT;
}

/* The frame fields of docs/PLUGIN-ABI.md for an RFC frame (data fields: no tag). */
static void frame_to_pop(const pq_frame *f, pop_frame *out) {
  memset(out, 0, sizeof(*out));
  out->type = f->type;
  switch (f->type) {
  case PQ_FT_PADDING: out->f[0] = f->u.padding.len; break;
  case PQ_FT_ACK:
  case PQ_FT_ACK_ECN:
    out->f[0] = f->u.ack.largest;
    out->f[1] = f->u.ack.ack_delay;
    out->f[2] = f->u.ack.first_range;
    out->f[3] = f->u.ack.range_count;
    break;
  case PQ_FT_RESET_STREAM:
    out->f[0] = f->u.reset_stream.stream_id;
    out->f[1] = f->u.reset_stream.app_error;
    out->f[2] = f->u.reset_stream.final_size;
    break;
  case PQ_FT_STOP_SENDING:
  case PQ_FT_MAX_STREAM_DATA:
  case PQ_FT_STREAM_DATA_BLOCKED:
    out->f[0] = f->u.max_stream_data.stream_id;
    out->f[1] = f->u.max_stream_data.value;
    break;
  case PQ_FT_CRYPTO:
    out->f[0] = f->u.crypto.offset;
    out->f[1] = f->u.crypto.len;
    break;
  case PQ_FT_MAX_DATA:
  case PQ_FT_MAX_STREAMS_BIDI:
  case PQ_FT_MAX_STREAMS_UNI:
  case PQ_FT_DATA_BLOCKED:
  case PQ_FT_STREAMS_BLOCKED_BIDI:
  case PQ_FT_STREAMS_BLOCKED_UNI:
  case PQ_FT_RETIRE_CONNECTION_ID: out->f[0] = f->u.max_data.value; break;
  default:
    if (f->type >= PQ_FT_STREAM && f->type <= 0x0f) {
      out->f[0] = f->u.stream.stream_id;
      out->f[1] = f->u.stream.offset;
      out->f[2] = f->u.stream.len;
      out->f[3] = f->u.stream.fin;
    }
    break;
  }
}

/* The reverse, for the RFC frames made only of integers (a plugin may parse those);
 * false for the others (they carry data a plugin cannot hand back). */
static bool frame_from_pop(const pop_frame *in, pq_frame *f) {
  memset(f, 0, sizeof(*f));
  f->type = in->type;
  switch (in->type) {
  case PQ_FT_MAX_DATA:
  case PQ_FT_MAX_STREAMS_BIDI:
  case PQ_FT_MAX_STREAMS_UNI:
  case PQ_FT_DATA_BLOCKED:
  case PQ_FT_STREAMS_BLOCKED_BIDI:
  case PQ_FT_STREAMS_BLOCKED_UNI:
  case PQ_FT_RETIRE_CONNECTION_ID: f->u.max_data.value = in->f[0]; return true;
  case PQ_FT_STOP_SENDING:
  case PQ_FT_MAX_STREAM_DATA:
  case PQ_FT_STREAM_DATA_BLOCKED:
    f->u.max_stream_data.stream_id = in->f[0];
    f->u.max_stream_data.value = in->f[1];
    return true;
  case PQ_FT_PING:
  case PQ_FT_HANDSHAKE_DONE: return true;
  default: return false;
  }
}

/* ---- registrations ---- */

static const pop_frame_reg *reg_find(const pq_plug *p, uint64_t type) {
  for (size_t i = 0; i < p->nregs; i++)
    if (p->regs[i].type == type) return &p->regs[i];
  return NULL;
}

static bool tp_registered(const pq_plug *p, uint64_t id) {
  for (size_t i = 0; i < p->ntps; i++)
    if (p->tps[i] == id) return true;
  return false;
}

/* ---- pop_callbacks over the connection ---- */

static void sockaddr_to_pop(const struct sockaddr_storage *ss, pop_sockaddr *out) {
  memset(out, 0, sizeof(*out));
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    out->family = 4;
    out->port = ntohs(a->sin_port);
    memcpy(out->ip, &a->sin_addr, 4);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    out->family = 6;
    out->port = ntohs(a->sin6_port);
    out->scope_id = a->sin6_scope_id;
    memcpy(out->ip, &a->sin6_addr, 16);
  }
}

static int cb_get_conn(void *conn, uint32_t field, uint64_t param, pop_val *out) {
  pq_plug *p = conn;
  pq_conn *c = p->c;
  switch (field) {
  case POP_CONN_MAX_TX_DATA: *out = val_u64(POP_VAL_U64, c->ftx.max); return 0;
  case POP_CONN_MAX_RX_DATA: *out = val_u64(POP_VAL_U64, c->frx.max); return 0;
  case POP_CONN_RX_DATA: *out = val_u64(POP_VAL_U64, c->frx.recv); return 0;
  case POP_CONN_TX_DATA: *out = val_u64(POP_VAL_U64, c->ftx.sent); return 0;
  case POP_CONN_IS_ESTABLISHED:
    *out = val_u64(POP_VAL_BOOL, c->hs_complete && c->state == PQ_CS_ESTABLISHED);
    return 0;
  case POP_CONN_IS_SERVER: *out = val_u64(POP_VAL_BOOL, c->is_server); return 0;
  case POP_CONN_IDLE_TIMEOUT: *out = val_u64(POP_VAL_DURATION, c->idle_timeout); return 0;
  case POP_CONN_PEER_ADDR:
  case POP_CONN_LOCAL_ADDR:
    memset(out, 0, sizeof(*out));
    out->type = POP_VAL_SOCKADDR;
    sockaddr_to_pop(field == POP_CONN_PEER_ADDR ? &c->path.remote : &c->path.local,
                    &out->u.addr);
    return 0;
  case POP_CONN_MAX_STREAMS_BIDI: *out = val_u64(POP_VAL_U64, c->stx_bidi.max); return 0;
  case POP_CONN_MAX_STREAMS_UNI: *out = val_u64(POP_VAL_U64, c->stx_uni.max); return 0;
  case POP_CONN_NEXT_PN:
    if (param >= PQ_PNS_COUNT) return POP_E_VALUE;
    *out = val_u64(POP_VAL_U64, c->spaces[param].next_pn);
    return 0;
  default: return POP_E_FIELD;
  }
}

static int cb_set_conn(void *conn, uint32_t field, uint64_t param, const pop_val *v) {
  pq_plug *p = conn;
  pq_conn *c = p->c;
  uint64_t x;
  if (!val_get_u64(v, &x)) return POP_E_VALUE;
  switch (field) {
  case POP_CONN_MAX_TX_DATA:
    /* The peer's limit only grows (RFC 9000 §4.1): a plugin may apply a larger one. */
    if (x < c->ftx.max) return POP_E_VALUE;
    pq_flow_tx_on_max(&c->ftx, x);
    return 0;
  case POP_CONN_MAX_RX_DATA:
    /* Our advertised limit cannot go below what the peer may already have sent. */
    if (x < c->frx.max) return POP_E_VALUE;
    c->frx.max = x;
    return 0;
  case POP_CONN_IDLE_TIMEOUT: c->idle_timeout = x; return 0;
  default: return POP_E_FIELD;
  }
}

static int cb_get_rec(void *conn, uint32_t field, uint64_t param, pop_val *out) {
  pq_plug *p = conn;
  pq_conn *c = p->c;
  const pq_rtt *r = &c->rec.rtt;
  switch (field) {
  case POP_REC_LATEST_RTT: *out = val_u64(POP_VAL_DURATION, r->latest); return 0;
  case POP_REC_SMOOTHED_RTT: *out = val_u64(POP_VAL_DURATION, r->smoothed); return 0;
  case POP_REC_RTTVAR: *out = val_u64(POP_VAL_DURATION, r->var); return 0;
  case POP_REC_MIN_RTT: *out = val_u64(POP_VAL_DURATION, r->min); return 0;
  case POP_REC_MAX_ACK_DELAY:
    *out = val_u64(POP_VAL_DURATION, c->rec.peer_max_ack_delay);
    return 0;
  case POP_REC_PTO_COUNT: *out = val_u64(POP_VAL_U64, c->rec.pto_count); return 0;
  case POP_REC_BYTES_IN_FLIGHT: *out = val_u64(POP_VAL_U64, c->cc.bytes_in_flight); return 0;
  case POP_REC_CONGESTION_WINDOW: *out = val_u64(POP_VAL_U64, c->cc.cwnd); return 0;
  case POP_REC_SSTHRESH: *out = val_u64(POP_VAL_U64, c->cc.ssthresh); return 0;
  case POP_REC_MAX_DATAGRAM_SIZE: *out = val_u64(POP_VAL_U64, c->cc.max_datagram_size); return 0;
  case POP_REC_LOSS_TIME:
    if (param >= PQ_PNS_COUNT) return POP_E_VALUE;
    *out = val_u64(POP_VAL_INSTANT, c->rec.spaces[param].loss_time);
    return 0;
  default: return POP_E_FIELD;
  }
}

static int cb_set_rec(void *conn, uint32_t field, uint64_t param, const pop_val *v) {
  pq_plug *p = conn;
  pq_conn *c = p->c;
  pq_rtt *r = &c->rec.rtt;
  uint64_t x;
  if (!val_get_u64(v, &x)) return POP_E_VALUE;
  switch (field) {
  case POP_REC_LATEST_RTT: r->latest = x; return 0;
  case POP_REC_SMOOTHED_RTT:
    if (x == 0) return POP_E_VALUE; /* a zero RTT would make every timer fire at once */
    r->smoothed = x;
    c->cc.smoothed_rtt = x;
    return 0;
  case POP_REC_RTTVAR: r->var = x; return 0;
  case POP_REC_MIN_RTT: r->min = x; return 0;
  case POP_REC_CONGESTION_WINDOW:
    /* Never below the RFC 9002 minimum window: the connection must keep moving. */
    if (x < pq_cc_min_window(&c->cc)) return POP_E_VALUE;
    c->cc.cwnd = x;
    return 0;
  case POP_REC_SSTHRESH: c->cc.ssthresh = x; return 0;
  default: return POP_E_FIELD;
  }
}

static int cb_bytes_read(void *conn, uint64_t tag, uint8_t *dst, size_t len) {
  plug_buf *b = buf_find(conn, tag);
  if (!b || !b->rd || b->rd_len - b->rd_pos < len) return POP_E_BUFFER;
  if (len) memcpy(dst, b->rd + b->rd_pos, len);
  b->rd_pos += len;
  return 0;
}

static int cb_bytes_write(void *conn, uint64_t tag, const uint8_t *src, size_t len) {
  plug_buf *b = buf_find(conn, tag);
  if (!b || !b->wr || b->wr_cap - b->wr_len < len) return POP_E_BUFFER;
  if (len) memcpy(b->wr + b->wr_len, src, len);
  b->wr_len += len;
  return 0;
}

static int cb_register_frame(void *conn, const pop_frame_reg *reg) {
  pq_plug *p = conn;
  if (reg->type > PQ_VARINT_MAX || reg->send_order > POP_SEND_END) return POP_E_VALUE;
  for (size_t i = 0; i < p->nregs; i++)
    if (p->regs[i].type == reg->type) {
      p->regs[i] = *reg; /* registered again: the latest flags win */
      return 0;
    }
  if (p->nregs >= PLUG_MAX_REGS) return POP_E_FULL;
  p->regs[p->nregs++] = *reg;
  return 0;
}

static int cb_register_tp(void *conn, uint64_t id) {
  pq_plug *p = conn;
  /* The RFC parameters stay with the native table. */
  if (id > PQ_VARINT_MAX || pq_tp_def_get(id)) return POP_E_VALUE;
  if (tp_registered(p, id)) return 0;
  if (p->ntps >= PLUG_MAX_TPS) return POP_E_FULL;
  p->tps[p->ntps++] = id;
  return 0;
}

static uint64_t cb_now(void *conn) { return ((pq_plug *)conn)->now; }

static void cb_log(void *conn, const char *plugin, int level, const char *msg, size_t len) {
  pq_conn *c = ((pq_plug *)conn)->c;
  if (c->cb.plugin_log) c->cb.plugin_log(c, plugin, level, msg, len, c->user);
}

static void cb_on_fault(void *conn, const pop_fault *fault) {
  pq_conn *c = ((pq_plug *)conn)->c;
  c->stats.plugin_faults++;
  if (c->cb.plugin_fault) c->cb.plugin_fault(c, fault, c->user);
}

static const pop_callbacks plug_cbs = {
    cb_get_conn,   cb_set_conn,       cb_get_rec,     cb_set_rec, cb_bytes_read,
    cb_bytes_write, cb_register_frame, cb_register_tp, cb_now,     cb_log,
    cb_on_fault};

/* ---- calls ---- */

static int64_t native_noop(void *arg, pop_op op, const pop_val *in, size_t n, pop_val *out,
                           size_t max_out, size_t *n_out) {
  return 0;
}

static int call(pq_plug *p, pop_op_kind kind, uint64_t param, const pop_val *in, size_t n,
                pop_val *out, size_t max_out, pop_native_fn native, void *arg,
                pop_call_result *res) {
  p->c->stats.plugin_calls++;
  return pop_handler_call(p->h, pop_op_make(kind, param), in, n, out, max_out, native, arg,
                          res);
}

static bool wants(const pq_plug *p, pop_op_kind kind, uint64_t param) {
  return pop_handler_wants(p->h, pop_op_make(kind, param));
}

/* ---- lifecycle ---- */

static ssize_t tp_encode(void *user, uint8_t *buf, size_t len);
static int tp_decode(void *user, uint64_t id, const uint8_t *val, size_t len);
static void update_rtt_hook(void *user, uint64_t latest, uint64_t ack_delay, pq_tstamp now);
static void cc_event_hook(void *user, pq_cc *cc, pq_tstamp sent_time, pq_tstamp now);

int pq_plugin_conn_init(pq_conn *c, pq_tstamp now) {
  const pq_settings *s = &c->settings;
  pq_plug *p;
  if (!s->plugin_store || s->n_plugins == 0) return 0;
  if (!s->plugins) return PQ_ERR_INVALID_ARG;
  for (size_t i = 0; i < s->n_plugins; i++)
    if (!s->plugins[i].plugin) return PQ_ERR_INVALID_ARG;
  p = calloc(1, sizeof(*p));
  if (!p) return PQ_ERR_NOMEM;
  p->c = c;
  p->now = now;
  p->wakeup = PQ_TSTAMP_NEVER;
  p->tp_ext.encode = tp_encode;
  p->tp_ext.decode = tp_decode;
  p->tp_ext.user = p;
  if (pop_handler_new(s->plugin_store, &plug_cbs, p, &p->h) != 0) {
    free(p);
    return PQ_ERR_NOMEM;
  }
  c->plug = p;
  for (size_t i = 0; i < s->n_plugins; i++) {
    const pq_plugin_spec *sp = &s->plugins[i];
    pop_attach_opts o;
    int rv;
    memset(&o, 0, sizeof(o));
    o.params = sp->params;
    o.n_params = sp->n_params;
    o.permissions = sp->permissions ? sp->permissions : (POP_PERM_ALL & ~POP_PERM_FILE);
    o.file_dir = sp->file_dir;
    o.enable = sp->enable;
    rv = pop_handler_attach(p->h, sp->plugin, &o);
    if (rv == POP_ERR_NOMEM) return PQ_ERR_NOMEM;
    /* A plugin that cannot start is left out; the connection runs without it. A fault
     * in init was counted by cb_on_fault already. */
    if (rv < 0 && rv != POP_ERR_FAULT) c->stats.plugin_faults++;
  }
  c->tp_ext = &p->tp_ext; /* the engine's transport parameter seam */
  c->rec.rtt_hook = update_rtt_hook;
  pq_plugin_on_cc_init(c);
  return 0;
}

void pq_plugin_conn_free(pq_conn *c) {
  if (!c->plug) return;
  pop_handler_del(c->plug->h);
  free(c->plug);
  c->plug = NULL;
}

void pq_plugin_on_cc_init(pq_conn *c) {
  if (!c->plug) return;
  c->cc.event_hook = cc_event_hook;
  c->cc.event_hook_user = c->plug;
}

pop_handler *pq_conn_plugin_handler(pq_conn *c) { return c && c->plug ? c->plug->h : NULL; }

/* ---- transport parameters ---- */


/* WriteTransportParameter(id) for each registered id; a plugin that does not write
 * (no code, disabled, fault, error) leaves its parameter out. */
static ssize_t tp_encode(void *user, uint8_t *buf, size_t len) {
  pq_plug *p = user;
  size_t off = 0;
  for (size_t i = 0; i < p->ntps; i++) {
    uint8_t val[PLUG_TP_VALUE];
    plug_buf *b = buf_open(p, NULL, 0, val, sizeof(val));
    pop_val in;
    ssize_t n;
    int rv;
    if (!b) return PQ_ERR_NOMEM;
    in = bytes_val(b);
    rv = call(p, POP_OP_WRITE_TRANSPORT_PARAMETER, p->tps[i], &in, 1, NULL, 0, NULL, NULL,
              NULL);
    n = rv == 0 ? pq_tp_write_param(buf + off, len - off, p->tps[i], val, b->wr_len) : 0;
    buf_close(b);
    if (n < 0) return n;
    off += (size_t)n;
  }
  return (ssize_t)off;
}

/* DecodeTransportParameter(id) for a registered id (this is where a two-step plugin
 * enables itself). A plugin refusing the value (non-zero code) is a
 * TRANSPORT_PARAMETER_ERROR; a fault only disables the plugin. */
static int tp_decode(void *user, uint64_t id, const uint8_t *val, size_t len) {
  pq_plug *p = user;
  plug_buf *b;
  pop_val in;
  int rv;
  if (!tp_registered(p, id)) return 0;
  b = buf_open(p, val, len, NULL, 0);
  if (!b) return PQ_ERR_NOMEM;
  in = bytes_val(b);
  rv = call(p, POP_OP_DECODE_TRANSPORT_PARAMETER, id, &in, 1, NULL, 0, NULL, NULL, NULL);
  buf_close(b);
  return rv == POP_ERR_OP ? PQ_ERR_TRANSPORT_PARAMETER : 0;
}

/* ---- frames logged ---- */

/* LogFrame(type): inputs FRAME, BOOL sent, PN_SPACE, INSTANT now. An observation: the
 * native code does nothing, outputs and a non-zero return are ignored. */
static void log_frame(pq_plug *p, const pop_frame *f, bool sent, pq_pnspace s, pq_tstamp now) {
  pop_val in[4];
  p->now = now;
  in[0] = val_frame(f);
  in[1] = val_u64(POP_VAL_BOOL, sent);
  in[2] = val_u64(POP_VAL_PN_SPACE, s);
  in[3] = val_u64(POP_VAL_INSTANT, now);
  call(p, POP_OP_LOG_FRAME, f->type, in, 4, NULL, 0, native_noop, NULL, NULL);
}

/* A received RFC frame the native code parses and processes, logged first: parsed
 * here too (only for logged types). A frame that does not parse is not logged (the
 * native parser fails the connection right after). */
static void rx_log_native(pq_plug *p, const pq_rx_ctx *ctx, const uint8_t *b, size_t len) {
  pq_frame f;
  pop_frame pf;
  if (pq_frame_parse(&f, b, len) < 0) return;
  frame_to_pop(&f, &pf);
  log_frame(p, &pf, false, ctx->space, ctx->now);
}

/* OnFrameReserved(type) for a frame the engine wrote itself: the same input as for a
 * plugin's frame (0: FRAME). An observation: the frame stays as written, so the native
 * code does nothing and a Define's outputs and return code are ignored. */
static void reserved_native(pq_plug *p, const pop_frame *f, pq_tstamp now) {
  pop_val in[1];
  p->now = now;
  in[0] = val_frame(f);
  call(p, POP_OP_ON_FRAME_RESERVED, f->type, in, 1, NULL, 0, native_noop, NULL, NULL);
}

void pq_plugin_log_tx(pq_conn *c, pq_pnspace s, const uint8_t *payload, size_t len,
                      pq_tstamp now) {
  pq_plug *p = c->plug;
  size_t off = 0;
  bool log = pop_handler_wants_kind(p->h, POP_OP_LOG_FRAME);
  bool reserved = pop_handler_wants_kind(p->h, POP_OP_ON_FRAME_RESERVED);
  /* Most connections with plugins neither log nor observe frames: no walk. */
  if (!log && !reserved) {
    p->ntxf = 0;
    return;
  }
  while (off < len) {
    pop_frame pf;
    ssize_t n = -1;
    bool native = true;
    for (size_t i = 0; i < p->ntxf; i++)
      if (p->txf[i].at == payload + off) { /* a plugin's frame: as it prepared it */
        pf = p->txf[i].f;
        n = (ssize_t)p->txf[i].len;
        native = false; /* its on_frame_reserved ran when it was written (send_one) */
        break;
      }
    if (n < 0) {
      pq_frame f;
      n = pq_frame_parse(&f, payload + off, len - off);
      if (n <= 0) break; /* cannot happen for what we wrote; stop rather than guess */
      frame_to_pop(&f, &pf);
    }
    /* PADDING runs fill the packet, no plugin could have a say in them: not reserved. */
    if (reserved && native && pf.type != PQ_FT_PADDING &&
        wants(p, POP_OP_ON_FRAME_RESERVED, pf.type))
      reserved_native(p, &pf, now);
    if (log && wants(p, POP_OP_LOG_FRAME, pf.type)) log_frame(p, &pf, true, s, now);
    off += (size_t)n;
  }
  p->ntxf = 0;
}

/* ---- received frames ---- */

typedef struct rx_native {
  pq_conn *c;
  pq_rx_ctx *ctx;
  const pq_frame *f; /* the natively parsed frame, or NULL (parsed by a plugin) */
  int rv;            /* what the native code returned */
} rx_native;

/* The native ProcessFrame, when no plugin defines it (or the definer faulted). */
static int64_t native_process(void *arg, pop_op op, const pop_val *in, size_t n,
                              pop_val *out, size_t max_out, size_t *n_out) {
  rx_native *nat = arg;
  pq_frame f;
  const pq_frame *fp = nat->f;
  if (!fp) {
    if (n < 1 || in[0].type != POP_VAL_FRAME || !frame_from_pop(&in[0].u.frame, &f))
      return 0; /* a plugin's own frame: nothing native to do */
    fp = &f;
  }
  nat->rv = pq_conn_process_frame(nat->c, fp, nat->ctx);
  return nat->rv ? 1 : 0;
}

/* ParseFrame through the plugin: inputs BYTES over the body, PKT_TYPE; output FRAME.
 * Returns body bytes read, or -1 when the plugin could not parse it. */
static ssize_t plugin_parse(pq_plug *p, uint64_t type, const uint8_t *body, size_t len,
                            unsigned pkt_mask, pop_frame *out) {
  plug_buf *b = buf_open(p, body, len, NULL, 0);
  pop_val in[2], res_val;
  pop_call_result res;
  ssize_t used;
  int rv;
  if (!b) return -1;
  in[0] = bytes_val(b);
  in[1] = val_u64(POP_VAL_PKT_TYPE, pkt_type_of(pkt_mask));
  rv = call(p, POP_OP_PARSE_FRAME, type, in, 2, &res_val, 1, NULL, NULL, &res);
  used = (ssize_t)b->rd_pos;
  buf_close(b);
  if (rv != 0 || res.n_outputs < 1 || res_val.type != POP_VAL_FRAME) return -1;
  *out = res_val.u.frame;
  out->type = type;
  return used;
}

ssize_t pq_plugin_rx_frame(pq_conn *c, pq_rx_ctx *ctx, const uint8_t *p, size_t len) {
  pq_plug *pl = c->plug;
  uint64_t type;
  ssize_t tn, bn;
  const pop_frame_reg *reg;
  bool known;
  pq_frame f;
  pop_frame pf;
  rx_native nat = {c, ctx, NULL, 0};
  pop_val in[5];
  int rv;
  /* Cheap first test: most frames are RFC types nobody hooks. */
  if (p[0] < PQ_FT_TABLE_SIZE && !wants(pl, POP_OP_PARSE_FRAME, p[0]) &&
      !wants(pl, POP_OP_PROCESS_FRAME, p[0])) {
    if (wants(pl, POP_OP_LOG_FRAME, p[0])) rx_log_native(pl, ctx, p, len);
    return 0;
  }
  tn = pq_frame_read_type(p, len, &type);
  if (tn < 0) return 0; /* the native parser reports it */
  known = pq_frame_ops_get(type) != NULL;
  reg = reg_find(pl, type);
  if (!wants(pl, POP_OP_PARSE_FRAME, type) && !wants(pl, POP_OP_PROCESS_FRAME, type)) {
    /* An unknown type nobody enabled claims: FRAME_ENCODING_ERROR natively. */
    if (known && wants(pl, POP_OP_LOG_FRAME, type)) rx_log_native(pl, ctx, p, len);
    return 0;
  }
  /* Parse: the plugin's, for its own types and integer-only RFC frames. */
  bn = -1;
  if (wants(pl, POP_OP_PARSE_FRAME, type)) {
    bn = plugin_parse(pl, type, p + tn, len - (size_t)tn, ctx->pkt_mask, &pf);
    if (bn >= 0 && known && !frame_from_pop(&pf, &f)) bn = -1; /* data frames: native */
  }
  if (bn < 0) {
    ssize_t n;
    if (!known) return pq_conn_fail(c, PQ_ERR_FRAME_ENCODING, type);
    n = pq_frame_parse(&f, p, len);
    if (n < 0) return pq_conn_fail(c, (int)n, 0);
    bn = n - tn;
    frame_to_pop(&f, &pf);
    nat.f = &f;
  }
  /* Which packets may carry it, and what it does to the packet (RFC 9000 Table 3; a
   * plugin frame: 0-RTT/1-RTT, ack-eliciting as registered). */
  if (known) {
    if ((rv = pq_frame_check_packet(type, ctx->pkt_mask))) return pq_conn_fail(c, rv, type);
    if (pq_frame_flags(type) & PQ_FRAME_F_ACK_ELICITING) ctx->ack_eliciting = true;
    if (!(pq_frame_flags(type) & PQ_FRAME_F_PROBING) && type != PQ_FT_PADDING)
      ctx->non_probing = true;
  } else {
    if (!(ctx->pkt_mask & (PQ_PKT_MASK_0RTT | PQ_PKT_MASK_1RTT)))
      return pq_conn_fail(c, PQ_ERR_PROTOCOL_VIOLATION, type);
    if (!reg || reg->ack_eliciting) ctx->ack_eliciting = true;
    ctx->non_probing = true;
  }
  if (wants(pl, POP_OP_LOG_FRAME, type)) log_frame(pl, &pf, false, ctx->space, ctx->now);
  /* Process: Before, the Define (or native) code, After. */
  memset(in, 0, sizeof(in));
  in[0] = val_frame(&pf);
  in[1].type = POP_VAL_HEADER;
  in[1].u.hdr.type = (uint8_t)pkt_type_of(ctx->pkt_mask);
  in[1].u.hdr.dcid_len = (uint8_t)c->scid_len;
  memcpy(in[1].u.hdr.dcid, c->scid, c->scid_len);
  in[2] = val_u64(POP_VAL_U64, 0);
  in[3] = val_u64(POP_VAL_PN_SPACE, ctx->space);
  in[4] = val_u64(POP_VAL_INSTANT, ctx->now);
  pl->now = ctx->now;
  rv = call(pl, POP_OP_PROCESS_FRAME, type, in, 5, NULL, 0, native_process, &nat, NULL);
  if (nat.rv) return nat.rv; /* the native code failed the connection */
  (void)rv; /* a plugin's own error or fault: the frame is ignored, the connection goes on */
  return tn + bn;
}

/* ---- frames to send ---- */

static bool owns_tx(const pq_conn *c, uint64_t type) {
  const pop_frame_reg *r = reg_find(c->plug, type);
  /* Only while the plugin can send it: a disabled plugin gives the frame back. */
  return r && pop_handler_wants(c->plug->h, pop_op_make(POP_OP_WRITE_FRAME, type));
}

/* Slot of pop_send_order that comes right before native send entry |index|. */
static int slot_of(size_t index) {
  if (index >= pq_conn_send_order_len) return POP_SEND_END;
  if (index == 0) return POP_SEND_FIRST;
  if (pq_conn_send_order[index - 1] == PQ_FT_ACK) return POP_SEND_AFTER_ACK;
  if (pq_conn_send_order[index] == PQ_FT_STREAM) return POP_SEND_BEFORE_STREAM;
  return -1;
}

/* One registered frame: should_send -> prepare -> wire_len -> write -> reserved.
 * Returns 0 (sent or not) or a fatal error. */
static int send_one(pq_plug *p, const pop_frame_reg *reg, pq_tx_ctx *ctx) {
  pq_conn *c = p->c;
  uint64_t type = reg->type, want = 0, wl = 0;
  size_t room = (size_t)(ctx->end - ctx->p);
  pop_val in[5], out;
  pop_call_result res;
  pop_frame f;
  plug_buf *b;
  size_t written;
  if (!wants(p, POP_OP_WRITE_FRAME, type) || room < 2) return 0;
  if (reg->ack_eliciting && !ctx->cc_ok) return 0;
  if (reg->ack_eliciting && ctx->nrtx >= PQ_CONN_MAX_RTX) return 0;
  in[0] = val_u64(POP_VAL_PKT_TYPE, ctx->space == PQ_PNS_APP
                                        ? (ctx->zero_rtt ? POP_PKT_0RTT : POP_PKT_SHORT)
                                    : ctx->space == PQ_PNS_INITIAL ? POP_PKT_INITIAL
                                                                   : POP_PKT_HANDSHAKE);
  in[1] = val_u64(POP_VAL_PN_SPACE, ctx->space);
  in[2] = val_u64(POP_VAL_BOOL, c->state >= PQ_CS_CLOSING);
  in[3] = val_u64(POP_VAL_U64, room);
  in[4] = val_u64(POP_VAL_INSTANT, ctx->now);
  if (wants(p, POP_OP_SHOULD_SEND_FRAME, type)) {
    if (call(p, POP_OP_SHOULD_SEND_FRAME, type, in, 5, &out, 1, NULL, NULL, &res) != 0 ||
        res.n_outputs < 1 || !val_get_u64(&out, &want) || !want)
      return 0;
  } else if (ctx->space != PQ_PNS_APP) {
    return 0; /* without a should_send, plugin frames go in 1-RTT packets only */
  }
  in[0] = in[1];
  in[1] = in[3];
  if (call(p, POP_OP_PREPARE_FRAME, type, in, 2, &out, 1, NULL, NULL, &res) != 0 ||
      res.n_outputs < 1 || out.type != POP_VAL_FRAME)
    return 0;
  f = out.u.frame;
  f.type = type;
  in[0] = val_frame(&f);
  if (wants(p, POP_OP_WIRE_LEN, type)) {
    if (call(p, POP_OP_WIRE_LEN, type, in, 1, &out, 1, NULL, NULL, &res) != 0 ||
        res.n_outputs < 1 || !val_get_u64(&out, &wl) || wl > room)
      return 0; /* does not fit: maybe in the next packet */
  }
  b = buf_open(p, NULL, 0, ctx->p, room);
  if (!b) return 0;
  in[1] = bytes_val(b);
  if (call(p, POP_OP_WRITE_FRAME, type, in, 2, NULL, 0, NULL, NULL, NULL) != 0 ||
      b->wr_len == 0) {
    buf_close(b);
    return 0; /* nothing usable written: the bytes past ctx->p are not committed */
  }
  written = b->wr_len;
  buf_close(b);
  if (p->ntxf < PLUG_MAX_REGS) { /* for log_frame, once the packet is complete */
    p->txf[p->ntxf].at = ctx->p;
    p->txf[p->ntxf].len = written;
    p->txf[p->ntxf++].f = f;
  }
  ctx->p += written;
  if (reg->ack_eliciting) {
    pq_rtx r = {.kind = PQ_RTX_PLUGIN, .id = type, .off = f.f[0], .len = f.f[1]};
    pq_tx_add_rtx(ctx, &r);
    ctx->ack_eliciting = true;
  }
  if (reg->ack_eliciting || reg->count_in_flight) ctx->in_flight = true;
  in[0] = val_frame(&f);
  call(p, POP_OP_ON_FRAME_RESERVED, type, in, 1, NULL, 0, native_noop, NULL, NULL);
  return 0;
}

static int tx_slot(pq_conn *c, pq_tx_ctx *ctx, size_t index) {
  pq_plug *p = c->plug;
  int slot = slot_of(index);
  if (slot < 0 || p->nregs == 0) return 0;
  p->now = ctx->now;
  for (size_t i = 0; i < p->nregs; i++) {
    int rv;
    if (p->regs[i].send_order != slot) continue;
    if ((rv = send_one(p, &p->regs[i], ctx))) return rv;
  }
  return 0;
}

bool pq_plugin_wants_send(pq_conn *c) {
  pq_plug *p = c->plug;
  for (size_t i = 0; i < p->nregs; i++) {
    const pop_frame_reg *reg = &p->regs[i];
    pop_val in[5], out;
    pop_call_result res;
    uint64_t want = 0;
    if (!reg->ack_eliciting || !wants(p, POP_OP_SHOULD_SEND_FRAME, reg->type) ||
        !wants(p, POP_OP_WRITE_FRAME, reg->type))
      continue;
    in[0] = val_u64(POP_VAL_PKT_TYPE, POP_PKT_SHORT);
    in[1] = val_u64(POP_VAL_PN_SPACE, PQ_PNS_APP);
    in[2] = val_u64(POP_VAL_BOOL, c->state >= PQ_CS_CLOSING);
    in[3] = val_u64(POP_VAL_U64, c->mds);
    in[4] = val_u64(POP_VAL_INSTANT, p->now);
    if (call(p, POP_OP_SHOULD_SEND_FRAME, reg->type, in, 5, &out, 1, NULL, NULL, &res) == 0 &&
        res.n_outputs >= 1 && val_get_u64(&out, &want) && want)
      return true;
  }
  return false;
}

int pq_plugin_fill_packet(pq_conn *c, pq_tx_ctx *ctx) {
  c->plug->ntxf = 0;
  for (size_t i = 0; i <= pq_conn_send_order_len; i++) {
    const pq_conn_frame_def *d;
    int rv = tx_slot(c, ctx, i);
    if (rv < 0) return rv;
    if (i == pq_conn_send_order_len) break;
    d = &pq_conn_frame_table[pq_conn_send_order[i]];
    if (!d->send || owns_tx(c, pq_conn_send_order[i])) continue;
    rv = d->send(c, ctx);
    if (rv < 0 && rv != PQ_ERR_NOBUF) return rv;
  }
  return 0;
}

void pq_plugin_rtx(pq_conn *c, const pq_rtx *r, bool lost) {
  pq_plug *p = c->plug;
  pop_frame f;
  pop_val in[2];
  if (!p || !wants(p, POP_OP_NOTIFY_FRAME, r->id)) return;
  memset(&f, 0, sizeof(f));
  f.type = r->id;
  f.f[0] = r->off;
  f.f[1] = r->len;
  in[0] = val_frame(&f);
  in[1] = val_u64(POP_VAL_BOOL, lost);
  call(p, POP_OP_NOTIFY_FRAME, r->id, in, 2, NULL, 0, native_noop, NULL, NULL);
}

/* ---- recovery and congestion ---- */

static void packet_event(pq_conn *c, pop_op_kind kind, pq_pnspace s, const pq_sent_pkt *pk,
                         pq_tstamp now) {
  pq_plug *p = c->plug;
  pop_val in[5];
  size_t n = 0;
  if (!wants(p, kind, 0)) return;
  p->now = now;
  in[n++] = val_u64(POP_VAL_PN_SPACE, s);
  in[n++] = val_u64(POP_VAL_U64, pk->pn);
  in[n++] = val_u64(POP_VAL_U64, pk->bytes);
  if (kind == POP_OP_ON_PACKET_SENT) in[n++] = val_u64(POP_VAL_BOOL, pk->ack_eliciting);
  if (kind == POP_OP_ON_PACKET_ACKED) in[n++] = val_u64(POP_VAL_INSTANT, pk->sent_time);
  in[n++] = val_u64(POP_VAL_INSTANT, now);
  call(p, kind, 0, in, n, NULL, 0, native_noop, NULL, NULL);
}

void pq_plugin_packet_sent(pq_conn *c, pq_pnspace s, const pq_sent_pkt *p, pq_tstamp now) {
  packet_event(c, POP_OP_ON_PACKET_SENT, s, p, now);
}

void pq_plugin_packet_acked(pq_conn *c, pq_pnspace s, const pq_sent_pkt *p, pq_tstamp now) {
  packet_event(c, POP_OP_ON_PACKET_ACKED, s, p, now);
}

void pq_plugin_packet_lost(pq_conn *c, pq_pnspace s, const pq_sent_pkt *p, pq_tstamp now) {
  packet_event(c, POP_OP_ON_PACKET_LOST, s, p, now);
}

typedef struct rtt_args {
  pq_conn *c;
  uint64_t latest, ack_delay;
  pq_tstamp now;
} rtt_args;

static int64_t native_rtt(void *arg, pop_op op, const pop_val *in, size_t n, pop_val *out,
                          size_t max_out, size_t *n_out) {
  rtt_args *a = arg;
  pq_recovery *rec = &a->c->rec;
  pq_rtt_update(&rec->rtt, a->latest, a->ack_delay, rec->handshake_confirmed,
                rec->peer_max_ack_delay, a->now);
  return 0;
}

static void update_rtt_hook(void *user, uint64_t latest, uint64_t ack_delay, pq_tstamp now) {
  pq_conn *c = user; /* the recovery's user is the connection */
  pq_plug *p = c->plug;
  rtt_args a = {c, latest, ack_delay, now};
  pop_val in[3];
  pop_call_result res;
  bool first = !c->rec.rtt.has_sample;
  if (!wants(p, POP_OP_UPDATE_RTT, 0)) {
    native_rtt(&a, pop_op_make(POP_OP_UPDATE_RTT, 0), NULL, 0, NULL, 0, NULL);
    return;
  }
  p->now = now;
  in[0] = val_u64(POP_VAL_DURATION, latest);
  in[1] = val_u64(POP_VAL_DURATION, ack_delay);
  in[2] = val_u64(POP_VAL_INSTANT, now);
  call(p, POP_OP_UPDATE_RTT, 0, in, 3, NULL, 0, native_rtt, &a, &res);
  /* A plugin's estimator took the sample: the bookkeeping around it stays ours. */
  if (res.definer >= 0) {
    if (first) c->rec.rtt.first_sample_time = now;
    c->rec.rtt.has_sample = true;
    if (c->rec.rtt.smoothed == 0) c->rec.rtt.smoothed = latest ? latest : PQ_GRANULARITY;
    if (c->rec.rtt.min == 0 || c->rec.rtt.min > latest) c->rec.rtt.min = latest;
  }
}

typedef struct cc_args {
  pq_cc *cc;
  pq_tstamp sent_time, now;
} cc_args;

static int64_t native_cc_event(void *arg, pop_op op, const pop_val *in, size_t n,
                               pop_val *out, size_t max_out, size_t *n_out) {
  cc_args *a = arg;
  a->cc->algo->on_congestion_event(a->cc, a->sent_time, a->now);
  return 0;
}

static void cc_event_hook(void *user, pq_cc *cc, pq_tstamp sent_time, pq_tstamp now) {
  pq_plug *p = user;
  cc_args a = {cc, sent_time, now};
  pop_val in[2];
  if (!wants(p, POP_OP_ON_CONGESTION_EVENT, 0)) {
    cc->algo->on_congestion_event(cc, sent_time, now);
    return;
  }
  p->now = now;
  in[0] = val_u64(POP_VAL_INSTANT, sent_time);
  in[1] = val_u64(POP_VAL_INSTANT, now);
  call(p, POP_OP_ON_CONGESTION_EVENT, 0, in, 2, NULL, 0, native_cc_event, &a, NULL);
  /* Whatever a plugin did, the window stays usable. */
  if (cc->cwnd < pq_cc_min_window(cc)) cc->cwnd = pq_cc_min_window(cc);
}

/* ---- timers ---- */

pq_tstamp pq_plugin_next_timer(const pq_conn *c) {
  uint64_t at;
  if (!c->plug || !pop_handler_next_timer(c->plug->h, &at)) return PQ_TSTAMP_NEVER;
  return at;
}

pq_tstamp pq_plugin_expiry(const pq_conn *c) {
  pq_tstamp t = pq_timers_earliest(&c->timers, NULL), pt;
  /* A closing connection runs no plugin timer (it would keep the expiry in the past),
   * nor a plugin's earlier wakeup. */
  if (c->state >= PQ_CS_CLOSING) return t;
  if ((pt = pq_plugin_next_timer(c)) < t) t = pt;
  if (c->plug->wakeup < t) t = c->plug->wakeup;
  return t;
}

/* SetNextWakeup's native code: the engine's wakeup stays. */
static int64_t native_wakeup(void *arg, pop_op op, const pop_val *in, size_t n, pop_val *out,
                             size_t max_out, size_t *n_out) {
  if (n >= 1 && max_out >= 1) {
    out[0] = in[0];
    *n_out = 1;
  }
  return 0;
}

void pq_plugin_set_wakeup(pq_conn *c, pq_tstamp now) {
  pq_plug *p = c->plug;
  pq_tstamp engine, want;
  pop_val in[2], out;
  pop_call_result res;
  p->wakeup = PQ_TSTAMP_NEVER;
  if (!wants(p, POP_OP_SET_NEXT_WAKEUP, 0)) return;
  engine = pq_plugin_expiry(c); /* the engine's timers and the plugin timers */
  p->now = now;
  in[0] = val_u64(POP_VAL_INSTANT, engine);
  in[1] = val_u64(POP_VAL_INSTANT, now);
  if (call(p, POP_OP_SET_NEXT_WAKEUP, 0, in, 2, &out, 1, native_wakeup, NULL, &res) != 0 ||
      res.definer < 0 || res.n_outputs < 1 ||
      (out.type != POP_VAL_INSTANT && out.type != POP_VAL_U64))
    return;
  want = out.u.u64;
  /* Never sooner than one timer granularity from now: a plugin answering "now" (or a
   * time in the past) at every wakeup would otherwise make the application spin, since
   * each expiry asks again. At most one plugin-made wakeup per millisecond. */
  if (want < now + PQ_GRANULARITY) want = now + PQ_GRANULARITY;
  /* Only earlier, never later: pq_plugin_expiry takes the earliest of this and the
   * engine's timers (PTO, ACK, idle), which keep their time. Kept even when not earlier
   * than |engine| right now: a due ACK or loss deadline in |engine| may be cleared by
   * pq_conn_handle_expiry right after. */
  p->wakeup = want;
}

unsigned pq_plugin_loss_timer(pq_conn *c, pq_pnspace s, bool pto, pq_tstamp now) {
  pq_plug *p = c->plug;
  pop_val in[4], out;
  pop_call_result res;
  uint64_t n;
  if (!wants(p, POP_OP_ON_LOSS_TIMER, 0)) return 0;
  p->now = now;
  in[0] = val_u64(POP_VAL_INSTANT, now);
  in[1] = val_u64(POP_VAL_PN_SPACE, s);
  in[2] = val_u64(POP_VAL_U64, c->rec.pto_count);
  in[3] = val_u64(POP_VAL_BOOL, pto);
  if (call(p, POP_OP_ON_LOSS_TIMER, 0, in, 4, &out, 1, native_noop, NULL, &res) != 0 ||
      !pto || res.definer < 0 || res.n_outputs < 1 || !val_get_u64(&out, &n))
    return 0;
  return n > PLUG_MAX_PROBES ? PLUG_MAX_PROBES : (unsigned)n;
}

void pq_plugin_on_expiry(pq_conn *c, pq_tstamp now) {
  if (!c->plug || pq_plugin_next_timer(c) > now) return;
  c->plug->now = now;
  c->stats.plugin_calls++;
  pop_handler_on_timeout(c->plug->h, now);
}
