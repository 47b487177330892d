"""Flat-array replay of one-step transitions.

RLlib's EpisodeReplayBuffer rebuilds a one-step episode per sampled row and the learner connector turns
them back into a batch; on 2 cores that was most of a SAC training step. Learned-env episodes are 5
steps long, so flat rows lose nothing: sampling is one fancy-index per column.
"""

from __future__ import annotations

import json

import numpy as np


class FlatReplay:
    """A ring buffer of (obs, action, reward, next_obs, terminated), actions in [-1, 1]."""

    def __init__(self, capacity: int, obs_dim: int, action_dim: int, seed: int):
        self.capacity = capacity
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.actions = np.zeros((capacity, action_dim), np.float32)
        self.rewards = np.zeros(capacity, np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.terminateds = np.zeros(capacity, np.float32)
        self.size = 0
        self.added = 0
        self._rng = np.random.default_rng(seed)

    def add(self, obs, actions, rewards, next_obs, terminateds) -> None:
        n = len(obs)
        index = (self.added + np.arange(n)) % self.capacity
        self.obs[index] = obs
        self.actions[index] = np.clip(actions, -1.0, 1.0)  # what the env executed
        self.rewards[index] = rewards
        self.next_obs[index] = next_obs
        self.terminateds[index] = terminateds
        self.added += n
        self.size = min(self.size + n, self.capacity)

    def save(self, path) -> None:
        """The filled rows, the write position and the sampling RNG (an expert run resumes with its replay)."""
        n = self.size
        np.savez(path, obs=self.obs[:n], actions=self.actions[:n], rewards=self.rewards[:n],
                 next_obs=self.next_obs[:n], terminateds=self.terminateds[:n], added=self.added,
                 rng=json.dumps(self._rng.bit_generator.state))

    def load(self, path) -> None:
        with np.load(path) as f:
            n = len(f["obs"])
            for name in ("obs", "actions", "rewards", "next_obs", "terminateds"):
                getattr(self, name)[:n] = f[name]
            self.size, self.added = n, int(f["added"])
            self._rng.bit_generator.state = json.loads(str(f["rng"]))

    def sample(self, n: int) -> dict[str, np.ndarray]:
        index = self._rng.integers(0, self.size, n)
        return {"obs": self.obs[index], "actions": self.actions[index], "rewards": self.rewards[index],
                "new_obs": self.next_obs[index], "terminateds": self.terminateds[index]}
