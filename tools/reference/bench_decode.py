"""Cached decode speed of the PyTorch reference on CPU, for the C++ benchmark's comparison table.

Loads a model directory (config.json + model.safetensors) in float32, prefills a context of N random
tokens (early exit for yoco: only the self-decoder and the global K/V run), then times single-token decode
steps (greedy: each step feeds the argmax of the previous logits). Every repeat starts from a copy of the
same prefilled state, so all repeats decode at the same context length. Prints the median tokens/s.

    /usr/bin/python3 tools/reference/bench_decode.py tests/data/yoco_gret --context 2048 --json
    -> {"tokens_per_s": ..., "context": 2048, ...}
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from yoco_ref import Model  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="model directory with config.json and model.safetensors")
    ap.add_argument("--context", type=int, default=1024, help="prefilled tokens before decoding (default 1024)")
    ap.add_argument("--steps", type=int, default=32, help="timed decode steps per repeat (default 32)")
    ap.add_argument("--warmup", type=int, default=4, help="untimed decode steps first (default 4)")
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats; the median is reported (default 5)")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random context tokens")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    if args.context < 1 or args.steps < 1 or args.repeats < 1 or args.warmup < 0 or args.threads < 1:
        ap.error("--context, --steps, --repeats and --threads must be >= 1, --warmup >= 0")

    torch.set_num_threads(args.threads)
    try:
        model = Model.load(args.model, torch.float32)
    except (OSError, ValueError) as e:
        print(f"bench_decode: cannot load {args.model}: {e}", file=sys.stderr)
        return 2
    cfg = model.cfg
    yoco = cfg.arch == "yoco"
    gen = torch.Generator().manual_seed(args.seed)
    context = torch.randint(0, cfg.vocab_size, (args.context,), generator=gen)

    with torch.inference_mode():
        base = model.new_state(capacity=args.context + args.warmup + args.steps + 1)
        t0 = time.perf_counter()
        logits = model.prefill(base, context[:-1], early_exit=yoco, last_only=True) if args.context > 1 else None
        logits = model.step(base, context[-1])  # the last context token gives the first logits
        prefill_s = time.perf_counter() - t0
        first = int(logits.argmax())

        def decode(state, token, n):
            for _ in range(n):
                token = int(model.step(state, token).argmax())
            return token

        decode(base.clone(), first, args.warmup)
        rates = []
        for _ in range(args.repeats):
            st = base.clone()
            t0 = time.perf_counter()
            decode(st, first, args.steps)
            rates.append(args.steps / (time.perf_counter() - t0))

    res = {
        "tokens_per_s": statistics.median(rates),
        "tokens_per_s_min": min(rates),
        "tokens_per_s_max": max(rates),
        "context": args.context,
        "steps": args.steps,
        "repeats": args.repeats,
        "threads": args.threads,
        "arch": cfg.arch,
        "self_decoder": ("window" if cfg.sliding_window is not None else "retention") if yoco else None,
        "prefill_s": prefill_s,
        "early_exit": yoco,
        "dtype": "float32",
        "torch": torch.__version__,
        "model": os.path.abspath(args.model),
    }
    if args.json:
        print(json.dumps(res))
    else:
        print(
            f"{cfg.arch} context {args.context}: {res['tokens_per_s']:.1f} tokens/s median "
            f"(min {res['tokens_per_s_min']:.1f}, max {res['tokens_per_s_max']:.1f}; {args.repeats} x {args.steps} steps, "
            f"{args.threads} threads; prefill {prefill_s:.2f} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
