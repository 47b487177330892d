"""Pure task functions against the real envs: termination against their `terminated` flags, the task
reward against their rewards (and the rewards recorded in the benchmark datasets)."""

from __future__ import annotations

import functools

import gymnasium as gym
import numpy as np
import pytest

from offsim_ray.data import load_transitions, termination_fn
from offsim_ray.data.task_reward import task_reward_fn
from offsim_ray.errors import OffSimError
from tests.harness import BENCH_IDS


@functools.lru_cache(maxsize=3)  # the termination and the reward tests read the same rollouts
def _rollout(env_id: str, steps: int, seed: int):
    """Random-action rollouts: (obs, action, next_obs, terminated, reward) from the real env."""
    env = gym.make(env_id)
    env.action_space.seed(seed)
    rows = []
    obs, _ = env.reset(seed=seed)
    for _ in range(steps):
        action = env.action_space.sample()
        next_obs, reward, terminated, truncated, _ = env.step(action)
        rows.append((obs, action, next_obs, terminated, reward))
        obs = env.reset()[0] if terminated or truncated else next_obs
    return [np.array(column) for column in zip(*rows)]


@pytest.mark.parametrize("env_id", ["Hopper-v5", "Walker2d-v5", "HalfCheetah-v5"])
def test_matches_the_real_env(env_id):
    obs, action, next_obs, terminated, _ = _rollout(env_id, 3000, seed=0)
    predicted = termination_fn(env_id)(obs, action, next_obs)
    np.testing.assert_array_equal(predicted, terminated)
    if env_id != "HalfCheetah-v5":
        assert terminated.sum() > 10  # the check saw both outcomes


@pytest.mark.parametrize("dataset_id", BENCH_IDS)
def test_matches_the_flags_stored_in_the_benchmark_datasets(bench_store, dataset_id):
    t = load_transitions(dataset_id, bench_store)
    predicted = termination_fn(t.env_id)(t.obs, t.action, t.next_obs)
    np.testing.assert_array_equal(predicted, t.terminated)


def test_works_on_a_single_transition():
    fn = termination_fn("Hopper-v5")
    healthy = np.array([1.25, 0.0] + [0.0] * 9)
    fallen = np.array([0.5, 0.0] + [0.0] * 9)
    assert not fn(healthy, np.zeros(3), healthy)
    assert fn(healthy, np.zeros(3), fallen)


def test_unknown_env_is_refused():
    with pytest.raises(OffSimError, match="no termination function for Ant-v5"):
        termination_fn("Ant-v5")


# mean |error| a step: the mean of x's first and last velocities stands in for the step's displacement, near
# exact on Hopper and Walker2d; HalfCheetah's velocity swings within a step (correlation still > 0.95)
REWARD_ERRORS = {"Hopper-v5": 0.01, "Walker2d-v5": 0.02, "HalfCheetah-v5": 0.3}


@pytest.mark.parametrize("env_id", list(REWARD_ERRORS))
def test_task_reward_matches_the_real_env(env_id):
    obs, action, next_obs, terminated, reward = _rollout(env_id, 3000, seed=0)
    predicted = task_reward_fn(env_id)(obs, action, next_obs)
    error = np.abs(predicted - reward)
    assert error.mean() < REWARD_ERRORS[env_id]
    assert np.corrcoef(predicted, reward)[0, 1] > 0.95
    if env_id != "HalfCheetah-v5":  # a healthy bonus of 1, and none on the step that falls
        assert error.max() < 0.5 and terminated.sum() > 10


@pytest.mark.parametrize("dataset_id", BENCH_IDS)
def test_task_reward_matches_the_rewards_recorded_in_the_benchmark_datasets(bench_store, dataset_id):
    t = load_transitions(dataset_id, bench_store)
    predicted = task_reward_fn(t.env_id)(t.obs, t.action, t.next_obs)
    assert np.abs(predicted - t.reward).mean() < REWARD_ERRORS[t.env_id]
    assert np.corrcoef(predicted, t.reward)[0, 1] > 0.95


def test_unknown_env_has_no_task_reward():
    with pytest.raises(OffSimError, match="no task reward for Ant-v5; known: HalfCheetah, Hopper, Walker2d"):
        task_reward_fn("Ant-v5")
