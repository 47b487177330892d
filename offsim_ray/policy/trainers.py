"""Every way a policy is trained behind one interface, `train(context) -> (RLModule, last metrics row)`,
registered by algo name. Each trainer logs its iterations through `ProgressLog` (progress.jsonl, TensorBoard,
the sweep's report)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from offsim_ray.data.transitions import Transitions
from offsim_ray.policy.config import PolicyConfig

if TYPE_CHECKING:
    from offsim_ray.simulator.simulator import Simulator


@dataclass(frozen=True)
class TrainingContext:
    data: Transitions                 # the trial's rows (expert, plus diverse for OffSim+)
    config: PolicyConfig              # the policy stage's config
    low: np.ndarray                   # the action box of the env: its lower bounds
    high: np.ndarray                  # and its upper bounds
    workdir: Path                     # progress.jsonl, TensorBoard events, checkpoints
    artifact: Path | None = None      # the simulator the trainer's `simulator` names (None: it needs none)
    simulator: Simulator | None = None  # that simulator, loaded (the trial has it in memory already)
    progress: bool = True             # a line on stderr per iteration
    report: Callable[[dict], None] | None = None  # gets each iteration's row (a sweep hands it to Ray Tune)


@dataclass(frozen=True)
class Trainer:
    function: str          # "module:function" taking a TrainingContext
    simulator: str | None  # "offsim": the OffSim(+) simulator; "dynamics": T_θ fit by likelihood alone; None

    def train(self, context: TrainingContext):
        module, _, name = self.function.partition(":")
        return getattr(importlib.import_module(module), name)(context)


TRAINERS = {
    "sac": Trainer("offsim_ray.policy.rllib.training:train_in_simulator", "offsim"),
    "ddpg": Trainer("offsim_ray.policy.rllib.training:train_in_simulator", "offsim"),
    "ppo": Trainer("offsim_ray.policy.rllib.training:train_in_simulator", "offsim"),
    "bc": Trainer("offsim_ray.policy.baselines.bc:train_bc", None),
    "clare": Trainer("offsim_ray.policy.baselines.clare:train", "dynamics"),
    "mlirl": Trainer("offsim_ray.policy.baselines.mlirl:train", "dynamics"),
    "iqlearn": Trainer("offsim_ray.policy.baselines.iqlearn:train", None),
}
