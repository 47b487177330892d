"""A policy in the real Gymnasium env: deterministic actions, one episode per env, returns and the
normalised score (0 = random, 100 = expert) from the dataset's reference returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import gymnasium as gym
import numpy as np

from offsim_ray.data.scores import ReferenceScores
from offsim_ray.errors import OffSimError


@dataclass(frozen=True)
class Evaluation:
    env_id: str
    returns: tuple[float, ...]
    lengths: tuple[int, ...]
    reference: ReferenceScores

    def metrics(self) -> dict[str, float]:
        scores = self.reference.normalize(self.returns)
        return {
            "eval/return_mean": float(np.mean(self.returns)),
            "eval/return_std": float(np.std(self.returns)),
            "eval/normalized_score": float(np.mean(scores)),
            "eval/normalized_score_std": float(np.std(scores)),
            "eval/length_mean": float(np.mean(self.lengths)),
            "eval/episodes": len(self.returns),
        }


def check_spaces(env: gym.vector.VectorEnv, env_id: str, obs_dim: int, action_dim: int) -> None:
    obs_shape, action_shape = env.single_observation_space.shape, env.single_action_space.shape
    if obs_shape != (obs_dim,) or action_shape != (action_dim,):
        raise OffSimError(
            f"real env {env_id} has observations {obs_shape} and actions {action_shape}, but the policy "
            f"was trained on observations ({obs_dim},) and actions ({action_dim},)"
        )


def evaluate(act: Callable[[np.ndarray], np.ndarray], env_id: str, obs_dim: int, action_dim: int,
             reference: ReferenceScores, episodes: int = 10, seed: int = 0) -> Evaluation:
    """`episodes` real-env episodes run side by side, `act` called on the batch of observations."""
    try:
        env = gym.make_vec(env_id, num_envs=episodes, vectorization_mode="sync")
    except gym.error.Error as e:
        raise OffSimError(f"cannot make the real env {env_id}: {e}") from None
    try:
        check_spaces(env, env_id, obs_dim, action_dim)
        obs, _ = env.reset(seed=seed)
        returns, lengths = np.zeros(episodes), np.zeros(episodes, dtype=int)
        running = np.ones(episodes, dtype=bool)
        while running.any():
            obs, reward, terminated, truncated, _ = env.step(act(obs.astype(np.float32)))
            returns += reward * running
            lengths += running
            running &= ~(terminated | truncated)
    finally:
        env.close()
    return Evaluation(env_id, tuple(returns.tolist()), tuple(lengths.tolist()), reference)
