"""Synthetic code frames: an unlimited supply of world-like frames that show a code, for teaching the vision encoder
to read digits (`train.py --synth-codes P`).

Why: a world video shows a code for 2 of its ~60 kept frames, so the 3,000 cached training videos hold a few
thousand code frames, each code seen twice; the encoder memorises them (digits ~85 % on training videos, at chance
on unseen ones: tools/train/README.md). Here every frame is new: a code of 3-6 random digits (first digit 1-9),
boxed (black on white) or a yellow look-alike without a box, drawn exactly as apps/world/world_render.cpp draws
it (the same OpenCV calls, box size and position rules, font, scale and thickness) on the world's noisy grey
background with 0-3 static objects beside it, then passed through JPEG at a random quality as a stand-in for the
world's H.264 (crf 23). Nothing here can be memorised, so the encoder has to learn digit shapes at every offset.

Each pick is a pair (previous frame, frame) as stage 1 runs frames for a motion encoder: the previous frame is
the same scene with other noise, without the code in a quarter of the pairs (the code starts at this frame).

Needs OpenCV's Python module (Debian: python3-opencv); only this stage imports it.
"""

import numpy as np

import aux as A

COLOUR_RGB = [(220, 40, 40), (40, 200, 60), (50, 90, 235), (235, 220, 50), (240, 240, 240), (165, 60, 210)]


def _cv2():
    try:
        import cv2
    except ImportError as e:  # pragma: no cover - depends on the machine
        raise SystemExit("--synth-codes needs OpenCV's Python module: apt-get install python3-opencv") from e
    return cv2


def random_code(rng, n):
    return "".join(str(rng.integers(1 if i == 0 else 0, 10)) for i in range(n))


def _background(rng, W, H):
    g = int(rng.integers(25, 61))  # world_scenario.cpp: background 25..60, noise +-7, chroma tint +-1
    noise = rng.integers(-7, 8, (H, W), dtype=np.int16) + g
    tint = rng.integers(-1, 2, (H, W), dtype=np.int16)
    img = np.stack([noise + tint, noise, noise - tint], -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def _draw_code(cv2, img, digits, boxed, box):
    """world_render.cpp's code drawing, line for line."""
    x0, y0, w, h = box
    if boxed:
        cv2.rectangle(img, (x0, y0), (x0 + w - 1, y0 + h - 1), (245, 245, 245), cv2.FILLED)
    font = cv2.FONT_HERSHEY_SIMPLEX
    (uw, uh), _ = cv2.getTextSize(digits, font, 1.0, 2)
    scale = min(0.86 * w / uw, 0.66 * h / uh)
    thick = max(1, int(round(2.2 * scale)))
    (sw, sh), _ = cv2.getTextSize(digits, font, scale, thick)
    org = (x0 + (w - sw) // 2, y0 + (h + sh) // 2)
    ink = (0, 0, 0) if boxed else (235, 220, 50)
    cv2.putText(img, digits, org, font, scale, ink, thick, cv2.LINE_AA)


def _draw_object(cv2, img, colour, shape, x, y, r):
    shift = 4
    fix = lambda v: int(round(v * (1 << shift)))
    c = COLOUR_RGB[colour]
    if shape == 0:
        pts = np.array([[fix(x - r), fix(y - r)], [fix(x + r), fix(y - r)], [fix(x + r), fix(y + r)],
                        [fix(x - r), fix(y + r)]], np.int32)
        cv2.fillConvexPoly(img, pts, c, cv2.LINE_AA, shift)
    elif shape == 1:
        cv2.circle(img, (fix(x), fix(y)), fix(r), c, cv2.FILLED, cv2.LINE_AA, shift)
    else:
        pts = np.array([[fix(x), fix(y - r)], [fix(x + r), fix(y + r)], [fix(x - r), fix(y + r)]], np.int32)
        cv2.fillConvexPoly(img, pts, c, cv2.LINE_AA, shift)


def _jpeg(cv2, img, rng):
    q = int(rng.integers(55, 96))
    ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1] if ok else img


def _empty_targets(n):
    """aux.frame_targets' frame and change fields for n frames with nothing on screen."""
    t = A.frame_targets({"width": 1, "height": 1, "objects": [], "events": []}, np.zeros(n))
    return t


def code_pairs(rng, n, size=128):
    """n pairs of world-like frames: uint8 [n, 2, size, size, 3] (previous, current) and aux.frame_targets-style
    targets for the current frames (the codes, the static objects, the code start)."""
    cv2 = _cv2()
    W = H = size
    imgs = np.empty((n, 2, H, W, 3), np.uint8)
    t = _empty_targets(n)
    for i in range(n):
        digits = random_code(rng, int(rng.integers(3, 7)))
        boxed = rng.random() < 0.7
        w = int(np.floor(min(0.96 * W, (0.15 * len(digits) + 0.1) * W)))
        h = int(np.floor(0.26 * H))
        x = int(np.floor(rng.uniform(0.02 * W, max(0.02 * W, W - w - 0.02 * W))))
        y = int(np.floor(rng.uniform(0.02 * H, H - h - 0.02 * H)))
        objs = []
        for _ in range(int(rng.integers(0, 4))):
            r = max(4.0, round((0.10 if rng.random() < 0.5 else 0.065) * min(W, H)))
            ox, oy = rng.uniform(r, W - r), rng.uniform(r, H - r)
            if x - r <= ox <= x + w + r and y - r <= oy <= y + h + r:
                continue  # the world keeps objects off a code's box
            pair = (int(rng.integers(0, 6)), int(rng.integers(0, 3)))
            if any(p == pair for p, *_ in objs):
                continue
            objs.append((pair, ox, oy, r))
        code_starts = rng.random() < 0.25
        flash = rng.random() < 0.05
        for k in range(2):
            img = _background(rng, W, H)
            for (colour, shape), ox, oy, r in objs:
                _draw_object(cv2, img, colour, shape, ox, oy, r)
            if k == 1 or not code_starts:
                _draw_code(cv2, img, digits, boxed, (x, y, w, h))
            if flash:
                img = np.clip(img.astype(np.float32) * 0.5 + 127.5, 0, 255).astype(np.uint8)
            imgs[i, k] = _jpeg(cv2, img, rng)
        for (colour, shape), ox, oy, r in objs:
            p = colour * len(A.SHAPES) + shape
            t["present"][i, p] = 1.0
            t["size"][i, p] = 1 if r > 0.08 * min(W, H) else 0
            t["pos"][i, p] = (ox / W, oy / H)
        t["count"][i] = min(len(objs), 4)
        t["flash"][i] = 1.0 if flash else 0.0
        t["code_on"][i] = 1.0
        t["code_boxed"][i] = 1 if boxed else 0
        t["code_len"][i] = len(digits) - 3
        t["digits"][i, : len(digits)] = [int(c) for c in digits]
        xs, yc = A.digit_centres([x, y, x + w, y + h], len(digits))
        t["digit_x"][i, : len(digits)] = np.asarray(xs) / W
        t["digit_y"][i] = yc / H
        t["code_start"][i] = 1.0 if code_starts else 0.0
    return imgs, t


def check(n=300, seed=0):
    """Self-check: aux.digit_centres against the glyphs OpenCV draws (the centroid of the ink that differs
    between an '8' and a '1' in digit k's place is that digit's centre), and cell_digit_targets' order."""
    import torch

    cv2 = _cv2()
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(n):
        W = H = int(rng.choice([64, 128, 160, 256, 512]))
        k_len = int(rng.integers(3, 7))
        digits = random_code(rng, k_len)
        w = int(np.floor(min(0.96 * W, (0.15 * k_len + 0.1) * W)))
        h = int(np.floor(0.26 * H))
        x = int(np.floor(rng.uniform(0.02 * W, max(0.02 * W, W - w - 0.02 * W))))
        y = int(np.floor(rng.uniform(0.02 * H, H - h - 0.02 * H)))
        xs, yc = A.digit_centres([x, y, x + w, y + h], k_len)
        for k in range(k_len):
            a, b = np.zeros((H, W, 3), np.uint8), np.zeros((H, W, 3), np.uint8)
            _draw_code(cv2, a, digits[:k] + "8" + digits[k + 1:], False, (x, y, w, h))
            _draw_code(cv2, b, digits[:k] + "1" + digits[k + 1:], False, (x, y, w, h))
            d = (a[..., 0].astype(np.int32) - b[..., 0]).clip(0)
            ys, xs_ = np.nonzero(d)
            cx, cy = (xs_ * d[ys, xs_]).sum() / d.sum(), (ys * d[ys, xs_]).sum() / d.sum()
            worst = max(worst, abs(cx - xs[k]), abs(cy - yc))
    assert worst < 1.0, f"digit centres off by {worst:.2f} px"
    _, t = code_pairs(rng, 64)
    tt = {k: torch.from_numpy(v) for k, v in t.items()}
    y = A.cell_digit_targets(tt, 4)
    for i in range(64):  # the cells' digits in raster order, slots in order, spell the code (left to right)
        got = [int(v) for v in y[i].reshape(-1) if v != A.NO_DIGIT]
        want = [int(v) for v in t["digits"][i] if v >= 0]
        assert got == want, (got, want)  # one line of cells: raster order is left to right
    print(f"digit centres within {worst:.2f} px of the drawn glyphs ({n} codes); cell digit targets ok")


if __name__ == "__main__":
    check()
