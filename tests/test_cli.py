"""The `offsim-ray data` commands as a user runs them, and their one-line errors on bad input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.harness import BENCH_IDS, BENCH_ROOT, REPO, assert_one_line_error, run_cli


def test_collect_info_list_export(tmp_path):
    root = tmp_path / "store"
    result = run_cli("data", "collect", "--env", "Hopper-v5", "--steps", "1500", "--dataset-id",
                     "local/hopper/random-v0", "--no-progress", data_root=root)
    assert result.returncode == 0, result.stderr
    assert "wrote local/hopper/random-v0: 1500 steps" in result.stdout

    info = run_cli("data", "info", "hopper-random", data_root=root)
    assert info.returncode == 0, info.stderr
    fields = dict(line.split(None, 1) for line in info.stdout.splitlines())
    assert fields["steps"] == "1500" and fields["env"] == "Hopper-v5"
    assert fields["observation"] == "Box(11,)" and fields["action"] == "Box(3,)"
    assert fields["reference"].endswith("(dataset metadata)")
    assert fields["description"] == "random policy in Hopper-v5, 1500 steps"

    listing = run_cli("data", "list", "--data-root", str(root))
    assert listing.stdout.splitlines() == [f"1 datasets in {root}", "  local/hopper/random-v0"]

    out = tmp_path / "out" / "mixed.npz"
    export = run_cli("data", "export", "--expert", "hopper-random", "--diverse", "hopper-random",
                     "--n", "1000", "--out", str(out), data_root=root)
    assert export.returncode == 0, export.stderr
    arrays = np.load(out)
    assert arrays["obs"].shape == (1000, 11) and arrays["action"].shape == (1000, 3)
    assert arrays["reward"].shape == (1000,) and np.isfinite(arrays["reward"]).all()
    assert np.bincount(arrays["source"]).tolist() == [500, 500]
    assert [p.name for p in out.parent.iterdir()] == ["mixed.npz"]


@pytest.mark.parametrize("dataset_id", [i for i in BENCH_IDS if i.endswith("expert-v0")])
def test_info_on_the_benchmark_store(dataset_id):
    result = run_cli("data", "info", dataset_id, data_root=BENCH_ROOT)
    assert result.returncode == 0, result.stderr
    assert "episodes     20" in result.stdout and "normalized   100.0" in result.stdout


def test_unknown_dataset(tmp_path):
    # every env has shipped experts, but the project makes no "simple" data
    result = run_cli("data", "info", "hopper-simple", data_root=tmp_path)
    assert_one_line_error(result, "hopper-simple (= mujoco/hopper/simple-v0)", "local datasets: none",
                          "not reachable", "no data of the project stands in for it")


def test_reading_commands_refuse_a_store_that_is_not_there(tmp_path):
    typo = tmp_path / "typo"
    for command in (["data", "list"], ["data", "info", "hopper-random"]):
        assert_one_line_error(run_cli(*command, "--data-root", str(typo)),
                              f"dataset store {typo} (from --data-root) does not exist")
        assert_one_line_error(run_cli(*command, data_root=typo),
                              f"dataset store {typo} (from $MINARI_DATASETS_PATH) does not exist")
    (tmp_path / "file").write_text("keep me")
    assert_one_line_error(run_cli("data", "list", "--data-root", str(tmp_path / "file")),
                          f"dataset store {tmp_path / 'file'} (from --data-root) is not a folder")
    assert not typo.exists() and (tmp_path / "file").read_text() == "keep me"
    # Minari's default store may be absent: it just has no datasets yet
    listing = run_cli("data", "list", env={"HOME": str(tmp_path), "MINARI_DATASETS_PATH": ""})
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.splitlines() == [f"0 datasets in {tmp_path / '.minari' / 'datasets'}"]


def test_spaces_differ(tmp_path):
    root = tmp_path / "store"
    for env, dataset_id in [("Hopper-v5", "local/hopper/random-v0"), ("HalfCheetah-v5", "local/halfcheetah/random-v0")]:
        run_cli("data", "collect", "--env", env, "--steps", "300", "--dataset-id", dataset_id, "--no-progress",
                data_root=root)
    result = run_cli("data", "export", "--expert", "hopper-random", "--diverse", "halfcheetah-random",
                     "--n", "100", "--out", str(tmp_path / "x.npz"), data_root=root)
    assert_one_line_error(result, "different envs")
    assert not (tmp_path / "x.npz").exists()
    result = run_cli("fit", "--expert", "hopper-random", "--diverse", "halfcheetah-random", "--preset", "smoke",
                     "--out", str(tmp_path / "sims" / "s"), data_root=root)
    assert_one_line_error(result, "different envs")
    assert not (tmp_path / "sims").exists()  # refused before the fit: no folder left behind


def test_n_larger_than_the_dataset(tmp_path):
    run_cli("data", "collect", "--env", "Hopper-v5", "--steps", "300", "--dataset-id", "local/hopper/random-v0",
            "--no-progress", data_root=tmp_path)
    result = run_cli("data", "export", "--expert", "hopper-random", "--n", "301", "--out", str(tmp_path / "x.npz"),
                     data_root=tmp_path)
    assert_one_line_error(result, "asked for 301 transitions but the data has only 300")


def test_unwritable_output_and_store(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    result = run_cli("data", "collect", "--env", "Hopper-v5", "--steps", "10", "--dataset-id", "local/x/y-v0",
                     "--data-root", str(blocker / "store"))
    assert_one_line_error(result, "cannot write to the dataset store", str(blocker / "store"))
    run_cli("data", "collect", "--env", "Hopper-v5", "--steps", "300", "--dataset-id", "local/hopper/random-v0",
            "--no-progress", data_root=tmp_path / "s")
    result = run_cli("data", "export", "--expert", "hopper-random", "--n", "10", "--out", str(blocker / "x.npz"),
                     data_root=tmp_path / "s")
    assert_one_line_error(result, f"{blocker} is a file, not a folder")
    # an output under a file is refused before the sweeps that would fill it
    result = run_cli("reproduce", "table1", "--preset", "smoke", "--out", str(blocker / "tables"))
    assert_one_line_error(result, f"{blocker} is a file, not a folder")
    assert blocker.read_text() == "keep me"


def test_usage_errors_are_one_line(tmp_path):
    assert_one_line_error(run_cli("data", "collect", "--env", "Hopper-v5", "--steps", "-5", "--dataset-id", "a/b-v0"),
                          "--steps", "positive")
    assert_one_line_error(run_cli("data", "collect", "--env", "Hopper-v5", "--steps", "many", "--dataset-id", "a/b-v0"),
                          "argument --steps: must be a positive integer, got many")
    assert_one_line_error(run_cli("data", "export", "--expert", "hopper-random", "--seed", "-1", "--out", "x.npz"),
                          "argument --seed: must be an integer ≥ 0, got -1")
    assert_one_line_error(run_cli("data", "collect", "--env", "NoSuchEnv-v0", "--steps", "5", "--dataset-id", "a/b-v0",
                                  data_root=tmp_path), "unknown env NoSuchEnv-v0")
    assert_one_line_error(run_cli("data", "collect", "--env", "Hopper-v5", "--policy", "genius", "--dataset-id",
                                  "a/b-v0", data_root=tmp_path), "unknown policy 'genius'")
    assert_one_line_error(run_cli("data", "frobnicate"), "invalid choice")
    assert_one_line_error(run_cli("fit", "--expert", "hopper-random", "--out", str(tmp_path / "s"), "--preset",
                                  "huge"), "invalid choice: 'huge' (choose from 'smoke', 'quick', 'paper')")


def test_the_command_line_is_read_without_torch_ray_or_rllib():
    """Parsing and checking a command imports none of the heavy packages: a bad command line is answered in
    well under a second, and `--help` at once."""
    script = ("import sys, offsim_ray.cli as cli; cli.build_parser(); "
              "print(*sorted(m for m in ('torch', 'ray', 'ray.tune', 'ray.rllib') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0 and loaded.stdout.strip() == "", loaded.stdout + loaded.stderr[-2000:]


def test_export_keeps_a_file_it_did_not_make(store, tmp_path):
    out = tmp_path / "mine.npz"
    out.write_bytes(b"someone's results")
    result = run_cli("data", "export", "--expert", "hopper-random", "--n", "100", "--out", str(out),
                     data_root=store.root)
    assert_one_line_error(result, f"{out} already exists; pass --overwrite")
    assert out.read_bytes() == b"someone's results"
    replaced = run_cli("data", "export", "--expert", "hopper-random", "--n", "100", "--out", str(out),
                       "--overwrite", data_root=store.root)
    assert replaced.returncode == 0, replaced.stderr
    assert np.load(out)["obs"].shape == (100, 11)


def test_version_and_an_unwritable_expert_run(tmp_path):
    from importlib.metadata import version

    shown = run_cli("--version")
    assert shown.returncode == 0 and shown.stdout.strip() == f"offsim-ray {version('offsim-ray')}"
    (tmp_path / "file").write_text("")
    result = run_cli("experts", "train", "--env", "Hopper-v5", "--out", str(tmp_path / "file" / "run"))
    assert_one_line_error(result, f"cannot create {tmp_path / 'file' / 'run'}")
