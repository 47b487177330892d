"""PolicyConfig + an env -> an RLlib Algorithm: the learned env "OffSim-v0" built from a simulator
artifact, or a real Gymnasium env (expert training)."""

from __future__ import annotations

import os
from pathlib import Path

import gymnasium as gym
from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.algorithms.algorithm_config import TorchCompileWhatToCompile

from offsim_ray.envs import ENV_ID
from offsim_ray.envs.offsim_env import value_bound
from offsim_ray.errors import OffSimError
from offsim_ray.nets import compile_mode
from offsim_ray.policy.actor_critic import config_entries
from offsim_ray.policy.config import PolicyConfig
from offsim_ray.policy.rllib import ddpg, ppo, sac
from offsim_ray.simulator.simulator import Simulator


ALGORITHM_CONFIGS = {"sac": sac.algorithm_config, "ddpg": ddpg.algorithm_config, "ppo": ppo.algorithm_config}


def learner_settings(policy: PolicyConfig, artifact: str | os.PathLike | None, env_id: str | None = None) -> dict:
    """What our learners and training steps read from `learner_config_dict`; `artifact` None means the
    real env `env_id` (no expert pairs, no regulariser, raw observations); `module_entries` are the module's
    model_config entries its PolicyConfig sets (`config_entries`, the simulator's data standardising);
    `value_bound` the largest return the env's rewards allow (None: unknown), where TD targets are clamped."""
    obs, bound = None, None
    if artifact is not None:
        simulator = Simulator.load(artifact)
        artifact = str(Path(artifact).resolve())
        obs_dim, action_dim = simulator.data.obs_dim, simulator.data.action_dim
        obs = simulator.data.obs
        bound = value_bound(policy.gamma, policy.reward_shift, policy.reward)
    else:
        try:
            env = gym.make(env_id)
        except gym.error.Error as e:
            raise OffSimError(f"cannot make env {env_id}: {e}") from None
        obs_dim, action_dim = env.observation_space.shape[0], env.action_space.shape[0]
        env.close()
    return {**policy.to_dict(), "hiddens": policy.hiddens, "artifact": artifact,
            "obs_dim": obs_dim, "action_dim": action_dim, "module_entries": config_entries(policy, obs),
            "value_bound": bound}


def build_algorithm(policy: PolicyConfig, artifact: str | os.PathLike | None, env_id: str | None = None) -> Algorithm:
    settings = learner_settings(policy, artifact, env_id)
    base = ALGORITHM_CONFIGS[policy.algo](settings)
    on_policy = policy.algo == "ppo"
    if artifact is not None:
        env = dict(env=ENV_ID, env_config=dict(artifact=settings["artifact"], horizon=policy.horizon,
                                               variance=policy.variance, termination=policy.termination,
                                               reward_on_mean=policy.reward_on_mean, reward_shift=policy.reward_shift,
                                               start_states=policy.start_states, reward=policy.reward,
                                               compile=policy.compile))
        vectorize = "vector_entry_point"
    else:
        env, vectorize = dict(env=env_id), "sync"
    config = (
        base.environment(**env)
        # `compile`: RLlib's learner runs its whole update (losses, backward, optimiser steps) under torch.compile
        .framework("torch", torch_compile_learner=policy.compile,
                   torch_compile_learner_what_to_compile=TorchCompileWhatToCompile.COMPLETE_UPDATE,
                   torch_compile_learner_dynamo_mode=compile_mode(policy.device))
        # One in-process env runner stepping `num_envs` envs as one batch: cheaper than remote runners,
        # whose per-step connector and transfer costs dwarf a learned-env step.
        .env_runners(num_env_runners=0, num_envs_per_env_runner=policy.num_envs,
                     gym_env_vectorize_mode=vectorize,
                     rollout_fragment_length=policy.ppo_rollout if on_policy else 1)
        .learners(num_learners=0, num_gpus_per_learner=1 if policy.device.startswith("cuda") else 0,
                  learner_config_dict=settings)
        .reporting(min_time_s_per_iteration=0, min_sample_timesteps_per_iteration=0,
                   min_train_timesteps_per_iteration=0)
        .debugging(seed=policy.seed, log_level="ERROR")
    )
    return config.build_algo()
