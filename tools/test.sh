#!/usr/bin/env bash
# The whole test suite: installs the packages, builds everything into build/ with warnings as errors, runs
# ctest (the fuzz corpora and regressions replay there too), then fuzzes every parser for a few seconds with
# clang's libFuzzer (tools/fuzz.sh, docs/FUZZING.md; YOCO_FUZZ_SECONDS per target, 0 skips it).
# YOCO_SANITIZE=1 builds with ASan/UBSan into build-asan/ instead. Safe to rerun (incremental).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
BUILD=build
EXTRA=()
if [ "${YOCO_SANITIZE:-0}" = "1" ]; then BUILD=build-asan; EXTRA+=(-DYOCO_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo); fi
JOBS=$(nproc)
cmake -S . -B "$BUILD" -DYOCO_WERROR=ON "${EXTRA[@]}" >/dev/null
cmake --build "$BUILD" -j"$JOBS"
(cd "$BUILD" && ctest --output-on-failure -j"$JOBS" --timeout 900)
FUZZ_SECONDS=${YOCO_FUZZ_SECONDS:-5}
if [ "$FUZZ_SECONDS" != "0" ]; then
  if command -v clang++ >/dev/null; then
    bash tools/fuzz.sh "$FUZZ_SECONDS"
  else
    echo "test.sh: clang is not installed: the fuzz stage is skipped" >&2
  fi
fi
