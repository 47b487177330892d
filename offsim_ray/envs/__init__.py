"""Env stage: the learned simulator as Gymnasium envs. Importing `offsim_ray` registers "OffSim-v0"."""

import gymnasium as gym

ENV_ID = "OffSim-v0"
VARIANCES = ("high", "low")        # the learned env's transition: sampled member + noise, or the ensemble mean
START_STATES = ("expert", "all")   # where its episodes start: the expert rows' states, or every data row's
REWARDS = ("learned", "task")      # its reward: r_φ, or the task's own (an oracle for diagnosis, not IRL)

if ENV_ID not in gym.registry:
    gym.register(
        ENV_ID,
        entry_point="offsim_ray.envs.offsim_env:OffSimEnv",
        vector_entry_point="offsim_ray.envs.offsim_env:OffSimVectorEnv",
    )
