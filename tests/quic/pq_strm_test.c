/*
 * pq_strm_test.c: stream buffers. Randomized (seeded) reassembly against the source
 * bytes, final-size rules, zero-copy in-order delivery, and a send buffer driven through
 * loss and reordering into a receive buffer.
 */
#include <stdlib.h>

#include "pq_strm.h"
#include "test.h"

#define SRC_LEN 60000

static uint8_t src[SRC_LEN];

static void fill_src(void) {
  for (size_t i = 0; i < SRC_LEN; i++) src[i] = (uint8_t)(i * 131 + (i >> 8));
}

/* What the receiver got: bytes in order, fin count, and a failure flag. */
typedef struct sink {
  uint8_t out[SRC_LEN];
  uint64_t got;
  int fins;
  int bad;
  const uint8_t *last_ptr;
} sink;

static int collect(void *user, uint64_t off, const uint8_t *data, size_t len, bool fin) {
  sink *s = user;
  if (off != s->got || off + len > SRC_LEN) {
    s->bad = 1;
    return 0;
  }
  if (len) memcpy(s->out + off, data, len);
  s->got += len;
  s->fins += fin;
  s->last_ptr = data;
  return 0;
}

static int refuse(void *user, uint64_t off, const uint8_t *data, size_t len, bool fin) {
  return 1;
}

typedef struct seg {
  uint64_t off, len;
} seg;

static void test_pq_strm_rx_random_reassembly(void) {
  fill_src();
  srand(777);
  for (int round = 0; round < 30; round++) {
    static seg segs[4000];
    size_t n = 0;
    uint64_t off = 0, total_new = 0;
    pq_strm_rx rx;
    static sink s;
    memset(&s, 0, sizeof(s));
    /* cover the stream with random segments, plus overlapping and duplicate ones */
    while (off < SRC_LEN) {
      uint64_t len = 1 + (uint64_t)(rand() % 3000);
      if (off + len > SRC_LEN) len = SRC_LEN - off;
      segs[n++] = (seg){off, len};
      if (rand() % 4 == 0) { /* an overlapping one */
        uint64_t o = off > 500 ? off - (uint64_t)(rand() % 500) : 0;
        uint64_t l = (uint64_t)(rand() % 2000);
        if (o + l > SRC_LEN) l = SRC_LEN - o;
        segs[n++] = (seg){o, l};
      }
      if (rand() % 8 == 0) { /* a duplicate */
        segs[n] = segs[n - 1];
        n++;
      }
      off += len;
    }
    /* shuffle, but locally (windows of 64) on even rounds so buffers stay small */
    for (size_t i = n; i-- > 1;) {
      size_t span = round % 2 ? i + 1 : (i + 1 < 64 ? i + 1 : 64);
      size_t j = i - (size_t)rand() % span;
      seg t = segs[i];
      segs[i] = segs[j];
      segs[j] = t;
    }
    pq_strm_rx_init(&rx, SRC_LEN);
    for (size_t i = 0; i < n; i++) {
      uint64_t nb;
      bool fin = segs[i].off + segs[i].len == SRC_LEN;
      int rv = pq_strm_rx_recv(&rx, segs[i].off, src + segs[i].off, (size_t)segs[i].len,
                               fin, collect, &s, &nb);
      CHECK_INT(0, ==, rv);
      total_new += nb;
      CHECK(pq_strm_rx_buffered(&rx) <= SRC_LEN);
    }
    CHECK(!s.bad);
    CHECK_INT(SRC_LEN, ==, s.got);
    CHECK_INT(1, ==, s.fins);
    CHECK_INT(SRC_LEN, ==, total_new);
    CHECK_INT(SRC_LEN, ==, rx.max_recv);
    CHECK(pq_strm_rx_done(&rx));
    CHECK_INT(0, ==, pq_strm_rx_buffered(&rx));
    CHECK_MEM(src, s.out, SRC_LEN);
    pq_strm_rx_free(&rx);
  }
}

static void test_pq_strm_rx_in_order_is_zero_copy(void) {
  pq_strm_rx rx;
  static sink s;
  uint8_t pkt[100];
  memset(&s, 0, sizeof(s));
  memcpy(pkt, src, 100);
  pq_strm_rx_init(&rx, 1 << 20);
  CHECK_INT(0, ==, pq_strm_rx_recv(&rx, 0, pkt, 100, false, collect, &s, NULL));
  CHECK(s.last_ptr == pkt);
  /* overlapping retransmission: only the new tail, still from the packet */
  CHECK_INT(0, ==, pq_strm_rx_recv(&rx, 50, pkt + 50, 50, false, collect, &s, NULL));
  CHECK_INT(100, ==, s.got);
  CHECK_INT(0, ==, pq_strm_rx_recv(&rx, 90, src + 90, 20, false, collect, &s, NULL));
  CHECK(s.last_ptr == src + 100);
  CHECK_INT(110, ==, s.got);
  CHECK_INT(0, ==, rx.buf.n); /* nothing was ever buffered */
  pq_strm_rx_free(&rx);
}

static void test_pq_strm_rx_final_size_rules(void) {
  pq_strm_rx rx;
  static sink s;
  uint64_t nb;
  memset(&s, 0, sizeof(s));
  pq_strm_rx_init(&rx, 1 << 20);
  CHECK_INT(0, ==, pq_strm_rx_recv(&rx, 50, src + 50, 50, true, collect, &s, &nb));
  CHECK_INT(100, ==, nb);
  /* beyond the final size */
  CHECK_INT(PQ_ERR_FINAL_SIZE, ==, pq_strm_rx_recv(&rx, 90, src, 11, false, collect, &s, NULL));
  /* another final size */
  CHECK_INT(PQ_ERR_FINAL_SIZE, ==, pq_strm_rx_recv(&rx, 0, src, 90, true, collect, &s, NULL));
  /* same final size again: fine; data below it: fine */
  CHECK_INT(0, ==, pq_strm_rx_recv(&rx, 60, src + 60, 40, true, collect, &s, NULL));
  CHECK_INT(0, ==, pq_strm_rx_recv(&rx, 0, src, 50, false, collect, &s, NULL));
  CHECK_INT(100, ==, s.got);
  CHECK_INT(1, ==, s.fins);
  /* RESET_STREAM with another final size */
  CHECK_INT(PQ_ERR_FINAL_SIZE, ==, pq_strm_rx_reset(&rx, 99, NULL));
  CHECK_INT(0, ==, pq_strm_rx_reset(&rx, 100, NULL));
  pq_strm_rx_free(&rx);

  /* FIN below data already received */
  pq_strm_rx_init(&rx, 1 << 20);
  memset(&s, 0, sizeof(s));
  CHECK_INT(0, ==, pq_strm_rx_recv(&rx, 100, src + 100, 100, false, collect, &s, NULL));
  CHECK_INT(PQ_ERR_FINAL_SIZE, ==, pq_strm_rx_recv(&rx, 0, src, 150, true, collect, &s, NULL));
  CHECK_INT(PQ_ERR_FINAL_SIZE, ==, pq_strm_rx_reset(&rx, 150, NULL));
  CHECK_INT(0, ==, pq_strm_rx_reset(&rx, 300, &nb));
  CHECK_INT(100, ==, nb); /* the final size counts as received */
  CHECK_INT(0, ==, pq_strm_rx_buffered(&rx));
  /* after a reset, data within the final size is ignored, beyond it is an error */
  CHECK_INT(0, ==, pq_strm_rx_recv(&rx, 0, src, 10, false, collect, &s, NULL));
  CHECK_INT(0, ==, s.got);
  CHECK_INT(PQ_ERR_FINAL_SIZE, ==, pq_strm_rx_recv(&rx, 295, src, 10, false, collect, &s, NULL));
  pq_strm_rx_free(&rx);
}

static void test_pq_strm_rx_bare_fin_and_empty_stream(void) {
  pq_strm_rx rx;
  static sink s;
  memset(&s, 0, sizeof(s));
  pq_strm_rx_init(&rx, 1000);
  CHECK_INT(0, ==, pq_strm_rx_recv(&rx, 0, NULL, 0, true, collect, &s, NULL));
  CHECK_INT(1, ==, s.fins);
  CHECK(pq_strm_rx_done(&rx));
  CHECK_INT(0, ==, pq_strm_rx_recv(&rx, 0, NULL, 0, true, collect, &s, NULL));
  CHECK_INT(1, ==, s.fins); /* delivered once */
  pq_strm_rx_free(&rx);
  /* a bare FIN ahead of the data waits for it */
  memset(&s, 0, sizeof(s));
  pq_strm_rx_init(&rx, 1000);
  CHECK_INT(0, ==, pq_strm_rx_recv(&rx, 10, NULL, 0, true, collect, &s, NULL));
  CHECK_INT(0, ==, s.fins);
  CHECK_INT(0, ==, pq_strm_rx_recv(&rx, 0, src, 10, false, collect, &s, NULL));
  CHECK_INT(1, ==, s.fins);
  CHECK_INT(10, ==, s.got);
  pq_strm_rx_free(&rx);
}

static void test_pq_strm_rx_window_and_callback_errors(void) {
  pq_strm_rx rx;
  static sink s;
  memset(&s, 0, sizeof(s));
  pq_strm_rx_init(&rx, 1000);
  CHECK_INT(PQ_ERR_FLOW_CONTROL_ERROR, ==,
            pq_strm_rx_recv(&rx, 500, src, 501, false, collect, &s, NULL));
  CHECK_INT(0, ==, pq_strm_rx_recv(&rx, 500, src, 500, false, collect, &s, NULL));
  CHECK_INT(PQ_ERR_FLOW_CONTROL_ERROR, ==,
            pq_strm_rx_recv(&rx, UINT64_C(1) << 62, src, 0, false, collect, &s, NULL));
  pq_strm_rx_set_window(&rx, 2000);
  CHECK_INT(0, ==, pq_strm_rx_recv(&rx, 1000, src, 1000, false, collect, &s, NULL));
  CHECK_INT(PQ_ERR_CALLBACK, ==, pq_strm_rx_recv(&rx, 0, src, 10, false, refuse, NULL, NULL));
  pq_strm_rx_free(&rx);
}

/* ---- send side ---- */

typedef struct piece {
  uint64_t off;
  size_t len;
  bool fin;
} piece;

/* Drives a send buffer through random loss and reordering into a receive buffer. */
static void test_pq_strm_tx_random_loss_into_rx(void) {
  fill_src();
  srand(99);
  for (int round = 0; round < 20; round++) {
    pq_strm_tx tx;
    pq_strm_rx rx;
    static sink s;
    static piece inflight[8192];
    size_t ninflight = 0, written = 0;
    uint64_t flow_limit = 5000;
    int loss = 5 + round * 2, steps = 0;
    memset(&s, 0, sizeof(s));
    pq_strm_tx_init(&tx, 16384);
    pq_strm_rx_init(&rx, SRC_LEN);
    while (!pq_strm_tx_done(&tx) && steps++ < 200000) {
      int action = rand() % 4;
      if (action == 0 && written < SRC_LEN) {
        size_t want = 1 + (size_t)(rand() % 4000);
        ssize_t n;
        if (want > SRC_LEN - written) want = SRC_LEN - written;
        n = pq_strm_tx_write(&tx, src + written, want, written + want == SRC_LEN);
        CHECK(n >= 0);
        if (n > 0) written += (size_t)n;
        CHECK(tx.write_off - tx.ack_off <= 16384);
      } else if (action == 1 && ninflight < 8192) {
        piece p;
        uint8_t buf[1500];
        if (pq_strm_tx_take(&tx, 1 + (size_t)(rand() % 1400), flow_limit, &p.off, &p.len,
                            &p.fin)) {
          CHECK(p.off + p.len <= tx.write_off);
          pq_strm_tx_copy(&tx, p.off, buf, p.len);
          CHECK_MEM(src + p.off, buf, p.len);
          inflight[ninflight++] = p;
        }
      } else if (action == 2 && ninflight) {
        /* one random in-flight piece is either delivered+acked or lost */
        size_t i = (size_t)rand() % ninflight;
        piece p = inflight[i];
        inflight[i] = inflight[--ninflight];
        if (rand() % 100 < loss) {
          CHECK_INT(0, ==, pq_strm_tx_on_lost(&tx, p.off, p.len, p.fin));
        } else {
          CHECK_INT(0, ==, pq_strm_rx_recv(&rx, p.off, src + p.off, p.len, p.fin, collect,
                                           &s, NULL));
          CHECK_INT(0, ==, pq_strm_tx_on_acked(&tx, p.off, p.len, p.fin));
        }
      } else if (action == 3) {
        flow_limit += (uint64_t)(rand() % 3000); /* MAX_STREAM_DATA */
      }
    }
    CHECK(pq_strm_tx_done(&tx));
    CHECK(!pq_strm_tx_pending(&tx, UINT64_MAX));
    CHECK(!s.bad);
    CHECK_INT(SRC_LEN, ==, s.got);
    CHECK_INT(1, ==, s.fins);
    CHECK_MEM(src, s.out, SRC_LEN);
    /* acknowledged memory is released: no chunk is left but the spare */
    for (size_t i = 0; i < tx.buf.n; i++)
      CHECK(tx.buf.c[i] == NULL || (tx.buf.base + i + 1) * PQ_STRM_CHUNK > SRC_LEN);
    pq_strm_tx_free(&tx);
    pq_strm_rx_free(&rx);
  }
}

static void test_pq_strm_tx_basics(void) {
  pq_strm_tx tx;
  uint64_t off;
  size_t len;
  bool fin;
  fill_src();
  pq_strm_tx_init(&tx, 100);
  CHECK_INT(100, ==, pq_strm_tx_write(&tx, src, 150, true)); /* partial: no FIN */
  CHECK(!tx.fin_queued);
  CHECK_INT(0, ==, pq_strm_tx_write(&tx, src + 100, 50, true)); /* full */
  /* flow control limits new data */
  CHECK(pq_strm_tx_take(&tx, 1000, 30, &off, &len, &fin));
  CHECK_INT(0, ==, off);
  CHECK_INT(30, ==, len);
  CHECK(!pq_strm_tx_take(&tx, 1000, 30, &off, &len, &fin));
  CHECK(!pq_strm_tx_pending(&tx, 30));
  CHECK(pq_strm_tx_pending(&tx, 31));
  /* loss goes first and ignores flow control */
  CHECK_INT(0, ==, pq_strm_tx_on_lost(&tx, 10, 10, false));
  CHECK(pq_strm_tx_take(&tx, 1000, 30, &off, &len, &fin));
  CHECK_INT(10, ==, off);
  CHECK_INT(10, ==, len);
  /* acks free room */
  CHECK_INT(0, ==, pq_strm_tx_on_acked(&tx, 0, 30, false));
  CHECK_INT(30, ==, tx.ack_off);
  CHECK_INT(30, ==, pq_strm_tx_room(&tx));
  CHECK_INT(30, ==, pq_strm_tx_write(&tx, src + 100, 50, true));
  CHECK(!tx.fin_queued);
  CHECK(pq_strm_tx_take(&tx, 1000, 1000, &off, &len, &fin));
  CHECK_INT(30, ==, off);
  CHECK_INT(100, ==, len);
  CHECK(!fin);
  CHECK_INT(0, ==, pq_strm_tx_on_acked(&tx, 30, 40, false));
  CHECK_INT(70, ==, tx.ack_off);
  CHECK_INT(20, ==, pq_strm_tx_write(&tx, src + 130, 20, true));
  CHECK(tx.fin_queued);
  CHECK_INT(PQ_ERR_STREAM_STATE, ==, pq_strm_tx_write(&tx, src, 1, false));
  CHECK(pq_strm_tx_take(&tx, 1000, 1000, &off, &len, &fin));
  CHECK_INT(130, ==, off);
  CHECK_INT(20, ==, len);
  CHECK(fin);
  CHECK(!pq_strm_tx_take(&tx, 1000, 1000, &off, &len, &fin));
  /* [70,150)+FIN lost after [100,120) was acked: only the gaps and the FIN return */
  CHECK_INT(0, ==, pq_strm_tx_on_acked(&tx, 100, 20, false));
  CHECK_INT(0, ==, pq_strm_tx_on_lost(&tx, 70, 80, true));
  CHECK(pq_strm_tx_take(&tx, 1000, 0, &off, &len, &fin));
  CHECK_INT(70, ==, off);
  CHECK_INT(30, ==, len);
  CHECK(!fin);
  CHECK(pq_strm_tx_take(&tx, 1000, 0, &off, &len, &fin));
  CHECK_INT(120, ==, off);
  CHECK_INT(30, ==, len);
  CHECK(fin);
  CHECK(!pq_strm_tx_take(&tx, 1000, 0, &off, &len, &fin));
  CHECK_INT(0, ==, pq_strm_tx_on_acked(&tx, 70, 30, false));
  CHECK_INT(120, ==, tx.ack_off); /* absorbed the acked [100,120) */
  CHECK(!pq_strm_tx_done(&tx));
  CHECK_INT(0, ==, pq_strm_tx_on_acked(&tx, 120, 30, true));
  CHECK(pq_strm_tx_done(&tx));
  pq_strm_tx_free(&tx);
}

static void test_pq_strm_tx_bare_fin(void) {
  pq_strm_tx tx;
  uint64_t off;
  size_t len;
  bool fin;
  pq_strm_tx_init(&tx, 100);
  CHECK_INT(5, ==, pq_strm_tx_write(&tx, src, 5, false));
  CHECK(pq_strm_tx_take(&tx, 1000, 1000, &off, &len, &fin));
  CHECK(!fin);
  CHECK_INT(0, ==, pq_strm_tx_write(&tx, NULL, 0, true));
  CHECK(pq_strm_tx_take(&tx, 0, 1000, &off, &len, &fin));
  CHECK_INT(5, ==, off);
  CHECK_INT(0, ==, len);
  CHECK(fin);
  CHECK(!pq_strm_tx_take(&tx, 1000, 1000, &off, &len, &fin));
  CHECK_INT(0, ==, pq_strm_tx_on_lost(&tx, 5, 0, true));
  CHECK(pq_strm_tx_pending(&tx, 0));
  CHECK(pq_strm_tx_take(&tx, 0, 0, &off, &len, &fin));
  CHECK(fin);
  CHECK_INT(0, ==, pq_strm_tx_on_acked(&tx, 0, 5, false));
  CHECK_INT(0, ==, pq_strm_tx_on_acked(&tx, 5, 0, true));
  CHECK(pq_strm_tx_done(&tx));
  pq_strm_tx_free(&tx);
}

static void test_pq_strm_tx_reset_drops_everything(void) {
  pq_strm_tx tx;
  uint64_t off;
  size_t len;
  bool fin;
  pq_strm_tx_init(&tx, 1000);
  CHECK_INT(500, ==, pq_strm_tx_write(&tx, src, 500, false));
  CHECK(pq_strm_tx_take(&tx, 200, 1000, &off, &len, &fin));
  CHECK_INT(200, ==, pq_strm_tx_reset(&tx)); /* final size: highest offset sent */
  CHECK(pq_strm_tx_done(&tx));
  CHECK(!pq_strm_tx_pending(&tx, UINT64_MAX));
  CHECK(!pq_strm_tx_take(&tx, 200, 1000, &off, &len, &fin));
  CHECK_INT(0, ==, pq_strm_tx_on_lost(&tx, 0, 200, false));
  CHECK(!pq_strm_tx_pending(&tx, UINT64_MAX));
  CHECK_INT(0, ==, pq_strm_tx_on_acked(&tx, 0, 200, false));
  CHECK_INT(PQ_ERR_STREAM_STATE, ==, pq_strm_tx_write(&tx, src, 1, false));
  CHECK_INT(0, ==, tx.buf.n);
  pq_strm_tx_free(&tx);
}

static void test_pq_strm_rx_discard_keeps_accounting(void) {
  pq_strm_rx rx;
  static sink s;
  uint64_t nb;
  memset(&s, 0, sizeof(s));
  pq_strm_rx_init(&rx, 1000);
  CHECK_INT(0, ==, pq_strm_rx_recv(&rx, 100, src, 100, false, collect, &s, &nb));
  pq_strm_rx_discard(&rx);
  CHECK_INT(0, ==, pq_strm_rx_buffered(&rx));
  CHECK_INT(0, ==, pq_strm_rx_recv(&rx, 0, src, 300, true, collect, &s, &nb));
  CHECK_INT(100, ==, nb); /* still charged to flow control */
  CHECK_INT(0, ==, s.got);
  CHECK_INT(PQ_ERR_FINAL_SIZE, ==, pq_strm_rx_recv(&rx, 300, src, 1, false, collect, &s, &nb));
  pq_strm_rx_free(&rx);
}

int main(void) {
  fill_src();
  RUN(test_pq_strm_rx_random_reassembly);
  RUN(test_pq_strm_rx_in_order_is_zero_copy);
  RUN(test_pq_strm_rx_final_size_rules);
  RUN(test_pq_strm_rx_bare_fin_and_empty_stream);
  RUN(test_pq_strm_rx_window_and_callback_errors);
  RUN(test_pq_strm_tx_basics);
  RUN(test_pq_strm_tx_bare_fin);
  RUN(test_pq_strm_tx_random_loss_into_rx);
  RUN(test_pq_strm_tx_reset_drops_everything);
  RUN(test_pq_strm_rx_discard_keeps_accounting);
  return test_report();
}
