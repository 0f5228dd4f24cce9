/* tool_io.h: file helpers shared by the VM tools. */
#ifndef PLUGINOP_TOOLS_IO_H
#define PLUGINOP_TOOLS_IO_H

#include <stddef.h>
#include <stdint.h>

/* Largest file the tools read (wasm modules, wast2json output). */
#define TOOL_MAX_FILE ((size_t)1 << 30)

/* Reads the whole file |path| into a new buffer (caller frees) with a NUL appended (not
 * counted in *len). Returns 0, or -1 with errno set (EFBIG when over TOOL_MAX_FILE). */
int tool_read_file(const char *path, uint8_t **out, size_t *len);

#endif
