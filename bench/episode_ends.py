"""How do a trained policy's real-env episodes end? For each finished trial: its deterministic episodes in
the real v5 env, each with its length, return, whether the env terminated it, the torso's height z and
angle at the end (obs[0], obs[1]), and the forward velocity (qvel[0], m/s) averaged over the episode and
over its last 50 steps. A policy that speeds up before it falls shows a last-50 velocity above its mean.

    python bench/episode_ends.py TRIAL_DIR [TRIAL_DIR ...] [--episodes 5] [--seed 100]
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np

import common
from offsim_ray.policy.artifact import Policy


def episode(env: gym.Env, policy: Policy, seed: int) -> str:
    obs, _ = env.reset(seed=seed)
    total, velocities, done, terminated = 0.0, [], False, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(policy.act(obs[None])[0])
        total += float(reward)
        velocities.append(float(env.unwrapped.data.qvel[0]))
        done = terminated or truncated
    end = "terminated" if terminated else "truncated"
    return (f"{len(velocities):5d} steps  return {total:8.1f}  {end:<10}  z {obs[0]:5.2f}  angle {obs[1]:6.2f}  "
            f"velocity {np.mean(velocities):5.2f}, last 50 steps {np.mean(velocities[-50:]):5.2f}")


def report(trial: Path, episodes: int, seed: int) -> None:
    policy = Policy.load(trial / "policy")
    env = gym.make(policy.info["env_id"])
    print(trial)
    for k in range(episodes):
        print("  " + episode(env, policy, seed + k))


def main() -> None:
    args = common.episode_flags(common.trials_parser(__doc__, "finished trial directories (holding policy/)")).parse_args()
    common.for_each_trial("episode_ends", args.trials, lambda trial: report(trial, args.episodes, args.seed))


if __name__ == "__main__":
    main()
