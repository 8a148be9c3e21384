"""The exit estimator (``members:`` block): the daily exit hazard (leaves per member-day at
risk, exact Poisson interval), separately for silent and non-silent member-days →
``base_exit_hazard`` and ``inactive_exit_multiplier`` (exact conditional binomial interval of the
rate ratio; the engine keys the multiplier to inactivity, ``members.inactive_after_days``, and a
silent member is one inactive for ``silent_min_days`` — the same unless loyal), and the weekly
tier transition matrix. Tiers come from :func:`simlib.tiering.tier_panel` with the rules the
simulation uses. Removals by admins are counted apart (``removal_rate``): they are not a
member's choice."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from simlib import tiering
from simlib.calibrate.estimates import Estimate, daily_hazard, poisson_rate, rate_ratio
from simlib.calibrate.window import Window
from simlib.params import load_scenario
from simlib.schema import TZ

MIN_SPLIT_EXITS = 5  # exits needed on each side before a scenario takes the estimated silent multiplier


@dataclass
class ExitEstimates:
    estimates: dict[str, Estimate]
    transitions: pd.DataFrame | None  # weekly tier transition shares (from × to)
    # Leaves and member-days whose tier could be judged, split silent / other.
    split: dict[str, int]
    notes: list[str] = field(default_factory=list)


def estimate_exits(window: Window, rules: Any = None) -> ExitEstimates:
    """Exit hazards overall and by tier (``rules``: tier rules, default those of
    ``params/defaults.yaml``), the removal rate and the weekly tier transitions."""
    spells, member_days = window.spells, window.member_days
    n_days, n_members = window.n_days, window.n_members
    estimates: dict[str, Estimate] = {}
    leaves = spells.exit_kind == "leave"
    removals = spells.exit_kind == "removed"
    estimates["exit_hazard"] = daily_hazard(int(leaves.sum()), member_days)
    estimates["removal_rate"] = poisson_rate(int(removals.sum()), member_days, "per member-day")
    if rules is None:
        rules = load_scenario(None).tiering.rules
    panel_members = pd.DataFrame({
        "member_id": spells.ids, "group_id": "g",
        "join_ts": window.first_day + pd.to_timedelta(spells.entry, unit="D"),
        "left_ts": pd.Series(pd.NaT, index=range(n_members), dtype=f"datetime64[ns, {TZ}]"),
    })
    panel = tiering.tier_panel(panel_members, window.events, rules, start=window.first_day,
                               end=window.last_day)
    values = panel.to_numpy()  # days × members, in spells.ids order
    day_index = np.arange(n_days)[:, None]
    at_risk = (day_index >= spells.entry[None, :]) & (day_index <= spells.last[None, :])
    # Members already in the group at the start: their tier is unknown until the silent rule
    # can be judged from the window alone.
    burn_in = max(rules.silent_min_days, rules.potential_max_days)
    judged = at_risk & ~((~spells.joined)[None, :] & (day_index < burn_in))
    silent = values == tiering.SILENT
    exit_tier_silent = silent[spells.last, np.arange(n_members)]
    judged_exit = judged[spells.last, np.arange(n_members)]
    days_silent = int((judged & silent).sum())
    days_other = int((judged & ~silent).sum())
    exits_silent = int((leaves & judged_exit & exit_tier_silent).sum())
    exits_other = int((leaves & judged_exit & ~exit_tier_silent).sum())
    if days_other > 0:
        estimates["exit_hazard_non_silent"] = daily_hazard(exits_other, days_other)
    if days_silent > 0:
        estimates["exit_hazard_silent"] = daily_hazard(exits_silent, days_silent)
    if days_other > 0 and days_silent > 0 and exits_other > 0:
        estimates["inactive_exit_multiplier"] = rate_ratio(exits_silent, days_silent, exits_other, days_other)
    transitions = None
    if n_days - burn_in > 7:
        masked = np.where(at_risk, values, -1)[burn_in:]
        weeks = pd.DataFrame(masked, index=panel.index[burn_in:])
        transitions = tiering.transition_matrix(weeks, step_days=7)
    notes = []
    if int(leaves.sum()) < 10:
        notes.append(f"only {int(leaves.sum())} exits in the window: the exit hazard is imprecise")
    if min(exits_silent, exits_other) < MIN_SPLIT_EXITS:
        notes.append(f"fewer than {MIN_SPLIT_EXITS} exits of silent or of other members ({exits_silent} and "
                     f"{exits_other}): a scenario keeps its base's inactive_exit_multiplier")
    split = {"exits_silent": exits_silent, "exits_other": exits_other, "days_silent": days_silent,
             "days_other": days_other}
    return ExitEstimates(estimates, transitions, split, notes)
