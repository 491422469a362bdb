"""Plain PyTorch (CPU) reference of the models in docs/MODEL-FORMAT.md.

Faithful to microsoft/unilm YOCO/yoco/models/decoder/ (yoco.py, gate_retention.py, kernel/gate_recurrent.py,
sliding_window_attention.py, cross_attention.py, transformer.py), without triton / flash-attn / fairscale:
the same math, written for one sequence (no batch dimension) and any float dtype. Where the reference
casts to float32 (`.float()` in RMSNorm and in the gate cumsum) this code keeps the working dtype, so a
float64 run is float64 end to end (golden data); a float32 run matches the reference's float32 path.

Archs (config `arch`):
  yoco        L/2 self-decoder layers (gated retention, or sliding-window attention when `sliding_window` = W)
              + one global K^/V^ cache + L/2 cross-decoder layers.
  transformer every layer its own GQA K/V (reference transformer.py).
  cla         cross-layer attention: layer i % s == 0 computes K/V from kv_norm(x_i), its group reuses them.

Shapes: token ids `[T]` (int64), activations `[T, dim]`, heads `[T, H, d]` or `[H, T, d]` as noted.
API:
  model = Model(Config.from_dict(json), weights)          weights: name -> tensor (any float dtype; cast to `dtype`)
  logits, inter = model.forward(tokens, intermediates=True, retention_mode="chunkwise"|"parallel"|"recurrent")
  state = model.new_state()
  model.prefill(state, tokens, early_exit=False)          -> logits [n, V] (None with early_exit; yoco only)
  model.step(state, token)                                -> logits [V]
A Model is immutable after construction; a state belongs to one sequence (state.clone() forks it).
"""

import json
import math
import os
import sys
from dataclasses import dataclass, fields
from typing import Optional

import torch
import torch.nn.functional as F

RETENTION_CHUNK = 256  # reference SelfDecoder.block_size and chunk_gate_retention(chunk_size=256)


# ----------------------------------------------------------------------------------------------------------------
# config


@dataclass
class Config:
    dim: int
    n_layers: int
    hidden_dim: int
    n_self_heads: int
    n_attn_heads: int
    n_attn_kv_heads: int
    vocab_size: int
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    sliding_window: Optional[int] = None
    arch: str = "yoco"
    rope_style: Optional[str] = None  # default: "yoco" for arch yoco, "neox" otherwise
    embed_scale: Optional[bool] = None  # default: True for arch yoco, False otherwise
    gate_logit_normalizer: float = 16.0
    cla_factor: int = 2

    def __post_init__(self):
        if self.arch not in ("yoco", "transformer", "cla"):
            raise ValueError(f"config: unknown arch {self.arch!r}")
        if self.rope_style is None:
            self.rope_style = "yoco" if self.arch == "yoco" else "neox"
        if self.rope_style not in ("yoco", "neox"):
            raise ValueError(f"config: unknown rope_style {self.rope_style!r}")
        if self.embed_scale is None:
            self.embed_scale = self.arch == "yoco"
        if self.arch == "yoco" and self.n_layers % 2:
            raise ValueError("config: yoco needs an even n_layers")
        if self.dim % self.n_attn_heads or self.n_attn_heads % self.n_attn_kv_heads:
            raise ValueError("config: dim % n_attn_heads and n_attn_heads % n_attn_kv_heads must be 0")
        if self.arch == "yoco" and self.dim % self.n_self_heads:
            raise ValueError("config: dim % n_self_heads must be 0")
        if self.arch != "yoco" and self.sliding_window is not None:
            raise ValueError("config: sliding_window is defined for the yoco self-decoder only")
        if self.sliding_window is not None and self.sliding_window < 1:
            raise ValueError("config: sliding_window must be >= 1")
        if self.arch == "cla" and self.cla_factor < 1:
            raise ValueError("config: cla_factor must be >= 1")
        if (self.attn_head_dim % 2) or (self.arch == "yoco" and self.self_head_dim % 2):
            raise ValueError("config: head dims must be even (RoPE)")

    @classmethod
    def from_dict(cls, d):
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def from_json(cls, path):
        with open(path) as f:
            return cls.from_dict(json.load(f))

    @property
    def self_head_dim(self):
        return self.dim // self.n_self_heads

    @property
    def attn_head_dim(self):
        return self.dim // self.n_attn_heads


def expected_shapes(cfg: Config):
    """Tensor name -> shape, exactly the names of docs/MODEL-FORMAT.md."""
    D, Hd, V = cfg.dim, cfg.hidden_dim, cfg.vocab_size
    kvd = cfg.n_attn_kv_heads * cfg.attn_head_dim
    s = {}

    def ffn(p, a, b, c):
        s[f"{p}.{a}.weight"] = [Hd, D]
        s[f"{p}.{b}.weight"] = [Hd, D]
        s[f"{p}.{c}.weight"] = [D, Hd]

    if cfg.arch == "yoco":
        s["embed_tokens.weight"] = [V, D]
        s["output_projection.weight"] = [V, D]
        s["layer_norm.weight"] = [D]
        for i in range(cfg.n_layers // 2):
            p = f"self_decoder.layers.{i}"
            s[f"{p}.mixer_layer_norm.weight"] = [D]
            s[f"{p}.final_layer_norm.weight"] = [D]
            ffn(f"{p}.ffn", "fc1", "gate", "fc2")
            names = ("q", "k", "v", "out") if cfg.sliding_window is not None else ("q", "k", "v", "g", "out")
            for n in names:
                s[f"{p}.mixer.{n}_proj.weight"] = [D, D]
            if cfg.sliding_window is None:
                s[f"{p}.mixer.gt_proj.weight"] = [cfg.n_self_heads, D]
        s["cross_decoder.kv_layer_norm.weight"] = [D]
        s["cross_decoder.k_proj.weight"] = [kvd, D]
        s["cross_decoder.v_proj.weight"] = [kvd, D]
        for i in range(cfg.n_layers // 2):
            p = f"cross_decoder.layers.{i}"
            s[f"{p}.mixer_layer_norm.weight"] = [D]
            s[f"{p}.final_layer_norm.weight"] = [D]
            ffn(f"{p}.ffn", "fc1", "gate", "fc2")
            s[f"{p}.mixer.q_proj.weight"] = [D, D]
            s[f"{p}.mixer.out_proj.weight"] = [D, D]
    else:
        qd = cfg.n_attn_heads * cfg.attn_head_dim
        s["tok_embeddings.weight"] = [V, D]
        s["norm.weight"] = [D]
        s["output.weight"] = [V, D]
        for i in range(cfg.n_layers):
            p = f"layers.{i}"
            s[f"{p}.attention_norm.weight"] = [D]
            s[f"{p}.ffn_norm.weight"] = [D]
            ffn(f"{p}.feed_forward", "w1", "w3", "w2")
            s[f"{p}.attention.wq.weight"] = [qd, D]
            s[f"{p}.attention.wo.weight"] = [D, qd]
            if cfg.arch == "transformer" or i % cfg.cla_factor == 0:
                s[f"{p}.attention.wk.weight"] = [kvd, D]
                s[f"{p}.attention.wv.weight"] = [kvd, D]
            if cfg.arch == "cla" and i % cfg.cla_factor == 0:
                s[f"{p}.kv_norm.weight"] = [D]
    return s


# ----------------------------------------------------------------------------------------------------------------
# ops


def rms_norm(x, weight, eps):
    """Reference RMSNorm: x * rsqrt(mean(x^2) + eps), statistics in at least float32, then times weight."""
    xf = x if x.dtype in (torch.float32, torch.float64) else x.float()
    out = (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)
    return out * weight if weight is not None else out


def swiglu(x, y):
    """silu(x) * y, the reference's kernel/swiglu.py."""
    return F.silu(x) * y


def rope_inv_freq(head_dim, theta, style):
    """Angular frequency per rotated pair, float64.
    yoco: 1 / theta^linspace(0, 1, d/2) (yoco.py build_rel_pos); neox: 1 / theta^(2i/d) (transformer.py)."""
    half = head_dim // 2
    if style == "yoco":
        e = torch.linspace(0, 1, half, dtype=torch.float64)
    else:
        e = torch.arange(0, head_dim, 2, dtype=torch.float64)[:half] / head_dim
    return 1.0 / (theta**e)


def rope_cos_sin(inv_freq, pos0, n, dtype):
    """cos/sin `[n, d/2]` for absolute positions pos0 .. pos0+n-1 (angles in float64, then cast)."""
    pos = torch.arange(pos0, pos0 + n, dtype=torch.float64)
    ang = pos[:, None] * inv_freq[None, :]
    return torch.cos(ang).to(dtype), torch.sin(ang).to(dtype)


def apply_rope(x, cos, sin, style):
    """x `[T, H, d]`. yoco: interleaved pairs (x[2i], x[2i+1]); neox: half-split pairs (x[i], x[i+d/2])."""
    c, s = cos[:, None, :], sin[:, None, :]
    if style == "yoco":
        x0, x1 = x[..., 0::2], x[..., 1::2]
        return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)
    half = x.shape[-1] // 2
    x0, x1 = x[..., :half], x[..., half:]
    return torch.cat((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1)


def attention(q, k, v, q_pos, k_pos, window=None, block=512):
    """Causal softmax GQA attention by absolute positions.

    q `[H, Tq, d]`, k/v `[Hkv, Tk, d]`, q_pos `[Tq]`, k_pos `[Tk]` (int64). Query i sees key j iff
    k_pos[j] <= q_pos[i] and (window is None or k_pos[j] > q_pos[i] - window). Query head h reads KV head
    h // (H / Hkv). Scale 1/sqrt(d). This is flash_attn_func(causal=True, window_size=(W-1, 0)) with its
    bottom-right alignment when the queries are the last Tq keys. Returns `[H, Tq, d]`.
    """
    H, Tq, d = q.shape
    Hkv = k.shape[0]
    r = H // Hkv
    out = torch.empty_like(q)
    qg = q.reshape(Hkv, r, Tq, d)
    kt = k.transpose(-1, -2)
    for b0 in range(0, Tq, block):
        b1 = min(Tq, b0 + block)
        qb = qg[:, :, b0:b1].reshape(Hkv, r * (b1 - b0), d)
        sc = (qb @ kt) * (d**-0.5)  # [Hkv, r*tq, Tk]
        qp = q_pos[b0:b1][:, None]
        allowed = k_pos[None, :] <= qp
        if window is not None:
            allowed = allowed & (k_pos[None, :] > qp - window)
        sc = sc.view(Hkv, r, b1 - b0, -1).masked_fill(~allowed, float("-inf"))
        p = torch.softmax(sc, dim=-1).view(Hkv, r * (b1 - b0), -1)
        out.view(Hkv, r, Tq, d)[:, :, b0:b1] = (p @ v).view(Hkv, r, b1 - b0, d)
    return out


# ---- gated retention: q, k `[H, T, dk]`, v `[H, T, dv]`, a (log decay) `[H, T]`, state `[H, dk, dv]` ----


def retention_parallel(q, k, v, a):
    """O = ((Q K^T) * D) V, D[n, m] = exp(sum_{i=m+1..n} a_i) for n >= m (parallel_gate_retention)."""
    k = k * (q.shape[-1] ** -0.5)
    g = a.cumsum(-1)
    T = q.shape[1]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    decay = (g[..., :, None] - g[..., None, :]).masked_fill(~causal, float("-inf")).exp()
    return ((q @ k.transpose(-1, -2)) * decay) @ v


def retention_chunkwise(q, k, v, a, chunk=RETENTION_CHUNK, state=None):
    """chunk_gate_retention: T must be a multiple of `chunk`; `state` is the incoming S (or None = 0).
    Within a chunk G_j = cumsum(a); inner ((q k^T) * exp(G_j - G_k)[k <= j]) v; cross (q_j exp(G_j)) S_c with
    S_{c+1} = exp(G_last) S_c + k^T (v * exp(G_last - G_k)). Returns o `[H, T, dv]` (the reference discards the
    final S here; the prefill computes the carried state separately, see retention_prefill_state)."""
    H, T, dk = q.shape
    dv = v.shape[-1]
    assert T % chunk == 0, "chunk_gate_retention needs T % chunk == 0 (the self-decoder pads)"
    n = T // chunk
    q = q.reshape(H, n, chunk, dk)
    k = k.reshape(H, n, chunk, dk) * (dk**-0.5)
    v = v.reshape(H, n, chunk, dv)
    g = a.reshape(H, n, chunk).cumsum(-1)
    # cross-chunk: chunk_gate_recurrent returns the state *entering* each chunk
    kv = k.transpose(-1, -2) @ (v * (g[..., -1:] - g).exp()[..., None])  # [H, n, dk, dv]
    cross_decay = g[..., -1].exp()  # [H, n]
    S = torch.zeros(H, dk, dv, dtype=q.dtype) if state is None else state
    entering = []
    for c in range(n):
        entering.append(S)
        S = S * cross_decay[:, c, None, None] + kv[:, c]
    S_in = torch.stack(entering, dim=1)  # [H, n, dk, dv]
    cross = (q * g[..., None].exp()) @ S_in
    causal = torch.ones(chunk, chunk, dtype=torch.bool).tril()
    inner = ((q @ k.transpose(-1, -2)) * (g[..., :, None] - g[..., None, :]).masked_fill(~causal, float("-inf")).exp()) @ v
    return (cross + inner).reshape(H, T, dv)


def retention_prefill_state(k, v, a, n_valid, state=None):
    """gate_retention.py prefill: the state after the first n_valid of the (padded) rows,
    S = sum_t exp(sum_{i>t, i<n_valid} a_i) k_t^T v_t / sqrt(dk) + exp(sum_{i<n_valid} a_i) S_prev."""
    T = a.shape[-1]
    dk = k.shape[-1]
    pad_mask = torch.arange(T) >= n_valid
    a_sum = a.masked_fill(pad_mask, 0).sum(-1, keepdim=True)  # [H, 1]
    w = (a_sum - a.cumsum(-1)).exp().masked_fill(pad_mask, 0)  # [H, T]
    S = (k.transpose(-1, -2) * (dk**-0.5)) @ (v * w[..., None])
    if state is not None:
        S = S + state * a_sum.exp()[..., None]
    return S


def retention_recurrent(q, k, v, a, state=None):
    """recurrent_gate_retention token by token: S_t = exp(a_t) S_{t-1} + k_t^T v_t / sqrt(dk), o_t = q_t S_t.
    Returns (o `[H, T, dv]`, S)."""
    H, T, dk = q.shape
    k = k * (dk**-0.5)
    S = torch.zeros(H, dk, v.shape[-1], dtype=q.dtype) if state is None else state
    outs = []
    for t in range(T):
        S = S * a[:, t].exp()[:, None, None] + k[:, t, :, None] * v[:, t, None, :]
        outs.append((q[:, t, None, :] @ S)[:, 0])
    return torch.stack(outs, dim=1), S


# ----------------------------------------------------------------------------------------------------------------
# state


class KvBuffer:
    """Append-only K/V store `[Hkv, cap, d]` (heads first so a prefix slice is a cheap view)."""

    def __init__(self, n_heads, head_dim, dtype, cap=256):
        self.k = torch.empty(n_heads, cap, head_dim, dtype=dtype)
        self.v = torch.empty(n_heads, cap, head_dim, dtype=dtype)
        self.n = 0

    def append(self, k, v):
        """k, v `[Hkv, t, d]`."""
        t = k.shape[1]
        if self.n + t > self.k.shape[1]:
            cap = max(2 * self.k.shape[1], self.n + t)
            for name in ("k", "v"):
                old = getattr(self, name)
                new = torch.empty(old.shape[0], cap, old.shape[2], dtype=old.dtype)
                new[:, : self.n] = old[:, : self.n]
                setattr(self, name, new)
        self.k[:, self.n : self.n + t] = k
        self.v[:, self.n : self.n + t] = v
        self.n += t

    def view(self):
        return self.k[:, : self.n], self.v[:, : self.n]

    def clone(self):
        c = KvBuffer.__new__(KvBuffer)
        c.k, c.v, c.n = self.k.clone(), self.v.clone(), self.n
        return c


class State:
    """Per-sequence inference state. yoco: `self_layers[i]` is {"S": [H, d, d]} (retention) or
    {"k", "v": [H, <=W, d], "pos": [<=W]} (window); `kv` is the global K^/V^ cache. transformer/cla:
    `kv_layers[j]` one KvBuffer per layer (transformer) or per group (cla). `pos` = tokens consumed."""

    def __init__(self):
        self.pos = 0
        self.self_layers = []
        self.kv = None
        self.kv_layers = []

    def clone(self):
        c = State()
        c.pos = self.pos
        c.self_layers = [{k: (v.clone() if torch.is_tensor(v) else v) for k, v in d.items()} for d in self.self_layers]
        c.kv = self.kv.clone() if self.kv is not None else None
        c.kv_layers = [b.clone() for b in self.kv_layers]
        return c


# ----------------------------------------------------------------------------------------------------------------
# model


class Model:
    """Weights plus the forward passes. Immutable after construction; states are separate objects."""

    def __init__(self, cfg: Config, weights, dtype=torch.float64):
        self.cfg = cfg
        self.dtype = dtype
        shapes = expected_shapes(cfg)
        missing = [n for n in shapes if n not in weights]
        if missing:
            raise ValueError(f"missing tensors: {missing[:5]}{' ...' if len(missing) > 5 else ''}")
        self.w = {}
        for n, shp in shapes.items():
            t = weights[n]
            if list(t.shape) != shp:
                raise ValueError(f"tensor {n}: shape {list(t.shape)}, expected {shp}")
            t = t.to(dtype).contiguous()
            if not torch.isfinite(t).all():
                raise ValueError(f"tensor {n}: non-finite values")
            self.w[n] = t
        self.inv_self = rope_inv_freq(cfg.self_head_dim, cfg.rope_theta, cfg.rope_style)
        self.inv_attn = rope_inv_freq(cfg.attn_head_dim, cfg.rope_theta, cfg.rope_style)

    @classmethod
    def load(cls, model_dir, dtype=torch.float64):
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from safetensors_io import load as st_load

        cfg = Config.from_json(os.path.join(model_dir, "config.json"))
        weights, _ = st_load(os.path.join(model_dir, "model.safetensors"))
        return cls(cfg, weights, dtype)

    # ---- shared pieces ----

    def _lin(self, x, name):
        return x @ self.w[name + ".weight"].t()

    def _norm(self, x, name):
        return rms_norm(x, self.w[name + ".weight"], self.cfg.norm_eps)

    def _rope(self, x, inv, pos0):
        cos, sin = rope_cos_sin(inv, pos0, x.shape[0], x.dtype)
        return apply_rope(x, cos, sin, self.cfg.rope_style)

    def _ffn(self, x, p, a, b, c):
        return self._lin(swiglu(self._lin(x, f"{p}.{a}"), self._lin(x, f"{p}.{b}")), f"{p}.{c}")

    def _embed(self, tokens):
        name = "embed_tokens.weight" if self.cfg.arch == "yoco" else "tok_embeddings.weight"
        x = self.w[name][tokens]
        return x * math.sqrt(self.cfg.dim) if self.cfg.embed_scale else x

    def _head(self, x):
        if self.cfg.arch == "yoco":
            return self._lin(self._norm(x, "layer_norm"), "output_projection")
        return self._lin(self._norm(x, "norm"), "output")

    # ---- yoco self-decoder ----

    def _gret_mixer(self, p, x, pos0, st, mode, n_valid):
        """gate_retention.py. x `[T, dim]` (normalised). st: layer state dict or None. n_valid: real rows."""
        cfg = self.cfg
        T, H, d = x.shape[0], cfg.n_self_heads, cfg.self_head_dim
        q = self._rope(self._lin(x, f"{p}.q_proj").view(T, H, d), self.inv_self, pos0).transpose(0, 1)
        k = self._rope(self._lin(x, f"{p}.k_proj").view(T, H, d), self.inv_self, pos0).transpose(0, 1)
        v = self._lin(x, f"{p}.v_proj").view(T, H, d).transpose(0, 1)
        g = self._lin(x, f"{p}.g_proj")
        a = F.logsigmoid(self._lin(x, f"{p}.gt_proj")).t() / cfg.gate_logit_normalizer  # [H, T]
        S0 = st.get("S") if st is not None else None
        if mode == "recurrent":
            o, S = retention_recurrent(q, k, v, a, S0)
            if st is not None:
                st["S"] = S
        elif mode == "parallel":
            assert S0 is None, "parallel form has no carried state"
            o = retention_parallel(q, k, v, a)
        else:
            if st is not None:
                st["S"] = retention_prefill_state(k, v, a, n_valid, S0)
            o = retention_chunkwise(q, k, v, a, RETENTION_CHUNK, S0)
        o = rms_norm(o, None, cfg.norm_eps).transpose(0, 1).reshape(T, H * d)  # subln: per-head, no weight
        return self._lin(swiglu(g, o), f"{p}.out_proj")

    def _swa_mixer(self, p, x, pos0, st):
        """sliding_window_attention.py: each query sees the W most recent keys including itself."""
        cfg = self.cfg
        T, H, d, W = x.shape[0], cfg.n_self_heads, cfg.self_head_dim, cfg.sliding_window
        q = self._rope(self._lin(x, f"{p}.q_proj").view(T, H, d), self.inv_self, pos0).transpose(0, 1)
        k = self._rope(self._lin(x, f"{p}.k_proj").view(T, H, d), self.inv_self, pos0).transpose(0, 1)
        v = self._lin(x, f"{p}.v_proj").view(T, H, d).transpose(0, 1)
        pos = torch.arange(pos0, pos0 + T)
        if st is not None and "k" in st:
            kk, vv, kp = torch.cat((st["k"], k), 1), torch.cat((st["v"], v), 1), torch.cat((st["pos"], pos))
        else:
            kk, vv, kp = k, v, pos
        if st is not None:  # keep the last W rotated keys/values
            st["k"], st["v"], st["pos"] = kk[:, -W:].clone(), vv[:, -W:].clone(), kp[-W:].clone()
        o = attention(q, kk, vv, pos, kp, window=W)
        return self._lin(o.transpose(0, 1).reshape(T, H * d), f"{p}.out_proj")

    def _self_decoder(self, x, pos0, states, mode, collect=None):
        """SelfDecoder.forward. Retention prefill (chunkwise) pads with zero rows to a multiple of 256."""
        cfg = self.cfg
        n = x.shape[0]
        gret = cfg.sliding_window is None
        pad = (-n) % RETENTION_CHUNK if (gret and mode == "chunkwise") else 0
        if pad:
            x = torch.cat((x, x.new_zeros(pad, x.shape[1])))
        for i in range(cfg.n_layers // 2):
            p = f"self_decoder.layers.{i}"
            st = states[i] if states is not None else None
            h = self._norm(x, f"{p}.mixer_layer_norm")
            if gret:
                h = self._gret_mixer(f"{p}.mixer", h, pos0, st, mode, n)
            else:
                h = self._swa_mixer(f"{p}.mixer", h, pos0, st)
            x = x + h
            x = x + self._ffn(self._norm(x, f"{p}.final_layer_norm"), f"{p}.ffn", "fc1", "gate", "fc2")
            if collect is not None:
                collect[f"self.{i}"] = x[:n]
        return x[:n]

    def _global_kv(self, m, pos0):
        """CrossDecoder: K^ = RoPE(kv_norm(M) Wk), V^ = kv_norm(M) Wv, `[Hkv, T, hd]` each."""
        cfg = self.cfg
        T, Hkv, hd = m.shape[0], cfg.n_attn_kv_heads, cfg.attn_head_dim
        mn = self._norm(m, "cross_decoder.kv_layer_norm")
        k = self._rope(self._lin(mn, "cross_decoder.k_proj").view(T, Hkv, hd), self.inv_attn, pos0)
        v = self._lin(mn, "cross_decoder.v_proj").view(T, Hkv, hd)
        return k.transpose(0, 1), v.transpose(0, 1)

    def _cross_decoder(self, x, pos0, K, V, collect=None):
        """Cross layers over the global cache K/V `[Hkv, pos0+T, hd]`; queries at pos0.. (bottom-right)."""
        cfg = self.cfg
        T, H, hd = x.shape[0], cfg.n_attn_heads, cfg.attn_head_dim
        q_pos = torch.arange(pos0, pos0 + T)
        k_pos = torch.arange(K.shape[1])
        for i in range(cfg.n_layers // 2):
            p = f"cross_decoder.layers.{i}"
            h = self._norm(x, f"{p}.mixer_layer_norm")
            q = self._rope(self._lin(h, f"{p}.mixer.q_proj").view(T, H, hd), self.inv_attn, pos0).transpose(0, 1)
            o = attention(q, K, V, q_pos, k_pos)
            x = x + self._lin(o.transpose(0, 1).reshape(T, H * hd), f"{p}.mixer.out_proj")
            x = x + self._ffn(self._norm(x, f"{p}.final_layer_norm"), f"{p}.ffn", "fc1", "gate", "fc2")
            if collect is not None:
                collect[f"cross.{i}"] = x
        return x

    # ---- transformer / cla ----

    def _attn_layers(self, x, pos0, bufs, collect=None):
        """transformer.py blocks (cla: K/V from the group's first layer, input kv_norm(x_i)).
        bufs: list of KvBuffer (one per layer or group) or None for a stateless full forward."""
        cfg = self.cfg
        T, H, Hkv, hd = x.shape[0], cfg.n_attn_heads, cfg.n_attn_kv_heads, cfg.attn_head_dim
        s = cfg.cla_factor if cfg.arch == "cla" else 1
        q_pos = torch.arange(pos0, pos0 + T)
        K = V = None
        for i in range(cfg.n_layers):
            p = f"layers.{i}"
            h = self._norm(x, f"{p}.attention_norm")
            if i % s == 0:
                kin = self._norm(x, f"{p}.kv_norm") if cfg.arch == "cla" else h
                k = self._rope(self._lin(kin, f"{p}.attention.wk").view(T, Hkv, hd), self.inv_attn, pos0).transpose(0, 1)
                v = self._lin(kin, f"{p}.attention.wv").view(T, Hkv, hd).transpose(0, 1)
                if bufs is not None:
                    b = bufs[i // s]
                    b.append(k, v)
                    K, V = b.view()
                else:
                    K, V = k, v
            q = self._rope(self._lin(h, f"{p}.attention.wq").view(T, H, hd), self.inv_attn, pos0).transpose(0, 1)
            o = attention(q, K, V, q_pos, torch.arange(K.shape[1]))
            x = x + self._lin(o.transpose(0, 1).reshape(T, H * hd), f"{p}.attention.wo")
            x = x + self._ffn(self._norm(x, f"{p}.ffn_norm"), f"{p}.feed_forward", "w1", "w3", "w2")
            if collect is not None:
                collect[f"layers.{i}"] = x
        return x

    # ---- public API ----

    def forward(self, tokens, intermediates=False, retention_mode="chunkwise"):
        """Full-sequence forward from position 0, no state. Returns (logits `[T, V]`, dict of intermediates
        or None). retention_mode picks the gated-retention form (chunkwise = the reference's forward)."""
        assert retention_mode in ("chunkwise", "parallel", "recurrent")
        tokens = torch.as_tensor(tokens, dtype=torch.long)
        inter = {} if intermediates else None
        x = self._embed(tokens)
        if self.cfg.arch == "yoco":
            m = self._self_decoder(x, 0, None, retention_mode, inter)
            K, V = self._global_kv(m, 0)
            if inter is not None:
                T = tokens.shape[0]
                inter["kv.k"] = K.transpose(0, 1).reshape(T, -1)
                inter["kv.v"] = V.transpose(0, 1).reshape(T, -1)
            x = self._cross_decoder(m, 0, K, V, inter)
        else:
            x = self._attn_layers(x, 0, None, inter)
        return self._head(x), inter

    def new_state(self, capacity=256):
        """A fresh sequence state; `capacity` tokens of K/V are reserved up front (it grows beyond)."""
        cfg = self.cfg
        st = State()
        mk = lambda: KvBuffer(cfg.n_attn_kv_heads, cfg.attn_head_dim, self.dtype, capacity)  # noqa: E731
        if cfg.arch == "yoco":
            st.self_layers = [{} for _ in range(cfg.n_layers // 2)]
            st.kv = mk()
        else:
            s = cfg.cla_factor if cfg.arch == "cla" else 1
            st.kv_layers = [mk() for _ in range((cfg.n_layers + s - 1) // s)]
        return st

    def _advance(self, state, tokens, mode, early_exit, last_only):
        cfg = self.cfg
        tokens = torch.as_tensor(tokens, dtype=torch.long).reshape(-1)
        pos0 = state.pos
        x = self._embed(tokens)
        if cfg.arch == "yoco":
            m = self._self_decoder(x, pos0, state.self_layers, mode)
            k, v = self._global_kv(m, pos0)
            state.kv.append(k, v)
            state.pos += tokens.shape[0]
            if early_exit:  # skip_cross_decoder: only the self-decoder and K^/V^ ran
                return None
            if last_only:
                m, pos0 = m[-1:], state.pos - 1
            K, V = state.kv.view()
            x = self._cross_decoder(m, pos0, K, V)
        else:
            if early_exit:
                raise ValueError("early exit needs arch yoco")
            x = self._attn_layers(x, pos0, state.kv_layers)
            state.pos += tokens.shape[0]
            if last_only:
                x = x[-1:]
        return self._head(x)

    def prefill(self, state, tokens, early_exit=False, last_only=False):
        """Consume a block of tokens (is_prefilling=True: chunkwise retention with the reference's padding and
        carried state). Returns logits `[n, V]` (only the last row with last_only), or None with early_exit."""
        return self._advance(state, tokens, "chunkwise", early_exit, last_only)

    def step(self, state, token):
        """One decode step (is_prefilling=False: recurrent retention). Returns logits `[V]`."""
        return self._advance(state, [int(token)], "recurrent", False, False)[0]
