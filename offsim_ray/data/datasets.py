"""Dataset names -> Minari datasets -> Transitions.

Resolution of a name: a paper-style alias (`hopper-expert`) becomes a Minari id
(`mujoco/hopper/expert-v0`; random data, which the Minari remote lacks, `local/hopper/random-v0`), then
  1. the id in the local store;
  2. the Minari remote, when it is reachable and downloads are allowed (never for `local/` ids);
  3. data made by the project (`local/<task>/<level>-v0`, expert, medium or random): from the local
     store when made before, else made now from the shipped experts (data/make.py); random data of an
     env without shipped experts is collected with uniform actions.
A log line says which one was used whenever it is not the first.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import minari
import numpy as np

from offsim_ray.data.collect import collect_dataset
from offsim_ray.data.experts import shipped_envs
from offsim_ray.data.make import MADE_STEPS, make_datasets, made_id
from offsim_ray.data.scores import ReferenceScores, reference_scores
from offsim_ray.data.store import DatasetStore, exclusive, one_line, remote_reachable
from offsim_ray.data.transitions import SOURCE_NAMES, Transitions, from_episodes, mix
from offsim_ray.errors import OffSimError

log = logging.getLogger(__name__)

TASK_ENVS = {"hopper": "Hopper-v5", "walker2d": "Walker2d-v5", "halfcheetah": "HalfCheetah-v5"}
_ALIAS = re.compile(r"(hopper|walker2d|halfcheetah)-(expert|medium|simple|random)")
_MADE_EQUIVALENT = re.compile(r"(?:local|mujoco)/(hopper|walker2d|halfcheetah)/(expert|medium|random)-v0")


def resolve_dataset_id(name: str) -> str:
    """`hopper-expert` -> `mujoco/hopper/expert-v0`; `hopper-random` -> `local/hopper/random-v0`."""
    alias = _ALIAS.fullmatch(name.lower())
    if alias is None:
        return name
    task, level = alias.groups()
    return f"local/{task}/random-v0" if level == "random" else f"mujoco/{task}/{level}-v0"


def _made(dataset_id: str, store: DatasetStore, why: str, progress: bool) -> minari.MinariDataset | None:
    """Step 3 of the resolution: the project's own data standing in for `dataset_id`, if there is one."""
    match = _MADE_EQUIVALENT.fullmatch(dataset_id)
    if match is None:
        return None
    task, level = match.groups()
    env_id, made = TASK_ENVS[task], made_id(TASK_ENVS[task], level)
    shown = dataset_id if made == dataset_id else f"{dataset_id} ({why})"
    if store.exists(made):
        log.info("%s: using %s from %s, made earlier by offsim-ray", shown, made, store.root)
    elif env_id in shipped_envs():
        log.info("%s: making %s in %s from the shipped %s experts", shown, made, store.root, env_id)
        make_datasets(store, env_id, levels=(level,), steps=MADE_STEPS, progress=progress)
    elif level == "random":
        log.info("%s: collecting %d uniform-random steps of %s into %s", shown, MADE_STEPS, env_id, store.root)
        with exclusive(store.root / f".make-{task}.lock"):
            if not store.exists(made):
                collect_dataset(store, env_id, "random", MADE_STEPS, made, progress=progress)
    else:
        return None
    return store.open(made)


def open_dataset(
    name: str, store: DatasetStore, download: bool = True, progress: bool = True
) -> minari.MinariDataset:
    dataset_id = resolve_dataset_id(name)
    if store.exists(dataset_id):
        return store.open(dataset_id)
    if not download:
        remote = "download disabled"
    elif dataset_id.startswith("local/"):
        remote = "local/ ids are never downloaded"
    elif not remote_reachable():
        remote = "the Minari remote is not reachable"
    else:
        log.info("downloading %s from the Minari remote into %s", dataset_id, store.root)
        store.download(dataset_id)
        return store.open(dataset_id)
    made = _made(dataset_id, store, remote, progress)
    if made is not None:
        return made
    shown = name if name == dataset_id else f"{name} (= {dataset_id})"
    local = ", ".join(store.ids()) or "none"
    raise OffSimError(
        f"unknown dataset {shown}: not in the local store {store.root} (local datasets: {local}); {remote}; "
        f"no data of the project stands in for it (shipped experts: {', '.join(shipped_envs()) or 'none'})"
    )


def env_id_of(dataset: minari.MinariDataset) -> str:
    spec = dataset.spec.env_spec
    if spec is None:
        raise OffSimError(f"dataset {dataset.spec.dataset_id} records no env spec")
    return spec.id


def read_episodes(dataset: minari.MinariDataset) -> list[minari.EpisodeData]:
    """Every episode, decoded; a damaged episode file is an OffSimError naming it."""
    try:
        return list(dataset.iterate_episodes())
    except Exception as e:  # h5py and Minari raise many types for a damaged file
        raise OffSimError(
            f"dataset {dataset.spec.dataset_id}: cannot read episodes from "
            f"{dataset.storage.data_path}: {one_line(e)}"
        ) from None


def load_transitions(
    name: str,
    store: DatasetStore,
    source: str = "expert",
    drop_nonfinite: bool = False,
    download: bool = True,
) -> Transitions:
    """All (s, a, s') tuples of a dataset, labelled `source` (expert | diverse).

    Rows with NaN or inf are refused, or dropped (and counted in the log) with `drop_nonfinite`.
    """
    if source not in SOURCE_NAMES:
        raise OffSimError(f"unknown source '{source}'; use one of {', '.join(SOURCE_NAMES)}")
    dataset = open_dataset(name, store, download)
    transitions = from_episodes(
        read_episodes(dataset), SOURCE_NAMES[source], env_id_of(dataset), dataset.spec.dataset_id
    )
    dataset_id = dataset.spec.dataset_id
    bad = transitions.nonfinite_rows()
    if bad.any():
        if not drop_nonfinite:
            raise OffSimError(
                f"dataset {dataset_id}: {int(bad.sum())} of {len(transitions)} transitions contain "
                "NaN or inf; pass --drop-nonfinite (in a trial config: drop_nonfinite: true) to drop them"
            )
        log.info("dataset %s: dropped %d transitions with NaN or inf", dataset_id, int(bad.sum()))
        transitions = transitions.take(~bad)
    return transitions


def training_transitions(
    expert: str,
    diverse: str | None,
    n: int,
    seed: int,
    store: DatasetStore,
    drop_nonfinite: bool = False,
    download: bool = True,
) -> Transitions:
    """n transitions to fit on: the expert data alone, or n/2 expert + n/2 diverse (OffSim+)."""
    kwargs = dict(drop_nonfinite=drop_nonfinite, download=download)
    expert_data = load_transitions(expert, store, "expert", **kwargs)
    if not diverse:
        return expert_data.subsample(n, seed)
    diverse_data = load_transitions(diverse, store, "diverse", **kwargs)
    half = n // 2
    return mix(expert_data, diverse_data, n - half, half, seed)


def dataset_reference(name: str, store: DatasetStore, download: bool = True) -> ReferenceScores:
    """The reference returns (0 and 100) of a dataset's normalised score."""
    dataset = open_dataset(name, store, download)
    return reference_scores(dataset.storage.metadata, env_id_of(dataset))


@dataclass(frozen=True)
class DatasetInfo:
    """What `offsim-ray data info` shows of one dataset."""

    dataset_id: str
    env_id: str
    steps: int
    episodes: int
    obs_shape: tuple[int, ...]
    action_shape: tuple[int, ...]
    return_mean: float
    return_std: float
    return_min: float
    return_max: float
    reference: ReferenceScores
    algorithm: str = ""     # how the data was made, from the dataset's metadata
    description: str = ""

    def lines(self) -> list[str]:
        ref = self.reference
        return [
            f"dataset      {self.dataset_id}",
            f"env          {self.env_id}",
            f"steps        {self.steps}",
            f"episodes     {self.episodes}",
            f"observation  Box{self.obs_shape}",
            f"action       Box{self.action_shape}",
            f"return       mean {self.return_mean:.1f}  std {self.return_std:.1f}  "
            f"min {self.return_min:.1f}  max {self.return_max:.1f}",
            f"reference    random {ref.random:.1f}  expert {ref.expert:.1f}  ({ref.origin})",
            f"normalized   {float(ref.normalize(self.return_mean)):.1f}",
        ] + [f"{label:<12} {text}" for label, text in [("algorithm", self.algorithm),
                                                       ("description", self.description)] if text]


def describe(dataset: minari.MinariDataset) -> DatasetInfo:
    returns = np.array([float(np.sum(e.rewards)) for e in read_episodes(dataset)])
    env_id = env_id_of(dataset)
    return DatasetInfo(
        dataset_id=dataset.spec.dataset_id,
        env_id=env_id,
        steps=int(dataset.total_steps),
        episodes=int(dataset.total_episodes),
        obs_shape=tuple(dataset.observation_space.shape),
        action_shape=tuple(dataset.action_space.shape),
        return_mean=float(returns.mean()),
        return_std=float(returns.std()),
        return_min=float(returns.min()),
        return_max=float(returns.max()),
        reference=reference_scores(dataset.storage.metadata, env_id),
        algorithm=dataset.storage.metadata.get("algorithm_name") or "",
        description=dataset.storage.metadata.get("description") or "",
    )
