"""Sweeps on a real local Ray instance: the paper's four tables from smoke sweeps, shared simulators,
a trial worker killed mid-run, an interrupted driver resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
import yaml

from tests.harness import REPO, assert_one_line_error, run_cli
from tests.harness import write_spec


def _csv(root: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(root / "results" / f"{name}-smoke.csv")


def test_reproduce_writes_the_four_tables_with_the_paper_rows_and_columns(reproduced):
    root, result = reproduced.root, reproduced.result
    table1 = _csv(root, "table1")
    assert list(table1[["Env", "Dataset"]].itertuples(index=False, name=None)) == [
        ("Hopper", "Expert"), ("Hopper", "Expert-Random")]
    assert list(table1.columns[2:17:3]) == ["Ours (SAC)", "CLARE", "ML-IRL", "IQ-Learn", "BC"]  # the paper's order
    assert {"Ours (SAC) std", "Ours (SAC) n", "CLARE n", "Expert", "best", "second"} <= set(table1)
    assert (table1["Ours (SAC) n"] == 1).all() and (table1["Expert"] > 1000).all()
    table2 = _csv(root, "table2")
    assert {"0R", "0.8R", "1.6R", "proposed m"} <= set(table2) and len(table2) == 1
    table3a, table3b = _csv(root, "table3a"), _csv(root, "table3b")
    assert {"High", "Low"} <= set(table3a) and len(table3a) == 2
    assert list(table3b["Data"]) == ["Seen", "Unseen"] * 2
    assert table3b[["Expert", "Diverse"]].abs().lt(1).all().all()  # r_φ is bounded by tanh
    table4 = _csv(root, "table4")
    assert {"SAC", "DDPG", "PPO"} <= set(table4) and len(table4) == 1
    for name in ("table1", "table2", "table3", "table4"):
        markdown = (root / "results" / f"{name}-smoke.md").read_text()
        assert markdown.startswith(f"_{name}-smoke: ") and "trials finished_" in markdown
        assert f"{name}-smoke" in result.stdout
    assert "| Hopper | Expert-Random |" in result.stdout  # the tables are printed too
    for name, trials in (("table1", 10), ("table2", 3), ("table3", 4), ("table4", 3)):  # a line per finished trial
        assert f"sweep {name}-smoke: 1/{trials} trials done, 0 failed, about " in result.stderr
        assert f"sweep {name}-smoke: {trials}/{trials} trials done, 0 failed\n" in result.stderr


def test_tidy_rows_hold_every_trial_once_with_finite_results(reproduced):
    root = reproduced.root
    tidy = pd.concat(pd.read_parquet(p) for p in sorted((root / "results").glob("*-trials.parquet")))
    assert len(tidy) == 10 + 3 + 4 + 3 and not tidy.duplicated(["sweep", "key"]).any()
    shared = set(tidy[tidy["table"] == "table1"]["key"]) & set(tidy[tidy["table"] == "table4"]["key"])
    assert len(shared) == 1 and "algo=sac" in shared.pop()  # one trial dir serves both sweeps
    assert (tidy["status"] == "finished").all()
    assert tidy["return_mean"].notna().all() and tidy["seconds"].gt(0).all()
    table2 = tidy[tidy["table"] == "table2"].sort_values("margin")
    assert list(table2["margin"]) == [0.0, 0.8, 1.6]
    measured = table2[table2["margin"] > 0]
    assert measured["reward_scale"].between(0, 1).all()  # R = max|r| of the expert-only reward
    assert measured["margin_value"].tolist() == pytest.approx((measured["margin"] * measured["reward_scale"]).tolist())
    offsim = tidy[tidy["algo"].isin(["sac", "ddpg", "ppo"])]
    errors = offsim[[f"open_loop_error_{k}" for k in range(1, 6)]]
    assert errors["open_loop_error_1"].gt(0).all() and offsim["simulator"].notna().all()
    assert (errors.gt(0) | errors.isna()).all().all()  # k-step windows of a 4000-row subsample may run out
    assert offsim["reward_rank_on_mean"].between(0, 1).all()


def test_trials_that_differ_only_in_algorithm_share_one_simulator_fit(reproduced):
    root = reproduced.root
    table4 = pd.read_parquet(root / "results" / "table4-smoke-trials.parquet")
    metrics = [json.loads((root / "runs" / "trials" / key / "metrics.json").read_text()) for key in table4["key"]]
    assert sorted(m["sim/reused"] for m in metrics) == [0.0, 1.0, 1.0]
    assert not any((root / "runs" / "trials" / key / "simulator").exists() for key in table4["key"])
    table3 = pd.read_parquet(root / "results" / "table3-smoke-trials.parquet")
    fits = [json.loads((root / "runs" / "trials" / key / "metrics.json").read_text())["sim/reused"]
            for key in table3["key"]]
    assert sorted(fits) == [0.0, 0.0, 1.0, 1.0]  # high and low variance: one fit per dataset


def test_rerunning_reproduce_resumes_and_rebuilds_the_same_tables(reproduced):
    root = reproduced.root
    before = {p.name: p.read_bytes() for p in (root / "results").iterdir() if p.is_file()}
    result = run_cli("reproduce", "table4", "--preset", "smoke", "--storage", str(root / "runs"),
                     "--out", str(root / "results"), "--quiet", env=reproduced.env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    after = {p.name: p.read_bytes() for p in (root / "results").iterdir() if p.is_file()}
    assert after == before
    assert f"wrote the report {root / 'results' / 'report-table4-smoke' / 'index.html'}" in result.stdout


def _start_sweep(spec: Path, storage: Path, sweep_data, *flags: str) -> subprocess.Popen:
    env = {**os.environ, "OFFSIM_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-m", "offsim_ray.cli", "sweep", str(spec), "--preset", "smoke",
                             "--storage", str(storage), "--quiet", *sweep_data, *flags],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, what: str, process: subprocess.Popen, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        assert process.poll() is None, f"sweep ended before {what}: {process.communicate()[1][-3000:]}"
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _trials(storage: Path, done: str) -> list[Path]:
    """Trial folders holding `done`: training/progress.json (checkpointed) or metrics.json (finished)."""
    return sorted(p.parents[1] if done.startswith("training") else p.parent
                  for p in (storage / "trials").glob(f"*/{done}"))


def _trial_workers() -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["cmdline"]) if "ray::ImplicitFunc" in " ".join(p.info["cmdline"] or [])]


def test_killed_worker_is_retried_and_an_interrupted_sweep_resumes_without_losing_or_doubling(
        sweep_data, tmp_path):
    """One trial at a time (2 CPUs each, on 2 cores). The first trial's worker is killed after its first
    checkpoint: Tune retries it and it goes on from there. Once a trial has finished, the driver is
    interrupted while the other trains; `--resume` finishes that one and leaves the finished one alone.
    The spec asks for half a GPU, which this machine lacks: a warning, not a hang."""
    spec = write_spec(tmp_path / "spec.yaml", grid={"env": ["hopper"], "dataset": ["expert"],
                                                    "algo": ["sac", "ddpg"], "seed": [0]},
                      trial={"n": 4000, "policy": {"iterations": 8, "checkpoint_every": 2}},
                      resources={"cpu": 2, "gpu": 0.5})
    storage = tmp_path / "runs"
    sweep = _start_sweep(spec, storage, sweep_data)
    (killed,) = _wait_for(lambda: _trials(storage, "training/progress.json"), "a first checkpoint", sweep)
    (worker,) = _wait_for(_trial_workers, "the trial's worker process", sweep)
    worker.kill()
    (finished,) = _wait_for(lambda: _trials(storage, "metrics.json"), "a finished trial", sweep)
    unfinished = _wait_for(lambda: [p for p in _trials(storage, "training/progress.json") if p != finished],
                           "the other trial's checkpoint", sweep)[0]
    sweep.send_signal(signal.SIGINT)
    _, stderr = sweep.communicate(timeout=120)
    assert sweep.returncode == 130, stderr[-3000:]
    assert "the cluster has no GPU: running the table1 sweep's trials on CPU" in stderr
    assert "pass --resume to go on with it" in stderr
    assert not (unfinished / "metrics.json").exists()
    finished_at = (finished / "metrics.json").stat().st_mtime_ns

    resumed = _start_sweep(spec, storage, sweep_data, "--resume")
    _, stderr = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, stderr[-3000:]
    assert (finished / "metrics.json").stat().st_mtime_ns == finished_at  # a finished trial is not rerun
    tables = run_cli("tables", str(storage / "table1-smoke"), "--out", str(tmp_path / "results"))
    assert tables.returncode == 0, tables.stderr
    assert "table1-smoke: 2 of 2 trials finished" in tables.stdout
    tidy = pd.read_parquet(tmp_path / "results" / "table1-smoke-trials.parquet")
    assert sorted(tidy["algo"]) == ["ddpg", "sac"] and (tidy["status"] == "finished").all()
    for trial in {killed, unfinished}:
        metrics = json.loads((trial / "metrics.json").read_text())
        assert metrics["policy/resumed_from"] >= 2  # went on from a checkpoint, not from scratch
    for trial in (killed, unfinished, finished):
        iterations = [json.loads(line)["iteration"] for line in (trial / "training" / "progress.jsonl").open()]
        assert iterations.count(1) == 1 and iterations[-1] == 8


def test_an_existing_sweep_is_neither_restarted_nor_resumed_with_another_spec(reproduced, tmp_path):
    root = reproduced.root
    storage = str(root / "runs")
    result = run_cli("sweep", "sweeps/table4.yaml", "--preset", "smoke", "--storage", storage, env=reproduced.env)
    assert_one_line_error(result, "a sweep already exists at", "pass --resume")
    changed = yaml.safe_load((REPO / "sweeps" / "table4.yaml").read_text())
    changed["presets"]["smoke"]["trial"]["n"] = 3000
    (tmp_path / "table4.yaml").write_text(yaml.safe_dump(changed))
    result = run_cli("sweep", str(tmp_path / "table4.yaml"), "--preset", "smoke", "--storage", storage, "--resume",
                     env=reproduced.env)
    assert_one_line_error(result, "differs from the one the sweep at", "table4-smoke")


def test_a_trial_whose_settings_changed_since_the_sweep_began_runs_again(reproduced):
    """A default changed since the sweep began, simulated: the sweep recorded another key for one trial, whose
    folder holds its results. Tune's state holds that trial as done, so a resume would never run it and its
    table cell would stay pending; reproduce runs the sweep again instead, keeping the old Tune state."""
    root, storage = reproduced.root, reproduced.root / "runs"
    experiment = storage / "table4-smoke"
    plan = json.loads((experiment / "sweep.json").read_text())
    first = plan["trials"][0]
    key, old = first["key"], first["key"] + "0"
    (storage / "trials" / key).rename(storage / "trials" / old)
    first["key"] = old
    (experiment / "sweep.json").write_text(json.dumps(plan))
    result = run_cli("reproduce", "table4", "--preset", "smoke", "--storage", str(storage), "--out",
                     str(root / "results-again"), "--quiet", env=reproduced.env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "sweep table4-smoke: 1 of its trials now have other settings" in result.stderr
    assert len(list(storage.glob("table4-smoke.before-*/sweep.json"))) == 1
    assert (storage / "trials" / key / "metrics.json").exists()
    tidy = pd.read_parquet(root / "results-again" / "table4-smoke-trials.parquet")
    assert len(tidy) == len(plan["trials"]) and (tidy["status"] == "finished").all()
