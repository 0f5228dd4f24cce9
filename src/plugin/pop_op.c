/*
 * pop_op.c: protocol operation kinds and the mapping between export names and ops.
 *
 * The mapping is pluginop's, so plugins written for it keep their names: an optional
 * anchor prefix (pre_/before_ = Before, post_/after_ = After), then the kind's name, then
 * for kinds that carry one, '_' and the parameter in hexadecimal. Unlike pluginop, a name
 * that starts like a parameterized kind but has no valid parameter is an error instead of
 * silently becoming an "other" op or a panic.
 */
#include <stdio.h>
#include <string.h>

#include "pluginop/plugin.h"

typedef struct op_desc {
  const char *name;
  bool has_param;
} op_desc;

/* Indexed by pop_op_kind. */
static const op_desc OP_DESCS[POP_OP_KIND_COUNT] = {
    [POP_OP_INIT] = {"init", false},
    [POP_OP_TEST] = {"test", false},
    [POP_OP_PLUGIN_CONTROL] = {"plugin_control", true},
    [POP_OP_ON_PLUGIN_TIMEOUT] = {"on_plugin_timeout", true},
    [POP_OP_DECODE_TRANSPORT_PARAMETER] = {"decode_transport_parameter", true},
    [POP_OP_WRITE_TRANSPORT_PARAMETER] = {"write_transport_parameter", true},
    [POP_OP_LOG_FRAME] = {"log_frame", true},
    [POP_OP_NOTIFY_FRAME] = {"notify_frame", true},
    [POP_OP_ON_FRAME_RESERVED] = {"on_frame_reserved", true},
    [POP_OP_PARSE_FRAME] = {"parse_frame", true},
    [POP_OP_PREPARE_FRAME] = {"prepare_frame", true},
    [POP_OP_PROCESS_FRAME] = {"process_frame", true},
    [POP_OP_SHOULD_SEND_FRAME] = {"should_send_frame", true},
    [POP_OP_WIRE_LEN] = {"wire_len", true},
    [POP_OP_WRITE_FRAME] = {"write_frame", true},
    [POP_OP_UPDATE_RTT] = {"update_rtt", false},
    [POP_OP_ON_PACKET_SENT] = {"on_packet_sent", false},
    [POP_OP_ON_PACKET_ACKED] = {"on_packet_acked", false},
    [POP_OP_ON_PACKET_LOST] = {"on_packet_lost", false},
    [POP_OP_ON_CONGESTION_EVENT] = {"on_congestion_event", false},
    [POP_OP_ON_LOSS_TIMER] = {"on_loss_timer", false},
    [POP_OP_SET_NEXT_WAKEUP] = {"set_next_wakeup", false},
    [POP_OP_OTHER] = {NULL, false},
};

static const struct {
  const char *prefix;
  pop_anchor anchor;
} ANCHOR_PREFIXES[] = {
    {"pre_", POP_ANCHOR_BEFORE},
    {"before_", POP_ANCHOR_BEFORE},
    {"post_", POP_ANCHOR_AFTER},
    {"after_", POP_ANCHOR_AFTER},
};

const char *pop_op_kind_name(pop_op_kind kind) {
  if ((unsigned)kind >= POP_OP_KIND_COUNT)
    return NULL;
  return OP_DESCS[kind].name;
}

bool pop_op_always_enabled(pop_op_kind kind) {
  return kind == POP_OP_INIT || kind == POP_OP_DECODE_TRANSPORT_PARAMETER ||
         kind == POP_OP_WRITE_TRANSPORT_PARAMETER;
}

static bool starts_with(const char *s, size_t len, const char *prefix, size_t plen) {
  return len >= plen && memcmp(s, prefix, plen) == 0;
}

/* 1 to 16 hexadecimal digits, nothing else (no sign, no 0x, no spaces). */
static int parse_hex(const char *s, size_t len, uint64_t *out) {
  if (len == 0 || len > 16)
    return POP_ERR_LOAD;
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    unsigned d;
    if (c >= '0' && c <= '9')
      d = (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      d = (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      d = (unsigned)(c - 'A' + 10);
    else
      return POP_ERR_LOAD;
    v = (v << 4) | d;
  }
  *out = v;
  return 0;
}

/* Matches |s| against one kind's name: exact for parameterless kinds (a trailing "_x"
 * is then an error), "<name>_<hex>" for the others. Returns 1 on match, 0 if the name is
 * unrelated, POP_ERR_LOAD if it is this kind but malformed. */
static int match_kind(const char *s, size_t len, const op_desc *d, uint64_t *param) {
  size_t n = strlen(d->name);
  if (!starts_with(s, len, d->name, n))
    return 0;
  if (len == n)
    return d->has_param ? POP_ERR_LOAD : 1;
  if (s[n] != '_')
    return 0; /* "process_frames": another name altogether */
  if (!d->has_param) {
    /* "init_1", "update_rtt_3": a parameter on a kind that takes none. A longer word
     * ("init_state") is an other op: only reject what looks like a parameter. */
    uint64_t unused;
    return parse_hex(s + n + 1, len - n - 1, &unused) == 0 || len == n + 1 ? POP_ERR_LOAD
                                                                           : 0;
  }
  if (parse_hex(s + n + 1, len - n - 1, param) != 0)
    return POP_ERR_LOAD;
  return 1;
}

int pop_op_parse(const char *name, size_t len, pop_anchor *anchor, pop_op *op) {
  if (!name || !anchor || !op || len == 0)
    return POP_ERR_LOAD;
  if (memchr(name, '\0', len))
    return POP_ERR_LOAD;
  *anchor = POP_ANCHOR_DEFINE;
  for (size_t i = 0; i < sizeof ANCHOR_PREFIXES / sizeof ANCHOR_PREFIXES[0]; i++) {
    size_t plen = strlen(ANCHOR_PREFIXES[i].prefix);
    if (starts_with(name, len, ANCHOR_PREFIXES[i].prefix, plen)) {
      *anchor = ANCHOR_PREFIXES[i].anchor;
      name += plen;
      len -= plen;
      break;
    }
  }
  if (len == 0)
    return POP_ERR_LOAD; /* "pre_" alone */
  for (int k = 0; k < POP_OP_OTHER; k++) {
    uint64_t param = 0;
    int rv = match_kind(name, len, &OP_DESCS[k], &param);
    if (rv < 0)
      return rv;
    if (rv == 1) {
      op->kind = (pop_op_kind)k;
      op->param = param;
      op->name = NULL;
      return 0;
    }
  }
  op->kind = POP_OP_OTHER;
  op->param = 0;
  op->name = name;
  return 0;
}

int pop_op_name(pop_op op, pop_anchor anchor, char *buf, size_t cap) {
  static const char *const prefixes[] = {"pre_", "", "post_"};
  if (!buf || (unsigned)anchor > POP_ANCHOR_AFTER || (unsigned)op.kind >= POP_OP_KIND_COUNT)
    return POP_ERR_ARG;
  const char *base = op.kind == POP_OP_OTHER ? op.name : OP_DESCS[op.kind].name;
  if (!base)
    return POP_ERR_ARG;
  int n;
  if (op.kind != POP_OP_OTHER && OP_DESCS[op.kind].has_param)
    n = snprintf(buf, cap, "%s%s_%llx", prefixes[anchor], base, (unsigned long long)op.param);
  else
    n = snprintf(buf, cap, "%s%s", prefixes[anchor], base);
  if (n < 0 || (size_t)n >= cap)
    return POP_ERR_ARG;
  return n;
}
