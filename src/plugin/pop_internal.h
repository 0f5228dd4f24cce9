/*
 * pop_internal.h: the runtime's internal structures, shared by pop_store.c (compiling
 * and analysing plugins), pop_handler.c (instances and the call path) and pop_hostapi.c
 * (the functions plugins import).
 */
#ifndef POP_INTERNAL_H
#define POP_INTERNAL_H

#define POP_MAX_PLUGINS 32
#define POP_LIKELY(x) __builtin_expect(!!(x), 1)
#define POP_UNLIKELY(x) __builtin_expect(!!(x), 0)

#include <pthread.h>
#include <string.h>

#include "pluginop/plugin.h"
#include "pluginop/vm.h"
#include "pop_fs.h"
#include "pop_kernel.h"

/* One operation a plugin has code for: the export name per anchor (NULL = none). */
typedef struct pop_op_entry {
  pop_op_kind kind;
  uint64_t param;
  char *other;         /* POP_OP_OTHER: the name without anchor prefix (owned) */
  const char *interned;/* POP_OP_OTHER: the store's copy of |other| (pop_store_other_op) */
  char *export_name[3];/* owned */
} pop_op_entry;

struct pop_plugin {
  pop_store *store;
  pop_plugin *next;
  char name[64];
  uint8_t hash[32];
  uint8_t *bytes; /* a copy: identical bytes are found by comparison, without hashing */
  size_t len;
  pvm_module *module;
  pop_op_entry *ops;
  size_t n_ops;
  bool has_anchor[3];
  uint8_t kind_anchors[POP_OP_KIND_COUNT]; /* bit a: some op of this kind has anchor a */
  uint16_t kind_start[POP_OP_KIND_COUNT + 1]; /* ops are sorted by kind */
  bool has_io;      /* exports __pop_io */
  bool uses_extism; /* imports extism:host/env */
};

/* A linker with every host function defined, whose user data is |cell|: the handler
 * using it. Linkers are pooled in the store (defining ~50 functions costs more than the
 * rest of a warm attach), handed to a handler by pop_handler_new and back by _del. */
typedef struct pop_linker_slot {
  pvm_linker *linker;
  pop_handler *cell;
  struct pop_linker_slot *next;
} pop_linker_slot;

struct pop_store {
  pthread_mutex_t lock; /* plugins and free_linkers: connections may live on threads */
  pop_settings settings;
  pop_plugin *plugins;
  pop_linker_slot *free_linkers;
  char **names;      /* interned `other` op names (owned), see pop_store_other_op */
  size_t n_names, cap_names;
};

typedef struct pop_timer {
  uint64_t at;
  uint64_t id;
  uint64_t timer_id;
  uint64_t seq; /* order of arming: timers armed while firing wait for the next round */
} pop_timer;

/* A plugin attached to a connection. */
typedef struct pop_inst {
  pop_handler *handler;
  pop_plugin *plugin;
  pvm_instance *vm;
  pvm_func **fns;       /* n_ops * 3, resolved exports (NULL = none) */
  uint32_t io_addr;     /* the I/O area in plugin memory (has_io) */
  uint8_t *const *mem_data; /* memory 0's base and size fields in the VM (has_io): */
  const uint64_t *mem_size; /* read on each call, as memory may grow and move */
  uint32_t perms;
  bool enabled;
  bool faulted;
  bool running;         /* executing now: no re-entry through poctl */
  int index;
  pop_param *params;    /* owned, strings in params_buf */
  size_t n_params;
  char *params_buf;
  pop_timer *timers;
  uint32_t n_timers;
  pop_fs fs;
  pop_kernel *kernel;   /* uses_extism only */
} pop_inst;

/* A bytes token handed to a call, with what is left of its budget. */
typedef struct pop_token {
  uint64_t tag;
  uint64_t read_left;
  uint64_t write_left;
} pop_token;

typedef struct pop_token_table {
  pop_token t[POP_MAX_INPUTS];
  uint32_t n;
  uint64_t put_left; /* settings.max_put_bytes for the whole call */
} pop_token_table;

/* The code running now (a stack through |parent| for nested poctl). */
typedef struct pop_callctx {
  pop_inst *inst;
  pop_anchor anchor;
  bool readonly;
  const pop_val *inputs;
  size_t n_inputs;
  pop_val *outputs; /* for save_output (Define only) */
  size_t max_outputs;
  size_t n_outputs;
  pop_token_table *tokens;
  struct pop_callctx *parent;
} pop_callctx;

struct pop_handler {
  pop_store *store;
  pop_callbacks cb;
  void *conn;
  pop_linker_slot *linker;
  pop_inst **insts;
  size_t n_insts;
  /* Bit i of mask[kind][anchor]: plugin i has code for that kind and anchor and is not
   * faulted. Lets a call skip every plugin that cannot be interested (at most 32). */
  uint32_t mask[POP_OP_KIND_COUNT][3];
  pop_callctx *ctx;   /* innermost running call, NULL when idle */
  uint32_t depth;     /* nested handler calls */
  uint64_t timer_seq;
  pop_fault last_fault;
  bool has_fault;
};

/* pop_hostapi.c: defines every imported function on |linker|; each gets |cell| as user
 * data and finds the running handler in *cell. */
int pop_hostapi_define(pvm_linker *linker, pop_handler **cell);

/* pop_handler.c: internal entry for poctl from a plugin (nested). */
int pop_handler_poctl_nested(pop_handler *h, uint64_t id, const pop_val *inputs,
                             size_t n_inputs, pop_val *outputs, size_t max_outputs,
                             size_t *n_outputs, int64_t *op_code);

/* Takes / gives back a pooled linker (store lock held inside). */
pop_linker_slot *pop_store_take_linker(pop_store *store);
void pop_store_give_linker(pop_store *store, pop_linker_slot *slot);

/* The entry of |op| in |p|, or NULL; its index in p->ops goes to *index. Inline: it
 * runs on every plugin call. */
static inline const pop_op_entry *pop_plugin_find(const pop_plugin *p, pop_op op,
                                                  size_t *index) {
  if ((unsigned)op.kind >= POP_OP_KIND_COUNT)
    return NULL;
  size_t i = p->kind_start[op.kind], end = p->kind_start[op.kind + 1];
  if (i == end)
    return NULL; /* also when the plugin has no ops at all (p->ops NULL) */
  const pop_op_entry *e = &p->ops[i];
  if (op.kind == POP_OP_OTHER) {
    /* An interned name (pop_store_other_op) is the store's own pointer: no strcmp. */
    for (; i < end; i++, e++)
      if (op.name == e->interned ||
          (op.name && op.name[0] == e->other[0] && strcmp(op.name, e->other) == 0))
        goto found;
    return NULL;
  }
  for (; i < end; i++, e++)
    if (e->param == op.param)
      goto found;
  return NULL;
found:
  if (index)
    *index = i;
  return e;
}

/* Current time for a handler (callback or CLOCK_MONOTONIC). */
uint64_t pop_handler_now(const pop_handler *h);

/* Records and reports a fault of |inst| while running |what| and disables it. */
void pop_inst_fault(pop_inst *inst, const char *what, int trap, const char *why);

#endif
