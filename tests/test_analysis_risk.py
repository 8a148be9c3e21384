"""Tests of simlib.analysis.risk: analytic incident expectations against the SimPy model,
the filter what-if and the privacy of the real-data branch."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
import pytest

from simlib import findings
from simlib import risk_filter as rf
from simlib.analysis import risk
from simlib.model import run_replication
from simlib.params import load_scenario
from simlib.runner import simulate


@pytest.fixture(scope="module")
def base():
    return load_scenario("baseline")


def test_expected_major_crises_formula(base):
    total = sum(spec.incidents_per_year for spec in base.risk.types.values())
    assert risk.expected_major_crises(base, warning_system=False) == pytest.approx(total * 0.15)
    assert risk.expected_major_crises(base, warning_system=True) == pytest.approx(total * 0.15 * (1 - 0.85))
    on = base.with_overrides({"risk.warning_system": True})
    assert risk.expected_major_crises(on) == pytest.approx(
        risk.expected_major_crises(base, warning_system=True)
    )


@pytest.mark.parametrize("warning", [False, True])
def test_simulated_major_crises_match_the_analytic_expectation(base, warning):
    """Ten times the default incident rates over two years in a small group: counts by type
    and major crises must lie within 4 Poisson standard deviations of the expectation."""
    overrides = {"simulation.days": 730, "simulation.initial_members": 30, "simulation.group_cap": 30,
                 "community.overflow": "lost", "risk.warning_system": warning}
    for kind, spec in base.risk.types.items():
        overrides[f"risk.types.{kind}.incidents_per_year"] = spec.incidents_per_year * 10
    params = base.with_overrides(overrides)
    run = run_replication(params, 2026, 0)
    years = params.simulation.days / 365
    counts = run.incidents["type"].value_counts()
    for kind, rate in risk.expected_incidents(params).items():
        expected = rate * years
        assert abs(counts.get(kind, 0) - expected) < 4 * math.sqrt(expected), kind
    expected_major = risk.expected_major_crises(params) * years
    assert abs(int(run.incidents["major"].sum()) - expected_major) < 4 * math.sqrt(expected_major) + 1


def test_incident_summary_fills_zero_rows(base):
    params = base.with_overrides({"simulation.days": 30, "simulation.initial_members": 20,
                                  "simulation.group_cap": 20})
    result = simulate(params, replications=2, seed=5)
    per = risk.incident_summary(result)
    assert len(per) == 2 * len(params.risk.types)
    assert (per["incidents_per_group_year"] >= 0).all()
    table = risk.incident_metrics(result, scenario="x")
    assert {"total", "opinion_crisis"} <= set(table["type"]) and (table["scenario"] == "x").all()


def test_controls_cut_expected_exits(base):
    on = risk.expected_incident_exits(base, 300)
    off = risk.expected_incident_exits(base, 300, controls=False)
    assert on["data_loss"] == 0.0  # restore success 100 %
    assert off["opinion_crisis"] == pytest.approx(on["opinion_crisis"] / (1 - 0.78))
    with pytest.raises(risk.RiskInputError):
        risk.expected_incident_exits(base, -1)


def test_poisson_ci():
    rate, low, high = risk.poisson_ci(0, 1.0)
    assert rate == 0 and low == 0 and high == pytest.approx(3.689, abs=1e-3)
    rate, low, high = risk.poisson_ci(10, 2.0)
    assert rate == 5 and low < 5 < high
    with pytest.raises(risk.RiskInputError):
        risk.poisson_ci(3, 0)


def test_risk_table_from_params(base):
    table = risk.risk_table(base, "en").set_index("type_key")
    assert list(table.index) == ["info_leak", "opinion_crisis", "data_loss", "violation"]
    assert table.loc["opinion_crisis", "Response"] == "≤2 h"
    assert table.loc["violation", "Response"] == "—"
    assert table.loc["data_loss", "Response"] == "Restore success rate 100%"
    # the article leaves the effect of violations blank: the model's value is marked as an assumption
    assert table.loc["violation", "Effect"] == "80%*" and table.loc["info_leak", "Effect"] == "92%"
    escalation = risk.escalation_table(base, "en").set_index("Parameter")
    assert escalation.loc["risk.warning_escalation_reduction", "Value"].endswith("†")
    assert escalation.loc["risk.major_crisis_exit_multiplier", "Value"].endswith("*")
    footnote = risk.table_footnote(base, "en")
    assert "*" in footnote and "†" in footnote


def test_incidents_and_crises_are_counted_per_group_year(base):
    """A replication whose community runs two groups all year has twice the exposure of one."""
    params = base.with_overrides({"simulation.days": 365})
    daily = pd.DataFrame({"replication": [0] * 365 + [1] * 365, "groups": [1] * 365 + [2] * 365})
    incidents = pd.DataFrame({"replication": [0, 0, 1, 1, 1, 1], "incident_id": range(6),
                              "type": ["violation"] * 4 + ["info_leak"] * 2,
                              "major": [True, False, True, True, False, False], "exits": [1, 0, 2, 0, 1, 0],
                              "response_hours": [0.0] * 6})
    result = SimpleNamespace(params=params, replications=2, daily=daily, incidents=incidents)
    assert risk.group_years(result).tolist() == pytest.approx([1.0, 2.0])
    totals = risk.per_replication_totals(result)
    assert totals["incidents_per_group_year"].tolist() == pytest.approx([2.0, 2.0])
    assert totals["major_per_group_year"].tolist() == pytest.approx([1.0, 1.0])
    assert totals["exits_per_year"].tolist() == pytest.approx([1.0, 3.0])  # the whole community's


UP = {"mean": 3.0, "low": 1.0, "high": 5.0}
DOWN = {"mean": -3.0, "low": -5.0, "high": -1.0}
FLAT = {"mean": 0.5, "low": -1.0, "high": 2.0}


class Rate:
    def __init__(self, rate, low, high):
        self.rate, self.low, self.high = rate, low, high


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_filter_and_lexicon_findings_follow_the_numbers(lang):
    precision = Rate(0.8, 0.7, 0.9)
    below = risk.filter_finding(precision, Rate(0.8, 0.7, 0.88), 0.92, lang)
    above = risk.filter_finding(precision, Rate(0.97, 0.93, 0.99), 0.92, lang)
    around = risk.filter_finding(precision, Rate(0.9, 0.8, 0.95), 0.92, lang)
    assert len({below.text, above.text, around.text}) == 3
    assert all(f.headline and f.key == "filter_precision_recall" for f in (below, above, around))
    up, down, same = (risk.lexicon_finding(0.8, after, 4, lang) for after in (0.9, 0.7, 0.8))
    assert len({up.text, down.text, same.text}) == 3
    assert findings.problems([below, above, around, up, down, same]) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_incident_findings_flip_with_the_sign(lang):
    more = risk.controls_findings(UP, UP, lang)
    fewer = risk.controls_findings(DOWN, DOWN, lang)
    assert all(a.text != b.text for a, b in zip(more, fewer, strict=True))
    small, large = risk.incident_share_finding(0.1, lang), risk.incident_share_finding(0.7, lang)
    assert small.text != large.text
    on_fewer, on_more = risk.warning_finding(DOWN, lang), risk.warning_finding(UP, lang)
    assert on_fewer.text != on_more.text
    slow = [risk.slow_response_finding(entry, 2.0, 6.0, lang) for entry in (UP, DOWN, FLAT)]
    assert len({finding.text for finding in slow}) == 3 and "6" in slow[0].text
    minor, major = risk.restore_finding(0.2, 100.0, 0.8, lang), risk.restore_finding(20.0, 100.0, 0.8, lang)
    assert minor.text != major.text
    stated = [*more, *fewer, small, large, on_fewer, on_more, *slow, minor, major]
    assert findings.problems(stated) == []


def test_evasion_spellings_turn_misses_into_hits():
    shipped = rf.SensitiveWordFilter.from_lexicon()
    labelled = rf.load_labelled_messages()
    before = risk.filter_outcomes(shipped, labelled)
    extended = risk.extend_lexicon(shipped, risk.EVASION_SPELLINGS)
    after = risk.filter_outcomes(extended, labelled)
    assert set(before["outcome"]) <= {"TP", "FP", "FN", "TN"}
    evaded = "＋ｖｘ：ｈｅｌｌｏ８８８ 拉你进福利群"
    assert not shipped.scan(evaded) and extended.scan(evaded)
    assert (after["outcome"] == "FN").sum() < (before["outcome"] == "FN").sum()
    assert (after["outcome"] == "TP").sum() > (before["outcome"] == "TP").sum()
    # The shipped filter is untouched.
    assert "vx" not in shipped.lexicon["fraud_spam"]
    with pytest.raises(risk.RiskInputError):
        risk.extend_lexicon(shipped, {"abuse": "sb"})


def test_flag_counts_reports_counts_only():
    shipped = rf.SensitiveWordFilter.from_lexicon()
    events = pd.DataFrame({"event": ["message", "message", "message", "join"],
                           "msg_kind": ["text", "text", "image", None],
                           "text": ["加vx领红包 13812345678", "早上好", "[图片]", "xx加入群聊"]})
    out = risk.flag_counts(shipped, events)
    assert out == {"messages": 2, "flagged": 1, "share": 0.5,
                   "by_category": {"fraud_spam": 1, "info_leak": 1}}
    assert risk.flag_counts(shipped, events.drop(columns="text"))["messages"] == 0
