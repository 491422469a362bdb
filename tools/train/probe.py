#!/usr/bin/env python3
"""What a checkpoint's frame features carry, on videos it never trained on, beside the same on training videos.

The training log's v_*/h_* accuracies (aux.py heads: digits, direction, presence, the frame's own time, ...) are
measured on the batch being trained, so they cannot tell a model that reads the frame from one that remembers
the training videos. This runs a checkpoint saved with its heads (train.py's ckpt.pt or vision.pt) over whole
videos of two caches — held-out seeds (data.py --seed0 50000: neither training, >= 100000, nor the evaluation
seeds, < 1000) and training seeds — and prints each head's accuracy on both, so a gap shows where the model
memorises instead of seeing. Each video is one stream row (every kept frame, in order, as at run time).

    python3 tools/train/data.py --cache build-train/probe128 --seed0 50000 --count 40 --image-size 128
    python3 tools/train/probe.py build-train/ckpt/ckpt.pt --held-out build-train/probe128 \\
        --train build-train/data128 --videos 40
"""
import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import aux as A  # noqa: E402
import train as TR  # noqa: E402
from model import YocoVLM  # noqa: E402


def probe(model, heads, pool, seeds, cfg):
    """Frame-weighted mean of every head metric over the given videos of pool."""
    T, D_ = cfg["vision"]["tokens_per_frame"], cfg["dim"]
    sums, weights = {}, {}
    for s in seeds:
        frames, pts, truth = pool.videos[s]
        last = max(truth["qa"], key=lambda q: q["at"])  # the stream row covers the video up to its last question
        r = TR.build_row(frames, pts, [last], cfg)
        with torch.no_grad():
            _, _, _, vrows, hid, _ = TR.forward_rows(model, [r], [frames], cfg, torch.device("cpu"))
            tg = A.collate_targets([{k: v[: r["nf"]] for k, v in pool.targets[s].items()}], torch.device("cpu"))
            _, m1 = heads.vis.loss(vrows.reshape(-1, T * D_), tg)
            _, m2 = heads.hid.loss(hid[:, -1], tg)
            dv, dh = {}, {}
            _, cv = heads.tok_v.loss(vrows, tg, dv)
            _, ch = heads.tok_h.loss(hid, tg, dh)
        met = {**{"v_" + k: v for k, v in m1.items()}, **{"h_" + k: v for k, v in m2.items()},
               "v_cell_dir": cv, "h_cell_dir": ch, **{"v_" + k: v for k, v in dv.items()},
               **{"h_" + k: v for k, v in dh.items()}}
        for k, v in met.items():
            sums[k] = sums.get(k, 0.0) + v * r["nf"]
            weights[k] = weights.get(k, 0) + r["nf"]
        for k, (v, n) in probe_when(model, frames, pts, truth, cfg).items():
            sums[k] = sums.get(k, 0.0) + v * n
            weights[k] = weights.get(k, 0) + n
    return {k: sums[k] / weights[k] for k in sums if weights[k]}


def probe_when(model, frames, pts, truth, cfg):
    """The "when" questions of one video in one row: the attention mass of train.py's --att-when head on the frame
    each answer names (geometric mean over the answer rows: exp of the mean -log) and the share answered right
    with the answer's own earlier tokens given (teacher-forced exact match). {name: (value, questions)}."""
    qs = [q for q in truth["qa"] if q["type"] == "when"]
    if not qs:
        return {}
    r = TR.build_row(frames, pts, qs, cfg)
    with torch.no_grad():
        logits, labels, _, _, _, att_nll = TR.forward_rows(model, [r], [frames], cfg, torch.device("cpu"), att=True)
    right, o = 0, 0
    for _, ln, _ in r["branches"]:
        lab = labels[o:o + ln]
        m = lab != -100
        right += int(bool((logits[o:o + ln].argmax(-1)[m] == lab[m]).all()))
        o += ln
    out = {"when_tf_exact": (right / len(qs), len(qs))}
    if att_nll is not None:
        out["when_att_mass"] = (float(torch.exp(-att_nll)), len(r["att"]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("ckpt", help="a checkpoint with its aux heads (ckpt.pt, vision.pt)")
    ap.add_argument("--held-out", required=True, help="cache of seeds never trained on (data.py --seed0 50000)")
    ap.add_argument("--train", default="", help="the training cache, for the same metrics on seen videos")
    ap.add_argument("--videos", type=int, default=40, help="videos from each cache (the lowest seeds)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    ck = torch.load(a.ckpt, map_location="cpu")
    if "aux" not in ck:
        raise SystemExit(f"{a.ckpt} has no aux heads (an export has none): probe a train.py checkpoint")
    cfg = ck["config"]
    model = YocoVLM(cfg)
    model.load_state_dict(ck["model"])
    heads = TR.AuxHeads(cfg)
    heads.load_state_dict(ck["aux"])
    model.eval()
    heads.eval()
    out = {}
    for name, cache in (("held_out", a.held_out), ("train", a.train)):
        if not cache:
            continue
        pool = TR.VideoPool(cache)
        pool.refresh()
        seeds = sorted(pool.videos)[: a.videos]
        if not seeds:
            raise SystemExit(f"no videos (seeds >= 1000) in {cache}")
        bad = [s for s in seeds if pool.videos[s][0].shape[1] != cfg["vision"]["image_size"]]
        if bad:
            raise SystemExit(f"{cache}: seed {bad[0]} has frames of another size than the model's "
                             f"{cfg['vision']['image_size']} px")
        out[name] = probe(model, heads, pool, seeds, cfg)
        out[name + "_videos"] = len(seeds)
    if a.json:
        print(json.dumps(out))
        return
    names = [n for n in ("held_out", "train") if n in out]
    print("| head | " + " | ".join(f"{n} ({out[n + '_videos']} videos)" for n in names) + " |")
    print("|---|" + "---|" * len(names))
    for k in sorted(out[names[0]]):
        print(f"| {k} | " + " | ".join(f"{100 * out[n].get(k, float('nan')):.1f} %" for n in names) + " |")


if __name__ == "__main__":
    main()
