import math

import pandas as pd
import pytest

from simlib.analysis import activities as A
from simlib.params import load_scenario
from simlib.results import mean_ci
from simlib.runner import simulate


@pytest.fixture(scope="module")
def smoke():
    return load_scenario("smoke")


def test_article_table_comes_from_params(smoke):
    table = A.article_table(smoke)
    assert list(table["type"]) == list(A.TYPES)
    assert table.set_index("type").loc["checkin", "cost_per_head"] == pytest.approx(3.2)
    assert table.set_index("type").loc["ugc", "roi_text"] == "1:5.3"
    changed = A.article_table(smoke.with_overrides({"activities.types.ugc.roi": 9.0}))
    assert changed.set_index("type").loc["ugc", "roi_article"] == 9.0


def test_expected_participants_per_seed_branching_formulas():
    assert A.expected_participants_per_seed(0.5) == pytest.approx(2.0)
    assert A.expected_participants_per_seed(0.0) == 1.0
    assert math.isinf(A.expected_participants_per_seed(1.2))
    assert A.expected_participants_per_seed(0.5, 3) == pytest.approx(1 + 0.5 + 0.25 + 0.125)
    assert A.expected_participants_per_seed(1.5, 2) == pytest.approx(1 + 1.5 + 2.25)
    with pytest.raises(ValueError):
        A.expected_participants_per_seed(-0.1)
    with pytest.raises(ValueError):
        A.expected_participants_per_seed(0.5, -1)


def test_fission_cascade_matches_branching_process(smoke):
    """The engine's referral lottery: participants per seed ≈ Σ_{k≤D} R^k when the cap does not bite."""
    params = smoke.with_overrides(A.fission_overrides(days=30, initial_members=150, every_days=5))
    spec = params.activities.types.referral_lottery
    analytic = A.expected_participants_per_seed(spec.reproduction_number, A.lottery_generations(params))
    result = simulate(params, replications=16, seed=123, workers=1, extra=A.activity_extra)
    assert (result.summaries["overflow"] == 0).all(), "the group cap bit; the check needs room"
    ratio = A.fission_ratio(result.activities)
    entry = mean_ci(ratio["ratio"].tolist())
    assert entry["low"] <= analytic <= entry["high"], (entry, analytic)
    # and it is near the infinite-horizon value 1/(1-R) for the default R ≈ 0.34
    assert analytic == pytest.approx(A.expected_participants_per_seed(spec.reproduction_number), rel=0.02)


def test_group_cap_cuts_off_referral_joins(smoke):
    room = smoke.with_overrides(A.fission_overrides(days=20, initial_members=100, group_cap=500))
    full = smoke.with_overrides(A.fission_overrides(days=20, initial_members=495, group_cap=500))
    accept = room.activities.types.referral_lottery.invite_accept_prob
    open_group = A.admission_table(simulate(room, replications=2, seed=3).activities, accept)
    capped_result = simulate(full, replications=2, seed=3)
    capped = A.admission_table(capped_result.activities, accept)
    assert capped["admitted_share"].max() < 0.2 < open_group["admitted_share"].min()
    assert (capped_result.summaries["overflow"] > 0).all()


def test_per_type_summary_and_seeded_reproducibility(smoke):
    params = smoke.with_overrides({"activities.schedule": A.all_types_schedule(20)})
    first = simulate(params, replications=2, seed=9, extra=A.activity_extra)
    second = simulate(params, replications=2, seed=9, extra=A.activity_extra)
    pd.testing.assert_frame_equal(first.summaries, second.summaries)
    per = A.per_replication_by_type(first.activities)
    assert set(per["type"]) == set(A.TYPES)
    row = per.iloc[0]
    assert row["roi"] == pytest.approx(row["revenue"] / row["cost"])
    summary = A.summarize_by_type(per)
    assert (summary["low"] <= summary["mean"] + 1e-9).all()
    comparison = A.roi_comparison(per, params)
    assert list(comparison["roi_article"]) == [4.7, 3.1, 2.8, 5.3]
    assert first.summaries["activity_cost"].sum() == pytest.approx(first.activities["cost"].sum())


def test_greedy_allocation_respects_budget_and_decay():
    cost = {"checkin": 300.0, "referral_lottery": 230.0, "live_flash_sale": 450.0, "ugc": 150.0}
    roi = {"checkin": 2.3, "referral_lottery": 3.8, "live_flash_sale": 3.5, "ugc": 6.0}
    counts = A.greedy_allocation(1000, cost, roi, repeat_decay=0.7)
    assert A.planned_spend(counts, cost) <= 1000
    assert counts == {"checkin": 0, "referral_lottery": 1, "live_flash_sale": 1, "ugc": 2}
    # without diminishing returns everything goes to the best type
    assert A.greedy_allocation(1000, cost, roi, repeat_decay=1.0, max_per_type=99) == {
        "checkin": 0, "referral_lottery": 0, "live_flash_sale": 0, "ugc": 6}
    # an activity that loses money is never bought
    assert A.greedy_allocation(1000, {"checkin": 100.0}, {"checkin": 0.9}) == {"checkin": 0}
    with pytest.raises(ValueError):
        A.greedy_allocation(-1, cost, roi)
    with pytest.raises(ValueError):
        A.greedy_allocation(100, {"nope": 1.0}, {"nope": 2.0})
    schedule = A.schedule_from_counts(counts)
    assert {entry["type"]: entry["every_days"] for entry in schedule} == {"referral_lottery": 30,
                                                                          "live_flash_sale": 30, "ugc": 15}
    with pytest.raises(ValueError):
        A.schedule_from_counts({"bogus": 1})
