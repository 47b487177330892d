"""Data stage: Minari datasets -> (s, a, s') Transitions; collection; termination; reference scores."""

from offsim_ray.data.collect import collect_dataset
from offsim_ray.data.datasets import (
    DatasetInfo,
    dataset_reference,
    describe,
    load_transitions,
    open_dataset,
    resolve_dataset_id,
    training_transitions,
)
from offsim_ray.data.scores import ReferenceScores, reference_scores
from offsim_ray.data.store import DatasetStore
from offsim_ray.data.termination import termination_fn
from offsim_ray.data.transitions import DIVERSE, EXPERT, NormStats, Transitions, mix

__all__ = [
    "DIVERSE",
    "EXPERT",
    "DatasetInfo",
    "DatasetStore",
    "NormStats",
    "ReferenceScores",
    "Transitions",
    "collect_dataset",
    "dataset_reference",
    "describe",
    "load_transitions",
    "mix",
    "open_dataset",
    "reference_scores",
    "resolve_dataset_id",
    "termination_fn",
    "training_transitions",
]
