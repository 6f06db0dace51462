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
"$clang" -std=c++17 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined \
  -fno-omit-frame-pointer -I"$include" "${tests[@]}" "${sources[@]}" \
  -o "$work/runtime_asan_tests" -lgtest_main -lgtest -lpthread -lopenblas -ldl -lsodium
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
