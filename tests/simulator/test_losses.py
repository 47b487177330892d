"""Signs of the OffSim losses: each player's step moves the game the way eqs. (2), (3) and (8) say."""

from __future__ import annotations

import pytest
import torch

from offsim_ray.simulator import preset
from offsim_ray.simulator.fit import Batch
from offsim_ray.simulator.losses import margin_hinge, reward_loss, transition_loss
from offsim_ray.simulator.simulator import build_networks


def _players(data):
    torch.manual_seed(0)
    config = preset("smoke")
    stats = data.normalization()
    transition, reward = build_networks(data.obs_dim, data.action_dim, stats, config)
    return transition, reward, Batch.of(data, "cpu")


def _model_next(transition, batch, seed=0):
    g = torch.Generator().manual_seed(seed)
    member = torch.randint(transition.members, (len(batch.obs),), generator=g)
    noise = torch.randn(batch.obs.shape, generator=g)
    return transition.sample(batch.obs, batch.action, noise, member)


def test_reward_step_raises_the_data_model_gap(hopper_pair):
    transition, reward, batch = _players(hopper_pair[0].subsample(512, 0))
    with torch.no_grad():
        next_model, _ = _model_next(transition, batch)

    def gap():
        with torch.no_grad():
            return (reward(batch.obs, batch.next_obs).mean() - reward(batch.obs, next_model).mean()).item()

    before = gap()
    opt = torch.optim.Adam(reward.parameters(), lr=1e-3)
    for _ in range(5):
        loss = reward_loss(reward(batch.obs, next_model), reward(batch.obs, batch.next_obs))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert gap() > before + 0.01


def test_transition_step_raises_the_model_reward(hopper_pair):
    transition, reward, batch = _players(hopper_pair[0].subsample(512, 0))
    reward.requires_grad_(False)

    def model_reward():
        with torch.no_grad():
            return reward(batch.obs, _model_next(transition, batch)[0]).mean().item()

    before = model_reward()
    opt = torch.optim.Adam(transition.parameters(), lr=1e-3)
    for _ in range(5):
        next_model, logstd = _model_next(transition, batch)
        loss = transition_loss(reward(batch.obs, next_model), transition.entropy(logstd),
                               torch.zeros(()), alpha=0.0, nll_weight=0.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert model_reward() > before


def test_entropy_term_raises_the_model_entropy(hopper_pair):
    transition, reward, batch = _players(hopper_pair[0].subsample(256, 0))
    opt = torch.optim.Adam(transition.parameters(), lr=1e-3)
    before = transition.entropy(_model_next(transition, batch)[1]).item()
    for _ in range(3):
        next_model, logstd = _model_next(transition, batch)
        loss = transition_loss(torch.zeros(1), transition.entropy(logstd), torch.zeros(()), alpha=1.0, nll_weight=0.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert transition.entropy(_model_next(transition, batch)[1]).item() > before


def test_hinge_is_zero_once_the_margin_holds_and_pushes_otherwise():
    r_expert = torch.tensor([0.8, 0.6], requires_grad=True)
    r_diverse = torch.tensor([0.1, 0.1], requires_grad=True)
    assert margin_hinge(r_expert, r_diverse, margin=0.5, beta=2.0).item() == 0.0
    violated = margin_hinge(r_expert, r_diverse, margin=0.7, beta=2.0)
    assert violated.item() == pytest.approx(2.0 * (0.1 + 0.7 - 0.7), abs=1e-6)
    violated.backward()
    assert (r_expert.grad < 0).all() and (r_diverse.grad > 0).all()  # descent raises E_E[r], lowers E_D[r]


def test_psi_regulariser_penalises_large_rewards():
    small = reward_loss(torch.tensor([0.1]), torch.tensor([0.1]))
    large = reward_loss(torch.tensor([0.9]), torch.tensor([0.9]))
    assert large > small and small.item() == pytest.approx(0.5 * 0.01, abs=1e-6)
