"""Member tiers from behaviour — one set of rules for simulated and real data.

The article's table 1 defines four tiers; a member who fits none of them is ``regular``.
Rules are checked in priority order: loyal, active, potential, silent, regular, by one
function, :func:`tier_code`. The simulation applies it to every member in its daily close
(:mod:`simlib.kernels`); the notebooks call :func:`tier_panel` on a loaded event log, which
applies it through :func:`classify`. So a tier means the same thing in a simulated and in a
real group.
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from simlib.schema import TIERS

POTENTIAL, ACTIVE, LOYAL, SILENT, REGULAR = (
    TIERS.index(name) for name in ("potential", "active", "loyal", "silent", "regular"))

# Events that count as an interaction for the active and silent rules (opens do not: a member
# who only reads is silent to the operator, and a chat export cannot see reads anyway).
INTERACTION_EVENTS = ("message", "share", "invite", "activity_join", "activity_done", "question")


def rule_thresholds(rules) -> tuple[int, int, int, int, int]:
    """The thresholds of :func:`tier_code` from a :class:`simlib.params.TierRules`."""
    return (int(rules.potential_max_days), int(rules.potential_max_messages),
            int(rules.active_min_interactions), int(rules.loyal_min_purchases), int(rules.silent_min_days))


@numba.njit(cache=True)
def tier_code(days_since_join, messages_total, interactions_in_window, purchases_in_window,
              days_since_interaction, thresholds) -> int:
    """One member's tier code (index into ``schema.TIERS``): the article's rules in priority order.

    ``thresholds`` is :func:`rule_thresholds`. Compiled, so that the engine's daily close (see
    :mod:`simlib.kernels`) applies this very function to each member inside its loop.
    """
    (potential_max_days, potential_max_messages, active_min_interactions, loyal_min_purchases,
     silent_min_days) = thresholds
    if purchases_in_window >= loyal_min_purchases:
        return LOYAL
    if interactions_in_window >= active_min_interactions:
        return ACTIVE
    if days_since_join < potential_max_days and messages_total <= potential_max_messages:
        return POTENTIAL
    if days_since_interaction >= silent_min_days:
        return SILENT
    return REGULAR


@numba.njit(cache=True)
def _classify_arrays(days_since_join, messages_total, interactions_in_window, purchases_in_window,
                     days_since_interaction, thresholds):
    tiers = np.empty(days_since_join.size, dtype=np.int8)
    for i in range(days_since_join.size):
        tiers[i] = tier_code(days_since_join[i], messages_total[i], interactions_in_window[i],
                             purchases_in_window[i], days_since_interaction[i], thresholds)
    return tiers


def classify(
    days_since_join: np.ndarray,
    messages_total: np.ndarray,
    interactions_in_window: np.ndarray,
    purchases_in_window: np.ndarray,
    days_since_interaction: np.ndarray,
    rules,
) -> np.ndarray:
    """Tier code (index into ``schema.TIERS``) for each member, vectorized.

    ``rules`` is a :class:`simlib.params.TierRules` (or anything with the same attributes).
    ``interactions_in_window`` counts the last ``rules.active_window_days`` days including
    today, ``purchases_in_window`` the last ``rules.loyal_window_days``.
    ``days_since_interaction`` is measured from the last interaction, or from joining for a
    member who never interacted. Each member goes through :func:`tier_code`.
    """
    columns = [np.ascontiguousarray(column).ravel() for column in (
        days_since_join, messages_total, interactions_in_window, purchases_in_window, days_since_interaction)]
    if len({column.size for column in columns}) != 1:
        sizes = [column.size for column in columns]
        raise ValueError(f"classify: the five member arrays differ in length: {sizes}")
    return _classify_arrays(*columns, rule_thresholds(rules))


def tier_panel(members: pd.DataFrame, events: pd.DataFrame, rules, start=None, end=None) -> pd.DataFrame:
    """Each present member's tier on each day, from an event log (schema tables).

    Returns a DataFrame indexed by date with one column per member (tier codes, -1 when the
    member is not in the group that day). Suited to groups of up to a few thousand members.
    """
    if members.empty:
        return pd.DataFrame()
    tz = members["join_ts"].dt.tz
    first = members["join_ts"].min() if start is None else pd.Timestamp(start)
    last_seen = events["ts"].max() if not events.empty else members["join_ts"].max()
    last = last_seen if end is None else pd.Timestamp(end)
    if first.tzinfo is None:
        first = first.tz_localize(tz)
    if last.tzinfo is None:
        last = last.tz_localize(tz)
    days = pd.date_range(first.normalize(), last.normalize(), freq="D")
    n_days = len(days)
    ids = members["member_id"].astype(str).to_numpy()
    index_of = {member: i for i, member in enumerate(ids)}

    def day_counts(kinds) -> np.ndarray:
        subset = events[events["event"].isin(kinds) & events["member_id"].notna()]
        counts = np.zeros((len(ids), n_days), dtype=np.int32)
        if subset.empty:
            return counts
        rows = subset["member_id"].astype(str).map(index_of)
        cols = ((subset["ts"].dt.normalize() - days[0]).dt.days).to_numpy()
        keep = rows.notna().to_numpy() & (cols >= 0) & (cols < n_days)
        np.add.at(counts, (rows[keep].astype(int).to_numpy(), cols[keep]), 1)
        return counts

    interactions = day_counts(list(INTERACTION_EVENTS))
    messages = day_counts(["message"])
    purchases = day_counts(["purchase"])

    def rolling(counts: np.ndarray, window: int) -> np.ndarray:
        cumulative = np.cumsum(counts, axis=1)
        shifted = np.zeros_like(cumulative)
        shifted[:, window:] = cumulative[:, :-window] if window < n_days else 0
        return cumulative - shifted

    join_day = ((members["join_ts"].dt.normalize() - days[0]).dt.days).to_numpy()
    left = members["left_ts"] if "left_ts" in members else pd.Series(pd.NaT, index=members.index)
    left_day = ((left.dt.normalize() - days[0]).dt.days).fillna(n_days + 1).to_numpy()
    day_index = np.arange(n_days)
    days_since_join = day_index[None, :] - join_day[:, None]
    messages_total = np.cumsum(messages, axis=1)
    interacted = interactions > 0
    # Day of the last interaction up to each day (or the join day when none yet).
    last_day = np.where(interacted, day_index[None, :], -10**6)
    last_day = np.maximum.accumulate(last_day, axis=1)
    last_day = np.maximum(last_day, join_day[:, None])
    panel = classify(
        days_since_join.ravel(),
        messages_total.ravel(),
        rolling(interactions, rules.active_window_days).ravel(),
        rolling(purchases, rules.loyal_window_days).ravel(),
        (day_index[None, :] - last_day).ravel(),
        rules,
    ).reshape(len(ids), n_days).astype(np.int8)
    present = (days_since_join >= 0) & (day_index[None, :] < left_day[:, None])
    panel = np.where(present, panel, -1)
    return pd.DataFrame(panel.T, index=days, columns=ids)


def tier_counts(panel: pd.DataFrame) -> pd.DataFrame:
    """Tidy counts (date, tier, members) from a :func:`tier_panel`."""
    rows = []
    values = panel.to_numpy()
    for code, name in enumerate(TIERS):
        members = (values == code).sum(axis=1)
        rows.append(pd.DataFrame({"date": panel.index, "tier": name, "members": members}))
    out = pd.concat(rows, ignore_index=True)
    out["tier"] = pd.Categorical(out["tier"], categories=TIERS)
    return out


def transition_matrix(panel: pd.DataFrame, step_days: int = 7) -> pd.DataFrame:
    """Share of members moving from tier A to tier B (or ``left``) over ``step_days``."""
    values = panel.to_numpy()
    names = list(TIERS) + ["left"]
    counts = np.zeros((len(TIERS), len(names)))
    for start in range(0, values.shape[0] - step_days, step_days):
        before, after = values[start], values[start + step_days]
        for code in range(len(TIERS)):
            mask = before == code
            if not mask.any():
                continue
            destination = after[mask]
            for target in range(len(TIERS)):
                counts[code, target] += (destination == target).sum()
            counts[code, -1] += (destination == -1).sum()
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    return pd.DataFrame(shares, index=pd.Index(TIERS, name="from"), columns=pd.Index(names, name="to"))
