"""Reading the project's JSON files, and writes that never leave a half-written file or folder: write to a
temporary sibling, then rename into place. New files and folders get the modes the user's umask gives, not
tempfile's private 0700/0600: several users and nodes share sweep storage."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import types
import typing
from pathlib import Path
from typing import Callable

from offsim_ray.errors import OffSimError, is_of


def read_json(path: Path, missing: str, what: str, keys: dict | None = None) -> dict:
    """A JSON file's mapping; `missing` is the error when it does not exist, `what` names it otherwise.
    `keys`: what it must hold, checked by `check_keys`."""
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        raise OffSimError(missing) from None
    except (OSError, ValueError) as e:
        raise OffSimError(f"{what}: cannot read {path.name}: {e}") from None
    if not isinstance(value, dict):
        raise OffSimError(f"{what}: {path.name} holds {_kind_name(type(value))}, not a mapping")
    check_keys(value, keys or {}, f"{what}: {path.name}")
    return value


def _kind_name(kind) -> str:
    if isinstance(kind, dict):
        return "a mapping"
    if typing.get_origin(kind) is list:
        return f"a list of {_kind_name(typing.get_args(kind)[0]).split(' ', 1)[1]}s"
    if isinstance(kind, types.UnionType):
        return " or ".join(map(_kind_name, typing.get_args(kind)))
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list",
            dict: "a mapping", type(None): "null"}[kind]


def check_keys(record: dict, keys: dict, where: str, prefix: str = "") -> None:
    """An error naming `where` and the first of `keys` that `record` lacks or holds a value of another kind.
    `keys` maps a key to its kind: str, int, float (any number), bool, list, dict, list[kind], a union with
    `|`, or a dict of the keys of a nested mapping."""
    for key, kind in keys.items():
        if key not in record:
            raise OffSimError(f"{where} has no {prefix}{key}")
        value = record[key]
        if not (isinstance(value, dict) if isinstance(kind, dict) else is_of(value, kind)):
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
            raise OffSimError(f"{where}'s {prefix}{key} is {shown}, not {_kind_name(kind)}")
        if isinstance(kind, dict):
            check_keys(value, kind, where, f"{prefix}{key}.")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temp_dir(parent: str | os.PathLike, prefix: str) -> Path:
    """A new empty folder in `parent`, mode 0777 less the umask."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    os.chmod(path, 0o777 & ~_umask())
    return path


def check_can_make(path: str | os.PathLike) -> None:
    """An error now, rather than after hours of work, when the folder `path` cannot be made: it or one of
    its parents is a file."""
    path = Path(path).absolute()
    folder = next(folder for folder in [path, *path.parents] if folder.exists() or folder.is_symlink())
    if not folder.is_dir():
        raise OffSimError(f"cannot create {path}: {folder} is a file, not a folder")


def make_dir(path: str | os.PathLike) -> None:
    """`path` and its parents, or an error naming the folder that could not be made."""
    check_can_make(path)
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OffSimError(f"cannot create {path}: {e.strerror or e}") from None


def write_with(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """`write(tmp)` fills a temporary sibling of `path` (same suffix), which then replaces `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_with(path, lambda tmp: Path(tmp).write_text(text))


def write_json(path: str | os.PathLike, value) -> None:
    write_text(path, json.dumps(value, indent=2))


def read_jsonl(path: str | os.PathLike, strict: bool = False) -> list[dict]:
    """The rows of a JSON-lines file (none if it does not exist). A line that is not JSON is skipped, as
    one cut short by a kill, or with `strict` (a file written whole) an error naming it."""
    path = Path(path)
    rows = []
    for number, line in enumerate(path.read_text().splitlines() if path.exists() else [], 1):
        try:
            rows.append(json.loads(line))
        except ValueError:
            if strict:
                raise OffSimError(f"{path}: line {number} is not JSON") from None
    return rows


def replaced_dir(target: Path) -> Path:
    """Where `replace_dir` keeps the old `target` between its two renames."""
    return target.with_name(f".{target.name}.replaced")


def check_replaceable(target: Path) -> None:
    """An error when a kill between `replace_dir`'s renames left the old `target` aside and no new one."""
    aside = replaced_dir(target)
    if aside.exists() and not target.exists():
        raise OffSimError(f"{aside} holds the only copy of {target}, left by an interrupted replacement; "
                          "move it back or remove it")


def replace_dir(staged: Path, target: Path) -> None:
    """Moves the complete folder `staged` to `target` by renames only; an existing `target` is moved
    aside first and removed after, so a kill at any moment leaves the old folder or the new one."""
    check_replaceable(target)
    aside = replaced_dir(target)
    shutil.rmtree(aside, ignore_errors=True)  # a new target is there: what a kill left aside is the old one
    if target.exists():
        os.replace(target, aside)
    os.replace(staged, target)
    shutil.rmtree(aside, ignore_errors=True)


def write_dir(target: Path, fill: Callable[[Path], None]) -> None:
    """`fill(folder)` fills a new folder beside `target`, which then replaces `target` (`replace_dir`)."""
    staged = temp_dir(target.parent, f".{target.name}.")
    try:
        fill(staged)
        replace_dir(staged, target)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
