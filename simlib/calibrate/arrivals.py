"""The arrivals estimator (``arrivals:`` block): joins per day in the window, overall and by
the channel the members table records (exact Poisson intervals)."""

from __future__ import annotations

from simlib.calibrate.estimates import Estimate, poisson_rate
from simlib.calibrate.window import Window


def estimate_arrivals(window: Window) -> dict[str, Estimate]:
    """``join_rate`` and, when the members table has channels, ``join_rate_<channel>``."""
    joins, n_days, members = window.spells.joined, window.n_days, window.members
    estimates = {"join_rate": poisson_rate(int(joins.sum()), n_days, "joins per day")}
    if "channel" in members.columns:
        distinct = members.drop_duplicates("member_id")
        channel_of = distinct.set_index(distinct["member_id"].astype(str))["channel"]
        channels = channel_of.reindex(window.spells.ids[joins]).astype(object).fillna("unknown").astype(str)
        for name, count in channels.value_counts().sort_index().items():
            estimates[f"join_rate_{name}"] = poisson_rate(int(count), n_days, "joins per day")
    return estimates
