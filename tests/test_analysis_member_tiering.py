import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from simlib import compare, tiering
from simlib.analysis import member_tiering as mt
from simlib.model import run_replication
from simlib.params import load_scenario
from simlib.runner import simulate, sweep

TZ = "Asia/Shanghai"
START = pd.Timestamp("2026-01-05", tz=TZ)


def small(overrides=None):
    base = {"simulation.days": 60, "simulation.initial_members": 60, "simulation.group_cap": 150}
    return load_scenario("tiered", {**base, **(overrides or {})})


def test_tier_table_is_built_from_the_parameters():
    params = load_scenario("baseline",
                           {"tiering.rules.silent_min_days": 10, "tiering.targets.silent_recall_rate": 0.3})
    table = mt.tier_table(params, "zh")
    assert list(table["tier"]) == ["potential", "active", "loyal", "silent"]
    silent = table.set_index("tier").loc["silent"]
    assert "10天" in silent["criterion"] and "30%" in silent["target"]
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
    targets = mt.target_table(results["on"], params.tiering.targets)
    assert set(targets["metric"]) == set(mt.TARGET_METRICS)
