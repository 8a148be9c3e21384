import math

import numpy as np
import pandas as pd
import pytest

from simlib import claims, findings, provenance
from simlib.analysis import activities as A
from simlib.params import load_scenario
from simlib.results import mean_ci
from simlib.runner import simulate


@pytest.fixture(scope="module")
def smoke():
    return load_scenario("smoke")


def test_article_table_comes_from_params_and_the_register(smoke):
    table = A.article_table(smoke)
    assert list(table["type"]) == list(A.TYPES)
    assert table.set_index("type").loc["checkin", "cost_per_head"] == pytest.approx(3.2)
    changed = A.article_table(smoke.with_overrides({"activities.types.checkin.cost_per_head": 4.0}))
    assert changed.set_index("type").loc["checkin", "cost_per_head"] == pytest.approx(4.0)
    # the ROI is the article's figure from the claims register, with the kind of its claim
    ugc = table.set_index("type").loc["ugc"]
    assert ugc["roi_article"] == claims.figure("activity_roi_ugc") and ugc["roi_text"] == "1:5.3"
    assert dict(zip(table["type"], table["roi_kind"], strict=True)) == {
        "checkin": "calibrated", "referral_lottery": "calibrated", "live_flash_sale": "test",
        "ugc": "calibrated"}
    shown = A.article_table_display(smoke, "zh")
    purchase = shown.iloc[:, -2]
    assert purchase.iloc[0].endswith("†") and purchase.iloc[2].endswith("*")  # calibrated / assumed
    assert "†" in provenance.footnote("zh", A.TABLE3_KEYS)


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



# --------------------------------------------------------------------------- findings


class Arm:
    """Synthetic replications of one schedule: metric → values (what a SimulationResult gives)."""

    def __init__(self, **metrics):
        self.metrics = metrics

    def values(self, name):
        return self.metrics[name]


def _roi_table(shift):
    """roi_comparison's columns with every simulated ROI at the article's figure + ``shift``."""
    rows = []
    for name in A.TYPES:
        figure = claims.figure(f"activity_roi_{name}")
        rows.append({"type": name, "roi_article": figure, "roi_sim": figure + shift,
                     "roi_low": figure + shift - 0.2, "roi_high": figure + shift + 0.2})
    return pd.DataFrame(rows)


@pytest.mark.parametrize(("shift", "calibrated", "tested"), [
    (0.0, "回声", "区间包含原文"), (1.0, "校准已经过时", "高于原文"), (-1.0, "校准已经过时", "低于原文")])
def test_roi_findings_word_calibrated_and_tested_claims_apart(shift, calibrated, tested):
    listed, flash_sale = A.roi_findings(_roi_table(shift), "zh")
    clauses = listed.text.split("；")
    assert len(clauses) == 3 and calibrated in clauses[0] and "†" in clauses[0]
    assert tested in flash_sale.text and "未按ROI调参" in flash_sale.text
    assert flash_sale.headline and flash_sale.key == "activity_roi_live_flash_sale" and not listed.headline
    paper = pd.DataFrame({"type": list(A.TYPES), "roi_expected": [1.0, 1.0, 1.0, 1.0]})
    assert "高于纸面值" in A.paper_findings(_roi_table(shift), paper, "zh").text
    assert findings.problems([listed, flash_sale, A.paper_findings(_roi_table(shift), paper, "en")]) == []


def test_fission_invite_and_admission_findings_in_both_directions():
    inside = A.fission_check_finding({"mean": 1.5, "low": 1.4, "high": 1.6}, 1.49, 0, "zh")
    outside = A.fission_check_finding({"mean": 1.2, "low": 1.1, "high": 1.3}, 1.49, 12, "zh")
    assert "落在" in inside.text and "不在" in outside.text and "12" in outside.text
    more = A.invites_finding({"mean": 40.0, "low": 20.0, "high": 60.0}, 2.5, 11.1, 0.34, 1.5, "zh")
    same = A.invites_finding({"mean": 1.0, "low": -5.0, "high": 7.0}, 2.5, 3.0, 0.34, 0.4, "zh")
    assert "提高" in more.text and "没有可分辨" in same.text
    room, full, opened = [0.95, 0.97, 0.96], [0.05, 0.04, 0.06], [0.96, 0.95, 0.97]
    lost, new_group = A.admission_findings(room, full, opened, 10, "zh")
    assert "降低" in lost.text and "提高" in new_group.text
    assert all(A.policy_text(policy, 2.0, "zh") for policy in ("new_group", "waitlist", "lost"))
    assert findings.problems([inside, outside, more, same, lost, new_group]) == []


def _plans(step):
    base = [1000.0, 1100.0, 1050.0]
    return {"plan_current": Arm(ranking_value=base, net_value=base, residual_value=[0.0] * 3),
            "plan_one_each": Arm(ranking_value=[v + step + i for i, v in enumerate(base)],
                                 net_value=base, residual_value=[step + i for i in range(3)])}


@pytest.mark.parametrize(("step", "best"), [(500.0, "plan_one_each"), (-500.0, "plan_current"),
                                            (1.0, "plan_one_each")])
def test_best_plan_findings(step, best):
    names = {"plan_current": "当前排期", "plan_one_each": "四类各一次/月"}
    chosen, found = A.best_plan_findings(_plans(step), names, "zh")
    assert chosen == best and found[0].headline and found[0].key == "activity_best_plan"
    assert names[best] in found[0].text
    if best == "plan_current":
        assert len(found) == 1  # no comparison of the current schedule with itself
    else:
        assert "净价值" in found[1].text and "剩余价值" in found[1].text
    if step == 1.0:
        assert "分不出高下" in found[0].text
    elif step == 500.0:
        assert "高 +" in found[0].text and "提高" in found[1].text
    assert findings.problems(found) == []


def _activities(kind, roi_values):
    """Activity rows of one type, one instance per replication, with the given ROI."""
    return pd.DataFrame({"replication": range(len(roi_values)), "type": kind, "reached": 100,
                         "participants": 10, "completed": 10, "cost": 100.0,
                         "revenue": [100.0 * value for value in roi_values], "invites": 0,
                         "referral_joins": 0, "newcomer_participants": 0})


def test_repeat_finding_says_whether_the_best_plan_relies_on_repeats():
    once = _activities("ugc", [5.0, 5.2, 5.1])
    none = A.repeat_finding({"ugc": 1, "checkin": 1}, once, once, 3, "zh")
    assert "至多办一次" in none.text
    flat = A.repeat_finding({"ugc": 3}, once, _activities("ugc", [5.1, 5.0, 5.2]), 3, "zh")
    worn = A.repeat_finding({"ugc": 3}, once, _activities("ugc", [3.0, 3.1, 2.9]), 3, "zh")
    assert "依赖" in flat.text and "3次" in flat.text
    assert "降低" in worn.text and "已经把这一点算在内" in worn.text
    assert findings.problems([none, flat, worn]) == []


def test_participation_findings_follow_the_sign():
    base = Arm(activity_net=[100.0, 110.0, 90.0], ranking_value=[1000.0, 1010.0, 990.0])
    up = Arm(activity_net=[200.0, 215.0, 185.0], ranking_value=[900.0, 905.0, 880.0])
    net, value = A.participation_findings(base, up, "zh")
    assert "提高" in net.text and "降低" in value.text
    assert findings.problems([net, value]) == []
    assert np.isfinite(A.roi_per_replication(_activities("ugc", [1.0, 2.0]), "ugc", 3)[:2]).all()
