"""Roll a policy in the real Gymnasium env and write the rollouts as a Minari dataset."""

from __future__ import annotations

import warnings
from typing import Callable

import gymnasium as gym
import minari
import numpy as np
from minari.data_collector import EpisodeBuffer
from tqdm import tqdm

from offsim_ray.data.scores import reference_scores
from offsim_ray.data.store import DatasetStore
from offsim_ray.errors import OffSimError

Policy = Callable[[np.ndarray], np.ndarray]
POLICIES = ("random",)


def make_policy(name: str, env: gym.Env, seed: int) -> Policy:
    """A policy by name: `random` draws uniform actions from the env's action space."""
    if name == "random":
        space = env.action_space
        space.seed(seed)
        return lambda obs: space.sample()
    raise OffSimError(f"unknown policy '{name}'; available: {', '.join(POLICIES)}")


def make_env(env_id: str) -> gym.Env:
    try:
        return gym.make(env_id)
    except gym.error.Error as e:
        raise OffSimError(f"cannot make env {env_id}: {e}") from None


def collect_episodes(
    env: gym.Env, policy: Policy, steps: int, seed: int, progress: bool = True
) -> list[EpisodeBuffer]:
    """Exactly `steps` env steps in whole episodes; the last one is marked truncated if cut short."""
    if steps <= 0:
        raise OffSimError(f"--steps must be positive, got {steps}")
    episodes: list[EpisodeBuffer] = []
    returns: list[float] = []
    obs, _ = env.reset(seed=seed)
    observations, actions, rewards, terms, truncs = [obs], [], [], [], []
    bar = tqdm(total=steps, desc=f"collect {env.spec.id}", unit="step", disable=not progress)
    for t in range(steps):
        action = np.asarray(policy(obs), dtype=env.action_space.dtype)
        obs, reward, terminated, truncated, _ = env.step(action)
        truncated = truncated or (t == steps - 1 and not terminated)
        observations.append(obs)
        actions.append(action)
        rewards.append(float(reward))
        terms.append(bool(terminated))
        truncs.append(bool(truncated))
        if terminated or truncated:
            episodes.append(
                EpisodeBuffer(
                    id=len(episodes),
                    observations=np.asarray(observations),
                    actions=np.asarray(actions),
                    rewards=rewards,
                    terminations=terms,
                    truncations=truncs,
                )
            )
            returns.append(sum(rewards))
            bar.set_postfix(episodes=len(episodes), mean_return=f"{np.mean(returns):.1f}", refresh=False)
            obs, _ = env.reset()
            observations, actions, rewards, terms, truncs = [obs], [], [], [], []
        bar.update(1)
    bar.close()
    return episodes


def collect_dataset(
    store: DatasetStore,
    env_id: str,
    policy_name: str,
    steps: int,
    dataset_id: str,
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
) -> minari.MinariDataset:
    """Collect and publish `dataset_id`; reference scores come from the measured mean return.

    A random policy's mean return is the dataset's `ref_min_score` and the D4RL expert return its
    `ref_max_score`; any other policy's mean return is its `ref_max_score`.
    """
    env = make_env(env_id)
    policy = make_policy(policy_name, env, seed)
    with store.staging(dataset_id, overwrite=overwrite):
        episodes = collect_episodes(env, policy, steps, seed, progress)
        mean_return = float(np.mean([sum(e.rewards) for e in episodes]))
        table = reference_scores({}, env_id)
        ref_min, ref_max = (
            (mean_return, table.expert) if policy_name == "random" else (table.random, mean_return)
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Minari nags about optional metadata
            minari.create_dataset_from_buffers(
                dataset_id=dataset_id,
                buffer=episodes,
                env=env_id,
                algorithm_name=f"offsim-ray collect --policy {policy_name} --seed {seed}",
                author="offsim-ray",
                description=f"{policy_name} policy in {env_id}, {steps} steps",
                ref_min_score=ref_min,
                ref_max_score=ref_max,
                num_episodes_average_score=len(episodes),
                data_format="hdf5",
            )
    env.close()
    return store.open(dataset_id)
