"""Risk control (notebook 07): table 7, the sensitive-word filter, incidents and major crises.

* :func:`risk_table` / :func:`escalation_table` — the article's table 7 and the parameters the
  model adds for major crises, with provenance marks (assumed ``*``, calibrated ``†``).
* :func:`expected_incidents` / :func:`expected_major_crises` / :func:`expected_incident_exits`
  — analytic expectations the simulation must reproduce (each group of the community draws each
  incident type as a Poisson process and lets each incident escalate with a fixed probability,
  cut by the three-level warning system).
* :func:`incident_summary` / :func:`incident_metrics` — per-replication incidents and major
  crises per group-year, incident exits per year and response hours by type from a
  :class:`~simlib.runner.SimulationResult`.
* :func:`filter_outcomes`, :func:`extend_lexicon`, :data:`EVASION_SPELLINGS`,
  :data:`VOCABULARY_GAPS` — filter evaluation on labelled messages and the lexicon what-if.
* :func:`flag_counts` — filter a real log's message text and report counts by category only.
* the sentences the notebook states, chosen by the numbers (:mod:`simlib.findings`; their words
  are in ``simlib/data/sentences/risk.yaml``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from simlib import findings, provenance
from simlib.analysis.choice import against
from simlib.analysis.sentences import group, sentence
from simlib.findings import Finding
from simlib.formatting import num, pct, signed
from simlib.params import Params
from simlib.results import mean_ci
from simlib.risk_filter import SensitiveWordFilter

# Spellings that evaded the shipped lexicon in the shipped labelled sample (see notebook 07):
# symbols and full-width letters around "vx" are already removed by normalization, so "vx"
# alone catches "＋ｖｘ" and "v❤️x"; "兼值" is a homophone of 兼职, "shua单" mixes pinyin,
# "sb" is an abbreviation of an insult.
EVASION_SPELLINGS: dict[str, list[str]] = {
    "fraud_spam": ["vx", "兼值日结", "shua单"],
    "abuse": ["sb"],
}
# Misses that are not disguised spellings but plain words the lexicon lacks.
VOCABULARY_GAPS: dict[str, list[str]] = {
    "fraud_spam": ["私我领"],
    "abuse": ["脑子进水"],
    "violation": ["代开", "出售游戏账号"],
}


class RiskInputError(ValueError):
    """A bad argument to a risk helper."""


# --------------------------------------------------------------------------- table 7


def risk_table(params: Params, lang: str = "zh") -> pd.DataFrame:
    """Table 7 (risk type, measures, response, effect, incidents a year) from ``params`` — blanks
    stay blank; assumed cells carry '*' (e.g. the effect of 违规操作, which the article leaves
    blank) and :func:`table_footnote` explains the marks. Data loss's response is its restore
    success, the effect the model uses (every restored loss is contained)."""
    from simlib.labels import label

    rows = []
    for kind, spec in params.risk.types.items():
        key = f"risk.types.{kind}"
        if spec.response is not None:
            response = provenance.mark(spec.response, f"{key}.response")
        elif spec.response_hours is not None:
            response = provenance.mark(f"≤{spec.response_hours:g} h", f"{key}.response_hours")
        elif kind == "data_loss":
            restored = provenance.mark(f"{spec.effect:.0%}", f"{key}.effect")
            response = f"{label('restore_success', lang)} {restored}"
        else:
            response = "—"
        rows.append({
            "type_key": kind,
            label("risk_type", lang): label(kind, lang),
            label("measure", lang): provenance.mark(spec.measure, f"{key}.measure"),
            label("response", lang): response,
            label("effect", lang): provenance.mark(f"{spec.effect:.0%}", f"{key}.effect"),
            label("incidents_per_group_year", lang): provenance.mark(f"{spec.incidents_per_year:g}",
                                                                     f"{key}.incidents_per_year"),
        })
    return pd.DataFrame(rows)


#: The parameters the model adds for major crises and uncontrolled incidents (shown with marks).
ESCALATION_KEYS = ("risk.major_crisis_prob", "risk.warning_escalation_reduction",
                   "risk.major_crisis_exit_multiplier", "risk.uncontrolled_response_hours")


def escalation_table(params: Params, lang: str = "zh") -> pd.DataFrame:
    """The major-crisis parameters with their values marked by provenance: the warning system's
    reduction is calibrated ('0.85†', tuned so that about 0.3 major crises a year happen)."""
    from simlib.labels import label

    rows = []
    for key in ESCALATION_KEYS:
        value = getattr(params.risk, key.split(".")[-1])
        rows.append({label("parameter", lang): key, label("value", lang): provenance.mark(f"{value:g}", key),
                     label("model_use", lang): sentence("risk", f"uses.{key}", lang)})
    return pd.DataFrame(rows)


def table_footnote(params: Params, lang: str = "zh") -> str:
    """The line under table 7 and the escalation table that explains their marks."""
    keys = [f"risk.types.{kind}.{field}" for kind in params.risk.types
            for field in ("effect", "incidents_per_year")]
    return provenance.footnote(lang, [*keys, *ESCALATION_KEYS])


# --------------------------------------------------------------------------- analytic expectations


def escalation_probability(params: Params, warning_system: bool | None = None) -> float:
    """P(an incident becomes a major crisis): major_crisis_prob × (1 − reduction if warnings)."""
    risk = params.risk
    warning = risk.warning_system if warning_system is None else warning_system
    return risk.major_crisis_prob * ((1 - risk.warning_escalation_reduction) if warning else 1.0)


def expected_incidents(params: Params) -> dict[str, float]:
    """Expected incidents per year by type (the model's Poisson rates)."""
    return {kind: spec.incidents_per_year for kind, spec in params.risk.types.items()}


def expected_major_crises(params: Params, warning_system: bool | None = None) -> float:
    """Σ incidents_per_year × major_crisis_prob × (1 − reduction if the warning system is on)."""
    return sum(expected_incidents(params).values()) * escalation_probability(params, warning_system)


def expected_incident_exits(params: Params, members: float, controls: bool | None = None,
                            warning_system: bool | None = None) -> dict[str, float]:
    """Expected exits per year caused by incidents, by type, among ``members`` (a group's or the
    whole community's: each group's incidents hit its own members, so the total is linear in them).

    Per incident a share exit_shock × residual × (major_crisis_exit_multiplier if major else 1)
    leaves, with residual 1 − effect under controls and 1 without (the model's rule). The
    violation type also removes the offender with probability effect under controls (not
    counted here).
    """
    if members < 0:
        raise RiskInputError(f"members={members!r}: expected ≥ 0")
    risk = params.risk
    controlled = risk.controls if controls is None else controls
    escalation = escalation_probability(params, warning_system)
    out = {}
    for kind, spec in risk.types.items():
        residual = (1 - spec.effect) if controlled else 1.0
        major_factor = 1 + (risk.major_crisis_exit_multiplier - 1) * escalation
        out[kind] = spec.incidents_per_year * spec.exit_shock * residual * major_factor * members
    return out


# --------------------------------------------------------------------------- simulated incidents


def group_years(result: Any) -> pd.Series:
    """Group-years of each replication: Σ over the days of the groups open ÷ 365 (each group has
    its own incidents from the day it opens)."""
    return result.daily.groupby("replication")["groups"].sum().astype(float) / 365


def incident_summary(result: Any) -> pd.DataFrame:
    """Per replication × type: incidents and major crises per group-year, incident exits per year
    (the whole community) and mean response hours. Replications without incidents of a type get
    zeros (response hours NaN)."""
    years = result.params.simulation.days / 365
    exposure = group_years(result)
    replications = range(result.replications)
    frame = result.incidents
    index = pd.MultiIndex.from_product([replications, list(result.params.risk.types)],
                                       names=["replication", "type"])
    if len(frame):
        grouped = frame.assign(type=frame["type"].astype(str), major=frame["major"].astype(bool)).groupby(
            ["replication", "type"]).agg(incidents=("incident_id", "size"), major=("major", "sum"),
                                         exits=("exits", "sum"),
                                         response_hours=("response_hours", "mean"))
    else:
        grouped = pd.DataFrame(columns=["incidents", "major", "exits", "response_hours"], index=index[:0])
    grouped = grouped.reindex(index)
    per_replication = exposure.reindex(grouped.index.get_level_values("replication")).to_numpy()
    for column in ("incidents", "major"):
        grouped[column] = grouped[column].fillna(0).astype(float) / per_replication
    grouped["exits"] = grouped["exits"].fillna(0).astype(float) / years
    return grouped.rename(columns={"incidents": "incidents_per_group_year", "major": "major_per_group_year",
                                   "exits": "exits_per_year"}).reset_index()


PER_REPLICATION = ("incidents_per_group_year", "major_per_group_year", "exits_per_year")


def incident_metrics(result: Any, **labels: Any) -> pd.DataFrame:
    """Tidy mean/low/high over replications of incidents and major crises per group-year and
    incident exits per year, by type and in total, plus response hours by type."""
    per = incident_summary(result)
    rows = []
    for kind, part in per.groupby("type", sort=False):
        for column in (*PER_REPLICATION, "response_hours"):
            entry = mean_ci(part[column].astype(float).tolist())
            rows.append({**labels, "type": kind, "metric": column, "mean": entry["mean"], "low": entry["low"],
                         "high": entry["high"]})
    totals = per.groupby("replication")[list(PER_REPLICATION)].sum()
    for column in totals.columns:
        entry = mean_ci(totals[column].tolist())
        rows.append({**labels, "type": "total", "metric": column, "mean": entry["mean"], "low": entry["low"],
                     "high": entry["high"]})
    return pd.DataFrame(rows)


def per_replication_totals(result: Any) -> pd.DataFrame:
    """Incidents and major crises per group-year and incident exits per year, one row per replication."""
    return incident_summary(result).groupby("replication")[list(PER_REPLICATION)].sum()


def poisson_ci(count: int, exposure: float, confidence: float = 0.95) -> tuple[float, float, float]:
    """Rate and exact (Garwood) interval of a Poisson count over ``exposure`` (e.g. group-years)."""
    from scipy import stats

    if count < 0 or int(count) != count:
        raise RiskInputError(f"count={count!r}: expected a whole number ≥ 0")
    if not exposure > 0:
        raise RiskInputError(f"exposure={exposure!r}: expected > 0")
    alpha = 1 - confidence
    low = 0.0 if count == 0 else stats.chi2.ppf(alpha / 2, 2 * count) / 2
    high = stats.chi2.ppf(1 - alpha / 2, 2 * count + 2) / 2
    return count / exposure, low / exposure, high / exposure


# --------------------------------------------------------------------------- the filter


def filter_outcomes(filter: SensitiveWordFilter, labelled: pd.DataFrame) -> pd.DataFrame:
    """``labelled`` with columns flagged, flagged_categories, terms and outcome (TP/FP/FN/TN)."""
    flags = filter.flag(labelled["text"].tolist())
    out = labelled.reset_index(drop=True).copy()
    out["flagged"] = flags["flagged"].to_numpy()
    out["flagged_categories"] = flags["categories"].to_numpy()
    out["terms"] = flags["terms"].to_numpy()
    actual = out["label"].astype(int).to_numpy() == 1
    flagged = out["flagged"].to_numpy()
    out["outcome"] = np.select([actual & flagged, ~actual & flagged, actual & ~flagged], ["TP", "FP", "FN"],
                               "TN")
    return out


def extend_lexicon(filter: SensitiveWordFilter,
                   additions: Mapping[str, Sequence[str]]) -> SensitiveWordFilter:
    """A new filter with ``additions`` ({category: [terms]}) appended to the lexicon."""
    lexicon = {category: list(terms) for category, terms in filter.lexicon.items()}
    for category, terms in additions.items():
        if isinstance(terms, str):
            raise RiskInputError(f"additions[{category!r}]={terms!r}: expected a list of terms, not a string")
        lexicon.setdefault(category, [])
        lexicon[category].extend(t for t in terms if t not in lexicon[category])
    return SensitiveWordFilter(lexicon, detect_personal_data=filter.detect_personal_data)


def merge_additions(*parts: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in parts:
        for category, terms in part.items():
            out.setdefault(category, []).extend(terms)
    return out


def flag_counts(filter: SensitiveWordFilter, events: pd.DataFrame) -> dict[str, Any]:
    """Run the filter over the ``text`` of message events; counts only (never the text).

    Returns ``{"messages": n with text, "flagged": n, "share": flagged/n, "by_category": {cat: n}}``
    or ``{"messages": 0, ...}`` when the log kept no text.
    """
    if "text" not in events.columns:
        return {"messages": 0, "flagged": 0, "share": math.nan, "by_category": {}}
    messages = events[(events["event"] == "message") & events["text"].notna()]
    if "msg_kind" in messages.columns:
        messages = messages[messages["msg_kind"].astype(str) == "text"]
    texts = messages["text"].astype(str).tolist()
    if not texts:
        return {"messages": 0, "flagged": 0, "share": math.nan, "by_category": {}}
    flags = filter.flag(texts)
    counts: dict[str, int] = {}
    for categories in flags.loc[flags["flagged"], "categories"]:
        for category in categories.split("|"):
            counts[category] = counts.get(category, 0) + 1
    flagged = int(flags["flagged"].sum())
    return {"messages": len(texts), "flagged": flagged, "share": flagged / len(texts), "by_category": counts}


# --------------------------------------------------------------------------- sentences


def say(key: str, lang: str, **values: Any) -> str:
    """A sentence of ``simlib/data/sentences/risk.yaml``."""
    return sentence("risk", key, lang, **values)


def _rate(interval: Any) -> dict[str, float]:
    """A filter's rate with its Wilson interval (``rate``, ``low``, ``high``) as an entry."""
    return {"mean": float(interval.rate), "low": float(interval.low), "high": float(interval.high)}


def filter_finding(precision: Any, recall: Any, article_effect: float, lang: str = "zh") -> Finding:
    """The headline ``filter_precision_recall``: precision and recall on the labelled sample (Wilson
    intervals), and where the recall interval lies against the article's 'risk −92%' for
    information leaks (a different measure, said in the sentence): below, above or around it."""
    recall_entry = _rate(recall)
    way, check = against(recall_entry, article_effect, "filter recall")
    text = say(f"filter.{way}", lang, precision=pct(_rate(precision)), recall=pct(recall_entry),
               figure=f"{article_effect:.0%}")
    return Finding(text, (check,), "filter_precision_recall", True)


def lexicon_finding(before: float, after: float, terms: int, lang: str = "zh") -> Finding:
    """Recall on the same sample before and after adding ``terms`` spellings (in-sample)."""
    return findings.versus("filter recall: extended − shipped lexicon", after - before, 0.0,
                           group("risk", "lexicon", lang), before=pct(before), after=pct(after), terms=terms)


def controls_findings(incident_exits: Any, all_exits: Any, lang: str = "zh") -> list[Finding]:
    """Without controls against with them (paired): incident exits per year and all exits over the run."""
    out = []
    for name, entry, unit in (("incident_exits", incident_exits, "members"), ("all_exits", all_exits, "run")):
        words = say(f"units.{unit}", lang)
        out.append(findings.effect(f"{name}: controls off − on", entry, subject=say(f"subjects.{name}", lang),
                                   lang=lang, up=say("verbs.more", lang), down=say("verbs.fewer", lang),
                                   fmt=lambda value, words=words: signed(value, 1) + words))
    return out


def incident_share_finding(share: Any, lang: str = "zh") -> Finding:
    """The share of all exits that incidents cause: below or above half."""
    return findings.versus("incident exits ÷ all exits", share, 0.5, group("risk", "incident_share", lang),
                           share=pct(share))


def warning_finding(difference: Any, lang: str = "zh") -> Finding:
    """Major crises per group-year with the warning system against without (paired)."""
    return findings.effect("major crises per group-year: warning on − off", difference,
                           subject=say("subjects.warning", lang), lang=lang, up=say("verbs.more", lang),
                           down=say("verbs.fewer", lang), fmt=lambda entry: signed(entry, 2))


def slow_response_finding(difference: Any, base_hours: float, slow_hours: float, lang: str = "zh") -> Finding:
    """Incident exits with a ``slow_hours`` instead of a ``base_hours`` opinion-crisis response (paired)."""
    texts = group("risk", "slow_response", lang)
    return findings.choose(f"incident exits: {slow_hours:g} h − {base_hours:g} h response", difference, texts,
                           diff=signed(difference, 2), base=f"{base_hours:g}", slow=f"{slow_hours:g}")


def restore_finding(exits: float, all_exits: float, restore: float, lang: str = "zh") -> Finding:
    """Expected exits a year from data losses at a restore success of ``restore``, against all
    exits a year: under or over 5% of them."""
    share = exits / all_exits if all_exits else math.nan
    return findings.versus("restore-failure exits ÷ all exits", share, 0.05, group("risk", "restore", lang),
                           restore=f"{restore:.0%}", exits=num(exits, 2), share=pct(share, 1))
