"""The strategy lab's benchmark figure (:mod:`simlib.lab`): seconds per lever change.

Called by :mod:`simlib.bench` (``python -m simlib.bench``, or ``--lab-only`` for this figure alone);
the target is the lab issue's: a change answered in ≤ 2 s on the 2-core machine.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

LAB_TARGET_SECONDS = 2.0
#: (scenario, replications a side) of the lab figure at full size and in a quick run.
LAB_FULL, LAB_QUICK = ("baseline", 10), ("smoke", 3)


def lab_changes(base: dict[str, Any]) -> list[dict[str, Any]]:
    """Lever changes to time, one lever each, every one different from the baseline's ``base``
    values and from the others (so none comes from the lab's cache)."""

    def other(name: str, wanted: Any, fallback: Any) -> dict[str, Any]:
        return {name: wanted if base[name] != wanted else fallback}

    return [{"commercial_posts_per_week": base["commercial_posts_per_week"] + 1.0},
            {"tiering": not base["tiering"]},
            other("automation_level", 0.5, 1.0),
            {"admins": base["admins"] + 1},
            other("every_days.ugc", 60, 30),
            {"daily_reach.douyin": base["daily_reach.douyin"] * 1.6 + 100},
            other("every_days.checkin", 15, 10)]


def measure_lab(scenario: str, replications: int, workers: int) -> dict[str, Any]:
    """Wall time of :meth:`simlib.lab.StrategyLab.evaluate` per lever change: the baseline is run
    once (timed apart) and cached, one untimed change warms the pool, then every change of
    :func:`lab_changes` is timed. The 1-minute load average before and after says how busy the
    shared machine was."""
    from simlib.lab import StrategyLab

    load_before = os.getloadavg()[0]
    with StrategyLab(scenario, replications=replications, workers=workers) as lab:
        lab.evaluate({"commercial_posts_per_week": lab.baseline_levers["commercial_posts_per_week"] + 0.5})
        seconds = []
        for change in lab_changes(lab.baseline_levers):
            start = time.perf_counter()
            lab.evaluate(change)
            seconds.append(time.perf_counter() - start)
        baseline_seconds = lab.baseline_seconds
    return {"scenario": scenario, "replications": replications, "workers": workers,
            "days": lab.params.simulation.days, "baseline_seconds": baseline_seconds,
            "changes": len(seconds), "seconds_per_change": statistics.median(seconds), "seconds_all": seconds,
            "target_seconds": LAB_TARGET_SECONDS, "met": statistics.median(seconds) <= LAB_TARGET_SECONDS,
            "load_before": load_before, "load_after": os.getloadavg()[0], "cpus": os.cpu_count()}


def format_lab(lab: dict[str, Any], applicable: bool = True) -> str:
    met = ("yes" if lab["met"] else "NO") if applicable else "n/a (quick run)"
    return "\n".join([
        f"strategy lab ({lab['scenario']}, {lab['days']} days, {lab['replications']} paired replications, "
        f"{lab['workers']} workers; baseline cached)",
        f"  seconds per lever change (median of {lab['changes']}): {lab['seconds_per_change']:.2f} s"
        f"   target ≤ {lab['target_seconds']:g} s   met? {met}",
        f"  each change: {', '.join(f'{value:.2f}' for value in lab['seconds_all'])} s",
        f"  the baseline's replications, once: {lab['baseline_seconds']:.2f} s",
        f"  machine load (1-minute average, {lab['cpus']} CPUs): {lab['load_before']:.2f} before,"
        f" {lab['load_after']:.2f} after",
    ])
