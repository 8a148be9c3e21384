"""The robustness section as HTML: every scenario's rank in the re-simulation as run and under
each variant, the robust / fragile verdict with the variants that flip the answer, and the short
forms the summary at the top of the report uses.
"""

from __future__ import annotations

import math

import pandas as pd

from simlib.labels import report_texts
from simlib.report.collect import BatchResults
from simlib.report.drivers import format_param
from simlib.report.html import FAIL_STYLE, PASS_STYLE, heading, render_html_table, scenario_headers
from simlib.report.ranking import Ranking
from simlib.report.robustness import Assumption, Outcome, Robustness, Variant
from simlib.report.text import column_name, plain_text, raw_text, report_lang, text
from simlib.report_safety import html_text

#: How many assumptions the summary names as those the answer depends on.
SUMMARY_ASSUMPTIONS = 3


def _value(value: object) -> str:
    """A parameter's value, short: "16", "1,000,000", "0.5", "lost", "Beta(3, 12), mean 0.20"."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"
    return value if isinstance(value, str) else format_param(value)


def value_text(variant: Variant, lang: str) -> str:
    """A variant's value as plain text: "16", "lost", "×0.5", "mean 0.12"."""
    how = variant.assumption.how
    if how == "scale":
        return f"×{float(variant.value):g}"
    if how == "beta_mean":
        return plain_text("beta_mean_value", lang, mean=f"{float(variant.value):.2f}")
    return _value(variant.value)


def assumption_text(assumption: Assumption, result: Robustness, lang: str) -> str:
    """The assumption as plain text: its key path, what it is (when the report's texts say) and
    its value as run in the baseline (when it is one value)."""
    shown = assumption.param
    described = report_texts().get(f"assumption_{assumption.param}")
    if described:
        shown += f" — {described[report_lang(lang)]}"
    values = result.baseline_values.get(assumption.param, {})
    if len(values) == 1:
        shown += " " + plain_text("as_run_value", lang, value=_value(next(iter(values.values()))))
    return shown


def _first_text(batch: BatchResults, outcome: Outcome, lang: str) -> str:
    """Who comes first under an outcome, as plain text."""
    if outcome.first is None:
        return "–"
    key = "first_recommended" if outcome.first_eligible else "first_closest"
    return plain_text(key, lang, name=batch.display_name(outcome.first))


def flip_texts(batch: BatchResults, result: Robustness, lang: str) -> list[str]:
    """Each change of the answer as plain text: "members.ad_exit_slope = 16: X recommended"."""
    out = []
    if result.base is not None and result.flips(result.base):
        out.append(plain_text("flip_as_run", lang, k=result.replications,
                              first=_first_text(batch, result.base, lang)))
    for variant in result.flipping:
        out.append(plain_text("flip_variant", lang, param=variant.assumption.param,
                              value=value_text(variant, lang),
                              first=_first_text(batch, result.outcomes[variant.key], lang)))
    return out


def verdict_html(batch: BatchResults, result: Robustness, lang: str, limit: int | None = None) -> str:
    """The robust / fragile verdict in one sentence (HTML), or that it was not assessed; at most
    ``limit`` of the changes of the answer are named."""
    if result.robust is None:
        return text("robust_not_assessed", lang)
    name = html_text(batch.display_name(result.subject))
    if result.robust:
        return raw_text("robust_yes", lang, name=name, n=len(result.variants), k=result.replications)
    flips = flip_texts(batch, result, lang)
    if limit is not None and len(flips) > limit:
        flips = [*flips[:limit], plain_text("and_more", lang, n=len(flips) - limit)]
    return raw_text("robust_no", lang, name=name, flips=html_text("; ".join(flips)))


def depends_on(result: Robustness, count: int = SUMMARY_ASSUMPTIONS) -> list[tuple[Assumption, int, float]]:
    """The assumptions the answer depends on most (:meth:`Robustness.influence`): those that flip
    it, then those that move its margin most (:class:`Outcome`), at most ``count``."""
    return [row for row in result.influence() if row[1] or row[2] > 0][:count]


def margin_text(result: Robustness, margin: float) -> str:
    """The answer's margin (:class:`Outcome`) as plain text: CNY, or a share of the thresholds."""
    if not math.isfinite(margin):
        return "–"
    return f"{margin:,.0f}" if result.subject_kind == "recommended" else f"{margin:.1%}"


def depends_on_text(batch: BatchResults, result: Robustness, lang: str) -> str:
    """The assumptions of :func:`depends_on`, as plain text ("" when there are none)."""
    parts = []
    for assumption, flips, move in depends_on(result):
        if flips:
            parts.append(plain_text("depends_flips", lang, param=assumption.param, n=flips))
        elif result.subject_kind == "recommended":
            parts.append(plain_text("depends_moves", lang, param=assumption.param, move=f"{move:,.0f}",
                                    runner=batch.display_name(result.runner_up or "")))
        else:
            parts.append(plain_text("depends_moves_shortfall", lang, param=assumption.param,
                                    move=f"{move * 100:.1f}"))
    return "; ".join(parts)


def _place_cells(outcome: Outcome, headers: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Each scenario's place ("3 ✗" when ineligible) and its style (bold for the first)."""
    eligible = dict(zip(outcome.ranking.table["scenario"], outcome.ranking.table["eligible"], strict=True))
    cells, styles = {}, {}
    for scenario, place in outcome.places.items():
        if scenario in headers:
            cells[headers[scenario]] = f"{place}" + ("" if eligible.get(scenario) else " ✗")
            styles[headers[scenario]] = "font-weight:bold" if place == 1 else ""
    return cells, styles


def rank_display(batch: BatchResults, answer: Ranking, result: Robustness, lang: str
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The table: one row for the batch, one for the re-simulation as run, one per variant; a
    column per scenario with its place, who comes first and the answer's margin."""
    headers = scenario_headers(batch, list(answer.table["scenario"]))
    assumption, value = column_name("assumption", lang), column_name("variant_value", lang)
    first = column_name("first", lang)
    subject = batch.display_name(result.subject or "")
    margin = (column_name("lead", lang, name=subject, runner=batch.display_name(result.runner_up or ""))
              if result.subject_kind == "recommended" else column_name("shortfall", lang, name=subject))
    rows = [(plain_text("row_batch", lang, n=result.batch_replications or "?"), "–", result.outcome(answer),
             False)]
    if result.base is not None:
        rows.append((plain_text("row_as_run", lang, k=result.replications), "–", result.base,
                     result.flips(result.base)))
    for variant in result.variants:
        outcome = result.outcomes[variant.key]
        rows.append((assumption_text(variant.assumption, result, lang), value_text(variant, lang), outcome,
                     result.flips(outcome)))
    body, styles = [], []
    for name, shown_value, outcome, flipped in rows:
        cells, cell_styles = _place_cells(outcome, headers)
        body.append({assumption: name, value: shown_value, **cells, first: _first_text(batch, outcome, lang),
                     margin: margin_text(result, outcome.margin)})
        styles.append({**dict.fromkeys(headers.values(), ""), **cell_styles,
                       first: FAIL_STYLE if flipped else PASS_STYLE})
    return pd.DataFrame(body), pd.DataFrame(styles)


def robustness_html(batch: BatchResults, answer: Ranking, result: Robustness, lang: str = "zh") -> str:
    """The section: what was moved and how, the verdict, the rank table and what was left out."""
    out = [heading("robustness_head", lang, anchor="robustness")]
    if result.not_assessed:
        key = f"robust_why_{result.not_assessed}"
        out.append(f"<p>{text(key, lang, k=result.replications)}</p>")
        if result.problems:
            items = "".join(f"<li>{html_text(batch.display_name(name))}: {html_text(why)}</li>"
                            for name, why in result.problems.items())
            out.append(f"<ul>{items}</ul>")
        return "".join(out)
    intro = text("robust_intro", lang, n=len(dict.fromkeys(v.assumption for v in result.variants)),
                 seed=result.seed, k=result.replications, batch_n=result.batch_replications or "?",
                 scenarios=len(answer.table), runs=result.simulated, seconds=f"{result.seconds:.0f}")
    out.append(f"<p>{intro}</p>")
    out.append(f"<p><b>{verdict_html(batch, result, lang)}</b></p>")
    if result.reproduces_batch is not None:
        key = "reproduced_batch" if result.reproduces_batch else "not_reproduced_batch"
        out.append(f"<p>{text(key, lang)}</p>")
    display, styles = rank_display(batch, answer, result, lang)
    out.append(render_html_table(display, styles))
    note = "robust_table_note" if result.subject_kind == "recommended" else "robust_table_note_closest"
    out.append(f"<p>{text(note, lang)}</p>")
    if result.skipped:
        items = "".join(f"<li>{html_text(note)}</li>" for note in result.skipped)
        out.append(f"<p>{text('robust_skipped', lang)}</p><ul>{items}</ul>")
    return "".join(out)
