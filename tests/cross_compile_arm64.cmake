# Compiles the SIMD kernels for aarch64 (all of Highway's Arm targets). Highway's headers are
# architecture-independent; they are reached through a folder holding only a link to them, so
# the cross compiler does not pick up this machine's x86 system headers.
file(MAKE_DIRECTORY ${OUT}/arm64-include)
file(CREATE_LINK /usr/include/hwy ${OUT}/arm64-include/hwy SYMBOLIC)
foreach(file src/kernels/simd_rows.cc src/kernels/simd_columns.cc src/kernels/simd_backward.cc src/kernels/dispatch.cc
             src/kernels/reference_kernels.cc)
  execute_process(COMMAND ${CXX} -std=c++20 -O1 -Wall -Wextra -Werror -I${SRC}/include -I${SRC}/src
                          -I${OUT}/arm64-include -c ${SRC}/${file} -o ${OUT}/arm64-kernel.o
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "aarch64 compile of ${file} failed:\n${err}")
  endif()
endforeach()
message(STATUS "the kernels compile for aarch64 (NEON, SVE, SVE2)")
