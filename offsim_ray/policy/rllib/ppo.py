"""PPO in the learned env (RLlib's PPO), the eq. (9) expert regulariser added to its loss."""

from __future__ import annotations

from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

from offsim_ray.policy.regulariser import ExpertRegularised


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
        .rl_module(model_config=DefaultModelConfig(fcnet_hiddens=settings["hiddens"], fcnet_activation="relu",
                                                   head_fcnet_hiddens=[], vf_share_layers=False))
    )
