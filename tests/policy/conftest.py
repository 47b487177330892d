"""Policy-stage fixtures: a local Ray instance and smoke-preset trials of every algorithm on real data,
sharing one simulator artifact."""

from __future__ import annotations

import pytest

from tests.harness import ALGOS, BENCH_IDS, BENCH_ROOT, smoke_config


@pytest.fixture(scope="session")
def local_ray():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def trial_data(store):
    """(data root, expert dataset id): the benchmark's Hopper expert data when present, else the
    collected random Hopper data."""
    if "bench/hopper/expert-v0" in BENCH_IDS:
        return str(BENCH_ROOT), "bench/hopper/expert-v0"
    return str(store.root), "local/hopper/random-v0"



@pytest.fixture(scope="session")
def trials(local_ray, trial_data, tmp_path_factory):
    """algo -> (config, metrics) of a smoke trial each; the RL trials share one simulator artifact,
    fit by the first of them, and CLARE and ML-IRL one dynamics ensemble in a shared folder."""
    from offsim_ray.trial import run_trial

    root = tmp_path_factory.mktemp("trials")
    done = {}
    for algo in ALGOS:
        config = smoke_config(trial_data, root / algo, algo, artifact=str(root / "simulator"),
                              simulators=str(root / "dynamics"))
        done[algo] = (config, run_trial(config, progress=False))
    return done
