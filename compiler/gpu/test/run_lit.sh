#!/usr/bin/env bash
# Runs the GPU back end's lit tests under Bazel: ember-gpu-opt and
# ember-gpu-cc (arguments) and LLVM 22's FileCheck first on PATH; ptxas from
# /usr/local/cuda/bin and spirv-val from PATH are found by Inputs/validate.py.
set -euo pipefail
tools="$(mktemp -d)"
trap 'rm -rf "$tools"' EXIT
for tool in "$@"; do
  ln -s "$(cd "$(dirname "$tool")" && pwd)/$(basename "$tool")" \
    "$tools/$(basename "$tool")"
done
export PATH="$tools:/usr/lib/llvm-22/bin:$PATH"
suite="$(dirname "$(readlink -f "$0")")"
exec /usr/lib/llvm-22/bin/lit -sv ${XML_OUTPUT_FILE:+--xunit-xml-output="$XML_OUTPUT_FILE"} "$suite"
