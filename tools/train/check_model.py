"""Self-check: the trainable model (model.py) computes exactly what the references compute, in float64.

1. text-only causal sequence: logits == yoco_ref.Model.forward (chunkwise retention, the C++ prefill form);
2. a tree row (stream + two branches): each branch's logits == the reference on the linear sequence
   stream[:cut] + branch (what the C++ runtime's fork computes), and the stream's own logits are unaffected;
3. vision: Vision.forward == vision_ref.encode_image on random frames; with `motion`, on two streams of frames
   (each frame after its predecessor, a stream's first frame alone);
4. grown models (train.py --vision-width/--vision-mlp/--vision-layers, --layers) compute the same function.
Run: /usr/bin/python3 tools/train/check_model.py   (prints max relative errors, exits 1 on failure)
"""

import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
sys.path.insert(0, os.path.join(HERE, "..", "vision"))

import vision_ref  # noqa: E402
import yoco_ref  # noqa: E402
from model import YocoVLM, first_frames, grow_lm_state, grow_vision_state, model_config, rope  # noqa: E402


def rel(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()


def main():
    torch.manual_seed(0)
    cfg = model_config("small")
    m = YocoVLM(cfg).double().eval()
    for p in m.parameters():  # perturb norms so they matter
        if p.dim() == 1:
            p.data += 0.1 * torch.randn_like(p)
        p.data = p.data.float().double()  # the exported (f32) values, so both sides use the same weights
    w = m.export_tensors()
    ref = yoco_ref.Model(yoco_ref.Config.from_dict(cfg), {k: v for k, v in w.items() if not k.startswith("vision.")},
                         torch.float64)
    ok = True

    # 1. causal text
    L = 300
    tok = torch.randint(0, 260, (L,))
    mask = torch.ones(L, L, dtype=torch.bool).tril()[None]
    with torch.no_grad():
        got = m.forward_embeds(m.embed(tok[None]), torch.arange(L)[None], mask)[0]
    exp, _ = ref.forward(tok, retention_mode="chunkwise")
    e1 = rel(got, exp)
    print(f"causal text: max rel err {e1:.2e}")
    ok &= e1 < 1e-9

    # 2. tree: stream of 120, branches forking at 50 (len 30) and 120 (len 25)
    S, cuts, blens = 120, [50, 120], [30, 25]
    stream = torch.randint(0, 260, (S,))
    branches = [torch.randint(0, 260, (n,)) for n in blens]
    toks = torch.cat([stream] + branches)
    Lt = toks.shape[0]
    pos = torch.empty(Lt, dtype=torch.long)
    mk = torch.zeros(Lt, Lt, dtype=torch.bool)
    mk[:S, :S] = torch.ones(S, S, dtype=torch.bool).tril()
    pos[:S] = torch.arange(S)
    o = S
    for c, n in zip(cuts, blens):
        mk[o:o + n, :c] = True
        mk[o:o + n, o:o + n] = torch.ones(n, n, dtype=torch.bool).tril()
        pos[o:o + n] = torch.arange(c, c + n)
        o += n
    with torch.no_grad():
        got = m.forward_embeds(m.embed(toks[None]), pos[None], mk[None])[0]
    exp_s, _ = ref.forward(stream)
    e2 = rel(got[:S], exp_s)
    o = S
    for c, n, b in zip(cuts, blens, branches):
        st = ref.new_state()
        ref.prefill(st, stream[:c], early_exit=True)
        exp_b = ref.prefill(st, b)  # a fork: chunkwise prefill on the carried state
        e2 = max(e2, rel(got[o:o + n], exp_b))
        o += n
    print(f"tree (stream + 2 forks): max rel err {e2:.2e}")
    ok &= e2 < 1e-9

    # 2b. the training path: forward_row (chunked stream retention, per-branch attention, branch rows only),
    # with a stream longer than one retention chunk
    S2 = 300
    toks2 = torch.cat([torch.randint(0, 260, (S2,))] + branches)
    bl = [(S2, blens[0], 200), (S2 + blens[0], blens[1], S2)]
    pos2 = torch.cat([torch.arange(S2)] + [torch.arange(c, c + n) for _, n, c in bl])
    mk2 = torch.zeros(len(toks2), len(toks2), dtype=torch.bool)
    mk2[:S2, :S2] = torch.ones(S2, S2, dtype=torch.bool).tril()
    for st_, n, c in bl:
        mk2[st_:st_ + n, :c] = True
        mk2[st_:st_ + n, st_:st_ + n] = torch.ones(n, n, dtype=torch.bool).tril()
    with torch.no_grad():
        x2 = m.embed(toks2[None])
        full, hid = m.forward_embeds(x2, pos2[None], mk2[None], return_hidden=True)
        rl, rh = m.forward_row(x2[0], pos2, S2, bl)
    e4 = max(rel(rl, full[0, S2:]), rel(rh, hid[0]))
    print(f"forward_row vs full mask: max rel err {e4:.2e}")
    ok &= e4 < 1e-9

    # 2c. the attention target (train.py --att-when): -log of cross-decoder layer 0, last head's mass on a span,
    # against the probabilities of the full-mask attention
    att = [(0, S2 + 2, S2 + 5, 40, 57), (1, S2 + blens[0] + 1, S2 + blens[0] + 3, 250, 290)]
    with torch.no_grad():
        _, _, got_nll = m.forward_row(x2[0], pos2, S2, bl, att=att)
        H = cfg["n_attn_heads"]
        hd = cfg["dim"] // H
        blk = m.cross_decoder.layers[0]
        K, _ = m.global_kv(hid, pos2[None])
        q = rope(blk.mixer.q_proj(blk.mixer_layer_norm(hid)).view(1, -1, H, hd), pos2[None], m.inv_attn)
        kh = K[0, (H - 1) // (H // K.shape[1])]
        sc = (q[0, :, H - 1] @ kh.t()) * hd**-0.5
        pr = torch.softmax(sc.masked_fill(~mk2, float("-inf")), -1)
        want = torch.cat([-pr[q0:q1, t0:t1].sum(-1).log() for _, q0, q1, t0, t1 in att]).mean()
    e6 = abs(got_nll.item() - want.item()) / abs(want.item())
    print(f"attention target vs full-mask probabilities: rel err {e6:.2e}")
    ok &= e6 < 1e-9

    # 3. vision
    vc = cfg["vision"]
    frames = [torch.randint(0, 256, (128, 128, 3), dtype=torch.uint8), torch.randint(0, 256, (72, 128, 3), dtype=torch.uint8)]
    imgs = torch.stack([vision_ref.preprocess(f, vc) for f in frames])
    with torch.no_grad():
        got = m.vision(imgs)
    e3 = max(rel(got[i], vision_ref.encode_image(imgs[i], w, vc)) for i in range(len(frames)))
    print(f"vision: max rel err {e3:.2e}")
    ok &= e3 < 1e-9

    # 4. vision with the motion input: streams of 3 and 2 frames
    mcfg = model_config("small", motion=True)["vision"]
    mv = YocoVLM({**cfg, "vision": mcfg}).double().eval()
    mv.vision.load_state_dict(m.vision.state_dict(), strict=False)
    me = mv.vision.motion_embed.weight
    me.data = (torch.randn_like(me) * 0.05).float().double()  # zero at init: make it matter (f32 values)
    mw = {k: v for k, v in mv.export_tensors().items() if k.startswith("vision.")}
    seq = torch.stack([vision_ref.preprocess(torch.randint(0, 256, (64, 64, 3), dtype=torch.uint8), mcfg)
                       for _ in range(5)])
    with torch.no_grad():
        got = mv.vision(seq, first_frames([3, 2]))
    prevs = [None, seq[0], seq[1], None, seq[3]]
    e5 = max(rel(got[i], vision_ref.encode_image(seq[i], mw, mcfg, prevs[i])) for i in range(5))
    moved = rel(got[1], vision_ref.encode_image(seq[1], mw, mcfg))
    print(f"vision with motion: max rel err {e5:.2e} (the motion input moves frame 1 by {moved:.2e})")
    ok &= e5 < 1e-9 and moved > 1e-3

    # 5. a grown encoder (train.py --vision-width/--vision-mlp/--vision-layers) computes the same function: the
    # only difference is the norms' eps under the RMS (eps * (1 - W0/W) relative to the mean square)
    gcfg = {**cfg, "vision": {**mcfg, "width": 96, "mlp_dim": 320, "n_layers": 3}}
    mg = YocoVLM(gcfg).double().eval()
    src = {k: v for k, v in mv.state_dict().items()}
    for k in src:  # a trained model's norms are not all ones, nor its motion embedding small
        if k.startswith("vision.") and src[k].dim() == 1:
            src[k] = src[k] + 0.1 * torch.randn_like(src[k])
    mv.load_state_dict(src)
    mg.load_state_dict(grow_vision_state(src, mg.state_dict(), gcfg))
    with torch.no_grad():
        a, b = mv.vision(seq, first_frames([3, 2])), mg.vision(seq, first_frames([3, 2]))
        for mod in list(mv.vision.modules()) + list(mg.vision.modules()):
            if hasattr(mod, "eps"):
                mod.eps = 0.0
        e7 = rel(mg.vision(seq, first_frames([3, 2])), mv.vision(seq, first_frames([3, 2])))
    e8 = rel(b, a)
    print(f"grown vision encoder (width 64 -> 96, mlp 192 -> 320, 2 -> 3 blocks): max rel err {e7:.2e} "
          f"({e8:.2e} with the norms' eps)")
    ok &= e7 < 1e-9 and e8 < 1e-4

    # 6. a deeper LM (train.py --layers): 4 -> 6 layers, identity blocks at the end of each half, same logits on
    # the tree row of case 2 (the global K/V now passes one more self-decoder block)
    dcfg = {**cfg, "n_layers": 6}
    md = YocoVLM(dcfg).double().eval()
    md.load_state_dict(grow_lm_state(m.state_dict(), md.state_dict(), dcfg))
    with torch.no_grad():
        e9 = rel(md.forward_embeds(md.embed(toks[None]), pos[None], mk[None]),
                 m.forward_embeds(m.embed(toks[None]), pos[None], mk[None]))
    print(f"grown LM (4 -> 6 layers): max rel err {e9:.2e}")
    ok &= e9 < 1e-12
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
