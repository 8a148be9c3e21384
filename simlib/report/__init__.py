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
  the closest scenario and the rule that picked it, the summary at the top of the report;
* :mod:`~simlib.report.drivers` — what sets each health-thresholded KPI in the model
  (``simlib/data/kpi_drivers.yaml``), shown where the baseline misses a threshold widely;
* :mod:`~simlib.report.html` and :mod:`~simlib.report.recommendation` — the sections as HTML;
* :mod:`~simlib.report.figures` — the plots (set up with :func:`simlib.plots.setup`);
* :mod:`~simlib.report.text` — the words, from the one catalog :mod:`simlib.labels`.

Every user-supplied string (scenario names, labels, descriptions, notebook names, error
messages) is escaped with :func:`simlib.report_safety.html_text` before it reaches HTML, the
CSV export goes through :func:`simlib.report_safety.csv_safe`, and plots draw user text through
:func:`~simlib.report.figures.plot_text` (no mathtext).
"""

from simlib.batch_folder import HEADLINE_CSV, Problem
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
from simlib.report.drivers import (
    EXPLAIN_MARGIN,
    explained_kpis,
    explanations_html,
    kpi_drivers,
    leaf_paths,
    resolve_param,
)
from simlib.report.eligibility import distance_display, none_eligible_html, summary_html
from simlib.report.figures import plot_frontier, plot_kpi_bars, plot_name, plot_text, plot_tier_mix
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
    links_html,
    render_html_table,
    status_html,
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
from simlib.report.recommendation import (
    ranking_display,
    ranking_html,
    ranking_table_html,
    recommendation_html,
)
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
    "DEFAULT_BASELINE", "DEFAULT_RETENTION_TOLERANCE", "EXPLAIN_MARGIN", "FAIL_STYLE", "HEADLINE_CSV",
    "KPIS", "LEGACY_VALUE", "PASS_STYLE", "RANKING_PARTS", "RANKING_VALUE", "BatchResults", "Check",
    "Problem", "Ranking", "Run", "Scenario", "collect", "csv_link_html", "difference",
    "differences_display", "differences_html", "distance_display", "explained_kpis",
    "explanations_html", "format_interval", "format_number", "frontier_note_html", "heading",
    "headline_csv_frame", "headline_display", "headline_html", "headline_table", "health_flags",
    "intro_html", "kpi_drivers", "label", "leaf_paths", "links_html", "load_health_thresholds",
    "net_values", "none_eligible_html", "paired_differences", "pareto_front", "plot_frontier",
    "plot_kpi_bars", "plot_name", "plot_text", "plot_tier_mix", "rank_scenarios", "ranking_display",
    "ranking_html", "ranking_table_html", "ranking_values", "recommendation_html", "render_html_table",
    "resolve_batch_dir", "resolve_param", "run_links", "run_status", "status_html", "summary_html",
    "text", "tier_mix", "write_headline_csv",
]
