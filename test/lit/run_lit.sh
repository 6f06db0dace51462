#!/usr/bin/env bash
# Runs the lit suite under Bazel: the tools given as arguments (ember-opt,
# ember-compile, ...) from the build, FileCheck and not from LLVM 22.
set -euo pipefail
tools="$(mktemp -d)"
trap 'rm -rf "$tools"' EXIT
for tool in "$@"; do
  ln -s "$(cd "$(dirname "$tool")" && pwd)/$(basename "$tool")" \
    "$tools/$(basename "$tool")"
done
export PATH="$tools:/usr/lib/llvm-22/bin:$PATH"
suite="$(dirname "$(readlink -f "$0")")"
# Under Bazel, report each lit test in the XML that scripts/test sums up.
exec /usr/lib/llvm-22/bin/lit -sv ${XML_OUTPUT_FILE:+--xunit-xml-output="$XML_OUTPUT_FILE"} "$suite"
