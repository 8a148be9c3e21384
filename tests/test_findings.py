"""Sentences chosen by their numbers: wording follows the interval, checks catch contradictions."""

import math

import pytest

from simlib import findings
from simlib.findings import Check, Finding


def pct(entry):
    return f"{entry['mean']:+.1%}"


@pytest.mark.parametrize(("entry", "way", "word"), [
    ({"mean": 0.03, "low": 0.01, "high": 0.05}, "increase", "提高"),
    ({"mean": -0.03, "low": -0.05, "high": -0.01}, "decrease", "降低"),
    ({"mean": 0.01, "low": -0.02, "high": 0.04}, "unclear", "没有可分辨的变化"),
    ({"mean": math.nan, "low": math.nan, "high": math.nan}, "unclear", "没有可分辨的变化"),
])
def test_effect_wording_follows_the_interval(entry, way, word):
    finding = findings.effect("d90", entry, subject="留存率", fmt=pct)
    assert word in finding.text
    assert finding.checks[0].relation == way
    assert findings.problems([finding]) == []


def test_a_fixed_sentence_is_caught_when_its_numbers_disagree():
    # "Tiering raises retention" stated while the interval lies below zero.
    below_zero = {"mean": -0.02, "low": -0.03, "high": -0.01}
    stale = Finding("分层提高留存率。", (Check.of("d90", "increase", below_zero),))
    found = findings.problems([stale])
    assert len(found) == 1 and "d90: increase fails" in found[0]


@pytest.mark.parametrize(("relation", "bound", "holds"), [
    (">", 0.1, True), (">=", 0.2, True), ("<", 0.1, False), ("<=", 0.2, True),
    ("contains", 0.25, True), ("contains", 0.4, False), ("excludes", 0.4, True), ("excludes", 0.15, False),
])
def test_relations_against_a_bound(relation, bound, holds):
    assert Check.of("x", relation, {"mean": 0.2, "low": 0.1, "high": 0.3}, bound).holds() is holds


def test_versus_picks_above_or_below_a_figure():
    texts = {"above": "高于 {figure}", "below": "低于 {figure}", "equal": "等于 {figure}"}
    below = findings.versus("ltv ratio", {"mean": 1.4, "low": 1.3, "high": 1.5}, 2.3, texts, figure="2.3")
    assert below.text == "低于 2.3" and findings.problems([below]) == []


def test_findings_survive_the_results_json_round_trip():
    finding = findings.effect("d90", {"mean": None, "low": None, "high": None}, subject="x", fmt=str,
                              lang="en", key="retention", headline=True)
    again = Finding.from_json(finding.to_json())
    assert again.key == "retention" and again.headline and findings.problems([again]) == []


def test_a_check_needs_a_known_relation_and_a_bound():
    with pytest.raises(ValueError, match="relation"):
        Check("x", "bigger", 1.0)
    with pytest.raises(ValueError, match="needs a bound"):
        Check("x", ">", 1.0)
