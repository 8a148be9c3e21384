"""Reading a batch folder (:mod:`simlib.batch_folder`): its runs, their results and the scenarios.

:func:`collect` never raises on bad content: a missing or corrupt ``results.json`` becomes a
:class:`~simlib.batch_folder.Problem` listed in the report. Everything else in the report is a
pure function of the collected :class:`BatchResults`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from simlib import yaml_io
from simlib.batch_folder import (
    RESULTS_FILE,
    RUN_HTML,
    RUNS_DIR,
    TABLES_DIR,
    TIMING_FILE,
    Problem,
    last_attempts,
    read_manifest,
    read_run_info,
)
from simlib.results import mean_ci

KPI_NOTEBOOK = "04_kpi_monitoring"  # its KPIs win when several notebooks report the same one
TIER_NOTEBOOK = "01_member_tiering"
TIER_TABLE = "tier_daily"
DEFAULT_BASELINE = "baseline"


@dataclass
class Run:
    """One run folder ``runs/<notebook>/<slug>``."""

    notebook: str
    slug: str
    folder: Path
    scenario: str
    results: dict[str, Any] | None = None
    html: Path | None = None


@dataclass
class Scenario:
    """A scenario's identity: its name, and the optional label and description."""

    name: str
    slug: str
    label: str
    description: str = ""


@dataclass
class BatchResults:
    """Everything the report needs from one batch folder."""

    batch_dir: Path
    runs: list[Run] = field(default_factory=list)
    manifest: list[dict[str, Any]] = field(default_factory=list)
    timing: dict[str, Any] | None = None
    problems: list[Problem] = field(default_factory=list)
    scenarios: dict[str, Scenario] = field(default_factory=dict)
    #: scenario -> kpi -> {"mean", "low", "high", "values", "unit", "notebook", "seed", "run"}
    kpis: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    found: bool = True

    def scenario_names(self, baseline: str | None = DEFAULT_BASELINE) -> list[str]:
        """Scenario names with KPIs, the baseline first, the others sorted."""
        names = sorted(self.kpis)
        if baseline in self.kpis:
            names.remove(baseline)
            names.insert(0, baseline)
        return names

    def display_name(self, scenario: str) -> str:
        info = self.scenarios.get(scenario)
        return info.label if info and info.label else scenario


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def clean_entry(entry: Any) -> dict[str, Any] | None:
    """A results-JSON KPI entry as ``{"mean", "low", "high", "values", "unit"}``, or None without a mean."""
    if not isinstance(entry, Mapping):
        return None
    values = entry.get("values")
    if isinstance(values, list):
        values = [float(v) if is_number(v) else math.nan for v in values]
        if not any(math.isfinite(v) for v in values):
            values = None
    else:
        values = None
    mean = entry.get("mean")
    if not is_number(mean):
        if values is None:
            return None
        mean = mean_ci(values)["mean"]
    low = entry.get("low") if is_number(entry.get("low")) else mean
    high = entry.get("high") if is_number(entry.get("high")) else mean
    unit = entry.get("unit") if isinstance(entry.get("unit"), str) else ""
    return {"mean": float(mean), "low": float(low), "high": float(high), "values": values, "unit": unit}


def _read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def _sorted_runs(runs: Iterable[Run]) -> list[Run]:
    return sorted(runs, key=lambda run: (run.notebook != KPI_NOTEBOOK, run.notebook, run.slug))


def collect(batch_dir: str | os.PathLike) -> BatchResults:
    """Read a batch folder. Bad or missing content becomes :attr:`BatchResults.problems`."""
    root = Path(batch_dir)
    batch = BatchResults(batch_dir=root)
    if not root.is_dir():
        batch.found = False
        batch.problems.append(Problem(str(root), "batch folder not found"))
        return batch

    batch.manifest = read_manifest(root, batch.problems)
    if (root / TIMING_FILE).exists():
        try:
            timing = _read_json(root / TIMING_FILE)
            batch.timing = timing if isinstance(timing, dict) else None
        except (OSError, ValueError) as error:
            batch.problems.append(Problem(TIMING_FILE, f"unreadable: {error}"))

    attempts = last_attempts(batch.manifest)
    runs_root = root / RUNS_DIR
    if runs_root.is_dir():
        for notebook_dir in sorted(p for p in runs_root.iterdir() if p.is_dir()):
            for run_dir in sorted(p for p in notebook_dir.iterdir() if p.is_dir()):
                batch.runs.append(_read_run(notebook_dir.name, run_dir, attempts, batch.problems))

    on_disk = {(run.notebook, run.slug) for run in batch.runs}
    for key, record in attempts.items():
        if record.get("status") == "ok" and key not in on_disk:
            batch.problems.append(
                Problem(f"{RUNS_DIR}/{key[0]}/{key[1]}", "manifest says ok but the run folder is missing")
            )

    for run in _sorted_runs(batch.runs):
        _register_scenario(batch, run, attempts.get((run.notebook, run.slug), {}))
        _add_kpis(batch, run)
    # Scenarios known only from the manifest (all their runs failed) still get a name.
    for record in attempts.values():
        name = record.get("scenario")
        if isinstance(name, str) and name not in batch.scenarios:
            slug = str(record.get("scenario_slug") or name)
            from_file = _scenario_file_text(record)
            batch.scenarios[name] = Scenario(name=name, slug=slug, label=from_file.get("label") or name,
                                             description=from_file.get("description", ""))
    return batch


def _add_kpis(batch: BatchResults, run: Run) -> None:
    """The run's KPIs that no earlier run of its scenario gave."""
    kpis = run.results.get("kpis") if run.results is not None else None
    if not isinstance(kpis, Mapping):
        return
    into = batch.kpis.setdefault(run.scenario, {})
    for name, entry in kpis.items():
        if name in into:
            continue
        cleaned = clean_entry(entry)
        if cleaned is None:
            where = f"{RUNS_DIR}/{run.notebook}/{run.slug}/{RESULTS_FILE}"
            batch.problems.append(Problem(where, f"KPI {name!r} has no usable mean"))
            continue
        seed = run.results.get("seed")
        cleaned.update(notebook=run.notebook, seed=seed if is_number(seed) else None, run=run)
        into[str(name)] = cleaned
    if not into:
        del batch.kpis[run.scenario]


def _read_run(notebook: str, run_dir: Path, attempts: Mapping, problems: list[Problem]) -> Run:
    record = attempts.get((notebook, run_dir.name), {})
    where = f"{RUNS_DIR}/{notebook}/{run_dir.name}/{RESULTS_FILE}"
    # The scenario's name: the manifest's, else the run's run.json, else results.json's, else the slug.
    named = isinstance(record.get("scenario"), str) and record["scenario"]
    scenario = record["scenario"] if named else run_dir.name
    if not named:
        info = read_run_info(run_dir) or {}
        if isinstance(info.get("scenario"), str) and info["scenario"]:
            scenario, named = info["scenario"], True
    run = Run(notebook=notebook, slug=run_dir.name, folder=run_dir, scenario=scenario)
    html_path = run_dir / RUN_HTML
    if html_path.is_file():
        run.html = html_path
    path = run_dir / RESULTS_FILE
    if not path.exists():
        if record.get("status", "ok") == "ok":
            problems.append(Problem(where, "results.json is missing"))
        return run
    try:
        payload = _read_json(path)
    except (OSError, ValueError) as error:
        problems.append(Problem(where, f"corrupt results.json: {error}"))
        return run
    if not isinstance(payload, dict):
        problems.append(Problem(where, "corrupt results.json: not a JSON object"))
        return run
    run.results = payload
    if not named and isinstance(payload.get("scenario"), str) and payload["scenario"]:
        run.scenario = _scenario_name(payload["scenario"])
    if not isinstance(payload.get("kpis"), Mapping) or not payload.get("kpis"):
        problems.append(Problem(where, "results.json has no KPIs"))
    return run


def _scenario_name(value: str) -> str:
    """A scenario name from a results.json ``scenario`` field (a scenario file path gives its stem)."""
    if value.endswith((".yaml", ".yml")):
        return Path(value).stem
    return value


def _scenario_file_text(record: Mapping[str, Any]) -> dict[str, str]:
    """``label`` and ``description`` from the scenario file the manifest names, if readable."""
    path = record.get("scenario_file")
    if not isinstance(path, str) or not path.endswith((".yaml", ".yml")):
        return {}
    try:
        data = yaml_io.read_mapping(path)
    except yaml_io.YamlError:  # missing or unreadable scenario file: the report just has no description
        return {}
    return {key: data[key] for key in ("label", "description") if isinstance(data.get(key), str)}


def _first_text(sources: Iterable[Mapping[str, Any]], key: str) -> str | None:
    return next((source[key] for source in sources if isinstance(source.get(key), str)), None)


def _register_scenario(batch: BatchResults, run: Run, record: Mapping[str, Any]) -> None:
    sources = [run.results or {}, record]
    label_value = _first_text(sources, "scenario_label")
    description = _first_text(sources, "description") or ""
    known = batch.scenarios.get(run.scenario)
    if not label_value or not description:
        if known is None or known.label == known.name or not known.description:
            from_file = _scenario_file_text(record)
            label_value = label_value or from_file.get("label")
            description = description or from_file.get("description", "")
    if known is None:
        batch.scenarios[run.scenario] = Scenario(
            name=run.scenario, slug=run.slug, label=label_value or run.scenario, description=description or ""
        )
        return
    if label_value and known.label == known.name:
        known.label = label_value
    if description and not known.description:
        known.description = description


def resolve_batch_dir(batch_dir: str | os.PathLike) -> Path:
    """``batch_dir`` as given if it exists, else relative to the project root."""
    path = Path(batch_dir)
    if path.is_absolute() or path.exists():
        return path
    project_root = Path(__file__).resolve().parents[2]
    candidate = project_root / path
    return candidate if candidate.exists() else path


def tier_mix(batch: BatchResults, baseline: str = DEFAULT_BASELINE) -> pd.DataFrame:
    """``tables/tier_daily.csv`` of every 01_member_tiering run: scenario, day, tier, members."""
    frames = []
    for run in batch.runs:
        if run.notebook != TIER_NOTEBOOK:
            continue
        path = run.folder / TABLES_DIR / f"{TIER_TABLE}.csv"
        if not path.is_file():
            continue
        where = f"{RUNS_DIR}/{run.notebook}/{run.slug}/{TABLES_DIR}/{path.name}"
        try:
            frame = pd.read_csv(path)
        except (OSError, ValueError) as error:
            batch.problems.append(Problem(where, f"unreadable: {error}"))
            continue
        if not {"day", "tier", "members"} <= set(frame.columns):
            batch.problems.append(Problem(where, "missing columns day, tier, members"))
            continue
        frames.append(frame[["day", "tier", "members"]].assign(scenario=run.scenario))
    if not frames:
        return pd.DataFrame(columns=["scenario", "day", "tier", "members"])
    out = pd.concat(frames, ignore_index=True)[["scenario", "day", "tier", "members"]]
    order = batch.scenario_names(baseline) + sorted(set(out["scenario"]) - set(batch.kpis))
    out["scenario"] = pd.Categorical(out["scenario"], categories=list(dict.fromkeys(order)))
    return out.sort_values(["scenario", "day", "tier"]).reset_index(drop=True)
