"""What a sweep checks before Ray starts (storage, cluster address, datasets), how it reports a failed
trial (one line naming what failed) and its progress: no Ray needed."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from offsim_ray.errors import OffSimError
from offsim_ray.spec import parse_spec, with_datasets
from offsim_ray.sweep import SweepPlan, check_datasets, error_line, progress_line
from tests.harness import BENCH_IDS, BENCH_ROOT, assert_one_line_error, run_cli
from tests.harness import write_spec


def test_unwritable_storage_is_refused_before_ray_starts(tmp_path):
    result = run_cli("sweep", "sweeps/table1.yaml", "--preset", "smoke", "--storage", "/proc/x")
    assert_one_line_error(result, "--storage /proc/x")


def test_unreachable_cluster_address_is_refused_within_seconds(tmp_path):
    started = time.monotonic()
    result = run_cli("sweep", "sweeps/table1.yaml", "--preset", "smoke", "--address", "127.0.0.1:1",
                     "--storage", str(tmp_path / "runs"), timeout=40)
    assert time.monotonic() - started < 30
    assert_one_line_error(result, "--address 127.0.0.1:1", "no Ray cluster reachable")
    assert not (tmp_path / "runs" / "table1-smoke").exists()


@pytest.fixture
def hopper_data(request) -> tuple[Path, str, str]:
    """(store, namespace, level) of Hopper data: the benchmark's expert data, else the collected random data."""
    if "bench/hopper/expert-v0" in BENCH_IDS:
        return BENCH_ROOT, "bench", "expert"
    return request.getfixturevalue("store").root, "local", "random"


def test_data_of_another_env_is_refused_before_any_trial(hopper_data):
    root, namespace, level = hopper_data
    spec = with_datasets(parse_spec({"name": "table1", "grid": {"env": ["walker2d"], "dataset": [level]}},
                                    "smoke"), f"{namespace}/hopper/{{level}}-v0")
    with pytest.raises(OffSimError, match=f"{namespace}/hopper/{level}-v0 holds Hopper-v5 data, not walker2d"):
        check_datasets(SweepPlan(spec, "/unused", str(root), offline=True))


def test_corrupt_dataset_is_one_error_before_any_trial(tmp_path, hopper_data):
    source, namespace, level = hopper_data
    dataset_id = f"{namespace}/hopper/{level}-v0"
    shutil.copytree(source / dataset_id, tmp_path / "store" / dataset_id)
    h5 = tmp_path / "store" / dataset_id / "data" / "main_data.hdf5"
    h5.write_bytes(h5.read_bytes()[: h5.stat().st_size // 2])
    spec = write_spec(tmp_path / "spec.yaml", grid={"env": ["hopper"], "dataset": [level], "algo": ["bc"]})
    result = run_cli("sweep", str(spec), "--preset", "smoke", "--quiet", "--storage", str(tmp_path / "runs"),
                     "--data-root", str(tmp_path / "store"), "--datasets", f"{namespace}/{{env}}/{{level}}-v0",
                     "--offline", timeout=120)
    assert_one_line_error(result, "table1-smoke", dataset_id, "corrupt or truncated")
    assert not (tmp_path / "runs" / "table1-smoke").exists()


def test_a_failed_trial_is_reported_with_its_own_error_not_rays_wrapper():
    from ray.exceptions import RayTaskError

    cause = OffSimError("dataset bench/hopper/expert-v0: 2 of 20000 transitions contain NaN or inf")
    error = RayTaskError("ImplicitFunc.train", "Traceback (most recent call last): ...", cause,
                         proctitle="ray::ImplicitFunc.train", pid=1, ip="127.0.0.1").as_instanceof_cause()
    assert "ray::ImplicitFunc.train" in str(error).splitlines()[0]
    assert error_line(error) == str(cause)
    assert error_line(RuntimeError("worker died\ndetails")) == "worker died"


def test_progress_counts_trials_and_estimates_the_time_left_from_finished_ones():
    # 5 of 10 left, 2 at a time: 3 rounds of the mean 90 s
    assert progress_line("t1-smoke", 10, 4, 1, [60.0, 120.0], 2) == (
        "sweep t1-smoke: 4/10 trials done, 1 failed, about 4 min left (1.5 min a trial, 2 at a time)")
    assert progress_line("t1-smoke", 10, 0, 1, [], 1) == "sweep t1-smoke: 0/10 trials done, 1 failed"
    assert progress_line("t1-smoke", 3, 3, 0, [30.0], 2) == "sweep t1-smoke: 3/3 trials done, 0 failed"
