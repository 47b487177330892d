"""run_trial(config) -> metrics: data -> simulator -> learned env -> policy -> real-env evaluation.

A pure function of its config and its output directory, and the unit a sweep runs. Nothing in it is
specific to Ray Tune. Output directory layout:
  trial.json     the resolved config (simulator and policy configs included)
  simulator/     the simulator artifact (unless `artifact` or `simulators` puts it elsewhere), reused
                 when its data fingerprint and fit config match
  dynamics/      CLARE and ML-IRL: their maximum-likelihood dynamics ensemble (unless `simulators` holds it)
  training/      the policy stage's checkpoints and logs (see offsim_ray.policy.progress)
  policy/        the trained policy (see offsim_ray.policy.artifact)
  metrics.json   the final metrics, written last
A rerun with the same config reuses what is there: a finished trial reports its stored iteration rows
again and returns its metrics, an interrupted one resumes from its last checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from offsim_ray.data.store import exclusive
from offsim_ray.errors import (OffSimError, check_bf16, check_compiler, check_device, check_fields, check_types,
                               known_fields, placement_fields)
from offsim_ray.files import read_json, write_json
from offsim_ray.policy.config import PolicyConfig
from offsim_ray.policy.config import preset as policy_preset
from offsim_ray.policy.trainers import TRAINERS, Trainer, TrainingContext
from offsim_ray.simulator.config import SimConfig
from offsim_ray.simulator.config import preset as sim_preset
from offsim_ray.threads import note_if_busy


PATH_FIELDS = ("out", "artifact", "simulators", "data_root")
# what a trial writes in its folder (the layout above), and all that --overwrite removes
TRIAL_OUTPUTS = ("trial.json", "simulator", "dynamics", "training", "policy", "metrics.json")


def _absolute(path: str) -> str:
    return str(Path(path).expanduser().resolve())


# (section, name, value) of settings added after trials had been run, the value being what those trials ran
# with: left out of a trial's resolved config, and so of its key, while at that value
LATER_SETTINGS = ((None, "drop_nonfinite", False), ("policy", "precision", "fp32"), ("policy", "entropy_target", -1.0),
                  ("policy", "action_clip", 0.99), ("policy", "true_reward", 0.0),
                  ("policy", "reward", "learned"), ("policy", "reward_horizon", 0),
                  ("policy", "advantage_weight", 0.0), ("policy", "value_clamp", False),
                  ("policy", "clamp_bound", "batch"), ("policy", "compile", False),
                  ("policy", "advantage_clip", 0.0), ("policy", "critic_norm", False))


@dataclass(frozen=True)
class TrialConfig:
    expert: str                                   # expert dataset id or alias (D_E)
    out: str                                      # trial directory
    diverse: str | None = None                    # diverse dataset id or alias (D_D): OffSim+ when set
    algo: str = "sac"                             # sac | ddpg | ppo | bc | clare | mlirl | iqlearn
    preset: str = "quick"                         # smoke | quick | paper, for the simulator and the policy
    seed: int = 0                                 # seeds the data subsample, the fit and the policy
    n: int = 20_000                               # transitions to fit on (paper: 20000; N/2 + N/2 mixed)
    sim: dict = field(default_factory=dict)       # SimConfig fields that override the preset
    policy: dict = field(default_factory=dict)    # PolicyConfig fields that override the preset
    artifact: str | None = None                   # simulator directory to reuse or write (default out/simulator)
    simulators: str | None = None                 # shared folder of artifacts keyed by data fingerprint + fit config
    data_root: str | None = None                  # Minari store (default $MINARI_DATASETS_PATH or ~/.minari/datasets)
    offline: bool = False                         # never try the Minari remote
    drop_nonfinite: bool = False                  # drop data rows with NaN or inf instead of refusing the data

    def __post_init__(self) -> None:
        check_types(self, "trial config")
        paths = {name: getattr(self, name) is None or getattr(self, name).strip() != "" for name in PATH_FIELDS}
        check_fields(self, {"n": self.n > 0, "seed": self.seed >= 0, **paths}, "trial config",
                     {"n": "must be positive", "seed": "must be ≥ 0",
                      **dict.fromkeys(PATH_FIELDS, "must name a folder, not be empty")})
        if self.diverse == self.expert:
            raise OffSimError(f"invalid trial config: expert and diverse are both {self.expert!r}; OffSim+ needs "
                              "two different datasets")
        for name in PATH_FIELDS:  # one trial however its paths are spelled (relative, trailing slash, ~)
            if getattr(self, name) is not None:
                object.__setattr__(self, name, _absolute(getattr(self, name)))
        self.sim_config()
        self.policy_config()

    def sim_config(self) -> SimConfig:
        base = sim_preset(self.preset)
        return SimConfig.from_dict({**base.to_dict(), "seed": self.seed, **self.sim})

    @property
    def proposes_margin(self) -> bool:
        """An OffSim+ trial that names no margin takes the one an expert-only fit proposes (section 4.1);
        `sim: {margin: 0}` is the explicit m = 0."""
        return bool(self.diverse) and "margin" not in self.sim

    def policy_config(self) -> PolicyConfig:
        base = policy_preset(self.preset, self.algo)
        return PolicyConfig.from_dict({**base.to_dict(), "seed": self.seed, **self.policy, "algo": self.algo})

    def artifact_dir(self, data, sim_config: SimConfig, role: str = "simulator") -> Path:
        """Where the simulator of `data` fit with `sim_config` lives: `artifact`, the shared `simulators`
        folder under a key of the data and the config, or the trial's own directory."""
        if self.artifact and role == "simulator":
            return Path(self.artifact)
        if self.simulators:
            from offsim_ray.simulator.simulator import fingerprint

            fit = {**sim_config.to_dict(), **dict.fromkeys(placement_fields(SimConfig), "any")}  # any device's fit
            digest = hashlib.sha256(json.dumps(fit, sort_keys=True).encode()).hexdigest()[:8]
            return Path(self.simulators) / f"{data.env_id}-{fingerprint(data)}-{digest}"
        return Path(self.out) / role

    def resolved(self) -> dict:
        resolved = {**asdict(self), "sim": self.sim_config().to_dict(), "policy": self.policy_config().to_dict()}
        for section, name, default in LATER_SETTINGS:  # at their default, the keys of earlier trials stay
            part = resolved[section] if section else resolved
            if part[name] == default:
                del part[name]
        if not (self.algo == "iqlearn" and self.diverse):  # it acts on IQ-Learn's mixes only: other keys stay
            del resolved["policy"]["value_rows"]
        return resolved

    @classmethod
    def from_dict(cls, d: dict) -> TrialConfig:
        known_fields(cls, d, "trial config")
        missing = sorted({"expert", "out"} - set(d))
        if missing:
            raise OffSimError(f"trial config needs {' and '.join(missing)} (" +
                              ", ".join(f"--{name} or `{name}:` in the YAML file" for name in missing) + ")")
        return cls(**d)


def _identity(resolved: dict) -> dict:
    """What makes a trial the same trial: its resolved config without the folder it lives in, with absolute
    paths, and without where it runs (a trial retried on another node is the same trial)."""
    paths = {k: _absolute(resolved[k]) for k in PATH_FIELDS if resolved.get(k) is not None and k != "out"}
    stages = {stage: {k: v for k, v in resolved[stage].items() if k not in placement_fields(cls)}
              for stage, cls in (("sim", SimConfig), ("policy", PolicyConfig))}
    return {**{k: v for k, v in resolved.items() if k != "out"}, **paths, **stages}


def _check_same_trial(out: Path, resolved: dict) -> None:
    saved = out / "trial.json"
    if not saved.exists():
        return
    try:
        recorded = read_json(saved, "", f"trial {out}", {"sim": dict, "policy": dict})
    except OffSimError as e:
        raise OffSimError(f"{e}; pass --overwrite to start the trial afresh") from None
    if _identity(recorded) != _identity(resolved):
        raise OffSimError(f"{out} holds a trial with another config (see {saved}); choose another output "
                          "directory, or pass --overwrite to start the trial afresh")


def simulator_for(data, sim_config: SimConfig, path: Path, progress: bool):
    """The simulator at `path` when it was fit on the same data with the same config, else a new fit
    saved there; with its `sim/…` metrics."""
    from offsim_ray.simulator import Simulator, fit_simulator
    from offsim_ray.simulator.fidelity import fidelity
    from offsim_ray.simulator.simulator import fingerprint

    with exclusive(path.parent / f".{path.name}.lock"):
        if path.exists():
            simulator = Simulator.load(path, sim_config.device)
            if simulator.fingerprint != fingerprint(data):
                raise OffSimError(f"simulator artifact {path} was fit on other data than {data.name}; "
                                  "remove it or point `artifact` elsewhere")
            if simulator.config != sim_config:
                raise OffSimError(f"simulator artifact {path} was fit with another config; remove it or "
                                  "point `artifact` elsewhere")
            metrics = {"sim/reused": 1.0}
        else:
            if progress:
                note_if_busy()
            simulator, history = fit_simulator(data, sim_config, progress=progress)
            simulator.save(path, history)
            metrics = {k: v for k, v in (history[-1] if history else {}).items() if k.startswith("sim/")}
            metrics["sim/reused"] = 0.0
    return simulator, {**metrics, "sim/fit_seconds": simulator.fit_seconds, **simulator.reward_generalisation(),
                       **simulator.reward_rank(sim_config.seed), **simulator.reward_rank(sim_config.seed, True),
                       **fidelity(simulator, seed=sim_config.seed)}


def measured_sim_config(config: TrialConfig, data, store, progress: bool) -> tuple[SimConfig, dict]:
    """The fit config, with R measured when the margin is relative and R is not given: R = max|r| of
    an expert-only OffSim reward (paper section 4.1) over the trial's expert and diverse rows; also the
    margin that reward proposes, which becomes m when the trial `proposes_margin`. The expert-only fit is the OffSim
    trial's own on that expert data."""
    from offsim_ray.data import training_transitions
    from offsim_ray.data.transitions import DIVERSE, EXPERT
    from offsim_ray.simulator import propose_margin

    sim_config = config.sim_config()
    measured = sim_config.margin_relative and sim_config.margin > 0 and "reward_scale" not in config.sim
    if not (config.diverse and (measured or config.proposes_margin)):
        return sim_config, {}
    expert = training_transitions(config.expert, None, config.n, sim_config.seed, store,
                                  drop_nonfinite=config.drop_nonfinite, download=not config.offline)
    reference_config = sim_config.with_(margin=0.0, margin_relative=False)
    reference, _ = simulator_for(expert, reference_config,
                                 config.artifact_dir(expert, reference_config, "reference-simulator"), progress)
    proposal = propose_margin(reference, data.of_source(EXPERT), data.of_source(DIVERSE), sim_config.seed)
    measured_config = sim_config.with_(reward_scale=proposal.reward_scale)
    if config.proposes_margin:
        measured_config = measured_config.with_(margin=proposal.relative, margin_relative=True)
    return measured_config, {"sim/reward_scale": proposal.reward_scale, "sim/proposed_margin": proposal.relative}


def prepared_simulator(config: TrialConfig, trainer: Trainer, data, store, progress: bool):
    """The simulator the trainer needs, fit or reused, and its `sim/…` metrics: OffSim's (with the margin
    measured for OffSim+), or the dynamics ensemble of CLARE and ML-IRL, the simulator stage's T_θ fit by
    maximum likelihood alone (no min-max steps) and shared like a simulator. Returns (artifact path, the
    loaded simulator, metrics); (None, None, {}) when the trainer needs none."""
    if trainer.simulator == "dynamics":
        dynamics_config = config.sim_config().with_(steps=0)
        artifact = config.artifact_dir(data, dynamics_config, "dynamics")
        simulator, sim_metrics = simulator_for(data, dynamics_config, artifact, progress)
        return artifact, simulator, {k: v for k, v in sim_metrics.items() if k.startswith("sim/")}
    if trainer.simulator == "offsim":
        sim_config, scale_metrics = measured_sim_config(config, data, store, progress)
        artifact = config.artifact_dir(data, sim_config)
        simulator, sim_metrics = simulator_for(data, sim_config, artifact, progress)
        return artifact, simulator, {**scale_metrics, **sim_metrics, "sim/margin": sim_config.margin_value}
    return None, None, {}


def run_trial(config: TrialConfig, progress: bool = True, report=None, overwrite: bool = False) -> dict:
    """Runs (or resumes, or reads back) the trial; `report(row)` gets each policy iteration's metrics;
    `overwrite` starts the trial afresh, removing what an earlier trial wrote in the folder (TRIAL_OUTPUTS)
    once the new one's data is known good; other files there are left alone."""
    out = Path(config.out)
    made = next((folder for folder in reversed([out, *out.absolute().parents]) if not folder.exists()), None)
    try:
        with exclusive(out / ".lock"):
            return _run_trial(config, out, progress, report, overwrite)
    except OffSimError:
        if made and out.is_dir() and {entry.name for entry in out.iterdir()} <= {".lock", "trial.json"}:
            shutil.rmtree(made)  # refused before it wrote more than its config: the folder it made goes too
        raise


def _remove_outputs(out: Path) -> None:
    """What a trial wrote in `out`, when `out` holds one (its trial.json, written first)."""
    if not (out / "trial.json").exists():
        return
    for entry in (out / name for name in TRIAL_OUTPUTS):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        elif entry.exists() or entry.is_symlink():
            entry.unlink()


def _run_trial(config: TrialConfig, out: Path, progress: bool, report, overwrite: bool) -> dict:
    import torch

    from offsim_ray.data import DatasetStore, dataset_reference, training_transitions
    from offsim_ray.evaluation import evaluate
    from offsim_ray.policy.artifact import Policy
    from offsim_ray.policy.progress import STATE, read_progress
    from offsim_ray.simulator.fit import holdout_sizes
    from offsim_ray.simulator.simulator import action_bounds

    resolved = config.resolved()
    if not overwrite:
        _check_same_trial(out, resolved)
        if (out / "metrics.json").exists():
            for row in read_progress(out / "training") if report else ():  # the stored curve, for the sweep's report
                report(row)
            return read_json(out / "metrics.json", "", f"trial {out}")
    started = time.perf_counter()
    policy_config = config.policy_config()
    check_device(config.sim_config().device, "sim.device")
    check_device(policy_config.device, "policy.device")
    if policy_config.precision == "bf16":
        check_bf16(policy_config.device, "policy.precision bf16")
    if policy_config.compile:
        check_compiler("policy.compile")
    store = DatasetStore.from_env(config.data_root)
    data = training_transitions(config.expert, config.diverse, config.n, config.sim_config().seed, store,
                                drop_nonfinite=config.drop_nonfinite, download=not config.offline)
    reference = dataset_reference(config.expert, store, download=not config.offline)
    trainer = TRAINERS[policy_config.algo]
    if trainer.simulator:  # refuses data too small to split, before anything is written
        holdout_sizes(data, config.sim_config().holdout_fraction)
    if overwrite:
        _remove_outputs(out)
    write_json(out / "trial.json", resolved)  # once the data is known good: a refused trial leaves nothing
    low, high = action_bounds(data)
    artifact, simulator, metrics = prepared_simulator(config, trainer, data, store, progress)
    workdir = out / "training"
    if progress:
        note_if_busy()
    module, last = trainer.train(TrainingContext(data, policy_config, low, high, workdir, artifact, simulator,
                                                 progress, report))
    metrics.update({k: v for k, v in last.items() if k.startswith(("policy/", "irl/"))})
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
    metrics.update({"eval/reference_random": reference.random, "eval/reference_expert": reference.expert,
                    "trial/seconds": time.perf_counter() - started, "trial/threads": torch.get_num_threads(),
                    "trial/algo": policy_config.algo,
                    "trial/env_id": data.env_id, "trial/seed": config.seed,
                    **({"trial/simulator": artifact.name} if artifact else {})})
    write_json(out / "metrics.json", metrics)
    shutil.rmtree(workdir / STATE, ignore_errors=True)  # never resumed now; CLARE's is 54 MB (docs/policy.md)
    if progress:
        print(f"{config.algo} on {data.name}: real-env return {metrics['eval/return_mean']:.1f} "
              f"± {metrics['eval/return_std']:.1f}, normalised score {metrics['eval/normalized_score']:.1f}",
              file=sys.stderr)
    return metrics
