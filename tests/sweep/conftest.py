"""Sweep-stage fixtures: where the sweeps read their data, and the four smoke sweeps every sweep test reads."""

from __future__ import annotations

import pytest

from tests.harness import BENCH_IDS, BENCH_ROOT, run_cli


@pytest.fixture(scope="session")
def sweep_data(store) -> list[str]:
    """CLI flags naming the data: the benchmark store's D4RL-style datasets when present, else the
    collected random data in every role."""
    if {"bench/hopper/expert-v0", "bench/hopper/random-v0", "bench/halfcheetah/medium-v0"} <= set(BENCH_IDS):
        return ["--data-root", str(BENCH_ROOT), "--datasets", "bench/{env}/{level}-v0", "--offline"]
    return ["--data-root", str(store.root), "--datasets", "local/{env}/random-v0", "--offline"]


@pytest.fixture(scope="session")
def reproduced(sweep_data, tmp_path_factory):
    """`offsim-ray reproduce all --preset smoke`: the four smoke sweeps and their tables."""
    root = tmp_path_factory.mktemp("reproduce")
    result = run_cli("reproduce", "all", "--preset", "smoke", "--storage", str(root / "runs"),
                     "--out", str(root / "results"), "--quiet", *sweep_data, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return root, result
