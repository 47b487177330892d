"""Roll a policy in the real Gymnasium env and write the rollouts as a Minari dataset."""

from __future__ import annotations

import difflib
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


def check_env_id(env_id: str) -> None:
    """An OffSimError naming `env_id`, and the closest registered id, when Gymnasium has no such env."""
    if ":" in env_id or env_id in gym.registry:  # `module:Env-vN` registers its env when gym.make imports it
        return
    close = difflib.get_close_matches(env_id, list(gym.registry), n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    raise OffSimError(f"unknown env {env_id}: no registered Gymnasium env has that id{hint}")


def make_env(env_id: str) -> gym.Env:
    check_env_id(env_id)
    try:
        return gym.make(env_id)
    except gym.error.Error as e:
        raise OffSimError(f"cannot make env {env_id}: {e}") from None


def check_spaces(env: gym.vector.VectorEnv, env_id: str, obs_dim: int, action_dim: int) -> None:
    obs_shape, action_shape = env.single_observation_space.shape, env.single_action_space.shape
    if obs_shape != (obs_dim,) or action_shape != (action_dim,):
        raise OffSimError(
            f"real env {env_id} has observations {obs_shape} and actions {action_shape}, but the policy "
            f"was trained on observations ({obs_dim},) and actions ({action_dim},)"
        )


def run_episodes(act: Policy, env_id: str, episodes: int, seed: int = 0,
                 dims: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(returns, lengths) of `episodes` real-env episodes run side by side, `act` called on the batch of
    observations; `dims` = (obs_dim, action_dim) the policy expects, checked against the env."""
    try:
        env = gym.make_vec(env_id, num_envs=episodes, vectorization_mode="sync")
    except gym.error.Error as e:
        raise OffSimError(f"cannot make the real env {env_id}: {e}") from None
    try:
        if dims is not None:
            check_spaces(env, env_id, *dims)
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
    return returns, lengths


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


def write_dataset(store: DatasetStore, dataset_id: str, env_id: str, episodes: list[EpisodeBuffer],
                  reference: tuple[float, float], algorithm: str, description: str,
                  overwrite: bool = False) -> minari.MinariDataset:
    """Publish `episodes` as `dataset_id` (atomically); `reference` = (ref_min_score, ref_max_score)."""
    with store.staging(dataset_id, overwrite=overwrite):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Minari nags about optional metadata
            minari.create_dataset_from_buffers(
                dataset_id=dataset_id,
                buffer=episodes,
                env=env_id,
                algorithm_name=algorithm,
                author="offsim-ray",
                description=description,
                ref_min_score=reference[0],
                ref_max_score=reference[1],
                num_episodes_average_score=len(episodes),
                data_format="hdf5",
            )
    return store.open(dataset_id)


def mean_return(episodes: list[EpisodeBuffer]) -> float:
    return float(np.mean([sum(e.rewards) for e in episodes]))


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
    store.check_writable(dataset_id, overwrite)
    episodes = collect_episodes(env, policy, steps, seed, progress)
    env.close()
    table = reference_scores({}, env_id)
    measured = mean_return(episodes)
    reference = (measured, table.expert) if policy_name == "random" else (table.random, measured)
    return write_dataset(store, dataset_id, env_id, episodes, reference,
                         f"offsim-ray collect --policy {policy_name} --seed {seed}",
                         f"{policy_name} policy in {env_id}, {steps} steps", overwrite)
