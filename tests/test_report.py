"""Tests of the comparative strategy report (the package simlib.report + notebooks/strategy_report.ipynb).

The batch folders are fixtures written here with made-up per-replication values.
"""

from __future__ import annotations

import csv
import html
import json
import math
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from report_batches import HEALTHY, NOISE, THRESHOLDS, community, run_report_notebook, scenario_batch, values

from simlib import compare, report
from simlib.params import ParamsError, load_scenario
from simlib.results import metric, write_results

matplotlib.use("Agg")

EVIL_NAME = "../../x<script>alert(1)</script>"
EVIL_SLUG = "x-script-alert-1-script__0a1b2c"
EVIL_DESCRIPTION = '<img src=x onerror="alert(2)">'
EVIL_NOTEBOOK = "09_<svg onload=alert(3)>"  # no "/": it is a folder name
T_975_DF4 = 2.7764451051977987  # Student t quantile 0.975 with 4 degrees of freedom (from tables)


# scenario -> (slug, headline KPI means, members, extra results.json fields)
SCENARIOS = {
    "baseline": ("baseline", {"retention_d30": 0.60, "revenue_per_member": 30.0, "cost": 20000.0,
                              **community(10000.0, 5000.0)}, 1000, {"description": "@current practice"}),
    "tiered": ("tiered", {"retention_d30": 0.66, "revenue_per_member": 38.0, "cost": 22000.0,
                          **community(16000.0, 6000.0)}, 1000, {"description": "-分层运营 tiered plan"}),
    "ads_heavy": ("ads_heavy", {"retention_d30": 0.61, "revenue_per_member": 45.0, "cost": 15000.0,
                                "share_rate": 0.12, **community(30000.0, 4000.0)}, 1000,
                  {"scenario_label": "+ads heavy"}),
    "churny": ("churny", {"retention_d30": 0.50, "revenue_per_member": 50.0, "cost": 10000.0,
                          **community(40000.0, 1000.0)}, 1000, {"description": "=1+1"}),
    EVIL_NAME: (EVIL_SLUG, {"retention_d30": 0.62, "revenue_per_member": 33.0, "cost": 21000.0,
                            **community(12000.0, 5000.0)}, 1000, {"description": EVIL_DESCRIPTION}),
}
# Ranking value = net value + residual value: baseline 15,000, tiered 22,000, evil 17,000 (eligible);
# churny 41,000 (retention below the floor), ads_heavy 34,000 (share rate fails): the two
# ineligible scenarios have the highest values and still rank below every eligible one.
EXPECTED_ORDER = ["tiered", EVIL_NAME, "baseline", "churny", "ads_heavy"]


def _kpis(overrides: dict[str, float], scale: float = 1.0) -> dict[str, dict]:
    means = {"retention_d90": 0.40, "ltv": 120.0, "roi": 1.5, "exits": 80.0, **HEALTHY, **overrides}
    return {name: metric(values(value, scale), unit=report.KPIS.get(name, ""))
            for name, value in means.items()}


def _results_json(folder: Path, **extra) -> None:
    path = folder / "results.json"
    payload = json.loads(path.read_text(encoding="utf-8"))
    payload.update(extra)
    path.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")


def make_batch(root: Path) -> Path:
    """A batch folder with five scenarios, tier tables, a corrupt run, failures and an odd notebook name."""
    manifest = []
    for name, (slug, overrides, members, extra) in SCENARIOS.items():
        for notebook, scale in (("04_kpi_monitoring", 1.0), ("01_member_tiering", 3.0)):
            folder = root / "runs" / notebook / slug
            kpis = _kpis(overrides, scale)
            if notebook == "01_member_tiering":  # different numbers: the report must prefer 04
                kpis = {k: metric([v * 2 for v in e["values"]], e["unit"]) for k, e in kpis.items()}
            tables = None
            if notebook == "01_member_tiering":
                rows = [{"day": day, "tier": tier, "members": 100 + day * (i + 1)}
                        for day in range(5)
                        for i, tier in enumerate(["potential", "active", "loyal", "silent"])]
                tables = {"tier_daily": pd.DataFrame(rows)}
            write_results(folder, notebook=notebook, scenario=name, seed=42, replications=len(NOISE),
                          metrics={"members": metric([members] * len(NOISE))}, kpis=kpis, tables=tables)
            _results_json(folder, **extra)
            (folder / "notebook.html").write_text("<html>run</html>", encoding="utf-8")
            manifest.append({"notebook": notebook, "scenario": name, "scenario_slug": slug, "status": "ok",
                             "duration_s": 3.5})
    # A corrupt results.json of a run that the manifest calls ok.
    corrupt = root / "runs" / "06_monetization" / "baseline"
    corrupt.mkdir(parents=True)
    (corrupt / "results.json").write_text('{"kpis": {"roi": ', encoding="utf-8")
    manifest.append({"notebook": "06_monetization", "scenario": "baseline", "scenario_slug": "baseline",
                     "status": "ok", "duration_s": 1.0})
    # A notebook folder whose name carries markup, with no results.json.
    odd = root / "runs" / EVIL_NOTEBOOK / "baseline"
    odd.mkdir(parents=True)
    (odd / "notebook.html").write_text("<html>odd</html>", encoding="utf-8")
    manifest.append({"notebook": EVIL_NOTEBOOK, "scenario": "baseline", "scenario_slug": "baseline",
                     "status": "ok", "duration_s": 1.0})
    manifest += [
        {"notebook": "07_risk_control", "scenario": EVIL_NAME, "scenario_slug": EVIL_SLUG, "status": "failed",
         "duration_s": 2.0, "error": 'ValueError: <script>alert(1)</script> =HYPERLINK("x")'},
        {"notebook": "05_automation_tools", "scenario": "tiered", "scenario_slug": "tiered",
         "status": "timeout", "duration_s": 600.0, "error": "cell timed out"},
        # A re-run: skipped lines do not hide the attempt that did the work.
        {"notebook": "04_kpi_monitoring", "scenario": "tiered", "scenario_slug": "tiered",
         "status": "skipped"},
    ]
    lines = [json.dumps(r, ensure_ascii=False) for r in manifest] + ["{not json"]
    (root / "manifest.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def batch_dir(tmp_path_factory) -> Path:
    return make_batch(tmp_path_factory.mktemp("batch"))


@pytest.fixture(scope="module")
def batch(batch_dir):
    return report.collect(batch_dir)


def _entry(batch_dir: Path, notebook: str, slug: str, kpi: str) -> dict:
    return json.loads((batch_dir / "runs" / notebook / slug / "results.json").read_text("utf-8"))["kpis"][kpi]


# ---------------------------------------------------------------------------------------------


def test_headline_numbers_equal_fixture_means_and_intervals(batch, batch_dir):
    headline = report.headline_table(batch)
    assert list(dict.fromkeys(headline["scenario"]))[0] == "baseline"
    assert set(headline["scenario"]) == set(SCENARIOS)
    for name, (slug, *_rest) in SCENARIOS.items():
        for kpi in [kpi for kpi in report.KPIS if kpi in batch.kpis[name]]:
            expected = _entry(batch_dir, "04_kpi_monitoring", slug, kpi)
            row = headline[(headline["scenario"] == name) & (headline["kpi"] == kpi)].iloc[0]
            assert row["notebook"] == "04_kpi_monitoring"
            assert row["n"] == len(NOISE)
            assert (row["mean"], row["low"], row["high"]) == pytest.approx(
                (expected["mean"], expected["low"], expected["high"]), rel=1e-12)
    # The displayed cell is "mean [low, high]" of the same numbers.
    expected = _entry(batch_dir, "04_kpi_monitoring", "tiered", "revenue_per_member")
    cell = f"{expected['mean']:,.2f} [{expected['low']:,.2f}, {expected['high']:,.2f}]"
    flags = report.health_flags(headline, THRESHOLDS)
    assert cell in report.headline_html(headline, flags, "en")


def test_health_flags_and_colours(batch):
    headline = report.headline_table(batch)
    flags = report.health_flags(headline, THRESHOLDS)
    failing = flags[~flags["passed"]]
    assert list(zip(failing["scenario"], failing["kpi"], strict=True)) == [("ads_heavy", "share_rate")]
    display, styles = report.headline_display(headline, flags, "en")
    share_column = next(c for c in display.columns if c.startswith(report.label("share_rate", "en")))
    assert "≥ 18.0%" in share_column  # the threshold is in the header
    row = display.index[display["Scenario"] == "+ads heavy"][0]
    assert styles.loc[row, share_column] == report.FAIL_STYLE
    assert styles.loc[display.index[display["Scenario"] == "tiered"][0], share_column] == report.PASS_STYLE
    # Uncolored KPI columns have no style.
    ltv_column = report.label("ltv", "en")
    assert styles[ltv_column].eq("").all()


def test_health_thresholds_come_from_the_validated_parameters(tmp_path):
    thresholds, source = report.load_health_thresholds()
    assert thresholds == load_scenario().monitoring.health_thresholds.model_dump()
    assert thresholds == {"messages_per_100_members_per_day": 8.0, "revisit_7d": 0.45,
                          "activity_conversion": 0.25, "share_rate": 0.18}  # the article's table 4
    assert source == "params/defaults.yaml: monitoring.health_thresholds"
    path = tmp_path / "strict.yaml"
    path.write_text("monitoring:\n  health_thresholds:\n    share_rate: 0.3\n", "utf-8")
    thresholds, source = report.load_health_thresholds(path)
    assert thresholds["share_rate"] == 0.3 and thresholds["revisit_7d"] == 0.45
    assert source == f"{path}: monitoring.health_thresholds"
    path.write_text("monitoring:\n  health_thresholds:\n    share_rate: high\n", "utf-8")
    with pytest.raises(ParamsError, match=r"monitoring.health_thresholds.share_rate = 'high'"):
        report.load_health_thresholds(path)  # no silent fallback


def test_paired_differences_equal_hand_computation(batch, batch_dir):
    differences = report.paired_differences(batch, "baseline")
    assert "baseline" not in set(differences["scenario"])
    wanted = (differences["scenario"] == "tiered") & (differences["kpi"] == "revenue_per_member")
    row = differences[wanted].iloc[0]
    a = _entry(batch_dir, "04_kpi_monitoring", "tiered", "revenue_per_member")["values"]
    b = _entry(batch_dir, "04_kpi_monitoring", "baseline", "revenue_per_member")["values"]
    d = [x - y for x, y in zip(a, b, strict=True)]
    mean = sum(d) / len(d)
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (len(d) - 1))
    half = T_975_DF4 * sd / math.sqrt(len(d))
    assert row["method"] == "paired" and row["n"] == 5
    assert row["mean_diff"] == pytest.approx(mean, rel=1e-12)
    assert (row["low"], row["high"]) == pytest.approx((mean - half, mean + half), rel=1e-9)
    assert row["excludes_zero"]


def test_difference_is_arm_minus_base_welch_when_lengths_or_seeds_differ():
    a, b = [10.0, 12.0, 11.0, 13.0], [9.0, 9.5, 10.5, 8.0, 9.0]
    result = report.difference({"values": b, "seed": 1}, {"values": a, "seed": 1})  # a − b
    ma, mb = sum(a) / 4, sum(b) / 5
    va = sum((x - ma) ** 2 for x in a) / 3 / 4
    vb = sum((x - mb) ** 2 for x in b) / 4 / 5
    df = (va + vb) ** 2 / (va**2 / 3 + vb**2 / 4)
    from scipy import stats

    half = stats.t.ppf(0.975, df) * math.sqrt(va + vb)
    assert result["method"] == "welch"
    assert result["note"] == "replication counts differ (4 vs 5): unpaired (Welch)"
    assert result["mean_diff"] == pytest.approx(ma - mb)
    assert (result["low"], result["high"]) == pytest.approx((ma - mb - half, ma - mb + half))
    base, arm = {"values": [1.0, 2.5, 2.0], "seed": 1}, {"values": [1.0, 2.0, 3.0], "seed": 2}
    unpaired = report.difference(base, arm)
    assert unpaired["method"] == "welch" and unpaired["note"] == "seeds differ: unpaired (Welch)"
    paired = report.difference(base, dict(arm, seed=1))
    assert paired["method"] == "paired" and paired["mean_diff"] == pytest.approx(0.5 / 3)
    assert not paired["note"]
    no_values = report.difference({"values": None, "mean": 1.5}, {"values": [1.0, 2.0], "mean": 3.0})
    assert no_values["method"] == "none" and no_values["mean_diff"] == 1.5


def test_differences_display_colours_by_direction(batch):
    differences = report.paired_differences(batch, "baseline")
    display, styles = report.differences_display(batch, differences, "en")
    row = display.index[display["Scenario"] == "+ads heavy"][0]
    # Lower cost is an improvement (green); lower share rate a deterioration (red); equal LTV uncoloured.
    cost, share, ltv = (report.label(k, "en") for k in ("cost", "share_rate", "ltv"))
    assert display.loc[row, cost].startswith("-5,000.00 [")
    assert styles.loc[row, cost] == report.PASS_STYLE
    assert display.loc[row, share].startswith("-8.0 pp [")
    assert styles.loc[row, share] == report.FAIL_STYLE
    assert styles.loc[row, ltv] == ""


def test_welch_fallback_is_reported(tmp_path):
    # "short" has no 04_kpi_monitoring run: its KPIs come from the first notebook that has them.
    for name, revenue, notebook in [("baseline", [10.0, 11.0, 12.0, 13.0, 12.0], "04_kpi_monitoring"),
                                    ("short", [14.0, 15.0, 13.0, 16.0], "02_content_operations")]:
        write_results(tmp_path / "runs" / notebook / name, notebook=notebook, scenario=name,
                      seed=1, replications=len(revenue), metrics={},
                      kpis={"revenue_per_member": metric(revenue)})
    batch = report.collect(tmp_path)
    sources = report.headline_table(batch).set_index("scenario")["notebook"]
    assert sources["short"] == "02_content_operations" and sources["baseline"] == "04_kpi_monitoring"
    differences = report.paired_differences(batch)
    assert list(differences["method"]) == ["welch"]
    html = report.differences_html(batch, differences, "en")
    assert "†" in html and "Welch" in html and "4 vs 5" in html


def test_scenario_names_and_descriptions_from_manifest_and_scenario_file(tmp_path):
    scenario_file = tmp_path / "tiered.yaml"
    text = 'label: "分层运营 Tiered"\ndescription: "<b>tiers</b>"\ntiering: {enabled: true}\n'
    scenario_file.write_text(text, "utf-8")
    folder = tmp_path / "batch" / "runs" / "04_kpi_monitoring" / "tiered__abc123"
    write_results(folder, notebook="04_kpi_monitoring", scenario=str(scenario_file), seed=1, replications=2,
                  metrics={}, kpis={"roi": metric([1.0, 2.0])})
    record = {"notebook": "04_kpi_monitoring", "scenario": "tiered", "scenario_slug": "tiered__abc123",
              "scenario_file": str(scenario_file), "status": "ok"}
    (tmp_path / "batch" / "manifest.jsonl").write_text(json.dumps(record) + "\n", "utf-8")
    batch = report.collect(tmp_path / "batch")
    assert list(batch.kpis) == ["tiered"]
    assert batch.scenarios["tiered"].label == "分层运营 Tiered"
    assert batch.scenarios["tiered"].description == "<b>tiers</b>"
    # Without a manifest, a results.json scenario given as a file path names the scenario by its stem.
    (tmp_path / "batch" / "manifest.jsonl").unlink()
    assert list(report.collect(tmp_path / "batch").kpis) == ["tiered"]


def test_ranking_follows_the_rule(batch):
    ranking = report.rank_scenarios(batch, THRESHOLDS, "baseline")
    table = ranking.table
    assert ranking.value_name == "ranking_value"
    assert list(table["scenario"]) == EXPECTED_ORDER
    assert list(table["rank"]) == [1, 2, 3, 4, 5]
    assert ranking.retention_floor == pytest.approx(0.60 - report.DEFAULT_RETENTION_TOLERANCE)
    by_name = table.set_index("scenario")
    assert by_name.loc["tiered", "value"] == pytest.approx(22000.0)
    assert by_name.loc["churny", "reasons"] == [("retention", "retention_d30")]
    assert by_name.loc["ads_heavy", "reasons"] == [("health", "share_rate")]
    assert by_name.loc["tiered", "diff"] == pytest.approx(7000.0)
    assert by_name.loc["tiered", "diff_significant"]
    # An explicit floor changes eligibility.
    relaxed = report.rank_scenarios(batch, THRESHOLDS, "baseline", retention_floor=0.4)
    assert list(relaxed.table["scenario"][:2]) == ["churny", "tiered"]
    assert relaxed.recommended == "churny" and relaxed.retention_tolerance is None
    text = report.recommendation_html(batch, ranking, "en")
    assert "Recommendation: <b>tiered</b>" in text and "+7,000.00" in text and "excludes 0" in text
    assert "推荐方案" in report.recommendation_html(batch, ranking, "zh")


def test_best_eligible_is_recommended_and_ineligible_ranked_below_with_reasons(batch):
    ranking = report.rank_scenarios(batch, THRESHOLDS, "baseline")
    assert ranking.recommended == "tiered" and ranking.closest is None
    # churny and ads_heavy have the highest values, but are ineligible: ranked last, with reasons.
    assert max(ranking.values, key=lambda name: ranking.values[name]["mean"]) == "churny"
    assert list(ranking.table["eligible"]) == [True, True, True, False, False]
    summary = report.summary_html(batch, ranking, "en")
    assert "the recommendation is tiered" in summary and "3 of 5 scenarios are eligible" in summary
    section = report.ranking_html(batch, ranking, "en")
    assert section.index("Recommendation: <b>tiered</b>") < section.index("<table")
    display = report.ranking_display(batch, ranking, "en")[0].set_index("Scenario")
    assert display.loc["churny", "Eligibility"] == "ineligible"
    assert display.loc["churny", "Reasons"] == "30-day retention 50.0% < floor 58.0%, short by 8.0 pp (13.8%)"
    assert display.loc["+ads heavy", "Reasons"] == (
        "Share rate 12.0% < threshold 18.0%, short by 6.0 pp (33.3%)")
    assert display.loc["tiered", "Eligibility"] == "eligible" and list(display["Reasons"]).count("") == 3
    # The next eligible scenario, not an ineligible one, is the runner-up of the recommendation.
    runner_up = "next eligible scenario <b>../../x&lt;script&gt;"
    assert runner_up in report.recommendation_html(batch, ranking, "en")


def test_ranking_value_difference_is_paired_and_shown_with_its_parts(batch, batch_dir):
    ranking = report.rank_scenarios(batch, THRESHOLDS, "baseline")
    tiered = _entry(batch_dir, "04_kpi_monitoring", "tiered", "ranking_value")["values"]
    base = _entry(batch_dir, "04_kpi_monitoring", "baseline", "ranking_value")["values"]
    expected = compare.paired(base, tiered)
    row = ranking.table.set_index("scenario").loc["tiered"]
    assert row["diff_method"] == "paired"
    assert (row["diff"], row["diff_low"], row["diff_high"]) == pytest.approx(
        (expected["mean"], expected["low"], expected["high"]), rel=1e-12)
    assert ranking.parts["tiered"]["net_value"]["mean"] == pytest.approx(16000.0)
    assert ranking.parts["tiered"]["residual_value"]["mean"] == pytest.approx(6000.0)
    table = report.ranking_table_html(batch, ranking, "en")
    headers = ("Ranking value: net + residual value (CNY)", "Net value (CNY)",
               "Residual value of remaining members (CNY)")
    for header in (f"{name} [95% interval]" for name in headers):
        assert html.escape(header) in table
    assert "22,000.00 [" in table and "16,000.00 [" in table and "6,000.00 [" in table
    assert "net value over the horizon" in report.ranking_html(batch, ranking, "en")
    assert "no community ranking value" not in report.ranking_html(batch, ranking, "en")


def test_ranking_value_only_when_every_scenario_has_it(tmp_path):
    common = {**HEALTHY, "retention_d30": 0.6, "revenue_per_member": 3.0, "cost": 100.0}
    means = {"baseline": {**common, **community(100.0, 50.0)}, "old_run": common}
    batch = report.collect(scenario_batch(tmp_path, means))
    ranking = report.rank_scenarios(batch, THRESHOLDS)
    assert ranking.value_name == report.LEGACY_VALUE
    assert not ranking.parts
    assert "no community ranking value" in report.ranking_html(batch, ranking, "en")


def _tie_batch(root: Path, with_members: bool = True) -> Path:
    base = [10.0, 12.0, 11.0, 13.0, 14.0]
    series = {"baseline": base, "b_steady": [v + 5 for v in base], "a_noisy": [26.0, 2.0, 16.0, 29.0, 12.0]}
    for name, revenue in series.items():
        kpis = {k: metric([v] * 5) for k, v in {**HEALTHY, "retention_d30": 0.6}.items()}
        kpis["revenue_per_member"] = metric(revenue)
        kpis["cost"] = metric([0.0] * 5)
        kpis["roi"] = metric([v / 10 for v in revenue])
        metrics = {"members": metric([500.0] * 5)} if with_members else {}
        write_results(root / "runs" / "04_kpi_monitoring" / name, notebook="04_kpi_monitoring", scenario=name,
                      seed=7, replications=5, metrics=metrics, kpis=kpis)
    return root


def test_ties_are_broken_by_significance_vs_baseline(tmp_path):
    batch = report.collect(_tie_batch(tmp_path))
    ranking = report.rank_scenarios(batch, THRESHOLDS)
    table = ranking.table.set_index("scenario")
    assert table.loc["a_noisy", "value"] == pytest.approx(table.loc["b_steady", "value"])
    assert not table.loc["a_noisy", "diff_significant"] and table.loc["b_steady", "diff_significant"]
    assert list(ranking.table["scenario"]) == ["b_steady", "a_noisy", "baseline"]
    assert "Recommendation: <b>b_steady</b>" in report.recommendation_html(batch, ranking, "en")
    assert "the order may be chance" in report.recommendation_html(batch, ranking, "en")
    # An old batch folder without ranking_value: the legacy value, with a visible note.
    assert ranking.value_name == report.LEGACY_VALUE
    section = report.ranking_html(batch, ranking, "en")
    assert "<b>Note: this batch's results have no community ranking value" in section
    assert "which is not the community's value" in section


def test_ranking_falls_back_to_roi_without_member_count(tmp_path):
    batch = report.collect(_tie_batch(tmp_path, with_members=False))
    ranking = report.rank_scenarios(batch, THRESHOLDS)
    assert ranking.value_name == "roi"
    assert "ROI" in report.ranking_html(batch, ranking, "en")


def test_pareto_front():
    headline = pd.DataFrame([
        {"scenario": s, "kpi": k, "mean": v, "low": v, "high": v}
        for s, exits, revenue in [("a", 10, 5), ("b", 20, 8), ("c", 20, 6), ("d", 5, 1), ("e", 10, 5)]
        for k, v in (("exits", exits), ("revenue_per_member", revenue))
    ])
    assert report.pareto_front(headline) == ["a", "b", "d", "e"]  # c is dominated by b (and a)


def _all_html(batch: Path, batch_results) -> list[str]:
    headline = report.headline_table(batch_results)
    flags = report.health_flags(headline, THRESHOLDS)
    ranking = report.rank_scenarios(batch_results, THRESHOLDS)
    unreachable = report.rank_scenarios(batch_results, dict.fromkeys(THRESHOLDS, 1e9))
    differences = report.paired_differences(batch_results)
    front = report.pareto_front(headline)
    return [
        report.intro_html(batch_results, "zh"),
        report.status_html(batch_results, "zh"),
        report.status_html(batch_results, "en"),
        report.headline_html(headline, flags, "zh", "<source>"),
        report.headline_html(headline, flags, "en"),
        report.differences_html(batch_results, differences, "zh"),
        report.differences_html(batch_results, differences, "en"),
        report.ranking_html(batch_results, ranking, "zh"),
        report.ranking_html(batch_results, ranking, "en"),
        report.summary_html(batch_results, ranking, "zh"),
        report.ranking_html(batch_results, unreachable, "en"),  # none eligible: distances, closest
        report.summary_html(batch_results, unreachable, "en"),
        report.recommendation_html(batch_results, ranking, "en"),
        report.frontier_note_html(batch_results, front, "zh"),
        report.notebooks_html(batch_results, None, "zh"),
        report.csv_link_html(batch / "headline.csv", batch, "en"),
        report.render_html_table(headline, caption=EVIL_NAME),
    ]


def test_user_strings_only_escaped_in_html(batch, batch_dir):
    pieces = _all_html(batch_dir, batch)
    joined = "\n".join(pieces)
    for piece in pieces:
        assert "<script" not in piece.lower()
        assert "<img" not in piece.lower()
        assert "<svg" not in piece
        assert 'onerror="' not in piece
    assert "x&lt;script&gt;alert(1)&lt;/script&gt;" in joined  # the evil scenario name, escaped
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in joined  # its description
    assert "09_&lt;svg onload=alert(3)&gt;" in joined  # the odd notebook name


def test_run_links_are_relative_quoted_and_existing(batch, batch_dir):
    links = report.run_links(batch)
    hrefs = set(links["href"])
    assert "runs/04_kpi_monitoring/tiered/notebook.html" in hrefs
    assert f"runs/04_kpi_monitoring/{EVIL_SLUG}/notebook.html" in hrefs
    assert "runs/09_%3Csvg%20onload%3Dalert%283%29%3E/baseline/notebook.html" in hrefs
    assert len(links) == 2 * len(SCENARIOS) + 1  # the corrupt run has no notebook.html
    for href in hrefs:
        assert not href.startswith(("/", "..")) and "<" not in href
    # Relative to another HTML folder.
    other = report.run_links(batch, batch_dir / "sub")
    assert all(h.startswith("../runs/") for h in other["href"])


def test_corrupt_results_reported_not_fatal(batch):
    problems = {p.where: p.message for p in batch.problems}
    assert "corrupt" in problems["runs/06_monetization/baseline/results.json"]
    assert f"runs/{EVIL_NOTEBOOK}/baseline/results.json" in problems  # missing results
    assert any(w.startswith("manifest.jsonl:") for w in problems)  # the garbage manifest line
    html = report.status_html(batch, "en")
    assert "06_monetization/baseline/results.json" in html and "corrupt results.json" in html


def test_run_status_counts_and_failed_runs(batch):
    counts, failed = report.run_status(batch)
    assert counts["ok"] == 2 * len(SCENARIOS) + 2  # the skipped re-run keeps its ok
    assert counts["failed"] == 1 and counts["timeout"] == 1 and counts["skipped"] == 0
    assert set(failed["status"]) == {"failed", "timeout"}
    assert failed.set_index("status").loc["failed", "error"].startswith("ValueError")
    assert "cell timed out" in report.status_html(batch, "zh")


def test_csv_export_neutralizes_formulas(batch, tmp_path):
    headline = report.headline_table(batch)
    flags = report.health_flags(headline, THRESHOLDS)
    path = report.write_headline_csv(headline, flags, tmp_path / "headline.csv")
    with open(path, encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == len(headline)
    for row in rows:
        for value in row.values():
            if value and value[0] in "=+-@":
                float(value)  # only numbers may start like a formula
    descriptions = {r["scenario"]: r["description"] for r in rows}
    assert descriptions["churny"] == "'=1+1" and descriptions["baseline"] == "'@current practice"
    assert descriptions["tiered"] == "'-分层运营 tiered plan"
    assert {r["scenario_label"] for r in rows if r["scenario"] == "ads_heavy"} == {"'+ads heavy"}
    share = next(r for r in rows if r["scenario"] == "ads_heavy" and r["kpi"] == "share_rate")
    assert share["health"] == "fail" and float(share["threshold"]) == 0.18


def test_missing_batch_folder_is_reported(tmp_path):
    batch = report.collect(tmp_path / "nope")
    assert not batch.found and batch.problems
    assert "not found" in report.intro_html(batch, "en")
    headline = report.headline_table(batch)
    assert headline.empty
    assert report.rank_scenarios(batch, THRESHOLDS).table.empty


def test_plots_render(batch):
    import matplotlib.pyplot as plt

    headline = report.headline_table(batch)
    front = report.pareto_front(headline)
    tiers = report.tier_mix(batch)
    assert set(tiers["tier"]) == {"potential", "active", "loyal", "silent"}
    assert len(set(tiers["scenario"])) == len(SCENARIOS)
    figures = [
        report.plot_kpi_bars(batch, headline, lang="en"),
        report.plot_tier_mix(batch, tiers, lang="en"),
        report.plot_frontier(batch, headline, front, lang="en"),
    ]
    assert figures[0]._suptitle.get_text() == report.label("title_kpi_bars", "en")
    assert figures[2].axes[0].get_title() == report.label("title_frontier", "en")
    assert figures[0].axes[0].get_title() == report.label("retention_d30", "en")
    for figure in figures:
        plt.close(figure)
    # Plot names lose CJK characters in English plots (no boxes without a CJK font).
    batch.scenarios["tiered"].label = "分层运营 Tiered"
    try:
        assert report.plot_name(batch, "tiered", "en") == "Tiered"
        assert report.plot_name(batch, "tiered", "zh") == "分层运营 Tiered"
    finally:
        batch.scenarios["tiered"].label = "tiered"


def test_notebook_executes_and_exports_without_code(batch_dir, tmp_path):
    body = run_report_notebook(batch_dir, tmp_path, "zh")
    assert "关键指标总表" in body and "推荐方案" in body
    # The summary comes first, the run status last; the ranking section starts with the verdict too.
    assert body.index('<div id="summary"') < body.index("结论 (verdict):推荐方案 (recommendation) 为 tiered")
    assert body.index("结论 (verdict):推荐方案 (recommendation) 为 tiered") < body.index('id="ranking"')
    assert body.index('id="ranking"') < body.index("推荐方案 (recommendation):<b>tiered</b>")
    assert body.index('id="notebooks"') < body.index('id="status"')
    # The runs failed and a results file was corrupt: a short alert stays at the top.
    assert body.index("⚠ 2 次运行未成功") < body.index('id="ranking"')
    # The fixture's runs keep no run.json: the robustness step says it could not rebuild them.
    assert "以下方案无法按批次运行时的参数重建" in body and "稳健性未检验" in body
    # No script from a CDN (require.js, MathJax), and a real title.
    assert "cdnjs" not in body and "<script src=" not in body and "MathJax" not in body
    assert "<title>多方案对比策略报告 (comparative strategy report) · test</title>" in body
    expected = _entry(batch_dir, "04_kpi_monitoring", "tiered", "revenue_per_member")
    assert f"{expected['mean']:,.2f} [{expected['low']:,.2f}, {expected['high']:,.2f}]" in body
    assert "<script>alert(1)" not in body and "<img src=x" not in body
    assert "report.collect" not in body  # no code cells
    assert body.count("data:image/png;base64") >= 3  # three plots
    assert (batch_dir / "headline.csv").is_file()
