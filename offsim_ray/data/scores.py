"""Reference returns for the normalised score (0 = random policy, 100 = expert)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from offsim_ray.data.termination import env_family
from offsim_ray.errors import OffSimError

# D4RL's reference returns (random, expert) per task, used when a dataset carries none.
D4RL_REFERENCE: dict[str, tuple[float, float]] = {
    "Hopper": (-20.272305, 3234.3),
    "Walker2d": (1.629008, 4592.3),
    "HalfCheetah": (-280.178953, 12135.0),
}


@dataclass(frozen=True)
class ReferenceScores:
    """Returns that map to scores 0 and 100, and where they came from."""

    random: float
    expert: float
    origin: str

    def normalize(self, returns):
        return 100.0 * (np.asarray(returns, dtype=float) - self.random) / (self.expert - self.random)


def reference_scores(metadata: dict, env_id: str) -> ReferenceScores:
    """From the dataset's `ref_min_score` / `ref_max_score` when present, else the D4RL table."""
    if metadata.get("ref_min_score") is not None and metadata.get("ref_max_score") is not None:
        return ReferenceScores(
            float(metadata["ref_min_score"]), float(metadata["ref_max_score"]), "dataset metadata"
        )
    family = env_family(env_id)
    if family not in D4RL_REFERENCE:
        raise OffSimError(f"no reference scores for {env_id}: the dataset has none and D4RL lists none")
    low, high = D4RL_REFERENCE[family]
    return ReferenceScores(low, high, "D4RL reference table")
