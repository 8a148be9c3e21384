"""The report's tables: headline KPIs with 95% intervals, health thresholds and flags, run status,
links to the executed notebooks, and the headline CSV export.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from simlib.batch_folder import RUNS_DIR, STATUSES, last_attempts
from simlib.params import DEFAULTS_FILE, ROOT, load_scenario, resolve_scenario_path
from simlib.report.collect import DEFAULT_BASELINE, BatchResults, is_number
from simlib.report_safety import csv_safe

#: The headline KPIs with the kind of number each one is, in the report's tables, each narrow enough
#: for the page: health and retention, then value and size ({report text key of the caption: KPIs}).
_KPI_TABLES: dict[str, dict[str, str]] = {
    "kpis_health": {
        "retention_d30": "share", "retention_d90": "share", "messages_per_100_members_per_day": "rate",
        "revisit_7d": "share", "activity_conversion": "share", "share_rate": "share", "exits": "count",
    },
    "kpis_value": {
        "revenue_per_member": "CNY", "ltv": "CNY", "cost": "CNY", "roi": "ratio", "ranking_value": "CNY",
        "net_value": "CNY", "residual_value": "CNY", "members_end": "count", "groups": "count",
        "newcomers_lost": "count",
    },
}
#: The headline KPIs, in display order, with the kind of number each one is.
KPIS: dict[str, str] = {kpi: kind for table in _KPI_TABLES.values() for kpi, kind in table.items()}
#: The report's KPI tables: {report text key of the caption: KPIs}.
KPI_GROUPS: dict[str, tuple[str, ...]] = {caption: tuple(table) for caption, table in _KPI_TABLES.items()}


def load_health_thresholds(scenario: str | Path | None = None) -> tuple[dict[str, float], str]:
    """Health thresholds ``{kpi: lower bound}`` (the article's table 4) and where they came from.

    They are the validated ``monitoring.health_thresholds`` of the defaults, or of ``scenario``
    (a name or a path) when given; an invalid file raises :class:`simlib.params.ParamsError`.
    """
    thresholds = load_scenario(scenario).monitoring.health_thresholds
    path = DEFAULTS_FILE if scenario is None else resolve_scenario_path(scenario).resolve()
    shown = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
    return thresholds.model_dump(), f"{shown}: monitoring.health_thresholds"


def kpi_names(batch: BatchResults) -> list[str]:
    """The KPIs present in the batch: those of :data:`KPIS` in its order, then the others sorted."""
    present = {name for entries in batch.kpis.values() for name in entries}
    ordered = [name for name in KPIS if name in present]
    return ordered + sorted(present - set(ordered))


HEADLINE_COLUMNS = ["scenario", "scenario_label", "description", "kpi", "mean", "low", "high", "n", "unit",
                    "notebook"]


def headline_table(
    batch: BatchResults, kpis: Sequence[str] | None = None, baseline: str = DEFAULT_BASELINE
) -> pd.DataFrame:
    """Long table, one row per scenario × KPI: mean, low, high (95%), n, unit, source notebook."""
    names = list(kpis) if kpis is not None else kpi_names(batch)
    rows = []
    for scenario in batch.scenario_names(baseline):
        info = batch.scenarios.get(scenario)
        for kpi in names:
            entry = batch.kpis[scenario].get(kpi)
            if entry is None:
                continue
            values = entry["values"]
            rows.append(
                {
                    "scenario": scenario,
                    "scenario_label": info.label if info else scenario,
                    "description": info.description if info else "",
                    "kpi": kpi,
                    "mean": entry["mean"],
                    "low": entry["low"],
                    "high": entry["high"],
                    "n": 0 if values is None else int(sum(math.isfinite(v) for v in values)),
                    "unit": entry["unit"] or KPIS.get(kpi, ""),
                    "notebook": entry["notebook"],
                }
            )
    return pd.DataFrame(rows, columns=HEADLINE_COLUMNS)


def health_flags(headline: pd.DataFrame, thresholds: Mapping[str, float]) -> pd.DataFrame:
    """Pass/fail of each scenario × thresholded KPI (lower bounds, judged on the mean).

    ``certain`` is False when the 95% interval straddles the threshold.
    """
    rows = []
    for row in headline.itertuples(index=False):
        if row.kpi not in thresholds:
            continue
        bound = float(thresholds[row.kpi])
        rows.append(
            {
                "scenario": row.scenario,
                "kpi": row.kpi,
                "mean": row.mean,
                "threshold": bound,
                "passed": bool(row.mean >= bound),
                "certain": bool(row.low >= bound or row.high < bound),
            }
        )
    return pd.DataFrame(rows, columns=["scenario", "kpi", "mean", "threshold", "passed", "certain"])


def format_number(value: float, kpi: str = "", unit: str = "") -> str:
    """A KPI value for display: shares as percent, money with 2 decimals, counts as integers."""
    if value is None or not math.isfinite(value):
        return "–"
    kind = KPIS.get(kpi) or unit
    if is_share(kpi, unit):
        return f"{value * 100:.1f}%"
    if kind == "count":
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"
    if kind == "CNY":
        return f"{value:,.2f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def is_share(kpi: str = "", unit: str = "") -> bool:
    """Whether a KPI is a share (a proportion between 0 and 1)."""
    return (KPIS.get(kpi) or unit) == "share" or unit in ("share", "proportion")


def clipped_interval(low: Any, high: Any, kpi: str = "", unit: str = "") -> tuple[Any, Any]:
    """A share's 95% interval (numbers or Series) cut to [0, 1] for display: with few replications
    a Student-t interval can reach past them, which a share never does. Other KPIs unchanged."""
    if not is_share(kpi, unit):
        return low, high
    return np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0)


def format_interval(mean: float, low: float, high: float, kpi: str = "", unit: str = "") -> str:
    """``"12.3 [11.8, 12.9]"``; a share's interval clipped to [0, 1] (:func:`clipped_interval`)."""
    low, high = clipped_interval(low, high, kpi, unit)
    low_high = f"{format_number(low, kpi, unit)}, {format_number(high, kpi, unit)}"
    return f"{format_number(mean, kpi, unit)} [{low_high}]"


def headline_csv_frame(headline: pd.DataFrame, flags: pd.DataFrame) -> pd.DataFrame:
    """The headline table for export: one row per scenario × KPI, with threshold and pass flag."""
    flagged = flags[["scenario", "kpi", "threshold", "passed"]]
    merged = headline.merge(flagged, on=["scenario", "kpi"], how="left")
    merged["health"] = merged["passed"].map({True: "pass", False: "fail"}).fillna("")
    return merged.drop(columns=["passed"])


def write_headline_csv(headline: pd.DataFrame, flags: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the headline CSV (formula-looking text cells neutralized by :func:`csv_safe`)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    csv_safe(headline_csv_frame(headline, flags)).to_csv(target, index=False, encoding="utf-8")
    return target


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _error_text(record: Mapping[str, Any], limit: int = 400) -> str:
    for key in ("error", "error_message", "message", "reason", "exception"):
        value = record.get(key)
        if value:
            message = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            message = _ANSI.sub("", message).strip()
            return message if len(message) <= limit else message[: limit - 1] + "…"
    return ""


def run_status(batch: BatchResults) -> tuple[dict[str, int], pd.DataFrame]:
    """Counts per status (the attempt that decides each run) and the table of runs that did not succeed."""
    counts = {status: 0 for status in STATUSES}
    failed = []
    for record in last_attempts(batch.manifest).values():
        status = str(record.get("status", "unknown"))
        counts[status] = counts.get(status, 0) + 1
        if status not in ("ok", "skipped"):
            duration = record.get("duration_s")
            failed.append(
                {
                    "notebook": str(record.get("notebook", "")),
                    "scenario": str(record.get("scenario", record.get("scenario_slug", ""))),
                    "status": status,
                    "duration_s": float(duration) if is_number(duration) else math.nan,
                    "error": _error_text(record),
                }
            )
    return counts, pd.DataFrame(failed, columns=["notebook", "scenario", "status", "duration_s", "error"])


def run_seconds(batch: BatchResults) -> float:
    """The time the runs took, summed over the attempt that decides each run."""
    durations = (record.get("duration_s") for record in last_attempts(batch.manifest).values())
    return sum(duration for duration in durations if is_number(duration))


def relative_href(target: Path, html_dir: Path) -> str:
    """A URL from a page in ``html_dir`` to the file ``target``, every path segment quoted."""
    relative = os.path.relpath(target.resolve(), html_dir.resolve())
    return "/".join(quote(part, safe="") for part in Path(relative).parts)


def run_links(batch: BatchResults, html_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every executed notebook's HTML with an href relative to ``html_dir`` (default: the batch
    folder): notebook, scenario (its name), href.

    Only files that exist inside ``<batch_dir>/runs`` are linked; path segments are URL-quoted.
    """
    base = Path(html_dir) if html_dir is not None else batch.batch_dir
    runs_root = (batch.batch_dir / RUNS_DIR).resolve()
    rows = []
    for run in sorted(batch.runs, key=lambda r: (r.notebook, r.scenario)):
        if run.html is None or not run.html.resolve().is_relative_to(runs_root):
            continue
        href = relative_href(run.html, base)
        rows.append({"notebook": run.notebook, "scenario": run.scenario, "href": href})
    return pd.DataFrame(rows, columns=["notebook", "scenario", "href"])
