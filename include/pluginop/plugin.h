/*
 * pluginop plugin runtime (public API, prefix `pop_`).
 *
 * Objects
 *   pop_store    shared by the connections of a process: compiles each plugin once,
 *                keyed by the SHA-256 of its bytes (loading the same bytes twice returns
 *                the same pop_plugin), and pools the import linkers handlers use.
 *                Thread-safe (an internal lock): handlers of one store may live on
 *                different threads. pop_store_del must come after every handler.
 *   pop_plugin   a compiled plugin (module + parsed op table), owned by its store.
 *   pop_handler  one per connection: the plugins attached to it (cheap instances of
 *                compiled plugins), their per-plugin environment (parameters, permissions,
 *                timers, files, two-step enabling) and the call path.
 *
 * A call of an operation runs every plugin's Before code (read-only), then the first
 * plugin's Define code or, when none defines it, the host's native code, then every
 * plugin's After code (read-only). A plugin that traps, runs out of fuel or time, or
 * asks for too much memory is disabled on that connection; the host is told which plugin,
 * which op and why (pop_callbacks.on_fault, pop_handler_last_fault) and the native
 * behaviour goes on.
 *
 * Values: pop_val and friends (pluginop/plugin_abi.h) are the same bytes in host and
 * plugin memory. See docs/PLUGIN-ABI.md.
 *
 * Errors: functions return 0 or a negative pop_status. Host functions called by plugins
 * return the negative pop_abi_err codes of plugin_abi.h to the plugin instead.
 */
#ifndef PLUGINOP_PLUGIN_H
#define PLUGINOP_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pluginop/plugin_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define POP_API __attribute__((visibility("default")))

typedef enum pop_status {
  POP_OK = 0,
  POP_ERR_ARG = -1,       /* bad argument from the host (NULL, size, unknown plugin) */
  POP_ERR_NOMEM = -2,     /* allocation failed */
  POP_ERR_IO = -3,        /* a file could not be read */
  POP_ERR_LOAD = -4,      /* the module is malformed, invalid, unlinkable, has a malformed
                             op export name or a bad export signature */
  POP_ERR_NOT_FOUND = -5, /* no such export / op / parameter */
  POP_ERR_DISABLED = -6,  /* the plugin is disabled (not yet enabled, or after a fault) */
  POP_ERR_FAULT = -7,     /* the plugin trapped or passed a limit (see pop_fault) */
  POP_ERR_OP = -8,        /* the operation returned a non-zero code (pop_call_result) */
  POP_ERR_LIMIT = -9,     /* too many plugins, inputs, outputs, or nesting too deep */
  POP_ERR_HOST = -10,     /* a host callback failed */
  POP_ERR_CRYPTO = -11,   /* hashing failed */
} pop_status;

/* Returns a static English description of a pop_status. */
POP_API const char *pop_status_message(int status);

/* ---- Operations --------------------------------------------------------------------- */

/* An operation: kind plus parameter. For POP_OP_OTHER, |name| is the export name without
 * anchor prefix (borrowed, NUL-terminated) and |param| is 0. */
typedef struct pop_op {
  pop_op_kind kind;
  uint64_t param;
  const char *name;
} pop_op;

/* Builds a pop_op (convenience, no allocation). */
static inline pop_op pop_op_make(pop_op_kind kind, uint64_t param) {
  pop_op op = {kind, param, NULL};
  return op;
}

/* Parses an export name into anchor + op, exactly as pluginop does: prefix pre_ or
 * before_ = Before, post_ or after_ = After, none = Define; kinds with a parameter take it
 * in hexadecimal after the kind's name (1 to 16 hex digits, nothing else); any other name
 * is POP_OP_OTHER with |op->name| pointing into |name| after the prefix.
 * |name| is |len| bytes (need not be NUL-terminated; for OTHER the caller must keep it).
 * Returns 0, or POP_ERR_LOAD for a malformed name (empty, only a prefix, a parameterized
 * kind without or with a bad parameter, a parameter on a kind that takes none, a NUL). */
POP_API int pop_op_parse(const char *name, size_t len, pop_anchor *anchor, pop_op *op);

/* Writes the canonical export name of |op| at |anchor| ("process_frame_10",
 * "pre_update_rtt") into |buf| (NUL-terminated). Returns the length, or POP_ERR_ARG if
 * |cap| is too small. */
POP_API int pop_op_name(pop_op op, pop_anchor anchor, char *buf, size_t cap);

/* The kind's base name ("process_frame"), or NULL for an unknown kind. */
POP_API const char *pop_op_kind_name(pop_op_kind kind);

/* True for the ops a plugin may run before it enabled itself (init, decode/write
 * transport parameter). */
POP_API bool pop_op_always_enabled(pop_op_kind kind);

/* ---- Settings and callbacks --------------------------------------------------------- */

typedef struct pop_settings {
  uint64_t fuel_per_call;      /* instructions per plugin call; default 10,000,000 */
  uint64_t timeout_ns;         /* wall clock per plugin call, 0 = none; default 0: fuel
                                  already bounds every call, and a deadline costs a clock
                                  read per call (set it when host callbacks may be slow) */
  uint32_t max_memory_pages;   /* linear memory per instance; default 16 (1 MiB) */
  uint32_t max_call_depth;     /* nested wasm calls; default 1000 */
  uint32_t max_plugins;        /* per handler; default 16, at most 32 */
  uint32_t max_timers;         /* per plugin instance; default 64 */
  uint32_t max_files;          /* open files per plugin instance; default 8 */
  uint64_t file_quota;         /* bytes a plugin may write into its folder; default 1 MiB */
  uint64_t max_put_bytes;      /* bytes one call may append through put_bytes, on top of
                                  each token's max_write; default 65,536 */
  uint32_t max_poctl_depth;    /* nested poctl calls; default 4 */
  uint64_t kernel_max_bytes;   /* Extism kernel memory per instance; default 1 MiB */
} pop_settings;

/* Fills |settings| with the defaults listed above. */
POP_API void pop_settings_default(pop_settings *settings);

/* Describes why a plugin was disabled. Strings are NUL-terminated. */
typedef struct pop_fault {
  char plugin[64];  /* the plugin's name (file name, or the name given to load_bytes) */
  char op[96];      /* the export that was running ("process_frame_10") */
  int trap;         /* pvm_trap_kind, or 0 when the runtime refused a result */
  char why[192];    /* "out of fuel", "out of bounds memory access", ... */
} pop_fault;

/* What the host implements, per connection. |conn| is the pointer given to
 * pop_handler_new. Every callback is optional (NULL): a missing field callback makes
 * every field unsupported (POP_E_FIELD), missing bytes callbacks make every token
 * unusable (POP_E_BUFFER), a missing now() uses CLOCK_MONOTONIC.
 * Field and bytes callbacks return 0 / a negative pop_abi_err (passed to the plugin). */
typedef struct pop_callbacks {
  /* Reads connection field |field| (pop_conn_field) with |param| into |out|. */
  int (*get_conn)(void *conn, uint32_t field, uint64_t param, pop_val *out);
  /* Writes it. |value| was checked to be a known pop_valtype only. */
  int (*set_conn)(void *conn, uint32_t field, uint64_t param, const pop_val *value);
  /* Same for recovery fields (pop_rec_field). */
  int (*get_rec)(void *conn, uint32_t field, uint64_t param, pop_val *out);
  int (*set_rec)(void *conn, uint32_t field, uint64_t param, const pop_val *value);
  /* Reads exactly |len| bytes from the buffer |tag| into |dst| and advances it. The
   * runtime has already checked |len| against the token's max_read. */
  int (*bytes_read)(void *conn, uint64_t tag, uint8_t *dst, size_t len);
  /* Appends |len| bytes to the buffer |tag| (checked against max_write). */
  int (*bytes_write)(void *conn, uint64_t tag, const uint8_t *src, size_t len);
  /* A plugin registers a frame / a transport parameter. */
  int (*register_frame)(void *conn, const pop_frame_reg *reg);
  int (*register_tp)(void *conn, uint64_t id);
  /* Current time in ns on the connection's clock (POP_VAL_INSTANT values use it). */
  uint64_t (*now)(void *conn);
  /* A plugin's log line (not NUL-terminated). */
  void (*log)(void *conn, const char *plugin, int level, const char *msg, size_t len);
  /* A plugin was disabled on this connection. */
  void (*on_fault)(void *conn, const pop_fault *fault);
} pop_callbacks;

/* ---- Store and plugins -------------------------------------------------------------- */

typedef struct pop_store pop_store;
typedef struct pop_plugin pop_plugin;
typedef struct pop_handler pop_handler;

/* Creates a store. |settings| may be NULL (defaults); it is copied.
 * Returns 0, POP_ERR_NOMEM. */
POP_API int pop_store_new(const pop_settings *settings, pop_store **out);

/* Frees the store and every plugin it compiled. Every handler using them must be gone.
 * NULL ok. */
POP_API void pop_store_del(pop_store *store);

/* Loads a plugin from a file: reads, hashes (SHA-256), and compiles it unless a plugin
 * with the same hash is already in the store, which is then returned. Its name is the
 * file's base name without ".wasm". |*out| is owned by the store.
 * Returns 0, POP_ERR_IO, POP_ERR_LOAD (|err| gets a message, may be NULL; 192 bytes),
 * POP_ERR_NOMEM, POP_ERR_CRYPTO. */
POP_API int pop_store_load_file(pop_store *store, const char *path, pop_plugin **out,
                                char *err, size_t err_cap);

/* Same from |len| bytes (copied as needed) with the given |name| (copied). */
POP_API int pop_store_load_bytes(pop_store *store, const char *name, const uint8_t *bytes,
                                 size_t len, pop_plugin **out, char *err, size_t err_cap);

/* Resolves an `other` op name once, for hosts that call it often: fills |op| with
 * {POP_OP_OTHER, 0, a copy of |name| owned by the store}. Calls with that op find the
 * plugins' code by comparing that pointer instead of the string (names are shared by
 * every plugin of the store, loaded before or after). The copy lives as long as the
 * store. An op built by hand with the same name still works (compared by string).
 * Thread-safe. Returns 0, POP_ERR_ARG (NULL or empty name), POP_ERR_NOMEM. */
POP_API int pop_store_other_op(pop_store *store, const char *name, pop_op *op);

POP_API const char *pop_plugin_name(const pop_plugin *plugin);
/* The SHA-256 of the plugin's bytes (32 bytes, owned by the plugin). */
POP_API const uint8_t *pop_plugin_hash(const pop_plugin *plugin);
/* Number of op entries parsed from the exports, and whether it has code for op/anchor. */
POP_API size_t pop_plugin_op_count(const pop_plugin *plugin);
POP_API bool pop_plugin_provides(const pop_plugin *plugin, pop_op op, pop_anchor anchor);

/* ---- Handlers ------------------------------------------------------------------------ */

/* Creates a handler for one connection. |callbacks| is copied (NULL = none), |conn| is
 * passed back to every callback. The store must outlive the handler.
 * Returns 0, POP_ERR_ARG, POP_ERR_NOMEM. */
POP_API int pop_handler_new(pop_store *store, const pop_callbacks *callbacks, void *conn,
                            pop_handler **out);

/* Frees the handler, its instances, timers and open files, and gives its linker back to
 * the store's pool. Not from inside a callback of this handler. NULL ok. */
POP_API void pop_handler_del(pop_handler *handler);

/* A parameter given to a plugin at attach time (copied). */
typedef struct pop_param {
  const char *key;
  const char *value;
} pop_param;

/* Options of pop_handler_attach; zero-initialize, then set what you need. */
typedef struct pop_attach_opts {
  const pop_param *params; /* key/value strings the plugin reads (get_param, config_get) */
  size_t n_params;
  uint32_t permissions;    /* pop_perm bits */
  const char *file_dir;    /* the plugin's own folder for create_file (NULL = no files);
                              must exist; the handler opens it once */
  bool enable;             /* enable at once (skip two-step loading) */
  /* Limits for this plugin alone, 0 = the store's setting (pop_settings): a host may
   * give a plugin it trusts more fuel or memory than the others, or hold one to less. */
  uint64_t fuel_per_call;
  uint64_t timeout_ns;
  uint32_t max_memory_pages;
} pop_attach_opts;

/* Instantiates |plugin| on this connection, runs its `init` (Define) if any, and returns
 * its index in the handler (call order: Before and After code runs in index order). The
 * lowest index freed by pop_handler_detach is taken first. |opts| may be NULL (no
 * params, no permission, the store's limits).
 * A plugin whose init faults is not attached.
 * Returns the index >= 0, POP_ERR_LOAD (instantiation failed), POP_ERR_FAULT (init
 * faulted: see pop_handler_last_fault), POP_ERR_LIMIT, POP_ERR_IO (file_dir), NOMEM. */
POP_API int pop_handler_attach(pop_handler *handler, pop_plugin *plugin,
                               const pop_attach_opts *opts);

/* Result of a call. */
typedef struct pop_call_result {
  size_t n_outputs;  /* outputs written by the Define (or native) code */
  int64_t op_code;   /* what it returned: 0 = success */
  int definer;       /* index of the plugin that defined the op, -1 = native code,
                        -2 = nobody (no plugin and no native function) */
  unsigned faults;   /* plugins disabled during this call */
} pop_call_result;

/* The host's own implementation of an op, run when no plugin defines it. */
typedef int64_t (*pop_native_fn)(void *arg, pop_op op, const pop_val *inputs,
                                 size_t n_inputs, pop_val *outputs, size_t max_outputs,
                                 size_t *n_outputs);

/* Calls |op|: every enabled plugin's Before, the first Define (else |native|, may be
 * NULL), every After. |inputs| (n_inputs <= POP_MAX_INPUTS) are borrowed for the call;
 * at most |max_outputs| outputs are copied to |outputs|. |res| may be NULL.
 * A faulting plugin is disabled and reported; if it was the definer the native code
 * runs instead. May be called from inside a callback (nested): plugins running at that
 * moment are skipped for Before/After and never re-entered.
 * Returns 0 (outputs valid), POP_ERR_OP (op_code != 0), POP_ERR_NOT_FOUND (nobody
 * defines the op and |native| is NULL), POP_ERR_DISABLED (the plugin defining the op is
 * running: no re-entry, nothing was run), POP_ERR_LIMIT (too many inputs, or nesting
 * deeper than max_poctl_depth), POP_ERR_ARG. */
POP_API int pop_handler_call(pop_handler *handler, pop_op op, const pop_val *inputs,
                             size_t n_inputs, pop_val *outputs, size_t max_outputs,
                             pop_native_fn native, void *native_arg, pop_call_result *res);

/* True if some enabled plugin has code for |op| (any anchor): lets a host skip the call
 * path entirely when nobody is interested. O(number of plugins). */
POP_API bool pop_handler_wants(const pop_handler *handler, pop_op op);

/* True if some enabled plugin has code for some op of |kind| (any parameter, any
 * anchor): a host's cheap first test before asking pop_handler_wants per parameter
 * (e.g. whether any plugin logs frames at all). O(number of plugins); false for a NULL
 * handler or an unknown kind. */
POP_API bool pop_handler_wants_kind(const pop_handler *handler, pop_op_kind kind);

/* The earliest pending plugin timer across plugins (host clock, ns). Returns true and
 * sets |*at| if there is one. */
POP_API bool pop_handler_next_timer(const pop_handler *handler, uint64_t *at);

/* Fires every timer due at |now|: calls on_plugin_timeout_<timer id> of its plugin.
 * Returns the number fired, or a negative pop_status. */
POP_API int pop_handler_on_timeout(pop_handler *handler, uint64_t now);

/* Plugin control from the application: calls plugin_control_<id> (Define) of the first
 * enabled plugin providing it. Same contract as pop_handler_call without native code. */
POP_API int pop_handler_poctl(pop_handler *handler, uint64_t id, const pop_val *inputs,
                              size_t n_inputs, pop_val *outputs, size_t max_outputs,
                              pop_call_result *res);

/* Enables (or disables) plugin |index| by hand. A plugin disabled by a fault cannot be
 * re-enabled. Returns 0, POP_ERR_ARG, POP_ERR_DISABLED. */
POP_API int pop_handler_set_enabled(pop_handler *handler, int index, bool enabled);
POP_API bool pop_handler_is_enabled(const pop_handler *handler, int index);
/* True if plugin |index| was disabled by a fault. */
POP_API bool pop_handler_is_faulted(const pop_handler *handler, int index);
/* Number of plugin slots (attached plugins, plus slots freed by pop_handler_detach and
 * not reused: pop_handler_is_attached tells them apart). */
POP_API size_t pop_handler_plugin_count(const pop_handler *handler);
/* True if slot |index| holds a plugin. */
POP_API bool pop_handler_is_attached(const pop_handler *handler, int index);

/* Detaches plugin |index| from this connection: its instance, timers, open files and
 * parameters are freed and none of its code runs again; the other plugins keep their
 * indices. Not while any plugin call of this handler is in progress (from a host
 * callback): the call path holds the plugin. Returns 0, POP_ERR_ARG (no such plugin),
 * POP_ERR_DISABLED (a call is in progress). */
POP_API int pop_handler_detach(pop_handler *handler, int index);

/* The last fault on this handler (NULL if none). Owned by the handler, valid until the
 * next fault or pop_handler_del. */
POP_API const pop_fault *pop_handler_last_fault(const pop_handler *handler);

/* Extism-style generic call on plugin |index|: the kernel is reset, |input| (|len| bytes,
 * copied) becomes the kernel input, export |name| (() -> i32) is called, and the output
 * is copied into |out| (|cap| bytes; |out| may be NULL when |cap| is 0). |*out_len| gets
 * the full output length, which may exceed |cap| (then only |cap| bytes are copied).
 * On a non-zero return code, the error message set by the
 * plugin (error_set) is copied into |out| instead and POP_ERR_OP is returned.
 * Returns 0, POP_ERR_OP, POP_ERR_NOT_FOUND, POP_ERR_FAULT (plugin disabled), POP_ERR_ARG. */
POP_API int pop_plugin_call_bytes(pop_handler *handler, int index, const char *name,
                                  const uint8_t *input, size_t len, uint8_t *out,
                                  size_t cap, size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif
