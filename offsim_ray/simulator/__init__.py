"""Simulator stage: T_θ and r_φ, the OffSim(+) fit, margin proposal, artifacts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from offsim_ray.exports import lazy_exports

if TYPE_CHECKING:
    from offsim_ray.data.transitions import Transitions
    from offsim_ray.simulator.simulator import Simulator


@dataclass(frozen=True)
class MarginProposal:
    """A margin m for OffSim+ read off an expert-only OffSim reward (paper section 4.1)."""

    reward_scale: float  # R = max |r| over the expert and diverse transitions
    margin: float        # m in reward units, within [0, 2R]
    relative: float      # m / R


MAX_RELATIVE_MARGIN = 1.8  # the largest m of Table 2's grid, inside the paper's 0 < m < 2R


def propose_margin(expert_only: Simulator, expert: Transitions, diverse: Transitions,
                   seed: int = 0) -> MarginProposal:
    """Where the diverse data sits between the two levels the expert-only reward knows (section 4.1:
    "random data tend to receive transition-like rewards, medium-quality data rewards closer to those of
    expert demonstrations"): p = (E_E[r] − E_D[r]) / (E_E[r] − E_T[r]), E_T over the model's transitions from
    the expert's (s, a); m = 2R·p, clipped to [0, 1.8R]."""
    expert_only.check_matches(diverse)
    r_e, r_d = expert_only.reward_of(expert), expert_only.reward_of(diverse)
    _, r_t = expert_only.step(expert.obs, expert.action, np.random.default_rng(seed))
    scale = float(max(np.abs(r_e).max(), np.abs(r_d).max(), 1e-6))
    position = (r_e.mean() - r_d.mean()) / max(float(r_e.mean() - r_t.mean()), 1e-6)
    relative = float(np.clip(2.0 * position, 0.0, MAX_RELATIVE_MARGIN))
    return MarginProposal(scale, relative * scale, relative)


_MODULES = {
    "config": ("PRESETS", "SimConfig", "preset"),
    "fit": ("fit_simulator",),
    "simulator": ("FORMAT_VERSION", "Simulator", "fingerprint"),
}
__getattr__ = lazy_exports(__name__, _MODULES)
__all__ = sorted(["MarginProposal", "propose_margin", *(name for names in _MODULES.values() for name in names)])
