"""Simulator fit configuration: a frozen dataclass with one line per field, and its presets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from offsim_ray.errors import OffSimError, check_fields, check_types, known_fields

HINGE_ON = ("data", "model")  # where the hinge's expectations are taken: eq. (5) or eq. (8)


@dataclass(frozen=True)
class SimConfig:
    ensemble_size: int = 7         # members of T_θ (paper: 7 parallel models)
    transition_layers: int = 7     # linear layers per member (paper: 7-layer MLP)
    transition_hidden: int = 200   # width of each member's hidden layers
    reward_layers: int = 4         # linear layers of r_φ (paper: 4-layer MLP)
    reward_hidden: int = 256       # width of r_φ's hidden layers
    lr: float = 1e-3               # Adam learning rate for T_θ and r_φ (paper: 1e-3)
    batch_size: int = 256          # transitions per gradient step
    warmup_steps: int = 3000       # maximum-likelihood steps on T_θ before the min-max game
    steps: int = 10000             # min-max iterations, one reward step and one transition step each
    alpha: float = 0.01            # entropy weight α of eq. (3)
    nll_weight: float = 1.0        # weight of the NLL anchor in the transition step
    beta: float = 2.0              # hinge weight β of eq. (8) (paper: 2)
    margin: float = 0.0            # margin m of eq. (5), absolute, or in units of R if margin_relative
    margin_relative: bool = False  # read `margin` as a multiple of R = max|r| of an expert-only reward
    reward_scale: float = 1.0      # R, used when margin_relative (see propose_margin)
    hinge_on: str = "data"         # expectations of the hinge over the "data" (eq. 5) or "model" rollouts (eq. 8)
    holdout_fraction: float = 0.1  # share of transitions held out for fidelity and generalisation figures
    eval_every: int = 500          # iterations between logged metrics
    seed: int = 0                  # seeds data split, batches, sampling and initialisation
    device: str = field(default="cpu", compare=False)  # torch device for the fit (where, not what: not compared)

    def __post_init__(self) -> None:
        check_types(self, "simulator config")
        checks = {
            "margin": self.margin >= 0, "steps": self.steps >= 0 and self.warmup_steps + self.steps > 0,
            "alpha": self.alpha >= 0, "beta": self.beta >= 0, "nll_weight": self.nll_weight >= 0,
            "lr": self.lr > 0, "batch_size": self.batch_size > 0,
            "warmup_steps": self.warmup_steps >= 0, "ensemble_size": self.ensemble_size > 0,
            "transition_layers": self.transition_layers >= 2, "reward_layers": self.reward_layers >= 2,
            "holdout_fraction": 0 < self.holdout_fraction < 1, "eval_every": self.eval_every > 0,
            "reward_scale": self.reward_scale > 0, "hinge_on": self.hinge_on in HINGE_ON,
            "seed": self.seed >= 0,
        }
        check_fields(self, checks, "simulator config", {"margin": "m must be ≥ 0",
                                                        "steps": "a fit needs warmup_steps + steps > 0"})

    @property
    def margin_value(self) -> float:
        """m in reward units."""
        return self.margin * self.reward_scale if self.margin_relative else self.margin

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SimConfig:
        return cls(**known_fields(cls, d, "simulator config"))

    def with_(self, **changes) -> SimConfig:
        return replace(self, **changes)


PRESETS: dict[str, SimConfig] = {
    # seconds on 2 CPU cores: tests and the smoke reproduction
    "smoke": SimConfig(ensemble_size=7, transition_layers=4, transition_hidden=64, reward_hidden=64,
                       warmup_steps=200, steps=200, eval_every=100),
    # minutes on 2 CPU cores
    "quick": SimConfig(transition_hidden=128, warmup_steps=2000, steps=3000),
    # the paper's architecture, for GPUs
    "paper": SimConfig(),
}


def preset(name: str) -> SimConfig:
    if name not in PRESETS:
        raise OffSimError(f"unknown preset '{name}'; available: {', '.join(PRESETS)}")
    return PRESETS[name]
