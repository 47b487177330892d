"""A machine with no network and no prepared data: `offsim-ray data make` and the smoke reproduction run
from the shipped experts (the `reproduced` fixture runs both in a network namespace without a network)."""

from __future__ import annotations

import pandas as pd

from offsim_ray.data import DatasetStore, describe


def test_data_make_and_smoke_reproduction_without_network_or_data(reproduced):
    store = DatasetStore(reproduced.home / ".minari" / "datasets")
    assert store.ids() == ["local/hopper/expert-v0", "local/hopper/medium-v0", "local/hopper/random-v0"]
    for level in ("expert", "medium", "random"):
        assert f"wrote local/hopper/{level}-v0: 20000 steps" in reproduced.result.stdout
    expert = describe(store.open("local/hopper/expert-v0"))

    trials = pd.read_parquet(reproduced.root / "results" / "table1-smoke-trials.parquet")
    assert len(trials) == 10 and (trials["status"] == "finished").all()
    assert set(trials["algo"]) == {"sac", "clare", "mlirl", "iqlearn", "bc"}
    # every trial scored against the made expert data: it stood in for mujoco/hopper/expert-v0
    assert (trials["reference_expert"] == expert.reference.expert).all()
    assert (reproduced.root / "results" / "table1-smoke.md").read_text().count("Hopper") >= 1
