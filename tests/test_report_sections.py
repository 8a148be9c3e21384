"""Tests of the report's sections on the lessons' results: the article's claims across scenarios,
the headline findings side by side, the notebook × scenario matrix of links, and the display of
shares and figures."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from report_batches import HEALTHY, community, scenario_batch

from simlib import report
from simlib.results import metric, write_results

matplotlib.use("Agg")

# --------------------------------------------------------------------------- claims, findings, matrix

HOSTILE_FINDING = "情景 **<img src=x onerror=alert(1)>$\\alpha$ 恶意** 的留存提高（+3.0%）。"


@pytest.fixture(scope="module")
def lessons_batch(tmp_path_factory) -> Path:
    """Two scenarios × lessons 01 and 06 with claim metrics and findings; 06 × tiered failed."""
    root = tmp_path_factory.mktemp("lessons")
    means = {"baseline": {**HEALTHY, "retention_d30": 0.6, **community(1000.0, 500.0)},
             "tiered": {**HEALTHY, "retention_d30": 0.62, **community(1500.0, 600.0)}}
    scenario_batch(root, means, {"baseline": "基线 <b>Baseline</b>", "tiered": "分层 Tiered"})
    claim_metrics = {  # two claims of §1 and one of §6, per scenario
        "baseline": {"tiered_vs_untiered_retention_lift": [0.40, 0.44, 0.43, 0.41, 0.42],
                     "tiered_loyal_repurchase_rate": [0.5, 0.7, 0.9, 0.4, 0.6]},
        "tiered": {"tiered_vs_untiered_retention_lift": [0.01, -0.02, 0.03, 0.0, 0.02],
                   "tiered_loyal_repurchase_rate": [0.3, 0.35, 0.33, 0.31, 0.32]},
    }
    findings = [{"key": "retention", "text": HOSTILE_FINDING, "headline": True, "checks": []},
                {"key": "detail", "text": "not a headline", "headline": False, "checks": []}]
    for index, (name, metrics) in enumerate(claim_metrics.items()):
        folder = root / "runs" / "01_member_tiering" / f"s{index}"
        write_results(folder, notebook="01_member_tiering", scenario=name, seed=3, replications=5,
                      metrics={key: metric(values, "share") for key, values in metrics.items()},
                      extra={"findings": findings if name == "tiered" else []})
        (folder / "notebook.html").write_text("<html>run</html>", encoding="utf-8")
    value_peak = root / "runs" / "06_monetization" / "s0"
    write_results(value_peak, notebook="06_monetization", scenario="baseline", seed=3, replications=5,
                  metrics={"value_peak_commercial_share": metric([-0.02, 0.01, 0.05, 0.0, 0.03], "share")})
    manifest = [{"notebook": "06_monetization", "scenario": "tiered", "scenario_slug": "s1",
                 "status": "failed", "error": "boom"}]
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in manifest), encoding="utf-8")
    return root


def test_every_claim_gets_a_verdict_per_scenario_by_section(lessons_batch):
    from simlib import claims
    from simlib.report import claims_check

    batch = report.collect(lessons_batch)
    table = claims_check.verdicts(batch, ["baseline", "tiered"], "en")
    assert len(table) == 2 * len(claims.load_register())
    verdicts = table.set_index(["claim", "scenario"])["verdict"]
    assert verdicts["tiering_retention_lift", "baseline"] == "reproduced"
    assert verdicts["tiering_retention_lift", "tiered"] == "not_reproduced"
    assert verdicts["tiering_loyal_repurchase", "baseline"] == "inconclusive"
    assert verdicts["monetization_share_cap", "baseline"] == "reproduced"
    assert verdicts["monetization_share_cap", "tiered"] == "not_measured"  # its run failed
    assert set(table[table["kind"] == "input"]["verdict"]) == {"echo_input"}
    section = report.claims_html(batch, "en")
    tested = sum(claim.kind == "test" for claim in claims.load_register().values())
    echoes = sum(claim.kind in ("input", "calibrated") for claim in claims.load_register().values())
    untestable = sum(claim.kind == "untestable" for claim in claims.load_register().values())
    assert (f"{tested} claims tested by simulation × 2 scenarios: 2 reproduced, 2 not reproduced, "
            f"1 inconclusive, {2 * tested - 5} not measured; {echoes} echoes") in section
    assert f"{untestable} untestable" in section
    assert section.index("§1 Member tiering") < section.index("§2 Content operations") < section.index("§8")
    assert "Echo (an input)" in section and "no evidence" in section
    assert "Reproduced +42.0% [+40.0%, +44.0%]" in section
    # A share's interval is clipped to [0, 1]: the t interval of the value peak reaches below 0.
    assert "Reproduced 1.4% [0.0%, " in section
    assert "基线 &lt;b&gt;Baseline&lt;/b&gt;" in section and "<b>Baseline" not in section


def test_headline_findings_side_by_side_are_escaped(lessons_batch):
    batch = report.collect(lessons_batch)
    assert report.headline_findings(batch) == {("01_member_tiering", "tiered"): [HOSTILE_FINDING]}
    section = report.findings_html(batch, "zh")
    assert "§1 用户分层" in section and "not a headline" not in section
    assert "<strong>&lt;img src=x onerror=alert(1)&gt;$\\alpha$ 恶意</strong>" in section
    assert "<img" not in section and "onerror=alert" in section
    empty = report.findings_html(report.collect(lessons_batch / "runs" / "06_monetization"), "en")
    assert "No run recorded headline findings." in empty


def test_executed_notebooks_are_a_matrix_of_links(lessons_batch):
    batch = report.collect(lessons_batch)
    section = report.notebooks_html(batch, None, "en")
    assert section.count('<a href="runs/01_member_tiering/') == 2
    assert '<a href="runs/04_kpi_monitoring/s0/notebook.html">' not in section  # no page, no link
    rows = section.split("<tr>")
    monetization = next(row for row in rows if "06_monetization" in row)
    assert f'{report.FAIL_STYLE}">failed</td>' in monetization
    assert section.index("§1 Member tiering") < section.index("§6 Monetization")


def test_share_intervals_are_clipped_for_display():
    assert report.format_interval(0.02, -0.03, 0.07, "retention_d30") == "2.0% [0.0%, 7.0%]"
    assert report.format_interval(0.98, 0.95, 1.04, "share_rate") == "98.0% [95.0%, 100.0%]"
    assert report.format_interval(5.0, -1.0, 11.0, "roi") == "5.00 [-1.00, 11.0]"  # not a share


def test_frontier_labels_do_not_overlap_and_the_tier_legend_covers_no_axis_label(tmp_path):
    import matplotlib.pyplot as plt

    names = [f"scenario number {i}" for i in range(7)]
    rows = [{"scenario": name, "scenario_label": name, "description": "", "kpi": kpi, "mean": value,
             "low": value - 1, "high": value + 1, "n": 5, "unit": "", "notebook": "04_kpi_monitoring"}
            for i, name in enumerate(names)
            for kpi, value in (("exits", 100 + 0.3 * i), ("revenue_per_member", 50 + 0.05 * (i % 2)))]
    headline = pd.DataFrame(rows)
    figure = report.plot_frontier(report.BatchResults(batch_dir=Path(".")), headline,
                                  report.pareto_front(headline), lang="en")
    renderer = figure.canvas.get_renderer()
    boxes = [text.get_window_extent(renderer) for text in figure.axes[0].texts]
    assert len(boxes) == len(names)
    boxes.append(figure.axes[0].get_legend().get_window_extent(renderer))
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    plt.close(figure)
    means = {name: {**HEALTHY, "retention_d30": 0.6} for name in ("baseline", "a", "b", "c")}
    batch = report.collect(scenario_batch(tmp_path, means, notebooks=("01_member_tiering",)))
    figure = report.plot_tier_mix(batch, report.tier_mix(batch), lang="en")
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    legend = figure.legends[0].get_window_extent(renderer)
    labels = [axis.xaxis.label.get_window_extent(renderer) for axis in figure.axes if axis.get_visible()]
    assert labels and not any(legend.overlaps(box) for box in labels)
    plt.close(figure)
