# Cross-compiling for 64-bit ARM Linux with Debian's gcc-aarch64-linux-gnu and
# libc6-dev-arm64-cross; programs run under qemu-user (scripts/test_aarch64.sh), which ctest
# uses through CMAKE_CROSSCOMPILING_EMULATOR. Only runtime/ is meant to be built this way
# (-DEF_RUNTIME_ONLY=ON): the training side needs x86 libraries.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)
