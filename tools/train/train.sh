#!/usr/bin/env bash
# One command: build `yoco` (world generator + scorer), generate and cache training videos, train, export the
# model directory, check it against the C++ engine and evaluate it on held-out seeds.
#
#   tools/train/train.sh                       # CPU (1 thread: faster than 2, README): 12 + 110 min, ~1,800 videos
#   DEVICE=cuda tools/train/train.sh           # GPU: bigger batches, all questions, 20k videos, 20k steps
#   RESUME=1 tools/train/train.sh              # go on from build-train/ckpt/ckpt.pt
# Environment: DEVICE (cpu|cuda), OUT (model dir, default assets/models/demo), MINUTES, VISION_MINUTES, VIDEOS,
# THREADS, IMAGE_SIZE (vision input, default 128; the cache is $BUILD/data$IMAGE_SIZE), TOKENS (vision tokens a
# frame, default 16 as the bundled model), ANSWER_NORM (answer-token weight n^-p, default 0.5 as run 5), MOTION
# (1: the encoder reads the previous-frame difference, as the bundled model since run 6; 0: still images),
# EXTRA (more train.py flags, e.g. "--init OLD_CKPT.pt" to start from another run's weights).
# Checkpoints and caches live under build-train/ (never committed).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-/usr/bin/python3}
DEVICE=${DEVICE:-cpu}
OUT=${OUT:-assets/models/demo}
BUILD=${BUILD:-build-train}
# Debian's PyTorch and NumPy, with the build's packages, when they are missing (a fresh machine has neither).
if [[ $PY == /usr/bin/python3 ]] && ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
  bash tools/install-deps.sh python3-torch python3-numpy
fi
if [[ ! -x $BUILD/bin/yoco ]]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DYOCO_WERROR=OFF
  cmake --build "$BUILD" --target yoco -j"$(nproc)"
fi
IMAGE_SIZE=${IMAGE_SIZE:-128}  # the world's 128x128 frames at full size (patch 16: the same 8x8 patch grid as 64/8)
args=(--out "$BUILD/ckpt" --cache "$BUILD/data$IMAGE_SIZE" --yoco "$BUILD/bin/yoco" --device "$DEVICE"
      --image-size "$IMAGE_SIZE" --tokens-per-frame "${TOKENS:-16}" --answer-norm "${ANSWER_NORM:-0.5}")
[[ ${MOTION:-1} == 1 ]] && args+=(--motion)
if [[ $DEVICE == cuda* ]]; then
  args+=(--videos "${VIDEOS:-20000}" --gen-procs "$(( $(nproc) > 2 ? $(nproc) - 2 : 1 ))" --min-videos 500
         --vision-minutes "${VISION_MINUTES:-5}" --steps "${STEPS:-20000}" --batch-tokens 24000 --qa-per-row 24
         --threads 4 --lr 1.5e-3 --dense)
else
  args+=(--videos "${VIDEOS:-1800}" --vision-minutes "${VISION_MINUTES:-12}" --minutes "${MINUTES:-110}"
         --threads "${THREADS:-1}" --qa-per-row 16 --batch-tokens 2000 --max-answer 300)
fi
[[ -n ${RESUME:-} ]] && args+=(--resume)
# shellcheck disable=SC2086
"$PY" tools/train/train.py "${args[@]}" ${EXTRA:-}
"$PY" tools/train/export.py "$BUILD/ckpt/ckpt.pt" "$OUT"
"$PY" tools/train/check_export.py "$OUT" --yoco "$BUILD/bin/yoco"
"$PY" tools/train/evaluate.py "$OUT" --seeds 500:550 --yoco "$BUILD/bin/yoco" --cache "$BUILD/data-eval" \
  --json "$BUILD/eval.json"
