"""Member tiering (notebook 01 · 用户分层管理): the article's table 1, tier rules on event logs,
the tier targets measured, and what tiered vs. untiered comparisons need (intervention effects
scaled, the ceiling of a relative lift). The comparisons themselves are :mod:`simlib.compare`.

Everything here works on the schema tables (``members``, ``events``), so the same functions
serve a simulated run and a real export. The simulation-specific helpers
(:func:`run_panel`, :func:`tiering_extra`, :func:`effect_overrides`) take a
:class:`simlib.model.RunResult` or :class:`simlib.params.Params`.

The sentences the notebook states (:func:`tiering_findings`, :func:`labels_only_findings`,
:func:`claim_findings`, :func:`target_findings`, :func:`whatif_findings`, …) are chosen by the
numbers (:mod:`simlib.findings`), from the templates in ``simlib/data/sentences/member_tiering.yaml``;
the article's figures come from the claims register (:mod:`simlib.claims`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from simlib import claims, compare, findings, metrics, provenance, tiering
from simlib.analysis import sentences
from simlib.analysis.bounds import against
from simlib.findings import Finding
from simlib.formatting import num, pct, pp, share, yuan
from simlib.labels import label
from simlib.results import mean_ci
from simlib.schema import TIERS

TABLE1_TIERS = ("potential", "active", "loyal", "silent")


# --------------------------------------------------------------------------- table 1


# Table 1 as text templates per language: (criterion, strategy, target) of each tier. ``r`` are the
# tier rules (the article's), the strategy fields the interventions' modelled costs and effects with
# their provenance marks (:data:`STRATEGY_VALUES`), the target fields the article's figures from the
# claims register (:data:`TARGET_CLAIMS`) and the activation threshold (a setting).
TIER_TABLE_TEXT = {
    "zh": {
        "potential": ("入群{r.potential_max_days}天内且发言≤{r.potential_max_messages}次",
                      "欢迎语引导+专属福利（¥{potential_cost}/人，兴趣+{potential_boost}，持续{potential_days}天）",
                      "激活发言>{activation}次"),
        "active": ("{r.active_window_days}天内互动≥{r.active_min_interactions}次",
                   "内容共创+特权赋予（¥{active_cost}/人·周，兴趣+{active_boost}）",
                   "贡献值提升{active_contribution}"),
        "loyal": ("{r.loyal_window_days}天内消费≥{r.loyal_min_purchases}次",
                  "专属客服+会员体系（¥{loyal_cost}/人·月，购买意愿×{loyal_multiplier}）",
                  "复购率提升至{loyal_repurchase}"),
        "silent": ("连续{r.silent_min_days}天无互动",
                   "唤醒活动+限时福利（每{silent_every}天一次，¥{silent_cost}/人，单次召回概率{silent_recall}）",
                   "召回率≥{silent_recall_target}"),
    },
    "en": {
        "potential": ("joined < {r.potential_max_days} days ago, ≤ {r.potential_max_messages} messages",
                      "welcome + perk (¥{potential_cost}/member, interest +{potential_boost} for "
                      "{potential_days} days)",
                      "> {activation} messages (activation)"),
        "active": ("≥ {r.active_min_interactions} interactions in {r.active_window_days} days",
                   "co-creation + privileges (¥{active_cost}/member-week, interest +{active_boost})",
                   "contribution +{active_contribution}"),
        "loyal": ("≥ {r.loyal_min_purchases} purchases in {r.loyal_window_days} days",
                  "VIP service + membership (¥{loyal_cost}/member-month, purchase odds ×{loyal_multiplier})",
                  "repurchase rate {loyal_repurchase}"),
        "silent": ("no interaction for {r.silent_min_days} days",
                   "wake-up campaign + perk (every {silent_every} days, ¥{silent_cost}/target, "
                   "recall chance {silent_recall})",
                   "recall rate ≥ {silent_recall_target}"),
    },
}
#: The strategy column's values: field → (parameter, how it is written). Shown with its provenance
#: mark (an assumption '*', a calibrated value '†'); :func:`simlib.provenance.footnote` of
#: :data:`TIER_TABLE_KEYS` explains the marks.
STRATEGY_VALUES = {
    "potential_cost": ("tiering.interventions.potential.cost_per_member", "{:g}"),
    "potential_boost": ("tiering.interventions.potential.interest_boost", "{:.0%}"),
    "potential_days": ("tiering.interventions.potential.boost_days", "{}"),
    "active_cost": ("tiering.interventions.active.cost_per_member_week", "{:g}"),
    "active_boost": ("tiering.interventions.active.interest_boost", "{:.0%}"),
    "loyal_cost": ("tiering.interventions.loyal.cost_per_member_month", "{:g}"),
    "loyal_multiplier": ("tiering.interventions.loyal.purchase_multiplier", "{:g}"),
    "silent_every": ("tiering.interventions.silent.every_days", "{}"),
    "silent_cost": ("tiering.interventions.silent.cost_per_target", "{:g}"),
    "silent_recall": ("tiering.interventions.silent.recall_prob", "{:.0%}"),
}
TIER_TABLE_KEYS = tuple(path for path, _ in STRATEGY_VALUES.values())
#: The target column's figures: field → the claim of the register that holds the article's figure.
TARGET_CLAIMS = {"active_contribution": "tiering_active_contribution",
                 "loyal_repurchase": "tiering_loyal_repurchase",
                 "silent_recall_target": "tiering_silent_recall"}


def _parameter(params, key_path: str) -> Any:
    value: Any = params
    for part in key_path.split("."):
        value = getattr(value, part)
    return value


def tier_table(params, lang: str = "zh") -> pd.DataFrame:
    """The article's table 1 (tier, criterion, strategy, target) built from ``params.tiering``
    and the claims register.

    The criteria are the tier rules; the strategy column adds the intervention's modelled cost
    and effect size, each marked by its provenance (:data:`TIER_TABLE_KEYS`), so the table shows
    what the simulation does and which figures the article does not give; the targets are the
    article's figures (:data:`TARGET_CLAIMS`) and the activation threshold.
    """
    if lang not in TIER_TABLE_TEXT:
        raise ValueError(f"lang={lang!r}: expected 'zh' or 'en'")
    t = params.tiering
    fields: dict[str, Any] = {"r": t.rules, "activation": t.targets.potential_activation_messages}
    for name, (key_path, written) in STRATEGY_VALUES.items():
        fields[name] = provenance.mark(written.format(_parameter(params, key_path)), key_path)
    for name, claim_id in TARGET_CLAIMS.items():
        fields[name] = f"{claims.figure(claim_id):.0%}"
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


def target_table(result) -> pd.DataFrame:
    """Measured tier targets of a SimulationResult (run with :func:`tiering_extra`) against the
    article's figures from the claims register: metric, target, mean, low, high, met
    (True/False/None when there is no target or no measurement)."""
    goals = {
        "activation_rate": (None, "share"),
        "active_contribution": (None, "interactions"),
        "loyal_repurchase_rate": (claims.figure("tiering_loyal_repurchase"), "share"),
        "silent_recall_rate": (claims.figure("tiering_silent_recall"), "share"),
    }
    rows = []
    for name, (goal, unit) in goals.items():
        ci = mean_ci(result.values(name))
        met = None if goal is None or math.isnan(ci["mean"]) else bool(ci["mean"] >= goal)
        rows.append({"metric": name, "target": goal, "mean": ci["mean"], "low": ci["low"], "high": ci["high"],
                     "met": met, "unit": unit})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- what the numbers say
#
# Each function returns the findings (simlib.findings) a part of notebook 01 states: the wording
# is chosen by the numbers and carries the checks that make it true. The sentences are in
# simlib/data/sentences/member_tiering.yaml.

SENTENCES = "member_tiering"


def _words(key: str, lang: str, **values: Any) -> str:
    return sentences.sentence(SENTENCES, key, lang, **values)


def _texts(key: str, lang: str) -> dict[str, str]:
    return sentences.group(SENTENCES, key, lang)


def _row(comparison: pd.DataFrame, arm: str, metric: str) -> pd.Series:
    """The row of a :func:`simlib.compare.table` for ``arm`` and ``metric``; KeyError naming both."""
    rows = comparison[(comparison["arm"] == arm) & (comparison["metric"] == metric)]
    if rows.empty:
        raise KeyError(f"the comparison has no row for arm {arm!r} and metric {metric!r}")
    return rows.iloc[0]


def _points(lang: str) -> Callable[[Any], str]:
    return lambda entry: pp(entry, lang=lang)




def agreement_finding(abs_diff_share: float, warmup_days: int, lang: str = "zh") -> Finding:
    """Rules on the log vs the engine's tiers after the warm-up: under or over 1% of member-days."""
    return findings.versus("rules on log vs engine: abs diff share of member-days", abs_diff_share, 0.01,
                           _texts("agreement", lang), warmup=warmup_days, share=f"{abs_diff_share:.2%}")


def silent_exit_finding(matrix: pd.DataFrame, lang: str = "zh") -> Finding:
    """One run's weekly exit share of silent members against regular ones (a weekly transition
    matrix with rows 'silent', 'regular' and column 'left')."""
    silent, regular = float(matrix.loc["silent", "left"]), float(matrix.loc["regular", "left"])
    return findings.versus("weekly exit share: silent − regular", silent - regular, 0.0,
                           _texts("silent_exits", lang), silent=f"{silent:.1%}", regular=f"{regular:.1%}")


def tiering_findings(comparison: pd.DataFrame, retention_metric: str, lang: str = "zh") -> list[Finding]:
    """Tiered vs untiered (a :func:`simlib.compare.table` with base "untiered" and arm "tiered"):
    the newcomers' retention (headline "tiering_retention") and the community's ranking value
    with its parts, net and residual value, and the tier cost (headline "tiering_value")."""
    retention = compare.entry(_row(comparison, "tiered", retention_metric), "diff")
    ranking = compare.entry(_row(comparison, "tiered", "ranking_value"), "diff")
    parts = {name: yuan(compare.entry(_row(comparison, "tiered", metric), "diff"), lang=lang)
             for name, metric in (("net", "net_value"), ("residual", "residual_value"),
                                  ("cost", "tier_cost"))}
    return [
        findings.choose(f"{retention_metric}: tiered − untiered", retention, _texts("retention", lang),
                        key="tiering_retention", headline=True, subject=label(retention_metric, lang),
                        value=pp(retention, lang=lang)),
        findings.choose("ranking_value: tiered − untiered", ranking, _texts("value", lang),
                        key="tiering_value", headline=True, value=yuan(ranking, lang=lang), **parts),
    ]


def labels_only_findings(comparison: pd.DataFrame, retention_metric: str, lang: str = "zh") -> list[Finding]:
    """Tiering whose interventions do nothing (arm "labels_only": effects × 0, costs paid) vs
    untiered: retention and ranking value. The label alone changes no behaviour."""
    retention = compare.entry(_row(comparison, "labels_only", retention_metric), "diff")
    ranking = compare.entry(_row(comparison, "labels_only", "ranking_value"), "diff")
    metric = label(retention_metric, lang)
    return [
        findings.effect(f"{retention_metric}: labels only − untiered", retention, lang=lang,
                        subject=_words("labels_only_subject.retention", lang, metric=metric),
                        fmt=_points(lang)),
        findings.effect("ranking_value: labels only − untiered", ranking, lang=lang,
                        subject=_words("labels_only_subject.value", lang), fmt=partial(yuan, lang=lang)),
    ]


def ceiling_finding(base_rate: float, retention_metric: str, lang: str = "zh") -> Finding:
    """The largest relative lift of retention from the untiered ``base_rate`` (1/r0 − 1) against
    the article's +42% (claim tiering_retention_lift)."""
    claim = claims.get("tiering_retention_lift")
    metric, figure = label(retention_metric, lang), claims.figure_text(claim, lang)
    if not 0 < base_rate <= 1:
        return Finding(_words("ceiling.unknown", lang, metric=metric))
    ceiling = max_relative_lift(base_rate)
    return findings.versus(f"max relative lift of {retention_metric}", ceiling, float(claim.figure),
                           _texts("ceiling", lang), metric=metric, base=f"{base_rate:.1%}",
                           ceiling=f"{ceiling:+.1%}", figure=figure)


def versus_claim(claim_id: str, entry: Any, subject: str, lang: str = "zh", *, percent: bool = True,
                 key: str | None = None, headline: bool = False) -> Finding:
    """A measured lift or rate (``entry``) against the figure of the register's claim ``claim_id``."""
    claim = claims.get(claim_id)
    value = pct(entry) if percent else num(entry)
    return against(f"{claim_id}: measured vs the article's figure", entry, float(claim.figure),
                   _texts("versus_claim", lang), key=key, headline=headline, subject=subject, value=value,
                   figure=claims.figure_text(claim, lang))


def claim_findings(retention_lift: Any, value_lift: Any, retention_metric: str, lang: str = "zh",
                   scale: float | None = None) -> list[Finding]:
    """The simulated relative lifts of retention and of revenue per member against the article's
    +42% and +58%; ``scale`` names the intervention-effect multiplier of a what-if run."""
    values = {"metric": label(retention_metric, lang), "scale": "" if scale is None else f"{scale:g}"}
    suffix = "" if scale is None else "_scaled"
    return [
        versus_claim("tiering_retention_lift", retention_lift,
                     _words(f"subjects.retention_lift{suffix}", lang, **values), lang),
        versus_claim("tiering_value_lift", value_lift, _words(f"subjects.value_lift{suffix}", lang, **values),
                     lang),
    ]


def target_findings(tiered_targets: pd.DataFrame, untiered_targets: pd.DataFrame, recall_diff: Any,
                    contribution_lift: Any, rules, lang: str = "zh", recall_days: int = 15) -> list[Finding]:
    """Table 1's targets as measured (:func:`target_table` of the tiered and the untiered arm):
    the loyal repurchase rate against 65% (a tested claim), the silent members' natural return
    (untiered) against the 25% target, the incremental recall of the campaigns, and the change in
    active members' interactions (whose target is a model input)."""
    tiered = tiered_targets.set_index("metric")
    untiered = untiered_targets.set_index("metric")
    recall_claim = claims.get("tiering_silent_recall")
    figure = claims.figure_text(claims.get("tiering_active_contribution"), lang)
    contribution = findings.effect("active_contribution: tiered vs untiered (relative)", contribution_lift,
                                   lang=lang, subject=_words("subjects.contribution", lang), fmt=pct)
    natural = untiered.loc["silent_recall_rate"]
    note = _words("contribution_note", lang, figure=figure)
    return [
        versus_claim("tiering_loyal_repurchase", tiered.loc["loyal_repurchase_rate"],
                     _words("subjects.loyal_repurchase", lang, days=rules.loyal_window_days), lang),
        against("untiered silent recall vs the recall target", natural, float(recall_claim.figure),
                _texts("natural_recall", lang), days=recall_days, value=share(natural),
                figure=claims.figure_text(recall_claim, lang)),
        findings.effect("silent_recall_rate: tiered − untiered", recall_diff, lang=lang,
                        subject=_words("subjects.incremental_recall", lang), fmt=_points(lang)),
        Finding(f"{contribution.text} {note}", contribution.checks),
    ]


WHATIFS = ("wake_every_10", "silent_after_10", "double_welcome")


def whatif_findings(whatifs: pd.DataFrame, retention_metric: str, lang: str = "zh") -> list[Finding]:
    """Each what-if (:data:`WHATIFS`, a :func:`simlib.compare.table` against "tiered"): its
    effect on newcomers' retention and on the community's ranking value."""
    metric = label(retention_metric, lang)
    out = []
    for arm in WHATIFS:
        name = _words(f"whatifs.{arm}", lang)
        retention = compare.entry(_row(whatifs, arm, retention_metric), "diff")
        ranking = compare.entry(_row(whatifs, arm, "ranking_value"), "diff")
        out += [
            findings.effect(f"{retention_metric}: {arm} − tiered", retention, lang=lang,
                            subject=_words("subjects.whatif_retention", lang, whatif=name, metric=metric),
                            fmt=_points(lang)),
            findings.effect(f"ranking_value: {arm} − tiered", ranking, lang=lang,
                            subject=_words("subjects.whatif_value", lang, whatif=name),
                            fmt=partial(yuan, lang=lang)),
        ]
    return out
