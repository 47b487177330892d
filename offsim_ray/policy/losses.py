"""Policy-stage loss terms as pure functions of tensors (the plumbing lives in the learners).

Actions are in RLlib's normalised space [-1, 1].
"""

from __future__ import annotations

import math

import torch


def expert_nll(expert_logp: torch.Tensor, weight: float, rows: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. (9): KL(π_E‖π) = −E_{(s,a)∼D_E} log π(a|s) + const, weighted by λ; `rows` weigh each pair (mean 1)."""
    return -weight * (expert_logp if rows is None else rows * expert_logp).mean()


def censored_logp(loc: torch.Tensor, scale: torch.Tensor, actions: torch.Tensor, bound: float,
                  squashed: bool = True) -> torch.Tensor:
    """log π(a|s) of tanh(u) (`squashed`; else u itself), u ~ N(loc, scale²), where a component at ±`bound`
    stands for every action at or beyond it (the data's actions were clipped to the box, then to ±bound): its
    term is the probability log Φ((±loc − edge) / scale), edge = atanh(bound), which saturates once loc is past
    the edge, where the density's log would keep pulling loc to the edge and scale to 0; summed over action
    dimensions."""
    clipped = actions.clamp(-bound, bound)
    inside = actions.abs() < bound * (1.0 - 1e-6)
    edge, unsquashed = (math.atanh(bound), torch.atanh(clipped)) if squashed else (bound, clipped)
    density = torch.distributions.Normal(loc, scale).log_prob(unsquashed)
    if squashed:
        density = density - torch.log1p(-clipped.pow(2))
    tail = torch.special.log_ndtr((torch.sign(actions) * loc - edge) / scale)
    return torch.where(inside, density, tail).sum(-1)


def expert_mse(actor_actions: torch.Tensor, expert_actions: torch.Tensor, weight: float,
               rows: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. (9) in action space: λ·‖μ(s_E) − a_E‖², the mean over rows and action dimensions (TD3+BC's
    term); μ is the actor's deterministic action (SAC: tanh of the Gaussian's mean); `rows` as `expert_nll`."""
    error = (actor_actions - expert_actions).pow(2)
    return weight * (error.mean() if rows is None else (rows * error.mean(-1)).mean())


def advantage_weights(q_data: torch.Tensor, q_policy: torch.Tensor, beta: float, cap: float = 100.0,
                      clip: float = 0.0) -> torch.Tensor:
    """exp(β·z), z the advantage A = Q(s, a_E) − Q(s, μ(s)) standardised over the batch (and held to ±`clip`
    where `clip` > 0), capped at `cap` and scaled to mean 1 (no gradient): eq. (9) imitates the data's better
    actions more (AWR's weights, made free of the reward's scale)."""
    a = (q_data - q_policy).detach()
    z = (a - a.mean()) / a.std().clamp_min(1e-6)
    if clip > 0:
        z = z.clamp(-clip, clip)
    w = torch.exp((beta * z).clamp(max=math.log(cap)))
    return w / w.mean()


def q_scale(q: torch.Tensor, weight: float) -> torch.Tensor | float:
    """TD3+BC's λ = κ / mean|Q| (no gradient), which keeps the actor's Q term and eq. (9) in balance
    whatever the scale of the reward; κ = 0 leaves the Q term unscaled."""
    return weight / q.detach().abs().mean().clamp_min(1e-6) if weight > 0 else 1.0


def td_target(rewards: torch.Tensor, terminateds: torch.Tensor, next_q: torch.Tensor, gamma: float,
              bound: float | torch.Tensor | tuple | None = None) -> torch.Tensor:
    """r + γ(1 − d)·Q'(s', μ'(s')), no gradient; Q' clamped to ±`bound` (or to a (low, high) pair), the
    returns the rewards allow, so that a critic extrapolating on states the model drifts to cannot feed on
    its own overestimates."""
    if bound is not None:
        low, high = bound if isinstance(bound, tuple) else (-bound, bound)
        next_q = next_q.clamp(low, high)
    return (rewards + gamma * (1.0 - terminateds) * next_q).detach()


def batch_value_bound(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """max|r| / (1 − γ) over `rewards`: the largest return rewards of that size allow, a TD clamp for a reward
    with no bound of its own."""
    return rewards.detach().abs().max() / max(1.0 - gamma, 1e-12)


def value_range_of(rewards: torch.Tensor, gamma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """[min(r, 0), max(r, 0)] / (1 − γ) over `rewards`: the lowest and highest returns they allow, ended by a
    termination or not."""
    rewards = rewards.detach()
    return tuple(r / max(1.0 - gamma, 1e-12) for r in (rewards.min().clamp_max(0.0), rewards.max().clamp_min(0.0)))


def critic_loss(q: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return 0.5 * (q - target).pow(2).mean()


def deterministic_actor_loss(q_of_actor: torch.Tensor) -> torch.Tensor:
    """DDPG: maximise Q(s, μ(s)) (gradients reach μ only)."""
    return -q_of_actor.mean()


