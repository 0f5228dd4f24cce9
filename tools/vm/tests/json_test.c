/* json_test.c: the tools' JSON reader (tools/vm/json.c). */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "test.h"

static json_value *parse(const char *s) {
  json_value *v = NULL;
  return json_parse(s, strlen(s), &v, NULL, NULL) == 0 ? v : NULL;
}

static void test_tools_json_parses_wast2json_shape(void) {
  const char *doc = "{\"source_filename\": \"a.wast\",\n \"commands\": [\n"
                    "  {\"type\": \"module\", \"line\": 3, \"filename\": \"a.0.wasm\"}, \n"
                    "  {\"type\": \"assert_return\", \"line\": 4, \"action\": {\"type\": "
                    "\"invoke\", \"field\": \"f\", \"args\": [{\"type\": \"i32\", "
                    "\"value\": \"4294967295\"}]}, \"expected\": []}]}";
  json_value *v = parse(doc);
  CHECK(v != NULL);
  const json_value *cmds = json_get(v, "commands");
  CHECK_INT(2, ==, json_array_len(cmds));
  const json_value *c1 = json_array_item(cmds, 1);
  CHECK_STR("assert_return", json_get_string(c1, "type"));
  CHECK_INT(4, ==, (int)json_get(c1, "line")->u.number.value);
  const json_value *arg = json_array_item(json_get(json_get(c1, "action"), "args"), 0);
  CHECK_STR("4294967295", json_get_string(arg, "value"));
  CHECK(json_array_item(cmds, 2) == NULL);
  CHECK(json_get(v, "missing") == NULL);
  json_free(v);
}

static void test_tools_json_decodes_escapes(void) {
  json_value *v = parse("[\"a\\u0000b\", \"\\u00e9\\ud83d\\ude00\\n\\\"\\\\\\/\"]");
  CHECK(v != NULL);
  const json_value *s0 = json_array_item(v, 0), *s1 = json_array_item(v, 1);
  CHECK_INT(3, ==, s0->u.string.len);
  CHECK_MEM("a\0b", s0->u.string.ptr, 3);
  CHECK_INT(2 + 4 + 4, ==, s1->u.string.len);
  CHECK_MEM("\xc3\xa9\xf0\x9f\x98\x80\n\"\\/", s1->u.string.ptr, 10);
  json_free(v);
}

static void test_tools_json_numbers_and_literals(void) {
  json_value *v = parse(" [0, -12.5e2, true, false, null, {}, []] ");
  CHECK(v != NULL);
  CHECK_INT(7, ==, json_array_len(v));
  CHECK(json_array_item(v, 1)->u.number.value == -1250.0);
  CHECK_STR("-12.5e2", json_array_item(v, 1)->u.number.text);
  CHECK_INT(JSON_TRUE, ==, json_array_item(v, 2)->type);
  CHECK_INT(JSON_NULL, ==, json_array_item(v, 4)->type);
  CHECK_INT(JSON_OBJECT, ==, json_array_item(v, 5)->type);
  json_free(v);
}

static void test_tools_json_rejects_bad_input(void) {
  static const char *bad[] = {"",       "[",         "[1,]",      "{\"a\" 1}", "\"abc",
                              "01",     "1.",        "-",         "[1] x",     "tru",
                              "\"\\x\"", "\"\\u12\"", "{\"a\":}", "\"\x01\""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    json_value *v = (json_value *)1;
    size_t off = 999;
    const char *msg = NULL;
    CHECK_INT(-1, ==, json_parse(bad[i], strlen(bad[i]), &v, &off, &msg));
    CHECK(v == NULL);
    CHECK(msg != NULL);
    CHECK(off <= strlen(bad[i]));
  }
}

static void test_tools_json_limits_depth(void) {
  char deep[JSON_MAX_DEPTH + 10];
  memset(deep, '[', sizeof deep);
  json_value *v = NULL;
  CHECK_INT(-1, ==, json_parse(deep, sizeof deep, &v, NULL, NULL));
  char ok[2 * JSON_MAX_DEPTH];
  memset(ok, '[', JSON_MAX_DEPTH);
  memset(ok + JSON_MAX_DEPTH, ']', JSON_MAX_DEPTH);
  CHECK_INT(0, ==, json_parse(ok, sizeof ok, &v, NULL, NULL));
  json_free(v);
}

static void test_tools_json_does_not_read_past_length(void) {
  /* The buffer is not NUL-terminated: only |len| bytes may be read. */
  char *buf = malloc(4);
  memcpy(buf, "[1,2", 4);
  json_value *v = NULL;
  CHECK_INT(-1, ==, json_parse(buf, 4, &v, NULL, NULL));
  memcpy(buf, "\"ab\"", 4);
  CHECK_INT(0, ==, json_parse(buf, 4, &v, NULL, NULL));
  CHECK_STR("ab", v->u.string.ptr);
  json_free(v);
  free(buf);
}

int main(void) {
  RUN(test_tools_json_parses_wast2json_shape);
  RUN(test_tools_json_decodes_escapes);
  RUN(test_tools_json_numbers_and_literals);
  RUN(test_tools_json_rejects_bad_input);
  RUN(test_tools_json_limits_depth);
  RUN(test_tools_json_does_not_read_past_length);
  return test_report();
}
