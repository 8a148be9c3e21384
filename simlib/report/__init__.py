"""The comparative strategy report: read a batch folder, compare scenarios, rank them.

The notebook ``strategy_report.ipynb`` is only glue: it displays the HTML strings and figures
built here, section by section. The package is split by concern:

* :mod:`~simlib.report.collect` — reading a batch folder (:mod:`simlib.batch_folder`): runs,
  results, scenarios; bad content becomes a listed problem, never an exception;
* :mod:`~simlib.report.tables` — headline KPIs with 95% intervals, health thresholds (from the
  validated parameters) and flags, run status, links, the CSV export;
* :mod:`~simlib.report.differences` — scenario − baseline through :mod:`simlib.compare`: paired by
  replication (common random numbers), Welch's unpaired interval where seeds or counts differ;
* :mod:`~simlib.report.ranking` — the ranking value (the community's ``ranking_value``, else the
  legacy net value per member), eligibility checks with their shortfalls, the ranked table, the
  scenario closest to eligible, the Pareto front;
* :mod:`~simlib.report.eligibility` — the verdict: how far each scenario misses each condition,
  the closest scenario and the rule that picked it;
* :mod:`~simlib.report.drivers` — what sets each health-thresholded KPI in the model
  (``simlib/data/kpi_drivers.yaml``), shown where the baseline misses a threshold widely;
* :mod:`~simlib.report.rebuild` — each scenario's parameters exactly as the batch ran them;
* :mod:`~simlib.report.robustness` (and ``robustness_section``) — every scenario ranked again with
  the least certain assumptions moved: is the answer robust or fragile;
* :mod:`~simlib.report.summary` — the one screen at the top that answers the question;
* :mod:`~simlib.report.claims_check` — the article's claims × scenarios (原文主张核对);
* :mod:`~simlib.report.dimensions` — each dimension's headline findings side by side, and the
  executed notebooks as a notebook × scenario matrix of links;
* :mod:`~simlib.report.html` and :mod:`~simlib.report.recommendation` — the sections as HTML;
* :mod:`~simlib.report.figures` — the plots (set up with :func:`simlib.plots.setup`);
* :mod:`~simlib.report.text` — the words, from the one catalog :mod:`simlib.labels`.

Every user-supplied string (scenario names, labels, descriptions, notebook names, error
messages) is escaped with :func:`simlib.report_safety.html_text` before it reaches HTML, the
CSV export goes through :func:`simlib.report_safety.csv_safe`, and plots draw user text through
:func:`~simlib.report.figures.plot_text` (no mathtext).
"""

from simlib.batch_folder import HEADLINE_CSV, Problem
from simlib.report.claims_check import claims_html
from simlib.report.collect import (
    DEFAULT_BASELINE,
    BatchResults,
    Run,
    Scenario,
    collect,
    resolve_batch_dir,
    tier_mix,
)
from simlib.report.differences import difference, paired_differences
from simlib.report.dimensions import findings_html, headline_findings, notebooks_html
from simlib.report.drivers import (
    EXPLAIN_MARGIN,
    explained_kpis,
    explanations_html,
    kpi_drivers,
    leaf_paths,
    resolve_param,
)
from simlib.report.eligibility import distance_display, none_eligible_html
from simlib.report.figures import plot_frontier, plot_kpi_bars, plot_name, plot_text, plot_tier_mix
from simlib.report.fitcheck import fit_check_html, read_fit_check
from simlib.report.html import (
    FAIL_STYLE,
    PASS_STYLE,
    csv_link_html,
    differences_display,
    differences_html,
    frontier_note_html,
    heading,
    headline_display,
    headline_html,
    intro_html,
    render_fragment_table,
    render_html_table,
    status_html,
    title_html,
)
from simlib.report.ranking import (
    DEFAULT_RETENTION_TOLERANCE,
    LEGACY_VALUE,
    RANKING_PARTS,
    RANKING_VALUE,
    Check,
    Ranking,
    net_values,
    pareto_front,
    rank_scenarios,
    ranking_values,
)
from simlib.report.rebuild import BatchParameters, batch_parameters
from simlib.report.recommendation import (
    ranking_display,
    ranking_html,
    ranking_table_html,
    recommendation_html,
)
from simlib.report.robustness import ASSUMPTIONS, DEFAULT_REPLICATIONS, Assumption, Robustness, assess
from simlib.report.robustness_section import robustness_html
from simlib.report.summary import summary_html
from simlib.report.tables import (
    KPIS,
    format_interval,
    format_number,
    headline_csv_frame,
    headline_table,
    health_flags,
    load_health_thresholds,
    run_links,
    run_status,
    write_headline_csv,
)
from simlib.report.text import label, text

__all__ = [
    "ASSUMPTIONS", "Assumption", "BatchParameters", "BatchResults", "Check", "DEFAULT_BASELINE",
    "DEFAULT_REPLICATIONS", "DEFAULT_RETENTION_TOLERANCE", "EXPLAIN_MARGIN", "FAIL_STYLE", "HEADLINE_CSV",
    "KPIS", "LEGACY_VALUE", "PASS_STYLE", "Problem", "RANKING_PARTS", "RANKING_VALUE", "Ranking",
    "Robustness", "Run", "Scenario", "assess", "batch_parameters", "claims_html", "collect",
    "csv_link_html", "difference", "differences_display", "differences_html", "distance_display",
    "explained_kpis", "explanations_html", "findings_html", "fit_check_html", "format_interval",
    "format_number", "frontier_note_html", "heading", "headline_csv_frame", "headline_display",
    "headline_findings", "headline_html", "headline_table", "health_flags", "intro_html", "kpi_drivers",
    "label", "leaf_paths", "load_health_thresholds", "net_values", "none_eligible_html", "notebooks_html",
    "paired_differences", "pareto_front", "plot_frontier", "plot_kpi_bars", "plot_name", "plot_text",
    "plot_tier_mix", "rank_scenarios", "ranking_display", "ranking_html", "ranking_table_html",
    "ranking_values", "read_fit_check", "recommendation_html", "render_fragment_table", "render_html_table",
    "resolve_batch_dir", "resolve_param", "robustness_html", "run_links", "run_status", "status_html",
    "summary_html", "text", "tier_mix", "title_html", "write_headline_csv",
]
