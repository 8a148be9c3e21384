"""Automation tools (自动化工具): the analysis behind ``notebooks/05_automation_tools``.

* the article's table 5 and its §5 figures from the parameters (:func:`article_tools_table`,
  :func:`article_claims`);
* per-replication service, cost and retention metrics (:func:`automation_extra`, evaluated in
  the simulation workers) and an automation-level sweep (:func:`level_scenarios`,
  :func:`best_level`; its levels with intervals are :func:`simlib.compare.levels`);
* the engine's admin queue set up as an M/M/c queue (:func:`mmc_overrides`, :func:`mmc_rates`,
  :func:`queue_waits`), to check against Erlang C (:func:`simlib.analysis.monitoring.erlang_c`);
* :func:`aversion_multiplier`, the exit-hazard factor of over-automation;
* :func:`sweep_unique`, a :func:`simlib.runner.sweep` that runs identical parameter sets once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from simlib import metrics
from simlib.params import Params

LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)
COST_CATEGORIES = ("admin_labour", "automation_tools")


def article_tools_table(params: Params) -> pd.DataFrame:
    """Table 5 of the article: tool type, representative product, core function, scene."""
    return pd.DataFrame([{"tool": name, "product": tool.product, "function": tool.function,
                          "scene": tool.scene}
                         for name, tool in params.automation.tools.items()])


def article_claims(params: Params) -> pd.DataFrame:
    """The §5 figures (labour cost −60%, reach accuracy 98.7%, aversion +23%) and how the model uses them."""
    a = params.automation
    return pd.DataFrame([
        {"claim": "labour_cost_reduction", "value": a.labour_cost_reduction,
         "model_use": "fixed admin hours × (1 − value × level)"},
        {"claim": "reach_accuracy_automated", "value": a.reach_accuracy_automated,
         "model_use": f"open probability × reach, manual {a.reach_accuracy_manual:g} → automated value at "
                      "level 1"},
        {"claim": "aversion_increase", "value": a.aversion_increase,
         "model_use": "exit hazard × (1 + value × level × bot intolerance / mean intolerance)"},
    ])


# --------------------------------------------------------------------------- queue theory


def mmc_overrides(*, members: int = 300, question_rate: float = 0.4, answer_minutes: float = 12.0,
                  admins: int = 2, days: int = 30) -> dict[str, Any]:
    """Overrides under which the engine's admin queue is an M/M/c queue.

    A fixed member count (no arrivals, exits or incidents), questions spread evenly over the
    day (a huge spread of active hours wraps to a uniform time of day), admins on shift
    around the clock (00:00–23:59), no automation, no activities.
    """
    return {
        "simulation.days": days,
        "simulation.initial_members": members,
        "simulation.group_cap": max(members, 10),
        "members.question_rate": question_rate,
        "members.active_hour_sd": 1000.0,
        "members.base_exit_hazard": 0.0,
        "monitoring.admins": admins,
        "monitoring.answer_minutes_mean": answer_minutes,
        "monitoring.shift_start": "00:00",
        "monitoring.shift_end": "23:59",
        "monitoring.admin_attention_minutes": 0.0,  # admins watching all the time (no notice delay)
        "automation.level": 0.0,
        "activities.schedule": [],
        "arrivals.channels.organic.daily_reach": 0.0,
        "arrivals.channels.douyin.daily_reach": 0.0,
        "arrivals.channels.xiaohongshu.daily_reach": 0.0,
        "arrivals.share_join_prob": 0.0,
        **{f"risk.types.{kind}.incidents_per_year": 0.0 for kind in ("info_leak", "opinion_crisis",
                                                                     "data_loss", "violation")},
    }


def mmc_rates(params: Params, members: int | None = None) -> tuple[float, float, int]:
    """(λ per minute, μ per minute, c) of the admin queue for a constant member count."""
    n = params.simulation.initial_members if members is None else members
    return (
        params.members.question_rate * n / 1440,
        1 / params.monitoring.answer_minutes_mean,
        params.monitoring.admins,
    )


def queue_waits(questions: pd.DataFrame) -> pd.DataFrame:
    """Per replication: admin-answered questions and their mean wait in the queue (minutes)."""
    admin = questions[questions["answered_by"] == "admin"]
    grouped = admin.groupby("replication")["wait_minutes"]
    return pd.DataFrame({"answered": grouped.size(), "mean_wait": grouped.mean()}).reset_index()


def shift_split(questions: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Per replication: share of questions asked outside the admins' shift, and the mean
    response (minutes) of answered questions asked inside and outside it."""
    from simlib.params import time_to_minutes

    start = time_to_minutes(params.monitoring.shift_start) / 1440
    end = time_to_minutes(params.monitoring.shift_end) / 1440
    clock = questions["asked_day"] % 1
    frame = questions.assign(off_shift=(clock < start) | (clock >= end))
    answered = frame[frame["answered_by"] != "nobody"]
    grouped = answered.groupby(["replication", "off_shift"])["response_minutes"].mean().unstack()
    out = pd.DataFrame({"off_shift_share": frame.groupby("replication")["off_shift"].mean()})
    out["response_in_shift"] = grouped.get(False)
    out["response_off_shift"] = grouped.get(True)
    return out.reset_index()


# --------------------------------------------------------------------------- aversion


def aversion_multiplier(level: float, aversion_increase: float, bot_tolerance: np.ndarray | float,
                        mean_intolerance: float) -> np.ndarray | float:
    """The exit-hazard factor of automation: 1 + aversion × level × (1 − tolerance) / mean intolerance.

    Averaged over members it is 1 + aversion × level: the article's +23% at full automation.
    """
    if not 0 <= level <= 1:
        raise ValueError(f"level={level!r}: expected a share in [0, 1]")
    if mean_intolerance <= 0:
        raise ValueError(f"mean_intolerance={mean_intolerance!r}: expected > 0")
    return 1 + aversion_increase * level * (1 - np.asarray(bot_tolerance, dtype=float)) / mean_intolerance


# --------------------------------------------------------------------------- worker metrics


def automation_extra(run) -> dict[str, float]:
    """Per-replication service, cost and value metrics (``extra`` of simulate/sweep; runs in the worker)."""
    from simlib.runner import window

    p = run.params
    start, end = window(p)
    q = run.questions
    n = len(q)
    patience = p.members.question_patience_minutes
    answered = q[q["answered_by"] != "nobody"]
    admin = q[q["answered_by"] == "admin"]
    events = run.tables["events"]
    costs = run.tables["costs"]
    by_category = costs.groupby("category", observed=False)["amount"].sum()
    labour = float(by_category.get("admin_labour", 0.0))
    tools = float(by_category.get("automation_tools", 0.0))
    revenue = metrics.revenue(run.tables, start, end)
    cost = metrics.total_cost(run.tables, start, end)
    complaints = int((events["event"] == "complaint").sum())
    posts = run.tables["posts"]
    opens = int((events["event"] == "open").sum())
    present = run.daily["present"].to_numpy(dtype=float) if len(run.daily) else np.array([math.nan])
    post_days = np.clip((posts["ts"] - start) // pd.Timedelta(days=1), 0,
                        len(present) - 1).to_numpy(dtype=int)
    recipients = float(present[post_days].sum()) if len(posts) else math.nan
    member_years = float(present.sum()) / 365
    nan = math.nan
    return {
        "questions": float(n),
        "bot_share": float((q["answered_by"] == "bot").mean()) if n else nan,
        "response_mean": float(answered["response_minutes"].mean()) if len(answered) else nan,
        "response_median": float(answered["response_minutes"].median()) if len(answered) else nan,
        "admin_wait_mean": float(admin["wait_minutes"].mean()) if len(admin) else nan,
        "within_patience": float((answered["response_minutes"] <= patience).sum() / n) if n else nan,
        "complaints": float(complaints),
        "complaints_per_100q": 100 * complaints / n if n else nan,
        "labour_cost": labour,
        "tool_cost": tools,
        "labour_tool_cost": labour + tools,
        "revenue_total": revenue,
        "cost_total": cost,
        "net_value": revenue - cost,
        "open_rate": opens / recipients if recipients else nan,
        "exits_per_member_year": float(run.daily["exits"].sum()) / member_years if member_years else nan,
        "mean_members": float(present.mean()),
    }


# --------------------------------------------------------------------------- sweeps


def level_scenarios(levels: Sequence[float] = LEVELS) -> dict[str, dict[str, Any]]:
    """Sweep entries ``{"level_0.50": {"automation.level": 0.5}, …}``."""
    out = {}
    for level in levels:
        if not 0 <= level <= 1:
            raise ValueError(f"automation level {level!r}: expected a share in [0, 1]")
        out[f"level_{level:.2f}"] = {"automation.level": float(level)}
    return out


def sweep_unique(scenarios: Mapping[str, Params | dict[str, Any]], *, base: Params, replications: int,
                 seed: int,
                 workers: int = 1, extra=None, reuse: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """:func:`simlib.runner.sweep`, but parameter sets that are equal run only once (and a set
    equal to one already simulated in ``reuse`` — same seed, replications and extra — is taken
    from there). Returns name → SimulationResult for every name given."""
    from simlib.runner import sweep

    resolved = {
        name: value if isinstance(value, Params) else base.with_overrides(value, source=f"sweep[{name}]")
        for name, value in scenarios.items()
    }
    known = {name: result for name, result in (reuse or {}).items()
             if result.seed == seed and result.replications == replications}
    to_run: dict[str, Params] = {}
    alias: dict[str, str] = {}
    for name, params in resolved.items():
        match = next((k for k, r in known.items() if r.params == params), None)
        if match is not None:
            alias[name] = f"reuse:{match}"
            continue
        match = next((k for k, p in to_run.items() if p == params), None)
        if match is not None:
            alias[name] = match
        else:
            to_run[name] = params
    ran = sweep(to_run, base=base, replications=replications, seed=seed, workers=workers,
                extra=extra) if to_run else {}
    out = {}
    for name in resolved:
        target = alias.get(name, name)
        out[name] = known[target[6:]] if target.startswith("reuse:") else ran[target]
    return out


def best_level(results: Mapping[str, Any], *, objective: str = "net_value", maximize: bool = True,
               constraints: Mapping[str, tuple[str, float]] | None = None) -> tuple[str | None, pd.DataFrame]:
    """The sweep entry with the best mean ``objective`` among those meeting ``constraints``
    ({metric: (">=" | "<=", bound)} on replication means). Returns (name, ranking table);
    the name is None when no entry meets the constraints (the table says which fail)."""
    rows = []
    for name, result in results.items():
        row = {"scenario": name, objective: float(np.nanmean(result.values(objective)))}
        ok = True
        for metric_name, (op, bound) in (constraints or {}).items():
            if op not in (">=", "<="):
                raise ValueError(f"constraint on {metric_name!r}: operator {op!r}, expected '>=' or '<='")
            value = float(np.nanmean(result.values(metric_name)))
            row[metric_name] = value
            ok &= value >= bound if op == ">=" else value <= bound
        row["feasible"] = bool(ok)
        rows.append(row)
    table = pd.DataFrame(rows).sort_values(objective, ascending=not maximize, ignore_index=True)
    feasible = table[table["feasible"]]
    if feasible.empty:
        return None, table
    return str(feasible.iloc[0]["scenario"]), table
