"""Torch threads, one run alone against two at once, at 1 and at 2 threads a process: `offsim-ray fit` with the
quick preset's networks (a short fit; the fit seconds each run reports), or with `--trial` a whole `offsim-ray
train` trial (fit, policy, evaluation; its wall seconds); and a pair's slowdown against one alone.

    python bench/threads.py [--data-root ../shared/datasets] [--dataset bench/hopper/expert-v0] [--steps 300]
    python bench/threads.py --trial [--preset quick] [--threads 1]
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from common import parser


def seconds(args, out: str, threads: int) -> float:
    """Fit seconds as `fit` reports them, or a trial's wall seconds."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env["RAY_AUTH_MODE"] = "disabled"
    data = ["--expert", args.dataset, "--data-root", args.data_root, "--offline", "--threads", str(threads),
            "--out", out, "--no-progress"]
    command = (["train", *data, "--preset", args.preset, "--seed", "0"] if args.trial else
               ["fit", *data, "--preset", "quick", "--warmup-steps", str(args.steps), "--steps", str(args.steps)])
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "offsim_ray.cli", *command], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    if args.trial:
        return time.perf_counter() - started
    return float(re.search(r"\(([\d.]+) s\)", result.stdout).group(1))


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--steps", type=int, default=300, help="warm-start and min-max steps of each fit")
    p.add_argument("--trial", action="store_true", help="time whole trials (`offsim-ray train`) instead of fits")
    p.add_argument("--preset", default="quick", help="the trials' preset")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch threads a process")
    args = p.parse_args()
    what = f"{args.preset} trial (seed 0)" if args.trial else f"fit of {args.steps} + {args.steps} steps"
    print(f"machine: {os.cpu_count()} CPU cores; {what} on {args.dataset}")
    print("| torch threads a process | one alone (s) | two at once (s each) | slowdown of the pair |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for threads in args.threads:
            alone = seconds(args, f"{tmp}/alone-{threads}", threads)
            with ThreadPoolExecutor(2) as pool:
                pair = list(pool.map(lambda name: seconds(args, f"{tmp}/{name}-{threads}", threads), ("a", "b")))
            print(f"| {threads} | {alone:.1f} | {pair[0]:.1f}, {pair[1]:.1f} | {max(pair) / alone:.2f}× |", flush=True)


if __name__ == "__main__":
    main()
