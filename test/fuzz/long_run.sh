#!/usr/bin/env bash
# Long libFuzzer runs of the loader targets, one after the other (the machine
# is shared), then folds what they found into the committed corpora with
# -merge=1 (only inputs that add coverage are kept). Run from anywhere:
#   test/fuzz/long_run.sh [SECONDS per target, default 600] [TARGET...]
# TARGETs: model_loader, program_loader, artifact_inspect (default: all).
# Crashes stop a run and leave the input under the printed work folder.
set -euo pipefail
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(model_loader program_loader artifact_inspect)
cd "$(dirname "$0")/../.."
root=$PWD
bazel build //test/fuzz:libprogram_fuzz_deps.so
work=$(mktemp -d /tmp/ember-fuzz.XXXXXX)
echo "work folder: $work"
clang=/usr/lib/llvm-22/bin/clang++
"$clang" -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -I"$root/runtime/include" \
  test/fuzz/ModelLoaderFuzz.cpp runtime/lib/{ModelFile,Json,Manifest,HostTensor,ElementType,Npy,TempFiles,XxHash,HostAllocator}.cpp \
  -o "$work/model_loader_fuzz"
"$clang" -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -I"$root/runtime/include" \
  test/fuzz/ArtifactInspectFuzz.cpp \
  runtime/lib/{ArtifactAbi,ElfImage,Signature,ModelFile,Json,Manifest,HostTensor,ElementType,TempFiles,XxHash,HostAllocator}.cpp \
  -o "$work/artifact_inspect_fuzz" -lsodium
bash test/fuzz/build_program_fuzz.sh "$work/program_loader_fuzz" \
  "$root/test/fuzz/ProgramLoaderFuzz.cpp" "$root/bazel-bin/test/fuzz/libprogram_fuzz_deps.so" \
  "$root"/compiler/lib/{ModelProgram,ProgramBytecode}.cpp \
  "$root/compiler/include/ember/Compiler/ModelProgram.h" \
  "$root/runtime/include/ember/Runtime/ModelFile.h"

fuzz() { # NAME CORPUS
  local target=$work/$1_fuzz corpus=$root/$2 scratch=$work/$1
  mkdir -p "$scratch"
  cp "$corpus"/* "$scratch/"
  echo "== $1: $seconds s on $(ls "$scratch" | wc -l) inputs"
  "$target" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 -artifact_prefix="$work/$1-" "$scratch" \
    >"$work/$1.log" 2>&1 || { tail -n 60 "$work/$1.log"; exit 1; }
  grep -E "^#[0-9]+.*DONE|^stat::" "$work/$1.log"
  "$target" -merge=1 "$corpus" "$scratch" >"$work/$1-merge.log" 2>&1
  grep -E "MERGE-OUTER: [0-9]+ new files" "$work/$1-merge.log" || true
  echo "$2: $(ls "$corpus" | wc -l) files, $(du -sb "$corpus" | cut -f1) bytes"
}
for target in "${targets[@]}"; do
  case "$target" in
    model_loader) fuzz model_loader test/fuzz/corpus ;;
    program_loader) fuzz program_loader test/fuzz/program_corpus ;;
    artifact_inspect) fuzz artifact_inspect test/fuzz/artifact_corpus ;;
    *) echo "unknown target $target"; exit 1 ;;
  esac
done
