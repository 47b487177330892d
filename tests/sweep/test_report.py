"""`offsim-ray report` on the real smoke sweeps: valid figures, links that resolve, a partial report of a
partly finished sweep, and a refused --out."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ElementTree
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from tests.harness import assert_one_line_error, run_cli

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.links += [value for name, value in attrs if name in ("src", "href")]

    def handle_data(self, data):
        self.text.append(data)


def _read(index: Path) -> Links:
    page = Links()
    page.feed(index.read_text())
    return page


def _check_figures(folder: Path) -> set[str]:
    """Every figure is a valid PNG or SVG, each PNG with its SVG; every link resolves inside the folder.
    Returns the figures' stems."""
    page = _read(folder / "index.html")
    for link in page.links:
        target = (folder / link).resolve()
        assert target.is_file() and folder.resolve() in target.parents, link
    figures = sorted((folder / "figures").iterdir())
    for path in figures:
        if path.suffix == ".png":
            assert path.read_bytes().startswith(PNG_MAGIC) and path.stat().st_size > 1000, path
        else:
            assert path.suffix == ".svg" and ElementTree.parse(path).getroot().tag.endswith("svg"), path
    stems = {p.stem for p in figures}
    assert {p.stem for p in figures if p.suffix == ".png"} == {p.stem for p in figures if p.suffix == ".svg"}
    assert {f"figures/{s}.png" for s in stems} <= set(page.links)  # each figure is on the page
    return stems


def test_reproduce_writes_a_report_of_every_trial_with_the_tables_and_figures(reproduced):
    root, result = reproduced.root, reproduced.result
    folder = root / "results" / "report-smoke"
    assert f"wrote the report {folder / 'index.html'}" in result.stdout
    stems = _check_figures(folder)
    tidy = pd.concat(pd.read_parquet(p) for p in sorted((root / "results").glob("*-trials.parquet")))
    for sweep, group in tidy.groupby("sweep"):
        curves = {s for s in stems if s.startswith(f"{sweep}-curves-")}
        assert len(curves) == len(group), (sweep, curves)  # one seed a variant: a figure per trial
        for env in group[group["algo"].isin(["sac", "ddpg", "ppo"])]["env"].unique():
            assert f"{sweep}-fidelity-{env}" in stems
    assert {"table2-smoke-table2", "table3-smoke-table3a", "table3-smoke-table3b"} <= stems
    text = " ".join(_read(folder / "index.html").text)
    for title in ("Table 1:", "Table 2:", "Table 3a:", "Table 3b:", "Table 4:"):
        assert title in text
    for sweep, group in tidy.groupby("sweep"):
        assert f"this report shows {len(group)} of {len(group)} trials" in text


def test_report_of_a_partly_finished_sweep_shows_what_has_finished(reproduced, tmp_path):
    root = reproduced.root
    sweep = tmp_path / "table2-smoke"
    shutil.copytree(root / "runs" / "table2-smoke", sweep)
    trial_dirs = sorted(p for p in sweep.iterdir() if (p / "params.json").is_file())
    shutil.rmtree(trial_dirs[0])  # never started
    results = trial_dirs[1] / "result.json"
    results.write_text("".join(results.read_text().splitlines(keepends=True)[:2]))  # stopped after 2 reports
    result = run_cli("report", str(sweep), "--out", str(tmp_path / "report"))
    assert result.returncode == 0, result.stderr
    assert "1 of 3 trials finished and shown" in result.stdout
    stems = _check_figures(tmp_path / "report")
    text = " ".join(_read(tmp_path / "report" / "index.html").text)
    assert "this report shows 1 of 3 trials" in text and "1 pending" in text and "1 unfinished" in text
    assert len([s for s in stems if "-curves-" in s]) == 2  # the unfinished trial's curves so far
    assert "table2-smoke-table2" in stems


def test_report_refuses_an_out_folder_that_is_not_a_report(reproduced, tmp_path):
    root = reproduced.root
    (tmp_path / "notes.txt").write_text("mine")
    result = run_cli("report", str(root / "runs" / "table4-smoke"), "--out", str(tmp_path))
    assert_one_line_error(result, str(tmp_path), "not a report folder")
    assert (tmp_path / "notes.txt").read_text() == "mine" and not (tmp_path / "index.html").exists()
