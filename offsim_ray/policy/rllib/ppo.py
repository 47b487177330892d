"""PPO in the learned env (RLlib's PPO), the eq. (9) expert regulariser added to its loss."""

from __future__ import annotations

import dataclasses

from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module import DefaultPPOTorchRLModule
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from offsim_ray.policy.actor_critic import Standardise
from offsim_ray.policy.regulariser import ExpertRegularised


class StandardisedPPOModule(DefaultPPOTorchRLModule):
    """RLlib's PPO module (a Gaussian policy and a value function, separate MLPs) whose observations are
    standardised first, with the fixed statistics of model_config's obs_mean / obs_std (none: raw), as the
    actor-critic module's are."""

    def setup(self) -> None:
        super().setup()
        self.standardise = Standardise.from_config(self.model_config, self.observation_space.shape[0])

    def _standardised(self, batch: dict) -> dict:
        return {**batch, Columns.OBS: self.standardise(batch[Columns.OBS])}

    def _forward(self, batch: dict, **kwargs) -> dict:
        return super()._forward(self._standardised(batch), **kwargs)

    def _forward_train(self, batch: dict, **kwargs) -> dict:
        return super()._forward_train(self._standardised(batch), **kwargs)

    def compute_values(self, batch: dict, embeddings=None):
        return super().compute_values(self._standardised(batch) if embeddings is None else batch, embeddings)


class RegularisedPPOLearner(ExpertRegularised, PPOTorchLearner):
    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out):
        total = super().compute_loss_for_module(module_id=module_id, config=config, batch=batch, fwd_out=fwd_out)
        penalty = self.expert_penalty(self.module[module_id].unwrapped())
        self.metrics.log_value((module_id, "expert_penalty"), penalty, window=1)
        return total + penalty


def algorithm_config(settings: dict) -> PPOConfig:
    """A Gaussian policy and a value function, each `layers` linear layers; one iteration collects
    `ppo_rollout` steps of each of the `num_envs` learned envs."""
    return (
        PPOConfig()
        .training(gamma=settings["gamma"], lr=settings["actor_lr"], clip_param=settings["ppo_clip"],
                  train_batch_size_per_learner=settings["num_envs"] * settings["ppo_rollout"],
                  minibatch_size=min(settings["batch_size"], settings["num_envs"] * settings["ppo_rollout"]),
                  num_epochs=settings["ppo_epochs"],
                  learner_class=RegularisedPPOLearner)
        .rl_module(rl_module_spec=module_spec(settings))
    )


def module_spec(settings: dict, **spaces) -> RLModuleSpec:
    """The policy and the value function, each `hiddens` wide, observations standardised as
    `module_entries` say."""
    model = DefaultModelConfig(fcnet_hiddens=settings["hiddens"], fcnet_activation="relu", head_fcnet_hiddens=[],
                               vf_share_layers=False)
    return RLModuleSpec(module_class=StandardisedPPOModule, model_config={**dataclasses.asdict(model),
                                                                          **settings["module_entries"]}, **spaces)
