#!/usr/bin/env bash
# Builds a runtime fuzz target (ModelLoaderFuzz.cpp, ArtifactInspectFuzz.cpp)
# with clang-22's libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer,
# and runs it for a bounded time on a copy of the seed corpus. Any crash or
# sanitizer report fails the test.
# Usage: run_fuzz.sh SECONDS FUZZ_SOURCE CORPUS_DIR RUNTIME_FILES...
set -euo pipefail
seconds=$1 fuzz_source=$2 corpus=$3
shift 3
clang=/usr/lib/llvm-22/bin/clang++
if [ ! -x "$clang" ] || ! ls /usr/lib/llvm-22/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  # scripts/setup installs both: their absence is a broken setup, not a skip.
  echo "FAIL: clang-22 with libFuzzer (packages clang-22, libclang-rt-22-dev) is missing; run scripts/setup"
  exit 1
fi
work=${TEST_TMPDIR:-$(mktemp -d)}
sources=() include=""
for f in "$@"; do
  case "$f" in
    */lib/ModelFile.cpp|*/lib/Json.cpp|*/lib/Manifest.cpp|*/lib/HostTensor.cpp|*/lib/ElementType.cpp|*/lib/Npy.cpp|*/lib/TempFiles.cpp|*/lib/XxHash.cpp|*/lib/HostAllocator.cpp|*/lib/Profiler.cpp) sources+=("$f") ;;
    */lib/ArtifactAbi.cpp|*/lib/ElfImage.cpp|*/lib/Signature.cpp) sources+=("$f") ;;
    */include/ember/Runtime/ModelFile.h) include=${f%/ember/Runtime/ModelFile.h} ;;
  esac
done
target=$(basename "$fuzz_source" .cpp)
echo "building $target from ${#sources[@]} runtime sources ..."
"$clang" -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -I"$include" "$fuzz_source" "${sources[@]}" \
  -o "$work/$target" -lsodium
mkdir -p "$work/corpus"
cp "$corpus"/* "$work/corpus/"
echo "fuzzing for $seconds s on $(ls "$work/corpus" | wc -l) seeds ..."
# New inputs go to the scratch copy; the committed corpus stays as it is.
"$work/$target" -max_total_time="$seconds" -rss_limit_mb=2048 \
  -timeout=10 -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" 2>&1 |
  tail -n 25
echo "OK: no crash in $seconds s of fuzzing"
