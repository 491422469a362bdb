"""Training data: `yoco world` videos -> 1 fps frames, letterboxed exactly as the C++ preprocessor -> npz cache.

Per seed the cache holds `<seed>.npz` with
  frames  uint8 [F, S, S, 3] (or float16 when the letterbox is not an exact copy/average): the letterboxed image in
          0..255 before normalisation, for the frames the C++ sampler keeps at 1 fps (the first frame with
          pts >= k for k = 0, 1, 2, ...),
  pts     float64 [F],
and `<seed>.json`, the truth file of `yoco world` (events, qa).

Seeds: training uses seeds >= 100000; evaluation seeds are < 1000 and are never generated here for training.
"""

import json
import os
import random
import subprocess
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "vision"))
import vision_ref  # noqa: E402

TRAIN_SEED0 = 100000
EVAL_SEED_LIMIT = 1000


def video_options(seed, codes=0):
    """Deterministic per-seed variety: length, needle mode. Returns extra CLI args and the length. codes > 0: a
    code-reading video instead, a boxed code of 3-6 random digits and `codes` look-alike distractors (each
    differs from it in one digit), 4 s apart at random places."""
    r = random.Random(seed * 7919 + 13)
    if codes > 0:
        code = "".join(str(r.randint(0, 9)) for _ in range(r.randint(3, 6)))
        return 20 + 5 * codes, ["--needle-code", code, "--distractors", str(codes)]
    seconds = r.choice([12, 16, 20, 25, 30, 30, 40, 45, 60, 60, 75, 90, 120])
    args = []
    u = r.random()
    if u < 0.12:
        code = "".join(str(r.randint(0, 9)) for _ in range(r.randint(3, 6)))
        nd = r.randint(0, 3)
        seconds = max(seconds, 20 + 10 * nd)  # distractor codes need room (4 s apart)
        args += ["--needle-code", code, "--distractors", str(nd)]
    elif u < 0.16:
        nd = r.randint(0, 2)
        seconds = max(seconds, 20 + 10 * nd)
        args += ["--no-code", "--distractors", str(nd)]
    return seconds, args


def sample_1fps(n_frames, fps_src, fps=1.0):
    """Indices kept by the C++ sampler: the first frame with pts >= k / fps, k = 0, 1, ... (pts = i / fps_src)."""
    keep, k = [], 0
    for i in range(n_frames):
        pts = i / fps_src
        if pts + 1e-9 >= k / fps:
            keep.append(i)
            while pts + 1e-9 >= k / fps:
                k += 1
    return keep


def decode_rgb(path, width, height):
    out = subprocess.run(["ffmpeg", "-v", "error", "-threads", "1", "-i", path, "-vsync", "passthrough", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "pipe:"], check=True, capture_output=True).stdout
    n = len(out) // (width * height * 3)
    return np.frombuffer(out[: n * width * height * 3], dtype=np.uint8).reshape(n, height, width, 3)


def letterbox_0_255(frames, S):
    """vision_ref.preprocess without the normalisation: [F, S, S, 3] in 0..255 (uint8 when exact)."""
    vc = {"image_size": S, "mean": [0.0, 0.0, 0.0], "std": [1 / 255.0] * 3}
    out = np.stack([vision_ref.preprocess(torch.from_numpy(f.copy()), vc, torch.float64).permute(1, 2, 0).numpy()
                    for f in frames])
    r = np.rint(out)
    if np.abs(out - r).max() < 1e-6:
        return r.astype(np.uint8)
    return out.astype(np.float16)


def make_video(yoco, seed, cache, S=64, eval_ok=False, codes=0):
    """Generate, decode, sample and cache one seed. Returns the npz path (skips work if cached)."""
    assert eval_ok or seed >= EVAL_SEED_LIMIT, "evaluation seeds (< 1000) are never used for training"
    npz = os.path.join(cache, f"{seed}.npz")
    tj = os.path.join(cache, f"{seed}.json")
    if os.path.exists(npz) and os.path.exists(tj):
        with np.load(npz) as z:
            if z["frames"].shape[1] == S:
                return npz  # cached at this size; another size is regenerated
    os.makedirs(cache, exist_ok=True)
    seconds, extra = video_options(seed, codes)
    mp4 = os.path.join(cache, f"{seed}.mp4")
    subprocess.run([yoco, "world", "--seed", str(seed), "--seconds", str(seconds), "--out", mp4, "--truth", tj + ".tmp"]
                   + extra, check=True, capture_output=True)
    truth = json.load(open(tj + ".tmp"))
    frames = decode_rgb(mp4, truth["width"], truth["height"])
    keep = sample_1fps(len(frames), truth["fps"])
    pts = np.array([i / truth["fps"] for i in keep])
    np.savez(npz + ".tmp.npz", frames=letterbox_0_255(frames[keep], S), pts=pts)
    os.replace(npz + ".tmp.npz", npz)
    os.replace(tj + ".tmp", tj)
    os.remove(mp4)
    return npz


def load_video(cache, seed):
    z = np.load(os.path.join(cache, f"{seed}.npz"))
    truth = json.load(open(os.path.join(cache, f"{seed}.json")))
    return z["frames"], z["pts"], truth


def main():
    import argparse

    ap = argparse.ArgumentParser(description="generate and cache yoco world training videos")
    ap.add_argument("--yoco", default="build-train/bin/yoco")
    ap.add_argument("--cache", default="build-train/data")
    ap.add_argument("--seed0", type=int, default=TRAIN_SEED0)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--codes", type=int, default=0, help="code-reading videos: a boxed code and this many "
                    "distractor codes each (1..20; keep them in their own cache and seed range)")
    a = ap.parse_args()
    if not 0 <= a.codes <= 20:
        ap.error(f"--codes must be between 0 and 20 (the world's distractor limit), got {a.codes}")
    os.makedirs(a.cache, exist_ok=True)
    torch.set_num_threads(1)
    for s in range(a.seed0, a.seed0 + a.count):
        try:
            make_video(a.yoco, s, a.cache, a.image_size, codes=a.codes)
            print(s, flush=True)
        except subprocess.CalledProcessError as e:  # a seed the generator refuses: skip it
            print(f"seed {s} skipped: {(e.stderr or b'').decode(errors='replace').strip()}", flush=True)


if __name__ == "__main__":
    main()
