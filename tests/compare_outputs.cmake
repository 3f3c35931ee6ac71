# Runs two executables and fails unless they print the same.
# Usage: cmake -DA=<executable> -DB=<executable> -P compare_outputs.cmake
execute_process(COMMAND ${A} OUTPUT_VARIABLE out_a RESULT_VARIABLE rc_a)
execute_process(COMMAND ${B} OUTPUT_VARIABLE out_b RESULT_VARIABLE rc_b)
if(NOT rc_a EQUAL 0 OR NOT rc_b EQUAL 0 OR out_a STREQUAL "")
  message(FATAL_ERROR "a probe failed (${rc_a}, ${rc_b})")
endif()
if(NOT out_a STREQUAL out_b)
  message(FATAL_ERROR "results differ between builds:\n--- ${A}\n${out_a}--- ${B}\n${out_b}")
endif()
message(STATUS "identical results:\n${out_a}")
