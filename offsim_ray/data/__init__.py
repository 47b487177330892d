"""Data stage: Minari datasets -> (s, a, s') Transitions; collection; termination and task rewards; reference scores."""

from offsim_ray.exports import lazy_exports

_MODULES = {
    "collect": ("collect_dataset",),
    "datasets": ("DatasetInfo", "dataset_reference", "describe", "load_transitions", "open_dataset",
                 "resolve_dataset_id", "training_transitions"),
    "scores": ("ReferenceScores", "reference_scores"),
    "store": ("DatasetStore",),
    "termination": ("termination_fn",),
    "transitions": ("DIVERSE", "EXPERT", "NormStats", "Transitions", "mix"),
}
__getattr__ = lazy_exports(__name__, _MODULES)
__all__ = sorted(name for names in _MODULES.values() for name in names)
