#!/usr/bin/env bash
# Runs the lit suite under Bazel: ember-opt from the build, FileCheck and not
# from LLVM 22.
set -euo pipefail
opt="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
tools="$(mktemp -d)"
trap 'rm -rf "$tools"' EXIT
ln -s "$opt" "$tools/ember-opt"
export PATH="$tools:/usr/lib/llvm-22/bin:$PATH"
suite="$(dirname "$(readlink -f "$0")")"
# Under Bazel, report each lit test in the XML that scripts/test sums up.
exec /usr/lib/llvm-22/bin/lit -sv ${XML_OUTPUT_FILE:+--xunit-xml-output="$XML_OUTPUT_FILE"} "$suite"
