"""Sweep specs: one YAML per paper table, validated before anything starts, expanded into trial configs.

A spec (see sweeps/table1.yaml) names a grid, the trial settings every trial shares, the resources of
a trial and presets that override any of these. Grid axes:
  env       task: hopper | walker2d | halfcheetah
  dataset   `level` (D_E alone: OffSim) or `level-level` (D_E + D_D: OffSim+), levels expert | medium |
            simple | random
  algo      sac | ddpg | ppo | bc | clare | mlirl | iqlearn
  seed      policy seed (also the fit's and the subsample's, unless trial.sim.seed pins those)
  margin    m of eq. (5): absolute, or times R when trial.sim.margin_relative (Table 2)
  beta      β of eq. (8)
  variance  the learned env's transition model: high | low (Table 3a)
No Ray Tune here: the CLI validates a spec without starting Ray.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from offsim_ray.data.datasets import TASK_ENVS
from offsim_ray.errors import OffSimError
from offsim_ray.policy.config import ALGORITHMS
from offsim_ray.simulator.config import PRESETS as SIM_PRESETS
from offsim_ray.trial import TrialConfig

LEVELS = ("expert", "medium", "simple", "random")
TABLES = ("table1", "table2", "table3", "table4")
PRESET_NAMES = tuple(SIM_PRESETS)  # smoke | quick | paper, the simulator's and the policy's alike
_DATASET = re.compile(rf"({'|'.join(LEVELS)})(?:-({'|'.join(LEVELS)}))?")


def _check_non_negative(axis: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise OffSimError(f"grid axis {axis}: {value!r} is not a number ≥ 0")


def _check_choice(choices):
    def check(axis: str, value) -> None:
        if value not in choices:
            raise OffSimError(f"grid axis {axis}: {value!r} is not one of {', '.join(choices)}")
    return check


def _check_dataset(axis: str, value) -> None:
    if not isinstance(value, str) or not _DATASET.fullmatch(value):
        raise OffSimError(f"grid axis {axis}: {value!r} is not a level or level-level with levels "
                          f"{', '.join(LEVELS)} (e.g. expert, expert-random)")


def _check_seed(axis: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise OffSimError(f"grid axis {axis}: {value!r} is not an integer ≥ 0")


AXES = {
    "env": _check_choice(tuple(TASK_ENVS)),
    "dataset": _check_dataset,
    "algo": _check_choice(ALGORITHMS),
    "seed": _check_seed,
    "margin": _check_non_negative,
    "beta": _check_non_negative,
    "variance": _check_choice(("high", "low")),
}
REQUIRED_AXES = ("env", "dataset")
# trial settings a spec may share across its trials; the grid, the sweep and the CLI set the others
SHARED_TRIAL_KEYS = ("n", "sim", "policy")


@dataclass(frozen=True)
class Resources:
    cpu: float = 1.0   # CPU cores per trial (torch threads too)
    gpu: float = 0.0   # GPU (fraction) per trial: the fit and the RLlib learner run there


@dataclass(frozen=True)
class SweepSpec:
    name: str                                    # table1 … table4: the sweep's name and the table it builds
    preset: str                                  # smoke | quick | paper: budgets of every trial
    grid: dict                                   # axis -> non-empty list of values; trials = their product
    trial: dict = field(default_factory=dict)    # n, sim {…}, policy {…} shared by every trial
    datasets: str = "{env}-{level}"              # dataset name of an env and level (alias or Minari id)
    resources: Resources = Resources()           # per trial
    max_failures: int = 2                        # retries of a failed trial (each resumes from its checkpoint)
    description: str = ""                        # what the sweep reproduces
    reuse_workers: bool = False                  # a worker runs trial after trial, importing torch and RLlib
                                                 # once (seconds-long smoke trials); else one per trial,
                                                 # shown in the Ray dashboard under its trial's label

    def points(self) -> list[dict]:
        """Every grid point, axes in spec order, values in spec order."""
        axes = list(self.grid)
        return [dict(zip(axes, values)) for values in itertools.product(*(self.grid[a] for a in axes))]

    def to_dict(self) -> dict:
        return asdict(self)


def _merge(base: dict, override: dict) -> dict:
    """`override` over `base`, mappings merged key by key (a preset changes one grid axis, one sim key)."""
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) \
            else value
    return merged


def _mapping(value, what: str) -> dict:
    if not isinstance(value, dict):
        raise OffSimError(f"{what} must be a mapping, got {type(value).__name__}")
    return value


def _unknown(d: dict, allowed, what: str) -> None:
    unknown = sorted(map(str, set(d) - set(allowed)))  # YAML keys may be numbers too
    if unknown:
        raise OffSimError(f"unknown {what} keys: {', '.join(unknown)} (allowed: {', '.join(allowed)})")


def _check_grid(grid) -> dict:
    grid = _mapping(grid, "grid")
    _unknown(grid, tuple(AXES), "grid")
    for axis, values in grid.items():
        if not isinstance(values, list) or not values:
            raise OffSimError(f"grid axis {axis} must be a non-empty list, got {values!r}")
        for value in values:
            AXES[axis](axis, value)
        if len(set(map(json.dumps, values))) != len(values):
            raise OffSimError(f"grid axis {axis} repeats a value: {values}")
    return grid


def parse_spec(raw: dict, preset: str, source: str = "spec") -> SweepSpec:
    """A validated spec with `preset` applied; every error names `source` and the key that failed."""
    try:
        return _parse(raw, preset)
    except OffSimError as e:
        raise OffSimError(f"{source}: {e}") from None


def _parse(raw, preset: str) -> SweepSpec:
    raw = _mapping(raw, "a sweep spec")
    _unknown(raw, ("name", "description", "grid", "trial", "datasets", "resources", "max_failures",
                   "reuse_workers", "presets"), "spec")
    presets = _mapping(raw.get("presets", {}), "presets")
    _unknown(presets, PRESET_NAMES, "presets")
    if preset not in PRESET_NAMES:
        raise OffSimError(f"unknown preset {preset!r}; choose one of {', '.join(PRESET_NAMES)}")
    override = _mapping(presets.get(preset) or {}, f"presets.{preset}")
    _unknown(override, ("grid", "trial", "datasets", "resources", "max_failures", "reuse_workers"),
             f"presets.{preset}")
    if "grid" in raw:  # the base grid too: a preset may hide a bad axis of it
        _check_grid(raw["grid"])
    spec = _merge({k: v for k, v in raw.items() if k != "presets"}, override)

    name = spec.get("name")
    if name not in TABLES:
        raise OffSimError(f"name must be one of {', '.join(TABLES)}, got {name!r}")
    grid = _check_grid(spec.get("grid"))
    missing = [axis for axis in REQUIRED_AXES if axis not in grid]
    if missing:
        raise OffSimError(f"grid needs the axes {', '.join(missing)}")
    trial = _mapping(spec.get("trial", {}), "trial")
    _unknown(trial, SHARED_TRIAL_KEYS, "trial")
    for key in ("sim", "policy"):
        _mapping(trial.get(key, {}), f"trial.{key}")
    datasets = spec.get("datasets", SweepSpec.datasets)
    resources = _mapping(spec.get("resources", {}), "resources")
    _unknown(resources, ("cpu", "gpu"), "resources")
    resources = {**asdict(Resources()), **resources}
    for key, ok, what in (("cpu", lambda v: v > 0, "positive"), ("gpu", lambda v: v >= 0, "non-negative")):
        value = resources[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not ok(value):
            raise OffSimError(f"resources.{key} must be a {what} number, got {value!r}")
    max_failures = spec.get("max_failures", SweepSpec.max_failures)
    if isinstance(max_failures, bool) or not isinstance(max_failures, int) or max_failures < 0:
        raise OffSimError(f"max_failures must be a non-negative integer, got {max_failures!r}")
    reuse_workers = spec.get("reuse_workers", SweepSpec.reuse_workers)
    if not isinstance(reuse_workers, bool):
        raise OffSimError(f"reuse_workers must be true or false, got {reuse_workers!r}")
    parsed = SweepSpec(name=name, preset=preset, grid=grid, trial=trial, datasets=datasets,
                       resources=Resources(**{k: float(v) for k, v in resources.items()}),
                       max_failures=max_failures, description=str(spec.get("description", "")),
                       reuse_workers=reuse_workers)
    return _checked_trials(parsed)


def _checked_trials(spec: SweepSpec) -> SweepSpec:
    """`spec` once its dataset template and every trial's config are valid: before anything starts."""
    if not isinstance(spec.datasets, str):
        raise OffSimError(f"datasets must be a name template with {{env}} and {{level}}, got {spec.datasets!r}")
    levels = dict.fromkeys(level for label in spec.grid["dataset"] for level in _DATASET.fullmatch(label).groups()
                           if level)
    named: dict[str, tuple[str, str]] = {}
    for env, level in itertools.product(spec.grid["env"], levels):
        name = _dataset_name(spec, env, level)
        other = named.setdefault(name, (env, level))
        if other != (env, level):
            raise OffSimError(f"datasets template {spec.datasets!r} names the {' '.join(other)} and the {env} "
                              f"{level} data alike ({name}); every env and level of the grid needs its own "
                              "dataset: use {env} and {level}")
    for point in spec.points():
        trial_config(spec, point, out="trial")
    return spec


def load_spec(path: str | Path, preset: str) -> SweepSpec:
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as e:
        raise OffSimError(f"cannot read sweep spec {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise OffSimError(f"{path} is not UTF-8 text") from None
    except yaml.YAMLError as e:
        raise OffSimError(f"{path} is not valid YAML: {' '.join(str(e).split())}") from None
    return parse_spec(raw, preset, str(path))


def with_datasets(spec: SweepSpec, datasets: str | None) -> SweepSpec:
    """The spec with another dataset name template (e.g. a local store's ids); errors name --datasets."""
    if datasets is None:
        return spec
    try:
        return _checked_trials(replace(spec, datasets=datasets))
    except OffSimError as e:
        raise OffSimError(f"--datasets: {e}") from None


def _dataset_name(spec: SweepSpec, env: str, level: str) -> str:
    try:
        return spec.datasets.format(env=env, level=level)
    except (KeyError, IndexError, ValueError) as e:
        raise OffSimError(f"dataset template {spec.datasets!r} has a bad field ({e}); use {{env}} and "
                          "{level}") from None


def dataset_names(spec: SweepSpec, env: str, dataset: str) -> tuple[str, str | None]:
    """(expert, diverse) dataset names of a grid point's `env` and `dataset` label."""
    expert, diverse = _DATASET.fullmatch(dataset).groups()
    return _dataset_name(spec, env, expert), _dataset_name(spec, env, diverse) if diverse else None


def trial_config(spec: SweepSpec, point: dict, out: str, simulators: str | None = None,
                 data_root: str | None = None, offline: bool = False) -> TrialConfig:
    """The TrialConfig of one grid point."""
    expert, diverse = dataset_names(spec, point["env"], point["dataset"])
    sim = dict(spec.trial.get("sim", {}))
    policy = dict(spec.trial.get("policy", {}))
    for axis in ("margin", "beta"):
        if axis in point:
            sim[axis] = float(point[axis])
    if "variance" in point:
        policy["variance"] = point["variance"]
    try:
        return TrialConfig(expert=expert, diverse=diverse, out=out, algo=point.get("algo", "sac"),
                           preset=spec.preset, seed=point.get("seed", 0), n=spec.trial.get("n", 20_000),
                           sim=sim, policy=policy, simulators=simulators, data_root=data_root, offline=offline)
    except TypeError as e:  # its message has no values: show the shared settings
        raise OffSimError(f"trial settings {spec.trial}: {e}") from None
    except OffSimError as e:
        raise OffSimError(f"grid point {point}: {e}") from None


def trial_key(point: dict, config: TrialConfig) -> str:
    """A readable, stable name of a trial: its grid point and a hash of its whole config."""
    identity = {k: v for k, v in config.resolved().items() if k not in ("out", "simulators")}
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:8]
    label = "_".join(f"{axis}={value}" for axis, value in point.items())
    return f"{label}_{digest}"


def trial_label(point: dict) -> str:
    """A grid point as people read it, axes in a fixed order, e.g. `hopper/expert-random/sac/m 0.8/seed 0`."""
    names = {"margin": "m", "beta": "β"}
    parts = [f"{names[axis]} {point[axis]:g}" if axis in names else f"{point[axis]} variance"
             if axis == "variance" else str(point[axis]) for axis in AXES if axis in point and axis != "seed"]
    return "/".join(parts + ([f"seed {point['seed']}"] if "seed" in point else []))


def find_spec(table: str) -> Path:
    """sweeps/<table>.yaml of the working directory, else of the installed package."""
    import sys

    import offsim_ray

    candidates = [Path("sweeps"), Path(offsim_ray.__file__).resolve().parents[1] / "sweeps",
                  Path(sys.prefix) / "share" / "offsim-ray" / "sweeps"]
    for folder in candidates:
        if (folder / f"{table}.yaml").is_file():
            return folder / f"{table}.yaml"
    raise OffSimError(f"no sweep spec for {table!r}: looked for {table}.yaml in "
                      + ", ".join(str(c) for c in candidates))
