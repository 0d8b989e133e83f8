# Every dependency is a Debian package (scripts/install-deps.sh installs them); nothing is
# downloaded at build time.
find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)     # SHA-256 of the source files
find_package(zstd REQUIRED)                           # zstd::libzstd_shared
# Debian builds oneDNN 2.6 with its OpenCL GPU runtime, so its config needs OpenCL (ocl-icd-opencl-dev).
find_package(dnnl REQUIRED)                           # DNNL::dnnl
# xsimd 8.1's exported target links a bare `xtl`: find xtl first so the name resolves.
find_package(xtl REQUIRED)
find_package(xsimd REQUIRED)
find_package(CLI11 REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
# smoe-server's HTTP: Debian ships cpp-httplib compiled (libcpp-httplib-dev) with a pkg-config file only.
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
if(SMOE_BUILD_TESTS)
  find_package(Catch2 2 REQUIRED)                    # Catch2 v2: Catch2::Catch2
endif()
if(SMOE_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
