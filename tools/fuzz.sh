#!/usr/bin/env bash
# Fuzzes the parsers (docs/FUZZING.md): configures build-fuzz/ with clang and YOCO_FUZZ=ON, builds the
# libFuzzer targets of tests/fuzz/ (ASan + UBSan) and runs each for SECONDS with its seed corpus and past
# regressions. Fails when any target crashes, hangs, leaks or trips a sanitizer; the input that did is kept in
# build-fuzz/findings/ (fix the bug, then copy it to tests/fuzz/regressions/<target>/).
#
#   tools/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     e.g. tools/fuzz.sh 600 request config
#
# The repository's corpus is copied to a temporary folder first, so a run never adds files to it; set
# YOCO_FUZZ_KEEP_CORPUS=DIR to keep what a run grew (DIR/<target>/) for a later run or a merge.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-15}
shift || true
BUILD=${YOCO_FUZZ_BUILD:-build-fuzz}
JOBS=${JOBS:-$(nproc)}

if ! command -v clang++ >/dev/null || ! command -v clang >/dev/null; then
  echo "fuzz.sh: clang is not installed (tools/install-deps.sh installs clang and libclang-rt-14-dev)" >&2
  exit 1
fi

if [ $# -gt 0 ]; then
  TARGETS=("$@")
else
  mapfile -t TARGETS < <(sed -n 's/^yoco_fuzz_target(\([A-Za-z0-9_]*\).*/\1/p' tests/fuzz/CMakeLists.txt)
fi

cmake -S . -B "$BUILD" -DYOCO_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DYOCO_CUDA=OFF >/dev/null
cmake --build "$BUILD" -j"$JOBS" --target "${TARGETS[@]/#/fuzz_}" >/dev/null

# The longest input worth trying per target (libFuzzer's default is 4096 bytes).
max_len() {
  case "$1" in
    tokenizer) echo 1024 ;;
    frame_message) echo 4200 ;;  # a header is at most 4096 bytes, after the 4-byte payload size
    tiktoken_file | hf_tokenizer_file) echo 8192 ;;  # a valid file lists all 256 bytes
    state_file) echo 32768 ;;  # the seeds are whole states of the test model (header, pages, checkpoints)
    *) echo 4096 ;;
  esac
}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
FINDINGS="$BUILD/findings"
mkdir -p "$FINDINGS"
failed=()
printf '%-20s %12s %8s  %s\n' target executions corpus result
for t in "${TARGETS[@]}"; do
  corpus="$WORK/corpus/$t"
  mkdir -p "$corpus"
  cp -r "tests/fuzz/corpus/$t/." "$corpus/" 2>/dev/null || true
  dirs=("$corpus")
  [ -d "tests/fuzz/regressions/$t" ] && dirs+=("tests/fuzz/regressions/$t")  # read, never written
  dict=()
  [ -f "tests/fuzz/dict/$t.dict" ] && dict=(-dict="tests/fuzz/dict/$t.dict")
  log="$WORK/$t.log"
  rc=0
  "$BUILD/bin/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" -max_len="$(max_len "$t")" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$FINDINGS/$t-" "${dict[@]}" "${dirs[@]}" \
    >"$log" 2>&1 &
  pid=$!  # in the background to learn its pid; an interrupted run stops it
  trap 'kill "$pid" 2>/dev/null; exit 130' INT TERM
  wait "$pid" || rc=$?
  trap - INT TERM
  rm -f "/dev/shm/yoco_fuzz_$pid" "/tmp/yoco_fuzz_$pid"  # a target's scratch file, left behind by a crash
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  units=$(find "$corpus" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    result=ok
  else
    result="FAILED (exit $rc): input in $FINDINGS/$t-*"
    failed+=("$t")
  fi
  printf '%-20s %12s %8s  %s\n' "$t" "${runs:-?}" "$units" "$result"
  if [ "$rc" -ne 0 ]; then
    grep -E "ERROR|SUMMARY|fuzz finding|==[0-9]+==|Test unit written" "$log" | head -20 >&2 || tail -30 "$log" >&2
  fi
  if [ -n "${YOCO_FUZZ_KEEP_CORPUS:-}" ]; then
    mkdir -p "$YOCO_FUZZ_KEEP_CORPUS/$t"
    cp -r "$corpus/." "$YOCO_FUZZ_KEEP_CORPUS/$t/"
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: findings in: ${failed[*]} (see docs/FUZZING.md, 'When a target fails')" >&2
  exit 1
fi
echo "fuzz.sh: ${#TARGETS[@]} targets, ${SECONDS_PER_TARGET} s each, no finding"
