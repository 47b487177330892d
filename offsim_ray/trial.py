"""run_trial(config) -> metrics: data -> simulator -> learned env -> policy -> real-env evaluation.

A pure function of its config and its output directory, and the unit a sweep runs. Nothing in it is
specific to Ray Tune. Output directory layout:
  trial.json     the resolved config (simulator and policy configs included)
  simulator/     the simulator artifact (unless `artifact` points elsewhere), reused when its data
                 fingerprint and fit config match
  training/      the policy stage's checkpoints and logs (see offsim_ray.policy.training)
  policy/        the trained policy (see offsim_ray.policy.acting)
  metrics.json   the final metrics, written last
A rerun with the same config reuses what is there: a finished trial returns its metrics, an
interrupted one resumes from its last checkpoint.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from offsim_ray.errors import OffSimError, known_fields
from offsim_ray.policy.config import PolicyConfig
from offsim_ray.policy.config import preset as policy_preset
from offsim_ray.simulator.config import SimConfig
from offsim_ray.simulator.config import preset as sim_preset


@dataclass(frozen=True)
class TrialConfig:
    expert: str                                   # expert dataset id or alias (D_E)
    out: str                                      # trial directory
    diverse: str | None = None                    # diverse dataset id or alias (D_D): OffSim+ when set
    algo: str = "sac"                             # sac | ddpg | ppo | bc
    preset: str = "quick"                         # smoke | quick | paper, for the simulator and the policy
    seed: int = 0                                 # seeds the data subsample, the fit and the policy
    n: int = 20_000                               # transitions to fit on (paper: 20000; N/2 + N/2 mixed)
    sim: dict = field(default_factory=dict)       # SimConfig fields that override the preset
    policy: dict = field(default_factory=dict)    # PolicyConfig fields that override the preset
    artifact: str | None = None                   # simulator directory to reuse or write (default out/simulator)
    data_root: str | None = None                  # Minari store (default $MINARI_DATASETS_PATH or ~/.minari/datasets)
    offline: bool = False                         # never try the Minari remote

    def __post_init__(self) -> None:
        if self.n <= 0:
            raise OffSimError(f"invalid trial config: n must be positive, got {self.n}")
        self.sim_config()
        self.policy_config()

    def sim_config(self) -> SimConfig:
        base = sim_preset(self.preset)
        return SimConfig.from_dict({**base.to_dict(), "seed": self.seed, **self.sim})

    def policy_config(self) -> PolicyConfig:
        base = policy_preset(self.preset)
        return PolicyConfig.from_dict({**base.to_dict(), "seed": self.seed, **self.policy, "algo": self.algo})

    @property
    def artifact_dir(self) -> Path:
        return Path(self.artifact) if self.artifact else Path(self.out) / "simulator"

    def resolved(self) -> dict:
        return {**asdict(self), "sim": self.sim_config().to_dict(), "policy": self.policy_config().to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> TrialConfig:
        known_fields(cls, d, "trial config")
        missing = sorted({"expert", "out"} - set(d))
        if missing:
            raise OffSimError(f"trial config needs {' and '.join(missing)}")
        return cls(**d)


def _write_json(path: Path, value: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(value, indent=2))
    os.replace(tmp, path)


def _check_same_trial(out: Path, resolved: dict) -> None:
    saved = out / "trial.json"
    if saved.exists() and json.loads(saved.read_text()) != resolved:
        raise OffSimError(f"{out} holds a trial with another config (see {saved}); choose another output "
                          "directory or remove it")


def simulator_for(config: TrialConfig, data, progress: bool):
    """The artifact's simulator when it was fit on the same data with the same config, else a new fit."""
    from offsim_ray.simulator import Simulator, fit_simulator
    from offsim_ray.simulator.simulator import fingerprint

    sim_config, path = config.sim_config(), config.artifact_dir
    if path.exists():
        simulator = Simulator.load(path, sim_config.device)
        if simulator.fingerprint != fingerprint(data):
            raise OffSimError(f"simulator artifact {path} was fit on other data than {data.name}; "
                              "remove it or point `artifact` elsewhere")
        if simulator.config != sim_config:
            raise OffSimError(f"simulator artifact {path} was fit with another config; remove it or "
                              "point `artifact` elsewhere")
        return simulator, {"sim/reused": 1.0, "sim/fit_seconds": simulator.fit_seconds}
    simulator, history = fit_simulator(data, sim_config, progress=progress)
    simulator.save(path, history)
    last = {k: v for k, v in (history[-1] if history else {}).items() if k.startswith("sim/")}
    return simulator, {**last, "sim/reused": 0.0, "sim/fit_seconds": simulator.fit_seconds}


def run_trial(config: TrialConfig, progress: bool = True) -> dict:
    from offsim_ray.data import DatasetStore, dataset_reference, training_transitions
    from offsim_ray.evaluation import evaluate
    from offsim_ray.policy.acting import Policy
    from offsim_ray.simulator.simulator import action_bounds

    out = Path(config.out)
    resolved = config.resolved()
    if (out / "metrics.json").exists():
        _check_same_trial(out, resolved)
        return json.loads((out / "metrics.json").read_text())
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OffSimError(f"cannot create trial directory {out}: {e.strerror or e}") from None
    _check_same_trial(out, resolved)
    _write_json(out / "trial.json", resolved)
    started = time.perf_counter()
    policy_config = config.policy_config()
    store = DatasetStore.from_env(config.data_root)
    data = training_transitions(config.expert, config.diverse, config.n, config.seed, store,
                                download=not config.offline)
    reference = dataset_reference(config.expert, store, download=not config.offline)
    low, high = action_bounds(data)
    metrics: dict = {}
    if policy_config.algo == "bc":
        from offsim_ray.policy.bc import train_bc

        module, history = train_bc(data, policy_config, low, high, progress)
        metrics.update({k: v for k, v in history[-1].items() if k.startswith("policy/")})
    else:
        from offsim_ray.policy.training import train_in_simulator

        _, sim_metrics = simulator_for(config, data, progress)
        metrics.update(sim_metrics)
        module, last = train_in_simulator(policy_config, config.artifact_dir, out / "training", progress)
        metrics.update({k: v for k, v in last.items() if k.startswith("policy/")})
    policy = Policy(module, {
        "algo": policy_config.algo, "env_id": data.env_id, "obs_dim": data.obs_dim,
        "action_dim": data.action_dim, "action_low": low, "action_high": high,
        "reference": {"random": reference.random, "expert": reference.expert, "origin": reference.origin},
        "datasets": list(data.dataset_ids),
    })
    policy.save(out / "policy")
    evaluation = evaluate(policy.act, data.env_id, data.obs_dim, data.action_dim, reference,
                          policy_config.eval_episodes, seed=config.seed)
    metrics.update(evaluation.metrics())
    metrics.update({"trial/seconds": time.perf_counter() - started, "trial/algo": policy_config.algo,
                    "trial/env_id": data.env_id, "trial/seed": config.seed})
    _write_json(out / "metrics.json", metrics)
    if progress:
        print(f"{config.algo} on {data.name}: real-env return {metrics['eval/return_mean']:.1f} "
              f"± {metrics['eval/return_std']:.1f}, normalised score {metrics['eval/normalized_score']:.1f}",
              file=sys.stderr)
    return metrics
