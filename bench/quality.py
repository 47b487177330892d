"""Learning quality: methods side by side on the benchmark datasets, several seeds; normalised score
mean ± std with the per-seed values, each method's ratio to the first one named, and the simulator's
`sim/reward_rank` figures per dataset.

A dataset is an expert id, or EXPERT+DIVERSE for a mix (OffSim+; BC trains on all its rows); one that
--data-root lacks is read from --made-root, where `offsim-ray data make` first makes the local/<task>/…
data of its env if needed. The default grid is the 15 datasets of Hopper, HalfCheetah and Walker2d:
expert, medium, expert+random, expert+medium, medium+random. A method is
an algo (sac, bc, clare, mlirl, iqlearn, ddpg, ppo), or LABEL=ALGO:KEY=VALUE,... with trial-config
overrides (`policy.expert_loss=nll`, `sim.margin=0`, `policy.iterations=200`, top-level `n=10000`). Each trial is one
`offsim-ray train` run in its own directory under --out (a rerun skips finished trials); trials of one
dataset and seed share their simulator fit (--out/simulators); --jobs trials run at once, each on one
torch thread.

    python bench/quality.py [--data-root ../shared/datasets] [--made-root bench-runs/data]
                            [--datasets ID|EXPERT+DIVERSE ...]
                            [--methods sac bc LABEL=ALGO:KEY=VALUE,...] [--seeds 0 1 2] [--jobs 2]
                            [--preset quick] [--out bench-runs/quality]
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
import yaml

import common

from offsim_ray.files import read_jsonl, write_text

MIXES = ("expert", "medium", "expert+random", "expert+medium", "medium+random")
# the grid: Hopper and HalfCheetah from the benchmark store, Walker2d made with the shipped experts
DATASETS = tuple("+".join(f"{prefix}/{level}-v0" for level in mix.split("+"))
                 for prefix in ("bench/hopper", "bench/halfcheetah", "local/walker2d") for mix in MIXES)
RANK_KEYS = ("sim/reward_rank", "sim/reward_rank_expert", "sim/reward_rank_noise01", "sim/reward_rank_noise03",
             "sim/reward_rank_random")


def parse_method(text: str) -> tuple[str, str, dict]:
    """LABEL=ALGO:KEY=VALUE,... -> (label, algo, trial-config overrides); a bare ALGO is its own label."""
    label, _, rest = text.partition("=") if "=" in text.split(":")[0] else (text, "", text)
    algo, _, settings = rest.partition(":")
    overrides: dict = {}
    for item in filter(None, settings.split(",")):
        key, value = item.split("=", 1)
        section, dot, field = key.partition(".")
        if dot:
            overrides.setdefault(section, {})[field] = yaml.safe_load(value)
        else:
            overrides[key] = yaml.safe_load(value)
    return label, algo, overrides


def make_missing(args: argparse.Namespace, datasets: list[str]) -> None:
    """`offsim-ray data make` into --made-root for each env whose local/<task>/… data is in neither store."""
    envs = {"hopper": "Hopper-v5", "walker2d": "Walker2d-v5", "halfcheetah": "HalfCheetah-v5"}
    missing = {part.split("/")[1] for dataset in datasets for part in dataset.split("+")
               if part.startswith("local/") and not (Path(common.data_root(args, part)) / part).is_dir()}
    for task in sorted(missing):
        subprocess.run([sys.executable, "-m", "offsim_ray.cli", "data", "make", "--env", envs[task], "--data-root",
                        args.made_root, "--offline", "--no-progress"], check=True)


def run(args: argparse.Namespace, dataset: str, method: str, seed: int) -> dict:
    label, algo, overrides = parse_method(method)
    expert, _, diverse = dataset.partition("+")
    out = Path(args.out) / dataset.replace("/", "_").replace("+", "__") / f"{label}-{seed}"
    out.mkdir(parents=True, exist_ok=True)
    trial = {"expert": expert, "diverse": diverse or None, "algo": algo, "preset": args.preset, "seed": seed,
             "out": str(out), "simulators": str(Path(args.out) / "simulators"),
             "data_root": common.data_root(args, expert), "offline": True, **overrides}
    (out / "bench-trial.yaml").write_text(yaml.safe_dump(trial))
    command = [sys.executable, "-m", "offsim_ray.cli", "train", str(out / "bench-trial.yaml"), "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "RAY_AUTH_MODE": "disabled"}
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{dataset} {label} seed {seed} failed: {result.stderr[-2000:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    print(f"{dataset:<50} {label:<14} seed {seed}: score {metrics['eval/normalized_score']:7.1f}  "
          f"return {metrics['eval/return_mean']:8.1f}  ({time.perf_counter() - started:.0f} s)", flush=True)
    return {"dataset": dataset, "method": label, "seed": seed, **metrics}


def save(path: Path, rows: list[dict]) -> None:
    """Merge rows into the results file, a later row replacing an earlier one of the same trial."""
    key = lambda row: (row["dataset"], row["method"], row["seed"])  # noqa: E731
    earlier = read_jsonl(path)
    merged = {key(row): row for row in earlier + rows}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, "".join(json.dumps(row) + "\n" for row in merged.values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common.store_flags(parser, made_root=True)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--methods", nargs="+", default=["sac", "bc"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default="bench-runs/quality")
    args = parser.parse_args()
    make_missing(args, args.datasets)
    grid = [(d, m, s) for s in args.seeds for d in args.datasets for m in args.methods]
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(lambda job: run(args, *job), grid))
    save(Path(args.out) / "results.jsonl", rows)
    labels = [parse_method(m)[0] for m in args.methods]
    print(f"\nnormalised score, mean ± std over seeds {args.seeds} ({args.preset} preset), per-seed values, "
          f"and the ratio of each mean to {labels[0]}'s")
    for dataset in args.datasets:
        print(dataset)
        scores = {m: [r["eval/normalized_score"] for r in rows if r["dataset"] == dataset and r["method"] == m]
                  for m in labels}
        first = np.mean(scores[labels[0]])
        for label, values in scores.items():
            seeds = " ".join(f"{v:6.1f}" for v in values)
            print(f"  {label:<14} {np.mean(values):6.1f} ± {np.std(values):4.1f}  [{seeds}]  "
                  f"({np.mean(values) / first:5.2f})")
        ranks = [r for r in rows if r["dataset"] == dataset and "sim/reward_rank" in r and r["method"] == labels[0]]
        if ranks:
            print("  reward rank   " + "  ".join(f"{k.removeprefix('sim/reward_rank').lstrip('_') or 'rank'} "
                                              f"{np.mean([r[k] for r in ranks]):.3f}" for k in RANK_KEYS))


if __name__ == "__main__":
    main()
