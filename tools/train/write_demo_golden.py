"""Write tests/data/demo/golden.safetensors: PyTorch (float64) outputs of the *shipped* demo model on a short
held-out world video, for the C++ parity test tests/apps/demo_model_test.cpp.

    /usr/bin/python3 tools/train/write_demo_golden.py [--model assets/models/demo] [--yoco build/bin/yoco]

Contents (computed in float64 from the f32 weights, stored as f32 / i32 / u8):
  frame.{i}   U8  [H, W, 3]  the decoded 1 fps frames of world seed 900 (12 s, 128x128 H.264), as FFmpeg gives them
  rows.{i}    F32 [T, dim]   vision encoder output for frame i (vision_ref.preprocess + the model's encoder)
  tokens      I32 [N]        the linear stream + question: <s>, per frame its time tag bytes and T rows (-1 each),
                             then "\\nQ: <question>\\nA: "
  logits      F32 [Q, V]     logits at the question's Q positions (the last is the first answer token's)
  answer      I32 [A]        greedy answer tokens up to and including "\\n" (at most 48)
metadata: the question, the truth answer, `right`: every question of the video (asked as the runtime asks it:
ingest to `at`, fork, greedy answer; tools/train/evaluate.py) that the model answers exactly right, as JSON
[{"at", "question", "answer"}] (the test asks them through `yoco ask` and requires the same right answers), the
model's sha256 and CRC-32 (the test says to rerun this script when the model
changed), and the greedy answer's smallest top-1 margin (so the test knows an exact token match is meaningful).
Re-run it whenever assets/models/demo changes.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tools", "reference"))
sys.path.insert(0, os.path.join(REPO, "tools", "vision"))
import data as D  # noqa: E402
import evaluate as E  # noqa: E402
import yoco_ref  # noqa: E402
import safetensors_io  # noqa: E402
import vision_ref  # noqa: E402
from model import YocoVLM, first_frames  # noqa: E402
from train import enc, time_tag  # noqa: E402

safetensors_io.DTYPES.setdefault("U8", (torch.uint8, 1))
safetensors_io._NAME_OF.setdefault(torch.uint8, "U8")

SEED, SECONDS = 900, 12
QUESTION_TYPES = ("now", "count", "colour", "shape")


def load_model(model_dir):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    m = YocoVLM(cfg)
    tensors, _ = safetensors_io.load(os.path.join(model_dir, "model.safetensors"))
    m.load_state_dict({k: v.to(torch.float32) for k, v in tensors.items()})
    return m.double().eval(), cfg


def causal_logits(m, tokens, rows_by_pos):
    """Full causal forward of one linear sequence; rows_by_pos: position -> [dim] embedding row."""
    L = len(tokens)
    t = torch.tensor([[x if x >= 0 else 1 for x in tokens]])  # -1 (a vision row) -> any id, overwritten
    x = m.embed(t)
    for p, r in rows_by_pos.items():
        x[0, p] = r
    pos = torch.arange(L)[None]
    mask = torch.ones(L, L, dtype=torch.bool).tril()[None]
    return m.forward_embeds(x, pos, mask)[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(REPO, "assets", "models", "demo"))
    ap.add_argument("--yoco", default=os.path.join(REPO, "build", "bin", "yoco"))
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "data", "demo", "golden.safetensors"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    m, cfg = load_model(a.model)
    vc, sf = cfg["vision"], cfg["stream"]
    with tempfile.TemporaryDirectory() as td:
        mp4, tj = os.path.join(td, "v.mp4"), os.path.join(td, "v.json")
        subprocess.run([a.yoco, "world", "--seed", str(SEED), "--seconds", str(SECONDS), "--out", mp4, "--truth", tj],
                       check=True, capture_output=True)
        truth = json.load(open(tj))
        frames = D.decode_rgb(mp4, truth["width"], truth["height"])
    keep = D.sample_1fps(len(frames), truth["fps"])
    pts = [i / truth["fps"] for i in keep]
    # the last question of an answerable type (its frames are the stream)
    q = [x for x in truth["qa"] if x["type"] in QUESTION_TYPES][-1]
    nf = sum(1 for p in pts if p <= q["at"] + 1e-9)
    T = vc["tokens_per_frame"]
    golden, tokens, rows_by_pos = {}, [0], {}
    with torch.no_grad():
        fs = [torch.from_numpy(frames[keep[i]].copy()) for i in range(nf)]
        imgs = torch.stack([vision_ref.preprocess(f, vc, torch.float64) for f in fs])
        all_rows = m.vision(imgs, first_frames([nf]))  # one stream: a motion model reads each previous frame
        for i in range(nf):
            rows = all_rows[i]
            golden[f"frame.{i}"] = fs[i]
            golden[f"rows.{i}"] = rows.to(torch.float32)
            tokens += enc(time_tag(pts[i]))
            for r in range(T):
                rows_by_pos[len(tokens)] = rows[r]
                tokens.append(-1)
        prompt = enc(sf["question_prefix"] + q["question"] + sf["answer_prefix"])
        tokens += prompt
        lg = causal_logits(m, tokens, rows_by_pos)
        golden["logits"] = lg[-len(prompt):].to(torch.float32)
        answer, margin, seq = [], float("inf"), list(tokens)
        end = enc(sf["answer_end"])[0]
        for _ in range(48):
            last = causal_logits(m, seq, rows_by_pos)[-1]
            top = torch.topk(last, 2).values
            margin = min(margin, float(top[0] - top[1]))
            nxt = int(last.argmax())
            answer.append(nxt)
            seq.append(nxt)
            if nxt == end:
                break
    golden["tokens"] = torch.tensor(tokens, dtype=torch.int32)
    golden["answer"] = torch.tensor(answer, dtype=torch.int32)
    text = bytes(t - 4 for t in answer if t >= 4).decode("utf-8", "replace").strip()
    # every question of the video through the reference's incremental path, as the runtime answers
    w, _ = safetensors_io.load(os.path.join(a.model, "model.safetensors"))
    ref = yoco_ref.Model(yoco_ref.Config.from_dict(cfg), {k: v for k, v in w.items() if not k.startswith("vision.")},
                         torch.float32)
    m32 = m.float()
    boxed = D.letterbox_0_255(frames[keep], vc["image_size"])
    results = E.answer_all(ref, m32, cfg, boxed, np.array(pts), truth["qa"])
    right = [{"at": x["at"], "question": x["question"], "answer": x["answer"], "type": x["type"]}
             for x, got in results if got == x["answer"]]
    raw = open(os.path.join(a.model, "model.safetensors"), "rb").read()
    meta = {"question": q["question"], "truth": q["answer"], "model_answer": text,
            "model_sha256": hashlib.sha256(raw).hexdigest(), "model_crc32": f"{zlib.crc32(raw):08x}",
            "min_margin": f"{margin:.6g}", "seed": str(SEED), "seconds": str(SECONDS), "at": str(q["at"]),
            "right": json.dumps(right), "n_questions": str(len(results))}
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    safetensors_io.save(a.out, golden, meta)
    print(json.dumps({"out": a.out, "frames": nf, "tokens": len(tokens), **meta}))


if __name__ == "__main__":
    main()
