"""How sure is a fitted dynamics ensemble on its own data? For each simulator artifact (or folder of them):
the mean of ML-IRL's and CLARE's uncertainty U(s, a) = max_i‖σ_i(s, a)‖ (state units) over the rows it was fit
on, the same with uniform random actions, and the ensemble mean's error on those rows in units of Δs's std.
The penalty λ·U means as much as U does: a less converged fit charges more for the same λ.

    python bench/dynamics_uncertainty.py --artifacts DIR [DIR ...]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

import common
from offsim_ray.policy.baselines.model_based import uncertainty
from offsim_ray.policy.baselines.offline import DataRows
from offsim_ray.policy.config import PolicyConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--artifacts", nargs="+", metavar="DIR", required=True,
                        help="fitted simulator artifacts, or folders of them")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| artifact | fitted on | U on the data | U, random actions | mean's error (Δs std) |")
    print("|---|---|---|---|---|")
    for path, simulator in common.simulators(args.artifacts):
        torch.manual_seed(0)  # the same random actions for every artifact
        rows = DataRows(simulator.data, simulator.action_low, simulator.action_high, PolicyConfig.action_clip,
                        "cpu")
        transition = simulator.transition
        with torch.no_grad():
            on_data = uncertainty(simulator, rows.obs, rows.actions).mean()
            random = uncertainty(simulator, rows.obs, torch.rand_like(rows.actions) * 2 - 1).mean()
            error = (transition.mean_next_obs(rows.obs, torch.as_tensor(np.array(simulator.data.action), dtype=torch.float32))
                     - rows.next_obs) / transition.delta_std
        print(f"| {path.name} | {simulator.data.name} | {on_data:.3f} | {random:.3f} | "
              f"{error.pow(2).mean().sqrt():.3f} |", flush=True)


if __name__ == "__main__":
    main()
