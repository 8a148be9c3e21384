"""The strategy lab (simlib.lab): levers → overrides, paired evaluations against a cached
baseline, the report's eligibility rule, sentences that follow their numbers, the bench figure."""

from __future__ import annotations

import json
import math

import pytest

from simlib import bench, compare
from simlib.findings import problems
from simlib.lab import (
    BASELINE,
    CHANGED,
    LAB_KPIS,
    LabError,
    StrategyLab,
    lab_extra,
    lever_values,
    levers,
    overrides_for,
    planned_commercial_share,
)
from simlib.params import load_scenario
from simlib.report.ranking import DEFAULT_RETENTION_TOLERANCE
from simlib.runner import simulate

# The smoke scenario, shorter still: the lab's tests need paired replications, not realism.
TINY = {"simulation": {"days": 45, "initial_members": 60}}


@pytest.fixture(scope="module")
def tiny():
    return load_scenario("smoke", TINY)


@pytest.fixture(scope="module")
def lab(tiny):
    with StrategyLab(tiny, replications=3, workers=2, lang="en") as running:
        yield running


def _applied(params, changes):
    return lever_values(params.with_overrides(overrides_for(params, changes)))


def test_the_baselines_own_levers_change_nothing(tiny):
    assert overrides_for(tiny, {}) == {}
    assert overrides_for(tiny, lever_values(tiny)) == {}
    names = [lever.name for lever in levers(tiny)]
    assert names[:4] == ["commercial_posts_per_week", "automation_level", "tiering", "admins"]
    assert {"every_days.checkin", "every_days.ugc", "daily_reach.douyin",
            "daily_reach.xiaohongshu"} <= set(names)
    assert set(lever_values(tiny)) == set(names)


@pytest.mark.parametrize("changes", [
    {"commercial_posts_per_week": 2.5}, {"automation_level": 0.35}, {"tiering": False}, {"admins": 4},
    {"daily_reach.douyin": 4000.0}, {"every_days.checkin": 12}, {"every_days.ugc": 0},
    {"every_days.referral_lottery": 0, "every_days.live_flash_sale": 45, "admins": 0},
], ids=str)
def test_each_lever_sets_what_it_says(tiny, changes):
    result = _applied(tiny, changes)
    expected = {**lever_values(tiny), **changes}
    assert result == pytest.approx(expected)


def test_commercial_posts_keep_the_scenarios_mix_of_modes():
    aggressive = load_scenario("aggressive_monetization")
    before = aggressive.monetization.commercial_posts_per_week
    after = aggressive.with_overrides(overrides_for(aggressive, {"commercial_posts_per_week": 0.85}))
    mix = after.monetization.commercial_posts_per_week
    assert sum(mix.values()) == pytest.approx(0.85)
    ratio = before["ecommerce"] / before["paid_knowledge"]
    assert mix["ecommerce"] / mix["paid_knowledge"] == pytest.approx(ratio)
    # From none at all, the posts are e-commerce.
    silent = aggressive.with_overrides(overrides_for(aggressive, {"commercial_posts_per_week": 0.0}))
    revived = silent.with_overrides(overrides_for(silent, {"commercial_posts_per_week": 1.0}))
    assert revived.monetization.commercial_posts_per_week == {"ecommerce": 1.0, "paid_knowledge": 0.0,
                                                              "brand_deal": 0.0, "membership": 0.0}
    # 1 commercial post beside the 4 calendar posts of the defaults: a fifth of the posts.
    assert planned_commercial_share(load_scenario("baseline"), 1.0) == pytest.approx(0.2)


def test_an_activity_keeps_its_first_day_and_a_new_one_gets_its_own():
    baseline = load_scenario("baseline")  # a check-in every 30 days from day 10, nothing else
    changes = {"every_days.checkin": 14, "every_days.ugc": 40}
    schedule = baseline.with_overrides(overrides_for(baseline, changes))
    entries = [entry.model_dump() for entry in schedule.activities.schedule]
    assert entries == [{"type": "checkin", "every_days": 14, "first_day": 10},
                       {"type": "ugc", "every_days": 40, "first_day": 35}]


@pytest.mark.parametrize(("changes", "message"), [
    ({"commercial_share": 0.2}, r"lever 'commercial_share': unknown; expected one of \['commercial_posts"),
    ({"automation_level": 1.5}, r"lever automation_level = 1.5: expected a number from 0 to 1"),
    ({"admins": 2.5}, r"lever admins = 2.5: expected an integer from 0 to 10"),
    ({"admins": True}, r"lever admins = True: expected an integer"),
    ({"tiering": 1}, r"lever tiering = 1: expected True or False"),
    ({"every_days.ugc": "monthly"}, r"lever every_days.ugc = 'monthly': expected an integer from 0 to 180"),
    ({"daily_reach.douyin": math.nan}, r"lever daily_reach.douyin = nan: expected a number"),
])
def test_bad_levers_are_named_with_what_was_expected(tiny, changes, message):
    with pytest.raises(LabError, match=message):
        overrides_for(tiny, changes)


@pytest.mark.parametrize(("settings", "message"), [
    ({"replications": 1}, r"replications = 1: expected an integer ≥ 2 \(an interval needs two\)"),
    ({"replications": 3, "lang": "fr"}, r"lang = 'fr': expected 'zh' or 'en'"),
])
def test_bad_lab_settings_are_named(tiny, settings, message):
    with pytest.raises(LabError, match=message):
        StrategyLab(tiny, workers=1, **settings)


def test_the_labs_replications_are_the_runners(lab, tiny):
    """Replication r of the lab is replication r of simulate with the same seed (paired across arms)."""
    reference = simulate(tiny, replications=3, seed=lab.seed, workers=1, extra=lab_extra).summaries
    for kpi in LAB_KPIS:
        assert [rep[kpi] for rep in lab.baseline] == pytest.approx(reference[kpi].tolist(), nan_ok=True), kpi


def test_unchanged_levers_compare_the_baseline_with_itself(lab):
    evaluation = lab.evaluate({})
    assert not evaluation.simulated and evaluation.overrides == {}
    changed = evaluation.table[evaluation.table["arm"] == CHANGED]
    assert (changed["diff"].dropna() == 0).all()
    assert [finding.key for finding in evaluation.findings] == ["lab_unchanged"]


def test_a_change_is_paired_with_the_baseline_and_cached(lab):
    change = {"commercial_posts_per_week": lab.baseline_levers["commercial_posts_per_week"] + 2.0}
    evaluation = lab.evaluate(change)
    assert evaluation.simulated
    table = evaluation.table
    assert list(table.columns) == compare.TABLE_COLUMNS
    assert list(table["arm"]) == [BASELINE, CHANGED] * len(LAB_KPIS)
    base = [rep["ranking_value"] for rep in evaluation.replications[BASELINE]]
    arm = [rep["ranking_value"] for rep in evaluation.replications[CHANGED]]
    expected = compare.paired(base, arm)
    interval = {key: expected[key] for key in ("mean", "low", "high")}
    assert evaluation.entry("ranking_value") == pytest.approx(interval)
    for rep in evaluation.replications[CHANGED]:
        assert rep["ranking_value"] == pytest.approx(rep["net_value"] + rep["residual_value"])
    # More commercial posts: the realised commercial share of posts rises in every replication.
    assert evaluation.entry("realised_share")["low"] > 0
    again = lab.evaluate(change)
    assert not again.simulated and again.table.equals(table)


def test_eligibility_is_the_reports_rule(lab):
    evaluation = lab.evaluate({"tiering": not lab.baseline_levers["tiering"]})
    thresholds = lab.params.monitoring.health_thresholds.model_dump()
    baseline_retention = evaluation.entry("retention_d30", "", arm=BASELINE)
    for arm in (BASELINE, CHANGED):
        checks = evaluation.checks[arm]
        assert [(check.kpi, check.kind, check.bound) for check in checks[:-1]] == [
            (kpi, "health", bound) for kpi, bound in thresholds.items()]
        floor = checks[-1]
        assert (floor.kpi, floor.kind) == ("retention_d30", "retention")
        assert floor.bound == pytest.approx(baseline_retention["mean"] - DEFAULT_RETENTION_TOLERANCE)
        assert evaluation.eligible[arm] == all(check.mean >= check.bound for check in checks)
    assert len(evaluation.eligibility_frame()) == len(thresholds) + 1


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_sentences_follow_their_numbers(lab, lang):
    lab.lang = lang
    try:
        evaluation = lab.evaluate({"admins": lab.baseline_levers["admins"] + 2})
    finally:
        lab.lang = "en"
    assert problems(evaluation.findings) == []
    ranking, eligibility = evaluation.findings
    way = ranking.checks[0].relation
    words = {"en": {"increase": "rises", "decrease": "falls", "unclear": "no change"},
             "zh": {"increase": "提高", "decrease": "降低", "unclear": "没有可分辨的变化"}}
    assert words[lang][way] in ranking.text
    checks = evaluation.checks[CHANGED]
    failed = sum(not check.passed for check in checks)
    stated = {"en": f"misses {failed} of {len(checks)}" if failed else f"meets all {len(checks)}",
              "zh": f"有 {failed}/{len(checks)} 项" if failed else f"全部 {len(checks)} 项"}
    assert stated[lang] in eligibility.text


def test_the_kpi_frame_shows_every_kpi_with_its_reading(lab):
    frame = lab.evaluate({"automation_level": 0.8}).kpi_frame()
    assert list(frame.columns) == ["KPI", "Baseline", "Changed", "Difference (changed − baseline)", "Reading"]
    assert len(frame) == len(LAB_KPIS)
    assert frame["KPI"].iloc[0] == "Ranking value: net + residual value (CNY)"
    assert frame["Changed"].str.contains(r"\[").any()
    levers_shown = lab.lever_frame()
    assert len(levers_shown) == len(lab.levers) and "tiering.enabled" in set(levers_shown["Parameter"])


def test_the_bench_prints_the_labs_seconds_per_change(capsys, tmp_path):
    path = tmp_path / "lab.json"
    assert bench.main(["--lab-only", "--quick", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "seconds per lever change (median of 7)" in out and "target ≤ 2 s" in out
    figure = json.loads(path.read_text(encoding="utf-8"))["lab"]
    assert figure["changes"] == len(figure["seconds_all"]) == 7 and figure["seconds_per_change"] > 0
