"""Trainable YOCO video-language model: the vision encoder of tools/vision/vision_ref.py and the `arch: yoco`
gated-retention LM of tools/reference/yoco_ref.py, batched and differentiable, with tensor names exactly those of
docs/MODEL-FORMAT.md so `state_dict()` is the exported `model.safetensors`.

Packed "tree" sequences: one row of a batch holds a video stream (<s>, then per frame its time tag and T vision
rows) followed by several question branches. A branch forks the stream after the frame its question is asked at:
its tokens see the stream prefix up to that point and the earlier tokens of the same branch, nothing else, and they
take the RoPE positions they would have in the linear sequence `stream[:cut] + branch` that the C++ runtime builds.
Everything is expressed with one boolean visibility matrix `mask[b, n, m]` (m visible from n, n itself included):
- gated retention, parallel form: o_n = sum_m (q_n . k_m / sqrt(d)) exp(G_n - G_m) v_m over visible m, where
  G_n = sum of the log-decays a over n's visible set (its path from <s>), so exp(G_n - G_m) is the product of the
  decays of the tokens after m on n's path: the recurrent S_t = exp(a_t) S_{t-1} + k_t^T v_t exactly;
- cross-decoder: causal softmax GQA restricted to the visible keys.
For a plain causal mask this is exactly yoco_ref.Model.forward (tested in check_model.py).
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def rms_norm(x, weight, eps):
    out = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return out * weight if weight is not None else out


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return rms_norm(x, self.weight, self.eps)


def lin(i, o):
    return nn.Linear(i, o, bias=False)


def rope_inv_freq(head_dim, theta):
    """yoco rope: 1 / theta^linspace(0, 1, d/2) (float64)."""
    return 1.0 / (theta ** torch.linspace(0, 1, head_dim // 2, dtype=torch.float64))


def rope(x, pos, inv_freq):
    """x [B, L, H, d], pos [B, L] int64; interleaved pairs (yoco style). Angles in float64, then cast."""
    ang = pos.to(torch.float64)[..., None] * inv_freq.to(x.device)  # [B, L, d/2]
    c = torch.cos(ang).to(x.dtype)[:, :, None, :]
    s = torch.sin(ang).to(x.dtype)[:, :, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)


class FFN(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.gate, self.fc2 = lin(dim, hidden), lin(dim, hidden), lin(hidden, dim)

    def forward(self, x):
        return self.fc2(F.silu(self.fc1(x)) * self.gate(x))


class GatedRetention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        D, H = cfg["dim"], cfg["n_self_heads"]
        self.H, self.d, self.norm_eps, self.gln = H, D // H, cfg.get("norm_eps", 1e-5), cfg.get("gate_logit_normalizer", 16.0)
        self.q_proj, self.k_proj, self.v_proj, self.g_proj, self.out_proj = (lin(D, D) for _ in range(5))
        self.gt_proj = lin(D, H)

    def forward(self, x, pos, mask, mask_f, inv_freq):
        B, L, D = x.shape
        H, d = self.H, self.d
        q = rope(self.q_proj(x).view(B, L, H, d), pos, inv_freq).transpose(1, 2)  # [B, H, L, d]
        k = rope(self.k_proj(x).view(B, L, H, d), pos, inv_freq).transpose(1, 2) * (d**-0.5)
        v = self.v_proj(x).view(B, L, H, d).transpose(1, 2)
        a = (F.logsigmoid(self.gt_proj(x)) / self.gln).transpose(1, 2)  # [B, H, L]
        G = torch.einsum("bnm,bhm->bhn", mask_f, a)  # path sums of the log-decays
        diff = (G[..., :, None] - G[..., None, :]).masked_fill(~mask[:, None], float("-inf"))
        o = ((q @ k.transpose(-1, -2)) * diff.exp()) @ v  # [B, H, L, d]
        o = rms_norm(o, None, self.norm_eps).transpose(1, 2).reshape(B, L, D)
        return self.out_proj(F.silu(self.g_proj(x)) * o)

    def forward_row(self, x, pos, S, branches, inv_freq):
        """One tree row, x [L, D]: the first S rows are the causal stream (chunked retention), then the branches
        (start, length, cut), each seeing the stream's first `cut` tokens and its own earlier tokens, computed
        branch by branch (cost length x (cut + length), not L^2). Same numbers as forward() on the row's mask."""
        L, D = x.shape
        H, d = self.H, self.d
        q = rope(self.q_proj(x).view(1, L, H, d), pos[None], inv_freq)[0].transpose(0, 1)  # [H, L, d]
        k = rope(self.k_proj(x).view(1, L, H, d), pos[None], inv_freq)[0].transpose(0, 1) * (d**-0.5)
        v = self.v_proj(x).view(L, H, d).transpose(0, 1)
        a = (F.logsigmoid(self.gt_proj(x)) / self.gln).t()  # [H, L]
        outs = [retention_causal_chunked(q[:, :S], k[:, :S], v[:, :S], a[:, :S])]
        A = a[:, :S].cumsum(-1)  # path sums of the stream
        for st, ln, cut in branches:
            qb, kb, vb = q[:, st:st + ln], k[:, st:st + ln], v[:, st:st + ln]
            G = a[:, st:st + ln].cumsum(-1) + A[:, cut - 1:cut]  # the branch's path sums
            o = ((qb @ k[:, :cut].transpose(-1, -2)) * (G[:, :, None] - A[:, None, :cut]).exp()) @ v[:, :cut]
            causal = torch.ones(ln, ln, dtype=torch.bool, device=x.device).tril()
            Db = (G[:, :, None] - G[:, None, :]).masked_fill(~causal, float("-inf")).exp()
            outs.append(o + ((qb @ kb.transpose(-1, -2)) * Db) @ vb)
        o = rms_norm(torch.cat(outs, 1), None, self.norm_eps).transpose(0, 1).reshape(L, D)
        return self.out_proj(F.silu(self.g_proj(x)) * o)


def retention_causal_chunked(q, k, v, a, chunk=128):
    """Causal gated retention of one sequence in chunks: q, k (already scaled), v [H, S, d], a [H, S] log-decays.
    o_i = sum_{j<=i} (q_i . k_j) exp(A_i - A_j) v_j with A = cumsum(a): the parallel form inside each chunk, the
    carried state S = sum_{j<c0} exp(A_{c0-1} - A_j) k_j^T v_j across chunks (O(S chunk + S d^2), not O(S^2))."""
    H, S, d = q.shape
    state = q.new_zeros(H, d, v.shape[-1])
    out = []
    for c0 in range(0, S, chunk):
        c1 = min(S, c0 + chunk)
        G = a[:, c0:c1].cumsum(-1)  # A_i - A_{c0-1}
        qi, ki, vi = q[:, c0:c1], k[:, c0:c1], v[:, c0:c1]
        n = c1 - c0
        causal = torch.ones(n, n, dtype=torch.bool, device=q.device).tril()
        D = (G[:, :, None] - G[:, None, :]).masked_fill(~causal, float("-inf")).exp()
        out.append(((qi @ ki.transpose(-1, -2)) * D) @ vi + (qi * G.exp()[..., None]) @ state)
        w = (G[:, -1:] - G).exp()
        state = state * G[:, -1].exp()[:, None, None] + (ki * w[..., None]).transpose(-1, -2) @ vi
    return torch.cat(out, 1)


def masked_attention(q, k, v, mask):
    """q [B, H, L, d], k/v [B, Hkv, L, d], mask [B, L, L] bool. GQA: query head h reads kv head h // (H/Hkv)."""
    B, H, L, d = q.shape
    r = H // k.shape[1]
    if r > 1:
        k = k.repeat_interleave(r, dim=1)
        v = v.repeat_interleave(r, dim=1)
    sc = (q @ k.transpose(-1, -2)) * (d**-0.5)
    sc = sc.masked_fill(~mask[:, None], float("-inf"))
    return torch.softmax(sc, dim=-1) @ v


class Block(nn.Module):
    def __init__(self, cfg, mixer):
        super().__init__()
        eps = cfg.get("norm_eps", 1e-5)
        self.mixer_layer_norm = RMSNorm(cfg["dim"], eps)
        self.mixer = mixer
        self.final_layer_norm = RMSNorm(cfg["dim"], eps)
        self.ffn = FFN(cfg["dim"], cfg["hidden_dim"])


class CrossMixer(nn.Module):
    def __init__(self, D):
        super().__init__()
        self.q_proj, self.out_proj = lin(D, D), lin(D, D)


class SelfDecoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layers = nn.ModuleList(Block(cfg, GatedRetention(cfg)) for _ in range(cfg["n_layers"] // 2))


class CrossDecoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        D = cfg["dim"]
        hd = D // cfg["n_attn_heads"]
        self.kv_layer_norm = RMSNorm(D, cfg.get("norm_eps", 1e-5))
        self.k_proj = lin(D, cfg["n_attn_kv_heads"] * hd)
        self.v_proj = lin(D, cfg["n_attn_kv_heads"] * hd)
        self.layers = nn.ModuleList(Block(cfg, CrossMixer(D)) for _ in range(cfg["n_layers"] // 2))


class VisionBlock(nn.Module):
    def __init__(self, W, M, eps):
        super().__init__()
        self.norm1 = RMSNorm(W, eps)
        self.attn = nn.Module()
        self.attn.qkv = lin(W, 3 * W)
        self.attn.out = lin(W, W)
        self.norm2 = RMSNorm(W, eps)
        self.mlp = nn.Module()
        self.mlp.gate, self.mlp.up, self.mlp.down = lin(W, M), lin(W, M), lin(M, W)


class Vision(nn.Module):
    """vision_ref.encode_image, batched over frames: images [F, 3, S, S] (normalised) -> [F, T, lm_dim].

    With `"motion": true` in the vision block the patch embedding also reads the frame's difference from the
    previous frame of its stream: x = patches(cur) W_p^T + patches(cur - prev) W_m^T + pos (docs/VISION.md)."""

    def __init__(self, v):
        super().__init__()
        self.v = v
        W, p, S = v["width"], v["patch_size"], v["image_size"]
        self.g = S // p
        eps = v.get("norm_eps", 1e-6)
        self.patch_embed = lin(3 * p * p, W)
        self.motion_embed = lin(3 * p * p, W) if v.get("motion", False) else None
        self.pos_embed = nn.Parameter(torch.randn(self.g * self.g, W) * 0.02)
        self.blocks = nn.ModuleList(VisionBlock(W, v["mlp_dim"], eps) for _ in range(v["n_layers"]))
        self.norm = RMSNorm(W, eps)
        self.proj = nn.Module()
        self.proj.fc1 = lin(W, v["proj_dim"])
        self.proj.fc2 = lin(v["proj_dim"], v["lm_dim"])

    def forward(self, img, first=None):
        """img [F, 3, S, S]; first: bool [F], True where a frame has no previous frame in its stream (its motion
        input is zero); None: every frame stands alone. Frames of one stream are consecutive in `img`."""
        v = self.v
        Fn = img.shape[0]
        p, g, W, H = v["patch_size"], self.g, v["width"], v["n_heads"]
        hd = W // H
        N = g * g
        patches = img.reshape(Fn, 3, g, p, g, p).permute(0, 2, 4, 1, 3, 5).reshape(Fn, N, 3 * p * p)
        x = self.patch_embed(patches) + self.pos_embed
        if self.motion_embed is not None and first is not None:
            diff = patches - torch.cat([patches[:1], patches[:-1]])
            x = x + self.motion_embed(diff * (~first).to(diff.dtype)[:, None, None])
        for blk in self.blocks:
            h = blk.norm1(x)
            q, k, vv = blk.attn.qkv(h).split(W, dim=-1)
            q, k, vv = (t.reshape(Fn, N, H, hd).transpose(1, 2) for t in (q, k, vv))
            att = torch.softmax((q @ k.transpose(-1, -2)) / math.sqrt(hd), dim=-1) @ vv
            x = x + blk.attn.out(att.transpose(1, 2).reshape(Fn, N, W))
            h = blk.norm2(x)
            x = x + blk.mlp.down(F.silu(blk.mlp.gate(h)) * blk.mlp.up(h))
        x = self.norm(x)
        t = int(round(math.sqrt(v["tokens_per_frame"])))
        pooled = F.adaptive_avg_pool2d(x.reshape(Fn, g, g, W).permute(0, 3, 1, 2), t)  # [F, W, t, t]
        pooled = pooled.permute(0, 2, 3, 1).reshape(Fn, t * t, W)
        return self.proj.fc2(F.gelu(self.proj.fc1(pooled)))


class YocoVLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        assert cfg.get("arch", "yoco") == "yoco" and cfg.get("sliding_window") is None
        self.cfg = cfg
        D, V = cfg["dim"], cfg["vocab_size"]
        self.embed_tokens = nn.Embedding(V, D)
        self.self_decoder = SelfDecoder(cfg)
        self.cross_decoder = CrossDecoder(cfg)
        self.layer_norm = RMSNorm(D, cfg.get("norm_eps", 1e-5))
        self.output_projection = lin(D, V)
        self.vision = Vision(cfg["vision"]) if "vision" in cfg else None
        theta = cfg.get("rope_theta", 10000.0)
        self.register_buffer("inv_self", rope_inv_freq(D // cfg["n_self_heads"], theta), persistent=False)
        self.register_buffer("inv_attn", rope_inv_freq(D // cfg["n_attn_heads"], theta), persistent=False)
        self._init()

    def _init(self):
        for name, p in self.named_parameters():
            if name == "vision.motion_embed.weight":
                nn.init.zeros_(p)  # starts as the still-image encoder; learns what motion adds
            elif p.dim() == 2 and name != "vision.pos_embed":
                nn.init.normal_(p, std=1.0 / math.sqrt(p.shape[1]))
                if name.endswith(("out_proj.weight", "fc2.weight", "mlp.down.weight", "attn.out.weight")) and "proj.fc2" not in name:
                    p.data.mul_(0.5 / math.sqrt(max(1, self.cfg["n_layers"])))
        nn.init.normal_(self.embed_tokens.weight, std=1.0 / math.sqrt(self.cfg["dim"]))
        nn.init.normal_(self.output_projection.weight, std=0.5 / math.sqrt(self.cfg["dim"]))

    def embed(self, tokens, vis_rows=None, vis_index=None):
        """tokens [B, L]; vis_rows [R, dim] placed at flat positions vis_index [R] (unscaled, as the C++ does)."""
        x = self.embed_tokens(tokens) * math.sqrt(self.cfg["dim"])
        if vis_rows is not None and vis_rows.shape[0]:
            B, L, D = x.shape
            x = x.reshape(B * L, D).index_put((vis_index,), vis_rows).reshape(B, L, D)
        return x

    def global_kv(self, m, pos):
        """The cross-decoder's global K (rotated) and V [B, Hkv, L, hd] from the self-decoder output m [B, L, dim]."""
        cd, cfg = self.cross_decoder, self.cfg
        B, L, D = m.shape
        Hkv, hd = cfg["n_attn_kv_heads"], D // cfg["n_attn_heads"]
        mn = cd.kv_layer_norm(m)
        K = rope(cd.k_proj(mn).view(B, L, Hkv, hd), pos, self.inv_attn).transpose(1, 2)
        V = cd.v_proj(mn).view(B, L, Hkv, hd).transpose(1, 2)
        return K, V

    def forward_embeds(self, x, pos, mask, return_hidden=False):
        """x [B, L, dim], pos [B, L] int64, mask [B, L, L] bool (n sees m). Returns logits [B, L, V] (and the
        self-decoder output [B, L, dim], what the global K/V is made of, with return_hidden)."""
        cfg = self.cfg
        B, L, D = x.shape
        mask_f = mask.to(x.dtype)
        for blk in self.self_decoder.layers:
            x = x + blk.mixer(blk.mixer_layer_norm(x), pos, mask, mask_f, self.inv_self)
            x = x + blk.ffn(blk.final_layer_norm(x))
        hidden = x
        cd = self.cross_decoder
        H = cfg["n_attn_heads"]
        hd = D // H
        K, V = self.global_kv(x, pos)
        for blk in cd.layers:
            h = blk.mixer_layer_norm(x)
            q = rope(blk.mixer.q_proj(h).view(B, L, H, hd), pos, self.inv_attn).transpose(1, 2)
            o = masked_attention(q, K, V, mask)
            x = x + blk.mixer.out_proj(o.transpose(1, 2).reshape(B, L, D))
            x = x + blk.ffn(blk.final_layer_norm(x))
        logits = self.output_projection(self.layer_norm(x))
        return (logits, hidden) if return_hidden else logits

    def forward_row(self, x, pos, S, branches, att=None, att_layer=0, att_head=-1):
        """One tree row without batching, computing only what training needs: x [L, dim] embeddings, pos [L],
        S stream tokens (causal), then the branches [(start, length, cut)] in order (train.build_row). The
        self-decoder runs on every row (stream retention chunked, O(S)); the cross-decoder and the head only on
        the branch rows, the only ones with an answer loss (YOCO's early exit, as in the runtime), branch by
        branch. Returns (logits of rows S..L-1 [L - S, V], self-decoder output [L, dim]). Equal to
        forward_embeds on the row's full mask (tools/train/check_model.py).
        att: attention targets [(branch, q_lo, q_hi, t_lo, t_hi)] in row positions (train.build_row): the query
        rows q_lo..q_hi-1 of that branch should attend, in cross-decoder layer att_layer and head att_head, to
        the stream positions t_lo..t_hi-1. With att, also returns the mean -log of that attention mass."""
        cfg = self.cfg
        L, D = x.shape
        for blk in self.self_decoder.layers:
            x = x + blk.mixer.forward_row(blk.mixer_layer_norm(x), pos, S, branches, self.inv_self)
            x = x + blk.ffn(blk.final_layer_norm(x))
        hidden = x
        cd = self.cross_decoder
        H = cfg["n_attn_heads"]
        hd = D // H
        K, V = self.global_kv(x[None], pos[None])
        xb, pb = x[None, S:], pos[None, S:]
        masks = [torch.cat([torch.ones(ln, cut, dtype=torch.bool, device=x.device),
                            torch.ones(ln, ln, dtype=torch.bool, device=x.device).tril()], 1)[None]
                 for st, ln, cut in branches]
        att_nll = []
        for li, blk in enumerate(cd.layers):
            h = blk.mixer_layer_norm(xb)
            q = rope(blk.mixer.q_proj(h).view(1, L - S, H, hd), pb, self.inv_attn).transpose(1, 2)
            if att and li == att_layer:
                att_nll += self._attention_nll(q, K, S, branches, att, att_head % H)
            o = torch.cat([masked_attention(q[:, :, st - S:st - S + ln],
                                            torch.cat([K[:, :, :cut], K[:, :, st:st + ln]], 2),
                                            torch.cat([V[:, :, :cut], V[:, :, st:st + ln]], 2), mk)
                           for (st, ln, cut), mk in zip(branches, masks)], 2)
            xb = xb + blk.mixer.out_proj(o.transpose(1, 2).reshape(1, L - S, D))
            xb = xb + blk.ffn(blk.final_layer_norm(xb))
        logits = self.output_projection(self.layer_norm(xb[0]))
        if att is None:
            return logits, hidden
        return logits, hidden, (torch.cat(att_nll).mean() if att_nll else None)

    def _attention_nll(self, q, K, S, branches, att, head):
        """-log of head `head`'s attention mass on each target span (forward_row's att), one value per query row."""
        hd = q.shape[-1]
        kvh = head // (q.shape[1] // K.shape[1])
        out = []
        for bi, q_lo, q_hi, t_lo, t_hi in att:
            st, ln, cut = branches[bi]
            qh = q[0, head, q_lo - S:q_hi - S]  # [n, hd]
            keys = torch.cat([K[0, kvh, :cut], K[0, kvh, st:st + ln]], 0)
            sc = (qh @ keys.t()) * (hd**-0.5)
            j = torch.arange(q_lo - st, q_hi - st, device=q.device)[:, None]  # the query's offset in its branch
            seen = torch.cat([torch.ones(len(j), cut, dtype=torch.bool, device=q.device),
                              torch.arange(ln, device=q.device)[None] <= j], 1)
            lp = torch.log_softmax(sc.masked_fill(~seen, float("-inf")), -1)
            out.append(-torch.logsumexp(lp[:, t_lo:t_hi], -1))
        return out

    def forward(self, tokens, pos, mask, images=None, vis_index=None, return_hidden=False, first=None):
        """Logits; with return_hidden also (vision rows [R, dim] or None, self-decoder output [B, L, dim]).
        first: Vision.forward's stream starts of `images`."""
        rows = None
        if images is not None and images.shape[0]:
            rows = self.vision(images, first).reshape(-1, self.cfg["dim"])
        out = self.forward_embeds(self.embed(tokens, rows, vis_index), pos, mask, return_hidden)
        return (out[0], rows, out[1]) if return_hidden else out

    def export_tensors(self):
        """name -> f32 tensor, the names of docs/MODEL-FORMAT.md (vision.* included)."""
        return {k: v.detach().float().cpu().contiguous() for k, v in self.state_dict().items()}


# The stream block of every demo config: the text format (docs/STREAM-FORMAT.md) and the prompts the world's
# questions train (captions: "what happened in the last 10 seconds?", asked every 10 s, tells of the 10 s before;
# its true answers are at most 402 bytes, 99 % under 342, in the training cache: captions are capped at 384;
# a caption reads the last 120 s besides the sink, the longest training clip: `yoco eval summary` with run 27,
# 6 videos of 180 s, 241 of 719 events against 243 reading everything and 164 reading 20 s, the value declared
# until 2026-12-08; its cost stays flat over a long file; docs/STREAM-FORMAT.md).
STREAM_BLOCK = {"fps": 1.0, "question_prefix": "\nQ: ", "answer_prefix": "\nA: ", "answer_end": "\n",
                "max_answer_tokens": 1024, "caption_prompt": "what happened in the last 10 seconds?",
                "caption_every": 10, "caption_covers": "preceding", "caption_max_tokens": 384, "caption_context": 120,
                "summary_prompt": "give a timestamped summary of the events."}


def first_frames(counts, device=None):
    """Vision.forward's `first` for streams of `counts` frames laid one after another."""
    first = torch.zeros(sum(counts), dtype=torch.bool, device=device)
    starts = torch.tensor([0] + list(counts[:-1]), dtype=torch.long).cumsum(0)
    first[starts[torch.tensor(list(counts)) > 0].to(first.device)] = True
    return first


def model_config(size="small", image_size=0, tokens_per_frame=0, motion=False):
    """The bundled demo model's config.json (LM + vision + tokenizer + stream blocks). `image_size` (0: the size's
    own) changes the input resolution and the patch size with it, so the patch grid and the cost of the vision
    blocks stay the same; only the patch embedding grows. `tokens_per_frame` (0: the size's own; a square) sets
    T, the adaptive pool's t x t output: the encoder's weights do not depend on it. `motion` adds the previous-frame
    difference input (Vision)."""
    sizes = {
        # name: (dim, n_layers, hidden, image size, patch, vision width, vision layers, vision mlp, T)
        "tiny": (64, 2, 176, 64, 8, 48, 1, 128, 4),
        "small": (128, 4, 352, 64, 8, 64, 2, 192, 4),
        "base": (192, 6, 512, 128, 16, 128, 3, 384, 9),
    }
    D, Ln, Hd, S, P, W, VL, VM, T = sizes[size]
    if image_size:
        g = S // P
        if image_size % g:
            raise ValueError(f"--image-size {image_size} is not a multiple of the {g}x{g} patch grid")
        S, P = image_size, image_size // g
    if tokens_per_frame:
        t = int(round(math.sqrt(tokens_per_frame)))
        if t * t != tokens_per_frame or t > S // P:
            raise ValueError(f"--tokens-per-frame {tokens_per_frame} is not a square of at most the "
                             f"{S // P}x{S // P} patch grid")
        T = tokens_per_frame
    return {
        "arch": "yoco",
        "dim": D,
        "n_layers": Ln,
        "hidden_dim": Hd,
        "n_self_heads": 4,
        "n_attn_heads": 4,
        "n_attn_kv_heads": 2,
        "vocab_size": 260,
        "rope_theta": 10000.0,
        "norm_eps": 1e-5,
        "sliding_window": None,
        "tokenizer": {"type": "byte"},
        "vision": {
            "image_size": S,
            "patch_size": P,
            "width": W,
            "n_layers": VL,
            "n_heads": 4,
            "mlp_dim": VM,
            "tokens_per_frame": T,
            "proj_dim": 2 * D,
            "lm_dim": D,
            "norm_eps": 1e-6,
            "mean": [0.5, 0.5, 0.5],
            "std": [0.5, 0.5, 0.5],
            "pad_rgb": [0, 0, 0],
            **({"motion": True} if motion else {}),
        },
        "stream": STREAM_BLOCK,
    }


def adapt_vision_state(state, cfg):
    """A state dict trained at another input resolution (same patch grid, patch p0) -> one for `cfg` (patch
    p = k * p0) that computes the same function of the image: the bilinear letterbox at an integer factor k is the
    k x k area average, so the old patch embedding on the averaged image equals a patch embedding whose weight is
    the old one spread over each k x k block, divided by k^2. Training then goes on from there with the detail
    the larger input adds. A still-image state for a `motion` config gets a zero motion embedding (the same
    function until training moves it). Returns the adapted dict (others entries unchanged)."""
    name, mname = "vision.patch_embed.weight", "vision.motion_embed.weight"
    if cfg["vision"].get("motion", False) and mname not in state:
        state = {**state, mname: torch.zeros_like(state[name])}
    w0 = state[name]
    p = cfg["vision"]["patch_size"]
    Wd, n0 = w0.shape
    p0 = int(round(math.sqrt(n0 // 3)))
    if p0 == p:
        return state
    if p % p0:
        raise ValueError(f"cannot adapt patch size {p0} to {p}: not an integer factor")
    k = p // p0
    w = w0.reshape(Wd, 3, p0, 1, p0, 1).expand(Wd, 3, p0, k, p0, k).reshape(Wd, 3 * p * p) / (k * k)
    out = dict(state)
    out[name] = w.contiguous()
    if mname in state:
        out[mname] = state[mname].reshape(Wd, 3, p0, 1, p0, 1).expand(Wd, 3, p0, k, p0, k).reshape(Wd, 3 * p * p) / (k * k)
    return out


def vision_sizes(state):
    """The vision encoder's width, MLP size and block count in a state dict ({} without an encoder)."""
    if "vision.pos_embed" not in state:
        return {}
    return {"width": state["vision.pos_embed"].shape[1], "mlp_dim": state["vision.blocks.0.mlp.down.weight"].shape[1],
            "n_layers": len({k.split(".")[2] for k in state if k.startswith("vision.blocks.")})}


def grow_vision_state(state, fresh, cfg):
    """A state dict with a smaller vision encoder -> one for `cfg`'s wider / deeper / larger-MLP encoder that
    computes the same function (`--vision-width`, `--vision-mlp`, `--vision-layers`). `fresh` is the new model's
    own (randomly initialised) state: the added weights that read come from it, the added weights that write are
    zero, so every added unit gets a gradient at once and none is a copy of another (no symmetry to break).

    - Width W0 -> W: the residual stream's new channels start at zero (zero rows in the patch, motion and position
      embeddings and in every projection that writes the stream: attention out, MLP down). An RMSNorm over W
      channels of which W - W0 are zero divides by sqrt(W0 / W) times the old RMS, so the old channels' norm
      weights are scaled by sqrt(W0 / W). Head h's old q/k/v channels become the first W0/H of its W/H; its new
      q channels are zero (the logits keep their terms) and its old q rows are scaled by sqrt(hd / hd0) for the
      1/sqrt(hd) softmax scale; its new v channels are read by zero columns of the attention out projection.
    - MLP M0 -> M: new hidden units have zero columns in the down projection.
    - Layers L0 -> L: the added blocks write nothing (zero attention out and MLP down): identity blocks.
    Only the vision.* entries change; the rest of `state` is returned as it is. Checked by check_model.py."""
    v = cfg["vision"]
    W, M, H, L = v["width"], v["mlp_dim"], v["n_heads"], v["n_layers"]
    old = vision_sizes(state)
    W0, M0, L0 = old["width"], old["mlp_dim"], old["n_layers"]
    if (W0, M0, L0) == (W, M, L):
        return state
    if W < W0 or M < M0 or L < L0:
        raise ValueError(f"cannot shrink the vision encoder (width {W0} -> {W}, mlp {M0} -> {M}, "
                         f"layers {L0} -> {L})")
    if W0 % H or W % H:
        raise ValueError(f"vision width {W0} / {W} is not a multiple of its {H} heads")
    hd0, hd = W0 // H, W // H
    r = math.sqrt(W0 / W)
    # channel j of the old head layout -> its place in the new one (head h's first hd0 channels)
    head_idx = torch.tensor([(j // hd0) * hd + j % hd0 for j in range(W0)])
    out = {k: t for k, t in state.items() if not k.startswith("vision.")}

    def put(name, rows=None, cols=None, zero=False):
        t = torch.zeros_like(fresh[name]) if zero else fresh[name].clone()
        if name in state:
            old = state[name]
            ri = rows if rows is not None else torch.arange(old.shape[0])
            if old.dim() == 1:
                t[ri] = old
            else:
                ci = cols if cols is not None else torch.arange(old.shape[1])
                t[ri[:, None], ci[None, :]] = old
        out[name] = t

    old_w = torch.arange(W0)
    for name in ("vision.patch_embed.weight", "vision.motion_embed.weight"):
        if name in fresh:
            put(name, rows=old_w, zero=True)
    put("vision.pos_embed", cols=old_w, zero=True)

    def put_norm(name):
        t = fresh[name].clone()
        if name in state:
            t[:W0] = state[name] * r
            t[W0:] = t[:W0].mean()  # new channels (zero at first): the old channels' mean weight
        out[name] = t

    for i in range(L):
        b = f"vision.blocks.{i}."
        put_norm(b + "norm1.weight")
        put_norm(b + "norm2.weight")
        qkv = fresh[b + "attn.qkv.weight"].clone()
        if b + "attn.qkv.weight" in state:  # an old block (a new one keeps its random q/k/v and writes nothing)
            oq = state[b + "attn.qkv.weight"]
            qkv[:W] = 0.0  # new q channels zero: the logits keep exactly their old terms
            for part, scale in ((0, math.sqrt(hd / hd0)), (1, 1.0), (2, 1.0)):
                qkv[part * W + head_idx, :W0] = oq[part * W0: (part + 1) * W0] * scale
        out[b + "attn.qkv.weight"] = qkv
        put(b + "attn.out.weight", rows=old_w, cols=head_idx, zero=True)
        put(b + "mlp.gate.weight", cols=old_w)
        put(b + "mlp.up.weight", cols=old_w)
        put(b + "mlp.down.weight", rows=old_w, zero=True)
    put_norm("vision.norm.weight")
    put("vision.proj.fc1.weight", cols=old_w)
    out["vision.proj.fc2.weight"] = state["vision.proj.fc2.weight"]
    for k in state:
        if k.startswith("vision.") and k not in out:
            raise ValueError(f"grow_vision_state: unexpected tensor {k}")
    return out


def lm_layers(state):
    """The LM's total layer count (self-decoder + cross-decoder) in a state dict."""
    return sum(len({k.split(".")[2] for k in state if k.startswith(p)})
               for p in ("self_decoder.layers.", "cross_decoder.layers."))


def grow_lm_state(state, fresh, cfg):
    """A state dict with a shallower LM -> one for `cfg`'s deeper LM (`train.py --layers`) that computes the same
    function: n_layers L0 -> L adds (L - L0) / 2 self-decoder blocks after the old ones (so the global K/V is made
    one block later) and as many cross-decoder blocks after the old ones (so the --att-when head, cross-decoder
    block 0, stays where it was). The added blocks write nothing (zero mixer out projection and FFN down): identity
    blocks; their other weights come from `fresh` (the new model's own random init), so every added unit gets a
    gradient once its out projection moves. Everything else is returned as it is. Checked by check_model.py."""
    L0, L = lm_layers(state), cfg["n_layers"]
    if L0 == L:
        return state
    if L < L0 or L % 2:
        raise ValueError(f"cannot grow the LM from {L0} to {L} layers (only to more, and an even count)")
    out = dict(state)
    for part in ("self_decoder", "cross_decoder"):
        for i in range(L0 // 2, L // 2):
            pre = f"{part}.layers.{i}."
            for k, t in fresh.items():
                if k.startswith(pre):
                    out[k] = torch.zeros_like(t) if k.endswith(("mixer.out_proj.weight", "ffn.fc2.weight")) \
                        else t.clone()
    return out
