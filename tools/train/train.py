"""Train the bundled demo model (vision encoder + YOCO LM, end to end) on `yoco world` streams.

A training row is one video's stream in the exact token layout of docs/STREAM-FORMAT.md (<s>, then per 1 fps
frame its time tag as bytes and its T vision rows) followed by K question branches; each branch is
question_prefix + question + answer_prefix + answer + answer_end and forks the stream right after the last frame
with pts <= the question's `at` (model.py: tree mask, RoPE positions of the linear fork). Loss: the answer tokens
and the terminator only. Stream length varies with the video (12..120 s) and with the latest question drawn.

    python3 tools/train/train.py --out build-train/ckpt --minutes 60            # CPU, 2 threads
    python3 tools/train/train.py --out build-train/ckpt --minutes 60 --resume   # go on from the last checkpoint
    python3 tools/train/train.py --device cuda --batch-tokens 65536 --steps 20000 --videos 20000
See tools/train/README.md.
"""

import argparse
import json
import math
import os
import random
import re
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import aux as A  # noqa: E402
import codes as C  # noqa: E402
import data as D  # noqa: E402
from model import (YocoVLM, adapt_vision_state, first_frames, grow_lm_state, grow_vision_state,  # noqa: E402
                   lm_layers, model_config, vision_sizes)

BOS = 0
PAD = 1
PLACEHOLDER = 1  # token id under a vision row (overwritten by the row)


def enc(text):
    return [4 + b for b in text.encode("utf-8")]


def time_tag(pts):
    s = int(math.floor(pts + 1e-9))
    h, m, sec = s // 3600, (s // 60) % 60, s % 60
    return f"[{h}:{m:02d}:{sec:02d}]" if h else f"[{m:02d}:{sec:02d}]"


CLOCK = re.compile(r"\b(?:(\d+):)?(\d{2}):(\d{2})\b")


def shift_clock(text, offset):
    """Every "mm:ss" / "h:mm:ss" in text moved `offset` seconds later, written as the time tags write it."""
    if offset == 0:
        return text

    def later(m):
        t = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + int(m.group(3)) + offset
        return time_tag(t)[1:-1]

    return CLOCK.sub(later, text)


def parse_time_offset(text):
    """--time-offset P:MAX -> (P, MAX): a row's clock starts MAX seconds late at most, with probability P."""
    if not text:
        return 0.0, 0
    try:
        p, mx = text.split(":")
        p, mx = float(p), int(mx)
    except ValueError:
        raise ValueError(f"--time-offset: '{text}' is not P:MAX (e.g. 0.5:3000)") from None
    if not 0.0 <= p <= 1.0 or mx < 1:
        raise ValueError(f"--time-offset: P must be in 0..1 and MAX >= 1 s, got '{text}'")
    return p, mx


def normalise(frames, vc, device):
    """uint8/float16 [F, S, S, 3] in 0..255 -> [F, 3, S, S] normalised like vision_ref.preprocess."""
    x = torch.from_numpy(np.asarray(frames)).to(device=device, dtype=torch.float32).permute(0, 3, 1, 2) / 255.0
    mean = torch.tensor(vc["mean"], device=device)[None, :, None, None]
    std = torch.tensor(vc["std"], device=device)[None, :, None, None]
    return (x - mean) / std


def build_row(frames, pts, qas, cfg, answer_norm=0.0, offset=0):
    """One tree row: stream up to the latest question + one branch per QA. Returns a dict of python lists; "lw"
    weighs each label token by n^-answer_norm, n its answer's token count (0: every token alike, 1: every
    answer alike). offset (whole seconds, --time-offset) moves the row's clock: its time tags and the times in
    its answers, so that tags past the longest training video ([02:00] on) are seen without longer rows."""
    T = cfg["vision"]["tokens_per_frame"]
    sf = cfg["stream"]
    end = max(q["at"] for q in qas)
    nf = int(np.searchsorted(pts, end + 1e-9, side="right"))  # frames with pts <= end
    toks, vis_pos, frame_end, tags = [BOS], [], [], []
    for i in range(nf):
        tag = time_tag(pts[i] + offset)
        tags.append((tag, len(toks)))
        toks += enc(tag)
        vis_pos.append(len(toks))
        toks += [PLACEHOLDER] * T
        frame_end.append(len(toks))
    S = len(toks)
    pos = list(range(S))
    labels = [-100] * S
    lw = [0.0] * S
    branches = []  # (start, length, cut)
    att = []  # (branch, q_lo, q_hi, t_lo, t_hi): a "when" answer's rows should attend to the frame it names
    for q in qas:
        k = int(np.searchsorted(pts, q["at"] + 1e-9, side="right"))
        cut = frame_end[k - 1] if k > 0 else 1
        prompt = enc(sf["question_prefix"] + q["question"] + sf["answer_prefix"])
        answer = shift_clock(q["answer"], offset)
        ans = enc(answer + sf["answer_end"])
        b = prompt + ans
        start = len(toks)
        toks += b
        pos += list(range(cut, cut + len(b)))
        lab = [-100] * len(b)
        for j in range(len(prompt) - 1, len(b) - 1):  # position j predicts token j + 1
            lab[j] = b[j + 1]
        labels += lab
        n = len(ans)
        lw += [n ** -answer_norm if y != -100 else 0.0 for y in lab]
        if q.get("type") == "when":  # the answer is the time tag of a frame in the branch's view: tag + rows
            for i, (tag, t0) in enumerate(tags[:k]):
                if tag == "[" + answer + "]":
                    att.append((len(branches), start + len(prompt) - 1, start + len(b) - 2, t0, frame_end[i]))
                    break
        branches.append((start, len(b), cut))
    return {"toks": toks, "pos": pos, "labels": labels, "lw": lw, "S": S, "branches": branches, "vis_pos": vis_pos,
            "nf": nf, "att": att}


def collate(rows, frames_list, cfg, device):
    L = max(len(r["toks"]) for r in rows)
    B = len(rows)
    T = cfg["vision"]["tokens_per_frame"]
    toks = torch.full((B, L), PAD, dtype=torch.long)
    pos = torch.zeros(B, L, dtype=torch.long)
    labels = torch.full((B, L), -100, dtype=torch.long)
    lw = torch.zeros(B, L)
    mask = torch.zeros(B, L, L, dtype=torch.bool)
    vis_index = []
    for b, r in enumerate(rows):
        n = len(r["toks"])
        toks[b, :n] = torch.tensor(r["toks"])
        pos[b, :n] = torch.tensor(r["pos"])
        labels[b, :n] = torch.tensor(r["labels"])
        lw[b, :n] = torch.tensor(r["lw"])
        S = r["S"]
        mask[b, :S, :S] = torch.ones(S, S, dtype=torch.bool).tril()
        for start, ln, cut in r["branches"]:
            mask[b, start:start + ln, :cut] = True
            mask[b, start:start + ln, start:start + ln] = torch.ones(ln, ln, dtype=torch.bool).tril()
        idx = torch.arange(n, L)
        mask[b, idx, idx] = True  # padding sees itself only
        for p in r["vis_pos"]:
            vis_index += list(range(b * L + p, b * L + p + T))
    imgs = torch.cat([normalise(f[: r["nf"]], cfg["vision"], device) for f, r in zip(frames_list, rows)])
    return (toks.to(device), pos.to(device), mask.to(device), imgs,
            torch.tensor(vis_index, dtype=torch.long, device=device), labels.to(device), lw.to(device))


def forward_rows(model, rows, frames_list, cfg, device, att=False):
    """The rows one by one through YocoVLM.forward_row (chunked stream retention, cross-decoder on the branch
    rows only): returns (answer-row logits [N, V], their labels [N] and label weights [N], vision rows [F, T, dim]
    of all frames in row order, self-decoder output at each frame's vision rows [F, T, dim], and with att the
    mean attention-target loss of the rows that have targets, else None)."""
    T, D_ = cfg["vision"]["tokens_per_frame"], cfg["dim"]
    imgs = torch.cat([normalise(f[: r["nf"]], cfg["vision"], device) for f, r in zip(frames_list, rows)])
    vrows = model.vision(imgs, first_frames([r["nf"] for r in rows], device))  # [F, T, dim]
    logits, labels, weights, vis_hid, att_nll, f0 = [], [], [], [], [], 0
    for r in rows:
        S = r["S"]
        toks = torch.tensor(r["toks"], device=device)
        vis = torch.tensor([p + j for p in r["vis_pos"] for j in range(T)], dtype=torch.long, device=device)
        x = model.embed(toks[None], vrows[f0:f0 + r["nf"]].reshape(-1, D_), vis)[0]
        out = model.forward_row(x, torch.tensor(r["pos"], device=device), S, r["branches"],
                                att=r["att"] if att else None)
        lg, hid = out[0], out[1]
        if att and out[2] is not None:
            att_nll.append(out[2])
        logits.append(lg)
        labels.append(torch.tensor(r["labels"][S:], device=device))
        weights.append(torch.tensor(r["lw"][S:], device=device))
        vis_hid.append(hid[vis].view(-1, T, D_))
        f0 += r["nf"]
    return (torch.cat(logits), torch.cat(labels), torch.cat(weights), vrows, torch.cat(vis_hid),
            torch.stack(att_nll).mean() if att_nll else None)


def pick_type(types, rng, type_weights):
    """One of types, each as likely as its weight in type_weights (default 1)."""
    weights = [(type_weights or {}).get(t, 1.0) for t in types]
    if not type_weights or sum(weights) <= 0:  # no weights, or every type this video offers weighs 0: alike
        return rng.choice(types)
    return rng.choices(types, weights)[0]


QA_TYPES = {"count", "now", "colour", "shape", "direction", "first", "last", "when", "times", "code", "summary"}


def parse_type_weights(text):
    """"when=3,times=2" -> {"when": 3.0, "times": 2.0}; a malformed item, a negative weight or a type the world
    does not ask (QA_TYPES) is an error."""
    out = {}
    for item in filter(None, (x.strip() for x in text.split(","))):
        name, sep, value = item.partition("=")
        try:
            w = float(value)
        except ValueError:
            w = -1.0
        if not sep or not name or not w >= 0:
            raise ValueError(f"--type-weights: '{item}' is not TYPE=WEIGHT with WEIGHT >= 0")
        out[name] = w
    if set(out) - QA_TYPES:
        raise ValueError(f"--type-weights: unknown type(s) {sorted(set(out) - QA_TYPES)}; known: {sorted(QA_TYPES)}")
    return out


def pick_qas(truth, k, rng, max_at=0.0, max_answer=0, type_weights=None):
    """Up to k QAs of one video, balanced over types (each type equally likely, or as type_weights says, then a
    random item). The first pick is the anchor: the others are drawn among questions asked no later (the stream
    ends at the anchor), so stream lengths spread over the whole video. max_at > 0 drops questions asked after max_at seconds, max_answer > 0
    answers longer than that many bytes (long summaries: cost control on small machines)."""
    qa = [q for q in truth["qa"] if (max_at <= 0 or q["at"] <= max_at) and (max_answer <= 0 or len(q["answer"]) <= max_answer)]
    qa = qa or sorted(truth["qa"], key=lambda q: (len(q["answer"]), q["at"]))[:1]
    by = {}
    for q in qa:
        by.setdefault(q["type"], []).append(q)
    anchor = rng.choice(by[pick_type(list(by), rng, type_weights)])
    by = {}
    for q in qa:
        if q["at"] <= anchor["at"]:
            by.setdefault(q["type"], []).append(q)
    out = [anchor]
    types = list(by)
    for _ in range(k - 1):
        t = pick_type(types, rng, type_weights)
        out.append(rng.choice(by[t]))
    # one row never holds the same question twice
    seen, uniq = set(), []
    for q in out:
        key = (q["at"], q["question"])
        if key not in seen:
            seen.add(key)
            uniq.append(q)
    return uniq


class VideoPool:
    """Training videos in the cache (seeds >= 100000), reloaded as the generator adds more. Keeps all in RAM."""

    def __init__(self, cache):
        self.cache = cache
        self.videos = {}
        self.targets = {}  # seed -> aux.frame_targets of all its kept frames

    def refresh(self):
        for f in os.listdir(self.cache):
            if f.endswith(".npz") and not f.endswith(".tmp.npz"):
                s = int(f[:-4])
                if s >= D.EVAL_SEED_LIMIT and s not in self.videos and os.path.exists(os.path.join(self.cache, f"{s}.json")):
                    try:
                        fr, pts, truth = D.load_video(self.cache, s)
                        self.videos[s] = (fr, pts, truth)
                        self.targets[s] = A.frame_targets(truth, pts)
                    except Exception as e:  # a file being written
                        print(f"skip {s}: {e}", flush=True)
        return len(self.videos)


class AuxHeads(torch.nn.Module):
    """Training-only read-outs (aux.py): frame facts from a frame's T vision rows, frame facts + events from the
    self-decoder output at the frame's last vision row."""

    def __init__(self, cfg):
        super().__init__()
        D_, T = cfg["dim"], cfg["vision"]["tokens_per_frame"]
        self.vis = A.FrameHeads(D_ * T, events=False, motion=cfg["vision"].get("motion", False))
        self.hid = A.FrameHeads(D_, events=True)
        self.tok_v = A.TokenHeads(D_)  # per vision row: the cell's motion (aux.cell_targets)
        self.tok_h = A.TokenHeads(D_)  # the same from the self-decoder output at that row


def encode_frames(model, imgs, vc, dev):
    """Vision rows [n, T, D] of n frames. With a motion encoder `imgs` holds (previous, current) pairs, flattened
    to [2n, S, S, 3]: each pair runs as a two-frame stream and the rows are the current frame's (it has a previous
    frame, as every frame but a stream's first has at run time)."""
    x = normalise(imgs, vc, dev)
    if not vc.get("motion", False):
        return model.vision(x)
    first = torch.zeros(x.shape[0], dtype=torch.bool, device=dev)  # even = the previous frame (a stream start)
    first[0::2] = True
    return model.vision(x, first)[1::2]


def synth_frames(rng, n, vc):
    """n fresh synthetic code frames (codes.py) in encode_frames' layout for this encoder, and their targets."""
    S = vc["image_size"]
    pairs, targets = C.code_pairs(rng, n, S)
    return (pairs.reshape(-1, S, S, 3) if vc.get("motion", False) else pairs[:, 1]), targets


def synth_code_loss(model, heads, rng, n, dev):
    """The frame heads' and the per-row heads' (cell digits) loss on n fresh synthetic code frames (codes.py), for
    the main loop (--synth-codes-main): the real videos hold few codes, which the encoder learns to remember;
    frames that never repeat keep teaching it to read. Returns (loss, metrics)."""
    vc = model.cfg["vision"]
    T, D_ = vc["tokens_per_frame"], model.cfg["dim"]
    imgs, syn_t = synth_frames(rng, n, vc)
    rows = encode_frames(model, imgs, vc, dev)
    tg = A.collate_targets([syn_t], dev)
    loss, met = heads.vis.loss(rows.reshape(n, T * D_), tg)
    lc, _ = heads.tok_v.loss(rows, tg, met)  # the synthetic objects stand still: no cell direction to score
    return loss + lc, met


def pretrain_vision(model, heads, pool, a, dev, log):
    """Stage 1: the vision encoder (+ projector) learns to see, from the frame heads alone, on random frames.

    With a motion encoder each pick is a pair (frame i - 1, frame i) of one video, run as a two-frame stream, and
    the loss reads frame i only (it has a previous frame, as every frame but a stream's first has at run time):
    the frame heads, which then include entered/left and direction, and the per-row cell heads (tok_v). Without
    this the motion embedding stays at zero through stage 1 and learns only from the slower main loop."""
    motion = model.cfg["vision"].get("motion", False)
    params = list(model.vision.parameters()) + list(heads.vis.parameters())
    if motion:
        params += list(heads.tok_v.parameters())
    base_lr = a.vision_lr or a.lr
    opt = torch.optim.AdamW(params, lr=base_lr, betas=(0.9, 0.98), weight_decay=0.01)
    rng = np.random.default_rng(a.seed)
    seeds = list(pool.videos)
    vc = model.cfg["vision"]
    T, D_ = vc["tokens_per_frame"], model.cfg["dim"]
    per = 4 if motion else 8  # frames (pairs) a video; 32 videos a step
    n_syn = int(round(a.synth_codes * 32 * per))  # synthetic code frames (codes.py) in place of real ones
    n_vid = 32 - n_syn // per
    syn_rng = np.random.default_rng(a.seed + 7919)
    t0, step = time.time(), 0
    while time.time() - t0 < 60 * a.vision_minutes:
        frac = (time.time() - t0) / (60 * a.vision_minutes)
        if step % 50 == 0 and step:  # the generator may still be adding videos
            pool.refresh()
            seeds = list(pool.videos)
        for g in opt.param_groups:
            g["lr"] = lr_at(frac, base_lr)
        imgs, tl = [], []
        for i in rng.integers(0, len(seeds), n_vid):
            fr, tg = pool.videos[seeds[i]][0], pool.targets[seeds[i]]
            if motion:
                idx = rng.integers(1, len(fr), per) if len(fr) > 1 else np.zeros(per, np.int64)
                imgs.append(fr[np.stack([np.maximum(idx - 1, 0), idx], -1).reshape(-1)])
            else:
                idx = rng.integers(0, len(fr), per)
                imgs.append(fr[idx])
            tl.append({k: v[idx] for k, v in tg.items()})
        if n_syn:
            syn_imgs, syn_t = synth_frames(syn_rng, n_syn, vc)
            imgs.append(syn_imgs)
            tl.append({k: syn_t[k] for k in tl[0]} if tl else syn_t)
        rows = encode_frames(model, np.concatenate(imgs), vc, dev)
        tg = A.collate_targets(tl, dev)
        flat = rows.reshape(rows.shape[0], T * D_)
        n_real = flat.shape[0] - n_syn
        if n_syn and n_real:  # each part's own mean, weighted by its share; the log shows both
            real = {k: v[:n_real] for k, v in tg.items()}
            syn = {k: v[n_real:] for k, v in tg.items()}
            loss, met = heads.vis.loss(flat[:n_real], real)
            ls, ms = heads.vis.loss(flat[n_real:], syn)
            loss = (n_real * loss + n_syn * ls) / flat.shape[0]
            met.update({"syn_" + k: v for k, v in ms.items()})
        else:
            loss, met = heads.vis.loss(flat, tg)
            if n_syn:
                met = {"syn_" + k: v for k, v in met.items()}
        if motion:
            lc, met["cell_dir_acc"] = heads.tok_v.loss(rows, tg, met)
            loss = loss + lc
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, a.clip)
        opt.step()
        step += 1
        if step % 20 == 0:
            rec = {"vision_step": step, "min": round((time.time() - t0) / 60, 2), "loss": round(loss.item(), 4),
                   **{k: round(v, 3) for k, v in met.items()}}
            print(json.dumps(rec), flush=True)
            log.write(json.dumps(rec) + "\n")
            log.flush()


def lr_at(frac, base, warm=0.03, floor=0.05):
    if frac < warm:
        return base * frac / warm
    f = min(1.0, (frac - warm) / (1 - warm))
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * f)))


def save_ckpt(path, model, opt, st, heads=None):
    tmp = path + ".tmp"
    ck = {"model": model.state_dict(), "opt": opt.state_dict(), "state": st, "config": model.cfg}
    if heads is not None:
        ck["aux"] = heads.state_dict()
    torch.save(ck, tmp)
    os.replace(tmp, path)


def load_init(path):
    """--init: a checkpoint ({"model": state, "aux": heads, ...}) or an exported model directory (weights only)."""
    if os.path.isdir(path):  # an exported model directory (e.g. assets/models/demo): weights, no aux heads
        sys.path.insert(0, os.path.join(HERE, "..", "reference"))
        import safetensors_io

        return {"model": safetensors_io.load(os.path.join(path, "model.safetensors"))[0]}
    return torch.load(path, map_location="cpu")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="build-train/ckpt", help="checkpoint folder (ckpt.pt, log.jsonl)")
    ap.add_argument("--cache", default="build-train/data", help="video cache (npz + truth json)")
    ap.add_argument("--yoco", default="build-train/bin/yoco")
    ap.add_argument("--videos", type=int, default=600, help="training videos to generate (seeds 100000..)")
    ap.add_argument("--gen-procs", type=int, default=1, help="parallel generator processes")
    ap.add_argument("--min-videos", type=int, default=20, help="start training once this many are cached")
    ap.add_argument("--size", default="small", choices=["tiny", "small", "base"])
    ap.add_argument("--image-size", type=int, default=0, help="vision input size (0: the size's own); the patch "
                    "size scales with it (same patch grid); the cache must be generated at this size")
    ap.add_argument("--tokens-per-frame", type=int, default=0, help="vision tokens per frame, a square (0: the "
                    "size's own); --init from another T keeps every weight, the frame heads that read T rows restart")
    ap.add_argument("--vision-width", type=int, default=0, help="vision encoder width (0: the --init model's, else "
                    "the size's own); --init from a narrower encoder grows it to the same function "
                    "(model.grow_vision_state)")
    ap.add_argument("--vision-mlp", type=int, default=0, help="vision MLP hidden size (0: as --vision-width)")
    ap.add_argument("--vision-layers", type=int, default=0, help="vision blocks (0: as --vision-width); --init from "
                    "fewer adds identity blocks")
    ap.add_argument("--layers", type=int, default=0, help="LM layers, self- plus cross-decoder, even (0: the --init "
                    "model's, else the size's own); --init from fewer adds identity blocks at the end of each half "
                    "(model.grow_lm_state)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-tokens", type=int, default=1500, help="rows are added while B * max_len stays under this")
    ap.add_argument("--qa-per-row", type=int, default=6)
    ap.add_argument("--max-at", type=float, default=0.0, help="only questions asked by this second (0: all)")
    ap.add_argument("--max-answer", type=int, default=0, help="only answers up to this many bytes (0: all)")
    ap.add_argument("--answer-norm", type=float, default=0.0, help="weigh answer tokens by n^-p, n the answer's "
                    "tokens: 0 every token alike (long summaries dominate), 1 every question alike, 0.5 between")
    ap.add_argument("--type-weights", default="", help="question types drawn more or less often, e.g. "
                    "'when=3,times=2' (others 1; the types of tools/world: count now colour shape direction first "
                    "last when times code summary)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--minutes", type=float, default=60.0, help="cosine schedule over this much training time")
    ap.add_argument("--steps", type=int, default=0, help="cosine schedule over steps instead of time")
    ap.add_argument("--ckpt-minutes", type=float, default=5.0)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--export", default="", help="export the final model to this folder")
    ap.add_argument("--att-when", type=float, default=0.0, help="weight of the attention target of \"when\" "
                    "answers: cross-decoder layer 0's last head attends to the frame whose tag is the answer "
                    "(row path only, not --dense)")
    ap.add_argument("--aux", type=float, default=1.0, help="weight of the auxiliary frame/event losses (aux.py)")
    ap.add_argument("--motion", action="store_true", help="the encoder also reads each frame's difference from "
                    "the previous one (vision \"motion\"); --init from a still-image model starts it at zero")
    ap.add_argument("--vision-minutes", type=float, default=0.0, help="vision pretraining on frame facts first")
    ap.add_argument("--vision-lr", type=float, default=0.0, help="peak learning rate of the vision pretraining "
                    "(default: --lr)")
    ap.add_argument("--synth-codes", type=float, default=0.0, help="share of the vision pretraining frames that are "
                    "fresh synthetic code frames (codes.py; needs python3-opencv), 0..1")
    ap.add_argument("--synth-codes-main", type=int, default=0, help="fresh synthetic code frames (codes.py) added "
                    "to every main-loop step, their frame and cell losses weighted by --aux (e.g. 16; 0: none)")
    ap.add_argument("--dense", action="store_true", help="padded batches with full [B, L, L] masks (GPU) instead "
                    "of row-by-row forward_row (CPU: ~2x faster, same numbers)")
    ap.add_argument("--heads-warmup", type=int, default=0, help="first steps train only the aux heads (with "
                    "--init from weights without them, e.g. an exported model.safetensors: tools/train/README.md)")
    ap.add_argument("--time-offset", default="", help="P:MAX: with probability P a row's clock starts 1..MAX s "
                    "late (time tags and the times in answers move with it), so the model reads and writes times "
                    "past its longest training video (120 s) without longer rows; e.g. 0.5:3000 (default: none)")
    ap.add_argument("--init", default="", help="start from this checkpoint's model weights, or an exported model "
                    "directory's (fresh optimizer)")
    a = ap.parse_args()
    try:
        type_weights = parse_type_weights(a.type_weights)
        time_offset = parse_time_offset(a.time_offset)
    except ValueError as e:
        ap.error(str(e))
    if not 0.0 <= a.synth_codes <= 1.0:
        ap.error(f"--synth-codes is a share of the vision pretraining frames, 0..1, got {a.synth_codes}")
    if a.synth_codes > 0 and a.vision_minutes <= 0:
        ap.error("--synth-codes mixes frames into the vision pretraining: give --vision-minutes too")
    if a.synth_codes_main < 0:
        ap.error(f"--synth-codes-main is a number of frames a step, got {a.synth_codes_main}")
    if a.synth_codes_main > 0 and a.aux <= 0:
        ap.error("--synth-codes-main trains the auxiliary heads: it needs --aux > 0")
    if a.minutes < 0 or a.steps < 0:
        ap.error("--minutes and --steps must not be negative")
    if a.att_when > 0 and a.dense:
        ap.error("--att-when runs on the row path: leave out --dense")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    os.makedirs(a.cache, exist_ok=True)
    dev = torch.device(a.device)

    ckpt = os.path.join(a.out, "ckpt.pt")
    ick = None
    if a.resume and os.path.exists(ckpt):
        ck = torch.load(ckpt, map_location="cpu")
        cfg = ck["config"]
    else:
        ck, cfg = None, model_config(a.size, a.image_size, a.tokens_per_frame, a.motion)
        if a.init:
            ick = load_init(a.init)
        # the encoder's size: the flag, else the --init model's (a grown encoder stays grown), else the size's own
        sizes = vision_sizes(ick["model"]) if ick is not None else {}
        for flag, key, val in (("width", "width", a.vision_width), ("mlp", "mlp_dim", a.vision_mlp),
                               ("layers", "n_layers", a.vision_layers)):
            if val < 0 or (key == "width" and val % cfg["vision"]["n_heads"]):
                ap.error(f"--vision-{flag} must be 0 or positive (the width a multiple of "
                         f"{cfg['vision']['n_heads']} heads), got {val}")
            if val and key in sizes and val < sizes[key]:
                ap.error(f"--vision-{flag} {val} is smaller than the --init model's {sizes[key]}: an encoder only "
                         "grows")
            cfg["vision"][key] = val or max(sizes.get(key, 0), cfg["vision"][key])
        init_layers = lm_layers(ick["model"]) if ick is not None else 0
        if a.layers < 0 or a.layers % 2 or (a.layers and a.layers < init_layers):
            ap.error(f"--layers must be 0 or an even count of at least the --init model's {init_layers}, "
                     f"got {a.layers}")
        cfg["n_layers"] = a.layers or init_layers or cfg["n_layers"]

    gens = []
    if a.videos > 0:
        per = (a.videos + a.gen_procs - 1) // a.gen_procs
        for i in range(a.gen_procs):
            s0 = D.TRAIN_SEED0 + i * per
            gens.append(subprocess.Popen([sys.executable, os.path.join(HERE, "data.py"), "--yoco", a.yoco, "--cache",
                                          a.cache, "--seed0", str(s0), "--count", str(min(per, a.videos - i * per)),
                                          "--image-size", str(cfg["vision"]["image_size"])],
                                         stdout=subprocess.DEVNULL))
    pool = VideoPool(a.cache)
    while pool.refresh() < a.min_videos:
        if gens and all(g.poll() is not None for g in gens) and pool.refresh() < a.min_videos:
            raise SystemExit(f"generator finished with only {len(pool.videos)} videos")
        time.sleep(5)

    model = YocoVLM(cfg).to(dev)
    heads = AuxHeads(cfg).to(dev)
    if ick is not None:
        fresh = model.state_dict()
        model.load_state_dict(grow_lm_state(grow_vision_state(adapt_vision_state(ick["model"], cfg), fresh, cfg),
                                            fresh, cfg))
        if "aux" in ick:  # the read-out heads do not depend on the input size; the frame heads do on T
            own = heads.state_dict()
            keep = {k: v for k, v in ick["aux"].items() if k in own and own[k].shape == v.shape}
            heads.load_state_dict(keep, strict=False)
            if len(keep) < len(own):
                print(f"aux heads: {len(own) - len(keep)} tensors restart (another tokens_per_frame, or new heads)",
                      flush=True)
        print(f"initialised from {a.init}", flush=True)
    groups = []
    for is_model, params in ((True, list(model.parameters())), (False, list(heads.parameters()))):
        groups += [{"params": [p for p in params if p.dim() >= 2], "weight_decay": a.wd, "model": is_model},
                   {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0, "model": is_model}]
    opt = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.98), eps=1e-8)
    st = {"step": 0, "train_seconds": 0.0, "tokens": 0, "rows": 0, "qa": 0}
    if ck is not None:
        model.load_state_dict(ck["model"])
        if "aux" in ck:
            heads.load_state_dict(ck["aux"])
        opt.load_state_dict(ck["opt"])
        st = ck["state"]
        print(f"resumed at step {st['step']} ({st['train_seconds'] / 60:.1f} min trained)", flush=True)
    S = cfg["vision"]["image_size"]
    bad = [s for s, v in pool.videos.items() if v[0].shape[1] != S]
    if bad:
        raise SystemExit(f"the cache {a.cache} holds frames of {pool.videos[bad[0]][0].shape[1]} px (seed {bad[0]}), "
                         f"the model takes {S}: use a cache generated with data.py --image-size {S}")
    n_params = sum(p.numel() for p in model.parameters())
    print(f"params {n_params} ({n_params * 4 / 1e6:.1f} MB f32); videos cached {len(pool.videos)}", flush=True)
    cfg_path = os.path.join(a.out, "config.json")
    json.dump(cfg, open(cfg_path, "w"), indent=2)

    rng = random.Random(a.seed * 1000 + st["step"])
    syn_rng = np.random.default_rng(a.seed * 1000 + st["step"] + 7919)  # --synth-codes-main (a resume draws anew)
    log = open(os.path.join(a.out, "log.jsonl"), "a")
    if a.vision_minutes > 0 and st["step"] == 0:
        pretrain_vision(model, heads, pool, a, dev, log)
        torch.save({"model": model.state_dict(), "aux": heads.state_dict(), "config": cfg},
                   os.path.join(a.out, "vision.pt"))
    last_ckpt = time.time()
    ema = None
    t_prev = time.time()
    while True:
        if a.steps:
            frac = st["step"] / a.steps
        else:  # --minutes 0: the vision pretraining alone
            frac = st["train_seconds"] / (60 * a.minutes) if a.minutes > 0 else 1.0
        if frac >= 1.0:
            break
        if st["step"] % 50 == 0:
            pool.refresh()
        lr = lr_at(frac, a.lr)
        for g in opt.param_groups:  # --heads-warmup: restarted read-out heads settle before the model moves
            g["lr"] = 0.0 if g.get("model", True) and st["step"] < a.heads_warmup else lr
        seeds = list(pool.videos)
        rows, frames_list, tlist = [], [], []
        maxlen = 0
        while True:
            s = rng.choice(seeds)
            frames, pts, truth = pool.videos[s]
            qas = pick_qas(truth, a.qa_per_row, rng, a.max_at, a.max_answer, type_weights)
            offset = rng.randint(1, time_offset[1]) if time_offset[0] > 0 and rng.random() < time_offset[0] else 0
            r = build_row(frames, pts, qas, cfg, a.answer_norm, offset)
            ml = max(maxlen, len(r["toks"]))
            if rows and ml * (len(rows) + 1) > a.batch_tokens:
                break
            rows.append(r)
            frames_list.append(frames)
            tl = {k: v[: r["nf"]] for k, v in pool.targets[s].items()}
            if offset:
                tl["time"] = A.time_digits(pts[: r["nf"]], offset)
            tlist.append(tl)
            maxlen = ml
            if ml * len(rows) > a.batch_tokens:
                break
        model.train()
        heads.train()
        T = cfg["vision"]["tokens_per_frame"]
        if a.dense:  # one padded batch with [B, L, L] masks (GPU)
            toks, pos, mask, imgs, vidx, labels, lw = collate(rows, frames_list, cfg, dev)
            logits, vrows, hidden = model(toks, pos, mask, imgs, vidx, return_hidden=True,
                                          first=first_frames([r["nf"] for r in rows], dev))
            hidden_vis = hidden.reshape(-1, cfg["dim"])[vidx].view(-1, T, cfg["dim"])
            ntok = int(toks.numel())
            att_nll = None
        else:  # row by row, only what the losses need (CPU)
            logits, labels, lw, vrows, hidden_vis, att_nll = forward_rows(model, rows, frames_list, cfg, dev,
                                                                            att=a.att_when > 0)
            ntok = sum(len(r["toks"]) for r in rows)
        tok_nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100,
                                  reduction="none")
        lw = lw.reshape(-1)
        qa_loss = tok_nll.sum() / (labels != -100).sum().clamp(min=1)  # per answer token: the logged NLL
        loss, met = (tok_nll * lw).sum() / lw.sum().clamp(min=1e-9), {}
        if a.aux > 0:
            tg = A.collate_targets(tlist, dev)
            lv_, m1 = heads.vis.loss(vrows.reshape(-1, T * cfg["dim"]), tg)
            lh_, m2 = heads.hid.loss(hidden_vis[:, -1], tg)  # the frame's last vision row
            dv, dh = {}, {}
            lcv, acc_v = heads.tok_v.loss(vrows.reshape(-1, T, cfg["dim"]), tg, dv)
            lch, acc_h = heads.tok_h.loss(hidden_vis, tg, dh)
            loss = loss + a.aux * (lv_ + lh_ + lcv + lch)
            met = {"aux_v": round(lv_.item(), 4), "aux_h": round(lh_.item(), 4), "cell": round(lcv.item() + lch.item(), 4),
                   "v_cell_dir": round(acc_v, 3), "h_cell_dir": round(acc_h, 3),
                   **{"v_" + k: round(v, 3) for k, v in dv.items()}, **{"h_" + k: round(v, 3) for k, v in dh.items()},
                   **{"v_" + k: round(v, 3) for k, v in m1.items()}, **{"h_" + k: round(v, 3) for k, v in m2.items()}}
        if a.synth_codes_main > 0:
            ls_, ms_ = synth_code_loss(model, heads, syn_rng, a.synth_codes_main, dev)
            loss = loss + a.aux * ls_
            met.update({"syn_" + k: round(v, 3) for k, v in ms_.items()})
        if a.att_when > 0 and att_nll is not None:
            loss = loss + a.att_when * att_nll
            met["att_when"] = round(att_nll.item(), 4)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(list(model.parameters()) + list(heads.parameters()), a.clip)
        opt.step()
        now = time.time()
        st["train_seconds"] += now - t_prev
        t_prev = now
        st["step"] += 1
        st["tokens"] += ntok
        st["rows"] += len(rows)
        st["qa"] += sum(len(r["branches"]) for r in rows)
        lv = qa_loss.item()
        ema = lv if ema is None else 0.98 * ema + 0.02 * lv
        if st["step"] % 10 == 0 or st["step"] == 1:
            rec = {"step": st["step"], "min": round(st["train_seconds"] / 60, 2), "loss": round(lv, 4),
                   "ema": round(ema, 4), "lr": round(lr, 6), "gn": round(float(gn), 3), "B": len(rows), "L": maxlen,
                   "videos": len(pool.videos), "qa": st["qa"], **met}
            print(json.dumps(rec), flush=True)
            log.write(json.dumps(rec) + "\n")
            log.flush()
        if now - last_ckpt > 60 * a.ckpt_minutes:
            st["ema"] = ema
            save_ckpt(ckpt, model, opt, st, heads)
            last_ckpt = time.time()
            t_prev = time.time()
    st["ema"] = ema
    save_ckpt(ckpt, model, opt, st, heads)
    print(f"done: step {st['step']}, {st['train_seconds'] / 60:.1f} min, ema loss {ema}", flush=True)
    for g in gens:
        g.terminate()
    if a.export:
        import export

        export.export(ckpt, a.export)


if __name__ == "__main__":
    main()
