"""Fidelity of T_θ on real Hopper data: one-step held-out error, and the k-step (k = 1..5)
open-loop error against the real Hopper-v5 env replayed with the dataset's actions from the same
states. With --grid, the same figures for a grid of entropy weights α and NLL-anchor weights,
side by side in one run (how the defaults were chosen).

    python bench/fidelity.py [--data-root ../shared/datasets] [--preset quick] [--grid]
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
from offsim_ray.simulator import fit_simulator, preset

K = 5


def replay_windows(dataset_id: str, store: DatasetStore, count: int, seed: int):
    """`count` windows (s_t, a_t..a_{t+K-1}) from the dataset and the real env's s_{t+1..t+K}
    after restoring s_t into Hopper-v5 (x position 0: the dynamics do not depend on it)."""
    episodes = [e for e in read_episodes(open_dataset(dataset_id, store)) if len(e.actions) > K]
    rng = np.random.default_rng(seed)
    env = gym.make("Hopper-v5").unwrapped
    env.reset(seed=seed)
    starts, actions, real = [], [], []
    for _ in range(count):
        e = episodes[rng.integers(len(episodes))]
        t = int(rng.integers(len(e.actions) - K))
        s, a = e.observations[t], e.actions[t : t + K]
        nq = env.model.nq
        env.set_state(np.concatenate([[0.0], s[: nq - 1]]), s[nq - 1 :])
        real.append([env.step(a_i)[0] for a_i in a])
        starts.append(s)
        actions.append(a)
    return (np.array(starts, np.float32), np.array(actions, np.float32), np.array(real, np.float32))


@torch.no_grad()
def open_loop_error(simulator, starts, actions, real, obs_std) -> list[float]:
    """Normalised RMSE (per dimension / data std) of the ensemble-mean rollout at k = 1..K."""
    s = torch.as_tensor(starts)
    errors = []
    for k in range(K):
        s = simulator.transition.mean_next_obs(s, torch.as_tensor(actions[:, k]))
        errors.append(float(np.sqrt((((s.numpy() - real[:, k]) / obs_std) ** 2).mean())))
    return errors


def main() -> None:
    parser = common.parser(__doc__)
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--windows", type=int, default=500)
    parser.add_argument("--grid", action="store_true", help="α x NLL-anchor grid, side by side")
    args = parser.parse_args()
    store, data = common.transitions(args)
    starts, actions, real = replay_windows(args.dataset, store, args.windows, seed=1)
    obs_std = data.obs.std(axis=0) + 1e-6
    base = preset(args.preset)
    grid = [(base.alpha, base.nll_weight)]
    if args.grid:
        grid = list(itertools.product((0.0, 0.01, 0.1), (0.0, 1.0)))
    print(f"{data.name}, preset {args.preset}, {args.windows} replay windows, torch {torch.__version__}")
    print("| α | NLL anchor | holdout NLL | holdout MSE | reward gap | " + " | ".join(f"{k}-step" for k in range(1, K + 1)) + " | fit s |")
    print("|---|---|---|---|---|" + "---|" * K + "---|")
    for alpha, nll_weight in grid:
        started = time.perf_counter()
        simulator, history = fit_simulator(data, base.with_(alpha=alpha, nll_weight=nll_weight), progress=False)
        seconds = time.perf_counter() - started
        last = history[-1]
        errors = open_loop_error(simulator, starts, actions, real, obs_std)
        print(f"| {alpha} | {nll_weight} | {last['sim/holdout_nll']:.2f} | {last['sim/holdout_mse']:.4f} | "
              f"{last['sim/reward_gap']:.3f} | " + " | ".join(f"{e:.3f}" for e in errors) + f" | {seconds:.0f} |",
              flush=True)


if __name__ == "__main__":
    main()
