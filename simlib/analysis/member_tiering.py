"""Member tiering (notebook 01 · 用户分层管理): the article's table 1, tier rules on event logs,
the tier targets measured, and what tiered vs. untiered comparisons need (intervention effects
scaled, the ceiling of a relative lift). The comparisons themselves are :mod:`simlib.compare`.

Everything here works on the schema tables (``members``, ``events``), so the same functions
serve a simulated run and a real export. The simulation-specific helpers
(:func:`run_panel`, :func:`tiering_extra`, :func:`effect_overrides`) take a
:class:`simlib.model.RunResult` or :class:`simlib.params.Params`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from simlib import metrics, tiering
from simlib.results import mean_ci
from simlib.schema import TIERS

TABLE1_TIERS = ("potential", "active", "loyal", "silent")


# --------------------------------------------------------------------------- table 1


# Table 1 as text templates per language: (criterion, strategy, target) of each tier, filled from
# the tiering parameters (``r`` rules, ``g`` targets, ``iv`` interventions).
TIER_TABLE_TEXT = {
    "zh": {
        "potential": ("入群{r.potential_max_days}天内且发言≤{r.potential_max_messages}次",
                      "欢迎语引导+专属福利（¥{iv.potential.cost_per_member:g}/人，"
                      "兴趣+{iv.potential.interest_boost:.0%}，"
                      "持续{iv.potential.boost_days}天）",
                      "激活发言>{g.potential_activation_messages}次"),
        "active": ("{r.active_window_days}天内互动≥{r.active_min_interactions}次",
                   "内容共创+特权赋予（¥{iv.active.cost_per_member_week:g}/人·周，"
                   "兴趣+{iv.active.interest_boost:.0%}）",
                   "贡献值提升{g.active_contribution_lift:.0%}"),
        "loyal": ("{r.loyal_window_days}天内消费≥{r.loyal_min_purchases}次",
                  "专属客服+会员体系（¥{iv.loyal.cost_per_member_month:g}/人·月，"
                  "购买意愿×{iv.loyal.purchase_multiplier:g}）",
                  "复购率提升至{g.loyal_repurchase_rate:.0%}"),
        "silent": ("连续{r.silent_min_days}天无互动",
                   "唤醒活动+限时福利（每{iv.silent.every_days}天一次，¥{iv.silent.cost_per_target:g}/人，"
                   "单次召回概率{iv.silent.recall_prob:.0%}）",
                   "召回率≥{g.silent_recall_rate:.0%}"),
    },
    "en": {
        "potential": ("joined < {r.potential_max_days} days ago, ≤ {r.potential_max_messages} messages",
                      "welcome + perk (¥{iv.potential.cost_per_member:g}/member, interest "
                      "+{iv.potential.interest_boost:.0%} for {iv.potential.boost_days} days)",
                      "> {g.potential_activation_messages} messages (activation)"),
        "active": ("≥ {r.active_min_interactions} interactions in {r.active_window_days} days",
                   "co-creation + privileges (¥{iv.active.cost_per_member_week:g}/member-week, interest "
                   "+{iv.active.interest_boost:.0%})",
                   "contribution +{g.active_contribution_lift:.0%}"),
        "loyal": ("≥ {r.loyal_min_purchases} purchases in {r.loyal_window_days} days",
                  "VIP service + membership (¥{iv.loyal.cost_per_member_month:g}/member-month, purchase odds "
                  "×{iv.loyal.purchase_multiplier:g})",
                  "repurchase rate {g.loyal_repurchase_rate:.0%}"),
        "silent": ("no interaction for {r.silent_min_days} days",
                   "wake-up campaign + perk (every {iv.silent.every_days} days, ¥{iv.silent.cost_per_target:"
                   "g}/target, "
                   "recall chance {iv.silent.recall_prob:.0%})",
                   "recall rate ≥ {g.silent_recall_rate:.0%}"),
    },
}


def tier_table(params, lang: str = "zh") -> pd.DataFrame:
    """The article's table 1 (tier, criterion, strategy, target) built from ``params.tiering``.

    The criteria and targets are the rule and target parameters; the strategy column adds the
    intervention's modelled cost and effect size, so the table shows what the simulation does.
    """
    if lang not in TIER_TABLE_TEXT:
        raise ValueError(f"lang={lang!r}: expected 'zh' or 'en'")
    t = params.tiering
    fields = {"r": t.rules, "g": t.targets, "iv": t.interventions}
    rows = [
        (tier, *(template.format(**fields) for template in TIER_TABLE_TEXT[lang][tier]))
        for tier in TABLE1_TIERS
    ]
    return pd.DataFrame(rows, columns=["tier", "criterion", "strategy", "target"])


# --------------------------------------------------------------------------- panels


def simulation_window(params) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start, end) of a simulated run, as timezone-aware timestamps."""
    from simlib.runner import window

    return window(params)


def run_panel(run) -> pd.DataFrame:
    """:func:`simlib.tiering.tier_panel` of a simulated run over its horizon (one row per day)."""
    start, end = simulation_window(run.params)
    tables = run.tables
    return tiering.tier_panel(tables["members"], tables["events"], run.params.tiering.rules,
                              start=start, end=end - pd.Timedelta(days=1))


def compare_counts(panel: pd.DataFrame, daily: pd.DataFrame) -> pd.DataFrame:
    """Tidy (day, tier, rule_on_log, engine): tier counts from the log vs. the engine's own.

    ``daily`` is a run's ``daily`` frame (one row per day with a column per tier).
    """
    if len(panel) != len(daily):
        raise ValueError(f"panel has {len(panel)} days but daily has {len(daily)}: expected the same horizon")
    counts = tiering.tier_counts(panel)
    counts["day"] = (counts["date"] - panel.index[0]).dt.days
    engine = daily.melt(id_vars="day", value_vars=list(TIERS), var_name="tier", value_name="engine")
    out = counts.rename(columns={"members": "rule_on_log"}).merge(
        engine.assign(tier=engine["tier"].astype(str)).astype({"tier": counts["tier"].dtype}),
                                                                  on=["day", "tier"])
    return out[["day", "date", "tier", "rule_on_log", "engine"]]


def agreement_summary(compare: pd.DataFrame, warmup_days: int = 0) -> dict[str, float]:
    """How closely the log-based counts follow the engine's: share of (day, tier) cells equal,
    and total absolute difference as a share of member-days, after ``warmup_days``."""
    part = compare[compare["day"] >= warmup_days]
    if part.empty:
        return {"exact_share": math.nan, "abs_diff_share": math.nan, "max_abs_diff": math.nan}
    diff = (part["rule_on_log"] - part["engine"]).abs()
    member_days = part.groupby("day")["engine"].sum().sum()
    return {
        "exact_share": float((diff == 0).mean()),
        "abs_diff_share": float(diff.sum() / member_days) if member_days else math.nan,
        "max_abs_diff": float(diff.max()),
    }


def final_tier_agreement(panel: pd.DataFrame, members: pd.DataFrame) -> float:
    """Share of members present on the panel's last day whose log-based tier equals the
    engine's final tier (``members.tier_final`` of a simulated run)."""
    if "tier_final" not in members:
        raise ValueError("members lacks tier_final: only simulated runs carry the engine's tiers")
    last = panel.iloc[-1]
    engine = members.set_index(members["member_id"].astype(str))["tier_final"].astype(object)
    present = last[last >= 0]
    if present.empty:
        return math.nan
    names = np.array(TIERS, dtype=object)[present.to_numpy()]
    return float(np.mean(names == engine.reindex(present.index).to_numpy()))


def transition_long(panel: pd.DataFrame, step_days: int = 7) -> pd.DataFrame:
    """:func:`simlib.tiering.transition_matrix` as a tidy frame (from, to, share)."""
    matrix = tiering.transition_matrix(panel, step_days)
    return matrix.stack().rename("share").reset_index()


# --------------------------------------------------------------------------- tier targets


def _day_counts(ids: np.ndarray, events: pd.DataFrame, kinds: Sequence[str], first_day: pd.Timestamp,
                n_days: int) -> np.ndarray:
    """(members × days) counts of the given event kinds."""
    counts = np.zeros((len(ids), n_days), dtype=np.int32)
    subset = events[events["event"].isin(kinds) & events["member_id"].notna()]
    if subset.empty:
        return counts
    rows = pd.Index(ids).get_indexer(subset["member_id"].astype(str))
    cols = ((subset["ts"].dt.normalize() - first_day).dt.days).to_numpy()
    keep = (rows >= 0) & (cols >= 0) & (cols < n_days)
    np.add.at(counts, (rows[keep], cols[keep]), 1)
    return counts


def _spell_starts(values: np.ndarray, code: int) -> tuple[np.ndarray, np.ndarray]:
    """(day, member) positions where a member enters tier ``code`` (not on the first day)."""
    inside = values == code
    entered = inside[1:] & ~inside[:-1] & (values[:-1] >= 0)
    days, cols = np.nonzero(entered)
    return days + 1, cols


def _next_other(values: np.ndarray, code: int) -> np.ndarray:
    """For each (day, member), the first day ≥ it on which the member's tier is not ``code``
    (``n_days`` when it never changes)."""
    n_days = values.shape[0]
    out = np.empty_like(values, dtype=np.int32)
    following = np.full(values.shape[1], n_days, dtype=np.int32)
    for day in range(n_days - 1, -1, -1):
        following = np.where(values[day] != code, day, following)
        out[day] = following
    return out


def tier_targets(members: pd.DataFrame, events: pd.DataFrame, panel: pd.DataFrame, rules, targets,
                 activation_days: int = 30, recall_days: int = 15) -> dict[str, float]:
    """The table-1 targets measured on an event log and its tier panel.

    * ``activation_rate`` — members who joined inside the panel (early enough to be watched for
      ``activation_days``) and sent more than ``targets.potential_activation_messages`` messages
      in their first ``activation_days`` days.
    * ``silent_recall_rate`` — silent spells that began inside the panel (early enough to be
      watched for ``recall_days``) and ended with the member back in a non-silent tier within
      ``recall_days`` days; leaving the group counts as not recalled.
    * ``loyal_repurchase_rate`` — first entries into the loyal tier followed by another purchase
      within ``rules.loyal_window_days`` days (entries too late to be watched that long are left out).
    * ``repurchase_rate`` — buyers in the panel with at least two purchases.
    * ``active_contribution`` — interactions per member-week while in the active tier.

    A rate whose cohort is empty is NaN (e.g. no purchases in a chat export).
    """
    if activation_days < 1 or recall_days < 1:
        raise ValueError(f"activation_days={activation_days}, recall_days={recall_days}: expected ≥ 1")
    if panel.empty:
        return dict.fromkeys(("activation_rate", "silent_recall_rate", "loyal_repurchase_rate",
                              "repurchase_rate",
                              "active_contribution"), math.nan)
    first_day, n_days = panel.index[0], len(panel)
    ids = panel.columns.to_numpy(dtype=object).astype(str)
    values = panel.to_numpy()
    messages = _day_counts(ids, events, ["message"], first_day, n_days)
    purchases = _day_counts(ids, events, ["purchase"], first_day, n_days)
    interactions = _day_counts(ids, events, list(tiering.INTERACTION_EVENTS), first_day, n_days)

    join = members.set_index(members["member_id"].astype(str))["join_ts"].reindex(ids)
    join_day = ((join.dt.normalize() - first_day).dt.days).to_numpy(dtype=float, na_value=np.nan)
    cohort = np.flatnonzero((join_day >= 0) & (join_day + activation_days <= n_days))
    if cohort.size:
        cumulative = np.concatenate([np.zeros((len(ids), 1), dtype=np.int64), np.cumsum(messages, axis=1)],
                                    axis=1)
        start = join_day[cohort].astype(int)
        sent = cumulative[cohort, start + activation_days] - cumulative[cohort, start]
        activation = float(np.mean(sent > targets.potential_activation_messages))
    else:
        activation = math.nan

    days, cols = _spell_starts(values, tiering.SILENT)
    watched = days + recall_days < n_days
    days, cols = days[watched], cols[watched]
    if days.size:
        following = _next_other(values, tiering.SILENT)[days, cols]
        back = following < n_days
        back &= (following - days) <= recall_days
        back &= values[np.minimum(following, n_days - 1), cols] >= 0
        recall = float(np.mean(back))
    else:
        recall = math.nan

    loyal = values == tiering.LOYAL
    ever = loyal.any(axis=0)
    first_loyal = np.argmax(loyal, axis=0)
    window = rules.loyal_window_days
    entrants = np.flatnonzero(ever & (first_loyal + window < n_days))
    if entrants.size:
        cumulative = np.concatenate([np.zeros((len(ids), 1), dtype=np.int64), np.cumsum(purchases, axis=1)],
                                    axis=1)
        begin = first_loyal[entrants] + 1
        again = cumulative[entrants, begin + window] - cumulative[entrants, begin]
        loyal_repurchase = float(np.mean(again > 0))
    else:
        loyal_repurchase = math.nan

    bought = purchases.sum(axis=1)
    repurchase = float(np.mean(bought[bought > 0] >= 2)) if (bought > 0).any() else math.nan

    active_days = (values == tiering.ACTIVE).T
    contribution = (
        float(7 * interactions[active_days].sum() / active_days.sum()) if active_days.any() else math.nan
    )
    return {
        "activation_rate": activation,
        "silent_recall_rate": recall,
        "loyal_repurchase_rate": loyal_repurchase,
        "repurchase_rate": repurchase,
        "active_contribution": contribution,
    }


TARGET_METRICS = ("activation_rate", "active_contribution", "loyal_repurchase_rate", "silent_recall_rate")


def tiering_extra(run) -> dict[str, float]:
    """Extra per-replication metrics for :func:`simlib.runner.simulate` (runs in the worker):
    the tier targets, net value per member and the tier-intervention spend."""
    start, end = simulation_window(run.params)
    tables = run.tables
    panel = run_panel(run)
    values = tier_targets(tables["members"], tables["events"], panel, run.params.tiering.rules,
                          run.params.tiering.targets)
    seen = metrics.members_seen(tables["members"], start, end)
    income = metrics.revenue(tables, start, end)
    spend = metrics.total_cost(tables, start, end)
    costs = tables["costs"]
    values["net_value_per_member"] = (income - spend) / seen if seen else math.nan
    values["tier_cost"] = float(costs.loc[costs["category"] == "tier_intervention", "amount"].sum())
    values["members_seen"] = float(seen)
    return values


# --------------------------------------------------------------------------- effects and targets


def max_relative_lift(base_rate: float) -> float:
    """The largest relative lift a share can show from ``base_rate`` (it cannot exceed 100%)."""
    if not 0 < base_rate <= 1:
        raise ValueError(f"base_rate={base_rate!r}: expected a share in (0, 1]")
    return 1 / base_rate - 1


def effect_overrides(params, scale: float) -> dict[str, Any]:
    """Overrides that switch tiering on and scale every intervention effect by ``scale``:
    interest boosts × scale, recall probability × scale (at most 1), and the loyal purchase
    multiplier's excess over 1 × scale. Costs stay as they are."""
    if scale < 0:
        raise ValueError(f"scale={scale!r}: expected ≥ 0")
    iv = params.tiering.interventions
    return {
        "tiering.enabled": True,
        "tiering.interventions.potential.interest_boost": iv.potential.interest_boost * scale,
        "tiering.interventions.active.interest_boost": iv.active.interest_boost * scale,
        "tiering.interventions.silent.recall_prob": min(1.0, iv.silent.recall_prob * scale),
        "tiering.interventions.loyal.purchase_multiplier": 1 + (iv.loyal.purchase_multiplier - 1) * scale,
    }


def target_table(result, targets) -> pd.DataFrame:
    """Measured tier targets of a SimulationResult (run with :func:`tiering_extra`) against the
    article's: metric, target, mean, low, high, met (True/False/None when unknown)."""
    goals = {
        "activation_rate": (None, "share"),
        "active_contribution": (None, "interactions"),
        "loyal_repurchase_rate": (targets.loyal_repurchase_rate, "share"),
        "silent_recall_rate": (targets.silent_recall_rate, "share"),
    }
    rows = []
    for name, (goal, unit) in goals.items():
        ci = mean_ci(result.values(name))
        met = None if goal is None or math.isnan(ci["mean"]) else bool(ci["mean"] >= goal)
        rows.append({"metric": name, "target": goal, "mean": ci["mean"], "low": ci["low"], "high": ci["high"],
                     "met": met, "unit": unit})
    return pd.DataFrame(rows)
