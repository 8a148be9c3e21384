"""The one screen that answers the question, at the top of the report (``id="summary"``).

In a few lines: the recommendation (or that no scenario is eligible, and the closest one with
what it misses); by how much it beats the baseline (the paired difference of the ranking value
with its 95% interval); how sure that is (the interval, and the robustness verdict); the two or
three assumptions the answer depends on most; a short alert when runs failed or results could
not be read; and links down to the sections. It has to fit above the fold at 1366×768.
"""

from __future__ import annotations

import math

from simlib.compare import excludes_zero
from simlib.report.collect import BatchResults
from simlib.report.eligibility import scenario_misses
from simlib.report.html import format_diff
from simlib.report.ranking import Ranking
from simlib.report.recommendation import unit_kpi
from simlib.report.robustness import Robustness
from simlib.report.robustness_section import depends_on_text, verdict_html
from simlib.report.tables import run_status
from simlib.report.text import plain_text, raw_text, text
from simlib.report_safety import html_text

ANCHOR = "summary"
#: The anchors of the report's sections, in page order; ``nav_<anchor>`` is each link's text.
SECTIONS = ("ranking", "robustness", "headline", "differences", "findings", "claims", "plots", "notebooks",
            "status")
#: How many changes of the answer the summary names (the robustness section lists them all).
SUMMARY_FLIPS = 2
_BOX = "border:2px solid {colour};padding:6px 12px;margin:8px 0;border-radius:4px;font-size:14px"
_LINE = "margin:4px 0"


def _verdict(batch: BatchResults, ranking: Ranking, lang: str) -> str:
    if ranking.recommended is not None:
        name = html_text(batch.display_name(ranking.recommended))
        eligible = int(ranking.table["eligible"].sum())
        return raw_text("summary_recommended", lang, name=name, n_eligible=eligible, n=len(ranking.table))
    closest = scenario_misses(batch, ranking, "closest", ranking.closest, lang)
    return f"{text('summary_none', lang, n=len(ranking.table))} {closest}"


def _versus_baseline(batch: BatchResults, ranking: Ranking, subject: str, lang: str) -> tuple[str, str]:
    """(by how much vs. the baseline, how sure in words) for the answer ``subject``."""
    if subject == ranking.baseline:
        key = "summary_is_baseline" if ranking.recommended is not None else "summary_closest_is_baseline"
        return text(key, lang), ""
    row = ranking.table.set_index("scenario").loc[subject]
    if row["diff_method"] == "none" or not math.isfinite(row["diff_low"]):
        return text("summary_vs_baseline_na", lang), ""
    diff = format_diff(row["diff"], row["diff_low"], row["diff_high"], unit_kpi(ranking), "")
    by_how_much = text("summary_vs_baseline", lang, name=batch.display_name(subject),
                       baseline=batch.display_name(ranking.baseline), diff=diff,
                       method=plain_text(row["diff_method"], lang))
    clear = excludes_zero({"low": row["diff_low"], "high": row["diff_high"]})
    return by_how_much, text("summary_interval_clear" if clear else "summary_interval_unclear", lang)


def _alert(batch: BatchResults, lang: str) -> str:
    """A short warning when runs did not succeed or results could not be read ("" otherwise)."""
    _, failed = run_status(batch)
    parts = [plain_text(key, lang, n=count) for key, count in (("alert_failed", len(failed)),
                                                          ("alert_problems", len(batch.problems))) if count]
    return text("summary_alert", lang, what=plain_text("and", lang).join(parts)) if parts else ""


def _links(lang: str) -> str:
    links = " · ".join(f'<a href="#{anchor}">{text(f"nav_{anchor}", lang)}</a>' for anchor in SECTIONS)
    return text("summary_links", lang) + " " + links


def summary_html(batch: BatchResults, ranking: Ranking, lang: str = "zh", robustness: Robustness | None = None
                 ) -> str:
    """The summary block (see the module docstring), with the robustness verdict when
    ``robustness`` is given; every name and value escaped."""
    lines = []
    if ranking.table.empty:
        lines.append(text("no_kpis", lang))
        colour = "#b91c1c"
    else:
        subject = ranking.recommended or ranking.closest
        colour = "#15803d" if ranking.recommended is not None else "#b91c1c"
        lines.append(_verdict(batch, ranking, lang))
        by_how_much, interval = _versus_baseline(batch, ranking, subject, lang)
        lines.append(by_how_much)
        robust = (verdict_html(batch, robustness, lang, limit=SUMMARY_FLIPS) if robustness is not None
                  else text("robust_not_assessed", lang))
        if robustness is not None and robustness.reproduces_batch is False:
            robust += " " + text("summary_not_reproduced", lang)
        lines.append(raw_text("summary_sure", lang, interval=interval, robustness=robust))
        if robustness is not None and robustness.robust is not None and (
                depends := depends_on_text(batch, robustness, lang)):
            lines.append(text("summary_depends", lang, assumptions=depends))
    if alert := _alert(batch, lang):
        lines.append(f'<span style="color:#b91c1c">{alert}</span>')
    lines.append(_links(lang))
    body = "".join(f'<p style="{_LINE}">{line}</p>' for line in lines if line)
    return f'<div id="{ANCHOR}" style="{_BOX.format(colour=colour)}">{body}</div>'
