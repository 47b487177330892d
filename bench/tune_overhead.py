"""Ray Tune's cost per trial, and the wall time of the README's first command.

1. The same SAC smoke trials (seeds 0..N-1, each fitting its own simulator) run twice, side by side:
   directly, with run_trial one after the other in this process, and as an `offsim-ray sweep` of one
   trial at a time (2 CPUs each). Overhead per trial = (wall time - the trials' own seconds) / N.
2. `offsim-ray reproduce table1 --preset smoke` from scratch, as a user runs it.

    python bench/tune_overhead.py [--data-root ../shared/datasets] [--trials 4] [--out bench-runs/tune]
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

import pandas as pd
import yaml

import common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common.store_flags(parser)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--out", default="bench-runs/tune")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    data = ["--data-root", str(Path(args.data_root).resolve()), "--datasets", common.DATASETS, "--offline", "--quiet"]
    spec = {"name": "table1", "grid": {"env": ["hopper"], "dataset": ["expert"], "algo": ["sac"],
                                       "seed": list(range(args.trials))},
            "trial": {"n": 4000}, "resources": {"cpu": 2}}
    (out / "spec.yaml").write_text(yaml.safe_dump(spec))

    import ray

    from offsim_ray.spec import load_spec, with_datasets
    from offsim_ray.sweep import SweepPlan
    from offsim_ray.trial import run_trial

    os.environ["RAY_AUTH_MODE"] = "disabled"
    plan = SweepPlan(with_datasets(load_spec(out / "spec.yaml", "smoke"), common.DATASETS), str(out / "direct"),
                     str(Path(args.data_root).resolve()), offline=True)
    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    direct = [run_trial(plan.trial(point)[1], progress=False) for point in plan.spec.points()]
    ray.shutdown()
    direct_wall = time.perf_counter() - started

    sweep_wall = common.cli("sweep", str(out / "spec.yaml"), "--preset", "smoke", "--storage", str(out / "sweep"),
                            *data)
    common.cli("tables", str(out / "sweep" / "table1-smoke"), "--out", str(out / "sweep-tables"))
    swept = pd.read_parquet(out / "sweep-tables" / "table1-smoke-trials.parquet")["seconds"]

    reproduce_wall = common.cli("reproduce", "table1", "--preset", "smoke", "--storage", str(out / "reproduce"),
                                "--out", str(out / "results"), *data)

    n = args.trials
    direct_own, sweep_own = sum(m["trial/seconds"] for m in direct), float(swept.sum())
    print(f"{n} SAC smoke trials, one at a time")
    print(f"{'':<8} {'wall s':>8} {'trials own s':>13} {'overhead s/trial':>17}")
    print(f"{'direct':<8} {direct_wall:8.1f} {direct_own:13.1f} {(direct_wall - direct_own) / n:17.1f}")
    print(f"{'sweep':<8} {sweep_wall:8.1f} {sweep_own:13.1f} {(sweep_wall - sweep_own) / n:17.1f}")
    print(f"sweep / direct wall time: {sweep_wall / direct_wall:.2f}x; Tune's own cost per trial: "
          f"{((sweep_wall - sweep_own) - (direct_wall - direct_own)) / n:.1f} s")
    print(f"offsim-ray reproduce table1 --preset smoke: {reproduce_wall:.0f} s (goal: under 600 s)")


if __name__ == "__main__":
    main()
