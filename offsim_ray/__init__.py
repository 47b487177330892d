"""OffSim / OffSim+: model-based offline inverse RL, run as sweeps on Ray."""

import offsim_ray.envs  # noqa: F401  (registers OffSim-v0)

__version__ = "0.1.0"
