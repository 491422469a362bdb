"""PyTorch reference of the yoco vision encoder (vision/encoder.h, docs/VISION.md). Float64 by default.

    frame (uint8 [H, W, 3]) -> letterbox(S) + normalise -> [3, S, S]
    -> patches [N, 3*p*p] (c, py, px order) -> x = patches @ patch_embed.T + pos_embed
    -> n_layers x { x += out(attn(rmsnorm1(x))); x += down(silu(gate(h)) * up(h)), h = rmsnorm2(x) }
       (bidirectional multi-head attention, no RoPE, no biases)
    -> rmsnorm -> adaptive-average-pool the g x g grid to t x t = T tokens (row-major) -> fc2(gelu_erf(fc1(.))) -> [T, lm_dim]

Letterbox (identical integer arithmetic in vision/preprocess.cpp): the longer side becomes S, the shorter
(2*short*S + long) // (2*long), at least 1; offsets (S - w') // 2, (S - h') // 2; the rest is pad_rgb.
Bilinear with half-pixel centres (align_corners=False, no antialias): src = max(0, (x + 0.5) * in/out - 0.5),
lo = floor(src), hi = min(lo + 1, in - 1). Values v/255 normalised per channel: (v - mean) / std.
"""

import math

import torch
import torch.nn.functional as F


def config_defaults(cfg):
    c = dict(norm_eps=1e-6, mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5], pad_rgb=[0, 0, 0])
    c.update(cfg)
    return c


def letterbox_geometry(width, height, S):
    if width >= height:
        sw, sh = S, max(1, (2 * height * S + width) // (2 * width))
    else:
        sh, sw = S, max(1, (2 * width * S + height) // (2 * height))
    return sw, sh, (S - sw) // 2, (S - sh) // 2


def _taps(n_in, n_out):
    scale = n_in / n_out
    src = torch.clamp((torch.arange(n_out, dtype=torch.float64) + 0.5) * scale - 0.5, min=0.0)
    lo = torch.clamp(torch.floor(src).long(), max=n_in - 1)
    hi = torch.clamp(lo + 1, max=n_in - 1)
    return lo, hi, src - lo.double()


def preprocess(frame, cfg, dtype=torch.float64):
    """frame: uint8 tensor [H, W, 3]. Returns the normalised [3, S, S] image."""
    cfg = config_defaults(cfg)
    S = cfg["image_size"]
    H, W, _ = frame.shape
    sw, sh, x0, y0 = letterbox_geometry(W, H, S)
    img = frame.to(dtype).permute(2, 0, 1)  # [3, H, W]
    xl, xh, fx = _taps(W, sw)
    yl, yh, fy = _taps(H, sh)
    fx, fy = fx.to(dtype), fy.to(dtype)
    top = img[:, yl, :]
    bot = img[:, yh, :]
    top = top[:, :, xl] + fx * (top[:, :, xh] - top[:, :, xl])
    bot = bot[:, :, xl] + fx * (bot[:, :, xh] - bot[:, :, xl])
    res = top + fy[:, None] * (bot - top)  # [3, sh, sw] in 0..255
    out = torch.empty(3, S, S, dtype=dtype)
    for c in range(3):
        out[c].fill_(cfg["pad_rgb"][c])
    out[:, y0:y0 + sh, x0:x0 + sw] = res
    mean = torch.tensor(cfg["mean"], dtype=dtype)[:, None, None]
    std = torch.tensor(cfg["std"], dtype=dtype)[:, None, None]
    return (out / 255.0 - mean) / std


def expected_shapes(cfg):
    """Tensor name -> shape, the names of docs/MODEL-FORMAT.md "Vision tensors"."""
    cfg = config_defaults(cfg)
    W, M, p = cfg["width"], cfg["mlp_dim"], cfg["patch_size"]
    g = cfg["image_size"] // p
    s = {"vision.patch_embed.weight": [W, 3 * p * p]}
    if cfg.get("motion", False):
        s["vision.motion_embed.weight"] = [W, 3 * p * p]
    s["vision.pos_embed"] = [g * g, W]
    for i in range(cfg["n_layers"]):
        b = f"vision.blocks.{i}."
        s[b + "norm1.weight"] = [W]
        s[b + "attn.qkv.weight"] = [3 * W, W]
        s[b + "attn.out.weight"] = [W, W]
        s[b + "norm2.weight"] = [W]
        s[b + "mlp.gate.weight"] = [M, W]
        s[b + "mlp.up.weight"] = [M, W]
        s[b + "mlp.down.weight"] = [W, M]
    s["vision.norm.weight"] = [W]
    s["vision.proj.fc1.weight"] = [cfg["proj_dim"], W]
    s["vision.proj.fc2.weight"] = [cfg["lm_dim"], cfg["proj_dim"]]
    return s


def init_weights(cfg, gen):
    """Random float64 weights rounded to f32 values, O(1) activations (std c/sqrt(fan_in))."""
    w = {}
    for name, shape in expected_shapes(cfg).items():
        z = torch.randn(*shape, generator=gen, dtype=torch.float64)
        if len(shape) == 1:
            t = 1.0 + 0.1 * z
        elif name == "vision.pos_embed":
            t = 0.5 * z
        elif name.endswith(("attn.out.weight", "mlp.down.weight")):
            t = z * (0.5 / math.sqrt(shape[1]))
        else:
            t = z / math.sqrt(shape[1])
        w[name] = t.to(torch.float32)
    return w


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def encode_image(image, w, cfg, prev=None):
    """image: [3, S, S] (the preprocess output). w: name -> tensor. Returns [T, lm_dim] in image's dtype.
    prev: a `motion` model's previous image of the stream ([3, S, S]; None for a stream's first frame)."""
    cfg = config_defaults(cfg)
    dt = image.dtype
    W_ = {k: v.to(dt) for k, v in w.items() if k.startswith("vision.")}
    S, p, Wd, H = cfg["image_size"], cfg["patch_size"], cfg["width"], cfg["n_heads"]
    g = S // p
    hd = Wd // H
    eps = cfg["norm_eps"]
    patches = image.reshape(3, g, p, g, p).permute(1, 3, 0, 2, 4).reshape(g * g, 3 * p * p)
    x = patches @ W_["vision.patch_embed.weight"].T + W_["vision.pos_embed"]
    if cfg.get("motion", False) and prev is not None:
        diff = (image - prev.to(dt)).reshape(3, g, p, g, p).permute(1, 3, 0, 2, 4).reshape(g * g, 3 * p * p)
        x = x + diff @ W_["vision.motion_embed.weight"].T
    N = g * g
    for i in range(cfg["n_layers"]):
        b = f"vision.blocks.{i}."
        h = rms_norm(x, W_[b + "norm1.weight"], eps)
        q, k, v = (h @ W_[b + "attn.qkv.weight"].T).split(Wd, dim=-1)
        q, k, v = (t.reshape(N, H, hd).transpose(0, 1) for t in (q, k, v))
        a = torch.softmax((q @ k.transpose(1, 2)) / math.sqrt(hd), dim=-1) @ v
        x = x + a.transpose(0, 1).reshape(N, Wd) @ W_[b + "attn.out.weight"].T
        h = rms_norm(x, W_[b + "norm2.weight"], eps)
        m = F.silu(h @ W_[b + "mlp.gate.weight"].T) * (h @ W_[b + "mlp.up.weight"].T)
        x = x + m @ W_[b + "mlp.down.weight"].T
    x = rms_norm(x, W_["vision.norm.weight"], eps)
    t = int(round(math.sqrt(cfg["tokens_per_frame"])))
    grid = x.reshape(g, g, Wd)
    pooled = torch.empty(t * t, Wd, dtype=dt)
    for ty in range(t):  # adaptive average pooling: cells [i*g//t, ceil((i+1)*g/t)), overlapping when t∤g
        for tx in range(t):
            y0, y1 = ty * g // t, -(-(ty + 1) * g // t)
            x0, x1 = tx * g // t, -(-(tx + 1) * g // t)
            pooled[ty * t + tx] = grid[y0:y1, x0:x1].reshape(-1, Wd).mean(0)
    ref = F.adaptive_avg_pool2d(grid.permute(2, 0, 1), t).permute(1, 2, 0).reshape(t * t, Wd)
    assert torch.allclose(pooled, ref, rtol=1e-6, atol=1e-6)
    hdn = F.gelu(pooled @ W_["vision.proj.fc1.weight"].T)
    return hdn @ W_["vision.proj.fc2.weight"].T


def encode(frame, w, cfg, dtype=torch.float64):
    return encode_image(preprocess(frame, cfg, dtype), w, cfg)


def time_tag(pts):
    s = int(pts)
    h, m, sec = s // 3600, (s // 60) % 60, s % 60
    return f"[{h}:{m:02d}:{sec:02d}]" if h else f"[{m:02d}:{sec:02d}]"
