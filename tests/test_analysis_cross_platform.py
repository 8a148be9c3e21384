import math

import numpy as np
import pandas as pd
import pytest

from simlib import findings
from simlib.analysis import cross_platform as cp
from simlib.params import load_scenario
from simlib.results import mean_ci
from simlib.runner import simulate, sweep

TZ = "Asia/Shanghai"
START = pd.Timestamp("2026-01-05", tz=TZ)


def test_funnel_table_is_the_product_of_its_rates():
    params = load_scenario("baseline")
    table = cp.funnel_table(params).set_index("channel")
    assert list(table.index) == list(cp.CHANNEL_ORDER)
    douyin = params.arrivals.channels["douyin"]
    assert table.loc["douyin", "joins_per_day"] == pytest.approx(
        douyin.daily_reach * douyin.click_rate * douyin.join_rate
    )
    assert table.loc["douyin", "cost_per_join"] == pytest.approx(douyin.cost_per_click / douyin.join_rate)
    assert table.loc["organic", "cost_per_join"] == 0.0
    stages = cp.funnel_stages(params)
    assert set(stages["stage"]) == {"reach", "clicks", "joins"}


def test_simulated_joins_match_the_funnel_product():
    # No cap in sight, no referral joins: joins per channel are Poisson(rate × days).
    params = load_scenario("baseline", {
        "simulation.days": 60, "simulation.initial_members": 0, "simulation.group_cap": 500,
        "arrivals.share_join_prob": 0.0, "activities.schedule": [],
    })
    reps = 4
    result = simulate(params, replications=reps, seed=5, extra=cp.channel_extra)
    check = cp.joins_check(result, params).set_index("channel")
    assert check.loc["referral", "mean"] == 0
    for channel in ("douyin", "xiaohongshu", "organic"):
        expected = check.loc[channel, "expected"] * reps
        total = check.loc[channel, "mean"] * reps
        assert abs(total - expected) < 4 * math.sqrt(expected), channel


def _tables():
    members = pd.DataFrame({
        "member_id": ["d1", "d2", "x1", "x2"], "group_id": "g",
        "join_ts": [START, START, START + pd.Timedelta(days=10), START + pd.Timedelta(days=10)],
        "channel": ["douyin", "douyin", "xiaohongshu", "xiaohongshu"],
        "left_ts": [START + pd.Timedelta(days=5, hours=12), pd.NaT, pd.NaT, pd.NaT],
    })
    events = pd.DataFrame({
        "ts": [START + pd.Timedelta(days=5, hours=12), START + pd.Timedelta(days=20),
               START + pd.Timedelta(days=30),
               START + pd.Timedelta(days=31)],
        "group_id": "g", "member_id": ["d1", "x1", "x1", "d2"],
                           "event": ["leave", "purchase", "purchase", "message"],
        "ref_id": None, "amount": [np.nan, 100.0, 50.0, np.nan],
    })
    return members, events


def test_channel_metrics_on_a_hand_made_log():
    members, events = _tables()
    end = START + pd.Timedelta(days=60)
    frame = cp.channel_metrics(members, events, START, end, channels=("douyin", "xiaohongshu", "organic"),
                               spend={"douyin": 100.0, "xiaohongshu": 30.0}).set_index("channel")
    assert frame.loc["douyin", "joins"] == 2 and frame.loc["xiaohongshu", "joins"] == 2
    assert frame.loc["douyin", "retention_d30"] == 0.5  # d1 left after 5 days
    assert frame.loc["xiaohongshu", "retention_d30"] == 1.0
    assert frame.loc["xiaohongshu", "revenue_per_member"] == pytest.approx(75.0)
    assert frame.loc["douyin", "revenue_per_member"] == 0.0
    # Presence counts from the day after joining (simlib.metrics.presence): d1 days 1–4, d2 days
    # 1–59, so one exit over 63 member-days.
    assert frame.loc["douyin", "exits_per_member_month"] == pytest.approx(1 / (63 / 30.4375))
    assert frame.loc["douyin", "acq_cost_per_join"] == 50.0
    assert frame.loc["douyin", "acq_cost_per_retained"] == 100.0
    assert frame.loc["xiaohongshu", "acq_cost_per_retained"] == 15.0
    assert frame.loc["organic", "joins"] == 0 and math.isnan(frame.loc["organic", "retention_d30"])
    flat = cp.flatten(frame.reset_index())
    assert flat["revenue_per_member__xiaohongshu"] == pytest.approx(75.0)
    # A chat export has no purchases: revenue by channel is unknown, not zero.
    chat_only = events[events["event"] != "purchase"]
    frame = cp.channel_metrics(members, chat_only, START, end).set_index("channel")
    assert math.isnan(frame.loc["xiaohongshu", "revenue_per_member"])
    assert frame.loc["douyin", "messages_per_member_month"] > 0
    # A member list has no messages: activity by channel is unknown, not zero.
    roster = events[events["event"] != "message"]
    frame = cp.channel_metrics(members, roster, START, end).set_index("channel")
    assert math.isnan(frame.loc["douyin", "messages_per_member_month"])
    with pytest.raises(ValueError, match="after start"):
        cp.channel_metrics(members, events, end, START)


def test_overlap_ltv_ratio_formula_and_its_inverse():
    assert cp.expected_ltv_ratio(0.0, 1.8) == 1.0
    assert cp.expected_ltv_ratio(1.0, 1.8) == pytest.approx(1.8)
    assert cp.expected_ltv_ratio(0.5, 3.0, base_overlap=0.25) == pytest.approx(2.0 / 1.5)
    m = cp.required_multiplier(2.3, 0.68)
    assert cp.expected_ltv_ratio(0.68, m) == pytest.approx(2.3)
    with pytest.raises(ValueError, match="overlap"):
        cp.expected_ltv_ratio(1.2, 1.8)
    with pytest.raises(ValueError, match="overlap"):
        cp.required_multiplier(2.3, 0.0)


def test_simulated_overlap_follows_the_formula():
    params = load_scenario("baseline", {"simulation.days": 120, "simulation.initial_members": 150})
    results = sweep({"none": {"cross_platform.platform_overlap": 0.0},
                     "all": {"cross_platform.platform_overlap": 1.0}},
                    base=params, replications=8, seed=9, extra=cp.channel_extra, workers=2)
    # Replication r of both arms shares its random streams: one revenue ratio per replication.
    ratios = results["all"].summaries["revenue_total"] / results["none"].summaries["revenue_total"]
    estimate = mean_ci(ratios.tolist(), 0.99)
    expected = cp.expected_ltv_ratio(1.0, params.cross_platform.overlap_purchase_multiplier)
    assert estimate["low"] <= expected <= estimate["high"], (expected, estimate)


def test_mix_overrides_keep_the_budget():
    params = load_scenario("baseline")
    budget = cp.paid_budget(params)
    assert budget == pytest.approx(2500 * 0.012 * 0.8 + 1200 * 0.015 * 1.2)
    for share in (0.0, 0.3, 1.0):
        moved = params.with_overrides(cp.mix_overrides(params, share))
        assert cp.paid_budget(moved) == pytest.approx(budget)
        assert cp.douyin_share(moved) == pytest.approx(share)
    assert cp.mix_overrides(params, cp.douyin_share(params))[
        "arrivals.channels.douyin.daily_reach"
    ] == pytest.approx(2500)
    doubled = params.with_overrides(cp.mix_overrides(params, 0.5, budget_scale=2.0))
    assert cp.paid_budget(doubled) == pytest.approx(2 * budget)
    # Both channels cost ¥40 per join by default, so the expected joins do not depend on the mix.
    assert cp.expected_paid_joins(params, 0.0) == pytest.approx(cp.expected_paid_joins(params, 1.0))
    assert cp.expected_paid_joins(params, 0.5, 2.0) == pytest.approx(2 * budget / 40)
    with pytest.raises(ValueError, match="share_douyin"):
        cp.mix_overrides(params, 1.5)


def test_channel_extra_is_reproducible():
    params = load_scenario("smoke")
    first = simulate(params, replications=2, seed=3, extra=cp.channel_extra)
    again = simulate(params, replications=2, seed=3, extra=cp.channel_extra)
    pd.testing.assert_frame_equal(first.summaries, again.summaries)
    table = cp.channel_table(first, ["retention_d30", "revenue_per_member"])
    assert len(table) == 2 * len(cp.CHANNEL_ORDER)
    summary = first.summaries
    assert np.allclose(summary["net_value"], summary["revenue_total"] - summary["cost_total"])
    with pytest.raises(KeyError, match="channel_extra"):
        cp.channel_table(first, ["no_such_metric"])


UP = {"mean": 3.0, "low": 1.0, "high": 5.0}
DOWN = {"mean": -3.0, "low": -5.0, "high": -1.0}
FLAT = {"mean": 0.5, "low": -1.0, "high": 2.0}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_cost_per_join_wording_follows_the_gap_to_the_funnel(lang):
    above = cp.cost_per_join_finding("douyin", {"mean": 45.0, "low": 42.0, "high": 48.0}, 40.0, lang)
    below = cp.cost_per_join_finding("douyin", {"mean": 35.0, "low": 32.0, "high": 38.0}, 40.0, lang)
    same = cp.cost_per_join_finding("douyin", {"mean": 41.0, "low": 38.0, "high": 44.0}, 40.0, lang)
    assert len({above.text, below.text, same.text}) == 3 and all("¥40.0" in f.text for f in (above, below))
    more, less = cp.ltv_gap_finding(UP, lang), cp.ltv_gap_finding(DOWN, lang)
    assert more.text != less.text
    assert findings.problems([above, below, same, more, less]) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_overlap_findings_follow_the_interval_and_the_formula(lang):
    below = cp.overlap_claim_finding({"mean": 1.5, "low": 1.3, "high": 1.7}, 2.3, 0.68, 2.9, 1.8, lang)
    above = cp.overlap_claim_finding({"mean": 2.8, "low": 2.6, "high": 3.0}, 2.3, 0.68, 2.9, 1.8, lang)
    around = cp.overlap_claim_finding({"mean": 2.2, "low": 1.9, "high": 2.5}, 2.3, 0.68, 2.9, 1.8, lang)
    assert len({below.text, above.text, around.text}) == 3
    table = pd.DataFrame({"overlap": [0.0, 0.3, 0.68], "ratio_mean": [1.0, 1.25, 1.55],
                          "ratio_low": [1.0, 1.2, 1.5], "ratio_high": [1.0, 1.3, 1.6],
                          "formula": [1.0, 1.24, 1.54]})
    inside = cp.formula_finding(table, lang)
    higher = cp.formula_finding(table.assign(formula=[1.0, 1.1, 1.4]), lang)
    lower = cp.formula_finding(table.assign(formula=[1.0, 1.4, 1.7]), lang)
    assert len({inside.text, higher.text, lower.text}) == 3 and "68%" in higher.text
    assert findings.problems([below, above, around, inside, higher, lower]) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_best_mix_and_budget_findings(lang):
    clear = {"current": [10.0, 11.0, 12.0], "douyin_share_0": [20.0, 21.0, 22.5],
             "douyin_share_1": [1.0, 2.0, 1.5]}
    close = {**clear, "current": [19.0, 23.0, 20.0]}
    separated, tied = cp.best_mix_finding(clear, 0.53, lang), cp.best_mix_finding(close, 0.53, lang)
    assert separated.headline and separated.key == "best_channel_mix"
    assert cp.mix_label("douyin_share_0", lang) in separated.text and "53%" in separated.text
    assert separated.text != tied.text
    budget = cp.budget_findings({"budget_x0.5": DOWN, "budget_x1.5": UP}, lang)
    assert [f.checks[0].relation for f in budget] == ["decrease", "increase"]
    assert findings.problems([separated, tied, *budget]) == []
