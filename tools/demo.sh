#!/usr/bin/env bash
# The main job on bundled data: installs packages, builds build/bin/yoco, then summarises a bundled video with the
# bundled demo model (assets/models/demo, see its MODEL_CARD.md for what it can and cannot do yet) and asks it a
# question mid-stream, printing the ground truth beside the answer. Safe to rerun (incremental build).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target yoco
Y=build/bin/yoco
VIDEO=assets/video/world-seed7.mp4
echo "== yoco summarize $VIDEO (demo model)"
$Y summarize "$VIDEO"
echo
echo "== yoco ask $VIDEO --question 'how many shapes can you see?' --at 35"
$Y ask "$VIDEO" --question "how many shapes can you see?" --at 35 --json
python3 - <<'PY'
import json
truth = json.load(open("assets/video/world-seed7.json"))
for q in truth["qa"]:
    if q["at"] == 35.0 and q["question"] == "how many shapes can you see?":
        print("ground truth:", json.dumps({"answer": q["answer"]}))
PY
