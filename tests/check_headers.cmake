# Compiles each public header on its own (syntax only), so none depends on being included
# after another. Usage: cmake -DCXX=<compiler> -DROOT=<source dir> -P check_headers.cmake
file(GLOB_RECURSE headers RELATIVE ${ROOT}/include ${ROOT}/include/hci/*.hpp)
file(GLOB_RECURSE backend_headers RELATIVE ${ROOT}/backends/cpu/include ${ROOT}/backends/cpu/include/hci/*.hpp)
file(GLOB_RECURSE cuda_headers RELATIVE ${ROOT}/backends/cuda/include ${ROOT}/backends/cuda/include/hci/*.hpp)
file(GLOB_RECURSE rocm_headers RELATIVE ${ROOT}/backends/rocm/include ${ROOT}/backends/rocm/include/hci/*.hpp)
file(GLOB_RECURSE jit_headers RELATIVE ${ROOT}/jit/include ${ROOT}/jit/include/hci/*.hpp)
set(failed "")
# Each header alone, as plain headers and as declarations of a separately compiled runtime.
foreach(header IN LISTS headers backend_headers cuda_headers rocm_headers jit_headers)
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/header_check.cpp "#include <${header}>\n")
  foreach(mode -UHCI_SEPARATE_RUNTIME -DHCI_SEPARATE_RUNTIME)
    execute_process(
      COMMAND ${CXX} -std=c++20 -fsyntax-only -Wall -Wextra -Werror -DFMT_HEADER_ONLY ${mode} -I${ROOT}/include
              -I${ROOT}/backends/cpu/include -I${ROOT}/backends/cuda/include
              -I${ROOT}/backends/rocm/include -I${ROOT}/jit/include ${CMAKE_CURRENT_BINARY_DIR}/header_check.cpp
      RESULT_VARIABLE rc ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
      list(APPEND failed "${header} (${mode})")
      message("${header} does not compile on its own (${mode}):\n${err}")
    endif()
  endforeach()
endforeach()
list(LENGTH headers n)
list(LENGTH backend_headers m)
list(LENGTH cuda_headers c)
list(LENGTH rocm_headers r)
list(LENGTH jit_headers j)
if(failed)
  message(FATAL_ERROR "headers that do not compile alone: ${failed}")
endif()
math(EXPR total "${n} + ${m} + ${c} + ${r} + ${j}")
message(STATUS "${total} headers compile on their own")
