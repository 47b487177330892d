"""Pure task-reward functions fn(obs, action, next_obs) -> reward, one per MuJoCo task: the v5 envs' reward
(forward velocity, healthy bonus, control cost; their default weights) read from observations.

An oracle, not IRL: a policy trained on it learns from the task, not from the demonstrations. It measures what
the policy stage makes of a reward that is right (docs/benchmarks.md). The env's forward velocity is the x
displacement over the step; the observations hold x's velocity at both ends of it, and their mean stands in
for it (the error against recorded rewards is in docs/benchmarks.md, "Is it the reward?").
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from offsim_ray.data.termination import TERMINATION_FNS, TerminationFn, task_function

RewardFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def locomotion_reward(terminated: TerminationFn, velocity_index: int, healthy_reward: float, ctrl_cost: float) -> RewardFn:
    """x velocity + healthy bonus (while `terminated`, the task's termination function, holds off) − ctrl_cost·‖a‖²;
    `velocity_index`: x velocity's place in the observation."""
    def reward(obs: np.ndarray, action: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
        velocity = 0.5 * (obs[..., velocity_index] + next_obs[..., velocity_index])
        healthy = ~terminated(obs, action, next_obs)
        return velocity + healthy_reward * healthy - ctrl_cost * np.square(action).sum(-1)
    return reward


# (x velocity's index: observations are qpos[1:] then qvel, so qvel[0] follows the nq − 1 positions;
#  healthy bonus; control-cost weight), the v5 envs' defaults
REWARD_TERMS = {"Hopper": (5, 1.0, 1e-3), "Walker2d": (8, 1.0, 1e-3), "HalfCheetah": (8, 0.0, 0.1)}
TASK_REWARDS: dict[str, RewardFn] = {family: locomotion_reward(TERMINATION_FNS[family], *terms)
                                     for family, terms in REWARD_TERMS.items()}


def task_reward_fn(env_id: str) -> RewardFn:
    return task_function(TASK_REWARDS, env_id, "task reward")
