"""The actor-critic RLModule and Learner that SAC and DDPG share.

One module: an actor MLP (SAC: squashed-Gaussian parameters; DDPG: a deterministic tanh action) and E
critics evaluated as one batched ensemble (SAC: twin critics, E = 2; DDPG: E = 1), each with a target
copy (DDPG also a target actor). One learner: every loss from one forward pass and one backward pass,
the actor's Q computed through detached critic weights so its gradient reaches the actor only.
"""

from __future__ import annotations

import copy
import math

import gymnasium as gym
import numpy as np
import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.learner.torch.torch_learner import TorchLearner
from ray.rllib.core.rl_module.apis import InferenceOnlyAPI, TargetNetworkAPI
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.core.rl_module.torch.torch_rl_module import TorchRLModule
from ray.rllib.core.distribution.torch.torch_distribution import (
    TorchDeterministic,
    TorchDiagGaussian,
    TorchSquashedGaussian,
)
from ray.rllib.utils.metrics import ALL_MODULES
from torch import nn
from torch.func import functional_call

from offsim_ray.policy import losses
from offsim_ray.policy.regulariser import ExpertRegularised
from offsim_ray.nets import EnsembleLinear, Sequential, bf16_matmuls, mlp


class SquashedGaussian(TorchSquashedGaussian):
    """RLlib's squashed Gaussian, whose deterministic action is tanh(mean) (RLlib's is the raw mean)."""

    def to_deterministic(self) -> TorchDeterministic:
        return TorchDeterministic(loc=self._squash(self.loc))


class DeterministicAction(TorchDeterministic):
    """μ(s) itself: the action-distribution inputs of a deterministic actor are the action."""

    @classmethod
    def from_logits(cls, logits: torch.Tensor, **kwargs) -> DeterministicAction:
        return cls(loc=logits)


class Standardise(nn.Module):
    """(s − mean) / std with fixed statistics of the training data (TD3+BC's state normalisation); buffers,
    so a saved module carries them and acts on raw observations wherever it runs."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))

    @classmethod
    def from_config(cls, model_config: dict, dim: int) -> Standardise:
        """From a module's model_config entries obs_mean / obs_std (none: the identity, raw observations)."""
        return cls(model_config.get("obs_mean") or [0.0] * dim, model_config.get("obs_std") or [1.0] * dim)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return (obs - self.mean) / self.std


def observation_stats(obs: np.ndarray) -> dict[str, list[float]]:
    """The model-config entries of `Standardise`: the mean and std (+ 1e-3, as TD3+BC) of `obs`."""
    obs = np.asarray(obs, np.float64)
    return {"obs_mean": obs.mean(0).tolist(), "obs_std": (obs.std(0) + 1e-3).tolist()}


def config_entries(config, obs: np.ndarray | None) -> dict:
    """The model-config entries a PolicyConfig sets on every actor-critic module: the standardisation
    statistics of `obs` (none: `obs` None or `normalise_obs` off, raw observations), the matmul precision and
    the critics' layer normalisation."""
    stats = observation_stats(obs) if config.normalise_obs and obs is not None else {}
    return {**stats, "bf16": config.precision == "bf16", "critic_norm": config.critic_norm}


class CriticEnsemble(nn.Module):
    """E independent Q(s, a) MLPs as one batched op: (B, in) -> (E, B); matrix multiplies in bfloat16
    under autocast when `bf16`, Q in float32; with `norm`, each hidden layer's pre-activations are layer
    normalised (no learned scale or shift, so the weights and state-dict keys are the same either way)."""

    def __init__(self, inputs: int, hiddens: list[int], members: int, standardise: Standardise, bf16: bool = False,
                 norm: bool = False):
        super().__init__()
        sizes = [inputs, *hiddens, 1]
        self.standardise = standardise
        self.members = members
        self.bf16 = bf16
        self.norm = norm
        self.layers = nn.ModuleList(EnsembleLinear(members, i, o) for i, o in zip(sizes[:-1], sizes[1:]))

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.standardise(obs), action], -1).expand(self.members, -1, -1)
        with bf16_matmuls(x, self.bf16):
            for layer in self.layers[:-1]:
                x = layer(x)
                x = torch.relu(nn.functional.layer_norm(x, x.shape[-1:]) if self.norm else x)
            x = self.layers[-1](x)
        return x.float().squeeze(-1)


class ActorCriticModule(TorchRLModule, TargetNetworkAPI, InferenceOnlyAPI):
    """model_config: hiddens, stochastic (SAC) or not (DDPG), critics E, exploration_noise (DDPG),
    obs_mean / obs_std that actor and critics standardise observations with (none: raw observations), and
    bf16: their matrix multiplies in bfloat16 (PolicyConfig.precision), critic_norm: the critics' layer
    normalisation (PolicyConfig.critic_norm)."""

    def setup(self) -> None:
        cfg = self.model_config
        obs_dim, act_dim = self.observation_space.shape[0], self.action_space.shape[0]
        self.stochastic = cfg["stochastic"]
        bf16 = cfg.get("bf16", False)
        self.actor = Sequential(Standardise.from_config(cfg, obs_dim),
                                *mlp(obs_dim, act_dim * (2 if self.stochastic else 1), cfg["hiddens"]), bf16=bf16)
        self.log_noise = float(torch.log(torch.tensor(max(cfg.get("exploration_noise", 0.1), 1e-6))))
        if not self.inference_only:
            self.critic = CriticEnsemble(obs_dim + act_dim, cfg["hiddens"], cfg["critics"],
                                         Standardise.from_config(cfg, obs_dim), bf16, cfg.get("critic_norm", False))
            self.make_target_networks()
            if self.stochastic:  # SAC's temperature, a module weight so checkpoints keep it
                self.log_alpha = nn.Parameter(torch.full((1,), math.log(cfg["initial_alpha"])))

    def make_target_networks(self) -> None:
        self.target_critic = copy.deepcopy(self.critic).requires_grad_(False)
        if not self.stochastic:
            self.target_actor = copy.deepcopy(self.actor).requires_grad_(False)

    def get_target_network_pairs(self):
        pairs = [(self.critic, self.target_critic)]
        return pairs if self.stochastic else pairs + [(self.actor, self.target_actor)]

    def get_non_inference_attributes(self) -> list[str]:
        return ["critic", "target_critic"] + (["log_alpha"] if self.stochastic else ["target_actor"])

    def get_inference_action_dist_cls(self):
        return SquashedGaussian if self.stochastic else DeterministicAction

    def get_exploration_action_dist_cls(self):
        return SquashedGaussian if self.stochastic else TorchDiagGaussian

    def get_train_action_dist_cls(self):
        return SquashedGaussian if self.stochastic else DeterministicAction

    def _forward_inference(self, batch: dict, **kwargs) -> dict:
        out = self.actor(batch[Columns.OBS])
        return {Columns.ACTION_DIST_INPUTS: out if self.stochastic else torch.tanh(out)}

    def _forward_exploration(self, batch: dict, **kwargs) -> dict:
        out = self._forward_inference(batch)
        if not self.stochastic:  # DDPG: Gaussian noise of std `exploration_noise` around μ(s)
            mean = out[Columns.ACTION_DIST_INPUTS]
            out[Columns.ACTION_DIST_INPUTS] = torch.cat([mean, torch.full_like(mean, self.log_noise)], -1)
        return out

    def _forward_train(self, batch: dict, **kwargs) -> dict:
        return self._forward_inference(batch)

    def forward_target(self, batch: dict) -> torch.Tensor:
        """min over target critics of Q'(s', a'), a' from the target actor (DDPG) or the policy (SAC)."""
        return self.target_critic(batch[Columns.OBS], batch[Columns.ACTIONS]).min(0).values

    def soft_value(self, obs: torch.Tensor, target: bool = False) -> torch.Tensor:
        """V(s) = min_e Q_e(s, a) − α·log π(a|s), a ~ π(·|s) (SAC); Q'(s, μ'(s)) for DDPG. With `target`
        the target critics answer."""
        if not self.stochastic:
            return self.forward_target({Columns.OBS: obs, Columns.ACTIONS: torch.tanh(self.target_actor(obs))})
        with torch.no_grad():  # gradients reach the critic only
            actions, logp = SquashedGaussian.from_logits(self.actor(obs)).sample_and_logp()
        critic = self.target_critic if target else self.critic
        return critic(obs, actions).min(0).values - self.log_alpha.exp().detach() * logp

    def q_for_actor(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """min_e Q_e(s, a) with the critic weights detached: its gradient reaches the action only."""
        params = {name: p.detach() for name, p in self.critic.named_parameters()}
        return functional_call(self.critic, params, (obs, action)).min(0).values


def td_critic_loss(module: ActorCriticModule, obs, actions, rewards, next_obs, terminateds, gamma: float,
                   value_bound: float | torch.Tensor | tuple | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Σ_e ½(Q_e(s, a) − y)², y = r + γ(1 − d)·V'(s') from the target networks, V' within ±`value_bound`
    (or a (low, high) pair);
    also Q(s, a), (E, B)."""
    with torch.no_grad():
        target = losses.td_target(rewards, terminateds.float(), module.soft_value(next_obs, target=True), gamma,
                                  value_bound)
    q = module.critic(obs, actions)
    return sum(losses.critic_loss(q_e, target) for q_e in q), q


def actor_objective(module: ActorCriticModule, obs: torch.Tensor, inputs: torch.Tensor, learn_alpha: bool,
                    q_weight: float = 0.0, entropy_target: float = -1.0
                    ) -> tuple[torch.Tensor, torch.Tensor | float, dict]:
    """The actor's loss (SAC: E[α·log π(a|s) − min_e Q_e(s, a)], a ~ π; DDPG: −Q(s, μ(s))), scaled by
    κ / mean|Q| when `q_weight` κ > 0; the temperature's loss (entropy target `entropy_target`·dim(A)) and
    their metrics; `inputs` are the action-distribution inputs on `obs` (DDPG: the action μ(s))."""
    if not module.stochastic:
        q = module.q_for_actor(obs, inputs)
        return losses.q_scale(q, q_weight) * losses.deterministic_actor_loss(q), 0.0, {}
    alpha = module.log_alpha.exp().detach()
    actions, logp = SquashedGaussian.from_logits(inputs).rsample_and_logp()
    q = module.q_for_actor(obs, actions)
    actor_loss = losses.q_scale(q, q_weight) * (alpha * logp - q).mean()
    target = entropy_target * actions.shape[-1]
    alpha_loss = -(module.log_alpha * (logp.detach() + target)).mean() if learn_alpha else 0.0
    return actor_loss, alpha_loss, {"alpha": alpha[0], "logp": logp.mean()}


@torch.no_grad()
def soft_update(module: ActorCriticModule, tau: float) -> None:
    """Polyak step of every target network towards its online network."""
    for main, target in module.get_target_network_pairs():
        torch._foreach_lerp_(list(target.parameters()), list(main.parameters()), tau)


def build_module(config, obs_dim: int, low, high, critics: int = 2, inference_only: bool = False,
                 obs: np.ndarray | None = None) -> ActorCriticModule:
    """The SAC module of `config` (a PolicyConfig) outside an Algorithm: the squashed-Gaussian actor, with
    `critics` critics unless `inference_only`; standardising observations with the statistics of `obs`."""
    return RLModuleSpec(
        module_class=ActorCriticModule,
        observation_space=gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32),
        action_space=gym.spaces.Box(np.asarray(low, np.float32), np.asarray(high, np.float32)),
        model_config={"hiddens": config.hiddens, "stochastic": True, "critics": critics,
                      "initial_alpha": config.initial_alpha, **config_entries(config, obs)},
        inference_only=inference_only,
    ).build()


def adam(params) -> torch.optim.Adam:
    # the fused kernel (CPU and GPU) steps all tensors at once: a third of the per-tensor loop's time
    return torch.optim.Adam(params, fused=True)


class ActorCriticLearner(ExpertRegularised, TorchLearner):
    """SAC (Haarnoja et al. 2018, learned temperature) or DDPG (Lillicrap et al. 2016), eq. (9) added."""

    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        module = self._module[module_id]
        settings = self.config.learner_config_dict
        self.register_optimizer(module_id=module_id, optimizer_name="actor",
                                optimizer=adam(module.actor.parameters()),
                                params=list(module.actor.parameters()), lr_or_lr_schedule=settings["actor_lr"])
        self.register_optimizer(module_id=module_id, optimizer_name="critic",
                                optimizer=adam(module.critic.parameters()),
                                params=list(module.critic.parameters()), lr_or_lr_schedule=settings["critic_lr"])
        if module.stochastic and settings["learn_alpha"]:
            self.register_optimizer(module_id=module_id, optimizer_name="alpha",
                                    optimizer=adam([module.log_alpha]), params=[module.log_alpha],
                                    lr_or_lr_schedule=settings["actor_lr"])

    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out):
        module = self._module[module_id].unwrapped()
        settings = self.config.learner_config_dict
        critic_loss, q = td_critic_loss(module, batch[Columns.OBS], batch[Columns.ACTIONS], batch[Columns.REWARDS],
                                        batch[Columns.NEXT_OBS], batch[Columns.TERMINATEDS], settings["gamma"],
                                        settings["value_bound"])
        actor_loss, alpha_loss, metrics = actor_objective(module, batch[Columns.OBS], fwd_out[Columns.ACTION_DIST_INPUTS],
                                                          settings["learn_alpha"], settings["q_weight"],
                                                          settings["entropy_target"])
        penalty = self.expert_penalty(module)
        metrics.update(actor_loss=actor_loss, critic_loss=critic_loss, expert_penalty=penalty, q_mean=q.mean())
        self.metrics.log_dict(metrics, key=module_id, window=1)
        return critic_loss + actor_loss + penalty + alpha_loss

    def apply_gradients(self, gradients_dict) -> None:
        """Steps every optimizer unless a gradient is not finite: one check over all gradients
        (RLlib's default checks each tensor twice, a tenth of an update on 2 cores)."""
        norms = torch._foreach_norm([g for g in gradients_dict.values() if g is not None])
        if not torch.isfinite(torch.stack(norms)).all():
            self.metrics.log_value((ALL_MODULES, "skipped_updates"), 1, reduce="sum")
            return
        for module_id, names in self._module_optimizers.items():
            for name in names:
                self.get_optimizer(module_id, name).step()

    def after_gradient_based_update(self, *, timesteps) -> None:
        super().after_gradient_based_update(timesteps=timesteps)
        for module_id in set(self.module.keys()) - {ALL_MODULES}:
            soft_update(self.module[module_id].unwrapped(), self.config.learner_config_dict["tau"])
