"""Automation tools (自动化工具): the analysis behind ``notebooks/05_automation_tools``.

* the article's table 5 and its §5 figures beside the assumptions the model adds, with
  provenance marks (:func:`article_tools_table`, :func:`article_figures_table`);
* per-replication service, cost and value metrics (:func:`automation_extra`, evaluated in the
  simulation workers) and an automation-level sweep (:func:`level_scenarios`, :func:`best_level`;
  its levels with intervals are :func:`simlib.compare.levels`);
* the admins' queue: the engine's true M/M/c option (:func:`mmc_overrides`, :func:`mmc_rates`,
  :func:`queue_waits`) checked against Erlang C (:func:`simlib.analysis.monitoring.erlang_c`), and
  the measured gap between the default queue and Erlang C at the same load
  (:func:`default_queue_gap`);
* :func:`value_decomposition`: a difference in ranking value (net + residual) split into labour
  and tools, revenue, other costs and residual value, each with the parameters behind it;
* :func:`aversion_multiplier`, the exit-hazard factor of over-automation;
* :func:`sweep_unique`, a :func:`simlib.runner.sweep` that runs identical parameter sets once;
* the sentences the notebook states, chosen by the numbers (:mod:`simlib.findings`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from simlib import compare, findings, metrics, provenance
from simlib.analysis.choice import best_arm
from simlib.analysis.monitoring import mmc_mean_wait
from simlib.analysis.sentences import group, sentence
from simlib.findings import Check, Finding
from simlib.formatting import num, pct, signed
from simlib.param_blocks import RISK_TYPE_NAMES
from simlib.params import Params
from simlib.processes.monitoring import answered_within_patience

LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)
COST_CATEGORIES = ("admin_labour", "automation_tools")

#: The §5 figures and the assumptions the model adds to them (shown with provenance marks).
FIGURE_KEYS = ("automation.labour_cost_reduction", "automation.reach_accuracy_automated",
               "automation.aversion_increase", "automation.reach_accuracy_manual",
               "automation.bot_resolution_prob", "automation.tool_cost_per_month",
               "monitoring.admin_hourly_wage", "monitoring.admin_hours_per_day")

#: The parts of a ranking-value difference and the parameters that drive each (see
#: :func:`value_decomposition`).
COMPONENT_DRIVERS: dict[str, tuple[str, ...]] = {
    "labour_tool_saving": ("automation.labour_cost_reduction", "monitoring.admin_hourly_wage",
                           "monitoring.admin_hours_per_day", "automation.tool_cost_per_month"),
    "revenue": ("automation.reach_accuracy_automated", "automation.reach_accuracy_manual"),
    "other_costs": ("community.group_opening_cost",),
    "residual": ("automation.aversion_increase", "metrics.residual_horizon_months"),
}

def article_tools_table(params: Params) -> pd.DataFrame:
    """Table 5 of the article: tool type, representative product, core function, scene."""
    return pd.DataFrame([{"tool": name, "product": tool.product, "function": tool.function,
                          "scene": tool.scene}
                         for name, tool in params.automation.tools.items()])


def _leaf(params: Params, key_path: str) -> Any:
    value: Any = params
    for part in key_path.split("."):
        value = getattr(value, part)
    return value


def article_figures_table(params: Params, lang: str = "zh") -> pd.DataFrame:
    """The §5 figures and the assumptions the model adds, with their values marked by
    provenance ('0.92*' an assumption; :func:`simlib.provenance.footnote` of
    :data:`FIGURE_KEYS` explains the marks) and how the model uses each."""
    from simlib.labels import label

    rows = []
    for key in FIGURE_KEYS:
        rows.append({label("parameter", lang): key,
                     label("value", lang): provenance.mark(f"{_leaf(params, key):g}", key),
                     label("model_use", lang): say(f"uses.{key}", lang)})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- queue theory


def mmc_overrides(*, members: int = 300, question_rate: float = 0.4, answer_minutes: float = 12.0,
                  admins: int = 2, days: int = 30) -> dict[str, Any]:
    """Overrides under which the engine's admin queue is an M/M/c queue (its true M/M/c option).

    A fixed membership in one group (no arrivals, exits or incidents), questions as a Poisson
    process over the day (``members.question_timing: poisson``), admins on shift round the clock
    (00:00–24:00) who watch the group all the time (``monitoring.admin_attention_minutes: 0``),
    no bots, no posts, no activities.
    """
    return {
        "simulation.days": days,
        "simulation.initial_members": members,
        "simulation.group_cap": max(members, 10),
        "members.question_rate": question_rate,
        "members.question_timing": "poisson",
        "members.base_exit_hazard": 0.0,
        "monitoring.admins": admins,
        "monitoring.answer_minutes_mean": answer_minutes,
        "monitoring.shift_start": "00:00",
        "monitoring.shift_end": "24:00",
        "monitoring.admin_attention_minutes": 0.0,
        "automation.level": 0.0,
        "tiering.enabled": False,
        "activities.schedule": [],
        "content.calendar": [],
        "monetization.commercial_posts_per_week": {},
        **{f"arrivals.channels.{name}.daily_reach": 0.0 for name in ("organic", "douyin", "xiaohongshu")},
        "arrivals.share_join_prob": 0.0,
        **{f"risk.types.{kind}.incidents_per_year": 0.0 for kind in RISK_TYPE_NAMES},
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


def default_queue_gap(questions: pd.DataFrame, daily: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Per replication: the simulated mean wait of admin-answered questions next to Erlang C's
    mean wait at the same load, and the gap (simulated − Erlang C, minutes).

    The load is the queue's own: questions that reached the admins (not settled by a bot) per
    group and minute of the horizon (group-days from the daily ``groups`` column), μ = 1 / mean
    handling time, c = admins per group. Erlang C is infinite when that load is ≥ c."""
    if params.monitoring.admins < 1:
        raise ValueError(f"monitoring.admins = {params.monitoring.admins}: the gap needs at least one admin")
    mu, c = 1 / params.monitoring.answer_minutes_mean, params.monitoring.admins
    to_admins = questions[questions["answered_by"] != "bot"].groupby("replication").size()
    group_days = daily.groupby("replication")["groups"].sum()
    waits = queue_waits(questions).set_index("replication")["mean_wait"]
    rows = []
    for replication, days in group_days.items():
        arrival = float(to_admins.get(replication, 0)) / (float(days) * 1440) if days else math.nan
        predicted = mmc_mean_wait(arrival, mu, c) if arrival > 0 else 0.0
        simulated = float(waits.get(replication, math.nan))
        rows.append({"replication": replication, "arrival_per_minute": arrival,
                     "utilisation": arrival / (c * mu), "simulated_wait": simulated,
                     "erlang_c_wait": predicted, "gap": simulated - predicted})
    return pd.DataFrame(rows)


def shift_split(questions: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Per replication: share of questions asked outside the admins' shift, and the mean
    response (minutes) of answered questions asked inside and outside it."""
    from simlib.params import time_to_minutes

    start = time_to_minutes(params.monitoring.shift_start) / 1440
    end = time_to_minutes(params.monitoring.shift_end) / 1440
    clock = questions["asked_day"] % 1
    frame = questions.assign(off_shift=(clock < start) | (clock >= end))
    answered = frame[frame["answered_by"].isin(["bot", "admin"])]
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
    """Per-replication service, cost and value metrics (``extra`` of simulate/sweep; runs in the
    worker). The value KPIs (net, residual and ranking value) come from the summary itself."""
    from simlib.runner import window

    start, end = window(run.params)
    q = run.questions
    n = len(q)
    answered = q[q["answered_by"].isin(["bot", "admin"])]
    admin = q[q["answered_by"] == "admin"]
    events = run.tables["events"]
    by_category = run.tables["costs"].groupby("category", observed=False)["amount"].sum()
    labour = float(by_category.get("admin_labour", 0.0))
    tools = float(by_category.get("automation_tools", 0.0))
    complaints = int((events["event"] == "complaint").sum())
    posts = run.tables["posts"]
    opens = int((events["event"] == "open").sum())
    present = run.daily["present"].to_numpy(dtype=float) if len(run.daily) else np.array([math.nan])
    post_days = np.clip((posts["ts"] - start) // pd.Timedelta(days=1), 0,
                        len(present) - 1).to_numpy(dtype=int)
    # every group gets every post: a post reaches the whole community present that day
    recipients = float(present[post_days].sum()) if len(posts) else math.nan
    member_years = float(present.sum()) / 365
    nan = math.nan
    return {
        "questions": float(n),
        "bot_share": float((q["answered_by"] == "bot").mean()) if n else nan,
        "response_mean": float(answered["response_minutes"].mean()) if len(answered) else nan,
        "response_median": float(answered["response_minutes"].median()) if len(answered) else nan,
        "admin_wait_mean": float(admin["wait_minutes"].mean()) if len(admin) else nan,
        "within_patience": answered_within_patience(q),
        "complaints_per_100q": 100 * complaints / n if n else nan,
        "labour_cost": labour,
        "tool_cost": tools,
        "labour_tool_cost": labour + tools,
        "revenue_total": metrics.revenue(run.tables, start, end),
        "cost_total": metrics.total_cost(run.tables, start, end),
        "open_rate": opens / recipients if recipients else nan,
        "exits_per_member_year": float(run.daily["exits"].sum()) / member_years if member_years else nan,
        "mean_members": float(present.mean()),
    }


# --------------------------------------------------------------------------- sweeps


def level_name(level: float) -> str:
    """The sweep entry of an automation level: 'level_0.50'."""
    return f"level_{level:.2f}"


def level_scenarios(levels: Sequence[float] = LEVELS) -> dict[str, dict[str, Any]]:
    """Sweep entries ``{"level_0.50": {"automation.level": 0.5}, …}``."""
    out = {}
    for level in levels:
        if not 0 <= level <= 1:
            raise ValueError(f"automation level {level!r}: expected a share in [0, 1]")
        out[level_name(level)] = {"automation.level": float(level)}
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


def best_level(results: Mapping[str, Any], *, objective: str = "ranking_value", maximize: bool = True,
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


# --------------------------------------------------------------------------- the value of automation

DECOMPOSITION_COLUMNS = ["component", "mean", "low", "high", "drivers"]


def value_decomposition(base: Any, arm: Any) -> pd.DataFrame:
    """The paired difference in ranking value (arm − base, per replication) and its parts.

    ``base`` and ``arm`` give per-replication columns by name (a SimulationResult's
    ``summaries``, or a dict of lists): ``ranking_value``, ``residual_value``, ``revenue_total``,
    ``cost_total`` and ``labour_tool_cost``. Ranking value = revenue − cost + residual, so its
    difference is the sum of: the labour + tool cost saved, the revenue change, the other costs
    saved and the residual value change — one row each (:data:`DECOMPOSITION_COLUMNS`) with a
    95% interval and the parameters behind it (:data:`COMPONENT_DRIVERS`), then the total.
    """
    def column(source: Any, name: str) -> np.ndarray:
        return np.asarray(source[name], dtype=float)

    def other_costs(source: Any) -> np.ndarray:
        return column(source, "cost_total") - column(source, "labour_tool_cost")

    parts = {
        "labour_tool_saving": column(base, "labour_tool_cost") - column(arm, "labour_tool_cost"),
        "revenue": column(arm, "revenue_total") - column(base, "revenue_total"),
        "other_costs": other_costs(base) - other_costs(arm),
        "residual": column(arm, "residual_value") - column(base, "residual_value"),
        "ranking_value": column(arm, "ranking_value") - column(base, "ranking_value"),
    }
    rows = []
    for name, differences in parts.items():
        interval = compare.paired(np.zeros_like(differences), differences)
        rows.append({"component": name, "mean": interval["mean"], "low": interval["low"],
                     "high": interval["high"], "drivers": ", ".join(COMPONENT_DRIVERS.get(name, ()))})
    return pd.DataFrame(rows, columns=DECOMPOSITION_COLUMNS)


# --------------------------------------------------------------------------- sentences


def say(key: str, lang: str, **values: Any) -> str:
    """A sentence of ``simlib/data/sentences/automation.yaml``."""
    return sentence("automation", key, lang, **values)


def _unit(name: str, lang: str) -> Callable[[Any], str]:
    """A formatter for a signed difference in the unit ``name`` of the sentence file."""
    digits = {"minutes": 1, "members": 1, "yuan": 0}.get(name, 1)
    return lambda entry: signed(entry, digits) + say(f"units.{name}", lang)


def _level_text(name: str) -> str:
    return name.replace("level_", "L = ")


def queue_check_finding(wait: Mapping[str, float], analytic: float, lang: str = "zh") -> Finding:
    """Erlang C's mean wait inside / outside the simulated 95% interval (the M/M/c check)."""
    inside = wait["low"] <= analytic <= wait["high"]
    text = say(f"queue_check.{'inside' if inside else 'outside'}", lang, sim=num(wait, 2),
               erlang=f"{analytic:.2f}")
    relation = "contains" if inside else "excludes"
    return Finding(text, (Check.of("mmc mean wait: simulated vs Erlang C", relation, wait, analytic),))


def queue_gap_finding(gap: Mapping[str, float], simulated: Mapping[str, float], erlang: float,
                      utilisation: float, lang: str = "zh") -> Finding:
    """The default queue's mean admin wait against Erlang C at the same load (gap = simulated −
    Erlang C, with its interval over replications); an overloaded queue (ρ ≥ 1) has no Erlang C."""
    rho = f"{utilisation:.3f}"
    if not math.isfinite(erlang):
        overloaded = Check.of("admin utilisation", ">=", utilisation, 1.0)
        return Finding(say("queue_overload", lang, rho=rho), (overloaded,))
    return findings.choose("admin wait: default − Erlang C", gap, group("automation", "queue_gap", lang),
                           sim=num(simulated, 1), erlang=f"{erlang:.2f}", gap=signed(gap, 1), rho=rho)


def shift_finding(off_minus_in: Mapping[str, float], lang: str = "zh") -> Finding:
    """Answered questions asked off shift against those asked on shift (paired per replication)."""
    return findings.effect("response: off shift − in shift", off_minus_in,
                           subject=say("subjects.off_shift", lang), lang=lang,
                           up=say("verbs.longer", lang), down=say("verbs.shorter", lang),
                           fmt=_unit("minutes", lang))


def labour_cut_finding(cut: Mapping[str, float], article_figure: float, lang: str = "zh") -> Finding:
    """The labour + tool cost cut of full automation against none; the article's figure is an
    input of the model (an echo), which the sentence says."""
    rise = {"mean": -cut["mean"], "low": -cut["high"], "high": -cut["low"]}
    texts = group("automation", "labour_cut", lang)
    return findings.choose("labour + tool cost cut: full vs none", cut, texts, cut=pct(cut, 1),
                           rise=pct(rise, 1), fig=f"{article_figure:.0%}")


def reach_finding(open_ratio: Mapping[str, float], lang: str = "zh") -> Finding:
    """The open rate of posts at full automation relative to none (a ratio, read against 1)."""
    change = {key: open_ratio[key] - 1 for key in ("mean", "low", "high")}
    return findings.effect("open rate ratio − 1: full vs none", change,
                           subject=say("subjects.open_rate", lang), lang=lang,
                           fmt=lambda _: num(open_ratio, 3) + say("units.times", lang))


def aversion_findings(aversion_exits: Mapping[str, float], exits_vs_none: Mapping[str, float],
                      lang: str = "zh") -> list[Finding]:
    """What the aversion input does at full automation (vs the same run without aversion), and
    whether full automation loses more members than no bots at all (vs level 0)."""
    first = findings.effect("exits: full automation − same without aversion", aversion_exits,
                            subject=say("subjects.aversion_exits", lang), lang=lang,
                            up=say("verbs.more", lang), down=say("verbs.fewer", lang),
                            fmt=_unit("members", lang))
    second = findings.choose("exits: full automation − none", exits_vs_none,
                             group("automation", "exits_vs_none", lang), diff=signed(exits_vs_none, 1))
    return [first, second]


def best_level_findings(ranking: Mapping[str, Sequence[float]], decomposition: pd.DataFrame, base: str,
                        arm: str, lang: str = "zh") -> list[Finding]:
    """The best automation level by ranking value (headline ``best_automation_level``) and what
    drives the difference ``arm`` − ``base`` that :func:`value_decomposition` split.

    ``ranking`` maps level names ('level_0.50') to per-replication ranking values (paired). The
    headline's checks: the best level's mean is at least every other level's (paired
    differences), and the wording against the runner-up follows its interval.
    """
    best = best_arm(ranking, "ranking_value")
    text = say(f"best_level.{'separated' if best.separated else 'close'}", lang, best=_level_text(best.arm),
               second=_level_text(best.runner_up), value=f"¥{best.mean:,.0f}",
               lead=_unit("yuan", lang)(best.lead))
    headline = Finding(text, best.checks, "best_automation_level", True)
    return [headline, driver_finding(decomposition, base, arm, lang)]


def driver_finding(decomposition: pd.DataFrame, base: str, arm: str, lang: str = "zh") -> Finding:
    """Which part of a :func:`value_decomposition` moves the ranking value most, naming the
    parameters behind it; checked: no other part is larger in size."""
    frame = decomposition.set_index("component")
    parts = frame.drop(index="ranking_value")
    largest = parts["mean"].abs().idxmax()
    checks = tuple(Check(f"|{name}| − |{largest}|", "<=", abs(row["mean"]) - abs(parts.loc[largest, "mean"]),
                         bound=0.0) for name, row in parts.iterrows() if name != largest)
    listed = say("drivers_separator", lang).join(
        say("drivers_part", lang, word=say(f"words.{name}", lang), value=_unit("yuan", lang)(row))
        for name, row in parts.iterrows())
    text = say("drivers", lang, arm=_level_text(arm), base=_level_text(base),
               total=_unit("yuan", lang)(frame.loc["ranking_value"]), parts=listed,
               largest=say(f"words.{largest}", lang), drivers=parts.loc[largest, "drivers"])
    return Finding(text, checks)


def constrained_finding(best: str | None, ranking_table: pd.DataFrame,
                        constraints: Mapping[str, tuple[str, float]], lang: str = "zh") -> Finding:
    """The best level among those meeting ``constraints`` (as :func:`best_level` chose it), or
    that none meets them; checked against the replication means in ``ranking_table``."""
    table = ranking_table.set_index("scenario")
    if best is not None:
        checks = tuple(Check.of(f"{name} of {best}", op, float(table.loc[best, name]), bound)
                       for name, (op, bound) in constraints.items())
        return Finding(say("constrained.found", lang, best=_level_text(best)), checks)
    failing = {"<=": ">", ">=": "<"}
    checks = []
    for name, row in table.iterrows():
        metric_name, (op, bound) = next((name, constraint) for name, constraint in constraints.items()
                                        if not _meets(float(row[name]), *constraint))
        checks.append(Check.of(f"{metric_name} of {name}", failing[op], float(row[metric_name]), bound))
    return Finding(say("constrained.none", lang), tuple(checks))


def _meets(value: float, op: str, bound: float) -> bool:
    return value >= bound if op == ">=" else value <= bound


DIFFERENCE_UNITS = {"response_mean": "minutes", "exits": "members", "ranking_value": "yuan"}


def difference_findings(differences: Mapping[str, Mapping[str, float]], comparison: str,
                        lang: str = "zh") -> list[Finding]:
    """One sentence per paired difference in ``differences`` (metric → entry, arm − base) for the
    metrics with a subject in the sentence file (response_mean, within_patience, complaints,
    exits, ranking_value), each prefixed with ``comparison`` (what against what)."""
    prefix = f"{comparison}：" if lang == "zh" else f"{comparison}: "
    out = []
    for name in ("response_mean", "within_patience", "complaints", "exits", "ranking_value"):
        if name not in differences:
            continue
        unit, digits = DIFFERENCE_UNITS.get(name), 3 if name == "within_patience" else 1
        fmt = _unit(unit, lang) if unit else (lambda entry, d=digits: signed(entry, d))
        out.append(findings.effect(f"{name}: {comparison}", differences[name],
                                   subject=prefix + say(f"subjects.{name}", lang), lang=lang, fmt=fmt))
    return out
