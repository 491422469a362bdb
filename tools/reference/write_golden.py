"""Write the golden test data under tests/data/<case>/ (see docs/MODEL-FORMAT.md, "Golden data").

For each case: a small random model (seeded, generated in float64, stored as f32), config.json,
model.safetensors, and golden.safetensors computed in float64 from the f32-rounded weights and stored as f32.
Before writing anything the script checks the reference against itself (all in float64, relative 1e-9):
parallel == chunkwise == recurrent retention (kernels and whole model), incremental decode == full forward,
early-exit prefill + one step == the full forward's last logits, split prefills == one prefill.
Deterministic: the same command gives the same bytes.

    /usr/bin/python3 tools/reference/write_golden.py            # all cases into tests/data/
    /usr/bin/python3 tools/reference/write_golden.py --check    # checks only, writes nothing
"""

import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import safetensors_io  # noqa: E402
from yoco_ref import (  # noqa: E402
    Config,
    Model,
    apply_rope,
    attention,
    expected_shapes,
    retention_chunkwise,
    retention_parallel,
    retention_prefill_state,
    retention_recurrent,
    rope_cos_sin,
    rope_inv_freq,
)

REPO = os.path.dirname(os.path.dirname(HERE))
T_TOKENS = 640  # > 512: the retention prefill spans chunk boundaries 256 and 512
PREFILL = 600  # decode_logits rows = T - P = 40
TOL = 1e-9  # float64 self-consistency, relative to the largest magnitude

BASE = dict(
    dim=48,
    n_layers=4,
    hidden_dim=112,
    n_self_heads=2,
    n_attn_heads=4,
    n_attn_kv_heads=2,
    vocab_size=113,
    rope_theta=10000.0,
    norm_eps=1e-5,
)
CASES = {
    "yoco_gret": dict(BASE, sliding_window=None, arch="yoco", rope_style="yoco", embed_scale=True, gate_logit_normalizer=16),
    "yoco_swa": dict(BASE, sliding_window=48, arch="yoco", rope_style="yoco", embed_scale=True),
    "transformer": dict(BASE, sliding_window=None, arch="transformer", rope_style="neox", embed_scale=False),
    "cla": dict(BASE, sliding_window=None, arch="cla", rope_style="neox", embed_scale=False, cla_factor=2),
}
SEEDS = {"yoco_gret": 1001, "yoco_swa": 1002, "transformer": 1003, "cla": 1004}


# ----------------------------------------------------------------------------------------------------------------
# random models


def init_weights(cfg: Config, gen: torch.Generator):
    """Random weights with O(1) activations: inputs of every linear are RMS-normalised (rms ~ 1), so a
    [out, in] weight of std c/sqrt(in) gives outputs of rms ~ c. Residual writers (out/wo/fc2/w2) use c = 0.5
    so the stream grows slowly; norms are 1 + 0.1 N(0, 1) so a missing weight multiply shows; the output
    projection uses c = 2 (logits std ~ 2, softmax neither flat nor one-hot). The retention gate rows of head h
    have c = 16^(h / (H - 1)): head 0 decays slowly (gamma ~ 0.95..1), the last head spans gamma ~ 0.1..1."""
    w = {}
    for name, shape in expected_shapes(cfg).items():
        z = torch.randn(*shape, generator=gen, dtype=torch.float64)
        if len(shape) == 1:
            t = 1.0 + 0.1 * z
        elif name in ("embed_tokens.weight", "tok_embeddings.weight"):
            t = z * (1.0 / math.sqrt(cfg.dim) if cfg.embed_scale else 1.0)
        elif name in ("output_projection.weight", "output.weight"):
            t = z * (2.0 / math.sqrt(shape[1]))
        elif name.endswith("gt_proj.weight"):
            H = shape[0]
            c = torch.tensor([16.0 ** (h / max(1, H - 1)) for h in range(H)], dtype=torch.float64)
            t = z * (c[:, None] / math.sqrt(shape[1]))
        elif name.endswith(("out_proj.weight", "wo.weight", "fc2.weight", "w2.weight")):
            t = z * (0.5 / math.sqrt(shape[1]))
        elif name.endswith(("q_proj.weight", "wq.weight")):
            t = z * (1.5 / math.sqrt(shape[1]))
        else:
            t = z * (1.0 / math.sqrt(shape[1]))
        w[name] = t.to(torch.float32)  # the stored model is f32; the golden is computed from exactly these
    return w


# ----------------------------------------------------------------------------------------------------------------
# checks


def rel(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-300)).item()


class Checker:
    def __init__(self, case):
        self.case = case
        self.results = []

    def __call__(self, what, a, b, tol=TOL):
        e = rel(a, b)
        self.results.append((what, e))
        status = "ok" if e <= tol else "FAIL"
        print(f"  [{self.case}] {what:58s} rel err {e:.2e}  {status}")
        if e > tol:
            raise SystemExit(f"self-check failed: {self.case}: {what}: {e:.3e} > {tol:.0e}")


def check_ops(check, gen):
    """RoPE and windowed GQA attention against independent formulations (complex rotation, a loop)."""
    T, H, d, p0, theta = 9, 3, 12, 5, 10000.0
    x = torch.randn(T, H, d, generator=gen, dtype=torch.float64)
    ang = torch.arange(p0, p0 + T, dtype=torch.float64)[:, None]
    inv_yoco = theta ** -torch.tensor([i / (d // 2 - 1) for i in range(d // 2)], dtype=torch.float64)
    check("rope: yoco frequencies theta^-(i/(d/2-1))", rope_inv_freq(d, theta, "yoco"), inv_yoco)
    rot = torch.polar(torch.ones(T, d // 2, dtype=torch.float64), ang * inv_yoco)[:, None, :]
    want = torch.view_as_real(torch.view_as_complex(x.reshape(T, H, d // 2, 2).contiguous()) * rot).flatten(-2)
    cos, sin = rope_cos_sin(rope_inv_freq(d, theta, "yoco"), p0, T, torch.float64)
    check("rope: yoco interleaved pairs vs complex rotation", apply_rope(x, cos, sin, "yoco"), want)
    inv_neox = theta ** -(torch.arange(0, d, 2, dtype=torch.float64) / d)
    rot = torch.polar(torch.ones(T, d // 2, dtype=torch.float64), ang * inv_neox)[:, None, :]
    z = torch.complex(x[..., : d // 2], x[..., d // 2 :]) * rot
    cos, sin = rope_cos_sin(rope_inv_freq(d, theta, "neox"), p0, T, torch.float64)
    check("rope: neox half-split pairs vs complex rotation", apply_rope(x, cos, sin, "neox"), torch.cat((z.real, z.imag), -1))
    # windowed causal GQA, queries = the last Tq of Tk keys (flash-attn bottom-right alignment)
    Hq, Hkv, Tq, Tk, W = 6, 2, 5, 11, 4
    q = torch.randn(Hq, Tq, d, generator=gen, dtype=torch.float64)
    k = torch.randn(Hkv, Tk, d, generator=gen, dtype=torch.float64)
    v = torch.randn(Hkv, Tk, d, generator=gen, dtype=torch.float64)
    want = torch.empty(Hq, Tq, d, dtype=torch.float64)
    for h in range(Hq):
        kh = h // (Hq // Hkv)
        for i in range(Tq):
            qi = Tk - Tq + i
            js = list(range(max(0, qi - W + 1), qi + 1))  # the W most recent keys, itself included
            w = torch.softmax(torch.stack([q[h, i] @ k[kh, j] / math.sqrt(d) for j in js]), 0)
            want[h, i] = sum(wj * v[kh, j] for wj, j in zip(w, js))
    got = attention(q, k, v, torch.arange(Tk - Tq, Tk), torch.arange(Tk), window=W, block=2)
    check("attention: window W, GQA, bottom-right vs loop", got, want)


def check_retention_kernels(check, gen):
    """The three retention forms on random inputs with a spread of decays, a carried state and padding."""
    H, T, dk, dv = 3, 512, 24, 20
    q = torch.randn(H, T, dk, generator=gen, dtype=torch.float64)
    k = torch.randn(H, T, dk, generator=gen, dtype=torch.float64)
    v = torch.randn(H, T, dv, generator=gen, dtype=torch.float64)
    scale = torch.tensor([0.5, 4.0, 40.0], dtype=torch.float64)[:, None]
    a = F.logsigmoid(torch.randn(H, T, generator=gen, dtype=torch.float64) * scale) / 16
    S0 = torch.randn(H, dk, dv, generator=gen, dtype=torch.float64)
    o_par = retention_parallel(q, k, v, a)
    o_rec, S_rec = retention_recurrent(q, k, v, a)
    check("kernel: chunkwise(256) vs recurrent", retention_chunkwise(q, k, v, a, 256), o_rec)
    check("kernel: chunkwise(64) vs recurrent", retention_chunkwise(q, k, v, a, 64), o_rec)
    check("kernel: parallel vs recurrent", o_par, o_rec)
    o_rec0, S_rec0 = retention_recurrent(q, k, v, a, S0)
    check("kernel: chunkwise with carried state vs recurrent", retention_chunkwise(q, k, v, a, 256, S0), o_rec0)
    n_valid = 300  # prefill of 300 padded to 512: the carried state must ignore the padding rows
    _, S_part = retention_recurrent(q[:, :n_valid], k[:, :n_valid], v[:, :n_valid], a[:, :n_valid], S0)
    check("kernel: masked prefill state vs recurrent state", retention_prefill_state(k, v, a, n_valid, S0), S_part)
    check("kernel: prefill state (no pad) vs recurrent", retention_prefill_state(k, v, a, T, None), S_rec)


def check_model(check, model, tokens, logits, inter):
    cfg = model.cfg
    T, P = tokens.shape[0], PREFILL
    if cfg.arch == "yoco" and cfg.sliding_window is None:
        for mode in ("parallel", "recurrent"):
            lg, it = model.forward(tokens, intermediates=True, retention_mode=mode)
            check(f"full forward: {mode} vs chunkwise retention, logits", lg, logits)
            for name in inter:
                check(f"full forward: {mode} vs chunkwise, {name}", it[name], inter[name])
    # the golden decode path: (early-exit) prefill of P tokens, then one token at a time
    yoco = cfg.arch == "yoco"
    st = model.new_state()
    model.prefill(st, tokens[:P], early_exit=yoco, last_only=True)
    dec = torch.stack([model.step(st, tokens[t]) for t in range(P, T)])
    check(f"decode: prefill {P}{' (early exit)' if yoco else ''} + {T - P} steps vs full", dec, logits[P:])
    if yoco:
        K, V = st.kv.view()
        check("decode: global cache K^ vs full-forward kv.k", K.transpose(0, 1).reshape(T, -1), inter["kv.k"])
        check("decode: global cache V^ vs full-forward kv.v", V.transpose(0, 1).reshape(T, -1), inter["kv.v"])
        st = model.new_state()
        assert model.prefill(st, tokens[: T - 1], early_exit=True) is None
        check("early exit: prefill T-1 + one step vs full last logits", model.step(st, tokens[T - 1]), logits[T - 1])
    st = model.new_state()
    check("prefill (no early exit) logits vs full rows [0, P)", model.prefill(st, tokens[:P]), logits[:P])
    check("prefill, then the rest as one block vs full rows [P, T)", model.prefill(st, tokens[P:]), logits[P:])
    st = model.new_state()  # split prefills: the second starts mid-chunk at 300 and crosses 512
    model.prefill(st, tokens[:300], early_exit=yoco)
    model.prefill(st, tokens[300:P], early_exit=yoco)
    check("prefill 300 + 300, then steps vs full", torch.stack([model.step(st, tokens[t]) for t in range(P, T)]), logits[P:])
    st = model.new_state()  # decode from the very first token
    dec = torch.stack([model.step(st, tokens[t]) for t in range(0, 80)])
    check("steps from position 0 (80 tokens) vs full", dec, logits[:80])


def sanity(case, model, tokens, logits, inter):
    """The data must exercise the engine: O(1) activations, a spread of decays, non-degenerate logits."""
    cfg = model.cfg
    rms = {n: t.pow(2).mean().sqrt().item() for n, t in inter.items()}
    print(f"  [{case}] rms: " + ", ".join(f"{n} {r:.2f}" for n, r in rms.items()))
    p = torch.softmax(logits, -1)
    ent = -(p * p.clamp_min(1e-300).log()).sum(-1).mean().item()
    print(f"  [{case}] logits std {logits.std().item():.2f}, mean entropy {ent:.2f} nats (uniform {math.log(cfg.vocab_size):.2f})")
    assert all(0.3 < r < 20 for r in rms.values()), "activations out of O(1)"
    assert 1.0 < logits.std().item() < 6.0 and 0.5 < ent < math.log(cfg.vocab_size) - 0.3, "degenerate logits"
    if cfg.sliding_window is not None:  # the window must bite: W < T changes the logits
        wide = Model(Config.from_dict(dict(CASES[case], sliding_window=tokens.shape[0])), model.w)
        e = rel(wide.forward(tokens)[0], logits)
        print(f"  [{case}] window {cfg.sliding_window} vs unbounded: logits differ by {e:.2f} (relative)")
        assert e > 0.01, "the sliding window has no effect"
    if cfg.arch == "yoco" and cfg.sliding_window is None:
        x = model._embed(tokens)
        for i in range(cfg.n_layers // 2):
            p = f"self_decoder.layers.{i}"
            h = model._norm(x, f"{p}.mixer_layer_norm")
            a = F.logsigmoid(model._lin(h, f"{p}.mixer.gt_proj")) / cfg.gate_logit_normalizer
            desc = ", ".join(f"head {h_}: a in [{a[:, h_].min():.3f}, {a[:, h_].max():.4f}]" for h_ in range(a.shape[1]))
            print(f"  [{case}] layer {i} log-decay {desc}")
            assert a.min() < -0.5 and a.max() > -0.02, "decays lack spread"
            x = inter[f"self.{i}"]


# ----------------------------------------------------------------------------------------------------------------


def build_case(case, out_dir, write):
    cfg_dict = CASES[case]
    seed = SEEDS[case]
    cfg = Config.from_dict(cfg_dict)
    gen = torch.Generator().manual_seed(seed)
    weights = init_weights(cfg, gen)
    tokens = torch.randint(0, cfg.vocab_size, (T_TOKENS,), generator=gen)
    model = Model(cfg, weights, torch.float64)
    check = Checker(case)
    if cfg.arch == "yoco" and cfg.sliding_window is None:
        check_ops(check, gen)
        check_retention_kernels(check, gen)
    logits, inter = model.forward(tokens, intermediates=True)
    sanity(case, model, tokens, logits, inter)
    check_model(check, model, tokens, logits, inter)
    # the golden decode_logits: the reference's incremental path
    st = model.new_state()
    model.prefill(st, tokens[:PREFILL], early_exit=cfg.arch == "yoco", last_only=True)
    decode = torch.stack([model.step(st, tokens[t]) for t in range(PREFILL, T_TOKENS)])
    if not write:
        return
    d = os.path.join(out_dir, case)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write(json.dumps(cfg_dict, indent=2) + "\n")
    safetensors_io.save(os.path.join(d, "model.safetensors"), weights)
    golden = {"tokens": tokens.to(torch.int32), "logits": logits.float(), "decode_logits": decode.float()}
    golden.update({n: t.float().contiguous() for n, t in inter.items()})
    safetensors_io.save(
        os.path.join(d, "golden.safetensors"), golden, {"prefill_len": str(PREFILL), "seed": str(seed)}
    )
    # round trip through the reader
    w2, _ = safetensors_io.load(os.path.join(d, "model.safetensors"))
    g2, meta = safetensors_io.load(os.path.join(d, "golden.safetensors"))
    assert all(torch.equal(w2[n], weights[n]) for n in weights) and torch.equal(g2["logits"], golden["logits"])
    assert meta == {"prefill_len": str(PREFILL), "seed": str(seed)}
    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    print(f"  [{case}] wrote {d} ({size / 1e6:.2f} MB)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "data"))
    ap.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    ap.add_argument("--check", action="store_true", help="run the self-checks only, write nothing")
    args = ap.parse_args()
    torch.set_num_threads(1)  # determinism (and the machine is shared)
    for case in args.cases:
        build_case(case, args.out, not args.check)
    print("all self-checks passed")


if __name__ == "__main__":
    main()
