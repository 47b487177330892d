"""Tune experiment folders -> one tidy frame (a row per trial) -> the paper's Tables 1-4.

Reads the files a sweep leaves (sweep.json, each Tune trial's params.json and result.json); no Ray.
A trial counts once, by its key, with the last result it reported: a retried or resumed trial is
neither lost nor doubled, nor is a sweep folder given twice or a trial in two copies of a sweep.
Cells are mean ± std over seeds of the real-env return (the paper's unit), with the number of seeds;
per row the best value is marked **bold** and the second best <u>underlined</u>.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from offsim_ray.errors import OffSimError
from offsim_ray.files import make_dir, read_jsonl, write_with
from offsim_ray.simulator.fidelity import K

RANKED_ACTIONS = ("expert", "noise01", "noise03", "random")  # Simulator.reward_rank's candidates, best first
ENV_LABELS = {"hopper": "Hopper", "walker2d": "Walker2d", "halfcheetah": "Half-Cheetah"}
ALGO_LABELS = {"sac": "SAC", "ddpg": "DDPG", "ppo": "PPO"}
BASELINE_LABELS = {"clare": "CLARE", "mlirl": "ML-IRL", "iqlearn": "IQ-Learn", "bc": "BC"}
TIDY_METRICS = {
    "return_mean": "eval/return_mean", "return_std": "eval/return_std",
    "normalized_score": "eval/normalized_score", "normalized_score_std": "eval/normalized_score_std",
    "reference_expert": "eval/reference_expert", "reward_scale": "sim/reward_scale",
    "proposed_margin": "sim/proposed_margin", "margin_value": "sim/margin",
    "reward_seen_expert": "reward/seen_expert", "reward_unseen_expert": "reward/unseen_expert",
    "reward_seen_diverse": "reward/seen_diverse", "reward_unseen_diverse": "reward/unseen_diverse",
    "seconds": "trial/seconds", "resumed_from": "policy/resumed_from",
    "reward_rank": "sim/reward_rank", "reward_rank_on_mean": "sim/reward_rank_on_mean",
    **{f"reward_rank_{action}{on}": f"sim/reward_rank_{action}{on}"
       for action in RANKED_ACTIONS for on in ("", "_on_mean")},
    **{f"open_loop_error_{k}": f"sim/open_loop_error_{k}" for k in range(1, K + 1)},
}
STATUS_RANK = {"finished": 0, "error": 1, "unfinished": 2, "pending": 3}  # how far a trial got, best first


def _dataset_label(label: str) -> str:
    return "-".join(part.capitalize() for part in label.split("-"))


def _tune_trials(experiment: Path):
    """(Tune trial folder, its result rows that name a trial key) for each folder that has some."""
    for trial_dir in sorted(p for p in experiment.iterdir() if (p / "params.json").is_file()):
        rows = read_jsonl(trial_dir / "result.json")  # a line cut short by a killed driver is skipped
        keyed = [row for row in rows if "trial/key" in row]
        if keyed:
            yield trial_dir, keyed


def _tune_results(experiment: Path) -> dict[str, tuple[dict | None, bool]]:
    """trial key -> (last final result or None, whether Tune recorded an error), over Tune's trial folders."""
    found: dict[str, tuple[dict | None, bool]] = {}
    for trial_dir, keyed in _tune_trials(experiment):
        final = [row for row in keyed if "eval/return_mean" in row]
        key = keyed[-1]["trial/key"]
        errored = (trial_dir / "error.txt").exists() and not final
        found[key] = (final[-1] if final else found.get(key, (None, False))[0], errored)
    return found


def load_curves(trials: pd.DataFrame, experiments: list[str | os.PathLike]) -> pd.DataFrame:
    """A row per (trial, policy update count) of the `trials` frame's sweeps, with each numeric `policy/…`
    metric a trial reported along its training; a retried or resumed trial's later report of the same
    count wins."""
    wanted = set(zip(trials["sweep"], trials["key"]))
    frames = []
    for experiment in {Path(e).resolve() for e in experiments}:
        for _, keyed in _tune_trials(experiment):
            key = keyed[-1]["trial/key"]
            if (experiment.name, key) not in wanted:
                continue
            rows = [{k: v for k, v in row.items() if k.startswith("policy/") and isinstance(v, (int, float))}
                    for row in keyed if "policy/updates" in row]
            if rows:
                frames.append(pd.DataFrame(rows).assign(sweep=experiment.name, key=key))
    if not frames:
        return pd.DataFrame(columns=["sweep", "key", "policy/updates"])
    curves = pd.concat(frames, ignore_index=True)
    return curves.drop_duplicates(["sweep", "key", "policy/updates"], keep="last").sort_values(
        ["sweep", "key", "policy/updates"]).reset_index(drop=True)


def load_trials(experiments: list[str | os.PathLike]) -> pd.DataFrame:
    """The tidy frame: a row per planned trial of each sweep, finished or not."""
    from offsim_ray.sweep import load_plan

    records, read = [], set()
    for experiment in map(Path, experiments):
        if not experiment.is_dir():
            raise OffSimError(f"no sweep folder at {experiment}")
        if experiment.resolve() in read:  # the same folder, however spelled, counts once
            continue
        read.add(experiment.resolve())
        plan = load_plan(experiment)
        results = _tune_results(experiment)
        for order, point in enumerate(plan.spec.points()):
            key, config = plan.trial(point)
            sim, policy = config.sim_config(), config.policy_config()
            result, errored = results.get(key, (None, False))
            status = "finished" if result else "error" if errored else "unfinished" if key in results else "pending"
            record = {
                "sweep": experiment.name, "table": plan.spec.name, "preset": plan.spec.preset, "key": key,
                "order": order, "env": point["env"], "dataset": point["dataset"], "expert": config.expert,
                "diverse": config.diverse, "algo": config.algo, "seed": config.seed, "margin": sim.margin,
                "margin_relative": sim.margin_relative, "beta": sim.beta, "variance": policy.variance,
                "status": status, "node": (result or {}).get("trial/node"),
                "simulator": (result or {}).get("trial/simulator"),
            }
            record.update({name: float((result or {}).get(metric, np.nan)) for name, metric in TIDY_METRICS.items()})
            records.append(record)
    if not records:
        raise OffSimError("no trials found in " + ", ".join(map(str, experiments)))
    # a trial in two copies of a sweep counts once: its furthest state, else the first folder's
    frame = pd.DataFrame.from_records(records)
    furthest = frame.assign(rank=frame["status"].map(STATUS_RANK)).sort_values("rank", kind="stable")
    kept = furthest.drop_duplicates(["sweep", "key"]).index
    return frame.loc[sorted(kept)].reset_index(drop=True)


@dataclass(frozen=True)
class Table:
    name: str            # table1, table2, table3a, table3b, table4
    title: str
    frame: pd.DataFrame  # index: row labels; per method column c: c, "c std", "c n"; best, second
    methods: list[str]   # the ranked columns, in order
    extra: list[str]     # unranked columns shown after them (Expert, proposed m)

    def header(self) -> list[str]:
        return list(self.frame.index.names) + self.methods + self.extra

    def cells(self) -> list[list[tuple[str, str | None]]]:
        """Per row, its cells as (text, mark): mark "best", "second" or None."""
        rows = []
        for labels, row in self.frame.iterrows():
            labels = labels if isinstance(labels, tuple) else (labels,)
            cells = [(str(label), None) for label in labels]
            for method in self.methods + self.extra:
                mark = "best" if method == row.get("best") else "second" if method == row.get("second") else None
                cells.append((_cell(row.get(method), row.get(f"{method} std"), row.get(f"{method} n")), mark))
            rows.append(cells)
        return rows

    def markdown(self) -> str:
        header = self.header()
        marked = {"best": "**{}**", "second": "<u>{}</u>", None: "{}"}
        lines = [f"**{self.title}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for cells in self.cells():
            lines.append("| " + " | ".join(marked[mark].format(text) for text, mark in cells) + " |")
        return "\n".join(lines)


def _cell(mean, std, n) -> str:
    """`mean ± std (n)`, decimals by the mean's size: returns in whole units, rewards (|r| < 1) in four."""
    if mean is None or (isinstance(mean, float) and np.isnan(mean)):
        return "–"
    if isinstance(mean, str):
        return mean
    decimals = 0 if abs(mean) >= 100 else 1 if abs(mean) >= 10 else 4
    if std is None or np.isnan(std):
        return f"{mean:.{decimals}f}"
    return f"{mean:.{decimals}f} ± {std:.{decimals}f} ({int(n)})"


def _summary(df: pd.DataFrame, index: list[str], column: str, value: str, order: list) -> pd.DataFrame:
    """Mean, std and count of `value` over seeds, rows `index`, a column group per `column` value."""
    stats = df.groupby(index + [column], sort=False)[value].agg(["mean", "std", "count"])
    stats["std"] = stats["std"].fillna(0.0)
    frame = pd.DataFrame(index=pd.MultiIndex.from_frame(df[index].drop_duplicates()))
    for label in order:
        if label not in stats.index.get_level_values(column):
            continue
        part = stats.xs(label, level=column)
        frame[label] = part["mean"]
        frame[f"{label} std"] = part["std"]
        frame[f"{label} n"] = part["count"]
    return frame


def _rank(frame: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    present = [m for m in methods if m in frame]
    means = frame[present] if present else pd.DataFrame(index=frame.index)
    best, second = [], []
    for _, row in means.iterrows():
        ranked = row.dropna().sort_values(ascending=False).index.tolist()
        best.append(ranked[0] if ranked else None)
        second.append(ranked[1] if len(ranked) > 1 else None)
    return frame.assign(best=best, second=second)


def _labelled(df: pd.DataFrame) -> pd.DataFrame:
    df = df.sort_values("order").copy()
    df["Env"] = df["env"].map(ENV_LABELS)
    df["Dataset"] = df["dataset"].map(_dataset_label)
    return df


def _table(name: str, title: str, df: pd.DataFrame, column: str, order: list[str],
           extra: dict[str, str] | None = None) -> Table:
    index = ["Env", "Dataset"]
    frame = _rank(_summary(df, index, column, "return_mean", order), order)
    for label, value in (extra or {}).items():
        frame[label] = df.groupby(index, sort=False)[value].mean()
    methods = [m for m in order if m in frame]
    return Table(name, title, frame, methods, list(extra or {}))


def _table1(df: pd.DataFrame) -> list[Table]:
    df = df.assign(method=df["algo"].map(lambda a: BASELINE_LABELS.get(a) or f"Ours ({ALGO_LABELS[a]})"))
    order = list(dict.fromkeys(df["method"]))
    return [_table("table1", "Table 1: real-env return of OffSim(+) and the baselines", df, "method", order,
                   {"Expert": "reference_expert"})]


def margin_label(margin: float, relative: bool) -> str:
    return f"{margin:g}R" if relative else f"m={margin:g}"


def _table2(df: pd.DataFrame) -> list[Table]:
    df = df.assign(m=[margin_label(m, r) for m, r in zip(df["margin"], df["margin_relative"])])
    order = list(dict.fromkeys(df.sort_values("margin")["m"]))
    table = _table("table2", "Table 2: real-env return against the margin m (R = max|r| of an expert-only "
                   "reward)", df, "m", order)
    proposed = df.groupby(["Env", "Dataset"], sort=False)["proposed_margin"].mean()
    frame = table.frame.assign(**{"proposed m": [f"{v:.2f}R" if not np.isnan(v) else None for v in proposed]})
    return [Table(table.name, table.title, frame, table.methods, ["proposed m"])]


def _table3(df: pd.DataFrame) -> list[Table]:
    df = df.assign(model=df["variance"].map({"high": "High", "low": "Low"}))
    variance = _table("table3a", "Table 3a: high- vs low-variance transition model", df, "model",
                      ["High", "Low"])
    mixed = df[df["diverse"].notna() & (df["variance"] == "high")]
    rows = []
    for (env, dataset), group in mixed.groupby(["Env", "Dataset"], sort=False):
        for split in ("seen", "unseen"):
            rows.append({"Env": env, "Dataset": dataset, "Data": split.capitalize(),
                         "Expert": group[f"reward_{split}_expert"].mean(),
                         "Diverse": group[f"reward_{split}_diverse"].mean(),
                         "Expert n": len(group), "Diverse n": len(group)})
    frame = (pd.DataFrame(rows).set_index(["Env", "Dataset", "Data"]) if rows
             else pd.DataFrame(columns=["Expert", "Diverse"]))
    reward = Table("table3b", "Table 3b: mean learned reward r_φ on seen and unseen expert and diverse data",
                   frame, [], ["Expert", "Diverse"])
    return [variance, reward]


def _table4(df: pd.DataFrame) -> list[Table]:
    df = df.assign(method=df["algo"].map(ALGO_LABELS))
    order = [ALGO_LABELS[a] for a in ALGO_LABELS if ALGO_LABELS[a] in set(df["method"])]
    return [_table("table4", "Table 4: OffSim+ with other RL algorithms", df, "method", order)]


BUILDERS = {"table1": _table1, "table2": _table2, "table3": _table3, "table4": _table4}


def build_tables(trials: pd.DataFrame) -> list[Table]:
    """The paper's table(s) of one sweep's tidy rows, from its finished trials."""
    finished = _labelled(trials[trials["status"] == "finished"])
    if finished.empty:
        return []
    return BUILDERS[trials["table"].iloc[0]](finished)


def status_line(trials: pd.DataFrame) -> str:
    counts = trials["status"].value_counts()
    done, total = int(counts.get("finished", 0)), len(trials)
    line = f"{trials['sweep'].iloc[0]}: {done} of {total} trials finished"
    if done < total:
        others = ", ".join(f"{int(counts[s])} {s}" for s in ("unfinished", "error", "pending") if s in counts)
        line += f" ({others}); the tables hold the finished ones"
    return line


def write_tables(trials: pd.DataFrame, out: str | os.PathLike) -> list[tuple[str, list[Table], Path]]:
    """For each sweep in `trials`: <sweep>-trials.parquet (tidy), <table>-<preset>.{parquet,csv} per
    table and <sweep>.md with all of them; returns (status line, tables, markdown path) per sweep."""
    out = Path(out)
    make_dir(out)
    written = []
    for sweep, rows in trials.groupby("sweep", sort=False):
        rows = rows.reset_index(drop=True)
        preset = rows["preset"].iloc[0]
        tables = build_tables(rows)
        status = status_line(rows)
        write_with(out / f"{sweep}-trials.parquet", lambda p: rows.to_parquet(p, index=False))
        for table in tables:
            flat = table.frame.reset_index()
            write_with(out / f"{table.name}-{preset}.parquet", lambda p: flat.to_parquet(p, index=False))
            write_with(out / f"{table.name}-{preset}.csv", lambda p: flat.to_csv(p, index=False))
        text = "\n\n".join([f"_{status}_"] + [t.markdown() for t in tables]) + "\n"
        markdown = out / f"{sweep}.md"
        write_with(markdown, lambda p: Path(p).write_text(text))
        written.append((status, tables, markdown))
    return written
