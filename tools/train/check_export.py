"""Check an exported model directory against the C++ engine: `yoco score` (teacher-forced NLL of a text-only
token sequence) must equal the PyTorch NLL of the same weights (float64 on the f32 values) within --rtol.

    python3 tools/train/check_export.py assets/models/demo [--yoco build-train/bin/yoco]

Also loads the exported tensors back into the training model and checks every name and shape.
Exit status 0 when the per-token NLLs agree (max |diff| / max(|nll|) <= rtol, and the mean within rtol).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import safetensors_io  # noqa: E402
from model import YocoVLM  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--yoco", default="build-train/bin/yoco")
    ap.add_argument("--rtol", type=float, default=1e-4)
    a = ap.parse_args()
    cfg = json.load(open(os.path.join(a.model_dir, "config.json")))
    w, _ = safetensors_io.load(os.path.join(a.model_dir, "model.safetensors"))
    m = YocoVLM(cfg).double()
    m.load_state_dict({k: v.double() for k, v in w.items()}, strict=True)  # every name and shape
    m.eval()
    text = ("<s>[00:00] the stream starts\nQ: how many red squares are there?\nA: 2\n"
            "Q: what happened so far?\nA: 00:03 red square enters moving left; 00:07 flash\n")
    toks = [0] + [4 + b for b in text[3:].encode()]
    toks = toks * 3  # 400+ tokens: crosses the C++ prefill batch and the retention chunk
    L = len(toks)
    t = torch.tensor(toks)
    with torch.no_grad():
        logits = m.forward_embeds(m.embed(t[None]), torch.arange(L)[None], torch.ones(L, L, dtype=torch.bool).tril()[None])[0]
    nll_pt = -F.log_softmax(logits, -1)[:-1].gather(1, t[1:, None])[:, 0]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write(" ".join(map(str, toks)))
        path = f.name
    out = subprocess.run([a.yoco, "score", "--model", a.model_dir, "--tokens", path], check=True, capture_output=True,
                         text=True).stdout
    os.unlink(path)
    r = json.loads(out)
    nll_cpp = torch.tensor(r["nll"], dtype=torch.float64)
    err = ((nll_cpp - nll_pt).abs().max() / nll_pt.abs().max()).item()
    mean_err = abs(r["mean_nll"] - nll_pt.mean().item()) / abs(nll_pt.mean().item())
    print(f"{L} tokens: PyTorch mean NLL {nll_pt.mean().item():.6f}, C++ {r['mean_nll']:.6f}; "
          f"max per-token rel err {err:.2e}, mean rel err {mean_err:.2e} (rtol {a.rtol})")
    ok = err <= a.rtol and mean_err <= a.rtol
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
