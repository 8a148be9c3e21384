"""Differences between scenarios through :mod:`simlib.compare`: scenario − baseline per KPI.

Replication values of two scenarios run with the same seed (common random numbers) are paired
by replication index and the paired difference gets a Student-t interval; where the seeds or the
replication counts differ, :func:`simlib.compare.difference` uses Welch's unpaired interval and
the row's ``note`` says why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from simlib import compare
from simlib.report.collect import DEFAULT_BASELINE, BatchResults
from simlib.report.tables import kpi_names

DIFFERENCE_COLUMNS = ["scenario", "kpi", "method", "n", "mean_diff", "low", "high", "excludes_zero", "note"]


def same_seed(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Two KPI entries can be paired: their runs used the same seed (or a seed is unknown)."""
    return a.get("seed") is None or b.get("seed") is None or a.get("seed") == b.get("seed")


def difference(base: Mapping[str, Any], arm: Mapping[str, Any]) -> dict[str, Any]:
    """``arm − base`` of two KPI entries (``{"mean", "values", "seed"}``) with its 95% interval.

    Returns ``method`` ("paired", "welch" or "none"), ``n``, ``mean_diff``, ``low``, ``high``,
    ``excludes_zero`` and a ``note`` saying why a comparison is not paired. Entries without
    replication values give only the difference of their means.
    """
    if base.get("values") is None or arm.get("values") is None:
        known = base.get("mean") is not None and arm.get("mean") is not None
        mean_diff = float(arm["mean"] - base["mean"]) if known else math.nan
        return {"method": "none", "n": 0, "mean_diff": mean_diff, "low": math.nan, "high": math.nan,
                "excludes_zero": False, "note": "no replication values"}
    pairable = same_seed(base, arm)
    result = compare.difference(base["values"], arm["values"], can_pair=pairable)
    note = ""
    if result["method"] == "welch":
        counts = [int(np.isfinite(np.asarray(entry["values"], dtype=float)).sum()) for entry in (arm, base)]
        note = ("seeds differ: unpaired (Welch)" if not pairable
                else f"replication counts differ ({counts[0]} vs {counts[1]}): unpaired (Welch)")
    elif result["method"] == "none":
        note = "fewer than 2 replications"
    return {"method": result["method"], "n": result["n"], "mean_diff": result["mean"], "low": result["low"],
            "high": result["high"], "excludes_zero": result["excludes_zero"], "note": note}


def paired_differences(
    batch: BatchResults, baseline: str = DEFAULT_BASELINE, kpis: Sequence[str] | None = None
) -> pd.DataFrame:
    """Difference scenario − baseline for every other scenario × KPI (see :func:`difference`)."""
    if baseline not in batch.kpis:
        return pd.DataFrame(columns=DIFFERENCE_COLUMNS)
    names = list(kpis) if kpis is not None else kpi_names(batch)
    rows = []
    for scenario in batch.scenario_names(baseline):
        if scenario == baseline:
            continue
        for kpi in names:
            arm, base = batch.kpis[scenario].get(kpi), batch.kpis[baseline].get(kpi)
            if arm is None or base is None:
                continue
            rows.append({"scenario": scenario, "kpi": kpi, **difference(base, arm)})
    return pd.DataFrame(rows, columns=DIFFERENCE_COLUMNS)
