#!/usr/bin/env python3
"""Average the weights of training checkpoints that started from one model (a "model soup").

Runs fine-tuned from the same starting point with different seeds or loss weights land in one basin, and their
mean is often better than either (run 22: runs 20 and 21, both from run 16, README). The checkpoints must have the
same config (the same shapes); the output keeps the first one's optimiser state, training state and aux heads,
with the model weights (and the aux heads' weights, where every input has them alike) averaged.

    python3 tools/train/soup.py build-train/soup.pt build-train/run20/ckpt.pt build-train/run21/ckpt.pt
    python3 tools/train/export.py build-train/soup.pt /tmp/soup
"""
import sys

import torch


def mean_state(dicts):
    """The elementwise mean of state dicts with the same keys and shapes (integer tensors: the first's)."""
    keys = list(dicts[0])
    for d in dicts[1:]:
        if list(d) != keys:
            raise SystemExit("soup.py: the checkpoints' tensors differ (different configs?)")
    out = {}
    for k in keys:
        ts = [d[k] for d in dicts]
        if any(t.shape != ts[0].shape for t in ts):
            raise SystemExit(f"soup.py: tensor {k} has different shapes {[tuple(t.shape) for t in ts]}")
        out[k] = torch.stack([t.float() for t in ts]).mean(0).to(ts[0].dtype) if ts[0].is_floating_point() else ts[0]
    return out


def load(path):
    """A train.py checkpoint (ckpt.pt), or a one-line error."""
    try:
        ck = torch.load(path, map_location="cpu")
    except Exception as e:  # a missing, truncated or foreign file
        raise SystemExit(f"soup.py: cannot read {path}: {e or type(e).__name__}")
    if not isinstance(ck, dict) or "model" not in ck or "config" not in ck:
        raise SystemExit(f"soup.py: {path} is not a train.py checkpoint (no model weights and config)")
    return ck


def main(argv):
    if len(argv) < 3:
        raise SystemExit("usage: soup.py OUT.pt CKPT.pt CKPT.pt [CKPT.pt ...]")
    cks = [load(p) for p in argv[1:]]
    if any(c["config"] != cks[0]["config"] for c in cks[1:]):
        raise SystemExit("soup.py: the checkpoints' model configs differ")
    out = dict(cks[0])
    out["model"] = mean_state([c["model"] for c in cks])
    if all(isinstance(c.get("aux"), dict) for c in cks):
        try:
            out["aux"] = mean_state([c["aux"] for c in cks])
        except SystemExit:
            pass  # heads of different shapes: keep the first's
    torch.save(out, argv[0])
    print(f"averaged {len(cks)} checkpoints into {argv[0]}")


if __name__ == "__main__":
    main(sys.argv[1:])
