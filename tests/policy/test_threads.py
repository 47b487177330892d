"""Torch threads: `--threads` sets them, a busy machine gets a note, and two trials at once do not thrash."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import torch

from offsim_ray import threads
from tests.harness import assert_one_line_error, run_cli


def test_a_busy_machine_gets_one_note_once_and_an_idle_one_none(monkeypatch, capsys):
    cores = os.cpu_count() or 1
    monkeypatch.setattr(threads, "_noted", False)
    monkeypatch.setattr(os, "getloadavg", lambda: (max(0.0, cores - torch.get_num_threads() - 1.0), 0.0, 0.0))
    threads.note_if_busy()
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(os, "getloadavg", lambda: (float(cores), 0.0, 0.0))
    threads.note_if_busy()
    threads.note_if_busy()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("offsim-ray: note: load average") and "--threads" in lines[0]


def test_two_trials_at_once_each_take_at_most_twice_their_solo_time(tmp_path, trial_data):
    data_root, expert = trial_data

    def trial(name: str, *flags: str) -> float:
        started = time.perf_counter()
        result = run_cli("train", "--expert", expert, "--data-root", data_root, "--preset", "smoke", "--n", "4000",
                         "--out", str(tmp_path / name), "--no-progress", *flags, timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
        return time.perf_counter() - started

    solo = trial("solo")
    with ThreadPoolExecutor(2) as pool:
        pair = list(pool.map(trial, ("first", "second")))
    assert max(pair) <= 2.0 * solo, (solo, pair)
    assert json.loads((tmp_path / "first" / "metrics.json").read_text())["trial/threads"] == 1
    trial("two", "--threads", "2", "--algo", "bc")  # only the recorded threads are read: the quickest trial
    assert json.loads((tmp_path / "two" / "metrics.json").read_text())["trial/threads"] == 2


def test_threads_must_be_a_positive_integer():
    assert_one_line_error(run_cli("fit", "--expert", "hopper-expert", "--out", "x", "--threads", "0"), "--threads")
