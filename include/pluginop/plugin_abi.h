/*
 * pluginop plugin ABI: what the host and a WebAssembly plugin share (prefix `pop_`).
 *
 * This header is included by the host runtime (pluginop/plugin.h) and by plugins
 * (pdk/pluginop.h, compiled for wasm32), so it only uses fixed-size types and every
 * struct has its size checked. docs/PLUGIN-ABI.md is the prose version.
 *
 * Values cross the boundary as pop_val: 64 bytes, little endian, laid out in plugin
 * memory exactly as here. The host writes a call's inputs into the plugin's I/O area
 * (pop_io_area, found through the plugin's `__pop_io` export) before the call and reads
 * outputs from it after: no serialization, no host call per input.
 */
#ifndef PLUGINOP_PLUGIN_ABI_H
#define PLUGINOP_PLUGIN_ABI_H

#include <stdint.h>

#define POP_ABI_VERSION 1u

/* The one import module every pluginop host function lives in. */
#define POP_IMPORT_MODULE "pluginop"
/* Extism-compatible kernel functions (see docs/PLUGIN-ABI.md). */
#define POP_EXTISM_MODULE "extism:host/env"

/* ---- Protocol operations ----------------------------------------------------------- */

/* Operation kinds. Kinds marked (param) carry a 64-bit parameter: frame type, transport
 * parameter id, timer id or control id; in export names the parameter is written in
 * hexadecimal after the last '_' (process_frame_10 = PROCESS_FRAME(0x10)). */
typedef enum pop_op_kind {
  POP_OP_INIT = 0,                  /* init */
  POP_OP_TEST,                      /* test */
  POP_OP_PLUGIN_CONTROL,            /* plugin_control_<id>           (param) */
  POP_OP_ON_PLUGIN_TIMEOUT,         /* on_plugin_timeout_<timer id>  (param) */
  POP_OP_DECODE_TRANSPORT_PARAMETER,/* decode_transport_parameter_<id> (param) */
  POP_OP_WRITE_TRANSPORT_PARAMETER, /* write_transport_parameter_<id>  (param) */
  POP_OP_LOG_FRAME,                 /* log_frame_<type>              (param) */
  POP_OP_NOTIFY_FRAME,              /* notify_frame_<type>           (param) */
  POP_OP_ON_FRAME_RESERVED,         /* on_frame_reserved_<type>      (param) */
  POP_OP_PARSE_FRAME,               /* parse_frame_<type>            (param) */
  POP_OP_PREPARE_FRAME,             /* prepare_frame_<type>          (param) */
  POP_OP_PROCESS_FRAME,             /* process_frame_<type>          (param) */
  POP_OP_SHOULD_SEND_FRAME,         /* should_send_frame_<type>      (param) */
  POP_OP_WIRE_LEN,                  /* wire_len_<type>               (param) */
  POP_OP_WRITE_FRAME,               /* write_frame_<type>            (param) */
  POP_OP_UPDATE_RTT,                /* update_rtt */
  POP_OP_ON_PACKET_SENT,            /* on_packet_sent */
  POP_OP_ON_PACKET_ACKED,           /* on_packet_acked */
  POP_OP_ON_PACKET_LOST,            /* on_packet_lost */
  POP_OP_ON_CONGESTION_EVENT,       /* on_congestion_event */
  POP_OP_ON_LOSS_TIMER,             /* on_loss_timer */
  POP_OP_SET_NEXT_WAKEUP,           /* set_next_wakeup */
  POP_OP_OTHER,                     /* any other export name, called by name */
  POP_OP_KIND_COUNT
} pop_op_kind;

/* Where a plugin's code runs in a call. */
typedef enum pop_anchor {
  POP_ANCHOR_BEFORE = 0, /* pre_ / before_: read-only, every plugin, before */
  POP_ANCHOR_DEFINE = 1, /* no prefix: the first plugin replaces the native code */
  POP_ANCHOR_AFTER = 2,  /* post_ / after_: read-only, every plugin, after */
} pop_anchor;

/* ---- Values ------------------------------------------------------------------------- */

typedef enum pop_valtype {
  POP_VAL_NONE = 0,
  POP_VAL_BOOL = 1,     /* u.b: 0 or 1 */
  POP_VAL_I32 = 2,      /* u.i32 */
  POP_VAL_I64 = 3,      /* u.i64 */
  POP_VAL_U32 = 4,      /* u.u32 */
  POP_VAL_U64 = 5,      /* u.u64 (also usize) */
  POP_VAL_F32 = 6,      /* u.f32 */
  POP_VAL_F64 = 7,      /* u.f64 */
  POP_VAL_DURATION = 8, /* u.u64: nanoseconds */
  POP_VAL_INSTANT = 9,  /* u.u64: nanoseconds on the host's monotonic clock (see now()) */
  POP_VAL_SOCKADDR = 10,/* u.addr */
  POP_VAL_BYTES = 11,   /* u.bytes: a host buffer token for get_bytes/put_bytes */
  POP_VAL_HEADER = 12,  /* u.hdr: QUIC packet header */
  POP_VAL_FRAME = 13,   /* u.frame */
  POP_VAL_PN_SPACE = 14,/* u.u32: pop_pn_space */
  POP_VAL_PKT_TYPE = 15,/* u.u32: pop_pkt_type */
  POP_VAL_TYPE_COUNT
} pop_valtype;

typedef enum pop_pn_space {
  POP_PN_SPACE_INITIAL = 0,
  POP_PN_SPACE_HANDSHAKE = 1,
  POP_PN_SPACE_APPLICATION = 2,
} pop_pn_space;

typedef enum pop_pkt_type {
  POP_PKT_INITIAL = 0,
  POP_PKT_0RTT = 1,
  POP_PKT_HANDSHAKE = 2,
  POP_PKT_RETRY = 3,
  POP_PKT_VERSION_NEGOTIATION = 4,
  POP_PKT_SHORT = 5,
} pop_pkt_type;

/* IPv4 (family 4) or IPv6 (family 6) address; port in host byte order, address bytes in
 * network order (IPv4 uses ip[0..3]). 24 bytes. */
typedef struct pop_sockaddr {
  uint16_t family;
  uint16_t port;
  uint32_t scope_id;
  uint8_t ip[16];
} pop_sockaddr;

/* A host buffer the plugin may read from (get_bytes, at most max_read bytes in total
 * during the call) or append to (put_bytes, at most max_write). The tag is chosen by the
 * host and only meaningful during the call that passed it. 24 bytes. */
typedef struct pop_bytes {
  uint64_t tag;
  uint64_t max_read;
  uint64_t max_write;
} pop_bytes;

/* A QUIC header. 56 bytes. */
typedef struct pop_header {
  uint8_t first_byte; /* the header's first byte (unprotected) */
  uint8_t type;       /* pop_pkt_type */
  uint8_t dcid_len;   /* 0..20 */
  uint8_t scid_len;   /* 0..20, long headers only */
  uint32_t version;   /* long headers only */
  uint64_t pn;        /* full packet number, once decoded */
  uint8_t dcid[20];
  uint8_t scid[20];
} pop_header;

/* A frame: its type and up to six fields whose meaning depends on the type (documented
 * in docs/PLUGIN-ABI.md, e.g. MAX_DATA: f[0] = maximum data; an extension frame defined
 * by a plugin: f[0] = the plugin's own tag). 56 bytes. */
typedef struct pop_frame {
  uint64_t type;
  uint64_t f[6];
} pop_frame;

/* One value: 64 bytes. */
typedef struct pop_val {
  uint32_t type; /* pop_valtype */
  uint32_t reserved;
  union {
    uint32_t b;
    int32_t i32;
    int64_t i64;
    uint32_t u32;
    uint64_t u64;
    float f32;
    double f64;
    pop_sockaddr addr;
    pop_bytes bytes;
    pop_header hdr;
    pop_frame frame;
    uint8_t raw[56];
  } u;
} pop_val;

_Static_assert(sizeof(pop_sockaddr) == 24, "pop_sockaddr layout");
_Static_assert(sizeof(pop_bytes) == 24, "pop_bytes layout");
_Static_assert(sizeof(pop_header) == 56, "pop_header layout");
_Static_assert(sizeof(pop_frame) == 56, "pop_frame layout");
_Static_assert(sizeof(pop_val) == 64, "pop_val layout");

/* ---- The I/O area ------------------------------------------------------------------- */

#define POP_MAX_INPUTS 16
#define POP_MAX_OUTPUTS 16

/* Lives in plugin memory; its address is returned by the plugin's export
 * `__pop_io() -> i32` (pdk/pluginop.h provides it). Before each call the host writes
 * op_kind/op_param/anchor/n_inputs/inputs and sets n_outputs to 0; the plugin reads its
 * inputs in place and appends outputs (pop_output() in the pdk, or the save_output host
 * function). The host validates n_outputs and every output's type after the call.
 * 32 + 2 * 16 * 64 = 2080 bytes, 8-byte aligned. */
typedef struct pop_io_area {
  uint32_t abi_version; /* the plugin writes POP_ABI_VERSION; checked at attach */
  uint32_t anchor;      /* pop_anchor of the running code */
  uint32_t op_kind;     /* pop_op_kind */
  uint32_t n_inputs;
  uint64_t op_param;
  uint32_t n_outputs;
  uint32_t reserved;
  pop_val inputs[POP_MAX_INPUTS];
  pop_val outputs[POP_MAX_OUTPUTS];
} pop_io_area;

_Static_assert(sizeof(pop_io_area) == 32 + 2 * POP_MAX_INPUTS * 64, "pop_io_area layout");

/* ---- Host API ---------------------------------------------------------------------- */

/* Permissions a host grants a plugin at attach time (a bit set). */
typedef enum pop_perm {
  POP_PERM_OUTPUT = 1u << 0,      /* save_output */
  POP_PERM_CONN_READ = 1u << 1,   /* get_connection */
  POP_PERM_CONN_WRITE = 1u << 2,  /* set_connection */
  POP_PERM_REC_READ = 1u << 3,    /* get_recovery */
  POP_PERM_REC_WRITE = 1u << 4,   /* set_recovery */
  POP_PERM_BYTES_READ = 1u << 5,  /* get_bytes */
  POP_PERM_BYTES_WRITE = 1u << 6, /* put_bytes */
  POP_PERM_REGISTER = 1u << 7,    /* register_frame, register_transport_parameter */
  POP_PERM_TIMER = 1u << 8,       /* set_timer, cancel_timer */
  POP_PERM_FILE = 1u << 9,        /* create_file, write_file */
  POP_PERM_POCTL = 1u << 10,      /* poctl */
  POP_PERM_LOG = 1u << 11,        /* log */
  POP_PERM_ALL = (1u << 12) - 1,
} pop_perm;

/* What a host function returns to the plugin on failure (negative; i32 or i64). */
typedef enum pop_abi_err {
  POP_E_PERM = -1,       /* the plugin lacks the permission */
  POP_E_BOUNDS = -2,     /* a pointer/length lies (partly) outside plugin memory */
  POP_E_FIELD = -3,      /* the host does not support this field */
  POP_E_BUFFER = -4,     /* unknown bytes tag, or its read/write limit would be passed */
  POP_E_INDEX = -5,      /* input index out of range */
  POP_E_VALUE = -6,      /* malformed value (bad type tag, wrong type for the field) */
  POP_E_FULL = -7,       /* too many outputs, timers, files or registrations */
  POP_E_PATH = -8,       /* path rejected (absolute, "..", symlink, too long) */
  POP_E_QUOTA = -9,      /* the plugin's file quota is used up */
  POP_E_IO = -10,        /* the file operation failed */
  POP_E_NOT_FOUND = -11, /* no such file descriptor, timer or control target */
  POP_E_READONLY = -12,  /* a Before/After anchor tried to change state */
  POP_E_HOST = -13,      /* the host callback failed */
  POP_E_DEPTH = -14,     /* poctl nested too deep */
  POP_E_STATE = -15,     /* not allowed now (e.g. poctl to a disabled plugin) */
  POP_E_OP = -16,        /* poctl: the called operation returned a non-zero code */
} pop_abi_err;

/* Connection fields (get_connection / set_connection). A host may support any subset;
 * the others return POP_E_FIELD. Values are U64 unless said otherwise. */
typedef enum pop_conn_field {
  POP_CONN_MAX_TX_DATA = 1,     /* peer's flow-control limit on what we send */
  POP_CONN_MAX_RX_DATA = 2,     /* our limit on what the peer sends (advertised) */
  POP_CONN_RX_DATA = 3,         /* bytes received so far */
  POP_CONN_TX_DATA = 4,         /* bytes sent so far */
  POP_CONN_IS_ESTABLISHED = 5,  /* BOOL */
  POP_CONN_IS_SERVER = 6,       /* BOOL */
  POP_CONN_IDLE_TIMEOUT = 7,    /* DURATION */
  POP_CONN_PEER_ADDR = 8,       /* SOCKADDR */
  POP_CONN_LOCAL_ADDR = 9,      /* SOCKADDR */
  POP_CONN_MAX_STREAMS_BIDI = 10,
  POP_CONN_MAX_STREAMS_UNI = 11,
  POP_CONN_NEXT_PN = 12,        /* param: pop_pn_space */
  POP_CONN_FIELD_USER = 0x1000, /* host-specific fields start here */
} pop_conn_field;

/* Recovery / congestion fields (get_recovery / set_recovery). */
typedef enum pop_rec_field {
  POP_REC_LATEST_RTT = 1,         /* DURATION */
  POP_REC_SMOOTHED_RTT = 2,       /* DURATION */
  POP_REC_RTTVAR = 3,             /* DURATION */
  POP_REC_MIN_RTT = 4,            /* DURATION */
  POP_REC_MAX_ACK_DELAY = 5,      /* DURATION */
  POP_REC_PTO_COUNT = 6,          /* U64 */
  POP_REC_BYTES_IN_FLIGHT = 7,    /* U64 */
  POP_REC_CONGESTION_WINDOW = 8,  /* U64 */
  POP_REC_SSTHRESH = 9,           /* U64 */
  POP_REC_MAX_DATAGRAM_SIZE = 10, /* U64 */
  POP_REC_LOSS_TIME = 11,         /* INSTANT, param: pop_pn_space */
  POP_REC_FIELD_USER = 0x1000,
} pop_rec_field;

/* Where a registered frame goes in a packet being built. */
typedef enum pop_send_order {
  POP_SEND_FIRST = 0,
  POP_SEND_AFTER_ACK = 1,
  POP_SEND_BEFORE_STREAM = 2,
  POP_SEND_END = 3,
} pop_send_order;

/* register_frame's argument, in plugin memory. 16 bytes. */
typedef struct pop_frame_reg {
  uint64_t type;
  uint8_t send_order;    /* pop_send_order */
  uint8_t once_per_packet;
  uint8_t ack_eliciting;
  uint8_t count_in_flight;
  uint32_t reserved;
} pop_frame_reg;

_Static_assert(sizeof(pop_frame_reg) == 16, "pop_frame_reg layout");

/* log levels */
typedef enum pop_log_level {
  POP_LOG_ERROR = 0,
  POP_LOG_WARN = 1,
  POP_LOG_INFO = 2,
  POP_LOG_DEBUG = 3,
  POP_LOG_TRACE = 4,
} pop_log_level;

/* What prepare_frame may return to stop building the current packet (as in pluginop). */
#define POP_OP_STOP_PACKET (-1000)

#endif
