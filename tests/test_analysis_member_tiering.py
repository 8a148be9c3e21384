import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from simlib import claims, compare, findings, provenance, tiering
from simlib.analysis import member_tiering as mt
from simlib.model import run_replication
from simlib.params import load_scenario
from simlib.runner import simulate, sweep

TZ = "Asia/Shanghai"
START = pd.Timestamp("2026-01-05", tz=TZ)


def small(overrides=None):
    base = {"simulation.days": 60, "simulation.initial_members": 60, "simulation.group_cap": 150}
    return load_scenario("tiered", {**base, **(overrides or {})})


def test_tier_table_is_built_from_the_parameters_and_the_register():
    params = load_scenario("baseline", {"tiering.rules.silent_min_days": 10,
                                        "tiering.interventions.silent.cost_per_target": 3.0})
    table = mt.tier_table(params, "zh")
    assert list(table["tier"]) == ["potential", "active", "loyal", "silent"]
    silent = table.set_index("tier").loc["silent"]
    assert "10天" in silent["criterion"]
    # the article's target comes from the claims register, the modelled cost from the parameters,
    # marked as an assumption
    assert f"{claims.figure('tiering_silent_recall'):.0%}" in silent["target"]
    assert "¥3*" in silent["strategy"]
    assert "*" in provenance.footnote("zh", mt.TIER_TABLE_KEYS)
    english = mt.tier_table(params, "en").set_index("tier")
    assert "10 days" in english.loc["silent", "criterion"]
    with pytest.raises(ValueError, match="lang"):
        mt.tier_table(params, "fr")


def test_rules_on_the_log_reproduce_the_engine_tiers():
    params = small()
    run = run_replication(params, 7, 0)
    panel = mt.run_panel(run)
    assert len(panel) == params.simulation.days
    compare = mt.compare_counts(panel, run.daily)
    summary = mt.agreement_summary(compare, warmup_days=params.tiering.rules.silent_min_days)
    # The engine does not count activity_done as an interaction; the rule on the log does, so a
    # few active members differ while an activity runs. Everything else must match.
    assert summary["abs_diff_share"] < 0.02
    quiet = small({"activities.schedule": []})
    run = run_replication(quiet, 7, 0)
    compare = mt.compare_counts(mt.run_panel(run), run.daily)
    assert mt.agreement_summary(compare, warmup_days=15)["abs_diff_share"] < 0.005
    assert mt.final_tier_agreement(mt.run_panel(run), run.tables["members"]) > 0.97


def test_compare_counts_rejects_different_horizons():
    run = run_replication(small(), 7, 0)
    with pytest.raises(ValueError, match="same horizon"):
        mt.compare_counts(mt.run_panel(run).iloc[:-1], run.daily)


def _log():
    """Three members joined on day 0, watched 20 days (see the test for what each does)."""
    members = pd.DataFrame({
        "member_id": ["A", "B", "C"], "group_id": "g", "join_ts": [START + pd.Timedelta(hours=9)] * 3,
        "channel": "organic", "left_ts": [pd.NaT, pd.NaT, START + pd.Timedelta(days=6, hours=12)],
    })
    rows = [(d, "A", "message", np.nan) for d in range(20)]
    rows += [(0, "B", "message", np.nan), (8, "B", "message", np.nan)]
    rows += [(2, "A", "purchase", 10.0), (4, "A", "purchase", 10.0), (7, "A", "purchase", 10.0),
             (10, "B", "purchase", 5.0)]
    events = pd.DataFrame(rows, columns=["day", "member_id", "event", "amount"])
    events["ts"] = START + pd.to_timedelta(events["day"], unit="D") + pd.Timedelta(hours=10)
    events["group_id"] = "g"
    return members, events.drop(columns="day")


RULES = SimpleNamespace(potential_max_days=2, potential_max_messages=0, active_min_interactions=5,
                        active_window_days=7, loyal_min_purchases=2, loyal_window_days=5, silent_min_days=3)
TARGETS = SimpleNamespace(potential_activation_messages=3)


def test_tier_targets_on_a_hand_made_log():
    members, events = _log()
    panel = tiering.tier_panel(members, events, RULES, start=START, end=START + pd.Timedelta(days=19))
    assert panel.shape == (20, 3)
    values = mt.tier_targets(members, events, panel, RULES, TARGETS, activation_days=5, recall_days=10)
    # A sent 5 messages in its first 5 days (> 3); B sent 1 and C none.
    assert values["activation_rate"] == pytest.approx(1 / 3)
    # B falls silent on day 3 and speaks again on day 8 (recalled); C falls silent on day 3 and leaves.
    assert values["silent_recall_rate"] == pytest.approx(1 / 2)
    # A becomes loyal on day 4 (2 purchases in 5 days) and buys again on day 7.
    assert values["loyal_repurchase_rate"] == 1.0
    # Buyers A (3 purchases) and B (1).
    assert values["repurchase_rate"] == 0.5
    # Brute force: interactions per member-week while active.
    values_array = panel.to_numpy()
    active = [(d, j) for d in range(20) for j in range(3) if values_array[d, j] == tiering.ACTIVE]
    messages = {(d, "A") for d in range(20)} | {(0, "B"), (8, "B")}
    per_day = sum((d, panel.columns[j]) in messages for d, j in active)
    assert values["active_contribution"] == pytest.approx(7 * per_day / len(active))


def test_tier_targets_without_purchases_are_nan_and_bad_windows_fail():
    members, events = _log()
    events = events[events["event"] != "purchase"]
    panel = tiering.tier_panel(members, events, RULES, start=START, end=START + pd.Timedelta(days=19))
    values = mt.tier_targets(members, events, panel, RULES, TARGETS, activation_days=5, recall_days=10)
    assert math.isnan(values["loyal_repurchase_rate"]) and math.isnan(values["repurchase_rate"])
    with pytest.raises(ValueError, match="recall_days"):
        mt.tier_targets(members, events, panel, RULES, TARGETS, recall_days=0)


def test_ceiling_of_a_relative_lift():
    assert mt.max_relative_lift(0.8) == pytest.approx(0.25)
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="base_rate"):
            mt.max_relative_lift(bad)


def test_effect_overrides_scale_effects_and_validate():
    params = load_scenario("baseline")
    same = params.with_overrides(mt.effect_overrides(params, 1.0))
    assert same.tiering.enabled and same.tiering.interventions == params.tiering.interventions
    strong = params.with_overrides(mt.effect_overrides(params, 5.0))
    iv = strong.tiering.interventions
    assert iv.potential.interest_boost == pytest.approx(
        5 * params.tiering.interventions.potential.interest_boost
    )
    assert iv.silent.recall_prob == 1.0  # capped
    assert iv.loyal.purchase_multiplier == pytest.approx(1 + 5 * 0.6)
    with pytest.raises(ValueError, match="scale"):
        mt.effect_overrides(params, -1)


def test_welcome_cost_is_two_yuan_per_newcomer():
    # Only the welcome perk costs money: tier cost = cost per member × members admitted.
    params = small({"tiering.interventions.active.cost_per_member_week": 0.0,
                    "tiering.interventions.loyal.cost_per_member_month": 0.0,
                    "tiering.interventions.silent.cost_per_target": 0.0})
    run = run_replication(params, 3, 0)
    extra = mt.tiering_extra(run)
    joined = (run.tables["members"]["join_ts"] >= mt.simulation_window(params)[0]).sum()
    assert joined > 0
    assert extra["tier_cost"] == pytest.approx(
        params.tiering.interventions.potential.cost_per_member * joined
    )


def test_extra_is_reproducible_and_tiering_costs_only_when_enabled():
    params = small()
    first = simulate(params, replications=2, seed=11, extra=mt.tiering_extra).summaries
    again = simulate(params, replications=2, seed=11, extra=mt.tiering_extra).summaries
    pd.testing.assert_frame_equal(first, again)
    results = sweep({"off": {"tiering.enabled": False}, "on": {"tiering.enabled": True}}, base=params,
                    replications=2, seed=11, extra=mt.tiering_extra)
    assert results["off"].summaries["tier_cost"].eq(0).all()
    assert results["on"].summaries["tier_cost"].gt(0).all()
    table = compare.table(results, "off", ["tier_cost", "retention_d30"])
    row = table.set_index(["arm", "metric"]).loc[("on", "tier_cost")]
    assert row["diff"] == pytest.approx(results["on"].summaries["tier_cost"].mean())
    targets = mt.target_table(results["on"])
    assert set(targets["metric"]) == set(mt.TARGET_METRICS)
    assert targets.set_index("metric").loc["loyal_repurchase_rate", "target"] == claims.figure(
        "tiering_loyal_repurchase")


def test_the_label_alone_changes_no_behaviour():
    # Tiering whose interventions do nothing (effects × 0): the members behave exactly as without
    # tiering (exits are keyed to inactivity, not to the label); only the costs differ.
    params = small()
    results = sweep({"untiered": {"tiering.enabled": False}, "labels_only": mt.effect_overrides(params, 0.0)},
                    base=params, replications=2, seed=5)
    for name in ("retention_d30", "exits", "members_end", "revenue_per_member"):
        assert results["untiered"].values(name) == results["labels_only"].values(name), name
    assert (compare.per_replication(results["untiered"], results["labels_only"], "cost") > 0).all()


# --------------------------------------------------------------------------- findings


def _arms(**arms):
    """Synthetic replications: arm → {metric: values}."""
    return {name: dict(values) for name, values in arms.items()}


def _comparison(shift, base="untiered", arm="tiered", retention="retention_d90"):
    """A compare.table where ``arm`` is ``shift`` × (a positive step) above ``base`` in every metric."""
    base_values = {retention: [0.80, 0.82, 0.81, 0.79], "ranking_value": [1000.0, 1100.0, 1050.0, 980.0],
                   "net_value": [800.0, 850.0, 820.0, 790.0], "residual_value": [200.0, 250.0, 230.0, 190.0],
                   "tier_cost": [0.0, 0.0, 0.0, 0.0]}
    steps = {retention: [0.03, 0.04, 0.035, 0.032], "ranking_value": [100.0, 120.0, 110.0, 105.0],
             "net_value": [60.0, 70.0, 65.0, 62.0], "residual_value": [40.0, 50.0, 45.0, 43.0],
             "tier_cost": [500.0, 520.0, 510.0, 505.0]}
    arm_values = {name: [b + shift * d for b, d in zip(base_values[name], steps[name], strict=True)]
                  for name in base_values}
    arm_values["tier_cost"] = steps["tier_cost"]
    return compare.table({base: base_values, arm: arm_values}, base, list(base_values))


@pytest.mark.parametrize(("shift", "words_zh", "words_en", "relation"), [
    (1.0, "提高", "raises", "increase"),
    (-1.0, "反而降低", "falls", "decrease"),
    (0.0, "没有可分辨的影响", "no effect", "unclear"),
])
def test_tiering_findings_follow_the_sign(shift, words_zh, words_en, relation):
    comparison = _comparison(shift)
    zh = mt.tiering_findings(comparison, "retention_d90", "zh")
    en = mt.tiering_findings(comparison, "retention_d90", "en")
    assert [f.key for f in zh] == ["tiering_retention", "tiering_value"] and all(f.headline for f in zh)
    assert words_zh in zh[0].text and words_en in en[0].text
    assert all(f.checks[0].relation == relation for f in zh)
    assert "净价值" in zh[1].text and "剩余价值" in zh[1].text  # the decomposition
    assert "tiering.interventions" in zh[1].text  # the assumption that drives the answer
    assert findings.problems(zh + en) == []


def test_labels_only_findings_show_no_change_in_behaviour_and_the_cost():
    comparison = _comparison(0.0, arm="labels_only")
    cost = comparison.copy()
    cost.loc[cost["metric"] == "ranking_value", ["diff", "diff_low", "diff_high"]] = [-500.0, -520.0, -480.0]
    retention, value = mt.labels_only_findings(cost, "retention_d90", "zh")
    assert "没有可分辨的变化" in retention.text and "降低" in value.text
    assert findings.problems([retention, value]) == []


@pytest.mark.parametrize(("base_rate", "word"), [(0.6, "可能的"), (0.9, "不可能")])
def test_ceiling_finding_against_the_article(base_rate, word):
    found = mt.ceiling_finding(base_rate, "retention_d90", "zh")
    assert word in found.text and findings.problems([found]) == []
    assert "无法计算" in mt.ceiling_finding(math.nan, "retention_d30", "zh").text


@pytest.mark.parametrize(("entry", "word"), [
    ({"mean": 0.02, "low": -0.01, "high": 0.05}, "低于原文"),
    ({"mean": 0.60, "low": 0.50, "high": 0.70}, "高于原文"),
    ({"mean": 0.42, "low": 0.30, "high": 0.55}, "包含原文"),
])
def test_claim_findings_place_the_lift_against_the_article(entry, word):
    retention, value = mt.claim_findings(entry, entry, "retention_d90", "zh")
    assert word in retention.text and "+42%" in retention.text and "+58%" in value.text
    scaled = mt.claim_findings(entry, entry, "retention_d90", "en", scale=4)
    assert "×4" in scaled[0].text
    assert findings.problems([retention, value, *scaled]) == []


def test_target_findings_in_both_directions():
    def targets(loyal, recall):
        return pd.DataFrame([{"metric": "loyal_repurchase_rate", **loyal},
                             {"metric": "silent_recall_rate", **recall}])

    high = {"mean": 0.9, "low": 0.85, "high": 0.95}
    low = {"mean": 0.1, "low": 0.05, "high": 0.15}
    up, down = {"mean": 0.03, "low": 0.01, "high": 0.05}, {"mean": -0.03, "low": -0.05, "high": -0.01}
    rules = SimpleNamespace(loyal_window_days=90)
    met = mt.target_findings(targets(high, high), targets(high, high), up, up, rules, "zh")
    missed = mt.target_findings(targets(low, low), targets(low, low), down, down, rules, "zh")
    assert "高于原文" in met[0].text and "低于原文" in missed[0].text
    assert "不靠唤醒也能" in met[1].text and "低于" in missed[1].text
    assert "提高" in met[2].text and "降低" in missed[2].text
    assert "输入" in met[3].text  # the contribution target is a model input
    assert findings.problems(met + missed) == []


def test_whatif_findings_follow_the_sign():
    arms = {"tiered": {"retention_d30": [0.8, 0.82, 0.81], "ranking_value": [1000.0, 1010.0, 990.0]}}
    for offset, arm in zip((0.05, -0.05, 0.0), mt.WHATIFS, strict=True):
        base = arms["tiered"]
        arms[arm] = {"retention_d30": [v + offset + 0.001 * i for i, v in enumerate(base["retention_d30"])],
                     "ranking_value": [v + 1000 * offset + i for i, v in enumerate(base["ranking_value"])]}
    table = compare.table(arms, "tiered", ["retention_d30", "ranking_value"])
    stated = mt.whatif_findings(table, "retention_d30", "zh")
    assert len(stated) == 6
    assert "提高" in stated[0].text and "降低" in stated[2].text and "没有可分辨的变化" in stated[4].text
    assert findings.problems(stated) == []


def test_agreement_and_silent_exit_findings():
    assert "不到1%" in mt.agreement_finding(0.001, 15, "zh").text
    assert "超过1%" in mt.agreement_finding(0.05, 15, "zh").text
    matrix = pd.DataFrame({"left": [0.05, 0.01]}, index=["silent", "regular"])
    assert "高于普通用户" in mt.silent_exit_finding(matrix, "zh").text
    assert "不高于" in mt.silent_exit_finding(matrix.iloc[::-1].set_axis(["silent", "regular"]), "zh").text
    found = [mt.agreement_finding(0.001, 15), mt.silent_exit_finding(matrix)]
    assert findings.problems(found) == []
