"""A machine with no network and no prepared data: `offsim-ray data make` and the smoke reproduction run
from the shipped experts (the `reproduced` fixture runs both in a network namespace without a network)."""

from __future__ import annotations

import pandas as pd

from offsim_ray.data import DatasetStore, describe


def test_data_make_and_smoke_reproduction_without_network_or_data(reproduced):
    store = DatasetStore(reproduced.home / ".minari" / "datasets")
    made = [f"local/{env}/{level}-v0" for env in ("halfcheetah", "hopper") for level in ("expert", "medium", "random")]
    assert store.ids() == made
    for dataset_id in made:
        assert f"wrote {dataset_id}: 5000 steps" in reproduced.result.stdout
    expert = describe(store.open("local/hopper/expert-v0"))

    trials = pd.read_parquet(reproduced.root / "results" / "table1-smoke-trials.parquet")
    assert len(trials) == 10 and (trials["status"] == "finished").all()
    assert set(trials["algo"]) == {"sac", "clare", "mlirl", "iqlearn", "bc"}
    # every trial scored against the made expert data: it stood in for mujoco/hopper/expert-v0
    assert (trials["reference_expert"] == expert.reference.expert).all()
    assert (reproduced.root / "results" / "table1-smoke.md").read_text().count("Hopper") >= 1
