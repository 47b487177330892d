"""Behaviour cloning: the SAC actor (same module, same squashed-Gaussian head) fit by maximum
likelihood to the expert (s, a) pairs, evaluated like every other policy."""

from __future__ import annotations

import sys

import torch
from ray.rllib.core.rl_module.rl_module import RLModule

from offsim_ray.data.transitions import Transitions
from offsim_ray.policy.actor_critic import build_module
from offsim_ray.policy.config import PolicyConfig
from offsim_ray.policy.expert import ExpertPairs, log_likelihood
from offsim_ray.policy.losses import behaviour_cloning_loss


def train_bc(data: Transitions, config: PolicyConfig, low, high, progress: bool = True) -> tuple[RLModule, list[dict]]:
    """iterations × updates_per_iteration Adam steps of −log π(a_E|s_E) on batches of expert pairs."""
    torch.manual_seed(config.seed)
    module = build_module(config, data.obs_dim, low, high, inference_only=True).to(config.device)
    pairs = ExpertPairs(data, low, high, config.device, config.seed)
    optimizer = torch.optim.Adam(module.actor.parameters(), config.actor_lr)
    history = []
    for iteration in range(1, config.iterations + 1):
        for _ in range(config.updates_per_iteration):
            obs, actions = pairs.sample(config.batch_size)
            loss = behaviour_cloning_loss(log_likelihood(module, obs, actions))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        row = {"iteration": iteration, "policy/bc_nll": loss.item()}
        history.append(row)
        if progress:
            print(f"bc {iteration}/{config.iterations}  nll {row['policy/bc_nll']:.4f}", file=sys.stderr)
    return module.eval(), history
