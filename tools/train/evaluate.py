"""Quick PyTorch-side evaluation on held-out `yoco world` seeds (< 1000; training never uses them): exact match
per question type, answering the way the C++ runtime does (docs/STREAM-FORMAT.md): ingest the stream, fork after
the last frame with pts <= at, prefill question_prefix + question + answer_prefix, decode greedily until
answer_end / </s> / max_answer_tokens, trim spaces. Uses tools/reference/yoco_ref.py's incremental path (chunkwise
prefill with the carried retention state, recurrent decode steps) on the exported weights, in float32.

    python3 tools/train/evaluate.py assets/models/demo --seeds 500:550 [--yoco build-train/bin/yoco] [--json out.json]
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import data as D  # noqa: E402
import safetensors_io  # noqa: E402
import yoco_ref  # noqa: E402
from model import YocoVLM, first_frames  # noqa: E402
from train import enc, normalise, time_tag  # noqa: E402


def advance(ref, state, x, early_exit, last_only):
    """yoco_ref.Model._advance on given input rows x [n, dim] (embeddings already scaled / vision rows)."""
    pos0 = state.pos
    m = ref._self_decoder(x, pos0, state.self_layers, "chunkwise" if x.shape[0] > 1 else "recurrent")
    k, v = ref._global_kv(m, pos0)
    state.kv.append(k, v)
    state.pos += x.shape[0]
    if early_exit:
        return None
    if last_only:
        m, pos0 = m[-1:], state.pos - 1
    K, V = state.kv.view()
    return ref._head(ref._cross_decoder(m, pos0, K, V))


def answer_all(ref, model, cfg, frames, pts, qas):
    """Answers for every QA of one video (qas sorted by at)."""
    sf = cfg["stream"]
    with torch.no_grad():
        rows = model.vision(normalise(frames, cfg["vision"], torch.device("cpu")),
                            first_frames([len(frames)])).to(torch.float32)
    emb = lambda ids: ref._embed(torch.tensor(ids, dtype=torch.long))  # noqa: E731
    state = ref.new_state(capacity=2048)
    advance(ref, state, emb([0]), True, False)
    n_in = 0
    end_ids = enc(sf["answer_end"])
    out = []
    for q in sorted(qas, key=lambda q: q["at"]):
        k = int(np.searchsorted(pts, q["at"] + 1e-9, side="right"))
        if k > n_in:
            xs = []
            for i in range(n_in, k):
                xs += [emb(enc(time_tag(pts[i]))), rows[i]]
            advance(ref, state, torch.cat(xs), True, False)
            n_in = k
        fork = state.clone()
        logits = advance(ref, fork, emb(enc(sf["question_prefix"] + q["question"] + sf["answer_prefix"])), False, True)[-1]
        gen = []
        # exact match only: past len(answer) + 2 tokens the answer is wrong whatever follows, so stop there
        cap = min(sf["max_answer_tokens"], len(enc(q["answer"])) + 2)
        for _ in range(cap):
            t = int(logits.argmax())
            if t == 2:
                break
            gen.append(t)
            if len(gen) >= len(end_ids) and gen[-len(end_ids):] == end_ids:
                gen = gen[: -len(end_ids)]
                break
            logits = advance(ref, fork, emb([t]), False, False)[-1]
        text = bytes(i - 4 for i in gen if i >= 4).decode("utf-8", "replace").strip(" ")
        out.append((q, text))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--seeds", default="500:550")
    ap.add_argument("--yoco", default="build-train/bin/yoco")
    ap.add_argument("--cache", default="build-train/data-eval")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-seconds", type=float, default=0, help="skip videos longer than this (0: none)")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = json.load(open(os.path.join(a.model_dir, "config.json")))
    w, _ = safetensors_io.load(os.path.join(a.model_dir, "model.safetensors"))
    model = YocoVLM(cfg)
    model.load_state_dict(w)
    model.eval()
    ref = yoco_ref.Model(yoco_ref.Config.from_dict(cfg), {k: v for k, v in w.items() if not k.startswith("vision.")},
                         torch.float32)
    s0, s1 = (int(x) for x in a.seeds.split(":"))
    assert s1 <= D.EVAL_SEED_LIMIT, "held-out seeds are < 1000"
    os.makedirs(a.cache, exist_ok=True)
    per, samples = {}, []
    t0 = time.time()
    for seed in range(s0, s1):
        if a.max_seconds and D.video_options(seed)[0] > a.max_seconds:
            continue
        D.make_video(a.yoco, seed, a.cache, cfg["vision"]["image_size"], eval_ok=True)
        frames, pts, truth = D.load_video(a.cache, seed)
        for q, got in answer_all(ref, model, cfg, frames, pts, truth["qa"]):
            ok = got == q["answer"]
            c = per.setdefault(q["type"], [0, 0])
            c[0] += ok
            c[1] += 1
            if len(samples) < 400:
                samples.append({"seed": seed, "at": q["at"], "type": q["type"], "question": q["question"],
                                "answer": q["answer"], "got": got, "ok": ok})
        print(f"seed {seed}: " + ", ".join(f"{t} {c[0]}/{c[1]}" for t, c in sorted(per.items())), flush=True)
    tot = [sum(c[0] for c in per.values()), sum(c[1] for c in per.values())]
    res = {"overall": tot[0] / max(1, tot[1]), "n": tot[1], "per_type": {t: {"em": c[0] / c[1], "n": c[1]} for t, c in sorted(per.items())},
           "seeds": a.seeds, "seconds": round(time.time() - t0, 1), "samples": samples}
    print(json.dumps({k: v for k, v in res.items() if k != "samples"}, indent=1))
    if a.json:
        json.dump(res, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
