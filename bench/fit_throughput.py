"""Fit throughput of the simulator presets: transitions per second through the warm start and the
min-max game (batch_size x iterations / wall seconds), on real Hopper data.

    python bench/fit_throughput.py [--data-root ../shared/datasets] [--iterations 200]
"""

from __future__ import annotations

import time

import torch

import common
from offsim_ray.simulator import fit_simulator, preset


def main() -> None:
    parser = common.parser(__doc__)
    parser.add_argument("--iterations", type=int, default=200)
    args = parser.parse_args()
    _, data = common.transitions(args)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, data {data.name}")
    print("| preset | phase | iterations | transitions/s |")
    print("|---|---|---|---|")
    for name in ("smoke", "quick", "paper"):
        for phase, config in (
            ("warm start", preset(name).with_(warmup_steps=args.iterations, steps=0, eval_every=10**9)),
            ("min-max", preset(name).with_(warmup_steps=0, steps=args.iterations, eval_every=10**9)),
        ):
            started = time.perf_counter()
            fit_simulator(data, config, progress=False)
            seconds = time.perf_counter() - started
            rate = config.batch_size * args.iterations / seconds
            print(f"| {name} | {phase} | {args.iterations} | {rate:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
