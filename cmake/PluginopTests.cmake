# pluginop_add_unit_tests(PART LIBRARY): every *_test.c in the calling folder becomes one
# test program PART_<file>, linked with LIBRARY, registered with CTest as PART/<file>.
# Each prints one line per failed check and ends with "N passed, N failed" (tests/test.h).
# Test programs may load the example plugins, so those are built first.
function(pluginop_add_unit_tests part library)
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.c)
  get_property(plugin_targets GLOBAL PROPERTY POP_PLUGIN_TARGETS)
  foreach(src ${sources})
    get_filename_component(name ${src} NAME_WE)
    set(exe ${part}_${name})
    add_executable(${exe} ${src})
    target_include_directories(${exe} PRIVATE ${CMAKE_SOURCE_DIR}/tests
                               ${CMAKE_SOURCE_DIR}/src/${part})
    target_link_libraries(${exe} PRIVATE ${library})
    target_compile_definitions(${exe} PRIVATE
                               PLUGINOP_SHARED_DIR="${PLUGINOP_SHARED_DIR}"
                               PLUGINOP_BINARY_DIR="${CMAKE_BINARY_DIR}"
                               PLUGINOP_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
    if(plugin_targets)
      add_dependencies(${exe} ${plugin_targets})
    endif()
    add_test(NAME ${part}/${name} COMMAND ${exe})
    set_tests_properties(${part}/${name} PROPERTIES TIMEOUT 300)
  endforeach()
endfunction()
