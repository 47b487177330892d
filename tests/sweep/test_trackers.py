"""`--track`: a smoke sweep logged to a real local MLflow file store through Tune's callback, its workers
labelled with their trials, and a tracker whose package is missing refused in one line."""

from __future__ import annotations

import importlib.util
import json
import os
import tempfile
from pathlib import Path

from offsim_ray.spec import trial_label
from tests.harness import assert_one_line_error, run_cli, write_spec


def _worker_log_labels(pid: int) -> list[str]:
    """The names Ray wrote into the log of worker process `pid`: its actor's class, then the repr it took
    once the actor was made (the Repr the dashboard's Actors page shows)."""
    root = Path(os.environ.get("RAY_TMPDIR", tempfile.gettempdir())) / "ray"
    logs = sorted(root.glob(f"session_*/logs/worker-*-{pid}.out"), key=lambda p: p.stat().st_mtime)
    return [line.removeprefix(":actor_name:") for line in logs[-1].read_text().splitlines()
            if line.startswith(":actor_name:")] if logs else []


def test_a_tracked_sweep_leaves_a_run_per_trial_with_its_params_and_metrics(sweep_data, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps a folder store behind this flag
    spec = write_spec(tmp_path / "spec.yaml", grid={"env": ["hopper"], "dataset": ["expert"], "algo": ["bc"],
                                                    "seed": [0, 1]}, reuse_workers=False)
    uri = (tmp_path / "mlruns").as_uri()
    result = run_cli("sweep", str(spec), "--preset", "smoke", "--quiet", "--storage", str(tmp_path / "runs"),
                     "--track", "mlflow", *sweep_data, timeout=600,
                     env={"MLFLOW_TRACKING_URI": uri})
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("table1-smoke")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(run.data.params["seed"] for run in runs) == ["0", "1"]
    for run in runs:
        assert {"env": "hopper", "dataset": "expert", "algo": "bc"}.items() <= run.data.params.items()
        assert run.data.metrics["eval/return_mean"] > 0 and run.data.metrics["policy/updates"] > 0
        assert run.info.status == "FINISHED"
    for trial in (tmp_path / "runs" / "table1-smoke").glob("*/params.json"):  # a worker per trial, labelled
        pid = json.loads(trial.with_name("result.json").read_text().splitlines()[-1])["pid"]
        assert _worker_log_labels(pid) == ["ImplicitFunc", trial_label(json.loads(trial.read_text()))]


def test_a_tracker_without_its_package_is_refused_before_the_sweep_starts(tmp_path):
    assert importlib.util.find_spec("wandb") is None  # the test extra leaves it out
    result = run_cli("sweep", "sweeps/table1.yaml", "--preset", "smoke", "--storage", str(tmp_path / "runs"),
                     "--track", "wandb")
    assert_one_line_error(result, "--track wandb", "pip install 'offsim-ray[wandb]'")
    assert not (tmp_path / "runs" / "table1-smoke").exists()
