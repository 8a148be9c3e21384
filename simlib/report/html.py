"""The report's HTML: tables and sections built from the report's tables, every user-supplied
string escaped (:func:`simlib.report_safety.html_text`) before it reaches the page.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from simlib.report.collect import DEFAULT_BASELINE, BatchResults
from simlib.report.tables import (
    KPI_GROUPS,
    KPIS,
    format_interval,
    format_number,
    relative_href,
    run_seconds,
    run_status,
)
from simlib.report.text import column_name, label, plain_text, text
from simlib.report_safety import html_text

#: KPIs where a decrease is an improvement (for colouring differences).
LOWER_IS_BETTER = frozenset({"cost", "exits"})

PASS_STYLE = "background-color:#d9f2d9;color:#14532d"
FAIL_STYLE = "background-color:#f8d7da;color:#7f1d1d"
_TABLE_STYLE = "border-collapse:collapse;font-size:13px;margin:6px 0"
_CELL_STYLE = "border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top"


def render_html_table(
    frame: pd.DataFrame,
    styles: pd.DataFrame | None = None,
    caption: str | None = None,
) -> str:
    """An HTML table of ``frame``; headers, cells, caption and styles are all escaped.

    ``styles`` (same shape and columns) holds inline CSS per cell.
    """
    columns = list(frame.columns)
    rows = [{column: html_text(_cell_text(frame[column].iloc[position])) for column in columns}
            for position in range(len(frame))]
    return render_fragment_table(columns, rows, styles, caption)


def render_fragment_table(
    columns: Sequence[str],
    rows: Sequence[Mapping[str, str]],
    styles: pd.DataFrame | None = None,
    caption: str | None = None,
) -> str:
    """An HTML table whose cells are HTML fragments the report built (and escaped) itself.

    ``columns`` (plain text headers, escaped here) and ``rows`` (``{column: fragment}``, a missing
    cell is empty); ``styles`` and ``caption`` as in :func:`render_html_table`.
    """
    parts = [f'<table style="{_TABLE_STYLE}">']
    if caption:
        parts.append(f'<caption style="text-align:left;font-weight:bold">{html_text(caption)}</caption>')
    parts.append("<thead><tr>")
    parts += [f'<th style="{_CELL_STYLE};background:#f3f4f6">{html_text(c)}</th>' for c in columns]
    parts.append("</tr></thead><tbody>")
    for position, row in enumerate(rows):
        parts.append("<tr>")
        for column in columns:
            style = _CELL_STYLE
            if styles is not None and column in styles.columns and styles[column].iloc[position]:
                style = f"{style};{styles[column].iloc[position]}"
            parts.append(f'<td style="{html_text(style)}">{row.get(column, "")}</td>')
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "–" if not math.isfinite(value) else f"{value:.4g}"
    return str(value)


def _with_headers(frame: pd.DataFrame, headers: Mapping[str, str], lang: str) -> pd.DataFrame:
    """``frame`` with its columns renamed to the report's headers (``{column: header key}``)."""
    return frame.rename(columns={name: column_name(key, lang) for name, key in headers.items()})


def heading(key: str, lang: str = "zh", level: int = 2, anchor: str | None = None) -> str:
    """A section heading from the report's texts; ``anchor`` gives it an id to link to."""
    target = f' id="{html_text(anchor)}"' if anchor else ""
    return f"<h{level}{target}>{text(key, lang)}</h{level}>"


def scenario_headers(batch: BatchResults, scenarios: Sequence[str]) -> dict[str, str]:
    """A column header per scenario: its display name, with the scenario's name added where two
    display names are the same (table columns must differ)."""
    names = {scenario: batch.display_name(scenario) for scenario in scenarios}
    counts = Counter(names.values())
    return {scenario: name if counts[name] == 1 else f"{name} ({scenario})"
            for scenario, name in names.items()}


def title_html(lang: str = "zh") -> str:
    """The report's title."""
    return f"<h1>{text('title', lang)}</h1>"


def intro_html(batch: BatchResults, lang: str = "zh", baseline: str = DEFAULT_BASELINE) -> str:
    """What the report reads (or a notice that the batch folder is missing)."""
    if not batch.found:
        return f"<p>{text('missing_batch', lang, batch=batch.batch_dir.name)}</p>"
    intro = text("intro", lang, batch=batch.batch_dir.name, n_scenarios=len(batch.kpis), baseline=baseline)
    return f"<p>{intro}</p>"


def status_html(batch: BatchResults, lang: str = "zh") -> str:
    """Run counts, the failed runs with their errors, and reading problems."""
    counts, failed = run_status(batch)
    total = sum(counts.values())
    shown = {status: count for status, count in counts.items() if count or status in ("ok", "failed")}
    parts_text = ", ".join(f"{status} {count}" for status, count in shown.items())
    seconds = run_seconds(batch)
    summary = text("status_summary", lang, total=total, parts=parts_text, seconds=f"{seconds:,.1f}")
    out = [heading("status_head", lang, anchor="status"), f"<p>{summary}</p>"]
    out.append(f"<h3>{text('failed_head', lang)}</h3>")
    if failed.empty:
        out.append(f"<p>{text('no_failed', lang)}</p>")
    else:
        failed = failed.assign(scenario=[batch.display_name(name) for name in failed["scenario"]])
        headers = {"notebook": "notebook", "scenario": "scenario", "status": "run_status",
                   "duration_s": "duration", "error": "error"}
        out.append(render_html_table(_with_headers(failed, headers, lang)))
    out.append(f"<h3>{text('problems_head', lang)}</h3>")
    if not batch.problems:
        out.append(f"<p>{text('no_problems', lang)}</p>")
    else:
        frame = pd.DataFrame([{"where": p.where, "problem": p.message} for p in batch.problems])
        out.append(render_html_table(_with_headers(frame, {"where": "where", "problem": "problem"}, lang)))
    return "".join(out)


def _threshold_text(kpi: str, bound: float) -> str:
    return f"≥ {format_number(bound, kpi)}"


def headline_display(
    headline: pd.DataFrame, flags: pd.DataFrame, lang: str = "zh", description: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Wide display table (scenarios × KPIs, "mean [low, high]") and its cell styles; the
    scenarios' descriptions in a column of their own unless ``description`` is False."""
    kpis = list(dict.fromkeys(headline["kpi"]))
    scenarios = list(dict.fromkeys(headline["scenario"]))
    bounds = dict(zip(flags["kpi"], flags["threshold"], strict=False))
    header = {}
    for kpi in kpis:
        name = label(kpi, lang)
        if kpi in bounds:
            name = f"{name} ({column_name('threshold', lang)} {_threshold_text(kpi, bounds[kpi])})"
        header[kpi] = name
    flag_of = {(r.scenario, r.kpi): r for r in flags.itertuples(index=False)}
    first = headline.drop_duplicates("scenario").set_index("scenario")
    body, styles = [], []
    for scenario in scenarios:
        row = {column_name("scenario", lang): first.loc[scenario, "scenario_label"]}
        style = {column_name("scenario", lang): ""}
        if description:
            text_ = first.loc[scenario, "description"]
            row[column_name("description", lang)] = text_ if isinstance(text_, str) else ""
            style[column_name("description", lang)] = ""
        for kpi in kpis:
            match = headline[(headline["scenario"] == scenario) & (headline["kpi"] == kpi)]
            column = header[kpi]
            if match.empty:
                row[column], style[column] = "–", ""
                continue
            entry = match.iloc[0]
            cell = format_interval(entry["mean"], entry["low"], entry["high"], kpi, entry["unit"])
            flag = flag_of.get((scenario, kpi))
            if flag is not None:
                style[column] = PASS_STYLE if flag.passed else FAIL_STYLE
                if not flag.certain:
                    cell += " *"
            else:
                style[column] = ""
            row[column] = cell
        body.append(row)
        styles.append(style)
    return pd.DataFrame(body), pd.DataFrame(styles)




def headline_html(
    headline: pd.DataFrame, flags: pd.DataFrame, lang: str = "zh", threshold_source: str = ""
) -> str:
    """The headline section: scenarios × KPIs with health colours."""
    out = [heading("headline_head", lang, anchor="headline")]
    if headline.empty:
        out.append(f"<p>{text('no_kpis', lang)}</p>")
        return "".join(out)
    out.append(f"<p>{text('headline_note', lang, source=threshold_source)}</p>")
    for position, (caption, part) in enumerate(_kpi_groups(headline)):
        display, styles = headline_display(part, flags, lang, description=position == 0)
        out.append(render_html_table(display, styles, caption=plain_text(caption, lang)))
    return "".join(out)


def _kpi_groups(frame: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """``frame``'s rows split by :data:`KPI_GROUPS` (caption key, rows), empty groups left out."""
    parts = [(caption, frame[frame["kpi"].isin(names)]) for caption, names in KPI_GROUPS.items()]
    return [(caption, part) for caption, part in parts if not part.empty]


def differences_display(
    batch: BatchResults, differences: pd.DataFrame, lang: str = "zh"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Wide display of :func:`paired_differences`: scenarios × KPIs, "diff [low, high]", and styles.

    A significant difference is green when it is an improvement (higher, or lower for
    :data:`LOWER_IS_BETTER` KPIs) and red when it is a deterioration; † marks a Welch interval.
    """
    kpis = list(dict.fromkeys(differences["kpi"]))
    scenario_column = column_name("scenario", lang)
    rows, styles = [], []
    for scenario in dict.fromkeys(differences["scenario"]):
        part = differences[differences["scenario"] == scenario].set_index("kpi")
        row, style = {scenario_column: batch.display_name(scenario)}, {scenario_column: ""}
        for kpi in kpis:
            column = label(kpi, lang)
            if kpi not in part.index:
                row[column], style[column] = "–", ""
                continue
            entry = part.loc[kpi]
            unit = batch.kpis[scenario][kpi]["unit"]
            cell = format_diff(entry["mean_diff"], entry["low"], entry["high"], kpi, unit)
            if entry["method"] == "welch":
                cell += " †"
            row[column] = cell
            better = entry["mean_diff"] < 0 if kpi in LOWER_IS_BETTER else entry["mean_diff"] > 0
            style[column] = (PASS_STYLE if better else FAIL_STYLE) if entry["excludes_zero"] else ""
        rows.append(row)
        styles.append(style)
    return pd.DataFrame(rows), pd.DataFrame(styles)


def differences_html(
    batch: BatchResults, differences: pd.DataFrame, lang: str = "zh", baseline: str = DEFAULT_BASELINE
) -> str:
    """The paired-differences section (one row per scenario, one column per KPI)."""
    out = [heading("diff_head", lang, anchor="differences")]
    if baseline not in batch.kpis:
        out.append(f"<p>{text('no_baseline', lang, baseline=baseline)}</p>")
        return "".join(out)
    out.append(f"<p>{text('diff_note', lang, baseline=batch.display_name(baseline))}</p>")
    if differences.empty:
        return "".join(out)
    welch = differences[differences["method"] == "welch"]
    if not welch.empty:
        notes = sorted(set(welch["note"]))
        out.append(f"<p><b>{text('welch_used', lang, n=len(welch), why='; '.join(notes))}</b></p>")
    for caption, part in _kpi_groups(differences):
        display, styles = differences_display(batch, part, lang)
        out.append(render_html_table(display, styles, caption=plain_text(caption, lang)))
    return "".join(out)


def format_diff(mean: float, low: float, high: float, kpi: str, unit: str) -> str:
    def signed(value: float) -> str:
        formatted = format_number(value, kpi, unit)
        if KPIS.get(kpi) == "share" and math.isfinite(value):
            formatted = formatted.replace("%", " pp")
        return ("+" + formatted) if math.isfinite(value) and value > 0 else formatted

    if not math.isfinite(low):
        return signed(mean)
    return f"{signed(mean)} [{signed(low)}, {signed(high)}]"




def frontier_note_html(batch: BatchResults, front: Sequence[str], lang: str = "zh") -> str:
    names = ", ".join(batch.display_name(name) for name in front) or "–"
    return f"<p>{text('frontier_note', lang, names=names)}</p>"


def csv_link_html(csv_path: Path, html_dir: Path, lang: str = "zh") -> str:
    """The sentence linking the exported headline CSV."""
    href = relative_href(csv_path, html_dir)
    return f"<p>{text('csv_note', lang, href=href, name=csv_path.name)}</p>"
