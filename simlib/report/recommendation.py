"""The ranking section: the rule, the ranked table, and the recommendation — why the first
scenario wins, by how much against the baseline, and how sure the order is.
"""

from __future__ import annotations

import html
import math

import pandas as pd

from simlib import labels
from simlib.report.collect import BatchResults
from simlib.report.differences import difference
from simlib.report.html import FAIL_STYLE, PASS_STYLE, format_diff, heading, render_html_table
from simlib.report.ranking import Ranking
from simlib.report.tables import format_interval, format_number
from simlib.report.text import column_name, label, raw_text, report_lang, text
from simlib.report_safety import html_text


def _reason_text(reason: tuple[str, str], lang: str, floor: float | None) -> str:
    kind, kpi = reason
    if kind == "retention":
        return text("reason_retention", lang, floor=format_number(floor or 0.0, "retention_d30"))
    return text(f"reason_{kind}", lang, kpi=label(kpi, lang))


def _unit_kpi(ranking: Ranking) -> str:
    """The KPI whose number format the ranking value takes (money, or the ROI ratio)."""
    return "revenue_per_member" if ranking.value_name == "net_value_per_member" else "roi"


def _bracket(low: float, high: float, kpi: str) -> str:
    return f"[{format_number(low, kpi)}, {format_number(high, kpi)}]"


def _reasons(reasons: list[tuple[str, str]], lang: str, floor: float | None) -> str:
    return "; ".join(_plain(_reason_text(reason, lang, floor)) for reason in reasons)


def ranking_html(batch: BatchResults, ranking: Ranking, lang: str = "zh") -> str:
    """The ranking rule, the ranked table and the recommendation with its reasons."""
    out = [heading("rank_head", lang)]
    if ranking.table.empty:
        out.append(f"<p>{text('no_kpis', lang)}</p>")
        return "".join(out)
    floor = (
        format_number(ranking.retention_floor, "retention_d30")
        if ranking.retention_floor is not None
        else labels.report_text("no_floor", report_lang(lang))
    )
    rule = "rule_net" if ranking.value_name == "net_value_per_member" else "rule_roi"
    out.append(f"<p>{text(rule, lang, floor=floor)}</p>")
    out.append(f"<p>{recommendation_html(batch, ranking, lang)}</p>")
    value_label = label(ranking.value_name, lang)
    unit_kpi = _unit_kpi(ranking)
    rows, styles = [], []
    for row in ranking.table.itertuples(index=False):
        vs_baseline = format_diff(row.diff, row.diff_low, row.diff_high, unit_kpi, "")
        rows.append({
            column_name("rank", lang): row.rank,
            column_name("scenario", lang): batch.display_name(row.scenario),
            column_name("value", lang, value_label=value_label):
                format_interval(row.value, row.value_low, row.value_high, unit_kpi),
            column_name("vs_baseline", lang): "" if row.scenario == ranking.baseline else vs_baseline,
            column_name("status", lang): text("eligible" if row.eligible else "not_eligible", lang),
            column_name("reasons", lang): _reasons(row.reasons, lang, ranking.retention_floor),
        })
        styles.append({column_name("status", lang): PASS_STYLE if row.eligible else FAIL_STYLE})
    out.append(render_html_table(pd.DataFrame(rows), pd.DataFrame(styles)))
    return "".join(out)


def _plain(fragment: str) -> str:
    """Undo escaping of a text() fragment so that render_html_table escapes it exactly once."""
    return html.unescape(fragment)


def _in_sentence(name: str, lang: str) -> str:
    """An English label inside a sentence: "Net value per member" → "net value per member"."""
    if report_lang(lang) == "en" and len(name) > 1 and name[0].isupper() and name[1].islower():
        return name[0].lower() + name[1:]
    return name


def recommendation_html(batch: BatchResults, ranking: Ranking, lang: str = "zh") -> str:
    """Why #1 wins, by how much vs. the baseline (with interval) and how sure the order is."""
    table = ranking.table
    if table.empty:
        return text("no_kpis", lang)
    top = table.iloc[0]
    value_label = _in_sentence(label(ranking.value_name, lang), lang)
    unit_kpi = _unit_kpi(ranking)
    value = format_interval(top["value"], top["value_low"], top["value_high"], unit_kpi)
    if top["eligible"]:
        why = text("why_eligible", lang, value_label=value_label, value=value)
    else:
        reasons = _reasons(top["reasons"], lang, ranking.retention_floor)
        why = text("why_none_eligible", lang, value_label=value_label, value=value, reasons=reasons)
    parts = [raw_text("winner", lang, name=html_text(batch.display_name(top["scenario"])), why=why)]
    if top["scenario"] == ranking.baseline:
        parts.append(text("is_baseline", lang))
    elif top["diff_method"] != "none":
        key = "vs_baseline_sig" if top["diff_significant"] else "vs_baseline_nonsig"
        parts.append(text(
            key, lang, value_label=value_label,
            diff=format_diff(top["diff"], math.nan, math.nan, unit_kpi, ""),
            interval=_bracket(top["diff_low"], top["diff_high"], unit_kpi),
            method=_plain(text(top["diff_method"], lang)),
        ))
    else:
        parts.append(text("vs_baseline_na", lang))
    if len(table) < 2:
        parts.append(text("only_one", lang))
        return " ".join(parts)
    second = table.iloc[1]
    a, b = ranking.values.get(top["scenario"]), ranking.values.get(second["scenario"])
    if a is None or b is None:
        return " ".join(parts)
    diff = difference(b, a)  # the leader minus the runner-up
    overlap = not (top["value_low"] > second["value_high"] or second["value_low"] > top["value_high"])
    if diff["excludes_zero"] and not overlap:
        certainty = "sure_clear"
    elif diff["excludes_zero"]:
        certainty = "sure_paired"
    else:
        certainty = "sure_unclear"
    interval = _bracket(diff["low"], diff["high"], unit_kpi) if diff["method"] != "none" else "–"
    parts.append(raw_text(
        "vs_second", lang,
        second=html_text(batch.display_name(second["scenario"])),
        diff=html_text(format_diff(diff["mean_diff"], math.nan, math.nan, unit_kpi, "")),
        interval=html_text(interval),
        method=text(diff["method"], lang),
        certainty=text(certainty, lang),
    ))
    return " ".join(parts)
