"""Env stage: the learned simulator as Gymnasium envs. Importing `offsim_ray` registers "OffSim-v0"."""

import gymnasium as gym

ENV_ID = "OffSim-v0"

if ENV_ID not in gym.registry:
    gym.register(
        ENV_ID,
        entry_point="offsim_ray.envs.offsim_env:OffSimEnv",
        vector_entry_point="offsim_ray.envs.offsim_env:OffSimVectorEnv",
    )
