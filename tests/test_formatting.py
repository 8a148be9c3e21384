"""The notebooks' number formatting: one value or a value with its 95% interval."""

import math

import pandas as pd
import pytest

from simlib import formatting as fmt

ENTRY = {"mean": 0.652, "low": 0.631, "high": 0.674}


def test_numbers_with_and_without_interval():
    assert fmt.num(1234.567) == "1,234.57"
    assert fmt.num({"mean": 2.0, "low": 1.5, "high": 2.5}, 1) == "2.0 [1.5, 2.5]"
    assert fmt.num(pd.Series({"mean": 3.0, "low": 2.0, "high": 4.0, "n": 5}), 0) == "3 [2, 4]"
    assert fmt.signed({"mean": 3.1, "low": -0.4, "high": 6.6}, 1) == "+3.1 [-0.4, +6.6]"


def test_unknown_values_print_as_a_dash():
    for missing in (None, math.nan, {"mean": math.nan, "low": 1.0, "high": 2.0}, {"mean": None}):
        for function in (fmt.num, fmt.signed, fmt.pct, fmt.share, fmt.pp, fmt.money):
            assert function(missing) == fmt.MISSING
    # a mean whose interval is unknown (e.g. a single replication's NaN bounds) prints alone
    assert fmt.num({"mean": 2.0, "low": math.nan, "high": math.nan}) == "2.00"


def test_percentages_shares_and_points():
    assert fmt.pct(0.1234) == "12.3%"
    assert fmt.pct(ENTRY) == "65.2% [63.1%, 67.4%]"
    assert fmt.share({"mean": 0.98, "low": 0.95, "high": 1.02}) == "98.0% [95.0%, 100.0%]"
    assert fmt.share({"mean": 0.01, "low": -0.02, "high": 0.04}, 0) == "1% [0%, 4%]"
    assert fmt.pp({"mean": 0.012, "low": 0.003, "high": 0.021}) == "+1.2 [+0.3, +2.1] 个百分点"
    assert fmt.pp({"mean": -0.012, "low": -0.03, "high": 0.006}, lang="en") == "-1.2 [-3.0, +0.6] pp"


def test_money():
    assert fmt.money(1234.4) == "¥1,234"
    assert fmt.money(-56.0) == "-¥56"
    assert fmt.money({"mean": 1234.0, "low": -100.0, "high": 2568.5}, 1) == "¥1,234.0 [-¥100.0, ¥2,568.5]"


def test_verdict_says_whether_the_interval_excludes_zero():
    assert fmt.verdict({"mean": 1.0, "low": 0.2, "high": 1.8}) == "（区间全在0以上：可认为提高）"
    assert fmt.verdict({"mean": -1.0, "low": -1.8, "high": -0.2}) == "（区间全在0以下：可认为降低）"
    assert fmt.verdict({"mean": 0.1, "low": -0.2, "high": 0.4}) == "（区间含0：不能断言有差别）"
    assert fmt.verdict({"mean": math.nan, "low": math.nan, "high": math.nan}) == "（无法估计）"
    assert "includes 0" in fmt.verdict({"mean": 0.1, "low": -0.2, "high": 0.4}, lang="en")
    with pytest.raises(ValueError, match="lang='fr'"):
        fmt.verdict(ENTRY, lang="fr")


def test_yuan_is_a_signed_difference_with_its_unit():
    entry = {"mean": 1234.4, "low": 100.2, "high": 2368.0}
    assert fmt.yuan(entry, lang="zh") == "+1,234 [+100, +2,368] 元"
    assert fmt.yuan(-56.0, lang="en") == "-56 CNY"
