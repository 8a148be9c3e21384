"""Monetization (商业变现): the article's table 6, commercial-share sweeps, repurchase and the
observed-data summary of notebook 06.

:func:`monetization_extra` is a module-level ``RunResult -> dict`` for ``simulate``/``sweep``
(``extra=``): the realised commercial share counted from the posts table, revenue from
commercial posts, buyers, the repurchase rate and profit, per replication.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from simlib import ltv, metrics
from simlib.params import MODE_NAMES, Params

ASSUMED_NOTE = "ASSUMPTION (T6 blank)"


def stars(difficulty: int) -> str:
    """'★★★☆☆' for a difficulty of 3 out of 5."""
    whole = isinstance(difficulty, (int, np.integer)) and not isinstance(difficulty, bool)
    if not whole or not 1 <= difficulty <= 5:
        raise ValueError(f"difficulty={difficulty!r}: expected a whole number from 1 to 5")
    return "★" * int(difficulty) + "☆" * (5 - int(difficulty))


def article_table(params: Params, *, blank_modes: Sequence[str] = ("membership",)) -> pd.DataFrame:
    """Table 6 of the article from the parameters: mode, difficulty, conversion range, acceptance.

    ``blank_modes`` are the modes whose conversion cell the article leaves empty (membership);
    their range is the documented assumption of ``params/defaults.yaml`` and is flagged.
    """
    rows = []
    for mode in MODE_NAMES:
        spec = params.monetization.modes[mode]
        low, high = spec.conversion_range
        assumed = mode in blank_modes
        rows.append({"mode": mode, "difficulty": stars(spec.difficulty), "conversion_low": low,
                     "conversion_high": high,
                     "conversion": f"{low:.0%}–{high:.0%}" + (f" ({ASSUMED_NOTE})" if assumed else ""),
                     "acceptance": spec.acceptance, "order_value": spec.order_value,
                     "conversion_assumed": assumed})
    return pd.DataFrame(rows)


def annoyance_weights(params: Params) -> dict[str, float]:
    """How much one post of each mode counts in the commercial share members perceive: rejection
    (1 − acceptance, T6) relative to the mean rejection — as in :class:`simlib.model.GroupModel`."""
    modes = params.monetization.modes
    mean_rejection = float(np.mean([1 - m.acceptance for m in modes.values()]))
    return {name: (1 - m.acceptance) / mean_rejection for name, m in modes.items()}


# --------------------------------------------------------------------------- commercial share


def calendar_posts_per_week(params: Params) -> int:
    """Non-commercial posts a week in the content calendar."""
    return len(params.content.calendar)


def posts_per_week_for_share(share: float, calendar_posts: float) -> float:
    """Commercial posts a week that make ``share`` of all posts: x / (calendar + x) = share."""
    if not (isinstance(share, (int, float)) and 0 <= share < 1):
        raise ValueError(f"share={share!r}: expected a commercial share in [0, 1)")
    if not calendar_posts > 0:
        raise ValueError(f"calendar_posts={calendar_posts!r}: expected a calendar with at least one post "
                         "a week")
    return share * calendar_posts / (1 - share)


def share_from_posts_per_week(per_week: float, calendar_posts: float) -> float:
    """The planned commercial share of ``per_week`` commercial posts beside the calendar."""
    if per_week < 0 or calendar_posts < 0 or per_week + calendar_posts == 0:
        raise ValueError(f"per_week={per_week!r}, calendar_posts={calendar_posts!r}: expected non-negative "
                         "counts, not both 0")
    return per_week / (per_week + calendar_posts)


def scenario_mix(params: Params) -> dict[str, float]:
    """The scenario's split of commercial posts between modes (e-commerce only if it has none)."""
    rates = {mode: float(params.monetization.commercial_posts_per_week.get(mode, 0.0)) for mode in MODE_NAMES}
    total = sum(rates.values())
    if total <= 0:
        return {mode: float(mode == "ecommerce") for mode in MODE_NAMES}
    return {mode: rate / total for mode, rate in rates.items()}


def share_sweep_overrides(params: Params, shares: Sequence[float],
                          mix: Mapping[str, float] | None = None) -> dict[str, dict]:
    """Overrides for a commercial-share sweep: {"share_15": {"monetization.commercial_posts_per_week": …}}.

    Commercial posts are split between modes by ``mix`` (default: the scenario's own split).
    """
    mix = dict(mix) if mix is not None else scenario_mix(params)
    calendar = calendar_posts_per_week(params)
    out = {}
    for share in shares:
        per_week = posts_per_week_for_share(share, calendar)
        posts = {mode: per_week * mix.get(mode, 0.0) for mode in MODE_NAMES}
        out[f"share_{round(share * 100):02d}"] = {"monetization.commercial_posts_per_week": posts}
    return out


def mode_alone_overrides(per_week: float, modes: Sequence[str] = MODE_NAMES) -> dict[str, dict]:
    """One arm per mode, each the only commercial mode at ``per_week`` posts a week."""
    if not per_week > 0:
        raise ValueError(f"per_week={per_week!r}: expected commercial posts a week > 0")
    unknown = [m for m in modes if m not in MODE_NAMES]
    if unknown:
        raise ValueError(f"modes {unknown}: expected names from {list(MODE_NAMES)}")
    arms = {}
    for mode in modes:
        alone = {m: per_week if m == mode else 0.0 for m in MODE_NAMES}
        arms[mode] = {"monetization.commercial_posts_per_week": alone}
    return arms


# --------------------------------------------------------------------------- purchases


def purchases(events: pd.DataFrame) -> pd.DataFrame:
    """Purchase events: member_id, ts, amount, ref_id."""
    mask = (events["event"] == "purchase").to_numpy()
    columns = [c for c in ("ts", "member_id", "amount", "ref_id") if c in events.columns]
    return events.loc[mask, columns]


def repurchase_rate(events: pd.DataFrame) -> float:
    """Share of buyers with two or more purchases (NaN without purchases)."""
    bought = purchases(events)
    if bought.empty:
        return math.nan
    per_buyer = bought.groupby(bought["member_id"].astype(str)).size()
    return float((per_buyer >= 2).mean())


def monetization_extra(run: Any) -> dict[str, float]:
    """Per-replication monetization metrics for ``simulate``/``sweep`` (``extra=``).

    realised_share (commercial posts ÷ all posts, from the posts table), commercial_revenue
    (purchases whose ref_id is a commercial post), revenue, buyers, buyer_share (buyers ÷
    members seen), repurchase_rate, profit (revenue − cost).
    """
    from simlib.runner import window

    start, end = window(run.params)
    tables = run.tables
    posts, events = tables["posts"], tables["events"]
    bought = purchases(events)
    commercial_ids = set(posts.loc[posts["commercial"].astype(bool), "post_id"].astype(str))
    on_commercial = bought["ref_id"].astype(object).isin(commercial_ids)
    revenue = float(bought["amount"].sum())
    seen = metrics.members_seen(tables["members"], start, end)
    buyers = int(bought["member_id"].astype(str).nunique())
    return {
        "realised_share": metrics.commercial_share(posts),
        "commercial_revenue": float(bought.loc[on_commercial, "amount"].sum()),
        "revenue": revenue,
        "buyers": float(buyers),
        "buyer_share": buyers / seen if seen else math.nan,
        "repurchase_rate": repurchase_rate(events),
        "profit": revenue - metrics.total_cost(tables, start, end),
    }


def peak(frame: pd.DataFrame, x: str, y: str) -> pd.Series:
    """The row of ``frame`` where ``y`` is largest (ties: the smallest ``x``)."""
    if frame.empty or frame[y].isna().all():
        raise ValueError(f"no values of {y!r} to find a peak")
    ordered = frame.sort_values(x)
    return ordered.loc[ordered[y].idxmax()]


def fit_ltv_penalized(summary: pd.DataFrame,
                      penalizers: Sequence[float] = (0.0, 0.001, 0.01, 0.1)) -> tuple[Any, float]:
    """Fit BG/NBD + Gamma-Gamma (:func:`simlib.ltv.fit_ltv`) with the smallest penalizer that
    converges; returns (fit, penalizer). Short simulated histories with few dropouts often need
    a small penalizer. The optimizer's printout of failed attempts is swallowed; raises the
    last error if none converges."""
    if not penalizers:
        raise ValueError("penalizers is empty: expected at least one penalizer value")
    error: Exception | None = None
    for penalizer in penalizers:
        try:
            # The optimizer probes parameter values whose log is undefined; numpy's warnings about
            # that (and its printout of failed attempts) are part of the search, not of the result.
            quiet = np.errstate(invalid="ignore", divide="ignore", over="ignore")
            with contextlib.redirect_stdout(io.StringIO()), quiet:
                return ltv.fit_ltv(summary, penalizer=penalizer), float(penalizer)
        except ltv.LtvInputError:
            raise
        except Exception as failure:  # lifetimes' ConvergenceError and numerical failures
            error = failure
    assert error is not None
    raise error


# --------------------------------------------------------------------------- observed data


def observed_summary(log: Any) -> dict[str, float]:
    """Purchases, buyers, revenue, revenue per member and repurchase rate of a loaded log.

    Revenue per member divides by the members table when it has rows (a chat or member
    export), otherwise by the buyers (an orders file knows only its buyers) — ``per`` says which.
    """
    events = log.events
    bought = purchases(events)
    members = log.members
    buyers = int(bought["member_id"].astype(str).nunique()) if len(bought) else 0
    base, per = (len(members), "member") if len(members) else (buyers, "buyer")
    revenue = float(bought["amount"].sum()) if len(bought) else 0.0
    return {"purchases": float(len(bought)), "buyers": float(buyers), "revenue": revenue,
            "revenue_per_member": revenue / base if base else math.nan, "per": per,
            "repurchase_rate": repurchase_rate(events)}
