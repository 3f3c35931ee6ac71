# Runs a test executable lazily and with HCI_EAGER=1, each time logging a hash of every tensor
# it reads (HCI_READ_LOG), and fails unless both runs read exactly the same values.
# Usage: cmake -DTEST=<executable> -DWORK=<directory> -P compare_reads.cmake
file(MAKE_DIRECTORY ${WORK})
foreach(mode lazy eager)
  set(log ${WORK}/${mode}.log)
  file(REMOVE ${log})
  set(eager 0)
  if(mode STREQUAL eager)
    set(eager 1)
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -E env HCI_READ_LOG=${log} HCI_EAGER=${eager} ${TEST}
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${TEST} failed in ${mode} mode (exit ${rc})")
  endif()
  file(STRINGS ${log} lines_${mode})
  list(SORT lines_${mode})  # threads may read in any order
  list(LENGTH lines_${mode} count_${mode})
endforeach()
if(count_lazy EQUAL 0)
  message(FATAL_ERROR "${TEST} read nothing: the read log is not being written")
endif()
if(NOT lines_lazy STREQUAL lines_eager)
  message(FATAL_ERROR "${TEST}: lazy and eager runs read different values (${count_lazy} vs ${count_eager} reads; "
                      "see ${WORK}/lazy.log and ${WORK}/eager.log)")
endif()
message(STATUS "${TEST}: ${count_lazy} reads identical in lazy and eager mode")
