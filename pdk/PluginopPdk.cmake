# PluginopPdk.cmake: build pluginop plugins written in C. Usable from any CMake project:
#
#   include(/path/to/pluginop/pdk/PluginopPdk.cmake)
#   pluginop_add_plugin(my_plugin SOURCES my_plugin.c
#                       [INCLUDES dir...] [FLAGS flag...] [OUTPUT path] [STACK_SIZE bytes])
#
# makes target `my_plugin` writing ${CMAKE_BINARY_DIR}/wasm/my_plugin.wasm (or OUTPUT),
# compiled by Debian's clang for wasm32 with the pdk headers on the include path
# (#include <pluginop.h>). The stack defaults to 16 KiB so that a small plugin fits in one
# 64 KiB page of linear memory. The target property WASM_FILE holds the output path.
include(${CMAKE_CURRENT_LIST_DIR}/../cmake/PluginopWasm.cmake)

function(pluginop_add_plugin name)
  cmake_parse_arguments(P "" "OUTPUT;STACK_SIZE" "SOURCES;INCLUDES;FLAGS" ${ARGN})
  get_filename_component(pdk ${CMAKE_CURRENT_FUNCTION_LIST_DIR} ABSOLUTE)
  if(NOT P_STACK_SIZE)
    set(P_STACK_SIZE 16384)
  endif()
  set(extra "")
  if(P_OUTPUT)
    set(extra OUTPUT ${P_OUTPUT})
  endif()
  pluginop_add_wasm(${name} SOURCES ${P_SOURCES}
    INCLUDES ${pdk} ${pdk}/../include ${P_INCLUDES}
    FLAGS -Wl,-z,stack-size=${P_STACK_SIZE} ${P_FLAGS}
    ${extra})
  set_property(GLOBAL APPEND PROPERTY POP_PLUGIN_TARGETS ${name})
endfunction()
