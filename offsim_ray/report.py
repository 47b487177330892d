"""Sweep folders -> one self-contained report: index.html with the paper's tables and figures (PNG, SVG).

Reads only what `tables` reads (sweep.json, Tune's params.json and result.json per trial); no Ray. A partly
finished sweep gives a partial report that says how many trials it shows. Figures per sweep:
  curves-*     learned-env return and the main losses against policy updates, a line per seed, the mean
               bold; the real-env return at the end in the title
  table2       real-env return against m, ± one std over seeds, the paper's selected m and the proposed m
  table3a      high- against low-variance transition model, bars with seed dots
  table3b      r_φ on seen and unseen expert and diverse data
  fidelity-*   per env, each OffSim simulator's k-step open-loop error and r_φ's ranking of actions
"""

from __future__ import annotations

import os
import re
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from offsim_ray.errors import OffSimError
from offsim_ray.files import make_dir, write_dir
from offsim_ray.tables import (ALGO_LABELS, BASELINE_LABELS, ENV_LABELS, RANKED_ACTIONS, K, Table, margin_label,
                               build_tables, load_curves, status_line)

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")  # Okabe-Ito
PAPER_SELECTED_MARGIN = {  # the paper's Table 2, in units of R
    ("hopper", "medium-random"): 1.6, ("hopper", "expert-random"): 1.6, ("hopper", "expert-medium"): 0.4,
    ("walker2d", "medium-random"): 1.6, ("walker2d", "expert-random"): 1.8, ("walker2d", "expert-medium"): 0.8,
    ("halfcheetah", "medium-random"): 1.6, ("halfcheetah", "expert-random"): 1.6,
    ("halfcheetah", "expert-medium"): 0.8,
}
CURVE_PANELS = {  # the first three a trial reports are drawn
    "policy/learned_return_mean": "learned-env return (Σ r_φ)",
    "policy/critic_loss": "critic loss",
    "policy/actor_loss": "actor loss",
    "policy/policy_loss": "PPO surrogate loss",
    "policy/vf_loss": "PPO value loss",
    "policy/bc_censored": "BC loss (−log π, censored)",
    "policy/bc_nll": "BC loss (−log π)",
    "policy/bc_mse": "BC loss (action MSE)",
}
ACTION_LABELS = {"expert": "expert a", "noise01": "a + N(0, 0.1²)", "noise03": "a + N(0, 0.3²)", "random": "random a"}
REPORT_FILE = "index.html"
TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>offsim-ray report</title>
<style>
body { font-family: sans-serif; max-width: 1200px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 90%; }
th, td { border: 1px solid #bbb; padding: 3px 8px; text-align: right; }
th { background: #eee; } td.best { font-weight: bold; } td.second { text-decoration: underline; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; max-width: 100%; }
img { max-width: 100%; height: auto; }
pre { background: #f6f6f6; padding: 0.5em; overflow-x: auto; font-size: 85%; }
</style></head><body>
<h1>offsim-ray report</h1>
<p>Built {{ built }} by offsim-ray {{ version }}{% if commit %} (git {{ commit }}){% endif %}
from {{ sweeps | length }} sweep folder{{ "s" if sweeps | length != 1 }}.
Cells are real-env return, mean ± std (seeds); <b>best</b> and <u>second best</u> per row.</p>
{% for sweep in sweeps %}
<h2 id="{{ sweep.name }}">{{ sweep.name }}</h2>
<p><em>{{ sweep.status }}</em></p>
<p>Preset <code>{{ sweep.preset }}</code>, storage <code>{{ sweep.storage }}</code>.</p>
<details><summary>Sweep spec</summary><pre>{{ sweep.spec }}</pre></details>
{% for table in sweep.tables %}
<h3>{{ table.title }}</h3>
<table><tr>{% for name in table.header %}<th>{{ name }}</th>{% endfor %}</tr>
{% for row in table.rows %}<tr>{% for text, mark in row %}<td{% if mark %} class="{{ mark }}"{% endif %}>{{ text }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% endfor %}
{% for section in sweep.sections %}
<h3>{{ section.title }}</h3>
{% if section.note %}<p>{{ section.note }}</p>{% endif %}
{% for figure in section.figures %}
<figure><img src="{{ figure }}.png" alt="{{ figure }}"><figcaption><a href="{{ figure }}.svg">SVG</a></figcaption></figure>
{% endfor %}
{% endfor %}
{% endfor %}
</body></html>
"""


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"axes.prop_cycle": matplotlib.cycler(color=PALETTE), "font.size": 9,
                         "svg.hashsalt": "offsim-ray", "svg.fonttype": "none", "axes.grid": True, "grid.alpha": 0.3,
                         "figure.constrained_layout.use": True})
    return plt


class Figures:
    """Saves each figure as NAME.png and NAME.svg under `root`/figures; returns the relative stem."""

    def __init__(self, plt, root: Path, prefix: str):
        self.plt = plt
        self.folder = root / "figures"
        self.folder.mkdir(exist_ok=True)
        self.prefix = prefix

    def save(self, figure, name: str) -> str:
        stem = f"{self.prefix}-{name}"
        for suffix in ("png", "svg"):
            figure.savefig(self.folder / f"{stem}.{suffix}", dpi=110, bbox_inches="tight",
                           metadata={"Date": None} if suffix == "svg" else None)
        self.plt.close(figure)
        return f"figures/{stem}"


def _slug(*parts) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", "-".join(map(str, parts)).lower()).strip("-")


def _variant(row: pd.Series) -> str:
    """What sets a trial's curves apart beside env, dataset and seed: the method, and m or the variance
    where the sweep varies them."""
    label = ALGO_LABELS.get(row["algo"]) or BASELINE_LABELS[row["algo"]]
    if row["table"] == "table2":
        label += f", {margin_label(row['margin'], row['margin_relative'])}"
    if row["table"] == "table3":
        label += f", {row['variance']} variance"
    return label


def _curve_figures(plt, figures: Figures, trials: pd.DataFrame, curves: pd.DataFrame) -> list[str]:
    saved = []
    trials = trials.assign(variant=trials.apply(_variant, axis=1))
    for (env, dataset, variant), group in trials.groupby(["env", "dataset", "variant"], sort=False):
        runs = curves[curves["key"].isin(group["key"])]
        panels = [m for m in CURVE_PANELS if m in runs and runs[m].notna().any()][:3]
        if runs.empty or not panels:
            continue
        fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 2.9), squeeze=False)
        for ax, metric in zip(axes[0], panels):
            for i, (_, row) in enumerate(group.sort_values("seed").iterrows()):
                run = runs[runs["key"] == row["key"]].dropna(subset=[metric])
                ax.plot(run["policy/updates"], run[metric], lw=0.8, alpha=0.6, color=PALETTE[i % len(PALETTE)],
                        label=f"seed {row['seed']}")
            mean = runs.dropna(subset=[metric]).groupby("policy/updates")[metric].mean()
            ax.plot(mean.index, mean.values, lw=2.2, color="black", label="mean")
            ax.set_xlabel("policy updates")
            ax.set_ylabel(CURVE_PANELS[metric])
        axes[0][0].legend(fontsize=7)
        finished = group[group["status"] == "finished"]["return_mean"]
        score = (f"real-env return {finished.mean():.0f} ± {finished.std(ddof=1) if len(finished) > 1 else 0:.0f} "
                 f"({len(finished)} of {len(group)} seeds)" if len(finished) else "no seed finished yet")
        fig.suptitle(f"{ENV_LABELS[env]} {dataset}, {variant}: {score}", fontsize=9)
        saved.append(figures.save(fig, _slug("curves", env, dataset, variant)))
    return saved


def _scatter_seeds(ax, x: float, values: pd.Series, color: str) -> None:
    jitter = np.linspace(-0.08, 0.08, len(values)) if len(values) > 1 else np.zeros(1)
    ax.scatter(x + jitter, values, s=12, color="black", zorder=3, edgecolor=color)


def _table2_figure(plt, figures: Figures, trials: pd.DataFrame) -> list[str]:
    groups = list(trials.groupby(["env", "dataset"], sort=False))
    fig, axes = plt.subplots(1, len(groups), figsize=(4 * len(groups), 3.2), squeeze=False)
    relative = bool(trials["margin_relative"].all())
    for ax, ((env, dataset), group) in zip(axes[0], groups):
        stats = group.groupby("margin")["return_mean"].agg(["mean", "std"]).fillna(0.0)
        ax.plot(stats.index, stats["mean"], marker="o", color=PALETTE[0], label="mean over seeds")
        ax.fill_between(stats.index, stats["mean"] - stats["std"], stats["mean"] + stats["std"], alpha=0.25,
                        color=PALETTE[0], label="± one std")
        ax.scatter(group["margin"], group["return_mean"], s=10, color="black", zorder=3, label="seeds")
        proposed = group["proposed_margin"].mean()
        if relative and np.isfinite(proposed):
            ax.axvline(proposed, color=PALETTE[3], ls="--", label=f"proposed m ({proposed:.2f}R)")
        selected = PAPER_SELECTED_MARGIN.get((env, dataset))
        if relative and selected is not None:
            ax.axvline(selected, color=PALETTE[2], ls=":", lw=2, label=f"paper's selected m ({selected:g}R)")
        ax.set_xlabel("margin m (units of R)" if relative else "margin m (reward units)")
        ax.set_ylabel("real-env return")
        ax.set_title(f"{ENV_LABELS[env]} {dataset}")
        ax.legend(fontsize=7)
    return [figures.save(fig, "table2")]


def _bars(plt, figures: Figures, groups: list[tuple[str, dict[str, pd.Series]]], ylabel: str, name: str,
          title: str) -> str:
    """Grouped bars: per x label, a bar per series (mean) with its values as dots."""
    series = list(dict.fromkeys(s for _, bars in groups for s in bars))
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.3 * len(groups) * len(series) / 2 + 2), 3.2))
    for j, label in enumerate(series):
        for i, (_, bars) in enumerate(groups):
            values = bars.get(label)
            if values is None or values.dropna().empty:
                continue
            x = i + (j - (len(series) - 1) / 2) * width
            ax.bar(x, values.mean(), width, color=PALETTE[j % len(PALETTE)], label=label)
            _scatter_seeds(ax, x, values.dropna(), PALETTE[j % len(PALETTE)])
    ax.set_xticks(range(len(groups)), [g for g, _ in groups], fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(dict(zip(labels, handles)).values(), dict(zip(labels, handles)).keys(), fontsize=7)
    return figures.save(fig, name)


def _group_label(env: str, dataset: str) -> str:
    return f"{ENV_LABELS[env]}\n{dataset}"


def _table3_figures(plt, figures: Figures, trials: pd.DataFrame) -> list[str]:
    variance = [(_group_label(env, dataset), {v.capitalize(): g[g["variance"] == v]["return_mean"]
                                              for v in ("high", "low")})
                for (env, dataset), g in trials.groupby(["env", "dataset"], sort=False)]
    saved = [_bars(plt, figures, variance, "real-env return", "table3a",
                   "Table 3a: high- vs low-variance transition model")]
    mixed = trials[trials["diverse"].notna() & (trials["variance"] == "high")]
    reward = [(_group_label(env, dataset), {f"{source} {split}": g[f"reward_{split}_{source}"]
                                            for source in ("expert", "diverse") for split in ("seen", "unseen")})
              for (env, dataset), g in mixed.groupby(["env", "dataset"], sort=False)]
    if reward:
        saved.append(_bars(plt, figures, reward, "mean r_φ(s, s')", "table3b",
                           "Table 3b: r_φ on seen and unseen expert and diverse data"))
    return saved


def _fidelity_figures(plt, figures: Figures, trials: pd.DataFrame) -> list[str]:
    """Per env: the k-step error of each simulator (a line per simulator, coloured by dataset) and r_φ's
    mean on the ensemble-mean s' for the four ranked actions (bars per dataset, a dot per simulator)."""
    steps = [f"open_loop_error_{k}" for k in range(1, K + 1)]
    ranks = [f"reward_rank_{action}_on_mean" for action in RANKED_ACTIONS]
    fits = trials[trials["algo"].isin(ALGO_LABELS)]
    fits = fits.drop_duplicates(["env", "simulator"] if fits["simulator"].notna().all() else ["key"])
    saved = []
    for env, group in fits.groupby("env", sort=False):
        panels = [columns for columns in (steps, ranks) if group[columns].notna().any().any()]
        if not panels:
            continue
        fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.2), squeeze=False)
        datasets = list(dict.fromkeys(group["dataset"]))
        for ax, columns in zip(axes[0], panels):
            for i, dataset in enumerate(datasets):
                fits_of = group[group["dataset"] == dataset]
                if columns is steps:
                    for j, (_, row) in enumerate(fits_of.iterrows()):
                        ax.plot(range(1, K + 1), row[steps].astype(float), marker="o", ms=3,
                                color=PALETTE[i % len(PALETTE)], label=dataset if j == 0 else None)
                    continue
                for a, (action, column) in enumerate(zip(RANKED_ACTIONS, ranks)):
                    values, x = fits_of[column].dropna(), i + (a - 1.5) * 0.2
                    if len(values):
                        ax.bar(x, values.mean(), 0.2, color=PALETTE[a], label=ACTION_LABELS[action] if i == 0 else None)
                        _scatter_seeds(ax, x, values, PALETTE[a])
            if columns is steps:
                ax.set_xticks(range(1, K + 1))
                ax.set_xlabel("open-loop steps k")
                ax.set_ylabel("RMSE (units of the data's std)")
                ax.set_title(f"{ENV_LABELS[env]}: k-step error of T_θ")
            else:
                ax.set_xticks(range(len(datasets)), datasets, fontsize=8)
                ax.set_ylabel("mean r_φ(s, s'), s' the ensemble mean")
                ax.set_title(f"{ENV_LABELS[env]}: r_φ's ranking of actions")
            ax.legend(fontsize=7)
        saved.append(figures.save(fig, _slug("fidelity", env)))
    return saved


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _sweep_sections(plt, root: Path, rows: pd.DataFrame, curves: pd.DataFrame) -> list[dict]:
    sweep = rows["sweep"].iloc[0]
    table = rows["table"].iloc[0]
    figures = Figures(plt, root, sweep)
    finished = rows[rows["status"] == "finished"]
    sections = [{"title": "Learning curves", "figures": _curve_figures(plt, figures, rows, curves),
                 "note": "One line per seed, the mean in black; unfinished trials show as far as they got."}]
    if table == "table2" and len(finished):
        sections.append({"title": "Table 2: real-env return against the margin",
                         "figures": _table2_figure(plt, figures, finished), "note": None})
    if table == "table3" and len(finished):
        sections.append({"title": "Table 3: transition-model variance and the reward on seen and unseen data",
                         "figures": _table3_figures(plt, figures, finished), "note": None})
    fidelity = _fidelity_figures(plt, figures, rows)
    if fidelity:
        sections.append({"title": "Simulators: k-step error and the reward's ranking of actions",
                         "figures": fidelity, "note": "Each simulator the sweep fit, measured when its first trial "
                                                      "ran: ensemble-mean rollouts against the real env replaying "
                                                      "the data's actions from held-out states."})
    return [s for s in sections if s["figures"]]


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / REPORT_FILE).exists())):
        raise OffSimError(f"{out} exists and is not a report folder; give --out a new or report folder")


def write_report(trials: pd.DataFrame, experiments: list[str | os.PathLike], out: str | os.PathLike) -> Path:
    """The report of the tidy `trials` (tables.load_trials of `experiments`) in folder `out`, replaced
    whole; returns its index.html."""
    import jinja2

    from offsim_ray import __version__
    from offsim_ray.sweep import load_plan

    out = Path(out)
    _check_out(out)
    make_dir(out.parent)
    plt = _plt()
    curves = load_curves(trials, experiments)
    folders = {Path(e).resolve().name: Path(e).resolve() for e in experiments}

    def fill(root: Path) -> None:
        sweeps = []
        for sweep, rows in trials.groupby("sweep", sort=False):
            rows = rows.reset_index(drop=True)
            plan = load_plan(folders[sweep])
            tables: list[Table] = build_tables(rows)
            shown = int((rows["status"] == "finished").sum())
            sweeps.append({
                "name": sweep, "preset": plan.spec.preset, "storage": _shown_path(plan.storage),
                "status": f"{status_line(rows)}; this report shows {shown} of {len(rows)} trials",
                "spec": _spec_text(plan.spec.to_dict()),
                "tables": [{"title": t.title, "header": t.header(), "rows": t.cells()} for t in tables],
                "sections": _sweep_sections(plt, root, rows, curves[curves["sweep"] == sweep]),
            })
        html = jinja2.Environment(autoescape=True).from_string(TEMPLATE).render(
            sweeps=sweeps, version=__version__, commit=_git_commit(),
            built=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
        (root / REPORT_FILE).write_text(html)

    write_dir(out, fill)
    return out / REPORT_FILE


def _shown_path(path: str) -> str:
    """`path` relative to the working directory when it lies under it, else as it is."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def _spec_text(spec: dict) -> str:
    import yaml

    return yaml.safe_dump(spec, sort_keys=False)
