"""Policy stage, split by how a policy is trained:
  rllib/            RLlib algorithms trained in the learned env (SAC, DDPG, PPO) and their training loop
  baselines/        plain-torch trainers on the data: BC and Table 1's offline IRL baselines (CLARE, ML-IRL, IQ-Learn)
  expert_training   SAC experts trained in a real env, for the data stage's datasets
and what they share: `config` (PolicyConfig, ExpertConfig), `trainers` (the registry every trial dispatches
through), `actor_critic` (the RLModule, its distributions and the SAC losses), `regulariser` (eq. (9)'s
expert pairs), `replay`, `progress` (metrics rows and checkpoints) and `artifact` (the saved Policy).

The only package that imports RLlib; `config` does not, so configs can be read without it.
"""

from offsim_ray.policy.config import ALGORITHMS, PRESETS, PolicyConfig, preset

__all__ = ["ALGORITHMS", "PRESETS", "PolicyConfig", "preset"]
