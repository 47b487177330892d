"""The (s, a) pairs of eq. (9) (and of BC), held by the learner as tensors, actions scaled to [-1, 1], and the
loss that pulls the actor towards them."""

from __future__ import annotations

import numpy as np
import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.distribution.torch.torch_distribution import TorchSquashedGaussian

from offsim_ray.action_box import from_box
from offsim_ray.data.transitions import EXPERT, Transitions
from offsim_ray.policy import losses
from offsim_ray.simulator.simulator import Simulator

def normalise_actions(action: np.ndarray, low, high, clip: float) -> np.ndarray:
    """`action` scaled to [-1, 1] and clipped to ±`clip`: atanh of the squashed Gaussian is finite only inside
    (-1, 1), and expert actions often sit on the bounds."""
    low, high = np.asarray(low, np.float32), np.asarray(high, np.float32)
    return np.clip(from_box(action, low, high), -clip, clip).astype(np.float32)


def expert_loss(module, obs: torch.Tensor, actions: torch.Tensor, kind: str, weight: float,
                clip: float, advantage: float = 0.0, advantage_clip: float = 0.0) -> torch.Tensor:
    """λ·(−log π(a|s)) (`kind` "nll"; "censored": actions at ±`clip` read as censored, `losses.censored_logp`)
    or λ·‖μ(s) − a‖² in action space ("mse", μ the deterministic action: tanh of the squashed Gaussian's
    mean), with gradients; a deterministic actor has no likelihood: mse. `advantage` β > 0 weighs each pair
    by `losses.advantage_weights` from the module's critics, z held to ±`advantage_clip` where > 0 (PolicyConfig
    allows β > 0 only where there are critics)."""
    # the train pass: RLlib's default inference pass runs without gradients (PPO's module)
    inputs = module._forward_train({Columns.OBS: obs})[Columns.ACTION_DIST_INPUTS]
    dist = module.get_train_action_dist_cls().from_logits(inputs)
    rows = None
    if advantage > 0:
        with torch.no_grad():
            policy_actions = dist.to_deterministic().loc
            q = module.critic(torch.cat([obs, obs]), torch.cat([actions, policy_actions])).min(0).values
        rows = losses.advantage_weights(*q.chunk(2), advantage, clip=advantage_clip)
    if kind != "mse" and getattr(module, "stochastic", True):
        logp = (dist.logp(actions) if kind == "nll"
                else losses.censored_logp(dist.loc, dist._dist.scale, actions, clip,
                                          squashed=isinstance(dist, TorchSquashedGaussian)))
        return losses.expert_nll(logp, weight, rows)
    return losses.expert_mse(dist.to_deterministic().loc, actions, weight, rows)


class StateActionPairs:
    """The rows of `data`, sampled uniformly with replacement."""

    def __init__(self, data: Transitions, low, high, clip: float, device: str, seed: int):
        self.obs = torch.as_tensor(np.array(data.obs), device=device)
        self.actions = torch.as_tensor(normalise_actions(data.action, low, high, clip), device=device)
        self.generator = torch.Generator(device=device).manual_seed(seed)

    def __len__(self) -> int:
        return len(self.obs)

    def sample(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.randint(0, len(self.obs), (n,), generator=self.generator, device=self.obs.device)
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
            self.expert = StateActionPairs(simulator.data.of_source(EXPERT), simulator.action_low,
                                           simulator.action_high, settings["action_clip"], str(self._device),
                                           settings["seed"])
        self.regulariser = settings["regulariser"]
        self.expert_loss = settings["expert_loss"]
        self.action_clip = settings["action_clip"]
        self.advantage = settings["advantage_weight"]
        self.advantage_clip = settings["advantage_clip"]
        self.expert_batch_size = settings["batch_size"]

    def expert_penalty(self, module) -> torch.Tensor:
        """Eq. (9) on a batch of expert pairs (see `expert_loss`)."""
        if self.expert is None:
            return torch.zeros((), device=self._device)
        obs, actions = self.expert.sample(self.expert_batch_size)
        return expert_loss(module, obs, actions, self.expert_loss, self.regulariser, self.action_clip,
                           self.advantage, self.advantage_clip)
