#!/usr/bin/env bash
# The one command a GPU session runs: configure the CUDA backend into build-cuda (YOCO_CUDA=ON, warnings as
# errors), build, run test_cuda, the whole ctest, and the kernel benchmarks, writing every log and table into
# "${OUT:-build-cuda/out}/". Each step is recorded in summary.md with its exit status and time; a failing
# test or benchmark does not stop the later steps (the script exits non-zero at the end if any step failed).
#
#   tools/cuda-check.sh                 # everything
#   YOCO_CUDA_QUICK=1 tools/cuda-check.sh   # smaller benchmark sizes
#   CUDA_ARCHS=90 tools/cuda-check.sh       # build only for the device at hand (faster build)
#   YOCO_CUDA_ONLY=1 tools/cuda-check.sh    # only the CUDA targets: no whole-tree build, no ctest
#
# If the machine cannot configure the tree (missing packages, no network), binaries already present in
# $BUILD/bin (e.g. carried over from a machine that built them) are still run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${BUILD:-build-cuda}
OUT=${OUT:-$BUILD/out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
SUMMARY="$OUT/summary.md"
JOBS=${JOBS:-$(nproc)}
FAILED=0

{
  echo "# tools/cuda-check.sh"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
  echo "- host: $(uname -n), $(nproc) cores"
  echo
  echo "| step | status | seconds | log |"
  echo "|---|---|---|---|"
} > "$SUMMARY"

# step NAME LOGFILE COMMAND...: runs the command with its output in $OUT/LOGFILE, records the outcome.
step() {
  local name=$1 log=$2
  shift 2
  local t0 t1 rc=0
  t0=$(date +%s)
  echo "== $name"
  "$@" > "$OUT/$log" 2>&1 || rc=$?
  t1=$(date +%s)
  if [ "$rc" -eq 0 ]; then
    echo "| $name | ok | $((t1 - t0)) | $log |" >> "$SUMMARY"
  else
    echo "| $name | FAILED (exit $rc) | $((t1 - t0)) | $log |" >> "$SUMMARY"
    echo "   failed (exit $rc), last lines of $log:"
    tail -n 20 "$OUT/$log" | sed 's/^/   /'
    FAILED=1
  fi
  return 0
}

{
  command -v nvidia-smi > /dev/null && nvidia-smi || echo "nvidia-smi not found"
  /usr/local/cuda/bin/nvcc --version 2>/dev/null || nvcc --version 2>/dev/null || echo "nvcc not found"
  for b in test_cuda bench_cuda_ops; do [ -x "$BUILD/bin/$b" ] && { echo "ldd $b:"; ldd "$BUILD/bin/$b"; }; done
} > "$OUT/device.txt" 2>&1 || true

ARCH_ARGS=()
if [ -n "${CUDA_ARCHS:-}" ]; then ARCH_ARGS+=("-DCMAKE_CUDA_ARCHITECTURES=$CUDA_ARCHS"); fi
step "configure" configure.log cmake -S "$ROOT" -B "$BUILD" -DYOCO_CUDA=ON -DYOCO_WERROR=ON "${ARCH_ARGS[@]}"
# Build the CUDA targets first so that a failure elsewhere in the tree cannot hide them.
step "build yoco_cuda test_cuda bench_cuda_ops yoco" build-cuda.log \
  cmake --build "$BUILD" -j"$JOBS" --target yoco_cuda test_cuda bench_cuda_ops yoco
CUDA_ONLY=${YOCO_CUDA_ONLY:-0}
if [ "$CUDA_ONLY" != "1" ]; then step "build all" build-all.log cmake --build "$BUILD" -j"$JOBS"; fi

if [ -x "$BUILD/bin/test_cuda" ]; then
  step "test_cuda" test_cuda.log "$BUILD/bin/test_cuda" --gtest_output="xml:$OUT/test_cuda.xml"
  # A device that is present must not be skipped: count the skips.
  if grep -q "SKIPPED \]" "$OUT/test_cuda.log" 2>/dev/null; then
    echo "| test_cuda skipped tests (no device?) | WARNING | 0 | test_cuda.log |" >> "$SUMMARY"
  fi
fi
[ "$CUDA_ONLY" = "1" ] || step "ctest (whole tree)" ctest.log bash -c "cd '$BUILD' && ctest --output-on-failure -j'$JOBS' --timeout 900"

BENCH_ARGS=()
if [ "${YOCO_CUDA_QUICK:-0}" = "1" ]; then BENCH_ARGS+=(--quick); fi
if [ -x "$BUILD/bin/bench_cuda_ops" ]; then
  step "bench_cuda_ops" bench_cuda_ops.log bash -c "'$BUILD/bin/bench_cuda_ops' ${BENCH_ARGS[*]:-} > '$OUT/bench_cuda_ops.md'"
fi
# The model-level benchmark (llm/device_session.h): YOCO-3B shape vs the same-shape Transformer.
LLM_ARGS=()
if [ "${YOCO_CUDA_QUICK:-0}" = "1" ]; then LLM_ARGS+=(--contexts 32K,128K --reps 2); fi
if [ -x "$BUILD/bin/yoco" ]; then
  step "yoco bench llm --device cuda" bench_llm.log \
    bash -c "'$BUILD/bin/yoco' bench llm --device cuda ${LLM_ARGS[*]:-} > '$OUT/bench_llm.md'"
  # The 8-bit cache (issue 6: <= 10 GB at 1M tokens): the same table with int8 K/V.
  step "yoco bench llm --device cuda --cache-dtype int8" bench_llm_int8.log \
    bash -c "'$BUILD/bin/yoco' bench llm --device cuda --cache-dtype int8 ${LLM_ARGS[*]:-} > '$OUT/bench_llm_int8.md'"
  # The vision encoder, CPU beside GPU in one run: the realistic 224/16 shape and the demo model's 128/16.
  step "yoco bench vision --device cuda" bench_vision.log bash -c "{ \
    '$BUILD/bin/yoco' bench vision --device cuda --input 1280x720 --reps 10; \
    '$BUILD/bin/yoco' bench vision --device cuda --input 128x128 --image-size 128 --patch 16 --width 64 --layers 2 \
      --heads 4 --mlp 192 --tokens 4 --proj 256 --dim 128 --batch 256 --reps 10; } > '$OUT/bench_vision.md'"
fi

{
  echo
  if [ "$FAILED" -eq 0 ]; then echo "All steps passed."; else echo "Some steps FAILED: see the logs above."; fi
  echo
  if [ -f "$OUT/bench_cuda_ops.md" ]; then cat "$OUT/bench_cuda_ops.md"; fi
  if [ -f "$OUT/bench_llm.md" ]; then echo; cat "$OUT/bench_llm.md"; fi
  if [ -f "$OUT/bench_llm_int8.md" ]; then echo; cat "$OUT/bench_llm_int8.md"; fi
  if [ -f "$OUT/bench_vision.md" ]; then echo; cat "$OUT/bench_vision.md"; fi
} >> "$SUMMARY"
echo "== summary: $SUMMARY"
cat "$SUMMARY"
exit "$FAILED"
