"""The write primitives every stage uses: whole files and folders or none, in the umask's modes."""

from __future__ import annotations

import os
import re

import pytest

from offsim_ray.errors import OffSimError
from offsim_ray.files import (read_json, read_jsonl, replace_dir, replaced_dir, temp_dir, write_dir, write_json,
                              write_with)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "metrics.json"
    write_json(path, {"a": 1})
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()

    def fail(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_with(path, fail)
    assert path.read_text() == '{\n  "a": 1\n}' and os.listdir(tmp_path) == ["metrics.json"]


def test_jsonl_skips_a_line_cut_short_unless_strict(tmp_path):
    path = tmp_path / "progress.jsonl"
    path.write_text('{"iteration": 1}\n{"iteration": 2}\n{"iterat')
    assert read_jsonl(path) == [{"iteration": 1}, {"iteration": 2}]
    with pytest.raises(OffSimError, match="progress.jsonl: line 3 is not JSON"):
        read_jsonl(path, strict=True)
    assert read_jsonl(tmp_path / "none.jsonl") == []


@pytest.mark.parametrize("text, fragment", [
    ("[1, 2]", "run x: meta.json holds a list, not a mapping"),
    ('{"low": [1]}', "run x: meta.json has no config"),
    ('{"low": "x", "config": {}}', "run x: meta.json's low is 'x', not a list of numbers"),
    ('{"low": [1, true], "config": {}}', "meta.json's low is [1, True], not a list of numbers"),
    ('{"low": [], "config": {"seed": 1.5}}', "meta.json's config.seed is 1.5, not an integer"),
    ('{"low": [], "config": {"seed": 1, "device": 1}}', "config.device is 1, not a string or null"),
    (b"\xff{}", "run x: cannot read meta.json: 'utf-8' codec can't decode"),
])
def test_a_damaged_json_file_is_named_with_the_key_that_failed(tmp_path, text, fragment):
    path = tmp_path / "meta.json"
    keys = {"low": list[float], "config": {"seed": int, "device": str | None}}
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(OffSimError, match=re.escape(fragment)):
        read_json(path, "no meta.json", "run x", keys)
    path.write_text('{"low": [-1, 1.5], "config": {"seed": 1, "device": null}, "more": 1}')
    assert read_json(path, "no meta.json", "run x", keys)["more"] == 1


def test_replacing_a_folder_swaps_it_whole_and_clears_what_a_kill_left(tmp_path):
    target = tmp_path / "artifact"
    for content in ("old", "new"):
        staged = temp_dir(tmp_path, ".artifact.")
        (staged / "weights").write_text(content)
        replace_dir(staged, target)
    assert (target / "weights").read_text() == "new" and target.stat().st_mode & 0o777 == 0o777 & ~_umask()
    assert sorted(os.listdir(tmp_path)) == ["artifact"]

    replaced_dir(target).mkdir()  # a kill after the second rename: the aside folder is the old one
    staged = temp_dir(tmp_path, ".artifact.")
    replace_dir(staged, target)
    assert sorted(os.listdir(tmp_path)) == ["artifact"]

    os.replace(target, replaced_dir(target))  # a kill between the renames: the aside folder is the only copy
    with pytest.raises(OffSimError, match="holds the only copy"):
        replace_dir(temp_dir(tmp_path, ".artifact."), target)
    assert replaced_dir(target).is_dir()


def test_a_folder_whose_filling_fails_leaves_the_old_one_and_no_temporary(tmp_path):
    target = tmp_path / "checkpoint"
    write_dir(target, lambda folder: (folder / "state").write_text("1"))

    def fail(folder) -> None:
        (folder / "state").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_dir(target, fail)
    assert (target / "state").read_text() == "1" and sorted(os.listdir(tmp_path)) == ["checkpoint"]
