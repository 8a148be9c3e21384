"""KPI monitoring (notebook 04): the dashboard, health flags, alerts and admin staffing.

* :func:`threshold_table` — the article's table 4 built from the parameters.
* :func:`dashboard_extra` / :func:`queue_extra` — per-replication metrics evaluated in the
  simulation worker (``simulate(..., extra=...)``): share of days in alert per dashboard
  metric; question-queue service levels, admin utilization, complaints and exits.
* :func:`health_table` — the four dashboard KPIs over replications with 95% intervals and a
  pass / fail / uncertain verdict against the health thresholds.
* Queue theory for the staffing question: :func:`erlang_c`, :func:`mmc_mean_wait`,
  :func:`mmc_wait_exceeds`, :func:`question_hour_density`, :func:`off_shift_share` and
  :func:`analytic_admins_needed` (a peak-hour Erlang-C plus morning-backlog approximation).
* :func:`size_admin_grid` / :func:`min_admins_meeting` — the simulated group-size × admins
  sweep and the smallest staffing that meets a service target.
* :func:`observed_dashboard` — what a real chat log or WeCom daily statistic can show.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from simlib import metrics
from simlib.model import RunResult
from simlib.params import Params, time_to_minutes
from simlib.results import mean_ci

# Table 4 of the article: dimension and direction of each dashboard metric (keys into the
# label catalog); thresholds come from ``params.monitoring.health_thresholds``.
TABLE4 = (
    ("messages_per_100_members_per_day", "dim_activity", "dir_topics"),
    ("revisit_7d", "dim_stickiness", "dir_timeliness"),
    ("activity_conversion", "dim_conversion", "dir_incentives"),
    ("share_rate", "dim_spread", "dir_fission"),
)
QUEUE_METRICS = (
    "questions_per_day", "mean_response_minutes", "p90_response_minutes", "mean_response_in_shift_minutes",
    "p90_response_in_shift_minutes", "within_patience",
    "complaints_per_100_members_month", "exits_per_100_members_month", "admin_utilization",
)


class MonitoringInputError(ValueError):
    """A bad argument to a monitoring helper."""


# --------------------------------------------------------------------------- table 4


def threshold_table(params: Params, lang: str = "zh") -> pd.DataFrame:
    """Table 4 (dimension, metric, health threshold, direction) from ``params``."""
    from simlib.labels import label

    limits = params.monitoring.health_thresholds.model_dump()
    rows = []
    for name, dimension, direction in TABLE4:
        value = limits[name]
        shown = f"≥{value:g}" if name == "messages_per_100_members_per_day" else f"≥{value:.0%}"
        rows.append({"metric_key": name, label("dimension", lang): label(dimension, lang),
                     label("kpi", lang): label(name, lang),
                     label("health_threshold", lang): shown, label("direction", lang): label(direction, lang),
                     "threshold": value})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- per-replication extras


def alert_shares(daily: pd.DataFrame, thresholds) -> dict[str, float]:
    """Share of days (with a known value) on which each dashboard metric is below its threshold."""
    limits = thresholds if isinstance(thresholds, dict) else thresholds.model_dump()
    out = {}
    for name, limit in limits.items():
        values = daily[name].to_numpy(dtype=float) if name in daily else np.array([])
        known = values[~np.isnan(values)]
        out[f"alert_share_{name}"] = float(np.mean(known < limit)) if known.size else math.nan
    return out


def queue_extra(run: RunResult) -> dict[str, float]:
    """Service levels of the question queue in one replication (module level: picklable)."""
    p = run.params
    days = p.simulation.days
    counts = run.tables["events"]["event"].value_counts()
    asked = float(counts.get("question", 0))
    complaints = float(counts.get("complaint", 0))
    gone = float(counts.get("leave", 0) + counts.get("removed", 0))
    member_months = float(run.daily["present"].sum()) / 30.4375 if len(run.daily) else math.nan
    answered = run.questions.dropna(subset=["response_minutes"])
    response = answered["response_minutes"].to_numpy(dtype=float)
    clock = (answered["asked_day"].to_numpy(dtype=float) % 1) * 1440
    in_shift = response[
        (clock >= time_to_minutes(p.monitoring.shift_start))
        & (clock < time_to_minutes(p.monitoring.shift_end))
    ]
    shift_minutes = p.monitoring.shift_hours * 60 * days * max(p.monitoring.admins, 1)
    return {
        "questions_per_day": asked / days,
        "mean_response_minutes": float(response.mean()) if response.size else math.nan,
        "p90_response_minutes": float(np.quantile(response, 0.9)) if response.size else math.nan,
        "mean_response_in_shift_minutes": float(in_shift.mean()) if in_shift.size else math.nan,
        "p90_response_in_shift_minutes": float(np.quantile(in_shift, 0.9)) if in_shift.size else math.nan,
        "within_patience": 1 - complaints / asked if asked else math.nan,
        "complaints_per_100_members_month": 100 * complaints / member_months if member_months else math.nan,
        "exits_per_100_members_month": 100 * gone / member_months if member_months else math.nan,
        "admin_utilization": float(run.counters.get("admin_busy_minutes", 0.0)) / shift_minutes
        if p.monitoring.admins
        else math.nan,
    }


def dashboard_extra(run: RunResult) -> dict[str, float]:
    """Queue metrics plus the share of days in alert per dashboard metric."""
    start = pd.Timestamp(run.params.simulation.start_date, tz="Asia/Shanghai")
    end = start + pd.Timedelta(days=run.params.simulation.days)
    daily = metrics.dashboard_daily(run.tables, start, end)
    values = queue_extra(run)
    values.update(alert_shares(daily, run.params.monitoring.health_thresholds))
    return values


# --------------------------------------------------------------------------- health over replications


def verdict(low: float, high: float, threshold: float) -> str:
    """'pass' when the whole interval meets the threshold, 'fail' when none of it does."""
    if any(isinstance(v, float) and math.isnan(v) for v in (low, high)):
        return "unknown"
    if low >= threshold:
        return "pass"
    if high < threshold:
        return "fail"
    return "uncertain"


def health_table(summaries: pd.DataFrame, thresholds) -> pd.DataFrame:
    """Dashboard KPIs over replications: mean, 95% interval, threshold, share of replications
    passing, the flag of :func:`simlib.metrics.health_flags` on the mean and a verdict."""
    limits = thresholds if isinstance(thresholds, dict) else thresholds.model_dump()
    means = {}
    rows = []
    for name, limit in limits.items():
        values = summaries[name].astype(float).to_numpy() if name in summaries else np.array([math.nan])
        entry = mean_ci(values.tolist())
        means[name] = entry["mean"]
        known = values[~np.isnan(values)]
        rows.append({"metric": name, "mean": entry["mean"], "low": entry["low"], "high": entry["high"],
                     "threshold": limit,
                     "pass_share": float(np.mean(known >= limit)) if known.size else math.nan,
                     "verdict": verdict(entry["low"], entry["high"], limit)})
    flags = metrics.health_flags(means, limits)
    frame = pd.DataFrame(rows)
    frame["healthy_on_mean"] = frame["metric"].map(flags)
    return frame


def summary_ci(summaries: pd.DataFrame, names: Iterable[str], **labels: Any) -> pd.DataFrame:
    """Tidy mean/low/high of ``names`` from a summaries frame, with constant label columns."""
    rows = []
    for name in names:
        entry = mean_ci(summaries[name].astype(float).tolist())
        rows.append({**labels, "metric": name, "mean": entry["mean"], "low": entry["low"],
                     "high": entry["high"]})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- queue theory


def _check_positive(name: str, value: float) -> float:
    value = float(value)
    if not value > 0 or math.isnan(value):
        raise MonitoringInputError(f"{name}={value!r}: expected a positive number")
    return value


def erlang_c(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Probability that an arrival waits in an M/M/c queue (Erlang C); 1.0 when overloaded."""
    arrival_rate = float(arrival_rate)
    if arrival_rate < 0 or math.isnan(arrival_rate):
        raise MonitoringInputError(f"arrival_rate={arrival_rate!r}: expected a number ≥ 0")
    _check_positive("service_rate", service_rate)
    if isinstance(servers, bool) or int(servers) != servers or servers < 1:
        raise MonitoringInputError(f"servers={servers!r}: expected an integer ≥ 1")
    servers = int(servers)
    load = arrival_rate / service_rate
    if load >= servers:
        return 1.0
    # Erlang B by the stable recursion, then C from B.
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = load * blocking / (k + load * blocking)
    rho = load / servers
    return blocking / (1 - rho + rho * blocking)


def mmc_mean_wait(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Mean waiting time before service in M/M/c (same time unit as the rates); inf if overloaded."""
    probability = erlang_c(arrival_rate, service_rate, servers)
    spare = servers * service_rate - arrival_rate
    return math.inf if spare <= 0 else probability / spare


def mmc_wait_exceeds(arrival_rate: float, service_rate: float, servers: int, t: float) -> float:
    """P(wait > t) in M/M/c: C(c, a) · exp(−(cμ − λ) t)."""
    probability = erlang_c(arrival_rate, service_rate, servers)
    spare = servers * service_rate - arrival_rate
    return 1.0 if spare <= 0 else probability * math.exp(-spare * t)


def question_hour_density(params: Params, hours: Sequence[float] | None = None) -> np.ndarray:
    """Density (per hour) of the clock time at which questions are asked.

    In the model a question comes at the asker's usual hour (Normal(mean, sd) mod 24) plus
    Normal(0, ``members.hour_spread_hours``) noise, so the clock time is a wrapped normal with
    sd √(sd² + spread²).
    """
    members = params.members
    mean, sd = members.active_hour_mean, math.hypot(members.active_hour_sd, members.hour_spread_hours)
    grid = np.arange(24) + 0.5 if hours is None else np.asarray(hours, dtype=float)
    shifts = np.arange(-5, 6) * 24.0
    z = (grid[:, None] - mean + shifts[None, :]) / sd
    return np.exp(-0.5 * z**2).sum(axis=1) / (sd * math.sqrt(2 * math.pi))


def off_shift_share(params: Params, shift_start: str | None = None, shift_end: str | None = None) -> float:
    """Expected share of questions asked outside the admins' shift."""
    start = time_to_minutes(shift_start or params.monitoring.shift_start) / 60
    end = time_to_minutes(shift_end or params.monitoring.shift_end) / 60
    grid = np.linspace(0, 24, 24 * 60, endpoint=False) + 1 / 120
    density = question_hour_density(params, grid)
    inside = (grid >= start) & (grid < end)
    return float(1 - density[inside].sum() / density.sum())


def analytic_admins_needed(questions_per_day: float, answer_minutes: float, params: Params,
                           target: float = 0.95, max_admins: int = 20) -> int:
    """Smallest number of admins meeting ``target`` (share answered within patience) by a rough
    approximation: the peak in-shift hour as an M/M/c queue, and the night's backlog served in
    order from shift start (late share = backlog beyond what c admins clear within patience)."""
    _check_positive("answer_minutes", answer_minutes)
    if questions_per_day < 0:
        raise MonitoringInputError(f"questions_per_day={questions_per_day!r}: expected ≥ 0")
    patience = params.members.question_patience_minutes
    start = time_to_minutes(params.monitoring.shift_start) / 60
    end = time_to_minutes(params.monitoring.shift_end) / 60
    hours = np.arange(math.floor(start), math.ceil(end)) + 0.5
    peak_per_minute = questions_per_day * float(question_hour_density(params, hours).max()) / 60
    off = off_shift_share(params)
    backlog = questions_per_day * off
    for admins in range(1, max_admins + 1):
        late_peak = mmc_wait_exceeds(peak_per_minute, 1 / answer_minutes, admins, patience)
        cleared = patience * admins / answer_minutes
        late_backlog = max(0.0, backlog - cleared) / backlog if backlog > 0 else 0.0
        late = (1 - off) * late_peak + off * late_backlog
        if late <= 1 - target:
            return admins
    return max_admins + 1


# --------------------------------------------------------------------------- staffing sweeps


def size_admin_scenarios(sizes: Sequence[int], admins: Sequence[int], days: int,
                         **extra: Any) -> dict[str, dict[str, Any]]:
    """Override dicts for a group-size × admins sweep. The group is held near its size by
    setting the cap to the initial size (arrivals only refill places of members who left)."""
    if not sizes or not admins:
        raise MonitoringInputError("sizes and admins must be non-empty")
    out = {}
    for size in sizes:
        if not 10 <= int(size) <= 500:
            raise MonitoringInputError(f"size={size!r}: expected 10…500 (WeChat's group limit)")
        for count in admins:
            out[f"n{int(size)}_a{int(count)}"] = {"simulation.initial_members": int(size),
                                                  "simulation.group_cap": int(size),
                                                  "simulation.days": int(days),
                                                  "monitoring.admins": int(count), **extra}
    return out


def size_admin_grid(results: dict[str, Any], names: Sequence[str] = QUEUE_METRICS,
                    **labels: Any) -> pd.DataFrame:
    """Tidy mean/low/high per (size, admins, metric) from a :func:`size_admin_scenarios` sweep."""
    frames = []
    for key, result in results.items():
        size, count = (int(part[1:]) for part in key.split("_"))
        frames.append(summary_ci(result.summaries, names, size=size, admins=count, **labels))
    return pd.concat(frames, ignore_index=True)


def min_admins_meeting(grid: pd.DataFrame, target: float = 0.95, metric: str = "within_patience",
                       by: Sequence[str] = ("size",)) -> pd.DataFrame:
    """Per group (e.g. size): the fewest admins whose *lower* 95% bound of ``metric`` meets
    ``target`` ("needed"), and the fewest whose mean does ("needed_on_mean"). NaN if none."""
    part = grid[grid["metric"] == metric]
    rows = []
    for key, group in part.groupby(list(by), sort=True):
        group = group.sort_values("admins")
        sure = group.loc[group["low"] >= target, "admins"]
        mean = group.loc[group["mean"] >= target, "admins"]
        keys = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, keys, strict=True)),
                     "needed": float(sure.min()) if len(sure) else math.nan,
                     "needed_on_mean": float(mean.min()) if len(mean) else math.nan})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- observed data


def observed_dashboard(log: Any, thresholds) -> dict[str, Any]:
    """Dashboard figures a loaded export supports.

    Returns ``{"window": (start, end), "kpis": {...}, "daily": frame or None, "alerts": frame,
    "wecom_daily": frame or None, "missing": [metric names the data cannot give]}``.
    From a chat log: messages per 100 members per day and a *lower bound* of the 7-day
    revisit rate (only messages count as visits; opens are not in a chat log). From a WeCom
    ``statistic_group_by_day`` file: messages per 100 members and the share of members who
    spoke, per day.
    """
    limits = thresholds if isinstance(thresholds, dict) else thresholds.model_dump()
    tables = {"members": log.members, "events": log.events, "posts": log.posts, "costs": log.costs}
    out: dict[str, Any] = {"window": None, "kpis": {}, "daily": None, "alerts": pd.DataFrame(),
                           "wecom_daily": None,
                           "missing": []}
    has_events = len(log.events) > 0 and (log.events["event"] == "message").any()
    if has_events:
        start, end = metrics.window_of(tables)
        out["window"] = (start, end)
        out["kpis"]["messages_per_100_members_per_day"] = metrics.messages_per_100_members_per_day(
            tables, start, end
        )
        out["kpis"]["revisit_7d_lower_bound"] = metrics.revisit_7d(tables, start, end, kinds=("message",))
        daily = metrics.dashboard_daily(tables, start, end)
        # with opens missing the weekly revisit is only a lower bound: no alerts on it
        daily["revisit_7d"] = np.nan
        out["daily"] = daily
        out["alerts"] = metrics.alert_days(
            daily, {"messages_per_100_members_per_day": limits["messages_per_100_members_per_day"]}
        )
        out["missing"] = ["revisit_7d (opens)", "share_rate (opens, shares)",
                          "activity_conversion (activity joins)"]
    daily_stats = getattr(log, "daily", None)
    if daily_stats is not None and len(daily_stats):
        frame = daily_stats.copy()
        total = frame["member_total"].astype(float).where(frame["member_total"] > 0)
        frame["messages_per_100_members_per_day"] = 100 * frame["msg_total"].astype(float) / total
        frame["speaker_share"] = frame["member_has_msg"].astype(float) / total
        out["wecom_daily"] = frame
        member_days = float(frame["member_total"].sum())
        out["kpis"]["wecom_messages_per_100_members_per_day"] = (
            100 * float(frame["msg_total"].sum()) / member_days if member_days else math.nan)
        limit = limits["messages_per_100_members_per_day"]
        below = frame[frame["messages_per_100_members_per_day"] < limit]
        wecom_alerts = pd.DataFrame({"date": below["date"], "metric": "messages_per_100_members_per_day",
                                     "value": below["messages_per_100_members_per_day"], "threshold": limit})
        out["alerts"] = pd.concat([a for a in (out["alerts"], wecom_alerts) if len(a)], ignore_index=True) \
            if len(out["alerts"]) or len(wecom_alerts) else wecom_alerts
        if not has_events:
            out["missing"] = ["revisit_7d (per-member visits)", "share_rate (opens, shares)",
                              "activity_conversion"]
    return out
