# One warning policy for every target of the project.
add_library(smoe_warnings INTERFACE)
target_compile_options(smoe_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align -Wconversion -Wno-sign-conversion)
