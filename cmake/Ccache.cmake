# Use ccache when it is installed: rebuilds after a branch switch or a clean are cheap.
find_program(SMOE_CCACHE ccache)
if(SMOE_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${SMOE_CCACHE})
  set(CMAKE_C_COMPILER_LAUNCHER ${SMOE_CCACHE})
  set(CMAKE_CUDA_COMPILER_LAUNCHER ${SMOE_CCACHE})
endif()
