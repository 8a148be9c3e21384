"""The eligibility and ranking section: the verdict first (the recommendation, or that no
scenario is eligible with how far each misses and the closest one), why the baseline misses
thresholds by a wide margin, then the ranking rule and the ranked table.
"""

from __future__ import annotations

import math

import pandas as pd

from simlib.report.collect import BatchResults
from simlib.report.differences import difference
from simlib.report.drivers import explanations_html
from simlib.report.eligibility import misses_text, none_eligible_html
from simlib.report.html import FAIL_STYLE, PASS_STYLE, format_diff, heading, render_html_table
from simlib.report.ranking import LEGACY_VALUE, RANKING_PARTS, RANKING_VALUE, Ranking
from simlib.report.tables import format_interval, format_number
from simlib.report.text import column_name, label, plain_text, raw_text, report_lang, text
from simlib.report_safety import html_text

#: The rule's sentence for each kind of ranking value.
_RULES = {RANKING_VALUE: "rule_ranking_value", LEGACY_VALUE: "rule_net", "roi": "rule_roi"}


def unit_kpi(ranking: Ranking) -> str:
    """The KPI whose number format the ranking value takes (money, or the ROI ratio)."""
    return "roi" if ranking.value_name == "roi" else "revenue_per_member"


def _bracket(low: float, high: float, kpi: str) -> str:
    return f"[{format_number(low, kpi)}, {format_number(high, kpi)}]"


def _in_sentence(name: str, lang: str) -> str:
    """An English label inside a sentence: "Net value per member" → "net value per member"."""
    if report_lang(lang) == "en" and len(name) > 1 and name[0].isupper() and name[1].islower():
        return name[0].lower() + name[1:]
    return name


def ranking_html(batch: BatchResults, ranking: Ranking, lang: str = "zh") -> str:
    """The section: verdict, threshold explanations, ranking rule, ranked table."""
    out = [heading("eligibility_head", lang, anchor="ranking")]
    if ranking.table.empty:
        out.append(f"<p>{text('no_kpis', lang)}</p>")
        return "".join(out)
    if ranking.any_eligible:
        out.append(f"<p>{recommendation_html(batch, ranking, lang)}</p>")
    else:
        out.append(none_eligible_html(batch, ranking, lang))
    out.append(explanations_html(ranking, lang))
    out.append(heading("ranking_head", lang, level=3))
    floor = (format_number(ranking.retention_floor, "retention_d30") if ranking.retention_floor is not None
             else plain_text("no_floor", lang))
    out.append(f"<p>{text(_RULES[ranking.value_name], lang, floor=floor)}</p>")
    if ranking.value_name != RANKING_VALUE:
        value_label = _in_sentence(label(ranking.value_name, lang), lang)
        note = text("legacy_value_note", lang, value_label=value_label)
        out.append(f"<p><b>{note}</b></p>")
    if not ranking.any_eligible:
        out.append(f"<p>{text('ranking_none_note', lang)}</p>")
    out.append(ranking_table_html(batch, ranking, lang))
    return "".join(out)


def ranking_display(
    batch: BatchResults, ranking: Ranking, lang: str = "zh"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ranked table for display and its cell styles: value [95% interval] with its parts,
    the paired difference vs. the baseline, eligibility and the conditions missed."""
    value_label = label(ranking.value_name, lang)
    value_unit = unit_kpi(ranking)
    rows, styles = [], []
    for row in ranking.table.itertuples(index=False):
        vs_baseline = format_diff(row.diff, row.diff_low, row.diff_high, value_unit, "")
        cells = {
            column_name("rank", lang): row.rank,
            column_name("scenario", lang): batch.display_name(row.scenario),
            column_name("value", lang, value_label=value_label):
                format_interval(row.value, row.value_low, row.value_high, value_unit),
        }
        parts = ranking.parts.get(row.scenario, {})
        for part in RANKING_PARTS if ranking.parts else ():
            entry = parts.get(part)
            cells[column_name("value", lang, value_label=label(part, lang))] = (
                format_interval(entry["mean"], entry["low"], entry["high"], value_unit) if entry else "–")
        cells[column_name("vs_baseline", lang)] = "" if row.scenario == ranking.baseline else vs_baseline
        cells[column_name("status", lang)] = plain_text("eligible" if row.eligible else "not_eligible", lang)
        cells[column_name("reasons", lang)] = misses_text(ranking.checks[row.scenario], lang)
        rows.append(cells)
        styles.append({column_name("status", lang): PASS_STYLE if row.eligible else FAIL_STYLE})
    return pd.DataFrame(rows), pd.DataFrame(styles)


def ranking_table_html(batch: BatchResults, ranking: Ranking, lang: str = "zh") -> str:
    """The ranked table (:func:`ranking_display`) as HTML."""
    return render_html_table(*ranking_display(batch, ranking, lang))


def recommendation_html(batch: BatchResults, ranking: Ranking, lang: str = "zh") -> str:
    """The best eligible scenario: why it wins, by how much vs. the baseline (with interval) and
    how sure its lead over the next eligible scenario is. Empty when none is eligible."""
    table = ranking.table
    if ranking.recommended is None:
        return ""
    top = table.iloc[0]
    value_label = _in_sentence(label(ranking.value_name, lang), lang)
    value_unit = unit_kpi(ranking)
    value = format_interval(top["value"], top["value_low"], top["value_high"], value_unit)
    why = text("why_eligible", lang, value_label=value_label, value=value)
    parts = [raw_text("winner", lang, name=html_text(batch.display_name(top["scenario"])), why=why)]
    if top["scenario"] == ranking.baseline:
        parts.append(text("is_baseline", lang))
    elif top["diff_method"] != "none":
        key = "vs_baseline_sig" if top["diff_significant"] else "vs_baseline_nonsig"
        parts.append(text(
            key, lang, value_label=value_label,
            diff=format_diff(top["diff"], math.nan, math.nan, value_unit, ""),
            interval=_bracket(top["diff_low"], top["diff_high"], value_unit),
            method=plain_text(top["diff_method"], lang),
        ))
    else:
        parts.append(text("vs_baseline_na", lang))
    eligible = table[table["eligible"]]
    if len(eligible) < 2:
        parts.append(text("only_eligible", lang))
        return " ".join(parts)
    parts.append(_lead_html(batch, ranking, top, eligible.iloc[1], lang))
    return " ".join(part for part in parts if part)


def _lead_html(batch: BatchResults, ranking: Ranking, top: pd.Series, second: pd.Series, lang: str) -> str:
    """How sure the lead of ``top`` over the next eligible scenario ``second`` is."""
    a, b = ranking.values.get(top["scenario"]), ranking.values.get(second["scenario"])
    if a is None or b is None:
        return ""
    value_unit = unit_kpi(ranking)
    diff = difference(b, a)  # the leader minus the runner-up
    overlap = not (top["value_low"] > second["value_high"] or second["value_low"] > top["value_high"])
    if diff["excludes_zero"] and not overlap:
        certainty = "sure_clear"
    elif diff["excludes_zero"]:
        certainty = "sure_paired"
    else:
        certainty = "sure_unclear"
    interval = _bracket(diff["low"], diff["high"], value_unit) if diff["method"] != "none" else "–"
    return raw_text(
        "vs_second", lang,
        second=html_text(batch.display_name(second["scenario"])),
        diff=html_text(format_diff(diff["mean_diff"], math.nan, math.nan, value_unit, "")),
        interval=html_text(interval),
        method=text(diff["method"], lang),
        certainty=text(certainty, lang),
    )
