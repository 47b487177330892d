"""Learning quality: OffSim (+SAC), the Table 1 baselines (CLARE, ML-IRL, IQ-Learn) and BC, quick preset,
several seeds, on the benchmark datasets; normalised score mean ± std side by side, and each method's
ratio to the first one named (OffSim by default).

Each trial is one `offsim-ray train` run in its own directory under --out (a rerun skips finished
trials); --jobs trials run at once, each on one torch thread.

    python bench/quality.py [--data-root ../shared/datasets] [--algos sac clare mlirl iqlearn bc]
                            [--seeds 0 1 2] [--jobs 2] [--out bench-runs/quality]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

DATASETS = ("bench/hopper/expert-v0", "bench/hopper/medium-v0", "bench/halfcheetah/expert-v0")


def run(args: argparse.Namespace, dataset: str, algo: str, seed: int) -> dict:
    out = Path(args.out) / dataset.replace("/", "_") / f"{algo}-{seed}"
    command = [sys.executable, "-m", "offsim_ray.cli", "train", "--expert", dataset, "--algo", algo,
               "--preset", args.preset, "--seed", str(seed), "--out", str(out), "--data-root", args.data_root,
               "--offline", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "RAY_AUTH_MODE": "disabled"}
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{dataset} {algo} seed {seed} failed: {result.stderr[-2000:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    print(f"{dataset:<28} {algo:<5} seed {seed}: score {metrics['eval/normalized_score']:7.1f}  "
          f"return {metrics['eval/return_mean']:8.1f}  ({time.perf_counter() - started:.0f} s)", flush=True)
    return {"dataset": dataset, "algo": algo, "seed": seed, **metrics}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default="../shared/datasets")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--algos", nargs="+", default=["sac", "bc"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default="bench-runs/quality")
    args = parser.parse_args()
    grid = [(d, a, s) for d in args.datasets for a in args.algos for s in args.seeds]
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(lambda job: run(args, *job), grid))
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"\nnormalised score, mean ± std over seeds {args.seeds} ({args.preset} preset); "
          f"ratio of each mean to {args.algos[0]}'s")
    print(f"{'dataset':<28} " + "  ".join(f"{a:>22}" for a in args.algos))
    for dataset in args.datasets:
        scores = {a: [r["eval/normalized_score"] for r in rows if r["dataset"] == dataset and r["algo"] == a]
                  for a in args.algos}
        first = np.mean(scores[args.algos[0]])
        cells = "  ".join(f"{np.mean(v):6.1f} ± {np.std(v):4.1f} ({np.mean(v) / first:5.2f})"
                          for v in scores.values())
        print(f"{dataset:<28} {cells}")


if __name__ == "__main__":
    main()
