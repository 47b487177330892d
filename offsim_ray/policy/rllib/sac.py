"""SAC in the learned env, the eq. (9) expert regulariser on its actor loss (Algorithm 1, line 15).

RLlib's SAC algorithm and config, with our actor-critic module and learner and the flat-replay step.
"""

from __future__ import annotations

from ray.rllib.algorithms.sac import SAC, SACConfig
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from offsim_ray.policy.actor_critic import ActorCriticLearner, ActorCriticModule
from offsim_ray.policy.rllib.offpolicy import FlatEnvRunner, FlatReplayTraining


class OffSimSAC(FlatReplayTraining, SAC):
    @classmethod
    def get_default_config(cls) -> SACConfig:
        return SACConfig(algo_class=cls)


def algorithm_config(settings: dict) -> SACConfig:
    model = {"hiddens": settings["hiddens"], "stochastic": True, "critics": 2,
             "initial_alpha": settings["initial_alpha"], **settings["module_entries"]}
    return (
        OffSimSAC.get_default_config()
        .training(gamma=settings["gamma"], tau=settings["tau"], twin_q=True,
                  train_batch_size_per_learner=settings["batch_size"])
        .learners(learner_class=ActorCriticLearner)
        .env_runners(env_runner_cls=FlatEnvRunner)
        .rl_module(rl_module_spec=RLModuleSpec(module_class=ActorCriticModule, model_config=model))
    )
