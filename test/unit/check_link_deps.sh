#!/usr/bin/env bash
# Fails when a runtime-only binary depends on LLVM or MLIR: the runtime
# (//runtime:model and below) must load and run models without them.
# Usage: check_link_deps.sh BINARY...
set -euo pipefail
status=0
for binary in "$@"; do
  # ldd resolves the whole closure (Bazel's per-library shared objects too).
  needed=$(ldd "$binary")
  echo "$binary loads:"
  echo "$needed" | sed 's/^/  /'
  if echo "$needed" | grep -Eiq 'libLLVM|libMLIR|libclang'; then
    echo "FAIL: $binary links LLVM/MLIR"
    status=1
  fi
  undefined=$(nm -C --undefined-only "$binary" | grep -E 'llvm::|mlir::' || true)
  if [ -n "$undefined" ]; then
    echo "FAIL: $binary references LLVM/MLIR symbols:"
    echo "$undefined" | head -5
    status=1
  fi
  defined=$(nm -C --defined-only "$binary" | grep -cE ' (llvm|mlir)::' || true)
  if [ "$defined" -ne 0 ]; then
    echo "FAIL: $binary contains $defined LLVM/MLIR symbols"
    status=1
  fi
done
[ "$status" -eq 0 ] && echo "OK: no LLVM or MLIR in $# binaries"
exit "$status"
