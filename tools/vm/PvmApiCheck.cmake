# PvmApiCheck.cmake: do the VM library's sources define every public function the tools,
# fuzzers and benchmarks call? The VM is written in parallel with its tools; while it is
# incomplete, linking them would fail, so their folders skip themselves instead.
#
#   include(${CMAKE_SOURCE_DIR}/tools/vm/PvmApiCheck.cmake)
#   pluginop_vm_api_check(ok missing)   # ok: TRUE/FALSE, missing: names not found
set(PLUGINOP_VM_API_USED
  pvm_limits_default pvm_status_message
  pvm_module_new pvm_module_validate pvm_module_del
  pvm_module_import_count pvm_module_export_count pvm_module_import pvm_module_export
  pvm_linker_new pvm_linker_del pvm_linker_define_func pvm_linker_define_instance
  pvm_instance_new pvm_instance_del pvm_instance_export pvm_instance_func pvm_func_type
  pvm_call pvm_instance_trap pvm_instance_trap_message pvm_instance_set_fuel
  pvm_instance_fuel_used pvm_instance_memory pvm_global_get pvm_global_type)

function(pluginop_vm_api_check ok_var missing_var)
  set(${ok_var} FALSE PARENT_SCOPE)
  set(${missing_var} "library target pluginop_vm" PARENT_SCOPE)
  if(NOT TARGET pluginop_vm)
    return()
  endif()
  file(GLOB srcs ${CMAKE_SOURCE_DIR}/src/vm/*.c)
  set(text "")
  foreach(s ${srcs})
    file(READ ${s} content)
    string(APPEND text "${content}")
  endforeach()
  set(missing "")
  foreach(fn ${PLUGINOP_VM_API_USED})
    # A definition: the name, a parameter list without ';' or '{', then a body.
    if(NOT text MATCHES "${fn}\\([^;{]*\\)[ \t\r\n]*{")
      list(APPEND missing ${fn})
    endif()
  endforeach()
  if(missing)
    set(${missing_var} "${missing}" PARENT_SCOPE)
  else()
    set(${ok_var} TRUE PARENT_SCOPE)
    set(${missing_var} "" PARENT_SCOPE)
  endif()
endfunction()
