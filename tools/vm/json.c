/* json.c: the small JSON reader (see json.h). Recursive descent with a depth limit. */
#include "json.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
  const char *p;
  size_t len;
  size_t pos;
  const char *err;
  size_t err_pos;
  bool nomem;
} parser;

static json_value *parse_value(parser *ps, int depth);

static void fail(parser *ps, const char *msg) {
  if (!ps->err) {
    ps->err = msg;
    ps->err_pos = ps->pos;
  }
}

static void skip_ws(parser *ps) {
  while (ps->pos < ps->len) {
    char c = ps->p[ps->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
      break;
    ps->pos++;
  }
}

static json_value *new_value(parser *ps, json_type type) {
  json_value *v = calloc(1, sizeof *v);
  if (!v) {
    ps->nomem = true;
    fail(ps, "out of memory");
    return NULL;
  }
  v->type = type;
  return v;
}

/* Growable byte buffer for decoded strings. */
typedef struct sbuf {
  char *ptr;
  size_t len, cap;
} sbuf;

static bool sbuf_put(parser *ps, sbuf *b, const char *bytes, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 32;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *np = realloc(b->ptr, cap);
    if (!np) {
      ps->nomem = true;
      fail(ps, "out of memory");
      return false;
    }
    b->ptr = np;
    b->cap = cap;
  }
  memcpy(b->ptr + b->len, bytes, n);
  b->len += n;
  b->ptr[b->len] = 0;
  return true;
}

static int hex4(parser *ps, uint32_t *out) {
  if (ps->len - ps->pos < 4) {
    fail(ps, "truncated \\u escape");
    return -1;
  }
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    char c = ps->p[ps->pos++];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= (uint32_t)(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= (uint32_t)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v |= (uint32_t)(c - 'A' + 10);
    else {
      fail(ps, "bad hex digit in \\u escape");
      return -1;
    }
  }
  *out = v;
  return 0;
}

static size_t utf8_encode(uint32_t cp, char *out) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xc0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xe0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  out[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* \u escape after the "\u": one code unit, or a surrogate pair. Lone surrogates are kept
 * as their 3-byte encoding (wast2json never writes them; this just avoids failing). */
static bool parse_unicode_escape(parser *ps, sbuf *b) {
  uint32_t cp;
  if (hex4(ps, &cp) < 0)
    return false;
  if (cp >= 0xd800 && cp < 0xdc00 && ps->len - ps->pos >= 6 && ps->p[ps->pos] == '\\' &&
      ps->p[ps->pos + 1] == 'u') {
    size_t save = ps->pos;
    uint32_t lo;
    ps->pos += 2;
    if (hex4(ps, &lo) < 0)
      return false;
    if (lo >= 0xdc00 && lo < 0xe000)
      cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    else
      ps->pos = save;
  }
  char tmp[4];
  return sbuf_put(ps, b, tmp, utf8_encode(cp, tmp));
}

/* Parses a string starting at the opening quote into |b| (decoded). */
static bool parse_string_raw(parser *ps, sbuf *b) {
  ps->pos++; /* opening quote */
  if (!sbuf_put(ps, b, "", 0))
    return false;
  for (;;) {
    if (ps->pos >= ps->len) {
      fail(ps, "unterminated string");
      return false;
    }
    unsigned char c = (unsigned char)ps->p[ps->pos];
    if (c == '"') {
      ps->pos++;
      return true;
    }
    if (c < 0x20) {
      fail(ps, "control character in string");
      return false;
    }
    if (c != '\\') {
      size_t start = ps->pos;
      while (ps->pos < ps->len && ps->p[ps->pos] != '"' && ps->p[ps->pos] != '\\' &&
             (unsigned char)ps->p[ps->pos] >= 0x20)
        ps->pos++;
      if (!sbuf_put(ps, b, ps->p + start, ps->pos - start))
        return false;
      continue;
    }
    ps->pos++;
    if (ps->pos >= ps->len) {
      fail(ps, "unterminated escape");
      return false;
    }
    char e = ps->p[ps->pos++], out;
    switch (e) {
    case '"': out = '"'; break;
    case '\\': out = '\\'; break;
    case '/': out = '/'; break;
    case 'b': out = '\b'; break;
    case 'f': out = '\f'; break;
    case 'n': out = '\n'; break;
    case 'r': out = '\r'; break;
    case 't': out = '\t'; break;
    case 'u':
      if (!parse_unicode_escape(ps, b))
        return false;
      continue;
    default:
      ps->pos--;
      fail(ps, "bad escape");
      return false;
    }
    if (!sbuf_put(ps, b, &out, 1))
      return false;
  }
}

static json_value *parse_string(parser *ps) {
  sbuf b = {0};
  if (!parse_string_raw(ps, &b)) {
    free(b.ptr);
    return NULL;
  }
  json_value *v = new_value(ps, JSON_STRING);
  if (!v) {
    free(b.ptr);
    return NULL;
  }
  v->u.string.ptr = b.ptr;
  v->u.string.len = b.len;
  return v;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Numbers follow JSON's grammar exactly: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static json_value *parse_number(parser *ps) {
  size_t start = ps->pos;
  const char *p = ps->p;
  if (ps->pos < ps->len && p[ps->pos] == '-')
    ps->pos++;
  if (ps->pos >= ps->len || !is_digit(p[ps->pos])) {
    fail(ps, "bad number");
    return NULL;
  }
  if (p[ps->pos] == '0')
    ps->pos++;
  else
    while (ps->pos < ps->len && is_digit(p[ps->pos]))
      ps->pos++;
  if (ps->pos < ps->len && p[ps->pos] == '.') {
    ps->pos++;
    if (ps->pos >= ps->len || !is_digit(p[ps->pos])) {
      fail(ps, "bad number fraction");
      return NULL;
    }
    while (ps->pos < ps->len && is_digit(p[ps->pos]))
      ps->pos++;
  }
  if (ps->pos < ps->len && (p[ps->pos] == 'e' || p[ps->pos] == 'E')) {
    ps->pos++;
    if (ps->pos < ps->len && (p[ps->pos] == '+' || p[ps->pos] == '-'))
      ps->pos++;
    if (ps->pos >= ps->len || !is_digit(p[ps->pos])) {
      fail(ps, "bad number exponent");
      return NULL;
    }
    while (ps->pos < ps->len && is_digit(p[ps->pos]))
      ps->pos++;
  }
  size_t n = ps->pos - start;
  char *text = malloc(n + 1);
  json_value *v = text ? new_value(ps, JSON_NUMBER) : NULL;
  if (!v) {
    free(text);
    ps->nomem = true;
    fail(ps, "out of memory");
    return NULL;
  }
  memcpy(text, p + start, n);
  text[n] = 0;
  v->u.number.text = text;
  v->u.number.value = strtod(text, NULL);
  return v;
}

static bool literal(parser *ps, const char *word) {
  size_t n = strlen(word);
  if (ps->len - ps->pos < n || memcmp(ps->p + ps->pos, word, n) != 0)
    return false;
  ps->pos += n;
  return true;
}

/* Appends |item| to a growable pointer array. */
static bool push(parser *ps, void **arr, size_t *count, size_t *cap, size_t elem_size,
                 const void *item) {
  if (*count == *cap) {
    size_t ncap = *cap ? *cap * 2 : 4;
    void *np = realloc(*arr, ncap * elem_size);
    if (!np) {
      ps->nomem = true;
      fail(ps, "out of memory");
      return false;
    }
    *arr = np;
    *cap = ncap;
  }
  memcpy((char *)*arr + *count * elem_size, item, elem_size);
  (*count)++;
  return true;
}

static json_value *parse_array(parser *ps, int depth) {
  json_value *v = new_value(ps, JSON_ARRAY);
  if (!v)
    return NULL;
  size_t cap = 0;
  ps->pos++; /* [ */
  skip_ws(ps);
  if (ps->pos < ps->len && ps->p[ps->pos] == ']') {
    ps->pos++;
    return v;
  }
  for (;;) {
    json_value *item = parse_value(ps, depth + 1);
    if (!item)
      break;
    if (!push(ps, (void **)&v->u.array.items, &v->u.array.count, &cap, sizeof item, &item)) {
      json_free(item);
      break;
    }
    skip_ws(ps);
    if (ps->pos < ps->len && ps->p[ps->pos] == ',') {
      ps->pos++;
      continue;
    }
    if (ps->pos < ps->len && ps->p[ps->pos] == ']') {
      ps->pos++;
      return v;
    }
    fail(ps, "expected ',' or ']'");
    break;
  }
  json_free(v);
  return NULL;
}

static json_value *parse_object(parser *ps, int depth) {
  json_value *v = new_value(ps, JSON_OBJECT);
  if (!v)
    return NULL;
  size_t cap = 0;
  ps->pos++; /* { */
  skip_ws(ps);
  if (ps->pos < ps->len && ps->p[ps->pos] == '}') {
    ps->pos++;
    return v;
  }
  for (;;) {
    skip_ws(ps);
    if (ps->pos >= ps->len || ps->p[ps->pos] != '"') {
      fail(ps, "expected a member name");
      break;
    }
    sbuf key = {0};
    if (!parse_string_raw(ps, &key)) {
      free(key.ptr);
      break;
    }
    skip_ws(ps);
    if (ps->pos >= ps->len || ps->p[ps->pos] != ':') {
      free(key.ptr);
      fail(ps, "expected ':'");
      break;
    }
    ps->pos++;
    json_value *item = parse_value(ps, depth + 1);
    if (!item) {
      free(key.ptr);
      break;
    }
    json_member m = {key.ptr, key.len, item};
    if (!push(ps, (void **)&v->u.object.members, &v->u.object.count, &cap, sizeof m, &m)) {
      free(key.ptr);
      json_free(item);
      break;
    }
    skip_ws(ps);
    if (ps->pos < ps->len && ps->p[ps->pos] == ',') {
      ps->pos++;
      continue;
    }
    if (ps->pos < ps->len && ps->p[ps->pos] == '}') {
      ps->pos++;
      return v;
    }
    fail(ps, "expected ',' or '}'");
    break;
  }
  json_free(v);
  return NULL;
}

static json_value *parse_value(parser *ps, int depth) {
  if (depth > JSON_MAX_DEPTH) {
    fail(ps, "nesting too deep");
    return NULL;
  }
  skip_ws(ps);
  if (ps->pos >= ps->len) {
    fail(ps, "unexpected end of input");
    return NULL;
  }
  char c = ps->p[ps->pos];
  if (c == '{')
    return parse_object(ps, depth);
  if (c == '[')
    return parse_array(ps, depth);
  if (c == '"')
    return parse_string(ps);
  if (c == '-' || is_digit(c))
    return parse_number(ps);
  if (literal(ps, "true"))
    return new_value(ps, JSON_TRUE);
  if (literal(ps, "false"))
    return new_value(ps, JSON_FALSE);
  if (literal(ps, "null"))
    return new_value(ps, JSON_NULL);
  fail(ps, "unexpected character");
  return NULL;
}

int json_parse(const char *text, size_t len, json_value **out, size_t *err_offset,
               const char **err_msg) {
  parser ps = {.p = text, .len = len};
  *out = NULL;
  json_value *v = text ? parse_value(&ps, 0) : NULL;
  if (v) {
    skip_ws(&ps);
    if (ps.pos != ps.len) {
      fail(&ps, "trailing characters");
      json_free(v);
      v = NULL;
    }
  } else if (!text) {
    fail(&ps, "no input");
  }
  if (!v) {
    if (err_offset)
      *err_offset = ps.err_pos;
    if (err_msg)
      *err_msg = ps.err;
    return ps.nomem ? -2 : -1;
  }
  *out = v;
  return 0;
}

void json_free(json_value *v) {
  if (!v)
    return;
  switch (v->type) {
  case JSON_NUMBER:
    free(v->u.number.text);
    break;
  case JSON_STRING:
    free(v->u.string.ptr);
    break;
  case JSON_ARRAY:
    for (size_t i = 0; i < v->u.array.count; i++)
      json_free(v->u.array.items[i]);
    free(v->u.array.items);
    break;
  case JSON_OBJECT:
    for (size_t i = 0; i < v->u.object.count; i++) {
      free(v->u.object.members[i].key);
      json_free(v->u.object.members[i].value);
    }
    free(v->u.object.members);
    break;
  default:
    break;
  }
  free(v);
}

const json_value *json_get(const json_value *obj, const char *key) {
  if (!obj || obj->type != JSON_OBJECT)
    return NULL;
  size_t n = strlen(key);
  for (size_t i = 0; i < obj->u.object.count; i++) {
    const json_member *m = &obj->u.object.members[i];
    if (m->key_len == n && memcmp(m->key, key, n) == 0)
      return m->value;
  }
  return NULL;
}

const char *json_get_string(const json_value *obj, const char *key) {
  const json_value *v = json_get(obj, key);
  return v && v->type == JSON_STRING ? v->u.string.ptr : NULL;
}

size_t json_array_len(const json_value *a) {
  return a && a->type == JSON_ARRAY ? a->u.array.count : 0;
}

const json_value *json_array_item(const json_value *a, size_t i) {
  return i < json_array_len(a) ? a->u.array.items[i] : NULL;
}
