"""Operational metrics computed from the event-log tables (simulated or real).

All functions take the schema tables (``members``, ``events``, ``posts``, ``costs``) and an
observation window. They never assume the data came from the simulation, so the notebooks
apply them to real exports as well; a figure that the data cannot support (opens in a chat
log, say) comes back as NaN and the notebook says so. The tables may hold several groups of
one community: the figures are the community's.

Value for ranking strategies (:func:`community_value`):

* ``net_value`` — the community's revenue − cost over the window.
* ``residual_value`` — what the members still there at the end are expected to bring after
  it: members at the end × operating value per member-month × the member-months each is
  expected to stay within ``residual_horizon_months``. The operating value per member-month is
  (revenue − the cost of running the groups) ÷ member-months of the window, where the cost of
  running the groups is every cost except those of *gaining* members or seats (acquisition,
  group opening: :data:`SUNK_COST_CATEGORIES`), which the members at the end have already
  paid for. The expected stay is Σ (1 − q)^k over the horizon's months k = 0 … H − 1, with q
  the window's monthly exit rate (exits ÷ member-months), as in :func:`ltv`. A strategy that
  burns members pays twice: fewer members at the end, and a higher q shortens everyone's
  expected stay. When the operating value per member-month is negative (the groups cost more
  to run than their members bring), the residual value is negative: the members at the end
  are a liability, so keeping more of them lowers the ranking value. That is the honest
  reading of a community run at a loss, not a reward for churn; the report flags a
  negative operating value.
* ``ranking_value`` = ``net_value`` + ``residual_value``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

KPI_NAMES = (
    "retention_d30", "retention_d90", "messages_per_100_members_per_day", "revisit_7d",
    "activity_conversion", "share_rate", "revenue_per_member", "ltv", "cost", "roi", "exits", "members",
)
KPI_UNITS = {
    "retention_d30": "share", "retention_d90": "share", "messages_per_100_members_per_day": "messages",
    "revisit_7d": "share", "activity_conversion": "share", "share_rate": "share",
    "revenue_per_member": "CNY", "ltv": "CNY", "cost": "CNY", "roi": "ratio", "exits": "members",
    "members": "members", "net_value": "CNY", "residual_value": "CNY", "ranking_value": "CNY",
    "operating_value_per_member_month": "CNY",
    "members_end": "members", "groups": "groups", "newcomers_lost": "members", "complaints": "complaints",
}
# The community's value and size, which a simulation summary adds to KPI_NAMES
# (simlib.runner.summarize: the engine's counters know groups and lost newcomers).
COMMUNITY_KPIS = ("net_value", "residual_value", "ranking_value", "members_end", "groups", "newcomers_lost")
# Costs of gaining members or seats, not of serving the members one has (see community_value).
SUNK_COST_CATEGORIES = ("acquisition", "group_opening")
DASHBOARD_KPIS = ("messages_per_100_members_per_day", "revisit_7d", "activity_conversion", "share_rate")
VISIT_EVENTS = ("message", "open", "share", "activity_join", "question")


def window_of(tables: dict[str, pd.DataFrame], start=None, end=None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The observation window: [first day, end) — by default the span of the events."""
    events = tables["events"]
    if start is None:
        first = events["ts"].min() if len(events) else tables["members"]["join_ts"].min()
        start = first.normalize()
    if end is None:
        last_day = events["ts"].max().normalize() if len(events) else start
        end = last_day + pd.Timedelta(days=1)
    return pd.Timestamp(start), pd.Timestamp(end)


_NS_PER_DAY = 86_400 * 10**9


def _day_index(ts: pd.Series, start: pd.Timestamp) -> np.ndarray:
    """Whole days from ``start`` to each time (floored), NaN where the time is missing."""
    array = ts.array
    start = pd.Timestamp(start)
    if isinstance(array, pd.arrays.DatetimeArray) and (array.tz is None) == (start.tz is None):
        # Integer nanoseconds: the same floor division as with Timedeltas, several times faster.
        days = ((array.as_unit("ns").asi8 - start.as_unit("ns").value) // _NS_PER_DAY).astype("float64")
        days[array.isna()] = np.nan
        return days
    return ((ts - start) // pd.Timedelta(days=1)).to_numpy(dtype="float64", na_value=np.nan)


def presence(members: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
    """Each member's first and last+1 day index of presence inside the window (clipped)."""
    n_days = (end - start).days
    joined = np.clip(np.ceil(_day_index(members["join_ts"], start) + 1e-9), 0, n_days)
    # A member who joined during a day counts as present from the next day on; members
    # present at the start count from day 0.
    joined = np.where(_day_index(members["join_ts"], start) < 0, 0, joined)
    left = _day_index(members["left_ts"], start) if "left_ts" in members else np.full(len(members), np.nan)
    left = np.clip(np.where(np.isnan(left), n_days, np.floor(left)), 0, n_days)
    return joined.astype(int), left.astype(int)


def present_per_day(members: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
    """Members in the group on each day of the window (present at the end of the day)."""
    n_days = (end - start).days
    first, stop = presence(members, start, end)
    change = np.zeros(n_days + 1)
    np.add.at(change, first, 1)
    np.add.at(change, stop, -1)
    return np.cumsum(change)[:n_days]


class WindowEvents:
    """The events of one window, split by kind once, for computing several KPIs.

    :func:`kpis` wraps ``tables["events"]`` in this so that its nine metrics do not each scan
    the whole log; every metric also accepts the plain DataFrame.
    """

    def __init__(self, events: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp):
        self.frame, self.start, self.end = events, start, end
        ts = events["ts"]
        self.inside = np.flatnonzero(((ts >= start) & (ts < end)).to_numpy())
        kinds = events["event"]
        if isinstance(kinds.dtype, pd.CategoricalDtype):
            self.categories, codes = kinds.cat.categories, kinds.cat.codes.to_numpy()
        else:
            codes, self.categories = pd.factorize(kinds)
        self.codes = codes[self.inside]

    def is_kind(self, kinds) -> np.ndarray:
        """For each event of the window, whether it is one of ``kinds``."""
        return np.isin(self.codes, np.flatnonzero(self.categories.isin(list(kinds))))

    def of(self, kinds, start, end, columns=None) -> pd.DataFrame:
        positions = self.inside[self.is_kind(kinds)]
        if columns is None:
            rows = self.frame.iloc[positions]
        else:  # copy only the columns the metric reads (the log has ~200k rows a year)
            rows = self.frame.iloc[positions, [self.frame.columns.get_loc(c) for c in {*columns, "ts"}]]
        if (start, end) != (self.start, self.end):
            rows = rows[(rows["ts"] >= start) & (rows["ts"] < end)]
        return rows


def _events_in(events: pd.DataFrame | WindowEvents, kinds, start, end, columns=None) -> pd.DataFrame:
    """Events of the given kinds inside [start, end) (with ``columns``, only those and ts)."""
    if isinstance(events, WindowEvents) and events.start <= start and end <= events.end:
        return events.of(kinds, start, end, columns)
    if isinstance(events, WindowEvents):
        events = events.frame
    mask = events["event"].isin(kinds) & (events["ts"] >= start) & (events["ts"] < end)
    return events.loc[mask]


def _count_events(events: pd.DataFrame | WindowEvents, kinds, start, end) -> int:
    """How many events of the given kinds fall inside [start, end)."""
    if isinstance(events, WindowEvents) and (start, end) == (events.start, events.end):
        # The window's events are already split by kind: count codes, copy nothing.
        return int(np.count_nonzero(events.is_kind(kinds)))
    return len(_events_in(events, kinds, start, end, columns=[]))


def isin(values: pd.Series, allowed) -> np.ndarray:
    """``values.isin(allowed)`` as a boolean array, comparing categories once for categoricals."""
    allowed = pd.Index(pd.Series(allowed).astype(object))
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        return np.asarray(values.cat.categories.astype(object).isin(allowed))[codes] & (codes >= 0)
    return values.astype(object).isin(allowed).to_numpy()


def member_rows(members: pd.DataFrame, member_ids: pd.Series) -> np.ndarray:
    """Row positions in ``members`` of the given ids (-1 when unknown)."""
    index = pd.Index(members["member_id"].astype(object))
    if isinstance(member_ids.dtype, pd.CategoricalDtype):
        # Look each category up once, then index by the codes.
        codes = member_ids.cat.codes.to_numpy()
        lookup = np.append(index.get_indexer(member_ids.cat.categories.astype(object)), -1)
        return lookup[codes]  # code -1 (missing) picks the appended -1
    return index.get_indexer(member_ids.astype(object))


def retention(members: pd.DataFrame, days: int, start, end) -> float:
    """Share of members who joined inside the window (early enough to be observed for
    ``days`` days) and were still in the group ``days`` days after joining."""
    joined = members["join_ts"]
    cohort = members[(joined >= start) & (joined <= end - pd.Timedelta(days=days))]
    if cohort.empty:
        return math.nan
    stayed = cohort["left_ts"].isna() | (cohort["left_ts"] - cohort["join_ts"] > pd.Timedelta(days=days))
    return float(stayed.mean())


def messages_per_100_members_per_day(tables, start, end) -> float:
    present = present_per_day(tables["members"], start, end)
    messages = _count_events(tables["events"], ["message"], start, end)
    member_days = present.sum()
    return math.nan if member_days == 0 else 100 * messages / member_days


def revisit_7d(tables, start, end, kinds=VISIT_EVENTS) -> float:
    """七日二次访问率: among members present for a whole week, the share active on at least
    two different days of it, averaged over the window's complete weeks."""
    members = tables["members"]
    n_weeks = (end - start).days // 7
    if n_weeks == 0 or members.empty:
        return math.nan
    weeks_end = start + pd.Timedelta(days=7 * n_weeks)
    visits = _events_in(tables["events"], kinds, start, weeks_end, columns=["member_id"])
    rows = member_rows(members, visits["member_id"])
    day = _day_index(visits["ts"], start).astype(int)
    keep = rows >= 0
    visited = np.zeros((len(members), 7 * n_weeks), dtype=bool)
    visited[rows[keep], day[keep]] = True
    visit_days = visited.reshape(len(members), n_weeks, 7).sum(axis=2)
    first, stop = presence(members, start, end)
    week_starts = 7 * np.arange(n_weeks)
    whole_week = (first[:, None] <= week_starts[None, :]) & (stop[:, None] >= week_starts[None, :] + 7)
    present_counts = whole_week.sum(axis=0)
    revisits = ((visit_days >= 2) & whole_week).sum(axis=0)
    valid = present_counts > 0
    return float(np.mean(revisits[valid] / present_counts[valid])) if valid.any() else math.nan


def activity_participation(tables, start, end) -> pd.DataFrame:
    """Per activity (ref_id of activity_join events): participants and members reached."""
    joins = _events_in(tables["events"], ["activity_join"], start, end, columns=["member_id", "ref_id"])
    if joins.empty:
        return pd.DataFrame(columns=["activity", "first_ts", "participants", "reached", "conversion"])
    # Integer codes: activities sorted by name (as a groupby would), members by position;
    # distinct (activity, member) pairs give the participants (missing members not counted).
    activity_codes, activities = pd.factorize(joins["ref_id"].astype(str), sort=True)
    ids = joins["member_id"]
    member = ids.cat.codes.to_numpy() if isinstance(ids.dtype, pd.CategoricalDtype) else pd.factorize(ids)[0]
    known = member >= 0
    base = max(int(member.max()) + 1, 1)
    pairs = np.unique(activity_codes[known].astype(np.int64) * base + member[known])
    participants = np.bincount(pairs // base, minlength=len(activities))
    # Each activity's first join: sort by (activity, time) and take the first row of each.
    order = np.lexsort((pd.DatetimeIndex(joins["ts"]).asi8, activity_codes))
    first_rows = order[np.searchsorted(activity_codes[order], np.arange(len(activities)))]
    out = pd.DataFrame({"activity": activities, "first_ts": joins["ts"].iloc[first_rows].to_numpy(),
                        "participants": participants})
    first, stop = presence(tables["members"], start, end)
    day = _day_index(out["first_ts"], start).astype(int)
    out["reached"] = np.array([((first <= d) & (stop > d)).sum() for d in day])
    out["conversion"] = out["participants"] / np.maximum(out["reached"], 1)
    return out


def activity_conversion(tables, start, end) -> float:
    """活动参与转化率: participants ÷ members in the group when the activity began, averaged over
    activities that started inside the window. Newcomers recruited by a referral activity
    count as participants, as an operator would count them."""
    per_activity = activity_participation(tables, start, end)
    return float(per_activity["conversion"].mean()) if len(per_activity) else math.nan


def share_rate(tables, start, end) -> float:
    """内容分享率: shares of posts ÷ opens of posts. NaN when the data has no opens (chat logs)."""
    events = tables["events"]
    opens = _count_events(events, ["open"], start, end)
    if opens == 0:
        return math.nan
    shares = _events_in(events, ["share"], start, end, columns=["ref_id"])
    return int(np.count_nonzero(isin(shares["ref_id"], tables["posts"]["post_id"]))) / opens


def revenue(tables, start, end) -> float:
    purchases = _events_in(tables["events"], ["purchase"], start, end)
    return float(purchases["amount"].sum())


def members_seen(members: pd.DataFrame, start, end) -> int:
    first, stop = presence(members, start, end)
    return int((stop > first).sum())


def member_months(members: pd.DataFrame, start, end) -> float:
    first, stop = presence(members, start, end)
    return float(np.maximum(stop - first, 0).sum()) / 30.4375


def exits(tables, start, end) -> int:
    return _count_events(tables["events"], ["leave", "removed"], start, end)


def expected_member_months(monthly_exit: float, horizon_months: int) -> float:
    """Expected months a member stays within ``horizon_months`` when each month they leave
    with probability ``monthly_exit``: Σ (1 − q)^k, k = 0 … H − 1 (a member counts for a month
    if still there at its start)."""
    return float(((1 - min(1.0, monthly_exit)) ** np.arange(horizon_months)).sum())


def ltv(tables, start, end, horizon_months: int = 24) -> float:
    """Expected revenue of a member over at most ``horizon_months``: revenue per member-month
    × Σ survival, with a constant monthly exit probability estimated from the window."""
    months = member_months(tables["members"], start, end)
    if months == 0:
        return math.nan
    monthly_revenue = revenue(tables, start, end) / months
    return monthly_revenue * expected_member_months(exits(tables, start, end) / months, horizon_months)


def total_cost(tables, start, end, exclude=()) -> float:
    """Costs booked inside the window (leaving out the categories ``exclude``)."""
    costs = tables["costs"]
    mask = (costs["ts"] >= start) & (costs["ts"] < end)
    if exclude:
        mask &= ~isin(costs["category"], exclude)
    return float(costs.loc[mask, "amount"].sum())


def members_at_end(members: pd.DataFrame, end) -> int:
    """Members who joined before ``end`` and had not left by then."""
    joined = members["join_ts"] < end
    staying = members["left_ts"].isna() | (members["left_ts"] >= end)
    return int((joined & staying).sum())


def community_value(tables, start, end, residual_horizon_months: int) -> dict[str, float]:
    """``net_value``, ``residual_value``, ``ranking_value`` (see the module docstring) and the
    operating value per member-month behind the residual value."""
    income = revenue(tables, start, end)
    net = income - total_cost(tables, start, end)
    months = member_months(tables["members"], start, end)
    if months == 0:
        return {"net_value": net, "residual_value": 0.0, "ranking_value": net,
                "operating_value_per_member_month": math.nan}
    operating = (income - total_cost(tables, start, end, exclude=SUNK_COST_CATEGORIES)) / months
    stay = expected_member_months(exits(tables, start, end) / months, residual_horizon_months)
    residual = members_at_end(tables["members"], end) * operating * stay
    return {"net_value": net, "residual_value": residual, "ranking_value": net + residual,
            "operating_value_per_member_month": operating}


def kpis(tables: dict[str, pd.DataFrame], start=None, end=None, horizon_months: int = 24,
         residual_horizon_months: int | None = None) -> dict[str, float]:
    """The headline KPIs of one group or community over a window (see ``KPI_NAMES``), and with
    ``residual_horizon_months`` its :func:`community_value` too."""
    start, end = window_of(tables, start, end)
    tables = {**tables, "events": WindowEvents(tables["events"], start, end)}
    members = tables["members"]
    income = revenue(tables, start, end)
    spend = total_cost(tables, start, end)
    seen = members_seen(members, start, end)
    value = {}
    if residual_horizon_months is not None:
        value = community_value(tables, start, end, residual_horizon_months)
    return {
        **value,
        "retention_d30": retention(members, 30, start, end),
        "retention_d90": retention(members, 90, start, end),
        "messages_per_100_members_per_day": messages_per_100_members_per_day(tables, start, end),
        "revisit_7d": revisit_7d(tables, start, end),
        "activity_conversion": activity_conversion(tables, start, end),
        "share_rate": share_rate(tables, start, end),
        "revenue_per_member": income / seen if seen else math.nan,
        "ltv": ltv(tables, start, end, horizon_months),
        "cost": spend,
        "roi": income / spend if spend else math.nan,
        "exits": float(exits(tables, start, end)),
        "members": float(seen),  # members in the group at any time of the window
    }


def dashboard_daily(tables: dict[str, pd.DataFrame], start=None, end=None,
                    window_days: int = 7) -> pd.DataFrame:
    """The four dashboard metrics per day (trailing ``window_days`` averages) — for plots and alerts."""
    start, end = window_of(tables, start, end)
    n_days = (end - start).days
    events = tables["events"]
    present = present_per_day(tables["members"], start, end)
    day_of = {}
    for kind in ("message", "open", "share", "activity_join"):
        subset = _events_in(events, [kind], start, end)
        if kind == "share":
            subset = subset[subset["ref_id"].astype(object).isin(tables["posts"]["post_id"].astype(object))]
        day_of[kind] = np.bincount(_day_index(subset["ts"], start).astype(int), minlength=n_days)[:n_days]
    kernel = np.ones(window_days)

    def trailing(values):
        return np.convolve(values, kernel)[:n_days]

    member_days = trailing(present)
    opens = trailing(day_of["open"])
    frame = pd.DataFrame({
        "date": pd.date_range(start, periods=n_days, freq="D"),
        "present": present,
        "messages": day_of["message"],
        "messages_per_100_members_per_day": 100 * trailing(day_of["message"]) / np.maximum(member_days, 1),
        "share_rate": np.where(opens > 0, trailing(day_of["share"]) / np.maximum(opens, 1), np.nan),
    })
    # Revisit and activity conversion need whole weeks / activity starts: computed per week.
    weekly = []
    for week in range(n_days // 7):
        week_start = start + pd.Timedelta(days=7 * week)
        week_end = week_start + pd.Timedelta(days=7)
        weekly.append({"date": week_end - pd.Timedelta(days=1),
                       "revisit_7d": revisit_7d(tables, week_start, week_end)})
    if weekly:
        frame = frame.merge(pd.DataFrame(weekly), on="date", how="left")
        frame["revisit_7d"] = frame["revisit_7d"].ffill()
    else:
        frame["revisit_7d"] = np.nan
    participation = activity_participation(tables, start, end)
    frame["activity_conversion"] = np.nan
    if len(participation):
        day = _day_index(participation["first_ts"], start).astype(int)
        frame.loc[day, "activity_conversion"] = participation["conversion"].to_numpy()
        frame["activity_conversion"] = frame["activity_conversion"].ffill()
    return frame


def health_flags(values: dict[str, float], thresholds) -> dict[str, bool | None]:
    """True where a dashboard KPI meets its health threshold (≥), None where it is unknown."""
    limits = thresholds if isinstance(thresholds, dict) else thresholds.model_dump()
    flags = {}
    for name, limit in limits.items():
        value = values.get(name, math.nan)
        unknown = value is None or (isinstance(value, float) and math.isnan(value))
        flags[name] = None if unknown else bool(value >= limit)
    return flags


def alert_days(daily: pd.DataFrame, thresholds) -> pd.DataFrame:
    """Days on which any dashboard metric fell below its threshold (tidy: date, metric, value, threshold)."""
    limits = thresholds if isinstance(thresholds, dict) else thresholds.model_dump()
    rows = []
    for name, limit in limits.items():
        if name not in daily:
            continue
        below = daily[daily[name] < limit]
        rows.append(pd.DataFrame({"date": below["date"], "metric": name, "value": below[name],
                                  "threshold": limit}))
    if not rows:
        return pd.DataFrame(columns=["date", "metric", "value", "threshold"])
    return pd.concat(rows, ignore_index=True)


def commercial_share(posts: pd.DataFrame) -> float:
    """Share of operator posts that are commercial."""
    return float(posts["commercial"].mean()) if len(posts) else math.nan
