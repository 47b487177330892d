"""OffSim / OffSim+: model-based offline inverse RL, run as sweeps on Ray."""

__version__ = "0.1.0"
