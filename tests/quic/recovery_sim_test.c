/*
 * Recovery, congestion control and pacing end to end, before the connection engine
 * exists: a toy reliable transfer (numbered chunks, ACK ranges, retransmission of what
 * recovery declares lost, PTO probes) over the simulated link, for many seeds. Every
 * chunk must arrive intact and the transfer must finish within a bound of simulated
 * time; the same seed must give the same run.
 *
 * Toy wire format (all big-endian), followed by an 8-byte checksum of what precedes:
 *   data: 'D' pn:8 chunk:4 payload[CHUNK]      (chunk 0xffffffff: a probe PING)
 *   ack:  'A' ack_delay_us:4 n:1 (smallest:8 largest:8) * n, largest range first
 */
#include <stdlib.h>

#include "pq_pacer.h"
#include "pq_recovery.h"
#include "pq_sim.h"
#include "test.h"

#define MS UINT64_C(1000000)
#define MDS 1200
#define CHUNK 1000
#define MAX_CHUNKS 256
#define PING_CHUNK 0xffffffffu
#define MAX_SPANS 32
#define ACK_DELAY (25 * MS)

typedef struct sender {
  pq_cc cc;
  pq_recovery rec;
  pq_pacer pacer;
  uint64_t next_pn;
  uint32_t nchunks, next_new;
  uint32_t retx[MAX_CHUNKS * 4];
  size_t nretx;
  bool acked[MAX_CHUNKS];
  uint32_t nacked;
  uint64_t retransmissions;
} sender;

typedef struct receiver {
  pq_ack_span spans[MAX_SPANS]; /* ascending, disjoint */
  size_t nspans;
  uint64_t largest;
  pq_tstamp largest_time;
  bool got[MAX_CHUNKS];
  uint32_t ngot;
  int unacked;                  /* ack-eliciting packets since the last ACK */
  pq_tstamp ack_timer;
  bool bad_payload;
  uint64_t corrupt_dropped;
} receiver;

static uint64_t checksum(const uint8_t *p, size_t n) {
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * UINT64_C(0x100000001b3);
  return h;
}

static void put_u(uint8_t *p, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}

static uint64_t get_u(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = v << 8 | p[i];
  return v;
}

static uint8_t payload_byte(uint32_t chunk, int i) { return (uint8_t)(chunk * 31 + i * 7); }

/* ---- sender ---- */

static void s_on_acked(void *u, pq_pnspace s, pq_sent_pkt *p, pq_tstamp now) {
  sender *snd = u;
  uint32_t c = (uint32_t)(uintptr_t)p->frames;
  if (c == 0) return;
  c--;
  if (!snd->acked[c]) {
    snd->acked[c] = true;
    snd->nacked++;
  }
}

static void s_on_lost(void *u, pq_pnspace s, pq_sent_pkt *p, pq_tstamp now) {
  sender *snd = u;
  uint32_t c = (uint32_t)(uintptr_t)p->frames;
  if (c == 0) return;
  c--;
  if (!snd->acked[c] && snd->nretx < sizeof(snd->retx) / sizeof(snd->retx[0]))
    snd->retx[snd->nretx++] = c;
}

static void s_on_discarded(void *u, pq_pnspace s, pq_sent_pkt *p) {}

static const pq_recovery_callbacks s_cbs = {s_on_acked, s_on_lost, s_on_discarded};

static void sender_init(sender *s, uint32_t nchunks) {
  memset(s, 0, sizeof(*s));
  pq_cc_init(&s->cc, &pq_cc_newreno, MDS);
  pq_recovery_init(&s->rec, &s->cc, &s_cbs, s, true, 0);
  s->rec.handshake_confirmed = true;
  pq_pacer_init(&s->pacer, MDS);
  s->nchunks = nchunks;
}

static void sender_free(sender *s) {
  pq_recovery_free(&s->rec);
  pq_cc_free(&s->cc);
}

/* The next chunk to send (retransmissions first, skipping those acked meanwhile), or
 * -1 if none. */
static int64_t next_chunk(sender *s) {
  while (s->nretx) {
    uint32_t c = s->retx[0];
    memmove(s->retx, s->retx + 1, --s->nretx * sizeof(s->retx[0]));
    if (!s->acked[c]) {
      s->retransmissions++;
      return c;
    }
  }
  if (s->next_new < s->nchunks) return s->next_new++;
  return -1;
}

static void send_data(sender *s, pq_sim *sim, uint32_t chunk, pq_tstamp now) {
  uint8_t b[1 + 8 + 4 + CHUNK + 8];
  size_t n = 1 + 8 + 4;
  pq_sent_pkt p = {0};
  b[0] = 'D';
  put_u(b + 1, s->next_pn, 8);
  put_u(b + 9, chunk, 4);
  if (chunk != PING_CHUNK) {
    for (int i = 0; i < CHUNK; i++) b[n + i] = payload_byte(chunk, i);
    n += CHUNK;
  }
  put_u(b + n, checksum(b, n), 8);
  n += 8;
  pq_sim_send(sim, PQ_SIM_C2S, b, n, now);
  p.pn = s->next_pn++;
  p.sent_time = now;
  p.bytes = (uint32_t)n;
  p.ack_eliciting = true;
  p.in_flight = true;
  p.frames = (void *)(uintptr_t)(chunk == PING_CHUNK ? 0 : chunk + 1);
  CHECK_INT(0, ==, pq_recovery_on_packet_sent(&s->rec, PQ_PNS_APP, &p, now));
  pq_pacer_on_sent(&s->pacer, n, now);
}

/* Sends what cwnd, pacing and probes allow. Returns when it next wants to send
 * (pacing), or NEVER. */
static pq_tstamp sender_write(sender *s, pq_sim *sim, pq_tstamp now) {
  for (;;) {
    bool probe = s->rec.probes[PQ_PNS_APP] > 0;
    int64_t c;
    if (!probe) {
      pq_tstamp t;
      if (pq_cc_available(&s->cc) < MDS) {
        s->cc.app_limited = false;
        return PQ_TSTAMP_NEVER;
      }
      if (s->nretx == 0 && s->next_new >= s->nchunks) {
        s->cc.app_limited = true; /* the window is not what limits us */
        return PQ_TSTAMP_NEVER;
      }
      t = pq_pacer_next_time(&s->pacer, s->cc.cwnd, s->rec.rtt.smoothed, now);
      if (t > now) return t;
    }
    c = next_chunk(s);
    if (c < 0) {
      if (!probe) return PQ_TSTAMP_NEVER;
      /* A probe with nothing new: resend the oldest unacked chunk, else PING. */
      for (uint32_t i = 0; i < s->nchunks && c < 0; i++)
        if (!s->acked[i] && i < s->next_new) c = i;
      if (c < 0) c = PING_CHUNK;
    }
    send_data(s, sim, (uint32_t)c, now);
  }
}

static void sender_read(sender *s, const uint8_t *b, size_t n, pq_tstamp now) {
  pq_ack_span spans[MAX_SPANS];
  size_t k;
  if (n < 1 + 4 + 1 + 8 || b[0] != 'A' || checksum(b, n - 8) != get_u(b + n - 8, 8)) return;
  k = b[5];
  if (k == 0 || k > MAX_SPANS || n != 6 + 16 * k + 8) return;
  for (size_t i = 0; i < k; i++) {
    spans[i].smallest = get_u(b + 6 + 16 * i, 8);
    spans[i].largest = get_u(b + 14 + 16 * i, 8);
  }
  CHECK_INT(0, ==, pq_recovery_on_ack(&s->rec, PQ_PNS_APP, spans, k,
                                      get_u(b + 1, 4) * 1000, now));
}

/* ---- receiver ---- */

static void add_pn(receiver *r, uint64_t pn) {
  size_t i = 0;
  while (i < r->nspans && r->spans[i].largest + 1 < pn) i++;
  if (i < r->nspans && pn >= r->spans[i].smallest && pn <= r->spans[i].largest) return;
  if (i < r->nspans && r->spans[i].largest + 1 == pn) {
    r->spans[i].largest = pn;
    if (i + 1 < r->nspans && r->spans[i + 1].smallest == pn + 1) {
      r->spans[i].largest = r->spans[i + 1].largest;
      memmove(&r->spans[i + 1], &r->spans[i + 2], (r->nspans - i - 2) * sizeof(r->spans[0]));
      r->nspans--;
    }
    return;
  }
  if (i < r->nspans && r->spans[i].smallest == pn + 1) {
    r->spans[i].smallest = pn;
    return;
  }
  if (r->nspans == MAX_SPANS) { /* forget the oldest range */
    memmove(&r->spans[0], &r->spans[1], (MAX_SPANS - 1) * sizeof(r->spans[0]));
    r->nspans--;
    if (i > 0) i--;
  }
  memmove(&r->spans[i + 1], &r->spans[i], (r->nspans - i) * sizeof(r->spans[0]));
  r->spans[i].smallest = r->spans[i].largest = pn;
  r->nspans++;
}

static void send_ack(receiver *r, pq_sim *sim, pq_tstamp now) {
  uint8_t b[6 + 16 * MAX_SPANS + 8];
  size_t n = 6;
  b[0] = 'A';
  put_u(b + 1, (now - r->largest_time) / 1000, 4);
  b[5] = (uint8_t)r->nspans;
  for (size_t i = r->nspans; i-- > 0;) {
    put_u(b + n, r->spans[i].smallest, 8);
    put_u(b + n + 8, r->spans[i].largest, 8);
    n += 16;
  }
  put_u(b + n, checksum(b, n), 8);
  n += 8;
  pq_sim_send(sim, PQ_SIM_S2C, b, n, now);
  r->unacked = 0;
  r->ack_timer = PQ_TSTAMP_NEVER;
}

static void receiver_read(receiver *r, pq_sim *sim, const uint8_t *b, size_t n,
                          pq_tstamp now) {
  uint64_t pn;
  uint32_t c;
  bool reordered;
  if (n < 1 + 8 + 4 + 8 || b[0] != 'D' || checksum(b, n - 8) != get_u(b + n - 8, 8)) {
    r->corrupt_dropped++;
    return;
  }
  pn = get_u(b + 1, 8);
  c = (uint32_t)get_u(b + 9, 4);
  reordered = r->nspans && pn < r->largest;
  if (!r->nspans || pn > r->largest) {
    r->largest = pn;
    r->largest_time = now;
  }
  add_pn(r, pn);
  if (c != PING_CHUNK) {
    if (c >= MAX_CHUNKS || n != 1 + 8 + 4 + CHUNK + 8) {
      r->bad_payload = true;
      return;
    }
    for (int i = 0; i < CHUNK; i++)
      if (b[13 + i] != payload_byte(c, i)) r->bad_payload = true;
    if (!r->got[c]) {
      r->got[c] = true;
      r->ngot++;
    }
  }
  /* ACK every second packet, at once when out of order, else after max_ack_delay. */
  if (++r->unacked >= 2 || reordered) send_ack(r, sim, now);
  else if (r->ack_timer == PQ_TSTAMP_NEVER) r->ack_timer = now + ACK_DELAY;
}

/* ---- the run ---- */

typedef struct run_result {
  bool done;
  pq_tstamp finish;
  uint64_t trace, lost, retx, ptos;
  bool bad_payload;
} run_result;

static pq_tstamp min3(pq_tstamp a, pq_tstamp b, pq_tstamp c) {
  pq_tstamp m = a < b ? a : b;
  return m < c ? m : c;
}

static run_result run(uint64_t seed, uint32_t nchunks, pq_tstamp limit) {
  pq_sim sim;
  pq_sim_config c2s, s2c;
  sender *s = malloc(sizeof(*s));
  receiver *r = calloc(1, sizeof(*r));
  run_result res = {0};
  pq_tstamp now = 0, pace = PQ_TSTAMP_NEVER;
  uint8_t buf[2048];
  uint64_t x = seed * UINT64_C(0x9e3779b97f4a7c15) + 1;
  /* Link parameters drawn from the seed: 2-60 ms, 1-50 Mbit/s, 0-15% loss. */
  memset(&c2s, 0, sizeof(c2s));
  pq_sim_init(&sim, &c2s, &c2s, x);
  c2s.delay = (2 + pq_sim_rand_below(&sim, 59)) * MS;
  c2s.bandwidth = (1 + pq_sim_rand_below(&sim, 50)) * 1000000;
  c2s.queue_bytes = 20000 + pq_sim_rand_below(&sim, 100000);
  c2s.loss_ppm = (uint32_t)pq_sim_rand_below(&sim, 150001);
  c2s.reorder_ppm = (uint32_t)pq_sim_rand_below(&sim, 100001);
  c2s.reorder_delay = pq_sim_rand_below(&sim, 10 * MS);
  c2s.dup_ppm = (uint32_t)pq_sim_rand_below(&sim, 30001);
  c2s.corrupt_ppm = (uint32_t)pq_sim_rand_below(&sim, 30001);
  s2c = c2s;
  s2c.loss_ppm = (uint32_t)pq_sim_rand_below(&sim, 150001);
  pq_sim_free(&sim);
  pq_sim_init(&sim, &c2s, &s2c, x);
  sim.handshake = false;
  sender_init(s, nchunks);
  r->ack_timer = PQ_TSTAMP_NEVER;
  while (now <= limit) {
    ptrdiff_t n;
    pq_tstamp next;
    while ((n = pq_sim_recv(&sim, PQ_SIM_C2S, now, buf, sizeof(buf))) >= 0)
      receiver_read(r, &sim, buf, (size_t)n, now);
    while ((n = pq_sim_recv(&sim, PQ_SIM_S2C, now, buf, sizeof(buf))) >= 0)
      sender_read(s, buf, (size_t)n, now);
    if (r->ack_timer <= now) send_ack(r, &sim, now);
    if (s->rec.timer <= now) pq_recovery_on_timeout(&s->rec, now);
    pace = sender_write(s, &sim, now);
    if (s->nacked == nchunks) {
      res.done = true;
      res.finish = now;
      break;
    }
    next = min3(pq_sim_next_any(&sim), r->ack_timer, s->rec.timer);
    if (pace < next) next = pace;
    if (next == PQ_TSTAMP_NEVER) break; /* deadlock: nothing will ever happen */
    now = next > now ? next : now + 1;
  }
  res.trace = sim.trace;
  res.lost = s->rec.packets_lost;
  res.retx = s->retransmissions;
  res.ptos = s->rec.pto_expired;
  res.bad_payload = r->bad_payload;
  if (res.done && r->ngot != nchunks) res.done = false;
  sender_free(s);
  pq_sim_free(&sim);
  free(s);
  free(r);
  return res;
}

static void test_pq_recovery_sim_transfer_many_seeds(void) {
  int failed = 0;
  uint64_t total_lost = 0, total_ptos = 0;
  pq_tstamp worst = 0;
  for (uint64_t seed = 1; seed <= 1000; seed++) {
    run_result r = run(seed, 100, 60000 * MS);
    if (!r.done || r.bad_payload) {
      if (failed++ < 5)
        fprintf(stderr, "seed %llu: done=%d bad=%d lost=%llu ptos=%llu\n",
                (unsigned long long)seed, r.done, r.bad_payload,
                (unsigned long long)r.lost, (unsigned long long)r.ptos);
      continue;
    }
    total_lost += r.lost;
    total_ptos += r.ptos;
    if (r.finish > worst) worst = r.finish;
  }
  CHECK_INT(0, ==, failed);
  CHECK(total_lost > 0); /* the links did lose packets and recovery repaired them */
  printf("1000 transfers of 100 kB: %llu packets declared lost, %llu PTOs, slowest %llu ms\n",
         (unsigned long long)total_lost, (unsigned long long)total_ptos,
         (unsigned long long)(worst / MS));
}

static void test_pq_recovery_sim_same_seed_same_run(void) {
  run_result a = run(77, 100, 60000 * MS), b = run(77, 100, 60000 * MS);
  CHECK(a.done && b.done);
  CHECK(a.trace == b.trace);
  CHECK_INT(a.finish, ==, b.finish);
  CHECK_INT(a.lost, ==, b.lost);
}

int main(void) {
  RUN(test_pq_recovery_sim_same_seed_same_run);
  RUN(test_pq_recovery_sim_transfer_many_seeds);
  return test_report();
}
