"""Export a training checkpoint to a model directory the C++ engine loads (docs/MODEL-FORMAT.md):
config.json (LM fields, "tokenizer": {"type": "byte"}, the `vision` and `stream` blocks) + model.safetensors (f32,
LM tensors and vision.* tensors).

    python3 tools/train/export.py build-train/ckpt/ckpt.pt assets/models/demo
"""

import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import safetensors_io  # noqa: E402
from model import STREAM_BLOCK, YocoVLM  # noqa: E402


def export(ckpt_path, out_dir):
    ck = torch.load(ckpt_path, map_location="cpu")
    cfg = ck["config"]
    cfg["stream"] = {**STREAM_BLOCK, **cfg.get("stream", {})}  # checkpoints from before a key existed get it
    model = YocoVLM(cfg)
    model.load_state_dict(ck["model"])
    os.makedirs(out_dir, exist_ok=True)
    st = ck.get("state", {})
    meta = {"format": "pt", "producer": "tools/train", "step": str(st.get("step", 0)),
            "train_minutes": f"{st.get('train_seconds', 0) / 60:.1f}"}
    safetensors_io.save(os.path.join(out_dir, "model.safetensors"), model.export_tensors(), meta)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    n = sum(p.numel() for p in model.parameters())
    print(f"exported {n} parameters ({os.path.getsize(os.path.join(out_dir, 'model.safetensors')) / 1e6:.2f} MB) "
          f"from step {st.get('step')} to {out_dir}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: export.py CKPT.pt OUT_DIR")
    export(sys.argv[1], sys.argv[2])
