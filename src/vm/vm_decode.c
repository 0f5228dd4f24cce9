/*
 * vm_decode.c: the WebAssembly 2.0 binary decoder. Turns bytes into a vm_module without
 * looking inside function bodies (the validator reads those in one pass).
 *
 * Every section is read through a cursor bounded by the section's end, so nothing can
 * read outside the section, and every count is checked against the bytes left before
 * anything is allocated (an item takes at least one byte), which bounds allocations by
 * the input size.
 *
 * Error wording follows the spec test suite. Where the reference interpreter's wording
 * depends on how far past the end a read went (it reads from the whole stream), we pick
 * the message it would give from where the section ends: see overrun_message().
 */
#include <stdlib.h>
#include <string.h>

#include "vm_module.h"
#include "vm_opcodes.h"
#include "vm_read.h"

/* Section ids. */
enum {
  SEC_CUSTOM = 0,
  SEC_TYPE = 1,
  SEC_IMPORT = 2,
  SEC_FUNCTION = 3,
  SEC_TABLE = 4,
  SEC_MEMORY = 5,
  SEC_GLOBAL = 6,
  SEC_EXPORT = 7,
  SEC_START = 8,
  SEC_ELEMENT = 9,
  SEC_CODE = 10,
  SEC_DATA = 11,
  SEC_DATA_COUNT = 12,
};

typedef struct dec {
  vm_reader r;              /* bounded by the current section */
  const uint8_t *file_end;  /* end of the whole binary */
  vm_module *m;
  pvm_error *err;
  int sec_id;               /* current section, for overrun_message() */
  bool has_func_section;
  bool has_code_section;
  const char *deferred;     /* first validation error, reported if the format is fine */
  long deferred_offset;
} dec;

static const char MSG_UNEXPECTED_END[] = "unexpected end";

static int fail_at(dec *d, const uint8_t *at, int status, const char *msg) {
  return vm_error_set(d->err, status, (long)(at - d->r.base), "%s", msg);
}

/* The message for a read that ran past the end of the current section. The reference
 * interpreter reads sections from the whole stream: running off the end of the file gives
 * "unexpected end of section or function", reading into the next section is noticed
 * afterwards as "section size mismatch". Custom sections are read from a sub-stream. */
static const char *overrun_message(const dec *d) {
  if (d->sec_id == SEC_CUSTOM || d->sec_id < 0) return MSG_UNEXPECTED_END;
  if (d->r.end == d->file_end) return "unexpected end of section or function";
  return "section size mismatch";
}

/* Turns the cursor's recorded error into the module error. */
static int read_fail(dec *d) {
  const char *msg = d->r.err ? d->r.err : MSG_UNEXPECTED_END;
  if (strcmp(msg, MSG_UNEXPECTED_END) == 0) msg = overrun_message(d);
  return fail_at(d, d->r.p, PVM_ERR_MALFORMED, msg);
}

#define RD(d, call)                                                                   \
  do {                                                                                \
    if (!(call)) return read_fail(d);                                                 \
  } while (0)

#define TRY(call)                                                                     \
  do {                                                                                \
    int rv_ = (call);                                                                 \
    if (rv_) return rv_;                                                          \
  } while (0)

static int nomem(dec *d) {
  return fail_at(d, d->r.p, PVM_ERR_NOMEM, "out of memory");
}

/* Reads a vector length and checks that |n| items of at least |min_size| bytes each can
 * still fit in the section: this bounds every allocation by the input size. */
static int read_count(dec *d, uint32_t min_size, uint32_t *n) {
  RD(d, vm_read_u32(&d->r, n));
  if ((uint64_t)*n * min_size > vm_reader_left(&d->r)) {
    d->r.p = d->r.end; /* report at the section end, where the read would fail */
    return fail_at(d, d->r.p, PVM_ERR_MALFORMED, overrun_message(d));
  }
  if (*n > VM_MAX_ITEMS)
    return fail_at(d, d->r.p, PVM_ERR_MALFORMED, "implementation limit: too many items");
  return 0;
}

static void *alloc_array(uint32_t n, size_t size) {
  return calloc(n ? n : 1, size);
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const uint8_t *s, uint32_t len) {
  uint32_t i = 0;
  while (i < len) {
    uint8_t c = s[i];
    uint32_t n, cp, min;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (len - i <= n) return false;
    for (uint32_t k = 1; k <= n; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

static int read_name(dec *d, pvm_name *out) {
  uint32_t len;
  const uint8_t *start;
  RD(d, vm_read_u32(&d->r, &len));
  /* The reference checks a length against the whole rest of the binary first. */
  if (len > (size_t)(d->file_end - d->r.p))
    return fail_at(d, d->r.p, PVM_ERR_MALFORMED, "length out of bounds");
  RD(d, vm_read_bytes(&d->r, len, &start));
  if (!utf8_valid(start, len))
    return fail_at(d, start, PVM_ERR_MALFORMED, "malformed UTF-8 encoding");
  out->ptr = (const char *)start;
  out->len = len;
  return 0;
}

static bool is_valtype(uint8_t b) {
  return b == PVM_I32 || b == PVM_I64 || b == PVM_F32 || b == PVM_F64 || b == PVM_V128 ||
         b == PVM_FUNCREF || b == PVM_EXTERNREF;
}

/* Type bytes are one-byte negative LEB128s: a continuation bit means an overlong one. */
static int read_valtype(dec *d, uint8_t *out) {
  const uint8_t *at = d->r.p;
  RD(d, vm_read_u8(&d->r, out));
  if (is_valtype(*out)) return 0;
  if (*out & 0x80) return fail_at(d, at, PVM_ERR_MALFORMED, "integer representation too long");
  return fail_at(d, at, PVM_ERR_MALFORMED, "malformed value type");
}

static int read_reftype(dec *d, uint8_t *out) {
  const uint8_t *at = d->r.p;
  RD(d, vm_read_u8(&d->r, out));
  if (*out == PVM_FUNCREF || *out == PVM_EXTERNREF) return 0;
  return fail_at(d, at, PVM_ERR_MALFORMED, "malformed reference type");
}

static int read_limits(dec *d, pvm_limits_range *out) {
  const uint8_t *at = d->r.p;
  uint8_t flags;
  RD(d, vm_read_u8(&d->r, &flags));
  /* The flags are a one-byte LEB128 in the reference interpreter. */
  if (flags & 0x80) return fail_at(d, at, PVM_ERR_MALFORMED, "integer representation too long");
  if (flags > 1) return fail_at(d, at, PVM_ERR_MALFORMED, "integer too large");
  RD(d, vm_read_u32(&d->r, &out->min));
  out->has_max = flags == 1;
  out->max = 0;
  if (out->has_max) RD(d, vm_read_u32(&d->r, &out->max));
  return 0;
}

static int read_table_type(dec *d, vm_table_type *out) {
  TRY(read_reftype(d, &out->elem_type));
  return read_limits(d, &out->limits);
}

static int read_global_type(dec *d, vm_global_type *out) {
  const uint8_t *at;
  uint8_t mut;
  TRY(read_valtype(d, &out->type));
  at = d->r.p;
  RD(d, vm_read_u8(&d->r, &mut));
  if (mut > 1) return fail_at(d, at, PVM_ERR_MALFORMED, "malformed mutability");
  out->mutable_ = mut == 1;
  return 0;
}

/* Records the first validation error met while decoding (a non-constant initializer):
 * it is reported only if the rest of the module is well-formed, since format errors
 * take precedence. */
static void defer_invalid(dec *d, const uint8_t *at, const char *msg) {
  if (d->deferred) return;
  d->deferred = msg;
  d->deferred_offset = (long)(at - d->r.base);
}

/* A constant expression: in 2.0 exactly one constant instruction then `end`. Anything
 * else is a validation error (see vm_decode's doc comment), with the spec's wording: a
 * non-constant instruction is "constant expression required", a wrong number of values
 * "type mismatch". Such an expression is still read to its end, so the format of the
 * rest of the module is checked. */
static int read_const_expr(dec *d, vm_const_expr *out) {
  uint32_t nvalues = 0, depth = 0;
  bool constant = true;
  const uint8_t *start = d->r.p;
  memset(out, 0, sizeof *out);
  for (;;) {
    const uint8_t *at = d->r.p;
    uint8_t op;
    RD(d, vm_read_u8(&d->r, &op));
    switch (op) {
    case 0x0b: /* end */
      if (depth > 0) {
        depth--;
        continue;
      }
      if (constant && nvalues != 1) defer_invalid(d, start, "type mismatch");
      return 0;
    case 0x41: { /* i32.const */
      int32_t v;
      RD(d, vm_read_s32(&d->r, &v));
      out->bits = (uint32_t)v;
      break;
    }
    case 0x42: { /* i64.const */
      int64_t v;
      RD(d, vm_read_s64(&d->r, &v));
      out->bits = (uint64_t)v;
      break;
    }
    case 0x43: { /* f32.const */
      uint32_t v;
      RD(d, vm_read_f32(&d->r, &v));
      out->bits = v;
      break;
    }
    case 0x44: /* f64.const */
      RD(d, vm_read_f64(&d->r, &out->bits));
      break;
    case 0xd0: { /* ref.null t */
      uint8_t t;
      TRY(read_reftype(d, &t));
      out->bits = t;
      break;
    }
    case 0xd2: /* ref.func x */
    case 0x23: /* global.get x */
      RD(d, vm_read_u32(&d->r, &out->index));
      break;
    default:
      if (!vm_opcode_exists(op) || op == 0xfd) return fail_at(d, at, PVM_ERR_MALFORMED, "illegal opcode");
      defer_invalid(d, at, "constant expression required");
      constant = false;
      if (op >= 0x02 && op <= 0x04) depth++;
      RD(d, vm_skip_immediates(&d->r, op, NULL));
      continue;
    }
    out->op = op;
    nvalues++;
  }
}

/* ---- Sections ----------------------------------------------------------------------- */

static int sec_type(dec *d) {
  vm_module *m = d->m;
  uint32_t n;
  TRY(read_count(d, 1, &n));
  m->types = alloc_array(n, sizeof *m->types);
  if (!m->types) return nomem(d);
  for (uint32_t i = 0; i < n; i++) {
    vm_functype *ft = &m->types[i];
    const uint8_t *at = d->r.p;
    uint8_t form;
    uint32_t np, nr;
    RD(d, vm_read_u8(&d->r, &form));
    if (form != 0x60) {
      if (form & 0x80) return fail_at(d, at, PVM_ERR_MALFORMED, "integer representation too long");
      return fail_at(d, at, PVM_ERR_MALFORMED, "malformed functype");
    }
    TRY(read_count(d, 1, &np));
    ft->types = malloc((size_t)np + 1);
    if (!ft->types) return nomem(d);
    m->ntypes = i + 1; /* so vm_module_free frees it */
    ft->nparams = np;
    for (uint32_t k = 0; k < np; k++) TRY(read_valtype(d, &ft->types[k]));
    TRY(read_count(d, 1, &nr));
    /* Results follow the params in the same array. */
    uint8_t *types = realloc(ft->types, (size_t)np + nr + 1);
    if (!types) return nomem(d);
    ft->types = types;
    ft->nresults = nr;
    for (uint32_t k = 0; k < nr; k++) TRY(read_valtype(d, &ft->types[np + k]));
  }
  m->ntypes = n;
  return 0;
}

static int sec_import(dec *d) {
  vm_module *m = d->m;
  uint32_t n;
  TRY(read_count(d, 1, &n));
  m->imports = alloc_array(n, sizeof *m->imports);
  if (!m->imports) return nomem(d);
  m->nimports = n;
  for (uint32_t i = 0; i < n; i++) {
    vm_import *im = &m->imports[i];
    const uint8_t *at;
    uint8_t kind;
    TRY(read_name(d, &im->module));
    TRY(read_name(d, &im->name));
    at = d->r.p;
    RD(d, vm_read_u8(&d->r, &kind));
    switch (kind) {
    case PVM_EXTERN_FUNC:
      RD(d, vm_read_u32(&d->r, &im->u.func_type));
      m->nfunc_imports++;
      break;
    case PVM_EXTERN_TABLE:
      TRY(read_table_type(d, &im->u.table));
      m->ntable_imports++;
      break;
    case PVM_EXTERN_MEMORY:
      TRY(read_limits(d, &im->u.mem));
      m->nmem_imports++;
      break;
    case PVM_EXTERN_GLOBAL:
      TRY(read_global_type(d, &im->u.global));
      m->nglobal_imports++;
      break;
    default:
      return fail_at(d, at, PVM_ERR_MALFORMED, "malformed import kind");
    }
    im->kind = (pvm_extern_kind)kind;
  }
  return 0;
}

static int sec_function(dec *d) {
  vm_module *m = d->m;
  uint32_t n;
  TRY(read_count(d, 1, &n));
  m->funcs = alloc_array(n, sizeof *m->funcs);
  if (!m->funcs) return nomem(d);
  m->nfuncs = n;
  for (uint32_t i = 0; i < n; i++) RD(d, vm_read_u32(&d->r, &m->funcs[i].type));
  d->has_func_section = true;
  return 0;
}

static int sec_table(dec *d) {
  vm_module *m = d->m;
  uint32_t n;
  TRY(read_count(d, 1, &n));
  m->tables = alloc_array(n, sizeof *m->tables);
  if (!m->tables) return nomem(d);
  m->ntables = n;
  for (uint32_t i = 0; i < n; i++) TRY(read_table_type(d, &m->tables[i]));
  return 0;
}

static int sec_memory(dec *d) {
  vm_module *m = d->m;
  uint32_t n;
  TRY(read_count(d, 1, &n));
  m->mems = alloc_array(n, sizeof *m->mems);
  if (!m->mems) return nomem(d);
  m->nmems = n;
  for (uint32_t i = 0; i < n; i++) TRY(read_limits(d, &m->mems[i]));
  return 0;
}

static int sec_global(dec *d) {
  vm_module *m = d->m;
  uint32_t n;
  TRY(read_count(d, 1, &n));
  m->globals = alloc_array(n, sizeof *m->globals);
  if (!m->globals) return nomem(d);
  m->nglobals = n;
  for (uint32_t i = 0; i < n; i++) {
    TRY(read_global_type(d, &m->globals[i].type));
    TRY(read_const_expr(d, &m->globals[i].init));
  }
  return 0;
}

static int sec_export(dec *d) {
  vm_module *m = d->m;
  uint32_t n;
  TRY(read_count(d, 1, &n));
  m->exports = alloc_array(n, sizeof *m->exports);
  if (!m->exports) return nomem(d);
  m->nexports = n;
  for (uint32_t i = 0; i < n; i++) {
    vm_export *ex = &m->exports[i];
    const uint8_t *at;
    uint8_t kind;
    TRY(read_name(d, &ex->name));
    at = d->r.p;
    RD(d, vm_read_u8(&d->r, &kind));
    if (kind > PVM_EXTERN_GLOBAL)
      return fail_at(d, at, PVM_ERR_MALFORMED, "malformed export kind");
    ex->kind = (pvm_extern_kind)kind;
    RD(d, vm_read_u32(&d->r, &ex->index));
  }
  return 0;
}

static int sec_start(dec *d) {
  RD(d, vm_read_u32(&d->r, &d->m->start));
  d->m->has_start = true;
  return 0;
}

/* Element segment items: either function indices (flags 0-3) or expressions (4-7). */
static int read_elem_items(dec *d, vm_elem *e, bool exprs) {
  uint32_t n;
  TRY(read_count(d, 1, &n));
  e->items = alloc_array(n, sizeof *e->items);
  if (!e->items) return nomem(d);
  e->count = n;
  for (uint32_t i = 0; i < n; i++) {
    vm_const_expr *it = &e->items[i];
    if (exprs) {
      TRY(read_const_expr(d, it));
    } else {
      memset(it, 0, sizeof *it);
      it->op = 0xd2;
      RD(d, vm_read_u32(&d->r, &it->index));
    }
  }
  return 0;
}

static int read_elemkind(dec *d) {
  const uint8_t *at = d->r.p;
  uint8_t kind;
  RD(d, vm_read_u8(&d->r, &kind));
  if (kind != 0x00) return fail_at(d, at, PVM_ERR_MALFORMED, "malformed element kind");
  return 0;
}

static int read_elem(dec *d, vm_elem *e) {
  const uint8_t *at = d->r.p;
  uint32_t flags;
  RD(d, vm_read_u32(&d->r, &flags));
  if (flags > 7) return fail_at(d, at, PVM_ERR_MALFORMED, "malformed elements segment kind");
  /* Bit 0: passive or declarative; bit 1: explicit table index (active) or declarative;
   * bit 2: items are expressions with an explicit reference type. */
  e->elem_type = PVM_FUNCREF;
  if (flags & 1) {
    e->mode = (flags & 2) ? VM_SEG_DECLARATIVE : VM_SEG_PASSIVE;
  } else {
    e->mode = VM_SEG_ACTIVE;
    if (flags & 2) RD(d, vm_read_u32(&d->r, &e->table));
    TRY(read_const_expr(d, &e->offset));
  }
  if (flags & 3) { /* everything but 0 and 4 spells out the kind or type */
    if (flags & 4)
      TRY(read_reftype(d, &e->elem_type));
    else
      TRY(read_elemkind(d));
  }
  return read_elem_items(d, e, (flags & 4) != 0);
}

static int sec_element(dec *d) {
  vm_module *m = d->m;
  uint32_t n;
  TRY(read_count(d, 1, &n));
  m->elems = alloc_array(n, sizeof *m->elems);
  if (!m->elems) return nomem(d);
  m->nelems = n;
  for (uint32_t i = 0; i < n; i++) TRY(read_elem(d, &m->elems[i]));
  return 0;
}

static int sec_data_count(dec *d) {
  RD(d, vm_read_u32(&d->r, &d->m->data_count));
  d->m->has_data_count = true;
  return 0;
}

static int read_code(dec *d, vm_func *f) {
  uint32_t size, nruns;
  uint64_t total = 0;
  const uint8_t *body_end, *sec_end = d->r.end;
  RD(d, vm_read_u32(&d->r, &size));
  if (size > vm_reader_left(&d->r)) {
    d->r.p = d->r.end;
    return fail_at(d, d->r.p, PVM_ERR_MALFORMED, overrun_message(d));
  }
  body_end = d->r.p + size;
  d->r.end = body_end;
  TRY(read_count(d, 1, &nruns));
  f->local_runs = alloc_array(nruns, sizeof *f->local_runs);
  if (!f->local_runs) return nomem(d);
  f->nlocal_runs = nruns;
  for (uint32_t i = 0; i < nruns; i++) {
    RD(d, vm_read_u32(&d->r, &f->local_runs[i].count));
    TRY(read_valtype(d, &f->local_runs[i].type));
    total += f->local_runs[i].count;
  }
  if (total >= 0x100000000ull)
    return fail_at(d, d->r.p, PVM_ERR_MALFORMED, "too many locals");
  if (total > VM_MAX_ITEMS)
    return fail_at(d, d->r.p, PVM_ERR_MALFORMED, "implementation limit: too many locals");
  f->nlocals = (uint32_t)total;
  f->code = d->r.p;
  f->code_len = (uint32_t)(body_end - d->r.p);
  f->code_offset = (uint32_t)(d->r.p - d->r.base);
  d->r.p = body_end;
  d->r.end = sec_end;
  return 0;
}

static int sec_code(dec *d) {
  vm_module *m = d->m;
  uint32_t n;
  const uint8_t *at = d->r.p;
  RD(d, vm_read_u32(&d->r, &n));
  if (n != m->nfuncs)
    return fail_at(d, at, PVM_ERR_MALFORMED,
                   "function and code section have inconsistent lengths");
  d->r.p = at;
  TRY(read_count(d, 1, &n));
  for (uint32_t i = 0; i < n; i++) TRY(read_code(d, &m->funcs[i]));
  d->has_code_section = true;
  return 0;
}

static int read_data(dec *d, vm_data *s) {
  const uint8_t *at = d->r.p;
  uint32_t flags;
  RD(d, vm_read_u32(&d->r, &flags));
  switch (flags) {
  case 0:
    s->mode = VM_SEG_ACTIVE;
    TRY(read_const_expr(d, &s->offset));
    break;
  case 1:
    s->mode = VM_SEG_PASSIVE;
    break;
  case 2:
    s->mode = VM_SEG_ACTIVE;
    RD(d, vm_read_u32(&d->r, &s->memory));
    TRY(read_const_expr(d, &s->offset));
    break;
  default:
    return fail_at(d, at, PVM_ERR_MALFORMED, "malformed data segment kind");
  }
  RD(d, vm_read_u32(&d->r, &s->len));
  RD(d, vm_read_bytes(&d->r, s->len, &s->bytes));
  return 0;
}

static int sec_data(dec *d) {
  vm_module *m = d->m;
  uint32_t n;
  const uint8_t *at = d->r.p;
  TRY(read_count(d, 1, &n));
  if (m->has_data_count && n != m->data_count)
    return fail_at(d, at, PVM_ERR_MALFORMED,
                   "data count and data section have inconsistent lengths");
  m->datas = alloc_array(n, sizeof *m->datas);
  if (!m->datas) return nomem(d);
  m->ndatas = n;
  for (uint32_t i = 0; i < n; i++) TRY(read_data(d, &m->datas[i]));
  return 0;
}

/* The "name" section's function names (subsection 1). It is advisory: any error in it
 * is ignored and the names read so far are kept. */
static void read_func_names(dec *d) {
  vm_module *m = d->m;
  uint32_t total = m->nfunc_imports + m->nfuncs;
  vm_reader *r = &d->r;
  while (vm_reader_left(r) > 0) {
    uint8_t id;
    uint32_t size, n;
    const uint8_t *sub_end, *saved_end = r->end;
    if (!vm_read_u8(r, &id) || !vm_read_u32(r, &size) || size > vm_reader_left(r)) return;
    sub_end = r->p + size;
    if (id != 1) {
      r->p = sub_end;
      continue;
    }
    r->end = sub_end;
    if (!vm_read_u32(r, &n) || n > vm_reader_left(r) || total == 0) return;
    if (!m->func_names) {
      m->func_names = calloc(total, sizeof *m->func_names);
      if (!m->func_names) return;
      m->nfunc_names = total;
    }
    for (uint32_t i = 0; i < n; i++) {
      uint32_t idx, len;
      const uint8_t *s;
      if (!vm_read_u32(r, &idx) || !vm_read_u32(r, &len) || !vm_read_bytes(r, len, &s)) return;
      if (idx < total && utf8_valid(s, len)) {
        m->func_names[idx].ptr = (const char *)s;
        m->func_names[idx].len = len;
      }
    }
    r->p = sub_end;
    r->end = saved_end;
  }
}

static int sec_custom(dec *d) {
  vm_module *m = d->m;
  vm_custom *c;
  pvm_name name;
  TRY(read_name(d, &name));
  /* Grow by doubling; customs are rare, but a module may hold many. */
  if ((m->ncustoms & (m->ncustoms - 1)) == 0) {
    uint32_t cap = m->ncustoms ? m->ncustoms * 2 : 1;
    vm_custom *nc = realloc(m->customs, (size_t)cap * sizeof *nc);
    if (!nc) return nomem(d);
    m->customs = nc;
  }
  c = &m->customs[m->ncustoms++];
  c->name = name;
  c->bytes = d->r.p;
  c->len = (uint32_t)vm_reader_left(&d->r);
  if (name.len == 4 && memcmp(name.ptr, "name", 4) == 0 && !m->func_names) {
    vm_reader saved = d->r;
    read_func_names(d);
    d->r = saved;
  }
  d->r.p = d->r.end;
  return 0;
}

/* Where each section may appear: non-custom sections in this order, each at most once
 * (the data count section sits between element and code). */
static int section_rank(int id) {
  static const int rank[13] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 10};
  return rank[id];
}

static int read_section(dec *d, int id) {
  switch (id) {
  case SEC_CUSTOM: return sec_custom(d);
  case SEC_TYPE: return sec_type(d);
  case SEC_IMPORT: return sec_import(d);
  case SEC_FUNCTION: return sec_function(d);
  case SEC_TABLE: return sec_table(d);
  case SEC_MEMORY: return sec_memory(d);
  case SEC_GLOBAL: return sec_global(d);
  case SEC_EXPORT: return sec_export(d);
  case SEC_START: return sec_start(d);
  case SEC_ELEMENT: return sec_element(d);
  case SEC_CODE: return sec_code(d);
  case SEC_DATA: return sec_data(d);
  case SEC_DATA_COUNT: return sec_data_count(d);
  default: return fail_at(d, d->r.p, PVM_ERR_MALFORMED, "malformed section id");
  }
}

static int read_header(dec *d) {
  static const uint8_t magic[4] = {0x00, 0x61, 0x73, 0x6d};
  static const uint8_t version[4] = {0x01, 0x00, 0x00, 0x00};
  size_t len = (size_t)(d->file_end - d->r.p);
  if (len < 4) return fail_at(d, d->file_end, PVM_ERR_MALFORMED, MSG_UNEXPECTED_END);
  if (memcmp(d->r.p, magic, 4) != 0)
    return fail_at(d, d->r.p, PVM_ERR_MALFORMED, "magic header not detected");
  if (len < 8) return fail_at(d, d->file_end, PVM_ERR_MALFORMED, MSG_UNEXPECTED_END);
  if (memcmp(d->r.p + 4, version, 4) != 0)
    return fail_at(d, d->r.p + 4, PVM_ERR_MALFORMED, "unknown binary version");
  d->r.p += 8;
  return 0;
}

static int read_sections(dec *d) {
  int last_rank = 0;
  while (d->r.p < d->file_end) {
    const uint8_t *at = d->r.p;
    uint8_t id;
    uint32_t size;
    d->r.end = d->file_end;
    d->sec_id = -1;
    RD(d, vm_read_u8(&d->r, &id));
    if (id > SEC_DATA_COUNT) return fail_at(d, at, PVM_ERR_MALFORMED, "malformed section id");
    RD(d, vm_read_u32(&d->r, &size));
    if (size > vm_reader_left(&d->r))
      return fail_at(d, d->r.p, PVM_ERR_MALFORMED, "length out of bounds");
    if (id != SEC_CUSTOM) {
      if (section_rank(id) <= last_rank)
        return fail_at(d, at, PVM_ERR_MALFORMED, "unexpected content after last section");
      last_rank = section_rank(id);
    }
    d->sec_id = id;
    d->r.end = d->r.p + size;
    TRY(read_section(d, id));
    if (d->r.p != d->r.end)
      return fail_at(d, d->r.p, PVM_ERR_MALFORMED, "section size mismatch");
  }
  return 0;
}

/* Cross-section checks that only the end of the module can make. */
static int finish(dec *d) {
  vm_module *m = d->m;
  uint32_t total, k = 0;
  if (m->nfuncs > 0 && !d->has_code_section)
    return fail_at(d, d->file_end, PVM_ERR_MALFORMED,
                   "function and code section have inconsistent lengths");
  if (m->has_data_count && m->data_count != m->ndatas)
    return fail_at(d, d->file_end, PVM_ERR_MALFORMED,
                   "data count and data section have inconsistent lengths");
  total = m->nfunc_imports + m->nfuncs;
  m->func_types = alloc_array(total, sizeof *m->func_types);
  if (!m->func_types) return nomem(d);
  for (uint32_t i = 0; i < m->nimports; i++)
    if (m->imports[i].kind == PVM_EXTERN_FUNC) m->func_types[k++] = m->imports[i].u.func_type;
  for (uint32_t i = 0; i < m->nfuncs; i++) m->func_types[k++] = m->funcs[i].type;
  return 0;
}

int vm_decode(const uint8_t *bytes, size_t len, vm_module *m, pvm_error *err) {
  dec d;
  int rv;
  memset(m, 0, sizeof *m);
  memset(&d, 0, sizeof d);
  if (len > 0x7fffffffu) return vm_error_set(err, PVM_ERR_MALFORMED, -1, "module too large");
  m->bytes = malloc(len ? len : 1);
  if (!m->bytes) return vm_error_set(err, PVM_ERR_NOMEM, -1, "out of memory");
  if (len) memcpy(m->bytes, bytes, len);
  m->len = len;
  vm_reader_init(&d.r, m->bytes, m->bytes, m->bytes + len);
  d.file_end = m->bytes + len;
  d.m = m;
  d.err = err;
  d.sec_id = -1;
  rv = read_header(&d);
  if (!rv) rv = read_sections(&d);
  if (!rv) rv = finish(&d);
  if (!rv && d.deferred) {
    const uint8_t *at = NULL;
    const char *msg = vm_scan_bodies(m, 0, &at); /* format errors come first */
    if (msg)
      rv = vm_error_set(err, PVM_ERR_MALFORMED, (long)(at - m->bytes), "%s", msg);
    else
      rv = vm_error_set(err, PVM_ERR_INVALID, d.deferred_offset, "%s", d.deferred);
  }
  if (rv) vm_module_free(m);
  return rv;
}
