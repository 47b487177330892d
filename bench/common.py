"""What every benchmark shares: the benchmark store's flags and 20k transitions of one dataset."""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from offsim_ray.data import DatasetStore, Transitions, load_transitions
from offsim_ray.errors import OffSimError
from offsim_ray.simulator import Simulator


DATASETS = "bench/{env}/{level}-v0"  # the benchmark store's dataset names, as a sweep's --datasets template


def store_flags(p: argparse.ArgumentParser, made_root: bool = False) -> argparse.ArgumentParser:
    """--data-root, the benchmark store, and with `made_root` --made-root, the store `offsim-ray data make` fills."""
    p.add_argument("--data-root", default="../shared/datasets", help="Minari store with the benchmark datasets")
    if made_root:
        p.add_argument("--made-root", default="bench-runs/data",
                       help="store for datasets --data-root lacks, made there by `offsim-ray data make`")
    return p


def parser(doc: str) -> argparse.ArgumentParser:
    p = store_flags(argparse.ArgumentParser(description=doc))
    p.add_argument("--dataset", default="bench/hopper/expert-v0")
    return p


def device_label(device: str) -> str:
    """", <GPU name>" for a CUDA device, else "": what a benchmark's machine line adds for the device it timed."""
    return f", {torch.cuda.get_device_name(device)}" if device.startswith("cuda") else ""


def cli(*args: str) -> float:
    """Seconds one `offsim-ray` command takes; its failure ends the benchmark."""
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "offsim_ray.cli", *args], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"offsim-ray {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - started


def transitions(args: argparse.Namespace) -> tuple[DatasetStore, Transitions]:
    store = DatasetStore.from_env(args.data_root)
    return store, load_transitions(args.dataset, store).subsample(20_000, 0)


def artifact_dirs(paths: list[str]) -> list[Path]:
    """Each path that is a simulator artifact (holds meta.json), else the artifacts directly inside it."""
    dirs = []
    for path in map(Path, paths):
        dirs += [path] if (path / "meta.json").is_file() else sorted(p.parent for p in path.glob("*/meta.json"))
    return dirs


def simulators(paths: list[str]):
    """(artifact dir, loaded simulator) for each artifact `artifact_dirs` finds; one of an older config
    format is skipped with a line on stderr."""
    for path in artifact_dirs(paths):
        try:
            yield path, Simulator.load(path)
        except OffSimError as e:
            print(f"skipped {path}: {e}", file=sys.stderr)


def data_root(args: argparse.Namespace, dataset_id: str) -> str:
    """--data-root when it holds the dataset, else --made-root (data made by `offsim-ray data make`)."""
    return args.data_root if (Path(args.data_root) / dataset_id).is_dir() else args.made_root


def trial_simulator(trial: Path) -> Simulator:
    """The simulator a finished learned-env trial trained in, as its algorithm checkpoint names it."""
    settings = trial.resolve() / "training" / "algorithm" / "class_and_ctor_args.pkl"
    try:
        with open(settings, "rb") as f:
            artifact = pickle.load(f)["ctor_args_and_kwargs"][0][0]["learner_config_dict"].get("artifact")
    except (OSError, KeyError, IndexError, ImportError, AttributeError, pickle.UnpicklingError) as e:
        raise OffSimError(f"{trial}: no algorithm checkpoint of a learned-env trial that this code can read "
                          f"({e})") from None
    if not artifact:
        raise OffSimError(f"{trial}: not a learned-env trial (its checkpoint names no simulator)")
    return Simulator.load(artifact)


def trials_parser(doc: str, what: str) -> argparse.ArgumentParser:
    """A parser for a script that reports on finished trials: `what` describes the TRIAL_DIR arguments."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("trials", nargs="+", type=Path, help=what)
    return p


def episode_flags(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """--episodes and --seed of a report that runs a policy from the real env's reset states."""
    p.add_argument("--episodes", type=int, default=5)
    p.add_argument("--seed", type=int, default=100, help="reset seed of the first episode")
    return p


def steps_to_fall(data: Transitions) -> np.ndarray:
    """Per row, the steps left in its run when the run ends in a termination (a fall), else −1."""
    to_fall = np.full(len(data.obs), -1)
    for start, length in zip(*data.runs()):
        if data.terminated[start + length - 1]:
            to_fall[start:start + length] = np.arange(length)[::-1]
    return to_fall


def for_each_trial(script: str, trials: list[Path], report: Callable[[Path], None]) -> None:
    """`report` on each trial at one torch thread; bad input ends the script with one line on stderr."""
    torch.set_num_threads(1)
    try:
        for trial in trials:
            report(trial)
    except OffSimError as e:
        print(f"{script}: {e}", file=sys.stderr)
        sys.exit(1)
