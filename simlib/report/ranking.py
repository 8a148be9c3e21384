"""The ranking: each scenario's net value, eligibility (health thresholds, retention floor), the
ranked table, and the Pareto front of revenue per member against exits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from simlib.report.collect import DEFAULT_BASELINE, BatchResults, Run, clean_entry
from simlib.report.differences import difference
from simlib.results import mean_ci

#: Keys under which a run may report its member count (used for cost per member).
MEMBER_COUNT_KEYS = ("members", "member_count", "members_total", "group_size", "members_end")

#: Retention floor for the ranking when none is given: baseline's mean 30-day retention minus this.
DEFAULT_RETENTION_TOLERANCE = 0.02


def _member_count(entry: Mapping[str, Any]) -> list[float] | float | None:
    """Member count(s) from the run that supplied ``entry`` (per replication if available)."""
    run: Run | None = entry.get("run")
    if run is None or run.results is None:
        return None
    for section in ("kpis", "metrics"):
        block = run.results.get(section)
        if not isinstance(block, Mapping):
            continue
        for key in MEMBER_COUNT_KEYS:
            found = clean_entry(block.get(key))
            if found and found["mean"] > 0:
                return found["values"] if found["values"] is not None else found["mean"]
    return None


def _paired_lengths(a: list[float] | None, b: list[float] | None) -> bool:
    return a is not None and b is not None and len(a) == len(b)


def _cost_per_member(kpis: Mapping[str, Any]) -> tuple[list[float] | None, float] | None:
    """(per-replication values or None, mean) of a scenario's cost per member, if it can be had."""
    per_member = kpis.get("cost_per_member")
    if per_member is not None:
        return per_member["values"], per_member["mean"]
    if "cost" not in kpis or (members := _member_count(kpis["cost"])) is None:
        return None
    cost = kpis["cost"]
    if isinstance(members, list) and _paired_lengths(members, cost["values"]):
        cost_values = [c / m if m else math.nan for c, m in zip(cost["values"], members, strict=True)]
        return cost_values, float(np.nanmean(cost_values))
    count = float(np.nanmean(members)) if isinstance(members, list) else float(members)
    cost_values = None if cost["values"] is None else [c / count for c in cost["values"]]
    return cost_values, cost["mean"] / count


def net_values(batch: BatchResults) -> tuple[str, dict[str, dict[str, Any]]]:
    """The ranking value of each scenario: ``(value_name, {scenario: entry})``.

    ``net_value_per_member`` = revenue_per_member − cost per member, per replication, where cost
    per member is the ``cost_per_member`` KPI if present, else ``cost`` / member count from the
    same run. If no scenario has what that needs, the value is ``roi``.
    """
    entries: dict[str, dict[str, Any]] = {}
    for scenario, kpis in batch.kpis.items():
        revenue = kpis.get("revenue_per_member")
        cost = _cost_per_member(kpis) if revenue is not None else None
        if cost is None:
            continue
        cost_values, cost_mean = cost
        if _paired_lengths(revenue["values"], cost_values):
            values = [r - c for r, c in zip(revenue["values"], cost_values, strict=True)]
            ci = mean_ci(values)
            entries[scenario] = {"mean": ci["mean"], "low": ci["low"], "high": ci["high"], "values": values,
                                 "seed": revenue.get("seed")}
        else:
            value = revenue["mean"] - cost_mean
            entries[scenario] = {"mean": value, "low": value, "high": value, "values": None,
                                 "seed": revenue.get("seed")}
    if entries and len(entries) == len(batch.kpis):
        return "net_value_per_member", entries
    roi = {s: dict(k["roi"]) for s, k in batch.kpis.items() if "roi" in k}
    return "roi", roi


@dataclass
class Ranking:
    """Result of :func:`rank_scenarios`: the ranked table and the rule that produced it."""

    table: pd.DataFrame
    value_name: str
    retention_floor: float | None
    baseline: str
    values: dict[str, dict[str, Any]]


def rank_scenarios(
    batch: BatchResults,
    thresholds: Mapping[str, float],
    baseline: str = DEFAULT_BASELINE,
    retention_floor: float | None = None,
    retention_tolerance: float = DEFAULT_RETENTION_TOLERANCE,
) -> Ranking:
    """Rank scenarios by a transparent rule.

    1. Eligible first: every health-thresholded KPI present and passing (mean ≥ threshold), and
       ``retention_d30`` ≥ the retention floor (``retention_floor`` if given, else the baseline's
       mean 30-day retention − ``retention_tolerance``).
    2. Then by the ranking value (:func:`net_values`: net value per member, else ROI), highest
       first, compared at 2 decimals.
    3. Ties: a significantly positive paired difference vs. the baseline first, then the higher
       lower bound of that difference, then the name.
    """
    value_name, values = net_values(batch)
    if retention_floor is None and "retention_d30" in batch.kpis.get(baseline, {}):
        retention_floor = batch.kpis[baseline]["retention_d30"]["mean"] - retention_tolerance
    rows = []
    for scenario in batch.scenario_names(baseline):
        kpis = batch.kpis[scenario]
        reasons: list[tuple[str, str]] = []
        for kpi, bound in thresholds.items():
            if kpi not in kpis:
                reasons.append(("missing", kpi))
            elif kpis[kpi]["mean"] < bound:
                reasons.append(("health", kpi))
        if retention_floor is not None:
            if "retention_d30" not in kpis:
                reasons.append(("missing", "retention_d30"))
            elif kpis["retention_d30"]["mean"] < retention_floor:
                reasons.append(("retention", "retention_d30"))
        value = values.get(scenario)
        diff = (
            difference(values[baseline], value)
            if value is not None and baseline in values and scenario != baseline
            else None
        )
        rows.append(
            {
                "scenario": scenario,
                "eligible": not reasons,
                "reasons": reasons,
                "value": value["mean"] if value else math.nan,
                "value_low": value["low"] if value else math.nan,
                "value_high": value["high"] if value else math.nan,
                "diff": diff["mean_diff"] if diff else math.nan,
                "diff_low": diff["low"] if diff else math.nan,
                "diff_high": diff["high"] if diff else math.nan,
                "diff_method": diff["method"] if diff else "none",
                "diff_significant": bool(diff and diff["excludes_zero"] and diff["mean_diff"] > 0),
            }
        )
    table = pd.DataFrame(
        rows,
        columns=["scenario", "eligible", "reasons", "value", "value_low", "value_high", "diff", "diff_low",
                 "diff_high", "diff_method", "diff_significant"],
    )
    if not table.empty:
        table["_value"] = table["value"].round(2).fillna(-math.inf)
        table["_tiebreak"] = table["diff_low"].fillna(-math.inf)
        table = table.sort_values(
            ["eligible", "_value", "diff_significant", "_tiebreak", "scenario"],
            ascending=[False, False, False, False, True],
            kind="mergesort",
        ).drop(columns=["_value", "_tiebreak"])
    table.insert(0, "rank", range(1, len(table) + 1))
    return Ranking(table.reset_index(drop=True), value_name, retention_floor, baseline, values)


def pareto_front(
    headline: pd.DataFrame, x_kpi: str = "exits", y_kpi: str = "revenue_per_member"
) -> list[str]:
    """Scenarios not dominated in (fewer ``x_kpi``, more ``y_kpi``), by their means."""
    wide = headline.pivot_table(index="scenario", columns="kpi", values="mean", aggfunc="first")
    if x_kpi not in wide or y_kpi not in wide:
        return []
    points = wide[[x_kpi, y_kpi]].dropna()
    front = []
    for name, (x, y) in points.iterrows():
        no_worse = (points[x_kpi] <= x) & (points[y_kpi] >= y)
        dominated = (no_worse & ((points[x_kpi] < x) | (points[y_kpi] > y))).any()
        if not dominated:
            front.append(str(name))
    order = list(dict.fromkeys(headline["scenario"]))
    return sorted(front, key=order.index)
