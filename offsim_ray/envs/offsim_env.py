"""The learned simulator as a Gymnasium env ("OffSim-v0") and a batched VectorEnv.

Episodes start from states sampled from the data the simulator was fit on (its expert rows by default;
`start_states="all"` adds OffSim+'s diverse rows), step with T_θ, are
rewarded r_φ(s, s') (+ `reward_shift`; on the ensemble's mean s' with `reward_on_mean`; `reward="task"`: the
task's own reward, an oracle that is not IRL), and are truncated
after `horizon` steps (paper: 5-step rollouts). The task's termination function is applied when
`termination=True`. `compile=True` runs each step's tensor work under torch.compile.
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from offsim_ray.data.task_reward import task_reward_fn
from offsim_ray.data.termination import termination_fn
from offsim_ray.data.transitions import EXPERT
from offsim_ray.envs import REWARDS, START_STATES, VARIANCES
from offsim_ray.errors import OffSimError
from offsim_ray.simulator.simulator import Simulator



def value_bound(gamma: float, reward_shift: float, reward: str = "learned") -> float | None:
    """The largest |discounted return| a learned-env episode can have: r_φ lies in (−1, 1) (tanh), plus
    `reward_shift`, for ever; None when γ = 1 or the task's reward leave it unbounded."""
    return (1.0 + abs(reward_shift)) / (1.0 - gamma) if gamma < 1 and reward == "learned" else None


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime: float, device: str) -> Simulator:
    return Simulator.load(path, device)


class LearnedDynamics:
    """What both envs share: the simulator, the start states, spaces and the per-batch step."""

    def __init__(self, artifact: str | os.PathLike, horizon: int = 5, variance: str = "high", termination: bool = False,
                 device: str = "cpu", reward_on_mean: bool = True, reward_shift: float = 0.0,
                 start_states: str = "expert", reward: str = "learned", compile: bool = False):
        if horizon <= 0:
            raise OffSimError(f"horizon must be a positive number of steps, got {horizon}")
        if variance not in VARIANCES:
            raise OffSimError(f"variance must be one of {', '.join(VARIANCES)}, got {variance!r}")
        if start_states not in START_STATES:
            raise OffSimError(f"start_states must be one of {', '.join(START_STATES)}, got {start_states!r}")
        if reward not in REWARDS:
            raise OffSimError(f"reward must be one of {', '.join(REWARDS)}, got {reward!r}")
        path = Path(artifact)
        meta = path / "meta.json"
        self.simulator = _load(str(path.resolve()), meta.stat().st_mtime if meta.exists() else 0.0, device)
        if compile:
            self.simulator = self.simulator.compiled()
        self.horizon = horizon
        self.high_variance = variance == "high"
        self.reward_on_mean, self.reward_shift = reward_on_mean, reward_shift
        self.terminated_fn = termination_fn(self.simulator.env_id) if termination else None
        self.task_reward_fn = task_reward_fn(self.simulator.env_id) if reward == "task" else None
        data = self.simulator.data
        self.starts = (data if start_states == "all" else data.of_source(EXPERT)).obs
        dim = data.obs_dim
        self.observation_space = spaces.Box(-np.inf, np.inf, (dim,), np.float32)
        self.action_space = spaces.Box(np.asarray(self.simulator.action_low, np.float32),
                                       np.asarray(self.simulator.action_high, np.float32), dtype=np.float32)

    def start_states(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.starts[rng.integers(0, len(self.starts), n)].copy()

    def step(self, obs: np.ndarray, action: np.ndarray, rng: np.random.Generator):
        action = np.clip(action, self.action_space.low, self.action_space.high)
        next_obs, reward = self.simulator.step(obs, action, rng, self.high_variance, self.reward_on_mean)
        if self.task_reward_fn is not None:
            reward = self.task_reward_fn(obs, action, next_obs)
        reward = reward + self.reward_shift
        if self.terminated_fn is None:
            terminated = np.zeros(len(obs), dtype=bool)
        else:
            terminated = np.asarray(self.terminated_fn(obs, action, next_obs), dtype=bool)
        return next_obs.astype(np.float32), reward.astype(np.float32), terminated


class OffSimEnv(gym.Env):
    """One learned-simulator episode at a time: gym.make("OffSim-v0", artifact=PATH)."""

    metadata = {"render_modes": []}

    def __init__(self, artifact: str | os.PathLike, **settings):
        """`settings`: LearnedDynamics' (horizon, variance, termination, device, …)."""
        self.dynamics = LearnedDynamics(artifact, **settings)
        self.observation_space = self.dynamics.observation_space
        self.action_space = self.dynamics.action_space
        self._obs = None
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self.action_space.seed(seed)  # RLlib's random warm-up actions come from it
        self._obs = self.dynamics.start_states(1, self.np_random)
        self._t = 0
        return self._obs[0].copy(), {}

    def step(self, action):
        next_obs, reward, terminated = self.dynamics.step(self._obs, np.asarray(action)[None], self.np_random)
        self._obs = next_obs
        self._t += 1
        truncated = self._t >= self.dynamics.horizon and not terminated[0]
        return next_obs[0].copy(), float(reward[0]), bool(terminated[0]), bool(truncated), {}


class OffSimVectorEnv(gym.vector.VectorEnv):
    """N learned-simulator episodes stepped as one batch; next-step autoreset, like Gymnasium's own:
    the step after an episode ends resets that env (its action ignored, reward 0)."""

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int, artifact: str | os.PathLike, **settings):
        """`settings`: LearnedDynamics' (horizon, variance, termination, device, …)."""
        self.dynamics = LearnedDynamics(artifact, **settings)
        self.num_envs = num_envs
        self.single_observation_space = self.dynamics.observation_space
        self.single_action_space = self.dynamics.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._obs = np.zeros((num_envs, self.single_observation_space.shape[0]), np.float32)
        self._t = np.zeros(num_envs, dtype=np.int64)
        self._ended = np.zeros(num_envs, dtype=bool)

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        seed = seed[0] if isinstance(seed, list) else seed
        super().reset(seed=seed)
        if seed is not None:
            self.action_space.seed(seed)  # RLlib's random warm-up actions come from it
        self._obs = self.dynamics.start_states(self.num_envs, self.np_random)
        self._t[:] = 0
        self._ended[:] = False
        return self._obs.copy(), {}

    def step(self, actions):
        next_obs, reward, terminated = self.dynamics.step(self._obs, np.asarray(actions), self.np_random)
        self._t += 1
        truncated = (self._t >= self.dynamics.horizon) & ~terminated
        ended = self._ended
        if ended.any():
            next_obs[ended] = self.dynamics.start_states(int(ended.sum()), self.np_random)
            reward[ended] = 0.0
            terminated[ended] = truncated[ended] = False
            self._t[ended] = 0
        self._obs = next_obs
        self._ended = terminated | truncated
        return next_obs.copy(), reward, terminated, truncated, {}


def random_rollouts(artifact: str | os.PathLike, num_envs: int, steps: int, horizon: int, variance: str,
                    termination: bool, seed: int) -> tuple[int, float, int, float]:
    """`steps` vector steps of `num_envs` learned envs with uniform random actions: (transitions, seconds,
    episodes ended, mean reward)."""
    env = gym.make_vec("OffSim-v0", num_envs=num_envs, vectorization_mode="vector_entry_point", artifact=artifact,
                       horizon=horizon, variance=variance, termination=termination)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    rewards, ended = 0.0, 0
    started = time.perf_counter()
    for _ in range(steps):
        _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        rewards += float(reward.sum())
        ended += int((terminated | truncated).sum())
    n = steps * num_envs
    return n, time.perf_counter() - started, ended, rewards / n
