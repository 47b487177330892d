"""Trials per hour of a quick (or --preset) Table 1 on this machine, from a slice of its grid run as a user runs it.

sweeps/table1.yaml at the quick preset, its grid cut to --envs, --datasets and --seeds (every method of the
spec kept), runs as `offsim-ray sweep` from scratch: each trial fits its own simulator or dynamics model, Tune
schedules the trials as the spec's resources allow. Prints the wall time, trials per hour, each method's
mean trial time, and the whole quick Table 1's wall time at those per-method times and the slice's measured
concurrency (an estimate: other envs and datasets may take longer or shorter).

    python bench/sweep_throughput.py [--data-root ../shared/datasets] [--envs hopper] [--datasets expert]
                                     [--seeds 0 1 2] [--preset quick] [--out bench-runs/sweep-throughput]
"""

from __future__ import annotations

import argparse
import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import yaml

import common
from offsim_ray.spec import find_spec, load_spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common.store_flags(parser)
    parser.add_argument("--envs", nargs="+", default=["hopper"])
    parser.add_argument("--datasets", nargs="+", default=["expert"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--preset", default="quick", choices=("smoke", "quick", "paper"))
    parser.add_argument("--out", default="bench-runs/sweep-throughput")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)

    table1 = find_spec("table1")
    raw = yaml.safe_load(table1.read_text())
    raw["presets"][args.preset].setdefault("grid", {}).update(env=args.envs, dataset=args.datasets, seed=args.seeds)
    (out / "spec.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))

    wall = common.cli("sweep", str(out / "spec.yaml"), "--preset", args.preset, "--storage", str(out / "sweep"),
                      "--data-root", str(Path(args.data_root).resolve()), "--datasets", common.DATASETS, "--offline",
                      "--quiet")
    common.cli("tables", str(out / "sweep" / f"table1-{args.preset}"), "--out", str(out / "tables"))
    trials = pd.read_parquet(out / "tables" / f"table1-{args.preset}-trials.parquet")
    seconds = trials.groupby("algo")["seconds"].mean()
    concurrency = trials["seconds"].sum() / wall

    full = Counter(point["algo"] for point in load_spec(table1, args.preset).points())
    estimate = sum(count * seconds[algo] for algo, count in full.items()) / concurrency
    n = len(trials)
    print(f"{args.preset} Table 1, slice {args.envs} × {args.datasets} × seeds {args.seeds}: {n} trials in "
          f"{wall:.0f} s → {n / wall * 3600:.1f} trials/hour, {concurrency:.2f} trials at a time on average")
    print(f"{'method':<10} {'trials':>6} {'mean s':>8} {'min s':>7} {'max s':>7}  normalised score per seed")
    for algo, group in trials.sort_values("seed").groupby("algo"):
        t, scores = group["seconds"], ", ".join(f"{v:.1f}" for v in group["normalized_score"])
        print(f"{algo:<10} {len(t):>6} {t.mean():8.0f} {t.min():7.0f} {t.max():7.0f}  {scores}")
    print(f"whole {args.preset} Table 1 ({sum(full.values())} trials) at these trial times: {estimate:.0f} s, "
          f"{estimate / 3600:.1f} hours (estimated)")


if __name__ == "__main__":
    main()
