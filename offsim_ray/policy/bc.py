"""Behaviour cloning: the SAC actor (same module, same squashed-Gaussian head, same standardised
observations) fit to all the (s, a) rows of the data, as the paper's BC on a mix, by the loss eq. (9) uses
(`expert_loss`), evaluated like every other policy."""

from __future__ import annotations

import sys

import torch
from ray.rllib.core.rl_module.rl_module import RLModule

from offsim_ray.data.transitions import Transitions
from offsim_ray.policy.actor_critic import build_module
from offsim_ray.policy.config import PolicyConfig
from offsim_ray.policy.expert import StateActionPairs, expert_loss


def train_bc(data: Transitions, config: PolicyConfig, low, high, progress: bool = True) -> tuple[RLModule, list[dict]]:
    """iterations × updates_per_iteration Adam steps of −log π(a|s) or ‖μ(s) − a‖² on batches of rows."""
    torch.manual_seed(config.seed)
    module = build_module(config, data.obs_dim, low, high, inference_only=True, obs=data.obs).to(config.device)
    pairs = StateActionPairs(data, low, high, config.device, config.seed)
    optimizer = torch.optim.Adam(module.actor.parameters(), config.actor_lr)
    history = []
    for iteration in range(1, config.iterations + 1):
        for _ in range(config.updates_per_iteration):
            obs, actions = pairs.sample(config.batch_size)
            loss = expert_loss(module, obs, actions, config.expert_loss, 1.0)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        row = {"iteration": iteration, f"policy/bc_{config.expert_loss}": loss.item()}
        history.append(row)
        if progress:
            print(f"bc {iteration}/{config.iterations}  {config.expert_loss} {loss.item():.4f}", file=sys.stderr)
    return module.eval(), history
