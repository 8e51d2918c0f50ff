# Runs EXE and fails unless its stdout equals the file EXPECTED byte for byte.
execute_process(COMMAND ${EXE} OUTPUT_VARIABLE actual RESULT_VARIABLE rc)
file(READ ${EXPECTED} expected)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${EXE} exited with ${rc}")
endif()
if(NOT actual STREQUAL expected)
  message(FATAL_ERROR "output differs.\n--- expected\n${expected}--- actual\n${actual}")
endif()
