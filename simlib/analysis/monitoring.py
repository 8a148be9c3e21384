"""KPI monitoring (notebook 04): the dashboard, health flags, alerts and admin staffing.

* :func:`threshold_table` — the article's table 4 built from the parameters.
* :func:`dashboard_extra` / :func:`queue_extra` — per-replication metrics evaluated in the
  simulation worker (``simulate(..., extra=...)``): share of days in alert per dashboard
  metric; question-queue service levels, admin utilization, complaints and exits.
* :func:`health_table` — the four dashboard KPIs over replications with 95% intervals and a
  pass / fail / uncertain verdict against the health thresholds.
* Queue theory for the staffing question: :func:`erlang_c`, :func:`mmc_mean_wait`,
  :func:`mmc_wait_exceeds`, :func:`question_hour_density`, :func:`off_shift_share` and
  :func:`analytic_admins_needed` (a rough approximation of the model's queue: the peak hour's
  Erlang C with the admins' attention and the askers' random patience, :func:`late_in_shift`,
  plus the night's backlog, :func:`late_backlog`).
* :func:`size_admin_grid` / :func:`admins_needed` — the simulated group-size × admins sweep and
  the smallest staffing that meets a service target, per replication (so it has an interval).
* :func:`observed_dashboard` — what a real chat log or WeCom daily statistic can show.
* The sentences the notebook states, chosen by the numbers (:mod:`simlib.findings`), from the
  templates in ``simlib/data/sentences/monitoring.yaml``.

"Answered within patience" is :func:`simlib.processes.monitoring.answered_within_patience`, the
engine's one definition.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from simlib import claims, compare, findings, metrics, provenance
from simlib.analysis import sentences
from simlib.analysis.bounds import against
from simlib.findings import Finding
from simlib.formatting import num, pct, signed, yuan
from simlib.labels import label
from simlib.model import RunResult
from simlib.params import Params, time_to_minutes
from simlib.processes.monitoring import answered_within_patience
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
    "p90_response_in_shift_minutes", "mean_wait_minutes", "within_patience",
    "complaints_per_100_members_month", "exits_per_100_members_month", "admin_utilization",
)
#: The group size of the article's staffing claim ("当群规模超过200人时，需配置3名以上管理员",
#: claim monitoring_admins_over_200, measured on a group above that size: 300 members).
CLAIM_SIZE = 300


class MonitoringInputError(ValueError):
    """A bad argument to a monitoring helper."""


# --------------------------------------------------------------------------- table 4


def threshold_table(params: Params, lang: str = "zh") -> pd.DataFrame:
    """Table 4 (dimension, metric, health threshold, direction) from ``params``; a threshold
    that is not the article's carries its provenance mark (:func:`simlib.provenance.mark`)."""
    limits = params.monitoring.health_thresholds.model_dump()
    rows = []
    for name, dimension, direction in TABLE4:
        value = limits[name]
        shown = f"≥{value:g}" if name == "messages_per_100_members_per_day" else f"≥{value:.0%}"
        shown = provenance.mark(shown, f"monitoring.health_thresholds.{name}")
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
    waits = run.questions.loc[run.questions["answered_by"] == "admin", "wait_minutes"]
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
        "mean_wait_minutes": float(waits.mean()) if len(waits) else math.nan,
        "within_patience": answered_within_patience(run.questions),
        "complaints_per_100_members_month": 100 * complaints / member_months if member_months else math.nan,
        "exits_per_100_members_month": 100 * gone / member_months if member_months else math.nan,
        "admin_utilization": float(run.counters.get("admin_busy_minutes", 0.0)) / shift_minutes
        if p.monitoring.admins
        else math.nan,
    }


def dashboard_extra(run: RunResult) -> dict[str, float]:
    """Queue metrics, the share of days in alert per dashboard metric and the messages-only revisit."""
    start = pd.Timestamp(run.params.simulation.start_date, tz="Asia/Shanghai")
    end = start + pd.Timedelta(days=run.params.simulation.days)
    daily = metrics.dashboard_daily(run.tables, start, end)
    values = queue_extra(run)
    values.update(alert_shares(daily, run.params.monitoring.health_thresholds))
    # the revisit an export can show (messages only), to set beside an export's lower bound
    values["revisit_7d_messages"] = metrics.revisit_7d(run.tables, start, end, kinds=("message",))
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

    By default (``members.question_timing: usual_hour``) a question comes at the asker's usual
    hour (Normal(mean, sd) mod 24) plus Normal(0, ``members.hour_spread_hours``) noise, so the
    clock time is a wrapped normal with sd √(sd² + spread²); with ``poisson`` timing it is
    uniform over the day.
    """
    members = params.members
    grid = np.arange(24) + 0.5 if hours is None else np.asarray(hours, dtype=float)
    if members.question_timing == "poisson":
        return np.full(grid.shape, 1 / 24)
    mean, sd = members.active_hour_mean, math.hypot(members.active_hour_sd, members.hour_spread_hours)
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


def late_in_shift(arrival_rate: float, service_rate: float, admins: int, params: Params) -> float:
    """P(a question asked on shift is taken up after the asker's patience), roughly.

    Admins idle (probability 1 − C, Erlang C's C): the question waits to be noticed, an
    exponential delay of mean ``monitoring.admin_attention_minutes`` / c (none when it is 0).
    Admins busy (probability C): it waits in the M/M/c queue, an exponential time of rate
    cμ − λ. Patience is exponential of mean ``members.question_patience_minutes`` (Erlang-A) or
    fixed at it (``question_patience_distribution``). Rates per minute."""
    patience = params.members.question_patience_minutes
    attention = params.monitoring.admin_attention_minutes
    waiting = erlang_c(arrival_rate, service_rate, admins)
    spare = admins * service_rate - arrival_rate
    if spare <= 0:
        return 1.0
    notice_rate = admins / attention if attention > 0 else math.inf
    if params.members.question_patience_distribution == "fixed":
        late_idle = math.exp(-notice_rate * patience) if math.isfinite(notice_rate) else 0.0
        late_busy = math.exp(-spare * patience)
    else:  # P(exponential patience < an exponential wait of rate r) = (1/P) / (1/P + r)
        late_idle = 0.0 if not math.isfinite(notice_rate) else (1 / patience) / (1 / patience + notice_rate)
        late_busy = (1 / patience) / (1 / patience + spare)
    return (1 - waiting) * late_idle + waiting * late_busy


def late_backlog(backlog: float, answer_minutes: float, admins: int, params: Params) -> float:
    """Share of the night's ``backlog`` (questions asked off shift) taken up after the asker's
    patience, counted from shift start: c admins take them in order, the k-th after about
    k · answer_minutes / c."""
    if backlog <= 0:
        return 0.0
    patience = params.members.question_patience_minutes
    clear_rate = admins / answer_minutes  # questions taken up per minute
    if params.members.question_patience_distribution == "fixed":
        return max(0.0, backlog - patience * clear_rate) / backlog
    # the mean of 1 − exp(−wait/P) over waits spread evenly from 0 to backlog / clear_rate
    span = backlog / (clear_rate * patience)
    return 1 - (1 - math.exp(-span)) / span


def analytic_admins_needed(questions_per_day: float, answer_minutes: float, params: Params,
                           target: float = 0.95, max_admins: int = 20) -> int:
    """Smallest number of admins meeting ``target`` (share answered within patience) by a rough
    approximation of the model's queue: the peak in-shift hour (:func:`late_in_shift`: Erlang C
    plus the admins' attention and the askers' patience) and the night's backlog served in order
    from shift start (:func:`late_backlog`). ``questions_per_day`` are those reaching the admins
    (bots left out). Returns ``max_admins + 1`` when even ``max_admins`` do not meet the target."""
    _check_positive("answer_minutes", answer_minutes)
    if questions_per_day < 0:
        raise MonitoringInputError(f"questions_per_day={questions_per_day!r}: expected ≥ 0")
    start = time_to_minutes(params.monitoring.shift_start) / 60
    end = time_to_minutes(params.monitoring.shift_end) / 60
    hours = np.arange(math.floor(start), math.ceil(end)) + 0.5
    peak_per_minute = questions_per_day * float(question_hour_density(params, hours).max()) / 60
    off = off_shift_share(params)
    for admins in range(1, max_admins + 1):
        late = ((1 - off) * late_in_shift(peak_per_minute, 1 / answer_minutes, admins, params)
                + off * late_backlog(questions_per_day * off, answer_minutes, admins, params))
        if late <= 1 - target:
            return admins
    return max_admins + 1


# --------------------------------------------------------------------------- staffing sweeps


def size_admin_scenarios(sizes: Sequence[int], admins: Sequence[int], days: int,
                         **extra: Any) -> dict[str, dict[str, Any]]:
    """Override dicts for a group-size × admins sweep. One group is held near its size: the cap
    is the initial size and newcomers who find it full are turned away (``community.overflow:
    lost``, no second group), so arrivals only refill the seats of members who left."""
    if not sizes or not admins:
        raise MonitoringInputError("sizes and admins must be non-empty")
    out = {}
    for size in sizes:
        if not 10 <= int(size) <= 500:
            raise MonitoringInputError(f"size={size!r}: expected 10…500 (WeChat's group limit)")
        for count in admins:
            out[f"n{int(size)}_a{int(count)}"] = {"simulation.initial_members": int(size),
                                                  "simulation.group_cap": int(size),
                                                  "community.overflow": "lost",
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


def admins_needed(results: dict[str, Any], size: int, target: float,
                  metric: str = "within_patience") -> list[float]:
    """Per replication, the fewest admins whose ``metric`` meets ``target`` in a group of ``size``
    (from a :func:`size_admin_scenarios` sweep run with the same seeds, so replication r of every
    staffing faces the same questions). One more than the most admins swept when none does."""
    staffed = sorted(int(key.split("_a")[1]) for key in results if key.startswith(f"n{int(size)}_a"))
    if not staffed:
        raise MonitoringInputError(f"size={size!r}: the sweep has no group of that size "
                                   f"(has {sorted({key.split('_')[0] for key in results})})")
    values = np.column_stack([results[f"n{int(size)}_a{count}"].summaries[metric].to_numpy(dtype=float)
                              for count in staffed])
    needed = []
    for row in values:
        meeting = [count for count, value in zip(staffed, row, strict=True) if value >= target]
        needed.append(float(min(meeting)) if meeting else float(max(staffed) + 1))
    return needed


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


# --------------------------------------------------------------------------- what the numbers say
#
# Each function returns the findings (simlib.findings) a part of notebook 04 states; the wording
# is chosen by the numbers and carries the checks that make it true.

SENTENCES = "monitoring"
TABLE4_KEYS = tuple(f"monitoring.health_thresholds.{name}" for name, _, _ in TABLE4)


def _words(key: str, lang: str, **values: Any) -> str:
    return sentences.sentence(SENTENCES, key, lang, **values)


def _texts(key: str, lang: str) -> dict[str, str]:
    return sentences.group(SENTENCES, key, lang)


def _kpi_text(name: str, value: Any) -> str:
    """A dashboard KPI as the notebook writes it: messages with two decimals, shares in %."""
    return num(value, 2) if name == "messages_per_100_members_per_day" else pct(value)


def health_findings(health: pd.DataFrame, alert_share: pd.DataFrame, lang: str = "zh") -> list[Finding]:
    """Each dashboard KPI over replications (:func:`health_table`) against its health threshold —
    healthy, unhealthy or undecided by its whole 95% interval — with the share of alert days
    (``alert_share``: metric, mean)."""
    alerts = alert_share.set_index("metric")["mean"]
    out = []
    for row in health.to_dict("records"):
        name = row["metric"]
        share = alerts.get(name, math.nan)
        out.append(against(f"{name} vs health threshold", row, float(row["threshold"]),
                           _texts("health", lang), kpi=label(name, lang), value=_kpi_text(name, row),
                           threshold=_kpi_text(name, row["threshold"]),
                           alerts="—" if math.isnan(share) else f"{share:.0%}"))
    return out


def revisit_definition_finding(messages_only: float, every_visit: float, lang: str = "zh") -> Finding:
    """One run's 7-day revisit rate counting messages only against counting every visit."""
    return findings.versus("revisit_7d: messages only − every visit", messages_only - every_visit, 0.0,
                           _texts("revisit_definition", lang), messages=f"{messages_only:.1%}",
                           all=f"{every_visit:.1%}")


def admins_needed_finding(needed: Sequence[float], target: float, max_admins: int, size: int = CLAIM_SIZE,
                          lang: str = "zh") -> Finding:
    """The admins a group of ``size`` needs (per replication, :func:`admins_needed`) against the
    article's "3 or more above 200 members" (claim monitoring_admins_over_200); headline
    "admins_needed_300"."""
    claim = claims.get("monitoring_admins_over_200")
    entry = mean_ci(list(needed))
    censored = bool(len(needed)) and all(value > max_admins for value in needed)
    # a count lies between 1 and one more than the most swept, whatever a t interval of few values says
    shown = {"mean": entry["mean"], "low": max(1.0, entry["low"]),
             "high": min(max_admins + 1.0, entry["high"])}
    value = _words("admins_needed.more_than", lang, max=max_admins) if censored else num(shown, 1)
    return against(f"admins needed at {size} members vs the article's {claim.figure:g}", entry,
                   float(claim.figure), _texts("admins_needed", lang), key="admins_needed_300", headline=True,
                   size=size, target=f"{target:.0%}", value=value, figure=f"{claim.figure:g}")


def size_effect_finding(small_needed: Sequence[float], large_needed: Sequence[float], small: int, large: int,
                        utilization: float, lang: str = "zh") -> Finding:
    """Admins needed by the largest group − by the smallest, paired per replication (the same
    seeds), and what sets the number when size does not."""
    difference = compare.paired(list(small_needed), list(large_needed))
    return findings.choose(f"admins needed: {large} − {small} members", difference,
                           _texts("size_effect", lang), small=small, large=large, value=signed(difference, 1),
                           utilization=f"{utilization:.1%}")


WHATIFS = ("questions_x2", "shift_to_2300", "admins_plus_1")
WHATIF_METRICS = ("complaints", "exits", "ranking_value")


def whatif_findings(table: pd.DataFrame, lang: str = "zh") -> list[Finding]:
    """Each what-if of :data:`WHATIFS` against the base (a :func:`simlib.compare.table` with base
    "base"): complaints, exits and the community's ranking value (one more admin's: headline
    "extra_admin_value")."""
    out = []
    for arm in WHATIFS:
        name = _words(f"whatifs.{arm}", lang)
        for metric in WHATIF_METRICS:
            rows = table[(table["arm"] == arm) & (table["metric"] == metric)]
            if rows.empty:
                continue
            fmt = partial(yuan, lang=lang) if metric == "ranking_value" else partial(signed, digits=1)
            value_of_an_admin = arm == "admins_plus_1" and metric == "ranking_value"
            out.append(findings.effect(f"{metric}: {arm} − base", compare.entry(rows.iloc[0], "diff"),
                                       lang=lang, subject=_words(f"subjects.{metric}", lang, whatif=name),
                                       fmt=fmt,
                                       key="extra_admin_value" if value_of_an_admin else None,
                                       headline=value_of_an_admin))
    return out
