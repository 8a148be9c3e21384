"""Tests of the report's verdict when no scenario is eligible (distances, the closest scenario and
its rule), of the thresholds the baseline misses widely, and of hostile scenario labels in every
part of the report."""

from __future__ import annotations

import csv
import html
import io
import math
from html.parser import HTMLParser
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from matplotlib import cbook
from report_batches import HEALTHY, THRESHOLDS, community, run_report_notebook, scenario_batch

from simlib import provenance, report
from simlib.params import load_defaults, load_scenario

matplotlib.use("Agg")

# --------------------------------------------------------------------------- none eligible

# Means of the finished default batch (headline.csv) for the conditions, and a ranking value in
# which, as there, aggressive monetization is highest and content_optimized is closest to eligible.
DEFAULT_LIKE = {
    "baseline": (0.9431, 16.644, 0.7928, 0.1971, 0.1290, 72.52),
    "activity_heavy": (0.9494, 17.044, 0.8032, 0.1132, 0.1295, 109.26),
    "aggressive_monetization": (0.8350, 17.772, 0.8581, 0.2251, 0.1300, 183.40),
    "automation_heavy": (0.9359, 17.369, 0.8221, 0.2022, 0.1297, 100.70),
    "content_optimized": (0.9570, 22.492, 0.9554, 0.2103, 0.3740, 82.57),
    "full_playbook": (0.9502, 25.057, 0.9670, 0.1617, 0.3768, 99.30),
    "tiered": (0.9479, 17.552, 0.8040, 0.2138, 0.1308, 69.78),
}
CONDITIONS = ("retention_d30", "messages_per_100_members_per_day", "revisit_7d", "activity_conversion",
              "share_rate", "ranking_value")


@pytest.fixture(scope="module")
def none_eligible(tmp_path_factory):
    means = {name: dict(zip(CONDITIONS, values, strict=True)) for name, values in DEFAULT_LIKE.items()}
    batch = report.collect(scenario_batch(tmp_path_factory.mktemp("none"), means))
    return batch, report.rank_scenarios(batch, THRESHOLDS)


def test_none_eligible_names_no_recommendation_anywhere(none_eligible):
    batch, ranking = none_eligible
    assert not ranking.any_eligible and ranking.recommended is None
    assert ranking.table["scenario"].iloc[0] == "aggressive_monetization"  # the highest value …
    assert ranking.closest == "content_optimized"  # … is not the closest to eligible
    assert report.recommendation_html(batch, ranking, "zh") == ""
    for lang in ("zh", "en"):
        pieces = [report.summary_html(batch, ranking, lang), report.ranking_html(batch, ranking, lang)]
        for piece in pieces:
            assert "推荐方案" not in piece and "Recommendation:" not in piece
            assert "recommendation is" not in piece
    section = report.ranking_html(batch, ranking, "en")
    # The verdict comes first, then the explanations, then the ranking.
    assert section.index("<b>No scenario is eligible</b>") < section.index("Closest to eligible")
    assert section.index("Closest to eligible") < section.index("Thresholds the baseline misses widely")
    assert section.index("Thresholds the baseline misses widely") < section.index("Ranking by value")
    assert "the ranks below only order the ranking values; they are not a recommendation" in section
    top_valued = "The scenario with the highest ranking value, <b>aggressive_monetization</b>, is ineligible"
    assert top_valued in section
    summary = report.summary_html(batch, ranking, "zh")
    assert "没有合格方案" in summary and "<b>content_optimized</b>" in summary
    assert "活动参与转化率 21.0%" in summary


def test_none_eligible_distances_equal_hand_computation(none_eligible):
    batch, ranking = none_eligible
    display, styles = report.distance_display(batch, ranking, "en")
    display = display.set_index("Scenario")
    assert list(display.index) == ["content_optimized", "full_playbook", "tiered", "automation_heavy",
                                   "baseline", "activity_heavy", "aggressive_monetization"]
    conversion = "Activity conversion (threshold ≥ 25.0%)"
    floor = f"30-day retention (floor ≥ {(0.9431 - 0.02) * 100:.1f}%)"
    assert display.loc["content_optimized", "Conditions missed"] == "1 / 5"
    shortfall = 0.25 - 0.2103  # 3.97 pp, 15.9% of the threshold
    assert display.loc["content_optimized", conversion].startswith("21.0% [")
    assert display.loc["content_optimized", conversion].endswith(
        f"; short by {shortfall * 100:.1f} pp ({shortfall / 0.25:.1%} of the threshold)")
    assert display.loc["content_optimized", "Relative shortfall, total"] == f"{shortfall / 0.25:.1%}"
    retention_gap = (0.9431 - 0.02) - 0.8350
    assert display.loc["aggressive_monetization", "Conditions missed"] == "3 / 5"
    assert display.loc["aggressive_monetization", floor].endswith(
        f"short by {retention_gap * 100:.1f} pp ({retention_gap / (0.9431 - 0.02):.1%} of the threshold)")
    assert not display.loc["content_optimized", "Share rate (threshold ≥ 18.0%)"].count("short")
    row = list(display.index).index("content_optimized")
    assert styles.loc[row, conversion] == report.FAIL_STYLE
    assert styles.loc[row, "Share rate (threshold ≥ 18.0%)"] == report.PASS_STYLE
    checks = {check.kpi: check for check in ranking.checks["aggressive_monetization"]}
    assert checks["retention_d30"].kind == "retention"
    assert checks["retention_d30"].shortfall == pytest.approx(retention_gap, rel=1e-3)
    assert checks["messages_per_100_members_per_day"].shortfall == 0.0


def _ranking_of(checks: dict[str, list], values: dict[str, float]) -> report.Ranking:
    table = pd.DataFrame({"scenario": list(checks), "eligible": False, "value": [values[s] for s in checks]})
    return report.Ranking(table, "ranking_value", None, "a", {}, checks)


def test_closest_rule_fewest_missed_then_smallest_relative_shortfall_then_value():
    def health(mean: float, bound: float = 1.0) -> report.Check:
        return report.Check("share_rate", "health", bound, mean, mean, mean)

    checks = {
        "two_small_misses": [health(0.95), health(0.95)],  # 2 missed, 10% in total
        "one_big_miss": [health(0.5), health(1.2)],  # 1 missed, 50%
        "one_small_miss": [health(0.9), health(1.0)],  # 1 missed, 10%
        "one_small_miss_richer": [health(0.9), health(1.0)],  # the same, higher value
        "missing_kpi": [report.Check("share_rate", "health", 1.0), health(1.0)],  # nothing measured missed
    }
    values = {"two_small_misses": 9.0, "one_big_miss": 9.0, "one_small_miss": 1.0,
              "one_small_miss_richer": 2.0, "missing_kpi": 99.0}
    ranking = _ranking_of(checks, values)
    assert ranking.closeness_order() == ["one_small_miss_richer", "one_small_miss", "one_big_miss",
                                         "two_small_misses", "missing_kpi"]
    assert ranking.closest == "one_small_miss_richer"
    assert report.Check("x", "health", 0.25, 0.2).relative_shortfall == pytest.approx(0.2)
    assert math.isnan(report.Check("x", "health", 0.25).shortfall)
    assert report.Check("x", "health", 0.25, 0.3).shortfall == 0.0


# --------------------------------------------------------------------------- threshold explanations


def test_every_thresholded_kpi_has_its_drivers_and_every_driver_exists():
    drivers = report.kpi_drivers()
    assert set(drivers) == set(THRESHOLDS)
    validated, raw = load_scenario().model_dump(), load_defaults()
    for kpi, entry in drivers.items():
        assert entry.drivers, kpi
        for driver in entry.drivers:
            for params in (validated, raw):
                found = report.resolve_param(params, driver.param)
                assert found, (kpi, driver.param)
            for key, value in report.resolve_param(raw, driver.param).items():
                for leaf in report.leaf_paths(key, value):
                    assert provenance.source(leaf).kind in provenance.KINDS  # tagged in defaults.yaml
    message = r"members\.share_propensities: no parameter 'share_propensities' under 'members'"
    with pytest.raises(KeyError, match=message):
        report.resolve_param(raw, "members.share_propensities")


def test_thresholds_the_baseline_misses_widely_are_explained(none_eligible):
    batch, ranking = none_eligible
    # The baseline misses activity conversion by 21% and the share rate by 28% of the threshold.
    assert report.explained_kpis(ranking) == ["activity_conversion", "share_rate"]
    assert report.explained_kpis(ranking, margin=0.25) == ["share_rate"]
    section = report.explanations_html(ranking, "en")
    assert "by more than 10% of the threshold" in section
    assert "<td" in section and "members.share_propensity" in section
    assert "Beta(1.2, 8), mean 0.13" in section
    assert "assumption: Beta(1.2,8), mean 0.13 = P(share | open)" in section
    assert "content.share_multiplier_quality" in section and "article figure: §2" in section
    assert "checkin: 0.3; referral_lottery: 0.12" in section
    assert "Same measure as the article's threshold? <b>unclear</b>" in section
    assert "Messages per 100 members per day" not in section  # the baseline meets it
    passing = report.rank_scenarios(batch, dict.fromkeys(THRESHOLDS, 0.0))
    assert report.explanations_html(passing, "en") == ""


# --------------------------------------------------------------------------- hostile labels

HOSTILE_LABELS = {
    "baseline": "<script>alert(1)</script>",
    "tex": "$\\frac{1}{0}$",
    "bad_tex": "$\\\\frac{1}{0}$ and $x^$",
    "formula": '=HYPERLINK("http://evil.example","click")',
    "braces": "{{x}} {0} {kpi}",
    "long": "L" * 150 + "長" * 150,
    "rtl_cjk": "مرحبا שלום 分层运营 Tiered",
}


@pytest.fixture(scope="module")
def hostile_batch_dir(tmp_path_factory) -> Path:
    means = {name: {**HEALTHY, "retention_d30": 0.6, "exits": 80.0 + i, "revenue_per_member": 30.0 + i,
                    **community(1000.0 * i, 500.0)} for i, name in enumerate(HOSTILE_LABELS)}
    return scenario_batch(tmp_path_factory.mktemp("hostile"), means, HOSTILE_LABELS,
                           notebooks=("04_kpi_monitoring", "01_member_tiering"))


def test_hostile_labels_are_text_in_html_and_csv(hostile_batch_dir, tmp_path):
    batch = report.collect(hostile_batch_dir)
    assert {batch.display_name(name) for name in batch.kpis} == set(HOSTILE_LABELS.values())
    headline = report.headline_table(batch)
    flags = report.health_flags(headline, THRESHOLDS)
    ranking = report.rank_scenarios(batch, THRESHOLDS)
    differences = report.paired_differences(batch)
    pieces = [report.summary_html(batch, ranking, "zh"), report.ranking_html(batch, ranking, "en"),
              report.headline_html(headline, flags, "zh"), report.differences_html(batch, differences, "en"),
              report.frontier_note_html(batch, list(HOSTILE_LABELS), "zh"),
              report.notebooks_html(batch, None, "zh")]
    joined = "".join(pieces)
    assert "<script>" not in joined
    for text in HOSTILE_LABELS.values():
        assert html.escape(text) in joined
    path = report.write_headline_csv(headline, flags, tmp_path / "headline.csv")
    with open(path, encoding="utf-8", newline="") as stream:
        labels = {row["scenario"]: row["scenario_label"] for row in csv.DictReader(stream)}
    assert labels["formula"] == "'" + HOSTILE_LABELS["formula"]
    assert {name: labels[name] for name in HOSTILE_LABELS if name != "formula"} == {
        name: text for name, text in HOSTILE_LABELS.items() if name != "formula"}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_hostile_labels_are_drawn_as_text(hostile_batch_dir, lang):
    import matplotlib.pyplot as plt

    from simlib.plots import setup

    lang = setup(lang)  # "en" where no CJK font is installed
    batch = report.collect(hostile_batch_dir)
    headline = report.headline_table(batch)
    figures = [report.plot_kpi_bars(batch, headline, lang=lang, thresholds=THRESHOLDS),
               report.plot_tier_mix(batch, report.tier_mix(batch), lang=lang),
               report.plot_frontier(batch, headline, report.pareto_front(headline), lang=lang)]
    drawn = []
    for figure in figures:
        figure.savefig(io.BytesIO(), format="png")  # mathtext used to fail here on bad TeX
        drawn += [text.get_text() for text in figure.findobj(matplotlib.text.Text)]
        plt.close(figure)
    for name in HOSTILE_LABELS:
        shown = report.plot_name(batch, name, lang)
        assert shown in drawn and not cbook.is_math_text(shown)
        assert len(shown) <= 40
    assert report.plot_name(batch, "tex", lang) == "\\$\\frac{1}{0}\\$"  # drawn as "$\frac{1}{0}$"
    assert report.plot_name(batch, "long", lang) == "L" * 39 + "…"
    assert report.plot_name(batch, "rtl_cjk", "en") == "مرحبا שלום Tiered"


class _PageText(HTMLParser):
    """The text a browser shows (outside script and style elements), and the scripts' contents."""

    def __init__(self, page: str):
        super().__init__()
        self.text, self.scripts, self._in = [], [], None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self._in = tag if tag in ("script", "style") else self._in

    def handle_endtag(self, tag):
        self._in = None if tag == self._in else self._in

    def handle_data(self, data):
        (self.scripts if self._in == "script" else self.text if self._in is None else []).append(data)


def test_notebook_builds_with_hostile_labels(hostile_batch_dir, tmp_path):
    body = run_report_notebook(hostile_batch_dir, tmp_path, "en")
    assert body.count("data:image/png;base64") >= 3  # the plots drew every label
    page = _PageText(body)
    shown = " ".join(page.text)
    for text in HOSTILE_LABELS.values():
        assert text in shown  # as text, not as markup
    assert not any("alert(1)" in script for script in page.scripts)
    assert "Verdict: the recommendation is" in shown


def test_measured_intervals_stay_within_what_the_quantity_can_be():
    from simlib.report.claims_check import measured_text

    assert measured_text("count", 0.2, -0.05, 0.45, "en") == "0.20 [0.00, 0.45]"
    assert measured_text("per_year", 0.2, -0.05, 0.45, "zh") == "0.20 [0.00, 0.45] 次/年"
    assert measured_text("share", 0.9, 0.7, 1.1, "en") == "90.0% [70.0%, 100.0%]"
    assert measured_text("lift", -0.01, -0.03, 0.01, "en") == "-1.0% [-3.0%, +1.0%]"
