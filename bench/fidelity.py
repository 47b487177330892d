"""Fidelity of T_θ on real MuJoCo data: one-step held-out error, and the k-step (k = 1..5)
open-loop error against the real v5 env (Hopper, Walker2d or HalfCheetah) replayed with the
dataset's actions from the same states. By default it fits on one dataset; --grid fits a grid
of entropy weights α and NLL-anchor weights side by side (how the defaults were chosen);
--artifacts measures already fitted simulators (artifact dirs, or folders of them) on windows
from their own data, held-out rows first. Windows with a clipped velocity are skipped.

    python bench/fidelity.py [--data-root ../shared/datasets] [--preset quick] [--grid]
    python bench/fidelity.py --artifacts DIR [DIR ...] [--windows 500]
"""

from __future__ import annotations

import itertools
import time

import gymnasium as gym
import numpy as np
import torch

from offsim_ray.data import DatasetStore, open_dataset
from offsim_ray.data.datasets import read_episodes
import common
from offsim_ray.simulator import Simulator, fit_simulator, preset
from offsim_ray.simulator.fidelity import K, Windows, data_std, open_loop_error, sampled_windows

def replay_windows(dataset_id: str, env_id: str, store: DatasetStore, count: int, seed: int) -> Windows:
    """`count` windows (s_t, a_t..a_{t+K-1}) from the dataset's episodes, replayed in the env."""
    episodes = read_episodes(open_dataset(dataset_id, store))
    obs = np.concatenate([e.observations[:-1] for e in episodes])
    next_obs = np.concatenate([e.observations[1:] for e in episodes])
    env = gym.make(env_id).unwrapped
    return sampled_windows(env, obs, next_obs, np.concatenate([e.actions for e in episodes]), count, seed)


def artifact_windows(simulator: Simulator, count: int, seed: int) -> Windows:
    """Up to `count` windows from the artifact's own rows: held-out starts if there are enough."""
    d = simulator.data
    env = gym.make(simulator.env_id).unwrapped
    return sampled_windows(env, d.obs, d.next_obs, d.action, count, seed, simulator.holdout)


def table_header(leading: list[str], last: str) -> str:
    """Markdown header: the `leading` columns, the k-step error columns, then `last`."""
    names = leading + [f"{k}-step" for k in range(1, K + 1)] + [last]
    return "| " + " | ".join(names) + " |\n|" + "---|" * len(names)


def step_cells(errors: list[float]) -> str:
    return " | ".join(f"{e:.3f}" for e in errors)


def measure_artifacts(paths: list[str], count: int) -> None:
    print(f"artifacts, up to {count} replay windows each, torch {torch.__version__}")
    print(table_header(["artifact", "env", "datasets", "rows", "windows"], "mean"))
    for path, simulator in common.simulators(paths):
        windows = artifact_windows(simulator, count, seed=1)
        errors = open_loop_error(simulator.transition, windows, data_std(simulator.data))
        data = simulator.data
        print(f"| {path.name} | {simulator.env_id} | {data.name} | {len(data)} | {len(windows[0])} | "
              + step_cells(errors) + f" | {np.mean(errors):.3f} |", flush=True)


def measure_fits(args) -> None:
    store, data = common.transitions(args)
    windows = replay_windows(args.dataset, data.env_id, store, args.windows, seed=1)
    base = preset(args.preset)
    grid = [(base.alpha, base.nll_weight)]
    if args.grid:
        grid = list(itertools.product((0.0, 0.01, 0.1), (0.0, 1.0)))
    print(f"{data.name}, preset {args.preset}, {args.windows} replay windows, torch {torch.__version__}")
    print(table_header(["α", "NLL anchor", "holdout NLL", "holdout MSE", "reward gap"], "fit s"))
    for alpha, nll_weight in grid:
        started = time.perf_counter()
        simulator, history = fit_simulator(data, base.with_(alpha=alpha, nll_weight=nll_weight), progress=False)
        seconds = time.perf_counter() - started
        last = history[-1]
        errors = open_loop_error(simulator.transition, windows, data_std(data))
        print(f"| {alpha} | {nll_weight} | {last['sim/holdout_nll']:.2f} | {last['sim/holdout_mse']:.4f} | "
              f"{last['sim/reward_gap']:.3f} | " + step_cells(errors) + f" | {seconds:.0f} |", flush=True)


def main() -> None:
    parser = common.parser(__doc__)
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--windows", type=int, default=500)
    parser.add_argument("--grid", action="store_true", help="α x NLL-anchor grid, side by side")
    parser.add_argument("--artifacts", nargs="+", metavar="DIR",
                        help="measure these fitted simulator artifacts (or folders of them) instead of fitting")
    args = parser.parse_args()
    if args.artifacts:
        measure_artifacts(args.artifacts, args.windows)
    else:
        measure_fits(args)


if __name__ == "__main__":
    main()
