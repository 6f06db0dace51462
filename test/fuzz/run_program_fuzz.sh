#!/usr/bin/env bash
# Builds the program-loader fuzz target (build_program_fuzz.sh), replays every
# input in the regression folder (programs that crashed, hung or exhausted
# memory in MLIR's bytecode reader before the program section was checked)
# and then fuzzes for a bounded time on a copy of the seed corpus. Any crash,
# sanitizer report, timeout or out-of-memory fails the test.
# Usage: run_program_fuzz.sh SECONDS FUZZ_SOURCE CORPUS_DIR REGRESSIONS_DIR DEPS_SO FILES...
set -euo pipefail
seconds=$1 fuzz_source=$2 corpus=$3 regressions=$4 deps=$5
shift 5
here=$(dirname "$0")
work=${TEST_TMPDIR:-$(mktemp -d)}
echo "building the program fuzz target ..."
bash "$here/build_program_fuzz.sh" "$work/program_loader_fuzz" "$fuzz_source" "$deps" "$@"
flags=(-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 -artifact_prefix="$work/")
count=$(ls "$regressions" | wc -l)
echo "replaying $count regression inputs ..."
# -runs=0 over a folder runs each input once and fails on the first crash.
"$work/program_loader_fuzz" "${flags[@]}" -runs=0 "$regressions" 2>&1 | tail -n 3
mkdir -p "$work/corpus"
cp "$corpus"/* "$work/corpus/"
echo "fuzzing for $seconds s on $(ls "$work/corpus" | wc -l) seeds ..."
# New inputs go to the scratch copy; the committed corpus stays as it is.
"$work/program_loader_fuzz" "${flags[@]}" -max_total_time="$seconds" \
  -print_final_stats=1 "$work/corpus" 2>&1 | tail -n 25
echo "OK: $count regression inputs read cleanly, no crash in $seconds s of fuzzing"
