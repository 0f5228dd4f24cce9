/*
 * json.h: a small JSON reader for the tools (pluginop-spec reads wast2json's output).
 *
 * json_parse() builds a tree of json_value nodes from a buffer. Strings are decoded
 * (escapes, \uXXXX with surrogate pairs to UTF-8) and keep their length, since wasm names
 * may contain NUL. Numbers keep their source text as well as a double. Nesting depth and
 * every read are bounded: bad input gives an error with its byte offset, never a crash.
 */
#ifndef PLUGINOP_TOOLS_JSON_H
#define PLUGINOP_TOOLS_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum json_type {
  JSON_NULL,
  JSON_FALSE,
  JSON_TRUE,
  JSON_NUMBER,
  JSON_STRING,
  JSON_ARRAY,
  JSON_OBJECT,
} json_type;

typedef struct json_value json_value;

/* One object member: |key| (decoded, |key_len| bytes, NUL-terminated too) and its value. */
typedef struct json_member {
  char *key;
  size_t key_len;
  json_value *value;
} json_member;

struct json_value {
  json_type type;
  union {
    struct {
      double value;
      char *text; /* the number as written, NUL-terminated */
    } number;
    struct {
      char *ptr; /* decoded UTF-8, NUL-terminated (may contain NUL bytes too) */
      size_t len;
    } string;
    struct {
      json_value **items;
      size_t count;
    } array;
    struct {
      json_member *members;
      size_t count;
    } object;
  } u;
};

#define JSON_MAX_DEPTH 64

/* Parses |len| bytes into a new tree in *out (free with json_free).
 * Returns 0, or -1 with *err_offset set to the byte offset of the problem and *err_msg to
 * a static description (either pointer may be NULL); -2 when memory runs out. */
int json_parse(const char *text, size_t len, json_value **out, size_t *err_offset,
               const char **err_msg);

/* Frees a tree from json_parse. NULL ok. */
void json_free(json_value *value);

/* Object member |key| (NUL-terminated), or NULL if |obj| is not an object or lacks it. */
const json_value *json_get(const json_value *obj, const char *key);

/* The string of member |key|, or NULL if absent or not a string. */
const char *json_get_string(const json_value *obj, const char *key);

/* Array length (0 if not an array) and item |i| (NULL if out of range). */
size_t json_array_len(const json_value *array);
const json_value *json_array_item(const json_value *array, size_t i);

#endif
