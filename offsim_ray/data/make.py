"""D4RL-style datasets made by the project: expert, medium and random rollouts in the real env.

expert: the expert policy's deterministic action plus Gaussian noise of std ACTION_NOISE_STD (in [-1, 1]
action units, clipped to the action box; the dataset's description records it); medium: the medium
policy, likewise; random: uniform actions. Each is `steps` real-env steps in whole episodes (the last one
cut short), written as `local/<task>/<level>-v0`. Every dataset's reference scores are the measured mean
returns of the random (`ref_min_score`) and expert (`ref_max_score`) rollouts, so the normalised score is
0 for random data and 100 for expert data. Rollouts are seeded, so a dataset made alone matches the one
made with the others.

Sampling the policies' own Gaussian instead made Hopper expert data of mean return 2886 against the
expert's 3329 (`offsim-ray data make --env Hopper-v5`, 20k steps, seed 0). With the fixed noise: Hopper
3018 (91% of 3329), Walker2d 3777 (91% of 4160), HalfCheetah 5798 (97% of 5947); docs/experts.md
compares noise levels over 100k steps.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import minari
import numpy as np

from offsim_ray.data.collect import check_env_id, collect_episodes, make_env, make_policy, mean_return, write_dataset
from offsim_ray.data.experts import SHIPPED, ExpertPolicy, expert_files
from offsim_ray.data.store import DatasetStore, exclusive
from offsim_ray.errors import OffSimError

MADE_LEVELS = ("expert", "medium", "random")
MADE_STEPS = 20_000
ACTION_NOISE_STD = 0.05  # of the expert and medium data, in [-1, 1] action units


def task_of(env_id: str) -> str:
    """`HalfCheetah-v5` -> `halfcheetah`."""
    return env_id.split("-v")[0].lower()


def made_id(env_id: str, level: str) -> str:
    """`Hopper-v5`, `expert` -> `local/hopper/expert-v0`."""
    return f"local/{task_of(env_id)}/{level}-v0"


@dataclass(frozen=True)
class MadeDataset:
    level: str
    dataset: minari.MinariDataset
    written: bool          # False: it was already in the store and was kept


def make_datasets(store: DatasetStore, env_id: str, experts: str | os.PathLike | None = None,
                  levels: tuple[str, ...] = MADE_LEVELS, steps: int = MADE_STEPS, seed: int = 0,
                  overwrite: bool = False, progress: bool = True) -> list[MadeDataset]:
    """Makes the datasets of `levels` for `env_id` from the experts in `experts` (default: the shipped
    ones). Without `overwrite`, a level already in the store is kept; a concurrent maker waits."""
    unknown = [level for level in levels if level not in MADE_LEVELS]
    if unknown:
        raise OffSimError(f"unknown dataset level {', '.join(unknown)}; choose from {', '.join(MADE_LEVELS)}")
    check_env_id(env_id)
    folder = Path(experts) if experts is not None else SHIPPED
    files = expert_files(folder, env_id)
    with exclusive(store.root / f".make-{task_of(env_id)}.lock"):
        wanted = [level for level in levels if overwrite or not store.exists(made_id(env_id, level))]
        if not wanted:  # e.g. a concurrent maker made them while this one waited for the lock
            return [MadeDataset(level, store.open(made_id(env_id, level)), False) for level in levels]
        env = make_env(env_id)
        # the random and expert rollouts give every dataset its reference scores, so they always run
        rollouts = {}
        for offset, level in enumerate(MADE_LEVELS):
            if level in wanted or level in ("random", "expert"):
                if level == "random":
                    policy = make_policy("random", env, seed + offset)
                else:
                    policy = partial(ExpertPolicy.load(files[level]).noisy_action,
                                     rng=np.random.default_rng(seed + offset), noise_std=ACTION_NOISE_STD)
                rollouts[level] = collect_episodes(env, policy, steps, seed + offset, progress)
        reference = (mean_return(rollouts["random"]), mean_return(rollouts["expert"]))
        made = []
        for level in levels:
            dataset_id = made_id(env_id, level)
            if level in wanted:
                policy_name = f"the shipped {level} policy" if experts is None else str(files[level])
                source = "uniform actions" if level == "random" else (
                    f"the deterministic action of {policy_name} plus Gaussian noise of std {ACTION_NOISE_STD} "
                    "in [-1, 1] action units, clipped to the action box")
                dataset = write_dataset(
                    store, dataset_id, env_id, rollouts[level], reference,
                    f"offsim-ray data make --level {level} --seed {seed}",
                    f"{level} data of {env_id}: {steps} steps of {source}", overwrite)
                made.append(MadeDataset(level, dataset, True))
            else:
                made.append(MadeDataset(level, store.open(dataset_id), False))
        env.close()
    return made
