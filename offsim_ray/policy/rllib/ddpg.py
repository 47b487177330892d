"""DDPG (Lillicrap et al. 2016) as our own RLlib algorithm: a deterministic tanh actor, one critic,
target actor and critic with Polyak averaging, Gaussian exploration noise, replay. RLlib 2.60 ships
none. The eq. (9) regulariser becomes λ·‖μ(s_E) − a_E‖² (a deterministic actor has no likelihood; λ = 50
by default, `ALGORITHM_DEFAULTS`).
"""

from __future__ import annotations

from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from offsim_ray.policy.actor_critic import ActorCriticLearner, ActorCriticModule
from offsim_ray.policy.rllib.offpolicy import FlatEnvRunner, FlatReplayTraining


class DDPGConfig(AlgorithmConfig):
    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or DDPG)
        self.exploration_noise = 0.1

    def get_default_rl_module_spec(self) -> RLModuleSpec:
        return RLModuleSpec(module_class=ActorCriticModule)

    def get_default_learner_class(self):
        return ActorCriticLearner


class DDPG(FlatReplayTraining, Algorithm):
    @classmethod
    def get_default_config(cls) -> DDPGConfig:
        return DDPGConfig()


def algorithm_config(settings: dict) -> DDPGConfig:
    model = {"hiddens": settings["hiddens"], "stochastic": False, "critics": 1,
             "exploration_noise": settings["exploration_noise"], **settings["module_entries"]}
    return (
        DDPG.get_default_config()
        .training(gamma=settings["gamma"], train_batch_size_per_learner=settings["batch_size"])
        .env_runners(env_runner_cls=FlatEnvRunner)
        .rl_module(rl_module_spec=RLModuleSpec(module_class=ActorCriticModule, model_config=model))
    )
