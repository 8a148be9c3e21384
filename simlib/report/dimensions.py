"""What each dimension (lesson notebook) found, side by side across scenarios, and the executed
notebooks as a notebook × scenario matrix of links.

A lesson marks one to three of its findings ``headline`` in its results.json (:mod:`simlib.findings`).
Their text is Markdown the notebook built; it may carry a scenario label, so it is rendered with
raw HTML escaped (mistune's ``escape``) and then passed through
:func:`simlib.report_safety.clean_html_fragment`: emphasis shows, markup and ``$…$`` stay text.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping

import pandas as pd

from simlib.batch_folder import last_attempts
from simlib.claims import LESSON_NOTEBOOKS
from simlib.labels import report_texts
from simlib.report.collect import DEFAULT_BASELINE, BatchResults
from simlib.report.html import FAIL_STYLE, heading, render_fragment_table, scenario_headers
from simlib.report.tables import run_links
from simlib.report.text import column_name, report_lang, text
from simlib.report_safety import clean_html_fragment, html_text


@functools.cache
def _markdown() -> Callable[[str], str]:
    import mistune

    return mistune.create_markdown(escape=True)


def finding_html(markdown: str) -> str:
    """A finding's Markdown as safe inline HTML (no paragraph around it)."""
    rendered = clean_html_fragment(_markdown()(markdown)).strip()
    if rendered.startswith("<p>") and rendered.endswith("</p>") and rendered.count("<p>") == 1:
        rendered = rendered[3:-4]
    return rendered


def dimension_name(notebook: str, lang: str) -> str:
    """"§1 用户分层" for a lesson notebook (plain text); any other notebook by its name."""
    entry = report_texts().get(f"dimension_{notebook}")
    return entry[report_lang(lang)] if entry else notebook


def _notebook_order(notebooks: set[str]) -> list[str]:
    return [nb for nb in LESSON_NOTEBOOKS if nb in notebooks] + sorted(notebooks - set(LESSON_NOTEBOOKS))


def headline_findings(batch: BatchResults) -> dict[tuple[str, str], list[str]]:
    """{(notebook, scenario): the Markdown texts of the run's headline findings}."""
    found: dict[tuple[str, str], list[str]] = {}
    for run in batch.runs:
        findings = (run.results or {}).get("findings")
        if not isinstance(findings, list):
            continue
        texts = [item["text"] for item in findings if isinstance(item, Mapping)
                 and item.get("headline") is True and isinstance(item.get("text"), str)]
        if texts:
            found[run.notebook, run.scenario] = texts
    return found


def _dimension_column(lang: str) -> str:
    return column_name("dimension", lang)


def findings_html(batch: BatchResults, lang: str = "zh", baseline: str = DEFAULT_BASELINE) -> str:
    """The section: dimensions × scenarios, each cell the run's headline findings."""
    out = [heading("findings_head", lang, anchor="findings")]
    found = headline_findings(batch)
    scenarios = batch.scenario_names(baseline)
    if not found or not scenarios:
        out.append(f"<p>{text('no_findings', lang)}</p>")
        return "".join(out)
    out.append(f"<p>{text('findings_note', lang)}</p>")
    headers = scenario_headers(batch, scenarios)
    rows = []
    for notebook in _notebook_order({notebook for notebook, _ in found}):
        row = {_dimension_column(lang): html_text(dimension_name(notebook, lang))}
        for scenario in scenarios:
            texts = found.get((notebook, scenario))
            items = "".join(f"<li>{finding_html(item)}</li>" for item in texts or [])
            row[headers[scenario]] = f'<ul style="margin:0;padding-left:1.1em">{items}</ul>' if items else "–"
        rows.append(row)
    out.append(render_fragment_table([_dimension_column(lang), *headers.values()], rows))
    return "".join(out)


def notebooks_html(batch: BatchResults, html_dir: str | os.PathLike | None = None, lang: str = "zh",
                   baseline: str = DEFAULT_BASELINE) -> str:
    """The executed notebooks as a notebook × scenario matrix: a link to each run's page (only
    files inside ``<batch_dir>/runs``, hrefs relative to ``html_dir`` and quoted); a run that did
    not succeed shows its status."""
    out = [heading("links_head", lang, anchor="notebooks")]
    links = run_links(batch, html_dir)
    pages = dict(zip(zip(links["notebook"], links["scenario"], strict=True), links["href"], strict=True))
    statuses = {(str(record.get("notebook", "")), str(record.get("scenario", ""))): str(record.get("status"))
                for record in last_attempts(batch.manifest).values()}
    statuses = {key: status for key, status in statuses.items() if status not in ("ok", "skipped")}
    if not pages and not statuses:
        out.append(f"<p>{text('no_links', lang)}</p>")
        return "".join(out)
    scenarios = list(dict.fromkeys([*batch.scenario_names(baseline),
                                    *sorted({scenario for _, scenario in [*pages, *statuses]})]))
    headers = scenario_headers(batch, scenarios)
    notebook_column = column_name("notebook", lang)
    rows, styles = [], []
    for notebook in _notebook_order({notebook for notebook, _ in [*pages, *statuses]}):
        name = dimension_name(notebook, lang)
        small = f"<br><small>{html_text(notebook)}</small>" if name != notebook else ""
        row = {notebook_column: html_text(name) + small}
        style = dict.fromkeys(headers.values(), "")
        for scenario in scenarios:
            if (notebook, scenario) in pages:
                href = html_text(pages[notebook, scenario])
                row[headers[scenario]] = f'<a href="{href}">{text("open_run", lang)}</a>'
            elif (notebook, scenario) in statuses:
                row[headers[scenario]] = html_text(statuses[notebook, scenario])
                style[headers[scenario]] = FAIL_STYLE
            else:
                row[headers[scenario]] = "–"
        rows.append(row)
        styles.append(style)
    out.append(render_fragment_table([notebook_column, *headers.values()], rows, pd.DataFrame(styles)))
    return "".join(out)
