"""The IRL baselines' parts: their loss terms against the objectives in their docstrings, the model
rollouts CLARE and ML-IRL train on, and a reward step that moves the reward the way the method says."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from offsim_ray.data.transitions import DIVERSE, EXPERT


def test_clare_weights_move_the_pull_of_uncertain_expert_rows_to_reliable_rows():
    from offsim_ray.policy.baselines.clare import conservative_weights

    u = torch.tensor([0.1, 0.9, 0.2, 0.8, 0.3, 0.7])
    expert = torch.tensor([True, True, True, False, False, False])
    w = conservative_weights(u, expert, threshold=0.5)
    reliable = u < 0.5
    assert w.sum().item() == pytest.approx(0.0, abs=1e-6)  # so Z = 1 + E[w] = 1
    assert (w[reliable] > 0).all() and torch.allclose(w[reliable], w[reliable][0])
    assert w[1].item() == pytest.approx(-len(u) / int(expert.sum()))  # uncertain expert row
    assert w[3] == 0 and w[5] == 0  # uncertain diverse rows


def test_clare_reward_loss_rewards_data_above_model_rows():
    from offsim_ray.policy.baselines.clare import reward_loss

    r_data = torch.zeros(4, requires_grad=True)
    r_model = torch.zeros(4, requires_grad=True)
    r_expert = torch.zeros(4, requires_grad=True)
    weights = torch.tensor([1.0, 1.0, -1.0, -1.0])
    reward_loss(r_model, r_data, weights, r_expert, z=1.0).backward()
    assert (r_model.grad > 0).all() and (r_expert.grad < 0).all()  # push model rows down, expert rows up
    assert (r_data.grad[:2] < 0).all() and (r_data.grad[2:] > 0).all()  # by the sign of their weight


def test_inverse_soft_q_loss_is_the_negated_objective_with_terminal_masks():
    from offsim_ray.policy.baselines.iqlearn import implicit_reward, inverse_soft_q_loss

    gamma, chi2 = 0.9, 0.5
    reward = implicit_reward(torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0]), torch.tensor([0.0, 1.0]), gamma)
    x = np.array([1.0 - gamma * 3.0, 2.0])  # the terminal row does not bootstrap
    assert reward.numpy() == pytest.approx(x)
    initial = torch.tensor(0.7)
    expected = -np.mean(x - x**2 / (4 * chi2)) + 0.7  # χ² on the expert rows: φ(x) = x − x²/(4α)
    assert inverse_soft_q_loss(reward, reward, initial, chi2).item() == pytest.approx(expected, rel=1e-6)
    rows = torch.tensor([3.0])
    everywhere = -np.mean(x) + 0.7 + np.mean(np.r_[x, 3.0] ** 2) / (4 * chi2)  # the authors' regularize
    assert inverse_soft_q_loss(reward, torch.cat([reward, rows]), initial, chi2).item() == pytest.approx(everywhere, rel=1e-6)


def test_mlirl_reward_loss_is_minus_the_likelihood_gradient():
    from offsim_ray.policy.baselines.mlirl import reward_loss

    r_agent, r_expert = torch.ones(3, requires_grad=True), torch.ones(5, requires_grad=True)
    reward_loss(r_agent, r_expert).backward()
    assert torch.allclose(r_agent.grad, torch.full((3,), 1 / 3)) and torch.allclose(r_expert.grad, torch.full((5,), -1 / 5))


@pytest.fixture(scope="module")
def dynamics(trial_data, tmp_path_factory):
    """A maximum-likelihood ensemble fit on 2000 Hopper transitions, the first half labelled expert."""
    from offsim_ray.data import DatasetStore, training_transitions
    from offsim_ray.simulator import fit_simulator, preset

    data_root, dataset = trial_data
    data = training_transitions(dataset, None, 2000, 0, DatasetStore(data_root), download=False)
    source = np.where(np.arange(len(data)) < 1000, EXPERT, DIVERSE).astype(data.source.dtype)
    data = dataclasses.replace(data, source=source)
    simulator, _ = fit_simulator(data, preset("smoke").with_(warmup_steps=100, steps=0), progress=False)
    return data, simulator


def _actor_critic(data):
    from offsim_ray.policy.config import preset
    from offsim_ray.policy.baselines.offline import ActorCritic

    return ActorCritic(preset("smoke", "mlirl"), data.obs_dim, [-1.0] * data.action_dim, [1.0] * data.action_dim,
                       data=data)


def test_rollout_stops_rows_the_task_terminates_and_measures_uncertainty(dynamics):
    from offsim_ray.data.termination import hopper_terminated
    from offsim_ray.policy.baselines.model_based import rollout

    data, simulator = dynamics
    starts = torch.as_tensor(np.array(data.obs[:64]))
    starts[:32, 0] = 0.5  # torso below Hopper's healthy height: these end after one step
    module = _actor_critic(data).module
    assert len(rollout(module, simulator, starts, 5, torch.Generator().manual_seed(0))) == 5 * 64
    rows = rollout(module, simulator, starts, 5, torch.Generator().manual_seed(0), terminate=True)
    assert 64 + 4 * 32 >= len(rows) > 64 and rows.actions.abs().max() <= 1
    assert (rows.uncertainty > 0).all() and torch.isfinite(rows.next_obs).all()
    expected = hopper_terminated(rows.obs.numpy(), rows.actions.numpy(), rows.next_obs.numpy())
    assert np.array_equal(rows.terminated.numpy().astype(bool), expected)
    assert rows.terminated[:32].all()


def test_mlirl_reward_steps_raise_expert_rewards_above_the_policys(dynamics):
    from offsim_ray.policy.config import preset
    from offsim_ray.policy.baselines.mlirl import MLIRL
    from offsim_ray.policy.baselines.model_based import rollout
    from offsim_ray.policy.baselines.offline import DataRows

    data, simulator = dynamics
    config = preset("smoke", "mlirl")
    method, generator = MLIRL(), torch.Generator().manual_seed(0)
    reward = method.build_reward(simulator, config)
    optimiser = torch.optim.Adam(reward.parameters(), lr=1e-3)
    rows = DataRows(data, [-1.0] * data.action_dim, [1.0] * data.action_dim, config.action_clip, "cpu")
    module = _actor_critic(data).module
    agent = rollout(module, simulator, rows.obs[rows.expert_rows[:200]], 5, generator)
    expert = rows.sample(500, generator, expert_only=True)
    gaps = []
    for _ in range(30):
        loss, metrics = method.reward_loss(reward, rows, expert, rows.sample(500, generator), agent, config)
        gaps.append(metrics["irl/reward_expert"] - metrics["irl/reward_agent"])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert gaps[-1] > gaps[0] + 0.5


def test_iqlearn_learns_from_a_mix_s_expert_rows_and_trains_with_the_authors_hopper_loss(dynamics, tmp_path):
    from offsim_ray.policy.baselines import iqlearn
    from offsim_ray.policy.config import preset
    from offsim_ray.policy.trainers import TrainingContext

    data, _ = dynamics
    box = np.ones(data.action_dim, dtype=np.float32)
    config = preset("smoke", "iqlearn").with_(iterations=2)
    expert_only = dataclasses.replace(data, source=np.full_like(data.source, EXPERT))
    rows = {}
    for name, rows_of, changes in (("default", data, {}), ("authors", data, {"iq_value": "v0", "chi2_rows": "all"}),
                                   ("all-rows-value", data, {"value_rows": "all"}),
                                   ("expert-half", data.of_source(EXPERT), {}),
                                   ("default-expert-only", expert_only, {}),
                                   ("all-rows-value-expert-only", expert_only, {"value_rows": "all"})):
        context = TrainingContext(rows_of, config.with_(**changes), -box, box, tmp_path / name, progress=False)
        _, rows[name] = iqlearn.train(context)
        assert all(np.isfinite(v) for k, v in rows[name].items() if k.startswith(("policy/", "irl/")))
    # by default a mix's diverse rows take no part: the same run as on its expert rows alone
    learned = {name: {k: v for k, v in row.items() if k != "policy/seconds"} for name, row in rows.items()}
    assert learned["default"] == learned["expert-half"]
    # the options reach the loss; ρ = all rows changes it on a mix only
    assert rows["authors"]["policy/critic_loss"] != rows["default"]["policy/critic_loss"]
    assert rows["all-rows-value"]["policy/critic_loss"] != rows["default"]["policy/critic_loss"]
    assert rows["all-rows-value-expert-only"]["policy/critic_loss"] == rows["default-expert-only"]["policy/critic_loss"]


def test_mlirl_true_reward_reaches_the_real_rows_and_needs_recorded_rewards(dynamics, tmp_path):
    from offsim_ray.errors import OffSimError
    from offsim_ray.policy.baselines import mlirl
    from offsim_ray.policy.config import preset
    from offsim_ray.policy.trainers import TrainingContext

    data, simulator = dynamics
    box = np.ones(data.action_dim, dtype=np.float32)
    config = preset("smoke", "mlirl").with_(iterations=2, real_ratio=0.5)
    rows = {}
    for weight in (0.0, 1.0):
        context = TrainingContext(data, config.with_(true_reward=weight), -box, box, tmp_path / str(weight),
                                  simulator=simulator, progress=False)
        rows[weight] = mlirl.train(context)[1]
    # Hopper's recorded rewards (about 1-3 a step) on half the rows: the critic learns higher values, with a larger error
    assert rows[1.0]["policy/q_mean"] > rows[0.0]["policy/q_mean"]
    assert rows[1.0]["policy/critic_loss"] > 2 * rows[0.0]["policy/critic_loss"], (rows[0.0], rows[1.0])
    unrecorded = dataclasses.replace(data, reward=np.full(len(data), np.nan, np.float32))
    context = TrainingContext(unrecorded, config.with_(true_reward=1.0), -box, box, tmp_path / "nan",
                              simulator=simulator, progress=False)
    with pytest.raises(OffSimError, match="true_reward needs the data's recorded rewards"):
        mlirl.train(context)


def test_task_reward_oracle_replaces_the_learned_reward_and_its_steps(dynamics, tmp_path):
    from offsim_ray.data.task_reward import task_reward_fn
    from offsim_ray.policy.baselines import mlirl
    from offsim_ray.policy.baselines.model_based import task_rewards
    from offsim_ray.policy.config import preset
    from offsim_ray.policy.trainers import TrainingContext

    data, simulator = dynamics
    obs, next_obs = torch.as_tensor(np.array(data.obs[:8])), torch.as_tensor(np.array(data.next_obs[:8]))
    actions = torch.linspace(-1, 1, 8 * data.action_dim).reshape(8, -1)
    low, high = np.asarray(simulator.action_low), np.asarray(simulator.action_high)
    raw = low + (actions.numpy() + 1) / 2 * (high - low)
    expected = task_reward_fn(simulator.env_id)(obs.numpy(), raw, next_obs.numpy())
    assert task_rewards(task_reward_fn(simulator.env_id), simulator, obs, actions, next_obs).numpy() == \
        pytest.approx(expected, rel=1e-5)
    box = np.ones(data.action_dim, dtype=np.float32)
    # the temperature learned from 1.0, its authors' setting, under which the ratio below was set
    config = preset("smoke", "mlirl").with_(iterations=2, termination=True, initial_alpha=1.0, learn_alpha=True)
    rows = {}
    for reward in ("learned", "task"):
        context = TrainingContext(data, config.with_(reward=reward), -box, box, tmp_path / reward,
                                  simulator=simulator, progress=False)
        rows[reward] = mlirl.train(context)[1]
    assert "irl/reward_loss" in rows["learned"] and "irl/reward_loss" not in rows["task"]
    # Hopper's task reward, about 1-3 a step while it stays up, against a learned reward near 0: the
    # critic learns higher values, with a larger error
    assert rows["task"]["policy/q_mean"] > rows["learned"]["policy/q_mean"]
    assert rows["task"]["policy/critic_loss"] > 5 * rows["learned"]["policy/critic_loss"], rows


def test_reward_horizon_compares_expert_openings_with_rollouts_as_long_from_their_first_states(dynamics, tmp_path):
    from offsim_ray.policy.baselines import mlirl
    from offsim_ray.policy.baselines.model_based import Openings, rollout
    from offsim_ray.policy.config import preset
    from offsim_ray.policy.trainers import TrainingContext

    data, simulator = dynamics
    openings = Openings.of(data, 2, "cpu")
    starts, runs = data.runs()  # a 2000-row subsample: its runs are short
    expert = data.source[starts] == EXPERT
    assert openings.starts.tolist() == starts[expert].tolist()
    assert openings.lengths.tolist() == np.minimum(runs[expert], 2).tolist() and openings.lengths.max() == 2
    assert openings.rows.tolist() == [r for s, n in zip(starts[expert], np.minimum(runs[expert], 2))
                                      for r in range(s, s + n)]
    module = _actor_critic(data).module
    rows = rollout(module, simulator, torch.as_tensor(data.obs[starts[expert]]), 2, torch.Generator().manual_seed(0),
                   lengths=openings.lengths)
    assert len(rows) == len(openings.rows)  # each start runs its opening's length, no further
    box = np.ones(data.action_dim, dtype=np.float32)
    config = preset("smoke", "mlirl").with_(iterations=2, reward_horizon=2)
    context = TrainingContext(data, config, -box, box, tmp_path, simulator=simulator, progress=False)
    last = mlirl.train(context)[1]
    assert 0 < last["irl/rollout_share"] <= 1 and np.isfinite(last["irl/reward_loss"])
