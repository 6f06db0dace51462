#!/usr/bin/env bash
# Assembles the CUDA test kernel with ptxas for sm_90 when ptxas exists
# (PATH or /usr/local/cuda/bin); without it the check is skipped, saying why.
set -euo pipefail
ptx="$1"
ptxas="$(command -v ptxas || true)"
[ -z "$ptxas" ] && [ -x /usr/local/cuda/bin/ptxas ] && ptxas=/usr/local/cuda/bin/ptxas
if [ -z "$ptxas" ]; then
  echo "skipped: ptxas not found (on PATH or in /usr/local/cuda/bin); $ptx not assembled"
  exit 0
fi
"$ptxas" -arch=sm_90 "$ptx" -o "${TEST_TMPDIR:-/tmp}/vector_add.cubin"
echo "ok: $ptxas -arch=sm_90 assembled $ptx"
