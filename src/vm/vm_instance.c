/*
 * vm_instance.c: modules (decode + validate + compile, refcounted), the linker,
 * instantiation (imports, memories, tables, globals, segments, start), pvm_call and the
 * limits.
 *
 * Instantiation makes one allocation for the instance and its small arrays (function,
 * global and table objects and index spaces, segment states); memory, table elements
 * and the value/frame stacks are separate blocks because they grow or are large.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "vm_fast.h"
#include "vm_internal.h"

/* ---- limits ------------------------------------------------------------------------ */

void pvm_limits_default(pvm_limits *limits) {
  limits->max_memory_pages = VM_MAX_PAGES;
  limits->max_table_elems = 10000000u;
  limits->max_call_depth = 10000u;
  limits->fuel = PVM_FUEL_UNLIMITED;
  limits->timeout_ns = 0;
}

/* ---- modules ----------------------------------------------------------------------- */

static void module_free(pvm_module *pm) {
  vm_module_free(&pm->m);
  free(pm->code);
  free(pm->codes);
  free(pm->ftypes);
  free(pm);
}

int pvm_module_new(const uint8_t *bytes, size_t len, pvm_module **out, pvm_error *err) {
  if (!out || (!bytes && len)) return vm_error_set(err, PVM_ERR_ARG, -1, "bad argument");
  *out = NULL;
  pvm_module *pm = calloc(1, sizeof *pm);
  if (!pm) return vm_error_set(err, PVM_ERR_NOMEM, -1, "out of memory");
  atomic_init(&pm->refs, 1);
  int rc = vm_decode(bytes, len, &pm->m, err);
  if (rc) {
    free(pm);
    return rc;
  }
  rc = vm_validate(&pm->m, err);
  if (rc) {
    module_free(pm);
    return rc;
  }
  pm->ftypes = calloc(pm->m.ntypes ? pm->m.ntypes : 1, sizeof *pm->ftypes);
  if (!pm->ftypes) {
    module_free(pm);
    return vm_error_set(err, PVM_ERR_NOMEM, -1, "out of memory");
  }
  for (uint32_t i = 0; i < pm->m.ntypes; i++) {
    const vm_functype *t = &pm->m.types[i];
    pm->ftypes[i] = (pvm_functype){t->nparams, t->nresults, t->types, t->types + t->nparams};
  }
  rc = vm_compile(pm, err);
  if (rc) {
    module_free(pm);
    return rc;
  }
  *out = pm;
  return 0;
}

void pvm_module_del(pvm_module *module) {
  if (module && atomic_fetch_sub(&module->refs, 1) == 1) module_free(module);
}

uint32_t pvm_module_import_count(const pvm_module *module) { return module->m.nimports; }
uint32_t pvm_module_export_count(const pvm_module *module) { return module->m.nexports; }

static pvm_functype functype_view(const vm_functype *t) {
  return (pvm_functype){t->nparams, t->nresults, t->types, t->types + t->nparams};
}

/* The import declaring item |idx| of |kind|, or NULL if it is defined by the module. */
static const vm_import *import_of(const vm_module *m, pvm_extern_kind kind, uint32_t idx) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < m->nimports; i++) {
    if (m->imports[i].kind != kind) continue;
    if (n++ == idx) return &m->imports[i];
  }
  return NULL;
}

static void describe(const vm_module *m, pvm_extern_kind kind, uint32_t idx,
                     pvm_extern_desc *out) {
  const vm_import *im = import_of(m, kind, idx);
  out->kind = kind;
  switch (kind) {
  case PVM_EXTERN_FUNC:
    out->func = functype_view(vm_module_func_type(m, idx));
    break;
  case PVM_EXTERN_TABLE: {
    const vm_table_type *t = im ? &im->u.table : &m->tables[idx - m->ntable_imports];
    out->elem_type = t->elem_type;
    out->limits = t->limits;
    break;
  }
  case PVM_EXTERN_MEMORY:
    out->limits = im ? im->u.mem : m->mems[idx - m->nmem_imports];
    break;
  case PVM_EXTERN_GLOBAL: {
    const vm_global_type *g = im ? &im->u.global : &m->globals[idx - m->nglobal_imports].type;
    out->global_type = g->type;
    out->global_mutable = g->mutable_;
    break;
  }
  }
}

int pvm_module_import(const pvm_module *module, uint32_t i, pvm_extern_desc *out) {
  if (!module || !out || i >= module->m.nimports) return PVM_ERR_ARG;
  const vm_module *m = &module->m;
  memset(out, 0, sizeof *out);
  const vm_import *im = &m->imports[i];
  uint32_t idx = 0; /* index of this import in its kind's index space */
  for (uint32_t j = 0; j < i; j++)
    if (m->imports[j].kind == im->kind) idx++;
  describe(m, im->kind, idx, out);
  out->module = im->module;
  out->name = im->name;
  return 0;
}

int pvm_module_export(const pvm_module *module, uint32_t i, pvm_extern_desc *out) {
  if (!module || !out || i >= module->m.nexports) return PVM_ERR_ARG;
  memset(out, 0, sizeof *out);
  const vm_export *ex = &module->m.exports[i];
  describe(&module->m, ex->kind, ex->index, out);
  out->name = ex->name;
  return 0;
}

/* ---- linker ------------------------------------------------------------------------ */

typedef struct vm_link {
  char *module;
  char *name;             /* NULL for an instance entry */
  pvm_instance *instance; /* instance entry */
  uint8_t *types;         /* host function: params then results (owned) */
  uint32_t nparams, nresults;
  pvm_host_fn fn;
  void *user_data;
} vm_link;

struct pvm_linker {
  vm_link *links;
  uint32_t n, cap;
};

int pvm_linker_new(pvm_linker **out) {
  if (!out) return PVM_ERR_ARG;
  *out = calloc(1, sizeof **out);
  return *out ? 0 : PVM_ERR_NOMEM;
}

void pvm_linker_del(pvm_linker *linker) {
  if (!linker) return;
  for (uint32_t i = 0; i < linker->n; i++) {
    free(linker->links[i].module);
    free(linker->links[i].name);
    free(linker->links[i].types);
  }
  free(linker->links);
  free(linker);
}

static vm_link *linker_add(pvm_linker *l) {
  if (l->n == l->cap) {
    uint32_t ncap = l->cap ? l->cap * 2 : 8;
    vm_link *n = realloc(l->links, ncap * sizeof *n);
    if (!n) return NULL;
    l->links = n;
    l->cap = ncap;
  }
  vm_link *e = &l->links[l->n];
  memset(e, 0, sizeof *e);
  return e;
}

static bool valid_valtype(uint8_t t) {
  return t == PVM_I32 || t == PVM_I64 || t == PVM_F32 || t == PVM_F64 || t == PVM_FUNCREF ||
         t == PVM_EXTERNREF;
}

int pvm_linker_define_func(pvm_linker *linker, const char *module, const char *name,
                           const uint8_t *params, uint32_t nparams, const uint8_t *results,
                           uint32_t nresults, pvm_host_fn fn, void *user_data) {
  if (!linker || !module || !name || !fn || (nparams && !params) || (nresults && !results) ||
      nparams > 1000 || nresults > 1000)
    return PVM_ERR_ARG;
  for (uint32_t i = 0; i < nparams; i++)
    if (!valid_valtype(params[i])) return PVM_ERR_ARG;
  for (uint32_t i = 0; i < nresults; i++)
    if (!valid_valtype(results[i])) return PVM_ERR_ARG;
  vm_link *e = linker_add(linker);
  if (!e) return PVM_ERR_NOMEM;
  e->module = strdup(module);
  e->name = strdup(name);
  e->types = malloc((size_t)nparams + nresults + 1);
  if (!e->module || !e->name || !e->types) {
    free(e->module);
    free(e->name);
    free(e->types);
    return PVM_ERR_NOMEM;
  }
  if (nparams) memcpy(e->types, params, nparams);
  if (nresults) memcpy(e->types + nparams, results, nresults);
  e->nparams = nparams;
  e->nresults = nresults;
  e->fn = fn;
  e->user_data = user_data;
  linker->n++;
  return 0;
}

int pvm_linker_define_instance(pvm_linker *linker, const char *module_name,
                               pvm_instance *instance) {
  if (!linker || !module_name || !instance) return PVM_ERR_ARG;
  vm_link *e = linker_add(linker);
  if (!e) return PVM_ERR_NOMEM;
  e->module = strdup(module_name);
  if (!e->module) return PVM_ERR_NOMEM;
  e->instance = instance;
  linker->n++;
  return 0;
}

static bool name_eq(const char *s, pvm_name n) {
  return strlen(s) == n.len && memcmp(s, n.ptr, n.len) == 0;
}

/* Resolution of one import: a host function definition or an extern of an instance. */
typedef struct resolved {
  const vm_link *host;
  pvm_extern ext;
} resolved;

/* Latest definitions win. Returns false if nothing of that name exists. */
static bool linker_find(const pvm_linker *l, const vm_import *im, resolved *out) {
  if (!l) return false;
  for (uint32_t i = l->n; i-- > 0;) {
    const vm_link *e = &l->links[i];
    if (!name_eq(e->module, im->module)) continue;
    if (e->instance) {
      if (pvm_instance_export(e->instance, im->name.ptr, im->name.len, &out->ext) == 0) {
        out->host = NULL;
        return true;
      }
    } else if (name_eq(e->name, im->name)) {
      out->host = e;
      return true;
    }
  }
  return false;
}

/* ---- instances --------------------------------------------------------------------- */

/* Bump allocator over the instance block (8-byte aligned pieces). */
typedef struct layout {
  size_t size;
} layout;

static size_t lay(layout *l, size_t bytes) {
  size_t at = l->size;
  l->size += (bytes + 15) & ~(size_t)15;
  return at;
}

static bool limits_match(pvm_limits_range have, uint32_t have_size, pvm_limits_range want) {
  if (have_size < want.min) return false;
  if (want.has_max) {
    if (!have.has_max || have.max > want.max) return false;
  }
  return true;
}

static int import_error(pvm_error *err, const char *what, const vm_import *im) {
  return vm_error_set(err, PVM_ERR_UNLINKABLE, -1, "%s \"%.*s\" \"%.*s\"", what,
                      (int)im->module.len, im->module.ptr, (int)im->name.len, im->name.ptr);
}

/* Checks and binds import |im| (its index |idx| in its kind's space). */
static int bind_import(pvm_instance *inst, const pvm_linker *linker, const vm_import *im,
                       uint32_t idx, pvm_error *err) {
  resolved r;
  if (!linker_find(linker, im, &r)) return import_error(err, "unknown import", im);
  if (r.host) {
    if (im->kind != PVM_EXTERN_FUNC) return import_error(err, "incompatible import type", im);
    pvm_functype want = inst->module->ftypes[im->u.func_type];
    pvm_functype have = {r.host->nparams, r.host->nresults, r.host->types,
                         r.host->types + r.host->nparams};
    if (!vm_functype_eq(&want, &have)) return import_error(err, "incompatible import type", im);
    pvm_func *f = &inst->own_funcs[idx];
    *f = (pvm_func){inst, NULL, want, r.host->fn, r.host->user_data};
    inst->funcs[idx] = f;
    return 0;
  }
  if (r.ext.kind != im->kind) return import_error(err, "incompatible import type", im);
  switch (im->kind) {
  case PVM_EXTERN_FUNC:
    if (!vm_functype_eq(&r.ext.u.func->type, &inst->module->ftypes[im->u.func_type]))
      return import_error(err, "incompatible import type", im);
    inst->funcs[idx] = r.ext.u.func;
    break;
  case PVM_EXTERN_TABLE: {
    pvm_table *t = r.ext.u.table;
    pvm_limits_range have = {t->size, t->decl.max, t->decl.has_max};
    if (t->elem_type != im->u.table.elem_type || !limits_match(have, t->size, im->u.table.limits))
      return import_error(err, "incompatible import type", im);
    inst->tables[idx] = t;
    break;
  }
  case PVM_EXTERN_MEMORY: {
    pvm_memory *mm = r.ext.u.memory;
    pvm_limits_range have = {mm->pages, mm->decl.max, mm->decl.has_max};
    if (!limits_match(have, mm->pages, im->u.mem))
      return import_error(err, "incompatible import type", im);
    inst->mem = mm;
    break;
  }
  case PVM_EXTERN_GLOBAL: {
    pvm_global *g = r.ext.u.global;
    if (g->type != im->u.global.type || g->mutable_ != im->u.global.mutable_)
      return import_error(err, "incompatible import type", im);
    inst->globals[idx] = g;
    break;
  }
  }
  return 0;
}

static pvm_val eval_const(const pvm_instance *inst, const vm_const_expr *e) {
  pvm_val v;
  v.i64 = 0;
  switch (e->op) {
  case 0xd0:
    v.ref = NULL;
    break;
  case 0xd2:
    v.ref = inst->funcs[e->index];
    break;
  case 0x23:
    v = inst->globals[e->index]->val;
    break;
  default:
    v.i64 = e->bits;
    break;
  }
  return v;
}

static int instance_trap(pvm_error *err, pvm_instance *inst, pvm_trap_kind kind) {
  inst->trap = kind;
  snprintf(inst->trap_msg, sizeof inst->trap_msg, "%s", pvm_trap_message(kind));
  return vm_error_set(err, PVM_ERR_TRAP, -1, "%s", inst->trap_msg);
}

/* Applies element segments, then data segments (2.0 order; a failing segment traps after
 * the earlier ones took effect). */
static int apply_segments(pvm_instance *inst, pvm_error *err) {
  const vm_module *m = &inst->module->m;
  for (uint32_t i = 0; i < m->nelems; i++) {
    const vm_elem *e = &m->elems[i];
    vm_elem_rt *rt = &inst->elems[i];
    if (e->mode == VM_SEG_ACTIVE) {
      pvm_table *t = inst->tables[e->table];
      uint32_t off = eval_const(inst, &e->offset).i32;
      if ((uint64_t)off + rt->count > t->size) return instance_trap(err, inst, PVM_TRAP_TABLE_OOB);
      if (rt->count) memcpy(t->elems + off, rt->items, rt->count * sizeof(void *));
    }
    if (e->mode != VM_SEG_PASSIVE) rt->count = 0;
  }
  for (uint32_t i = 0; i < m->ndatas; i++) {
    const vm_data *d = &m->datas[i];
    vm_data_rt *rt = &inst->datas[i];
    if (d->mode != VM_SEG_ACTIVE) continue;
    uint32_t off = eval_const(inst, &d->offset).i32;
    uint64_t size = inst->mem ? inst->mem->size : 0;
    if ((uint64_t)off + d->len > size) return instance_trap(err, inst, PVM_TRAP_MEMORY_OOB);
    if (d->len) memcpy(inst->mem->data + off, d->bytes, d->len);
    rt->len = 0;
  }
  return 0;
}

static void free_stacks(pvm_instance *inst);

/* Linear memory of a page or more is an anonymous mapping: the kernel hands out zero
 * pages on first touch, so instantiation does not clear (and make resident) memory the
 * plugin never uses, and growing maps more instead of clearing. Below that (only
 * 0-page memories), malloc. */
#define VM_MEM_MMAP_MIN ((uint64_t)VM_PAGE_SIZE)

static uint8_t *mem_map(uint64_t size) {
  void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static void mem_release(pvm_memory *mem) {
  if (mem->mapped)
    munmap(mem->data, (size_t)mem->size);
  else
    free(mem->data);
  mem->data = NULL;
  mem->mapped = false;
}

/* Sets |mem| to |size| zeroed bytes (its contents up to the old size kept). */
static int mem_resize(pvm_memory *mem, uint64_t size) {
  uint8_t *data;
  if (mem->mapped) {
    data = mremap(mem->data, (size_t)mem->size, (size_t)size, MREMAP_MAYMOVE);
    if (data == MAP_FAILED) return -1;
  } else if (size >= VM_MEM_MMAP_MIN) {
    if (!(data = mem_map(size))) return -1;
    if (mem->size) memcpy(data, mem->data, (size_t)mem->size);
    free(mem->data);
    mem->mapped = true;
  } else {
    if (!(data = realloc(mem->data, (size_t)size))) return -1;
    memset(data + mem->size, 0, (size_t)(size - mem->size));
  }
  mem->data = data;
  mem->size = size;
  return 0;
}

static void instance_free(pvm_instance *inst) {
  pvm_instance *a = inst->adopted;
  while (a) {
    pvm_instance *next = a->next_adopted;
    instance_free(a);
    a = next;
  }
  const vm_module *m = &inst->module->m;
  for (uint32_t i = 0; i < m->ntables; i++) free(inst->own_tables[i].elems);
  mem_release(&inst->own_mem);
  free_stacks(inst);
  pvm_module_del(inst->module);
  free(inst);
}

void pvm_instance_del(pvm_instance *instance) {
  if (instance) instance_free(instance);
}

/* A failed instantiation may have put its functions into tables of other instances (or
 * its start function may have stored them anywhere it could reach): it is handed to the
 * owner of one of its imports, which frees it, instead of being freed now. */
static void instance_discard(pvm_instance *inst, bool leaked) {
  if (leaked) {
    pvm_instance *owner = NULL;
    const vm_module *m = &inst->module->m;
    for (uint32_t i = 0; i < m->ntable_imports + m->nglobal_imports && !owner; i++) {
      if (i < m->ntable_imports)
        owner = inst->tables[i]->owner;
      else
        owner = inst->globals[i - m->ntable_imports]->owner;
    }
    if (!owner && m->nmem_imports) owner = inst->mem->owner;
    for (uint32_t i = 0; i < m->nfunc_imports && !owner; i++)
      if (inst->funcs[i]->code) owner = inst->funcs[i]->inst;
    if (owner && owner != inst) {
      inst->next_adopted = owner->adopted;
      owner->adopted = inst;
      return;
    }
  }
  instance_free(inst);
}

/* The frame stack and the value stack share one block. Large blocks are mapped
 * directly: untouched pages cost nothing, and malloc would grow and trim its heap around
 * every instance. */
#define VM_STACK_MMAP_MIN (128u * 1024u)

static int alloc_stacks(pvm_instance *inst) {
  uint64_t slots = (uint64_t)inst->module->max_frame * inst->limits.max_call_depth + 256;
  if (slots < 4096) slots = 4096;
  if (slots > (1u << 20)) slots = 1u << 20;
  inst->nframes = inst->limits.max_call_depth ? inst->limits.max_call_depth : 1;
  size_t fbytes = ((size_t)inst->nframes * sizeof(vm_frame) + 15) & ~(size_t)15;
  size_t bytes = fbytes + (size_t)slots * sizeof(pvm_val);
  void *block;
  if (bytes >= VM_STACK_MMAP_MIN) {
    block = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
    if (block == MAP_FAILED) return PVM_ERR_NOMEM;
  } else {
    block = malloc(bytes);
    if (!block) return PVM_ERR_NOMEM;
  }
  inst->stack_block = block;
  inst->stack_bytes = bytes;
  inst->frames = block;
  inst->stack = (pvm_val *)((uint8_t *)block + fbytes);
  inst->stack_end = inst->stack + slots;
  inst->stack_top = inst->stack;
  inst->frame_top = 0;
  return 0;
}

static void free_stacks(pvm_instance *inst) {
  if (!inst->stack_block) return;
  if (inst->stack_bytes >= VM_STACK_MMAP_MIN)
    munmap(inst->stack_block, inst->stack_bytes);
  else
    free(inst->stack_block);
}

int pvm_instance_new(pvm_module *module, const pvm_linker *linker, const pvm_limits *limits,
                     pvm_instance **out, pvm_error *err) {
  if (!module || !out) return vm_error_set(err, PVM_ERR_ARG, -1, "bad argument");
  *out = NULL;
  const vm_module *m = &module->m;
  uint32_t nfuncs = m->nfunc_imports + m->nfuncs;
  uint32_t nglobals = m->nglobal_imports + m->nglobals;
  uint32_t ntables = m->ntable_imports + m->ntables;
  uint64_t nitems = 0;
  for (uint32_t i = 0; i < m->nelems; i++) nitems += m->elems[i].count;

  layout l = {0};
  size_t o_inst = lay(&l, sizeof(pvm_instance));
  size_t o_funcs = lay(&l, nfuncs * sizeof(pvm_func *));
  size_t o_own_funcs = lay(&l, nfuncs * sizeof(pvm_func));
  size_t o_globals = lay(&l, nglobals * sizeof(pvm_global *));
  size_t o_own_globals = lay(&l, m->nglobals * sizeof(pvm_global));
  size_t o_tables = lay(&l, ntables * sizeof(pvm_table *));
  size_t o_own_tables = lay(&l, m->ntables * sizeof(pvm_table));
  size_t o_elems = lay(&l, m->nelems * sizeof(vm_elem_rt));
  size_t o_datas = lay(&l, m->ndatas * sizeof(vm_data_rt));
  size_t o_items = lay(&l, (size_t)nitems * sizeof(void *));
  uint8_t *block = calloc(1, l.size);
  if (!block) return vm_error_set(err, PVM_ERR_NOMEM, -1, "out of memory");
  pvm_instance *inst = (pvm_instance *)(block + o_inst);
  (void)o_inst;
  inst->module = module;
  atomic_fetch_add(&module->refs, 1);
  inst->codes = module->codes;
  inst->funcs = (pvm_func **)(block + o_funcs);
  inst->own_funcs = (pvm_func *)(block + o_own_funcs);
  inst->globals = (pvm_global **)(block + o_globals);
  inst->own_globals = (pvm_global *)(block + o_own_globals);
  inst->tables = (pvm_table **)(block + o_tables);
  inst->own_tables = (pvm_table *)(block + o_own_tables);
  inst->elems = (vm_elem_rt *)(block + o_elems);
  inst->datas = (vm_data_rt *)(block + o_datas);
  void **items = (void **)(block + o_items);
  if (limits)
    inst->limits = *limits;
  else
    pvm_limits_default(&inst->limits);
  if (inst->limits.max_memory_pages > VM_MAX_PAGES) inst->limits.max_memory_pages = VM_MAX_PAGES;

  int rc = 0;
  /* Imports. */
  uint32_t counts[4] = {0, 0, 0, 0};
  for (uint32_t i = 0; i < m->nimports && rc == 0; i++) {
    const vm_import *im = &m->imports[i];
    rc = bind_import(inst, linker, im, counts[im->kind]++, err);
  }
  if (rc) goto fail;

  /* Defined functions. */
  for (uint32_t i = 0; i < m->nfuncs; i++) {
    uint32_t idx = m->nfunc_imports + i;
    pvm_func *f = &inst->own_funcs[idx];
    *f = (pvm_func){inst, &module->codes[i], module->ftypes[m->funcs[i].type], NULL, NULL};
    inst->funcs[idx] = f;
  }
  /* Memory. */
  if (m->nmems) {
    pvm_limits_range lim = m->mems[0];
    if (lim.min > inst->limits.max_memory_pages) {
      rc = vm_error_set(err, PVM_ERR_LIMIT, -1, "memory of %u pages exceeds the limit of %u",
                        lim.min, inst->limits.max_memory_pages);
      goto fail;
    }
    pvm_memory *mm = &inst->own_mem;
    mm->decl = lim;
    mm->owner = inst;
    mm->pages = lim.min;
    uint32_t max = lim.has_max ? lim.max : VM_MAX_PAGES;
    mm->max_pages = max < inst->limits.max_memory_pages ? max : inst->limits.max_memory_pages;
    if (lim.min && mem_resize(mm, (uint64_t)lim.min * VM_PAGE_SIZE) != 0) {
      rc = vm_error_set(err, PVM_ERR_NOMEM, -1, "out of memory");
      goto fail;
    }
    inst->mem = mm;
  }
  /* Tables. */
  for (uint32_t i = 0; i < m->ntables; i++) {
    const vm_table_type *tt = &m->tables[i];
    pvm_table *t = &inst->own_tables[i];
    t->decl = tt->limits;
    t->elem_type = tt->elem_type;
    t->owner = inst;
    t->size = tt->limits.min;
    t->max = tt->limits.has_max ? tt->limits.max : UINT32_MAX;
    if (t->size > inst->limits.max_table_elems) {
      rc = vm_error_set(err, PVM_ERR_LIMIT, -1, "table of %u elements exceeds the limit",
                        t->size);
      goto fail;
    }
    if (t->size) {
      t->elems = calloc(t->size, sizeof(void *));
      if (!t->elems) {
        rc = vm_error_set(err, PVM_ERR_NOMEM, -1, "out of memory");
        goto fail;
      }
    }
    inst->tables[m->ntable_imports + i] = t;
  }
  /* Globals, in order (an initializer may read an earlier global). */
  for (uint32_t i = 0; i < m->nglobals; i++) {
    pvm_global *g = &inst->own_globals[i];
    g->type = m->globals[i].type.type;
    g->mutable_ = m->globals[i].type.mutable_;
    g->owner = inst;
    g->val = eval_const(inst, &m->globals[i].init);
    inst->globals[m->nglobal_imports + i] = g;
  }
  /* Segment states. */
  for (uint32_t i = 0; i < m->nelems; i++) {
    const vm_elem *e = &m->elems[i];
    inst->elems[i].items = items;
    inst->elems[i].count = e->count;
    for (uint32_t k = 0; k < e->count; k++) items[k] = eval_const(inst, &e->items[k]).ref;
    items += e->count;
  }
  for (uint32_t i = 0; i < m->ndatas; i++) {
    inst->datas[i].bytes = m->datas[i].bytes;
    inst->datas[i].len = m->datas[i].len;
  }
  rc = alloc_stacks(inst);
  if (rc) {
    vm_error_set(err, rc, -1, "out of memory");
    goto fail;
  }
  rc = apply_segments(inst, err);
  if (rc) {
    instance_discard(inst, true);
    return rc;
  }
  if (m->has_start) {
    rc = pvm_call(inst, inst->funcs[m->start], NULL, 0, NULL, 0);
    if (rc) {
      vm_error_set(err, PVM_ERR_TRAP, -1, "%s", inst->trap_msg);
      instance_discard(inst, true);
      return PVM_ERR_TRAP;
    }
  }
  *out = inst;
  return 0;

fail:
  instance_discard(inst, false);
  return rc;
}

int pvm_instance_export(pvm_instance *instance, const char *name, size_t len, pvm_extern *out) {
  if (!instance || !name || !out) return PVM_ERR_ARG;
  const vm_module *m = &instance->module->m;
  for (uint32_t i = 0; i < m->nexports; i++) {
    const vm_export *ex = &m->exports[i];
    if (ex->name.len != len || memcmp(ex->name.ptr, name, len) != 0) continue;
    out->kind = ex->kind;
    switch (ex->kind) {
    case PVM_EXTERN_FUNC: out->u.func = instance->funcs[ex->index]; break;
    case PVM_EXTERN_TABLE: out->u.table = instance->tables[ex->index]; break;
    case PVM_EXTERN_MEMORY: out->u.memory = instance->mem; break;
    case PVM_EXTERN_GLOBAL: out->u.global = instance->globals[ex->index]; break;
    }
    return 0;
  }
  return PVM_ERR_NOT_FOUND;
}

pvm_func *pvm_instance_func(pvm_instance *instance, const char *name) {
  pvm_extern e;
  if (!name || pvm_instance_export(instance, name, strlen(name), &e) != 0 ||
      e.kind != PVM_EXTERN_FUNC)
    return NULL;
  return e.u.func;
}

const pvm_functype *pvm_func_type(const pvm_func *func) { return func ? &func->type : NULL; }

/* ---- calls ------------------------------------------------------------------------- */

/* No room on the value stack for a call's arguments and results. */
static __attribute__((noinline)) int stack_trap(pvm_instance *instance) {
  instance->trap = PVM_TRAP_STACK_EXHAUSTED;
  snprintf(instance->trap_msg, sizeof instance->trap_msg, "%s",
           pvm_trap_message(PVM_TRAP_STACK_EXHAUSTED));
  return PVM_ERR_TRAP;
}

int pvm_call(pvm_instance *instance, pvm_func *func, const pvm_val *args, uint32_t nargs,
             pvm_val *results, uint32_t nresults) {
  if (VM_UNLIKELY(!instance || !func)) return PVM_ERR_ARG;
  /* One test for both counts, one for the pointers: this runs on every plugin call. */
  if (VM_UNLIKELY(((nargs ^ func->type.nparams) | (nresults ^ func->type.nresults)) != 0 ||
                  (nargs && !args) || (nresults && !results)))
    return PVM_ERR_ARG;
  pvm_val *sp = instance->stack_top;
  uint32_t room = nargs > nresults ? nargs : nresults;
  instance->trap = PVM_TRAP_NONE;
  if (VM_UNLIKELY(sp + room > instance->stack_end))
    return stack_trap(instance);
  /* Few values: no memcpy call, and the usual zero to two without a loop. */
  switch (nargs) {
  case 2: sp[1] = args[1]; /* fall through */
  case 1: sp[0] = args[0]; /* fall through */
  case 0: break;
  default:
    for (uint32_t i = 0; i < nargs; i++) sp[i] = args[i];
  }
  int rc = vm_exec(instance, func, sp);
  /* vm_exec leaves stack_top and frame_top as they were: the stacks are reset. */
  if (VM_LIKELY(rc == 0)) {
    if (nresults == 1)
      results[0] = sp[0];
    else
      for (uint32_t i = 0; i < nresults; i++) results[i] = sp[i];
  }
  return rc;
}

int vm_call_op(pvm_instance *inst, const pvm_func *fn, int32_t arg, vm_op_out *out) {
  pvm_val *sp = inst->stack_top;
  int rc;
  inst->trap = PVM_TRAP_NONE;
  if (VM_UNLIKELY(sp + 1 > inst->stack_end)) {
    rc = stack_trap(inst);
  } else {
    sp[0].i64 = (uint32_t)arg;
    rc = vm_exec(inst, fn, sp);
    if (VM_LIKELY(rc == 0))
      out->result = (int64_t)sp[0].i64;
  }
  pvm_memory *m = inst->mem;
  out->mem = m ? m->data : NULL;
  out->msize = m ? (size_t)m->size : 0;
  return rc;
}

void vm_instance_memory_fields(pvm_instance *inst, uint8_t *const **data,
                               const uint64_t **size) {
  pvm_memory *m = inst->mem;
  *data = m ? &m->data : NULL;
  *size = m ? &m->size : NULL;
}

pvm_trap_kind pvm_instance_trap(const pvm_instance *instance) { return instance->trap; }

const char *pvm_instance_trap_message(const pvm_instance *instance) {
  return instance->trap == PVM_TRAP_NONE ? "" : instance->trap_msg;
}

void pvm_instance_set_fuel(pvm_instance *instance, uint64_t fuel) { instance->limits.fuel = fuel; }

uint64_t pvm_instance_fuel_used(const pvm_instance *instance) { return instance->fuel_used; }

void pvm_instance_set_timeout(pvm_instance *instance, uint64_t timeout_ns) {
  instance->limits.timeout_ns = timeout_ns;
}

uint8_t *pvm_instance_memory(pvm_instance *instance, size_t *size) {
  if (!instance || !instance->mem) {
    if (size) *size = 0;
    return NULL;
  }
  if (size) *size = (size_t)instance->mem->size;
  return instance->mem->data;
}

/* ---- memories, tables, globals ------------------------------------------------------ */

int64_t vm_memory_grow(pvm_memory *mem, uint32_t delta) {
  if (!mem) return -1;
  uint32_t old = mem->pages;
  if (delta == 0) return old;
  uint64_t pages = (uint64_t)old + delta;
  if (pages > mem->max_pages) return -1;
  if (mem_resize(mem, pages * VM_PAGE_SIZE) != 0) return -1;
  mem->pages = (uint32_t)pages;
  return old;
}

int64_t vm_table_grow(pvm_table *t, uint32_t delta, void *init, uint32_t limit) {
  uint32_t old = t->size;
  uint64_t size = (uint64_t)old + delta;
  uint32_t max = t->max < limit ? t->max : limit;
  if (size > max) return -1;
  if (delta == 0) return old;
  void **elems = realloc(t->elems, (size_t)size * sizeof(void *));
  if (!elems) return -1;
  for (uint64_t i = old; i < size; i++) elems[i] = init;
  t->elems = elems;
  t->size = (uint32_t)size;
  return old;
}

pvm_val pvm_global_get(const pvm_global *global) { return global->val; }

int pvm_global_set(pvm_global *global, pvm_val value) {
  if (!global || !global->mutable_) return PVM_ERR_ARG;
  global->val = value;
  return 0;
}

uint8_t pvm_global_type(const pvm_global *global) { return global->type; }

/* ---- host function context --------------------------------------------------------- */

pvm_instance *pvm_ctx_instance(pvm_call_ctx *ctx) { return ctx->inst; }

uint8_t *pvm_ctx_memory(pvm_call_ctx *ctx, size_t *size) {
  return pvm_instance_memory(ctx->inst, size);
}

void pvm_ctx_trap(pvm_call_ctx *ctx, const char *message) {
  if (!ctx || !message) return;
  snprintf(ctx->root->trap_msg, sizeof ctx->root->trap_msg, "%s", message);
  ctx->has_msg = true;
}
