"""原文主张核对 across scenarios: every claim of the article's register × every scenario of the
batch, with its verdict and interval, grouped by the article's sections §1 … §8.

A claim's verdict comes from :func:`simlib.claims.verdict_table` on the metrics that the lesson
measuring it recorded in each scenario's run. Echoes (the figure is a model input, or a parameter
was calibrated to it) are labelled as echoes and never counted as evidence; untestable claims
show why. One line counts the verdicts.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from simlib import claims
from simlib.report.collect import DEFAULT_BASELINE, BatchResults
from simlib.report.html import FAIL_STYLE, PASS_STYLE, heading, render_html_table, scenario_headers
from simlib.report.text import label, text

ECHOES = ("echo_input", "echo_calibrated")
_STYLES = {"reproduced": PASS_STYLE, "not_reproduced": FAIL_STYLE,
           "inconclusive": "background-color:#fef3c7;color:#78350f",
           **dict.fromkeys(ECHOES, "color:#4b5563;font-style:italic"), "untestable": "color:#4b5563"}
#: Units of quantities that are never negative (their intervals are shown clipped at 0).
_NON_NEGATIVE = ("count", "ratio", "roi", "per_year", "minutes", "hours")


def _metrics(batch: BatchResults, notebook: str, scenario: str) -> Mapping[str, Any]:
    """The metrics the run of ``notebook`` on ``scenario`` recorded ({} without one)."""
    for run in batch.runs:
        if run.notebook == notebook and run.scenario == scenario and run.results is not None:
            metrics = run.results.get("metrics")
            return metrics if isinstance(metrics, Mapping) else {}
    return {}


def _measured_here(claim: claims.Claim, notebook: str) -> bool:
    """Whether ``notebook`` is where the claim is judged: its metric's lesson, else its section's."""
    return (claim.metric.notebook if claim.metric else claim.notebook) == notebook


def verdicts(batch: BatchResults, scenarios: Sequence[str], lang: str = "zh") -> pd.DataFrame:
    """Every claim × scenario, one row each (:data:`simlib.claims.TABLE_COLUMNS`), in register order."""
    frames = []
    for notebook in claims.LESSON_NOTEBOOKS:
        entries = {scenario: _metrics(batch, notebook, scenario) for scenario in scenarios}
        table = claims.verdict_table(entries, lang, notebook=notebook)
        here = [claim.id for claim in claims.for_notebook(notebook) if _measured_here(claim, notebook)]
        frames.append(table[table["claim"].isin(here)])
    order = list(claims.load_register())
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=claims.TABLE_COLUMNS)
    table["_order"] = table["claim"].map(order.index)
    return table.sort_values(["_order"], kind="mergesort").drop(columns="_order").reset_index(drop=True)


def measured_text(unit: str, mean: float, low: float, high: float, lang: str) -> str:
    """'+3.1% [+1.2%, +5.0%]', '0.39 [0.31, 0.47] 次/年'. A t interval over few replications can
    reach past what the quantity can be: a share's is clipped to [0, 1], that of a count, ratio or
    ROI, rate or duration (never negative) at 0."""
    if not math.isfinite(mean):
        return ""
    if unit == "share":
        low, high = max(low, 0.0), min(high, 1.0)
    elif unit in _NON_NEGATIVE:
        low = max(low, 0.0)
    if not (math.isfinite(low) and math.isfinite(high)):
        low = high = mean  # no interval: the measurement alone
    return claims.measured_text(unit, mean, low, high, lang)


def _cell(row: Any, lang: str) -> str:
    return " ".join(part for part in (claims.verdict_label(row.verdict, lang),
                                      measured_text(row.unit, row.mean, row.low, row.high, lang)) if part)


def section_display(table: pd.DataFrame, headers: Mapping[str, str], lang: str
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One section's claims × scenarios with styles: the claim, its kind, the article's figure,
    what the model measures (a test) or why it is an echo or untestable, then a cell per
    scenario with the verdict and the measured 95% interval."""
    rows, styles = [], []
    columns = [label("claim", lang), label("claim_kind", lang), label("article_figure", lang),
               label("explanation", lang)]
    for claim_id, part in table.groupby("claim", sort=False):
        claim = claims.get(claim_id)
        note = claim.measures or claim.why
        values = (claim.source, claims.kind_label(claim.kind, lang), claims.figure_text(claim, lang),
                  note.text(lang) if note else "")
        row = dict(zip(columns, values, strict=True))
        style = dict.fromkeys(row, "")
        for entry in part.itertuples(index=False):
            row[headers[entry.scenario]] = _cell(entry, lang)
            style[headers[entry.scenario]] = _STYLES.get(entry.verdict, "")
        rows.append(row)
        styles.append(style)
    return pd.DataFrame(rows), pd.DataFrame(styles)


def counts_text(table: pd.DataFrame, n_scenarios: int, lang: str) -> str:
    """The one-line count: tested claims × scenarios by verdict; echoes and untestable claims."""
    tested = table[table["kind"] == "test"]
    verdict_counts = Counter(tested["verdict"])
    per_claim = table.drop_duplicates("claim")
    return text("claims_count", lang, tests=tested["claim"].nunique(), scenarios=n_scenarios,
                reproduced=verdict_counts["reproduced"], not_reproduced=verdict_counts["not_reproduced"],
                inconclusive=verdict_counts["inconclusive"], not_measured=verdict_counts["not_measured"],
                echoes=int(per_claim["verdict"].isin(ECHOES).sum()),
                untestable=int((per_claim["verdict"] == "untestable").sum()))


def claims_html(batch: BatchResults, lang: str = "zh", baseline: str = DEFAULT_BASELINE) -> str:
    """The section 原文主张核对: the count, then one table per section of the article."""
    out = [heading("claims_head", lang, anchor="claims")]
    scenarios = batch.scenario_names(baseline)
    if not scenarios:
        out.append(f"<p>{text('no_kpis', lang)}</p>")
        return "".join(out)
    table = verdicts(batch, scenarios, lang)
    out.append(f"<p><b>{counts_text(table, len(scenarios), lang)}</b></p>")
    out.append(f"<p>{text('claims_note', lang)}</p>")
    headers = scenario_headers(batch, scenarios)
    for number, section in enumerate(claims.SECTIONS, start=1):
        part = table[table["section"] == section]
        if part.empty:
            continue
        out.append(f"<h3>{text(f'dimension_{claims.LESSON_NOTEBOOKS[number - 1]}', lang)}</h3>")
        out.append(render_html_table(*section_display(part, headers, lang)))
    return "".join(out)
