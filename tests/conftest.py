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

