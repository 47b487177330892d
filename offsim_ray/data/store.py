"""A local Minari store: dataset ids, opening, downloading, and atomic writes."""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import minari
from minari.dataset.minari_dataset import parse_dataset_id

from offsim_ray.errors import OffSimError
from offsim_ray.files import replace_dir, temp_dir

DEFAULT_REMOTE = "hf://farama-minari"
REMOTE_HOSTS = {"hf": "huggingface.co", "gcp": "storage.googleapis.com"}


@contextmanager
def minari_root(path: Path) -> Iterator[None]:
    """Point Minari's own functions (which read MINARI_DATASETS_PATH per call) at `path`."""
    before = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(path)
    try:
        yield
    finally:
        if before is None:
            del os.environ["MINARI_DATASETS_PATH"]
        else:
            os.environ["MINARI_DATASETS_PATH"] = before


def remote_reachable(timeout: float = 3.0) -> bool:
    """Whether the Minari remote's host answers; False at once when OFFSIM_OFFLINE=1."""
    if os.environ.get("OFFSIM_OFFLINE") == "1" or os.environ.get("HF_HUB_OFFLINE") == "1":
        return False
    scheme = os.environ.get("MINARI_REMOTE", DEFAULT_REMOTE).split("://")[0]
    host = REMOTE_HOSTS.get(scheme)
    if host is None:
        return True
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


@dataclass(frozen=True)
class DatasetStore:
    """Datasets under `root`, one folder per id (`root/<namespace>/<name>-vN/data`)."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).expanduser().absolute())  # Minari joins relative roots twice

    @classmethod
    def from_env(cls, data_root: str | os.PathLike | None = None) -> DatasetStore:
        """`data_root`, else $MINARI_DATASETS_PATH, else Minari's default ~/.minari/datasets."""
        root = data_root or os.environ.get("MINARI_DATASETS_PATH")
        return cls(Path(root) if root else Path.home() / ".minari" / "datasets")

    @classmethod
    def existing(cls, data_root: str | os.PathLike | None = None) -> DatasetStore:
        """`from_env`, for commands that only read the store: a root named by `data_root` or by
        $MINARI_DATASETS_PATH must be a folder (a typo is not an empty store); Minari's default may be absent."""
        store = cls.from_env(data_root)
        named_by = "--data-root" if data_root else "$MINARI_DATASETS_PATH"
        if (data_root or os.environ.get("MINARI_DATASETS_PATH")) and not store.root.is_dir():
            state = "is not a folder" if store.root.exists() else "does not exist"
            raise OffSimError(f"dataset store {store.root} (from {named_by}) {state}")
        return store

    def data_dir(self, dataset_id: str) -> Path:
        return self.root / dataset_id / "data"

    def exists(self, dataset_id: str) -> bool:
        return (self.data_dir(dataset_id) / "metadata.json").is_file()

    def ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        found = []
        for meta in self.root.rglob("data/metadata.json"):
            rel = meta.parent.parent.relative_to(self.root)
            if not any(part.startswith(".") for part in rel.parts):
                found.append(rel.as_posix())
        return sorted(found)

    def open(self, dataset_id: str) -> minari.MinariDataset:
        """The dataset, with its files checked; a missing, corrupt or truncated one is an OffSimError."""
        path = self.data_dir(dataset_id)
        if not self.exists(dataset_id):
            raise OffSimError(f"dataset {dataset_id} is not in the local store {self.root}")
        try:
            dataset = minari.MinariDataset(str(path))
            # Opening the episode file here surfaces truncation before any work starts.
            next(iter(dataset.storage.get_episode_metadata([0])))
        except Exception as e:  # h5py, json and Minari raise many types for a damaged file
            raise OffSimError(
                f"dataset {dataset_id}: cannot read {path} (corrupt or truncated file?): {one_line(e)}"
            ) from None
        return dataset

    def download(self, dataset_id: str) -> None:
        """Fetch from the Minari remote into a staging folder, then move it into place."""
        with self.staging(dataset_id):
            try:
                minari.download_dataset(dataset_id)
            except Exception as e:
                raise OffSimError(
                    f"dataset {dataset_id}: download from the Minari remote failed: {one_line(e)}"
                ) from None

    def check_writable(self, dataset_id: str, overwrite: bool = False) -> None:
        """An OffSimError, before any work, if `dataset_id` is not a Minari id with a version, is there and
        may not be replaced, or if the store cannot be created."""
        try:
            parse_dataset_id(dataset_id)  # its pattern has no `.`: an id that parses stays inside the store
        except (ValueError, TypeError):  # TypeError: Minari's parse of an id without -vN
            raise OffSimError(f"dataset id {dataset_id!r} is not a Minari id of the form (namespace/)name-vN, e.g. "
                              "local/hopper/random-v0") from None
        final = self.root / dataset_id
        if final.exists() and not overwrite:
            raise OffSimError(
                f"dataset {dataset_id} already exists at {final}; pass --overwrite to replace it"
            )
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OffSimError(f"cannot write to the dataset store {self.root}: {e.strerror}") from None

    @contextmanager
    def staging(self, dataset_id: str, overwrite: bool = False) -> Iterator[Path]:
        """Yield an empty Minari root for writing `dataset_id`; publish it only if the block succeeds.

        An existing dataset is replaced only with `overwrite`, and only after the new one is complete.
        """
        self.check_writable(dataset_id, overwrite)
        try:
            stage = temp_dir(self.root, ".staging-")
        except OSError as e:
            raise OffSimError(f"cannot write to the dataset store {self.root}: {e.strerror}") from None
        try:
            with minari_root(stage):
                yield stage
            self._publish(stage, dataset_id)
        finally:
            shutil.rmtree(stage, ignore_errors=True)

    def _publish(self, stage: Path, dataset_id: str) -> None:
        for namespace_file in stage.rglob("namespace_metadata.json"):
            target = self.root / namespace_file.relative_to(stage)
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(namespace_file, target)
        final = self.root / dataset_id
        final.parent.mkdir(parents=True, exist_ok=True)
        replace_dir(stage / dataset_id, final)


@contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """Holds an advisory lock on `lock_file`: concurrent processes make a shared thing (a dataset, a
    simulator, a trial) once; the others wait and then reuse it."""
    if lock_file.parent.exists() and not lock_file.parent.is_dir():
        raise OffSimError(f"{lock_file.parent} is a file, not a folder")
    try:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        lock = open(lock_file, "w")
    except OSError as e:
        raise OffSimError(f"cannot create {lock_file}: {e.strerror or e}") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__
