"""The one comparison layer: paired b − a with a t interval, lift and ratio, the Welch fallback,
and the table schemas every notebook and analysis module use."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from simlib import compare


class Arm:
    """The part of a SimulationResult that compare reads: per-replication values by name."""

    def __init__(self, **columns):
        self.columns = columns

    def values(self, name):
        return list(self.columns[name])


def test_paired_difference_equals_the_hand_computation():
    a, b = [1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 3.0, 7.0]
    differences = np.array(b) - np.array(a)  # 1, 2, 0, 3
    half = stats.t.ppf(0.975, 3) * differences.std(ddof=1) / math.sqrt(4)
    result = compare.paired(a, b)
    assert result["mean"] == pytest.approx(1.5)
    assert (result["low"], result["high"]) == pytest.approx((1.5 - half, 1.5 + half))
    assert result["n"] == 4 and result["values"] == [1.0, 2.0, 0.0, 3.0]


def test_paired_difference_on_student_sleep_data():
    # Student (1908) / R's `sleep`: mean difference 1.58, 95% CI (0.7001, 2.4599).
    drug1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    drug2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
    result = compare.paired(Arm(hours=drug1), Arm(hours=drug2), "hours")
    assert result["mean"] == pytest.approx(1.58)
    assert result["low"] == pytest.approx(0.7001142, abs=1e-6)
    assert result["high"] == pytest.approx(2.4598858, abs=1e-6)


def test_sign_convention_is_arm_minus_base():
    assert compare.paired([10.0, 10.0], [12.0, 12.0])["mean"] == 2.0
    assert compare.paired([12.0, 12.0], [10.0, 10.0])["mean"] == -2.0


def test_relative_lift_and_ratio():
    base, arm = [1.0, 2.0, 4.0], [1.5, 3.0, 6.0]
    lift = compare.paired(base, arm, relative=True)
    assert (lift["mean"], lift["low"], lift["high"]) == pytest.approx((0.5, 0.5, 0.5))
    ratio = compare.paired(base, arm, ratio=True)
    assert ratio["mean"] == pytest.approx(1.5)
    # a zero or NaN base cannot give a lift: those pairs are left out
    assert compare.paired([0.0, 2.0, math.nan], [1.0, 3.0, 1.0], relative=True)["n"] == 1
    with pytest.raises(ValueError, match="at most one"):
        compare.paired(base, arm, relative=True, ratio=True)


def test_nan_pairs_are_dropped_and_recorded_entries_keep_their_slots():
    a, b = [1.0, math.nan, 3.0, 4.0], [2.0, 5.0, math.nan, 6.0]
    result = compare.paired(a, b)
    assert result["n"] == 2 and result["values"] == [1.0, 2.0] and result["mean"] == pytest.approx(1.5)
    recorded = compare.paired_metric(Arm(x=a), Arm(x=b), "x", "CNY")
    assert recorded["unit"] == "CNY" and recorded["mean"] == pytest.approx(1.5)
    assert (
        recorded["values"][0] == 1.0
        and math.isnan(recorded["values"][1])
        and math.isnan(recorded["values"][2])
    )
    assert (recorded["low"], recorded["high"]) == pytest.approx((result["low"], result["high"]))
    nothing = compare.paired([math.nan], [1.0])
    assert math.isnan(nothing["mean"]) and nothing["n"] == 0


def test_unequal_replications_cannot_be_paired():
    with pytest.raises(ValueError, match="'revenue' needs equal replications, got 2 and 3"):
        compare.paired(Arm(revenue=[1, 2]), Arm(revenue=[1, 2, 3]), "revenue")


def test_welch_fallback_matches_scipy():
    a, b = [1.0, 2.0, 3.5, 2.2], [2.0, 4.0, 5.0, 7.0, 6.1]
    expected = stats.ttest_ind(b, a, equal_var=False).confidence_interval()  # b − a
    result = compare.difference(a, b)
    assert result["method"] == "welch"
    assert result["mean"] == pytest.approx(np.mean(b) - np.mean(a))
    assert (result["low"], result["high"]) == pytest.approx((expected.low, expected.high))
    unpaired = compare.difference(a, b[:4], can_pair=False)
    assert unpaired["method"] == "welch"
    assert compare.difference(a, b[:4])["method"] == "paired"


def test_difference_says_whether_its_interval_excludes_zero():
    clear = compare.difference([1.0, 2.0, 3.0], [3.0, 4.1, 5.0])
    assert clear["excludes_zero"] and compare.excludes_zero(clear)
    noisy = compare.difference([1.0, 2.0, 3.0], [3.0, 0.0, 4.0])
    assert not noisy["excludes_zero"] and not compare.excludes_zero(noisy)
    assert compare.difference([], [1.0])["method"] == "none"


def test_table_schema_and_rows():
    arms = {"base": {"x": [1.0, 2.0, 3.0], "y": [10.0, 10.0, 10.0]},
            "arm": {"x": [2.0, 4.0, 3.0], "y": [11.0, 12.0, 13.0]}}
    frame = compare.table(arms, "base", ["x", "y"], include_base=True)
    assert list(frame.columns) == compare.TABLE_COLUMNS
    assert list(zip(frame["metric"], frame["arm"], strict=True)) == [
        ("x", "base"), ("x", "arm"), ("y", "base"), ("y", "arm")]
    base_row = frame.iloc[0]
    assert (base_row["diff"], base_row["diff_low"], base_row["lift"]) == (0.0, 0.0, 0.0)
    row = frame.set_index(["arm", "metric"]).loc[("arm", "y")]
    assert row["base_mean"] == 10.0 and row["mean"] == 12.0 and row["diff"] == pytest.approx(2.0)
    assert row["lift"] == pytest.approx(0.2) and row["method"] == "paired" and row["n"] == 3
    assert compare.entry(row, "lift") == {"mean": row["lift"], "low": row["lift_low"],
                                          "high": row["lift_high"]}
    assert compare.entry(row, "") == {"mean": 12.0, "low": row["low"], "high": row["high"]}
    assert len(compare.table(arms, "base", ["x"])) == 1
    with pytest.raises(KeyError, match="base 'nope'"):
        compare.table(arms, "nope", ["x"])


def test_table_reads_simulation_results_and_levels_schema():
    arms = {"off": Arm(cost=[0.0, 0.0], retention=[0.5, 0.7]),
            "on": Arm(cost=[3.0, 5.0], retention=[0.6, 0.7])}
    frame = compare.table(arms, "off", ["cost"])
    assert frame.loc[0, "diff"] == pytest.approx(4.0)
    assert math.isnan(frame.loc[0, "lift"])  # no lift from a zero base
    levels = compare.levels(arms, ["cost", "retention"])
    assert list(levels.columns) == compare.LEVEL_COLUMNS
    assert list(levels["arm"]) == ["off", "off", "on", "on"]
    expected = pd.Series([0.0, 0.6, 4.0, 0.65], name="mean")
    pd.testing.assert_series_equal(levels["mean"], expected)
    with pytest.raises(TypeError, match="expected a SimulationResult"):
        compare.table({"a": 1, "b": 2}, "a", ["x"])
