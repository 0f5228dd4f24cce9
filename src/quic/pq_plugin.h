/*
 * pq_plugin.h: the glue between a pq_conn and the plugin runtime (pop_handler).
 *
 * A connection made with pq_settings.plugins gets a pq_plug (c->plug): its pop_handler,
 * the pop_callbacks through which plugins read and write the connection (fields, byte
 * buffers, frame and transport parameter registrations), and the hooks the engine calls
 * at its seams. Without plugins c->plug is NULL and every seam is one NULL test.
 *
 * Seams (who calls what):
 *   frames received   process_payload -> pq_plugin_rx_frame: ParseFrame(type) and
 *                     ProcessFrame(type) when a plugin has code for them (Define replaces
 *                     the native parse/process; Before/After observe), plugin-registered
 *                     types (unknown to pq_frame) parsed and processed by their plugin;
 *   frames sent       build_packet -> pq_plugin_fill_packet, plugin frames at each
 *                     pop_send_order slot:
 *                     ShouldSendFrame -> PrepareFrame -> WireLen -> WriteFrame ->
 *                     OnFrameReserved for each registered type; a registered RFC type
 *                     (e.g. MAX_DATA) replaces the native sender of that type
 *                     of that type; NotifyFrame when the packet is acked / lost;
 *   transport params  c->tp_ext (set by pq_plugin_conn_init): WriteTransportParameter / DecodeTransportParameter
 *                     for registered ids (two-step enabling happens there);
 *   recovery          UpdateRtt (pq_recovery_callbacks.update_rtt), OnPacketSent /
 *                     Acked / Lost, OnCongestionEvent (pq_cc.event_hook);
 *   timers            plugin timers merged into pq_conn_expiry, fired by
 *                     pq_conn_handle_expiry; OnLossTimer after each
 *                     OnLossDetectionTimeout (fire_loss_timer); SetNextWakeup when
 *                     update_timers recomputed the engine's timers;
 *   frames logged     LogFrame(type) for every frame received (pq_plugin_rx_frame) and
 *                     sent (pq_plugin_log_tx, before sealing) whose type is logged;
 *   native frames     OnFrameReserved(type) for the RFC frames the engine wrote itself
 *                     (pq_plugin_log_tx, before sealing; PADDING excluded): observation.
 * A plugin fault disables that plugin on that connection (pop_handler); the native code
 * runs instead and the connection goes on.
 */
#ifndef PLUGINOP_PQ_PLUGIN_H
#define PLUGINOP_PQ_PLUGIN_H

#include "pq_conn.h"

typedef struct pq_plug pq_plug;

/* Creates c->plug from c->settings (plugin_store, plugins) and attaches the plugins
 * (their init runs now). Call once the connection's flow, recovery and congestion state
 * exist and before the local transport parameters are encoded. No-op (0) without
 * plugins. Returns 0, PQ_ERR_NOMEM, PQ_ERR_INVALID_ARG (a spec without a plugin). */
int pq_plugin_conn_init(pq_conn *c, pq_tstamp now);

/* Frees c->plug (handler, instances). NULL-safe. */
void pq_plugin_conn_free(pq_conn *c);

/* Re-installs the congestion-event hook after c->cc was re-initialised (migration). */
void pq_plugin_on_cc_init(pq_conn *c);

/* A frame at [p, p+len) of a received packet. Returns 0 when no plugin is interested
 * (the caller parses and processes natively), the frame's length once parsed and
 * processed through the plugins, or a negative status (the connection is already
 * failing through pq_conn_fail). */
ssize_t pq_plugin_rx_frame(pq_conn *c, pq_rx_ctx *ctx, const uint8_t *p, size_t len);

/* Fills the packet being built in |ctx| as build_packet's native loop does (the rows
 * of pq_conn_send_order), with the registered plugin frames at their pop_send_order
 * slots; an RFC type a plugin registered is sent by the plugin only. Returns 0 or a
 * negative fatal status. */
int pq_plugin_fill_packet(pq_conn *c, pq_tx_ctx *ctx);

/* True if a registered ack-eliciting frame's should_send says yes for a 1-RTT packet
 * now: the engine then builds a packet for it (cwnd and pacing permitting) even with
 * nothing else to send. Non-eliciting frames never trigger a packet (no cwnd bounds
 * them), they only ride along. */
bool pq_plugin_wants_send(pq_conn *c);

/* A plugin frame (PQ_RTX_PLUGIN item) was acknowledged or lost: NotifyFrame. */
void pq_plugin_rtx(pq_conn *c, const pq_rtx *r, bool lost);

/* Packet notifications (OnPacketSent / Acked / Lost) for plugins that want them. */
void pq_plugin_packet_sent(pq_conn *c, pq_pnspace s, const pq_sent_pkt *p, pq_tstamp now);
void pq_plugin_packet_acked(pq_conn *c, pq_pnspace s, const pq_sent_pkt *p, pq_tstamp now);
void pq_plugin_packet_lost(pq_conn *c, pq_pnspace s, const pq_sent_pkt *p, pq_tstamp now);

/* The earliest plugin timer (NEVER if none). */
pq_tstamp pq_plugin_next_timer(const pq_conn *c);

/* pq_conn_expiry of a connection with plugins: the engine's timers and, until it
 * closes, the plugins'. */
pq_tstamp pq_plugin_expiry(const pq_conn *c);

/* Fires the plugin timers due at |now|. */
void pq_plugin_on_expiry(pq_conn *c, pq_tstamp now);

/* The frames of a packet of space |s| about to be sealed (|payload|, |len| bytes,
 * plaintext), or of a closing packet, in packet order: for each frame the engine wrote
 * itself (not PADDING), OnFrameReserved(type) (input 0: FRAME, as for a plugin's frame;
 * an observation: the frame stays as written, a Define's return is ignored), then
 * LogFrame(type, sent) for each frame whose type a plugin logs (a run of PADDING bytes
 * is one frame). Plugin-written frames are known from pq_plugin_fill_packet (their
 * OnFrameReserved ran when they were written). Nothing is walked when no plugin has
 * code for either kind. */
void pq_plugin_log_tx(pq_conn *c, pq_pnspace s, const uint8_t *payload, size_t len,
                      pq_tstamp now);

/* OnLossDetectionTimeout just ran in space |s| (|pto|: a PTO fired, else a
 * time-threshold loss detection): OnLossTimer (inputs INSTANT now, PN_SPACE, U64
 * pto_count, BOOL pto). The engine's handler has already run and cannot be replaced;
 * returns the probes a Define asks for after a PTO (its U64 output, at most 4), 0
 * otherwise. The caller raises rec.probes[s] to it if the space can send. */
unsigned pq_plugin_loss_timer(pq_conn *c, pq_pnspace s, bool pto, pq_tstamp now);

/* The engine recomputed its timers at |now|: SetNextWakeup (inputs INSTANT engine's
 * wakeup (NEVER = UINT64_MAX), INSTANT now; a Define's INSTANT output). The connection
 * then wakes at the earlier of the two, never later than the engine's, and never
 * sooner than now + PQ_GRANULARITY (a time in the past included): pq_plugin_expiry
 * merges it until the next recomputation. */
void pq_plugin_set_wakeup(pq_conn *c, pq_tstamp now);

#endif
