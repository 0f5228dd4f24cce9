/*
 * pluginop QUIC: a sans-I/O QUIC v1 stack (RFC 9000/9001/9002), public API, prefix `pq_`.
 *
 * Status: implemented by src/quic/pq_conn.c (+ pq_conn_frames.c, pq_server.c) over
 * TLS 1.3 (GnuTLS, pq_tls). A server follows a client that changes address (path
 * validation, congestion reset for a new IP); a client does not migrate by itself.
 * Datagrams are 1200 bytes until one PMTU probe of 1452 bytes is acknowledged.
 * qlog events come out through pq_callbacks.qlog (the core writes no file).
 * Session resumption and 0-RTT: see pq_callbacks.session_ticket, pq_settings.session,
 * pq_settings.early_data and pq_conn_early_data.
 * Not yet: ECN, preferred_address. Fields may still be added to the structs below.
 *
 * The core does no I/O and reads no clock: the application hands in each received
 * datagram with its path and the current time (pq_conn_read), asks for datagrams to send
 * (pq_conn_write), asks when to wake up (pq_conn_expiry) and reports that time has come
 * (pq_conn_handle_expiry). Time is a monotonic count of nanoseconds chosen by the caller,
 * so tests run on simulated time.
 */
#ifndef PLUGINOP_QUIC_H
#define PLUGINOP_QUIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "pluginop/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PQ_API __attribute__((visibility("default")))

typedef uint64_t pq_tstamp;             /* nanoseconds, monotonic, from the application */
#define PQ_TSTAMP_NEVER UINT64_MAX

typedef struct pq_conn pq_conn;

/* Status codes: 0 or negative. Below PQ_ERR_FATAL the connection is unusable. */
typedef enum pq_status {
  PQ_OK = 0,
  PQ_ERR_NOBUF = -1,        /* output buffer too small */
  PQ_ERR_INVALID_ARG = -2,
  PQ_ERR_STREAM_STATE = -3, /* stream closed, unknown, or not writable */
  PQ_ERR_STREAM_LIMIT = -4, /* peer's stream limit reached: wait for MAX_STREAMS */
  PQ_ERR_FLOW_CONTROL = -5, /* no credit: wait */
  PQ_ERR_DROP = -6,         /* datagram dropped (undecryptable, unknown, malformed) */
  PQ_ERR_CLOSED = -7,       /* connection is closing/draining/closed */
  PQ_ERR_PROTOCOL = -8,     /* the peer violated the protocol: the connection closes
                               with a transport error (pq_conn_write sends it) */
  PQ_ERR_FATAL = -500,
  PQ_ERR_NOMEM = -501,
  PQ_ERR_TLS = -502,        /* TLS failure (alert), connection closed */
  PQ_ERR_CALLBACK = -503,   /* a callback returned an error */
} pq_status;

/* A network path: local and remote socket addresses (copied by the core). */
typedef struct pq_path {
  struct sockaddr_storage local;
  socklen_t local_len;
  struct sockaddr_storage remote;
  socklen_t remote_len;
} pq_path;

/* Cipher suites, for pq_settings.ciphers (0 = GnuTLS's default order). */
#define PQ_CIPHER_AES_128_GCM 0x1u
#define PQ_CIPHER_AES_256_GCM 0x2u
#define PQ_CIPHER_CHACHA20_POLY1305 0x4u

/* One plugin to attach to every connection made with some pq_settings (see
 * pq_settings.plugins). Zero-initialize, then set what you need. */
typedef struct pq_plugin_spec {
  pop_plugin *plugin;        /* compiled by pq_settings.plugin_store (pop_store_load_file
                                or _bytes); owned by that store */
  const pop_param *params;   /* key/value strings the plugin reads (copied at attach) */
  size_t n_params;
  uint32_t permissions;      /* pop_perm bits; 0 = POP_PERM_ALL except POP_PERM_FILE */
  const char *file_dir;      /* the plugin's folder for create_file, or NULL */
  bool enable;               /* enable at once; false = the plugin enables itself (its
                                init, or two-step: on the peer's transport parameter) */
} pq_plugin_spec;

/* Local behaviour and the transport parameters we announce. Fill with
 * pq_settings_default() then override. The core copies it. */
typedef struct pq_settings {
  uint64_t initial_max_data;                 /* default 16 MiB */
  uint64_t initial_max_stream_data_bidi_local;  /* default 1 MiB */
  uint64_t initial_max_stream_data_bidi_remote; /* default 1 MiB */
  uint64_t initial_max_stream_data_uni;      /* default 1 MiB */
  uint64_t initial_max_streams_bidi;         /* default 100 */
  uint64_t initial_max_streams_uni;          /* default 100 */
  uint64_t max_idle_timeout;                 /* ns, default 30 s; 0 = none */
  uint64_t max_ack_delay;                    /* ns, default 25 ms */
  uint32_t ack_delay_exponent;               /* default 3 */
  uint32_t max_udp_payload_size;             /* default 1452 (announced; we send 1200
                                                until a 1452-byte probe is acked) */
  uint32_t active_connection_id_limit;       /* default 4 */
  uint32_t ciphers;                          /* PQ_CIPHER_* mask, default 0 (all) */
  const char *alpn;                          /* default "h3" (borrowed) */
  const char *cc_algorithm;                  /* default "newreno"; or "cubic" (names
                                                registered in pq_cc; borrowed) */
  bool pacing;                               /* default true: token bucket at 1.25 *
                                                cwnd / smoothed_rtt */
  bool retry;                                /* server: validate client addresses with
                                                a Retry first (default false) */
  const char *keylog_file;                   /* SSLKEYLOGFILE path or NULL (borrowed) */
  const char *qlog_dir;                      /* not used by the core (which does no
                                                I/O): see pq_callbacks.qlog */
  /* Plugins (default none). Each connection gets its own pop_handler on |plugin_store|
   * with |plugins| attached in order (their init runs at connection creation; a plugin
   * whose instantiation or init fails is left out and counted in
   * pq_conn_stats.plugin_faults). Borrowed: the store must outlive every connection
   * (and server) made with these settings, and the array must stay valid as long as a
   * server may create connections from them. Plugins reach the connection through the
   * seams listed in src/quic/pq_plugin.h; without plugins the native code runs with no
   * added cost but a NULL test. */
  pop_store *plugin_store;
  const pq_plugin_spec *plugins;
  size_t n_plugins;
  /* Server: issue TLS session tickets and accept 0-RTT from clients that resume one
   * (default false). Tickets are sealed with a key made per pq_server, so they resume
   * only on the server that issued them (and its transport parameters cannot have
   * changed meanwhile, RFC 9000 §7.4.1). Anti-replay: 0-RTT data can be replayed by an
   * attacker (RFC 9001 §9.2, RFC 8446 §8). GnuTLS refuses a ClientHello seen before
   * within its time window (an in-memory table of the last 512 ClientHellos that
   * carried 0-RTT, per pq_server; not shared between processes or servers), so replays
   * to the same server are caught, but only accept 0-RTT if what the application does
   * with early stream data is safe to repeat (e.g. HTTP GET of static files). Stream
   * data from 0-RTT reaches stream_data before handshake_done. */
  bool early_data;
  /* Client: resume this session (a blob from an earlier connection's session_ticket
   * callback; borrowed during pq_conn_client_new only) and send 0-RTT when its ticket
   * allows: streams opened and written before the handshake completes go out in 0-RTT
   * packets within the limits the blob remembers. A blob that does not parse or that
   * TLS refuses is ignored (the handshake goes on without resumption, and
   * pq_conn_early_data says PQ_EARLY_BAD_SESSION; pq_session_check says why).
   * Use it only with the same server name it came from. NULL: no resumption. */
  const uint8_t *session;
  size_t session_len;
} pq_settings;

/* Fills |settings| with the defaults listed beside each field (every other field 0 /
 * false / NULL). */
PQ_API void pq_settings_default(pq_settings *settings);

/* Why a connection ended. */
typedef struct pq_close_info {
  bool by_peer;
  bool application;   /* application (0x1d) or transport (0x1c) close */
  uint64_t error_code;
  /* Valid during the callback only; "" if none. A TLS handshake failure (error_code
   * 0x100 + alert) says why in words, e.g. certificate verification failed for
   * "example.com": name mismatch (GnuTLS's status text); "no common cipher suite
   * (server allows ...)"; "no common application protocol (ALPN; ...)". Ours is also
   * sent as the CONNECTION_CLOSE's reason phrase, so by_peer closes carry the peer's.
   * The peer's bytes are unfiltered: escape them before printing. At most 255 bytes. */
  const char *reason;
  bool idle_timeout;
  bool stateless_reset;
} pq_close_info;

/* Events. All optional unless marked. Return 0, or non-zero to fail the connection
 * with PQ_ERR_CALLBACK. |user| is the pointer given at creation. Callbacks run inside
 * pq_conn_read / pq_conn_handle_expiry / pq_server_read; they may call the stream
 * functions (pq_conn_stream_write, ...) but must not delete the connection. */
typedef struct pq_callbacks {
  void (*handshake_done)(pq_conn *conn, void *user);
  /* Stream data in order; |data| is valid during the call only. The core keeps no copy:
   * flow-control credit for these bytes goes back to the peer as they are delivered.
   * Required for receivers. */
  int (*stream_data)(pq_conn *conn, int64_t stream_id, const uint8_t *data, size_t len,
                     bool fin, void *user);
  void (*stream_opened)(pq_conn *conn, int64_t stream_id, void *user); /* by the peer */
  /* Both directions are finished (data and FIN acknowledged / delivered, or reset);
   * the stream id is forgotten afterwards. |app_error| is 0 for now. */
  void (*stream_closed)(pq_conn *conn, int64_t stream_id, uint64_t app_error, void *user);
  void (*stream_reset)(pq_conn *conn, int64_t stream_id, uint64_t app_error, void *user);
  void (*stream_writable)(pq_conn *conn, int64_t stream_id, void *user); /* credit again */
  void (*streams_available)(pq_conn *conn, bool bidi, uint64_t max, void *user);
  /* Client: the server gave a NEW_TOKEN (|token| valid during the call): keep it for
   * the next connection to the same server (pq_conn_set_token) to skip its address
   * validation (RFC 9000 §8.1.3). */
  void (*new_token)(pq_conn *conn, const uint8_t *token, size_t len, void *user);
  /* Once per connection: when we start closing (pq_conn_close or an error), when the
   * peer's CONNECTION_CLOSE arrives, or when the idle timeout ends it silently. */
  void (*connection_closed)(pq_conn *conn, const pq_close_info *info, void *user);
  /* A plugin's log line (|msg| not NUL-terminated, |len| bytes; |plugin| its name). */
  void (*plugin_log)(pq_conn *conn, const char *plugin, int level, const char *msg,
                     size_t len, void *user);
  /* A plugin was disabled on this connection (trap, fuel, ...); the native code goes
   * on. |fault| is valid during the call only. */
  void (*plugin_fault)(pq_conn *conn, const pop_fault *fault, void *user);
  /* qlog (0.3, JSON-SEQ, readable by qvis): when set, the connection formats its
   * events and hands over each complete record: |record| is |len| bytes, 0x1e, one
   * JSON object, '\n' (not NUL-terminated, valid during the call only); append them
   * to a file in order to get a .sqlog. The first record is the header (vantage point,
   * ODCID, times in ms relative to the connection's creation), then
   * transport:parameters_set, packet_sent / packet_received with their frames,
   * recovery:packet_lost, metrics_updated, congestion_state_updated and
   * connectivity:connection_state_updated. Records start with the first
   * pq_conn_read / pq_conn_write (for a server connection: inside pq_server_read).
   * Must not call into the connection. Unset: no cost but a NULL test per event. */
  void (*qlog)(pq_conn *conn, const char *record, size_t len, void *user);
  /* Client: the server sent a session ticket (TLS NewSessionTicket, after the
   * handshake; possibly more than one per connection, keep the last). |blob| / |len|
   * (valid during the call only; copy it, e.g. to a file) is a versioned serialization
   * of the ticket and of the server's transport parameters that bound 0-RTT; give it to
   * pq_settings.session of a later connection to the same server. Setting this
   * callback is what makes a client accept tickets. */
  void (*session_ticket)(pq_conn *conn, const uint8_t *blob, size_t len, void *user);
} pq_callbacks;

/* Creates a client connection to |server_name| (SNI and certificate check) on |path|.
 * An IPv4/IPv6 literal ("127.0.0.1", "::1", no brackets) is not sent as SNI (RFC 6066)
 * and is checked against the certificate's iPAddress subjectAltNames.
 * |ca_file| is the trust anchor (NULL: system store); |insecure| skips verification.
 * |settings| and |path| are copied. The connection's first datagrams come from
 * pq_conn_write. Free with pq_conn_del. Returns 0, PQ_ERR_INVALID_ARG (bad settings,
 * unknown cc_algorithm), PQ_ERR_NOMEM or PQ_ERR_TLS (TLS setup failed). */
PQ_API int pq_conn_client_new(pq_conn **out, const pq_settings *settings,
                              const pq_callbacks *callbacks, const pq_path *path,
                              const char *server_name, const char *ca_file, bool insecure,
                              void *user, pq_tstamp now);

/* Server side: certificate and key in PEM files (loaded once, shared by every
 * connection). A server connection is created from the first client Initial that
 * authenticates (pq_server_read). The server owns its connections: do not pq_conn_del
 * them; pq_server_reap frees the closed ones, pq_server_del all of them.
 * Returns 0, PQ_ERR_INVALID_ARG, PQ_ERR_NOMEM or PQ_ERR_TLS (certificate or key). */
typedef struct pq_server pq_server;
PQ_API int pq_server_new(pq_server **out, const pq_settings *settings,
                         const pq_callbacks *callbacks, const char *cert_file,
                         const char *key_file, void *user);
PQ_API void pq_server_del(pq_server *server);
/* Routes a datagram to its connection by destination connection ID (creating one for
 * a new v1 Initial in a datagram of at least 1200 bytes). *conn_out is the connection
 * it went to, or NULL (no connection: forged or corrupted Initial, or a stateless
 * answer was queued for pq_server_write). Returns what pq_conn_read returns, or
 * PQ_ERR_DROP. */
PQ_API int pq_server_read(pq_server *server, const pq_path *path, const uint8_t *data,
                          size_t len, pq_tstamp now, pq_conn **conn_out);
/* The next stateless answer to send (Version Negotiation for an unknown version,
 * Stateless Reset for a short header packet of an unknown connection), its path in
 * |path_out|. Call after pq_server_read until it returns 0. Returns bytes written, 0,
 * PQ_ERR_INVALID_ARG or PQ_ERR_NOBUF (|len| too small; the answer stays queued). */
PQ_API ssize_t pq_server_write(pq_server *server, pq_path *path_out, uint8_t *buf,
                               size_t len);
/* Frees the server's connections that pq_conn_is_closed; returns how many. Pointers
 * to them become invalid. */
PQ_API size_t pq_server_reap(pq_server *server);

PQ_API void pq_conn_del(pq_conn *conn);

/* Client, before the first pq_conn_write: a token from an earlier connection's
 * new_token callback (copied) to send in our Initials. Returns 0, PQ_ERR_INVALID_ARG
 * (server, empty or too long, Initials already sent). */
PQ_API int pq_conn_set_token(pq_conn *conn, const uint8_t *token, size_t len);

/* Processes one received datagram (|data| borrowed; |path|, the addresses it came
 * with, may be NULL: a server connection follows the client to a new remote address).
 * Returns 0,
 * PQ_ERR_DROP (nothing usable in it, harmless), PQ_ERR_CLOSED (draining or closed),
 * PQ_ERR_PROTOCOL (the peer broke the protocol: closing, pq_conn_write sends the
 * CONNECTION_CLOSE) or a fatal error (also closing). */
PQ_API int pq_conn_read(pq_conn *conn, const pq_path *path, const uint8_t *data, size_t len,
                        pq_tstamp now);

/* Writes the next datagram to send into |buf| (|len| >= 1200), its path in |path_out|
 * (may be NULL). Call until it returns 0. Returns bytes written, 0 when nothing may be
 * sent now (see pq_conn_expiry), or a negative error. */
PQ_API ssize_t pq_conn_write(pq_conn *conn, pq_path *path_out, uint8_t *buf, size_t len,
                             pq_tstamp now);

/* When the connection next needs pq_conn_handle_expiry (PQ_TSTAMP_NEVER: no timer):
 * the earliest of loss detection/PTO, delayed ACK, pacing, idle and draining timers. */
PQ_API pq_tstamp pq_conn_expiry(const pq_conn *conn);
PQ_API int pq_conn_handle_expiry(pq_conn *conn, pq_tstamp now);

/* Streams. Opening needs the peer's transport parameters (after handshake_done, or
 * at once on a client whose pq_conn_early_data is PQ_EARLY_OFFERED: the remembered
 * ones, data going in 0-RTT) and its stream limit: PQ_ERR_STREAM_LIMIT means wait for
 * streams_available (or for handshake_done). */
PQ_API int pq_conn_open_stream(pq_conn *conn, bool bidi, int64_t *stream_id);
/* Queues up to |len| bytes (copied); returns bytes accepted (may be fewer, even 0, when
 * the stream's send buffer is full) or a negative error. |fin| applies only if all bytes
 * were accepted. */
PQ_API ssize_t pq_conn_stream_write(pq_conn *conn, int64_t stream_id, const uint8_t *data,
                                    size_t len, bool fin);
/* Abandons sending (RESET_STREAM with |app_error|) / asks the peer to stop sending
 * (STOP_SENDING). Returns 0 or PQ_ERR_STREAM_STATE. */
PQ_API int pq_conn_stream_reset(pq_conn *conn, int64_t stream_id, uint64_t app_error);
PQ_API int pq_conn_stream_stop_sending(pq_conn *conn, int64_t stream_id, uint64_t app_error);

/* Starts an application close (|reason| copied, up to 255 bytes); the CONNECTION_CLOSE
 * goes out with pq_conn_write, the connection drains for three PTOs, then
 * pq_conn_is_closed. Returns 0 or PQ_ERR_CLOSED (already closing). */
PQ_API int pq_conn_close(pq_conn *conn, uint64_t app_error, const char *reason, pq_tstamp now);
/* Starts a 1-RTT key update (RFC 9001 §6); the peer follows. Returns 0, PQ_ERR_CLOSED,
 * or PQ_ERR_INVALID_ARG when not allowed yet (handshake not confirmed, or no packet
 * of the current key phase acknowledged). Updates started by the peer need nothing. */
PQ_API int pq_conn_update_key(pq_conn *conn, pq_tstamp now);
PQ_API bool pq_conn_is_established(const pq_conn *conn);
PQ_API bool pq_conn_is_closed(const pq_conn *conn); /* draining over: delete it */
/* The connection's original destination connection ID (the client's first DCID, the
 * same on both sides: qlog's ODCID, a name for its file) into |out| (|cap| bytes, 20
 * are enough). Returns its length, or 0 if |cap| is too small. */
PQ_API size_t pq_conn_odcid(const pq_conn *conn, uint8_t *out, size_t cap);

/* 0-RTT (RFC 9001 §4.6) as seen by one side of a connection. */
typedef enum pq_early_data {
  PQ_EARLY_NONE = 0,     /* client: no session given; server: no 0-RTT accepted */
  PQ_EARLY_BAD_SESSION,  /* client: pq_settings.session was malformed or TLS refused
                            it: full handshake, no 0-RTT */
  PQ_EARLY_NOT_OFFERED,  /* client: resuming, but the ticket does not allow 0-RTT */
  PQ_EARLY_OFFERED,      /* client: 0-RTT is being sent, the server has not answered */
  PQ_EARLY_ACCEPTED,     /* the server accepted 0-RTT: its data was delivered */
  PQ_EARLY_REJECTED,     /* client: the server refused 0-RTT (or did not resume); what
                            was sent in 0-RTT is sent again in 1-RTT packets, with the
                            limits of the new transport parameters */
} pq_early_data;

/* Where 0-RTT stands on |conn| (final once handshake_done was called). On a client,
 * PQ_EARLY_OFFERED right after pq_conn_client_new means streams may be opened and
 * written at once (they go in 0-RTT). A client that opened more streams or sent more
 * data in 0-RTT than a rejecting server's new parameters allow closes with
 * INTERNAL_ERROR (cannot happen with pluginop servers: tickets do not outlive them). */
PQ_API pq_early_data pq_conn_early_data(const pq_conn *conn);
/* A static lower-case name for |e| ("accepted", ...). */
PQ_API const char *pq_early_data_str(pq_early_data e);

/* Checks a session blob (pq_callbacks.session_ticket) before use: 0, or
 * PQ_ERR_INVALID_ARG with *why (if not NULL) set to a static explanation (bad magic,
 * unsupported version, truncated, trailing bytes, ...). The blob is only read. */
PQ_API int pq_session_check(const uint8_t *blob, size_t len, const char **why);

/* Counters and estimates, for summaries and tests. */
typedef struct pq_conn_stats {
  uint64_t bytes_sent, bytes_received, packets_sent, packets_received, packets_lost;
  uint64_t smoothed_rtt, rttvar, min_rtt, latest_rtt; /* ns */
  uint64_t cwnd, bytes_in_flight;
  uint64_t plugin_calls;   /* plugin operations called (pop_handler_call) */
  uint64_t plugin_faults;  /* plugins disabled by a fault, or left out at attach */
  uint64_t packets_0rtt;   /* 0-RTT packets sent (client) / received and processed
                              (server) */
} pq_conn_stats;
PQ_API void pq_conn_get_stats(const pq_conn *conn, pq_conn_stats *stats);

/* The connection's plugin handler (NULL without plugins), e.g. for pop_handler_poctl
 * from the application. Owned by the connection: do not delete it. */
PQ_API pop_handler *pq_conn_plugin_handler(pq_conn *conn);

#ifdef __cplusplus
}
#endif
#endif
