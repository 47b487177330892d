"""The policy stage's parts: loss terms, the flat replay, the actor-critic module of SAC and DDPG,
the real-env evaluation and the policy config."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from offsim_ray.errors import OffSimError


def test_expert_nll_step_raises_the_likelihood_of_expert_actions():
    from offsim_ray.policy.losses import expert_nll

    mean = torch.zeros(3, requires_grad=True)
    expert = torch.tensor([[0.5, -0.2, 0.1]])
    dist = lambda: torch.distributions.Normal(mean, 1.0)  # noqa: E731
    before = dist().log_prob(expert).sum()
    expert_nll(dist().log_prob(expert).sum(-1), weight=0.25).backward()
    with torch.no_grad():
        mean -= 0.1 * mean.grad
    assert dist().log_prob(expert).sum() > before


@pytest.mark.parametrize("clip", [0.99, 0.995])
def test_data_actions_are_scaled_then_clipped_inside_the_bounds(clip):
    from offsim_ray.policy.regulariser import normalise_actions

    actions = normalise_actions(np.array([[-2.0, 0.0, 2.0], [-1.0, 1.0, 0.5]]), [-2.0] * 3, [2.0] * 3, clip)
    np.testing.assert_allclose(actions, [[-clip, 0.0, clip], [-0.5, 0.5, 0.25]], rtol=1e-6)


def test_censored_likelihood_is_the_density_inside_and_the_tail_probability_on_the_clip():
    from offsim_ray.policy.actor_critic import SquashedGaussian
    from offsim_ray.policy.losses import censored_logp
    from offsim_ray.policy.regulariser import normalise_actions

    clip = 0.99
    actions = torch.as_tensor(normalise_actions(np.array([[0.2, 1.0, -1.0]]), [-1.0] * 3, [1.0] * 3, clip))
    loc, scale = torch.tensor([[0.3, 2.0, -1.0]], requires_grad=True), torch.tensor([[0.5, 0.7, 0.4]])
    normal, edge = torch.distributions.Normal(0.0, 1.0), np.arctanh(clip)
    interior = SquashedGaussian(loc=loc[:, :1], scale=scale[:, :1]).logp(actions[:, :1])
    tails = normal.cdf((loc[0, 1] - edge) / scale[0, 1]).log() + normal.cdf((-edge - loc[0, 2]) / scale[0, 2]).log()
    logp = censored_logp(loc, scale, actions, clip)
    assert logp.item() == pytest.approx((interior.sum() + tails).item(), rel=1e-5)
    logp.sum().backward()  # a saturated row pulls its mean outwards, past the clip, where the density pulls it back
    assert loc.grad[0, 1] > 0 and loc.grad[0, 2] < 0
    far = torch.tensor([[6.0, -6.0]])  # means far past the clip: the tails' probability is 1, the density's is ~0
    assert censored_logp(far, scale[:, 1:], actions[:, 1:], clip).item() > -1e-3
    assert SquashedGaussian(loc=far, scale=scale[:, 1:]).logp(actions[:, 1:]).item() < -30
    gaussian = censored_logp(loc.detach(), scale, actions, clip, squashed=False)  # PPO's diagonal Gaussian
    expected = (torch.distributions.Normal(0.3, 0.5).log_prob(actions[0, 0])
                + normal.cdf(torch.tensor([(2.0 - clip) / 0.7, (-clip + 1.0) / 0.4])).log().sum())
    assert gaussian.item() == pytest.approx(expected.item(), rel=1e-5)


def test_expert_mse_and_td_target():
    from offsim_ray.policy.losses import expert_mse, td_target

    actor = torch.tensor([[0.0, 0.0]], requires_grad=True)
    loss = expert_mse(actor, torch.tensor([[1.0, -1.0]]), weight=2.0)
    assert loss.item() == pytest.approx(2.0)  # mean over rows and action dimensions, as TD3+BC
    loss.backward()
    assert actor.grad.tolist() == [[-2.0, 2.0]]
    target = td_target(torch.tensor([1.0, 1.0]), torch.tensor([0.0, 1.0]), torch.tensor([10.0, 10.0]), 0.9)
    assert target.tolist() == [10.0, 1.0] and not target.requires_grad
    bounded = td_target(torch.tensor([1.0, 1.0]), torch.zeros(2), torch.tensor([400.0, -400.0]), 0.5, bound=100.0)
    assert bounded.tolist() == [51.0, -49.0]


def test_advantage_weights_favour_the_better_data_actions_whatever_the_reward_scale():
    from offsim_ray.policy.losses import advantage_weights, expert_mse

    q_data, q_policy = torch.tensor([1.0, 2.0, 3.0, 10.0]), torch.tensor([2.0, 2.0, 2.0, 2.0])
    w = advantage_weights(q_data, q_policy, beta=1.0)
    assert w.mean().item() == pytest.approx(1.0) and torch.all(w[1:] > w[:-1])
    torch.testing.assert_close(advantage_weights(100 * q_data, 100 * q_policy, beta=1.0), w)
    assert torch.allclose(advantage_weights(q_data, q_policy, beta=0.0), torch.ones(4))
    capped = advantage_weights(torch.tensor([0.0, 0.0, 9.0, 10.0]), torch.zeros(4), beta=50.0, cap=5.0)
    assert capped[2].item() == pytest.approx(capped[3].item()) and capped[2].item() == pytest.approx(2.0, rel=1e-3)
    held = advantage_weights(q_data, q_policy, beta=2.0, clip=0.5)  # z held to ±0.5: the weights span e^±1
    assert held.max() / held.min() == pytest.approx(math.e ** 2, rel=1e-5) and held[3] == held.max()
    assert torch.allclose(advantage_weights(q_data, q_policy, beta=2.0, clip=0.0),
                          advantage_weights(q_data, q_policy, beta=2.0))
    actor = torch.zeros(2, 1, requires_grad=True)  # a pair of weight 0 no longer pulls the actor
    expert_mse(actor, torch.tensor([[1.0], [-1.0]]), 1.0, rows=torch.tensor([2.0, 0.0])).backward()
    assert actor.grad[1].item() == 0.0 and actor.grad[0].item() < 0


def test_value_bound_is_the_largest_return_of_the_learned_rewards():
    from offsim_ray.envs.offsim_env import value_bound

    assert value_bound(0.99, 0.0) == pytest.approx(100.0)  # r_φ in (−1, 1) for ever
    assert value_bound(0.9, 1.0) == pytest.approx(20.0)  # r_φ + 1 in (0, 2)
    assert value_bound(1.0, 0.0) is None
    assert value_bound(0.99, 0.0, reward="task") is None  # the task's reward has no bound the env knows


def test_value_clamp_holds_the_baselines_td_targets_to_the_return_their_batch_rewards_allow():
    from offsim_ray.policy.baselines.offline import ActorCritic, Batch
    from offsim_ray.policy.config import preset
    from offsim_ray.policy.losses import batch_value_bound, value_range_of

    assert batch_value_bound(torch.tensor([0.5, -2.0, 1.0]), 0.9).item() == pytest.approx(20.0)
    assert [b.item() for b in value_range_of(torch.tensor([0.5, -2.0, 1.0]), 0.9)] == pytest.approx([-20.0, 10.0])
    assert [b.item() for b in value_range_of(torch.tensor([-0.5, -2.0]), 0.9)] == pytest.approx([-20.0, 0.0])
    rewards = torch.tensor([0.5, -1.0, 0.25, 0.0])
    batch = Batch(torch.zeros(4, 3), torch.zeros(4, 2), rewards, torch.zeros(4, 3), torch.zeros(4))

    losses = {}
    for label, clamp, bound in (("off", False, None), ("batch", True, None), ("given", True, (torch.tensor(-5.0), torch.tensor(2.0)))):
        config = preset("smoke", "clare").with_(regulariser=0.0, value_clamp=clamp)
        learner = ActorCritic(config, 3, -np.ones(2), np.ones(2))
        with torch.no_grad():  # a target critic that has run away: about 10⁴ everywhere
            list(learner.module.target_critic.parameters())[-1].fill_(1e4)
        losses[label] = learner.sac_update(batch, bound)["policy/critic_loss"].item()
    # targets near 0.99·10⁴ without the clamp; within ±(1 + 0.99)·100 with the batch's (|Q| ≈ 0 at the
    # start); near 0.99·2 with a (low, high) bound given, e.g. the range of every row's rewards (`clamp_bound: range`)
    assert losses["off"] > 0.9 * (0.99e4) ** 2
    assert (1.99 * 100) ** 2 + 1 > losses["batch"] > 0.9 * (0.99 * 100 - 1) ** 2 / 2
    assert 0.9 * (0.99 * 2 - 1) ** 2 / 2 < losses["given"] < (1 + 0.99 * 2) ** 2 + 1


def test_flat_replay_wraps_around_and_clips_actions():
    from offsim_ray.policy.replay import FlatReplay

    replay = FlatReplay(capacity=5, obs_dim=2, action_dim=1, seed=0)
    for start in (0, 3):
        n = 3
        obs = np.arange(start, start + n, dtype=np.float32)[:, None].repeat(2, 1)
        replay.add(obs, np.full((n, 1), 1.5), np.arange(start, start + n), obs + 1, np.zeros(n))
    assert replay.size == 5 and replay.added == 6
    assert sorted(replay.rewards.tolist()) == [1, 2, 3, 4, 5]  # reward 0 was overwritten
    assert np.all(replay.actions == 1.0)
    batch = replay.sample(64)
    assert batch["obs"].shape == (64, 2) and np.all(batch["new_obs"] == batch["obs"] + 1)


def _module(stochastic: bool, inference_only: bool = False, bf16: bool = False, critic_norm: bool = False):
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    from offsim_ray.policy.actor_critic import ActorCriticModule

    return RLModuleSpec(
        module_class=ActorCriticModule, observation_space=gym.spaces.Box(-np.inf, np.inf, (4,), np.float32),
        action_space=gym.spaces.Box(-1, 1, (2,), np.float32), inference_only=inference_only,
        model_config={"hiddens": [16, 16], "stochastic": stochastic, "critics": 2 if stochastic else 1,
                      "exploration_noise": 0.3, "initial_alpha": 0.01, "bf16": bf16, "critic_norm": critic_norm},
    ).build()


def test_ddpg_module_is_deterministic_with_gaussian_exploration_and_a_target_actor():
    from ray.rllib.core.columns import Columns

    module = _module(stochastic=False)
    obs = {Columns.OBS: torch.randn(8, 4)}
    mean = module.forward_inference(obs)[Columns.ACTION_DIST_INPUTS]
    assert mean.shape == (8, 2) and mean.abs().max() <= 1
    explore = module.forward_exploration(obs)[Columns.ACTION_DIST_INPUTS]
    dist = module.get_exploration_action_dist_cls().from_logits(explore)
    assert torch.allclose(dist._dist.stddev, torch.full((8, 2), 0.3))
    assert torch.allclose(dist._dist.mean, mean)
    assert module.critic.members == 1
    assert [type(t).__name__ for _, t in module.get_target_network_pairs()] == ["CriticEnsemble", "Sequential"]


def test_sac_module_has_twin_critics_and_an_inference_only_form():
    module, acting = _module(stochastic=True), _module(stochastic=True, inference_only=True)
    assert module.critic.members == 2 and hasattr(module, "log_alpha")
    assert not hasattr(acting, "critic")
    assert set(acting.state_dict()) == {k for k in module.state_dict() if k.startswith("actor.")}


def test_bf16_modules_keep_the_weights_and_answer_in_float32_near_the_float32_ones():
    fp32, bf16 = _module(stochastic=True), _module(stochastic=True, bf16=True)
    bf16.load_state_dict(fp32.state_dict())  # strict: the same keys either way
    obs, action = torch.randn(64, 4) * 3, torch.rand(64, 2) * 2 - 1
    for exact, low in ((fp32.actor(obs), bf16.actor(obs)), (fp32.critic(obs, action), bf16.critic(obs, action))):
        assert low.dtype == torch.float32 and not torch.equal(low, exact)
        assert torch.allclose(low, exact, atol=0.05, rtol=0.05)


def test_layer_normalised_critics_keep_the_weights_and_ignore_a_hidden_layers_scale():
    plain, normed = _module(stochastic=True), _module(stochastic=True, critic_norm=True)
    normed.load_state_dict(plain.state_dict())  # strict: the same keys either way
    obs, action = torch.randn(64, 4), torch.rand(64, 2) * 2 - 1
    before = plain.critic(obs, action), normed.critic(obs, action)
    with torch.no_grad():  # a first layer 10× larger: a ReLU net scales with it, a normalised one does not
        for module in (plain, normed):
            for weight in list(module.critic.layers[0].parameters()):
                weight.mul_(10)
    assert torch.allclose(normed.critic(obs, action), before[1], atol=1e-4)
    assert not torch.allclose(plain.critic(obs, action), before[0], atol=1e-2)


def test_the_temperature_steps_towards_its_entropy_target():
    from offsim_ray.policy.actor_critic import actor_objective

    torch.manual_seed(0)
    module, obs = _module(stochastic=True), torch.randn(4096, 4)
    below = above = 0
    for per_dimension in (-4.0, -1.0, 0.68):  # a fresh actor's entropy is about 0.6 per dimension
        module.log_alpha.grad = None
        _, alpha_loss, metrics = actor_objective(module, obs, module.actor(obs), True, entropy_target=per_dimension)
        alpha_loss.backward()
        entropy = -metrics["logp"].item()
        # gradient descent raises log α where the policy's entropy is below the target (2 action dimensions)
        assert (module.log_alpha.grad.item() < 0) == (entropy < 2 * per_dimension)
        below, above = below + (entropy < 2 * per_dimension), above + (entropy > 2 * per_dimension)
    assert below and above
    assert actor_objective(module, obs, module.actor(obs), False, entropy_target=-4.0)[1] == 0.0


@pytest.mark.parametrize("algo", ["sac", "ddpg", "ppo"])
def test_eq9_steps_move_each_rl_actor_towards_the_expert_actions(algo):
    from offsim_ray.policy.regulariser import expert_loss
    from offsim_ray.policy.rllib.ppo import module_spec

    torch.manual_seed(0)
    if algo == "ppo":
        module = module_spec({"hiddens": [16, 16], "module_entries": {"obs_mean": [1.0] * 4, "obs_std": [2.0] * 4}},
                             observation_space=gym.spaces.Box(-np.inf, np.inf, (4,), np.float32),
                             action_space=gym.spaces.Box(-1, 1, (2,), np.float32)).build()
    else:
        module = _module(stochastic=algo == "sac")
    obs, actions = torch.randn(64, 4), torch.rand(64, 2) * 1.6 - 0.8
    loss = lambda: expert_loss(module, obs, actions, "mse" if algo == "ddpg" else "censored", 1.0, 0.99)  # noqa: E731
    before = loss().item()
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-2)
    for _ in range(30):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    assert loss().item() < before - 0.05


def test_actor_q_reaches_the_action_but_not_the_critic():
    module = _module(stochastic=True)
    action = torch.zeros(8, 2, requires_grad=True)
    module.q_for_actor(torch.randn(8, 4), action).sum().backward()
    assert action.grad is not None and action.grad.abs().sum() > 0
    assert all(p.grad is None for p in module.critic.parameters())


def test_evaluation_matches_a_plain_rollout_of_the_same_policy():
    """Our batched loop against one env stepped by hand, same seeds, same fixed linear policy."""
    from offsim_ray.data.scores import ReferenceScores
    from offsim_ray.evaluation import evaluate

    weights = np.random.default_rng(0).normal(scale=0.3, size=(11, 3)).astype(np.float32)
    act = lambda obs: np.tanh(obs @ weights)  # noqa: E731
    result = evaluate(act, "Hopper-v5", 11, 3, ReferenceScores(0.0, 100.0, "test"), episodes=3, seed=7)
    for i in range(3):
        env = gym.make("Hopper-v5")
        obs, _ = env.reset(seed=7 + i)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(obs.astype(np.float32)))
            total += reward
            done = terminated or truncated
        assert result.returns[i] == pytest.approx(total, rel=1e-6)
    assert result.metrics()["eval/normalized_score"] == pytest.approx(np.mean(result.returns))


def test_evaluation_refuses_an_env_with_other_spaces():
    from offsim_ray.data.scores import ReferenceScores
    from offsim_ray.evaluation import evaluate

    with pytest.raises(OffSimError, match="Walker2d-v5 has observations"):
        evaluate(lambda obs: obs, "Walker2d-v5", 11, 3, ReferenceScores(0.0, 1.0, "test"), episodes=1)


@pytest.mark.parametrize("changes, fragment", [
    ({"algo": "td3"}, "algo is one of sac, ddpg, ppo, bc, clare, mlirl, iqlearn"),
    ({"regulariser": -1.0}, "regulariser=-1.0"),
    ({"variance": "medium"}, "variance='medium'"),
    ({"iq_value": "v1"}, "iq_value is value or v0"),
    ({"value_rows": "diverse"}, "value_rows is expert or all"),
    ({"precision": "fp16"}, "precision is fp32 or bf16"),
    ({"entropy_target": 1.0}, "entropy_target=1.0"),
    ({"action_clip": 1.0}, "action_clip=1.0"),
    ({"reward_horizon": -1}, "reward_horizon=-1"),
    ({"true_reward": 1.0}, "true_reward=1.0 (must be ≥ 0, and > 0 only with real rows (real_ratio > 0))"),
    ({"algo": "sac", "value_clamp": True}, "value_clamp=True (only for clare and mlirl)"),
    ({"algo": "bc", "compile": True}, "compile=True (only for sac, ddpg, ppo)"),
    ({"algo": "ppo", "advantage_weight": 1.0}, "advantage_weight=1.0 (must be ≥ 0, and > 0 only for sac, ddpg, clare, mlirl, iqlearn)"),
    ({"algo": "sac", "advantage_clip": 1.0}, "advantage_clip=1.0 (must be ≥ 0, and > 0 only with advantage_weight > 0)"),
    ({"algo": "ppo", "critic_norm": True}, "critic_norm=True (only for sac, ddpg, clare, mlirl, iqlearn)"),
    ({"reward": "true"}, "reward='true' (reward is learned or task; task only for sac, ddpg, ppo, clare, mlirl)"),
    ({"algo": "bc", "reward": "task"}, "reward='task' (reward is learned or task; task only for sac, ddpg, ppo, clare, mlirl)"),
])
def test_policy_config_rejects_bad_values(changes, fragment):
    from offsim_ray.policy import PolicyConfig

    with pytest.raises(OffSimError, match="invalid policy config") as error:
        PolicyConfig(**changes)
    assert fragment in str(error.value)


def test_presets_differ_only_in_budgets_and_sizes():
    from offsim_ray.policy import PRESETS

    smoke, quick, paper = (PRESETS[name].to_dict() for name in ("smoke", "quick", "paper"))
    budget = {"hidden", "iterations", "updates_per_iteration", "num_envs", "learning_starts", "ppo_rollout",
              "ppo_epochs", "eval_episodes", "checkpoint_every"}
    for other in (smoke, paper):
        assert {k for k in quick if quick[k] != other[k]} <= budget


def test_learned_env_learners_clamp_targets_at_the_rewards_bound_and_real_env_ones_do_not(fitted):
    from offsim_ray.policy.config import PolicyConfig
    from offsim_ray.policy.rllib.algorithm import learner_settings

    config = PolicyConfig(gamma=0.95, reward_shift=1.0)
    assert learner_settings(config, fitted[2])["value_bound"] == pytest.approx(40.0)
    assert learner_settings(config.with_(reward="task"), fitted[2])["value_bound"] is None
    assert learner_settings(config, None, "Hopper-v5")["value_bound"] is None  # real rewards have no known bound


def _rows_of_episodes(episodes, replay) -> None:
    """RLlib episode chunks into `replay`, one row per step, in the order `sample()` returned them."""
    for episode in episodes:
        if len(episode):
            obs = np.asarray(episode.get_observations(), np.float32)
            terminated = np.zeros(len(episode), np.float32)
            terminated[-1] = float(episode.is_terminated)
            replay.add(obs[:-1], np.asarray(episode.get_actions()), np.asarray(episode.get_rewards()), obs[1:],
                       terminated)


def test_the_flat_env_runner_writes_the_steps_rllibs_sampler_returns(local_ray, fitted):
    from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

    from offsim_ray.data.task_reward import task_reward_fn
    from offsim_ray.policy.config import PRESETS
    from offsim_ray.policy.replay import FlatReplay
    from offsim_ray.policy.rllib.algorithm import build_algorithm

    # from the random rows' states too, so that some episodes terminate; the task's reward reaches the env
    config = PRESETS["smoke"].with_(termination=True, num_envs=8, start_states="all", reward="task")
    algo = build_algorithm(config, fitted[2])
    flat = algo.env_runner
    stock = SingleAgentEnvRunner(config=algo.config)
    stock.module.set_state(flat.module.get_state())
    replays = []
    for sample in (lambda replay, random: _rows_of_episodes(stock.sample(random_actions=random), replay),
                   lambda replay, random: flat.sample_into(replay, random)):
        replay = FlatReplay(10_000, fitted[0].data.obs_dim, fitted[0].data.action_dim, seed=0)
        torch.manual_seed(0)
        for call in range(40):  # random warm-up actions, then the policy's
            sample(replay, call < 10)
        replays.append(replay)
    rllib, ours = replays
    assert ours.added == rllib.added > 40 * 8
    assert ours.terminateds[:ours.size].any() and not ours.terminateds[:ours.size].all()
    for column in ("obs", "actions", "rewards", "next_obs", "terminateds"):
        np.testing.assert_array_equal(getattr(ours, column)[:ours.size], getattr(rllib, column)[:rllib.size])
    rows = slice(0, ours.size)
    np.testing.assert_allclose(ours.rewards[rows], task_reward_fn("Hopper-v5")(
        ours.obs[rows], ours.actions[rows], ours.next_obs[rows]), rtol=1e-5, atol=1e-5)
    returns = [runner.get_metrics()["episode_return_mean"].peek() for runner in (flat, stock)]
    assert returns[0] == pytest.approx(returns[1])
    stock.stop()
    algo.stop()
