#!/usr/bin/env python3
"""Writes tests/data/runtime/: a tiny random YOCO model with a vision block and the byte tokenizer.

The stream runtime's tests need an LM whose vocabulary covers the byte tokenizer (260 ids) and a vision
encoder (`vision.*` tensors, docs/MODEL-FORMAT.md). Weights are random (answers are gibberish); tests check
mechanics and determinism, never content. Pure Python (no numpy) so it runs anywhere; deterministic for a seed.

usage: tools/runtime/make_test_model.py [OUT_DIR]   (default tests/data/runtime)
"""
import json
import math
import os
import random
import struct
import sys

CONFIG = {
    "dim": 32, "n_layers": 2, "hidden_dim": 64, "n_self_heads": 2, "n_attn_heads": 2, "n_attn_kv_heads": 1,
    "vocab_size": 260, "rope_theta": 10000.0, "norm_eps": 1e-5, "sliding_window": None, "arch": "yoco",
    "rope_style": "yoco", "embed_scale": True, "gate_logit_normalizer": 16,
    "tokenizer": {"type": "byte"},
    "vision": {"image_size": 32, "patch_size": 8, "width": 32, "n_layers": 1, "n_heads": 2, "mlp_dim": 64,
               "tokens_per_frame": 4, "proj_dim": 64, "lm_dim": 32, "norm_eps": 1e-6,
               "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "pad_rgb": [0, 0, 0]},
    "stream": {"fps": 1.0, "max_answer_tokens": 24},
}


def tensors(cfg):
    d, h, v = cfg["dim"], cfg["hidden_dim"], cfg["vocab_size"]
    hd = d // cfg["n_attn_heads"]
    kv = cfg["n_attn_kv_heads"] * hd
    out = [("embed_tokens.weight", [v, d]), ("output_projection.weight", [v, d]), ("layer_norm.weight", [d])]
    ffn = lambda p: [(p + "ffn.fc1.weight", [h, d]), (p + "ffn.gate.weight", [h, d]), (p + "ffn.fc2.weight", [d, h]),
                     (p + "mixer_layer_norm.weight", [d]), (p + "final_layer_norm.weight", [d])]
    for i in range(cfg["n_layers"] // 2):
        p = "self_decoder.layers.%d." % i
        out += [(p + "mixer.%s_proj.weight" % n, [d, d]) for n in ("q", "k", "v", "g", "out")]
        out += [(p + "mixer.gt_proj.weight", [cfg["n_self_heads"], d])] + ffn(p)
    out += [("cross_decoder.kv_layer_norm.weight", [d]), ("cross_decoder.k_proj.weight", [kv, d]),
            ("cross_decoder.v_proj.weight", [kv, d])]
    for i in range(cfg["n_layers"] // 2):
        p = "cross_decoder.layers.%d." % i
        out += [(p + "mixer.q_proj.weight", [d, d]), (p + "mixer.out_proj.weight", [d, d])] + ffn(p)
    vc = cfg["vision"]
    w, m, ps = vc["width"], vc["mlp_dim"], vc["patch_size"]
    n = (vc["image_size"] // ps) ** 2
    out += [("vision.patch_embed.weight", [w, 3 * ps * ps]), ("vision.pos_embed", [n, w])]
    for i in range(vc["n_layers"]):
        p = "vision.blocks.%d." % i
        out += [(p + "norm1.weight", [w]), (p + "attn.qkv.weight", [3 * w, w]), (p + "attn.out.weight", [w, w]),
                (p + "norm2.weight", [w]), (p + "mlp.gate.weight", [m, w]), (p + "mlp.up.weight", [m, w]),
                (p + "mlp.down.weight", [w, m])]
    out += [("vision.norm.weight", [w]), ("vision.proj.fc1.weight", [vc["proj_dim"], w]),
            ("vision.proj.fc2.weight", [d, vc["proj_dim"]])]
    return out


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../tests/data/runtime")
    os.makedirs(out_dir, exist_ok=True)
    rng = random.Random(20240607)
    header, blobs, offset = {"__metadata__": {"generator": "tools/runtime/make_test_model.py"}}, [], 0
    for name, shape in tensors(CONFIG):
        count = 1
        for s in shape:
            count *= s
        if len(shape) == 1:
            vals = [1.0] * count  # unit norms
        else:
            std = 1.0 / math.sqrt(CONFIG["dim"]) if name == "embed_tokens.weight" else 1.0 / math.sqrt(shape[-1])
            if name == "vision.pos_embed":
                std = 0.02
            vals = [rng.gauss(0.0, std) for _ in range(count)]
        blob = struct.pack("<%df" % count, *vals)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(os.path.join(out_dir, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(hjson)) + hjson + b"".join(blobs))
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
