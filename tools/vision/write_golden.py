"""Write tests/data/vision/: a tiny random YOCO LM + vision encoder model directory and the golden outputs.

    /usr/bin/python3 tools/vision/write_golden.py          # writes tests/data/vision/
    /usr/bin/python3 tools/vision/write_golden.py --check  # checks only

config.json: the yoco_gret LM config (dim 48, 4 layers, vocab 113) plus a `vision` block.
model.safetensors: the LM tensors (tools/reference/write_golden.py's init_weights) and the `vision.*` tensors (f32).
golden.safetensors, computed in float64 from the f32 weights and stored as f32:
  frame.{i}       U8  [H, W, 3]   input frames of odd sizes (wide, square-ish, tall)
  image.{i}       F32 [3, S, S]   the letterboxed, normalised image
  embeddings.{i}  F32 [T, dim]    the encoder output
tests/data/vision-motion/: the same encoder with `"motion": true` (vision.json, the vision block;
vision.safetensors, the vision tensors with vision.motion_embed.weight) and golden.safetensors:
  frame.{i}       U8  [H, W, 3]   a clip of MOTION_FRAMES frames of one size: squares moving over a gradient
  embeddings.{i}  F32 [T, dim]    the encoder output for frame i after frames 0..i-1 (frame 0: no previous)
  still.{i}       F32 [T, dim]    the output for frame i as a stream's first frame (after reset_motion)
Deterministic: the same command gives the same bytes.
"""

import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tools", "reference"))

import safetensors_io  # noqa: E402
import vision_ref  # noqa: E402
from yoco_ref import Config  # noqa: E402
from write_golden import BASE, init_weights  # noqa: E402  (tools/reference/write_golden.py)

# U8 frames: teach the shared writer the dtype without editing it.
safetensors_io.DTYPES.setdefault("U8", (torch.uint8, 1))
safetensors_io._NAME_OF.setdefault(torch.uint8, "U8")

SEED = 2001
LM = dict(BASE, sliding_window=None, arch="yoco", rope_style="yoco", embed_scale=True, gate_logit_normalizer=16)
VISION = dict(
    image_size=48,
    patch_size=8,  # 6 x 6 patches
    width=32,
    n_layers=2,
    n_heads=4,
    mlp_dim=64,
    tokens_per_frame=16,  # 4 x 4 pooling grid over 6 x 6 patches: overlapping 2 x 2 cells
    proj_dim=64,
    lm_dim=LM["dim"],
    norm_eps=1e-6,
    mean=[0.48, 0.46, 0.41],
    std=[0.27, 0.26, 0.28],
    pad_rgb=[16, 128, 200],
)
FRAMES = [(37, 23), (64, 48), (20, 71)]  # (width, height)


def make_frame(w, h, gen):
    """Smooth gradients plus noise, so the bilinear taps matter."""
    ys = torch.linspace(0, 1, h, dtype=torch.float64)[:, None, None]
    xs = torch.linspace(0, 1, w, dtype=torch.float64)[None, :, None]
    base = 255 * (0.5 + 0.5 * torch.sin(6 * xs + 4 * ys + torch.tensor([0.0, 2.0, 4.0], dtype=torch.float64)))
    noise = 40 * torch.rand(h, w, 3, generator=gen, dtype=torch.float64) - 20
    return (base + noise).clamp(0, 255).round().to(torch.uint8)


MOTION_SIZE = (41, 30)  # (width, height): letterboxed with bars
MOTION_FRAMES = 4


def motion_clip(gen):
    """MOTION_FRAMES frames: a gradient with noise, a square moving right and one entering from the top."""
    w, h = MOTION_SIZE
    base = make_frame(w, h, gen)
    frames = []
    for i in range(MOTION_FRAMES):
        f = base.clone()
        x0 = 3 + 6 * i
        f[8:17, x0:x0 + 9] = torch.tensor([230, 20, 20], dtype=torch.uint8)
        if i >= 2:
            f[0:4 * i, 30:37] = torch.tensor([20, 20, 230], dtype=torch.uint8)
        frames.append(f)
    return frames


def write_motion(out_dir, gen, check):
    cfg = dict(VISION, motion=True)
    weights = vision_ref.init_weights(cfg, gen)
    golden, worst, prev = {}, 0.0, None
    for i, frame in enumerate(motion_clip(gen)):
        img = vision_ref.preprocess(frame, cfg)
        emb = vision_ref.encode_image(img, weights, cfg, prev)
        still = vision_ref.encode_image(img, weights, cfg)
        emb32 = vision_ref.encode_image(img.float(), weights, cfg, None if prev is None else prev.float()).double()
        worst = max(worst, ((emb32 - emb).abs().max() / emb.abs().max()).item())
        if prev is not None:  # the motion term must matter, or the test could not fail
            d = ((emb - still).abs().max() / emb.abs().max()).item()
            assert d > 1e-2, f"motion frame {i}: the motion input changes the output by only {d}"
        golden[f"frame.{i}"] = frame
        golden[f"embeddings.{i}"] = emb.to(torch.float32)
        golden[f"still.{i}"] = still.to(torch.float32)
        prev = img
    assert worst < 1e-5, f"float32 motion reference drifts from float64 by {worst}"
    print(f"motion clip: {MOTION_FRAMES} frames {MOTION_SIZE}, f32 vs f64 rel {worst:.2e}")
    if check:
        return
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "vision.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    safetensors_io.save(os.path.join(out_dir, "vision.safetensors"), weights)
    safetensors_io.save(os.path.join(out_dir, "golden.safetensors"), golden, metadata={"seed": str(SEED)})
    print("wrote", out_dir)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "data", "vision"))
    args = ap.parse_args()

    gen = torch.Generator().manual_seed(SEED)
    weights = init_weights(Config.from_dict(LM), gen)
    weights.update(vision_ref.init_weights(VISION, gen))
    golden = {}
    worst = 0.0
    for i, (w, h) in enumerate(FRAMES):
        frame = make_frame(w, h, gen)
        img = vision_ref.preprocess(frame, VISION)
        emb = vision_ref.encode_image(img, weights, VISION)
        emb32 = vision_ref.encode(frame, weights, VISION, dtype=torch.float32).double()
        r = ((emb32 - emb).abs().max() / emb.abs().max()).item()
        worst = max(worst, r)
        print(f"frame {i} {w}x{h}: letterbox {vision_ref.letterbox_geometry(w, h, VISION['image_size'])}, "
              f"|emb| max {emb.abs().max().item():.3f} std {emb.std().item():.3f}, f32 vs f64 rel {r:.2e}")
        golden[f"frame.{i}"] = frame
        golden[f"image.{i}"] = img.to(torch.float32)
        golden[f"embeddings.{i}"] = emb.to(torch.float32)
    assert worst < 1e-5, f"float32 reference drifts from float64 by {worst}"
    assert vision_ref.time_tag(83.9) == "[01:23]" and vision_ref.time_tag(3725) == "[1:02:05]"
    if args.check:
        write_motion(None, gen, True)
        return
    os.makedirs(args.out, exist_ok=True)
    cfg = dict(LM, vision=VISION)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    safetensors_io.save(os.path.join(args.out, "model.safetensors"), weights)
    safetensors_io.save(os.path.join(args.out, "golden.safetensors"), golden, metadata={"seed": str(SEED)})
    print("wrote", args.out)
    write_motion(os.path.join(os.path.dirname(args.out), "vision-motion"), gen, args.check)


if __name__ == "__main__":
    main()
