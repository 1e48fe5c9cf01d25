# EF_RUNTIME_ONLY: the on-device layer alone, e.g. cross-compiled for aarch64
# (scripts/test_aarch64.sh): runtime/ (libc, libm, pthreads) and its plain-C self-tests, which
# need no test framework. Included from the top CMakeLists, which returns right after.
include_directories(${CMAKE_SOURCE_DIR})
add_subdirectory(runtime)
enable_testing()
add_executable(kernels_selftest tests/runtime/kernels_selftest.c tests/runtime/kernels_checks.c)
target_link_libraries(kernels_selftest PRIVATE ef_runtime m)
add_test(NAME kernels_selftest COMMAND kernels_selftest)
# The device binary and the C API example (docs/device.md): they link ef_runtime only.
add_subdirectory(device)
add_subdirectory(examples)
