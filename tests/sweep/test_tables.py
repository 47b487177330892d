"""The aggregator on sweep folders laid out as Tune leaves them: statuses of a partly finished sweep,
a retried trial counted once, best and second best, idempotent output, bad input."""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest

from offsim_ray.errors import OffSimError
from offsim_ray.spec import parse_spec
from offsim_ray.sweep import SWEEP_FILE, SweepPlan
from offsim_ray.tables import build_tables, load_trials, write_tables
from tests.harness import assert_one_line_error, run_cli

SPEC = {"name": "table4", "grid": {"env": ["hopper"], "dataset": ["expert", "expert-random"],
                                   "algo": ["sac", "ddpg", "ppo"], "seed": [0, 1]}}


def _sweep(tmp_path, results: dict[tuple, list[dict]], errors=()):
    """A sweep folder whose Tune trial folders hold `results` (grid point values -> result rows)."""
    plan = SweepPlan(parse_spec(SPEC, "smoke"), str(tmp_path))
    plan.experiment.mkdir()
    (plan.experiment / SWEEP_FILE).write_text(json.dumps(plan.to_dict()))
    for number, point in enumerate(plan.spec.points()):
        values = tuple(point.values())
        if values not in results:
            continue
        key, _ = plan.trial(point)
        folder = plan.experiment / f"offsim_trial_{number:05d}"
        folder.mkdir()
        (folder / "params.json").write_text(json.dumps(point))
        rows = [{**row, "trial/key": key} for row in results[values]]
        (folder / "result.json").write_text("".join(json.dumps(row) + "\n" for row in rows))
        if values in errors:
            (folder / "error.txt").write_text("ActorDiedError")
    return plan.experiment


def _final(value: float) -> dict:
    return {"eval/return_mean": value, "eval/return_std": 1.0, "trial/seconds": 2.0}


def test_partly_finished_sweep_gives_statuses_and_tables_of_the_finished_trials(tmp_path):
    experiment = _sweep(tmp_path, {
        ("hopper", "expert", "sac", 0): [_final(300.0)],
        ("hopper", "expert", "sac", 1): [_final(100.0)],
        ("hopper", "expert", "ddpg", 0): [_final(150.0)],
        ("hopper", "expert", "ppo", 0): [{"policy/updates": 10.0}],            # still training
        ("hopper", "expert", "ppo", 1): [{"policy/updates": 10.0}],            # failed for good
        ("hopper", "expert-random", "sac", 0): [_final(50.0), _final(70.0)],  # retried: its last result counts
    }, errors={("hopper", "expert", "ppo", 1)})
    trials = load_trials([experiment])
    assert len(trials) == 12 and trials["key"].is_unique
    assert trials["status"].value_counts().to_dict() == {"pending": 6, "finished": 4, "unfinished": 1, "error": 1}
    (table,) = build_tables(trials)
    frame = table.frame
    assert frame.loc[("Hopper", "Expert"), "SAC"] == pytest.approx(200.0)
    assert frame.loc[("Hopper", "Expert"), "SAC std"] == pytest.approx(pd.Series([300.0, 100.0]).std())
    assert frame.loc[("Hopper", "Expert"), "SAC n"] == 2
    assert (frame.loc[("Hopper", "Expert"), "best"], frame.loc[("Hopper", "Expert"), "second"]) == ("SAC", "DDPG")
    assert frame.loc[("Hopper", "Expert-Random"), "SAC"] == pytest.approx(70.0)
    markdown = table.markdown()
    assert "**200 ± 141 (2)**" in markdown and "<u>150 ± 0 (1)</u>" in markdown

    written = write_tables(trials, tmp_path / "results")
    status, _, path = written[0]
    assert status == ("table4-smoke: 4 of 12 trials finished (1 unfinished, 1 error, 6 pending); "
                      "the tables hold the finished ones")
    assert path.read_text().startswith(f"_{status}_")
    first = {p.name: p.read_bytes() for p in (tmp_path / "results").iterdir()}
    write_tables(load_trials([experiment]), tmp_path / "results")
    assert {p.name: p.read_bytes() for p in (tmp_path / "results").iterdir()} == first
    assert sorted(first) == ["table4-smoke-trials.parquet", "table4-smoke.csv", "table4-smoke.md",
                             "table4-smoke.parquet"]


def test_sweep_with_nothing_finished_writes_the_status_and_no_table(tmp_path):
    experiment = _sweep(tmp_path, {})
    written = write_tables(load_trials([experiment]), tmp_path / "results")
    assert written[0][1] == [] and "0 of 12 trials finished (12 pending)" in written[0][0]


def test_folder_that_is_not_a_sweep_is_refused(tmp_path):
    with pytest.raises(OffSimError, match="is not an offsim-ray sweep"):
        load_trials([tmp_path])
    assert_one_line_error(run_cli("tables", str(tmp_path / "none")), "no sweep folder at")
    (tmp_path / SWEEP_FILE).write_text("{not json")
    assert_one_line_error(run_cli("tables", str(tmp_path)), "cannot read sweep.json")
    (tmp_path / SWEEP_FILE).write_text("[1]")
    assert_one_line_error(run_cli("tables", str(tmp_path)), f"sweep {tmp_path}: sweep.json holds a list, not a mapping")


@pytest.mark.parametrize("change, fragment", [
    (lambda saved: {}, "sweep.json has no spec"),
    (lambda saved: {**saved, "spec": {**saved["spec"], "preset": None}},
     "sweep.json's spec.preset is None, not a string"),
    (lambda saved: {**saved, "offline": "no"}, "sweep.json's offline is 'no', not true or false"),
    (lambda saved: {**saved, "trials": [{"point": {}}]}, "sweep.json's trial 1 has no key"),
])
def test_a_damaged_sweep_json_is_named_with_the_key_that_failed(tmp_path, change, fragment):
    experiment = _sweep(tmp_path, {})
    saved = json.loads((experiment / SWEEP_FILE).read_text())
    (experiment / SWEEP_FILE).write_text(json.dumps(change(saved)))
    with pytest.raises(OffSimError, match=re.escape(f"sweep {experiment}: {fragment}")):
        load_trials([experiment])


def test_a_sweep_given_twice_or_copied_counts_each_trial_once(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    experiment = _sweep(tmp_path / "a", {("hopper", "expert", "sac", 0): [_final(300.0)],
                                         ("hopper", "expert", "sac", 1): [_final(100.0)]})
    copy = tmp_path / "b" / experiment.name
    shutil.copytree(experiment, copy)
    shutil.rmtree(next(copy.glob("offsim_trial_*")))  # the copy lacks one result: the original's counts
    monkeypatch.chdir(tmp_path)
    trials = load_trials([experiment, f"{experiment}/", f"a/{experiment.name}", copy])
    assert len(trials) == 12 and trials["key"].is_unique
    (table,) = build_tables(trials)
    assert table.frame.loc[("Hopper", "Expert"), "SAC n"] == 2
    assert "2 of 12 trials finished" in write_tables(trials, tmp_path / "results")[0][0]
