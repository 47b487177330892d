"""Policy-stage loss terms as pure functions of tensors (the plumbing lives in the learners).

Actions are in RLlib's normalised space [-1, 1].
"""

from __future__ import annotations

import torch


def expert_nll(expert_logp: torch.Tensor, weight: float) -> torch.Tensor:
    """Eq. (9): KL(π_E‖π) = −E_{(s,a)∼D_E} log π(a|s) + const, weighted by λ."""
    return -weight * expert_logp.mean()


def expert_mse(actor_actions: torch.Tensor, expert_actions: torch.Tensor, weight: float) -> torch.Tensor:
    """Eq. (9) for a deterministic actor, which has no log-likelihood: λ·E‖μ(s_E) − a_E‖²."""
    return weight * (actor_actions - expert_actions).pow(2).sum(-1).mean()


def td_target(rewards: torch.Tensor, terminateds: torch.Tensor, next_q: torch.Tensor, gamma: float) -> torch.Tensor:
    """r + γ(1 − d)·Q'(s', μ'(s')), no gradient."""
    return (rewards + gamma * (1.0 - terminateds) * next_q).detach()


def critic_loss(q: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return 0.5 * (q - target).pow(2).mean()


def deterministic_actor_loss(q_of_actor: torch.Tensor) -> torch.Tensor:
    """DDPG: maximise Q(s, μ(s)) (gradients reach μ only)."""
    return -q_of_actor.mean()


def behaviour_cloning_loss(expert_logp: torch.Tensor) -> torch.Tensor:
    return -expert_logp.mean()
