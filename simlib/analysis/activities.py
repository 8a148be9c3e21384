"""Activity design (活动策划): the analysis behind ``notebooks/03_activity_design``.

* the article's table 3 built from the parameters (:func:`article_table`);
* per-type participation, cost, revenue and ROI per replication and with 95% intervals
  (:func:`per_replication_by_type`, :func:`summarize_by_type`, :func:`roi_comparison`);
* referral fission as a branching process (:func:`expected_participants_per_seed`,
  :func:`fission_overrides`, :func:`fission_ratio`) and group-cap saturation
  (:func:`admission_table`);
* budget allocation across activity types (:func:`greedy_allocation`,
  :func:`schedule_from_counts`, :func:`schedule_counts`);
* :func:`activity_extra`, the per-replication metrics evaluated in the simulation workers;
* the sentences the notebook states, chosen by the numbers (:mod:`simlib.findings`), from the
  templates in ``simlib/data/sentences/activities.yaml``.

Activity rows come from ``SimulationResult.activities`` (one row per activity instance, with
a ``replication`` column).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from simlib import claims, compare, findings, metrics, provenance
from simlib.analysis import choice, sentences
from simlib.analysis.bounds import against, joined
from simlib.findings import Check, Finding
from simlib.formatting import num, pp, signed, yuan
from simlib.labels import label
from simlib.params import ACTIVITY_TYPE_NAMES, Params
from simlib.results import mean_ci

TYPES = ACTIVITY_TYPE_NAMES
_SUM_COLUMNS = ("reached", "participants", "completed", "cost", "revenue", "invites", "referral_joins",
                "newcomer_participants")
# Offsets (days into each 30-day month) that keep the four types from starting together.
_OFFSETS = {"checkin": 3, "referral_lottery": 10, "live_flash_sale": 17, "ugc": 24}


def roi_claim(activity: str) -> claims.Claim:
    """The register's claim of table 3's ROI of ``activity`` (calibrated or tested)."""
    return claims.get(f"activity_roi_{activity}")


def article_table(params: Params) -> pd.DataFrame:
    """Table 3 of the article: type, threshold and cost per head from the parameters, the ROI
    from the claims register with the kind of its claim (``calibrated``: a purchase chance was
    tuned to it; ``test``: the simulation tests it)."""
    rows = []
    for name in TYPES:
        spec = getattr(params.activities.types, name)
        claim = roi_claim(name)
        rows.append({"type": name, "threshold": spec.threshold, "cost_per_head": spec.cost_per_head,
                     "roi_article": float(claim.figure), "roi_text": claims.figure_text(claim),
                     "roi_kind": claim.kind})
    return pd.DataFrame(rows)


def purchase_key(activity: str) -> str:
    """The parameter that decides who buys in an activity (the one calibrated to its ROI, if any)."""
    field = "final_purchase_prob" if activity == "live_flash_sale" else "purchase_prob"
    return f"activities.types.{activity}.{field}"


#: The parameters table 3's display marks (the purchase chances and base participation).
TABLE3_KEYS = tuple(key for name in TYPES
                    for key in (purchase_key(name), f"activities.types.{name}.participation"))


def article_table_display(params: Params, lang: str = "zh") -> pd.DataFrame:
    """Table 3 for display: the article's threshold, cost per head and ROI (with whether the model
    tunes it or tests it), and the model's purchase chance and base participation, marked by
    their provenance (:func:`simlib.provenance.footnote` of :data:`TABLE3_KEYS`)."""
    table = article_table(params)

    def words(key: str) -> str:
        return sentences.sentence("activities", f"table3.{key}", lang)

    def value(key: str) -> str:
        leaf: Any = params
        for part in key.split("."):
            leaf = getattr(leaf, part)
        return provenance.mark(f"{leaf:.0%}", key)

    return pd.DataFrame({
        label("activity", lang): [label(name, lang) for name in table["type"]],
        words("threshold"): table["threshold"],
        label("cost_per_head", lang): [
            provenance.mark(f"{cost:g}", f"activities.types.{name}.cost_per_head")
            for name, cost in zip(table["type"], table["cost_per_head"], strict=True)],
        label("roi_article", lang): table["roi_text"],
        words("roi_kind"): [claims.kind_label(kind, lang) for kind in table["roi_kind"]],
        words("purchase"): [value(purchase_key(name)) for name in TYPES],
        words("participation"): [value(f"activities.types.{name}.participation") for name in TYPES],
    })


def all_types_schedule(every_days: int = 30) -> list[dict[str, Any]]:
    """A schedule running each of the four types once every ``every_days`` days, staggered."""
    if not isinstance(every_days, int) or every_days < 1:
        raise ValueError(f"every_days={every_days!r}: expected a positive integer")
    return [{"type": name, "every_days": every_days, "first_day": _OFFSETS[name] * every_days // 30}
            for name in TYPES]


# --------------------------------------------------------------------------- per-type economics


def per_replication_by_type(activities: pd.DataFrame) -> pd.DataFrame:
    """Per replication and activity type: instances, sums and derived rates.

    ``participation_rate`` = participants ÷ members reached, ``roi`` = revenue ÷ cost (the
    article's "1:x" read as x yuan of revenue per yuan spent), ``net`` = revenue − cost.
    """
    missing = {"replication", "type", *_SUM_COLUMNS} - set(activities.columns)
    if missing:
        raise ValueError(f"activities lacks columns {sorted(missing)}")
    if activities.empty:
        return pd.DataFrame(columns=["replication", "type", "instances", *_SUM_COLUMNS])
    grouped = activities.groupby(["replication", "type"], observed=True)
    frame = grouped[list(_SUM_COLUMNS)].sum()
    frame.insert(0, "instances", grouped.size())
    frame = frame.reset_index()
    frame["initial_participants"] = frame["participants"] - frame["newcomer_participants"]
    frame["participation_rate"] = frame["initial_participants"] / frame["reached"].where(frame["reached"] > 0)
    frame["completion_rate"] = frame["completed"] / frame["participants"].where(frame["participants"] > 0)
    frame["roi"] = frame["revenue"] / frame["cost"].where(frame["cost"] > 0)
    frame["net"] = frame["revenue"] - frame["cost"]
    for column in ("participants", "cost", "revenue", "net"):
        frame[f"{column}_per_instance"] = frame[column] / frame["instances"]
    return frame


def summarize_by_type(per_replication: pd.DataFrame, columns: Sequence[str] = (
        "participation_rate", "participants_per_instance", "cost_per_instance", "revenue_per_instance",
        "roi", "net_per_instance")) -> pd.DataFrame:
    """Mean and 95% interval over replications of each column, tidy: type, metric, mean, low, high, n."""
    rows = []
    for name in TYPES:
        part = per_replication[per_replication["type"] == name]
        if part.empty:
            continue
        for column in columns:
            entry = mean_ci(part[column].astype(float).tolist())
            rows.append({"type": name, "metric": column, **entry})
    return pd.DataFrame(rows, columns=["type", "metric", "mean", "low", "high", "n"])


def roi_comparison(per_replication: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Simulated ROI by type (mean, 95% interval) beside the article's figure."""
    summary = summarize_by_type(per_replication, ["roi"])
    table = article_table(params)[["type", "roi_article"]].merge(summary.drop(columns="metric"), on="type",
                                                                 how="left")
    table = table.rename(columns={"mean": "roi_sim", "low": "roi_low", "high": "roi_high"})
    table["article_in_interval"] = (table["roi_article"] >= table["roi_low"]) & (
        table["roi_article"] <= table["roi_high"]
    )
    table["sim_minus_article"] = table["roi_sim"] - table["roi_article"]
    return table


def expected_roi(params: Params, propensity: float = 1.0) -> pd.DataFrame:
    """The ROI each type's parameters imply per participant, before behaviour is simulated.

    ``propensity`` is the mean relative purchase odds of buyers (1 = an average member); the
    simulation's value differs because buyers are not average (cross-platform members buy
    more often) and because the number of completers is random.
    """
    t = params.activities.types
    rows = []
    completion = t.checkin.continue_prob ** t.checkin.streak_days
    rows.append(("checkin", completion * t.checkin.purchase_prob * propensity * t.checkin.order_value,
                 t.checkin.cost_per_head, completion))
    lottery = t.referral_lottery
    rows.append(("referral_lottery", lottery.purchase_prob * propensity * lottery.order_value,
                 lottery.cost_per_head, 1.0))
    sale = t.live_flash_sale
    rows.append(("live_flash_sale", sale.deposit + sale.final_purchase_prob * propensity * sale.order_value,
                 sale.cost_per_head, sale.final_purchase_prob))
    rows.append(("ugc", t.ugc.purchase_prob * propensity * t.ugc.order_value, t.ugc.cost_per_head, 1.0))
    frame = pd.DataFrame(rows, columns=["type", "revenue_per_participant", "cost_per_head", "completion"])
    frame["roi_expected"] = frame["revenue_per_participant"] / frame["cost_per_head"]
    return frame


# --------------------------------------------------------------------------- fission (裂变)


def expected_participants_per_seed(reproduction_number: float, generations: int | None = None) -> float:
    """Expected participants (the seed included) of a Galton–Watson cascade with mean offspring R.

    With ``generations`` None the cascade runs to extinction: 1 / (1 − R) for R < 1 and
    infinite otherwise. With a finite number of generations (a referral lottery of D days
    has D rounds of invitations, so D + 1 generations of participants) it is Σ_{k=0}^{D} R^k.
    """
    r = float(reproduction_number)
    if not math.isfinite(r) or r < 0:
        raise ValueError(f"reproduction_number={reproduction_number!r}: expected a finite number ≥ 0")
    if generations is None:
        return 1 / (1 - r) if r < 1 else math.inf
    if isinstance(generations, bool) or not isinstance(generations, (int, np.integer)) or generations < 0:
        raise ValueError(f"generations={generations!r}: expected an integer ≥ 0 or None")
    return float(sum(r**k for k in range(int(generations) + 1)))


def lottery_generations(params: Params) -> int:
    """Rounds of invitations of a referral lottery = its duration in days."""
    return params.activities.types.referral_lottery.duration_days


def fission_overrides(*, days: int = 30, initial_members: int = 100, group_cap: int = 500,
                      every_days: int = 5) -> dict[str, Any]:
    """Overrides that isolate the referral lottery's cascade: only lotteries, no other arrivals,
    no exits, no content shares bringing members, room in the group (cap ≫ members) and an
    unlimited referral audience (the branching process has no saturation)."""
    if initial_members > group_cap:
        raise ValueError(f"initial_members={initial_members} exceeds group_cap={group_cap}")
    return {
        "simulation.days": days,
        "simulation.initial_members": initial_members,
        "simulation.group_cap": group_cap,
        "community.overflow": "lost",  # one group: the cap cuts the cascade off (no new group opens)
        "activities.schedule": [{"type": "referral_lottery", "every_days": every_days, "first_day": 1}],
        "arrivals.channels.organic.daily_reach": 0.0,
        "arrivals.channels.douyin.daily_reach": 0.0,
        "arrivals.channels.xiaohongshu.daily_reach": 0.0,
        "arrivals.share_join_prob": 0.0,
        "arrivals.referral_audience": None,
        "members.base_exit_hazard": 0.0,
        **{f"risk.types.{kind}.incidents_per_year": 0.0 for kind in ("info_leak", "opinion_crisis",
                                                                     "data_loss", "violation")},
    }


def fission_ratio(activities: pd.DataFrame) -> pd.DataFrame:
    """Per replication: seeds (participants who started), all participants, and their ratio,
    over the referral-lottery instances."""
    lottery = activities[activities["type"] == "referral_lottery"]
    if lottery.empty:
        return pd.DataFrame(columns=["replication", "instances", "seeds", "participants", "ratio"])
    grouped = lottery.groupby("replication")
    frame = pd.DataFrame({
        "instances": grouped.size(),
        "seeds": grouped["participants"].sum() - grouped["newcomer_participants"].sum(),
        "participants": grouped["participants"].sum(),
        "invites": grouped["invites"].sum(),
        "referral_joins": grouped["referral_joins"].sum(),
    }).reset_index()
    frame["ratio"] = frame["participants"] / frame["seeds"].where(frame["seeds"] > 0)
    return frame


def admission_table(activities: pd.DataFrame, accept_prob: float) -> pd.DataFrame:
    """Per replication: referral-lottery invitations, expected acceptances (invites × accept)
    and the invitees actually admitted; ``admitted_share`` < 1 shows the group cap biting."""
    if not 0 <= accept_prob <= 1:
        raise ValueError(f"accept_prob={accept_prob!r}: expected a probability")
    ratio = fission_ratio(activities)
    ratio["expected_accepts"] = ratio["invites"] * accept_prob
    ratio["admitted_share"] = ratio["referral_joins"] / ratio["expected_accepts"].where(
        ratio["expected_accepts"] > 0
    )
    return ratio


# --------------------------------------------------------------------------- budget


def greedy_allocation(budget: float, cost_per_instance: Mapping[str, float], roi: Mapping[str, float], *,
                      repeat_decay: float = 0.7, max_per_type: int = 6) -> dict[str, int]:
    """Instances per month of each type, chosen greedily by marginal net return per yuan.

    The k-th instance of a type in a month is assumed to return ``roi × repeat_decay**(k−1)``
    per yuan (diminishing returns from repeating an activity — a planning ASSUMPTION, the
    simulation engine has no such fatigue). An instance is bought while its marginal net
    return (roi − 1 after decay) is positive and it fits in the remaining budget.
    """
    if budget < 0 or not math.isfinite(budget):
        raise ValueError(f"budget={budget!r}: expected a finite amount ≥ 0")
    if not 0 < repeat_decay <= 1:
        raise ValueError(f"repeat_decay={repeat_decay!r}: expected a number in (0, 1]")
    unknown = (set(cost_per_instance) | set(roi)) - set(TYPES)
    if unknown:
        raise ValueError(f"unknown activity types {sorted(unknown)}; expected some of {list(TYPES)}")
    counts = {name: 0 for name in TYPES if name in cost_per_instance and name in roi}
    for name in counts:
        if not cost_per_instance[name] > 0:
            raise ValueError(f"cost_per_instance[{name!r}]={cost_per_instance[name]!r}: expected a "
                             "positive cost")
    left = float(budget)
    while True:
        options = [(roi[name] * repeat_decay ** counts[name] - 1, name) for name in counts
                   if counts[name] < max_per_type and cost_per_instance[name] <= left + 1e-9]
        options = [(gain, name) for gain, name in options if gain > 0]
        if not options:
            return counts
        _, best = max(options)
        counts[best] += 1
        left -= cost_per_instance[best]


def schedule_from_counts(counts: Mapping[str, int], period: int = 30) -> list[dict[str, Any]]:
    """A schedule with ``counts[type]`` instances per ``period`` days, evenly spaced and staggered."""
    schedule = []
    for name, count in counts.items():
        if name not in TYPES:
            raise ValueError(f"unknown activity type {name!r}; expected one of {list(TYPES)}")
        if count <= 0:
            continue
        every = max(1, round(period / count))
        schedule.append({"type": name, "every_days": every, "first_day": _OFFSETS[name] * every // 30})
    return schedule


def roi_per_replication(activities: pd.DataFrame, activity: str, replications: int) -> list[float]:
    """The ROI of ``activity`` in each replication 0 … replications − 1 (NaN where it did not run),
    so two schedules run with the same seeds can be paired."""
    table = per_replication_by_type(activities)
    roi = table[table["type"] == activity].set_index("replication")["roi"]
    return [float(roi.get(replication, math.nan)) for replication in range(replications)]


def planned_spend(counts: Mapping[str, int], cost_per_instance: Mapping[str, float]) -> float:
    return float(sum(count * cost_per_instance[name] for name, count in counts.items()))


def schedule_counts(schedule: Sequence[Any], period: int = 30) -> dict[str, float]:
    """Instances per ``period`` days of each type in a schedule (entries with ``type`` and
    ``every_days``, as dicts or parameter objects)."""
    counts: dict[str, float] = {}
    for entry in schedule:
        kind = entry["type"] if isinstance(entry, Mapping) else entry.type
        every = entry["every_days"] if isinstance(entry, Mapping) else entry.every_days
        counts[kind] = counts.get(kind, 0.0) + period / every
    return counts


# --------------------------------------------------------------------------- worker metrics


def activity_extra(run) -> dict[str, float]:
    """Per-replication metrics for :func:`simlib.runner.simulate` ``extra`` (runs in the worker)."""
    from simlib.runner import window

    start, end = window(run.params)
    revenue = metrics.revenue(run.tables, start, end)
    cost = metrics.total_cost(run.tables, start, end)
    acts = run.activities
    months = run.params.simulation.days / 30
    activity_cost = float(acts["cost"].sum()) if len(acts) else 0.0
    activity_revenue = float(acts["revenue"].sum()) if len(acts) else 0.0
    lottery = acts[acts["type"] == "referral_lottery"] if len(acts) else acts
    return {  # the value KPIs (net, residual, ranking value) come from the summary itself
        "revenue_total": revenue,
        "cost_total": cost,
        "activity_cost": activity_cost,
        "activity_cost_per_month": activity_cost / months,
        "activity_revenue": activity_revenue,
        "activity_net": activity_revenue - activity_cost,
        "activity_participants": float(acts["participants"].sum()) if len(acts) else 0.0,
        "referral_joins": float(acts["referral_joins"].sum()) if len(acts) else 0.0,
        "lottery_participants": float(lottery["participants"].sum()) if len(lottery) else 0.0,
        "lottery_seeds": float((lottery["participants"] - lottery["newcomer_participants"]).sum())
        if len(lottery)
        else 0.0,
        "mean_members": float(run.daily["present"].mean()) if len(run.daily) else math.nan,
    }


# --------------------------------------------------------------------------- what the numbers say
#
# Each function returns the findings (simlib.findings) a part of notebook 03 states; the wording
# is chosen by the numbers and carries the checks that make it true.

SENTENCES = "activities"


def _words(key: str, lang: str, **values: Any) -> str:
    return sentences.sentence(SENTENCES, key, lang, **values)


def _texts(key: str, lang: str) -> dict[str, str]:
    return sentences.group(SENTENCES, key, lang)




def roi_findings(roi: pd.DataFrame, lang: str = "zh") -> list[Finding]:
    """Each type's simulated ROI (:func:`roi_comparison`) against table 3, worded by the kind of
    its claim: the calibrated ROIs in one sentence (an echo when they hold, a stale calibration
    when they do not), and each tested one (live flash sale) as its own headline finding
    ("activity_roi_<type>"): reproduced or not."""
    calibrated, tested = [], []
    for row in roi.to_dict("records"):
        claim = roi_claim(row["type"])
        entry = {"mean": row["roi_sim"], "low": row["roi_low"], "high": row["roi_high"]}
        headline = claim.kind == "test"
        key = f"activity_roi_{row['type']}" if headline else None
        found = against(f"ROI of {row['type']} vs T3", entry, float(claim.figure),
                        _texts(f"roi.{claim.kind}", lang), key=key, headline=headline,
                        type=label(row["type"], lang), value=num(entry),
                        figure=claims.figure_text(claim, lang), parameter=purchase_key(row["type"]))
        (tested if headline else calibrated).append(found)
    stop = "。" if lang == "zh" else "."
    tested = [Finding(found.text + stop, found.checks, found.key, found.headline) for found in tested]
    return [joined(calibrated, lang, lead=_words("roi.lead", lang)), *tested]


def paper_findings(roi: pd.DataFrame, paper: pd.DataFrame, lang: str = "zh") -> Finding:
    """Each type's simulated ROI against the ROI its parameters imply for an average buyer
    (:func:`expected_roi`), and where the difference comes from."""
    expected = paper.set_index("type")["roi_expected"]
    parts = []
    for row in roi.to_dict("records"):
        entry = {"mean": row["roi_sim"], "low": row["roi_low"], "high": row["roi_high"]}
        parts.append(against(f"ROI of {row['type']} vs paper", entry, float(expected[row["type"]]),
                             _texts("paper", lang), type=label(row["type"], lang), value=num(entry),
                             paper=f"{expected[row['type']]:.2f}"))
    space = "" if lang == "zh" else " "
    return joined(parts, lang, lead=_words("paper.lead", lang), tail=space + _words("paper.tail", lang))


def fission_check_finding(simulated: Any, analytic: float, overflow: float, lang: str = "zh") -> Finding:
    """The branching-process formula inside / outside the simulated interval of participants per seed."""
    mean, low, high = (float(simulated[key]) for key in ("mean", "low", "high"))
    inside = low <= analytic <= high
    text = _words(f"fission_check.{'inside' if inside else 'outside'}", lang, analytic=f"{analytic:.3f}",
                  simulated=num(simulated, 3), overflow=f"{overflow:.0f}")
    relation = "contains" if inside else "excludes"
    return Finding(text, (Check("participants per seed: simulated vs formula", relation, mean, low, high,
                                analytic),))


def invites_finding(difference: Any, low: float, high: float, r_low: float, r_high: float,
                    lang: str = "zh") -> Finding:
    """Participants of one lottery when the invitations per participant rise (paired difference)."""
    subject = _words("invites.subject", lang, low=f"{low:.2f}", high=f"{high:.2f}", r_low=f"{r_low:.2f}",
                     r_high=f"{r_high:.2f}")
    return findings.effect("lottery participants: high R − scenario R", difference, subject=subject,
                           lang=lang, fmt=lambda entry: signed(entry, 1) + _words("units.people", lang))


def seeds_text(reproduction_number: float, seed_share: float, lang: str = "zh") -> str:
    """How many of a lottery's participants are seeds by the formula (arithmetic, no effect)."""
    return _words("invites.seeds", lang, r=f"{reproduction_number:.2f}", seeds=f"{seed_share:.0%}")


def admission_findings(room: Any, full_lost: Any, full_new_group: Any, room_left: int,
                       lang: str = "zh") -> list[Finding]:
    """The share of accepted invitations that join (per-replication values of
    :func:`admission_table`) in a group with room, a nearly full group that turns newcomers away,
    and the same group opening a new one when full (paired differences)."""
    points = partial(pp, lang=lang)
    lost = compare.paired(room, full_lost)
    opened = compare.paired(full_lost, full_new_group)
    return [
        findings.effect("admitted share: full (lost) − room", lost, lang=lang, fmt=points,
                        subject=_words("admission.full_lost", lang, room=room_left)),
        findings.effect("admitted share: full (new group) − full (lost)", opened, lang=lang, fmt=points,
                        subject=_words("admission.full_new_group", lang, room=room_left)),
    ]


def policy_text(policy: str, groups: float, lang: str = "zh") -> str:
    """What a full group means under the scenario's overflow policy (a definition, no effect)."""
    return _words(f"policy.{policy}", lang, groups=f"{groups:.1f}")


def best_plan_findings(plans: Mapping[str, Any], names: Mapping[str, str], lang: str = "zh",
                       current: str = "plan_current") -> tuple[str, list[Finding]]:
    """The schedule with the highest mean ranking value among ``plans`` (name → SimulationResult,
    anything with ``values(name)``), against the runner-up (headline "activity_best_plan", with
    the checks of :func:`simlib.analysis.choice.best_arm`) and against the current schedule with
    net and residual value. ``names`` gives each plan's words."""
    best = choice.best_arm({name: result.values("ranking_value") for name, result in plans.items()},
                           "ranking_value")
    texts = _texts("best_plan", lang)
    lead = Finding(texts["increase" if best.separated else "unclear"].format(
        best=names[best.arm], runner=names[best.runner_up], value=yuan(best.lead, lang=lang)),
        best.checks, "activity_best_plan", True)
    found = [lead]
    if best.arm != current:
        parts = {part: yuan(compare.paired(plans[current], plans[best.arm], metric), lang=lang)
                 for part, metric in (("net", "net_value"), ("residual", "residual_value"))}
        versus_current = compare.paired(plans[current], plans[best.arm], "ranking_value")
        found.append(findings.choose("ranking_value: best plan − current", versus_current,
                                     _texts("best_vs_current", lang), best=names[best.arm],
                                     value=yuan(versus_current, lang=lang), **parts))
    return best.arm, found


def repeat_finding(counts: Mapping[str, float], once: pd.DataFrame, repeated: pd.DataFrame, replications: int,
                   lang: str = "zh") -> Finding:
    """Whether the best schedule (``counts``: instances per month by type) relies on repeating a
    type. When it runs a type more than once a month, that type's ROI per replication under the
    schedule (``repeated``: its activities rows) against once a month (``once``: the activities of
    a one-of-each schedule run with the same seeds), paired, says whether repeats wear off in the
    simulation."""
    repeats = {name: count for name, count in counts.items() if count > 1}
    if not repeats:
        most = max(counts.values(), default=0.0)
        check = Check("most instances of a type a month in the best schedule", "<=", most, bound=1.0)
        return Finding(_words("repeats.none", lang), (check,))
    kind = max(repeats, key=repeats.get)
    difference = compare.paired(roi_per_replication(once, kind, replications),
                                roi_per_replication(repeated, kind, replications))
    subject = _words("repeats.subject", lang, count=f"{repeats[kind]:g}", type=label(kind, lang))
    stated = findings.effect(f"ROI of {kind}: repeated − once a month", difference, subject=subject,
                             lang=lang, fmt=num)
    wears_off = findings.direction(difference) == "decrease"
    tail = _words("repeats.decrease" if wears_off else "repeats.other", lang)
    return Finding(f"{stated.text}{'' if lang == 'zh' else ' '}{tail}", stated.checks)


def participation_findings(base: Any, more: Any, lang: str = "zh") -> list[Finding]:
    """Participation × 1.5 in every type: the activity net and the community's ranking value."""
    return [findings.effect(f"{metric}: participation × 1.5 − base", compare.paired(base, more, metric),
                            subject=_words(f"subjects.participation_{part}", lang), lang=lang,
                            fmt=partial(yuan, lang=lang))
            for part, metric in (("net", "activity_net"), ("value", "ranking_value"))]
