/*
 * vm_module.h: the decoded module, as the decoder (vm_decode.c) produces it, the validator
 * (vm_validate.c) checks it, and the compiler (vm_compile.c) and instantiation
 * (vm_instance.c) read it. Internal to src/vm; prefix `vm_`.
 *
 * Ownership: a vm_module owns everything it points to, including `bytes`, its own copy of
 * the binary. Code bodies, data segment payloads and names point into `bytes`.
 */
#ifndef PLUGINOP_VM_MODULE_H
#define PLUGINOP_VM_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pluginop/vm.h"

/* Index spaces are at most this large: keeps counts in uint32_t safe to multiply. */
#define VM_MAX_ITEMS 1000000u
#define VM_MAX_PAGES 65536u          /* wasm32: 4 GiB */
#define VM_PAGE_SIZE 65536u

typedef struct vm_functype {
  uint32_t nparams;
  uint32_t nresults;
  uint8_t *types; /* nparams param types followed by nresults result types (owned) */
} vm_functype;

/* A constant expression: one value-producing instruction (2.0 has no extended-const).
 * op is the opcode byte: 0x41 i32.const, 0x42 i64.const, 0x43 f32.const, 0x44 f64.const,
 * 0xd0 ref.null (value = reftype), 0xd2 ref.func (index), 0x23 global.get (index). */
typedef struct vm_const_expr {
  uint8_t op;
  uint8_t type;   /* the expression's value type, set by the validator */
  uint32_t index; /* ref.func / global.get index */
  uint64_t bits;  /* *.const: the raw bits (i32 zero-extended, f32 in low 32 bits) */
} vm_const_expr;

typedef struct vm_table_type {
  uint8_t elem_type; /* PVM_FUNCREF or PVM_EXTERNREF */
  pvm_limits_range limits;
} vm_table_type;

typedef struct vm_global_type {
  uint8_t type;
  bool mutable_;
} vm_global_type;

typedef struct vm_import {
  pvm_name module;
  pvm_name name;
  pvm_extern_kind kind;
  union {
    uint32_t func_type;    /* FUNC: type index */
    vm_table_type table;   /* TABLE */
    pvm_limits_range mem;  /* MEMORY */
    vm_global_type global; /* GLOBAL */
  } u;
} vm_import;

typedef struct vm_export {
  pvm_name name;
  pvm_extern_kind kind;
  uint32_t index; /* in the kind's index space (imports first) */
} vm_export;

typedef struct vm_global {
  vm_global_type type;
  vm_const_expr init;
} vm_global;

/* A run of locals of one type, as the binary declares them. */
typedef struct vm_local_run {
  uint32_t count;
  uint8_t type;
} vm_local_run;

/* A function defined in the module (imported functions are in `imports`). */
typedef struct vm_func {
  uint32_t type;           /* type index */
  uint32_t nlocals;        /* declared locals, not counting params */
  uint32_t nlocal_runs;
  vm_local_run *local_runs; /* owned */
  const uint8_t *code;     /* the instruction sequence after the locals, ending in 0x0b */
  uint32_t code_len;
  uint32_t code_offset;    /* offset of `code` in the binary, for error messages */
  /* Filled by the validator, for the compiler: */
  uint32_t max_stack;      /* highest operand stack height, in values (each i32, i64, f32,
                              f64 or ref counts 1), not counting params and locals; an
                              upper bound that includes values pushed in unreachable code */
  uint32_t max_depth;      /* highest number of open control frames, the function's own
                              frame included (a body with no block has 1) */
} vm_func;

typedef enum vm_segment_mode {
  VM_SEG_ACTIVE = 0,
  VM_SEG_PASSIVE = 1,
  VM_SEG_DECLARATIVE = 2, /* elements only */
} vm_segment_mode;

typedef struct vm_elem {
  vm_segment_mode mode;
  uint8_t elem_type;    /* PVM_FUNCREF or PVM_EXTERNREF */
  uint32_t table;       /* active only */
  vm_const_expr offset; /* active only */
  uint32_t count;
  vm_const_expr *items; /* owned: ref.func / ref.null / global.get each */
} vm_elem;

typedef struct vm_data {
  vm_segment_mode mode;
  uint32_t memory;      /* active only */
  vm_const_expr offset; /* active only */
  const uint8_t *bytes; /* into module bytes */
  uint32_t len;
} vm_data;

typedef struct vm_custom {
  pvm_name name;
  const uint8_t *bytes; /* payload after the name, into module bytes */
  uint32_t len;
} vm_custom;

typedef struct vm_module {
  uint8_t *bytes; /* owned copy of the binary */
  size_t len;

  uint32_t ntypes;
  vm_functype *types;

  uint32_t nimports;
  vm_import *imports;
  /* Counts of imports per kind: index spaces start with the imports. */
  uint32_t nfunc_imports, ntable_imports, nmem_imports, nglobal_imports;

  uint32_t nfuncs; /* defined functions */
  vm_func *funcs;
  /* Type index of every function in the function index space (imports first), so
   * vm_module_func_type() is O(1). Owned, nfunc_imports + nfuncs entries. */
  uint32_t *func_types;

  uint32_t ntables; /* defined tables */
  vm_table_type *tables;

  uint32_t nmems; /* defined memories (0 or 1 in 2.0) */
  pvm_limits_range *mems;

  uint32_t nglobals; /* defined globals */
  vm_global *globals;

  uint32_t nexports;
  vm_export *exports;

  bool has_start;
  uint32_t start;

  uint32_t nelems;
  vm_elem *elems;

  bool has_data_count;
  uint32_t data_count;
  uint32_t ndatas;
  vm_data *datas;

  uint32_t ncustoms;
  vm_custom *customs;

  /* From the "name" custom section, if present and well-formed (it is optional and
   * errors in it are ignored, as the spec says): function index -> name. */
  uint32_t nfunc_names;
  pvm_name *func_names; /* owned array indexed by function index (len 0 = no name) */
} vm_module;

/* Decodes |len| bytes into |m| (copying the bytes). On failure fills |err| with the spec
 * test wording ("unexpected end", "magic header not detected", "integer too large",
 * "section size mismatch", ...) and the offset, frees what was built and returns
 * PVM_ERR_MALFORMED or PVM_ERR_NOMEM. A constant expression that is not one constant
 * instruction ("constant expression required", "type mismatch") is reported while
 * decoding, with PVM_ERR_INVALID, since vm_const_expr holds exactly one instruction. */
int vm_decode(const uint8_t *bytes, size_t len, vm_module *m, pvm_error *err);

/* Validates a decoded module (types, indices, every function body, constant expressions,
 * exports unique, start type, ...), filling vm_func.max_stack / max_depth and
 * vm_const_expr.type. Returns 0 or PVM_ERR_INVALID with |err| in the spec's wording
 * ("type mismatch", "unknown local", "duplicate export name", ...; index errors name the
 * index: "unknown global 3"; body errors end with " (in function N)" and their offset is
 * the instruction's). Some binary-format errors are only found while reading bodies;
 * those return PVM_ERR_MALFORMED, and take precedence over validation errors.
 * After success the compiler may rely on: every block type is 0x40, a value type byte or
 * a type index < ntypes (read it with vm_read_s33); every index is in range; every
 * function body ends with its END as the last byte; no SIMD (0xfd) instruction or v128
 * type occurs; memory instructions only occur with a memory. */
int vm_validate(vm_module *m, pvm_error *err);

/* Frees everything |m| owns (not |m| itself). */
void vm_module_free(vm_module *m);

/* Type of function |index| in the function index space (imports first). */
const vm_functype *vm_module_func_type(const vm_module *m, uint32_t index);

/* Fills |err| (may be NULL) with status, offset and a printf-style message; returns status. */
int vm_error_set(pvm_error *err, int status, long offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
