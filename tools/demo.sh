#!/usr/bin/env bash
# The main job on bundled data: installs packages, builds build/bin/yoco, then runs it on a bundled video and
# a bundled model. Safe to rerun (incremental build).
# Until the trained demo model lands (vision issue), the "main job" shows the two halves that exist: the video
# pipeline sampling a real clip, and the YOCO engine scoring and continuing a token stream.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target yoco
Y=build/bin/yoco
CLIP=$(ls assets/video/*.mp4 assets/video/*.avi 2>/dev/null | head -n 1)
echo "== frames the sampler delivers from $CLIP at 1 fps"
$Y frames "$CLIP" --fps 1
echo "== YOCO model (tests/data/yoco_gret): NLL of a token stream, then a greedy continuation"
printf '5 17 42 8 99 23 61 4 77 12 30 55\n' > build/demo-tokens.txt
$Y score --model tests/data/yoco_gret --tokens build/demo-tokens.txt
$Y generate --model tests/data/yoco_gret --tokens build/demo-tokens.txt --max-new 16
