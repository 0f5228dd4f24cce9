/* extism-echo: Extism-style functions (no parameters, i32 result, data through the
 * kernel), called with pop_plugin_call_bytes():
 *   reverse   output = the input reversed (bulk copies: pop_input_read / pop_write)
 *   greeting  output = the "greeting" parameter (config_get), error if absent
 *   count     output = 8-byte little-endian counter kept in var "n" (var_get/var_set)
 *   fail      sets the error "bad input" and returns 1 */
#include <pluginop.h>

static uint8_t buf[4096];

static uint64_t kernel_string(const char *s) {
  uint32_t n = pop_strlen(s);
  uint64_t h = extism_alloc(n);
  if (h && extism_pop_write(h, 0, s, n) != 0)
    return 0;
  return h;
}

POP_EXPORT_BYTES(reverse) {
  uint64_t n = extism_input_length();
  if (n > sizeof buf)
    return 2;
  if (extism_pop_input_read(0, buf, (uint32_t)n) != 0)
    return 3;
  for (uint64_t i = 0; i < n / 2; i++) {
    uint8_t t = buf[i];
    buf[i] = buf[n - 1 - i];
    buf[n - 1 - i] = t;
  }
  uint64_t h = extism_alloc(n);
  if (n && (!h || extism_pop_write(h, 0, buf, (uint32_t)n) != 0))
    return 4;
  extism_output_set(h, n);
  return 0;
}

POP_EXPORT_BYTES(greeting) {
  uint64_t v = extism_config_get(kernel_string("greeting"));
  if (!v) {
    extism_error_set(kernel_string("no greeting configured"));
    return 1;
  }
  extism_output_set(v, extism_length(v));
  return 0;
}

POP_EXPORT_BYTES(count) {
  uint64_t key = kernel_string("n"), n = 0;
  uint64_t v = extism_var_get(key);
  if (v && extism_length(v) == 8)
    n = extism_load_u64(v);
  n++;
  uint64_t nv = extism_alloc(8);
  extism_store_u64(nv, n);
  extism_var_set(key, nv);
  extism_output_set(nv, 8);
  return 0;
}

POP_EXPORT_BYTES(fail) {
  extism_error_set(kernel_string("bad input"));
  return 1;
}
