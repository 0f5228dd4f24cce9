/*
 * qlog from the connection core: client and server over the simulated link with the
 * qlog callback set; every record is checked the way qvis reads a .sqlog (0x1e, one
 * JSON object, the header first), and the events against the connections' counters.
 */
#include <stdio.h>

#include "conn_harness.h"
#include "../../tools/vm/json.c" /* the tools' small JSON reader, one translation unit */

typedef struct sink {
  char *data; /* every record received, concatenated */
  size_t len, cap;
  size_t records;
  bool bad;   /* a record was not 0x1e ... '\n' */
} sink;

/* Where the callback puts records: the harness gives each side its app as user. */
typedef struct qworld {
  world w;
  sink s[2]; /* 0: client, 1: server */
} qworld;

static qworld *current; /* the run in progress (tests run one at a time) */

static void on_qlog(pq_conn *c, const char *rec, size_t len, void *user) {
  sink *s = &current->s[user == &current->w.capp ? 0 : 1];
  if (len < 3 || rec[0] != 0x1e || rec[len - 1] != '\n' || memchr(rec + 1, 0x1e, len - 1))
    s->bad = true;
  if (s->len + len > s->cap) {
    size_t cap = (s->len + len) * 2;
    char *nb = realloc(s->data, cap);
    if (!nb) {
      s->bad = true;
      return;
    }
    s->data = nb;
    s->cap = cap;
  }
  memcpy(s->data + s->len, rec, len);
  s->len += len;
  s->records++;
}

/* world_init with the qlog callback added to the harness's callbacks. */
static void qworld_init_ex(qworld *q, uint64_t seed, const pq_sim_config *c2s,
                           const pq_sim_config *s2c, bool with_qlog, const pq_settings *set) {
  pq_settings st;
  pq_path path;
  pq_callbacks qcbs = cbs;
  world *w = &q->w;
  memset(q, 0, sizeof(*q));
  current = q;
  if (with_qlog) qcbs.qlog = on_qlog;
  set_remote(&w->spath, 0x0a000001, 1000);
  pq_sim_init(&w->sim, c2s, s2c, seed);
  pq_settings_default(&st);
  if (set) st = *set;
  memset(&path, 0, sizeof(path));
  w->nstreams = 8;
  CHECK_INT(0, ==, pq_server_new(&w->server, &st, &qcbs, NULL, NULL, &w->sapp));
  pq_server_set_hs(w->server, &pq_hs_null);
  CHECK_INT(0, ==, pq_conn_client_new_ex(&w->client, &st, &qcbs, &path, &pq_hs_null, NULL,
                                         &w->capp, 0));
}

static void qworld_init(qworld *q, uint64_t seed, const pq_sim_config *c2s,
                        const pq_sim_config *s2c, bool with_qlog) {
  qworld_init_ex(q, seed, c2s, s2c, with_qlog, NULL);
}

static void qworld_free(qworld *q) {
  world_free(&q->w);
  free(q->s[0].data);
  free(q->s[1].data);
  current = NULL;
}

/* What one side's log says. */
typedef struct summary {
  size_t records, sent, received, lost, metrics, params_local, params_remote;
  size_t bad_json, bad_event, pn_not_increasing, time_backwards;
  bool header_ok;
  char odcid[48];
  char vantage[16];
  unsigned frames_seen; /* bit per frame type name below */
  bool state_seen[8];   /* per state name below */
  size_t cc_states;
} summary;

static const char *const frame_names[] = {
    "stream",   "ack",      "crypto",           "padding",           "ping",
    "max_data", "max_stream_data", "new_connection_id", "handshake_done", "connection_close",
    "unknown"};
static const char *const state_names[] = {"attempted",          "handshake_started",
                                          "handshake_complete", "handshake_confirmed",
                                          "closing",            "draining",
                                          "closed"};

static void frame_kinds(summary *m, const json_value *data) {
  const json_value *fr = json_get(data, "frames");
  for (size_t i = 0; i < json_array_len(fr); i++) {
    const char *t = json_get_string(json_array_item(fr, i), "frame_type");
    for (unsigned k = 0; t && k < sizeof(frame_names) / sizeof(frame_names[0]); k++)
      if (!strcmp(t, frame_names[k])) m->frames_seen |= 1u << k;
  }
}

static bool seen(const summary *m, const char *frame) {
  for (unsigned k = 0; k < sizeof(frame_names) / sizeof(frame_names[0]); k++)
    if (!strcmp(frame, frame_names[k])) return m->frames_seen & (1u << k);
  return false;
}

/* A packet_sent: packet numbers go up in each packet number space. */
static void check_pn(summary *m, const json_value *data, int64_t last_pn[3]) {
  const json_value *h = json_get(data, "header"), *pn = json_get(h, "packet_number");
  const char *type = json_get_string(h, "packet_type");
  int sp = !type ? -1 : !strcmp(type, "initial") ? 0 : !strcmp(type, "handshake") ? 1
                    : !strcmp(type, "1RTT") ? 2 : -1;
  if (sp < 0 || !pn || pn->type != JSON_NUMBER) {
    m->bad_event++;
    return;
  }
  if ((int64_t)pn->u.number.value <= last_pn[sp]) m->pn_not_increasing++;
  last_pn[sp] = (int64_t)pn->u.number.value;
}

static void event(summary *m, const json_value *v, int64_t last_pn[3], double *last_time) {
  const json_value *t = json_get(v, "time"), *data = json_get(v, "data");
  const char *name = json_get_string(v, "name");
  if (!t || t->type != JSON_NUMBER || !name || !data || data->type != JSON_OBJECT) {
    m->bad_event++;
    return;
  }
  if (t->u.number.value < *last_time) m->time_backwards++;
  *last_time = t->u.number.value;
  if (!strcmp(name, "transport:packet_sent")) {
    m->sent++;
    check_pn(m, data, last_pn);
    frame_kinds(m, data);
  } else if (!strcmp(name, "transport:packet_received")) {
    m->received++;
    frame_kinds(m, data);
  } else if (!strcmp(name, "recovery:packet_lost")) {
    m->lost++;
  } else if (!strcmp(name, "recovery:metrics_updated")) {
    m->metrics += json_get(data, "congestion_window") || json_get(data, "bytes_in_flight");
  } else if (!strcmp(name, "transport:parameters_set")) {
    const char *owner = json_get_string(data, "owner");
    if (owner && !strcmp(owner, "local")) m->params_local++;
    if (owner && !strcmp(owner, "remote") && json_get(data, "initial_max_data"))
      m->params_remote++;
  } else if (!strcmp(name, "connectivity:connection_state_updated")) {
    const char *s = json_get_string(data, "new");
    for (unsigned k = 0; s && k < sizeof(state_names) / sizeof(state_names[0]); k++)
      if (!strcmp(s, state_names[k])) m->state_seen[k] = true;
  } else if (!strcmp(name, "recovery:congestion_state_updated")) {
    m->cc_states++;
  }
}

static void header(summary *m, const json_value *v) {
  const json_value *tr = json_get(v, "trace");
  const json_value *cf = json_get(tr, "common_fields");
  const char *ver = json_get_string(v, "qlog_version"), *fmt = json_get_string(v, "qlog_format");
  const char *vp = json_get_string(json_get(tr, "vantage_point"), "type");
  const char *odcid = json_get_string(cf, "ODCID"), *tf = json_get_string(cf, "time_format");
  m->header_ok = ver && !strcmp(ver, "0.3") && fmt && !strcmp(fmt, "JSON-SEQ") && vp && odcid &&
                 tf && !strcmp(tf, "relative") && json_get(cf, "reference_time");
  if (vp) snprintf(m->vantage, sizeof(m->vantage), "%s", vp);
  if (odcid) snprintf(m->odcid, sizeof(m->odcid), "%s", odcid);
}

/* Splits a side's log at the record separators and reads every record. */
static void summarize(const sink *s, summary *m) {
  int64_t last_pn[3] = {-1, -1, -1};
  double last_time = 0;
  size_t i = 0;
  memset(m, 0, sizeof(*m));
  while (i < s->len) {
    size_t end = i + 1;
    json_value *v = NULL;
    while (end < s->len && s->data[end] != 0x1e) end++;
    if (s->data[i] != 0x1e || json_parse(s->data + i + 1, end - i - 1, &v, NULL, NULL)) {
      m->bad_json++;
    } else if (m->records == 0) {
      header(m, v);
    } else {
      event(m, v, last_pn, &last_time);
    }
    json_free(v);
    m->records++;
    i = end;
  }
}

static void hex(const uint8_t *p, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", p[i]);
  out[2 * n] = 0;
}

/* The logs of a clean transfer: valid records, the header first, packet numbers going
 * up, as many packets as the connections counted, metrics, parameters, states. */
static void test_pq_qlog_transfer_records(void) {
  qworld q;
  pq_sim_config c = sim_link(10 * MS);
  summary m[2];
  pq_conn *conns[2];
  uint8_t id[20];
  char want[48];
  qworld_init(&q, 3, &c, &c, true);
  q.w.size = 60000;
  q.w.echo = true;
  CHECK(run_until(&q.w, all_received, 20000 * MS));
  CHECK(all_bytes_ok(&q.w));
  conns[0] = q.w.client;
  conns[1] = q.w.sconn;
  for (int k = 0; k < 2; k++) {
    pq_conn_stats st;
    summarize(&q.s[k], &m[k]);
    pq_conn_get_stats(conns[k], &st);
    CHECK(!q.s[k].bad);
    CHECK_INT(q.s[k].records, ==, m[k].records);
    CHECK(m[k].records > 20);
    CHECK_INT(0, ==, m[k].bad_json);
    CHECK_INT(0, ==, m[k].bad_event);
    CHECK(m[k].header_ok);
    CHECK(!strcmp(m[k].vantage, k ? "server" : "client"));
    CHECK_INT(0, ==, m[k].pn_not_increasing);
    CHECK_INT(0, ==, m[k].time_backwards);
    CHECK_INT(st.packets_sent, ==, m[k].sent);
    CHECK_INT(st.packets_received, ==, m[k].received);
    CHECK(m[k].metrics >= 1);
    CHECK_INT(1, ==, m[k].params_local);
    CHECK_INT(1, ==, m[k].params_remote);
    CHECK(m[k].cc_states >= 1);
    CHECK(m[k].state_seen[3]); /* handshake_confirmed */
    CHECK(seen(&m[k], "stream") && seen(&m[k], "ack") && seen(&m[k], "crypto") &&
          seen(&m[k], "padding") && seen(&m[k], "handshake_done") &&
          seen(&m[k], "new_connection_id"));
    CHECK(!seen(&m[k], "unknown"));
    CHECK_INT(0, <, (long long)pq_conn_odcid(conns[k], id, sizeof(id)));
  }
  /* Both sides name the connection by the client's first DCID. */
  CHECK_INT(8, ==, pq_conn_odcid(q.w.client, id, sizeof(id)));
  hex(id, 8, want);
  CHECK(!strcmp(m[0].odcid, want));
  CHECK(!strcmp(m[1].odcid, want));
  CHECK(m[0].state_seen[0]); /* the client starts as attempted */
  CHECK_INT(0, ==, pq_conn_odcid(q.w.client, id, 4)); /* too small */
  qworld_free(&q);
}

static bool both_closed(world *w) {
  return pq_conn_is_closed(w->client) && w->sconn && pq_conn_is_closed(w->sconn);
}

/* Loss shows as recovery:packet_lost, one per packet recovery declared lost; a close
 * as a CONNECTION_CLOSE frame and the closing / draining / closed states. */
static void test_pq_qlog_loss_and_close(void) {
  qworld q;
  pq_sim_config c = sim_link(20 * MS);
  summary m[2];
  c.loss_ppm = 50000;
  qworld_init(&q, 11, &c, &c, true);
  q.w.size = 200000;
  q.w.echo = true;
  CHECK(run_until(&q.w, all_received, 60000 * MS));
  CHECK(all_bytes_ok(&q.w));
  CHECK_INT(0, ==, pq_conn_close(q.w.client, 7, "done \"now\"\n", q.w.now));
  CHECK(run_until(&q.w, both_closed, 120000 * MS));
  summarize(&q.s[0], &m[0]);
  summarize(&q.s[1], &m[1]);
  for (int k = 0; k < 2; k++) {
    CHECK_INT(0, ==, m[k].bad_json);
    CHECK_INT(0, ==, m[k].bad_event);
    CHECK_INT(0, ==, m[k].pn_not_increasing);
    CHECK(m[k].state_seen[6]); /* closed */
    CHECK(seen(&m[k], "connection_close"));
  }
  CHECK(m[0].lost + m[1].lost > 0);
  CHECK_INT(q.w.client->stats.packets_lost, ==, m[0].lost);
  CHECK_INT(q.w.sconn->stats.packets_lost, ==, m[1].lost);
  CHECK(m[0].state_seen[4]); /* the client closed: closing */
  CHECK(m[1].state_seen[5]); /* the server drained */
  qworld_free(&q);
}

/* Small windows: the credit frames show up, on the side that sends them and on the
 * side that receives them. */
static void test_pq_qlog_flow_control_frames(void) {
  qworld q;
  pq_sim_config c = sim_link(5 * MS);
  pq_settings st;
  summary m[2];
  pq_settings_default(&st);
  st.initial_max_data = 40000;
  st.initial_max_stream_data_bidi_local = st.initial_max_stream_data_bidi_remote = 8000;
  qworld_init_ex(&q, 9, &c, &c, true, &st);
  q.w.nstreams = 4;
  q.w.size = 50000;
  CHECK(run_until(&q.w, all_received, 20000 * MS));
  CHECK(all_bytes_ok(&q.w));
  summarize(&q.s[0], &m[0]);
  summarize(&q.s[1], &m[1]);
  for (int k = 0; k < 2; k++) {
    CHECK_INT(0, ==, m[k].bad_json);
    CHECK_INT(0, ==, m[k].bad_event);
    CHECK(seen(&m[k], "max_data") && seen(&m[k], "max_stream_data"));
  }
  qworld_free(&q);
}

/* Without the callback a connection has no qlog state at all. */
static void test_pq_qlog_off_without_callback(void) {
  qworld q;
  pq_sim_config c = sim_link(10 * MS);
  qworld_init(&q, 5, &c, &c, false);
  q.w.size = 1000;
  CHECK(run_until(&q.w, all_received, 10000 * MS));
  CHECK(q.w.client->qlog == NULL && q.w.sconn->qlog == NULL);
  CHECK_INT(0, ==, q.s[0].records + q.s[1].records);
  qworld_free(&q);
}

int main(void) {
  (void)both_established; /* harness helpers this test does not need */
  (void)seeded_run_ex;
  RUN(test_pq_qlog_transfer_records);
  RUN(test_pq_qlog_loss_and_close);
  RUN(test_pq_qlog_flow_control_frames);
  RUN(test_pq_qlog_off_without_callback);
  return test_report();
}
