/*
 * fuzz_vm_json: the JSON reader of the VM tools (tools/vm/json.c, which pluginop-spec
 * uses on wast2json's output). Any bytes: parse, walk the tree, free; never a crash or an
 * out-of-bounds read (the input is not NUL-terminated).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static size_t walk(const json_value *v, int depth) {
  if (!v || depth > JSON_MAX_DEPTH + 1)
    abort(); /* the parser promised a bounded tree */
  size_t n = 1;
  switch (v->type) {
  case JSON_STRING:
    if (v->u.string.ptr[v->u.string.len] != 0)
      abort(); /* decoded strings are NUL-terminated */
    break;
  case JSON_NUMBER:
    n += strlen(v->u.number.text);
    break;
  case JSON_ARRAY:
    for (size_t i = 0; i < json_array_len(v); i++)
      n += walk(json_array_item(v, i), depth + 1);
    break;
  case JSON_OBJECT:
    for (size_t i = 0; i < v->u.object.count; i++) {
      const json_member *m = &v->u.object.members[i];
      if (m->key[m->key_len] != 0 || json_get(v, m->key) == NULL)
        abort();
      n += walk(m->value, depth + 1);
    }
    break;
  default:
    break;
  }
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* A private copy of exactly |size| bytes, so ASan catches any read past the end. */
  char *copy = malloc(size ? size : 1);
  if (!copy)
    return 0;
  memcpy(copy, data, size);
  json_value *v = NULL;
  size_t off = 0;
  const char *msg = NULL;
  int rc = json_parse(copy, size, &v, &off, &msg);
  if (rc == 0)
    walk(v, 0);
  else if (v != NULL || off > size || (rc == -1 && !msg))
    abort();
  json_free(v);
  free(copy);
  return 0;
}
