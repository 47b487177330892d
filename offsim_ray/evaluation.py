"""A policy in the real Gymnasium env: deterministic actions, one episode per env, returns and the
normalised score (0 = random, 100 = expert) from the dataset's reference returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from offsim_ray.data.collect import run_episodes
from offsim_ray.data.scores import ReferenceScores


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


def evaluate(act: Callable[[np.ndarray], np.ndarray], env_id: str, obs_dim: int, action_dim: int,
             reference: ReferenceScores, episodes: int = 10, seed: int = 0) -> Evaluation:
    """`episodes` real-env episodes run side by side, `act` called on the batch of observations."""
    returns, lengths = run_episodes(act, env_id, episodes, seed, dims=(obs_dim, action_dim))
    return Evaluation(env_id, tuple(returns.tolist()), tuple(lengths.tolist()), reference)
