"""Behaviour cloning: the SAC actor (same module, same squashed-Gaussian head, same standardised
observations) fit to all the (s, a) rows of the data, as the paper's BC on a mix, by the loss eq. (9) uses
(`expert_loss`), evaluated like every other policy."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from offsim_ray.policy.actor_critic import build_module
from offsim_ray.policy.regulariser import StateActionPairs, expert_loss
from offsim_ray.policy.trainers import TrainingContext
from offsim_ray.policy.progress import GeneratorState, Iterations

if TYPE_CHECKING:
    from ray.rllib.core.rl_module.rl_module import RLModule


def train_bc(context: TrainingContext) -> tuple[RLModule, dict]:
    """iterations × updates_per_iteration Adam steps of −log π(a|s) or ‖μ(s) − a‖² on batches of rows."""
    config, data = context.config, context.data
    torch.manual_seed(config.seed)
    module = build_module(config, data.obs_dim, context.low, context.high, inference_only=True,
                          obs=data.obs).to(config.device)
    pairs = StateActionPairs(data, context.low, context.high, config.action_clip, config.device, config.seed)
    optimizer = torch.optim.Adam(module.actor.parameters(), config.actor_lr)
    with Iterations(context, "bc", {"module": module, "optimiser": optimizer, "pairs": GeneratorState(pairs.generator)}) as run:
        for iteration in run:
            for _ in range(config.updates_per_iteration):
                obs, actions = pairs.sample(config.batch_size)
                loss = expert_loss(module, obs, actions, config.expert_loss, 1.0, config.action_clip)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            run.write(iteration, {f"policy/bc_{config.expert_loss}": loss.item()})
    return module.eval(), run.last
