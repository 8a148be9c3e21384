"""The ranking: each scenario's ranking value, its eligibility (health thresholds and the
retention floor, with how far each condition is missed), the ranked table, the scenario closest
to eligible when none is, and the Pareto front of revenue per member against exits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from simlib.report.collect import DEFAULT_BASELINE, BatchResults, Run, clean_entry
from simlib.report.differences import difference
from simlib.results import mean_ci

#: The community's ranking value (net value over the horizon + residual value of the members
#: still there at the end) and its two parts, as KPIs of the runs' results.json.
RANKING_VALUE = "ranking_value"
RANKING_PARTS = ("net_value", "residual_value")
#: The fallback for batch folders without ``ranking_value``: not the community's value.
LEGACY_VALUE = "net_value_per_member"

#: Keys under which a run may report its member count (used for cost per member).
MEMBER_COUNT_KEYS = ("members", "member_count", "members_total", "group_size", "members_end")

#: Retention floor for the ranking when none is given: baseline's mean 30-day retention minus this.
DEFAULT_RETENTION_TOLERANCE = 0.02
RETENTION_KPI = "retention_d30"


@dataclass(frozen=True)
class Check:
    """One eligibility condition of one scenario: a KPI's mean against a lower bound.

    ``kind`` is "health" (a health threshold) or "retention" (the retention floor). A KPI the
    scenario lacks has a NaN mean: the check is ``missing`` and counts as missed.
    """

    kpi: str
    kind: str
    bound: float
    mean: float = math.nan
    low: float = math.nan
    high: float = math.nan

    @property
    def missing(self) -> bool:
        return not math.isfinite(self.mean)

    @property
    def passed(self) -> bool:
        return not self.missing and self.mean >= self.bound

    @property
    def shortfall(self) -> float:
        """How far the mean is below the bound, in the KPI's units (0 when passed, NaN when missing)."""
        return math.nan if self.missing else max(0.0, self.bound - self.mean)

    @property
    def relative_shortfall(self) -> float:
        """:attr:`shortfall` as a share of the bound (NaN when the bound is not positive)."""
        return self.shortfall / self.bound if self.bound > 0 else math.nan

    @property
    def reason(self) -> tuple[str, str]:
        """``(kind, kpi)`` of a failed check; kind "missing" when the KPI is absent."""
        return ("missing" if self.missing else self.kind, self.kpi)


def eligibility_checks(
    kpis: Mapping[str, Mapping[str, Any]], thresholds: Mapping[str, float], retention_floor: float | None
) -> list[Check]:
    """The health thresholds in their order, then the retention floor (when there is one)."""
    bounds = [(kpi, "health", float(bound)) for kpi, bound in thresholds.items()]
    if retention_floor is not None:
        bounds.append((RETENTION_KPI, "retention", float(retention_floor)))
    checks = []
    for kpi, kind, bound in bounds:
        entry = kpis.get(kpi)
        measured = {"mean": entry["mean"], "low": entry["low"], "high": entry["high"]} if entry else {}
        checks.append(Check(kpi, kind, bound, **measured))
    return checks


def default_retention_floor(
    baseline_kpis: Mapping[str, Mapping[str, Any]], tolerance: float = DEFAULT_RETENTION_TOLERANCE
) -> float | None:
    """The retention floor when none is given: the baseline's mean 30-day retention − ``tolerance``
    (None when the baseline has no 30-day retention)."""
    if RETENTION_KPI not in baseline_kpis:
        return None
    return baseline_kpis[RETENTION_KPI]["mean"] - tolerance


def closeness(checks: list[Check]) -> tuple[int, int, float]:
    """How far a scenario is from eligible, smaller is closer: (KPIs missing, conditions missed,
    sum of the relative shortfalls of the measured misses)."""
    failed = [check for check in checks if not check.passed]
    missing = sum(check.missing for check in failed)
    relative = sum(check.relative_shortfall for check in failed
                   if not check.missing and math.isfinite(check.relative_shortfall))  # a bound of 0 has none
    return missing, len(failed), float(relative)


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
    """The legacy ranking value of each scenario: ``(value_name, {scenario: entry})``.

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
        return LEGACY_VALUE, entries
    roi = {s: dict(k["roi"]) for s, k in batch.kpis.items() if "roi" in k}
    return "roi", roi


def ranking_values(
    batch: BatchResults,
) -> tuple[str, dict[str, dict[str, Any]], dict[str, dict[str, dict[str, Any]]]]:
    """``(value_name, {scenario: entry}, {scenario: {part: entry}})``.

    The community's ``ranking_value`` KPI with its parts (``net_value``, ``residual_value``) when
    every scenario has it; else the legacy :func:`net_values` (no parts).
    """
    if batch.kpis and all(RANKING_VALUE in kpis for kpis in batch.kpis.values()):
        values = {scenario: kpis[RANKING_VALUE] for scenario, kpis in batch.kpis.items()}
        parts = {scenario: {part: kpis[part] for part in RANKING_PARTS if part in kpis}
                 for scenario, kpis in batch.kpis.items()}
        return RANKING_VALUE, values, parts
    value_name, values = net_values(batch)
    return value_name, values, {}


@dataclass
class Ranking:
    """Result of :func:`rank_scenarios`: the ranked table, the rule that produced it and each
    scenario's eligibility checks."""

    table: pd.DataFrame
    value_name: str
    retention_floor: float | None
    baseline: str
    values: dict[str, dict[str, Any]]
    checks: dict[str, list[Check]] = field(default_factory=dict)
    parts: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    #: How the floor was set: the tolerance below the baseline's retention, None when given.
    retention_tolerance: float | None = None

    @property
    def recommended(self) -> str | None:
        """The best eligible scenario by the ranking value; None when none is eligible."""
        if self.table.empty or not self.table["eligible"].iloc[0]:
            return None
        return str(self.table["scenario"].iloc[0])

    @property
    def any_eligible(self) -> bool:
        return bool(self.table["eligible"].any()) if not self.table.empty else False

    def closeness_order(self) -> list[str]:
        """Scenarios from the closest to eligible to the farthest: fewest KPIs missing, then fewest
        conditions missed, then the smallest sum of relative shortfalls, then the higher ranking
        value, then the name."""
        value = dict(zip(self.table["scenario"], self.table["value"], strict=True))

        def key(scenario: str) -> tuple:
            higher_value = -value[scenario] if math.isfinite(value[scenario]) else math.inf
            return (*closeness(self.checks[scenario]), higher_value, scenario)

        return sorted(self.table["scenario"], key=key)

    @property
    def closest(self) -> str | None:
        """The scenario closest to eligible when none is eligible (see :meth:`closeness_order`)."""
        if self.table.empty or self.any_eligible:
            return None
        return self.closeness_order()[0]


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
       mean 30-day retention − ``retention_tolerance``). Ineligible scenarios follow, by the
       same order.
    2. Then by the ranking value (:func:`ranking_values`: the community's ``ranking_value``,
       else the legacy net value per member, else ROI), highest first, compared at 2 decimals.
    3. Ties: a significantly positive paired difference vs. the baseline first, then the higher
       lower bound of that difference, then the name.
    """
    value_name, values, parts = ranking_values(batch)
    tolerance = None
    if retention_floor is None:
        retention_floor = default_retention_floor(batch.kpis.get(baseline, {}), retention_tolerance)
        tolerance = retention_tolerance if retention_floor is not None else None
    rows, checks = [], {}
    for scenario in batch.scenario_names(baseline):
        checks[scenario] = eligibility_checks(batch.kpis[scenario], thresholds, retention_floor)
        failed = [check for check in checks[scenario] if not check.passed]
        value = values.get(scenario)
        diff = (
            difference(values[baseline], value)
            if value is not None and baseline in values and scenario != baseline
            else None
        )
        rows.append(
            {
                "scenario": scenario,
                "eligible": not failed,
                "reasons": [check.reason for check in failed],
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
    return Ranking(table.reset_index(drop=True), value_name, retention_floor, baseline, values, checks, parts,
                   dict(thresholds), tolerance)


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
