"""Choosing the best of several arms run with the same seeds, with the checks that make "best" true.

A notebook that says "level 0.75 is best" or "this channel mix is best" states two things: that
the arm's mean is the highest of the arms compared, and how clearly it beats the runner-up.
:func:`best_arm` returns both as numbers and as :class:`simlib.findings.Check` records, so the
sentence built from them is a finding its own numbers can contradict (:mod:`simlib.findings`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from simlib import compare
from simlib.findings import Check


@dataclass(frozen=True)
class Best:
    """The best arm by mean, the runner-up, the paired lead best − runner-up (mean, low, high)
    and the checks: the best's mean is at least every other arm's, and the lead's direction."""

    arm: str
    mean: float
    runner_up: str
    lead: dict[str, Any]
    checks: tuple[Check, ...]

    @property
    def separated(self) -> bool:
        """The lead's 95% interval lies above 0: the best beats the runner-up clearly."""
        return bool(self.lead["low"] > 0)


def best_arm(values: Mapping[str, Sequence[float]], quantity: str) -> Best:
    """The arm of ``values`` (name → per-replication values, paired) with the highest mean of
    ``quantity``; at least two arms."""
    if len(values) < 2:
        raise ValueError(f"best_arm of {quantity!r}: expected at least two arms, got {list(values)}")
    means = {name: float(np.nanmean(np.asarray(series, dtype=float))) for name, series in values.items()}
    order = sorted(means, key=lambda name: means[name], reverse=True)
    best, runner_up = order[0], order[1]
    checks = [Check.of(f"{quantity}: {best} − {other}", ">=",
                       compare.paired(values[other], values[best]), 0.0) for other in order[1:]]
    lead = compare.paired(values[runner_up], values[best])
    relation = "increase" if lead["low"] > 0 else "unclear"
    checks.append(Check.of(f"{quantity}: {best} − {runner_up}", relation, lead))
    return Best(best, means[best], runner_up, lead, tuple(checks))


def against(entry: Mapping[str, Any], figure: float, quantity: str) -> tuple[str, Check]:
    """Where the 95% interval of ``entry`` lies against a fixed ``figure`` (the article's, a cap):
    "below" (wholly below it), "above" (wholly above) or "around" (it holds the figure), with
    the check that makes the word true."""
    if entry["high"] < figure:
        return "below", Check(f"{quantity} (high)", "<", float(entry["high"]), bound=figure)
    if entry["low"] > figure:
        return "above", Check(f"{quantity} (low)", ">", float(entry["low"]), bound=figure)
    return "around", Check.of(quantity, "contains", entry, figure)
