"""Torch threads, one run alone against two at once: `offsim-ray fit` with the quick preset's networks (a short
fit) at 1 and at 2 threads a process; the fit seconds each run reports, and a pair's slowdown against one alone.

    python bench/threads.py [--data-root ../shared/datasets] [--dataset bench/hopper/expert-v0] [--steps 300]
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

from common import parser


def fit_seconds(args, out: str, threads: int) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    result = subprocess.run(
        [sys.executable, "-m", "offsim_ray.cli", "fit", "--expert", args.dataset, "--data-root", args.data_root,
         "--offline", "--preset", "quick", "--warmup-steps", str(args.steps), "--steps", str(args.steps),
         "--out", out, "--no-progress", "--threads", str(threads)],
        capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    return float(re.search(r"\(([\d.]+) s\)", result.stdout).group(1))


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--steps", type=int, default=300, help="warm-start and min-max steps of each fit")
    args = p.parse_args()
    print(f"machine: {os.cpu_count()} CPU cores; fit of {args.steps} + {args.steps} steps on {args.dataset}")
    print("| torch threads a process | one alone (s) | two at once (s each) | slowdown of the pair |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for threads in (1, 2):
            alone = fit_seconds(args, f"{tmp}/alone-{threads}", threads)
            with ThreadPoolExecutor(2) as pool:
                pair = list(pool.map(lambda name: fit_seconds(args, f"{tmp}/{name}-{threads}", threads), ("a", "b")))
            print(f"| {threads} | {alone:.1f} | {pair[0]:.1f}, {pair[1]:.1f} | {max(pair) / alone:.2f}× |", flush=True)


if __name__ == "__main__":
    main()
