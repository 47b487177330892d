"""Fit throughput of the simulator presets: transitions per second through the warm start and the
min-max game (batch_size x iterations / wall seconds), on real Hopper data. `--bf16` also fits the quick
preset (`--iterations` warm-start then `--iterations` min-max steps) in float32 and under bfloat16 autocast,
side by side, and prints each fit's seconds and its held-out metrics. `--device cuda` fits on a GPU.

    python bench/fit_throughput.py [--data-root ../shared/datasets] [--iterations 200] [--bf16] [--device cuda]
"""

from __future__ import annotations

import contextlib
import time

import torch

import common
from offsim_ray.simulator import fit_simulator, preset


def main() -> None:
    parser = common.parser(__doc__)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--bf16", action="store_true", help="also compare a quick fit in float32 and bfloat16")
    parser.add_argument("--device", default="cpu", help="torch device of the fits (cuda: a GPU)")
    args = parser.parse_args()
    _, data = common.transitions(args)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads{common.device_label(args.device)}, "
          f"data {data.name}")
    print("| preset | phase | iterations | transitions/s |")
    print("|---|---|---|---|")
    for name in ("smoke", "quick", "paper"):
        timed = preset(name).with_(eval_every=10**9, device=args.device)
        for phase, config in (("warm start", timed.with_(warmup_steps=args.iterations, steps=0)),
                              ("min-max", timed.with_(warmup_steps=0, steps=args.iterations))):
            started = time.perf_counter()
            fit_simulator(data, config, progress=False)
            seconds = time.perf_counter() - started
            rate = config.batch_size * args.iterations / seconds
            print(f"| {name} | {phase} | {args.iterations} | {rate:,.0f} |", flush=True)
    if args.bf16:
        print("\n| quick fit | seconds | held-out NLL | held-out MSE | reward gap |")
        print("|---|---|---|---|---|")
        config = preset("quick").with_(warmup_steps=args.iterations, steps=args.iterations, eval_every=10**9,
                                       device=args.device)
        for name, context in (("float32", contextlib.nullcontext()),
                              ("bfloat16 autocast", torch.autocast(torch.device(args.device).type, torch.bfloat16))):
            started = time.perf_counter()
            with context:
                _, history = fit_simulator(data, config, progress=False)
            last = history[-1]
            print(f"| {name} | {time.perf_counter() - started:.1f} | {last['sim/holdout_nll']:.2f} | "
                  f"{last['sim/holdout_mse']:.4f} | {last['sim/reward_gap']:.4f} |", flush=True)


if __name__ == "__main__":
    main()
