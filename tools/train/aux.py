"""Auxiliary training targets from the `yoco world` truth: what each 1 fps frame shows and what changed at it.

The question-answer loss alone supervises a handful of answer bytes per thousand stream tokens, which a small
CPU budget cannot turn into a model that reads frames (the first demo model learnt the answer forms and priors
only). The truth file knows, for every kept frame, which objects are on screen and where, whether a code or a
flash is shown, and which events start at it; these heads turn that into a dense signal:

- `frame` targets (per frame, from one image): presence of each colour x shape pair, its size and position,
  the object count, flash, code on screen (boxed or not, length, digits);
- `event` targets (per frame, needing the stream so far): which pairs entered or left at this frame, each present
  pair's direction of motion, flash/code starting here, and the running counts behind "how many times" questions;
- the frame's own time (the `[mm:ss]` tag before its rows, four digits), so that the rows the cross-decoder finds
  for "when did X …?" carry the answer (the tag tokens precede the frame and cannot know what it shows);
- `cell` targets (per vision token): the direction of the object whose centre is in the token's cell, or
  "appeared here", read from each of the T rows alone (vision rows and self-decoder rows).

The frame heads read the frame's T vision rows (the LM inputs); the frame and event heads both read the
self-decoder output at the frame's last vision row, i.e. what the cross-decoder's global K/V is made of. The heads
are training-only: they are not part of the exported model.
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

COLOURS = ["red", "green", "blue", "yellow", "white", "purple"]
SHAPES = ["square", "circle", "triangle"]
DIRS = ["left", "right", "up", "down"]
NP = len(COLOURS) * len(SHAPES)  # colour x shape pairs (at most one of each on screen)
MAX_DIGITS = 6
MAX_RUN = 15  # running counts are classified 0..MAX_RUN (clipped)


def time_digits(pts, offset=0):
    """[F, 4] digits m m s s of each frame's time tag (pts floored to whole seconds, `offset` s later)."""
    secs = np.floor(np.asarray(pts) + 1e-9) + offset
    mm, ss = (secs // 60).astype(np.int64), (secs % 60).astype(np.int64)
    return np.stack([mm // 10 % 10, mm % 10, ss // 10, ss % 10], -1)


def pair_index(colour, shape):
    return COLOURS.index(colour) * len(SHAPES) + SHAPES.index(shape)


def frame_targets(truth, pts):
    """numpy targets for frames at times `pts` (seconds) of one video. Masks are 0/1 floats; -100 = ignore."""
    Fn = len(pts)
    W, H = float(truth["width"]), float(truth["height"])
    t = {
        "present": np.zeros((Fn, NP), np.float32),
        "size": np.full((Fn, NP), -100, np.int64),
        "pos": np.zeros((Fn, NP, 2), np.float32),
        "count": np.zeros(Fn, np.int64),
        "flash": np.zeros(Fn, np.float32),
        "code_on": np.zeros(Fn, np.float32),
        "code_boxed": np.full(Fn, -100, np.int64),
        "code_len": np.full(Fn, -100, np.int64),
        "digits": np.full((Fn, MAX_DIGITS), -100, np.int64),
        # where each digit's centre is drawn (x per digit, y of the line; fractions of the frame; -1 = none)
        "digit_x": np.full((Fn, MAX_DIGITS), -1.0, np.float32),
        "digit_y": np.full(Fn, -1.0, np.float32),
        "enter": np.zeros((Fn, NP), np.float32),
        "leave": np.zeros((Fn, NP), np.float32),
        "dir": np.full((Fn, NP), -100, np.int64),
        "flash_start": np.zeros(Fn, np.float32),
        "code_start": np.zeros(Fn, np.float32),
        "run": np.zeros((Fn, 4), np.int64),  # appeared, left, flashes, codes so far
        # memory of the stream so far: first / last object to appear (pair), first / last / boxed code
        "mem_pair": np.full((Fn, 2), -100, np.int64),
        "mem_code_len": np.zeros((Fn, 3), np.int64),  # 0 = none yet, else len - 2
        "mem_code": np.full((Fn, 3, MAX_DIGITS), -100, np.int64),
    }
    secs = np.floor(np.asarray(pts) + 1e-9)
    t["time"] = time_digits(pts)
    for o in truth["objects"]:
        p = pair_index(o["colour"], o["shape"])
        for i, s in enumerate(secs):
            if o["enter"] <= s < o["leave"]:
                dt = s - o["enter"]
                t["present"][i, p] = 1.0
                t["size"][i, p] = 0 if o["size"] == "small" else 1
                t["pos"][i, p] = ((o["x"] + o["vx"] * dt) / W, (o["y"] + o["vy"] * dt) / H)
                t["count"][i] += 1
                if dt >= 1:  # motion is visible from the second frame on
                    t["dir"][i, p] = DIRS.index(o["direction"])
    for e in truth["events"]:
        s0 = e["at"]
        if e["type"] == "flash":
            t["flash"][(secs >= s0) & (secs < e["until"])] = 1.0
            t["flash_start"][secs == s0] = 1.0
            t["run"][secs >= s0, 2] += 1
        elif e["type"] == "code":
            on = (secs >= s0) & (secs < e["until"])
            t["code_on"][on] = 1.0
            t["code_boxed"][on] = 1 if e.get("boxed") else 0
            t["code_len"][on] = len(e["code"]) - 3
            for j, ch in enumerate(e["code"][:MAX_DIGITS]):
                t["digits"][on, j] = int(ch)
            if "box" in e:
                xs, y = digit_centres(e["box"], len(e["code"]))
                t["digit_x"][on, : len(xs)] = np.asarray(xs[:MAX_DIGITS]) / W
                t["digit_y"][on] = y / H
            t["code_start"][secs == s0] = 1.0
            t["run"][secs >= s0, 3] += 1
            for slot in ([0] if t["run"][secs >= s0, 3].min(initial=2) == 1 else []) + [1] + ([2] if e.get("boxed") else []):
                t["mem_code_len"][secs >= s0, slot] = len(e["code"]) - 2
                t["mem_code"][secs >= s0, slot] = -100
                for j, ch in enumerate(e["code"][:MAX_DIGITS]):
                    t["mem_code"][secs >= s0, slot, j] = int(ch)
        elif e["type"] in ("enter", "leave"):
            p = pair_index(e["colour"], e["shape"])
            t[e["type"]][secs == s0, p] = 1.0
            t["run"][secs >= s0, 0 if e["type"] == "enter" else 1] += 1
            if e["type"] == "enter":
                if t["run"][secs >= s0, 0].min(initial=2) == 1:
                    t["mem_pair"][secs >= s0, 0] = p
                t["mem_pair"][secs >= s0, 1] = p
    t["count"] = np.minimum(t["count"], 4)
    t["run"] = np.minimum(t["run"], MAX_RUN)
    return t


def digit_centres(box, n):
    """Centres (x list, y) of the n digits apps/world/world_render.cpp draws in `box` [x0, y0, x1, y1]: OpenCV's
    Hershey simplex gives every digit the same advance (20 units at scale 1, the text 20n + 2 wide at thickness 2,
    22 high), the scale fits the box (0.86 of its width, 0.66 of its height) and the text is centred in it. The
    glyphs sit a little off their advance cells, by an amount linear in the scale and the stroke thickness
    (fitted to what OpenCV draws, 64-512 px frames: within 0.6 px; `codes.py` checks it), which is more than
    enough to name the pool cell a digit lies in."""
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = np.floor(x1 - x0), np.floor(y1 - y0)
    scale = min(0.86 * w / (20 * n + 2), 0.66 * h / 22)
    thick = max(1, int(np.floor(2.2 * scale + 0.5)))
    left = x0 + (w - 20 * n * scale) / 2 - 0.19 * scale - 0.42 * thick - 0.27
    return [left + (20 * k + 10) * scale for k in range(n)], y0 + h / 2 - 2.31 * scale + 1.33 * thick + 0.14


CELL_CLASSES = 6  # per vision token: nothing moving, moving left / right / up / down, just appeared


def cell_targets(t, grid):
    """Per-token targets [F, grid * grid] (long) from frame_targets' present / pos / dir / enter: the token whose
    cell (the t x t adaptive-pool grid over the frame; world frames fill the letterbox) holds a pair's centre gets
    its direction (1..4), or 5 at the frame it appeared in; other tokens 0. Dense, local supervision: the
    direction of an object lands in the same token as its colour and shape, where a question's attention finds
    it (the per-pair heads must untangle identity and motion from all T rows at once)."""
    Fn = t["present"].shape[0]
    y = torch.zeros(Fn, grid * grid, dtype=torch.long, device=t["present"].device)
    cx = (t["pos"][..., 0] * grid).long().clamp(0, grid - 1)
    cy = (t["pos"][..., 1] * grid).long().clamp(0, grid - 1)
    cls = torch.where(t["dir"] >= 0, t["dir"] + 1,
                      torch.where(t["enter"] > 0, torch.full_like(t["dir"], 5), torch.full_like(t["dir"], -100)))
    f, p = (t["present"] > 0).nonzero(as_tuple=True)
    y[f, (cy * grid + cx)[f, p]] = cls[f, p]
    return y


CELL_DIGITS = 2  # digit slots per pool cell: a cell of a 4 x 4 grid (32 px at 128) holds at most two centres
NO_DIGIT = 10


def cell_digit_targets(t, grid):
    """Per-token digit targets [F, grid * grid, CELL_DIGITS] (long): the digits whose drawn centres lie in the
    token's cell, left to right, NO_DIGIT for an empty slot (every cell of every frame: "no digit here" is a target
    too). Like cell_targets for motion: the digit a question needs lands in the token where the code is drawn, so
    reading it is local, and the order of a cell's slots plus the rows' order gives the code's order."""
    Fn = t["digits"].shape[0]
    y = torch.full((Fn, grid * grid, CELL_DIGITS), NO_DIGIT, dtype=torch.long, device=t["digits"].device)
    on = t["digit_x"] >= 0
    if not on.any():
        return y
    cx = (t["digit_x"] * grid).long().clamp(0, grid - 1)
    cy = (t["digit_y"][:, None].expand_as(t["digit_x"]) * grid).long().clamp(0, grid - 1)
    cell = cy * grid + cx
    f, j = on.nonzero(as_tuple=True)  # row-major: per frame, digits left to right
    c = cell[f, j]
    slot = torch.zeros_like(j)
    same = (f[1:] == f[:-1]) & (c[1:] == c[:-1])  # the digit before it is in the same cell
    for k in range(1, MAX_DIGITS):  # a run of same-cell digits counts up (at most MAX_DIGITS long)
        slot[1:] = torch.where(same, slot[:-1] + 1, torch.zeros_like(slot[1:]))
    keep = slot < CELL_DIGITS
    y[f[keep], c[keep], slot[keep]] = t["digits"][f[keep], j[keep]]
    return y


class TokenHeads(nn.Module):
    """Linear read-outs of each vision-row position's features [F, T, in_dim]: cell_targets (motion) and
    cell_digit_targets (the digits drawn in the cell)."""

    def __init__(self, in_dim):
        super().__init__()
        self.cls = nn.Linear(in_dim, CELL_CLASSES)
        self.dig = nn.Linear(in_dim, CELL_DIGITS * (NO_DIGIT + 1))

    def loss(self, h, t, metrics=None):
        """Loss of both read-outs; returns (loss, motion accuracy) and, when given a dict, adds to it the digit
        accuracy over slots that hold a digit (`cell_digit_acc`)."""
        Fn, T, _ = h.shape
        grid = int(round(T ** 0.5))
        y = cell_targets(t, grid)
        logits = self.cls(h)
        loss = F.cross_entropy(logits.reshape(-1, CELL_CLASSES), y.reshape(-1), ignore_index=-100)
        yd = cell_digit_targets(t, grid)
        dl = self.dig(h).view(Fn, T, CELL_DIGITS, NO_DIGIT + 1)
        loss = loss + F.cross_entropy(dl.reshape(-1, NO_DIGIT + 1), yd.reshape(-1))
        with torch.no_grad():
            moving = (y >= 1) & (y <= 4)
            acc = float((logits.argmax(-1)[moving] == y[moving]).float().mean()) if moving.any() else float("nan")
            if metrics is not None and (yd != NO_DIGIT).any():
                d = yd != NO_DIGIT
                metrics["cell_digit_acc"] = float((dl.argmax(-1)[d] == yd[d]).float().mean())
        return loss, acc


def collate_targets(tlist, device):
    """Concatenate per-video target dicts (in frame order) into tensors."""
    return {k: torch.from_numpy(np.concatenate([t[k] for t in tlist])).to(device) for k in tlist[0]}


class FrameHeads(nn.Module):
    """Linear read-outs of one frame's features [F, in_dim] (the frame's T rows concatenated, or one hidden row)."""

    def __init__(self, in_dim, events, motion=False):
        """events: the stream-memory targets (self-decoder rows); motion: only what two consecutive frames show
        (entered / left here, direction), for an encoder that sees the previous frame."""
        super().__init__()
        self.events = events
        self.motion = motion or events
        self.present = nn.Linear(in_dim, NP)
        self.size = nn.Linear(in_dim, NP * 2)
        self.pos = nn.Linear(in_dim, NP * 2)
        self.count = nn.Linear(in_dim, 5)
        self.flags = nn.Linear(in_dim, 2)  # flash, code_on
        self.code_boxed = nn.Linear(in_dim, 2)
        self.code_len = nn.Linear(in_dim, 4)
        self.digits = nn.Linear(in_dim, MAX_DIGITS * 10)
        if self.motion:
            self.change = nn.Linear(in_dim, 2 * NP + 2)  # enter, leave, flash_start, code_start
            self.dir = nn.Linear(in_dim, NP * 4)
        if events:
            self.run = nn.Linear(in_dim, 4 * (MAX_RUN + 1))
            self.mem_pair = nn.Linear(in_dim, 2 * NP)
            self.mem_code_len = nn.Linear(in_dim, 3 * 5)
            self.mem_code = nn.Linear(in_dim, 3 * MAX_DIGITS * 10)
            self.time = nn.Linear(in_dim, 4 * 10)

    def loss(self, h, t):
        """Mean of the per-target losses; returns (loss, {name: accuracy-ish metric})."""
        Fn = h.shape[0]
        ce = lambda logits, y: F.cross_entropy(logits, y, ignore_index=-100) if (y != -100).any() else logits.sum() * 0
        pres = self.present(h)
        parts = {
            # multi-label terms are summed over their labels (a mean over 18 mostly-zero labels starves them:
            # a vision-only probe learnt colour sets 2.5x faster with the sum)
            "present": F.binary_cross_entropy_with_logits(pres, t["present"]) * NP,
            "size": ce(self.size(h).view(Fn * NP, 2), t["size"].view(-1)),
            "count": F.cross_entropy(self.count(h), t["count"]),
            "flags": F.binary_cross_entropy_with_logits(self.flags(h), torch.stack([t["flash"], t["code_on"]], -1)),
            "boxed": ce(self.code_boxed(h), t["code_boxed"]),
            "len": ce(self.code_len(h), t["code_len"]),
            "digits": ce(self.digits(h).view(Fn * MAX_DIGITS, 10), t["digits"].view(-1)),
        }
        m = t["present"][..., None]
        parts["pos"] = ((self.pos(h).view(Fn, NP, 2) - t["pos"]) ** 2 * m).sum() / m.sum().clamp(min=1) * 10
        if self.motion:
            ch = torch.cat([t["enter"], t["leave"], t["flash_start"][:, None], t["code_start"][:, None]], -1)
            parts["change"] = F.binary_cross_entropy_with_logits(self.change(h), ch) * NP
            dir_logits = self.dir(h).view(Fn * NP, 4)
            parts["dir"] = ce(dir_logits, t["dir"].view(-1))
        if self.events:
            parts["run"] = F.cross_entropy(self.run(h).view(Fn * 4, MAX_RUN + 1), t["run"].view(-1))
            parts["mem_pair"] = ce(self.mem_pair(h).view(Fn * 2, NP), t["mem_pair"].view(-1))
            parts["mem_code_len"] = F.cross_entropy(self.mem_code_len(h).view(Fn * 3, 5), t["mem_code_len"].view(-1))
            parts["mem_code"] = ce(self.mem_code(h).view(Fn * 3 * MAX_DIGITS, 10), t["mem_code"].view(-1))
            time_logits = self.time(h).view(Fn, 4, 10)
            parts["time"] = F.cross_entropy(time_logits.reshape(Fn * 4, 10), t["time"].view(-1))
        with torch.no_grad():
            metrics = {"pres_acc": float(((pres > 0).float() == t["present"]).all(-1).float().mean())}
            dm = t["digits"] != -100
            if dm.any():
                pred = self.digits(h).view(Fn, MAX_DIGITS, 10).argmax(-1)
                metrics["digit_acc"] = float((pred[dm] == t["digits"][dm]).float().mean())
            dm = t["dir"].view(-1) != -100
            if self.motion and dm.any():
                metrics["dir_acc"] = float((dir_logits.argmax(-1)[dm] == t["dir"].view(-1)[dm]).float().mean())
            if self.events:
                metrics["time_acc"] = float((time_logits.argmax(-1) == t["time"]).all(-1).float().mean())
        return sum(parts.values()) / len(parts), metrics
