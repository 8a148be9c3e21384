"""Calibrate the simulation to a real group: estimate behavioural parameters from an event log.

:func:`estimate` reads the schema tables of a group (a loaded chat export, optionally merged
with an orders file and a WeCom member list via :func:`simlib.io.load_many`, or a simulated
run) and estimates, each with a 95% interval (:class:`Estimate`):

* **chat** — messages per member-day (``members.chat_rate_mean``), the hourly profile, the
  members' usual hour (``active_hour_mean``) and its spread between members
  (``active_hour_sd``, separated from the within-member scatter of message times by a
  one-way variance decomposition), and the spread of engagement between members
  (``engagement_sigma``: a lognormal sigma from the over-dispersion of per-member message
  counts beyond Poisson noise, by the method of moments). Intervals are percentile
  bootstraps over members (members are the independent units, their messages are not).
* **exits** — the daily exit hazard (leaves per member-day at risk, exact Poisson interval),
  separately for silent and non-silent member-days (tiers from :func:`simlib.tiering.tier_panel`
  with the same rules the simulation uses) → ``base_exit_hazard`` and
  ``silent_exit_multiplier`` (exact conditional binomial interval of the rate ratio).
  Removals by admins are counted apart (``removal_rate``), they are not a member's choice.
* **purchases** — purchases per member-day and the mean order value (if the log has any).
* **arrivals** — joins per day, overall and by channel (exact Poisson intervals).
* **tiers** — the weekly tier transition matrix (:func:`simlib.tiering.transition_matrix`).

:func:`to_scenario` / :func:`write_scenario` turn a :class:`Calibration` into a scenario YAML
(over a base scenario such as ``baseline``) whose estimable parameters are the estimates,
each with a comment giving its interval and the data window; notebooks can then simulate
"my group, with strategy X".

What a chat log cannot identify, and therefore stays at the base scenario's values:

* reading behaviour — open rates, ``open_logit_sigma``, open delays, dwell time (a chat
  export does not record reads);
* shares outside the group, ``share_propensity``, ``share_join_prob`` (invisible);
* tolerances — ``ad_tolerance``, ``bot_tolerance``, ``ad_exit_slope``, automation aversion,
  ``complaint_exit_multiplier``: they need variation in commercial share, automation or
  service quality that one group's history rarely has;
* ``price_sensitivity``, conversion rates by monetization mode, activity participation and
  their purchase probabilities (orders are not linked to posts or activities in the log);
* questions and their patience (a question looks like any other message);
* interest dynamics — ``novelty_boost``/``novelty_days``, ``interest_drift_days``,
  ``interest_floor``, ``content_interest_gain``: over one window they are confounded with
  engagement and the chat rate;
* funnel stages of the channels (reach, click and join rates separately; only joins show),
  the channel of members who were already in the group, and all costs.

Caveats, also recorded in :attr:`Calibration.notes`:

* A chat export shows a member only through their messages, joins and exits. Members who
  were already in the group and neither spoke nor left during the window are invisible;
  pass the group size (``members_at_start`` or ``members_at_end``, as shown on the group's
  info page) and they are added back exactly (present all window, no messages). Without it,
  member-days are undercounted and rates and hazards come out too high.
* The estimated chat rate counts every member message in the export, including replies to
  posts and check-ins; in the simulation those come on top of ``chat_rate_mean`` and depend
  on interest. Messages that a simulated log marks with a ``ref_id`` (post replies,
  check-ins, recall campaigns) are left out, so a simulated log yields spontaneous chat only.
* One spell per member: from joining (or the window start) to the first exit.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from scipy import stats as sps

from simlib import tiering
from simlib.params import (
    ParamsError,
    deep_merge,
    load_defaults,
    load_scenario,
    read_yaml,
    resolve_scenario_path,
)
from simlib.schema import TZ

CONFIDENCE = 0.95
MIN_SPLIT_EXITS = 5  # exits needed on each side before a scenario takes the estimated silent multiplier
GROUP_LIMIT = 500  # WeChat's member limit of an ordinary group (simulation.group_cap maximum)
MESSAGE_NOISE_NOTE = "the model scatters each message ±2 h (sd) around the member's usual hour"


class CalibrationError(ValueError):
    """The log or an argument cannot be calibrated; the message names what and why."""


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95% interval and the count it rests on."""

    value: float
    low: float
    high: float
    n: int
    unit: str = ""
    method: str = ""

    def contains(self, truth: float) -> bool:
        return bool(self.low <= truth <= self.high)

    def describe(self, digits: int = 4) -> str:
        def fmt(x: float) -> str:
            return f"{x:.{digits}g}" if np.isfinite(x) else "nan"

        unit = f" {self.unit}" if self.unit else ""
        return f"{fmt(self.value)}{unit} (95% interval {fmt(self.low)}–{fmt(self.high)}, n={self.n}; {self.method})"


@dataclass
class Calibration:
    """What :func:`estimate` found in a log. ``estimates`` maps names to :class:`Estimate`."""

    start: pd.Timestamp  # first day of the window (midnight, Asia/Shanghai)
    end: pd.Timestamp  # last day of the window (inclusive)
    days: int
    estimates: dict[str, Estimate]
    hourly_profile: pd.DataFrame  # hour, messages, per_member_day, share
    transitions: pd.DataFrame | None  # weekly tier transition shares (from × to)
    members_seen: int  # members with a spell in the window, hidden ones included
    hidden_members: int  # members added back from the group size (no event in the window)
    members_at_start: int  # group size on the first day (hidden members included)
    members_at_end: int  # group size on the last day (hidden members included)
    member_days: int
    source: str = ""
    notes: list[str] = field(default_factory=list)
    # Leaves and member-days whose tier could be judged, split silent / other (see estimate()).
    exit_split: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Estimate:
        if name not in self.estimates:
            raise KeyError(f"no estimate {name!r}; available: {sorted(self.estimates)}")
        return self.estimates[name]

    def table(self) -> pd.DataFrame:
        """All estimates as a tidy table (name, value, low, high, n, unit, method)."""
        rows = [{"name": name, "value": e.value, "low": e.low, "high": e.high, "n": e.n, "unit": e.unit,
                 "method": e.method} for name, e in self.estimates.items()]
        return pd.DataFrame(rows)

    @property
    def window_text(self) -> str:
        return f"{self.start.date()} … {self.end.date()} ({self.days} days)"


# --------------------------------------------------------------------------- input


def _tables(log_or_tables: Any) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(members, events, source label) from a LoadedLog, a RunResult or a mapping of tables."""
    if hasattr(log_or_tables, "members") and hasattr(log_or_tables, "events"):
        members, events = log_or_tables.members, log_or_tables.events
        files = getattr(log_or_tables, "files", None) or []
        source = f"{getattr(log_or_tables, 'source_format', 'log')}: {', '.join(Path(f).name for f in files)}" if files else "log"
    elif hasattr(log_or_tables, "tables") and isinstance(log_or_tables.tables, Mapping):
        members, events = log_or_tables.tables.get("members"), log_or_tables.tables.get("events")
        source = "simulated run"
    elif isinstance(log_or_tables, Mapping):
        missing = [k for k in ("members", "events") if k not in log_or_tables]
        if missing:
            raise CalibrationError(f"tables lack {missing}; expected a mapping with 'members' and 'events' DataFrames")
        members, events = log_or_tables["members"], log_or_tables["events"]
        source = "tables"
    else:
        raise CalibrationError(
            f"cannot calibrate a {type(log_or_tables).__name__}; expected a LoadedLog (simlib.io.load), "
            "a RunResult or a mapping with 'members' and 'events' DataFrames")
    for name, frame, needed in (("events", events, ("ts", "member_id", "event")),
                                ("members", members, ("member_id", "join_ts"))):
        if not isinstance(frame, pd.DataFrame):
            raise CalibrationError(f"table {name!r} is a {type(frame).__name__}; expected a pandas DataFrame")
        lacking = [c for c in needed if c not in frame.columns]
        if lacking:
            raise CalibrationError(f"table {name!r} lacks columns {lacking}; has {list(frame.columns)}")
    return members, events, source


def _day(value: Any, name: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise CalibrationError(f"{name} = {value!r}: expected a date such as '2026-03-01'") from None
    if stamp is pd.NaT:
        raise CalibrationError(f"{name} = {value!r}: expected a date such as '2026-03-01'")
    stamp = stamp.tz_localize(TZ) if stamp.tzinfo is None else stamp.tz_convert(TZ)
    return stamp.normalize()


def _local(ts: pd.Series) -> pd.Series:
    ts = pd.to_datetime(ts)
    return ts.dt.tz_localize(TZ) if ts.dt.tz is None else ts.dt.tz_convert(TZ)


def _check_count(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise CalibrationError(f"{name} = {value!r}: expected a member count (an integer ≥ 0) or None")
    return int(value)


# --------------------------------------------------------------------------- intervals


def poisson_rate(count: int, exposure: float, unit: str = "", method: str = "exact Poisson") -> Estimate:
    """Events per unit of exposure with the exact (Garwood, Gamma) 95% interval."""
    alpha = 1 - CONFIDENCE
    low = sps.gamma.ppf(alpha / 2, count) / exposure if count > 0 else 0.0
    high = sps.gamma.ppf(1 - alpha / 2, count + 1) / exposure
    return Estimate(count / exposure, float(low), float(high), int(count), unit, method)


def daily_hazard(count: int, member_days: float) -> Estimate:
    """Exits per member-day at risk as a hazard: h = −ln(1 − exits / member-days).

    The simulation draws each member's exit once a day with probability 1 − e^−h, so the
    share of member-days that end in an exit estimates 1 − e^−h; the exact Poisson interval
    is transformed the same way.
    """
    rate = poisson_rate(count, member_days)

    def hazard(p: float) -> float:
        return float(-math.log1p(-min(p, 1 - 1e-12)))

    return Estimate(hazard(rate.value), hazard(rate.low), hazard(rate.high), rate.n, "per member-day",
                    "exits / member-days at risk, exact Poisson interval")


def rate_ratio(count_a: int, exposure_a: float, count_b: int, exposure_b: float) -> Estimate:
    """(count_a/exposure_a) / (count_b/exposure_b), exact conditional (Clopper–Pearson) interval."""
    total = count_a + count_b
    scale = exposure_b / exposure_a
    if count_b == 0:
        value = math.inf if count_a > 0 else math.nan
    else:
        value = count_a / count_b * scale
    alpha = 1 - CONFIDENCE
    p_low = sps.beta.ppf(alpha / 2, count_a, total - count_a + 1) if count_a > 0 else 0.0
    p_high = sps.beta.ppf(1 - alpha / 2, count_a + 1, total - count_a) if count_a < total else 1.0
    low = p_low / (1 - p_low) * scale
    high = p_high / (1 - p_high) * scale if p_high < 1 else math.inf
    return Estimate(float(value), float(low), float(high), int(total), "ratio",
                    "rate ratio, exact conditional binomial interval")


# --------------------------------------------------------------------------- spells


@dataclass
class _Spells:
    ids: np.ndarray  # member ids (str)
    entry: np.ndarray  # day index of entry (0 = window start)
    last: np.ndarray  # last day at risk (exit day or the window's last day)
    exit_kind: np.ndarray  # "", "leave" or "removed"
    joined: np.ndarray  # bool: joined inside the window (else present at its start)
    hidden: int


def _spells(members: pd.DataFrame, events: pd.DataFrame, start: pd.Timestamp, n_days: int,
            hidden_at_start: int | None, hidden_at_end: int | None) -> _Spells:
    end_excl = start + pd.Timedelta(days=n_days)
    known = events[events["member_id"].notna()]
    day = ((_local(known["ts"]).dt.normalize() - start).dt.days).to_numpy()
    inside = (day >= 0) & (day < n_days)
    kinds = known["event"].astype(str).to_numpy()
    ids_all = known["member_id"].astype(str).to_numpy()
    frame = pd.DataFrame({"id": ids_all[inside], "day": day[inside], "kind": kinds[inside]})
    joins = frame[frame["kind"] == "join"].groupby("id")["day"].min()
    # Members of the roster present at the start (joined before it, not gone before it).
    roster = members.copy()
    roster_join = _local(roster["join_ts"])
    roster_left = _local(roster["left_ts"]) if "left_ts" in roster else pd.Series(pd.NaT, index=roster.index)
    at_start = (roster_join < start) & ~(roster_left < start)
    ids = set(frame["id"]) | set(roster.loc[at_start, "member_id"].astype(str))
    ids = np.array(sorted(ids), dtype=object)
    index = pd.Index(ids)
    entry = np.zeros(len(ids), dtype=np.int64)
    joined = np.zeros(len(ids), dtype=bool)
    position = index.get_indexer(joins.index)
    entry[position] = joins.to_numpy()
    joined[position] = True
    # A member's exit: the first leave/removal on or after their entry day.
    exits = frame[frame["kind"].isin(["leave", "removed"])].sort_values("day", kind="stable")
    exit_pos = index.get_indexer(exits["id"])
    after = exits["day"].to_numpy() >= entry[exit_pos]
    exits = exits[after]
    first_exit = exits.drop_duplicates("id")
    last = np.full(len(ids), n_days - 1, dtype=np.int64)
    exit_kind = np.full(len(ids), "", dtype=object)
    pos = index.get_indexer(first_exit["id"])
    last[pos] = first_exit["day"].to_numpy()
    exit_kind[pos] = first_exit["kind"].to_numpy()
    # Members without any event in the window whom the roster does not list are invisible in
    # a chat log; the group size brings them back (present throughout, no messages).
    visible_at_start = int((~joined).sum())
    visible_at_end = int((exit_kind == "").sum())
    hidden = 0
    if hidden_at_start is not None:
        hidden = hidden_at_start - visible_at_start
        if hidden < 0:
            raise CalibrationError(
                f"members_at_start = {hidden_at_start}, but {visible_at_start} members are seen in the group at "
                f"{start.date()}; expected at least that many")
    if hidden_at_end is not None:
        hidden_end = hidden_at_end - visible_at_end
        if hidden_end < 0:
            raise CalibrationError(
                f"members_at_end = {hidden_at_end}, but {visible_at_end} members are seen in the group at "
                f"{(end_excl - pd.Timedelta(days=1)).date()}; expected at least that many")
        if hidden_at_start is not None and hidden_end != hidden:
            raise CalibrationError(
                f"members_at_start = {hidden_at_start} and members_at_end = {hidden_at_end} disagree with the log: "
                f"they imply {hidden} and {hidden_end} silent members; expected the same number (give one of them)")
        hidden = hidden_end
    if hidden:
        ids = np.concatenate([ids, np.array([f"~hidden{i:05d}" for i in range(hidden)], dtype=object)])
        entry = np.concatenate([entry, np.zeros(hidden, dtype=np.int64)])
        last = np.concatenate([last, np.full(hidden, n_days - 1, dtype=np.int64)])
        exit_kind = np.concatenate([exit_kind, np.full(hidden, "", dtype=object)])
        joined = np.concatenate([joined, np.zeros(hidden, dtype=bool)])
    return _Spells(ids, entry, last, exit_kind, joined, hidden)


# --------------------------------------------------------------------------- chat statistics


def _chat_statistics(weights: np.ndarray, y: np.ndarray, exposure: np.ndarray, sx: np.ndarray,
                     sxx: np.ndarray, sx2_over_y: np.ndarray) -> dict[str, np.ndarray]:
    """Chat estimates for each row of ``weights`` (members × replicate weights), vectorized.

    y: messages per member; exposure: member-days; sx, sxx: sums of centred message hours and
    of their squares; sx2_over_y: sx²/y (0 for members without messages).
    """
    w = weights
    total_days = w @ exposure
    total_messages = w @ y
    rate = total_messages / total_days
    # Engagement: E(y) = rT, Var(y) = rT + (rT)²·v with v = e^{σ²} − 1 (Poisson-lognormal);
    # residuals are taken around the estimated rate, whose own noise is accounted for.
    a = rate[:, None] * exposure[None, :]
    resid2 = (y[None, :] - a) ** 2
    share = exposure[None, :] / total_days[:, None]
    sum_t2 = w @ exposure**2
    lhs = (w * resid2).sum(axis=1)
    base = (w * a * (1 - 2 * share)).sum(axis=1) + sum_t2 * (w * a).sum(axis=1) / total_days**2
    slope = (w * a**2 * (1 - 2 * share)).sum(axis=1) + sum_t2 * (w * a**2).sum(axis=1) / total_days**2
    v = (lhs - base) / slope
    sigma = np.sqrt(np.log1p(np.maximum(v, 0.0)))
    # Hours: one-way variance decomposition (members as groups) of the centred hours.
    talkers = w * (y > 0)
    k = talkers.sum(axis=1)
    mean_x = (w @ sx) / total_messages
    ss_within = w @ (sxx - sx2_over_y)
    ss_between = w @ sx2_over_y - total_messages * mean_x**2
    ms_within = ss_within / np.maximum(total_messages - k, 1)
    ms_between = ss_between / np.maximum(k - 1, 1)
    n0 = (total_messages - (w @ y**2) / total_messages) / np.maximum(k - 1, 1)
    between_var = (ms_between - ms_within) / n0
    return {
        "rate": rate, "sigma": sigma, "v": v, "hour_shift": mean_x,
        "hour_sd": np.sqrt(np.maximum(between_var, 0.0)), "noise_sd": np.sqrt(ms_within),
    }


def _bootstrap(stat_fn, n_units: int, replicates: int, rng: np.random.Generator, chunk: int = 250) -> dict[str, np.ndarray]:
    """Percentile-bootstrap replicates: resample units (members) with replacement."""
    out: dict[str, list[np.ndarray]] = {}
    done = 0
    while done < replicates:
        size = min(chunk, replicates - done)
        weights = rng.multinomial(n_units, np.full(n_units, 1 / n_units), size=size).astype(float)
        for key, values in stat_fn(weights).items():
            out.setdefault(key, []).append(values)
        done += size
    return {key: np.concatenate(values) for key, values in out.items()}


def _interval(point: float, replicates: np.ndarray, jackknife: np.ndarray) -> tuple[float, float]:
    """BCa (bias-corrected and accelerated) bootstrap interval.

    Per-member message rates are skewed (lognormal engagement); plain percentile intervals
    then cover less than 95%. BCa corrects the median bias (z0) and the skewness
    (acceleration from the leave-one-member-out jackknife).
    """
    finite = replicates[np.isfinite(replicates)]
    if finite.size < 10 or not np.isfinite(point):
        return math.nan, math.nan
    alpha = 1 - CONFIDENCE
    below = (np.sum(finite < point) + 0.5 * np.sum(finite == point)) / finite.size
    z0 = float(sps.norm.ppf(min(max(below, 1 / finite.size), 1 - 1 / finite.size)))
    jack = jackknife[np.isfinite(jackknife)]
    spread = jack.mean() - jack
    denominator = 6 * float(np.sum(spread**2)) ** 1.5
    acceleration = float(np.sum(spread**3)) / denominator if denominator > 0 else 0.0
    quantiles = []
    for z in sps.norm.ppf([alpha / 2, 1 - alpha / 2]):
        quantiles.append(float(sps.norm.cdf(z0 + (z0 + z) / (1 - acceleration * (z0 + z)))))
    low, high = np.quantile(finite, quantiles)
    return float(low), float(high)


# --------------------------------------------------------------------------- estimate


def estimate(
    log_or_tables: Any,
    *,
    start: Any = None,
    end: Any = None,
    members_at_start: int | None = None,
    members_at_end: int | None = None,
    exclude_members: Iterable[str] = (),
    rules: Any = None,
    bootstrap: int = 1000,
    seed: int = 0,
) -> Calibration:
    """Estimate the simulation's behavioural parameters from a group's event log.

    ``log_or_tables``: a :class:`simlib.io.LoadedLog` (merge an orders CSV with
    ``simlib.io.load_many([chat, orders])`` to estimate purchases), a simulated
    :class:`simlib.model.RunResult`, or a mapping with ``members`` and ``events`` tables.
    ``start``/``end``: first and last day of the window (inclusive; default: the day of the
    first message and of the last event). ``members_at_start``/``members_at_end``: the group
    size on those days, if known (see the module docstring: it recovers members who were
    invisible in the log). ``exclude_members``: member ids to leave out (e.g. the operator's
    own account). ``rules``: tier rules (default: those of ``params/defaults.yaml``).
    ``bootstrap``: replicates for the chat intervals; ``seed`` makes them reproducible.

    Raises :class:`CalibrationError` (a ValueError) when the log is empty, has no messages
    in the window, the window holds no members, or an argument is out of range.
    """
    members, events, source = _tables(log_or_tables)
    members_at_start = _check_count("members_at_start", members_at_start)
    members_at_end = _check_count("members_at_end", members_at_end)
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, int) or bootstrap < 100:
        raise CalibrationError(f"bootstrap = {bootstrap!r}: expected an integer ≥ 100 (replicates)")
    if events.empty:
        raise CalibrationError(f"{source}: the log has no events; expected a chat export with messages")
    excluded = {str(m) for m in exclude_members}
    events = events[events["member_id"].notna()]
    if excluded:
        events = events[~events["member_id"].astype(str).isin(excluded)]
        members = members[~members["member_id"].astype(str).isin(excluded)]
    events = events.assign(ts=_local(events["ts"]))
    kind = events["event"].astype(str)
    is_message = kind == "message"
    if "ref_id" in events.columns:
        # Simulated logs mark post replies, check-ins and recall messages; chat exports do not.
        is_message &= events["ref_id"].isna()
    messages = events[is_message]
    if messages.empty:
        raise CalibrationError(f"{source}: the log has no member messages; expected at least one 'message' event")
    first_day = _day(start, "start") if start is not None else messages["ts"].min().normalize()
    last_day = _day(end, "end") if end is not None else events["ts"].max().normalize()
    if last_day < first_day:
        raise CalibrationError(f"window start {first_day.date()} is after its end {last_day.date()}; expected start ≤ end")
    n_days = int((last_day - first_day).days) + 1
    spells = _spells(members, events, first_day, n_days, members_at_start, members_at_end)
    if len(spells.ids) == 0:
        raise CalibrationError(
            f"{source}: no member is in the group between {first_day.date()} and {last_day.date()}; "
            "expected a window that overlaps the log")
    index = pd.Index(spells.ids)
    exposure = (spells.last - spells.entry + 1).astype(float)
    member_days = int(exposure.sum())
    notes: list[str] = []

    # ---- messages in the window
    msg_day = ((messages["ts"].dt.normalize() - first_day).dt.days).to_numpy()
    in_window = (msg_day >= 0) & (msg_day < n_days)
    messages = messages[in_window]
    if messages.empty:
        raise CalibrationError(
            f"{source}: no member message between {first_day.date()} and {last_day.date()}; "
            "expected messages inside the window")
    rows = index.get_indexer(messages["member_id"].astype(str))
    hours = (messages["ts"].dt.hour + messages["ts"].dt.minute / 60 + messages["ts"].dt.second / 3600).to_numpy()
    angle = hours / 24 * 2 * np.pi
    centre = float((np.arctan2(np.sin(angle).mean(), np.cos(angle).mean()) / (2 * np.pi) * 24) % 24)
    x = (hours - centre + 12) % 24 - 12
    n_members = len(spells.ids)
    y = np.bincount(rows, minlength=n_members).astype(float)
    sx = np.bincount(rows, weights=x, minlength=n_members)
    sxx = np.bincount(rows, weights=x * x, minlength=n_members)
    sx2_over_y = np.divide(sx**2, y, out=np.zeros(n_members), where=y > 0)

    def chat(weights: np.ndarray) -> dict[str, np.ndarray]:
        return _chat_statistics(weights, y, exposure, sx, sxx, sx2_over_y)

    point = {k: float(v[0]) for k, v in chat(np.ones((1, n_members))).items()}
    boot = _bootstrap(chat, n_members, bootstrap, np.random.default_rng(seed))
    jack: dict[str, list[np.ndarray]] = {}
    for first in range(0, n_members, 500):  # leave-one-member-out replicates, in blocks
        block = np.ones((min(500, n_members - first), n_members))
        block[np.arange(block.shape[0]), first + np.arange(block.shape[0])] = 0.0
        for key, values in chat(block).items():
            jack.setdefault(key, []).append(values)
    jk = {key: np.concatenate(values) for key, values in jack.items()}

    def interval(key: str) -> tuple[float, float]:
        return _interval(point[key], boot[key], jk[key])
    estimates: dict[str, Estimate] = {}
    n_messages = len(messages)
    estimates["chat_rate_mean"] = Estimate(point["rate"], *interval("rate"), n_messages,
                                           "messages per member-day", "messages / member-days, bootstrap over members")
    hour = (centre + point["hour_shift"]) % 24
    low, high = interval("hour_shift")
    estimates["active_hour_mean"] = Estimate(hour, hour - (point["hour_shift"] - low), hour + (high - point["hour_shift"]),
                                             n_messages, "hour", "circular mean of message hours, bootstrap over members")
    estimates["active_hour_sd"] = Estimate(point["hour_sd"], *interval("hour_sd"),
                                           int((y > 0).sum()), "hours",
                                           "between-member sd of usual hours (variance decomposition), bootstrap")
    estimates["message_hour_noise_sd"] = Estimate(point["noise_sd"], *interval("noise_sd"),
                                                  n_messages, "hours",
                                                  f"within-member sd of message times; {MESSAGE_NOISE_NOTE}")
    estimates["engagement_sigma"] = Estimate(point["sigma"], *interval("sigma"), n_members, "",
                                             "lognormal sigma from Poisson over-dispersion (moments), bootstrap")
    counts = np.bincount(np.floor(hours).astype(int) % 24, minlength=24)
    hourly = pd.DataFrame({"hour": np.arange(24), "messages": counts, "per_member_day": counts / member_days,
                           "share": counts / counts.sum()})

    # ---- exits, overall and by tier
    leaves = spells.exit_kind == "leave"
    removals = spells.exit_kind == "removed"
    estimates["exit_hazard"] = daily_hazard(int(leaves.sum()), member_days)
    estimates["removal_rate"] = poisson_rate(int(removals.sum()), member_days, "per member-day")
    if rules is None:
        rules = load_scenario(None).tiering.rules
    panel_members = pd.DataFrame({
        "member_id": spells.ids, "group_id": "g",
        "join_ts": first_day + pd.to_timedelta(spells.entry, unit="D"),
        "left_ts": pd.Series(pd.NaT, index=range(n_members), dtype=f"datetime64[ns, {TZ}]"),
    })
    panel = tiering.tier_panel(panel_members, events, rules, start=first_day, end=last_day)
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
        estimates["silent_exit_multiplier"] = rate_ratio(exits_silent, days_silent, exits_other, days_other)
    transitions = None
    if n_days - burn_in > 7:
        masked = np.where(at_risk, values, -1)[burn_in:]
        transitions = tiering.transition_matrix(pd.DataFrame(masked, index=panel.index[burn_in:]), step_days=7)

    # ---- purchases
    purchases = events[(kind == "purchase").to_numpy()]
    p_day = ((purchases["ts"].dt.normalize() - first_day).dt.days).to_numpy()
    purchases = purchases[(p_day >= 0) & (p_day < n_days)]
    if len(purchases):
        estimates["purchase_rate"] = poisson_rate(len(purchases), member_days, "purchases per member-day")
        amounts = purchases["amount"].dropna().to_numpy(dtype=float) if "amount" in purchases else np.empty(0)
        if amounts.size >= 2:
            mean = float(amounts.mean())
            half = float(sps.t.ppf(1 - (1 - CONFIDENCE) / 2, amounts.size - 1) * amounts.std(ddof=1) / math.sqrt(amounts.size))
            estimates["order_value_mean"] = Estimate(mean, mean - half, mean + half, int(amounts.size), "CNY",
                                                     "mean order value, t interval")

    # ---- arrivals by channel
    joins = spells.joined
    estimates["join_rate"] = poisson_rate(int(joins.sum()), n_days, "joins per day")
    if "channel" in members.columns:
        channel_of = members.drop_duplicates("member_id").set_index(members.drop_duplicates("member_id")["member_id"].astype(str))["channel"]
        channels = channel_of.reindex(spells.ids[joins]).astype(object).fillna("unknown").astype(str)
        for name, count in channels.value_counts().sort_index().items():
            estimates[f"join_rate_{name}"] = poisson_rate(int(count), n_days, "joins per day")

    members_at_start_seen = int((~spells.joined).sum())
    members_at_end_seen = int((spells.exit_kind == "").sum())
    if members_at_start is None and members_at_end is None:
        notes.append("group size not given: members who neither spoke, joined nor left in the window are counted only if "
                     "the members table lists them (a WeCom member list or a simulated log does, a chat export does not); "
                     "otherwise rates and hazards are too high — pass members_at_end=")
    if int(leaves.sum()) < 10:
        notes.append(f"only {int(leaves.sum())} exits in the window: the exit hazard is imprecise")
    if min(exits_silent, exits_other) < MIN_SPLIT_EXITS:
        notes.append(f"fewer than {MIN_SPLIT_EXITS} exits of silent or of other members ({exits_silent} and "
                     f"{exits_other}): a scenario keeps its base's silent_exit_multiplier")
    if n_messages < 200:
        notes.append(f"only {n_messages} messages: the chat estimates are imprecise")
    return Calibration(
        start=first_day, end=last_day, days=n_days, estimates=estimates, hourly_profile=hourly,
        transitions=transitions, members_seen=n_members, hidden_members=spells.hidden,
        members_at_start=members_at_start_seen, members_at_end=members_at_end_seen, member_days=member_days,
        source=source, notes=notes,
        exit_split={"exits_silent": exits_silent, "exits_other": exits_other, "days_silent": days_silent,
                    "days_other": days_other},
    )


# --------------------------------------------------------------------------- scenario


def _round(value: float, digits: int = 4) -> float:
    if value == 0 or not math.isfinite(value):
        return float(value)
    return float(round(value, digits - 1 - int(math.floor(math.log10(abs(value))))))


def _nested_set(data: dict[str, Any], dotted: str, value: Any) -> None:
    node = data
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _scenario(calibration: Calibration, name: str, base: str | Path | None, label: str | None,
              description: str | None) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """(scenario data, comment per dotted key, header comment lines)."""
    if not isinstance(calibration, Calibration):
        raise CalibrationError(f"expected a Calibration from simlib.calibrate.estimate, got {type(calibration).__name__}")
    if not isinstance(name, str) or not name.strip():
        raise CalibrationError(f"scenario name = {name!r}: expected a non-empty string")
    base_data = read_yaml(resolve_scenario_path(base)) if base is not None else {}
    merged = deep_merge({**load_defaults(), "name": "", "label": "", "description": ""}, base_data,
                       source=str(base))
    estimates = calibration.estimates
    window = calibration.window_text
    overrides: dict[str, Any] = {}
    comments: dict[str, str] = {}

    def put(key: str, value: Any, comment: str) -> None:
        overrides[key] = value
        comments[key] = comment

    def from_estimate(key: str, estimate_name: str, *, minimum: float | None = None) -> None:
        e = estimates[estimate_name]
        value = _round(e.value)
        if minimum is not None and value < minimum:
            value = minimum
        put(key, value, f"estimated {_round(e.value)} [95%: {_round(e.low)}–{_round(e.high)}], n={e.n}")

    from_estimate("members.chat_rate_mean", "chat_rate_mean")
    from_estimate("members.engagement_sigma", "engagement_sigma")
    from_estimate("members.active_hour_mean", "active_hour_mean")
    from_estimate("members.active_hour_sd", "active_hour_sd", minimum=0.1)
    # Interest dynamics are not identifiable (module docstring): fix them so that the estimated
    # rate is the simulated rate of an ordinary member.
    split = calibration.exit_split
    if min(split.get("exits_silent", 0), split.get("exits_other", 0)) >= MIN_SPLIT_EXITS:
        from_estimate("members.base_exit_hazard", "exit_hazard_non_silent")
        from_estimate("members.silent_exit_multiplier", "silent_exit_multiplier")
    else:
        # Too few exits to separate: keep the base's multiplier m and take the hazard that
        # explains the judged exits given it, h = exits / (other days + m × silent days).
        multiplier = float(merged["members"]["silent_exit_multiplier"])
        exposure = split.get("days_other", 0) + multiplier * split.get("days_silent", 0)
        exits = split.get("exits_silent", 0) + split.get("exits_other", 0)
        e = daily_hazard(exits, exposure) if exposure > 0 else estimates["exit_hazard"]
        put("members.base_exit_hazard", _round(e.value),
            f"estimated {_round(e.value)} [95%: {_round(e.low)}–{_round(e.high)}], n={e.n}, "
            f"given the base's silent_exit_multiplier {multiplier} (too few exits to estimate it)")
    joins = estimates["join_rate"]
    organic = merged["arrivals"]["channels"]["organic"]
    per_reach = organic["click_rate"] * organic["join_rate"]
    if per_reach <= 0:
        raise CalibrationError(f"base scenario {base}: arrivals.channels.organic click_rate × join_rate is 0; "
                               "expected a positive funnel to carry the observed joins")
    put("arrivals.channels.organic.daily_reach", _round(joins.value / per_reach),
        f"× click {organic['click_rate']} × join {organic['join_rate']} = {_round(joins.value)} joins/day observed "
        f"[95%: {_round(joins.low)}–{_round(joins.high)}], n={joins.n}")
    for channel in ("douyin", "xiaohongshu"):
        put(f"arrivals.channels.{channel}.daily_reach", 0.0, "paid channels are not separable in a chat log: all joins go to organic")
    put("arrivals.initial_channel_mix", {"organic": 1.0}, "the channel of members already in the group is unknown")
    size = calibration.members_at_end
    initial = min(size, GROUP_LIMIT)
    cap = max(int(merged["simulation"]["group_cap"]), initial)
    put("simulation.initial_members", int(initial),
        f"group size at {calibration.end.date()}" + (f" ({calibration.hidden_members} silent members added from the given size)"
                                                     if calibration.hidden_members else ""))
    put("simulation.group_cap", int(cap), "at least the group's current size")
    put("simulation.start_date", str((calibration.end + pd.Timedelta(days=1)).date()), "the day after the data window")
    data = {key: value for key, value in base_data.items() if key not in ("name", "label", "description")}
    header = {"name": name, "label": label if label is not None else f"校准 Calibrated: {name}",
              "description": description if description is not None else
              f"calibrated to {calibration.source} over {window}" + (f", on top of {Path(str(base)).stem}" if base else "")}
    data = {**header, **data}
    for key, value in overrides.items():
        _nested_set(data, key, value)
    lines = [
        f"Calibrated scenario '{name}', written by simlib.calibrate.",
        f"Data: {calibration.source}; window {window}; {calibration.members_seen} members, "
        f"{calibration.member_days} member-days.",
        f"Base: {base if base is not None else 'defaults only'}. Keys commented 'estimated' come from the log; "
        "everything else (open rates, dwell, tolerances, conversions, interest dynamics, costs) is the base's: "
        "a chat log cannot identify it.",
    ]
    lines += [f"Note: {note}" for note in calibration.notes]
    return data, comments, lines


def to_scenario(calibration: Calibration, name: str, base: str | Path | None = "baseline", *,
                label: str | None = None, description: str | None = None) -> dict[str, Any]:
    """The scenario mapping: ``base`` (a scenario name or path, or None for the defaults) with
    the estimable parameters replaced by the calibration's estimates.

    Overridden: ``members.chat_rate_mean``, ``engagement_sigma``, ``active_hour_mean``,
    ``active_hour_sd``, ``base_exit_hazard`` (the non-silent hazard, with
    ``silent_exit_multiplier``, when both could be estimated; else the overall hazard),
    ``arrivals`` (organic ``daily_reach`` so that reach × click × join rate is the observed
    joins per day; paid channels off; members already present counted as organic),
    ``simulation.initial_members`` (group size at the end of the window, at most 500),
    ``group_cap`` and ``start_date`` (the day after the window). Everything else is the base's.
    """
    return _scenario(calibration, name, base, label, description)[0]


def _with_comments(text: str, comments: dict[str, str], header: list[str]) -> str:
    out = [f"# {line}" for line in header]
    stack: list[tuple[int, str]] = []
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        key = stripped.split(":", 1)[0] if ":" in stripped and not stripped.startswith(("-", "#", "'", '"')) else None
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if key is not None:
            stack.append((indent, key))
            path = ".".join(k for _, k in stack)
            if path in comments:
                line = f"{line}  # {comments[path]}"
        out.append(line)
    return "\n".join(out) + "\n"


def write_scenario(calibration: Calibration, path: str | os.PathLike, name: str | None = None,
                   base: str | Path | None = "baseline", *, label: str | None = None,
                   description: str | None = None) -> Path:
    """Write :func:`to_scenario` as commented YAML, atomically, after checking that it loads
    with :func:`simlib.params.load_scenario`. ``name`` defaults to the file's stem."""
    target = Path(path)
    if target.suffix not in (".yaml", ".yml"):
        raise CalibrationError(f"{target}: expected a .yaml or .yml file name for the scenario")
    data, comments, header = _scenario(calibration, name or target.stem, base, label, description)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000)
    text = _with_comments(text, comments, header)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=".tmp.yaml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        try:
            load_scenario(temporary)
        except ParamsError as error:
            raise CalibrationError(f"{target}: the calibrated scenario does not validate: {error}") from None
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
