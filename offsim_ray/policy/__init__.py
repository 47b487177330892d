"""Policy stage: RLlib algorithms trained in the learned env (SAC, DDPG, PPO), BC and Table 1's offline IRL
baselines (CLARE, ML-IRL, IQ-Learn).

The only package that imports RLlib; `config` does not, so configs can be read without it.
"""

from offsim_ray.policy.config import ALGORITHMS, PRESETS, PolicyConfig, preset

__all__ = ["ALGORITHMS", "PRESETS", "PolicyConfig", "preset"]
