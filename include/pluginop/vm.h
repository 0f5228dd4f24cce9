/*
 * pluginop VM: a WebAssembly 2.0 core engine (public API, prefix `pvm_`).
 *
 * Life cycle
 *   pvm_module_new()    decode + validate + compile once. A module is immutable and may be
 *                       shared by any number of instances and threads. Reference counted:
 *                       every instance holds a reference, pvm_module_del() drops the caller's.
 *   pvm_linker_*        what the module's imports resolve to: host functions and the exports
 *                       of other instances. Borrowed only during pvm_instance_new().
 *   pvm_instance_new()  cheap per-connection instantiation, runs the start function.
 *   pvm_call()          calls a function; allocates nothing.
 *
 * Errors: functions return 0 or a negative pvm_status. Where a pvm_error is taken (may be
 * NULL), it is filled with a message (the spec test suite's wording for malformed and
 * invalid modules) and, for decode errors, the byte offset.
 *
 * Sandboxing: every memory and table access is bounds-checked in software; a trap never
 * escapes as a crash. Limits (pvm_limits): memory pages, call depth, fuel, deadline.
 *
 * Threads: a module is read-only after pvm_module_new() and may be used from any thread;
 * an instance, a linker and everything obtained from an instance belong to one thread at a
 * time.
 */
#ifndef PLUGINOP_VM_H
#define PLUGINOP_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PVM_API __attribute__((visibility("default")))

/* Status codes. */
typedef enum pvm_status {
  PVM_OK = 0,
  PVM_ERR_MALFORMED = -1,  /* bytes are not a well-formed binary module */
  PVM_ERR_INVALID = -2,    /* well-formed but fails validation */
  PVM_ERR_UNLINKABLE = -3, /* an import is missing or has the wrong type */
  PVM_ERR_TRAP = -4,       /* execution trapped (see pvm_trap) */
  PVM_ERR_NOMEM = -5,      /* host allocation failed */
  PVM_ERR_ARG = -6,        /* bad argument from the host (wrong arity, NULL, ...) */
  PVM_ERR_NOT_FOUND = -7,  /* no export of that name or kind */
  PVM_ERR_LIMIT = -8,      /* a configured limit refuses the operation (e.g. max pages) */
} pvm_status;

/* Value types, with their binary encodings. */
typedef enum pvm_valtype {
  PVM_I32 = 0x7f,
  PVM_I64 = 0x7e,
  PVM_F32 = 0x7d,
  PVM_F64 = 0x7c,
  PVM_V128 = 0x7b,
  PVM_FUNCREF = 0x70,
  PVM_EXTERNREF = 0x6f,
} pvm_valtype;

typedef struct pvm_func pvm_func;         /* a function instance (wasm or host) */
typedef struct pvm_table pvm_table;       /* a table instance */
typedef struct pvm_memory pvm_memory;     /* a memory instance */
typedef struct pvm_global pvm_global;     /* a global instance */
typedef struct pvm_module pvm_module;     /* compiled, immutable, shareable */
typedef struct pvm_instance pvm_instance; /* one instantiation */
typedef struct pvm_linker pvm_linker;     /* import resolution for instantiation */
typedef struct pvm_call_ctx pvm_call_ctx; /* given to host functions */

/* A value. References: funcref is a pvm_func* (NULL = ref.null), externref is an opaque
 * host pointer (NULL = ref.null). Floats are carried by bit pattern (NaN payloads kept). */
typedef union pvm_val {
  uint32_t i32;
  uint64_t i64;
  float f32;
  double f64;
  void *ref;
} pvm_val;

/* A name from the module: not NUL-terminated in general (wasm names may hold any UTF-8). */
typedef struct pvm_name {
  const char *ptr;
  uint32_t len;
} pvm_name;

typedef struct pvm_functype {
  uint32_t nparams;
  uint32_t nresults;
  const uint8_t *params;  /* pvm_valtype each */
  const uint8_t *results; /* pvm_valtype each */
} pvm_functype;

typedef enum pvm_extern_kind {
  PVM_EXTERN_FUNC = 0,
  PVM_EXTERN_TABLE = 1,
  PVM_EXTERN_MEMORY = 2,
  PVM_EXTERN_GLOBAL = 3,
} pvm_extern_kind;

typedef struct pvm_limits_range {
  uint32_t min;
  uint32_t max;
  bool has_max;
} pvm_limits_range;

/* Describes an import or export of a module (borrowed from the module). */
typedef struct pvm_extern_desc {
  pvm_name module; /* imports only */
  pvm_name name;
  pvm_extern_kind kind;
  pvm_functype func;       /* FUNC */
  uint8_t elem_type;       /* TABLE: PVM_FUNCREF or PVM_EXTERNREF */
  pvm_limits_range limits; /* TABLE (elements) and MEMORY (64 KiB pages) */
  uint8_t global_type;     /* GLOBAL */
  bool global_mutable;     /* GLOBAL */
} pvm_extern_desc;

/* A resolved external value. */
typedef struct pvm_extern {
  pvm_extern_kind kind;
  union {
    pvm_func *func;
    pvm_table *table;
    pvm_memory *memory;
    pvm_global *global;
  } u;
} pvm_extern;

/* Error detail; msg is always NUL-terminated. */
typedef struct pvm_error {
  int status;    /* pvm_status */
  long offset;   /* byte offset in the module for decode errors, else -1 */
  char msg[192];
} pvm_error;

/* Why execution trapped. pvm_trap_message() gives the spec's wording. */
typedef enum pvm_trap_kind {
  PVM_TRAP_NONE = 0,
  PVM_TRAP_UNREACHABLE,          /* "unreachable" */
  PVM_TRAP_MEMORY_OOB,           /* "out of bounds memory access" */
  PVM_TRAP_TABLE_OOB,            /* "out of bounds table access" */
  PVM_TRAP_UNDEFINED_ELEMENT,    /* "undefined element" (call_indirect index >= size) */
  PVM_TRAP_UNINITIALIZED_ELEMENT,/* "uninitialized element" (call_indirect of null) */
  PVM_TRAP_INDIRECT_TYPE,        /* "indirect call type mismatch" */
  PVM_TRAP_DIV_ZERO,             /* "integer divide by zero" */
  PVM_TRAP_INT_OVERFLOW,         /* "integer overflow" */
  PVM_TRAP_INVALID_CONVERSION,   /* "invalid conversion to integer" */
  PVM_TRAP_STACK_EXHAUSTED,      /* "call stack exhausted" */
  PVM_TRAP_OUT_OF_FUEL,          /* "out of fuel" */
  PVM_TRAP_DEADLINE,             /* "deadline exceeded" */
  PVM_TRAP_HOST,                 /* a host function failed: message from the host */
  PVM_TRAP_MEMORY_LIMIT,         /* instantiation needs more pages than allowed */
} pvm_trap_kind;

PVM_API const char *pvm_trap_message(pvm_trap_kind kind);
/* The text-format name of a value type ("i32", ..., "externref"), or "?". */
PVM_API const char *pvm_valtype_name(uint8_t type);
PVM_API const char *pvm_status_message(int status);

/* Limits enforced on an instance. */
typedef struct pvm_limits {
  uint32_t max_memory_pages; /* memory.grow beyond this fails (returns -1); a module whose
                                declared minimum exceeds it does not instantiate.
                                Default 65536 (4 GiB, the wasm32 maximum). */
  uint32_t max_table_elems;  /* table.grow beyond this fails. Default 10,000,000. */
  uint32_t max_call_depth;   /* nested wasm calls; deeper traps with "call stack
                                exhausted". Default 10,000. */
  uint64_t fuel;             /* instruction budget per pvm_call (see pvm_instance_set_fuel).
                                Default PVM_FUEL_UNLIMITED. */
  uint64_t timeout_ns;       /* wall-clock budget per pvm_call, 0 = none. Default 0. */
} pvm_limits;

#define PVM_FUEL_UNLIMITED UINT64_MAX

/* Fills |limits| with the defaults listed above. */
PVM_API void pvm_limits_default(pvm_limits *limits);

/* ---- Modules --------------------------------------------------------------------- */

/* Decodes, validates and compiles |len| bytes. The bytes are copied: the caller may free
 * them on return. On success *out holds a module with one reference (pvm_module_del).
 * Returns PVM_ERR_MALFORMED, PVM_ERR_INVALID or PVM_ERR_NOMEM with |err| filled. */
PVM_API int pvm_module_new(const uint8_t *bytes, size_t len, pvm_module **out, pvm_error *err);

/* Decodes and validates only (no compilation, nothing kept). Same errors. */
PVM_API int pvm_module_validate(const uint8_t *bytes, size_t len, pvm_error *err);

/* Drops one reference; the module is freed when the last instance is gone too. NULL ok. */
PVM_API void pvm_module_del(pvm_module *module);

PVM_API uint32_t pvm_module_import_count(const pvm_module *module);
PVM_API uint32_t pvm_module_export_count(const pvm_module *module);
/* Describe import/export |i|; the description borrows from the module. */
PVM_API int pvm_module_import(const pvm_module *module, uint32_t i, pvm_extern_desc *out);
PVM_API int pvm_module_export(const pvm_module *module, uint32_t i, pvm_extern_desc *out);

/* ---- Linker ---------------------------------------------------------------------- */

/* Host function. |args| has the type's params, |results| room for its results.
 * Return 0 on success; anything else traps the caller with PVM_TRAP_HOST (the message set
 * by pvm_ctx_trap, or "host function failed"). */
typedef int (*pvm_host_fn)(pvm_call_ctx *ctx, const pvm_val *args, pvm_val *results,
                           void *user_data);

PVM_API int pvm_linker_new(pvm_linker **out);
PVM_API void pvm_linker_del(pvm_linker *linker);

/* Defines module.name as a host function. |params|/|results| are copied. */
PVM_API int pvm_linker_define_func(pvm_linker *linker, const char *module, const char *name,
                                   const uint8_t *params, uint32_t nparams,
                                   const uint8_t *results, uint32_t nresults,
                                   pvm_host_fn fn, void *user_data);

/* Makes every export of |instance| importable as module_name.export_name. The instance
 * is borrowed: it must outlive every instance linked against it. */
PVM_API int pvm_linker_define_instance(pvm_linker *linker, const char *module_name,
                                       pvm_instance *instance);

/* ---- Instances ------------------------------------------------------------------- */

/* Instantiates |module|: resolves imports through |linker| (NULL if none), allocates
 * memory, tables and globals, applies element and data segments, runs the start function.
 * |limits| may be NULL for the defaults.
 * Returns PVM_ERR_UNLINKABLE ("unknown import" / "incompatible import type", naming the
 * import), PVM_ERR_TRAP if a segment is out of bounds or the start function traps (the
 * message says which), PVM_ERR_LIMIT, PVM_ERR_NOMEM. */
PVM_API int pvm_instance_new(pvm_module *module, const pvm_linker *linker,
                             const pvm_limits *limits, pvm_instance **out, pvm_error *err);

/* Frees the instance and drops its module reference. NULL ok. */
PVM_API void pvm_instance_del(pvm_instance *instance);

/* Looks up an export by name (|len| bytes). */
PVM_API int pvm_instance_export(pvm_instance *instance, const char *name, size_t len,
                                pvm_extern *out);
/* Convenience: exported function by NUL-terminated name, or NULL. */
PVM_API pvm_func *pvm_instance_func(pvm_instance *instance, const char *name);

/* The function's type (borrowed from the module or linker). */
PVM_API const pvm_functype *pvm_func_type(const pvm_func *func);

/* Calls |func| (which must belong to |instance| or be imported by it) with |nargs|
 * arguments, writing |nresults| results. Allocates nothing.
 * Returns 0, PVM_ERR_ARG (arity), or PVM_ERR_TRAP: pvm_instance_trap() says why.
 * After a trap the instance stays usable: its memory, tables and globals keep whatever
 * the trapped call wrote before it trapped; the operand and call stacks are reset. */
PVM_API int pvm_call(pvm_instance *instance, pvm_func *func, const pvm_val *args,
                     uint32_t nargs, pvm_val *results, uint32_t nresults);

/* The last trap of this instance, and its message (host messages included). */
PVM_API pvm_trap_kind pvm_instance_trap(const pvm_instance *instance);
PVM_API const char *pvm_instance_trap_message(const pvm_instance *instance);

/* Fuel: instructions one pvm_call may execute before trapping "out of fuel". Applies to
 * the following calls; PVM_FUEL_UNLIMITED disables the limit. Consumption is counted
 * either way: pvm_instance_fuel_used() is the count for the last call. */
PVM_API void pvm_instance_set_fuel(pvm_instance *instance, uint64_t fuel);
PVM_API uint64_t pvm_instance_fuel_used(const pvm_instance *instance);
/* Wall-clock budget per call in nanoseconds, 0 = none ("deadline exceeded"). */
PVM_API void pvm_instance_set_timeout(pvm_instance *instance, uint64_t timeout_ns);

/* Memory 0 of the instance (NULL, 0 if none). The pointer is invalidated by memory.grow. */
PVM_API uint8_t *pvm_instance_memory(pvm_instance *instance, size_t *size);

PVM_API pvm_val pvm_global_get(const pvm_global *global);
PVM_API int pvm_global_set(pvm_global *global, pvm_val value); /* ERR_ARG if immutable */
PVM_API uint8_t pvm_global_type(const pvm_global *global);

/* ---- For host functions ------------------------------------------------------------ */

/* The instance whose code called the host function. */
PVM_API pvm_instance *pvm_ctx_instance(pvm_call_ctx *ctx);
/* Memory 0 of that instance (same contract as pvm_instance_memory). */
PVM_API uint8_t *pvm_ctx_memory(pvm_call_ctx *ctx, size_t *size);
/* Sets the trap message for a host function about to return non-zero (copied). */
PVM_API void pvm_ctx_trap(pvm_call_ctx *ctx, const char *message);

#ifdef __cplusplus
}
#endif
#endif
