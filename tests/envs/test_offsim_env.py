"""OffSim-v0 as a Gymnasium env and a VectorEnv over a real fitted artifact."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import offsim_ray  # noqa: F401  (registers OffSim-v0)
from offsim_ray.data import termination_fn
from offsim_ray.data.task_reward import task_reward_fn
from offsim_ray.data.transitions import EXPERT
from offsim_ray.envs.offsim_env import OffSimVectorEnv
from offsim_ray.errors import OffSimError


def test_passes_the_env_checker(fitted):
    env = gym.make("OffSim-v0", artifact=fitted[2])
    check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (11,) and obs.dtype == np.float32


def test_single_env_truncates_after_the_horizon(fitted):
    env = gym.make("OffSim-v0", artifact=fitted[2], horizon=3)
    obs, _ = env.reset(seed=1)
    assert any(np.allclose(obs, s) for s in fitted[0].data.obs[:])  # starts from a data state
    flags = [env.step(env.action_space.sample())[3] for _ in range(3)]
    assert flags == [False, False, True]


def test_vector_env_truncates_and_autoresets_next_step(fitted):
    env = gym.make_vec("OffSim-v0", num_envs=16, vectorization_mode="vector_entry_point",
                       artifact=fitted[2], horizon=2)
    assert env.observation_space.shape == (16, 11) and env.action_space.shape == (16, 3)
    env.reset(seed=0)
    actions = np.zeros((16, 3), np.float32)
    _, r1, term1, trunc1, _ = env.step(actions)
    assert not trunc1.any() and not term1.any() and np.isfinite(r1).all() and (np.abs(r1) < 1).all()
    _, _, _, trunc2, _ = env.step(actions)
    assert trunc2.all()
    obs3, r3, term3, trunc3, _ = env.step(actions)
    assert (r3 == 0).all() and not (term3 | trunc3).any()  # the reset step
    data = fitted[0].data.obs
    assert all(any(np.allclose(o, s) for s in data) for o in obs3[:4])


def test_a_seeded_reset_repeats_the_random_actions_and_the_episode(fitted):
    """RLlib's random warm-up actions are the env's action_space.sample()."""
    makers = (lambda: gym.make("OffSim-v0", artifact=fitted[2]),
              lambda: gym.make_vec("OffSim-v0", num_envs=4, vectorization_mode="vector_entry_point",
                                   artifact=fitted[2]))
    for make in makers:
        runs = []
        for _ in range(2):
            env = make()
            obs, _ = env.reset(seed=7)
            actions = [env.action_space.sample() for _ in range(3)]
            runs.append((obs, actions, [env.step(a)[0] for a in actions]))
        (obs1, actions1, next1), (obs2, actions2, next2) = runs
        assert np.array_equal(obs1, obs2)
        assert all(np.array_equal(a, b) for a, b in zip(actions1 + next1, actions2 + next2))
        assert not np.array_equal(actions1[0], actions1[1])


def test_termination_function_is_applied(fitted):
    env = gym.make_vec("OffSim-v0", num_envs=256, vectorization_mode="vector_entry_point",
                       artifact=fitted[2], horizon=5, termination=True)
    obs, _ = env.reset(seed=0)
    fn = termination_fn("Hopper-v5")
    rng = np.random.default_rng(0)
    for _ in range(4):
        actions = rng.uniform(-1, 1, (256, 3)).astype(np.float32)
        next_obs, _, terminated, _, _ = env.step(actions)
        np.testing.assert_array_equal(terminated, fn(obs, actions, next_obs))
        obs = next_obs
        if terminated.any():
            break


def test_low_variance_is_the_deterministic_ensemble_mean(fitted):
    simulator = fitted[0]
    obs, action = simulator.data.obs[:32], simulator.data.action[:32]
    low_a = simulator.step(obs, action, np.random.default_rng(0), high_variance=False)[0]
    low_b = simulator.step(obs, action, np.random.default_rng(1), high_variance=False)[0]
    high_a = simulator.step(obs, action, np.random.default_rng(0), high_variance=True)[0]
    high_b = simulator.step(obs, action, np.random.default_rng(1), high_variance=True)[0]
    np.testing.assert_array_equal(low_a, low_b)
    assert not np.allclose(high_a, high_b)


@pytest.mark.parametrize("kwargs, message", [
    ({"horizon": 0}, "horizon must be a positive number of steps, got 0"),
    ({"variance": "medium"}, "variance must be one of high, low"),
    ({"reward": "true"}, "reward must be one of learned, task"),
])
def test_bad_env_arguments(fitted, kwargs, message):
    with pytest.raises(OffSimError, match=message):
        gym.make("OffSim-v0", artifact=fitted[2], **kwargs)


def test_missing_artifact(tmp_path):
    with pytest.raises(OffSimError, match="is not a simulator artifact"):
        gym.make("OffSim-v0", artifact=tmp_path)


def test_reward_can_be_shifted_and_taken_on_the_ensemble_mean(fitted):
    import torch

    simulator, _, artifact = fitted
    obs, actions = simulator.data.obs[:32], simulator.data.action[:32]
    plain = OffSimVectorEnv(32, artifact, reward_on_mean=False)
    shifted = OffSimVectorEnv(32, artifact, reward_on_mean=False, reward_shift=1.0)
    on_mean = OffSimVectorEnv(32, artifact)
    results = []
    for env in (plain, shifted, on_mean):
        env.reset(seed=3)
        env._obs = obs.copy()
        results.append(env.step(actions))
    np.testing.assert_allclose(results[1][1], results[0][1] + 1.0, atol=1e-6)
    np.testing.assert_allclose(results[2][0], results[0][0])  # the same sampled next states
    with torch.no_grad():
        s = torch.as_tensor(np.array(obs))
        expected = simulator.reward(s, simulator.transition.mean_next_obs(s, torch.as_tensor(np.array(actions)))).numpy()
    np.testing.assert_allclose(results[2][1], expected, atol=1e-5)
    assert not np.allclose(results[2][1], results[0][1])


def test_episodes_start_from_the_expert_rows_unless_all_rows_are_asked_for(fitted):
    simulator, _, artifact = fitted
    data = simulator.data
    expert_rows = {row.tobytes() for row in data.obs[data.source == EXPERT]}
    from_expert, from_all = ([row.tobytes() in expert_rows
                              for row in OffSimVectorEnv(512, artifact, start_states=name).reset(seed=0)[0]]
                             for name in ("expert", "all"))
    assert all(from_expert)
    assert 0.3 < np.mean(from_all) < 0.7  # the fixture's mix is half expert, half random rows
    with pytest.raises(OffSimError, match="start_states must be one of expert, all"):
        OffSimVectorEnv(4, artifact, start_states="diverse")


def test_the_task_reward_replaces_r_phi_on_the_step_the_env_takes(fitted):
    simulator, _, artifact = fitted
    obs, actions = simulator.data.obs[:64], simulator.data.action[:64]
    learned, task = OffSimVectorEnv(64, artifact), OffSimVectorEnv(64, artifact, reward="task", reward_shift=0.5)
    steps = []
    for env in (learned, task):
        env.reset(seed=3)
        env._obs = obs.copy()
        steps.append(env.step(actions))
    np.testing.assert_array_equal(steps[1][0], steps[0][0])  # the same model step
    np.testing.assert_allclose(steps[1][1], task_reward_fn("Hopper-v5")(obs, actions, steps[1][0]) + 0.5, atol=1e-5)
    assert steps[1][1].std() > 0 and not np.allclose(steps[1][1], steps[0][1] + 0.5)
