"""Pure termination functions against the real envs' own `terminated` flags."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from offsim_ray.data import load_transitions, termination_fn
from offsim_ray.errors import OffSimError
from tests.harness import BENCH_IDS


def _rollout(env_id: str, steps: int, seed: int):
    """Random-action rollouts: (obs, action, next_obs, terminated) from the real env."""
    env = gym.make(env_id)
    env.action_space.seed(seed)
    rows = []
    obs, _ = env.reset(seed=seed)
    for _ in range(steps):
        action = env.action_space.sample()
        next_obs, _, terminated, truncated, _ = env.step(action)
        rows.append((obs, action, next_obs, terminated))
        obs = env.reset()[0] if terminated or truncated else next_obs
    return [np.array(column) for column in zip(*rows)]


@pytest.mark.parametrize("env_id", ["Hopper-v5", "Walker2d-v5", "HalfCheetah-v5"])
def test_matches_the_real_env(env_id):
    obs, action, next_obs, terminated = _rollout(env_id, 3000, seed=0)
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
