"""Plain-torch updates of the SAC actor-critic on batches a trainer builds, with no env runner: how the
offline IRL baselines (CLARE, ML-IRL, IQ-Learn) learn their policies. The loss terms are the RLlib
learner's own (actor_critic.py), so every method trains the same Gaussian policy the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from offsim_ray.data.transitions import EXPERT, Transitions
from offsim_ray.policy.actor_critic import actor_objective, build_module, soft_update, td_critic_loss
from offsim_ray.policy.config import PolicyConfig
from offsim_ray.policy.losses import batch_value_bound
from offsim_ray.policy.progress import GeneratorState
from offsim_ray.policy.regulariser import StateActionPairs, expert_loss, normalise_actions


@dataclass(frozen=True)
class Batch:
    """(s, a, r, s', terminated) rows as tensors; actions in [-1, 1]."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor

    @staticmethod
    def concat(parts: list[Batch]) -> Batch:
        return Batch(*(torch.cat([getattr(p, name) for p in parts]) for name in
                       ("obs", "actions", "rewards", "next_obs", "terminated")))


class DataRows:
    """A trial's transitions as tensors on the learner's device, actions scaled to [-1, 1]."""

    def __init__(self, data: Transitions, low, high, clip: float, device: str):
        def t(x, dtype=torch.float32):
            return torch.as_tensor(np.array(x), dtype=dtype, device=device)

        self.obs, self.next_obs = t(data.obs), t(data.next_obs)
        self.rewards = t(data.reward)
        self.actions = t(normalise_actions(data.action, low, high, clip))
        self.terminated = t(data.terminated)
        self.expert = t(data.source == EXPERT, torch.bool)
        self.expert_rows = torch.nonzero(self.expert).squeeze(-1)

    def __len__(self) -> int:
        return len(self.obs)

    def sample(self, n: int, generator: torch.Generator, expert_only: bool = False) -> torch.Tensor:
        """Row indices drawn uniformly (with replacement) from all rows or the expert rows."""
        if expert_only:
            return self.expert_rows[self.sample_of(len(self.expert_rows), n, generator)]
        return self.sample_of(len(self), n, generator)

    def sample_of(self, count: int, n: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randint(0, count, (n,), generator=generator, device=self.obs.device)

    def batch(self, index: torch.Tensor, rewards: torch.Tensor) -> Batch:
        return Batch(self.obs[index], self.actions[index], rewards, self.next_obs[index], self.terminated[index])


class ActorCritic:
    """The SAC module with one Adam over actor, critics and temperature (their own learning rates), and
    the eq. (9) term of the learner when `config.regulariser` > 0; observations standardised with the
    statistics of `data` (none: a real env, raw observations)."""

    def __init__(self, config: PolicyConfig, obs_dim: int, low, high, critics: int = 2,
                 data: Transitions | None = None):
        self.config = config
        self.module = build_module(config, obs_dim, low, high, critics,
                                   obs=None if data is None else data.obs).to(config.device)
        groups = [{"params": list(self.module.actor.parameters()), "lr": config.actor_lr},
                  {"params": list(self.module.critic.parameters()), "lr": config.critic_lr}]
        if config.learn_alpha:
            groups.append({"params": [self.module.log_alpha], "lr": config.actor_lr})
        self.optimiser = torch.optim.Adam(groups, fused=True)
        self.expert = None
        if config.regulariser > 0:  # the expert pairs of `data`
            self.expert = StateActionPairs(data.of_source(EXPERT), low, high, config.action_clip, config.device,
                                           config.seed)

    def state_dict(self) -> dict:
        """The module, the optimiser and the expert pairs' sampling state (a checkpoint's part)."""
        state = {"module": self.module.state_dict(), "optimiser": self.optimiser.state_dict()}
        if self.expert is not None:
            state["expert_pairs"] = GeneratorState(self.expert.generator).state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["module"])
        self.optimiser.load_state_dict(state["optimiser"])
        if self.expert is not None:
            GeneratorState(self.expert.generator).load_state_dict(state["expert_pairs"])

    def update(self, critic_loss: torch.Tensor, actor_obs: torch.Tensor) -> dict[str, torch.Tensor]:
        """One gradient step of `critic_loss` plus the SAC actor and temperature losses on `actor_obs`,
        then the Polyak step of the target critics; metrics stay tensors (no host sync per step)."""
        module = self.module
        actor_loss, alpha_loss, metrics = actor_objective(module, actor_obs, module.actor(actor_obs),
                                                          self.config.learn_alpha, self.config.q_weight,
                                                          self.config.entropy_target)
        penalty = torch.zeros((), device=actor_obs.device)
        if self.expert is not None:
            obs, actions = self.expert.sample(self.config.batch_size)
            penalty = expert_loss(module, obs, actions, self.config.expert_loss, self.config.regulariser,
                                  self.config.action_clip, self.config.advantage_weight,
                                  self.config.advantage_clip)
        self.optimiser.zero_grad()
        (critic_loss + actor_loss + alpha_loss + penalty).backward()
        self.optimiser.step()
        soft_update(module, self.config.tau)
        return {"policy/critic_loss": critic_loss.detach(), "policy/actor_loss": actor_loss.detach(),
                "policy/expert_penalty": penalty.detach(), "policy/alpha": metrics["alpha"]}

    def step(self, critic_loss: torch.Tensor, actor_obs: torch.Tensor) -> dict[str, float]:
        return floats(self.update(critic_loss, actor_obs))

    def sac_update(self, batch: Batch, bound: tuple | None = None) -> dict[str, torch.Tensor]:
        """SAC on `batch`: the TD loss of the twin critics (with `value_clamp`, next values within the (low,
        high) `bound`, or by default ± the return the batch's rewards allow), the actor on the batch's states."""
        if self.config.value_clamp and bound is None:
            bound = batch_value_bound(batch.rewards, self.config.gamma)
        critic_loss, q = td_critic_loss(self.module, batch.obs, batch.actions, batch.rewards, batch.next_obs,
                                        batch.terminated, self.config.gamma, bound)
        return {**self.update(critic_loss, batch.obs), "policy/q_mean": q.detach().mean()}

    def sac_step(self, batch: Batch, bound: tuple | None = None) -> dict[str, float]:
        return floats(self.sac_update(batch, bound))


def floats(metrics: dict[str, torch.Tensor]) -> dict[str, float]:
    return {key: float(value) for key, value in metrics.items()}
