"""How do a trained policy's real-env episodes end? For each finished trial: its deterministic episodes in
the real v5 env, each with its length, return, whether the env terminated it, the torso's height z and
angle at the end (obs[0], obs[1]), and the forward velocity (qvel[0], m/s) averaged over the episode and
over its last 50 steps. A policy that speeds up before it falls shows a last-50 velocity above its mean.
With `--artifact`, also the uncertainty of that simulator's ensemble, U = max_i‖σ_i(s, a)‖ (MOPO's and ML-IRL's
penalty), on the episode's own (s, a) in windows before its end, against U on the artifact's data: does the
learned simulator see a fall coming?

    python bench/episode_ends.py TRIAL_DIR [TRIAL_DIR ...] [--episodes 5] [--seed 100] [--artifact SIM_DIR]
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

import common
from offsim_ray.policy.artifact import Policy
from offsim_ray.policy.baselines.model_based import max_sigma
from offsim_ray.simulator import Simulator

WINDOWS = (("first 100", 0, 100), ("100 to 50 before the end", -100, -50), ("50 to 10 before", -50, -10),
           ("last 10", -10, None))


@torch.no_grad()
def model_uncertainty(simulator: Simulator, obs: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """U of each (s, a), the actions in the env's own box."""
    _, logstd = simulator.transition(torch.tensor(obs, dtype=torch.float32), torch.tensor(actions, dtype=torch.float32))
    return max_sigma(simulator.transition, logstd).numpy()


def episode(env: gym.Env, policy: Policy, seed: int, simulator: Simulator | None) -> str:
    obs, _ = env.reset(seed=seed)
    total, velocities, done, terminated, observations, actions = 0.0, [], False, False, [], []
    while not done:
        observations.append(obs)
        actions.append(policy.act(obs[None])[0])
        obs, reward, terminated, truncated, _ = env.step(actions[-1])
        total += float(reward)
        velocities.append(float(env.unwrapped.data.qvel[0]))
        done = terminated or truncated
    end = "terminated" if terminated else "truncated"
    line = (f"{len(velocities):5d} steps  return {total:8.1f}  {end:<10}  z {obs[0]:5.2f}  angle {obs[1]:6.2f}  "
            f"velocity {np.mean(velocities):5.2f}, last 50 steps {np.mean(velocities[-50:]):5.2f}")
    if simulator is not None:
        u = model_uncertainty(simulator, np.array(observations), np.array(actions))
        line += "  U " + ", ".join(f"{name} {u[start:stop].mean():.2f}" for name, start, stop in WINDOWS)
    return line


def report(trial: Path, episodes: int, seed: int, simulator: Simulator | None) -> None:
    policy = Policy.load(trial / "policy")
    env = gym.make(policy.info["env_id"])
    print(trial)
    for k in range(episodes):
        print("  " + episode(env, policy, seed + k, simulator))


def main() -> None:
    parser = common.episode_flags(common.trials_parser(__doc__, "finished trial directories (holding policy/)"))
    parser.add_argument("--artifact", help="a simulator artifact whose ensemble's uncertainty to report")
    args = parser.parse_args()
    simulator = None
    if args.artifact:
        simulator = Simulator.load(args.artifact, "cpu")
        data = simulator.data
        u = model_uncertainty(simulator, data.obs, data.action)
        print(f"U on {data.name} (the artifact's data): mean {u.mean():.2f}, 90th percentile "
              f"{np.percentile(u, 90):.2f}, its terminal rows {u[data.terminated].mean():.2f}")
    common.for_each_trial("episode_ends", args.trials, lambda trial: report(trial, args.episodes, args.seed, simulator))


if __name__ == "__main__":
    main()
