/*
 * pop_store.c: settings, status messages, and the store that compiles each plugin once
 * (keyed by the SHA-256 of its bytes) and sorts its exports into protocol operations.
 */
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop_internal.h"

void pop_settings_default(pop_settings *s) {
  memset(s, 0, sizeof *s);
  s->fuel_per_call = 10000000;
  s->timeout_ns = 0;
  s->max_memory_pages = 16;
  s->max_call_depth = 1000;
  s->max_plugins = 16;
  s->max_timers = 64;
  s->max_files = 8;
  s->file_quota = 1 << 20;
  s->max_put_bytes = 65536;
  s->max_poctl_depth = 4;
  s->kernel_max_bytes = 1 << 20;
}

const char *pop_status_message(int status) {
  switch (status) {
  case POP_OK: return "ok";
  case POP_ERR_ARG: return "bad argument";
  case POP_ERR_NOMEM: return "out of memory";
  case POP_ERR_IO: return "cannot read the plugin";
  case POP_ERR_LOAD: return "plugin cannot be loaded";
  case POP_ERR_NOT_FOUND: return "not found";
  case POP_ERR_DISABLED: return "plugin disabled";
  case POP_ERR_FAULT: return "plugin fault";
  case POP_ERR_OP: return "operation returned an error";
  case POP_ERR_LIMIT: return "limit reached";
  case POP_ERR_HOST: return "host callback failed";
  case POP_ERR_CRYPTO: return "hashing failed";
  default: return "unknown status";
  }
}

int pop_store_new(const pop_settings *settings, pop_store **out) {
  if (!out)
    return POP_ERR_ARG;
  pop_store *s = calloc(1, sizeof *s);
  if (!s)
    return POP_ERR_NOMEM;
  if (settings)
    s->settings = *settings;
  else
    pop_settings_default(&s->settings);
  if (pthread_mutex_init(&s->lock, NULL) != 0) {
    free(s);
    return POP_ERR_NOMEM;
  }
  *out = s;
  return 0;
}

static void plugin_del(pop_plugin *p) {
  for (size_t i = 0; i < p->n_ops; i++) {
    free(p->ops[i].other);
    for (int a = 0; a < 3; a++)
      free(p->ops[i].export_name[a]);
  }
  free(p->ops);
  free(p->bytes);
  pvm_module_del(p->module);
  free(p);
}

void pop_store_del(pop_store *store) {
  if (!store)
    return;
  for (pop_plugin *p = store->plugins, *n; p; p = n) {
    n = p->next;
    plugin_del(p);
  }
  for (pop_linker_slot *l = store->free_linkers, *n; l; l = n) {
    n = l->next;
    pvm_linker_del(l->linker);
    free(l);
  }
  for (size_t i = 0; i < store->n_names; i++)
    free(store->names[i]);
  free(store->names);
  pthread_mutex_destroy(&store->lock);
  free(store);
}

static void set_err(char *err, size_t cap, const char *fmt, ...) {
  if (!err || cap == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, cap, fmt, ap);
  va_end(ap);
}

static char *strndup_name(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, s, n);
    d[n] = 0;
  }
  return d;
}

static bool is_type(const pvm_functype *t, int np, uint8_t p, int nr, uint8_t r) {
  return t->nparams == (uint32_t)np && t->nresults == (uint32_t)nr &&
         (np == 0 || t->params[0] == p) && (nr == 0 || t->results[0] == r);
}

/* Adds export |name| as code for (op, anchor). */
static int add_op(pop_plugin *p, pop_op op, pop_anchor anchor, const char *name, size_t len,
                  char *err, size_t cap) {
  pop_op_entry *e = NULL;
  for (size_t i = 0; i < p->n_ops && !e; i++)
    if (p->ops[i].kind == op.kind && p->ops[i].param == op.param &&
        (op.kind != POP_OP_OTHER ||
         (strlen(p->ops[i].other) == len - (size_t)(op.name - name) &&
          memcmp(p->ops[i].other, op.name, len - (size_t)(op.name - name)) == 0)))
      e = &p->ops[i];
  if (!e) {
    pop_op_entry *ops = realloc(p->ops, (p->n_ops + 1) * sizeof *ops);
    if (!ops)
      return POP_ERR_NOMEM;
    p->ops = ops;
    e = &ops[p->n_ops++];
    memset(e, 0, sizeof *e);
    e->kind = op.kind;
    e->param = op.param;
    if (op.kind == POP_OP_OTHER) {
      size_t olen = len - (size_t)(op.name - name);
      if (!(e->other = strndup_name(op.name, olen)))
        return POP_ERR_NOMEM;
    }
  }
  if (e->export_name[anchor]) {
    set_err(err, cap, "export '%.*s': the same op and anchor as '%s'", (int)len, name,
            e->export_name[anchor]);
    return POP_ERR_LOAD;
  }
  if (!(e->export_name[anchor] = strndup_name(name, len)))
    return POP_ERR_NOMEM;
  p->has_anchor[anchor] = true;
  p->kind_anchors[op.kind] |= (uint8_t)(1u << anchor);
  return 0;
}

static int cmp_kind(const void *a, const void *b) {
  const pop_op_entry *x = a, *y = b;
  return x->kind < y->kind ? -1 : x->kind > y->kind;
}

/* Sorts the ops by kind and indexes where each kind starts. */
static void index_ops(pop_plugin *p) {
  if (p->n_ops)
    qsort(p->ops, p->n_ops, sizeof *p->ops, cmp_kind);
  size_t i = 0;
  for (int k = 0; k <= POP_OP_KIND_COUNT; k++) {
    while (i < p->n_ops && (int)p->ops[i].kind < k)
      i++;
    p->kind_start[k] = (uint16_t)i;
  }
}

/* Sorts the module's exports into ops and checks its imports. */
static int analyse(pop_plugin *p, char *err, size_t cap) {
  uint32_t ni = pvm_module_import_count(p->module);
  for (uint32_t i = 0; i < ni; i++) {
    pvm_extern_desc d;
    if (pvm_module_import(p->module, i, &d) != 0)
      return POP_ERR_LOAD;
    bool ours = d.module.len == strlen(POP_IMPORT_MODULE) &&
                memcmp(d.module.ptr, POP_IMPORT_MODULE, d.module.len) == 0;
    bool extism = d.module.len == strlen(POP_EXTISM_MODULE) &&
                  memcmp(d.module.ptr, POP_EXTISM_MODULE, d.module.len) == 0;
    if ((!ours && !extism) || d.kind != PVM_EXTERN_FUNC) {
      set_err(err, cap, "import %.*s.%.*s: only functions of \"%s\" and \"%s\" exist",
              (int)d.module.len, d.module.ptr, (int)d.name.len, d.name.ptr,
              POP_IMPORT_MODULE, POP_EXTISM_MODULE);
      return POP_ERR_LOAD;
    }
    p->uses_extism |= extism;
  }
  uint32_t ne = pvm_module_export_count(p->module);
  for (uint32_t i = 0; i < ne; i++) {
    pvm_extern_desc d;
    if (pvm_module_export(p->module, i, &d) != 0)
      return POP_ERR_LOAD;
    if (d.kind != PVM_EXTERN_FUNC)
      continue;
    const char *name = d.name.ptr;
    size_t len = d.name.len;
    if (len == 8 && memcmp(name, "__pop_io", 8) == 0) {
      if (!is_type(&d.func, 0, 0, 1, PVM_I32)) {
        set_err(err, cap, "export __pop_io must be () -> i32");
        return POP_ERR_LOAD;
      }
      p->has_io = true;
      continue;
    }
    if (len > 0 && name[0] == '_')
      continue; /* reserved: _initialize, _start, __data_end, ... */
    pop_anchor anchor;
    pop_op op;
    if (pop_op_parse(name, len, &anchor, &op) != 0) {
      set_err(err, cap, "export '%.*s': malformed operation name", (int)len, name);
      return POP_ERR_LOAD;
    }
    bool op_type = is_type(&d.func, 1, PVM_I32, 1, PVM_I64);
    if (!op_type) {
      if (op.kind == POP_OP_OTHER)
        continue; /* an Extism-style function or a helper: not an op */
      set_err(err, cap, "export '%.*s': operations must be (i32) -> i64", (int)len, name);
      return POP_ERR_LOAD;
    }
    if (p->n_ops >= UINT16_MAX) {
      set_err(err, cap, "too many operation exports");
      return POP_ERR_LOAD;
    }
    int rv = add_op(p, op, anchor, name, len, err, cap);
    if (rv)
      return rv;
  }
  index_ops(p);
  return 0;
}

/* The store's copy of `other` op name |name| (added if new), or NULL without memory.
 * Lock held. A linear search: it runs at load and when a host resolves a name. */
static const char *intern_locked(pop_store *store, const char *name) {
  for (size_t i = 0; i < store->n_names; i++)
    if (strcmp(store->names[i], name) == 0)
      return store->names[i];
  if (store->n_names == store->cap_names) {
    size_t cap = store->cap_names ? store->cap_names * 2 : 16;
    char **names = realloc(store->names, cap * sizeof *names);
    if (!names)
      return NULL;
    store->names = names;
    store->cap_names = cap;
  }
  char *copy = strdup(name);
  if (copy)
    store->names[store->n_names++] = copy;
  return copy;
}

int pop_store_other_op(pop_store *store, const char *name, pop_op *op) {
  if (!store || !name || !name[0] || !op)
    return POP_ERR_ARG;
  pthread_mutex_lock(&store->lock);
  const char *interned = intern_locked(store, name);
  pthread_mutex_unlock(&store->lock);
  if (!interned)
    return POP_ERR_NOMEM;
  op->kind = POP_OP_OTHER;
  op->param = 0;
  op->name = interned;
  return 0;
}

static int load_locked(pop_store *store, const char *name, const uint8_t *bytes, size_t len,
                       pop_plugin **out, char *err, size_t err_cap) {
  /* Identical bytes have the identical hash: a comparison is cheaper than SHA-256. */
  for (pop_plugin *p = store->plugins; p; p = p->next)
    if (p->len == len && memcmp(p->bytes, bytes, len) == 0) {
      *out = p;
      return 0;
    }
  uint8_t hash[32];
  if (gnutls_hash_fast(GNUTLS_DIG_SHA256, bytes, len, hash) != 0) {
    set_err(err, err_cap, "SHA-256 failed");
    return POP_ERR_CRYPTO;
  }
  for (pop_plugin *p = store->plugins; p; p = p->next)
    if (memcmp(p->hash, hash, 32) == 0) {
      *out = p;
      return 0;
    }
  pop_plugin *p = calloc(1, sizeof *p);
  if (!p)
    return POP_ERR_NOMEM;
  p->store = store;
  snprintf(p->name, sizeof p->name, "%s", name);
  memcpy(p->hash, hash, 32);
  if (!(p->bytes = malloc(len ? len : 1))) {
    free(p);
    return POP_ERR_NOMEM;
  }
  memcpy(p->bytes, bytes, len);
  p->len = len;
  pvm_error perr;
  int rv = pvm_module_new(bytes, len, &p->module, &perr);
  if (rv != 0) {
    set_err(err, err_cap, "%s: %s", p->name, perr.msg);
    free(p->bytes);
    free(p);
    return rv == PVM_ERR_NOMEM ? POP_ERR_NOMEM : POP_ERR_LOAD;
  }
  char why[160] = "";
  rv = analyse(p, why, sizeof why);
  for (size_t i = 0; rv == 0 && i < p->n_ops; i++) {
    pop_op_entry *e = &p->ops[i];
    if (e->kind == POP_OP_OTHER && !(e->interned = intern_locked(store, e->other))) {
      snprintf(why, sizeof why, "out of memory");
      rv = POP_ERR_NOMEM;
    }
  }
  if (rv != 0) {
    set_err(err, err_cap, "%s: %s", p->name, why);
    plugin_del(p);
    return rv;
  }
  p->next = store->plugins;
  store->plugins = p;
  *out = p;
  return 0;
}

int pop_store_load_bytes(pop_store *store, const char *name, const uint8_t *bytes,
                         size_t len, pop_plugin **out, char *err, size_t err_cap) {
  if (!store || !bytes || !out || !name)
    return POP_ERR_ARG;
  pthread_mutex_lock(&store->lock);
  int rv = load_locked(store, name, bytes, len, out, err, err_cap);
  pthread_mutex_unlock(&store->lock);
  return rv;
}

pop_linker_slot *pop_store_take_linker(pop_store *store) {
  pthread_mutex_lock(&store->lock);
  pop_linker_slot *slot = store->free_linkers;
  if (slot)
    store->free_linkers = slot->next;
  pthread_mutex_unlock(&store->lock);
  if (slot)
    return slot;
  slot = calloc(1, sizeof *slot);
  if (!slot)
    return NULL;
  if (pvm_linker_new(&slot->linker) != 0 || pop_hostapi_define(slot->linker, &slot->cell) != 0) {
    pvm_linker_del(slot->linker);
    free(slot);
    return NULL;
  }
  return slot;
}

void pop_store_give_linker(pop_store *store, pop_linker_slot *slot) {
  slot->cell = NULL;
  pthread_mutex_lock(&store->lock);
  slot->next = store->free_linkers;
  store->free_linkers = slot;
  pthread_mutex_unlock(&store->lock);
}

int pop_store_load_file(pop_store *store, const char *path, pop_plugin **out, char *err,
                        size_t err_cap) {
  if (!store || !path || !out)
    return POP_ERR_ARG;
  FILE *f = fopen(path, "rb");
  if (!f) {
    set_err(err, err_cap, "%s: %s", path, strerror(errno));
    return POP_ERR_IO;
  }
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      size_t ncap = cap ? cap * 2 : 65536;
      uint8_t *nb = realloc(buf, ncap);
      if (!nb) {
        free(buf);
        fclose(f);
        return POP_ERR_NOMEM;
      }
      buf = nb;
      cap = ncap;
    }
    size_t n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (n == 0)
      break;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    set_err(err, err_cap, "%s: read error", path);
    return POP_ERR_IO;
  }
  /* The plugin's name: the file's base name without ".wasm". */
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  char name[64];
  snprintf(name, sizeof name, "%s", base);
  size_t nl = strlen(name);
  if (nl > 5 && strcmp(name + nl - 5, ".wasm") == 0)
    name[nl - 5] = 0;
  int rv = pop_store_load_bytes(store, name, buf, len, out, err, err_cap);
  free(buf);
  return rv;
}

const char *pop_plugin_name(const pop_plugin *p) { return p ? p->name : NULL; }
const uint8_t *pop_plugin_hash(const pop_plugin *p) { return p ? p->hash : NULL; }
size_t pop_plugin_op_count(const pop_plugin *p) { return p ? p->n_ops : 0; }

bool pop_plugin_provides(const pop_plugin *p, pop_op op, pop_anchor anchor) {
  if (!p || (unsigned)anchor > POP_ANCHOR_AFTER)
    return false;
  const pop_op_entry *e = pop_plugin_find(p, op, NULL);
  return e && e->export_name[anchor];
}
