/*
 * qt_plugins.h: the --plugin FILE.wasm[:key=value,...] option of pluginop-client and
 * pluginop-server: loads each plugin once into a pop_store and puts the list into
 * pq_settings, so every connection gets its own instances (pq_settings.plugins).
 */
#ifndef QT_PLUGINS_H
#define QT_PLUGINS_H

#include <stdio.h>

#include "pluginop/quic.h"

#define QT_MAX_PLUGINS 8

typedef struct qt_plugins {
  pop_store *store;                    /* NULL until the first --plugin */
  size_t n;
  pq_plugin_spec spec[QT_MAX_PLUGINS];
  pop_param *params[QT_MAX_PLUGINS];   /* owned, spec[i].params */
  char *arg[QT_MAX_PLUGINS];           /* owned copies of the option values (split) */
} qt_plugins;

/* Parses one --plugin value FILE.wasm[:key=value,...] (parameters handed to the plugin:
 * get_param / config_get), loads the file (compiled once) and adds it. Plugins get every
 * permission but files. |prog| prefixes the error messages printed on stderr.
 * Returns 0, or -1 (bad syntax, too many plugins, unreadable or invalid module). */
int qt_plugins_add(qt_plugins *q, const char *prog, const char *arg);

/* Points |s| at the plugins (nothing without any). |q| must outlive every connection
 * made with |s|. */
void qt_plugins_apply(const qt_plugins *q, pq_settings *s);

/* Frees the plugins and the store; after every connection is gone. */
void qt_plugins_free(qt_plugins *q);

/* pq_callbacks.plugin_log / plugin_fault: one line on stderr each. */
void qt_plugin_log(pq_conn *c, const char *plugin, int level, const char *msg, size_t len,
                   void *user);
void qt_plugin_fault(pq_conn *c, const pop_fault *fault, void *user);

/* One line on |f| about the connection's plugins (nothing without plugins): calls,
 * faults, how many are enabled, and the outputs of plugin_control_0 if a plugin has
 * one (e.g. plugins/quic-probe's counters). */
void qt_plugins_summary(FILE *f, const char *prog, pq_conn *c);

#endif
