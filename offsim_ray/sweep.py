"""A sweep spec run as Ray Tune trials: resources, GPU fallback, retries, resume. The only module that
imports Ray Tune.

Storage layout (STORAGE: a folder every node of the cluster can reach):
  STORAGE/<name>-<preset>/      the Tune experiment: experiment state, a folder per trial (params.json,
                                result.json, TensorBoard events), and sweep.json (the spec and its trials)
  STORAGE/trials/<key>/         each trial's run_trial directory: checkpoints, policy, metrics.json
  STORAGE/simulators/<key>/     simulator artifacts, shared by every trial (and sweep) with the same data
                                and fit config
A retried or resumed trial finds its checkpoints under trials/<key> and goes on from there; a trial that
had finished returns its stored metrics.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from offsim_ray.errors import OffSimError
from offsim_ray.files import check_keys, read_json, write_json
from offsim_ray.policy.rllib import quiet_ray_logs
from offsim_ray.spec import SweepSpec, dataset_names, parse_spec, trial_config, trial_key, trial_label
from offsim_ray.threads import set_threads

log = logging.getLogger("offsim_ray.sweep")
SWEEP_FILE = "sweep.json"
# SweepPlan.to_dict's keys; the spec is checked by parse_spec
SWEEP_KEYS = {"spec": {"preset": str}, "storage": str, "data_root": str | None, "offline": bool,
              "trials": list[dict]}


@dataclass(frozen=True)
class SweepPlan:
    """Where a sweep runs and what it reads; the same on every node."""

    spec: SweepSpec                   # the parsed sweep: grid, presets, resources
    storage: str                      # absolute path of the shared storage folder
    data_root: str | None = None      # Minari store of the datasets (None: every node's default)
    offline: bool = False             # never try the Minari remote

    @property
    def experiment(self) -> Path:
        return Path(self.storage) / f"{self.spec.name}-{self.spec.preset}"

    def trial(self, point: dict, device: str = "cpu"):
        """(key, TrialConfig) of a grid point; `device` moves the fit and the learner."""
        trials = Path(self.storage) / "trials"
        config = trial_config(self.spec, point, out=str(trials), simulators=str(Path(self.storage) / "simulators"),
                              data_root=self.data_root, offline=self.offline)
        key = trial_key(point, config)  # of everything but `out`
        config = replace(config, out=str(trials / key))
        if device != "cpu":
            config = replace(config, sim={**config.sim, "device": device},
                             policy={**config.policy, "device": device})
        return key, config

    def to_dict(self) -> dict:
        points = self.spec.points()
        return {"spec": self.spec.to_dict(), "storage": self.storage, "data_root": self.data_root,
                "offline": self.offline, "trials": [{"key": self.trial(p)[0], "point": p} for p in points]}


def read_sweep_file(experiment: Path) -> dict:
    saved = read_json(experiment / SWEEP_FILE, f"{experiment} is not an offsim-ray sweep (no {SWEEP_FILE})",
                      f"sweep {experiment}", SWEEP_KEYS)
    for number, trial in enumerate(saved["trials"], 1):
        check_keys(trial, {"key": str, "point": dict}, f"sweep {experiment}: {SWEEP_FILE}'s trial {number}")
    return saved


def load_plan(experiment: Path, saved: dict | None = None) -> SweepPlan:
    """The plan a sweep was started with, from its sweep.json (`saved`: its contents, already read)."""
    saved = saved or read_sweep_file(experiment)
    raw = {k: v for k, v in saved["spec"].items() if k != "preset"}
    spec = parse_spec(raw, saved["spec"]["preset"], str(experiment / SWEEP_FILE))
    return SweepPlan(spec, saved["storage"], saved["data_root"], saved["offline"])


def changed_trials(saved: dict, plan: SweepPlan) -> list[str]:
    """Labels of `plan`'s grid points whose trial key is not the one its sweep.json (`saved`) recorded when
    it began (a default of the package changed since): the sweep's Tune state holds them as done."""
    recorded = {json.dumps(t["point"], sort_keys=True): t["key"] for t in saved["trials"]}
    return [trial_label(p) for p in plan.spec.points()
            if recorded.get(json.dumps(p, sort_keys=True)) != plan.trial(p)[0]]


def offsim_trial(params: dict, plan: SweepPlan) -> None:
    """The Tune trainable: one grid point through run_trial, each policy iteration reported to Tune."""
    import ray
    from ray import tune

    from offsim_ray.trial import run_trial

    set_threads(max(1, int(plan.spec.resources.cpu)))
    point = {axis: params[axis] for axis in plan.spec.grid}
    key, config = plan.trial(point, "cuda" if ray.get_gpu_ids() else "cpu")
    context = {"trial/key": key, "trial/node": ray.get_runtime_context().get_node_id()}
    metrics = run_trial(config, progress=False, report=lambda row: tune.report({**row, **context}))
    tune.report({**metrics, **context})


class TrialWorker:
    """Mixed into the class Tune makes of `offsim_trial`: the worker's repr, which the Ray dashboard lists
    (Actors, Repr) and its log lines carry, is the label of the trial it starts with. Ray reads it once,
    so only a worker per trial (the spec's `reuse_workers: false`) keeps it true."""

    def setup(self, config):
        self._name = trial_label(config)
        super().setup(config)


offsim_trial.__mixins__ = (TrialWorker,)


def _trainable(plan: SweepPlan):
    from ray import tune

    resources = {"cpu": plan.spec.resources.cpu, "gpu": plan.spec.resources.gpu}
    return tune.with_resources(tune.with_parameters(offsim_trial, plan=plan), resources)


def progress_line(name: str, total: int, done: int, failed: int, walls: list[float], slots: int) -> str:
    """One line on a sweep: trials done and failed of `total`, and the time left at the finished trials' mean
    wall time (seconds in `walls`), `slots` trials at a time."""
    line = f"sweep {name}: {done}/{total} trials done, {failed} failed"
    left = total - done - failed
    if left > 0 and walls:
        mean = sum(walls) / len(walls)
        line += (f", about {math.ceil(left / slots) * mean / 60:.0f} min left ({mean / 60:.1f} min a trial, "
                 f"{slots} at a time)")
    return line


def _progress(name: str, total: int):
    """A Tune callback that prints `progress_line` to stderr as each trial finishes or fails."""
    from ray import tune

    class SweepProgress(tune.Callback):
        def __init__(self):
            self.started: dict[str, float] = {}
            self.walls: list[float] = []
            self.slots = 1

        def on_trial_start(self, iteration, trials, trial, **info):
            self.started[trial.trial_id] = time.monotonic()
            self.slots = max(self.slots, len(self.started))

        def on_trial_complete(self, iteration, trials, trial, **info):
            self._ended(trials, trial, failed=False)

        def on_trial_error(self, iteration, trials, trial, **info):
            self._ended(trials, trial, failed=True)

        def _ended(self, trials, trial, failed: bool) -> None:
            started = self.started.pop(trial.trial_id, None)
            if started is not None and not failed:
                self.walls.append(time.monotonic() - started)
            others = [t.status for t in trials if t is not trial]
            done = others.count(trial.TERMINATED) + (not failed)
            print(progress_line(name, total, done, others.count(trial.ERROR) + failed, self.walls, self.slots),
                  file=sys.stderr, flush=True)

    return SweepProgress()


TRACKERS = ("mlflow", "wandb")  # --track values: each the package, and the extra, it needs


def tracker(name: str, experiment: str):
    """Ray Tune's own logger callback for `--track NAME`, a run per trial in a project or experiment named
    after the sweep. MLflow writes where $MLFLOW_TRACKING_URI says; W&B reads its own settings
    ($WANDB_MODE=offline keeps the runs on disk)."""
    if importlib.util.find_spec(name) is None:
        raise OffSimError(f"--track {name} needs the {name} package: pip install 'offsim-ray[{name}]'")
    if name == "mlflow":
        from ray.air.integrations.mlflow import MLflowLoggerCallback

        return MLflowLoggerCallback(experiment_name=experiment, save_artifact=False)
    from ray.air.integrations.wandb import WandbLoggerCallback

    return WandbLoggerCallback(project=experiment)


def check_storage(storage: Path) -> None:
    """An error naming the folder, before Ray starts, when the sweep cannot create or write it."""
    try:
        storage.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=storage).close()
    except OSError as e:
        raise OffSimError(f"--storage {storage}: cannot create or write the folder: {e.strerror or e}") from None


def check_address(address: str | None, timeout: float = 5.0) -> None:
    """An error naming the address when a HOST:PORT (or ray://HOST:PORT) cluster address takes no TCP
    connection within `timeout` seconds; `auto`, `local` and other forms are left to Ray."""
    flag = "--address" if address else "$RAY_ADDRESS"
    address = address or os.environ.get("RAY_ADDRESS") or ""
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if "://" in target or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        raise OffSimError(f"{flag} {address}: no Ray cluster reachable there within {timeout:g} s "
                          f"({e.strerror or e})") from None


def check_datasets(plan: SweepPlan) -> None:
    """Opens each dataset of the plan once, as its trials will (same store, same remote setting), so that
    a missing or corrupt one, or one of another env, is one error before any trial starts."""
    from offsim_ray.data import DatasetStore, open_dataset, reference_scores
    from offsim_ray.data.datasets import env_id_of
    from offsim_ray.data.make import task_of

    store = DatasetStore.from_env(plan.data_root)
    envs = {name: point["env"] for point in plan.spec.points()
            for name in dataset_names(plan.spec, point["env"], point["dataset"]) if name}
    for name, env in envs.items():
        try:
            dataset = open_dataset(name, store, download=not plan.offline, progress=False)
            env_id = env_id_of(dataset)
            reference_scores(dataset.storage.metadata, env_id)
            if task_of(env_id) != env:
                raise OffSimError(f"dataset {name} holds {env_id} data, not {env} data")
        except OffSimError as e:
            raise OffSimError(f"sweep {plan.experiment.name}: {e}") from None


def error_line(error: BaseException) -> str:
    """A failed trial's own error: an OffSimError's message rather than Ray's `ray::ImplicitFunc.train()`
    wrapper around it, else the error's first line."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, OffSimError):
        return str(cause)
    return str(error).splitlines()[0] if str(error).strip() else type(error).__name__


def _connect(address: str | None, name: str) -> str:
    """Joins (or starts) the Ray cluster as a job named `name` (the dashboard's Jobs page, column Name, for
    a driver started here; a `ray job submit` takes its name from `--metadata-json`); returns where its
    dashboard is, when it has one."""
    import ray
    from ray.job_config import JobConfig

    try:
        context = ray.init(address=address, log_to_driver=False, configure_logging=False,
                           ignore_reinit_error=True, job_config=JobConfig(metadata={"job_name": name}))
    except ConnectionError as e:  # e.g. `auto` with no cluster running
        raise OffSimError(f"cannot join the Ray cluster {address or '$RAY_ADDRESS'}: "
                          f"{' '.join(str(e).split())}") from None
    quiet_ray_logs(rllib=False)
    return context.dashboard_url or ""


def _fit_to_cluster(plan: SweepPlan) -> SweepPlan:
    """A spec asking for GPUs on a cluster with none runs on CPU instead of waiting forever."""
    import ray

    gpus = ray.cluster_resources().get("GPU", 0)
    if plan.spec.resources.gpu > 0 and gpus == 0:
        log.warning("the cluster has no GPU: running the %s sweep's trials on CPU instead of waiting for "
                    "%g GPU each", plan.spec.name, plan.spec.resources.gpu)
        return replace(plan, spec=replace(plan.spec, resources=replace(plan.spec.resources, gpu=0.0)))
    return plan


@dataclass(frozen=True)
class SweepOutcome:
    experiment: Path
    finished: int
    errored: list[str]    # Tune trial ids with their error file
    interrupted: bool


def run_sweep(plan: SweepPlan, resume: bool = False, address: str | None = None,
              verbose: int = 1, track: tuple[str, ...] = ()) -> SweepOutcome:
    """Runs the sweep, or with `resume` the unfinished and errored trials of the one at the same place.
    `track`: TRACKERS to log every trial to, from its start on (a resumed sweep keeps those it began with)."""
    from ray import tune

    experiment = plan.experiment
    trackers = [tracker(name, experiment.name) for name in track]
    if resume:
        if not tune.Tuner.can_restore(str(experiment)):
            raise OffSimError(f"nothing to resume at {experiment}: start the sweep without --resume")
        record = read_sweep_file(experiment)
        saved = load_plan(experiment, record)
        if saved.spec != plan.spec:
            raise OffSimError(f"{plan.spec.name} spec (preset {plan.spec.preset}) differs from the one the "
                              f"sweep at {experiment} started with (see its {SWEEP_FILE}); go on with the same "
                              "spec and flags, or choose another --storage")
        changed = changed_trials(record, saved)
        if changed:  # Tune would never run them: a new Tune run, where unchanged trials return their results
            moved = experiment.with_name(f"{experiment.name}.before-{time.strftime('%Y%m%d-%H%M%S')}")
            experiment.rename(moved)
            print(f"sweep {experiment.name}: {len(changed)} of its trials now have other settings than when it "
                  f"began (e.g. {changed[0]}: a default changed); running it again, finished trials with "
                  f"unchanged settings return their stored results; its earlier Tune state is in {moved}",
                  file=sys.stderr)
            resume = False
        else:
            plan = saved
    if not resume and experiment.exists():
        raise OffSimError(f"a sweep already exists at {experiment}: pass --resume to go on with it, or "
                          "choose another --storage")
    check_storage(Path(plan.storage))
    check_address(address)
    check_datasets(plan)
    dashboard = _connect(address, f"offsim-ray {experiment.name}")
    if not verbose:  # no tracebacks: each failed trial is listed with its own error (and its error.txt)
        logging.getLogger("ray.tune").setLevel(logging.CRITICAL)
    requested, plan = plan, _fit_to_cluster(plan)
    if resume:
        if track:
            log.warning("%s resumes with the trackers it started with; --track %s is not added",
                        experiment.name, " ".join(track))
        tuner = tune.Tuner.restore(str(experiment), _trainable(plan), resume_unfinished=True,
                                   resume_errored=True)
    else:
        experiment.mkdir(parents=True)
        write_json(experiment / SWEEP_FILE, requested.to_dict())
        tuner = tune.Tuner(
            _trainable(plan),
            param_space={axis: tune.grid_search(values) for axis, values in plan.spec.grid.items()},
            tune_config=tune.TuneConfig(reuse_actors=plan.spec.reuse_workers),
            run_config=tune.RunConfig(
                name=experiment.name, storage_path=str(experiment.parent), verbose=verbose,
                failure_config=tune.FailureConfig(max_failures=plan.spec.max_failures),
                callbacks=[_progress(experiment.name, len(plan.spec.points())), *trackers]),
        )
    print(f"sweep {experiment.name}: {len(plan.spec.points())} trials, {plan.spec.resources.cpu:g} CPU and "
          f"{plan.spec.resources.gpu:g} GPU each -> {experiment}"
          + (f"; Ray dashboard: http://{dashboard}" if dashboard else ""), file=sys.stderr)
    results = tuner.fit()
    finished = [r for r in results if "eval/return_mean" in (r.metrics or {})]
    interrupted = len(finished) + results.num_errors < len(results)
    errored = [] if interrupted else [f"{r.path}: {error_line(r.error)}"
                                      for r in results if r.error is not None and r not in finished]
    return SweepOutcome(experiment, len(finished), errored, interrupted)
