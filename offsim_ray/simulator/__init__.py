"""Simulator stage: T_θ and r_φ, the OffSim(+) fit, margin proposal, artifacts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from offsim_ray.data.transitions import Transitions
from offsim_ray.simulator.config import PRESETS, SimConfig, preset
from offsim_ray.simulator.fit import fit_simulator
from offsim_ray.simulator.simulator import FORMAT_VERSION, Simulator, fingerprint


@dataclass(frozen=True)
class MarginProposal:
    """A margin m for OffSim+ read off an expert-only OffSim reward (paper section 4.1)."""

    reward_scale: float  # R = max |r| over the expert and diverse transitions
    margin: float        # m in reward units, within [0, 2R]
    relative: float      # m / R


def propose_margin(expert_only: Simulator, expert: Transitions, diverse: Transitions) -> MarginProposal:
    """m = the gap E_E[r] - E_D[r] that the expert-only reward already puts between the datasets,
    clipped to [0, 2R]: diverse data that looks expert-like to r gets a small margin, clearly worse
    data a large one."""
    expert_only.check_matches(diverse)
    r_e, r_d = expert_only.reward_of(expert), expert_only.reward_of(diverse)
    scale = float(max(np.abs(r_e).max(), np.abs(r_d).max(), 1e-6))
    relative = float(np.clip((r_e.mean() - r_d.mean()) / scale, 0.0, 2.0))
    return MarginProposal(scale, relative * scale, relative)


__all__ = [
    "FORMAT_VERSION", "PRESETS", "MarginProposal", "SimConfig", "Simulator",
    "fingerprint", "fit_simulator", "preset", "propose_margin",
]
