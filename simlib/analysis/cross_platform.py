"""Cross-platform operations (notebook 08 · 跨平台协同): acquisition funnels by channel, retention
and value by channel, cost per retained member, platform overlap and the paid channel mix.

:func:`channel_metrics` works on the schema tables, so it serves simulated runs and real
exports alike; :func:`channel_extra` is the per-replication ``extra`` for
:func:`simlib.runner.simulate`; the other helpers are closed-form references (the funnel
product, the overlap LTV ratio) that the simulation must reproduce, and override builders for
sweeps. The sentences the notebook states are chosen by the numbers (:mod:`simlib.findings`;
their words are in ``simlib/data/sentences/cross_platform.yaml``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from simlib import findings, metrics
from simlib.analysis.choice import against, best_arm
from simlib.analysis.sentences import group, sentence
from simlib.findings import Check, Finding
from simlib.formatting import money, num, pct, signed, yuan
from simlib.results import mean_ci

CHANNEL_ORDER = ("douyin", "xiaohongshu", "referral", "organic")
PAID_CHANNELS = ("douyin", "xiaohongshu")
CHANNEL_METRICS = ("joins", "retention_d30", "revenue_per_member", "ltv", "exits_per_member_month",
                   "messages_per_member_month", "acq_cost_per_join", "acq_cost_per_retained")
SEPARATOR = "__"


# --------------------------------------------------------------------------- the funnel


def funnel_table(params) -> pd.DataFrame:
    """Reach → clicks → joins per channel from ``params.arrivals`` (expected values per day and
    over the horizon), with the ad spend and the cost per join the parameters imply."""
    days = params.simulation.days
    rows = []
    for channel in CHANNEL_ORDER:
        spec = params.arrivals.channels[channel]
        clicks = spec.daily_reach * spec.click_rate
        joins = spec.joins_per_day
        spend = clicks * spec.cost_per_click
        rows.append({
            "channel": channel, "daily_reach": spec.daily_reach, "click_rate": spec.click_rate,
            "join_rate": spec.join_rate, "clicks_per_day": clicks, "joins_per_day": joins,
            "spend_per_day": spend,
                     "cost_per_join": spend / joins if joins > 0 else (0.0 if spend == 0 else math.inf),
            "expected_joins": joins * days, "engagement": spec.engagement,
            "exit_hazard_multiplier": spec.exit_hazard_multiplier,
        })
    return pd.DataFrame(rows)


def funnel_stages(params) -> pd.DataFrame:
    """Tidy (channel, stage, per_day) for a funnel plot: reach, clicks, joins per day."""
    table = funnel_table(params)
    tidy = table.melt(id_vars="channel", value_vars=["daily_reach", "clicks_per_day", "joins_per_day"],
                      var_name="stage", value_name="per_day")
    tidy["stage"] = tidy["stage"].map({"daily_reach": "reach", "clicks_per_day": "clicks",
                                       "joins_per_day": "joins"})
    return tidy


def channel_spend(params) -> dict[str, float]:
    """Ad spend per channel over the horizon (reach × click rate × cost per click × days)."""
    days = params.simulation.days
    return {channel: spec.daily_reach * spec.click_rate * spec.cost_per_click * days
            for channel, spec in params.arrivals.channels.items()}


# --------------------------------------------------------------------------- metrics by channel


def channel_metrics(members: pd.DataFrame, events: pd.DataFrame, start, end,
                    channels: Sequence[str] = CHANNEL_ORDER, horizon_months: int = 24,
                    spend: dict[str, float] | None = None) -> pd.DataFrame:
    """Per-channel figures from schema tables over the window [start, end).

    ``joins`` (joined inside the window), ``members_seen``, ``retention_d30``,
    ``revenue_per_member`` (revenue ÷ members seen; NaN when the log holds no purchases at all,
    as in a chat export), ``ltv`` (:func:`simlib.metrics.ltv` on the channel's members),
    ``exits_per_member_month``, ``messages_per_member_month`` (NaN when the log holds no
    messages at all, as in a member list) and, when ``spend`` (channel →
    ad spend in the window) is given, ``acq_cost_per_join`` and ``acq_cost_per_retained``
    (spend ÷ joins, and ÷ joins × 30-day retention). Channels without members give NaN.
    """
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    if end <= start:
        raise ValueError(f"end {end} must be after start {start}")
    channel_of = dict(zip(members["member_id"].astype(str), members["channel"].astype(str), strict=True))
    event_channel = events["member_id"].astype(str).map(channel_of)
    has_purchases = bool((events["event"] == "purchase").any())
    has_messages = bool((events["event"] == "message").any())
    rows = []
    for channel in channels:
        own = members[members["channel"].astype(str) == channel]
        own_events = events[(event_channel == channel).to_numpy()]
        tables = {"members": own, "events": own_events}
        joined = own["join_ts"]
        joins = int(((joined >= start) & (joined < end)).sum())
        seen = metrics.members_seen(own, start, end) if len(own) else 0
        months = metrics.member_months(own, start, end) if len(own) else 0.0
        retention = metrics.retention(own, 30, start, end) if len(own) else math.nan
        income = metrics.revenue(tables, start, end)
        revenue_per_member = income / seen if seen and has_purchases else math.nan
        ltv = metrics.ltv(tables, start, end, horizon_months) if seen and has_purchases else math.nan
        leaves = metrics.exits(tables, start, end)
        messages = int(
            (
                (own_events["event"] == "message") & (own_events["ts"] >= start) & (own_events["ts"] < end)
            ).sum()
        )
        row = {
            "channel": channel, "joins": joins, "members_seen": seen, "retention_d30": retention,
            "revenue_per_member": revenue_per_member, "ltv": ltv,
            "exits_per_member_month": leaves / months if months else math.nan,
            "messages_per_member_month": messages / months if months and has_messages else math.nan,
        }
        if spend is not None:
            cost = float(spend.get(channel, 0.0))
            retained = joins * retention if not math.isnan(retention) else math.nan
            row["acq_cost_per_join"] = cost / joins if joins else (0.0 if cost == 0 else math.nan)
            row["acq_cost_per_retained"] = (cost / retained if retained and not math.isnan(retained)
                                            else (0.0 if cost == 0 else math.nan))
        rows.append(row)
    return pd.DataFrame(rows)


def flatten(frame: pd.DataFrame, names: Sequence[str] = CHANNEL_METRICS) -> dict[str, float]:
    """{'revenue_per_member__douyin': …} from a :func:`channel_metrics` frame."""
    out = {}
    for _, row in frame.iterrows():
        for name in names:
            if name in row:
                out[f"{name}{SEPARATOR}{row['channel']}"] = float(row[name])
    return out


def channel_extra(run) -> dict[str, float]:
    """Extra per-replication metrics for :func:`simlib.runner.simulate` (runs in the worker):
    the :func:`channel_metrics` flattened per channel, plus total revenue, total cost and the ad
    spend of the run (the value KPIs — net, residual, ranking value — come from the summary)."""
    from simlib.runner import window

    start, end = window(run.params)
    tables = run.tables
    frame = channel_metrics(tables["members"], tables["events"], start, end,
                            horizon_months=run.params.metrics.ltv_horizon_months,
                            spend=channel_spend(run.params))
    values = flatten(frame)
    income = metrics.revenue(tables, start, end)
    cost = metrics.total_cost(tables, start, end)
    values.update({"revenue_total": income, "cost_total": cost,
                   "acquisition_cost": float(sum(channel_spend(run.params).values()))})
    return values


def channel_table(result, names: Sequence[str] = CHANNEL_METRICS,
                  channels: Sequence[str] = CHANNEL_ORDER) -> pd.DataFrame:
    """Tidy (metric, channel, mean, low, high) from a SimulationResult run with :func:`channel_extra`."""
    rows = []
    for name in names:
        for channel in channels:
            column = f"{name}{SEPARATOR}{channel}"
            if column not in result.summaries:
                raise KeyError(f"{column!r} is not in the result: run simulate(..., extra=channel_extra)")
            ci = mean_ci(result.values(column))
            rows.append({"metric": name, "channel": channel, "mean": ci["mean"], "low": ci["low"],
                         "high": ci["high"]})
    return pd.DataFrame(rows)


def joins_check(result, params) -> pd.DataFrame:
    """Expected joins per channel (funnel product × days) next to the simulated joins (mean and
    95% interval over replications) and the group's overflow (arrivals turned away when full)."""
    funnel = funnel_table(params).set_index("channel")
    rows = []
    for channel in CHANNEL_ORDER:
        ci = mean_ci(result.values(f"joins{SEPARATOR}{channel}"))
        rows.append({"channel": channel, "expected": float(funnel.loc[channel, "expected_joins"]),
                     "mean": ci["mean"], "low": ci["low"], "high": ci["high"]})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- overlap and mix


def expected_ltv_ratio(overlap: float, multiplier: float, base_overlap: float = 0.0) -> float:
    """LTV at ``overlap`` relative to ``base_overlap`` when overlapping members buy ``multiplier``
    times as readily and overlap changes nothing else (the model's assumption): revenue is
    linear in the overlap share, so the ratio is (1 + (m − 1)·o) / (1 + (m − 1)·o₀)."""
    for name, value in (("overlap", overlap), ("base_overlap", base_overlap)):
        if not 0 <= value <= 1:
            raise ValueError(f"{name}={value!r}: expected a share in [0, 1]")
    if multiplier < 0:
        raise ValueError(f"multiplier={multiplier!r}: expected ≥ 0")
    return (1 + (multiplier - 1) * overlap) / (1 + (multiplier - 1) * base_overlap)


def required_multiplier(target_ratio: float, overlap: float) -> float:
    """The purchase multiplier of overlapping members for which LTV(overlap) / LTV(0) equals
    ``target_ratio`` under :func:`expected_ltv_ratio`."""
    if not 0 < overlap <= 1:
        raise ValueError(f"overlap={overlap!r}: expected a share in (0, 1]")
    return 1 + (target_ratio - 1) / overlap


def paid_budget(params) -> float:
    """Daily ad spend on the paid channels (Douyin + Xiaohongshu)."""
    return sum(params.arrivals.channels[c].daily_reach * params.arrivals.channels[c].click_rate
               * params.arrivals.channels[c].cost_per_click for c in PAID_CHANNELS)


def douyin_share(params) -> float:
    """Share of the paid daily budget spent on Douyin."""
    budget = paid_budget(params)
    spec = params.arrivals.channels["douyin"]
    return spec.daily_reach * spec.click_rate * spec.cost_per_click / budget if budget else math.nan


def mix_overrides(params, share_douyin: float, budget_scale: float = 1.0) -> dict[str, Any]:
    """Overrides that spend ``budget_scale`` × today's paid budget, ``share_douyin`` of it on
    Douyin and the rest on Xiaohongshu, by changing each channel's daily reach (click and join
    rates and cost per click stay as they are)."""
    if not 0 <= share_douyin <= 1:
        raise ValueError(f"share_douyin={share_douyin!r}: expected a share in [0, 1]")
    if budget_scale < 0:
        raise ValueError(f"budget_scale={budget_scale!r}: expected ≥ 0")
    budget = paid_budget(params) * budget_scale
    out = {}
    for channel, share in (("douyin", share_douyin), ("xiaohongshu", 1 - share_douyin)):
        spec = params.arrivals.channels[channel]
        per_reach = spec.click_rate * spec.cost_per_click
        if per_reach <= 0:
            raise ValueError(f"{channel}: click_rate × cost_per_click is 0, so a budget cannot buy reach")
        out[f"arrivals.channels.{channel}.daily_reach"] = budget * share / per_reach
    return out


def expected_paid_joins(params, share_douyin: float, budget_scale: float = 1.0) -> float:
    """Expected joins per day from the paid channels under :func:`mix_overrides`."""
    total = 0.0
    for channel, reach in mix_overrides(params, share_douyin, budget_scale).items():
        spec = params.arrivals.channels[channel.split(".")[2]]
        total += reach * spec.click_rate * spec.join_rate
    return total


def observed_channel_table(log) -> pd.DataFrame:
    """:func:`channel_metrics` of a loaded real log over its own span, all channels the schema
    knows (an export only tells organic / referral / unknown apart, see notebook 08)."""
    from simlib.schema import CHANNELS

    start, end = metrics.window_of({"members": log.members, "events": log.events})
    frame = channel_metrics(log.members, log.events, start, end, channels=CHANNELS)
    return frame[frame["members_seen"] > 0].reset_index(drop=True)


def values_array(result, name: str) -> np.ndarray:
    return np.asarray(result.values(name), dtype=float)


# --------------------------------------------------------------------------- sentences


def say(key: str, lang: str, **values: Any) -> str:
    """A sentence of ``simlib/data/sentences/cross_platform.yaml``."""
    return sentence("cross_platform", key, lang, **values)


def cost_per_join_finding(channel: str, actual: Any, funnel: float, lang: str = "zh") -> Finding:
    """A paid channel's simulated spend per join against the funnel's cost per join (the
    parameters' cost per click ÷ join rate): above, below or not distinguishable from it."""
    gap = {key: actual[key] - funnel for key in ("mean", "low", "high")}
    texts = group("cross_platform", "cost_per_join", lang)
    return findings.choose(f"acq_cost_per_join − funnel: {channel}", gap, texts,
                           channel=say(f"channels.{channel}", lang), actual=money(actual, 1),
                           funnel=money(funnel, 1), gap=signed(gap, 1))


def ltv_gap_finding(lift: Any, lang: str = "zh") -> Finding:
    """Xiaohongshu members' LTV relative to Douyin members' (paired within replications)."""
    return findings.effect("ltv lift: xiaohongshu vs douyin", lift, subject=say("subjects.ltv_gap", lang),
                           lang=lang, up=say("verbs.higher", lang), down=say("verbs.lower", lang),
                           fmt=lambda entry: pct(entry, 1))


def overlap_claim_finding(ratio: Any, claim_figure: float, overlap: float, needed: float, multiplier: float,
                          lang: str = "zh") -> Finding:
    """The simulated LTV ratio at the claim's overlap against the article's multiple: its interval
    below, above or around the figure; the multiplier the claim would need is stated beside it."""
    way, check = against(ratio, claim_figure, "ltv ratio")
    text = say(f"overlap_claim.{way}", lang, overlap=f"{overlap:.0%}", ratio=num(ratio, 2),
               figure=f"{claim_figure:g}", needed=f"{needed:.2f}", multiplier=f"{multiplier:g}")
    return Finding(text, (check,))


def formula_finding(table: pd.DataFrame, lang: str = "zh") -> Finding:
    """Whether the closed-form ratio (``formula``) lies inside every simulated interval
    (``ratio_low``–``ratio_high``) of the overlap sweep; if not, where the simulation lies."""
    rows = table[table["overlap"] > 0]
    inside = (rows["formula"] >= rows["ratio_low"]) & (rows["formula"] <= rows["ratio_high"])

    def checks_of(part: pd.DataFrame, relation: str) -> tuple[Check, ...]:
        return tuple(Check.of(f"ltv ratio at overlap {row.overlap:g}", relation,
                              {"mean": row.ratio_mean, "low": row.ratio_low, "high": row.ratio_high},
                              row.formula) for row in part.itertuples())

    if inside.all():
        return Finding(say("formula.inside", lang), checks_of(rows, "contains"))
    outside = rows[~inside]
    above = outside["ratio_low"] > outside["formula"]
    checks = checks_of(outside, "excludes")
    way = "above" if above.all() else "below" if (~above).all() else "mixed"
    overlaps = "、".join(f"{o:.0%}" for o in outside["overlap"]) if lang == "zh" else ", ".join(
        f"{o:.0%}" for o in outside["overlap"])
    return Finding(say(f"formula.{way}", lang, overlaps=overlaps), checks)


def mix_label(name: str, lang: str = "zh") -> str:
    """Words for a channel-mix arm: 'douyin_share_0.5' → '抖音占比 50%', 'current', 'budget_x1.5'."""
    if name.startswith("douyin_share_"):
        return say("mix.share", lang, share=f"{float(name.rsplit('_', 1)[1]):.0%}")
    if name.startswith("budget_x"):
        return say("mix.budget", lang, scale=name.split("_x", 1)[1])
    return say(f"mix.{name}", lang)


def best_mix_finding(values: Any, current_share: float, lang: str = "zh") -> Finding:
    """The headline ``best_channel_mix``: the paid budget split (``values``: arm name →
    per-replication ranking values, same budget) with the highest community value."""
    best = best_arm(values, "ranking_value")
    label = mix_label(best.arm, lang) if best.arm != "current" else say(
        "mix.current_share", lang, share=f"{current_share:.0%}")
    runner_up = mix_label(best.runner_up, lang) if best.runner_up != "current" else say(
        "mix.current_share", lang, share=f"{current_share:.0%}")
    text = say(f"best_mix.{'separated' if best.separated else 'close'}", lang, best=label, second=runner_up,
               value=f"¥{best.mean:,.0f}", lead=yuan(best.lead, lang=lang))
    return Finding(text, best.checks, "best_channel_mix", True)


def budget_findings(differences: Any, lang: str = "zh") -> list[Finding]:
    """Community value of a smaller or larger paid budget (same split) against the current one
    (``differences``: arm name → paired difference entry)."""
    return [findings.effect(f"ranking_value: {name} − current", entry, lang=lang,
                            subject=say("subjects.budget", lang, budget=mix_label(name, lang)),
                            fmt=partial(yuan, lang=lang))
            for name, entry in differences.items()]
