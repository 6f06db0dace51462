#!/usr/bin/env bash
# Builds the whole runtime and its GoogleTest suites with clang-22's
# AddressSanitizer and UndefinedBehaviorSanitizer and runs them: any memory
# error, leak or undefined behaviour in the runtime fails the test.
# Usage: run_asan.sh TEST_SOURCES... [FAKE_ARTIFACT.c] -- RUNTIME_FILES...
# A .c file among the test sources is ModelRuntimeTest's native artifact: it
# is built as a plain shared object (the artifact is not instrumented, as a
# real one is not) and handed over in EMBER_TEST_CPU_ARTIFACT.
set -euo pipefail
tests=() artifact=""
while [ "$1" != "--" ]; do
  case "$1" in
    *.c) artifact=$1 ;;
    *) tests+=("$1") ;;
  esac
  shift
done
shift
clang=/usr/lib/llvm-22/bin/clang++
if [ ! -x "$clang" ] || ! ls /usr/lib/llvm-22/lib/clang/*/lib/linux/libclang_rt.asan-x86_64.a >/dev/null 2>&1; then
  echo "FAIL: clang-22 with ASan (packages clang-22, libclang-rt-22-dev) is missing; run scripts/setup"
  exit 1
fi
sources=() include=""
for f in "$@"; do
  case "$f" in
    *.cpp) sources+=("$f") ;;
    */include/ember/Runtime/Model.h) include=${f%/ember/Runtime/Model.h} ;;
  esac
done
work=${TEST_TMPDIR:-$(mktemp -d)}
echo "building ${#sources[@]} runtime sources and ${#tests[@]} test suites with ASan+UBSan ..."
flags=(-std=c++17 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined
  -fno-omit-frame-pointer -I"$include")
# One compile per file, as many at once as there are cores: the kernel files
# (CpuConv.cpp, GemmMicroKernels.cpp, CpuConvDepthwise.cpp) take most of the
# time under the sanitizers, and one clang call compiled every file in turn.
mkdir -p "$work/objects"
objects=() pids=() index=0 cores=$(nproc)
for f in "${tests[@]}" "${sources[@]}"; do
  index=$((index + 1))
  object="$work/objects/$index-$(basename "${f%.*}").o"
  objects+=("$object")
  # clang's -O1 with the sanitizers spends over 10 minutes (2 GB) on the
  # depthwise kernels' unrolled AVX-512 row templates; -O0 builds the file
  # in 2 s and instruments the same code.
  opt=-O1
  case "$f" in */CpuConvDepthwise.cpp) opt=-O0 ;; esac
  "$clang" "${flags[@]}" "$opt" -c "$f" -o "$object" &
  pids+=($!)
  if [ "${#pids[@]}" -ge "$cores" ]; then
    wait "${pids[0]}"
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do
  wait "$pid"
done
"$clang" "${flags[@]}" -O1 "${objects[@]}" -o "$work/runtime_asan_tests" \
  -lgtest_main -lgtest -lpthread -lopenblas -ldl -lsodium
if [ -n "$artifact" ]; then
  /usr/lib/llvm-22/bin/clang -O1 -fPIC -shared -nostartfiles -Wl,--hash-style=both \
    -Wl,-z,noexecstack "$artifact" -o "$work/libfake_cpu_artifact.so"
  export EMBER_TEST_CPU_ARTIFACT="$work/libfake_cpu_artifact.so"
fi
# LeakSanitizer runs too: a leaked block fails the test.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1
"$work/runtime_asan_tests" --gtest_brief=1
echo "OK: the runtime suites pass under ASan+UBSan"
