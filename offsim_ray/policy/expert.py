"""The expert (s, a) pairs of eq. (9), held by the learner as tensors, actions scaled to [-1, 1]."""

from __future__ import annotations

import numpy as np
import torch
from ray.rllib.core.columns import Columns

from offsim_ray.data.transitions import EXPERT, Transitions
from offsim_ray.policy import losses
from offsim_ray.simulator.simulator import Simulator

# atanh of the squashed Gaussian is finite only inside (-1, 1); expert actions often sit on the bounds.
ACTION_LIMIT = 0.999


def normalise_actions(action: np.ndarray, low, high) -> np.ndarray:
    low, high = np.asarray(low, np.float32), np.asarray(high, np.float32)
    return np.clip(2.0 * (action - low) / (high - low) - 1.0, -ACTION_LIMIT, ACTION_LIMIT).astype(np.float32)


def log_likelihood(module, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """log π(a|s) of a stochastic RLModule, with gradients (actions in [-1, 1])."""
    inputs = module._forward_inference({Columns.OBS: obs})[Columns.ACTION_DIST_INPUTS]
    return module.get_train_action_dist_cls().from_logits(inputs).logp(actions)


class ExpertPairs:
    def __init__(self, data: Transitions, low, high, device: str, seed: int):
        expert = data.of_source(EXPERT)
        self.obs = torch.as_tensor(np.array(expert.obs), device=device)
        self.actions = torch.as_tensor(normalise_actions(expert.action, low, high), device=device)
        self._generator = torch.Generator(device=device).manual_seed(seed)

    def __len__(self) -> int:
        return len(self.obs)

    def sample(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.randint(0, len(self.obs), (n,), generator=self._generator, device=self.obs.device)
        return self.obs[index], self.actions[index]


class ExpertRegularised:
    """Learner mixin: the expert pairs of the simulator's data, for eq. (9); none in a real env
    (no artifact), where the penalty is zero."""

    def build(self) -> None:
        super().build()
        settings = self.config.learner_config_dict
        self.expert = None
        if settings["artifact"] is not None:
            simulator = Simulator.load(settings["artifact"])
            self.expert = ExpertPairs(simulator.data, simulator.action_low, simulator.action_high,
                                      str(self._device), settings["seed"])
        self.regulariser = settings["regulariser"]
        self.expert_batch_size = settings["batch_size"]

    def expert_penalty(self, module) -> torch.Tensor:
        """λ·(−log π(a_E|s_E)) on a batch of expert pairs (λ·‖μ(s_E) − a_E‖² for a deterministic actor)."""
        if self.expert is None:
            return torch.zeros((), device=self._device)
        obs, actions = self.expert.sample(self.expert_batch_size)
        if getattr(module, "stochastic", True):
            return losses.expert_nll(log_likelihood(module, obs, actions), self.regulariser)
        return losses.expert_mse(torch.tanh(module.actor(obs)), actions, self.regulariser)
