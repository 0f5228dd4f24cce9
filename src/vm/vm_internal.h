/*
 * vm_internal.h: runtime objects shared by the compiler (vm_compile.c), the interpreter
 * (vm_exec.c) and instantiation (vm_instance.c). Internal to src/vm; prefix `vm_`.
 */
#ifndef PLUGINOP_VM_INTERNAL_H
#define PLUGINOP_VM_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "pluginop/vm.h"
#include "vm_module.h"
#include "vm_ops.h"

#define VM_LIKELY(x) __builtin_expect(!!(x), 1)
#define VM_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Compiled body of one defined function. */
typedef struct vm_code {
  const vm_ins *ins;   /* first instruction (inside pvm_module.code) */
  uint32_t nparams;
  uint32_t nresults;
  uint32_t nlocals;    /* declared locals (zeroed at entry), after the params */
  uint32_t frame_size; /* slots: params + locals + max operand stack height + spare,
                          at least params + 4 (locals are cleared 4 at a time) */
} vm_code;

struct pvm_module {
  atomic_int refs;
  vm_module m;
  vm_ins *code;        /* every function's instructions, one block */
  size_t ncode;
  vm_code *codes;      /* per defined function */
  uint32_t max_frame;  /* largest frame_size */
  pvm_functype *ftypes;/* public view of every type (points into m.types) */
};

struct pvm_func {
  pvm_instance *inst;       /* instance that owns it (its memory/globals for wasm code) */
  const vm_code *code;      /* wasm function; NULL for a host function */
  pvm_functype type;        /* borrowed from the owning module */
  pvm_host_fn host;
  void *user_data;
};

struct pvm_global {
  pvm_val val;
  uint8_t type;
  bool mutable_;
  pvm_instance *owner;
};

struct pvm_memory {
  uint8_t *data;       /* malloc'd, or mapped (see vm_mem_alloc in vm_instance.c) */
  uint64_t size;       /* bytes */
  bool mapped;         /* data is an anonymous mapping of |size| bytes (munmap it) */
  uint32_t pages;
  uint32_t max_pages;  /* declared max clipped to the instance limit */
  pvm_limits_range decl; /* declared limits (max checked when imported) */
  pvm_instance *owner;
};

struct pvm_table {
  void **elems;
  uint32_t size;
  uint32_t max;        /* declared max, or UINT32_MAX */
  uint8_t elem_type;
  pvm_limits_range decl;
  pvm_instance *owner;
};

/* A call frame on the explicit frame stack. */
typedef struct vm_frame {
  const vm_ins *ret_pc;
  pvm_val *fp;
  pvm_instance *inst; /* the caller's instance */
} vm_frame;

struct pvm_call_ctx {
  pvm_instance *inst; /* instance whose code made the call */
  pvm_instance *root; /* instance whose pvm_call is running (records the trap) */
  bool has_msg;       /* pvm_ctx_trap was called */
};

/* Runtime state of an element segment (after instantiation). */
typedef struct vm_elem_rt {
  void **items;
  uint32_t count; /* 0 once dropped */
} vm_elem_rt;

typedef struct vm_data_rt {
  const uint8_t *bytes;
  uint32_t len; /* 0 once dropped */
} vm_data_rt;

struct pvm_instance {
  pvm_module *module;
  const vm_code *codes;
  pvm_func **funcs;     /* function index space */
  pvm_global **globals; /* global index space */
  pvm_table **tables;   /* table index space */
  pvm_memory *mem;      /* memory 0 or NULL */
  vm_elem_rt *elems;
  vm_data_rt *datas;
  pvm_func *own_funcs;  /* defined + imported-host function objects */
  pvm_global *own_globals;
  pvm_table *own_tables;
  pvm_memory own_mem;

  pvm_limits limits;
  /* Stacks, allocated at instantiation; pvm_call allocates nothing. */
  pvm_val *stack, *stack_end, *stack_top; /* stack_top: first free slot */
  vm_frame *frames;
  uint32_t nframes, frame_top;
  void *stack_block; /* frames and values, one block */
  size_t stack_bytes;

  pvm_instance *adopted; /* failed instantiations whose functions our tables may hold */
  pvm_instance *next_adopted;

  uint64_t fuel_used;
  pvm_trap_kind trap;
  char trap_msg[192];
};

/* Compiles every function of |pm->m| (already validated) into pm->code/codes. */
int vm_compile(pvm_module *pm, pvm_error *err);

/* Runs |f| with its arguments in args[0..nparams); results come back in args[0..].
 * The frame starts at |args|, which must lie in inst's value stack. Returns 0 or
 * PVM_ERR_TRAP with inst->trap / trap_msg set. */
int vm_exec(pvm_instance *inst, const pvm_func *f, pvm_val *args);

/* Grows memory by |delta| pages; returns the old page count or -1. */
int64_t vm_memory_grow(pvm_memory *mem, uint32_t delta);
/* Grows a table by |delta| elements set to |init|; returns the old size or -1. */
int64_t vm_table_grow(pvm_table *t, uint32_t delta, void *init, uint32_t limit);

/* Structural function type equality. */
static inline bool vm_functype_eq(const pvm_functype *a, const pvm_functype *b) {
  if (a->params == b->params && a->nparams == b->nparams && a->nresults == b->nresults)
    return true;
  if (a->nparams != b->nparams || a->nresults != b->nresults) return false;
  for (uint32_t i = 0; i < a->nparams; i++)
    if (a->params[i] != b->params[i]) return false;
  for (uint32_t i = 0; i < a->nresults; i++)
    if (a->results[i] != b->results[i]) return false;
  return true;
}

#endif
