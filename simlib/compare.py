"""One comparison layer: arm − base, per replication, with a 95% interval.

Scenarios run with the same master seed share their random streams replication by
replication (common random numbers), so the honest comparison of two arms is the mean of the
per-replication differences ``b − a`` with a Student-t interval — the paired difference.
Every analysis module, notebook and the comparative report compare through this module, with
one sign convention (**b − a**, the arm minus the base) and one column schema
(:data:`TABLE_COLUMNS`).

Inputs are anything with per-replication values: a :class:`simlib.runner.SimulationResult`
and a metric name, a results-JSON entry (``{"mean", "low", "high", "values"}``), or a plain
sequence of numbers.

* :func:`paired` — b − a (or the lift b/a − 1, or the ratio b/a) with a 95% t interval;
  :func:`paired_metric` — the same as a results-JSON entry for ``Context.record``;
  :func:`per_replication` — the per-replication values both are built on.
* :func:`welch` — the unpaired fallback; :func:`difference` — paired when possible, else Welch.
* :func:`table` — every arm against a base, in the :data:`TABLE_COLUMNS` schema;
  :func:`entry` — one of its rows as ``{"mean", "low", "high"}``.
* :func:`levels` — each arm's own mean and interval, in the :data:`LEVEL_COLUMNS` schema.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from simlib.results import mean_ci, metric

#: Columns of :func:`table`: the arm's level (mean, low, high), its paired difference from the
#: base (diff*), the relative lift arm/base − 1 (lift*), the number of pairs and the method.
TABLE_COLUMNS = ["arm", "metric", "base_mean", "mean", "low", "high", "diff", "diff_low", "diff_high",
                 "lift", "lift_low", "lift_high", "n", "method"]
#: Columns of :func:`levels`: each arm's mean of a metric with its 95% interval and replications.
LEVEL_COLUMNS = ["arm", "metric", "mean", "low", "high", "n"]


def values_of(source: Any, name: str | None = None) -> np.ndarray:
    """Per-replication values as a float array.

    ``source`` is a SimulationResult (with ``name``), a results-JSON entry with ``values``, or a
    sequence of numbers. ``None`` values become NaN."""
    if name is not None and not isinstance(source, Mapping) and callable(getattr(source, "values", None)):
        raw = source.values(name)
    elif isinstance(source, Mapping):
        raw = source.get("values")
        if raw is None:
            return np.empty(0)
    else:
        raw = source
    return np.array([math.nan if value is None else value for value in raw], dtype=float)


def _nan_interval(n: int = 0) -> dict[str, Any]:
    return {"mean": math.nan, "low": math.nan, "high": math.nan, "n": n, "values": []}


def per_replication(a: Any, b: Any, name: str | None = None, *, relative: bool = False,
                    ratio: bool = False) -> np.ndarray:
    """One value per replication: b − a, or the lift b/a − 1 (``relative``), or the ratio b/a
    (``ratio``). NaN where either value is NaN (and, for the lift and the ratio, where a is 0).

    Arms with different numbers of replications cannot be paired: ValueError."""
    if relative and ratio:
        raise ValueError("relative=True and ratio=True: expected at most one (lift b/a − 1 or ratio b/a)")
    left, right = values_of(a, name), values_of(b, name)
    if left.size != right.size:
        what = f" of {name!r}" if name else ""
        raise ValueError(f"paired difference{what} needs equal replications, "
                         f"got {left.size} and {right.size}")
    if not (relative or ratio):
        return right - left
    with np.errstate(divide="ignore", invalid="ignore"):
        quotient = np.where(left != 0, right / left, np.nan)
    return quotient - 1 if relative else quotient


def paired(a: Any, b: Any, name: str | None = None, *, relative: bool = False, ratio: bool = False,
           confidence: float = 0.95) -> dict[str, Any]:
    """The paired difference b − a (or, with ``relative``, the lift b/a − 1; with ``ratio``, b/a)
    of two arms run with the same seeds: ``{"mean", "low", "high", "n", "values"}``, ``values``
    holding one difference per pair kept.

    Pairs where either value is NaN are left out (and, for the lift and the ratio, pairs where
    a is 0). Arms with different numbers of replications cannot be paired: ValueError.
    """
    differences = per_replication(a, b, name, relative=relative, ratio=ratio)
    differences = differences[np.isfinite(differences)]
    if differences.size == 0:
        return _nan_interval()
    interval = mean_ci(differences.tolist(), confidence)
    return {**interval, "values": differences.tolist()}


def paired_metric(a: Any, b: Any, name: str | None = None, unit: str = "", *, relative: bool = False,
                  ratio: bool = False) -> dict[str, Any]:
    """:func:`paired` as a results-JSON entry (``{"mean", "low", "high", "values", "unit"}``) for
    ``Context.record``. ``values`` keeps one slot per replication (NaN where the pair is
    missing), so the report can pair this entry with the same metric of another scenario."""
    return metric(per_replication(a, b, name, relative=relative, ratio=ratio).tolist(), unit)


def welch(a: Any, b: Any, name: str | None = None, *, confidence: float = 0.95) -> dict[str, Any]:
    """Unpaired difference of means b − a with a Welch t interval, for arms that do not share
    seeds or replication counts."""
    left, right = values_of(a, name), values_of(b, name)
    left, right = left[np.isfinite(left)], right[np.isfinite(right)]
    if left.size < 2 or right.size < 2:
        result = _nan_interval(int(min(left.size, right.size)))
        if left.size and right.size:
            result["mean"] = float(right.mean() - left.mean())
        return result
    difference = float(right.mean() - left.mean())
    var_left, var_right = left.var(ddof=1) / left.size, right.var(ddof=1) / right.size
    se = math.sqrt(var_left + var_right)
    if se == 0:
        low = high = difference
    else:
        df = (var_left + var_right) ** 2 / (var_left**2 / (left.size - 1) + var_right**2 / (right.size - 1))
        half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
        low, high = difference - half, difference + half
    return {"mean": difference, "low": low, "high": high, "n": int(min(left.size, right.size)), "values": []}


def difference(a: Any, b: Any, name: str | None = None, *, can_pair: bool = True) -> dict[str, Any]:
    """b − a, paired when the arms can be paired (same seed and replication count), else
    Welch's unpaired interval. Adds ``method`` ("paired", "welch" or "none") and
    ``excludes_zero`` (the 95% interval lies on one side of 0)."""
    left, right = values_of(a, name), values_of(b, name)
    result = None
    if can_pair and left.size == right.size and left.size:
        result = paired(left, right)
        result["method"] = "paired"
        if result["n"] < 2:
            result = None
    if result is None:
        result = welch(left, right)
        result["method"] = "welch" if math.isfinite(result["low"]) else "none"
    result["excludes_zero"] = bool(result["low"] > 0 or result["high"] < 0)
    return result


def excludes_zero(entry: Mapping[str, Any]) -> bool:
    """The interval of ``entry`` lies wholly above or below 0."""
    low, high = entry.get("low"), entry.get("high")
    return low is not None and high is not None and (low > 0 or high < 0)


def table(arms: Mapping[str, Any], base: str, metrics: Sequence[str], *, include_base: bool = False,
          can_pair: bool = True) -> pd.DataFrame:
    """Every arm against ``base`` for every metric, in the :data:`TABLE_COLUMNS` schema.

    ``arms`` maps names to SimulationResults (or to ``{metric: values-or-entry}`` mappings);
    the base's own row (difference 0) is included with ``include_base``.
    """
    if base not in arms:
        raise KeyError(f"base {base!r} is not among the arms {sorted(arms)}")
    rows = []
    for metric_name in metrics:
        base_values = _metric_values(arms[base], metric_name)
        base_mean = mean_ci(base_values.tolist())["mean"]
        for arm, source in arms.items():
            if arm == base and not include_base:
                continue
            values = _metric_values(source, metric_name)
            level = mean_ci(values.tolist())
            diff = difference(base_values, values, can_pair=can_pair)
            paired_arms = diff["method"] == "paired"
            lift = paired(base_values, values, relative=True) if paired_arms else _nan_interval()
            rows.append({"arm": arm, "metric": metric_name, "base_mean": base_mean,
                         "mean": level["mean"], "low": level["low"], "high": level["high"],
                         "diff": diff["mean"], "diff_low": diff["low"], "diff_high": diff["high"],
                         "lift": lift["mean"], "lift_low": lift["low"], "lift_high": lift["high"],
                         "n": diff["n"], "method": diff["method"]})
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def _metric_values(source: Any, metric_name: str) -> np.ndarray:
    if isinstance(source, Mapping):
        return values_of(source.get(metric_name, []))
    if callable(getattr(source, "values", None)):
        return values_of(source, metric_name)
    raise TypeError(f"arm of type {type(source).__name__}: "
                    "expected a SimulationResult or a mapping of metrics")


def levels(arms: Mapping[str, Any], metrics: Sequence[str]) -> pd.DataFrame:
    """Each arm's own mean of each metric with its 95% t interval, in the :data:`LEVEL_COLUMNS`
    schema (one row per arm and metric, arms in the order given). ``arms`` as in :func:`table`."""
    rows = []
    for arm, source in arms.items():
        for metric_name in metrics:
            level = mean_ci(_metric_values(source, metric_name).tolist())
            rows.append({"arm": arm, "metric": metric_name, **level})
    return pd.DataFrame(rows, columns=LEVEL_COLUMNS)


def entry(row: Mapping[str, Any], prefix: str = "diff") -> dict[str, float]:
    """``{"mean", "low", "high"}`` of one :func:`table` row: ``prefix`` "diff", "lift" or "" (the level)."""
    if not prefix:
        return {"mean": row["mean"], "low": row["low"], "high": row["high"]}
    return {"mean": row[prefix], "low": row[f"{prefix}_low"], "high": row[f"{prefix}_high"]}
