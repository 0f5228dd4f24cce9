/*
 * pq_conn.h: the connection engine's internal state, shared by pq_conn.c (lifecycle,
 * receive and send paths, timers), pq_conn_frames.c (the frame table: processing and
 * sending by frame type) and pq_server.c (demultiplexing).
 *
 * Layers used: pq_pkt/pq_crypto (packets, keys), pq_hs (the handshake driver: GnuTLS
 * through pq_tls, or pq_hs_null in tests), pq_frame (codec by type), pq_tp (transport
 * parameters by id), pq_strm/pq_flow/pq_ranges (streams, credit, received packets),
 * pq_recovery/pq_cc/pq_pacer (loss recovery, congestion control, pacing), pq_timer.
 */
#ifndef PLUGINOP_PQ_CONN_H
#define PLUGINOP_PQ_CONN_H

#include "pluginop/quic.h"
#include "pq_acktr.h"
#include "pq_cc.h"
#include "pq_crypto.h"
#include "pq_err.h"
#include "pq_flow.h"
#include "pq_frame.h"
#include "pq_hs.h"
#include "pq_pacer.h"
#include "pq_pkt.h"
#include "pq_ranges.h"
#include "pq_recovery.h"
#include "pq_strm.h"
#include "pq_timer.h"
#include "pq_tp.h"

#define PQ_CONN_CID_LEN 8         /* length of the connection IDs we issue */
#define PQ_CONN_REASON_MAX 256    /* close reasons kept (and sent) up to 255 bytes */
#define PQ_CONN_MDS 1200          /* datagram size until a PMTU probe succeeds */
#define PQ_CONN_PMTU_PROBE 1452   /* the one larger size we probe (RFC 9000 §14.3) */
#define PQ_CONN_PMTU_TRIES 3
#define PQ_CONN_MIN_INITIAL 1200  /* RFC 9000 §14.1 */
#define PQ_CONN_ACK_RANGES 32     /* received-packet ranges remembered per space */
#define PQ_CONN_CRYPTO_BUFFER (64 * 1024)
#define PQ_CONN_STREAM_BUFFER (1024 * 1024) /* send buffer per stream */
#define PQ_CONN_MAX_RTX 64        /* retransmittable items per packet */
#define PQ_CONN_AMPLIFICATION 3   /* RFC 9000 §8.1 */
#define PQ_CONN_MAX_CIDS 8        /* connection IDs kept per side */
#define PQ_CONN_MAX_TOKEN 512     /* longest Retry token we keep */

typedef enum pq_conn_state {
  PQ_CS_HANDSHAKE = 0,
  PQ_CS_ESTABLISHED,
  PQ_CS_CLOSING,   /* we sent CONNECTION_CLOSE; answer packets with it again */
  PQ_CS_DRAINING,  /* the peer closed; send nothing */
  PQ_CS_CLOSED     /* over: pq_conn_is_closed */
} pq_conn_state;

/* What a sent packet carried that may need sending again or acting on when acked. */
typedef enum pq_rtx_kind {
  PQ_RTX_CRYPTO = 1,        /* level, off, len */
  PQ_RTX_STREAM,            /* id, off, len, fin */
  PQ_RTX_HANDSHAKE_DONE,
  PQ_RTX_MAX_DATA,
  PQ_RTX_MAX_STREAM_DATA,   /* id */
  PQ_RTX_MAX_STREAMS_BIDI,
  PQ_RTX_MAX_STREAMS_UNI,
  PQ_RTX_RESET_STREAM,      /* id */
  PQ_RTX_STOP_SENDING,      /* id */
  PQ_RTX_NEW_CID,           /* id = sequence number */
  PQ_RTX_RETIRE_CID,        /* id = sequence number */
  PQ_RTX_PATH_CHALLENGE,
  PQ_RTX_NEW_TOKEN,
  PQ_RTX_PMTU_PROBE,        /* len = probed datagram size */
  PQ_RTX_PLUGIN,            /* a plugin's frame: id = type, off/len = its f[0]/f[1] */
} pq_rtx_kind;

typedef struct pq_rtx {
  uint8_t kind;
  uint8_t level;
  bool fin;
  uint64_t id, off, len;
} pq_rtx;

/* The retransmission record hung on pq_sent_pkt.frames. */
typedef struct pq_pkt_rtx {
  size_t n;
  pq_rtx items[];
} pq_pkt_rtx;

/* A connection ID with its sequence number and stateless reset token. */
typedef struct pq_cid {
  uint64_t seq;
  uint8_t len;
  uint8_t id[PQ_MAX_CID_LEN];
  uint8_t token[PQ_RESET_TOKEN_LEN];
  bool has_token;
  bool pending;                  /* ours: NEW_CONNECTION_ID to send; peer's: RETIRE */
} pq_cid;

typedef struct pq_stream {
  uint64_t id;
  bool can_send, can_recv;       /* unidirectional streams have one part */
  pq_strm_tx tx;
  pq_strm_rx rx;
  pq_flow_tx ftx;                /* the peer's credit for this stream */
  pq_flow_rx frx;                /* our credit */
  bool max_stream_data_pending;  /* send MAX_STREAM_DATA */
  bool reset_pending, stop_pending;
  uint64_t reset_error, stop_error;
  bool reset_sent, reset_acked;  /* our RESET_STREAM */
  bool peer_reset;               /* RESET_STREAM received */
  bool closed;                   /* stream_closed reported */
} pq_stream;

/* Per packet number space / encryption level. */
typedef struct pq_space {
  pq_keys tx, rx;
  bool has_tx, has_rx;
  bool discarded;
  uint64_t next_pn;
  pq_acktr ack;                  /* packet numbers received, duplicates, when to ACK */
  pq_strm_tx crypto_tx;
  pq_strm_rx crypto_rx;
} pq_space;

struct pq_conn {
  bool is_server;
  pq_conn_state state;
  pq_settings settings;
  pq_callbacks cb;
  void *user;
  pq_path path;
  /* Connection IDs: ours (the peer's DCID), the peer's (our DCID), the client's first
   * DCID (Initial keys, original_destination_connection_id). */
  uint8_t scid[PQ_MAX_CID_LEN], dcid[PQ_MAX_CID_LEN], odcid[PQ_MAX_CID_LEN];
  size_t scid_len, dcid_len, odcid_len;
  bool dcid_from_server;         /* client: switched to the server's SCID */
  /* Retry (RFC 9000 §8.1.2, §17.2.5): the client's token to repeat in its Initials and
   * the Retry's SCID; the server's values for its transport parameters. */
  uint8_t token[PQ_CONN_MAX_TOKEN]; /* any server's token, not just ours */
  size_t token_len;
  bool retry_received;
  uint8_t retry_scid[PQ_MAX_CID_LEN];
  size_t retry_scid_len;
  uint8_t tp_odcid[PQ_MAX_CID_LEN]; /* server: original_destination_connection_id */
  size_t tp_odcid_len;
  pq_aead *token_key;            /* server: seals NEW_TOKEN (borrowed from pq_server) */
  /* Datagram size: PQ_CONN_MDS, raised once a PING+PADDING probe of
   * PQ_CONN_PMTU_PROBE bytes is acknowledged (DPLPMTUD, RFC 8899/9000 §14.3). */
  size_t mds;
  unsigned pmtu_tries;
  bool pmtu_in_flight, pmtu_done;
  bool new_token_pending;        /* server: send a NEW_TOKEN once confirmed */
  uint8_t reset_token[PQ_RESET_TOKEN_LEN]; /* server: stateless reset token */
  uint8_t reset_key[32];         /* server: tokens of the CIDs we issue derive from it */
  bool has_reset_key;
  /* Connection IDs we issued (the peer's DCIDs; [0] is the handshake one) and the
   * peer's (our DCIDs, current one in dcid/dcid_len) (RFC 9000 §5.1). */
  pq_cid local_cids[PQ_CONN_MAX_CIDS];
  size_t nlocal;
  uint64_t next_local_seq, local_retire_prior_to;
  pq_cid peer_cids[PQ_CONN_MAX_CIDS];
  size_t npeer;
  uint64_t dcid_seq, peer_retire_prior_to;
  uint64_t retire_queue[PQ_CONN_MAX_CIDS * 2]; /* peer's seqs to RETIRE */
  size_t nretire;
  pq_space spaces[PQ_PNS_COUNT];
  /* Handshake. */
  const pq_hs_ops *hs;
  void *hs_state;
  bool hs_complete;              /* TLS finished */
  bool hs_confirmed;             /* RFC 9001 §4.1.2 */
  bool handshake_done_pending;   /* server: send HANDSHAKE_DONE */
  bool has_peer_tp;
  pq_tp peer_tp;
  /* 0-RTT (RFC 9001 §4.6, §4.9.3): the client's send keys or the server's receive
   * keys for 0-RTT packets, which use the application packet number space. A client
   * discards them when it gets 1-RTT keys, a server three PTOs after its first 1-RTT
   * packet (early_discard_at). */
  pq_keys early;
  bool has_early;
  pq_early_data early_status;
  pq_tstamp early_discard_at;
  /* Client: the server's parameters from the session blob; in force for streams and
   * flow control until the handshake brings the new ones (RFC 9000 §7.4.1). */
  pq_tp remembered_tp;
  bool use_remembered;
  bool early_done;               /* client: rejected 0-RTT already sent again */
  bool qlog_0rtt;                /* the packet being logged is a 0-RTT one */
  const pq_tp_ext *tp_ext;       /* parameters outside pq_tp's table (the plugin
                                    runtime's seam); NULL for now */
  /* Recovery, congestion, pacing, timers. */
  pq_cc cc;
  pq_recovery rec;
  pq_pacer pacer;
  pq_timers timers;
  /* Anti-amplification (server, until the client's address is validated). */
  bool addr_validated;
  uint64_t bytes_received, bytes_sent_unvalidated;
  /* Flow control and streams. */
  pq_flow_rx frx;
  pq_flow_tx ftx;
  bool max_data_pending;
  pq_streams_rx srx_bidi, srx_uni;
  pq_streams_tx stx_bidi, stx_uni;
  bool max_streams_bidi_pending, max_streams_uni_pending;
  pq_stream **streams;           /* sorted by id */
  size_t nstreams, streams_cap;
  size_t next_stream_rr;         /* round-robin position for sending */
  /* 1-RTT key update (RFC 9001 §6). */
  int key_phase;                 /* current phase, both directions */
  pq_keys rx_prev;               /* the previous phase's receive keys, for a while */
  bool has_rx_prev;
  bool awaiting_peer_phase;      /* we updated; the peer has not answered yet */
  uint64_t phase_start_pn;       /* first packet received in the current phase */
  uint64_t phase_tx_first_pn;    /* our first packet in the current phase */
  uint64_t key_updates;          /* counter, for tests */
  /* Path validation: a PATH_RESPONSE owed; our PATH_CHALLENGE after the peer moved to
   * a new address (RFC 9000 §9), limited to 3x what arrived there until answered. */
  bool path_response_pending;
  uint8_t path_response[8];
  bool path_validating, path_challenge_pending;
  uint8_t path_challenge[8];
  uint64_t path_bytes_rcvd, path_bytes_sent;
  uint64_t migrations;
  const pq_path *rx_path;        /* path of the datagram being read (borrowed) */
  uint8_t *rxbuf;                /* scratch copy of the datagram being read */
  size_t rxbuf_cap;
  /* Idle and close. */
  uint64_t idle_timeout;         /* effective, ns; 0 = none */
  bool eliciting_since_rcvd;     /* sent an ack-eliciting packet since last receive */
  bool close_app;
  uint64_t close_error, close_frame_type;
  char close_reason[PQ_CONN_REASON_MAX]; /* ours (app close, TLS failure) or the peer's */
  bool close_pending;            /* (re)send CONNECTION_CLOSE */
  pq_close_info close_info;
  bool close_reported;
  int error;                     /* first fatal error, reported by read/write */
  pq_conn_stats stats;
  struct pq_plug *plug;          /* plugins (pq_plugin.h), NULL without */
  struct pq_qlog *qlog;          /* qlog formatting (pq_qlog.h), NULL without cb.qlog */
};

/* ---- pq_conn.c internals used by the frame table ---- */

/* Starts closing with a transport error (|rv| a PQ_ERR_TRANSPORT value or a fatal
 * status) caused by |frame_type|. Returns |rv| mapped to a public status. */
int pq_conn_fail(pq_conn *c, int rv, uint64_t frame_type);
/* Creates stream |id| with the limits of its type (no checks). 0 or PQ_ERR_NOMEM. */
int pq_stream_create(pq_conn *c, uint64_t id, pq_stream **out);
/* Frees a stream's buffers and the stream. */
void pq_stream_free(pq_stream *s);
/* The stream |id|, or NULL. */
pq_stream *pq_conn_find_stream(pq_conn *c, uint64_t id);
/* The stream |id| named by the peer in a frame of |type|: opens peer streams (and all
 * lower ones) on first use. *out is NULL for a stream already closed and forgotten.
 * Returns 0 or a transport error. */
int pq_conn_peer_stream(pq_conn *c, uint64_t id, uint64_t type, pq_stream **out);
/* Called when a stream may have finished both ways. */
void pq_conn_stream_maybe_closed(pq_conn *c, pq_stream *s);
/* The peer's CONNECTION_CLOSE: enter draining (RFC 9000 §10.2.2) and report it. */
void pq_conn_enter_draining(pq_conn *c, const pq_frame_close *f, bool app, pq_tstamp now);
/* Drops the keys and state of |space| at the end of the current packet. */
void pq_conn_discard_space(pq_conn *c, pq_pnspace space, pq_tstamp now);
/* Marks the CRYPTO data and control frames of in-flight packets of |space| for
 * sending again (PTO probes carry data, not just PING). */
void pq_conn_requeue_space(pq_conn *c, pq_pnspace space);

/* ---- pq_conn_frames.c: the frame table ---- */

/* Processing context of one received packet. */
typedef struct pq_rx_ctx {
  pq_pnspace space;
  unsigned pkt_mask;       /* PQ_PKT_MASK_* of the packet */
  bool ack_eliciting;
  bool non_probing;        /* a frame other than the probing ones (RFC 9000 §9.1) */
  pq_tstamp now;
} pq_rx_ctx;

/* Send context of one packet being built. */
typedef struct pq_tx_ctx {
  pq_pnspace space;
  uint8_t *p, *end;        /* room for frames */
  pq_rtx rtx[PQ_CONN_MAX_RTX];
  size_t nrtx;
  bool ack_eliciting, in_flight;
  bool probe;              /* PTO probe: ignore cwnd */
  bool pmtu_probe;         /* PMTU probe: PING and PADDING only, outside cwnd accounting */
  bool zero_rtt;           /* a 0-RTT packet: no ACK (RFC 9000 Table 3) */
  bool cc_ok;              /* congestion window and pacing allow ack-eliciting data */
  pq_tstamp now;
} pq_tx_ctx;

/* One row per frame type: the codec is pq_frame_ops_get(type); these are the
 * connection's halves. process: act on a parsed frame (0 or a negative error).
 * send: if there is something of this type to send in ctx's space, write as many frames
 * as fit (0, or a negative error; PQ_ERR_NOBUF is not an error: stop filling). */
typedef struct pq_conn_frame_def {
  int (*process)(pq_conn *c, const pq_frame *f, pq_rx_ctx *ctx);
  int (*send)(pq_conn *c, pq_tx_ctx *ctx);
} pq_conn_frame_def;

/* The table, indexed by frame type (0 .. PQ_FT_TABLE_SIZE-1). */
extern const pq_conn_frame_def pq_conn_frame_table[PQ_FT_TABLE_SIZE];
/* The order in which pq_conn_write asks frame types to fill a packet. */
extern const uint8_t pq_conn_send_order[];
extern const size_t pq_conn_send_order_len;

/* Operation: processes one parsed frame through the table. */
int pq_conn_process_frame(pq_conn *c, const pq_frame *f, pq_rx_ctx *ctx);
/* The PMTU probe of |size| bytes was acknowledged (the datagram size goes up) or lost. */
void pq_conn_pmtu_result(pq_conn *c, size_t size, bool acked);
/* True if a *_BLOCKED frame is due (our data or streams wait for the peer's credit). */
bool pq_conn_blocked_pending(const pq_conn *c);
/* Records a retransmittable item in the packet being built (false if full). */
bool pq_tx_add_rtx(pq_tx_ctx *ctx, const pq_rtx *r);
/* Handing back a sent packet's items: acknowledged or lost. */
void pq_conn_rtx_acked(pq_conn *c, const pq_rtx *r);
void pq_conn_rtx_lost(pq_conn *c, const pq_rtx *r);

/* Issues a fresh connection ID that retires all older ones (retire_prior_to): the
 * peer moves to it (RFC 9000 §5.1.2). Returns 0, PQ_ERR_INVALID_ARG (not established),
 * or an error. */
int pq_conn_rotate_cid(pq_conn *c);
/* Frames about connection IDs from the peer. Return 0 or a transport error. */
int pq_conn_on_retire_cid(pq_conn *c, uint64_t seq);
int pq_conn_on_new_cid(pq_conn *c, const pq_frame_new_cid *f);
/* Issues CIDs up to the peer's active_connection_id_limit (after the handshake). */
int pq_conn_issue_cids(pq_conn *c);

/* Internal constructors (tests choose the handshake driver). */
int pq_conn_client_new_ex(pq_conn **out, const pq_settings *settings,
                          const pq_callbacks *callbacks, const pq_path *path,
                          const pq_hs_ops *hs, const pq_hs_config *hs_cfg, void *user,
                          pq_tstamp now);
/* A server connection for the client Initial |h| (parsed from the datagram).
 * |retry_odcid| (NULL if none): the client came back from our Retry, whose token
 * carried its original DCID; its address counts as validated. */
int pq_conn_server_new_ex(pq_conn **out, const pq_settings *settings,
                          const pq_callbacks *callbacks, const pq_path *path,
                          const pq_hs_ops *hs, const pq_hs_config *hs_cfg,
                          const pq_pkt_hdr *h, const uint8_t reset_key[32],
                          const uint8_t *retry_odcid, size_t retry_odcid_len, void *user,
                          pq_tstamp now);
/* True if the datagram's destination connection ID |dcid| belongs to |c|. */
bool pq_conn_owns_cid(const pq_conn *c, const uint8_t *dcid, size_t len);
/* The stateless reset token of connection ID |cid| under the server's |key|
 * (HMAC-SHA256, truncated): the same CID always gets the same token, so a server
 * that lost the connection can still prove it (RFC 9000 §10.3.2). */
void pq_reset_token(const uint8_t key[32], const uint8_t *cid, size_t len,
                    uint8_t token[PQ_RESET_TOKEN_LEN]);
/* The bytes an address validation token is bound to (the remote address and port of
 * |path|) into |out| (PQ_TOKEN_MAX_ADDR_LEN); returns their length (0 if unknown). */
size_t pq_path_addr_bytes(const pq_path *path, uint8_t *out);
/* Internal: the server sets the handshake driver of the connections it creates. */
void pq_server_set_hs(pq_server *s, const pq_hs_ops *hs);

#endif
