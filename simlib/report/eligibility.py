"""Eligibility in words and tables: how far each scenario misses each condition (health
thresholds and the retention floor) and the scenario closest to eligible when none is.

No scenario that fails a condition is called recommended here: when none is eligible the report
says so first and names the closest one, stating the rule that picked it.
"""

from __future__ import annotations

import math

import pandas as pd

from simlib.report.collect import BatchResults
from simlib.report.html import FAIL_STYLE, PASS_STYLE, format_diff, render_html_table
from simlib.report.ranking import Check, Ranking, closeness
from simlib.report.tables import format_interval, format_number
from simlib.report.text import column_name, label, plain_text, raw_text, text
from simlib.report_safety import html_text


def _value(check: Check) -> str:
    return format_interval(check.mean, check.low, check.high, check.kpi)


def miss_text(check: Check, lang: str) -> str:
    """A failed condition as plain text: "Share rate 12.9% < threshold 18.0%, short by 5.1 pp (28.3%)"."""
    if check.missing:
        return plain_text("reason_missing", lang, kpi=label(check.kpi, lang))
    key = "reason_retention" if check.kind == "retention" else "reason_health"
    return plain_text(key, lang, kpi=label(check.kpi, lang), value=format_number(check.mean, check.kpi),
                      bound=format_number(check.bound, check.kpi), gap=_gap(check),
                      relative=f"{check.relative_shortfall:.1%}")


def misses_text(checks: list[Check], lang: str) -> str:
    """Every failed condition of a scenario, as plain text joined by "; "."""
    return "; ".join(miss_text(check, lang) for check in checks if not check.passed)


def _gap(check: Check) -> str:
    """The shortfall in the KPI's units (percentage points for shares), without a sign."""
    return format_diff(check.shortfall, math.nan, math.nan, check.kpi, "").lstrip("+")


def _header(check: Check, lang: str) -> str:
    key = "floor" if check.kind == "retention" else "threshold_of"
    return column_name(key, lang, kpi=label(check.kpi, lang), bound=format_number(check.bound, check.kpi))


def distance_display(
    batch: BatchResults, ranking: Ranking, lang: str = "zh"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scenarios from the closest to eligible to the farthest × conditions: each cell the KPI's
    mean [95% interval] and, where missed, the shortfall in the KPI's units and as a share of
    the threshold; the number of conditions missed and the sum of relative shortfalls beside."""
    scenario_column, missed_column = column_name("scenario", lang), column_name("missed", lang)
    relative_column = column_name("relative_total", lang)
    rows, styles = [], []
    for scenario in ranking.closeness_order():
        checks = ranking.checks[scenario]
        missing, missed, relative = closeness(checks)
        row = {scenario_column: batch.display_name(scenario), missed_column: f"{missed} / {len(checks)}",
               relative_column: f"{relative:.1%}"}
        if missing:
            row[relative_column] += " " + plain_text("kpis_missing", lang, n=missing)
        style = dict.fromkeys(row, "")
        for check in checks:
            column = _header(check, lang)
            if check.missing:
                row[column], style[column] = "–", FAIL_STYLE
                continue
            cell = _value(check) if check.passed else plain_text(
                "distance_missed", lang, value=_value(check), gap=_gap(check),
                relative=f"{check.relative_shortfall:.1%}")
            uncertain = check.low < check.bound <= check.high
            row[column] = cell + (" *" if uncertain else "")
            style[column] = PASS_STYLE if check.passed else FAIL_STYLE
        rows.append(row)
        styles.append(style)
    return pd.DataFrame(rows), pd.DataFrame(styles)


def _floor_texts(ranking: Ranking, lang: str) -> dict[str, str]:
    """The retention floor and how it was set, as plain text."""
    if ranking.retention_floor is None:
        return {"floor": plain_text("no_floor", lang), "floor_rule": ""}
    floor = format_number(ranking.retention_floor, "retention_d30")
    if ranking.retention_tolerance is None:
        return {"floor": floor, "floor_rule": plain_text("floor_given", lang)}
    base = format_number(ranking.retention_floor + ranking.retention_tolerance, "retention_d30")
    tolerance = format_diff(ranking.retention_tolerance, math.nan, math.nan, "retention_d30", "")
    return {"floor": floor, "floor_rule": plain_text("floor_from_baseline", lang, base=base,
                                                     tolerance=tolerance.lstrip("+"))}


def scenario_misses(batch: BatchResults, ranking: Ranking, key: str, scenario: str, lang: str) -> str:
    """A sentence naming ``scenario`` with the conditions it misses (template ``key``)."""
    checks = ranking.checks[scenario]
    failed = [check for check in checks if not check.passed]
    return raw_text(key, lang, name=html_text(batch.display_name(scenario)), count=len(failed),
                    total=len(checks), misses=html_text(misses_text(checks, lang)))


def none_eligible_html(batch: BatchResults, ranking: Ranking, lang: str = "zh") -> str:
    """No scenario is eligible: say so, show how far each misses each condition, and name the
    closest scenario with the rule that picked it (and the top-valued one, if another)."""
    out = [f"<p>{text('none_eligible', lang, n=len(ranking.table))}</p>"]
    display, styles = distance_display(batch, ranking, lang)
    out.append(render_html_table(display, styles))
    out.append(f"<p>{text('distance_note', lang, **_floor_texts(ranking, lang))}</p>")
    closest = ranking.closest
    out.append(f"<p>{scenario_misses(batch, ranking, 'closest', closest, lang)} "
               f"{text('closest_rule', lang)}</p>")
    top_valued = str(ranking.table["scenario"].iloc[0])
    if top_valued != closest:
        out.append(f"<p>{scenario_misses(batch, ranking, 'top_value_ineligible', top_valued, lang)}</p>")
    return "".join(out)
