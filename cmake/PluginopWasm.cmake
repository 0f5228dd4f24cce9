# PluginopWasm.cmake: build WebAssembly modules (plugins, benchmark kernels) from C with
# Debian's clang for wasm32. Usable outside this project:
#
#   include(/path/to/pluginop/cmake/PluginopWasm.cmake)
#   pluginop_add_wasm(my_plugin SOURCES my_plugin.c
#                     [INCLUDES dir...] [EXPORTS name...] [FLAGS flag...] [OUTPUT path])
#
# makes target `my_plugin` that writes ${CMAKE_BINARY_DIR}/wasm/my_plugin.wasm (or OUTPUT),
# and sets the target property WASM_FILE to that path. Functions are exported with
# __attribute__((export_name("..."))) in the source or with EXPORTS; imports are declared
# with __attribute__((import_module("..."), import_name("..."))). No libc: the module is
# built -nostdlib with bulk memory, so memcpy/memset become memory.copy/memory.fill.

find_program(PLUGINOP_WASM_CC NAMES clang-14 clang DOC "clang able to target wasm32")
find_program(PLUGINOP_WASM_LD NAMES wasm-ld-14 wasm-ld DOC "lld's wasm linker")

function(pluginop_add_wasm name)
  cmake_parse_arguments(W "" "OUTPUT" "SOURCES;INCLUDES;EXPORTS;FLAGS" ${ARGN})
  if(NOT PLUGINOP_WASM_CC OR NOT PLUGINOP_WASM_LD)
    message(FATAL_ERROR "pluginop_add_wasm: clang and wasm-ld are needed (Debian: clang-14 lld-14)")
  endif()
  if(NOT W_OUTPUT)
    set(W_OUTPUT ${CMAKE_BINARY_DIR}/wasm/${name}.wasm)
  endif()
  set(srcs "")
  foreach(s ${W_SOURCES})
    get_filename_component(abs ${s} ABSOLUTE)
    list(APPEND srcs ${abs})
  endforeach()
  set(args --target=wasm32 -nostdlib -O2 -mbulk-memory -mmutable-globals -msign-ext
      -fno-builtin-printf -Wall -Wl,--no-entry -Wl,--strip-debug)
  set(hdrs "")
  foreach(i ${W_INCLUDES})
    get_filename_component(abs ${i} ABSOLUTE)
    list(APPEND args -I${abs})
    # IMPLICIT_DEPENDS does not follow <...> includes into these folders: depend on
    # their headers by name, so that a pdk header change rebuilds every plugin.
    file(GLOB_RECURSE h CONFIGURE_DEPENDS ${abs}/*.h)
    list(APPEND hdrs ${h})
  endforeach()
  foreach(e ${W_EXPORTS})
    list(APPEND args -Wl,--export=${e})
  endforeach()
  list(APPEND args ${W_FLAGS})
  get_filename_component(outdir ${W_OUTPUT} DIRECTORY)
  add_custom_command(
    OUTPUT ${W_OUTPUT}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${outdir}
    COMMAND ${PLUGINOP_WASM_CC} ${args} -fuse-ld=lld -o ${W_OUTPUT} ${srcs}
    DEPENDS ${srcs} ${hdrs}
    IMPLICIT_DEPENDS C ${srcs}
    COMMENT "wasm32: ${name}.wasm"
    VERBATIM)
  add_custom_target(${name} ALL DEPENDS ${W_OUTPUT})
  set_target_properties(${name} PROPERTIES WASM_FILE ${W_OUTPUT})
endfunction()
