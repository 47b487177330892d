"""Pure task-reward functions fn(obs, action, next_obs) -> reward, one per MuJoCo task: the v5 envs' reward
(forward velocity, healthy bonus, control cost; their default weights) read from observations.

An oracle, not IRL: a policy trained on it learns from the task, not from the demonstrations. It measures what
the policy stage makes of a reward that is right (docs/benchmarks.md). The env's forward velocity is the x
displacement over the step; the observations hold x's velocity at both ends of it, and their mean stands in
for it (Hopper's recorded rewards are met within 0.005 a step; HalfCheetah's, whose velocity swings within a
step, within 0.25).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from offsim_ray.data.termination import TERMINATION_FNS, task_function

RewardFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def locomotion_reward(family: str, velocity_index: int, healthy_reward: float, ctrl_cost: float) -> RewardFn:
    """x velocity + healthy bonus (while the task's termination function holds off) − ctrl_cost·‖a‖²;
    `velocity_index`: x velocity's place in the observation."""
    terminated = TERMINATION_FNS[family]

    def reward(obs: np.ndarray, action: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
        velocity = 0.5 * (obs[..., velocity_index] + next_obs[..., velocity_index])
        healthy = ~terminated(obs, action, next_obs)
        return velocity + healthy_reward * healthy - ctrl_cost * np.square(action).sum(-1)
    return reward


# observations are qpos[1:] then qvel, so x's velocity qvel[0] follows the nq − 1 positions
TASK_REWARDS: dict[str, RewardFn] = {
    "Hopper": locomotion_reward("Hopper", 5, 1.0, 1e-3),
    "Walker2d": locomotion_reward("Walker2d", 8, 1.0, 1e-3),
    "HalfCheetah": locomotion_reward("HalfCheetah", 8, 0.0, 0.1),
}


def task_reward_fn(env_id: str) -> RewardFn:
    return task_function(TASK_REWARDS, env_id, "task reward")
