"""Session fixtures: a store of real Minari datasets collected in real MuJoCo envs, and the
benchmark store beside the repository."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from offsim_ray.data import DatasetStore, collect_dataset  # noqa: E402
from tests.harness import BENCH_ROOT, COLLECTED  # noqa: E402


@pytest.fixture(scope="session")
def store(tmp_path_factory) -> DatasetStore:
    store = DatasetStore(tmp_path_factory.mktemp("minari"))
    for dataset_id, env_id, steps in COLLECTED:
        collect_dataset(store, env_id, "random", steps, dataset_id, seed=1, progress=False)
    return store


@pytest.fixture(scope="session")
def bench_store() -> DatasetStore:
    return DatasetStore(BENCH_ROOT)



@pytest.fixture(scope="session")
def hopper_pair(store, bench_store):
    """(expert, diverse) Hopper-v5 transitions: the benchmark's expert and random data when present,
    else the collected random data in both roles."""
    from offsim_ray.data import load_transitions

    if {"bench/hopper/expert-v0", "bench/hopper/random-v0"} <= set(bench_store.ids()):
        expert = load_transitions("bench/hopper/expert-v0", bench_store, "expert")
        diverse = load_transitions("bench/hopper/random-v0", bench_store, "diverse")
    else:
        expert = load_transitions("local/hopper/random-v0", store, "expert")
        diverse = load_transitions("local/hopper/random-v0", store, "diverse")
    return expert.subsample(2000, 0), diverse.subsample(2000, 1)


@pytest.fixture(scope="session")
def fitted(hopper_pair, tmp_path_factory):
    """An OffSim+ simulator fit with the smoke preset on real Hopper data, and its saved artifact."""
    from offsim_ray.data import mix
    from offsim_ray.simulator import fit_simulator, preset

    expert, diverse = hopper_pair
    simulator, history = fit_simulator(mix(expert, diverse, 1000, 1000, 0), preset("smoke"), progress=False)
    path = simulator.save(tmp_path_factory.mktemp("artifact") / "sim", history)
    return simulator, history, path
