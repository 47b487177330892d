"""Sweep-stage fixtures: where the sweeps read their data."""

from __future__ import annotations

import pytest

from tests.harness import BENCH_IDS, BENCH_ROOT


@pytest.fixture(scope="session")
def sweep_data(store) -> list[str]:
    """CLI flags naming the data: the benchmark store's D4RL-style datasets when present, else the
    collected random data in every role."""
    if {"bench/hopper/expert-v0", "bench/hopper/random-v0", "bench/halfcheetah/medium-v0"} <= set(BENCH_IDS):
        return ["--data-root", str(BENCH_ROOT), "--datasets", "bench/{env}/{level}-v0", "--offline"]
    return ["--data-root", str(store.root), "--datasets", "local/{env}/random-v0", "--offline"]
