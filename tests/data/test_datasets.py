"""Dataset resolution, reference scores and the store's all-or-nothing writes, on real Minari files."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from offsim_ray.data import DatasetStore, collect_dataset, describe, load_transitions, open_dataset, resolve_dataset_id
from offsim_ray.data import collect as collect_module
from offsim_ray.data import datasets as datasets_module
from offsim_ray.errors import OffSimError
from tests.harness import BENCH_IDS, make_nonfinite_dataset


def _copy_store(store: DatasetStore, tmp_path, *ids: str) -> DatasetStore:
    copy = DatasetStore(tmp_path / "store")
    for dataset_id in ids:
        shutil.copytree(store.root / dataset_id, copy.root / dataset_id)
    return copy


@pytest.mark.parametrize(
    "name, dataset_id",
    [
        ("hopper-expert", "mujoco/hopper/expert-v0"),
        ("walker2d-medium", "mujoco/walker2d/medium-v0"),
        ("HalfCheetah-Simple", "mujoco/halfcheetah/simple-v0"),
        ("halfcheetah-random", "local/halfcheetah/random-v0"),
        ("bench/hopper/expert-v0", "bench/hopper/expert-v0"),
    ],
)
def test_aliases(name, dataset_id):
    assert resolve_dataset_id(name) == dataset_id


def test_unknown_id_names_the_local_ids_and_the_unreachable_remote(store, monkeypatch):
    monkeypatch.setenv("OFFSIM_OFFLINE", "1")
    with pytest.raises(OffSimError) as error:
        open_dataset("hopper-simple", store)
    message = str(error.value)
    assert "hopper-simple (= mujoco/hopper/simple-v0)" in message
    assert "local/hopper/random-v0, local/walker2d/random-v0" in message
    assert "not reachable" in message


def test_a_missing_random_dataset_is_collected_locally(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets_module, "MADE_STEPS", 500)
    store = DatasetStore(tmp_path)
    dataset = open_dataset("hopper-random", store, progress=False)
    assert dataset.spec.dataset_id == "local/hopper/random-v0" and dataset.total_steps == 500
    assert store.ids() == ["local/hopper/random-v0"]


def test_collected_dataset_records_reference_scores(store):
    info = describe(store.open("local/hopper/random-v0"))
    assert info.steps == 3000 and info.env_id == "Hopper-v5"
    assert info.obs_shape == (11,) and info.action_shape == (3,)
    assert info.reference.origin == "dataset metadata"
    assert info.reference.random == pytest.approx(info.return_mean)
    assert info.reference.expert == pytest.approx(3234.3)
    assert float(info.reference.normalize(info.return_mean)) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("dataset_id", BENCH_IDS)
def test_benchmark_reference_scores_come_from_metadata(bench_store, dataset_id):
    info = describe(bench_store.open(dataset_id))
    meta = bench_store.open(dataset_id).storage.metadata
    assert (info.reference.random, info.reference.expert) == (meta["ref_min_score"], meta["ref_max_score"])
    assert info.steps == 20_000
    if "expert" in dataset_id:  # the README of the store: expert datasets score 100 by construction
        assert float(info.reference.normalize(info.return_mean)) == pytest.approx(100.0, abs=0.5)


def test_truncated_file_is_reported_not_loaded(store, tmp_path):
    copy = _copy_store(store, tmp_path, "local/hopper/random-v0")
    h5 = copy.data_dir("local/hopper/random-v0") / "main_data.hdf5"
    h5.write_bytes(h5.read_bytes()[: h5.stat().st_size // 2])
    with pytest.raises(OffSimError, match=r"local/hopper/random-v0: cannot read .*random-v0/data \(corrupt or truncated file\?\)"):
        load_transitions("local/hopper/random-v0", copy)


def test_corrupt_metadata_is_reported(store, tmp_path):
    copy = _copy_store(store, tmp_path, "local/hopper/random-v0")
    (copy.data_dir("local/hopper/random-v0") / "metadata.json").write_text("{not json")
    with pytest.raises(OffSimError, match=r"local/hopper/random-v0: cannot read .*random-v0/data \(corrupt or truncated file\?\): Expecting property"):
        copy.open("local/hopper/random-v0")


def test_nonfinite_rows_are_refused_or_dropped(tmp_path):
    store = DatasetStore(tmp_path)
    make_nonfinite_dataset(store, "local/hopper/nan-v0")
    with pytest.raises(OffSimError, match="local/hopper/nan-v0: 4 of 400 transitions contain NaN or inf"):
        load_transitions("local/hopper/nan-v0", store)
    kept = load_transitions("local/hopper/nan-v0", store, drop_nonfinite=True)
    assert len(kept) == 396 and np.isfinite(kept.obs).all() and np.isfinite(kept.next_obs).all()


def test_existing_dataset_is_kept_unless_overwrite(store, tmp_path):
    copy = _copy_store(store, tmp_path, "local/halfcheetah/random-v0")
    before = (copy.data_dir("local/halfcheetah/random-v0") / "main_data.hdf5").read_bytes()
    with pytest.raises(OffSimError, match="local/halfcheetah/random-v0 already exists .* --overwrite"):
        collect_dataset(copy, "HalfCheetah-v5", "random", 200, "local/halfcheetah/random-v0", progress=False)
    assert (copy.data_dir("local/halfcheetah/random-v0") / "main_data.hdf5").read_bytes() == before
    replaced = collect_dataset(
        copy, "HalfCheetah-v5", "random", 200, "local/halfcheetah/random-v0", overwrite=True, progress=False
    )
    assert replaced.total_steps == 200
    assert [p.name for p in copy.root.iterdir() if p.name.startswith(".")] == []


def test_interrupted_collection_leaves_nothing_behind(store, tmp_path, monkeypatch):
    copy = _copy_store(store, tmp_path, "local/hopper/random-v0")
    before = (copy.data_dir("local/hopper/random-v0") / "main_data.hdf5").read_bytes()
    real_make_policy = collect_module.make_policy

    def policy_that_dies(name, env, seed):
        inner, calls = real_make_policy(name, env, seed), []

        def act(obs):
            calls.append(1)
            if len(calls) > 150:
                raise KeyboardInterrupt
            return inner(obs)

        return act

    monkeypatch.setattr(collect_module, "make_policy", policy_that_dies)
    with pytest.raises(KeyboardInterrupt):
        collect_dataset(copy, "Hopper-v5", "random", 300, "local/hopper/random-v0", overwrite=True, progress=False)
    with pytest.raises(KeyboardInterrupt):
        collect_dataset(copy, "Hopper-v5", "random", 300, "local/hopper/other-v0", progress=False)
    assert (copy.data_dir("local/hopper/random-v0") / "main_data.hdf5").read_bytes() == before
    assert copy.ids() == ["local/hopper/random-v0"]
    assert not any(p.name.startswith(".staging") for p in copy.root.iterdir())


@pytest.mark.parametrize("dataset_id", ["bad", "../../evil-v0", "", "/abs/x-v0", "local/x-v0/"])
def test_an_id_minari_cannot_write_is_refused_before_anything_is_made(tmp_path, dataset_id):
    store = DatasetStore(tmp_path / "a" / "store")
    with pytest.raises(OffSimError, match=f"dataset id '{re.escape(dataset_id)}' is not a Minari id"):
        collect_dataset(store, "Hopper-v5", "random", 10, dataset_id, progress=False)
    assert [p.name for p in tmp_path.iterdir()] == []


def test_store_under_a_file_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = DatasetStore(blocker / "store")
    with pytest.raises(OffSimError, match=f"cannot write to the dataset store {blocker / 'store'}"):
        collect_dataset(store, "Hopper-v5", "random", 10, "local/hopper/x-v0", progress=False)


def test_a_relative_data_root_is_made_absolute(tmp_path, monkeypatch):
    from offsim_ray.data.store import DatasetStore

    monkeypatch.chdir(tmp_path)
    assert DatasetStore("store").root == tmp_path / "store"  # Minari would join a relative root twice
