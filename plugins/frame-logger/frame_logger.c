/* frame-logger: the observation ops no other example uses, in one plugin.
 *
 * - log_frame_<type> (MAX_DATA as Define, PING, ACK, CONNECTION_CLOSE as After code):
 *   counts the frames the connection sends and receives (input 1: BOOL sent) and, with
 *   parameter "file" (a name in the plugin's folder; needs the FILE permission), writes
 *   one line per frame: "tx 0x10 space 2 f0 123456".
 * - post_on_loss_timer: counts the loss-detection timer firings (input 3: BOOL pto) and
 *   the largest pto_count seen. Parameter "probes" (decimal): on_loss_timer (Define)
 *   asks for that many probes after each PTO (the host caps it at 4, never fewer than
 *   its own).
 * - set_next_wakeup (Define): with parameter "wake_ms" (decimal) asks the connection to
 *   wake at most that long from now; "wake" = "past" answers a time in the past at every
 *   call and "late" one far in the future (both hostile: the host must neither spin nor
 *   let its own timers slip).
 * - on_frame_reserved_<type> for frames the engine writes itself (ACK as Define, which
 *   returns 1 to show a Define's return is ignored there; ACK_ECN and MAX_DATA as After
 *   code): counts ACK and MAX_DATA frames reserved in packets sent (a MAX_DATA a
 *   plugin writes, e.g. max-data-frame's, is counted once too).
 * plugin_control_f1 outputs [MAX_DATA received, MAX_DATA sent, ACK received, ACK sent,
 * PING received, PING sent, loss timer calls, PTO calls, largest pto_count,
 * set_next_wakeup calls, lines written, ACK reserved, MAX_DATA reserved] (its own id:
 * other plugins answer 0). */
#include <pluginop.h>

#define MS 1000000ull

enum { RX_MAX_DATA, TX_MAX_DATA, RX_ACK, TX_ACK, RX_PING, TX_PING, LOSS_CALLS, PTO_CALLS,
       MAX_PTO_COUNT, WAKEUP_CALLS, LINES, RES_ACK, RES_MAX_DATA, N_COUNTS };

static uint64_t counts[N_COUNTS];
static uint64_t probes, wake_ms;
static int wake_mode; /* 0 none, 1 every wake_ms, 2 past, 3 late */
static int fd = -1;

static uint64_t parse_dec(const char *s) {
  uint64_t v = 0;
  for (; *s >= '0' && *s <= '9'; s++)
    v = v * 10 + (uint64_t)(*s - '0');
  return v;
}

static int same(const char *a, const char *b) {
  while (*a && *a == *b)
    a++, b++;
  return *a == *b;
}

static uint32_t put_dec(char *p, uint64_t v) {
  char tmp[20];
  uint32_t n = 0, i = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n)
    p[i++] = tmp[--n];
  return i;
}

static uint32_t put_hex(char *p, uint64_t v) {
  char tmp[16];
  uint32_t n = 0, i = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  while (n)
    p[i++] = tmp[--n];
  return i;
}

static uint32_t put_str(char *p, const char *s) {
  uint32_t n = 0;
  while (s[n]) {
    p[n] = s[n];
    n++;
  }
  return n;
}

POP_EXPORT(init) {
  char buf[64];
  if (pop_param("probes", buf, sizeof buf) > 0)
    probes = parse_dec(buf);
  if (pop_param("wake_ms", buf, sizeof buf) > 0 && (wake_ms = parse_dec(buf)) > 0)
    wake_mode = 1;
  if (pop_param("wake", buf, sizeof buf) > 0)
    wake_mode = same(buf, "past") ? 2 : same(buf, "late") ? 3 : wake_mode;
  if (pop_param("file", buf, sizeof buf) > 0)
    fd = pop_create_file(buf); /* < 0 without the FILE permission: count only */
  return pop_enable();
}

/* Counts the frame in input 0 (direction in input 1) and writes its line. */
static int64_t seen(int rx_slot) {
  const pop_frame *f = pop_input_frame(0);
  uint64_t sent = 0, space = 0;
  if (!f || pop_input_u64(1, &sent) || pop_input_u64(2, &space))
    return 1;
  if (rx_slot >= 0)
    counts[rx_slot + (sent ? 1 : 0)]++;
  if (fd >= 0) {
    char line[80];
    uint32_t n = put_str(line, sent ? "tx 0x" : "rx 0x");
    n += put_hex(line + n, f->type);
    n += put_str(line + n, " space ");
    n += put_dec(line + n, space);
    n += put_str(line + n, " f0 ");
    n += put_dec(line + n, f->f[0]);
    line[n++] = '\n';
    if (pop_write_file(fd, line, n) < 0)
      fd = -1; /* quota reached: stop writing, keep counting */
    else
      counts[LINES]++;
  }
  return 0;
}

POP_EXPORT(log_frame_10) { return seen(RX_MAX_DATA); }
POP_EXPORT(post_log_frame_2) { return seen(RX_ACK); }
POP_EXPORT(post_log_frame_3) { return seen(RX_ACK); }
POP_EXPORT(post_log_frame_1) { return seen(RX_PING); }
POP_EXPORT(post_log_frame_1c) { return seen(-1); }
POP_EXPORT(post_log_frame_1d) { return seen(-1); }

/* Reserved frames: input 0 is the FRAME as written (a missing one would be a host bug). */
static int64_t reserved(int slot, uint64_t type) {
  const pop_frame *f = pop_input_frame(0);
  if (!f || f->type != type)
    return 1;
  counts[slot]++;
  return 0;
}

POP_EXPORT(on_frame_reserved_2) { return reserved(RES_ACK, 2) ? 2 : 1; }
POP_EXPORT(post_on_frame_reserved_3) { return reserved(RES_ACK, 3); }
POP_EXPORT(post_on_frame_reserved_10) { return reserved(RES_MAX_DATA, 0x10); }

POP_EXPORT(post_on_loss_timer) {
  uint64_t pto = 0, pto_count = 0;
  if (pop_input_u64(2, &pto_count) || pop_input_u64(3, &pto))
    return 1;
  counts[LOSS_CALLS]++;
  if (pto)
    counts[PTO_CALLS]++;
  if (pto_count > counts[MAX_PTO_COUNT])
    counts[MAX_PTO_COUNT] = pto_count;
  return 0;
}

POP_EXPORT(on_loss_timer) {
  pop_val v = pop_val_u64(POP_VAL_U64, probes);
  return probes ? pop_output(&v) : 0;
}

POP_EXPORT(set_next_wakeup) {
  uint64_t now = 0;
  counts[WAKEUP_CALLS]++;
  if (pop_input_u64(1, &now))
    return 1;
  switch (wake_mode) {
  case 1: return pop_output_instant(now + wake_ms * MS);
  case 2: return pop_output_instant(now > MS ? now - MS : 0);
  case 3: return pop_output_instant(~0ull - 1);
  default: return 0; /* no output: the engine's wakeup stays */
  }
}

POP_EXPORT(plugin_control_f1) {
  for (int i = 0; i < N_COUNTS - 1; i++)
    pop_output_u64(counts[i]);
  return pop_output_u64(counts[N_COUNTS - 1]);
}
