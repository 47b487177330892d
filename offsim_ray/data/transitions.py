"""(s, a, s') tuples as frozen, row-aligned arrays: subsampling, mixing and normalisation."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Iterable, Sequence

import numpy as np

from offsim_ray.errors import OffSimError

EXPERT = 0
DIVERSE = 1
SOURCE_NAMES = {"expert": EXPERT, "diverse": DIVERSE}

_ARRAYS = ("obs", "action", "next_obs", "reward", "terminated", "truncated", "source")


@dataclass(frozen=True)
class NormStats:
    """Per-dimension mean and std of observations, actions and state deltas (s' - s)."""

    obs_mean: np.ndarray
    obs_std: np.ndarray
    action_mean: np.ndarray
    action_std: np.ndarray
    delta_mean: np.ndarray
    delta_std: np.ndarray

    def to_dict(self) -> dict[str, list[float]]:
        return {f.name: getattr(self, f.name).tolist() for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict) -> NormStats:
        return cls(**{f.name: np.asarray(d[f.name], dtype=np.float32) for f in fields(cls)})


@dataclass(frozen=True)
class Transitions:
    """Row i is one transition (obs[i], action[i]) -> next_obs[i] from dataset `source[i]`. reward[i] is the
    dataset's recorded reward (NaN where unknown): the IRL methods learn without it, and only a baseline's
    `true_reward` setting reads it."""

    obs: np.ndarray
    action: np.ndarray
    next_obs: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    source: np.ndarray
    env_id: str
    dataset_ids: tuple[str, ...]

    def __post_init__(self) -> None:
        n = len(self.obs)
        for name in _ARRAYS:
            array = getattr(self, name)
            if len(array) != n:
                raise ValueError(f"Transitions.{name} has {len(array)} rows, obs has {n}")
            array.flags.writeable = False
        if self.obs.shape != self.next_obs.shape:
            raise ValueError(f"obs {self.obs.shape} and next_obs {self.next_obs.shape} differ")

    def __len__(self) -> int:
        return len(self.obs)

    @property
    def obs_dim(self) -> int:
        return self.obs.shape[1]

    @property
    def action_dim(self) -> int:
        return self.action.shape[1]

    @property
    def name(self) -> str:
        return " + ".join(self.dataset_ids)

    def arrays(self) -> dict[str, np.ndarray]:
        """The per-row arrays by name, as saved in .npz files."""
        return {name: getattr(self, name) for name in _ARRAYS}

    def take(self, index: np.ndarray) -> Transitions:
        """Rows selected by an integer index or a boolean mask."""
        return Transitions(
            **{name: getattr(self, name)[index] for name in _ARRAYS},
            env_id=self.env_id,
            dataset_ids=self.dataset_ids,
        )

    def of_source(self, source: int) -> Transitions:
        return self.take(self.source == source)

    def subsample(self, n: int, seed: int) -> Transitions:
        """n rows drawn without replacement, the same rows for the same seed, in dataset order."""
        if n <= 0:
            raise OffSimError(f"{self.name}: cannot subsample {n} transitions; ask for at least 1")
        if n > len(self):
            raise OffSimError(
                f"{self.name}: asked for {n} transitions but the data has only {len(self)}"
            )
        index = np.sort(np.random.default_rng(seed).choice(len(self), size=n, replace=False))
        return self.take(index)

    def runs(self) -> tuple[np.ndarray, np.ndarray]:
        """First row and length of each unbroken stretch of an episode: a row is followed by the next while it
        ends no episode and its next_obs is the next row's obs (a subsample cuts episodes into several)."""
        ended = self.terminated | self.truncated
        joined = ~ended[:-1] & np.all(self.next_obs[:-1] == self.obs[1:], axis=1)
        starts = np.flatnonzero(np.concatenate([[True], ~joined]))
        return starts, np.diff(np.append(starts, len(self)))

    def nonfinite_rows(self) -> np.ndarray:
        """Boolean mask of rows with a NaN or inf in obs, action or next_obs."""
        finite = (
            np.isfinite(self.obs).all(axis=1)
            & np.isfinite(self.action).all(axis=1)
            & np.isfinite(self.next_obs).all(axis=1)
        )
        return ~finite

    def normalization(self) -> NormStats:
        """Statistics for normalising model inputs and Δs targets; std floored at 1e-6."""
        delta = self.next_obs - self.obs

        def stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return (
                x.mean(axis=0).astype(np.float32),
                np.maximum(x.std(axis=0), 1e-6).astype(np.float32),
            )

        obs_mean, obs_std = stats(self.obs)
        action_mean, action_std = stats(self.action)
        delta_mean, delta_std = stats(delta)
        return NormStats(obs_mean, obs_std, action_mean, action_std, delta_mean, delta_std)

    @staticmethod
    def concat(parts: Sequence[Transitions]) -> Transitions:
        first = parts[0]
        for other in parts[1:]:
            check_compatible(first, other)
        return Transitions(
            **{name: np.concatenate([getattr(p, name) for p in parts]) for name in _ARRAYS},
            env_id=first.env_id,
            dataset_ids=tuple(i for p in parts for i in p.dataset_ids),
        )


def check_compatible(a: Transitions, b: Transitions) -> None:
    """Refuse to combine datasets from different envs or with different spaces."""
    if a.env_id != b.env_id:
        raise OffSimError(
            f"datasets {a.name} ({a.env_id}) and {b.name} ({b.env_id}) come from different envs"
        )
    if a.obs_dim != b.obs_dim or a.action_dim != b.action_dim:
        raise OffSimError(
            f"datasets {a.name} and {b.name} have different spaces: "
            f"obs {a.obs_dim} vs {b.obs_dim}, action {a.action_dim} vs {b.action_dim}"
        )


def mix(expert: Transitions, diverse: Transitions, n_expert: int, n_diverse: int, seed: int) -> Transitions:
    """The OffSim+ training set: n_expert expert rows and n_diverse diverse rows (paper: 10k + 10k)."""
    check_compatible(expert, diverse)
    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, 2**31, size=2)
    return Transitions.concat(
        [expert.subsample(n_expert, int(seeds[0])), diverse.subsample(n_diverse, int(seeds[1]))]
    )


def from_episodes(
    episodes: Iterable, source: int, env_id: str, dataset_id: str
) -> Transitions:
    """Flatten episodes (observations of length T+1, per-step arrays of length T) into transitions.

    next_obs is the episode's observations shifted by one, so the final observation of each
    episode appears only as a next_obs.
    """
    obs, action, next_obs, reward, terminated, truncated = [], [], [], [], [], []
    for episode in episodes:
        o = np.asarray(episode.observations)
        if o.dtype == object or o.ndim != 2:
            raise OffSimError(f"dataset {dataset_id}: only flat Box observations are supported")
        steps = len(episode.actions)
        if len(o) != steps + 1:
            raise OffSimError(
                f"dataset {dataset_id}: episode {getattr(episode, 'id', '?')} has {len(o)} "
                f"observations for {steps} actions (expected {steps + 1})"
            )
        obs.append(o[:-1])
        next_obs.append(o[1:])
        action.append(np.asarray(episode.actions).reshape(steps, -1))
        reward.append(np.asarray(episode.rewards, dtype=np.float32).reshape(steps))
        terminated.append(np.asarray(episode.terminations, dtype=bool))
        truncated.append(np.asarray(episode.truncations, dtype=bool))
    if not obs:
        raise OffSimError(f"dataset {dataset_id} has no episodes")
    n = sum(len(o) for o in obs)
    return Transitions(
        obs=np.concatenate(obs).astype(np.float32),
        action=np.concatenate(action).astype(np.float32),
        next_obs=np.concatenate(next_obs).astype(np.float32),
        reward=np.concatenate(reward),
        terminated=np.concatenate(terminated),
        truncated=np.concatenate(truncated),
        source=np.full(n, source, dtype=np.int8),
        env_id=env_id,
        dataset_ids=(dataset_id,),
    )
