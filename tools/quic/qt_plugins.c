/*
 * qt_plugins.c: --plugin for the QUIC programs (see qt_plugins.h).
 */
#include "qt_plugins.h"

#include <stdlib.h>
#include <string.h>

/* Splits "k=v,k2=v2" in place into |out| (at most |cap|). Returns the count or -1. */
static int split_params(char *s, pop_param *out, size_t cap, const char *prog) {
  size_t n = 0;
  while (s && *s) {
    char *comma = strchr(s, ','), *eq;
    if (comma) *comma = 0;
    eq = strchr(s, '=');
    if (!eq || eq == s) {
      fprintf(stderr, "%s: --plugin parameter '%s' is not key=value\n", prog, s);
      return -1;
    }
    if (n == cap) {
      fprintf(stderr, "%s: --plugin: too many parameters\n", prog);
      return -1;
    }
    *eq = 0;
    out[n].key = s;
    out[n].value = eq + 1;
    n++;
    s = comma ? comma + 1 : NULL;
  }
  return (int)n;
}

int qt_plugins_add(qt_plugins *q, const char *prog, const char *arg) {
  char *copy, *sep, err[192] = "";
  size_t cap;
  int np;
  pq_plugin_spec *sp;
  if (q->n == QT_MAX_PLUGINS) {
    fprintf(stderr, "%s: at most %d --plugin options\n", prog, QT_MAX_PLUGINS);
    return -1;
  }
  if (!q->store && pop_store_new(NULL, &q->store) != 0) {
    fprintf(stderr, "%s: out of memory\n", prog);
    return -1;
  }
  copy = strdup(arg);
  if (!copy) return -1;
  /* The parameters start after ".wasm:" (a path may hold other colons). */
  sep = strstr(copy, ".wasm:");
  if (sep) {
    sep += 5;
    *sep++ = 0;
  }
  cap = 1;
  for (const char *p = sep; p && *p; p++) cap += *p == ',';
  q->params[q->n] = calloc(cap, sizeof(pop_param));
  q->arg[q->n] = copy;
  if (!q->params[q->n] || (np = split_params(sep, q->params[q->n], cap, prog)) < 0) {
    free(q->params[q->n]);
    free(copy);
    return -1;
  }
  sp = &q->spec[q->n];
  memset(sp, 0, sizeof(*sp));
  if (pop_store_load_file(q->store, copy, &sp->plugin, err, sizeof(err)) != 0) {
    fprintf(stderr, "%s: --plugin %s: %s\n", prog, copy, err[0] ? err : "cannot load");
    free(q->params[q->n]);
    free(copy);
    return -1;
  }
  sp->params = q->params[q->n];
  sp->n_params = (size_t)np;
  sp->permissions = POP_PERM_ALL & ~POP_PERM_FILE;
  q->n++;
  return 0;
}

void qt_plugins_apply(const qt_plugins *q, pq_settings *s) {
  if (q->n == 0) return;
  s->plugin_store = q->store;
  s->plugins = q->spec;
  s->n_plugins = q->n;
}

void qt_plugins_free(qt_plugins *q) {
  for (size_t i = 0; i < q->n; i++) {
    free(q->params[i]);
    free(q->arg[i]);
  }
  pop_store_del(q->store);
  memset(q, 0, sizeof(*q));
}

void qt_plugin_log(pq_conn *c, const char *plugin, int level, const char *msg, size_t len,
                   void *user) {
  fprintf(stderr, "[plugin %s] %.*s\n", plugin, (int)len, msg);
}

void qt_plugin_fault(pq_conn *c, const pop_fault *f, void *user) {
  fprintf(stderr, "[plugin %s] disabled on this connection: %s in %s (native code goes on)\n",
          f->plugin, f->why, f->op);
}

void qt_plugins_summary(FILE *f, const char *prog, pq_conn *c) {
  pop_handler *h = pq_conn_plugin_handler(c);
  pq_conn_stats st;
  pop_val out[POP_MAX_OUTPUTS];
  pop_call_result res;
  size_t enabled = 0, n;
  if (!h) return;
  n = pop_handler_plugin_count(h);
  for (size_t i = 0; i < n; i++) enabled += pop_handler_is_enabled(h, (int)i);
  pq_conn_get_stats(c, &st);
  fprintf(f, "%s: plugins: %zu attached, %zu enabled, %llu calls, %llu faults", prog, n,
          enabled, (unsigned long long)st.plugin_calls, (unsigned long long)st.plugin_faults);
  if (pop_handler_poctl(h, 0, NULL, 0, out, POP_MAX_OUTPUTS, &res) == 0 && res.n_outputs) {
    fprintf(f, "; plugin_control_0:");
    for (size_t i = 0; i < res.n_outputs; i++)
      fprintf(f, " %llu", (unsigned long long)out[i].u.u64);
  }
  fprintf(f, "\n");
}
