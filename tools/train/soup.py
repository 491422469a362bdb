#!/usr/bin/env python3
"""Average the weights of training checkpoints that started from one model (a "model soup").

Runs fine-tuned from the same starting point with different seeds or loss weights land in one basin, and their
mean is often better than either (runs 22 and 27: fine-tunes of run 16, tools/train/README.md). The checkpoints must have the
same config (the same shapes); the output keeps the first one's optimiser state, training state and aux heads,
with the model weights (and the aux heads' weights, where every input has them alike) averaged.

    python3 tools/train/soup.py build-train/soup.pt build-train/run20/ckpt.pt build-train/run21/ckpt.pt
    python3 tools/train/export.py build-train/soup.pt /tmp/soup

An exported model directory (e.g. assets/models/demo, the model the fine-tunes started from) may be one of the
inputs: its weights join the mean; the output's aux heads are then the first checkpoint's.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train as TR  # noqa: E402


def mean_state(dicts):
    """The elementwise mean of state dicts with the same keys and shapes (integer tensors: the first's); ValueError
    when they differ."""
    keys = list(dicts[0])
    for d in dicts[1:]:
        if set(d) != set(keys):
            raise ValueError("the checkpoints' tensors differ (different configs?)")
    out = {}
    for k in keys:
        ts = [d[k] for d in dicts]
        if any(t.shape != ts[0].shape for t in ts):
            raise ValueError(f"tensor {k} has different shapes {[tuple(t.shape) for t in ts]}")
        out[k] = torch.stack([t.float() for t in ts]).mean(0).to(ts[0].dtype) if ts[0].is_floating_point() else ts[0]
    return out


def load(path):
    """A train.py checkpoint (ckpt.pt) or an exported model directory (its weights only), or a one-line error."""
    try:
        ck = TR.load_init(path)  # --init's reader: a checkpoint, or a directory's model.safetensors as {"model": ...}
    except Exception as e:  # a missing, truncated or foreign file
        raise SystemExit(f"soup.py: cannot read {path}: {e or type(e).__name__}")
    if not isinstance(ck, dict) or "model" not in ck or ("config" not in ck and not os.path.isdir(path)):
        raise SystemExit(f"soup.py: {path} is not a train.py checkpoint (no model weights and config)")
    return ck


def main(argv):
    if len(argv) < 3:
        raise SystemExit("usage: soup.py OUT.pt CKPT.pt|MODEL_DIR CKPT.pt|MODEL_DIR [...] (at least one CKPT.pt)")
    ins = [load(p) for p in argv[1:]]
    cks = [c for c in ins if "config" in c]  # model directories carry weights only (no config, state or aux heads)
    if not cks:
        raise SystemExit("soup.py: at least one input must be a train.py checkpoint (its config and state are kept)")
    if any(c["config"] != cks[0]["config"] for c in cks[1:]):
        raise SystemExit("soup.py: the checkpoints' model configs differ")
    out = dict(cks[0])
    try:
        out["model"] = mean_state([c["model"] for c in ins])
    except ValueError as e:
        raise SystemExit(f"soup.py: {e}")
    if len(cks) == len(ins) and all(isinstance(c.get("aux"), dict) for c in cks):
        try:
            out["aux"] = mean_state([c["aux"] for c in cks])
        except ValueError:
            pass  # heads of different shapes: keep the first's
    torch.save(out, argv[0])
    print(f"averaged {len(ins)} models into {argv[0]}")


if __name__ == "__main__":
    main(sys.argv[1:])
