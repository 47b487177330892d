"""PolicyConfig + simulator artifact -> an RLlib Algorithm training in "OffSim-v0"."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from ray.rllib.algorithms.algorithm import Algorithm

from offsim_ray.envs import ENV_ID
from offsim_ray.policy.config import PolicyConfig
from offsim_ray.simulator.simulator import Simulator


def learner_settings(policy: PolicyConfig, artifact: str | os.PathLike) -> dict:
    """What our learners and training steps read from `learner_config_dict`."""
    simulator = Simulator.load(artifact)
    return {**policy.to_dict(), "hiddens": policy.hiddens, "artifact": str(Path(artifact).resolve()),
            "obs_dim": simulator.data.obs_dim, "action_dim": simulator.data.action_dim}


def build_algorithm(policy: PolicyConfig, artifact: str | os.PathLike) -> Algorithm:
    settings = learner_settings(policy, artifact)
    base = importlib.import_module(f"offsim_ray.policy.{policy.algo}").algorithm_config(settings)
    on_policy = policy.algo == "ppo"
    config = (
        base.environment(ENV_ID, env_config=dict(artifact=settings["artifact"], horizon=policy.horizon,
                                                 variance=policy.variance, termination=policy.termination))
        # One in-process env runner stepping `num_envs` learned envs as one torch batch: cheaper than
        # remote runners, whose per-step connector and transfer costs dwarf a learned-env step.
        .env_runners(num_env_runners=0, num_envs_per_env_runner=policy.num_envs,
                     gym_env_vectorize_mode="vector_entry_point",
                     rollout_fragment_length=policy.ppo_rollout if on_policy else 1)
        .learners(num_learners=0, num_gpus_per_learner=1 if policy.device.startswith("cuda") else 0,
                  learner_config_dict=settings)
        .reporting(min_time_s_per_iteration=0, min_sample_timesteps_per_iteration=0,
                   min_train_timesteps_per_iteration=0)
        .debugging(seed=policy.seed, log_level="ERROR")
    )
    return config.build_algo()
