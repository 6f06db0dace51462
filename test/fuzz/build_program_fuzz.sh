#!/usr/bin/env bash
# Builds the program-loader fuzz target (ProgramLoaderFuzz.cpp) with clang-22's
# libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer. The files that
# check and parse a program (compiler/lib/ModelProgram.cpp,
# compiler/lib/ProgramBytecode.cpp and the diagnostics collector,
# compiler/lib/Diagnostics.cpp) are built here, instrumented, so that the
# fuzzer sees their coverage; the dialects and the runtime come uninstrumented
# from Bazel's libprogram_fuzz_deps.so, MLIR from Debian's libMLIR.so.
# Usage: build_program_fuzz.sh OUTPUT FUZZ_SOURCE DEPS_SO FILES...
#   FILES: compiler and runtime sources and headers (Bazel's $(locations)).
set -euo pipefail
output=$1 fuzz_source=$2 deps=$3
shift 3
clang=/usr/lib/llvm-22/bin/clang++
if [ ! -x "$clang" ] || ! ls /usr/lib/llvm-22/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  # scripts/setup installs both: their absence is a broken setup, not a skip.
  echo "FAIL: clang-22 with libFuzzer (packages clang-22, libclang-rt-22-dev) is missing; run scripts/setup"
  exit 1
fi
sources=() includes=()
for f in "$@"; do
  case "$f" in
    */lib/ModelProgram.cpp|*/lib/ProgramBytecode.cpp|*/lib/Diagnostics.cpp) sources+=("$f") ;;
    */include/ember/Compiler/ModelProgram.h) includes+=("-I${f%/ember/Compiler/ModelProgram.h}") ;;
    */include/ember/Runtime/ModelFile.h) includes+=("-I${f%/ember/Runtime/ModelFile.h}") ;;
  esac
done
# The manifests the target includes live next to it.
includes+=("-I$(dirname "$fuzz_source")")
deps_dir=$(cd "$(dirname "$deps")" && pwd -P)
"$clang" -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize=vptr \
  -fno-sanitize-recover=undefined -Wno-deprecated-declarations \
  "${includes[@]}" -I/usr/lib/llvm-22/include "$fuzz_source" "${sources[@]}" \
  -L"$deps_dir" -l:"$(basename "$deps")" -Wl,-rpath,"$deps_dir" \
  -L/usr/lib/llvm-22/lib -Wl,-rpath,/usr/lib/llvm-22/lib -lMLIR -lLLVM -o "$output"
